/*
 * test_wipe.c — this program plays the host (sshd, Apache) of
 * libportail-client: it has its own jansson allocator, and it watches
 * every block its heap frees. A real portaild (with slapd) answers.
 * Issue 11 item 5: after a request carrying a known password, no block
 * freed by the host process held the password, and the host's jansson
 * allocation functions are still its own.
 *
 * The watch is tests/fixtures/scan.c's: without AddressSanitizer, its
 * free and realloc interpose glibc's for every shared object of this
 * process (libpam, the PAM module, jansson) and scan each block before
 * glibc frees it; with AddressSanitizer, its free hook does the same scan.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "fixture.h"
#include "portail-client.h"
#include "scan.h"

/* The password: only its first bytes need to be found for a leak. */
#define CANARY "Kq7vZ-canari-mot-de-passe-8841"

/* The host's own jansson allocator, which a guest must leave alone. */
static atomic_long host_allocs;

static void *
host_malloc(size_t n)
{
	atomic_fetch_add(&host_allocs, 1);
	return malloc(n);
}

static void
host_free(void *p)
{
	free(p);
}

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
static char sock[700], pamdir[700];

static int
group_setup(void **state)
{
	char text[4096], conf[700];
	const char *dir;
	int st = 0;

	fx_slapd_start(&slapd, NULL);
	dir = fx_tmpdir("wipe");
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", dir);
	snprintf(text, sizeof(text),
	    "[gpi]\nuri = %s\nbase = " FX_BASE "\nbind_dn = " FX_BIND_DN "\n"
	    "bind_password_file = %s\nsubscribed_schools = 751001 751501\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n"
	    "[security]\nkey_file = %s/etc/secret.key\n[store]\npath = %s/state/portail.db\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\nworkers = 2\n",
	    slapd.uri, slapd.bind_pw_file, dir, dir, sock);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf) || !fx_daemon_start(&daemon_, dir, conf, sock, &st))
		fail_msg("portaild did not start (%d)", st);
	/* a PAM stack of our own (pam_start_confdir: no pam_wrapper preload) */
	snprintf(pamdir, sizeof(pamdir), "%s", fx_tmpdir("wipe-pam"));
	snprintf(text, sizeof(text), "auth required %s/pam_portail/.libs/pam_portail.so socket=%s\n"
	    "account required %s/pam_portail/.libs/pam_portail.so socket=%s\n",
	    getenv("top_builddir"), sock, getenv("top_builddir"), sock);
	(void)fx_write(pamdir, "wipe", text, 0644);
	(void)fx_write(pamdir, "other", "auth required pam_deny.so\n", 0644);
	json_set_alloc_funcs(host_malloc, host_free);
	fx_scan_install();
	return 0;
}

static int
group_teardown(void **state)
{
	fx_daemon_stop(&daemon_);
	fx_slapd_stop(&slapd);
	return 0;
}

/* The host's part, as pam_portail does: wipe its own copy, then drop it. */
static void
host_drop(json_t *req)
{
	json_t *pw = json_object_get(req, "password");

	explicit_bzero((void *)(uintptr_t)json_string_value(pw), json_string_length(pw));
	json_decref(req);
}

/* The watch works: an unwiped copy of the password is seen when freed. */
static void
test_watch_sees_a_leak(void **state)
{
	json_t *s;

	fx_scan_arm(CANARY, NULL);
	s = json_string(CANARY);
	json_decref(s);
	fx_scan_disarm();
	assert_true(fx_scan_hits() >= 1);
}

static void
call(portail_client *c, json_t *req, bool want_resp)
{
	json_t *resp = NULL;
	portail_error err = { { 0 } };
	portail_status r;

	r = portail_client_call(c, req, want_resp ? &resp : NULL, &err);
	/* a refusal (no such account, or a bad address) is fine: the password went */
	if (r == PORTAIL_ERR_UNAVAILABLE || r == PORTAIL_ERR_NOMEM || r == PORTAIL_ERR_PROTOCOL)
		fail_msg("the call failed: %d %s", (int)r, err.message);
	json_decref(resp);
}

static void
test_no_freed_block_held_the_password(void **state)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	char big[3000];
	portail_client *c = NULL;
	json_t *req;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, CANARY, strlen(CANARY));
	fx_scan_arm(CANARY, NULL);

	assert_int_equal(portail_client_new(sock, 0, &c), PORTAIL_OK);
	assert_int_equal(portail_client_set_origin(c, "sshd", "192.0.2.7"), PORTAIL_OK);
	/* a sign-in, answer read and dropped by the host */
	req = json_pack("{s:s, s:s, s:s}", "op", "auth.password",
	    "email", "Chantal.Gagnon@exemple.ca", "password", CANARY);
	call(c, req, true);
	host_drop(req);
	/* the same on the kept connection, the answer dropped by the library */
	req = json_pack("{s:s, s:s, s:s}", "op", "auth.password",
	    "email", "Chantal.Gagnon@exemple.ca", "password", CANARY);
	call(c, req, false);
	host_drop(req);
	/* the encoder's buffer grows after the password is in it */
	req = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "password", CANARY,
	    "email", big + sizeof(big) - 900);
	call(c, req, true);
	host_drop(req);
	/* a long password: one that fills several of the encoder's growths */
	req = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "password", big,
	    "email", "Chantal.Gagnon@exemple.ca");
	call(c, req, false);
	host_drop(req);
	portail_client_free(c);

	fx_scan_disarm();
	assert_true(fx_scan_blocks() > 10);
	if (fx_scan_hits() != 0)
		fail_msg("%ld freed block(s) held the password", fx_scan_hits());
	/* the guest left the host's allocator alone */
	json_get_alloc_funcs(&m, &f);
	assert_ptr_equal(m, host_malloc);
	assert_ptr_equal(f, host_free);
	assert_true(atomic_load(&host_allocs) > 0);
}

/* The host's conversation, as sshd's: the password in a block of its own. */
static int
conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	(void)data;
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(CANARY);     /* libpam wipes and frees it */
	*resp = r;
	return PAM_SUCCESS;
}

/* The same through pam_portail in a real PAM stack: libpam's copies, the module's, the client's. */
static void
test_pam_host_keeps_no_password(void **state)
{
	struct pam_conv conv = { conv_fn, NULL };
	pam_handle_t *pamh = NULL;
	int rc;

	fx_scan_arm(CANARY, NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pam_start_confdir("wipe", "Chantal.Gagnon@exemple.ca", &conv, pamdir,
		    &pamh), PAM_SUCCESS);
		(void)pam_set_item(pamh, PAM_RHOST, "192.0.2.7");
		rc = pam_authenticate(pamh, 0);
		/* no account yet: refused or unknown, but the password went to portaild */
		if (rc != PAM_AUTH_ERR && rc != PAM_USER_UNKNOWN)
			fail_msg("pam_authenticate: %d %s", rc, pam_strerror(pamh, rc));
		pam_end(pamh, rc);
	}
	fx_scan_disarm();
	assert_true(fx_scan_blocks() > 10);
	if (fx_scan_hits() != 0)
		fail_msg("%ld freed block(s) held the password", fx_scan_hits());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_sees_a_leak),
		cmocka_unit_test(test_no_freed_block_held_the_password),
		cmocka_unit_test(test_pam_host_keeps_no_password),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("wipe", tests, group_setup, group_teardown);
}
