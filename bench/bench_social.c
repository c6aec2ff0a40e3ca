/*
 * bench_social — a social sign-in (social.begin) with the provider on
 * loopback, its latency split between the provider and portail.
 *
 *   bench_social CONFIG PROVIDER ACCESS_TOKEN EMAIL ROUNDS DAEMON_LOG
 *
 * CONFIG is portaild's (its socket, its [provider.PROVIDER], its [gpi]);
 * the identity behind ACCESS_TOKEN is linked to EMAIL first (through
 * social.begin and social.link, the provider vouching for EMAIL). Then
 * ROUNDS x 200 sign-ins through portaild (social.begin), each between a
 * portail_providers_identify() in this process (the same provider requests
 * as portail makes them) and a portail_gpi_lookup(EMAIL) in this process
 * (the access check's search), the order alternating (bench.h: paired
 * samples). portaild logs how long the provider took in each sign-in
 * (provider_ms=, read back from DAEMON_LOG, in the order of the requests):
 * portail's own share is, per sign-in, its whole latency less the provider
 * time logged for that very request; less the directory too, with the
 * search run right before or after it. Medians and interquartile ranges
 * of those per-request differences. The in-process provider time is shown
 * beside it, and the whole less it per pair: on this 2-core VM the same
 * requests take longer from the daemon's worker than from this thread
 * (more processes to wake across cores).
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
	int rounds = 5, failures = 0;
	FILE *log;

	if (argc != 7) {
		fprintf(stderr, "usage: bench_social CONFIG PROVIDER ACCESS_TOKEN EMAIL ROUNDS "
		    "DAEMON_LOG\n");
		return 2;
	}
	rounds = bench_arg_int(argv[5], 1, 64, "ROUNDS");
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
	{
		size_t n = (size_t)rounds * N, got = 0;
		double *whole = bench_values(n), *prov = bench_values(n), *dir = bench_values(n);
		double *logged = bench_values(n), load0 = bench_loadavg();
		struct bench_pairs own, own_nodir, own_bench;
		struct bench_spread sw, sl, sp, sd, o, on, ob;
		char line[1024];

		usleep(100000);                 /* the link's log lines are written */
		fseek(log, 0, SEEK_END);
		for (size_t i = 0; i < n; i++) {
			/* provider, sign-in, directory; then directory, sign-in, provider */
			bool swap = bench_pair_reference_first(i);

			for (int step = 0; step < 3; step++) {
				enum { PROVIDER, DIRECTORY, SIGNIN } what = step == 1 ? SIGNIN :
				    (step == 0) != swap ? PROVIDER : DIRECTORY;
				double t0 = bench_now_us();

				if (what == PROVIDER) {
					struct portail_identity id;

					if (portail_providers_identify(ps, argv[2], argv[3], &id, NULL) !=
					    PORTAIL_OK)
						failures++;
					portail_identity_clear(&id);
					prov[i] = bench_now_us() - t0;
				} else if (what == DIRECTORY) {
					portail_gpi_result *g = NULL;

					if (portail_gpi_lookup(gpi, argv[4], &g, NULL) != PORTAIL_OK)
						failures++;
					portail_gpi_result_free(g);
					dir[i] = bench_now_us() - t0;
				} else {
					json_t *req = json_pack("{s:s, s:s, s:s}", "op", "social.begin",
					    "provider", argv[2], "access_token", argv[3]);

					a = NULL;
					if (portail_client_call(c, req, &a, NULL) != PORTAIL_OK ||
					    strcmp(json_string_value(json_object_get(a, "state")),
					    "signed_in") != 0)
						failures++;
					json_decref(req);
					json_decref(a);
					whole[i] = bench_now_us() - t0;
				}
			}
		}
		/*
		 * What portaild logged of those, one line per sign-in, in their
		 * order (one client, one request at a time; the line is written
		 * before the answer).
		 */
		usleep(100000);
		while (fgets(line, sizeof(line), log) != NULL && got < n) {
			const char *p = strstr(line, " provider_ms=");

			if (strstr(line, "op=social.begin") != NULL && p != NULL)
				logged[got++] = strtod(p + 13, NULL) * 1000;
		}
		if (got != n)
			failures++;
		bench_pairs_init(&own, n);
		bench_pairs_init(&own_nodir, n);
		bench_pairs_init(&own_bench, n);
		for (size_t i = 0; i < got; i++) {
			bench_pairs_add(&own, whole[i], logged[i]);
			bench_pairs_add(&own_nodir, whole[i] - logged[i], dir[i]);
			bench_pairs_add(&own_bench, whole[i], prov[i]);
		}
		o = bench_pairs_diff(&own);
		on = bench_pairs_diff(&own_nodir);
		ob = bench_pairs_diff(&own_bench);
		sl = bench_spread_of(logged, got);
		sp = bench_spread_of(prov, n);
		sd = bench_spread_of(dir, n);
		sw = bench_spread_of(whole, n);
		printf("## social sign-in (social.begin), the provider on loopback\n\n");
		printf("%zu sign-ins, load average (1 min) %.2f at the start, %.2f at the end.\n\n", n,
		    load0, bench_loadavg());
		printf("| measure | n | median, ms | IQR, ms | target |\n|---|---|---|---|---|\n");
		printf("| the provider's share, as portaild logged it (%s kind: tokeninfo + userinfo) | %zu | %.3f | %.3f | |\n",
		    argv[2], sl.n, sl.median / 1000, bench_iqr(sl) / 1000);
		printf("| the same requests from this process (for comparison) | %zu | %.3f | %.3f | |\n",
		    sp.n, sp.median / 1000, bench_iqr(sp) / 1000);
		printf("| the directory's share: the access check's search | %zu | %.3f | %.3f | |\n",
		    sd.n, sd.median / 1000, bench_iqr(sd) / 1000);
		printf("| social.begin through portaild, signed in | %zu | %.3f | %.3f | |\n", sw.n,
		    sw.median / 1000, bench_iqr(sw) / 1000);
		printf("| **portail's own share**: each sign-in less the provider time logged for it | %zu | **%.3f** | %.3f | <= 1 |\n",
		    o.n, o.median / 1000, bench_iqr(o) / 1000);
		printf("| the same less the directory too (the search run next to it) | %zu | %.3f | %.3f | |\n",
		    on.n, on.median / 1000, bench_iqr(on) / 1000);
		printf("| each sign-in less this process's provider requests run next to it | %zu | %.3f | %.3f | |\n\n",
		    ob.n, ob.median / 1000, bench_iqr(ob) / 1000);
		bench_pairs_free(&own);
		bench_pairs_free(&own_nodir);
		bench_pairs_free(&own_bench);
		free(whole);
		free(prov);
		free(dir);
		free(logged);
	}
	printf("failures: %d\n\n", failures);
	fclose(log);
	portail_client_free(c);
	portail_providers_free(ps);
	portail_gpi_free(gpi);
	portail_config_free(cfg);
	return failures ? 1 : 0;
}
