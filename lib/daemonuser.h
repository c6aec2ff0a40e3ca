/*
 * daemonuser.h — is [daemon] user portail's own account?
 *
 * portaild holds the server key and the store readable by its user only
 * (0600). That protects them from every other user, not from other
 * processes that run as the same user: a user shared with other
 * services (nobody, daemon, www-data…) hands the key and every password
 * hash to each of them. portail init refuses such a user unless forced.
 */
#ifndef PORTAIL_DAEMONUSER_H
#define PORTAIL_DAEMONUSER_H

#include <sys/types.h>

#include "portail.h"

/*
 * Looks name up; *uid and *gid are set when it exists (OK or REFUSED).
 * UNKNOWN: no such user. REFUSED: it is shared, and err says why and
 * what to do. The rule, in order (documented in portail.conf(5)):
 *  - root (uid 0);
 *  - a name Debian or systemd give to shared accounts: nobody, daemon,
 *    bin, sys, sync, games, man, lp, mail, news, uucp, proxy, www-data,
 *    backup, list, irc, gnats, _apt, messagebus, systemd-*;
 *  - uid 1–99 (Debian Policy 9.2.2: allocated by Debian, one meaning on
 *    every system) or 65534 (nobody);
 *  - another account with the same uid (Postfix refuses a mail_owner
 *    that "has same user ID as" another);
 *  - a login shell (its shell is listed in /etc/shells, or empty, which
 *    means /bin/sh): people or other services log in as it.
 * Not thread-safe (getpwent, getusershell): for the CLI.
 */
portail_status portail_daemon_user_check(const char *name, uid_t *uid, gid_t *gid,
    portail_error *err);

#endif
