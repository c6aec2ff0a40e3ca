/*
 * clientlimit.c — attempts per client address on the web's pre-login
 * forms (issue 14): sign-in, code request, code verify (the reset's
 * steps are those too). portail-web sends the address it determined
 * (the peer, or X-Forwarded-For's rightmost from a trusted proxy) as the
 * request's rhost; only the web peer's requests are counted (ops.c):
 * a local client (PAM, the CLI) has no address of its own.
 *
 * A fixed window per address: at most [daemon] client_attempts requests
 * in client_window seconds, counted whether they succeed or not (a
 * sign-in that succeeds tells as much as one that fails). The count is
 * per address, never per account, so the answer past it is the same for
 * an address with an account and without (DESIGN §2, enumeration).
 * IPv6 addresses are counted by their /64 (what one subscriber gets).
 *
 * The table is fixed (bounded memory, whatever the number of
 * addresses): a slot is picked by a keyed hash (SipHash, key random at
 * start, so that nobody can aim addresses at one slot) among
 * CLIENT_WAYS; when all are taken, the one cheapest to forget is reused:
 * a window that is over, else the fewest attempts, else the least
 * recently used. A flood of new addresses (one attempt each) pushes out
 * its own kind first, not an address at its limit; an attacker with as
 * many addresses at their limit as the table has slots can push counts
 * out, as with any bounded table.
 *
 * The same table counts code requests per local peer (issue 13: a uid
 * that is no web client, e.g. a PAM conversation or a script, asking
 * codes for random addresses; each costs a decoy entry, lib/decoy.h):
 * a slot's key starts with a kind byte, so a uid's slot and an
 * address's never meet. A uid at its limit holds far more attempts than
 * an address may make in its window, so a flood of addresses pushes out
 * addresses before it pushes out a limited uid.
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#define CLIENT_SLOTS 8192       /* a power of two */
#define CLIENT_WAYS 8

#define KEY_LEN 17              /* the kind byte, then 16 */

/* an address's web attempts, a uid's code requests, a root server's client's code requests */
enum { KIND_ADDRESS = 1, KIND_UID = 2, KIND_CODE_CLIENT = 3 };

struct slot {
	bool used;
	/* KIND_ADDRESS then IPv4 as ::ffff:a.b.c.d, IPv6 its /64; KIND_UID then the uid */
	unsigned char key[KEY_LEN];
	int64_t start;                  /* the window's first second */
	int64_t last;                   /* its last attempt */
	int window;                     /* its length (s): an address's and a uid's differ */
	int count;
};

static struct {
	pthread_mutex_t lock;
	bool keyed;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct slot s[CLIENT_SLOTS];
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* addr as the table keys it (after the kind byte); false when it is no address. */
static bool
key_of(const char *text, unsigned char out[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(out, 0, 16);
	if (text == NULL)
		return false;
	if (inet_pton(AF_INET, text, &a4) == 1) {
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return true;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		memcpy(out, &a6, 16);
		/* a mapped IPv4 stays whole; any other IPv6 by its /64 */
		if (!IN6_IS_ADDR_V4MAPPED(&a6))
			memset(out + 8, 0, 8);
		return true;
	}
	return false;
}

/*
 * Whether a is cheaper to forget than b: a free slot, then one whose
 * window is over, then the fewer attempts (an address that tried once
 * loses little; one at its limit keeps it), then the least recently used.
 */
static bool
cheaper(const struct slot *a, const struct slot *b, int64_t now)
{
	bool a_over = !a->used || now >= a->start + a->window || now < a->start;
	bool b_over = !b->used || now >= b->start + b->window || now < b->start;

	if (!a->used || !b->used)
		return !a->used && b->used;
	if (a_over != b_over)
		return a_over;
	if (a->count != b->count)
		return a->count < b->count;
	return a->last < b->last;
}

/* One attempt of the client (or peer) of key at now; see clientlimit_take. */
static bool
take(const unsigned char k[KEY_LEN], int64_t now, int limit, int window, int *retry_after)
{
	unsigned char h[crypto_shorthash_BYTES];
	struct slot *sl = NULL, *victim = NULL;
	size_t base;
	bool ok = true;

	pthread_mutex_lock(&table.lock);
	if (!table.keyed) {
		randombytes_buf(table.key, sizeof(table.key));
		table.keyed = true;
	}
	crypto_shorthash(h, k, KEY_LEN, table.key);
	memcpy(&base, h, sizeof(base));
	for (size_t i = 0; i < CLIENT_WAYS; i++) {
		struct slot *s = &table.s[(base + i) & (CLIENT_SLOTS - 1)];

		if (s->used && memcmp(s->key, k, KEY_LEN) == 0) {
			sl = s;
			break;
		}
		if (victim == NULL || cheaper(s, victim, now))
			victim = s;
	}
	if (sl == NULL) {
		sl = victim;
		memset(sl, 0, sizeof(*sl));
		sl->used = true;
		memcpy(sl->key, k, KEY_LEN);
		sl->start = now;
	}
	sl->last = now;
	sl->window = window;
	if (now >= sl->start + window || now < sl->start) {
		sl->start = now;
		sl->count = 0;
	}
	if (sl->count >= limit) {
		ok = false;
		*retry_after = (int)(sl->start + window - now);
	} else {
		sl->count++;
	}
	pthread_mutex_unlock(&table.lock);
	return ok;
}

bool
clientlimit_is_address(const char *addr)
{
	unsigned char k[16];

	return key_of(addr, k);
}

static bool
take_address(unsigned char kind, const char *addr, int64_t now, int limit, int window,
    int *retry_after)
{
	unsigned char k[KEY_LEN] = { kind };

	*retry_after = 0;
	if (limit <= 0 || !key_of(addr, k + 1))
		return true;
	return take(k, now, limit, window, retry_after);
}

bool
clientlimit_take(const char *addr, int64_t now, int limit, int window, int *retry_after)
{
	return take_address(KIND_ADDRESS, addr, now, limit, window, retry_after);
}

bool
clientlimit_take_code_client(const char *addr, int64_t now, int limit, int window,
    int *retry_after)
{
	return take_address(KIND_CODE_CLIENT, addr, now, limit, window, retry_after);
}

bool
clientlimit_take_uid(uid_t uid, int64_t now, int limit, int window, int *retry_after)
{
	unsigned char k[KEY_LEN] = { KIND_UID };
	uint64_t u = (uint64_t)uid;

	*retry_after = 0;
	if (limit <= 0)
		return true;
	memcpy(k + 1, &u, sizeof(u));
	return take(k, now, limit, window, retry_after);
}
