/*
 * flows.c — the CLI's parent and admin commands that go through portaild:
 * signup, reset, auth, account; and init, which prepares the key and
 * the store in-process (as root).
 *
 * The interactive prompts follow the seed's screens (Complétez les
 * informations suivantes, Obtenir un code de vérification, Vérifier le
 * code, Obtenir un nouveau code, Modifier le courriel, Nouveau mot de
 * passe, Confirmation, Enregistrer); Ctrl-C is "Annuler" and leaves
 * nothing behind. Passwords are never read from the command line,
 * never echoed, and wiped after use.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "codes.h"
#include "daemonuser.h"
#include "email.h"
#include "i18n.h"
#include "key.h"
#include "portail-client.h"
#include "store.h"

/* ---- input ------------------------------------------------------------------ */

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

/*
 * Reads one line into buf (newline removed). Echo off when secret and
 * reading from a terminal. False at end of input.
 */
static bool
read_line(const char *prompt, char *buf, size_t len, bool secret)
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

struct session {
	struct cli *cli;
	portail_config *cfg;
	portail_client *client;
};

static int
session_open(struct cli *cli, struct session *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->cli = cli;
	if ((rc = cli_load_config(cli, &s->cfg)) != EX_DONE)
		return rc;
	if (portail_client_new(s->cfg->daemon.socket, 0, &s->client) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", s->cfg->daemon.socket);
		portail_config_free(s->cfg);
		return EX_USAGE;
	}
	portail_client_set_lang(s->client, cli_english ? "en" : "fr");
	portail_client_set_origin(s->client, "portail-cli", NULL);
	return EX_DONE;
}

static void
session_close(struct session *s)
{
	portail_client_free(s->client);
	portail_config_free(s->cfg);
}

/*
 * Sends req (consumed; its secret strings are wiped) and returns the
 * exit status; on success *resp (if not NULL) holds the answer. A
 * refusal's message is printed (or the JSON answer, with --json).
 */
static int
call(struct session *s, json_t *req, json_t **resp)
{
	portail_error err = { { 0 } };
	json_t *answer = NULL;
	portail_status r;
	const char *k;
	json_t *v;

	if (req == NULL)
		return EX_UNAVAILABLE;
	r = portail_client_call(s->client, req, &answer, &err);
	json_object_foreach(req, k, v) {
		if (json_is_string(v) && (strcmp(k, "password") == 0 ||
		    strcmp(k, "confirmation") == 0 || strcmp(k, "code") == 0 ||
		    strcmp(k, "ticket") == 0 || strcmp(k, "token") == 0 ||
		    strcmp(k, "link_ticket") == 0 || strcmp(k, "access_token") == 0 ||
		    strcmp(k, "id_token") == 0))
			sodium_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
	}
	json_decref(req);
	if (r == PORTAIL_OK) {
		if (resp != NULL)
			*resp = answer;
		else
			json_decref(answer);
		return EX_DONE;
	}
	if (s->cli->json && answer != NULL)
		cli_print_json(json_incref(answer));
	else
		fprintf(stderr, "%s\n", err.message);
	json_decref(answer);
	return cli_exit_for(r);
}

/* ---- signup and reset --------------------------------------------------------- */

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

static int
send_code(struct session *s, const char *email, const char *purpose)
{
	json_t *resp = NULL;
	int rc = call(s, json_pack("{s:s, s:s, s:s}", "op", "code.request", "email", email,
	    "purpose", purpose), &resp);

	if (rc == EX_DONE) {
		if (s->cli->json)
			cli_print_json(json_incref(resp));
		else
			printf("%s\n", json_string_value(json_object_get(resp, "message")));
	}
	json_decref(resp);
	return rc;
}

/* Verifies code; on success ticket is filled. */
static int
verify_code(struct session *s, const char *email, const char *purpose, const char *code,
    char *ticket, size_t len)
{
	json_t *resp = NULL;
	int rc = call(s, json_pack("{s:s, s:s, s:s, s:s}", "op", "code.verify", "email", email,
	    "purpose", purpose, "code", code), &resp);

	if (rc == EX_DONE) {
		snprintf(ticket, len, "%s", json_string_value(json_object_get(resp, "ticket")));
		sodium_memzero((void *)(uintptr_t)json_string_value(json_object_get(resp, "ticket")),
		    strlen(ticket));
	}
	json_decref(resp);
	return rc;
}

static int
save_password(struct session *s, const char *op, const char *ticket, const char *pw,
    const char *confirmation)
{
	json_t *resp = NULL;
	int rc = call(s, json_pack("{s:s, s:s, s:s, s:s}", "op", op, "ticket", ticket,
	    "password", pw, "confirmation", confirmation), &resp);

	if (rc == EX_DONE) {
		if (s->cli->json)
			cli_print_json(json_incref(resp));
		else if (strcmp(op, "account.create") == 0)
			printf(T("Votre compte est créé : %s\n", "Your account is ready: %s\n"),
			    json_string_value(json_object_get(resp, "email")));
		else
			printf(T("Votre mot de passe est changé : %s\n", "Your password is changed: %s\n"),
			    json_string_value(json_object_get(resp, "email")));
	}
	json_decref(resp);
	return rc;
}

static int
interactive(struct session *s, const char *purpose, const char *email_opt)
{
	bool signup = strcmp(purpose, "signup") == 0;
	char email[300] = "", code[80], ticket[PORTAIL_TICKET_LEN + 1] = "";
	char pw[1100], conf[1100];
	int rc;

	printf("%s\n\n%s\n", signup ? T("Le Portail Parents — Inscrivez-vous maintenant",
	    "The Parents' Portal — Sign up now") : T("Le Portail Parents — Mot de passe oublié?",
	    "The Parents' Portal — Forgot your password?"),
	    T("Complétez les informations suivantes :", "Complete the following:"));
	if (signup)
		printf("%s\n", T("Le courriel doit être celui que vous avez fourni à l'école.",
		    "The e-mail address must be the one you gave the school."));
address:
	if (email_opt != NULL && email[0] == '\0') {
		snprintf(email, sizeof(email), "%s", email_opt);
		printf("%s %s\n", T("Courriel :", "E-mail:"), email);
	} else {
		do {
			if (!read_line(T("Courriel : ", "E-mail: "), email, sizeof(email), false))
				return EX_USAGE;
		} while (email[0] == '\0');
	}
	printf("[%s]\n", T("Obtenir un code de vérification", "Get a verification code"));
	if ((rc = send_code(s, email, purpose)) != EX_DONE && rc != EX_REFUSED)
		return rc;
	for (;;) {
		if (!read_line(signup ?
		    T("Code de vérification (n : obtenir un nouveau code) : ",
		    "Verification code (n: get a new code): ") :
		    T("Code de vérification (n : obtenir un nouveau code, c : modifier le courriel) : ",
		    "Verification code (n: get a new code, c: change the e-mail address): "),
		    code, sizeof(code), false))
			return EX_USAGE;
		if (strcmp(code, "n") == 0 || strcmp(code, "N") == 0) {
			printf("[%s]\n", T("Obtenir un nouveau code", "Get a new code"));
			if ((rc = send_code(s, email, purpose)) != EX_DONE && rc != EX_REFUSED)
				return rc;
			continue;
		}
		if (!signup && (strcmp(code, "c") == 0 || strcmp(code, "C") == 0)) {
			printf("[%s]\n", T("Modifier le courriel", "Change the e-mail address"));
			email[0] = '\0';
			email_opt = NULL;
			goto address;
		}
		printf("[%s]\n", T("Vérifier le code", "Verify the code"));
		rc = verify_code(s, email, purpose, code, ticket, sizeof(ticket));
		sodium_memzero(code, sizeof(code));
		if (rc == EX_DONE)
			break;
		if (rc != EX_REFUSED)
			return rc;
	}
	for (;;) {
		bool ok = read_line(T("Nouveau mot de passe : ", "New password: "), pw, sizeof(pw), true) &&
		    read_line(T("Confirmation : ", "Confirmation: "), conf, sizeof(conf), true);

		if (!ok) {
			rc = EX_USAGE;
			break;
		}
		printf("[%s]\n", T("Enregistrer", "Save"));
		rc = save_password(s, signup ? "account.create" : "password.reset", ticket, pw, conf);
		sodium_memzero(pw, sizeof(pw));
		sodium_memzero(conf, sizeof(conf));
		/* a refused password: choose another with the same ticket */
		if (rc != EX_REFUSED)
			break;
	}
	sodium_memzero(ticket, sizeof(ticket));
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(conf, sizeof(conf));
	return rc;
}

static int
flow_command(struct cli *cli, int argc, char **argv, const char *purpose)
{
	bool signup = strcmp(purpose, "signup") == 0;
	const char *usage_text = signup ?
	    T("usage : portail signup [--email COURRIEL]\n"
	      "        portail signup --email COURRIEL --send-code\n"
	      "        portail signup --email COURRIEL --code CODE --password-stdin\n"
	      "Sans --send-code ni --code : chaque étape de l'inscription, à l'écran.\n"
	      "--password-stdin lit le mot de passe puis sa confirmation, une ligne chacun.\n",
	      "usage: portail signup [--email EMAIL]\n"
	      "       portail signup --email EMAIL --send-code\n"
	      "       portail signup --email EMAIL --code CODE --password-stdin\n"
	      "Without --send-code or --code: every step of the sign-up, on screen.\n"
	      "--password-stdin reads the password then its confirmation, one line each.\n") :
	    T("usage : portail reset [--email COURRIEL]\n"
	      "        portail reset --email COURRIEL --send-code\n"
	      "        portail reset --email COURRIEL --code CODE --password-stdin\n"
	      "Mot de passe oublié : un code par courriel, puis un nouveau mot de passe.\n",
	      "usage: portail reset [--email EMAIL]\n"
	      "       portail reset --email EMAIL --send-code\n"
	      "       portail reset --email EMAIL --code CODE --password-stdin\n"
	      "Forgotten password: a code by e-mail, then a new password.\n");
	struct flow_opts o;
	struct session s;
	int rc;

	if ((rc = parse_flow_opts(argc, argv, &o, usage_text)) != EX_DONE)
		return rc < 0 ? EX_DONE : rc;
	if ((rc = session_open(cli, &s)) != EX_DONE)
		return rc;
	if (o.send_code) {
		rc = send_code(&s, o.email, purpose);
	} else if (o.code != NULL) {
		char ticket[PORTAIL_TICKET_LEN + 1] = "", pw[1100] = "", conf[1100] = "";

		if (!o.password_stdin) {
			fprintf(stderr, "%s", usage_text);
			rc = EX_USAGE;
		} else if ((rc = verify_code(&s, o.email, purpose, o.code, ticket, sizeof(ticket))) ==
		    EX_DONE) {
			if (!read_line(NULL, pw, sizeof(pw), true) ||
			    !read_line(NULL, conf, sizeof(conf), true)) {
				fprintf(stderr, "%s", T("portail: deux lignes attendues sur l'entrée : "
				    "le mot de passe et sa confirmation\n",
				    "portail: two lines expected on input: the password and its confirmation\n"));
				rc = EX_USAGE;
			} else {
				rc = save_password(&s, signup ? "account.create" : "password.reset",
				    ticket, pw, conf);
			}
		}
		sodium_memzero(ticket, sizeof(ticket));
		sodium_memzero(pw, sizeof(pw));
		sodium_memzero(conf, sizeof(conf));
	} else {
		rc = interactive(&s, purpose, o.email);
	}
	session_close(&s);
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

/* ---- auth -------------------------------------------------------------------- */

int
cmd_auth(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *usage_text = T("usage : portail auth COURRIEL [--password-stdin]\n"
	    "Vérifie le mot de passe puis l'accès (compte actif, enfant dans une école abonnée).\n",
	    "usage: portail auth EMAIL [--password-stdin]\n"
	    "Checks the password, then access (account enabled, a child in a subscribed school).\n");
	bool from_stdin = false;
	char pw[1100] = "";
	struct session s;
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
	if ((rc = session_open(cli, &s)) != EX_DONE)
		return rc;
	if (!read_line(from_stdin ? NULL : T("Mot de passe : ", "Password: "), pw, sizeof(pw), true)) {
		session_close(&s);
		return EX_USAGE;
	}
	/* the access check in the same request, after the proof: any user may ask it so */
	rc = call(&s, json_pack("{s:s, s:s, s:s, s:b}", "op", "auth.password", "email", argv[optind],
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
		else
			printf(T("Connexion acceptée : %s\n", "Signed in: %s\n"), argv[optind]);
	}
	json_decref(resp);
	session_close(&s);
	return rc;
}

/* ---- token --------------------------------------------------------------------- */

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
	const char *usage_text = T("usage : portail token issue --email COURRIEL --label APPAREIL [--password-stdin]\n"
	    "        portail token list --email COURRIEL [--password-stdin]\n"
	    "        portail token revoke --email COURRIEL (--id N | --all) [--password-stdin]\n"
	    "Jetons « rester connecté » (mots de passe d'application). Le mot de passe du compte\n"
	    "est demandé, sauf à root. Un jeton n'est montré qu'une fois.\n",
	    "usage: portail token issue --email EMAIL --label DEVICE [--password-stdin]\n"
	    "       portail token list --email EMAIL [--password-stdin]\n"
	    "       portail token revoke --email EMAIL (--id N | --all) [--password-stdin]\n"
	    "\"Stay connected\" tokens (app passwords). The account's password is asked for,\n"
	    "except from root. A token is shown once.\n");
	const char *email = NULL, *label = NULL, *verb;
	long long id = -1;
	bool all = false, from_stdin = false;
	char pw[1100] = "";
	struct session s;
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
	if ((rc = session_open(cli, &s)) != EX_DONE)
		return rc;
	if (geteuid() != 0 || from_stdin) {
		if (!read_line(from_stdin ? NULL : T("Mot de passe : ", "Password: "), pw, sizeof(pw), true)) {
			session_close(&s);
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
	rc = call(&s, req, &resp);
	if (rc == EX_DONE) {
		if (cli->json) {
			cli_print_json(json_incref(resp));
		} else if (strcmp(verb, "issue") == 0) {
			printf(T("Jeton « %s » (n° %lld), montré une seule fois :\n%s\n",
			    "Token \"%s\" (#%lld), shown only once:\n%s\n"), label,
			    (long long)json_integer_value(json_object_get(resp, "id")),
			    json_string_value(json_object_get(resp, "token")));
		} else if (strcmp(verb, "list") == 0) {
			size_t i;
			json_t *t;

			json_array_foreach(json_object_get(resp, "tokens"), i, t) {
				time_t exp = (time_t)json_integer_value(json_object_get(t, "expires"));
				char when[32];

				strftime(when, sizeof(when), "%Y-%m-%d", localtime(&exp));
				printf("%lld  %s  %s %s\n", (long long)json_integer_value(json_object_get(t, "id")),
				    json_string_value(json_object_get(t, "label")), T("expire le", "expires"), when);
			}
		} else {
			printf("%s\n", T("Révoqué.", "Revoked."));
		}
		if (strcmp(verb, "issue") == 0) {
			json_t *tok = json_object_get(resp, "token");

			if (json_is_string(tok))
				sodium_memzero((void *)(uintptr_t)json_string_value(tok), json_string_length(tok));
		}
	}
	json_decref(resp);
	session_close(&s);
	return rc;
}

/* ---- link: social accounts ------------------------------------------------------- */

struct link_opts {
	const char *provider, *token, *email, *code, *link_ticket, *remember;
	bool send_code, unlink, password_stdin;
};

/* Prints a social step's answer; true when it ends the command (signed in or linked). */
static bool
link_said(struct session *s, json_t *a, const char *provider)
{
	const char *state = json_string_value(json_object_get(a, "state"));
	const char *email = json_string_value(json_object_get(a, "email"));
	const char *token = json_string_value(json_object_get(a, "token"));

	if (json_is_string(json_object_get(a, "provider")))
		provider = json_string_value(json_object_get(a, "provider"));
	if (s->cli->json) {
		cli_print_json(json_incref(a));
	} else if (strcmp(state, "signed_in") == 0) {
		printf(T("Connexion acceptée avec %s : %s\n", "Signed in with %s: %s\n"), provider, email);
	} else if (strcmp(state, "linked") == 0) {
		printf(json_is_true(json_object_get(a, "created")) ?
		    T("Votre compte est créé et lié à %s : %s\n",
		    "Your account is ready, linked with %s: %s\n") :
		    T("Votre compte est lié à %s : %s\n", "Your account is linked with %s: %s\n"),
		    provider, email);
	} else if (strcmp(state, "code_sent") == 0) {
		printf("[%s]\n%s\n", T("Obtenir un code de vérification", "Get a verification code"),
		    json_string_value(json_object_get(a, "message")));
	}
	if (!s->cli->json && token != NULL)
		printf(T("Jeton « rester connecté » (affiché une seule fois) :\n%s\n",
		    "\"Stay connected\" token (shown once):\n%s\n"), token);
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
link_address(struct session *s, const struct link_opts *o, const char *lt, const char *email,
    bool *done)
{
	json_t *a = NULL;
	int rc = call(s, with_label(json_pack("{s:s, s:s, s:s}", "op", "social.link", "link_ticket",
	    lt, "email", email), o->remember), &a);

	if (rc == EX_DONE)
		*done = link_said(s, a, o->provider);
	json_decref(a);
	return rc;
}

/* The code's proof, then the link: code.verify (purpose link), social.finish. */
static int
link_finish(struct session *s, const struct link_opts *o, const char *lt, const char *email,
    const char *code)
{
	char ticket[PORTAIL_TICKET_LEN + 1] = "";
	json_t *a = NULL;
	int rc = call(s, json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "code.verify", "purpose",
	    "link", "email", email, "code", code, "link_ticket", lt), &a);

	if (rc == EX_DONE) {
		json_t *t = json_object_get(a, "ticket");

		snprintf(ticket, sizeof(ticket), "%s", json_string_value(t));
		if (json_is_string(t))
			sodium_memzero((void *)(uintptr_t)json_string_value(t), json_string_length(t));
		json_decref(a);
		a = NULL;
		if (!s->cli->json)
			printf("[%s]\n", T("Enregistrer", "Save"));
		rc = call(s, with_label(json_pack("{s:s, s:s, s:s}", "op", "social.finish",
		    "link_ticket", lt, "ticket", ticket), o->remember), &a);
		if (rc == EX_DONE)
			(void)link_said(s, a, o->provider ? o->provider : "-");
	}
	sodium_memzero(ticket, sizeof(ticket));
	json_decref(a);
	return rc;
}

static int
link_interactive(struct session *s, const struct link_opts *o, const char *lt,
    const char *provider_email)
{
	const char *email_opt = o->email;
	char email[300] = "", code[80];
	bool done = false;
	int rc;

	printf("%s\n\n%s\n%s\n", T("Le Portail Parents — Se connecter avec un compte social",
	    "The Parents' Portal — Sign in with a social account"),
	    T("Complétez les informations suivantes :", "Complete the following:"),
	    T("Le courriel doit être celui que vous avez fourni à l'école.",
	    "The e-mail address must be the one you gave the school."));
address:
	if (email_opt != NULL && email[0] == '\0') {
		snprintf(email, sizeof(email), "%s", email_opt);
		printf("%s %s\n", T("Courriel :", "E-mail:"), email);
	} else {
		char prompt[400];

		if (provider_email != NULL)
			snprintf(prompt, sizeof(prompt), T("Courriel [%s] : ", "E-mail [%s]: "),
			    provider_email);
		else
			snprintf(prompt, sizeof(prompt), "%s", T("Courriel : ", "E-mail: "));
		if (!read_line(prompt, email, sizeof(email), false))
			return EX_USAGE;
		if (email[0] == '\0' && provider_email != NULL)
			snprintf(email, sizeof(email), "%s", provider_email);
		if (email[0] == '\0')
			goto address;
	}
	printf("[%s]\n", T("Enregistrer", "Save"));
	if ((rc = link_address(s, o, lt, email, &done)) != EX_DONE || done)
		return rc;
	for (;;) {
		if (!read_line(T("Code de vérification (n : obtenir un nouveau code, c : modifier le "
		    "courriel) : ", "Verification code (n: get a new code, c: change the e-mail "
		    "address): "), code, sizeof(code), false))
			return EX_USAGE;
		if (strcmp(code, "n") == 0 || strcmp(code, "N") == 0) {
			printf("[%s]\n", T("Obtenir un nouveau code", "Get a new code"));
			if ((rc = link_address(s, o, lt, email, &done)) != EX_DONE || done)
				return rc;
			continue;
		}
		if (strcmp(code, "c") == 0 || strcmp(code, "C") == 0) {
			printf("[%s]\n", T("Modifier le courriel", "Change the e-mail address"));
			email[0] = '\0';
			email_opt = NULL;
			goto address;
		}
		printf("[%s]\n", T("Vérifier le code", "Verify the code"));
		rc = link_finish(s, o, lt, email, code);
		sodium_memzero(code, sizeof(code));
		if (rc != EX_REFUSED)
			return rc;
	}
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
	const char *usage_text = T(
	    "usage : portail link --provider P [--access-token JETON] [--email COURRIEL]\n"
	    "                     [--remember APPAREIL]\n"
	    "        portail link --provider P --id-token JETON --nonce NONCE [--email COURRIEL] …\n"
	    "        portail link --provider P --access-token JETON --email COURRIEL --send-code\n"
	    "        portail link --link-ticket BILLET --email COURRIEL --code CODE\n"
	    "        portail link --unlink --provider P --email COURRIEL [--password-stdin]\n"
	    "Se connecter avec un compte social, ou le lier à l'adresse inscrite à l'école.\n"
	    "Sans --access-token, le jeton du fournisseur est demandé (sans écho).\n"
	    "Microsoft, LinkedIn et un fournisseur OpenID sans introspection : --id-token (le\n"
	    "jeton d'identité du fournisseur) et --nonce (celui envoyé avec la connexion).\n"
	    "--send-code lie tout de suite si le fournisseur garantit l'adresse, sinon envoie un\n"
	    "code et affiche le billet à redonner avec --code. --remember émet aussi un jeton.\n",
	    "usage: portail link --provider P [--access-token TOKEN] [--email EMAIL]\n"
	    "                    [--remember DEVICE]\n"
	    "       portail link --provider P --id-token TOKEN --nonce NONCE [--email EMAIL] …\n"
	    "       portail link --provider P --access-token TOKEN --email EMAIL --send-code\n"
	    "       portail link --link-ticket TICKET --email EMAIL --code CODE\n"
	    "       portail link --unlink --provider P --email EMAIL [--password-stdin]\n"
	    "Sign in with a social account, or link it to the address on file at the school.\n"
	    "Without --access-token, the provider's token is asked for (not echoed).\n"
	    "Microsoft, LinkedIn and an OpenID provider without introspection: --id-token (the\n"
	    "provider's ID token) and --nonce (the one sent with the sign-in).\n"
	    "--send-code links at once when the provider vouches for the address, else sends a\n"
	    "code and prints the ticket to give back with --code. --remember issues a token too.\n");
	struct link_opts o = { 0 };
	const char *id_token = NULL, *nonce = NULL;
	char token[4200] = "", lt[PORTAIL_TICKET_LEN + 1] = "";
	struct session s;
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
	if ((rc = session_open(cli, &s)) != EX_DONE)
		return rc;
	if (o.unlink) {
		json_t *req = json_pack("{s:s, s:s, s:s}", "op", "social.unlink", "email", o.email,
		    "provider", o.provider);
		char pw[1100] = "";

		if (o.password_stdin) {
			if (!read_line(NULL, pw, sizeof(pw), true)) {
				json_decref(req);
				session_close(&s);
				return EX_USAGE;
			}
			json_object_set_new(req, "password", json_string(pw));
			sodium_memzero(pw, sizeof(pw));
		}
		if ((rc = call(&s, req, NULL)) == EX_DONE && !cli->json)
			printf(T("Lien avec %s retiré : %s\n", "Link with %s removed: %s\n"), o.provider,
			    o.email);
		else if (rc == EX_DONE)
			cli_print_json(json_pack("{s:b}", "unlinked", 1));
		session_close(&s);
		return rc;
	}
	if (o.code != NULL) {
		rc = link_finish(&s, &o, o.link_ticket, o.email, o.code);
		session_close(&s);
		return rc;
	}
	if (o.token == NULL && id_token == NULL) {
		if (!read_line(T("Jeton d'accès du fournisseur : ", "Provider's access token: "), token,
		    sizeof(token), true) || token[0] == '\0') {
			session_close(&s);
			return EX_USAGE;
		}
		o.token = token;
	}
	rc = call(&s, with_label(id_token != NULL ?
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
		rc = link_address(&s, &o, lt, o.email, &done);
		if (rc == EX_DONE && !done && !cli->json)
			printf(T("Billet de liaison (15 minutes), à redonner avec --code :\n%s\n",
			    "Link ticket (15 minutes), to give back with --code:\n%s\n"), lt);
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
	session_close(&s);
	return rc;
}

/* ---- account (admin) ----------------------------------------------------------- */

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
	struct session s;
	json_t *resp = NULL;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", usage_text);
		return EX_DONE;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		if ((rc = session_open(cli, &s)) != EX_DONE)
			return rc;
		rc = call(&s, json_pack("{s:s}", "op", "account.list"), &resp);
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
		session_close(&s);
		return rc;
	}
	for (size_t i = 0; argc == 3 && i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char op[32];

		if (strcmp(argv[1], verbs[i]) != 0)
			continue;
		if ((rc = session_open(cli, &s)) != EX_DONE)
			return rc;
		snprintf(op, sizeof(op), "account.%s", verbs[i]);
		rc = call(&s, json_pack("{s:s, s:s}", "op", op, "email", argv[2]), &resp);
		if (rc == EX_DONE) {
			if (cli->json)
				cli_print_json(json_incref(resp));
			else if (strcmp(verbs[i], "delete") == 0)
				printf(T("Compte supprimé : %s\n", "Account deleted: %s\n"), argv[2]);
			else
				print_account(json_object_get(resp, "account"));
		}
		json_decref(resp);
		session_close(&s);
		return rc;
	}
	fprintf(stderr, "%s", usage_text);
	return EX_USAGE;
}

/* ---- init ------------------------------------------------------------------------ */

static int
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char copy[1024], *dir;
	struct stat st;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) == 0)
		return 0;
	if (mkdir(dir, mode) != 0) {
		fprintf(stderr, "portail: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (uid != (uid_t)-1 && chown(dir, uid, gid) != 0) {
		fprintf(stderr, "portail: chown %s: %s\n", dir, strerror(errno));
		return -1;
	}
	printf(T("créé : %s/\n", "created: %s/\n"), dir);
	return 0;
}

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_error err = { { 0 } };
	portail_store *st = NULL;
	portail_key *key = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct stat sb;
	bool key_existed, store_existed, force = false;
	const char *who;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", T("usage : portail init [--force]\n"
		    "Crée la clé du serveur ([security] key_file, 32 octets aléatoires, 0600) et le\n"
		    "magasin ([store] path, 0600) dans un répertoire à lui (0700), appartenant à\n"
		    "[daemon] user, et vérifie leurs permissions. Ne change rien à ce qui existe déjà.\n"
		    "Refuse un [daemon] user partagé avec d'autres services (nobody, daemon, www-data…)\n"
		    "sauf avec --force.\n",
		    "usage: portail init [--force]\n"
		    "Creates the server key ([security] key_file, 32 random bytes, 0600) and the store\n"
		    "([store] path, 0600) in a directory of its own (0700), owned by [daemon] user, and\n"
		    "checks their permissions. Changes nothing that exists already.\n"
		    "Refuses a [daemon] user shared with other services (nobody, daemon, www-data…)\n"
		    "unless --force.\n"));
		return EX_DONE;
	}
	if (argc == 2 && strcmp(argv[1], "--force") == 0) {
		force = true;
	} else if (argc > 1) {
		fprintf(stderr, "usage: portail init [--force]\n");
		return EX_USAGE;
	}
	if ((rc = cli_load_config(cli, &cfg)) != EX_DONE)
		return rc;
	who = cfg->daemon.user;
	if (geteuid() == 0) {
		portail_status r = portail_daemon_user_check(cfg->daemon.user, &uid, &gid, &err);

		if (r == PORTAIL_ERR_UNKNOWN) {
			fprintf(stderr, T("portail: l'utilisateur « %s » ([daemon] user) n'existe pas : "
			    "adduser --system --group %s\n", "portail: user '%s' ([daemon] user) does not "
			    "exist: adduser --system --group %s\n"), cfg->daemon.user, cfg->daemon.user);
			rc = EX_USAGE;
			goto out;
		}
		if (r != PORTAIL_OK && !force) {
			fprintf(stderr, T("portail: [daemon] user : %s.\n"
			    "Donnez à portaild un utilisateur à lui : adduser --system --group portail, "
			    "puis user = portail dans [daemon] de %s ; ou portail init --force pour "
			    "garder celui-ci.\n",
			    "portail: [daemon] user: %s.\n"
			    "Give portaild a user of its own: adduser --system --group portail, then "
			    "user = portail in [daemon] of %s; or portail init --force to keep this one.\n"),
			    err.message, cfg->path);
			rc = EX_USAGE;
			goto out;
		}
		if (r != PORTAIL_OK)
			fprintf(stderr, T("portail: attention (--force) : %s\n",
			    "portail: warning (--force): %s\n"), err.message);
	} else {
		struct passwd *me = getpwuid(geteuid());

		who = me != NULL ? me->pw_name : "this user";
	}
	/* the key */
	rc = EX_UNAVAILABLE;
	if (make_dir(cfg->key_file, 0755, (uid_t)-1, (gid_t)-1) != 0)
		goto out;
	key_existed = stat(cfg->key_file, &sb) == 0;
	if (portail_key_create(cfg->key_file, uid, gid, &err) != PORTAIL_OK ||
	    portail_key_load(cfg->key_file, &key, &err) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", err.message);
		rc = EX_USAGE;
		goto out;
	}
	printf("%s %s\n", key_existed ? T("clé : OK,", "key: OK,") : T("clé : créée,", "key: created,"),
	    cfg->key_file);
	/*
	 * The store, in a directory of the daemon's: the backend creates
	 * files beside the store as it runs (portail_store_check_dir).
	 */
	if (make_dir(cfg->store_path, 0700, uid, gid) != 0)
		goto out;
	if (portail_store_check_dir(cfg->store_path, uid, gid, who, &err) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", err.message);
		rc = EX_USAGE;
		goto out;
	}
	store_existed = stat(cfg->store_path, &sb) == 0;
	if (portail_store_open(cfg->store_path, &st, &err) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", err.message);
		goto out;
	}
	portail_store_close(st);
	if (uid != (uid_t)-1 && portail_store_chown(cfg->store_path, uid, gid, &err) != PORTAIL_OK) {
		fprintf(stderr, "portail: %s\n", err.message);
		goto out;
	}
	if (stat(cfg->store_path, &sb) != 0 || (sb.st_mode & 077) != 0) {
		fprintf(stderr, T("portail: %s est lisible par d'autres : chmod 600 %s\n",
		    "portail: %s is readable by others: chmod 600 %s\n"), cfg->store_path, cfg->store_path);
		rc = EX_USAGE;
		goto out;
	}
	printf("%s %s\n", store_existed ? T("magasin : OK,", "store: OK,") :
	    T("magasin : créé,", "store: created,"), cfg->store_path);
	rc = EX_DONE;
out:
	portail_key_free(key);
	portail_config_free(cfg);
	return rc;
}
