/*
 * test_alloc.c — portaild's jansson allocator (portaild/alloc.c): every
 * block jansson frees is wiped first, so a request's password is left in
 * no freed block of the daemon's heap.
 *
 * The watch, as in tests/integration/test_wipe.c: without
 * AddressSanitizer, free and realloc are interposed here and scan each
 * block (malloc_usable_size) before glibc frees it; with
 * AddressSanitizer, its free hook does the same scan. The first test
 * shows the watch sees what jansson leaves with its default allocator.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alloc.h"

#ifdef __SANITIZE_ADDRESS__
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
#endif

#define CANARY "Zt4wQ-canari-alloc-mot-de-passe-5120"
#define NEEDLE_LEN 12
#define REQUEST "{\"v\":1,\"op\":\"auth.password\",\"email\":\"chantal.gagnon@exemple.ca\"," \
	"\"password\":\"" CANARY "\"}"

static atomic_int armed;
static atomic_int leaks;
static atomic_long scanned;

static void
scan(const void *p, size_t n)
{
	if (p == NULL || !atomic_load(&armed))
		return;
	atomic_fetch_add(&scanned, 1);
	if (n >= NEEDLE_LEN && memmem(p, n, CANARY, NEEDLE_LEN) != NULL)
		atomic_fetch_add(&leaks, 1);
}

#ifdef __SANITIZE_ADDRESS__
static void
on_malloc(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
}

static void
on_free(const volatile void *p)
{
	const void *q = (const void *)(uintptr_t)p;

	if (q != NULL && atomic_load(&armed))
		scan(q, __sanitizer_get_allocated_size(q));
}

static int
watch_install(void **state)
{
	(void)state;
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
	return 0;
}
#else
extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t n);

void
free(void *p)
{
	if (p != NULL && atomic_load(&armed))
		scan(p, malloc_usable_size(p));
	__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	if (p != NULL && atomic_load(&armed))
		scan(p, malloc_usable_size(p));
	return __libc_realloc(p, n);
}

static int
watch_install(void **state)
{
	(void)state;
	return 0;
}
#endif

static void
arm(void)
{
	atomic_store(&leaks, 0);
	atomic_store(&scanned, 0);
	atomic_store(&armed, 1);
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
	atomic_store(&armed, 0);
	assert_true(atomic_load(&scanned) > 0);
	assert_true(atomic_load(&leaks) >= 1);
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
		atomic_store(&armed, 0);
		assert_int_equal(atomic_load(&scanned), 1);
		assert_int_equal(atomic_load(&leaks), 0);
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
	atomic_store(&armed, 0);
	assert_true(atomic_load(&scanned) > 0);
	assert_int_equal(atomic_load(&leaks), 0);
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
