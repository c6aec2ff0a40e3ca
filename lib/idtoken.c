/* idtoken.c — OpenID Connect ID tokens checked with libjose; see idtoken.h. */
#include "idtoken.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jose/jose.h>

#include "claims.h"

/* The key type an algorithm needs; NULL for any algorithm portail does not take. */
static const char *
alg_kty(const char *alg)
{
	if (alg == NULL)
		return NULL;
	if (strcmp(alg, "RS256") == 0)
		return "RSA";
	if (strcmp(alg, "ES256") == 0)
		return "EC";
	return NULL;    /* none, HS* (a public key as an HMAC secret), and the rest */
}

static bool
b64url(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* A base64url part as a JSON object (duplicate names refused); NULL otherwise. */
static json_t *
part_json(const char *s, size_t n)
{
	size_t len = jose_b64_dec_buf(s, n, NULL, 0);
	char *buf;
	json_t *j = NULL;

	if (len == SIZE_MAX || len == 0 || len > PT_IDTOKEN_MAX || (buf = malloc(len)) == NULL)
		return NULL;
	if (jose_b64_dec_buf(s, n, buf, len) == len)
		j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Decoded size of a base64url member of k, or 0 when it is missing or not base64url. */
static size_t
member_bytes(const json_t *k, const char *name)
{
	json_t *v = json_object_get(k, name);
	size_t n;

	if (!json_is_string(v) || !b64url(json_string_value(v), json_string_length(v)))
		return 0;
	n = jose_b64_dec(v, NULL, 0);
	return n == SIZE_MAX ? 0 : n;
}

/*
 * The public part of JWKS key k when it may verify alg (and carries kid
 * when the token names one), pinned to alg; NULL otherwise. Nothing but
 * the public numbers is copied: a "d", an "oct" key, key_ops or x5c in a
 * hostile key set change nothing.
 */
static json_t *
usable_key(const json_t *k, const char *alg, const char *kid)
{
	const char *kty = json_string_value(json_object_get(k, "kty"));
	json_t *use = json_object_get(k, "use"), *kalg = json_object_get(k, "alg");
	json_t *kkid = json_object_get(k, "kid");
	size_t n;

	if (!json_is_object(k) || kty == NULL || strcmp(kty, alg_kty(alg)) != 0)
		return NULL;
	if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		return NULL;
	if (kalg != NULL && (!json_is_string(kalg) || strcmp(json_string_value(kalg), alg) != 0))
		return NULL;
	if (kid != NULL && (!json_is_string(kkid) || strlen(kid) != json_string_length(kkid) ||
	    strcmp(json_string_value(kkid), kid) != 0))
		return NULL;
	if (strcmp(kty, "RSA") == 0) {
		/* 2048 to 8192 bits: no toy keys, no work factor for an attacker */
		n = member_bytes(k, "n");
		if (n < 256 || n > 1024 || member_bytes(k, "e") == 0 || member_bytes(k, "e") > 8)
			return NULL;
		return json_pack("{s:s, s:s, s:O, s:O}", "kty", "RSA", "alg", alg,
		    "n", json_object_get(k, "n"), "e", json_object_get(k, "e"));
	}
	if (!json_is_string(json_object_get(k, "crv")) ||
	    strcmp(json_string_value(json_object_get(k, "crv")), "P-256") != 0 ||
	    member_bytes(k, "x") != 32 || member_bytes(k, "y") != 32)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:O, s:O}", "kty", "EC", "crv", "P-256", "alg", alg,
	    "x", json_object_get(k, "x"), "y", json_object_get(k, "y"));
}

bool
pt_jwks_ok(const json_t *j)
{
	json_t *keys = json_object_get(j, "keys");

	return json_is_array(keys) && json_array_size(keys) <= PT_JWKS_KEYS_MAX;
}

portail_status
pt_idtoken_verify(const struct portail_provider_config *c, const char *iss, const json_t *jwks,
    const char *id_token, const char *nonce, int64_t now, struct portail_identity *out,
    portail_error *err)
{
	const char *d1, *d2, *alg, *kid = NULL;
	json_t *hdr = NULL, *pl = NULL, *jws = NULL, *k;
	bool found = false, good = false;
	size_t n, i;
	portail_status r;

	memset(out, 0, sizeof(*out));
	if (id_token == NULL || (n = strlen(id_token)) == 0 || n > PT_IDTOKEN_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not an ID token");
	if (nonce == NULL || (n = strlen(nonce)) == 0 || n > PT_NONCE_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not a nonce");
	for (i = 0; i < n; i++)
		if ((unsigned char)nonce[i] <= 0x20 || (unsigned char)nonce[i] >= 0x7f)
			return portail_error_set(err, PORTAIL_ERR_INVALID, "not a nonce");
	/* a compact JWS: three base64url parts (an encrypted JWT has five: not taken) */
	d1 = strchr(id_token, '.');
	d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	if (d2 == NULL || strchr(d2 + 1, '.') != NULL ||
	    !b64url(id_token, (size_t)(d1 - id_token)) || !b64url(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !b64url(d2 + 1, strlen(d2 + 1)))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not an ID token (a signed JWT)");
	if ((hdr = part_json(id_token, (size_t)(d1 - id_token))) == NULL ||
	    (pl = part_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: malformed ID token", c->name);
		goto out;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (alg_kty(alg) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: ID token signed with %.16s: "
		    "only RS256 and ES256 are taken", c->name,
		    alg != NULL && b64url(alg, strlen(alg)) ? alg : "another algorithm");
		goto out;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: ID token with critical "
		    "extensions", c->name);
		goto out;
	}
	if (json_object_get(hdr, "kid") != NULL &&
	    ((kid = json_string_value(json_object_get(hdr, "kid"))) == NULL ||
	    strlen(kid) != json_string_length(json_object_get(hdr, "kid")))) {
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: malformed kid in the ID token",
		    c->name);
		goto out;
	}
	if ((jws = json_pack("{s:s%, s:s%, s:s}", "protected", id_token, (size_t)(d1 - id_token),
	    "payload", d1 + 1, (size_t)(d2 - d1 - 1), "signature", d2 + 1)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		json_t *pub;

		if (i >= PT_JWKS_KEYS_MAX)
			break;
		if ((pub = usable_key(k, alg, kid)) == NULL)
			continue;
		found = true;
		good = jose_jws_ver(NULL, jws, NULL, pub, false);
		json_decref(pub);
		if (good)
			break;
	}
	if (!found)
		r = portail_error_set(err, PORTAIL_ERR_UNKNOWN, "%s: no key of its JWKS can verify "
		    "this ID token (%s%s%.40s)", c->name, alg, kid ? ", kid " : "",
		    kid && b64url(kid, strlen(kid)) ? kid : kid ? "?" : "");
	else if (!good)
		r = portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token's signature does "
		    "not verify", c->name);
	else
		r = pt_claims_id_token(c, iss, pl, nonce, now, out, err);
out:
	json_decref(hdr);
	json_decref(pl);
	json_decref(jws);
	return r;
}
