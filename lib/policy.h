/*
 * policy.h — the arithmetic of the security rules (DESIGN §2), as pure
 * functions: no I/O, no store, no clock (the time is an argument), no
 * state. The store and the decoy table apply these answers; they do not
 * decide (issue 12). A backend of the store (SQLite today, PostgreSQL
 * later) and the in-memory decoy table thus give the same answers for
 * the same history, by construction.
 *
 * The rules' values come from the configuration (config.c bounds them:
 * lockout 1..86400 <= lockout_max <= 604800, max_failures 1..1000,
 * resend_interval 0..3600, max_per_day 1..1000); these functions are
 * defined for any int values, never overflow and never loop long.
 */
#ifndef PORTAIL_POLICY_H
#define PORTAIL_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "portail.h"

/* The length of the sliding day the code limits count over, in seconds. */
#define PORTAIL_POLICY_DAY 86400

/* ---- password lockout ------------------------------------------------------ */

struct portail_lockout {
	int max_failures;       /* before the first lock */
	int lockout;            /* first lock, seconds; doubles per further failure */
	int lockout_max;
};

/*
 * After an account's failures-th consecutive failed sign-in: true when it
 * is to be locked, *seconds then the lock's length: lockout at the
 * max_failures-th failure, doubled for each failure past it, never more
 * than lockout_max. False (*seconds 0) below max_failures.
 */
bool portail_policy_lockout(const struct portail_lockout *p, int failures, int64_t *seconds);

/* ---- verification codes ------------------------------------------------------ */

struct portail_code_rules {
	int lifetime;
	int max_attempts;
	int resend_interval;
	int max_per_day;
};

/*
 * The start of the sliding day that ends at now: an event at t is in
 * that day when t > the start (portail_policy_in_day). Records older than
 * the start count for nothing and may be swept.
 */
int64_t portail_policy_day_start(int64_t now);
bool portail_policy_in_day(int64_t t, int64_t now);

/*
 * May a code be issued at now for an address whose last code was issued
 * at last (0: none in the sliding day) and that had today codes issued
 * in the sliding day (every purpose counted)? OK; TOO_SOON with *wait the
 * seconds left of the resend interval; RATE_LIMITED at max_per_day. The
 * interval is checked first: a parent who asks again at once is told to
 * wait, not that the day is over.
 */
portail_status portail_policy_code_issue(const struct portail_code_rules *r, int64_t now,
    int64_t last, int today, int *wait);

/*
 * May a code with tries_left tries, valid until expires, be checked at
 * now? OK; TOO_MANY_TRIES when none is left; EXPIRED_CODE from expires on.
 */
portail_status portail_policy_code_check(int tries_left, int64_t expires, int64_t now);

/* The answer to a wrong code that leaves tries_left tries: WRONG_CODE, TOO_MANY_TRIES at 0. */
portail_status portail_policy_code_wrong(int tries_left);

#endif
