/*
 * ops.c — the requests portaild answers. Adding an op is one entry in
 * ops[]: its name, whether it is for admins, its fields, its handler.
 * Every decision is logged in one line; no secret ever is.
 */
#include "daemon.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "email.h"
#include "protocol.h"

struct op_ctx {
	struct daemon *d;
	const struct peer *peer;
	json_t *req;
	bool en;                        /* messages in English */
	const char *user;               /* for the log line: the address concerned */
};

struct op_result {
	portail_status status;
	json_t *body;                   /* fields of a successful answer */
	char message[512];              /* for a failed one, in the caller's language */
	const char *reason;             /* for the log line */
};

typedef void (*op_fn)(struct op_ctx *ctx, struct op_result *res);

struct op {
	const char *name;
	bool admin;
	bool quiet;                     /* not a decision: logged under -d only */
	const struct portail_proto_field *fields;
	op_fn fn;
};

#define MSG(ctx, fr_text, en_text) ((ctx)->en ? (en_text) : (fr_text))

static void
fail_with(struct op_ctx *ctx, struct op_result *res, portail_status s, const char *reason,
    const char *msg)
{
	res->status = s;
	res->reason = reason;
	(void)snprintf(res->message, sizeof(res->message), "%s", msg);
}

/* ---- ping ---------------------------------------------------------------- */

static void
op_ping(struct op_ctx *ctx, struct op_result *res)
{
	res->body = json_pack("{s:s, s:I}", "version", portail_version(),
	    "uptime", (json_int_t)(time(NULL) - ctx->d->started));
}

/* ---- status (admin) ------------------------------------------------------ */

static void
op_status(struct op_ctx *ctx, struct op_result *res)
{
	struct daemon *d = ctx->d;
	json_t *dir;
	portail_error err = { { 0 } };
	char server[512] = "";

	if (d->gpi == NULL) {
		dir = json_pack("{s:b, s:s}", "ok", 0, "error", "not configured");
	} else if (portail_gpi_probe(d->gpi, server, sizeof(server), &err) == PORTAIL_OK) {
		dir = json_pack("{s:b, s:s}", "ok", 1, "server", server);
	} else {
		dir = json_pack("{s:b, s:s}", "ok", 0, "error", err.message);
	}
	res->body = json_pack("{s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I, s:i}, s:i, s:o}",
	    "version", portail_version(),
	    "uptime", (json_int_t)(time(NULL) - d->started),
	    "requests",
	    "total", (json_int_t)atomic_load(&d->requests),
	    "bad_request", (json_int_t)atomic_load(&d->bad_requests),
	    "refused", (json_int_t)atomic_load(&d->refusals),
	    "unavailable", (json_int_t)atomic_load(&d->unavailable),
	    "deadline_exceeded", (json_int_t)atomic_load(&d->deadline_exceeded),
	    "connections",
	    "open", (json_int_t)atomic_load(&d->connections_open),
	    "total", (json_int_t)atomic_load(&d->connections_total),
	    "evicted", (json_int_t)atomic_load(&d->connections_evicted),
	    "max", d->cfg->daemon.max_connections,
	    "workers", d->cfg->daemon.workers,
	    "directory", dir);
}

/* ---- gpi.lookup (admin) -------------------------------------------------- */

static const struct portail_proto_field gpi_lookup_fields[] = {
	{ "email", PT_STR, true, 254, false },
	{ NULL, PT_STR, false, 0, false },
};

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void
op_gpi_lookup(struct op_ctx *ctx, struct op_result *res)
{
	const char *email = json_string_value(json_object_get(ctx->req, "email"));
	portail_gpi_result *r = NULL;
	portail_error err = { { 0 } };
	portail_status s;
	json_t *kids;

	ctx->user = email;
	if (portail_email_check(email, &err) != PORTAIL_OK) {
		fail_with(ctx, res, PORTAIL_ERR_INVALID, "bad_address",
		    MSG(ctx, "Adresse courriel invalide.", "Invalid e-mail address."));
		return;
	}
	if (ctx->d->gpi == NULL) {
		fail_with(ctx, res, PORTAIL_ERR_UNAVAILABLE, "no_directory",
		    MSG(ctx, "Annuaire non configuré.", "Directory not configured."));
		return;
	}
	s = portail_gpi_lookup(ctx->d->gpi, email, &r, &err);
	if (s != PORTAIL_OK) {
		log_msg(LOG_ERR, "directory: %s", err.message);
		fail_with(ctx, res, PORTAIL_ERR_UNAVAILABLE, "directory_unavailable",
		    MSG(ctx, "L'annuaire est indisponible; réessayez plus tard.",
		    "The directory is unavailable; try again later."));
		return;
	}
	kids = json_array();
	for (size_t i = 0; i < r->n_children; i++) {
		const struct portail_gpi_child *c = &r->children[i];

		json_array_append_new(kids, json_pack("{s:o, s:o, s:o, s:b}",
		    "student_id", str_or_null(c->student_id), "name", str_or_null(c->name),
		    "school", str_or_null(c->school), "subscribed", c->subscribed));
	}
	res->body = json_pack("{s:s, s:b, s:o}", "email", email, "known", r->known,
	    "children", kids);
	res->reason = r->known ? "known" : (r->n_children ? "no_subscribed_school" : "not_on_record");
	portail_gpi_result_free(r);
}

/* ---- the table ----------------------------------------------------------- */

static const struct portail_proto_field no_fields[] = {
	{ NULL, PT_STR, false, 0, false },
};

static const struct op ops[] = {
	{ "ping", false, true, no_fields, op_ping },
	{ "status", true, false, no_fields, op_status },
	{ "gpi.lookup", true, false, gpi_lookup_fields, op_gpi_lookup },
};

static const struct op *
find_op(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

bool
ops_peer_is_admin(const struct daemon *d, const struct peer *peer)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (peer->uid == 0)
		return true;
	if (!d->has_admin_group)
		return false;
	if (peer->gid == d->admin_gid)
		return true;
	if (getpwuid_r(peer->uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == d->admin_gid)
			return true;
	return false;
}

char *
ops_error_line(portail_status s, const char *message, size_t *len)
{
	static char fallback[] =
	    "{\"v\":1,\"ok\":false,\"error\":\"unavailable\",\"message\":\"out of memory\"}\n";
	json_t *j = portail_proto_error(s, message);
	char *line = j ? portail_proto_encode(j, len) : NULL;

	json_decref(j);
	if (line == NULL && (line = strdup(fallback)) != NULL)
		*len = strlen(fallback);
	return line;
}

static void
log_decision(const struct daemon *d, const struct peer *peer, const char *op, bool quiet,
    const struct op_ctx *ctx, const struct op_result *res)
{
	char user[300], service[160], rhost[600], opb[160];
	json_t *req = ctx->req;
	const char *result;

	switch (res->status) {
	case PORTAIL_OK:
		result = "ok";
		break;
	case PORTAIL_ERR_UNAVAILABLE:
	case PORTAIL_ERR_CONFIG:
	case PORTAIL_ERR_NOMEM:
	case PORTAIL_ERR_IO:
		result = "unavailable";
		break;
	default:
		result = portail_proto_error_name(res->status);
		break;
	}
	log_msg(res->status != PORTAIL_OK ? LOG_NOTICE : quiet ? LOG_DEBUG : LOG_INFO,
	    "op=%s user=%s service=%s rhost=%s uid=%u pid=%d result=%s%s%s",
	    log_safe(op, opb, sizeof(opb)),
	    log_safe(ctx->user, user, sizeof(user)),
	    log_safe(req ? json_string_value(json_object_get(req, "service")) : NULL,
	    service, sizeof(service)),
	    log_safe(req ? json_string_value(json_object_get(req, "rhost")) : NULL,
	    rhost, sizeof(rhost)),
	    (unsigned)peer->uid, (int)peer->pid, result,
	    res->reason ? " reason=" : "", res->reason ? res->reason : "");
	(void)d;
}

char *
ops_handle(struct daemon *d, const struct peer *peer, const char *line, size_t len,
    size_t *resp_len, bool *close_after)
{
	struct op_ctx ctx = { .d = d, .peer = peer };
	struct op_result res = { .status = PORTAIL_OK };
	const struct op *op = NULL;
	const char *opname = NULL;
	char why[256] = "";
	json_t *resp = NULL;
	char *out = NULL;

	*close_after = false;
	atomic_fetch_add(&d->requests, 1);
	if (portail_proto_decode(line, len, &ctx.req, &opname, why, sizeof(why)) != PORTAIL_OK) {
		atomic_fetch_add(&d->bad_requests, 1);
		log_msg(LOG_NOTICE, "op=- uid=%u pid=%d result=bad_request reason=\"%s\"",
		    (unsigned)peer->uid, (int)peer->pid, why);
		return ops_error_line(PORTAIL_ERR_PROTOCOL, why, resp_len);
	}
	{
		json_t *lang = json_object_get(ctx.req, "lang");

		ctx.en = lang != NULL && strcmp(json_string_value(lang), "en") == 0;
	}
	if ((op = find_op(opname)) == NULL) {
		atomic_fetch_add(&d->bad_requests, 1);
		(void)snprintf(res.message, sizeof(res.message), "unknown op \"%.64s\"", opname);
		res.status = PORTAIL_ERR_PROTOCOL;
		res.reason = "unknown_op";
	} else if (portail_proto_check(ctx.req, op->fields, why, sizeof(why)) != PORTAIL_OK) {
		atomic_fetch_add(&d->bad_requests, 1);
		fail_with(&ctx, &res, PORTAIL_ERR_PROTOCOL, "bad_field", why);
	} else if (op->admin && !ops_peer_is_admin(d, peer)) {
		fail_with(&ctx, &res, PORTAIL_ERR_FORBIDDEN, "not_admin",
		    MSG(&ctx, "Opération réservée aux administrateurs.",
		    "This operation is for administrators."));
	} else {
		op->fn(&ctx, &res);
		if (res.status == PORTAIL_OK && res.body == NULL)
			fail_with(&ctx, &res, PORTAIL_ERR_NOMEM, "nomem", "out of memory");
	}
	if (res.status == PORTAIL_ERR_UNAVAILABLE)
		atomic_fetch_add(&d->unavailable, 1);
	else if (res.status != PORTAIL_OK && res.status != PORTAIL_ERR_PROTOCOL)
		atomic_fetch_add(&d->refusals, 1);
	log_decision(d, peer, op ? op->name : opname, op != NULL && op->quiet, &ctx, &res);

	if (res.status == PORTAIL_OK) {
		resp = res.body;
		res.body = NULL;
		json_object_set_new(resp, "v", json_integer(PORTAIL_PROTO_VERSION));
		json_object_set_new(resp, "ok", json_true());
		out = portail_proto_encode(resp, resp_len);
		json_decref(resp);
		if (out == NULL)
			out = ops_error_line(PORTAIL_ERR_UNAVAILABLE, "answer too large", resp_len);
	} else {
		out = ops_error_line(res.status, res.message, resp_len);
	}
	json_decref(res.body);
	json_decref(ctx.req);
	return out;
}
