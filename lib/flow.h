/*
 * flow.h — the parent's flows (DESIGN §1): sign-up with a mailed code,
 * forgotten password, sign-in, and the access check.
 *
 * A portail_flow ties the configuration, the store, the directory, the
 * mail queue and the key together; the daemon holds one and calls it
 * from its workers (thread-safe). Times come from the caller. Wherever
 * a flow below says UNAVAILABLE, it may say BUSY instead: the directory's
 * bulkhead turned the call away (gpi.h), an outage all the same, which
 * a daemon may count apart.
 *
 * No enumeration: code_request and social_link answer the same whatever
 * the address. For an address not on file (unknown, no child in a
 * subscribed school) nothing durable is written: its limits and a decoy
 * code live in bounded memory (decoy.h), so that code_verify and the
 * limits answer alike for every address too; an address with an account
 * already there for a sign-up gets a notice instead of a code.
 */
#ifndef PORTAIL_FLOW_H
#define PORTAIL_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "codes.h"
#include "config.h"
#include "gpi.h"
#include "key.h"
#include "mail.h"
#include "password.h"
#include "provider.h"
#include "store.h"

typedef struct portail_flow portail_flow;

#define PORTAIL_TICKET_LIFETIME 900     /* 15 minutes */

/* All borrowed; they must outlive the flow. mailq may be NULL (no mail). */
struct portail_flow_deps {
	const portail_config *cfg;
	portail_store *store;
	portail_gpi *gpi;
	portail_mailq *mailq;
	const portail_key *key;
	portail_providers *providers;   /* may be NULL: no social accounts */
};

portail_status portail_flow_new(const struct portail_flow_deps *deps,
    portail_flow **out, portail_error *err);
void portail_flow_free(portail_flow *f);

/*
 * "Obtenir un code de vérification" / "Obtenir un nouveau code".
 * purpose: "signup" or "reset". OK whatever the address (see above);
 * TOO_SOON (*wait seconds), RATE_LIMITED, INVALID (malformed address),
 * UNAVAILABLE (directory or store down). *sent (may be NULL): whether
 * anything was recorded and queued (an address on file), for the log
 * only. An address not on file writes nothing durable: its limits and a
 * decoy code live in bounded memory (decoy.h).
 */
portail_status portail_flow_code_request(portail_flow *f, const char *email,
    const char *purpose, const char *lang, int64_t now, int *wait, bool *sent,
    portail_error *err);

/*
 * "Vérifier le code". OK: ticket (PORTAIL_TICKET_LEN + 1 bytes) proves
 * the address for purpose, once, for 15 minutes. WRONG_CODE (*tries_left),
 * EXPIRED_CODE, TOO_MANY_TRIES, NO_CODE, INVALID (not shaped like a code).
 */
portail_status portail_flow_code_verify(portail_flow *f, const char *email,
    const char *purpose, const char *code, int64_t now, char *ticket, int *tries_left,
    portail_error *err);

/*
 * "Enregistrer" at sign-up: re-checks the directory, the password and its
 * confirmation, creates the account and consumes the ticket in one
 * transaction, mails a notice. *email gets the address (new string).
 * BAD_TICKET, UNKNOWN (no child in a subscribed school any more),
 * MISMATCH / POLICY (*reason), EXISTS, UNAVAILABLE.
 */
portail_status portail_flow_signup_finish(portail_flow *f, const char *ticket,
    const char *password, const char *confirmation, const char *lang, int64_t now,
    enum portail_policy_reason *reason, char **email, portail_error *err);

/*
 * "Enregistrer" after a forgotten password: sets it, clears failures and
 * lock, revokes tokens, mails a notice. Same errors as sign-up.
 */
portail_status portail_flow_reset_finish(portail_flow *f, const char *ticket,
    const char *password, const char *confirmation, const char *lang, int64_t now,
    enum portail_policy_reason *reason, char **email, portail_error *err);

/*
 * Sign-in with a password. OK; REFUSED (wrong password); UNKNOWN (no
 * account — at the cost of a real verification, so it takes as long);
 * LOCKED (*retry_after seconds); DISABLED; UNAVAILABLE. The attempt is
 * reserved in the store before the hash is checked
 * (portail_store_auth_reserve): however many arrive at once, at most
 * [password] max_failures passwords are verified before the lock.
 */
/* How many passwords were verified against an account's own hash (status). */
uint64_t portail_flow_verified(portail_flow *f);

/*
 * Microseconds the calling thread spent in argon2id (hashing or verifying,
 * the wait for a hashing slot excluded) since its last call; resets it.
 * portaild logs it per request (hash_ms=), so that a benchmark can take
 * the hash out of the very request it timed (bench/bench_pam).
 */
int64_t portail_flow_hash_us_take(void);

portail_status portail_flow_auth_password(portail_flow *f, const char *email,
    const char *password, int64_t now, int64_t *retry_after, portail_error *err);

/*
 * A parent changes the password, giving the old one (PAM's chauthtok):
 * the old one is checked like a sign-in (failures count, LOCKED…), then
 * the new one like at sign-up (MISMATCH / POLICY with *reason); tokens
 * are revoked and a notice mailed.
 */
portail_status portail_flow_change_password(portail_flow *f, const char *email,
    const char *old_password, const char *password, const char *confirmation, const char *lang,
    int64_t now, enum portail_policy_reason *reason, int64_t *retry_after, portail_error *err);

/*
 * The access check of every sign-in: OK (*grace true when it rests on a
 * positive check younger than [gpi] grace because the directory is
 * down); EXPIRED (no child in a subscribed school); DISABLED; UNKNOWN;
 * UNAVAILABLE.
 */
portail_status portail_flow_account_check(portail_flow *f, const char *email,
    int64_t now, bool *grace, portail_error *err);

/* ---- long-lived tokens ("rester connecté") -------------------------------------- */

/*
 * A new token for the account (the caller has authenticated the parent or
 * is an admin): token (PORTAIL_TOKEN_LEN + 1 bytes) is shown once, *id
 * names it for list and revoke. UNKNOWN, DISABLED, INVALID (label).
 */
portail_status portail_flow_token_issue(portail_flow *f, const char *email,
    const char *label, int64_t now, char *token, int64_t *id, portail_error *err);

/*
 * Checks a token: OK with *email (new, the account's address on record) when it is
 * known, unexpired, of the account's current epoch, the account enabled
 * and its access check good (a positive check younger than [gpi]
 * cache_timeout is reused); then its expiry slides ([tokens] lifetime,
 * never past max_age; written when it moved by a minute, or a tenth of
 * the lifetime if that is less, so last_used is that precise). When email is not NULL the token must be that
 * account's. *expires (when not NULL) gets the expiry after the slide.
 * REFUSED (unknown, expired, revoked, another account's),
 * DISABLED, EXPIRED (no child left), UNAVAILABLE.
 */
portail_status portail_flow_token_verify(portail_flow *f, const char *token,
    const char *email, int64_t now, char **account_email, int64_t *expires,
    portail_error *err);

/* ---- social accounts (DESIGN §1) --------------------------------------------------- */

enum portail_social_state {
	PORTAIL_SOCIAL_SIGNED_IN,       /* the identity is linked; access check passed */
	PORTAIL_SOCIAL_LINK,            /* not linked: link_ticket, ask the school address */
	PORTAIL_SOCIAL_LINKED,          /* linked now (created: with a new account) */
	PORTAIL_SOCIAL_CODE_SENT,       /* "if this address is the one on file, a code was sent" */
};

struct portail_social_result {
	enum portail_social_state state;
	char *email;                    /* SIGNED_IN, LINKED: the account's address */
	char *provider_email;           /* LINK: what the provider said, to prefill */
	char *provider;                 /* the [provider.NAME] */
	char *subject;                  /* social_begin: the provider's id for the person */
	int64_t provider_us;            /* social_begin: the provider's time, even on failure */
	bool created;                   /* LINKED: a new account, without a password */
	bool mailed;                    /* CODE_SENT: a code was queued (an address on file) */
	bool provider_vouched;          /* LINK: the provider vouches for provider_email */
	char link_ticket[PORTAIL_TICKET_LEN + 1];       /* LINK */
	char token[PORTAIL_TOKEN_LEN + 1];              /* SIGNED_IN, LINKED with a label */
	int64_t token_id;
};

void portail_social_result_clear(struct portail_social_result *r);

/*
 * "Se connecter avec…": the provider's access token. SIGNED_IN when
 * (provider, subject) is linked and the access check passes (with label,
 * a portail token too: "rester connecté"); else LINK with a link ticket
 * for 15 minutes. REFUSED (the provider's reason in err), UNAVAILABLE,
 * UNKNOWN (no such provider), DISABLED, EXPIRED.
 */
portail_status portail_flow_social_begin(portail_flow *f, const char *provider,
    const char *access_token, const char *label, int64_t now,
    struct portail_social_result *out, portail_error *err);

/*
 * The same with the provider's OpenID Connect ID token and the nonce sent
 * with the sign-in (portail_providers_identify_id_token): for the kinds
 * whose access tokens are not taken (microsoft, linkedin, oidc without
 * introspection_url). INVALID without both.
 */
portail_status portail_flow_social_begin_id_token(portail_flow *f,
    const char *provider, const char *id_token, const char *nonce, const char *label,
    int64_t now, struct portail_social_result *out, portail_error *err);

/*
 * "Complétez les informations suivantes": the school address for a link
 * ticket. LINKED when the provider vouches for exactly that address and it
 * has a child in a subscribed school; otherwise CODE_SENT, whatever the
 * address (a code is stored and mailed only when it is on file; else a
 * decoy code in memory, nothing durable). TOO_SOON (*wait),
 * RATE_LIMITED, INVALID, BAD_TICKET, EXISTS (already linked), UNAVAILABLE.
 */
portail_status portail_flow_social_link(portail_flow *f, const char *link_ticket,
    const char *email, const char *lang, const char *label, int64_t now,
    struct portail_social_result *out, int *wait, portail_error *err);

/*
 * code.verify with purpose "link": the code mailed for this link ticket
 * and address. OK: ticket, the proof social_finish takes, good only with
 * this link ticket. As portail_flow_code_verify, and BAD_TICKET.
 */
portail_status portail_flow_link_code_verify(portail_flow *f,
    const char *link_ticket, const char *email, const char *code, int64_t now, char *ticket,
    int *tries_left, portail_error *err);

/* Makes the link with the code's proof: LINKED. BAD_TICKET, EXISTS, UNKNOWN (no child left). */
portail_status portail_flow_social_finish(portail_flow *f, const char *link_ticket,
    const char *ticket, const char *label, int64_t now, struct portail_social_result *out,
    portail_error *err);

/* Removes the account's link with provider: UNKNOWN when there is none. */
portail_status portail_flow_social_unlink(portail_flow *f, const char *email,
    const char *provider, portail_error *err);

#endif
