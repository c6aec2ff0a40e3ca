/*
 * form.h — an application/x-www-form-urlencoded body, decoded.
 *
 * Our own small decoder rather than libmicrohttpd's post processor: the
 * processor also takes multipart bodies, hands values over in pieces and
 * keeps copies of them (passwords, codes, tickets) in buffers it frees
 * without wiping. Here the decoded values live in one buffer that
 * form_wipe clears.
 */
#ifndef WEB_FORM_H
#define WEB_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define FORM_MAX_FIELDS 16
#define FORM_NAME_MAX 32

struct form_field {
	char name[FORM_NAME_MAX];
	char *value;            /* into struct form's buffer, NUL-terminated */
	size_t len;
};

struct form {
	char *buf;              /* the decoded values; wiped by form_wipe */
	size_t cap;
	struct form_field f[FORM_MAX_FIELDS];
	int n;
};

enum form_status {
	FORM_OK = 0,
	FORM_MALFORMED,         /* bad %-escape, field without '=', too many fields, a name twice */
	FORM_NOT_TEXT,          /* a value that is not UTF-8, or holds a NUL or a control character */
	FORM_NOMEM,
};

/*
 * Decodes body[0..len) into f (which must be zeroed or wiped before).
 * Each value is valid UTF-8 without NUL; without control characters
 * either, except in the fields named in secret (NULL-terminated), which
 * portaild accepts with any character but NUL.
 */
enum form_status form_parse(struct form *f, const char *body, size_t len,
    const char *const *secret);

/* The value of name, or NULL when absent. */
const char *form_get(const struct form *f, const char *name);
/* Same, with its length. */
const char *form_getn(const struct form *f, const char *name, size_t *len);

/* Wipes and frees the values; f is empty afterwards. */
void form_wipe(struct form *f);

#endif
