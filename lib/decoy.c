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
	uint8_t tries[N_PURPOSES];
	uint32_t expires[N_PURPOSES];   /* decoy code, 0 none */
};

struct portail_decoy {
	pthread_mutex_t lock;
	unsigned char hkey[crypto_generichash_KEYBYTES];
	struct slot *slots;
};

portail_status
portail_decoy_new(portail_decoy **out, portail_error *err)
{
	portail_decoy *d;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->slots = calloc(PORTAIL_DECOY_ENTRIES, sizeof(*d->slots))) == NULL) {
		free(d);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
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

/* Issues in the day before now, and the last one (0 none). */
static int
count_day(const struct slot *s, int64_t now, int64_t *last)
{
	int n = 0;

	*last = 0;
	for (int i = 0; i < PORTAIL_DECOY_TIMES; i++) {
		if (s->times[i] != 0 && portail_policy_in_day(s->times[i], now)) {
			n++;
			if (s->times[i] > *last)
				*last = s->times[i];
		}
	}
	if (s->spill_until > now)
		n += s->spill;
	return n;
}

static bool
live_code(const struct slot *s, int64_t now)
{
	for (int p = 0; p < N_PURPOSES; p++)
		if (s->expires[p] > now && s->tries[p] > 0)
			return true;
	return false;
}

/* The slot for tag in set: its own, else a free one, else the one that matters least. */
static struct slot *
find(portail_decoy *d, const unsigned char tag[TAG_BYTES], size_t set, int64_t now,
    bool *found)
{
	struct slot *base = d->slots + set * WAYS, *victim = NULL;
	int v_count = 0;
	int64_t v_last = 0;
	bool v_live = false;

	*found = false;
	for (int w = 0; w < WAYS; w++) {
		if (base[w].in_use && memcmp(base[w].tag, tag, TAG_BYTES) == 0) {
			*found = true;
			return &base[w];
		}
	}
	for (int w = 0; w < WAYS; w++) {
		struct slot *s = &base[w];
		int64_t last;
		int n;
		bool live;

		if (!s->in_use)
			return s;
		n = count_day(s, now, &last);
		live = live_code(s, now);
		if (victim == NULL || n < v_count || (n == v_count && !live && v_live) ||
		    (n == v_count && live == v_live && last < v_last)) {
			victim = s;
			v_count = n;
			v_last = last;
			v_live = live;
		}
	}
	return victim;
}

static void
record_issue(struct slot *s, int64_t now)
{
	int oldest = 0;

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
	s->spill_until = s->times[oldest] + PORTAIL_POLICY_DAY;
	s->times[oldest] = (uint32_t)now;
}

portail_status
portail_decoy_issue(portail_decoy *d, const char *key, const char *purpose, int64_t now,
    const struct portail_code_rules *rules, bool record, bool decoy, int *wait,
    portail_error *err)
{
	unsigned char tag[TAG_BYTES];
	struct slot *s;
	size_t set;
	int64_t last = 0;
	int today = 0;
	bool found;
	portail_status r = PORTAIL_OK;

	(void)err;
	tag_of(d, key, tag, &set);
	pthread_mutex_lock(&d->lock);
	s = find(d, tag, set, now, &found);
	if (found)
		today = count_day(s, now, &last);
	/* the store's rules: the one policy answers both (policy.c) */
	if ((r = portail_policy_code_issue(rules, now, last, today, wait)) != PORTAIL_OK || !record)
		goto out;
	if (!found) {
		memset(s, 0, sizeof(*s));
		memcpy(s->tag, tag, TAG_BYTES);
		s->in_use = 1;
	}
	record_issue(s, now);
	{
		int p = purpose_index(purpose);

		/* a new code replaces the old one; an address on file has its code in the store */
		s->expires[p] = decoy ? (uint32_t)(now + rules->lifetime) : 0;
		s->tries[p] = decoy ? (uint8_t)rules->max_attempts : 0;
	}
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
		if (s->expires[p] == 0 || s->expires[p] < portail_policy_day_start(now))
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
