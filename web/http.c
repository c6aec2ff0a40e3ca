/*
 * http.c — libmicrohttpd, and the rules every request passes before a
 * page sees it (DESIGN §2, issue 14):
 *
 * - methods: GET and HEAD everywhere, POST on the forms; else 405 + Allow;
 * - bodies: application/x-www-form-urlencoded only (415), at most
 *   WEB_BODY_MAX by Content-Length and while read (413), valid UTF-8
 *   text in every field (400); headers bounded by the connection's
 *   memory (WEB_HEADER_MEMORY);
 * - cross-site POSTs: Sec-Fetch-Site other than same-origin or none, or
 *   an Origin that is neither ours nor home_url's (nor "null" with
 *   Sec-Fetch-Site same-origin: what no-referrer makes of our own forms'
 *   Origin), is 403; and every form
 *   carries a CSRF token, the pre-login ones too: with no server key, a
 *   random per-browser cookie (__Host-portail-csrf) that the form repeats
 *   in a hidden field, compared in constant time (the double-submit
 *   cookie: a cross-site page can neither read the cookie nor set a
 *   __Host- one);
 * - the client's address: the peer's, or the rightmost X-Forwarded-For
 *   of the last such header when the peer is a trusted proxy, parsed with
 *   inet_pton;
 * - every answer: the CSP, Referrer-Policy, nosniff and no-store headers.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>

#include <microhttpd.h>
#include <sodium.h>

#include "protocol.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* The fields of our forms that hold secrets: any character but NUL. */
static const char *const secret_fields[] = { "password", "confirmation", "code", "ticket",
	"old_password", NULL };

enum route { R_CONNEXION, R_SIGNUP, R_RESET, R_CSS, R_ROOT, R_INTROSPECT, R_COMPTE, R_DECONNEXION,
	R_AUTH, R_SOCIAL, R_NONE };

static const struct {
	const char *path;
	enum route route;
	bool post;
} routes[] = {
	{ "/connexion", R_CONNEXION, true },
	{ "/inscription", R_SIGNUP, true },
	{ "/mot-de-passe-oublie", R_RESET, true },
	{ "/static/portail.css", R_CSS, false },
	{ "/compte", R_COMPTE, true },
	{ "/deconnexion", R_DECONNEXION, true },
	{ "/auth", R_AUTH, false },
	{ "/", R_ROOT, false },
	{ "/oauth2/introspect", R_INTROSPECT, true },   /* POST only: first_call */
	{ "/social/", R_SOCIAL, true },                 /* a prefix: /social/NAME… (social.c) */
};

/* One request, from its headers to its answer. */
struct req {
	struct ctx c;
	enum route route;
	char method[8];
	const char *url;        /* as asked, for the log (libmicrohttpd's, valid until the end) */
	bool too_large;         /* the body outgrew WEB_BODY_MAX while read */
	/*
	 * An answer decided on the headers (413, 415, 403) but given after
	 * the body is read and thrown away: a proxy that is still sending it
	 * would take a closed connection for a failure (nginx: 502).
	 */
	int deferred_status;
	enum portail_msg deferred_msg;
	char *body;
	size_t len;
	size_t discarded;       /* bytes past the limit, thrown away */
};

void
web_log(struct web *w, int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (priority == LOG_DEBUG && !w->debug)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (w->to_syslog)
		syslog(priority, "%s", line);
	if (w->foreground)
		fprintf(stderr, "portail-web: %s\n", line);
}

void
web_log_escape(const char *s, char *out, size_t size)
{
	size_t w = 0;

	for (size_t i = 0; s != NULL && s[i] != '\0' && i < 64 && w + 5 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '=')
			w += (size_t)snprintf(out + w, size - w, "\\x%02x", ch);
		else
			out[w++] = (char)ch;
	}
	out[w] = '\0';
	if (w == 0 && size > 1)
		memcpy(out, "-", 2);
}

/* ---- portaild, one kept connection per thread ------------------------------------- */

static pthread_key_t portaild_key;
static pthread_once_t portaild_once = PTHREAD_ONCE_INIT;

static void
portaild_free(void *cl)
{
	portail_client_free(cl);
}

static void
portaild_key_make(void)
{
	/* libmicrohttpd's threads end at MHD_stop_daemon: the destructor closes theirs */
	(void)pthread_key_create(&portaild_key, portaild_free);
}

/*
 * A connect and an accept per request cost portaild's loop and both
 * sides more than a session.check itself: each thread of the pool keeps
 * its handle, which reconnects by itself when portaild closed an idle one
 * (libportail-client resends only what was not answered).
 */
portail_client *
web_portaild(struct web *w)
{
	portail_client *cl;

	(void)pthread_once(&portaild_once, portaild_key_make);
	if ((cl = pthread_getspecific(portaild_key)) != NULL)
		return cl;
	if (portail_client_new(w->cfg->daemon.socket, 0, &cl) != PORTAIL_OK)
		return NULL;
	if (pthread_setspecific(portaild_key, cl) != 0) {
		portail_client_free(cl);
		return NULL;
	}
	return cl;
}

/* ---- the client's address ---------------------------------------------------- */

struct xff {
	char last[256];         /* the last X-Forwarded-For header's value (cut) */
	bool seen;
};

static enum MHD_Result
xff_each(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct xff *x = cls;

	if (key != NULL && value != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
		size_t n = strlen(value);

		/* the rightmost part is what the nearest proxy added: keep the tail */
		if (n >= sizeof(x->last))
			value += n - (sizeof(x->last) - 1);
		(void)snprintf(x->last, sizeof(x->last), "%s", value);
		x->seen = true;
	}
	return MHD_YES;
}

static bool
peer_trusted(const struct web *w, const struct sockaddr *sa)
{
	if (sa == NULL || sa->sa_family == AF_UNIX)
		return w->listen_unix && w->trust_unix;
	for (int i = 0; i < w->n_proxies; i++) {
		const struct web_proxy *p = &w->proxies[i];

		if (p->family == AF_INET && sa->sa_family == AF_INET &&
		    memcmp(p->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4) == 0)
			return true;
		if (p->family == AF_INET6 && sa->sa_family == AF_INET6 &&
		    memcmp(p->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

static void
peer_text(const struct web *w, const struct sockaddr *sa, char *out, size_t size)
{
	const char *ok = NULL;

	if (sa != NULL && sa->sa_family == AF_INET)
		ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, (socklen_t)size);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)size);
	if (ok == NULL)
		(void)snprintf(out, size, "%s", w->listen_unix ? "unix" : "unknown");
}

/* c->client: the rightmost X-Forwarded-For address when the peer is trusted, else the peer. */
static void
client_address(struct ctx *c, char *peer, size_t peer_size)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	struct xff x = { { 0 }, false };

	peer_text(c->w, sa, peer, peer_size);
	(void)snprintf(c->client, sizeof(c->client), "%s", peer);
	if (!peer_trusted(c->w, sa))
		return;
	MHD_get_connection_values(c->conn, MHD_HEADER_KIND, xff_each, &x);
	if (x.seen) {
		char *last = strrchr(x.last, ',');
		char *a = last != NULL ? last + 1 : x.last;
		unsigned char bin[sizeof(struct in6_addr)];
		size_t n;

		a += strspn(a, " \t");
		n = strcspn(a, " \t");
		a[n] = '\0';
		if (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1)
			(void)snprintf(c->client, sizeof(c->client), "%s", a);
	}
}

/* ---- language, CSRF, origin ----------------------------------------------------- */

static bool
want_english(struct MHD_Connection *conn)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lang");
	const char *al;

	if (q != NULL && (strcmp(q, "en") == 0 || strcmp(q, "fr") == 0))
		return q[0] == 'e';
	al = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
	/* the first of French or English the browser names wins; French when neither */
	for (const char *t = al; t != NULL && *t != '\0'; ) {
		t += strspn(t, " \t,");
		if (strncasecmp(t, "fr", 2) == 0 && (t[2] == '\0' || strchr("-_;, ", t[2])))
			return false;
		if (strncasecmp(t, "en", 2) == 0 && (t[2] == '\0' || strchr("-_;, ", t[2])))
			return true;
		t += strcspn(t, ",");
	}
	return false;
}

static bool
csrf_shape_ok(const char *s, size_t n)
{
	if (n != WEB_CSRF_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* This browser's token (its cookie's), or a new one to set. */
static void
csrf_token(struct ctx *c)
{
	const char *cookie = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, WEB_CSRF_COOKIE);
	unsigned char raw[32];

	if (cookie != NULL && csrf_shape_ok(cookie, strlen(cookie))) {
		memcpy(c->csrf, cookie, WEB_CSRF_LEN + 1);
		c->new_csrf = false;
		return;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(c->csrf, sizeof(c->csrf), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	c->new_csrf = true;
}

/* The form's token equals the cookie's, in constant time. */
static bool
csrf_ok(struct ctx *c)
{
	const char *cookie = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, WEB_CSRF_COOKIE);
	size_t n = 0;
	const char *field = form_getn(&c->form, "csrf", &n);

	if (cookie == NULL || field == NULL || !csrf_shape_ok(cookie, strlen(cookie)) ||
	    !csrf_shape_ok(field, n))
		return false;
	return sodium_memcmp(cookie, field, WEB_CSRF_LEN) == 0;
}

/* "scheme://host[:port]" of url, into out; false when it has none. */
static bool
origin_of(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");
	size_t n;
	int w;

	if (p == NULL)
		return false;
	n = (size_t)(p - url) + 3 + strcspn(p + 3, "/?#");
	w = snprintf(out, size, "%.*s", (int)n, url);
	return w > 0 && (size_t)w < size;
}

/*
 * A POST from one of our pages: Sec-Fetch-Site, when the browser sends
 * it, is same-origin (or none: typed by the user); Origin, when sent, is
 * this request's own (the scheme the trusted proxy says, and Host) or
 * home_url's.
 */
static bool
same_origin(struct ctx *c, bool peer_is_proxy)
{
	const char *site = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *origin = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *proto = peer_is_proxy ?
	    MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-Forwarded-Proto") : NULL;
	char own[300];
	int n;

	if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return false;
	if (origin == NULL)
		return true;            /* not a browser's form (curl): the token decides */
	/*
	 * Our Referrer-Policy (no-referrer) makes the browser send "Origin: null"
	 * with our own forms' POSTs (Fetch, "serializing a request origin"): then
	 * only Sec-Fetch-Site, which no page can set, can say that they are ours.
	 */
	if (strcmp(origin, "null") == 0)
		return site != NULL && strcmp(site, "same-origin") == 0;
	if (proto == NULL || (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0))
		proto = "http";
	if (host != NULL) {
		n = snprintf(own, sizeof(own), "%s://%s", proto, host);
		if (n > 0 && (size_t)n < sizeof(own) && strcasecmp(own, origin) == 0)
			return true;
	}
	if (c->w->cfg->web.home_url != NULL && origin_of(c->w->cfg->web.home_url, own, sizeof(own)) &&
	    strcasecmp(own, origin) == 0)
		return true;
	return false;
}

/* ---- answers ----------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len;
};

static void
out_free(void *cls)
{
	struct out *o = cls;

	/* the page may hold a ticket in a hidden field */
	sodium_memzero(o->buf, o->len);
	free(o->buf);
	free(o);
}

/*
 * The session cookie set (a new session) or cleared (signed out), and
 * /auth's headers. The cookie: __Host- (Secure, Path=/, no Domain: this
 * host only), HttpOnly, SameSite=Lax (a link from the school's portal
 * arrives signed in; a cross-site POST does not).
 */
static bool
session_headers(struct ctx *c, struct MHD_Response *resp)
{
	char cookie[160];
	bool ok = true;
	int n = 0;

	if (c->new_session[0] != '\0')
		n = snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Secure; HttpOnly; SameSite=Lax",
		    WEB_SESSION_COOKIE, c->new_session);
	else if (c->end_session)
		n = snprintf(cookie, sizeof(cookie), "%s=; Path=/; Secure; HttpOnly; SameSite=Lax; "
		    "Max-Age=0", WEB_SESSION_COOKIE);
	if (n < 0 || (size_t)n >= sizeof(cookie) ||
	    (n > 0 && MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie) != MHD_YES))
		ok = false;
	sodium_memzero(cookie, sizeof(cookie));
	/* the social sign-in's state: Lax, so that the provider's top-level redirect brings it */
	n = 0;
	if (c->oauth_cookie[0] != '\0')
		n = snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Secure; HttpOnly; SameSite=Lax; "
		    "Max-Age=600", WEB_OAUTH_COOKIE, c->oauth_cookie);
	else if (c->end_oauth)
		n = snprintf(cookie, sizeof(cookie), "%s=; Path=/; Secure; HttpOnly; SameSite=Lax; "
		    "Max-Age=0", WEB_OAUTH_COOKIE);
	if (ok && (n < 0 || (size_t)n >= sizeof(cookie) || (n > 0 &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie) != MHD_YES)))
		ok = false;
	sodium_memzero(cookie, sizeof(cookie));
	if (ok && c->user[0] != '\0' &&
	    MHD_add_response_header(resp, "X-Portail-User", c->user) != MHD_YES)
		ok = false;
	if (ok && c->auth_status != NULL &&
	    MHD_add_response_header(resp, "X-Portail-Status", c->auth_status) != MHD_YES)
		ok = false;
	return ok;
}

static enum MHD_Result
respond(struct req *r, const char *content_type, const char *fixed, size_t fixed_len)
{
	struct ctx *c = &r->c;
	struct MHD_Response *resp = NULL;
	struct out *o = NULL;
	enum MHD_Result ret = MHD_NO;
	char cookie[128];
	char peer[WEB_ADDR_MAX], path[300], method[40];
	int n, prio;

	if (fixed != NULL) {
		resp = MHD_create_response_from_buffer(fixed_len, (void *)(uintptr_t)fixed,
		    MHD_RESPMEM_PERSISTENT);
	} else {
		if ((o = calloc(1, sizeof(*o))) == NULL ||
		    (o->buf = html_take(&c->html, &o->len)) == NULL) {
			free(o);
			o = NULL;
			/* the smallest honest answer */
			c->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
		} else {
			resp = MHD_create_response_from_buffer_with_free_callback_cls(o->len, o->buf,
			    out_free, o);
			if (resp == NULL)
				out_free(o);
		}
	}
	if (resp == NULL)
		goto out;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
	    MHD_add_response_header(resp, "Content-Security-Policy", CSP) != MHD_YES ||
	    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") != MHD_YES ||
	    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		goto out;
	if (c->new_csrf) {
		n = snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict",
		    WEB_CSRF_COOKIE, c->csrf);
		if (n < 0 || (size_t)n >= sizeof(cookie) ||
		    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie) != MHD_YES)
			goto out;
	}
	if (!session_headers(c, resp))
		goto out;
	if (c->location != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, c->location) != MHD_YES)
		goto out;
	if (c->allow != NULL && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, c->allow) != MHD_YES)
		goto out;
	if (c->www_authenticate != NULL && MHD_add_response_header(resp,
	    MHD_HTTP_HEADER_WWW_AUTHENTICATE, c->www_authenticate) != MHD_YES)
		goto out;
	ret = MHD_queue_response(c->conn, (unsigned)c->status, resp);
	/*
	 * a live session's /auth check is not a decision (portaild logs its
	 * session.check under -d only, and nginx's access log has the request):
	 * one line per protected request would flood syslog at thousands a second
	 */
	prio = r->route == R_AUTH && c->status == MHD_HTTP_NO_CONTENT ? LOG_DEBUG : LOG_INFO;
	if (prio != LOG_DEBUG || c->w->debug) {
		client_address(c, peer, sizeof(peer));
		web_log_escape(r->url, path, sizeof(path));
		web_log_escape(r->method, method, sizeof(method));
		web_log(c->w, prio, "client=%s peer=%s method=%s path=%s status=%d op=%s result=%s",
		    c->client, peer, method, path, c->status, c->op ? c->op : "-",
		    c->result ? c->result : "-");
	}
out:
	if (resp != NULL)
		MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
respond_page(struct req *r)
{
	return respond(r, "text/html; charset=utf-8", NULL, 0);
}

static enum MHD_Result
respond_error(struct req *r, int status, enum portail_msg id)
{
	if (r->route == R_INTROSPECT) {         /* a program asks: JSON, not a page */
		web_introspect_error(&r->c, status, id);
		return respond(r, "application/json", NULL, 0);
	}
	page_error(&r->c, status, id);
	return respond_page(r);
}

/* ---- the handler ----------------------------------------------------------------- */

static bool
urlencoded(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The body past this is not even read: the connection closes after the answer. */
#define WEB_DISCARD_MAX (16u * WEB_BODY_MAX)

/*
 * A refusal on the headers of a POST: answered after its body (up to
 * WEB_DISCARD_MAX, thrown away as it comes), or at once when larger.
 */
static enum MHD_Result
refuse_post(struct req *r, unsigned long long length, int status, enum portail_msg id,
    bool *answered)
{
	if (length > WEB_DISCARD_MAX)
		return respond_error(r, status, id);
	r->deferred_status = status;
	r->deferred_msg = id;
	r->too_large = true;            /* nothing of it is kept */
	*answered = false;
	return MHD_YES;
}

/* Checks made on the headers alone; MHD_YES when the body may come. */
static enum MHD_Result
first_call(struct req *r, const char *method, bool *answered)
{
	struct ctx *c = &r->c;
	const char *cl;
	unsigned long long length = 0;
	bool head = strcmp(method, "HEAD") == 0, get = strcmp(method, "GET") == 0;

	*answered = true;
	if (r->route == R_NONE) {
		c->path = "/connexion";
		return respond_error(r, MHD_HTTP_NOT_FOUND, PORTAIL_MSG_WEB_NOT_FOUND);
	}
	c->post = strcmp(method, "POST") == 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (routes[i].route != r->route)
			continue;
		if (routes[i].route == R_INTROSPECT && !c->post) {
			c->allow = "POST";
			return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, PORTAIL_MSG_WEB_METHOD);
		}
		if (!get && !head && !(c->post && routes[i].post)) {
			c->allow = routes[i].post ? "GET, HEAD, POST" : "GET, HEAD";
			return respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, PORTAIL_MSG_WEB_METHOD);
		}
	}
	if (!c->post) {
		*answered = false;
		return MHD_YES;
	}
	cl = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end = NULL;

		errno = 0;
		length = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0')
			return respond_error(r, MHD_HTTP_BAD_REQUEST, PORTAIL_MSG_WEB_BAD_REQUEST);
	}
	if (length > WEB_BODY_MAX)
		return refuse_post(r, length, MHD_HTTP_CONTENT_TOO_LARGE, PORTAIL_MSG_WEB_TOO_LARGE,
		    answered);
	if (!urlencoded(MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE)))
		return refuse_post(r, length, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    PORTAIL_MSG_WEB_MEDIA_TYPE, answered);
	{
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		if (!same_origin(c, peer_trusted(c->w, ci != NULL ? ci->client_addr : NULL)))
			return refuse_post(r, length, MHD_HTTP_FORBIDDEN, PORTAIL_MSG_WEB_FORBIDDEN,
			    answered);
	}
	*answered = false;
	return MHD_YES;
}

static enum MHD_Result
final_call(struct req *r)
{
	struct ctx *c = &r->c;

	if (c->post) {
		enum form_status fs;

		if (r->deferred_status != 0)
			return respond_error(r, r->deferred_status, r->deferred_msg);
		if (r->too_large)
			return respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE, PORTAIL_MSG_WEB_TOO_LARGE);
		fs = form_parse(&c->form, r->body != NULL ? r->body : "", r->len, secret_fields);
		if (fs == FORM_NOMEM)
			return respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, PORTAIL_MSG_UNAVAILABLE);
		if (fs != FORM_OK)
			return respond_error(r, MHD_HTTP_BAD_REQUEST, PORTAIL_MSG_WEB_BAD_REQUEST);
		/* the introspection client authenticates itself: no cookie, no token */
		if (r->route != R_INTROSPECT && !csrf_ok(c))
			return respond_error(r, MHD_HTTP_FORBIDDEN, PORTAIL_MSG_WEB_FORBIDDEN);
	}
	switch (r->route) {
	case R_CSS:
		return respond(r, "text/css; charset=utf-8", web_css, strlen(web_css));
	case R_ROOT:
		/* a browser with a session cookie to its account (which checks it), else to sign in */
		c->status = MHD_HTTP_SEE_OTHER;
		if (web_session(c) != NULL)
			c->location = c->en ? "/compte?lang=en" : "/compte";
		else
			c->location = c->en ? "/connexion?lang=en" : "/connexion";
		return respond(r, "text/plain; charset=utf-8", "", 0);
	case R_CONNEXION:
		page_connexion(c);
		break;
	case R_SIGNUP:
		page_flow(c, false);
		break;
	case R_RESET:
		page_flow(c, true);
		break;
	case R_INTROSPECT:
		web_introspect(c);
		return respond(r, "application/json", NULL, 0);
	case R_COMPTE:
		page_compte(c);
		break;
	case R_DECONNEXION:
		page_deconnexion(c);
		break;
	case R_SOCIAL:
		page_social(c);
		break;
	case R_AUTH:
		/* no page: the status and the header say it all */
		page_auth(c);
		return respond(r, "text/plain; charset=utf-8", "", 0);
	case R_NONE:
		return respond_error(r, MHD_HTTP_NOT_FOUND, PORTAIL_MSG_WEB_NOT_FOUND);
	}
	return respond_page(r);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct web *w = cls;
	struct req *r = *con_cls;

	if (r == NULL) {
		bool answered;
		enum MHD_Result ret;

		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		*con_cls = r;
		r->c.w = w;
		r->c.conn = conn;
		r->c.status = MHD_HTTP_OK;
		html_init(&r->c.html);
		(void)snprintf(r->method, sizeof(r->method), "%s", method);
		r->route = R_NONE;
		r->url = url;
		r->c.path = url;
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
			if (strcmp(url, routes[i].path) == 0) {
				r->route = routes[i].route;
				r->c.path = routes[i].path;
			}
		if (strncmp(url, "/social/", 8) == 0 && url[8] != '\0')
			r->route = R_SOCIAL;    /* c.path stays the URL: social.c reads NAME in it */
		r->c.en = want_english(conn);
		if (r->route != R_INTROSPECT)   /* sets no cookie */
			csrf_token(&r->c);
		if (r->route == R_AUTH)
			r->c.new_csrf = false;  /* nginx's subrequest has no form: no cookie to set */
		{
			char peer[WEB_ADDR_MAX];

			client_address(&r->c, peer, sizeof(peer));
		}
		ret = first_call(r, method, &answered);
		if (answered)
			return ret;
		/*
		 * The answer comes in a later call, a GET's too: one queued in
		 * this first call is an "early" answer to libmicrohttpd, which
		 * then closes the connection after it (no keep-alive).
		 */
		return MHD_YES;         /* a POST's body comes in the next calls */
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		if (!r->too_large && r->len + n <= WEB_BODY_MAX) {
			if (r->body == NULL && (r->body = calloc(1, WEB_BODY_MAX + 1)) == NULL)
				return MHD_NO;
			memcpy(r->body + r->len, upload_data, n);
			r->len += n;
		} else {
			/* over the limit while read (a chunked body): thrown away, then 413 */
			r->too_large = true;
			r->discarded += n;
			if (r->discarded > WEB_DISCARD_MAX)
				return MHD_NO;          /* a stream without end: close */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return final_call(r);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (r == NULL)
		return;
	if (r->body != NULL) {
		sodium_memzero(r->body, WEB_BODY_MAX + 1);
		free(r->body);
	}
	form_wipe(&r->c.form);
	html_free(&r->c.html);
	sodium_memzero(r->c.csrf, sizeof(r->c.csrf));
	sodium_memzero(r->c.new_session, sizeof(r->c.new_session));
	free(r);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct web *w = cls;
	char line[512];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	(void)vsnprintf(line, sizeof(line), fmt, ap);
#pragma GCC diagnostic pop
	line[strcspn(line, "\n")] = '\0';
	web_log(w, LOG_WARNING, "libmicrohttpd: %s", line);
}

struct MHD_Daemon *
web_http_start(struct web *w, int fd)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, w,
	    /* first, or libmicrohttpd logs the options' faults to stderr itself */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)w->cfg->web.threads,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_HEADER_MEMORY,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
	    /* behind a proxy every peer is the proxy */
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)0,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, w,
	    MHD_OPTION_END);
}
