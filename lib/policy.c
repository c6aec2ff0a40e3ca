/* policy.c — the arithmetic of the security rules; see policy.h. */
#include "policy.h"

bool
portail_policy_lockout(const struct portail_lockout *p, int failures, int64_t *seconds)
{
	int64_t len = p->lockout, extra;

	*seconds = 0;
	if (failures < p->max_failures)
		return false;
	/*
	 * Closed in at most 32 doublings: len starts at lockout and stops
	 * doubling at lockout_max (an int), so it never overflows, and a huge
	 * failure count costs no more than a small one. A lock that is not
	 * positive does not grow.
	 */
	extra = (int64_t)failures - p->max_failures;
	while (extra-- > 0 && len > 0 && len < p->lockout_max)
		len *= 2;
	if (len > p->lockout_max)
		len = p->lockout_max;
	*seconds = len;
	return true;
}

int64_t
portail_policy_day_start(int64_t now)
{
	return now - PORTAIL_POLICY_DAY;
}

bool
portail_policy_in_day(int64_t t, int64_t now)
{
	return t > portail_policy_day_start(now);
}

portail_status
portail_policy_code_issue(const struct portail_code_rules *r, int64_t now, int64_t last,
    int today, int *wait)
{
	if (last > 0 && now - last < r->resend_interval) {
		*wait = (int)(r->resend_interval - (now - last));
		return PORTAIL_ERR_TOO_SOON;
	}
	if (today >= r->max_per_day)
		return PORTAIL_ERR_RATE_LIMITED;
	return PORTAIL_OK;
}

portail_status
portail_policy_code_check(int tries_left, int64_t expires, int64_t now)
{
	if (tries_left <= 0)
		return PORTAIL_ERR_TOO_MANY_TRIES;
	if (now >= expires)
		return PORTAIL_ERR_EXPIRED_CODE;
	return PORTAIL_OK;
}

portail_status
portail_policy_code_wrong(int tries_left)
{
	return tries_left > 0 ? PORTAIL_ERR_WRONG_CODE : PORTAIL_ERR_TOO_MANY_TRIES;
}
