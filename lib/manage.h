/*
 * manage.h — what may be done to an account besides the parent's flows
 * (flow.h): who may manage its tokens and social links, its tokens (list,
 * revoke), the admin's operations on accounts (list, show, disable,
 * enable, unlock, delete), and the store's periodic garbage collection.
 *
 * The rules live here; a front end (portaild) parses a request, calls
 * one of these, and builds the answer and the log line from the status
 * and the out-params. Times come from the caller. Out-params are set
 * only on success.
 *
 * Refusals and outages stay apart: INVALID (a malformed address),
 * UNKNOWN (no such account, or no such token), FORBIDDEN, and
 * UNAVAILABLE (the store cannot be reached).
 */
#ifndef PORTAIL_MANAGE_H
#define PORTAIL_MANAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "portail.h"
#include "store.h"

/*
 * Who may manage the account at email (its tokens, its social links):
 * the parent giving its password, checked like a sign-in
 * (portail_flow_auth_password: the failure counts, the lock applies), or
 * an admin giving none. admin: the caller vouches that the peer is one
 * (uid 0, [daemon] admin_group); read only when password is NULL. A
 * password that is given is checked, an admin's too.
 * OK; FORBIDDEN (no password and not an admin); otherwise the sign-in's
 * answer: REFUSED, UNKNOWN, LOCKED (*retry_after seconds), DISABLED,
 * UNAVAILABLE — which of these a peer may be told is the front end's
 * business (DESIGN §2, enumeration).
 */
portail_status portail_manage_owner(portail_flow *f, const char *email,
    const char *password, bool admin, int64_t now, int64_t *retry_after, portail_error *err);

/*
 * The account's live tokens (unexpired, of its current epoch), by id:
 * labels and dates, never a token. *out is an array of *n (NULL when
 * none) the caller clears (portail_token_clear) and frees. An address
 * without an account has none. INVALID, UNAVAILABLE.
 */
portail_status portail_manage_token_list(portail_store *st, const char *email,
    int64_t now, struct portail_token **out, size_t *n, portail_error *err);

/*
 * Revokes the account's token *id, or, id NULL, all of them (the epoch
 * bump: every token issued before dies). UNKNOWN (no such token of that
 * account; with id NULL, no such account), INVALID, UNAVAILABLE.
 */
portail_status portail_manage_token_revoke(portail_store *st, const char *email,
    const int64_t *id, int64_t now, portail_error *err);

/* ---- accounts (admin) ------------------------------------------------------ */

enum portail_manage_action {
	PORTAIL_MANAGE_SHOW,
	PORTAIL_MANAGE_DISABLE,         /* also revokes every token */
	PORTAIL_MANAGE_ENABLE,
	PORTAIL_MANAGE_UNLOCK,          /* failures and lock cleared */
	PORTAIL_MANAGE_DELETE,
};

/* "show", "disable", "enable", "unlock", "delete"; NULL for a value out of range. */
const char *portail_manage_action_name(enum portail_manage_action a);

/*
 * Every account, by address: *out is an array of *n (NULL when none) the
 * caller clears (portail_account_clear) and frees. UNAVAILABLE.
 */
portail_status portail_manage_account_list(portail_store *st,
    struct portail_account **out, size_t *n, portail_error *err);

/*
 * An admin's action on the account at email. For every action but
 * DELETE, *out is the account as the action left it (the caller clears
 * it with portail_account_clear) and *links the providers it is linked
 * with (a NULL-terminated vector, portail_manage_links_free; NULL when
 * they could not be read: the account's answer matters more); for DELETE
 * neither is touched. INVALID, UNKNOWN, UNAVAILABLE.
 */
portail_status portail_manage_account(portail_store *st, const char *email,
    enum portail_manage_action action, int64_t now, struct portail_account *out,
    char ***links, portail_error *err);

/* Frees a vector of portail_manage_account's links; NULL does nothing. */
void portail_manage_links_free(char **links);

/* How many seconds after now the account stays locked; 0 when it is not. */
int64_t portail_manage_locked_for(const struct portail_account *a, int64_t now);

/* ---- garbage collection -------------------------------------------------------- */

/* seconds: how often at most the store's garbage collection runs */
#define PORTAIL_MANAGE_GC_INTERVAL 3600

/*
 * The store's garbage collection (verifications and issuance records
 * older than a day: portail_store_gc), at most once per
 * PORTAIL_MANAGE_GC_INTERVAL among every caller that shares *last (when
 * it last ran, 0 before the first): the one caller that finds it due
 * runs it, the others return at once. *ran (may be NULL) says whether
 * this call ran it. OK when it was not due; the store's status when it ran.
 */
portail_status portail_manage_gc(portail_store *st, atomic_llong *last,
    int64_t now, bool *ran, portail_error *err);

#endif
