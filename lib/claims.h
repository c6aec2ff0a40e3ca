/*
 * claims.h — what portail believes of a provider's answers (internal to
 * libportail; provider.c does the HTTP). Kept apart so that the tests and
 * a fuzz target feed them any bytes a hostile or broken provider could
 * send.
 *
 * c is the [provider.NAME] section (name, kind, client_id). Every refusal
 * is REFUSED with a reason fit for the log (provider values are cut to
 * printable ASCII); nothing here ever sees a token.
 */
#ifndef PORTAIL_CLAIMS_H
#define PORTAIL_CLAIMS_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "identity.h"

/* The answer a provider may send, at most; larger is refused. */
#define PORTAIL_PROVIDER_BODY_MAX (64 * 1024)

/*
 * An HTTP answer: status and body. OK with *out a JSON object (200);
 * UNAVAILABLE for 5xx and 429; REFUSED for any other status (with the
 * provider's own words), a body over PORTAIL_PROVIDER_BODY_MAX, or one
 * that is not a JSON object (duplicate keys refused).
 */
portail_status pt_claims_answer(const struct portail_provider_config *c, long status,
    const char *body, size_t len, json_t **out, portail_error *err);

/* Google's tokeninfo: the token was issued to our client id (aud; azp too when present). */
portail_status pt_claims_google_tokeninfo(const struct portail_provider_config *c, json_t *ti,
    portail_error *err);

/* RFC 7662: active, and issued to our client id (client_id; aud when there is no client_id). */
portail_status pt_claims_introspection(const struct portail_provider_config *c, json_t *ti,
    portail_error *err);

/*
 * OpenID userinfo (and the token information ti, may be NULL, which must
 * name the same subject): the identity, vouched by the kind's rule.
 */
portail_status pt_claims_userinfo(const struct portail_provider_config *c, json_t *ti,
    json_t *ui, struct portail_identity *id, portail_error *err);

/* Facebook's debug_token: valid and ours; *user_id borrowed from dt. */
portail_status pt_claims_facebook_debug(const struct portail_provider_config *c, json_t *dt,
    json_t **user_id, portail_error *err);

/* Facebook's /me for that user: the identity, never vouched. */
portail_status pt_claims_facebook_me(const struct portail_provider_config *c, json_t *me,
    json_t *user_id, struct portail_identity *id, portail_error *err);

/*
 * The payload pl of an ID token whose signature idtoken.c verified: iss
 * (see pt_idtoken_verify for {tenantid}), aud and azp ours, exp, nbf and
 * iat against now with PT_IDTOKEN_SKEW, nonce equal; then the identity
 * by the userinfo rules.
 */
portail_status pt_claims_id_token(const struct portail_provider_config *c, const char *iss,
    json_t *pl, const char *nonce, int64_t now, struct portail_identity *id, portail_error *err);

#endif
