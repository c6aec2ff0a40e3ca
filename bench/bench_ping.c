/*
 * bench_ping — round trips to portaild through libportail-client.
 *
 *   bench_ping SOCKET [ROUNDS] [PINGS]
 *
 * For 1 and 8 client threads (one connection each), ROUNDS runs of PINGS
 * pings per thread: the median over runs of the throughput (pings/s,
 * all threads) and of each run's median and 99th-percentile round trip.
 * In the same run, the same measure against a bare unix-socket echo
 * server in this process (one thread per connection, no JSON): the
 * physical limit of a round trip on this machine. Each run against
 * portaild is paired with one against the echo server, back to back, the
 * order alternating (bench.h: paired samples); the ratio of their p50s,
 * per pair (median and interquartile range over the pairs), is what
 * portaild costs above the limit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "portail-client.h"

enum { MAX_THREADS = 8 };

static const char *target;
static int pings = 20000;
static bool echo_mode;

/* Sorts v in place; its p-quantile. */
static double
percentile(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return bench_quantile_sorted(v, n, p);
}

struct worker {
	pthread_t t;
	double *lat;
	int failures;
};

static void
raw_roundtrips(struct worker *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char msg[] = "{\"v\":1,\"op\":\"ping\"}\n";
	char buf[256];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, target, strlen(target) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		w->failures = pings;
		return;
	}
	for (int i = 0; i < pings; i++) {
		double t0 = bench_now_us();

		if (write(fd, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1 ||
		    read(fd, buf, sizeof(buf)) <= 0)
			w->failures++;
		w->lat[i] = bench_now_us() - t0;
	}
	close(fd);
}

static void *
run_worker(void *arg)
{
	struct worker *w = arg;
	portail_client *c = NULL;

	if (echo_mode) {
		raw_roundtrips(w);
		return NULL;
	}
	if (portail_client_new(target, 0, &c) != PORTAIL_OK) {
		w->failures = pings;
		return NULL;
	}
	for (int i = 0; i < pings; i++) {
		double t0 = bench_now_us();

		if (portail_client_ping(c, NULL, 0, NULL, NULL) != PORTAIL_OK)
			w->failures++;
		w->lat[i] = bench_now_us() - t0;
	}
	portail_client_free(c);
	return NULL;
}

struct result {
	double rate, p50, p99;
	int failures;
};

static struct result
measure(int threads)
{
	struct worker w[MAX_THREADS];
	double *all = malloc(sizeof(double) * (size_t)pings * (size_t)threads);
	double t0, t1;
	struct result r = { 0 };

	for (int i = 0; i < threads; i++) {
		w[i].lat = all + (size_t)i * (size_t)pings;
		w[i].failures = 0;
	}
	t0 = bench_now_us();
	for (int i = 0; i < threads; i++)
		pthread_create(&w[i].t, NULL, run_worker, &w[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		r.failures += w[i].failures;
	}
	t1 = bench_now_us();
	r.rate = (double)pings * threads / ((t1 - t0) / 1e6);
	r.p50 = percentile(all, (size_t)pings * (size_t)threads, 0.50);
	r.p99 = percentile(all, (size_t)pings * (size_t)threads, 0.99);
	free(all);
	return r;
}

/* The reference: an echo server, one thread per connection, same framing. */
static int echo_listen;

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, "{\"v\":1,\"ok\":true}\n", 18) != 18)
			break;
	close(fd);
	return NULL;
}

static void *
echo_accept(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(echo_listen, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static const char *
start_echo(void)
{
	static char path[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;

	snprintf(path, sizeof(path), "/tmp/portail-bench-echo.%d.sock", (int)getpid());
	unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	echo_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(echo_listen, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(echo_listen, 64) != 0) {
		perror("echo");
		exit(1);
	}
	pthread_create(&t, NULL, echo_accept, NULL);
	pthread_detach(t);
	return path;
}

static struct result
median_of(struct result *runs, int n)
{
	double rate[64], p50[64], p99[64];
	struct result m = { 0 };

	for (int i = 0; i < n; i++) {
		rate[i] = runs[i].rate;
		p50[i] = runs[i].p50;
		p99[i] = runs[i].p99;
		m.failures += runs[i].failures;
	}
	m.rate = percentile(rate, (size_t)n, 0.5);
	m.p50 = percentile(p50, (size_t)n, 0.5);
	m.p99 = percentile(p99, (size_t)n, 0.5);
	return m;
}

int
main(int argc, char **argv)
{
	const char *daemon_sock, *echo_sock;
	int rounds = 5;
	static const int thread_counts[] = { 1, 8 };

	if (argc < 2) {
		fprintf(stderr, "usage: bench_ping SOCKET [ROUNDS] [PINGS]\n");
		return 2;
	}
	daemon_sock = argv[1];
	if (argc > 2)
		rounds = bench_arg_int(argv[2], 1, 64, "ROUNDS");
	if (argc > 3)
		pings = bench_arg_int(argv[3], 100, 1000000, "PINGS");
	echo_sock = start_echo();
	printf("load average (1 min) %.2f at the start.\n\n", bench_loadavg());
	printf("| threads | portaild pings/s | p50 µs | p99 µs | echo pings/s | echo p50 µs | "
	    "p50 ratio, per pair | IQR | failures |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t k = 0; k < sizeof(thread_counts) / sizeof(thread_counts[0]); k++) {
		int th = thread_counts[k];
		struct result d[64], e[64], dm, em;
		struct bench_pairs p50;
		struct bench_spread q;

		/* paired, so that both see the same machine; the order alternates */
		bench_pairs_init(&p50, (size_t)rounds);
		for (int r = 0; r < rounds; r++) {
			for (int j = 0; j < 2; j++) {
				echo_mode = (j == 0) == bench_pair_reference_first((size_t)r);
				target = echo_mode ? echo_sock : daemon_sock;
				if (echo_mode)
					e[r] = measure(th);
				else
					d[r] = measure(th);
			}
			bench_pairs_add(&p50, d[r].p50, e[r].p50);
		}
		dm = median_of(d, rounds);
		em = median_of(e, rounds);
		q = bench_pairs_ratio(&p50);
		printf("| %d | %.0f | %.1f | %.1f | %.0f | %.1f | %.2f | %.2f | %d |\n", th, dm.rate,
		    dm.p50, dm.p99, em.rate, em.p50, q.median, bench_iqr(q), dm.failures);
		bench_pairs_free(&p50);
	}
	unlink(echo_sock);
	return 0;
}
