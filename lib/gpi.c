/*
 * gpi.c — GPI student records in LDAP; see gpi.h for the contract.
 */
#include "gpi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <idn2.h>
#include <ldap.h>
#include <sodium.h>

#include "email.h"
#include "util.h"
#include "monotime.h"

/*
 * A call in flight this long means the directory is stalled: a full
 * bulkhead then answers at once instead of queueing (searches on an
 * indexed attribute take milliseconds).
 */
#define GPI_STALL_MS 1000

/* A value longer than this in a record is treated as missing. */
#define GPI_VALUE_MAX 256

/*
 * One connection of the pool. A slot is used by one caller at a time (busy,
 * under the handle's lock); its LDAP handle is touched only by that caller.
 */
struct slot {
	LDAP *ld;               /* NULL until connected */
	int at;                 /* index of the URI it is connected to */
	bool busy;
	int64_t since;          /* CLOCK_MONOTONIC ms when the current call began */
};

struct portail_gpi {
	const portail_config *cfg;
	pthread_mutex_t lock;   /* guards slots[].busy, calls, current */
	pthread_cond_t freed;   /* a slot became free */
	struct slot *slots;
	int n_slots;
	int calls;              /* callers inside a directory call (the bulkhead) */
	int max_calls;
	unsigned long refused;  /* callers the bulkhead turned away */
	void (*on_refusal)(void *);     /* told of each, outside the lock */
	void *on_refusal_arg;
	int current;            /* index of the URI that last answered, or to try first */
	char *bind_pw;          /* sodium_malloc'd: guarded, locked, wiped on free */
};

portail_status
portail_gpi_new(const portail_config *cfg, portail_gpi **out, portail_error *err)
{
	portail_gpi *g;
	char *pw = NULL;
	portail_status r;

	if (sodium_init() < 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libsodium failed to initialize");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	if (pthread_cond_init(&g->freed, NULL) != 0) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	g->cfg = cfg;
	g->n_slots = cfg->gpi.connections > 0 ? cfg->gpi.connections : 1;
	/* the bulkhead: by default half of the workers may wait on the
	 * directory, so that the other half keeps answering what needs it not */
	g->max_calls = cfg->gpi.max_workers > 0 ? cfg->gpi.max_workers :
	    (cfg->daemon.workers + 1) / 2;
	if (g->max_calls < 1)
		g->max_calls = 1;
	if ((g->slots = calloc((size_t)g->n_slots, sizeof(*g->slots))) == NULL) {
		portail_gpi_free(g);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	/* Read once, while we may still be root: the daemon drops privileges
	 * after start-up and reconnects later without the file. */
	if (cfg->gpi.bind_password_file != NULL) {
		size_t n;

		if ((r = portail_secret_read(cfg->gpi.bind_password_file, &pw, err)) != PORTAIL_OK) {
			portail_gpi_free(g);
			return r == PORTAIL_ERR_NOMEM ? r : PORTAIL_ERR_CONFIG;
		}
		n = strlen(pw);
		if ((g->bind_pw = sodium_malloc(n + 1)) == NULL) {
			portail_secret_free(pw);
			portail_gpi_free(g);
			return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
		memcpy(g->bind_pw, pw, n + 1);
		portail_secret_free(pw);
	}
	*out = g;
	return PORTAIL_OK;
}

static void
disconnect(struct slot *sl)
{
	if (sl->ld != NULL) {
		ldap_unbind_ext_s(sl->ld, NULL, NULL);
		sl->ld = NULL;
	}
}

void
portail_gpi_free(portail_gpi *g)
{
	if (g == NULL)
		return;
	for (int i = 0; g->slots != NULL && i < g->n_slots; i++)
		disconnect(&g->slots[i]);
	free(g->slots);
	if (g->bind_pw != NULL)
		sodium_free(g->bind_pw);
	pthread_cond_destroy(&g->freed);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* True when a connection has been inside one call for GPI_STALL_MS. */
static bool
stalled(const portail_gpi *g, int64_t now)
{
	for (int i = 0; i < g->n_slots; i++)
		if (g->slots[i].busy && now - g->slots[i].since >= GPI_STALL_MS)
			return true;
	return false;
}

/* The caller's hook hears of a call the bulkhead turned away (portail_gpi_on_refusal). */
static void
refusal_told(portail_gpi *g)
{
	if (g->on_refusal != NULL)
		g->on_refusal(g->on_refusal_arg);
}

/*
 * Enters a directory call: a place in the bulkhead, then a connection.
 * With max_calls callers already inside and the directory stalled (a
 * call in flight for GPI_STALL_MS: a hung server, say), answers
 * PORTAIL_ERR_BUSY at once rather than hold one more worker behind
 * them; while the directory answers, a full bulkhead is only load and the
 * caller waits its turn (until the directory stalls). With more callers
 * allowed than connections, a caller waits for a free connection at most
 * one operation timeout (then PORTAIL_ERR_BUSY too).
 */
static portail_status
slot_acquire(portail_gpi *g, struct slot **out, portail_error *err)
{
	struct timespec until, slice;
	portail_status r = PORTAIL_ERR_UNAVAILABLE;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += g->cfg->gpi.timeout;
	pthread_mutex_lock(&g->lock);
	while (g->calls >= g->max_calls) {
		if (stalled(g, portail_mono_ms())) {
			g->refused++;
			pthread_mutex_unlock(&g->lock);
			refusal_told(g);
			return portail_error_set(err, PORTAIL_ERR_BUSY,
			    "directory busy: %d calls already waiting on it ([gpi] max_workers)",
			    g->max_calls);
		}
		clock_gettime(CLOCK_REALTIME, &slice);
		slice.tv_nsec += 50 * 1000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&g->freed, &g->lock, &slice);
	}
	g->calls++;
	for (;;) {
		for (int i = 0; i < g->n_slots; i++) {
			if (!g->slots[i].busy) {
				g->slots[i].busy = true;
				g->slots[i].since = portail_mono_ms();
				*out = &g->slots[i];
				r = PORTAIL_OK;
				goto out;
			}
		}
		if (pthread_cond_timedwait(&g->freed, &g->lock, &until) != 0)
			break;
	}
	g->calls--;
	g->refused++;
	pthread_cond_broadcast(&g->freed);
	r = portail_error_set(err, PORTAIL_ERR_BUSY,
	    "directory busy: no connection free within %d s ([gpi] connections)",
	    g->cfg->gpi.timeout);
out:
	pthread_mutex_unlock(&g->lock);
	if (r == PORTAIL_ERR_BUSY)
		refusal_told(g);
	return r;
}

static void
slot_release(portail_gpi *g, struct slot *sl)
{
	pthread_mutex_lock(&g->lock);
	sl->busy = false;
	g->calls--;
	/* both kinds of waiter (a place, a connection) wait on it */
	pthread_cond_broadcast(&g->freed);
	pthread_mutex_unlock(&g->lock);
}

static int
current_get(portail_gpi *g)
{
	int i;

	pthread_mutex_lock(&g->lock);
	i = g->current;
	pthread_mutex_unlock(&g->lock);
	return i;
}

static void
current_set(portail_gpi *g, int i)
{
	pthread_mutex_lock(&g->lock);
	g->current = i;
	pthread_mutex_unlock(&g->lock);
}

/* Result codes that say "this server, or the way to it, is not working". */
static bool
is_outage(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_TIMEOUT:
	case LDAP_CONNECT_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_LOCAL_ERROR:
	case LDAP_OTHER:
		return true;
	default:
		return false;
	}
}

/* Credentials refused: retrying another replica will not help. */
static bool
is_bind_refusal(int rc)
{
	return rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH ||
	    rc == LDAP_INSUFFICIENT_ACCESS || rc == LDAP_STRONG_AUTH_REQUIRED ||
	    rc == LDAP_CONFIDENTIALITY_REQUIRED || rc == LDAP_AUTH_METHOD_NOT_SUPPORTED;
}

/*
 * Opens a connection to one server and binds. On an outage returns
 * PORTAIL_ERR_UNAVAILABLE (the caller tries the next server); on a refused
 * bind PORTAIL_ERR_CONFIG.
 */
static portail_status
connect_one(portail_gpi *g, const char *uri, LDAP **out, portail_error *err)
{
	const struct portail_gpi_config *c = &g->cfg->gpi;
	struct timeval ntv = { .tv_sec = c->network_timeout };
	struct timeval otv = { .tv_sec = c->timeout };
	int version = LDAP_VERSION3, rc;
	LDAP *ld = NULL;
	portail_status r = PORTAIL_ERR_UNAVAILABLE;

	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		r = portail_error_set(err, PORTAIL_ERR_CONFIG, "%s: %s", uri, ldap_err2string(rc));
		goto out;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &ntv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &otv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "%s: cannot set LDAP options", uri);
		goto out;
	}
	if (c->ca_file != NULL || c->starttls || strncmp(uri, "ldaps://", 8) == 0) {
		int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

		if ((c->ca_file != NULL &&
		    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->ca_file) != LDAP_OPT_SUCCESS) ||
		    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
		    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "%s: cannot set up TLS (ca_file %s)", uri, c->ca_file ? c->ca_file : "unset");
			goto out;
		}
	}
	if (c->starttls && strncmp(uri, "ldap://", 7) == 0) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s: StartTLS failed: %s",
			    uri, ldap_err2string(rc));
			goto out;
		}
	}
	if (c->sasl_mech != NULL) {
		/* An empty initial response (not an absent one): "no authzid". */
		static char empty[] = "";
		struct berval none = { 0, empty };

		rc = ldap_sasl_bind_s(ld, NULL, c->sasl_mech, &none, NULL, NULL, NULL);
	} else if (c->bind_dn != NULL) {
		struct berval cred;

		cred.bv_val = g->bind_pw;
		cred.bv_len = g->bind_pw ? strlen(g->bind_pw) : 0;
		rc = ldap_sasl_bind_s(ld, c->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	} else {
		rc = LDAP_SUCCESS;      /* anonymous: the first search connects */
	}
	if (rc != LDAP_SUCCESS) {
		if (is_bind_refusal(rc))
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "%s: the directory refused our bind (%s): configuration problem, "
			    "check [gpi] bind_dn, bind_password_file or sasl_mech",
			    uri, ldap_err2string(rc));
		else
			r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s: bind: %s",
			    uri, ldap_err2string(rc));
		goto out;
	}
	*out = ld;
	ld = NULL;
	r = PORTAIL_OK;
out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}

/* Walks the URI list from the last server that answered until one binds. */
static portail_status
connect_any(portail_gpi *g, struct slot *sl, portail_error *err)
{
	const struct portail_gpi_config *c = &g->cfg->gpi;
	portail_status r = PORTAIL_ERR_UNAVAILABLE;
	int start = current_get(g);

	for (int i = 0; i < c->n_uris; i++) {
		int idx = (start + i) % c->n_uris;

		r = connect_one(g, c->uris[idx], &sl->ld, err);
		if (r == PORTAIL_OK) {
			sl->at = idx;
			current_set(g, idx);
			return PORTAIL_OK;
		}
		if (r == PORTAIL_ERR_CONFIG)
			return PORTAIL_ERR_UNAVAILABLE; /* the next server won't help */
		if (r != PORTAIL_ERR_UNAVAILABLE)
			return r;
	}
	if (c->n_uris > 1 && err != NULL) {
		char last[sizeof(err->message)];

		memcpy(last, err->message, sizeof(last));
		portail_error_set(err, r, "no directory server answered (last: %s)", last);
	}
	return r;
}

/* Called for each entry of a search; reset before a search starts over. */
typedef portail_status (*entry_fn)(void *arg, LDAP *ld, LDAPMessage *e);
typedef void (*reset_fn)(void *arg);

/*
 * One search, whole: with paged, in pages of [gpi] page_size (RFC 2696,
 * not critical: a server without it answers in one go), each entry
 * handed to fn. *truncated is set when the server stopped before the end
 * (its size or administrative limit): the entries seen are not the whole
 * answer, and the caller decides what that means.
 */
static int
search_once(portail_gpi *g, struct slot *sl, const char *base, int scope, const char *filter,
    char **attrs, bool paged, entry_fn fn, void *arg, bool *truncated, portail_status *fr)
{
	const struct portail_gpi_config *c = &g->cfg->gpi;
	struct timeval tv = { .tv_sec = c->timeout };
	struct berval *cookie = NULL;
	int rc;

	*truncated = false;
	*fr = PORTAIL_OK;
	for (;;) {
		LDAPControl *page = NULL, *sctrls[2] = { NULL, NULL }, **rctrls = NULL, *pr;
		LDAPMessage *res = NULL;
		int code = LDAP_SUCCESS;
		ber_int_t estimate = 0;

		if (paged) {
			rc = ldap_create_page_control(sl->ld, c->page_size, cookie, 0, &page);
			if (rc != LDAP_SUCCESS)
				break;
			sctrls[0] = page;
		}
		rc = ldap_search_ext_s(sl->ld, base, scope, filter, attrs, 0,
		    paged ? sctrls : NULL, NULL, &tv, 0, &res);
		if (page != NULL)
			ldap_control_free(page);
		if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED &&
		    rc != LDAP_ADMINLIMIT_EXCEEDED) {
			if (res != NULL)
				ldap_msgfree(res);
			break;
		}
		for (LDAPMessage *e = ldap_first_entry(sl->ld, res); e != NULL && *fr == PORTAIL_OK;
		    e = ldap_next_entry(sl->ld, e))
			*fr = fn(arg, sl->ld, e);
		if (rc != LDAP_SUCCESS) {
			/* the server's limit: what came is not the whole answer */
			*truncated = true;
			ldap_msgfree(res);
			rc = LDAP_SUCCESS;
			break;
		}
		if (*fr != PORTAIL_OK || !paged) {
			ldap_msgfree(res);
			break;
		}
		rc = ldap_parse_result(sl->ld, res, &code, NULL, NULL, NULL, &rctrls, 1);
		if (rc != LDAP_SUCCESS)
			break;
		ber_bvfree(cookie);
		cookie = NULL;
		pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
		if (pr != NULL) {
			struct berval next = { 0, NULL };

			if (ldap_parse_pageresponse_control(sl->ld, pr, &estimate, &next) ==
			    LDAP_SUCCESS && next.bv_len > 0) {
				cookie = ber_bvdup(&next);
			}
			ber_memfree(next.bv_val);
		}
		ldap_controls_free(rctrls);
		if (cookie == NULL)
			break;          /* the last page (or a server without paging) */
	}
	ber_bvfree(cookie);
	return rc;
}

/*
 * Runs one search with the failover rule: a connection that fails is
 * dropped and the list walked again once, starting past a server that
 * timed out (it may be alive but hung) and at the same one otherwise (it
 * may have been restarted). A search that fails half-way starts over
 * (reset) on the next connection.
 */
static portail_status
search(portail_gpi *g, struct slot *sl, const char *base, int scope, const char *filter,
    char **attrs, bool paged, entry_fn fn, reset_fn reset, void *arg, bool *truncated,
    portail_error *err)
{
	const struct portail_gpi_config *c = &g->cfg->gpi;
	portail_status r = PORTAIL_ERR_UNAVAILABLE, fr = PORTAIL_OK;
	int rc = LDAP_SUCCESS;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (sl->ld == NULL && (r = connect_any(g, sl, err)) != PORTAIL_OK)
			return r;
		if (reset != NULL)
			reset(arg);
		rc = search_once(g, sl, base, scope, filter, attrs, paged, fn, arg, truncated, &fr);
		if (rc == LDAP_SUCCESS) {
			if (fr != PORTAIL_OK)
				return portail_error_set(err, fr, "out of memory");
			return PORTAIL_OK;
		}
		if (!is_outage(rc))
			break;
		disconnect(sl);
		if (rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED || rc == LDAP_BUSY) {
			pthread_mutex_lock(&g->lock);
			/* move on from a hung server, unless another caller already did */
			if (g->current == sl->at)
				g->current = (sl->at + 1) % c->n_uris;
			pthread_mutex_unlock(&g->lock);
		}
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s: search: %s",
		    c->uris[sl->at], ldap_err2string(rc));
	}
	if (is_outage(rc))
		return r;
	if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_FILTER_ERROR ||
	    rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_UNDEFINED_TYPE)
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "directory rejected the search (%s): check [gpi] base and filter",
		    ldap_err2string(rc));
	if (is_bind_refusal(rc))
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "directory refused the search (%s): configuration problem, check the "
		    "bind identity's access", ldap_err2string(rc));
	return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "directory search failed: %s",
	    ldap_err2string(rc));
}

/* Replaces each %s of the configured filter with the escaped address. */
static portail_status
build_filter(const char *tmpl, const char *email, char **out)
{
	char *esc = NULL, *buf = NULL, *w;
	size_t n_s = 0, len;
	portail_status r;

	if ((r = pt_ldap_escape(email, &esc)) != PORTAIL_OK)
		return r;
	for (const char *c = tmpl; (c = strstr(c, "%s")) != NULL; c += 2)
		n_s++;
	len = strlen(tmpl) - 2 * n_s + n_s * strlen(esc);
	if ((buf = malloc(len + 1)) == NULL) {
		free(esc);
		return PORTAIL_ERR_NOMEM;
	}
	w = buf;
	for (const char *c = tmpl; *c;) {
		if (c[0] == '%' && c[1] == 's') {
			memcpy(w, esc, strlen(esc));
			w += strlen(esc);
			c += 2;
		} else {
			*w++ = *c++;
		}
	}
	*w = '\0';
	free(esc);
	*out = buf;
	return PORTAIL_OK;
}

/*
 * The filter for an address: the configured one for each spelling a
 * directory may hold of it, joined by '|' — as typed, its key (A-label
 * domain: an IA5 attribute such as gpiGuardianEmail holds only ASCII)
 * and the key's local part with the domain in U-label form (for a
 * directory that stores UTF-8). Which entries truly carry the address
 * is decided by key afterwards (entry_has_email).
 */
static portail_status
address_filter(const char *tmpl, const char *email, const char *key, char **out)
{
	const char *at = strchr(key, '@'), *spell[3];
	char *part[3] = { NULL, NULL, NULL }, *ulabel = NULL, *u = NULL, *buf = NULL;
	size_t n = 0, len = 3;
	portail_status r = PORTAIL_ERR_NOMEM;

	spell[n++] = email;
	if (strcmp(key, email) != 0)
		spell[n++] = key;
	if (at != NULL && strstr(at, "xn--") != NULL &&
	    idn2_to_unicode_8z8z(at + 1, &ulabel, 0) == IDN2_OK) {
		size_t l = (size_t)(at - key), ul = strlen(ulabel);

		if ((u = malloc(l + 1 + ul + 1)) == NULL)
			goto out;
		memcpy(u, key, l + 1);
		memcpy(u + l + 1, ulabel, ul + 1);
		if (strcmp(u, email) != 0)
			spell[n++] = u;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = build_filter(tmpl, spell[i], &part[i])) != PORTAIL_OK)
			goto out;
		len += strlen(part[i]);
	}
	r = PORTAIL_ERR_NOMEM;
	if (n == 1) {
		*out = part[0];
		part[0] = NULL;
	} else {
		if ((buf = malloc(len + 1)) == NULL)
			goto out;
		snprintf(buf, len + 1, "(|%s%s%s)", part[0], part[1], n > 2 ? part[2] : "");
		*out = buf;
	}
	r = PORTAIL_OK;
out:
	for (size_t i = 0; i < 3; i++)
		free(part[i]);
	free(u);
	free(ulabel);
	return r;
}

/*
 * The first value of attr, when it is text we can show: valid UTF-8, no
 * control characters, at most GPI_VALUE_MAX bytes. Otherwise NULL (a
 * hostile or broken record must not reach a terminal, a log or a mail).
 */
static char *
first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
	struct berval **vals = ldap_get_values_len(ld, e, attr);
	char *s = NULL;

	if (vals == NULL || vals[0] == NULL)
		goto out;
	if (vals[0]->bv_len == 0 || vals[0]->bv_len > GPI_VALUE_MAX ||
	    !pt_utf8_valid(vals[0]->bv_val, vals[0]->bv_len))
		goto out;
	for (size_t i = 0; i < vals[0]->bv_len; i++) {
		unsigned char u = (unsigned char)vals[0]->bv_val[i];

		if (u < 0x20 || u == 0x7f)
			goto out;
	}
	s = strndup(vals[0]->bv_val, vals[0]->bv_len);
out:
	ldap_value_free_len(vals);
	return s;
}

/*
 * The entry's e-mail value that is the address (by key), new; NULL when
 * none is. The server already matched the filter; checking again guards
 * against a filter that matches more than it should (a substring rule, a
 * typo), and against a directory's matching rule that folds more than our
 * key does. The value is the address on record: where mail goes.
 */
static char *
entry_email(LDAP *ld, LDAPMessage *e, const char *attr, const char *key)
{
	struct berval **vals = ldap_get_values_len(ld, e, attr);
	char *found = NULL;

	for (size_t i = 0; vals != NULL && vals[i] != NULL && found == NULL; i++) {
		char *v, *vkey = NULL;

		if (vals[i]->bv_len > PORTAIL_EMAIL_MAX ||
		    memchr(vals[i]->bv_val, '\0', vals[i]->bv_len) != NULL)
			continue;
		if ((v = strndup(vals[i]->bv_val, vals[i]->bv_len)) == NULL)
			continue;
		if (portail_email_key(v, &vkey, NULL) == PORTAIL_OK && strcmp(vkey, key) == 0) {
			found = v;
			v = NULL;
		}
		free(vkey);
		free(v);
	}
	ldap_value_free_len(vals);
	return found;
}

bool
portail_gpi_subscribed(const portail_config *cfg, const char *school)
{
	if (school == NULL)
		return false;
	if (cfg->gpi.all_schools)
		return true;
	for (char **s = cfg->gpi.subscribed_schools; s != NULL && *s != NULL; s++)
		if (pt_ascii_caseeq(*s, school))
			return true;
	return false;
}

static int
cmp_child(const void *a, const void *b)
{
	const struct portail_gpi_child *x = a, *y = b;
	int c = strcmp(x->school ? x->school : "", y->school ? y->school : "");

	return c != 0 ? c : strcmp(x->student_id ? x->student_id : "",
	    y->student_id ? y->student_id : "");
}

/* What a lookup gathers, page after page. */
struct gather {
	portail_gpi *g;
	const char *key;
	portail_gpi_result *res;
	size_t cap;             /* children allocated */
	size_t seen;            /* entries that carry the address */
};

static void
gather_reset(void *arg)
{
	struct gather *ga = arg;

	for (size_t i = 0; i < ga->res->n_children; i++) {
		free(ga->res->children[i].student_id);
		free(ga->res->children[i].name);
		free(ga->res->children[i].school);
	}
	ga->res->n_children = 0;
	free(ga->res->email);
	ga->res->email = NULL;
	ga->res->known = false;
	ga->seen = 0;
}

/*
 * One entry. At most [gpi] size_limit children are kept; past that the
 * entries are still read, to settle `known`: a subscribed child last of
 * ten thousand still counts.
 */
static portail_status
gather_entry(void *arg, LDAP *ld, LDAPMessage *e)
{
	struct gather *ga = arg;
	const struct portail_gpi_config *c = &ga->g->cfg->gpi;
	portail_gpi_result *result = ga->res;
	struct portail_gpi_child one = { 0 }, *ch = &one;
	char *v;

	if ((v = entry_email(ld, e, c->email_attribute, ga->key)) == NULL)
		return PORTAIL_OK;
	ga->seen++;
	if (result->n_children < (size_t)c->size_limit) {
		if (result->n_children == ga->cap) {
			size_t n = ga->cap ? ga->cap * 2 : 8;
			struct portail_gpi_child *nc;

			if (n > (size_t)c->size_limit)
				n = (size_t)c->size_limit;
			if ((nc = realloc(result->children, n * sizeof(*nc))) == NULL) {
				free(v);
				return PORTAIL_ERR_NOMEM;
			}
			result->children = nc;
			ga->cap = n;
		}
		ch = &result->children[result->n_children++];
		memset(ch, 0, sizeof(*ch));
		ch->student_id = first_value(ld, e, c->student_id_attribute);
		ch->name = first_value(ld, e, c->name_attribute);
	}
	ch->school = first_value(ld, e, c->school_attribute);
	ch->subscribed = portail_gpi_subscribed(ga->g->cfg, ch->school);
	/* the value of a subscribed child's record, else the first one */
	if (ch->subscribed && !result->known) {
		free(result->email);
		result->email = v;
		v = NULL;
		result->known = true;
	} else if (result->email == NULL) {
		result->email = v;
		v = NULL;
	}
	free(v);
	if (ch == &one)
		free(one.school);
	return PORTAIL_OK;
}

portail_status
portail_gpi_lookup(portail_gpi *g, const char *email, portail_gpi_result **out,
    portail_error *err)
{
	const struct portail_gpi_config *c = &g->cfg->gpi;
	char *attrs[5];
	char *filter = NULL, *key = NULL;
	portail_gpi_result *result = NULL;
	struct slot *sl = NULL;
	struct gather ga = { 0 };
	bool truncated = false;
	portail_status r;

	if ((r = portail_email_key(email, &key, err)) != PORTAIL_OK)
		return r;
	if ((r = address_filter(c->filter, email, key, &filter)) != PORTAIL_OK)
		goto out;
	attrs[0] = c->email_attribute;
	attrs[1] = c->student_id_attribute;
	attrs[2] = c->name_attribute;
	attrs[3] = c->school_attribute;
	attrs[4] = NULL;
	r = PORTAIL_ERR_NOMEM;
	if ((result = calloc(1, sizeof(*result))) == NULL)
		goto out;
	ga.g = g;
	ga.key = key;
	ga.res = result;

	if ((r = slot_acquire(g, &sl, err)) != PORTAIL_OK)
		goto out;
	r = search(g, sl, c->base, LDAP_SCOPE_SUBTREE, filter, attrs, true, gather_entry,
	    gather_reset, &ga, &truncated, err);
	slot_release(g, sl);
	if (r != PORTAIL_OK)
		goto out;
	if (truncated && !result->known) {
		/*
		 * A partial answer proves a subscribed child when it holds one,
		 * never the absence of one: "no subscribed school" from the first
		 * 500 of 10,000 records would refuse a parent, silently.
		 */
		r = portail_error_set(err, PORTAIL_ERR_UNAVAILABLE,
		    "directory answer truncated by the server's size limit after %zu records "
		    "for this address, none in a subscribed school: cannot tell; let the bind "
		    "identity page past the limit (slapd: limits ... size.prtotal=unlimited)",
		    ga.seen);
		goto out;
	}
	if (result->n_children > 1)
		qsort(result->children, result->n_children, sizeof(*result->children), cmp_child);
	*out = result;
	result = NULL;
	r = PORTAIL_OK;
out:
	if (r == PORTAIL_ERR_NOMEM)
		portail_error_set(err, r, "out of memory");
	portail_gpi_result_free(result);
	free(filter);
	free(key);
	return r;
}

static portail_status
count_entry(void *arg, LDAP *ld, LDAPMessage *e)
{
	(void)ld;
	(void)e;
	(*(int *)arg)++;
	return PORTAIL_OK;
}

portail_status
portail_gpi_probe(portail_gpi *g, char *uri, size_t uri_len, portail_error *err)
{
	char no_attrs[] = LDAP_NO_ATTRS;
	char *attrs[] = { no_attrs, NULL };
	struct slot *sl = NULL;
	bool truncated = false;
	int n = 0;
	portail_status r;

	if ((r = slot_acquire(g, &sl, err)) != PORTAIL_OK)
		return r;
	r = search(g, sl, g->cfg->gpi.base, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, false,
	    count_entry, NULL, &n, &truncated, err);
	if (r == PORTAIL_OK && uri != NULL && uri_len > 0)
		(void)snprintf(uri, uri_len, "%s", g->cfg->gpi.uris[sl->at]);
	slot_release(g, sl);
	return r;
}

void
portail_gpi_on_refusal(portail_gpi *g, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&g->lock);
	g->on_refusal = fn;
	g->on_refusal_arg = arg;
	pthread_mutex_unlock(&g->lock);
}

void
portail_gpi_stats(portail_gpi *g, struct portail_gpi_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&g->lock);
	out->connections = g->n_slots;
	for (int i = 0; i < g->n_slots; i++) {
		if (g->slots[i].busy)
			out->in_use++;
		else if (g->slots[i].ld != NULL)
			out->idle++;
	}
	out->calls = g->calls;
	out->max_calls = g->max_calls;
	out->refused = g->refused;
	pthread_mutex_unlock(&g->lock);
}

void
portail_gpi_result_free(portail_gpi_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_children; i++) {
		free(res->children[i].student_id);
		free(res->children[i].name);
		free(res->children[i].school);
	}
	free(res->children);
	free(res->email);
	free(res);
}
