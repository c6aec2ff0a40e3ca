/* password.c — the password policy and argon2id; see password.h. */
#include "password.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pwquality.h>
#include <sodium.h>
#include <unistr.h>
#include <uninorm.h>

#include "util.h"

/* cracklib, under libpwquality, keeps static state: one check at a time. */
static pthread_mutex_t pwq_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const policy_names[] = {
	[PORTAIL_POLICY_OK] = "ok",
	[PORTAIL_POLICY_TOO_SHORT] = "too_short",
	[PORTAIL_POLICY_TOO_LONG] = "too_long",
	[PORTAIL_POLICY_MISMATCH] = "mismatch",
	[PORTAIL_POLICY_NOT_TEXT] = "not_text",
	[PORTAIL_POLICY_DICTIONARY] = "dictionary",
	[PORTAIL_POLICY_SIMPLE] = "simple",
	[PORTAIL_POLICY_PERSONAL] = "personal",
};

const char *
portail_policy_reason_name(enum portail_policy_reason r)
{
	if ((unsigned)r >= sizeof(policy_names) / sizeof(policy_names[0]))
		return NULL;
	return policy_names[r];
}

const char *
portail_policy_message(enum portail_policy_reason r, bool en,
    const struct portail_password_config *c, char *buf, size_t len)
{
	switch (r) {
	case PORTAIL_POLICY_OK:
		snprintf(buf, len, "%s", "OK");
		break;
	case PORTAIL_POLICY_TOO_SHORT:
		snprintf(buf, len, en ? "The password must have at least %d characters." :
		    "Le mot de passe doit compter au moins %d caractères.", c->min_length);
		break;
	case PORTAIL_POLICY_TOO_LONG:
		snprintf(buf, len, en ? "The password must have at most %d characters." :
		    "Le mot de passe doit compter au plus %d caractères.", c->max_length);
		break;
	case PORTAIL_POLICY_MISMATCH:
		snprintf(buf, len, "%s", en ?
		    "The confirmation differs from the new password: type the same password twice." :
		    "La confirmation diffère du nouveau mot de passe : tapez deux fois le même mot de passe.");
		break;
	case PORTAIL_POLICY_NOT_TEXT:
		snprintf(buf, len, "%s", en ?
		    "The password contains characters that cannot be typed; choose another one." :
		    "Le mot de passe contient des caractères qui ne se tapent pas; choisissez-en un autre.");
		break;
	case PORTAIL_POLICY_DICTIONARY:
		snprintf(buf, len, "%s", en ?
		    "This password is a dictionary word or too common; a few unrelated words make a good one." :
		    "Ce mot de passe est un mot du dictionnaire ou trop courant; quelques mots sans lien entre eux en font un bon.");
		break;
	case PORTAIL_POLICY_SIMPLE:
		snprintf(buf, len, "%s", en ?
		    "This password is too simple (repetitions, sequences or a palindrome); choose a longer, less regular one." :
		    "Ce mot de passe est trop simple (répétitions, suites ou palindrome); choisissez-en un plus long et moins régulier.");
		break;
	case PORTAIL_POLICY_PERSONAL:
		snprintf(buf, len, "%s", en ?
		    "This password is built from your e-mail address; choose one that does not contain it." :
		    "Ce mot de passe est construit à partir de votre adresse courriel; choisissez-en un qui ne la contient pas.");
		break;
	}
	return buf;
}

/* NFC copy of s in guarded memory; NULL when s is not clean UTF-8 text. */
static char *
nfc_secret(const char *s, size_t *cps)
{
	size_t n = strlen(s), outlen = 0, cap;
	uint8_t *norm;
	char *out;

	if (u8_check((const uint8_t *)s, n) != NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return NULL;
	/*
	 * Into guarded memory of our own, large enough for any NFC form (at
	 * most three times the input): given no buffer, u8_normalize grows
	 * one with realloc and frees the old copies unwiped.
	 */
	cap = 3 * n + 16;
	if ((out = sodium_malloc(cap + 1)) == NULL)
		return NULL;
	outlen = cap;
	norm = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, (uint8_t *)out, &outlen);
	if (norm == NULL) {
		sodium_free(out);
		return NULL;
	}
	if (norm != (uint8_t *)out) {
		/* did not fit after all (cannot happen with 3n): copy, wipe, free */
		sodium_free(out);
		if ((out = sodium_malloc(outlen + 1)) != NULL)
			memcpy(out, norm, outlen);
		sodium_memzero(norm, outlen);
		free(norm);
		if (out == NULL)
			return NULL;
	}
	out[outlen] = '\0';
	*cps = u8_mbsnlen((const uint8_t *)out, outlen);
	return out;
}

void
portail_password_free(char *p)
{
	if (p != NULL)
		sodium_free(p);
}

/* ASCII case-insensitive substring search. */
static bool
contains_ci(const char *hay, const char *needle, size_t nlen)
{
	for (; *hay; hay++) {
		size_t i = 0;

		while (i < nlen && hay[i] && tolower((unsigned char)hay[i]) ==
		    tolower((unsigned char)needle[i]))
			i++;
		if (i == nlen)
			return true;
	}
	return false;
}

/*
 * libpwquality's user check wants the whole user string inside the
 * password (TESTING.md): "marie-eve.tremblay" lets "marie2026" pass. So
 * each part of the local part (split on . _ - +) of 4 characters or more,
 * and the local part itself, are looked for too.
 */
static bool
built_from_address(const char *pw, const char *local, size_t local_len)
{
	size_t start = 0;

	if (local_len >= 4 && contains_ci(pw, local, local_len))
		return true;
	for (size_t i = 0; i <= local_len; i++) {
		if (i == local_len || strchr("._-+", local[i]) != NULL) {
			if (i - start >= 4 && contains_ci(pw, local + start, i - start))
				return true;
			start = i + 1;
		}
	}
	return false;
}

portail_status
portail_password_check(const struct portail_password_config *c, const char *email,
    const char *password, const char *confirmation, enum portail_policy_reason *reason,
    char **nfc, portail_error *err)
{
	char *pw = NULL, *conf = NULL, *local = NULL;
	size_t pw_cps = 0, conf_cps = 0;
	const char *at = strchr(email, '@');
	pwquality_settings_t *pwq = NULL;
	void *aux = NULL;
	portail_status r = PORTAIL_ERR_POLICY;
	int score;

	*reason = PORTAIL_POLICY_OK;
	if ((pw = nfc_secret(password, &pw_cps)) == NULL) {
		*reason = PORTAIL_POLICY_NOT_TEXT;
		goto out;
	}
	if (confirmation != NULL) {
		conf = nfc_secret(confirmation, &conf_cps);
		if (conf == NULL || strlen(conf) != strlen(pw) ||
		    sodium_memcmp(conf, pw, strlen(pw)) != 0) {
			*reason = PORTAIL_POLICY_MISMATCH;
			r = PORTAIL_ERR_MISMATCH;
			goto out;
		}
	}
	if (pw_cps < (size_t)c->min_length) {
		*reason = PORTAIL_POLICY_TOO_SHORT;
		goto out;
	}
	if (pw_cps > (size_t)c->max_length) {
		*reason = PORTAIL_POLICY_TOO_LONG;
		goto out;
	}
	local = strndup(email, at ? (size_t)(at - email) : strlen(email));
	if (local == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (built_from_address(pw, local, strlen(local))) {
		*reason = PORTAIL_POLICY_PERSONAL;
		goto out;
	}
	if ((pwq = pwquality_default_settings()) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* our own length rule governs; pwquality judges words and patterns */
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_LENGTH, 6);
	pwquality_set_int_value(pwq, PWQ_SETTING_DICT_CHECK, 1);
	pwquality_set_int_value(pwq, PWQ_SETTING_USER_CHECK, 1);
	pwquality_set_int_value(pwq, PWQ_SETTING_MIN_CLASS, 0);
	pthread_mutex_lock(&pwq_lock);
	score = pwquality_check(pwq, pw, NULL, local, &aux);
	pthread_mutex_unlock(&pwq_lock);
	if (score < 0) {
		switch (score) {
		case PWQ_ERROR_MEM_ALLOC:
			r = portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
			goto out;
		case PWQ_ERROR_CRACKLIB_CHECK:
			if (aux != NULL && strstr((const char *)aux, "dictionary") != NULL &&
			    strstr((const char *)aux, "error loading") != NULL) {
				r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE,
				    "password dictionary missing (install cracklib-runtime)");
				goto out;
			}
			*reason = PORTAIL_POLICY_DICTIONARY;
			break;
		case PWQ_ERROR_USER_CHECK:
		case PWQ_ERROR_GECOS_CHECK:
		case PWQ_ERROR_BAD_WORDS:
			*reason = PORTAIL_POLICY_PERSONAL;
			break;
		case PWQ_ERROR_MIN_LENGTH:
			*reason = PORTAIL_POLICY_TOO_SHORT;
			break;
		default:
			*reason = PORTAIL_POLICY_SIMPLE;
			break;
		}
		goto out;
	}
	*nfc = pw;
	pw = NULL;
	r = PORTAIL_OK;
out:
	/* aux is cracklib's static text or an integer, never ours to free */
	pwquality_free_settings(pwq);
	portail_password_free(pw);
	portail_password_free(conf);
	free(local);
	return r;
}

portail_status
portail_password_hash(const struct portail_password_config *c, const char *password, char *out,
    portail_error *err)
{
	portail_status r = PORTAIL_OK;
	size_t cps = 0;
	char *nfc;

	/* the NFC form, whatever path the password came by (DESIGN §2) */
	if ((nfc = nfc_secret(password, &cps)) == NULL)
		return portail_error_set(err, PORTAIL_ERR_INVALID,
		    "a password is UTF-8 text without control characters");
	if (crypto_pwhash_str(out, nfc, strlen(nfc),
	    (unsigned long long)c->argon2_opslimit,
	    (size_t)c->argon2_memlimit_kib * 1024u) != 0)
		r = portail_error_set(err, PORTAIL_ERR_NOMEM,
		    "argon2id: out of memory (argon2_memlimit %d KiB)", c->argon2_memlimit_kib);
	portail_password_free(nfc);
	return r;
}

int
portail_password_verify(const char *hash, const char *password)
{
	size_t cps = 0;
	char *nfc = nfc_secret(password, &cps);
	int v;

	if (nfc == NULL) {      /* no such password can be set; same cost anyway */
		if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
			return -1;
		return -1;
	}
	v = crypto_pwhash_str_verify(hash, nfc, strlen(nfc)) == 0 ? 0 : -1;
	/*
	 * Before NFC on every path, a rehash on sign-in stored the bytes as
	 * typed: a password typed in another form than NFC is tried as typed
	 * too, and such a match asks the caller to rehash (the NFC form).
	 */
	if (v != 0 && strcmp(nfc, password) != 0 &&
	    crypto_pwhash_str_verify(hash, password, strlen(password)) == 0)
		v = 1;
	portail_password_free(nfc);
	return v;
}

bool
portail_password_needs_rehash(const struct portail_password_config *c, const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, (unsigned long long)c->argon2_opslimit,
	    (size_t)c->argon2_memlimit_kib * 1024u) != 0;
}
