/*
 * email.h — parents' e-mail addresses: what we accept (DESIGN §2) and
 * the key under which two spellings of one address are the same.
 */
#ifndef PORTAIL_EMAIL_H
#define PORTAIL_EMAIL_H

#include "portail.h"

#define PORTAIL_EMAIL_MAX 254
#define PORTAIL_EMAIL_LOCAL_MAX 64

/*
 * PORTAIL_OK when addr is an address we accept: at most 254 bytes, a
 * local part of 1 to 64 bytes, one '@', a domain of dot-separated
 * labels, valid UTF-8, and no space, control character, quote or
 * bracket. Otherwise PORTAIL_ERR_INVALID with the reason in err.
 * The text is never rewritten: callers keep what the parent typed.
 */
PORTAIL_EXPORT portail_status portail_email_check(const char *addr,
    portail_error *err);

/*
 * The comparison key of a checked address: NFC-normalized and
 * case-folded (ASCII addresses simply lower-cased). *out is new, the
 * caller frees it. PORTAIL_ERR_INVALID when addr does not pass
 * portail_email_check.
 */
PORTAIL_EXPORT portail_status portail_email_key(const char *addr, char **out,
    portail_error *err);

/*
 * RFC 4515 escaping of an assertion value for an LDAP filter: '*', '(',
 * ')', '\' and NUL become \2a, \28, \29, \5c, \00. *out is new.
 */
portail_status pt_ldap_escape(const char *value, char **out);

#endif /* PORTAIL_EMAIL_H */
