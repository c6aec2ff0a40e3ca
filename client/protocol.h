/*
 * protocol.h — the portaild wire format, shared by the daemon and
 * libportail-client (doc/protocol.md is the reference).
 *
 * One JSON object per line over a unix stream socket. Requests carry
 * "v" (the protocol version) and "op"; responses carry "v", "ok" and,
 * when ok is false, a stable "error" name and a human "message".
 * Depends on jansson and libc only.
 */
#ifndef PORTAIL_PROTOCOL_H
#define PORTAIL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "portail.h"

#define PORTAIL_PROTO_VERSION 1
/* Largest message, its newline included. */
#define PORTAIL_PROTO_MAX 65536
#define PORTAIL_DEFAULT_SOCKET "/run/portail/portaild.sock"

/*
 * Limits of request fields that clients check before asking
 * (doc/protocol.md): a value past them is refused by portaild as a
 * bad_request, so a client that sent it would only learn of its own fault.
 */
#define PORTAIL_PROTO_EMAIL_MAX 254     /* an address, as DESIGN §2 bounds it */
#define PORTAIL_PROTO_PASSWORD_MAX 4096 /* password, old_password, confirmation */
#define PORTAIL_PROTO_CODE_MAX 64       /* code.verify's code */
#define PORTAIL_PROTO_TOKEN_MAX 128     /* token.verify's token */

/*
 * True when s[0..n) is text the protocol carries in a string: valid
 * UTF-8 (no overlong form, surrogate or code point past U+10FFFF), no
 * NUL and, unless control_ok (the secret fields), no control character
 * (below U+0020, or U+007F) — the checks portaild makes.
 */
bool portail_proto_text_ok(const char *s, size_t n, bool control_ok);

/*
 * The fields that carry secrets, in requests and in answers (passwords,
 * codes, tickets, tokens, a provider's tokens and nonce): never logged,
 * wiped before they are freed. One list for the daemon, the CLI, the PAM
 * module and the SASL plugin; NULL-terminated.
 */
extern const char *const portail_proto_secret_fields[];

/* True when name is one of portail_proto_secret_fields. */
bool portail_proto_is_secret(const char *name);

/*
 * Wipes in place the string values of obj's secret members (the top level,
 * as the protocol puts them), before obj is freed: jansson hands the
 * memory back as it is. The strings stay, zeroed, of the same length.
 * Nothing for NULL or a value that is not an object.
 */
void portail_proto_wipe_secrets(json_t *obj);

/* The stable error names of the wire, and the status each stands for. */
const char *portail_proto_error_name(portail_status s);
portail_status portail_proto_error_status(const char *name);

enum portail_proto_type { PT_STR, PT_INT, PT_BOOL };

/* One field of a request, beyond the envelope (v, op, lang, service, rhost). */
struct portail_proto_field {
	const char *name;
	enum portail_proto_type type;
	bool required;
	size_t max_len;         /* PT_STR: bytes; 0 means 1024 */
};
/* A field named in portail_proto_secret_fields may hold control characters and is never logged. */

/*
 * Decodes one request line (without its newline). On success *out is a
 * new reference to the object and *op points into it. Otherwise
 * PORTAIL_ERR_PROTOCOL and why says what is wrong: over the size limit,
 * not JSON, not UTF-8, a NUL, duplicate keys, not an object, missing or
 * wrong "v", missing "op", bad envelope fields.
 */
portail_status portail_proto_decode(const char *line, size_t len, json_t **out,
    const char **op, char *why, size_t why_len);

/*
 * Checks req's fields against spec (terminated by a NULL name): every
 * required field present, every field of the right type and size, text
 * without control characters (except secret fields), no other field.
 */
portail_status portail_proto_check(json_t *req,
    const struct portail_proto_field *spec, char *why, size_t why_len);

/*
 * Encodes obj as one compact line ending in '\n' (strings escaped, so
 * no raw newline inside). *out is new; NULL when over PORTAIL_PROTO_MAX.
 */
char *portail_proto_encode(json_t *obj, size_t *len);

/* A response {"v":1,"ok":false,"error":NAME,"message":MSG}; new reference. */
json_t *portail_proto_error(portail_status s, const char *message);

#endif
