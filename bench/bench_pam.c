/*
 * bench_pam — a parent's sign-in through libpam and pam_portail.so, against
 * the two references an admin would weigh it against.
 *
 *   bench_pam CONFIG PAM_CONFDIR LDAP_URI [ROUNDS]
 *
 * Interleaved, round by round, with one PHC string (the configured argon2id
 * parameters):
 *  - pam_authenticate + pam_acct_mgmt for the service "parents" in
 *    PAM_CONFDIR (pam_start_confdir: a real libpam stack), through
 *    portaild, its store and slapd (the access check);
 *  - the bare crypto_pwhash_str_verify of the PHC string: the physical
 *    limit (target: median overhead <= 2 ms);
 *  - a simple bind to slapd on an entry whose userPassword is
 *    {ARGON2}<the same PHC string>, on an open connection: what pam_ldap
 *    would cost (target: portail <= 0.60 x the bind's median).
 */
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

static double
one_pam(const char *confdir)
{
	struct pam_conv c = { conv, NULL };
	pam_handle_t *pamh = NULL;
	double t0 = bench_now_us();
	int rc;

	if (pam_start_confdir("parents", PARENT, &c, confdir, &pamh) != PAM_SUCCESS)
		die("pam_start_confdir");
	rc = pam_authenticate(pamh, 0);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, rc);
	if (rc != PAM_SUCCESS)
		die("pam refused the parent: is portaild running with the account?");
	return bench_now_us() - t0;
}

static double
one_bare(const char *phc)
{
	double t0 = bench_now_us();

	if (crypto_pwhash_str_verify(phc, PASSWORD, strlen(PASSWORD)) != 0)
		die("bare verify");
	return bench_now_us() - t0;
}

static double
one_bind(LDAP *ld)
{
	struct berval cred = { strlen(PASSWORD), (char *)(uintptr_t)PASSWORD };
	double t0 = bench_now_us();

	if (ldap_sasl_bind_s(ld, BENCH_DN, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) != LDAP_SUCCESS)
		die("slapd refused the {ARGON2} bind (moduleload argon2?)");
	return bench_now_us() - t0;
}

int
main(int argc, char **argv)
{
	portail_config *cfg = NULL;
	portail_error err;
	char phc[crypto_pwhash_STRBYTES], userpw[crypto_pwhash_STRBYTES + 16];
	int rounds = 5, version = LDAP_VERSION3;
	enum { PER_ROUND = 9 };
	LDAP *admin = NULL, *ld = NULL;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_pam CONFIG PAM_CONFDIR LDAP_URI [ROUNDS]\n");
		return 2;
	}
	if (argc > 4 && (rounds = atoi(argv[4])) < 1)
		return 2;
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
		size_t n = (size_t)rounds * PER_ROUND, k = 0;
		double *p = calloc(n, sizeof(double)), *b = calloc(n, sizeof(double));
		double *l = calloc(n, sizeof(double));
		double mp, mb, ml;

		(void)one_pam(argv[2]);         /* warm: connections, first LDAP bind */
		(void)one_bind(ld);
		/* the order rotates, so that none always follows the others' work */
		for (int r = 0; r < rounds; r++)
			for (int i = 0; i < PER_ROUND; i++, k++) {
				for (int j = 0; j < 3; j++) {
					switch ((i + j) % 3) {
					case 0: p[k] = one_pam(argv[2]); break;
					case 1: b[k] = one_bare(phc); break;
					default: l[k] = one_bind(ld); break;
					}
				}
			}
		mp = bench_median(p, n);
		mb = bench_median(b, n);
		ml = bench_median(l, n);
		printf("## pam_authenticate + pam_acct_mgmt through pam_portail (t=%d, m=%d KiB)\n\n",
		    cfg->password.argon2_opslimit, cfg->password.argon2_memlimit_kib);
		printf("| samples | pam_portail median ms | bare verify median ms | overhead ms | "
		    "slapd {ARGON2} bind median ms | portail / bind |\n");
		printf("|---|---|---|---|---|---|\n");
		printf("| %zu | %.2f | %.2f | %.2f | %.2f | %.3f |\n\n", n, mp / 1000, mb / 1000,
		    (mp - mb) / 1000, ml / 1000, mp / ml);
		free(p);
		free(b);
		free(l);
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	portail_config_free(cfg);
	return 0;
}
