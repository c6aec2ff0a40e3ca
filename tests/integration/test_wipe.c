/*
 * test_wipe.c — this program plays the host (sshd, Apache) of
 * libportail-client: it has its own jansson allocator, and it watches
 * every block its heap frees. A real portaild (with slapd) answers.
 * Issue 11 item 5: after a request carrying a known password, no block
 * freed by the host process held the password, and the host's jansson
 * allocation functions are still its own.
 *
 * The watch: without AddressSanitizer, free and realloc are interposed
 * here (the executable's definitions win over libc's for every shared
 * object) and scan the block (malloc_usable_size) before glibc frees it;
 * with AddressSanitizer, its free hook does the same scan.
 */
#include <errno.h>
#include <malloc.h>
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

#ifdef __SANITIZE_ADDRESS__
/* from <sanitizer/allocator_interface.h>, which Debian's gcc does not ship */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
#endif

/* The password: only its first bytes need to be found for a leak. */
#define CANARY "Kq7vZ-canari-mot-de-passe-8841"
#define NEEDLE_LEN 12

static atomic_int armed;
static atomic_int leaks;
static atomic_long scanned;

static void
scan(const void *p, size_t n)
{
	if (p == NULL || n < NEEDLE_LEN || !atomic_load(&armed))
		return;
	atomic_fetch_add(&scanned, 1);
	if (memmem(p, n, CANARY, NEEDLE_LEN) != NULL)
		atomic_fetch_add(&leaks, 1);
}

#ifdef __SANITIZE_ADDRESS__
static void
on_malloc(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
}

static void
on_free(const volatile void *p)
{
	const void *q = (const void *)(uintptr_t)p;

	if (q != NULL && atomic_load(&armed))
		scan(q, __sanitizer_get_allocated_size(q));
}

static void
watch_install(void)
{
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
extern void __libc_free(void *p);
extern void *__libc_realloc(void *p, size_t n);

void
free(void *p)
{
	if (p != NULL && atomic_load(&armed))
		scan(p, malloc_usable_size(p));
	__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	/* conservative: a block that may move is counted as freed */
	if (p != NULL && atomic_load(&armed))
		scan(p, malloc_usable_size(p));
	return __libc_realloc(p, n);
}

static void
watch_install(void)
{
}
#endif

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
	watch_install();
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

	atomic_store(&leaks, 0);
	atomic_store(&armed, 1);
	s = json_string(CANARY);
	json_decref(s);
	atomic_store(&armed, 0);
	assert_true(atomic_load(&leaks) >= 1);
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
	atomic_store(&leaks, 0);
	atomic_store(&scanned, 0);
	atomic_store(&armed, 1);

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

	atomic_store(&armed, 0);
	assert_true(atomic_load(&scanned) > 10);
	if (atomic_load(&leaks) != 0)
		fail_msg("%d freed block(s) held the password", atomic_load(&leaks));
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

	atomic_store(&leaks, 0);
	atomic_store(&scanned, 0);
	atomic_store(&armed, 1);
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
	atomic_store(&armed, 0);
	assert_true(atomic_load(&scanned) > 10);
	if (atomic_load(&leaks) != 0)
		fail_msg("%d freed block(s) held the password", atomic_load(&leaks));
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
