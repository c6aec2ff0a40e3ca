/*
 * cmd_store.c — portail store migrate: the configured store copied to the
 * other backend (portail_store_copy, lib/store-copy.c), in-process, with
 * portaild stopped. The configuration names the source (its [store]); the
 * target is given by options:
 *
 *   portail store migrate --to postgresql --conninfo STR [--password-file FILE]
 *   portail store migrate --to sqlite --path FILE
 *
 * Idempotent: a target that holds the source's rows already is left as
 * it is (exit 0); a target with other rows is refused (exit 1), nothing
 * written. No value of a row is ever printed, only counts; the conninfo
 * is not printed either (it may carry a password).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "daemonuser.h"
#include "store.h"

/*
 * Prints "portail: store migrate: WHY" (CLI_MIGRATE_ERROR) on stderr, WHY
 * a text of the table's already formatted or a detail of the library's.
 */
static void
refusal(const char *why)
{
	char line[8192];

	fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_ERROR, cli_english, why),
	    stderr);
}

static int
usage_error(enum portail_msg why)
{
	refusal(portail_msg(why, cli_english));
	fputs(MSG(CLI_MIGRATE_USAGE), stderr);
	return EX_USAGE;
}

/* Whether something answers on the daemon's socket (a connect that succeeds). */
static bool
daemon_answers(const char *path)
{
	struct sockaddr_un sa;
	bool up;
	int fd;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path))
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return up;
}

static void
print_report(const struct portail_copy_report *rep, const char *from, const char *to)
{
	char line[512];

	for (int t = 0; t < PORTAIL_COPY_TABLES; t++)
		fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_TABLE_COUNT, cli_english,
		    portail_copy_tables[t], rep->target[t]), stdout);
	if (rep->rows == 0)
		portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_EMPTY, cli_english, from, to);
	else
		portail_msgf(line, sizeof(line), rep->identical ? PORTAIL_MSG_CLI_MIGRATE_IDENTICAL :
		    PORTAIL_MSG_CLI_MIGRATE_DONE, cli_english, rep->rows, (int)PORTAIL_COPY_TABLES,
		    from, to);
	fputs(line, stdout);
}

static int
migrate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "conninfo", required_argument, NULL, 'C' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "path", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL, *conninfo = NULL, *password_file = NULL, *path = NULL;
	struct portail_copy_report rep;
	portail_config *cfg = NULL;
	portail_store *from = NULL, *dst = NULL;
	portail_error err = { { 0 } };
	portail_status r;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char line[8192];
	bool want_pg;
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			to = optarg;
			break;
		case 'C':
			conninfo = optarg;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		default:
			return usage_error(PORTAIL_MSG_CLI_MIGRATE_BAD_OPTION);
		}
	}
	if (optind != argc)
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_EXTRA_ARGUMENT);
	if (to == NULL)
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_NEEDS_TO);
	if (strcmp(to, "postgresql") != 0 && strcmp(to, "sqlite") != 0)
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_BAD_TO);
	want_pg = strcmp(to, "postgresql") == 0;
	if (want_pg && (conninfo == NULL || *conninfo == '\0'))
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_NEEDS_CONNINFO);
	if (want_pg && path != NULL)
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_PATH_FOR_SQLITE);
	if (!want_pg && (path == NULL || *path == '\0'))
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_NEEDS_PATH);
	if (!want_pg && (conninfo != NULL || password_file != NULL))
		return usage_error(PORTAIL_MSG_CLI_MIGRATE_CONNINFO_FOR_PG);
	if ((rc = cli_load_config(cli, &cfg)) != EX_DONE)
		return rc;
	if ((cfg->store.backend == PORTAIL_STORE_POSTGRESQL) == want_pg) {
		refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_SAME_BACKEND,
		    cli_english, cfg->path, to));
		rc = EX_USAGE;
		goto out;
	}
	if (daemon_answers(cfg->daemon.socket)) {
		refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_DAEMON_ANSWERS,
		    cli_english, cfg->daemon.socket));
		rc = EX_REFUSED;
		goto out;
	}
	if (!want_pg) {
		struct stat sb;

		/*
		 * A symbolic or hard link could name the source itself, or a file
		 * of someone else's that root would write into and give away; a
		 * directory others may write in lets them plant one (as portail
		 * init checks it).
		 */
		if (lstat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_nlink != 1)) {
			refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_NOT_ONE_NAME,
			    cli_english, path));
			rc = EX_USAGE;
			goto out;
		}
		if (geteuid() == 0) {
			portail_status u = portail_daemon_user_check(cfg->daemon.user, &uid, &gid, &err);

			if (u != PORTAIL_OK && u != PORTAIL_ERR_REFUSED)
				uid = (uid_t)-1;
			if (uid != (uid_t)-1 &&
			    portail_store_check_dir(path, uid, gid, cfg->daemon.user, &err) != PORTAIL_OK) {
				refusal(err.message);
				rc = EX_USAGE;
				goto out;
			}
		}
	}
	if (want_pg) {
		struct stat sb;

		/* opening would create an empty store: there is nothing to migrate */
		if (stat(cfg->store_path, &sb) != 0) {
			refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_NO_SOURCE,
			    cli_english, cfg->store_path, strerror(errno)));
			rc = EX_USAGE;
			goto out;
		}
	}
	if ((r = portail_store_open_config(cfg, &from, &err)) != PORTAIL_OK) {
		refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_SOURCE, cli_english,
		    err.message));
		rc = cli_exit_for(r);
		goto out;
	}
	r = want_pg ? portail_store_open_postgresql(conninfo, password_file, cfg->store.deadline_ms,
	    &dst, &err) : portail_store_open(path, &dst, &err);
	if (r != PORTAIL_OK) {
		refusal(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_TARGET, cli_english,
		    err.message));
		rc = cli_exit_for(r);
		goto out;
	}
	if ((r = portail_store_copy(from, dst, &rep, &err)) != PORTAIL_OK) {
		refusal(err.message);
		rc = r == PORTAIL_ERR_EXISTS ? EX_REFUSED : cli_exit_for(r);
		goto out;
	}
	print_report(&rep, portail_store_backend(from), portail_store_backend(dst));
	/* the daemon's store, as portail init leaves it */
	if (!want_pg && uid != (uid_t)-1 && portail_store_chown(path, uid, gid, &err) != PORTAIL_OK)
		refusal(err.message);
	if (!rep.identical && rep.rows > 0)
		fputs(portail_msgf(line, sizeof(line), PORTAIL_MSG_CLI_MIGRATE_NEXT, cli_english,
		    cfg->path, want_pg ? "backend = postgresql, conninfo = …" :
		    "backend = sqlite, path = …"), stdout);
	rc = EX_DONE;
out:
	portail_store_close(dst);
	portail_store_close(from);
	portail_config_free(cfg);
	return rc;
}

int
cmd_store(struct cli *cli, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(MSG(CLI_MIGRATE_USAGE), stdout);
		return EX_DONE;
	}
	if (argc < 2 || strcmp(argv[1], "migrate") != 0)
		return usage_error(argc < 2 ? PORTAIL_MSG_CLI_MIGRATE_WHICH_COMMAND :
		    PORTAIL_MSG_CLI_MIGRATE_UNKNOWN_COMMAND);
	return migrate(cli, argc - 1, argv + 1);
}
