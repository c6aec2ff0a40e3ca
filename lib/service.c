/*
 * service.c — the start of a service, shared by portaild and portail-web.
 */
#include "service.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int ready_fd = -1;       /* the pipe to the first process, while it waits */

static void
usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [-c FILE] [-f] [-d]\n"
	    "  -c FILE  configuration (default: $PORTAIL_CONFIG or %s)\n"
	    "  -f       stay in the foreground, log to stderr too\n"
	    "  -d       debug logging (never a secret)\n", prog, PORTAIL_DEFAULT_CONFIG);
}

bool
portail_service_getopt(const char *prog, int argc, char **argv, struct portail_service_opts *o,
    int *status)
{
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt(argc, argv, "c:fdh")) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'h':
			usage(stdout, prog);
			*status = 0;
			return false;
		default:
			usage(stderr, prog);
			*status = 2;
			return false;
		}
	}
	if (optind != argc) {
		usage(stderr, prog);
		*status = 2;
		return false;
	}
	return true;
}

void
portail_service_daemonize(const char *prog)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) != 0 || (pid = fork()) < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
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

bool
portail_service_ready(void)
{
	bool told;
	int null;

	if (ready_fd < 0)
		return true;
	told = write(ready_fd, "", 1) == 1;
	close(ready_fd);
	ready_fd = -1;
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return told;
}

int
portail_service_listen_unix(const char *prog, const char *path, const struct passwd *owner,
    bool chown_socket, mode_t mode, ino_t *ino)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char dir[sizeof(sa.sun_path)];
	int fd = -1, probe;
	mode_t old;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	if (mkdir(dirname(dir), 0755) == 0) {
		if (owner != NULL && chown(dir, owner->pw_uid, owner->pw_gid) != 0)
			fprintf(stderr, "%s: chown %s: %s\n", prog, dir, strerror(errno));
	} else if (errno != EEXIST) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "%s: %s exists and is not a socket; not touching it\n", prog, path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			fprintf(stderr, "%s: another %s is running on %s\n", prog, prog, path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		/* nobody answers: a stale socket from a crash */
		if (unlink(path) != 0) {
			fprintf(stderr, "%s: cannot remove stale %s: %s\n", prog, path, strerror(errno));
			return -1;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	/* never wider than mode, even for the moment before the chmod */
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if ((chown_socket && owner != NULL && chown(path, owner->pw_uid, owner->pw_gid) != 0) ||
	    chmod(path, mode) != 0 || listen(fd, 128) != 0 || lstat(path, &st) != 0)
		goto fail;
	*ino = st.st_ino;
	return fd;
fail:
	fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
