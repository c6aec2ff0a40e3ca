/*
 * test_store.c — the store's contract, and each backend's own machinery.
 *
 * The contract tests (the lockout's reservations, the administrator's
 * disable, the code limits at their edges, and the concurrency tests:
 * threads racing for the same account, code and limit) run against the
 * backend the environment names: SQLite by default, PostgreSQL when
 * PORTAIL_TEST_PG names a conninfo (tests/store-pg.test starts a cluster
 * with tests/fixtures/pg.sh), each test in a database of its own. The
 * same test code, the backend a parameter.
 *
 * SQLite's machinery: the statement cache when more texts exist than it
 * holds, schema migration when another process migrates meanwhile, and
 * the store's directory. PostgreSQL's: the server stopped (SIGSTOP) and
 * restarted under an open store, a schema newer than the program, two
 * openers migrating a new database at once, the password file.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>

#include "config.h"
#include "store-int.h"
#include "store-pg-int.h"
#include "pgtest.h"

static char dir[256];

static const char *db_path(const char *name);

/*
 * A new store for a contract test, of the backend under test: a new
 * SQLite file, or a new PostgreSQL database (name: a-z, 0-9, '_').
 */
static portail_store *
open_store(const char *name)
{
	portail_store *st = NULL;
	portail_error err;
	char p[128];

	if (pg_conninfo == NULL) {
		snprintf(p, sizeof(p), "%s.db", name);
		if (portail_store_open(db_path(p), &st, &err) != PORTAIL_OK)
			fail_msg("open %s: %s", name, err.message);
		assert_false(portail_store_shared(st));
		return st;
	}
	snprintf(p, sizeof(p), "t_%s", name);
	pg_fresh(p);
	if (pg_open(p, NULL, 5000, &st, &err) != PORTAIL_OK)
		fail_msg("open %s: %s", p, err.message);
	assert_string_equal(portail_store_backend(st), "postgresql");
	assert_true(portail_store_shared(st));
	return st;
}

static const char *
db_path(const char *name)
{
	static char p[400];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	return p;
}

static int
version_of(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int v = -100;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
set_version(const char *path, int v)
{
	sqlite3 *db = NULL;
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The current schema version: what a fresh store is migrated to. */
static int
schema_version(void)
{
	const char *p = db_path("schema.db");
	portail_store *st = NULL;
	portail_error err;

	assert_int_equal(portail_store_open(p, &st, &err), PORTAIL_OK);
	portail_store_close(st);
	return version_of(p);
}

/*
 * More distinct statements than the cache holds (every SQL text is named
 * by its address): each use past the cache is prepared and finalized,
 * cached ones keep working, and the store's own operations still run
 * with the cache full. The 49th text used to recurse until the stack
 * overflowed.
 */
static void
test_cache_full(void **state)
{
	static char texts[200][64];
	portail_store *st = NULL;
	portail_error err;
	struct portail_account a = { 0 };

	assert_int_equal(portail_store_open(db_path("cache.db"), &st, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_ERR_UNKNOWN);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(texts[i], sizeof(texts[i]), "SELECT %d, count(*) FROM accounts", i);
			if (pt_store_run(st, texts[i], &err) != PORTAIL_OK)
				fail_msg("round %d, text %d: %s", round, i, err.message);
		}
	}
	assert_true(pt_store_cached(st) > 0);
	assert_true(pt_store_cached(st) <= 64);
	/* the store's own statements, cached or not, still work with the cache full */
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_store_gc(st, 1000000, &err), PORTAIL_OK);
	assert_int_equal(portail_store_gc(st, 1000000, &err), PORTAIL_OK);
	assert_int_equal(portail_store_probe(st, &err), PORTAIL_OK);
	/* a bad text past the cache is an error, not a leak or a crash */
	assert_int_equal(pt_store_run(st, "SELECT x FROM nowhere", &err), PORTAIL_ERR_UNAVAILABLE);
	if (strstr(err.message, "store: prepare: no such") == NULL)
		fail_msg("message: %s", err.message);
	portail_store_close(st);
}

/* ---- another process migrates meanwhile ------------------------------------------ */

enum other { OTHER_MIGRATES, OTHER_WRITES };

static struct {
	enum other what;
	int at;                 /* the hook acts when the migration reaches this version */
	int version;            /* OTHER_WRITES: the version it leaves */
	int calls;
} other;

static void
other_process(void *arg, const char *path, int v)
{
	(void)arg;
	other.calls++;
	if (v != other.at)
		return;
	if (other.what == OTHER_MIGRATES) {
		portail_store *st2 = NULL;
		portail_error err;

		pt_store_migration_hook = NULL;         /* the other process has no hook */
		assert_int_equal(portail_store_open(path, &st2, &err), PORTAIL_OK);
		portail_store_close(st2);
		pt_store_migration_hook = other_process;
	} else {
		set_version(path, other.version);
	}
}

static portail_status
open_racing(const char *path, enum other what, int at, int version, portail_error *err)
{
	portail_store *st = NULL;
	portail_status r;

	memset(&other, 0, sizeof(other));
	other.what = what;
	other.at = at;
	other.version = version;
	pt_store_migration_hook = other_process;
	memset(err, 0, sizeof(*err));
	r = portail_store_open(path, &st, err);
	pt_store_migration_hook = NULL;
	if (r == PORTAIL_OK) {
		struct portail_account a = { 0 };
		portail_error e2;

		/* the schema is whole: an operation works */
		assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &e2),
		    PORTAIL_ERR_UNKNOWN);
	}
	portail_store_close(st);
	return r;
}

static void
test_concurrent_migration(void **state)
{
	int n = schema_version();
	portail_error err;
	const char *p;

	assert_true(n >= 2);
	/* the other process did it all before we took the lock: nothing left to do */
	p = db_path("race-all.db");
	assert_int_equal(open_racing(p, OTHER_MIGRATES, 0, 0, &err), PORTAIL_OK);
	assert_int_equal(version_of(p), n);
	assert_int_equal(other.calls, 1);
	/* we did the first step, the other the rest */
	p = db_path("race-rest.db");
	assert_int_equal(open_racing(p, OTHER_MIGRATES, 1, 0, &err), PORTAIL_OK);
	assert_int_equal(version_of(p), n);
	assert_int_equal(other.calls, 2);
	/* a newer portail migrated meanwhile: refused, not opened as if it were ours */
	p = db_path("race-newer.db");
	assert_int_equal(open_racing(p, OTHER_WRITES, 0, n + 5, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "newer than this portail"));
	/* something that is not portail wrote a negative version meanwhile: the
	 * migration index used to reach -1 (migrations[-1]) */
	p = db_path("race-negative.db");
	assert_int_equal(open_racing(p, OTHER_WRITES, 0, -1, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "schema version -1"));
	p = db_path("race-negative2.db");
	assert_int_equal(open_racing(p, OTHER_WRITES, 1, -7, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "schema version -7"));
	/* and a store found that way from the start */
	p = db_path("negative.db");
	set_version(p, -1);
	assert_int_equal(open_racing(p, OTHER_WRITES, 99, 0, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "schema version -1"));
	assert_int_equal(other.calls, 0);
}

/* ---- the store's directory ----------------------------------------------------- */

static void
test_check_dir(void **state)
{
	char d[400], path[500];
	portail_error err;

	snprintf(d, sizeof(d), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/portail.db", d);
	assert_int_equal(portail_store_check_dir(path, (uid_t)-1, (gid_t)-1, "me", &err),
	    PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "No such file"));
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(portail_store_check_dir(path, (uid_t)-1, (gid_t)-1, "me", &err), PORTAIL_OK);
	assert_int_equal(portail_store_check_dir(path, geteuid(), getegid(), "me", &err), PORTAIL_OK);
	assert_int_equal(chmod(d, 0777), 0);
	assert_int_equal(portail_store_check_dir(path, geteuid(), getegid(), "me", &err),
	    PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "writable by other users"));
	assert_non_null(strstr(err.message, "mode 700"));
	assert_int_equal(chmod(d, 0755), 0);
	/* another user's view of a directory that is not theirs */
	assert_int_equal(portail_store_check_dir(path, geteuid() + 4242, getegid() + 4242,
	    "portail-x", &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "is not writable by portail-x"));
	assert_non_null(strstr(err.message, "portail.db-wal"));
	assert_non_null(strstr(err.message, "chown portail-x: "));
	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/portail.db/x.db", d);
	snprintf(d, sizeof(d), "%s/state/portail.db", dir);
	{
		FILE *f = fopen(d, "w");

		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(portail_store_check_dir(path, (uid_t)-1, (gid_t)-1, "me", &err),
	    PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "not a directory"));
}

/*
 * The daemon's user opening a store in a directory it cannot write: the
 * error names the directory (SQLite's own message blames the file).
 */
static void
test_open_unwritable_dir(void **state)
{
	char d[400], path[500];
	portail_store *st = NULL;
	portail_error err;
	struct stat sb2;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		skip();
	snprintf(d, sizeof(d), "%s/rootdir", dir);
	snprintf(path, sizeof(path), "%s/portail.db", d);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(portail_store_open(path, &st, &err), PORTAIL_OK);
	portail_store_close(st);
	assert_int_equal(portail_store_chown(path, 65534, 65534, &err), PORTAIL_OK);
	if ((pid = fork()) == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(99);
		if (portail_store_open(path, &st, &err) == PORTAIL_OK)
			_exit(1);
		if (strstr(err.message, "its directory") == NULL || strstr(err.message, d) == NULL) {
			fprintf(stderr, "message: %s\n", err.message);
			_exit(2);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* portail_store_chown reaches the files SQLite keeps beside the store */
	{
		struct stat sb;

		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_uid, 65534);
	}
	/* the directory is right now, but a -wal file of root's was left there */
	assert_int_equal(chown(d, 65534, 65534), 0);
	assert_int_equal(chmod(d, 0700), 0);
	{
		char wal[600];
		FILE *f;

		snprintf(wal, sizeof(wal), "%s-wal", path);
		assert_non_null(f = fopen(wal, "w"));
		fclose(f);
		assert_int_equal(chmod(wal, 0600), 0);
		if ((pid = fork()) == 0) {
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(99);
			if (portail_store_open(path, &st, &err) == PORTAIL_OK)
				_exit(1);
			if (strstr(err.message, wal) == NULL || strstr(err.message, "not writable") == NULL) {
				fprintf(stderr, "message: %s\n", err.message);
				_exit(2);
			}
			_exit(0);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		/* what portail init does: give the store's files back */
		assert_int_equal(portail_store_chown(path, 65534, 65534, &err), PORTAIL_OK);
		assert_int_equal(stat(wal, &sb2), 0);
		assert_int_equal(sb2.st_uid, 65534);
	}
}

static int
setup(void **state)
{
	const char *base = getenv("PORTAIL_TEST_TMP");

	snprintf(dir, sizeof(dir), "%s/store.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	chmod(dir, 0755);
	return 0;
}

/*
 * The reserved attempt: counted as a failure before the verify, with the
 * lock it earns (60 s, doubling past the threshold, capped); refused while
 * locked; given back (count and the lock it set) for a right password
 * that does not sign in; cleared by a success.
 */
static void
test_auth_reserve(void **state)
{
	const struct portail_lockout p = { 3, 60, 200 };
	portail_store *st = NULL;
	portail_error err;
	struct portail_account a = { 0 };
	int64_t lock = -1, until = -1, now = 1000;

	st = open_store("reserve");
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	assert_int_equal(portail_store_auth_reserve(st, "y@exemple.ca", now, 0, &p, &lock, &until,
	    &err), PORTAIL_ERR_UNKNOWN);
	/* two reservations: no lock yet */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, i, &p, &lock,
		    &until, &err), PORTAIL_OK);
		assert_int_equal(lock, 0);
	}
	/* the third earns the lock at once, before its verify */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 2, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 1, 3, &p, &lock, &until,
	    &err), PORTAIL_ERR_LOCKED);
	assert_int_equal(until, now + 60);
	/* it was the right password on a disabled account: given back */
	assert_int_equal(portail_store_auth_release(st, "x@exemple.ca", now + 60, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 2);
	assert_int_equal(a.locked_until, 0);
	portail_account_clear(&a);
	/* third and fourth failures: 60 s, then 120 s (doubling, where it was) */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 2, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 60, 3, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60 + 120);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 180, 4, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 180 + 200);        /* capped */
	/* a success clears it all */
	assert_int_equal(portail_store_auth_succeeded(st, "x@exemple.ca", now + 400, NULL, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 0);
	assert_int_equal(a.locked_until, 0);
	portail_account_clear(&a);
	portail_store_close(st);
}

/* The account's counters as the store has them. */
static void
counters(portail_store *st, const char *key, int *failures, int64_t *locked_until)
{
	struct portail_account a = { 0 };
	portail_error err;

	assert_int_equal(portail_store_account_get(st, key, &a, &err), PORTAIL_OK);
	*failures = a.failures;
	*locked_until = a.locked_until;
	portail_account_clear(&a);
}

/*
 * The count the caller read is a hint: stale (the row moved since it was
 * read), ahead, absent (-1) or absurd (INT_MAX), the attempt is counted
 * exactly once, with the lock of the row's real count, and a lock set
 * meanwhile is seen. On PostgreSQL a stale count is one missed
 * compare-and-swap, the count read again, and a second one that holds.
 */
static void
test_auth_reserve_stale(void **state)
{
	const struct portail_lockout p = { 3, 60, 200 };
	portail_store *st = open_store("reserve_stale");
	portail_error err;
	int64_t lock = -1, until = -1, now = 1000, locked;
	unsigned long fallbacks = 0;
	int failures;

	(void)state;
	if (pg_conninfo != NULL)
		fallbacks = ((struct pt_pg_store *)(void *)st)->cas_fallbacks;
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 0, &p, &lock, &until,
	    &err), PORTAIL_OK);
	/* read at 0, the row at 1: counted once, no lock */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 0, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, 0);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 2);
	assert_int_equal(locked, 0);
	/* read at 0, the row at 2: the third failure's lock, not the first's none */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 0, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 3);
	assert_int_equal(locked, now + 60);
	/* read before the lock: the lock is seen, nothing counted */
	until = -1;
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 1, 0, &p, &lock, &until,
	    &err), PORTAIL_ERR_LOCKED);
	assert_int_equal(until, now + 60);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 3);
	/* given back: the lock it set lifted */
	assert_int_equal(portail_store_auth_release(st, "x@exemple.ca", now + 60, &err), PORTAIL_OK);
	/* ahead (7, the row at 2): the third failure's 60 s, not the eighth's 200 */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, 7, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	/* no count (-1): the transaction, the fourth failure's 120 s */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 60, -1, &p, &lock,
	    &until, &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60 + 120);
	/* absurd (INT_MAX): the fifth, capped */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 180, INT_MAX, &p,
	    &lock, &until, &err), PORTAIL_OK);
	assert_int_equal(lock, now + 180 + 200);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 5);
	assert_int_equal(locked, now + 180 + 200);
	/* gone, whatever the hint */
	assert_int_equal(portail_store_auth_reserve(st, "y@exemple.ca", now, 0, &p, &lock, &until,
	    &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_store_auth_reserve(st, "y@exemple.ca", now, -1, &p, &lock, &until,
	    &err), PORTAIL_ERR_UNKNOWN);
	/* one miss each time: the second swap held, no transaction */
	if (pg_conninfo != NULL)
		assert_int_equal(((struct pt_pg_store *)(void *)st)->cas_fallbacks, fallbacks);
	portail_store_close(st);
}

/*
 * The store only stores (issue 12): setting the state changes the state,
 * nothing else; an administrator's disable is the state and the tokens'
 * revocation composed, in one transaction, and changes nothing for an
 * account that is not there.
 */
static void
test_disable_and_revoke(void **state)
{
	const unsigned char h1[PORTAIL_HASH_BYTES] = { 1 }, h2[PORTAIL_HASH_BYTES] = { 2 };
	portail_store *st = NULL;
	portail_error err;
	struct portail_account a = { 0 };
	struct portail_token *list = NULL;
	size_t n = 9;
	int64_t id = 0, now = 1000;

	(void)state;
	st = open_store("disable");
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h1, "courriel", now, now + 3600,
	    50, &id, &err), PORTAIL_OK);
	/* the state alone: the token lives on */
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca", PORTAIL_ACCOUNT_DISABLED,
	    now + 1, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.state, PORTAIL_ACCOUNT_DISABLED);
	assert_int_equal(a.token_epoch, 0);
	assert_int_equal(a.updated, now + 1);
	portail_account_clear(&a);
	assert_int_equal(portail_store_token_list(st, "x@exemple.ca", now + 1, &list, &n, &err),
	    PORTAIL_OK);
	assert_int_equal(n, 1);
	portail_token_clear(&list[0]);
	free(list);
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca", PORTAIL_ACCOUNT_ENABLED,
	    now + 2, &err), PORTAIL_OK);
	/* the administrator's disable: disabled, and every token revoked */
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h2, "imap", now + 2, now + 3600,
	    50, &id, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_disable_and_revoke(st, "x@exemple.ca", now + 3, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.state, PORTAIL_ACCOUNT_DISABLED);
	assert_int_equal(a.token_epoch, 1);
	assert_int_equal(a.updated, now + 3);
	portail_account_clear(&a);
	list = NULL;
	n = 9;
	assert_int_equal(portail_store_token_list(st, "x@exemple.ca", now + 3, &list, &n, &err),
	    PORTAIL_OK);
	assert_int_equal(n, 0);
	free(list);
	/* enabling again does not bring the tokens back */
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca", PORTAIL_ACCOUNT_ENABLED,
	    now + 4, &err), PORTAIL_OK);
	n = 9;
	assert_int_equal(portail_store_token_list(st, "x@exemple.ca", now + 4, &list, &n, &err),
	    PORTAIL_OK);
	assert_int_equal(n, 0);
	free(list);
	/* no such account: UNKNOWN, nothing written */
	assert_int_equal(portail_store_account_disable_and_revoke(st, "y@exemple.ca", now + 5, &err),
	    PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_store_account_get(st, "y@exemple.ca", &a, &err), PORTAIL_ERR_UNKNOWN);
	portail_store_close(st);
}

/*
 * The store's record of issued codes gives the policy's answers at the
 * edges (tests/unit/test_policy.c has the arithmetic): the resend
 * interval to the second, the day's limit across purposes, and the
 * sliding day's boundary, where the store's SQL and the decoy table
 * must agree.
 */
static portail_status
issue(portail_store *st, const char *key, const char *purpose, int64_t now,
    const struct portail_code_rules *r, int *wait)
{
	const unsigned char h[PORTAIL_HASH_BYTES] = { 7 };
	portail_error err;

	return portail_store_code_issue(st, key, key, purpose, h, now, r, NULL, wait, &err);
}

static void
test_code_limits_at_edges(void **state)
{
	const struct portail_code_rules r = { 600, 5, 30, 10 }, r0 = { 600, 5, 0, 3 };
	portail_store *st = NULL;
	portail_error err;
	int64_t t = 1800000000;
	int wait = -1;

	(void)state;
	st = open_store("limits");
	/* the resend interval, to the second, whatever the purpose */
	assert_int_equal(issue(st, "x@exemple.ca", "signup", t, &r, &wait), PORTAIL_OK);
	assert_int_equal(issue(st, "x@exemple.ca", "reset", t + 29, &r, &wait),
	    PORTAIL_ERR_TOO_SOON);
	assert_int_equal(wait, 1);
	assert_int_equal(issue(st, "x@exemple.ca", "reset", t + 30, &r, &wait), PORTAIL_OK);
	/* the day's limit (no interval here): the fourth is refused, and not recorded */
	for (int i = 0; i < 3; i++)
		assert_int_equal(issue(st, "y@exemple.ca", i ? "reset" : "signup", t + 10 * (i / 2),
		    &r0, &wait), PORTAIL_OK);
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 10, &r0, &wait),
	    PORTAIL_ERR_RATE_LIMITED);
	/* a day after the first two, to the second: still counted; then not */
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86399, &r0, &wait),
	    PORTAIL_ERR_RATE_LIMITED);
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86400, &r0, &wait), PORTAIL_OK);
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86400, &r0, &wait), PORTAIL_OK);
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86400, &r0, &wait),
	    PORTAIL_ERR_RATE_LIMITED);
	/* the third leaves the day a day after it came */
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86410, &r0, &wait), PORTAIL_OK);
	/* gc sweeps only what the day no longer counts: the answers stay */
	assert_int_equal(portail_store_gc(st, t + 86410, &err), PORTAIL_OK);
	assert_int_equal(issue(st, "y@exemple.ca", "signup", t + 86410, &r0, &wait),
	    PORTAIL_ERR_RATE_LIMITED);
	assert_int_equal(issue(st, "x@exemple.ca", "signup", t + 86410, &r, &wait), PORTAIL_OK);
	portail_store_close(st);
}

/*
 * [tokens] max_per_account: the live tokens of the account count (not
 * the expired ones, not those of an epoch revoked); past it the add is
 * refused, with no row written; an unknown account stays UNKNOWN.
 */
static void
token_hash(unsigned char h[PORTAIL_HASH_BYTES], int a, int b)
{
	memset(h, 0, PORTAIL_HASH_BYTES);
	h[0] = 0x7c;
	h[1] = (unsigned char)a;
	h[2] = (unsigned char)b;
}

static size_t
live_tokens(portail_store *st, const char *key, int64_t now)
{
	struct portail_token *list = NULL;
	portail_error err;
	size_t n = 0;

	assert_int_equal(portail_store_token_list(st, key, now, &list, &n, &err), PORTAIL_OK);
	for (size_t i = 0; i < n; i++)
		portail_token_clear(&list[i]);
	free(list);
	return n;
}

static void
test_token_cap(void **state)
{
	unsigned char h[PORTAIL_HASH_BYTES];
	portail_store *st = open_store("token_cap");
	portail_error err;
	int64_t id = 0, first = 0, now = 1000;

	(void)state;
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	for (int i = 0; i < 3; i++) {
		token_hash(h, 0, i);
		assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now, now + 3600,
		    3, &id, &err), PORTAIL_OK);
		if (i == 0)
			first = id;
	}
	token_hash(h, 0, 3);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now, now + 3600, 3,
	    &id, &err), PORTAIL_ERR_TOO_MANY_TOKENS);
	assert_int_equal(live_tokens(st, "x@exemple.ca", now), 3);
	/* a larger cap lets it in; one revoked makes room under the old one */
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now, now + 3600, 4,
	    &id, &err), PORTAIL_OK);
	token_hash(h, 0, 4);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now, now + 3600, 4,
	    &id, &err), PORTAIL_ERR_TOO_MANY_TOKENS);
	assert_int_equal(portail_store_token_delete(st, "x@exemple.ca", first, &err), PORTAIL_OK);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now, now + 3600, 4,
	    &id, &err), PORTAIL_OK);
	assert_int_equal(live_tokens(st, "x@exemple.ca", now), 4);
	/* expired: they no longer count */
	token_hash(h, 0, 5);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now + 3600, now + 7200,
	    1, &id, &err), PORTAIL_OK);
	token_hash(h, 0, 6);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now + 3600, now + 7200,
	    1, &id, &err), PORTAIL_ERR_TOO_MANY_TOKENS);
	/* all revoked (the epoch bumped): none counts */
	assert_int_equal(portail_store_token_revoke_all(st, "x@exemple.ca", now + 3600, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h, "t", now + 3600, now + 7200,
	    1, &id, &err), PORTAIL_OK);
	assert_int_equal(live_tokens(st, "x@exemple.ca", now + 3600), 1);
	/* no account: unknown, not the cap */
	token_hash(h, 0, 7);
	assert_int_equal(portail_store_token_add(st, "y@exemple.ca", h, "t", now, now + 3600, 1,
	    &id, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_store_token_add(st, "y@exemple.ca", h, "t", now, now + 3600, 0,
	    &id, &err), PORTAIL_ERR_UNKNOWN);
	portail_store_close(st);
}

/* ---- concurrency: the same answers whatever the interleaving ------------------- */

#define N_THREADS 4
#define FLOOD_THREADS 8

struct race {
	portail_store *st;
	pthread_barrier_t *start;
	int id;
	int ok, other, checked;         /* what this thread got */
	int per_key[64];
};

/*
 * n wrong passwords on one account, each as a sign-in makes it: the row
 * read, then the reservation with the count read (odd threads pass 0
 * instead, a count gone stale at once, so that swaps miss).
 */
static void
reserve_n(struct race *t, int n)
{
	const struct portail_lockout p = { 10, 60, 3600 };

	pthread_barrier_wait(t->start);
	for (int i = 0; i < n; i++) {
		portail_error err;
		struct portail_account a = { 0 };
		int64_t lock = 0, until = 0;
		portail_status r;
		int seen = 0;

		if (t->id % 2 == 0) {
			if (portail_store_account_get(t->st, "x@exemple.ca", &a, &err) != PORTAIL_OK) {
				t->other++;
				continue;
			}
			seen = a.failures;
			portail_account_clear(&a);
		}
		r = portail_store_auth_reserve(t->st, "x@exemple.ca", 5000, seen, &p, &lock, &until,
		    &err);
		if (r == PORTAIL_OK)
			t->ok++;
		else if (r != PORTAIL_ERR_LOCKED)
			t->other++;
	}
}

/*
 * 4 threads x 10 wrong passwords at once on one account: exactly
 * max_failures verifications are reserved, the others refused as locked
 * (READ COMMITTED and SELECT-then-UPDATE would reserve more).
 */
static void *
reserve_thread(void *arg)
{
	reserve_n(arg, 10);
	return NULL;
}

/* The flood: 8 threads x 50 (reserve_flood_thread, run_race_n). */
static void *
reserve_flood_thread(void *arg)
{
	reserve_n(arg, 50);
	return NULL;
}

static void
run_race_n(portail_store *st, void *(*fn)(void *), struct race *t, int n)
{
	pthread_t th[FLOOD_THREADS];
	pthread_barrier_t start;

	assert_true(n <= FLOOD_THREADS);
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].st = st;
		t[i].start = &start;
		t[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, fn, &t[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
}

static void
run_race(portail_store *st, void *(*fn)(void *), struct race *t)
{
	run_race_n(st, fn, t, N_THREADS);
}

static void
test_concurrent_reserve(void **state)
{
	portail_store *st = open_store("race_reserve");
	struct race t[N_THREADS];
	struct portail_account a = { 0 };
	portail_error err;
	int ok = 0;

	(void)state;
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	run_race(st, reserve_thread, t);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(t[i].other, 0);
		ok += t[i].ok;
	}
	assert_int_equal(ok, 10);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 10);
	assert_int_equal(a.locked_until, 5000 + 60);
	portail_account_clear(&a);
	portail_store_close(st);
}

/*
 * The flood: 8 threads x 50 wrong passwords on one account, half with a
 * stale count: still exactly max_failures reserved, the lock reached and
 * nothing else counted. On PostgreSQL the swaps miss and some
 * reservations take the transaction (how many depends on the
 * interleaving: printed, not compared).
 */
static void
test_concurrent_reserve_flood(void **state)
{
	portail_store *st = open_store("race_flood");
	struct race t[FLOOD_THREADS];
	portail_error err;
	int64_t locked;
	int ok = 0, failures;

	(void)state;
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	run_race_n(st, reserve_flood_thread, t, FLOOD_THREADS);
	for (int i = 0; i < FLOOD_THREADS; i++) {
		assert_int_equal(t[i].other, 0);
		ok += t[i].ok;
	}
	assert_int_equal(ok, 10);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 10);
	assert_int_equal(locked, 5000 + 60);
	if (pg_conninfo != NULL)
		printf("# flood: %lu swaps missed, %lu reservations took the transaction\n",
		    (unsigned long)((struct pt_pg_store *)(void *)st)->cas_misses,
		    (unsigned long)((struct pt_pg_store *)(void *)st)->cas_fallbacks);
	portail_store_close(st);
}

#define RACE_KEYS 40

static void
race_key(char *buf, size_t n, int k)
{
	snprintf(buf, n, "k%02d@exemple.ca", k);
}

/*
 * Wrong guesses at once on 40 codes of 5 tries, 3 per thread per code
 * (12 per code): each code is checked exactly 5 times (a checked guess
 * sets *tries_left), never more.
 */
static void *
guess_thread(void *arg)
{
	const unsigned char wrong[PORTAIL_HASH_BYTES] = { 0xee }, ticket[PORTAIL_HASH_BYTES] = { 0 };
	struct race *t = arg;

	pthread_barrier_wait(t->start);
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < RACE_KEYS; k++) {
			char key[64];
			portail_error err;
			int left = -1;
			portail_status r;

			race_key(key, sizeof(key), (k + t->id * 7) % RACE_KEYS);
			r = portail_store_code_verify(t->st, key, "signup", wrong, ticket, 1100, 600,
			    &left, &err);
			if (left >= 0)
				t->per_key[(k + t->id * 7) % RACE_KEYS]++;
			if (r != PORTAIL_ERR_WRONG_CODE && r != PORTAIL_ERR_TOO_MANY_TRIES)
				t->other++;
		}
	}
	return NULL;
}

static void
test_concurrent_guesses(void **state)
{
	const struct portail_code_rules rules = { 600, 5, 0, 10 };
	const unsigned char code[PORTAIL_HASH_BYTES] = { 0x11 }, ticket[PORTAIL_HASH_BYTES] = { 0x22 };
	portail_store *st = open_store("race_guess");
	struct race t[N_THREADS];
	portail_error err;
	int wait = 0, left = -1;

	(void)state;
	for (int k = 0; k < RACE_KEYS; k++) {
		char key[64];

		race_key(key, sizeof(key), k);
		assert_int_equal(portail_store_code_issue(st, key, key, "signup", code, 1000, &rules,
		    NULL, &wait, &err), PORTAIL_OK);
	}
	run_race(st, guess_thread, t);
	for (int k = 0; k < RACE_KEYS; k++) {
		int checked = 0;

		for (int i = 0; i < N_THREADS; i++)
			checked += t[i].per_key[k];
		if (checked != 5)
			fail_msg("code %d checked %d times", k, checked);
	}
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(t[i].other, 0);
	/* the right code, after: dead all the same */
	assert_int_equal(portail_store_code_verify(st, "k00@exemple.ca", "signup", code, ticket, 1100,
	    600, &left, &err), PORTAIL_ERR_TOO_MANY_TRIES);
	portail_store_close(st);
}

/*
 * Code requests at once for 20 addresses, 8 per address, 3 a day, no
 * interval: exactly 3 issued per address (count-then-insert would issue
 * more).
 */
static void *
issue_thread(void *arg)
{
	const struct portail_code_rules rules = { 600, 5, 0, 3 };
	const unsigned char code[PORTAIL_HASH_BYTES] = { 0x33 };
	struct race *t = arg;

	pthread_barrier_wait(t->start);
	for (int round = 0; round < 2; round++) {
		for (int k = 0; k < 20; k++) {
			char key[64];
			portail_error err;
			int wait = 0;
			portail_status r;

			race_key(key, sizeof(key), k);
			r = portail_store_code_issue(t->st, key, key, round ? "reset" : "signup", code,
			    1800000000, &rules, NULL, &wait, &err);
			if (r == PORTAIL_OK)
				t->per_key[k]++;
			else if (r != PORTAIL_ERR_RATE_LIMITED)
				t->other++;
		}
	}
	return NULL;
}

static void
test_concurrent_issue(void **state)
{
	portail_store *st = open_store("race_issue");
	struct race t[N_THREADS];

	(void)state;
	run_race(st, issue_thread, t);
	for (int k = 0; k < 20; k++) {
		int issued = 0;

		for (int i = 0; i < N_THREADS; i++)
			issued += t[i].per_key[k];
		if (issued != 3)
			fail_msg("address %d: %d codes issued, the limit is 3", k, issued);
	}
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(t[i].other, 0);
	portail_store_close(st);
}

/*
 * Two finishes of one sign-up ticket at once: one account, one winner;
 * the other is told the ticket is spent (or, having waited, that the
 * account exists), never both OK.
 */
static void *
finish_thread(void *arg)
{
	const unsigned char ticket[PORTAIL_HASH_BYTES] = { 0x44 };
	struct race *t = arg;
	portail_error err;
	portail_status r;

	pthread_barrier_wait(t->start);
	r = portail_store_signup_finish(t->st, ticket, 1100, "$argon2id$fake", &err);
	if (r == PORTAIL_OK)
		t->ok++;
	else if (r != PORTAIL_ERR_BAD_TICKET && r != PORTAIL_ERR_EXISTS)
		t->other++;
	return NULL;
}

static void
test_concurrent_finish(void **state)
{
	const struct portail_code_rules rules = { 600, 5, 0, 10 };
	const unsigned char code[PORTAIL_HASH_BYTES] = { 0x11 }, ticket[PORTAIL_HASH_BYTES] = { 0x44 };
	portail_store *st = open_store("race_finish");
	struct race t[N_THREADS];
	struct portail_account a = { 0 };
	portail_error err;
	int wait = 0, left = -1, ok = 0;

	(void)state;
	assert_int_equal(portail_store_code_issue(st, "x@exemple.ca", "X@exemple.ca", "signup", code,
	    1000, &rules, NULL, &wait, &err), PORTAIL_OK);
	assert_int_equal(portail_store_code_verify(st, "x@exemple.ca", "signup", code, ticket, 1001,
	    600, &left, &err), PORTAIL_OK);
	run_race(st, finish_thread, t);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(t[i].other, 0);
		ok += t[i].ok;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_string_equal(a.email, "X@exemple.ca");
	portail_account_clear(&a);
	portail_store_close(st);
}

/*
 * Token adds at once for 60 accounts, 4 threads x 3 each, a cap of 2:
 * exactly 2 per account (count-then-insert under READ COMMITTED would
 * pass the cap: the account's row is locked first).
 */
#define TOKEN_CAP 2
#define TOKEN_ACCOUNTS 60

static void *
token_thread(void *arg)
{
	struct race *t = arg;

	pthread_barrier_wait(t->start);
	/* the threads in step: all on one account at a time, 3 adds each */
	for (int k = 0; k < TOKEN_ACCOUNTS; k++) {
		for (int round = 0; round < 3; round++) {
			unsigned char h[PORTAIL_HASH_BYTES];
			char key[64];
			portail_error err;
			int64_t id = 0;
			portail_status r;

			race_key(key, sizeof(key), k);
			token_hash(h, k, t->id * 3 + round + 1);
			r = portail_store_token_add(t->st, key, h, "t", 1000, 5000, TOKEN_CAP, &id, &err);
			if (r == PORTAIL_OK)
				t->per_key[k]++;
			else if (r != PORTAIL_ERR_TOO_MANY_TOKENS)
				t->other++;
		}
	}
	return NULL;
}

static void
test_concurrent_tokens(void **state)
{
	portail_store *st = open_store("race_tokens");
	struct race t[N_THREADS];
	portail_error err;
	char sql[4096];
	size_t n;

	(void)state;
	/* one statement for the accounts (the store caches statements by their text's address) */
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO accounts(email_key, email, created, "
	    "updated) VALUES ");
	for (int k = 0; k < TOKEN_ACCOUNTS; k++) {
		char key[64];

		race_key(key, sizeof(key), k);
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s('%s', '%s', 1, 1)", k ? ", " : "",
		    key, key);
	}
	assert_true(n < sizeof(sql));
	assert_int_equal(pt_store_run(st, sql, &err), PORTAIL_OK);
	run_race(st, token_thread, t);
	for (int k = 0; k < TOKEN_ACCOUNTS; k++) {
		char key[64];
		int issued = 0;

		for (int i = 0; i < N_THREADS; i++)
			issued += t[i].per_key[k];
		race_key(key, sizeof(key), k);
		if (issued != TOKEN_CAP || live_tokens(st, key, 1000) != TOKEN_CAP)
			fail_msg("account %d: %d tokens added, the cap is %d", k, issued, TOKEN_CAP);
	}
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(t[i].other, 0);
	portail_store_close(st);
}

/* ---- social sign-in states -------------------------------------------------------- */

/*
 * A state is taken once, only while live; expired ones are swept by the
 * next add; a hash added twice is refused. Both backends.
 */
static void
test_oauth_states(void **state)
{
	const unsigned char h1[PORTAIL_HASH_BYTES] = { 1 }, h2[PORTAIL_HASH_BYTES] = { 2 },
	    h3[PORTAIL_HASH_BYTES] = { 3 };
	char provider[] = "google", nonce[] = "n0nce", verifier[] = "v3rifier", ret[] = "/compte";
	struct portail_oauth_state s = { provider, nonce, verifier, ret, 1600 }, out;
	portail_store *st = open_store("oauth");
	portail_error err;

	(void)state;
	assert_int_equal(portail_store_oauth_state_add(st, h1, &s, 1000, &err), PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_add(st, h1, &s, 1000, &err), PORTAIL_ERR_EXISTS);
	s.nonce = NULL;
	s.verifier = NULL;
	s.return_to = NULL;
	s.expires = 1100;
	assert_int_equal(portail_store_oauth_state_add(st, h2, &s, 1000, &err), PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_take(st, h1, 1500, &out, &err), PORTAIL_OK);
	assert_string_equal(out.provider, "google");
	assert_string_equal(out.nonce, "n0nce");
	assert_string_equal(out.verifier, "v3rifier");
	assert_string_equal(out.return_to, "/compte");
	assert_int_equal(out.expires, 1600);
	portail_oauth_state_clear(&out);
	/* once only */
	assert_int_equal(portail_store_oauth_state_take(st, h1, 1500, &out, &err),
	    PORTAIL_ERR_BAD_TICKET);
	/* expired: not given, and swept by the next add */
	assert_int_equal(portail_store_oauth_state_take(st, h2, 1100, &out, &err),
	    PORTAIL_ERR_BAD_TICKET);
	s.expires = 2000;
	assert_int_equal(portail_store_oauth_state_add(st, h3, &s, 1200, &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "DELETE FROM oauth_states WHERE expires = 1100", &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_take(st, h3, 1300, &out, &err), PORTAIL_OK);
	assert_null(out.nonce);
	assert_null(out.verifier);
	assert_null(out.return_to);
	portail_oauth_state_clear(&out);
	portail_store_close(st);
}

/* ---- PostgreSQL: faults, schema, password -------------------------------------------- */

/* SIGSTOP or SIGCONT to the cluster: the postmaster and every process it forked. */
static int
signal_cluster(int sig)
{
	char p[512], line[256];
	FILE *f;
	long pm = -1;
	int n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(p, sizeof(p), "%s/pid", pg_dir);
	assert_non_null(f = fopen(p, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	pm = strtol(line, NULL, 10);
	assert_true(pm > 1);
	if (sig == SIGCONT && kill((pid_t)pm, sig) == 0)
		n++;
	assert_non_null(d = opendir("/proc"));
	while ((e = readdir(d)) != NULL) {
		long pid = strtol(e->d_name, NULL, 10), ppid = -1;
		char stat[512], *close;

		if (pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		if ((f = fopen(p, "r")) == NULL)
			continue;
		if (fgets(stat, sizeof(stat), f) != NULL && (close = strrchr(stat, ')')) != NULL)
			sscanf(close + 2, "%*c %ld", &ppid);
		fclose(f);
		if (ppid == pm && kill((pid_t)pid, sig) == 0)
			n++;
	}
	closedir(d);
	if (sig == SIGSTOP && kill((pid_t)pm, sig) == 0)
		n++;
	return n;
}

/*
 * The whole cluster stopped (accepts, never answers: TESTING.md) under an
 * open store: every call returns UNAVAILABLE (ours: the deadline), the
 * one on a connection and the ones that reconnect; resumed, the same
 * handle works again, without reopening.
 */
static void
test_pg_stopped(void **state)
{
	struct portail_account a = { 0 };
	portail_store *st = NULL;
	portail_error err;
	int unavailable = 0, back = 0;

	(void)state;
	pg_fresh("t_stopped");
	/* the schema made first, unhurried; then the store under test, with a short deadline */
	assert_int_equal(pg_open("t_stopped", NULL, 5000, &st, &err), PORTAIL_OK);
	portail_store_close(st);
	assert_int_equal(pg_open("t_stopped", NULL, 300, &st, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_ERR_UNKNOWN);
	assert_true(signal_cluster(SIGSTOP) >= 2);
	for (int i = 0; i < 3; i++) {
		memset(&err, 0, sizeof(err));
		if (portail_store_account_get(st, "x@exemple.ca", &a, &err) == PORTAIL_ERR_UNAVAILABLE)
			unavailable++;
	}
	assert_true(signal_cluster(SIGCONT) >= 2);
	assert_int_equal(unavailable, 3);
	assert_non_null(strstr(err.message, "300 ms") ? err.message : strstr(err.message, "deadline"));
	/* resumed: the next call reconnects (bounded: 50 calls) */
	for (int i = 0; i < 50 && !back; i++)
		back = portail_store_account_get(st, "x@exemple.ca", &a, &err) == PORTAIL_ERR_UNKNOWN;
	assert_true(back);
	assert_int_equal(portail_store_probe(st, &err), PORTAIL_OK);
	portail_store_close(st);
}

/* The server restarted under an open store: unavailable at worst, then reconnected. */
static void
test_pg_restarted(void **state)
{
	struct portail_account a = { 0 };
	portail_store *st = NULL;
	portail_error err;
	char cmd[1024], root[512];
	FILE *f;
	int ok = 0, odd = 0;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/root", pg_dir);
	assert_non_null(f = fopen(cmd, "r"));
	assert_non_null(fgets(root, sizeof(root), f));
	fclose(f);
	root[strcspn(root, "\n")] = '\0';
	pg_fresh("t_restart");
	assert_int_equal(pg_open("t_restart", NULL, 3000, &st, &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	snprintf(cmd, sizeof(cmd), "%s /usr/lib/postgresql/15/bin/pg_ctl -D %s/data -m fast -w "
	    "restart >/dev/null", geteuid() == 0 ? "runuser -u postgres --" : "", root);
	assert_int_equal(system(cmd), 0);
	/* the pid file moved on: the stop tests find the new postmaster */
	snprintf(cmd, sizeof(cmd), "head -1 %s/data/postmaster.pid >%s/pid", root, pg_dir);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 20 && ok == 0; i++) {
		portail_status r = portail_store_account_get(st, "x@exemple.ca", &a, &err);

		if (r == PORTAIL_OK) {
			ok++;
			portail_account_clear(&a);
		} else if (r != PORTAIL_ERR_UNAVAILABLE) {
			odd++;
		}
	}
	assert_int_equal(ok, 1);
	assert_int_equal(odd, 0);
	portail_store_close(st);
}

/* A schema newer than this program: refused (CONFIG), not used as if it were ours. */
static void
test_pg_newer_schema(void **state)
{
	portail_store *st = NULL;
	portail_error err;

	(void)state;
	pg_fresh("t_newer");
	assert_int_equal(pg_open("t_newer", NULL, 3000, &st, &err), PORTAIL_OK);
	portail_store_close(st);
	assert_int_equal(pg_value("t_newer", "SELECT version FROM portail_schema"), 8);
	assert_true(pg_admin("t_newer", "UPDATE portail_schema SET version = 12"));
	st = NULL;
	assert_int_equal(pg_open("t_newer", NULL, 3000, &st, &err), PORTAIL_ERR_CONFIG);
	assert_null(st);
	assert_non_null(strstr(err.message, "newer than this portail"));
	assert_true(pg_admin("t_newer", "UPDATE portail_schema SET version = 3"));
	assert_int_equal(pg_open("t_newer", NULL, 3000, &st, &err), PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "schema version 3"));
}

static pthread_barrier_t openers;

static void
openers_meet(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&openers);
}

static void *
opener_thread(void *arg)
{
	portail_store *st = NULL;
	portail_error err;
	portail_status *r = arg;

	*r = pg_open("t_openers", NULL, 5000, &st, &err);
	if (*r != PORTAIL_OK)
		fprintf(stderr, "opener: %s\n", err.message);
	portail_store_close(st);
	return NULL;
}

/* Four daemons opening a new database at once: one schema, every one of them open. */
static void
test_pg_concurrent_open(void **state)
{
	pthread_t th[N_THREADS];
	portail_status r[N_THREADS];

	(void)state;
	pg_fresh("t_openers");
	pthread_barrier_init(&openers, NULL, N_THREADS);
	pt_pg_migration_hook = openers_meet;
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, opener_thread, &r[i]), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	pt_pg_migration_hook = NULL;
	pthread_barrier_destroy(&openers);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(r[i], PORTAIL_OK);
	assert_int_equal(pg_value("t_openers", "SELECT count(*) FROM portail_schema"), 1);
	assert_int_equal(pg_value("t_openers", "SELECT version FROM portail_schema"), 8);
	assert_int_equal(pg_value("t_openers",
	    "SELECT count(*) FROM pg_tables WHERE tablename = 'accounts'"), 1);
}

/*
 * The mail queue's lease: two daemons' stores on one database take from
 * N queued messages at once; every message is taken exactly once, and a
 * message whose sender died (never deleted nor retried) is taken again
 * once its lease has expired, not before.
 */
#define N_MAIL 200
/* The database's now, as the backend's lease counts it (lib/store-pg-mail.c's DB_NOW). */
#define LEASE_DB_NOW "floor(EXTRACT(EPOCH FROM statement_timestamp()))::bigint"

struct mail_taker {
	pthread_barrier_t *start;
	int64_t ids[N_MAIL];
	int n;
};

static void *
mail_taker_thread(void *arg)
{
	struct mail_taker *t = arg;
	portail_store *st = NULL;
	portail_error err;
	struct portail_mail_row row;
	int64_t due;

	if (pg_open("t_lease", NULL, 5000, &st, &err) != PORTAIL_OK) {
		pthread_barrier_wait(t->start);
		return NULL;
	}
	pthread_barrier_wait(t->start);
	while (portail_store_mail_next(st, 1000, &row, &due, &err) == PORTAIL_OK) {
		if (t->n < N_MAIL)
			t->ids[t->n++] = row.id;
		portail_mail_row_clear(&row);
	}
	portail_store_close(st);
	return NULL;
}

static void
test_pg_mail_lease(void **state)
{
	static struct mail_taker t[2];
	static unsigned char seen[N_MAIL + 1];
	pthread_barrier_t start;
	pthread_t th[2];
	portail_store *st = NULL;
	portail_error err;
	static char rcpt[] = "parent@exemple.ca";
	struct portail_mail_row m = { 0 }, row;
	int64_t due = 0, id;

	(void)state;
	pg_fresh("t_lease");
	assert_int_equal(pg_open("t_lease", NULL, 5000, &st, &err), PORTAIL_OK);
	snprintf(m.lang, sizeof(m.lang), "fr");
	m.rcpt = rcpt;
	m.deadline = 5000;
	m.next_try = 1000;
	for (int i = 0; i < N_MAIL; i++)
		assert_int_equal(portail_store_mail_add(st, &m, &err), PORTAIL_OK);
	memset(t, 0, sizeof(t));
	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		t[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, mail_taker_thread, &t[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	assert_int_equal(t[0].n + t[1].n, N_MAIL);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < t[i].n; j++) {
			assert_true(t[i].ids[j] >= 1 && t[i].ids[j] <= N_MAIL);
			assert_int_equal(seen[t[i].ids[j]]++, 0);
		}
	/* every lease on the database's clock: 300 s from when it was taken */
	assert_int_equal(pg_value("t_lease", "SELECT count(*) FROM mail_queue WHERE lease_until "
	    "BETWEEN " LEASE_DB_NOW " + 200 AND " LEASE_DB_NOW " + 300"), N_MAIL);
	/*
	 * Both senders died. A third host whose clock is an hour ahead of the
	 * database's, or an hour behind, or the test's 1000 (decades behind),
	 * takes none while the leases last by the database's clock; the due
	 * time it is given is on its own clock (its now + the lease's 200 s
	 * left, to the second a tick between two statements may take).
	 */
	assert_int_equal(pt_store_run(st, "UPDATE mail_queue SET lease_until = " LEASE_DB_NOW
	    " + 200", &err), PORTAIL_OK);
	for (int i = 0; i < 3; i++) {
		int64_t now = i == 0 ? (int64_t)time(NULL) + 3600 : i == 1 ?
		    (int64_t)time(NULL) - 3600 : 1000;

		assert_int_equal(portail_store_mail_next(st, now, &row, &due, &err),
		    PORTAIL_ERR_UNKNOWN);
		assert_in_range(due, now + 198, now + 200);
	}
	/* one lease over by the database's clock: that message, taken whatever the caller's clock */
	assert_int_equal(pt_store_run(st, "UPDATE mail_queue SET lease_until = " LEASE_DB_NOW
	    " - 1 WHERE id = 7", &err), PORTAIL_OK);
	assert_int_equal(portail_store_mail_next(st, (int64_t)time(NULL) - 3600, &row, &due, &err),
	    PORTAIL_OK);
	assert_int_equal(row.id, 7);
	id = row.id;
	portail_mail_row_clear(&row);
	/* leased anew, on the database's clock: not taken again, even by a clock an hour ahead */
	assert_int_equal(pg_value("t_lease", "SELECT count(*) FROM mail_queue WHERE id = 7 AND "
	    "lease_until BETWEEN " LEASE_DB_NOW " + 298 AND " LEASE_DB_NOW " + 300"), 1);
	assert_int_equal(portail_store_mail_next(st, (int64_t)time(NULL) + 3600, &row, &due, &err),
	    PORTAIL_ERR_UNKNOWN);
	/* a retry frees it at its next try (the caller's clock); a delete ends it */
	assert_int_equal(portail_store_mail_retry(st, id, 1, 1400, &err), PORTAIL_OK);
	assert_int_equal(portail_store_mail_next(st, 1399, &row, &due, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(due, 1400);
	assert_int_equal(portail_store_mail_next(st, 1400, &row, &due, &err), PORTAIL_OK);
	assert_int_equal(row.id, id);
	portail_mail_row_clear(&row);
	assert_int_equal(portail_store_mail_delete(st, id, &err), PORTAIL_OK);
	/* every lease over (lease_until = the database's now): all the others taken, once each */
	assert_int_equal(pt_store_run(st, "UPDATE mail_queue SET lease_until = " LEASE_DB_NOW,
	    &err), PORTAIL_OK);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N_MAIL - 1; i++) {
		assert_int_equal(portail_store_mail_next(st, 1000, &row, &due, &err), PORTAIL_OK);
		assert_int_not_equal(row.id, id);
		assert_int_equal(seen[row.id]++, 0);
		portail_mail_row_clear(&row);
	}
	assert_int_equal(portail_store_mail_next(st, 1000, &row, &due, &err), PORTAIL_ERR_UNKNOWN);
	portail_store_close(st);
}

/*
 * [store] password_file: the role that needs a password signs in with
 * the file's; a wrong one is unavailable, and no message repeats it.
 */
static void
test_pg_password_file(void **state)
{
	char pwfile[512], text[2048], bad[512], pw[128] = "";
	portail_config *cfg = NULL;
	portail_store *st = NULL;
	portail_error err;
	FILE *f;

	(void)state;
	snprintf(pwfile, sizeof(pwfile), "%s/portail_pw.password", pg_dir);
	assert_non_null(f = fopen(pwfile, "r"));
	assert_non_null(fgets(pw, sizeof(pw), f));
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	assert_true(pg_admin("portail", "DROP DATABASE IF EXISTS t_pw WITH (FORCE)"));
	assert_true(pg_admin("portail", "CREATE DATABASE t_pw OWNER portail_pw"));
	snprintf(text, sizeof(text), "[gpi]\nuri = ldap://127.0.0.1:1\nbase = dc=x\n[store]\n"
	    "backend = postgresql\nconninfo = %s dbname=t_pw user=portail_pw\npassword_file = %s\n",
	    pg_conninfo, pwfile);
	assert_int_equal(portail_config_parse("test.conf", text, strlen(text), &cfg, &err), PORTAIL_OK);
	if (portail_store_open_config(cfg, &st, &err) != PORTAIL_OK)
		fail_msg("%s", err.message);
	assert_int_equal(portail_store_probe(st, &err), PORTAIL_OK);
	portail_store_close(st);
	portail_config_free(cfg);
	/* a wrong password: unavailable (the cluster refused), and not in the message */
	snprintf(bad, sizeof(bad), "%s/wrong.password", dir);
	assert_non_null(f = fopen(bad, "w"));
	fprintf(f, "not-%s\n", pw);
	fclose(f);
	assert_int_equal(chmod(bad, 0600), 0);
	snprintf(text, sizeof(text), "[gpi]\nuri = ldap://127.0.0.1:1\nbase = dc=x\n[store]\n"
	    "backend = postgresql\nconninfo = %s dbname=t_pw user=portail_pw\npassword_file = %s\n",
	    pg_conninfo, bad);
	assert_int_equal(portail_config_parse("test.conf", text, strlen(text), &cfg, &err), PORTAIL_OK);
	st = NULL;
	assert_int_equal(portail_store_open_config(cfg, &st, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.message, "password authentication failed"));
	assert_null(strstr(err.message, pw));
	portail_config_free(cfg);
	/* readable by others: refused before anything is read */
	assert_int_equal(chmod(bad, 0644), 0);
	assert_int_equal(portail_config_parse("test.conf", text, strlen(text), &cfg, &err),
	    PORTAIL_ERR_CONFIG);
	assert_non_null(strstr(err.message, "test.conf:7: [store] password_file"));
}

/*
 * What a sign-in costs on PostgreSQL, in statements sent (each a round
 * trip): the account read, the reservation's one compare-and-swap, the
 * success: 3, where the transactional reservation (no count given, -1)
 * made it 5, and 6 when the failure earned a lock. A swap that misses
 * every time (a trigger skips it here) costs three swaps and two reads,
 * then the transaction, and still counts the attempt once.
 */
static void
sign_in(portail_store *st, bool use_seen, const struct portail_lockout *p,
    int64_t *lock)
{
	struct portail_account a = { 0 };
	portail_error err;
	int64_t until = 0;

	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", 5000,
	    use_seen ? a.failures : -1, p, lock, &until, &err), PORTAIL_OK);
	portail_account_clear(&a);
}

static void
test_pg_round_trips(void **state)
{
	const struct portail_lockout p = { 3, 60, 3600 };
	portail_store *st = open_store("round_trips");
	struct pt_pg_store *pg = (struct pt_pg_store *)(void *)st;
	portail_error err;
	unsigned long rt, fb;
	int64_t lock = -1, locked;
	int failures;

	(void)state;
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	/* the swap: read, swap, success */
	rt = pg->round_trips;
	sign_in(st, true, &p, &lock);
	assert_int_equal(portail_store_auth_succeeded(st, "x@exemple.ca", 5000, NULL, &err),
	    PORTAIL_OK);
	printf("# sign-in, compare-and-swap: %lu round trips\n", pg->round_trips - rt);
	assert_int_equal(pg->round_trips - rt, 3);
	/* the transaction it replaces: read, BEGIN, UPDATE, COMMIT, success */
	rt = pg->round_trips;
	sign_in(st, false, &p, &lock);
	assert_int_equal(portail_store_auth_succeeded(st, "x@exemple.ca", 5000, NULL, &err),
	    PORTAIL_OK);
	printf("# sign-in, transaction: %lu round trips\n", pg->round_trips - rt);
	assert_int_equal(pg->round_trips - rt, 5);
	/* the failure that earns the lock: the swap writes it in the same statement */
	assert_int_equal(pt_store_run(st, "UPDATE accounts SET failures = 2", &err), PORTAIL_OK);
	rt = pg->round_trips;
	sign_in(st, true, &p, &lock);
	assert_int_equal(lock, 5000 + 60);
	assert_int_equal(pg->round_trips - rt, 2);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 3);
	assert_int_equal(locked, 5000 + 60);
	/* the transaction: BEGIN, UPDATE, the lock's UPDATE, COMMIT */
	assert_int_equal(pt_store_run(st, "UPDATE accounts SET failures = 2, locked_until = 0", &err),
	    PORTAIL_OK);
	rt = pg->round_trips;
	sign_in(st, false, &p, &lock);
	assert_int_equal(lock, 5000 + 60);
	assert_int_equal(pg->round_trips - rt, 5);
	/* a swap that always misses: three swaps, two reads, the transaction */
	assert_int_equal(pt_store_run(st, "UPDATE accounts SET failures = 0, locked_until = 0", &err),
	    PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "CREATE FUNCTION skip_swap() RETURNS trigger "
	    "LANGUAGE plpgsql AS $$ BEGIN IF current_query() LIKE '%failures = $2%' THEN "
	    "RETURN NULL; END IF; RETURN NEW; END $$", &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "CREATE TRIGGER skip_swap BEFORE UPDATE ON accounts "
	    "FOR EACH ROW EXECUTE FUNCTION skip_swap()", &err), PORTAIL_OK);
	fb = pg->cas_fallbacks;
	rt = pg->round_trips;
	sign_in(st, true, &p, &lock);
	assert_int_equal(lock, 0);
	printf("# sign-in, every swap missed: %lu round trips\n", pg->round_trips - rt);
	assert_int_equal(pg->round_trips - rt, 1 + 5 + 3);
	assert_int_equal(pg->cas_fallbacks, fb + 1);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 1);
	assert_int_equal(locked, 0);
	portail_store_close(st);
}

/*
 * A sign-in's success does not wait for a synchronous standby; the other
 * writes do. The cluster is made to wait for a standby that never comes
 * (synchronous_standby_names = 'ANY 1 (nobody)', and synchronous_commit
 * on for this database: pg.sh turns it off for the cluster): a
 * synchronous write stalls, unavailable at the deadline, while both
 * kinds of success (plain, rehash) answer OK, their reset visible. The
 * first stalled write shows the setting in force for the store's own
 * connections (reload reaches the checkpointer, which publishes it, after
 * the backends): until then a write commits at once and the next is tried.
 */
static bool sync_standby_set;

/* as the superuser: the portail role may not set the server's parameters */
#define SUPERUSER "postgres user=postgres"

static int
reset_sync_standby(void **state)
{
	(void)state;
	if (sync_standby_set &&
	    pg_admin(SUPERUSER, "ALTER SYSTEM RESET synchronous_standby_names") &&
	    pg_admin(SUPERUSER, "SELECT pg_reload_conf()"))
		sync_standby_set = false;
	return sync_standby_set ? -1 : 0;
}

static void
test_pg_success_commits_locally(void **state)
{
	const struct portail_lockout p = { 3, 60, 3600 };
	portail_store *st = NULL;
	portail_error err;
	portail_status r = PORTAIL_OK;
	int64_t lock = -1, until = 0, locked;
	int failures, tries = 0;
	char key[64];

	(void)state;
	pg_fresh("t_local");
	assert_true(pg_admin("portail", "ALTER DATABASE t_local SET synchronous_commit = on"));
	assert_int_equal(pg_open("t_local", NULL, 1000, &st, &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "SELECT k, k, 1, 1 FROM (SELECT 'y' || i || '@exemple.ca' AS k "
	    "FROM generate_series(0, 9999) i UNION ALL SELECT 'x@exemple.ca' "
	    "UNION ALL SELECT 'w@exemple.ca' UNION ALL SELECT 'z@exemple.ca') a", &err), PORTAIL_OK);
	/* the two reservations, before: they wait for a standby like every write */
	sign_in(st, true, &p, &lock);
	assert_int_equal(portail_store_auth_reserve(st, "w@exemple.ca", 5000, 0, &p, &lock,
	    &until, &err), PORTAIL_OK);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 1);

	sync_standby_set = true;
	assert_true(pg_admin(SUPERUSER,
	    "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (nobody)'"));
	assert_true(pg_admin(SUPERUSER, "SELECT pg_reload_conf()"));
	/* no sleep: each write that did not stall is one more row, 10,000 at most */
	for (tries = 0; tries < 10000; tries++) {
		snprintf(key, sizeof(key), "y%d@exemple.ca", tries);
		if ((r = portail_store_account_unlock(st, key, 5000, &err)) != PORTAIL_OK)
			break;
	}
	printf("# a synchronous write stalled after %d that did not\n", tries);
	assert_int_equal(r, PORTAIL_ERR_UNAVAILABLE);
	/* the successes: committed without the standby */
	assert_int_equal(portail_store_auth_succeeded(st, "x@exemple.ca", 5001, NULL, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_auth_succeeded(st, "w@exemple.ca", 5001, "$argon2id$rehash",
	    &err), PORTAIL_OK);
	counters(st, "x@exemple.ca", &failures, &locked);
	assert_int_equal(failures, 0);
	assert_int_equal(pg_value("t_local", "SELECT failures + last_signin FROM accounts "
	    "WHERE email_key = 'w@exemple.ca' AND password_hash = '$argon2id$rehash'"), 5001);
	/* and a synchronous write after them still stalls */
	assert_int_equal(portail_store_account_unlock(st, "z@exemple.ca", 5000, &err),
	    PORTAIL_ERR_UNAVAILABLE);
	portail_store_close(st);
	assert_int_equal(reset_sync_standby(NULL), 0);
}

/* The host list walked by us, from the last good one: a dead first host is skipped. */
static void
test_pg_host_list(void **state)
{
	char extra[1024], host[512];
	portail_store *st = NULL;
	portail_error err;
	const char *h = strstr(pg_conninfo, "host=");

	(void)state;
	assert_non_null(h);
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(h + 5, " "), h + 5);
	pg_fresh("t_hosts");
	/* first a socket directory where no server is, then the cluster's */
	snprintf(extra, sizeof(extra), "host=%s/nowhere,%s port=5432", dir, host);
	if (pg_open("t_hosts", extra, 3000, &st, &err) != PORTAIL_OK)
		fail_msg("%s", err.message);
	assert_int_equal(((struct pt_pg_store *)(void *)st)->good, 1);
	assert_int_equal(portail_store_probe(st, &err), PORTAIL_OK);
	portail_store_close(st);
	/* no host answers: unavailable, not a refusal */
	snprintf(extra, sizeof(extra), "host=%s/nowhere,%s/nowhere2 port=5432", dir, dir);
	assert_int_equal(pg_open("t_hosts", extra, 1000, &st, &err), PORTAIL_ERR_UNAVAILABLE);
}

int
main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test(test_cache_full),
		cmocka_unit_test(test_concurrent_migration),
		cmocka_unit_test(test_auth_reserve),
		cmocka_unit_test(test_auth_reserve_stale),
		cmocka_unit_test(test_disable_and_revoke),
		cmocka_unit_test(test_code_limits_at_edges),
		cmocka_unit_test(test_concurrent_reserve),
		cmocka_unit_test(test_concurrent_reserve_flood),
		cmocka_unit_test(test_concurrent_guesses),
		cmocka_unit_test(test_concurrent_issue),
		cmocka_unit_test(test_concurrent_finish),
		cmocka_unit_test(test_token_cap),
		cmocka_unit_test(test_concurrent_tokens),
		cmocka_unit_test(test_oauth_states),
		cmocka_unit_test(test_check_dir),
		cmocka_unit_test(test_open_unwritable_dir),
	};
	/* the same contract tests, then PostgreSQL's own */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test(test_auth_reserve),
		cmocka_unit_test(test_auth_reserve_stale),
		cmocka_unit_test(test_disable_and_revoke),
		cmocka_unit_test(test_code_limits_at_edges),
		cmocka_unit_test(test_concurrent_reserve),
		cmocka_unit_test(test_concurrent_reserve_flood),
		cmocka_unit_test(test_concurrent_guesses),
		cmocka_unit_test(test_concurrent_issue),
		cmocka_unit_test(test_concurrent_finish),
		cmocka_unit_test(test_token_cap),
		cmocka_unit_test(test_concurrent_tokens),
		cmocka_unit_test(test_oauth_states),
		cmocka_unit_test(test_pg_newer_schema),
		cmocka_unit_test(test_pg_concurrent_open),
		cmocka_unit_test(test_pg_mail_lease),
		cmocka_unit_test(test_pg_password_file),
		cmocka_unit_test(test_pg_host_list),
		cmocka_unit_test(test_pg_round_trips),
		cmocka_unit_test_teardown(test_pg_success_commits_locally, reset_sync_standby),
		cmocka_unit_test(test_pg_stopped),
		cmocka_unit_test(test_pg_restarted),
	};

	if (pg_from_env()) {
		if (pg_dir == NULL)
			return 99;
		printf("backend: postgresql\n");
		return cmocka_run_group_tests_name("store on postgresql", pg_tests, setup, NULL);
	}
	return cmocka_run_group_tests_name("store", sqlite_tests, setup, NULL);
}
