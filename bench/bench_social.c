/*
 * bench_social — a social sign-in (social.begin) with the provider on
 * loopback, its latency split between the provider and portail.
 *
 *   bench_social CONFIG PROVIDER ACCESS_TOKEN EMAIL ROUNDS DAEMON_LOG
 *
 * CONFIG is portaild's (its socket, its [provider.PROVIDER], its [gpi]);
 * the identity behind ACCESS_TOKEN is linked to EMAIL first (through
 * social.begin and social.link, the provider vouching for EMAIL). Per
 * round, in an order that rotates: 200 portail_providers_identify() in
 * this process (the provider's share: its HTTP requests as portail makes
 * them), 200 portail_gpi_lookup(EMAIL) in this process (the directory's
 * share: the access check's search), and 200 social.begin through portaild
 * (the whole sign-in). portaild logs how long the provider took in each
 * of those (provider_ms=, read back from DAEMON_LOG): portail's own share
 * is the whole less that, per round, and apart less the directory too;
 * medians over rounds. The in-process provider time is shown beside it:
 * on this 2-core VM the same requests take longer from the daemon's
 * worker than from this thread (more processes to wake across cores).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "config.h"
#include "gpi.h"
#include "portail-client.h"
#include "provider.h"

enum { N = 200 };

int
main(int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_providers *ps = NULL;
	portail_gpi *gpi = NULL;
	portail_client *c = NULL;
	portail_error err = { { 0 } };
	json_t *a = NULL;
	double prov[64], dir[64], whole[64], own[64], own_nodir[64], inside[64];
	double lat_p[N], lat_d[N], lat_w[N], lat_i[N];
	int rounds = 5, failures = 0;
	FILE *log;

	if (argc != 7 || (rounds = atoi(argv[5])) < 1 || rounds > 64) {
		fprintf(stderr, "usage: bench_social CONFIG PROVIDER ACCESS_TOKEN EMAIL ROUNDS "
		    "DAEMON_LOG\n");
		return 2;
	}
	if ((log = fopen(argv[6], "r")) == NULL) {
		perror(argv[6]);
		return 1;
	}
	if (portail_config_load(argv[1], &cfg, &err) != PORTAIL_OK ||
	    portail_providers_new(cfg, &ps, &err) != PORTAIL_OK ||
	    portail_gpi_new(cfg, &gpi, &err) != PORTAIL_OK ||
	    portail_client_new(cfg->daemon.socket, 0, &c) != PORTAIL_OK) {
		fprintf(stderr, "bench_social: %s\n", err.message);
		return 1;
	}
	/* link the identity (vouched and equal: at once) */
	if (portail_client_call(c, json_pack("{s:s, s:s, s:s}", "op", "social.begin", "provider",
	    argv[2], "access_token", argv[3]), &a, &err) != PORTAIL_OK) {
		fprintf(stderr, "bench_social: social.begin: %s\n", err.message);
		return 1;
	}
	if (strcmp(json_string_value(json_object_get(a, "state")), "link") == 0) {
		json_t *b = NULL;

		if (portail_client_call(c, json_pack("{s:s, s:s, s:s}", "op", "social.link",
		    "link_ticket", json_string_value(json_object_get(a, "link_ticket")), "email",
		    argv[4]), &b, &err) != PORTAIL_OK ||
		    strcmp(json_string_value(json_object_get(b, "state")), "linked") != 0) {
			fprintf(stderr, "bench_social: the identity did not link: %s\n", err.message);
			return 1;
		}
		json_decref(b);
	}
	json_decref(a);
	for (int r = 0; r < rounds; r++) {
		for (int pass = 0; pass < 3; pass++) {
			/* rotate which goes first: the machine is shared and noisy */
			int what = (pass + r) % 3;

			for (int i = 0; i < N; i++) {
				double t0 = bench_now_us();

				if (what == 0) {
					struct portail_identity id;

					if (portail_providers_identify(ps, argv[2], argv[3], &id, NULL) !=
					    PORTAIL_OK)
						failures++;
					portail_identity_clear(&id);
					lat_p[i] = bench_now_us() - t0;
				} else if (what == 1) {
					portail_gpi_result *g = NULL;

					if (portail_gpi_lookup(gpi, argv[4], &g, NULL) != PORTAIL_OK)
						failures++;
					portail_gpi_result_free(g);
					lat_d[i] = bench_now_us() - t0;
				} else {
					json_t *req;

					if (i == 0)
						fseek(log, 0, SEEK_END);
					req = json_pack("{s:s, s:s, s:s}", "op", "social.begin",
					    "provider", argv[2], "access_token", argv[3]);

					a = NULL;
					if (portail_client_call(c, req, &a, NULL) != PORTAIL_OK ||
					    strcmp(json_string_value(json_object_get(a, "state")),
					    "signed_in") != 0)
						failures++;
					json_decref(req);
					json_decref(a);
					lat_w[i] = bench_now_us() - t0;
				}
			}
			if (what == 2) {
				/* what portaild logged of those: the provider's time, per request */
				char line[1024];
				int n = 0;

				usleep(100000);         /* the log lines are written as answers go */
				while (fgets(line, sizeof(line), log) != NULL && n < N) {
					const char *p = strstr(line, " provider_ms=");

					if (strstr(line, "op=social.begin") != NULL && p != NULL)
						lat_i[n++] = atof(p + 13) * 1000;
				}
				if (n != N)
					failures++;
				inside[r] = bench_median(lat_i, (size_t)(n > 0 ? n : 1));
			}
		}
		prov[r] = bench_median(lat_p, N);
		dir[r] = bench_median(lat_d, N);
		whole[r] = bench_median(lat_w, N);
		own[r] = whole[r] - inside[r];
		own_nodir[r] = own[r] - dir[r];
	}
	printf("## social sign-in (social.begin), the provider on loopback\n\n");
	printf("| measure | rounds | median, ms | target |\n|---|---|---|---|\n");
	printf("| the provider's share, as portaild logged it (%s kind: tokeninfo + userinfo) | %d | %.3f | |\n",
	    argv[2], rounds, bench_median(inside, (size_t)rounds) / 1000);
	printf("| the same requests from this process (for comparison) | %d | %.3f | |\n",
	    rounds, bench_median(prov, (size_t)rounds) / 1000);
	printf("| the directory's share: the access check's search | %d | %.3f | |\n", rounds,
	    bench_median(dir, (size_t)rounds) / 1000);
	printf("| social.begin through portaild, signed in | %d | %.3f | |\n", rounds,
	    bench_median(whole, (size_t)rounds) / 1000);
	printf("| portail's own share: the whole less the provider's, per round | %d | %.3f | <= 1 |\n",
	    rounds, bench_median(own, (size_t)rounds) / 1000);
	printf("| the same less the directory too | %d | %.3f | |\n\n", rounds,
	    bench_median(own_nodir, (size_t)rounds) / 1000);
	printf("failures: %d\n\n", failures);
	fclose(log);
	portail_client_free(c);
	portail_providers_free(ps);
	portail_gpi_free(gpi);
	portail_config_free(cfg);
	return failures ? 1 : 0;
}
