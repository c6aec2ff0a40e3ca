/*
 * identity.h — who a social account's provider says a person is
 * (DESIGN §1), as portail keeps it once the provider's answer or ID
 * token was believed (claims.c, idtoken.c) and until it is linked or
 * signed in (flow.c, store.c). Apart from provider.h so that the rules
 * (claims.c) and the HTTP (provider.c) need only this, not each other.
 *
 * The identity key is (provider, subject), never the e-mail. vouched is
 * true only when the provider says it verified that e-mail, under
 * DESIGN's rules (provider.h).
 */
#ifndef PORTAIL_IDENTITY_H
#define PORTAIL_IDENTITY_H

#include <stdbool.h>

#include "portail.h"

/* Every string is owned by the identity (malloc'd); portail_identity_clear frees them. */
struct portail_identity {
	char *provider;         /* the NAME of [provider.NAME] */
	char *subject;          /* the provider's stable id for the person */
	char *email;            /* as the provider gave it; NULL when it gave none */
	bool vouched;           /* the provider verified that e-mail */
};

/* Frees the strings and zeroes *id, which can be filled again; NULL does nothing. */
void portail_identity_clear(struct portail_identity *id);

#endif
