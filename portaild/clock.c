/*
 * clock.c — the one clock portaild's decisions read. Kept apart so that
 * lifetimes, lockouts and expiries all move together.
 */
#include "daemon.h"

#include <time.h>

int64_t
daemon_now(void)
{
	return (int64_t)time(NULL);
}
