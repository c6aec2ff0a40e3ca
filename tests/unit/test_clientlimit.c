/*
 * test_clientlimit.c — portaild's attempts per client address
 * (portaild/clientlimit.c): the window at its edges, one address never
 * another's, IPv6 by its /64, what is no address, and the bounded table
 * under a flood of addresses. The clock is the argument: no waiting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon.h"

static void
test_window(void **state)
{
	const int64_t t = 1000000;
	int retry = -1;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(clientlimit_take("192.0.2.1", t + i, 3, 60, &retry));
	assert_int_equal(retry, 0);
	assert_false(clientlimit_take("192.0.2.1", t + 10, 3, 60, &retry));
	assert_int_equal(retry, 50);
	assert_false(clientlimit_take("192.0.2.1", t + 59, 3, 60, &retry));
	assert_int_equal(retry, 1);
	/* refused attempts are not counted on: the window ends when it ends */
	assert_true(clientlimit_take("192.0.2.1", t + 60, 3, 60, &retry));
	/* another address: its own count */
	assert_true(clientlimit_take("192.0.2.2", t + 60, 3, 60, &retry));
	/* the same address written as IPv4-mapped IPv6 is the same client */
	assert_true(clientlimit_take("::ffff:192.0.2.1", t + 61, 3, 60, &retry));
	assert_true(clientlimit_take("192.0.2.1", t + 61, 3, 60, &retry));
	assert_false(clientlimit_take("::ffff:192.0.2.1", t + 62, 3, 60, &retry));
	/* a clock that went back starts a new window rather than refusing for ever */
	assert_true(clientlimit_take("192.0.2.1", t - 1000, 3, 60, &retry));
}

static void
test_ipv6_and_junk(void **state)
{
	const int64_t t = 2000000;
	int retry;

	(void)state;
	assert_true(clientlimit_take("2001:db8:1:2::1", t, 2, 60, &retry));
	assert_true(clientlimit_take("2001:db8:1:2:ffff:ffff:ffff:ffff", t, 2, 60, &retry));
	assert_false(clientlimit_take("2001:db8:1:2::77", t, 2, 60, &retry));
	assert_true(clientlimit_take("2001:db8:1:3::1", t, 2, 60, &retry));
	/* no address: not counted (a local client, the socket's peer) */
	for (int i = 0; i < 10; i++) {
		assert_true(clientlimit_take(NULL, t, 1, 60, &retry));
		assert_true(clientlimit_take("unix", t, 1, 60, &retry));
		assert_true(clientlimit_take("", t, 1, 60, &retry));
		assert_true(clientlimit_take("192.0.2.1; DROP", t, 1, 60, &retry));
		assert_true(clientlimit_take("999.1.1.1", t, 1, 60, &retry));
	}
	/* limit 0: off */
	for (int i = 0; i < 10; i++)
		assert_true(clientlimit_take("198.51.100.9", t, 0, 60, &retry));
}

/*
 * 200,000 distinct addresses (25 times the table) in one window: no
 * allocation, no failure; an address pushed out may start again, but
 * the one flooding from a single address stays limited all along.
 */
static void
test_flood(void **state)
{
	const int64_t t = 3000000;
	char a[64];
	int retry, refused = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_true(clientlimit_take("203.0.113.200", t, 5, 600, &retry));
	for (int i = 0; i < 200000; i++) {
		snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		(void)clientlimit_take(a, t + 1, 5, 600, &retry);
		/* the flooder keeps trying in between: its slot is always the newest used */
		if (i % 1000 == 0 && !clientlimit_take("203.0.113.200", t + 1, 5, 600, &retry))
			refused++;
	}
	assert_int_equal(refused, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_ipv6_and_junk),
		cmocka_unit_test(test_flood),
	};

	if (sodium_init() < 0)
		return 99;
	return cmocka_run_group_tests_name("clientlimit", tests, NULL, NULL);
}
