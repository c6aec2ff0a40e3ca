/*
 * test_wbuf.c — client/wbuf.c, the wiping buffer of the protocol encoder
 * and the mail composer: what it holds, its limit, and that no block it
 * gives back to the heap (growing or wiped) still holds a secret, under
 * tests/fixtures/scan.c's watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"
#include "wbuf.h"

#define SECRET "Hn3xW-canari-wbuf-mot-de-passe-7719"

static void
test_appends_and_takes(void **state)
{
	struct portail_wbuf b = PORTAIL_WBUF_INIT(0);
	char *s;
	size_t len = 0;

	(void)state;
	assert_null(portail_wbuf_take(&b, &len));       /* nothing yet */
	assert_int_equal(portail_wbuf_puts(&b, "From: "), 0);
	assert_int_equal(portail_wbuf_append(&b, "a\0b", 3), 0);
	assert_int_equal(portail_wbuf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 9);
	assert_int_equal(b.data[9], '\0');
	s = portail_wbuf_take(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 9);
	assert_memory_equal(s, "From: a\0b", 10);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
}

static void
test_limit_fails_and_sticks(void **state)
{
	struct portail_wbuf b = PORTAIL_WBUF_INIT(8);
	size_t len = 77;

	(void)state;
	assert_int_equal(portail_wbuf_puts(&b, "12345678"), 0);        /* exactly max */
	assert_int_equal(portail_wbuf_append(&b, "9", 1), -1);
	assert_true(b.failed);
	assert_int_equal(portail_wbuf_append(&b, "", 0), -1);          /* failed stays failed */
	assert_null(portail_wbuf_take(&b, &len));
	assert_int_equal(len, 77);                                      /* untouched on failure */
	assert_null(b.data);
	assert_false(b.failed);                                         /* empty again, usable */
	assert_int_equal(portail_wbuf_puts(&b, "ok"), 0);
	portail_wbuf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 8);
}

static void
test_no_freed_block_holds_the_secret(void **state)
{
	struct portail_wbuf b = PORTAIL_WBUF_INIT(0);
	char filler[100];
	char *s;

	(void)state;
	memset(filler, 'x', sizeof(filler));
	fx_scan_arm(SECRET, NULL);
	assert_int_equal(portail_wbuf_puts(&b, SECRET), 0);
	/* grown from 512 bytes to 8 KiB: four old blocks given back */
	for (int i = 0; i < 60; i++)
		assert_int_equal(portail_wbuf_append(&b, filler, sizeof(filler)), 0);
	assert_true(b.size >= 8192);
	portail_wbuf_wipe(&b);
	assert_int_equal(portail_wbuf_puts(&b, SECRET), 0);
	s = portail_wbuf_take(&b, NULL);
	assert_non_null(s);
	explicit_bzero(s, strlen(s));
	free(s);
	fx_scan_disarm();
	assert_true(fx_scan_blocks() >= 6);
	assert_int_equal(fx_scan_hits(), 0);

	/* and the watch sees a block freed unwiped */
	fx_scan_arm(SECRET, NULL);
	s = strdup(SECRET);
	free(s);
	fx_scan_disarm();
	assert_int_equal(fx_scan_hits(), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appends_and_takes),
		cmocka_unit_test(test_limit_fails_and_sticks),
		cmocka_unit_test(test_no_freed_block_holds_the_secret),
	};

	fx_scan_install();
	return cmocka_run_group_tests_name("wbuf", tests, NULL, NULL);
}
