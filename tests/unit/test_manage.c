/*
 * test_manage.c — lib/manage.c without the daemon, on a temporary store:
 * who may manage an account's tokens (the parent with its password, an
 * admin without), token list and revoke, the admin's operations on
 * unknown, malformed, locked and disabled accounts, the store's garbage
 * collection at most once an hour, and the policy reasons' names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "config.h"
#include "flow.h"
#include "manage.h"
#include "password.h"
#include "store.h"

#define NOW 1800000000LL
#define PASSWORD "cheval agrafe batterie correcte"

struct fixture {
	char dir[256];
	char path[300];
	portail_config *cfg;
	portail_store *st;
	portail_flow *flow;
};

/* Rows written beside the store's own connection (the schema is the store's). */
static void
sql(const struct fixture *fx, const char *text)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg);
	sqlite3_free(msg);
	sqlite3_close(db);
}

/*
 * Accounts: parent@ (a password, two tokens, a Google link), locked@ (a
 * password, locked for 300 s after 12 failures), disabled@ (a password,
 * disabled), social@ (no password).
 */
static int
setup(void **state)
{
	static const char conf[] = "[gpi]\nuri = ldap://127.0.0.1:1\nbase = dc=exemple,dc=qc,dc=ca\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n";
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *base = getenv("PORTAIL_TEST_TMP");
	struct portail_flow_deps deps = { 0 };
	char hash[crypto_pwhash_STRBYTES];
	unsigned char th[PORTAIL_HASH_BYTES];
	portail_error err = { { 0 } };
	int64_t id = 0;
	int n;

	if (fx == NULL || sodium_init() < 0)
		return -1;
	n = snprintf(fx->dir, sizeof(fx->dir), "%s/manage.XXXXXX", base ? base : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(fx->dir) || mkdtemp(fx->dir) == NULL)
		return -1;
	n = snprintf(fx->path, sizeof(fx->path), "%s/portail.db", fx->dir);
	if (n < 0 || (size_t)n >= sizeof(fx->path))
		return -1;
	if (portail_config_parse("t.conf", conf, sizeof(conf) - 1, &fx->cfg, &err) != PORTAIL_OK ||
	    portail_store_open(fx->path, &fx->st, &err) != PORTAIL_OK) {
		fprintf(stderr, "%s\n", err.message);
		return -1;
	}
	sql(fx, "INSERT INTO accounts (email_key, email, created, updated) VALUES "
	    "('parent@exemple.ca', 'Parent@exemple.ca', 1, 1), "
	    "('locked@exemple.ca', 'locked@exemple.ca', 1, 1), "
	    "('disabled@exemple.ca', 'disabled@exemple.ca', 1, 1), "
	    "('social@exemple.ca', 'social@exemple.ca', 1, 1)");
	if (portail_password_hash(&fx->cfg->password, PASSWORD, hash, &err) != PORTAIL_OK)
		return -1;
	for (int i = 0; i < 3; i++) {
		static const char *const keys[] = { "parent@exemple.ca", "locked@exemple.ca",
			"disabled@exemple.ca" };

		if (portail_store_password_set(fx->st, keys[i], hash, 1, &err) != PORTAIL_OK)
			return -1;
	}
	sodium_memzero(hash, sizeof(hash));
	sql(fx, "UPDATE accounts SET failures = 12, locked_until = 1800000300 "
	    "WHERE email_key = 'locked@exemple.ca'");
	sql(fx, "UPDATE accounts SET state = 1 WHERE email_key = 'disabled@exemple.ca'");
	sql(fx, "INSERT INTO links (provider, subject, email_key, created) VALUES "
	    "('google', '1234', 'parent@exemple.ca', 1)");
	for (int i = 0; i < 2; i++) {
		memset(th, 'a' + i, sizeof(th));
		if (portail_store_token_add(fx->st, "parent@exemple.ca", th, i ? "tablette" : "courriel",
		    NOW, NOW + 86400, 50, &id, &err) != PORTAIL_OK)
			return -1;
	}
	deps.cfg = fx->cfg;
	deps.store = fx->st;
	if (portail_flow_new(&deps, &fx->flow, &err) != PORTAIL_OK)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char p[400];

	portail_flow_free(fx->flow);
	portail_store_close(fx->st);
	portail_config_free(fx->cfg);
	for (int i = 0; i < 3; i++) {
		static const char *const suffix[] = { "", "-wal", "-shm" };

		if (snprintf(p, sizeof(p), "%s%s", fx->path, suffix[i]) < (int)sizeof(p))
			(void)unlink(p);
	}
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

static size_t
live_tokens(struct fixture *fx, const char *email)
{
	struct portail_token *list = NULL;
	portail_error err = { { 0 } };
	size_t n = 99;

	assert_int_equal(portail_manage_token_list(fx->st, email, NOW, &list, &n, &err), PORTAIL_OK);
	for (size_t i = 0; i < n; i++)
		portail_token_clear(&list[i]);
	free(list);
	return n;
}

/*
 * The owner: the parent with its password, an admin without; a password
 * given is checked whoever gives it, and its refusals are the sign-in's.
 */
static void
test_owner(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *email, *password;
		bool admin;
		portail_status want;
	} cases[] = {
		{ "parent@exemple.ca", NULL, true, PORTAIL_OK },
		{ "parent@exemple.ca", NULL, false, PORTAIL_ERR_FORBIDDEN },
		{ "nobody@exemple.ca", NULL, false, PORTAIL_ERR_FORBIDDEN },
		{ "nobody@exemple.ca", NULL, true, PORTAIL_OK },
		{ "parent@exemple.ca", PASSWORD, false, PORTAIL_OK },
		{ "PARENT@Exemple.CA", PASSWORD, false, PORTAIL_OK },
		{ "parent@exemple.ca", PASSWORD, true, PORTAIL_OK },
		{ "parent@exemple.ca", "pas le bon mot de passe", false, PORTAIL_ERR_REFUSED },
		{ "parent@exemple.ca", "pas le bon mot de passe", true, PORTAIL_ERR_REFUSED },
		{ "nobody@exemple.ca", PASSWORD, false, PORTAIL_ERR_UNKNOWN },
		{ "not an address", PASSWORD, true, PORTAIL_ERR_UNKNOWN },
		{ "disabled@exemple.ca", PASSWORD, false, PORTAIL_ERR_DISABLED },
		{ "social@exemple.ca", PASSWORD, false, PORTAIL_ERR_REFUSED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		portail_error err = { { 0 } };
		int64_t retry = -1;
		portail_status s;

		s = portail_manage_owner(fx->flow, cases[i].email, cases[i].password,
		    cases[i].admin, NOW, &retry, &err);
		if (s != cases[i].want)
			fail_msg("case %zu (%s, %s, admin %d): %s, not %s", i, cases[i].email,
			    cases[i].password ? "password" : "none", cases[i].admin,
			    portail_strerror(s), portail_strerror(cases[i].want));
	}
}

/* A locked account: refused with the time left, even with the right password. */
static void
test_owner_locked(void **state)
{
	struct fixture *fx = *state;
	portail_error err = { { 0 } };
	int64_t retry = -1;

	assert_int_equal(portail_manage_owner(fx->flow, "locked@exemple.ca", PASSWORD, true, NOW,
	    &retry, &err), PORTAIL_ERR_LOCKED);
	assert_int_equal(retry, 300);
	/* an admin without a password is not held by the lock */
	assert_int_equal(portail_manage_owner(fx->flow, "locked@exemple.ca", NULL, true, NOW,
	    &retry, &err), PORTAIL_OK);
}

static void
test_token_list_and_revoke(void **state)
{
	struct fixture *fx = *state;
	struct portail_token *list = NULL;
	portail_error err = { { 0 } };
	size_t n = 0;
	int64_t id, none = 999999;

	assert_int_equal(portail_manage_token_list(fx->st, "Parent@Exemple.ca", NOW, &list, &n,
	    &err), PORTAIL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].label, "courriel");
	assert_string_equal(list[1].label, "tablette");
	assert_int_equal(list[0].expires, NOW + 86400);
	id = list[0].id;
	for (size_t i = 0; i < n; i++)
		portail_token_clear(&list[i]);
	free(list);
	/* none past their expiry; none for an address without an account */
	list = NULL;
	assert_int_equal(portail_manage_token_list(fx->st, "parent@exemple.ca", NOW + 86400, &list,
	    &n, &err), PORTAIL_OK);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(live_tokens(fx, "nobody@exemple.ca"), 0);
	/* a malformed address is refused, never looked up */
	list = NULL;
	assert_int_equal(portail_manage_token_list(fx->st, "pas une adresse", NOW, &list, &n, &err),
	    PORTAIL_ERR_INVALID);
	assert_null(list);
	assert_int_equal(portail_manage_token_revoke(fx->st, "pas une adresse", NULL, NOW, &err),
	    PORTAIL_ERR_INVALID);

	/* one by id: only that one, and only the account's own */
	assert_int_equal(portail_manage_token_revoke(fx->st, "social@exemple.ca", &id, NOW, &err),
	    PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_manage_token_revoke(fx->st, "parent@exemple.ca", &none, NOW, &err),
	    PORTAIL_ERR_UNKNOWN);
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 2);
	assert_int_equal(portail_manage_token_revoke(fx->st, "parent@exemple.ca", &id, NOW, &err),
	    PORTAIL_OK);
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 1);
	assert_int_equal(portail_manage_token_revoke(fx->st, "parent@exemple.ca", &id, NOW, &err),
	    PORTAIL_ERR_UNKNOWN);
	/* all: the epoch bump */
	assert_int_equal(portail_manage_token_revoke(fx->st, "PARENT@exemple.ca", NULL, NOW, &err),
	    PORTAIL_OK);
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 0);
	assert_int_equal(portail_manage_token_revoke(fx->st, "nobody@exemple.ca", NULL, NOW, &err),
	    PORTAIL_ERR_UNKNOWN);
}

/* Every action on an address without an account, or not an address. */
static void
test_account_unknown_and_malformed(void **state)
{
	struct fixture *fx = *state;

	for (int a = PORTAIL_MANAGE_SHOW; a <= PORTAIL_MANAGE_DELETE; a++) {
		struct portail_account acct = { 0 };
		portail_error err = { { 0 } };
		char **links = NULL;

		assert_int_equal(portail_manage_account(fx->st, "nobody@exemple.ca", a, NOW, &acct,
		    &links, &err), PORTAIL_ERR_UNKNOWN);
		assert_null(acct.email);
		assert_null(links);
		assert_int_equal(portail_manage_account(fx->st, "nobody at all", a, NOW, &acct,
		    &links, &err), PORTAIL_ERR_INVALID);
		assert_null(acct.email);
		assert_null(links);
	}
}

static void
test_account_show(void **state)
{
	struct fixture *fx = *state;
	struct portail_account a = { 0 };
	portail_error err = { { 0 } };
	char **links = NULL;

	assert_int_equal(portail_manage_account(fx->st, "PARENT@exemple.ca", PORTAIL_MANAGE_SHOW, NOW,
	    &a, &links, &err), PORTAIL_OK);
	assert_string_equal(a.email, "Parent@exemple.ca");     /* as on record */
	assert_int_equal(a.state, PORTAIL_ACCOUNT_ENABLED);
	assert_non_null(a.password_hash);
	assert_int_equal(portail_manage_locked_for(&a, NOW), 0);
	assert_non_null(links);
	assert_string_equal(links[0], "google");
	assert_null(links[1]);
	portail_manage_links_free(links);
	portail_account_clear(&a);

	/* no links: an empty vector */
	links = NULL;
	assert_int_equal(portail_manage_account(fx->st, "social@exemple.ca", PORTAIL_MANAGE_SHOW, NOW,
	    &a, &links, &err), PORTAIL_OK);
	assert_null(a.password_hash);
	assert_non_null(links);
	assert_null(links[0]);
	portail_manage_links_free(links);
	portail_account_clear(&a);
	portail_manage_links_free(NULL);
}

/* Locked: shown with the time left; unlock clears failures and lock. */
static void
test_account_unlock(void **state)
{
	struct fixture *fx = *state;
	struct portail_account a = { 0 };
	portail_error err = { { 0 } };
	char **links = NULL;

	assert_int_equal(portail_manage_account(fx->st, "locked@exemple.ca", PORTAIL_MANAGE_SHOW, NOW,
	    &a, &links, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 12);
	assert_int_equal(portail_manage_locked_for(&a, NOW), 300);
	assert_int_equal(portail_manage_locked_for(&a, NOW + 299), 1);
	assert_int_equal(portail_manage_locked_for(&a, NOW + 300), 0);
	assert_int_equal(portail_manage_locked_for(&a, NOW + 5000), 0);
	portail_manage_links_free(links);
	portail_account_clear(&a);

	links = NULL;
	assert_int_equal(portail_manage_account(fx->st, "locked@exemple.ca", PORTAIL_MANAGE_UNLOCK,
	    NOW, &a, &links, &err), PORTAIL_OK);
	assert_int_equal(a.failures, 0);
	assert_int_equal(a.locked_until, 0);
	assert_int_equal(a.updated, NOW);
	portail_manage_links_free(links);
	portail_account_clear(&a);
}

/*
 * A disabled account: shown as such, enabled again; disabling revokes
 * its tokens; disabling twice is no error.
 */
static void
test_account_disable_enable(void **state)
{
	struct fixture *fx = *state;
	struct portail_account a = { 0 };
	portail_error err = { { 0 } };
	char **links = NULL;

	assert_int_equal(portail_manage_account(fx->st, "disabled@exemple.ca", PORTAIL_MANAGE_SHOW,
	    NOW, &a, &links, &err), PORTAIL_OK);
	assert_int_equal(a.state, PORTAIL_ACCOUNT_DISABLED);
	portail_manage_links_free(links);
	portail_account_clear(&a);
	for (int i = 0; i < 2; i++) {
		links = NULL;
		assert_int_equal(portail_manage_account(fx->st, "disabled@exemple.ca",
		    PORTAIL_MANAGE_DISABLE, NOW, &a, &links, &err), PORTAIL_OK);
		assert_int_equal(a.state, PORTAIL_ACCOUNT_DISABLED);
		portail_manage_links_free(links);
		portail_account_clear(&a);
	}
	links = NULL;
	assert_int_equal(portail_manage_account(fx->st, "disabled@exemple.ca", PORTAIL_MANAGE_ENABLE,
	    NOW, &a, &links, &err), PORTAIL_OK);
	assert_int_equal(a.state, PORTAIL_ACCOUNT_ENABLED);
	assert_int_equal(a.updated, NOW);
	portail_manage_links_free(links);
	portail_account_clear(&a);

	/* the parent's tokens die with the disable */
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 2);
	links = NULL;
	assert_int_equal(portail_manage_account(fx->st, "parent@exemple.ca", PORTAIL_MANAGE_DISABLE,
	    NOW, &a, &links, &err), PORTAIL_OK);
	assert_int_equal(a.state, PORTAIL_ACCOUNT_DISABLED);
	portail_manage_links_free(links);
	portail_account_clear(&a);
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 0);
}

/* Delete: the account, its tokens and its links go; it is unknown after. */
static void
test_account_delete_and_list(void **state)
{
	struct fixture *fx = *state;
	struct portail_account a = { 0 }, *list = NULL;
	portail_error err = { { 0 } };
	char **links = NULL;
	size_t n = 0;

	assert_int_equal(portail_manage_account_list(fx->st, &list, &n, &err), PORTAIL_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++)
		portail_account_clear(&list[i]);
	free(list);

	assert_int_equal(portail_manage_account(fx->st, "parent@exemple.ca", PORTAIL_MANAGE_DELETE,
	    NOW, &a, &links, &err), PORTAIL_OK);
	assert_null(a.email);           /* delete fills nothing */
	assert_null(links);
	assert_int_equal(portail_manage_account(fx->st, "parent@exemple.ca", PORTAIL_MANAGE_SHOW,
	    NOW, &a, &links, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(portail_manage_account(fx->st, "parent@exemple.ca", PORTAIL_MANAGE_DELETE,
	    NOW, &a, &links, &err), PORTAIL_ERR_UNKNOWN);
	assert_int_equal(live_tokens(fx, "parent@exemple.ca"), 0);
	list = NULL;
	assert_int_equal(portail_manage_account_list(fx->st, &list, &n, &err), PORTAIL_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_string_not_equal(list[i].email_key, "parent@exemple.ca");
		portail_account_clear(&list[i]);
	}
	free(list);
}

static void
test_action_names(void **state)
{
	(void)state;
	assert_string_equal(portail_manage_action_name(PORTAIL_MANAGE_SHOW), "show");
	assert_string_equal(portail_manage_action_name(PORTAIL_MANAGE_DISABLE), "disable");
	assert_string_equal(portail_manage_action_name(PORTAIL_MANAGE_ENABLE), "enable");
	assert_string_equal(portail_manage_action_name(PORTAIL_MANAGE_UNLOCK), "unlock");
	assert_string_equal(portail_manage_action_name(PORTAIL_MANAGE_DELETE), "delete");
	assert_null(portail_manage_action_name((enum portail_manage_action)(PORTAIL_MANAGE_DELETE + 1)));
	assert_null(portail_manage_action_name((enum portail_manage_action)-1));
}

/*
 * The garbage collection: the first call runs it, then none for an hour,
 * then one again (what it removes is the store's, test_store's).
 */
static void
test_gc_once_an_hour(void **state)
{
	struct fixture *fx = *state;
	portail_error err = { { 0 } };
	atomic_llong last = 0;
	bool ran = false;

	assert_int_equal(portail_manage_gc(fx->st, &last, NOW, &ran, &err), PORTAIL_OK);
	assert_true(ran);
	assert_int_equal(atomic_load(&last), NOW);
	assert_int_equal(portail_manage_gc(fx->st, &last, NOW + 1, &ran, &err), PORTAIL_OK);
	assert_false(ran);
	assert_int_equal(portail_manage_gc(fx->st, &last, NOW + PORTAIL_MANAGE_GC_INTERVAL, &ran,
	    &err), PORTAIL_OK);
	assert_false(ran);
	assert_int_equal(atomic_load(&last), NOW);
	assert_int_equal(portail_manage_gc(fx->st, &last, NOW + PORTAIL_MANAGE_GC_INTERVAL + 1, NULL,
	    &err), PORTAIL_OK);
	assert_int_equal(atomic_load(&last), NOW + PORTAIL_MANAGE_GC_INTERVAL + 1);
	assert_int_equal(portail_manage_gc(fx->st, &last, NOW + PORTAIL_MANAGE_GC_INTERVAL + 2, &ran,
	    &err), PORTAIL_OK);
	assert_false(ran);
}

/* Every reason has its word (doc/protocol.md), and nothing past them does. */
static void
test_policy_reason_names(void **state)
{
	static const struct {
		enum portail_policy_reason r;
		const char *name;
	} names[] = {
		{ PORTAIL_POLICY_OK, "ok" },
		{ PORTAIL_POLICY_TOO_SHORT, "too_short" },
		{ PORTAIL_POLICY_TOO_LONG, "too_long" },
		{ PORTAIL_POLICY_MISMATCH, "mismatch" },
		{ PORTAIL_POLICY_NOT_TEXT, "not_text" },
		{ PORTAIL_POLICY_DICTIONARY, "dictionary" },
		{ PORTAIL_POLICY_SIMPLE, "simple" },
		{ PORTAIL_POLICY_PERSONAL, "personal" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(names[i].r, i);        /* the table covers every value, in order */
		assert_string_equal(portail_policy_reason_name(names[i].r), names[i].name);
	}
	assert_null(portail_policy_reason_name((enum portail_policy_reason)(PORTAIL_POLICY_PERSONAL + 1)));
	assert_null(portail_policy_reason_name((enum portail_policy_reason)-1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_list_and_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_unknown_and_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_unlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_disable_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_delete_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_once_an_hour, setup, teardown),
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_policy_reason_names),
	};

	return cmocka_run_group_tests_name("manage", tests, NULL, NULL);
}
