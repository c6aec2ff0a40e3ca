/*
 * store-pg-session.c — the PostgreSQL store's browser sessions: only the
 * keyed hash of a session's secret is stored; session.c decides whether
 * one is live. Adding is one transaction: the replaced session gone, the
 * dead ones swept, the new one in its account's current epoch.
 */
#include "store-pg-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define SESSION_COLUMNS "s.id, s.session_hash, s.email_key, s.created, s.last_seen, " \
	"s.expires, s.epoch"

#define S_REPLACE "session_replace"
#define S_SWEEP "session_sweep"
#define S_ADD "session_add"
#define S_LOCK "session_lock"
#define S_EVICT "session_evict"
#define S_FIND "session_find"
#define S_TOUCH "session_touch"
#define S_COUNT "session_count"

const struct pt_pg_sql pt_pg_sql_session[] = {
	{ S_REPLACE, "DELETE FROM sessions WHERE session_hash = $1" },
	{ S_SWEEP, "DELETE FROM sessions WHERE expires <= $1 OR last_seen <= $2" },
	/* the account's row lock: two sign-ins at once count each other's session */
	{ S_LOCK, "SELECT 1 FROM accounts WHERE email_key = $1 FOR UPDATE" },
	/* all but the account's keep most recently used (ties: the newest kept) */
	{ S_EVICT, "DELETE FROM sessions WHERE email_key = $1 AND id NOT IN (SELECT id FROM sessions "
	  "WHERE email_key = $1 ORDER BY last_seen DESC, id DESC LIMIT $2)" },
	{ S_ADD, "INSERT INTO sessions (session_hash, email_key, created, last_seen, expires, epoch) "
	  "SELECT $2, email_key, $3, $3, $4, token_epoch FROM accounts WHERE email_key = $1 "
	  "RETURNING id" },
	/* one statement, one snapshot: the session and its account agree */
	{ S_FIND, "SELECT " SESSION_COLUMNS ", " PT_PG_ACCOUNT_COLUMNS_OF("a")
	  " FROM sessions s JOIN accounts a ON a.email_key = s.email_key "
	  "WHERE s.session_hash = $1" },
	{ S_TOUCH, "UPDATE sessions SET last_seen = $1 WHERE id = $2" },
	{ S_COUNT, "SELECT count(*) FROM sessions WHERE email_key = $1" },
	{ NULL, NULL }
};

portail_status
pt_pg_session_add(portail_store *st, const char *key, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *replaced, int64_t now, int64_t expires, int64_t seen_cutoff,
    int max_sessions, int64_t *id, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_begin(&op, err)) != PORTAIL_OK)
		goto done;
	if (replaced != NULL) {
		pt_pg_blob(&p, replaced, PORTAIL_HASH_BYTES);
		if ((r = pt_pg_exec(&op, S_REPLACE, &p, NULL, "session", err)) != PORTAIL_OK)
			goto out;
		memset(&p, 0, sizeof(p));
	}
	pt_pg_int(&p, now);
	pt_pg_int(&p, seen_cutoff);
	if ((r = pt_pg_exec(&op, S_SWEEP, &p, NULL, "session", err)) != PORTAIL_OK)
		goto out;
	memset(&p, 0, sizeof(p));
	if (max_sessions > 0) {
		/* past the limit, the least recently used go: room for the new one (Keycloak's) */
		pt_pg_text(&p, key);
		if ((r = pt_pg_exec(&op, S_LOCK, &p, NULL, "session", err)) != PORTAIL_OK)
			goto out;
		pt_pg_int(&p, (int64_t)max_sessions - 1);
		if ((r = pt_pg_exec(&op, S_EVICT, &p, NULL, "session", err)) != PORTAIL_OK)
			goto out;
		memset(&p, 0, sizeof(p));
	}
	pt_pg_text(&p, key);
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now);
	pt_pg_int(&p, expires);
	if ((r = pt_pg_exec(&op, S_ADD, &p, &res, "session", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0)
		r = PORTAIL_ERR_UNKNOWN;
	else
		*id = pt_pg_col_int(res, 0, 0);
out:
	PQclear(res);
	if (r == PORTAIL_ERR_EXISTS)
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: session: hash taken");
	r = pt_pg_end(&op, r, false, err);
done:
	pt_pg_op_end(&op);
	return r;
}

/* Reads SESSION_COLUMNS; false (s cleared) when out of memory or damaged. */
static bool
read_session(const PGresult *res, struct portail_session *out)
{
	memset(out, 0, sizeof(*out));
	out->id = pt_pg_col_int(res, 0, 0);
	if (!pt_pg_col_blob(res, 0, 1, out->hash, PORTAIL_HASH_BYTES))
		return false;
	out->email_key = pt_pg_col_text(res, 0, 2);
	out->created = pt_pg_col_int(res, 0, 3);
	out->last_seen = pt_pg_col_int(res, 0, 4);
	out->expires = pt_pg_col_int(res, 0, 5);
	out->epoch = pt_pg_col_int(res, 0, 6);
	if (out->email_key == NULL) {
		portail_session_clear(out);
		return false;
	}
	return true;
}

portail_status
pt_pg_session_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_session *out, struct portail_account *acct, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_FIND, &p, &res, "session", err)) == PORTAIL_OK) {
		if (PQntuples(res) == 0) {
			r = PORTAIL_ERR_REFUSED;
		} else if (!(read_session(res, out) && pt_pg_read_account(res, 0, 7, acct))) {
			portail_session_clear(out);
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
	}
	pt_pg_clear_secret(res);     /* the password hash */
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_session_touch(portail_store *st, int64_t id, int64_t now, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_int(&p, id);
	return pt_pg_run1(st, S_TOUCH, &p, false, "session", err);
}

portail_status
pt_pg_session_delete(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	return pt_pg_run1(st, S_REPLACE, &p, true, "session", err);
}

portail_status
pt_pg_session_count(portail_store *st, const char *key, int *n, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	pt_pg_text(&p, key);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_COUNT, &p, &res, "session", err)) == PORTAIL_OK)
		*n = (int)pt_pg_col_int(res, 0, 0);
	PQclear(res);
	pt_pg_op_end(&op);
	return r;
}
