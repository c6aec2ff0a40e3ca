/* test_mail.c — composing messages: headers, encodings, templates, no injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mail.h"

static portail_config *cfg;

static portail_config *
config(const char *extra)
{
	char text[2048];
	portail_config *c = NULL;
	portail_error err;

	snprintf(text, sizeof(text), "[gpi]\nuri = ldap://x\nbase = dc=x\n[mail]\n"
	    "from = Portail Parents <portail@exemple.qc.ca>\n%s", extra);
	if (portail_config_parse("t.conf", text, strlen(text), &c, &err) != PORTAIL_OK)
		fail_msg("%s", err.message);
	return c;
}

static int
setup(void **state)
{
	cfg = config("");
	return 0;
}

static int
teardown(void **state)
{
	portail_config_free(cfg);
	return 0;
}

/* The body, quoted-printable decoded. */
static char *
body_of(const char *msg)
{
	const char *b = strstr(msg, "\r\n\r\n");
	char *out = calloc(1, strlen(msg) + 1), *w = out;

	assert_non_null(b);
	for (b += 4; *b; b++) {
		if (b[0] == '=' && b[1] == '\r' && b[2] == '\n') {
			b += 2;
		} else if (b[0] == '=') {
			unsigned int v;

			assert_int_equal(sscanf(b + 1, "%2X", &v), 1);
			*w++ = (char)v;
			b += 2;
		} else if (b[0] != '\r') {
			*w++ = *b;
		}
	}
	return out;
}

static void
test_headers(void **state)
{
	char *m = NULL, *body;

	assert_int_equal(portail_mail_compose(cfg, PORTAIL_MAIL_CODE_SIGNUP, "fr", "Marc.Roy@Exemple.CA",
	    "94005d", &m, NULL), PORTAIL_OK);
	assert_non_null(strstr(m, "From: Portail Parents <portail@exemple.qc.ca>\r\n"));
	assert_non_null(strstr(m, "To: <Marc.Roy@Exemple.CA>\r\n"));
	assert_non_null(strstr(m, "\r\nDate: "));
	assert_non_null(strstr(m, "@exemple.qc.ca>\r\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(m, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(m, "Content-Transfer-Encoding: quoted-printable\r\n"));
	/* every line ends in CRLF and fits in 78 characters */
	for (const char *p = m; *p;) {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		assert_true(e - p <= 78);
		assert_null(memchr(p, '\n', (size_t)(e - p)));
		p = e + 2;
	}
	body = body_of(m);
	/* the code on a line of its own */
	assert_non_null(strstr(body, "\n    94005d\n"));
	assert_non_null(strstr(body, "Voici le code de vérification"));
	assert_non_null(strstr(body, "valide 10 minutes"));
	free(body);
	sodium_memzero(m, strlen(m));
	free(m);
}

static void
test_subject_decodes(void **state)
{
	char *m = NULL, decoded[512] = "";
	const char *p;

	assert_int_equal(portail_mail_compose(cfg, PORTAIL_MAIL_PASSWORD_CHANGED, "fr", "a@b.ca",
	    NULL, &m, NULL), PORTAIL_OK);
	for (p = strstr(m, "=?UTF-8?B?"); p != NULL; p = strstr(p, "=?UTF-8?B?")) {
		const char *e = strstr(p + 10, "?=");
		unsigned char bin[256];
		size_t n = 0;

		assert_non_null(e);
		assert_true(e - p + 2 <= 75);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), p + 10, (size_t)(e - p - 10), NULL,
		    &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		strncat(decoded, (const char *)bin, n);
		p = e;
		if (strstr(p, "MIME-Version") < strstr(p, "=?UTF-8?B?") || strstr(p, "=?UTF-8?B?") == NULL)
			break;
	}
	assert_string_equal(decoded, "Portail Parents : votre mot de passe a été changé");
	free(m);
}

static void
test_english_and_no_code(void **state)
{
	char *m = NULL, *body;

	assert_int_equal(portail_mail_compose(cfg, PORTAIL_MAIL_ACCOUNT_EXISTS, "en", "a@b.ca", NULL,
	    &m, NULL), PORTAIL_OK);
	assert_non_null(strstr(m, "Subject: Portail Parents: you already have an account\r\n"));
	body = body_of(m);
	assert_non_null(strstr(body, "Forgot your password?"));
	assert_null(strstr(body, "\n    "));
	free(body);
	free(m);
}

static void
test_templates_match_examples(void **state)
{
	/* examples/templates holds the built-in texts: composing with them as
	 * overrides gives the same body and subject */
	char extra[1024];
	const char *top = getenv("top_srcdir");
	portail_config *over;
	static const enum portail_mail_kind kinds[] = { PORTAIL_MAIL_CODE_SIGNUP,
		PORTAIL_MAIL_CODE_RESET, PORTAIL_MAIL_ACCOUNT_EXISTS, PORTAIL_MAIL_ACCOUNT_CREATED,
		PORTAIL_MAIL_PASSWORD_CHANGED, PORTAIL_MAIL_CODE_LINK };

	snprintf(extra, sizeof(extra), "template_dir = %s/examples/templates\n", top ? top : ".");
	over = config(extra);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		for (int en = 0; en < 2; en++) {
			char *a = NULL, *b = NULL, *ba, *bb;

			assert_int_equal(portail_mail_compose(cfg, kinds[i], en ? "en" : "fr", "a@b.ca",
			    "123456", &a, NULL), PORTAIL_OK);
			assert_int_equal(portail_mail_compose(over, kinds[i], en ? "en" : "fr", "a@b.ca",
			    "123456", &b, NULL), PORTAIL_OK);
			ba = body_of(a);
			bb = body_of(b);
			assert_string_equal(ba, bb);
			assert_string_equal(strstr(a, "Subject:"), strstr(b, "Subject:") ?
			    strstr(b, "Subject:") : "");
			free(ba);
			free(bb);
			free(a);
			free(b);
		}
	}
	portail_config_free(over);
}

static void
test_override_cannot_inject_headers(void **state)
{
	char dir[256], path[300], extra[400], *m = NULL;
	const char *tmp = getenv("PORTAIL_TEST_TMP");
	portail_config *over;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", tmp ? tmp : "/tmp");
	snprintf(path, sizeof(path), "%s/code-signup.fr.txt", dir);
	f = fopen(path, "w");
	fputs("Subject: Hello\rBcc: victim@evil.example\n\nYour code: {{code}}\n", f);
	fclose(f);
	snprintf(extra, sizeof(extra), "template_dir = %s\n", dir);
	over = config(extra);
	assert_int_equal(portail_mail_compose(over, PORTAIL_MAIL_CODE_SIGNUP, "fr", "a@b.ca", "123456",
	    &m, NULL), PORTAIL_OK);
	assert_null(strstr(m, "\r\nBcc:"));
	assert_null(strstr(m, "\rBcc:"));
	free(m);
	portail_config_free(over);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_subject_decodes),
		cmocka_unit_test(test_english_and_no_code),
		cmocka_unit_test(test_templates_match_examples),
		cmocka_unit_test(test_override_cannot_inject_headers),
	};

	return cmocka_run_group_tests_name("mail", tests, setup, teardown);
}
