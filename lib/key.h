/*
 * key.h — the server key and what is derived from it.
 *
 * [security] key_file holds 32 random bytes (mode 0600, owned by the
 * daemon's user). Subkeys are derived with crypto_kdf, one per use, so
 * that a hash of one kind can never be taken for another: codes,
 * tickets, tokens. Codes, tickets and tokens are stored only as keyed
 * BLAKE2b hashes (crypto_generichash with the subkey).
 */
#ifndef PORTAIL_KEY_H
#define PORTAIL_KEY_H

#include <stddef.h>
#include <sys/types.h>

#include "portail.h"

#define PORTAIL_KEY_BYTES 32
#define PORTAIL_HASH_BYTES 32

typedef struct portail_key portail_key;

enum portail_key_use {
	PORTAIL_KEY_CODES = 1,
	PORTAIL_KEY_TICKETS = 2,
	PORTAIL_KEY_TOKENS = 3,
	PORTAIL_KEY_MAIL = 4,           /* seals the codes of queued mail (mail_queue) */
};

/* What portail_key_seal adds: a random nonce and the MAC (crypto_secretbox). */
#define PORTAIL_SEAL_OVERHEAD 40

/*
 * Creates path with 32 random bytes, mode 0600, owned by uid:gid (-1:
 * unchanged). PORTAIL_OK without touching anything when it exists.
 */
portail_status portail_key_create(const char *path, uid_t uid, gid_t gid,
    portail_error *err);

/* Loads the key (refusing a file readable by group or others, or not 32 bytes). */
portail_status portail_key_load(const char *path, portail_key **out,
    portail_error *err);
void portail_key_free(portail_key *key);

/*
 * out = BLAKE2b-256 keyed with the subkey of use, over the parts, each
 * preceded by its length (so that ("ab","c") and ("a","bc") differ).
 */
void portail_key_hash(const portail_key *key, enum portail_key_use use,
    unsigned char out[PORTAIL_HASH_BYTES], const char *const *parts, size_t n_parts);

/*
 * out (len + PORTAIL_SEAL_OVERHEAD bytes) = nonce || crypto_secretbox_easy
 * of m under the subkey of use: for a secret that must rest on disk
 * (a queued mail's code), readable only with the server key.
 */
void portail_key_seal(const portail_key *key, enum portail_key_use use,
    const unsigned char *m, size_t len, unsigned char *out);
/*
 * The reverse: out (len - PORTAIL_SEAL_OVERHEAD bytes). PORTAIL_ERR_INVALID
 * when it is too short or was not sealed with this key and use.
 */
portail_status portail_key_open(const portail_key *key, enum portail_key_use use,
    const unsigned char *c, size_t len, unsigned char *out);

#endif
