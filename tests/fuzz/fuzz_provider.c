/*
 * fuzz_provider.c — libFuzzer target for what portail believes of a
 * provider's answers (lib/claims.c): any status and any two bodies, for
 * every kind of provider. Nothing crashes, leaks or reads out of bounds;
 * an identity comes out only with a printable subject and, when there is
 * one, a well-formed e-mail; Facebook never vouches.
 *
 * Input: byte 0 picks the kind, byte 1 the first answer's HTTP status,
 * then the first body (token information, introspection or debug_token),
 * a NUL, and the second body (userinfo or /me).
 *
 * With bit 7 of byte 0 set, ID tokens (lib/idtoken.c): the first body is
 * a token checked against the second as a key set, and, as JSON, the
 * payload of a token whose signature passed (pt_claims_id_token); the
 * same invariants hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "email.h"
#include "idtoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct portail_provider_config kinds[] = {
	{ .name = (char *)(uintptr_t)"google", .kind = (char *)(uintptr_t)"google", .client_id = (char *)(uintptr_t)"portail" },
	{ .name = (char *)(uintptr_t)"microsoft", .kind = (char *)(uintptr_t)"microsoft", .client_id = (char *)(uintptr_t)"portail" },
	{ .name = (char *)(uintptr_t)"linkedin", .kind = (char *)(uintptr_t)"linkedin", .client_id = (char *)(uintptr_t)"portail" },
	{ .name = (char *)(uintptr_t)"ecole", .kind = (char *)(uintptr_t)"oidc", .client_id = (char *)(uintptr_t)"portail" },
	{ .name = (char *)(uintptr_t)"facebook", .kind = (char *)(uintptr_t)"facebook", .client_id = (char *)(uintptr_t)"424242" },
};

static const long statuses[] = { 200, 200, 200, 400, 401, 403, 429, 500, 302 };

/* The ID-token half: a token against a key set, then a payload alone. */
static portail_status
id_tokens(const struct portail_provider_config *c, uint8_t how, const char *tok, size_t tlen,
    const char *keys, size_t klen, struct portail_identity *id)
{
	const char *iss = strcmp(c->kind, "microsoft") == 0 ?
	    "https://login.microsoftonline.com/{tenantid}/v2.0" : "https://idp.example";
	const char *nonce = (how & 1) ? "n1" : "";
	portail_error err = { { 0 } };
	json_t *jwks = keys ? json_loadb(keys, klen, 0, NULL) : NULL, *pl = NULL;
	char *t = malloc(tlen + 1);
	portail_status r = PORTAIL_ERR_REFUSED;

	if (t == NULL)
		goto out;
	memcpy(t, tok, tlen);
	t[tlen] = '\0';
	/* a seed may hold a key set and a token it signed: then the identity is checked too */
	if ((r = pt_idtoken_verify(c, iss, jwks, t, nonce, 1700000000, id, &err)) == PORTAIL_OK)
		goto out;
	r = PORTAIL_ERR_REFUSED;
	if (pt_claims_answer(c, 200, tok, tlen, &pl, &err) == PORTAIL_OK)
		r = pt_claims_id_token(c, iss, pl, "n1", 1700000000, id, &err);
out:
	free(t);
	json_decref(jwks);
	json_decref(pl);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct portail_provider_config *c;
	struct portail_identity id = { 0 };
	portail_error err;
	json_t *first = NULL, *second = NULL, *uid = NULL;
	const char *body, *nul;
	size_t len1, len2;
	portail_status r = PORTAIL_ERR_REFUSED;

	if (size < 2)
		return 0;
	c = &kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	body = (const char *)data + 2;
	nul = memchr(body, '\0', size - 2);
	len1 = nul ? (size_t)(nul - body) : size - 2;
	len2 = nul ? size - 2 - len1 - 1 : 0;
	memset(&err, 0, sizeof(err));
	if (data[0] & 0x80) {
		r = id_tokens(c, data[1], body, len1, nul ? nul + 1 : NULL, len2, &id);
		goto check;
	}
	if (pt_claims_answer(c, statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))], body,
	    len1, &first, &err) != PORTAIL_OK || first == NULL)
		goto out;
	if (nul != NULL && pt_claims_answer(c, 200, nul + 1, len2, &second, &err) != PORTAIL_OK)
		goto out;
	if (strcmp(c->kind, "facebook") == 0) {
		if (pt_claims_facebook_debug(c, first, &uid, &err) == PORTAIL_OK && second != NULL)
			r = pt_claims_facebook_me(c, second, uid, &id, &err);
	} else {
		if (strcmp(c->kind, "google") == 0)
			(void)pt_claims_google_tokeninfo(c, first, &err);
		else
			(void)pt_claims_introspection(c, first, &err);
		/* the first body as userinfo too, then with the second */
		if (pt_claims_userinfo(c, NULL, first, &id, &err) == PORTAIL_OK)
			portail_identity_clear(&id);
		if (second != NULL)
			r = pt_claims_userinfo(c, first, second, &id, &err);
	}
check:
	if (r == PORTAIL_OK) {
		if (id.subject == NULL || id.subject[0] == '\0' || strcmp(id.provider, c->name) != 0)
			abort();
		for (const char *p = id.subject; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				abort();
		if (id.email != NULL && portail_email_check(id.email, NULL) != PORTAIL_OK)
			abort();
		if (id.vouched && (id.email == NULL || strcmp(c->kind, "facebook") == 0))
			abort();
	}
	portail_identity_clear(&id);
out:
	json_decref(first);
	json_decref(second);
	return 0;
}
