/*
 * bench_fair — a legitimate client's latency while another uid floods.
 *
 *   bench_fair SOCKET ROUNDS
 *
 * Run as root against the running portaild (script/bench starts it).
 * Each round measures, as root, 20 pings and 2 sign-ins (auth.password
 * for an address with no account: the same dummy argon2id as a real
 * sign-in, and no lockout to trip): once quiet, then while a child
 * process of uid 65534 keeps 200 connections each sending a sign-in as
 * fast as it is answered (the flood of DESIGN §2, "fairness"). Reported:
 * the medians, the 99th percentile and the maximum of each, quiet and
 * under flood, and what the flood was answered.
 */
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "portail-client.h"

#define FLOOD_CONNS 200
#define PINGS 20
#define SIGNINS 2

static const char *sock_path;

static int
dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The flood: until killed, every connection sends a sign-in again as soon as answered. */
static void
flood(void)
{
	static const char line[] = "{\"v\":1,\"op\":\"auth.password\",\"email\":"
	    "\"personne@exemple.ca\",\"password\":\"devine\"}\n";
	struct pollfd p[FLOOD_CONNS];
	char buf[4096];

	for (int i = 0; i < FLOOD_CONNS; i++) {
		p[i].fd = dial();
		p[i].events = POLLIN;
		if (p[i].fd >= 0 && send(p[i].fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0)
			p[i].fd = -1;
	}
	for (;;) {
		if (poll(p, FLOOD_CONNS, 1000) < 0)
			continue;
		for (int i = 0; i < FLOOD_CONNS; i++) {
			if (p[i].fd < 0) {
				p[i].fd = dial();
			} else if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
					close(p[i].fd);
					p[i].fd = dial();
				}
			} else {
				continue;
			}
			if (p[i].fd >= 0 && send(p[i].fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
}

/* One request's round trip (ms); *failed counts answers other than want. */
static double
timed(portail_client *c, json_t *r, portail_status want, int *failed)
{
	double t0 = bench_now_us(), t;

	if (portail_client_call(c, r, NULL, NULL) != want)
		(*failed)++;
	t = bench_now_us() - t0;
	json_decref(r);
	return t / 1e3;
}

struct series {
	double *v;
	size_t n;
};

static void
row(const char *what, struct series *s)
{
	double max;

	bench_median(s->v, s->n);       /* sorts */
	max = s->v[s->n - 1];
	printf("| %s | %.2f | %.2f | %.2f | %zu |\n", what, s->v[s->n / 2],
	    s->v[(size_t)((double)(s->n - 1) * 0.99)], max, s->n);
}

static json_int_t
counter(portail_client *c, const char *name)
{
	json_t *r = json_pack("{s:s}", "op", "status"), *a = NULL;
	json_int_t v = -1;

	if (portail_client_call(c, r, &a, NULL) == PORTAIL_OK)
		v = json_integer_value(json_object_get(json_object_get(a, "requests"), name));
	json_decref(r);
	json_decref(a);
	return v;
}

int
main(int argc, char **argv)
{
	struct series ping[2], sign[2];
	portail_client *c = NULL;
	long rounds;
	int failed = 0;
	json_int_t busy0;

	if (argc != 3 || (rounds = strtol(argv[2], NULL, 10)) < 1 || rounds > 50) {
		fprintf(stderr, "usage: bench_fair SOCKET ROUNDS(1..50)\n");
		return 2;
	}
	sock_path = argv[1];
	for (int k = 0; k < 2; k++) {
		ping[k].v = calloc((size_t)rounds * PINGS, sizeof(double));
		sign[k].v = calloc((size_t)rounds * SIGNINS, sizeof(double));
		ping[k].n = sign[k].n = 0;
		if (ping[k].v == NULL || sign[k].v == NULL)
			return 1;
	}
	if (portail_client_new(sock_path, 0, &c) != PORTAIL_OK)
		return 1;
	busy0 = counter(c, "busy");
	for (long i = 0; i < rounds; i++) {
		for (int k = 0; k < 2; k++) {
			pid_t pid = 0;

			if (k == 1) {
				if ((pid = fork()) == 0) {
					if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
					    setuid(65534) != 0)
						_exit(99);
					flood();
					_exit(0);
				}
				usleep(300000);         /* the flood fills the workers */
			}
			for (int j = 0; j < PINGS; j++) {
				ping[k].v[ping[k].n++] = timed(c, json_pack("{s:s}", "op", "ping"),
				    PORTAIL_OK, &failed);
				if (j % (PINGS / SIGNINS) == 0)
					sign[k].v[sign[k].n++] = timed(c, json_pack("{s:s, s:s, s:s}",
					    "op", "auth.password", "email", "personne@exemple.ca",
					    "password", "devine"), PORTAIL_ERR_UNKNOWN, &failed);
			}
			if (pid > 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
		}
	}
	printf("## A root client while uid 65534 floods (200 connections of sign-ins)\n\n");
	printf("| root's request | median (ms) | p99 (ms) | max (ms) | samples |\n|---|---:|---:|---:|---:|\n");
	row("ping, quiet", &ping[0]);
	row("ping, under flood", &ping[1]);
	row("sign-in, quiet", &sign[0]);
	row("sign-in, under flood", &sign[1]);
	printf("\n%ld rounds; root's requests not answered as expected: %d; the flood was told "
	    "busy %lld times.\n\n", rounds, failed, (long long)(counter(c, "busy") - busy0));
	portail_client_free(c);
	return failed != 0;
}
