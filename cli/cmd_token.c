/*
 * cmd_token.c — portail token issue|list|revoke: the long-lived "stay
 * connected" tokens, through portaild.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common.h"

int
cmd_token(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "label", required_argument, NULL, 'l' },
		{ "id", required_argument, NULL, 'i' },
		{ "all", no_argument, NULL, 'a' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage_text = MSG(CLI_TOKEN_USAGE);
	const char *email = NULL, *label = NULL, *verb;
	long long id = -1;
	bool all = false, from_stdin = false;
	char pw[1100] = "";
	struct cli_session s;
	json_t *req, *resp = NULL;
	int ch, rc;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		printf("%s", usage_text);
		return argc < 2 ? EX_USAGE : EX_DONE;
	}
	verb = argv[1];
	optind = 0;     /* glibc: 0 re-initializes getopt after main's scan */
	while ((ch = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		char *end = NULL;

		switch (ch) {
		case 'e': email = optarg; break;
		case 'l': label = optarg; break;
		case 'a': all = true; break;
		case 'p': from_stdin = true; break;
		case 'i':
			id = strtoll(optarg, &end, 10);
			if (end == optarg || *end != '\0' || id < 0) {
				fprintf(stderr, "%s", usage_text);
				return EX_USAGE;
			}
			break;
		default:
			fprintf(stderr, "%s", usage_text);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1 || email == NULL ||
	    (strcmp(verb, "issue") == 0 && label == NULL) ||
	    (strcmp(verb, "revoke") == 0 && (id >= 0) == all) ||
	    (strcmp(verb, "issue") && strcmp(verb, "list") && strcmp(verb, "revoke"))) {
		fprintf(stderr, "%s", usage_text);
		return EX_USAGE;
	}
	if ((rc = cli_session_open(cli, &s)) != EX_DONE)
		return rc;
	if (geteuid() != 0 || from_stdin) {
		if (!cli_read_line(from_stdin ? NULL : MSG(DIALOG_SIGN_IN_PROMPT), pw, sizeof(pw), true)) {
			cli_session_close(&s);
			return EX_USAGE;
		}
	}
	if (strcmp(verb, "issue") == 0)
		req = json_pack("{s:s, s:s, s:s}", "op", "token.issue", "email", email, "label", label);
	else if (strcmp(verb, "list") == 0)
		req = json_pack("{s:s, s:s}", "op", "token.list", "email", email);
	else
		req = json_pack("{s:s, s:s}", "op", "token.revoke", "email", email);
	if (req != NULL && id >= 0)
		json_object_set_new(req, "id", json_integer(id));
	if (req != NULL && pw[0] != '\0')
		json_object_set_new(req, "password", json_string(pw));
	sodium_memzero(pw, sizeof(pw));
	rc = cli_call(&s, req, &resp);
	if (rc == EX_DONE) {
		if (cli->json) {
			cli_print_json(json_incref(resp));
		} else if (strcmp(verb, "issue") == 0) {
			char line[1024];

			/* The token goes straight to stdout, never into line. */
			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_TOKEN_ISSUED, cli_english,
			    label, (long long)json_integer_value(json_object_get(resp, "id"))), stdout);
			printf("%s\n", json_string_value(json_object_get(resp, "token")));
		} else if (strcmp(verb, "list") == 0) {
			size_t i;
			json_t *t;

			json_array_foreach(json_object_get(resp, "tokens"), i, t) {
				time_t exp = (time_t)json_integer_value(json_object_get(t, "expires"));
				char when[32];

				strftime(when, sizeof(when), "%Y-%m-%d", localtime(&exp));
				printf("%lld  %s  %s %s\n", (long long)json_integer_value(json_object_get(t, "id")),
				    json_string_value(json_object_get(t, "label")), MSG(CLI_TOKEN_EXPIRES), when);
			}
		} else {
			printf("%s\n", MSG(CLI_REVOKED));
		}
		if (strcmp(verb, "issue") == 0) {
			json_t *tok = json_object_get(resp, "token");

			if (json_is_string(tok))
				sodium_memzero((void *)(uintptr_t)json_string_value(tok), json_string_length(tok));
		}
	}
	json_decref(resp);
	cli_session_close(&s);
	return rc;
}

