/*
 * common.h — what the CLI's command files share (common.c): the exit
 * statuses, the language, reading a line or a password from the
 * terminal, a session with portaild and sending it a request, printing
 * an answer or an error. Each command lives in cli/cmd_NAME.c;
 * cli/portail.c parses the global options and dispatches.
 */
#ifndef PORTAIL_CLI_COMMON_H
#define PORTAIL_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "dialog.h"
#include "messages.h"
#include "portail-client.h"

enum { EX_DONE = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNAVAILABLE = 3 };

struct cli {
	const char *config_path;
	bool json;
};

/* --lang en: the CLI speaks French by default. */
extern bool cli_english;

/* A message of the shared table (lib/messages.def) in the CLI's language. */
#define MSG(id) portail_msg(PORTAIL_MSG_##id, cli_english)

/* The exit status for a status (DESIGN §4). */
int cli_exit_for(portail_status s);
/* Prints j indented and drops the reference. */
void cli_print_json(json_t *j);
bool cli_wants_help(int argc, char **argv);
/* Loads the configuration or prints why not; EX_DONE or EX_USAGE. */
int cli_load_config(struct cli *cli, portail_config **cfg);

/*
 * Prints prompt (unless NULL) and reads one line into buf, newline
 * removed; echo off when secret and reading from a terminal (signals
 * restore the terminal, as readpassphrase(3)). False at end of input,
 * after a signal, or for a line longer than buf (wiped, never cut).
 */
bool cli_read_line(const char *prompt, char *buf, size_t len, bool secret);

/* A configuration and a client of portaild, for one command. */
struct cli_session {
	struct cli *cli;
	portail_config *cfg;
	portail_client *client;
};

/* EX_DONE, or the exit status after saying why not. */
int cli_session_open(struct cli *cli, struct cli_session *s);
void cli_session_close(struct cli_session *s);

/*
 * Sends req (consumed; its secrets wiped, portail_proto_wipe_secrets)
 * and returns the exit status; on success *resp (if not NULL) holds the
 * answer, the caller's. A refusal's message is printed on stderr (or the
 * JSON answer, with --json).
 */
int cli_call(struct cli_session *s, json_t *req, json_t **resp);
/* cli_call, and *st gets portaild's status (what a dialog's step needs). */
int cli_call_status(struct cli_session *s, json_t *req, json_t **resp, portail_status *st);

/* Wipes the secret strings of an answer (a ticket, a token) and drops it. */
void cli_drop(json_t *answer);

/*
 * Vérifier le code: code.verify of code for email and purpose (and the
 * social link's link_ticket unless NULL); returns the exit status, *st
 * (if not NULL) portaild's status. On success ticket (len bytes) holds
 * the answer's ticket; a missing one or one longer than this CLI knows
 * (portaild and the CLI disagree) leaves ticket wiped and returns
 * EX_UNAVAILABLE with *st PORTAIL_ERR_PROTOCOL. The answer is wiped.
 */
int cli_verify_code(struct cli_session *s, const char *email, const char *purpose,
    const char *code, const char *link_ticket, char *ticket, size_t len, portail_status *st);

/*
 * A dialog's address step with --email: copies *given (unless NULL) into
 * email, shows it as if typed and sets *given to NULL, so that a dialog
 * sent back to the address asks for it; false when there was none.
 */
bool cli_dialog_given_address(const char **given, char *email, size_t len);

/* A dialog's code step on the terminal: reads the code into code; its outcome. */
enum portail_dialog_outcome cli_dialog_read_code(const struct portail_dialog *d, char *code,
    size_t len);

/*
 * After a dialog's step that ended in out: wipes the code unless it is
 * the one the next step verifies, moves the dialog on, prints the notice
 * it has (a wrong code, too many tries …) and forgets the address when
 * the dialog goes back to it (Modifier le courriel).
 */
void cli_dialog_next(struct portail_dialog *d, enum portail_dialog_outcome out, char *code,
    size_t code_len, char *email);

/* A dialog's exit status: EX_DONE, EX_USAGE for Annuler, else its last call's or EX_REFUSED. */
int cli_dialog_exit(const struct portail_dialog *d, int last_rc);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_gpi(struct cli *cli, int argc, char **argv);
int cmd_signup(struct cli *cli, int argc, char **argv);
int cmd_reset(struct cli *cli, int argc, char **argv);
int cmd_auth(struct cli *cli, int argc, char **argv);
int cmd_account(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);
int cmd_link(struct cli *cli, int argc, char **argv);
int cmd_store(struct cli *cli, int argc, char **argv);

#endif
