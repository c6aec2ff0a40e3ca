/*
 * gpi.h — the GPI directory: which children (student records) carry a
 * guardian's e-mail address, in which schools, and whether any of
 * those schools subscribes to the portal.
 *
 * A portail_gpi handle owns a pool of [gpi] connections LDAP connections,
 * each opened on first use and kept, each used by one call at a time; it
 * is safe to share between threads. At most [gpi] max_workers callers are
 * inside a call at once (the bulkhead): the next is answered
 * PORTAIL_ERR_BUSY at once (an outage, as unavailable), so that a hung directory holds only
 * that many of a daemon's workers. Each connection walks the URI list in
 * our own code, from the last server that answered, with the network and
 * operation timeouts set: libldap's own failover does not move on from a
 * server that accepts and never answers (TESTING.md).
 *
 * Searches ask for paged results (RFC 2696, [gpi] page_size), so that the
 * server's size limit does not cut an address's records short; an answer
 * the server still truncates is taken as proof of a subscribed child when
 * it holds one, and as PORTAIL_ERR_UNAVAILABLE otherwise.
 */
#ifndef PORTAIL_GPI_H
#define PORTAIL_GPI_H

#include <stdbool.h>

#include "config.h"

typedef struct portail_gpi portail_gpi;

struct portail_gpi_child {
	char *student_id;   /* may be NULL when the entry lacks it */
	char *name;         /* may be NULL */
	char *school;       /* may be NULL */
	bool subscribed;    /* school in [gpi] subscribed_schools */
};

typedef struct portail_gpi_result {
	struct portail_gpi_child *children;
	size_t n_children;
	bool known;         /* at least one child in a subscribed school */
	/*
	 * The directory's value that is the address (same portail_email_key),
	 * from a subscribed child's record when known; NULL with no children.
	 * It is the address on record: mail for a sign-up goes there, never to
	 * the spelling that was typed (DESIGN §2).
	 */
	char *email;
} portail_gpi_result;

/*
 * cfg is borrowed and must outlive the handle. Reads the bind password
 * file now (PORTAIL_ERR_CONFIG when it cannot), so that a daemon can
 * drop the privileges that file needs; no network traffic yet.
 */
portail_status portail_gpi_new(const portail_config *cfg,
    portail_gpi **out, portail_error *err);
void portail_gpi_free(portail_gpi *gpi);

/*
 * Looks the address up, by its key (portail_email_key): a record matches
 * when one of its values keys alike, whichever spelling it holds (U-label
 * or A-label domain, ASCII case). On PORTAIL_OK, *out is a new result (possibly
 * with no children: the address is on no record) that the caller frees
 * with portail_gpi_result_free. PORTAIL_ERR_INVALID for an address that
 * fails portail_email_check; PORTAIL_ERR_UNAVAILABLE when no server
 * answered in time or the bind was refused (err says which; a refused
 * bind is a configuration problem), or when the server truncated an
 * answer with no subscribed child in it; PORTAIL_ERR_BUSY (an outage too,
 * the caller's to count apart) when [gpi] max_workers calls are already
 * in flight on a stalled directory, or no connection came free within
 * [gpi] timeout ("directory busy"); PORTAIL_ERR_CONFIG when the
 * server rejects the configured filter or base. At most [gpi] size_limit
 * children are kept, but `known` is settled by every record.
 */
portail_status portail_gpi_lookup(portail_gpi *gpi,
    const char *email, portail_gpi_result **out, portail_error *err);

/*
 * Probes the directory: connects (or reuses the connection), binds, and
 * reads the base entry. For `portail check` and the daemon's status.
 * On success, uri (if not NULL) receives the server that answered.
 */
portail_status portail_gpi_probe(portail_gpi *gpi,
    char *uri, size_t uri_len, portail_error *err);

void portail_gpi_result_free(portail_gpi_result *res);

/* The pool and the bulkhead, now: for the daemon's status. */
struct portail_gpi_stats {
	int connections;        /* [gpi] connections: the pool's size */
	int in_use;             /* inside a call now */
	int idle;               /* open, waiting for a call */
	int calls;              /* callers inside the bulkhead now */
	int max_calls;          /* its share of the workers ([gpi] max_workers) */
	unsigned long refused;  /* callers it turned away ("directory busy"), since start */
};
void portail_gpi_stats(portail_gpi *gpi, struct portail_gpi_stats *out);
/*
 * fn(arg) is called, on the caller's thread and outside any lock of the
 * handle, for each call the bulkhead turns away (PORTAIL_ERR_BUSY), be
 * it answered unavailable or let in by a flow's grace: a daemon counts
 * them per peer in its log. Set it before sharing the handle.
 */
void portail_gpi_on_refusal(portail_gpi *gpi, void (*fn)(void *arg), void *arg);

/* True when the school code is in [gpi] subscribed_schools. */
bool portail_gpi_subscribed(const portail_config *cfg,
    const char *school);

#endif /* PORTAIL_GPI_H */
