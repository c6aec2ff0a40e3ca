/*
 * codes.h — verification codes and tickets.
 *
 * A code is [codes] length characters drawn uniformly from [codes]
 * alphabet (randombytes_uniform, no modulo bias). Parents type it
 * case-insensitively where the alphabet allows, with blanks around it
 * ignored. It is stored only as a keyed hash bound to the address and
 * the purpose, so a code for one address or purpose proves nothing for
 * another. A ticket (returned by a good code) is 256 random bits,
 * base64url with the prefix "ptt_", stored only as a keyed hash.
 */
#ifndef PORTAIL_CODES_H
#define PORTAIL_CODES_H

#include "config.h"
#include "key.h"

#define PORTAIL_CODE_MAX 32
#define PORTAIL_TICKET_LEN 47   /* "ptt_" + 43 base64url characters */

/* Fills code (PORTAIL_CODE_MAX + 1 bytes) with a new code. */
void portail_code_generate(const struct portail_codes_config *c, char *code);

/*
 * Normalizes what a parent typed into out (PORTAIL_CODE_MAX + 1 bytes):
 * blanks around it removed, each letter put in the case the alphabet
 * uses. PORTAIL_ERR_INVALID when the result cannot be a code (wrong
 * length, a character outside the alphabet).
 */
portail_status portail_code_normalize(const struct portail_codes_config *c,
    const char *typed, char *out);

/* The stored form of a code for (address key, purpose). */
void portail_code_hash(const portail_key *key, const char *email_key,
    const char *purpose, const char *code, unsigned char out[PORTAIL_HASH_BYTES]);

/* A new ticket (PORTAIL_TICKET_LEN + 1 bytes) and its stored form. */
void portail_ticket_generate(const portail_key *key, char *ticket,
    unsigned char hash[PORTAIL_HASH_BYTES]);
/* The stored form of a ticket the client sent; INVALID when malformed. */
portail_status portail_ticket_hash(const portail_key *key, const char *ticket,
    unsigned char hash[PORTAIL_HASH_BYTES]);

/*
 * Long-lived tokens ("rester connecté"): "ptk_" + 256 random bits in
 * base64url, shown once, stored only as a keyed hash (the tokens subkey).
 */
#define PORTAIL_TOKEN_LEN 47
void portail_token_generate(const portail_key *key, char *token,
    unsigned char hash[PORTAIL_HASH_BYTES]);
portail_status portail_token_hash(const portail_key *key, const char *token,
    unsigned char hash[PORTAIL_HASH_BYTES]);

/*
 * Browser sessions (session.h): "pts_" + 256 random bits in base64url,
 * the cookie's value, stored only as a keyed hash (the tokens subkey,
 * told apart from tokens by the prefix, which is hashed too).
 */
#define PORTAIL_SESSION_LEN 47
void portail_session_secret_generate(const portail_key *key, char *secret,
    unsigned char hash[PORTAIL_HASH_BYTES]);
portail_status portail_session_secret_hash(const portail_key *key, const char *secret,
    unsigned char hash[PORTAIL_HASH_BYTES]);

#endif
