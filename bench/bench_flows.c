/*
 * bench_flows — the costs of the parent's flows.
 *
 *   bench_flows CONFIG [ROUNDS] [PAIRS]
 *
 * CONFIG is the running portaild's configuration (script/bench starts
 * one); this program opens the same store and key to prepare accounts
 * and codes, then measures, interleaved round by round:
 *
 *  1. sign-in latency through portaild (auth.password, one client), each
 *     paired with the bare crypto_pwhash_str_verify of the same PHC string
 *     run right before or after it (bench.h: paired samples), PAIRS
 *     (default 100) spread over the ROUNDS (default 5): what portail adds
 *     to the physical limit, per pair (target: median ratio <= 1.10);
 *  2. code.verify throughput through portaild, 8 client threads
 *     (target >= 5,000/s);
 *  3. an in-process sign-in (store lookup + argon2id verify) with 1,000
 *     paired with one with 1,000,000 accounts in the store (target: median
 *     ratio <= 1.10), the lookup alone paired likewise, and the store's
 *     size per account.
 *
 * Accounts and codes are written straight into the store's tables (a
 * million sign-ups through the flows would take hours of argon2id).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "codes.h"
#include "bench.h"
#include "config.h"
#include "email.h"
#include "key.h"
#include "password.h"
#include "portail-client.h"
#include "store.h"

#define PASSWORD "Quatre-chevaux-bleus-dansent"
#define VERIFY_BATCH 20000
#define THREADS 8

static portail_config *cfg;
static portail_key *key;
static char phc[crypto_pwhash_STRBYTES];

static void
die(const char *what)
{
	fprintf(stderr, "bench_flows: %s\n", what);
	exit(1);
}

/* Inserts accounts bench-<from>..bench-<to-1>@exemple.ca with the PHC string. */
static void
insert_accounts(const char *path, long from, long to)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO accounts (email_key, email, "
	    "password_hash, created, updated) VALUES (?1, ?1, ?2, 0, 0)", -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	for (long i = from; i < to; i++) {
		char email[64];

		snprintf(email, sizeof(email), "bench-%ld@exemple.ca", i);
		sqlite3_bind_text(s, 1, email, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, phc, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* Pending sign-up verifications with the code 123456 for verify-<i>@exemple.ca. */
static void
insert_codes(const char *path, int n)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	time_t t = time(NULL);

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO verifications (email_key, purpose, "
	    "email, code_hash, created, expires, tries_left) VALUES (?1, 'signup', ?1, ?2, ?3, ?4, 5)",
	    -1, &s, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	for (int i = 0; i < n; i++) {
		char email[64];
		unsigned char h[PORTAIL_HASH_BYTES];

		snprintf(email, sizeof(email), "verify-%d@exemple.ca", i);
		portail_code_hash(key, email, "signup", "123456", h);
		sqlite3_bind_text(s, 1, email, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 2, h, sizeof(h), SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)t);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)t + 3600);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* ---- 1. sign-in through portaild vs the bare verify ----------------------------- */

static struct bench_procs procs;   /* whose CPU time a sample counts */

static struct bench_cost
one_signin(portail_client *c)
{
	json_t *r = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email",
	    "bench-0@exemple.ca", "password", PASSWORD);
	struct bench_cost t0 = bench_cost_start(&procs);
	portail_status s = portail_client_call(c, r, NULL, NULL);
	struct bench_cost dt = bench_cost_since(&procs, t0);

	json_decref(r);
	if (s != PORTAIL_OK)
		die("auth.password refused: is portaild running on CONFIG?");
	return dt;
}

static struct bench_cost
one_verify(void)
{
	struct bench_cost t0 = bench_cost_start(&procs);

	if (crypto_pwhash_str_verify(phc, PASSWORD, strlen(PASSWORD)) != 0)
		die("bare verify failed");
	return bench_cost_since(&procs, t0);
}

/* ---- 2. code.verify throughput --------------------------------------------------- */

struct vthread {
	pthread_t t;
	int from, to, failures;
};

static void *
verify_worker(void *arg)
{
	struct vthread *v = arg;
	portail_client *c = NULL;

	if (portail_client_new(cfg->daemon.socket, 0, &c) != PORTAIL_OK)
		return NULL;
	for (int i = v->from; i < v->to; i++) {
		char email[64];
		json_t *r;

		snprintf(email, sizeof(email), "verify-%d@exemple.ca", i);
		r = json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email", email,
		    "purpose", "signup", "code", "123456");
		if (portail_client_call(c, r, NULL, NULL) != PORTAIL_OK)
			v->failures++;
		json_decref(r);
	}
	portail_client_free(c);
	return NULL;
}

static double
verify_rate(int *failures)
{
	struct vthread v[THREADS];
	double t0 = bench_now_us();

	for (int i = 0; i < THREADS; i++) {
		v[i].from = i * (VERIFY_BATCH / THREADS);
		v[i].to = (i + 1) * (VERIFY_BATCH / THREADS);
		v[i].failures = 0;
		pthread_create(&v[i].t, NULL, verify_worker, &v[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(v[i].t, NULL);
		*failures += v[i].failures;
	}
	return VERIFY_BATCH / ((bench_now_us() - t0) / 1e6);
}

/* ---- 3. 1k vs 1M accounts --------------------------------------------------------- */

struct population {
	long n;
	char path[512];
	portail_store *st;
};

static void
populate(struct population *p, const char *dir, long n)
{
	portail_error err;

	p->n = n;
	snprintf(p->path, sizeof(p->path), "%s/bench-%ld.db", dir, n);
	unlink(p->path);
	if (portail_store_open(p->path, &p->st, &err) != PORTAIL_OK)
		die(err.message);
	for (long from = 0; from < n; from += 100000)
		insert_accounts(p->path, from, from + 100000 < n ? from + 100000 : n);
}

/* One in-process sign-in on population p: the store lookup, then argon2id. */
static double
local_signin(void *arg)
{
	struct population *p = arg;
	struct portail_account a;
	char email[64], *k = NULL;
	double t0;

	snprintf(email, sizeof(email), "bench-%ld@exemple.ca", (long)randombytes_uniform((uint32_t)p->n));
	t0 = bench_now_us();
	if (portail_email_key(email, &k, NULL) != PORTAIL_OK ||
	    portail_store_account_get(p->st, k, &a, NULL) != PORTAIL_OK)
		die("lookup");
	if (portail_password_verify(a.password_hash, PASSWORD) != 0)
		die("verify");
	portail_account_clear(&a);
	free(k);
	return bench_now_us() - t0;
}

static double
lookup_only(void *arg)
{
	struct population *p = arg;
	struct portail_account a;
	char email[64], *k = NULL;
	double t0 = bench_now_us();

	snprintf(email, sizeof(email), "bench-%ld@exemple.ca", (long)randombytes_uniform((uint32_t)p->n));
	if (portail_email_key(email, &k, NULL) != PORTAIL_OK ||
	    portail_store_account_get(p->st, k, &a, NULL) != PORTAIL_OK)
		die("lookup");
	portail_account_clear(&a);
	free(k);
	return bench_now_us() - t0;
}

int
main(int argc, char **argv)
{
	portail_error err;
	int rounds = 5, pairs = 100, failures = 0;
	portail_client *c = NULL;
	enum { LOCAL = 8, LOOKUPS = 2000 };

	if (argc < 2) {
		fprintf(stderr, "usage: bench_flows CONFIG [ROUNDS] [PAIRS]\n");
		return 2;
	}
	if (argc > 2)
		rounds = bench_arg_int(argv[2], 1, 1000, "ROUNDS");
	if (argc > 3)
		pairs = bench_arg_int(argv[3], 2, 100000, "PAIRS");
	if (sodium_init() < 0 || portail_config_load(argv[1], &cfg, &err) != PORTAIL_OK ||
	    portail_key_load(cfg->key_file, &key, &err) != PORTAIL_OK)
		die(err.message);
	if (portail_password_hash(&cfg->password, PASSWORD, phc, &err) != PORTAIL_OK)
		die(err.message);
	insert_accounts(cfg->store_path, 0, 1);
	if (portail_client_new(cfg->daemon.socket, 0, &c) != PORTAIL_OK)
		die("client");

	/* 1 and 2, interleaved */
	{
		int per_round = (pairs + rounds - 1) / rounds;
		struct bench_pairs sign, sign_cpu;
		double *rates = bench_values((size_t)rounds);
		double load0 = bench_loadavg(), t0 = bench_now_us(), budget = bench_budget_s() * 1e6;
		bool cpu = bench_procs_from_env(&procs);

		bench_pairs_init(&sign, (size_t)per_round * (size_t)rounds);
		bench_pairs_init(&sign_cpu, (size_t)per_round * (size_t)rounds);
		size_t cap = (size_t)per_round * (size_t)rounds, logged = 0;
		double *hash = bench_values(cap), *own = bench_values(cap);
		FILE *log;

		(void)one_signin(c);            /* warm: the connection, the statements */
		log = bench_log_open();
		for (int r = 0; r < rounds; r++) {
			/* past the time budget, the rounds go on without sign-ins */
			for (int i = 0; i < per_round && bench_now_us() - t0 < budget; i++) {
				struct bench_cost v, b;

				if (bench_pair_reference_first(sign.n)) {
					b = one_verify();
					v = one_signin(c);
				} else {
					v = one_signin(c);
					b = one_verify();
				}
				/* the hash portaild ran for this very sign-in, from its log */
				if (log != NULL && logged == sign.n &&
				    bench_log_take(log, "auth.password", &hash[logged], 1) == 1) {
					own[logged] = v.wall - hash[logged];
					logged++;
				}
				bench_pairs_add(&sign, v.wall, b.wall);
				bench_pairs_add(&sign_cpu, v.cpu, b.cpu);
			}
			insert_codes(cfg->store_path, VERIFY_BATCH);
			rates[r] = verify_rate(&failures);
		}
		printf("## sign-in through portaild vs bare argon2id verify (t=%d, m=%d KiB)\n\n",
		    cfg->password.argon2_opslimit, cfg->password.argon2_memlimit_kib);
		printf("%zu pairs, load average (1 min) %.2f at the start, %.2f at the end.\n\n",
		    sign.n, load0, bench_loadavg());
		fputs("| wall time " BENCH_ROW_HEADER BENCH_ROW_RULE, stdout);
		bench_print_row("auth.password through portaild, ms", bench_pairs_side(&sign, 'a'), 1000, "");
		bench_print_row("bare verify, ms", bench_pairs_side(&sign, 'b'), 1000, "");
		bench_print_row("**overhead: portaild − bare verify, per pair, ms**", bench_pairs_diff(&sign),
		    1000, "");
		bench_print_row("**portaild / bare verify, per pair**", bench_pairs_ratio(&sign), 1, "<= 1.10");
		printf("| (unpaired: ratio of the two medians) | %.3f | | | | |\n\n",
		    bench_pairs_side(&sign, 'a').median / bench_pairs_side(&sign, 'b').median);
		bench_print_within("auth.password", hash, own, logged, sign.n, "");
		if (log != NULL)
			fclose(log);
		free(hash);
		free(own);
		if (cpu) {
			fputs("| CPU time (this process, portaild, slapd) " BENCH_ROW_HEADER
			    BENCH_ROW_RULE, stdout);
			bench_print_row("auth.password through portaild, ms", bench_pairs_side(&sign_cpu, 'a'), 1000,
			    "");
			bench_print_row("bare verify, ms", bench_pairs_side(&sign_cpu, 'b'), 1000, "");
			bench_print_row("**overhead: portaild − bare verify, per pair, ms**",
			    bench_pairs_diff(&sign_cpu), 1000, "");
			bench_print_row("**portaild / bare verify, per pair**", bench_pairs_ratio(&sign_cpu), 1, "");
			printf("\n");
		}
		printf("## code.verify through portaild (%d client threads, %d codes per round)\n\n",
		    THREADS, VERIFY_BATCH);
		printf("| rounds | median verifications/s | failures |\n|---|---|---|\n");
		printf("| %d | %.0f | %d |\n\n", rounds, bench_median(rates, (size_t)rounds), failures);
		bench_pairs_dump(&sign, "signin-bare");
		bench_pairs_dump(&sign_cpu, "signin-bare-cpu");
		bench_pairs_free(&sign);
		bench_pairs_free(&sign_cpu);
		free(rates);
	}

	/* 3 */
	{
		struct population small, big;
		char dir[512];
		struct bench_pairs ls, us;
		struct bench_spread a, b, q, c2, d, u;
		struct stat sb_small, sb_big;

		snprintf(dir, sizeof(dir), "%s", getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp");
		populate(&small, dir, 1000);
		populate(&big, dir, 1000000);
		bench_pairs_init(&ls, (size_t)rounds * LOCAL);
		bench_pairs_init(&us, (size_t)rounds * LOOKUPS);
		/* pairs: a is the million, b the thousand */
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < LOCAL; i++)
				bench_pairs_run(&ls, local_signin, &big, local_signin, &small);
			for (int i = 0; i < LOOKUPS; i++)
				bench_pairs_run(&us, lookup_only, &big, lookup_only, &small);
		}
		/* closing checkpoints the WAL into the file: then its size is the store's */
		portail_store_close(small.st);
		portail_store_close(big.st);
		stat(small.path, &sb_small);
		stat(big.path, &sb_big);
		a = bench_pairs_side(&ls, 'b');
		b = bench_pairs_side(&ls, 'a');
		q = bench_pairs_ratio(&ls);
		c2 = bench_pairs_side(&us, 'b');
		d = bench_pairs_side(&us, 'a');
		u = bench_pairs_ratio(&us);
		printf("## sign-in with 1,000 vs 1,000,000 accounts in the store (in-process)\n\n");
		printf("| measure | pairs | 1k median | 1M median | 1M / 1k per pair: median | IQR | target |\n");
		printf("|---|---|---|---|---|---|---|\n");
		printf("| sign-in (lookup + argon2id), ms | %zu | %.2f | %.2f | %.3f | %.3f | <= 1.10 |\n",
		    ls.n, a.median / 1000, b.median / 1000, q.median, bench_iqr(q));
		printf("| store lookup alone, µs | %zu | %.1f | %.1f | %.2f | %.2f | |\n", us.n,
		    c2.median, d.median, u.median, bench_iqr(u));
		printf("| store size per account, bytes | | %.0f | %.0f | | | |\n\n",
		    (double)sb_small.st_size / 1000, (double)sb_big.st_size / 1000000);
		unlink(small.path);
		unlink(big.path);
		bench_pairs_free(&ls);
		bench_pairs_free(&us);
	}
	portail_client_free(c);
	portail_key_free(key);
	portail_config_free(cfg);
	return 0;
}
