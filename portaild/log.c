/*
 * log.c — syslog (facility authpriv), and stderr in the foreground.
 *
 * In the foreground on a machine without a syslog socket (a container),
 * stderr alone: glibc's syslog() would otherwise open and try to connect
 * a new socket for every line. Checked again on SIGHUP.
 */
#include "daemon.h"

#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static bool log_stderr;
static bool log_syslog;
static bool log_debug;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_open(bool to_stderr, bool debug)
{
	log_stderr = to_stderr;
	log_debug = debug;
	log_syslog = !to_stderr || access(_PATH_LOG, W_OK) == 0;
	openlog("portaild", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void
log_reopen(void)
{
	pthread_mutex_lock(&log_lock);
	closelog();
	log_syslog = !log_stderr || access(_PATH_LOG, W_OK) == 0;
	openlog("portaild", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	pthread_mutex_unlock(&log_lock);
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), 0 when the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, cut).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* C1 controls, and the format characters that reorder or hide text. */
static bool
invisible(const unsigned char *s, size_t len)
{
	unsigned cp = 0;

	for (size_t i = 0; i < len; i++)
		cp = i == 0 ? (s[0] & (0x7f >> len)) : (cp << 6 | (s[i] & 0x3f));
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

/*
 * The one escaping of the log. Every byte of a control character (C0,
 * DEL, C1 in UTF-8), of a bidi or invisible format character and of
 * invalid UTF-8 becomes \xHH; as a value (value true), so do space,
 * '"', '\' and '=', so that one value reads as one token of key=value.
 * A line that is not a value keeps its spaces and its backslashes (the
 * values in it are already escaped; this pass is idempotent on them).
 * Truncated with "..." when buf is too small; buf is always terminated.
 */
static void
escape(const char *in, size_t n, char *buf, size_t size, bool value)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t w = 0, i = 0;

	if (size == 0)
		return;
	while (i < n) {
		size_t len = 1;
		bool esc;

		if (s[i] < 0x80) {
			esc = s[i] < 0x20 || s[i] == 0x7f ||
			    (value && (s[i] == ' ' || s[i] == '"' || s[i] == '\\' || s[i] == '='));
		} else if ((len = utf8_len(s + i, n - i)) == 0) {
			len = 1;
			esc = true;
		} else {
			esc = invisible(s + i, len);
		}
		if (w + (esc ? 4 * len : len) + 4 > size)
			break;
		for (size_t k = 0; k < len; k++) {
			if (esc) {
				buf[w++] = '\\';
				buf[w++] = 'x';
				buf[w++] = hex[s[i + k] >> 4];
				buf[w++] = hex[s[i + k] & 15];
			} else {
				buf[w++] = (char)s[i + k];
			}
		}
		i += len;
	}
	if (i < n) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w] = '\0';
}

void
log_msg(int priority, const char *fmt, ...)
{
	char raw[2048], buf[4 * sizeof(raw)];
	va_list ap;
	int n;

	if (priority == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* whatever a format put in the line, no control byte leaves it */
	escape(raw, strlen(raw), buf, sizeof(buf), false);
	pthread_mutex_lock(&log_lock);
	if (log_syslog)
		syslog(priority, "%s", buf);
	if (log_stderr) {
		fprintf(stderr, "portaild: %s\n", buf);
		fflush(stderr);
	}
	pthread_mutex_unlock(&log_lock);
}

const char *
log_safe(const char *s, char *buf, size_t size)
{
	if (s == NULL)
		s = "-";
	escape(s, strlen(s), buf, size, true);
	return buf;
}
