/*
 * daemon.h — portaild's shared state and the pieces of the daemon:
 * the request handling (ops.c), the event loop and workers (loop.c),
 * and logging (log.c). The logic lives in libportail; this is the shell
 * that holds the secrets and answers on the socket.
 */
#ifndef PORTAILD_DAEMON_H
#define PORTAILD_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "flow.h"
#include "gpi.h"
#include "session.h"

struct daemon {
	portail_config *cfg;
	portail_gpi *gpi;               /* NULL when the directory is not set up */
	portail_key *key;
	portail_store *store;
	portail_mailq *mailq;
	portail_providers *providers;   /* [provider.NAME] sections, secrets read */
	portail_flow *flow;             /* NULL: only ping, status and gpi.lookup work */
	atomic_llong last_gc;           /* the store's last garbage collection (portail_manage_gc) */
	time_t started;
	bool debug;
	bool has_admin_group;
	gid_t admin_gid;
	bool has_web_user;              /* [web] user exists here: its uid may use the sessions */
	uid_t web_uid;
	struct portail_sessions sessions;       /* browser sessions ([web] session_idle, _max) */
	/* counters for the status op */
	atomic_ulong requests;
	atomic_ulong bad_requests;
	atomic_ulong refusals;
	atomic_ulong unavailable;
	atomic_ulong deadline_exceeded;
	atomic_ulong busy;              /* answered "busy": a queue was full */
	atomic_ulong dropped_late;      /* past their deadline before a worker took them */
	atomic_ulong connections_total;
	atomic_long connections_open;
	atomic_ulong connections_evicted;
	atomic_ulong connections_refused; /* its share, or all, were full, none idle to close */
};

/* What the kernel says of the process at the other end (SO_PEERCRED). */
struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/*
 * Handles one request line (without its newline) from peer and returns
 * the response line (with its newline; new, the caller frees it).
 * *close_after is set when the connection must be closed after the
 * answer. Never returns NULL (out of memory yields a fixed answer).
 */
char *ops_handle(struct daemon *d, const struct peer *peer, const char *line,
    size_t len, size_t *resp_len, bool *close_after);

/* A fixed error response for the loop itself (oversize, deadline). */
char *ops_error_line(portail_status s, const char *message, size_t *len);

/*
 * The directory's hook (portail_gpi_on_refusal): a call its bulkhead
 * turned away, counted for the peer whose request the thread handles.
 */
void ops_directory_refused(void *arg);

/* True when peer may use admin ops: uid 0 or a member of admin_group. */
bool ops_peer_is_admin(const struct daemon *d, const struct peer *peer);

/*
 * clock.c: the one clock every decision reads (lifetimes, lockouts, code
 * expiry, tokens, the directory's grace), in seconds since the epoch.
 * Only the test program (portaild-testclock, -DPORTAIL_TEST_CLOCK) can
 * be told another time (the per-minute log summary follows it too);
 * uptime keeps to the wall clock.
 */
int64_t daemon_now(void);
/*
 * A descriptor (non-blocking) that becomes readable when a test moves the
 * clock, for the event loop; -1 in the installed portaild, which reads
 * the wall clock only. The caller closes it.
 */
int daemon_clock_watch(void);
/* Drains fd; true when the clock moved since the last call. */
bool daemon_clock_moved(int fd);

/* log.c */
void log_open(bool to_stderr, bool debug);
void log_reopen(void);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies s into buf with control characters, spaces, '"' and '\' escaped as
 * \xHH (log-injection proof); returns buf. */
const char *log_safe(const char *s, char *buf, size_t size);

/*
 * summary.c: what a flood repeats, logged one line per peer uid and kind
 * per minute with its count (the first at once), never once per request.
 */
enum summary_kind {
	SUMMARY_NONE,
	SUMMARY_BUSY,                   /* a queue was full: answered busy */
	SUMMARY_CONN_PEER,              /* a connection past the uid's share, all busy */
	SUMMARY_CONN_ALL,               /* a connection past max_connections, all busy */
	SUMMARY_DIRECTORY_BUSY,         /* the directory's bulkhead was full */
	SUMMARY_CODE_REQUEST,           /* a code.request that sent nothing, or hit the limits */
	SUMMARY_SOCIAL_LINK,            /* a social.link that sent nothing, or hit the limits */
	SUMMARY_CLIENT_LIMITED,         /* a web pre-login request past its client address's limit */
	SUMMARY_PEER_LIMITED,           /* a code request past its uid's code_requests_per_minute */
	SUMMARY_KINDS
};
/* Counts one for uid; thread-safe. */
void summary_note(uid_t uid, enum summary_kind kind);
/* Logs the counts whose minute is over (all: every count, at the stop). */
void summary_flush(bool all);

/*
 * clientlimit.c: one attempt of client address addr (text, as portail-web
 * sends it) at now; false when it has made limit in the window of window
 * seconds already, with *retry_after the seconds until the window ends.
 * limit 0, or addr NULL or no address: always true. Bounded memory.
 */
bool clientlimit_take(const char *addr, int64_t now, int limit, int window, int *retry_after);
/* The code requests of a root server's remote client, by the address the server declared. */
bool clientlimit_take_code_client(const char *addr, int64_t now, int limit, int window,
    int *retry_after);
/* The same for the local peer uid, in the same table (a slot of its own kind). */
bool clientlimit_take_uid(uid_t uid, int64_t now, int limit, int window, int *retry_after);
/* Whether addr is an address clientlimit_take counts (IPv4 or IPv6 text). */
bool clientlimit_is_address(const char *addr);

/* loop.c: runs until SIGTERM/SIGINT; returns the exit status. */
int loop_run(struct daemon *d, int listen_fd, void (*ready)(void));

#endif
