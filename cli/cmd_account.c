/*
 * cmd_account.c — portail account list|show|disable|enable|unlock|delete
 * (admin), through portaild.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common.h"

static void
print_account(json_t *a)
{
	long long locked = json_integer_value(json_object_get(a, "locked_for"));

	printf("%s  %s%s%s  %s %lld%s\n", json_string_value(json_object_get(a, "email")),
	    strcmp(json_string_value(json_object_get(a, "state")), "disabled") == 0 ?
	    MSG(CLI_ACCOUNT_DISABLED) : MSG(CLI_ACCOUNT_ENABLED),
	    json_is_true(json_object_get(a, "has_password")) ? "" : MSG(CLI_ACCOUNT_NO_PASSWORD),
	    locked > 0 ? MSG(CLI_ACCOUNT_LOCKED) : "",
	    MSG(CLI_ACCOUNT_FAILURES), (long long)json_integer_value(json_object_get(a, "failures")),
	    "");
	if (json_array_size(json_object_get(a, "links")) > 0) {
		json_t *v;
		size_t i;

		printf("  %s", MSG(CLI_ACCOUNT_LINKED_WITH));
		json_array_foreach(json_object_get(a, "links"), i, v)
			printf(" %s", json_string_value(v));
		printf("\n");
	}
}

int
cmd_account(struct cli *cli, int argc, char **argv)
{
	const char *usage_text = MSG(CLI_ACCOUNT_USAGE);
	static const char *const verbs[] = { "show", "disable", "enable", "unlock", "delete" };
	struct cli_session s;
	json_t *resp = NULL;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", usage_text);
		return EX_DONE;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		if ((rc = cli_session_open(cli, &s)) != EX_DONE)
			return rc;
		rc = cli_call(&s, json_pack("{s:s}", "op", "account.list"), &resp);
		if (rc == EX_DONE) {
			if (cli->json) {
				cli_print_json(json_incref(resp));
			} else {
				size_t i;
				json_t *a;

				json_array_foreach(json_object_get(resp, "accounts"), i, a)
					print_account(a);
			}
		}
		json_decref(resp);
		cli_session_close(&s);
		return rc;
	}
	for (size_t i = 0; argc == 3 && i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char op[32];

		if (strcmp(argv[1], verbs[i]) != 0)
			continue;
		if ((rc = cli_session_open(cli, &s)) != EX_DONE)
			return rc;
		snprintf(op, sizeof(op), "account.%s", verbs[i]);
		rc = cli_call(&s, json_pack("{s:s, s:s}", "op", op, "email", argv[2]), &resp);
		if (rc == EX_DONE) {
			if (cli->json)
				cli_print_json(json_incref(resp));
			else if (strcmp(verbs[i], "delete") == 0) {
				char line[1024];

				fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_ACCOUNT_DELETED,
				    cli_english, argv[2]), stdout);
			} else
				print_account(json_object_get(resp, "account"));
		}
		json_decref(resp);
		cli_session_close(&s);
		return rc;
	}
	fprintf(stderr, "%s", usage_text);
	return EX_USAGE;
}

