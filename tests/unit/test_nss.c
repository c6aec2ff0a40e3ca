/*
 * test_nss.c — libnss_portail's getpwnam (nss/nss_portail.c): an entry for
 * every address-shaped name and for nothing else, the values of
 * nss.conf, ERANGE for a short buffer, and no entry at all when the
 * configuration is missing, unsafe or not understood.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

enum nss_status _nss_portail_getpwnam_r(const char *, struct passwd *, char *, size_t, int *);

static char conf[64];

static void
write_conf(const char *text, mode_t mode)
{
	FILE *f;

	unlink(conf);
	assert_non_null(f = fopen(conf, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(conf, mode), 0);
}

static enum nss_status
lookup(const char *name, struct passwd *pw, size_t buflen, int *err)
{
	static char buf[2048];

	memset(buf, 0x5a, sizeof(buf));
	return _nss_portail_getpwnam_r(name, pw, buf, buflen, err);
}

static const char good[] = "# parents\nuid = 2000\ngid = 2001\nhome = /srv/parents/%u\n"
    "shell = /usr/sbin/nologin\n";

static void
test_address_gets_entry(void **state)
{
	struct passwd pw;
	int err = 0;

	(void)state;
	write_conf(good, 0644);
	assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "julie.cote@exemple.ca");
	assert_string_equal(pw.pw_passwd, "x");
	assert_int_equal(pw.pw_uid, 2000);
	assert_int_equal(pw.pw_gid, 2001);
	assert_string_equal(pw.pw_dir, "/srv/parents/julie.cote@exemple.ca");
	assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
	/* ASCII letters lower-cased, as portail compares addresses: one home */
	assert_int_equal(lookup("Julie.Cote@Exemple.CA", &pw, 2048, &err), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "julie.cote@exemple.ca");
	assert_string_equal(pw.pw_dir, "/srv/parents/julie.cote@exemple.ca");
	/* UTF-8 passes; the address rules are pam_portail's and portaild's */
	assert_int_equal(lookup("andré@exemple.ca", &pw, 2048, &err), NSS_STATUS_SUCCESS);
	/* defaults: home "/", shell nologin */
	write_conf("uid=3000\ngid=3000\n", 0600);
	assert_int_equal(lookup("a@b", &pw, 2048, &err), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_dir, "/");
	assert_string_equal(pw.pw_shell, "/usr/sbin/nologin");
}

static void
test_other_names_get_none(void **state)
{
	static const char *const names[] = { "", "root", "www-data", "@exemple.ca", "julie@",
		"a@b@c", "a b@c", "a:b@c", "a,b@c", "../../etc@x", "a/b@c", "a\\b@c", ".a@b",
		"-a@b", "a\tb@c", "a\nb@c", "a\x7f@b" };
	struct passwd pw;
	char longname[300];
	int err = 0;

	(void)state;
	write_conf(good, 0644);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err = 0;
		if (lookup(names[i], &pw, 2048, &err) != NSS_STATUS_NOTFOUND)
			fail_msg("an entry for \"%s\"", names[i]);
		assert_int_equal(err, ENOENT);
	}
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 250, "@b.ca", 6);     /* 255 bytes */
	assert_int_equal(lookup(longname, &pw, 2048, &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(lookup(longname + 1, &pw, 2048, &err), NSS_STATUS_SUCCESS);   /* 254 */
}

static void
test_short_buffer(void **state)
{
	struct passwd pw;
	int err = 0;
	size_t need = 0;

	(void)state;
	write_conf(good, 0644);
	/* every size below what the entry takes: ERANGE and TRYAGAIN, as glibc wants */
	for (size_t n = 0; n < 200; n++) {
		enum nss_status st = lookup("julie.cote@exemple.ca", &pw, n, &err);

		if (st == NSS_STATUS_SUCCESS) {
			need = n;
			break;
		}
		assert_int_equal(st, NSS_STATUS_TRYAGAIN);
		assert_int_equal(err, ERANGE);
	}
	/* name, "x", "portail", the home, the shell, each with its NUL */
	assert_int_equal(need, 22 + 2 + 8 + 35 + 18);
}

static void
test_bad_configuration(void **state)
{
	static const char *const bad[] = { "uid = 2000\n", "gid = 2000\n", "uid = 0\ngid = 2000\n",
		"uid = 2000\ngid = -1\n", "uid = 20x0\ngid = 2000\n", "uid = 2000\ngid = 2000\nhome = rel\n",
		"uid = 2000\ngid = 2000\ncolour = blue\n", "uid = 2000\ngid = 2000\njunk\n",
		"uid = 99999999999\ngid = 2000\n", "" };
	struct passwd pw;
	int err = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_conf(bad[i], 0644);
		if (lookup("julie.cote@exemple.ca", &pw, 2048, &err) != NSS_STATUS_NOTFOUND)
			fail_msg("an entry with nss.conf \"%s\"", bad[i]);
	}
	/* writable by others: it hands out a uid, so it is not read */
	write_conf(good, 0666);
	assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_NOTFOUND);
	write_conf(good, 0664);
	assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_NOTFOUND);
	/* missing, or a symlink */
	unlink(conf);
	assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_NOTFOUND);
	{
		char target[80];

		snprintf(target, sizeof(target), "%s.target", conf);
		write_conf(good, 0644);
		assert_int_equal(rename(conf, target), 0);
		assert_int_equal(symlink(target, conf), 0);
		assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_NOTFOUND);
		unlink(target);
	}
	/* a NUL inside: not text */
	{
		FILE *f;

		unlink(conf);
		assert_non_null(f = fopen(conf, "w"));
		fwrite("uid = 2000\ngid = 2000\n\0home = /x\n", 1, 33, f);
		fclose(f);
		chmod(conf, 0644);
		assert_int_equal(lookup("julie.cote@exemple.ca", &pw, 2048, &err), NSS_STATUS_NOTFOUND);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_gets_entry),
		cmocka_unit_test(test_other_names_get_none),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_bad_configuration),
	};
	int rc;

	umask(022);
	snprintf(conf, sizeof(conf), "%s/nss.conf.%ld", getenv("PORTAIL_TEST_TMP") != NULL ?
	    getenv("PORTAIL_TEST_TMP") : "/tmp", (long)getpid());
	setenv("PORTAIL_NSS_CONF", conf, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf);
	return rc;
}
