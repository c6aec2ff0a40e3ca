/*
 * oauth.h — the browser's authorization-code flow for social sign-in
 * (issue 14): what portaild does between portail-web's /social/NAME and
 * its /retour.
 *
 * social.authorize makes three random strings: the state cookie's secret
 * (it stays in the browser, HttpOnly; its keyed hash is the store's key),
 * the nonce (OpenID kinds) and the PKCE verifier (RFC 7636, S256; all
 * kinds but facebook). The state parameter sent to the provider is
 * another keyed hash of the cookie's secret: a callback is taken only
 * from the browser that began it (login CSRF), and the provider never
 * sees the cookie. The state is single use, for PORTAIL_OAUTH_LIFETIME.
 *
 * The redirect_uri is [web] public_url + "/social/NAME/retour".
 */
#ifndef PORTAIL_OAUTH_H
#define PORTAIL_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define PORTAIL_OAUTH_LIFETIME 600      /* s: the cookie's Max-Age too */
#define PORTAIL_OAUTH_SECRET_LEN 43     /* 32 random bytes, base64url without padding */
#define PORTAIL_PKCE_VERIFIER_LEN 43    /* 32 random bytes (RFC 7636 §4.1 recommends) */
#define PORTAIL_PKCE_CHALLENGE_LEN 43   /* base64url(SHA-256) without padding */
#define PORTAIL_OAUTH_RETURN_MAX 512

/* out (2 x n bytes at least) = base64url without padding of n random bytes. */
void portail_oauth_random(char *out, size_t out_size, size_t n);

/* RFC 7636 §4.2: challenge = BASE64URL(SHA256(ASCII(verifier))). */
void portail_pkce_s256(const char *verifier, char challenge[PORTAIL_PKCE_CHALLENGE_LEN + 1]);

/*
 * Is path a return path we may send a browser to after sign-in? A path
 * of this site only: "/" then printable ASCII, not "//" nor "/\" (a
 * browser takes both for another host), no backslash, no control or
 * space, at most PORTAIL_OAUTH_RETURN_MAX bytes.
 */
bool portail_oauth_return_ok(const char *path);

/* public_url + "/social/" + provider + "/retour" into out; false when it does not fit. */
bool portail_oauth_redirect_uri(const char *public_url, const char *provider, char *out,
    size_t size);

/*
 * social.authorize: *url (a new string) the provider's authorization URL,
 * state_secret the cookie's value. UNKNOWN: no such provider or one
 * without a code flow; CONFIG: no [web] public_url; INVALID: a return
 * path that is not ours (it is never kept); UNAVAILABLE: the store.
 */
portail_status portail_flow_social_authorize(portail_flow *f, const char *provider,
    const char *return_to, int64_t now, char **url,
    char state_secret[PORTAIL_OAUTH_SECRET_LEN + 1], portail_error *err);

/*
 * social.callback: the state taken (once) by the cookie's secret, the
 * state parameter checked against it, the provider the one it was made
 * for, then the code exchanged and the identity entered as social.begin
 * does. *return_to (a new string or NULL) the path kept at authorize.
 * BAD_TICKET: no live state for this cookie, a state parameter of
 * another, another provider's callback (the state is spent all the
 * same); REFUSED: the provider refused the code or its ID token;
 * UNAVAILABLE; then as portail_flow_social_begin.
 */
portail_status portail_flow_social_callback(portail_flow *f, const char *provider,
    const char *state_secret, const char *state, const char *code, const char *label,
    int64_t now, struct portail_social_result *out, char **return_to, portail_error *err);

/*
 * The provider said no (?error=access_denied…): the state is spent, so a
 * second try begins again. OK whether or not there was one; UNAVAILABLE.
 */
portail_status portail_flow_social_abandon(portail_flow *f, const char *state_secret,
    int64_t now, portail_error *err);

#endif
