/*
 * test_daemon.c — portaild driven through libportail-client and raw
 * sockets, with a real slapd behind it: the ops, admin rights through
 * SO_PEERCRED, hostile and clumsy clients, concurrency, outages, and
 * start-up and shutdown rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "portail-client.h"

#define NOBODY 65534

static struct fx_slapd slapd;
static struct fx_daemon daemon_;
static char conf[700], sock[700], ddir[600];

/* extra goes in [daemon]; a "[section]" in it starts another section. */
static void
write_config(const char *dir, const char *name, const char *socket_path, const char *uris,
    int request_timeout, const char *extra, char *out, size_t out_len)
{
	char text[4096];

	char files[1400] = "";

	if (strstr(extra, "[security]") == NULL)
		snprintf(files, sizeof(files), "[security]\nkey_file = %s/etc/secret.key\n", dir);
	snprintf(files + strlen(files), sizeof(files) - strlen(files),
	    "[store]\npath = %s/state/portail.db\n", dir);
	snprintf(text, sizeof(text),
	    "[gpi]\nuri = %s\nbase = " FX_BASE "\nbind_dn = " FX_BIND_DN "\n"
	    "bind_password_file = %s\nsubscribed_schools = 751001 751501\n"
	    "timeout = 2\nnetwork_timeout = 1\n"
	    "[mail]\ntimeout = 2\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n%s"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\nworkers = 4\nrequest_timeout = %d\n"
	    "%s%s%s",
	    uris, slapd.bind_pw_file, files, socket_path, request_timeout,
	    strstr(extra, "max_connections") ? "" : "max_connections = 400\n",
	    /* one uid (this test, root) has 50 clients at once: room for them all */
	    strstr(extra, "max_queued") ? "" : "max_queued_per_peer = 64\n", extra);
	snprintf(out, out_len, "%s", fx_write(dir, name, text, 0644));
	fx_init(out);
}

static void
start_main_daemon(void)
{
	int st = 0;

	if (!fx_daemon_start(&daemon_, ddir, conf, sock, &st))
		fail_msg("portaild exited %d at start", st);
}

static int
group_setup(void **state)
{
	fx_slapd_start(&slapd, NULL);
	snprintf(ddir, sizeof(ddir), "%s", fx_tmpdir("daemon"));
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", ddir);
	write_config(ddir, "portail.conf", sock, slapd.uri, 6, "", conf, sizeof(conf));
	start_main_daemon();
	return 0;
}

static int
group_teardown(void **state)
{
	fx_daemon_stop(&daemon_);
	fx_slapd_stop(&slapd);
	return 0;
}

static portail_client *
client(int timeout_ms)
{
	portail_client *c = NULL;

	assert_int_equal(portail_client_new(sock, timeout_ms, &c), PORTAIL_OK);
	return c;
}

/* ---- raw socket helpers --------------------------------------------------- */

static int
raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 10 };

	fx_sun(&sa, path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void
raw_send(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n <= 0)
			break;  /* the daemon may close on us: that is the point */
		done += (size_t)n;
	}
}

/* Reads one answer line; returns it parsed (NULL on EOF or garbage). */
static json_t *
raw_answer(int fd)
{
	char buf[70000];
	size_t used = 0;

	while (used < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + used, 1, 0);

		if (n <= 0)
			return NULL;
		if (buf[used] == '\n')
			return json_loadb(buf, used, 0, NULL);
		used++;
	}
	return NULL;
}

static const char *
error_of(json_t *a)
{
	return json_string_value(json_object_get(a, "error"));
}

/* True when the peer closed the connection: EOF, or a reset when it
 * closed with our bytes unread (not a receive timeout). */
static bool
raw_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* One counter of the status op ("requests" "total", …), asked on c; -1 when it fails. */
static long long
status_counter(portail_client *c, const char *group, const char *name)
{
	json_t *st = NULL;
	long long v = -1;

	if (portail_client_status(c, &st, NULL) == PORTAIL_OK)
		v = json_integer_value(json_object_get(json_object_get(st, group), name));
	json_decref(st);
	return v;
}

/* Waits (up to 30 s, by polling on c) until the daemon has accepted want connections in all. */
static void
wait_accepted(portail_client *c, long long want)
{
	long long total = -1;

	for (int i = 0; i < 3000 && (total = status_counter(c, "connections", "total")) < want; i++)
		usleep(10000);
	assert_int_equal(total, want);
}

/* ---- ops ------------------------------------------------------------------ */

static void
test_ping(void **state)
{
	portail_client *c = client(0);
	char version[64];
	long long uptime = -1;

	assert_int_equal(portail_client_ping(c, version, sizeof(version), &uptime, NULL), PORTAIL_OK);
	assert_string_equal(version, PACKAGE_VERSION);
	assert_true(uptime >= 0);
	/* the same handle, several requests on one connection */
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
}

static void
test_status_as_admin(void **state)
{
	portail_client *c = client(0);
	json_t *st = NULL;

	assert_int_equal(portail_client_status(c, &st, NULL), PORTAIL_OK);
	assert_true(json_is_true(json_object_get(json_object_get(st, "directory"), "ok")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "directory"), "server")),
	    slapd.uri);
	assert_true(json_integer_value(json_object_get(json_object_get(st, "requests"), "total")) >= 1);
	assert_int_equal(json_integer_value(json_object_get(st, "workers")), 4);
	json_decref(st);
	portail_client_free(c);
}

static void
test_gpi_lookup_as_admin(void **state)
{
	portail_client *c = client(0);
	json_t *r = NULL;
	portail_error err;

	assert_int_equal(portail_client_gpi_lookup(c, "Chantal.Gagnon@exemple.ca", &r, NULL), PORTAIL_OK);
	assert_true(json_is_true(json_object_get(r, "known")));
	assert_int_equal(json_array_size(json_object_get(r, "children")), 2);
	json_decref(r);
	r = NULL;
	assert_int_equal(portail_client_gpi_lookup(c, "personne@exemple.ca", &r, NULL), PORTAIL_OK);
	assert_false(json_is_true(json_object_get(r, "known")));
	json_decref(r);
	r = NULL;
	assert_int_equal(portail_client_gpi_lookup(c, "*)(objectClass=*", &r, &err), PORTAIL_ERR_INVALID);
	assert_null(r);
	portail_client_free(c);
	/* the log names the decision, the user and the peer */
	assert_true(fx_log_has(daemon_.log, "op=gpi.lookup user=Chantal.Gagnon@exemple.ca"));
	assert_true(fx_log_has(daemon_.log, "result=ok reason=known"));
}

/* Runs fn in a child process as uid/gid nobody; returns its exit code. */
static int
as_nobody(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int
nobody_calls(void)
{
	portail_client *c = NULL;
	json_t *r = NULL;
	portail_error err;

	if (portail_client_new(sock, 0, &c) != PORTAIL_OK)
		return 10;
	portail_client_set_origin(c, "sshd", "192.0.2.7");
	if (portail_client_ping(c, NULL, 0, NULL, NULL) != PORTAIL_OK)
		return 11;
	if (portail_client_status(c, &r, &err) != PORTAIL_ERR_FORBIDDEN || r != NULL)
		return 12;
	if (strstr(err.message, "administrateurs") == NULL)
		return 13;
	if (portail_client_gpi_lookup(c, "chantal.gagnon@exemple.ca", &r, &err) != PORTAIL_ERR_FORBIDDEN)
		return 14;
	portail_client_set_lang(c, "en");
	if (portail_client_status(c, &r, &err) != PORTAIL_ERR_FORBIDDEN ||
	    strstr(err.message, "administrators") == NULL)
		return 15;
	portail_client_free(c);
	return 0;
}

static void
test_non_admin_forbidden(void **state)
{
	assert_int_equal(as_nobody(nobody_calls), 0);
	assert_true(fx_log_has(daemon_.log, "op=status user=- service=sshd rhost=192.0.2.7 uid=65534"));
	assert_true(fx_log_has(daemon_.log, "result=forbidden reason=not_admin"));
}

static void
test_runs_as_its_user(void **state)
{
	char path[64], buf[4096], want[32];
	struct passwd *pw = getpwnam(FX_DAEMON_USER);
	FILE *f;
	bool found = false;

	assert_non_null(pw);
	snprintf(want, sizeof(want), "\t%u\t", (unsigned)pw->pw_uid);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_.pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "Uid:", 4) == 0)
			found = strstr(buf, want) != NULL && strstr(buf, "\t0\t") == NULL;
	fclose(f);
	assert_true(found);
	{
		struct stat st;

		assert_int_equal(stat(sock, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0666);
	}
}

/* ---- hostile and clumsy clients -------------------------------------------- */

/* The whole log, NUL-terminated; its length in *len. */
static char *
log_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t used = 0, size = 0, n;

	assert_non_null(f);
	do {
		if (used + 4096 >= size) {
			size = size ? size * 2 : 65536;
			assert_non_null(buf = realloc(buf, size));
		}
		n = fread(buf + used, 1, size - used - 1, f);
		used += n;
	} while (n > 0);
	fclose(f);
	buf[used] = '\0';
	*len = used;
	return buf;
}

static bool
log_holds(const char *needle, size_t n)
{
	size_t len;
	char *buf = log_text(daemon_.log, &len);
	bool found = memmem(buf, len, needle, n) != NULL;

	free(buf);
	return found;
}

/*
 * Issue 11 item 4: a password or a token typed in the address field, and
 * jansson's error text (which quotes the input), never reach the log;
 * nor does any raw control byte a client sent.
 */
static void
test_log_keeps_no_secret(void **state)
{
	static const char *typed[] = {
		"Quatre-chevaux-mangent-du-foin",
		"ptk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
		"Tr\xc3\xa8s-secret \xc2\x9b" "31m-pass",
	};
	static const char *lines[] = {
		/* jansson: "invalid token near '\"hunter2'" */
		"{\"v\":1,\"op\":\"auth.password\",\"email\":\"a@b.ca\",\"password\":\"hunter2\n",
		"{\"v\":1,\"op\":\"auth.password\",\"password\":hunter2-bare}\n",
		"{\"v\":1,\"op\":\"ping\",\"rhost\":\"\x1b]0;owned\x07\"}\n",
		"{\"v\":1,\"op\":\"ping\",\"rhost\":\"x\x7fy\"}\n",
		"{\"v\":1,\"op\":\"nope\xc2\x9b" "31m\",\"x\":\"\xc2\x9b\"}\n",
		"{\"v\":1,\"op\":\"ping\",\"rhost\":\"\xc2\x9b" "31m\"}\n",
		"{\"v\":1,\"op\":\"ping\",\"service\":\"a b\\\\\\\"c=d\"}\n",
		"\x1b[2J\x7f\xc2\x9b\n",
	};
	static const char *banned[] = {
		"hunter2", "\x1b", "\x7f", "\xc2\x9b", "\x07", "Quatre-chevaux", "ptk_0123",
		"Tr\xc3\xa8s-secret",
	};
	portail_client *c = client(0);
	int fd;

	for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		json_t *req = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", typed[i],
		    "password", "x");
		json_t *tok = json_pack("{s:s, s:s, s:s}", "op", "token.verify", "token",
		    "ptk_nothing", "email", typed[i]);

		(void)portail_client_call(c, req, NULL, NULL);
		(void)portail_client_call(c, tok, NULL, NULL);
		json_decref(req);
		json_decref(tok);
	}
	portail_client_free(c);
	fd = raw_connect(sock);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		json_t *a;

		raw_send(fd, lines[i], strlen(lines[i]));
		a = raw_answer(fd);
		assert_non_null(a);
		json_decref(a);
	}
	close(fd);
	/* a request logged after ours: the log is complete */
	assert_int_equal(portail_client_ping(c = client(0), NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (log_holds(banned[i], strlen(banned[i])))
			fail_msg("the log holds \"%s\"", banned[i]);
	assert_true(fx_log_has(daemon_.log, "op=auth.password user=- "));
	assert_true(fx_log_has(daemon_.log, "reason=invalid_address"));
	/* the dummy hash an invalid address costs is logged as any sign-in's hash */
	assert_true(fx_log_has(daemon_.log, "reason=invalid_address hash_ms="));
	assert_true(fx_log_has(daemon_.log, "result=bad_request reason=not\\x20a\\x20JSON"));
	assert_true(fx_log_has(daemon_.log, "invalid_syntax\\x20at\\x20byte\\x20"));
	assert_true(fx_log_has(daemon_.log, "rhost=\\xc2\\x9b31m "));
	assert_true(fx_log_has(daemon_.log, "service=a\\x20b\\x5c\\x22c\\x3dd "));
	/* a real address is still logged */
	assert_true(fx_log_has(daemon_.log, "op=gpi.lookup user=Chantal.Gagnon@exemple.ca"));
}


static void
test_bad_requests(void **state)
{
	static const struct {
		const char *line;
		const char *why;
	} cases[] = {
		{ "not json\n", "not a JSON object" },
		{ "\n", "not a JSON object" },
		{ "[1,2]\n", "not a JSON object" },
		{ "\"ping\"\n", "not a JSON object" },
		{ "{\"v\":1}\n", "missing \"op\"" },
		{ "{\"op\":\"ping\"}\n", "missing \"v\"" },
		{ "{\"v\":2,\"op\":\"ping\"}\n", "unsupported protocol version" },
		{ "{\"v\":\"1\",\"op\":\"ping\"}\n", "\"v\" must be an integer" },
		{ "{\"v\":1,\"op\":7}\n", "\"op\" must be a string" },
		{ "{\"v\":1,\"op\":\"nope\"}\n", "unknown op" },
		{ "{\"v\":1,\"op\":\"gpi.lookup\"}\n", "missing field \"email\"" },
		{ "{\"v\":1,\"op\":\"gpi.lookup\",\"email\":5}\n", "\"email\" must be a string" },
		{ "{\"v\":1,\"op\":\"ping\",\"extra\":1}\n", "unknown field \"extra\"" },
		{ "{\"v\":1,\"op\":\"ping\",\"op\":\"status\"}\n", "duplicate" },
		{ "{\"v\":1,\"op\":\"ping\",\"lang\":\"de\"}\n", "\"lang\" must be" },
		{ "{\"v\":1,\"op\":\"ping\",\"service\":\"a\\u0000b\"}\n", "not a JSON object" },
		{ "{\"v\":1,\"op\":\"ping\",\"service\":\"a\\nb\"}\n", "control character" },
		{ "{\"v\":1,\"op\":\"p\xff\xfeing\"}\n", "not a JSON object" },
		{ "{\"v\":1,\"op\":\"ping\"} trailing\n", "not a JSON object" },
		{ "{\"v\":1,\"op\":\"ping\",\"rhost\":[]}\n", "\"rhost\" must be a string" },
	};
	int fd = raw_connect(sock);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a;

		raw_send(fd, cases[i].line, strlen(cases[i].line));
		a = raw_answer(fd);
		if (a == NULL)
			fail_msg("case %zu: no answer", i);
		if (json_is_true(json_object_get(a, "ok")) || strcmp(error_of(a), "bad_request") != 0 ||
		    strstr(json_string_value(json_object_get(a, "message")), cases[i].why) == NULL)
			fail_msg("case %zu: %s", i, json_dumps(a, 0));
		json_decref(a);
	}
	/* framing was never lost: the same connection still works */
	raw_send(fd, "{\"v\":1,\"op\":\"ping\"}\n", 20);
	{
		json_t *a = raw_answer(fd);

		assert_non_null(a);
		assert_true(json_is_true(json_object_get(a, "ok")));
		json_decref(a);
	}
	close(fd);
}

static void
test_deep_nesting(void **state)
{
	size_t n = 20000;
	char *line = malloc(2 * n + 2);
	int fd = raw_connect(sock);
	json_t *a;

	memset(line, '[', n);
	memset(line + n, ']', n);
	line[2 * n] = '\n';
	raw_send(fd, line, 2 * n + 1);
	a = raw_answer(fd);
	assert_non_null(a);
	assert_string_equal(error_of(a), "bad_request");
	json_decref(a);
	free(line);
	close(fd);
}

static void
test_pipelined(void **state)
{
	static const char two[] = "{\"v\":1,\"op\":\"ping\"}\n{\"v\":1,\"op\":\"nope\"}\n";
	int fd = raw_connect(sock);
	json_t *a, *b;

	raw_send(fd, two, sizeof(two) - 1);
	a = raw_answer(fd);
	b = raw_answer(fd);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_string_equal(error_of(b), "bad_request");
	json_decref(a);
	json_decref(b);
	/* a request then a half-closed socket: still answered */
	raw_send(fd, "{\"v\":1,\"op\":\"ping\"}\n", 20);
	shutdown(fd, SHUT_WR);
	a = raw_answer(fd);
	assert_non_null(a);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	assert_true(raw_closed(fd));
	close(fd);
}

struct flood {
	int fd;
	int n;
};

static void *
flood_send(void *arg)
{
	static const char two[] = "{\"v\":1,\"op\":\"status\"}\n{\"v\":1,\"op\":\"ping\"}\n";
	struct flood *f = arg;

	for (int i = 0; i < f->n / 2; i++)
		raw_send(f->fd, two, sizeof(two) - 1);
	return NULL;
}

/*
 * Thousands of pipelined requests whose answers (a megabyte and more) fill
 * the socket before the client reads: answers sent by the workers
 * themselves, partly sent ones finished by the loop, and queued ones must
 * all arrive, whole and in order.
 */
static void
test_pipelined_backpressure(void **state)
{
	struct flood f = { raw_connect(sock), 4000 };
	portail_client *c = client(0);
	long long base, handled = -1;
	pthread_t t;

	(void)state;
	/* the daemon counts every request it handles, each status poll too */
	base = status_counter(c, "requests", "total");
	assert_true(base > 0);
	assert_int_equal(pthread_create(&t, NULL, flood_send, &f), 0);
	/*
	 * a thousand answers made, none read: several hundred KiB, more than
	 * the socket holds, so that the rest piles up behind it (waiting for
	 * all 4000 made this test some 12 s slower here, for nothing more)
	 */
	for (int k = 1; k <= 3000; k++) {
		handled = status_counter(c, "requests", "total") - base - k;
		if (handled >= 1000)
			break;
		usleep(10000);
	}
	assert_true(handled >= 1000);
	portail_client_free(c);
	for (int i = 0; i < f.n; i++) {
		json_t *a = raw_answer(f.fd);

		if (a == NULL || !json_is_true(json_object_get(a, "ok")) ||
		    (json_object_get(a, "connections") != NULL) != (i % 2 == 0))
			fail_msg("answer %d out of order or lost", i);
		json_decref(a);
	}
	pthread_join(t, NULL);
	close(f.fd);
}

static void
test_oversize_garbage(void **state)
{
	size_t n = 1024 * 1024;
	char *junk = malloc(n);
	int fd = raw_connect(sock);
	json_t *a;

	for (size_t i = 0; i < n; i++)
		junk[i] = (char)('a' + i % 26);
	raw_send(fd, junk, n);
	a = raw_answer(fd);
	assert_non_null(a);
	assert_string_equal(error_of(a), "bad_request");
	assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "64 KiB"));
	json_decref(a);
	assert_true(raw_closed(fd));    /* framing lost: closed */
	close(fd);
	free(junk);
	/* the daemon is fine */
	{
		portail_client *c = client(0);

		assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
		portail_client_free(c);
	}
}

static void
test_half_line_then_close(void **state)
{
	portail_client *c;

	for (int i = 0; i < 20; i++) {
		int fd = raw_connect(sock);

		raw_send(fd, "{\"v\":1,\"op\"", 11);
		close(fd);
	}
	c = client(0);
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
}

/* ---- concurrency ---------------------------------------------------------- */

static void *
busy_client(void *arg)
{
	portail_client *c = NULL;
	intptr_t failures = 0;

	(void)arg;
	if (portail_client_new(sock, 0, &c) != PORTAIL_OK)
		return (void *)(intptr_t)1000;
	for (int i = 0; i < 20; i++)
		if (portail_client_ping(c, NULL, 0, NULL, NULL) != PORTAIL_OK)
			failures++;
	{
		json_t *r = NULL;

		if (portail_client_gpi_lookup(c, "julie.cote@exemple.ca", &r, NULL) != PORTAIL_OK ||
		    json_array_size(json_object_get(r, "children")) != 1)
			failures++;
		json_decref(r);
	}
	portail_client_free(c);
	return (void *)failures;
}

static void
test_fifty_concurrent_clients(void **state)
{
	pthread_t t[50];
	intptr_t failures = 0;

	for (int i = 0; i < 50; i++)
		assert_int_equal(pthread_create(&t[i], NULL, busy_client, NULL), 0);
	for (int i = 0; i < 50; i++) {
		void *r;

		pthread_join(t[i], &r);
		failures += (intptr_t)r;
	}
	assert_int_equal(failures, 0);
}

/*
 * 100 idle connections and 20 slow ones, a byte of a request per round
 * from each slow one (slower than any real client: never a whole line):
 * with 4 workers, a real client is answered well within a 3 s client
 * timeout at every round.
 */
static void
test_slow_and_idle_clients_hold_no_worker(void **state)
{
	static const char req[] = "{\"v\":1,\"op\":\"ping\"}\n";
	int idle[100], slow[20];
	portail_client *c = client(0);
	long long total0 = status_counter(c, "connections", "total");

	portail_client_free(c);
	assert_true(total0 >= 1);
	for (int i = 0; i < 100; i++)
		idle[i] = raw_connect(sock);
	for (int i = 0; i < 20; i++)
		slow[i] = raw_connect(sock);
	/* the real client comes last, once the daemon has taken in all 120 */
	c = client(3000);
	wait_accepted(c, total0 + 121);
	for (size_t b = 0; b < sizeof(req) - 2; b++) {
		json_t *r = NULL;

		for (int i = 0; i < 20; i++)
			raw_send(slow[i], req + b, 1);
		assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
		assert_int_equal(portail_client_gpi_lookup(c, "marc.roy@exemple.ca", &r, NULL), PORTAIL_OK);
		json_decref(r);
	}
	portail_client_free(c);
	for (int i = 0; i < 20; i++)
		close(slow[i]);
	for (int i = 0; i < 100; i++)
		close(idle[i]);
}

/*
 * How many sockets bear path in /proc/net/unix: the listener, and each
 * connection it accepted while the daemon keeps it open (-1 if unreadable).
 */
static int
sockets_at(const char *path)
{
	char line[1200];
	size_t n = strlen(path);
	int count = 0;
	FILE *f = fopen("/proc/net/unix", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\n");

		if (len > n && line[len - n - 1] == ' ' && memcmp(line + len - n, path, n) == 0)
			count++;
	}
	fclose(f);
	return count;
}

static void
test_oldest_idle_evicted_at_cap(void **state)
{
	struct fx_daemon d;
	char dir[600], conf2[700], sock2[700];
	int fds[8];
	portail_client *c = NULL;
	int st = 0;

	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("cap"));
	snprintf(sock2, sizeof(sock2), "%s/cap.sock", dir);
	write_config(dir, "cap.conf", sock2, slapd.uri, 6, "max_connections = 4\n", conf2, sizeof(conf2));
	if (!fx_daemon_start(&d, dir, conf2, sock2, &st))
		fail_msg("portaild exited %d", st);
	/* the fixture's readiness probe closed on the daemon's side too: only the listener left */
	for (int i = 0; i < 3000 && sockets_at(sock2) > 1; i++)
		usleep(10000);
	assert_int_equal(sockets_at(sock2), 1);
	for (int i = 0; i < 4; i++)
		fds[i] = raw_connect(sock2);
	/*
	 * the daemon takes connections from its listening queue in the order
	 * they came: once the fifth is served, the four before it were taken
	 */
	/* the fifth connection is served; the oldest idle one is closed */
	assert_int_equal(portail_client_new(sock2, 3000, &c), PORTAIL_OK);
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
	assert_true(raw_closed(fds[0]));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	assert_int_equal(fx_daemon_stop(&d), 0);
}

/* ---- outages -------------------------------------------------------------- */

static void
test_directory_hung_mid_request(void **state)
{
	portail_client *c = client(0);
	json_t *r = NULL;
	portail_error err;

	assert_true(fx_stop_process(slapd.pid));
	assert_int_equal(portail_client_gpi_lookup(c, "chantal.gagnon@exemple.ca", &r, &err),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.message, "annuaire est indisponible"));
	kill(slapd.pid, SIGCONT);
	/* and back */
	assert_int_equal(portail_client_gpi_lookup(c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	json_decref(r);
	portail_client_free(c);
}

static void
test_deadline_exceeded(void **state)
{
	struct fx_daemon d;
	char dir[600], conf2[700], sock2[700], uris[512];
	portail_client *c = NULL;
	json_t *r = NULL;
	portail_error err;
	int st = 0;

	/* Two hung servers: two operation timeouts (2 s each) per attempt,
	 * past the 3 s request deadline. The daemon answers at the deadline. */
	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("deadline"));
	snprintf(sock2, sizeof(sock2), "%s/d.sock", dir);
	snprintf(uris, sizeof(uris), "%s %s", slapd.uri, slapd.uri);
	write_config(dir, "d.conf", sock2, uris, 3, "", conf2, sizeof(conf2));
	if (!fx_daemon_start(&d, dir, conf2, sock2, &st))
		fail_msg("portaild exited %d", st);
	assert_true(fx_stop_process(slapd.pid));
	assert_int_equal(portail_client_new(sock2, 0, &c), PORTAIL_OK);
	assert_int_equal(portail_client_gpi_lookup(c, "chantal.gagnon@exemple.ca", &r, &err),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.message, "deadline"));
	kill(slapd.pid, SIGCONT);
	/* the connection is still good once the directory is back */
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
	assert_int_equal(fx_daemon_stop(&d), 0);
	assert_true(fx_log_has(d.log, "reason=deadline_exceeded"));
}

static void
test_daemon_down_is_unavailable(void **state)
{
	portail_client *c = NULL;
	portail_error err;
	char path[700];

	snprintf(path, sizeof(path), "%s/nothing-here.sock", ddir);
	assert_int_equal(portail_client_new(path, 2000, &c), PORTAIL_OK);
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, &err), PORTAIL_ERR_UNAVAILABLE);
	portail_client_free(c);
}

/* A server that accepts and never answers: the client's deadline holds. */
static void
test_hung_daemon_times_out(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[700];
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	portail_client *c = NULL;
	portail_error err;

	snprintf(path, sizeof(path), "%s/hung.sock", ddir);
	fx_sun(&sa, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(portail_client_new(path, 500, &c), PORTAIL_OK);
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.message, "no answer in time"));
	portail_client_free(c);
	close(lfd);
}

/* A server that answers garbage: unavailable, never a success. */
static void
test_garbage_answer(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[700];
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	portail_client *c = NULL;
	portail_error err;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/garbage.sock", ddir);
	fx_sun(&sa, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	if ((pid = fork()) == 0) {
		static const char *const answers[] = { "hello\n", "{\"v\":1}\n", "[true]\n",
			"{\"v\":1,\"ok\":true}\n{\"v\":1,\"ok\":true}\n" };

		for (int i = 0; i < 4; i++) {
			int fd = accept(lfd, NULL, NULL);
			char buf[256];

			if (read(fd, buf, sizeof(buf)) <= 0 ||
			    write(fd, answers[i], strlen(answers[i])) < 0)
				_exit(1);
			close(fd);
		}
		_exit(0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(portail_client_new(path, 2000, &c), PORTAIL_OK);
		assert_int_equal(portail_client_ping(c, NULL, 0, NULL, &err), PORTAIL_ERR_UNAVAILABLE);
		portail_client_free(c);
	}
	waitpid(pid, NULL, 0);
	close(lfd);
}

static int
forked_ping(void)
{
	portail_client *c = NULL;

	return portail_client_new(sock, 0, &c) == PORTAIL_OK &&
	    portail_client_ping(c, NULL, 0, NULL, NULL) == PORTAIL_OK ? 0 : 1;
}

static void
test_fork_safe(void **state)
{
	portail_client *c = client(0);
	pid_t pid;
	int st;

	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	/* a forked child using the parent's handle gets its own connection */
	if ((pid = fork()) == 0)
		_exit(portail_client_ping(c, NULL, 0, NULL, NULL) == PORTAIL_OK ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(portail_client_ping(c, NULL, 0, NULL, NULL), PORTAIL_OK);
	portail_client_free(c);
	assert_int_equal(as_nobody(forked_ping), 0);
}

/* ---- start-up and shutdown ------------------------------------------------ */

static void
test_refuses_live_socket(void **state)
{
	struct fx_daemon d;
	int st = 0;

	assert_false(fx_daemon_start(&d, fx_tmpdir("second"), conf, sock, &st));
	assert_int_equal(st, 1);
	assert_true(fx_log_has(d.log, "another portaild is running"));
}

static void
test_refuses_bad_config_and_open_key(void **state)
{
	struct fx_daemon d;
	char dir[600], c2[700], s2[700], extra[800];
	int st = 0;

	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("badkey"));
	snprintf(s2, sizeof(s2), "%s/k.sock", dir);
	snprintf(extra, sizeof(extra), "[security]\nkey_file = %s\n",
	    fx_write(dir, "secret.key", "0123456789abcdef0123456789abcdef", 0644));
	write_config(dir, "k.conf", s2, slapd.uri, 6, extra, c2, sizeof(c2));
	assert_false(fx_daemon_start(&d, dir, c2, s2, &st));
	assert_int_equal(st, 2);
	assert_true(fx_log_has(d.log, "[security] key_file"));
	assert_true(fx_log_has(d.log, "chmod 600"));

	write_config(dir, "bad.conf", s2, slapd.uri, 6, "idle_timeout = lots\n", c2, sizeof(c2));
	assert_false(fx_daemon_start(&d, dir, c2, s2, &st));
	assert_int_equal(st, 2);
	assert_true(fx_log_has(d.log, "[daemon] idle_timeout: 'lots' is not a whole number"));
	{
		struct stat sb;

		assert_int_equal(stat(s2, &sb), -1);    /* nothing was started */
	}
}

static void
test_stale_socket_replaced(void **state)
{
	struct fx_daemon d;
	char dir[600], c2[700], s2[700];
	int st = 0;

	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("stale"));
	/* a directory portaild creates, so that it may remove its socket */
	snprintf(s2, sizeof(s2), "%s/run/s.sock", dir);
	write_config(dir, "s.conf", s2, slapd.uri, 6, "", c2, sizeof(c2));
	if (!fx_daemon_start(&d, dir, c2, s2, &st))
		fail_msg("exit %d", st);
	kill(d.pid, SIGKILL);           /* a crash leaves the socket file */
	waitpid(d.pid, NULL, 0);
	assert_int_equal(access(s2, F_OK), 0);
	if (!fx_daemon_start(&d, dir, c2, s2, &st))
		fail_msg("exit %d after a crash", st);
	assert_int_equal(fx_daemon_stop(&d), 0);
	assert_int_equal(access(s2, F_OK), -1);         /* removed on a clean stop */
}

struct inflight {
	portail_status status;
	char message[512];
};

static void *
inflight_lookup(void *arg)
{
	struct inflight *f = arg;
	portail_client *c = NULL;
	json_t *r = NULL;
	portail_error err = { { 0 } };

	portail_client_new(sock, 0, &c);
	f->status = portail_client_gpi_lookup(c, "chantal.gagnon@exemple.ca", &r, &err);
	memcpy(f->message, err.message, sizeof(f->message));
	json_decref(r);
	portail_client_free(c);
	return NULL;
}

/* Last: stops the shared daemon (and starts it again for teardown). */
static void
test_sigterm_finishes_in_flight(void **state)
{
	pthread_t t;
	struct inflight f = { PORTAIL_OK, "" };
	long unread = 0;

	assert_true(fx_stop_process(slapd.pid));
	assert_int_equal(pthread_create(&t, NULL, inflight_lookup, &f), 0);
	/* the request is with a worker, waiting on LDAP: its search sits unread at slapd */
	for (int i = 0; i < 3000 && (unread = fx_slapd_unread(&slapd)) == 0; i++)
		usleep(2000);
	assert_true(unread > 0);
	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	pthread_join(t, NULL);
	kill(slapd.pid, SIGCONT);
	/* the answer came from the request, not from a dropped connection */
	assert_int_equal(f.status, PORTAIL_ERR_UNAVAILABLE);
	assert_non_null(strstr(f.message, "annuaire est indisponible"));
	assert_true(fx_log_has(daemon_.log, "stopping; finishing requests in flight"));
	start_main_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_status_as_admin),
		cmocka_unit_test(test_gpi_lookup_as_admin),
		cmocka_unit_test(test_non_admin_forbidden),
		cmocka_unit_test(test_runs_as_its_user),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_log_keeps_no_secret),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_pipelined_backpressure),
		cmocka_unit_test(test_oversize_garbage),
		cmocka_unit_test(test_half_line_then_close),
		cmocka_unit_test(test_fifty_concurrent_clients),
		cmocka_unit_test(test_slow_and_idle_clients_hold_no_worker),
		cmocka_unit_test(test_oldest_idle_evicted_at_cap),
		cmocka_unit_test(test_directory_hung_mid_request),
		cmocka_unit_test(test_deadline_exceeded),
		cmocka_unit_test(test_daemon_down_is_unavailable),
		cmocka_unit_test(test_hung_daemon_times_out),
		cmocka_unit_test(test_garbage_answer),
		cmocka_unit_test(test_fork_safe),
		cmocka_unit_test(test_refuses_live_socket),
		cmocka_unit_test(test_refuses_bad_config_and_open_key),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_sigterm_finishes_in_flight),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("daemon", tests, group_setup, group_teardown);
}
