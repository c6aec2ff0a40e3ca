/*
 * jid.h — a parent's address from an XMPP JID (XEP-0106 JID Escaping).
 *
 * On one Prosody host shared by every parent, the address is the JID's
 * local part, escaped: chantal.gagnon\40exemple.ca@parents.example is
 * chantal.gagnon@exemple.ca. Libc only.
 */
#ifndef PORTAIL_JID_H
#define PORTAIL_JID_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes to out (size outsz, NUL-terminated) the address that jid names:
 * the local part before the first raw '@' (the host after it, if any,
 * is dropped: saslauthd -r appends the realm), with the ten XEP-0106
 * escapes decoded (\20 \22 \26 \27 \2f \3a \3c \3e \40 \5c, lower-case
 * hex as the XEP and nodeprep write them). A backslash that starts no
 * escape stays as it is (XEP-0106 §4.3), so the address check then
 * refuses it. False, out empty, when jid is not such a JID: more than one
 * raw '@', an empty local part or host, a local part that does not
 * decode to exactly one '@' with text on both sides, or an address that
 * does not fit.
 */
bool portail_jid_address(const char *jid, char *out, size_t outsz);

#endif
