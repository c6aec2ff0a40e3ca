/*
 * store.c — the store's operations (store.h), whatever the backend: each
 * is the entry of the backend's table the handle names
 * (store-backend.h), and opening the configured backend. What no backend
 * owns lives here too: freeing the structs the operations fill.
 */
#include "store-backend.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config.h"

#define BE(st) (*(const struct pt_store_backend *const *)(const void *)(st))

/* ---- the structs the operations fill --------------------------------------- */

void
portail_account_clear(struct portail_account *a)
{
	if (a == NULL)
		return;
	free(a->email);
	free(a->email_key);
	if (a->password_hash != NULL) {
		sodium_memzero(a->password_hash, strlen(a->password_hash));
		free(a->password_hash);
	}
	memset(a, 0, sizeof(*a));
}

void
portail_token_clear(struct portail_token *t)
{
	if (t == NULL)
		return;
	free(t->email_key);
	free(t->label);
	memset(t, 0, sizeof(*t));
}

void
portail_mail_row_clear(struct portail_mail_row *m)
{
	if (m == NULL)
		return;
	free(m->rcpt);
	if (m->code_box != NULL) {
		sodium_memzero(m->code_box, m->code_box_len);
		free(m->code_box);
	}
	memset(m, 0, sizeof(*m));
}

void
portail_link_ticket_clear(struct portail_link_ticket *t)
{
	if (t == NULL)
		return;
	portail_identity_clear(&t->id);
	free(t->email_key);
	free(t->email);
	memset(t, 0, sizeof(*t));
}

void
portail_session_clear(struct portail_session *s)
{
	if (s == NULL)
		return;
	free(s->email_key);
	sodium_memzero(s, sizeof(*s));
}

static void
free_wiped(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
portail_oauth_state_clear(struct portail_oauth_state *s)
{
	if (s == NULL)
		return;
	free(s->provider);
	free_wiped(s->nonce);
	free_wiped(s->verifier);
	free(s->return_to);
	memset(s, 0, sizeof(*s));
}

/* ---- opening the configured backend ------------------------------------------ */

struct portail_store_spec {
	int backend;
	char *path;             /* sqlite */
	char *conninfo;         /* postgresql */
	char *password;         /* postgresql, sodium_malloc'd; NULL without password_file */
	int pool_size, deadline_ms;
};

void
portail_store_spec_free(portail_store_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->path);
	free(spec->conninfo);
	if (spec->password != NULL)
		sodium_free(spec->password);    /* wipes */
	free(spec);
}

portail_status
portail_store_spec_new(const struct portail_config *cfg, portail_store_spec **out,
    portail_error *err)
{
	portail_store_spec *spec;
	portail_status r;
	char *pw = NULL;

	if ((spec = calloc(1, sizeof(*spec))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	spec->backend = cfg->store.backend;
	spec->pool_size = cfg->store.pool_size > 0 ? cfg->store.pool_size : cfg->daemon.workers;
	spec->deadline_ms = cfg->store.deadline_ms;
	if (spec->backend == PORTAIL_STORE_SQLITE) {
		if ((spec->path = strdup(cfg->store_path)) == NULL)
			goto nomem;
	} else {
		if (cfg->store.conninfo == NULL || (spec->conninfo = strdup(cfg->store.conninfo)) == NULL)
			goto nomem;
		/* read once, while we may still be root: reconnects come later, without it */
		if (cfg->store.password_file != NULL) {
			size_t n;

			if (sodium_init() < 0)
				goto nomem;

			if ((r = portail_secret_read(cfg->store.password_file, &pw, err)) != PORTAIL_OK) {
				portail_store_spec_free(spec);
				return r == PORTAIL_ERR_NOMEM ? r : PORTAIL_ERR_CONFIG;
			}
			n = strlen(pw);
			if ((spec->password = sodium_malloc(n + 1)) == NULL) {
				portail_secret_free(pw);
				goto nomem;
			}
			memcpy(spec->password, pw, n + 1);
			portail_secret_free(pw);
		}
	}
	*out = spec;
	return PORTAIL_OK;
nomem:
	portail_store_spec_free(spec);
	return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
}

portail_status
portail_store_open_spec(const portail_store_spec *spec, portail_store **out, portail_error *err)
{
	if (spec->backend == PORTAIL_STORE_SQLITE)
		return portail_store_open(spec->path, out, err);
	return pt_pg_open(spec->conninfo, spec->password, spec->pool_size, spec->deadline_ms, out,
	    err);
}

portail_status
portail_store_open_config(const struct portail_config *cfg, portail_store **out,
    portail_error *err)
{
	portail_store_spec *spec = NULL;
	portail_status r;

	if ((r = portail_store_spec_new(cfg, &spec, err)) != PORTAIL_OK)
		return r;
	r = portail_store_open_spec(spec, out, err);
	portail_store_spec_free(spec);
	return r;
}

const char *
portail_store_backend(const portail_store *st)
{
	return BE(st)->name;
}

bool
portail_store_shared(const portail_store *st)
{
	return BE(st)->shared;
}

portail_status
portail_store_cluster(portail_store *st, struct portail_store_cluster *out, portail_error *err)
{
	memset(out, 0, sizeof(*out));
	if (BE(st)->cluster == NULL)
		return PORTAIL_ERR_UNKNOWN;
	return BE(st)->cluster(st, out, err);
}

portail_status
pt_store_run(portail_store *st, const char *sql, portail_error *err)
{
	return BE(st)->run(st, sql, err);
}

/* ---- the operations: the backend's ------------------------------------------- */

void
portail_store_close(portail_store *st)
{
	if (st != NULL)
		BE(st)->close(st);
}

portail_status
portail_store_probe(portail_store *st, portail_error *err)
{
	return BE(st)->probe(st, err);
}

portail_status
portail_store_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err)
{
	return BE(st)->account_get(st, key, out, err);
}

portail_status
portail_store_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err)
{
	return BE(st)->account_list(st, out, n, err);
}

portail_status
portail_store_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err)
{
	return BE(st)->account_set_state(st, key, state, now, err);
}

portail_status
portail_store_account_unlock(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return BE(st)->account_unlock(st, key, now, err);
}

portail_status
portail_store_account_delete(portail_store *st, const char *key, portail_error *err)
{
	return BE(st)->account_delete(st, key, err);
}

portail_status
portail_store_account_disable_and_revoke(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return BE(st)->account_disable_and_revoke(st, key, now, err);
}

portail_status
portail_store_account_checked(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return BE(st)->account_checked(st, key, now, err);
}

portail_status
portail_store_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *policy, int64_t *locked_until, portail_error *err)
{
	return BE(st)->auth_failed(st, key, now, policy, locked_until, err);
}

portail_status
portail_store_auth_reserve(portail_store *st, const char *key, int64_t now, int seen,
    const struct portail_lockout *policy, int64_t *reserved_lock, int64_t *locked_until,
    portail_error *err)
{
	return BE(st)->auth_reserve(st, key, now, seen, policy, reserved_lock, locked_until, err);
}

portail_status
portail_store_auth_release(portail_store *st, const char *key, int64_t reserved_lock,
    portail_error *err)
{
	return BE(st)->auth_release(st, key, reserved_lock, err);
}

portail_status
portail_store_auth_succeeded(portail_store *st, const char *key, int64_t now,
    const char *new_hash, portail_error *err)
{
	return BE(st)->auth_succeeded(st, key, now, new_hash, err);
}

portail_status
portail_store_mail_add(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	return BE(st)->mail_add(st, m, err);
}

portail_status
portail_store_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out,
    int64_t *next_due, portail_error *err)
{
	return BE(st)->mail_next(st, now, out, next_due, err);
}

portail_status
portail_store_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try,
    portail_error *err)
{
	return BE(st)->mail_retry(st, id, tries, next_try, err);
}

portail_status
portail_store_mail_delete(portail_store *st, int64_t id, portail_error *err)
{
	return BE(st)->mail_delete(st, id, err);
}

portail_status
portail_store_mail_count(portail_store *st, unsigned long *n, portail_error *err)
{
	return BE(st)->mail_count(st, n, err);
}

portail_status
portail_store_code_issue(portail_store *st, const char *key, const char *email,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err)
{
	return BE(st)->code_issue(st, key, email, purpose, code_hash, now, rules, mail, wait,
	    err);
}

portail_status
portail_store_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err)
{
	return BE(st)->code_verify(st, key, purpose, code_hash, ticket_hash, now,
	    ticket_lifetime, tries_left, err);
}

portail_status
portail_store_ticket_peek(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose, int64_t now,
    char **key, char **email, portail_error *err)
{
	return BE(st)->ticket_peek(st, ticket_hash, purpose, now, key, email, err);
}

portail_status
portail_store_signup_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err)
{
	return BE(st)->signup_finish(st, ticket_hash, now, password_hash, err);
}

portail_status
portail_store_reset_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, const char *password_hash,
    portail_error *err)
{
	return BE(st)->reset_finish(st, ticket_hash, now, password_hash, err);
}

portail_status
portail_store_password_set(portail_store *st, const char *key, const char *password_hash,
    int64_t now, portail_error *err)
{
	return BE(st)->password_set(st, key, password_hash, now, err);
}

portail_status
portail_store_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int max, int64_t *id, portail_error *err)
{
	return BE(st)->token_add(st, key, hash, label, now, expires, max, id, err);
}

portail_status
portail_store_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err)
{
	return BE(st)->token_find(st, hash, out, acct, err);
}

portail_status
portail_store_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires,
    portail_error *err)
{
	return BE(st)->token_touch(st, id, now, expires, err);
}

portail_status
portail_store_token_list(portail_store *st, const char *key, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err)
{
	return BE(st)->token_list(st, key, now, out, n, err);
}

portail_status
portail_store_token_delete(portail_store *st, const char *key, int64_t id, portail_error *err)
{
	return BE(st)->token_delete(st, key, id, err);
}

portail_status
portail_store_token_revoke_all(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return BE(st)->token_revoke_all(st, key, now, err);
}

portail_status
portail_store_gc(portail_store *st, int64_t now, portail_error *err)
{
	return BE(st)->gc(st, now, err);
}

portail_status
portail_store_link_find(portail_store *st, const char *provider, const char *subject,
    char **key, int64_t *last_used, portail_error *err)
{
	return BE(st)->link_find(st, provider, subject, key, last_used, err);
}

portail_status
portail_store_link_ticket_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_identity *id, int64_t now, int64_t expires, portail_error *err)
{
	return BE(st)->link_ticket_add(st, hash, id, now, expires, err);
}

portail_status
portail_store_link_ticket_get(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_link_ticket *t, portail_error *err)
{
	return BE(st)->link_ticket_get(st, hash, now, t, err);
}

portail_status
portail_store_link_ticket_address(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key, const char *email,
    portail_error *err)
{
	return BE(st)->link_ticket_address(st, hash, key, email, err);
}

portail_status
portail_store_link_ticket_proof(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err)
{
	return BE(st)->link_ticket_proof(st, hash, key, proof, err);
}

portail_status
portail_store_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err)
{
	return BE(st)->link_finish(st, hash, proof, now, created, email, err);
}

portail_status
portail_store_link_used(portail_store *st, const char *provider, const char *subject,
    int64_t now, portail_error *err)
{
	return BE(st)->link_used(st, provider, subject, now, err);
}

portail_status
portail_store_link_delete(portail_store *st, const char *key, const char *provider,
    portail_error *err)
{
	return BE(st)->link_delete(st, key, provider, err);
}

portail_status
portail_store_link_list(portail_store *st, const char *key, char ***providers,
    portail_error *err)
{
	return BE(st)->link_list(st, key, providers, err);
}

portail_status
portail_store_session_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced, int64_t now,
    int64_t expires, int64_t seen_cutoff, int max_sessions, int64_t *id, portail_error *err)
{
	return BE(st)->session_add(st, key, hash, replaced, now, expires, seen_cutoff, max_sessions,
	    id, err);
}

portail_status
portail_store_session_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_session *out, struct portail_account *acct, portail_error *err)
{
	return BE(st)->session_find(st, hash, out, acct, err);
}

portail_status
portail_store_session_touch(portail_store *st, int64_t id, int64_t now, portail_error *err)
{
	return BE(st)->session_touch(st, id, now, err);
}

portail_status
portail_store_session_delete(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    portail_error *err)
{
	return BE(st)->session_delete(st, hash, err);
}

portail_status
portail_store_session_count(portail_store *st, const char *key, int *n, portail_error *err)
{
	return BE(st)->session_count(st, key, n, err);
}

portail_status
portail_store_oauth_state_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_oauth_state *s, int64_t now, portail_error *err)
{
	return BE(st)->oauth_state_add(st, hash, s, now, err);
}

portail_status
portail_store_oauth_state_take(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_oauth_state *out, portail_error *err)
{
	return BE(st)->oauth_state_take(st, hash, now, out, err);
}
