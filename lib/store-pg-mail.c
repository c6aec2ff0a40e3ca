/*
 * store-pg-mail.c — the PostgreSQL store's mail queue (DESIGN §2: queued
 * durably): a code only ever sealed with the server key, never in clear.
 * Several daemons on one cluster may send from the queue: mail_next
 * leases the row it returns (lease_until = now + PT_PG_MAIL_LEASE, taken
 * with FOR UPDATE SKIP LOCKED), so each message goes to one sender while
 * that sender lives; mail_retry clears the lease, mail_delete ends it, and
 * a sender that died leaves a lease that expires, after which another
 * sender takes the message (sent twice only if a delivery outlasts the
 * lease). SQLite's queue is per host and needs no lease.
 *
 * The lease is on the database's clock (DB_NOW), both when it is taken
 * and when it is checked: hosts whose clocks differ by more than the lease
 * still never take a message another one holds. next_try and deadline
 * stay on the callers' clocks (a schedule, not an exclusion: a skew moves
 * a try, it never sends one message twice), and the due time mail_next
 * gives back is on its caller's clock: a lease's remaining seconds by the
 * database's clock, from the caller's now.
 */
#include "store-pg-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define S_INSERT "mail_insert"
#define S_NEXT "mail_next"
#define S_RETRY "mail_retry"
#define S_DELETE "mail_delete"
#define S_COUNT "mail_count"
#define S_DUE "mail_due"

/* Seconds a sender holds a message it took (longer than any delivery). */
#define PT_PG_MAIL_LEASE 300

/* Now on the database's clock, in seconds since the epoch (lease_until's clock). */
#define DB_NOW "floor(EXTRACT(EPOCH FROM statement_timestamp()))::bigint"

const struct pt_pg_sql pt_pg_sql_mail[] = {
	{ S_INSERT, "INSERT INTO mail_queue (kind, lang, rcpt, code_box, deadline, next_try, tries) "
	  "VALUES ($1, $2, $3, $4, $5, $6, 0)" },
	{ S_NEXT, "UPDATE mail_queue SET lease_until = " DB_NOW " + $2::bigint "
	  "WHERE id = (SELECT id FROM mail_queue "
	  "WHERE next_try <= $1 AND (lease_until IS NULL OR lease_until <= " DB_NOW ") "
	  "ORDER BY next_try, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
	  "RETURNING id, kind, lang, rcpt, code_box, deadline, next_try, tries" },
	/* on the caller's clock ($1 its now): a lease's end moved by the clocks' difference */
	{ S_DUE, "SELECT min(GREATEST(next_try, COALESCE($1::bigint + (lease_until - " DB_NOW
	  "), 0))) FROM mail_queue" },
	{ S_RETRY, "UPDATE mail_queue SET tries = $1, next_try = $2, lease_until = NULL "
	  "WHERE id = $3" },
	{ S_DELETE, "DELETE FROM mail_queue WHERE id = $1" },
	{ S_COUNT, "SELECT count(*) FROM mail_queue" },
	{ NULL, NULL }
};

portail_status
pt_pg_mail_insert(struct pt_pg_op *op, const struct portail_mail_row *m, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, m->kind);
	pt_pg_text(&p, m->lang);
	pt_pg_text(&p, m->rcpt);
	pt_pg_blob(&p, m->code_box, m->code_box_len);
	if (m->code_box == NULL)
		p.v[3] = NULL;
	pt_pg_int(&p, m->deadline);
	pt_pg_int(&p, m->next_try);
	return pt_pg_exec(op, S_INSERT, &p, NULL, "mail queue", err);
}

portail_status
pt_pg_mail_add(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	struct pt_pg_op op;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	r = pt_pg_mail_insert(&op, m, err);
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out, int64_t *next_due,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	memset(out, 0, sizeof(*out));
	*next_due = 0;
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	pt_pg_int(&p, now);
	pt_pg_int(&p, PT_PG_MAIL_LEASE);
	if ((r = pt_pg_exec(&op, S_NEXT, &p, &res, "mail queue", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0) {
		struct pt_pg_params q = { 0 };

		/* none free: when the first one due (or leased) will be, on our clock */
		PQclear(res);
		res = NULL;
		pt_pg_int(&q, now);
		if ((r = pt_pg_exec(&op, S_DUE, &q, &res, "mail queue", err)) != PORTAIL_OK)
			goto out;
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
			*next_due = pt_pg_col_int(res, 0, 0);
		r = PORTAIL_ERR_UNKNOWN;
		goto out;
	}
	out->id = pt_pg_col_int(res, 0, 0);
	out->kind = (int)pt_pg_col_int(res, 0, 1);
	snprintf(out->lang, sizeof(out->lang), "%s", PQgetvalue(res, 0, 2));
	out->rcpt = pt_pg_col_text(res, 0, 3);
	out->deadline = pt_pg_col_int(res, 0, 5);
	out->next_try = pt_pg_col_int(res, 0, 6);
	out->tries = (int)pt_pg_col_int(res, 0, 7);
	if (out->rcpt == NULL || !pt_pg_col_blob_new(res, 0, 4, &out->code_box, &out->code_box_len)) {
		portail_mail_row_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
out:
	PQclear(res);
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, tries);
	pt_pg_int(&p, next_try);
	pt_pg_int(&p, id);
	return pt_pg_run1(st, S_RETRY, &p, false, "mail queue", err);
}

portail_status
pt_pg_mail_delete(portail_store *st, int64_t id, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, id);
	return pt_pg_run1(st, S_DELETE, &p, false, "mail queue", err);
}

portail_status
pt_pg_mail_count(portail_store *st, unsigned long *n, portail_error *err)
{
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_COUNT, NULL, &res, "mail queue", err)) == PORTAIL_OK)
		*n = (unsigned long)pt_pg_col_int(res, 0, 0);
	PQclear(res);
	pt_pg_op_end(&op);
	return r;
}
