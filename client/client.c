/* client.c — libportail-client; see portail-client.h. */
#include "portail-client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "monotime.h"

struct portail_client {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	pid_t pid;              /* process that opened fd */
	int timeout_ms;
	char service[65];
	char rhost[257];
	char lang[3];
};

static portail_status
set_err(portail_error *err, portail_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static portail_status
set_err(portail_error *err, portail_status s, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return s;
}

portail_status
portail_client_new(const char *socket_path, int timeout_ms, portail_client **out)
{
	portail_client *c;

	if (socket_path == NULL)
		socket_path = PORTAIL_DEFAULT_SOCKET;
	if (strlen(socket_path) >= sizeof(c->path) || timeout_ms < 0)
		return PORTAIL_ERR_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PORTAIL_ERR_NOMEM;
	memcpy(c->path, socket_path, strlen(socket_path) + 1);
	c->fd = -1;
	c->timeout_ms = timeout_ms ? timeout_ms : PORTAIL_CLIENT_TIMEOUT_MS;
	*out = c;
	return PORTAIL_OK;
}

static void
disconnect(portail_client *c)
{
	/* In a forked child the descriptor is the parent's too: closing our
	 * copy is harmless to it. */
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
portail_client_free(portail_client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	free(c);
}

static portail_status
copy_field(char *dst, size_t size, const char *src)
{
	if (src == NULL) {
		dst[0] = '\0';
		return PORTAIL_OK;
	}
	if (strlen(src) >= size)
		return PORTAIL_ERR_INVALID;
	memcpy(dst, src, strlen(src) + 1);
	return PORTAIL_OK;
}

portail_status
portail_client_set_origin(portail_client *c, const char *service, const char *rhost)
{
	if (copy_field(c->service, sizeof(c->service), service) != PORTAIL_OK ||
	    copy_field(c->rhost, sizeof(c->rhost), rhost) != PORTAIL_OK)
		return PORTAIL_ERR_INVALID;
	return PORTAIL_OK;
}

portail_status
portail_client_set_lang(portail_client *c, const char *lang)
{
	if (lang != NULL && strcmp(lang, "fr") != 0 && strcmp(lang, "en") != 0)
		return PORTAIL_ERR_INVALID;
	return copy_field(c->lang, sizeof(c->lang), lang);
}

/* Waits for events on fd until the deadline; 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - portail_mono_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0)
			return 1;
	}
}

static portail_status
connect_socket(portail_client *c, long long deadline, portail_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return set_err(err, PORTAIL_ERR_UNAVAILABLE, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		/* A full backlog gives EAGAIN on unix sockets: wait, then check. */
		if (e == EAGAIN || e == EINPROGRESS) {
			int ok = wait_fd(fd, POLLOUT, deadline);
			socklen_t len = sizeof(e);

			if (ok == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e == 0)
				goto connected;
			if (ok == 0)
				e = ETIMEDOUT;
		}
		close(fd);
		return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild (%s): %s", c->path,
		    strerror(e));
	}
connected:
	c->fd = fd;
	c->pid = getpid();
	return PORTAIL_OK;
}

static portail_status
send_all(portail_client *c, const char *buf, size_t len, long long deadline,
    portail_error *err)
{
	size_t done = 0;

	while (done < len) {
		/* MSG_NOSIGNAL: a dead daemon must not SIGPIPE the host process. */
		ssize_t n = send(c->fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int w = wait_fd(c->fd, POLLOUT, deadline);

			if (w == 1)
				continue;
			return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: %s",
			    w == 0 ? "timed out sending" : strerror(errno));
		}
		return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: %s",
		    n < 0 ? strerror(errno) : "connection closed");
	}
	return PORTAIL_OK;
}

/* Reads one line; *got counts the bytes received (0: closed at once). */
static portail_status
recv_line(portail_client *c, char *buf, size_t size, size_t *len, size_t *got,
    long long deadline, portail_error *err)
{
	size_t used = 0;

	*got = 0;
	for (;;) {
		ssize_t n = recv(c->fd, buf + used, size - used - 1, 0);
		char *nl;

		if (n > 0) {
			used += (size_t)n;
			*got = used;
			if ((nl = memchr(buf, '\n', used)) != NULL) {
				/* one request, one answer: nothing may follow it */
				if ((size_t)(nl - buf) + 1 != used)
					return set_err(err, PORTAIL_ERR_UNAVAILABLE,
					    "portaild: unexpected data after the answer");
				*nl = '\0';
				*len = (size_t)(nl - buf);
				return PORTAIL_OK;
			}
			if (used + 1 >= size)
				return set_err(err, PORTAIL_ERR_UNAVAILABLE,
				    "portaild: answer larger than 64 KiB");
			continue;
		}
		if (n == 0)
			return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: connection closed");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			int w = wait_fd(c->fd, POLLIN, deadline);

			if (w == 1)
				continue;
			return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: %s",
			    w == 0 ? "no answer in time" : strerror(errno));
		}
		return set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: %s", strerror(errno));
	}
}

/* Wipes every string in v (a ticket or a token in an answer nobody reads). */
static void
wipe_strings(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		explicit_bzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item)
			wipe_strings(item);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			wipe_strings(item);
	}
}

static void
wipe_decref(json_t *v)
{
	if (v != NULL && v->refcount == 1)
		wipe_strings(v);
	json_decref(v);
}

static portail_status
exchange(portail_client *c, const char *line, size_t len, json_t **resp,
    long long deadline, portail_error *err)
{
	char *buf = NULL;
	size_t rlen = 0, got = 0;
	bool reused;
	portail_status r;
	json_error_t jerr;

	if (c->fd >= 0 && c->pid != getpid())
		disconnect(c);          /* forked: reconnect in this process */
	for (int attempt = 0; attempt < 2; attempt++) {
		reused = c->fd >= 0;
		if (!reused && (r = connect_socket(c, deadline, err)) != PORTAIL_OK)
			goto out;
		r = send_all(c, line, len, deadline, err);
		if (r == PORTAIL_OK) {
			if (buf == NULL && (buf = malloc(PORTAIL_PROTO_MAX + 1)) == NULL) {
				r = set_err(err, PORTAIL_ERR_NOMEM, "out of memory");
				goto out;
			}
			r = recv_line(c, buf, PORTAIL_PROTO_MAX + 1, &rlen, &got, deadline, err);
		}
		if (r == PORTAIL_OK)
			break;
		disconnect(c);
		/* A kept connection the daemon had closed (idle timeout, restart):
		 * nothing was answered, so the request was not handled; retry once
		 * on a fresh connection. */
		if (!reused || got != 0)
			goto out;
	}
	if (r != PORTAIL_OK)
		goto out;
	*resp = json_loadb(buf, rlen, JSON_REJECT_DUPLICATES, &jerr);
	if (*resp == NULL || !json_is_object(*resp) || !json_is_boolean(json_object_get(*resp, "ok"))) {
		wipe_decref(*resp);
		*resp = NULL;
		disconnect(c);
		r = set_err(err, PORTAIL_ERR_UNAVAILABLE, "portaild: garbled answer");
		goto out;
	}
	r = PORTAIL_OK;
out:
	if (buf != NULL)
		explicit_bzero(buf, PORTAIL_PROTO_MAX + 1);   /* the answer may hold a ticket or token */
	free(buf);
	return r;
}

portail_status
portail_client_call(portail_client *c, json_t *req, json_t **resp, portail_error *err)
{
	long long deadline = portail_mono_ms() + c->timeout_ms;
	json_t *msg = NULL, *answer = NULL;
	char *line = NULL;
	size_t len = 0;
	portail_status r;

	if (resp != NULL)
		*resp = NULL;
	/* A shallow copy: it shares req's values, so no second copy of a
	 * password is made (and left unwiped) for the envelope's sake. */
	if (!json_is_object(req))
		return set_err(err, PORTAIL_ERR_INVALID, "a request is an object");
	if ((msg = json_copy(req)) == NULL)
		return set_err(err, PORTAIL_ERR_NOMEM, "out of memory");
	json_object_set_new(msg, "v", json_integer(PORTAIL_PROTO_VERSION));
	if (c->service[0] != '\0')
		json_object_set_new(msg, "service", json_string(c->service));
	if (c->rhost[0] != '\0')
		json_object_set_new(msg, "rhost", json_string(c->rhost));
	if (c->lang[0] != '\0')
		json_object_set_new(msg, "lang", json_string(c->lang));
	line = portail_proto_encode(msg, &len);
	json_decref(msg);
	if (line == NULL)
		return set_err(err, PORTAIL_ERR_INVALID, "request larger than 64 KiB");
	r = exchange(c, line, len, &answer, deadline, err);
	/* The line may hold a password: wipe it before freeing. */
	explicit_bzero(line, len);
	free(line);
	if (r != PORTAIL_OK)
		return r;
	if (json_is_true(json_object_get(answer, "ok"))) {
		if (resp != NULL)
			*resp = answer;
		else
			wipe_decref(answer);
		return PORTAIL_OK;
	}
	r = portail_proto_error_status(json_string_value(json_object_get(answer, "error")));
	set_err(err, r, "%s", json_string_value(json_object_get(answer, "message")) ?
	    json_string_value(json_object_get(answer, "message")) : "refused");
	if (resp != NULL)
		*resp = answer;
	else
		wipe_decref(answer);
	return r;
}

portail_status
portail_client_ping(portail_client *c, char *version, size_t version_len,
    long long *uptime, portail_error *err)
{
	json_t *req = json_pack("{s:s}", "op", "ping"), *resp = NULL;
	portail_status r;

	if (req == NULL)
		return set_err(err, PORTAIL_ERR_NOMEM, "out of memory");
	r = portail_client_call(c, req, &resp, err);
	json_decref(req);
	if (r == PORTAIL_OK) {
		const char *v = json_string_value(json_object_get(resp, "version"));

		if (version != NULL && version_len > 0)
			(void)snprintf(version, version_len, "%s", v ? v : "");
		if (uptime != NULL)
			*uptime = json_integer_value(json_object_get(resp, "uptime"));
	}
	json_decref(resp);
	return r;
}

static portail_status
simple_call(portail_client *c, json_t *req, json_t **out, portail_error *err)
{
	json_t *resp = NULL;
	portail_status r;

	if (req == NULL)
		return set_err(err, PORTAIL_ERR_NOMEM, "out of memory");
	r = portail_client_call(c, req, &resp, err);
	json_decref(req);
	if (r == PORTAIL_OK)
		*out = resp;
	else
		json_decref(resp);
	return r;
}

portail_status
portail_client_status(portail_client *c, json_t **status, portail_error *err)
{
	return simple_call(c, json_pack("{s:s}", "op", "status"), status, err);
}

portail_status
portail_client_gpi_lookup(portail_client *c, const char *email, json_t **result,
    portail_error *err)
{
	if (email == NULL)
		return set_err(err, PORTAIL_ERR_INVALID, "no address");
	return simple_call(c, json_pack("{s:s, s:s}", "op", "gpi.lookup", "email", email),
	    result, err);
}
