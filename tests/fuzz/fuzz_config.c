/*
 * fuzz_config.c — libFuzzer target for the portail.conf parser: any
 * bytes either parse into a configuration or give one error naming the
 * file; nothing crashes, leaks or reads out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	portail_config *cfg = NULL;
	portail_error err;
	portail_status r;

	memset(&err, 0, sizeof(err));
	r = portail_config_parse("fuzz.conf", (const char *)data, size, &cfg, &err);
	if (r == PORTAIL_OK) {
		if (cfg == NULL || cfg->gpi.n_uris < 1 || cfg->gpi.base == NULL)
			abort();
		portail_config_free(cfg);
	} else if (cfg != NULL || strncmp(err.message, "fuzz.conf", 9) != 0) {
		abort();
	}
	return 0;
}
