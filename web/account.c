/*
 * account.c — the signed-in pages (issue 14): /compte, /deconnexion, and
 * /auth for nginx auth_request; and the session cookie they read and set.
 *
 * The cookie (__Host-portail) holds portaild's session secret and
 * nothing else: every page asks portaild whether it is still live
 * (session.check), so that a sign-out, a password change or an
 * administrator's disable on one host is seen at once by every web host.
 * /auth alone, asked for every request to a protected app (a page and its
 * assets, at once), may answer from a short cache of live sessions
 * ([web] auth_cache_ms, 1 s by default; Authelia keeps a user's state for
 * its refresh_interval, 5 minutes, the same way): keyed by a keyed hash
 * of the secret, never the secret; emptied after every call to portaild
 * that may end a session, so what is done through this portail-web is
 * seen at once, and what is done elsewhere (another web host, the CLI)
 * within auth_cache_ms. The secret is never logged and is wiped with the
 * request.
 */
#include "web.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "protocol.h"
#include "monotime.h"

#define T(id) portail_msg(PORTAIL_MSG_##id, c->en)
#define TEXT(id) html_msg(&c->html, PORTAIL_MSG_##id, c->en)

/* ---- the cookie ------------------------------------------------------------------ */

const char *
web_session(struct ctx *c)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, WEB_SESSION_COOKIE);

	/* shaped as portaild makes them, or not sent on: junk never reaches portaild */
	if (v == NULL || strnlen(v, WEB_SESSION_LEN + 1) != WEB_SESSION_LEN ||
	    strncmp(v, "pts_", 4) != 0)
		return NULL;
	for (size_t i = 4; i < WEB_SESSION_LEN; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_')
			return NULL;
	return v;
}

/* 303 to path (ours, in the page's language), with a line for a client that does not follow. */
static void
see_other(struct ctx *c, const char *path, const char *path_en, enum portail_msg line)
{
	html_free(&c->html);
	c->status = MHD_HTTP_SEE_OTHER;
	c->location = c->en ? path_en : path;
	page_begin(c, line);
	html_raw(&c->html, "<p><a href=\"");
	html_text(&c->html, c->location);
	html_raw(&c->html, "\">");
	html_msg(&c->html, line, c->en);
	html_raw(&c->html, "</a></p>\n");
	page_end(c);
}

static void
to_connexion(struct ctx *c)
{
	see_other(c, "/connexion", "/connexion?lang=en", PORTAIL_MSG_WEB_SIGNIN_TITLE);
}

bool
web_signed_in(struct ctx *c, json_t *resp)
{
	json_t *s = json_object_get(resp, "session");
	const char *home = c->w->cfg->web.home_url;

	if (!json_is_string(s) || json_string_length(s) != WEB_SESSION_LEN)
		return false;
	memcpy(c->new_session, json_string_value(s), WEB_SESSION_LEN + 1);
	if (home != NULL)
		see_other(c, home, home, PORTAIL_MSG_WEB_CONTINUE);
	else
		see_other(c, "/compte", "/compte?lang=en", PORTAIL_MSG_WEB_ACCOUNT_TITLE);
	return true;
}

/*
 * Asks portaild about the session secret (with the account's records for
 * /compte): true with *resp. Otherwise the page is answered: no session,
 * junk or a dead one → the cookie cleared and a redirect to /connexion;
 * portaild unreachable → 503 (the cookie kept: it may be live).
 */
static bool
check(struct ctx *c, const char *secret, bool records, json_t **resp)
{
	portail_status r;

	*resp = NULL;
	if (secret != NULL) {
		r = ask(c, "session.check", json_pack("{s:s, s:s, s:b}", "op", "session.check",
		    "session", secret, "account", records), resp);
		if (r == PORTAIL_OK && json_is_string(json_object_get(*resp, "email")))
			return true;
		json_decref(*resp);
		*resp = NULL;
		if (is_outage(r)) {
			page_unavailable(c);
			return false;
		}
	}
	/* none, junk or dead: a cookie there is cleared */
	c->end_session = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND,
	    WEB_SESSION_COOKIE) != NULL;
	to_connexion(c);
	return false;
}

/* ---- /compte ------------------------------------------------------------------- */

/* A section of /compte and its heading. */
static void
section(struct ctx *c, enum portail_msg title)
{
	html_raw(&c->html, "<section>\n<h2>");
	html_msg(&c->html, title, c->en);
	html_raw(&c->html, "</h2>\n");
}

/* One sentence of the table in a paragraph. */
static void
para(struct ctx *c, enum portail_msg id)
{
	html_raw(&c->html, "<p>");
	html_msg(&c->html, id, c->en);
	html_raw(&c->html, "</p>\n");
}

/*
 * The shape /compte's lists share: the section and its heading, then
 * down (items NULL: not known now), none (no item), or a list of items,
 * each drawn by item in its <li>.
 */
static void
section_list(struct ctx *c, enum portail_msg title, json_t *items, enum portail_msg down,
    enum portail_msg none, const char *cls, void (*item)(struct ctx *, json_t *))
{
	json_t *it;
	size_t i;

	section(c, title);
	if (items == NULL) {
		para(c, down);
	} else if (json_array_size(items) == 0) {
		para(c, none);
	} else {
		html_raw(&c->html, "<ul class=\"");
		html_text(&c->html, cls);
		html_raw(&c->html, "\">\n");
		json_array_foreach(items, i, it) {
			html_raw(&c->html, "<li>");
			item(c, it);
			html_raw(&c->html, "</li>\n");
		}
		html_raw(&c->html, "</ul>\n");
	}
	html_raw(&c->html, "</section>\n");
}

/* A school's name as [schools] gives it; NULL when it has none. */
static const char *
school_name(struct ctx *c, const char *code)
{
	const portail_config *cfg = c->w->cfg;

	for (int i = 0; i < cfg->n_schools; i++)
		if (strcmp(cfg->schools[i].code, code) == 0)
			return cfg->schools[i].name;
	return NULL;
}

static void
child_item(struct ctx *c, json_t *k)
{
	const char *name = answer_str(k, "name"), *code = answer_str(k, "school");
	const char *school = school_name(c, code);
	char line[512];

	if (*name == '\0')
		name = answer_str(k, "student_id");
	/* "Léa, École primaire des Érables"; without a name, "Léa, école 751001" */
	html_text(&c->html, school != NULL ?
	    portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_CHILD_AT, c->en, name, school) :
	    portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_CHILD, c->en, name, code));
	if (!json_is_true(json_object_get(k, "subscribed"))) {
		html_raw(&c->html, " ");
		TEXT(WEB_NOT_SUBSCRIBED);
	}
}

static void
children(struct ctx *c, json_t *acct)
{
	json_t *kids = strcmp(answer_str(acct, "directory"), "ok") == 0 ?
	    json_object_get(acct, "children") : NULL;

	section_list(c, PORTAIL_MSG_WEB_CHILDREN, json_is_array(kids) ? kids : NULL,
	    PORTAIL_MSG_WEB_RECORDS_DOWN, PORTAIL_MSG_WEB_NO_CHILDREN, "children", child_item);
}

/* The label of a provider by its [provider.NAME]: the configured one's, else the name. */
static const char *
label_of(struct ctx *c, const char *name)
{
	for (int i = 0; i < c->w->cfg->n_providers; i++)
		if (strcmp(c->w->cfg->providers[i].name, name) == 0)
			return provider_label(c, &c->w->cfg->providers[i]);
	return name;
}

/* One form each: a button unlinks its provider, nothing else. */
static void
provider_item(struct ctx *c, json_t *l)
{
	char line[256];

	if (!json_is_string(l))
		return;
	form_to(c, "/compte");
	hidden(c, "provider", json_string_value(l));
	html_raw(&c->html, "<p class=\"actions\"><button type=\"submit\" class=\"secondary\" "
	    "name=\"action\" value=\"unlink\">");
	html_text(&c->html, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_UNLINK, c->en,
	    label_of(c, json_string_value(l))));
	html_raw(&c->html, "</button></p>\n</form>\n");
}

static void
providers(struct ctx *c, json_t *acct)
{
	json_t *links = json_object_get(acct, "links");

	section_list(c, PORTAIL_MSG_WEB_PROVIDERS, json_is_array(links) ? links : NULL,
	    PORTAIL_MSG_WEB_RECORDS_DOWN, PORTAIL_MSG_WEB_NO_PROVIDERS, "links", provider_item);
}

/* ---- devices that stay connected (the account's tokens) ---------------------------- */

/* A date of the token list, as the page says it (local time, ISO 8601 day); 0: never. */
static const char *
day_of(struct ctx *c, json_t *t, const char *key, char *buf, size_t size)
{
	json_int_t v = json_integer_value(json_object_get(t, key));
	time_t when = (time_t)v;
	struct tm tm;

	if (v <= 0 || localtime_r(&when, &tm) == NULL || strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		return T(WEB_NEVER_USED);
	return buf;
}

static void
device_item(struct ctx *c, json_t *t)
{
	char created[32], used[32], expires[32], line[512], id[32];

	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(t, "id")));
	html_raw(&c->html, "<p class=\"device\"><strong>");
	html_text(&c->html, answer_str(t, "label"));
	html_raw(&c->html, "</strong><br>\n");
	html_text(&c->html, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_DEVICE_DATES, c->en,
	    day_of(c, t, "created", created, sizeof(created)),
	    day_of(c, t, "last_used", used, sizeof(used)),
	    day_of(c, t, "expires", expires, sizeof(expires))));
	html_raw(&c->html, "</p>\n");
	form_to(c, "/compte");
	hidden(c, "id", id);
	hidden(c, "label", answer_str(t, "label"));
	html_raw(&c->html, "<p class=\"actions\"><button type=\"submit\" class=\"secondary\" "
	    "name=\"action\" value=\"revoke\">");
	html_text(&c->html, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_REVOKE, c->en,
	    answer_str(t, "label")));
	html_raw(&c->html, "</button></p>\n</form>\n");
}

/* The list (token.list, the session as the proof) and the form that issues one. */
static void
devices(struct ctx *c, const char *secret, const char *email, const char *label_error)
{
	json_t *resp = NULL, *list;
	portail_status r;
	char hint[160];

	r = ask(c, "token.list", json_pack("{s:s, s:s, s:s}", "op", "token.list", "email", email,
	    "session", secret), &resp);
	list = r == PORTAIL_OK ? json_object_get(resp, "tokens") : NULL;
	section_list(c, PORTAIL_MSG_WEB_DEVICES, json_is_array(list) ? list : NULL,
	    PORTAIL_MSG_UNAVAILABLE, PORTAIL_MSG_WEB_NO_DEVICES, "devices", device_item);
	json_decref(resp);
	section(c, PORTAIL_MSG_WEB_APP_PASSWORD);
	form_to(c, "/compte");
	portail_msgf(hint, sizeof(hint), PORTAIL_MSG_WEB_DEVICE_HINT, c->en, WEB_LABEL_MAX);
	field(c, "label", PORTAIL_MSG_WEB_DEVICE_LABEL, IN_LABEL, NULL, false, label_error,
	    label_error != NULL, hint);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "issue", PORTAIL_MSG_WEB_ISSUE, true);
	html_raw(&c->html, "</p>\n</form>\n</section>\n");
}

static void
password_form(struct ctx *c, const char *error)
{
	section(c, PORTAIL_MSG_WEB_CHANGE_PASSWORD);
	form_to(c, "/compte");
	field(c, "old_password", PORTAIL_MSG_WEB_CURRENT_PASSWORD, IN_CURRENT_PASSWORD, NULL, false,
	    NULL, error != NULL, NULL);
	new_password_fields(c, error);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "password", PORTAIL_MSG_WEB_SAVE, true);
	html_raw(&c->html, "</p>\n</form>\n</section>\n");
}

/*
 * /compte for the session secret: its account, done (a notice) or error
 * (the alert, on the password form; label_error: on the device's name).
 */
static void
account_page_with(struct ctx *c, const char *secret, const char *done, const char *error,
    const char *label_error)
{
	json_t *acct = NULL;
	char line[512];

	if (!check(c, secret, true, &acct))
		return;
	html_free(&c->html);
	c->status = MHD_HTTP_OK;
	page_begin(c, PORTAIL_MSG_WEB_ACCOUNT_TITLE);
	summary(c, error != NULL ? error : label_error);
	notice(c, done);
	html_raw(&c->html, "<p class=\"lead\">");
	html_text(&c->html, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_SIGNED_IN, c->en,
	    answer_str(acct, "email")));
	html_raw(&c->html, "</p>\n");
	if (c->w->cfg->web.home_url != NULL) {
		html_raw(&c->html, "<p class=\"actions\"><a class=\"button primary\" href=\"");
		html_text(&c->html, c->w->cfg->web.home_url);
		html_raw(&c->html, "\">");
		TEXT(WEB_CONTINUE);
		html_raw(&c->html, "</a></p>\n");
	}
	children(c, acct);
	providers(c, acct);
	devices(c, secret, answer_str(acct, "email"), label_error);
	password_form(c, error);
	form_to(c, "/deconnexion");
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "signout", PORTAIL_MSG_WEB_SIGN_OUT, false);
	html_raw(&c->html, "</p>\n</form>\n");
	page_end(c);
	json_decref(acct);
}

static void
account_page(struct ctx *c, const char *secret, const char *done, const char *error)
{
	account_page_with(c, secret, done, error, NULL);
}

/* "Délier": social.unlink, the session as the proof. */
static void
unlink_provider(struct ctx *c, const char *secret, const char *email)
{
	const char *provider, *why;
	json_t *resp = NULL;
	portail_status r;
	char line[256];

	provider = value_ok(c, "provider", 32, &why);
	if (provider == NULL || !portail_proto_text_ok(provider, strlen(provider), false)) {
		account_page(c, secret, NULL, T(WEB_REFUSED_OTHER));
		return;
	}
	r = ask(c, "social.unlink", json_pack("{s:s, s:s, s:s, s:s}", "op", "social.unlink",
	    "email", email, "provider", provider, "session", secret), &resp);
	if (is_outage(r)) {
		page_unavailable(c);
	} else if (r == PORTAIL_ERR_REFUSED) {  /* the session died meanwhile */
		c->end_session = true;
		to_connexion(c);
	} else if (r != PORTAIL_OK) {
		account_page(c, secret, NULL, answer_message(c, resp));
	} else {
		account_page(c, secret, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_UNLINKED,
		    c->en, label_of(c, provider)), NULL);
	}
	json_decref(resp);
}

/* "Changer le mot de passe": password.change; every session dies, this browser gets a new one. */
static void
change_password(struct ctx *c, const char *secret, const char *email)
{
	const char *old, *password, *confirmation, *why_o, *why_p, *why_c;
	json_t *resp = NULL, *s;
	portail_status r;
	char line[512];

	old = value_ok(c, "old_password", PORTAIL_PROTO_PASSWORD_MAX, &why_o);
	password = value_ok(c, "password", PORTAIL_PROTO_PASSWORD_MAX, &why_p);
	confirmation = value_ok(c, "confirmation", PORTAIL_PROTO_PASSWORD_MAX, &why_c);
	if (old == NULL || password == NULL || confirmation == NULL) {
		account_page(c, secret, NULL, old == NULL ? why_o : password == NULL ? why_p : why_c);
		return;
	}
	r = ask(c, "password.change", json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "op",
	    "password.change", "email", email, "old_password", old, "password", password,
	    "confirmation", confirmation, "session", 1, "previous_session", secret), &resp);
	s = json_object_get(resp, "session");
	if (is_outage(r)) {
		page_unavailable(c);
	} else if (r != PORTAIL_OK) {
		/* a wrong current password counts as a failed sign-in (portaild's lockout) */
		account_page(c, secret, NULL, answer_message(c, resp));
	} else if (!json_is_string(s) || json_string_length(s) != WEB_SESSION_LEN) {
		/* changed, but no new session (portaild logged why): every session died, sign in again */
		c->end_session = true;
		to_connexion(c);
	} else {
		memcpy(c->new_session, json_string_value(s), WEB_SESSION_LEN + 1);
		account_page(c, c->new_session, portail_msgf(line, sizeof(line),
		    PORTAIL_MSG_WEB_PASSWORD_CHANGED, c->en, email), NULL);
	}
	if (resp != NULL)
		wipe_json_string(s);
	json_decref(resp);
}

/*
 * "Créer le mot de passe": token.issue, the session as the proof. The
 * token is shown once, on this answer to the POST (never in a URL, never
 * logged; the page is no-store like every other and wiped with the
 * request), with how a mail client uses it.
 */
static void
issue_token(struct ctx *c, const char *secret, const char *email)
{
	const char *label, *why;
	json_t *resp = NULL, *t;
	portail_status r;
	char line[512];

	label = value_ok(c, "label", WEB_LABEL_MAX, &why);
	if (label != NULL && !portail_proto_text_ok(label, strlen(label), false))
		label = NULL, why = T(WEB_LABEL_INVALID);
	if (label == NULL) {
		account_page_with(c, secret, NULL, NULL, why);
		return;
	}
	r = ask(c, "token.issue", json_pack("{s:s, s:s, s:s, s:s}", "op", "token.issue",
	    "email", email, "label", label, "session", secret), &resp);
	t = json_object_get(resp, "token");
	if (is_outage(r)) {
		page_unavailable(c);
	} else if (r == PORTAIL_ERR_REFUSED) {  /* the session died meanwhile */
		c->end_session = true;
		to_connexion(c);
	} else if (r != PORTAIL_OK || !json_is_string(t)) {
		account_page_with(c, secret, NULL, NULL, answer_message(c, resp));
	} else {
		html_free(&c->html);
		c->status = MHD_HTTP_OK;
		page_begin(c, PORTAIL_MSG_WEB_ISSUED_TITLE);
		notice(c, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_TOKEN_ONCE, c->en, label));
		html_raw(&c->html, "<p class=\"token\"><code id=\"token\">");
		html_text(&c->html, json_string_value(t));
		html_raw(&c->html, "</code></p>\n<p>");
		html_text(&c->html, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_TOKEN_HOWTO,
		    c->en, email));
		html_raw(&c->html, "</p>\n<p class=\"actions\">");
		link_to(c, "/compte", PORTAIL_MSG_WEB_BACK_ACCOUNT, "button primary");
		html_raw(&c->html, "</p>\n");
		page_end(c);
		sodium_memzero(line, sizeof(line));
	}
	if (resp != NULL)
		wipe_json_string(t);
	json_decref(resp);
}

/* "Révoquer": token.revoke of one id, the session as the proof; twice, or another's: refused. */
static void
revoke_token(struct ctx *c, const char *secret, const char *email)
{
	const char *id = form_get(&c->form, "id"), *label = form_get(&c->form, "label");
	json_t *resp = NULL;
	portail_status r;
	char line[512];
	long long n = 0;
	size_t len = id != NULL ? strnlen(id, 19) : 0;

	for (size_t i = 0; i < len; i++)
		if (id[i] < '0' || id[i] > '9')
			len = 0;
	if (len == 0 || len > 18 || (n = strtoll(id, NULL, 10)) <= 0) {
		account_page(c, secret, NULL, T(OPS_NO_SUCH_TOKEN));
		return;
	}
	if (label == NULL || !portail_proto_text_ok(label, strlen(label), false) ||
	    strlen(label) > WEB_LABEL_MAX)
		label = "";
	r = ask(c, "token.revoke", json_pack("{s:s, s:s, s:I, s:s}", "op", "token.revoke",
	    "email", email, "id", (json_int_t)n, "session", secret), &resp);
	if (is_outage(r)) {
		page_unavailable(c);
	} else if (r == PORTAIL_ERR_REFUSED) {
		c->end_session = true;
		to_connexion(c);
	} else if (r != PORTAIL_OK) {
		account_page(c, secret, NULL, answer_message(c, resp));
	} else {
		account_page(c, secret, portail_msgf(line, sizeof(line), PORTAIL_MSG_WEB_REVOKED,
		    c->en, label), NULL);
	}
	json_decref(resp);
}

void
page_compte(struct ctx *c)
{
	const char *secret = web_session(c), *action;
	json_t *who = NULL;
	char email[PORTAIL_PROTO_EMAIL_MAX + 1];

	c->status = MHD_HTTP_OK;
	if (!c->post) {
		account_page(c, secret, NULL, NULL);
		return;
	}
	if (!check(c, secret, false, &who))
		return;
	snprintf(email, sizeof(email), "%s", answer_str(who, "email"));
	json_decref(who);
	action = form_get(&c->form, "action");
	if (action != NULL && strcmp(action, "unlink") == 0)
		unlink_provider(c, secret, email);
	else if (action != NULL && strcmp(action, "password") == 0)
		change_password(c, secret, email);
	else if (action != NULL && strcmp(action, "issue") == 0)
		issue_token(c, secret, email);
	else if (action != NULL && strcmp(action, "revoke") == 0)
		revoke_token(c, secret, email);
	else
		account_page(c, secret, NULL, NULL);
}

/* ---- /deconnexion ------------------------------------------------------------------ */

void
page_deconnexion(struct ctx *c)
{
	const char *secret = web_session(c);
	json_t *resp = NULL;
	portail_status r;

	if (!c->post) {
		c->allow = "POST";
		page_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, PORTAIL_MSG_WEB_METHOD);
		return;
	}
	if (secret != NULL) {
		r = ask(c, "session.revoke", json_pack("{s:s, s:s}", "op", "session.revoke",
		    "session", secret), &resp);
		json_decref(resp);
		/* not revoked: say so, and keep the cookie to try again (it may be live) */
		if (is_outage(r)) {
			page_unavailable(c);
			return;
		}
	}
	c->end_session = true;
	see_other(c, "/connexion", "/connexion?lang=en", PORTAIL_MSG_WEB_SIGNED_OUT);
}

/* ---- /auth's cache of live sessions ----------------------------------------------------- */

/*
 * Direct-mapped: a slot per keyed hash's first bytes (the key is this
 * process's, so no one can aim sessions at one slot), the newest answer
 * in it. An answer is good for auth_cache_ms and for the generation it
 * was asked in: a flush starts a new one, so an answer portaild gave
 * before a sign-out (a check that crossed it) is never kept after it.
 */
#define AUTH_CACHE_SLOTS 1024

struct auth_slot {
	unsigned char id[crypto_generichash_BYTES];
	uint64_t gen;                   /* 0: empty */
	long long until;                /* ms, CLOCK_MONOTONIC */
	char user[256];
};

struct web_auth_cache {
	pthread_mutex_t lock;
	unsigned char key[crypto_generichash_KEYBYTES];
	uint64_t gen;
	struct auth_slot slots[AUTH_CACHE_SLOTS];
};

bool
web_auth_cache_init(struct web *w)
{
	struct web_auth_cache *ac;

	w->auth_cache = NULL;
	if (w->cfg->web.auth_cache_ms <= 0)
		return true;
	/* calloc: untouched slots cost no resident memory */
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return false;
	pthread_mutex_init(&ac->lock, NULL);
	randombytes_buf(ac->key, sizeof(ac->key));
	ac->gen = 1;
	w->auth_cache = ac;
	return true;
}

void
web_auth_cache_flush(struct web *w)
{
	struct web_auth_cache *ac = w->auth_cache;

	if (ac == NULL)
		return;
	pthread_mutex_lock(&ac->lock);
	ac->gen++;
	pthread_mutex_unlock(&ac->lock);
}

void
web_auth_cache_free(struct web *w)
{
	struct web_auth_cache *ac = w->auth_cache;

	if (ac == NULL)
		return;
	pthread_mutex_destroy(&ac->lock);
	sodium_memzero(ac, sizeof(*ac));
	free(ac);
	w->auth_cache = NULL;
}

static struct auth_slot *
auth_slot(struct web_auth_cache *ac, const unsigned char id[crypto_generichash_BYTES])
{
	uint32_t i;

	memcpy(&i, id, sizeof(i));
	return &ac->slots[i % AUTH_CACHE_SLOTS];
}

/* The live session's address into user; false when not kept. *gen: the generation now. */
static bool
auth_cached(struct web_auth_cache *ac, const unsigned char id[crypto_generichash_BYTES],
    char *user, size_t size, uint64_t *gen)
{
	struct auth_slot *s = auth_slot(ac, id);
	long long now = portail_mono_ms();
	bool hit;

	pthread_mutex_lock(&ac->lock);
	*gen = ac->gen;
	hit = s->gen == ac->gen && now < s->until && sodium_memcmp(s->id, id, sizeof(s->id)) == 0 &&
	    strlen(s->user) < size;
	if (hit)
		memcpy(user, s->user, strlen(s->user) + 1);
	pthread_mutex_unlock(&ac->lock);
	return hit;
}

/* Keeps portaild's answer, asked in generation gen: not if a flush came since. */
static void
auth_keep(struct web_auth_cache *ac, const unsigned char id[crypto_generichash_BYTES],
    const char *user, uint64_t gen, int ttl_ms)
{
	struct auth_slot *s = auth_slot(ac, id);
	size_t n = strlen(user);

	if (n >= sizeof(s->user))
		return;
	pthread_mutex_lock(&ac->lock);
	if (gen == ac->gen) {
		memcpy(s->id, id, sizeof(s->id));
		memcpy(s->user, user, n + 1);
		s->gen = gen;
		s->until = portail_mono_ms() + ttl_ms;
	}
	pthread_mutex_unlock(&ac->lock);
}

/* ---- /auth (nginx auth_request) ------------------------------------------------------ */

/*
 * 204 with X-Portail-User when the cookie's session is live, 401
 * otherwise: nginx's auth_request takes 2xx as allowed, 401 and 403 as
 * refused, and turns anything else into a 500 for the browser. So
 * portaild unreachable is 401 too (the site's error_page sends the
 * browser to /connexion, which says the service is unavailable), told
 * apart by X-Portail-Status: unavailable for the site's log.
 */
void
page_auth(struct ctx *c)
{
	struct web_auth_cache *ac = c->w->auth_cache;
	const char *secret = web_session(c), *email;
	unsigned char id[crypto_generichash_BYTES];
	json_t *resp = NULL;
	portail_status r;
	uint64_t gen = 0;
	size_t n;

	c->status = MHD_HTTP_UNAUTHORIZED;
	if (secret == NULL) {
		c->op = "session.check";
		c->result = "no_session";
		return;
	}
	if (ac != NULL) {
		crypto_generichash(id, sizeof(id), (const unsigned char *)secret, strlen(secret),
		    ac->key, sizeof(ac->key));
		if (auth_cached(ac, id, c->user, sizeof(c->user), &gen)) {
			c->op = "session.check";
			c->result = "cached";
			c->status = MHD_HTTP_NO_CONTENT;
			sodium_memzero(id, sizeof(id));
			return;
		}
	}
	r = ask(c, "session.check", json_pack("{s:s, s:s}", "op", "session.check",
	    "session", secret), &resp);
	email = json_string_value(json_object_get(resp, "email"));
	n = email != NULL ? strlen(email) : 0;
	if (r == PORTAIL_OK && n > 0 && n < sizeof(c->user) && portail_proto_text_ok(email, n, false)) {
		memcpy(c->user, email, n + 1);
		c->status = MHD_HTTP_NO_CONTENT;
		if (ac != NULL)
			auth_keep(ac, id, c->user, gen, c->w->cfg->web.auth_cache_ms);
	} else if (is_outage(r)) {
		c->auth_status = "unavailable";
	}
	sodium_memzero(id, sizeof(id));
	json_decref(resp);
}
