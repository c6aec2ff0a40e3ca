/* cli.h — what the CLI's command files share. */
#ifndef PORTAIL_CLI_H
#define PORTAIL_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"

enum { EX_DONE = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNAVAILABLE = 3 };

struct cli {
	const char *config_path;
	bool json;
};

/* The exit status for a status (DESIGN §4). */
int cli_exit_for(portail_status s);
/* Prints j indented and drops the reference. */
void cli_print_json(json_t *j);
bool cli_wants_help(int argc, char **argv);
/* Loads the configuration or prints why not; EX_DONE or EX_USAGE. */
int cli_load_config(struct cli *cli, portail_config **cfg);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_signup(struct cli *cli, int argc, char **argv);
int cmd_reset(struct cli *cli, int argc, char **argv);
int cmd_auth(struct cli *cli, int argc, char **argv);
int cmd_account(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_link(struct cli *cli, int argc, char **argv);

#endif
