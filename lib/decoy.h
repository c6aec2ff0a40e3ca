/*
 * decoy.h — code requests for addresses not on file, in bounded memory.
 *
 * A code asked for an address that has nothing on file (no account for a
 * reset, no GPI record and no account for a sign-up, no child in a
 * subscribed school for a social account's link) sends nothing and
 * must write nothing durable (issue 13: 51,568 such requests grew the
 * store by 63 MB), yet must be answered exactly as one for an address on
 * file (DESIGN §2, enumeration): the same "too soon" and "too many
 * today" answers under the same rules, and a later code.verify answered
 * like a wrong code until the decoy code would have expired.
 *
 * State lives in a fixed table (PORTAIL_DECOY_ENTRIES slots, about 12
 * MB): 4-way sets chosen by a keyed BLAKE2b of the address key (the key
 * is random per process, so an attacker cannot aim at a set), each slot
 * holding the last PORTAIL_DECOY_TIMES issue times and the decoy code's
 * expiry and tries per purpose. Addresses on file are mirrored into the
 * same table (issue times only, no decoy code), so that a full table
 * treats both kinds alike. A new address takes a free slot, else the
 * slot of its set that matters least: fewest issues in the last day,
 * then no live decoy code, then the oldest last issue.
 *
 * Bound: an attacker cycling random addresses pushes a given address out
 * only after about PORTAIL_DECOY_ENTRIES other addresses landed in the
 * table (131,072 requests, ~40 s at the 3,400/s measured in issue 13),
 * and only if those hold at least as many issues today; until then every
 * answer is the one an address on file gets. State is lost on a restart
 * (an attacker cannot restart the daemon).
 *
 * Thread-safe (one mutex).
 */
#ifndef PORTAIL_DECOY_H
#define PORTAIL_DECOY_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "portail.h"

#define PORTAIL_DECOY_ENTRIES 131072
#define PORTAIL_DECOY_TIMES 16

typedef struct portail_decoy portail_decoy;

portail_status portail_decoy_new(portail_decoy **out, portail_error *err);
void portail_decoy_free(portail_decoy *d);

/*
 * The rate limits of portail_store_code_issue for key, from the table:
 * portail_policy_code_issue's answer (TOO_SOON with *wait, RATE_LIMITED,
 * or OK) for the issues the table holds in the sliding day. With record, an OK is recorded
 * as an issue at now; with decoy too (an address not on file), a decoy
 * code for purpose ("signup", "reset" or "link") is set, valid rules->lifetime
 * with rules->max_attempts tries. Past PORTAIL_DECOY_TIMES issues in a
 * day the count is approximate (the older ones are counted until the
 * newest of them is a day old).
 */
portail_status portail_decoy_issue(portail_decoy *d, const char *key,
    const char *purpose, int64_t now, const struct portail_code_rules *rules, bool record,
    bool decoy, int *wait, portail_error *err);

/*
 * A code.verify for key with no verification in the store: NO_CODE when
 * no decoy code was set (or it is a day past its expiry, as the store's
 * gc would have it), else what the store answers for a wrong code:
 * portail_policy_code_check's refusal (TOO_MANY_TRIES, EXPIRED_CODE), or
 * one try used and portail_policy_code_wrong's answer (WRONG_CODE with
 * *tries_left, TOO_MANY_TRIES).
 */
portail_status portail_decoy_verify(portail_decoy *d, const char *key,
    const char *purpose, int64_t now, int *tries_left);

#endif
