/*
 * daemonuser.c — is [daemon] user portail's own account? See daemonuser.h.
 */
#include "daemonuser.h"

#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const shared_names[] = {
	"nobody", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
	"proxy", "www-data", "backup", "list", "irc", "gnats", "_apt", "messagebus",
};

static bool
shared_name(const char *name)
{
	if (strncmp(name, "systemd-", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof(shared_names) / sizeof(shared_names[0]); i++)
		if (strcmp(name, shared_names[i]) == 0)
			return true;
	return false;
}

/* Another account with this uid; its name copied to other. */
static bool
uid_shared(const char *name, uid_t uid, char *other, size_t size)
{
	struct passwd *pw;
	bool found = false;

	setpwent();
	while (!found && (pw = getpwent()) != NULL) {
		if (pw->pw_uid == uid && strcmp(pw->pw_name, name) != 0) {
			snprintf(other, size, "%s", pw->pw_name);
			found = true;
		}
	}
	endpwent();
	return found;
}

static bool
login_shell(const char *shell)
{
	const char *s;
	bool found = false;

	if (shell == NULL || shell[0] == '\0')
		return true;            /* passwd(5): empty means /bin/sh */
	setusershell();
	while (!found && (s = getusershell()) != NULL)
		found = strcmp(s, shell) == 0;
	endusershell();
	return found;
}

portail_status
portail_daemon_user_check(const char *name, uid_t *uid, gid_t *gid, portail_error *err)
{
	struct passwd *pw = getpwnam(name);
	char other[256];

	if (pw == NULL)
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "user '%s' does not exist", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (pw->pw_uid == 0)
		return portail_error_set(err, PORTAIL_ERR_REFUSED,
		    "user '%s' is root: portaild must run as an account of its own", name);
	if (shared_name(name) || (pw->pw_uid > 0 && pw->pw_uid < 100) || pw->pw_uid == 65534)
		return portail_error_set(err, PORTAIL_ERR_REFUSED,
		    "user '%s' (uid %u) is shared with other services, which could read the "
		    "server key and the store", name, (unsigned)pw->pw_uid);
	if (uid_shared(name, pw->pw_uid, other, sizeof(other)))
		return portail_error_set(err, PORTAIL_ERR_REFUSED,
		    "user '%s' has the same uid (%u) as '%s', who could read the server key and "
		    "the store", name, (unsigned)pw->pw_uid, other);
	/* getpwent may have reused getpwnam's buffer: look the shell up again */
	if ((pw = getpwnam(name)) != NULL && login_shell(pw->pw_shell))
		return portail_error_set(err, PORTAIL_ERR_REFUSED,
		    "user '%s' has a login shell (%s): people or other services log in as it and "
		    "could read the server key and the store", name,
		    pw->pw_shell[0] != '\0' ? pw->pw_shell : "/bin/sh");
	return PORTAIL_OK;
}
