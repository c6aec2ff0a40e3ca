/*
 * store-pg-mail.c — the PostgreSQL store's mail queue (DESIGN §2: queued
 * durably): a code only ever sealed with the server key, never in clear.
 * One sender per daemon reads the queue; with several daemons on one
 * cluster a message may be picked by two of them at once (sent twice,
 * never lost), as SQLite's queue is per host.
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

const struct pt_pg_sql pt_pg_sql_mail[] = {
	{ S_INSERT, "INSERT INTO mail_queue (kind, lang, rcpt, code_box, deadline, next_try, tries) "
	  "VALUES ($1, $2, $3, $4, $5, $6, 0)" },
	{ S_NEXT, "SELECT id, kind, lang, rcpt, code_box, deadline, next_try, tries "
	  "FROM mail_queue ORDER BY next_try, id LIMIT 1" },
	{ S_RETRY, "UPDATE mail_queue SET tries = $1, next_try = $2 WHERE id = $3" },
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
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	memset(out, 0, sizeof(*out));
	*next_due = 0;
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_NEXT, NULL, &res, "mail queue", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0) {
		r = PORTAIL_ERR_UNKNOWN;
		goto out;
	}
	if (pt_pg_col_int(res, 0, 6) > now) {
		*next_due = pt_pg_col_int(res, 0, 6);
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
