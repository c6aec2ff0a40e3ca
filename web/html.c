/* html.c — the escaping renderer; see html.h. */
#include "html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

void
html_init(struct html *h)
{
	h->buf = NULL;
	h->len = h->cap = 0;
	h->failed = false;
}

void
html_free(struct html *h)
{
	if (h->buf != NULL) {
		sodium_memzero(h->buf, h->cap);
		free(h->buf);
	}
	html_init(h);
}

bool
html_failed(const struct html *h)
{
	return h->failed;
}

/* Room for n more bytes and a NUL; grows by copying, wiping the old block. */
static bool
reserve(struct html *h, size_t n)
{
	size_t cap;
	char *nb;

	if (h->failed)
		return false;
	if (n > HTML_MAX || h->len + n + 1 > HTML_MAX) {
		h->failed = true;
		return false;
	}
	if (h->len + n + 1 <= h->cap)
		return true;
	cap = h->cap ? h->cap : 4096;
	while (cap < h->len + n + 1)
		cap *= 2;
	if ((nb = malloc(cap)) == NULL) {
		h->failed = true;
		return false;
	}
	if (h->buf != NULL) {
		memcpy(nb, h->buf, h->len);
		/* the old block may hold a ticket: no realloc, which frees it unwiped */
		sodium_memzero(h->buf, h->cap);
		free(h->buf);
	}
	h->buf = nb;
	h->cap = cap;
	return true;
}

static void
put(struct html *h, const char *s, size_t n)
{
	if (!reserve(h, n))
		return;
	memcpy(h->buf + h->len, s, n);
	h->len += n;
	h->buf[h->len] = '\0';
}

void
html_raw(struct html *h, const char *markup)
{
	put(h, markup, strlen(markup));
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), 0 when it is
 * not one: no overlong form, no surrogate, nothing past U+10FFFF.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool
is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

bool
html_utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq(u + i, n - i);

		if (l == 0 || (l == 1 && is_control(u[i])))
			return false;
		i += l;
	}
	return true;
}

void
html_textn(struct html *h, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n && !h->failed) {
		size_t run = 0, l;

		/* a run of printable ASCII that needs no escape, in one copy (speed only) */
		while (i + run < n && u[i + run] >= 0x20 && u[i + run] < 0x7f && u[i + run] != '&' &&
		    u[i + run] != '<' && u[i + run] != '>' && u[i + run] != '"' && u[i + run] != '\'')
			run++;
		if (run > 0) {
			put(h, s + i, run);
			i += run;
			continue;
		}
		l = utf8_seq(u + i, n - i);
		if (l == 0) {
			put(h, "\xef\xbf\xbd", 3);      /* U+FFFD for each bad byte */
			i++;
			continue;
		}
		if (l > 1) {
			put(h, s + i, l);
			i += l;
			continue;
		}
		switch (u[i]) {
		case '&': put(h, "&amp;", 5); break;
		case '<': put(h, "&lt;", 4); break;
		case '>': put(h, "&gt;", 4); break;
		case '"': put(h, "&quot;", 6); break;
		case '\'': put(h, "&#39;", 5); break;
		default:
			if (is_control(u[i]))
				put(h, "\xef\xbf\xbd", 3);
			else
				put(h, s + i, 1);
		}
		i++;
	}
}

void
html_text(struct html *h, const char *s)
{
	if (s != NULL)
		html_textn(h, s, strlen(s));
}

void
html_msg(struct html *h, enum portail_msg id, bool en)
{
	html_text(h, portail_msg(id, en));
}

char *
html_take(struct html *h, size_t *len)
{
	char *b = h->buf;

	if (h->failed) {
		html_free(h);
		return NULL;
	}
	if (b == NULL && reserve(h, 0))
		b = h->buf, h->buf[0] = '\0';
	if (b == NULL) {
		html_free(h);
		return NULL;
	}
	*len = h->len;
	html_init(h);
	return b;
}
