/*
 * fuzz_request.c — libFuzzer target for portaild's request path: the
 * framing checks, the JSON decoding, the envelope and per-op field
 * checks, admin rights, and the answer's encoding (ops_handle).
 * Each input is one request line, handled as an ordinary user and as
 * root; the answer must be exactly one line of JSON with "ok".
 * No directory is configured, so nothing leaves the process.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon d;

static void
check_answer(const struct peer *p, const uint8_t *data, size_t size)
{
	size_t len = 0;
	bool close_after = false;
	char *r = ops_handle(&d, p, (const char *)data, size, &len, &close_after);
	json_t *j;

	if (r == NULL || len == 0 || r[len - 1] != '\n' || memchr(r, '\n', len - 1) != NULL)
		abort();
	j = json_loadb(r, len - 1, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_boolean(json_object_get(j, "ok")) ||
	    json_integer_value(json_object_get(j, "v")) != 1)
		abort();
	json_decref(j);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char conf[] = "[gpi]\nuri = ldap://127.0.0.1:1\nbase = dc=fuzz\n";
	static const struct peer user = { 1000, 1000, 1 }, root = { 0, 0, 1 };

	if (d.cfg == NULL) {
		if (portail_config_parse("fuzz.conf", conf, sizeof(conf) - 1, &d.cfg, NULL) != PORTAIL_OK)
			abort();
		log_open(false, false);
	}
	check_answer(&user, data, size);
	check_answer(&root, data, size);
	return 0;
}
