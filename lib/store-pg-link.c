/*
 * store-pg-link.c — the PostgreSQL store's social links (DESIGN §1) and
 * the link tickets that carry a provider's identity to the school
 * address chosen, and on to the link. The last step is one transaction:
 * the link ticket locked (FOR UPDATE: two finishes with one ticket, one
 * wins), the code's proof consumed by a guarded UPDATE, the account made
 * unless there (ON CONFLICT DO NOTHING), the link (UNIQUE: EXISTS).
 */
#include "store-pg-int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define S_FIND "link_find"
#define S_TICKET_ADD "link_ticket_add"
#define S_TICKET_GET "link_ticket_get"
#define S_TICKET_LOCK "link_ticket_lock"
#define S_ADDRESS "link_ticket_address"
#define S_PROOF "link_ticket_proof"
#define S_ACCOUNT "link_account"
#define S_LINK "link_insert"
#define S_TICKET_DELETE "link_ticket_delete"
#define S_USED "link_used"
#define S_DELETE "link_delete"
#define S_LIST "link_list"

#define TICKET_COLUMNS "provider, subject, provider_email, vouched, email_key, email, proof_hash"

const struct pt_pg_sql pt_pg_sql_link[] = {
	{ S_FIND, "SELECT email_key, last_used FROM links WHERE provider = $1 AND subject = $2" },
	/* the dead ones go as new ones come, in the same statement */
	{ S_TICKET_ADD, "WITH gone AS (DELETE FROM link_tickets WHERE expires <= $7) "
	  "INSERT INTO link_tickets (ticket_hash, provider, subject, provider_email, vouched, "
	  "expires) VALUES ($1, $2, $3, $4, $5, $6)" },
	{ S_TICKET_GET, "SELECT " TICKET_COLUMNS " FROM link_tickets "
	  "WHERE ticket_hash = $1 AND expires > $2" },
	{ S_TICKET_LOCK, "SELECT " TICKET_COLUMNS " FROM link_tickets "
	  "WHERE ticket_hash = $1 AND expires > $2 FOR UPDATE" },
	/* a new address forgets any proof made for the last one */
	{ S_ADDRESS, "UPDATE link_tickets SET email_key = $1, email = $2, proof_hash = NULL "
	  "WHERE ticket_hash = $3" },
	{ S_PROOF, "UPDATE link_tickets SET proof_hash = $1 WHERE ticket_hash = $2 "
	  "AND email_key = $3" },
	{ S_ACCOUNT, "INSERT INTO accounts (email_key, email, password_hash, created, updated, "
	  "gpi_checked) VALUES ($1, $2, NULL, $3, $3, $3) ON CONFLICT (email_key) DO NOTHING" },
	{ S_LINK, "INSERT INTO links (provider, subject, email_key, created) "
	  "VALUES ($1, $2, $3, $4)" },
	{ S_TICKET_DELETE, "DELETE FROM link_tickets WHERE ticket_hash = $1" },
	{ S_USED, "UPDATE links SET last_used = $1 WHERE provider = $2 AND subject = $3" },
	{ S_DELETE, "DELETE FROM links WHERE email_key = $1 AND provider = $2" },
	{ S_LIST, "SELECT provider FROM links WHERE email_key = $1 ORDER BY provider" },
	{ NULL, NULL }
};

portail_status
pt_pg_link_find(portail_store *st, const char *provider, const char *subject, char **key,
    int64_t *last_used, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	portail_status r;

	*key = NULL;
	pt_pg_text(&p, provider);
	pt_pg_text(&p, subject);
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_exec(&op, S_FIND, &p, &res, "link", err)) == PORTAIL_OK) {
		if (PQntuples(res) == 0) {
			r = PORTAIL_ERR_UNKNOWN;
		} else {
			if (last_used != NULL)
				*last_used = pt_pg_col_int(res, 0, 1);
			if ((*key = pt_pg_col_text(res, 0, 0)) == NULL)
				r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
	}
	PQclear(res);
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_link_ticket_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_identity *id, int64_t now, int64_t expires, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	portail_status r;

	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_text(&p, id->provider);
	pt_pg_text(&p, id->subject);
	pt_pg_text(&p, id->email);
	pt_pg_int(&p, id->vouched ? 1 : 0);
	pt_pg_int(&p, expires);
	pt_pg_int(&p, now);
	r = pt_pg_run1(st, S_TICKET_ADD, &p, false, "link ticket", err);
	if (r == PORTAIL_ERR_EXISTS)
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: link ticket: hash taken");
	return r;
}

static portail_status
ticket_read(struct pt_pg_op *op, const char *name, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_link_ticket *t, portail_error *err)
{
	struct pt_pg_params p = { 0 };
	PGresult *res = NULL;
	portail_status r;

	memset(t, 0, sizeof(*t));
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(op, name, &p, &res, "link ticket", err)) != PORTAIL_OK)
		return r;
	if (PQntuples(res) == 0) {
		pt_pg_clear_secret(res);
		return PORTAIL_ERR_BAD_TICKET;
	}
	t->id.provider = pt_pg_col_text(res, 0, 0);
	t->id.subject = pt_pg_col_text(res, 0, 1);
	t->id.email = pt_pg_col_text(res, 0, 2);
	t->id.vouched = pt_pg_col_int(res, 0, 3) != 0;
	t->email_key = pt_pg_col_text(res, 0, 4);
	t->email = pt_pg_col_text(res, 0, 5);
	t->has_proof = pt_pg_col_blob(res, 0, 6, t->proof_hash, PORTAIL_HASH_BYTES);
	r = t->id.provider && t->id.subject ? PORTAIL_OK :
	    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	pt_pg_clear_secret(res);     /* the proof hash */
	if (r != PORTAIL_OK)
		portail_link_ticket_clear(t);
	return r;
}

portail_status
pt_pg_link_ticket_get(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now,
    struct portail_link_ticket *t, portail_error *err)
{
	struct pt_pg_op op;
	portail_status r;

	memset(t, 0, sizeof(*t));
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	r = ticket_read(&op, S_TICKET_GET, hash, now, t, err);
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_link_ticket_address(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const char *email, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	pt_pg_text(&p, email);
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	return pt_pg_run1(st, S_ADDRESS, &p, false, "link ticket", err);
}

portail_status
pt_pg_link_ticket_proof(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err)
{
	struct pt_pg_params p = { 0 };
	portail_status r;

	pt_pg_blob(&p, proof, PORTAIL_HASH_BYTES);
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	pt_pg_text(&p, key);
	r = pt_pg_run1(st, S_PROOF, &p, true, "link ticket", err);
	return r == PORTAIL_ERR_UNKNOWN ? PORTAIL_ERR_BAD_TICKET : r;
}

portail_status
pt_pg_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err)
{
	struct portail_link_ticket t;
	struct pt_pg_params p = { 0 };
	struct pt_pg_op op;
	PGresult *res = NULL;
	char *vkey = NULL, *vemail = NULL;
	portail_status r;

	*created = false;
	*email = NULL;
	memset(&t, 0, sizeof(t));
	if ((r = pt_pg_op_begin(st, &op, err)) != PORTAIL_OK)
		return r;
	if ((r = pt_pg_begin(&op, err)) != PORTAIL_OK)
		goto done;
	if ((r = ticket_read(&op, S_TICKET_LOCK, hash, now, &t, err)) != PORTAIL_OK)
		goto out;
	if (t.email_key == NULL) {
		r = PORTAIL_ERR_BAD_TICKET;     /* no address chosen yet */
		goto out;
	}
	if (proof != NULL) {
		/* the code's proof must be the one made for this very link ticket, and its key */
		if (!t.has_proof || sodium_memcmp(t.proof_hash, proof, PORTAIL_HASH_BYTES) != 0) {
			r = PORTAIL_ERR_BAD_TICKET;
			goto out;
		}
		if ((r = pt_pg_ticket_find(&op, proof, "link", now, true, &vkey, &vemail, err)) !=
		    PORTAIL_OK)
			goto out;
		if (strcmp(vkey, t.email_key) != 0) {
			r = PORTAIL_ERR_BAD_TICKET;     /* rolled back: not consumed */
			goto out;
		}
	}
	pt_pg_text(&p, t.email_key);
	pt_pg_text(&p, t.email);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(&op, S_ACCOUNT, &p, &res, "account", err)) != PORTAIL_OK)
		goto out;
	*created = pt_pg_changed(res) > 0;
	PQclear(res);
	res = NULL;
	memset(&p, 0, sizeof(p));
	pt_pg_text(&p, t.id.provider);
	pt_pg_text(&p, t.id.subject);
	pt_pg_text(&p, t.email_key);
	pt_pg_int(&p, now);
	if ((r = pt_pg_exec(&op, S_LINK, &p, NULL, "link", err)) != PORTAIL_OK) {
		if (r == PORTAIL_ERR_EXISTS)
			portail_error_set(err, r, "already linked");
		goto out;
	}
	memset(&p, 0, sizeof(p));
	pt_pg_blob(&p, hash, PORTAIL_HASH_BYTES);
	if ((r = pt_pg_exec(&op, S_TICKET_DELETE, &p, NULL, "link ticket", err)) == PORTAIL_OK &&
	    (*email = strdup(t.email)) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
out:
	PQclear(res);
	free(vkey);
	free(vemail);
	portail_link_ticket_clear(&t);
	r = pt_pg_end(&op, r, false, err);
	if (r != PORTAIL_OK) {
		*created = false;
		free(*email);
		*email = NULL;
	}
done:
	pt_pg_op_end(&op);
	return r;
}

portail_status
pt_pg_link_used(portail_store *st, const char *provider, const char *subject, int64_t now,
    portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_int(&p, now);
	pt_pg_text(&p, provider);
	pt_pg_text(&p, subject);
	return pt_pg_run1(st, S_USED, &p, false, "link", err);
}

portail_status
pt_pg_link_delete(portail_store *st, const char *key, const char *provider, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	pt_pg_text(&p, provider);
	return pt_pg_run1(st, S_DELETE, &p, true, "link", err);
}

static bool
read_provider(const PGresult *res, int row, void *v)
{
	return (*(char **)v = pt_pg_col_text(res, row, 0)) != NULL;
}

static void
free_provider(void *v)
{
	free(*(char **)v);
}

portail_status
pt_pg_link_list(portail_store *st, const char *key, char ***providers, portail_error *err)
{
	struct pt_pg_params p = { 0 };

	pt_pg_text(&p, key);
	/* one NULL after the names */
	return pt_pg_rows(st, S_LIST, &p, sizeof(**providers), 1, read_provider, free_provider,
	    (void **)providers, NULL, "link", err);
}
