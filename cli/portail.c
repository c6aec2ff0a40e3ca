/*
 * portail — the command-line front end (DESIGN §4): the global options
 * and the dispatch to a command. Each command is in cli/cmd_NAME.c
 * (cmd_init.c, cmd_check.c for check and status, cmd_gpi.c, cmd_signup.c
 * for signup and reset, cmd_auth.c, cmd_account.c, cmd_token.c,
 * cmd_link.c, cmd_store.c for store migrate); what they share is in
 * cli/common.c.
 *
 * Exit status: 0 done, 1 refused (unknown parent, bad credentials…),
 * 2 usage or configuration error, 3 unavailable (directory, store, mail,
 * daemon). init, check and store migrate run in-process with the core
 * library, so they work while the daemon is down (store migrate insists
 * on it); every other command asks portaild.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

static void
usage(FILE *f)
{
	char text[4096];

	fputs(portail_msgf(text, sizeof(text), PORTAIL_MSG_CLI_USAGE, cli_english,
	    PORTAIL_DEFAULT_CONFIG), f);
}

/* The commands, each in cli/cmd_NAME.c. */
static const struct {
	const char *name;
	int (*run)(struct cli *, int, char **);
} commands[] = {
	{ "init", cmd_init },
	{ "check", cmd_check },
	{ "status", cmd_status },
	{ "gpi", cmd_gpi },
	{ "signup", cmd_signup },
	{ "reset", cmd_reset },
	{ "auth", cmd_auth },
	{ "account", cmd_account },
	{ "token", cmd_token },
	{ "link", cmd_link },
	{ "store", cmd_store },
};

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "lang", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { 0 };
	char line[1024];
	int ch;

	/* Options stop at the command: "portail gpi lookup --help" is the command's. */
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'j':
			cli.json = true;
			break;
		case 'L':
			if (strcmp(optarg, "fr") == 0) {
				cli_english = false;
			} else if (strcmp(optarg, "en") == 0) {
				cli_english = true;
			} else {
				fprintf(stderr, "portail: --lang fr|en\n");
				return EX_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EX_DONE;
		case 'V':
			printf("portail %s\n", portail_version());
			return EX_DONE;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EX_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(&cli, argc, argv);
	fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_UNKNOWN_COMMAND, cli_english,
	    argv[0]), stderr);
	return EX_USAGE;
}
