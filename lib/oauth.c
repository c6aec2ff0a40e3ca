/* oauth.c — the browser's authorization-code flow for social sign-in; see oauth.h. */
#include "oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "flow-int.h"
#include "key.h"

void
portail_oauth_random(char *out, size_t out_size, size_t n)
{
	unsigned char buf[64];

	if (n > sizeof(buf))
		n = sizeof(buf);
	randombytes_buf(buf, n);
	sodium_bin2base64(out, out_size, buf, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(buf, sizeof(buf));
}

void
portail_pkce_s256(const char *verifier, char challenge[PORTAIL_PKCE_CHALLENGE_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)verifier, strlen(verifier));
	sodium_bin2base64(challenge, PORTAIL_PKCE_CHALLENGE_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(h, sizeof(h));
}

bool
portail_oauth_return_ok(const char *path)
{
	size_t n;

	if (path == NULL || path[0] != '/' || path[1] == '/' || path[1] == '\\' ||
	    (n = strlen(path)) > PORTAIL_OAUTH_RETURN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f ||
		    path[i] == '\\')
			return false;
	return true;
}

bool
portail_oauth_redirect_uri(const char *public_url, const char *provider, char *out,
    size_t size)
{
	size_t n;
	int w;

	if (public_url == NULL || provider == NULL)
		return false;
	n = strlen(public_url);
	while (n > 0 && public_url[n - 1] == '/')
		n--;
	w = snprintf(out, size, "%.*s/social/%s/retour", (int)n, public_url, provider);
	return w > 0 && (size_t)w < size;
}

/* The store's key for a cookie secret, and the state parameter it goes with. */
static void
state_hashes(const portail_key *key, const char *secret, unsigned char store[PORTAIL_HASH_BYTES],
    char param[PORTAIL_OAUTH_SECRET_LEN + 1])
{
	unsigned char h[PORTAIL_HASH_BYTES];
	const char *a[] = { "oauth-state", secret }, *b[] = { "oauth-param", secret };

	portail_key_hash(key, PORTAIL_KEY_TICKETS, store, a, 2);
	portail_key_hash(key, PORTAIL_KEY_TICKETS, h, b, 2);
	sodium_bin2base64(param, PORTAIL_OAUTH_SECRET_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(h, sizeof(h));
}

static bool
secret_shape_ok(const char *s)
{
	if (s == NULL || strlen(s) != PORTAIL_OAUTH_SECRET_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

portail_status
portail_flow_social_authorize(portail_flow *f, const char *provider, const char *return_to,
    int64_t now, char **url, char state_secret[PORTAIL_OAUTH_SECRET_LEN + 1],
    portail_error *err)
{
	const struct portail_flow_deps *d = pt_flow_deps(f);
	unsigned char hash[PORTAIL_HASH_BYTES];
	char param[PORTAIL_OAUTH_SECRET_LEN + 1], nonce[PORTAIL_OAUTH_SECRET_LEN + 1];
	char verifier[PORTAIL_PKCE_VERIFIER_LEN + 1], challenge[PORTAIL_PKCE_CHALLENGE_LEN + 1];
	char redirect[512];
	struct portail_oauth_state st = { 0 };
	bool pkce = false, want_nonce = false;
	portail_status r;

	*url = NULL;
	state_secret[0] = '\0';
	if (d->providers == NULL || provider == NULL ||
	    !portail_providers_code_flow(d->providers, provider, &pkce, &want_nonce))
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s with a "
		    "code flow (authorize_url, token_url, client_secret_file)",
		    provider ? provider : "-");
	if (!portail_oauth_redirect_uri(d->cfg->web.public_url, provider, redirect,
	    sizeof(redirect)))
		return portail_error_set(err, PORTAIL_ERR_CONFIG, "[web] public_url is not set: "
		    "the redirect_uri is built from it");
	if (return_to != NULL && !portail_oauth_return_ok(return_to))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not a return path of this site");
	portail_oauth_random(state_secret, PORTAIL_OAUTH_SECRET_LEN + 1, 32);
	portail_oauth_random(nonce, sizeof(nonce), 32);
	portail_oauth_random(verifier, sizeof(verifier), 32);
	portail_pkce_s256(verifier, challenge);
	state_hashes(d->key, state_secret, hash, param);
	st.provider = (char *)(uintptr_t)provider;
	st.nonce = want_nonce ? nonce : NULL;
	st.verifier = pkce ? verifier : NULL;
	st.return_to = (char *)(uintptr_t)return_to;
	st.expires = now + PORTAIL_OAUTH_LIFETIME;
	if ((r = portail_store_oauth_state_add(d->store, hash, &st, now, err)) != PORTAIL_OK)
		goto out;
	r = portail_providers_authorize_url(d->providers, provider, redirect, param,
	    want_nonce ? nonce : NULL, pkce ? challenge : NULL, url, err);
out:
	if (r != PORTAIL_OK)
		sodium_memzero(state_secret, PORTAIL_OAUTH_SECRET_LEN + 1);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(param, sizeof(param));
	sodium_memzero(nonce, sizeof(nonce));
	sodium_memzero(verifier, sizeof(verifier));
	sodium_memzero(challenge, sizeof(challenge));
	return r;
}

portail_status
portail_flow_social_callback(portail_flow *f, const char *provider, const char *state_secret,
    const char *state, const char *code, const char *label, int64_t now,
    struct portail_social_result *out, char **return_to, portail_error *err)
{
	const struct portail_flow_deps *d = pt_flow_deps(f);
	unsigned char hash[PORTAIL_HASH_BYTES];
	char param[PORTAIL_OAUTH_SECRET_LEN + 1], redirect[512];
	struct portail_oauth_state st = { 0 };
	struct portail_identity id = { 0 };
	struct timespec t0, t1;
	portail_status r;

	memset(out, 0, sizeof(*out));
	*return_to = NULL;
	if (d->providers == NULL || provider == NULL ||
	    !portail_providers_code_flow(d->providers, provider, NULL, NULL))
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s with a "
		    "code flow", provider ? provider : "-");
	if (!portail_oauth_redirect_uri(d->cfg->web.public_url, provider, redirect,
	    sizeof(redirect)))
		return portail_error_set(err, PORTAIL_ERR_CONFIG, "[web] public_url is not set");
	if (label != NULL && (*label == '\0' || strlen(label) > 64))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "a label of 1 to 64 characters");
	if (!secret_shape_ok(state_secret))
		return portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "no sign-in state cookie");
	state_hashes(d->key, state_secret, hash, param);
	/* taken first: whatever follows, this state never serves twice */
	if ((r = portail_store_oauth_state_take(d->store, hash, now, &st, err)) != PORTAIL_OK)
		goto out;
	if (state == NULL || strlen(state) != PORTAIL_OAUTH_SECRET_LEN ||
	    sodium_memcmp(state, param, PORTAIL_OAUTH_SECRET_LEN) != 0) {
		r = portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "the state parameter is not "
		    "this browser's (another sign-in's, or forged)");
		goto out;
	}
	if (strcmp(st.provider, provider) != 0) {
		/* mix-up: a code from one provider sent to another's callback */
		r = portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "a state made for %s came "
		    "back to %s's callback", st.provider, provider);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = portail_providers_exchange_code(d->providers, provider, code, redirect, st.verifier,
	    st.nonce, now, &id, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->provider_us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (r != PORTAIL_OK)
		goto out;
	if ((r = pt_flow_social_enter(f, &id, label, now, out, err)) != PORTAIL_OK)
		goto out;
	if (st.return_to != NULL && (*return_to = strdup(st.return_to)) == NULL) {
		portail_social_result_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
out:
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(param, sizeof(param));
	portail_identity_clear(&id);
	portail_oauth_state_clear(&st);
	return r;
}

portail_status
portail_flow_social_abandon(portail_flow *f, const char *state_secret, int64_t now,
    portail_error *err)
{
	const struct portail_flow_deps *d = pt_flow_deps(f);
	unsigned char hash[PORTAIL_HASH_BYTES];
	char param[PORTAIL_OAUTH_SECRET_LEN + 1];
	struct portail_oauth_state st = { 0 };
	portail_status r;

	if (!secret_shape_ok(state_secret))
		return PORTAIL_OK;
	state_hashes(d->key, state_secret, hash, param);
	r = portail_store_oauth_state_take(d->store, hash, now, &st, err);
	portail_oauth_state_clear(&st);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(param, sizeof(param));
	return r == PORTAIL_ERR_BAD_TICKET ? PORTAIL_OK : r;
}
