/*
 * bench.h — what the benchmark programs share: a clock, quantiles, and
 * paired samples.
 *
 * Why pairs. This machine is shared with builds and test suites: within
 * one minute the same argon2id verify takes 136 ms and then 190 ms. Two
 * medians taken over that minute each carry the drift, and their
 * difference (a 1 ms overhead on a 140 ms sign-in) is lost in it. So a
 * comparison is made of pairs: the measure and its reference run back to
 * back, so that both see the same machine, the order alternating from one
 * pair to the next (so that neither always follows the other's memory
 * traffic or wakes a cold core); the figures are the median and the
 * interquartile range of the per-pair differences (or ratios), with the
 * number of pairs. The median of the differences is not the difference of
 * the medians: it is what one pair typically shows, and the drift that
 * moves both members of a pair cancels in it. What it cannot cancel is
 * noise faster than a pair (a core's share changing within 140 ms): the
 * IQR shows it, and BENCHMARKS.md says what it means for the figures.
 */
#ifndef PORTAIL_BENCH_H
#define PORTAIL_BENCH_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0 <= q <= 1) of n > 0 sorted values, linear between ranks. */
static inline double
bench_quantile_sorted(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;

	return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Sorts v in place; the median of its n values. */
static inline double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return bench_quantile_sorted(v, n, 0.5);
}

/*
 * The integer in s, within [min, max]; exits with status 2, naming what,
 * when s is not one (the benchmarks' arguments: no atoi).
 */
static inline int
bench_arg_int(const char *s, int min, int max, const char *what)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "bench: %s: a number from %d to %d\n", what, min, max);
		exit(2);
	}
	return (int)v;
}

/*
 * A median with its spread, over n values: the first and third quartiles,
 * and a 95 % confidence interval of the median itself (lo, hi).
 */
struct bench_spread {
	double median, q1, q3, lo, hi;
	size_t n;
};

/*
 * Sorts v in place; its median, quartiles and the median's 95 % confidence
 * interval (all 0 when n is 0). The interval is distribution-free: the
 * values of ranks n/2 - 0.98 sqrt(n) and 1 + n/2 + 0.98 sqrt(n), counted
 * from 1 (the binomial's normal approximation, the root rounded up), so it
 * says where the median of another run of n like these would fall, 19
 * times in 20, whatever the shape of the noise.
 */
static inline struct bench_spread
bench_spread_of(double *v, size_t n)
{
	struct bench_spread s = { 0, 0, 0, 0, 0, n };
	long k = 0, lo, hi;

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	s.median = bench_quantile_sorted(v, n, 0.5);
	s.q1 = bench_quantile_sorted(v, n, 0.25);
	s.q3 = bench_quantile_sorted(v, n, 0.75);
	while ((double)k * (double)k < 0.9604 * (double)n)
		k++;                            /* k = ceil(0.98 sqrt(n)), without libm */
	lo = (long)(n / 2) - k - 1;             /* counted from 0 */
	hi = (long)((n + 1) / 2) + k;
	s.lo = v[lo < 0 ? 0 : lo];
	s.hi = v[hi >= (long)n ? (long)n - 1 : hi];
	return s;
}

static inline double
bench_iqr(struct bench_spread s)
{
	return s.q3 - s.q1;
}

/* An array of n doubles (at least one), zeroed; exits when memory is short. */
static inline double *
bench_values(size_t n)
{
	double *v = calloc(n ? n : 1, sizeof(double));

	if (v == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	return v;
}

/* Paired samples: a[i] (the measure) and b[i] (its reference) ran back to back. */
struct bench_pairs {
	double *a, *b;
	size_t n, cap;
};

/* Room for cap pairs; exits when memory is short (a benchmark, not a library). */
static inline void
bench_pairs_init(struct bench_pairs *p, size_t cap)
{
	p->n = 0;
	p->cap = cap;
	p->a = bench_values(cap);
	p->b = bench_values(cap);
}

static inline void
bench_pairs_free(struct bench_pairs *p)
{
	free(p->a);
	free(p->b);
	p->a = p->b = NULL;
	p->n = p->cap = 0;
}

/*
 * Whether pair i runs its reference first: every other pair, so that the
 * measure runs first in half of them and second in the other half.
 */
static inline bool
bench_pair_reference_first(size_t i)
{
	return i % 2 != 0;
}

/* Records one pair (ignored past cap). */
static inline void
bench_pairs_add(struct bench_pairs *p, double a, double b)
{
	if (p->n < p->cap) {
		p->a[p->n] = a;
		p->b[p->n] = b;
		p->n++;
	}
}

/*
 * Runs one pair: a(actx) and b(bctx), each returning the time (or rate) it
 * measured, back to back in the order bench_pair_reference_first() gives
 * for the next pair, and records it.
 */
static inline void
bench_pairs_run(struct bench_pairs *p, double (*a)(void *), void *actx, double (*b)(void *),
    void *bctx)
{
	double x, y;

	if (bench_pair_reference_first(p->n)) {
		y = b(bctx);
		x = a(actx);
	} else {
		x = a(actx);
		y = b(bctx);
	}
	bench_pairs_add(p, x, y);
}

/*
 * With BENCH_RAW set to a directory, writes the pairs to BENCH_RAW/NAME.tsv
 * (a, b, a - b, a / b; one pair a line, in the order they ran), for a
 * look at their distribution; otherwise does nothing.
 */
static inline void
bench_pairs_dump(const struct bench_pairs *p, const char *name)
{
	const char *dir = getenv("BENCH_RAW");
	char path[512];
	FILE *f;

	if (dir == NULL || *dir == '\0')
		return;
	if (snprintf(path, sizeof(path), "%s/%s.tsv", dir, name) >= (int)sizeof(path) ||
	    (f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "bench: BENCH_RAW: cannot write %s/%s.tsv\n", dir, name);
		return;
	}
	fprintf(f, "a\tb\ta-b\ta/b\n");
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%.1f\t%.1f\t%.1f\t%.4f\n", p->a[i], p->b[i], p->a[i] - p->b[i],
		    p->a[i] / p->b[i]);
	fclose(f);
}

/*
 * The daemon's own account of each request: portaild logs, on the line of
 * a request that ran argon2id, how long the hash took in its worker
 * (hash_ms=, the wait for a hashing slot excluded). BENCH_DAEMON_LOG
 * (script/bench sets it) names that log. bench_log_open opens it at its
 * end (NULL when unset or unreadable); bench_log_take reads the lines of
 * op written since, in their order, into out (µs; at most n) and says how
 * many. One client making one request at a time: the lines are its
 * requests in order. portaild writes the line before it answers, to an
 * unbuffered stderr, so a request answered has its line in the file.
 */
static inline FILE *
bench_log_open(void)
{
	const char *path = getenv("BENCH_DAEMON_LOG");
	FILE *f;

	if (path == NULL || *path == '\0' || (f = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0) {
		fclose(f);
		return NULL;
	}
	return f;
}

static inline size_t
bench_log_take(FILE *log, const char *op, double *out, size_t n)
{
	char line[4096], want[64];
	size_t got = 0;

	snprintf(want, sizeof(want), "op=%s ", op);
	clearerr(log);
	while (got < n && fgets(line, sizeof(line), log) != NULL) {
		const char *p = strstr(line, " hash_ms=");

		if (strstr(line, want) != NULL && p != NULL)
			out[got++] = strtod(p + 9, NULL) * 1000;
	}
	return got;
}

/* Median and quartiles of the measure alone (which = 'a') or of the reference ('b'). */
static inline struct bench_spread
bench_pairs_side(const struct bench_pairs *p, char which)
{
	double *v = bench_values(p->n);
	struct bench_spread s;

	memcpy(v, which == 'a' ? p->a : p->b, p->n * sizeof(double));
	s = bench_spread_of(v, p->n);
	free(v);
	return s;
}

/* Median and quartiles of the per-pair differences a[i] - b[i]. */
static inline struct bench_spread
bench_pairs_diff(const struct bench_pairs *p)
{
	double *v = bench_values(p->n);
	struct bench_spread s;

	for (size_t i = 0; i < p->n; i++)
		v[i] = p->a[i] - p->b[i];
	s = bench_spread_of(v, p->n);
	free(v);
	return s;
}

/* Median and quartiles of the per-pair ratios a[i] / b[i]. */
static inline struct bench_spread
bench_pairs_ratio(const struct bench_pairs *p)
{
	double *v = bench_values(p->n);
	struct bench_spread s;

	for (size_t i = 0; i < p->n; i++)
		v[i] = p->a[i] / p->b[i];
	s = bench_spread_of(v, p->n);
	free(v);
	return s;
}

/*
 * Prints one row of a Markdown table: what, the median, the IQR, the
 * quartiles and the median's 95 % interval of s divided by scale (1000:
 * µs shown as ms, two decimals; 1: a ratio, three), and target. The
 * header to go with it: BENCH_ROW_HEADER and BENCH_ROW_RULE (not printf
 * formats: they hold a '%').
 */
#define BENCH_ROW_HEADER "| median | IQR | q1 – q3 | median's 95 % interval | target |\n"
#define BENCH_ROW_RULE "|---|---|---|---|---|---|\n"

static inline void
bench_print_row(const char *what, struct bench_spread s, double scale, const char *target)
{
	int prec = scale > 1 ? 2 : 3;

	printf("| %s | %.*f | %.*f | %.*f – %.*f | %.*f – %.*f | %s |\n", what, prec,
	    s.median / scale, prec, bench_iqr(s) / scale, prec, s.q1 / scale, prec, s.q3 / scale,
	    prec, s.lo / scale, prec, s.hi / scale, target);
}

/*
 * The table of the per-request split (bench_log_take): hash[i], the
 * argon2id time portaild logged for request i, and own[i], that request's
 * whole time less it, for the n requests made; when fewer lines were
 * logged (BENCH_DAEMON_LOG unset), says so instead. what: the request's
 * name in the row.
 */
static inline void
bench_print_within(const char *what, double *hash, double *own, size_t logged, size_t n,
    const char *target)
{
	char row[160];

	if (logged == 0 || logged != n) {
		printf("(no per-sign-in split: BENCH_DAEMON_LOG unset, or %zu of %zu lines with "
		    "hash_ms= found)\n\n", logged, n);
		return;
	}
	fputs("| within each sign-in (portaild's log: hash_ms) " BENCH_ROW_HEADER BENCH_ROW_RULE,
	    stdout);
	bench_print_row("argon2id in portaild's worker, ms", bench_spread_of(hash, logged), 1000, "");
	snprintf(row, sizeof(row), "**overhead: %s − its own argon2id, per sign-in, ms**", what);
	bench_print_row(row, bench_spread_of(own, logged), 1000, target);
	printf("\n");
}

/*
 * CPU time. On a loaded machine a sample's wall time is mostly waiting for
 * a core: the run queue, not the code. The CPU time that the processes
 * doing the work spent on it (this one, portaild, slapd) is not, so it is
 * the steadier reading of what a request costs. The kernel keeps it per
 * thread, in ns (/proc/PID/task/TID/schedstat, first field).
 */
enum { BENCH_MAX_PROCS = 8 };

struct bench_procs {
	int pid[BENCH_MAX_PROCS];
	char name[BENCH_MAX_PROCS][32];    /* its /proc/PID/comm; "bench" for this one */
	size_t n;
};

/*
 * This process and those named in the environment variable BENCH_CPU_PIDS
 * (pids separated by spaces; script/bench sets portaild's and slapd's).
 * Returns false, with p holding this process only, when it is not set;
 * exits when a pid is malformed or its threads cannot be read.
 */
static inline bool
bench_procs_from_env(struct bench_procs *p)
{
	const char *e = getenv("BENCH_CPU_PIDS");
	char path[64];

	p->pid[0] = 0;                  /* 0: this process, as /proc/self */
	snprintf(p->name[0], sizeof(p->name[0]), "bench");
	p->n = 1;
	while (e != NULL && *e != '\0') {
		char *end;
		long v;

		while (*e == ' ')
			e++;
		if (*e == '\0')
			break;
		v = strtol(e, &end, 10);
		if (end == e || (*end != ' ' && *end != '\0') || v < 1 || v > 1 << 22 ||
		    p->n == BENCH_MAX_PROCS) {
			fprintf(stderr, "bench: BENCH_CPU_PIDS: pids separated by spaces, at most %d\n",
			    BENCH_MAX_PROCS - 1);
			exit(2);
		}
		snprintf(path, sizeof(path), "/proc/%ld/task", v);
		if (access(path, R_OK) != 0) {
			fprintf(stderr, "bench: BENCH_CPU_PIDS: cannot read %s\n", path);
			exit(2);
		}
		p->pid[p->n] = (int)v;
		snprintf(p->name[p->n], sizeof(p->name[p->n]), "pid %ld", v);
		snprintf(path, sizeof(path), "/proc/%ld/comm", v);
		{
			FILE *f = fopen(path, "r");

			if (f != NULL) {
				if (fgets(p->name[p->n], sizeof(p->name[p->n]), f) != NULL)
					p->name[p->n][strcspn(p->name[p->n], "\n")] = '\0';
				fclose(f);
			}
		}
		p->n++;
		e = end;
	}
	return p->n > 1;
}

/*
 * The CPU time, µs, that the threads of the processes in p have used so
 * far; each process's in of[i] when of is not NULL (room for p->n).
 */
static inline double
bench_cpu_us(const struct bench_procs *p, double *of)
{
	unsigned long long total = 0;

	for (size_t i = 0; i < p->n; i++) {
		char dir[64], path[128];
		DIR *d;
		struct dirent *t;
		unsigned long long mine = 0;

		if (p->pid[i] == 0)
			snprintf(dir, sizeof(dir), "/proc/self/task");
		else
			snprintf(dir, sizeof(dir), "/proc/%d/task", p->pid[i]);
		if ((d = opendir(dir)) == NULL)
			continue;               /* the process is gone: it costs no more */
		while ((t = readdir(d)) != NULL) {
			unsigned long long ns;
			FILE *f;

			if (t->d_name[0] == '.')
				continue;
			if (snprintf(path, sizeof(path), "%s/%s/schedstat", dir, t->d_name) >=
			    (int)sizeof(path) || (f = fopen(path, "r")) == NULL)
				continue;
			if (fscanf(f, "%llu", &ns) == 1)
				mine += ns;
			fclose(f);
		}
		closedir(d);
		total += mine;
		if (of != NULL)
			of[i] = (double)mine / 1e3;
	}
	return (double)total / 1e3;
}

/* What one sample cost: wall time and CPU time (of bench_procs: all, and each), µs. */
struct bench_cost {
	double wall, cpu, of[BENCH_MAX_PROCS];
};

/* Starts measuring a sample: the CPU time first, so that the wall time excludes reading it. */
static inline struct bench_cost
bench_cost_start(const struct bench_procs *p)
{
	struct bench_cost c = { 0 };

	c.cpu = bench_cpu_us(p, c.of);
	c.wall = bench_now_us();
	return c;
}

/* The cost since bench_cost_start() returned c. */
static inline struct bench_cost
bench_cost_since(const struct bench_procs *p, struct bench_cost c)
{
	struct bench_cost d = { 0 };

	d.wall = bench_now_us() - c.wall;
	d.cpu = bench_cpu_us(p, d.of) - c.cpu;
	for (size_t i = 0; i < p->n; i++)
		d.of[i] -= c.of[i];
	return d;
}

/*
 * The seconds a benchmark may spend on its pairs (BENCH_SECONDS, default
 * 150): on a loaded machine it stops before its count of pairs, and says
 * how many it made, rather than run for ten minutes.
 */
static inline double
bench_budget_s(void)
{
	const char *e = getenv("BENCH_SECONDS");
	char *end;
	double v;

	if (e == NULL || *e == '\0')
		return 150;
	v = strtod(e, &end);
	if (*end != '\0' || !(v > 0 && v < 86400)) {
		fprintf(stderr, "bench: BENCH_SECONDS: a number of seconds\n");
		exit(2);
	}
	return v;
}

/* The system's 1-minute load average, or -1: printed with the figures it came with. */
static inline double
bench_loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

#endif
