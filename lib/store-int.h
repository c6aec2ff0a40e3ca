/*
 * store-int.h — what the files of the SQLite store share; not a contract
 * (that is store.h), not for any other file of lib/.
 *
 * The SQLite backend is one file per concept, as SSSD's sysdb_ops.c /
 * sysdb_search.c: store-sqlite.c opens the database, migrates its
 * schema, keeps the statement cache and the transactions, and knows the
 * files SQLite keeps beside the store; store-rekey.c is the 3 -> 4
 * migration (address identity) and what it left; store-account.c,
 * store-code.c, store-mail.c, store-token.c, store-link.c and
 * store-session.c hold the SQL of their concept. The rules they apply
 * (lockout, code limits, the sliding day, the sessions' timeouts) are
 * policy.c's and session.c's answers, not theirs. A PostgreSQL backend
 * implements store.h with files of its own; nothing here is shared with it.
 *
 * Locking: every store operation holds st->lock for its whole run, so
 * that a BEGIN ... COMMIT is ours alone. The _locked helpers expect the
 * caller to hold it (or to be inside pt_store_begin ... pt_store_end).
 */
#ifndef PORTAIL_STORE_INT_H
#define PORTAIL_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "store-backend.h"

/*
 * Prepared statements are kept, one per SQL text (every text is a string
 * literal, so its address names it), reset after each use: parsing the
 * SQL cost more than running it on the token and sign-in paths. About 40
 * texts exist; past STMT_CACHE a statement is prepared for each use.
 */
#define PT_STORE_STMT_CACHE 64

struct portail_store {
	const struct pt_store_backend *be;     /* &pt_sqlite_backend: first (store-backend.h) */
	sqlite3 *db;
	pthread_mutex_t lock;
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} stmts[PT_STORE_STMT_CACHE];
	size_t n_stmts;
};

/* ---- the backend's entries (store-backend.h), one per store.h operation ------ */

portail_status pt_sqlite_run(portail_store *st, const char *sql, portail_error *err);
void pt_sqlite_close(portail_store *st);
portail_status pt_sqlite_probe(portail_store *st, portail_error *err);
portail_status pt_sqlite_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err);
portail_status pt_sqlite_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err);
portail_status pt_sqlite_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err);
portail_status pt_sqlite_account_unlock(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_sqlite_account_delete(portail_store *st, const char *key, portail_error *err);
portail_status pt_sqlite_account_disable_and_revoke(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_sqlite_account_checked(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_sqlite_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *policy, int64_t *locked_until, portail_error *err);
portail_status pt_sqlite_auth_reserve(portail_store *st, const char *key, int64_t now,
    int seen, const struct portail_lockout *policy, int64_t *reserved_lock,
    int64_t *locked_until, portail_error *err);
portail_status pt_sqlite_auth_release(portail_store *st, const char *key, int64_t reserved_lock,
    portail_error *err);
portail_status pt_sqlite_auth_succeeded(portail_store *st, const char *key, int64_t now,
    const char *new_hash, portail_error *err);
portail_status pt_sqlite_mail_add(portail_store *st, const struct portail_mail_row *m,
    portail_error *err);
portail_status pt_sqlite_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out,
    int64_t *next_due, portail_error *err);
portail_status pt_sqlite_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try,
    portail_error *err);
portail_status pt_sqlite_mail_delete(portail_store *st, int64_t id, portail_error *err);
portail_status pt_sqlite_mail_count(portail_store *st, unsigned long *n, portail_error *err);
portail_status pt_sqlite_code_issue(portail_store *st, const char *key, const char *email,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err);
portail_status pt_sqlite_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err);
portail_status pt_sqlite_ticket_peek(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose, int64_t now,
    char **key, char **email, portail_error *err);
portail_status pt_sqlite_signup_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err);
portail_status pt_sqlite_reset_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err);
portail_status pt_sqlite_password_set(portail_store *st, const char *key, const char *password_hash,
    int64_t now, portail_error *err);
portail_status pt_sqlite_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int max, int64_t *id, portail_error *err);
portail_status pt_sqlite_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err);
portail_status pt_sqlite_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires,
    portail_error *err);
portail_status pt_sqlite_token_list(portail_store *st, const char *key, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err);
portail_status pt_sqlite_token_delete(portail_store *st, const char *key, int64_t id,
    portail_error *err);
portail_status pt_sqlite_token_revoke_all(portail_store *st, const char *key, int64_t now,
    portail_error *err);
portail_status pt_sqlite_gc(portail_store *st, int64_t now, portail_error *err);
portail_status pt_sqlite_link_find(portail_store *st, const char *provider, const char *subject,
    char **key, int64_t *last_used, portail_error *err);
portail_status pt_sqlite_link_ticket_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_identity *id,
    int64_t now, int64_t expires, portail_error *err);
portail_status pt_sqlite_link_ticket_get(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_link_ticket *t,
    portail_error *err);
portail_status pt_sqlite_link_ticket_address(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key, const char *email,
    portail_error *err);
portail_status pt_sqlite_link_ticket_proof(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key,
    const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err);
portail_status pt_sqlite_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err);
portail_status pt_sqlite_link_used(portail_store *st, const char *provider, const char *subject,
    int64_t now, portail_error *err);
portail_status pt_sqlite_link_delete(portail_store *st, const char *key, const char *provider,
    portail_error *err);
portail_status pt_sqlite_link_list(portail_store *st, const char *key, char ***providers,
    portail_error *err);
portail_status pt_sqlite_oauth_state_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_oauth_state *s,
    int64_t now, portail_error *err);
portail_status pt_sqlite_oauth_state_take(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_oauth_state *out,
    portail_error *err);
portail_status pt_sqlite_session_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced, int64_t now,
    int64_t expires, int64_t seen_cutoff, int max_sessions, int64_t *id, portail_error *err);
portail_status pt_sqlite_session_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_session *out, struct portail_account *acct, portail_error *err);
portail_status pt_sqlite_session_touch(portail_store *st, int64_t id, int64_t now,
    portail_error *err);
portail_status pt_sqlite_session_delete(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], portail_error *err);
portail_status pt_sqlite_session_count(portail_store *st, const char *key, int *n,
    portail_error *err);

/* ---- store-sqlite.c: the connection ---------------------------------------- */

/* PORTAIL_ERR_UNAVAILABLE with SQLite's message, what first. */
portail_status pt_store_db_err(portail_store *st, portail_error *err, const char *what);

/*
 * The statement for sql (a string literal: its address names it), from
 * the cache or newly prepared; NULL when SQLite refuses it. Give it back
 * with pt_store_release, which resets it (or finalizes it when the cache
 * was full).
 */
sqlite3_stmt *pt_store_prep(portail_store *st, const char *sql);
void pt_store_release(portail_store *st, sqlite3_stmt *s);

/*
 * One statement that returns no row: types names each argument — 't'
 * text, 'i' int64, 'h' a PORTAIL_HASH_BYTES blob. With need_change,
 * UNKNOWN when it changed no row. pt_store_run1 takes the lock;
 * pt_store_run1_locked expects it held (inside a transaction).
 */
portail_status pt_store_run1(portail_store *st, const char *sql, const char *what,
    bool need_change, portail_error *err, const char *types, ...);
portail_status pt_store_run1_locked(portail_store *st, const char *sql, const char *what,
    bool need_change, portail_error *err, const char *types, ...);

/*
 * Steps s, which returns no row: OK, EXISTS for a key already there (a
 * primary key or unique constraint), UNAVAILABLE otherwise.
 */
portail_status pt_store_step_done(portail_store *st, sqlite3_stmt *s, const char *what,
    portail_error *err);

/*
 * Steps s for its one row: OK with the row there to read, none when
 * there is no row (UNKNOWN, BAD_TICKET …), UNAVAILABLE otherwise.
 */
portail_status pt_store_step_row(portail_store *st, sqlite3_stmt *s, portail_status none,
    const char *what, portail_error *err);

/*
 * Steps s to its end, each row read by read into a new element (size
 * bytes) of a growing array; on failure the elements read are cleared
 * with clear and the array freed. *out (NULL when no row) and *n are set
 * on success only. The caller holds the lock and releases s.
 */
portail_status pt_store_rows(portail_store *st, sqlite3_stmt *s, size_t size,
    bool (*read)(sqlite3_stmt *, void *), void (*clear)(void *), void **out, size_t *n,
    const char *what, portail_error *err);

/* Column i as a new string; NULL for NULL (or out of memory). */
char *pt_store_col_text(sqlite3_stmt *s, int i);

/*
 * BEGIN IMMEDIATE, the lock taken; pt_store_end commits when r is OK (or
 * keep), rolls back otherwise, and gives the lock back.
 */
portail_status pt_store_begin(portail_store *st, portail_error *err);
portail_status pt_store_end(portail_store *st, portail_status r, bool keep, portail_error *err);

/* ---- store-rekey.c: the 3 -> 4 migration ------------------------------------- */

/*
 * SQL function portail_rekey(), which migration 3 -> 4 runs: recomputes
 * every key inside the migration's transaction, an SQL error otherwise.
 */
void pt_store_sql_rekey(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* ---- store-account.c --------------------------------------------------------- */

#define PT_ACCOUNT_COLUMNS "email, email_key, password_hash, state, created, updated, " \
	"last_signin, failures, locked_until, token_epoch, gpi_checked"
#define PT_ACCOUNT_COLUMNS_OF(t) t ".email, " t ".email_key, " t ".password_hash, " t ".state, " \
	t ".created, " t ".updated, " t ".last_signin, " t ".failures, " t ".locked_until, " \
	t ".token_epoch, " t ".gpi_checked"

/* Reads PT_ACCOUNT_COLUMNS from column c on; false (a cleared) when out of memory. */
bool pt_store_read_account(sqlite3_stmt *s, int c, struct portail_account *a);

/* ---- store-code.c ------------------------------------------------------------ */

/*
 * The live ticket (verified, not consumed, not expired) of purpose:
 * *key and *email new strings. BAD_TICKET when there is none. Locked.
 */
portail_status pt_store_ticket_find(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose, int64_t now,
    char **key, char **email, portail_error *err);
/* Marks the verification of (key, purpose) consumed at now. Locked. */
portail_status pt_store_ticket_consume(portail_store *st, const char *key, const char *purpose,
    int64_t now, portail_error *err);

/* ---- store-token.c ----------------------------------------------------------- */

/* portail_store_token_revoke_all, locked (inside a transaction). */
portail_status pt_store_token_revoke_all_locked(portail_store *st, const char *key, int64_t now,
    portail_error *err);

/* ---- store-mail.c ------------------------------------------------------------ */

/* Queues m. Locked (portail_store_code_issue queues the code's mail in its transaction). */
portail_status pt_store_mail_insert(portail_store *st, const struct portail_mail_row *m,
    portail_error *err);

/* ---- test hooks (tests/unit/test_store.c) -------------------------------------- */

/*
 * Called by portail_store_open before each migration step takes the
 * write lock, with the version it read: lets a test play "another process
 * migrated meanwhile". NULL (the default) outside tests.
 */
extern void (*pt_store_migration_hook)(void *arg, const char *path, int version);
extern void *pt_store_migration_hook_arg;

/* pt_store_run (store-backend.h) runs one SQL text through the statement cache (its
 * address names it): pt_sqlite_run. */
/* How many statements the cache holds. */
size_t pt_store_cached(const portail_store *st);

#endif
