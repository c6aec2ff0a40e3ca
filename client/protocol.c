/* protocol.c — see protocol.h and doc/protocol.md. */
#include "protocol.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbuf.h"

const char *const portail_proto_secret_fields[] = {
	"password", "old_password", "confirmation",     /* passwords */
	"code",                                         /* code.verify */
	"ticket", "link_ticket",                        /* a code's proof, a social sign-in's */
	"token",                                        /* portail tokens */
	"session", "previous_session",                  /* browser sessions (the cookie) */
	"access_token", "id_token", "nonce",            /* a provider's */
	"state_secret",                                 /* the social sign-in state cookie's */
	NULL,
};

bool
portail_proto_is_secret(const char *name)
{
	for (size_t i = 0; name != NULL && portail_proto_secret_fields[i] != NULL; i++)
		if (strcmp(name, portail_proto_secret_fields[i]) == 0)
			return true;
	return false;
}

void
portail_proto_wipe_secrets(json_t *obj)
{
	if (!json_is_object(obj))
		return;
	for (size_t i = 0; portail_proto_secret_fields[i] != NULL; i++) {
		json_t *v = json_object_get(obj, portail_proto_secret_fields[i]);

		if (json_is_string(v))
			explicit_bzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
	}
}

static const struct {
	portail_status status;
	const char *name;
} names[] = {
	{ PORTAIL_ERR_PROTOCOL, "bad_request" },
	{ PORTAIL_ERR_INVALID, "invalid" },
	{ PORTAIL_ERR_FORBIDDEN, "forbidden" },
	{ PORTAIL_ERR_UNAVAILABLE, "unavailable" },
	{ PORTAIL_ERR_REFUSED, "refused" },
	{ PORTAIL_ERR_UNKNOWN, "unknown" },
	{ PORTAIL_ERR_LOCKED, "locked" },
	{ PORTAIL_ERR_DISABLED, "disabled" },
	{ PORTAIL_ERR_EXPIRED, "expired" },
	{ PORTAIL_ERR_WRONG_CODE, "wrong_code" },
	{ PORTAIL_ERR_EXPIRED_CODE, "expired_code" },
	{ PORTAIL_ERR_TOO_MANY_TRIES, "too_many_tries" },
	{ PORTAIL_ERR_NO_CODE, "no_code" },
	{ PORTAIL_ERR_TOO_SOON, "too_soon" },
	{ PORTAIL_ERR_RATE_LIMITED, "rate_limited" },
	{ PORTAIL_ERR_BAD_TICKET, "bad_ticket" },
	{ PORTAIL_ERR_EXISTS, "exists" },
	{ PORTAIL_ERR_POLICY, "policy" },
	{ PORTAIL_ERR_MISMATCH, "mismatch" },
	{ PORTAIL_ERR_BUSY, "busy" },
	{ PORTAIL_ERR_TOO_MANY_TOKENS, "too_many_tokens" },
	{ PORTAIL_ERR_CONFIG, "unavailable" },  /* to a client, a config problem is an outage */
	{ PORTAIL_ERR_IO, "unavailable" },
	{ PORTAIL_ERR_NOMEM, "unavailable" },
};

const char *
portail_proto_error_name(portail_status s)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].status == s)
			return names[i].name;
	return "unavailable";
}

portail_status
portail_proto_error_status(const char *name)
{
	if (name == NULL)
		return PORTAIL_ERR_UNAVAILABLE;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].status;
	/* An error name from a newer daemon: a refusal, never a success. */
	return PORTAIL_ERR_REFUSED;
}

static portail_status
bad(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static portail_status
bad(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && why_len > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return PORTAIL_ERR_PROTOCOL;
}

static bool
has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char u = (unsigned char)s[i];

		if (u < 0x20 || u == 0x7f)
			return true;
	}
	return false;
}

bool
portail_proto_text_ok(const char *s, size_t n, bool control_ok)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	if (s == NULL)
		return false;
	while (i < n) {
		unsigned c = u[i];
		size_t len;
		unsigned long cp;

		if (c < 0x80) {
			if (c == 0 || (!control_ok && (c < 0x20 || c == 0x7f)))
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;   /* a continuation byte, 0xc0, 0xc1 or past 0xf4 */
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (u[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static const char *
json_fault_name(enum json_error_code code)
{
	switch (code) {
	case json_error_out_of_memory:
		return "out_of_memory";
	case json_error_stack_overflow:
		return "too_deep";
	case json_error_invalid_utf8:
		return "invalid_utf8";
	case json_error_premature_end_of_input:
		return "premature_end";
	case json_error_end_of_input_expected:
		return "trailing_data";
	case json_error_invalid_syntax:
		return "invalid_syntax";
	case json_error_null_character:
		return "nul_character";
	case json_error_duplicate_key:
		return "duplicate_key";
	case json_error_numeric_overflow:
		return "numeric_overflow";
	default:
		return "invalid_json";
	}
}

/* The envelope: fields every request may carry. */
static const struct portail_proto_field envelope[] = {
	{ "v", PT_INT, true, 0 },
	{ "op", PT_STR, true, 64 },
	{ "lang", PT_STR, false, 2 },
	{ "service", PT_STR, false, 64 },
	{ "rhost", PT_STR, false, 256 },
	{ NULL, PT_STR, false, 0 },
};

static const struct portail_proto_field *
find_field(const struct portail_proto_field *spec, const char *name)
{
	for (; spec != NULL && spec->name != NULL; spec++)
		if (strcmp(spec->name, name) == 0)
			return spec;
	return NULL;
}

static portail_status
check_value(const struct portail_proto_field *f, json_t *v, char *why, size_t why_len)
{
	switch (f->type) {
	case PT_INT:
		if (!json_is_integer(v))
			return bad(why, why_len, "\"%s\" must be an integer", f->name);
		return PORTAIL_OK;
	case PT_BOOL:
		if (!json_is_boolean(v))
			return bad(why, why_len, "\"%s\" must be true or false", f->name);
		return PORTAIL_OK;
	case PT_STR: {
		size_t max = f->max_len ? f->max_len : 1024;

		if (!json_is_string(v))
			return bad(why, why_len, "\"%s\" must be a string", f->name);
		if (json_string_length(v) > max)
			return bad(why, why_len, "\"%s\" is too long", f->name);
		if (!portail_proto_is_secret(f->name) && has_control(json_string_value(v), json_string_length(v)))
			return bad(why, why_len, "\"%s\" holds a control character", f->name);
		return PORTAIL_OK;
	}
	}
	return bad(why, why_len, "\"%s\": unknown type", f->name);
}

portail_status
portail_proto_decode(const char *line, size_t len, json_t **out, const char **op,
    char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *obj;
	const char *key;
	json_t *v;
	portail_status r;

	if (len >= PORTAIL_PROTO_MAX)
		return bad(why, why_len, "%s", "message larger than 64 KiB");
	/* jansson checks UTF-8 and refuses \u0000 unless told otherwise. */
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL)
		/* jerr.text quotes the input (a password, raw control bytes):
		 * say what is wrong and where, never what was there */
		return bad(why, why_len, "not a JSON object: %s at byte %d",
		    json_fault_name(json_error_code(&jerr)), jerr.position);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return bad(why, why_len, "%s", "not a JSON object");
	}
	json_object_foreach(obj, key, v) {
		const struct portail_proto_field *f = find_field(envelope, key);

		if (f != NULL && (r = check_value(f, v, why, why_len)) != PORTAIL_OK) {
			json_decref(obj);
			return r;
		}
	}
	v = json_object_get(obj, "v");
	if (v == NULL) {
		json_decref(obj);
		return bad(why, why_len, "%s", "missing \"v\" (protocol version)");
	}
	if (json_integer_value(v) != PORTAIL_PROTO_VERSION) {
		json_decref(obj);
		return bad(why, why_len, "%s", "unsupported protocol version (this daemon speaks 1)");
	}
	v = json_object_get(obj, "op");
	if (v == NULL || json_string_length(v) == 0) {
		json_decref(obj);
		return bad(why, why_len, "%s", "missing \"op\"");
	}
	v = json_object_get(obj, "lang");
	if (v != NULL && strcmp(json_string_value(v), "fr") != 0 &&
	    strcmp(json_string_value(v), "en") != 0) {
		json_decref(obj);
		return bad(why, why_len, "%s", "\"lang\" must be \"fr\" or \"en\"");
	}
	*op = json_string_value(json_object_get(obj, "op"));
	*out = obj;
	return PORTAIL_OK;
}

portail_status
portail_proto_check(json_t *req, const struct portail_proto_field *spec, char *why,
    size_t why_len)
{
	const char *key;
	json_t *v;
	portail_status r;

	json_object_foreach(req, key, v) {
		const struct portail_proto_field *f;

		if (find_field(envelope, key) != NULL)
			continue;
		if ((f = find_field(spec, key)) == NULL)
			return bad(why, why_len, "unknown field \"%s\"", key);
		if ((r = check_value(f, v, why, why_len)) != PORTAIL_OK)
			return r;
	}
	for (; spec != NULL && spec->name != NULL; spec++)
		if (spec->required && json_object_get(req, spec->name) == NULL)
			return bad(why, why_len, "missing field \"%s\"", spec->name);
	return PORTAIL_OK;
}

/*
 * Where json_dump_callback writes. jansson's own json_dumps grows a buffer
 * by malloc + copy + free and frees it after a final copy, leaving the
 * request (a password) in freed memory; and jansson's allocator is the
 * host's, which a guest in sshd or Apache must not replace. So: our
 * buffer, that wipes the old storage whenever it grows (wbuf.h).
 */
static int
dump_append(const char *chunk, size_t n, void *data)
{
	return portail_wbuf_append(data, chunk, n);
}

char *
portail_proto_encode(json_t *obj, size_t *len)
{
	/* the line and its '\n': the NUL after them makes PORTAIL_PROTO_MAX bytes */
	struct portail_wbuf b = PORTAIL_WBUF_INIT(PORTAIL_PROTO_MAX - 1);

	if (json_dump_callback(obj, dump_append, &b, JSON_COMPACT) != 0 || b.len == 0) {
		portail_wbuf_wipe(&b);
		return NULL;
	}
	(void)portail_wbuf_append(&b, "\n", 1);
	return portail_wbuf_take(&b, len);
}

json_t *
portail_proto_error(portail_status s, const char *message)
{
	return json_pack("{s:i, s:b, s:s, s:s}", "v", PORTAIL_PROTO_VERSION, "ok", 0,
	    "error", portail_proto_error_name(s), "message", message ? message : "");
}
