/*
 * test_protocol.c — the protocol's one list of secret fields
 * (client/protocol.c): every field on it is wiped in place, nothing else
 * is, and the list holds every secret the ops and their answers carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "protocol.h"

static bool
all_zero(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\0')
			return false;
	return true;
}

static void
test_every_secret_is_wiped(void **state)
{
	/* the requests' and the answers' secrets (doc/protocol.md) */
	static const char *const expected[] = { "password", "old_password", "confirmation", "code",
		"ticket", "link_ticket", "token", "access_token", "id_token", "nonce", "state_secret" };
	json_t *req = json_object();
	const char *seen[32];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_true(portail_proto_is_secret(expected[i]));
	for (size_t i = 0; portail_proto_secret_fields[i] != NULL; i++) {
		assert_true(n < 32);
		seen[n++] = portail_proto_secret_fields[i];
		json_object_set_new(req, portail_proto_secret_fields[i], json_string("s3cr3t-value"));
	}
	json_object_set_new(req, "op", json_string("account.create"));
	json_object_set_new(req, "email", json_string("parent@exemple.ca"));
	json_object_set_new(req, "nested", json_pack("{s:s}", "label", "kept"));
	portail_proto_wipe_secrets(req);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(req, seen[i]);

		assert_int_equal(json_string_length(v), strlen("s3cr3t-value"));
		assert_true(all_zero(json_string_value(v), json_string_length(v)));
	}
	assert_string_equal(json_string_value(json_object_get(req, "op")), "account.create");
	assert_string_equal(json_string_value(json_object_get(req, "email")), "parent@exemple.ca");
	assert_string_equal(json_string_value(json_object_get(json_object_get(req, "nested"),
	    "label")), "kept");
	json_decref(req);
}

static void
test_not_secrets(void **state)
{
	json_t *a = json_pack("{s:i, s:s}", "password", 3, "message", "Un code a été envoyé.");

	(void)state;
	assert_false(portail_proto_is_secret("email"));
	assert_false(portail_proto_is_secret("message"));
	assert_false(portail_proto_is_secret("Password"));
	assert_false(portail_proto_is_secret(NULL));
	/* a secret name that is not a string, and an answer's text: left alone */
	portail_proto_wipe_secrets(a);
	assert_int_equal(json_integer_value(json_object_get(a, "password")), 3);
	assert_string_equal(json_string_value(json_object_get(a, "message")), "Un code a été envoyé.");
	json_decref(a);
	portail_proto_wipe_secrets(NULL);
	a = json_string("password");
	portail_proto_wipe_secrets(a);
	assert_string_equal(json_string_value(a), "password");
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_secret_is_wiped),
		cmocka_unit_test(test_not_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
