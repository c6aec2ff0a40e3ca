/*
 * store-pg-int.h — what the files of the PostgreSQL store share; not a
 * contract (that is store.h), not for any other file of lib/. Nothing
 * here is shared with the SQLite backend (store-int.h).
 *
 * store-pg.c keeps the pool of connections (one per worker), connects
 * without blocking, walks the host list itself (the last good host
 * first), prepares every statement after each (re)connect, bounds every
 * round trip by the operation's own deadline, and migrates the schema
 * under an advisory lock. store-pg-account.c, store-pg-code.c,
 * store-pg-mail.c, store-pg-token.c, store-pg-link.c, store-pg-session.c
 * and store-pg-oauth.c hold the SQL of their concept, each statement
 * named and listed in their pt_pg_sql_* table.
 *
 * Concurrency: PostgreSQL runs the operations at once (READ COMMITTED).
 * Every read-then-write is one guarded statement (UPDATE … WHERE … AND
 * tries_left > 0 RETURNING) or takes a row lock first (SELECT … FOR
 * UPDATE, pg_advisory_xact_lock on the address for the issuance limits);
 * inserts meet UNIQUE constraints (SQLSTATE 23505: EXISTS).
 */
#ifndef PORTAIL_STORE_PG_INT_H
#define PORTAIL_STORE_PG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store-backend.h"

/* One named statement, prepared on every connection. */
struct pt_pg_sql {
	const char *name;
	const char *sql;
};

struct pt_pg_conn {
	PGconn *pg;             /* NULL: connect on next use */
	bool busy;              /* an operation holds it */
	bool prepared;          /* every statement prepared on it */
};

struct pt_pg_store {
	const struct pt_store_backend *be;      /* &pt_pg_backend: first (store-backend.h) */
	pthread_mutex_t lock;
	pthread_cond_t freed;                   /* a connection given back (CLOCK_MONOTONIC) */
	struct pt_pg_conn *conns;
	int n_conns;
	int deadline_ms;
	/* the conninfo's keywords but the hosts and the password, for each attempt */
	const char **keys, **vals;
	int n_opts;
	char **hosts, **addrs, **ports;         /* per host (addrs, ports: NULL or per host) */
	int n_hosts;
	int good;                               /* the host that answered last */
	char *password;                         /* sodium_malloc'd, or NULL */
	bool schema_ready;                      /* migrated: statements may be prepared */
	/* counted for the tests (test_store reads them): the answers waited
	 * for (round trips, a connection's preparation included), the
	 * compare-and-swaps that missed, the reservations that missed theirs
	 * CAS_TRIES times */
	atomic_ulong round_trips;
	atomic_ulong cas_misses;
	atomic_ulong cas_fallbacks;
};

/* One operation: its connection and its deadline (CLOCK_MONOTONIC, ms). */
struct pt_pg_op {
	struct pt_pg_store *pg;
	struct pt_pg_conn *c;
	int64_t deadline;
	bool in_tx;
};

#define PT_PG_MAX_PARAMS 12

/* The parameters of a statement, sent as text (bytea in binary). */
struct pt_pg_params {
	int n;
	const char *v[PT_PG_MAX_PARAMS];
	int len[PT_PG_MAX_PARAMS];
	int fmt[PT_PG_MAX_PARAMS];
	char num[PT_PG_MAX_PARAMS][24];
};

void pt_pg_text(struct pt_pg_params *p, const char *s);    /* NULL: SQL NULL */
void pt_pg_int(struct pt_pg_params *p, int64_t v);
void pt_pg_blob(struct pt_pg_params *p, const void *b, size_t n);     /* NULL: SQL NULL */

/*
 * Starts an operation: a free connection of the pool (waiting for one
 * until the deadline), connected and prepared. UNAVAILABLE otherwise.
 * pt_pg_op_end gives it back (rolling back a transaction left open).
 */
portail_status pt_pg_op_begin(portail_store *st, struct pt_pg_op *op, portail_error *err);
void pt_pg_op_end(struct pt_pg_op *op);

/*
 * Runs the prepared statement name with p (NULL: none). OK with *res
 * (the caller PQclears it; res NULL: not kept); EXISTS for a unique
 * violation (23505); UNAVAILABLE for anything else, the connection
 * dropped when it is the connection's fault or the deadline passed.
 */
portail_status pt_pg_exec(struct pt_pg_op *op, const char *name, const struct pt_pg_params *p,
    PGresult **res, const char *what, portail_error *err);

/*
 * One statement as text with n parameters (v, len, fmt as
 * PQsendQueryParams), its own deadline from now; the answers of
 * pt_pg_exec. For the store copy (store-copy.c).
 */
portail_status pt_pg_exec_sql(struct pt_pg_op *op, const char *sql, int n, const char *const *v,
    const int *len, const int *fmt, PGresult **res, const char *what, portail_error *err);

/*
 * BEGIN, and COMMIT (when r is OK or keep) or ROLLBACK. An error at
 * COMMIT is in doubt (the commit may have happened, on a promoted
 * standby too): UNAVAILABLE, never a refusal.
 */
portail_status pt_pg_begin(struct pt_pg_op *op, portail_error *err);
portail_status pt_pg_end(struct pt_pg_op *op, portail_status r, bool keep, portail_error *err);

/* One statement alone, in its own operation: need_change, UNKNOWN when no row changed. */
portail_status pt_pg_run1(portail_store *st, const char *name, const struct pt_pg_params *p,
    bool need_change, const char *what, portail_error *err);

/*
 * One statement alone, its rows into a new array of size-byte elements
 * (and extra zeroed ones after them; NULL when none at all), read by read
 * (false: out of memory, the element left cleared). On failure *out is
 * NULL and the rows read so far are cleared. The result is wiped.
 */
portail_status pt_pg_rows(portail_store *st, const char *name, const struct pt_pg_params *p,
    size_t size, size_t extra, bool (*read)(const PGresult *, int, void *),
    void (*clear)(void *), void **out, size_t *n, const char *what, portail_error *err);

/*
 * PQclear after zeroing every value (libpq frees its buffers without
 * wiping them and has no allocator hook): for every result holding a
 * hash, a code or token hash, a nonce, a verifier or a sealed box. NULL: nothing.
 */
void pt_pg_clear_secret(PGresult *res);

/* Columns (text results): a new string (NULL for NULL), an integer, a hash of exactly n bytes. */
char *pt_pg_col_text(const PGresult *res, int row, int col);
int64_t pt_pg_col_int(const PGresult *res, int row, int col);
bool pt_pg_col_blob(const PGresult *res, int row, int col, unsigned char *out, size_t n);
/* A bytea of any length into a new buffer (*out NULL for NULL); false when out of memory. */
bool pt_pg_col_blob_new(const PGresult *res, int row, int col, unsigned char **out, size_t *n);
/* How many rows the command changed. */
int64_t pt_pg_changed(const PGresult *res);

/* ---- the concepts' statements and their shared readers ------------------------- */

extern const struct pt_pg_sql pt_pg_sql_account[], pt_pg_sql_code[], pt_pg_sql_mail[],
    pt_pg_sql_token[], pt_pg_sql_link[], pt_pg_sql_session[], pt_pg_sql_oauth[];

#define PT_PG_ACCOUNT_COLUMNS "email, email_key, password_hash, state, created, updated, " \
	"last_signin, failures, locked_until, token_epoch, gpi_checked"
#define PT_PG_ACCOUNT_COLUMNS_OF(t) t ".email, " t ".email_key, " t ".password_hash, " \
	t ".state, " t ".created, " t ".updated, " t ".last_signin, " t ".failures, " \
	t ".locked_until, " t ".token_epoch, " t ".gpi_checked"

/* Reads PT_PG_ACCOUNT_COLUMNS from column c on; false (a cleared) when out of memory. */
bool pt_pg_read_account(const PGresult *res, int row, int c, struct portail_account *a);

/*
 * store-pg-code.c: the live ticket of purpose: *key and *email new
 * strings, BAD_TICKET when there is none. With take, consumed at now in
 * the same guarded statement (inside the caller's transaction).
 */
portail_status pt_pg_ticket_find(struct pt_pg_op *op, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, bool take, char **key, char **email, portail_error *err);
/* store-pg-mail.c: queues m inside op (the code's mail, in the issuance's transaction). */
portail_status pt_pg_mail_insert(struct pt_pg_op *op, const struct portail_mail_row *m,
    portail_error *err);

/* ---- the backend's entries (store-backend.h) ------------------------------------ */

portail_status pt_pg_run(portail_store *st, const char *sql, portail_error *err);
void pt_pg_close(portail_store *st);
portail_status pt_pg_probe(portail_store *st, portail_error *err);
portail_status pt_pg_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err);
portail_status pt_pg_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err);
portail_status pt_pg_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err);
portail_status pt_pg_account_unlock(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_pg_account_delete(portail_store *st, const char *key, portail_error *err);
portail_status pt_pg_account_disable_and_revoke(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_pg_account_checked(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_pg_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *policy, int64_t *locked_until, portail_error *err);
portail_status pt_pg_auth_reserve(portail_store *st, const char *key, int64_t now,
    int seen, const struct portail_lockout *policy, int64_t *reserved_lock,
    int64_t *locked_until, portail_error *err);
portail_status pt_pg_auth_release(portail_store *st, const char *key, int64_t reserved_lock,
    portail_error *err);
portail_status pt_pg_auth_succeeded(portail_store *st, const char *key, int64_t now,
    const char *new_hash, portail_error *err);
portail_status pt_pg_mail_add(portail_store *st, const struct portail_mail_row *m,
    portail_error *err);
portail_status pt_pg_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out,
    int64_t *next_due, portail_error *err);
portail_status pt_pg_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try,
    portail_error *err);
portail_status pt_pg_mail_delete(portail_store *st, int64_t id, portail_error *err);
portail_status pt_pg_mail_count(portail_store *st, unsigned long *n, portail_error *err);
portail_status pt_pg_code_issue(portail_store *st, const char *key, const char *email,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err);
portail_status pt_pg_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err);
portail_status pt_pg_ticket_peek(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose, int64_t now,
    char **key, char **email, portail_error *err);
portail_status pt_pg_signup_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err);
portail_status pt_pg_reset_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err);
portail_status pt_pg_password_set(portail_store *st, const char *key, const char *password_hash,
    int64_t now, portail_error *err);
portail_status pt_pg_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int max, int64_t *id, portail_error *err);
portail_status pt_pg_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err);
portail_status pt_pg_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires,
    portail_error *err);
portail_status pt_pg_token_list(portail_store *st, const char *key, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err);
portail_status pt_pg_token_delete(portail_store *st, const char *key, int64_t id,
    portail_error *err);
portail_status pt_pg_token_revoke_all(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_pg_gc(portail_store *st, int64_t now, portail_error *err);
portail_status pt_pg_link_find(portail_store *st, const char *provider, const char *subject,
    char **key, int64_t *last_used, portail_error *err);
portail_status pt_pg_link_ticket_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_identity *id,
    int64_t now, int64_t expires, portail_error *err);
portail_status pt_pg_link_ticket_get(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_link_ticket *t,
    portail_error *err);
portail_status pt_pg_link_ticket_address(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key, const char *email,
    portail_error *err);
portail_status pt_pg_link_ticket_proof(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key,
    const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err);
portail_status pt_pg_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err);
portail_status pt_pg_link_used(portail_store *st, const char *provider, const char *subject,
    int64_t now, portail_error *err);
portail_status pt_pg_link_delete(portail_store *st, const char *key, const char *provider,
    portail_error *err);
portail_status pt_pg_link_list(portail_store *st, const char *key, char ***providers,
    portail_error *err);
portail_status pt_pg_session_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced, int64_t now,
    int64_t expires, int64_t seen_cutoff, int max_sessions, int64_t *id, portail_error *err);
portail_status pt_pg_session_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_session *out, struct portail_account *acct, portail_error *err);
portail_status pt_pg_session_touch(portail_store *st, int64_t id, int64_t now,
    portail_error *err);
portail_status pt_pg_session_delete(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], portail_error *err);
portail_status pt_pg_session_count(portail_store *st, const char *key, int *n,
    portail_error *err);
portail_status pt_pg_oauth_state_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_oauth_state *s,
    int64_t now, portail_error *err);
portail_status pt_pg_oauth_state_take(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_oauth_state *out,
    portail_error *err);

/* ---- test hooks ---- */

/* Called by pt_pg_open before it takes the schema lock (tests: two openers at once). */
extern void (*pt_pg_migration_hook)(void *arg);
extern void *pt_pg_migration_hook_arg;

#endif
