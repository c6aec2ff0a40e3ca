/* wbuf.c — a growable text buffer that wipes what it held; see wbuf.h. */
#include "wbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WBUF_FIRST 512

int
portail_wbuf_append(struct portail_wbuf *b, const void *p, size_t n)
{
	if (b->failed)
		return -1;
	if ((b->max != 0 && n > b->max - b->len) || n > SIZE_MAX / 2 - b->len - 1) {
		b->failed = true;
		return -1;
	}
	if (b->len + n + 1 > b->size) {
		size_t size = b->size ? b->size : WBUF_FIRST;
		char *grown;

		while (size < b->len + n + 1)
			size *= 2;
		/* a new block and the old one wiped: realloc would leave it unwiped */
		if ((grown = malloc(size)) == NULL) {
			b->failed = true;
			return -1;
		}
		if (b->data != NULL) {
			memcpy(grown, b->data, b->len);
			explicit_bzero(b->data, b->size);
			free(b->data);
		}
		b->data = grown;
		b->size = size;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
portail_wbuf_puts(struct portail_wbuf *b, const char *s)
{
	return portail_wbuf_append(b, s, strlen(s));
}

char *
portail_wbuf_take(struct portail_wbuf *b, size_t *len)
{
	char *data = b->data;

	if (b->failed || data == NULL) {
		portail_wbuf_wipe(b);
		return NULL;
	}
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->size = 0;
	return data;
}

void
portail_wbuf_wipe(struct portail_wbuf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->size);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->size = 0;
	b->failed = false;
}
