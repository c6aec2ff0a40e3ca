/*
 * cmd_check.c — portail check (in-process probes of the configuration,
 * the directory, the key and store, mail, portaild and the providers, so
 * that it works while the daemon is down) and portail status (portaild's
 * own state, admin).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"
#include "gpi.h"
#include "key.h"
#include "mail.h"
#include "provider.h"
#include "store.h"

/* One line of portail check. */
struct probe {
	enum portail_msg name;
	const char *json;
	portail_status status;
	char detail[600];
};

/* The key and the store: present, 0600, owned by [daemon] user. Nothing is
 * opened for writing: check must not leave root-owned files behind. */
static void
probe_files(const portail_config *cfg, struct probe *p)
{
	const char *paths[] = { cfg->key_file, cfg->store_path };
	struct passwd *pw = getpwnam(cfg->daemon.user);
	portail_key *key = NULL;
	portail_error err = { { 0 } };
	bool sqlite = cfg->store.backend == PORTAIL_STORE_SQLITE;

	/* PostgreSQL: no store file of ours (the cluster probes follow) */
	for (size_t i = 0; i < (sqlite ? 2u : 1u); i++) {
		struct stat st;

		if (stat(paths[i], &st) != 0) {
			p->status = PORTAIL_ERR_CONFIG;
			snprintf(p->detail, sizeof(p->detail), "%s: %s (portail init)", paths[i],
			    strerror(errno));
			return;
		}
		if ((st.st_mode & 077) != 0 || (pw != NULL && st.st_uid != pw->pw_uid)) {
			p->status = PORTAIL_ERR_CONFIG;
			char mode[16];

			/* %o is not among the table's conversions: the mode goes in as a string */
			snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
			portail_msgf(p->detail, sizeof(p->detail), PORTAIL_MSG_CLI_FILE_MODE, cli_english,
			    paths[i], mode, (unsigned)st.st_uid, cfg->daemon.user);
			return;
		}
	}
	/* the daemon's user must create files beside the store (the backend's own) */
	if (sqlite && pw != NULL && portail_store_check_dir(cfg->store_path, pw->pw_uid, pw->pw_gid,
	    cfg->daemon.user, &err) != PORTAIL_OK) {
		p->status = PORTAIL_ERR_CONFIG;
		snprintf(p->detail, sizeof(p->detail), "%s", err.message);
		return;
	}
	if (portail_key_load(cfg->key_file, &key, &err) != PORTAIL_OK) {
		p->status = PORTAIL_ERR_CONFIG;
		snprintf(p->detail, sizeof(p->detail), "%s", err.message);
		return;
	}
	portail_key_free(key);
	p->status = PORTAIL_OK;
	snprintf(p->detail, sizeof(p->detail), "%s, %s", cfg->key_file,
	    sqlite ? cfg->store_path : "postgresql");
}

/*
 * [store] backend = postgresql: the cluster as the daemon meets it
 * (the configured conninfo and password file, the same deadline):
 * reachable, a writable primary, the schema, and the replication when
 * pg_stat_replication shows it. Four probes, p[0] to p[3].
 */
static void
probe_cluster(const portail_config *cfg, struct probe *p)
{
	struct portail_store_cluster c;
	portail_store *st = NULL;
	portail_error err = { { 0 } };
	portail_status r;

	if ((r = portail_store_open_config(cfg, &st, &err)) != PORTAIL_OK) {
		for (int i = 0; i < 4; i++) {
			p[i].status = r;
			snprintf(p[i].detail, sizeof(p[i].detail), "%s", i == 0 ? err.message :
			    MSG(CLI_NO_STORE));
		}
		return;
	}
	if ((r = portail_store_cluster(st, &c, &err)) != PORTAIL_OK) {
		for (int i = 0; i < 4; i++) {
			p[i].status = r;
			snprintf(p[i].detail, sizeof(p[i].detail), "%s", err.message);
		}
		portail_store_close(st);
		return;
	}
	portail_store_close(st);
	snprintf(p[0].detail, sizeof(p[0].detail), "%s", c.server);
	p[1].status = c.primary ? PORTAIL_OK : PORTAIL_ERR_UNAVAILABLE;
	snprintf(p[1].detail, sizeof(p[1].detail), "%s", c.primary ?
	    "pg_is_in_recovery() = false" : MSG(CLI_PG_IN_RECOVERY));
	portail_msgf(p[2].detail, sizeof(p[2].detail), PORTAIL_MSG_CLI_PG_SCHEMA, cli_english,
	    c.schema);
	if (c.standbys == 0)
		portail_msgf(p[3].detail, sizeof(p[3].detail), PORTAIL_MSG_CLI_PG_NO_STANDBY,
		    cli_english, c.server);
	else if (!c.replication_visible)
		portail_msgf(p[3].detail, sizeof(p[3].detail), PORTAIL_MSG_CLI_PG_STANDBYS_HIDDEN,
		    cli_english, c.standbys);
	else
		portail_msgf(p[3].detail, sizeof(p[3].detail), PORTAIL_MSG_CLI_PG_STANDBYS,
		    cli_english, c.standbys, c.replication);
}

/* The accounts the address-key migration left alone (DESIGN §2), into p. */
static void
key_conflicts(const portail_config *cfg, struct probe *p)
{
	struct portail_key_conflict *v = NULL;
	portail_error err = { { 0 } };
	size_t n = 0, used;

	if ((p->status = portail_store_key_conflicts(cfg->store_path, &v, &n, &err)) != PORTAIL_OK) {
		snprintf(p->detail, sizeof(p->detail), "%s", err.message);
		return;
	}
	if (n == 0) {
		snprintf(p->detail, sizeof(p->detail), "%s", MSG(CLI_KEYS_ONE_PER_ADDRESS));
		return;
	}
	p->status = PORTAIL_ERR_EXISTS;
	portail_msgf(p->detail, sizeof(p->detail), PORTAIL_MSG_CLI_KEYS_TO_MERGE, cli_english, n);
	used = strlen(p->detail);
	/* portail_msgf cuts and terminates: a full detail has used == size - 1 */
	for (size_t i = 0; i < n && used + 1 < sizeof(p->detail); i++) {
		if (v[i].key == NULL)
			portail_msgf(p->detail + used, sizeof(p->detail) - used,
			    PORTAIL_MSG_CLI_KEY_ADDRESS_REFUSED, cli_english, v[i].email);
		else
			portail_msgf(p->detail + used, sizeof(p->detail) - used,
			    PORTAIL_MSG_CLI_KEY_SAME_AS, cli_english, v[i].email,
			    v[i].other ? v[i].other : v[i].key);
		used += strlen(p->detail + used);
	}
	portail_key_conflicts_free(v, n);
}

/*
 * Run as [daemon] user when check runs as root: reading a WAL store may
 * create its -shm file, which must not end up root's.
 */
static void
probe_keys(const portail_config *cfg, struct probe *p)
{
	struct passwd *pw = getpwnam(cfg->daemon.user);
	int fds[2], st = 0;
	ssize_t got;
	pid_t pid;

	if (geteuid() != 0 || pw == NULL) {
		key_conflicts(cfg, p);
		return;
	}
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		p->status = PORTAIL_ERR_IO;
		snprintf(p->detail, sizeof(p->detail), "%s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
			p->status = PORTAIL_ERR_IO;
			snprintf(p->detail, sizeof(p->detail), "%s: %s", cfg->daemon.user, strerror(errno));
		} else {
			key_conflicts(cfg, p);
		}
		if (write(fds[1], p, sizeof(*p)) != (ssize_t)sizeof(*p))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	got = read(fds[0], p, sizeof(*p));
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(*p)) {
		p->status = PORTAIL_ERR_IO;
		snprintf(p->detail, sizeof(p->detail), "%s", MSG(CLI_KEYS_CHECK_FAILED));
	}
}

/* Each [provider.NAME]: its secrets read, then a request without a token. */
static void
probe_providers(const portail_config *cfg, struct probe *p)
{
	portail_providers *ps = NULL;
	portail_error err = { { 0 } };
	size_t used = 0;

	if (cfg->n_providers == 0) {
		snprintf(p->detail, sizeof(p->detail), "%s", MSG(CLI_NONE));
		return;
	}
	if ((p->status = portail_providers_new(cfg, &ps, &err)) != PORTAIL_OK) {
		snprintf(p->detail, sizeof(p->detail), "%s", err.message);
		return;
	}
	for (int i = 0; i < cfg->n_providers && used < sizeof(p->detail); i++) {
		portail_status s = portail_providers_probe(ps, cfg->providers[i].name, &err);
		int n;

		if (s != PORTAIL_OK)
			p->status = s;
		n = snprintf(p->detail + used, sizeof(p->detail) - used, "%s%s%s%s", i ? "; " : "",
		    cfg->providers[i].name, s == PORTAIL_OK ? "" : ": ", s == PORTAIL_OK ? "" : err.message);
		used += n > 0 ? (size_t)n : 0;
	}
	portail_providers_free(ps);
}

/* st.a.b as an integer, 0 when absent. */
static long long
get2(json_t *st, const char *a, const char *b)
{
	return (long long)json_integer_value(json_object_get(json_object_get(st, a), b));
}

/*
 * The daemon's directory pool and bulkhead, from its status's "directory"
 * object, as one sentence into buf; false when the status has none (no
 * directory configured).
 */
static bool
pool_line(json_t *dir, char *buf, size_t size)
{
	if (json_object_get(dir, "connections") == NULL)
		return false;
	portail_msgf(buf, size, PORTAIL_MSG_CLI_DIRECTORY_POOL, cli_english,
	    get2(dir, "connections", "in_use"), get2(dir, "connections", "idle"),
	    get2(dir, "connections", "size"), get2(dir, "bulkhead", "max"),
	    get2(dir, "bulkhead", "in_use"), get2(dir, "bulkhead", "refused"));
	return true;
}

/*
 * The daemon's directory pool after its ping line in p, when the status
 * op answers (root, [daemon] admin_group); nothing is added otherwise.
 */
static void
daemon_pool(portail_client *pc, struct probe *p)
{
	json_t *st = NULL;
	char line[300];
	size_t used = strlen(p->detail);

	if (portail_client_status(pc, &st, NULL) == PORTAIL_OK &&
	    pool_line(json_object_get(st, "directory"), line, sizeof(line)))
		(void)snprintf(p->detail + used, sizeof(p->detail) - used, "; %s", line);
	json_decref(st);
}

/* portail check */
int
cmd_check(struct cli *cli, int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_gpi *gpi = NULL;
	portail_error err = { { 0 } };
	struct probe probes[10] = {
		{ PORTAIL_MSG_CLI_PROBE_DIRECTORY, "directory", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_STORE, "store", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_MAIL, "mail", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_DAEMON, "daemon", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_PROVIDERS, "providers", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_ADDRESS_KEYS, "address_keys", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_CLUSTER, "cluster", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_PRIMARY, "primary", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_SCHEMA, "schema", PORTAIL_OK, "" },
		{ PORTAIL_MSG_CLI_PROBE_REPLICATION, "replication", PORTAIL_OK, "" },
	};
	size_t n_probes = sizeof(probes) / sizeof(probes[0]);
	portail_status worst = PORTAIL_OK;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", MSG(CLI_CHECK_USAGE));
		return EX_DONE;
	}
	if (argc > 1) {
		fprintf(stderr, "%s", MSG(CLI_CHECK_NO_ARGUMENT));
		return EX_USAGE;
	}
	if ((rc = cli_load_config(cli, &cfg)) != EX_DONE)
		return rc;
	probes[0].status = portail_gpi_new(cfg, &gpi, &err);
	if (probes[0].status == PORTAIL_OK)
		probes[0].status = portail_gpi_probe(gpi, probes[0].detail, sizeof(probes[0].detail), &err);
	if (probes[0].status != PORTAIL_OK)
		snprintf(probes[0].detail, sizeof(probes[0].detail), "%s", err.message);
	probe_files(cfg, &probes[1]);
	err.message[0] = '\0';
	probes[2].status = portail_mail_probe(cfg, &err);
	snprintf(probes[2].detail, sizeof(probes[2].detail), "%s",
	    probes[2].status == PORTAIL_OK ? cfg->mail.url : err.message);
	{
		portail_client *pc = NULL;
		char version[64] = "";
		long long uptime = 0;

		err.message[0] = '\0';
		probes[3].status = portail_client_new(cfg->daemon.socket, 0, &pc);
		if (probes[3].status == PORTAIL_OK)
			probes[3].status = portail_client_ping(pc, version, sizeof(version), &uptime, &err);
		if (probes[3].status == PORTAIL_OK) {
			snprintf(probes[3].detail, sizeof(probes[3].detail), "%s, version %s, %s %lld s",
			    cfg->daemon.socket, version, MSG(CLI_UP_FOR), uptime);
			daemon_pool(pc, &probes[3]);
		}
		portail_client_free(pc);
		if (probes[3].status != PORTAIL_OK)
			snprintf(probes[3].detail, sizeof(probes[3].detail), "%s: %s", cfg->daemon.socket,
			    err.message);
	}
	probe_providers(cfg, &probes[4]);
	if (cfg->store.backend == PORTAIL_STORE_POSTGRESQL) {
		/* its schema started at 7, keyed by the address rule: nothing to list */
		snprintf(probes[5].detail, sizeof(probes[5].detail), "%s", MSG(CLI_KEYS_ONE_PER_ADDRESS));
		probe_cluster(cfg, &probes[6]);
	} else {
		n_probes = 6;
		if (probes[1].status == PORTAIL_OK)
			probe_keys(cfg, &probes[5]);
		else
			snprintf(probes[5].detail, sizeof(probes[5].detail), "%s", MSG(CLI_NO_STORE));
	}
	for (size_t i = 0; i < n_probes; i++)
		if (probes[i].status != PORTAIL_OK && (worst == PORTAIL_OK ||
		    probes[i].status == PORTAIL_ERR_CONFIG))
			worst = probes[i].status;
	rc = cli_exit_for(worst);
	if (cli->json) {
		json_t *j = json_pack("{s:b, s:{s:b, s:s}}", "ok", worst == PORTAIL_OK,
		    "config", "ok", 1, "path", cfg->path);

		for (size_t i = 0; i < n_probes; i++)
			json_object_set_new(j, probes[i].json, json_pack("{s:b, s:s}", "ok",
			    probes[i].status == PORTAIL_OK,
			    probes[i].status == PORTAIL_OK ? "detail" : "error", probes[i].detail));
		cli_print_json(j);
	} else {
		printf("%s %s\n", MSG(CLI_CONFIG_OK), cfg->path);
		for (size_t i = 0; i < n_probes; i++)
			printf("%s%s %s, %s\n", portail_msg(probes[i].name, cli_english), MSG(CLI_LABEL_SEPARATOR),
			    probes[i].status == PORTAIL_OK ? "OK" : MSG(CLI_FAILED), probes[i].detail);
	}
	portail_gpi_free(gpi);
	portail_config_free(cfg);
	return rc;
}

/* portail status — asks the daemon (admin) */
int
cmd_status(struct cli *cli, int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_client *pc = NULL;
	portail_error err = { { 0 } };
	json_t *st = NULL, *dir;
	portail_status r;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", MSG(CLI_STATUS_USAGE));
		return EX_DONE;
	}
	if (argc > 1) {
		fprintf(stderr, "%s", MSG(CLI_STATUS_NO_ARGUMENT));
		return EX_USAGE;
	}
	if ((rc = cli_load_config(cli, &cfg)) != EX_DONE)
		return rc;
	r = portail_client_new(cfg->daemon.socket, 0, &pc);
	if (r == PORTAIL_OK) {
		portail_client_set_lang(pc, cli_english ? "en" : "fr");
		r = portail_client_status(pc, &st, &err);
	}
	rc = cli_exit_for(r);
	if (r != PORTAIL_OK) {
		if (cli->json)
			cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 0, "error",
			    portail_strerror(r), "message", err.message));
		else
			fprintf(stderr, "portail: %s\n", err.message);
		goto out;
	}
	if (cli->json) {
		cli_print_json(json_incref(st));
		goto out;
	}
	dir = json_object_get(st, "directory");
	printf("portaild %s, %s %lld s\n", json_string_value(json_object_get(st, "version")),
	    MSG(CLI_UP_FOR),
	    (long long)json_integer_value(json_object_get(st, "uptime")));
	printf("%s %lld, %s %lld, %s %lld, %s %lld\n", MSG(CLI_REQUESTS),
	    get2(st, "requests", "total"),
	    MSG(CLI_MALFORMED),
	    get2(st, "requests", "bad_request"),
	    MSG(CLI_REFUSED),
	    get2(st, "requests", "refused"),
	    MSG(CLI_UNAVAILABLE),
	    get2(st, "requests", "unavailable"));
	printf("%s %lld %s, %lld max, %lld %s\n", MSG(CLI_CONNECTIONS),
	    get2(st, "connections", "open"),
	    MSG(CLI_OPEN),
	    get2(st, "connections", "max"),
	    get2(st, "connections", "total"),
	    MSG(CLI_SINCE_START));
	if (json_is_true(json_object_get(dir, "ok")))
		printf("%s %s\n", MSG(CLI_GPI_OK),
		    json_string_value(json_object_get(dir, "server")));
	else
		printf("%s %s\n", MSG(CLI_GPI_FAILED),
		    json_string_value(json_object_get(dir, "error")));
	{
		char line[300];

		if (pool_line(dir, line, sizeof(line)))
			printf("  %s\n", line);
	}
	{
		json_t *store = json_object_get(st, "store");

		if (json_is_true(json_object_get(store, "ok")))
			printf("%s %s\n", MSG(CLI_STORE_OK),
			    json_string_value(json_object_get(store, "path")));
		else
			printf("%s %s\n", MSG(CLI_STORE_FAILED),
			    json_string_value(json_object_get(store, "error")));
	}
	printf("%s %lld %s, %lld %s, %lld %s\n", MSG(CLI_MAIL),
	    get2(st, "mail", "queued"), MSG(CLI_MAIL_QUEUED),
	    get2(st, "mail", "sent"), MSG(CLI_MAIL_SENT),
	    get2(st, "mail", "failed"), MSG(CLI_MAIL_GIVEN_UP));
	if (get2(st, "mail", "last_failure") > 0)
		printf("%s %s\n", MSG(CLI_LAST_FAILURE),
		    json_string_value(json_object_get(json_object_get(st, "mail"), "last_error")));
out:
	json_decref(st);
	portail_client_free(pc);
	portail_config_free(cfg);
	return rc;
}

