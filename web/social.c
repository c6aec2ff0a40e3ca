/*
 * social.c — signing in with a social account in the browser (issue 14):
 * the authorization-code flow, every decision portaild's (oauth.h).
 *
 *   GET  /social/NAME[?return=/path]  social.authorize: the state cookie
 *        __Host-portail-oauth set (Secure, HttpOnly, SameSite=Lax so the
 *        provider's top-level redirect brings it back, Max-Age=600), 302
 *        to the provider;
 *   GET  /social/NAME/retour          the provider's redirect (query):
 *        social.callback with the cookie, which is cleared whatever the
 *        outcome; signed in (a session, as the password's), or the seed's
 *        "Complétez les informations suivantes :" with the provider's
 *        address offered;
 *   POST /social/NAME/lien            the address (social.link), the code
 *        (code.verify, purpose link), the save (social.finish), each
 *        with its CSRF token; signed in at the end, to the return path
 *        portaild kept at authorize (it answers it with the callback's
 *        "link" too, and the steps carry it in a hidden field "return",
 *        taken only when portail_oauth_return_ok, as portaild did: a path
 *        of this site, never another host's).
 *
 * The language toggle of /retour and /lien never re-requests the URL
 * (the state is single-use, /lien is a POST): it is a submit button of
 * the step's own form (form="step", formaction /lien?lang=xx,
 * action=show), so the step's fields, and what the parent typed in them,
 * are posted and the step is shown again in the other language (as
 * Keycloak's locale switch keeps the flow's step); any other page there
 * toggles to /connexion.
 */
#include "web.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "oauth.h"
#include "portail-client.h"
#include "protocol.h"

#define T(id) portail_msg(PORTAIL_MSG_##id, c->en)
#define TEXT(id) html_msg(&c->html, PORTAIL_MSG_##id, c->en)

/* The provider NAME in /social/NAME[/rest]: its config, *rest "" or "retour" or "lien". */
static const struct portail_provider_config *
provider_of(struct ctx *c, const char **rest)
{
	const char *name = c->path + strlen("/social/"), *slash = strchr(name, '/');
	size_t n = slash != NULL ? (size_t)(slash - name) : strlen(name);
	const portail_config *cfg = c->w->cfg;

	*rest = slash != NULL ? slash + 1 : "";
	for (int i = 0; i < cfg->n_providers; i++)
		if (strlen(cfg->providers[i].name) == n &&
		    strncmp(cfg->providers[i].name, name, n) == 0)
			return &cfg->providers[i];
	return NULL;
}

/* A 302 or 303 to url (copied: it lives as long as the request). */
static void
redirect(struct ctx *c, int status, const char *url)
{
	html_free(&c->html);
	if (snprintf(c->redirect, sizeof(c->redirect), "%s", url) >= (int)sizeof(c->redirect)) {
		page_unavailable(c);
		return;
	}
	c->status = status;
	c->location = c->redirect;
	page_begin(c, PORTAIL_MSG_WEB_SOCIAL_TITLE);
	html_raw(&c->html, "<p><a href=\"");
	html_text(&c->html, c->location);
	html_raw(&c->html, "\">");
	TEXT(WEB_CONTINUE);
	html_raw(&c->html, "</a></p>\n");
	page_end(c);
}

/* A refusal page: status, the message, a way back. */
static void
refused(struct ctx *c, int status, const char *text)
{
	html_free(&c->html);
	c->status = status;
	page_begin(c, PORTAIL_MSG_WEB_SOCIAL_TITLE);
	summary(c, text);
	html_raw(&c->html, "<p class=\"actions\">");
	link_to(c, "/connexion", PORTAIL_MSG_WEB_BACK, "button primary");
	html_raw(&c->html, "</p>\n");
	page_end(c);
}

/* The return path the steps carry (the form's "return"), when it is a path of this site; else NULL. */
static const char *
form_return(struct ctx *c)
{
	const char *back = c->post ? form_get(&c->form, "return") : NULL;

	return back != NULL && portail_oauth_return_ok(back) ? back : NULL;
}

/*
 * Signed in: the session cookie and the return path kept at authorize
 * (portaild's answer at the callback, the steps' after), else web_signed_in's.
 */
static void
signed_in(struct ctx *c, json_t *resp)
{
	const char *back = json_string_value(json_object_get(resp, "return"));
	json_t *s = json_object_get(resp, "session");

	if (back == NULL)
		back = form_return(c);

	if (!json_is_string(s) || json_string_length(s) != WEB_SESSION_LEN) {
		page_unavailable(c);
		return;
	}
	/* portaild kept only an allow-listed path; checked again all the same */
	if (back != NULL && portail_oauth_return_ok(back)) {
		memcpy(c->new_session, json_string_value(s), WEB_SESSION_LEN + 1);
		redirect(c, MHD_HTTP_SEE_OTHER, back);
		return;
	}
	if (!web_signed_in(c, resp))
		page_unavailable(c);
}

/* ---- "Complétez les informations suivantes :" ------------------------------------- */

static void
intro(struct ctx *c)
{
	html_raw(&c->html, "<p class=\"lead\">");
	TEXT(WEB_COMPLETE);
	html_raw(&c->html, "</p>\n<p>");
	TEXT(WEB_SCHOOL_EMAIL);
	html_raw(&c->html, "</p>\n");
}

static void
cancel(struct ctx *c)
{
	html_raw(&c->html, "<p class=\"actions\">");
	link_to(c, "/connexion", PORTAIL_MSG_WEB_CANCEL, "button secondary");
	html_raw(&c->html, "</p>\n");
}

/* A step's state, as its form carries it (the toggle is a button of that form). */
struct step {
	const char *name;               /* "address", "code", "save": the toggle's step */
	const char *primary;            /* the action Enter does: the step's first button */
	const char *lt, *back;
	bool vouched;
};

/*
 * The page of a step begun and its form opened, to /social/NAME/lien with
 * the fields every step carries (not the action): the toggle is a button
 * of this form, so what the parent typed rides along to action=show.
 */
static void
step_begin(struct ctx *c, const struct portail_provider_config *p, const struct step *st)
{
	char path[128];

	snprintf(path, sizeof(path), "/social/%s/lien", p->name);
	c->toggle_path = path;
	c->step_default = st->primary;
	page_begin(c, PORTAIL_MSG_WEB_SOCIAL_TITLE);
	c->step_default = NULL;
	c->toggle_path = "/connexion";
}

static void
step_fields(struct ctx *c, const struct portail_provider_config *p, const struct step *st)
{
	char path[128];

	snprintf(path, sizeof(path), "/social/%s/lien", p->name);
	step_form(c, path, st->name);
	hidden(c, "link_ticket", st->lt);
	if (st->vouched)
		hidden(c, "vouched", "1");
	if (st->back != NULL)
		hidden(c, "return", st->back);
}

/* The address: "Enregistrer" when the provider vouches for the one offered, else a code. */
static void
step_address(struct ctx *c, const struct portail_provider_config *p, const char *lt,
    const char *email, bool vouched, const char *back, const char *error)
{
	const struct step st = { "address", "link", lt, back, vouched };

	step_begin(c, p, &st);
	summary(c, error);
	intro(c);
	step_fields(c, p, &st);
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, false, NULL, error != NULL, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "link", vouched ? PORTAIL_MSG_WEB_SAVE : PORTAIL_MSG_WEB_GET_CODE, true);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

static void
step_code(struct ctx *c, const struct portail_provider_config *p, const char *lt,
    const char *email, const char *back, const char *sent, const char *error)
{
	const struct step st = { "code", "verify", lt, back, false };

	step_begin(c, p, &st);
	summary(c, error);
	notice(c, sent);
	intro(c);
	step_fields(c, p, &st);
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, true, NULL, false, NULL);
	field(c, "code", PORTAIL_MSG_WEB_CODE, IN_CODE, NULL, false, NULL, error != NULL, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "verify", PORTAIL_MSG_WEB_VERIFY, true);
	button(c, "resend", PORTAIL_MSG_WEB_NEW_CODE, false);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

static void
step_save(struct ctx *c, const struct portail_provider_config *p, const char *lt,
    const char *email, const char *back, const char *ticket)
{
	const struct step st = { "save", "save", lt, back, false };

	step_begin(c, p, &st);
	intro(c);
	step_fields(c, p, &st);
	hidden(c, "ticket", ticket);
	field(c, "email", PORTAIL_MSG_WEB_EMAIL, IN_EMAIL, email, true, NULL, false, NULL);
	html_raw(&c->html, "<p class=\"actions\">");
	button(c, "save", PORTAIL_MSG_WEB_SAVE, true);
	html_raw(&c->html, "</p>\n</form>\n");
	cancel(c);
	page_end(c);
}

/* A request that may end signed in: with session, and the browser's old one to rotate. */
static json_t *
with_session(json_t *req, struct ctx *c)
{
	if (req == NULL)
		return NULL;
	json_object_set_new(req, "session", json_true());
	if (web_session(c) != NULL)
		json_object_set_new(req, "previous_session", json_string(web_session(c)));
	return req;
}

/* What social.link, social.finish and social.callback answer, as a page. */
static void
answered(struct ctx *c, const struct portail_provider_config *p, portail_status r, json_t *resp,
    const char *lt, const char *email, bool vouched, const char *back)
{
	const char *state = answer_str(resp, "state");

	if (is_outage(r))
		page_unavailable(c);
	else if (r == PORTAIL_ERR_BAD_TICKET)
		refused(c, MHD_HTTP_BAD_REQUEST, T(WEB_TICKET_LOST));
	else if (r == PORTAIL_ERR_INVALID)
		step_address(c, p, lt, email, vouched, back, T(WEB_EMAIL_INVALID));
	else if (r != PORTAIL_OK && lt != NULL)
		step_address(c, p, lt, email, vouched, back, answer_message(c, resp));
	else if (r != PORTAIL_OK)
		refused(c, MHD_HTTP_FORBIDDEN, answer_message(c, resp));
	else if (strcmp(state, "signed_in") == 0 || strcmp(state, "linked") == 0)
		signed_in(c, resp);
	else if (strcmp(state, "code_sent") == 0 && lt != NULL)
		step_code(c, p, lt, email, back, answer_message(c, resp), NULL);
	else
		page_unavailable(c);
}

/* ---- GET /social/NAME ------------------------------------------------------------ */

static void
authorize(struct ctx *c, const struct portail_provider_config *p)
{
	const char *back = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "return");
	json_t *resp = NULL, *req;
	portail_status r;
	const char *url, *secret;

	/* a return path that is not ours is dropped, not refused: the sign-in goes on */
	if (back != NULL && !portail_oauth_return_ok(back))
		back = NULL;
	req = json_pack("{s:s, s:s}", "op", "social.authorize", "provider", p->name);
	if (req != NULL && back != NULL)
		json_object_set_new(req, "return", json_string(back));
	r = ask(c, "social.authorize", req, &resp);
	url = answer_str(resp, "url");
	secret = answer_str(resp, "state_secret");
	if (is_outage(r))
		page_unavailable(c);
	else if (r != PORTAIL_OK)
		page_error(c, MHD_HTTP_NOT_FOUND, PORTAIL_MSG_WEB_NOT_FOUND);
	else if (strlen(secret) != PORTAIL_OAUTH_SECRET_LEN || *url == '\0')
		page_unavailable(c);
	else {
		memcpy(c->oauth_cookie, secret, PORTAIL_OAUTH_SECRET_LEN + 1);
		redirect(c, MHD_HTTP_FOUND, url);
	}
	if (resp != NULL)
		wipe_json_string(json_object_get(resp, "state_secret"));
	json_decref(resp);
}

/* ---- GET /social/NAME/retour ------------------------------------------------------ */

static void
callback(struct ctx *c, const struct portail_provider_config *p)
{
	const char *cookie = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, WEB_OAUTH_COOKIE);
	const char *state = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "state");
	const char *code = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "code");
	const char *error = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "error");
	char line[512];
	json_t *resp = NULL, *req;
	portail_status r;
	bool vouched;

	/* one try per cookie, whatever happens next */
	c->end_oauth = cookie != NULL;
	if (cookie == NULL || strlen(cookie) != PORTAIL_OAUTH_SECRET_LEN) {
		c->op = "social.callback";
		c->result = "no_state_cookie";
		refused(c, MHD_HTTP_BAD_REQUEST, T(OPS_OAUTH_STATE));
		return;
	}
	if (error != NULL) {
		/* the parent said no at the provider (access_denied…): the state spent, nothing kept */
		r = ask(c, "social.callback", json_pack("{s:s, s:s, s:s, s:s}", "op",
		    "social.callback", "provider", p->name, "state_secret", cookie, "error",
		    strncmp(error, "access_denied", 14) == 0 ? "access_denied" : "error"), &resp);
		json_decref(resp);
		if (is_outage(r))
			page_unavailable(c);
		else
			refused(c, MHD_HTTP_FORBIDDEN, portail_msgf(line, sizeof(line),
			    PORTAIL_MSG_WEB_SOCIAL_DENIED, c->en, provider_label(c, p)));
		return;
	}
	if (state == NULL || code == NULL || strlen(state) > 64 || strlen(code) > 4096) {
		c->op = "social.callback";
		c->result = "bad_request";
		refused(c, MHD_HTTP_BAD_REQUEST, T(OPS_OAUTH_STATE));
		return;
	}
	req = with_session(json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "social.callback",
	    "provider", p->name, "state_secret", cookie, "state", state, "code", code), c);
	r = ask(c, "social.callback", req, &resp);
	vouched = json_is_true(json_object_get(resp, "provider_vouched"));
	if (r == PORTAIL_OK && strcmp(answer_str(resp, "state"), "link") == 0) {
		const char *lt = answer_str(resp, "link_ticket");
		const char *back = json_string_value(json_object_get(resp, "return"));

		/* the return path kept at authorize, carried by the steps to the end */
		step_address(c, p, lt, json_string_value(json_object_get(resp, "provider_email")),
		    vouched, back != NULL && portail_oauth_return_ok(back) ? back : NULL, NULL);
	} else if (r == PORTAIL_ERR_BAD_TICKET) {
		refused(c, MHD_HTTP_BAD_REQUEST, answer_message(c, resp));
	} else if (r == PORTAIL_ERR_REFUSED) {
		refused(c, MHD_HTTP_FORBIDDEN, portail_msgf(line, sizeof(line),
		    PORTAIL_MSG_WEB_SOCIAL_FAILED, c->en, provider_label(c, p)));
	} else {
		answered(c, p, r, resp, NULL, NULL, false, NULL);
	}
	if (resp != NULL) {
		wipe_json_string(json_object_get(resp, "session"));
		wipe_json_string(json_object_get(resp, "link_ticket"));
	}
	json_decref(resp);
}

/* ---- POST /social/NAME/lien -------------------------------------------------------- */

/* Printable ASCII within the protocol's bound, as portaild makes tickets. */
static const char *
ticket_field(struct ctx *c, const char *name)
{
	size_t n = 0;
	const char *t = form_getn(&c->form, name, &n);

	if (t == NULL || n == 0 || n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return NULL;
	return t;
}

/*
 * action=show, the language toggle: the step the form names, shown again
 * with what it carries (the address as typed, escaped; read-only after
 * the address step; the code's ticket; never a code typed: a secret is
 * not drawn back into a page, and it is not sent anywhere either). Each
 * value is checked as the step's own action checks it, and a step that
 * does not hold together begins again at the address. Nothing is asked
 * of portaild: the link ticket is checked at the next real action.
 */
static void
show(struct ctx *c, const struct portail_provider_config *p, const char *lt, const char *step,
    const char *back, bool vouched)
{
	const char *why, *ticket = ticket_field(c, "ticket");
	const char *email = value_ok(c, "email", PORTAIL_PROTO_EMAIL_MAX, &why);
	bool ok = email != NULL && portail_proto_text_ok(email, strlen(email), false);

	if (!ok)
		email = form_get(&c->form, "email");

	if (step != NULL && strcmp(step, "code") == 0 && ok)
		step_code(c, p, lt, email, back, NULL, NULL);
	else if (step != NULL && strcmp(step, "save") == 0 && ok && ticket != NULL)
		step_save(c, p, lt, email, back, ticket);
	else
		step_address(c, p, lt, email, vouched, back, NULL);
}

static void
lien(struct ctx *c, const struct portail_provider_config *p)
{
	const char *lt = ticket_field(c, "link_ticket"), *action = form_get(&c->form, "action");
	const char *email, *why = NULL, *code, *ticket, *back = form_return(c);
	const char *step = form_get(&c->form, "step");
	bool vouched = form_get(&c->form, "vouched") != NULL;
	json_t *resp = NULL, *t;
	portail_status r;

	if (lt == NULL) {
		refused(c, MHD_HTTP_BAD_REQUEST, T(WEB_TICKET_LOST));
		return;
	}
	if (action == NULL)
		action = "link";
	if (strcmp(action, "show") == 0) {
		/* the language toggle: the step shown again, nothing asked of portaild */
		show(c, p, lt, step, back, vouched);
		return;
	}
	if ((email = value_ok(c, "email", PORTAIL_PROTO_EMAIL_MAX, &why)) == NULL ||
	    !portail_proto_text_ok(email, strlen(email), false)) {
		step_address(c, p, lt, form_get(&c->form, "email"), vouched, back,
		    why ? why : T(WEB_EMAIL_INVALID));
		return;
	}
	if (strcmp(action, "link") == 0 || strcmp(action, "resend") == 0) {
		r = ask(c, "social.link", with_session(json_pack("{s:s, s:s, s:s}", "op",
		    "social.link", "link_ticket", lt, "email", email), c), &resp);
		if (r != PORTAIL_OK && strcmp(action, "resend") == 0 && !is_outage(r) &&
		    r != PORTAIL_ERR_BAD_TICKET)
			/* too soon, too many: the code sent before still stands */
			step_code(c, p, lt, email, back, NULL, answer_message(c, resp));
		else
			answered(c, p, r, resp, lt, email, vouched, back);
	} else if (strcmp(action, "verify") == 0) {
		if ((code = value_ok(c, "code", PORTAIL_PROTO_CODE_MAX, &why)) == NULL) {
			step_code(c, p, lt, email, back, NULL, why);
			return;
		}
		r = ask(c, "code.verify", json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify",
		    "email", email, "purpose", "link", "code", code, "link_ticket", lt), &resp);
		t = json_object_get(resp, "ticket");
		if (is_outage(r))
			page_unavailable(c);
		else if (r == PORTAIL_ERR_BAD_TICKET)
			refused(c, MHD_HTTP_BAD_REQUEST, T(WEB_TICKET_LOST));
		else if (r != PORTAIL_OK)
			step_code(c, p, lt, email, back, NULL, r == PORTAIL_ERR_INVALID ?
			    T(WEB_CODE_INVALID) : answer_message(c, resp));
		else if (!json_is_string(t))
			page_unavailable(c);
		else
			step_save(c, p, lt, email, back, json_string_value(t));
		if (resp != NULL)
			wipe_json_string(t);
	} else if (strcmp(action, "save") == 0) {
		if ((ticket = ticket_field(c, "ticket")) == NULL) {
			refused(c, MHD_HTTP_BAD_REQUEST, T(WEB_TICKET_LOST));
			return;
		}
		r = ask(c, "social.finish", with_session(json_pack("{s:s, s:s, s:s}", "op",
		    "social.finish", "link_ticket", lt, "ticket", ticket), c), &resp);
		answered(c, p, r, resp, lt, email, false, back);
	} else {
		step_address(c, p, lt, email, vouched, back, NULL);
	}
	if (resp != NULL)
		wipe_json_string(json_object_get(resp, "session"));
	json_decref(resp);
}

void
page_social(struct ctx *c)
{
	const char *rest = "";
	const struct portail_provider_config *p = provider_of(c, &rest);

	c->status = MHD_HTTP_OK;
	/* the redirect URI is single-use and /lien a POST: their toggles go to the start */
	if (strcmp(rest, "retour") == 0 || strcmp(rest, "lien") == 0)
		c->toggle_path = "/connexion";
	if (p == NULL) {
		page_error(c, MHD_HTTP_NOT_FOUND, PORTAIL_MSG_WEB_NOT_FOUND);
	} else if (*rest == '\0' && !c->post) {
		authorize(c, p);
	} else if (strcmp(rest, "retour") == 0 && !c->post) {
		callback(c, p);
	} else if (strcmp(rest, "lien") == 0 && c->post) {
		lien(c, p);
	} else if (strcmp(rest, "lien") == 0) {
		/* a step reloaded without its form: begin again */
		redirect(c, MHD_HTTP_SEE_OTHER, c->en ? "/connexion?lang=en" : "/connexion");
	} else if (c->post) {
		c->allow = "GET, HEAD";
		page_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, PORTAIL_MSG_WEB_METHOD);
	} else {
		page_error(c, MHD_HTTP_NOT_FOUND, PORTAIL_MSG_WEB_NOT_FOUND);
	}
}
