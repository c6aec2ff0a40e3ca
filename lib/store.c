/*
 * store.c — the embedded SQLite store; see store.h for the contract.
 *
 * One connection, serialized by a mutex (SQLite's own serialized mode
 * would do, but the mutex also makes each BEGIN…COMMIT ours alone).
 * WAL journal, a busy timeout for other processes (portail init, a
 * backup), foreign keys on. Every write that touches more than one row
 * is BEGIN IMMEDIATE … COMMIT.
 */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "email.h"

/*
 * Prepared statements are kept, one per SQL text (every text is a string
 * literal, so its address names it), reset after each use: parsing the
 * SQL cost more than running it on the token and sign-in paths. About 40
 * texts exist; past STMT_CACHE a statement is prepared for each use.
 */
#define STMT_CACHE 64

struct portail_store {
	sqlite3 *db;
	pthread_mutex_t lock;
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} stmts[STMT_CACHE];
	size_t n_stmts;
};

/* Forward migrations: migrations[i] brings user_version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE accounts ("
	"  email_key TEXT PRIMARY KEY,"
	"  email TEXT NOT NULL,"
	"  password_hash TEXT,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  last_signin INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  token_epoch INTEGER NOT NULL DEFAULT 0,"
	"  gpi_checked INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE TABLE verifications ("
	"  email_key TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  email TEXT NOT NULL,"
	"  code_hash BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  tries_left INTEGER NOT NULL,"
	"  ticket_hash BLOB UNIQUE,"
	"  ticket_expires INTEGER NOT NULL DEFAULT 0,"
	"  verified INTEGER NOT NULL DEFAULT 0,"
	"  consumed INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (email_key, purpose)"
	");"
	"CREATE TABLE issuance ("
	"  email_key TEXT NOT NULL,"
	"  purpose TEXT NOT NULL,"
	"  at INTEGER NOT NULL"
	");"
	"CREATE INDEX issuance_by_key ON issuance (email_key, at);",
	/* 1 -> 2: long-lived tokens */
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  email_key TEXT NOT NULL REFERENCES accounts (email_key) ON DELETE CASCADE,"
	"  token_hash BLOB NOT NULL UNIQUE,"
	"  label TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  epoch INTEGER NOT NULL"
	");"
	"CREATE INDEX tokens_by_key ON tokens (email_key);",
	/* 2 -> 3: social accounts; a link ticket is the state between their steps */
	"CREATE TABLE links ("
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  email_key TEXT NOT NULL REFERENCES accounts (email_key) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (provider, subject),"
	"  UNIQUE (email_key, provider)"
	") WITHOUT ROWID;"
	"CREATE TABLE link_tickets ("
	"  ticket_hash BLOB PRIMARY KEY,"
	"  provider TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  provider_email TEXT,"
	"  vouched INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  email_key TEXT,"
	"  email TEXT,"
	"  proof_hash BLOB"
	");",
	/* 3 -> 4: keys by the address identity rule (issue 11); see rekey() */
	"SELECT portail_rekey();",
	/* 4 -> 5: the mail queue (issue 13); a code only sealed (portail_key_seal).
	 * IF NOT EXISTS: a store set back to an older version by hand keeps it */
	"CREATE TABLE IF NOT EXISTS mail_queue ("
	"  id INTEGER PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  lang TEXT NOT NULL,"
	"  rcpt TEXT NOT NULL,"
	"  code_box BLOB,"
	"  deadline INTEGER NOT NULL,"
	"  next_try INTEGER NOT NULL,"
	"  tries INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue (next_try);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static portail_status
db_err(portail_store *st, portail_error *err, const char *what)
{
	return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: %s: %s", what,
	    st->db ? sqlite3_errmsg(st->db) : "not open");
}

void
portail_account_clear(struct portail_account *a)
{
	if (a == NULL)
		return;
	free(a->email);
	free(a->email_key);
	if (a->password_hash != NULL) {
		sodium_memzero(a->password_hash, strlen(a->password_hash));
		free(a->password_hash);
	}
	memset(a, 0, sizeof(*a));
}

static int
exec(portail_store *st, const char *sql)
{
	return sqlite3_exec(st->db, sql, NULL, NULL, NULL);
}

/* PRAGMA user_version into *v; false when SQLite could not read it. */
static bool
user_version(portail_store *st, int *v)
{
	sqlite3_stmt *s = NULL;
	bool ok = false;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*v = sqlite3_column_int(s, 0);
		ok = true;
	}
	sqlite3_finalize(s);
	return ok;
}

/* Test hook (store.h): called before each migration step takes the write lock. */
void (*pt_store_migration_hook)(void *arg, const char *path, int version);
void *pt_store_migration_hook_arg;

/* ---- the files of the store ------------------------------------------------- */

/*
 * SQLite keeps two more files beside the database while it is open (WAL
 * mode): NAME-wal, the write-ahead log, and NAME-shm, its index. Both
 * are created and removed by whoever opens the store, so the directory
 * must be writable by the daemon's user, not only the database file.
 * These names are known here only (issue 12: no SQLite file name
 * outside the SQLite backend).
 */
static const char *const companion_suffixes[] = { "-wal", "-shm" };

static void
store_dir(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(buf, size, ".");
	else if (slash == path)
		snprintf(buf, size, "/");
	else
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

portail_status
portail_store_chown(const char *path, uid_t uid, gid_t gid, portail_error *err)
{
	char p[4096];

	for (size_t i = 0; i <= sizeof(companion_suffixes) / sizeof(companion_suffixes[0]); i++) {
		const char *suffix = i == 0 ? "" : companion_suffixes[i - 1];

		if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p))
			return portail_error_set(err, PORTAIL_ERR_CONFIG, "store %s: path too long", path);
		if (lchown(p, uid, gid) != 0 && errno != ENOENT)
			return portail_error_set(err, PORTAIL_ERR_IO, "chown %s: %s", p, strerror(errno));
	}
	return PORTAIL_OK;
}

portail_status
portail_store_check_dir(const char *path, uid_t uid, gid_t gid, const char *user,
    portail_error *err)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char dir[4096], owner[64];
	struct passwd *pw;
	struct stat sb;
	bool writable;

	store_dir(path, dir, sizeof(dir));
	if (stat(dir, &sb) != 0)
		return portail_error_set(err, PORTAIL_ERR_CONFIG, "store directory %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return portail_error_set(err, PORTAIL_ERR_CONFIG, "store directory %s: not a directory",
		    dir);
	pw = getpwuid(sb.st_uid);
	if (pw != NULL)
		snprintf(owner, sizeof(owner), "%s", pw->pw_name);
	else
		snprintf(owner, sizeof(owner), "uid %u", (unsigned)sb.st_uid);
	/*
	 * Anyone else who may create files there could plant a -wal file (or
	 * a whole database) of their own before the daemon starts.
	 */
	if ((sb.st_mode & S_IWOTH) != 0 ||
	    ((sb.st_mode & S_IWGRP) != 0 && uid != (uid_t)-1 && sb.st_gid != gid))
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "store directory %s (mode %03o) is writable by other users, who could "
		    "replace the store or plant its %s-wal file: give the store a directory of "
		    "its own, owned by %s, mode 700", dir, (unsigned)(sb.st_mode & 07777), base, user);
	if (uid == (uid_t)-1)
		writable = access(dir, W_OK | X_OK) == 0;
	else
		writable = uid == 0 ||
		    (sb.st_uid == uid && (sb.st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR)) ||
		    (sb.st_uid != uid && sb.st_gid == gid &&
		    (sb.st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP));
	if (!writable)
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "store directory %s (owned by %s, mode %03o) is not writable by %s: SQLite "
		    "creates %s-wal and %s-shm beside the store. If the directory is the store's "
		    "own: chown %s: %s && chmod 700 %s; otherwise give the store a directory of "
		    "its own (the default is /var/lib/portail/portail.db)",
		    dir, owner, (unsigned)(sb.st_mode & 07777), user, base, base, user, dir, dir);
	if (uid != (uid_t)-1 && uid != 0 && sb.st_uid != uid && sb.st_uid != 0)
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "store directory %s is owned by %s, neither %s nor root, who could "
		    "replace the store: chown %s: %s", dir, owner, user, user, dir);
	return PORTAIL_OK;
}

/*
 * A store that cannot be opened or written because its directory is not
 * writable by this process: the error names the directory, not the file
 * (SQLite's "attempt to write a readonly database" blames the file).
 */
static portail_status
open_err(portail_store *st, const char *path, portail_error *err, const char *what)
{
	char dir[4096];

	store_dir(path, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) != 0) {
		struct passwd *pw = getpwuid(geteuid());
		char me[64];

		if (pw != NULL)
			snprintf(me, sizeof(me), "%s", pw->pw_name);
		else
			snprintf(me, sizeof(me), "uid %u", (unsigned)geteuid());
		return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE,
		    "store %s: %s: its directory %s is not writable by %s, and SQLite creates "
		    "the store's -wal and -shm files there", path,
		    what != NULL ? what : st->db ? sqlite3_errmsg(st->db) : "cannot open", dir, me);
	}
	/* a -wal or -shm left by a process of another user (sqlite3 run as root) */
	for (size_t i = 0; i < sizeof(companion_suffixes) / sizeof(companion_suffixes[0]); i++) {
		char p[4096];

		snprintf(p, sizeof(p), "%s%s", path, companion_suffixes[i]);
		if (access(p, F_OK) == 0 && access(p, R_OK | W_OK) != 0)
			return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE,
			    "store %s: %s: %s, which SQLite keeps beside the store, is not writable "
			    "by uid %u (left by another user's process?): portail init gives it back",
			    path, what != NULL ? what : st->db ? sqlite3_errmsg(st->db) : "cannot open",
			    p, (unsigned)geteuid());
	}
	if (what != NULL)
		return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store %s: %s", path, what);
	return db_err(st, err, path);
}

/* ---- migration 3 -> 4: email keys recomputed ------------------------------- */

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

/* SQL portail_rekey(): the migration, in C, inside its transaction. */
static void
sql_rekey(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlite3 *db = sqlite3_context_db_handle(ctx);

	(void)argc;
	(void)argv;
	if (rekey(db) != SQLITE_OK)
		sqlite3_result_error(ctx, sqlite3_errmsg(db), -1);
	else
		sqlite3_result_null(ctx);
}

portail_status
portail_store_open(const char *path, portail_store **out, portail_error *err)
{
	portail_store *st;
	portail_status r = PORTAIL_ERR_UNAVAILABLE;
	int v, fd;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&st->lock, NULL);
	/* Create the file ourselves so that its mode is 0600 whatever the umask. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = open_err(st, path, err, strerror(errno));
		goto fail;
	}
	close(fd);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		r = open_err(st, path, err, NULL);
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	if (exec(st, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
	    exec(st, "PRAGMA synchronous=NORMAL") != SQLITE_OK ||
	    exec(st, "PRAGMA foreign_keys=ON") != SQLITE_OK) {
		r = open_err(st, path, err, NULL);
		goto fail;
	}
	/*
	 * Each step is its own BEGIN IMMEDIATE … COMMIT, and the version is
	 * read again once the write lock is ours: another process (a second
	 * portaild, portail init) may have migrated since we last looked.
	 * Whatever it left, the version we go on from is the one read under
	 * the lock, checked like the first one.
	 */
	if (!user_version(st, &v)) {
		r = open_err(st, path, err, NULL);
		goto fail;
	}
	/* the C side of migration 3 -> 4 */
	if (sqlite3_create_function(st->db, "portail_rekey", 0, SQLITE_UTF8, NULL, sql_rekey,
	    NULL, NULL) != SQLITE_OK) {
		r = db_err(st, err, "schema migration");
		goto fail;
	}
	for (;;) {
		char bump[64];
		int now_v;

		if (v < 0) {
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "store %s has schema version %d, which portail never writes: "
			    "not a portail store, or damaged", path, v);
			goto fail;
		}
		if (v > SCHEMA_VERSION) {
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "store %s has schema %d, newer than this portail (%d): upgrade portail",
			    path, v, SCHEMA_VERSION);
			goto fail;
		}
		if (v == SCHEMA_VERSION)
			break;
		if (pt_store_migration_hook != NULL)
			pt_store_migration_hook(pt_store_migration_hook_arg, path, v);
		if (exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
			r = open_err(st, path, err, NULL);
			goto fail;
		}
		if (!user_version(st, &now_v)) {
			r = db_err(st, err, "schema version");
			exec(st, "ROLLBACK");
			goto fail;
		}
		if (now_v != v) {       /* another process migrated meanwhile: go on from its version */
			exec(st, "ROLLBACK");
			v = now_v;
			continue;
		}
		snprintf(bump, sizeof(bump), "PRAGMA user_version=%d", v + 1);
		if (exec(st, migrations[v]) != SQLITE_OK || exec(st, bump) != SQLITE_OK ||
		    exec(st, "COMMIT") != SQLITE_OK) {
			r = db_err(st, err, "schema migration");
			exec(st, "ROLLBACK");
			goto fail;
		}
		v++;
	}
	*out = st;
	return PORTAIL_OK;
fail:
	portail_store_close(st);
	return r;
}

void
portail_store_close(portail_store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_stmts; i++)
		sqlite3_finalize(st->stmts[i].s);
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
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

/* ---- small helpers ---------------------------------------------------------- */

/*
 * The statement for sql, from the cache or newly prepared. When the cache
 * is full the statement is prepared for this one use and release()
 * finalizes it: slower, never wrong. (Evicting a cached one instead could
 * finalize a statement a caller still holds: gc holds two.)
 */
static sqlite3_stmt *
prep(portail_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	for (size_t i = 0; i < st->n_stmts; i++)
		if (st->stmts[i].sql == sql)
			return st->stmts[i].s;
	if (st->n_stmts < STMT_CACHE) {
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
			return NULL;
		st->stmts[st->n_stmts].sql = sql;
		st->stmts[st->n_stmts++].s = s;
	} else if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		return NULL;
	}
	return s;
}

/* Done with a statement from prep(): reset for the next use, or finalized when not cached. */
static void
release(portail_store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < st->n_stmts; i++) {
		if (st->stmts[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return;
		}
	}
	sqlite3_finalize(s);
}

/* Test hook (store.h): one statement through the cache, its rows stepped over. */
portail_status
pt_store_run(portail_store *st, const char *sql, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r = PORTAIL_OK;
	int rc;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, sql)) == NULL) {
		r = db_err(st, err, "prepare");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = db_err(st, err, "step");
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

size_t
pt_store_cached(const portail_store *st)
{
	return st->n_stmts;
}

/*
 * One statement that returns no row, under the lock: types names each
 * argument — 't' text, 'i' int64, 'h' a PORTAIL_HASH_BYTES blob.
 * UNKNOWN when it changed no row and that matters (need_change).
 */
static portail_status
run1(portail_store *st, const char *sql, const char *what, bool need_change, portail_error *err,
    const char *types, ...)
{
	sqlite3_stmt *s;
	portail_status r;
	va_list ap;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, sql)) == NULL) {
		r = db_err(st, err, what);
		goto out;
	}
	va_start(ap, types);
	for (int i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
		else if (types[i] == 'i')
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_blob(s, i + 1, va_arg(ap, const unsigned char *),
			    PORTAIL_HASH_BYTES, SQLITE_STATIC);
	}
	va_end(ap);
	if (sqlite3_step(s) != SQLITE_DONE)
		r = db_err(st, err, what);
	else
		r = need_change && sqlite3_changes(st->db) == 0 ? PORTAIL_ERR_UNKNOWN : PORTAIL_OK;
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

static portail_status
begin(portail_store *st, portail_error *err)
{
	pthread_mutex_lock(&st->lock);
	if (exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
		portail_status r = db_err(st, err, "begin");

		pthread_mutex_unlock(&st->lock);
		return r;
	}
	return PORTAIL_OK;
}

/* Commits when r is OK (or keep is true), rolls back otherwise; unlocks. */
static portail_status
end(portail_store *st, portail_status r, bool keep, portail_error *err)
{
	if (r == PORTAIL_OK || keep) {
		if (exec(st, "COMMIT") != SQLITE_OK) {
			portail_status e = db_err(st, err, "commit");

			exec(st, "ROLLBACK");
			pthread_mutex_unlock(&st->lock);
			return e;
		}
	} else {
		exec(st, "ROLLBACK");
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_probe(portail_store *st, portail_error *err)
{
	portail_status r = PORTAIL_OK;

	pthread_mutex_lock(&st->lock);
	if (exec(st, "SELECT count(*) FROM accounts") != SQLITE_OK)
		r = db_err(st, err, "probe");
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- accounts --------------------------------------------------------------- */

#define ACCOUNT_COLUMNS "email, email_key, password_hash, state, created, updated, " \
	"last_signin, failures, locked_until, token_epoch, gpi_checked"
#define ACCOUNT_COLUMNS_OF(t) t ".email, " t ".email_key, " t ".password_hash, " t ".state, " \
	t ".created, " t ".updated, " t ".last_signin, " t ".failures, " t ".locked_until, " \
	t ".token_epoch, " t ".gpi_checked"

/* Reads ACCOUNT_COLUMNS from column c on. */
static bool
read_account_at(sqlite3_stmt *s, int c, struct portail_account *a)
{
	memset(a, 0, sizeof(*a));
	a->email = col_text(s, c + 0);
	a->email_key = col_text(s, c + 1);
	a->password_hash = col_text(s, c + 2);
	a->state = sqlite3_column_int(s, c + 3);
	a->created = sqlite3_column_int64(s, c + 4);
	a->updated = sqlite3_column_int64(s, c + 5);
	a->last_signin = sqlite3_column_int64(s, c + 6);
	a->failures = sqlite3_column_int(s, c + 7);
	a->locked_until = sqlite3_column_int64(s, c + 8);
	a->token_epoch = sqlite3_column_int64(s, c + 9);
	a->gpi_checked = sqlite3_column_int64(s, c + 10);
	if (a->email == NULL || a->email_key == NULL) {
		portail_account_clear(a);
		return false;
	}
	return true;
}

/* Reads id, email_key, label, created, expires, last_used, epoch (columns 0 to 6). */
static bool
read_token(sqlite3_stmt *s, struct portail_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	t->email_key = col_text(s, 1);
	t->label = col_text(s, 2);
	t->created = sqlite3_column_int64(s, 3);
	t->expires = sqlite3_column_int64(s, 4);
	t->last_used = sqlite3_column_int64(s, 5);
	t->epoch = sqlite3_column_int64(s, 6);
	if (t->email_key == NULL || t->label == NULL) {
		portail_token_clear(t);
		return false;
	}
	return true;
}

static bool
read_account(sqlite3_stmt *s, struct portail_account *a)
{
	return read_account_at(s, 0, a);
}

static portail_status
account_get_locked(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err)
{
	sqlite3_stmt *s = prep(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE email_key = ?");
	portail_status r;
	int rc;

	if (s == NULL)
		return db_err(st, err, "account");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = read_account(s, out) ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	else if (rc == SQLITE_DONE)
		r = PORTAIL_ERR_UNKNOWN;
	else
		r = db_err(st, err, "account");
	release(st, s);
	return r;
}

portail_status
portail_store_account_get(portail_store *st, const char *key, struct portail_account *out,
    portail_error *err)
{
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = account_get_locked(st, key, out, err);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err)
{
	sqlite3_stmt *s;
	struct portail_account *list = NULL;
	size_t used = 0, cap = 0;
	portail_status r = PORTAIL_OK;
	int rc;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY email_key")) == NULL) {
		r = db_err(st, err, "list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct portail_account *nl = realloc(list, ncap * sizeof(*nl));

			if (nl == NULL) {
				r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		if (read_account(s, &list[used]))
			used++;
	}
	if (rc != SQLITE_DONE)
		r = db_err(st, err, "list");
out:
	release(st, s);
	pthread_mutex_unlock(&st->lock);
	if (r != PORTAIL_OK) {
		for (size_t i = 0; i < used; i++)
			portail_account_clear(&list[i]);
		free(list);
		return r;
	}
	*out = list;
	*n = used;
	return PORTAIL_OK;
}

portail_status
portail_store_account_set_state(portail_store *st, const char *key, int state, int64_t now,
    portail_error *err)
{
	/* disabling also revokes every token (epoch bump) */
	return run1(st, state == PORTAIL_ACCOUNT_DISABLED ?
	    "UPDATE accounts SET state = ?, updated = ?, token_epoch = token_epoch + 1 WHERE email_key = ?" :
	    "UPDATE accounts SET state = ?, updated = ? WHERE email_key = ?",
	    "account", true, err, "iit", (int64_t)state, now, key);
}

portail_status
portail_store_account_unlock(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	return run1(st,
	    "UPDATE accounts SET failures = 0, locked_until = 0, updated = ? WHERE email_key = ?",
	    "account", true, err, "it", now, key);
}

portail_status
portail_store_account_delete(portail_store *st, const char *key, portail_error *err)
{
	return run1(st, "DELETE FROM accounts WHERE email_key = ?", "account", true, err, "t", key);
}

portail_status
portail_store_account_checked(portail_store *st, const char *key, int64_t now,
    portail_error *err)
{
	return run1(st, "UPDATE accounts SET gpi_checked = ? WHERE email_key = ?", "account", true,
	    err, "it", now, key);
}

/*
 * Inside a transaction: one more failure for key, and the lock it earns.
 * With guarded, only when the account is not locked at now (*locked gets
 * the lock's end otherwise). The policy arithmetic: after max_failures,
 * locked for lockout seconds, doubling per failure past the threshold,
 * capped at lockout_max.
 */
static portail_status
count_failure(portail_store *st, const char *key, int64_t now, const struct portail_lockout *p,
    bool guarded, int64_t *until, int64_t *locked, portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	int failures, rc;

	*until = 0;
	if ((s = prep(st, guarded ?
	    "UPDATE accounts SET failures = failures + 1 WHERE email_key = ?1 "
	    "AND locked_until <= ?2 RETURNING failures" :
	    "UPDATE accounts SET failures = failures + 1 WHERE email_key = ?1 "
	    "RETURNING failures")) == NULL)
		return db_err(st, err, "failure");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (guarded)
		sqlite3_bind_int64(s, 2, now);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_UNKNOWN : db_err(st, err, "failure");
		release(st, s);
		if (r == PORTAIL_ERR_UNKNOWN && guarded) {
			/* no row changed: locked, or no such account */
			if ((s = prep(st, "SELECT locked_until FROM accounts WHERE email_key = ?")) == NULL)
				return db_err(st, err, "failure");
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
			if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				*locked = sqlite3_column_int64(s, 0);
				r = PORTAIL_ERR_LOCKED;
			} else if (rc != SQLITE_DONE) {
				r = db_err(st, err, "failure");
			}
			release(st, s);
		}
		return r;
	}
	failures = sqlite3_column_int(s, 0);
	release(st, s);
	s = NULL;
	if (failures >= p->max_failures) {
		/* lockout, doubling per failure past the threshold, capped */
		int64_t len = p->lockout;

		for (int i = p->max_failures; i < failures && len < p->lockout_max; i++)
			len *= 2;
		if (len > p->lockout_max)
			len = p->lockout_max;
		if ((s = prep(st, "UPDATE accounts SET locked_until = ? WHERE email_key = ?")) == NULL)
			return db_err(st, err, "lock");
		sqlite3_bind_int64(s, 1, now + len);
		sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		release(st, s);
		if (rc != SQLITE_DONE)
			return db_err(st, err, "lock");
		*until = now + len;
	}
	return PORTAIL_OK;
}

portail_status
portail_store_auth_failed(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *p, int64_t *locked_until, portail_error *err)
{
	portail_status r;
	int64_t until = 0, locked = 0;

	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	r = count_failure(st, key, now, p, false, &until, &locked, err);
	if (r == PORTAIL_OK)
		*locked_until = until;
	return end(st, r, false, err);
}

portail_status
portail_store_auth_reserve(portail_store *st, const char *key, int64_t now,
    const struct portail_lockout *p, int64_t *reserved_lock, int64_t *locked_until,
    portail_error *err)
{
	portail_status r;
	int64_t until = 0, locked = 0;

	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	r = count_failure(st, key, now, p, true, &until, &locked, err);
	if (r == PORTAIL_OK)
		*reserved_lock = until;
	else if (r == PORTAIL_ERR_LOCKED)
		*locked_until = locked;
	return end(st, r, false, err);
}

portail_status
portail_store_auth_release(portail_store *st, const char *key, int64_t reserved_lock,
    portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	s = prep(st, "UPDATE accounts SET failures = MAX(failures - 1, 0), "
	    "locked_until = CASE WHEN ?2 != 0 AND locked_until = ?2 THEN 0 ELSE locked_until END "
	    "WHERE email_key = ?1");
	if (s == NULL) {
		r = db_err(st, err, "release");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, reserved_lock);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "release");
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_auth_succeeded(portail_store *st, const char *key, int64_t now,
    const char *new_hash, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	s = prep(st, new_hash ?
	    "UPDATE accounts SET failures = 0, locked_until = 0, last_signin = ?1, "
	    "password_hash = ?3, updated = ?1 WHERE email_key = ?2" :
	    "UPDATE accounts SET failures = 0, locked_until = 0, last_signin = ?1 WHERE email_key = ?2");
	if (s == NULL) {
		r = db_err(st, err, "sign-in");
		goto out;
	}
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (new_hash)
		sqlite3_bind_text(s, 3, new_hash, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "sign-in");
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- codes and tickets ------------------------------------------------------ */

/* Inserts a mail_queue row; the caller holds the lock. */
static portail_status
mail_insert(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	if ((s = prep(st, "INSERT INTO mail_queue (kind, lang, rcpt, code_box, deadline, next_try, "
	    "tries) VALUES (?, ?, ?, ?, ?, ?, 0)")) == NULL)
		return db_err(st, err, "mail queue");
	sqlite3_bind_int(s, 1, m->kind);
	sqlite3_bind_text(s, 2, m->lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->rcpt, -1, SQLITE_STATIC);
	if (m->code_box != NULL)
		sqlite3_bind_blob(s, 4, m->code_box, (int)m->code_box_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 4);
	sqlite3_bind_int64(s, 5, m->deadline);
	sqlite3_bind_int64(s, 6, m->next_try);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "mail queue");
	release(st, s);
	return r;
}

void
portail_mail_row_clear(struct portail_mail_row *m)
{
	if (m == NULL)
		return;
	free(m->rcpt);
	if (m->code_box != NULL) {
		sodium_memzero(m->code_box, m->code_box_len);
		free(m->code_box);
	}
	memset(m, 0, sizeof(*m));
}

portail_status
portail_store_mail_add(portail_store *st, const struct portail_mail_row *m, portail_error *err)
{
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = mail_insert(st, m, err);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_mail_next(portail_store *st, int64_t now, struct portail_mail_row *out,
    int64_t *next_due, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;
	int rc;

	memset(out, 0, sizeof(*out));
	*next_due = 0;
	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "SELECT id, kind, lang, rcpt, code_box, deadline, next_try, tries "
	    "FROM mail_queue ORDER BY next_try, id LIMIT 1")) == NULL) {
		r = db_err(st, err, "mail queue");
		goto out;
	}
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_UNKNOWN : db_err(st, err, "mail queue");
		release(st, s);
		goto out;
	}
	if (sqlite3_column_int64(s, 6) > now) {
		*next_due = sqlite3_column_int64(s, 6);
		r = PORTAIL_ERR_UNKNOWN;
		release(st, s);
		goto out;
	}
	out->id = sqlite3_column_int64(s, 0);
	out->kind = sqlite3_column_int(s, 1);
	snprintf(out->lang, sizeof(out->lang), "%s", (const char *)sqlite3_column_text(s, 2));
	out->rcpt = col_text(s, 3);
	if (sqlite3_column_type(s, 4) == SQLITE_BLOB && sqlite3_column_bytes(s, 4) > 0) {
		out->code_box_len = (size_t)sqlite3_column_bytes(s, 4);
		if ((out->code_box = malloc(out->code_box_len)) != NULL)
			memcpy(out->code_box, sqlite3_column_blob(s, 4), out->code_box_len);
	}
	out->deadline = sqlite3_column_int64(s, 5);
	out->next_try = sqlite3_column_int64(s, 6);
	out->tries = sqlite3_column_int(s, 7);
	release(st, s);
	if (out->rcpt == NULL || (out->code_box_len > 0 && out->code_box == NULL)) {
		portail_mail_row_clear(out);
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = PORTAIL_OK;
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_mail_retry(portail_store *st, int64_t id, int tries, int64_t next_try,
    portail_error *err)
{
	return run1(st, "UPDATE mail_queue SET tries = ?, next_try = ? WHERE id = ?", "mail queue",
	    false, err, "iii", (int64_t)tries, next_try, id);
}

portail_status
portail_store_mail_delete(portail_store *st, int64_t id, portail_error *err)
{
	return run1(st, "DELETE FROM mail_queue WHERE id = ?", "mail queue", false, err, "i", id);
}

portail_status
portail_store_mail_count(portail_store *st, unsigned long *n, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "SELECT count(*) FROM mail_queue")) == NULL ||
	    sqlite3_step(s) != SQLITE_ROW) {
		r = db_err(st, err, "mail queue");
	} else {
		*n = (unsigned long)sqlite3_column_int64(s, 0);
		r = PORTAIL_OK;
	}
	release(st, s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_code_issue(portail_store *st, const char *key, const char *email,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES], int64_t now,
    const struct portail_code_rules *rules, const struct portail_mail_row *mail, int *wait,
    portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	int64_t last = 0;
	int today = 0;

	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	/* rate limits count every request for the address, whatever the purpose */
	if ((s = prep(st, "SELECT count(*), coalesce(max(at), 0) FROM issuance "
	    "WHERE email_key = ? AND at > ?")) == NULL) {
		r = db_err(st, err, "issuance");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now - 86400);
	if (sqlite3_step(s) != SQLITE_ROW) {
		r = db_err(st, err, "issuance");
		goto out;
	}
	today = sqlite3_column_int(s, 0);
	last = sqlite3_column_int64(s, 1);
	release(st, s);
	s = NULL;
	if (last > 0 && now - last < rules->resend_interval) {
		*wait = (int)(rules->resend_interval - (now - last));
		r = PORTAIL_ERR_TOO_SOON;
		goto out;
	}
	if (today >= rules->max_per_day) {
		r = PORTAIL_ERR_RATE_LIMITED;
		goto out;
	}
	if ((s = prep(st, "INSERT INTO issuance (email_key, purpose, at) VALUES (?, ?, ?)")) == NULL) {
		r = db_err(st, err, "issuance");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		r = db_err(st, err, "issuance");
		goto out;
	}
	release(st, s);
	/* the new code replaces the old one, which dies with its ticket */
	if ((s = prep(st, "INSERT OR REPLACE INTO verifications (email_key, purpose, email, "
	    "code_hash, created, expires, tries_left) VALUES (?, ?, ?, ?, ?, ?, ?)")) == NULL) {
		r = db_err(st, err, "verification");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, email, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, code_hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, now + rules->lifetime);
	sqlite3_bind_int(s, 7, rules->max_attempts);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "verification");
	release(st, s);
	s = NULL;
	/* the mail that carries the code, in the same transaction: both or neither */
	if (r == PORTAIL_OK && mail != NULL)
		r = mail_insert(st, mail, err);
out:
	release(st, s);
	return end(st, r, false, err);
}

portail_status
portail_store_code_verify(portail_store *st, const char *key, const char *purpose,
    const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err)
{
	sqlite3_stmt *s = NULL;
	portail_status r;
	unsigned char stored[PORTAIL_HASH_BYTES];
	int64_t expires;
	int tries, consumed, rc;
	bool keep = false;

	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	if ((s = prep(st, "SELECT code_hash, expires, tries_left, consumed FROM verifications "
	    "WHERE email_key = ? AND purpose = ?")) == NULL) {
		r = db_err(st, err, "verification");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_NO_CODE : db_err(st, err, "verification");
		goto out;
	}
	if (sqlite3_column_bytes(s, 0) != PORTAIL_HASH_BYTES) {
		r = db_err(st, err, "verification");
		goto out;
	}
	memcpy(stored, sqlite3_column_blob(s, 0), PORTAIL_HASH_BYTES);
	expires = sqlite3_column_int64(s, 1);
	tries = sqlite3_column_int(s, 2);
	consumed = sqlite3_column_int(s, 3);
	release(st, s);
	s = NULL;
	if (consumed != 0) {
		r = PORTAIL_ERR_NO_CODE;        /* used: a new one must be asked for */
		goto out;
	}
	if (tries <= 0) {
		r = PORTAIL_ERR_TOO_MANY_TRIES;
		goto out;
	}
	if (now >= expires) {
		r = PORTAIL_ERR_EXPIRED_CODE;
		goto out;
	}
	if (sodium_memcmp(stored, code_hash, PORTAIL_HASH_BYTES) != 0) {
		/* one try less, committed even though the answer is a refusal */
		keep = true;
		if ((s = prep(st, "UPDATE verifications SET tries_left = tries_left - 1 "
		    "WHERE email_key = ? AND purpose = ?")) == NULL ||
		    (sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC),
		    sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC),
		    sqlite3_step(s)) != SQLITE_DONE) {
			keep = false;
			r = db_err(st, err, "verification");
			goto out;
		}
		*tries_left = tries - 1;
		r = *tries_left > 0 ? PORTAIL_ERR_WRONG_CODE : PORTAIL_ERR_TOO_MANY_TRIES;
		goto out;
	}
	/* A good code stays good until its ticket is used (a parent whose
	 * password was refused may come back with the same code); verifying
	 * again replaces the ticket, so only the last one works. */
	if ((s = prep(st, "UPDATE verifications SET verified = ?, ticket_hash = ?, "
	    "ticket_expires = ? WHERE email_key = ? AND purpose = ?")) == NULL) {
		r = db_err(st, err, "verification");
		goto out;
	}
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_blob(s, 2, ticket_hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now + ticket_lifetime);
	sqlite3_bind_text(s, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, purpose, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "verification");
out:
	sodium_memzero(stored, sizeof(stored));
	release(st, s);
	return end(st, r, keep, err);
}

static portail_status
ticket_find(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, char **key, char **email, portail_error *err)
{
	sqlite3_stmt *s = prep(st, "SELECT email_key, email FROM verifications "
	    "WHERE ticket_hash = ? AND purpose = ? AND verified > 0 AND consumed = 0 "
	    "AND ticket_expires > ?");
	portail_status r;
	int rc;

	if (s == NULL)
		return db_err(st, err, "ticket");
	sqlite3_bind_blob(s, 1, ticket_hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*key = col_text(s, 0);
		*email = col_text(s, 1);
		r = *key && *email ? PORTAIL_OK : portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	} else {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_BAD_TICKET : db_err(st, err, "ticket");
	}
	release(st, s);
	return r;
}

portail_status
portail_store_ticket_peek(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, int64_t now, char **key, char **email, portail_error *err)
{
	portail_status r;

	*key = *email = NULL;
	pthread_mutex_lock(&st->lock);
	r = ticket_find(st, ticket_hash, purpose, now, key, email, err);
	pthread_mutex_unlock(&st->lock);
	if (r != PORTAIL_OK) {
		free(*key);
		free(*email);
		*key = *email = NULL;
	}
	return r;
}

static portail_status
consume(portail_store *st, const char *key, const char *purpose, int64_t now,
    portail_error *err)
{
	sqlite3_stmt *s = prep(st, "UPDATE verifications SET consumed = ? "
	    "WHERE email_key = ? AND purpose = ?");
	portail_status r;

	if (s == NULL)
		return db_err(st, err, "consume");
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, purpose, -1, SQLITE_STATIC);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "consume");
	release(st, s);
	return r;
}

/*
 * The last step of sign-up or reset, in one transaction: the live ticket
 * of purpose, then apply (?1 key, ?2 address, ?3 hash, ?4 now), then the
 * ticket consumed. EXISTS for an account already there, UNKNOWN for one
 * gone; BAD_TICKET for a ticket that is not live.
 */
static portail_status
ticket_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    const char *purpose, const char *apply, int64_t now, const char *password_hash,
    portail_error *err)
{
	sqlite3_stmt *s = NULL;
	char *key = NULL, *email = NULL;
	portail_status r;
	int rc;

	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	if ((r = ticket_find(st, ticket_hash, purpose, now, &key, &email, err)) != PORTAIL_OK)
		goto out;
	if ((s = prep(st, apply)) == NULL) {
		r = db_err(st, err, "account");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT)
		r = PORTAIL_ERR_EXISTS;
	else if (rc != SQLITE_DONE)
		r = db_err(st, err, "account");
	else if (sqlite3_changes(st->db) == 0)
		r = PORTAIL_ERR_UNKNOWN;
	else
		r = consume(st, key, purpose, now, err);
out:
	release(st, s);
	free(key);
	free(email);
	return end(st, r, false, err);
}

portail_status
portail_store_signup_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	return ticket_finish(st, ticket_hash, "signup",
	    "INSERT INTO accounts (email_key, email, password_hash, created, updated, gpi_checked) "
	    "VALUES (?1, ?2, ?3, ?4, ?4, ?4)", now, password_hash, err);
}

portail_status
portail_store_reset_finish(portail_store *st, const unsigned char ticket_hash[PORTAIL_HASH_BYTES],
    int64_t now, const char *password_hash, portail_error *err)
{
	/* ?2 (the address) is not needed here */
	return ticket_finish(st, ticket_hash, "reset",
	    "UPDATE accounts SET password_hash = ?3, failures = 0, locked_until = 0, "
	    "token_epoch = token_epoch + 1, updated = ?4 WHERE email_key = ?1 AND ?2 IS NOT NULL",
	    now, password_hash, err);
}

portail_status
portail_store_password_set(portail_store *st, const char *key, const char *password_hash,
    int64_t now, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "UPDATE accounts SET password_hash = ?1, failures = 0, locked_until = 0, "
	    "token_epoch = token_epoch + 1, updated = ?2 WHERE email_key = ?3")) == NULL) {
		r = db_err(st, err, "password");
		goto out;
	}
	sqlite3_bind_text(s, 1, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_text(s, 3, key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		r = db_err(st, err, "password");
	else
		r = sqlite3_changes(st->db) > 0 ? PORTAIL_OK : PORTAIL_ERR_UNKNOWN;
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_gc(portail_store *st, int64_t now, portail_error *err)
{
	sqlite3_stmt *s1 = NULL, *s2 = NULL;
	portail_status r = PORTAIL_OK;

	pthread_mutex_lock(&st->lock);
	s1 = prep(st, "DELETE FROM verifications WHERE expires < ?1 AND ticket_expires < ?1");
	s2 = prep(st, "DELETE FROM issuance WHERE at < ?1");
	if (s1 == NULL || s2 == NULL) {
		r = db_err(st, err, "gc");
		goto out;
	}
	sqlite3_bind_int64(s1, 1, now - 86400);
	sqlite3_bind_int64(s2, 1, now - 86400);
	if (sqlite3_step(s1) != SQLITE_DONE || sqlite3_step(s2) != SQLITE_DONE)
		r = db_err(st, err, "gc");
out:
	release(st, s1);
	release(st, s2);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- tokens ------------------------------------------------------------------ */

portail_status
portail_store_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int64_t *id, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;
	int rc;

	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "INSERT INTO tokens (email_key, token_hash, label, created, expires, epoch) "
	    "SELECT email_key, ?2, ?3, ?4, ?5, token_epoch FROM accounts WHERE email_key = ?1")) == NULL) {
		r = db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, expires);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = db_err(st, err, "token");
	else if (sqlite3_changes(st->db) == 0)
		r = PORTAIL_ERR_UNKNOWN;
	else {
		*id = sqlite3_last_insert_rowid(st->db);
		r = PORTAIL_OK;
	}
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_token_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    struct portail_token *out, struct portail_account *acct, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;
	int rc;

	pthread_mutex_lock(&st->lock);
	/* one statement, one read transaction: the token and its account agree */
	if ((s = prep(st, "SELECT t.id, t.email_key, t.label, t.created, t.expires, t.last_used, "
	    "t.epoch, " ACCOUNT_COLUMNS_OF("a") " FROM tokens t JOIN accounts a "
	    "ON a.email_key = t.email_key WHERE t.token_hash = ?")) == NULL) {
		r = db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (read_token(s, out) && read_account_at(s, 7, acct)) {
			r = PORTAIL_OK;
		} else {
			portail_token_clear(out);
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
	} else {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_REFUSED : db_err(st, err, "token");
	}
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_token_touch(portail_store *st, int64_t id, int64_t now, int64_t expires,
    portail_error *err)
{
	return run1(st, "UPDATE tokens SET last_used = ?1, expires = ?2 WHERE id = ?3", "token",
	    false, err, "iii", now, expires, id);
}

portail_status
portail_store_token_list(portail_store *st, const char *key, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err)
{
	sqlite3_stmt *s;
	struct portail_token *list = NULL;
	size_t used = 0, cap = 0;
	portail_status r = PORTAIL_OK;
	int rc;

	pthread_mutex_lock(&st->lock);
	/* live ones only: not expired, issued in the account's current epoch */
	if ((s = prep(st, "SELECT t.id, t.email_key, t.label, t.created, t.expires, t.last_used, "
	    "t.epoch FROM tokens t JOIN accounts a ON a.email_key = t.email_key "
	    "WHERE t.email_key = ?1 AND t.expires > ?2 AND t.epoch = a.token_epoch ORDER BY t.id")) == NULL) {
		r = db_err(st, err, "token");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct portail_token *nl = realloc(list, ncap * sizeof(*nl));

			if (nl == NULL) {
				r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		if (!read_token(s, &list[used])) {
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			goto out;
		}
		used++;
	}
	if (rc != SQLITE_DONE)
		r = db_err(st, err, "token");
out:
	release(st, s);
	pthread_mutex_unlock(&st->lock);
	if (r != PORTAIL_OK) {
		for (size_t i = 0; i < used; i++)
			portail_token_clear(&list[i]);
		free(list);
		return r;
	}
	*out = list;
	*n = used;
	return PORTAIL_OK;
}

portail_status
portail_store_token_delete(portail_store *st, const char *key, int64_t id, portail_error *err)
{
	return run1(st, "DELETE FROM tokens WHERE id = ? AND email_key = ?", "token", true, err, "it",
	    id, key);
}

portail_status
portail_store_token_revoke_all(portail_store *st, const char *key, int64_t now, portail_error *err)
{
	return run1(st, "UPDATE accounts SET token_epoch = token_epoch + 1, updated = ? "
	    "WHERE email_key = ?", "account", true, err, "it", now, key);
}

void
portail_token_clear(struct portail_token *t)
{
	if (t == NULL)
		return;
	free(t->email_key);
	free(t->label);
	memset(t, 0, sizeof(*t));
}

/* ---- social links ------------------------------------------------------------- */

void
portail_link_ticket_clear(struct portail_link_ticket *t)
{
	if (t == NULL)
		return;
	portail_identity_clear(&t->id);
	free(t->email_key);
	free(t->email);
	memset(t, 0, sizeof(*t));
}

portail_status
portail_store_link_find(portail_store *st, const char *provider, const char *subject,
    char **key, int64_t *last_used, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;
	int rc;

	*key = NULL;
	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "SELECT email_key, last_used FROM links WHERE provider = ? AND subject = ?")) == NULL) {
		r = db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, subject, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (last_used != NULL)
			*last_used = sqlite3_column_int64(s, 1);
		r = (*key = col_text(s, 0)) ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	} else {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_UNKNOWN : db_err(st, err, "link");
	}
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_link_ticket_add(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const struct portail_identity *id, int64_t now, int64_t expires, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r;

	pthread_mutex_lock(&st->lock);
	/* the dead ones go as new ones come */
	if ((s = prep(st, "DELETE FROM link_tickets WHERE expires <= ?")) != NULL) {
		sqlite3_bind_int64(s, 1, now);
		(void)sqlite3_step(s);
		release(st, s);
	}
	if ((s = prep(st, "INSERT INTO link_tickets (ticket_hash, provider, subject, "
	    "provider_email, vouched, expires) VALUES (?, ?, ?, ?, ?, ?)")) == NULL) {
		r = db_err(st, err, "link ticket");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, id->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, id->email, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, id->vouched);
	sqlite3_bind_int64(s, 6, expires);
	r = sqlite3_step(s) == SQLITE_DONE ? PORTAIL_OK : db_err(st, err, "link ticket");
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

static portail_status
link_ticket_find(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now,
    struct portail_link_ticket *t, portail_error *err)
{
	sqlite3_stmt *s = prep(st, "SELECT provider, subject, provider_email, vouched, email_key, "
	    "email, proof_hash FROM link_tickets WHERE ticket_hash = ? AND expires > ?");
	portail_status r;
	int rc;

	memset(t, 0, sizeof(*t));
	if (s == NULL)
		return db_err(st, err, "link ticket");
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->id.provider = col_text(s, 0);
		t->id.subject = col_text(s, 1);
		t->id.email = col_text(s, 2);
		t->id.vouched = sqlite3_column_int(s, 3) != 0;
		t->email_key = col_text(s, 4);
		t->email = col_text(s, 5);
		if (sqlite3_column_bytes(s, 6) == PORTAIL_HASH_BYTES) {
			memcpy(t->proof_hash, sqlite3_column_blob(s, 6), PORTAIL_HASH_BYTES);
			t->has_proof = true;
		}
		r = t->id.provider && t->id.subject ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	} else {
		r = rc == SQLITE_DONE ? PORTAIL_ERR_BAD_TICKET : db_err(st, err, "link ticket");
	}
	release(st, s);
	if (r != PORTAIL_OK)
		portail_link_ticket_clear(t);
	return r;
}

portail_status
portail_store_link_ticket_get(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    int64_t now, struct portail_link_ticket *t, portail_error *err)
{
	portail_status r;

	pthread_mutex_lock(&st->lock);
	r = link_ticket_find(st, hash, now, t, err);
	pthread_mutex_unlock(&st->lock);
	return r;
}

portail_status
portail_store_link_ticket_address(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const char *email, portail_error *err)
{
	/* a new address forgets any proof made for the last one */
	return run1(st, "UPDATE link_tickets SET email_key = ?, email = ?, proof_hash = NULL "
	    "WHERE ticket_hash = ?", "link ticket", false, err, "tth", key, email, hash);
}

portail_status
portail_store_link_ticket_proof(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const char *key, const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err)
{
	portail_status r = run1(st, "UPDATE link_tickets SET proof_hash = ? "
	    "WHERE ticket_hash = ? AND email_key = ?", "link ticket", true, err, "hht", proof, hash,
	    key);

	return r == PORTAIL_ERR_UNKNOWN ? PORTAIL_ERR_BAD_TICKET : r;
}

static portail_status
step_done(portail_store *st, sqlite3_stmt *s, const char *what, portail_error *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return PORTAIL_OK;
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE ||
	    rc == SQLITE_CONSTRAINT)
		return PORTAIL_ERR_EXISTS;
	return db_err(st, err, what);
}

portail_status
portail_store_link_finish(portail_store *st, const unsigned char hash[PORTAIL_HASH_BYTES],
    const unsigned char *proof, int64_t now, bool *created, char **email, portail_error *err)
{
	struct portail_link_ticket t;
	sqlite3_stmt *s = NULL;
	char *vkey = NULL, *vemail = NULL;
	portail_status r;

	*created = false;
	*email = NULL;
	if ((r = begin(st, err)) != PORTAIL_OK)
		return r;
	if ((r = link_ticket_find(st, hash, now, &t, err)) != PORTAIL_OK)
		goto out;
	if (t.email_key == NULL) {
		r = PORTAIL_ERR_BAD_TICKET;     /* no address chosen yet */
		goto out;
	}
	if (proof != NULL) {
		/* the code's proof must be the one made for this very link ticket */
		if (!t.has_proof || sodium_memcmp(t.proof_hash, proof, PORTAIL_HASH_BYTES) != 0 ||
		    (r = ticket_find(st, proof, "link", now, &vkey, &vemail, err)) != PORTAIL_OK ||
		    strcmp(vkey, t.email_key) != 0) {
			if (r == PORTAIL_OK || r == PORTAIL_ERR_BAD_TICKET)
				r = PORTAIL_ERR_BAD_TICKET;
			goto out;
		}
		if ((r = consume(st, t.email_key, "link", now, err)) != PORTAIL_OK)
			goto out;
	}
	/* an account for the address, without a password, unless there is one */
	if ((s = prep(st, "INSERT OR IGNORE INTO accounts (email_key, email, password_hash, created, "
	    "updated, gpi_checked) VALUES (?1, ?2, NULL, ?3, ?3, ?3)")) == NULL) {
		r = db_err(st, err, "account");
		goto out;
	}
	sqlite3_bind_text(s, 1, t.email_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t.email, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if ((r = step_done(st, s, "account", err)) != PORTAIL_OK)
		goto out;
	*created = sqlite3_changes(st->db) > 0;
	release(st, s);
	if ((s = prep(st, "INSERT INTO links (provider, subject, email_key, created) "
	    "VALUES (?, ?, ?, ?)")) == NULL) {
		r = db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, t.id.provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t.id.subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, t.email_key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if ((r = step_done(st, s, "link", err)) != PORTAIL_OK) {
		if (r == PORTAIL_ERR_EXISTS)
			portail_error_set(err, r, "already linked");
		goto out;
	}
	release(st, s);
	if ((s = prep(st, "DELETE FROM link_tickets WHERE ticket_hash = ?")) == NULL) {
		r = db_err(st, err, "link ticket");
		goto out;
	}
	sqlite3_bind_blob(s, 1, hash, PORTAIL_HASH_BYTES, SQLITE_STATIC);
	r = step_done(st, s, "link ticket", err);
	if (r == PORTAIL_OK && (*email = strdup(t.email)) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
out:
	release(st, s);
	free(vkey);
	free(vemail);
	portail_link_ticket_clear(&t);
	if (r != PORTAIL_OK)
		*created = false;
	return end(st, r, false, err);
}

portail_status
portail_store_link_used(portail_store *st, const char *provider, const char *subject,
    int64_t now, portail_error *err)
{
	return run1(st, "UPDATE links SET last_used = ? WHERE provider = ? AND subject = ?", "link",
	    false, err, "itt", now, provider, subject);
}

portail_status
portail_store_link_delete(portail_store *st, const char *key, const char *provider,
    portail_error *err)
{
	return run1(st, "DELETE FROM links WHERE email_key = ? AND provider = ?", "link", true, err,
	    "tt", key, provider);
}

portail_status
portail_store_link_list(portail_store *st, const char *key, char ***providers, portail_error *err)
{
	sqlite3_stmt *s;
	char **v = NULL;
	size_t n = 0;
	portail_status r = PORTAIL_OK;
	int rc;

	*providers = NULL;
	pthread_mutex_lock(&st->lock);
	if ((s = prep(st, "SELECT provider FROM links WHERE email_key = ? ORDER BY provider")) == NULL) {
		r = db_err(st, err, "link");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char **g = realloc(v, (n + 2) * sizeof(*v));

		if (g == NULL || (g[n] = col_text(s, 0)) == NULL) {
			if (g != NULL)
				v = g;
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			break;
		}
		v = g;
		v[++n] = NULL;
	}
	if (r == PORTAIL_OK && rc != SQLITE_DONE)
		r = db_err(st, err, "link");
	release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	if (r == PORTAIL_OK && v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if (r != PORTAIL_OK) {
		for (size_t i = 0; v != NULL && i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	*providers = v;
	return PORTAIL_OK;
}
