/*
 * bench_pam — a parent's sign-in through libpam and pam_portail.so, against
 * the two references an admin would weigh it against.
 *
 *   bench_pam CONFIG PAM_CONFDIR LDAP_URI [PAIRS]
 *
 * PAIRS (default 100) sign-ins, each between its two references run right
 * before and right after it (bench.h: paired samples), with one PHC string
 * (the configured argon2id parameters):
 *  - pam_authenticate + pam_acct_mgmt for the service "parents" in
 *    PAM_CONFDIR (pam_start_confdir: a real libpam stack), through
 *    portaild, its store and slapd (the access check);
 *  - the bare crypto_pwhash_str_verify of the PHC string: the physical
 *    limit (target: the median of the per-pair differences <= 2 ms);
 *  - a simple bind to slapd on an entry whose userPassword is
 *    {ARGON2}<the same PHC string>, on an open connection: what pam_ldap
 *    would cost (target: the median of the per-pair ratios <= 0.60).
 * Medians and interquartile ranges; the load average is printed with them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>
#include <security/pam_appl.h>
#include <sodium.h>
#include <sqlite3.h>

#include "bench.h"
#include "config.h"
#include "email.h"

#define PARENT "chantal.gagnon@exemple.ca"
#define PASSWORD "Quatre-chevaux-bleus-dansent"
#define BENCH_DN "cn=bench-argon2,ou=services,dc=exemple,dc=qc,dc=ca"

static void
die(const char *what)
{
	fprintf(stderr, "bench_pam: %s\n", what);
	exit(1);
}

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(PASSWORD);
	*resp = r;
	(void)data;
	return PAM_SUCCESS;
}

static struct bench_procs procs;   /* whose CPU time a sample counts */

static struct bench_cost
one_pam(const char *confdir)
{
	struct pam_conv c = { conv, NULL };
	pam_handle_t *pamh = NULL;
	struct bench_cost t0 = bench_cost_start(&procs);
	int rc;

	if (pam_start_confdir("parents", PARENT, &c, confdir, &pamh) != PAM_SUCCESS)
		die("pam_start_confdir");
	rc = pam_authenticate(pamh, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, rc);
	if (rc != PAM_SUCCESS)
		die("pam refused the parent: is portaild running with the account?");
	return bench_cost_since(&procs, t0);
}

static struct bench_cost
one_bare(const char *phc)
{
	struct bench_cost t0 = bench_cost_start(&procs);

	if (crypto_pwhash_str_verify(phc, PASSWORD, strlen(PASSWORD)) != 0)
		die("bare verify");
	return bench_cost_since(&procs, t0);
}

static struct bench_cost
one_bind(LDAP *ld)
{
	struct berval cred = { strlen(PASSWORD), (char *)(uintptr_t)PASSWORD };
	struct bench_cost t0 = bench_cost_start(&procs);

	if (ldap_sasl_bind_s(ld, BENCH_DN, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) != LDAP_SUCCESS)
		die("slapd refused the {ARGON2} bind (moduleload argon2?)");
	return bench_cost_since(&procs, t0);
}

int
main(int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_error err;
	char phc[crypto_pwhash_STRBYTES], userpw[crypto_pwhash_STRBYTES + 16];
	int pairs = 100, version = LDAP_VERSION3;
	LDAP *admin = NULL, *ld = NULL;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_pam CONFIG PAM_CONFDIR LDAP_URI [PAIRS]\n");
		return 2;
	}
	if (argc > 4)
		pairs = bench_arg_int(argv[4], 2, 100000, "PAIRS");
	if (sodium_init() < 0 || portail_config_load(argv[1], &cfg, &err) != PORTAIL_OK)
		die(err.message);
	if (crypto_pwhash_str(phc, PASSWORD, strlen(PASSWORD),
	    (unsigned long long)cfg->password.argon2_opslimit,
	    (size_t)cfg->password.argon2_memlimit_kib * 1024u) != 0)
		die("argon2id");

	/* the parent's account, straight into the store */
	{
		sqlite3 *db;
		sqlite3_stmt *s;

		if (sqlite3_open(cfg->store_path, &db) != SQLITE_OK)
			die("store");
		sqlite3_busy_timeout(db, 10000);
		if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO accounts (email_key, email, "
		    "password_hash, created, updated) VALUES (?1, ?1, ?2, 0, 0)", -1, &s, NULL) != SQLITE_OK)
			die(sqlite3_errmsg(db));
		sqlite3_bind_text(s, 1, PARENT, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, phc, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			die(sqlite3_errmsg(db));
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	/* the same PHC string as {ARGON2} userPassword in slapd */
	{
		struct berval cred = { 12, (char *)(uintptr_t)"admin-secret" };
		char *oc[] = { (char *)(uintptr_t)"organizationalRole", (char *)(uintptr_t)"simpleSecurityObject", NULL };
		char *cn[] = { (char *)(uintptr_t)"bench-argon2", NULL };
		char *pw[] = { userpw, NULL };
		LDAPMod m_oc = { LDAP_MOD_ADD, (char *)(uintptr_t)"objectClass", { oc } };
		LDAPMod m_cn = { LDAP_MOD_ADD, (char *)(uintptr_t)"cn", { cn } };
		LDAPMod m_pw = { LDAP_MOD_ADD, (char *)(uintptr_t)"userPassword", { pw } };
		LDAPMod *mods[] = { &m_oc, &m_cn, &m_pw, NULL };

		snprintf(userpw, sizeof(userpw), "{ARGON2}%s", phc);
		if (ldap_initialize(&admin, argv[3]) != LDAP_SUCCESS ||
		    ldap_set_option(admin, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
		    ldap_sasl_bind_s(admin, "cn=admin,dc=exemple,dc=qc,dc=ca", LDAP_SASL_SIMPLE, &cred,
		    NULL, NULL, NULL) != LDAP_SUCCESS)
			die("admin bind to slapd");
		ldap_delete_ext_s(admin, BENCH_DN, NULL, NULL);
		if (ldap_add_ext_s(admin, BENCH_DN, mods, NULL, NULL) != LDAP_SUCCESS)
			die("adding the {ARGON2} entry");
		ldap_unbind_ext_s(admin, NULL, NULL);
		if (ldap_initialize(&ld, argv[3]) != LDAP_SUCCESS ||
		    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS)
			die("ldap");
	}

	{
		struct bench_pairs over, bind, over_cpu, bind_cpu;
		double *of[3][BENCH_MAX_PROCS];         /* [PAM, bare, bind][process], per pair */
		double load0 = bench_loadavg(), t0 = bench_now_us(), budget = bench_budget_s() * 1e6;
		bool cpu = bench_procs_from_env(&procs);

		bench_pairs_init(&over, (size_t)pairs);
		bench_pairs_init(&bind, (size_t)pairs);
		bench_pairs_init(&over_cpu, (size_t)pairs);
		bench_pairs_init(&bind_cpu, (size_t)pairs);
		for (int w = 0; w < 3; w++)
			for (size_t j = 0; j < BENCH_MAX_PROCS; j++)
				of[w][j] = bench_values((size_t)pairs);
		FILE *log;
		struct bench_spread hd = { 0 };
		double *hash = bench_values((size_t)pairs), *own = bench_values((size_t)pairs);
		size_t logged = 0;

		(void)one_pam(argv[2]);         /* warm: connections, first LDAP bind */
		(void)one_bind(ld);
		log = bench_log_open();
		/*
		 * Each sign-in through PAM sits between its two references, the
		 * order alternating: bare, PAM, bind, then bind, PAM, bare. So each
		 * pair (PAM, bare) and (PAM, bind) ran back to back, the reference
		 * before the PAM sign-in in half of the pairs and after it in the
		 * other half. Past the time budget, it stops after an even number.
		 */
		for (size_t i = 0; i < (size_t)pairs; i++) {
			bool swap = bench_pair_reference_first(i);
			struct bench_cost x, pam, y, bare, ldap;

			if (!swap && bench_now_us() - t0 > budget)
				break;
			x = swap ? one_bind(ld) : one_bare(phc);
			pam = one_pam(argv[2]);
			y = swap ? one_bare(phc) : one_bind(ld);
			bare = swap ? y : x;
			ldap = swap ? x : y;
			bench_pairs_add(&over, pam.wall, bare.wall);
			/* the hash portaild ran for this very sign-in, from its log */
			if (log != NULL && logged == i &&
			    bench_log_take(log, "auth.password", &hash[i], 1) == 1) {
				own[i] = pam.wall - hash[i];
				logged++;
			}
			bench_pairs_add(&bind, pam.wall, ldap.wall);
			bench_pairs_add(&over_cpu, pam.cpu, bare.cpu);
			bench_pairs_add(&bind_cpu, pam.cpu, ldap.cpu);
			for (size_t j = 0; j < procs.n; j++) {
				of[0][j][i] = pam.of[j];
				of[1][j][i] = bare.of[j];
				of[2][j][i] = ldap.of[j];
			}
		}
		printf("## pam_authenticate + pam_acct_mgmt through pam_portail (t=%d, m=%d KiB)\n\n",
		    cfg->password.argon2_opslimit, cfg->password.argon2_memlimit_kib);
		printf("%zu pairs in %.0f s, load average (1 min) %.2f at the start, %.2f at the end.\n\n",
		    over.n, (bench_now_us() - t0) / 1e6, load0, bench_loadavg());
		fputs("| wall time (what the parent waits) " BENCH_ROW_HEADER BENCH_ROW_RULE, stdout);
		bench_print_row("pam_portail, ms", bench_pairs_side(&over, 'a'), 1000, "");
		bench_print_row("bare verify, ms", bench_pairs_side(&over, 'b'), 1000, "");
		bench_print_row("slapd {ARGON2} bind, ms", bench_pairs_side(&bind, 'b'), 1000, "");
		bench_print_row("**overhead: pam_portail − bare verify, per pair, ms**", bench_pairs_diff(&over),
		    1000, "<= 2");
		bench_print_row("**pam_portail / bind, per pair**", bench_pairs_ratio(&bind), 1, "<= 0.60");
		printf("| (unpaired: difference of the two medians, ms) | %.2f | | | | |\n\n",
		    (bench_pairs_side(&over, 'a').median - bench_pairs_side(&over, 'b').median) / 1000);
		/* how far portaild's hash is from the bare one beside it (before the table sorts hash) */
		if (logged == over.n && logged > 0) {
			struct bench_pairs hb;

			bench_pairs_init(&hb, logged);
			for (size_t i = 0; i < logged; i++)
				bench_pairs_add(&hb, hash[i], over.b[i]);
			hd = bench_pairs_diff(&hb);
			bench_pairs_free(&hb);
		}
		bench_print_within("pam_portail", hash, own, logged, over.n, "<= 2");
		if (hd.n > 0)
			printf("(portaild's argon2id − the bare verify beside it, per pair: median %.2f ms, "
			    "IQR %.2f ms)\n\n", hd.median / 1000, bench_iqr(hd) / 1000);
		if (log != NULL)
			fclose(log);
		free(hash);
		free(own);
		if (cpu) {
			fputs("| CPU time (this process, portaild, slapd) " BENCH_ROW_HEADER
			    BENCH_ROW_RULE, stdout);
			bench_print_row("pam_portail, ms", bench_pairs_side(&over_cpu, 'a'), 1000, "");
			bench_print_row("bare verify, ms", bench_pairs_side(&over_cpu, 'b'), 1000, "");
			bench_print_row("slapd {ARGON2} bind, ms", bench_pairs_side(&bind_cpu, 'b'), 1000, "");
			bench_print_row("**overhead: pam_portail − bare verify, per pair, ms**",
			    bench_pairs_diff(&over_cpu), 1000, "");
			bench_print_row("**pam_portail / bind, per pair**", bench_pairs_ratio(&bind_cpu), 1, "");
			printf("\n| CPU time by process, median ms |");
			for (size_t j = 0; j < procs.n; j++)
				printf(" %s |", procs.name[j]);
			printf("\n|---|");
			for (size_t j = 0; j < procs.n; j++)
				printf("---|");
			printf("\n");
			for (int w = 0; w < 3; w++) {
				static const char *const what[] = { "pam_portail", "bare verify", "slapd bind" };

				printf("| %s |", what[w]);
				for (size_t j = 0; j < procs.n; j++)
					printf(" %.2f |", bench_spread_of(of[w][j], over.n).median / 1000);
				printf("\n");
			}
			printf("\n");
		}
		for (int w = 0; w < 3; w++)
			for (size_t j = 0; j < BENCH_MAX_PROCS; j++)
				free(of[w][j]);
		bench_pairs_dump(&over, "pam-bare");
		bench_pairs_dump(&bind, "pam-bind");
		bench_pairs_dump(&over_cpu, "pam-bare-cpu");
		bench_pairs_dump(&bind_cpu, "pam-bind-cpu");
		bench_pairs_free(&over);
		bench_pairs_free(&bind);
		bench_pairs_free(&over_cpu);
		bench_pairs_free(&bind_cpu);
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	portail_config_free(cfg);
	return 0;
}
