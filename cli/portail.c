/*
 * portail — the command-line front end (DESIGN §4): the global options
 * and the dispatch to a command. Each command is in cli/cmd_NAME.c
 * (cmd_init.c, cmd_check.c for check and status, cmd_gpi.c, cmd_signup.c
 * for signup and reset, cmd_auth.c, cmd_account.c, cmd_token.c,
 * cmd_link.c); what they share is in cli/common.c.
 *
 * Exit status: 0 done, 1 refused (unknown parent, bad credentials…),
 * 2 usage or configuration error, 3 unavailable (directory, store, mail,
 * daemon). init and check run in-process with the core library, so they
 * work while the daemon is down; every other command asks portaild.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

static void
usage(FILE *f)
{
	fprintf(f, "%s",
	    T("usage : portail [-c FICHIER] [--json] [--lang fr|en] COMMANDE [ARGUMENTS]\n"
	      "\n"
	      "Commandes :\n"
	      "  init [--force]      crée la clé du serveur et le magasin (root)\n"
	      "  check               valide la configuration, sonde l'annuaire et portaild\n"
	      "  status              état de portaild (admin)\n"
	      "  signup              « Inscrivez-vous maintenant » : code par courriel, mot de passe\n"
	      "  reset               « Mot de passe oublié? »\n"
	      "  auth COURRIEL       vérifie un mot de passe et l'accès\n"
	      "  account ...         comptes des parents : list, show, disable, enable, unlock,\n"
	      "                      delete (admin)\n"
	      "  token ...           jetons « rester connecté » : issue, list, revoke\n"
	      "  link --provider P   compte social : se connecter, le lier à l'adresse de l'école\n"
	      "  gpi lookup COURRIEL enfants et écoles inscrits pour cette adresse (admin)\n"
	      "\n"
	      "Options :\n"
	      "  -c, --config FICHIER  configuration (défaut : $PORTAIL_CONFIG ou "
	      PORTAIL_DEFAULT_CONFIG ")\n"
	      "  --json                sortie JSON\n"
	      "  --lang fr|en          langue des messages (défaut : fr)\n"
	      "  -h, --help            cette aide ; COMMANDE --help pour une commande\n"
	      "  --version             version\n"
	      "\n"
	      "Code de sortie : 0 fait, 1 refusé, 2 usage ou configuration, 3 indisponible.\n",
	      "usage: portail [-c FILE] [--json] [--lang fr|en] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  init [--force]      create the server key and the store (root)\n"
	      "  check               validate the configuration, probe the directory and portaild\n"
	      "  status              portaild's state (admin)\n"
	      "  signup              \"Sign up now\": a code by e-mail, a password\n"
	      "  reset               \"Forgot your password?\"\n"
	      "  auth EMAIL          check a password and access\n"
	      "  account ...         parents' accounts: list, show, disable, enable, unlock,\n"
	      "                      delete (admin)\n"
	      "  token ...           \"stay connected\" tokens: issue, list, revoke\n"
	      "  link --provider P   social account: sign in, link it to the school's address\n"
	      "  gpi lookup EMAIL    children and schools on record for this address (admin)\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE   configuration (default: $PORTAIL_CONFIG or "
	      PORTAIL_DEFAULT_CONFIG ")\n"
	      "  --json              JSON output\n"
	      "  --lang fr|en        message language (default: fr)\n"
	      "  -h, --help          this help; COMMAND --help for one command\n"
	      "  --version           version\n"
	      "\n"
	      "Exit status: 0 done, 1 refused, 2 usage or configuration, 3 unavailable.\n"));
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
	fprintf(stderr, T("portail: commande inconnue « %s » (portail --help)\n",
	    "portail: unknown command '%s' (portail --help)\n"), argv[0]);
	return EX_USAGE;
}
