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
#include "policy.h"
#include "key.h"

static const struct portail_code_rules rules = { 600, 5, 30, 10 };

static void
test_limits_like_the_store(void **state)
{
	portail_decoy *d = NULL;
	int64_t t = 1800000000;
	int wait = 0;

	assert_int_equal(portail_decoy_new(&d, NULL, NULL), PORTAIL_OK);
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

	assert_int_equal(portail_decoy_new(&d, NULL, NULL), PORTAIL_OK);
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
	assert_int_equal(portail_decoy_new(&d, NULL, NULL), PORTAIL_OK);
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

/* The store's rules for one address on file, exactly: every issue kept. */
struct on_file {
	int64_t times[64];
	int n;
};

static portail_status
store_issue(struct on_file *o, const struct portail_code_rules *r, int64_t now, int *wait)
{
	int64_t last = 0;
	int today = 0;
	portail_status st;

	for (int i = 0; i < o->n; i++) {
		if (portail_policy_in_day(o->times[i], now)) {
			today++;
			if (o->times[i] > last)
				last = o->times[i];
		}
	}
	if ((st = portail_policy_code_issue(r, now, last, today, wait)) == PORTAIL_OK &&
	    o->n < 64)
		o->times[o->n++] = now;
	return st;
}

/* A code request as flow.c makes it: the table first, then the store for an address on file. */
static portail_status
request(portail_decoy *d, const char *key, struct on_file *o, const struct portail_code_rules *r,
    int64_t now, int *wait)
{
	portail_status st;

	*wait = 0;
	if (o == NULL)
		return portail_decoy_issue(d, key, "signup", now, r, true, true, wait, NULL);
	if ((st = portail_decoy_issue(d, key, "signup", now, r, false, false, wait, NULL)) !=
	    PORTAIL_OK || (st = store_issue(o, r, now, wait)) != PORTAIL_OK)
		return st;
	(void)portail_decoy_issue(d, key, "signup", now, r, true, false, wait, NULL);
	return PORTAIL_OK;
}

#define PROBES 8
#define ROUNDS 11
#define ASKS (2 * ROUNDS)

/*
 * One flood, run twice with the same set key: probes j on file in the
 * first run when j is even, in the second when j is odd. Each round a
 * probe asks twice (10 s apart) while a pool of 1.5 x PORTAIL_DECOY_ENTRIES
 * attacker addresses, each as far in its day as the probes, asks once
 * just after them: the probes are pushed out of the table. A probe's
 * answers (status and wait) are the same whether it is on file or not,
 * and an address not on file never gets more than max_per_day codes.
 */
static void
run_flood(const unsigned char *seed, int parity, portail_status st[PROBES][ASKS],
    int wait[PROBES][ASKS])
{
	static struct on_file files[PROBES];
	portail_decoy *d = NULL;
	int64_t t = 1800000000;
	char a[64];
	int w;

	memset(files, 0, sizeof(files));
	assert_int_equal(portail_decoy_new(&d, seed, NULL), PORTAIL_OK);
	for (int i = 0; i < ROUNDS; i++, t += 31) {
		for (int j = 0; j < PROBES; j++) {
			snprintf(a, sizeof(a), "cible%d@b.ca", j);
			st[j][2 * i] = request(d, a, j % 2 == parity ? &files[j] : NULL, &rules, t,
			    &wait[j][2 * i]);
		}
		for (long k = 0; k < 3L * PORTAIL_DECOY_ENTRIES / 2; k++) {
			snprintf(a, sizeof(a), "x%ld@inconnu.ca", k);
			(void)portail_decoy_issue(d, a, "signup", t + 1, &rules, true, true, &w, NULL);
		}
		for (int j = 0; j < PROBES; j++) {
			snprintf(a, sizeof(a), "cible%d@b.ca", j);
			st[j][2 * i + 1] = request(d, a, j % 2 == parity ? &files[j] : NULL, &rules,
			    t + 10, &wait[j][2 * i + 1]);
		}
	}
	portail_decoy_free(d);
}

static void
test_flood_answers_alike(void **state)
{
	static portail_status st[2][PROBES][ASKS];
	static int wait[2][PROBES][ASKS];
	unsigned char seed[crypto_generichash_KEYBYTES];
	int n[3] = { 0, 0, 0 };

	memset(seed, 0x5a, sizeof(seed));
	run_flood(seed, 0, st[0], wait[0]);
	run_flood(seed, 1, st[1], wait[1]);
	for (int j = 0; j < PROBES; j++) {
		int sent = 0;

		for (int i = 0; i < ASKS; i++) {
			assert_int_equal(st[0][j][i], st[1][j][i]);
			assert_int_equal(wait[0][j][i], wait[1][j][i]);
			sent += st[1][j][i] == PORTAIL_OK;
			n[0] += st[1][j][i] == PORTAIL_OK;
			n[1] += st[1][j][i] == PORTAIL_ERR_TOO_SOON;
			n[2] += st[1][j][i] == PORTAIL_ERR_RATE_LIMITED;
		}
		assert_in_range(sent, 1, rules.max_per_day);
	}
	/* every answer kind was met: the limits were reached under the flood */
	assert_true(n[0] > 0 && n[1] > 0 && n[2] > 0);
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
		cmocka_unit_test(test_flood_answers_alike),
		cmocka_unit_test(test_seal),
	};

	return cmocka_run_group_tests_name("decoy", tests, NULL, NULL);
}
