/*
 * introspect.c — POST /oauth2/introspect (RFC 7662) for portail tokens,
 * what Dovecot's passdb oauth2 and other OAuth2 resource servers call.
 *
 * - Each resource server is a client of its own ([web]
 *   introspection_client = ID FILE), authenticated by HTTP Basic (RFC
 *   6749 §2.3.1). The secrets are read before the privilege drop and
 *   kept only as keyed BLAKE2b hashes; a presented secret is hashed the
 *   same way and compared in constant time, whatever the id.
 * - Portail tokens are app passwords valid for every service (PAM's
 *   "tokens", SASL's OAUTHBEARER, this): nothing binds one to a
 *   service, so every configured client may introspect every token. The
 *   client authentication keeps the endpoint from being a token oracle
 *   for anyone who can reach it.
 * - The answer is portaild's token.verify: {"active":true,"username":
 *   ADDRESS,"exp":N,"token_type":"Bearer"}, or {"active":false} with
 *   nothing else for a token that is unknown, expired, revoked, of a
 *   disabled or expired account (RFC 7662 §2.2: no reason given). An
 *   outage is 503, never "inactive": a resource server must not take it
 *   for a revoked token.
 * - No cookie, no CSRF token: nothing here rides on a browser's ambient
 *   credentials but the Basic ones, which http.c's Origin and
 *   Sec-Fetch-Site checks keep from cross-site pages.
 */
#include "web.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "portail-client.h"
#include "protocol.h"

/* A secret: long enough that guessing it online is hopeless (≥ 190 bits). */
#define SECRET_MIN 32
#define SECRET_MAX 256
/* "ID:SECRET" in base64, at most. */
#define BASIC_B64_MAX (((PORTAIL_CLIENT_ID_MAX + 1 + SECRET_MAX + 2) / 3) * 4)

static const char url_safe[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

static void
secret_hash(const struct web *w, const char *secret, size_t len,
    unsigned char out[WEB_CLIENT_HASH])
{
	crypto_generichash(out, WEB_CLIENT_HASH, (const unsigned char *)secret, len,
	    w->client_key, sizeof(w->client_key));
}

int
web_introspect_load(struct web *w)
{
	const struct portail_web_config *web = &w->cfg->web;
	portail_error err = { { 0 } };

	randombytes_buf(w->client_key, sizeof(w->client_key));
	for (int i = 0; i < web->n_clients; i++) {
		struct web_client *c = &w->clients[i];
		char *secret = NULL;
		size_t n;

		if (portail_secret_read(web->clients[i].secret_file, &secret, &err) != PORTAIL_OK) {
			fprintf(stderr, "portail-web: [web] introspection_client %s: %s\n",
			    web->clients[i].id, err.message);
			return -1;
		}
		n = strlen(secret);
		if (n < SECRET_MIN || n > SECRET_MAX || strspn(secret, url_safe) != n) {
			fprintf(stderr, "portail-web: [web] introspection_client %s: %s: the secret "
			    "must be %d to %d characters from A-Z a-z 0-9 . _ - (try: openssl rand "
			    "-hex 32)\n", web->clients[i].id, web->clients[i].secret_file, SECRET_MIN,
			    SECRET_MAX);
			portail_secret_free(secret);
			return -1;
		}
		(void)snprintf(c->id, sizeof(c->id), "%s", web->clients[i].id);
		secret_hash(w, secret, n, c->hash);
		portail_secret_free(secret);
		w->n_clients++;
	}
	return 0;
}

void
web_introspect_wipe(struct web *w)
{
	sodium_memzero(w->clients, sizeof(w->clients));
	sodium_memzero(w->client_key, sizeof(w->client_key));
	w->n_clients = 0;
}

/* The answer: obj (consumed) as compact JSON in c->html. */
static void
answer(struct ctx *c, int status, json_t *obj)
{
	char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	c->status = status;
	if (text == NULL) {
		/* out of memory: no JSON we can build; 503 with the smallest one */
		c->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		html_raw(&c->html, "{\"error\":\"temporarily_unavailable\"}");
		return;
	}
	html_raw(&c->html, text);
	free(text);
}

/* An RFC 6749 §5.2 error, its description from the message table (in English). */
static void
answer_error(struct ctx *c, int status, const char *code, enum portail_msg id)
{
	answer(c, status, json_pack("{s:s, s:s}", "error", code, "error_description",
	    portail_msg(id, true)));
}

void
web_introspect_error(struct ctx *c, int status, enum portail_msg id)
{
	answer_error(c, status, status == MHD_HTTP_SERVICE_UNAVAILABLE ?
	    "temporarily_unavailable" : "invalid_request", id);
}

/* "ID:SECRET" decoded from the Basic header into buf (wiped by the caller); false when absent or bad. */
static bool
basic_credentials(struct ctx *c, char *buf, size_t size, size_t *len)
{
	const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *b64;
	size_t n;
	bool ok;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	b64 = h + 6 + strspn(h + 6, " ");
	n = strcspn(b64, " \t");
	ok = n > 0 && n <= BASIC_B64_MAX && b64[n + strspn(b64 + n, " \t")] == '\0' &&
	    sodium_base642bin((unsigned char *)buf, size - 1, b64, n, NULL, len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) == 0;
	/* the header holds the secret too: not needed past this point */
	sodium_memzero((void *)(uintptr_t)h, strlen(h));
	if (!ok)
		return false;
	buf[*len] = '\0';
	return memchr(buf, '\0', *len) == NULL;
}

/*
 * The client the Basic credentials name, or NULL. The secret's hash is
 * compared with every client's in constant time; the id, which is not
 * secret, picks which comparison counts.
 */
static const struct web_client *
authenticate(struct ctx *c, char *id_out, size_t id_size)
{
	const struct web *w = c->w;
	const struct web_client *found = NULL;
	char creds[PORTAIL_CLIENT_ID_MAX + 1 + SECRET_MAX + 3];
	unsigned char hash[WEB_CLIENT_HASH];
	size_t len = 0;
	char *colon;

	id_out[0] = '\0';
	if (!basic_credentials(c, creds, sizeof(creds), &len) ||
	    (colon = strchr(creds, ':')) == NULL)
		goto out;
	*colon = '\0';
	{
		size_t k = strnlen(creds, id_size - 1);      /* for the log: cut */

		memcpy(id_out, creds, k);
		id_out[k] = '\0';
	}
	secret_hash(w, colon + 1, len - (size_t)(colon + 1 - creds), hash);
	for (int i = 0; i < w->n_clients; i++) {
		bool same_secret = sodium_memcmp(hash, w->clients[i].hash, sizeof(hash)) == 0;

		if (strcmp(w->clients[i].id, creds) == 0 && same_secret)
			found = &w->clients[i];
	}
out:
	sodium_memzero(creds, sizeof(creds));
	sodium_memzero(hash, sizeof(hash));
	return found;
}

/* A portail token's shape, before portaild is asked: printable ASCII within the protocol's bound. */
static bool
token_shape_ok(const char *t, size_t n)
{
	if (n == 0 || n > PORTAIL_PROTO_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return false;
	return true;
}

/*
 * portaild's token.verify for token; *resp its answer on OK. Through ask():
 * the thread's kept connection to portaild (http.c), as every page uses, and
 * the token wiped from the request once sent.
 */
static portail_status
verify(struct ctx *c, const char *token, json_t **resp)
{
	portail_status r = ask(c, "token.verify",
	    json_pack("{s:s, s:s}", "op", "token.verify", "token", token), resp);

	if (r != PORTAIL_OK) {
		json_decref(*resp);
		*resp = NULL;
	}
	c->result = r == PORTAIL_OK ? "active" : portail_proto_error_name(r);
	return r;
}

void
web_introspect(struct ctx *c)
{
	char id[PORTAIL_CLIENT_ID_MAX + 1], id_log[PORTAIL_CLIENT_ID_MAX * 4 + 1];
	const struct web_client *client = authenticate(c, id, sizeof(id));
	json_t *resp = NULL;
	const char *token, *email;
	size_t n = 0;
	portail_status r;

	if (client == NULL) {
		/*
		 * For fail2ban and the admin: the id when it is one of ours (else
		 * it may be a secret typed in the wrong place), escaped anyway.
		 */
		bool known = false;

		for (int i = 0; i < c->w->n_clients; i++)
			known = known || strcmp(c->w->clients[i].id, id) == 0;
		web_log_escape(known ? id : "-", id_log, sizeof(id_log));
		web_log(c->w, LOG_WARNING, "introspection: client authentication failed: "
		    "client=%s id=%s", c->client, id_log);
		sodium_memzero(id, sizeof(id));
		c->www_authenticate = "Basic realm=\"portail introspection\", charset=\"UTF-8\"";
		c->result = "invalid_client";
		answer_error(c, MHD_HTTP_UNAUTHORIZED, "invalid_client", PORTAIL_MSG_WEB_CLIENT_AUTH);
		return;
	}
	if ((token = form_getn(&c->form, "token", &n)) == NULL || n == 0) {
		answer_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request", PORTAIL_MSG_WEB_TOKEN_MISSING);
		return;
	}
	/* token_type_hint (RFC 7662 §2.1) is optional and ignored: there is one kind */
	if (!token_shape_ok(token, n)) {
		c->op = "-";
		c->result = "inactive";
		answer(c, MHD_HTTP_OK, json_pack("{s:b}", "active", 0));
		return;
	}
	r = verify(c, token, &resp);
	if (r == PORTAIL_OK &&
	    (email = json_string_value(json_object_get(resp, "email"))) != NULL &&
	    json_is_integer(json_object_get(resp, "expires"))) {
		answer(c, MHD_HTTP_OK, json_pack("{s:b, s:s, s:I, s:s}", "active", 1,
		    "username", email, "exp", json_integer_value(json_object_get(resp, "expires")),
		    "token_type", "Bearer"));
	} else if (r == PORTAIL_OK || is_outage(r)) {
		/* an answer without its fields is portaild's fault, not the token's */
		answer_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
		    PORTAIL_MSG_UNAVAILABLE);
	} else {
		c->result = "inactive";
		answer(c, MHD_HTTP_OK, json_pack("{s:b}", "active", 0));
	}
	json_decref(resp);
}
