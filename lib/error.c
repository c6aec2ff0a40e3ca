/* error.c — status texts and the error detail helper. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

const char *
portail_strerror(portail_status s)
{
	switch (s) {
	case PORTAIL_OK:              return "success";
	case PORTAIL_ERR_NOMEM:       return "out of memory";
	case PORTAIL_ERR_INVALID:     return "invalid input";
	case PORTAIL_ERR_CONFIG:      return "configuration error";
	case PORTAIL_ERR_UNAVAILABLE: return "service unavailable";
	case PORTAIL_ERR_UNKNOWN:     return "unknown parent";
	case PORTAIL_ERR_REFUSED:     return "refused";
	case PORTAIL_ERR_FORBIDDEN:   return "forbidden";
	case PORTAIL_ERR_PROTOCOL:    return "protocol error";
	case PORTAIL_ERR_IO:          return "input/output error";
	}
	return "unknown status";
}

portail_status
portail_error_set(portail_error *err, portail_status s, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return s;
	va_start(ap, fmt);
	/* Truncation is acceptable for a message; it stays NUL-terminated. */
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return s;
}

const char *
portail_version(void)
{
	return PACKAGE_VERSION;
}
