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
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#define CLIENT_SLOTS 8192       /* a power of two */
#define CLIENT_WAYS 8

struct slot {
	bool used;
	unsigned char addr[16];         /* IPv4 as ::ffff:a.b.c.d; IPv6 its /64 */
	int64_t start;                  /* the window's first second */
	int64_t last;                   /* its last attempt */
	int count;
};

static struct {
	pthread_mutex_t lock;
	bool keyed;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct slot s[CLIENT_SLOTS];
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* addr as the table keys it; false when it is no address. */
static bool
key_of(const char *text, unsigned char out[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(out, 0, 16);
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
cheaper(const struct slot *a, const struct slot *b, int64_t now, int window)
{
	bool a_over = !a->used || now >= a->start + window || now < a->start;
	bool b_over = !b->used || now >= b->start + window || now < b->start;

	if (!a->used || !b->used)
		return !a->used && b->used;
	if (a_over != b_over)
		return a_over;
	if (a->count != b->count)
		return a->count < b->count;
	return a->last < b->last;
}

bool
clientlimit_take(const char *addr, int64_t now, int limit, int window, int *retry_after)
{
	unsigned char k[16], h[crypto_shorthash_BYTES];
	struct slot *sl = NULL, *victim = NULL;
	size_t base;
	bool ok = true;

	*retry_after = 0;
	if (limit <= 0 || addr == NULL || !key_of(addr, k))
		return true;
	pthread_mutex_lock(&table.lock);
	if (!table.keyed) {
		randombytes_buf(table.key, sizeof(table.key));
		table.keyed = true;
	}
	crypto_shorthash(h, k, sizeof(k), table.key);
	memcpy(&base, h, sizeof(base));
	for (size_t i = 0; i < CLIENT_WAYS; i++) {
		struct slot *s = &table.s[(base + i) & (CLIENT_SLOTS - 1)];

		if (s->used && memcmp(s->addr, k, sizeof(k)) == 0) {
			sl = s;
			break;
		}
		if (victim == NULL || cheaper(s, victim, now, window))
			victim = s;
	}
	if (sl == NULL) {
		sl = victim;
		memset(sl, 0, sizeof(*sl));
		sl->used = true;
		memcpy(sl->addr, k, sizeof(k));
		sl->start = now;
	}
	sl->last = now;
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
