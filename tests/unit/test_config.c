/*
 * test_config.c — the portail.conf parser on good, clumsy and hostile
 * files. Each bad case names the message (with file:line and key) an
 * admin must see.
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

#include "config.h"

static char dir[256];
static char good_secret[300], open_secret[300];

#define GPI "[gpi]\nuri = ldap://127.0.0.1:389\nbase = dc=exemple,dc=qc,dc=ca\n"

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Replaces @GOOD@ and @OPEN@ with the secret files' paths. */
static char *
expand(const char *t)
{
	size_t cap = strlen(t) + 4096;
	char *out = calloc(1, cap), *w = out;

	assert_non_null(out);
	while (*t) {
		if (strncmp(t, "@GOOD@", 6) == 0) {
			w += sprintf(w, "%s", good_secret);
			t += 6;
		} else if (strncmp(t, "@OPEN@", 6) == 0) {
			w += sprintf(w, "%s", open_secret);
			t += 6;
		} else {
			*w++ = *t++;
		}
	}
	return out;
}

static portail_status
parse(const char *text, portail_config **cfg, portail_error *err)
{
	char *t = expand(text);
	portail_status r;

	*cfg = NULL;
	memset(err, 0, sizeof(*err));
	r = portail_config_parse("test.conf", t, strlen(t), cfg, err);
	free(t);
	return r;
}

struct bad_case {
	const char *text;
	const char *message;    /* expected substring */
};

static const struct bad_case bad[] = {
	{ "[gpii]\n", "test.conf:1: unknown section [gpii]" },
	{ GPI "urri = x\n", "test.conf:4: [gpi]: unknown key 'urri'" },
	{ GPI "uri = ldap://b\n", "test.conf:4: [gpi] uri: set twice (first at line 2)" },
	{ GPI "[gpi]\n", "test.conf:4: [gpi] appears twice" },
	{ GPI "[daemon\n", "test.conf:4: missing ']'" },
	{ GPI "[daemon] x\n", "test.conf:4: text after ']'" },
	{ "uri = x\n[gpi]\n", "test.conf:1: 'uri' comes before any [section]" },
	{ GPI "just words\n", "test.conf:4: expected 'key = value' or '[section]'" },
	{ GPI "= v\n", "test.conf:4: missing key before '='" },
	{ GPI "Uri = x\n", "test.conf:4: 'Uri' is not a key name" },
	{ GPI "[daemon]\nworkers = 8x\n", "test.conf:5: [daemon] workers: '8x' is not a whole number" },
	{ GPI "[daemon]\nworkers = 0\n", "test.conf:5: [daemon] workers: 0 is out of range (1 to 256)" },
	{ GPI "[tokens]\nmax_per_account = 0\n",
	  "test.conf:5: [tokens] max_per_account: 0 is out of range (1 to 10000)" },
	{ GPI "[daemon]\nworkers = -1\n", "[daemon] workers: '-1' is not a whole number" },
	{ GPI "[daemon]\nworkers = 99999999999999999999\n", "is not a whole number" },
	{ GPI "[daemon]\nworkers =\n", "test.conf:5: [daemon] workers: empty value" },
	{ "[daemon]\n", "test.conf: [gpi] uri: required (section missing)" },
	{ "[gpi]\nuri = ldap://x\n", "test.conf: [gpi] base: required" },
	{ GPI "# a\0b\n", "test.conf:4: NUL byte in line" },
	{ GPI "base2 = \xc3\x28\n", "test.conf:4: not valid UTF-8" },
	{ GPI "a = b\x1b[31m\n", "test.conf:4: control character 0x1b in line" },
	{ "  uri = x\n", "test.conf:1: indented line continues no key" },
	{ GPI "\n   (x)\n", "test.conf:5: indented line continues no key" },
	{ "[gpi]\nuri = http://x\nbase = b\n", "[gpi] uri: 'http://x' is not an ldap://, ldaps:// or ldapi:// URI" },
	{ GPI "filter = (mail=x)\n", "[gpi] filter: must contain %s where the address goes" },
	{ GPI "filter = (&(mail=%s)\n", "[gpi] filter: unbalanced parentheses" },
	{ GPI "filter = (mail=%d)\n", "[gpi] filter: only %s may follow '%'" },
	{ GPI "filter = mail=%s\n", "[gpi] filter: must start with '('" },
	{ GPI "filter = (mail=\\zz%s)\n", "[gpi] filter: a backslash must start an escape" },
	{ GPI "email_attribute = mail;binary\n", "[gpi] email_attribute: 'mail;binary' is not an attribute name" },
	{ GPI "bind_dn = cn=x\nbind_password_file = @OPEN@\n", "test.conf:5: [gpi] bind_password_file: " },
	{ GPI "bind_dn = cn=x\nbind_password_file = /nonexistent/pw\n", "test.conf:5: [gpi] bind_password_file: /nonexistent/pw: No such file or directory" },
	{ GPI "bind_password_file = @GOOD@\n", "[gpi] bind_password_file: needs bind_dn" },
	{ GPI "bind_dn = cn=x\nsasl_mech = EXTERNAL\n", "bind_dn and sasl_mech exclude each other" },
	{ GPI "sasl_mech = GSSAPI\n", "[gpi] sasl_mech: 'GSSAPI' is not supported (only EXTERNAL)" },
	{ GPI "ca_file = certs/ca.pem\n", "[gpi] ca_file: 'certs/ca.pem' is not an absolute path" },
	{ GPI "starttls = maybe\n", "[gpi] starttls: 'maybe' is not yes or no" },
	{ GPI "subscribed_schools = 1, *\n", "[gpi] subscribed_schools: '*' must stand alone" },
	{ GPI "subscribed_schools = , ,\n", "[gpi] subscribed_schools: empty list" },
	{ GPI "timeout = 61\n", "[gpi] timeout: 61 is out of range (1 to 60)" },
	{ GPI "cache_timeout = 3601\n", "[gpi] cache_timeout: 3601 is out of range (0 to 3600)" },
	{ GPI "record_interval = 3601\n", "[gpi] record_interval: 3601 is out of range (0 to 3600)" },
	{ GPI "record_interval = -1\n", "[gpi] record_interval: '-1' is not a whole number" },
	{ GPI "timeout = 15\n", "test.conf:4: [gpi] timeout: must be less than [daemon] request_timeout (15)" },
	{ GPI "network_timeout = 6\n", "[gpi] network_timeout: must not exceed [gpi] timeout (5)" },
	{ GPI "[daemon]\nrequest_timeout = 20\n", "[daemon] request_timeout: 20 is out of range (2 to 19)" },
	{ GPI "[daemon]\nbusy_pause_ms = 5001\n", "[daemon] busy_pause_ms: 5001 is out of range (0 to 5000)" },
	{ GPI "[daemon]\nbusy_pause_ms = -1\n", "[daemon] busy_pause_ms: '-1' is not a whole number" },
	{ GPI "[daemon]\ncode_request_floor_ms = 1001\n",
	  "[daemon] code_request_floor_ms: 1001 is out of range (0 to 1000)" },
	{ GPI "[codes]\nalphabet = 01\n", "[codes] length: 6 characters from a 2-letter alphabet give fewer than 20 bits; use at least 20" },
	{ GPI "[codes]\nalphabet = abcA\n", "[codes] alphabet: 'A' appears twice" },
	{ GPI "[codes]\nalphabet = ab c\n", "[codes] alphabet: only printable ASCII" },
	{ GPI "[password]\nmin_length = 7\n", "[password] min_length: 7 is out of range (8 to 128)" },
	{ GPI "[password]\nmin_length = 100\nmax_length = 50\n", "[password] min_length: must not exceed max_length (50)" },
	{ GPI "[mail]\nurl = http://mail\n", "[mail] url: 'http://mail' is not an smtp:// or smtps:// URL" },
	{ GPI "[mail]\nlanguage = de\n", "[mail] language: 'de' is not fr or en" },
	{ GPI "[mail]\nstarttls = sometimes\n", "[mail] starttls: 'sometimes' is not no, try or yes" },
	/* SMTP credentials only over TLS: try would let a STARTTLS-stripping relay read them */
	{ GPI "[mail]\nurl = smtp://relay.exemple.ca:587\nusername = portail\npassword_file = @GOOD@\n",
	  "test.conf:7: [mail] password_file: password_file with starttls = try would send the SMTP password in clear" },
	{ GPI "[mail]\nusername = portail\nstarttls = try\n",
	  "test.conf:6: [mail] starttls: username with starttls = try would send the SMTP password in clear to a relay that strips STARTTLS: use an smtps:// url or starttls = yes" },
	{ GPI "[mail]\nstarttls = no\npassword_file = @GOOD@\n", "test.conf:5: [mail] starttls: password_file with starttls = no" },
	{ GPI "[provider.google]\nclient_id = x\n", "test.conf: [provider.google] kind: required" },
	{ GPI "[provider.google]\nkind = myspace\nclient_id = x\n", "[provider.google] kind: 'myspace' is not google" },
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\nuserinfo_url = http://idp.example/me\n", "[provider.g] userinfo_url: 'http://idp.example/me' must be https://" },
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\n[provider.g]\n", "[provider.g] appears twice" },
	{ GPI "[provider.G!]\n", "a provider name has only a-z" },
	{ GPI "[provider.]\n", "a provider name has 1 to 32 characters" },
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\nsecret = y\n", "[provider.g]: unknown key 'secret'" },
	/* issue 11: nothing would tie its tokens to client_id */
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\nuserinfo_url = https://idp.example/me\n", "test.conf:5: [provider.g] kind: oidc needs introspection_url (to check that an access token is ours), or issuer and jwks_url (to verify ID tokens)" },
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\nissuer = https://idp.example\n", "test.conf:7: [provider.g] issuer: kind oidc verifies ID tokens with both issuer and jwks_url" },
	{ GPI "[provider.g]\nkind = oidc\nclient_id = x\njwks_url = https://idp.example/jwks\n", "test.conf:7: [provider.g] jwks_url: kind oidc verifies ID tokens with both issuer and jwks_url" },
	{ GPI "[provider.g]\nkind = linkedin\nclient_id = x\nissuer = http://idp.example\n", "[provider.g] issuer: 'http://idp.example' must be https://" },
	{ GPI "[security]\nkey_file = @OPEN@\n", "[security] key_file: " },
	{ GPI "[tokens]\nlifetime = 999999999\n", "[tokens] lifetime: 999999999 is out of range" },
	/* [web]: portail-web */
	{ GPI "[web]\nsession_idle = 59\n", "[web] session_idle: 59 is out of range (60 to 86400)" },
	{ GPI "[web]\nsession_max = 2592001\n", "[web] session_max: 2592001 is out of range (300 to 2592000)" },
	{ GPI "[web]\nsession_idle = 7200\nsession_max = 3600\n", "[web] session_idle: must not exceed session_max (3600)" },
	{ GPI "[web]\nlisten = web.sock\n", "test.conf:5: [web] listen: 'web.sock' is not an absolute socket path, 127.0.0.1:PORT or [::1]:PORT" },
	{ GPI "[web]\nlisten = 0.0.0.0:8080\n", "test.conf:5: [web] listen: '0.0.0.0:8080' is not an absolute" },
	{ GPI "[web]\nlisten = 127.0.0.1:0\n", "[web] listen: '127.0.0.1:0' is not" },
	{ GPI "[web]\nlisten = 127.0.0.1:65536\n", "[web] listen: '127.0.0.1:65536' is not" },
	{ GPI "[web]\nlisten = [::1]:80x\n", "[web] listen: '[::1]:80x' is not" },
	{ GPI "[web]\nlisten = /run/portail/" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789.sock\n", "[web] listen: '/run/portail/0123" },
	{ GPI "[web]\ntrusted_proxies = 127.0.0.1 10.0.0.300\n", "test.conf:5: [web] trusted_proxies: '10.0.0.300' is not an IPv4 or IPv6 address, or unix" },
	{ GPI "[web]\ntrusted_proxies = 127.0.0.0/8\n", "[web] trusted_proxies: '127.0.0.0/8' is not an IPv4" },
	{ GPI "[web]\ntrusted_proxies = ,\n", "[web] trusted_proxies: empty list" },
	{ GPI "[web]\nhome_url = http://ecole.exemple.ca/\n", "test.conf:5: [web] home_url: 'http://ecole.exemple.ca/' must be https://" },
	{ GPI "[web]\nthreads = 0\n", "[web] threads: 0 is out of range (1 to 64)" },
	{ GPI "[web]\nport = 80\n", "test.conf:5: [web]: unknown key 'port'" },
	{ GPI "[web]\n[web]\n", "test.conf:5: [web] appears twice" },
	/* [store]: the backend, and PostgreSQL's keys */
	{ GPI "[store]\nbackend = mysql\n", "test.conf:5: [store] backend: 'mysql' is not sqlite or postgresql" },
	{ GPI "[store]\nbackend = postgresql\n", "test.conf:5: [store] backend: postgresql needs [store] conninfo" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = host=/run/pg password=hunter2\n",
	  "test.conf:6: [store] conninfo: holds a password: put it in [store] password_file" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = postgresql://portail:hunter2@db1/portail\n",
	  "test.conf:6: [store] conninfo: holds a password" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = host=db1 bogus=1\n",
	  "test.conf:6: [store] conninfo: invalid connection option \"bogus\"" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = host='db1\n",
	  "test.conf:6: [store] conninfo: unterminated quoted string" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = host=db1,db2 target_session_attrs=standby\n",
	  "test.conf:6: [store] conninfo: target_session_attrs=standby: portail writes" },
	{ GPI "[store]\nbackend = postgresql\nconninfo = host=db1\ndeadline_ms = 15000\n",
	  "test.conf:7: [store] deadline_ms: must be less than [daemon] request_timeout (15 s)" },
	{ GPI "[store]\ndeadline_ms = 50\n", "test.conf:5: [store] deadline_ms: 50 is out of range (100 to 60000)" },
	{ GPI "[store]\npool_size = 0\n", "test.conf:5: [store] pool_size: 0 is out of range (1 to 256)" },
	{ GPI "[store]\npassword_file = @OPEN@\n", "[store] password_file: " },
	{ GPI "[store]\npassword_file = /nonexistent/pw\n", "test.conf:5: [store] password_file: /nonexistent/pw: No such file" },
	/* [web] introspection_client = ID FILE */
	{ GPI "[web]\nintrospection_client = dovecot\n", "test.conf:5: [web] introspection_client: 'dovecot' is not ID FILE" },
	{ GPI "[web]\nintrospection_client = dovecot @GOOD@ extra\n", "is not ID FILE" },
	{ GPI "[web]\nintrospection_client = dove:cot @GOOD@\n", "'dove:cot': an id has 1 to 64 characters from A-Z a-z 0-9 . _ -" },
	{ GPI "[web]\nintrospection_client = dove%41cot @GOOD@\n", "an id has 1 to 64 characters" },
	{ GPI "[web]\nintrospection_client = 01234567890123456789012345678901234567890123456789012345678901234 @GOOD@\n", "an id has 1 to 64 characters" },
	{ GPI "[web]\nintrospection_client = a @GOOD@\nintrospection_client = a @GOOD@\n", "test.conf:6: [web] introspection_client: 'a' appears twice" },
	{ GPI "[web]\nintrospection_client = a secret.txt\n", "'secret.txt' is not an absolute path" },
	{ GPI "[web]\nintrospection_client = a @OPEN@\n", "readable by group or others" },
	{ GPI "[web]\nintrospection_client = a /nonexistent/secret\n", "/nonexistent/secret: No such file or directory" },
	{ GPI "[web]\nintrospection_client = a @GOOD@\nintrospection_client = b @GOOD@\n"
	  "introspection_client = c @GOOD@\nintrospection_client = d @GOOD@\nintrospection_client = e @GOOD@\n"
	  "introspection_client = f @GOOD@\nintrospection_client = g @GOOD@\nintrospection_client = h @GOOD@\n"
	  "introspection_client = i @GOOD@\nintrospection_client = j @GOOD@\nintrospection_client = k @GOOD@\n"
	  "introspection_client = l @GOOD@\nintrospection_client = m @GOOD@\nintrospection_client = n @GOOD@\n"
	  "introspection_client = o @GOOD@\nintrospection_client = p @GOOD@\nintrospection_client = q @GOOD@\n",
	  "test.conf:21: [web] introspection_client: more than 16 clients" },
};

static void
test_bad_files(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		portail_config *cfg;
		portail_error err;
		/* texts with an embedded NUL need their true length */
		size_t len = strlen(bad[i].text);
		portail_status r;

		if (strstr(bad[i].message, "NUL byte") != NULL) {
			len += 1 + strlen(bad[i].text + len + 1);
			memset(&err, 0, sizeof(err));
			cfg = NULL;
			r = portail_config_parse("test.conf", bad[i].text, len, &cfg, &err);
		} else {
			r = parse(bad[i].text, &cfg, &err);
		}
		if (r != PORTAIL_ERR_CONFIG || strstr(err.message, bad[i].message) == NULL)
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.message, bad[i].message);
		/* a password in a conninfo is refused without being repeated */
		assert_null(strstr(err.message, "hunter2"));
		assert_null(cfg);
	}
}

/* [store]: sqlite by default; postgresql's keys read, its pool one connection per worker. */
static void
test_store_section(void **state)
{
	portail_config *cfg = NULL;
	portail_error err;

	(void)state;
	assert_int_equal(parse(GPI, &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->store.backend, PORTAIL_STORE_SQLITE);
	assert_null(cfg->store.conninfo);
	portail_config_free(cfg);
	assert_int_equal(parse(GPI "[daemon]\nworkers = 6\n[store]\nbackend = postgresql\n"
	    "conninfo = host=db1,db2 port=5432\n  dbname=portail\n", &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->store.backend, PORTAIL_STORE_POSTGRESQL);
	assert_string_equal(cfg->store.conninfo, "host=db1,db2 port=5432 dbname=portail");
	assert_int_equal(cfg->store.pool_size, 6);
	assert_int_equal(cfg->store.deadline_ms, 5000);
	portail_config_free(cfg);
	assert_int_equal(parse(GPI "[store]\nbackend = postgresql\nconninfo = host=db1\n"
	    "pool_size = 3\ndeadline_ms = 800\npassword_file = @GOOD@\n", &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->store.pool_size, 3);
	assert_int_equal(cfg->store.deadline_ms, 800);
	assert_non_null(cfg->store.password_file);
	portail_config_free(cfg);
}

/* [web]: defaults without the section, and every key read. */
static void
test_web_section(void **state)
{
	portail_config *cfg;
	portail_error err;

	assert_int_equal(parse(GPI, &cfg, &err), PORTAIL_OK);
	assert_string_equal(cfg->web.listen, "/run/portail-web/web.sock");
	assert_null(cfg->web.home_url);
	assert_null(cfg->web.trusted_proxies);
	assert_string_equal(cfg->web.user, "www-data");
	assert_int_equal(cfg->web.threads, 4);
	assert_int_equal(cfg->web.session_idle, 1800);
	assert_int_equal(cfg->web.session_max, 43200);
	assert_int_equal(cfg->web.auth_cache_ms, 1000);
	portail_config_free(cfg);

	assert_int_equal(parse(GPI "[web]\nlisten = 127.0.0.1:8080\n"
	    "home_url = https://ecole.exemple.ca/portail\n"
	    "trusted_proxies = 127.0.0.1, ::1\n  unix 192.0.2.1\nuser = portail-web\nthreads = 2\n",
	    &cfg, &err), PORTAIL_OK);
	assert_string_equal(cfg->web.listen, "127.0.0.1:8080");
	assert_string_equal(cfg->web.home_url, "https://ecole.exemple.ca/portail");
	assert_non_null(cfg->web.trusted_proxies);
	assert_string_equal(cfg->web.trusted_proxies[0], "127.0.0.1");
	assert_string_equal(cfg->web.trusted_proxies[1], "::1");
	assert_string_equal(cfg->web.trusted_proxies[2], "unix");
	assert_string_equal(cfg->web.trusted_proxies[3], "192.0.2.1");
	assert_null(cfg->web.trusted_proxies[4]);
	assert_string_equal(cfg->web.user, "portail-web");
	assert_int_equal(cfg->web.threads, 2);
	assert_int_equal(cfg->web.n_clients, 0);
	portail_config_free(cfg);

	/* one line per introspection client: the one key that repeats */
	assert_int_equal(parse(GPI "[web]\nintrospection_client = dovecot @GOOD@\n"
	    "introspection_client =  web-app_1.x\t @GOOD@\n", &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->web.n_clients, 2);
	assert_string_equal(cfg->web.clients[0].id, "dovecot");
	assert_string_equal(cfg->web.clients[0].secret_file, good_secret);
	assert_string_equal(cfg->web.clients[1].id, "web-app_1.x");
	assert_string_equal(cfg->web.clients[1].secret_file, good_secret);
	portail_config_free(cfg);

	assert_int_equal(parse(GPI "[web]\nlisten = [::1]:443\nhome_url = http://127.0.0.1:8080/\n",
	    &cfg, &err), PORTAIL_OK);
	assert_string_equal(cfg->web.listen, "[::1]:443");
	portail_config_free(cfg);
}

static void
test_minimal_defaults(void **state)
{
	portail_config *cfg;
	portail_error err;

	assert_int_equal(parse(GPI, &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->gpi.n_uris, 1);
	assert_string_equal(cfg->gpi.uris[0], "ldap://127.0.0.1:389");
	assert_string_equal(cfg->gpi.filter, "(&(objectClass=gpiStudent)(gpiGuardianEmail=%s))");
	assert_string_equal(cfg->gpi.email_attribute, "gpiGuardianEmail");
	assert_true(cfg->gpi.all_schools);
	assert_int_equal(cfg->gpi.network_timeout, 3);
	assert_int_equal(cfg->gpi.timeout, 5);
	assert_int_equal(cfg->gpi.grace, 86400);
	assert_int_equal(cfg->gpi.cache_timeout, 60);
	assert_int_equal(cfg->gpi.record_interval, 30);
	assert_false(cfg->gpi.starttls);
	assert_null(cfg->gpi.bind_dn);
	assert_string_equal(cfg->daemon.socket, "/run/portail/portaild.sock");
	assert_int_equal(cfg->daemon.workers, 8);
	assert_int_equal(cfg->daemon.request_timeout, 15);
	assert_int_equal(cfg->daemon.busy_pause_ms, 250);
	assert_int_equal(cfg->daemon.code_request_floor_ms, 5);
	assert_string_equal(cfg->store_path, "/var/lib/portail/portail.db");
	assert_string_equal(cfg->key_file, "/etc/portail/secret.key");
	assert_string_equal(cfg->codes.alphabet, "0123456789abcdef");
	assert_int_equal(cfg->codes.length, 6);
	assert_int_equal(cfg->codes.lifetime, 600);
	assert_int_equal(cfg->codes.max_attempts, 5);
	assert_int_equal(cfg->codes.resend_interval, 30);
	assert_int_equal(cfg->codes.max_per_day, 10);
	assert_int_equal(cfg->password.min_length, 8);
	assert_int_equal(cfg->password.max_length, 128);
	assert_int_equal(cfg->password.argon2_opslimit, 2);
	assert_int_equal(cfg->password.argon2_memlimit_kib, 65536);
	assert_int_equal(cfg->password.max_failures, 10);
	assert_int_equal(cfg->password.lockout, 60);
	assert_int_equal(cfg->password.lockout_max, 3600);
	assert_int_equal(cfg->mail.starttls, PORTAIL_TLS_TRY);
	assert_string_equal(cfg->mail.language, "fr");
	assert_int_equal(cfg->token_lifetime, 90 * 86400);
	assert_int_equal(cfg->token_max_per_account, 50);
	assert_int_equal(cfg->n_providers, 0);
	portail_config_free(cfg);
}

static void
test_full_file(void **state)
{
	static const char text[] =
	    "\xef\xbb\xbf# portail.conf with everything\r\n"
	    "[gpi]\r\n"
	    "uri = ldap://a.example ldaps://b.example:636  ldapi://%2Frun%2Fslapd%2Fldapi\r\n"
	    "base = ou=eleves,dc=exemple,dc=qc,dc=ca\r\n"
	    "bind_dn = cn=portail,dc=exemple,dc=qc,dc=ca\n"
	    "bind_password_file = @GOOD@\n"
	    "\n"
	    "# a filter over three lines\n"
	    "filter = (&(objectClass=gpiStudent)\n"
	    "    (|(gpiGuardianEmail=%s)\n"
	    "\t  (mail=%s)))\n"
	    "subscribed_schools = 751001,751501 751999\n"
	    "  752000\n"
	    "starttls = yes\n"
	    "[daemon]\n"
	    "workers = 4\n"
	    "request_timeout = 12\n"
	    "[provider.google]\n"
	    "kind = google\n"
	    "client_id = 123.apps.googleusercontent.com\n"
	    "client_secret_file = @GOOD@\n"
	    "tokeninfo_url = https://oauth2.googleapis.com/tokeninfo\n"
	    "[provider.ecole]\n"
	    "kind = oidc\n"
	    "client_id = portail\n"
	    "userinfo_url = http://127.0.0.1:9999/me\n"
	    "issuer = https://sso.exemple.qc.ca\n"
	    "jwks_url = https://sso.exemple.qc.ca/jwks\n";
	portail_config *cfg;
	portail_error err;

	assert_int_equal(parse(text, &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->gpi.n_uris, 3);
	assert_string_equal(cfg->gpi.uris[1], "ldaps://b.example:636");
	assert_string_equal(cfg->gpi.base, "ou=eleves,dc=exemple,dc=qc,dc=ca");
	assert_string_equal(cfg->gpi.filter,
	    "(&(objectClass=gpiStudent)(|(gpiGuardianEmail=%s)(mail=%s)))");
	assert_false(cfg->gpi.all_schools);
	assert_string_equal(cfg->gpi.subscribed_schools[0], "751001");
	assert_string_equal(cfg->gpi.subscribed_schools[3], "752000");
	assert_null(cfg->gpi.subscribed_schools[4]);
	assert_true(cfg->gpi.starttls);
	assert_int_equal(cfg->daemon.workers, 4);
	assert_int_equal(cfg->n_providers, 2);
	assert_string_equal(cfg->providers[0].name, "google");
	assert_string_equal(cfg->providers[1].kind, "oidc");
	assert_int_equal(cfg->providers[1].timeout, 5);
	assert_string_equal(cfg->providers[1].issuer, "https://sso.exemple.qc.ca");
	assert_string_equal(cfg->providers[1].jwks_url, "https://sso.exemple.qc.ca/jwks");
	portail_config_free(cfg);
}

static void
test_long_lines(void **state)
{
	/* No line-length limit: a 1 MB comment and a 1 MB value. */
	size_t big = 1024 * 1024;
	char *text = malloc(2 * big + 256), *w = text;
	portail_config *cfg = NULL;
	portail_error err;

	assert_non_null(text);
	w += sprintf(w, "#");
	memset(w, 'x', big);
	w += big;
	w += sprintf(w, "\n" GPI "[mail]\nportal_name = ");
	memset(w, 'y', big);
	w += big;
	*w++ = '\n';
	assert_int_equal(portail_config_parse("big.conf", text, (size_t)(w - text), &cfg, &err),
	    PORTAIL_OK);
	assert_int_equal(strlen(cfg->mail.portal_name), big);
	portail_config_free(cfg);
	free(text);
}

/* [daemon]'s pauses: read at both ends of their ranges. */
static void
test_daemon_pauses(void **state)
{
	portail_config *cfg;
	portail_error err;

	assert_int_equal(parse(GPI "[daemon]\nbusy_pause_ms = 0\ncode_request_floor_ms = 1000\n",
	    &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->daemon.busy_pause_ms, 0);
	assert_int_equal(cfg->daemon.code_request_floor_ms, 1000);
	portail_config_free(cfg);
	assert_int_equal(parse(GPI "[daemon]\nbusy_pause_ms = 5000\ncode_request_floor_ms = 0\n",
	    &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->daemon.busy_pause_ms, 5000);
	assert_int_equal(cfg->daemon.code_request_floor_ms, 0);
	portail_config_free(cfg);
}

/* SMTP credentials are accepted where they cannot leave in clear. */
static void
test_mail_credentials(void **state)
{
	static const char *const good[] = {
		GPI "[mail]\nurl = smtps://relay.exemple.ca\nusername = portail\npassword_file = @GOOD@\n",
		GPI "[mail]\nurl = smtps://relay.exemple.ca\nstarttls = try\nusername = portail\n",
		GPI "[mail]\nurl = smtp://relay.exemple.ca:587\nstarttls = yes\nusername = portail\n"
		    "password_file = @GOOD@\n",
		GPI "[mail]\nurl = smtp://localhost\nstarttls = try\n",
		GPI "[mail]\nurl = smtp://localhost\nstarttls = no\n",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		portail_config *cfg;
		portail_error err;

		if (parse(good[i], &cfg, &err) != PORTAIL_OK)
			fail_msg("case %zu: %s", i, err.message);
		portail_config_free(cfg);
	}
}

static void
test_too_large(void **state)
{
	size_t n = 5 * 1024 * 1024;
	char *text = malloc(n);
	portail_config *cfg = NULL;
	portail_error err;

	assert_non_null(text);
	memset(text, '#', n);
	assert_int_equal(portail_config_parse("huge.conf", text, n, &cfg, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "huge.conf: larger than"));
	free(text);
}

static void
test_load_errors(void **state)
{
	portail_config *cfg = NULL;
	portail_error err;
	char path[512];

	assert_int_equal(portail_config_load("/nonexistent/portail.conf", &cfg, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "/nonexistent/portail.conf: No such file"));
	assert_null(cfg);

	snprintf(path, sizeof(path), "%s/good.conf", dir);
	write_file(path, GPI "[daemon]\nworkers = 3\n", 0644);
	assert_int_equal(portail_config_load(path, &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->daemon.workers, 3);
	assert_string_equal(cfg->path, path);
	portail_config_free(cfg);

	/* PORTAIL_CONFIG names the default */
	setenv("PORTAIL_CONFIG", path, 1);
	assert_string_equal(portail_config_default_path(), path);
	assert_int_equal(portail_config_load(NULL, &cfg, &err), PORTAIL_OK);
	portail_config_free(cfg);
	unsetenv("PORTAIL_CONFIG");
	assert_string_equal(portail_config_default_path(), PORTAIL_DEFAULT_CONFIG);
}

static void
test_example_file(void **state)
{
	char path[1024];
	portail_config *cfg = NULL;
	portail_error err;
	const char *top = getenv("top_srcdir");

	snprintf(path, sizeof(path), "%s/examples/portail.conf", top ? top : ".");
	if (portail_config_load(path, &cfg, &err) != PORTAIL_OK)
		fail_msg("%s", err.message);
	assert_false(cfg->gpi.all_schools);
	portail_config_free(cfg);
}

static void
test_secret_read(void **state)
{
	char *s = NULL;
	portail_error err;
	char path[512];

	assert_int_equal(portail_secret_read(good_secret, &s, &err), PORTAIL_OK);
	assert_string_equal(s, "s3cret");
	portail_secret_free(s);
	s = NULL;
	assert_int_equal(portail_secret_read(open_secret, &s, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_null(s);
	snprintf(path, sizeof(path), "%s/empty.pw", dir);
	write_file(path, "\n", 0600);
	assert_int_equal(portail_secret_read(path, &s, &err), PORTAIL_ERR_CONFIG);
	assert_int_equal(portail_secret_read(dir, &s, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "not a regular file"));
	assert_int_equal(portail_secret_read("/nonexistent/pw", &s, &err), PORTAIL_ERR_IO);
	snprintf(path, sizeof(path), "%s/crlf.pw", dir);
	write_file(path, "abc\r\nignored\n", 0600);
	assert_int_equal(portail_secret_read(path, &s, &err), PORTAIL_OK);
	assert_string_equal(s, "abc");
	portail_secret_free(s);
	portail_secret_free(NULL);
}

static int
setup(void **state)
{
	const char *base = getenv("PORTAIL_TEST_TMP");

	snprintf(dir, sizeof(dir), "%s/config.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(good_secret, sizeof(good_secret), "%s/good.pw", dir);
	snprintf(open_secret, sizeof(open_secret), "%s/open.pw", dir);
	write_file(good_secret, "s3cret\n", 0600);
	write_file(open_secret, "s3cret\n", 0644);
	return 0;
}

/* [schools]: CODE = name, in file order; the web's limits and max_sessions. */
static void
test_schools(void **state)
{
	static const struct {
		const char *text, *message;
	} bad_schools[] = {
		{ GPI "[schools]\n751001 = A\n751001 = B\n", "test.conf:6: [schools]: '751001' set twice (first at line 5)" },
		{ GPI "[schools]\n751001 = A\x01" "B\n", "control character 0x01" },
		{ GPI "[schools]\n751001 = \xc3\x28\n", "not valid UTF-8" },
		{ GPI "[schools]\n751001 = A\tB\n", "the name is not UTF-8 text without control characters" },
		{ GPI "[schools]\nÉcole = A\n", "is not a key name" },
		{ GPI "[schools]\n751001 =\n", "a name has 1 to 200 bytes" },
		{ GPI "[schools]\n[schools]\n", "[schools] appears twice" },
		{ GPI "[daemon]\nclient_window = 5\n", "client_window" },
		{ GPI "[daemon]\ncode_requests_per_minute = 100001\n", "code_requests_per_minute" },
		{ GPI "[daemon]\ncode_requests_per_minute = -1\n", "code_requests_per_minute" },
		{ GPI "[web]\nmax_sessions = 1001\n", "max_sessions" },
		{ GPI "[web]\nauth_cache_ms = 10001\n", "auth_cache_ms" },
		{ GPI "[web]\nauth_cache_ms = -1\n", "auth_cache_ms" },
	};
	portail_config *cfg;
	portail_error err;
	char big[400];

	assert_int_equal(parse(GPI, &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->n_schools, 0);
	assert_null(cfg->schools);
	assert_int_equal(cfg->web.max_sessions, 10);
	assert_int_equal(cfg->daemon.client_attempts, 100);
	assert_int_equal(cfg->daemon.client_window, 600);
	assert_int_equal(cfg->daemon.code_requests_per_minute, 600);
	portail_config_free(cfg);
	assert_int_equal(parse(GPI "[schools]\n751001 = École primaire des Érables\n"
	    "# a comment\n751501 =   École secondaire du Boisé  \n[web]\nmax_sessions = 0\n"
	    "[daemon]\nclient_attempts = 0\ncode_requests_per_minute = 0\n", &cfg, &err), PORTAIL_OK);
	assert_int_equal(cfg->n_schools, 2);
	assert_string_equal(cfg->schools[0].code, "751001");
	assert_string_equal(cfg->schools[0].name, "École primaire des Érables");
	assert_string_equal(cfg->schools[1].code, "751501");
	assert_string_equal(cfg->schools[1].name, "École secondaire du Boisé");
	assert_int_equal(cfg->web.max_sessions, 0);
	assert_int_equal(cfg->daemon.client_attempts, 0);
	assert_int_equal(cfg->daemon.code_requests_per_minute, 0);
	portail_config_free(cfg);
	for (size_t i = 0; i < sizeof(bad_schools) / sizeof(bad_schools[0]); i++) {
		cfg = NULL;
		if (parse(bad_schools[i].text, &cfg, &err) != PORTAIL_ERR_CONFIG ||
		    strstr(err.message, bad_schools[i].message) == NULL)
			fail_msg("case %zu: got '%s', want '%s'", i, err.message, bad_schools[i].message);
		assert_null(cfg);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big, GPI "[schools]\n1 = ", strlen(GPI "[schools]\n1 = "));
	big[strlen(GPI "[schools]\n1 = ") + 201] = '\0';
	assert_int_equal(parse(big, &cfg, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "a name has 1 to 200 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_daemon_pauses),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_store_section),
		cmocka_unit_test(test_mail_credentials),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_secret_read),
		cmocka_unit_test(test_web_section),
		cmocka_unit_test(test_schools),
	};

	return cmocka_run_group_tests_name("config", tests, setup, NULL);
}
