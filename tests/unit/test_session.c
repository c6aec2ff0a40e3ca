/*
 * test_session.c — browser sessions: the timeouts at their edges (pure
 * functions, no clock), the store's sessions (rotation, sweep, epoch,
 * cascade), and session.c over them as an attacker meets it: malformed,
 * foreign, replayed and revoked secrets, and no secret in the store file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "session.h"
#include "store-int.h"
#include "pgtest.h"

static char dir[256];
static portail_key *key, *other_key;

static const char *
path_of(const char *name)
{
	static char p[400];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static portail_key *
new_key(const char *name)
{
	portail_key *k = NULL;

	unlink(path_of(name));
	if (portail_key_create(path_of(name), (uid_t)-1, (gid_t)-1, NULL) != PORTAIL_OK ||
	    portail_key_load(path_of(name), &k, NULL) != PORTAIL_OK)
		return NULL;
	return k;
}

static int
setup(void **state)
{
	const char *base = getenv("PORTAIL_TEST_TMP");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/session.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	chmod(dir, 0755);
	key = new_key("k1");
	other_key = new_key("k2");
	return key != NULL && other_key != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	portail_key_free(key);
	portail_key_free(other_key);
	return 0;
}

static portail_store *
open_store(const char *name)
{
	portail_store *st = NULL;
	portail_error err;
	char p[400];

	if (pg_conninfo != NULL) {
		/* the same tests on PostgreSQL (tests/store-pg.test): a database of their own */
		snprintf(p, sizeof(p), "s_%.*s", (int)strcspn(name, "."), name);
		pg_fresh(p);
		assert_int_equal(pg_open(p, NULL, 5000, &st, &err), PORTAIL_OK);
	} else {
		snprintf(p, sizeof(p), "%s", path_of(name));
		unlink(p);
		assert_int_equal(portail_store_open(p, &st, &err), PORTAIL_OK);
	}
	assert_int_equal(pt_store_run(st, "INSERT INTO accounts(email_key, email, created, updated) "
	    "VALUES ('x@exemple.ca', 'X@exemple.ca', 1, 1), "
	    "('y@exemple.ca', 'y@exemple.ca', 1, 1)", &err), PORTAIL_OK);
	return st;
}

static int
count(portail_store *st, const char *k)
{
	portail_error err;
	int n = -1;

	assert_int_equal(portail_store_session_count(st, k, &n, &err), PORTAIL_OK);
	return n;
}

/* ---- the rules, at their edges ---------------------------------------------------- */

static void
test_rules(void **state)
{
	const struct portail_session_rules r = { 1800, 43200, 0 };
	const int64_t t = 1000000, end = t + 43200;

	(void)state;
	assert_int_equal(portail_session_expires(&r, t), end);
	assert_int_equal(portail_session_seen_cutoff(&r, t), t - 1800);
	/* idle: live the second before, dead at the second */
	assert_true(portail_session_live(&r, t, end, t));
	assert_true(portail_session_live(&r, t, end, t + 1799));
	assert_false(portail_session_live(&r, t, end, t + 1800));
	assert_false(portail_session_live(&r, t, end, t + 86400 * 365));
	/* absolute: a session used a second ago dies at its end all the same */
	assert_true(portail_session_live(&r, end - 1, end, end - 1));
	assert_false(portail_session_live(&r, end - 1, end, end));
	assert_false(portail_session_live(&r, end - 1, end, end + 1));
	/* a clock set back before the last use: still bounded by the end */
	assert_true(portail_session_live(&r, t + 10, end, t));
	assert_false(portail_session_live(&r, t + 10, end, end));
	/* the smallest rules config.c allows */
	{
		const struct portail_session_rules s = { 60, 300, 0 };

		assert_true(portail_session_live(&s, 0, 300, 59));
		assert_false(portail_session_live(&s, 0, 300, 60));
		assert_true(portail_session_live(&s, 250, 300, 299));
		assert_false(portail_session_live(&s, 250, 300, 300));
	}
}

/* ---- the store --------------------------------------------------------------------- */

static void
test_store_sessions(void **state)
{
	const unsigned char h1[PORTAIL_HASH_BYTES] = { 1 }, h2[PORTAIL_HASH_BYTES] = { 2 },
	    h3[PORTAIL_HASH_BYTES] = { 3 }, h4[PORTAIL_HASH_BYTES] = { 4 };
	portail_store *st = open_store("sessions.db");
	struct portail_session s = { 0 };
	struct portail_account a = { 0 };
	portail_error err;
	int64_t id = 0;

	(void)state;
	assert_int_equal(portail_store_session_add(st, "x@exemple.ca", h1, NULL, 100, 1000, 0, 0, &id,
	    &err), PORTAIL_OK);
	assert_int_equal(portail_store_session_find(st, h1, &s, &a, &err), PORTAIL_OK);
	assert_int_equal(s.id, id);
	assert_memory_equal(s.hash, h1, sizeof(h1));
	assert_string_equal(s.email_key, "x@exemple.ca");
	assert_int_equal(s.created, 100);
	assert_int_equal(s.last_seen, 100);
	assert_int_equal(s.expires, 1000);
	assert_int_equal(s.epoch, 0);
	assert_string_equal(a.email, "X@exemple.ca");
	portail_session_clear(&s);
	portail_account_clear(&a);
	assert_int_equal(portail_store_session_touch(st, id, 150, &err), PORTAIL_OK);
	assert_int_equal(portail_store_session_find(st, h1, &s, &a, &err), PORTAIL_OK);
	assert_int_equal(s.last_seen, 150);
	portail_session_clear(&s);
	portail_account_clear(&a);
	/* rotation: the replaced one is gone, in the same write */
	assert_int_equal(portail_store_session_add(st, "x@exemple.ca", h2, h1, 160, 1000, 0, 0, &id,
	    &err), PORTAIL_OK);
	assert_int_equal(portail_store_session_find(st, h1, &s, &a, &err), PORTAIL_ERR_REFUSED);
	assert_int_equal(count(st, "x@exemple.ca"), 1);
	/* the same hash twice: refused, nothing half-written */
	assert_int_not_equal(portail_store_session_add(st, "y@exemple.ca", h2, NULL, 160, 1000, 0, 0,
	    &id, &err), PORTAIL_OK);
	assert_int_equal(count(st, "y@exemple.ca"), 0);
	/* no such account: UNKNOWN, nothing written (and the replaced one kept) */
	assert_int_equal(portail_store_session_add(st, "z@exemple.ca", h3, h2, 160, 1000, 0, 0, &id,
	    &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(count(st, "x@exemple.ca"), 1);
	/* the sweep: expired (expires <= now) and idle (last seen <= cutoff) go */
	assert_int_equal(portail_store_session_add(st, "y@exemple.ca", h3, NULL, 200, 300, 0, 0, &id,
	    &err), PORTAIL_OK);
	assert_int_equal(count(st, "y@exemple.ca"), 1);
	assert_int_equal(portail_store_session_add(st, "y@exemple.ca", h4, NULL, 300, 5000, 159, 0,
	    &id, &err), PORTAIL_OK);
	assert_int_equal(count(st, "y@exemple.ca"), 1);        /* h3 expired at 300 */
	assert_int_equal(count(st, "x@exemple.ca"), 1);        /* h2 last seen at 160 > 159 */
	assert_int_equal(portail_store_session_add(st, "y@exemple.ca", h3, NULL, 300, 5000, 160, 0,
	    &id, &err), PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 0);        /* h2 idle: seen at the cutoff */
	/* sign-out: once */
	assert_int_equal(portail_store_session_delete(st, h4, &err), PORTAIL_OK);
	assert_int_equal(portail_store_session_delete(st, h4, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(count(st, "y@exemple.ca"), 1);
	/* the account deleted: its sessions with it */
	assert_int_equal(portail_store_account_delete(st, "y@exemple.ca", &err), PORTAIL_OK);
	assert_int_equal(count(st, "y@exemple.ca"), 0);
	assert_int_equal(portail_store_session_find(st, h3, &s, &a, &err), PORTAIL_ERR_REFUSED);
	portail_store_close(st);
}

/* ---- session.c ------------------------------------------------------------------------ */

/* Whether the bytes of s are anywhere in the file at path (and its -wal). */
static bool
file_has(const char *path, const char *s)
{
	char p[450];
	bool found = false;

	for (int i = 0; i < 2 && !found; i++) {
		FILE *f;
		char *buf;
		long n;

		snprintf(p, sizeof(p), "%s%s", path, i == 0 ? "" : "-wal");
		if ((f = fopen(p, "rb")) == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		assert_non_null(buf);
		assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		found = memmem(buf, (size_t)n, s, strlen(s)) != NULL;
		free(buf);
	}
	return found;
}

static portail_status
check(const struct portail_sessions *ss, const char *secret, int64_t now, char *email,
    size_t size)
{
	struct portail_account a = { 0 };
	portail_error err;
	portail_status r = portail_session_check(ss, secret, now, &a, &err);

	if (r == PORTAIL_OK)
		snprintf(email, size, "%s", a.email);
	portail_account_clear(&a);
	return r;
}

static void
test_sessions(void **state)
{
	portail_store *st = open_store("flow.db");
	struct portail_sessions ss = { st, key, { 1800, 43200, 0 } };
	struct portail_sessions foreign = { st, other_key, { 1800, 43200, 0 } };
	char s1[PORTAIL_SESSION_LEN + 1], s2[PORTAIL_SESSION_LEN + 1], s3[PORTAIL_SESSION_LEN + 1];
	char email[300], junk[PORTAIL_SESSION_LEN + 1], *big;
	portail_error err;
	const int64_t t = 1000000;

	(void)state;
	/* made for the address as typed, found by its key; the answer is the address on record */
	assert_int_equal(portail_session_create(&ss, "X@EXEMPLE.CA", NULL, t, s1, &err), PORTAIL_OK);
	assert_int_equal(strlen(s1), PORTAIL_SESSION_LEN);
	assert_memory_equal(s1, "pts_", 4);
	assert_int_equal(check(&ss, s1, t, email, sizeof(email)), PORTAIL_OK);
	assert_string_equal(email, "X@exemple.ca");
	/* SQLite's file (PostgreSQL's rows are the same statements' hashes: store-pg-session.c) */
	if (pg_conninfo == NULL) {
		assert_false(file_has(path_of("flow.db"), s1));
		assert_false(file_has(path_of("flow.db"), s1 + 4));
	}
	/* each use slides the idle timeout, never the absolute one */
	assert_int_equal(check(&ss, s1, t + 1799, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s1, t + 1799 + 1799, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s1, t + 1799 + 1799 + 1800, email, sizeof(email)),
	    PORTAIL_ERR_REFUSED);
	/* the absolute end, used every 20 minutes up to it */
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t, s2, &err), PORTAIL_OK);
	for (int64_t now = t + 1200; now < t + 43200; now += 1200)
		assert_int_equal(check(&ss, s2, now, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 43199, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 43200, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	/* malformed, foreign, another kind of secret: one refusal for all */
	assert_int_equal(check(&ss, NULL, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, "", t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, "pts_", t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	memcpy(junk, "pts_", 4);
	memset(junk + 4, 'A', PORTAIL_SESSION_LEN - 4);
	junk[PORTAIL_SESSION_LEN] = '\0';
	assert_int_equal(check(&ss, junk, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	junk[10] = '\'';        /* SQL's quote: never reaches the store's text */
	assert_int_equal(check(&ss, junk, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	big = malloc(100001);
	assert_non_null(big);
	memset(big, 'A', 100000);
	big[100000] = '\0';
	memcpy(big, "pts_", 4);
	assert_int_equal(check(&ss, big, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	free(big);
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t, s3, &err), PORTAIL_OK);
	assert_int_equal(check(&foreign, s3, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	memcpy(junk, s3, sizeof(junk));
	memcpy(junk, "ptk_", 4);        /* a token with a session's bits */
	assert_int_equal(check(&ss, junk, t, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	/* sign-out, then replay */
	assert_int_equal(portail_session_revoke(&ss, s3, &err), PORTAIL_OK);
	assert_int_equal(check(&ss, s3, t + 1, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(portail_session_revoke(&ss, s3, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_session_revoke(&ss, "pts_x", &err), PORTAIL_ERR_UNKNOWN);
	/* rotation: a sign-in with a planted session (another account's) kills it */
	assert_int_equal(portail_session_create(&ss, "y@exemple.ca", NULL, t, s1, &err), PORTAIL_OK);
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", s1, t + 2, s2, &err), PORTAIL_OK);
	assert_int_equal(check(&ss, s1, t + 3, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, s2, t + 3, email, sizeof(email)), PORTAIL_OK);
	assert_string_equal(email, "X@exemple.ca");
	/* a password changed (the token epoch bumped): every session of the account dies */
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 3, s3, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_session_create(&ss, "y@exemple.ca", NULL, t + 3, s1, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_password_set(st, "x@exemple.ca", "$argon2id$x", t + 4, &err),
	    PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 5, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, s3, t + 5, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, s1, t + 5, email, sizeof(email)), PORTAIL_OK);
	/* disabled: refused, and enabled again the old sessions stay dead */
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 5, s2, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca",
	    PORTAIL_ACCOUNT_DISABLED, t + 6, &err), PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 6, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 6, s3, &err),
	    PORTAIL_ERR_DISABLED);
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca",
	    PORTAIL_ACCOUNT_DISABLED, t + 6, &err), PORTAIL_OK);
	assert_int_equal(portail_store_account_disable_and_revoke(st, "x@exemple.ca", t + 7, &err),
	    PORTAIL_OK);
	assert_int_equal(portail_store_account_set_state(st, "x@exemple.ca",
	    PORTAIL_ACCOUNT_ENABLED, t + 8, &err), PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 8, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	/* no account, a bad address: nothing made */
	assert_int_equal(portail_session_create(&ss, "z@exemple.ca", NULL, t, s3, &err),
	    PORTAIL_ERR_UNKNOWN);
	assert_int_not_equal(portail_session_create(&ss, "pas une adresse", NULL, t, s3, &err),
	    PORTAIL_OK);
	/* the store failing is unavailable, never a refusal (DESIGN §2, outages) */
	assert_int_equal(portail_session_create(&ss, "y@exemple.ca", NULL, t + 9, s2, &err),
	    PORTAIL_OK);
	assert_int_equal(pt_store_run(st, "DROP TABLE sessions", &err), PORTAIL_OK);
	assert_int_equal(check(&ss, s2, t + 9, email, sizeof(email)), PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(portail_session_create(&ss, "y@exemple.ca", NULL, t + 9, s3, &err),
	    PORTAIL_ERR_UNAVAILABLE);
	assert_int_equal(portail_session_revoke(&ss, s2, &err), PORTAIL_ERR_UNAVAILABLE);
	sodium_memzero(s1, sizeof(s1));
	portail_store_close(st);
}

/*
 * [web] max_sessions: a sign-in past the limit signs out the account's
 * least recently used session, in the same write; the other accounts'
 * are untouched; a failed sign-in (no account) evicts nothing.
 */
static void
test_session_limit(void **state)
{
	portail_store *st = open_store("limit.db");
	struct portail_sessions ss = { st, key, { 1800, 43200, 3 } };
	char s[5][PORTAIL_SESSION_LEN + 1], y[PORTAIL_SESSION_LEN + 1], email[300];
	portail_error err;
	const int64_t t = 2000000;

	(void)state;
	assert_int_equal(portail_session_create(&ss, "y@exemple.ca", NULL, t, y, &err), PORTAIL_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + i, s[i], &err),
		    PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 3);
	/* s[0], the oldest, is the most recently used: s[1] is the one to go */
	assert_int_equal(check(&ss, s[0], t + 10, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 11, s[3], &err),
	    PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 3);
	assert_int_equal(check(&ss, s[1], t + 12, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, s[0], t + 12, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s[2], t + 12, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s[3], t + 12, email, sizeof(email)), PORTAIL_OK);
	/* all used in the same second: the tie goes to the older row */
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 12, s[4], &err),
	    PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 3);
	assert_int_equal(check(&ss, s[0], t + 13, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	assert_int_equal(check(&ss, s[4], t + 13, email, sizeof(email)), PORTAIL_OK);
	/* another account's session is not counted, nor signed out */
	assert_int_equal(count(st, "y@exemple.ca"), 1);
	assert_int_equal(check(&ss, y, t + 13, email, sizeof(email)), PORTAIL_OK);
	/* rotation at the limit: the replaced one makes the room, nothing else goes */
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", s[4], t + 14, s[0], &err),
	    PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 3);
	assert_int_equal(check(&ss, s[2], t + 15, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s[3], t + 15, email, sizeof(email)), PORTAIL_OK);
	/* a limit of 1: each sign-in signs the one before out */
	ss.rules.max_sessions = 1;
	assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 16, s[1], &err),
	    PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 1);
	assert_int_equal(check(&ss, s[1], t + 17, email, sizeof(email)), PORTAIL_OK);
	assert_int_equal(check(&ss, s[3], t + 17, email, sizeof(email)), PORTAIL_ERR_REFUSED);
	/* 0: no bound */
	ss.rules.max_sessions = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(portail_session_create(&ss, "x@exemple.ca", NULL, t + 18, s[i],
		    &err), PORTAIL_OK);
	assert_int_equal(count(st, "x@exemple.ca"), 6);
	for (int i = 0; i < 5; i++)
		sodium_memzero(s[i], sizeof(s[i]));
	sodium_memzero(y, sizeof(y));
	portail_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_store_sessions),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_session_limit),
	};

	if (pg_from_env()) {
		printf("backend: postgresql\n");
		return cmocka_run_group_tests_name("session on postgresql", tests, setup, teardown);
	}
	return cmocka_run_group_tests_name("session", tests, setup, teardown);
}
