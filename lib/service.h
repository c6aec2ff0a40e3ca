/*
 * service.h — what portaild and portail-web do alike to run as a service:
 * their command line, the background start that reports start-up errors
 * to whoever started it, and the unix socket they listen on. Messages go to stderr, named
 * for prog, before the service detaches.
 */
#ifndef PORTAIL_SERVICE_H
#define PORTAIL_SERVICE_H

#include <pwd.h>
#include <stdbool.h>
#include <sys/types.h>

/* What both services take on their command line: [-c FILE] [-f] [-d]. */
struct portail_service_opts {
	const char *config;     /* -c; NULL: $PORTAIL_CONFIG or the default */
	bool foreground;        /* -f */
	bool debug;             /* -d */
};

/*
 * Reads the command line (getopt) into *o and returns true; false when
 * main must exit with *status: 0 after -h (the usage on stdout), 2 after
 * anything else (the usage on stderr).
 */
bool portail_service_getopt(const char *prog, int argc, char **argv,
    struct portail_service_opts *o, int *status);

/*
 * Forks to the background: the first process waits until the service
 * calls portail_service_ready (it exits 0) or dies (it exits 1), so an
 * init script sees a failed start. Exits on a failed fork.
 */
void portail_service_daemonize(const char *prog);

/*
 * Tells the first process that the service is ready and only then
 * detaches stdin, stdout and stderr (start-up errors were seen). Returns
 * false when the first process could not be told; true otherwise, and
 * when the service was not daemonized.
 */
bool portail_service_ready(void);

/*
 * Creates a listening unix socket at path with the given mode. Creates
 * its directory (0755, given to owner when not NULL, so that the service
 * may remove its socket after dropping privileges); refuses a path that
 * is not a socket or that a live server answers on; removes a stale one.
 * With chown_socket, the socket itself goes to owner's uid and group.
 * Returns the descriptor (non-blocking, close-on-exec) and the socket's
 * inode in *ino (to remove only our own at exit), or -1 with a message.
 */
int portail_service_listen_unix(const char *prog, const char *path, const struct passwd *owner,
    bool chown_socket, mode_t mode, ino_t *ino);

#endif
