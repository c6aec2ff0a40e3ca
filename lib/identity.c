/* identity.c — a provider's identity of a person; see identity.h. */
#include "identity.h"

#include <stdlib.h>
#include <string.h>

void
portail_identity_clear(struct portail_identity *id)
{
	if (id == NULL)
		return;
	free(id->provider);
	free(id->subject);
	free(id->email);
	memset(id, 0, sizeof(*id));
}
