/*
 * web.h — portail-web: the seed's screens as web pages (issue 14).
 *
 * A client of portaild only: it holds no key, no store, no provider
 * secret; every decision is portaild's (libportail-client). This header
 * joins the three parts: portail-web.c (start-up, the listening socket,
 * privileges), http.c (libmicrohttpd, the rules every request passes:
 * methods, bodies, CSRF, Origin, headers, the client's address) and
 * pages.c (the pages themselves).
 */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include "config.h"
#include "form.h"
#include "html.h"

/* A body larger than this is refused (413), by Content-Length or while read. */
#define WEB_BODY_MAX (32u * 1024u)
/* Header memory per connection (libmicrohttpd's pool): 431/413 beyond. */
#define WEB_HEADER_MEMORY (32u * 1024u)
/* The CSRF token: 32 random bytes, base64url without padding. */
#define WEB_CSRF_LEN 43
#define WEB_CSRF_COOKIE "__Host-portail-csrf"
/* An address as text, for logs and portaild's rhost. */
#define WEB_ADDR_MAX 64

struct web_proxy {
	int family;                     /* AF_INET, AF_INET6 */
	unsigned char addr[sizeof(struct in6_addr)];
};

/* A resource server that may introspect tokens (introspect.c). */
#define WEB_CLIENT_HASH 32
struct web_client {
	char id[PORTAIL_CLIENT_ID_MAX + 1];
	unsigned char hash[WEB_CLIENT_HASH];    /* BLAKE2b of its secret, keyed by client_key */
};

struct web {
	portail_config *cfg;
	bool foreground, debug;
	bool to_syslog;                 /* not in the foreground without a syslog socket */
	bool listen_unix;               /* listening on a unix socket */
	bool trust_unix;                /* "unix" in trusted_proxies */
	struct web_proxy proxies[PORTAIL_MAX_PROXIES];
	int n_proxies;
	struct MHD_Daemon *mhd;
	struct web_client clients[PORTAIL_MAX_INTROSPECTION_CLIENTS];
	int n_clients;
	unsigned char client_key[32];   /* random at start: only this process can use the hashes */
};

/* One request, as the pages see it. */
struct ctx {
	struct web *w;
	struct MHD_Connection *conn;
	const char *path;
	bool post;
	bool en;                        /* English: ?lang=en, else Accept-Language */
	char client[WEB_ADDR_MAX];      /* the client: the peer, or X-Forwarded-For from a trusted proxy */
	char csrf[WEB_CSRF_LEN + 1];    /* this browser's token, for the forms */
	bool new_csrf;                  /* csrf is new: set its cookie */
	struct form form;               /* the POST body, decoded */
	/* what the page answers */
	int status;
	struct html html;
	const char *location;           /* a redirect (303) */
	const char *allow;              /* 405's Allow */
	const char *www_authenticate;   /* 401's WWW-Authenticate */
	const char *op;                 /* portaild's op asked, for the log */
	const char *result;             /* its answer, for the log */
};

/* http.c: the libmicrohttpd daemon on fd (a listening socket); NULL on failure. */
struct MHD_Daemon *web_http_start(struct web *w, int fd);

/* The log: syslog (authpriv), and stderr in the foreground. Never a secret. */
void web_log(struct web *w, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s for a log line: at most 64 bytes, blanks, controls, '"', '\\', '=' and non-ASCII as \xHH. */
void web_log_escape(const char *s, char *out, size_t size);

/*
 * introspect.c: POST /oauth2/introspect (RFC 7662). _load reads [web]
 * introspection_client's secrets (before the privilege drop; -1 with a
 * message on stderr); _wipe forgets them. web_introspect fills
 * c->status and c->html with the JSON answer; web_introspect_error does
 * so for a refusal that http.c made (413, 415, 400…).
 */
int web_introspect_load(struct web *w);
void web_introspect_wipe(struct web *w);
void web_introspect(struct ctx *c);
void web_introspect_error(struct ctx *c, int status, enum portail_msg id);

/* pages.c: fill c->status and c->html (or c->location). */
void page_connexion(struct ctx *c);
void page_flow(struct ctx *c, bool reset);
/* An error page: status and one message of the table. */
void page_error(struct ctx *c, int status, enum portail_msg id);
/* The shared UNAVAILABLE message, 503. */
void page_unavailable(struct ctx *c);

/* The stylesheet at /static/portail.css. */
extern const char web_css[];

#endif
