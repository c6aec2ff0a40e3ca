/*
 * monotime.h — milliseconds on CLOCK_MONOTONIC, for deadlines, timeouts
 * and cache lifetimes: a change of the wall clock moves none of them.
 * Header only (static inline, libc only), so that every layer shares it,
 * from the client library in a host process to portaild and the core.
 */
#ifndef PORTAIL_MONOTIME_H
#define PORTAIL_MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline int64_t
portail_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
