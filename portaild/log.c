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

void
log_msg(int priority, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (priority == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
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
	static const char hex[] = "0123456789abcdef";
	size_t w = 0;

	if (s == NULL)
		s = "-";
	for (; *s != '\0' && w + 5 < size; s++) {
		unsigned char u = (unsigned char)*s;

		if (u <= 0x20 || u == 0x7f || u == '"' || u == '\\' || u == '=') {
			buf[w++] = '\\';
			buf[w++] = 'x';
			buf[w++] = hex[u >> 4];
			buf[w++] = hex[u & 15];
		} else {
			buf[w++] = (char)u;
		}
	}
	if (*s != '\0' && w + 4 <= size) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w] = '\0';
	return buf;
}
