/* session.c — browser sessions; see session.h. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "email.h"

int64_t
portail_session_expires(const struct portail_session_rules *r, int64_t created)
{
	return created + r->max;
}

int64_t
portail_session_seen_cutoff(const struct portail_session_rules *r, int64_t now)
{
	return now - r->idle;
}

bool
portail_session_live(const struct portail_session_rules *r, int64_t last_seen, int64_t expires,
    int64_t now)
{
	return now < expires && last_seen > portail_session_seen_cutoff(r, now);
}

portail_status
portail_session_create(const struct portail_sessions *s, const char *email, const char *previous,
    int64_t now, char *secret, portail_error *err)
{
	struct portail_account a = { 0 };
	unsigned char hash[PORTAIL_HASH_BYTES], old[PORTAIL_HASH_BYTES];
	char t[PORTAIL_SESSION_LEN + 1], *key = NULL;
	bool replace;
	int64_t id = 0;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if ((r = portail_store_account_get(s->store, key, &a, err)) != PORTAIL_OK)
		goto out;
	if (a.state == PORTAIL_ACCOUNT_DISABLED) {
		r = PORTAIL_ERR_DISABLED;
		goto out;
	}
	replace = previous != NULL && portail_session_secret_hash(s->key, previous, old) == PORTAIL_OK;
	portail_session_secret_generate(s->key, t, hash);
	r = portail_store_session_add(s->store, key, hash, replace ? old : NULL, now,
	    portail_session_expires(&s->rules, now), portail_session_seen_cutoff(&s->rules, now),
	    s->rules.max_sessions, &id, err);
	if (r == PORTAIL_OK)
		memcpy(secret, t, sizeof(t));
out:
	sodium_memzero(t, sizeof(t));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(old, sizeof(old));
	portail_account_clear(&a);
	free(key);
	return r;
}

portail_status
portail_session_check(const struct portail_sessions *s, const char *secret, int64_t now,
    struct portail_account *acct, portail_error *err)
{
	struct portail_session row = { 0 };
	unsigned char hash[PORTAIL_HASH_BYTES];
	portail_status r;

	if (secret == NULL || portail_session_secret_hash(s->key, secret, hash) != PORTAIL_OK)
		return PORTAIL_ERR_REFUSED;
	if ((r = portail_store_session_find(s->store, hash, &row, acct, err)) != PORTAIL_OK)
		goto out;
	/*
	 * The store found the row by its hash (an index on a keyed hash: its
	 * timing tells nothing of the secret); the hash is compared again
	 * here in constant time, so that no backend's lookup is trusted to
	 * be exact.
	 */
	if (sodium_memcmp(row.hash, hash, sizeof(hash)) != 0 || row.epoch != acct->token_epoch ||
	    acct->state == PORTAIL_ACCOUNT_DISABLED ||
	    !portail_session_live(&s->rules, row.last_seen, row.expires, now)) {
		r = PORTAIL_ERR_REFUSED;
		goto out;
	}
	/* a use per second at most is a write */
	if (now > row.last_seen)
		r = portail_store_session_touch(s->store, row.id, now, err);
out:
	if (r != PORTAIL_OK)
		portail_account_clear(acct);
	sodium_memzero(hash, sizeof(hash));
	portail_session_clear(&row);
	return r;
}

portail_status
portail_session_revoke(const struct portail_sessions *s, const char *secret, portail_error *err)
{
	unsigned char hash[PORTAIL_HASH_BYTES];
	portail_status r;

	if (secret == NULL || portail_session_secret_hash(s->key, secret, hash) != PORTAIL_OK)
		return PORTAIL_ERR_UNKNOWN;
	r = portail_store_session_delete(s->store, hash, err);
	sodium_memzero(hash, sizeof(hash));
	return r;
}
