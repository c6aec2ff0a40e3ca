/*
 * test_decoy.c — the limits and decoy codes of addresses not on file
 * answer as the store does for an address on file (store.c's rules), in
 * a table that never grows; and the mail queue's code seal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "decoy.h"
#include "key.h"

static const struct portail_code_rules rules = { 600, 5, 30, 10 };

static void
test_limits_like_the_store(void **state)
{
	portail_decoy *d = NULL;
	int64_t t = 1800000000;
	int wait = 0;

	assert_int_equal(portail_decoy_new(&d, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t, &rules, true, true, &wait,
	    NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "reset", t + 10, &rules, true, true, &wait,
	    NULL), PORTAIL_ERR_TOO_SOON);
	assert_int_equal(wait, 20);
	/* nine more, 30 s apart: the eleventh in the day is refused */
	for (int i = 1; i < 10; i++)
		assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 30 * i, &rules, true,
		    true, &wait, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 300, &rules, true, true,
	    &wait, NULL), PORTAIL_ERR_RATE_LIMITED);
	/* a sliding day: the first issue leaves the window, one more is allowed */
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 86400, &rules, true, true,
	    &wait, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 86400 + 1, &rules, true,
	    true, &wait, NULL), PORTAIL_ERR_TOO_SOON);
	assert_int_equal(wait, 29);
	/* t + 30 left the window too: one more, then "too soon" again */
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 86400 + 30, &rules, true,
	    true, &wait, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 86400 + 59, &rules, true,
	    true, &wait, NULL), PORTAIL_ERR_TOO_SOON);
	/* another address is not concerned; a check without record records nothing */
	assert_int_equal(portail_decoy_issue(d, "c@b.ca", "signup", t + 300, &rules, false, false,
	    &wait, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_issue(d, "c@b.ca", "signup", t + 301, &rules, true, true,
	    &wait, NULL), PORTAIL_OK);
	portail_decoy_free(d);
}

static void
test_verify_like_a_wrong_code(void **state)
{
	portail_decoy *d = NULL;
	int64_t t = 1800000000;
	int wait = 0, tries = -1;

	assert_int_equal(portail_decoy_new(&d, NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "signup", t, &tries), PORTAIL_ERR_NO_CODE);
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t, &rules, true, true, &wait,
	    NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "reset", t, &tries), PORTAIL_ERR_NO_CODE);
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "link", t, &tries), PORTAIL_ERR_NO_CODE);
	for (int i = 4; i > 0; i--) {
		assert_int_equal(portail_decoy_verify(d, "a@b.ca", "signup", t + 1, &tries),
		    PORTAIL_ERR_WRONG_CODE);
		assert_int_equal(tries, i);
	}
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "signup", t + 1, &tries),
	    PORTAIL_ERR_TOO_MANY_TRIES);
	assert_int_equal(tries, 0);
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "signup", t + 2, &tries),
	    PORTAIL_ERR_TOO_MANY_TRIES);
	/* a new code, then its lifetime ends */
	assert_int_equal(portail_decoy_issue(d, "a@b.ca", "signup", t + 60, &rules, true, true, &wait,
	    NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_verify(d, "a@b.ca", "signup", t + 660, &tries),
	    PORTAIL_ERR_EXPIRED_CODE);
	/* an address on file is mirrored without a decoy code (its code is in the store) */
	assert_int_equal(portail_decoy_issue(d, "k@b.ca", "reset", t, &rules, true, false, &wait,
	    NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_verify(d, "k@b.ca", "reset", t + 1, &tries), PORTAIL_ERR_NO_CODE);
	assert_int_equal(portail_decoy_issue(d, "k@b.ca", "reset", t + 1, &rules, true, false, &wait,
	    NULL), PORTAIL_ERR_TOO_SOON);
	/* a social link's decoy code is its own, and counts against the same day */
	assert_int_equal(portail_decoy_issue(d, "l@b.ca", "link", t, &rules, true, true, &wait,
	    NULL), PORTAIL_OK);
	assert_int_equal(portail_decoy_verify(d, "l@b.ca", "signup", t + 1, &tries),
	    PORTAIL_ERR_NO_CODE);
	assert_int_equal(portail_decoy_verify(d, "l@b.ca", "link", t + 1, &tries),
	    PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(tries, 4);
	assert_int_equal(portail_decoy_issue(d, "l@b.ca", "signup", t + 1, &rules, true, true, &wait,
	    NULL), PORTAIL_ERR_TOO_SOON);
	portail_decoy_free(d);
}

/*
 * A flood of fresh addresses pushes out first what matters least: an
 * address at its day's limit outlives 4 x PORTAIL_DECOY_ENTRIES others
 * with one code each, and the table never grows (fixed at creation).
 */
static void
test_flood_evicts_the_least(void **state)
{
	portail_decoy *d = NULL;
	struct portail_code_rules r = rules;
	int64_t t = 1800000000;
	int wait = 0;
	char a[64];

	r.resend_interval = 0;
	assert_int_equal(portail_decoy_new(&d, NULL), PORTAIL_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(portail_decoy_issue(d, "cible@b.ca", "reset", t, &r, true, true, &wait,
		    NULL), PORTAIL_OK);
	for (long i = 0; i < 4L * PORTAIL_DECOY_ENTRIES; i++) {
		snprintf(a, sizeof(a), "x%ld@inconnu.ca", i);
		assert_int_equal(portail_decoy_issue(d, a, "reset", t + 1, &r, true, true, &wait, NULL),
		    PORTAIL_OK);
	}
	assert_int_equal(portail_decoy_issue(d, "cible@b.ca", "reset", t + 2, &r, true, true, &wait,
	    NULL), PORTAIL_ERR_RATE_LIMITED);
	portail_decoy_free(d);
}

static void
test_seal(void **state)
{
	char path[256], out[16] = "";
	const char *tmp = getenv("PORTAIL_TEST_TMP");
	portail_key *k = NULL;
	unsigned char box[6 + PORTAIL_SEAL_OVERHEAD];

	snprintf(path, sizeof(path), "%s/decoy-key", tmp ? tmp : "/tmp");
	unlink(path);
	assert_int_equal(portail_key_create(path, (uid_t)-1, (gid_t)-1, NULL), PORTAIL_OK);
	assert_int_equal(portail_key_load(path, &k, NULL), PORTAIL_OK);
	portail_key_seal(k, PORTAIL_KEY_MAIL, (const unsigned char *)"482913", 6, box);
	assert_null(memmem(box, sizeof(box), "482913", 6));
	assert_int_equal(portail_key_open(k, PORTAIL_KEY_MAIL, box, sizeof(box),
	    (unsigned char *)out), PORTAIL_OK);
	assert_memory_equal(out, "482913", 6);
	/* another use's key does not open it; a flipped bit does not either */
	assert_int_equal(portail_key_open(k, PORTAIL_KEY_CODES, box, sizeof(box),
	    (unsigned char *)out), PORTAIL_ERR_INVALID);
	box[sizeof(box) - 1] ^= 1;
	assert_int_equal(portail_key_open(k, PORTAIL_KEY_MAIL, box, sizeof(box),
	    (unsigned char *)out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_key_open(k, PORTAIL_KEY_MAIL, box, 10, (unsigned char *)out),
	    PORTAIL_ERR_INVALID);
	portail_key_free(k);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_like_the_store),
		cmocka_unit_test(test_verify_like_a_wrong_code),
		cmocka_unit_test(test_flood_evicts_the_least),
		cmocka_unit_test(test_seal),
	};

	return cmocka_run_group_tests_name("decoy", tests, NULL, NULL);
}
