/*
 * store-code.c — the SQLite store's verification codes and the tickets a
 * good code earns: issuing (with the rate limits' record), verifying,
 * consuming a ticket for the step it was made for (sign-up, reset, a
 * social link), and sweeping what is a day old. Whether a code may be
 * issued or checked is policy.c's answer (portail_policy_code_issue,
 * portail_policy_code_check); this file counts and records.
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "policy.h"

/* Codes issued for key in the sliding day, and the last one (0: none). Locked. */
static portail_status
issued_today(portail_store *st, const char *key, int64_t now, int *today, int64_t *last,
    portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r = PORTAIL_OK;

	/* every request for the address counts, whatever the purpose */
	if ((s = pt_store_prep(st, "SELECT count(*), coalesce(max(at), 0) FROM issuance "
	    "WHERE email_key = ? AND at > ?")) == NULL)
		return pt_store_db_err(st, err, "issuance");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, portail_policy_day_start(now));
	if (sqlite3_step(s) != SQLITE_ROW) {
		r = pt_store_db_err(st, err, "issuance");
	} else {
		*today = sqlite3_column_int(s, 0);
		*last = sqlite3_column_int64(s, 1);
	}
	pt_store_release(st, s);
	return r;
}

portail_status
pt_sqlite_code_issue(portail_store *st, const char *key, const char *email,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	int64_t last = 0;
	int today = 0;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if ((r = issued_today(st, key, now, &today, &last, err)) != PORTAIL_OK ||
	    (r = portail_policy_code_issue(rules, now, last, today, wait)) != PORTAIL_OK)
		goto out;
	if ((r = pt_store_run1_locked(st, "INSERT INTO issuance (email_key, purpose, at) "
	    "VALUES (?, ?, ?)", "issuance", false, err, "tti", key, purpose, now)) != PORTAIL_OK)
		goto out;
	/* the new code replaces the old one, which dies with its ticket */
	if ((s = pt_store_prep(st, "INSERT OR REPLACE INTO verifications (email_key, purpose, email, "
	    "code_hash, created, expires, tries_left) VALUES (?, ?, ?, ?, ?, ?, ?)")) == NULL) {
		r = pt_store_db_err(st, err, "verification");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, email, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, code_hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, now + rules->lifetime);
	sqlite3_bind_int(s, 7, rules->max_attempts);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : pt_store_db_err(st, err, "verification");
	/* the mail that carries the code, in the same transaction: both or neither */
	if (r == PORTAIL_OK && mail != NULL)
		r = pt_store_mail_insert(st, mail, err);
out:
	pt_store_release(st, s);
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	unsigned char stored[PORTAIL_HASH_BYTES];
	int64_t expires;
	int tries, consumed;
	bool keep = false;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if ((s = pt_store_prep(st, "SELECT code_hash, expires, tries_left, consumed "
	    "FROM verifications WHERE email_key = ? AND purpose = ?")) == NULL) {
		r = pt_store_db_err(st, err, "verification");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_NO_CODE, "verification", err)) != PORTAIL_OK)
		goto out;
	if (sqlite3_column_bytes(s, 0) != PORTAIL_HASH_BYTES) {
		r = pt_store_db_err(st, err, "verification");
		goto out;
	}
	memcpy(stored, sqlite3_column_blob(s, 0), PORTAIL_HASH_BYTES);
	expires = sqlite3_column_int64(s, 1);
	tries = sqlite3_column_int(s, 2);
	consumed = sqlite3_column_int(s, 3);
	pt_store_release(st, s);
	s = NULL;
	if (consumed != 0) {
		r = PORTAIL_ERR_NO_CODE;        /* used: a new one must be asked for */
		goto out;
	}
	if ((r = portail_policy_code_check(tries, expires, now)) != PORTAIL_OK)
		goto out;
	if (sodium_memcmp(stored, code_hash, PORTAIL_HASH_BYTES) != 0) {
		/* one try less, committed even though the answer is a refusal */
		if ((r = pt_store_run1_locked(st, "UPDATE verifications SET tries_left = tries_left - 1 "
		    "WHERE email_key = ? AND purpose = ?", "verification", false, err, "tt", key,
		    purpose)) != PORTAIL_OK)
			goto out;
		keep = true;
		*tries_left = tries - 1;
		r = portail_policy_code_wrong(*tries_left);
		goto out;
	}
	/* A good code stays good until its ticket is used (a parent whose
	 * password was refused may come back with the same code); verifying
	 * again replaces the ticket, so only the last one works. */
	r = pt_store_run1_locked(st, "UPDATE verifications SET verified = ?, ticket_hash = ?, "
	    "ticket_expires = ? WHERE email_key = ? AND purpose = ?", "verification", false, err,
	    "ihitt", now, ticket_hash, now + ticket_lifetime, key, purpose);
out:
	sodium_memzero(stored, sizeof(stored));
	pt_store_release(st, s);
	return pt_store_end(st, r, keep, err);
}

portail_status
pt_store_ticket_find(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, char **key, char **email, portail_error *err)
{
	sqlite3_stmt *s = pt_store_prep(st, "SELECT email_key, email FROM verifications "
	    "WHERE ticket_hash = ? AND purpose = ? AND verified > 0 AND consumed = 0 "
	    "AND ticket_expires > ?");
	portail_status r;

	if (s == NULL)
		return pt_store_db_err(st, err, "ticket");
	sqlite3_bind_blob(s, 1, ticket_hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_BAD_TICKET, "ticket", err)) == PORTAIL_OK) {
		*key = pt_store_col_text(s, 0);
		*email = pt_store_col_text(s, 1);
		r = *key && *email ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_store_release(st, s);
	return r;
}

/* ---- tickets ---------------------------------------------------------------- */

portail_status
pt_sqlite_ticket_peek(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, char **key, char **email, portail_error *err)
{
	portail_status r;

	*key = *email = NULL;
	pthread_mutex_lock(&st->lock);
	r = pt_store_ticket_find(st, ticket_hash, purpose, now, key, email, err);
	pthread_mutex_unlock(&st->lock);
	if (r != PORTAIL_OK) {
		free(*key);
		free(*email);
		*key = *email = NULL;
	}
	return r;
}

portail_status
pt_store_ticket_consume(portail_store *st, const char *key, const char *purpose, int64_t now,
    portail_error *err)
{
	sqlite3_stmt *s = pt_store_prep(st, "UPDATE verifications SET consumed = ? "
	    "WHERE email_key = ? AND purpose = ?");
	portail_status r;

	if (s == NULL)
		return pt_store_db_err(st, err, "consume");
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, purpose, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : pt_store_db_err(st, err, "consume");
	pt_store_release(st, s);
	return r;
}

/*
 * The last step of sign-up or reset, in one transaction: the live ticket
 * of purpose, then apply (?1 key, ?2 address, ?3 hash, ?4 now), then the
 * ticket consumed. EXISTS for an account already there, UNKNOWN for one
 * gone; BAD_TICKET for a ticket that is not live.
 */
static portail_status
ticket_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, const char *apply, int64_t now, const char *password_hash,
    portail_error *err)
{
	sqlite3_stmt *s = NULL;
	char *key = NULL, *email = NULL;
	portail_status r;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_store_ticket_find(st, ticket_hash, purpose, now, &key, &email, err)) != PORTAIL_OK)
		goto out;
	if ((s = pt_store_prep(st, apply)) == NULL) {
		r = pt_store_db_err(st, err, "account");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if ((r = pt_store_step_done(st, s, "account", err)) != PORTAIL_OK)
		goto out;
	if (sqlite3_changes(st->db) == 0)
		r = PORTAIL_ERR_UNKNOWN;
	else
		r = pt_store_ticket_consume(st, key, purpose, now, err);
out:
	pt_store_release(st, s);
	free(key);
	free(email);
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_signup_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	return ticket_finish(st, ticket_hash, "signup",
	    "INSERT INTO accounts (email_key, email, password_hash, created, updated, gpi_checked) "
	    "VALUES (?1, ?2, ?3, ?4, ?4, ?4)", now, password_hash, err);
}

portail_status
pt_sqlite_reset_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	/* ?2 (the address) is not needed here */
	return ticket_finish(st, ticket_hash, "reset",
	    "UPDATE accounts SET password_hash = ?3, failures = 0, locked_until = 0, "
	    "token_epoch = token_epoch + 1, updated = ?4 WHERE email_key = ?1 AND ?2 IS NOT NULL",
	    now, password_hash, err);
}

portail_status
pt_sqlite_gc(portail_store *st, int64_t now, portail_error *err)
{
	/* what the sliding day no longer counts: the limits and the decoy table agree */
	int64_t start = portail_policy_day_start(now);
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = pt_store_run1_locked(st, "DELETE FROM verifications WHERE expires < ?1 "
	    "AND ticket_expires < ?1", "gc", false, err, "i", start);
	if (r == PORTAIL_OK)
		r = pt_store_run1_locked(st, "DELETE FROM issuance WHERE at < ?1", "gc", false, err,
		    "i", start);
	pthread_mutex_unlock(&st->lock);
	return r;
}
