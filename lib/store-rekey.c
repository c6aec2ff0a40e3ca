/*
 * store-rekey.c — the SQLite store's 3 -> 4 migration (address identity,
 * DESIGN §2: every key recomputed by portail_email_key), and the list of
 * what it left for an administrator (portail check).
 */
#include "store-int.h"

#include <stdlib.h>
#include <string.h>

#include "email.h"

/* ---- the migration ----------------------------------------------------------- */

/*
 * Before schema 4 an address keyed to its full Unicode case-fold, which
 * joined other domains (maßawippi.ca with massawippi.ca). Each key is
 * recomputed by portail_email_key from the address stored beside it, in
 * the migration's transaction:
 *   accounts (and their tokens and links, which follow by the old key):
 *     an account whose new key another account would also get, or holds
 *     and keeps, or that no longer passes the rules, keeps its key and
 *     every row that hangs on it: nothing is merged, `portail check`
 *     lists it (portail_store_key_conflicts) for the administrator;
 *   verifications, link tickets: from their own address; rows that would
 *     collide or no longer pass are dropped (short-lived: ask a new code;
 *     a code was hashed under the old key anyway);
 *   issuance (rate limits, no address stored): an account's new key when
 *     the old one was an account's, else the old key's own key.
 * Two-phase (a \x01 prefix no key can hold) so that keys that trade
 * places never meet a unique index half-way; foreign keys are checked at
 * COMMIT.
 */
static int
rk_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* For each row of sel (column 0 an id, 1 an address), inserts (id, key or NULL) with ins. */
static int
rk_collect(sqlite3 *db, const char *sel, const char *ins)
{
	sqlite3_stmt *s = NULL, *w = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sel, -1, &s, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_prepare_v2(db, ins, -1, &w, NULL)) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *email = (const char *)sqlite3_column_text(s, 1);
		char *key = NULL;

		sqlite3_bind_value(w, 1, sqlite3_column_value(s, 0));
		if (email != NULL && portail_email_key(email, &key, NULL) == PORTAIL_OK)
			sqlite3_bind_text(w, 2, key, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(w, 2);
		free(key);
		rc = sqlite3_step(w);
		sqlite3_reset(w);
		if (rc != SQLITE_DONE)
			goto out;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(w);
	return rc;
}

static int
rekey(sqlite3 *db)
{
	static const char *const move[] = {
		/* accounts: which stay (fixpoint: a key kept blocks whoever wanted it) */
		"UPDATE temp.rk SET stay = 1 WHERE new IS NULL OR new = old OR new IN "
		"(SELECT new FROM temp.rk GROUP BY new HAVING count(*) > 1)",
		NULL,   /* the fixpoint loop runs here */
		"UPDATE accounts SET email_key = char(1) || (SELECT new FROM temp.rk "
		"WHERE old = accounts.email_key) WHERE email_key IN (SELECT old FROM temp.rk WHERE stay = 0)",
		"UPDATE tokens SET email_key = char(1) || (SELECT new FROM temp.rk "
		"WHERE old = tokens.email_key) WHERE email_key IN (SELECT old FROM temp.rk WHERE stay = 0)",
		"UPDATE links SET email_key = char(1) || (SELECT new FROM temp.rk "
		"WHERE old = links.email_key) WHERE email_key IN (SELECT old FROM temp.rk WHERE stay = 0)",
		/* verifications: drop the invalid and the colliding, move the rest */
		"DELETE FROM verifications WHERE rowid IN (SELECT v.id FROM temp.vk v "
		"JOIN verifications x ON x.rowid = v.id WHERE v.new IS NULL OR EXISTS "
		"(SELECT 1 FROM temp.vk w JOIN verifications y ON y.rowid = w.id "
		"WHERE w.id <> v.id AND w.new = v.new AND y.purpose = x.purpose))",
		"UPDATE verifications SET email_key = char(1) || (SELECT new FROM temp.vk "
		"WHERE id = verifications.rowid) WHERE rowid IN (SELECT id FROM temp.vk)",
		/* link tickets: no unique key on the address */
		"DELETE FROM link_tickets WHERE rowid IN (SELECT id FROM temp.lk WHERE new IS NULL)",
		"UPDATE link_tickets SET email_key = (SELECT new FROM temp.lk "
		"WHERE id = link_tickets.rowid) WHERE rowid IN (SELECT id FROM temp.lk)",
		/* issuance */
		"UPDATE issuance SET email_key = coalesce((SELECT new FROM temp.rk WHERE "
		"old = issuance.email_key AND stay = 0), (SELECT new FROM temp.ik WHERE "
		"old = issuance.email_key), email_key)",
		/* second phase */
		"UPDATE accounts SET email_key = substr(email_key, 2) WHERE substr(email_key, 1, 1) = char(1)",
		"UPDATE tokens SET email_key = substr(email_key, 2) WHERE substr(email_key, 1, 1) = char(1)",
		"UPDATE links SET email_key = substr(email_key, 2) WHERE substr(email_key, 1, 1) = char(1)",
		"UPDATE verifications SET email_key = substr(email_key, 2) "
		"WHERE substr(email_key, 1, 1) = char(1)",
		"DROP TABLE temp.rk; DROP TABLE temp.vk; DROP TABLE temp.lk; DROP TABLE temp.ik",
	};
	int rc;

	if ((rc = rk_exec(db, "PRAGMA defer_foreign_keys = ON;"
	    "CREATE TEMP TABLE rk (old TEXT PRIMARY KEY, new TEXT, stay INTEGER NOT NULL DEFAULT 0);"
	    "CREATE INDEX temp.rk_new ON rk (new);"
	    "CREATE TEMP TABLE vk (id INTEGER PRIMARY KEY, new TEXT);"
	    "CREATE TEMP TABLE lk (id INTEGER PRIMARY KEY, new TEXT);"
	    "CREATE TEMP TABLE ik (old TEXT PRIMARY KEY, new TEXT)")) != SQLITE_OK)
		return rc;
	if ((rc = rk_collect(db, "SELECT email_key, email FROM accounts",
	    "INSERT INTO temp.rk (old, new) VALUES (?, ?)")) != SQLITE_OK ||
	    (rc = rk_collect(db, "SELECT rowid, email FROM verifications",
	    "INSERT INTO temp.vk (id, new) VALUES (?, ?)")) != SQLITE_OK ||
	    (rc = rk_collect(db, "SELECT rowid, email FROM link_tickets WHERE email IS NOT NULL",
	    "INSERT INTO temp.lk (id, new) VALUES (?, ?)")) != SQLITE_OK ||
	    (rc = rk_collect(db, "SELECT DISTINCT email_key, email_key FROM issuance",
	    "INSERT INTO temp.ik (old, new) VALUES (?, ?)")) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < sizeof(move) / sizeof(move[0]); i++) {
		if (move[i] == NULL) {
			do {
				rc = rk_exec(db, "UPDATE temp.rk SET stay = 1 WHERE stay = 0 AND new IN "
				    "(SELECT old FROM temp.rk WHERE stay = 1)");
			} while (rc == SQLITE_OK && sqlite3_changes(db) > 0);
		} else {
			rc = rk_exec(db, move[i]);
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* SQL portail_rekey(): the migration, in C, inside its transaction (store-int.h). */
void
pt_store_sql_rekey(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlite3 *db = sqlite3_context_db_handle(ctx);

	(void)argc;
	(void)argv;
	if (rekey(db) != SQLITE_OK)
		sqlite3_result_error(ctx, sqlite3_errmsg(db), -1);
	else
		sqlite3_result_null(ctx);
}

/* ---- addresses whose key is not the rule's (portail check) -------------------- */

void
portail_key_conflicts_free(struct portail_key_conflict *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].email);
		free(v[i].stored_key);
		free(v[i].key);
		free(v[i].other);
	}
	free(v);
}

portail_status
portail_store_key_conflicts(const char *path, struct portail_key_conflict **out, size_t *n_out,
    portail_error *err)
{
	struct portail_key_conflict *all = NULL, *bad = NULL;
	size_t n = 0, cap = 0, nbad = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	portail_status r = PORTAIL_ERR_NOMEM;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT email_key, email FROM accounts ORDER BY email_key", -1, &s,
	    NULL) != SQLITE_OK) {
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store %s: %s", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct portail_key_conflict *c;

		if (n == cap) {
			void *p = realloc(all, (cap = cap ? 2 * cap : 64) * sizeof(*all));

			if (p == NULL)
				goto out;
			all = p;
		}
		c = &all[n++];
		memset(c, 0, sizeof(*c));
		c->stored_key = strdup((const char *)sqlite3_column_text(s, 0));
		c->email = strdup((const char *)sqlite3_column_text(s, 1));
		if (c->stored_key == NULL || c->email == NULL)
			goto out;
		(void)portail_email_key(c->email, &c->key, NULL);
	}
	if (rc != SQLITE_DONE) {
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store %s: %s", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (all[i].key == NULL || strcmp(all[i].key, all[i].stored_key) != 0)
			nbad++;
	if (nbad > 0 && (bad = calloc(nbad, sizeof(*bad))) == NULL)
		goto out;
	nbad = 0;
	for (size_t i = 0; i < n; i++) {
		struct portail_key_conflict *c = &bad[nbad];

		if (all[i].key != NULL && strcmp(all[i].key, all[i].stored_key) == 0)
			continue;
		*c = all[i];
		memset(&all[i], 0, sizeof(all[i]));
		nbad++;
		/* who holds, or would get, the same key */
		for (size_t j = 0; c->key != NULL && j < n && c->other == NULL; j++) {
			if (j == i || all[j].email == NULL)
				continue;
			if (strcmp(all[j].stored_key, c->key) == 0 ||
			    (all[j].key != NULL && strcmp(all[j].key, c->key) == 0))
				c->other = strdup(all[j].email);
		}
		for (size_t j = 0; c->key != NULL && j < nbad - 1 && c->other == NULL; j++)
			if (bad[j].key != NULL && strcmp(bad[j].key, c->key) == 0)
				c->other = strdup(bad[j].email);
	}
	*out = bad;
	*n_out = nbad;
	bad = NULL;
	nbad = 0;
	r = PORTAIL_OK;
out:
	if (r == PORTAIL_ERR_NOMEM)
		portail_error_set(err, r, "out of memory");
	portail_key_conflicts_free(all, n);
	portail_key_conflicts_free(bad, nbad);
	sqlite3_finalize(s);
	sqlite3_close_v2(db);
	return r;
}
