/*
 * test_oauth.c — the pieces of the browser's social sign-in (oauth.h,
 * provider.h): PKCE S256 against RFC 7636's appendix B, the random
 * strings' shape, the return paths taken and refused (open redirects),
 * the redirect_uri, and the authorization URL of each kind.
 */
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

#include "config.h"
#include "oauth.h"
#include "provider.h"

static void
test_pkce_rfc7636(void **state)
{
	char ch[PORTAIL_PKCE_CHALLENGE_LEN + 1];

	(void)state;
	/* RFC 7636 appendix B */
	portail_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ch);
	assert_string_equal(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void
test_random(void **state)
{
	char a[PORTAIL_OAUTH_SECRET_LEN + 1], b[PORTAIL_OAUTH_SECRET_LEN + 1];

	(void)state;
	portail_oauth_random(a, sizeof(a), 32);
	portail_oauth_random(b, sizeof(b), 32);
	assert_int_equal(strlen(a), PORTAIL_OAUTH_SECRET_LEN);
	assert_string_not_equal(a, b);
	/* base64url without padding: RFC 7636's unreserved characters */
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_"), PORTAIL_OAUTH_SECRET_LEN);
}

static void
test_return_paths(void **state)
{
	static const char *const good[] = { "/", "/compte", "/compte?lang=en", "/app/x?a=b&c=d#f" };
	static const char *const bad[] = { "", "compte", "//evil.example", "//evil.example/x",
		"/\\evil.example", "/\\/evil.example", "https://evil.example", "http://x/",
		"/a\\b", "/a b", "/a\nb", "/a\rb", "/\x7f", "/caf\xc3\xa9", "javascript:alert(1)",
		" /compte", NULL };
	char longp[PORTAIL_OAUTH_RETURN_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(portail_oauth_return_ok(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i] ? bad[i] : "(null)");
		assert_false(portail_oauth_return_ok(bad[i]));
	}
	longp[0] = '/';
	memset(longp + 1, 'a', sizeof(longp) - 2);
	longp[sizeof(longp) - 1] = '\0';
	assert_false(portail_oauth_return_ok(longp));
	longp[sizeof(longp) - 2] = '\0';
	assert_true(portail_oauth_return_ok(longp));
}

static void
test_redirect_uri(void **state)
{
	char out[128];

	(void)state;
	assert_true(portail_oauth_redirect_uri("https://parents.exemple.ca", "google", out,
	    sizeof(out)));
	assert_string_equal(out, "https://parents.exemple.ca/social/google/retour");
	assert_true(portail_oauth_redirect_uri("https://parents.exemple.ca//", "fb", out,
	    sizeof(out)));
	assert_string_equal(out, "https://parents.exemple.ca/social/fb/retour");
	assert_false(portail_oauth_redirect_uri(NULL, "google", out, sizeof(out)));
	assert_false(portail_oauth_redirect_uri("https://parents.exemple.ca", "google", out, 20));
}

static char dir[256];

static portail_providers *
providers(portail_config **cfg)
{
	char conf[4096], secret[300];
	portail_providers *ps = NULL;
	portail_error err;
	FILE *f;

	snprintf(secret, sizeof(secret), "%s/secret", dir);
	assert_non_null(f = fopen(secret, "w"));
	fputs("s3cret\n", f);
	fclose(f);
	chmod(secret, 0600);
	snprintf(conf, sizeof(conf),
	    "[gpi]\nuri = ldap://127.0.0.1:389\nbase = dc=exemple,dc=qc,dc=ca\n"
	    "[web]\npublic_url = https://parents.exemple.ca\n"
	    "[provider.google]\nkind = google\nclient_id = gid\nclient_secret_file = %s\n"
	    "[provider.fb]\nkind = facebook\nclient_id = 123\nclient_secret_file = %s\n"
	    "[provider.ms]\nkind = microsoft\nclient_id = mid\nclient_secret_file = %s\n"
	    "[provider.li]\nkind = linkedin\nclient_id = lid\n"
	    "[provider.op]\nkind = oidc\nclient_id = oid\nclient_secret_file = %s\n"
	    "issuer = http://127.0.0.1:9/\njwks_url = http://127.0.0.1:9/jwks\n"
	    "authorize_url = http://127.0.0.1:9/auth?x=1\ntoken_url = http://127.0.0.1:9/token\n"
	    "scope = openid email profile\n",
	    secret, secret, secret, secret);
	assert_int_equal(portail_config_parse("t.conf", conf, strlen(conf), cfg, &err), PORTAIL_OK);
	assert_int_equal(portail_providers_new(*cfg, &ps, &err), PORTAIL_OK);
	return ps;
}

static void
test_authorize_urls(void **state)
{
	portail_config *cfg = NULL;
	portail_providers *ps;
	portail_error err;
	char *url = NULL;
	bool pkce, nonce;

	(void)state;
	ps = providers(&cfg);
	/* the kinds' defaults; PKCE and nonce where they are taken */
	assert_true(portail_providers_code_flow(ps, "google", &pkce, &nonce));
	assert_true(pkce && nonce);
	assert_true(portail_providers_code_flow(ps, "fb", &pkce, &nonce));
	assert_false(pkce || nonce);
	assert_true(portail_providers_code_flow(ps, "ms", &pkce, &nonce));
	assert_true(pkce && nonce);
	/* no client secret: no code to exchange */
	assert_false(portail_providers_code_flow(ps, "li", &pkce, &nonce));
	assert_false(portail_providers_code_flow(ps, "nobody", NULL, NULL));
	assert_int_equal(portail_providers_authorize_url(ps, "google",
	    "https://parents.exemple.ca/social/google/retour", "ST", "NO", "CH", &url, &err),
	    PORTAIL_OK);
	assert_string_equal(url, "https://accounts.google.com/o/oauth2/v2/auth?response_type=code"
	    "&client_id=gid&redirect_uri=https%3A%2F%2Fparents.exemple.ca%2Fsocial%2Fgoogle%2Fretour"
	    "&scope=openid%20email&state=ST&response_mode=query&nonce=NO&code_challenge=CH"
	    "&code_challenge_method=S256");
	free(url);
	assert_int_equal(portail_providers_authorize_url(ps, "ms", "https://h/social/ms/retour",
	    "ST", "NO", "CH", &url, &err), PORTAIL_OK);
	assert_non_null(strstr(url, "https://login.microsoftonline.com/common/oauth2/v2.0/"
	    "authorize?"));
	free(url);
	/* Facebook's manual flow: no response_mode, nonce or PKCE even when given */
	assert_int_equal(portail_providers_authorize_url(ps, "fb", "https://h/social/fb/retour",
	    "ST", NULL, "CH", &url, &err), PORTAIL_OK);
	assert_string_equal(url, "https://www.facebook.com/" PORTAIL_FACEBOOK_VERSION "/dialog/oauth"
	    "?response_type=code&client_id=123&redirect_uri=https%3A%2F%2Fh%2Fsocial%2Ffb%2Fretour"
	    "&scope=email&state=ST");
	free(url);
	/* oidc: the configured endpoint, its own query kept, the configured scope */
	assert_int_equal(portail_providers_authorize_url(ps, "op", "https://h/social/op/retour",
	    "ST", "NO", "CH", &url, &err), PORTAIL_OK);
	assert_non_null(strstr(url, "http://127.0.0.1:9/auth?x=1&response_type=code&client_id=oid"));
	assert_non_null(strstr(url, "&scope=openid%20email%20profile&"));
	free(url);
	assert_int_equal(portail_providers_authorize_url(ps, "li", "https://h/", "ST", "NO", "CH",
	    &url, &err), PORTAIL_ERR_UNKNOWN);
	assert_null(url);
	portail_providers_free(ps);
	portail_config_free(cfg);
}

static int
setup(void **state)
{
	const char *base = getenv("PORTAIL_TEST_TMP");

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/oauth.XXXXXX", base ? base : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkce_rfc7636),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_return_paths),
		cmocka_unit_test(test_redirect_uri),
		cmocka_unit_test(test_authorize_urls),
	};

	return cmocka_run_group_tests_name("oauth", tests, setup, NULL);
}
