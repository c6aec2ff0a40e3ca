/*
 * store-link.c — the SQLite store's social links (DESIGN §1): which
 * account a provider's identity signs in to, and the link tickets that
 * carry an identity from the provider's answer to the school address
 * chosen, and on to the link.
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

portail_status
pt_sqlite_link_find(portail_store *st, const char *provider, const char *subject,
    char **key, int64_t *last_used, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	*key = NULL;
	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT email_key, last_used FROM links "
	    "WHERE provider = ? AND subject = ?")) == NULL) {
		r = pt_store_db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, subject, -1, SQLITE_STATIC);
	if ((r = pt_store_step_row(st, s, PORTAIL_ERR_UNKNOWN, "link", err)) == PORTAIL_OK) {
		if (last_used != NULL)
			*last_used = sqlite3_column_int64(s, 1);
		r = (*key = pt_store_col_text(s, 0)) ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_link_ticket_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_identity *id, int64_t now, int64_t expires, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	/* the dead ones go as new ones come */
	if ((s = pt_store_prep(st, "DELETE FROM link_tickets WHERE expires <= ?")) != NULL) {
		sqlite3_bind_int64(s, 1, now);
		(void)sqlite3_step(s);
		pt_store_release(st, s);
	}
	if ((s = pt_store_prep(st, "INSERT INTO link_tickets (ticket_hash, provider, subject, "
	    "provider_email, vouched, expires) VALUES (?, ?, ?, ?, ?, ?)")) == NULL) {
		r = pt_store_db_err(st, err, "link ticket");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, id->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, id->email, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, id->vouched);
	sqlite3_bind_int64(s, 6, expires);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : pt_store_db_err(st, err, "link ticket");
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static portail_status
link_ticket_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now,
    struct portail_link_ticket *t, portail_error *err)
{
	sqlite3_stmt *s = pt_store_prep(st, "SELECT provider, subject, provider_email, vouched, "
	    "email_key, email, proof_hash FROM link_tickets WHERE ticket_hash = ? AND expires > ?");
	portail_status r;

	memset(t, 0, sizeof(*t));
	if (s == NULL)
		return pt_store_db_err(st, err, "link ticket");
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	r = pt_store_step_row(st, s, PORTAIL_ERR_BAD_TICKET, "link ticket", err);
	if (r == PORTAIL_OK) {
		t->id.provider = pt_store_col_text(s, 0);
		t->id.subject = pt_store_col_text(s, 1);
		t->id.email = pt_store_col_text(s, 2);
		t->id.vouched = sqlite3_column_int(s, 3) != 0;
		t->email_key = pt_store_col_text(s, 4);
		t->email = pt_store_col_text(s, 5);
		if (sqlite3_column_bytes(s, 6) == PORTAIL_HASH_BYTES) {
			memcpy(t->proof_hash, sqlite3_column_blob(s, 6), PORTAIL_HASH_BYTES);
			t->has_proof = true;
		}
		r = t->id.provider && t->id.subject ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	pt_store_release(st, s);
	if (r != PORTAIL_OK)
		portail_link_ticket_clear(t);
	return r;
}

portail_status
pt_sqlite_link_ticket_get(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_link_ticket *t, portail_error *err)
{
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = link_ticket_find(st, hash, now, t, err);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
pt_sqlite_link_ticket_address(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const char *email, portail_error *err)
{
	/* a new address forgets any proof made for the last one */
	return pt_store_run1(st, "UPDATE link_tickets SET email_key = ?, email = ?, proof_hash = NULL "
	    "WHERE ticket_hash = ?", "link ticket", false, err, "tth", key, email, hash);
}

portail_status
pt_sqlite_link_ticket_proof(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err)
{
	portail_status r = pt_store_run1(st, "UPDATE link_tickets SET proof_hash = ? "
	    "WHERE ticket_hash = ? AND email_key = ?", "link ticket", true, err, "hht", proof, hash,
	    key);

	return r == PORTAIL_ERR_UNKNOWN ? PORTAIL_ERR_BAD_TICKET : r;
}

portail_status
pt_sqlite_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err)
{
	struct portail_link_ticket t;
	sqlite3_stmt *s = NULL;
	char *vkey = NULL, *vemail = NULL;
	portail_status r;

	*created = false;
	*email = NULL;
	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	if ((r = link_ticket_find(st, hash, now, &t, err)) != PORTAIL_OK)
		goto out;
	if (t.email_key == NULL) {
		r = PORTAIL_ERR_BAD_TICKET;     /* no address chosen yet */
		goto out;
	}
	if (proof != NULL) {
		/* the code's proof must be the one made for this very link ticket */
		if (!t.has_proof || sodium_memcmp(t.proof_hash, proof, PORTAIL_HASH_BYTES) != 0 ||
		    (r = pt_store_ticket_find(st, proof, "link", now, &vkey, &vemail, err)) != PORTAIL_OK ||
		    strcmp(vkey, t.email_key) != 0) {
			if (r == PORTAIL_OK || r == PORTAIL_ERR_BAD_TICKET)
				r = PORTAIL_ERR_BAD_TICKET;
			goto out;
		}
		if ((r = pt_store_ticket_consume(st, t.email_key, "link", now, err)) != PORTAIL_OK)
			goto out;
	}
	/* an account for the address, without a password, unless there is one */
	if ((s = pt_store_prep(st, "INSERT OR IGNORE INTO accounts (email_key, email, password_hash, "
	    "created, updated, gpi_checked) VALUES (?1, ?2, NULL, ?3, ?3, ?3)")) == NULL) {
		r = pt_store_db_err(st, err, "account");
		goto out;
	}
	sqlite3_bind_text(s, 1, t.email_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t.email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((r = pt_store_step_done(st, s, "account", err)) != PORTAIL_OK)
		goto out;
	*created = sqlite3_changes(st->db) > 0;
	pt_store_release(st, s);
	if ((s = pt_store_prep(st, "INSERT INTO links (provider, subject, email_key, created) "
	    "VALUES (?, ?, ?, ?)")) == NULL) {
		r = pt_store_db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, t.id.provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t.id.subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, t.email_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if ((r = pt_store_step_done(st, s, "link", err)) != PORTAIL_OK) {
		if (r == PORTAIL_ERR_EXISTS)
			portail_error_set(err, r, "already linked");
		goto out;
	}
	pt_store_release(st, s);
	if ((s = pt_store_prep(st, "DELETE FROM link_tickets WHERE ticket_hash = ?")) == NULL) {
		r = pt_store_db_err(st, err, "link ticket");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	r = pt_store_step_done(st, s, "link ticket", err);
	if (r == PORTAIL_OK && (*email = strdup(t.email)) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
out:
	pt_store_release(st, s);
	free(vkey);
	free(vemail);
	portail_link_ticket_clear(&t);
	if (r != PORTAIL_OK)
		*created = false;
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_link_used(portail_store *st, const char *provider, const char *subject,
    int64_t now, portail_error *err)
{
	return pt_store_run1(st, "UPDATE links SET last_used = ? WHERE provider = ? AND subject = ?",
	    "link", false, err, "itt", now, provider, subject);
}

portail_status
pt_sqlite_link_delete(portail_store *st, const char *key, const char *provider,
    portail_error *err)
{
	return pt_store_run1(st, "DELETE FROM links WHERE email_key = ? AND provider = ?", "link",
	    true, err, "tt", key, provider);
}

portail_status
pt_sqlite_link_list(portail_store *st, const char *key, char ***providers, portail_error *err)
{
	sqlite3_stmt *s;
	char **v = NULL;
	size_t n = 0;
	portail_status r = PORTAIL_OK;
	int rc;

	*providers = NULL;
	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, "SELECT provider FROM links WHERE email_key = ? "
	    "ORDER BY provider")) == NULL) {
		r = pt_store_db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char **g = realloc(v, (n + 2) * sizeof(*v));

		if (g == NULL || (g[n] = pt_store_col_text(s, 0)) == NULL) {
			if (g != NULL)
				v = g;
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			break;
		}
		v = g;
		v[++n] = NULL;
	}
	if (r == PORTAIL_OK && rc != SQLITE_DONE)
		r = pt_store_db_err(st, err, "link");
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	if (r == PORTAIL_OK && v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if (r != PORTAIL_OK) {
		for (size_t i = 0; v != NULL && i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*providers = v;
	return PORTAIL_OK;
}
