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

#include <jansson.h>

#include "config.h"
#include "portail-client.h"
#include "form.h"
#include "html.h"

/* A body larger than this is refused (413), by Content-Length or while read. */
#define WEB_BODY_MAX (32u * 1024u)
/*
 * Header memory per connection (libmicrohttpd's pool): 431/413 beyond.
 * libmicrohttpd zeroes the whole pool between two requests of a
 * connection, so each kept-alive connection holds all of it resident:
 * 16 KiB puts 1,000 of them at about 22 MiB (32 KiB: 37.5 MiB). It takes
 * request headers of about 7.5 KiB (about half the pool: 32 KiB took
 * about 15); from 8 KiB they are 431, and just under that libmicrohttpd
 * closes without an answer (as it did just under 16 KiB with 32 KiB).
 */
#define WEB_HEADER_MEMORY (16u * 1024u)
/* The CSRF token: 32 random bytes, base64url without padding. */
#define WEB_CSRF_LEN 43
#define WEB_CSRF_COOKIE "__Host-portail-csrf"
/* The browser session: portaild's secret (codes.h, "pts_" + 43), nothing else. */
#define WEB_SESSION_COOKIE "__Host-portail"
#define WEB_SESSION_LEN 47
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
	struct web_auth_cache *auth_cache;      /* account.c: /auth's answers; NULL: none */
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
	char new_session[WEB_SESSION_LEN + 1];  /* a session to set in the cookie (a secret) */
	bool end_session;               /* the session cookie cleared */
	char user[256];                 /* /auth: X-Portail-User ("": none) */
	const char *auth_status;        /* /auth: X-Portail-Status (unavailable) */
	/* social.c: the sign-in state cookie set (its secret) or cleared; a redirect's target */
	char oauth_cookie[64];
	bool end_oauth;
	char redirect[2048];
	/*
	 * The language toggle (page_begin): a link to this page's path in the
	 * other language, or to toggle_path when set (a page whose URL must not
	 * be replayed: the redirect URI's single-use state). On a step of a flow
	 * (step_default set), a submit button of the step's own form (form="step",
	 * step_form) whose formaction is toggle_path in the other language and
	 * action "show": the step is drawn again with what the parent typed, no
	 * JavaScript needed. Before it, hidden, the button Enter presses (the
	 * form's default button is its first in tree order): step_default, the
	 * step's primary action.
	 */
	const char *toggle_path;
	const char *step_default;
	const char *op;                 /* portaild's op asked, for the log */
	const char *result;             /* its answer, for the log */
};

/*
 * account.c: /auth's cache of live sessions ([web] auth_cache_ms): made
 * at start (false out of memory), flushed after every call to portaild
 * that may end a session (ask), wiped and freed at exit.
 */
bool web_auth_cache_init(struct web *w);
void web_auth_cache_flush(struct web *w);
void web_auth_cache_free(struct web *w);

/* http.c: the libmicrohttpd daemon on fd (a listening socket); NULL on failure. */
struct MHD_Daemon *web_http_start(struct web *w, int fd);

/*
 * http.c: this thread's handle on portaild, kept from one request to the
 * next (a connection per thread of the pool, not one per request; the
 * handle reconnects when portaild closed it), freed when the thread
 * ends. Borrowed; NULL out of memory. One thread uses it at a time.
 */
portail_client *web_portaild(struct web *w);

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

/* pages.c: the parts of a page, for account.c. */
enum input_kind { IN_EMAIL, IN_CURRENT_PASSWORD, IN_NEW_PASSWORD, IN_CODE, IN_LABEL };
/* A token's label (a device's name): token.issue's bound. */
#define WEB_LABEL_MAX 64
void page_begin(struct ctx *c, enum portail_msg title);
void page_end(struct ctx *c);
/* The role="alert" summary (text NULL or "": none); a notice that is not an error. */
void summary(struct ctx *c, const char *text);
void notice(struct ctx *c, const char *text);
/* A form posted to path, its CSRF field in it; a hidden field. */
void form_to(struct ctx *c, const char *path);
/*
 * The form of a flow's step, id "step" (the toggle's, see step_default):
 * form_to's, and the hidden field "step" naming it for action=show.
 */
void step_form(struct ctx *c, const char *path, const char *step);
void hidden(struct ctx *c, const char *name, const char *value);
void field(struct ctx *c, const char *name, enum portail_msg label, enum input_kind kind,
    const char *value, bool readonly, const char *error, bool invalid, const char *hint);
void button(struct ctx *c, const char *action, enum portail_msg label, bool primary);
/* "Nouveau mot de passe" (with its hint) and "Confirmation", marked invalid with an error. */
void new_password_fields(struct ctx *c, const char *error);
void link_to(struct ctx *c, const char *path, enum portail_msg label, const char *cls);
/* A provider's name as the buttons say it (Google, Facebook…; else its [provider.NAME]). */
const char *provider_label(struct ctx *c, const struct portail_provider_config *p);
/*
 * Sends req (consumed: its secret strings wiped) to portaild as op; *resp
 * the answer when there is one (a refusal's too). An outage, not a
 * refusal: is_outage.
 */
portail_status ask(struct ctx *c, const char *op, json_t *req, json_t **resp);
bool is_outage(portail_status r);
void wipe_json_string(json_t *v);
const char *answer_str(json_t *resp, const char *key);
const char *answer_message(struct ctx *c, json_t *resp);
/* A form field present, not empty, within max bytes; NULL with *why. */
const char *value_ok(struct ctx *c, const char *name, size_t max, const char **why);

/*
 * account.c: the signed-in pages. /compte (GET; POST for unlink and the
 * password), /deconnexion (POST), /auth (nginx auth_request). The
 * session cookie the browser sent: NULL when absent or not shaped like
 * one. After a sign-in (resp: portaild's answer with its "session"), the
 * cookie set and the redirect to home_url or /compte.
 */
void page_compte(struct ctx *c);
void page_deconnexion(struct ctx *c);
void page_auth(struct ctx *c);
const char *web_session(struct ctx *c);
bool web_signed_in(struct ctx *c, json_t *resp);

/*
 * social.c: /social/NAME (to the provider, the state cookie set),
 * /social/NAME/retour (its redirect URI: signed in, or the school
 * address asked), /social/NAME/lien (the address, code and save steps).
 */
#define WEB_OAUTH_COOKIE "__Host-portail-oauth"
void page_social(struct ctx *c);

/* The stylesheet at /static/portail.css. */
extern const char web_css[];

#endif
