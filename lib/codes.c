/* codes.c — verification codes and tickets; see codes.h. */
#include "codes.h"

#include <ctype.h>
#include <string.h>

#include <sodium.h>

void
portail_code_generate(const struct portail_codes_config *c, char *code)
{
	uint32_t n = (uint32_t)strlen(c->alphabet);

	for (int i = 0; i < c->length; i++)
		code[i] = c->alphabet[randombytes_uniform(n)];
	code[c->length] = '\0';
}

portail_status
portail_code_normalize(const struct portail_codes_config *c, const char *typed, char *out)
{
	size_t n = 0;
	const char *p = typed, *e;

	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if ((size_t)(e - p) != (size_t)c->length)
		return PORTAIL_ERR_INVALID;
	for (; p < e; p++) {
		char ch = *p;

		if (strchr(c->alphabet, ch) == NULL || ch == '\0') {
			/* the alphabet has each letter in one case only (config.c) */
			char other = islower((unsigned char)ch) ? (char)toupper((unsigned char)ch) :
			    (char)tolower((unsigned char)ch);

			if (other == ch || strchr(c->alphabet, other) == NULL)
				return PORTAIL_ERR_INVALID;
			ch = other;
		}
		out[n++] = ch;
	}
	out[n] = '\0';
	return PORTAIL_OK;
}

void
portail_code_hash(const portail_key *key, const char *email_key, const char *purpose,
    const char *code, unsigned char out[PORTAIL_HASH_BYTES])
{
	const char *parts[] = { "code", email_key, purpose, code };

	portail_key_hash(key, PORTAIL_KEY_CODES, out, parts, 4);
}

/* "<prefix>" + 43 base64url characters of 32 random bytes, and its keyed hash. */
static void
secret_generate(const char *prefix, char *out, size_t len)
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, 4);
	sodium_bin2base64(out + 4, len + 1 - 4, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

static portail_status
secret_hash(const portail_key *key, enum portail_key_use use, const char *prefix, size_t len,
    const char *secret, unsigned char hash[PORTAIL_HASH_BYTES])
{
	const char *parts[] = { prefix, secret };
	size_t n = strlen(secret);

	if (n != len || strncmp(secret, prefix, 4) != 0)
		return PORTAIL_ERR_INVALID;
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)secret[i]) && secret[i] != '-' && secret[i] != '_')
			return PORTAIL_ERR_INVALID;
	portail_key_hash(key, use, hash, parts, 2);
	return PORTAIL_OK;
}

void
portail_ticket_generate(const portail_key *key, char *ticket, unsigned char hash[PORTAIL_HASH_BYTES])
{
	secret_generate("ptt_", ticket, PORTAIL_TICKET_LEN);
	(void)portail_ticket_hash(key, ticket, hash);
}

portail_status
portail_ticket_hash(const portail_key *key, const char *ticket, unsigned char hash[PORTAIL_HASH_BYTES])
{
	return secret_hash(key, PORTAIL_KEY_TICKETS, "ptt_", PORTAIL_TICKET_LEN, ticket, hash);
}

void
portail_token_generate(const portail_key *key, char *token, unsigned char hash[PORTAIL_HASH_BYTES])
{
	secret_generate("ptk_", token, PORTAIL_TOKEN_LEN);
	(void)portail_token_hash(key, token, hash);
}

portail_status
portail_token_hash(const portail_key *key, const char *token, unsigned char hash[PORTAIL_HASH_BYTES])
{
	return secret_hash(key, PORTAIL_KEY_TOKENS, "ptk_", PORTAIL_TOKEN_LEN, token, hash);
}

void
portail_session_secret_generate(const portail_key *key, char *secret,
    unsigned char hash[PORTAIL_HASH_BYTES])
{
	secret_generate("pts_", secret, PORTAIL_SESSION_LEN);
	(void)portail_session_secret_hash(key, secret, hash);
}

portail_status
portail_session_secret_hash(const portail_key *key, const char *secret,
    unsigned char hash[PORTAIL_HASH_BYTES])
{
	return secret_hash(key, PORTAIL_KEY_TOKENS, "pts_", PORTAIL_SESSION_LEN, secret, hash);
}
