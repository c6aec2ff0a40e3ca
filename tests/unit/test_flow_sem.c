/*
 * test_flow_sem.c — portail_flow_new when sem_init fails (issue 11 item 8):
 * a clean error, not a flow whose hash semaphore was never made.
 * sem_init is replaced here (the executable's definition wins).
 */
#include <dlfcn.h>
#include <errno.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "flow.h"

static int fail_sem_init;

int
sem_init(sem_t *sem, int pshared, unsigned int value)
{
	int (*real)(sem_t *, int, unsigned int);

	if (fail_sem_init) {
		errno = ENOSPC;
		return -1;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "sem_init");
	return real != NULL ? real(sem, pshared, value) : -1;
}

static void
test_sem_init_failure_is_an_error(void **state)
{
	static const char text[] = "[gpi]\nuri = ldap://127.0.0.1:389\nbase = dc=exemple,dc=qc,dc=ca\n"
	    "[password]\nargon2_memlimit = 8192\nargon2_opslimit = 1\n";
	portail_config *cfg = NULL;
	portail_error err = { { 0 } };
	struct portail_flow_deps deps = { 0 };
	portail_flow *f = NULL;

	assert_int_equal(portail_config_parse("t.conf", text, strlen(text), &cfg, &err), PORTAIL_OK);
	deps.cfg = cfg;
	fail_sem_init = 1;
	assert_int_not_equal(portail_flow_new(&deps, &f, &err), PORTAIL_OK);
	assert_null(f);
	assert_non_null(strstr(err.message, "semaphore"));
	fail_sem_init = 0;
	assert_int_equal(portail_flow_new(&deps, &f, &err), PORTAIL_OK);
	portail_flow_free(f);
	portail_config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sem_init_failure_is_an_error),
	};

	return cmocka_run_group_tests_name("flow_sem", tests, NULL, NULL);
}
