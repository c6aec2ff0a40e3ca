/* util.c — small internal helpers; see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unistr.h>

void
pt_strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

char *
pt_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

bool
pt_utf8_valid(const char *s, size_t n)
{
	return u8_check((const uint8_t *)s, n) == NULL;
}

portail_status
pt_fd_read(int fd, const char *name, size_t max, char **out, size_t *len,
    portail_error *err)
{
	char *buf = NULL;
	size_t cap = 0, used = 0;

	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= used + 1) {
				free(buf);
				return portail_error_set(err, PORTAIL_ERR_IO,
				    "%s: larger than %zu bytes", name, max);
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				free(buf);
				return portail_error_set(err, PORTAIL_ERR_NOMEM,
				    "%s: out of memory", name);
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", name, strerror(e));
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return portail_error_set(err, PORTAIL_ERR_IO,
			    "%s: larger than %zu bytes", name, max);
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "%s: out of memory", name);
	buf[used] = '\0';
	*out = buf;
	if (len != NULL)
		*len = used;
	return PORTAIL_OK;
}

portail_status
pt_file_read(const char *path, size_t max, char **out, size_t *len,
    portail_error *err)
{
	portail_status r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", path, strerror(errno));
	r = pt_fd_read(fd, path, max, out, len, err);
	close(fd);
	return r;
}

void
pt_ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

bool
pt_ascii_caseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (x == '\0')
			return true;
	}
}

portail_status
pt_open_secret(const char *path, int *out, portail_error *err)
{
	struct stat st;
	portail_status r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = portail_error_set(err, PORTAIL_ERR_CONFIG, "%s: not a regular file", path);
		close(fd);
		return r;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		r = portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "%s: readable by group or others (mode %04o); run chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return r;
	}
	*out = fd;
	return PORTAIL_OK;
}
