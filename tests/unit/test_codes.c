/* test_codes.c — codes, tickets and the keyed hashes behind them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "codes.h"

static portail_key *key, *other_key;

static int
setup(void **state)
{
	char path[256];
	const char *tmp = getenv("PORTAIL_TEST_TMP");

	snprintf(path, sizeof(path), "%s/k1", tmp ? tmp : "/tmp");
	unlink(path);
	if (portail_key_create(path, (uid_t)-1, (gid_t)-1, NULL) != PORTAIL_OK ||
	    portail_key_load(path, &key, NULL) != PORTAIL_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/k2", tmp ? tmp : "/tmp");
	unlink(path);
	if (portail_key_create(path, (uid_t)-1, (gid_t)-1, NULL) != PORTAIL_OK ||
	    portail_key_load(path, &other_key, NULL) != PORTAIL_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	portail_key_free(key);
	portail_key_free(other_key);
	return 0;
}

static void
test_generate(void **state)
{
	char alphabet[] = "0123456789abcdef";
	struct portail_codes_config c = { .alphabet = alphabet, .length = 6 };
	int seen[16] = { 0 };

	for (int i = 0; i < 2000; i++) {
		char code[PORTAIL_CODE_MAX + 1];

		portail_code_generate(&c, code);
		assert_int_equal(strlen(code), 6);
		for (int j = 0; j < 6; j++) {
			const char *p = strchr(c.alphabet, code[j]);

			assert_non_null(p);
			seen[p - c.alphabet]++;
		}
	}
	/* every letter of the alphabet turns up (12,000 draws, 16 letters) */
	for (int i = 0; i < 16; i++)
		assert_true(seen[i] > 400);
}

static void
test_normalize(void **state)
{
	char a1[] = "0123456789abcdef", a2[] = "ABCDEFGHJKMNPQRSTVWXYZ23456789";
	struct portail_codes_config hex = { .alphabet = a1, .length = 6 };
	struct portail_codes_config upper = { .alphabet = a2, .length = 8 };
	char out[PORTAIL_CODE_MAX + 1];

	assert_int_equal(portail_code_normalize(&hex, "94005D", out), PORTAIL_OK);
	assert_string_equal(out, "94005d");
	assert_int_equal(portail_code_normalize(&hex, "  94005d \t", out), PORTAIL_OK);
	assert_string_equal(out, "94005d");
	assert_int_equal(portail_code_normalize(&hex, "94005d\r\n", out), PORTAIL_OK);
	assert_int_equal(portail_code_normalize(&hex, "94005", out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_code_normalize(&hex, "94005dd", out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_code_normalize(&hex, "94 05d", out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_code_normalize(&hex, "94005g", out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_code_normalize(&hex, "", out), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_code_normalize(&upper, "abcd2345", out), PORTAIL_OK);
	assert_string_equal(out, "ABCD2345");
	assert_int_equal(portail_code_normalize(&upper, "ABCD2341", out), PORTAIL_ERR_INVALID);
}

static void
test_hash_binding(void **state)
{
	unsigned char a[PORTAIL_HASH_BYTES], b[PORTAIL_HASH_BYTES];

	portail_code_hash(key, "a@b.ca", "signup", "123456", a);
	portail_code_hash(key, "a@b.ca", "signup", "123456", b);
	assert_memory_equal(a, b, sizeof(a));
	/* another purpose, address, code or server key: another hash */
	portail_code_hash(key, "a@b.ca", "reset", "123456", b);
	assert_memory_not_equal(a, b, sizeof(a));
	portail_code_hash(key, "x@b.ca", "signup", "123456", b);
	assert_memory_not_equal(a, b, sizeof(a));
	portail_code_hash(key, "a@b.ca", "signup", "123457", b);
	assert_memory_not_equal(a, b, sizeof(a));
	portail_code_hash(other_key, "a@b.ca", "signup", "123456", b);
	assert_memory_not_equal(a, b, sizeof(a));
	/* parts are length-prefixed: no sliding between them */
	portail_code_hash(key, "a@b.casignup", "", "123456", b);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_tickets(void **state)
{
	char t1[PORTAIL_TICKET_LEN + 1], t2[PORTAIL_TICKET_LEN + 1];
	unsigned char h1[PORTAIL_HASH_BYTES], h2[PORTAIL_HASH_BYTES];

	portail_ticket_generate(key, t1, h1);
	portail_ticket_generate(key, t2, h2);
	assert_int_equal(strlen(t1), PORTAIL_TICKET_LEN);
	assert_int_equal(strncmp(t1, "ptt_", 4), 0);
	assert_string_not_equal(t1, t2);
	assert_memory_not_equal(h1, h2, sizeof(h1));
	assert_int_equal(portail_ticket_hash(key, t1, h2), PORTAIL_OK);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_int_equal(portail_ticket_hash(key, "ptt_short", h2), PORTAIL_ERR_INVALID);
	t2[10] = '*';
	assert_int_equal(portail_ticket_hash(key, t2, h2), PORTAIL_ERR_INVALID);
	assert_int_equal(portail_ticket_hash(key, "", h2), PORTAIL_ERR_INVALID);
}

static void
test_key_file_rules(void **state)
{
	char path[256];
	portail_key *k = NULL;
	portail_error err;
	FILE *f;
	const char *tmp = getenv("PORTAIL_TEST_TMP");

	snprintf(path, sizeof(path), "%s/k3", tmp ? tmp : "/tmp");
	unlink(path);
	assert_int_equal(portail_key_load(path, &k, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "portail init"));
	f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(portail_key_load(path, &k, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "32-byte"));
	/* create never overwrites */
	assert_int_equal(portail_key_create(path, (uid_t)-1, (gid_t)-1, &err), PORTAIL_OK);
	assert_int_equal(portail_key_load(path, &k, &err), PORTAIL_ERR_CONFIG);
	unlink(path);
	assert_int_equal(portail_key_create(path, (uid_t)-1, (gid_t)-1, &err), PORTAIL_OK);
	chmod(path, 0640);
	assert_int_equal(portail_key_load(path, &k, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_null(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_hash_binding),
		cmocka_unit_test(test_tickets),
		cmocka_unit_test(test_key_file_rules),
	};

	return cmocka_run_group_tests_name("codes", tests, setup, teardown);
}
