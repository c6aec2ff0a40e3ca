/*
 * store-sqlite.c — the SQLite backend of the store (store.h): opening,
 * the schema and its migrations, the statement cache, transactions, and
 * the files SQLite keeps beside the database. The SQL of each concept is
 * in its own file (store-int.h lists them).
 *
 * One connection, serialized by a mutex (SQLite's own serialized mode
 * would do, but the mutex also makes each BEGIN…COMMIT ours alone).
 * WAL journal, a busy timeout for other processes (portail init, a
 * backup), foreign keys on. Every write that touches more than one row
 * is BEGIN IMMEDIATE … COMMIT.
 */
#include "store-int.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the schema ------------------------------------------------------------ */

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
	/* 5 -> 6: browser sessions (issue 14); only the secret's keyed hash */
	"CREATE TABLE IF NOT EXISTS sessions ("
	"  id INTEGER PRIMARY KEY,"
	"  session_hash BLOB NOT NULL UNIQUE,"
	"  email_key TEXT NOT NULL REFERENCES accounts (email_key) ON DELETE CASCADE,"
	"  created INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  epoch INTEGER NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS sessions_by_key ON sessions (email_key);"
	"CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires);",
	/* 6 -> 7: social sign-in states (issue 14); only the cookie secret's keyed hash */
	"CREATE TABLE IF NOT EXISTS oauth_states ("
	"  hash BLOB PRIMARY KEY,"
	"  provider TEXT NOT NULL,"
	"  nonce TEXT,"
	"  verifier TEXT,"
	"  return_to TEXT,"
	"  expires INTEGER NOT NULL"
	");",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

portail_status
pt_store_db_err(portail_store *st, portail_error *err, const char *what)
{
	return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "store: %s: %s", what,
	    st->db ? sqlite3_errmsg(st->db) : "not open");
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

/* Test hook (store-int.h): called before each migration step takes the write lock. */
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
	return pt_store_db_err(st, err, path);
}

/* ---- opening: the schema brought up to date -------------------------------- */

portail_status
portail_store_open(const char *path, portail_store **out, portail_error *err)
{
	portail_store *st;
	portail_status r = PORTAIL_ERR_UNAVAILABLE;
	int v, fd;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	st->be = &pt_sqlite_backend;
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
	if (sqlite3_create_function(st->db, "portail_rekey", 0, SQLITE_UTF8, NULL, pt_store_sql_rekey,
	    NULL, NULL) != SQLITE_OK) {
		r = pt_store_db_err(st, err, "schema migration");
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
			r = pt_store_db_err(st, err, "schema version");
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
			r = pt_store_db_err(st, err, "schema migration");
			exec(st, "ROLLBACK");
			goto fail;
		}
		v++;
	}
	*out = st;
	return PORTAIL_OK;
fail:
	pt_sqlite_close(st);
	return r;
}

void
pt_sqlite_close(portail_store *st)
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

/* ---- statements ------------------------------------------------------------- */

/*
 * When the cache is full the statement is prepared for this one use and
 * pt_store_release finalizes it: slower, never wrong. (Evicting a cached
 * one instead could finalize a statement a caller still holds: the last
 * step of a sign-up holds two.)
 */
sqlite3_stmt *
pt_store_prep(portail_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	for (size_t i = 0; i < st->n_stmts; i++)
		if (st->stmts[i].sql == sql)
			return st->stmts[i].s;
	if (st->n_stmts < PT_STORE_STMT_CACHE) {
		if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
			return NULL;
		st->stmts[st->n_stmts].sql = sql;
		st->stmts[st->n_stmts++].s = s;
	} else if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		return NULL;
	}
	return s;
}

void
pt_store_release(portail_store *st, sqlite3_stmt *s)
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

/* Test hook (store-int.h): one statement through the cache, its rows stepped over. */
portail_status
pt_sqlite_run(portail_store *st, const char *sql, portail_error *err)
{
	sqlite3_stmt *s;
	portail_status r = PORTAIL_OK;
	int rc;

	pthread_mutex_lock(&st->lock);
	if ((s = pt_store_prep(st, sql)) == NULL) {
		r = pt_store_db_err(st, err, "prepare");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = pt_store_db_err(st, err, "step");
	pt_store_release(st, s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

size_t
pt_store_cached(const portail_store *st)
{
	return st->n_stmts;
}

static portail_status
vrun1(portail_store *st, const char *sql, const char *what, bool need_change, portail_error *err,
    const char *types, va_list ap)
{
	sqlite3_stmt *s;
	portail_status r;

	if ((s = pt_store_prep(st, sql)) == NULL)
		return pt_store_db_err(st, err, what);
	for (int i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
		else if (types[i] == 'i')
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_blob(s, i + 1, va_arg(ap, const unsigned char *),
			    PORTAIL_HASH_BYTES, SQLITE_STATIC);
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		r = pt_store_db_err(st, err, what);
	else
		r = need_change && sqlite3_changes(st->db) == 0 ? PORTAIL_ERR_UNKNOWN : PORTAIL_OK;
	pt_store_release(st, s);
	return r;
}

portail_status
pt_store_run1(portail_store *st, const char *sql, const char *what, bool need_change,
    portail_error *err, const char *types, ...)
{
	portail_status r;
	va_list ap;

	va_start(ap, types);
	pthread_mutex_lock(&st->lock);
	r = vrun1(st, sql, what, need_change, err, types, ap);
	pthread_mutex_unlock(&st->lock);
	va_end(ap);
	return r;
}

portail_status
pt_store_run1_locked(portail_store *st, const char *sql, const char *what, bool need_change,
    portail_error *err, const char *types, ...)
{
	portail_status r;
	va_list ap;

	va_start(ap, types);
	r = vrun1(st, sql, what, need_change, err, types, ap);
	va_end(ap);
	return r;
}

portail_status
pt_store_step_done(portail_store *st, sqlite3_stmt *s, const char *what, portail_error *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return PORTAIL_OK;
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE ||
	    rc == SQLITE_CONSTRAINT)
		return PORTAIL_ERR_EXISTS;
	return pt_store_db_err(st, err, what);
}

portail_status
pt_store_step_row(portail_store *st, sqlite3_stmt *s, portail_status none, const char *what,
    portail_error *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return PORTAIL_OK;
	return rc == SQLITE_DONE ? none : pt_store_db_err(st, err, what);
}

portail_status
pt_store_rows(portail_store *st, sqlite3_stmt *s, size_t size,
    bool (*read)(sqlite3_stmt *, void *), void (*clear)(void *), void **out, size_t *n,
    const char *what, portail_error *err)
{
	unsigned char *list = NULL;
	size_t used = 0, cap = 0;
	portail_status r = PORTAIL_OK;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			unsigned char *nl = ncap <= SIZE_MAX / size ? realloc(list, ncap * size) : NULL;

			if (nl == NULL) {
				r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		if (!read(s, list + used * size)) {
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			goto out;
		}
		used++;
	}
	if (rc != SQLITE_DONE)
		r = pt_store_db_err(st, err, what);
out:
	if (r != PORTAIL_OK) {
		for (size_t i = 0; i < used; i++)
			clear(list + i * size);
		free(list);
		return r;
	}
	*out = list;
	*n = used;
	return PORTAIL_OK;
}

char *
pt_store_col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

/* ---- transactions ----------------------------------------------------------- */

portail_status
pt_store_begin(portail_store *st, portail_error *err)
{
	pthread_mutex_lock(&st->lock);
	if (exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
		portail_status r = pt_store_db_err(st, err, "begin");

		pthread_mutex_unlock(&st->lock);
		return r;
	}
	return PORTAIL_OK;
}

portail_status
pt_store_end(portail_store *st, portail_status r, bool keep, portail_error *err)
{
	if (r == PORTAIL_OK || keep) {
		if (exec(st, "COMMIT") != SQLITE_OK) {
			portail_status e = pt_store_db_err(st, err, "commit");

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
pt_sqlite_probe(portail_store *st, portail_error *err)
{
	portail_status r = PORTAIL_OK;

	pthread_mutex_lock(&st->lock);
	if (exec(st, "SELECT count(*) FROM accounts") != SQLITE_OK)
		r = pt_store_db_err(st, err, "probe");
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- the backend's table (store-backend.h) ------------------------------------ */

const struct pt_store_backend pt_sqlite_backend = {
	.name = "sqlite",
	.shared = false,
	.run = pt_sqlite_run,
	.close = pt_sqlite_close,
	.probe = pt_sqlite_probe,
	.account_get = pt_sqlite_account_get,
	.account_list = pt_sqlite_account_list,
	.account_set_state = pt_sqlite_account_set_state,
	.account_unlock = pt_sqlite_account_unlock,
	.account_delete = pt_sqlite_account_delete,
	.account_disable_and_revoke = pt_sqlite_account_disable_and_revoke,
	.account_checked = pt_sqlite_account_checked,
	.auth_failed = pt_sqlite_auth_failed,
	.auth_reserve = pt_sqlite_auth_reserve,
	.auth_release = pt_sqlite_auth_release,
	.auth_succeeded = pt_sqlite_auth_succeeded,
	.mail_add = pt_sqlite_mail_add,
	.mail_next = pt_sqlite_mail_next,
	.mail_retry = pt_sqlite_mail_retry,
	.mail_delete = pt_sqlite_mail_delete,
	.mail_count = pt_sqlite_mail_count,
	.code_issue = pt_sqlite_code_issue,
	.code_verify = pt_sqlite_code_verify,
	.ticket_peek = pt_sqlite_ticket_peek,
	.signup_finish = pt_sqlite_signup_finish,
	.reset_finish = pt_sqlite_reset_finish,
	.password_set = pt_sqlite_password_set,
	.token_add = pt_sqlite_token_add,
	.token_find = pt_sqlite_token_find,
	.token_touch = pt_sqlite_token_touch,
	.token_list = pt_sqlite_token_list,
	.token_delete = pt_sqlite_token_delete,
	.token_revoke_all = pt_sqlite_token_revoke_all,
	.gc = pt_sqlite_gc,
	.link_find = pt_sqlite_link_find,
	.link_ticket_add = pt_sqlite_link_ticket_add,
	.link_ticket_get = pt_sqlite_link_ticket_get,
	.link_ticket_address = pt_sqlite_link_ticket_address,
	.link_ticket_proof = pt_sqlite_link_ticket_proof,
	.link_finish = pt_sqlite_link_finish,
	.link_used = pt_sqlite_link_used,
	.link_delete = pt_sqlite_link_delete,
	.link_list = pt_sqlite_link_list,
	.session_add = pt_sqlite_session_add,
	.session_find = pt_sqlite_session_find,
	.session_touch = pt_sqlite_session_touch,
	.session_delete = pt_sqlite_session_delete,
	.session_count = pt_sqlite_session_count,
	.oauth_state_add = pt_sqlite_oauth_state_add,
	.oauth_state_take = pt_sqlite_oauth_state_take,
};
