/* key.c — the server key; see key.h. */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#include <sodium.h>

struct portail_key {
	/* sodium_malloc'd: guarded pages, locked, wiped on free */
	unsigned char sub[5][crypto_generichash_KEYBYTES];
};

/* crypto_kdf contexts are 8 bytes. */
_Static_assert(PORTAIL_SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
    "seal overhead");
_Static_assert(crypto_secretbox_KEYBYTES == crypto_generichash_KEYBYTES, "subkey size");

static const char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "portail1";

portail_status
portail_key_create(const char *path, uid_t uid, gid_t gid, portail_error *err)
{
	unsigned char k[PORTAIL_KEY_BYTES];
	int fd;
	portail_status r = PORTAIL_ERR_IO;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return PORTAIL_OK;
	if (fd < 0)
		return portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", path, strerror(errno));
	randombytes_buf(k, sizeof(k));
	if (write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) != 0) {
		r = portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) != 0) {
		r = portail_error_set(err, PORTAIL_ERR_IO, "chown %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	r = PORTAIL_OK;
out:
	sodium_memzero(k, sizeof(k));
	return r;
}

portail_status
portail_key_load(const char *path, portail_key **out, portail_error *err)
{
	unsigned char master[PORTAIL_KEY_BYTES + 1];
	portail_key *key = NULL;
	ssize_t n;
	int fd;
	portail_status r = PORTAIL_ERR_CONFIG;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	if ((r = pt_open_secret(path, &fd, err)) != PORTAIL_OK) {
		if (r == PORTAIL_ERR_IO && err != NULL)
			strncat(err->message, " (create it with: portail init)",
			    sizeof(err->message) - strlen(err->message) - 1);
		return PORTAIL_ERR_CONFIG;
	}
	n = read(fd, master, sizeof(master));
	if (n != PORTAIL_KEY_BYTES) {
		r = portail_error_set(err, PORTAIL_ERR_CONFIG, "%s: not a %d-byte key", path,
		    PORTAIL_KEY_BYTES);
		goto out;
	}
	if ((key = sodium_malloc(sizeof(*key))) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int use = 1; use <= 4; use++)
		crypto_kdf_derive_from_key(key->sub[use], sizeof(key->sub[use]), (uint64_t)use,
		    kdf_context, master);
	sodium_mprotect_readonly(key);
	*out = key;
	r = PORTAIL_OK;
out:
	sodium_memzero(master, sizeof(master));
	close(fd);
	return r;
}

void
portail_key_free(portail_key *key)
{
	if (key != NULL)
		sodium_free(key);       /* wipes */
}

void
portail_key_hash(const portail_key *key, enum portail_key_use use,
    unsigned char out[PORTAIL_HASH_BYTES], const char *const *parts, size_t n_parts)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key->sub[use], sizeof(key->sub[use]), PORTAIL_HASH_BYTES);
	for (size_t i = 0; i < n_parts; i++) {
		uint64_t len = strlen(parts[i]);
		unsigned char le[8];

		for (int b = 0; b < 8; b++)
			le[b] = (unsigned char)(len >> (8 * b));
		crypto_generichash_update(&st, le, sizeof(le));
		crypto_generichash_update(&st, (const unsigned char *)parts[i], len);
	}
	crypto_generichash_final(&st, out, PORTAIL_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

void
portail_key_seal(const portail_key *key, enum portail_key_use use, const unsigned char *m,
    size_t len, unsigned char *out)
{
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, m, len, out, key->sub[use]);
}

portail_status
portail_key_open(const portail_key *key, enum portail_key_use use, const unsigned char *c,
    size_t len, unsigned char *out)
{
	if (len < PORTAIL_SEAL_OVERHEAD ||
	    crypto_secretbox_open_easy(out, c + crypto_secretbox_NONCEBYTES,
	    len - crypto_secretbox_NONCEBYTES, c, key->sub[use]) != 0)
		return PORTAIL_ERR_INVALID;
	return PORTAIL_OK;
}
