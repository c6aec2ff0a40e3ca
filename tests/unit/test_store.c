/*
 * test_store.c — the SQLite store's own machinery: the statement cache
 * when more texts exist than it holds, schema migration when another
 * process migrates meanwhile, and the store's directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store-int.h"

static char dir[256];

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

	assert_int_equal(portail_store_open(db_path("reserve.db"), &st, &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	assert_int_equal(portail_store_auth_reserve(st, "y@exemple.ca", now, &p, &lock, &until, &err),
	    PORTAIL_ERR_UNKNOWN);
	/* two reservations: no lock yet */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, &p, &lock, &until,
		    &err), PORTAIL_OK);
		assert_int_equal(lock, 0);
	}
	/* the third earns the lock at once, before its verify */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, &p, &lock, &until, &err),
	    PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 1, &p, &lock, &until,
	    &err), PORTAIL_ERR_LOCKED);
	assert_int_equal(until, now + 60);
	/* it was the right password on a disabled account: given back */
	assert_int_equal(portail_store_auth_release(st, "x@exemple.ca", now + 60, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_get(st, "x@exemple.ca", &a, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 2);
	assert_int_equal(a.locked_until, 0);
	portail_account_clear(&a);
	/* third and fourth failures: 60 s, then 120 s (doubling, where it was) */
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now, &p, &lock, &until, &err),
	    PORTAIL_OK);
	assert_int_equal(lock, now + 60);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 60, &p, &lock, &until,
	    &err), PORTAIL_OK);
	assert_int_equal(lock, now + 60 + 120);
	assert_int_equal(portail_store_auth_reserve(st, "x@exemple.ca", now + 180, &p, &lock, &until,
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
	assert_int_equal(portail_store_open(db_path("disable.db"), &st, &err), PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'x@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	assert_int_equal(portail_store_token_add(st, "x@exemple.ca", h1, "courriel", now, now + 3600,
	    &id, &err), PORTAIL_OK);
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
	    &id, &err), PORTAIL_OK);
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
	assert_int_equal(portail_store_open(db_path("limits.db"), &st, &err), PORTAIL_OK);
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
 * Social sign-in states (issue 14): added with their strings, taken once
 * (the second take BAD_TICKET), an expired one BAD_TICKET and gone, and
 * the dead ones swept by the next add.
 */
static int
count_states(portail_store *st)
{
	sqlite3_stmt *s = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM oauth_states", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

static void
test_oauth_states(void **state)
{
	const unsigned char h1[PORTAIL_HASH_BYTES] = { 1 }, h2[PORTAIL_HASH_BYTES] = { 2 },
	    h3[PORTAIL_HASH_BYTES] = { 3 };
	char g[] = "google", n[] = "n0nce", v[] = "v3rifier", back[] = "/compte", fb[] = "facebook";
	struct portail_oauth_state a = { g, n, v, back, 1600 };
	struct portail_oauth_state b = { fb, NULL, NULL, NULL, 1100 };
	struct portail_oauth_state got = { 0 };
	portail_store *st = NULL;
	portail_error err;

	(void)state;
	assert_int_equal(portail_store_open(db_path("oauth.db"), &st, &err), PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_add(st, h1, &a, 1000, &err), PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_add(st, h2, &b, 1000, &err), PORTAIL_OK);
	/* one hash, one state */
	assert_int_equal(portail_store_oauth_state_add(st, h1, &b, 1000, &err), PORTAIL_ERR_EXISTS);
	assert_int_equal(count_states(st), 2);
	/* unknown */
	assert_int_equal(portail_store_oauth_state_take(st, h3, 1001, &got, &err),
	    PORTAIL_ERR_BAD_TICKET);
	assert_null(got.provider);
	/* taken once, with everything it was given */
	assert_int_equal(portail_store_oauth_state_take(st, h1, 1001, &got, &err), PORTAIL_OK);
	assert_string_equal(got.provider, "google");
	assert_string_equal(got.nonce, "n0nce");
	assert_string_equal(got.verifier, "v3rifier");
	assert_string_equal(got.return_to, "/compte");
	assert_int_equal(got.expires, 1600);
	portail_oauth_state_clear(&got);
	assert_null(got.nonce);
	assert_int_equal(portail_store_oauth_state_take(st, h1, 1001, &got, &err),
	    PORTAIL_ERR_BAD_TICKET);
	assert_int_equal(count_states(st), 1);
	/* expired: refused, and gone with the take */
	assert_int_equal(portail_store_oauth_state_take(st, h2, 1100, &got, &err),
	    PORTAIL_ERR_BAD_TICKET);
	assert_null(got.provider);
	assert_int_equal(count_states(st), 0);
	/* the sweep: an add at 1200 removes what died before, keeps what lives */
	b.expires = 1150;
	assert_int_equal(portail_store_oauth_state_add(st, h2, &b, 1000, &err), PORTAIL_OK);
	a.expires = 1800;
	assert_int_equal(portail_store_oauth_state_add(st, h1, &a, 1000, &err), PORTAIL_OK);
	assert_int_equal(count_states(st), 2);
	assert_int_equal(portail_store_oauth_state_add(st, h3, &b, 1200, &err), PORTAIL_OK);
	assert_int_equal(count_states(st), 2);      /* h2 swept, h1 and h3 there */
	assert_int_equal(portail_store_oauth_state_take(st, h1, 1201, &got, &err), PORTAIL_OK);
	assert_string_equal(got.provider, "google");
	portail_oauth_state_clear(&got);
	/* facebook's: no nonce, no verifier, no return path */
	b.expires = 1900;
	assert_int_equal(portail_store_oauth_state_add(st, h2, &b, 1201, &err), PORTAIL_OK);
	assert_int_equal(portail_store_oauth_state_take(st, h2, 1202, &got, &err), PORTAIL_OK);
	assert_string_equal(got.provider, "facebook");
	assert_null(got.nonce);
	assert_null(got.verifier);
	assert_null(got.return_to);
	portail_oauth_state_clear(&got);
	portail_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_full),
		cmocka_unit_test(test_concurrent_migration),
		cmocka_unit_test(test_auth_reserve),
		cmocka_unit_test(test_disable_and_revoke),
		cmocka_unit_test(test_code_limits_at_edges),
		cmocka_unit_test(test_check_dir),
		cmocka_unit_test(test_oauth_states),
		cmocka_unit_test(test_open_unwritable_dir),
	};

	return cmocka_run_group_tests_name("store", tests, setup, NULL);
}
