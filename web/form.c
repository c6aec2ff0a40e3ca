/* form.c — the urlencoded decoder; see form.h. */
#include "form.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "html.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into out; returns the length, or -1 on a bad escape. */
static long
decode(const char *s, size_t n, char *out)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[w++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			out[w++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[w++] = s[i];
		}
	}
	out[w] = '\0';
	return (long)w;
}

static bool
is_secret(const char *name, const char *const *secret)
{
	for (; secret != NULL && *secret != NULL; secret++)
		if (strcmp(name, *secret) == 0)
			return true;
	return false;
}

enum form_status
form_parse(struct form *f, const char *body, size_t len, const char *const *secret)
{
	size_t pos = 0, used = 0;
	enum form_status r = FORM_MALFORMED;

	/* decoded text is never longer than its encoding: one NUL per field more */
	f->cap = len + FORM_MAX_FIELDS + 1;
	if ((f->buf = calloc(1, f->cap)) == NULL) {
		f->cap = 0;
		return FORM_NOMEM;
	}
	f->n = 0;
	while (pos < len) {
		const char *item = body + pos, *amp = memchr(item, '&', len - pos), *eq;
		size_t ilen = amp ? (size_t)(amp - item) : len - pos;
		char name[FORM_NAME_MAX];
		long nl, vl;

		pos += ilen + (amp ? 1 : 0);
		if (ilen == 0)
			continue;
		if ((eq = memchr(item, '=', ilen)) == NULL || eq == item)
			goto out;
		if ((size_t)(eq - item) >= sizeof(name) ||
		    (nl = decode(item, (size_t)(eq - item), name)) < 0 ||
		    (size_t)nl != strlen(name) || !html_utf8_ok(name, (size_t)nl))
			goto out;
		if (f->n == FORM_MAX_FIELDS || form_get(f, name) != NULL)
			goto out;
		vl = decode(eq + 1, ilen - (size_t)(eq - item) - 1, f->buf + used);
		if (vl < 0)
			goto out;
		memcpy(f->f[f->n].name, name, (size_t)nl + 1);
		f->f[f->n].value = f->buf + used;
		f->f[f->n].len = (size_t)vl;
		f->n++;
		if (memchr(f->buf + used, '\0', (size_t)vl) != NULL) {
			r = FORM_NOT_TEXT;
			goto out;
		}
		if (is_secret(name, secret)) {
			/* any character but NUL: only the encoding is checked */
			for (size_t i = 0; i < (size_t)vl; ) {
				const char *v = f->buf + used;

				if ((unsigned char)v[i] < 0x80) {
					i++;
					continue;
				}
				/* a run of non-ASCII bytes: check it as UTF-8 */
				{
					size_t j = i;

					while (j < (size_t)vl && (unsigned char)v[j] >= 0x80)
						j++;
					if (!html_utf8_ok(v + i, j - i)) {
						r = FORM_NOT_TEXT;
						goto out;
					}
					i = j;
				}
			}
		} else if (!html_utf8_ok(f->buf + used, (size_t)vl)) {
			r = FORM_NOT_TEXT;
			goto out;
		}
		used += (size_t)vl + 1;
	}
	r = FORM_OK;
out:
	if (r != FORM_OK)
		form_wipe(f);
	return r;
}

const char *
form_getn(const struct form *f, const char *name, size_t *len)
{
	for (int i = 0; i < f->n; i++) {
		if (strcmp(f->f[i].name, name) == 0) {
			if (len != NULL)
				*len = f->f[i].len;
			return f->f[i].value;
		}
	}
	return NULL;
}

const char *
form_get(const struct form *f, const char *name)
{
	return form_getn(f, name, NULL);
}

void
form_wipe(struct form *f)
{
	if (f->buf != NULL) {
		sodium_memzero(f->buf, f->cap);
		free(f->buf);
	}
	sodium_memzero(f, sizeof(*f));
}
