/*
 * store-mail.c — the SQLite store's mail queue (DESIGN §2: queued
 * durably): a code only ever sealed with the server key, never in clear.
 */
#include "store-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

portail_status
pt_store_mail_insert(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	if ((s = pt_store_prep(st, "INSERT INTO mail_queue (kind, lang, rcpt, code_box, deadline, "
	    "next_try, tries) VALUES (?, ?, ?, ?, ?, ?, 0)")) == NULL)
		return pt_store_db_err(st, err, "mail queue");
	sqlite3_bind_int(s, 1, m->kind);
	sqlite3_bind_text(s, 2, m->lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->rcpt, -1, SQLITE_STATIC);
	if (m->code_box != NULL)
		sqlite3_bind_blob(s, 4, m->code_box, (int)m->code_box_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, m->deadline);
	sqlite3_bind_int64(s, 6, m->next_try);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : pt_store_db_err(st, err, "mail queue");
	pt_store_release(st, s);
	return r;
}

portail_status
pt_sqlite_mail_add(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = pt_store_mail_insert(st, m, err);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out,
    int64_t *next_due, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	memset(out, 0, sizeof(*out));
	*next_due = 0;
	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT id, kind, lang, rcpt, code_box, deadline, next_try, tries "
	    "FROM mail_queue ORDER BY next_try, id LIMIT 1")) == NULL) {
		r = pt_store_db_err(st, err, "mail queue");
		goto out;
	}
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "mail queue", err)) != PORTAIL_OK) {
		pt_store_release(st, s);
		goto out;
	}
	if (sqlite3_column_int64(s, 6) > now) {
		*next_due = sqlite3_column_int64(s, 6);
		r = PORTAIL_ERR_UNKNOWN;
		pt_store_release(st, s);
		goto out;
	}
	out->id = sqlite3_column_int64(s, 0);
	out->kind = sqlite3_column_int(s, 1);
	snprintf(out->lang, sizeof(out->lang), "%s", (const char *)sqlite3_column_text(s, 2));
	out->rcpt = pt_store_col_text(s, 3);
	if (sqlite3_column_type(s, 4) == SQLITE_BLOB && sqlite3_column_bytes(s, 4) > 0) {
		out->code_box_len = (size_t)sqlite3_column_bytes(s, 4);
		if ((out->code_box = malloc(out->code_box_len)) != NULL)
			memcpy(out->code_box, sqlite3_column_blob(s, 4), out->code_box_len);
	}
	out->deadline = sqlite3_column_int64(s, 5);
	out->next_try = sqlite3_column_int64(s, 6);
	out->tries = sqlite3_column_int(s, 7);
	pt_store_release(st, s);
	if (out->rcpt == NULL || (out->code_box_len > 0 && out->code_box == NULL)) {
		portail_mail_row_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = PORTAIL_OK;
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try,
    portail_error *err)
{
	return pt_store_run1(st, "UPDATE mail_queue SET tries = ?, next_try = ? WHERE id = ?",
	    "mail queue", false, err, "iii", (int64_t)tries, next_try, id);
}

portail_status
pt_sqlite_mail_delete(portail_store *st, int64_t id, portail_error *err)
{
	return pt_store_run1(st, "DELETE FROM mail_queue WHERE id = ?", "mail queue", false, err,
	    "i", id);
}

portail_status
pt_sqlite_mail_count(portail_store *st, unsigned long *n, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT count(*) FROM mail_queue")) == NULL ||
	    sqlite3_step(s) != SQLITE_ROW) {
		r = pt_store_db_err(st, err, "mail queue");
	} else {
		*n = (unsigned long)sqlite3_column_int64(s, 0);
		r = PORTAIL_OK;
	}
	pt_store_release(st, s);
	pthread_mutex_unlock(&st->lock);
	return r;
}
