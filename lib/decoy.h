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
 * MB, plus a 2.4 MB ghost per set): 4-way sets chosen by a keyed BLAKE2b
 * of the address key (the key is random per process, so an attacker
 * cannot aim at a set), each slot holding the last PORTAIL_DECOY_TIMES
 * issue times and the last code's expiry per purpose, with a decoy
 * code's tries. Addresses on file are mirrored into the same table
 * (issue times and expiry, no decoy code), so that a full table treats
 * both kinds alike. A new address takes a free slot, else the slot of
 * its set that matters least: fewest issues in the last day, then no
 * live code, then the oldest last issue.
 *
 * Eviction forgets nothing the limits need: the evicted slot's issues
 * are merged into its set's ghost, which stays at least as restrictive as
 * every entry evicted from the set (the largest same-rank issue times),
 * and an address not found answers from the ghost and starts from it.
 * The table's answer thus never falls below what the store holds for an
 * address on file; flow.c asks the table first for every address, so an
 * address on file and one not on file get the answer of the same table,
 * which does not know which is which (test_decoy.c: the same flood, the
 * same answers). The price under a flood that fills the table is that a
 * new address of a set may inherit an evicted one's limits: a "too soon"
 * when the set evicted within resend_interval (only past ~131,072 new
 * addresses per resend_interval), and fewer codes left in the day
 * (max_per_day only after an attacker got 131,072 addresses to it).
 *
 * What fills the table is bounded before it (portaild, issue 13): every
 * local client's code requests (code.request, and social.link's) are
 * counted per uid, [daemon] code_requests_per_minute (default 600; root
 * 4x, 2,400) in fixed minutes; any 10 minutes touch at most 11 of a
 * uid's minutes, so one uid adds at most 6,600 new addresses in a code's
 * 10-minute lifetime (root 26,400). Pushing all 131,072 entries out
 * within a decoy code's lifetime thus takes 20 unprivileged uids
 * colluding (131,072 / 6,600), or root and 16 others; within the 30 s
 * resend_interval (a "too soon" inherited; 30 s touch two minutes, 1,200
 * requests, root 4,800) 110 uids, or root and 106 others. portail-web's requests are counted by
 * their client address instead ([daemon] client_attempts, 100 per 600 s):
 * 1,311 client addresses (IPv6 /64s) at their limit fill the table in
 * 10 minutes, so through the web the bound is the addresses an attacker
 * holds, not the uid. root's requests that name a client address (rhost:
 * sshd's PAM, saslauthd) are counted by it, 600 a minute each (6,600 in
 * 10 minutes): through sshd, 20 remote addresses fill the table.
 *
 * Not covered (decoy codes): a decoy code evicted before its day is over
 * answers code.verify with NO_CODE where the store answers for a code on
 * file (wrong, expired, too many tries): pushing it out takes about
 * PORTAIL_DECOY_ENTRIES other addresses with as many issues today.
 * State is lost on a restart (an attacker cannot restart the daemon).
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

/*
 * A new, empty table. seed: crypto_generichash_KEYBYTES bytes that key the
 * set choice (for tests that replay one flood twice), or NULL for a
 * random key (portaild).
 */
portail_status portail_decoy_new(portail_decoy **out, const unsigned char *seed,
    portail_error *err);
void portail_decoy_free(portail_decoy *d);

/*
 * The rate limits of portail_store_code_issue for key, from the table:
 * portail_policy_code_issue's answer (TOO_SOON with *wait, RATE_LIMITED,
 * or OK) for the issues the table holds in the sliding day (its set's
 * ghost's for an address not in the table). With record and decoy (an
 * address not on file), an OK is recorded as an issue at now and sets a
 * decoy code for purpose ("signup", "reset" or "link"), valid
 * rules->lifetime with rules->max_attempts tries. With record and not
 * decoy (an address on file whose code the store issued), the issue is
 * recorded whatever the table answers, so that the table never holds
 * less than the store. Past PORTAIL_DECOY_TIMES issues in a day the count
 * is approximate (the older ones are counted until the newest of them is
 * a day old).
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
