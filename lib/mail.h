/*
 * mail.h — messages to parents, and the queue that sends them.
 *
 * Messages are built from templates (built-in, French and English; an
 * admin may override each with a file <template_dir>/<kind>.<lang>.txt:
 * a "Subject: …" line, a blank line, the body), with {{code}},
 * {{minutes}}, {{portal}} and {{email}} replaced. Headers never carry
 * CR/LF from input: the recipient is a checked address, the subject is
 * RFC 2047-encoded, the body is UTF-8 quoted-printable.
 *
 * The queue sends from its own thread through libcurl SMTP, so that a
 * request is answered at once and the same way whatever the address.
 * Transient failures are retried until the message's deadline (a code's
 * lifetime); permanent ones are logged and counted.
 */
#ifndef PORTAIL_MAIL_H
#define PORTAIL_MAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "key.h"
#include "store.h"

enum portail_mail_kind {
	PORTAIL_MAIL_CODE_SIGNUP,
	PORTAIL_MAIL_CODE_RESET,
	PORTAIL_MAIL_ACCOUNT_EXISTS,    /* sign-up asked for an address that has an account */
	PORTAIL_MAIL_ACCOUNT_CREATED,
	PORTAIL_MAIL_PASSWORD_CHANGED,
	PORTAIL_MAIL_CODE_LINK,
};

typedef struct portail_mailq portail_mailq;

/* Receives the queue's log lines (never a code). */
typedef void (*portail_log_fn)(int priority, const char *message);

/*
 * Builds the full message (headers and body, CRLF line ends) into *out
 * (new; the caller wipes and frees it). For tests and the queue.
 */
portail_status portail_mail_compose(const portail_config *cfg,
    enum portail_mail_kind kind, const char *lang, const char *to, const char *code,
    char **out, portail_error *err);

/* Starts the queue thread. cfg is borrowed. Reads [mail] password_file now. */
portail_status portail_mailq_new(const portail_config *cfg, portail_log_fn log,
    portail_mailq **out, portail_error *err);
/*
 * Stops the thread (a message being sent is finished; the rest is dropped,
 * counted in the log, unless attached: then it waits in the store).
 */
void portail_mailq_free(portail_mailq *q);

/*
 * Queues a message; returns at once. deadline: give up after this time
 * (epoch seconds). The message is composed on the queue's thread, so
 * that the caller's cost does not depend on what it queues; a message
 * that cannot be composed (a broken template) is logged and counted as
 * failed. The code, if any, is kept only in the item and the message,
 * both wiped once sent or dropped.
 */
portail_status portail_mailq_send(portail_mailq *q, enum portail_mail_kind kind,
    const char *lang, const char *to, const char *code, int64_t deadline, portail_error *err);

/*
 * Makes the queue durable: from now on it is the store's mail_queue
 * (DESIGN §2), codes sealed with key (PORTAIL_KEY_MAIL); portail_mailq_send
 * queues there, and the thread sends from there, at least once across
 * kills and restarts, with the same backoff. Both are borrowed and must
 * outlive the queue. Messages queued in memory before are sent first.
 */
void portail_mailq_attach(portail_mailq *q, portail_store *st,
    const portail_key *key);
/*
 * The clock the stored queue's schedule reads (next try, deadline), NULL
 * for the wall clock (the default): it must be the one that stamps its
 * rows, the `now` the flows are given (portaild: daemon_now). Any time.
 */
void portail_mailq_set_clock(portail_mailq *q, int64_t (*now)(void));
/* True once attached. */
bool portail_mailq_stored(portail_mailq *q);
/*
 * The store row for a message (attached queues only): for a caller that
 * queues it in its own transaction (portail_store_code_issue), then
 * calls portail_mailq_kick. Clear it with portail_mail_row_clear.
 */
portail_status portail_mailq_row(portail_mailq *q, enum portail_mail_kind kind,
    const char *lang, const char *to, const char *code, int64_t now, int64_t deadline,
    struct portail_mail_row *row, portail_error *err);
/* Tells the thread a row was queued. */
void portail_mailq_kick(portail_mailq *q);

struct portail_mailq_stats {
	unsigned long queued;           /* waiting now (attached: in the store) */
	unsigned long sent;
	unsigned long failed;           /* given up */
	int64_t last_failure;           /* epoch, 0 none */
	char last_error[512];
};
void portail_mailq_stats(portail_mailq *q, struct portail_mailq_stats *out);

/* Connects to [mail] url and says NOOP: for portail check. */
portail_status portail_mail_probe(const portail_config *cfg, portail_error *err);

#endif
