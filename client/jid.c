/*
 * jid.c — a parent's address from an XEP-0106-escaped JID (jid.h).
 */
#include <string.h>

#include "jid.h"

static const struct {
	char hex[3];
	char c;
} escapes[] = {
	{ "20", ' ' }, { "22", '"' }, { "26", '&' }, { "27", '\'' }, { "2f", '/' },
	{ "3a", ':' }, { "3c", '<' }, { "3e", '>' }, { "40", '@' }, { "5c", '\\' },
};

/* The character that the escape at s (just past its backslash) stands for, or 0. */
static char
unescape(const char *s)
{
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++)
		if (s[0] == escapes[i].hex[0] && s[1] == escapes[i].hex[1])
			return escapes[i].c;
	return 0;
}

bool
portail_jid_address(const char *jid, char *out, size_t outsz)
{
	const char *host = strchr(jid, '@');
	size_t local = host != NULL ? (size_t)(host - jid) : strlen(jid);
	size_t n = 0, ats = 0, at = 0;

	if (outsz == 0)
		return false;
	out[0] = '\0';
	if (local == 0 || (host != NULL && (host[1] == '\0' || strchr(host + 1, '@') != NULL)))
		return false;
	for (size_t i = 0; i < local; i++) {
		char c = jid[i];

		if (c == '\\' && i + 2 < local && (c = unescape(jid + i + 1)) != 0)
			i += 2;
		else
			c = jid[i];
		if (n + 1 >= outsz) {
			out[0] = '\0';
			return false;
		}
		if (c == '@') {
			ats++;
			at = n;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (ats != 1 || at == 0 || at + 1 == n) {
		out[0] = '\0';
		return false;
	}
	return true;
}
