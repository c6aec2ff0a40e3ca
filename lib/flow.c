/* flow.c — the parent's flows; see flow.h. */
#include "flow.h"
#include "flow-int.h"
#include "decoy.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "email.h"

struct portail_flow {
	struct portail_flow_deps d;
	/* bounds concurrent argon2id runs: memory stays under n x memlimit */
	sem_t hashes;
	/* verified against when there is no account, so that an unknown
	 * address costs what a known one does */
	char dummy_hash[crypto_pwhash_STRBYTES];
	/* limits and codes of addresses not on file: nothing durable (decoy.h) */
	portail_decoy *decoy;
	/* passwords verified against an account's own hash (status) */
	atomic_uint_fast64_t verified;
};

uint64_t
portail_flow_verified(portail_flow *f)
{
	return f == NULL ? 0 : (uint64_t)atomic_load(&f->verified);
}

/*
 * The time this thread spent hashing or verifying passwords since the last
 * portail_flow_hash_us_take (the wait for a hashing slot not counted).
 */
static _Thread_local int64_t hash_us;
static _Thread_local struct timespec hash_t0;

static void
hash_enter(portail_flow *f)
{
	while (sem_wait(&f->hashes) != 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &hash_t0);
}

static void
hash_leave(portail_flow *f)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	hash_us += (int64_t)(t1.tv_sec - hash_t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - hash_t0.tv_nsec) / 1000;
	sem_post(&f->hashes);
}

int64_t
portail_flow_hash_us_take(void)
{
	int64_t us = hash_us;

	hash_us = 0;
	return us;
}

portail_status
portail_flow_new(const struct portail_flow_deps *deps, portail_flow **out, portail_error *err)
{
	portail_flow *f;
	unsigned char rnd[24];
	char pw[64];
	long n = deps->cfg->daemon.hash_concurrency;
	portail_status r;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	f->d = *deps;
	if (n <= 0 && (n = sysconf(_SC_NPROCESSORS_ONLN)) <= 0)
		n = 1;
	if (sem_init(&f->hashes, 0, (unsigned)n) != 0) {
		free(f);
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "cannot make the semaphore of %ld concurrent hashes", n);
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
	r = portail_password_hash(&deps->cfg->password, pw, f->dummy_hash, err);
	sodium_memzero(pw, sizeof(pw));
	if (r == PORTAIL_OK)
		r = portail_decoy_new(&f->decoy, NULL, err);
	if (r != PORTAIL_OK) {
		sem_destroy(&f->hashes);
		free(f);
		return r;
	}
	*out = f;
	return PORTAIL_OK;
}

void
portail_flow_free(portail_flow *f)
{
	if (f == NULL)
		return;
	sem_destroy(&f->hashes);
	portail_decoy_free(f->decoy);
	free(f);
}

static bool
purpose_ok(const char *p)
{
	return p != NULL && (strcmp(p, "signup") == 0 || strcmp(p, "reset") == 0);
}

portail_status
portail_flow_code_request(portail_flow *f, const char *email, const char *purpose,
    const char *lang, int64_t now, int *wait, bool *sent, portail_error *err)
{
	const portail_config *cfg = f->d.cfg;
	struct portail_code_rules rules = { cfg->codes.lifetime, cfg->codes.max_attempts,
		cfg->codes.resend_interval, cfg->codes.max_per_day };
	struct portail_account acct = { 0 };
	portail_gpi_result *g = NULL;
	unsigned char hash[PORTAIL_HASH_BYTES];
	char code[PORTAIL_CODE_MAX + 1], *key = NULL;
	enum { NOTHING, CODE, EXISTS_NOTICE } action = NOTHING;
	/* where the code or notice goes: an address on record, never the
	 * spelling typed (DESIGN §2); the typed one only when nothing is sent */
	const char *to = email;
	struct portail_mail_row row = { 0 };
	enum portail_mail_kind kind;
	bool has_account, stored;
	portail_status r;

	if (sent != NULL)
		*sent = false;
	if (!purpose_ok(purpose))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "unknown purpose");
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	r = portail_store_account_get(f->d.store, key, &acct, err);
	if (r != PORTAIL_OK && r != PORTAIL_ERR_UNKNOWN)
		goto out;
	has_account = r == PORTAIL_OK;
	if (strcmp(purpose, "signup") == 0) {
		/* the directory is asked for every address, known or not */
		if ((r = portail_gpi_lookup(f->d.gpi, email, &g, err)) != PORTAIL_OK)
			goto out;
		if (has_account) {
			action = EXISTS_NOTICE;
			to = acct.email;
		} else if (g->known && g->email != NULL) {
			action = CODE;
			to = g->email;          /* the GPI record's value */
		}
	} else if (has_account) {
		/* a locked account may reset: that is how it unlocks */
		action = CODE;
		to = acct.email;
	}
	portail_code_generate(&cfg->codes, code);
	portail_code_hash(f->d.key, key, purpose, code, hash);
	if (action == NOTHING) {
		/* nothing on file: the limits and a decoy code in memory, nothing
		 * durable (issue 13), answered as for an address on file */
		r = portail_decoy_issue(f->decoy, key, purpose, now, &rules, true, true, wait, err);
		goto out;
	}
	/* the table's answer first, so that a full table treats every address alike */
	r = portail_decoy_issue(f->decoy, key, purpose, now, &rules, false, false, wait, err);
	if (r != PORTAIL_OK)
		goto out;
	kind = action == EXISTS_NOTICE ? PORTAIL_MAIL_ACCOUNT_EXISTS :
	    strcmp(purpose, "signup") == 0 ? PORTAIL_MAIL_CODE_SIGNUP : PORTAIL_MAIL_CODE_RESET;
	/* the mail, queued in the store in the code's own transaction: no code
	 * counted against the limits without its mail (issue 13) */
	stored = f->d.mailq != NULL && portail_mailq_stored(f->d.mailq);
	if (stored && (r = portail_mailq_row(f->d.mailq, kind, lang, to,
	    action == CODE ? code : NULL, now, now + cfg->codes.lifetime, &row, err)) != PORTAIL_OK)
		goto out;
	r = portail_store_code_issue(f->d.store, key, to, purpose, hash, now, &rules,
	    stored ? &row : NULL, wait, err);
	if (r != PORTAIL_OK)
		goto out;
	(void)portail_decoy_issue(f->decoy, key, purpose, now, &rules, true, false, wait, NULL);
	if (sent != NULL)
		*sent = true;
	if (stored)
		portail_mailq_kick(f->d.mailq);
	else if (f->d.mailq != NULL)
		/* a failed send loses nothing: the code stands, a new one may be asked */
		r = portail_mailq_send(f->d.mailq, kind, lang, to,
		    action == CODE ? code : NULL, now + cfg->codes.lifetime, err);
out:
	portail_mail_row_clear(&row);
	sodium_memzero(code, sizeof(code));
	sodium_memzero(hash, sizeof(hash));
	portail_account_clear(&acct);
	portail_gpi_result_free(g);
	free(key);
	return r;
}

portail_status
portail_flow_code_verify(portail_flow *f, const char *email, const char *purpose,
    const char *code, int64_t now, char *ticket, int *tries_left, portail_error *err)
{
	unsigned char chash[PORTAIL_HASH_BYTES], thash[PORTAIL_HASH_BYTES];
	char norm[PORTAIL_CODE_MAX + 1], t[PORTAIL_TICKET_LEN + 1], *key = NULL;
	portail_status r;

	if (!purpose_ok(purpose))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "unknown purpose");
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if (portail_code_normalize(&f->d.cfg->codes, code, norm) != PORTAIL_OK) {
		free(key);
		return portail_error_set(err, PORTAIL_ERR_INVALID, "not shaped like a code");
	}
	portail_code_hash(f->d.key, key, purpose, norm, chash);
	portail_ticket_generate(f->d.key, t, thash);
	r = portail_store_code_verify(f->d.store, key, purpose, chash, thash, now,
	    PORTAIL_TICKET_LIFETIME, tries_left, err);
	if (r == PORTAIL_ERR_NO_CODE)   /* none on file: a decoy code answers like a wrong one */
		r = portail_decoy_verify(f->decoy, key, purpose, now, tries_left);
	if (r == PORTAIL_OK)
		memcpy(ticket, t, sizeof(t));
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(chash, sizeof(chash));
	free(key);
	return r;
}

/* Checks the new password and hashes it (bounded by the semaphore). */
static portail_status
new_password_hash(portail_flow *f, const char *email, const char *password,
    const char *confirmation, enum portail_policy_reason *reason, char *hash,
    portail_error *err)
{
	char *nfc = NULL;
	portail_status r;

	r = portail_password_check(&f->d.cfg->password, email, password, confirmation, reason,
	    &nfc, err);
	if (r != PORTAIL_OK)
		return r;
	hash_enter(f);
	r = portail_password_hash(&f->d.cfg->password, nfc, hash, err);
	hash_leave(f);
	portail_password_free(nfc);
	return r;
}

static portail_status
finish(portail_flow *f, bool signup, const char *ticket, const char *password,
    const char *confirmation, const char *lang, int64_t now,
    enum portail_policy_reason *reason, char **email_out, portail_error *err)
{
	const char *purpose = signup ? "signup" : "reset";
	unsigned char thash[PORTAIL_HASH_BYTES];
	char hash[crypto_pwhash_STRBYTES] = "", *key = NULL, *email = NULL;
	struct portail_account a = { 0 };
	portail_gpi_result *g = NULL;
	bool notify = true;
	portail_status r;

	*reason = PORTAIL_POLICY_OK;
	if (portail_ticket_hash(f->d.key, ticket, thash) != PORTAIL_OK)
		return PORTAIL_ERR_BAD_TICKET;
	r = portail_store_ticket_peek(f->d.store, thash, purpose, now, &key, &email, err);
	if (r != PORTAIL_OK)
		goto out;
	if (signup) {
		/* the children may have left since the code was sent */
		if ((r = portail_gpi_lookup(f->d.gpi, email, &g, err)) != PORTAIL_OK)
			goto out;
		if (!g->known) {
			r = PORTAIL_ERR_UNKNOWN;
			goto out;
		}
	}
	r = new_password_hash(f, email, password, confirmation, reason, hash, err);
	if (r != PORTAIL_OK)
		goto out;
	r = signup ? portail_store_signup_finish(f->d.store, thash, now, hash, err) :
	    portail_store_reset_finish(f->d.store, thash, now, hash, err);
	if (r != PORTAIL_OK)
		goto out;
	/*
	 * The notice goes to the address on record: the account's as stored
	 * (a reset), the one the code was mailed to (a sign-up: the GPI
	 * record's) — not what a verification of an older portail may hold.
	 */
	if (portail_store_account_get(f->d.store, key, &a, NULL) == PORTAIL_OK) {
		free(email);
		email = a.email;
		a.email = NULL;
	} else if (!signup) {
		notify = false;         /* no account read back: no address on record */
	}
	if (f->d.mailq != NULL && notify)
		(void)portail_mailq_send(f->d.mailq, signup ? PORTAIL_MAIL_ACCOUNT_CREATED :
		    PORTAIL_MAIL_PASSWORD_CHANGED, lang, email, NULL, now + 86400, NULL);
	*email_out = email;
	email = NULL;
out:
	sodium_memzero(hash, sizeof(hash));
	portail_account_clear(&a);
	portail_gpi_result_free(g);
	free(key);
	free(email);
	return r;
}

portail_status
portail_flow_signup_finish(portail_flow *f, const char *ticket, const char *password,
    const char *confirmation, const char *lang, int64_t now, enum portail_policy_reason *reason,
    char **email, portail_error *err)
{
	return finish(f, true, ticket, password, confirmation, lang, now, reason, email, err);
}

portail_status
portail_flow_reset_finish(portail_flow *f, const char *ticket, const char *password,
    const char *confirmation, const char *lang, int64_t now, enum portail_policy_reason *reason,
    char **email, portail_error *err)
{
	return finish(f, false, ticket, password, confirmation, lang, now, reason, email, err);
}

portail_status
portail_flow_auth_password(portail_flow *f, const char *email, const char *password,
    int64_t now, int64_t *retry_after, portail_error *err)
{
	const struct portail_password_config *pc = &f->d.cfg->password;
	struct portail_lockout lock = { pc->max_failures, pc->lockout, pc->lockout_max };
	struct portail_account a = { 0 };
	char *key = NULL, new_hash[crypto_pwhash_STRBYTES];
	int64_t reserved_lock = 0;
	bool good, reserved = false;
	int v;
	portail_status r;

	if (portail_email_key(email, &key, NULL) != PORTAIL_OK) {
		/* malformed: no account can have it; same cost as any other */
		hash_enter(f);
		(void)portail_password_verify(f->dummy_hash, password);
		hash_leave(f);
		return PORTAIL_ERR_UNKNOWN;
	}
	r = portail_store_account_get(f->d.store, key, &a, err);
	if (r != PORTAIL_OK && r != PORTAIL_ERR_UNKNOWN)
		goto out;
	if (r == PORTAIL_OK && a.locked_until <= now) {
		/*
		 * the attempt is counted before the hash is checked (a guarded
		 * statement in the store): forty concurrent guesses verify at
		 * most max_failures passwords before the lock, not all forty
		 */
		r = portail_store_auth_reserve(f->d.store, key, now, a.failures, &lock,
		    &reserved_lock, &a.locked_until, err);
		if (r == PORTAIL_OK)
			reserved = true;
		else if (r != PORTAIL_ERR_LOCKED && r != PORTAIL_ERR_UNKNOWN)
			goto out;
	}
	if (r == PORTAIL_ERR_LOCKED || (r == PORTAIL_OK && a.locked_until > now && !reserved)) {
		/*
		 * no guessing while locked: the password is not verified, but
		 * the dummy hash is, so that a locked account costs what any
		 * other refusal costs (an unprivileged peer is told "refused")
		 */
		hash_enter(f);
		(void)portail_password_verify(f->dummy_hash, password);
		hash_leave(f);
		*retry_after = a.locked_until > now ? a.locked_until - now : 1;
		r = PORTAIL_ERR_LOCKED;
		goto out;
	}
	hash_enter(f);
	if (reserved && a.password_hash != NULL)
		atomic_fetch_add(&f->verified, 1);
	v = portail_password_verify(reserved && a.password_hash ? a.password_hash :
	    f->dummy_hash, password);
	hash_leave(f);
	good = v >= 0;
	if (!reserved) {
		/* no account (or deleted meanwhile): the same cost, nothing kept */
		r = PORTAIL_ERR_UNKNOWN;
		goto out;
	}
	if (!good || a.password_hash == NULL) {
		/* the failure, and its lock, were counted by the reservation */
		reserved = false;
		r = PORTAIL_ERR_REFUSED;
		goto out;
	}
	if (a.state == PORTAIL_ACCOUNT_DISABLED) {
		r = PORTAIL_ERR_DISABLED;
		goto out;
	}
	reserved = false;       /* from here the sign-in converts or the error gives back */
	/* parameters changed since this hash was made, or it was not of
	 * the NFC form (v == 1): make it again (portail_password_hash: NFC) */
	if (v == 1 || portail_password_needs_rehash(pc, a.password_hash)) {
		hash_enter(f);
		r = portail_password_hash(pc, password, new_hash, err);
		hash_leave(f);
		if (r != PORTAIL_OK) {
			(void)portail_store_auth_release(f->d.store, key, reserved_lock, NULL);
			goto out;
		}
		r = portail_store_auth_succeeded(f->d.store, key, now, new_hash, err);
		sodium_memzero(new_hash, sizeof(new_hash));
	} else {
		r = portail_store_auth_succeeded(f->d.store, key, now, NULL, err);
	}
out:
	/* a right password that does not sign in (disabled) gives it back */
	if (reserved)
		(void)portail_store_auth_release(f->d.store, key, reserved_lock, NULL);
	portail_account_clear(&a);
	free(key);
	return r;
}

portail_status
portail_flow_change_password(portail_flow *f, const char *email, const char *old_password,
    const char *password, const char *confirmation, const char *lang, int64_t now,
    enum portail_policy_reason *reason, int64_t *retry_after, portail_error *err)
{
	char hash[crypto_pwhash_STRBYTES] = "", *key = NULL;
	struct portail_account a = { 0 };
	portail_status r;

	*reason = PORTAIL_POLICY_OK;
	r = portail_flow_auth_password(f, email, old_password, now, retry_after, err);
	if (r != PORTAIL_OK)
		return r;
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if ((r = portail_store_account_get(f->d.store, key, &a, err)) != PORTAIL_OK)
		goto out;
	r = new_password_hash(f, a.email, password, confirmation, reason, hash, err);
	if (r != PORTAIL_OK)
		goto out;
	if ((r = portail_store_password_set(f->d.store, key, hash, now, err)) != PORTAIL_OK)
		goto out;
	if (f->d.mailq != NULL)
		(void)portail_mailq_send(f->d.mailq, PORTAIL_MAIL_PASSWORD_CHANGED, lang, a.email,
		    NULL, now + 86400, NULL);
out:
	sodium_memzero(hash, sizeof(hash));
	portail_account_clear(&a);
	free(key);
	return r;
}

/*
 * The access check for account a (key its address's key): enabled, and
 * still on a child's record in a subscribed school. With cache, a
 * positive check younger than [gpi] cache_timeout is reused (tokens);
 * with the directory down, one younger than [gpi] grace counts (*grace).
 */
static portail_status
access_check(portail_flow *f, const char *key, const struct portail_account *a, bool cache,
    int64_t now, bool *grace, portail_error *err)
{
	const struct portail_gpi_config *gc = &f->d.cfg->gpi;
	portail_gpi_result *g = NULL;
	portail_status r;

	*grace = false;
	if (a->state == PORTAIL_ACCOUNT_DISABLED)
		return PORTAIL_ERR_DISABLED;
	if (cache && gc->cache_timeout > 0 && a->gpi_checked > 0 && a->gpi_checked <= now &&
	    now - a->gpi_checked < gc->cache_timeout)
		return PORTAIL_OK;
	r = portail_gpi_lookup(f->d.gpi, a->email, &g, err);
	if (r == PORTAIL_OK && g->known) {
		/* recorded every [gpi] record_interval: not a store write on every sign-in */
		if (now - a->gpi_checked >= gc->record_interval || a->gpi_checked > now)
			r = portail_store_account_checked(f->d.store, key, now, err);
	} else if (r == PORTAIL_OK) {
		/* no child left: neither the cache nor the grace may let it in now */
		if (a->gpi_checked != 0)
			r = portail_store_account_checked(f->d.store, key, 0, err);
		if (r == PORTAIL_OK)
			r = PORTAIL_ERR_EXPIRED;
	} else if (r == PORTAIL_ERR_UNAVAILABLE || r == PORTAIL_ERR_BUSY || r == PORTAIL_ERR_CONFIG) {
		/* the directory is down or full: a recent positive check still counts */
		if (gc->grace > 0 && a->gpi_checked > 0 && now - a->gpi_checked <= gc->grace) {
			*grace = true;
			r = PORTAIL_OK;
		} else if (r != PORTAIL_ERR_BUSY) {
			r = PORTAIL_ERR_UNAVAILABLE;
		}
	}
	portail_gpi_result_free(g);
	return r;
}

portail_status
portail_flow_account_check(portail_flow *f, const char *email, int64_t now, bool *grace,
    portail_error *err)
{
	struct portail_account a = { 0 };
	char *key = NULL;
	portail_status r;

	*grace = false;
	if (portail_email_key(email, &key, NULL) != PORTAIL_OK)
		return PORTAIL_ERR_UNKNOWN;
	if ((r = portail_store_account_get(f->d.store, key, &a, err)) == PORTAIL_OK)
		r = access_check(f, key, &a, false, now, grace, err);
	portail_account_clear(&a);
	free(key);
	return r;
}

/* ---- tokens ---------------------------------------------------------------------- */

portail_status
portail_flow_token_issue(portail_flow *f, const char *email, const char *label, int64_t now,
    char *token, int64_t *id, portail_error *err)
{
	const portail_config *cfg = f->d.cfg;
	struct portail_account a = { 0 };
	unsigned char hash[PORTAIL_HASH_BYTES];
	char t[PORTAIL_TOKEN_LEN + 1], *key = NULL;
	int64_t expires = now + cfg->token_lifetime;
	portail_status r;

	if (label == NULL || *label == '\0' || strlen(label) > 64)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "a label of 1 to 64 characters");
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if ((r = portail_store_account_get(f->d.store, key, &a, err)) != PORTAIL_OK)
		goto out;
	if (a.state == PORTAIL_ACCOUNT_DISABLED) {
		r = PORTAIL_ERR_DISABLED;
		goto out;
	}
	if (expires > now + cfg->token_max_age)
		expires = now + cfg->token_max_age;
	portail_token_generate(f->d.key, t, hash);
	r = portail_store_token_add(f->d.store, key, hash, label, now, expires,
	    cfg->token_max_per_account, id, err);
	if (r == PORTAIL_OK)
		memcpy(token, t, sizeof(t));
out:
	sodium_memzero(t, sizeof(t));
	portail_account_clear(&a);
	free(key);
	return r;
}

/* The least move of a token's sliding expiry worth a write. */
static int64_t
touch_step(const portail_config *cfg)
{
	int64_t step = cfg->token_lifetime / 10;

	return step > 60 ? 60 : step < 1 ? 1 : step;
}

portail_status
portail_flow_token_verify(portail_flow *f, const char *token, const char *email, int64_t now,
    char **account_email, int64_t *expires_out, portail_error *err)
{
	const portail_config *cfg = f->d.cfg;
	struct portail_token t = { 0 };
	struct portail_account a = { 0 };
	unsigned char hash[PORTAIL_HASH_BYTES];
	char *want = NULL;
	bool grace = false;
	portail_status r;
	int64_t expires;

	if (portail_token_hash(f->d.key, token, hash) != PORTAIL_OK)
		return PORTAIL_ERR_REFUSED;
	if ((r = portail_store_token_find(f->d.store, hash, &t, &a, err)) != PORTAIL_OK)
		return r;
	if (email != NULL && (portail_email_key(email, &want, NULL) != PORTAIL_OK ||
	    strcmp(want, t.email_key) != 0)) {
		r = PORTAIL_ERR_REFUSED;        /* another parent's token */
		goto out;
	}
	if (t.epoch != a.token_epoch || t.expires <= now) {
		r = PORTAIL_ERR_REFUSED;        /* revoked or expired */
		goto out;
	}
	if ((r = access_check(f, t.email_key, &a, true, now, &grace, err)) != PORTAIL_OK)
		goto out;
	/*
	 * Sliding expiry, capped by the maximum age. Written only when it
	 * moved by a step (a minute, less for short lifetimes): a mail client
	 * polling every few seconds would otherwise make every check a write.
	 */
	expires = now + cfg->token_lifetime;
	if (expires > t.created + cfg->token_max_age)
		expires = t.created + cfg->token_max_age;
	if (expires - t.expires >= touch_step(cfg)) {
		if ((r = portail_store_token_touch(f->d.store, t.id, now, expires, err)) != PORTAIL_OK)
			goto out;
	} else {
		expires = t.expires;    /* not moved: the stored one holds */
	}
	if ((*account_email = strdup(a.email)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (expires_out != NULL)
		*expires_out = expires;
out:
	sodium_memzero(hash, sizeof(hash));
	portail_token_clear(&t);
	portail_account_clear(&a);
	free(want);
	return r;
}

/* ---- social accounts ------------------------------------------------------------- */

void
portail_social_result_clear(struct portail_social_result *r)
{
	if (r == NULL)
		return;
	free(r->email);
	free(r->provider_email);
	free(r->provider);
	free(r->subject);
	sodium_memzero(r, sizeof(*r));
}

/* The purpose a link code is hashed under: bound to its link ticket. */
static void
link_purpose(const unsigned char lt_hash[PORTAIL_HASH_BYTES], char *out, size_t size)
{
	char hex[2 * PORTAIL_HASH_BYTES + 1];

	sodium_bin2hex(hex, sizeof(hex), lt_hash, PORTAIL_HASH_BYTES);
	snprintf(out, size, "link:%s", hex);
}

/* After a sign-in or a link: a token when the caller asked for one (label). */
static portail_status
social_token(portail_flow *f, const char *email, const char *label, int64_t now,
    struct portail_social_result *out, portail_error *err)
{
	if (label == NULL)
		return PORTAIL_OK;
	return portail_flow_token_issue(f, email, label, now, out->token, &out->token_id, err);
}

const struct portail_flow_deps *
pt_flow_deps(const portail_flow *f)
{
	return &f->d;
}

/*
 * An identity the provider vouched for, into the social flow: signed in
 * when linked (the access check), else a link ticket. out->provider_us
 * is kept; on failure out is cleared but for it.
 */
portail_status
pt_flow_social_enter(portail_flow *f, const struct portail_identity *id, const char *label,
    int64_t now, struct portail_social_result *out, portail_error *err)
{
	struct portail_account a = { 0 };
	unsigned char lt_hash[PORTAIL_HASH_BYTES];
	char *key = NULL;
	int64_t last_used = 0;
	bool grace = false;
	portail_status r;

	if ((out->provider = strdup(id->provider)) == NULL ||
	    (out->subject = strdup(id->subject)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = portail_store_link_find(f->d.store, id->provider, id->subject, &key, &last_used, err);
	if (r == PORTAIL_OK) {
		/* linked: the sign-in's access check, never from the cache */
		if ((r = portail_store_account_get(f->d.store, key, &a, err)) != PORTAIL_OK ||
		    (r = access_check(f, key, &a, false, now, &grace, err)) != PORTAIL_OK)
			goto out;
		/* last used to the minute: no write on every sign-in */
		if (now - last_used >= 60)
			(void)portail_store_link_used(f->d.store, id->provider, id->subject, now, NULL);
		if ((out->email = strdup(a.email)) == NULL) {
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			goto out;
		}
		out->state = PORTAIL_SOCIAL_SIGNED_IN;
		r = social_token(f, a.email, label, now, out, err);
		goto out;
	}
	if (r != PORTAIL_ERR_UNKNOWN)
		goto out;
	portail_ticket_generate(f->d.key, out->link_ticket, lt_hash);
	r = portail_store_link_ticket_add(f->d.store, lt_hash, id, now,
	    now + PORTAIL_TICKET_LIFETIME, err);
	if (r != PORTAIL_OK)
		goto out;
	out->state = PORTAIL_SOCIAL_LINK;
	out->provider_vouched = id->vouched && id->email != NULL;
	if (id->email != NULL && (out->provider_email = strdup(id->email)) == NULL)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
out:
	if (r != PORTAIL_OK) {
		int64_t us = out->provider_us;

		portail_social_result_clear(out);
		out->provider_us = us;
	}
	sodium_memzero(lt_hash, sizeof(lt_hash));
	portail_account_clear(&a);
	free(key);
	return r;
}

/* social.begin with either an access token, or an ID token and its nonce (the other NULL). */
static portail_status
social_begin(portail_flow *f, const char *provider, const char *access_token,
    const char *id_token, const char *nonce, const char *label, int64_t now,
    struct portail_social_result *out, portail_error *err)
{
	struct portail_identity id = { 0 };
	struct timespec t0, t1;
	portail_status r;

	memset(out, 0, sizeof(*out));
	if (f->d.providers == NULL || !portail_providers_has(f->d.providers, provider))
		return portail_error_set(err, PORTAIL_ERR_UNKNOWN, "no provider named %s",
		    provider ? provider : "-");
	if (label != NULL && (*label == '\0' || strlen(label) > 64))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "a label of 1 to 64 characters");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (id_token != NULL)
		r = portail_providers_identify_id_token(f->d.providers, provider, id_token, nonce,
		    now, &id, err);
	else
		r = portail_providers_identify(f->d.providers, provider, access_token, &id, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->provider_us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (r == PORTAIL_OK)
		r = pt_flow_social_enter(f, &id, label, now, out, err);
	portail_identity_clear(&id);
	return r;
}

portail_status
portail_flow_social_begin(portail_flow *f, const char *provider, const char *access_token,
    const char *label, int64_t now, struct portail_social_result *out, portail_error *err)
{
	return social_begin(f, provider, access_token, NULL, NULL, label, now, out, err);
}

portail_status
portail_flow_social_begin_id_token(portail_flow *f, const char *provider, const char *id_token,
    const char *nonce, const char *label, int64_t now, struct portail_social_result *out,
    portail_error *err)
{
	if (id_token == NULL || nonce == NULL) {
		memset(out, 0, sizeof(*out));
		return portail_error_set(err, PORTAIL_ERR_INVALID, "an ID token and its nonce");
	}
	return social_begin(f, provider, NULL, id_token, nonce, label, now, out, err);
}

static portail_status
link_made(portail_flow *f, portail_status r, bool created, char *email, const char *provider,
    const char *label, const char *lang, int64_t now, struct portail_social_result *out,
    portail_error *err)
{
	if (r == PORTAIL_ERR_EXISTS)
		return portail_error_set(err, r, "this account of the provider is linked already, "
		    "or the parent's account is linked with another one from the same provider");
	if (r != PORTAIL_OK)
		return r;
	out->state = PORTAIL_SOCIAL_LINKED;
	out->created = created;
	out->email = email;
	if ((out->provider = strdup(provider)) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if (created && f->d.mailq != NULL)
		(void)portail_mailq_send(f->d.mailq, PORTAIL_MAIL_ACCOUNT_CREATED, lang, email, NULL,
		    now + 86400, NULL);
	return social_token(f, email, label, now, out, err);
}

portail_status
portail_flow_social_link(portail_flow *f, const char *link_ticket, const char *email,
    const char *lang, const char *label, int64_t now, struct portail_social_result *out,
    int *wait, portail_error *err)
{
	const portail_config *cfg = f->d.cfg;
	struct portail_code_rules rules = { cfg->codes.lifetime, cfg->codes.max_attempts,
		cfg->codes.resend_interval, cfg->codes.max_per_day };
	struct portail_link_ticket lt = { 0 };
	portail_gpi_result *g = NULL;
	unsigned char lt_hash[PORTAIL_HASH_BYTES], chash[PORTAIL_HASH_BYTES];
	char code[PORTAIL_CODE_MAX + 1] = "", purpose[8 + 2 * PORTAIL_HASH_BYTES];
	char *key = NULL, *pkey = NULL, *linked = NULL;
	struct portail_mail_row row = { 0 };
	bool created = false, stored;
	portail_status r;

	memset(out, 0, sizeof(*out));
	if (portail_ticket_hash(f->d.key, link_ticket, lt_hash) != PORTAIL_OK)
		return portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "unknown or expired link ticket");
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if ((r = portail_store_link_ticket_get(f->d.store, lt_hash, now, &lt, err)) != PORTAIL_OK)
		goto out;
	/* the directory is asked for every address, on file or not */
	if ((r = portail_gpi_lookup(f->d.gpi, email, &g, err)) != PORTAIL_OK)
		goto out;
	/* the ticket (and the account it may create) holds the address on record */
	if (g->known && g->email != NULL)
		email = g->email;
	if ((r = portail_store_link_ticket_address(f->d.store, lt_hash, key, email, err)) != PORTAIL_OK)
		goto out;
	if (lt.id.vouched && lt.id.email != NULL &&
	    portail_email_key(lt.id.email, &pkey, NULL) == PORTAIL_OK && strcmp(pkey, key) == 0 &&
	    g->known) {
		/* the provider vouches for exactly this address: linked at once */
		r = portail_store_link_finish(f->d.store, lt_hash, NULL, now, &created, &linked, err);
		r = link_made(f, r, created, linked, lt.id.provider, label, lang, now, out, err);
		goto out;
	}
	link_purpose(lt_hash, purpose, sizeof(purpose));
	portail_code_generate(&cfg->codes, code);
	portail_code_hash(f->d.key, key, purpose, code, chash);
	if (!g->known) {
		/*
		 * No child in a subscribed school: as for code.request, the limits
		 * and a decoy code in memory, nothing durable (issue 13), the same
		 * answer as for an address on file. The ticket holds the address
		 * (above), so that the code.verify that follows reaches the decoy.
		 */
		r = portail_decoy_issue(f->decoy, key, "link", now, &rules, true, true, wait, err);
		if (r == PORTAIL_OK)
			out->state = PORTAIL_SOCIAL_CODE_SENT;
		goto out;
	}
	/* the table's answer first, so that a full table treats every address alike */
	if ((r = portail_decoy_issue(f->decoy, key, "link", now, &rules, false, false, wait,
	    err)) != PORTAIL_OK)
		goto out;
	stored = f->d.mailq != NULL && portail_mailq_stored(f->d.mailq);
	if (stored && (r = portail_mailq_row(f->d.mailq, PORTAIL_MAIL_CODE_LINK, lang, email, code,
	    now, now + cfg->codes.lifetime, &row, err)) != PORTAIL_OK)
		goto out;
	r = portail_store_code_issue(f->d.store, key, email, "link", chash, now, &rules,
	    stored ? &row : NULL, wait, err);
	if (r != PORTAIL_OK)
		goto out;
	(void)portail_decoy_issue(f->decoy, key, "link", now, &rules, true, false, wait, NULL);
	out->state = PORTAIL_SOCIAL_CODE_SENT;
	out->mailed = f->d.mailq != NULL;
	if (stored)
		portail_mailq_kick(f->d.mailq);
	else if (f->d.mailq != NULL)
		r = portail_mailq_send(f->d.mailq, PORTAIL_MAIL_CODE_LINK, lang, email, code,
		    now + cfg->codes.lifetime, err);
out:
	portail_mail_row_clear(&row);
	sodium_memzero(code, sizeof(code));
	sodium_memzero(chash, sizeof(chash));
	sodium_memzero(lt_hash, sizeof(lt_hash));
	if (r != PORTAIL_OK)
		portail_social_result_clear(out);
	portail_link_ticket_clear(&lt);
	portail_gpi_result_free(g);
	free(key);
	free(pkey);
	return r;
}

portail_status
portail_flow_link_code_verify(portail_flow *f, const char *link_ticket, const char *email,
    const char *code, int64_t now, char *ticket, int *tries_left, portail_error *err)
{
	struct portail_link_ticket lt = { 0 };
	unsigned char lt_hash[PORTAIL_HASH_BYTES], chash[PORTAIL_HASH_BYTES], thash[PORTAIL_HASH_BYTES];
	char norm[PORTAIL_CODE_MAX + 1], t[PORTAIL_TICKET_LEN + 1];
	char purpose[8 + 2 * PORTAIL_HASH_BYTES], *key = NULL;
	portail_status r;

	if (link_ticket == NULL || portail_ticket_hash(f->d.key, link_ticket, lt_hash) != PORTAIL_OK)
		return portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "unknown or expired link ticket");
	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		goto out;
	if (portail_code_normalize(&f->d.cfg->codes, code, norm) != PORTAIL_OK) {
		r = portail_error_set(err, PORTAIL_ERR_INVALID, "not shaped like a code");
		goto out;
	}
	if ((r = portail_store_link_ticket_get(f->d.store, lt_hash, now, &lt, err)) != PORTAIL_OK)
		goto out;
	if (lt.email_key == NULL || strcmp(lt.email_key, key) != 0) {
		r = portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "the code was not asked for this "
		    "address with this link ticket");
		goto out;
	}
	link_purpose(lt_hash, purpose, sizeof(purpose));
	portail_code_hash(f->d.key, key, purpose, norm, chash);
	portail_ticket_generate(f->d.key, t, thash);
	r = portail_store_code_verify(f->d.store, key, "link", chash, thash, now,
	    PORTAIL_TICKET_LIFETIME, tries_left, err);
	if (r == PORTAIL_ERR_NO_CODE)   /* none on file: a decoy code answers like a wrong one */
		r = portail_decoy_verify(f->decoy, key, "link", now, tries_left);
	if (r == PORTAIL_OK)
		r = portail_store_link_ticket_proof(f->d.store, lt_hash, key, thash, err);
	if (r == PORTAIL_OK)
		memcpy(ticket, t, sizeof(t));
out:
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(chash, sizeof(chash));
	sodium_memzero(thash, sizeof(thash));
	sodium_memzero(lt_hash, sizeof(lt_hash));
	portail_link_ticket_clear(&lt);
	free(key);
	return r;
}

portail_status
portail_flow_social_finish(portail_flow *f, const char *link_ticket, const char *ticket,
    const char *label, int64_t now, struct portail_social_result *out, portail_error *err)
{
	struct portail_link_ticket lt = { 0 };
	unsigned char lt_hash[PORTAIL_HASH_BYTES], thash[PORTAIL_HASH_BYTES];
	portail_gpi_result *g = NULL;
	char *linked = NULL;
	bool created = false;
	portail_status r;

	memset(out, 0, sizeof(*out));
	if (link_ticket == NULL || portail_ticket_hash(f->d.key, link_ticket, lt_hash) != PORTAIL_OK ||
	    ticket == NULL || portail_ticket_hash(f->d.key, ticket, thash) != PORTAIL_OK)
		return portail_error_set(err, PORTAIL_ERR_BAD_TICKET, "unknown or expired ticket");
	if ((r = portail_store_link_ticket_get(f->d.store, lt_hash, now, &lt, err)) != PORTAIL_OK)
		goto out;
	if (lt.email == NULL) {
		r = PORTAIL_ERR_BAD_TICKET;
		goto out;
	}
	/* the children may have left since the code was sent */
	if ((r = portail_gpi_lookup(f->d.gpi, lt.email, &g, err)) != PORTAIL_OK)
		goto out;
	if (!g->known) {
		r = PORTAIL_ERR_UNKNOWN;
		goto out;
	}
	r = portail_store_link_finish(f->d.store, lt_hash, thash, now, &created, &linked, err);
	r = link_made(f, r, created, linked, lt.id.provider, label, NULL, now, out, err);
out:
	if (r != PORTAIL_OK)
		portail_social_result_clear(out);
	sodium_memzero(lt_hash, sizeof(lt_hash));
	sodium_memzero(thash, sizeof(thash));
	portail_link_ticket_clear(&lt);
	portail_gpi_result_free(g);
	return r;
}

portail_status
portail_flow_social_unlink(portail_flow *f, const char *email, const char *provider,
    portail_error *err)
{
	char *key = NULL;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	r = portail_store_link_delete(f->d.store, key, provider, err);
	free(key);
	return r;
}
