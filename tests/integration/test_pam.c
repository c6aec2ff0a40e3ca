/*
 * test_pam.c — pam_portail.so through libpam (pam_wrapper + libpamtest),
 * against a real portaild, slapd and SMTP sink. tests/pam.test writes the
 * service files and runs this under pam_wrapper.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpamtest.h>
#include <security/pam_appl.h>

#include "fixture.h"
#include "portail-client.h"

#define GOOD "Quatre-chevaux-bleus-dansent"
#define OTHER "Un-ciel-de-mars-sur-Gaspe"

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
static char dir[600], conf[700], sink[700];
static const char *sock;

static int
daemon_start(void)
{
	int st = 0;

	if (!fx_daemon_start(&daemon_, dir, conf, sock, &st)) {
		fprintf(stderr, "portaild exited %d\n", st);
		return -1;
	}
	return 0;
}

static int
group_setup(void **state)
{
	char text[4096], cmd[1200], port[32];
	FILE *f;

	sock = getenv("PAM_TEST_SOCKET");
	if (sock == NULL)
		return -1;
	fx_slapd_start(&slapd, NULL);
	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("pam"));
	snprintf(sink, sizeof(sink), "%s/sink", dir);
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
	    "timeout = 2\nnetwork_timeout = 1\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\n"
	    "[store]\npath = %s/state/portail.db\n"
	    "[security]\nkey_file = %s/etc/secret.key\n"
	    "[codes]\nresend_interval = 0\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\nmax_failures = 3\n"
	    "[mail]\nurl = smtp://127.0.0.1:%s\nstarttls = no\ntimeout = 3\n",
	    slapd.uri, slapd.bind_pw_file, sock, dir, dir, port);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf))
		return -1;
	return daemon_start();
}

static int
group_teardown(void **state)
{
	char cmd[1200];

	fx_daemon_stop(&daemon_);
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s'", fx_src("tests/fixtures/smtp-sink.sh"), sink);
	if (system(cmd) != 0)
		return -1;
	fx_slapd_stop(&slapd);
	return 0;
}

/* ---- a conversation that reads codes from the mailbox ----------------------------- */

struct dialog {
	const char *user;               /* whose mailbox */
	const char *const *secrets;     /* answers to echo-off prompts, in order */
	int n_secret;
	const char *yes;                /* answer to (o/n) questions */
	int mails_seen;                 /* codes already read */
	char said[4096];                /* every message and prompt, for the asserts */
};

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct dialog *d = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *text = msg[i]->msg ? msg[i]->msg : "";

		strncat(d->said, text, sizeof(d->said) - strlen(d->said) - 2);
		strcat(d->said, "\n");
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (d->n_secret == 0)
				goto fail;
			r[i].resp = strdup(*d->secrets++);
			d->n_secret--;
			break;
		case PAM_PROMPT_ECHO_ON:
			if (strstr(text, "(o/n)") || strstr(text, "(y/n)")) {
				r[i].resp = strdup(d->yes ? d->yes : "n");
			} else if (strstr(text, "Code") || strstr(text, "code")) {
				char code[8], *m = fx_wait_mail(sink, d->user, ++d->mails_seen);

				while (m != NULL && !fx_code_in(m, code)) {
					free(m);
					m = fx_wait_mail(sink, d->user, ++d->mails_seen);
				}
				if (m == NULL)
					goto fail;
				free(m);
				r[i].resp = strdup(code);
			} else {
				goto fail;
			}
			break;
		default:
			break;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

static enum pamtest_err
run(const char *service, const char *user, struct dialog *d, struct pam_testcase *tests, size_t n)
{
	return _pamtest_conv(service, user, conv, d, tests, n, NULL);
}

#define RUN(service, user, d, tests) run(service, user, d, tests, sizeof(tests) / sizeof(tests[0]))

static portail_status
admin(const char *op, const char *email)
{
	portail_client *c = NULL;
	json_t *r = json_pack("{s:s, s:s}", "op", op, "email", email);
	portail_status s;

	portail_client_new(sock, 0, &c);
	s = portail_client_call(c, r, NULL, NULL);
	json_decref(r);
	portail_client_free(c);
	return s;
}

/* Signs a parent up through PAM's enroll dialog (the code read from the mail
 * to mailbox: the address as the GPI record spells it). */
static void
enroll_to(const char *user, const char *mailbox, const char *pw)
{
	const char *secrets[] = { "anything", pw, pw };
	struct dialog d = { .user = mailbox, .secrets = secrets, .n_secret = 3, .yes = "o" };
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
	};

	d.mails_seen = fx_count_mail(sink, mailbox);
	if (RUN("portail-enroll", user, &d, tests) != PAMTEST_ERR_OK)
		fail_msg("enroll %s: %d %d\n%s", user, tests[0].op_rv, tests[1].op_rv, d.said);
}

static void
enroll(const char *user, const char *pw)
{
	enroll_to(user, user, pw);
}

/* ---- the tests ----------------------------------------------------------------------- */

static void
test_dlopen(void **state)
{
	char path[1024];
	void *h;

	snprintf(path, sizeof(path), "%s/pam_portail/.libs/pam_portail.so", getenv("top_builddir"));
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		fail_msg("%s", dlerror());
	assert_non_null(dlsym(h, "pam_sm_authenticate"));
	assert_non_null(dlsym(h, "pam_sm_acct_mgmt"));
	assert_non_null(dlsym(h, "pam_sm_chauthtok"));
	assert_null(dlsym(h, "portail_client_new"));    /* nothing but pam_sm_* */
	dlclose(h);
}

static void
test_enroll_then_sign_in(void **state)
{
	const char *secrets[] = { GOOD };
	struct dialog d = { .secrets = secrets, .n_secret = 1 };
	struct pam_testcase tests[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
		pam_test(PAMTEST_SETCRED, PAM_SUCCESS),
		pam_test(PAMTEST_OPEN_SESSION, PAM_SUCCESS),
	};

	enroll("chantal.gagnon@exemple.ca", GOOD);
	/* PAM_USER as the parent types it, never rewritten */
	assert_int_equal(RUN("portail", "Chantal.Gagnon@Exemple.CA", &d, tests), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "Mot de passe : "));
}

/* sshd's stand-in for what a user without a passwd entry typed
 * (fake_password: the pattern repeated to the typed length) is refused
 * without asking portaild: max_failures of them lock nothing. */
static void
test_sshd_substitute(void **state)
{
	const char *secrets[] = { "\b\n\r\177INCORRECT\b\n\r\177INC", "\b\n\r\177I",
	    "\b\n\r\177INCORRECT", "\b\n\r\177INCORRECT\b" };
	const char *good[] = { GOOD };
	struct dialog d = { .secrets = secrets, .n_secret = 4 };
	struct dialog g = { .secrets = good, .n_secret = 1 };
	struct pam_testcase refused[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
	};
	struct pam_testcase ok[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	};

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, refused), PAMTEST_ERR_OK);
	/* more than max_failures (3) substitutes, and the account is not locked */
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &g, ok), PAMTEST_ERR_OK);
}

static void
test_wrong_and_unknown(void **state)
{
	const char *wrong[] = { "mauvais" };
	struct dialog d = { .secrets = wrong, .n_secret = 1 };
	struct pam_testcase t1[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };
	struct pam_testcase t2[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_USER_UNKNOWN) };
	struct pam_testcase t3[] = { pam_test(PAMTEST_ACCOUNT, PAM_USER_UNKNOWN) };

	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t1), PAMTEST_ERR_OK);
	/* a wrong password says nothing more than PAM_AUTH_ERR */
	assert_null(strstr(d.said, "incorrect"));
	d.secrets = wrong;
	d.n_secret = 1;
	assert_int_equal(RUN("portail", "personne@exemple.ca", &d, t2), PAMTEST_ERR_OK);
	assert_int_equal(RUN("portail", "personne@exemple.ca", &d, t3), PAMTEST_ERR_OK);
	admin("account.unlock", "chantal.gagnon@exemple.ca");
}

static void
test_use_first_pass(void **state)
{
	/* pam_set_items puts PAM_AUTHTOK first; nothing may be asked */
	struct dialog d = { .n_secret = 0 };
	struct pam_testcase ok[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS) };
	struct pam_testcase bad[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };

	setenv("PAM_AUTHTOK", GOOD, 1);
	assert_int_equal(RUN("portail-firstpass", "chantal.gagnon@exemple.ca", &d, ok), PAMTEST_ERR_OK);
	setenv("PAM_AUTHTOK", "mauvais", 1);
	assert_int_equal(RUN("portail-firstpass", "chantal.gagnon@exemple.ca", &d, bad), PAMTEST_ERR_OK);
	unsetenv("PAM_AUTHTOK");
	assert_null(strstr(d.said, "Mot de passe"));
	admin("account.unlock", "chantal.gagnon@exemple.ca");
}

static void
test_locked(void **state)
{
	const char *wrong[] = { "mauvais", "mauvais", "mauvais", GOOD };
	struct dialog d = { .secrets = wrong, .n_secret = 4 };
	struct pam_testcase t[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_MAXTRIES),
	};

	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "le compte est bloqué"));
	assert_int_equal(admin("account.unlock", "chantal.gagnon@exemple.ca"), PORTAIL_OK);
}

static void
test_lang_en(void **state)
{
	const char *wrong[] = { "bad", "bad", "bad", "bad" };
	struct dialog d = { .secrets = wrong, .n_secret = 4 };
	struct pam_testcase t[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_MAXTRIES),
	};

	assert_int_equal(RUN("portail-en", "chantal.gagnon@exemple.ca", &d, t), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "Password: "));
	assert_non_null(strstr(d.said, "the account is locked"));
	assert_int_equal(admin("account.unlock", "chantal.gagnon@exemple.ca"), PORTAIL_OK);
}

static void
test_disabled(void **state)
{
	const char *pw[] = { GOOD };
	struct dialog d = { .secrets = pw, .n_secret = 1 };
	struct pam_testcase t1[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };
	struct pam_testcase t2[] = { pam_test(PAMTEST_ACCOUNT, PAM_PERM_DENIED) };

	assert_int_equal(admin("account.disable", "chantal.gagnon@exemple.ca"), PORTAIL_OK);
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t1), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "désactivé"));
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t2), PAMTEST_ERR_OK);
	assert_int_equal(admin("account.enable", "chantal.gagnon@exemple.ca"), PORTAIL_OK);
}

static void
test_expired_when_child_removed(void **state)
{
	const char *pw[] = { GOOD };
	struct dialog d = { .secrets = pw, .n_secret = 1 };
	struct pam_testcase t[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_ACCT_EXPIRED),
	};
	char path[700], cmd[2000];

	enroll("julie.cote@exemple.ca", GOOD);
	snprintf(path, sizeof(path), "%s", fx_write(dir, "rm.ldif",
	    "dn: uid=1000003,ou=eleves," FX_BASE "\nchangetype: modify\n"
	    "delete: gpiGuardianEmail\ngpiGuardianEmail: julie.cote@exemple.ca\n", 0600));
	snprintf(cmd, sizeof(cmd), "ldapmodify -x -H '%s' -D 'cn=admin," FX_BASE "' -w admin-secret "
	    "-f '%s' >/dev/null", slapd.uri, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(RUN("portail", "julie.cote@exemple.ca", &d, t), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "n'est plus inscrite"));
}

static void
test_change_password_with_old(void **state)
{
	const char *pw[] = { GOOD, "password1", "password1", OTHER, OTHER };
	struct dialog d = { .secrets = pw, .n_secret = 5 };
	struct pam_testcase t[] = { pam_test(PAMTEST_CHAUTHTOK, PAM_SUCCESS) };
	const char *again[] = { OTHER };
	struct pam_testcase t2[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS) };

	/* codes go to the record's spelling, Marc.Roy@Exemple.CA */
	enroll_to("marc.roy@exemple.ca", "Marc.Roy@Exemple.CA", GOOD);
	assert_int_equal(RUN("portail", "marc.roy@exemple.ca", &d, t), PAMTEST_ERR_OK);
	/* the policy's advice went through the conversation */
	assert_non_null(strstr(d.said, "dictionnaire"));
	assert_non_null(strstr(d.said, "Votre mot de passe est changé"));
	d.secrets = again;
	d.n_secret = 1;
	assert_int_equal(RUN("portail", "marc.roy@exemple.ca", &d, t2), PAMTEST_ERR_OK);
}

static void
test_change_password_wrong_old(void **state)
{
	const char *pw[] = { "mauvais" };
	struct dialog d = { .secrets = pw, .n_secret = 1 };
	struct pam_testcase t[] = { pam_test(PAMTEST_CHAUTHTOK, PAM_AUTH_ERR) };

	assert_int_equal(RUN("portail", "marc.roy@exemple.ca", &d, t), PAMTEST_ERR_OK);
	admin("account.unlock", "marc.roy@exemple.ca");
}

static void
test_reset_by_code(void **state)
{
	const char *pw[] = { GOOD, GOOD };
	struct dialog d = { .user = "Marc.Roy@Exemple.CA", .secrets = pw, .n_secret = 2 };
	struct pam_testcase t[] = { pam_test(PAMTEST_CHAUTHTOK, PAM_SUCCESS) };
	const char *again[] = { GOOD };
	struct pam_testcase t2[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS) };

	d.mails_seen = fx_count_mail(sink, "Marc.Roy@Exemple.CA");     /* the account's address */
	assert_int_equal(RUN("portail-reset", "marc.roy@exemple.ca", &d, t), PAMTEST_ERR_OK);
	d.secrets = again;
	d.n_secret = 1;
	assert_int_equal(RUN("portail", "marc.roy@exemple.ca", &d, t2), PAMTEST_ERR_OK);
}

static void
test_forgot_after_failed_password(void **state)
{
	/* "reset" in auth: a wrong password, then the forgotten-password route */
	const char *pw[] = { "oublie", OTHER, OTHER };
	struct dialog d = { .user = "Marc.Roy@Exemple.CA", .secrets = pw, .n_secret = 3, .yes = "o" };
	struct pam_testcase t[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS) };

	d.mails_seen = fx_count_mail(sink, "Marc.Roy@Exemple.CA");     /* the account's address */
	assert_int_equal(RUN("portail-reset", "marc.roy@exemple.ca", &d, t), PAMTEST_ERR_OK);
	assert_non_null(strstr(d.said, "Mot de passe oublié?"));
}

static int
as_nobody(void)
{
	const char *pw[] = { GOOD };
	struct dialog d = { .secrets = pw, .n_secret = 1 };
	struct pam_testcase t[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS),
	};
	char key[800], store[800];

	/* the service's user cannot read the secrets... */
	snprintf(key, sizeof(key), "%s/etc/secret.key", dir);
	snprintf(store, sizeof(store), "%s/state/portail.db", dir);
	if (open(key, O_RDONLY) >= 0 || errno != EACCES)
		return 10;
	if (open(store, O_RDONLY) >= 0 || errno != EACCES)
		return 11;
	/* ...and signs parents in all the same, the access check with the sign-in */
	if (RUN("portail", "chantal.gagnon@exemple.ca", &d, t) != PAMTEST_ERR_OK)
		return 12;
	{
		/* it cannot tell an unknown address from a wrong password (DESIGN §2) */
		struct dialog u = { .secrets = pw, .n_secret = 1 };
		struct pam_testcase unknown[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };
		struct pam_testcase alone[] = { pam_test(PAMTEST_ACCOUNT, PAM_AUTHINFO_UNAVAIL) };

		if (RUN("portail", "personne@exemple.ca", &u, unknown) != PAMTEST_ERR_OK)
			return 13;
		/* nor ask the access check of any address without a sign-in */
		if (RUN("portail", "chantal.gagnon@exemple.ca", &u, alone) != PAMTEST_ERR_OK)
			return 14;
	}
	return 0;
}

static void
test_as_service_user(void **state)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		/* www-data-like: its own uid, not the daemon's (nobody) */
		if (setgroups(0, NULL) != 0 || setgid(33) != 0 || setuid(33) != 0)
			_exit(99);
		_exit(as_nobody());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_token_as_password(void **state)
{
	char token[64];
	const char *secrets[1];
	struct dialog d = { .secrets = secrets, .n_secret = 1 };
	struct pam_testcase ok[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
		pam_test(PAMTEST_ACCOUNT, PAM_SUCCESS) };
	struct pam_testcase bad[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };
	portail_client *c = NULL;
	json_t *r = json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email",
	    "chantal.gagnon@exemple.ca", "label", "Courriel du téléphone"), *a = NULL;

	portail_client_new(sock, 0, &c);
	assert_int_equal(portail_client_call(c, r, &a, NULL), PORTAIL_OK);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(a, "token")));
	json_decref(a);
	json_decref(r);
	portail_client_free(c);
	/* with "tokens": an app password for a mail client */
	secrets[0] = token;
	assert_int_equal(RUN("portail-tokens", "chantal.gagnon@exemple.ca", &d, ok), PAMTEST_ERR_OK);
	/* another parent cannot use it */
	d.secrets = secrets;
	d.n_secret = 1;
	assert_int_equal(RUN("portail-tokens", "marc.roy@exemple.ca", &d, bad), PAMTEST_ERR_OK);
	/* without "tokens" a token is just a wrong password */
	d.secrets = secrets;
	d.n_secret = 1;
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, bad), PAMTEST_ERR_OK);
	admin("account.unlock", "chantal.gagnon@exemple.ca");
}

/* Requests portaild answered bad_request since it started. */
static long long
bad_requests(void)
{
	portail_client *c = NULL;
	json_t *r = json_pack("{s:s}", "op", "status"), *a = NULL;
	long long n;

	portail_client_new(sock, 0, &c);
	assert_int_equal(portail_client_call(c, r, &a, NULL), PORTAIL_OK);
	n = json_integer_value(json_object_get(json_object_get(a, "requests"), "bad_request"));
	json_decref(a);
	json_decref(r);
	portail_client_free(c);
	return n;
}

/*
 * Issue 13 item 7: a PAM_USER with control characters, over-long or not
 * UTF-8 is no parent's address: PAM_USER_UNKNOWN in every stack, without
 * a password asked or portaild troubled — not PAM_AUTHINFO_UNAVAIL.
 */
static void
test_malformed_user_is_unknown(void **state)
{
	static const char *users[] = {
		"chantal.gagnon@exemple.ca\r\n", "chantal\tgagnon@exemple.ca",
		"chantal.gagnon@exemple.ca\nroot", "chantal.gagnon@exemple.ca\x7f",
		"chantal.gagnon@exemple.c\xe9",        /* Latin-1, not UTF-8 */
	};
	char longest[300];
	long long before = bad_requests();

	memset(longest, 'a', sizeof(longest));
	memcpy(longest + 250, "@exemple.ca", 12);       /* 261 bytes */
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]) + 1; i++) {
		const char *user = i < sizeof(users) / sizeof(users[0]) ? users[i] : longest;
		static const enum pamtest_ops ops[] = { PAMTEST_AUTHENTICATE, PAMTEST_ACCOUNT,
			PAMTEST_CHAUTHTOK };

		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			struct dialog d = { .n_secret = 0 };    /* nothing may be asked */
			struct pam_testcase t[] = { pam_test(ops[k], PAM_USER_UNKNOWN) };

			if (RUN("portail", user, &d, t) != PAMTEST_ERR_OK)
				fail_msg("user %zu, op %zu: %d (%s)", i, k, t[0].op_rv, d.said);
			assert_string_equal(d.said, "");
		}
	}
	assert_int_equal(bad_requests(), before);
}

/*
 * Issue 13 item 7: a password over the protocol's 4096 bytes, or not
 * UTF-8, is a wrong password (PAM_AUTH_ERR, as pam_unix past MAXPASS),
 * refused without asking portaild; so is an over-long "token".
 */
static void
test_oversized_password_is_refused(void **state)
{
	char *huge = malloc(5001), *limit = malloc(4097), tok[300];
	const char *secrets[] = { huge, huge, huge, huge, "caf\xe9-latin1", GOOD };
	struct dialog d = { .secrets = secrets, .n_secret = 6 };
	struct pam_testcase t[] = {
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR),
		/* none of them counted as a failure (max_failures = 3): not locked */
		pam_test(PAMTEST_AUTHENTICATE, PAM_SUCCESS),
	};
	const char *old[] = { huge };
	struct dialog d2 = { .secrets = old, .n_secret = 1 };
	struct pam_testcase t2[] = { pam_test(PAMTEST_CHAUTHTOK, PAM_AUTH_ERR) };
	const char *toks[] = { tok };
	struct dialog d3 = { .secrets = toks, .n_secret = 1 };
	struct pam_testcase t3[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTH_ERR) };
	const char *at_limit[] = { limit };
	struct dialog d4 = { .secrets = at_limit, .n_secret = 1 };
	long long before;

	memset(huge, 'x', 5000);
	huge[5000] = '\0';
	memset(limit, 'x', 4096);
	limit[4096] = '\0';
	memset(tok, 'A', sizeof(tok) - 1);
	memcpy(tok, "ptk_", 4);
	tok[sizeof(tok) - 1] = '\0';
	before = bad_requests();
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t), PAMTEST_ERR_OK);
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d2, t2), PAMTEST_ERR_OK);
	assert_int_equal(RUN("portail-tokens", "chantal.gagnon@exemple.ca", &d3, t3), PAMTEST_ERR_OK);
	assert_int_equal(bad_requests(), before);
	/* 4096 bytes is a password portaild takes, and refuses */
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d4, t3), PAMTEST_ERR_OK);
	assert_int_equal(bad_requests(), before);
	admin("account.unlock", "chantal.gagnon@exemple.ca");
	free(huge);
	free(limit);
}

static void
test_daemon_stopped(void **state)
{
	const char *pw[] = { GOOD };
	struct dialog d = { .secrets = pw, .n_secret = 1 };
	struct pam_testcase t1[] = { pam_test(PAMTEST_AUTHENTICATE, PAM_AUTHINFO_UNAVAIL) };
	struct pam_testcase t2[] = { pam_test(PAMTEST_ACCOUNT, PAM_AUTHINFO_UNAVAIL) };

	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t1), PAMTEST_ERR_OK);
	assert_int_equal(RUN("portail", "chantal.gagnon@exemple.ca", &d, t2), PAMTEST_ERR_OK);
	assert_int_equal(daemon_start(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlopen),
		cmocka_unit_test(test_enroll_then_sign_in),
		cmocka_unit_test(test_sshd_substitute),
		cmocka_unit_test(test_wrong_and_unknown),
		cmocka_unit_test(test_use_first_pass),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_lang_en),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_expired_when_child_removed),
		cmocka_unit_test(test_change_password_with_old),
		cmocka_unit_test(test_change_password_wrong_old),
		cmocka_unit_test(test_reset_by_code),
		cmocka_unit_test(test_forgot_after_failed_password),
		cmocka_unit_test(test_as_service_user),
		cmocka_unit_test(test_token_as_password),
		cmocka_unit_test(test_malformed_user_is_unknown),
		cmocka_unit_test(test_oversized_password_is_refused),
		cmocka_unit_test(test_daemon_stopped),
	};

	signal(SIGPIPE, SIG_IGN);
	/* pam_wrapper (and, in the sanitizer build, ASan) are loaded already:
	 * the servers and tools this test starts must not inherit them */
	unsetenv("LD_PRELOAD");
	return cmocka_run_group_tests_name("pam", tests, group_setup, group_teardown);
}
