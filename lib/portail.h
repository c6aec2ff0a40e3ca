/*
 * portail.h — the contract of the core (lib/) with the programs built on it
 * (portaild, the CLI) and with the client library: the status codes and
 * their detail. The core is a convenience library linked into those
 * programs, never installed; no header of it is installed either.
 *
 * Every function returns a portail_status. Out-parameters are left
 * untouched unless the call returns PORTAIL_OK. Where a call takes a
 * `portail_error *err`, it may be NULL; when it is not, it receives a
 * human-readable explanation on failure (never a secret).
 *
 * The numbers of portail_status never change: scripts and the wire
 * protocol depend on them. Keep "refused", "unknown" and "unavailable"
 * apart: they become PAM_AUTH_ERR, PAM_USER_UNKNOWN and
 * PAM_AUTHINFO_UNAVAIL in the PAM module.
 */
#ifndef PORTAIL_H
#define PORTAIL_H

#include <stddef.h>

/*
 * The core is no shared library: it is linked into portaild, the CLI and
 * portail-web, and nothing of it is exported (the installed modules export
 * only their entry points, which tests/exports.test checks).
 */

typedef enum portail_status {
	PORTAIL_OK = 0,
	PORTAIL_ERR_NOMEM = 1,        /* out of memory */
	PORTAIL_ERR_INVALID = 2,      /* malformed input (address, argument) */
	PORTAIL_ERR_CONFIG = 3,       /* configuration error */
	PORTAIL_ERR_UNAVAILABLE = 4,  /* directory, store, mail or daemon down */
	PORTAIL_ERR_UNKNOWN = 5,      /* no such parent / account */
	PORTAIL_ERR_REFUSED = 6,      /* wrong credentials, policy */
	PORTAIL_ERR_FORBIDDEN = 7,    /* caller lacks the privilege */
	PORTAIL_ERR_PROTOCOL = 8,     /* malformed message on the wire */
	PORTAIL_ERR_IO = 9,           /* local file or socket error */
	PORTAIL_ERR_LOCKED = 10,      /* too many failed sign-ins: locked for a while */
	PORTAIL_ERR_DISABLED = 11,    /* account disabled by an admin */
	PORTAIL_ERR_EXPIRED = 12,     /* no child in a subscribed school any more */
	PORTAIL_ERR_WRONG_CODE = 13,  /* verification code does not match */
	PORTAIL_ERR_EXPIRED_CODE = 14,
	PORTAIL_ERR_TOO_MANY_TRIES = 15, /* the code is dead: ask for a new one */
	PORTAIL_ERR_NO_CODE = 16,     /* no code was asked for */
	PORTAIL_ERR_TOO_SOON = 17,    /* a new code too soon after the last */
	PORTAIL_ERR_RATE_LIMITED = 18, /* too many codes today */
	PORTAIL_ERR_BAD_TICKET = 19,  /* unknown, used, expired or other-purpose ticket */
	PORTAIL_ERR_EXISTS = 20,      /* the account exists already */
	PORTAIL_ERR_POLICY = 21,      /* password refused by the policy */
	PORTAIL_ERR_MISMATCH = 22,    /* password and confirmation differ */
	PORTAIL_ERR_BUSY = 23,        /* the daemon has too much in hand from this peer or from all: try again */
	PORTAIL_ERR_TOO_MANY_TOKENS = 24, /* the account holds [tokens] max_per_account live tokens */
} portail_status;

/* Static English text for a status; never NULL. */
const char *portail_strerror(portail_status s);

/* Detail of a failure, filled by calls that take one. */
typedef struct portail_error {
	char message[512];
} portail_error;

/* printf-like helper: fills err (if not NULL) and returns s. */
portail_status portail_error_set(portail_error *err, portail_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Library version string, e.g. "0.1.0". */
const char *portail_version(void);

#endif /* PORTAIL_H */
