/*
 * clock.c — the one clock portaild's decisions read. Kept apart so that
 * lifetimes, lockouts and expiries all move together.
 *
 * The installed portaild reads the wall clock and nothing else. Only the
 * program `make check` builds with -DPORTAIL_TEST_CLOCK (portaild-testclock,
 * for tests/fixtures/fixture.c) lets a test set the time: when the file
 * named by $PORTAIL_TEST_CLOCK_FILE holds a number, that number is the
 * time, and it moves only when the test writes another (it replaces the
 * file by a rename, so a read never sees half a number). No such file:
 * the wall clock, as in the real daemon.
 *
 * What waits for a time on that clock (the mail queue's next try) is told
 * when the file is replaced (daemon_clock_watch): a test moves the clock
 * past a backoff and waits for the state that follows, not for the wall
 * clock to catch up.
 */
#include "daemon.h"

#include <time.h>

#ifdef PORTAIL_TEST_CLOCK
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
static char clock_file[1024];

static void
clock_init(void)
{
	const char *p = getenv("PORTAIL_TEST_CLOCK_FILE");

	if (p != NULL && snprintf(clock_file, sizeof(clock_file), "%s", p) >= (int)sizeof(clock_file))
		clock_file[0] = '\0';
}

/* The test's time, or false (no file, or not a time in range). */
static bool
test_time(int64_t *out)
{
	char buf[32], *end;
	ssize_t n;
	long long v;
	int fd;

	(void)pthread_once(&clock_once, clock_init);
	if (clock_file[0] == '\0' || (fd = open(clock_file, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\0' && *end != '\n') || v < 0 ||
	    v > 4102444800LL)   /* 2100-01-01 */
		return false;
	*out = (int64_t)v;
	return true;
}

/* The clock file's name in its directory (after the last '/'). */
static const char *
clock_base(void)
{
	const char *slash = strrchr(clock_file, '/');

	return slash != NULL ? slash + 1 : clock_file;
}
#endif

int
daemon_clock_watch(void)
{
#ifdef PORTAIL_TEST_CLOCK
	char dir[sizeof(clock_file)];
	const char *base;
	int fd;

	(void)pthread_once(&clock_once, clock_init);
	if (clock_file[0] == '\0')
		return -1;
	base = clock_base();
	if (base == clock_file)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - clock_file), clock_file);
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -1;
	/* the file is replaced by a rename; a first one may be written in place */
	if (inotify_add_watch(fd, dir[0] != '\0' ? dir : "/", IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
#else
	return -1;
#endif
}

bool
daemon_clock_moved(int fd)
{
#ifdef PORTAIL_TEST_CLOCK
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool moved = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			if (ev->len > 0 && strcmp(ev->name, clock_base()) == 0)
				moved = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return moved;
#else
	(void)fd;
	return false;
#endif
}

int64_t
daemon_now(void)
{
#ifdef PORTAIL_TEST_CLOCK
	int64_t t;

	if (test_time(&t))
		return t;
#endif
	return (int64_t)time(NULL);
}
