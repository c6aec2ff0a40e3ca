/*
 * test_daemon_wipe.c — the real portaild, started with
 * tests/fixtures/freescan.c preloaded: every block the daemon frees is
 * scanned for a known password (by tests/fixtures/scan.c, the watch
 * test_wipe and test_alloc link in). After requests that carry it (sign-in,
 * sign-up, change, tokens; refused, malformed JSON, unknown fields), no
 * freed block held it. jansson's parser leaves a copy of every string it
 * reads in freed scratch buffers (tests/unit/test_alloc.c shows it with
 * the default allocator), so this passes only when portaild installs
 * portaild/alloc.c's wiping allocator before it parses anything: without
 * the call in main, these requests leave 15 such blocks.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "portail-client.h"

#define CANARY "Vb9pR-canari-portaild-mot-de-passe-3307"

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
static char sock[700];
static bool started;

static int
group_setup(void **state)
{
	char text[4096], conf[700], preload[1024];
	const char *dir;
	int st = 0;

	(void)state;
	if (strcmp(getenv("SANITIZERS") ? getenv("SANITIZERS") : "no", "yes") == 0)
		return 0;       /* AddressSanitizer owns free: see test_scan */
	fx_slapd_start(&slapd, NULL);
	dir = fx_tmpdir("daemon-wipe");
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", dir);
	snprintf(text, sizeof(text),
	    "[gpi]\nuri = %s\nbase = " FX_BASE "\nbind_dn = " FX_BIND_DN "\n"
	    "bind_password_file = %s\nsubscribed_schools = 751001 751501\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n"
	    "[security]\nkey_file = %s/etc/secret.key\n[store]\npath = %s/state/portail.db\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\nworkers = 2\n",
	    slapd.uri, slapd.bind_pw_file, dir, dir, sock);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf))
		return -1;
	snprintf(preload, sizeof(preload), "%s/tests/fixtures/.libs/libfreescan.so",
	    getenv("top_builddir"));
	setenv("LD_PRELOAD", preload, 1);
	setenv("PORTAIL_FREESCAN", fx_write(dir, "needle", CANARY, 0644), 1);
	if (!fx_daemon_start(&daemon_, dir, conf, sock, &st))
		fail_msg("portaild did not start (%d)", st);
	unsetenv("LD_PRELOAD");
	unsetenv("PORTAIL_FREESCAN");
	started = true;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (!started)
		return 0;
	fx_daemon_stop(&daemon_);
	fx_slapd_stop(&slapd);
	return 0;
}

/* One request through libportail-client; any answer but an outage will do. */
static void
ask(json_t *req)
{
	portail_client *c = NULL;
	portail_status s;

	assert_non_null(req);
	assert_int_equal(portail_client_new(sock, 0, &c), PORTAIL_OK);
	s = portail_client_call(c, req, NULL, NULL);
	json_decref(req);
	portail_client_free(c);
	if (s == PORTAIL_ERR_UNAVAILABLE || s == PORTAIL_ERR_NOMEM)
		fail_msg("portaild did not answer: %d", s);
}

/* A raw line, for what libportail-client would never send. */
static void
ask_raw(const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	assert_true(strlen(sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"bad_request\""));
	close(fd);
}

static void
test_scan(void **state)
{
	char stats[512] = "";
	FILE *f;

	(void)state;
	if (!started)
		skip();         /* the sanitizer build: freescan.so cannot replace ASan's free */
	ask(json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", "personne@exemple.ca",
	    "password", CANARY));
	ask(json_pack("{s:s, s:s, s:s, s:b}", "op", "auth.password", "email",
	    "chantal.gagnon@exemple.ca", "password", CANARY, "check", 1));
	ask(json_pack("{s:s, s:s, s:s, s:s}", "op", "account.create", "ticket",
	    "ptt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password", CANARY, "confirmation",
	    CANARY));
	ask(json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "password.change", "email",
	    "personne@exemple.ca", "old_password", CANARY, "password", CANARY "x",
	    "confirmation", CANARY "x"));
	ask(json_pack("{s:s, s:s, s:s, s:s}", "op", "token.issue", "email", "personne@exemple.ca",
	    "label", "x", "password", CANARY));
	ask(json_pack("{s:s, s:s}", "op", "token.verify", "token", CANARY));
	/* refused before any flow: an unknown field, a malformed address */
	ask(json_pack("{s:s, s:s, s:s, s:i}", "op", "auth.password", "email", "a@exemple.ca",
	    "password", CANARY, "extra", 1));
	ask(json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", "a\tb@exemple.ca",
	    "password", CANARY));
	/* JSON the parser gives up on half way, after the password */
	ask_raw("{\"v\":1,\"op\":\"auth.password\",\"password\":\"" CANARY "\",\"email\":}\n");
	ask_raw("{\"v\":1,\"op\":\"auth.password\",\"password\":\"" CANARY "\",\"password\":\"x\"}\n");
	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	started = false;
	fx_slapd_stop(&slapd);
	assert_true(fx_log_has(daemon_.log, "freescan: armed"));
	/* the watch ran to the daemon's exit, over many blocks */
	if ((f = fopen(daemon_.log, "r")) != NULL) {
		char line[512];

		int shown = 0;

		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "freescan: done", 14) == 0)
				memcpy(stats, line, sizeof(stats));
			else if (strncmp(line, "freescan: ", 10) == 0 && shown++ < 10)
				print_message("# %s", line);
		}
		fclose(f);
	}
	print_message("# %s", stats);
	{
		long blocks = 0, leaks = -1;

		if (sscanf(stats, "freescan: done, %ld blocks scanned, %ld leaks", &blocks,
		    &leaks) != 2)
			fail_msg("the watch did not report at exit");
		/* it saw the daemon's frees: thousands for these requests */
		assert_true(blocks > 1000);
	}
	if (fx_log_has(daemon_.log, "freescan: leak"))
		fail_msg("a block portaild freed held the password: %s", stats);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("daemon_wipe", tests, group_setup, group_teardown);
}
