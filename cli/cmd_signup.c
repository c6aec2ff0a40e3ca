/*
 * cmd_signup.c — portail signup and portail reset: the seed's sign-up
 * and forgotten-password screens, scripted (--send-code, --code) or
 * interactive (lib/dialog.h's steps on the terminal). Ctrl-C is
 * "Annuler" and leaves nothing behind. Passwords are never read from the
 * command line, never echoed, and wiped after use.
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

struct flow_opts {
	const char *email;
	const char *code;
	bool send_code;
	bool password_stdin;
};

static int
parse_flow_opts(int argc, char **argv, struct flow_opts *o, const char *usage_text)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "code", required_argument, NULL, 'k' },
		{ "send-code", no_argument, NULL, 's' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* glibc: 0 re-initializes getopt after main's scan */
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': o->email = optarg; break;
		case 'k': o->code = optarg; break;
		case 's': o->send_code = true; break;
		case 'p': o->password_stdin = true; break;
		case 'h': printf("%s", usage_text); return -1;
		default: fprintf(stderr, "%s", usage_text); return EX_USAGE;
		}
	}
	if (optind != argc || (o->send_code && o->code) ||
	    ((o->send_code || o->code) && o->email == NULL) ||
	    (o->password_stdin && o->code == NULL)) {
		fprintf(stderr, "%s", usage_text);
		return EX_USAGE;
	}
	return EX_DONE;
}

/* Obtenir un code de vérification: prints the answer (the same whatever the address). */
static int
send_code(struct cli_session *s, const char *email, const char *purpose, portail_status *st)
{
	json_t *resp = NULL;
	int rc = cli_call_status(s, json_pack("{s:s, s:s, s:s}", "op", "code.request", "email",
	    email, "purpose", purpose), &resp, st);

	if (rc == EX_DONE) {
		if (s->cli->json)
			cli_print_json(json_incref(resp));
		else
			printf("%s\n", json_string_value(json_object_get(resp, "message")));
	}
	json_decref(resp);
	return rc;
}

/* Enregistrer: the password and its confirmation with the ticket. */
static int
save_password(struct cli_session *s, const char *op, const char *ticket, const char *pw,
    const char *confirmation, portail_status *st)
{
	json_t *resp = NULL;
	int rc = cli_call_status(s, json_pack("{s:s, s:s, s:s, s:s}", "op", op, "ticket", ticket,
	    "password", pw, "confirmation", confirmation), &resp, st);
	char line[400];

	if (rc == EX_DONE) {
		if (s->cli->json)
			cli_print_json(json_incref(resp));
		else
			printf("%s\n", portail_msgf(line, sizeof(line), strcmp(op, "account.create") == 0 ?
			    PORTAIL_MSG_DIALOG_CREATED_FOR : PORTAIL_MSG_DIALOG_CHANGED_FOR, cli_english,
			    json_string_value(json_object_get(resp, "email"))));
	}
	json_decref(resp);
	return rc;
}

/*
 * The sign-up or reset dialog (lib/dialog.h) on the terminal: each step's
 * prompt or the seed's button in brackets, then the answer read or the
 * call made; the dialog says what follows.
 */
static int
interactive(struct cli_session *s, enum portail_dialog_kind kind, const char *email_opt)
{
	bool signup = kind == PORTAIL_DIALOG_SIGNUP;
	const char *purpose = signup ? "signup" : "reset";
	char email[300] = "", code[80] = "", ticket[PORTAIL_TICKET_LEN + 1] = "";
	char pw[1100] = "", conf[1100] = "";
	struct portail_dialog d;
	int rc = EX_DONE;

	printf("%s\n\n%s\n", portail_msg(portail_dialog_title(kind), cli_english),
	    MSG(DIALOG_COMPLETE));
	if (portail_dialog_school_hint(kind))
		printf("%s\n", MSG(DIALOG_SCHOOL_ADDRESS));
	portail_dialog_start(&d, kind, false, PORTAIL_STEP_ADDRESS);
	while (d.step != PORTAIL_STEP_DONE && d.step != PORTAIL_STEP_CANCELLED &&
	    d.step != PORTAIL_STEP_FAILED) {
		enum portail_dialog_outcome out = PORTAIL_OUTCOME_UNAVAILABLE;
		enum portail_msg button = portail_dialog_button(&d);
		portail_status st = PORTAIL_ERR_UNAVAILABLE;

		if (button != PORTAIL_MSG_COUNT)
			printf("[%s]\n", portail_msg(button, cli_english));
		switch (d.step) {
		case PORTAIL_STEP_ADDRESS:
			if (cli_dialog_given_address(&email_opt, email, sizeof(email)))
				out = PORTAIL_OUTCOME_OK;
			else if (!cli_read_line(MSG(DIALOG_ADDRESS_PROMPT), email, sizeof(email), false)) {
				out = PORTAIL_OUTCOME_CANCEL;
			} else {
				out = email[0] == '\0' ? PORTAIL_OUTCOME_EMPTY : PORTAIL_OUTCOME_OK;
			}
			break;
		case PORTAIL_STEP_SEND_CODE:
		case PORTAIL_STEP_NEW_CODE:
			rc = send_code(s, email, purpose, &st);
			out = portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_CODE:
			out = cli_dialog_read_code(&d, code, sizeof(code));
			break;
		case PORTAIL_STEP_VERIFY:
			rc = cli_verify_code(s, email, purpose, code, NULL, ticket, sizeof(ticket), &st);
			sodium_memzero(code, sizeof(code));
			out = portail_dialog_outcome_of(st);
			break;
		case PORTAIL_STEP_PASSWORD:
			out = cli_read_line(portail_msg(portail_dialog_prompt(&d), cli_english), pw,
			    sizeof(pw), true) && cli_read_line(MSG(DIALOG_CONFIRMATION_PROMPT), conf,
			    sizeof(conf), true) ? PORTAIL_OUTCOME_OK : PORTAIL_OUTCOME_CANCEL;
			break;
		case PORTAIL_STEP_SAVE:
			rc = save_password(s, signup ? "account.create" : "password.reset", ticket, pw, conf,
			    &st);
			sodium_memzero(pw, sizeof(pw));
			sodium_memzero(conf, sizeof(conf));
			out = portail_dialog_outcome_of(st);
			break;
		default:
			break;
		}
		cli_dialog_next(&d, out, code, sizeof(code), email);
	}
	sodium_memzero(code, sizeof(code));
	sodium_memzero(ticket, sizeof(ticket));
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(conf, sizeof(conf));
	return cli_dialog_exit(&d, rc);
}

static int
flow_command(struct cli *cli, int argc, char **argv, const char *purpose)
{
	bool signup = strcmp(purpose, "signup") == 0;
	const char *usage_text = signup ? MSG(CLI_SIGNUP_USAGE) : MSG(CLI_RESET_USAGE);
	struct flow_opts o;
	struct cli_session s;
	int rc;

	if ((rc = parse_flow_opts(argc, argv, &o, usage_text)) != EX_DONE)
		return rc < 0 ? EX_DONE : rc;
	if ((rc = cli_session_open(cli, &s)) != EX_DONE)
		return rc;
	if (o.send_code) {
		rc = send_code(&s, o.email, purpose, NULL);
	} else if (o.code != NULL) {
		char ticket[PORTAIL_TICKET_LEN + 1] = "", pw[1100] = "", conf[1100] = "";

		if (!o.password_stdin) {
			fprintf(stderr, "%s", usage_text);
			rc = EX_USAGE;
		} else if ((rc = cli_verify_code(&s, o.email, purpose, o.code, NULL, ticket,
		    sizeof(ticket), NULL)) == EX_DONE) {
			if (!cli_read_line(NULL, pw, sizeof(pw), true) ||
			    !cli_read_line(NULL, conf, sizeof(conf), true)) {
				fprintf(stderr, "%s", MSG(CLI_TWO_LINES));
				rc = EX_USAGE;
			} else {
				rc = save_password(&s, signup ? "account.create" : "password.reset",
				    ticket, pw, conf, NULL);
			}
		}
		sodium_memzero(ticket, sizeof(ticket));
		sodium_memzero(pw, sizeof(pw));
		sodium_memzero(conf, sizeof(conf));
	} else {
		rc = interactive(&s, signup ? PORTAIL_DIALOG_SIGNUP : PORTAIL_DIALOG_RESET, o.email);
	}
	cli_session_close(&s);
	return rc;
}

int
cmd_signup(struct cli *cli, int argc, char **argv)
{
	return flow_command(cli, argc, argv, "signup");
}

int
cmd_reset(struct cli *cli, int argc, char **argv)
{
	return flow_command(cli, argc, argv, "reset");
}

