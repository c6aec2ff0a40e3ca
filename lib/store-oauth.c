/*
 * store-oauth.c — the SQLite store's social sign-in states (the browser's
 * authorization-code flow, issue 14): what portaild made at
 * social.authorize and takes back, once, at social.callback. The key is
 * the keyed hash of the state cookie's secret; the nonce and the PKCE
 * verifier are not secrets worth more than the 10 minutes they live (a
 * verifier is useless without the code, which only the browser sees).
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

portail_status
pt_sqlite_oauth_state_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_oauth_state *os, int64_t now, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	if ((r = pt_store_begin(st, err)) != PORTAIL_OK)
		return r;
	/* the dead ones go as new ones come, in the same transaction */
	if ((s = pt_store_prep(st, "DELETE FROM oauth_states WHERE expires <= ?")) == NULL) {
		r = pt_store_db_err(st, err, "sign-in state");
		goto out;
	}
	sqlite3_bind_int64(s, 1, now);
	r = pt_store_step_done(st, s, "sign-in state", err);
	pt_store_release(st, s);
	if (r != PORTAIL_OK)
		goto out;
	if ((s = pt_store_prep(st, "INSERT INTO oauth_states (hash, provider, nonce, verifier, "
	    "return_to, expires) VALUES (?, ?, ?, ?, ?, ?)")) == NULL) {
		r = pt_store_db_err(st, err, "sign-in state");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, os->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, os->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, os->verifier, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, os->return_to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, os->expires);
	r = pt_store_step_done(st, s, "sign-in state", err);
	pt_store_release(st, s);
out:
	return pt_store_end(st, r, false, err);
}

portail_status
pt_sqlite_oauth_state_take(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_oauth_state *out, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	/* one statement: two callbacks racing with one cookie cannot both read it */
	if ((s = pt_store_prep(st, "DELETE FROM oauth_states WHERE hash = ? "
	    "RETURNING provider, nonce, verifier, return_to, expires")) == NULL) {
		r = pt_store_db_err(st, err, "sign-in state");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	r = pt_store_step_row(st, s, PORTAIL_ERR_BAD_TICKET, "sign-in state", err);
	if (r == PORTAIL_ERR_BAD_TICKET)
		portail_error_set(err, r, "no such sign-in state (unknown, used or expired)");
	if (r == PORTAIL_OK) {
		out->provider = pt_store_col_text(s, 0);
		out->nonce = pt_store_col_text(s, 1);
		out->verifier = pt_store_col_text(s, 2);
		out->return_to = pt_store_col_text(s, 3);
		out->expires = sqlite3_column_int64(s, 4);
		if (out->provider == NULL ||
		    (sqlite3_column_type(s, 1) != SQLITE_NULL && out->nonce == NULL) ||
		    (sqlite3_column_type(s, 2) != SQLITE_NULL && out->verifier == NULL) ||
		    (sqlite3_column_type(s, 3) != SQLITE_NULL && out->return_to == NULL))
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	/* a RETURNING statement deletes as it is stepped: finish it before the reset */
	if (r == PORTAIL_OK)
		(void)sqlite3_step(s);
	pt_store_release(st, s);
	if (r == PORTAIL_OK && out->expires <= now)
		r = portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "sign-in state expired");
	if (r != PORTAIL_OK)
		portail_oauth_state_clear(out);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}
