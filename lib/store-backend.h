/*
 * store-backend.h — what lib/store.c dispatches to: one table of
 * operations per backend of the store (store.h is the contract; the
 * SQLite backend is store-sqlite.c and its concept files, store-int.h;
 * the PostgreSQL one is store-pg.c and its concept files, store-pg-int.h).
 * Not for any other file of lib/.
 *
 * Every backend's handle starts with a pointer to its table, so that
 * store.c reads the table whatever the backend (a pointer to a struct
 * converts to a pointer to its first member).
 */
#ifndef PORTAIL_STORE_BACKEND_H
#define PORTAIL_STORE_BACKEND_H

#include "store.h"

struct pt_store_backend {
	const char *name;       /* "sqlite", "postgresql": portail status shows it */
	/* several hosts' daemons may use one store (portail_store_shared) */
	bool shared;
	/* test hook: one SQL text run, its rows stepped over (pt_store_run) */
	portail_status (*run)(portail_store *st, const char *sql, portail_error *err);
	/* NULL: no cluster (SQLite) */
	portail_status (*cluster)(portail_store *st, struct portail_store_cluster *out,
	    portail_error *err);
	void (*close)(portail_store *st);
	portail_status (*probe)(portail_store *st, portail_error *err);
	portail_status (*account_get)(portail_store *st, const char *key,
	    struct portail_account *out, portail_error *err);
	portail_status (*account_list)(portail_store *st, struct portail_account **out,
	    size_t *n, portail_error *err);
	portail_status (*account_set_state)(portail_store *st, const char *key, int state,
	    int64_t now, portail_error *err);
	portail_status (*account_unlock)(portail_store *st, const char *key, int64_t now,
	    portail_error *err);
	portail_status (*account_delete)(portail_store *st, const char *key,
	    portail_error *err);
	portail_status (*account_disable_and_revoke)(portail_store *st, const char *key,
	    int64_t now, portail_error *err);
	portail_status (*account_checked)(portail_store *st, const char *key, int64_t now,
	    portail_error *err);
	portail_status (*auth_failed)(portail_store *st, const char *key, int64_t now,
	    const struct portail_lockout *policy, int64_t *locked_until, portail_error *err);
	portail_status (*auth_reserve)(portail_store *st, const char *key, int64_t now,
	    int seen, const struct portail_lockout *policy, int64_t *reserved_lock,
	    int64_t *locked_until, portail_error *err);
	portail_status (*auth_release)(portail_store *st, const char *key,
	    int64_t reserved_lock, portail_error *err);
	portail_status (*auth_succeeded)(portail_store *st, const char *key, int64_t now,
	    const char *new_hash, portail_error *err);
	portail_status (*mail_add)(portail_store *st, const struct portail_mail_row *m,
	    portail_error *err);
	portail_status (*mail_next)(portail_store *st, int64_t now,
	    struct portail_mail_row *out, int64_t *next_due, portail_error *err);
	portail_status (*mail_retry)(portail_store *st, int64_t id, int tries, int64_t next_try,
	    portail_error *err);
	portail_status (*mail_delete)(portail_store *st, int64_t id, portail_error *err);
	portail_status (*mail_count)(portail_store *st, unsigned long *n, portail_error *err);
	portail_status (*code_issue)(portail_store *st, const char *key, const char *email,
	    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
	    const struct portail_code_rules *rules, const struct portail_mail_row *mail,
	    int *wait, portail_error *err);
	portail_status (*code_verify)(portail_store *st, const char *key, const char *purpose,
	    const unsigned char code_hash[PORTAIL_HASH_BYTES],
	    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now,
	    int ticket_lifetime, int *tries_left, portail_error *err);
	portail_status (*ticket_peek)(portail_store *st,
	    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose,
	    int64_t now, char **key, char **email, portail_error *err);
	portail_status (*signup_finish)(portail_store *st,
	    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now,
	    const char *password_hash, portail_error *err);
	portail_status (*reset_finish)(portail_store *st,
	    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now,
	    const char *password_hash, portail_error *err);
	portail_status (*password_set)(portail_store *st, const char *key,
	    const char *password_hash, int64_t now, portail_error *err);
	portail_status (*token_add)(portail_store *st, const char *key,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
	    int64_t expires, int max, int64_t *id, portail_error *err);
	portail_status (*token_find)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], struct portail_token *out,
	    struct portail_account *acct, portail_error *err);
	portail_status (*token_touch)(portail_store *st, int64_t id, int64_t now,
	    int64_t expires, portail_error *err);
	portail_status (*token_list)(portail_store *st, const char *key, int64_t now,
	    struct portail_token **out, size_t *n, portail_error *err);
	portail_status (*token_delete)(portail_store *st, const char *key, int64_t id,
	    portail_error *err);
	portail_status (*token_revoke_all)(portail_store *st, const char *key, int64_t now,
	    portail_error *err);
	portail_status (*gc)(portail_store *st, int64_t now, portail_error *err);
	portail_status (*link_find)(portail_store *st, const char *provider,
	    const char *subject, char **key, int64_t *last_used, portail_error *err);
	portail_status (*link_ticket_add)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_identity *id,
	    int64_t now, int64_t expires, portail_error *err);
	portail_status (*link_ticket_get)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now,
	    struct portail_link_ticket *t, portail_error *err);
	portail_status (*link_ticket_address)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key, const char *email,
	    portail_error *err);
	portail_status (*link_ticket_proof)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key,
	    const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err);
	portail_status (*link_finish)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *proof,
	    int64_t now, bool *created, char **email, portail_error *err);
	portail_status (*link_used)(portail_store *st, const char *provider,
	    const char *subject, int64_t now, portail_error *err);
	portail_status (*link_delete)(portail_store *st, const char *key, const char *provider,
	    portail_error *err);
	portail_status (*link_list)(portail_store *st, const char *key, char ***providers,
	    portail_error *err);
	portail_status (*session_add)(portail_store *st, const char *key,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced,
	    int64_t now, int64_t expires, int64_t seen_cutoff, int max_sessions, int64_t *id,
	    portail_error *err);
	portail_status (*session_find)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], struct portail_session *out,
	    struct portail_account *acct, portail_error *err);
	portail_status (*session_touch)(portail_store *st, int64_t id, int64_t now,
	    portail_error *err);
	portail_status (*session_delete)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], portail_error *err);
	portail_status (*session_count)(portail_store *st, const char *key, int *n,
	    portail_error *err);
	portail_status (*oauth_state_add)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_oauth_state *s,
	    int64_t now, portail_error *err);
	portail_status (*oauth_state_take)(portail_store *st,
	    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now,
	    struct portail_oauth_state *out, portail_error *err);
};

extern const struct pt_store_backend pt_sqlite_backend;
extern const struct pt_store_backend pt_pg_backend;

/*
 * The PostgreSQL backend's open (store-pg.c): conninfo a libpq
 * connection string, password NULL or the password read from
 * [store] password_file.
 */
portail_status pt_pg_open(const char *conninfo, const char *password, int pool_size,
    int deadline_ms, portail_store **out, portail_error *err);

/* Test hook: one SQL text run on st, whatever its backend; its rows are not read. */
portail_status pt_store_run(portail_store *st, const char *sql, portail_error *err);

#endif
