/*
 * bench_backends — portaild on each store backend, in one run (issue 16
 * item 8): the same requests through portaild on SQLite and on
 * PostgreSQL (alone, and synchronously replicated).
 *
 *   bench_backends ROUNDS PAIRS NAME=CONFIG NAME=CONFIG...
 *
 * Each CONFIG is a running portaild's configuration (script/bench
 * backends starts them, one per store, the rest of the configuration the
 * same); the first is the reference (SQLite). The program writes one
 * account and, each round, a batch of pending codes straight into each
 * store's tables (by SQL: the tables are the same on both backends),
 * issues one token through each daemon, then measures, round by round:
 *
 *  1. sign-in (auth.password, one client): each other daemon's sign-in
 *     paired with the reference's, run back to back in alternating order
 *     (bench.h: paired samples), PAIRS spread over the ROUNDS; the per
 *     pair ratio (target: <= 1.02);
 *  2. code.verify through each daemon, 8 client threads, VERIFY_BATCH
 *     codes (target on the replicated store: >= 2,000/s);
 *  3. token.verify through each daemon, 8 client threads.
 *
 * Medians over the rounds for 2 and 3.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "bench.h"
#include "codes.h"
#include "config.h"
#include "key.h"
#include "password.h"
#include "portail-client.h"

#define PASSWORD "Quatre-chevaux-bleus-dansent"
#define SIGNIN_EMAIL "bench-0@exemple.ca"
/* token.verify checks the access too: a parent on the sample records */
#define TOKEN_EMAIL "chantal.gagnon@exemple.ca"
#define MAX_BACKENDS 4
enum { THREADS = 8, VERIFY_BATCH = 8000, TOKEN_VERIFIES = 8000 };

struct backend {
	const char *name;
	portail_config *cfg;
	portail_key *key;
	char token[256];
	int round;              /* the codes' batch: verify-R-I@exemple.ca */
	double *code_rates, *token_rates;
	int code_failures, token_failures;
};

static struct backend be[MAX_BACKENDS];
static int nbe;
static char phc[crypto_pwhash_STRBYTES];

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_backends: %s%s%s\n", what, why ? ": " : "", why ? why : "");
	exit(1);
}

static bool
is_pg(const struct backend *b)
{
	return b->cfg->store.backend == PORTAIL_STORE_POSTGRESQL;
}

/* ---- the data, by SQL into either backend's tables -------------------------- */

struct sql {
	sqlite3 *lite;
	PGconn *pg;
};

static void
sql_open(const struct backend *b, struct sql *s)
{
	memset(s, 0, sizeof(*s));
	if (is_pg(b)) {
		s->pg = PQconnectdb(b->cfg->store.conninfo);
		if (PQstatus(s->pg) != CONNECTION_OK)
			die(b->name, PQerrorMessage(s->pg));
		PQclear(PQexec(s->pg, "BEGIN"));
	} else {
		if (sqlite3_open(b->cfg->store_path, &s->lite) != SQLITE_OK)
			die(b->name, sqlite3_errmsg(s->lite));
		sqlite3_busy_timeout(s->lite, 10000);
		sqlite3_exec(s->lite, "BEGIN", NULL, NULL, NULL);
	}
}

static void
sql_close(const struct backend *b, struct sql *s)
{
	if (s->pg != NULL) {
		PGresult *r = PQexec(s->pg, "COMMIT");

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die(b->name, PQerrorMessage(s->pg));
		PQclear(r);
		PQfinish(s->pg);
	} else {
		if (sqlite3_exec(s->lite, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			die(b->name, sqlite3_errmsg(s->lite));
		sqlite3_close(s->lite);
	}
}

/*
 * One statement with text parameters ($1… on PostgreSQL, ?1… on SQLite:
 * both spellings are given), blob: the index of the one binary parameter
 * (-1: none) and its length.
 */
static void
sql_run(const struct backend *b, struct sql *s, const char *pg_text, const char *lite_text,
    int n, const char *const *v, int blob, size_t blob_len)
{
	if (s->pg != NULL) {
		int lens[8] = { 0 }, fmts[8] = { 0 };
		PGresult *r;

		if (blob >= 0) {
			lens[blob] = (int)blob_len;
			fmts[blob] = 1;
		}
		r = PQexecParams(s->pg, pg_text, n, NULL, v, lens, fmts, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die(b->name, PQerrorMessage(s->pg));
		PQclear(r);
	} else {
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(s->lite, lite_text, -1, &st, NULL) != SQLITE_OK)
			die(b->name, sqlite3_errmsg(s->lite));
		for (int i = 0; i < n; i++) {
			if (i == blob)
				sqlite3_bind_blob(st, i + 1, v[i], (int)blob_len, SQLITE_STATIC);
			else
				sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			die(b->name, sqlite3_errmsg(s->lite));
		sqlite3_finalize(st);
	}
}

static void
insert_accounts(const struct backend *b)
{
	const char *emails[] = { SIGNIN_EMAIL, TOKEN_EMAIL };
	struct sql s;

	sql_open(b, &s);
	for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
		const char *v[] = { emails[i], phc };

		sql_run(b, &s, "INSERT INTO accounts (email_key, email, password_hash, created, updated) "
		    "VALUES ($1, $1, $2, 0, 0) ON CONFLICT (email_key) DO UPDATE SET password_hash = $2, "
		    "failures = 0, locked_until = 0",
		    "INSERT OR REPLACE INTO accounts (email_key, email, password_hash, created, updated) "
		    "VALUES (?1, ?1, ?2, 0, 0)", 2, v, -1, 0);
	}
	sql_close(b, &s);
}

/* Pending sign-up codes 123456 for verify-R-<i>@exemple.ca, R the next round. */
static void
insert_codes(struct backend *b)
{
	char now[32], exp[32];
	time_t t = time(NULL);
	struct sql s;

	b->round++;
	snprintf(now, sizeof(now), "%lld", (long long)t);
	snprintf(exp, sizeof(exp), "%lld", (long long)t + 3600);
	sql_open(b, &s);
	for (int i = 0; i < VERIFY_BATCH; i++) {
		char email[64];
		unsigned char h[PORTAIL_HASH_BYTES];
		const char *v[4];

		snprintf(email, sizeof(email), "verify-%d-%d@exemple.ca", b->round, i);
		portail_code_hash(b->key, email, "signup", "123456", h);
		v[0] = email;
		v[1] = (const char *)h;
		v[2] = now;
		v[3] = exp;
		sql_run(b, &s, "INSERT INTO verifications (email_key, purpose, email, code_hash, created, "
		    "expires, tries_left) VALUES ($1, 'signup', $1, $2, $3, $4, 5)",
		    "INSERT OR REPLACE INTO verifications (email_key, purpose, email, code_hash, created, "
		    "expires, tries_left) VALUES (?1, 'signup', ?1, ?2, ?3, ?4, 5)", 4, v, 1, sizeof(h));
	}
	sql_close(b, &s);
}

/* ---- requests through a daemon ---------------------------------------------- */

static double
one_signin(void *arg)
{
	portail_client *c = arg;
	json_t *r = json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", SIGNIN_EMAIL,
	    "password", PASSWORD);
	double t0 = bench_now_us();
	portail_status s = portail_client_call(c, r, NULL, NULL);
	double dt = bench_now_us() - t0;

	json_decref(r);
	if (s != PORTAIL_OK)
		die("auth.password refused", NULL);
	return dt;
}

struct job {
	pthread_t t;
	const struct backend *b;
	bool token;
	int from, to, failures;
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	portail_client *c = NULL;

	if (portail_client_new(j->b->cfg->daemon.socket, 0, &c) != PORTAIL_OK) {
		j->failures = j->to - j->from;
		return NULL;
	}
	for (int i = j->from; i < j->to; i++) {
		char email[64];
		json_t *r;

		if (j->token) {
			r = json_pack("{s:s, s:s}", "op", "token.verify", "token", j->b->token);
		} else {
			snprintf(email, sizeof(email), "verify-%d-%d@exemple.ca", j->b->round, i);
			r = json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email", email,
			    "purpose", "signup", "code", "123456");
		}
		if (portail_client_call(c, r, NULL, NULL) != PORTAIL_OK)
			j->failures++;
		json_decref(r);
	}
	portail_client_free(c);
	return NULL;
}

/* Requests per second of n code.verify (or token.verify) from THREADS threads. */
static double
rate(const struct backend *b, bool token, int n, int *failures)
{
	struct job j[THREADS];
	double t0 = bench_now_us();

	for (int i = 0; i < THREADS; i++) {
		j[i] = (struct job){ .b = b, .token = token, .from = i * (n / THREADS),
		    .to = (i + 1) * (n / THREADS) };
		pthread_create(&j[i].t, NULL, worker, &j[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(j[i].t, NULL);
		*failures += j[i].failures;
	}
	return n / ((bench_now_us() - t0) / 1e6);
}

static void
issue_token(struct backend *b)
{
	portail_client *c = NULL;
	json_t *r = json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email", TOKEN_EMAIL, "label",
	    "bench"), *resp = NULL;
	const char *t;

	if (portail_client_new(b->cfg->daemon.socket, 0, &c) != PORTAIL_OK ||
	    portail_client_call(c, r, &resp, NULL) != PORTAIL_OK ||
	    (t = json_string_value(json_object_get(resp, "token"))) == NULL)
		die(b->name, "token.issue failed (run as root)");
	snprintf(b->token, sizeof(b->token), "%s", t);
	json_decref(r);
	json_decref(resp);
	r = json_pack("{s:s, s:s}", "op", "token.verify", "token", b->token);
	if (portail_client_call(c, r, NULL, NULL) != PORTAIL_OK)
		die(b->name, "token.verify refused the token just issued");
	json_decref(r);
	portail_client_free(c);
}

int
main(int argc, char **argv)
{
	portail_error err;
	portail_client *cl[MAX_BACKENDS];
	struct bench_pairs sign[MAX_BACKENDS];
	int rounds, pairs, per_round;
	double load0;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_backends ROUNDS PAIRS NAME=CONFIG NAME=CONFIG...\n");
		return 2;
	}
	rounds = bench_arg_int(argv[1], 1, 1000, "ROUNDS");
	pairs = bench_arg_int(argv[2], 2, 100000, "PAIRS");
	per_round = (pairs + rounds - 1) / rounds;
	if (sodium_init() < 0)
		die("sodium_init", NULL);
	for (int i = 3; i < argc && nbe < MAX_BACKENDS; i++) {
		struct backend *b = &be[nbe++];
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			die(argv[i], "not NAME=CONFIG");
		*eq = '\0';
		b->name = argv[i];
		if (portail_config_load(eq + 1, &b->cfg, &err) != PORTAIL_OK ||
		    portail_key_load(b->cfg->key_file, &b->key, &err) != PORTAIL_OK)
			die(b->name, err.message);
		b->code_rates = bench_values((size_t)rounds);
		b->token_rates = bench_values((size_t)rounds);
	}
	if (portail_password_hash(&be[0].cfg->password, PASSWORD, phc, &err) != PORTAIL_OK)
		die("hash", err.message);
	for (int i = 0; i < nbe; i++) {
		insert_accounts(&be[i]);
		issue_token(&be[i]);
		if (portail_client_new(be[i].cfg->daemon.socket, 0, &cl[i]) != PORTAIL_OK)
			die(be[i].name, "no daemon on its socket");
		(void)one_signin(cl[i]);        /* warm: the connection, the statements */
		(void)one_signin(cl[i]);
		bench_pairs_init(&sign[i], (size_t)per_round * (size_t)rounds);
	}
	load0 = bench_loadavg();
	for (int r = 0; r < rounds; r++) {
		for (int p = 0; p < per_round; p++)
			for (int i = 1; i < nbe; i++)
				bench_pairs_run(&sign[i], one_signin, cl[i], one_signin, cl[0]);
		for (int i = 0; i < nbe; i++) {
			insert_codes(&be[i]);
			be[i].code_rates[r] = rate(&be[i], false, VERIFY_BATCH, &be[i].code_failures);
			be[i].token_rates[r] = rate(&be[i], true, TOKEN_VERIFIES, &be[i].token_failures);
		}
	}
	printf("## portaild on each store: sign-in, code.verify, token.verify (t=%d, m=%d KiB)\n\n",
	    be[0].cfg->password.argon2_opslimit, be[0].cfg->password.argon2_memlimit_kib);
	printf("%d rounds, load average (1 min) %.2f at the start, %.2f at the end.\n\n", rounds,
	    load0, bench_loadavg());
	fputs("| sign-in (auth.password), wall time " BENCH_ROW_HEADER BENCH_ROW_RULE, stdout);
	for (int i = 1; i < nbe; i++) {
		char what[160];

		snprintf(what, sizeof(what), "%s, ms", be[i].name);
		bench_print_row(what, bench_pairs_side(&sign[i], 'a'), 1000, "");
		snprintf(what, sizeof(what), "%s in the same pairs, ms", be[0].name);
		bench_print_row(what, bench_pairs_side(&sign[i], 'b'), 1000, "");
		snprintf(what, sizeof(what), "**%s / %s, per pair (%zu pairs)**", be[i].name, be[0].name,
		    sign[i].n);
		bench_print_row(what, bench_pairs_ratio(&sign[i]), 1, "<= 1.02");
	}
	printf("\n| store | code.verify/s (median of %d rounds, %d threads) | failures | "
	    "token.verify/s | failures |\n|---|---|---|---|---|\n", rounds, THREADS);
	for (int i = 0; i < nbe; i++)
		printf("| %s | %.0f | %d | %.0f | %d |\n", be[i].name,
		    bench_median(be[i].code_rates, (size_t)rounds), be[i].code_failures,
		    bench_median(be[i].token_rates, (size_t)rounds), be[i].token_failures);
	printf("\n");
	for (int i = 0; i < nbe; i++) {
		portail_client_free(cl[i]);
		bench_pairs_free(&sign[i]);
		free(be[i].code_rates);
		free(be[i].token_rates);
		portail_key_free(be[i].key);
		portail_config_free(be[i].cfg);
	}
	return 0;
}
