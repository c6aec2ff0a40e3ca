/*
 * manage.c — an account's tokens and the admin's operations on accounts:
 * who may, and what each does in the store (see manage.h).
 */
#include "manage.h"

#include <stdlib.h>

#include "email.h"

portail_status
portail_manage_owner(portail_flow *f, const char *email, const char *password, bool admin,
    int64_t now, int64_t *retry_after, portail_error *err)
{
	if (password == NULL)
		return admin ? PORTAIL_OK :
		    portail_error_set(err, PORTAIL_ERR_FORBIDDEN, "the account's password is required");
	return portail_flow_auth_password(f, email, password, now, retry_after, err);
}

portail_status
portail_manage_token_list(portail_store *st, const char *email, int64_t now,
    struct portail_token **out, size_t *n, portail_error *err)
{
	struct portail_token *list = NULL;
	size_t count = 0;
	char *key = NULL;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		goto out;
	if ((r = portail_store_token_list(st, key, now, &list, &count, err)) != PORTAIL_OK)
		goto out;
	*out = list;
	*n = count;
out:
	free(key);
	return r;
}

portail_status
portail_manage_token_revoke(portail_store *st, const char *email, const int64_t *id,
    int64_t now, portail_error *err)
{
	char *key = NULL;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		goto out;
	r = id != NULL ? portail_store_token_delete(st, key, *id, err) :
	    portail_store_token_revoke_all(st, key, now, err);
out:
	free(key);
	return r;
}

static const char *const action_names[] = {
	[PORTAIL_MANAGE_SHOW] = "show",
	[PORTAIL_MANAGE_DISABLE] = "disable",
	[PORTAIL_MANAGE_ENABLE] = "enable",
	[PORTAIL_MANAGE_UNLOCK] = "unlock",
	[PORTAIL_MANAGE_DELETE] = "delete",
};

const char *
portail_manage_action_name(enum portail_manage_action a)
{
	if ((unsigned)a >= sizeof(action_names) / sizeof(action_names[0]))
		return NULL;
	return action_names[a];
}

portail_status
portail_manage_account_list(portail_store *st, struct portail_account **out, size_t *n,
    portail_error *err)
{
	return portail_store_account_list(st, out, n, err);
}

portail_status
portail_manage_account(portail_store *st, const char *email, enum portail_manage_action action,
    int64_t now, struct portail_account *out, char ***links, portail_error *err)
{
	struct portail_account a = { 0 };
	char *key = NULL, **v = NULL;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		goto out;
	switch (action) {
	case PORTAIL_MANAGE_SHOW:
		break;
	case PORTAIL_MANAGE_DISABLE:
		/* disabling ends every session: its tokens go in the same transaction */
		r = portail_store_account_disable_and_revoke(st, key, now, err);
		break;
	case PORTAIL_MANAGE_ENABLE:
		r = portail_store_account_set_state(st, key, PORTAIL_ACCOUNT_ENABLED, now, err);
		break;
	case PORTAIL_MANAGE_UNLOCK:
		r = portail_store_account_unlock(st, key, now, err);
		break;
	case PORTAIL_MANAGE_DELETE:
		r = portail_store_account_delete(st, key, err);
		goto out;
	default:
		r = portail_error_set(err, PORTAIL_ERR_INVALID, "unknown account action %d",
		    (int)action);
		goto out;
	}
	if (r != PORTAIL_OK)
		goto out;
	if ((r = portail_store_account_get(st, key, &a, err)) != PORTAIL_OK)
		goto out;
	/* the providers it is linked with, never a subject or a token */
	if (portail_store_link_list(st, a.email_key, &v, NULL) != PORTAIL_OK)
		v = NULL;
	*out = a;
	*links = v;
out:
	free(key);
	return r;
}

void
portail_manage_links_free(char **links)
{
	if (links == NULL)
		return;
	for (size_t i = 0; links[i] != NULL; i++)
		free(links[i]);
	free(links);
}

int64_t
portail_manage_locked_for(const struct portail_account *a, int64_t now)
{
	return a->locked_until > now ? a->locked_until - now : 0;
}

portail_status
portail_manage_gc(portail_store *st, atomic_llong *last, int64_t now, bool *ran,
    portail_error *err)
{
	long long then = atomic_load(last);
	bool due = now - then > PORTAIL_MANAGE_GC_INTERVAL &&
	    atomic_compare_exchange_strong(last, &then, now);

	if (ran != NULL)
		*ran = due;
	return due ? portail_store_gc(st, now, err) : PORTAIL_OK;
}
