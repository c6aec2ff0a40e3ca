/* email.c — address checks and keys; see email.h. */
#include "email.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <unistr.h>
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

/* libidn2's flags for every domain: IDNA2008 with the UTS 46 mapping,
 * nontransitional (ß, ς, ZWJ/ZWNJ are kept, as in .de, .gr and browsers:
 * maßawippi.ca is xn--maawippi-rya.ca, not massawippi.ca). */
#define IDN_FLAGS (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT)

/*
 * The domain as its lower-case A-label (IDNA2008 / UTS 46, libidn2), into
 * *out (new, the caller frees it with free). PORTAIL_ERR_INVALID with
 * libidn2's reason when it is not a valid domain name.
 */
static portail_status
domain_alabel(const char *dom, char **out, portail_error *err)
{
	char *a = NULL;
	size_t n;
	int rc;

	/* U+1E9E CAPITAL SHARP S: UTS 46 maps it to "ss" before Unicode 15.1 (libidn2
	 * 2.3.3), to ß after: two domains, depending on who resolves it */
	if (strstr(dom, "\xe1\xba\x9e") != NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "domain '%s': capital sharp s (U+1E9E) is read differently by IDNA versions; "
		    "type \xc3\x9f or ss", dom);
	rc = idn2_lookup_u8((const uint8_t *)dom, (uint8_t **)&a, IDN_FLAGS);
	if (rc == IDN2_MALLOC)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if (rc != IDN2_OK)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "domain '%s' is not a valid domain name (IDNA2008: %s)", dom, idn2_strerror(rc));
	/* a dot the mapping made (U+3002 IDEOGRAPHIC FULL STOP …) may not leave an empty label */
	n = strlen(a);
	if (n == 0 || a[0] == '.' || a[n - 1] == '.' || strstr(a, "..") != NULL) {
		free(a);
		return portail_error_set(err, PORTAIL_ERR_INVALID, "domain '%s' is malformed", dom);
	}
	/* libidn2 allocates with malloc: the caller's free() matches */
	*out = a;
	return PORTAIL_OK;
}

/*
 * The local part is compared after NFC (canonical equivalence) and never
 * case-folded beyond ASCII. A few characters are canonically equivalent
 * to an ASCII one (U+212A KELVIN SIGN is K): refused, so that no
 * non-ASCII spelling keys to an ASCII address (DESIGN §2: K ≠ K). Each
 * non-ASCII character is normalized alone: NFC composes only into
 * non-ASCII characters, so a singleton to ASCII is the only way there.
 */
static portail_status
local_ok(const char *local, size_t n, portail_error *err)
{
	const uint8_t *p = (const uint8_t *)local, *end = p + n;

	while (p < end) {
		ucs4_t uc;
		int len = u8_mbtouc(&uc, p, (size_t)(end - p));
		uint8_t *nfc;
		size_t nlen = 0;
		bool to_ascii;

		if (len <= 0)
			return portail_error_set(err, PORTAIL_ERR_INVALID, "address is not valid UTF-8");
		if (uc >= 0x80) {
			if ((nfc = u8_normalize(UNINORM_NFC, p, (size_t)len, NULL, &nlen)) == NULL)
				return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			to_ascii = nlen > 0 && nfc[0] < 0x80;
			free(nfc);
			if (to_ascii)
				return portail_error_set(err, PORTAIL_ERR_INVALID,
				    "character U+%04X before '@' stands for an ASCII letter or sign: "
				    "type that one", (unsigned)uc);
		}
		p += len;
	}
	return PORTAIL_OK;
}

/* Everything portail_email_check asks but the IDNA2008 test of the domain. */
static portail_status
check_syntax(const char *addr, portail_error *err)
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
	/* FULLWIDTH and SMALL COMMERCIAL AT: no second, hidden '@' */
	if (strstr(addr, "\xef\xbc\xa0") != NULL || strstr(addr, "\xef\xb9\xab") != NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "a character that looks like '@' but is not one: type '@'");
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
	return local_ok(addr, local, err);
}

portail_status
portail_email_check(const char *addr, portail_error *err)
{
	char *alabel = NULL;
	portail_status r;

	if ((r = check_syntax(addr, err)) != PORTAIL_OK)
		return r;
	/* the domain must be one IDNA2008 accepts (xn-- labels included) */
	if ((r = domain_alabel(strchr(addr, '@') + 1, &alabel, err)) != PORTAIL_OK)
		return r;
	free(alabel);
	return PORTAIL_OK;
}

portail_status
portail_email_key(const char *addr, char **out, portail_error *err)
{
	portail_status r;
	const char *at;
	uint8_t *local = NULL;
	char *dom = NULL, *key = NULL;
	size_t n = 0, dlen;

	/* the domain's IDNA2008 test is domain_alabel's, below */
	if ((r = check_syntax(addr, err)) != PORTAIL_OK)
		return r;
	at = strchr(addr, '@');
	/* local part: NFC, then ASCII letters lower-cased; nothing else folded */
	local = u8_normalize(UNINORM_NFC, (const uint8_t *)addr, (size_t)(at - addr), NULL, &n);
	if (local == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = domain_alabel(at + 1, &dom, err)) != PORTAIL_OK)
		goto out;
	dlen = strlen(dom);
	if ((key = malloc(n + 1 + dlen + 1)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(key, local, n);
	key[n] = '\0';
	pt_ascii_lower(key);
	key[n] = '@';
	memcpy(key + n + 1, dom, dlen + 1);
	/* already lower case from libidn2; ASCII-lower it anyway (cheap, and exact) */
	pt_ascii_lower(key + n + 1);
	*out = key;
	key = NULL;
	r = PORTAIL_OK;
out:
	free(local);
	free(dom);
	free(key);
	return r;
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
