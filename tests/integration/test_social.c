/*
 * test_social.c — social accounts end to end: a real OpenID provider
 * (oidc-provider from npm, tests/fixtures/oidc/) minting access tokens,
 * a fake of Facebook's Graph API in the same server, real slapd, a real
 * SMTP sink and a real portaild; codes are read from the delivered mail.
 *
 * First the providers alone (lib/provider.c, in this process), each kind
 * and each hostile answer; then the flows through portaild: linked at
 * once, linked with a mailed code, refused, signed in, unlinked.
 */
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "fixture.h"
#include "idtoken.h"
#include "portail-client.h"
#include "provider.h"

#define GOOD_PW "Quatre-chevaux-bleus-dansent"

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
static char dir[600], oidc_dir[700], sink[700], sock[700], conf[700], url[128];
static json_t *tokens, *idtokens;

static const char *
tok(const char *name)
{
	const char *t = json_string_value(json_object_get(tokens, name));

	if (t == NULL)
		fail_msg("no token %s in tokens.json", name);
	return t;
}

static const char *
idt(const char *name)
{
	const char *t = json_string_value(json_object_get(idtokens, name));

	if (t == NULL)
		fail_msg("no ID token %s in idtokens.json", name);
	return t;
}

#define NONCE "nonce-portail"   /* the fixture's ID tokens carry it */

/* The [provider.NAME] sections of the kinds, pointed at the local provider. */
static void
kinds_config(char *out, size_t size)
{
	snprintf(out, size,
	    "[provider.google]\nkind = google\nclient_id = portail\n"
	    "tokeninfo_url = %s/tokeninfo\nuserinfo_url = %s/me\n"
	    "issuer = %s\njwks_url = %s/jwks\n"
	    "[provider.microsoft]\nkind = microsoft\nclient_id = portail\nuserinfo_url = %s/me\n"
	    "issuer = %s\njwks_url = %s/jwks\n"
	    "[provider.linkedin]\nkind = linkedin\nclient_id = portail\nuserinfo_url = %s/me\n"
	    "issuer = %s\njwks_url = %s/jwks\n"
	    "[provider.ecole]\nkind = oidc\nclient_id = portail\nclient_secret_file = %s/oidc.secret\n"
	    "introspection_url = %s/token/introspection\nuserinfo_url = %s/me\n"
	    "[provider.ecoleid]\nkind = oidc\nclient_id = portail\n"
	    "issuer = %s\njwks_url = %s/jwks\n"
	    "[provider.facebook]\nkind = facebook\nclient_id = 424242\n"
	    "client_secret_file = %s/fb.secret\n"
	    "debug_token_url = %s/fb/debug_token\nuserinfo_url = %s/fb/me\n",
	    url, url, url, url, url, url, url, url, url, url, dir, url, url, url, url, dir, url, url);
}

static int
group_setup(void **state)
{
	char text[16384], providers[8192], cmd[1500], port[32];
	json_error_t je;
	FILE *f;
	int st = 0;

	(void)state;
	fx_slapd_start(&slapd, NULL);
	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("social"));
	snprintf(oidc_dir, sizeof(oidc_dir), "%s/oidc", dir);
	snprintf(sink, sizeof(sink), "%s/sink", dir);
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", dir);
	snprintf(cmd, sizeof(cmd), "'%s' start '%s' >/dev/null && '%s' start '%s' >/dev/null",
	    fx_src("tests/fixtures/oidc.sh"), oidc_dir, fx_src("tests/fixtures/smtp-sink.sh"), sink);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/url", oidc_dir);
	if ((f = fopen(cmd, "r")) == NULL || fgets(url, sizeof(url), f) == NULL)
		return -1;
	fclose(f);
	url[strcspn(url, "\n")] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/tokens.json", oidc_dir);
	if ((tokens = json_load_file(cmd, 0, &je)) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/idtokens.json", oidc_dir);
	if ((idtokens = json_load_file(cmd, 0, &je)) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/port", sink);
	if ((f = fopen(cmd, "r")) == NULL || fgets(port, sizeof(port), f) == NULL)
		return -1;
	fclose(f);
	port[strcspn(port, "\n")] = '\0';
	fx_write(dir, "oidc.secret", "portail-secret\n", 0600);
	fx_write(dir, "fb.secret", "fb-app-secret\n", 0600);
	kinds_config(providers, sizeof(providers));
	snprintf(text, sizeof(text),
	    "[gpi]\nuri = %s\nbase = " FX_BASE "\nbind_dn = " FX_BIND_DN "\n"
	    "bind_password_file = %s\nsubscribed_schools = 751001 751501\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\n"
	    "[store]\npath = %s/state/portail.db\n[security]\nkey_file = %s/etc/secret.key\n"
	    "[codes]\nresend_interval = 0\nmax_per_day = 50\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n"
	    "[mail]\nurl = smtp://127.0.0.1:%s\nstarttls = no\ntimeout = 3\n"
	    "%s"
	    "[provider.lent]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/hang\n"
	    "client_secret_file = %s/oidc.secret\nintrospection_url = %s/token/introspection\n"
	    "timeout = 1\n"
	    "[provider.panne]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/500\n"
	    "client_secret_file = %s/oidc.secret\nintrospection_url = %s/token/introspection\n",
	    slapd.uri, slapd.bind_pw_file, sock, dir, dir, port, providers, url, dir, url, url, dir,
	    url);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf) || !fx_daemon_start(&daemon_, dir, conf, sock, &st))
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[1500];

	(void)state;
	fx_daemon_stop(&daemon_);
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s'; '%s' stop '%s'", fx_src("tests/fixtures/oidc.sh"),
	    oidc_dir, fx_src("tests/fixtures/smtp-sink.sh"), sink);
	if (system(cmd) != 0)
		print_message("# fixtures did not stop cleanly\n");
	fx_slapd_stop(&slapd);
	json_decref(tokens);
	json_decref(idtokens);
	return 0;
}

/* ---- the providers alone ---------------------------------------------------------- */

/* Loads a configuration with these provider sections and makes the providers. */
static portail_status
providers_from(const char *sections, portail_config **cfg, portail_providers **ps,
    portail_error *err)
{
	char text[16384];
	const char *path;

	snprintf(text, sizeof(text), "[gpi]\nuri = %s\nbase = " FX_BASE "\n%s", slapd.uri, sections);
	path = fx_write(fx_tmpdir("providers"), "p.conf", text, 0644);
	if (portail_config_load(path, cfg, err) != PORTAIL_OK)
		fail_msg("config: %s", err->message);
	return portail_providers_new(*cfg, ps, err);
}

static portail_status
identify(portail_providers *ps, const char *name, const char *token, struct portail_identity *id)
{
	portail_error err = { { 0 } };
	portail_status s = portail_providers_identify(ps, name, token, id, &err);

	if (s != PORTAIL_OK)
		print_message("# %s: %s\n", name, err.message);
	return s;
}

static void
test_identify_kinds(void **state)
{
	char sections[16384];
	portail_config *cfg = NULL;
	portail_providers *ps = NULL;
	portail_error err = { { 0 } };
	struct portail_identity id;

	(void)state;
	kinds_config(sections, sizeof(sections));
	assert_int_equal(providers_from(sections, &cfg, &ps, &err), PORTAIL_OK);
	/* Google: tokeninfo's audience, then userinfo; email_verified vouches */
	assert_int_equal(identify(ps, "google", tok("chantal"), &id), PORTAIL_OK);
	assert_string_equal(id.provider, "google");
	assert_string_equal(id.subject, "chantal");
	assert_string_equal(id.email, "chantal.gagnon@exemple.ca");
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify(ps, "google", tok("marc"), &id), PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	/* another application's token, a revoked one, an expired one */
	assert_int_equal(identify(ps, "google", tok("other_client"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "google", tok("revoked"), &id), PORTAIL_ERR_REFUSED);
	/* minted expired half an hour ago (tests/fixtures/oidc/server.mjs) */
	assert_int_equal(identify(ps, "google", tok("expired"), &id), PORTAIL_ERR_REFUSED);
	/* issue 11: nothing ties a Microsoft, LinkedIn or bare OpenID access token to us */
	assert_false(portail_providers_take_access_tokens(ps, "microsoft"));
	assert_false(portail_providers_take_access_tokens(ps, "linkedin"));
	assert_false(portail_providers_take_access_tokens(ps, "ecoleid"));
	assert_true(portail_providers_take_access_tokens(ps, "google"));
	assert_true(portail_providers_take_access_tokens(ps, "ecole"));
	assert_true(portail_providers_take_access_tokens(ps, "facebook"));
	{
		static const char *const none[] = { "microsoft", "linkedin", "ecoleid" };

		for (size_t i = 0; i < 3; i++) {
			memset(&err, 0, sizeof(err));
			assert_int_equal(portail_providers_identify(ps, none[i], tok("chantal"), &id,
			    &err), PORTAIL_ERR_REFUSED);
			assert_non_null(strstr(err.message, "ID token"));
			assert_non_null(strstr(err.message, "code flow"));
			/* another application's is refused the same way, before any request */
			assert_int_equal(identify(ps, none[i], tok("other_client"), &id),
			    PORTAIL_ERR_REFUSED);
		}
	}
	/* a school board's own OpenID provider, with introspection of the client id */
	assert_int_equal(identify(ps, "ecole", tok("chantal"), &id), PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify(ps, "ecole", tok("other_client"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "ecole", tok("revoked"), &id), PORTAIL_ERR_REFUSED);
	/* Facebook: debug_token, /me with appsecret_proof, never vouched */
	assert_int_equal(identify(ps, "facebook", tok("fb_chantal"), &id), PORTAIL_OK);
	assert_string_equal(id.subject, "10001");
	assert_string_equal(id.email, "chantal.gagnon@exemple.ca");
	assert_false(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify(ps, "facebook", tok("fb_otherapp"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "facebook", tok("fb_expired"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "facebook", "fb-unknown", &id), PORTAIL_ERR_REFUSED);
	/* a malformed e-mail from the provider */
	assert_int_equal(identify(ps, "google", tok("bademail"), &id), PORTAIL_ERR_REFUSED);
	/* what cannot be a token, or a provider */
	assert_int_equal(identify(ps, "google", "", &id), PORTAIL_ERR_INVALID);
	assert_int_equal(identify(ps, "google", "a b", &id), PORTAIL_ERR_INVALID);
	assert_int_equal(identify(ps, "google", "caf\xc3\xa9", &id), PORTAIL_ERR_INVALID);
	assert_int_equal(identify(ps, "myspace", tok("chantal"), &id), PORTAIL_ERR_UNKNOWN);
	portail_providers_free(ps);
	portail_config_free(cfg);
}

static void
test_identify_hostile(void **state)
{
	char sections[16384];
	portail_config *cfg = NULL;
	portail_providers *ps = NULL;
	portail_error err = { { 0 } };
	struct portail_identity id;

	(void)state;
	char intro[1000];

	/* introspection says the token is ours; then userinfo answers badly */
	snprintf(intro, sizeof(intro), "client_secret_file = %s/oidc.secret\n"
	    "introspection_url = %s/token/introspection\n", dir, url);
	snprintf(sections, sizeof(sections),
	    "[provider.gros]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/oversize\n%s"
	    "[provider.casse]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/malformed\n%s"
	    "[provider.types]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/types\n%s"
	    "[provider.nosub]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/nosub\n%s"
	    "[provider.panne]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/500\n%s"
	    "[provider.lent]\nkind = oidc\nclient_id = portail\nuserinfo_url = %s/bad/hang\n%s"
	    "timeout = 1\n"
	    "[provider.absent]\nkind = oidc\nclient_id = portail\n"
	    "userinfo_url = http://127.0.0.1:%d/me\nclient_secret_file = %s/oidc.secret\n"
	    "introspection_url = http://127.0.0.1:%d/introspect\n"
	    "[provider.tortue]\nkind = google\nclient_id = portail\ntimeout = 1\n"
	    "tokeninfo_url = %s/bad/slow\nuserinfo_url = %s/bad/slow\n",
	    url, intro, url, intro, url, intro, url, intro, url, intro, url, intro,
	    fx_closed_port(), dir, fx_closed_port(), url, url);
	assert_int_equal(providers_from(sections, &cfg, &ps, &err), PORTAIL_OK);
	assert_int_equal(identify(ps, "gros", tok("chantal"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "casse", tok("chantal"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "types", tok("chantal"), &id), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify(ps, "nosub", tok("chantal"), &id), PORTAIL_ERR_REFUSED);
	/* outages are not refusals */
	assert_int_equal(identify(ps, "panne", tok("chantal"), &id), PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(identify(ps, "absent", tok("chantal"), &id), PORTAIL_ERR_UNAVAILABLE);
	/* it never answers: only the provider's own timeout (1 s) can end the request */
	memset(&err, 0, sizeof(err));
	assert_int_equal(portail_providers_identify(ps, "lent", tok("chantal"), &id, &err),
	    PORTAIL_ERR_UNAVAILABLE);
	print_message("# lent: %s\n", err.message);
	assert_non_null(strstr(err.message, "lent unreachable"));
	assert_non_null(strstr(err.message, "timed out"));
	/* two answers of 0.7 s each: good alone, but the timeout is for the whole sign-in */
	assert_int_equal(identify(ps, "tortue", tok("chantal"), &id), PORTAIL_ERR_UNAVAILABLE);
	portail_providers_free(ps);
	portail_config_free(cfg);
	/* what a kind needs is checked when the providers are made */
	snprintf(sections, sizeof(sections), "[provider.fb]\nkind = facebook\nclient_id = 1\n");
	assert_int_equal(providers_from(sections, &cfg, &ps, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "client_secret_file"));
	portail_config_free(cfg);
	snprintf(sections, sizeof(sections), "[provider.x]\nkind = oidc\nclient_id = 1\n"
	    "client_secret_file = %s/oidc.secret\nintrospection_url = %s/token/introspection\n",
	    dir, url);
	assert_int_equal(providers_from(sections, &cfg, &ps, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "userinfo_url"));
	portail_config_free(cfg);
	/* issue 11: an oidc provider that nothing ties to client_id is a configuration error */
	{
		char text[1000];
		const char *path;

		snprintf(text, sizeof(text), "[gpi]\nuri = %s\nbase = " FX_BASE "\n"
		    "[provider.x]\nkind = oidc\nclient_id = 1\nuserinfo_url = %s/me\n", slapd.uri, url);
		path = fx_write(fx_tmpdir("providers"), "p.conf", text, 0644);
		cfg = NULL;
		assert_int_equal(portail_config_load(path, &cfg, &err), PORTAIL_ERR_CONFIG);
		assert_non_null(strstr(err.message, "p.conf:5: [provider.x] kind: oidc needs "
		    "introspection_url"));
		assert_null(cfg);
	}
}

/* ---- ID tokens ------------------------------------------------------------------ */

/* An ID token checked at now; want: what err must say (NULL: anything). */
static portail_status
identify_id_at(portail_providers *ps, const char *name, const char *token, const char *nonce,
    int64_t now, struct portail_identity *id, const char *want)
{
	portail_error err = { { 0 } };
	struct portail_identity tmp;
	portail_status s = portail_providers_identify_id_token(ps, name, token, nonce, now,
	    id ? id : &tmp, &err);

	if (s != PORTAIL_OK)
		print_message("# %s: %s\n", name, err.message);
	if (want != NULL && strstr(err.message, want) == NULL)
		fail_msg("'%s' does not say '%s'", err.message, want);
	if (id == NULL)
		portail_identity_clear(&tmp);
	return s;
}

/* The same at the host's time, as a flow's caller would pass it. */
static portail_status
identify_id(portail_providers *ps, const char *name, const char *token, const char *nonce,
    struct portail_identity *id, const char *want)
{
	return identify_id_at(ps, name, token, nonce, (int64_t)time(NULL), id, want);
}

/* A numeric claim of a JWT's payload (exp, iat), read without checking it; 0 if none. */
static int64_t
jwt_claim(const char *jwt, const char *name)
{
	const char *p = strchr(jwt, '.'), *q = p != NULL ? strchr(p + 1, '.') : NULL;
	unsigned char bin[8192];
	size_t n = 0;
	json_t *pl;
	int64_t v = 0;

	if (q == NULL || sodium_base642bin(bin, sizeof(bin), p + 1, (size_t)(q - p - 1), NULL, &n,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	if ((pl = json_loadb((const char *)bin, n, 0, NULL)) != NULL)
		v = (int64_t)json_integer_value(json_object_get(pl, name));
	json_decref(pl);
	return v;
}

static int
jwks_fetches(void)
{
	char cmd[300], out[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "curl -s %s/count/jwks", url);
	if ((f = popen(cmd, "r")) == NULL || fgets(out, sizeof(out), f) == NULL)
		fail_msg("no /count/jwks");
	pclose(f);
	return strstr(out, "fetches") ? atoi(strchr(out, ':') + 1) : -1;
}

/* token with its header replaced by text (the signature kept) */
static char *
with_header(const char *token, const char *text)
{
	char *out = NULL;
	size_t need;

	{
		/* base64url by hand: the test must not lean on the code under test */
		static const char a[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		size_t n = strlen(text), o = 0;
		const unsigned char *t = (const unsigned char *)text;

		need = n * 2 + strlen(token) + 8;
		out = malloc(need);
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = (unsigned)t[i] << 16 | (i + 1 < n ? (unsigned)t[i + 1] << 8 : 0) |
			    (i + 2 < n ? t[i + 2] : 0);

			out[o++] = a[(v >> 18) & 63];
			out[o++] = a[(v >> 12) & 63];
			if (i + 1 < n)
				out[o++] = a[(v >> 6) & 63];
			if (i + 2 < n)
				out[o++] = a[v & 63];
		}
		snprintf(out + o, need - o, "%s", strchr(token, '.'));
	}
	return out;
}

static void
test_identify_id_tokens(void **state)
{
	char sections[16384], *t;
	portail_config *cfg = NULL, *cfg2 = NULL;
	portail_providers *ps = NULL, *hostile = NULL;
	portail_error err = { { 0 } };
	struct portail_identity id;
	int before;

	(void)state;
	kinds_config(sections, sizeof(sections));
	snprintf(sections + strlen(sections), sizeof(sections) - strlen(sections),
	    "[provider.autre]\nkind = oidc\nclient_id = portail\nissuer = %s/autre\n"
	    "jwks_url = %s/jwks\n", url, url);
	assert_int_equal(providers_from(sections, &cfg, &ps, &err), PORTAIL_OK);
	snprintf(sections, sizeof(sections),
	    "[provider.ecoleid]\nkind = oidc\nclient_id = portail\n"
	    "issuer = %s\njwks_url = %s/jwks\n"
	    "[provider.gros]\nkind = oidc\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = %s/bad/jwks-big\n"
	    "[provider.enorme]\nkind = oidc\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = %s/bad/oversize\n"
	    "[provider.oct]\nkind = oidc\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = %s/bad/jwks-oct\n"
	    "[provider.prive]\nkind = oidc\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = %s/bad/jwks-private\n"
	    "[provider.absent]\nkind = linkedin\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = http://127.0.0.1:%d/jwks\n"
	    "[provider.lent]\nkind = oidc\nclient_id = portail\nissuer = %s\n"
	    "jwks_url = %s/bad/hang\ntimeout = 1\n",
	    url, url, url, url, url, url, url, url, url, url, url, fx_closed_port(), url, url);
	assert_int_equal(providers_from(sections, &cfg2, &hostile, &err), PORTAIL_OK);
	/* our client's ID tokens: signed by the provider's key, RS256 and ES256 */
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal"), NONCE, &id, NULL), PORTAIL_OK);
	assert_string_equal(id.provider, "ecoleid");
	assert_string_equal(id.subject, "chantal");
	assert_string_equal(id.email, "chantal.gagnon@exemple.ca");
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal_es256"), NONCE, &id, NULL),
	    PORTAIL_OK);
	portail_identity_clear(&id);
	assert_int_equal(identify_id(ps, "ecoleid", idt("marc"), NONCE, &id, NULL), PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	/* each kind's rule: LinkedIn and Google email_verified, Microsoft only xms_edov */
	assert_int_equal(identify_id(ps, "linkedin", idt("chantal"), NONCE, &id, NULL), PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify_id(ps, "google", idt("chantal"), NONCE, &id, NULL), PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify_id(ps, "microsoft", idt("chantal_tid"), NONCE, &id, NULL),
	    PORTAIL_OK);
	assert_false(id.vouched);
	portail_identity_clear(&id);
	assert_int_equal(identify_id(ps, "microsoft", idt("chantal_edov"), NONCE, &id, NULL),
	    PORTAIL_OK);
	assert_true(id.vouched);
	portail_identity_clear(&id);
	/* another client's ID token (the fixture's second client), for every kind */
	assert_int_equal(identify_id(ps, "ecoleid", idt("other_client"), NONCE, NULL,
	    "issued to another application"), PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "microsoft", idt("other_client"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "linkedin", idt("other_client"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "google", idt("other_client"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	/* expired, another sign-in's nonce, another issuer, HS256 with the client secret */
	assert_int_equal(identify_id(ps, "ecoleid", idt("expired"), NONCE, NULL, "expired"),
	    PORTAIL_ERR_REFUSED);
	/* the caller's clock decides: a good token past its exp (and the skew allowed), or before its iat */
	{
		int64_t exp = jwt_claim(idt("chantal"), "exp"), iat = jwt_claim(idt("chantal"), "iat");

		assert_true(exp > iat && iat > 0);
		assert_int_equal(identify_id_at(ps, "ecoleid", idt("chantal"), NONCE,
		    exp + PT_IDTOKEN_SKEW - 1, NULL, NULL), PORTAIL_OK);
		assert_int_equal(identify_id_at(ps, "ecoleid", idt("chantal"), NONCE,
		    exp + PT_IDTOKEN_SKEW, NULL, "expired"), PORTAIL_ERR_REFUSED);
		assert_int_equal(identify_id_at(ps, "ecoleid", idt("chantal"), NONCE,
		    iat - PT_IDTOKEN_SKEW, NULL, NULL), PORTAIL_OK);
		assert_int_equal(identify_id_at(ps, "ecoleid", idt("chantal"), NONCE,
		    iat - PT_IDTOKEN_SKEW - 1, NULL, "future"), PORTAIL_ERR_REFUSED);
	}
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal"), "nonce-autre", NULL, "nonce"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "autre", idt("chantal"), NONCE, NULL, "issuer"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal_hs256"), NONCE, NULL, "HS256"),
	    PORTAIL_ERR_REFUSED);
	/* a bad signature: one byte of it changed */
	t = strdup(idt("chantal"));
	t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(identify_id(ps, "ecoleid", t, NONCE, NULL, "signature"),
	    PORTAIL_ERR_REFUSED);
	free(t);
	/* alg none on the provider's payload; ES256 claimed on an RS256 signature */
	t = with_header(idt("chantal"), "{\"alg\":\"none\",\"kid\":\"rsa-1\"}");
	assert_int_equal(identify_id(ps, "ecoleid", t, NONCE, NULL, "none"), PORTAIL_ERR_REFUSED);
	free(t);
	t = with_header(idt("chantal"), "{\"alg\":\"ES256\",\"kid\":\"ec-1\"}");
	assert_int_equal(identify_id(ps, "ecoleid", t, NONCE, NULL, "signature"),
	    PORTAIL_ERR_REFUSED);
	free(t);
	/* an unknown kid: the keys fetched again once, then not for a minute */
	before = jwks_fetches();
	t = with_header(idt("chantal"), "{\"alg\":\"RS256\",\"kid\":\"inconnu\"}");
	for (int i = 0; i < 5; i++)
		assert_int_equal(identify_id(ps, "ecoleid", t, NONCE, NULL, "no key"),
		    PORTAIL_ERR_REFUSED);
	free(t);
	assert_true(jwks_fetches() - before <= 1);
	/* and a good token still works from the cache */
	before = jwks_fetches();
	assert_int_equal(identify_id(ps, "ecoleid", idt("julie"), NONCE, NULL, NULL), PORTAIL_OK);
	assert_int_equal(jwks_fetches(), before);
	/* what is no RS256/ES256 JWT costs the provider no request, even with no keys cached */
	before = jwks_fetches();
	t = with_header(idt("chantal"), "{\"alg\":\"none\"}");
	assert_int_equal(identify_id(hostile, "ecoleid", t, NONCE, NULL, "none"),
	    PORTAIL_ERR_REFUSED);
	free(t);
	assert_int_equal(identify_id(hostile, "ecoleid", "a.b", NONCE, NULL, NULL),
	    PORTAIL_ERR_INVALID);
	assert_int_equal(jwks_fetches(), before);
	assert_int_equal(identify_id(hostile, "ecoleid", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_OK);
	assert_int_equal(jwks_fetches(), before + 1);
	/* hostile key sets: too many keys, too large, an HMAC key under the RSA kid, private halves */
	assert_int_equal(identify_id(hostile, "gros", idt("chantal_es256"), NONCE, NULL, NULL),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(identify_id(hostile, "enorme", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(identify_id(hostile, "oct", idt("chantal_hs256"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(hostile, "oct", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(hostile, "prive", idt("chantal"), NONCE, NULL, NULL), PORTAIL_OK);
	assert_int_equal(identify_id(hostile, "prive", idt("chantal_es256"), NONCE, NULL, NULL),
	    PORTAIL_ERR_REFUSED);
	/* keys that cannot be fetched: the provider's outage */
	assert_int_equal(identify_id(hostile, "absent", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(identify_id(hostile, "lent", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_UNAVAILABLE);
	/* Facebook has no ID tokens here; not an ID token; no nonce */
	assert_int_equal(identify_id(ps, "facebook", idt("chantal"), NONCE, NULL, "access token"),
	    PORTAIL_ERR_REFUSED);
	assert_int_equal(identify_id(ps, "ecoleid", tok("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_INVALID);
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal"), "", NULL, NULL),
	    PORTAIL_ERR_INVALID);
	assert_int_equal(identify_id(ps, "ecoleid", idt("chantal"), NULL, NULL, NULL),
	    PORTAIL_ERR_INVALID);
	assert_int_equal(identify_id(ps, "myspace", idt("chantal"), NONCE, NULL, NULL),
	    PORTAIL_ERR_UNKNOWN);
	portail_providers_free(ps);
	portail_config_free(cfg);
	portail_providers_free(hostile);
	portail_config_free(cfg2);
}

/* ---- the flows through portaild ------------------------------------------------- */

static portail_status
call(json_t *req, json_t **resp)
{
	portail_client *c = NULL;
	portail_status s;

	portail_client_new(sock, 0, &c);
	s = portail_client_call(c, req, resp, NULL);
	json_decref(req);
	portail_client_free(c);
	return s;
}

static const char *
sget(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

/* social.begin; the answer's state, the link ticket in lt (64 bytes) when there is one. */
static portail_status
begin(const char *provider, const char *token, const char *label, char *state, char *lt)
{
	json_t *a = NULL, *r = json_pack("{s:s, s:s, s:s}", "op", "social.begin", "provider",
	    provider, "access_token", token);
	portail_status s;

	if (label != NULL)
		json_object_set_new(r, "label", json_string(label));
	s = call(r, &a);
	if (state != NULL)
		snprintf(state, 32, "%s", sget(a, s == PORTAIL_OK ? "state" : "error"));
	if (lt != NULL)
		snprintf(lt, 64, "%s", sget(a, "link_ticket"));
	json_decref(a);
	return s;
}

/* social.begin with an ID token and the fixture's nonce (microsoft, linkedin). */
static portail_status
begin_id(const char *provider, const char *id_token, const char *label, char *state, char *lt)
{
	json_t *a = NULL, *r = json_pack("{s:s, s:s, s:s, s:s}", "op", "social.begin", "provider",
	    provider, "id_token", id_token, "nonce", NONCE);
	portail_status s;

	if (label != NULL)
		json_object_set_new(r, "label", json_string(label));
	s = call(r, &a);
	if (state != NULL)
		snprintf(state, 32, "%s", sget(a, s == PORTAIL_OK ? "state" : "error"));
	if (lt != NULL)
		snprintf(lt, 64, "%s", sget(a, "link_ticket"));
	json_decref(a);
	return s;
}

static portail_status
link_to(const char *lt, const char *email, char *state)
{
	json_t *a = NULL;
	portail_status s = call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket", lt,
	    "email", email), &a);

	if (state != NULL)
		snprintf(state, 32, "%s", sget(a, s == PORTAIL_OK ? "state" : "error"));
	json_decref(a);
	return s;
}

/* How many mails each address got so far, to wait for the next one. */
static struct {
	char rcpt[64];
	int n;
} seen[16];

static void
next_code(const char *rcpt, char code[8])
{
	char *m;
	int i;

	for (i = 0; i < 16 && seen[i].rcpt[0] != '\0' && strcmp(seen[i].rcpt, rcpt) != 0; i++)
		;
	assert_true(i < 16);
	snprintf(seen[i].rcpt, sizeof(seen[i].rcpt), "%s", rcpt);
	m = fx_wait_mail(sink, rcpt, ++seen[i].n);
	assert_non_null(m);
	if (strstr(m, "code") == NULL || !fx_code_in(m, code)) {
		/* a notice (account created) came first: the code is in the next one */
		free(m);
		m = fx_wait_mail(sink, rcpt, ++seen[i].n);
		assert_non_null(m);
		assert_true(fx_code_in(m, code));
	}
	free(m);
}

static portail_status
verify_link(const char *lt, const char *email, const char *code, char *ticket)
{
	json_t *a = NULL;
	portail_status s = call(json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify", "purpose",
	    "link", "email", email, "code", code, "link_ticket", lt), &a);

	snprintf(ticket, 64, "%s", sget(a, "ticket"));
	json_decref(a);
	return s;
}

static portail_status
finish(const char *lt, const char *ticket, json_t **out)
{
	return call(json_pack("{s:s, s:s, s:s}", "op", "social.finish", "link_ticket", lt,
	    "ticket", ticket), out);
}

static json_t *
show(const char *email)
{
	json_t *a = NULL;

	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.show", "email", email), &a),
	    PORTAIL_OK);
	return a;
}

static bool
has_link(const char *email, const char *provider)
{
	json_t *a = show(email), *links = json_object_get(json_object_get(a, "account"), "links"), *v;
	bool found = false;
	size_t i;

	json_array_foreach(links, i, v)
		found = found || strcmp(json_string_value(v), provider) == 0;
	json_decref(a);
	return found;
}

static void
test_vouched_equal_links_at_once(void **state)
{
	char st[32], lt[64];
	json_t *a = NULL;

	(void)state;
	assert_int_equal(begin("google", tok("chantal"), NULL, st, lt), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(strncmp(lt, "ptt_", 4), 0);
	/* the address as the school has it, typed in another case: linked at once */
	assert_int_equal(link_to(lt, "Chantal.Gagnon@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "linked");
	a = show("chantal.gagnon@exemple.ca");
	/* a new account, without a password, linked with Google */
	assert_false(json_is_true(json_object_get(json_object_get(a, "account"), "has_password")));
	json_decref(a);
	assert_true(has_link("chantal.gagnon@exemple.ca", "google"));
	/* the link ticket is spent */
	assert_int_equal(link_to(lt, "chantal.gagnon@exemple.ca", st), PORTAIL_ERR_BAD_TICKET);
	/* from now on: signed in, and "rester connecté" gives a token that works */
	assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "social.begin", "provider",
	    "google", "access_token", tok("chantal"), "label", "iPhone"), &a), PORTAIL_OK);
	assert_string_equal(sget(a, "state"), "signed_in");
	/* the account holds the address as the record spells it, not as typed */
	assert_string_equal(sget(a, "email"), "chantal.gagnon@exemple.ca");
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "token.verify", "token",
	    sget(a, "token")), NULL), PORTAIL_OK);
	json_decref(a);
}

static void
test_vouched_other_address_gets_code(void **state)
{
	char st[32], lt[64], code[8], ticket[64];
	json_t *a = NULL;

	(void)state;
	/* Google vouches for julie.perso@…, but the school has julie.cote@… */
	assert_int_equal(begin("google", tok("julie"), NULL, st, lt), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(link_to(lt, "julie.cote@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "code_sent");
	next_code("julie.cote@exemple.ca", code);
	/* a wrong code first: the proof is not given away */
	assert_int_equal(verify_link(lt, "julie.cote@exemple.ca", strcmp(code, "000000") ? "000000" :
	    "111111", ticket), PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(verify_link(lt, "julie.cote@exemple.ca", code, ticket), PORTAIL_OK);
	assert_int_equal(finish(lt, ticket, &a), PORTAIL_OK);
	assert_string_equal(sget(a, "state"), "linked");
	assert_string_equal(sget(a, "email"), "julie.cote@exemple.ca");
	json_decref(a);
	/* the proof is spent */
	assert_int_equal(finish(lt, ticket, NULL), PORTAIL_ERR_BAD_TICKET);
	assert_int_equal(begin("google", tok("julie"), NULL, st, NULL), PORTAIL_OK);
	assert_string_equal(st, "signed_in");
}

static void
test_not_vouched_equal_gets_code(void **state)
{
	char st[32], lt[64], code[8], ticket[64];
	json_t *a = NULL;

	(void)state;
	/* Facebook never vouches, even for the very address the school has */
	assert_int_equal(begin("facebook", tok("fb_chantal"), NULL, st, lt), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(link_to(lt, "chantal.gagnon@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "code_sent");
	next_code("chantal.gagnon@exemple.ca", code);
	assert_int_equal(verify_link(lt, "chantal.gagnon@exemple.ca", code, ticket), PORTAIL_OK);
	assert_int_equal(finish(lt, ticket, &a), PORTAIL_OK);
	/* the account was there (Google made it): linked to it */
	assert_false(json_is_true(json_object_get(a, "created")));
	json_decref(a);
	assert_true(has_link("chantal.gagnon@exemple.ca", "facebook"));
	/* Microsoft neither: its email claim is not verified (no xms_edov), whatever
	 * email_verified says */
	assert_int_equal(begin_id("microsoft", idt("chantal"), NULL, st, lt), PORTAIL_OK);
	assert_int_equal(link_to(lt, "chantal.gagnon@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "code_sent");
	next_code("chantal.gagnon@exemple.ca", code);
	assert_int_equal(verify_link(lt, "chantal.gagnon@exemple.ca", code, ticket), PORTAIL_OK);
	assert_int_equal(finish(lt, ticket, NULL), PORTAIL_OK);
	assert_true(has_link("chantal.gagnon@exemple.ca", "microsoft"));
}

static void
test_not_on_file_same_answer(void **state)
{
	char st[32], lt[64], lt2[64], code[8];
	json_t *a = NULL, *b = NULL;

	(void)state;
	/* vouched and equal, but no child in a subscribed school: the same answer, no mail */
	assert_int_equal(begin_id("linkedin", idt("personne"), NULL, st, lt), PORTAIL_OK);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket", lt,
	    "email", "personne@exemple.ca"), &a), PORTAIL_OK);
	assert_int_equal(begin_id("linkedin", idt("marc"), NULL, st, lt2), PORTAIL_OK);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket", lt2,
	    "email", "marc.roy@exemple.ca"), &b), PORTAIL_OK);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	/* marc's code arrives; nothing ever went to personne@ */
	next_code("Marc.Roy@Exemple.CA", code);     /* the record's spelling */
	assert_int_equal(fx_count_mail(sink, "personne@exemple.ca"), 0);
	/* a malformed address is refused plainly */
	assert_int_equal(link_to(lt, "personne", st), PORTAIL_ERR_INVALID);
}

/* A code.verify of a wrong code for a link; its status, *tries_left from the answer. */
static portail_status
wrong_link_code(const char *lt, const char *email, long long *tries_left)
{
	json_t *a = NULL;
	portail_status s = call(json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify",
	    "purpose", "link", "email", email, "code", "000000", "link_ticket", lt), &a);

	*tries_left = json_integer_value(json_object_get(a, "tries_left"));
	json_decref(a);
	return s;
}

#define LINK_FLOOD 200

/*
 * Issue 13 item 4, for social.link: a code asked for an address not on
 * file writes nothing durable (no verification, no issuance, no mail row:
 * its limits and its decoy code live in portaild's memory), is answered
 * as one for an address on file, and its code.verify is refused like a
 * wrong code with the same tries left.
 */
static void
test_not_on_file_link_writes_nothing(void **state)
{
	static const char counts[] = "SELECT count(*) FROM verifications;\n"
	    "SELECT count(*) FROM issuance;\nSELECT count(*) FROM link_tickets;\n"
	    "SELECT count(*) FROM mail_queue WHERE rcpt LIKE '%@inconnu.ca';\n";
	char st[32], lt[64], lt2[64], addr[64], code[8], *before, *after;
	json_t *known = NULL, *a = NULL;
	long long tries_known = -1, tries_unknown = -2;
	int lines = 0;

	(void)state;
	/* an address on file, by a provider that vouches for another one: a code */
	assert_int_equal(begin_id("linkedin", idt("personne"), NULL, st, lt2), PORTAIL_OK);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket", lt2,
	    "email", "marc.roy@exemple.ca"), &known), PORTAIL_OK);
	next_code("Marc.Roy@Exemple.CA", code);
	assert_int_equal(begin_id("linkedin", idt("marc"), NULL, st, lt), PORTAIL_OK);
	before = fx_store_sql(dir, counts);
	for (int i = 0; i < LINK_FLOOD; i++) {
		snprintf(addr, sizeof(addr), "x%d.%lx@inconnu.ca", i, (unsigned long)random());
		assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket",
		    lt, "email", addr), &a), PORTAIL_OK);
		if (!json_equal(a, known))
			fail_msg("social.link for %s answered apart from an address on file", addr);
		json_decref(a);
		a = NULL;
	}
	after = fx_store_sql(dir, counts);
	print_message("# %d links to addresses not on file: rows %s -> %s\n", LINK_FLOOD, before, after);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* the code asked last is refused like a wrong one, as marc's */
	assert_int_equal(wrong_link_code(lt2, "marc.roy@exemple.ca", &tries_known),
	    PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(wrong_link_code(lt, addr, &tries_unknown), PORTAIL_ERR_WRONG_CODE);
	assert_int_equal(tries_unknown, tries_known);
	/* and nothing went to them */
	assert_int_equal(fx_count_mail(sink, addr), 0);
	/* nor a log line each: a line per uid per minute counts them */
	assert_false(fx_log_has(daemon_.log, "op=social.link user=x"));
	assert_true(fx_log_counts(daemon_.log, "op=social.link uid=0 result=summary count=",
	    &lines) >= 1);
	assert_true(lines >= 1 && lines <= 3);
	json_decref(known);
}

static void
test_proof_bound_to_identity(void **state)
{
	char st[32], lt_a[64], lt_b[64], code[8], ticket_a[64], ticket_b[64];

	(void)state;
	/* A (ecole/julie) proves julie.cote@ … */
	assert_int_equal(begin("ecole", tok("julie"), NULL, st, lt_a), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(link_to(lt_a, "julie.cote@exemple.ca", st), PORTAIL_OK);
	next_code("julie.cote@exemple.ca", code);
	/* … B (ecole/marc) cannot verify A's code with its own link ticket … */
	assert_int_equal(begin("ecole", tok("marc"), NULL, st, lt_b), PORTAIL_OK);
	assert_int_equal(verify_link(lt_b, "julie.cote@exemple.ca", code, ticket_b),
	    PORTAIL_ERR_BAD_TICKET);
	assert_int_equal(verify_link(lt_a, "julie.cote@exemple.ca", code, ticket_a), PORTAIL_OK);
	/* … nor finish its link with A's proof, before or after choosing an address */
	assert_int_equal(finish(lt_b, ticket_a, NULL), PORTAIL_ERR_BAD_TICKET);
	assert_int_equal(link_to(lt_b, "marc.roy@exemple.ca", st), PORTAIL_OK);
	next_code("Marc.Roy@Exemple.CA", code);     /* the record's spelling */
	assert_int_equal(finish(lt_b, ticket_a, NULL), PORTAIL_ERR_BAD_TICKET);
	/* A's proof still completes A's link */
	assert_int_equal(finish(lt_a, ticket_a, NULL), PORTAIL_OK);
	assert_true(has_link("julie.cote@exemple.ca", "ecole"));
	/* a code for B's own address, verified with A's link ticket: refused too */
	assert_int_equal(verify_link(lt_a, "marc.roy@exemple.ca", code, ticket_b),
	    PORTAIL_ERR_BAD_TICKET);
}

static void
test_already_linked(void **state)
{
	char st[32], lt1[64], lt2[64], code[8], ticket[64];
	json_t *a = NULL;

	(void)state;
	/* two link tickets for the same LinkedIn identity, before it is linked */
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, lt1), PORTAIL_OK);
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, lt2), PORTAIL_OK);
	assert_int_equal(link_to(lt1, "chantal.gagnon@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "linked");
	/* the second tries to link the same identity to marc's address */
	assert_int_equal(link_to(lt2, "marc.roy@exemple.ca", st), PORTAIL_OK);
	assert_string_equal(st, "code_sent");
	next_code("Marc.Roy@Exemple.CA", code);     /* the record's spelling */
	assert_int_equal(verify_link(lt2, "marc.roy@exemple.ca", code, ticket), PORTAIL_OK);
	assert_int_equal(finish(lt2, ticket, &a), PORTAIL_ERR_EXISTS);
	assert_string_equal(sget(a, "error"), "exists");
	assert_non_null(strstr(sget(a, "message"), "déjà lié"));
	json_decref(a);
	/* and nothing is left behind: not even the account the link would have made */
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.show", "email",
	    "marc.roy@exemple.ca"), NULL), PORTAIL_ERR_UNKNOWN);
	/* chantal's account has Google already: another Google identity cannot join it */
	assert_int_equal(begin("google", tok("marc"), NULL, st, lt1), PORTAIL_OK);
	assert_int_equal(link_to(lt1, "chantal.gagnon@exemple.ca", st), PORTAIL_OK);
	next_code("chantal.gagnon@exemple.ca", code);
	assert_int_equal(verify_link(lt1, "chantal.gagnon@exemple.ca", code, ticket), PORTAIL_OK);
	assert_int_equal(finish(lt1, ticket, NULL), PORTAIL_ERR_EXISTS);
}

static void
test_signin_unlink_disable(void **state)
{
	char st[32], lt[64];

	(void)state;
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, NULL), PORTAIL_OK);
	assert_string_equal(st, "signed_in");
	/* a disabled account: refused as a password would be */
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.disable", "email",
	    "chantal.gagnon@exemple.ca"), NULL), PORTAIL_OK);
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, NULL), PORTAIL_ERR_DISABLED);
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.enable", "email",
	    "chantal.gagnon@exemple.ca"), NULL), PORTAIL_OK);
	/* unlinked (an admin here): the identity must be linked again */
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.unlink", "email",
	    "chantal.gagnon@exemple.ca", "provider", "linkedin"), NULL), PORTAIL_OK);
	assert_false(has_link("chantal.gagnon@exemple.ca", "linkedin"));
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.unlink", "email",
	    "chantal.gagnon@exemple.ca", "provider", "linkedin"), NULL), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, lt), PORTAIL_OK);
	assert_string_equal(st, "link");
	/* a provider's refusal and an unknown provider */
	assert_int_equal(begin("google", tok("revoked"), NULL, st, NULL), PORTAIL_ERR_REFUSED);
	assert_string_equal(st, "refused");
	assert_int_equal(begin("google", tok("other_client"), NULL, st, NULL), PORTAIL_ERR_REFUSED);
	assert_int_equal(begin("myspace", tok("chantal"), NULL, st, NULL), PORTAIL_ERR_UNKNOWN);
	assert_string_equal(st, "unknown");
	/* what cannot be a token: said so, and the provider is never asked */
	{
		json_t *a = NULL;

		assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.begin", "provider",
		    "google", "access_token", "deux mots"), &a), PORTAIL_ERR_INVALID);
		assert_non_null(strstr(sget(a, "message"), "Jeton du fournisseur"));
		json_decref(a);
	}
	/* issue 11: Microsoft's, LinkedIn's and a bare OpenID access token name no application */
	{
		static const char *const none[] = { "microsoft", "linkedin", "ecoleid" };
		json_t *a = NULL;

		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(begin(none[i], tok("chantal"), NULL, st, NULL),
			    PORTAIL_ERR_REFUSED);
			assert_string_equal(st, "refused");
		}
		assert_true(fx_log_has(daemon_.log, "reason=id_token_required"));
		assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "social.begin", "lang",
		    "en", "provider", "microsoft", "access_token", tok("other_client")), &a),
		    PORTAIL_ERR_REFUSED);
		assert_non_null(strstr(sget(a, "message"), "ID token"));
		assert_non_null(strstr(sget(a, "message"), "browser"));
		json_decref(a);
		/* an ID token of another client, of another sign-in */
		assert_int_equal(begin_id("microsoft", idt("other_client"), NULL, st, NULL),
		    PORTAIL_ERR_REFUSED);
		assert_true(fx_log_has(daemon_.log, "microsoft: the token was issued to another "
		    "application"));
		assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "social.begin",
		    "provider", "linkedin", "id_token", idt("chantal"), "nonce", "autre"), NULL),
		    PORTAIL_ERR_REFUSED);
		/* one of the two ways, whole: both, or an ID token without its nonce */
		assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "social.begin",
		    "provider", "linkedin", "id_token", idt("chantal"), "nonce", NONCE,
		    "access_token", tok("chantal")), &a), PORTAIL_ERR_INVALID);
		assert_non_null(strstr(sget(a, "message"), "id_token"));
		json_decref(a);
		assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "social.begin", "provider",
		    "linkedin", "id_token", idt("chantal")), NULL), PORTAIL_ERR_INVALID);
		assert_int_equal(call(json_pack("{s:s, s:s}", "op", "social.begin", "provider",
		    "linkedin"), NULL), PORTAIL_ERR_INVALID);
	}
	/* a provider down or hanging: unavailable, never a refusal */
	assert_int_equal(begin("panne", tok("chantal"), NULL, st, NULL), PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(begin("lent", tok("chantal"), NULL, st, NULL), PORTAIL_ERR_UNAVAILABLE);
	/* no access token, no ID token ever in the log */
	assert_false(fx_log_has(daemon_.log, tok("chantal")));
	assert_false(fx_log_has(daemon_.log, strrchr(idt("chantal"), '.') + 1));
	assert_false(fx_log_has(daemon_.log, "fb-app-secret"));
}

static void
test_social_only_sets_password(void **state)
{
	char code[8];
	json_t *a = NULL;

	(void)state;
	/* chantal's account came from Google, without a password: "Mot de passe oublié?" */
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "code.request", "email",
	    "chantal.gagnon@exemple.ca", "purpose", "reset"), NULL), PORTAIL_OK);
	next_code("chantal.gagnon@exemple.ca", code);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email",
	    "chantal.gagnon@exemple.ca", "purpose", "reset", "code", code), &a), PORTAIL_OK);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "password.reset", "ticket",
	    sget(a, "ticket"), "password", GOOD_PW, "confirmation", GOOD_PW), NULL), PORTAIL_OK);
	json_decref(a);
	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email",
	    "chantal.gagnon@exemple.ca", "password", GOOD_PW), NULL), PORTAIL_OK);
	/* and Google still signs her in */
	{
		char st[32];

		assert_int_equal(begin("google", tok("chantal"), NULL, st, NULL), PORTAIL_OK);
		assert_string_equal(st, "signed_in");
	}
	/* the parent unlinks Google herself, with her password */
	assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "social.unlink", "email",
	    "chantal.gagnon@exemple.ca", "provider", "google", "password", "mauvais"), NULL),
	    PORTAIL_ERR_REFUSED);
	assert_true(has_link("chantal.gagnon@exemple.ca", "google"));
	assert_int_equal(call(json_pack("{s:s, s:s, s:s, s:s}", "op", "social.unlink", "email",
	    "chantal.gagnon@exemple.ca", "provider", "google", "password", GOOD_PW), NULL),
	    PORTAIL_OK);
	assert_false(has_link("chantal.gagnon@exemple.ca", "google"));
}

/* One request on c (kept: the web's connection); its status, *out the answer. */
static portail_status
call_on(portail_client *c, json_t *req, json_t **out)
{
	portail_status s = portail_client_call(c, req, out, NULL);

	json_decref(req);
	return s;
}

/*
 * Issue 13 leftovers: portail-web's social.link (a link's code request) is
 * counted per client address with its code.verify, as the sign-in and the
 * other code requests are ([daemon] client_attempts, 100 per 600 s): past
 * it, one answer for an address on file and one not on file, and another
 * client address is not affected. On the stopped clock.
 */
static void
test_link_counted_per_client_address(void **state)
{
	char st[32], lt[64], addr[64];
	portail_client *web = NULL, *other = NULL;
	json_t *known = NULL, *unknown = NULL, *a = NULL;
	int lines = 0;

	(void)state;
	fx_clock_advance(&daemon_, 0);
	assert_int_equal(begin_id("linkedin", idt("marc"), NULL, st, lt), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(portail_client_new(sock, 0, &web), PORTAIL_OK);
	assert_int_equal(portail_client_set_origin(web, "portail-web", "192.0.2.60"), PORTAIL_OK);
	/* 99 links and a code.verify: the address's 100 */
	for (int i = 0; i < 99; i++) {
		snprintf(addr, sizeof(addr), "web%d@inconnu.ca", i);
		assert_int_equal(call_on(web, json_pack("{s:s, s:s, s:s}", "op", "social.link",
		    "link_ticket", lt, "email", addr), NULL), PORTAIL_OK);
	}
	assert_int_equal(call_on(web, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify",
	    "purpose", "link", "email", addr, "code", "000000", "link_ticket", lt), NULL),
	    PORTAIL_ERR_WRONG_CODE);
	/* the 101st: refused, the same for an address on file and one not */
	assert_int_equal(call_on(web, json_pack("{s:s, s:s, s:s}", "op", "social.link",
	    "link_ticket", lt, "email", "marc.roy@exemple.ca"), &known), PORTAIL_ERR_RATE_LIMITED);
	assert_int_equal(call_on(web, json_pack("{s:s, s:s, s:s}", "op", "social.link",
	    "link_ticket", lt, "email", "web-encore@inconnu.ca"), &unknown), PORTAIL_ERR_RATE_LIMITED);
	assert_true(json_equal(known, unknown));
	assert_string_equal(sget(known, "limit"), "client");
	assert_int_equal(json_integer_value(json_object_get(known, "retry_after")), 600);
	/* the link's code verify too */
	assert_int_equal(call_on(web, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify",
	    "purpose", "link", "email", addr, "code", "000000", "link_ticket", lt), &a),
	    PORTAIL_ERR_RATE_LIMITED);
	assert_string_equal(sget(a, "limit"), "client");
	/* another client address links at once */
	assert_int_equal(portail_client_new(sock, 0, &other), PORTAIL_OK);
	assert_int_equal(portail_client_set_origin(other, "portail-web", "192.0.2.61"), PORTAIL_OK);
	assert_int_equal(call_on(other, json_pack("{s:s, s:s, s:s}", "op", "social.link",
	    "link_ticket", lt, "email", "web-autre@inconnu.ca"), NULL), PORTAIL_OK);
	/* a line for the first refusal, the others counted in the minute's */
	assert_int_equal(fx_log_counts(daemon_.log, "uid=0 result=rate_limited reason=client_limited "
	    "count=", &lines), 1);
	assert_int_equal(lines, 1);
	json_decref(known);
	json_decref(unknown);
	json_decref(a);
	portail_client_free(web);
	portail_client_free(other);
}

/*
 * As uid 65534 (a local peer, no web client): social.link counted with
 * code.request per uid, [daemon] code_requests_per_minute (600 by
 * default). Returns 0, or the number of the first request that answered
 * otherwise.
 */
static int
link_as_peer(void)
{
	char st[32], lt[64], addr[64];
	json_t *a = NULL, *b = NULL;
	int bad = 0;

	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		return 99;
	if (begin_id("linkedin", idt("marc"), NULL, st, lt) != PORTAIL_OK)
		return 98;
	for (int i = 0; i < 599 && bad == 0; i++) {
		snprintf(addr, sizeof(addr), "pair%d@inconnu.ca", i);
		if (link_to(lt, addr, NULL) != PORTAIL_OK)
			bad = i + 1;
	}
	if (bad != 0)
		return bad > 97 ? 97 : bad;
	/* the 600th a code.request: the same count */
	if (call(json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", "pair-code@inconnu.ca",
	    "purpose", "signup"), NULL) != PORTAIL_OK)
		return 1;
	if (call(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket", lt, "email",
	    "marc.roy@exemple.ca"), &a) != PORTAIL_ERR_RATE_LIMITED ||
	    call(json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", "pair-code@inconnu.ca",
	    "purpose", "signup"), &b) != PORTAIL_ERR_RATE_LIMITED)
		return 2;
	if (strcmp(sget(a, "limit"), "peer") != 0 ||
	    json_integer_value(json_object_get(a, "retry_after")) != 60 ||
	    strcmp(sget(a, "error"), sget(b, "error")) != 0 ||
	    strcmp(sget(a, "message"), sget(b, "message")) != 0)
		return 3;
	json_decref(a);
	json_decref(b);
	return 0;
}

static void
test_link_counted_per_peer(void **state)
{
	pid_t pid;
	int st = 0, lines = 0;

	(void)state;
	fx_clock_advance(&daemon_, 0);
	if ((pid = fork()) == 0)
		_exit(link_as_peer());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the first refusal logged at once, the second waits for the minute's line */
	assert_int_equal(fx_log_counts(daemon_.log, "uid=65534 result=rate_limited "
	    "reason=peer_limited count=", &lines), 1);
	assert_int_equal(lines, 1);
	/* root keeps its own count */
	{
		char state_[32], lt[64];

		assert_int_equal(begin_id("linkedin", idt("marc"), NULL, state_, lt), PORTAIL_OK);
		assert_int_equal(link_to(lt, "racine-lien@inconnu.ca", state_), PORTAIL_OK);
		assert_string_equal(state_, "code_sent");
	}
}

/*
 * Last, as it moves the shared daemon's clock: an ID token is checked on
 * portaild's clock (the flows' now), good until its exp and the 60 s of
 * skew allowed, refused from then on; a link ticket lives 15 minutes.
 */
static void
test_daemon_clock_decides(void **state)
{
	int64_t exp = jwt_claim(idt("chantal"), "exp"), t0;
	char st[32], lt1[64], lt2[64];

	(void)state;
	/* two link tickets from the same second, on the stopped clock */
	fx_clock_advance(&daemon_, 0);
	t0 = fx_clock_now(&daemon_);
	assert_true(exp > t0 + 900);
	assert_int_equal(begin_id("ecoleid", idt("julie"), NULL, st, lt1), PORTAIL_OK);
	assert_string_equal(st, "link");
	assert_int_equal(begin_id("ecoleid", idt("julie"), NULL, st, lt2), PORTAIL_OK);
	fx_clock_advance(&daemon_, 899);
	assert_int_equal(link_to(lt1, "julie.cote@exemple.ca", st), PORTAIL_OK);
	fx_clock_advance(&daemon_, 1);
	assert_int_equal(link_to(lt2, "julie.cote@exemple.ca", st), PORTAIL_ERR_BAD_TICKET);
	/* the ID token at the edge of its life */
	fx_clock_advance(&daemon_, exp + PT_IDTOKEN_SKEW - 1 - fx_clock_now(&daemon_));
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, NULL), PORTAIL_OK);
	fx_clock_advance(&daemon_, 1);
	assert_int_equal(begin_id("linkedin", idt("chantal"), NULL, st, NULL), PORTAIL_ERR_REFUSED);
	assert_string_equal(st, "refused");
	assert_true(fx_log_has(daemon_.log, "linkedin: the ID token expired"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_kinds),
		cmocka_unit_test(test_identify_hostile),
		cmocka_unit_test(test_identify_id_tokens),
		cmocka_unit_test(test_vouched_equal_links_at_once),
		cmocka_unit_test(test_vouched_other_address_gets_code),
		cmocka_unit_test(test_not_vouched_equal_gets_code),
		cmocka_unit_test(test_not_on_file_same_answer),
		cmocka_unit_test(test_not_on_file_link_writes_nothing),
		cmocka_unit_test(test_proof_bound_to_identity),
		cmocka_unit_test(test_already_linked),
		cmocka_unit_test(test_signin_unlink_disable),
		cmocka_unit_test(test_social_only_sets_password),
		cmocka_unit_test(test_link_counted_per_client_address),
		cmocka_unit_test(test_link_counted_per_peer),
		cmocka_unit_test(test_daemon_clock_decides),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
