/* test_email.c — address checks, comparison keys and RFC 4515 escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "email.h"

static void
test_valid(void **state)
{
	static const char *const ok[] = {
		"chantal.gagnon@exemple.ca",
		"Marc.Roy@Exemple.CA",
		"a1225cbgrics@outlook.com",
		"x@y.qc.ca",
		"prénom.nom@école.qc.ca",
		"st*r@exemple.ca",
		"o'brien+ecole@exemple.ca",
		"a-b_c{d}@sous-domaine.exemple.ca",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		portail_error err;

		if (portail_email_check(ok[i], &err) != PORTAIL_OK)
			fail_msg("%s: %s", ok[i], err.message);
	}
}

static void
test_invalid(void **state)
{
	char long_local[80], long_addr[300];
	const struct {
		const char *addr;
		const char *why;
	} bad[] = {
		{ "", "empty address" },
		{ "no-at-sign", "no '@'" },
		{ "a@b@c.ca", "more than one '@'" },
		{ "@exemple.ca", "nothing before '@'" },
		{ "a@", "no domain" },
		{ "a@localhost", "has no '.'" },
		{ "a@.exemple.ca", "malformed" },
		{ "a@exemple..ca", "malformed" },
		{ "a@exemple.ca.", "malformed" },
		{ "a@-exemple.ca", "malformed" },
		{ ".a@exemple.ca", "misplaced '.'" },
		{ "a.@exemple.ca", "misplaced '.'" },
		{ "a..b@exemple.ca", "misplaced '.'" },
		{ "a b@exemple.ca", "' ' not allowed" },
		{ "a\tb@exemple.ca", "control character" },
		{ "a@exemple.ca\r\nBcc: x@y.ca", "control character" },
		{ "a\x7f@exemple.ca", "control character" },
		{ "*)(objectClass=*", "')' not allowed" },
		{ "a)(x=*@exemple.ca", "')' not allowed" },
		{ "a\\2a@exemple.ca", "'\\' not allowed" },
		{ "\"quoted\"@exemple.ca", "'\"' not allowed" },
		{ "a<b>@exemple.ca", "'<' not allowed" },
		{ "a,b@exemple.ca", "',' not allowed" },
		{ "a;b@exemple.ca", "';' not allowed" },
		{ "a|b@exemple.ca", "'|' not allowed" },
		{ "a`id`@exemple.ca", "'`' not allowed" },
		{ "\xc3\x28@exemple.ca", "not valid UTF-8" },
		{ "\xed\xa0\x80@exemple.ca", "not valid UTF-8" },
		{ long_local, "longer than 64" },
		{ long_addr, "longer than 254" },
	};

	memset(long_local, 'a', 65);
	strcpy(long_local + 65, "@exemple.ca");
	memset(long_addr, 'a', 60);
	long_addr[60] = '@';
	for (int i = 0; i < 4; i++) {
		memset(long_addr + 61 + i * 50, 'b', 49);
		long_addr[61 + i * 50 + 49] = '.';
	}
	strcpy(long_addr + 261, "ca");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		portail_error err = { { 0 } };
		portail_status r = portail_email_check(bad[i].addr, &err);

		if (r != PORTAIL_ERR_INVALID || strstr(err.message, bad[i].why) == NULL)
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.message, bad[i].why);
	}
	assert_int_equal(portail_email_check(NULL, NULL), PORTAIL_ERR_INVALID);
}

static void
test_limits_exact(void **state)
{
	char addr[300];

	/* 64-byte local part: accepted */
	memset(addr, 'a', 64);
	strcpy(addr + 64, "@exemple.ca");
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_OK);
	/* 254 bytes in all: accepted; 255: refused */
	memset(addr, 'a', 10);
	addr[10] = '@';
	for (int i = 0; i < 4; i++) {
		memset(addr + 11 + i * 60, 'c', 59);
		addr[11 + i * 60 + 59] = '.';
	}
	memcpy(addr + 251, "caa", 4);
	assert_int_equal(strlen(addr), 254);
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_OK);
	strcat(addr, "a");
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_ERR_INVALID);
}

static void
test_key(void **state)
{
	char *a = NULL, *b = NULL;

	assert_int_equal(portail_email_key("Marc.Roy@Exemple.CA", &a, NULL), PORTAIL_OK);
	assert_string_equal(a, "marc.roy@exemple.ca");
	free(a);
	/* Unicode: case folded and NFC, so two spellings of é agree */
	assert_int_equal(portail_email_key("H\xc3\x89L\xc3\x88NE@\xc3\x89""cole.ca", &a, NULL), PORTAIL_OK);
	assert_int_equal(portail_email_key("he\xcc\x81le\xcc\x80ne@e\xcc\x81""cole.ca", &b, NULL), PORTAIL_OK);
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = NULL;
	assert_int_equal(portail_email_key("not an address", &a, NULL), PORTAIL_ERR_INVALID);
	assert_null(a);
}

static void
test_ldap_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain@exemple.ca", "plain@exemple.ca" },
		{ "*", "\\2a" },
		{ "*)(objectClass=*", "\\2a\\29\\28objectClass=\\2a" },
		{ "a\\b", "a\\5cb" },
		{ "é(", "é\\28" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;

		assert_int_equal(pt_ldap_escape(cases[i].in, &out), PORTAIL_OK);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits_exact),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_ldap_escape),
	};

	return cmocka_run_group_tests_name("email", tests, NULL, NULL);
}
