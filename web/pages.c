/*
 * pages.c — the seed's screens (reference/portail-parents-creation-de-compte.txt):
 * /connexion, /inscription, /mot-de-passe-oublie, and the error pages.
 *
 * Every text comes from lib/messages.def (section "the web pages") or
 * from portaild's answer, and reaches the page through html_text, which
 * escapes it. A step's state travels in the form itself: the address,
 * and between the code and the password the ticket portaild gave for the
 * code, in a hidden field — a secret, wiped with the page and the form,
 * never logged. Nothing is kept here between two requests.
 */
#include "web.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <microhttpd.h>

#include "portail-client.h"
#include "protocol.h"

#define T(id) portail_msg(PORTAIL_MSG_##id, c->en)
#define TEXT(id) html_msg(&c->html, PORTAIL_MSG_##id, c->en)

/* ---- the frame of every page ---------------------------------------------- */

void
page_begin(struct ctx *c, enum portail_msg title)
{
	struct html *h = &c->html;

	html_raw(h, "<!DOCTYPE html>\n<html lang=\"");
	html_raw(h, c->en ? "en" : "fr");
	html_raw(h, "\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	html_msg(h, title, c->en);
	html_raw(h, " — ");
	TEXT(WEB_TITLE);
	html_raw(h, "</title>\n<link rel=\"stylesheet\" href=\"/static/portail.css\">\n</head>\n<body>\n"
	    "<header>\n<p class=\"brand\">");
	TEXT(WEB_TITLE);
	/* the toggle, after the name as it is shown (reading and focus order):
	 * this page (its first step), or where toggle_path says, in the other
	 * language; on a flow's step, a button of the step's form (step_default) */
	html_raw(h, "</p>\n");
	if (c->step_default != NULL) {
		/* Enter in a field presses the form's first button in tree order: the step's own */
		html_raw(h, "<button type=\"submit\" form=\"step\" name=\"action\" value=\"");
		html_text(h, c->step_default);
		html_raw(h, "\" hidden></button>\n<button type=\"submit\" form=\"step\" formaction=\"");
		html_text(h, c->toggle_path != NULL ? c->toggle_path : c->path);
		html_raw(h, c->en ? "?lang=fr\" formnovalidate class=\"lang\" name=\"action\" value=\"show\" "
		    "lang=\"fr\">" : "?lang=en\" formnovalidate class=\"lang\" name=\"action\" value=\"show\" "
		    "lang=\"en\">");
		TEXT(WEB_OTHER_LANG);
		html_raw(h, "</button>\n");
	} else {
		html_raw(h, "<a class=\"lang\" href=\"");
		html_text(h, c->toggle_path != NULL ? c->toggle_path : c->path);
		html_raw(h, c->en ? "?lang=fr\" lang=\"fr\" hreflang=\"fr\">" :
		    "?lang=en\" lang=\"en\" hreflang=\"en\">");
		TEXT(WEB_OTHER_LANG);
		html_raw(h, "</a>\n");
	}
	html_raw(h, "</header>\n<main>\n<h1>");
	html_msg(h, title, c->en);
	html_raw(h, "</h1>\n");
}

void
page_end(struct ctx *c)
{
	html_raw(&c->html, "</main>\n</body>\n</html>\n");
}

/* The role="alert" summary; its id is what the fields point at. */
void
summary(struct ctx *c, const char *text)
{
	if (text == NULL || *text == '\0')
		return;
	html_raw(&c->html, "<div class=\"alert\" role=\"alert\" id=\"summary\"><p>");
	html_text(&c->html, text);
	html_raw(&c->html, "</p></div>\n");
}

/* A notice that is not an error (the code was sent). */
void
notice(struct ctx *c, const char *text)
{
	if (text == NULL || *text == '\0')
		return;
	html_raw(&c->html, "<p class=\"notice\" role=\"status\">");
	html_text(&c->html, text);
	html_raw(&c->html, "</p>\n");
}

static void
form_open(struct ctx *c, const char *path, const char *id)
{
	struct html *h = &c->html;

	html_raw(h, "<form method=\"post\"");
	if (id != NULL) {
		html_raw(h, " id=\"");
		html_text(h, id);
		html_raw(h, "\"");
	}
	html_raw(h, " action=\"");
	html_text(h, path);
	html_raw(h, c->en ? "?lang=en\">\n" : "?lang=fr\">\n");
	html_raw(h, "<input type=\"hidden\" name=\"csrf\" value=\"");
	html_text(h, c->csrf);
	html_raw(h, "\">\n");
}

void
form_to(struct ctx *c, const char *path)
{
	form_open(c, path, NULL);
}

void
step_form(struct ctx *c, const char *path, const char *step)
{
	form_open(c, path, "step");
	hidden(c, "step", step);
}

static void
form_begin(struct ctx *c)
{
	form_to(c, c->path);
}

void
hidden(struct ctx *c, const char *name, const char *value)
{
	html_raw(&c->html, "<input type=\"hidden\" name=\"");
	html_text(&c->html, name);
	html_raw(&c->html, "\" value=\"");
	html_text(&c->html, value);
	html_raw(&c->html, "\">\n");
}


/*
 * One labelled input. error: its message (NULL: none); with_summary: the
 * summary also describes it. hint: a message shown under the label.
 */
void
field(struct ctx *c, const char *name, enum portail_msg label, enum input_kind kind,
    const char *value, bool readonly, const char *error, bool invalid, const char *hint)
{
	struct html *h = &c->html;
	static const char *const attrs[] = {
		[IN_EMAIL] = "type=\"text\" inputmode=\"email\" autocomplete=\"email\" "
		    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"254\"",
		[IN_CURRENT_PASSWORD] = "type=\"password\" autocomplete=\"current-password\"",
		[IN_NEW_PASSWORD] = "type=\"password\" autocomplete=\"new-password\"",
		[IN_CODE] = "type=\"text\" inputmode=\"text\" autocomplete=\"one-time-code\" "
		    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\"",
		[IN_LABEL] = "type=\"text\" autocomplete=\"off\" maxlength=\"64\"",
	};

	html_raw(h, "<div class=\"field\">\n<label for=\"");
	html_text(h, name);
	html_raw(h, "\">");
	html_msg(h, label, c->en);
	html_raw(h, "</label>\n");
	if (hint != NULL) {
		html_raw(h, "<p class=\"hint\" id=\"");
		html_text(h, name);
		html_raw(h, "-hint\">");
		html_text(h, hint);
		html_raw(h, "</p>\n");
	}
	html_raw(h, "<input id=\"");
	html_text(h, name);
	html_raw(h, "\" name=\"");
	html_text(h, name);
	html_raw(h, "\" ");
	html_raw(h, attrs[kind]);
	if (value != NULL) {
		html_raw(h, " value=\"");
		html_text(h, value);
		html_raw(h, "\"");
	}
	if (readonly)
		html_raw(h, " readonly");
	else
		html_raw(h, " required");
	if (error != NULL || invalid) {
		html_raw(h, " aria-invalid=\"true\" aria-describedby=\"");
		if (error != NULL) {
			html_text(h, name);
			html_raw(h, "-error");
		} else {
			html_raw(h, "summary");
		}
		if (hint != NULL) {
			html_raw(h, " ");
			html_text(h, name);
			html_raw(h, "-hint");
		}
		html_raw(h, "\"");
	} else if (hint != NULL) {
		html_raw(h, " aria-describedby=\"");
		html_text(h, name);
		html_raw(h, "-hint\"");
	}
	html_raw(h, ">\n");
	if (error != NULL) {
		html_raw(h, "<p class=\"error\" id=\"");
		html_text(h, name);
		html_raw(h, "-error\">");
		html_text(h, error);
		html_raw(h, "</p>\n");
	}
	html_raw(h, "</div>\n");
}

/*
 * A submit button. The secondary ones (Obtenir un nouveau code, Modifier le
 * courriel) need no field filled in: formnovalidate, or the browser would
 * stop them at the empty, required code field.
 */
void
button(struct ctx *c, const char *action, enum portail_msg label, bool primary)
{
	html_raw(&c->html, primary ? "<button type=\"submit\" class=\"primary\" name=\"action\" value=\"" :
	    "<button type=\"submit\" class=\"secondary\" formnovalidate name=\"action\" value=\"");
	html_text(&c->html, action);
	html_raw(&c->html, "\">");
	html_msg(&c->html, label, c->en);
	html_raw(&c->html, "</button>\n");
}

/* A link to one of our pages, in the page's language. */
void
link_to(struct ctx *c, const char *path, enum portail_msg label, const char *cls)
{
	html_raw(&c->html, "<a class=\"");
	html_text(&c->html, cls);
	html_raw(&c->html, "\" href=\"");
	html_text(&c->html, path);
	html_raw(&c->html, c->en ? "?lang=en\">" : "?lang=fr\">");
	html_msg(&c->html, label, c->en);
	html_raw(&c->html, "</a>");
}

static void
cancel(struct ctx *c)
{
	html_raw(&c->html, "<p class=\"actions\">");
	link_to(c, "/connexion", PORTAIL_MSG_WEB_CANCEL, "button secondary");
	html_raw(&c->html, "</p>\n");
}

/* ---- talking to portaild --------------------------------------------------- */

void
wipe_json_string(json_t *v)
{
	if (json_is_string(v))
		sodium_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
}

/* An outage, not a refusal: the 503 page. */
bool
is_outage(portail_status r)
{
	return r == PORTAIL_ERR_UNAVAILABLE || r == PORTAIL_ERR_BUSY || r == PORTAIL_ERR_IO ||
	    r == PORTAIL_ERR_NOMEM || r == PORTAIL_ERR_PROTOCOL || r == PORTAIL_ERR_CONFIG ||
	    r == PORTAIL_ERR_FORBIDDEN;
}

/*
 * Sends req (consumed: its secret strings are wiped) as op; *resp gets
 * the answer when there is one (also for a refusal, for its message).
 */
portail_status
ask(struct ctx *c, const char *op, json_t *req, json_t **resp)
{
	portail_client *cl = NULL;
	portail_error err = { { 0 } };
	json_t *answer = NULL;
	portail_status r = PORTAIL_ERR_NOMEM;

	*resp = NULL;
	c->op = op;
	if (req == NULL)
		goto out;
	/* the thread's kept connection (http.c), not one per call */
	r = PORTAIL_ERR_NOMEM;
	if ((cl = web_portaild(c->w)) == NULL ||
	    (r = portail_client_set_origin(cl, "portail-web", c->client)) != PORTAIL_OK ||
	    (r = portail_client_set_lang(cl, c->en ? "en" : "fr")) != PORTAIL_OK)
		goto out;
	r = portail_client_call(cl, req, &answer, &err);
	*resp = answer;
	/*
	 * anything but a check may have ended a session (a sign-out, a
	 * password change or reset, a sign-in that replaced one): /auth's
	 * cache starts again, whatever the answer (an outage may hide a
	 * write that was made)
	 */
	if (strcmp(op, "session.check") != 0)
		web_auth_cache_flush(c->w);
out:
	if (req != NULL) {
		/* the ops' fields that carry secrets (portail_proto_secret_fields) */
		portail_proto_wipe_secrets(req);
		json_decref(req);
	}
	c->result = r == PORTAIL_OK ? "ok" : portail_proto_error_name(r);
	return r;
}

const char *
answer_str(json_t *resp, const char *key)
{
	const char *s = json_string_value(json_object_get(resp, key));

	return s != NULL ? s : "";
}

/* The answer's message for the parent, or ours when it has none. */
const char *
answer_message(struct ctx *c, json_t *resp)
{
	const char *m = json_string_value(json_object_get(resp, "message"));

	return m != NULL && *m != '\0' ? m : T(WEB_REFUSED_OTHER);
}

/* A value fit to send: present, not empty, within max bytes. */
const char *
value_ok(struct ctx *c, const char *name, size_t max, const char **why)
{
	size_t n = 0;
	const char *v = form_getn(&c->form, name, &n);

	if (v == NULL || n == 0) {
		*why = T(WEB_FIELD_REQUIRED);
		return NULL;
	}
	if (n > max) {
		*why = T(WEB_TOO_LONG);
		return NULL;
	}
	*why = NULL;
	return v;
}

/* ---- /connexion -------------------------------------------------------------- */

static const struct {
	const char *kind;
	enum portail_msg label;
} kinds[] = {
	{ "facebook", PORTAIL_MSG_WEB_FACEBOOK },
	{ "microsoft", PORTAIL_MSG_WEB_MICROSOFT },
	{ "google", PORTAIL_MSG_WEB_GOOGLE },
	{ "linkedin", PORTAIL_MSG_WEB_LINKEDIN },
};

const char *
provider_label(struct ctx *c, const struct portail_provider_config *p)
{
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(p->kind, kinds[k].kind) == 0)
			return portail_msg(kinds[k].label, c->en);
	return p->name;
}

static void
signin_form(struct ctx *c, const char *email, const char *error)
{
	const portail_config *cfg = c->w->cfg;

	page_begin(c, PORTAIL_MSG_WEB_SIGNIN_TITLE);
	html_raw(&c->html, "<p class=\"lead\">");
	TEXT(WEB_SUBSCRIBED);
	html_raw(&c->html, "</p>\n");
	summary(c, error);
	if (cfg->n_providers > 0) {
		html_raw(&c->html, "<section class=\"social\">\n<h2>");
		TEXT(WEB_SOCIAL);
		html_raw(&c->html, "</h2>\n<ul class=\"providers\">\n");
		for (int i = 0; i < cfg->n_providers; i++) {
			const struct portail_provider_config *p = &cfg->providers[i];
			const char *label = provider_label(c, p);

			/* links, not forms: form-action 'self' would block the redirect */
			html_raw(&c->html, "<li><a class=\"button social-");
			html_text(&c->html, p->kind);
			html_raw(&c->html, "\" href=\"/social/");
			html_text(&c->html, p->name);
			html_raw(&c->html, "\">");
			html_text(&c->html, label);
			html_raw(&c->html, "</a></li>\n");
		}
		html_raw(&c->html, "</ul>\n</section>\n<p class=\"or\">");
		TEXT(WEB_OR);
		html_raw(&c->html, "</p>\n");
	}
	html_raw(&c->html, "<section>\n<h2>");
	TEXT(WEB_EXISTING);
	html_raw(&c->html, "</h2>\n");
	form_begin(c);
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, false, NULL, error != NULL, NULL);
	field(c, "password", PORTAIL_MSG_WEB_PASSWORD, IN_CURRENT_PASSWORD, NULL, false, NULL,
	    error != NULL, NULL);
	html_raw(&c->html, "<p>");
	link_to(c, "/mot-de-passe-oublie", PORTAIL_MSG_WEB_FORGOT, "small");
	html_raw(&c->html, "</p>\n<p class=\"actions\">");
	button(c, "signin", PORTAIL_MSG_WEB_SIGN_IN, true);
	html_raw(&c->html, "</p>\n</form>\n</section>\n<p class=\"signup\">");
	TEXT(WEB_NO_ACCOUNT);
	html_raw(&c->html, " ");
	link_to(c, "/inscription", PORTAIL_MSG_WEB_SIGN_UP_NOW, "");
	html_raw(&c->html, "</p>\n");
	page_end(c);
}

void
page_connexion(struct ctx *c)
{
	const char *email, *password, *why = NULL, *access;
	json_t *req, *resp = NULL;
	portail_status r;

	c->status = MHD_HTTP_OK;
	if (!c->post) {
		signin_form(c, NULL, NULL);
		return;
	}
	email = value_ok(c, "email", PORTAIL_PROTO_EMAIL_MAX, &why);
	password = value_ok(c, "password", PORTAIL_PROTO_PASSWORD_MAX, &why);
	if (email == NULL || password == NULL || !portail_proto_text_ok(email, strlen(email), false)) {
		/* not asked (portaild would call it a bad request): the same refusal as a wrong password */
		c->op = "auth.password";
		c->result = "refused";
		signin_form(c, form_get(&c->form, "email"), T(WEB_REFUSED));
		return;
	}
	req = json_pack("{s:s, s:s, s:s, s:b, s:b}", "op", "auth.password", "email", email,
	    "password", password, "check", 1, "session", 1);
	/* rotation: the session this browser had (anyone's) dies with the sign-in */
	if (req != NULL && web_session(c) != NULL)
		json_object_set_new(req, "previous_session", json_string(web_session(c)));
	r = ask(c, "auth.password", req, &resp);
	if (is_outage(r)) {
		page_unavailable(c);
		goto out;
	}
	access = answer_str(resp, "access");
	if (r == PORTAIL_OK && strcmp(access, "unavailable") == 0) {
		page_unavailable(c);
		goto out;
	}
	if (r == PORTAIL_ERR_RATE_LIMITED) {
		/* this client address's attempts (portaild counts them, never the address's) */
		signin_form(c, email, answer_message(c, resp));
		goto out;
	}
	if (r != PORTAIL_OK || (strcmp(access, "active") != 0 && strcmp(access, "grace") != 0)) {
		/*
		 * One answer for every refusal — wrong password, no account,
		 * locked, disabled, expired — even when portaild, asked by a
		 * privileged web server, tells them apart: nothing on the page
		 * says whether the address has an account.
		 */
		if (r == PORTAIL_OK)
			c->result = access;
		signin_form(c, email, T(WEB_REFUSED));
		goto out;
	}
	if (!web_signed_in(c, resp))
		page_unavailable(c);
out:
	if (resp != NULL)
		wipe_json_string(json_object_get(resp, "session"));
	json_decref(resp);
}

/* ---- /inscription and /mot-de-passe-oublie --------------------------------- */

struct flow {
	bool reset;
	const char *purpose;            /* "signup" or "reset" */
	enum portail_msg title;
};

static void
flow_intro(struct ctx *c, const struct flow *f)
{
	html_raw(&c->html, "<p class=\"lead\">");
	TEXT(WEB_COMPLETE);
	html_raw(&c->html, "</p>\n");
	if (!f->reset) {
		html_raw(&c->html, "<p>");
		TEXT(WEB_SCHOOL_EMAIL);
		html_raw(&c->html, "</p>\n");
	}
}

/*
 * A step's page begun: its toggle a button of the step's form, so what
 * the parent typed goes along (action=show); primary, what Enter does.
 */
static void
flow_begin(struct ctx *c, const struct flow *f, const char *primary)
{
	c->step_default = primary;
	page_begin(c, f->title);
	c->step_default = NULL;
}

/* Step 1: the address → "Obtenir un code de vérification". */
static void
step_email(struct ctx *c, const struct flow *f, const char *email, const char *error)
{
	flow_begin(c, f, "send");
	summary(c, error);
	flow_intro(c, f);
	step_form(c, c->path, "email");
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, false, NULL, error != NULL, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "send", PORTAIL_MSG_WEB_GET_CODE, true);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

/* Step 2: the code → "Vérifier le code", "Obtenir un nouveau code", "Modifier le courriel". */
static void
step_code(struct ctx *c, const struct flow *f, const char *email, const char *sent,
    const char *error)
{
	flow_begin(c, f, "verify");
	summary(c, error);
	notice(c, sent);
	flow_intro(c, f);
	step_form(c, c->path, "code");
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, true, NULL, false, NULL);
	field(c, "code", PORTAIL_MSG_WEB_CODE, IN_CODE, NULL, false, NULL, error != NULL, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "verify", PORTAIL_MSG_WEB_VERIFY, true);
	button(c, "resend", PORTAIL_MSG_WEB_NEW_CODE, false);
	button(c, "edit", PORTAIL_MSG_WEB_EDIT_EMAIL, false);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

/* Reset, step 3: the address proved → "Modifier le courriel" / "Enregistrer". */
static void
step_confirm(struct ctx *c, const struct flow *f, const char *email, const char *ticket)
{
	flow_begin(c, f, "confirm");
	flow_intro(c, f);
	step_form(c, c->path, "confirm");
	hidden(c, "ticket", ticket);
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, true, NULL, false, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "confirm", PORTAIL_MSG_WEB_SAVE, true);
	button(c, "edit", PORTAIL_MSG_WEB_EDIT_EMAIL, false);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

void
new_password_fields(struct ctx *c, const char *error)
{
	char hint[128];

	portail_msgf(hint, sizeof(hint), PORTAIL_MSG_WEB_PASSWORD_HINT, c->en,
	    c->w->cfg->password.min_length, c->w->cfg->password.max_length);
	field(c, "password", PORTAIL_MSG_WEB_NEW_PASSWORD, IN_NEW_PASSWORD, NULL, false, NULL,
	    error != NULL, hint);
	field(c, "confirmation", PORTAIL_MSG_WEB_CONFIRMATION, IN_NEW_PASSWORD, NULL, false, NULL,
	    error != NULL, NULL);
}

/* The password and its confirmation → "Enregistrer". */
static void
step_password(struct ctx *c, const struct flow *f, const char *email, const char *ticket,
    const char *error)
{
	flow_begin(c, f, "save");
	summary(c, error);
	flow_intro(c, f);
	step_form(c, c->path, "password");
	hidden(c, "ticket", ticket);
	/* the seed's sign-up screen keeps the address in sight; its reset screen does not */
	if (f->reset)
		hidden(c, "email", email);
	else
		field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, true, NULL, false, NULL);
	new_password_fields(c, error);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "save", PORTAIL_MSG_WEB_SAVE, true);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

/* A ticket as portaild makes them: printable ASCII, within the protocol's bound. */
static const char *
ticket_of(struct ctx *c)
{
	size_t n = 0;
	const char *t = form_getn(&c->form, "ticket", &n);

	if (t == NULL || n == 0 || n > PORTAIL_PROTO_CODE_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return NULL;
	return t;
}

static void
flow_send(struct ctx *c, const struct flow *f, const char *email, bool again)
{
	json_t *resp = NULL;
	portail_status r;

	r = ask(c, "code.request", json_pack("{s:s, s:s, s:s}", "op", "code.request",
	    "email", email, "purpose", f->purpose), &resp);
	if (is_outage(r))
		page_unavailable(c);
	else if (r == PORTAIL_OK)
		step_code(c, f, email, answer_message(c, resp), NULL);
	else if (r == PORTAIL_ERR_INVALID)
		step_email(c, f, email, T(WEB_EMAIL_INVALID));
	else if (again)
		/* too soon, too many today: the code asked before still stands */
		step_code(c, f, email, NULL, answer_message(c, resp));
	else
		step_email(c, f, email, answer_message(c, resp));
	json_decref(resp);
}

static void
flow_verify(struct ctx *c, const struct flow *f, const char *email)
{
	const char *code, *why;
	char ticket[PORTAIL_PROTO_CODE_MAX + 1];
	json_t *resp = NULL, *t;
	portail_status r;

	ticket[0] = '\0';
	if ((code = value_ok(c, "code", PORTAIL_PROTO_CODE_MAX, &why)) == NULL) {
		step_code(c, f, email, NULL, why);
		return;
	}
	r = ask(c, "code.verify", json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify",
	    "email", email, "purpose", f->purpose, "code", code), &resp);
	if (is_outage(r)) {
		page_unavailable(c);
		goto out;
	}
	if (r != PORTAIL_OK) {
		step_code(c, f, email, NULL, r == PORTAIL_ERR_INVALID ? T(WEB_CODE_INVALID) :
		    answer_message(c, resp));
		goto out;
	}
	t = json_object_get(resp, "ticket");
	if (!json_is_string(t) || json_string_length(t) >= sizeof(ticket)) {
		page_unavailable(c);
		goto out;
	}
	memcpy(ticket, json_string_value(t), json_string_length(t) + 1);
	if (f->reset)
		step_confirm(c, f, email, ticket);
	else
		step_password(c, f, email, ticket, NULL);
out:
	if (resp != NULL)
		wipe_json_string(json_object_get(resp, "ticket"));
	json_decref(resp);
	sodium_memzero(ticket, sizeof(ticket));
}

static void
flow_save(struct ctx *c, const struct flow *f, const char *email, const char *ticket)
{
	const char *password, *confirmation, *why_p, *why_c;
	const char *op = f->reset ? "password.reset" : "account.create";
	json_t *resp = NULL;
	portail_status r;
	char line[512];

	password = value_ok(c, "password", PORTAIL_PROTO_PASSWORD_MAX, &why_p);
	confirmation = value_ok(c, "confirmation", PORTAIL_PROTO_PASSWORD_MAX, &why_c);
	if (password == NULL || confirmation == NULL) {
		step_password(c, f, email, ticket, password == NULL ? why_p : why_c);
		return;
	}
	r = ask(c, op, json_pack("{s:s, s:s, s:s, s:s}", "op", op, "ticket", ticket,
	    "password", password, "confirmation", confirmation), &resp);
	if (is_outage(r)) {
		page_unavailable(c);
	} else if (r == PORTAIL_ERR_POLICY || r == PORTAIL_ERR_MISMATCH) {
		/* a refused password does not spend the ticket: choose another */
		step_password(c, f, email, ticket, answer_message(c, resp));
	} else if (r == PORTAIL_ERR_BAD_TICKET) {
		step_email(c, f, email, T(WEB_TICKET_LOST));
	} else if (r != PORTAIL_OK) {
		step_email(c, f, email, answer_message(c, resp));
	} else {
		page_begin(c, f->title);
		notice(c, portail_msgf(line, sizeof(line), f->reset ?
		    PORTAIL_MSG_WEB_PASSWORD_CHANGED : PORTAIL_MSG_WEB_ACCOUNT_CREATED, c->en,
		    answer_str(resp, "email")));
		html_raw(&c->html, "<p class=\"actions\">");
		link_to(c, "/connexion", PORTAIL_MSG_WEB_SIGN_IN, "button primary");
		html_raw(&c->html, "</p>\n");
		page_end(c);
	}
	json_decref(resp);
}

/*
 * action=show, the language toggle: the step the form names, drawn again
 * in the other language with what it carries — the address as typed
 * (escaped), the code's ticket — and never a code or a password typed
 * (a secret is not drawn back into a page). Each value is checked as the
 * step's own action checks it; a step that does not hold together begins
 * again at the address. Nothing is asked of portaild, nothing is mailed:
 * a ticket is checked at the next real action.
 */
static void
flow_show(struct ctx *c, const struct flow *f)
{
	const char *step = form_get(&c->form, "step"), *why, *ticket = ticket_of(c);
	const char *email = value_ok(c, "email", PORTAIL_PROTO_EMAIL_MAX, &why);
	bool ok = email != NULL && portail_proto_text_ok(email, strlen(email), false);

	if (!ok)
		email = form_get(&c->form, "email");
	if (step != NULL && strcmp(step, "code") == 0 && ok)
		step_code(c, f, email, NULL, NULL);
	else if (step != NULL && strcmp(step, "confirm") == 0 && ok && ticket != NULL && f->reset)
		step_confirm(c, f, email, ticket);
	else if (step != NULL && strcmp(step, "password") == 0 && ok && ticket != NULL)
		step_password(c, f, email, ticket, NULL);
	else
		step_email(c, f, email, NULL);
}

void
page_flow(struct ctx *c, bool reset)
{
	const struct flow f = {
		reset, reset ? "reset" : "signup",
		reset ? PORTAIL_MSG_WEB_RESET_TITLE : PORTAIL_MSG_WEB_SIGNUP_TITLE,
	};
	const char *action, *email, *why = NULL, *ticket;

	c->status = MHD_HTTP_OK;
	if (!c->post) {
		step_email(c, &f, NULL, NULL);
		return;
	}
	action = form_get(&c->form, "action");
	if (action == NULL)
		action = "send";
	if (strcmp(action, "show") == 0) {
		/* the language toggle: the step shown again, nothing asked of portaild */
		flow_show(c, &f);
		return;
	}
	if ((email = value_ok(c, "email", PORTAIL_PROTO_EMAIL_MAX, &why)) == NULL ||
	    !portail_proto_text_ok(email, strlen(email), false)) {
		step_email(c, &f, form_get(&c->form, "email"), why ? why : T(WEB_EMAIL_INVALID));
		return;
	}
	if (strcmp(action, "send") == 0 || strcmp(action, "resend") == 0) {
		flow_send(c, &f, email, strcmp(action, "resend") == 0);
	} else if (strcmp(action, "verify") == 0) {
		flow_verify(c, &f, email);
	} else if (strcmp(action, "confirm") == 0 || strcmp(action, "save") == 0) {
		if ((ticket = ticket_of(c)) == NULL)
			step_email(c, &f, email, T(WEB_TICKET_LOST));
		else if (strcmp(action, "confirm") == 0 && reset)
			step_password(c, &f, email, ticket, NULL);
		else
			flow_save(c, &f, email, ticket);
	} else {
		/* "edit", or anything else: back to the address */
		step_email(c, &f, email, NULL);
	}
}

/* ---- error pages -------------------------------------------------------------- */

void
page_error(struct ctx *c, int status, enum portail_msg id)
{
	html_free(&c->html);
	c->status = status;
	page_begin(c, PORTAIL_MSG_WEB_ERROR_TITLE);
	summary(c, portail_msg(id, c->en));
	html_raw(&c->html, "<p class=\"actions\">");
	link_to(c, "/connexion", PORTAIL_MSG_WEB_BACK, "button primary");
	html_raw(&c->html, "</p>\n");
	page_end(c);
}

void
page_unavailable(struct ctx *c)
{
	page_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, PORTAIL_MSG_UNAVAILABLE);
}
