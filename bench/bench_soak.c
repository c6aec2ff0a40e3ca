/*
 * bench_soak — a long mixed load on portaild, from several processes,
 * while portaild's resident memory and open descriptors are sampled.
 *
 *   bench_soak CONFIG SOCKET DAEMON_PID [SECONDS] [TOKEN]
 *
 * For SECONDS (default 600), as root: right sign-ins of a parent with a
 * password, wrong ones of another parent (who locks, as designed),
 * sign-ins of an address with no account, code requests, token.verify
 * with a live token (TOKEN) and a forged one; as uid 65534, a flood of
 * sign-ins and pings from four processes that never pause. Every 10 s:
 * portaild's VmRSS and the number of its open descriptors
 * (/proc/PID/status, /proc/PID/fd). Every answer is checked against the
 * ones its request may get (the enumeration rules: uid 65534 sees
 * refused, never unknown or locked); any other one is counted and the
 * first few printed. Exit 1 when an answer was unexpected, or the
 * descriptors at the end are more than at the first sample plus 8.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "config.h"
#include "portail.h"
#include "portail-client.h"
#include "protocol.h"

#define RIGHT_PARENT "chantal.gagnon@exemple.ca"
#define WRONG_PARENT "marc.roy@exemple.ca"
#define NOBODY_ADDR "personne@exemple.ca"
#define PASSWORD "Quatre-chevaux-bleus-dansent"
#define FORGED "ptk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

enum kind { K_RIGHT, K_WRONG, K_NOACCOUNT, K_CODE, K_TOKEN, K_FORGED, K_FLOOD_SIGNIN,
	K_FLOOD_PING, K_N };

static const char *const kind_name[K_N] = { "sign-in, right password", "sign-in, wrong password",
	"sign-in, no account", "code.request", "token.verify, live", "token.verify, forged",
	"uid 65534: sign-in flood", "uid 65534: ping flood" };

/* Shared between the processes (MAP_SHARED before fork). */
struct shared {
	atomic_bool stop;
	atomic_long answers[K_N];
	atomic_long unexpected[K_N];
	atomic_long by_status[K_N][32];
	atomic_int printed;
};

static struct shared *sh;
static const char *sock;
static char token[128];

static void
die(const char *what)
{
	fprintf(stderr, "bench_soak: %s\n", what);
	exit(2);
}

/* The answers a request of this kind may get. */
static bool
expected(enum kind k, portail_status s)
{
	switch (k) {
	case K_RIGHT:
	case K_TOKEN:
		return s == PORTAIL_OK;
	case K_WRONG:
		return s == PORTAIL_ERR_REFUSED || s == PORTAIL_ERR_LOCKED;
	case K_NOACCOUNT:
		return s == PORTAIL_ERR_UNKNOWN;
	case K_CODE:
		return s == PORTAIL_OK || s == PORTAIL_ERR_TOO_SOON || s == PORTAIL_ERR_RATE_LIMITED;
	case K_FORGED:
		return s == PORTAIL_ERR_REFUSED;
	case K_FLOOD_SIGNIN:
		return s == PORTAIL_ERR_REFUSED || s == PORTAIL_ERR_BUSY;
	case K_FLOOD_PING:
		return s == PORTAIL_OK || s == PORTAIL_ERR_BUSY;
	default:
		return false;
	}
}

static json_t *
request(enum kind k, unsigned n)
{
	switch (k) {
	case K_RIGHT:
		return json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", RIGHT_PARENT,
		    "password", PASSWORD);
	case K_WRONG:
		return json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", WRONG_PARENT,
		    "password", "mauvais");
	case K_NOACCOUNT:
	case K_FLOOD_SIGNIN:
		return json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", NOBODY_ADDR,
		    "password", "mauvais");
	case K_CODE:
		return json_pack("{s:s, s:s, s:s}", "op", "code.request", "email",
		    n % 2 ? "julie.cote@exemple.ca" : NOBODY_ADDR, "purpose", "signup");
	case K_TOKEN:
		return json_pack("{s:s, s:s}", "op", "token.verify", "token", token);
	case K_FORGED:
		return json_pack("{s:s, s:s}", "op", "token.verify", "token", FORGED);
	case K_FLOOD_PING:
		return json_pack("{s:s}", "op", "ping");
	default:
		return NULL;
	}
}

/* One process: kinds in turn on one kept connection, until told to stop. */
static void
worker(const enum kind *kinds, size_t n_kinds)
{
	portail_client *c = NULL;

	if (portail_client_new(sock, 0, &c) != PORTAIL_OK)
		_exit(2);
	for (unsigned n = 0; !atomic_load(&sh->stop); n++) {
		enum kind k = kinds[n % n_kinds];
		json_t *req = request(k, n);
		portail_error err = { { 0 } };
		portail_status s = portail_client_call(c, req, NULL, &err);

		json_decref(req);
		atomic_fetch_add(&sh->answers[k], 1);
		atomic_fetch_add(&sh->by_status[k][(unsigned)s < 32 ? (unsigned)s : 31], 1);
		if (!expected(k, s)) {
			atomic_fetch_add(&sh->unexpected[k], 1);
			if (atomic_fetch_add(&sh->printed, 1) < 10)
				fprintf(stderr, "unexpected: %s: %s (%s)\n", kind_name[k],
				    portail_proto_error_name(s), err.message);
		}
	}
	portail_client_free(c);
	_exit(0);
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long
open_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The parents' accounts, straight into the store (as bench_pam does). */
static void
make_accounts(const char *config)
{
	portail_config *cfg = NULL;
	portail_error err;
	char phc[crypto_pwhash_STRBYTES];
	sqlite3 *db;
	sqlite3_stmt *s;
	static const char *const who[] = { RIGHT_PARENT, WRONG_PARENT };

	if (sodium_init() < 0 || portail_config_load(config, &cfg, &err) != PORTAIL_OK)
		die(err.message);
	if (crypto_pwhash_str(phc, PASSWORD, strlen(PASSWORD),
	    (unsigned long long)cfg->password.argon2_opslimit,
	    (size_t)cfg->password.argon2_memlimit_kib * 1024u) != 0)
		die("argon2id");
	if (sqlite3_open(cfg->store_path, &db) != SQLITE_OK)
		die("store");
	sqlite3_busy_timeout(db, 10000);
	for (size_t i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO accounts (email_key, email, "
		    "password_hash, created, updated) VALUES (?1, ?1, ?2, 0, 0)", -1, &s, NULL) !=
		    SQLITE_OK)
			die(sqlite3_errmsg(db));
		sqlite3_bind_text(s, 1, who[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, phc, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	portail_config_free(cfg);
}

static void
issue_token(void)
{
	portail_client *c = NULL;
	json_t *req = json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email", RIGHT_PARENT,
	    "label", "soak"), *resp = NULL;

	if (portail_client_new(sock, 0, &c) != PORTAIL_OK ||
	    portail_client_call(c, req, &resp, NULL) != PORTAIL_OK)
		die("token.issue");
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(resp, "token")));
	json_decref(resp);
	json_decref(req);
	portail_client_free(c);
}

int
main(int argc, char **argv)
{
	static const enum kind root_signins[] = { K_RIGHT, K_WRONG, K_NOACCOUNT };
	static const enum kind root_codes[] = { K_CODE };
	static const enum kind root_tokens[] = { K_TOKEN, K_FORGED };
	static const enum kind flood[] = { K_FLOOD_SIGNIN, K_FLOOD_PING, K_FLOOD_PING };
	pid_t daemon_pid, kids[16];
	int n_kids = 0, seconds = 600, rc = 0;
	long rss0 = -1, fds0 = -1, rss_max = 0, rss_last = 0, fds_last = 0, fds_max = 0;
	long unexpected = 0;
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_soak CONFIG SOCKET DAEMON_PID [SECONDS] [TOKEN]\n");
		return 2;
	}
	sock = argv[2];
	daemon_pid = (pid_t)strtol(argv[3], NULL, 10);
	if (argc > 4 && ((seconds = (int)strtol(argv[4], NULL, 10)) < 10 || seconds > 86400))
		die("SECONDS: 10 to 86400");
	if (daemon_pid <= 0 || rss_kib(daemon_pid) < 0)
		die("DAEMON_PID: no such process");
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	memset(sh, 0, sizeof(*sh));
	make_accounts(argv[1]);
	if (argc > 5)
		snprintf(token, sizeof(token), "%s", argv[5]);
	else
		issue_token();

	printf("## Soak: %d s of mixed load (portaild's RSS and descriptors every 10 s)\n\n",
	    seconds);
	printf("| t (s) | RSS (KiB) | open fds | answers so far |\n|---|---|---|---|\n");
	fflush(stdout);
#define SPAWN(kinds, as_nobody) do {                                                        \
		pid_t p_ = fork();                                                          \
		if (p_ < 0)                                                                 \
			die("fork");                                                        \
		if (p_ == 0) {                                                              \
			if ((as_nobody) && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || \
			    setuid(65534) != 0))                                            \
				_exit(2);                                                   \
			worker(kinds, sizeof(kinds) / sizeof(kinds[0]));                    \
		}                                                                           \
		kids[n_kids++] = p_;                                                        \
	} while (0)
	SPAWN(root_signins, false);
	SPAWN(root_signins, false);
	SPAWN(root_codes, false);
	SPAWN(root_tokens, false);
	for (int i = 0; i < 4; i++)
		SPAWN(flood, true);
	t0 = bench_now_us();
	for (int tick = 0; ; tick++) {
		double target = t0 + tick * 10e6;
		long total = 0, rss, fds;

		while (bench_now_us() < target)
			usleep(100000);
		rss = rss_kib(daemon_pid);
		fds = open_fds(daemon_pid);
		if (rss < 0 || fds < 0) {
			fprintf(stderr, "bench_soak: portaild is gone\n");
			rc = 1;
			break;
		}
		for (int k = 0; k < K_N; k++)
			total += atomic_load(&sh->answers[k]);
		printf("| %d | %ld | %ld | %ld |\n", tick * 10, rss, fds, total);
		fflush(stdout);
		if (tick == 1) {        /* after the first 10 s: warmed up */
			rss0 = rss;
			fds0 = fds;
		}
		if (tick >= 1) {
			rss_max = rss > rss_max ? rss : rss_max;
			fds_max = fds > fds_max ? fds : fds_max;
		}
		rss_last = rss;
		fds_last = fds;
		if (tick * 10 >= seconds)
			break;
	}
	atomic_store(&sh->stop, true);
	for (int i = 0; i < n_kids; i++)
		waitpid(kids[i], NULL, 0);

	printf("\n| requests | answers | unexpected | answers by status |\n|---|---|---|---|\n");
	for (int k = 0; k < K_N; k++) {
		char by[256] = "";
		size_t used = 0;

		for (int s = 0; s < 32; s++) {
			long n = atomic_load(&sh->by_status[k][s]);
			int w;

			if (n == 0)
				continue;
			w = snprintf(by + used, sizeof(by) - used, "%s%s %ld", used ? ", " : "",
			    s == PORTAIL_OK ? "ok" : portail_proto_error_name((portail_status)s), n);
			if (w < 0 || (size_t)w >= sizeof(by) - used)
				break;
			used += (size_t)w;
		}
		unexpected += atomic_load(&sh->unexpected[k]);
		printf("| %s | %ld | %ld | %s |\n", kind_name[k], atomic_load(&sh->answers[k]),
		    atomic_load(&sh->unexpected[k]), by);
	}
	printf("\nRSS after 10 s %ld KiB, at most %ld, at the end %ld; open fds after 10 s %ld, "
	    "at most %ld, at the end %ld; unexpected answers: %ld.\n\n", rss0, rss_max, rss_last,
	    fds0, fds_max, fds_last, unexpected);
	if (unexpected > 0 || fds_last > fds0 + 8)
		rc = 1;
	return rc;
}
