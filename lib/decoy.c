/* decoy.c — code requests for addresses not on file; see decoy.h. */
#include "decoy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define WAYS 4
#define SETS (PORTAIL_DECOY_ENTRIES / WAYS)
#define TAG_BYTES 8

enum { P_SIGNUP, P_RESET, P_LINK, N_PURPOSES };

struct slot {
	unsigned char tag[TAG_BYTES];   /* keyed hash of the address key; used: in_use */
	uint32_t times[PORTAIL_DECOY_TIMES];    /* issue times, 0 none (epoch seconds) */
	uint32_t spill_until;           /* older issues overwritten in the ring count until then */
	uint16_t spill;
	uint8_t in_use;
	uint8_t decoy;                  /* bit p: expires[p] is a decoy code's (verify answers) */
	uint8_t tries[N_PURPOSES];
	uint32_t expires[N_PURPOSES];   /* last code's expiry, 0 none, decoy or not */
};

/*
 * What the evicted entries of a set held, merged so that it is at least
 * each of them: times sorted newest first, each the largest of the
 * evicted entries' same-rank times. Its count in any sliding day and its
 * last issue are then at least any evicted entry's (decoy.h).
 */
struct ghost {
	uint32_t times[PORTAIL_DECOY_TIMES];
	uint32_t spill_until;
	uint16_t spill;
};

struct portail_decoy {
	pthread_mutex_t lock;
	unsigned char hkey[crypto_generichash_KEYBYTES];
	struct slot *slots;
	struct ghost *ghosts;
};

portail_status
portail_decoy_new(portail_decoy **out, const unsigned char *seed, portail_error *err)
{
	portail_decoy *d;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->slots = calloc(PORTAIL_DECOY_ENTRIES, sizeof(*d->slots))) == NULL ||
	    (d->ghosts = calloc(SETS, sizeof(*d->ghosts))) == NULL) {
		if (d != NULL)
			free(d->slots);
		free(d);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	if (seed != NULL)
		memcpy(d->hkey, seed, sizeof(d->hkey));
	else
		randombytes_buf(d->hkey, sizeof(d->hkey));
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return PORTAIL_OK;
}

void
portail_decoy_free(portail_decoy *d)
{
	if (d == NULL)
		return;
	sodium_memzero(d->hkey, sizeof(d->hkey));
	sodium_memzero(d->slots, PORTAIL_DECOY_ENTRIES * sizeof(*d->slots));
	free(d->slots);
	sodium_memzero(d->ghosts, SETS * sizeof(*d->ghosts));
	free(d->ghosts);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int
purpose_index(const char *purpose)
{
	return strcmp(purpose, "reset") == 0 ? P_RESET : strcmp(purpose, "link") == 0 ? P_LINK :
	    P_SIGNUP;
}

static void
tag_of(const portail_decoy *d, const char *key, unsigned char tag[TAG_BYTES], size_t *set)
{
	unsigned char h[16];
	uint64_t v = 0;

	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), d->hkey,
	    sizeof(d->hkey));
	memcpy(tag, h, TAG_BYTES);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[8 + i];
	*set = (size_t)(v % SETS);
}

/* Issues in the day before now in times (and spill), and the last one (0 none). */
static int
count_day(const uint32_t times[PORTAIL_DECOY_TIMES], uint32_t spill_until, uint16_t spill,
    int64_t now, int64_t *last)
{
	int n = 0;

	*last = 0;
	for (int i = 0; i < PORTAIL_DECOY_TIMES; i++) {
		if (times[i] != 0 && portail_policy_in_day(times[i], now)) {
			n++;
			if (times[i] > *last)
				*last = times[i];
		}
	}
	if (spill_until > now)
		n += spill;
	return n;
}

/* Whether a code issued to the slot's address is live (a decoy or not: both alike). */
static bool
live_code(const struct slot *s, int64_t now)
{
	for (int p = 0; p < N_PURPOSES; p++)
		if (s->expires[p] > now)
			return true;
	return false;
}

static struct slot *
lookup(portail_decoy *d, const unsigned char tag[TAG_BYTES], size_t set)
{
	struct slot *base = d->slots + set * WAYS;

	for (int w = 0; w < WAYS; w++)
		if (base[w].in_use && memcmp(base[w].tag, tag, TAG_BYTES) == 0)
			return &base[w];
	return NULL;
}

/*
 * The slot a new address of set takes: a free one, else the one that
 * matters least (fewest issues in the day, then no live code, then the
 * oldest last issue). Only what an address on file and one not on file
 * share decides, so that which one is evicted never tells them apart.
 */
static struct slot *
victim(portail_decoy *d, size_t set, int64_t now)
{
	struct slot *base = d->slots + set * WAYS, *v = NULL;
	int v_count = 0;
	int64_t v_last = 0;
	bool v_live = false;

	for (int w = 0; w < WAYS; w++) {
		struct slot *s = &base[w];
		int64_t last;
		int n;
		bool live;

		if (!s->in_use)
			return s;
		n = count_day(s->times, s->spill_until, s->spill, now, &last);
		live = live_code(s, now);
		if (v == NULL || n < v_count || (n == v_count && !live && v_live) ||
		    (n == v_count && live == v_live && last < v_last)) {
			v = s;
			v_count = n;
			v_last = last;
			v_live = live;
		}
	}
	return v;
}

/* Merges an evicted slot's issues into its set's ghost (struct ghost). */
static void
haunt(struct ghost *g, const struct slot *s)
{
	uint32_t t[PORTAIL_DECOY_TIMES];

	memcpy(t, s->times, sizeof(t));
	for (int i = 1; i < PORTAIL_DECOY_TIMES; i++)         /* newest first */
		for (int j = i; j > 0 && t[j] > t[j - 1]; j--) {
			uint32_t x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	for (int i = 0; i < PORTAIL_DECOY_TIMES; i++)
		if (t[i] > g->times[i])
			g->times[i] = t[i];
	if (s->spill_until > g->spill_until)
		g->spill_until = s->spill_until;
	if (s->spill > g->spill)
		g->spill = s->spill;
}

static void
record_issue(struct slot *s, int64_t now)
{
	int oldest = 0;
	uint32_t until;

	for (int i = 0; i < PORTAIL_DECOY_TIMES; i++) {
		if (s->times[i] == 0 || !portail_policy_in_day(s->times[i], now)) {
			s->times[i] = (uint32_t)now;
			return;
		}
		if (s->times[i] < s->times[oldest])
			oldest = i;
	}
	/* the ring is full of today's issues: the oldest is still counted */
	if (s->spill_until <= now)
		s->spill = 0;
	if (s->spill < UINT16_MAX)
		s->spill++;
	until = s->times[oldest] + PORTAIL_POLICY_DAY;
	if (until > s->spill_until)
		s->spill_until = until;
	s->times[oldest] = (uint32_t)now;
}

portail_status
portail_decoy_issue(portail_decoy *d, const char *key, const char *purpose, int64_t now,
    const struct portail_code_rules *rules, bool record, bool decoy, int *wait,
    portail_error *err)
{
	unsigned char tag[TAG_BYTES];
	struct slot *s;
	struct ghost *g;
	size_t set;
	int64_t last = 0;
	int today, p = purpose_index(purpose);
	portail_status r = PORTAIL_OK;

	(void)err;
	tag_of(d, key, tag, &set);
	g = &d->ghosts[set];
	pthread_mutex_lock(&d->lock);
	/* an address not in the table may have been evicted: its set's ghost answers */
	if ((s = lookup(d, tag, set)) != NULL)
		today = count_day(s->times, s->spill_until, s->spill, now, &last);
	else
		today = count_day(g->times, g->spill_until, g->spill, now, &last);
	/* the store's rules: the one policy answers both (policy.c) */
	r = portail_policy_code_issue(rules, now, last, today, wait);
	/* an address on file is recorded whatever the table says: the store issued */
	if (!record || (r != PORTAIL_OK && decoy))
		goto out;
	if (s == NULL) {
		s = victim(d, set, now);
		if (s->in_use)
			haunt(g, s);
		memset(s, 0, sizeof(*s));
		memcpy(s->tag, tag, TAG_BYTES);
		s->in_use = 1;
		/* what this address may have held before it was evicted */
		memcpy(s->times, g->times, sizeof(s->times));
		s->spill_until = g->spill_until;
		s->spill = g->spill;
	}
	record_issue(s, now);
	/* a new code replaces the old one; an address on file has its code in the store */
	s->expires[p] = (uint32_t)(now + rules->lifetime);
	s->tries[p] = decoy ? (uint8_t)rules->max_attempts : 0;
	if (decoy)
		s->decoy |= (uint8_t)(1u << p);
	else
		s->decoy &= (uint8_t)~(1u << p);
out:
	pthread_mutex_unlock(&d->lock);
	sodium_memzero(tag, sizeof(tag));
	return r;
}

portail_status
portail_decoy_verify(portail_decoy *d, const char *key, const char *purpose, int64_t now,
    int *tries_left)
{
	unsigned char tag[TAG_BYTES];
	struct slot *base;
	size_t set;
	int p = purpose_index(purpose);
	portail_status r = PORTAIL_ERR_NO_CODE;

	tag_of(d, key, tag, &set);
	base = d->slots + set * WAYS;
	pthread_mutex_lock(&d->lock);
	for (int w = 0; w < WAYS; w++) {
		struct slot *s = &base[w];

		if (!s->in_use || memcmp(s->tag, tag, TAG_BYTES) != 0)
			continue;
		/* the store's gc drops a verification the sliding day no longer counts */
		if (!(s->decoy & (1u << p)) || s->expires[p] < portail_policy_day_start(now))
			break;
		if ((r = portail_policy_code_check(s->tries[p], s->expires[p], now)) == PORTAIL_OK) {
			s->tries[p]--;
			*tries_left = s->tries[p];
			r = portail_policy_code_wrong(*tries_left);
		}
		break;
	}
	pthread_mutex_unlock(&d->lock);
	sodium_memzero(tag, sizeof(tag));
	return r;
}
