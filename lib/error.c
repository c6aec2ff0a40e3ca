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
	case PORTAIL_ERR_LOCKED:      return "account locked";
	case PORTAIL_ERR_DISABLED:    return "account disabled";
	case PORTAIL_ERR_EXPIRED:     return "account expired";
	case PORTAIL_ERR_WRONG_CODE:  return "wrong code";
	case PORTAIL_ERR_EXPIRED_CODE: return "expired code";
	case PORTAIL_ERR_TOO_MANY_TRIES: return "too many tries";
	case PORTAIL_ERR_NO_CODE:     return "no code requested";
	case PORTAIL_ERR_TOO_SOON:    return "too soon";
	case PORTAIL_ERR_RATE_LIMITED: return "too many codes";
	case PORTAIL_ERR_BAD_TICKET:  return "invalid ticket";
	case PORTAIL_ERR_EXISTS:      return "already exists";
	case PORTAIL_ERR_POLICY:      return "password refused";
	case PORTAIL_ERR_MISMATCH:    return "confirmation differs";
	case PORTAIL_ERR_BUSY:        return "busy: try again";
	case PORTAIL_ERR_TOO_MANY_TOKENS: return "too many tokens for this account";
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
