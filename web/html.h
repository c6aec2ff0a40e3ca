/*
 * html.h — the one HTML renderer of portail-web.
 *
 * A page is built into a growing buffer. Markup that the program writes
 * itself goes through html_raw (string literals only); every value that
 * comes from anywhere else — a field the browser sent, a message of
 * portaild, an address, a provider's name, even our own message table —
 * goes through html_text, which escapes & < > " ' and replaces invalid
 * UTF-8 and control characters with U+FFFD. So there is one place where
 * escaping happens, and it is always on.
 *
 * The buffer may hold a secret (a ticket in a hidden field): html_free
 * wipes it, and html_take hands it over to the caller, who must wipe it.
 * An allocation failure is sticky: html_failed says so, nothing after it
 * is written.
 */
#ifndef WEB_HTML_H
#define WEB_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "messages.h"

/* Largest page: far above any of ours (a few KiB). */
#define HTML_MAX (256u * 1024u)

struct html {
	char *buf;
	size_t len, cap;
	bool failed;
};

void html_init(struct html *h);
/* Wipes and frees the buffer; the struct may be reused after html_init. */
void html_free(struct html *h);
bool html_failed(const struct html *h);

/* Markup written by the program: a string literal, never a value. */
void html_raw(struct html *h, const char *markup);
/* Any value: escaped, invalid UTF-8 and control characters replaced. */
void html_textn(struct html *h, const char *s, size_t n);
void html_text(struct html *h, const char *s);
/* A message of the table, escaped. */
void html_msg(struct html *h, enum portail_msg id, bool en);

/*
 * The buffer and its length, handed over (NULL after a failure); h is
 * empty afterwards. The caller wipes and frees it.
 */
char *html_take(struct html *h, size_t *len);

/* True when s[0..n) is valid UTF-8 without control characters (tab and newline allowed). */
bool html_utf8_ok(const char *s, size_t n);

#endif
