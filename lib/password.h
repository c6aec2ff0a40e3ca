/*
 * password.h — parents' passwords: the policy (DESIGN §2, NIST 800-63B)
 * and argon2id hashing (libsodium's crypto_pwhash_str).
 */
#ifndef PORTAIL_PASSWORD_H
#define PORTAIL_PASSWORD_H

#include <stdbool.h>

#include "config.h"

/*
 * Why a password was refused; each has a message in French and English
 * (portail_policy_message) that tells the parent what to do.
 */
enum portail_policy_reason {
	PORTAIL_POLICY_OK = 0,
	PORTAIL_POLICY_TOO_SHORT,
	PORTAIL_POLICY_TOO_LONG,
	PORTAIL_POLICY_MISMATCH,        /* confirmation differs */
	PORTAIL_POLICY_NOT_TEXT,        /* invalid UTF-8 or control characters */
	PORTAIL_POLICY_DICTIONARY,
	PORTAIL_POLICY_SIMPLE,          /* palindrome, repetitions, sequences */
	PORTAIL_POLICY_PERSONAL,        /* built from the address */
};

/*
 * The reason's word on the wire and in the log ("too_short", "dictionary"
 * …, doc/protocol.md); NULL for a value out of range.
 */
const char *portail_policy_reason_name(enum portail_policy_reason r);

/* The message for r, in French or English, into buf; returns buf. */
const char *portail_policy_message(enum portail_policy_reason r, bool english,
    const struct portail_password_config *c, char *buf, size_t len);

/*
 * Checks password (and its confirmation) for the parent whose address is
 * email. On success *nfc is the NFC-normalized password, sodium_malloc'd:
 * free it with portail_password_free. PORTAIL_ERR_MISMATCH or
 * PORTAIL_ERR_POLICY with *reason; PORTAIL_ERR_UNAVAILABLE when the
 * dictionary cannot be loaded (never a silent accept).
 */
portail_status portail_password_check(const struct portail_password_config *c,
    const char *email, const char *password, const char *confirmation,
    enum portail_policy_reason *reason, char **nfc, portail_error *err);
void portail_password_free(char *p);

/*
 * argon2id PHC string of the NFC form of password into out
 * (crypto_pwhash_STRBYTES); the normalized copy is wiped. PORTAIL_ERR_INVALID
 * when password is not UTF-8 text (it could never have been set).
 */
portail_status portail_password_hash(const struct portail_password_config *c,
    const char *password, char *out, portail_error *err);
/*
 * Verifies the NFC form of password against hash (constant time in the
 * password): 0 match, -1 no match. 1: the password matched only in the
 * form it was typed, not NFC (a hash stored by an older rehash on
 * sign-in): a match, which the caller should rehash. Normalized copies
 * are wiped.
 */
int portail_password_verify(const char *hash, const char *password);
/* True when hash was made with other parameters than the configured ones. */
bool portail_password_needs_rehash(const struct portail_password_config *c,
    const char *hash);

#endif
