/*
 * test_idtoken.c — ID tokens (lib/idtoken.c, lib/claims.c) with keys made
 * here by libjose: what is accepted, and every way a token minted for
 * another application, another issuer, another sign-in, or by nobody
 * (alg none, HS256 with a public key as secret, unknown kid, hostile key
 * sets) is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jose/jose.h>

#include "idtoken.h"

#define ISS "https://idp.example"
#define MS_ISS "https://login.microsoftonline.com/{tenantid}/v2.0"
#define TID "9188040d-6c67-4c5b-b112-36a304b66dad"

static const struct portail_provider_config ecole = {
	.name = (char *)(uintptr_t)"ecole", .kind = (char *)(uintptr_t)"oidc",
	.client_id = (char *)(uintptr_t)"portail" };
static const struct portail_provider_config microsoft = {
	.name = (char *)(uintptr_t)"microsoft", .kind = (char *)(uintptr_t)"microsoft",
	.client_id = (char *)(uintptr_t)"portail" };
static const struct portail_provider_config google = {
	.name = (char *)(uintptr_t)"google", .kind = (char *)(uintptr_t)"google",
	.client_id = (char *)(uintptr_t)"portail" };

static json_t *rsa, *ec, *jwks;
static int64_t now;

static json_t *
gen(const char *spec, const char *kid)
{
	json_t *k = json_loads(spec, 0, NULL);

	assert_non_null(k);
	assert_true(jose_jwk_gen(NULL, k));
	json_object_set_new(k, "kid", json_string(kid));
	return k;
}

static json_t *
pub(const json_t *k)
{
	json_t *p = json_deep_copy(k);

	assert_true(jose_jwk_pub(NULL, p));
	return p;
}

static int
setup(void **state)
{
	(void)state;
	now = (int64_t)time(NULL);
	rsa = gen("{\"kty\":\"RSA\",\"bits\":2048}", "r1");
	ec = gen("{\"kty\":\"EC\",\"crv\":\"P-256\"}", "e1");
	jwks = json_pack("{s:[o,o]}", "keys", pub(rsa), pub(ec));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(rsa);
	json_decref(ec);
	json_decref(jwks);
	return 0;
}

/* The claims of a good token for us; callers change them. */
static json_t *
claims(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "iss", ISS, "aud", "portail",
	    "sub", "s1", "email", "a@b.ca", "email_verified", 1, "exp", (json_int_t)(now + 600),
	    "iat", (json_int_t)now, "nonce", "n1");
}

static char *
b64(const char *text)
{
	json_t *j = jose_b64_enc(text, strlen(text));
	char *s = strdup(json_string_value(j));

	json_decref(j);
	return s;
}

/* A compact JWS of payload (stolen reference) signed by key with header (stolen). */
static char *
sign(const json_t *key, json_t *header, json_t *payload)
{
	json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc_dump(payload));
	json_t *sig = json_pack("{s:o}", "protected", header);
	char *out;

	assert_true(jose_jws_sig(NULL, jws, sig, key));
	assert_true(asprintf(&out, "%s.%s.%s", json_string_value(json_object_get(jws, "protected")),
	    json_string_value(json_object_get(jws, "payload")),
	    json_string_value(json_object_get(jws, "signature"))) > 0);
	json_decref(jws);
	json_decref(sig);
	json_decref(payload);
	return out;
}

static char *
rs(json_t *payload)
{
	return sign(rsa, json_pack("{s:s, s:s}", "alg", "RS256", "kid", "r1"), payload);
}

/* Verifies and frees token; the status, the message in msg when not NULL. */
static portail_status
check_as(const struct portail_provider_config *c, const char *iss, const json_t *keys,
    char *token, const char *nonce, struct portail_identity *id, const char *want)
{
	portail_error err = { { 0 } };
	struct portail_identity tmp;
	portail_status r = pt_idtoken_verify(c, iss, keys, token, nonce, now, id ? id : &tmp,
	    &err);

	if (r != PORTAIL_OK)
		print_message("# %s\n", err.message);
	if (want != NULL && strstr(err.message, want) == NULL)
		fail_msg("'%s' does not say '%s'", err.message, want);
	if (id == NULL)
		portail_identity_clear(&tmp);
	free(token);
	return r;
}

static portail_status
check(char *token, const char *want)
{
	return check_as(&ecole, ISS, jwks, token, "n1", NULL, want);
}

static json_t *
with(json_t *c, const char *k, json_t *v)
{
	if (v == NULL)
		json_object_del(c, k);
	else
		json_object_set_new(c, k, v);
	return c;
}

static void
test_good(void **state)
{
	struct portail_identity id;

	(void)state;
	assert_int_equal(check_as(&ecole, ISS, jwks, rs(claims()), "n1", &id, NULL), PORTAIL_OK);
	assert_string_equal(id.provider, "ecole");
	assert_string_equal(id.subject, "s1");
	assert_string_equal(id.email, "a@b.ca");
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(check(sign(ec, json_pack("{s:s, s:s}", "alg", "ES256", "kid", "e1"),
	    claims()), NULL), PORTAIL_OK);
	/* no kid: every key of the right type is tried */
	assert_int_equal(check(sign(ec, json_pack("{s:s}", "alg", "ES256"), claims()), NULL),
	    PORTAIL_OK);
	/* a few seconds of clock difference */
	assert_int_equal(check(rs(with(claims(), "exp", json_integer(now - 30))), NULL),
	    PORTAIL_OK);
	/* several audiences with azp ours */
	assert_int_equal(check(rs(with(with(claims(), "aud", json_pack("[s,s]", "portail", "api")),
	    "azp", json_string("portail"))), NULL), PORTAIL_OK);
	/* not vouched */
	assert_int_equal(check_as(&ecole, ISS, jwks, rs(with(claims(), "email_verified",
	    json_false())), "n1", &id, NULL), PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
}

static void
test_another_application(void **state)
{
	(void)state;
	assert_int_equal(check(rs(with(claims(), "aud", json_string("other"))),
	    "issued to another application"), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "aud", json_pack("[s]", "other"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "aud", json_string("portail\\u0000"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "aud", NULL)), NULL), PORTAIL_ERR_REFUSED);
	/* several audiences and no azp: whose is it? */
	assert_int_equal(check(rs(with(claims(), "aud", json_pack("[s,s]", "portail", "other"))),
	    NULL), PORTAIL_ERR_REFUSED);
	/* aud ours, but authorized for another party */
	assert_int_equal(check(rs(with(claims(), "azp", json_string("other"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(with(claims(), "aud", json_pack("[s,s]", "portail", "api")),
	    "azp", json_pack("[s]", "portail"))), NULL), PORTAIL_ERR_REFUSED);
}

static void
test_issuer_time_nonce(void **state)
{
	(void)state;
	assert_int_equal(check(rs(with(claims(), "iss", json_string("https://evil.example"))),
	    "issuer"), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "iss", json_string(ISS "/"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "iss", NULL)), NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "exp", json_integer(now - 600))), "expired"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "exp", NULL)), NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "exp", json_string("9999999999"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "iat", json_integer(now + 3600))), "future"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "nbf", json_integer(now + 3600))), NULL),
	    PORTAIL_ERR_REFUSED);
	/* the nonce of another sign-in, none, or a prefix of ours */
	assert_int_equal(check(rs(with(claims(), "nonce", json_string("n2"))), "nonce"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "nonce", NULL)), NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "nonce", json_string("n"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "nonce", json_integer(1))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check_as(&ecole, ISS, jwks, rs(claims()), "", NULL, "nonce"),
	    PORTAIL_ERR_INVALID);
	assert_int_equal(check_as(&ecole, ISS, jwks, rs(claims()), "n 1", NULL, NULL),
	    PORTAIL_ERR_INVALID);
}

static void
test_microsoft_google(void **state)
{
	struct portail_identity id;
	json_t *c;

	(void)state;
	/* the tenant's issuer, {tenantid} from tid (MSAL); only xms_edov vouches */
	c = with(with(claims(), "iss", json_string("https://login.microsoftonline.com/" TID "/v2.0")),
	    "tid", json_string(TID));
	assert_int_equal(check_as(&microsoft, MS_ISS, jwks, rs(json_deep_copy(c)), "n1", &id, NULL),
	    PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(check_as(&microsoft, MS_ISS, jwks, rs(with(json_deep_copy(c), "xms_edov",
	    json_true())), "n1", &id, NULL), PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	/* tid and iss of two tenants, no tid, a tid that reshapes the URL */
	assert_int_equal(check_as(&microsoft, MS_ISS, jwks, rs(with(json_deep_copy(c), "tid",
	    json_string("72f988bf-86f1-41af-91ab-2d7cd011db47"))), "n1", NULL, "issuer"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check_as(&microsoft, MS_ISS, jwks, rs(with(json_deep_copy(c), "tid", NULL)),
	    "n1", NULL, NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(check_as(&microsoft, MS_ISS, jwks, rs(with(with(json_deep_copy(c), "tid",
	    json_string("x/v2.0/../" TID)), "iss", json_string("https://login.microsoftonline.com/"
	    "x/v2.0/../" TID "/v2.0"))), "n1", NULL, NULL), PORTAIL_ERR_REFUSED);
	json_decref(c);
	/* Google's two spellings of its issuer, for Google only */
	assert_int_equal(check_as(&google, "https://accounts.google.com", jwks, rs(with(claims(),
	    "iss", json_string("accounts.google.com"))), "n1", NULL, NULL), PORTAIL_OK);
	assert_int_equal(check_as(&ecole, "https://accounts.google.com", jwks, rs(with(claims(),
	    "iss", json_string("accounts.google.com"))), "n1", NULL, NULL), PORTAIL_ERR_REFUSED);
}

static void
test_signatures(void **state)
{
	char *h, *p, *t, *good;
	json_t *oct, *hs;

	(void)state;
	{
		json_t *c = claims(), *e = jose_b64_enc_dump(c);

		p = strdup(json_string_value(e));
		json_decref(e);
		json_decref(c);
	}
	/* alg none, with and without a signature */
	h = b64("{\"alg\":\"none\"}");
	assert_true(asprintf(&t, "%s.%s.", h, p) > 0);
	assert_int_equal(check(t, NULL), PORTAIL_ERR_INVALID);
	assert_true(asprintf(&t, "%s.%s.AAAA", h, p) > 0);
	assert_int_equal(check(t, "only RS256 and ES256"), PORTAIL_ERR_REFUSED);
	free(h);
	h = b64("{\"alg\":\"None\",\"kid\":\"r1\"}");
	assert_true(asprintf(&t, "%s.%s.AAAA", h, p) > 0);
	assert_int_equal(check(t, NULL), PORTAIL_ERR_REFUSED);
	free(h);
	/* HS256 keyed with the RSA public key's modulus (alg confusion), and with an oct key in the set */
	oct = json_pack("{s:s, s:O, s:s}", "kty", "oct", "k", json_object_get(rsa, "n"), "kid", "r1");
	assert_int_equal(check(sign(oct, json_pack("{s:s, s:s}", "alg", "HS256", "kid", "r1"),
	    claims()), "only RS256 and ES256"), PORTAIL_ERR_REFUSED);
	hs = json_pack("{s:[O]}", "keys", oct);
	assert_int_equal(check_as(&ecole, ISS, hs, sign(oct, json_pack("{s:s, s:s}", "alg", "HS256",
	    "kid", "r1"), claims()), "n1", NULL, NULL), PORTAIL_ERR_REFUSED);
	/* an oct key can never stand for RS256 either */
	assert_int_equal(check_as(&ecole, ISS, hs, rs(claims()), "n1", NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	json_decref(hs);
	json_decref(oct);
	/* RS384, PS256, ES512: not taken */
	assert_int_equal(check(sign(rsa, json_pack("{s:s, s:s}", "alg", "RS384", "kid", "r1"),
	    claims()), NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(sign(rsa, json_pack("{s:s, s:s}", "alg", "PS256", "kid", "r1"),
	    claims()), NULL), PORTAIL_ERR_REFUSED);
	/* a critical extension */
	assert_int_equal(check(sign(rsa, json_pack("{s:s, s:s, s:[s], s:b}", "alg", "RS256", "kid",
	    "r1", "crit", "exp2", "exp2", 1), claims()), "critical"), PORTAIL_ERR_REFUSED);
	/* the key the token brings itself (jwk header) is never used */
	{
		json_t *mine = gen("{\"kty\":\"RSA\",\"bits\":2048}", "r1");

		assert_int_equal(check(sign(mine, json_pack("{s:s, s:s, s:o}", "alg", "RS256", "kid",
		    "r1", "jwk", pub(mine)), claims()), "signature"), PORTAIL_ERR_REFUSED);
		json_decref(mine);
	}
	/* a payload changed after signing */
	good = rs(claims());
	{
		json_t *c = with(claims(), "sub", json_string("s2")), *e = jose_b64_enc_dump(c);
		char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');

		*d1 = '\0';
		assert_true(asprintf(&t, "%s.%s%s", good, json_string_value(e), d2) > 0);
		*d1 = '.';
		assert_int_equal(check(t, "signature"), PORTAIL_ERR_REFUSED);
		json_decref(e);
		json_decref(c);
	}
	/* a flipped signature byte */
	t = strdup(good);
	t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(check(t, "signature"), PORTAIL_ERR_REFUSED);
	/* ES256 header on an RSA signature */
	{
		char *d1 = strchr(good, '.');

		h = b64("{\"alg\":\"ES256\",\"kid\":\"e1\"}");
		assert_true(asprintf(&t, "%s%s", h, d1) > 0);
		assert_int_equal(check(t, NULL), PORTAIL_ERR_REFUSED);
		free(h);
	}
	free(good);
	free(p);
}

static void
test_keys_and_kids(void **state)
{
	json_t *k, *set;

	(void)state;
	/* a kid the set does not have, or a key of the wrong type under it */
	assert_int_equal(check(sign(rsa, json_pack("{s:s, s:s}", "alg", "RS256", "kid", "r2"),
	    claims()), "no key"), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(check(sign(ec, json_pack("{s:s, s:s}", "alg", "ES256", "kid", "r1"),
	    claims()), NULL), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(check(sign(rsa, json_pack("{s:s, s:i}", "alg", "RS256", "kid", 1),
	    claims()), NULL), PORTAIL_ERR_REFUSED);
	/* keys for encryption, for another alg, too small, or private: never for this */
	k = pub(rsa);
	json_object_set_new(k, "use", json_string("enc"));
	set = json_pack("{s:[o]}", "keys", k);
	assert_int_equal(check_as(&ecole, ISS, set, rs(claims()), "n1", NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	json_decref(set);
	k = pub(rsa);
	json_object_set_new(k, "alg", json_string("RS512"));
	set = json_pack("{s:[o]}", "keys", k);
	assert_int_equal(check_as(&ecole, ISS, set, rs(claims()), "n1", NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	json_decref(set);
	{
		/* a 1024-bit modulus (libjose will not even make one) */
		unsigned char n[128];

		memset(n, 0xc5, sizeof(n));
		k = pub(rsa);
		json_object_set_new(k, "n", jose_b64_enc(n, sizeof(n)));
		set = json_pack("{s:[o]}", "keys", k);
		assert_int_equal(check_as(&ecole, ISS, set, rs(claims()), "n1", NULL, NULL),
		    PORTAIL_ERR_UNKNOWN);
		json_decref(set);
	}
	/* the private half in the set changes nothing */
	set = json_pack("{s:[O]}", "keys", rsa);
	assert_int_equal(check_as(&ecole, ISS, set, rs(claims()), "n1", NULL, NULL), PORTAIL_OK);
	json_decref(set);
	/* no set, an empty one, a malformed one */
	assert_int_equal(check_as(&ecole, ISS, NULL, rs(claims()), "n1", NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	set = json_pack("{s:[s, i, {}]}", "keys", "x", 1);
	assert_int_equal(check_as(&ecole, ISS, set, rs(claims()), "n1", NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	assert_true(pt_jwks_ok(set));
	json_decref(set);
	/* a set of more than PT_JWKS_KEYS_MAX keys is not taken */
	set = json_pack("{s:[]}", "keys");
	for (int i = 0; i <= PT_JWKS_KEYS_MAX; i++)
		json_array_append_new(json_object_get(set, "keys"), pub(ec));
	assert_false(pt_jwks_ok(set));
	assert_false(pt_jwks_ok(json_object_get(set, "keys")));
	json_decref(set);
}

static void
test_malformed(void **state)
{
	char *big, *t;
	size_t n = PT_IDTOKEN_MAX + 10;

	(void)state;
	assert_int_equal(check(strdup(""), NULL), PORTAIL_ERR_INVALID);
	assert_int_equal(check(strdup("abc.def"), NULL), PORTAIL_ERR_INVALID);
	assert_int_equal(check(strdup("a.b.c.d.e"), "not an ID token"), PORTAIL_ERR_INVALID);
	assert_int_equal(check(strdup("eyJ9.eyJ9.AA=="), NULL), PORTAIL_ERR_INVALID);
	assert_int_equal(check(strdup("e y.J9.AA"), NULL), PORTAIL_ERR_INVALID);
	assert_int_equal(check(strdup("AAAA.AAAA.AAAA"), "malformed"), PORTAIL_ERR_REFUSED);
	big = malloc(n + 1);
	memset(big, 'A', n);
	big[n] = '\0';
	big[10] = big[20] = '.';
	assert_int_equal(check(big, NULL), PORTAIL_ERR_INVALID);
	/* duplicate claims: which sub, which aud? */
	{
		char *h = b64("{\"alg\":\"RS256\",\"kid\":\"r1\"}");
		char *p = b64("{\"sub\":\"s1\",\"sub\":\"s2\",\"aud\":\"portail\"}");

		assert_true(asprintf(&t, "%s.%s.AAAA", h, p) > 0);
		assert_int_equal(check(t, "malformed"), PORTAIL_ERR_REFUSED);
		free(h);
		free(p);
	}
	/* a payload that is not an object */
	{
		json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc("[1]", 3));
		json_t *sig = json_pack("{s:{s:s, s:s}}", "protected", "alg", "RS256", "kid", "r1");

		assert_true(jose_jws_sig(NULL, jws, sig, rsa));
		assert_true(asprintf(&t, "%s.%s.%s",
		    json_string_value(json_object_get(jws, "protected")),
		    json_string_value(json_object_get(jws, "payload")),
		    json_string_value(json_object_get(jws, "signature"))) > 0);
		assert_int_equal(check(t, "malformed"), PORTAIL_ERR_REFUSED);
		json_decref(jws);
		json_decref(sig);
	}
	/* claims the userinfo rules refuse, in a well-signed token */
	assert_int_equal(check(rs(with(claims(), "sub", json_string("a b"))), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(check(rs(with(claims(), "email", json_string("pas une adresse"))), NULL),
	    PORTAIL_ERR_REFUSED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_another_application),
		cmocka_unit_test(test_issuer_time_nonce),
		cmocka_unit_test(test_microsoft_google),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_keys_and_kids),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
