/*
 * config.h — portail.conf, read by a small strict parser (lib/config.c).
 *
 * The format is INI as sssd.conf writes it: "[section]", "key = value",
 * "#" comments on lines of their own, long values continued on indented
 * lines. Unknown sections or keys, duplicates, malformed or out-of-range
 * values and missing required keys are errors naming file:line and key.
 * doc/portail.conf.5 documents every key; keep it in step with the
 * schema table in config.c.
 */
#ifndef PORTAIL_CONFIG_H
#define PORTAIL_CONFIG_H

#include <stdbool.h>
#include "portail.h"

#define PORTAIL_DEFAULT_CONFIG "/etc/portail/portail.conf"
#define PORTAIL_MAX_URIS 8
#define PORTAIL_MAX_PROVIDERS 8
#define PORTAIL_MAX_PROXIES 16
#define PORTAIL_MAX_INTROSPECTION_CLIENTS 16
#define PORTAIL_CLIENT_ID_MAX 64      /* an introspection client's id, in bytes */
/* The client's socket timeout (seconds): the last of the ordered timeouts. */
#define PORTAIL_CLIENT_TIMEOUT 20

enum portail_starttls { PORTAIL_TLS_NO = 0, PORTAIL_TLS_TRY = 1, PORTAIL_TLS_YES = 2 };

struct portail_gpi_config {
	char *uris[PORTAIL_MAX_URIS];   /* tried in order */
	int n_uris;
	char *base;
	char *bind_dn;                  /* NULL: anonymous or SASL */
	char *bind_password_file;       /* 0600; read at connect time */
	char *sasl_mech;                /* NULL or "EXTERNAL" */
	bool starttls;
	char *ca_file;
	char *filter;                   /* contains "%s" */
	char *email_attribute;
	char *student_id_attribute;
	char *name_attribute;
	char *school_attribute;
	char **subscribed_schools;      /* NULL-terminated; NULL when all_schools */
	bool all_schools;               /* subscribed_schools = * */
	int network_timeout;            /* seconds, connect */
	int timeout;                    /* seconds, one operation */
	int size_limit;                 /* entries per lookup */
	int grace;                      /* seconds a positive check survives an outage */
	int cache_timeout;              /* seconds a positive check is reused for tokens */
	int record_interval;            /* seconds between two writes of a positive check */
	int connections;                /* directory connections kept (the pool) */
	int max_workers;                /* callers in directory calls at once; 0: half of [daemon] workers */
	int page_size;                  /* entries per page of a paged search (RFC 2696) */
};

struct portail_daemon_config {
	char *socket;
	char *user;
	int workers;
	int request_timeout;
	int hash_concurrency;           /* 0: number of CPUs */
	char *admin_group;
	int max_connections;
	int max_connections_per_peer;   /* 0: a quarter of max_connections */
	int max_queued;                 /* requests waiting for a worker, all peers; 0: 256 */
	int max_queued_per_peer;        /* ... from one uid; 0: 64 */
	int idle_timeout;
	int busy_pause_ms;              /* a connection answered busy is not read for so long */
	int code_request_floor_ms;      /* a code.request is answered no sooner (enumeration) */
	int client_attempts;            /* web pre-login requests per client address per window; 0: off */
	int client_window;              /* ... the window (s) */
	int code_requests_per_minute;   /* code requests per local peer (uid; root 4x); 0: off */
};

struct portail_codes_config {
	char *alphabet;
	int length;
	int lifetime;
	int max_attempts;
	int resend_interval;
	int max_per_day;
};

struct portail_password_config {
	int min_length;
	int max_length;
	int argon2_opslimit;
	int argon2_memlimit_kib;
	int max_failures;
	int lockout;
	int lockout_max;
};

struct portail_mail_config {
	char *url;
	char *from;
	enum portail_starttls starttls;
	char *username;
	char *password_file;
	char *language;                 /* "fr" or "en" */
	char *template_dir;
	char *portal_name;
	int timeout;
};

struct portail_provider_config {
	char *name;                     /* the NAME of [provider.NAME] */
	char *kind;                     /* google, microsoft, facebook, linkedin, oidc */
	char *client_id;
	char *client_secret_file;
	char *userinfo_url;
	char *tokeninfo_url;
	char *introspection_url;
	char *debug_token_url;
	char *issuer;                   /* ID tokens' iss; may hold {tenantid} (microsoft) */
	char *jwks_url;                 /* the keys that sign its ID tokens */
	int timeout;
	/* the browser's authorization-code flow (portail-web's /social/NAME) */
	char *authorize_url;            /* NULL: the kind's default */
	char *token_url;                /* NULL: the kind's default */
	char *scope;                    /* NULL: the kind's default */
};

/* [web]: portail-web, the parents' pages (a client of portaild only). */
struct portail_web_config {
	char *listen;                   /* absolute socket path, 127.0.0.1:PORT or [::1]:PORT */
	char *home_url;                 /* the school's portal, after sign-in; NULL: none */
	char **trusted_proxies;         /* NULL-terminated addresses, "unix" for the socket's peers; NULL: none */
	char *user;                     /* dropped to when started as root */
	int threads;                    /* the server's thread pool */
	/* introspection_client = ID FILE: the resource servers that may ask /oauth2/introspect */
	struct portail_introspection_client {
		char *id;               /* A-Z a-z 0-9 . _ -: the same under RFC 6749's form-encoding */
		char *secret_file;      /* 0600; portail-web reads it before dropping privileges */
	} clients[PORTAIL_MAX_INTROSPECTION_CLIENTS];
	int n_clients;
	int session_idle;               /* a browser session dies unused this long (s) */
	int session_max;                /* ... and this long after sign-in, used or not */
	int max_sessions;               /* per account; past it the least recently used goes; 0: no bound */
	char *public_url;               /* https://HOST as browsers see it: redirect_uri's base */
	int auth_cache_ms;              /* /auth: a live session's answer kept this long; 0: never */
};

/* [schools]: CODE = name, the names the web pages show for the records' codes. */
#define PORTAIL_MAX_SCHOOLS 10000
#define PORTAIL_SCHOOL_NAME_MAX 200
struct portail_school {
	char *code;
	char *name;                     /* UTF-8, no control character */
	unsigned line;                  /* where it is set, for a duplicate's message */
};

/* [store]: which backend keeps the accounts (store.h). */
enum portail_store_kind { PORTAIL_STORE_SQLITE = 0, PORTAIL_STORE_POSTGRESQL = 1 };

struct portail_store_config {
	int backend;                    /* enum portail_store_kind */
	char *conninfo;                 /* postgresql: a libpq connection string, no password */
	char *password_file;            /* postgresql: 0600, root's or [daemon] user's; read at start */
	int pool_size;                  /* postgresql: connections; 0 in the file: [daemon] workers */
	int deadline_ms;                /* postgresql: one store operation, connecting included */
};

typedef struct portail_config {
	char *path;
	struct portail_gpi_config gpi;
	struct portail_daemon_config daemon;
	char *store_path;
	struct portail_store_config store;
	char *key_file;
	struct portail_codes_config codes;
	struct portail_password_config password;
	struct portail_mail_config mail;
	int token_lifetime;
	int token_max_age;
	int token_max_per_account;      /* live tokens an account may hold */
	struct portail_web_config web;
	struct portail_provider_config providers[PORTAIL_MAX_PROVIDERS];
	int n_providers;
	struct portail_school *schools; /* in file order; NULL when none */
	int n_schools;
} portail_config;

/*
 * Reads and checks the configuration at path (NULL: $PORTAIL_CONFIG, then
 * PORTAIL_DEFAULT_CONFIG). On success *out is a new config the caller
 * frees with portail_config_free. On failure err says file:line, the key
 * and what is wrong; returns PORTAIL_ERR_CONFIG (or _NOMEM).
 */
portail_status portail_config_load(const char *path,
    portail_config **out, portail_error *err);

/* Same, from a buffer; name is used in messages. For tests and fuzzing. */
portail_status portail_config_parse(const char *name,
    const char *buf, size_t len, portail_config **out, portail_error *err);

void portail_config_free(portail_config *cfg);

/* The config path that portail_config_load(NULL, …) would read. */
const char *portail_config_default_path(void);

/*
 * Reads a secret file (first line, without its newline) into a new
 * buffer the caller wipes and frees with portail_secret_free. Refuses a
 * file that is not a regular file or is readable by group or others.
 */
portail_status portail_secret_read(const char *path,
    char **out, portail_error *err);
void portail_secret_free(char *secret);

#endif /* PORTAIL_CONFIG_H */
