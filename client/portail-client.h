/*
 * portail-client.h — libportail-client: talk to portaild.
 *
 * Small on purpose: a unix socket, the line protocol, deadlines. Links
 * jansson and libc only — no LDAP, curl, SQLite or secrets — so that the
 * PAM module and the SASL plugin can live in other people's processes.
 * No global state, no threads; safe after fork() (a handle notices it is
 * in a new process and reconnects). One handle is not for two threads
 * at once.
 *
 * Every call returns within the handle's timeout. The daemon not
 * running, the socket missing, a timeout or a garbled answer are all
 * PORTAIL_ERR_UNAVAILABLE: never a refusal.
 */
#ifndef PORTAIL_CLIENT_H
#define PORTAIL_CLIENT_H

#include <jansson.h>

#include "portail.h"

typedef struct portail_client portail_client;

/* The client's socket timeout: the last of the ordered timeouts (DESIGN §3). */
#define PORTAIL_CLIENT_TIMEOUT_MS 20000

/*
 * socket_path NULL: PORTAIL_DEFAULT_SOCKET. timeout_ms 0: the default.
 * No connection is made until the first call.
 */
portail_status portail_client_new(const char *socket_path, int timeout_ms,
    portail_client **out);
void portail_client_free(portail_client *c);

/* Sets "service" and "rhost" sent with every request (may be NULL). */
portail_status portail_client_set_origin(portail_client *c, const char *service,
    const char *rhost);
/* "fr" or "en": the language of the daemon's messages. */
portail_status portail_client_set_lang(portail_client *c, const char *lang);

/*
 * Sends req (borrowed; "v" and the origin are added) and reads the
 * answer. PORTAIL_OK: *resp is a new reference to the response object,
 * ok true. A refusal from the daemon returns its status (REFUSED,
 * UNKNOWN, FORBIDDEN, INVALID, PROTOCOL…) with its message in err and,
 * when resp is not NULL, the response in *resp for its details.
 * No copy of req's strings is made; the request line is wiped after
 * sending. The caller wipes its own secret strings in req, and those of
 * *resp (a ticket, a token) before json_decref.
 */
portail_status portail_client_call(portail_client *c, json_t *req, json_t **resp,
    portail_error *err);

/* Typed helpers. */
portail_status portail_client_ping(portail_client *c, char *version, size_t version_len,
    long long *uptime, portail_error *err);
portail_status portail_client_status(portail_client *c, json_t **status,
    portail_error *err);
portail_status portail_client_gpi_lookup(portail_client *c, const char *email,
    json_t **result, portail_error *err);

#endif
