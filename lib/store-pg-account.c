/*
 * store-pg-account.c — the PostgreSQL store's accounts: reading and
 * listing them, their state, their password and their lockout counters.
 * The lock a failure earns is policy.c's answer (portail_policy_lockout).
 *
 * The failure count is one guarded UPDATE … RETURNING inside a
 * transaction: its row lock is held until the lock it earns is written,
 * so a concurrent reservation waits, then sees the lock (READ COMMITTED
 * re-reads the row an UPDATE waited for) and is refused.
 *
 * A sign-in's reservation first tries a compare-and-swap: the caller read
 * the row (failures n, not locked), policy.c gives the lock failure n + 1
 * earns, and one autocommit UPDATE writes both only where the row still
 * holds n failures and no lock (S_FAIL_CAS): one round trip, not the
 * transaction's three or four. A concurrent UPDATE of the row makes the
 * guard fail (READ COMMITTED re-evaluates it on the row it waited for):
 * then the count is read again and the swap retried, CAS_TRIES times at
 * most, then the transaction, which always makes progress: a flood on one
 * account never spins.
 *
 * A sign-in's success (failures and lock back to 0, the last sign-in, a
 * rehash) is committed with synchronous_commit = local: it does not wait
 * for a synchronous standby, so a sign-in on a replicated cluster waits
 * for one standby once (the reservation, before the hash), not twice.
 * The reservation and every other write keep the server's setting. What a
 * failover can lose in the window before the standby has the success's
 * WAL: the reset, so the account keeps the reservation's failure (and,
 * when that one earned it, the lock until it ends: the same as a wrong
 * password), the last sign-in's time, and a rehash (the older hash stays
 * valid and is rehashed at the next sign-in). Never an account, a
 * password, a token or a failure a wrong password earned. And only until
 * the next synchronous commit on the primary, by any host: WAL is one
 * sequence, so the standby that acknowledges it holds the success too.
 */
#include "store-pg-int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define S_GET "account_get"
#define S_LIST "account_list"
#define S_STATE "account_state"
#define S_DISABLE "account_disable"
#define S_UNLOCK "account_unlock"
#define S_DELETE "account_delete"
#define S_CHECKED "account_checked"
#define S_PASSWORD "account_password"
#define S_FAIL "account_fail"
#define S_FAIL_GUARDED "account_fail_guarded"
#define S_FAIL_CAS "account_fail_cas"
#define S_COUNTERS "account_counters"
#define S_LOCKED "account_locked"
#define S_LOCK "account_lock"
#define S_RELEASE "account_release"
#define S_SUCCESS "account_success"
#define S_SUCCESS_REHASH "account_success_rehash"

/*
 * SET LOCAL synchronous_commit = local, as an expression of the statement
 * (an autocommit statement has no transaction to SET LOCAL in): the
 * setting lasts until the statement's implicit COMMIT, which reads it.
 * Volatile, so evaluated on the row the key found, never on others.
 */
#define COMMIT_LOCAL "set_config('synchronous_commit', 'local', true) = 'local'"

const struct pt_pg_sql pt_pg_sql_account[] = {
	{ S_GET, "SELECT " PT_PG_ACCOUNT_COLUMNS " FROM accounts WHERE email_key = $1" },
	{ S_LIST, "SELECT " PT_PG_ACCOUNT_COLUMNS " FROM accounts ORDER BY email_key" },
	{ S_STATE, "UPDATE accounts SET state = $1, updated = $2 WHERE email_key = $3" },
	/* disabled and every token revoked (the epoch bump), in one statement */
	{ S_DISABLE, "UPDATE accounts SET state = 1, updated = $2, token_epoch = token_epoch + 1 "
	  "WHERE email_key = $1" },
	{ S_UNLOCK, "UPDATE accounts SET failures = 0, locked_until = 0, updated = $1 "
	  "WHERE email_key = $2" },
	{ S_DELETE, "DELETE FROM accounts WHERE email_key = $1" },
	{ S_CHECKED, "UPDATE accounts SET gpi_checked = $1 WHERE email_key = $2" },
	{ S_PASSWORD, "UPDATE accounts SET password_hash = $1, failures = 0, locked_until = 0, "
	  "token_epoch = token_epoch + 1, updated = $2 WHERE email_key = $3" },
	{ S_FAIL, "UPDATE accounts SET failures = failures + 1 WHERE email_key = $1 "
	  "RETURNING failures" },
	{ S_FAIL_GUARDED, "UPDATE accounts SET failures = failures + 1 WHERE email_key = $1 "
	  "AND locked_until <= $2 RETURNING failures" },
	{ S_FAIL_CAS, "UPDATE accounts SET failures = failures + 1, "
	  "locked_until = CASE WHEN $4::bigint <> 0 THEN $4::bigint ELSE locked_until END "
	  "WHERE email_key = $1 AND failures = $2 AND locked_until <= $3 RETURNING failures" },
	{ S_COUNTERS, "SELECT failures, locked_until FROM accounts WHERE email_key = $1" },
	{ S_LOCKED, "SELECT locked_until FROM accounts WHERE email_key = $1" },
	{ S_LOCK, "UPDATE accounts SET locked_until = $1 WHERE email_key = $2" },
	{ S_RELEASE, "UPDATE accounts SET failures = GREATEST(failures - 1, 0), "
	  "locked_until = CASE WHEN $2::bigint <> 0 AND locked_until = $2::bigint THEN 0 "
	  "ELSE locked_until END WHERE email_key = $1" },
	/* committed locally, not waiting for a standby: see the head comment */
	{ S_SUCCESS, "UPDATE accounts SET failures = 0, locked_until = 0, last_signin = $1 "
	  "WHERE email_key = $2 AND " COMMIT_LOCAL },
	{ S_SUCCESS_REHASH, "UPDATE accounts SET failures = 0, locked_until = 0, "
	  "last_signin = $1, password_hash = $3, updated = $1 WHERE email_key = $2 AND "
	  COMMIT_LOCAL },
	{ NULL, NULL }
};

bool
pt_pg_read_account(const PGresult *res, int row, int c, struct portail_account *a)
{
	memset(a, 0, sizeof(*a));
	a->email = pt_pg_col_text(res, row, c + 0);
	a->email_key = pt_pg_col_text(res, row, c + 1);
	a->password_hash = pt_pg_col_text(res, row, c + 2);
	a->state = (int)pt_pg_col_int(res, row, c + 3);
	a->created = pt_pg_col_int(res, row, c + 4);
	a->updated = pt_pg_col_int(res, row, c + 5);
	a->last_signin = pt_pg_col_int(res, row, c + 6);
	a->failures = (int)pt_pg_col_int(res, row, c + 7);
	a->locked_until = pt_pg_col_int(res, row, c + 8);
	a->token_epoch = pt_pg_col_int(res, row, c + 9);
	a->gpi_checked = pt_pg_col_int(res, row, c + 10);
	if (a->email == NULL || a->email_key == NULL ||
	    (a->password_hash == NULL && !PQgetisnull(res, row, c + 2))) {
		portail_account_clear(a);
		return false;
	}
	return true;
}

/* ---- reading ---------------------------------------------------------------- */

portail_status
pt_pg_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	pt_pg_text(&p, key);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_GET, &p, &res, "account", err)) == PORTAIL_OK) {
		if (PQntuples(res) == 0)
			r = PORTAIL_ERR_UNKNOWN;
		else if (!pt_pg_read_account(res, 0, 0, out))
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_pg_clear_secret(res);     /* the password hash */
	pt_pg_op_end(&op);
	return r;
}

static bool
read_row(const PGresult *res, int row, void *a)
{
	return pt_pg_read_account(res, row, 0, a);
}

static void
clear_row(void *a)
{
	portail_account_clear(a);
}

portail_status
pt_pg_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err)
{
	return pt_pg_rows(st, S_LIST, NULL, sizeof(**out), 0, read_row, clear_row, (void **)out,
	    n, "list", err);
}

/* ---- state ------------------------------------------------------------------- */

portail_status
pt_pg_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, state);
	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_STATE, &p, true, "account", err);
}

portail_status
pt_pg_account_disable_and_revoke(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	pt_pg_int(&p, now);
	return pt_pg_run1(st, S_DISABLE, &p, true, "account", err);
}

portail_status
pt_pg_account_unlock(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_UNLOCK, &p, true, "account", err);
}

portail_status
pt_pg_account_delete(portail_store *st, const char *key, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_DELETE, &p, true, "account", err);
}

portail_status
pt_pg_account_checked(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_CHECKED, &p, true, "account", err);
}

portail_status
pt_pg_password_set(portail_store *st, const char *key, const char *password_hash, int64_t now,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, password_hash);
	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	return pt_pg_run1(st, S_PASSWORD, &p, true, "password", err);
}

/* ---- sign-in failures and the lockout ---------------------------------------- */

/*
 * Inside a transaction: one more failure for key and the lock it earns.
 * With guarded, only when the account is not locked at now (LOCKED with
 * *locked the lock's end otherwise).
 */
static portail_status
count_failure(struct pt_pg_op *op, const char *key, int64_t now, const struct portail_lockout *pol,
    bool guarded, int64_t *until, int64_t *locked, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	PGresult *res = NULL;
	portail_status r;
	int64_t len;
	int failures;

	*until = 0;
	pt_pg_text(&p, key);
	if (guarded)
		pt_pg_int(&p, now);
	if ((r = pt_pg_exec(op, guarded ? S_FAIL_GUARDED : S_FAIL, &p, &res, "failure", err)) !=
	    PORTAIL_OK)
		return r;
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = NULL;
		if (!guarded)
			return PORTAIL_ERR_UNKNOWN;
		/* no row changed: locked, or no such account */
		p.n = 1;
		if ((r = pt_pg_exec(op, S_LOCKED, &p, &res, "failure", err)) != PORTAIL_OK)
			return r;
		r = PORTAIL_ERR_UNKNOWN;
		if (PQntuples(res) == 1) {
			*locked = pt_pg_col_int(res, 0, 0);
			r = PORTAIL_ERR_LOCKED;
		}
		PQclear(res);
		return r;
	}
	failures = (int)pt_pg_col_int(res, 0, 0);
	PQclear(res);
	if (!portail_policy_lockout(pol, failures, &len))
		return PORTAIL_OK;
	memset(&p, 0, sizeof(p));
	pt_pg_int(&p, now + len);
	pt_pg_text(&p, key);
	if ((r = pt_pg_exec(op, S_LOCK, &p, NULL, "lock", err)) != PORTAIL_OK)
		return r;
	*until = now + len;
	return PORTAIL_OK;
}

/* count_failure in a transaction of its own, on op's connection. */
static portail_status
failure_tx(struct pt_pg_op *op, const char *key, int64_t now, const struct portail_lockout *pol,
    bool guarded, int64_t *until, int64_t *locked, portail_error *err)
{
	portail_status r;

	if ((r = pt_pg_begin(op, err)) == PORTAIL_OK) {
		r = count_failure(op, key, now, pol, guarded, until, locked, err);
		r = pt_pg_end(op, r, false, err);
	}
	return r;
}

static portail_status
failure(portail_store *st, const char *key, int64_t now, const struct portail_lockout *pol,
    bool guarded, int64_t *until, int64_t *locked, portail_error *err)
{
	struct pt_pg_op op;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	r = failure_tx(&op, key, now, pol, guarded, until, locked, err);
	pt_pg_op_end(&op);
	return r;
}

/* Compare-and-swap attempts before the transaction (a miss: the row moved). */
#define CAS_TRIES 3

/*
 * One compare-and-swap: failure seen + 1 and the lock it earns
 * (portail_policy_lockout), where the row still has seen failures and no
 * lock at now. OK: reserved, *until the lock it set (0: none), or with
 * *moved no row matched (changed since it was read, locked, or gone);
 * UNAVAILABLE on any error: an autocommit statement's error is in doubt,
 * never retried and never a refusal.
 */
static portail_status
cas_once(struct pt_pg_op *op, const char *key, int64_t now, int seen,
    const struct portail_lockout *pol, int64_t *until, bool *moved, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	PGresult *res = NULL;
	portail_status r;
	int64_t len, lock = 0;

	*moved = false;
	if (portail_policy_lockout(pol, seen + 1, &len))
		lock = now + len;
	pt_pg_text(&p, key);
	pt_pg_int(&p, seen);
	pt_pg_int(&p, now);
	pt_pg_int(&p, lock);
	if ((r = pt_pg_exec(op, S_FAIL_CAS, &p, &res, "failure", err)) != PORTAIL_OK)
		return r;
	*moved = PQntuples(res) == 0;
	PQclear(res);
	if (!*moved)
		*until = lock;
	return PORTAIL_OK;
}

/* The row's counters as they are now: UNKNOWN when it is gone. */
static portail_status
read_counters(struct pt_pg_op *op, const char *key, int *failures, int64_t *locked,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };
	PGresult *res = NULL;
	portail_status r;

	pt_pg_text(&p, key);
	if ((r = pt_pg_exec(op, S_COUNTERS, &p, &res, "failure", err)) != PORTAIL_OK)
		return r;
	r = PORTAIL_ERR_UNKNOWN;
	if (PQntuples(res) == 1) {
		int64_t n = pt_pg_col_int(res, 0, 0);

		*failures = n >= 0 && n < INT_MAX ? (int)n : -1;
		*locked = pt_pg_col_int(res, 0, 1);
		r = PORTAIL_OK;
	}
	PQclear(res);
	return r;
}

/*
 * The reservation: compare-and-swap from seen, re-read and retried on a
 * miss, the transaction after CAS_TRIES misses or when seen is unusable
 * (negative; INT_MAX, whose + 1 the column cannot hold).
 */
static portail_status
reserve(portail_store *st, const char *key, int64_t now, int seen,
    const struct portail_lockout *pol, int64_t *until, int64_t *locked, portail_error *err)
{
	struct pt_pg_op op;
	portail_status r;
	bool moved;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	for (int tries = 0; tries < CAS_TRIES && seen >= 0 && seen < INT_MAX; tries++) {
		if ((r = cas_once(&op, key, now, seen, pol, until, &moved, err)) != PORTAIL_OK ||
		    !moved)
			goto out;
		atomic_fetch_add_explicit(&op.pg->cas_misses, 1, memory_order_relaxed);
		if (tries + 1 == CAS_TRIES)
			break;
		if ((r = read_counters(&op, key, &seen, locked, err)) != PORTAIL_OK)
			goto out;       /* gone, or unavailable */
		if (*locked > now) {
			r = PORTAIL_ERR_LOCKED;
			goto out;
		}
	}
	/* a hot row, or no usable count: the path that always makes progress */
	if (seen >= 0 && seen < INT_MAX)
		atomic_fetch_add_explicit(&op.pg->cas_fallbacks, 1, memory_order_relaxed);
	r = failure_tx(&op, key, now, pol, true, until, locked, err);
out:
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *pol, int64_t *locked_until, portail_error *err)
{
	int64_t until = 0, locked = 0;
	portail_status r = failure(st, key, now, pol, false, &until, &locked, err);

	if (r == PORTAIL_OK)
		*locked_until = until;
	return r;
}

portail_status
pt_pg_auth_reserve(portail_store *st, const char *key, int64_t now, int seen,
    const struct portail_lockout *pol, int64_t *reserved_lock, int64_t *locked_until,
    portail_error *err)
{
	int64_t until = 0, locked = 0;
	portail_status r = reserve(st, key, now, seen, pol, &until, &locked, err);

	if (r == PORTAIL_OK)
		*reserved_lock = until;
	else if (r == PORTAIL_ERR_LOCKED)
		*locked_until = locked;
	return r;
}

portail_status
pt_pg_auth_release(portail_store *st, const char *key, int64_t reserved_lock, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	pt_pg_int(&p, reserved_lock);
	return pt_pg_run1(st, S_RELEASE, &p, false, "release", err);
}

portail_status
pt_pg_auth_succeeded(portail_store *st, const char *key, int64_t now, const char *new_hash,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_text(&p, key);
	if (new_hash != NULL)
		pt_pg_text(&p, new_hash);
	return pt_pg_run1(st, new_hash != NULL ? S_SUCCESS_REHASH : S_SUCCESS, &p, false,
	    "sign-in", err);
}
