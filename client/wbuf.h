/*
 * wbuf.h — a growable text buffer that wipes what it held: for text that
 * may carry a secret (a request with a password, a mail with a code).
 * When it grows, the old storage is wiped before it is freed; wiping it
 * releases the storage wiped. libc only (explicit_bzero): the client
 * library, a guest in other programs, does not depend on libsodium, and
 * the core uses it too (lib/mail.c).
 *
 * Start from PORTAIL_WBUF_INIT(max). An append that fails (out of memory,
 * or past max bytes) marks the buffer failed: every later append fails
 * too, so a caller may append several pieces and check once. The content
 * is kept NUL-terminated. Not thread-safe; one owner at a time.
 */
#ifndef PORTAIL_WBUF_H
#define PORTAIL_WBUF_H

#include <stdbool.h>
#include <stddef.h>

struct portail_wbuf {
	char *data;             /* NULL until the first append; then NUL-terminated */
	size_t len;             /* bytes of content, the NUL not counted */
	size_t size;            /* bytes allocated */
	size_t max;             /* most bytes of content allowed; 0: no limit but memory */
	bool failed;            /* an append failed */
};

#define PORTAIL_WBUF_INIT(max) { NULL, 0, 0, (max), false }

/* Appends n bytes of p. 0, or -1 when it fails or had failed before. */
int portail_wbuf_append(struct portail_wbuf *b, const void *p, size_t n);

/* Appends the string s. */
int portail_wbuf_puts(struct portail_wbuf *b, const char *s);

/*
 * Hands the content over: a NUL-terminated string of *len bytes (len may
 * be NULL) that the caller wipes and frees. NULL (the storage wiped and
 * freed) when the buffer failed or holds nothing. b is left empty.
 */
char *portail_wbuf_take(struct portail_wbuf *b, size_t *len);

/* Wipes and frees the storage; b is empty again, with its max. */
void portail_wbuf_wipe(struct portail_wbuf *b);

#endif
