/*
 * store-pg-token.c — the PostgreSQL store's long-lived tokens: only their
 * hash is stored; live while not expired and issued in the account's
 * current token epoch (revoking them all is one bump of that epoch).
 */
#include "store-pg-int.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_COLUMNS "t.id, t.email_key, t.label, t.created, t.expires, t.last_used, t.epoch"

#define S_LOCK "token_account_lock"
#define S_ADD "token_add"
#define S_FIND "token_find"
#define S_TOUCH "token_touch"
#define S_LIST "token_list"
#define S_DELETE "token_delete"
#define S_REVOKE "token_revoke_all"

const struct pt_pg_sql pt_pg_sql_token[] = {
	/*
	 * the account's row locked first, then (a new statement: a new
	 * snapshot under READ COMMITTED, which sees what the lock's last
	 * holder committed) the insert guarded by the count of its live tokens
	 */
	{ S_LOCK, "SELECT 1 FROM accounts WHERE email_key = $1 FOR UPDATE" },
	{ S_ADD, "INSERT INTO tokens (email_key, token_hash, label, created, expires, epoch) "
	  "SELECT a.email_key, $2, $3, $4, $5, a.token_epoch FROM accounts a "
	  "WHERE a.email_key = $1 AND (SELECT count(*) FROM tokens t WHERE t.email_key = "
	  "a.email_key AND t.expires > $4 AND t.epoch = a.token_epoch) < $6 RETURNING id" },
	/* one statement, one snapshot: the token and its account agree */
	{ S_FIND, "SELECT " TOKEN_COLUMNS ", " PT_PG_ACCOUNT_COLUMNS_OF("a")
	  " FROM tokens t JOIN accounts a ON a.email_key = t.email_key WHERE t.token_hash = $1" },
	{ S_TOUCH, "UPDATE tokens SET last_used = $1, expires = $2 WHERE id = $3" },
	{ S_LIST, "SELECT " TOKEN_COLUMNS " FROM tokens t JOIN accounts a "
	  "ON a.email_key = t.email_key WHERE t.email_key = $1 AND t.expires > $2 "
	  "AND t.epoch = a.token_epoch ORDER BY t.id" },
	{ S_DELETE, "DELETE FROM tokens WHERE id = $1 AND email_key = $2" },
	{ S_REVOKE, "UPDATE accounts SET token_epoch = token_epoch + 1, updated = $1 "
	  "WHERE email_key = $2" },
	{ NULL, NULL }
};

static bool
read_token(const PGresult *res, int row, struct portail_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = pt_pg_col_int(res, row, 0);
	t->email_key = pt_pg_col_text(res, row, 1);
	t->label = pt_pg_col_text(res, row, 2);
	t->created = pt_pg_col_int(res, row, 3);
	t->expires = pt_pg_col_int(res, row, 4);
	t->last_used = pt_pg_col_int(res, row, 5);
	t->epoch = pt_pg_col_int(res, row, 6);
	if (t->email_key == NULL || t->label == NULL) {
		portail_token_clear(t);
		return false;
	}
	return true;
}

/*
 * One transaction: the account's row locked (FOR UPDATE: concurrent adds
 * for one account queue there; a count-then-insert under READ COMMITTED
 * passed its limit), then the guarded insert; no account: UNKNOWN, no row
 * inserted: the cap.
 */
portail_status
pt_pg_token_add(portail_store *st, const char *key, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *label, int64_t now, int64_t expires, int max, int64_t *id, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_begin(&op, err)) != PORTAIL_OK)
		goto done;
	pt_pg_text(&p, key);
	if ((r = pt_pg_exec(&op, S_LOCK, &p, &res, "token", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0) {
		r = PORTAIL_ERR_UNKNOWN;
		goto out;
	}
	PQclear(res);
	res = NULL;
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_text(&p, label);
	pt_pg_int(&p, now);
	pt_pg_int(&p, expires);
	pt_pg_int(&p, max);
	if ((r = pt_pg_exec(&op, S_ADD, &p, &res, "token", err)) == PORTAIL_OK) {
		if (PQntuples(res) == 0)
			r = portail_error_set(err, PORTAIL_ERR_TOO_MANY_TOKENS,
			    "the account holds %d tokens already", max);
		else
			*id = pt_pg_col_int(res, 0, 0);
	} else if (r == PORTAIL_ERR_EXISTS) {
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: token: hash taken");
	}
out:
	PQclear(res);
	r = pt_pg_end(&op, r, false, err);
done:
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_FIND, &p, &res, "token", err)) == PORTAIL_OK) {
		if (PQntuples(res) == 0) {
			r = PORTAIL_ERR_REFUSED;
		} else if (!read_token(res, 0, out)) {
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		} else if (!pt_pg_read_account(res, 0, 7, acct)) {
			portail_token_clear(out);
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
	}
	pt_pg_clear_secret(res);     /* the password hash */
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_int(&p, expires);
	pt_pg_int(&p, id);
	return pt_pg_run1(st, S_TOUCH, &p, false, "token", err);
}

static bool
read_row(const PGresult *res, int row, void *t)
{
	return read_token(res, row, t);
}

static void
clear_row(void *t)
{
	portail_token_clear(t);
}

portail_status
pt_pg_token_list(portail_store *st, const char *key, int64_t now, struct portail_token **out,
    size_t *n, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	pt_pg_int(&p, now);
	return pt_pg_rows(st, S_LIST, &p, sizeof(**out), 0, read_row, clear_row, (void **)out,
	    n, "token", err);
}

portail_status
pt_pg_token_delete(portail_store *st, const char *key, int64_t id, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, id);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_DELETE, &p, true, "token", err);
}

portail_status
pt_pg_token_revoke_all(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_REVOKE, &p, true, "account", err);
}
