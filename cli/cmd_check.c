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
	const char *fr, *en, *json;
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

	for (size_t i = 0; i < 2; i++) {
		struct stat st;

		if (stat(paths[i], &st) != 0) {
			p->status = PORTAIL_ERR_CONFIG;
			snprintf(p->detail, sizeof(p->detail), "%s: %s (portail init)", paths[i],
			    strerror(errno));
			return;
		}
		if ((st.st_mode & 077) != 0 || (pw != NULL && st.st_uid != pw->pw_uid)) {
			p->status = PORTAIL_ERR_CONFIG;
			snprintf(p->detail, sizeof(p->detail), T("%s : mode %04o, propriétaire %u; "
			    "attendu 0600 et %s", "%s: mode %04o, owner %u; expected 0600 and %s"),
			    paths[i], (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, cfg->daemon.user);
			return;
		}
	}
	/* the daemon's user must create files beside the store (the backend's own) */
	if (pw != NULL && portail_store_check_dir(cfg->store_path, pw->pw_uid, pw->pw_gid,
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
	snprintf(p->detail, sizeof(p->detail), "%s, %s", cfg->key_file, cfg->store_path);
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
		snprintf(p->detail, sizeof(p->detail), "%s", T("une clé par adresse",
		    "one key per address"));
		return;
	}
	p->status = PORTAIL_ERR_EXISTS;
	used = (size_t)snprintf(p->detail, sizeof(p->detail), T("%zu compte(s) à fusionner ou "
	    "supprimer", "%zu account(s) to merge or delete"), n);
	for (size_t i = 0; i < n && used < sizeof(p->detail); i++) {
		int k = v[i].key == NULL ?
		    snprintf(p->detail + used, sizeof(p->detail) - used, T("; %s : adresse refusée",
		    "; %s: address refused"), v[i].email) :
		    snprintf(p->detail + used, sizeof(p->detail) - used, T("; %s : même clé que %s",
		    "; %s: same key as %s"), v[i].email, v[i].other ? v[i].other : v[i].key);

		used += k > 0 ? (size_t)k : 0;
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
		snprintf(p->detail, sizeof(p->detail), "%s", T("la vérification des clés a échoué",
		    "the key check failed"));
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
		snprintf(p->detail, sizeof(p->detail), "%s", T("aucun", "none"));
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

/* portail check */
int
cmd_check(struct cli *cli, int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_gpi *gpi = NULL;
	portail_error err = { { 0 } };
	struct probe probes[6] = {
		{ "annuaire GPI", "GPI directory", "directory", PORTAIL_OK, "" },
		{ "clé et magasin", "key and store", "store", PORTAIL_OK, "" },
		{ "courriel", "mail", "mail", PORTAIL_OK, "" },
		{ "portaild", "portaild", "daemon", PORTAIL_OK, "" },
		{ "fournisseurs", "providers", "providers", PORTAIL_OK, "" },
		{ "clés d'adresse", "address keys", "address_keys", PORTAIL_OK, "" },
	};
	const size_t n_probes = sizeof(probes) / sizeof(probes[0]);
	portail_status worst = PORTAIL_OK;
	int rc;

	if (cli_wants_help(argc, argv)) {
		printf("%s", T("usage : portail check\n"
		    "Valide la configuration, puis sonde l'annuaire GPI (connexion, liaison, base),\n"
		    "la clé et le magasin (présents, 0600, à [daemon] user), le serveur de courriel\n"
		    "(NOOP), portaild (ping), chaque fournisseur social (ses secrets, puis une\n"
		    "requête sans jeton) et les clés d'adresse (comptes que la migration 3 → 4\n"
		    "n'a pas pu recalculer : à fusionner ou supprimer). Sortie 0 quand tout répond.\n",
		    "usage: portail check\n"
		    "Validates the configuration, then probes the GPI directory (connect, bind, base),\n"
		    "the key and the store (present, 0600, owned by [daemon] user), the mail server\n"
		    "(NOOP), portaild (ping), each social provider (its secrets, then a request\n"
		    "without a token) and the address keys (accounts the 3 -> 4 migration could\n"
		    "not re-key: to merge or delete). Exit 0 when everything answers.\n"));
		return EX_DONE;
	}
	if (argc > 1) {
		fprintf(stderr, "%s", T("portail: check ne prend pas d'argument\n",
		    "portail: check takes no argument\n"));
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
		portail_client_free(pc);
		if (probes[3].status == PORTAIL_OK)
			snprintf(probes[3].detail, sizeof(probes[3].detail), "%s, version %s, %s %lld s",
			    cfg->daemon.socket, version, T("actif depuis", "up for"), uptime);
		else
			snprintf(probes[3].detail, sizeof(probes[3].detail), "%s: %s", cfg->daemon.socket,
			    err.message);
	}
	probe_providers(cfg, &probes[4]);
	if (probes[1].status == PORTAIL_OK)
		probe_keys(cfg, &probes[5]);
	else
		snprintf(probes[5].detail, sizeof(probes[5].detail), "%s", T("magasin absent",
		    "no store"));
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
		printf("%s %s\n", T("configuration : OK,", "configuration: OK,"), cfg->path);
		for (size_t i = 0; i < n_probes; i++)
			printf("%s%s %s, %s\n", T(probes[i].fr, probes[i].en), T(" :", ":"),
			    probes[i].status == PORTAIL_OK ? "OK" : T("ÉCHEC", "FAILED"), probes[i].detail);
	}
	portail_gpi_free(gpi);
	portail_config_free(cfg);
	return rc;
}

/* st.a.b as an integer, 0 when absent. */
static long long
get2(json_t *st, const char *a, const char *b)
{
	return (long long)json_integer_value(json_object_get(json_object_get(st, a), b));
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
		printf("%s", T("usage : portail status\n"
		    "Demande à portaild son état : version, requêtes, connexions, annuaire.\n"
		    "Réservé à root et au groupe [daemon] admin_group.\n",
		    "usage: portail status\n"
		    "Asks portaild for its state: version, requests, connections, directory.\n"
		    "For root and the [daemon] admin_group.\n"));
		return EX_DONE;
	}
	if (argc > 1) {
		fprintf(stderr, "%s", T("portail: status ne prend pas d'argument\n",
		    "portail: status takes no argument\n"));
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
	    T("actif depuis", "up for"),
	    (long long)json_integer_value(json_object_get(st, "uptime")));
	printf("%s %lld, %s %lld, %s %lld, %s %lld\n", T("requêtes :", "requests:"),
	    get2(st, "requests", "total"),
	    T("mal formées", "malformed"),
	    get2(st, "requests", "bad_request"),
	    T("refusées", "refused"),
	    get2(st, "requests", "refused"),
	    T("indisponible", "unavailable"),
	    get2(st, "requests", "unavailable"));
	printf("%s %lld %s, %lld max, %lld %s\n", T("connexions :", "connections:"),
	    get2(st, "connections", "open"),
	    T("ouvertes", "open"),
	    get2(st, "connections", "max"),
	    get2(st, "connections", "total"),
	    T("depuis le départ", "since start"));
	if (json_is_true(json_object_get(dir, "ok")))
		printf("%s %s\n", T("annuaire GPI : OK,", "GPI directory: OK,"),
		    json_string_value(json_object_get(dir, "server")));
	else
		printf("%s %s\n", T("annuaire GPI : ÉCHEC,", "GPI directory: FAILED,"),
		    json_string_value(json_object_get(dir, "error")));
	{
		json_t *store = json_object_get(st, "store");

		if (json_is_true(json_object_get(store, "ok")))
			printf("%s %s\n", T("magasin : OK,", "store: OK,"),
			    json_string_value(json_object_get(store, "path")));
		else
			printf("%s %s\n", T("magasin : ÉCHEC,", "store: FAILED,"),
			    json_string_value(json_object_get(store, "error")));
	}
	printf("%s %lld %s, %lld %s, %lld %s\n", T("courriel :", "mail:"),
	    get2(st, "mail", "queued"), T("en attente", "queued"),
	    get2(st, "mail", "sent"), T("envoyés", "sent"),
	    get2(st, "mail", "failed"), T("abandonnés", "given up"));
	if (get2(st, "mail", "last_failure") > 0)
		printf("%s %s\n", T("  dernier échec :", "  last failure:"),
		    json_string_value(json_object_get(json_object_get(st, "mail"), "last_error")));
out:
	json_decref(st);
	portail_client_free(pc);
	portail_config_free(cfg);
	return rc;
}

