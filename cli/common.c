/*
 * common.c — the helpers every command of the CLI uses (common.h):
 * statuses, JSON output, the configuration, the terminal, portaild.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common.h"
#include "protocol.h"

bool cli_english;

int
cli_exit_for(portail_status s)
{
	switch (s) {
	case PORTAIL_OK:
		return EX_DONE;
	case PORTAIL_ERR_UNAVAILABLE:
	case PORTAIL_ERR_BUSY:
	case PORTAIL_ERR_IO:
	case PORTAIL_ERR_NOMEM:
		return EX_UNAVAILABLE;
	case PORTAIL_ERR_CONFIG:
	case PORTAIL_ERR_INVALID:
		return EX_USAGE;
	default:
		return EX_REFUSED;
	}
}

void
cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int
cli_load_config(struct cli *cli, portail_config **cfg)
{
	portail_error err = { { 0 } };
	portail_status r = portail_config_load(cli->config_path, cfg, &err);

	if (r != PORTAIL_OK) {
		if (cli->json) {
			cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "config",
			    "message", err.message));
		} else {
			fprintf(stderr, "portail: %s\n", err.message);
		}
		return EX_USAGE;
	}
	return EX_DONE;
}

/* ---- the terminal ------------------------------------------------------------- */

/*
 * The signals that may come while echo is off, as OpenBSD's
 * readpassphrase(3) handles them: caught, the terminal restored, then
 * re-raised with their old action, so that Ctrl-C, a hang-up or a kill
 * never leaves the parent's terminal without echo. A stop (Ctrl-Z) asks
 * again once the process is continued.
 */
static const int prompt_signals[] = {
	SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU,
};
#define N_PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))
static volatile sig_atomic_t prompt_caught[NSIG];

static void
prompt_on_signal(int sig)
{
	prompt_caught[sig] = 1;
}

static bool
prompt_any_caught(void)
{
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		if (prompt_caught[prompt_signals[i]])
			return true;
	return false;
}

bool
cli_read_line(const char *prompt, char *buf, size_t len, bool secret)
{
	struct termios old, noecho;
	struct sigaction sa, saved[N_PROMPT_SIGNALS];
	sigset_t block, prev;
	bool restore, ok, again;
	FILE *in = stdin;
	int fd = fileno(in);

ask:
	restore = false;
	again = false;
	if (prompt != NULL) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	if (secret && isatty(fd) && tcgetattr(fd, &old) == 0) {
		/*
		 * blocked from here until the wait below, which unblocks them
		 * atomically (ppoll): a signal that comes after the handlers
		 * and before the read cannot be missed while the read waits
		 */
		sigemptyset(&block);
		for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
			sigaddset(&block, prompt_signals[i]);
		(void)sigprocmask(SIG_BLOCK, &block, &prev);
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = prompt_on_signal;       /* no SA_RESTART: the read stops */
		for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
			prompt_caught[prompt_signals[i]] = 0;
			(void)sigaction(prompt_signals[i], &sa, &saved[i]);
		}
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fd, TCSAFLUSH, &noecho) == 0;
		if (!restore) {
			for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
				(void)sigaction(prompt_signals[i], &saved[i], NULL);
			(void)sigprocmask(SIG_SETMASK, &prev, NULL);
		}
	}
	if (restore) {
		/* a terminal in canonical mode is readable once a whole line is there */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n;

		while ((n = ppoll(&p, 1, NULL, &prev)) < 0 && errno == EINTR && !prompt_any_caught())
			;
		ok = n > 0 && !prompt_any_caught() && fgets(buf, (int)len, in) != NULL;
	} else {
		ok = fgets(buf, (int)len, in) != NULL;
	}
	if (restore) {
		int e = errno;

		/* restored before anything else, even when a signal cut the read */
		while (tcsetattr(fd, TCSAFLUSH, &old) != 0 && errno == EINTR)
			;
		fputc('\n', stdout);
		fflush(stdout);
		for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
			(void)sigaction(prompt_signals[i], &saved[i], NULL);
		(void)sigprocmask(SIG_SETMASK, &prev, NULL);
		for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
			int sig = prompt_signals[i];

			if (!prompt_caught[sig])
				continue;
			sodium_memzero(buf, len);
			ok = false;
			(void)kill(getpid(), sig);      /* its old action: dies, or stops */
			if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				again = true;           /* continued: ask again */
		}
		if (again) {
			clearerr(in);
			goto ask;
		}
		errno = e;
	}
	if (!ok) {
		buf[0] = '\0';
		return false;
	}
	if (strchr(buf, '\n') == NULL && !feof(in)) {
		/* longer than the buffer: refuse rather than cut a password */
		int c;

		while ((c = fgetc(in)) != EOF && c != '\n')
			;
		sodium_memzero(buf, len);
		buf[0] = '\0';
		return false;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* ---- talking to the daemon -------------------------------------------------- */

int
cli_session_open(struct cli *cli, struct cli_session *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->cli = cli;
	if ((rc = cli_load_config(cli, &s->cfg)) != EX_DONE)
		return rc;
	if (portail_client_new(s->cfg->daemon.socket, 0, &s->client) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", s->cfg->daemon.socket);
		portail_config_free(s->cfg);
		s->cfg = NULL;
		return EX_USAGE;
	}
	portail_client_set_lang(s->client, cli_english ? "en" : "fr");
	portail_client_set_origin(s->client, "portail-cli", NULL);
	return EX_DONE;
}

void
cli_session_close(struct cli_session *s)
{
	portail_client_free(s->client);
	portail_config_free(s->cfg);
	s->client = NULL;
	s->cfg = NULL;
}

void
cli_drop(json_t *answer)
{
	portail_proto_wipe_secrets(answer);
	json_decref(answer);
}

/* After a code.verify that answered rc: the answer's ticket into ticket (cli_verify_code). */
static int
take_ticket(int rc, json_t *answer, char *ticket, size_t len, portail_status *st)
{
	const char *t;
	int n;

	if (rc != EX_DONE)
		return rc;
	t = json_string_value(json_object_get(answer, "ticket"));
	n = snprintf(ticket, len, "%s", t != NULL ? t : "");
	if (t == NULL || n < 0 || (size_t)n >= len) {
		sodium_memzero(ticket, len);
		rc = EX_UNAVAILABLE;
		if (st != NULL)
			*st = PORTAIL_ERR_PROTOCOL;
	}
	return rc;
}

int
cli_verify_code(struct cli_session *s, const char *email, const char *purpose, const char *code,
    const char *link_ticket, char *ticket, size_t len, portail_status *st)
{
	json_t *answer = NULL;
	int rc = cli_call_status(s, json_pack("{s:s, s:s, s:s, s:s, s:s*}", "op", "code.verify",
	    "email", email, "purpose", purpose, "code", code, "link_ticket", link_ticket), &answer, st);

	rc = take_ticket(rc, answer, ticket, len, st);
	cli_drop(answer);
	return rc;
}

bool
cli_dialog_given_address(const char **given, char *email, size_t len)
{
	char line[400];

	if (*given == NULL)
		return false;
	snprintf(email, len, "%s", *given);
	printf("%s\n", portail_msgf(line, sizeof(line), PORTAIL_MSG_DIALOG_ADDRESS_GIVEN, cli_english,
	    email));
	*given = NULL;
	return true;
}

enum portail_dialog_outcome
cli_dialog_read_code(const struct portail_dialog *d, char *code, size_t len)
{
	if (!cli_read_line(portail_msg(portail_dialog_prompt(d), cli_english), code, len, false))
		return PORTAIL_OUTCOME_CANCEL;
	return portail_dialog_read_code(d, code);
}

void
cli_dialog_next(struct portail_dialog *d, enum portail_dialog_outcome out, char *code,
    size_t code_len, char *email)
{
	enum portail_msg notice;

	if (out != PORTAIL_OUTCOME_OK || d->step != PORTAIL_STEP_CODE)
		sodium_memzero(code, code_len);
	portail_dialog_next(d, out);
	if ((notice = portail_dialog_notice(d)) != PORTAIL_MSG_COUNT)
		fprintf(stderr, "%s\n", portail_msg(notice, cli_english));
	if (d->step == PORTAIL_STEP_ADDRESS)
		email[0] = '\0';
}

int
cli_dialog_exit(const struct portail_dialog *d, int last_rc)
{
	switch (d->step) {
	case PORTAIL_STEP_DONE:
		return EX_DONE;
	case PORTAIL_STEP_CANCELLED:
		return EX_USAGE;
	default:
		return last_rc != EX_DONE ? last_rc : EX_REFUSED;      /* out of tries */
	}
}

int
cli_call_status(struct cli_session *s, json_t *req, json_t **resp, portail_status *st)
{
	portail_error err = { { 0 } };
	json_t *answer = NULL;
	portail_status r;

	if (req == NULL)
		return EX_UNAVAILABLE;
	r = portail_client_call(s->client, req, &answer, &err);
	portail_proto_wipe_secrets(req);
	json_decref(req);
	if (st != NULL)
		*st = r;
	if (r == PORTAIL_OK) {
		if (resp != NULL)
			*resp = answer;
		else
			cli_drop(answer);
		return EX_DONE;
	}
	if (s->cli->json && answer != NULL)
		cli_print_json(json_incref(answer));
	else
		fprintf(stderr, "%s\n", err.message);
	cli_drop(answer);
	return cli_exit_for(r);
}

int
cli_call(struct cli_session *s, json_t *req, json_t **resp)
{
	return cli_call_status(s, req, resp, NULL);
}
