/* test_email.c — address checks, comparison keys and RFC 4515 escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "email.h"

static void
test_valid(void **state)
{
	static const char *const ok[] = {
		"chantal.gagnon@exemple.ca",
		"Marc.Roy@Exemple.CA",
		"a1225cbgrics@outlook.com",
		"x@y.qc.ca",
		"prénom.nom@école.qc.ca",
		"st*r@exemple.ca",
		"o'brien+ecole@exemple.ca",
		"a-b_c{d}@sous-domaine.exemple.ca",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		portail_error err;

		if (portail_email_check(ok[i], &err) != PORTAIL_OK)
			fail_msg("%s: %s", ok[i], err.message);
	}
}

static void
test_invalid(void **state)
{
	char long_local[80], long_addr[300];
	const struct {
		const char *addr;
		const char *why;
	} bad[] = {
		{ "", "empty address" },
		{ "no-at-sign", "no '@'" },
		{ "a@b@c.ca", "more than one '@'" },
		{ "@exemple.ca", "nothing before '@'" },
		{ "a@", "no domain" },
		{ "a@localhost", "has no '.'" },
		{ "a@.exemple.ca", "malformed" },
		{ "a@exemple..ca", "malformed" },
		{ "a@exemple.ca.", "malformed" },
		{ "a@-exemple.ca", "malformed" },
		{ ".a@exemple.ca", "misplaced '.'" },
		{ "a.@exemple.ca", "misplaced '.'" },
		{ "a..b@exemple.ca", "misplaced '.'" },
		{ "a b@exemple.ca", "' ' not allowed" },
		{ "a\tb@exemple.ca", "control character" },
		{ "a@exemple.ca\r\nBcc: x@y.ca", "control character" },
		{ "a\x7f@exemple.ca", "control character" },
		{ "*)(objectClass=*", "')' not allowed" },
		{ "a)(x=*@exemple.ca", "')' not allowed" },
		{ "a\\2a@exemple.ca", "'\\' not allowed" },
		{ "\"quoted\"@exemple.ca", "'\"' not allowed" },
		{ "a<b>@exemple.ca", "'<' not allowed" },
		{ "a,b@exemple.ca", "',' not allowed" },
		{ "a;b@exemple.ca", "';' not allowed" },
		{ "a|b@exemple.ca", "'|' not allowed" },
		{ "a`id`@exemple.ca", "'`' not allowed" },
		{ "\xc3\x28@exemple.ca", "not valid UTF-8" },
		{ "\xed\xa0\x80@exemple.ca", "not valid UTF-8" },
		{ long_local, "longer than 64" },
		{ long_addr, "longer than 254" },
	};

	memset(long_local, 'a', 65);
	strcpy(long_local + 65, "@exemple.ca");
	memset(long_addr, 'a', 60);
	long_addr[60] = '@';
	for (int i = 0; i < 4; i++) {
		memset(long_addr + 61 + i * 50, 'b', 49);
		long_addr[61 + i * 50 + 49] = '.';
	}
	strcpy(long_addr + 261, "ca");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		portail_error err = { { 0 } };
		portail_status r = portail_email_check(bad[i].addr, &err);

		if (r != PORTAIL_ERR_INVALID || strstr(err.message, bad[i].why) == NULL)
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.message, bad[i].why);
	}
	assert_int_equal(portail_email_check(NULL, NULL), PORTAIL_ERR_INVALID);
}

static void
test_limits_exact(void **state)
{
	char addr[300];

	/* 64-byte local part: accepted */
	memset(addr, 'a', 64);
	strcpy(addr + 64, "@exemple.ca");
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_OK);
	/* 254 bytes in all: accepted; 255: refused */
	memset(addr, 'a', 10);
	addr[10] = '@';
	for (int i = 0; i < 4; i++) {
		memset(addr + 11 + i * 60, 'c', 59);
		addr[11 + i * 60 + 59] = '.';
	}
	memcpy(addr + 251, "caa", 4);
	assert_int_equal(strlen(addr), 254);
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_OK);
	strcat(addr, "a");
	assert_int_equal(portail_email_check(addr, NULL), PORTAIL_ERR_INVALID);
}

static void
test_key(void **state)
{
	char *a = NULL;

	assert_int_equal(portail_email_key("Marc.Roy@Exemple.CA", &a, NULL), PORTAIL_OK);
	assert_string_equal(a, "marc.roy@exemple.ca");
	free(a);
	a = NULL;
	assert_int_equal(portail_email_key("not an address", &a, NULL), PORTAIL_ERR_INVALID);
	assert_null(a);
}

/* The exact key of a few addresses (DESIGN §2, address identity). */
static void
test_key_exact(void **state)
{
	static const struct {
		const char *addr, *key;
	} cases[] = {
		/* IDNA2008 nontransitional: ß stays, another registrable domain */
		{ "julien.tremblay@ma\xc3\x9f""awippi.ca", "julien.tremblay@xn--maawippi-rya.ca" },
		{ "julien.tremblay@massawippi.ca", "julien.tremblay@massawippi.ca" },
		/* U-label, A-label, upper-case A-label, upper-case U-label: one domain */
		{ "parent@\xc3\xa9""cole.ca", "parent@xn--cole-9oa.ca" },
		{ "parent@XN--COLE-9OA.CA", "parent@xn--cole-9oa.ca" },
		{ "parent@\xc3\x89""COLE.CA", "parent@xn--cole-9oa.ca" },
		/* local part: NFC, ASCII lower-cased, nothing else folded */
		{ "\xc3\x89RIC@exemple.ca", "\xc3\x89ric@exemple.ca" },
		{ "E\xcc\x81RIC@exemple.ca", "\xc3\x89ric@exemple.ca" },
		{ "stra\xc3\x9f""e@exemple.ca", "stra\xc3\x9f""e@exemple.ca" },
		/* İ (U+0130) in a domain: UTS 46 maps it to i + U+0307 */
		{ "a@\xc4\xb0stanbul.tr", "a@xn--istanbul-o0e.tr" },
		{ "a@\xc4\xb1stanbul.tr", "a@xn--stanbul-qfb.tr" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		portail_error err = { { 0 } };
		char *k = NULL;

		if (portail_email_key(cases[i].addr, &k, &err) != PORTAIL_OK)
			fail_msg("%s: %s", cases[i].addr, err.message);
		if (strcmp(k, cases[i].key) != 0)
			fail_msg("%s: key %s, want %s", cases[i].addr, k, cases[i].key);
		free(k);
	}
}

/*
 * Pairs of spellings and whether they are one account. Apart: everything
 * a full case-fold or a compatibility mapping would join in a local part,
 * and every domain IDNA2008 tells apart. Alike: what is the same address
 * (ASCII case, NFC, the UTS 46 mapping of a domain, which DNS applies).
 */
static void
test_key_pairs(void **state)
{
	static const struct {
		const char *a, *b;
		bool same;
	} cases[] = {
		/* the takeover of issue 11: ß is not ss in a domain */
		{ "julien.tremblay@ma\xc3\x9f""awippi.ca", "julien.tremblay@massawippi.ca", false },
		{ "julien.tremblay@xn--maawippi-rya.ca", "julien.tremblay@ma\xc3\x9f""awippi.ca", true },
		{ "JULIEN.Tremblay@MASSAWIPPI.CA", "julien.tremblay@massawippi.ca", true },
		/* nor in a local part, nor ſ, ﬁ, or a case-fold of non-ASCII */
		{ "stra\xc3\x9f""e@exemple.ca", "strasse@exemple.ca", false },
		{ "\xc5\xbf""am@exemple.ca", "sam@exemple.ca", false },
		{ "\xef\xac\x81lou@exemple.ca", "filou@exemple.ca", false },
		{ "\xc3\x89lise@exemple.ca", "\xc3\xa9lise@exemple.ca", false },
		/* dotted and dotless i, in the local part and in the domain */
		{ "\xc4\xb0nci@exemple.ca", "inci@exemple.ca", false },
		{ "\xc4\xb1nci@exemple.ca", "inci@exemple.ca", false },
		{ "\xc4\xb0nci@exemple.ca", "\xc4\xb1nci@exemple.ca", false },
		{ "a@\xc4\xb0stanbul.tr", "a@istanbul.tr", false },
		{ "a@\xc4\xb1stanbul.tr", "a@istanbul.tr", false },
		/* fullwidth letters before '@': not ASCII (NFC keeps them) */
		{ "\xef\xbd\x8a\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x89\xef\xbd\x85\xef\xbd\x8e@exemple.ca",
		  "julien@exemple.ca", false },
		/* mixed script: a Cyrillic а (U+0430) is another domain, another local part */
		{ "julien@m\xd0\xb0ssawippi.ca", "julien@massawippi.ca", false },
		{ "juli\xd0\xb5n@massawippi.ca", "julien@massawippi.ca", false },
		/* precomposed or combining é: NFC, in both parts */
		{ "h\xc3\xa9l\xc3\xa8ne@\xc3\xa9""cole.ca", "he\xcc\x81le\xcc\x80ne@e\xcc\x81""cole.ca", true },
		{ "H\xc3\x89L\xc3\x88NE@exemple.ca", "HE\xcc\x81LE\xcc\x80NE@exemple.ca", true },
		{ "H\xc3\x89L\xc3\x88NE@exemple.ca", "h\xc3\xa9l\xc3\xa8ne@exemple.ca", false },
		/* a Unicode domain in U-label and A-label form */
		{ "parent@\xc3\xa9""cole.ca", "parent@xn--cole-9oa.ca", true },
		{ "parent@\xc3\x89""cole.ca", "PARENT@XN--COLE-9OA.CA", true },
		{ "parent@\xc3\xa9""cole.ca", "parent@ecole.ca", false },
		/* in a domain UTS 46 maps K, ſ, ﬁ and fullwidth letters: the same DNS name */
		{ "julien@\xe2\x84\xaa""amouraska.ca", "julien@kamouraska.ca", true },
		{ "julien@ma\xc5\xbfsawippi.ca", "julien@massawippi.ca", true },
		{ "a@\xef\xac\x81n.ca", "a@fin.ca", true },
		{ "a@\xef\xbd\x85\xef\xbd\x98\xef\xbd\x85\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85.ca",
		  "a@exemple.ca", true },
		/* UTS 46 ignores a ZERO WIDTH SPACE in a domain */
		{ "a@\xe2\x80\x8b""exemple.ca", "a@exemple.ca", true },
		/* … and a SOFT HYPHEN; an ideographic full stop is a dot */
		{ "a@ma\xc2\xadssawippi.ca", "a@massawippi.ca", true },
		{ "a@exemple\xe3\x80\x82""ca.qc.ca", "a@exemple.ca.qc.ca", true },
		/* U+212B ANGSTROM SIGN is Å (NFC) in both parts: a non-ASCII letter, kept */
		{ "\xe2\x84\xab""sa@exemple.ca", "\xc3\x85sa@exemple.ca", true },
		{ "\xc3\x85sa@exemple.ca", "\xc3\xa5sa@exemple.ca", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		portail_error err = { { 0 } };
		char *ka = NULL, *kb = NULL;

		if (portail_email_key(cases[i].a, &ka, &err) != PORTAIL_OK)
			fail_msg("%s: %s", cases[i].a, err.message);
		if (portail_email_key(cases[i].b, &kb, &err) != PORTAIL_OK)
			fail_msg("%s: %s", cases[i].b, err.message);
		if ((strcmp(ka, kb) == 0) != cases[i].same)
			fail_msg("case %zu: %s (%s) and %s (%s) should %s", i, cases[i].a, ka,
			    cases[i].b, kb, cases[i].same ? "key alike" : "key apart");
		free(ka);
		free(kb);
	}
}

/* Refused, with a message that says why. */
static void
test_key_refused(void **state)
{
	static const struct {
		const char *addr, *why;
	} cases[] = {
		/* fullwidth and small commercial at: no hidden second '@' */
		{ "julien\xef\xbc\xa0massawippi.ca", "looks like '@'" },
		{ "julien\xef\xbc\xa0massawippi.ca@exemple.ca", "looks like '@'" },
		{ "julien\xef\xb9\xab""a@exemple.ca", "looks like '@'" },
		/* KELVIN SIGN is K under NFC: refused before '@' */
		{ "julien.\xe2\x84\xaa@exemple.ca", "U+212A" },
		/* invalid under IDNA2008 */
		{ "a@xn--zz.ca", "not a valid domain name" },
		{ "a@xn--.ca", "malformed" },
		{ "a@ex--ample.ca", "not a valid domain name" },
		/* capital sharp s: "ss" for libidn2 2.3.3, ß for UTS 46 of Unicode 15.1 */
		{ "julien.tremblay@MA\xe1\xba\x9e""AWIPPI.CA", "U+1E9E" },
		/* an ideographic full stop that leaves an empty label */
		{ "a@massawippi.ca\xe3\x80\x82", "malformed" },
		{ "a@x.massawippi\xe3\x80\x82\xe3\x80\x82""ca", "malformed" },
		/* bidi rule, CONTEXTJ rule */
		{ "a@a\xd7\x90.ca", "not a valid domain name" },
		{ "a@massawippi.ca\xe2\x80\x8d", "not a valid domain name" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		portail_error err = { { 0 } };
		char *k = NULL;
		portail_status r = portail_email_key(cases[i].addr, &k, &err);

		if (r != PORTAIL_ERR_INVALID || strstr(err.message, cases[i].why) == NULL)
			fail_msg("case %zu (%s): got %d '%s', want '%s'", i, cases[i].addr, r,
			    err.message, cases[i].why);
		assert_null(k);
	}
}

static void
test_ldap_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain@exemple.ca", "plain@exemple.ca" },
		{ "*", "\\2a" },
		{ "*)(objectClass=*", "\\2a\\29\\28objectClass=\\2a" },
		{ "a\\b", "a\\5cb" },
		{ "é(", "é\\28" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;

		assert_int_equal(pt_ldap_escape(cases[i].in, &out), PORTAIL_OK);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits_exact),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_key_exact),
		cmocka_unit_test(test_key_pairs),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_ldap_escape),
	};

	return cmocka_run_group_tests_name("email", tests, NULL, NULL);
}
