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

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

static int ready_fd = -1;       /* background start: tells the parent we are up */
static char socket_path[108];
static ino_t socket_ino;

static void
usage(FILE *f)
{
	fprintf(f, "usage: portaild [-c FILE] [-f] [-d]\n"
	    "  -c FILE  configuration (default: $PORTAIL_CONFIG or %s)\n"
	    "  -f       stay in the foreground, log to stderr too\n"
	    "  -d       debug logging (never a secret)\n", PORTAIL_DEFAULT_CONFIG);
}

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
	if (ready_fd >= 0) {
		int null;

		if (write(ready_fd, "", 1) != 1)
			log_msg(LOG_WARNING, "cannot tell the starting process we are ready");
		close(ready_fd);
		ready_fd = -1;
		/* detach from the terminal only now: start-up errors were seen */
		if ((null = open("/dev/null", O_RDWR)) >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
}

/*
 * Background start: the first process waits until the daemon says it is
 * ready (exit 0) or dies (exit 1), so an init script sees failures.
 */
static void
daemonize(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		fprintf(stderr, "portaild: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if ((pid = fork()) < 0)
		exit(1);
	if (pid > 0)
		_exit(0);
	ready_fd = p[1];
	if (chdir("/") != 0)
		exit(1);
}

/* Creates the listening socket; refuses a path held by a live daemon. */
static int
make_socket(const char *path, const char *user)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char dir[sizeof(sa.sun_path)];
	int fd = -1;
	mode_t old;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "portaild: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	if (mkdir(dirname(dir), 0755) == 0) {
		/* ours: let the unprivileged daemon remove its socket on exit */
		struct passwd *pw = geteuid() == 0 ? getpwnam(user) : NULL;

		if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
			fprintf(stderr, "portaild: chown %s: %s\n", dir, strerror(errno));
	} else if (errno != EEXIST) {
		fprintf(stderr, "portaild: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "portaild: %s exists and is not a socket; not touching it\n", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			fprintf(stderr, "portaild: another portaild is running on %s\n", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		/* nobody answers: a stale socket from a crash */
		if (unlink(path) != 0) {
			fprintf(stderr, "portaild: cannot remove stale %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	old = umask(0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	/* 0666 like nslcd's: anyone may ask; admin ops check SO_PEERCRED. */
	if (chmod(path, 0666) != 0 || listen(fd, 128) != 0 || lstat(path, &st) != 0)
		goto fail;
	socket_ino = st.st_ino;
	return fd;
fail:
	fprintf(stderr, "portaild: %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
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
	const char *config = NULL;
	bool foreground = false;
	portail_error err = { { 0 } };
	int ch, fd, rc;

	/* first of all: no block jansson frees keeps a request's password (alloc.h) */
	wipe_alloc_install();
	while ((ch = getopt(argc, argv, "c:fdh")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'd':
			d.debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (portail_config_load(config, &d.cfg, &err) != PORTAIL_OK) {
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
	log_open(foreground, d.debug);
	/* before any thread: the mail queue's must live in the final process */
	if (!foreground)
		daemonize();
	/* Secrets are read now, before privileges go. */
	if (portail_gpi_new(d.cfg, &d.gpi, &err) != PORTAIL_OK ||
	    portail_key_load(d.cfg->key_file, &d.key, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	if (portail_providers_new(d.cfg, &d.providers, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	if (portail_mailq_new(d.cfg, mail_log, &d.mailq, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s\n", err.message);
		return 2;
	}
	snprintf(socket_path, sizeof(socket_path), "%s", d.cfg->daemon.socket);
	if ((fd = make_socket(d.cfg->daemon.socket, d.cfg->daemon.user)) < 0)
		return 1;
	if (drop_privileges(d.cfg->daemon.user) != 0) {
		unlink(socket_path);
		return 1;
	}
	/*
	 * The store is opened as the daemon's user, who must be able to
	 * create files in its directory (the error then names it).
	 */
	if (portail_store_open(d.cfg->store_path, &d.store, &err) != PORTAIL_OK) {
		fprintf(stderr, "portaild: %s (portail init creates the store and its directory, "
		    "owned by [daemon] user %s)\n", err.message, d.cfg->daemon.user);
		unlink(socket_path);
		return 2;
	}
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
