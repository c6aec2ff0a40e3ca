/*
 * bench_tokens — token verification, through portaild and through a whole
 * in-process SASL OAUTHBEARER exchange.
 *
 *   bench_tokens SOCKET EMAIL TOKEN PLUGIN_DIR [ROUNDS]
 *
 * Per round: 4,000 token.verify requests from 8 client threads
 * (verifications/s) and as many pings (the daemon's round trip, the
 * ceiling: their ratio is the token's own cost), the two back to back, in
 * an order that alternates (bench.h: paired samples, one pair a round),
 * then 2,000 OAUTHBEARER exchanges, libsasl2 client and server in this
 * process with sasl_portail loaded from PLUGIN_DIR, from one thread and
 * from two (exchanges/s). Medians over rounds; the ratio's median and
 * interquartile range over the rounds' own ratios.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sasl/sasl.h>

#include "bench.h"
#include "portail-client.h"

enum { THREADS = 8, VERIFIES = 4000, EXCHANGES = 2000 };

static const char *sock, *email, *token;
static char ping_op[] = "ping";     /* verifier(ping_op): pings instead */

static void *
verifier(void *arg)
{
	bool ping = arg != NULL;
	portail_client *c = NULL;
	intptr_t failures = 0;

	portail_client_new(sock, 0, &c);
	for (int i = 0; i < VERIFIES / THREADS; i++) {
		json_t *r = ping ? json_pack("{s:s}", "op", "ping") :
		    json_pack("{s:s, s:s}", "op", "token.verify", "token", token);

		if (portail_client_call(c, r, NULL, NULL) != PORTAIL_OK)
			failures++;
		json_decref(r);
	}
	portail_client_free(c);
	return (void *)failures;
}

static int
getopt_cb(void *context, const char *plugin, const char *option, const char **result, unsigned *len)
{
	(void)context;
	(void)plugin;
	if (strcmp(option, "portail_socket") == 0)
		*result = sock;
	else if (strcmp(option, "mech_list") == 0)
		*result = "OAUTHBEARER";
	else
		return SASL_FAIL;
	if (len)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
get_user(void *context, int id, const char **result, unsigned *len)
{
	(void)context;
	(void)id;
	*result = email;
	if (len)
		*len = (unsigned)strlen(email);
	return SASL_OK;
}

static sasl_secret_t *secret;

static int
get_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
	(void)conn;
	(void)context;
	(void)id;
	*psecret = secret;
	return SASL_OK;
}

static int
one_exchange(void)
{
	sasl_callback_t cbs[] = {
		{ SASL_CB_AUTHNAME, (int (*)(void))(uintptr_t)get_user, NULL },
		{ SASL_CB_PASS, (int (*)(void))(uintptr_t)get_pass, NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	sasl_conn_t *c = NULL, *s = NULL;
	const char *out = NULL, *sout = NULL, *mech = NULL;
	unsigned outlen = 0, soutlen = 0;
	int rc;

	if (sasl_client_new("smtp", "localhost", NULL, NULL, cbs, 0, &c) != SASL_OK ||
	    sasl_server_new("smtp", "localhost", NULL, NULL, NULL, NULL, 0, &s) != SASL_OK)
		return -1;
	rc = sasl_client_start(c, "OAUTHBEARER", NULL, &out, &outlen, &mech);
	if (rc == SASL_OK || rc == SASL_CONTINUE)
		rc = sasl_server_start(s, "OAUTHBEARER", out, outlen, &sout, &soutlen);
	sasl_dispose(&c);
	sasl_dispose(&s);
	return rc;
}

static void *
exchanger(void *arg)
{
	intptr_t n = (intptr_t)arg, failures = 0;

	for (intptr_t i = 0; i < n; i++)
		if (one_exchange() != SASL_OK)
			failures++;
	return (void *)failures;
}

/* Runs n threads of fn(arg); per second of the total count, failures added up. */
static double
run(int n, void *(*fn)(void *), void *arg, double count, int *failures)
{
	pthread_t t[THREADS];
	double t0 = bench_now_us();

	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, arg);
	for (int i = 0; i < n; i++) {
		void *f;

		pthread_join(t[i], &f);
		*failures += (int)(intptr_t)f;
	}
	return count / ((bench_now_us() - t0) / 1e6);
}

static int failures;

static double
verify_round(void *unused)
{
	(void)unused;
	return run(THREADS, verifier, NULL, VERIFIES, &failures);
}

static double
ping_round(void *unused)
{
	(void)unused;
	return run(THREADS, verifier, ping_op, VERIFIES, &failures);
}

int
main(int argc, char **argv)
{
	static sasl_callback_t global[] = {
		{ SASL_CB_GETOPT, (int (*)(void))(uintptr_t)getopt_cb, NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	int rounds = 5;
	double x1[64], x2[64];
	struct bench_pairs vp;
	struct bench_spread v, pg, q;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_tokens SOCKET EMAIL TOKEN PLUGIN_DIR [ROUNDS]\n");
		return 2;
	}
	sock = argv[1];
	email = argv[2];
	token = argv[3];
	if (argc > 5)
		rounds = bench_arg_int(argv[5], 1, 64, "ROUNDS");
	secret = malloc(sizeof(*secret) + strlen(token));
	secret->len = strlen(token);
	memcpy(secret->data, token, strlen(token) + 1);
	if (sasl_set_path(SASL_PATH_TYPE_PLUGIN, argv[4]) != SASL_OK ||
	    sasl_server_init(global, "bench") != SASL_OK || sasl_client_init(global) != SASL_OK) {
		fprintf(stderr, "bench_tokens: libsasl2 init\n");
		return 1;
	}
	bench_pairs_init(&vp, (size_t)rounds);
	for (int r = 0; r < rounds; r++) {
		bench_pairs_run(&vp, verify_round, NULL, ping_round, NULL);
		x1[r] = run(1, exchanger, (void *)(intptr_t)EXCHANGES, EXCHANGES, &failures);
		x2[r] = run(2, exchanger, (void *)(intptr_t)(EXCHANGES / 2), EXCHANGES, &failures);
	}
	v = bench_pairs_side(&vp, 'a');
	pg = bench_pairs_side(&vp, 'b');
	q = bench_pairs_ratio(&vp);
	printf("## token verification\n\n");
	printf("load average (1 min) %.2f at the end.\n\n", bench_loadavg());
	printf("| measure | rounds | median per second | target |\n|---|---|---|---|\n");
	printf("| token.verify through portaild, %d client threads | %d | %.0f | >= 20,000 |\n",
	    THREADS, rounds, v.median);
	printf("| ping through portaild, %d client threads (the round trip alone) | %d | %.0f | |\n",
	    THREADS, rounds, pg.median);
	printf("| token.verify / ping, per round (IQR %.3f) | %d | %.3f | |\n", bench_iqr(q),
	    rounds, q.median);
	printf("| OAUTHBEARER exchange, libsasl2 in-process, 1 thread | %d | %.0f | >= 10,000 |\n",
	    rounds, bench_median(x1, (size_t)rounds));
	printf("| OAUTHBEARER exchange, libsasl2 in-process, 2 threads | %d | %.0f | |\n\n",
	    rounds, bench_median(x2, (size_t)rounds));
	printf("failures: %d\n\n", failures);
	bench_pairs_free(&vp);
	sasl_server_done();
	sasl_client_done();
	free(secret);
	return 0;
}
