/*
 * bench_store — what a PostgreSQL store costs a write, and how long a
 * failover keeps writes away (issue 16 item 8: the store-level part).
 *
 *   bench_store SQLITE_DB LOCAL_CONNINFO CLUSTER_CONNINFO FAILOVER_CMD [PAIRS]
 *
 *  1. commit latency: one guarded single-row write, the shape of every
 *     store write (UPDATE … SET n = n + 1 WHERE id = 1 RETURNING n, its
 *     own transaction), on PostgreSQL alone (LOCAL_CONNINFO: pg.sh, unix
 *     socket), on the synchronously replicated cluster (CLUSTER_CONNINFO:
 *     pg-cluster.sh, ANY 1 of two standbys, loopback TCP) and on SQLite
 *     (WAL, synchronous=NORMAL, as lib/store-sqlite.c opens it), each
 *     PostgreSQL write paired with a SQLite one run right before or after
 *     it (bench.h), PAIRS (default 2000) of each;
 *  2. the failover write gap: a writer thread writes through the
 *     multi-host CLUSTER_CONNINFO as fast as it can, reconnecting after
 *     every error; FAILOVER_CMD (sh -c) kills the primary and runs the
 *     runbook (contrib/portail-pg-failover fence + promote); the gap is
 *     the time from just before the command starts to the first write
 *     acknowledged after it. Every acknowledged write returns the counter
 *     it set: the new primary's counter must be at least the last one
 *     acknowledged (none lost), which is checked and printed.
 *
 * What this does not measure yet: sign-in, code.verify and token.verify
 * through portaild on PostgreSQL against SQLite (portaild opens the
 * configured backend only once the pg branch switches it over).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "bench.h"

#define UPDATE_SQL "UPDATE bench_commit SET n = n + 1 WHERE id = 1 RETURNING n"

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_store: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static PGconn *
pg_open(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		die("cannot connect", PQerrorMessage(c));
	r = PQexec(c, "CREATE TABLE IF NOT EXISTS bench_commit (id int PRIMARY KEY, n bigint NOT NULL);"
	    "INSERT INTO bench_commit VALUES (1, 0) ON CONFLICT DO NOTHING");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("cannot create bench_commit", PQerrorMessage(c));
	PQclear(r);
	r = PQprepare(c, "up", UPDATE_SQL, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("cannot prepare", PQerrorMessage(c));
	PQclear(r);
	return c;
}

/* One write; the counter it set, or -1 on an error. */
static long long
pg_write(PGconn *c)
{
	PGresult *r = PQexecPrepared(c, "up", 0, NULL, NULL, NULL, 0);
	long long n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

static double
pg_commit(void *arg)
{
	double t0 = bench_now_us();

	if (pg_write(arg) < 0)
		die("write failed", PQerrorMessage(arg));
	return bench_now_us() - t0;
}

static sqlite3_stmt *sq_up;

static double
sq_commit(void *arg)
{
	double t0 = bench_now_us();

	(void)arg;
	if (sqlite3_step(sq_up) != SQLITE_ROW)
		die("SQLite write failed", NULL);
	sqlite3_reset(sq_up);
	return bench_now_us() - t0;
}

static sqlite3 *
sq_open(const char *path)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
	    "INSERT OR IGNORE INTO bench_commit VALUES (1, 0)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, UPDATE_SQL, -1, &sq_up, NULL) != SQLITE_OK)
		die("SQLite", sqlite3_errmsg(db));
	return db;
}

static void
print_pairs(const char *what, struct bench_pairs *p)
{
	bench_print_row(what, bench_pairs_side(p, 'a'), 1000, "");
	bench_print_row("SQLite in the same pairs, ms", bench_pairs_side(p, 'b'), 1000, "");
	bench_print_row("per pair: PostgreSQL − SQLite, ms", bench_pairs_diff(p), 1000, "");
	bench_print_row("per pair: PostgreSQL / SQLite", bench_pairs_ratio(p), 1, "");
}

/* ---- 2. the failover write gap ------------------------------------------------- */

struct writer {
	const char *conninfo;
	atomic_bool stop;
	atomic_llong last_acked;        /* the counter of the last acknowledged write */
	atomic_llong acked, errors;
	_Atomic double last_ack_us;     /* when it was acknowledged */
	_Atomic double mark_us;         /* the failover's start */
	_Atomic double first_after_us;  /* the first acknowledgement after a failure past mark_us */
	atomic_bool failed_since_mark;  /* the primary's loss seen by the writer */
};

/* A write or a connection failed: past the mark, the primary is gone. */
static void
failed(struct writer *w)
{
	atomic_fetch_add(&w->errors, 1);
	if (atomic_load(&w->mark_us) > 0)
		atomic_store(&w->failed_since_mark, true);
}

static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	PGconn *c = NULL;

	while (!atomic_load(&w->stop)) {
		long long n;

		if (c == NULL || PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			PGresult *r = NULL;

			c = PQconnectdb(w->conninfo);
			if (PQstatus(c) == CONNECTION_OK)
				r = PQprepare(c, "up", UPDATE_SQL, 0, NULL);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				PQclear(r);
				PQfinish(c);
				c = NULL;
				failed(w);
				usleep(10000);
				continue;
			}
			PQclear(r);
		}
		n = pg_write(c);
		if (n < 0) {
			/* in doubt: not counted as acknowledged; a new connection */
			failed(w);
			PQfinish(c);
			c = NULL;
			continue;
		}
		{
			double now = bench_now_us();

			atomic_store(&w->last_acked, n);
			atomic_store(&w->last_ack_us, now);
			atomic_fetch_add(&w->acked, 1);
			if (atomic_load(&w->failed_since_mark) && atomic_load(&w->first_after_us) == 0)
				atomic_store(&w->first_after_us, now);
		}
	}
	PQfinish(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	int pairs = 2000;
	PGconn *local, *cluster;
	sqlite3 *db;
	struct bench_pairs pl, pc;
	struct writer w;
	pthread_t t;
	double load0;
	long long final = -1, acked_before;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_store SQLITE_DB LOCAL_CONNINFO CLUSTER_CONNINFO FAILOVER_CMD [PAIRS]\n");
		return 2;
	}
	if (argc > 5)
		pairs = bench_arg_int(argv[5], 2, 1000000, "PAIRS");
	db = sq_open(argv[1]);
	local = pg_open(argv[2]);
	cluster = pg_open(argv[3]);
	load0 = bench_loadavg();

	/* 1 */
	bench_pairs_init(&pl, (size_t)pairs);
	bench_pairs_init(&pc, (size_t)pairs);
	for (int i = 0; i < 50; i++) {          /* warm: caches, the statements */
		(void)pg_commit(local);
		(void)pg_commit(cluster);
		(void)sq_commit(NULL);
	}
	for (int i = 0; i < pairs; i++) {
		bench_pairs_run(&pl, pg_commit, local, sq_commit, NULL);
		bench_pairs_run(&pc, pg_commit, cluster, sq_commit, NULL);
	}
	printf("## Commit latency: one guarded single-row write in its own transaction\n\n");
	printf("%zu pairs each, load average (1 min) %.2f at the start, %.2f at the end.\n\n", pl.n,
	    load0, bench_loadavg());
	fputs("| wall time " BENCH_ROW_HEADER BENCH_ROW_RULE, stdout);
	print_pairs("PostgreSQL 15 alone (unix socket), ms", &pl);
	print_pairs("PostgreSQL 15, synchronous ANY 1 of 2 standbys (loopback TCP), ms", &pc);
	printf("\n");
	bench_pairs_dump(&pl, "commit-local-sqlite");
	bench_pairs_dump(&pc, "commit-cluster-sqlite");
	bench_pairs_free(&pl);
	bench_pairs_free(&pc);
	PQfinish(local);
	PQfinish(cluster);
	sqlite3_finalize(sq_up);
	sqlite3_close(db);

	/* 2 */
	memset(&w, 0, sizeof(w));
	w.conninfo = argv[3];
	if (pthread_create(&t, NULL, writer_run, &w) != 0)
		die("pthread_create", NULL);
	while (atomic_load(&w.acked) < 1000)
		usleep(10000);
	acked_before = atomic_load(&w.acked);
	atomic_store(&w.mark_us, bench_now_us());
	if (system(argv[4]) != 0)
		die("FAILOVER_CMD failed", argv[4]);
	{
		double give_up = bench_now_us() + 60e6;

		while (atomic_load(&w.first_after_us) == 0 ||
		    atomic_load(&w.acked) < acked_before + 1000) {
			if (bench_now_us() > give_up)
				die("no write acknowledged within 60 s of the failover", NULL);
			usleep(10000);
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	{
		PGconn *c = PQconnectdb(argv[3]);
		PGresult *r = PQexec(c, "SELECT n FROM bench_commit WHERE id = 1");

		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			final = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		PQfinish(c);
	}
	printf("## Failover write gap (SIGKILL of the primary, then the runbook's fence + promote)\n\n");
	printf("| measure | value |\n|---|---|\n");
	printf("| from the SIGKILL to the first write acknowledged by the new primary, ms | %.0f |\n",
	    (atomic_load(&w.first_after_us) - atomic_load(&w.mark_us)) / 1000);
	printf("| writes acknowledged (before + after) | %lld |\n", (long long)atomic_load(&w.acked));
	printf("| writes that failed or were in doubt, and refused connections | %lld |\n",
	    (long long)atomic_load(&w.errors));
	printf("| last acknowledged counter / the new primary's counter | %lld / %lld (%s) |\n\n",
	    (long long)atomic_load(&w.last_acked), final,
	    final >= atomic_load(&w.last_acked) ? "none lost" : "LOST WRITES");
	return final >= atomic_load(&w.last_acked) ? 0 : 1;
}
