/*
 * ops.c — the requests portaild answers. Adding an op is one entry in
 * ops[]: its name, whether it is for admins, its fields, its handler.
 * A handler parses its request, calls libportail, where the decisions
 * are (flow.h: the parent's flows; manage.h: tokens and the admin's
 * account operations), and builds the answer from the status; every
 * sentence in it comes from the shared table (messages.def, section
 * ops). Every decision is logged in one line; no secret ever is.
 */
#include "daemon.h"

#include <errno.h>

#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "email.h"
#include "manage.h"
#include "messages.h"
#include "oauth.h"
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
	json_t *body;                   /* fields of a successful answer, or extra
					 * fields of a failed one (tries_left …) */
	char message[512];              /* for a failed one, in the caller's language */
	const char *reason;             /* for the log line */
	long long provider_us;          /* > 0: a provider was asked, for so long (logged) */
	long long hash_us;              /* > 0: argon2id ran, for so long (logged) */
	char identity[300];             /* a social identity, provider:subject (logged) */
	enum summary_kind summary;      /* not SUMMARY_NONE: counted in a line per peer per
					 * minute (summary.c), not logged alone */
};

typedef void (*op_fn)(struct op_ctx *ctx, struct op_result *res);

struct op {
	const char *name;
	bool admin;
	bool quiet;                     /* not a decision: logged under -d only */
	const struct portail_proto_field *fields;
	op_fn fn;
};

/* A message of the shared table (lib/messages.def) in the caller's language. */
static const char *
text(const struct op_ctx *ctx, enum portail_msg id)
{
	return portail_msg(id, ctx->en);
}

static void
fail_with(struct op_ctx *ctx, struct op_result *res, portail_status s, const char *reason,
    const char *msg)
{
	res->status = s;
	res->reason = reason;
	(void)snprintf(res->message, sizeof(res->message), "%s", msg);
}

/* A refusal with its message from the table. */
static void
refuse(struct op_ctx *ctx, struct op_result *res, portail_status s, const char *reason,
    enum portail_msg id)
{
	fail_with(ctx, res, s, reason, text(ctx, id));
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

	struct portail_gpi_stats gs = { 0 };

	/* the pool as the requests left it, before the probe takes a connection */
	if (d->gpi != NULL)
		portail_gpi_stats(d->gpi, &gs);
	if (d->gpi == NULL) {
		dir = json_pack("{s:b, s:s}", "ok", 0, "error", "not configured");
	} else if (portail_gpi_probe(d->gpi, server, sizeof(server), &err) == PORTAIL_OK) {
		dir = json_pack("{s:b, s:s}", "ok", 1, "server", server);
	} else {
		dir = json_pack("{s:b, s:s}", "ok", 0, "error", err.message);
	}
	if (dir != NULL && d->gpi != NULL)
		json_object_update_missing_new(dir, json_pack("{s:{s:i, s:i, s:i}, s:{s:i, s:i, s:I}}",
		    "connections", "size", gs.connections, "in_use", gs.in_use, "idle", gs.idle,
		    "bulkhead", "max", gs.max_calls, "in_use", gs.calls,
		    "refused", (json_int_t)gs.refused));
	json_t *store, *mail;
	struct portail_mailq_stats ms = { 0 };
	struct portail_store_cluster cl;
	char where[512];

	/* where: SQLite's file; on PostgreSQL the server answering, its
	 * database and role, never the password */
	const char *path = NULL;
	portail_status st_ok = PORTAIL_ERR_UNAVAILABLE;

	if (d->store == NULL)
		snprintf(err.message, sizeof(err.message), "not open");
	else if (d->cfg->store.backend == PORTAIL_STORE_POSTGRESQL) {
		if ((st_ok = portail_store_cluster(d->store, &cl, &err)) == PORTAIL_OK) {
			snprintf(where, sizeof(where), "postgresql %s dbname=%s (%s)", cl.server,
			    cl.dbname, cl.primary ? "primary" : "standby");
			path = where;
		}
	} else if ((st_ok = portail_store_probe(d->store, &err)) == PORTAIL_OK)
		path = d->cfg->store_path;
	store = st_ok == PORTAIL_OK ?
	    json_pack("{s:b, s:s, s:s}", "ok", 1, "backend", portail_store_backend(d->store), "path", path) :
	    json_pack("{s:b, s:s}", "ok", 0, "error", err.message);
	if (d->mailq != NULL)
		portail_mailq_stats(d->mailq, &ms);
	mail = json_pack("{s:I, s:I, s:I, s:I, s:s}", "queued", (json_int_t)ms.queued,
	    "sent", (json_int_t)ms.sent, "failed", (json_int_t)ms.failed,
	    "last_failure", (json_int_t)ms.last_failure, "last_error", ms.last_error);
	res->body = json_pack("{s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I, s:I, s:i}, s:i, s:o, s:o, s:o}",
	    "version", portail_version(),
	    "uptime", (json_int_t)(time(NULL) - d->started),
	    "requests",
	    "total", (json_int_t)atomic_load(&d->requests),
	    "bad_request", (json_int_t)atomic_load(&d->bad_requests),
	    "refused", (json_int_t)atomic_load(&d->refusals),
	    "unavailable", (json_int_t)atomic_load(&d->unavailable),
	    "deadline_exceeded", (json_int_t)atomic_load(&d->deadline_exceeded),
	    "busy", (json_int_t)atomic_load(&d->busy),
	    "dropped_late", (json_int_t)atomic_load(&d->dropped_late),
	    "connections",
	    "open", (json_int_t)atomic_load(&d->connections_open),
	    "total", (json_int_t)atomic_load(&d->connections_total),
	    "evicted", (json_int_t)atomic_load(&d->connections_evicted),
	    "refused", (json_int_t)atomic_load(&d->connections_refused),
	    "max", d->cfg->daemon.max_connections,
	    "workers", d->cfg->daemon.workers,
	    "directory", dir, "store", store, "mail", mail);
	if (res->body != NULL)
		json_object_set_new(res->body, "passwords", json_pack("{s:I}", "verified",
		    (json_int_t)portail_flow_verified(d->flow)));
}

/* ---- gpi.lookup (admin) -------------------------------------------------- */

static const struct portail_proto_field gpi_lookup_fields[] = {
	{ "email", PT_STR, true, 254 },
	{ NULL, PT_STR, false, 0 },
};

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The children on record, as gpi.lookup and session.check give them. */
static json_t *
children_json(const portail_gpi_result *r)
{
	json_t *kids = json_array();

	for (size_t i = 0; i < r->n_children; i++) {
		const struct portail_gpi_child *c = &r->children[i];

		json_array_append_new(kids, json_pack("{s:o, s:o, s:o, s:b}",
		    "student_id", str_or_null(c->student_id), "name", str_or_null(c->name),
		    "school", str_or_null(c->school), "subscribed", c->subscribed));
	}
	return kids;
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
		refuse(ctx, res, PORTAIL_ERR_INVALID, "bad_address", PORTAIL_MSG_OPS_BAD_ADDRESS);
		return;
	}
	if (ctx->d->gpi == NULL) {
		refuse(ctx, res, PORTAIL_ERR_UNAVAILABLE, "no_directory",
		    PORTAIL_MSG_OPS_NO_DIRECTORY);
		return;
	}
	s = portail_gpi_lookup(ctx->d->gpi, email, &r, &err);
	if (s != PORTAIL_OK) {
		if (s == PORTAIL_ERR_BUSY)
			res->summary = SUMMARY_DIRECTORY_BUSY;
		else
			log_msg(LOG_ERR, "directory: %s", err.message);
		refuse(ctx, res, PORTAIL_ERR_UNAVAILABLE, "directory_unavailable",
		    PORTAIL_MSG_OPS_DIRECTORY_UNAVAILABLE);
		return;
	}
	kids = children_json(r);
	res->body = json_pack("{s:s, s:b, s:o}", "email", email, "known", r->known,
	    "children", kids);
	res->reason = r->known ? "known" : (r->n_children ? "no_subscribed_school" : "not_on_record");
	portail_gpi_result_free(r);
}

/* ---- the parent's flows --------------------------------------------------- */

static const char *
lang_of(struct op_ctx *ctx)
{
	return ctx->en ? "en" : "fr";
}

static bool
flow_ready(struct op_ctx *ctx, struct op_result *res)
{
	if (ctx->d->flow != NULL)
		return true;
	refuse(ctx, res, PORTAIL_ERR_UNAVAILABLE, "no_store", PORTAIL_MSG_OPS_NO_STORE);
	return false;
}

/*
 * The refusals of the flows: each status, the reason logged and the
 * message a parent sees. Any other status is unavailable.
 */
static const struct refusal {
	portail_status status;
	const char *reason;
	enum portail_msg msg;
} refusals[] = {
	{ PORTAIL_ERR_INVALID, "bad_input", PORTAIL_MSG_OPS_BAD_INPUT },
	{ PORTAIL_ERR_TOO_SOON, "too_soon", PORTAIL_MSG_OPS_TOO_SOON },
	{ PORTAIL_ERR_RATE_LIMITED, "rate_limited", PORTAIL_MSG_OPS_RATE_LIMITED },
	{ PORTAIL_ERR_WRONG_CODE, "wrong_code", PORTAIL_MSG_OPS_WRONG_CODE },
	{ PORTAIL_ERR_EXPIRED_CODE, "expired_code", PORTAIL_MSG_OPS_EXPIRED_CODE },
	{ PORTAIL_ERR_TOO_MANY_TRIES, "too_many_tries", PORTAIL_MSG_OPS_TOO_MANY_TRIES },
	{ PORTAIL_ERR_NO_CODE, "no_code", PORTAIL_MSG_OPS_NO_CODE },
	{ PORTAIL_ERR_BAD_TICKET, "bad_ticket", PORTAIL_MSG_OPS_BAD_TICKET },
	{ PORTAIL_ERR_EXISTS, "exists", PORTAIL_MSG_OPS_EXISTS },
	{ PORTAIL_ERR_UNKNOWN, "unknown", PORTAIL_MSG_OPS_UNKNOWN },
	{ PORTAIL_ERR_REFUSED, "bad_password", PORTAIL_MSG_OPS_BAD_PASSWORD },
	{ PORTAIL_ERR_LOCKED, "locked", PORTAIL_MSG_OPS_LOCKED },
	{ PORTAIL_ERR_DISABLED, "disabled", PORTAIL_MSG_OPS_DISABLED },
	{ PORTAIL_ERR_EXPIRED, "expired", PORTAIL_MSG_OPS_EXPIRED },
	{ PORTAIL_ERR_TOO_MANY_TOKENS, "too_many_tokens", PORTAIL_MSG_OPS_TOO_MANY_TOKENS },
};

/* The message a parent sees for each refusal of the flows. */
static void
flow_failed(struct op_ctx *ctx, struct op_result *res, portail_status s, const portail_error *err)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		if (refusals[i].status == s) {
			refuse(ctx, res, s, refusals[i].reason, refusals[i].msg);
			return;
		}
	}
	/* the directory's bulkhead: an outage, counted where it refused (ops_directory_refused) */
	if (s == PORTAIL_ERR_BUSY)
		res->summary = SUMMARY_DIRECTORY_BUSY;
	else if (err != NULL && err->message[0] != '\0')
		log_msg(LOG_ERR, "%s", err->message);
	refuse(ctx, res, PORTAIL_ERR_UNAVAILABLE, "unavailable", PORTAIL_MSG_UNAVAILABLE);
}

static const char *
str(struct op_ctx *ctx, const char *name)
{
	return json_string_value(json_object_get(ctx->req, name));
}

static const struct portail_proto_field code_request_fields[] = {
	{ "email", PT_STR, true, 254 },
	{ "purpose", PT_STR, true, 16 },
	{ NULL, PT_STR, false, 0 },
};

/* the store's garbage collection, when it is due (manage.h); its failure is the next one's */
static void
maybe_gc(struct daemon *d, int64_t now)
{
	(void)portail_manage_gc(d->store, &d->last_gc, now, NULL, NULL);
}

/* ms: what a code request takes at least, so that its time tells nothing */
static void
op_code_request(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	int64_t now = daemon_now();
	struct timespec until;
	int wait = 0;
	bool sent = false;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return;
	/*
	 * The answer leaves no sooner than [daemon] code_request_floor_ms after the
	 * request began, whatever the address (DESIGN §2, enumeration): an
	 * address on file costs a durable write (its code and its mail, one
	 * transaction) that an address on no record does not (nothing
	 * durable, issue 13), about 0.2 ms apart (BENCHMARKS.md, bench_enum).
	 */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += ctx->d->cfg->daemon.code_request_floor_ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	maybe_gc(ctx->d, now);
	s = portail_flow_code_request(ctx->d->flow, str(ctx, "email"), str(ctx, "purpose"),
	    lang_of(ctx), now, &wait, &sent, &err);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	/* a request that sent nothing, or was refused by the limits, is one
	 * of a flood's: counted, not logged one by one (issue 13) */
	if ((s == PORTAIL_OK && !sent) || s == PORTAIL_ERR_TOO_SOON || s == PORTAIL_ERR_RATE_LIMITED)
		res->summary = SUMMARY_CODE_REQUEST;
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		if (s == PORTAIL_ERR_TOO_SOON)
			res->body = json_pack("{s:i}", "retry_after", wait);
		return;
	}
	/* the same answer whatever the address (no enumeration) */
	res->body = json_pack("{s:s}", "message", text(ctx, PORTAIL_MSG_OPS_CODE_SENT));
	res->reason = "code_requested";
}

static const struct portail_proto_field code_verify_fields[] = {
	{ "email", PT_STR, true, 254 },
	{ "purpose", PT_STR, true, 16 },
	{ "code", PT_STR, true, 64 },
	{ "link_ticket", PT_STR, false, 64 },     /* purpose "link" */
	{ NULL, PT_STR, false, 0 },
};

static void
op_code_verify(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	char ticket[PORTAIL_TICKET_LEN + 1];
	int tries = 0;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return;
	if (strcmp(str(ctx, "purpose"), "link") == 0)
		s = portail_flow_link_code_verify(ctx->d->flow, str(ctx, "link_ticket"),
		    str(ctx, "email"), str(ctx, "code"), daemon_now(), ticket, &tries, &err);
	else
		s = portail_flow_code_verify(ctx->d->flow, str(ctx, "email"), str(ctx, "purpose"),
		    str(ctx, "code"), daemon_now(), ticket, &tries, &err);
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		if (s == PORTAIL_ERR_WRONG_CODE)
			res->body = json_pack("{s:i}", "tries_left", tries);
		return;
	}
	res->body = json_pack("{s:s, s:i}", "ticket", ticket, "expires_in", PORTAIL_TICKET_LIFETIME);
	sodium_memzero(ticket, sizeof(ticket));
	res->reason = "code_verified";
}

/* A new password refused (MISMATCH or POLICY): the policy's reason and message. */
static void
policy_failed(struct op_ctx *ctx, struct op_result *res, portail_status s,
    enum portail_policy_reason why)
{
	char msg[512];

	fail_with(ctx, res, s, portail_policy_reason_name(why),
	    portail_policy_message(why, ctx->en, &ctx->d->cfg->password, msg, sizeof(msg)));
	res->body = json_pack("{s:s}", "reason", portail_policy_reason_name(why));
}

static const struct portail_proto_field finish_fields[] = {
	{ "ticket", PT_STR, true, 64 },
	{ "password", PT_STR, true, 4096 },
	{ "confirmation", PT_STR, true, 4096 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_finish(struct op_ctx *ctx, struct op_result *res, bool signup)
{
	portail_error err = { { 0 } };
	enum portail_policy_reason why = PORTAIL_POLICY_OK;
	char *email = NULL;
	portail_status s;

	if (!flow_ready(ctx, res))
		return;
	s = (signup ? portail_flow_signup_finish : portail_flow_reset_finish)(ctx->d->flow,
	    str(ctx, "ticket"), str(ctx, "password"), str(ctx, "confirmation"), lang_of(ctx),
	    daemon_now(), &why, &email, &err);
	if (s == PORTAIL_ERR_POLICY || s == PORTAIL_ERR_MISMATCH) {
		policy_failed(ctx, res, s, why);
		return;
	}
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	res->body = json_pack("{s:s}", "email", email);
	res->reason = signup ? "account_created" : "password_reset";
	/* the log names the account: kept in the body, which outlives ctx */
	ctx->user = json_string_value(json_object_get(res->body, "email"));
	free(email);
}

static void
op_account_create(struct op_ctx *ctx, struct op_result *res)
{
	op_finish(ctx, res, true);
}

static void
op_password_reset(struct op_ctx *ctx, struct op_result *res)
{
	op_finish(ctx, res, false);
}

static const struct portail_proto_field auth_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ "password", PT_STR, true, 4096 },
	{ "check", PT_BOOL, false, 0 },  /* the access check too, after proof */
	{ "session", PT_BOOL, false, 0 },        /* portail-web: a browser session, after both */
	{ "previous_session", PT_STR, false, 128 },      /* ... the one it replaces */
	{ NULL, PT_STR, false, 0 },
};

/*
 * A refused sign-in, as this peer may see it (DESIGN §2, enumeration).
 * Unknown and locked are decided before any proof: told apart from a
 * wrong password, they say whether the address has an account. A
 * privileged peer (root, [daemon] admin_group: sshd, saslauthd, the
 * admin's CLI) gets each, as PAM stacking needs ([user_unknown=ignore],
 * PAM_MAXTRIES); any other peer gets one refusal, with one message that
 * covers the lockout too, and no retry_after. The log keeps the truth.
 * Disabled comes only after the right password, so it is told to all.
 */
static void
signin_failed(struct op_ctx *ctx, struct op_result *res, portail_status s,
    const portail_error *err, int64_t retry)
{
	if ((s == PORTAIL_ERR_UNKNOWN || s == PORTAIL_ERR_LOCKED || s == PORTAIL_ERR_REFUSED) &&
	    !ops_peer_is_admin(ctx->d, ctx->peer)) {
		fail_with(ctx, res, PORTAIL_ERR_REFUSED, s == PORTAIL_ERR_LOCKED ? "locked" :
		    s == PORTAIL_ERR_UNKNOWN ? "unknown" : "bad_password",
		    text(ctx, PORTAIL_MSG_OPS_SIGNIN_REFUSED));
		return;
	}
	flow_failed(ctx, res, s, err);
	if (s == PORTAIL_ERR_LOCKED)
		res->body = json_pack("{s:I}", "retry_after", (json_int_t)retry);
}

/* The request's email and password, checked like a sign-in; false with res filled. */
static bool
password_ok(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	int64_t retry = 0;
	portail_status s;

	s = portail_flow_auth_password(ctx->d->flow, str(ctx, "email"), str(ctx, "password"),
	    daemon_now(), &retry, &err);
	if (s == PORTAIL_OK)
		return true;
	signin_failed(ctx, res, s, &err, retry);
	return false;
}

/*
 * The access check of an address whose owner just proved itself: its
 * result as a word for the answer's "access" ("active", "grace",
 * "expired", "disabled", "unavailable"), the message beside it.
 */
static const char *
access_word(struct op_ctx *ctx, char *msg, size_t len)
{
	struct op_result r = { .status = PORTAIL_OK };
	portail_error err = { { 0 } };
	bool grace = false;
	portail_status s;

	s = portail_flow_account_check(ctx->d->flow, str(ctx, "email"), daemon_now(),
	    &grace, &err);
	if (s == PORTAIL_OK) {
		if (grace)
			log_msg(LOG_WARNING, "directory down: %s allowed on a check younger than "
			    "[gpi] grace", str(ctx, "email"));
		(void)snprintf(msg, len, "%s", "");
		return grace ? "grace" : "active";
	}
	flow_failed(ctx, &r, s, &err);
	json_decref(r.body);
	(void)snprintf(msg, len, "%s", r.message);
	return s == PORTAIL_ERR_EXPIRED ? "expired" : s == PORTAIL_ERR_DISABLED ? "disabled" :
	    "unavailable";
}

/* ---- browser sessions (portail-web) ------------------------------------------- */

/*
 * A peer that may use the browser sessions: root, or [web] user's uid.
 * Not its group: www-data's group is the web server's and its apps' too.
 * False with res filled.
 */
static bool
web_peer(struct op_ctx *ctx, struct op_result *res)
{
	const struct daemon *d = ctx->d;

	if (ctx->peer->uid == 0 || (d->has_web_user && ctx->peer->uid == d->web_uid))
		return true;
	refuse(ctx, res, PORTAIL_ERR_FORBIDDEN, "not_web", PORTAIL_MSG_OPS_NOT_WEB);
	return false;
}

static bool
wants_session(struct op_ctx *ctx)
{
	return json_is_true(json_object_get(ctx->req, "session"));
}

/*
 * After a proof this op checked: a new session for email in the
 * answer's "session", the request's previous_session revoked with it.
 * When none can be made: with done (the op's change is made already),
 * the answer stays a success without "session", the failure logged;
 * otherwise it becomes the failure.
 */
static void
session_mint(struct op_ctx *ctx, struct op_result *res, const char *email, const char *reason,
    bool done)
{
	char secret[PORTAIL_SESSION_LEN + 1];
	portail_error err = { { 0 } };
	portail_status s;

	s = portail_session_create(&ctx->d->sessions, email, str(ctx, "previous_session"),
	    daemon_now(), secret, &err);
	if (s != PORTAIL_OK && done) {
		log_msg(LOG_ERR, "no session after %s: %s", reason,
		    err.message[0] != '\0' ? err.message : portail_strerror(s));
		return;
	}
	if (s != PORTAIL_OK) {
		json_decref(res->body);
		res->body = NULL;
		flow_failed(ctx, res, s, &err);
		return;
	}
	json_object_set_new(res->body, "session", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	res->reason = reason;
}

static void
op_auth_password(struct op_ctx *ctx, struct op_result *res)
{
	json_t *check = json_object_get(ctx->req, "check");
	bool session = wants_session(ctx);
	char msg[512];

	ctx->user = str(ctx, "email");
	/* a session only for portail-web, and only after the access check */
	if (!flow_ready(ctx, res) || (session && !web_peer(ctx, res)) || !password_ok(ctx, res))
		return;
	if (json_is_true(check) || session) {
		const char *word = access_word(ctx, msg, sizeof(msg));

		res->body = json_pack("{s:s, s:s, s:s}", "email", str(ctx, "email"), "access", word,
		    "access_message", msg);
		res->reason = strcmp(word, "active") == 0 ? "password" : word;
		if (session && (strcmp(word, "active") == 0 || strcmp(word, "grace") == 0))
			session_mint(ctx, res, str(ctx, "email"), "password_session", false);
		return;
	}
	res->body = json_pack("{s:s}", "email", str(ctx, "email"));
	res->reason = "password";
}

static const struct portail_proto_field change_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ "old_password", PT_STR, true, 4096 },
	{ "password", PT_STR, true, 4096 },
	{ "confirmation", PT_STR, true, 4096 },
	{ "session", PT_BOOL, false, 0 },        /* portail-web: a new session (the others die) */
	{ "previous_session", PT_STR, false, 128 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_password_change(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	enum portail_policy_reason why = PORTAIL_POLICY_OK;
	int64_t retry = 0;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res) || (wants_session(ctx) && !web_peer(ctx, res)))
		return;
	s = portail_flow_change_password(ctx->d->flow, str(ctx, "email"), str(ctx, "old_password"),
	    str(ctx, "password"), str(ctx, "confirmation"), lang_of(ctx), daemon_now(), &why,
	    &retry, &err);
	if (s == PORTAIL_ERR_POLICY || s == PORTAIL_ERR_MISMATCH) {
		policy_failed(ctx, res, s, why);
		return;
	}
	if (s != PORTAIL_OK) {
		signin_failed(ctx, res, s, &err, retry);
		return;
	}
	res->body = json_pack("{s:s}", "email", str(ctx, "email"));
	res->reason = "password_changed";
	/* the change revoked every session (store.h): this browser gets a new one */
	if (wants_session(ctx))
		session_mint(ctx, res, str(ctx, "email"), "password_changed_session", true);
}

static const struct portail_proto_field email_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_account_check(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	bool grace = false;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return;
	/*
	 * It tells ok, disabled, expired or unknown for any address: only
	 * for privileged peers (DESIGN §2, enumeration); any other asks
	 * auth.password with "check" (the check after the proof).
	 */
	if (!ops_peer_is_admin(ctx->d, ctx->peer)) {
		refuse(ctx, res, PORTAIL_ERR_FORBIDDEN, "not_privileged",
		    PORTAIL_MSG_OPS_CHECK_PRIVILEGED);
		return;
	}
	s = portail_flow_account_check(ctx->d->flow, str(ctx, "email"), daemon_now(),
	    &grace, &err);
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	if (grace)
		log_msg(LOG_WARNING, "directory down: %s allowed on a check younger than [gpi] grace",
		    str(ctx, "email"));
	res->body = json_pack("{s:s, s:b}", "email", str(ctx, "email"), "grace", grace);
	res->reason = grace ? "grace" : "active";
}

/* ---- long-lived tokens ------------------------------------------------------------ */

static bool session_owner(struct op_ctx *ctx, struct op_result *res);

/*
 * The parent with its password or its browser session (portail-web: as
 * social.unlink's), or an admin (portail_manage_owner); false with res
 * filled.
 */
static bool
token_owner(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	int64_t retry = 0;
	portail_status s;

	if (str(ctx, "session") != NULL)
		return session_owner(ctx, res);
	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return false;
	/* whether the peer is an admin matters (and is looked up) only without a password */
	s = portail_manage_owner(ctx->d->flow, str(ctx, "email"), str(ctx, "password"),
	    str(ctx, "password") == NULL && ops_peer_is_admin(ctx->d, ctx->peer), daemon_now(),
	    &retry, &err);
	if (s == PORTAIL_OK)
		return true;
	if (s == PORTAIL_ERR_FORBIDDEN)
		refuse(ctx, res, s, "no_password", PORTAIL_MSG_OPS_PASSWORD_REQUIRED);
	else
		signin_failed(ctx, res, s, &err, retry);
	return false;
}

static const struct portail_proto_field token_issue_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ "password", PT_STR, false, 4096 },
	{ "label", PT_STR, true, 64 },
	{ "session", PT_STR, false, 128 },       /* portail-web: the parent's browser session */
	{ NULL, PT_STR, false, 0 },
};

static void
op_token_issue(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	char token[PORTAIL_TOKEN_LEN + 1];
	int64_t id = 0, now = daemon_now();
	portail_status s;

	if (!token_owner(ctx, res))
		return;
	s = portail_flow_token_issue(ctx->d->flow, str(ctx, "email"), str(ctx, "label"), now, token,
	    &id, &err);
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	/* shown once: the daemon keeps only its hash */
	res->body = json_pack("{s:s, s:I, s:s}", "token", token, "id", (json_int_t)id,
	    "label", str(ctx, "label"));
	sodium_memzero(token, sizeof(token));
	res->reason = "token_issued";
}

static const struct portail_proto_field token_verify_fields[] = {
	{ "token", PT_STR, true, 128 },
	{ "email", PT_STR, false, 1024 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_token_verify(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	char *email = NULL;
	int64_t expires = 0;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return;
	s = portail_flow_token_verify(ctx->d->flow, str(ctx, "token"), str(ctx, "email"),
	    daemon_now(), &email, &expires, &err);
	if (s != PORTAIL_OK) {
		if (s == PORTAIL_ERR_REFUSED) {
			refuse(ctx, res, s, "bad_token", PORTAIL_MSG_OPS_BAD_TOKEN);
			return;
		}
		flow_failed(ctx, res, s, &err);
		return;
	}
	/* expires: RFC 7662's exp, for portail-web's introspection */
	res->body = json_pack("{s:s, s:I}", "email", email, "expires", (json_int_t)expires);
	ctx->user = json_string_value(json_object_get(res->body, "email"));
	res->reason = "token";
	free(email);
}

static const struct portail_proto_field token_owner_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ "password", PT_STR, false, 4096 },
	{ "id", PT_INT, false, 0 },
	{ "session", PT_STR, false, 128 },       /* portail-web: the parent's browser session */
	{ NULL, PT_STR, false, 0 },
};

static void
op_token_list(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_token *list = NULL;
	portail_error err = { { 0 } };
	size_t n = 0;
	json_t *arr;
	portail_status s;

	if (!token_owner(ctx, res))
		return;
	s = portail_manage_token_list(ctx->d->store, str(ctx, "email"), daemon_now(), &list, &n,
	    &err);
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		/* labels and dates, never the token */
		json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:I, s:I}", "id",
		    (json_int_t)list[i].id, "label", list[i].label, "created", (json_int_t)list[i].created,
		    "expires", (json_int_t)list[i].expires, "last_used", (json_int_t)list[i].last_used));
		portail_token_clear(&list[i]);
	}
	free(list);
	res->body = json_pack("{s:o}", "tokens", arr);
}

static void
op_token_revoke(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	json_t *id = json_object_get(ctx->req, "id");
	int64_t which = id != NULL ? (int64_t)json_integer_value(id) : 0;
	portail_status s;

	if (!token_owner(ctx, res))
		return;
	/* an id: that token; none: all of them (epoch bump) */
	s = portail_manage_token_revoke(ctx->d->store, str(ctx, "email"), id != NULL ? &which : NULL,
	    daemon_now(), &err);
	/* revoked already, or another account's (the same answer: nothing said of it) */
	if (s == PORTAIL_ERR_UNKNOWN && id != NULL) {
		refuse(ctx, res, s, "no_such_token", PORTAIL_MSG_OPS_NO_SUCH_TOKEN);
		return;
	}
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	res->body = json_pack("{s:b}", "revoked", 1);
	res->reason = id != NULL ? "token_revoked" : "tokens_revoked";
}

/* ---- session.check, session.revoke (portail-web) ------------------------------ */

static const struct portail_proto_field session_check_fields[] = {
	{ "session", PT_STR, true, 128 },
	{ "account", PT_BOOL, false, 0 },        /* the children on record and the links too */
	{ NULL, PT_STR, false, 0 },
};

static const struct portail_proto_field session_fields[] = {
	{ "session", PT_STR, true, 128 },
	{ NULL, PT_STR, false, 0 },
};

/*
 * The account's own records, for /compte: its children on record and
 * the providers it is linked with. The directory down is said
 * ("directory": "unavailable"), not a failure of the whole answer.
 */
static void
own_records(struct op_ctx *ctx, struct op_result *res, const struct portail_account *a)
{
	portail_gpi_result *r = NULL;
	portail_error err = { { 0 } };
	char **links = NULL;
	json_t *names = json_array();

	if (ctx->d->gpi != NULL && portail_gpi_lookup(ctx->d->gpi, a->email, &r, &err) == PORTAIL_OK) {
		json_object_set_new(res->body, "children", children_json(r));
		json_object_set_new(res->body, "directory", json_string("ok"));
	} else {
		if (err.message[0] != '\0')
			log_msg(LOG_ERR, "directory: %s", err.message);
		json_object_set_new(res->body, "children", json_array());
		json_object_set_new(res->body, "directory", json_string("unavailable"));
	}
	portail_gpi_result_free(r);
	if (portail_store_link_list(ctx->d->store, a->email_key, &links, &err) != PORTAIL_OK) {
		log_msg(LOG_ERR, "%s", err.message);
		json_decref(names);
		json_decref(res->body);
		res->body = NULL;
		refuse(ctx, res, PORTAIL_ERR_UNAVAILABLE, "unavailable", PORTAIL_MSG_UNAVAILABLE);
		return;
	}
	for (size_t i = 0; links != NULL && links[i] != NULL; i++)
		json_array_append_new(names, json_string(links[i]));
	portail_manage_links_free(links);
	json_object_set_new(res->body, "links", names);
}

/* The request's session, live, into *a (cleared by the caller); false with res filled. */
static bool
live_session(struct op_ctx *ctx, struct op_result *res, struct portail_account *a)
{
	portail_error err = { { 0 } };
	portail_status s;

	if (!flow_ready(ctx, res) || !web_peer(ctx, res))
		return false;
	s = portail_session_check(&ctx->d->sessions, str(ctx, "session"), daemon_now(), a, &err);
	if (s == PORTAIL_ERR_REFUSED)
		refuse(ctx, res, s, "no_session", PORTAIL_MSG_OPS_SESSION_REFUSED);
	else if (s != PORTAIL_OK)
		flow_failed(ctx, res, s, &err);
	return s == PORTAIL_OK;
}

static void
op_session_check(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_account a = { 0 };

	if (!live_session(ctx, res, &a))
		return;
	if ((res->body = json_pack("{s:s}", "email", a.email)) != NULL &&
	    json_is_true(json_object_get(ctx->req, "account")))
		own_records(ctx, res, &a);
	if (res->status == PORTAIL_OK) {
		ctx->user = json_string_value(json_object_get(res->body, "email"));
		res->reason = "session";
	}
	portail_account_clear(&a);
}

static void
op_session_revoke(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	portail_status s;

	if (!flow_ready(ctx, res) || !web_peer(ctx, res))
		return;
	s = portail_session_revoke(&ctx->d->sessions, str(ctx, "session"), &err);
	if (s != PORTAIL_OK && s != PORTAIL_ERR_UNKNOWN) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	/* signing out a session that is gone already is done too */
	res->body = json_pack("{s:b}", "revoked", s == PORTAIL_OK);
	res->reason = s == PORTAIL_OK ? "session_revoked" : "no_session";
}

/* The request's session is live and the request's email its account's; false with res filled. */
static bool
session_owner(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_account a = { 0 };
	char *key = NULL;
	bool ok;

	ctx->user = str(ctx, "email");
	if (!live_session(ctx, res, &a))
		return false;
	ok = portail_email_key(str(ctx, "email"), &key, NULL) == PORTAIL_OK &&
	    strcmp(key, a.email_key) == 0;
	if (!ok)        /* another parent's session: the same refusal as a dead one */
		refuse(ctx, res, PORTAIL_ERR_REFUSED, "other_account", PORTAIL_MSG_OPS_SESSION_REFUSED);
	free(key);
	portail_account_clear(&a);
	return ok;
}

/* ---- social accounts ---------------------------------------------------------- */

/* The answer of a social step; takes r's strings. */
static void
social_answer(struct op_ctx *ctx, struct op_result *res, struct portail_social_result *r)
{
	switch (r->state) {
	case PORTAIL_SOCIAL_SIGNED_IN:
	case PORTAIL_SOCIAL_LINKED:
		res->body = json_pack("{s:s, s:s}", "state", r->state == PORTAIL_SOCIAL_LINKED ?
		    "linked" : "signed_in", "email", r->email);
		ctx->user = json_string_value(json_object_get(res->body, "email"));
		if (r->state == PORTAIL_SOCIAL_LINKED)
			json_object_set_new(res->body, "created", json_boolean(r->created));
		json_object_set_new(res->body, "provider", json_string(r->provider));
		if (r->token[0] != '\0') {
			json_object_set_new(res->body, "token", json_string(r->token));
			json_object_set_new(res->body, "token_id", json_integer(r->token_id));
		}
		res->reason = r->state == PORTAIL_SOCIAL_LINKED ? "social_linked" : "social";
		/* portail-web: a browser session (web_peer checked by the op); a link made stays */
		if (wants_session(ctx))
			session_mint(ctx, res, r->email, r->state == PORTAIL_SOCIAL_LINKED ?
			    "social_linked_session" : "social_session",
			    r->state == PORTAIL_SOCIAL_LINKED);
		break;
	case PORTAIL_SOCIAL_LINK:
		res->body = json_pack("{s:s, s:s, s:i}", "state", "link", "link_ticket",
		    r->link_ticket, "expires_in", PORTAIL_TICKET_LIFETIME);
		if (r->provider_email != NULL)
			json_object_set_new(res->body, "provider_email", json_string(r->provider_email));
		/* portail-web: "Enregistrer" (links at once) rather than "Obtenir un code" */
		json_object_set_new(res->body, "provider_vouched", json_boolean(r->provider_vouched));
		json_object_set_new(res->body, "message",
		    json_string(text(ctx, PORTAIL_MSG_OPS_LINK_ADDRESS)));
		res->reason = "social_unlinked";
		break;
	case PORTAIL_SOCIAL_CODE_SENT:
		/* the same answer whatever the address (no enumeration) */
		res->body = json_pack("{s:s, s:s}", "state", "code_sent", "message",
		    text(ctx, PORTAIL_MSG_OPS_CODE_SENT));
		res->reason = "link_code_requested";
		break;
	}
	portail_social_result_clear(r);
}

/* begin: UNKNOWN names no provider (elsewhere: no account or no child left). */
static void
social_failed(struct op_ctx *ctx, struct op_result *res, portail_status s,
    const portail_error *err, bool begin)
{
	if (s == PORTAIL_ERR_REFUSED) {
		/* the provider's reason goes to the log, not to the parent */
		log_msg(LOG_NOTICE, "social sign-in refused: %s", err->message);
		refuse(ctx, res, s, "bad_provider_token", PORTAIL_MSG_OPS_BAD_PROVIDER_TOKEN);
	} else if (s == PORTAIL_ERR_INVALID && begin) {
		refuse(ctx, res, s, "bad_input", PORTAIL_MSG_OPS_BAD_SOCIAL_INPUT);
	} else if (s == PORTAIL_ERR_UNKNOWN && begin) {
		refuse(ctx, res, s, "unknown_provider", PORTAIL_MSG_OPS_UNKNOWN_PROVIDER);
	} else if (s == PORTAIL_ERR_EXISTS) {
		refuse(ctx, res, s, "already_linked", PORTAIL_MSG_OPS_ALREADY_LINKED);
	} else {
		if (s == PORTAIL_ERR_UNAVAILABLE && err->message[0] != '\0')
			log_msg(LOG_ERR, "%s", err->message);
		flow_failed(ctx, res, s, s == PORTAIL_ERR_UNAVAILABLE ? NULL : err);
	}
}

static const struct portail_proto_field social_begin_fields[] = {
	{ "provider", PT_STR, true, 32 },
	{ "access_token", PT_STR, false, 4096 },  /* or id_token and nonce */
	{ "id_token", PT_STR, false, 16384 },
	{ "nonce", PT_STR, false, 255 },
	{ "label", PT_STR, false, 64 },          /* "rester connecté": a token too */
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_begin(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_social_result r;
	portail_error err = { { 0 } };
	portail_status s;

	if (!flow_ready(ctx, res))
		return;
	if ((str(ctx, "access_token") == NULL) == (str(ctx, "id_token") == NULL) ||
	    (str(ctx, "id_token") == NULL) != (str(ctx, "nonce") == NULL)) {
		refuse(ctx, res, PORTAIL_ERR_INVALID, "bad_input",
		    PORTAIL_MSG_OPS_TOKEN_OR_ID_TOKEN);
		return;
	}
	if (str(ctx, "access_token") != NULL && ctx->d->providers != NULL &&
	    portail_providers_has(ctx->d->providers, str(ctx, "provider")) &&
	    !portail_providers_take_access_tokens(ctx->d->providers, str(ctx, "provider"))) {
		/* issue 11: nothing says whom such a token was minted for */
		refuse(ctx, res, PORTAIL_ERR_REFUSED, "id_token_required",
		    PORTAIL_MSG_OPS_ID_TOKEN_REQUIRED);
		return;
	}
	if (str(ctx, "id_token") != NULL)
		s = portail_flow_social_begin_id_token(ctx->d->flow, str(ctx, "provider"),
		    str(ctx, "id_token"), str(ctx, "nonce"), str(ctx, "label"), daemon_now(),
		    &r, &err);
	else
		s = portail_flow_social_begin(ctx->d->flow, str(ctx, "provider"),
		    str(ctx, "access_token"), str(ctx, "label"), daemon_now(), &r, &err);
	res->provider_us = r.provider_us;
	if (r.provider != NULL && r.subject != NULL)
		snprintf(res->identity, sizeof(res->identity), "%s:%s", r.provider, r.subject);
	if (s != PORTAIL_OK) {
		social_failed(ctx, res, s, &err, true);
		return;
	}
	social_answer(ctx, res, &r);
}

static const struct portail_proto_field social_link_fields[] = {
	{ "link_ticket", PT_STR, true, 64 },
	{ "email", PT_STR, true, 254 },
	{ "label", PT_STR, false, 64 },
	{ "session", PT_BOOL, false, 0 },        /* portail-web: a browser session when linked */
	{ "previous_session", PT_STR, false, 128 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_link(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_social_result r;
	portail_error err = { { 0 } };
	int64_t now = daemon_now();
	int wait = 0;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res) || (wants_session(ctx) && !web_peer(ctx, res)))
		return;
	maybe_gc(ctx->d, now);
	s = portail_flow_social_link(ctx->d->flow, str(ctx, "link_ticket"), str(ctx, "email"),
	    lang_of(ctx), str(ctx, "label"), now, &r, &wait, &err);
	/* as code.request's: what sent nothing, or hit the limits, is a flood's */
	if ((s == PORTAIL_OK && r.state == PORTAIL_SOCIAL_CODE_SENT && !r.mailed) ||
	    s == PORTAIL_ERR_TOO_SOON || s == PORTAIL_ERR_RATE_LIMITED)
		res->summary = SUMMARY_SOCIAL_LINK;
	if (s != PORTAIL_OK) {
		social_failed(ctx, res, s, &err, false);
		if (s == PORTAIL_ERR_TOO_SOON)
			res->body = json_pack("{s:i}", "retry_after", wait);
		return;
	}
	social_answer(ctx, res, &r);
}

static const struct portail_proto_field social_finish_fields[] = {
	{ "link_ticket", PT_STR, true, 64 },
	{ "ticket", PT_STR, true, 64 },
	{ "label", PT_STR, false, 64 },
	{ "session", PT_BOOL, false, 0 },        /* portail-web: a browser session when linked */
	{ "previous_session", PT_STR, false, 128 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_finish(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_social_result r;
	portail_error err = { { 0 } };
	portail_status s;

	if (!flow_ready(ctx, res) || (wants_session(ctx) && !web_peer(ctx, res)))
		return;
	s = portail_flow_social_finish(ctx->d->flow, str(ctx, "link_ticket"), str(ctx, "ticket"),
	    str(ctx, "label"), daemon_now(), &r, &err);
	if (s != PORTAIL_OK) {
		social_failed(ctx, res, s, &err, false);
		return;
	}
	social_answer(ctx, res, &r);
}

static const struct portail_proto_field social_unlink_fields[] = {
	{ "email", PT_STR, true, 1024 },
	{ "password", PT_STR, false, 4096 },
	{ "provider", PT_STR, true, 32 },
	{ "session", PT_STR, false, 128 },       /* portail-web: the parent's browser session */
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_unlink(struct op_ctx *ctx, struct op_result *res)
{
	portail_error err = { { 0 } };
	portail_status s;

	/* the parent with its password or its browser session, or an admin */
	if (str(ctx, "session") != NULL ? !session_owner(ctx, res) : !token_owner(ctx, res))
		return;
	s = portail_flow_social_unlink(ctx->d->flow, str(ctx, "email"), str(ctx, "provider"), &err);
	if (s == PORTAIL_ERR_UNKNOWN) {
		refuse(ctx, res, s, "not_linked", PORTAIL_MSG_OPS_NOT_LINKED);
		return;
	}
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	res->body = json_pack("{s:b}", "unlinked", 1);
	res->reason = "social_unlinked_by_owner";
}

/* ---- the browser's social sign-in (portail-web: oauth.h) ------------------------ */

static const struct portail_proto_field social_authorize_fields[] = {
	{ "provider", PT_STR, true, 32 },
	{ "return", PT_STR, false, PORTAIL_OAUTH_RETURN_MAX },  /* a path of the site, after */
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_authorize(struct op_ctx *ctx, struct op_result *res)
{
	char secret[PORTAIL_OAUTH_SECRET_LEN + 1], *url = NULL;
	portail_error err = { { 0 } };
	portail_status s;

	if (!flow_ready(ctx, res) || !web_peer(ctx, res))
		return;
	s = portail_flow_social_authorize(ctx->d->flow, str(ctx, "provider"), str(ctx, "return"),
	    daemon_now(), &url, secret, &err);
	if (s == PORTAIL_ERR_UNKNOWN)
		refuse(ctx, res, s, "no_code_flow", PORTAIL_MSG_OPS_OAUTH_NO_FLOW);
	else if (s == PORTAIL_ERR_INVALID)
		refuse(ctx, res, s, "bad_return", PORTAIL_MSG_OPS_BAD_RETURN);
	else if (s == PORTAIL_ERR_CONFIG) {
		log_msg(LOG_ERR, "social.authorize: %s", err.message);
		flow_failed(ctx, res, PORTAIL_ERR_UNAVAILABLE, NULL);
	} else if (s != PORTAIL_OK)
		flow_failed(ctx, res, s, s == PORTAIL_ERR_UNAVAILABLE ? NULL : &err);
	else {
		res->body = json_pack("{s:s, s:s, s:i}", "url", url, "state_secret", secret,
		    "expires_in", PORTAIL_OAUTH_LIFETIME);
		res->reason = "social_authorize";
	}
	sodium_memzero(secret, sizeof(secret));
	free(url);
}

static const struct portail_proto_field social_callback_fields[] = {
	{ "provider", PT_STR, true, 32 },
	{ "state_secret", PT_STR, true, 64 },   /* the cookie's */
	{ "state", PT_STR, false, 64 },         /* the provider's redirect's */
	{ "code", PT_STR, false, 4096 },
	{ "error", PT_STR, false, 64 },         /* the provider said no: the state is spent */
	{ "label", PT_STR, false, 64 },
	{ "session", PT_BOOL, false, 0 },
	{ "previous_session", PT_STR, false, 128 },
	{ NULL, PT_STR, false, 0 },
};

static void
op_social_callback(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_social_result r;
	portail_error err = { { 0 } };
	char *back = NULL;
	portail_status s;

	if (!flow_ready(ctx, res) || !web_peer(ctx, res))
		return;
	if (str(ctx, "error") != NULL) {
		s = portail_flow_social_abandon(ctx->d->flow, str(ctx, "state_secret"),
		    daemon_now(), &err);
		if (s != PORTAIL_OK)
			flow_failed(ctx, res, s, NULL);
		else {
			res->body = json_pack("{s:s}", "state", "abandoned");
			res->reason = "social_abandoned";
		}
		return;
	}
	s = portail_flow_social_callback(ctx->d->flow, str(ctx, "provider"),
	    str(ctx, "state_secret"), str(ctx, "state"), str(ctx, "code"), str(ctx, "label"),
	    daemon_now(), &r, &back, &err);
	res->provider_us = r.provider_us;
	if (r.provider != NULL && r.subject != NULL)
		snprintf(res->identity, sizeof(res->identity), "%s:%s", r.provider, r.subject);
	if (s == PORTAIL_ERR_BAD_TICKET) {
		log_msg(LOG_NOTICE, "social.callback refused: %s", err.message);
		refuse(ctx, res, s, "bad_state", PORTAIL_MSG_OPS_OAUTH_STATE);
		return;
	}
	if (s == PORTAIL_ERR_UNKNOWN && r.provider == NULL) {
		refuse(ctx, res, s, "no_code_flow", PORTAIL_MSG_OPS_OAUTH_NO_FLOW);
		return;
	}
	if (s == PORTAIL_ERR_CONFIG) {
		log_msg(LOG_ERR, "social.callback: %s", err.message);
		flow_failed(ctx, res, PORTAIL_ERR_UNAVAILABLE, NULL);
		return;
	}
	if (s != PORTAIL_OK) {
		social_failed(ctx, res, s, &err, false);
		return;
	}
	social_answer(ctx, res, &r);
	if (back != NULL && res->body != NULL)
		json_object_set_new(res->body, "return", json_string(back));
	free(back);
}

/* ---- accounts (admin) --------------------------------------------------------- */

static json_t *
account_json(const struct portail_account *a, int64_t now)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:i, s:I, s:I}",
	    "email", a->email,
	    "state", a->state == PORTAIL_ACCOUNT_DISABLED ? "disabled" : "enabled",
	    "has_password", a->password_hash != NULL,
	    "created", (json_int_t)a->created,
	    "updated", (json_int_t)a->updated,
	    "last_signin", (json_int_t)a->last_signin,
	    "failures", a->failures,
	    "locked_for", (json_int_t)portail_manage_locked_for(a, now),
	    "gpi_checked", (json_int_t)a->gpi_checked);
}

static void
op_account_list(struct op_ctx *ctx, struct op_result *res)
{
	struct portail_account *list = NULL;
	portail_error err = { { 0 } };
	size_t n = 0;
	json_t *arr;
	int64_t now = daemon_now();
	portail_status s;

	if (!flow_ready(ctx, res))
		return;
	if ((s = portail_manage_account_list(ctx->d->store, &list, &n, &err)) != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, account_json(&list[i], now));
		portail_account_clear(&list[i]);
	}
	free(list);
	res->body = json_pack("{s:o}", "accounts", arr);
}

/* show, disable, enable, unlock, delete: one address each (portail_manage_account) */
static void
account_admin(struct op_ctx *ctx, struct op_result *res, enum portail_manage_action action)
{
	struct portail_account a = { 0 };
	portail_error err = { { 0 } };
	int64_t now = daemon_now();
	char **links = NULL;
	json_t *account, *names;
	portail_status s;

	ctx->user = str(ctx, "email");
	if (!flow_ready(ctx, res))
		return;
	s = portail_manage_account(ctx->d->store, str(ctx, "email"), action, now, &a, &links, &err);
	if (s != PORTAIL_OK) {
		flow_failed(ctx, res, s, &err);
		return;
	}
	res->reason = portail_manage_action_name(action);
	if (action == PORTAIL_MANAGE_DELETE) {
		res->body = json_pack("{s:b}", "deleted", 1);
		return;
	}
	/* the providers it is linked with, never a subject or a token */
	names = json_array();
	for (size_t i = 0; links != NULL && links[i] != NULL; i++)
		json_array_append_new(names, json_string(links[i]));
	portail_manage_links_free(links);
	if ((account = account_json(&a, now)) != NULL)
		json_object_set_new(account, "links", names);
	else
		json_decref(names);
	res->body = json_pack("{s:o}", "account", account);
	portail_account_clear(&a);
}

static void
op_account_show(struct op_ctx *c, struct op_result *r)
{
	account_admin(c, r, PORTAIL_MANAGE_SHOW);
}

static void
op_account_disable(struct op_ctx *c, struct op_result *r)
{
	account_admin(c, r, PORTAIL_MANAGE_DISABLE);
}

static void
op_account_enable(struct op_ctx *c, struct op_result *r)
{
	account_admin(c, r, PORTAIL_MANAGE_ENABLE);
}

static void
op_account_unlock(struct op_ctx *c, struct op_result *r)
{
	account_admin(c, r, PORTAIL_MANAGE_UNLOCK);
}

static void
op_account_delete(struct op_ctx *c, struct op_result *r)
{
	account_admin(c, r, PORTAIL_MANAGE_DELETE);
}

/* ---- the table ----------------------------------------------------------- */

static const struct portail_proto_field no_fields[] = {
	{ NULL, PT_STR, false, 0 },
};

static const struct op ops[] = {
	{ "ping", false, true, no_fields, op_ping },
	{ "status", true, false, no_fields, op_status },
	{ "gpi.lookup", true, false, gpi_lookup_fields, op_gpi_lookup },
	{ "code.request", false, false, code_request_fields, op_code_request },
	{ "code.verify", false, false, code_verify_fields, op_code_verify },
	{ "account.create", false, false, finish_fields, op_account_create },
	{ "password.reset", false, false, finish_fields, op_password_reset },
	{ "auth.password", false, false, auth_fields, op_auth_password },
	{ "password.change", false, false, change_fields, op_password_change },
	{ "token.issue", false, false, token_issue_fields, op_token_issue },
	{ "token.verify", false, false, token_verify_fields, op_token_verify },
	{ "token.list", false, false, token_owner_fields, op_token_list },
	{ "token.revoke", false, false, token_owner_fields, op_token_revoke },
	{ "social.begin", false, false, social_begin_fields, op_social_begin },
	{ "social.link", false, false, social_link_fields, op_social_link },
	{ "social.finish", false, false, social_finish_fields, op_social_finish },
	{ "social.unlink", false, false, social_unlink_fields, op_social_unlink },
	{ "social.authorize", false, false, social_authorize_fields, op_social_authorize },
	{ "social.callback", false, false, social_callback_fields, op_social_callback },
	{ "account.check", false, false, email_fields, op_account_check },
	{ "session.check", false, true, session_check_fields, op_session_check },
	{ "session.revoke", false, false, session_fields, op_session_revoke },
	{ "account.list", true, false, no_fields, op_account_list },
	{ "account.show", true, false, email_fields, op_account_show },
	{ "account.disable", true, false, email_fields, op_account_disable },
	{ "account.enable", true, false, email_fields, op_account_enable },
	{ "account.unlock", true, false, email_fields, op_account_unlock },
	{ "account.delete", true, false, email_fields, op_account_delete },
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
	char user[300], service[160], rhost[600], opb[160], extra[400] = "", id[300];
	json_t *req = ctx->req;
	const char *result, *reason = res->reason;
	const char *who = ctx->user;

	/* a flood's: counted in a line a minute (the bulkhead's where it refused) */
	if (res->summary != SUMMARY_NONE) {
		if (res->summary != SUMMARY_DIRECTORY_BUSY)
			summary_note(peer->uid, res->summary);
		return;
	}
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
	/* what a parent typed in the address field may be a password or a
	 * token: only an address is logged as one */
	if (who != NULL && portail_email_check(who, NULL) != PORTAIL_OK) {
		who = NULL;
		reason = "invalid_address";
	}
	if (res->identity[0] != '\0')
		snprintf(extra, sizeof(extra), " identity=%s", log_safe(res->identity, id, sizeof(id)));
	if (res->provider_us > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " provider_ms=%.1f",
		    (double)res->provider_us / 1000);
	if (res->hash_us > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " hash_ms=%.2f",
		    (double)res->hash_us / 1000);
	log_msg(res->status != PORTAIL_OK ? LOG_NOTICE : quiet ? LOG_DEBUG : LOG_INFO,
	    "op=%s user=%s service=%s rhost=%s uid=%u pid=%d result=%s%s%s%s",
	    log_safe(op, opb, sizeof(opb)),
	    log_safe(who, user, sizeof(user)),
	    log_safe(req ? json_string_value(json_object_get(req, "service")) : NULL,
	    service, sizeof(service)),
	    log_safe(req ? json_string_value(json_object_get(req, "rhost")) : NULL,
	    rhost, sizeof(rhost)),
	    (unsigned)peer->uid, (int)peer->pid, result,
	    reason ? " reason=" : "", reason ? reason : "", extra);
	(void)d;
}

/* The peer whose request this worker thread is handling (for ops_directory_refused). */
static _Thread_local uid_t handling_uid;

void
ops_directory_refused(void *arg)
{
	(void)arg;
	summary_note(handling_uid, SUMMARY_DIRECTORY_BUSY);
}

/*
 * The pre-login ops counted before they run (DESIGN §2, enumeration: the
 * count is per client or per peer, never per account, so the answer past
 * it is the same for every address). per_peer: a code request (each costs
 * a decoy entry, lib/decoy.h, or a mail), also counted per local peer.
 */
static const struct {
	const char *op;
	bool per_peer;
} counted_ops[] = {
	{ "auth.password", false },
	{ "code.request", true },
	{ "code.verify", false },       /* also a social link's code (purpose "link") */
	{ "social.link", true },        /* a social link's code request */
};

#define PEER_WINDOW 60  /* seconds: code_requests_per_minute's */

/* Fills res with the refusal past a limit: rate_limited, retry_after, the same for every address. */
static void
limited(struct op_ctx *ctx, struct op_result *res, const char *reason, const char *msg,
    int retry, const char *limit, enum summary_kind summary)
{
	ctx->user = str(ctx, "email");
	fail_with(ctx, res, PORTAIL_ERR_RATE_LIMITED, reason, msg);
	res->body = json_pack("{s:i, s:s}", "retry_after", retry, "limit", limit);
	/* a flood's: counted per minute, not logged one by one */
	res->summary = summary;
}

/*
 * The web's pre-login forms, counted per client address (clientlimit.c):
 * only portail-web's requests (the web peer, service portail-web), which
 * carry the address it determined. The code requests of every other
 * peer (and the web's with no address) are counted per uid, [daemon]
 * code_requests_per_minute (root 4x): the web peer speaks for every
 * parent, its requests are counted by their address instead; so are
 * root's code requests that declare a client address (rhost), at
 * code_requests_per_minute each. False with res filled past a limit.
 */
static bool
client_allowed(struct op_ctx *ctx, struct op_result *res, const char *op)
{
	const struct daemon *d = ctx->d;
	const char *service = str(ctx, "service"), *rhost = str(ctx, "rhost");
	bool web, per_peer = false, counted = false;
	int retry = 0, per_minute;
	char msg[256];

	for (size_t i = 0; i < sizeof(counted_ops) / sizeof(counted_ops[0]); i++)
		if (strcmp(op, counted_ops[i].op) == 0) {
			counted = true;
			per_peer = counted_ops[i].per_peer;
		}
	if (!counted)
		return true;
	web = service != NULL && strcmp(service, "portail-web") == 0 &&
	    (ctx->peer->uid == 0 || (d->has_web_user && ctx->peer->uid == d->web_uid));
	if (web && clientlimit_is_address(rhost)) {
		if (clientlimit_take(rhost, daemon_now(), d->cfg->daemon.client_attempts,
		    d->cfg->daemon.client_window, &retry))
			return true;
		limited(ctx, res, "client_limited", portail_msgf(msg, sizeof(msg),
		    PORTAIL_MSG_OPS_CLIENT_LIMITED, ctx->en, (retry + 59) / 60), retry, "client",
		    SUMMARY_CLIENT_LIMITED);
		return false;
	}
	if (!per_peer)
		return true;
	per_minute = d->cfg->daemon.code_requests_per_minute;
	if (ctx->peer->uid == 0 && clientlimit_is_address(rhost)) {
		/*
		 * root's servers (sshd's PAM, saslauthd) speak for remote clients
		 * and declare their address: counted by it, as the web's, so that
		 * one remote client's flood through sshd does not use up root's
		 * count for every other server on the host.
		 */
		if (clientlimit_take_code_client(rhost, daemon_now(), per_minute, PEER_WINDOW,
		    &retry))
			return true;
		limited(ctx, res, "peer_limited", text(ctx, PORTAIL_MSG_OPS_PEER_LIMITED), retry,
		    "client", SUMMARY_PEER_LIMITED);
		return false;
	}
	if (ctx->peer->uid == 0)
		per_minute *= 4;
	if (clientlimit_take_uid(ctx->peer->uid, daemon_now(), per_minute, PEER_WINDOW, &retry))
		return true;
	limited(ctx, res, "peer_limited", text(ctx, PORTAIL_MSG_OPS_PEER_LIMITED), retry, "peer",
	    SUMMARY_PEER_LIMITED);
	return false;
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
	handling_uid = peer->uid;
	atomic_fetch_add(&d->requests, 1);
	if (portail_proto_decode(line, len, &ctx.req, &opname, why, sizeof(why)) != PORTAIL_OK) {
		atomic_fetch_add(&d->bad_requests, 1);
		char esc[sizeof(why) * 4];

		/* why names the fault and its byte offset, never the input */
		log_msg(LOG_NOTICE, "op=- uid=%u pid=%d result=bad_request reason=%s",
		    (unsigned)peer->uid, (int)peer->pid, log_safe(why, esc, sizeof(esc)));
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
		refuse(&ctx, &res, PORTAIL_ERR_FORBIDDEN, "not_admin", PORTAIL_MSG_OPS_NOT_ADMIN);
	} else if (!client_allowed(&ctx, &res, op->name)) {
		/* res filled */
	} else {
		(void)portail_flow_hash_us_take();
		op->fn(&ctx, &res);
		res.hash_us = portail_flow_hash_us_take();
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
		portail_proto_wipe_secrets(resp);       /* a ticket or a token in the answer */
		json_decref(resp);
		if (out == NULL)
			out = ops_error_line(PORTAIL_ERR_UNAVAILABLE, "answer too large", resp_len);
	} else {
		json_t *e = portail_proto_error(res.status, res.message);

		if (e != NULL && res.body != NULL)
			json_object_update(e, res.body);
		out = e ? portail_proto_encode(e, resp_len) : NULL;
		json_decref(e);
		if (out == NULL)
			out = ops_error_line(res.status, res.message, resp_len);
	}
	json_decref(res.body);
	if (op != NULL)
		portail_proto_wipe_secrets(ctx.req);
	json_decref(ctx.req);
	return out;
}
