/* email.c — address checks and keys; see email.h. */
#include "email.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <uninorm.h>

#include "util.h"

/* Characters refused anywhere in an address: they have no business in a
 * school's records and each is a classic injection vector (quotes,
 * brackets, LDAP/shell/header metacharacters). */
static const char refused[] = " \"(),:;<>[\\]`|";

static bool
label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	return true;
}

portail_status
portail_email_check(const char *addr, portail_error *err)
{
	const char *at, *dom, *c;
	size_t len, local;

	if (addr == NULL || *addr == '\0')
		return portail_error_set(err, PORTAIL_ERR_INVALID, "empty address");
	len = strlen(addr);
	if (len > PORTAIL_EMAIL_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "address longer than %d bytes", PORTAIL_EMAIL_MAX);
	if (!pt_utf8_valid(addr, len))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "address is not valid UTF-8");
	for (c = addr; *c; c++) {
		unsigned char u = (unsigned char)*c;

		if (u < 0x20 || u == 0x7f)
			return portail_error_set(err, PORTAIL_ERR_INVALID,
			    "control character in address");
		if (strchr(refused, *c) != NULL)
			return portail_error_set(err, PORTAIL_ERR_INVALID,
			    "character '%c' not allowed in an address", *c);
	}
	at = strchr(addr, '@');
	if (at == NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "address has no '@'");
	if (strchr(at + 1, '@') != NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "address has more than one '@'");
	local = (size_t)(at - addr);
	if (local == 0)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "address has nothing before '@'");
	if (local > PORTAIL_EMAIL_LOCAL_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "part before '@' longer than %d bytes", PORTAIL_EMAIL_LOCAL_MAX);
	if (addr[0] == '.' || at[-1] == '.' || memmem(addr, local, "..", 2) != NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "misplaced '.' before '@'");
	dom = at + 1;
	if (*dom == '\0')
		return portail_error_set(err, PORTAIL_ERR_INVALID, "address has no domain");
	if (strchr(dom, '.') == NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "domain '%s' has no '.'", dom);
	for (const char *l = dom;;) {
		size_t n = strcspn(l, ".");

		if (!label_ok(l, n))
			return portail_error_set(err, PORTAIL_ERR_INVALID,
			    "domain '%s' is malformed", dom);
		if (l[n] == '\0')
			break;
		l += n + 1;
	}
	return PORTAIL_OK;
}

portail_status
portail_email_key(const char *addr, char **out, portail_error *err)
{
	portail_status r;
	uint8_t *folded;
	size_t n = 0;
	char *key;
	bool ascii = true;

	if ((r = portail_email_check(addr, err)) != PORTAIL_OK)
		return r;
	for (const char *c = addr; *c; c++)
		if ((unsigned char)*c >= 0x80)
			ascii = false;
	if (ascii) {
		if ((key = strdup(addr)) == NULL)
			return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		pt_ascii_lower(key);
		*out = key;
		return PORTAIL_OK;
	}
	folded = u8_casefold((const uint8_t *)addr, strlen(addr), NULL, UNINORM_NFC, NULL, &n);
	if (folded == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if ((key = malloc(n + 1)) == NULL) {
		free(folded);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	memcpy(key, folded, n);
	key[n] = '\0';
	free(folded);
	*out = key;
	return PORTAIL_OK;
}

portail_status
pt_ldap_escape(const char *value, char **out)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	char *buf, *w;

	for (const char *c = value; *c; c++)
		n += strchr("*()\\", *c) != NULL ? 3 : 1;
	if ((buf = malloc(n + 1)) == NULL)
		return PORTAIL_ERR_NOMEM;
	w = buf;
	for (const char *c = value; *c; c++) {
		unsigned char u = (unsigned char)*c;

		if (strchr("*()\\", *c) != NULL) {
			*w++ = '\\';
			*w++ = hex[u >> 4];
			*w++ = hex[u & 15];
		} else {
			*w++ = *c;
		}
	}
	*w = '\0';
	*out = buf;
	return PORTAIL_OK;
}
