/*
 * test_fair.c — one uid cannot take portaild from the others (DESIGN §2,
 * fairness): while uid 65534 floods the daemon with sign-ins that each
 * cost an argon2id (unknown addresses: a dummy verify, rightly), with
 * 200 connections and 60 KiB request lines, root's pings and a root
 * sign-in are all answered ok, the flood is told "busy" or refused
 * connections, and the daemon's peak memory stays within its bound.
 *
 * Counts and states only: what was answered, never how fast.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "fixture.h"
#include "portail-client.h"

#define FLOOD_CONNS 200
#define FLOOD_ROUNDS_MAX 400
#define PAD 60000
#define GOOD_PW "Quatre-chevaux-bleus-dansent"
#define MEM_KIB 16384           /* [password] argon2_memlimit */
#define HASHES 2                /* [daemon] hash_concurrency */

static struct fx_daemon daemon_;
static char dir[600], conf[700], sock[700];

static int
group_setup(void **state)
{
	char text[4096], cmd[1600], phc[crypto_pwhash_STRBYTES];
	int st = 0;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s", fx_tmpdir("fair"));
	snprintf(sock, sizeof(sock), "%s/run/portaild.sock", dir);
	snprintf(text, sizeof(text),
	    /* no directory: sign-ins do not need it */
	    "[gpi]\nuri = ldap://127.0.0.1:%d\nbase = " FX_BASE "\ntimeout = 2\nnetwork_timeout = 1\n[mail]\ntimeout = 2\n"
	    "[daemon]\nsocket = %s\nuser = " FX_DAEMON_USER "\nworkers = 2\nhash_concurrency = %d\n"
	    "request_timeout = 4\nmax_connections = 400\nmax_queued_per_peer = 4\n"
	    "[store]\npath = %s/state/portail.db\n"
	    "[security]\nkey_file = %s/etc/secret.key\n"
	    "[password]\nargon2_memlimit = %d\nargon2_opslimit = 2\n",
	    fx_closed_port(), sock, HASHES, dir, dir, MEM_KIB);
	snprintf(conf, sizeof(conf), "%s", fx_write(dir, "portail.conf", text, 0644));
	if (!fx_init(conf))
		return -1;
	/* one parent's account, written before the daemon opens the store */
	if (crypto_pwhash_str(phc, GOOD_PW, strlen(GOOD_PW), 2, (size_t)MEM_KIB * 1024) != 0)
		return -1;
	snprintf(text, sizeof(text), "INSERT INTO accounts (email_key, email, password_hash, "
	    "created, updated) VALUES ('julie.cote@exemple.ca', 'julie.cote@exemple.ca', '%s', 0, 0);\n",
	    phc);
	/* through a file: the PHC string's '$' must not meet a shell */
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s/state/portail.db' < '%s'", dir,
	    fx_write(dir, "account.sql", text, 0600));
	if (system(cmd) != 0)
		return -1;
	if (!fx_daemon_start(&daemon_, dir, conf, sock, &st))
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	fx_daemon_stop(&daemon_);
	return 0;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	fx_sun(&sa, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one answer line (drops it); false when the connection is gone. */
static bool
read_line(int fd)
{
	char c;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20000) <= 0)
			return false;
		n = read(fd, &c, 1);
		if (n <= 0)
			return false;
		if (c == '\n')
			return true;
	}
}

/*
 * The flood, as uid 65534: FLOOD_CONNS connections, each sending a
 * sign-in for an unknown address padded to PAD bytes, reading its
 * answer, again, until the parent closes stop_fd (bounded by rounds).
 */
static int
flood(int stop_fd)
{
	static int fds[FLOOD_CONNS];
	static char line[PAD + 256];
	int n = snprintf(line, sizeof(line), "{\"v\":1,\"op\":\"auth.password\","
	    "\"email\":\"personne@exemple.ca\",\"password\":\"devine\"%*s}\n", PAD, "");

	for (int i = 0; i < FLOOD_CONNS; i++)
		fds[i] = connect_to(sock);
	for (int round = 0; round < FLOOD_ROUNDS_MAX; round++) {
		struct pollfd p = { .fd = stop_fd, .events = POLLIN };
		int alive = 0;

		if (poll(&p, 1, 0) > 0)
			break;          /* the parent is done */
		for (int i = 0; i < FLOOD_CONNS; i++)
			if (fds[i] >= 0 && send(fds[i], line, (size_t)n, MSG_NOSIGNAL) != n) {
				close(fds[i]);
				fds[i] = -1;
			}
		for (int i = 0; i < FLOOD_CONNS; i++) {
			if (fds[i] >= 0 && !read_line(fds[i])) {
				close(fds[i]);
				fds[i] = -1;
			}
			if (fds[i] >= 0)
				alive++;
		}
		/* refused and closed ones come back, as a flood would */
		for (int i = 0; i < FLOOD_CONNS && alive < FLOOD_CONNS; i++)
			if (fds[i] < 0 && (fds[i] = connect_to(sock)) >= 0)
				alive++;
	}
	return 0;
}

static long
vm_kib(pid_t pid, const char *field)
{
	char path[64], buf[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, field, strlen(field)) == 0)
			v = strtol(buf + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static json_int_t
status_counter(portail_client *c, const char *group, const char *name)
{
	json_t *r = json_pack("{s:s}", "op", "status"), *a = NULL;
	json_int_t v = -1;

	if (portail_client_call(c, r, &a, NULL) == PORTAIL_OK)
		v = json_integer_value(json_object_get(json_object_get(a, group), name));
	json_decref(r);
	json_decref(a);
	return v;
}

static void
test_flood_from_one_uid(void **state)
{
	int stop[2], st, pings_ok = 0, signins_ok = 0, others = 0, lines = 0;
	json_int_t busy, refused;
	portail_client *c = NULL;
	pid_t pid;

	(void)state;
	/* the daemon's clock stands still: the flood is all within one minute of its log */
	fx_clock_advance(&daemon_, 0);
	assert_int_equal(pipe(stop), 0);
	if ((pid = fork()) == 0) {
		close(stop[1]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			_exit(99);
		_exit(flood(stop[0]));
	}
	close(stop[0]);
	/* the flood is under way once the daemon has been told busy */
	assert_int_equal(portail_client_new(sock, 0, &c), PORTAIL_OK);
	for (int i = 0; i < 2000 && status_counter(c, "requests", "busy") < 1; i++)
		usleep(10000);
	assert_true(status_counter(c, "requests", "busy") >= 1);
	for (int i = 0; i < 20; i++) {
		json_t *r = json_pack("{s:s}", "op", "ping");
		portail_status s = portail_client_call(c, r, NULL, NULL);

		json_decref(r);
		s == PORTAIL_OK ? pings_ok++ : others++;
		if (i % 7 == 0) {
			portail_error err = { { 0 } };

			r = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email",
			    "julie.cote@exemple.ca", "password", GOOD_PW);
			s = portail_client_call(c, r, NULL, &err);
			json_decref(r);
			if (s == PORTAIL_OK)
				signins_ok++;
			else
				print_message("# root sign-in: %s\n", err.message);
		}
	}
	/* still under flood when root was done */
	assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
	close(stop[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(pings_ok, 20);
	assert_int_equal(others, 0);
	assert_int_equal(signins_ok, 3);
	/* the flood got "busy" answers and refused connections, not root's turns */
	print_message("# busy %lld, connections refused %lld, dropped late %lld, "
	    "peak RSS %ld KiB\n", (long long)status_counter(c, "requests", "busy"),
	    (long long)status_counter(c, "connections", "refused"),
	    (long long)status_counter(c, "requests", "dropped_late"), vm_kib(daemon_.pid, "VmHWM:"));
	assert_true(status_counter(c, "connections", "refused") + status_counter(c, "connections",
	    "evicted") >= 1);
	/* memory: the hashes in flight and 64 MiB, whatever the flood queued */
	assert_true(vm_kib(daemon_.pid, "VmHWM:") > 0);
	assert_true(vm_kib(daemon_.pid, "VmHWM:") < HASHES * MEM_KIB + 64 * 1024);
	/* the flood's connections all gone, its refusals are all counted */
	for (int i = 0; i < 2000 && status_counter(c, "connections", "open") > 1; i++)
		usleep(10000);
	assert_int_equal(status_counter(c, "connections", "open"), 1);
	busy = status_counter(c, "requests", "busy");
	refused = status_counter(c, "connections", "refused");
	portail_client_free(c);
	/*
	 * One summary line per uid per minute, not one per refusal: the first
	 * at once, the rest of the minute's count once the minute is over (the
	 * daemon's clock moved on), or when the daemon stops; the counts add
	 * up to the refusals.
	 */
	fx_clock_advance(&daemon_, 60);
	for (int i = 0; i < 2000 && fx_log_counts(daemon_.log, "uid=65534 result=busy count=",
	    &lines) < busy; i++)
		usleep(10000);
	assert_int_equal(fx_daemon_stop(&daemon_), 0);
	assert_int_equal(fx_log_counts(daemon_.log, "uid=65534 result=busy count=", &lines), busy);
	print_message("# %lld busy answers in %d log lines\n", (long long)busy, lines);
	assert_true(lines >= 1 && lines <= 2);
	assert_int_equal(fx_log_counts(daemon_.log, "uid=65534 result=connection_refused count=",
	    &lines), refused);
	print_message("# %lld connections refused in %d log lines\n", (long long)refused, lines);
	assert_true(lines <= 4);        /* two kinds: its share, and all */
	assert_false(fx_log_has(daemon_.log, "connection from uid="));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_from_one_uid),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fair", tests, group_setup, group_teardown);
}
