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
	char copy[1024], line[2048], *dir;
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
	fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_CREATED_DIR, cli_english, dir), stdout);
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
	char line[4096];
	const char *who;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", MSG(CLI_INIT_USAGE));
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
			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_INIT_NO_USER, cli_english,
			    cfg->daemon.user, cfg->daemon.user), stderr);
			rc = EX_USAGE;
			goto out;
		}
		if (r != PORTAIL_OK && !force) {
			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_INIT_SHARED_USER, cli_english,
			    err.message, cfg->path), stderr);
			rc = EX_USAGE;
			goto out;
		}
		if (r != PORTAIL_OK)
			fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_INIT_FORCE_WARNING, cli_english,
			    err.message), stderr);
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
	printf("%s %s\n", key_existed ? MSG(CLI_KEY_OK) : MSG(CLI_KEY_CREATED),
	    cfg->key_file);
	if (cfg->store.backend == PORTAIL_STORE_POSTGRESQL) {
		/*
		 * No file of ours: the schema made (or brought up to date)
		 * under the migration lock, as any opener does.
		 */
		portail_status r = portail_store_open_config(cfg, &st, &err);

		if (r != PORTAIL_OK) {
			fprintf(stderr, "portail: %s\n", err.message);
			rc = cli_exit_for(r);
			goto out;
		}
		portail_store_close(st);
		printf("%s postgresql\n", MSG(CLI_STORE_OK));
		rc = EX_DONE;
		goto out;
	}
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
		fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_STORE_READABLE, cli_english,
		    cfg->store_path, cfg->store_path), stderr);
		rc = EX_USAGE;
		goto out;
	}
	printf("%s %s\n", store_existed ? MSG(CLI_STORE_OK) :
	    MSG(CLI_STORE_CREATED), cfg->store_path);
	rc = EX_DONE;
out:
	portail_key_free(key);
	portail_config_free(cfg);
	return rc;
}
