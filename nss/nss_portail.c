/*
 * nss_portail.c — libnss_portail.so.2: a passwd entry for every name that
 * is shaped like a parent's address, all on one uid, gid, home and shell
 * that the admin sets in /etc/portail/nss.conf.
 *
 * sshd (and any service that calls getpwnam before PAM) refuses to pass a
 * user's answers to PAM without a passwd entry: it swaps them for a fixed
 * wrong string. Static entries (libnss-extrausers) serve parents with an
 * account, never one who is on file but has none yet, so `enroll` could
 * not work. This module answers without asking anyone: portaild is never
 * consulted, so getent passwd tells a local user nothing about which
 * addresses are on file or have an account (an NSS module that asked
 * portaild would be an enumeration oracle for every uid on the host).
 * Whether the address may sign in is pam_portail's decision, as before.
 *
 * The entry's name is the address with its ASCII letters lower-cased, as
 * portail compares addresses, so sshd's %u (ChrootDirectory
 * /srv/parents/%u) is one directory however the parent types it.
 *
 * Only getpwnam is answered. getpwuid, getpwent and groups are left to
 * the files (the parents' group and a name for their uid are one line
 * each in /etc/group and /etc/passwd, or extrausers). Runs inside every
 * process that looks a user up, setuid ones too: no allocation, no
 * environment in a secure process (secure_getenv), the config read with
 * O_NOFOLLOW and only if root owns it and nobody else may write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSS_PORTAIL_EXPORT __attribute__((visibility("default")))

#ifndef NSS_PORTAIL_CONF
#define NSS_PORTAIL_CONF "/etc/portail/nss.conf"
#endif
#define ADDR_MAX 254
#define CONF_MAX 4096
#define PATH_LEN 256

struct conf {
	uid_t uid;
	gid_t gid;
	char home[PATH_LEN];    /* "%u" stands for the address */
	char shell[PATH_LEN];
};

/*
 * A name this module answers for: 3 to 254 bytes, one '@' with text on
 * both sides, no control character, space or byte that passwd(5) or a
 * path would give a meaning (':' ',' '/' '\\'), not starting with '.' or
 * '-'. UTF-8 passes as it is; pam_portail and portaild check the rest.
 */
static bool
address_shaped(const char *name)
{
	size_t n = 0, at = 0, ats = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++, n++) {
		if (n >= ADDR_MAX || *p <= 0x20 || *p == 0x7f || strchr(":,/\\", *p) != NULL)
			return false;
		if (*p == '@') {
			ats++;
			at = n;
		}
	}
	return ats == 1 && at > 0 && at + 1 < n && name[0] != '.' && name[0] != '-';
}

static bool
number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* "key = value" lines, '#' comments; false on any line it does not know. */
static bool
parse(char *text, struct conf *c)
{
	bool have_uid = false, have_gid = false;

	for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
		char *eq, *k, *v, *e;
		unsigned long n;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '\0')
			continue;
		if ((eq = strchr(line, '=')) == NULL)
			return false;
		for (e = eq; e > line && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		k = line;
		for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'); e--)
			;
		*e = '\0';
		if (strcmp(k, "uid") == 0 && number(v, 0xfffffffeUL, &n) && n > 0) {
			c->uid = (uid_t)n;
			have_uid = true;
		} else if (strcmp(k, "gid") == 0 && number(v, 0xfffffffeUL, &n) && n > 0) {
			c->gid = (gid_t)n;
			have_gid = true;
		} else if (strcmp(k, "home") == 0 && v[0] == '/' && strlen(v) < PATH_LEN) {
			memcpy(c->home, v, strlen(v) + 1);
		} else if (strcmp(k, "shell") == 0 && v[0] == '/' && strlen(v) < PATH_LEN) {
			memcpy(c->shell, v, strlen(v) + 1);
		} else {
			return false;
		}
	}
	return have_uid && have_gid;
}

/* The configuration, or false (then the module answers nothing). */
static bool
load(struct conf *c)
{
	const char *path = secure_getenv("PORTAIL_NSS_CONF");
	char text[CONF_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (path == NULL || path[0] != '/')
		path = NSS_PORTAIL_CONF;
	memset(c, 0, sizeof(*c));
	memcpy(c->home, "/", 2);
	memcpy(c->shell, "/usr/sbin/nologin", sizeof("/usr/sbin/nologin"));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)) < 0)
		return false;
	/* root's file, not writable by anyone else: it hands out a uid */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
		close(fd);
		return false;
	}
	while (got < CONF_MAX && (n = read(fd, text + got, CONF_MAX - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return false;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got == CONF_MAX)
		return false;   /* too long to be ours */
	text[got] = '\0';
	return memchr(text, '\0', got) == NULL && parse(text, c);
}

/* Copies s into buf at *used; NULL when it does not fit. */
static char *
put(char *buf, size_t buflen, size_t *used, const char *s, size_t n)
{
	char *dst = buf + *used;

	if (n + 1 > buflen - *used)
		return NULL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	*used += n + 1;
	return dst;
}

/* The name with ASCII letters lower-cased (portail's own folding), into buf. */
static char *
put_name(char *buf, size_t buflen, size_t *used, const char *name)
{
	char *dst = put(buf, buflen, used, name, strlen(name));

	for (char *p = dst; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return dst;
}

/* The home with each "%u" replaced by the name, into buf. */
static char *
put_home(char *buf, size_t buflen, size_t *used, const char *home, const char *name)
{
	char *start = buf + *used;
	size_t at = *used;

	for (const char *p = home; *p != '\0'; p++) {
		const char *s = p;
		size_t n = 1;

		if (p[0] == '%' && p[1] == 'u') {
			s = name;
			n = strlen(name);
			p++;
		}
		if (n >= buflen - at)
			return NULL;
		memcpy(buf + at, s, n);
		at += n;
	}
	if (at >= buflen)
		return NULL;
	buf[at++] = '\0';
	*used = at;
	return start;
}

/* glibc finds it by name: the module's one entry point */
NSS_PORTAIL_EXPORT enum nss_status _nss_portail_getpwnam_r(const char *, struct passwd *, char *,
    size_t, int *);

NSS_PORTAIL_EXPORT enum nss_status
_nss_portail_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
	struct conf c;
	size_t used = 0;

	if (name == NULL || !address_shaped(name) || !load(&c)) {
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	}
	pw->pw_uid = c.uid;
	pw->pw_gid = c.gid;
	if ((pw->pw_name = put_name(buf, buflen, &used, name)) == NULL ||
	    (pw->pw_passwd = put(buf, buflen, &used, "x", 1)) == NULL ||
	    (pw->pw_gecos = put(buf, buflen, &used, "portail", 7)) == NULL ||
	    (pw->pw_dir = put_home(buf, buflen, &used, c.home, pw->pw_name)) == NULL ||
	    (pw->pw_shell = put(buf, buflen, &used, c.shell, strlen(c.shell))) == NULL) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	return NSS_STATUS_SUCCESS;
}
