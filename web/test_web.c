/*
 * test_web.c — portail-web's renderer (html.c) and body decoder (form.c)
 * on good, clumsy and hostile input, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "html.h"

static const struct {
	const char *in;
	size_t len;             /* 0: strlen */
	const char *out;
} escapes[] = {
	{ "plain text", 0, "plain text" },
	{ "<script>alert(1)</script>", 0, "&lt;script&gt;alert(1)&lt;/script&gt;" },
	{ "a & b \"c\" 'd'", 0, "a &amp; b &quot;c&quot; &#39;d&#39;" },
	{ "\"><img src=x onerror=alert(1)>", 0, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" },
	{ "Élise à l'école", 0, "Élise à l&#39;école" },
	{ "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80" },                  /* U+1F600 kept */
	{ "a\xff" "b", 0, "a\xef\xbf\xbd" "b" },                          /* a bad byte */
	{ "\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd" },                    /* overlong '/' */
	{ "\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },   /* a surrogate */
	{ "\xf4\x90\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* past U+10FFFF */
	{ "\xc3", 0, "\xef\xbf\xbd" },                                     /* cut short */
	{ "a\x1b[31mb", 0, "a\xef\xbf\xbd[31mb" },                         /* a control */
	{ "a\0b", 3, "a\xef\xbf\xbd" "b" },                                /* a NUL */
	{ "tab\tline\n", 0, "tab\tline\n" },
	{ "a\x7f" "b ~}", 0, "a\xef\xbf\xbd" "b ~}" },                      /* DEL; the last of ASCII */
	{ "x>", 0, "x&gt;" },                                             /* a run, then an escape */
};

static void
test_escaping(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		struct html h;
		size_t len = 0;
		char *out;

		html_init(&h);
		html_raw(&h, "[");
		html_textn(&h, escapes[i].in, escapes[i].len ? escapes[i].len : strlen(escapes[i].in));
		html_raw(&h, "]");
		out = html_take(&h, &len);
		assert_non_null(out);
		assert_int_equal(len, strlen(out));
		if (strncmp(out + 1, escapes[i].out, strlen(escapes[i].out)) != 0 ||
		    strlen(out) != strlen(escapes[i].out) + 2)
			fail_msg("case %zu: got '%s', want '[%s]'", i, out, escapes[i].out);
		free(out);
	}
}

/* A page grows past its first block, and stops, failed, at HTML_MAX. */
static void
test_growth_and_limit(void **state)
{
	struct html h;
	char chunk[1025];
	size_t len = 0;
	char *out;

	(void)state;
	memset(chunk, '<', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	html_init(&h);
	for (int i = 0; i < 10; i++)
		html_text(&h, chunk);
	assert_false(html_failed(&h));
	out = html_take(&h, &len);
	assert_int_equal(len, 10 * 1024 * 4);  /* each '<' is "&lt;" */
	free(out);
	html_init(&h);
	for (int i = 0; i < 100 && !html_failed(&h); i++)
		html_text(&h, chunk);
	assert_true(html_failed(&h));
	assert_null(html_take(&h, &len));
	html_msg(&h, PORTAIL_MSG_WEB_TITLE, false);
	html_free(&h);
}

static const char *const secret[] = { "password", "code", NULL };

static const struct {
	const char *body;
	enum form_status want;
} bodies[] = {
	{ "email=a%40b.ca&password=x", FORM_OK },
	{ "", FORM_OK },
	{ "&&email=a&&", FORM_OK },
	{ "email", FORM_MALFORMED },                    /* no '=' */
	{ "=x", FORM_MALFORMED },                       /* no name */
	{ "email=a&email=b", FORM_MALFORMED },          /* a name twice: which one counts? */
	{ "email=%4", FORM_MALFORMED },                 /* a cut escape */
	{ "email=%zz", FORM_MALFORMED },
	{ "email=%", FORM_MALFORMED },
	{ "a%00b=x", FORM_MALFORMED },                  /* a NUL in a name */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=x", FORM_MALFORMED }, /* a name over 31 */
	{ "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17",
	  FORM_MALFORMED },                             /* 17 fields */
	{ "email=a%C3%28b", FORM_NOT_TEXT },            /* bad UTF-8 */
	{ "email=a%00b", FORM_NOT_TEXT },               /* a NUL */
	{ "email=a%1Bb", FORM_NOT_TEXT },               /* a control in a plain field */
	{ "password=a%1Bb%09", FORM_OK },               /* ... allowed in a secret */
	{ "password=a%00b", FORM_NOT_TEXT },            /* ... but never a NUL */
	{ "password=%ED%A0%80", FORM_NOT_TEXT },        /* ... nor a surrogate */
	{ "code=%FF", FORM_NOT_TEXT },
};

static void
test_form_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct form f;
		enum form_status r;

		memset(&f, 0, sizeof(f));
		r = form_parse(&f, bodies[i].body, strlen(bodies[i].body), secret);
		if (r != bodies[i].want)
			fail_msg("case %zu '%s': got %d, want %d", i, bodies[i].body, r, bodies[i].want);
		if (r != FORM_OK) {
			assert_null(f.buf);             /* wiped and freed on failure */
			assert_int_equal(f.n, 0);
		}
		form_wipe(&f);
	}
}

static void
test_form_values(void **state)
{
	static const char body[] = "email=chantal.gagnon%40exemple.ca&password=a+b%2Bc%26d%3D&"
	    "name=%C3%89lise&empty=";
	struct form f;
	size_t n = 99;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(form_parse(&f, body, strlen(body), secret), FORM_OK);
	assert_string_equal(form_get(&f, "email"), "chantal.gagnon@exemple.ca");
	assert_string_equal(form_get(&f, "password"), "a b+c&d=");
	assert_string_equal(form_get(&f, "name"), "\xc3\x89lise");
	assert_string_equal(form_getn(&f, "empty", &n), "");
	assert_int_equal(n, 0);
	assert_null(form_get(&f, "csrf"));
	form_wipe(&f);
	assert_null(f.buf);
	assert_null(form_get(&f, "email"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_growth_and_limit),
		cmocka_unit_test(test_form_cases),
		cmocka_unit_test(test_form_values),
	};

	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
