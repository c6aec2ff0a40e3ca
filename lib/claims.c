/* claims.c — what portail believes of a provider's answers; see claims.h. */
#include "claims.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "email.h"
#include "idtoken.h"

#define SUBJECT_MAX 255

/* A value from a provider, made safe to log. */
static const char *
loggable(json_t *v, char *buf, size_t size)
{
	const char *s = json_string_value(v);
	size_t i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < size && i < 120; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

portail_status
pt_claims_answer(const struct portail_provider_config *c, long status, const char *body,
    size_t len, json_t **out, portail_error *err)
{
	char a[128], b[128];
	json_error_t je;
	json_t *j, *e;

	*out = NULL;
	if (status >= 500 || status == 429)
		return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s answered HTTP %ld", c->name,
		    status);
	if (len > PORTAIL_PROVIDER_BODY_MAX)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: answer larger than %d bytes",
		    c->name, PORTAIL_PROVIDER_BODY_MAX);
	j = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (status != 200) {
		/* the provider's own words: error, error_description, or error.message */
		e = json_object_get(j, "error");
		if (json_is_object(e))
			portail_error_set(err, PORTAIL_ERR_REFUSED, "%s refused the token (HTTP %ld): %s",
			    c->name, status, loggable(json_object_get(e, "message"), a, sizeof(a)));
		else
			portail_error_set(err, PORTAIL_ERR_REFUSED, "%s refused the token (HTTP %ld): "
			    "%s %s", c->name, status, loggable(e, a, sizeof(a)),
			    loggable(json_object_get(j, "error_description"), b, sizeof(b)));
		json_decref(j);
		return PORTAIL_ERR_REFUSED;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: malformed answer (not a JSON "
		    "object)", c->name);
	}
	*out = j;
	return PORTAIL_OK;
}

/* A JSON true or the string "true" (Google sends strings); *ok false for other types. */
static bool
claim_true(json_t *v, bool *ok)
{
	*ok = true;
	if (v == NULL || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_true(v))
		return true;
	if (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 ||
	    strcmp(json_string_value(v), "false") == 0))
		return strcmp(json_string_value(v), "true") == 0;
	*ok = false;
	return false;
}

static bool
subject_ok(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n;

	if (s == NULL || (n = json_string_length(v)) == 0 || n > SUBJECT_MAX || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Fills id from a subject, an e-mail and whether it is vouched; REFUSED when malformed. */
static portail_status
identity_from(const struct portail_provider_config *c, json_t *sub, json_t *email, bool vouched,
    struct portail_identity *id, portail_error *err)
{
	const char *e = json_string_value(email);

	if (!subject_ok(sub))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: no usable subject in the "
		    "answer", c->name);
	if (email != NULL && !json_is_null(email) &&
	    (e == NULL || strlen(e) != json_string_length(email) ||
	    portail_email_check(e, NULL) != PORTAIL_OK))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: malformed e-mail in the "
		    "answer", c->name);
	memset(id, 0, sizeof(*id));
	id->provider = strdup(c->name);
	id->subject = strdup(json_string_value(sub));
	id->email = e ? strdup(e) : NULL;
	id->vouched = vouched && e != NULL;
	if (id->provider == NULL || id->subject == NULL || (e != NULL && id->email == NULL)) {
		portail_identity_clear(id);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	return PORTAIL_OK;
}

/* Is our client id the token's audience (a string or an array of strings)? */
static bool
ours(const struct portail_provider_config *c, json_t *v)
{
	size_t i;
	json_t *x;

	/* the lengths too: "portail\u0000x" is not portail */
	if (json_is_string(v))
		return json_string_length(v) == strlen(c->client_id) &&
		    strcmp(json_string_value(v), c->client_id) == 0;
	json_array_foreach(v, i, x)
		if (json_is_string(x) && json_string_length(x) == strlen(c->client_id) &&
		    strcmp(json_string_value(x), c->client_id) == 0)
			return true;
	return false;
}

static portail_status
not_ours(const struct portail_provider_config *c, portail_error *err)
{
	return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the token was issued to another "
	    "application", c->name);
}

/* Is v exactly our client id, a string (client_id, azp, app_id: never an array)? */
static bool
ours_only(const struct portail_provider_config *c, json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
	    strcmp(json_string_value(v), c->client_id) == 0;
}

portail_status
pt_claims_google_tokeninfo(const struct portail_provider_config *c, json_t *ti,
    portail_error *err)
{
	json_t *azp = json_object_get(ti, "azp");

	/* aud is whom Google issued the token to; azp, when there, must agree */
	if (!ours_only(c, json_object_get(ti, "aud")) || (azp != NULL && !ours_only(c, azp)))
		return not_ours(c, err);
	return PORTAIL_OK;
}

portail_status
pt_claims_introspection(const struct portail_provider_config *c, json_t *ti, portail_error *err)
{
	json_t *cid = json_object_get(ti, "client_id");

	if (!json_is_true(json_object_get(ti, "active")))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the token is not active "
		    "(expired or revoked)", c->name);
	/* client_id is who asked for the token: ours, whatever its audience says */
	if (cid != NULL ? !ours_only(c, cid) : !ours(c, json_object_get(ti, "aud")))
		return not_ours(c, err);
	return PORTAIL_OK;
}

portail_status
pt_claims_userinfo(const struct portail_provider_config *c, json_t *ti, json_t *ui,
    struct portail_identity *id, portail_error *err)
{
	/* DESIGN §1: Microsoft's email claim is not verified; only xms_edov vouches */
	const char *rule = strcmp(c->kind, "microsoft") == 0 ? "xms_edov" : "email_verified";
	bool vouched, ok;

	memset(id, 0, sizeof(*id));
	/* the two answers must be about the same person */
	if (json_is_string(json_object_get(ti, "sub")) &&
	    !json_equal(json_object_get(ti, "sub"), json_object_get(ui, "sub")))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: token information and "
		    "userinfo disagree on the subject", c->name);
	vouched = claim_true(json_object_get(ui, rule), &ok);
	if (!ok)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: malformed %s in the answer",
		    c->name, rule);
	return identity_from(c, json_object_get(ui, "sub"), json_object_get(ui, "email"), vouched,
	    id, err);
}

portail_status
pt_claims_facebook_debug(const struct portail_provider_config *c, json_t *dt, json_t **user_id,
    portail_error *err)
{
	json_t *data = json_object_get(dt, "data");

	*user_id = json_object_get(data, "user_id");
	if (!json_is_true(json_object_get(data, "is_valid")))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the token is not valid "
		    "(expired or revoked)", c->name);
	if (!ours_only(c, json_object_get(data, "app_id")))
		return not_ours(c, err);
	return PORTAIL_OK;
}

portail_status
pt_claims_facebook_me(const struct portail_provider_config *c, json_t *me, json_t *user_id,
    struct portail_identity *id, portail_error *err)
{
	memset(id, 0, sizeof(*id));
	if (user_id == NULL || !json_equal(json_object_get(me, "id"), user_id))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: /me and debug_token disagree "
		    "on the user", c->name);
	return identity_from(c, json_object_get(me, "id"), json_object_get(me, "email"), false, id,
	    err);
}

/* The issuer the token must name: iss, with {tenantid} replaced by its tid claim (MSAL). */
static bool
issuer_is(const struct portail_provider_config *c, const char *iss, json_t *pl)
{
	const char *got = json_string_value(json_object_get(pl, "iss"));
	const char *tid = json_string_value(json_object_get(pl, "tid"));
	const char *t = strstr(iss, "{tenantid}");
	char want[600];
	size_t n;

	if (got == NULL || strlen(got) != json_string_length(json_object_get(pl, "iss")))
		return false;
	if (t == NULL)
		return strcmp(got, iss) == 0 ||
		    /* Google signs some with the bare host (its documentation says accept both) */
		    (strcmp(c->kind, "google") == 0 && strcmp(iss, "https://accounts.google.com") == 0 &&
		    strcmp(got, "accounts.google.com") == 0);
	/* a tenant is a GUID (or a verified domain): nothing that could change the URL's shape */
	if (tid == NULL || (n = strlen(tid)) == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((tid[i] >= 'a' && tid[i] <= 'z') || (tid[i] >= 'A' && tid[i] <= 'Z') ||
		    (tid[i] >= '0' && tid[i] <= '9') || tid[i] == '-' || tid[i] == '.'))
			return false;
	if ((size_t)snprintf(want, sizeof(want), "%.*s%s%s", (int)(t - iss), iss, tid,
	    t + strlen("{tenantid}")) >= sizeof(want))
		return false;
	return strcmp(got, want) == 0;
}

/* A NumericDate claim: OK with *t; false when present and not a number (or absent when needed). */
static bool
date_claim(json_t *pl, const char *name, bool needed, double *t)
{
	json_t *v = json_object_get(pl, name);

	*t = 0;
	if (v == NULL)
		return !needed;
	if (!json_is_number(v))
		return false;
	*t = json_number_value(v);
	return true;
}

portail_status
pt_claims_id_token(const struct portail_provider_config *c, const char *iss, json_t *pl,
    const char *nonce, int64_t now, struct portail_identity *id, portail_error *err)
{
	json_t *aud = json_object_get(pl, "aud"), *azp = json_object_get(pl, "azp");
	const char *got = json_string_value(json_object_get(pl, "nonce"));
	double exp, nbf, iat;
	char a[128];

	memset(id, 0, sizeof(*id));
	if (!issuer_is(c, iss, pl))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token's issuer %s is "
		    "not %s", c->name, loggable(json_object_get(pl, "iss"), a, sizeof(a)), iss);
	/* OpenID Connect Core 3.1.3.7: aud holds us; azp is us when present or with several */
	if (!ours(c, aud) || ((azp != NULL || (json_is_array(aud) && json_array_size(aud) > 1)) &&
	    !ours_only(c, azp)))
		return not_ours(c, err);
	if (!date_claim(pl, "exp", true, &exp) || !date_claim(pl, "nbf", false, &nbf) ||
	    !date_claim(pl, "iat", false, &iat))
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token has no exp, or "
		    "a date that is not a number", c->name);
	if (exp + PT_IDTOKEN_SKEW <= (double)now)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token expired",
		    c->name);
	if (nbf - PT_IDTOKEN_SKEW > (double)now || iat - PT_IDTOKEN_SKEW > (double)now)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token is from the "
		    "future (nbf or iat)", c->name);
	/* the nonce the caller sent with the sign-in: a token replayed from elsewhere has another */
	if (got == NULL || nonce == NULL || strlen(got) != strlen(nonce) ||
	    json_string_length(json_object_get(pl, "nonce")) != strlen(nonce) ||
	    sodium_memcmp(got, nonce, strlen(nonce)) != 0)
		return portail_error_set(err, PORTAIL_ERR_REFUSED, "%s: the ID token's nonce is not "
		    "the one of this sign-in", c->name);
	return pt_claims_userinfo(c, NULL, pl, id, err);
}
