/* provider.c — social accounts' providers; see provider.h. */
#include "provider.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "claims.h"
#include "idtoken.h"
#include "monotime.h"

#define TOKEN_MAX 4096          /* access tokens are far shorter; JWTs stay under this */
#define JWKS_TTL 3600           /* s: keys are fetched again after an hour … */
#define JWKS_REFETCH 60         /* … or for an unknown kid, at most once a minute */

struct prov {
	const struct portail_provider_config *c;
	char *secret;           /* client secret, or NULL */
	const char *userinfo, *tokeninfo, *introspection, *debug_token;
	const char *issuer, *jwks_url;  /* ID tokens, when both are set */
	pthread_mutex_t lock;   /* the JWKS cache below */
	json_t *jwks;           /* the keys last fetched, or NULL */
	long long jwks_at;      /* when (ms, CLOCK_MONOTONIC); 0: never */
};

struct portail_providers {
	struct prov p[PORTAIL_MAX_PROVIDERS];
	int n;
};

/* One identification: the provider, and when its [provider.NAME] timeout ends (for all
 * of its requests together). */
struct call {
	const struct prov *p;
	long long deadline;     /* ms, CLOCK_MONOTONIC */
};

static struct call
call_for(const struct prov *p)
{
	struct call k = { p, portail_mono_ms() + (long long)p->c->timeout * 1000 };

	return k;
}

static const struct {
	const char *kind, *userinfo, *tokeninfo, *debug_token, *issuer, *jwks_url;
} defaults[] = {
	{ "google", "https://openidconnect.googleapis.com/v1/userinfo",
	  "https://oauth2.googleapis.com/tokeninfo", NULL,
	  "https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs" },
	/* any tenant (and personal accounts): {tenantid} is the token's tid, as MSAL does */
	{ "microsoft", "https://graph.microsoft.com/oidc/userinfo", NULL, NULL,
	  "https://login.microsoftonline.com/{tenantid}/v2.0",
	  "https://login.microsoftonline.com/common/discovery/v2.0/keys" },
	{ "facebook", "https://graph.facebook.com/me", NULL, "https://graph.facebook.com/debug_token",
	  NULL, NULL },
	{ "linkedin", "https://api.linkedin.com/v2/userinfo", NULL, NULL,
	  "https://www.linkedin.com/oauth", "https://www.linkedin.com/oauth/openid/jwks" },
	{ "oidc", NULL, NULL, NULL, NULL, NULL },
};

static bool
kind_is(const struct prov *p, const char *k)
{
	return strcmp(p->c->kind, k) == 0;
}

portail_status
portail_providers_new(const portail_config *cfg, portail_providers **out, portail_error *err)
{
	portail_providers *ps;
	portail_status r = PORTAIL_OK;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libcurl failed to initialize");
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	for (int i = 0; i < cfg->n_providers && r == PORTAIL_OK; i++) {
		struct prov *p = &ps->p[ps->n++];

		p->c = &cfg->providers[i];
		for (size_t k = 0; k < sizeof(defaults) / sizeof(defaults[0]); k++) {
			if (strcmp(defaults[k].kind, p->c->kind) == 0) {
				p->userinfo = defaults[k].userinfo;
				p->tokeninfo = defaults[k].tokeninfo;
				p->debug_token = defaults[k].debug_token;
				p->issuer = defaults[k].issuer;
				p->jwks_url = defaults[k].jwks_url;
			}
		}
		pthread_mutex_init(&p->lock, NULL);
		if (p->c->userinfo_url != NULL)
			p->userinfo = p->c->userinfo_url;
		if (p->c->tokeninfo_url != NULL)
			p->tokeninfo = p->c->tokeninfo_url;
		if (p->c->debug_token_url != NULL)
			p->debug_token = p->c->debug_token_url;
		if (p->c->issuer != NULL)
			p->issuer = p->c->issuer;
		if (p->c->jwks_url != NULL)
			p->jwks_url = p->c->jwks_url;
		p->introspection = p->c->introspection_url;
		if (p->c->client_secret_file != NULL &&
		    (r = portail_secret_read(p->c->client_secret_file, &p->secret, err)) != PORTAIL_OK)
			break;
		if (p->userinfo == NULL && p->introspection != NULL)
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "[provider.%s] introspection_url needs userinfo_url", p->c->name);
		else if (p->introspection == NULL && (p->issuer == NULL || p->jwks_url == NULL) &&
		    !kind_is(p, "facebook") && !kind_is(p, "google"))
			r = portail_error_set(err, PORTAIL_ERR_CONFIG, "[provider.%s] nothing ties its "
			    "tokens to client_id: set introspection_url, or issuer and jwks_url",
			    p->c->name);
		else if (kind_is(p, "facebook") && p->secret == NULL)
			r = portail_error_set(err, PORTAIL_ERR_CONFIG, "[provider.%s] kind facebook "
			    "needs client_secret_file (debug_token and appsecret_proof)", p->c->name);
		else if (p->introspection != NULL && p->secret == NULL)
			r = portail_error_set(err, PORTAIL_ERR_CONFIG, "[provider.%s] introspection_url "
			    "needs client_secret_file", p->c->name);
	}
	if (r != PORTAIL_OK) {
		portail_providers_free(ps);
		return r;
	}
	*out = ps;
	return PORTAIL_OK;
}

void
portail_providers_free(portail_providers *ps)
{
	if (ps == NULL)
		return;
	for (int i = 0; i < ps->n; i++) {
		portail_secret_free(ps->p[i].secret);
		json_decref(ps->p[i].jwks);
		pthread_mutex_destroy(&ps->p[i].lock);
	}
	free(ps);
}

static struct prov *
find(portail_providers *ps, const char *name)
{
	for (int i = 0; name != NULL && i < ps->n; i++)
		if (strcmp(ps->p[i].c->name, name) == 0)
			return &ps->p[i];
	return NULL;
}

bool
portail_providers_has(const portail_providers *ps, const char *name)
{
	return find((portail_providers *)(uintptr_t)ps, name) != NULL;
}

/* ---- HTTP ------------------------------------------------------------------------ */

struct body {
	char *data;
	size_t len;
	bool oversize;
};

static size_t
on_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *grown;

	if (add > PORTAIL_PROVIDER_BODY_MAX - b->len) {
		b->oversize = true;
		return 0;       /* aborts the transfer */
	}
	if ((grown = realloc(b->data, b->len + add + 1)) == NULL)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/*
 * One request: GET url (bearer in the Authorization header when not
 * NULL), or POST form when not NULL (HTTP basic with the client's id and
 * secret). OK with *out a JSON object on 200; REFUSED on 4xx, an
 * oversized or malformed answer; UNAVAILABLE when the provider cannot be
 * reached in time or fails (5xx, 429).
 */
static portail_status
http_json_auth(struct call *k, const char *url, const char *bearer, const char *form,
    bool basic, json_t **out, portail_error *err)
{
	const struct prov *p = k->p;
	char errbuf[CURL_ERROR_SIZE] = "", *auth = NULL;
	struct curl_slist *headers = NULL;
	struct body b = { NULL, 0, false };
	long long left;
	long status = 0;
	CURLcode rc;
	CURL *c;
	portail_status r;

	*out = NULL;
	if ((left = k->deadline - portail_mono_ms()) <= 0)
		return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s slower than its timeout "
		    "(%d s)", p->c->name, p->c->timeout);
	if ((c = curl_easy_init()) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* the configuration allowed http:// to loopback hosts only */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)PORTAIL_PROVIDER_BODY_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "portail/" PACKAGE_VERSION);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (bearer != NULL) {
		size_t n = strlen(bearer) + 32;

		if ((auth = malloc(n)) == NULL) {
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			goto out;
		}
		snprintf(auth, n, "Authorization: Bearer %s", bearer);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		if (basic) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERNAME, p->c->client_id);
			curl_easy_setopt(c, CURLOPT_PASSWORD, p->secret ? p->secret : "");
		}
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (b.oversize || rc == CURLE_FILESIZE_EXCEEDED) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: answer larger than %d bytes",
		    p->c->name, PORTAIL_PROVIDER_BODY_MAX);
		goto out;
	}
	if (rc != CURLE_OK) {
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s unreachable: %s", p->c->name,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	r = pt_claims_answer(p->c, status, b.data, b.len, out, err);
out:
	curl_slist_free_all(headers);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		free(auth);
	}
	if (b.data != NULL) {
		sodium_memzero(b.data, b.len);
		free(b.data);
	}
	curl_easy_cleanup(c);
	return r;
}

static portail_status
http_json(struct call *k, const char *url, const char *bearer, const char *form,
    json_t **out, portail_error *err)
{
	return http_json_auth(k, url, bearer, form, true, out, err);
}

/* url?name=value&… with values escaped; NULL on failure. Wipe the result (it holds tokens). */
static char *
with_query(CURL *c, const char *url, const char *const *kv, size_t n)
{
	size_t size = strlen(url) + 2, len;
	char *out, **esc = calloc(n, sizeof(char *));

	if (esc == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 2) {
		if ((esc[i + 1] = curl_easy_escape(c, kv[i + 1], 0)) == NULL)
			goto fail;
		size += strlen(kv[i]) + strlen(esc[i + 1]) + 2;
	}
	if ((out = malloc(size)) == NULL)
		goto fail;
	len = (size_t)snprintf(out, size, "%s", url);
	for (size_t i = 0; i < n; i += 2)
		len += (size_t)snprintf(out + len, size - len, "%c%s=%s",
		    i == 0 && strchr(url, '?') == NULL ? '?' : '&', kv[i], esc[i + 1]);
	for (size_t i = 1; i < n; i += 2) {
		sodium_memzero(esc[i], strlen(esc[i]));
		curl_free(esc[i]);
	}
	free(esc);
	return out;
fail:
	for (size_t i = 1; i < n; i += 2)
		if (esc[i] != NULL) {
			sodium_memzero(esc[i], strlen(esc[i]));
			curl_free(esc[i]);
		}
	free(esc);
	return NULL;
}

/* GET url with query parameters (they carry tokens). */
static portail_status
get_query(struct call *k, const char *url, const char *const *kv, size_t n, json_t **out,
    portail_error *err)
{
	CURL *c = curl_easy_init();
	char *full;
	portail_status r;

	if (c == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	full = with_query(c, url, kv, n);
	curl_easy_cleanup(c);
	if (full == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	r = http_json(k, full, NULL, NULL, out, err);
	portail_secret_free(full);
	return r;
}

/* Google: tokeninfo says whose token it is, then OpenID userinfo. */
static portail_status
google(struct call *k, const char *token, json_t **ti, portail_error *err)
{
	const struct prov *p = k->p;
	const char *kv[] = { "access_token", token };
	portail_status r;

	if ((r = get_query(k, p->tokeninfo, kv, 2, ti, err)) != PORTAIL_OK)
		return r;
	return pt_claims_google_tokeninfo(p->c, *ti, err);
}

/* RFC 7662 introspection: active, and issued to our client id. */
static portail_status
introspect(struct call *k, const char *token, json_t **ti, portail_error *err)
{
	const struct prov *p = k->p;
	CURL *c = curl_easy_init();
	char *esc = NULL, *form = NULL;
	size_t n;
	portail_status r;

	if (c == NULL || (esc = curl_easy_escape(c, token, 0)) == NULL ||
	    (form = malloc((n = strlen(esc) + 64))) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(form, n, "token=%s&token_type_hint=access_token", esc);
	if ((r = http_json(k, p->introspection, NULL, form, ti, err)) == PORTAIL_OK)
		r = pt_claims_introspection(p->c, *ti, err);
out:
	if (esc != NULL) {
		sodium_memzero(esc, strlen(esc));
		curl_free(esc);
	}
	portail_secret_free(form);
	curl_easy_cleanup(c);
	return r;
}

/* Facebook: debug_token with the app token, then /me with appsecret_proof; never vouched. */
static portail_status
facebook(struct call *k, const char *token, struct portail_identity *id, portail_error *err)
{
	const struct prov *p = k->p;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char proof[2 * sizeof(mac) + 1], *app = NULL;
	crypto_auth_hmacsha256_state st;
	json_t *dt = NULL, *me = NULL, *uid = NULL;
	size_t n = strlen(p->c->client_id) + strlen(p->secret) + 2;
	portail_status r;

	if ((app = malloc(n)) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	snprintf(app, n, "%s|%s", p->c->client_id, p->secret);
	{
		const char *kv[] = { "input_token", token, "access_token", app };

		r = get_query(k, p->debug_token, kv, 4, &dt, err);
	}
	if (r != PORTAIL_OK)
		goto out;
	if ((r = pt_claims_facebook_debug(p->c, dt, &uid, err)) != PORTAIL_OK)
		goto out;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)p->secret, strlen(p->secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, strlen(token));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(proof, sizeof(proof), mac, sizeof(mac));
	{
		const char *kv[] = { "fields", "id,email", "access_token", token,
			"appsecret_proof", proof };

		r = get_query(k, p->userinfo, kv, 6, &me, err);
	}
	if (r != PORTAIL_OK)
		goto out;
	r = pt_claims_facebook_me(p->c, me, uid, id, err);
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(proof, sizeof(proof));
	portail_secret_free(app);
	json_decref(dt);
	json_decref(me);
	return r;
}

/*
 * Does an access token of p say which application it was issued to?
 * Google's tokeninfo (aud), Facebook's debug_token (app_id) and RFC 7662
 * introspection (client_id) do; Microsoft's Graph tokens, LinkedIn's and
 * a bare userinfo do not (issue 11).
 */
static bool
takes_access_tokens(const struct prov *p)
{
	return kind_is(p, "google") || kind_is(p, "facebook") || p->introspection != NULL;
}

bool
portail_providers_take_access_tokens(const portail_providers *ps, const char *name)
{
	const struct prov *p = find((portail_providers *)(uintptr_t)ps, name);

	return p != NULL && takes_access_tokens(p);
}

portail_status
portail_providers_identify(portail_providers *ps, const char *name, const char *access_token,
    struct portail_identity *id, portail_error *err)
{
	struct prov *p = find(ps, name);
	json_t *ti = NULL, *ui = NULL;
	struct call k;
	portail_status r;
	size_t n;

	memset(id, 0, sizeof(*id));
	if (p == NULL)
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s", name ? name : "-");
	if (access_token == NULL || (n = strlen(access_token)) == 0 || n > TOKEN_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not an access token");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)access_token[i] <= 0x20 || (unsigned char)access_token[i] >= 0x7f)
			return portail_error_set(err, PORTAIL_ERR_INVALID, "not an access token");
	if (!takes_access_tokens(p))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: an access token of kind %s "
		    "does not say which application it was issued to, so it is not taken: sign in "
		    "with an ID token (id_token and nonce) or through the browser's code flow",
		    p->c->name, p->c->kind);
	k = call_for(p);
	if (kind_is(p, "facebook"))
		return facebook(&k, access_token, id, err);
	if (kind_is(p, "google") && (r = google(&k, access_token, &ti, err)) != PORTAIL_OK)
		goto out;
	if (p->introspection != NULL && (r = introspect(&k, access_token, &ti, err)) != PORTAIL_OK)
		goto out;
	if ((r = http_json(&k, p->userinfo, access_token, NULL, &ui, err)) != PORTAIL_OK)
		goto out;
	r = pt_claims_userinfo(p->c, ti, ui, id, err);
out:
	json_decref(ti);
	json_decref(ui);
	return r;
}

/*
 * The provider's keys, a new reference in *out: the cached ones, fetched
 * again when older than JWKS_TTL (the old ones kept when the provider
 * cannot answer: keys rotate slowly). With had (the keys that knew no
 * key for a token): newer ones than had, fetched again unless the last
 * fetch is younger than JWKS_REFETCH (UNKNOWN then: a stream of made-up
 * kids makes one request a minute, not one each).
 */
static portail_status
jwks_get(struct call *k, struct prov *p, const json_t *had, json_t **out, portail_error *err)
{
	long long now = portail_mono_ms();
	json_t *j = NULL;
	portail_status r;

	*out = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->jwks != NULL && had != NULL && p->jwks != had) {
		*out = json_incref(p->jwks);    /* another sign-in fetched them meanwhile */
		r = PORTAIL_OK;
		goto out;
	}
	if (p->jwks != NULL && had != NULL && now - p->jwks_at < JWKS_REFETCH * 1000LL) {
		r = portail_error_set(err, PORTAIL_ERR_UNKNOWN, "%s: no key of its JWKS can verify "
		    "this ID token (keys fetched less than %d s ago)", p->c->name, JWKS_REFETCH);
		goto out;
	}
	if (p->jwks != NULL && had == NULL && now - p->jwks_at < JWKS_TTL * 1000LL) {
		*out = json_incref(p->jwks);
		r = PORTAIL_OK;
		goto out;
	}
	r = http_json(k, p->jwks_url, NULL, NULL, &j, err);
	if (r == PORTAIL_OK && !pt_jwks_ok(j))
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: jwks_url answered no key set "
		    "(a \"keys\" array of at most %d)", p->c->name, PT_JWKS_KEYS_MAX);
	if (r == PORTAIL_OK) {
		json_decref(p->jwks);
		p->jwks = j;
		p->jwks_at = now;
		*out = json_incref(j);
	} else if (p->jwks != NULL && had == NULL) {
		json_decref(j);
		*out = json_incref(p->jwks);    /* stale, but the provider's */
		r = PORTAIL_OK;
	} else {
		json_decref(j);
		/* keys we cannot get are the provider's outage, not the parent's fault */
		if (r != PORTAIL_ERR_NOMEM)
			r = PORTAIL_ERR_UNAVAILABLE;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

portail_status
portail_providers_identify_id_token(portail_providers *ps, const char *name,
    const char *id_token, const char *nonce, int64_t now, struct portail_identity *id,
    portail_error *err)
{
	struct prov *p = find(ps, name);
	json_t *keys = NULL, *newer = NULL;
	struct call k;
	portail_status r;

	memset(id, 0, sizeof(*id));
	if (p == NULL)
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s", name ? name : "-");
	if (p->issuer == NULL || p->jwks_url == NULL)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: no issuer and jwks_url to "
		    "verify its ID tokens (kind %s): sign in with an access token", p->c->name,
		    p->c->kind);
	if (id_token == NULL || strlen(id_token) > PT_IDTOKEN_MAX || nonce == NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not an ID token and its nonce");
	/* what is no signed JWT of RS256 or ES256 never costs a request to the provider */
	if ((r = pt_idtoken_verify(p->c, p->issuer, NULL, id_token, nonce, 0, id, err)) !=
	    PORTAIL_ERR_UNKNOWN)
		return r == PORTAIL_OK ? PORTAIL_ERR_REFUSED : r;      /* OK cannot be: no keys */
	k = call_for(p);
	if ((r = jwks_get(&k, p, NULL, &keys, err)) != PORTAIL_OK)
		return r;
	r = pt_idtoken_verify(p->c, p->issuer, keys, id_token, nonce, now, id, err);
	if (r == PORTAIL_ERR_UNKNOWN) {
		/* an unknown kid: the provider may have rotated its keys */
		portail_status again = jwks_get(&k, p, keys, &newer, err);

		if (again == PORTAIL_OK)
			r = pt_idtoken_verify(p->c, p->issuer, newer, id_token, nonce, now, id,
			    err);
		else if (again != PORTAIL_ERR_UNKNOWN)
			r = again;
		if (r == PORTAIL_ERR_UNKNOWN)
			r = PORTAIL_ERR_REFUSED;        /* err says why */
	}
	json_decref(keys);
	json_decref(newer);
	return r;
}

portail_status
portail_providers_probe(portail_providers *ps, const char *name, portail_error *err)
{
	struct prov *p = find(ps, name);
	json_t *j = NULL;
	struct call k;
	portail_status r;

	if (p == NULL)
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s", name ? name : "-");
	k = call_for(p);
	/* an ID-token-only provider: its keys must be there */
	if (p->userinfo == NULL) {
		r = jwks_get(&k, p, NULL, &j, err);
		json_decref(j);
		return r;
	}
	r = http_json(&k, p->userinfo, NULL, NULL, &j, err);
	json_decref(j);
	/* without a token a provider says no: that is an answer */
	return r == PORTAIL_ERR_REFUSED ? PORTAIL_OK : r;
}

/* ---- the browser's authorization-code flow (portail-web, issue 14) ------------- */

/*
 * The kinds' endpoints, from their documentation: Google's OpenID
 * Connect, Microsoft's v2.0 common tenant, LinkedIn's "Sign In with
 * LinkedIn using OpenID Connect", Facebook's manual login flow. oidc has
 * none: authorize_url and token_url come from the configuration.
 */
static const struct {
	const char *kind, *authorize, *token, *scope;
	bool pkce;
} code_defaults[] = {
	{ "google", "https://accounts.google.com/o/oauth2/v2/auth",
	  "https://oauth2.googleapis.com/token", "openid email", true },
	{ "microsoft", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
	  "https://login.microsoftonline.com/common/oauth2/v2.0/token", "openid email profile",
	  true },
	{ "linkedin", "https://www.linkedin.com/oauth/v2/authorization",
	  "https://www.linkedin.com/oauth/v2/accessToken", "openid email", true },
	{ "facebook", "https://www.facebook.com/" PORTAIL_FACEBOOK_VERSION "/dialog/oauth",
	  "https://graph.facebook.com/" PORTAIL_FACEBOOK_VERSION "/oauth/access_token", "email",
	  false },
	{ "oidc", NULL, NULL, "openid email", true },
};

static bool
code_flow(const struct prov *p, const char **authorize, const char **token, const char **scope,
    bool *pkce)
{
	*authorize = p->c->authorize_url;
	*token = p->c->token_url;
	*scope = p->c->scope;
	*pkce = false;
	for (size_t i = 0; i < sizeof(code_defaults) / sizeof(code_defaults[0]); i++) {
		if (strcmp(code_defaults[i].kind, p->c->kind) != 0)
			continue;
		if (*authorize == NULL)
			*authorize = code_defaults[i].authorize;
		if (*token == NULL)
			*token = code_defaults[i].token;
		if (*scope == NULL)
			*scope = code_defaults[i].scope;
		*pkce = code_defaults[i].pkce;
	}
	return *authorize != NULL && *token != NULL && p->secret != NULL;
}

bool
portail_providers_code_flow(const portail_providers *ps, const char *name, bool *pkce,
    bool *nonce)
{
	const struct prov *p = find((portail_providers *)(uintptr_t)ps, name);
	const char *a, *t, *sc;
	bool k = false;

	if (p == NULL || !code_flow(p, &a, &t, &sc, &k))
		return false;
	if (pkce != NULL)
		*pkce = k;
	if (nonce != NULL)
		*nonce = !kind_is(p, "facebook") && p->issuer != NULL && p->jwks_url != NULL;
	return true;
}

portail_status
portail_providers_authorize_url(const portail_providers *ps, const char *name,
    const char *redirect_uri, const char *state, const char *nonce, const char *challenge,
    char **out, portail_error *err)
{
	const struct prov *p = find((portail_providers *)(uintptr_t)ps, name);
	const char *a, *t, *sc, *kv[24];
	size_t n = 0;
	bool pkce;
	CURL *c;

	*out = NULL;
	if (p == NULL || !code_flow(p, &a, &t, &sc, &pkce))
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s with a "
		    "code flow", name ? name : "-");
	kv[n++] = "response_type";
	kv[n++] = "code";
	kv[n++] = "client_id";
	kv[n++] = p->c->client_id;
	kv[n++] = "redirect_uri";
	kv[n++] = redirect_uri;
	kv[n++] = "scope";
	kv[n++] = sc;
	kv[n++] = "state";
	kv[n++] = state;
	if (!kind_is(p, "facebook")) {
		/* Facebook's dialog knows no response_mode; query is its only one */
		kv[n++] = "response_mode";
		kv[n++] = "query";
	}
	if (nonce != NULL) {
		kv[n++] = "nonce";
		kv[n++] = nonce;
	}
	if (challenge != NULL && pkce) {
		kv[n++] = "code_challenge";
		kv[n++] = challenge;
		kv[n++] = "code_challenge_method";
		kv[n++] = "S256";
	}
	if ((c = curl_easy_init()) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	*out = with_query(c, a, kv, n);
	curl_easy_cleanup(c);
	return *out != NULL ? PORTAIL_OK : portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
}

/* name=value&… with values escaped (a form body); NULL on failure. Wipe it (it holds secrets). */
static char *
form_of(const char *const *kv, size_t n)
{
	char *q = NULL, *out;
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	q = with_query(c, "", kv, n);   /* "?a=b&c=d" */
	curl_easy_cleanup(c);
	if (q == NULL)
		return NULL;
	out = strdup(q + 1);
	portail_secret_free(q);
	return out;
}

portail_status
portail_providers_exchange_code(portail_providers *ps, const char *name, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce, int64_t now,
    struct portail_identity *id, portail_error *err)
{
	struct prov *p = find(ps, name);
	const char *a, *t, *sc, *kv[24];
	char *form = NULL;
	json_t *ans = NULL, *v;
	struct call k;
	size_t n = 0;
	bool pkce, basic;
	portail_status r;

	memset(id, 0, sizeof(*id));
	if (p == NULL || !code_flow(p, &a, &t, &sc, &pkce))
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s with a "
		    "code flow", name ? name : "-");
	if (code == NULL || (n = strlen(code)) == 0 || n > TOKEN_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not an authorization code");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)code[i] <= 0x20 || (unsigned char)code[i] >= 0x7f)
			return portail_error_set(err, PORTAIL_ERR_INVALID, "not an authorization code");
	n = 0;
	k = call_for(p);
	/* RFC 6749 §4.1.3; Facebook's manual flow takes the same names on a GET */
	if (!kind_is(p, "facebook")) {
		kv[n++] = "grant_type";
		kv[n++] = "authorization_code";
	}
	kv[n++] = "code";
	kv[n++] = code;
	kv[n++] = "redirect_uri";
	kv[n++] = redirect_uri;
	if (verifier != NULL && pkce) {
		kv[n++] = "code_verifier";
		kv[n++] = verifier;
	}
	/* HTTP basic where the provider takes it; the others want the secret in the body */
	basic = kind_is(p, "google") || kind_is(p, "oidc");
	if (!basic) {
		kv[n++] = "client_id";
		kv[n++] = p->c->client_id;
		kv[n++] = "client_secret";
		kv[n++] = p->secret;
	}
	if (kind_is(p, "facebook")) {
		r = get_query(&k, t, kv, n, &ans, err);
	} else if ((form = form_of(kv, n)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	} else {
		r = http_json_auth(&k, t, NULL, form, basic, &ans, err);
	}
	if (r != PORTAIL_OK)
		goto out;
	if (kind_is(p, "facebook")) {
		/* an access token, whose app debug_token checks; never vouched */
		if (!json_is_string(v = json_object_get(ans, "access_token"))) {
			r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: no access_token in the "
			    "token endpoint's answer", p->c->name);
			goto out;
		}
		r = facebook(&k, json_string_value(v), id, err);
		goto out;
	}
	/* the OpenID kinds: the ID token, checked as social.begin checks one */
	if (!json_is_string(v = json_object_get(ans, "id_token")) || nonce == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: no id_token in the token "
		    "endpoint's answer (scope openid?)", p->c->name);
		goto out;
	}
	r = portail_providers_identify_id_token(ps, name, json_string_value(v), nonce, now, id,
	    err);
out:
	if (ans != NULL) {
		const char *f[] = { "access_token", "id_token", "refresh_token" };

		for (size_t i = 0; i < 3; i++) {
			json_t *s = json_object_get(ans, f[i]);

			if (json_is_string(s))
				sodium_memzero((char *)(uintptr_t)json_string_value(s),
				    json_string_length(s));
		}
		json_decref(ans);
	}
	portail_secret_free(form);
	return r;
}
