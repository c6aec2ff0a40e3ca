/*
 * util.h — small internal helpers of libportail (not exported: the pt_
 * prefix keeps them out of the library's ABI, which is portail_* only).
 */
#ifndef PORTAIL_UTIL_H
#define PORTAIL_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "portail.h"

/* Frees a NULL-terminated array of strings and the array; NULL is fine. */
void pt_strv_free(char **v);

/* Strips leading and trailing blanks in place; returns the new start. */
char *pt_trim(char *s);

/* True when s[0..n) is well-formed UTF-8 (libunistring's u8_check). */
bool pt_utf8_valid(const char *s, size_t n);

/*
 * Reads a whole file (at most max bytes) into a new NUL-terminated
 * buffer. PORTAIL_ERR_IO with err filled on failure; a file larger than
 * max is an error, never silently cut.
 */
portail_status pt_file_read(const char *path, size_t max, char **out,
    size_t *len, portail_error *err);
portail_status pt_fd_read(int fd, const char *name, size_t max, char **out,
    size_t *len, portail_error *err);

/*
 * Opens a secret file for reading: a regular file, not through a link,
 * not readable by group or others. *fd is the caller's to close.
 * PORTAIL_ERR_IO when it cannot be opened, PORTAIL_ERR_CONFIG otherwise.
 */
portail_status pt_open_secret(const char *path, int *fd, portail_error *err);

/* ASCII lower-casing (the case folding of RFC 5321 domains and our keys). */
void pt_ascii_lower(char *s);
bool pt_ascii_caseeq(const char *a, const char *b);

#endif /* PORTAIL_UTIL_H */
