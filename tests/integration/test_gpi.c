/*
 * test_gpi.c — GPI lookups against a real slapd (tests/fixtures/slapd.sh)
 * loaded with examples/ldap/sample.ldif and tests/fixtures/hostile.ldif.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "fixture.h"
#include "gpi.h"

static struct fx_slapd shared;

static portail_config *
config_for(const struct fx_slapd *s, const char *uris, const char *extra)
{
	char text[4096];
	portail_config *cfg = NULL;
	portail_error err = { { 0 } };
	const char *dir = fx_tmpdir("conf");

	snprintf(text, sizeof(text),
	    "[gpi]\n"
	    "uri = %s\n"
	    "base = " FX_BASE "\n"
	    "%s"
	    "subscribed_schools = 751001, 751501\n"
	    "%s",
	    uris,
	    strstr(extra, "sasl_mech") ? "" : "bind_dn = " FX_BIND_DN "\n",
	    extra);
	if (strstr(extra, "sasl_mech") == NULL) {
		char line[700];

		snprintf(line, sizeof(line), "bind_password_file = %s\n", s->bind_pw_file);
		strncat(text, line, sizeof(text) - strlen(text) - 1);
	}
	if (portail_config_load(fx_write(dir, "portail.conf", text, 0600), &cfg, &err) != PORTAIL_OK)
		fail_msg("config: %s", err.message);
	return cfg;
}

struct ctx {
	portail_config *cfg;
	portail_gpi *gpi;
};

static portail_status
lookup(struct ctx *c, const char *email, portail_gpi_result **res, portail_error *err)
{
	*res = NULL;
	return portail_gpi_lookup(c->gpi, email, res, err);
}

static void
open_ctx(struct ctx *c, const struct fx_slapd *s, const char *uris, const char *extra)
{
	c->cfg = config_for(s, uris, extra);
	assert_int_equal(portail_gpi_new(c->cfg, &c->gpi, NULL), PORTAIL_OK);
}

static void
close_ctx(struct ctx *c)
{
	portail_gpi_free(c->gpi);
	portail_config_free(c->cfg);
}

static int
group_setup(void **state)
{
	fx_slapd_start(&shared, fx_src("tests/fixtures/hostile.ldif"));
	return 0;
}

static int
group_teardown(void **state)
{
	fx_slapd_stop(&shared);
	return 0;
}

static const struct portail_gpi_child *
child(const portail_gpi_result *r, const char *id)
{
	for (size_t i = 0; i < r->n_children; i++)
		if (r->children[i].student_id && strcmp(r->children[i].student_id, id) == 0)
			return &r->children[i];
	return NULL;
}

static void
test_found_two_schools(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_true(r->known);
	assert_int_equal(r->n_children, 2);
	assert_non_null(child(r, "1000001"));
	assert_string_equal(child(r, "1000001")->name, "Léa Tremblay");
	assert_string_equal(child(r, "1000001")->school, "751001");
	assert_true(child(r, "1000001")->subscribed);
	assert_string_equal(child(r, "1000002")->school, "751501");
	assert_true(child(r, "1000002")->subscribed);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_not_found(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "personne@exemple.ca", &r, &err), PORTAIL_OK);
	assert_false(r->known);
	assert_int_equal(r->n_children, 0);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_mixed_case(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	/* typed differently from the record, both ways */
	assert_int_equal(lookup(&c, "CHANTAL.Gagnon@Exemple.CA", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	portail_gpi_result_free(r);
	assert_int_equal(lookup(&c, "marc.roy@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 1);
	assert_string_equal(r->children[0].name, "Emma Roy");
	assert_true(r->known);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_two_guardians(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "julie.cote@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 1);
	assert_string_equal(r->children[0].student_id, "1000003");
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_unsubscribed(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "pierre.lavoie@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 1);
	assert_false(r->children[0].subscribed);
	assert_false(r->known);
	portail_gpi_result_free(r);
	/* one child in a subscribed school is enough */
	assert_int_equal(lookup(&c, "nadia.belanger@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	assert_true(r->known);
	assert_true(child(r, "1000005")->subscribed);
	assert_false(child(r, "1000006")->subscribed);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_all_schools(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;
	/* same directory, "*" subscribes every school */
	{
		portail_config *all = NULL;
		char text[2048];
		portail_error e;

		snprintf(text, sizeof(text), "[gpi]\nuri = %s\nbase = " FX_BASE "\n"
		    "bind_dn = " FX_BIND_DN "\nbind_password_file = %s\nsubscribed_schools = *\n",
		    shared.uri, shared.bind_pw_file);
		assert_int_equal(portail_config_load(fx_write(fx_tmpdir("conf"), "all.conf",
		    text, 0600), &all, &e), PORTAIL_OK);
		assert_int_equal(portail_gpi_new(all, &c.gpi, NULL), PORTAIL_OK);
		assert_int_equal(lookup(&c, "pierre.lavoie@exemple.ca", &r, &err), PORTAIL_OK);
		assert_true(r->known);
		portail_gpi_result_free(r);
		portail_gpi_free(c.gpi);
		portail_config_free(all);
	}
}

static void
test_hostile_addresses(void **state)
{
	static const char *const invalid[] = {
		"*)(objectClass=*",
		"*)(gpiGuardianEmail=*",
		"x@exemple.ca)(gpiGuardianEmail=*",
		"chantal.gagnon@exemple.ca)(|(objectClass=*",
		"a\\2a@exemple.ca",
		"a\\@exemple.ca",
		"\xff\xfe@exemple.ca",
		"chantal.gagnon@exemple.ca\n",
		"",
		"@",
	};
	static const char *const match_nothing[] = {
		"*@exemple.ca",
		"chantal*@exemple.ca",
		"*gagnon@exemple.ca",
		"st**r@exemple.ca",
	};
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		r = NULL;
		assert_int_equal(lookup(&c, invalid[i], &r, &err), PORTAIL_ERR_INVALID);
		assert_null(r);
	}
	for (size_t i = 0; i < sizeof(match_nothing) / sizeof(match_nothing[0]); i++) {
		assert_int_equal(lookup(&c, match_nothing[i], &r, &err), PORTAIL_OK);
		assert_int_equal(r->n_children, 0);
		portail_gpi_result_free(r);
	}
	/* a '*' that is really in the address matches only itself */
	assert_int_equal(lookup(&c, "ST*R@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 1);
	assert_string_equal(r->children[0].student_id, "9000002");
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_hostile_values(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "hostile@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 1);
	/* newline and escape sequence: the value is dropped, the record kept */
	assert_null(r->children[0].name);
	assert_string_equal(r->children[0].student_id, "9000001");
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_broad_filter_rechecked(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	/* An admin's substring filter matches more than the address: the
	 * entries whose e-mail is not the address are not counted. */
	open_ctx(&c, &shared, shared.uri,
	    "filter = (&(objectClass=gpiStudent)(gpiGuardianEmail=*%s))\n");
	assert_int_equal(lookup(&c, "gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 0);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

/* The value on record comes back: mail for a sign-up goes there, not to the spelling typed. */
static void
test_record_spelling(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(lookup(&c, "marc.roy@EXEMPLE.ca", &r, &err), PORTAIL_OK);
	assert_string_equal(r->email, "Marc.Roy@Exemple.CA");
	portail_gpi_result_free(r);
	assert_int_equal(lookup(&c, "CHANTAL.Gagnon@Exemple.CA", &r, &err), PORTAIL_OK);
	assert_string_equal(r->email, "chantal.gagnon@exemple.ca");
	portail_gpi_result_free(r);
	/* a subscribed child's record, when another is not */
	assert_int_equal(lookup(&c, "Nadia.Belanger@exemple.ca", &r, &err), PORTAIL_OK);
	assert_true(r->known);
	assert_string_equal(r->email, "nadia.belanger@exemple.ca");
	portail_gpi_result_free(r);
	assert_int_equal(lookup(&c, "personne@exemple.ca", &r, &err), PORTAIL_OK);
	assert_null(r->email);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
ldapadd_text(const char *ldif)
{
	char path[700], cmd[2000];

	snprintf(path, sizeof(path), "%s", fx_write(fx_tmpdir("ldif"), "a.ldif", ldif, 0600));
	snprintf(cmd, sizeof(cmd), "ldapmodify -x -H '%s' -D 'cn=admin," FX_BASE "' -w admin-secret "
	    "-f '%s' >/dev/null", shared.uri, path);
	assert_int_equal(system(cmd), 0);
}

/*
 * Records hold A-label domains (gpiGuardianEmail is IA5: ASCII only); a
 * parent types the U-label, é precomposed or not, in any case: found,
 * by key. The ß spelling of a domain is another domain: not found.
 */
static void
test_idn_spellings(void **state)
{
	static const char *const same[] = {
		"parent@\xc3\xa9""cole.ca", "parent@e\xcc\x81""cole.ca", "PARENT@\xc3\x89""COLE.CA",
		"parent@xn--cole-9oa.ca", "Parent@XN--COLE-9OA.CA",
	};
	static const char *const other[] = {
		"parent@ecole.ca", "julien.tremblay@ma\xc3\x9f""awippi.ca",
		"julien.tremblay@xn--maawippi-rya.ca", "julien.tremblay@m\xd0\xb0ssawippi.ca",
		"\xc5\xbfofia@massawippi.ca",
	};
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	ldapadd_text("dn: uid=1200001,ou=eleves," FX_BASE "\nchangetype: add\n"
	    "objectClass: inetOrgPerson\nobjectClass: gpiStudent\nuid: 1200001\ncn: E\nsn: E\n"
	    "gpiStudentId: 1200001\ngpiSchoolCode: 751001\ngpiGuardianEmail: parent@xn--cole-9oa.ca\n"
	    "gpiGuardianEmail: julien.tremblay@massawippi.ca\ngpiGuardianEmail: sofia@massawippi.ca\n");
	open_ctx(&c, &shared, shared.uri, "");
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_int_equal(lookup(&c, same[i], &r, &err), PORTAIL_OK);
		if (!r->known || r->email == NULL || strcmp(r->email, "parent@xn--cole-9oa.ca") != 0)
			fail_msg("%s: not found as parent@xn--cole-9oa.ca", same[i]);
		portail_gpi_result_free(r);
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(lookup(&c, other[i], &r, &err), PORTAIL_OK);
		if (r->n_children != 0 || r->email != NULL)
			fail_msg("%s: found as %s", other[i], r->email ? r->email : "?");
		portail_gpi_result_free(r);
	}
	close_ctx(&c);
}

static void
test_ldapi_external(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;

	open_ctx(&c, &shared, shared.ldapi_uri, "sasl_mech = EXTERNAL\n");
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static void
test_bad_bind_is_unavailable(void **state)
{
	struct ctx c;
	portail_gpi_result *r = NULL;
	portail_error err = { { 0 } };
	char *pw = fx_write(fx_tmpdir("pw"), "wrong.pw", "not-the-password\n", 0600);
	c.cfg = NULL;
	{
		char text[2048];

		snprintf(text, sizeof(text), "[gpi]\nuri = %s\nbase = " FX_BASE "\n"
		    "bind_dn = " FX_BIND_DN "\nbind_password_file = %s\n", shared.uri, pw);
		assert_int_equal(portail_config_load(fx_write(fx_tmpdir("conf"), "p.conf",
		    text, 0600), &c.cfg, &err), PORTAIL_OK);
	}
	assert_int_equal(portail_gpi_new(c.cfg, &c.gpi, NULL), PORTAIL_OK);
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_null(r);
	assert_non_null(strstr(err.message, "configuration problem"));
	assert_int_equal(portail_gpi_probe(c.gpi, NULL, 0, &err), PORTAIL_ERR_UNAVAILABLE);
	close_ctx(&c);
}

static void
test_bad_base_is_config(void **state)
{
	struct ctx c;
	portail_error err = { { 0 } };
	char server[256];
	char text[2048];

	snprintf(text, sizeof(text), "[gpi]\nuri = %s\nbase = ou=absent," FX_BASE "\n"
	    "bind_dn = " FX_BIND_DN "\nbind_password_file = %s\n", shared.uri, shared.bind_pw_file);
	assert_int_equal(portail_config_load(fx_write(fx_tmpdir("conf"), "b.conf", text, 0600),
	    &c.cfg, &err), PORTAIL_OK);
	assert_int_equal(portail_gpi_new(c.cfg, &c.gpi, NULL), PORTAIL_OK);
	assert_int_equal(portail_gpi_probe(c.gpi, server, sizeof(server), &err), PORTAIL_ERR_CONFIG);
	close_ctx(&c);

	open_ctx(&c, &shared, shared.uri, "");
	assert_int_equal(portail_gpi_probe(c.gpi, server, sizeof(server), &err), PORTAIL_OK);
	assert_string_equal(server, shared.uri);
	close_ctx(&c);
}

static void
test_failover_refused_first(void **state)
{
	struct ctx c;
	portail_gpi_result *r;
	portail_error err;
	char uris[512];

	snprintf(uris, sizeof(uris), "ldap://127.0.0.1:%d %s", fx_closed_port(), shared.uri);
	open_ctx(&c, &shared, uris, "");
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	portail_gpi_result_free(r);
	close_ctx(&c);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_server_stopped_mid_run(void **state)
{
	struct fx_slapd s;
	struct ctx c;
	portail_gpi_result *r = NULL;
	portail_error err;

	fx_slapd_start(&s, NULL);
	open_ctx(&c, &s, s.uri, "timeout = 2\nnetwork_timeout = 1\n");
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	portail_gpi_result_free(r);

	fx_slapd_stop(&s);
	r = NULL;
	/* an outage, not "no such parent" */
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_null(r);

	/* the dead connection is reopened once the server is back */
	fx_slapd_restart(&s);
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	portail_gpi_result_free(r);

	/* killed under an open connection: reopened on the next lookup */
	fx_slapd_stop(&s);
	fx_slapd_restart(&s);
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	portail_gpi_result_free(r);
	close_ctx(&c);
	fx_slapd_stop(&s);
}

static void
test_hung_server_times_out(void **state)
{
	struct fx_slapd s;
	struct ctx c;
	portail_gpi_result *r = NULL;
	portail_error err;
	double t0, dt;
	char uris[1024];

	fx_slapd_start(&s, NULL);
	/* A server that accepts and never answers (SIGSTOP). */
	assert_true(fx_stop_process(s.pid));
	open_ctx(&c, &s, s.uri, "timeout = 1\nnetwork_timeout = 1\n");
	t0 = now();
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_ERR_UNAVAILABLE);
	dt = now() - t0;
	assert_null(r);
	/* The deadline is honoured: one timeout per attempt, two attempts
	 * (about 2 s). Not a benchmark, and no deadline a loaded machine could
	 * miss: what this catches is a hang, 127 s (libldap without
	 * LDAP_OPT_NETWORK_TIMEOUT) or forever, so the bound is half of that. */
	print_message("# hung server answered unavailable after %.2f s\n", dt);
	assert_true(dt < 60);
	close_ctx(&c);

	/* The same hung server first in the list: the second one answers. */
	snprintf(uris, sizeof(uris), "%s %s", s.uri, shared.uri);
	open_ctx(&c, &shared, uris, "timeout = 1\nnetwork_timeout = 1\n");
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_int_equal(r->n_children, 2);
	portail_gpi_result_free(r);
	/* and the connection stays with the one that answered */
	{
		char server[256];

		assert_int_equal(portail_gpi_probe(c.gpi, server, sizeof(server), &err), PORTAIL_OK);
		assert_string_equal(server, shared.uri);
	}
	close_ctx(&c);

	kill(s.pid, SIGCONT);
	fx_slapd_stop(&s);
}

/*
 * An address on 10,000 records, the one in a subscribed school last:
 * slapd's sizelimit is 500. Paged results read past it when the server
 * lets the bind identity page past the limit; when it does not, the
 * partial answer is "unavailable", never "no subscribed school".
 */
#define MANY 10000

static const char *
many_ldif(void)
{
	static char path[700];
	const char *dir = fx_tmpdir("many");
	FILE *f;

	snprintf(path, sizeof(path), "%s/many.ldif", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "dn: ou=many," FX_BASE "\nobjectClass: organizationalUnit\nou: many\n\n");
	for (int i = 0; i < MANY; i++)
		fprintf(f, "dn: uid=%d,ou=many," FX_BASE "\nobjectClass: inetOrgPerson\n"
		    "objectClass: gpiStudent\nuid: %d\ncn: Enfant %d\nsn: Enfant\n"
		    "gpiStudentId: %d\ngpiSchoolCode: %s\n"
		    "gpiGuardianEmail: beaucoup@exemple.ca\n\n",
		    5000000 + i, 5000000 + i, i, 5000000 + i, i == MANY - 1 ? "751001" : "751999");
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
test_many_records_paged(void **state)
{
	struct fx_slapd s;
	struct ctx c;
	portail_gpi_result *r = NULL;
	portail_error err = { { 0 } };
	const char *ldif = many_ldif();

	/* slapd's defaults: paging stops at the hard limit (500) as well */
	fx_slapd_start(&s, ldif);
	open_ctx(&c, &s, s.uri, "");
	assert_int_equal(lookup(&c, "beaucoup@exemple.ca", &r, &err), PORTAIL_ERR_UNAVAILABLE);
	assert_null(r);
	print_message("# %s\n", err.message);
	assert_non_null(strstr(err.message, "truncated"));
	/* a subscribed child among the first records is proof enough */
	assert_int_equal(lookup(&c, "chantal.gagnon@exemple.ca", &r, &err), PORTAIL_OK);
	assert_true(r->known);
	portail_gpi_result_free(r);
	close_ctx(&c);
	fx_slapd_stop(&s);

	/* the bind identity may page past the limit: the whole answer */
	setenv("SLAPD_LIMITS", "dn.exact=\"" FX_BIND_DN "\" size.prtotal=unlimited", 1);
	fx_slapd_start(&s, ldif);
	unsetenv("SLAPD_LIMITS");
	open_ctx(&c, &s, s.uri, "page_size = 300\n");
	assert_int_equal(lookup(&c, "beaucoup@exemple.ca", &r, &err), PORTAIL_OK);
	assert_true(r->known);
	assert_string_equal(r->email, "beaucoup@exemple.ca");
	assert_int_equal(r->n_children, 100);     /* [gpi] size_limit kept */
	portail_gpi_result_free(r);
	close_ctx(&c);
	fx_slapd_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_two_schools),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_mixed_case),
		cmocka_unit_test(test_two_guardians),
		cmocka_unit_test(test_unsubscribed),
		cmocka_unit_test(test_all_schools),
		cmocka_unit_test(test_hostile_addresses),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_broad_filter_rechecked),
		cmocka_unit_test(test_record_spelling),
		cmocka_unit_test(test_idn_spellings),
		cmocka_unit_test(test_ldapi_external),
		cmocka_unit_test(test_bad_bind_is_unavailable),
		cmocka_unit_test(test_bad_base_is_config),
		cmocka_unit_test(test_failover_refused_first),
		cmocka_unit_test(test_server_stopped_mid_run),
		cmocka_unit_test(test_hung_server_times_out),
		cmocka_unit_test(test_many_records_paged),
	};

	return cmocka_run_group_tests_name("gpi", tests, group_setup, group_teardown);
}
