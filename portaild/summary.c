/*
 * summary.c — what a flood repeats is logged one line per peer (uid) and
 * kind per minute, with its count, never once per request (issue 13: one
 * line per refused request made a 108 MB log of 51,568 requests).
 *
 * The first of a kind from a uid is logged at once (count=1: the admin
 * sees a flood begin); the ones after it within the minute are counted
 * and logged together when the minute is over (summary_flush, from the
 * event loop), or when the daemon stops. The table is fixed (bounded
 * memory, whatever the number of uids); a uid pushed out of it has its
 * count logged first, so the counts of the lines always add up to the
 * requests. The minute is on the daemon's clock (daemon_now), which a
 * test can move.
 */
#include "daemon.h"

#include <pthread.h>
#include <stdbool.h>
#include <syslog.h>

#define SUMMARY_SLOTS 256
#define SUMMARY_PERIOD 60       /* seconds */

static const struct {
	const char *op;         /* "op=NAME " or "" */
	const char *result;
	const char *why;
} kinds[SUMMARY_KINDS] = {
	[SUMMARY_BUSY] = { "", "busy",
		"too many requests waiting: [daemon] max_queued_per_peer, max_queued" },
	[SUMMARY_CONN_PEER] = { "", "connection_refused",
		"its connections all busy: [daemon] max_connections_per_peer" },
	[SUMMARY_CONN_ALL] = { "", "connection_refused",
		"all connections busy: [daemon] max_connections" },
	[SUMMARY_DIRECTORY_BUSY] = { "", "unavailable reason=directory_busy",
		"directory busy: its calls all taken, [gpi] max_workers, connections" },
	[SUMMARY_CODE_REQUEST] = { "op=code.request ", "summary",
		"requests that sent nothing or were refused by the code limits" },
	[SUMMARY_SOCIAL_LINK] = { "op=social.link ", "summary",
		"links that sent no code or were refused by the code limits" },
	[SUMMARY_CLIENT_LIMITED] = { "", "rate_limited reason=client_limited",
		"web sign-ins and codes past a client address's [daemon] client_attempts" },
	[SUMMARY_PEER_LIMITED] = { "", "rate_limited reason=peer_limited",
		"code requests past the peer's [daemon] code_requests_per_minute" },
};

struct slot {
	bool used;
	enum summary_kind kind;
	uid_t uid;
	int64_t noted;          /* daemon_now() of its last line */
	unsigned long count;    /* since, not logged yet */
};

static struct {
	pthread_mutex_t lock;
	struct slot s[SUMMARY_SLOTS];
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Logs sl's count (when any) and starts its minute at now; under table.lock. */
static void
slot_log(struct slot *sl, int64_t now)
{
	if (sl->count > 0)
		log_msg(LOG_WARNING, "%suid=%u result=%s count=%lu (%s; in the last minute)",
		    kinds[sl->kind].op, (unsigned)sl->uid, kinds[sl->kind].result, sl->count,
		    kinds[sl->kind].why);
	sl->count = 0;
	sl->noted = now;
}

/*
 * The slot of (uid, kind), or a free one, or the one noted longest ago
 * (its count logged first); under table.lock.
 */
static struct slot *
slot_find(uid_t uid, enum summary_kind kind, int64_t now)
{
	struct slot *free_sl = NULL, *oldest = NULL;

	for (int i = 0; i < SUMMARY_SLOTS; i++) {
		struct slot *sl = &table.s[i];

		if (!sl->used) {
			if (free_sl == NULL)
				free_sl = sl;
			continue;
		}
		if (sl->uid == uid && sl->kind == kind)
			return sl;
		if (oldest == NULL || sl->noted < oldest->noted)
			oldest = sl;
	}
	if (free_sl == NULL) {
		free_sl = oldest;
		slot_log(free_sl, now);
	}
	*free_sl = (struct slot){ .used = true, .kind = kind, .uid = uid };
	return free_sl;
}

void
summary_note(uid_t uid, enum summary_kind kind)
{
	int64_t now = daemon_now();
	struct slot *sl;
	bool first;

	if (kind <= SUMMARY_NONE || kind >= SUMMARY_KINDS)
		return;
	pthread_mutex_lock(&table.lock);
	sl = slot_find(uid, kind, now);
	first = sl->noted == 0;
	sl->count++;
	if (first || now - sl->noted >= SUMMARY_PERIOD || now < sl->noted)
		slot_log(sl, now);
	pthread_mutex_unlock(&table.lock);
}

void
summary_flush(bool all)
{
	int64_t now = daemon_now();

	pthread_mutex_lock(&table.lock);
	for (int i = 0; i < SUMMARY_SLOTS; i++) {
		struct slot *sl = &table.s[i];
		bool over = now - sl->noted >= SUMMARY_PERIOD || now < sl->noted;

		if (!sl->used || !(all || over))
			continue;
		if (sl->count > 0)
			slot_log(sl, now);
		else if (over)
			sl->used = false;       /* a quiet minute: forgotten */
	}
	pthread_mutex_unlock(&table.lock);
}
