/*
 * test_jid.c — the address an XEP-0106-escaped JID names (client/jid.c):
 * the escapes decoded, the host dropped, and every JID that does not name
 * exactly one address refused, never guessed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jid.h"

static void
yes(const char *jid, const char *want)
{
	char out[255];

	if (!portail_jid_address(jid, out, sizeof(out)))
		fail_msg("refused: %s", jid);
	assert_string_equal(out, want);
}

static void
no(const char *jid)
{
	char out[255] = "x";

	if (portail_jid_address(jid, out, sizeof(out)))
		fail_msg("accepted: %s as %s", jid, out);
	assert_string_equal(out, "");
}

static void
test_escaped_addresses(void **state)
{
	(void)state;
	yes("chantal.gagnon\\40exemple.ca@parents.example", "chantal.gagnon@exemple.ca");
	yes("chantal.gagnon\\40courriel.example@parents.example", "chantal.gagnon@courriel.example");
	/* saslauthd without -r hands the local part alone */
	yes("chantal.gagnon\\40exemple.ca", "chantal.gagnon@exemple.ca");
	/* every escape of the XEP */
	yes("a\\20b\\22c\\26d\\27e\\2ff\\3ag\\3ch\\3ei\\5cj\\40x.example",
	    "a b\"c&d'e/f:g<h>i\\j@x.example");
	/* \5c40 is a backslash, then "40": not an '@' (XEP-0106 §4.3) */
	yes("a\\5c40b\\40x.example", "a\\40b@x.example");
	/* a backslash that starts no escape stays (the address check refuses it) */
	yes("a\\41b\\40x.example", "a\\41b@x.example");
	/* upper-case hex is no escape (nodeprep writes lower case) */
	yes("a\\2Fb\\40x.example", "a\\2Fb@x.example");
	yes("o'neil\\40x.example@h", "o'neil@x.example");
}

static void
test_refused(void **state)
{
	char out[8] = "x";

	(void)state;
	no("");
	no("@parents.example");
	no("chantal.gagnon\\40exemple.ca@");                /* empty host */
	no("chantal.gagnon@exemple.ca");                    /* not escaped: the domain is the host */
	no("chantal.gagnon@exemple.ca@parents.example");    /* two raw '@' */
	no("chantal.gagnon");                                /* no address at all */
	no("a\\40b\\40c@h");                                 /* two '@' once decoded */
	no("\\40exemple.ca@h");                              /* nothing before the '@' */
	no("chantal\\40@h");                                 /* nothing after it */
	no("chantal\\4");                                    /* a cut escape */
	no("chantal\\40");
	yes("a\\40b\\4", "a@b\\4");       /* a cut escape at the end stays */
	/* an escape split across the host separator */
	no("chantal\\4@0x");
	/* does not fit: refused, not cut */
	assert_false(portail_jid_address("abc\\40d.example", out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(portail_jid_address("a\\40b", out, 0));
	assert_true(portail_jid_address("a\\40b.c", out, sizeof(out)));
	assert_string_equal(out, "a@b.c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaped_addresses),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
