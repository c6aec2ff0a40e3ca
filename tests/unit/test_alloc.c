/*
 * test_alloc.c — portaild's jansson allocator (portaild/alloc.c): every
 * block jansson frees is wiped first, so a request's password is left in
 * no freed block of the daemon's heap.
 *
 * The watch is tests/fixtures/scan.c's, as in
 * tests/integration/test_wipe.c: without AddressSanitizer, its free and
 * realloc interpose glibc's and scan each block before glibc frees it;
 * with AddressSanitizer, its free hook does the same scan. The first test
 * shows the watch sees what jansson leaves with its default allocator.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alloc.h"
#include "scan.h"

#define CANARY "Zt4wQ-canari-alloc-mot-de-passe-5120"
#define NEEDLE_LEN FX_SCAN_NEEDLE_LEN
#define REQUEST "{\"v\":1,\"op\":\"auth.password\",\"email\":\"chantal.gagnon@exemple.ca\"," \
	"\"password\":\"" CANARY "\"}"

static int
watch_install(void **state)
{
	(void)state;
	fx_scan_install();
	return 0;
}

static void
arm(void)
{
	fx_scan_arm(CANARY, NULL);
}

/* Parses a request as portaild does, wipes its password as ops.c does, drops it. */
static void
parse_and_drop(void)
{
	json_error_t jerr;
	json_t *req = json_loads(REQUEST, JSON_REJECT_DUPLICATES, &jerr), *pw;

	assert_non_null(req);
	pw = json_object_get(req, "password");
	assert_string_equal(json_string_value(pw), CANARY);
	explicit_bzero((void *)(uintptr_t)json_string_value(pw), json_string_length(pw));
	json_decref(req);
}

/* The threat, and the watch that sees it: jansson's parser leaves a copy. */
static void
test_default_allocator_leaves_a_copy(void **state)
{
	(void)state;
	json_set_alloc_funcs(malloc, free);
	arm();
	parse_and_drop();
	fx_scan_disarm();
	assert_true(fx_scan_blocks() > 0);
	assert_true(fx_scan_hits() >= 1);
}

static void
test_free_wipes_the_whole_block(void **state)
{
	char *p;

	(void)state;
	wipe_alloc_free(NULL);
	for (size_t n = 1; n < 5000; n = n * 3 + 1) {
		p = wipe_alloc_malloc(n + NEEDLE_LEN);
		assert_non_null(p);
		assert_true(malloc_usable_size(p) >= n + NEEDLE_LEN);
		/* the canary at the very end of what was asked */
		memset(p, 'x', n);
		memcpy(p + n, CANARY, NEEDLE_LEN);
		arm();
		wipe_alloc_free(p);
		fx_scan_disarm();
		assert_int_equal(fx_scan_blocks(), 1);
		assert_int_equal(fx_scan_hits(), 0);
	}
}

static void
test_installed_jansson_leaves_nothing(void **state)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	char *dumped;

	(void)state;
	wipe_alloc_install();
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, wipe_alloc_malloc);
	assert_ptr_equal(f, wipe_alloc_free);
	arm();
	parse_and_drop();
	/* nor when the strings are not wiped by hand, nor after a dump */
	{
		json_t *req = json_loads(REQUEST, 0, NULL);

		assert_non_null(req);
		dumped = json_dumps(req, JSON_COMPACT);
		assert_non_null(strstr(dumped, CANARY));
		wipe_alloc_free(dumped);
		json_decref(req);
	}
	fx_scan_disarm();
	assert_true(fx_scan_blocks() > 0);
	assert_int_equal(fx_scan_hits(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_allocator_leaves_a_copy),
		cmocka_unit_test(test_free_wipes_the_whole_block),
		cmocka_unit_test(test_installed_jansson_leaves_nothing),
	};

	return cmocka_run_group_tests_name("alloc", tests, watch_install, NULL);
}
