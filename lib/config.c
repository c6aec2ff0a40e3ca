/*
 * config.c — the strict portail.conf parser.
 *
 * Why not Debian's libinih (DESIGN §4): it splits lines longer than 199
 * bytes into a second, bogus key, gives no line numbers to its callback,
 * and cuts values at " ;" even inside quotes, which breaks LDAP filters.
 *
 * The parser is table-driven: keys[] names every key, its type, bounds
 * and default. A key is set once by a "key = value" line (with its
 * continuation lines) and defaults fill in the rest, through the same
 * setter, so a default is checked exactly like a typed value.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <libpq-fe.h>
#include <pwd.h>
#include <sodium.h>

#include "util.h"

/* Largest configuration file we read: far above any real one. */
#define CONFIG_MAX_BYTES (4u * 1024u * 1024u)

enum kind {
	K_STR,          /* any non-empty text */
	K_PATH,         /* absolute path */
	K_SECRET,       /* absolute path to an existing 0600 file */
	K_KEYFILE,      /* absolute path; when it exists, 0600 */
	K_INT,          /* integer within [min, max] */
	K_BOOL,         /* yes/no/true/false/on/off/1/0 */
	K_URIS,         /* space-separated ldap://, ldaps://, ldapi:// URIs */
	K_SCHOOLS,      /* "*" or codes separated by spaces or commas */
	K_TLS,          /* no, try, yes */
	K_LANG,         /* fr, en */
	K_SMTP_URL,     /* smtp:// or smtps:// */
	K_HTTP_URL,     /* https://, or http:// to a loopback host */
	K_KIND,         /* provider kind */
	K_FILTER,       /* LDAP filter with %s */
	K_ALPHABET,     /* code alphabet */
	K_ATTR,         /* LDAP attribute name */
	K_SASL,         /* EXTERNAL */
	K_LISTEN,       /* [web] listen: absolute path, 127.0.0.1:PORT or [::1]:PORT */
	K_ADDRS,        /* [web] trusted_proxies: IP addresses (inet_pton) or "unix" */
	K_CLIENT,       /* [web] introspection_client: "ID FILE", one line per client */
	K_BACKEND,      /* [store] backend: sqlite, postgresql */
	K_CONNINFO,     /* [store] conninfo: a libpq connection string (PQconninfoParse) */
};

enum section { S_GPI, S_DAEMON, S_STORE, S_SECURITY, S_CODES, S_PASSWORD,
	S_MAIL, S_TOKENS, S_WEB, S_SCHOOLS, S_PROVIDER, S_COUNT };

static const char *const section_names[S_COUNT] = {
	"gpi", "daemon", "store", "security", "codes", "password", "mail",
	"tokens", "web", "schools", "provider.NAME",
};

struct key {
	enum section section;
	const char *name;
	enum kind kind;
	size_t off;             /* in portail_config, or in the provider struct */
	long min, max;          /* K_INT */
	const char *def;        /* NULL: no default (unset or required) */
	bool required;
};

#define C(f) offsetof(portail_config, f)
#define P(f) offsetof(struct portail_provider_config, f)

static const struct key keys[] = {
	{ S_GPI, "uri", K_URIS, 0, 0, 0, NULL, true },
	{ S_GPI, "base", K_STR, C(gpi.base), 0, 0, NULL, true },
	{ S_GPI, "bind_dn", K_STR, C(gpi.bind_dn), 0, 0, NULL, false },
	{ S_GPI, "bind_password_file", K_SECRET, C(gpi.bind_password_file), 0, 0, NULL, false },
	{ S_GPI, "sasl_mech", K_SASL, C(gpi.sasl_mech), 0, 0, NULL, false },
	{ S_GPI, "starttls", K_BOOL, C(gpi.starttls), 0, 0, "no", false },
	{ S_GPI, "ca_file", K_PATH, C(gpi.ca_file), 0, 0, NULL, false },
	{ S_GPI, "filter", K_FILTER, C(gpi.filter), 0, 0,
	  "(&(objectClass=gpiStudent)(gpiGuardianEmail=%s))", false },
	{ S_GPI, "email_attribute", K_ATTR, C(gpi.email_attribute), 0, 0, "gpiGuardianEmail", false },
	{ S_GPI, "student_id_attribute", K_ATTR, C(gpi.student_id_attribute), 0, 0, "gpiStudentId", false },
	{ S_GPI, "name_attribute", K_ATTR, C(gpi.name_attribute), 0, 0, "displayName", false },
	{ S_GPI, "school_attribute", K_ATTR, C(gpi.school_attribute), 0, 0, "gpiSchoolCode", false },
	{ S_GPI, "subscribed_schools", K_SCHOOLS, 0, 0, 0, "*", false },
	{ S_GPI, "network_timeout", K_INT, C(gpi.network_timeout), 1, 60, "3", false },
	{ S_GPI, "timeout", K_INT, C(gpi.timeout), 1, 60, "5", false },
	{ S_GPI, "size_limit", K_INT, C(gpi.size_limit), 1, 10000, "100", false },
	{ S_GPI, "grace", K_INT, C(gpi.grace), 0, 30 * 86400, "86400", false },
	{ S_GPI, "cache_timeout", K_INT, C(gpi.cache_timeout), 0, 3600, "60", false },
	{ S_GPI, "record_interval", K_INT, C(gpi.record_interval), 0, 3600, "30", false },
	{ S_GPI, "connections", K_INT, C(gpi.connections), 1, 64, "4", false },
	{ S_GPI, "max_workers", K_INT, C(gpi.max_workers), 0, 256, "0", false },
	{ S_GPI, "page_size", K_INT, C(gpi.page_size), 10, 10000, "500", false },

	{ S_DAEMON, "socket", K_PATH, C(daemon.socket), 0, 0, "/run/portail/portaild.sock", false },
	{ S_DAEMON, "user", K_STR, C(daemon.user), 0, 0, "portail", false },
	{ S_DAEMON, "workers", K_INT, C(daemon.workers), 1, 256, "8", false },
	{ S_DAEMON, "request_timeout", K_INT, C(daemon.request_timeout), 2, PORTAIL_CLIENT_TIMEOUT - 1, "15", false },
	{ S_DAEMON, "hash_concurrency", K_INT, C(daemon.hash_concurrency), 0, 256, "0", false },
	{ S_DAEMON, "admin_group", K_STR, C(daemon.admin_group), 0, 0, NULL, false },
	{ S_DAEMON, "max_connections", K_INT, C(daemon.max_connections), 4, 65536, "1024", false },
	{ S_DAEMON, "max_connections_per_peer", K_INT, C(daemon.max_connections_per_peer), 0, 65536, "0", false },
	{ S_DAEMON, "max_queued", K_INT, C(daemon.max_queued), 0, 65536, "0", false },
	{ S_DAEMON, "max_queued_per_peer", K_INT, C(daemon.max_queued_per_peer), 0, 65536, "0", false },
	{ S_DAEMON, "idle_timeout", K_INT, C(daemon.idle_timeout), 1, 3600, "60", false },
	{ S_DAEMON, "busy_pause_ms", K_INT, C(daemon.busy_pause_ms), 0, 5000, "250", false },
	{ S_DAEMON, "code_request_floor_ms", K_INT, C(daemon.code_request_floor_ms), 0, 1000, "5",
	    false },
	{ S_DAEMON, "client_attempts", K_INT, C(daemon.client_attempts), 0, 100000, "100", false },
	{ S_DAEMON, "client_window", K_INT, C(daemon.client_window), 10, 86400, "600", false },
	{ S_DAEMON, "code_requests_per_minute", K_INT, C(daemon.code_requests_per_minute), 0, 100000,
	    "600", false },

	{ S_STORE, "path", K_PATH, C(store_path), 0, 0, "/var/lib/portail/portail.db", false },
	{ S_STORE, "backend", K_BACKEND, C(store.backend), 0, 0, "sqlite", false },
	{ S_STORE, "conninfo", K_CONNINFO, C(store.conninfo), 0, 0, NULL, false },
	{ S_STORE, "password_file", K_SECRET, C(store.password_file), 0, 0, NULL, false },
	{ S_STORE, "pool_size", K_INT, C(store.pool_size), 1, 256, NULL, false },
	{ S_STORE, "deadline_ms", K_INT, C(store.deadline_ms), 100, 60000, "5000", false },

	{ S_SECURITY, "key_file", K_KEYFILE, C(key_file), 0, 0, "/etc/portail/secret.key", false },

	{ S_CODES, "alphabet", K_ALPHABET, C(codes.alphabet), 0, 0, "0123456789abcdef", false },
	{ S_CODES, "length", K_INT, C(codes.length), 4, 32, "6", false },
	{ S_CODES, "lifetime", K_INT, C(codes.lifetime), 5, 86400, "600", false },
	{ S_CODES, "max_attempts", K_INT, C(codes.max_attempts), 1, 20, "5", false },
	{ S_CODES, "resend_interval", K_INT, C(codes.resend_interval), 0, 3600, "30", false },
	{ S_CODES, "max_per_day", K_INT, C(codes.max_per_day), 1, 1000, "10", false },

	{ S_PASSWORD, "min_length", K_INT, C(password.min_length), 8, 128, "8", false },
	{ S_PASSWORD, "max_length", K_INT, C(password.max_length), 8, 1024, "128", false },
	{ S_PASSWORD, "argon2_opslimit", K_INT, C(password.argon2_opslimit), 1, 20, "2", false },
	{ S_PASSWORD, "argon2_memlimit", K_INT, C(password.argon2_memlimit_kib), 8192, 4194304, "65536", false },
	{ S_PASSWORD, "max_failures", K_INT, C(password.max_failures), 1, 1000, "10", false },
	{ S_PASSWORD, "lockout", K_INT, C(password.lockout), 1, 86400, "60", false },
	{ S_PASSWORD, "lockout_max", K_INT, C(password.lockout_max), 1, 604800, "3600", false },

	{ S_MAIL, "url", K_SMTP_URL, C(mail.url), 0, 0, "smtp://localhost:25", false },
	{ S_MAIL, "from", K_STR, C(mail.from), 0, 0, "portail@localhost", false },
	{ S_MAIL, "starttls", K_TLS, C(mail.starttls), 0, 0, "try", false },
	{ S_MAIL, "username", K_STR, C(mail.username), 0, 0, NULL, false },
	{ S_MAIL, "password_file", K_SECRET, C(mail.password_file), 0, 0, NULL, false },
	{ S_MAIL, "language", K_LANG, C(mail.language), 0, 0, "fr", false },
	{ S_MAIL, "template_dir", K_PATH, C(mail.template_dir), 0, 0, NULL, false },
	{ S_MAIL, "portal_name", K_STR, C(mail.portal_name), 0, 0, "Portail Parents", false },
	{ S_MAIL, "timeout", K_INT, C(mail.timeout), 1, 120, "10", false },

	{ S_TOKENS, "lifetime", K_INT, C(token_lifetime), 5, 3650 * 86400, "7776000", false },
	{ S_TOKENS, "max_age", K_INT, C(token_max_age), 5, 3650 * 86400, "31536000", false },
	{ S_TOKENS, "max_per_account", K_INT, C(token_max_per_account), 1, 10000, "50", false },

	{ S_WEB, "listen", K_LISTEN, C(web.listen), 0, 0, "/run/portail-web/web.sock", false },
	{ S_WEB, "home_url", K_HTTP_URL, C(web.home_url), 0, 0, NULL, false },
	{ S_WEB, "trusted_proxies", K_ADDRS, 0, 0, 0, NULL, false },
	{ S_WEB, "user", K_STR, C(web.user), 0, 0, "www-data", false },
	{ S_WEB, "threads", K_INT, C(web.threads), 1, 64, "4", false },
	{ S_WEB, "introspection_client", K_CLIENT, 0, 0, 0, NULL, false },
	{ S_WEB, "session_idle", K_INT, C(web.session_idle), 60, 86400, "1800", false },
	{ S_WEB, "session_max", K_INT, C(web.session_max), 300, 2592000, "43200", false },
	{ S_WEB, "max_sessions", K_INT, C(web.max_sessions), 0, 1000, "10", false },
	{ S_WEB, "public_url", K_HTTP_URL, C(web.public_url), 0, 0, NULL, false },
	{ S_WEB, "auth_cache_ms", K_INT, C(web.auth_cache_ms), 0, 10000, "1000", false },

	{ S_PROVIDER, "kind", K_KIND, P(kind), 0, 0, NULL, true },
	{ S_PROVIDER, "client_id", K_STR, P(client_id), 0, 0, NULL, true },
	{ S_PROVIDER, "client_secret_file", K_SECRET, P(client_secret_file), 0, 0, NULL, false },
	{ S_PROVIDER, "userinfo_url", K_HTTP_URL, P(userinfo_url), 0, 0, NULL, false },
	{ S_PROVIDER, "tokeninfo_url", K_HTTP_URL, P(tokeninfo_url), 0, 0, NULL, false },
	{ S_PROVIDER, "introspection_url", K_HTTP_URL, P(introspection_url), 0, 0, NULL, false },
	{ S_PROVIDER, "debug_token_url", K_HTTP_URL, P(debug_token_url), 0, 0, NULL, false },
	{ S_PROVIDER, "issuer", K_HTTP_URL, P(issuer), 0, 0, NULL, false },
	{ S_PROVIDER, "jwks_url", K_HTTP_URL, P(jwks_url), 0, 0, NULL, false },
	{ S_PROVIDER, "timeout", K_INT, P(timeout), 1, 60, "5", false },
	{ S_PROVIDER, "authorize_url", K_HTTP_URL, P(authorize_url), 0, 0, NULL, false },
	{ S_PROVIDER, "token_url", K_HTTP_URL, P(token_url), 0, 0, NULL, false },
	{ S_PROVIDER, "scope", K_STR, P(scope), 0, 0, NULL, false },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct parser {
	const char *name;       /* file name for messages */
	portail_config *cfg;
	portail_error *err;
	enum section section;   /* S_COUNT: before the first header */
	int provider;           /* index of the current [provider.NAME] */
	unsigned header_line;
	bool seen_section[S_COUNT];
	/* seen[k] for fixed sections; provider_seen[p][k] for providers */
	unsigned seen[N_KEYS];
	unsigned provider_seen[PORTAIL_MAX_PROVIDERS][N_KEYS];
};

static portail_status
fail(struct parser *p, unsigned line, const struct key *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static portail_status
fail(struct parser *p, unsigned line, const struct key *k, const char *fmt, ...)
{
	char what[384];
	char where[64];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		(void)snprintf(where, sizeof(where), ":%u", line);
	else
		where[0] = '\0';
	if (k == NULL)
		return portail_error_set(p->err, PORTAIL_ERR_CONFIG, "%s%s: %s",
		    p->name, where, what);
	if (k->section == S_PROVIDER && p->provider >= 0)
		return portail_error_set(p->err, PORTAIL_ERR_CONFIG,
		    "%s%s: [provider.%s] %s: %s", p->name, where,
		    p->cfg->providers[p->provider].name, k->name, what);
	return portail_error_set(p->err, PORTAIL_ERR_CONFIG, "%s%s: [%s] %s: %s",
	    p->name, where, section_names[k->section], k->name, what);
}

static bool
is_loopback_host(const char *host, size_t len)
{
	return (len == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (len >= 4 && strncmp(host, "127.", 4) == 0) ||
	    (len == 5 && strncmp(host, "[::1]", 5) == 0);
}

static bool
http_url_ok(const char *v)
{
	const char *host, *end;

	if (strncmp(v, "https://", 8) == 0)
		return v[8] != '\0' && v[8] != '/';
	if (strncmp(v, "http://", 7) != 0)
		return false;
	host = v + 7;
	end = host + strcspn(host, "/:");
	if (*host == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : end;
	return is_loopback_host(host, (size_t)(end - host));
}

/* An absolute unix socket path that fits sun_path, or a loopback address and port. */
static bool
listen_ok(const char *v)
{
	const char *port;
	char *end = NULL;
	long n;

	if (v[0] == '/')
		return strlen(v) < sizeof(((struct sockaddr_un *)0)->sun_path);
	if (strncmp(v, "127.0.0.1:", 10) == 0)
		port = v + 10;
	else if (strncmp(v, "[::1]:", 6) == 0)
		port = v + 6;
	else
		return false;
	if (!isdigit((unsigned char)*port))
		return false;
	errno = 0;
	n = strtol(port, &end, 10);
	return errno == 0 && *end == '\0' && n >= 1 && n <= 65535;
}

static bool
attr_ok(const char *v)
{
	/* RFC 4512 descr: a letter then letters, digits and hyphens. */
	if (!isalpha((unsigned char)*v))
		return false;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '-')
			return false;
	return true;
}

static bool
filter_ok(const char *v, const char **why)
{
	int depth = 0, n_s = 0;

	if (*v != '(') {
		*why = "must start with '('";
		return false;
	}
	for (const char *c = v; *c; c++) {
		if (*c == '%') {
			if (c[1] != 's') {
				*why = "only %s may follow '%'";
				return false;
			}
			n_s++;
			c++;
		} else if (*c == '(') {
			depth++;
		} else if (*c == ')') {
			if (--depth < 0)
				break;
		} else if (*c == '\\') {
			if (!isxdigit((unsigned char)c[1]) || !isxdigit((unsigned char)c[2])) {
				*why = "a backslash must start an escape such as \\2a";
				return false;
			}
		}
	}
	if (depth != 0) {
		*why = "unbalanced parentheses";
		return false;
	}
	if (n_s == 0) {
		*why = "must contain %s where the address goes";
		return false;
	}
	return true;
}

static portail_status
check_secret_mode(struct parser *p, unsigned line, const struct key *k,
    const char *path, bool must_exist)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT && !must_exist)
			return PORTAIL_OK;
		/* An unprivileged client (the CLI run by a parent) cannot see the
		 * daemon's secrets, and needs not: the process that reads a secret
		 * checks it, as root, before anything starts. */
		if (errno == EACCES && geteuid() != 0)
			return PORTAIL_OK;
		return fail(p, line, k, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return fail(p, line, k, "%s: not a regular file", path);
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return fail(p, line, k,
		    "%s: readable by group or others (mode %04o); run chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
	return PORTAIL_OK;
}

static portail_status
split_list(struct parser *p, unsigned line, const struct key *k,
    const char *v, const char *seps, char ***out, int *n_out, int max)
{
	char **list = NULL;
	int n = 0;
	const char *c = v;

	list = calloc((size_t)max + 1, sizeof(*list));
	if (list == NULL)
		return PORTAIL_ERR_NOMEM;
	for (;;) {
		size_t len;

		c += strspn(c, seps);
		if (*c == '\0')
			break;
		len = strcspn(c, seps);
		if (n == max) {
			pt_strv_free(list);
			return fail(p, line, k, "more than %d entries", max);
		}
		if ((list[n++] = strndup(c, len)) == NULL) {
			pt_strv_free(list);
			return PORTAIL_ERR_NOMEM;
		}
		c += len;
	}
	if (n == 0) {
		free(list);
		return fail(p, line, k, "empty list");
	}
	*out = list;
	*n_out = n;
	return PORTAIL_OK;
}

/*
 * [web] introspection_client = ID FILE (a line per resource server).
 * The id is kept to characters that RFC 6749's form-encoding of Basic
 * credentials leaves alone, so a client that encodes and one that does
 * not send the same bytes, and it fits a URL's user part unescaped.
 */
static portail_status
set_client(struct parser *p, unsigned line, const struct key *k, const char *v)
{
	struct portail_web_config *web = &p->cfg->web;
	struct portail_introspection_client *c;
	size_t n = strcspn(v, " \t");
	const char *file = v + n + strspn(v + n, " \t");
	portail_status r;

	if (n == 0 || *file == '\0' || file[strcspn(file, " \t")] != '\0')
		return fail(p, line, k, "'%s' is not ID FILE", v);
	if (n > PORTAIL_CLIENT_ID_MAX || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") < n)
		return fail(p, line, k, "'%.*s': an id has 1 to %d characters from A-Z a-z 0-9 . _ -",
		    (int)n, v, PORTAIL_CLIENT_ID_MAX);
	for (int i = 0; i < web->n_clients; i++)
		if (strlen(web->clients[i].id) == n && strncmp(web->clients[i].id, v, n) == 0)
			return fail(p, line, k, "'%.*s' appears twice", (int)n, v);
	if (web->n_clients == PORTAIL_MAX_INTROSPECTION_CLIENTS)
		return fail(p, line, k, "more than %d clients", PORTAIL_MAX_INTROSPECTION_CLIENTS);
	if (file[0] != '/')
		return fail(p, line, k, "'%s' is not an absolute path", file);
	if ((r = check_secret_mode(p, line, k, file, true)) != PORTAIL_OK)
		return r;
	c = &web->clients[web->n_clients];
	if ((c->id = strndup(v, n)) == NULL || (c->secret_file = strdup(file)) == NULL) {
		free(c->id);
		c->id = NULL;
		return PORTAIL_ERR_NOMEM;
	}
	web->n_clients++;
	return PORTAIL_OK;
}

/*
 * [store] conninfo, parsed by libpq itself (keywords or a postgresql://
 * URI, several hosts allowed). No password in it: the file is readable
 * by more than the daemon (password_file is not), and libpq's messages
 * would not be told to keep it quiet. portail writes, so a session that
 * is not read-write is no use (the backend asks for read-write).
 */
static portail_status
conninfo_check(struct parser *p, unsigned line, const struct key *k, const char *v)
{
	PQconninfoOption *opts;
	char *msg = NULL;
	portail_status r = PORTAIL_OK;

	if ((opts = PQconninfoParse(v, &msg)) == NULL) {
		size_t n = msg != NULL ? strcspn(msg, "\n") : 0;

		r = msg != NULL ? fail(p, line, k, "%.*s", (int)n, msg) :
		    PORTAIL_ERR_NOMEM;
		PQfreemem(msg);
		return r;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			r = fail(p, line, k, "holds a password: put it in [store] password_file "
			    "(mode 0600) instead");
			break;
		}
		if (strcmp(o->keyword, "target_session_attrs") == 0 &&
		    strcmp(o->val, "read-write") != 0 && strcmp(o->val, "primary") != 0) {
			r = fail(p, line, k, "target_session_attrs=%s: portail writes, it needs "
			    "read-write (the default here)", o->val);
			break;
		}
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			sodium_memzero(o->val, strlen(o->val));
	PQconninfoFree(opts);
	return r;
}

/* Turns the text of one key into its field. */
static portail_status
set_value(struct parser *p, unsigned line, const struct key *k, const char *v,
    void *base)
{
	char *field_str = NULL;
	char **sp = (char **)(void *)((char *)base + k->off);
	int *ip = (int *)(void *)((char *)base + k->off);
	bool *bp = (bool *)(void *)((char *)base + k->off);
	const char *why = NULL;
	portail_status r;

	if (*v == '\0')
		return fail(p, line, k, "empty value");

	switch (k->kind) {
	case K_INT: {
		char *end = NULL;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || !isdigit((unsigned char)v[0]))
			return fail(p, line, k, "'%s' is not a whole number", v);
		if (n < k->min || n > k->max)
			return fail(p, line, k, "%ld is out of range (%ld to %ld)", n, k->min, k->max);
		*ip = (int)n;
		return PORTAIL_OK;
	}
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
			*bp = true;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
			*bp = false;
		else
			return fail(p, line, k, "'%s' is not yes or no", v);
		return PORTAIL_OK;
	case K_TLS: {
		enum portail_starttls *tp = (enum portail_starttls *)(void *)((char *)base + k->off);

		if (!strcmp(v, "no"))
			*tp = PORTAIL_TLS_NO;
		else if (!strcmp(v, "try"))
			*tp = PORTAIL_TLS_TRY;
		else if (!strcmp(v, "yes"))
			*tp = PORTAIL_TLS_YES;
		else
			return fail(p, line, k, "'%s' is not no, try or yes", v);
		return PORTAIL_OK;
	}
	case K_URIS: {
		char **list = NULL;
		int n = 0;

		r = split_list(p, line, k, v, " \t", &list, &n, PORTAIL_MAX_URIS);
		if (r != PORTAIL_OK)
			return r;
		for (int i = 0; i < n; i++) {
			if (strncmp(list[i], "ldap://", 7) != 0 &&
			    strncmp(list[i], "ldaps://", 8) != 0 &&
			    strncmp(list[i], "ldapi://", 8) != 0) {
				r = fail(p, line, k, "'%s' is not an ldap://, ldaps:// or ldapi:// URI", list[i]);
				pt_strv_free(list);
				return r;
			}
		}
		for (int i = 0; i < n; i++)
			p->cfg->gpi.uris[i] = list[i];
		p->cfg->gpi.n_uris = n;
		free(list);
		return PORTAIL_OK;
	}
	case K_SCHOOLS: {
		int n = 0;

		if (strcmp(v, "*") == 0) {
			p->cfg->gpi.all_schools = true;
			return PORTAIL_OK;
		}
		r = split_list(p, line, k, v, " \t,", &p->cfg->gpi.subscribed_schools, &n, 4096);
		if (r != PORTAIL_OK)
			return r;
		for (int i = 0; i < n; i++)
			if (strcmp(p->cfg->gpi.subscribed_schools[i], "*") == 0)
				return fail(p, line, k, "'*' must stand alone");
		p->cfg->gpi.all_schools = false;
		return PORTAIL_OK;
	}
	case K_ADDRS: {
		char **list = NULL;
		int n = 0;

		r = split_list(p, line, k, v, " \t,", &list, &n, PORTAIL_MAX_PROXIES);
		if (r != PORTAIL_OK)
			return r;
		for (int i = 0; i < n; i++) {
			unsigned char a[sizeof(struct in6_addr)];

			if (strcmp(list[i], "unix") != 0 && inet_pton(AF_INET, list[i], a) != 1 &&
			    inet_pton(AF_INET6, list[i], a) != 1) {
				r = fail(p, line, k, "'%s' is not an IPv4 or IPv6 address, or unix", list[i]);
				pt_strv_free(list);
				return r;
			}
		}
		pt_strv_free(p->cfg->web.trusted_proxies);
		p->cfg->web.trusted_proxies = list;
		return PORTAIL_OK;
	}
	case K_CLIENT:
		return set_client(p, line, k, v);
	case K_BACKEND:
		if (strcmp(v, "sqlite") == 0)
			*ip = PORTAIL_STORE_SQLITE;
		else if (strcmp(v, "postgresql") == 0)
			*ip = PORTAIL_STORE_POSTGRESQL;
		else
			return fail(p, line, k, "'%s' is not sqlite or postgresql", v);
		return PORTAIL_OK;
	case K_CONNINFO:
		if ((r = conninfo_check(p, line, k, v)) != PORTAIL_OK)
			return r;
		break;
	case K_LISTEN:
		if (!listen_ok(v))
			return fail(p, line, k, "'%s' is not an absolute socket path, "
			    "127.0.0.1:PORT or [::1]:PORT", v);
		break;
	case K_STR:
		break;
	case K_PATH:
	case K_SECRET:
	case K_KEYFILE:
		if (v[0] != '/')
			return fail(p, line, k, "'%s' is not an absolute path", v);
		if (k->kind != K_PATH) {
			r = check_secret_mode(p, line, k, v, k->kind == K_SECRET);
			if (r != PORTAIL_OK)
				return r;
		}
		break;
	case K_LANG:
		if (strcmp(v, "fr") != 0 && strcmp(v, "en") != 0)
			return fail(p, line, k, "'%s' is not fr or en", v);
		break;
	case K_SMTP_URL:
		if (strncmp(v, "smtp://", 7) != 0 && strncmp(v, "smtps://", 8) != 0)
			return fail(p, line, k, "'%s' is not an smtp:// or smtps:// URL", v);
		break;
	case K_HTTP_URL:
		if (!http_url_ok(v))
			return fail(p, line, k, "'%s' must be https:// (http:// only to a loopback host)", v);
		break;
	case K_KIND:
		if (strcmp(v, "google") && strcmp(v, "microsoft") && strcmp(v, "facebook") &&
		    strcmp(v, "linkedin") && strcmp(v, "oidc"))
			return fail(p, line, k, "'%s' is not google, microsoft, facebook, linkedin or oidc", v);
		break;
	case K_FILTER:
		if (!filter_ok(v, &why))
			return fail(p, line, k, "%s", why);
		break;
	case K_ATTR:
		if (!attr_ok(v))
			return fail(p, line, k, "'%s' is not an attribute name", v);
		break;
	case K_SASL:
		if (strcmp(v, "EXTERNAL") != 0)
			return fail(p, line, k, "'%s' is not supported (only EXTERNAL)", v);
		break;
	case K_ALPHABET: {
		size_t n = strlen(v);

		if (n < 2 || n > 64)
			return fail(p, line, k, "must have 2 to 64 characters");
		for (size_t i = 0; i < n; i++) {
			if (!isgraph((unsigned char)v[i]))
				return fail(p, line, k, "only printable ASCII characters, no spaces");
			for (size_t j = 0; j < i; j++)
				if (tolower((unsigned char)v[i]) == tolower((unsigned char)v[j]))
					return fail(p, line, k,
					    "'%c' appears twice (codes are typed case-insensitively)", v[i]);
		}
		break;
	}
	}

	if ((field_str = strdup(v)) == NULL)
		return PORTAIL_ERR_NOMEM;
	free(*sp);
	*sp = field_str;
	return PORTAIL_OK;
}

static const struct key *
find_key(enum section s, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == s && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/*
 * What ties a provider's tokens to our client id (issue 11): an oidc
 * provider needs introspection_url (access tokens) or issuer and jwks_url
 * (ID tokens); the other kinds have defaults for both.
 */
static portail_status
provider_check(struct parser *p, int pi)
{
	const struct portail_provider_config *pc = &p->cfg->providers[pi];
	const struct key *kind = find_key(S_PROVIDER, "kind");
	const struct key *iss = find_key(S_PROVIDER, "issuer");
	const struct key *jwks = find_key(S_PROVIDER, "jwks_url");

	if (strcmp(pc->kind, "oidc") != 0)
		return PORTAIL_OK;
	if ((pc->issuer == NULL) != (pc->jwks_url == NULL))
		return fail(p, p->provider_seen[pi][(pc->issuer ? iss : jwks) - keys],
		    pc->issuer ? iss : jwks, "kind oidc verifies ID tokens with both issuer and "
		    "jwks_url");
	if (pc->introspection_url == NULL && pc->issuer == NULL)
		return fail(p, p->provider_seen[pi][kind - keys], kind, "oidc needs "
		    "introspection_url (to check that an access token is ours), or issuer and "
		    "jwks_url (to verify ID tokens): nothing else ties a token to client_id");
	return PORTAIL_OK;
}

/* A run of ") (" left by joined continuation lines becomes ")(". */
static void
squeeze_filter(char *v)
{
	char *w = v;

	for (char *c = v; *c; c++) {
		*w++ = *c;
		if (*c == ')') {
			char *n = c + 1;

			while (*n == ' ' || *n == '\t')
				n++;
			if (*n == '(')
				c = n - 1;
		}
	}
	*w = '\0';
}

/* A C0 control or DEL (a tab included: names are one line of text). */
static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/*
 * [schools]: CODE = name, one line per school; the names /compte shows
 * for the codes on the records. No key to look up: the code is the key.
 */
static portail_status
add_school(struct parser *p, unsigned line, const char *code, const char *value)
{
	portail_config *cfg = p->cfg;
	struct portail_school *n;
	size_t len = strlen(value);

	for (int i = 0; i < cfg->n_schools; i++)
		if (strcmp(cfg->schools[i].code, code) == 0)
			return fail(p, line, NULL, "[schools]: '%s' set twice (first at line %u)", code,
			    cfg->schools[i].line);
	if (len == 0 || len > PORTAIL_SCHOOL_NAME_MAX)
		return fail(p, line, NULL, "[schools]: '%s': a name has 1 to %d bytes", code,
		    PORTAIL_SCHOOL_NAME_MAX);
	if (!pt_utf8_valid(value, len) || has_control(value))
		return fail(p, line, NULL, "[schools]: '%s': the name is not UTF-8 text without "
		    "control characters", code);
	if (cfg->n_schools == PORTAIL_MAX_SCHOOLS)
		return fail(p, line, NULL, "[schools]: more than %d schools", PORTAIL_MAX_SCHOOLS);
	if ((n = realloc(cfg->schools, (size_t)(cfg->n_schools + 1) * sizeof(*n))) == NULL)
		return PORTAIL_ERR_NOMEM;
	cfg->schools = n;
	n = &cfg->schools[cfg->n_schools];
	n->line = line;
	if ((n->code = strdup(code)) == NULL)
		return PORTAIL_ERR_NOMEM;
	if ((n->name = strdup(value)) == NULL) {
		free(n->code);
		return PORTAIL_ERR_NOMEM;
	}
	cfg->n_schools++;
	return PORTAIL_OK;
}

static portail_status
set_key(struct parser *p, unsigned line, const char *name, char *value)
{
	const struct key *k;
	unsigned *seen;
	void *base;

	if (p->section == S_COUNT)
		return fail(p, line, NULL, "'%s' comes before any [section]", name);
	if (p->section == S_SCHOOLS)
		return add_school(p, line, name, value);
	if ((k = find_key(p->section, name)) == NULL) {
		if (p->section == S_PROVIDER)
			return fail(p, line, NULL, "[provider.%s]: unknown key '%s'",
			    p->cfg->providers[p->provider].name, name);
		return fail(p, line, NULL, "[%s]: unknown key '%s'",
		    section_names[p->section], name);
	}
	if (p->section == S_PROVIDER) {
		seen = &p->provider_seen[p->provider][k - keys];
		base = &p->cfg->providers[p->provider];
	} else {
		seen = &p->seen[k - keys];
		base = p->cfg;
	}
	if (*seen && k->kind != K_CLIENT)        /* a line per client */
		return fail(p, line, k, "set twice (first at line %u)", *seen);
	*seen = line;
	if (k->kind == K_FILTER)
		squeeze_filter(value);
	return set_value(p, line, k, value, base);
}

static portail_status
open_section(struct parser *p, unsigned line, const char *name)
{
	if (strncmp(name, "provider.", 9) == 0) {
		const char *pname = name + 9;
		struct portail_provider_config *pc;

		if (*pname == '\0' || strlen(pname) > 32)
			return fail(p, line, NULL, "[%s]: a provider name has 1 to 32 characters", name);
		for (const char *c = pname; *c; c++)
			if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_' && *c != '-')
				return fail(p, line, NULL,
				    "[%s]: a provider name has only a-z, 0-9, '_' and '-'", name);
		for (int i = 0; i < p->cfg->n_providers; i++)
			if (strcmp(p->cfg->providers[i].name, pname) == 0)
				return fail(p, line, NULL, "[%s] appears twice", name);
		if (p->cfg->n_providers == PORTAIL_MAX_PROVIDERS)
			return fail(p, line, NULL, "more than %d providers", PORTAIL_MAX_PROVIDERS);
		pc = &p->cfg->providers[p->cfg->n_providers];
		if ((pc->name = strdup(pname)) == NULL)
			return PORTAIL_ERR_NOMEM;
		p->provider = p->cfg->n_providers++;
		p->section = S_PROVIDER;
		p->seen_section[S_PROVIDER] = true;
		return PORTAIL_OK;
	}
	for (int s = 0; s < S_PROVIDER; s++) {
		if (strcmp(section_names[s], name) == 0) {
			if (p->seen_section[s])
				return fail(p, line, NULL, "[%s] appears twice", name);
			p->seen_section[s] = true;
			p->section = (enum section)s;
			return PORTAIL_OK;
		}
	}
	return fail(p, line, NULL,
	    "unknown section [%s] (known: gpi, daemon, store, security, codes, "
	    "password, mail, tokens, web, schools, provider.NAME)", name);
}

static bool
is_key_char(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_';
}

/*
 * [store] across keys: postgresql needs conninfo; its deadline comes
 * before the request's (the ordered timeouts); the pool is one connection
 * per worker unless set; the password file is root's or the daemon
 * user's (another owner could change it under us), when we can see it.
 */
static portail_status
store_check(struct parser *p)
{
	portail_config *cfg = p->cfg;
	const struct key *k;
	struct stat sb;

	if (cfg->store.pool_size == 0)
		cfg->store.pool_size = cfg->daemon.workers;
	if (cfg->store.backend != PORTAIL_STORE_POSTGRESQL)
		return PORTAIL_OK;
	if (cfg->store.conninfo == NULL) {
		k = find_key(S_STORE, "backend");
		return fail(p, p->seen[k - keys], k, "postgresql needs [store] conninfo");
	}
	if (cfg->store.deadline_ms >= cfg->daemon.request_timeout * 1000) {
		k = find_key(S_STORE, "deadline_ms");
		return fail(p, p->seen[k - keys], k, "must be less than [daemon] request_timeout "
		    "(%d s)", cfg->daemon.request_timeout);
	}
	if (cfg->store.password_file != NULL && stat(cfg->store.password_file, &sb) == 0 &&
	    sb.st_uid != 0) {
		struct passwd *pw = getpwnam(cfg->daemon.user);

		if (pw == NULL || pw->pw_uid != sb.st_uid) {
			k = find_key(S_STORE, "password_file");
			return fail(p, p->seen[k - keys], k, "%s is owned by uid %u, neither root nor "
			    "[daemon] user %s: chown root %s", cfg->store.password_file,
			    (unsigned)sb.st_uid, cfg->daemon.user, cfg->store.password_file);
		}
	}
	return PORTAIL_OK;
}

/* Fills defaults, checks required keys and the rules across keys. */
static portail_status
finish(struct parser *p)
{
	portail_config *cfg = p->cfg;
	portail_status r;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (k->section == S_PROVIDER)
			continue;
		if (p->seen[i])
			continue;
		if (k->required)
			return fail(p, 0, k, "required%s", p->seen_section[k->section] ? "" : " (section missing)");
		if (k->def != NULL && (r = set_value(p, 0, k, k->def, cfg)) != PORTAIL_OK)
			return r;
	}
	for (int pi = 0; pi < cfg->n_providers; pi++) {
		p->provider = pi;
		for (size_t i = 0; i < N_KEYS; i++) {
			const struct key *k = &keys[i];

			if (k->section != S_PROVIDER || p->provider_seen[pi][i])
				continue;
			if (k->required)
				return fail(p, 0, k, "required");
			if (k->def != NULL &&
			    (r = set_value(p, 0, k, k->def, &cfg->providers[pi])) != PORTAIL_OK)
				return r;
		}
	}
	p->provider = -1;

	/* Timeouts are ordered: directory/mail/HTTP < request < client. */
	if (cfg->gpi.network_timeout > cfg->gpi.timeout)
		return fail(p, p->seen[find_key(S_GPI, "network_timeout") - keys],
		    find_key(S_GPI, "network_timeout"),
		    "must not exceed [gpi] timeout (%d)", cfg->gpi.timeout);
	if (cfg->gpi.timeout >= cfg->daemon.request_timeout)
		return fail(p, p->seen[find_key(S_GPI, "timeout") - keys], find_key(S_GPI, "timeout"),
		    "must be less than [daemon] request_timeout (%d)", cfg->daemon.request_timeout);
	if (cfg->mail.timeout >= cfg->daemon.request_timeout)
		return fail(p, p->seen[find_key(S_MAIL, "timeout") - keys], find_key(S_MAIL, "timeout"),
		    "must be less than [daemon] request_timeout (%d)", cfg->daemon.request_timeout);
	/*
	 * SMTP credentials go over TLS or not at all: with starttls = try, a
	 * relay (or anyone on the path) that strips STARTTLS from the EHLO
	 * answer gets the password in clear (curl's CURLUSESSL_TRY).
	 */
	if ((cfg->mail.username != NULL || cfg->mail.password_file != NULL) &&
	    strncmp(cfg->mail.url, "smtps://", 8) != 0 && cfg->mail.starttls != PORTAIL_TLS_YES) {
		const struct key *ks = find_key(S_MAIL, "starttls");
		const struct key *kc = find_key(S_MAIL, cfg->mail.password_file != NULL ?
		    "password_file" : "username");
		const struct key *k = p->seen[ks - keys] ? ks : kc;

		return fail(p, p->seen[k - keys], k,
		    "%s with starttls = %s would send the SMTP password in clear to a relay that "
		    "strips STARTTLS: use an smtps:// url or starttls = yes", kc->name,
		    cfg->mail.starttls == PORTAIL_TLS_NO ? "no" : "try");
	}
	for (int pi = 0; pi < cfg->n_providers; pi++) {
		const struct key *k = find_key(S_PROVIDER, "timeout");

		p->provider = pi;
		if (cfg->providers[pi].timeout >= cfg->daemon.request_timeout)
			return fail(p, p->provider_seen[pi][k - keys], k,
			    "must be less than [daemon] request_timeout (%d)", cfg->daemon.request_timeout);
		if ((r = provider_check(p, pi)) != PORTAIL_OK)
			return r;
		p->provider = -1;
	}
	if ((r = store_check(p)) != PORTAIL_OK)
		return r;
	if (cfg->gpi.bind_password_file != NULL && cfg->gpi.bind_dn == NULL) {
		const struct key *k = find_key(S_GPI, "bind_password_file");

		return fail(p, p->seen[k - keys], k, "needs bind_dn");
	}
	if (cfg->gpi.bind_dn != NULL && cfg->gpi.sasl_mech != NULL) {
		const struct key *k = find_key(S_GPI, "sasl_mech");

		return fail(p, p->seen[k - keys], k, "bind_dn and sasl_mech exclude each other");
	}
	if (cfg->password.min_length > cfg->password.max_length) {
		const struct key *k = find_key(S_PASSWORD, "min_length");

		return fail(p, p->seen[k - keys], k, "must not exceed max_length (%d)",
		    cfg->password.max_length);
	}
	if (cfg->password.lockout > cfg->password.lockout_max) {
		const struct key *k = find_key(S_PASSWORD, "lockout");

		return fail(p, p->seen[k - keys], k, "must not exceed lockout_max (%d)",
		    cfg->password.lockout_max);
	}
	if (cfg->web.session_idle > cfg->web.session_max) {
		const struct key *k = find_key(S_WEB, "session_idle");

		return fail(p, p->seen[k - keys], k, "must not exceed session_max (%d)",
		    cfg->web.session_max);
	}
	if (cfg->token_lifetime > cfg->token_max_age) {
		const struct key *k = find_key(S_TOKENS, "lifetime");

		return fail(p, p->seen[k - keys], k, "must not exceed max_age (%d)", cfg->token_max_age);
	}
	{
		/* NIST 800-63B: at least 20 bits of entropy in a code. */
		unsigned long long space = 1;
		size_t a = strlen(cfg->codes.alphabet);
		int need = 0;

		while (space < (1ull << 20)) {
			space *= a;
			need++;
		}
		if (cfg->codes.length < need) {
			const struct key *k = find_key(S_CODES, "length");

			return fail(p, p->seen[k - keys], k,
			    "%d characters from a %zu-letter alphabet give fewer than 20 bits; use at least %d",
			    cfg->codes.length, a, need);
		}
	}
	return PORTAIL_OK;
}

portail_status
portail_config_parse(const char *name, const char *buf, size_t len,
    portail_config **out, portail_error *err)
{
	struct parser *p = NULL;
	portail_config *cfg = NULL;
	char *line = NULL, *pend_key = NULL, *pend_val = NULL;
	size_t pend_len = 0;
	unsigned lineno = 0, pend_line = 0;
	size_t pos = 0;
	portail_status r = PORTAIL_ERR_NOMEM;

	if (len > CONFIG_MAX_BYTES)
		return portail_error_set(err, PORTAIL_ERR_CONFIG,
		    "%s: larger than %u bytes", name, CONFIG_MAX_BYTES);
	if ((p = calloc(1, sizeof(*p))) == NULL || (cfg = calloc(1, sizeof(*cfg))) == NULL)
		goto out;
	p->name = name;
	p->cfg = cfg;
	p->err = err;
	p->section = S_COUNT;
	p->provider = -1;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;        /* UTF-8 byte order mark */

	for (;;) {
		bool eof = pos >= len, indented = false;
		char *c = NULL, *eq;

		if (!eof) {
			const char *start = buf + pos;
			const char *nl = memchr(start, '\n', len - pos);
			size_t n = nl ? (size_t)(nl - start) : len - pos;
			size_t end = n;

			pos += n + (nl ? 1 : 0);
			lineno++;
			if (memchr(start, '\0', n) != NULL) {
				r = fail(p, lineno, NULL, "NUL byte in line");
				goto out;
			}
			if (end > 0 && start[end - 1] == '\r')
				end--;          /* CRLF line ending */
			for (size_t i = 0; i < end; i++) {
				if ((unsigned char)start[i] < 0x20 && start[i] != '\t') {
					r = fail(p, lineno, NULL, "control character 0x%02x in line",
					    (unsigned char)start[i]);
					goto out;
				}
			}
			if (!pt_utf8_valid(start, end)) {
				r = fail(p, lineno, NULL, "not valid UTF-8");
				goto out;
			}
			free(line);
			if ((line = strndup(start, end)) == NULL)
				goto out;
			indented = line[0] == ' ' || line[0] == '\t';
			c = pt_trim(line);
			if (indented && pend_key != NULL && *c != '\0' && *c != '#') {
				/* Continuation line: joined with one space. */
				size_t add = strlen(c);
				char *nv = realloc(pend_val, pend_len + 1 + add + 1);

				if (nv == NULL)
					goto out;
				pend_val = nv;
				pend_val[pend_len++] = ' ';
				memcpy(pend_val + pend_len, c, add + 1);
				pend_len += add;
				continue;
			}
		}
		/* Anything but a continuation ends the pending value. */
		if (pend_key != NULL) {
			r = set_key(p, pend_line, pend_key, pend_val);
			free(pend_key);
			free(pend_val);
			pend_key = pend_val = NULL;
			if (r != PORTAIL_OK)
				goto out;
			r = PORTAIL_ERR_NOMEM;
		}
		if (eof)
			break;
		if (*c == '\0' || *c == '#')
			continue;
		if (indented) {
			r = fail(p, lineno, NULL, "indented line continues no key");
			goto out;
		}
		if (*c == '[') {
			char *close = strchr(c, ']');

			if (close == NULL) {
				r = fail(p, lineno, NULL, "missing ']'");
				goto out;
			}
			if (*pt_trim(close + 1) != '\0') {
				r = fail(p, lineno, NULL, "text after ']'");
				goto out;
			}
			*close = '\0';
			if ((r = open_section(p, lineno, pt_trim(c + 1))) != PORTAIL_OK)
				goto out;
			r = PORTAIL_ERR_NOMEM;
			continue;
		}
		if ((eq = strchr(c, '=')) == NULL) {
			r = fail(p, lineno, NULL, "expected 'key = value' or '[section]'");
			goto out;
		}
		*eq = '\0';
		c = pt_trim(c);
		if (*c == '\0') {
			r = fail(p, lineno, NULL, "missing key before '='");
			goto out;
		}
		for (char *k = c; *k; k++) {
			if (!is_key_char(*k)) {
				r = fail(p, lineno, NULL, "'%s' is not a key name (a-z, 0-9, '_')", c);
				goto out;
			}
		}
		if ((pend_key = strdup(c)) == NULL ||
		    (pend_val = strdup(pt_trim(eq + 1))) == NULL)
			goto out;
		pend_len = strlen(pend_val);
		pend_line = lineno;
	}
	if ((r = finish(p)) != PORTAIL_OK)
		goto out;
	if ((cfg->path = strdup(name)) == NULL) {
		r = PORTAIL_ERR_NOMEM;
		goto out;
	}
	*out = cfg;
	cfg = NULL;
	r = PORTAIL_OK;
out:
	if (r == PORTAIL_ERR_NOMEM)
		portail_error_set(err, r, "%s: out of memory", name);
	free(line);
	free(pend_key);
	free(pend_val);
	portail_config_free(cfg);
	free(p);
	return r;
}

const char *
portail_config_default_path(void)
{
	const char *env = getenv("PORTAIL_CONFIG");

	return (env != NULL && *env != '\0') ? env : PORTAIL_DEFAULT_CONFIG;
}

portail_status
portail_config_load(const char *path, portail_config **out, portail_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	portail_status r;

	if (path == NULL)
		path = portail_config_default_path();
	r = pt_file_read(path, CONFIG_MAX_BYTES, &buf, &len, err);
	if (r != PORTAIL_OK)
		return r == PORTAIL_ERR_IO ? PORTAIL_ERR_CONFIG : r;
	r = portail_config_parse(path, buf, len, out, err);
	free(buf);
	return r;
}

static void
free_provider(struct portail_provider_config *pc)
{
	free(pc->name);
	free(pc->kind);
	free(pc->client_id);
	free(pc->client_secret_file);
	free(pc->userinfo_url);
	free(pc->tokeninfo_url);
	free(pc->introspection_url);
	free(pc->debug_token_url);
	free(pc->issuer);
	free(pc->jwks_url);
	free(pc->authorize_url);
	free(pc->token_url);
	free(pc->scope);
}

void
portail_config_free(portail_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	for (int i = 0; i < cfg->gpi.n_uris; i++)
		free(cfg->gpi.uris[i]);
	free(cfg->gpi.base);
	free(cfg->gpi.bind_dn);
	free(cfg->gpi.bind_password_file);
	free(cfg->gpi.sasl_mech);
	free(cfg->gpi.ca_file);
	free(cfg->gpi.filter);
	free(cfg->gpi.email_attribute);
	free(cfg->gpi.student_id_attribute);
	free(cfg->gpi.name_attribute);
	free(cfg->gpi.school_attribute);
	pt_strv_free(cfg->gpi.subscribed_schools);
	free(cfg->daemon.socket);
	free(cfg->daemon.user);
	free(cfg->daemon.admin_group);
	free(cfg->store_path);
	free(cfg->store.conninfo);
	free(cfg->store.password_file);
	free(cfg->key_file);
	free(cfg->codes.alphabet);
	free(cfg->mail.url);
	free(cfg->mail.from);
	free(cfg->mail.username);
	free(cfg->mail.password_file);
	free(cfg->mail.language);
	free(cfg->mail.template_dir);
	free(cfg->mail.portal_name);
	free(cfg->web.listen);
	free(cfg->web.home_url);
	free(cfg->web.public_url);
	pt_strv_free(cfg->web.trusted_proxies);
	free(cfg->web.user);
	for (int i = 0; i < cfg->n_schools; i++) {
		free(cfg->schools[i].code);
		free(cfg->schools[i].name);
	}
	free(cfg->schools);
	for (int i = 0; i < cfg->web.n_clients; i++) {
		free(cfg->web.clients[i].id);
		free(cfg->web.clients[i].secret_file);
	}
	for (int i = 0; i < cfg->n_providers; i++)
		free_provider(&cfg->providers[i]);
	free(cfg);
}

portail_status
portail_secret_read(const char *path, char **out, portail_error *err)
{
	/* Read in one fixed buffer: no realloc leaves a copy behind. */
	enum { SECRET_MAX = 4096 };
	char *buf = NULL;
	size_t used = 0;
	int fd = -1;
	portail_status r = PORTAIL_ERR_IO;

	if ((r = pt_open_secret(path, &fd, err)) != PORTAIL_OK) {
		fd = -1;
		goto out;
	}
	if ((buf = calloc(1, SECRET_MAX + 1)) == NULL) {
		r = portail_error_set(err, PORTAIL_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, SECRET_MAX - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = portail_error_set(err, PORTAIL_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == SECRET_MAX) {
			r = portail_error_set(err, PORTAIL_ERR_CONFIG,
			    "%s: longer than %d bytes", path, SECRET_MAX - 1);
			goto out;
		}
	}
	/* The secret is the first line, without its line ending. */
	{
		size_t len = strcspn(buf, "\r\n");

		sodium_memzero(buf + len, used - len);
		if (len == 0) {
			r = portail_error_set(err, PORTAIL_ERR_CONFIG, "%s: empty", path);
			goto out;
		}
	}
	*out = buf;
	buf = NULL;
	r = PORTAIL_OK;
out:
	if (buf != NULL) {
		sodium_memzero(buf, SECRET_MAX + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

void
portail_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	sodium_memzero(secret, strlen(secret));
	free(secret);
}
