/*
 * store-account.c — the SQLite store's accounts: reading and listing
 * them, their state, their password and their lockout counters. The lock
 * a failure earns is policy.c's answer (portail_policy_lockout); this
 * file only counts and records.
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "policy.h"

bool
pt_store_read_account(sqlite3_stmt *s, int c, struct portail_account *a)
{
	memset(a, 0, sizeof(*a));
	a->email = pt_store_col_text(s, c + 0);
	a->email_key = pt_store_col_text(s, c + 1);
	a->password_hash = pt_store_col_text(s, c + 2);
	a->state = sqlite3_column_int(s, c + 3);
	a->created = sqlite3_column_int64(s, c + 4);
	a->updated = sqlite3_column_int64(s, c + 5);
	a->last_signin = sqlite3_column_int64(s, c + 6);
	a->failures = sqlite3_column_int(s, c + 7);
	a->locked_until = sqlite3_column_int64(s, c + 8);
	a->token_epoch = sqlite3_column_int64(s, c + 9);
	a->gpi_checked = sqlite3_column_int64(s, c + 10);
	if (a->email == NULL || a->email_key == NULL) {
		portail_account_clear(a);
		return false;
	}
	return true;
}

/* ---- reading ---------------------------------------------------------------- */

portail_status
pt_sqlite_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT " PT_ACCOUNT_COLUMNS " FROM accounts "
	    "WHERE email_key = ?")) == NULL) {
		r = pt_store_db_err(st, err, "account");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "account", err)) == PORTAIL_OK &&
	    !pt_store_read_account(s, 0, out))
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static bool
read_row(sqlite3_stmt *s, void *a)
{
	return pt_store_read_account(s, 0, a);
}

static void
clear_row(void *a)
{
	portail_account_clear(a);
}

portail_status
pt_sqlite_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err)
{
	sqlite3_stmt *s;
	void *list = NULL;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT " PT_ACCOUNT_COLUMNS " FROM accounts "
	    "ORDER BY email_key")) == NULL) {
		r = pt_store_db_err(st, err, "list");
		goto out;
	}
	r = pt_store_rows(st, s, sizeof(**out), read_row, clear_row, &list, n, "list", err);
	pt_store_release(st, s);
	if (r == PORTAIL_OK)
		*out = list;
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- state ------------------------------------------------------------------- */

static const char sql_set_state[] =
    "UPDATE accounts SET state = ?, updated = ? WHERE email_key = ?";

portail_status
pt_sqlite_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err)
{
	return pt_store_run1(st, sql_set_state, "account", true, err, "iit", (int64_t)state, now,
	    key);
}

portail_status
pt_sqlite_account_disable_and_revoke(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	portail_status r;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	r = pt_store_run1_locked(st, sql_set_state, "account", true, err, "iit",
	    (int64_t)PORTAIL_ACCOUNT_DISABLED, now, key);
	if (r == PORTAIL_OK)
		r = pt_store_token_revoke_all_locked(st, key, now, err);
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_account_unlock(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	return pt_store_run1(st,
	    "UPDATE accounts SET failures = 0, locked_until = 0, updated = ? WHERE email_key = ?",
	    "account", true, err, "it", now, key);
}

portail_status
pt_sqlite_account_delete(portail_store *st, const char *key, portail_error *err)
{
	return pt_store_run1(st, "DELETE FROM accounts WHERE email_key = ?", "account", true, err,
	    "t", key);
}

portail_status
pt_sqlite_account_checked(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return pt_store_run1(st, "UPDATE accounts SET gpi_checked = ? WHERE email_key = ?",
	    "account", true, err, "it", now, key);
}

portail_status
pt_sqlite_password_set(portail_store *st, const char *key, const char *password_hash,
    int64_t now, portail_error *err)
{
	/* a new password revokes every token (epoch bump) */
	return pt_store_run1(st, "UPDATE accounts SET password_hash = ?1, failures = 0, "
	    "locked_until = 0, token_epoch = token_epoch + 1, updated = ?2 WHERE email_key = ?3",
	    "password", true, err, "tit", password_hash, now, key);
}

/* ---- sign-in failures and the lockout ---------------------------------------- */

/*
 * Inside a transaction: one more failure for key, and the lock it earns
 * (portail_policy_lockout). With guarded, only when the account is not
 * locked at now (*locked gets the lock's end otherwise).
 */
static portail_status
count_failure(portail_store *st, const char *key, int64_t now, const struct portail_lockout *p,
    bool guarded, int64_t *until, int64_t *locked, portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	int64_t len;
	int failures;

	*until = 0;
	if ((s = pt_store_prep(st, guarded ?
	    "UPDATE accounts SET failures = failures + 1 WHERE email_key = ?1 "
	    "AND locked_until <= ?2 RETURNING failures" :
	    "UPDATE accounts SET failures = failures + 1 WHERE email_key = ?1 "
	    "RETURNING failures")) == NULL)
		return pt_store_db_err(st, err, "failure");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (guarded)
		sqlite3_bind_int64(s, 2, now);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "failure", err)) != PORTAIL_OK) {
		pt_store_release(st, s);
		if (r == PORTAIL_ERR_UNKNOWN && guarded) {
			/* no row changed: locked, or no such account */
			if ((s = pt_store_prep(st, "SELECT locked_until FROM accounts "
			    "WHERE email_key = ?")) == NULL)
				return pt_store_db_err(st, err, "failure");
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
			r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "failure", err);
			if (r == PORTAIL_OK) {
				*locked = sqlite3_column_int64(s, 0);
				r = PORTAIL_ERR_LOCKED;
			}
			pt_store_release(st, s);
		}
		return r;
	}
	failures = sqlite3_column_int(s, 0);
	pt_store_release(st, s);
	if (!portail_policy_lockout(p, failures, &len))
		return PORTAIL_OK;
	if ((r = pt_store_run1_locked(st, "UPDATE accounts SET locked_until = ? WHERE email_key = ?",
	    "lock", false, err, "it", now + len, key)) != PORTAIL_OK)
		return r;
	*until = now + len;
	return PORTAIL_OK;
}

portail_status
pt_sqlite_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *p, int64_t *locked_until, portail_error *err)
{
	portail_status r;
	int64_t until = 0, locked = 0;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	r = count_failure(st, key, now, p, false, &until, &locked, err);
	if (r == PORTAIL_OK)
		*locked_until = until;
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_auth_reserve(portail_store *st, const char *key, int64_t now, int seen,
    const struct portail_lockout *p, int64_t *reserved_lock, int64_t *locked_until,
    portail_error *err)
{
	portail_status r;
	int64_t until = 0, locked = 0;

	/*
	 * seen is not needed here: one local transaction (BEGIN IMMEDIATE,
	 * the writer's lock held to the end) costs no round trip, and
	 * counts exactly whatever the caller read
	 */
	(void)seen;
	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	r = count_failure(st, key, now, p, true, &until, &locked, err);
	if (r == PORTAIL_OK)
		*reserved_lock = until;
	else if (r == PORTAIL_ERR_LOCKED)
		*locked_until = locked;
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_auth_release(portail_store *st, const char *key, int64_t reserved_lock,
    portail_error *err)
{
	return pt_store_run1(st, "UPDATE accounts SET failures = MAX(failures - 1, 0), "
	    "locked_until = CASE WHEN ?2 != 0 AND locked_until = ?2 THEN 0 ELSE locked_until END "
	    "WHERE email_key = ?1", "release", false, err, "ti", key, reserved_lock);
}

portail_status
pt_sqlite_auth_succeeded(portail_store *st, const char *key, int64_t now,
    const char *new_hash, portail_error *err)
{
	if (new_hash != NULL)
		return pt_store_run1(st, "UPDATE accounts SET failures = 0, locked_until = 0, "
		    "last_signin = ?1, password_hash = ?3, updated = ?1 WHERE email_key = ?2",
		    "sign-in", false, err, "itt", now, key, new_hash);
	return pt_store_run1(st, "UPDATE accounts SET failures = 0, locked_until = 0, "
	    "last_signin = ?1 WHERE email_key = ?2", "sign-in", false, err, "it", now, key);
}
