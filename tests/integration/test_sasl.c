/*
 * test_sasl.c — the OAUTHBEARER and XOAUTH2 mechanisms of sasl_portail,
 * loaded by a real libsasl2 (client and server in this process) from the
 * build directory, against a real portaild, slapd and SMTP sink.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sasl/sasl.h>

#include "fixture.h"
#include "portail-client.h"

#define PARENT "Chantal.Gagnon@exemple.ca"
/* the identity is the address on record (DESIGN §2, address identity) */
#define RECORD "chantal.gagnon@exemple.ca"
#define GOOD "Quatre-chevaux-bleus-dansent"

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
#define EQ_PARENT "pere=mere@exemple.ca"

static char dir[600], conf[700], sink[700], sock[700], token[64], other_token[64], eq_token[64];
static const char *timeout_opt = "5000";
static char logged[4096];

/* libsasl2's log, where the plugin's utils->log lines go */
static int
log_cb(void *context, int level, const char *message)
{
	(void)context;
	(void)level;
	if (message != NULL && strlen(logged) + strlen(message) + 2 < sizeof(logged)) {
		strcat(logged, message);
		strcat(logged, "\n");
	}
	return SASL_OK;
}

static int
getopt_cb(void *context, const char *plugin, const char *option, const char **result,
    unsigned *len)
{
	(void)context;
	(void)plugin;
	if (strcmp(option, "portail_socket") == 0)
		*result = sock;
	else if (strcmp(option, "mech_list") == 0)
		*result = "OAUTHBEARER XOAUTH2";
	else if (strcmp(option, "portail_timeout") == 0)
		*result = timeout_opt;
	else
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

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

/* A parent signs up (code from the mail) and gets a token from root. */
static void
parent_with_token(const char *email, const char *mailbox, char *tok)
{
	json_t *a = NULL;
	char code[8], *m;

	if (call(json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", email, "purpose",
	    "signup"), NULL) != PORTAIL_OK || (m = fx_wait_mail(sink, mailbox, 1)) == NULL ||
	    !fx_code_in(m, code))
		exit(99);
	free(m);
	if (call(json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email", email, "purpose",
	    "signup", "code", code), &a) != PORTAIL_OK)
		exit(99);
	if (call(json_pack("{s:s, s:s, s:s, s:s}", "op", "account.create", "ticket",
	    json_string_value(json_object_get(a, "ticket")), "password", GOOD, "confirmation", GOOD),
	    NULL) != PORTAIL_OK)
		exit(99);
	json_decref(a);
	a = NULL;
	if (call(json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email", email, "label",
	    "Courriel"), &a) != PORTAIL_OK)
		exit(99);
	snprintf(tok, 64, "%s", json_string_value(json_object_get(a, "token")));
	json_decref(a);
}

static int
group_setup(void **state)
{
	static sasl_callback_t callbacks[] = {
		{ SASL_CB_GETOPT, (int (*)(void))(uintptr_t)getopt_cb, NULL },
		{ SASL_CB_LOG, (int (*)(void))(uintptr_t)log_cb, NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	/* a parent whose address holds '=' (RFC 5321 allows it), on record */
	static const char eq_ldif[] =
	    "dn: uid=1000900,ou=eleves," FX_BASE "\n"
	    "objectClass: inetOrgPerson\nobjectClass: gpiStudent\nuid: 1000900\n"
	    "cn: Zoé Égal\nsn: Égal\ngpiStudentId: 1000900\ngpiSchoolCode: 751001\n"
	    "gpiGuardianEmail: " EQ_PARENT "\n";
	char text[4096], cmd[1200], port[32], plugdir[1024];
	FILE *f;
	int st = 0;

	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("sasl"));
	fx_slapd_start(&slapd, fx_write(dir, "eq.ldif", eq_ldif, 0644));
	snprintf(sink, sizeof(sink), "%s/sink", dir);
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", dir);
	snprintf(cmd, sizeof(cmd), "'%s' start '%s' >/dev/null", fx_src("tests/fixtures/smtp-sink.sh"), sink);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/port", sink);
	if ((f = fopen(cmd, "r")) == NULL || fgets(port, sizeof(port), f) == NULL)
		return -1;
	fclose(f);
	port[strcspn(port, "\n")] = '\0';
	snprintf(text, sizeof(text),
	    "[gpi]\nuri = %s\nbase = " FX_BASE "\nbind_dn = " FX_BIND_DN "\n"
	    "bind_password_file = %s\nsubscribed_schools = 751001 751501\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\n"
	    "[store]\npath = %s/state/portail.db\n[security]\nkey_file = %s/etc/secret.key\n"
	    "[codes]\nresend_interval = 0\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n"
	    "[mail]\nurl = smtp://127.0.0.1:%s\nstarttls = no\ntimeout = 3\n",
	    slapd.uri, slapd.bind_pw_file, sock, dir, dir, port);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf) || !fx_daemon_start(&daemon_, dir, conf, sock, &st))
		return -1;
	parent_with_token(PARENT, "chantal.gagnon@exemple.ca", token);
	/* the code goes to the address as the record spells it */
	parent_with_token("marc.roy@exemple.ca", "Marc.Roy@Exemple.CA", other_token);
	parent_with_token(EQ_PARENT, EQ_PARENT, eq_token);

	snprintf(plugdir, sizeof(plugdir), "%s/sasl_portail/.libs", getenv("top_builddir"));
	if (sasl_set_path(SASL_PATH_TYPE_PLUGIN, plugdir) != SASL_OK ||
	    sasl_server_init(callbacks, "portail-test") != SASL_OK ||
	    sasl_client_init(callbacks) != SASL_OK)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[1200];

	sasl_server_done();
	sasl_client_done();
	fx_daemon_stop(&daemon_);
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", fx_src("tests/fixtures/smtp-sink.sh"), sink);
	if (system(cmd) != 0)
		return -1;
	fx_slapd_stop(&slapd);
	return 0;
}

/* ---- a client's callbacks: the address and the token ---------------------------- */

struct creds {
	const char *user;
	const char *token;
	sasl_secret_t *secret;
};

static int
get_user(void *context, int id, const char **result, unsigned *len)
{
	struct creds *c = context;

	if (id != SASL_CB_AUTHNAME && id != SASL_CB_USER)
		return SASL_FAIL;
	*result = c->user;
	if (len != NULL)
		*len = (unsigned)strlen(c->user);
	return SASL_OK;
}

static int
get_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
	struct creds *c = context;
	size_t n = strlen(c->token);

	(void)conn;
	(void)id;
	c->secret = malloc(sizeof(sasl_secret_t) + n);
	c->secret->len = n;
	memcpy(c->secret->data, c->token, n + 1);
	*psecret = c->secret;
	return SASL_OK;
}

static sasl_conn_t *
server(void)
{
	sasl_conn_t *s = NULL;

	assert_int_equal(sasl_server_new("smtp", "localhost", NULL, NULL, NULL, NULL, 0, &s), SASL_OK);
	return s;
}

/*
 * A whole exchange through libsasl2 on both ends; returns the server's
 * final result and, on success, the authenticated name in user.
 */
enum names { BOTH, AUTHNAME_ONLY, USER_ONLY };

static int
exchange_with(enum names names, const char *mech, const char *user, const char *tok, char *who,
    size_t wholen)
{
	struct creds cr = { user, tok, NULL };
	sasl_callback_t cbs[] = {
		{ SASL_CB_PASS, (int (*)(void))(uintptr_t)get_pass, &cr },
		{ SASL_CB_AUTHNAME, (int (*)(void))(uintptr_t)get_user, &cr },
		{ SASL_CB_USER, (int (*)(void))(uintptr_t)get_user, &cr },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	if (names == AUTHNAME_ONLY)
		cbs[2].id = SASL_CB_LIST_END;
	else if (names == USER_ONLY)
		cbs[1].id = SASL_CB_USER;       /* listed twice: the first one is used */
	sasl_conn_t *c = NULL, *s = server();
	const char *out = NULL, *sout = NULL, *chosen = NULL;
	unsigned outlen = 0, soutlen = 0;
	int rc;

	assert_int_equal(sasl_client_new("smtp", "localhost", NULL, NULL, cbs, 0, &c), SASL_OK);
	rc = sasl_client_start(c, mech, NULL, &out, &outlen, &chosen);
	if (rc != SASL_OK && rc != SASL_CONTINUE)
		fail_msg("client start: %d %s", rc, sasl_errdetail(c));
	assert_string_equal(chosen, mech);
	rc = sasl_server_start(s, mech, out, outlen, &sout, &soutlen);
	while (rc == SASL_CONTINUE) {
		int crc = sasl_client_step(c, sout, soutlen, NULL, &out, &outlen);

		if (crc != SASL_OK && crc != SASL_CONTINUE)
			fail_msg("client step: %d %s", crc, sasl_errdetail(c));
		rc = sasl_server_step(s, out, outlen, &sout, &soutlen);
	}
	if (rc == SASL_OK && who != NULL) {
		const void *name = NULL;

		assert_int_equal(sasl_getprop(s, SASL_USERNAME, &name), SASL_OK);
		snprintf(who, wholen, "%s", (const char *)name);
	}
	sasl_dispose(&c);
	sasl_dispose(&s);
	free(cr.secret);
	return rc;
}

static int
exchange(const char *mech, const char *user, const char *tok, char *who, size_t wholen)
{
	return exchange_with(BOTH, mech, user, tok, who, wholen);
}

/* The server alone, fed raw bytes. */
static int
raw(const char *mech, const char *msg, unsigned len, const char **challenge)
{
	sasl_conn_t *s = server();
	const char *sout = NULL;
	unsigned soutlen = 0;
	int rc = sasl_server_start(s, mech, msg, len, &sout, &soutlen);

	if (challenge != NULL)
		*challenge = rc == SASL_CONTINUE && sout ? strndup(sout, soutlen) : NULL;
	sasl_dispose(&s);
	return rc;
}

/* ---- the tests --------------------------------------------------------------------- */

static void
test_mechanisms_offered(void **state)
{
	sasl_conn_t *s = server();
	const char *list = NULL;
	unsigned len = 0;
	int count = 0;

	assert_int_equal(sasl_listmech(s, NULL, "", " ", "", &list, &len, &count), SASL_OK);
	assert_non_null(strstr(list, "OAUTHBEARER"));
	assert_non_null(strstr(list, "XOAUTH2"));
	sasl_dispose(&s);
}

static void
test_valid_token_both_mechs(void **state)
{
	char who[300];

	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, who, sizeof(who)), SASL_OK);
	/* the account's address: as the GPI record spells it (signed up as PARENT) */
	assert_string_equal(who, "chantal.gagnon@exemple.ca");
	assert_int_equal(exchange("XOAUTH2", "chantal.gagnon@exemple.ca", token, who, sizeof(who)), SASL_OK);
	assert_string_equal(who, "chantal.gagnon@exemple.ca");
}

static void
test_refused_tokens(void **state)
{
	const char *challenge = NULL;
	char msg[300];
	int n;

	/* another parent's token, a forged one, one for another authzid */
	assert_int_equal(exchange("OAUTHBEARER", PARENT, other_token, NULL, 0), SASL_BADAUTH);
	assert_int_equal(exchange("OAUTHBEARER", PARENT, "ptk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    NULL, 0), SASL_BADAUTH);
	assert_int_equal(exchange("XOAUTH2", "marc.roy@exemple.ca", token, NULL, 0), SASL_BADAUTH);
	/* RFC 7628's error challenge */
	n = snprintf(msg, sizeof(msg), "n,a=marc.roy@exemple.ca,\x01" "auth=Bearer %s\x01\x01", token);
	assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, &challenge), SASL_CONTINUE);
	assert_string_equal(challenge, "{\"status\":\"invalid_token\"}");
	free((void *)(uintptr_t)challenge);
	/* no authzid at all: the token says who */
	n = snprintf(msg, sizeof(msg), "n,,\x01host=mail.exemple.ca\x01port=587\x01" "auth=Bearer %s\x01\x01",
	    token);
	assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, NULL), SASL_OK);
}

static void
test_revoked_and_disabled(void **state)
{
	char tok[64];
	json_t *a = NULL;

	assert_int_equal(call(json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email",
	    "marc.roy@exemple.ca", "label", "x"), &a), PORTAIL_OK);
	snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(a, "token")));
	json_decref(a);
	assert_int_equal(exchange("OAUTHBEARER", "marc.roy@exemple.ca", tok, NULL, 0), SASL_OK);
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.disable", "email",
	    "marc.roy@exemple.ca"), NULL), PORTAIL_OK);
	assert_int_equal(exchange("OAUTHBEARER", "marc.roy@exemple.ca", tok, NULL, 0), SASL_BADAUTH);
	assert_int_equal(call(json_pack("{s:s, s:s}", "op", "account.enable", "email",
	    "marc.roy@exemple.ca"), NULL), PORTAIL_OK);
	/* disabling revoked it for good */
	assert_int_equal(exchange("OAUTHBEARER", "marc.roy@exemple.ca", tok, NULL, 0), SASL_BADAUTH);
}

static void
test_malformed_messages(void **state)
{
	static const struct {
		const char *mech;
		const char *msg;
		unsigned len;
	} bad[] = {
		{ "OAUTHBEARER", "garbage", 7 },
		{ "OAUTHBEARER", "n,,auth=Bearer x", 16 },                  /* no \x01 */
		{ "OAUTHBEARER", "n,,\x01host=x\x01\x01", 12 },             /* no auth= */
		{ "OAUTHBEARER", "n,,\x01" "auth=Basic eDp5\x01\x01", 20 }, /* another scheme */
		{ "OAUTHBEARER", "n,,\x01" "auth=Bearer ab\0cd\x01\x01", 20 }, /* embedded NUL */
		{ "OAUTHBEARER", "p=tls-unique,,\x01" "auth=Bearer x\x01\x01", 29 }, /* channel binding */
		{ "OAUTHBEARER", "n,a=x=41,\x01" "auth=Bearer x\x01\x01", 25 }, /* bad saslname escape */
		{ "OAUTHBEARER", "n,,\x01" "auth=Bearer x\x01", 18 },       /* not terminated */
		{ "OAUTHBEARER", "n,,\x01" "auth=Bearer x\x01" "auth=Bearer y\x01\x01", 33 },
		{ "XOAUTH2", "auth=Bearer x\x01\x01", 15 },                 /* no user= */
		{ "XOAUTH2", "user=a@b.ca\x01" "auth=Bearer x", 24 },       /* not terminated */
	};
	char *big = malloc(65536);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = raw(bad[i].mech, bad[i].msg, bad[i].len, NULL);

		if (rc != SASL_BADPROT)
			fail_msg("case %zu: %d", i, rc);
	}
	memset(big, 'a', 65536);
	assert_int_equal(raw("OAUTHBEARER", big, 65536, NULL), SASL_BADPROT);
	assert_int_equal(raw("XOAUTH2", big, 65536, NULL), SASL_BADPROT);
	free(big);
}

/*
 * Issue 13 item 7: what the client can fix is SASL_BADPROT, logged as a
 * malformed message — never SASL_UNAVAIL and "portaild unavailable": an
 * over-long token, one that is not a b64token, an authzid with CR/LF or
 * a control character, one that is not UTF-8 (it used to be dropped from
 * the request, the token then verified for whoever it names).
 */
static void
test_malformed_token_or_authzid(void **state)
{
	char *big = malloc(4001), *msg = malloc(4200);
	static const char *const bad_authzid[] = {
		"chantal.gagnon@exemple.ca\r\n", "chantal.gagnon@exemple.ca\nX-Evil: 1",
		"chantal\tgagnon@exemple.ca", "chantal.gagnon@exemple.c\xe9",
	};
	int n;

	memset(big, 'A', 4000);
	memcpy(big, "ptk_", 4);
	big[4000] = '\0';
	for (int m = 0; m < 2; m++) {
		logged[0] = '\0';
		n = m == 0 ? snprintf(msg, 4200, "n,a=" PARENT ",\x01" "auth=Bearer %s\x01\x01", big) :
		    snprintf(msg, 4200, "user=" PARENT "\x01" "auth=Bearer %s\x01\x01", big);
		assert_true(n > 4000 && n < 4096);
		assert_int_equal(raw(m == 0 ? "OAUTHBEARER" : "XOAUTH2", msg, (unsigned)n, NULL),
		    SASL_BADPROT);
		assert_non_null(strstr(logged, "token longer than 128 bytes"));
		assert_null(strstr(logged, "unavailable"));
		/* not RFC 6750's b64token: a blank, a tab, a quote inside */
		n = snprintf(msg, 4200, "n,,\x01" "auth=Bearer %.10s\t%s\x01\x01", token, token + 10);
		assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, NULL), SASL_BADPROT);
		n = snprintf(msg, 4200, "user=" PARENT "\x01" "auth=Bearer %.10s\"%s\x01\x01", token,
		    token + 10);
		assert_int_equal(raw("XOAUTH2", msg, (unsigned)n, NULL), SASL_BADPROT);
	}
	for (size_t i = 0; i < sizeof(bad_authzid) / sizeof(bad_authzid[0]); i++) {
		logged[0] = '\0';
		n = snprintf(msg, 4200, "n,a=%s,\x01" "auth=Bearer %s\x01\x01", bad_authzid[i], token);
		if (raw("OAUTHBEARER", msg, (unsigned)n, NULL) != SASL_BADPROT)
			fail_msg("OAUTHBEARER authzid %zu: %s", i, logged);
		assert_non_null(strstr(logged, "malformed OAUTHBEARER message: authzid"));
		assert_null(strstr(logged, "unavailable"));
		n = snprintf(msg, 4200, "user=%s\x01" "auth=Bearer %s\x01\x01", bad_authzid[i], token);
		if (raw("XOAUTH2", msg, (unsigned)n, NULL) != SASL_BADPROT)
			fail_msg("XOAUTH2 authzid %zu: %s", i, logged);
	}
	/* an authzid longer than any address */
	memset(big, 'a', 300);
	memcpy(big + 289, "@exemple.ca", 12);
	n = snprintf(msg, 4200, "n,a=%s,\x01" "auth=Bearer %s\x01\x01", big, token);
	assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, NULL), SASL_BADPROT);
	/* the client side will not send an address it cannot encode */
	{
		struct creds cr = { "chantal.gagnon@exemple.ca\r\n", token, NULL };
		sasl_callback_t cbs[] = {
			{ SASL_CB_PASS, (int (*)(void))(uintptr_t)get_pass, &cr },
			{ SASL_CB_AUTHNAME, (int (*)(void))(uintptr_t)get_user, &cr },
			{ SASL_CB_LIST_END, NULL, NULL },
		};
		sasl_conn_t *c = NULL;
		const char *out = NULL, *chosen = NULL;
		unsigned outlen = 0;

		assert_int_equal(sasl_client_new("smtp", "localhost", NULL, NULL, cbs, 0, &c), SASL_OK);
		assert_int_equal(sasl_client_start(c, "OAUTHBEARER", NULL, &out, &outlen, &chosen),
		    SASL_BADPARAM);
		sasl_dispose(&c);
		free(cr.secret);
	}
	/* and a well-formed one still works */
	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
	free(big);
	free(msg);
}

/* Issue 11 item 8: RFC 5801's "=3D" in the GS2 authzid, both ways. */
static void
test_authzid_escaped(void **state)
{
	char who[300], msg[300];
	int n;

	assert_int_equal(exchange("OAUTHBEARER", EQ_PARENT, eq_token, who, sizeof(who)), SASL_OK);
	assert_string_equal(who, EQ_PARENT);
	assert_int_equal(exchange("XOAUTH2", EQ_PARENT, eq_token, who, sizeof(who)), SASL_OK);
	assert_string_equal(who, EQ_PARENT);
	/* the server decodes what another client (escaping right) sends */
	n = snprintf(msg, sizeof(msg), "n,a=pere=3Dmere@exemple.ca,\x01" "auth=Bearer %s\x01\x01",
	    eq_token);
	assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, NULL), SASL_OK);
	/* and "=2C" is a ',' (no address has one: refused, not garbled) */
	n = snprintf(msg, sizeof(msg), "n,a=pere=2Cmere@exemple.ca,\x01" "auth=Bearer %s\x01\x01",
	    eq_token);
	assert_int_equal(raw("OAUTHBEARER", msg, (unsigned)n, NULL), SASL_CONTINUE);
}

/* Issue 11 item 8: imtest -u, curl: the address from SASL_CB_USER alone. */
static void
test_user_callback_only(void **state)
{
	char who[300];

	/* libsasl2 answers SASL_CB_AUTHNAME from $USER when the client does not */
	setenv("USER", "nobody-at-all", 1);
	assert_int_equal(exchange_with(USER_ONLY, "OAUTHBEARER", PARENT, token, who, sizeof(who)),
	    SASL_OK);
	assert_string_equal(who, RECORD);
	assert_int_equal(exchange_with(USER_ONLY, "XOAUTH2", PARENT, token, who, sizeof(who)),
	    SASL_OK);
	assert_string_equal(who, RECORD);
	assert_int_equal(exchange_with(AUTHNAME_ONLY, "OAUTHBEARER", PARENT, token, who,
	    sizeof(who)), SASL_OK);
	assert_string_equal(who, RECORD);
}

/* Issue 11 item 8: portail_timeout is parsed with a range check, not atoi. */
static void
test_timeout_option_checked(void **state)
{
	static const char *bad[] = { "12abc", "-5", "0", "99999999999", " 50", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logged[0] = '\0';
		timeout_opt = bad[i];
		/* the default applies: the exchange works */
		assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
		if (strstr(logged, "portail_timeout must be a whole number") == NULL)
			fail_msg("\"%s\" accepted silently", bad[i]);
	}
	timeout_opt = "5000";
	logged[0] = '\0';
	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
	assert_null(strstr(logged, "portail_timeout"));
}

static void
test_daemon_down_is_unavail(void **state)
{
	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_UNAVAIL);
	assert_int_equal(exchange("XOAUTH2", PARENT, token, NULL, 0), SASL_UNAVAIL);
	{
		int st = 0;

		assert_true(fx_daemon_start(&daemon_, dir, conf, sock, &st));
	}
	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
}

/* Connections portaild has accepted since it started (this call's included). */
static long long
connections_total(void)
{
	json_t *a = NULL;
	long long n;

	assert_int_equal(call(json_pack("{s:s}", "op", "status"), &a), PORTAIL_OK);
	n = json_integer_value(json_object_get(json_object_get(a, "connections"), "total"));
	json_decref(a);
	return n;
}

static void
test_connections_kept(void **state)
{
	long long before, after;
	int st = 0;

	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
	before = connections_total();
	for (int i = 0; i < 20; i++) {
		assert_int_equal(exchange(i % 2 ? "XOAUTH2" : "OAUTHBEARER", PARENT, token, NULL, 0),
		    SASL_OK);
		assert_int_equal(exchange("OAUTHBEARER", PARENT, other_token, NULL, 0), SASL_BADAUTH);
	}
	after = connections_total();
	/* 40 exchanges on the kept connections: only the status call connected */
	assert_true(after - before <= 1 + 2);
	/* a kept connection the daemon closed (restart) is reopened, not an outage */
	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	assert_true(fx_daemon_start(&daemon_, dir, conf, sock, &st));
	assert_int_equal(exchange("OAUTHBEARER", PARENT, token, NULL, 0), SASL_OK);
	assert_int_equal(exchange("XOAUTH2", PARENT, token, NULL, 0), SASL_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechanisms_offered),
		cmocka_unit_test(test_valid_token_both_mechs),
		cmocka_unit_test(test_refused_tokens),
		cmocka_unit_test(test_revoked_and_disabled),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_malformed_token_or_authzid),
		cmocka_unit_test(test_authzid_escaped),
		cmocka_unit_test(test_user_callback_only),
		cmocka_unit_test(test_timeout_option_checked),
		cmocka_unit_test(test_daemon_down_is_unavail),
		cmocka_unit_test(test_connections_kept),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("sasl", tests, group_setup, group_teardown);
}
