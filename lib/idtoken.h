/*
 * idtoken.h — an OpenID Connect ID token checked against its provider's
 * keys (internal to libportail; provider.c fetches and caches the keys).
 * Kept apart from the HTTP so that the tests and a fuzz target feed it
 * any token and any key set.
 *
 * What ties the token to us (OpenID Connect Core §3.1.3.7): a compact
 * JWS signed with RS256 or ES256 by a key of the provider's JWKS (never
 * "none", never HS*, never a key the token carries itself: jwk, jku,
 * x5u and x5c headers are ignored), iss the provider's issuer, aud our
 * client id (azp ours too when present or when there are several
 * audiences), exp not past, nbf and iat not in the future (with
 * PT_IDTOKEN_SKEW), and nonce the one the caller sent to the provider.
 * The person's claims then go through the same rules as userinfo
 * (claims.c): sub, email, email_verified or, for microsoft, xms_edov.
 */
#ifndef PORTAIL_IDTOKEN_H
#define PORTAIL_IDTOKEN_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "identity.h"

#define PT_IDTOKEN_MAX 16384    /* bytes; Microsoft's with groups stay far below */
#define PT_IDTOKEN_SKEW 60      /* s of clock difference allowed on exp, nbf, iat */
#define PT_JWKS_KEYS_MAX 64     /* keys in a JWKS, at most */
#define PT_NONCE_MAX 255

/*
 * Checks id_token against jwks (a JSON Web Key Set: {"keys": [...]}) for
 * provider c, whose ID tokens have issuer iss ("{tenantid}" in it is
 * replaced by the token's tid claim, as MSAL does), at time now (seconds
 * since the epoch). OK: *out filled (free with portail_identity_clear).
 * REFUSED with the reason in err. UNKNOWN: no key of jwks can sign this
 * token (an unknown kid: the caller may fetch the keys again, then
 * refuse). INVALID: not something that can be an ID token or a nonce.
 */
portail_status pt_idtoken_verify(const struct portail_provider_config *c, const char *iss,
    const json_t *jwks, const char *id_token, const char *nonce, int64_t now,
    struct portail_identity *out, portail_error *err);

/* Is j a key set portail can use (an object with a "keys" array of at most PT_JWKS_KEYS_MAX)? */
bool pt_jwks_ok(const json_t *j);

#endif
