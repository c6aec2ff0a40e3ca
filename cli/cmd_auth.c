/*
 * cmd_auth.c — portail auth: a password and the access check, in one
 * request to portaild.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common.h"

int
cmd_auth(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage_text = MSG(CLI_AUTH_USAGE);
	bool from_stdin = false;
	char pw[1100] = "";
	struct cli_session s;
	json_t *resp = NULL;
	int ch, rc;

	optind = 0;	/* glibc: 0 re-initializes getopt after main's scan */
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'p') {
			from_stdin = true;
		} else if (ch == 'h') {
			printf("%s", usage_text);
			return EX_DONE;
		} else {
			fprintf(stderr, "%s", usage_text);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s", usage_text);
		return EX_USAGE;
	}
	if ((rc = cli_session_open(cli, &s)) != EX_DONE)
		return rc;
	if (!cli_read_line(from_stdin ? NULL : MSG(DIALOG_SIGN_IN_PROMPT), pw, sizeof(pw), true)) {
		cli_session_close(&s);
		return EX_USAGE;
	}
	/* the access check in the same request, after the proof: any user may ask it so */
	rc = cli_call(&s, json_pack("{s:s, s:s, s:s, s:b}", "op", "auth.password", "email", argv[optind],
	    "password", pw, "check", 1), &resp);
	sodium_memzero(pw, sizeof(pw));
	if (rc == EX_DONE) {
		const char *access = json_string_value(json_object_get(resp, "access"));

		if (access == NULL || (strcmp(access, "active") != 0 && strcmp(access, "grace") != 0)) {
			const char *msg = json_string_value(json_object_get(resp, "access_message"));

			rc = access != NULL && strcmp(access, "unavailable") != 0 ? EX_REFUSED :
			    EX_UNAVAILABLE;
			if (cli->json)
				cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 0, "error",
				    access != NULL ? access : "unavailable", "message", msg ? msg : ""));
			else
				fprintf(stderr, "%s\n", msg != NULL ? msg : "");
		}
	}
	if (rc == EX_DONE) {
		if (cli->json)
			cli_print_json(json_pack("{s:b, s:s, s:b}", "ok", 1, "email", argv[optind],
			    "grace", strcmp(json_string_value(json_object_get(resp, "access")),
			    "grace") == 0));
		else {
			char line[1024];

			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_SIGNED_IN, cli_english,
			    argv[optind]), stdout);
		}
	}
	json_decref(resp);
	cli_session_close(&s);
	return rc;
}

