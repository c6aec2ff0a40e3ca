/*
 * test_claims.c — what portail believes of providers' answers, case by
 * case (lib/claims.c): the rules of DESIGN §1 and the hostile shapes a
 * provider could send. The same answers from a real provider are in
 * test_social; any bytes are in fuzz_provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "claims.h"

static const struct portail_provider_config google = {
	.name = (char *)(uintptr_t)"google", .kind = (char *)(uintptr_t)"google",
	.client_id = (char *)(uintptr_t)"portail" };
static const struct portail_provider_config microsoft = {
	.name = (char *)(uintptr_t)"microsoft", .kind = (char *)(uintptr_t)"microsoft",
	.client_id = (char *)(uintptr_t)"portail" };
static const struct portail_provider_config ecole = {
	.name = (char *)(uintptr_t)"ecole", .kind = (char *)(uintptr_t)"oidc",
	.client_id = (char *)(uintptr_t)"portail" };
static const struct portail_provider_config facebook = {
	.name = (char *)(uintptr_t)"facebook", .kind = (char *)(uintptr_t)"facebook",
	.client_id = (char *)(uintptr_t)"424242" };

static json_t *
js(const char *text)
{
	/* NUL allowed here, to reach the checks behind the parser (which refuses it) */
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);

	assert_non_null(j);
	return j;
}

/* userinfo alone: the status, and the identity when OK */
static portail_status
ui(const struct portail_provider_config *c, const char *text, struct portail_identity *id)
{
	portail_error err = { { 0 } };
	json_t *j = js(text);
	portail_status r = pt_claims_userinfo(c, NULL, j, id, &err);

	json_decref(j);
	return r;
}

static portail_status
answer(const struct portail_provider_config *c, long status, const char *body, json_t **j,
    portail_error *err)
{
	return pt_claims_answer(c, status, body, body ? strlen(body) : 0, j, err);
}

static void
test_answers(void **state)
{
	portail_error err = { { 0 } };
	json_t *j = NULL;
	char big[PORTAIL_PROVIDER_BODY_MAX + 2];

	(void)state;
	assert_int_equal(answer(&google, 200, "{\"sub\":\"1\"}", &j, &err), PORTAIL_OK);
	json_decref(j);
	/* outages are not refusals */
	assert_int_equal(pt_claims_answer(&google, 500, "", 0, &j, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(pt_claims_answer(&google, 503, NULL, 0, &j, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(pt_claims_answer(&google, 429, NULL, 0, &j, &err), PORTAIL_ERR_UNAVAILABLE);
	/* the provider's words reach the log, cut to printable ASCII */
	assert_int_equal(answer(&google, 400,
	    "{\"error\":\"invalid_token\",\"error_description\":\"Invalid\\nValue\"}", &j, &err),
	    PORTAIL_ERR_REFUSED);
	assert_non_null(strstr(err.message, "invalid_token Invalid?Value"));
	assert_int_equal(answer(&facebook, 400,
	    "{\"error\":{\"message\":\"Invalid OAuth access token.\"}}", &j, &err),
	    PORTAIL_ERR_REFUSED);
	assert_non_null(strstr(err.message, "Invalid OAuth access token."));
	assert_int_equal(pt_claims_answer(&google, 302, NULL, 0, &j, &err), PORTAIL_ERR_REFUSED);
	/* not an object, duplicate keys, truncated, oversized */
	assert_int_equal(answer(&google, 200, "[1]", &j, &err), PORTAIL_ERR_REFUSED);
	assert_int_equal(answer(&google, 200, "{\"sub\":\"a\",\"sub\":\"b\"}", &j, &err),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(answer(&google, 200, "{\"sub\": ", &j, &err), PORTAIL_ERR_REFUSED);
	/* a NUL inside a string: refused by the parser already */
	assert_int_equal(answer(&google, 200, "{\"sub\":\"a\\u0000b\"}", &j, &err),
	    PORTAIL_ERR_REFUSED);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	assert_int_equal(pt_claims_answer(&google, 200, big, sizeof(big), &j, &err), PORTAIL_ERR_REFUSED);
	assert_null(j);
}

static void
test_audience(void **state)
{
	portail_error err = { { 0 } };
	json_t *j;

	(void)state;
	/* issue 11: aud is whom the token was issued to; azp, when there, must agree */
	j = js("{\"aud\":\"portail\",\"azp\":\"portail\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_OK);
	json_decref(j);
	j = js("{\"aud\":\"portail\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_OK);
	json_decref(j);
	j = js("{\"aud\":\"other\",\"azp\":\"portail\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	assert_non_null(strstr(err.message, "issued to another application"));
	json_decref(j);
	j = js("{\"aud\":\"portail\",\"azp\":\"other\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	j = js("{\"azp\":\"portail\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	j = js("{\"aud\":\"other\",\"azp\":\"other\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* tokeninfo's aud is one string: an array naming us among others is not ours */
	j = js("{\"aud\":[\"x\",\"portail\"]}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* a NUL inside: "portail\u0000x" is not portail */
	j = js("{\"aud\":\"portail\\u0000x\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* a client id that merely starts like ours is not ours */
	j = js("{\"aud\":\"portail-evil\"}");
	assert_int_equal(pt_claims_google_tokeninfo(&google, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* introspection: active and ours, both */
	j = js("{\"active\":true,\"client_id\":\"portail\"}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_OK);
	json_decref(j);
	j = js("{\"active\":\"true\",\"client_id\":\"portail\"}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	j = js("{\"active\":true,\"client_id\":\"other\"}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* another client's token for our audience is still another application's */
	j = js("{\"active\":true,\"client_id\":\"other\",\"aud\":\"portail\"}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	j = js("{\"active\":true,\"client_id\":[\"portail\"]}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	/* without client_id, the audience decides */
	j = js("{\"active\":true,\"aud\":[\"api\",\"portail\"]}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_OK);
	json_decref(j);
	j = js("{\"active\":true,\"aud\":\"api\"}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
	j = js("{\"active\":true}");
	assert_int_equal(pt_claims_introspection(&ecole, j, &err), PORTAIL_ERR_REFUSED);
	json_decref(j);
}

static void
test_vouching_rules(void **state)
{
	struct portail_identity id;

	(void)state;
	/* email_verified: true or Google's "true" */
	assert_int_equal(ui(&google, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"email_verified\":\"true\"}",
	    &id), PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(ui(&ecole, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"email_verified\":true}", &id),
	    PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(ui(&ecole, "{\"sub\":\"1\",\"email\":\"a@b.ca\"}", &id), PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	/* anything else is refused, not taken for false */
	assert_int_equal(ui(&ecole, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"email_verified\":\"yes\"}",
	    &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(ui(&ecole, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"email_verified\":1}", &id),
	    PORTAIL_ERR_REFUSED);
	/* Microsoft: email_verified means nothing, xms_edov vouches */
	assert_int_equal(ui(&microsoft, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"email_verified\":true}",
	    &id), PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(ui(&microsoft, "{\"sub\":\"1\",\"email\":\"a@b.ca\",\"xms_edov\":true}", &id),
	    PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	/* no e-mail: an identity all the same, never vouched */
	assert_int_equal(ui(&google, "{\"sub\":\"1\",\"email_verified\":true}", &id), PORTAIL_OK);
	assert_null(id.email);
	assert_false(id.vouched);
	portail_identity_clear(&id);
}

static void
test_hostile_identities(void **state)
{
	static const char *const bad[] = {
		"{\"email\":\"a@b.ca\"}",                               /* no subject */
		"{\"sub\":\"\",\"email\":\"a@b.ca\"}",
		"{\"sub\":12345,\"email\":\"a@b.ca\"}",
		"{\"sub\":\"a b\",\"email\":\"a@b.ca\"}",
		"{\"sub\":\"a\\u0000b\",\"email\":\"a@b.ca\"}",         /* NUL inside */
		"{\"sub\":\"caf\\u00e9\",\"email\":\"a@b.ca\"}",
		"{\"sub\":\"1\",\"email\":[\"a@b.ca\"]}",
		"{\"sub\":\"1\",\"email\":\"pas une adresse\"}",
		"{\"sub\":\"1\",\"email\":\"*)(uid=*\"}",
		"{\"sub\":\"1\",\"email\":\"a@b.ca\\u0000@c.ca\"}",
	};
	struct portail_identity id;
	char longsub[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ui(&google, bad[i], &id) != PORTAIL_ERR_REFUSED)
			fail_msg("accepted %s", bad[i]);
	snprintf(longsub, sizeof(longsub), "{\"sub\":\"%0300d\"}", 1);
	assert_int_equal(ui(&google, longsub, &id), PORTAIL_ERR_REFUSED);
	/* token information and userinfo about two people */
	{
		portail_error err = { { 0 } };
		json_t *ti = js("{\"sub\":\"1\"}"), *u = js("{\"sub\":\"2\",\"email\":\"a@b.ca\"}");

		assert_int_equal(pt_claims_userinfo(&google, ti, u, &id, &err), PORTAIL_ERR_REFUSED);
		json_decref(ti);
		json_decref(u);
	}
}

static void
test_facebook(void **state)
{
	portail_error err = { { 0 } };
	struct portail_identity id;
	json_t *dt, *me, *uid = NULL;

	(void)state;
	dt = js("{\"data\":{\"app_id\":\"424242\",\"is_valid\":true,\"user_id\":\"10001\"}}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_OK);
	me = js("{\"id\":\"10001\",\"email\":\"a@b.ca\"}");
	assert_int_equal(pt_claims_facebook_me(&facebook, me, uid, &id, &err), PORTAIL_OK);
	assert_string_equal(id.subject, "10001");
	assert_false(id.vouched);       /* never */
	portail_identity_clear(&id);
	json_decref(me);
	/* /me about someone else */
	me = js("{\"id\":\"10002\",\"email\":\"a@b.ca\"}");
	assert_int_equal(pt_claims_facebook_me(&facebook, me, uid, &id, &err), PORTAIL_ERR_REFUSED);
	json_decref(me);
	json_decref(dt);
	dt = js("{\"data\":{\"app_id\":\"999\",\"is_valid\":true,\"user_id\":\"10001\"}}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_ERR_REFUSED);
	json_decref(dt);
	/* app_id is one string: an array that names us among others is another app's */
	dt = js("{\"data\":{\"app_id\":[\"999\",\"424242\"],\"is_valid\":true,\"user_id\":\"10001\"}}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_ERR_REFUSED);
	json_decref(dt);
	dt = js("{\"data\":{\"app_id\":424242,\"is_valid\":true,\"user_id\":\"10001\"}}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_ERR_REFUSED);
	json_decref(dt);
	dt = js("{\"data\":{\"app_id\":\"424242\",\"is_valid\":false,\"user_id\":\"10001\"}}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_ERR_REFUSED);
	json_decref(dt);
	dt = js("{\"data\":\"garbage\"}");
	assert_int_equal(pt_claims_facebook_debug(&facebook, dt, &uid, &err), PORTAIL_ERR_REFUSED);
	json_decref(dt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_vouching_rules),
		cmocka_unit_test(test_hostile_identities),
		cmocka_unit_test(test_facebook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
