/* test_password.c — passwords hashed and verified in NFC on every path (issue 11, item 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "password.h"

/* "Été-à-Québec", precomposed (NFC) and decomposed (NFD) */
#define PW_NFC "\xc3\x89t\xc3\xa9-\xc3\xa0-Qu\xc3\xa9""bec"
#define PW_NFD "E\xcc\x81te\xcc\x81-a\xcc\x80-Que\xcc\x81""bec"

static const struct portail_password_config light = {
	.min_length = 8, .max_length = 128, .argon2_opslimit = 1, .argon2_memlimit_kib = 8192,
};

static void
test_any_form_verifies(void **state)
{
	static const struct {
		const char *set, *typed;
		int want;
	} cases[] = {
		{ PW_NFC, PW_NFC, 0 },
		{ PW_NFC, PW_NFD, 0 },
		{ PW_NFD, PW_NFC, 0 },
		{ PW_NFD, PW_NFD, 0 },
		{ PW_NFC, "Ete-a-Quebec", -1 },
		{ "ascii-only-password", "ascii-only-password", 0 },
		{ "ascii-only-password", "ASCII-only-password", -1 },
		{ PW_NFC, "\xc3\x28", -1 },             /* not UTF-8: no match, no crash */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hash[crypto_pwhash_STRBYTES];

		assert_int_equal(portail_password_hash(&light, cases[i].set, hash, NULL), PORTAIL_OK);
		if (portail_password_verify(hash, cases[i].typed) != cases[i].want)
			fail_msg("case %zu: verify gave not %d", i, cases[i].want);
	}
}

/* The hash holds the NFC form: libsodium's own verify of the NFC bytes agrees. */
static void
test_hash_is_of_nfc(void **state)
{
	char hash[crypto_pwhash_STRBYTES];

	assert_int_equal(portail_password_hash(&light, PW_NFD, hash, NULL), PORTAIL_OK);
	assert_int_equal(crypto_pwhash_str_verify(hash, PW_NFC, strlen(PW_NFC)), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(hash, PW_NFD, strlen(PW_NFD)), 0);
	/* not text: no hash */
	assert_int_equal(portail_password_hash(&light, "a\x01""bcdefgh", hash, NULL),
	    PORTAIL_ERR_INVALID);
}

/* A hash of the bytes as typed (the old rehash on sign-in): a match that asks for a rehash. */
static void
test_legacy_raw_hash(void **state)
{
	char hash[crypto_pwhash_STRBYTES];

	assert_int_equal(crypto_pwhash_str(hash, PW_NFD, strlen(PW_NFD), 1, 8192u * 1024u), 0);
	assert_int_equal(portail_password_verify(hash, PW_NFD), 1);
	/* typed in NFC, it cannot match bytes it never was: the parent resets */
	assert_int_equal(portail_password_verify(hash, PW_NFC), -1);
	assert_int_equal(portail_password_verify(hash, "autre-chose"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_form_verifies),
		cmocka_unit_test(test_hash_is_of_nfc),
		cmocka_unit_test(test_legacy_raw_hash),
	};

	if (sodium_init() < 0)
		return 99;
	return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
