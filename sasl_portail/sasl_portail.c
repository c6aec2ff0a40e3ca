/*
 * sasl_portail — Cyrus SASL mechanisms OAUTHBEARER (RFC 7628) and XOAUTH2
 * that accept portail tokens ("rester connecté"), for Postfix, Cyrus
 * IMAP, Prosody or slapd, and the client side of both.
 *
 * The server side asks portaild (token.verify) through libportail-client:
 * no key, no store, no directory in the host. Options come from the
 * application's SASL configuration, prefixed because Cyrus shares one
 * option namespace: portail_socket, portail_timeout (ms).
 *
 * The mechanisms are plaintext-equivalent (a bearer token travels as is):
 * SASL_SEC_NOANONYMOUS only, as Dovecot marks them; use them over TLS.
 *
 * Connections to portaild are kept between exchanges, a few per plugin
 * instance (a server verifies a token for every mail client connection,
 * and connecting cost as much as the verification); a kept connection
 * the daemon closed is reopened by libportail-client, and one from
 * before a fork() is never used by the child.
 *
 * We are a guest: no globals, no stderr, no exit(); memory through the
 * SASL utils; the token wiped after use; logs through utils->log, never
 * the token.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <jansson.h>

#include "portail-client.h"
#include "protocol.h"

#define SASL_PORTAIL_EXPORT __attribute__((visibility("default")))

/* A token is 47 characters; anything near this size is garbage. */
#define MESSAGE_MAX 4096

enum mech { OAUTHBEARER, XOAUTH2 };
enum state { WANT_RESPONSE, ERROR_SENT };

/* Idle connections kept per plugin instance. */
#define POOL_MAX 8

/* What the server side's glob_context points to: one per sasl_server_plug_init. */
struct server_glob {
	pthread_mutex_t lock;
	int refs;                       /* mechanisms not yet freed */
	size_t n_idle;
	struct {
		portail_client *pc;
		char *options;          /* "socket\ntimeout" it was made with */
	} idle[POOL_MAX];
	sasl_server_plug_t plugins[2];
	struct server_mech {
		enum mech mech;
		struct server_glob *g;
	} mechs[2];
};

struct server_conn {
	enum mech mech;
	struct server_glob *g;
	enum state state;
	char *out;              /* the error challenge, utils-allocated */
};

static const char oauthbearer_error[] = "{\"status\":\"invalid_token\"}";
static const char xoauth2_error[] = "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"\"}";

static void
wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

/* ---- parsing ------------------------------------------------------------------- */

struct parsed {
	char *authzid;          /* OAUTHBEARER a=, XOAUTH2 user=; may be NULL */
	char *token;
};

/* RFC 5801 saslname: "=2C" is ',', "=3D" is '='; anything else after '=' is an error. */
static bool
unescape_saslname(char *s)
{
	char *w = s;

	for (char *c = s; *c; c++) {
		if (*c == '=') {
			if (strncmp(c, "=2C", 3) == 0)
				*w++ = ',';
			else if (strncmp(c, "=3D", 3) == 0)
				*w++ = '=';
			else
				return false;
			c += 2;
		} else if (*c == ',') {
			return false;
		} else {
			*w++ = *c;
		}
	}
	*w = '\0';
	return true;
}

/*
 * Finds "auth=Bearer TOKEN" among \x01-separated key=value pairs that end
 * with an empty pair; unknown keys are ignored. For XOAUTH2, "user=" too.
 * kv points into buf (NUL-terminated, no other NUL).
 */
static bool
parse_kvpairs(char *kv, bool xoauth2, struct parsed *p)
{
	char *c = kv;

	for (;;) {
		char *end = strchr(c, '\x01');

		if (end == NULL)
			return false;           /* not terminated */
		if (end == c)
			break;                  /* the empty pair: done */
		*end = '\0';
		if (strncmp(c, "auth=", 5) == 0) {
			const char *v = c + 5;

			if (p->token != NULL || strncasecmp(v, "Bearer ", 7) != 0)
				return false;   /* twice, or another scheme */
			v += 7;
			while (*v == ' ')
				v++;
			if (*v == '\0')
				return false;
			p->token = (char *)(uintptr_t)v;
		} else if (xoauth2 && strncmp(c, "user=", 5) == 0) {
			if (p->authzid != NULL)
				return false;
			p->authzid = c + 5;
		} else if (strchr(c, '=') == NULL) {
			return false;           /* not key=value */
		}
		c = end + 1;
	}
	return c[1] == '\0' && p->token != NULL && (!xoauth2 || p->authzid != NULL);
}

/* OAUTHBEARER: gs2-header "n,[a=authzid]," then the key=value pairs. */
static bool
parse_oauthbearer(char *buf, struct parsed *p)
{
	char *c = buf, *comma;

	if ((c[0] != 'n' && c[0] != 'y') || c[1] != ',')
		return false;           /* "p=" would be channel binding: not offered */
	c += 2;
	if ((comma = strchr(c, ',')) == NULL)
		return false;
	*comma = '\0';
	if (*c != '\0') {
		if (strncmp(c, "a=", 2) != 0 || !unescape_saslname(c + 2) || c[2] == '\0')
			return false;
		p->authzid = c + 2;
	}
	if (comma[1] != '\x01')
		return false;
	return parse_kvpairs(comma + 2, false, p);
}

static bool
parse_xoauth2(char *buf, struct parsed *p)
{
	return parse_kvpairs(buf, true, p);
}

/*
 * What a well-formed message may carry, checked before portaild is
 * asked: the token is RFC 6750's b64token (RFC 7628 §3.1) no longer than
 * the protocol takes; the authzid is UTF-8 text (RFC 5801 saslname) no
 * longer than an address, without a control character. A client that
 * sends anything else has a fault to fix: SASL_BADPROT, as Cyrus's own
 * mechanisms answer a malformed message; NULL when all is well, else
 * what is wrong, for the log.
 */
static const char *
check_parsed(const struct parsed *p)
{
	size_t n = strlen(p->token), eq;

	if (n > PORTAIL_PROTO_TOKEN_MAX)
		return "token longer than 128 bytes";
	eq = strspn(p->token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/");
	if (eq == 0 || strspn(p->token + eq, "=") != n - eq)
		return "token not a b64token";
	if (p->authzid != NULL) {
		size_t a = strlen(p->authzid);

		if (a > PORTAIL_PROTO_EMAIL_MAX)
			return "authzid longer than 254 bytes";
		if (!portail_proto_text_ok(p->authzid, a, false))
			return "authzid not UTF-8 text (a control character, or invalid UTF-8)";
	}
	return NULL;
}

/* ---- server ---------------------------------------------------------------------- */

static int
server_new(void *glob, sasl_server_params_t *sparams, const char *challenge,
    unsigned challen, void **conn_context)
{
	struct server_conn *c = sparams->utils->malloc(sizeof(*c));

	if (c == NULL)
		return SASL_NOMEM;
	memset(c, 0, sizeof(*c));
	c->mech = ((struct server_mech *)glob)->mech;
	c->g = ((struct server_mech *)glob)->g;
	*conn_context = c;
	return SASL_OK;
}

static void
server_dispose(void *conn_context, const sasl_utils_t *utils)
{
	struct server_conn *c = conn_context;

	if (c == NULL)
		return;
	if (c->out != NULL)
		utils->free(c->out);
	utils->free(c);
}

/* portail_timeout bounds: an hour is more than any deadline of portaild's. */
#define TIMEOUT_MAX_MS 3600000

/* A whole number of milliseconds, 1 to TIMEOUT_MAX_MS, and nothing else. */
static bool
parse_timeout(const char *text, int *ms)
{
	char *end = NULL;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return false;           /* strtol would take blanks and a sign */
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 1 || v > TIMEOUT_MAX_MS)
		return false;
	*ms = (int)v;
	return true;
}

/*
 * A connection for the application's options: a kept one made with the
 * same options, or a new one. *options (utils-allocated) goes back to
 * pool_put with it.
 */
static portail_client *
pool_get(struct server_glob *g, const sasl_utils_t *utils, char **options)
{
	const char *socket = NULL, *timeout = NULL;
	unsigned len = 0;
	portail_client *pc = NULL;
	size_t n;
	int ms = 0;

	*options = NULL;
	if (utils->getopt != NULL) {
		utils->getopt(utils->getopt_context, "portail", "portail_socket", &socket, &len);
		utils->getopt(utils->getopt_context, "portail", "portail_timeout", &timeout, &len);
	}
	if (timeout != NULL && !parse_timeout(timeout, &ms)) {
		utils->log(utils->conn, SASL_LOG_WARN,
		    "portail: portail_timeout must be a whole number of ms from 1 to %d; "
		    "using the default", TIMEOUT_MAX_MS);
		ms = 0;
	}
	n = strlen(socket ? socket : "") + strlen(timeout ? timeout : "") + 2;
	if ((*options = utils->malloc(n)) == NULL)
		return NULL;
	snprintf(*options, n, "%s\n%s", socket ? socket : "", timeout ? timeout : "");
	pthread_mutex_lock(&g->lock);
	while (g->n_idle > 0 && pc == NULL) {
		g->n_idle--;
		if (strcmp(g->idle[g->n_idle].options, *options) == 0)
			pc = g->idle[g->n_idle].pc;
		else
			portail_client_free(g->idle[g->n_idle].pc);
		utils->free(g->idle[g->n_idle].options);
	}
	pthread_mutex_unlock(&g->lock);
	if (pc == NULL && portail_client_new(socket, ms, &pc) != PORTAIL_OK) {
		utils->free(*options);
		*options = NULL;
		return NULL;
	}
	return pc;
}

/* Keeps a connection that answered (keep), or closes it; takes options. */
static void
pool_put(struct server_glob *g, const sasl_utils_t *utils, portail_client *pc, char *options,
    bool keep)
{
	if (pc == NULL)
		return;
	(void)portail_client_set_origin(pc, NULL, NULL);
	pthread_mutex_lock(&g->lock);
	if (keep && g->n_idle < POOL_MAX) {
		g->idle[g->n_idle].pc = pc;
		g->idle[g->n_idle++].options = options;
		pc = NULL;
		options = NULL;
	}
	pthread_mutex_unlock(&g->lock);
	portail_client_free(pc);
	if (options != NULL)
		utils->free(options);
}

static int
server_step(void *conn_context, sasl_server_params_t *sparams, const char *clientin,
    unsigned clientinlen, const char **serverout, unsigned *serveroutlen,
    sasl_out_params_t *oparams)
{
	struct server_conn *c = conn_context;
	const sasl_utils_t *utils = sparams->utils;
	struct parsed p = { NULL, NULL };
	portail_client *pc = NULL;
	portail_error err = { { 0 } };
	json_t *req = NULL, *resp = NULL;
	char *buf = NULL, *options = NULL;
	const char *why;
	portail_status st = PORTAIL_ERR_UNAVAILABLE;
	int rc = SASL_BADPROT;

	*serverout = NULL;
	*serveroutlen = 0;
	if (c->state == ERROR_SENT) {
		/* RFC 7628: the client acknowledges the error with \x01 (XOAUTH2: empty) */
		return SASL_BADAUTH;
	}
	if (clientin == NULL)
		return SASL_CONTINUE;   /* no initial response: ask for one (empty challenge) */
	if (clientinlen == 0 || clientinlen > MESSAGE_MAX || memchr(clientin, '\0', clientinlen)) {
		utils->log(utils->conn, SASL_LOG_ERR, "portail: malformed %s message",
		    c->mech == OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2");
		return SASL_BADPROT;
	}
	if ((buf = utils->malloc(clientinlen + 1)) == NULL)
		return SASL_NOMEM;
	memcpy(buf, clientin, clientinlen);
	buf[clientinlen] = '\0';
	if (!(c->mech == OAUTHBEARER ? parse_oauthbearer(buf, &p) : parse_xoauth2(buf, &p))) {
		utils->log(utils->conn, SASL_LOG_ERR, "portail: malformed %s message",
		    c->mech == OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2");
		rc = SASL_BADPROT;
		goto out;
	}
	if ((why = check_parsed(&p)) != NULL) {
		utils->log(utils->conn, SASL_LOG_ERR, "portail: malformed %s message: %s",
		    c->mech == OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2", why);
		rc = SASL_BADPROT;
		goto out;
	}
	if ((pc = pool_get(c->g, utils, &options)) == NULL) {
		rc = SASL_UNAVAIL;
		goto out;
	}
	(void)portail_client_set_origin(pc, sparams->service, sparams->ipremoteport);
	req = json_pack("{s:s, s:s}", "op", "token.verify", "token", p.token);
	/* never without the authzid the client named */
	if (req != NULL && p.authzid != NULL &&
	    json_object_set_new(req, "email", json_string(p.authzid)) != 0) {
		portail_proto_wipe_secrets(req);
		json_decref(req);
		req = NULL;
	}
	st = req ? portail_client_call(pc, req, &resp, &err) : PORTAIL_ERR_NOMEM;
	portail_proto_wipe_secrets(req);      /* the token: the protocol's list of secrets */
	if (st == PORTAIL_OK) {
		const char *email = json_string_value(json_object_get(resp, "email"));

		if (email == NULL) {
			rc = SASL_FAIL;
			goto out;
		}
		/* the identity is the account's address as the parent typed it */
		rc = sparams->canon_user(utils->conn, email, 0,
		    SASL_CU_AUTHID | SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED, oparams);
		if (rc != SASL_OK)
			goto out;
		oparams->doneflag = 1;
		oparams->mech_ssf = 0;
		oparams->maxoutbuf = 0;
		oparams->encode_context = NULL;
		oparams->encode = NULL;
		oparams->decode_context = NULL;
		oparams->decode = NULL;
		oparams->param_version = 0;
		rc = SASL_OK;
		goto out;
	}
	if (st == PORTAIL_ERR_REFUSED || st == PORTAIL_ERR_DISABLED || st == PORTAIL_ERR_EXPIRED ||
	    st == PORTAIL_ERR_UNKNOWN || st == PORTAIL_ERR_INVALID || st == PORTAIL_ERR_LOCKED) {
		/* the error challenge, then SASL_BADAUTH once the client acknowledges */
		const char *e = c->mech == OAUTHBEARER ? oauthbearer_error : xoauth2_error;
		size_t n = strlen(e);

		utils->log(utils->conn, SASL_LOG_NOTE, "portail: token refused: %s", err.message);
		if ((c->out = utils->malloc(n + 1)) == NULL) {
			rc = SASL_NOMEM;
			goto out;
		}
		memcpy(c->out, e, n + 1);
		*serverout = c->out;
		*serveroutlen = (unsigned)n;
		c->state = ERROR_SENT;
		rc = SASL_CONTINUE;
		goto out;
	}
	if (st == PORTAIL_ERR_BUSY) {
		/* too much in hand from this service's user: a moment later may work */
		utils->log(utils->conn, SASL_LOG_WARN, "portail: portaild busy: %s", err.message);
		rc = SASL_TRYAGAIN;
		goto out;
	}
	if (st == PORTAIL_ERR_PROTOCOL) {
		/* this plugin and portaild disagree on the protocol: not an outage */
		utils->log(utils->conn, SASL_LOG_ERR, "portail: portaild refused the request as "
		    "malformed (bad_request: a bug or a version mismatch): %s", err.message);
		rc = SASL_BADPROT;
		goto out;
	}
	if (st == PORTAIL_ERR_NOMEM) {
		utils->log(utils->conn, SASL_LOG_ERR, "portail: out of memory");
		rc = SASL_NOMEM;
		goto out;
	}
	utils->log(utils->conn, SASL_LOG_ERR, "portail: portaild unavailable: %s", err.message);
	rc = SASL_UNAVAIL;
out:
	json_decref(req);
	json_decref(resp);
	/* a connection that answered is kept; after an outage, a new one */
	pool_put(c->g, utils, pc, options, st == PORTAIL_OK || st == PORTAIL_ERR_REFUSED ||
	    st == PORTAIL_ERR_BUSY || st == PORTAIL_ERR_INVALID || st == PORTAIL_ERR_LOCKED ||
	    st == PORTAIL_ERR_PROTOCOL ||
	    st == PORTAIL_ERR_DISABLED || st == PORTAIL_ERR_EXPIRED || st == PORTAIL_ERR_UNKNOWN);
	if (buf != NULL) {
		wipe(buf, clientinlen);
		utils->free(buf);
	}
	return rc;
}

static void
server_free(void *glob, const sasl_utils_t *utils)
{
	struct server_glob *g = ((struct server_mech *)glob)->g;
	bool last;

	pthread_mutex_lock(&g->lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&g->lock);
	if (!last)
		return;
	for (size_t i = 0; i < g->n_idle; i++) {
		portail_client_free(g->idle[i].pc);
		utils->free(g->idle[i].options);
	}
	pthread_mutex_destroy(&g->lock);
	utils->free(g);
}

static const sasl_server_plug_t server_plugins[] = {
	{ .mech_name = "OAUTHBEARER", .security_flags = SASL_SEC_NOANONYMOUS,
	  .features = SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY,
	  .mech_new = server_new, .mech_step = server_step, .mech_dispose = server_dispose,
	  .mech_free = server_free },
	{ .mech_name = "XOAUTH2", .security_flags = SASL_SEC_NOANONYMOUS,
	  .features = SASL_FEAT_WANT_CLIENT_FIRST,
	  .mech_new = server_new, .mech_step = server_step, .mech_dispose = server_dispose,
	  .mech_free = server_free },
};

SASL_PORTAIL_EXPORT int sasl_server_plug_init(const sasl_utils_t *utils, int maxversion,
    int *out_version, sasl_server_plug_t **pluglist, int *plugcount);
SASL_PORTAIL_EXPORT int sasl_client_plug_init(const sasl_utils_t *utils, int maxversion,
    int *out_version, sasl_client_plug_t **pluglist, int *plugcount);

SASL_PORTAIL_EXPORT int
sasl_server_plug_init(const sasl_utils_t *utils, int maxversion, int *out_version,
    sasl_server_plug_t **pluglist, int *plugcount)
{
	struct server_glob *g;

	if (maxversion < SASL_SERVER_PLUG_VERSION) {
		utils->seterror(utils->conn, 0, "portail: SASL server plugin version too old");
		return SASL_BADVERS;
	}
	if ((g = utils->malloc(sizeof(*g))) == NULL)
		return SASL_NOMEM;
	memset(g, 0, sizeof(*g));
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		utils->free(g);
		return SASL_FAIL;
	}
	g->refs = 2;
	for (int i = 0; i < 2; i++) {
		g->plugins[i] = server_plugins[i];
		g->mechs[i].mech = i == 0 ? OAUTHBEARER : XOAUTH2;
		g->mechs[i].g = g;
		g->plugins[i].glob_context = &g->mechs[i];
	}
	*out_version = SASL_SERVER_PLUG_VERSION;
	*pluglist = g->plugins;
	*plugcount = 2;
	return SASL_OK;
}

/* ---- client ---------------------------------------------------------------------- */

struct client_conn {
	enum mech mech;
	int step;
	char *out;
	unsigned outlen;
};

static int
client_new(void *glob, sasl_client_params_t *cparams, void **conn_context)
{
	struct client_conn *c = cparams->utils->malloc(sizeof(*c));

	if (c == NULL)
		return SASL_NOMEM;
	memset(c, 0, sizeof(*c));
	c->mech = (enum mech)(uintptr_t)glob;
	*conn_context = c;
	return SASL_OK;
}

static void
client_dispose(void *conn_context, const sasl_utils_t *utils)
{
	struct client_conn *c = conn_context;

	if (c == NULL)
		return;
	if (c->out != NULL) {
		wipe(c->out, c->outlen);
		utils->free(c->out);
	}
	utils->free(c);
}

/*
 * A simple callback's value, NULL when the application gives none (or an
 * empty one). libsasl2 answers SASL_CB_AUTHNAME itself when the
 * application does not ($USER): that is never the parent's address, so
 * SASL_CB_USER is asked first.
 */
static const char *
get_simple(const sasl_utils_t *utils, unsigned long id)
{
	sasl_getsimple_t *fn = NULL;
	void *ctx = NULL;
	const char *v = NULL;
	unsigned len = 0;

	if (utils->getcallback(utils->conn, id, (sasl_callback_ft *)&fn, &ctx) != SASL_OK ||
	    fn == NULL || fn(ctx, (int)id, &v, &len) != SASL_OK || v == NULL || v[0] == '\0')
		return NULL;
	return v;
}

/* RFC 5801 saslname: ',' is "=2C" and '=' is "=3D"; *out is utils-allocated. */
static int
escape_saslname(const sasl_utils_t *utils, const char *in, char **out)
{
	size_t n = 1, w = 0;

	for (const char *c = in; *c; c++)
		n += *c == ',' || *c == '=' ? 3 : 1;
	if ((*out = utils->malloc(n)) == NULL)
		return SASL_NOMEM;
	for (const char *c = in; *c; c++) {
		if (*c == ',' || *c == '=') {
			memcpy(*out + w, *c == ',' ? "=2C" : "=3D", 3);
			w += 3;
		} else {
			(*out)[w++] = *c;
		}
	}
	(*out)[w] = '\0';
	return SASL_OK;
}

/*
 * The address the parent signs in as is the authorization identity, as
 * in Cyrus's PLAIN client: SASL_CB_USER when the application gives one
 * (imtest -u, curl), else SASL_CB_AUTHNAME; the token comes from
 * SASL_CB_PASS, as the other bearer plugins do. OAUTHBEARER escapes the
 * authzid of its GS2 header (RFC 5801 "=2C", "=3D"); XOAUTH2's user= is
 * sent as it is (only \x01 separates its fields).
 */
static int
client_step(void *conn_context, sasl_client_params_t *cparams, const char *serverin,
    unsigned serverinlen, sasl_interact_t **prompt_need, const char **clientout,
    unsigned *clientoutlen, sasl_out_params_t *oparams)
{
	struct client_conn *c = conn_context;
	const sasl_utils_t *utils = cparams->utils;
	sasl_getsecret_t *getpass = NULL;
	void *pass_ctx = NULL;
	const char *user, *authname;
	char *name = NULL;
	sasl_secret_t *secret = NULL;
	int rc;

	*clientout = NULL;
	*clientoutlen = 0;
	if (c->step > 0) {
		/* the server's error challenge: acknowledge it, and that is all */
		if (c->mech == OAUTHBEARER) {
			*clientout = "\x01";
			*clientoutlen = 1;
		}
		oparams->doneflag = 1;
		return SASL_OK;
	}
	authname = get_simple(utils, SASL_CB_AUTHNAME);
	if ((user = get_simple(utils, SASL_CB_USER)) == NULL)
		user = authname;
	if (authname == NULL)
		authname = user;
	if (user == NULL) {
		utils->seterror(utils->conn, 0,
		    "portail: no SASL_CB_USER or SASL_CB_AUTHNAME (the address)");
		return SASL_BADPARAM;
	}
	if (utils->getcallback(utils->conn, SASL_CB_PASS, (sasl_callback_ft *)&getpass,
	    &pass_ctx) != SASL_OK || getpass == NULL ||
	    getpass(utils->conn, pass_ctx, SASL_CB_PASS, &secret) != SASL_OK || secret == NULL) {
		utils->seterror(utils->conn, 0, "portail: no SASL_CB_PASS (the token)");
		return SASL_BADPARAM;
	}
	if (!portail_proto_text_ok(user, strlen(user), false) ||
	    memchr(secret->data, '\x01', secret->len) != NULL ||
	    memchr(secret->data, '\0', secret->len) != NULL) {
		utils->seterror(utils->conn, 0, "portail: address or token not encodable");
		return SASL_BADPARAM;
	}
	if (c->mech == OAUTHBEARER && (rc = escape_saslname(utils, user, &name)) != SASL_OK)
		return rc;
	{
		size_t n = strlen(name ? name : user) + secret->len + 64;
		int w;

		if ((c->out = utils->malloc(n)) == NULL) {
			rc = SASL_NOMEM;
			goto out;
		}
		if (c->mech == OAUTHBEARER)
			w = snprintf(c->out, n, "n,a=%s,\x01" "auth=Bearer %.*s\x01\x01",
			    name, (int)secret->len, (const char *)secret->data);
		else
			w = snprintf(c->out, n, "user=%s\x01" "auth=Bearer %.*s\x01\x01",
			    user, (int)secret->len, (const char *)secret->data);
		if (w < 0 || (size_t)w >= n) {
			rc = SASL_FAIL;
			goto out;
		}
		c->outlen = (unsigned)w;
	}
	if (strcmp(user, authname) == 0) {
		rc = cparams->canon_user(utils->conn, user, 0, SASL_CU_AUTHID | SASL_CU_AUTHZID,
		    oparams);
	} else {
		rc = cparams->canon_user(utils->conn, user, 0, SASL_CU_AUTHZID, oparams);
		if (rc == SASL_OK)
			rc = cparams->canon_user(utils->conn, authname, 0, SASL_CU_AUTHID, oparams);
	}
	if (rc != SASL_OK)
		goto out;
	oparams->mech_ssf = 0;
	oparams->maxoutbuf = 0;
	oparams->encode = NULL;
	oparams->decode = NULL;
	oparams->param_version = 0;
	*clientout = c->out;
	*clientoutlen = c->outlen;
	c->step = 1;
	(void)serverin;
	(void)serverinlen;
	(void)prompt_need;
	/* not SASL_OK: the server may still answer with its error challenge,
	 * which this mechanism must acknowledge (RFC 7628 §3.2.3) */
	rc = SASL_CONTINUE;
out:
	if (name != NULL)
		utils->free(name);
	return rc;
}

static sasl_client_plug_t client_plugins[] = {
	{ .mech_name = "OAUTHBEARER", .security_flags = SASL_SEC_NOANONYMOUS,
	  .features = SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY,
	  .glob_context = (void *)(uintptr_t)OAUTHBEARER, .mech_new = client_new,
	  .mech_step = client_step, .mech_dispose = client_dispose },
	{ .mech_name = "XOAUTH2", .security_flags = SASL_SEC_NOANONYMOUS,
	  .features = SASL_FEAT_WANT_CLIENT_FIRST,
	  .glob_context = (void *)(uintptr_t)XOAUTH2, .mech_new = client_new,
	  .mech_step = client_step, .mech_dispose = client_dispose },
};

SASL_PORTAIL_EXPORT int
sasl_client_plug_init(const sasl_utils_t *utils, int maxversion, int *out_version,
    sasl_client_plug_t **pluglist, int *plugcount)
{
	if (maxversion < SASL_CLIENT_PLUG_VERSION) {
		utils->seterror(utils->conn, 0, "portail: SASL client plugin version too old");
		return SASL_BADVERS;
	}
	*out_version = SASL_CLIENT_PLUG_VERSION;
	*pluglist = client_plugins;
	*plugcount = 2;
	return SASL_OK;
}
