/*
 * store-pg-code.c — the PostgreSQL store's verification codes and their
 * tickets. Whether a code may be issued or checked is policy.c's answer;
 * this file counts and records, exactly under concurrency:
 *   issuing takes pg_advisory_xact_lock on the address before it counts
 *     the day's codes (count-then-insert under READ COMMITTED exceeded
 *     its limit on 999 of 1,000 keys, TESTING.md);
 *   verifying is one guarded UPDATE … WHERE tries_left > 0 … RETURNING
 *     (SELECT-then-UPDATE let a 5-try code be guessed 8 times); the
 *     stored and given keyed hashes are compared by the server;
 *   a ticket is consumed by one guarded UPDATE … WHERE consumed = 0
 *     RETURNING, in the transaction of the step it finishes.
 */
#include "store-pg-int.h"

#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define S_LOCK "code_lock"
#define S_TODAY "code_today"
#define S_ISSUED "code_issued"
#define S_PUT "code_put"
#define S_VERIFY "code_verify"
#define S_STATE "code_state"
#define S_FIND "ticket_find"
#define S_TAKE "ticket_take"
#define S_SIGNUP "ticket_signup"
#define S_RESET "ticket_reset"
#define S_GC_V "code_gc_verifications"
#define S_GC_I "code_gc_issuance"

const struct pt_pg_sql pt_pg_sql_code[] = {
	/* every issuance for the address waits here for the one before it */
	{ S_LOCK, "SELECT pg_advisory_xact_lock(hashtextextended('portail code ' || $1, 0))" },
	{ S_TODAY, "SELECT count(*), coalesce(max(at), 0) FROM issuance "
	  "WHERE email_key = $1 AND at > $2" },
	{ S_ISSUED, "INSERT INTO issuance (email_key, purpose, at) VALUES ($1, $2, $3)" },
	/* the new code replaces the old one, which dies with its ticket */
	{ S_PUT, "INSERT INTO verifications (email_key, purpose, email, code_hash, created, "
	  "expires, tries_left) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	  "ON CONFLICT (email_key, purpose) DO UPDATE SET email = EXCLUDED.email, "
	  "code_hash = EXCLUDED.code_hash, created = EXCLUDED.created, "
	  "expires = EXCLUDED.expires, tries_left = EXCLUDED.tries_left, ticket_hash = NULL, "
	  "ticket_expires = 0, verified = 0, consumed = 0" },
	/*
	 * A live code (not consumed, a try left, not expired): a good one is
	 * marked verified and bound to the new ticket, a wrong one costs a
	 * try; RETURNING tells which. A good code stays good until its ticket
	 * is used; verifying again replaces the ticket.
	 */
	{ S_VERIFY, "UPDATE verifications SET "
	  "tries_left = CASE WHEN code_hash = $3 THEN tries_left ELSE tries_left - 1 END, "
	  "verified = CASE WHEN code_hash = $3 THEN $4 ELSE verified END, "
	  "ticket_hash = CASE WHEN code_hash = $3 THEN $5 ELSE ticket_hash END, "
	  "ticket_expires = CASE WHEN code_hash = $3 THEN $6 ELSE ticket_expires END "
	  "WHERE email_key = $1 AND purpose = $2 AND consumed = 0 AND tries_left > 0 "
	  "AND expires > $4 RETURNING code_hash = $3, tries_left" },
	{ S_STATE, "SELECT expires, tries_left, consumed FROM verifications "
	  "WHERE email_key = $1 AND purpose = $2" },
	{ S_FIND, "SELECT email_key, email FROM verifications WHERE ticket_hash = $1 "
	  "AND purpose = $2 AND verified > 0 AND consumed = 0 AND ticket_expires > $3" },
	{ S_TAKE, "UPDATE verifications SET consumed = $3 WHERE ticket_hash = $1 "
	  "AND purpose = $2 AND verified > 0 AND consumed = 0 AND ticket_expires > $3 "
	  "RETURNING email_key, email" },
	{ S_SIGNUP, "INSERT INTO accounts (email_key, email, password_hash, created, updated, "
	  "gpi_checked) VALUES ($1, $2, $3, $4, $4, $4)" },
	{ S_RESET, "UPDATE accounts SET password_hash = $3, failures = 0, locked_until = 0, "
	  "token_epoch = token_epoch + 1, updated = $4 WHERE email_key = $1 AND $2::text IS NOT NULL" },
	{ S_GC_V, "DELETE FROM verifications WHERE expires < $1 AND ticket_expires < $1" },
	{ S_GC_I, "DELETE FROM issuance WHERE at < $1" },
	{ NULL, NULL }
};

portail_status
pt_pg_code_issue(portail_store *st, const char *key, const char *email, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;
	int64_t last;
	int today;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_begin(&op, err)) != PORTAIL_OK)
		goto done;
	pt_pg_text(&p, key);
	if ((r = pt_pg_exec(&op, S_LOCK, &p, NULL, "issuance", err)) != PORTAIL_OK)
		goto out;
	/* counted after the lock: a new statement, a new snapshot that sees the last issue */
	pt_pg_int(&p, portail_policy_day_start(now));
	if ((r = pt_pg_exec(&op, S_TODAY, &p, &res, "issuance", err)) != PORTAIL_OK)
		goto out;
	today = (int)pt_pg_col_int(res, 0, 0);
	last = pt_pg_col_int(res, 0, 1);
	if ((r = portail_policy_code_issue(rules, now, last, today, wait)) != PORTAIL_OK)
		goto out;
	memset(&p, 0, sizeof(p));
	pt_pg_text(&p, key);
	pt_pg_text(&p, purpose);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(&op, S_ISSUED, &p, NULL, "issuance", err)) != PORTAIL_OK)
		goto out;
	memset(&p, 0, sizeof(p));
	pt_pg_text(&p, key);
	pt_pg_text(&p, purpose);
	pt_pg_text(&p, email);
	pt_pg_blob(&p, code_hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now);
	pt_pg_int(&p, now + rules->lifetime);
	pt_pg_int(&p, rules->max_attempts);
	if ((r = pt_pg_exec(&op, S_PUT, &p, NULL, "verification", err)) != PORTAIL_OK)
		goto out;
	/* the mail that carries the code, in the same transaction: both or neither */
	if (mail != NULL)
		r = pt_pg_mail_insert(&op, mail, err);
out:
	PQclear(res);
	if (r == PORTAIL_ERR_EXISTS)
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: issuance: conflict");
	r = pt_pg_end(&op, r, false, err);
done:
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	pt_pg_text(&p, key);
	pt_pg_text(&p, purpose);
	pt_pg_blob(&p, code_hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now);
	pt_pg_blob(&p, ticket_hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now + ticket_lifetime);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_VERIFY, &p, &res, "verification", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
			r = PORTAIL_OK;
		} else {
			*tries_left = (int)pt_pg_col_int(res, 0, 1);
			r = portail_policy_code_wrong(*tries_left);
		}
		goto out;
	}
	/* not live: which refusal (a read only; nothing to change) */
	PQclear(res);
	res = NULL;
	p.n = 2;
	if ((r = pt_pg_exec(&op, S_STATE, &p, &res, "verification", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0 || pt_pg_col_int(res, 0, 2) != 0) {
		r = PORTAIL_ERR_NO_CODE;        /* none, or used: a new one must be asked for */
		goto out;
	}
	r = portail_policy_code_check((int)pt_pg_col_int(res, 0, 1), pt_pg_col_int(res, 0, 0), now);
	if (r == PORTAIL_OK)
		r = PORTAIL_ERR_NO_CODE;        /* replaced meanwhile by a new code: ask again */
out:
	PQclear(res);
	pt_pg_op_end(&op);
	return r;
}

/* Reads email_key, email from the first row. */
static portail_status
key_email(PGresult *res, char **key, char **email, portail_error *err)
{
	*key = pt_pg_col_text(res, 0, 0);
	*email = pt_pg_col_text(res, 0, 1);
	if (*key != NULL && *email != NULL)
		return PORTAIL_OK;
	free(*key);
	free(*email);
	*key = *email = NULL;
	return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
}

portail_status
pt_pg_ticket_find(struct pt_pg_op *op, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, bool take, char **key, char **email, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	PGresult *res = NULL;
	portail_status r;

	*key = *email = NULL;
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_text(&p, purpose);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(op, take ? S_TAKE : S_FIND, &p, &res, "ticket", err)) != PORTAIL_OK)
		return r;
	r = PQntuples(res) == 1 ? key_email(res, key, email, err) : PORTAIL_ERR_BAD_TICKET;
	PQclear(res);
	return r;
}

portail_status
pt_pg_ticket_peek(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, char **key, char **email, portail_error *err)
{
	struct pt_pg_op op;
	portail_status r;

	*key = *email = NULL;
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	r = pt_pg_ticket_find(&op, ticket_hash, purpose, now, false, key, email, err);
	pt_pg_op_end(&op);
	return r;
}

/*
 * The last step of sign-up or reset, in one transaction: the ticket taken
 * (consumed by a guarded UPDATE: two finishes with one ticket, one wins),
 * then apply ($1 key, $2 address, $3 hash, $4 now). EXISTS for an account
 * already there, UNKNOWN for one gone: rolled back, the ticket unconsumed.
 */
static portail_status
ticket_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, const char *apply, int64_t now, const char *password_hash,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	char *key = NULL, *email = NULL;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_begin(&op, err)) != PORTAIL_OK)
		goto done;
	if ((r = pt_pg_ticket_find(&op, ticket_hash, purpose, now, true, &key, &email, err)) !=
	    PORTAIL_OK)
		goto out;
	pt_pg_text(&p, key);
	pt_pg_text(&p, email);
	pt_pg_text(&p, password_hash);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(&op, apply, &p, &res, "account", err)) == PORTAIL_OK &&
	    pt_pg_changed(res) == 0)
		r = PORTAIL_ERR_UNKNOWN;
out:
	PQclear(res);
	free(key);
	free(email);
	r = pt_pg_end(&op, r, false, err);
done:
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_signup_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	return ticket_finish(st, ticket_hash, "signup", S_SIGNUP, now, password_hash, err);
}

portail_status
pt_pg_reset_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	return ticket_finish(st, ticket_hash, "reset", S_RESET, now, password_hash, err);
}

portail_status
pt_pg_gc(portail_store *st, int64_t now, portail_error *err)
{
	/* what the sliding day no longer counts: the limits and the decoy table agree */
	struct pt_pg_params p = { 0 };
	portail_status r;

	pt_pg_int(&p, portail_policy_day_start(now));
	if ((r = pt_pg_run1(st, S_GC_V, &p, false, "gc", err)) != PORTAIL_OK)
		return r;
	return pt_pg_run1(st, S_GC_I, &p, false, "gc", err);
}
