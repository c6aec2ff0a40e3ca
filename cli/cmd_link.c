/*
 * cmd_link.c — portail link: sign in with a social account, or link it
 * to the address on file at the school (the seed's social screens).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "codes.h"
#include "common.h"
#include "dialog.h"

struct link_opts {
	const char *provider, *token, *email, *code, *link_ticket, *remember;
	bool send_code, unlink, password_stdin;
};

/* Prints a social step's answer; true when it ends the command (signed in or linked). */
static bool
link_said(struct cli_session *s, json_t *a, const char *provider)
{
	const char *state = json_string_value(json_object_get(a, "state"));
	const char *email = json_string_value(json_object_get(a, "email"));
	const char *token = json_string_value(json_object_get(a, "token"));
	char line[600];

	if (json_is_string(json_object_get(a, "provider")))
		provider = json_string_value(json_object_get(a, "provider"));
	if (s->cli->json) {
		cli_print_json(json_incref(a));
	} else if (strcmp(state, "signed_in") == 0) {
		printf("%s\n", portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_SIGNED_IN_WITH, cli_english,
		    provider, email));
	} else if (strcmp(state, "linked") == 0) {
		printf("%s\n", portail_msgf(line, sizeof(line), json_is_true(json_object_get(a, "created")) ?
		    PORTAIL_MSG_CLI_LINKED_CREATED : PORTAIL_MSG_CLI_LINKED, cli_english, provider, email));
	} else if (strcmp(state, "code_sent") == 0) {
		printf("[%s]\n%s\n", MSG(DIALOG_SEND_CODE),
		    json_string_value(json_object_get(a, "message")));
	}
	if (!s->cli->json && token != NULL)
		printf("%s%s\n", MSG(CLI_STAY_TOKEN_SHOWN), token);
	if (token != NULL)
		sodium_memzero((void *)(uintptr_t)token, strlen(token));
	return strcmp(state, "signed_in") == 0 || strcmp(state, "linked") == 0;
}

static json_t *
with_label(json_t *req, const char *label)
{
	if (req != NULL && label != NULL)
		json_object_set_new(req, "label", json_string(label));
	return req;
}

static int
link_address(struct cli_session *s, const struct link_opts *o, const char *lt, const char *email,
    bool *done, portail_status *st)
{
	json_t *a = NULL;
	int rc = cli_call_status(s, with_label(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket",
	    lt, "email", email), o->remember), &a, st);

	if (rc == EX_DONE)
		*done = link_said(s, a, o->provider);
	cli_drop(a);
	return rc;
}

/* Enregistrer: social.finish with the code's proof. */
static int
link_save(struct cli_session *s, const struct link_opts *o, const char *lt, const char *ticket,
    portail_status *st)
{
	json_t *a = NULL;
	int rc = cli_call_status(s, with_label(json_pack("{s:s, s:s, s:s}", "op", "social.finish",
	    "link_ticket", lt, "ticket", ticket), o->remember), &a, st);

	if (rc == EX_DONE)
		(void)link_said(s, a, o->provider ? o->provider : "-");
	cli_drop(a);
	return rc;
}

/* The code's proof, then the link (link --code). */
static int
link_finish(struct cli_session *s, const struct link_opts *o, const char *lt, const char *email,
    const char *code)
{
	char ticket[PORTAIL_TICKET_LEN + 1] = "";
	int rc = cli_verify_code(s, email, "link", code, lt, ticket, sizeof(ticket), NULL);

	if (rc == EX_DONE) {
		if (!s->cli->json)
			printf("[%s]\n", MSG(DIALOG_SAVE));
		rc = link_save(s, o, lt, ticket, NULL);
	}
	sodium_memzero(ticket, sizeof(ticket));
	return rc;
}

/*
 * The link dialog (lib/dialog.h) on the terminal: the school address
 * (the provider's by default), Enregistrer, and when the provider does
 * not vouch for it the code, as the seed's social screens.
 */
static int
link_interactive(struct cli_session *s, const struct link_opts *o, const char *lt,
    const char *provider_email)
{
	const char *email_opt = o->email;
	char email[300] = "", code[80] = "", ticket[PORTAIL_TICKET_LEN + 1] = "", line[400];
	struct portail_dialog d;
	bool done = false;
	int rc = EX_DONE;

	printf("%s\n\n%s\n%s\n", MSG(DIALOG_TITLE_LINK), MSG(DIALOG_COMPLETE),
	    MSG(DIALOG_SCHOOL_ADDRESS));
	portail_dialog_start(&d, PORTAIL_DIALOG_LINK, false, PORTAIL_STEP_ADDRESS);
	while (d.step != PORTAIL_STEP_DONE && d.step != PORTAIL_STEP_CANCELLED &&
	    d.step != PORTAIL_STEP_FAILED) {
		enum portail_dialog_outcome out = PORTAIL_OUTCOME_UNAVAILABLE;
		enum portail_msg button = portail_dialog_button(&d);
		portail_status st = PORTAIL_ERR_UNAVAILABLE;

		if (button != PORTAIL_MSG_COUNT && !(s->cli->json && d.step == PORTAIL_STEP_SAVE))
			printf("[%s]\n", portail_msg(button, cli_english));
		switch (d.step) {
		case PORTAIL_STEP_ADDRESS:
			if (cli_dialog_given_address(&email_opt, email, sizeof(email))) {
				out = PORTAIL_OUTCOME_OK;
				break;
			}
			if (provider_email != NULL)
				portail_msgf(line, sizeof(line), PORTAIL_MSG_DIALOG_ADDRESS_DEFAULT_PROMPT,
				    cli_english, provider_email);
			else
				snprintf(line, sizeof(line), "%s", MSG(DIALOG_ADDRESS_PROMPT));
			if (!cli_read_line(line, email, sizeof(email), false)) {
				out = PORTAIL_OUTCOME_CANCEL;
				break;
			}
			if (email[0] == '\0' && provider_email != NULL)
				snprintf(email, sizeof(email), "%s", provider_email);
			out = email[0] == '\0' ? PORTAIL_OUTCOME_EMPTY : PORTAIL_OUTCOME_OK;
			break;
		case PORTAIL_STEP_SEND_CODE:
		case PORTAIL_STEP_NEW_CODE:
			done = false;
			rc = link_address(s, o, lt, email, &done, &st);
			out = rc == EX_DONE && done ? PORTAIL_OUTCOME_LINKED : portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_CODE:
			out = cli_dialog_read_code(&d, code, sizeof(code));
			break;
		case PORTAIL_STEP_VERIFY:
			rc = cli_verify_code(s, email, "link", code, lt, ticket, sizeof(ticket), &st);
			sodium_memzero(code, sizeof(code));
			out = portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_SAVE:
			rc = link_save(s, o, lt, ticket, &st);
			sodium_memzero(ticket, sizeof(ticket));
			out = portail_dialog_outcome_of(st);
			break;
		default:
			break;
		}
		cli_dialog_next(&d, out, code, sizeof(code), email);
	}
	sodium_memzero(code, sizeof(code));
	sodium_memzero(ticket, sizeof(ticket));
	return cli_dialog_exit(&d, rc);
}

int
cmd_link(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "provider", required_argument, NULL, 'P' },
		{ "access-token", required_argument, NULL, 't' },
		{ "id-token", required_argument, NULL, 'i' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "email", required_argument, NULL, 'e' },
		{ "code", required_argument, NULL, 'k' },
		{ "link-ticket", required_argument, NULL, 'l' },
		{ "send-code", no_argument, NULL, 's' },
		{ "remember", required_argument, NULL, 'r' },
		{ "unlink", no_argument, NULL, 'u' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage_text = MSG(CLI_LINK_USAGE);
	struct link_opts o = { 0 };
	const char *id_token = NULL, *nonce = NULL;
	char token[4200] = "", lt[PORTAIL_TICKET_LEN + 1] = "";
	struct cli_session s;
	json_t *a = NULL;
	bool done = false;
	int ch, rc;

	optind = 0;	/* glibc: 0 re-initializes getopt after main's scan */
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'P': o.provider = optarg; break;
		case 't': o.token = optarg; break;
		case 'i': id_token = optarg; break;
		case 'n': nonce = optarg; break;
		case 'e': o.email = optarg; break;
		case 'k': o.code = optarg; break;
		case 'l': o.link_ticket = optarg; break;
		case 's': o.send_code = true; break;
		case 'r': o.remember = optarg; break;
		case 'u': o.unlink = true; break;
		case 'p': o.password_stdin = true; break;
		case 'h': printf("%s", usage_text); return EX_DONE;
		default: fprintf(stderr, "%s", usage_text); return EX_USAGE;
		}
	}
	if (optind != argc ||
	    (o.unlink && (o.provider == NULL || o.email == NULL || o.token || o.code || o.send_code)) ||
	    (o.code != NULL && (o.link_ticket == NULL || o.email == NULL || o.send_code)) ||
	    (o.code == NULL && !o.unlink && o.provider == NULL) ||
	    (o.send_code && o.email == NULL) || (o.password_stdin && !o.unlink) ||
	    (id_token == NULL) != (nonce == NULL) ||
	    (id_token != NULL && (o.token != NULL || o.unlink || o.code != NULL))) {
		fprintf(stderr, "%s", usage_text);
		return EX_USAGE;
	}
	if ((rc = cli_session_open(cli, &s)) != EX_DONE)
		return rc;
	if (o.unlink) {
		json_t *req = json_pack("{s:s, s:s, s:s}", "op", "social.unlink", "email", o.email,
		    "provider", o.provider);
		char pw[1100] = "";

		if (o.password_stdin) {
			if (!cli_read_line(NULL, pw, sizeof(pw), true)) {
				json_decref(req);
				cli_session_close(&s);
				return EX_USAGE;
			}
			json_object_set_new(req, "password", json_string(pw));
			sodium_memzero(pw, sizeof(pw));
		}
		if ((rc = cli_call(&s, req, NULL)) == EX_DONE && !cli->json) {
			char line[1024];

			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_UNLINKED, cli_english,
			    o.provider, o.email), stdout);
		} else if (rc == EX_DONE)
			cli_print_json(json_pack("{s:b}", "unlinked", 1));
		cli_session_close(&s);
		return rc;
	}
	if (o.code != NULL) {
		rc = link_finish(&s, &o, o.link_ticket, o.email, o.code);
		cli_session_close(&s);
		return rc;
	}
	if (o.token == NULL && id_token == NULL) {
		if (!cli_read_line(MSG(CLI_PROVIDER_TOKEN_PROMPT), token,
		    sizeof(token), true) || token[0] == '\0') {
			cli_session_close(&s);
			return EX_USAGE;
		}
		o.token = token;
	}
	rc = cli_call(&s, with_label(id_token != NULL ?
	    json_pack("{s:s, s:s, s:s, s:s}", "op", "social.begin", "provider", o.provider,
	    "id_token", id_token, "nonce", nonce) :
	    json_pack("{s:s, s:s, s:s}", "op", "social.begin", "provider",
	    o.provider, "access_token", o.token), o.remember), &a);
	sodium_memzero(token, sizeof(token));
	if (rc != EX_DONE)
		goto out;
	if (strcmp(json_string_value(json_object_get(a, "state")), "link") != 0) {
		(void)link_said(&s, a, o.provider);
		goto out;
	}
	snprintf(lt, sizeof(lt), "%s", json_string_value(json_object_get(a, "link_ticket")));
	if (o.send_code) {
		rc = link_address(&s, &o, lt, o.email, &done, NULL);
		if (rc == EX_DONE && !done && !cli->json)
			printf("%s%s\n", MSG(CLI_LINK_TICKET_SHOWN), lt);
		else if (rc == EX_DONE && !done)
			cli_print_json(json_pack("{s:s}", "link_ticket", lt));
		goto out;
	}
	rc = link_interactive(&s, &o, lt, json_string_value(json_object_get(a, "provider_email")));
out:
	sodium_memzero(lt, sizeof(lt));
	if (json_is_string(json_object_get(a, "link_ticket")))
		sodium_memzero((void *)(uintptr_t)json_string_value(json_object_get(a, "link_ticket")),
		    json_string_length(json_object_get(a, "link_ticket")));
	json_decref(a);
	cli_session_close(&s);
	return rc;
}

