/*
 * test_messages.c — the shared message table: every entry has both
 * languages, and both take exactly the printf conversions its ARGS names,
 * so portail_msgf never reads an argument that is not there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "messages.h"

/* The conversions of a printf format, one letter each ("%s" → 's', "%d" → 'd'); "%%" skipped. */
static int
conversions(const char *fmt, char *out, size_t size)
{
	size_t n = 0;

	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '%')
			continue;
		while (*p != '\0' && strchr("-+ #0123456789.*lhzjt", *p) != NULL) {
			if (*p == '*')
				return -1;      /* not used in the table */
			p++;
		}
		if (*p == '\0' || strchr("sdiuxc", *p) == NULL || n + 1 >= size)
			return -1;
		out[n++] = *p == 'i' ? 'd' : *p;
	}
	out[n] = '\0';
	return 0;
}

static void
test_every_entry_matches_its_args(void **state)
{
	(void)state;
	for (int id = 0; id < PORTAIL_MSG_COUNT; id++) {
		char fr[16], en[16];
		const char *args = portail_msg_args(id);

		assert_non_null(portail_msg_name(id));
		assert_non_null(args);
		assert_non_null(portail_msg(id, false));
		assert_non_null(portail_msg(id, true));
		assert_true(portail_msg(id, false)[0] != '\0');
		assert_true(portail_msg(id, true)[0] != '\0');
		assert_int_equal(conversions(portail_msg(id, false), fr, sizeof(fr)), 0);
		assert_int_equal(conversions(portail_msg(id, true), en, sizeof(en)), 0);
		if (strcmp(fr, args) != 0 || strcmp(en, args) != 0)
			fail_msg("%s: ARGS \"%s\", French takes \"%s\", English \"%s\"",
			    portail_msg_name(id), args, fr, en);
	}
}

static void
test_out_of_range(void **state)
{
	char buf[8] = "x";

	(void)state;
	assert_null(portail_msg(PORTAIL_MSG_COUNT, false));
	assert_null(portail_msg((enum portail_msg)-1, true));
	assert_null(portail_msg_args(PORTAIL_MSG_COUNT));
	assert_string_equal(portail_msgf(buf, sizeof(buf), PORTAIL_MSG_COUNT, false), "");
}

static void
test_msgf_cuts_and_terminates(void **state)
{
	char buf[12];

	(void)state;
	portail_msgf(buf, sizeof(buf), PORTAIL_MSG_UNAVAILABLE, true);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, portail_msg(PORTAIL_MSG_UNAVAILABLE, true), sizeof(buf) - 1);
}

static void
test_lang(void **state)
{
	(void)state;
	assert_true(portail_lang_is_en("en"));
	assert_true(portail_lang_is_en("EN-ca"));
	assert_true(portail_lang_is_en("en_US"));
	assert_false(portail_lang_is_en("fr"));
	assert_false(portail_lang_is_en("eng"));
	assert_false(portail_lang_is_en(""));
	assert_false(portail_lang_is_en(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_entry_matches_its_args),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_msgf_cuts_and_terminates),
		cmocka_unit_test(test_lang),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
