/*
 * pam_portail — parents sign in to any PAM service (DESIGN §4).
 *
 *   pam_portail.so [socket=PATH] [debug] [use_first_pass|try_first_pass|use_authtok]
 *                  [enroll] [reset] [tokens] [lang=fr|en]
 *
 * A thin client of portaild: no LDAP, no SQLite, no key here. PAM_USER
 * is the parent's e-mail address, never rewritten. The daemon down or
 * slow is PAM_AUTHINFO_UNAVAIL within the client timeout, never
 * PAM_AUTH_ERR. Every buffer that held a password or a code is wiped.
 * The sign-up and reset dialogs are lib/dialog.c's steps, the CLI's too:
 * this file only asks the prompts and makes the calls they name.
 * We are a guest in sshd, Apache or saslauthd: no global state, no
 * stderr, no exit(); logging through pam_syslog only, never a secret.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <jansson.h>

#include "dialog.h"
#include "messages.h"
#include "portail-client.h"
#include "jid.h"
#include "protocol.h"

#define PAM_PORTAIL_EXPORT __attribute__((visibility("default")))

struct opts {
	const char *socket;
	bool debug;
	bool enroll;
	bool reset;
	bool tokens;
	bool en;
	bool jid;       /* PAM_USER is an XEP-0106-escaped JID (client/jid.h) */
};

/* A message of the shared table (lib/messages.def) in the parent's language. */
#define MSG(o, id) portail_msg(PORTAIL_MSG_##id, (o)->en)

static void
parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->socket = PORTAIL_DEFAULT_SOCKET;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "socket=", 7) == 0 && a[7] == '/')
			o->socket = a + 7;
		else if (strcmp(a, "debug") == 0)
			o->debug = true;
		else if (strcmp(a, "enroll") == 0)
			o->enroll = true;
		else if (strcmp(a, "reset") == 0)
			o->reset = true;
		else if (strcmp(a, "tokens") == 0)
			o->tokens = true;
		else if (strcmp(a, "jid") == 0)
			o->jid = true;
		else if (strcmp(a, "lang=en") == 0)
			o->en = true;
		else if (strcmp(a, "lang=fr") == 0)
			o->en = false;
		else if (strcmp(a, "use_first_pass") == 0 || strcmp(a, "try_first_pass") == 0 ||
		    strcmp(a, "use_authtok") == 0)
			;       /* read by pam_get_authtok itself */
		else
			pam_syslog(pamh, LOG_WARNING, "unknown option ignored: %s", a);
	}
}

/* A client for this call, carrying the service and remote host for the log. */
static portail_client *
client_for(pam_handle_t *pamh, const struct opts *o)
{
	portail_client *c = NULL;
	const void *service = NULL, *rhost = NULL;

	if (portail_client_new(o->socket, 0, &c) != PORTAIL_OK) {
		pam_syslog(pamh, LOG_ERR, "bad socket path: %s", o->socket);
		return NULL;
	}
	(void)pam_get_item(pamh, PAM_SERVICE, &service);
	(void)pam_get_item(pamh, PAM_RHOST, &rhost);
	/* over-long values are dropped, not cut: the daemon logs what it gets */
	if (portail_client_set_origin(c, service, rhost) != PORTAIL_OK)
		(void)portail_client_set_origin(c, service, NULL);
	(void)portail_client_set_lang(c, o->en ? "en" : "fr");
	return c;
}

/* Sends req (consumed; secret strings wiped) and returns the status; *resp on request. */
static portail_status
call(portail_client *c, json_t *req, json_t **resp, portail_error *err)
{
	portail_status s;

	if (req == NULL)
		return PORTAIL_ERR_NOMEM;
	s = portail_client_call(c, req, resp, err);
	portail_proto_wipe_secrets(req);
	json_decref(req);
	return s;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Asks a question; NULL when the conversation fails. The answer is the caller's to wipe. */
static char *
ask(pam_handle_t *pamh, int style, const char *prompt)
{
	char *resp = NULL;

	if (pam_prompt(pamh, style, &resp, "%s", prompt) != PAM_SUCCESS) {
		wipe_free(resp);
		return NULL;
	}
	return resp;
}

static void
say(pam_handle_t *pamh, bool error, const char *text)
{
	if (text != NULL && *text != '\0')
		(void)pam_prompt(pamh, error ? PAM_ERROR_MSG : PAM_TEXT_INFO, NULL, "%s", text);
}

/* pam_sm_authenticate's answer for a status (doc/protocol.md's table). */
static int
pam_status_for(portail_status s)
{
	switch (s) {
	case PORTAIL_OK:
		return PAM_SUCCESS;
	case PORTAIL_ERR_REFUSED:
	case PORTAIL_ERR_DISABLED:
	case PORTAIL_ERR_INVALID:
		return PAM_AUTH_ERR;
	case PORTAIL_ERR_UNKNOWN:
		return PAM_USER_UNKNOWN;
	case PORTAIL_ERR_LOCKED:
		return PAM_MAXTRIES;
	case PORTAIL_ERR_EXPIRED:
		return PAM_ACCT_EXPIRED;
	case PORTAIL_ERR_FORBIDDEN:
		return PAM_PERM_DENIED;
	case PORTAIL_ERR_PROTOCOL:
		return PAM_SYSTEM_ERR;  /* this module and portaild disagree: not an outage */
	case PORTAIL_ERR_NOMEM:
		return PAM_BUF_ERR;
	default:
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/*
 * Logs a failure that is the host's or the daemon's, each as what it is;
 * a refusal (wrong password, unknown address…) is not logged here:
 * portaild logs every decision.
 */
static void
log_failure(pam_handle_t *pamh, const char *what, portail_status s, const portail_error *err)
{
	switch (s) {
	case PORTAIL_ERR_PROTOCOL:
		pam_syslog(pamh, LOG_ERR, "%s: portaild refused the request as malformed "
		    "(bad_request: a bug or a version mismatch): %s", what, err->message);
		break;
	case PORTAIL_ERR_NOMEM:
		pam_syslog(pamh, LOG_CRIT, "%s: out of memory", what);
		break;
	case PORTAIL_ERR_BUSY:
		pam_syslog(pamh, LOG_WARNING, "%s: portaild busy: %s", what, err->message);
		break;
	case PORTAIL_ERR_UNAVAILABLE:
	case PORTAIL_ERR_IO:
	case PORTAIL_ERR_CONFIG:
		pam_syslog(pamh, LOG_ERR, "%s: portaild unavailable: %s", what, err->message);
		break;
	default:
		break;
	}
}

/*
 * PAM_USER as portaild takes it: 1 to 254 bytes of UTF-8 without a
 * control character (DESIGN §2). Anything else is no parent's address:
 * PAM_USER_UNKNOWN without asking portaild (or for a password), as
 * OpenSSH refuses a user name with control characters. The name itself
 * is not logged: it may hold a CR/LF meant for the log.
 */
static int
check_user(pam_handle_t *pamh, const char *user)
{
	size_t n = user != NULL ? strlen(user) : 0;
	const char *why = NULL;

	if (n == 0)
		why = "empty";
	else if (n > PORTAIL_PROTO_EMAIL_MAX)
		why = "longer than 254 bytes";
	else if (!portail_proto_text_ok(user, n, true))
		why = "not UTF-8";
	else if (!portail_proto_text_ok(user, n, false))
		why = "holds a control character";
	if (why == NULL)
		return PAM_SUCCESS;
	pam_syslog(pamh, LOG_NOTICE, "PAM_USER is not an address (%s): unknown user", why);
	return PAM_USER_UNKNOWN;
}

/*
 * The parent's address: PAM_USER, checked by check_user, or with the jid
 * option the address that PAM_USER's XEP-0106-escaped local part names
 * (one Prosody host for every parent: chantal.gagnon\40exemple.ca@host).
 * A PAM_USER that names no address is PAM_USER_UNKNOWN, so no failure is
 * ever counted on an account it does not name. addr holds the result.
 */
static int
get_address(pam_handle_t *pamh, const struct opts *o, char *addr, size_t addrsz)
{
	const char *user = NULL;
	int rc;

	if ((rc = pam_get_user(pamh, &user, NULL)) != PAM_SUCCESS)
		return rc;
	if ((rc = check_user(pamh, user)) != PAM_SUCCESS)
		return rc;
	if (!o->jid) {
		if (strlen(user) >= addrsz)
			return PAM_USER_UNKNOWN;
		memcpy(addr, user, strlen(user) + 1);
		return PAM_SUCCESS;
	}
	if (!portail_jid_address(user, addr, addrsz)) {
		pam_syslog(pamh, LOG_NOTICE, "PAM_USER is no XEP-0106-escaped address (jid): unknown user");
		return PAM_USER_UNKNOWN;
	}
	return check_user(pamh, addr);
}

/*
 * A secret portaild could take: at most max bytes of UTF-8 (control
 * characters allowed). No account has any other (the policy takes 8 to
 * 128 characters of text), so the caller refuses it without asking, as
 * pam_unix refuses a password past MAXPASS.
 */
static bool
secret_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && portail_proto_text_ok(s, n, true);
}

_Static_assert(PORTAIL_DIALOG_CODE_MAX == PORTAIL_PROTO_CODE_MAX,
    "lib/dialog.h's longest code is the protocol's");

/* The statuses a dialog ends with, as pam_sm_* read them. */
static portail_status
dialog_end(const struct portail_dialog *d, portail_status last)
{
	if (d->step == PORTAIL_STEP_DONE)
		return PORTAIL_OK;
	return last != PORTAIL_OK ? last : PORTAIL_ERR_REFUSED;       /* Annuler, out of tries */
}

/*
 * Renders a sign-up or reset dialog (lib/dialog.h) in prompts, from
 * d->step until it ends or, with stop_at_password, until it reaches the
 * password step. The address is PAM_USER. save is the save step's request
 * without the password and confirmation (its op and proof: the old
 * password), or NULL to make it from the ticket. On reaching the password
 * step *ticket is set (new, the caller wipes it) unless given; on the end
 * *new_pw holds the password (the caller wipes it). Every code, password
 * and ticket that passes here is wiped.
 */
static portail_status
run_dialog(pam_handle_t *pamh, const struct opts *o, portail_client *c, const char *user,
    struct portail_dialog *d, const json_t *save, bool stop_at_password, char **ticket,
    char **new_pw)
{
	bool signup = d->kind == PORTAIL_DIALOG_SIGNUP;
	const char *purpose = signup ? "signup" : "reset";
	portail_status st = PORTAIL_ERR_REFUSED;
	char *code = NULL, *pw = NULL, *conf = NULL;

	while (d->step != PORTAIL_STEP_DONE && d->step != PORTAIL_STEP_CANCELLED &&
	    d->step != PORTAIL_STEP_FAILED) {
		enum portail_dialog_outcome out = PORTAIL_OUTCOME_UNAVAILABLE;
		portail_error err = { { 0 } };
		enum portail_msg notice;
		json_t *resp = NULL, *req;

		switch (d->step) {
		case PORTAIL_STEP_SEND_CODE:
		case PORTAIL_STEP_NEW_CODE:
			st = call(c, json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", user,
			    "purpose", purpose), &resp, &err);
			/* "a code was just sent" is news, not an error, when it answers the first */
			say(pamh, st != PORTAIL_OK && (d->step == PORTAIL_STEP_NEW_CODE ||
			    st != PORTAIL_ERR_TOO_SOON), st == PORTAIL_OK ?
			    json_string_value(json_object_get(resp, "message")) : err.message);
			out = portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_CODE:
			code = ask(pamh, PAM_PROMPT_ECHO_ON, portail_msg(portail_dialog_prompt(d), o->en));
			out = portail_dialog_read_code(d, code);
			if (out == PORTAIL_OUTCOME_OK && !secret_ok(code, PORTAIL_PROTO_CODE_MAX))
				out = PORTAIL_OUTCOME_NOT_A_CODE;       /* as portaild's "invalid": no try spent */
			if (out != PORTAIL_OUTCOME_OK) {
				wipe_free(code);
				code = NULL;
			}
			break;
		case PORTAIL_STEP_VERIFY:
			st = call(c, json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email", user,
			    "purpose", purpose, "code", code), &resp, &err);
			wipe_free(code);
			code = NULL;
			if (st == PORTAIL_OK) {
				const char *t = json_string_value(json_object_get(resp, "ticket"));

				wipe_free(*ticket);
				*ticket = t ? strdup(t) : NULL;
				if (*ticket == NULL)
					st = PORTAIL_ERR_NOMEM;
			} else {
				say(pamh, true, err.message);
			}
			out = portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_PASSWORD:
			if (stop_at_password)
				goto out;
			pw = ask(pamh, PAM_PROMPT_ECHO_OFF, portail_msg(portail_dialog_prompt(d), o->en));
			conf = pw ? ask(pamh, PAM_PROMPT_ECHO_OFF, MSG(o, DIALOG_CONFIRMATION_PROMPT)) : NULL;
			out = pw != NULL && conf != NULL ? PORTAIL_OUTCOME_OK : PORTAIL_OUTCOME_CANCEL;
			if (out == PORTAIL_OUTCOME_OK && (!secret_ok(pw, PORTAIL_PROTO_PASSWORD_MAX) ||
			    !secret_ok(conf, PORTAIL_PROTO_PASSWORD_MAX)))
				out = PORTAIL_OUTCOME_NOT_TEXT;  /* no policy takes it */
			if (out != PORTAIL_OUTCOME_OK) {
				wipe_free(pw);
				wipe_free(conf);
				pw = conf = NULL;
			}
			break;
		case PORTAIL_STEP_SAVE:
			req = save != NULL ? json_deep_copy(save) : json_pack("{s:s, s:s}", "op",
			    signup ? "account.create" : "password.reset", "ticket", *ticket);
			if (req != NULL) {
				json_object_set_new(req, "password", json_string(pw));
				json_object_set_new(req, "confirmation", json_string(conf));
			}
			st = call(c, req, NULL, &err);
			wipe_free(conf);
			conf = NULL;
			if (st == PORTAIL_OK) {
				*new_pw = pw;
			} else {
				wipe_free(pw);
				say(pamh, true, err.message);
			}
			pw = NULL;
			out = portail_dialog_outcome_of(st);
			break;
		default:
			goto out;       /* the address is PAM_USER: never asked */
		}
		portail_proto_wipe_secrets(resp);      /* the ticket */
		json_decref(resp);
		portail_dialog_next(d, out);
		if ((notice = portail_dialog_notice(d)) != PORTAIL_MSG_COUNT)
			say(pamh, true, portail_msg(notice, o->en));
	}
out:
	wipe_free(code);
	wipe_free(pw);
	wipe_free(conf);
	if (stop_at_password && d->step == PORTAIL_STEP_PASSWORD)
		return PORTAIL_OK;
	return dialog_end(d, st);
}

/* Sign-up or reset in prompts from the code request to the saved password. */
static portail_status
code_and_password(pam_handle_t *pamh, const struct opts *o, portail_client *c, const char *user,
    enum portail_dialog_kind kind, char **new_pw)
{
	struct portail_dialog d;
	char *ticket = NULL;
	portail_status st;

	portail_dialog_start(&d, kind, true, PORTAIL_STEP_SEND_CODE);
	st = run_dialog(pamh, o, c, user, &d, NULL, false, &ticket, new_pw);
	wipe_free(ticket);
	return st;
}

/*
 * The access check that came with a successful sign-in, kept for
 * pam_sm_acct_mgmt in the same handle: portaild tells account.check's
 * answers only to privileged peers (DESIGN §2, enumeration), so a host
 * running as its own user (Apache's www-data) gets them this way.
 */
#define ACCESS_DATA "pam_portail_access"

struct access {
	time_t at;
	char user[256];
	char word[16];          /* "active", "grace", "expired", "disabled", "unavailable" */
	char message[512];
};

static void
cleanup_access(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

static void
keep_access(pam_handle_t *pamh, const char *user, const char *word, const char *message)
{
	struct access *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return;
	a->at = time(NULL);
	(void)snprintf(a->user, sizeof(a->user), "%s", user);
	(void)snprintf(a->word, sizeof(a->word), "%s", word);
	(void)snprintf(a->message, sizeof(a->message), "%s", message != NULL ? message : "");
	if (pam_set_data(pamh, ACCESS_DATA, a, cleanup_access) != PAM_SUCCESS)
		free(a);
}

/* A sign-in with the access check in the same request (kept in pamh on success). */
static portail_status
auth_password(pam_handle_t *pamh, portail_client *c, const char *user, const char *pw,
    portail_error *err)
{
	json_t *resp = NULL;
	portail_status s;

	s = call(c, json_pack("{s:s, s:s, s:s, s:b}", "op", "auth.password", "email", user,
	    "password", pw, "check", 1), &resp, err);
	if (s == PORTAIL_OK) {
		const char *word = json_string_value(json_object_get(resp, "access"));

		keep_access(pamh, user, word != NULL ? word : "unavailable",
		    json_string_value(json_object_get(resp, "access_message")));
	}
	json_decref(resp);
	return s;
}

static bool
interactive(pam_handle_t *pamh)
{
	const void *conv = NULL;

	return pam_get_item(pamh, PAM_CONV, &conv) == PAM_SUCCESS && conv != NULL;
}

/* What OpenSSH's sshd hands PAM instead of the user's answer when the user
 * is not valid there (no passwd entry, or root without PermitRootLogin):
 * auth-pam.c's fake_password(), "\b\n\r\177INCORRECT" repeated to the
 * length of what was typed. No typed password starts with a backspace and
 * a newline, so a match is never worth a round trip to portaild. */
static bool
sshd_substitute(const char *pw)
{
	static const char junk[] = "\b\n\r\177INCORRECT";
	size_t i;

	if (pw[0] == '\0')
		return false;
	for (i = 0; pw[i] != '\0'; i++)
		if (pw[i] != junk[i % (sizeof(junk) - 1)])
			return false;
	return true;
}

PAM_PORTAIL_EXPORT int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	char addr[PORTAIL_PROTO_EMAIL_MAX + 1];
	const char *user = addr, *pw = NULL;
	portail_client *c = NULL;
	portail_error err = { { 0 } };
	portail_status st;
	int rc;

	parse_opts(pamh, argc, argv, &o);
	if ((rc = get_address(pamh, &o, addr, sizeof(addr))) != PAM_SUCCESS)
		return rc;
	if ((c = client_for(pamh, &o)) == NULL)
		return PAM_AUTHINFO_UNAVAIL;
	rc = pam_get_authtok(pamh, PAM_AUTHTOK, &pw, MSG(&o, DIALOG_SIGN_IN_PROMPT));
	if (rc != PAM_SUCCESS)
		goto out;
	if (sshd_substitute(pw)) {
		/* sshd replaced the answer: the user has no passwd entry (or is
		 * root without PermitRootLogin). Whatever the parent typed is
		 * lost, so asking portaild would only count a failure on the
		 * account that the address names. Refuse here. */
		pam_syslog(pamh, LOG_NOTICE, "user %s: the service replaced the password "
		    "(sshd: no passwd entry?); refused without asking portaild", user);
		rc = PAM_AUTH_ERR;
		goto out;
	}
	if (!secret_ok(pw, o.tokens && strncmp(pw, "ptk_", 4) == 0 ? PORTAIL_PROTO_TOKEN_MAX :
	    PORTAIL_PROTO_PASSWORD_MAX)) {
		/* over the protocol's limit, or not text: a wrong password, not a question */
		pam_syslog(pamh, LOG_NOTICE, "auth: a password longer than the protocol's limit "
		    "or not UTF-8: refused without asking portaild");
		rc = PAM_AUTH_ERR;
		goto out;
	}
	if (o.tokens && strncmp(pw, "ptk_", 4) == 0) {
		/* a portail token as the password (an app password for mail clients):
		 * it must be this parent's, live, and the access check good */
		st = call(c, json_pack("{s:s, s:s, s:s}", "op", "token.verify", "token", pw,
		    "email", user), NULL, &err);
		if (st == PORTAIL_ERR_EXPIRED || st == PORTAIL_ERR_DISABLED)
			st = PORTAIL_ERR_REFUSED;
		else if (st == PORTAIL_OK)      /* token.verify made the access check */
			keep_access(pamh, user, "active", NULL);
	} else {
		st = auth_password(pamh, c, user, pw, &err);
	}

	if (st == PORTAIL_ERR_UNKNOWN && o.enroll && interactive(pamh) && !(flags & PAM_SILENT)) {
		/* no account yet: sign up in prompts, as the seed's screens */
		char *answer = ask(pamh, PAM_PROMPT_ECHO_ON, MSG(&o, DIALOG_ENROLL_QUESTION));
		char *new_pw = NULL;

		if (portail_dialog_yes(answer)) {
			if (portail_dialog_school_hint(PORTAIL_DIALOG_SIGNUP))
				say(pamh, false, MSG(&o, DIALOG_SCHOOL_ADDRESS));
			st = code_and_password(pamh, &o, c, user, PORTAIL_DIALOG_SIGNUP, &new_pw);
			if (st == PORTAIL_OK) {
				say(pamh, false, MSG(&o, DIALOG_CREATED));
				st = auth_password(pamh, c, user, new_pw, &err);
				if (st == PORTAIL_OK)
					(void)pam_set_item(pamh, PAM_AUTHTOK, new_pw);
			} else if (st != PORTAIL_ERR_UNAVAILABLE) {
				st = PORTAIL_ERR_UNKNOWN;
			}
		}
		wipe_free(answer);
		wipe_free(new_pw);
	} else if (st == PORTAIL_ERR_REFUSED && o.reset && interactive(pamh) && !(flags & PAM_SILENT)) {
		char *answer = ask(pamh, PAM_PROMPT_ECHO_ON, MSG(&o, DIALOG_RESET_QUESTION));
		char *new_pw = NULL;

		if (portail_dialog_yes(answer)) {
			st = code_and_password(pamh, &o, c, user, PORTAIL_DIALOG_RESET, &new_pw);
			if (st == PORTAIL_OK) {
				say(pamh, false, MSG(&o, DIALOG_CHANGED));
				st = auth_password(pamh, c, user, new_pw, &err);
				if (st == PORTAIL_OK)
					(void)pam_set_item(pamh, PAM_AUTHTOK, new_pw);
			} else if (st != PORTAIL_ERR_UNAVAILABLE) {
				st = PORTAIL_ERR_REFUSED;
			}
		} else {
			st = PORTAIL_ERR_REFUSED;
		}
		wipe_free(answer);
		wipe_free(new_pw);
	} else if ((st == PORTAIL_ERR_LOCKED || st == PORTAIL_ERR_DISABLED) && !(flags & PAM_SILENT)) {
		/* only after the checks that say nothing to a stranger */
		say(pamh, true, err.message);
	}
	rc = pam_status_for(st);
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "auth user=%s result=%s", user, pam_strerror(pamh, rc));
	log_failure(pamh, "auth", st, &err);
out:
	portail_client_free(c);
	return rc;
}

PAM_PORTAIL_EXPORT int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

PAM_PORTAIL_EXPORT int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	char addr[PORTAIL_PROTO_EMAIL_MAX + 1];
	const char *user = addr;
	portail_client *c;
	portail_error err = { { 0 } };
	const void *kept = NULL;
	portail_status st;
	int rc;

	parse_opts(pamh, argc, argv, &o);
	if ((rc = get_address(pamh, &o, addr, sizeof(addr))) != PAM_SUCCESS)
		return rc;
	if (pam_get_data(pamh, ACCESS_DATA, &kept) == PAM_SUCCESS && kept != NULL &&
	    strcmp(((const struct access *)kept)->user, user) == 0 &&
	    time(NULL) - ((const struct access *)kept)->at < 60) {
		/* checked with the sign-in in this handle, less than a minute ago */
		const struct access *a = kept;

		st = strcmp(a->word, "active") == 0 || strcmp(a->word, "grace") == 0 ? PORTAIL_OK :
		    strcmp(a->word, "expired") == 0 ? PORTAIL_ERR_EXPIRED :
		    strcmp(a->word, "disabled") == 0 ? PORTAIL_ERR_DISABLED : PORTAIL_ERR_UNAVAILABLE;
		(void)snprintf(err.message, sizeof(err.message), "%s", a->message);
	} else {
		if ((c = client_for(pamh, &o)) == NULL)
			return PAM_AUTHINFO_UNAVAIL;
		st = call(c, json_pack("{s:s, s:s}", "op", "account.check", "email", user), NULL,
		    &err);
		portail_client_free(c);
		if (st == PORTAIL_ERR_FORBIDDEN)
			pam_syslog(pamh, LOG_ERR, "account.check is for privileged peers (root, [daemon] "
			    "admin_group): run this service's pam_portail auth first in the same "
			    "handle, or give the service's user the admin group");
	}
	switch (st) {
	case PORTAIL_OK:
		rc = PAM_SUCCESS;
		break;
	case PORTAIL_ERR_EXPIRED:
		rc = PAM_ACCT_EXPIRED;
		break;
	case PORTAIL_ERR_DISABLED:
		rc = PAM_PERM_DENIED;
		break;
	case PORTAIL_ERR_UNKNOWN:
		rc = PAM_USER_UNKNOWN;
		break;
	case PORTAIL_ERR_PROTOCOL:
		rc = PAM_SYSTEM_ERR;
		break;
	case PORTAIL_ERR_NOMEM:
		rc = PAM_BUF_ERR;
		break;
	default:
		/* down, busy; or forbidden, a configuration fault logged above */
		rc = PAM_AUTHINFO_UNAVAIL;
		break;
	}
	log_failure(pamh, "account", st, &err);
	if (rc != PAM_SUCCESS && rc != PAM_AUTHINFO_UNAVAIL && rc != PAM_USER_UNKNOWN &&
	    rc != PAM_SYSTEM_ERR && rc != PAM_BUF_ERR && !(flags & PAM_SILENT))
		say(pamh, true, err.message);
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "account user=%s result=%s", user, pam_strerror(pamh, rc));
	return rc;
}

/* The reset ticket between the two passes of chauthtok. */
#define TICKET_DATA "pam_portail_ticket"

static void
cleanup_secret(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	wipe_free(data);
}

/* chauthtok's answer for a failure: refusal is the caller's (AUTH_ERR or AUTHTOK_ERR). */
static int
chauthtok_status(portail_status s, int refusal)
{
	switch (s) {
	case PORTAIL_ERR_UNAVAILABLE:
	case PORTAIL_ERR_IO:
	case PORTAIL_ERR_CONFIG:
	case PORTAIL_ERR_BUSY:
		return PAM_AUTHINFO_UNAVAIL;
	case PORTAIL_ERR_PROTOCOL:
		return PAM_SYSTEM_ERR;
	case PORTAIL_ERR_NOMEM:
		return PAM_BUF_ERR;
	default:
		return refusal;
	}
}

PAM_PORTAIL_EXPORT int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	char addr[PORTAIL_PROTO_EMAIL_MAX + 1];
	const char *user = addr;
	portail_client *c;
	portail_error err = { { 0 } };
	portail_status st = PORTAIL_ERR_REFUSED;
	int rc;

	parse_opts(pamh, argc, argv, &o);
	if ((rc = get_address(pamh, &o, addr, sizeof(addr))) != PAM_SUCCESS)
		return rc;
	if ((c = client_for(pamh, &o)) == NULL)
		return PAM_AUTHINFO_UNAVAIL;

	if (flags & PAM_PRELIM_CHECK) {
		if (o.reset) {
			/* a mailed code instead of the old password: the dialog up to the password */
			struct portail_dialog d;
			char *ticket = NULL;

			portail_dialog_start(&d, PORTAIL_DIALOG_RESET, true, PORTAIL_STEP_SEND_CODE);
			st = run_dialog(pamh, &o, c, user, &d, NULL, true, &ticket, NULL);
			if (st != PORTAIL_OK) {
				wipe_free(ticket);
				ticket = NULL;
			}
			if (ticket != NULL &&
			    pam_set_data(pamh, TICKET_DATA, ticket, cleanup_secret) != PAM_SUCCESS) {
				wipe_free(ticket);
				st = PORTAIL_ERR_NOMEM;
			}
			rc = ticket != NULL && st == PORTAIL_OK ? PAM_SUCCESS :
			    chauthtok_status(st, PAM_AUTHTOK_ERR);
		} else {
			const char *old = NULL;

			rc = pam_get_authtok(pamh, PAM_OLDAUTHTOK, &old,
			    MSG(&o, DIALOG_CURRENT_PASSWORD_PROMPT));
			if (rc == PAM_SUCCESS && !secret_ok(old, PORTAIL_PROTO_PASSWORD_MAX)) {
				pam_syslog(pamh, LOG_NOTICE, "chauthtok: a current password longer "
				    "than the protocol's limit or not UTF-8: refused without asking "
				    "portaild");
				rc = PAM_AUTH_ERR;
			} else if (rc == PAM_SUCCESS) {
				st = auth_password(pamh, c, user, old, &err);
				rc = st == PORTAIL_OK ? PAM_SUCCESS : chauthtok_status(st, PAM_AUTH_ERR);
				if (st != PORTAIL_OK && st != PORTAIL_ERR_REFUSED)
					say(pamh, true, err.message);
			}
		}
		log_failure(pamh, "chauthtok", st, &err);
		goto out;
	}
	if (flags & PAM_UPDATE_AUTHTOK) {
		const void *ticket = NULL;
		struct portail_dialog d;
		char *new_pw = NULL;

		/* the dialog's password step, its proof the ticket or the old password */
		portail_dialog_start(&d, PORTAIL_DIALOG_RESET, true, PORTAIL_STEP_PASSWORD);
		if (o.reset && pam_get_data(pamh, TICKET_DATA, &ticket) == PAM_SUCCESS && ticket) {
			json_t *base = json_pack("{s:s, s:s}", "op", "password.reset", "ticket",
			    (const char *)ticket);

			st = base != NULL ? run_dialog(pamh, &o, c, user, &d, base, false, NULL, &new_pw) :
			    PORTAIL_ERR_NOMEM;
			portail_proto_wipe_secrets(base);
			json_decref(base);
		} else {
			const void *old = NULL;
			json_t *base;

			(void)pam_get_item(pamh, PAM_OLDAUTHTOK, &old);
			if (old == NULL) {
				rc = PAM_AUTHTOK_ERR;
				goto out;
			}
			base = json_pack("{s:s, s:s, s:s}", "op", "password.change", "email", user,
			    "old_password", (const char *)old);

			st = base != NULL ? run_dialog(pamh, &o, c, user, &d, base, false, NULL, &new_pw) :
			    PORTAIL_ERR_NOMEM;
			portail_proto_wipe_secrets(base);
			json_decref(base);
		}
		if (st == PORTAIL_OK) {
			(void)pam_set_item(pamh, PAM_AUTHTOK, new_pw);
			say(pamh, false, MSG(&o, DIALOG_CHANGED));
		}
		wipe_free(new_pw);
		rc = st == PORTAIL_OK ? PAM_SUCCESS : chauthtok_status(st, PAM_AUTHTOK_ERR);
		log_failure(pamh, "chauthtok", st, &err);
	}
out:
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "chauthtok user=%s result=%s", user, pam_strerror(pamh, rc));
	portail_client_free(c);
	return rc;
}

/*
 * Sessions: nothing useful to do yet. Exporting the children's ids
 * (PORTAIL_CHILDREN) for web applications needs an op that tells a
 * parent's own children to an unprivileged service; until then the
 * module stays out of the session stack.
 */
PAM_PORTAIL_EXPORT int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}

PAM_PORTAIL_EXPORT int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
