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
 * labels that IDNA2008 / UTS 46 accepts (libidn2, nontransitional; not
 * U+1E9E, which UTS 46 versions map to "ss" or to ß),
 * valid UTF-8, and no space, control character, quote or bracket; no
 * look-alike of '@' (U+FF20, U+FE6B), and no character before '@' that
 * NFC turns into an ASCII one (U+212A KELVIN SIGN). Otherwise
 * PORTAIL_ERR_INVALID with the reason in err.
 * The text is never rewritten: callers keep what the parent typed.
 */
portail_status portail_email_check(const char *addr,
    portail_error *err);

/*
 * The one comparison key of an address (DESIGN §2, "address identity"),
 * used everywhere: store, GPI comparison, rate limits, links.
 *   local part: NFC, then ASCII A-Z lower-cased; nothing else is folded
 *     (ß ≠ ss, ſ ≠ s, ﬁ ≠ fi, É ≠ é, İ ≠ i, ı ≠ i, fullwidth ≠ ASCII);
 *   domain: its lower-case A-label by IDNA2008 / UTS 46 (libidn2,
 *     nontransitional): école.ca and XN--COLE-9OA.CA are xn--cole-9oa.ca,
 *     maßawippi.ca is xn--maawippi-rya.ca (another domain than
 *     massawippi.ca), and the UTS 46 mapping makes K, ſ, ﬁ and
 *     fullwidth letters in a domain the same name as k, s, fi, ASCII
 *     (as DNS resolves them).
 * A key is for comparing, never for mailing: mail goes to an address on
 * record (the account's, or the GPI record's). *out is new, the caller
 * frees it. PORTAIL_ERR_INVALID when addr does not pass
 * portail_email_check.
 */
portail_status portail_email_key(const char *addr, char **out,
    portail_error *err);

/*
 * RFC 4515 escaping of an assertion value for an LDAP filter: '*', '(',
 * ')', '\' and NUL become \2a, \28, \29, \5c, \00. *out is new.
 */
portail_status pt_ldap_escape(const char *value, char **out);

#endif /* PORTAIL_EMAIL_H */
