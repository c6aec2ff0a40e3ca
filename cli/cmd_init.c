/*
 * cmd_init.c — portail init: the server key and the store, in-process (root).
 */
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "daemonuser.h"
#include "key.h"
#include "store.h"

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
