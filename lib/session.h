/*
 * session.h — browser sessions (portail-web, issue 14): what makes one,
 * and when it dies.
 *
 * A session is minted by portaild itself, on a proof it checked (a
 * password, never an address alone); portail-web holds only its secret,
 * in the __Host-portail cookie, and asks portaild on every request. The
 * store keeps the secret's keyed hash (codes.h: "pts_" + 256 bits), never
 * the secret.
 *
 * A session dies at the first of: [web] session_idle seconds without a
 * use, [web] session_max seconds after it was made (the absolute
 * timeout, which no use extends), its sign-out, anything that revokes
 * every token of its account (store.h: password changed or reset,
 * disabled by an administrator), the account deleted or disabled, or
 * [web] max_sessions newer sign-ins of its account used since it was
 * last (the least recently used is signed out by the sign-in past the
 * limit, in the same write: Keycloak's "Deny new session: no, terminate
 * oldest" behaviour, by last use rather than by creation).
 *
 * The rules are pure functions of their arguments (as policy.h's), so
 * that the edges are tested without a clock; the rest applies them to
 * the store.
 */
#ifndef PORTAIL_SESSION_H
#define PORTAIL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "codes.h"
#include "key.h"
#include "store.h"

struct portail_session_rules {
	int idle;               /* seconds without a use; config.c: 60 .. 86400 */
	int max;                /* seconds from creation; config.c: 300 .. 2592000 */
	int max_sessions;       /* per account, the least recently used signed out past it; 0: no bound */
};

/* ---- the rules ----------------------------------------------------------------- */

/* The absolute end of a session made at created. */
int64_t portail_session_expires(const struct portail_session_rules *r, int64_t created);

/* Sessions last used at or before this time are dead at now (idle timeout). */
int64_t portail_session_seen_cutoff(const struct portail_session_rules *r, int64_t now);

/*
 * Is a session last used at last_seen, whose absolute end is expires,
 * live at now? Live up to the second before each timeout: dead from
 * last_seen + idle on, and from expires on.
 */
bool portail_session_live(const struct portail_session_rules *r, int64_t last_seen,
    int64_t expires, int64_t now);

/* ---- applied to the store -------------------------------------------------------- */

/* What the functions below borrow. */
struct portail_sessions {
	portail_store *store;
	const portail_key *key;
	struct portail_session_rules rules;
};

/*
 * A new session for the account of email, whose owner the caller has
 * just authenticated: secret (PORTAIL_SESSION_LEN + 1 bytes) is for the
 * cookie, shown once. previous (may be NULL or anything a browser sent):
 * the session the browser still had, revoked in the same write whoever's
 * it was (a fixed or planted session never outlives a sign-in). UNKNOWN
 * without account, DISABLED for a disabled one, INVALID for a bad address.
 */
portail_status portail_session_create(const struct portail_sessions *s, const char *email,
    const char *previous, int64_t now, char *secret, portail_error *err);

/*
 * The session whose secret a browser sent: OK with *acct (the caller
 * clears it) when it is live, its use recorded; REFUSED for anything else
 * (malformed, unknown, timed out, revoked, account disabled), one status
 * for all. UNAVAILABLE when the store is down.
 */
portail_status portail_session_check(const struct portail_sessions *s, const char *secret,
    int64_t now, struct portail_account *acct, portail_error *err);

/* Signs a session out: OK, or UNKNOWN when there was none (malformed included). */
portail_status portail_session_revoke(const struct portail_sessions *s, const char *secret,
    portail_error *err);

#endif
