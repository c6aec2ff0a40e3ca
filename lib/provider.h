/*
 * provider.h — social accounts' providers (DESIGN §1): turning a
 * provider's access token into an identity, with libcurl and jansson.
 *
 * One portail_providers holds every [provider.NAME], with the client
 * secrets read once at start (the daemon then drops its privileges).
 * Thread-safe: each call has its own curl handle.
 *
 * The identity key is (provider, subject), never the e-mail. vouched is
 * true only when the provider says it verified that e-mail, under
 * DESIGN's rules: Google and LinkedIn with email_verified true (a JSON
 * true or the string "true"), Microsoft only with xms_edov true, an
 * OpenID provider with email_verified true, Facebook never.
 */
#ifndef PORTAIL_PROVIDER_H
#define PORTAIL_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "identity.h"
#include "portail.h"

typedef struct portail_providers portail_providers;

/* Reads the client secrets; CONFIG for a provider that lacks what its kind needs. */
portail_status portail_providers_new(const portail_config *cfg,
    portail_providers **out, portail_error *err);
void portail_providers_free(portail_providers *p);

/* Is NAME a configured provider? */
bool portail_providers_has(const portail_providers *p, const char *name);

/*
 * Asks provider NAME who access_token belongs to. OK: *out filled (free
 * with portail_identity_clear). REFUSED: the token is not good for us
 * (another application's, expired, revoked, a provider error, no subject,
 * a malformed e-mail, an oversized or malformed answer), the reason in
 * err. UNAVAILABLE: the provider unreachable, failing (5xx) or slower
 * than its timeout. UNKNOWN: no such provider. INVALID: a token that
 * cannot be one (empty, too long, not printable). Only the providers
 * whose access tokens say which application they were issued to take
 * them (portail_providers_take_access_tokens); the others are REFUSED
 * before any request, err naming the ID token and the browser's code flow.
 */
portail_status portail_providers_identify(portail_providers *p,
    const char *name, const char *access_token, struct portail_identity *out,
    portail_error *err);

/*
 * Google, Facebook, and any provider with introspection_url: their access
 * tokens name the application they were issued to. False for microsoft,
 * linkedin and oidc without introspection_url, and for an unknown NAME.
 */
bool portail_providers_take_access_tokens(const portail_providers *p,
    const char *name);

/*
 * As portail_providers_identify, with an OpenID Connect ID token and the
 * nonce the caller sent with the sign-in: its signature checked against
 * the provider's JWKS (jwks_url, fetched within the provider's timeout,
 * kept an hour, fetched again for an unknown kid at most once a minute),
 * then iss, aud, azp, exp and nonce (idtoken.h), exp and iat against now
 * (seconds since the epoch: the caller's clock, as the flows'). REFUSED
 * also for a provider without issuer and jwks_url (facebook); UNAVAILABLE
 * when its keys cannot be fetched.
 */
portail_status portail_providers_identify_id_token(portail_providers *p,
    const char *name, const char *id_token, const char *nonce, int64_t now,
    struct portail_identity *out, portail_error *err);

/*
 * Does provider NAME answer? An unauthenticated request to its userinfo
 * endpoint: any HTTP answer but a 5xx means it is reachable (OK);
 * UNAVAILABLE otherwise, the reason in err. A provider with no userinfo
 * (ID tokens only): its JWKS must be fetched.
 */
portail_status portail_providers_probe(portail_providers *p, const char *name,
    portail_error *err);

/* ---- the browser's authorization-code flow (portail-web, issue 14) ------------- */

/* The Graph API version of Facebook's default endpoints. */
#define PORTAIL_FACEBOOK_VERSION "v19.0"

/*
 * Can provider NAME sign a browser in through its authorization endpoint
 * (authorize_url and token_url, or its kind's defaults, and a client
 * secret)? *pkce: it takes PKCE S256 (all kinds but facebook); *nonce: it
 * answers an ID token that carries the nonce (the OpenID kinds). Either
 * may be NULL.
 */
bool portail_providers_code_flow(const portail_providers *p, const char *name, bool *pkce,
    bool *nonce);

/*
 * The URL the browser goes to: authorize_url with response_type=code,
 * client_id, redirect_uri, scope, state, response_mode=query (not for
 * facebook), nonce and code_challenge (S256) when not NULL. *out a new
 * string (free it). UNKNOWN: no such provider, or no code flow.
 */
portail_status portail_providers_authorize_url(const portail_providers *p,
    const char *name, const char *redirect_uri, const char *state, const char *nonce,
    const char *challenge, char **out, portail_error *err);

/*
 * Exchanges the authorization code at token_url with the client secret
 * (HTTP basic for google and oidc, in the body for the others; GET for
 * facebook, as its manual flow says), with the PKCE verifier when not
 * NULL. The OpenID kinds: the answer's id_token checked as
 * portail_providers_identify_id_token does (its nonce the one sent);
 * facebook: its access token through debug_token and /me (never
 * vouched). OK: *out filled. REFUSED: a code the provider refused (used,
 * expired, another client's, another redirect_uri), no or a bad ID token.
 * UNAVAILABLE, UNKNOWN, INVALID as portail_providers_identify.
 */
portail_status portail_providers_exchange_code(portail_providers *p, const char *name,
    const char *code, const char *redirect_uri, const char *verifier, const char *nonce,
    int64_t now, struct portail_identity *out, portail_error *err);

#endif
