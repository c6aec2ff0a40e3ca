/*
 * store-session.c — the SQLite store's browser sessions (store.h): only
 * the keyed hash of a session's secret is stored. Whether a session is
 * still live (idle and absolute timeouts) is session.c's answer; the
 * store records, finds, touches and sweeps.
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static const char sql_session_replace[] = "DELETE FROM sessions WHERE session_hash = ?";
static const char sql_session_sweep[] =
    "DELETE FROM sessions WHERE expires <= ?1 OR last_seen <= ?2";
static const char sql_session_add[] =
    "INSERT INTO sessions (session_hash, email_key, created, last_seen, expires, epoch) "
    "SELECT ?2, email_key, ?3, ?3, ?4, token_epoch FROM accounts WHERE email_key = ?1";

portail_status
pt_sqlite_session_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced, int64_t now,
    int64_t expires, int64_t seen_cutoff, int64_t *id, portail_error *err)
{
	portail_status r;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if (replaced != NULL && (r = pt_store_run1_locked(st, sql_session_replace, "session",
	    false, err, "h", replaced)) != PORTAIL_OK)
		goto out;
	if ((r = pt_store_run1_locked(st, sql_session_sweep, "session", false, err, "ii", now,
	    seen_cutoff)) != PORTAIL_OK)
		goto out;
	r = pt_store_run1_locked(st, sql_session_add, "session", true, err, "thii", key, hash, now,
	    expires);
	if (r == PORTAIL_OK)
		*id = sqlite3_last_insert_rowid(st->db);
out:
	return pt_store_end(st, r, false, err);
}

#define SESSION_COLUMNS "s.id, s.session_hash, s.email_key, s.created, s.last_seen, " \
	"s.expires, s.epoch"

/* Reads SESSION_COLUMNS (columns 0 to 6); false (s cleared) when out of memory or damaged. */
static bool
read_session(sqlite3_stmt *s, struct portail_session *out)
{
	const void *h = sqlite3_column_blob(s, 1);

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	if (h == NULL || sqlite3_column_bytes(s, 1) != PORTAIL_HASH_BYTES)
		return false;
	memcpy(out->hash, h, PORTAIL_HASH_BYTES);
	out->email_key = pt_store_col_text(s, 2);
	out->created = sqlite3_column_int64(s, 3);
	out->last_seen = sqlite3_column_int64(s, 4);
	out->expires = sqlite3_column_int64(s, 5);
	out->epoch = sqlite3_column_int64(s, 6);
	if (out->email_key == NULL) {
		portail_session_clear(out);
		return false;
	}
	return true;
}

portail_status
pt_sqlite_session_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_session *out, struct portail_account *acct, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	/* one statement, one read transaction: the session and its account agree */
	if ((s = pt_store_prep(st, "SELECT " SESSION_COLUMNS ", " PT_ACCOUNT_COLUMNS_OF("a")
	    " FROM sessions s JOIN accounts a ON a.email_key = s.email_key "
	    "WHERE s.session_hash = ?")) == NULL) {
		r = pt_store_db_err(st, err, "session");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_REFUSED, "session", err)) == PORTAIL_OK &&
	    !(read_session(s, out) && pt_store_read_account(s, 7, acct))) {
		portail_session_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_session_touch(portail_store *st, int64_t id, int64_t now, portail_error *err)
{
	return pt_store_run1(st, "UPDATE sessions SET last_seen = ?1 WHERE id = ?2", "session",
	    false, err, "ii", now, id);
}

portail_status
pt_sqlite_session_delete(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    portail_error *err)
{
	return pt_store_run1(st, sql_session_replace, "session", true, err, "h", hash);
}

portail_status
pt_sqlite_session_count(portail_store *st, const char *key, int *n, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT count(*) FROM sessions WHERE email_key = ?")) == NULL) {
		r = pt_store_db_err(st, err, "session");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*n = sqlite3_column_int(s, 0);
		r = PORTAIL_OK;
	} else {
		r = pt_store_db_err(st, err, "session");
	}
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}
