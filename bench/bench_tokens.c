/*
 * bench_tokens — token verification, through portaild and through a whole
 * in-process SASL OAUTHBEARER exchange.
 *
 *   bench_tokens SOCKET EMAIL TOKEN PLUGIN_DIR [ROUNDS]
 *
 * Per round: 2,000 token.verify requests from 8 client threads
 * (verifications/s), then 1,000 OAUTHBEARER exchanges, libsasl2 client and
 * server in this process with sasl_portail loaded from PLUGIN_DIR
 * (exchanges/s). Medians over rounds.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sasl/sasl.h>

#include "portail-client.h"

enum { THREADS = 8, VERIFIES = 2000, EXCHANGES = 1000 };

static const char *sock, *email, *token;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *
verifier(void *arg)
{
	portail_client *c = NULL;
	intptr_t failures = 0;

	(void)arg;
	portail_client_new(sock, 0, &c);
	for (int i = 0; i < VERIFIES / THREADS; i++) {
		json_t *r = json_pack("{s:s, s:s}", "op", "token.verify", "token", token);

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

int
main(int argc, char **argv)
{
	static sasl_callback_t global[] = {
		{ SASL_CB_GETOPT, (int (*)(void))(uintptr_t)getopt_cb, NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	int rounds = 5, failures = 0;
	double vr[64], xr[64];

	if (argc < 5) {
		fprintf(stderr, "usage: bench_tokens SOCKET EMAIL TOKEN PLUGIN_DIR [ROUNDS]\n");
		return 2;
	}
	sock = argv[1];
	email = argv[2];
	token = argv[3];
	if (argc > 5 && ((rounds = atoi(argv[5])) < 1 || rounds > 64))
		return 2;
	secret = malloc(sizeof(*secret) + strlen(token));
	secret->len = strlen(token);
	memcpy(secret->data, token, strlen(token) + 1);
	if (sasl_set_path(SASL_PATH_TYPE_PLUGIN, argv[4]) != SASL_OK ||
	    sasl_server_init(global, "bench") != SASL_OK || sasl_client_init(global) != SASL_OK) {
		fprintf(stderr, "bench_tokens: libsasl2 init\n");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		pthread_t t[THREADS];
		double t0 = now_s();

		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, verifier, NULL);
		for (int i = 0; i < THREADS; i++) {
			void *f;

			pthread_join(t[i], &f);
			failures += (int)(intptr_t)f;
		}
		vr[r] = VERIFIES / (now_s() - t0);
		t0 = now_s();
		for (int i = 0; i < EXCHANGES; i++)
			if (one_exchange() != SASL_OK)
				failures++;
		xr[r] = EXCHANGES / (now_s() - t0);
	}
	qsort(vr, (size_t)rounds, sizeof(double), cmp_double);
	qsort(xr, (size_t)rounds, sizeof(double), cmp_double);
	printf("## token verification\n\n");
	printf("| measure | rounds | median per second | failures |\n|---|---|---|---|\n");
	printf("| token.verify through portaild, %d threads | %d | %.0f | |\n", THREADS, rounds,
	    vr[rounds / 2]);
	printf("| OAUTHBEARER exchange, libsasl2 in-process | %d | %.0f | %d |\n\n", rounds,
	    xr[rounds / 2], failures);
	sasl_server_done();
	sasl_client_done();
	free(secret);
	return 0;
}
