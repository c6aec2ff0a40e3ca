/*
 * portaild — the daemon that holds portail's secrets and state.
 *
 *   portaild [-c FILE] [-f] [-d]
 *
 * Reads the configuration, creates the socket, drops to [daemon] user
 * when started as root, and answers on the socket (loop.c, ops.c). See
 * portaild(8).
 */
#include "daemon.h"
#include "alloc.h"
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

static char socket_path[108];
static ino_t socket_ino;

/* Tells systemd (Type=notify) that we are ready, without libsystemd. */
static void
sd_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

static void
mail_log(int priority, const char *message)
{
	log_msg(priority, "%s", message);
}

static void
on_ready(void)
{
	log_msg(LOG_INFO, "portaild %s ready on %s (uid %u)", portail_version(), socket_path,
	    (unsigned)getuid());
	sd_notify_ready();
	/* detach from the terminal only now: start-up errors were seen */
	if (!portail_service_ready())
		log_msg(LOG_WARNING, "cannot tell the starting process we are ready");
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;               /* started unprivileged: nothing to drop */
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "portaild: [daemon] user '%s' does not exist\n", user);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;               /* told to stay root */
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "portaild: cannot become %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "portaild: privileges not dropped\n");
		return -1;
	}
	/* no core dump, no ptrace by the same uid: memory holds secrets */
	prctl(PR_SET_DUMPABLE, 0);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct daemon d;
	portail_store_spec *store_spec = NULL;
	struct portail_service_opts o;
	portail_error err = { { 0 } };
	int fd, rc;

	/* first of all: no block jansson frees keeps a request's password (alloc.h) */
	wipe_alloc_install();
	if (!portail_service_getopt("portaild", argc, argv, &o, &rc))
		return rc;
	d.debug = o.debug;
	if (portail_config_load(o.config, &d.cfg, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	if (d.cfg->daemon.admin_group != NULL) {
		struct group *g = getgrnam(d.cfg->daemon.admin_group);

		if (g == NULL) {
			fprintf(stderr, "portaild: %s: [daemon] admin_group '%s' does not exist\n",
			    d.cfg->path, d.cfg->daemon.admin_group);
			return 2;
		}
		d.has_admin_group = true;
		d.admin_gid = g->gr_gid;
	}
	{
		/* portail-web's uid, for the session ops; a host without it leaves them to root */
		struct passwd *w = getpwnam(d.cfg->web.user);

		d.has_web_user = w != NULL;
		d.web_uid = w != NULL ? w->pw_uid : 0;
	}
	signal(SIGPIPE, SIG_IGN);
	{
		/* blocked before any thread exists; the loop reads them from a signalfd */
		sigset_t mask;

		sigemptyset(&mask);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &mask, NULL);
	}
	log_open(o.foreground, d.debug);
	/* before any thread: the mail queue's must live in the final process */
	if (!o.foreground)
		portail_service_daemonize("portaild");
	/* Secrets are read now, before privileges go ([store] password_file too). */
	if (portail_gpi_new(d.cfg, &d.gpi, &err) != PORTAIL_OK ||
	    portail_key_load(d.cfg->key_file, &d.key, &err) != PORTAIL_OK ||
	    portail_store_spec_new(d.cfg, &store_spec, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	/* the bulkhead's refusals go to the log's per-peer summaries */
	if (d.gpi != NULL)
		portail_gpi_on_refusal(d.gpi, ops_directory_refused, NULL);
	if (portail_providers_new(d.cfg, &d.providers, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	if (portail_mailq_new(d.cfg, mail_log, &d.mailq, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	snprintf(socket_path, sizeof(socket_path), "%s", d.cfg->daemon.socket);
	/*
	 * 0666 like nslcd's: anyone may ask; admin ops check SO_PEERCRED. The
	 * directory goes to the daemon's user, who removes the socket on exit.
	 */
	if ((fd = portail_service_listen_unix("portaild", d.cfg->daemon.socket,
	    geteuid() == 0 ? getpwnam(d.cfg->daemon.user) : NULL, false, 0666, &socket_ino)) < 0)
		return 1;
	if (drop_privileges(d.cfg->daemon.user) != 0) {
		unlink(socket_path);
		return 1;
	}
	/*
	 * The store is opened as the daemon's user, who must be able to
	 * create files in its directory (the error then names it).
	 */
	if ((rc = portail_store_open_spec(store_spec, &d.store, &err)) != PORTAIL_OK) {
		if (d.cfg->store.backend == PORTAIL_STORE_SQLITE)
			fprintf(stderr, "portaild: %s (portail init creates the store and its "
			    "directory, owned by [daemon] user %s)\n", err.message, d.cfg->daemon.user);
		else
			fprintf(stderr, "portaild: %s ([store] conninfo)\n", err.message);
		portail_store_spec_free(store_spec);
		unlink(socket_path);
		return 2;       /* portaild(8): a store it cannot open, whatever the backend */
	}
	/* the pool keeps its own copy of the password (guarded memory): this one is wiped */
	portail_store_spec_free(store_spec);
	store_spec = NULL;
	/* the queue's schedule on the clock that stamps its rows: the flows' */
	portail_mailq_set_clock(d.mailq, daemon_now);
	/* mail from now on queued in the store: a kill loses none (DESIGN §2) */
	portail_mailq_attach(d.mailq, d.store, d.key);
	{
		struct portail_flow_deps deps = { d.cfg, d.store, d.gpi, d.mailq, d.key,
			d.providers };

		if (portail_flow_new(&deps, &d.flow, &err) != PORTAIL_OK) {
			fprintf(stderr, "portaild: %s\n", err.message);
			unlink(socket_path);
			return 2;
		}
	}
	d.sessions.store = d.store;
	d.sessions.key = d.key;
	d.sessions.rules.idle = d.cfg->web.session_idle;
	d.sessions.rules.max = d.cfg->web.session_max;
	d.sessions.rules.max_sessions = d.cfg->web.max_sessions;
	d.started = time(NULL);
	rc = loop_run(&d, fd, on_ready);
	{
		struct stat st;

		/* remove the socket only if it is still ours */
		if (lstat(socket_path, &st) == 0 && st.st_ino == socket_ino && unlink(socket_path) != 0)
			log_msg(LOG_WARNING, "cannot remove %s: %s", socket_path, strerror(errno));
	}
	log_msg(LOG_INFO, "portaild stopped");
	portail_flow_free(d.flow);
	portail_mailq_free(d.mailq);
	portail_providers_free(d.providers);
	portail_store_close(d.store);
	portail_key_free(d.key);
	portail_gpi_free(d.gpi);
	portail_config_free(d.cfg);
	return rc;
}
