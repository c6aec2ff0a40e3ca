/*
 * bench_flows — the costs of the parent's flows.
 *
 *   bench_flows CONFIG [ROUNDS]
 *
 * CONFIG is the running portaild's configuration (script/bench starts
 * one); this program opens the same store and key to prepare accounts
 * and codes, then measures, interleaved round by round:
 *
 *  1. sign-in latency through portaild (auth.password, one client)
 *     against the bare crypto_pwhash_str_verify of the same PHC string:
 *     what portail adds to the physical limit (target median ratio <= 1.10);
 *  2. code.verify throughput through portaild, 8 client threads
 *     (target >= 5,000/s);
 *  3. an in-process sign-in (store lookup + argon2id verify) with 1,000
 *     and with 1,000,000 accounts in the store (target ratio <= 1.10),
 *     the lookup alone, and the store's size per account.
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

static double
one_signin(portail_client *c)
{
	json_t *r = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email",
	    "bench-0@exemple.ca", "password", PASSWORD);
	double t0 = bench_now_us();
	portail_status s = portail_client_call(c, r, NULL, NULL);
	double dt = bench_now_us() - t0;

	json_decref(r);
	if (s != PORTAIL_OK)
		die("auth.password refused: is portaild running on CONFIG?");
	return dt;
}

static double
one_verify(void)
{
	double t0 = bench_now_us();

	if (crypto_pwhash_str_verify(phc, PASSWORD, strlen(PASSWORD)) != 0)
		die("bare verify failed");
	return bench_now_us() - t0;
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

/* One in-process sign-in: the store lookup, then argon2id; *lookup gets the first part. */
static double
local_signin(struct population *p, double *lookup)
{
	struct portail_account a;
	char email[64], *k = NULL;
	double t0, t1;

	snprintf(email, sizeof(email), "bench-%ld@exemple.ca", (long)randombytes_uniform((uint32_t)p->n));
	t0 = bench_now_us();
	if (portail_email_key(email, &k, NULL) != PORTAIL_OK ||
	    portail_store_account_get(p->st, k, &a, NULL) != PORTAIL_OK)
		die("lookup");
	t1 = bench_now_us();
	if (portail_password_verify(a.password_hash, PASSWORD) != 0)
		die("verify");
	*lookup = t1 - t0;
	portail_account_clear(&a);
	free(k);
	return bench_now_us() - t0;
}

static double
lookup_only(struct population *p)
{
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
	int rounds = 5, failures = 0;
	portail_client *c = NULL;
	enum { SIGNINS = 8, LOCAL = 8, LOOKUPS = 2000 };

	if (argc < 2) {
		fprintf(stderr, "usage: bench_flows CONFIG [ROUNDS]\n");
		return 2;
	}
	if (argc > 2 && (rounds = atoi(argv[2])) < 1)
		return 2;
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
		double *via = calloc((size_t)rounds * SIGNINS, sizeof(double));
		double *bare = calloc((size_t)rounds * SIGNINS, sizeof(double));
		double *rates = calloc((size_t)rounds, sizeof(double));
		size_t k = 0;

		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < SIGNINS; i++, k++) {
				via[k] = one_signin(c);
				bare[k] = one_verify();
			}
			insert_codes(cfg->store_path, VERIFY_BATCH);
			rates[r] = verify_rate(&failures);
		}
		{
			double mv = bench_median(via, k), mb = bench_median(bare, k);

			printf("## sign-in through portaild vs bare argon2id verify (t=%d, m=%d KiB)\n\n",
			    cfg->password.argon2_opslimit, cfg->password.argon2_memlimit_kib);
			printf("| samples | portaild median ms | bare verify median ms | ratio |\n");
			printf("|---|---|---|---|\n");
			printf("| %zu | %.2f | %.2f | %.3f |\n\n", k, mv / 1000, mb / 1000, mv / mb);
		}
		printf("## code.verify through portaild (%d client threads, %d codes per round)\n\n",
		    THREADS, VERIFY_BATCH);
		printf("| rounds | median verifications/s | failures |\n|---|---|---|\n");
		printf("| %d | %.0f | %d |\n\n", rounds, bench_median(rates, (size_t)rounds), failures);
		free(via);
		free(bare);
		free(rates);
	}

	/* 3 */
	{
		struct population small, big;
		char dir[512];
		double *ls = calloc((size_t)rounds * LOCAL, sizeof(double));
		double *lb = calloc((size_t)rounds * LOCAL, sizeof(double));
		double *us = calloc((size_t)rounds * LOOKUPS, sizeof(double));
		double *ub = calloc((size_t)rounds * LOOKUPS, sizeof(double));
		double lookup;
		struct stat sb_small, sb_big;
		size_t k = 0, q = 0;

		snprintf(dir, sizeof(dir), "%s", getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp");
		populate(&small, dir, 1000);
		populate(&big, dir, 1000000);
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < LOCAL; i++, k++) {
				ls[k] = local_signin(&small, &lookup);
				lb[k] = local_signin(&big, &lookup);
			}
			for (int i = 0; i < LOOKUPS; i++, q++) {
				us[q] = lookup_only(&small);
				ub[q] = lookup_only(&big);
			}
		}
		/* closing checkpoints the WAL into the file: then its size is the store's */
		portail_store_close(small.st);
		portail_store_close(big.st);
		stat(small.path, &sb_small);
		stat(big.path, &sb_big);
		printf("## sign-in with 1,000 vs 1,000,000 accounts in the store (in-process)\n\n");
		printf("| measure | 1k median | 1M median | ratio |\n|---|---|---|---|\n");
		{
			double a = bench_median(ls, k), b = bench_median(lb, k), c2 = bench_median(us, q), d = bench_median(ub, q);

			printf("| sign-in (lookup + argon2id), ms | %.2f | %.2f | %.3f |\n", a / 1000,
			    b / 1000, b / a);
			printf("| store lookup alone, µs | %.1f | %.1f | %.2f |\n", c2, d, d / c2);
		}
		printf("| store size per account, bytes | %.0f | %.0f | |\n\n",
		    (double)sb_small.st_size / 1000, (double)sb_big.st_size / 1000000);
		unlink(small.path);
		unlink(big.path);
		free(ls);
		free(lb);
		free(us);
		free(ub);
	}
	portail_client_free(c);
	portail_key_free(key);
	portail_config_free(cfg);
	return 0;
}
