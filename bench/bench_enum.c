/*
 * bench_enum — does a code request's answer time tell what an address is?
 *
 *   bench_enum SOCKET ROUNDS ACCOUNT ON_FILE NO_RECORD
 *
 * DESIGN §2 (enumeration): the answer of "Obtenir un code de vérification"
 * must take the same time whatever the address. ACCOUNT has an account
 * (sign-up mails it a notice), ON_FILE is on a child's record without an
 * account (sign-up mails it a code), NO_RECORD is on no record (nothing
 * is mailed). Each round asks code.request for sign-up for the three,
 * then for reset (ACCOUNT gets a code, the two others nothing), in an
 * order that rotates with the round, through one connection to the
 * running portaild (script/bench starts it with a mail server and
 * [codes] resend_interval = 0).
 *
 * With CONFIG given, the same for a sign-in (auth.password) with a
 * wrong password: ACCOUNT gets a password (hashed with the configured
 * argon2id cost, written into the store at CONFIG's path), and each
 * round signs in wrongly as the three, then rightly as ACCOUNT (not
 * measured: it clears the failure count, so the lockout never starts).
 * A refusal must cost the same whether the address has an account:
 * the account's path reserves its attempt in the store before the hash,
 * an unknown address hashes against a decoy and writes nothing.
 *
 * Reported: each class's median round trip, and for each class against
 * ACCOUNT the median and interquartile range of the per-round
 * differences (samples of one round are taken moments apart, so the
 * machine's load moves both alike), over ROUNDS pairs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "bench.h"
#include "config.h"
#include "portail-client.h"

enum { CLASSES = 3 };

#define RIGHT_PASSWORD "bench-enum-Tr0mbone-7"
#define WRONG_PASSWORD "bench-enum-not-this-one"

/*
 * The time of req's answer (req consumed). A status that says the
 * measure is off stops the bench: with must_pass anything but OK,
 * without it OK, unavailable or busy (refused or unknown is the point).
 */
static double
timed(portail_client *c, json_t *req, bool must_pass)
{
	portail_error err = { { 0 } };
	portail_status s;
	double t0, t;

	if (req == NULL)
		exit(1);
	t0 = bench_now_us();
	s = portail_client_call(c, req, NULL, &err);
	t = bench_now_us() - t0;
	if (must_pass ? s != PORTAIL_OK :
	    s == PORTAIL_OK || s == PORTAIL_ERR_UNAVAILABLE || s == PORTAIL_ERR_BUSY) {
		fprintf(stderr, "bench_enum: %s %s: %s (%d)\n",
		    json_string_value(json_object_get(req, "op")),
		    json_string_value(json_object_get(req, "email")), err.message, (int)s);
		exit(1);
	}
	json_decref(req);
	return t;
}

/* A sign-in; the time of its answer. */
static double
signin(portail_client *c, const char *email, const char *password, bool must_pass)
{
	return timed(c, json_pack("{s:s, s:s, s:s}", "op", "auth.password", "email", email,
	    "password", password), must_pass);
}

/* ACCOUNT's password, with the daemon's own argon2id cost, straight into the store. */
static void
set_password(const char *config, const char *email)
{
	portail_config *cfg = NULL;
	portail_error err = { { 0 } };
	char phc[crypto_pwhash_STRBYTES];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (sodium_init() < 0 || portail_config_load(config, &cfg, &err) != PORTAIL_OK) {
		fprintf(stderr, "bench_enum: %s\n", err.message);
		exit(1);
	}
	if (crypto_pwhash_str(phc, RIGHT_PASSWORD, strlen(RIGHT_PASSWORD),
	    (unsigned long long)cfg->password.argon2_opslimit,
	    (size_t)cfg->password.argon2_memlimit_kib * 1024u) != 0 ||
	    sqlite3_open(cfg->store_path, &db) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 10000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE accounts SET password_hash = ?2, failures = 0, "
	    "locked_until = 0 WHERE email_key = ?1", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, email, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, phc, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(db) != 1) {
		fprintf(stderr, "bench_enum: setting %s's password: %s\n", email,
		    db != NULL ? sqlite3_errmsg(db) : "argon2id");
		exit(1);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	portail_config_free(cfg);
}

/* A code request; the time of its answer. */
static double
one(portail_client *c, const char *email, const char *purpose)
{
	return timed(c, json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", email,
	    "purpose", purpose), true);
}

/* Median and quartiles of v (sorted in place). */
static void
quartiles(double *v, size_t n, double *q1, double *med, double *q3)
{
	*med = bench_median(v, n);
	*q1 = v[n / 4];
	*q3 = v[(3 * n) / 4];
}

static void
report(const char *purpose, const char *const names[CLASSES], double *t[CLASSES], size_t n)
{
	double *d = calloc(n, sizeof(*d)), *m = calloc(n, sizeof(*m));
	double q1, med, q3;

	if (d == NULL || m == NULL)
		exit(1);
	printf("| %s: address | median (ms) | paired difference vs account: median (ms) | IQR (ms) |\n",
	    purpose);
	printf("|---|---:|---:|---|\n");
	for (int k = 0; k < CLASSES; k++) {
		for (size_t i = 0; i < n; i++) {
			m[i] = t[k][i];
			d[i] = t[k][i] - t[0][i];
		}
		quartiles(m, n, &q1, &med, &q3);
		printf("| %s | %.3f |", names[k], med / 1e3);
		if (k == 0) {
			printf(" — | — |\n");
			continue;
		}
		quartiles(d, n, &q1, &med, &q3);
		printf(" %+.3f | %+.3f … %+.3f |\n", med / 1e3, q1 / 1e3, q3 / 1e3);
	}
	printf("\n%zu rounds.\n\n", n);
	free(d);
	free(m);
}

int
main(int argc, char **argv)
{
	static const char *const names[CLASSES] = { "with an account", "on file, no account",
		"on no record" };
	static const char *const purposes[2] = { "signup", "reset" };
	portail_client *c = NULL;
	double *t[2][CLASSES];
	long rounds;

	if ((argc != 6 && argc != 7) || (rounds = strtol(argv[2], NULL, 10)) < 8 || rounds > 300) {
		fprintf(stderr, "usage: bench_enum SOCKET ROUNDS(8..300) ACCOUNT ON_FILE NO_RECORD "
		    "[CONFIG]\n");
		return 2;
	}
	if (portail_client_new(argv[1], 0, &c) != PORTAIL_OK)
		return 1;
	for (int p = 0; p < 2; p++)
		for (int k = 0; k < CLASSES; k++)
			if ((t[p][k] = calloc((size_t)rounds, sizeof(double))) == NULL)
				return 1;
	/* one warm-up round: the directory connection, the statements */
	for (int k = 0; k < CLASSES; k++)
		(void)one(c, argv[3 + k], "signup");
	for (long i = 0; i < rounds; i++) {
		for (int p = 0; p < 2; p++) {
			for (int j = 0; j < CLASSES; j++) {
				int k = (int)((i + j) % CLASSES);

				t[p][k][i] = one(c, argv[3 + k], purposes[p]);
			}
		}
	}
	printf("## code request: the answer's time by address\n\n");
	report("sign-up", names, t[0], (size_t)rounds);
	report("reset", names, t[1], (size_t)rounds);
	if (argc == 7) {
		/* argon2id is ~100 ms: a quarter of the rounds, at least 8 */
		long n = rounds / 4 < 8 ? 8 : rounds / 4;

		set_password(argv[6], argv[3]);
		(void)signin(c, argv[3], RIGHT_PASSWORD, true);
		for (long i = 0; i < n; i++) {
			for (int j = 0; j < CLASSES; j++) {
				int k = (int)((i + j) % CLASSES);

				t[0][k][i] = signin(c, argv[3 + k], WRONG_PASSWORD, false);
			}
			(void)signin(c, argv[3], RIGHT_PASSWORD, true);
		}
		printf("## sign-in with a wrong password: the answer's time by address\n\n");
		report("sign-in", names, t[0], (size_t)n);
	}
	portail_client_free(c);
	for (int p = 0; p < 2; p++)
		for (int k = 0; k < CLASSES; k++)
			free(t[p][k]);
	return 0;
}
