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
	    T("désactivé", "disabled") : T("actif", "enabled"),
	    json_is_true(json_object_get(a, "has_password")) ? "" : T(", sans mot de passe", ", no password"),
	    locked > 0 ? T(", bloqué", ", locked") : "",
	    T("échecs", "failures"), (long long)json_integer_value(json_object_get(a, "failures")),
	    "");
	if (json_array_size(json_object_get(a, "links")) > 0) {
		json_t *v;
		size_t i;

		printf("  %s", T("lié à :", "linked with:"));
		json_array_foreach(json_object_get(a, "links"), i, v)
			printf(" %s", json_string_value(v));
		printf("\n");
	}
}

int
cmd_account(struct cli *cli, int argc, char **argv)
{
	const char *usage_text = T("usage : portail account list\n"
	    "        portail account show|disable|enable|unlock|delete COURRIEL\n"
	    "Comptes des parents (admin). show n'affiche jamais de hachage.\n",
	    "usage: portail account list\n"
	    "       portail account show|disable|enable|unlock|delete EMAIL\n"
	    "Parents' accounts (admin). show never prints a hash.\n");
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
			else if (strcmp(verbs[i], "delete") == 0)
				printf(T("Compte supprimé : %s\n", "Account deleted: %s\n"), argv[2]);
			else
				print_account(json_object_get(resp, "account"));
		}
		json_decref(resp);
		cli_session_close(&s);
		return rc;
	}
	fprintf(stderr, "%s", usage_text);
	return EX_USAGE;
}

