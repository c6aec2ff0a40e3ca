/*
 * fuzz_sasl.c — libFuzzer target for the OAUTHBEARER and XOAUTH2 message
 * parsers of sasl_portail (included whole, to reach its static parsers):
 * any bytes are a parse or a refusal, never a read past the message.
 */
#include "../../sasl_portail/sasl_portail.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size > MESSAGE_MAX || memchr(data, '\0', size) != NULL)
		return 0;       /* refused before parsing, as server_step does */
	for (int mech = 0; mech < 2; mech++) {
		struct parsed p = { NULL, NULL };

		if ((buf = malloc(size + 1)) == NULL)
			return 0;
		memcpy(buf, data, size);
		buf[size] = '\0';
		if (mech == 0 ? parse_oauthbearer(buf, &p) : parse_xoauth2(buf, &p)) {
			/* what a parse returns lies inside the message */
			if (p.token == NULL || p.token < buf || p.token > buf + size ||
			    (p.authzid != NULL && (p.authzid < buf || p.authzid > buf + size)))
				abort();
			if (strlen(p.token) == 0)
				abort();
		}
		free(buf);
	}
	return 0;
}
