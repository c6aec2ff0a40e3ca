/*
 * store-token.c — the SQLite store's long-lived tokens: only their hash
 * is stored. A token is live while it has not expired and was issued in
 * its account's current token epoch: revoking them all is one bump of
 * that epoch.
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_COLUMNS "t.id, t.email_key, t.label, t.created, t.expires, t.last_used, t.epoch"

/* Reads TOKEN_COLUMNS (columns 0 to 6). */
static bool
read_token(sqlite3_stmt *s, struct portail_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	t->email_key = pt_store_col_text(s, 1);
	t->label = pt_store_col_text(s, 2);
	t->created = sqlite3_column_int64(s, 3);
	t->expires = sqlite3_column_int64(s, 4);
	t->last_used = sqlite3_column_int64(s, 5);
	t->epoch = sqlite3_column_int64(s, 6);
	if (t->email_key == NULL || t->label == NULL) {
		portail_token_clear(t);
		return false;
	}
	return true;
}

/*
 * One transaction (BEGIN IMMEDIATE: the write lock first, so no other
 * writer, of this process or another, comes between the count and the
 * insert): the insert guarded by the count of the account's live tokens;
 * no row inserted, the account there or not tells UNKNOWN from the cap.
 */
portail_status
pt_sqlite_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int max, int64_t *id, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if ((s = pt_store_prep(st, "INSERT INTO tokens (email_key, token_hash, label, created, "
	    "expires, epoch) SELECT a.email_key, ?2, ?3, ?4, ?5, a.token_epoch FROM accounts a "
	    "WHERE a.email_key = ?1 AND (SELECT count(*) FROM tokens t WHERE t.email_key = "
	    "a.email_key AND t.expires > ?4 AND t.epoch = a.token_epoch) < ?6")) == NULL) {
		r = pt_store_db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, expires);
	sqlite3_bind_int(s, 6, max);
	if ((r = pt_store_step_done(st, s, "token", err)) == PORTAIL_OK) {
		if (sqlite3_changes(st->db) > 0)
			*id = sqlite3_last_insert_rowid(st->db);
		else
			r = PORTAIL_ERR_UNKNOWN;
	} else if (r == PORTAIL_ERR_EXISTS) {
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: token: hash taken");
	}
	pt_store_release(st, s);
	if (r == PORTAIL_ERR_UNKNOWN) {
		/* none inserted: the cap, when the account is there */
		if ((s = pt_store_prep(st, "SELECT 1 FROM accounts WHERE email_key = ?")) == NULL) {
			r = pt_store_db_err(st, err, "token");
			goto out;
		}
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		if ((r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "token", err)) == PORTAIL_OK)
			r = portail_error_set(err, PORTAIL_ERR_TOO_MANY_TOKENS,
			    "the account holds %d tokens already", max);
		pt_store_release(st, s);
	}
out:
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	/* one statement, one read transaction: the token and its account agree */
	if ((s = pt_store_prep(st, "SELECT " TOKEN_COLUMNS ", " PT_ACCOUNT_COLUMNS_OF("a")
	    " FROM tokens t JOIN accounts a ON a.email_key = t.email_key "
	    "WHERE t.token_hash = ?")) == NULL) {
		r = pt_store_db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_REFUSED, "token", err)) == PORTAIL_OK &&
	    !(read_token(s, out) && pt_store_read_account(s, 7, acct))) {
		portail_token_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires,
    portail_error *err)
{
	return pt_store_run1(st, "UPDATE tokens SET last_used = ?1, expires = ?2 WHERE id = ?3",
	    "token", false, err, "iii", now, expires, id);
}

static bool
read_row(sqlite3_stmt *s, void *t)
{
	return read_token(s, t);
}

static void
clear_row(void *t)
{
	portail_token_clear(t);
}

portail_status
pt_sqlite_token_list(portail_store *st, const char *key, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err)
{
	sqlite3_stmt *s;
	void *list = NULL;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	/* live ones only: not expired, issued in the account's current epoch */
	if ((s = pt_store_prep(st, "SELECT " TOKEN_COLUMNS " FROM tokens t JOIN accounts a "
	    "ON a.email_key = t.email_key WHERE t.email_key = ?1 AND t.expires > ?2 "
	    "AND t.epoch = a.token_epoch ORDER BY t.id")) == NULL) {
		r = pt_store_db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	r = pt_store_rows(st, s, sizeof(**out), read_row, clear_row, &list, n, "token", err);
	pt_store_release(st, s);
	if (r == PORTAIL_OK)
		*out = list;
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_token_delete(portail_store *st, const char *key, int64_t id, portail_error *err)
{
	return pt_store_run1(st, "DELETE FROM tokens WHERE id = ? AND email_key = ?", "token", true,
	    err, "it", id, key);
}

static const char sql_revoke_all[] =
    "UPDATE accounts SET token_epoch = token_epoch + 1, updated = ? WHERE email_key = ?";

portail_status
pt_store_token_revoke_all_locked(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return pt_store_run1_locked(st, sql_revoke_all, "account", true, err, "it", now, key);
}

portail_status
pt_sqlite_token_revoke_all(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	return pt_store_run1(st, sql_revoke_all, "account", true, err, "it", now, key);
}
