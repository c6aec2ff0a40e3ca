/*
 * store-pg-oauth.c — the PostgreSQL store's social sign-in states (the
 * authorization-code flow): only the keyed hash of the state cookie's
 * secret is kept. Adding sweeps the expired ones in the same statement;
 * taking reads and deletes in one (DELETE … RETURNING): two /retour with
 * one state, one gets it.
 */
#include "store-pg-int.h"

#include <stdlib.h>
#include <string.h>

#define S_ADD "oauth_add"
#define S_TAKE "oauth_take"

const struct pt_pg_sql pt_pg_sql_oauth[] = {
	{ S_ADD, "WITH gone AS (DELETE FROM oauth_states WHERE expires <= $7) "
	  "INSERT INTO oauth_states (hash, provider, nonce, verifier, return_to, expires) "
	  "VALUES ($1, $2, $3, $4, $5, $6)" },
	{ S_TAKE, "DELETE FROM oauth_states WHERE hash = $1 AND expires > $2 "
	  "RETURNING provider, nonce, verifier, return_to, expires" },
	{ NULL, NULL }
};

portail_status
pt_pg_oauth_state_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_oauth_state *s, int64_t now, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_text(&p, s->provider);
	pt_pg_text(&p, s->nonce);
	pt_pg_text(&p, s->verifier);
	pt_pg_text(&p, s->return_to);
	pt_pg_int(&p, s->expires);
	pt_pg_int(&p, now);
	return pt_pg_run1(st, S_ADD, &p, false, "oauth state", err);
}

portail_status
pt_pg_oauth_state_take(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_oauth_state *out, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	memset(out, 0, sizeof(*out));
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_TAKE, &p, &res, "oauth state", err)) != PORTAIL_OK)
		goto out;
	if (PQntuples(res) == 0) {
		r = PORTAIL_ERR_BAD_TICKET;
		goto out;
	}
	out->provider = pt_pg_col_text(res, 0, 0);
	out->nonce = pt_pg_col_text(res, 0, 1);
	out->verifier = pt_pg_col_text(res, 0, 2);
	out->return_to = pt_pg_col_text(res, 0, 3);
	out->expires = pt_pg_col_int(res, 0, 4);
	if (out->provider == NULL || (out->nonce == NULL && !PQgetisnull(res, 0, 1)) ||
	    (out->verifier == NULL && !PQgetisnull(res, 0, 2)) ||
	    (out->return_to == NULL && !PQgetisnull(res, 0, 3))) {
		portail_oauth_state_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
out:
	pt_pg_clear_secret(res);     /* the nonce and the verifier */
	pt_pg_op_end(&op);
	return r;
}
