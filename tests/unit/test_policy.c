/*
 * test_policy.c — the arithmetic of the security rules (lib/policy.c):
 * the lockout doubling from the first lock to its cap and past it (no
 * overflow, no long loop with absurd counts), the code limits exactly at,
 * below and above their edges, and the sliding day's boundaries, which
 * the store and the decoy table both count with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include <cmocka.h>

#include "policy.h"

static void
test_lockout_doubling(void **state)
{
	static const struct {
		int failures;
		bool locked;
		int64_t seconds;
	} cases[] = {
		{ INT_MIN, false, 0 }, { -1, false, 0 }, { 0, false, 0 }, { 1, false, 0 },
		{ 2, false, 0 },                /* below max_failures: no lock */
		{ 3, true, 60 },                /* the max_failures-th: the first lock */
		{ 4, true, 120 }, { 5, true, 240 }, { 6, true, 480 }, { 7, true, 960 },
		{ 8, true, 1920 },
		{ 9, true, 3600 },              /* 3840 capped */
		{ 10, true, 3600 }, { 1000, true, 3600 }, { INT_MAX - 1, true, 3600 },
		{ INT_MAX, true, 3600 },
	};
	const struct portail_lockout p = { 3, 60, 3600 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t s = -1;

		assert_int_equal(portail_policy_lockout(&p, cases[i].failures, &s), cases[i].locked);
		assert_int_equal(s, cases[i].seconds);
	}
}

/* The configuration's extremes, and values past them: never an overflow. */
static void
test_lockout_extremes(void **state)
{
	static const struct {
		struct portail_lockout p;
		int failures;
		int64_t seconds;
	} cases[] = {
		/* config.c's largest values: 1000 failures, a day doubling to a week */
		{ { 1000, 86400, 604800 }, 1000, 86400 },
		{ { 1000, 86400, 604800 }, 1001, 172800 },
		{ { 1000, 86400, 604800 }, 1002, 345600 },
		{ { 1000, 86400, 604800 }, 1003, 604800 },      /* 691200 capped */
		{ { 1000, 86400, 604800 }, INT_MAX, 604800 },
		/* the smallest: one failure, one second, one second at most */
		{ { 1, 1, 1 }, 1, 1 }, { { 1, 1, 1 }, INT_MAX, 1 },
		/* a first lock already at the cap does not grow */
		{ { 5, 600, 600 }, 5, 600 }, { { 5, 600, 600 }, 6, 600 },
		/* doubling up to INT_MAX itself: 2^30, then 2^31 capped */
		{ { 1, 1, INT_MAX }, 31, 1073741824 },
		{ { 1, 1, INT_MAX }, 32, INT_MAX },
		{ { 1, 1, INT_MAX }, INT_MAX, INT_MAX },
		/* the widest gap between the threshold and the count */
		{ { INT_MIN, 1, INT_MAX }, INT_MAX, INT_MAX },
		/* past config.c's bounds: a first lock beyond its cap is capped */
		{ { 3, 7200, 3600 }, 3, 3600 },
		/* a lock that is not positive does not grow (config.c refuses it) */
		{ { 1, 0, 3600 }, INT_MAX, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t s = -1;

		assert_true(portail_policy_lockout(&cases[i].p, cases[i].failures, &s));
		assert_int_equal(s, cases[i].seconds);
	}
}

/* DESIGN §2 defaults: a 30 s resend interval, 10 codes a day. */
static const struct portail_code_rules rules = { 600, 5, 30, 10 };

static void
test_code_issue_edges(void **state)
{
	static const struct {
		int64_t last;           /* seconds before now; -1: no code in the day */
		int today;
		portail_status r;
		int wait;
	} cases[] = {
		{ -1, 0, PORTAIL_OK, -7 },
		/* the resend interval: at, below and above its edge */
		{ 0, 1, PORTAIL_ERR_TOO_SOON, 30 },
		{ 1, 1, PORTAIL_ERR_TOO_SOON, 29 },
		{ 29, 1, PORTAIL_ERR_TOO_SOON, 1 },
		{ 30, 1, PORTAIL_OK, -7 },
		{ 31, 1, PORTAIL_OK, -7 },
		/* the day's count: at, below and above max_per_day */
		{ 3600, 9, PORTAIL_OK, -7 },
		{ 3600, 10, PORTAIL_ERR_RATE_LIMITED, -7 },
		{ 3600, 11, PORTAIL_ERR_RATE_LIMITED, -7 },
		/* too soon is told first, even on the day's last code */
		{ 10, 10, PORTAIL_ERR_TOO_SOON, 20 },
	};
	const int64_t now = 1800000000;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t last = cases[i].last < 0 ? 0 : now - cases[i].last;
		int wait = -7;

		assert_int_equal(portail_policy_code_issue(&rules, now, last, cases[i].today, &wait),
		    cases[i].r);
		assert_int_equal(wait, cases[i].wait);  /* set only with TOO_SOON */
	}
}

static void
test_code_issue_no_interval(void **state)
{
	struct portail_code_rules r = rules;
	const int64_t now = 1800000000;
	int wait = -7;

	(void)state;
	r.resend_interval = 0;
	assert_int_equal(portail_policy_code_issue(&r, now, now, 0, &wait), PORTAIL_OK);
	r.max_per_day = 1;
	assert_int_equal(portail_policy_code_issue(&r, now, now, 0, &wait), PORTAIL_OK);
	assert_int_equal(portail_policy_code_issue(&r, now, now, 1, &wait),
	    PORTAIL_ERR_RATE_LIMITED);
	assert_int_equal(wait, -7);
}

static void
test_sliding_day(void **state)
{
	const int64_t now = 1800000000;

	(void)state;
	assert_int_equal(PORTAIL_POLICY_DAY, 86400);
	assert_int_equal(portail_policy_day_start(now), now - 86400);
	/* a day ago exactly has left the window; a second later it is in */
	assert_false(portail_policy_in_day(now - 86400, now));
	assert_false(portail_policy_in_day(now - 86401, now));
	assert_false(portail_policy_in_day(0, now));
	assert_true(portail_policy_in_day(now - 86399, now));
	assert_true(portail_policy_in_day(now, now));
	/* one issue seen from the clock moving on: counted 86399 s, then not */
	assert_true(portail_policy_in_day(now, now + 86399));
	assert_false(portail_policy_in_day(now, now + 86400));
}

static void
test_code_check(void **state)
{
	const int64_t exp = 1800000600;

	(void)state;
	assert_int_equal(portail_policy_code_check(5, exp, exp - 600), PORTAIL_OK);
	assert_int_equal(portail_policy_code_check(1, exp, exp - 1), PORTAIL_OK);
	/* expired from its expiry on */
	assert_int_equal(portail_policy_code_check(1, exp, exp), PORTAIL_ERR_EXPIRED_CODE);
	assert_int_equal(portail_policy_code_check(1, exp, exp + 1), PORTAIL_ERR_EXPIRED_CODE);
	/* no try left is told first, expired or not */
	assert_int_equal(portail_policy_code_check(0, exp, exp - 1), PORTAIL_ERR_TOO_MANY_TRIES);
	assert_int_equal(portail_policy_code_check(0, exp, exp + 1), PORTAIL_ERR_TOO_MANY_TRIES);
	assert_int_equal(portail_policy_code_check(-1, exp, exp - 1), PORTAIL_ERR_TOO_MANY_TRIES);
	/* a wrong code: the last try used is the end */
	assert_int_equal(portail_policy_code_wrong(4), PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(portail_policy_code_wrong(1), PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(portail_policy_code_wrong(0), PORTAIL_ERR_TOO_MANY_TRIES);
	assert_int_equal(portail_policy_code_wrong(-1), PORTAIL_ERR_TOO_MANY_TRIES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lockout_doubling),
		cmocka_unit_test(test_lockout_extremes),
		cmocka_unit_test(test_code_issue_edges),
		cmocka_unit_test(test_code_issue_no_interval),
		cmocka_unit_test(test_sliding_day),
		cmocka_unit_test(test_code_check),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
