/*
 * store.h — where accounts and pending verifications live.
 *
 * The contract every backend implements (the embedded one: store-sqlite.c
 * and its concept files, listed in store-int.h; PostgreSQL: store-pg.c
 * and its concept files, store-pg-int.h), so callers see only these
 * operations; store.c dispatches each to the handle's backend. Each operation that changes more
 * than one row is one transaction: after a crash at any point there is
 * either all of a step or none of it (no account without its ticket
 * consumed, no password changed without the whole flow).
 *
 * A handle is safe to share between threads (SQLite serializes the
 * operations; PostgreSQL runs them at once, one pooled connection each,
 * every read-then-write one guarded statement or under a row lock).
 * Times are seconds since the epoch, passed in by the caller (tests move
 * the clock). Every failure to reach the database is
 * PORTAIL_ERR_UNAVAILABLE, never a refusal.
 *
 * The store records and applies; it does not decide. The lock a failure
 * earns and whether a code may be issued or checked are policy.h's
 * answers, which every backend applies alike.
 */
#ifndef PORTAIL_STORE_H
#define PORTAIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "key.h"
#include "policy.h"
#include "portail.h"
#include "provider.h"

typedef struct portail_store portail_store;

enum portail_account_state { PORTAIL_ACCOUNT_ENABLED = 0, PORTAIL_ACCOUNT_DISABLED = 1 };

struct portail_account {
	char *email;            /* the address on record: where every mail goes (the
	                         * GPI record's value the sign-up code went to) */
	char *email_key;        /* portail_email_key(email) */
	char *password_hash;    /* argon2id PHC string, or NULL (social-only account) */
	int state;
	int64_t created, updated, last_signin;
	int failures;
	int64_t locked_until;
	int64_t token_epoch;
	int64_t gpi_checked;    /* last positive GPI check, 0 never */
};

/* Frees the strings (the hash wiped first); the struct itself is the caller's. */
void portail_account_clear(struct portail_account *a);

/*
 * Opens (creating when missing, mode 0600) the store at path and brings
 * its schema up to date (forward migrations only; a store newer than
 * this program is refused, PORTAIL_ERR_CONFIG).
 */
portail_status portail_store_open(const char *path, portail_store **out,
    portail_error *err);
void portail_store_close(portail_store *st);

struct portail_config;

/*
 * The configured store ([store] backend): what opens it, with its
 * secret read. portail_store_spec_new reads [store] password_file now:
 * call it before dropping privileges, and open (as the daemon's user)
 * after; the spec keeps the password in guarded memory, wiped by
 * portail_store_spec_free. portail_store_open_config does all three.
 * PostgreSQL: PORTAIL_ERR_UNAVAILABLE when no server answers within
 * [store] deadline_ms, PORTAIL_ERR_CONFIG for a schema newer than this
 * program.
 */
typedef struct portail_store_spec portail_store_spec;
portail_status portail_store_spec_new(const struct portail_config *cfg, portail_store_spec **out,
    portail_error *err);
void portail_store_spec_free(portail_store_spec *spec);
portail_status portail_store_open_spec(const portail_store_spec *spec, portail_store **out,
    portail_error *err);
portail_status portail_store_open_config(const struct portail_config *cfg, portail_store **out,
    portail_error *err);
/* "sqlite" or "postgresql" (a static string). */
const char *portail_store_backend(const portail_store *st);
/*
 * Whether daemons on several hosts may share the store (PostgreSQL): its
 * mail queue then fills without a word to this daemon, and is looked at
 * now and then. SQLite's store is one host's.
 */
bool portail_store_shared(const portail_store *st);

/*
 * The next three are SQLite's (a store at path); for PostgreSQL there is
 * no file and no directory of ours, and nothing to check or give: the
 * callers skip them (portail init, portail check). The 3 -> 4 migration
 * never ran on PostgreSQL (its schema starts at 7), so it has no key
 * conflict to list either.
 *
 * The store at path may be a file plus files the backend keeps beside it
 * while it runs, created by whoever opens the store: its directory must
 * then be writable by the daemon's user. portail_store_open's errors name
 * that directory when it is not writable by the calling process.
 */

/*
 * Checks the directory of the store at path for the daemon user (uid, gid;
 * user is its name, for the messages; uid (uid_t)-1: the calling process):
 * it exists, the user can create files in it, and nobody else can
 * (writable by others, or owned by another user than the daemon's or
 * root). PORTAIL_ERR_CONFIG with what is wrong and how to fix it.
 */
portail_status portail_store_check_dir(const char *path, uid_t uid, gid_t gid,
    const char *user, portail_error *err);

/*
 * Gives the store at path, with every file the backend keeps beside it
 * (only the backend knows their names), to uid:gid; files not there are
 * skipped. For portail init, after it opened the store as root.
 */
portail_status portail_store_chown(const char *path, uid_t uid, gid_t gid,
    portail_error *err);

/*
 * An account whose stored key is not portail_email_key(email): the 3 -> 4
 * migration (address identity, DESIGN §2) left it untouched because its
 * new key is another account's, or would be (other: that account's
 * address), or because the address no longer passes (key NULL). Such an
 * account cannot sign in until an administrator merges or deletes.
 */
struct portail_key_conflict {
	char *email, *stored_key, *key, *other;
};

/*
 * Lists those accounts, opening the store at path read-only (no
 * migration, no write). *out is an array of *n (possibly 0, then NULL):
 * free it with portail_key_conflicts_free.
 */
portail_status portail_store_key_conflicts(const char *path,
    struct portail_key_conflict **out, size_t *n, portail_error *err);
void portail_key_conflicts_free(struct portail_key_conflict *v, size_t n);

/*
 * What portail check shows of a PostgreSQL cluster: the server that
 * answered (host:port), whether it is a writable primary
 * (pg_is_in_recovery), the schema version, and the standbys it streams
 * to with their sync_state when pg_stat_replication shows them to this
 * role (replication_visible; superusers and pg_read_all_stats members
 * see them). UNKNOWN for SQLite (no cluster).
 */
struct portail_store_cluster {
	char server[256];
	char dbname[128];       /* PQdb: portail status shows it (never the password) */
	bool primary;
	int schema;
	bool replication_visible;
	int standbys;
	char replication[256];  /* "name sync_state, …" */
};
portail_status portail_store_cluster(portail_store *st, struct portail_store_cluster *out,
    portail_error *err);

/* ---- copying a store to another backend (store-copy.c) ----------------------- */

/*
 * The tables portail_store_copy copies, in this order (accounts before
 * the rows that reference them): every table of the state. The schema's
 * bookkeeping (SQLite's user_version, PostgreSQL's portail_schema) is not
 * copied: each backend's own open made the target's schema.
 */
#define PORTAIL_COPY_TABLES 9
extern const char *const portail_copy_tables[PORTAIL_COPY_TABLES];

struct portail_copy_report {
	unsigned long source[PORTAIL_COPY_TABLES];      /* rows, by portail_copy_tables */
	unsigned long target[PORTAIL_COPY_TABLES];      /* counted in the target after */
	unsigned long rows;                             /* the source's, every table */
	bool identical;         /* the target held these rows already: nothing written */
};

/*
 * Copies every table of from into to, row by row, columns by name (the
 * source's column list; a column the target has and the source lacks
 * takes its default; mail_queue.lease_until, a sending lease of
 * PostgreSQL's, is not carried to a backend without it; any other source
 * column the target lacks is refused, PORTAIL_ERR_CONFIG). The source is
 * read in one snapshot; the target is written in one transaction, its
 * tables locked against other writers (all or nothing), and read back
 * and compared with the source before the commit; then both sides'
 * rows are counted again (*rep). Values are copied as they are: hashes
 * stay hashes, sealed codes stay sealed (the same key file opens them).
 *
 * The target must be empty, or hold exactly the source's rows: then
 * nothing is written, rep->identical, PORTAIL_OK (running it again is
 * harmless). A target with other rows: PORTAIL_ERR_EXISTS, nothing
 * written, err names the first table that differs. A table in the source
 * that this list does not know (a newer portail's): PORTAIL_ERR_CONFIG.
 * Database failures: PORTAIL_ERR_UNAVAILABLE (nothing committed).
 * The caller keeps writers of the source away (portaild stopped).
 */
portail_status portail_store_copy(portail_store *from, portail_store *to,
    struct portail_copy_report *rep, portail_error *err);

/*
 * Opens a PostgreSQL store given by its connection string (its schema
 * made or brought up to date, as any opener does), one connection;
 * password_file (NULL: none) read as [store] password_file is; deadline_ms
 * bounds each round trip (<= 0: 5000).
 */
portail_status portail_store_open_postgresql(const char *conninfo, const char *password_file,
    int deadline_ms, portail_store **out, portail_error *err);

/* A cheap query, for status and check. */
portail_status portail_store_probe(portail_store *st, portail_error *err);

/* ---- accounts ------------------------------------------------------------- */

/* PORTAIL_ERR_UNKNOWN when there is none; *out filled otherwise. */
portail_status portail_store_account_get(portail_store *st, const char *key,
    struct portail_account *out, portail_error *err);

/* All accounts, by address; *out is an array of *n the caller clears and frees. */
portail_status portail_store_account_list(portail_store *st,
    struct portail_account **out, size_t *n, portail_error *err);

/*
 * state, unlock (failures and lock cleared), delete: UNKNOWN when absent.
 * Setting the state changes nothing else (disabling keeps the tokens:
 * portail_store_account_disable_and_revoke does both).
 */
portail_status portail_store_account_set_state(portail_store *st,
    const char *key, int state, int64_t now, portail_error *err);
portail_status portail_store_account_unlock(portail_store *st, const char *key,
    int64_t now, portail_error *err);
portail_status portail_store_account_delete(portail_store *st, const char *key,
    portail_error *err);

/*
 * An administrator's disable, in one transaction: the account disabled
 * and every token it holds revoked (portail_store_token_revoke_all), so
 * that enabling it again does not bring old tokens back. UNKNOWN when
 * absent (nothing changed).
 */
portail_status portail_store_account_disable_and_revoke(portail_store *st,
    const char *key, int64_t now, portail_error *err);

/* Records a positive GPI check at now; 0 forgets the last one (a negative check). */
portail_status portail_store_account_checked(portail_store *st, const char *key,
    int64_t now, portail_error *err);

/*
 * A failed sign-in: one more failure, counted exactly under concurrency;
 * *locked_until gets the new lock end (0 when not locked), the lock
 * portail_policy_lockout gives that count.
 */
portail_status portail_store_auth_failed(portail_store *st, const char *key,
    int64_t now, const struct portail_lockout *policy, int64_t *locked_until,
    portail_error *err);

/*
 * Reserves one password verification before the hash is checked, so that
 * no more than max_failures passwords are ever verified before the lock,
 * whatever the concurrency: in one guarded statement, when the account is
 * not locked at now, counts the attempt as a failure already, with the
 * lock it earns (portail_policy_lockout, as portail_store_auth_failed). The
 * caller then verifies and either keeps the failure (wrong password:
 * nothing more to write), converts it (portail_store_auth_succeeded clears
 * failures and lock) or gives it back (portail_store_auth_release). A
 * process that dies in between leaves a failure counted: the safe side.
 *
 * seen is the failure count the caller read with the account
 * (portail_store_account_get), negative when it has none: a hint, never
 * trusted. PostgreSQL reserves in one compare-and-swap statement guarded
 * by that count (the lock failure seen + 1 earns computed beforehand);
 * when the row moved meanwhile it re-reads the count and tries again, a
 * few times, then takes the transactional path, which always makes
 * progress. Whatever seen is, the attempt is counted exactly once.
 *
 * PORTAIL_OK: reserved; *reserved_lock is the lock this attempt set (0:
 * none). PORTAIL_ERR_LOCKED: not reserved, *locked_until the lock's end.
 * PORTAIL_ERR_UNKNOWN: no such account. An error, or an answer in doubt,
 * is PORTAIL_ERR_UNAVAILABLE, never a refusal.
 */
portail_status portail_store_auth_reserve(portail_store *st, const char *key,
    int64_t now, int seen, const struct portail_lockout *policy, int64_t *reserved_lock,
    int64_t *locked_until, portail_error *err);

/*
 * Gives a reservation back (a right password that does not sign in: the
 * account is disabled, or the rehash failed): one failure less, and the
 * lock it set, if still the same, lifted.
 */
portail_status portail_store_auth_release(portail_store *st, const char *key,
    int64_t reserved_lock, portail_error *err);

/* A good sign-in: failures cleared, last_signin set, hash replaced when new_hash. */
portail_status portail_store_auth_succeeded(portail_store *st, const char *key,
    int64_t now, const char *new_hash, portail_error *err);

/* ---- the mail queue (DESIGN §2: queued durably) ------------------------------ */

/*
 * A queued message: what composes it (mail.h's kind, lang "" for the
 * default, the recipient) and, for a code, the code sealed with the
 * server key (portail_key_seal, PORTAIL_KEY_MAIL): never a code in clear.
 */
struct portail_mail_row {
	int64_t id;
	int kind;
	char lang[3];
	char *rcpt;
	unsigned char *code_box;        /* NULL: no code */
	size_t code_box_len;
	int64_t deadline;               /* given up after */
	int64_t next_try;
	int tries;
};

/* Frees the strings (the box wiped) and zeroes the struct. */
void portail_mail_row_clear(struct portail_mail_row *m);
/* Queues m (its id and tries ignored). */
portail_status portail_store_mail_add(portail_store *st,
    const struct portail_mail_row *m, portail_error *err);
/*
 * The message due first (next_try <= now) into *out (clear it);
 * UNKNOWN when none is due, *next_due then the time the first one is
 * (0: the queue is empty), on now's clock. A shared store (PostgreSQL)
 * leases the message to its taker on the database's clock, whatever
 * now says: another host takes it only once that lease is over, or
 * after a retry (which ends it).
 */
portail_status portail_store_mail_next(portail_store *st, int64_t now,
    struct portail_mail_row *out, int64_t *next_due, portail_error *err);
portail_status portail_store_mail_retry(portail_store *st, int64_t id, int tries,
    int64_t next_try, portail_error *err);
/* Sent or given up. */
portail_status portail_store_mail_delete(portail_store *st, int64_t id,
    portail_error *err);
portail_status portail_store_mail_count(portail_store *st, unsigned long *n,
    portail_error *err);

/* ---- verification codes and tickets ------------------------------------------ */

/*
 * Issues a code for (key, purpose): applies the rate limits to the codes
 * issued for key in the sliding day, every purpose counted
 * (portail_policy_code_issue: TOO_SOON with *wait seconds,
 * RATE_LIMITED), records the issuance, and replaces any
 * previous verification (which dies with it). email is the address as
 * typed, kept for the account. mail (may be NULL): the message that
 * carries the code, queued in the same transaction.
 */
portail_status portail_store_code_issue(portail_store *st, const char *key,
    const char *email, const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES],
    int64_t now, const struct portail_code_rules *rules, const struct portail_mail_row *mail,
    int *wait, portail_error *err);

/*
 * Checks a code. OK: the verification is marked verified and bound to the
 * ticket (ticket_hash, valid ticket_lifetime). NO_CODE (none, or its
 * ticket used), then portail_policy_code_check's refusals, then for a
 * wrong code one try less and portail_policy_code_wrong's answer
 * (WRONG_CODE with *tries_left, TOO_MANY_TRIES).
 */
portail_status portail_store_code_verify(portail_store *st, const char *key,
    const char *purpose, const unsigned char code_hash[PORTAIL_HASH_BYTES],
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now, int ticket_lifetime,
    int *tries_left, portail_error *err);

/*
 * Looks a live ticket up (verified, not consumed, not expired, of this
 * purpose) without consuming it: *key and *email are new strings.
 * BAD_TICKET otherwise.
 */
portail_status portail_store_ticket_peek(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], const char *purpose, int64_t now,
    char **key, char **email, portail_error *err);

/*
 * In one transaction: consumes the ticket (BAD_TICKET when it is not
 * live) and creates the account with password_hash (EXISTS when there is
 * one: the ticket stays unconsumed).
 */
portail_status portail_store_signup_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now,
    const char *password_hash, portail_error *err);

/*
 * In one transaction: consumes a reset ticket and sets the password,
 * clears failures and lock, bumps the token epoch (revokes every token).
 * UNKNOWN when the account went away meanwhile.
 */
portail_status portail_store_reset_finish(portail_store *st,
    const unsigned char ticket_hash[PORTAIL_HASH_BYTES], int64_t now,
    const char *password_hash, portail_error *err);

/*
 * A password changed by its owner (who gave the old one): new hash,
 * failures and lock cleared, token epoch bumped. UNKNOWN when absent.
 */
portail_status portail_store_password_set(portail_store *st, const char *key,
    const char *password_hash, int64_t now, portail_error *err);

/* ---- long-lived tokens ------------------------------------------------------------ */

struct portail_token {
	int64_t id;
	char *email_key;
	char *label;
	int64_t created, expires, last_used;
	int64_t epoch;          /* the account's token epoch at issue */
};

void portail_token_clear(struct portail_token *t);

/*
 * Adds a token (its hash only) in the account's current epoch; UNKNOWN
 * without account; TOO_MANY_TOKENS when the account holds max live
 * tokens already (not expired at now, of the current epoch). The count
 * and the insert are one guarded step: concurrent adds never pass max.
 */
portail_status portail_store_token_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *label, int64_t now,
    int64_t expires, int max, int64_t *id, portail_error *err);
/*
 * By hash, with its owner's account read in the same statement (the token
 * sign-in path); REFUSED when there is none.
 */
portail_status portail_store_token_find(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], struct portail_token *out,
    struct portail_account *acct, portail_error *err);
/* Records a use and the new (sliding) expiry. */
portail_status portail_store_token_touch(portail_store *st, int64_t id,
    int64_t now, int64_t expires, portail_error *err);
/* The account's live tokens (not expired, current epoch). */
portail_status portail_store_token_list(portail_store *st, const char *key,
    int64_t now, struct portail_token **out, size_t *n, portail_error *err);
/* One token of the account; UNKNOWN when it has none with that id. */
portail_status portail_store_token_delete(portail_store *st, const char *key,
    int64_t id, portail_error *err);
/* Every token of the account (epoch bump). */
portail_status portail_store_token_revoke_all(portail_store *st, const char *key,
    int64_t now, portail_error *err);

/* Removes verifications and issuance records the sliding day no longer counts. */
portail_status portail_store_gc(portail_store *st, int64_t now,
    portail_error *err);

/* ---- social links (DESIGN §1) ---------------------------------------------------- */

/* A link ticket's state: the provider's identity, then the school address chosen. */
struct portail_link_ticket {
	struct portail_identity id;
	char *email_key;        /* NULL until social.link */
	char *email;
	unsigned char proof_hash[PORTAIL_HASH_BYTES];
	bool has_proof;         /* a code was verified for this ticket and address */
};

void portail_link_ticket_clear(struct portail_link_ticket *t);

/*
 * The account key (provider, subject) is linked to, and when it was last
 * used; UNKNOWN when none.
 */
portail_status portail_store_link_find(portail_store *st, const char *provider,
    const char *subject, char **key, int64_t *last_used, portail_error *err);
/* A new link ticket (its hash) for an identity, until expires; expired ones are swept. */
portail_status portail_store_link_ticket_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_identity *id,
    int64_t now, int64_t expires, portail_error *err);
/* A live link ticket; BAD_TICKET when unknown or expired. */
portail_status portail_store_link_ticket_get(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_link_ticket *t,
    portail_error *err);
/* Records the school address chosen (and forgets a proof made for another). */
portail_status portail_store_link_ticket_address(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key, const char *email,
    portail_error *err);
/* Records the hash of the code's proof (a "link" ticket) made for this link ticket and key. */
portail_status portail_store_link_ticket_proof(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const char *key,
    const unsigned char proof[PORTAIL_HASH_BYTES], portail_error *err);
/*
 * Makes the link, in one transaction: the live link ticket with an address;
 * with proof (not NULL), the live "link" verification ticket recorded for
 * it, consumed; the account created without a password when there is none
 * (*created); the link; the link ticket gone. *email: the address.
 * BAD_TICKET, EXISTS (the identity or the provider already linked).
 */
portail_status portail_store_link_finish(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *proof, int64_t now,
    bool *created, char **email, portail_error *err);
portail_status portail_store_link_used(portail_store *st, const char *provider,
    const char *subject, int64_t now, portail_error *err);
/* UNKNOWN when the account has no link with that provider. */
portail_status portail_store_link_delete(portail_store *st, const char *key,
    const char *provider, portail_error *err);
/* The providers an account is linked with: a NULL-terminated vector (free each and it). */
portail_status portail_store_link_list(portail_store *st, const char *key,
    char ***providers, portail_error *err);

/* ---- browser sessions (portail-web; session.h decides) --------------------------- */

/*
 * A session: only the keyed hash of its secret (the cookie) is kept. It
 * is live while session.h's rules say so and while it was made in its
 * account's current token epoch: whatever revokes every token of an
 * account (a password changed or reset, an administrator's disable)
 * signs its browsers out too, in the same write; deleting the account
 * deletes its sessions. Every backend keeps both rules.
 */
struct portail_session {
	int64_t id;
	unsigned char hash[PORTAIL_HASH_BYTES];
	char *email_key;
	int64_t created, last_seen, expires;    /* expires: the absolute end */
	int64_t epoch;                          /* the account's token epoch at creation */
};

void portail_session_clear(struct portail_session *s);

/*
 * Adds a session (its hash) in the account's current epoch, in one
 * transaction with: the session whose hash is replaced deleted (not NULL:
 * the cookie the browser still had, whoever's it was: rotation), and the
 * dead ones swept (expires <= now, or last seen at or before seen_cutoff),
 * and, when max_sessions > 0, the account's least recently used ones
 * signed out until the new one makes max_sessions.
 * UNKNOWN without account (nothing changed).
 */
portail_status portail_store_session_add(portail_store *st, const char *key,
    const unsigned char hash[PORTAIL_HASH_BYTES], const unsigned char *replaced, int64_t now,
    int64_t expires, int64_t seen_cutoff, int max_sessions, int64_t *id, portail_error *err);
/* By hash, with its account read in the same statement; REFUSED when there is none. */
portail_status portail_store_session_find(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], struct portail_session *out,
    struct portail_account *acct, portail_error *err);
/* Records a use at now (the idle timeout counts from the last one). */
portail_status portail_store_session_touch(portail_store *st, int64_t id, int64_t now,
    portail_error *err);
/* Signs one session out; UNKNOWN when there is none with that hash. */
portail_status portail_store_session_delete(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], portail_error *err);
/* How many sessions the account has in the store, live or not yet swept (tests, status). */
portail_status portail_store_session_count(portail_store *st, const char *key, int *n,
    portail_error *err);

/* ---- social sign-in states (the authorization-code flow, portail-web) ---------- */
/*
 * What portaild keeps between /social/PROVIDER and its /retour: the
 * keyed hash of the state cookie's secret is the key; single use, 10 minutes.
 */
struct portail_oauth_state {
	char *provider;         /* the [provider NAME] */
	char *nonce;            /* the OpenID nonce sent (NULL for kinds without one) */
	char *verifier;         /* the PKCE code_verifier (NULL without PKCE) */
	char *return_to;        /* the allow-listed path to go to after, or NULL */
	int64_t expires;
};
void portail_oauth_state_clear(struct portail_oauth_state *s);   /* wipes nonce and verifier */
/* Adds a state (its hash) until expires; expired ones swept in the same transaction. */
portail_status portail_store_oauth_state_add(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], const struct portail_oauth_state *s,
    int64_t now, portail_error *err);
/* Takes a live state once: read and deleted in one statement; BAD_TICKET when unknown or expired. */
portail_status portail_store_oauth_state_take(portail_store *st,
    const unsigned char hash[PORTAIL_HASH_BYTES], int64_t now, struct portail_oauth_state *out,
    portail_error *err);

#endif
