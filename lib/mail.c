/* mail.c — messages and the sending queue; see mail.h. */
#include "mail.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "codes.h"
#include "util.h"
#include "wbuf.h"

struct tmpl {
	const char *name;
	const char *fr_subject, *fr_body;
	const char *en_subject, *en_body;
};

/* The built-in templates. examples/templates/ holds the same texts as files. */
static const struct tmpl templates[] = {
	[PORTAIL_MAIL_CODE_SIGNUP] = { "code-signup",
	    "{{portal}} : votre code de vérification",
	    "Bonjour,\n\n"
	    "Voici le code de vérification pour créer votre compte {{portal}} avec l'adresse\n"
	    "{{email}} :\n\n"
	    "    {{code}}\n\n"
	    "Tapez-le à l'écran « Code de vérification », puis « Vérifier le code ». Il est\n"
	    "valide {{minutes}} minutes.\n\n"
	    "Si vous n'avez rien demandé, ignorez ce message : aucun compte ne sera créé.\n",
	    "{{portal}}: your verification code",
	    "Hello,\n\n"
	    "Here is the verification code to create your {{portal}} account with the address\n"
	    "{{email}}:\n\n"
	    "    {{code}}\n\n"
	    "Type it on the \"Verification code\" screen, then \"Verify the code\". It is valid\n"
	    "for {{minutes}} minutes.\n\n"
	    "If you did not ask for it, ignore this message: no account will be created.\n" },
	[PORTAIL_MAIL_CODE_RESET] = { "code-reset",
	    "{{portal}} : code pour changer votre mot de passe",
	    "Bonjour,\n\n"
	    "Voici le code de vérification pour choisir un nouveau mot de passe pour votre\n"
	    "compte {{portal}} ({{email}}) :\n\n"
	    "    {{code}}\n\n"
	    "Il est valide {{minutes}} minutes.\n\n"
	    "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n",
	    "{{portal}}: code to change your password",
	    "Hello,\n\n"
	    "Here is the verification code to choose a new password for your {{portal}}\n"
	    "account ({{email}}):\n\n"
	    "    {{code}}\n\n"
	    "It is valid for {{minutes}} minutes.\n\n"
	    "If you did not ask for it, ignore this message: your password does not change.\n" },
	[PORTAIL_MAIL_ACCOUNT_EXISTS] = { "account-exists",
	    "{{portal}} : vous avez déjà un compte",
	    "Bonjour,\n\n"
	    "Quelqu'un (vous, sans doute) a demandé à créer un compte {{portal}} avec l'adresse\n"
	    "{{email}}. Cette adresse a déjà un compte : connectez-vous avec elle.\n\n"
	    "Mot de passe oublié? Choisissez « Mot de passe oublié? » à l'écran de connexion\n"
	    "pour en choisir un nouveau.\n",
	    "{{portal}}: you already have an account",
	    "Hello,\n\n"
	    "Someone (you, no doubt) asked to create a {{portal}} account with the address\n"
	    "{{email}}. This address already has an account: sign in with it.\n\n"
	    "Forgot your password? Choose \"Forgot your password?\" on the sign-in screen to\n"
	    "choose a new one.\n" },
	[PORTAIL_MAIL_ACCOUNT_CREATED] = { "account-created",
	    "{{portal}} : votre compte est créé",
	    "Bonjour,\n\n"
	    "Votre compte {{portal}} ({{email}}) est créé. Vous pouvez maintenant vous\n"
	    "connecter avec cette adresse et le mot de passe que vous avez choisi.\n\n"
	    "Si vous n'avez pas créé ce compte, écrivez à l'école de votre enfant.\n",
	    "{{portal}}: your account is ready",
	    "Hello,\n\n"
	    "Your {{portal}} account ({{email}}) is ready. You can now sign in with this\n"
	    "address and the password you chose.\n\n"
	    "If you did not create this account, write to your child's school.\n" },
	[PORTAIL_MAIL_PASSWORD_CHANGED] = { "password-changed",
	    "{{portal}} : votre mot de passe a été changé",
	    "Bonjour,\n\n"
	    "Le mot de passe de votre compte {{portal}} ({{email}}) vient d'être changé.\n"
	    "Les appareils restés connectés devront se connecter de nouveau.\n\n"
	    "Si ce n'est pas vous, choisissez tout de suite « Mot de passe oublié? » à l'écran\n"
	    "de connexion et écrivez à l'école de votre enfant.\n",
	    "{{portal}}: your password was changed",
	    "Hello,\n\n"
	    "The password of your {{portal}} account ({{email}}) was just changed. Devices\n"
	    "that stayed signed in will have to sign in again.\n\n"
	    "If it was not you, choose \"Forgot your password?\" on the sign-in screen right\n"
	    "away and write to your child's school.\n" },
	[PORTAIL_MAIL_CODE_LINK] = { "code-link",
	    "{{portal}} : code pour lier votre compte",
	    "Bonjour,\n\n"
	    "Voici le code de vérification pour lier un compte de réseau social à votre\n"
	    "adresse {{email}} sur {{portal}} :\n\n"
	    "    {{code}}\n\n"
	    "Il est valide {{minutes}} minutes. Si vous n'avez rien demandé, ignorez ce message.\n",
	    "{{portal}}: code to link your account",
	    "Hello,\n\n"
	    "Here is the verification code to link a social account to your address\n"
	    "{{email}} on {{portal}}:\n\n"
	    "    {{code}}\n\n"
	    "It is valid for {{minutes}} minutes. If you did not ask for it, ignore this message.\n" },
};

/* ---- composing -------------------------------------------------------------- */

/*
 * The message grows in a wiping buffer (client/wbuf.h): it may hold a
 * code. Pieces are appended unchecked; the buffer remembers a failure,
 * checked once at the end.
 */
static void
put(struct portail_wbuf *b, const char *s, size_t n)
{
	(void)portail_wbuf_append(b, s, n);
}

static void
puts_(struct portail_wbuf *b, const char *s)
{
	(void)portail_wbuf_puts(b, s);
}

/* Replaces {{name}} variables in t into out. */
static void
expand(struct portail_wbuf *out, const char *t, const char *code, const char *minutes,
    const char *portal, const char *email)
{
	while (*t) {
		const char *v = NULL;
		size_t skip = 0;

		if (strncmp(t, "{{code}}", 8) == 0) {
			v = code ? code : "";
			skip = 8;
		} else if (strncmp(t, "{{minutes}}", 11) == 0) {
			v = minutes;
			skip = 11;
		} else if (strncmp(t, "{{portal}}", 10) == 0) {
			v = portal;
			skip = 10;
		} else if (strncmp(t, "{{email}}", 9) == 0) {
			v = email;
			skip = 9;
		}
		if (v != NULL) {
			puts_(out, v);
			t += skip;
		} else {
			put(out, t, 1);
			t++;
		}
	}
}

/* RFC 2047: the subject as UTF-8 "B" encoded words, each at most 75 characters. */
static void
put_subject(struct portail_wbuf *b, const char *s)
{
	size_t n = strlen(s), i = 0;
	bool ascii = true;

	for (size_t k = 0; k < n; k++)
		if ((unsigned char)s[k] >= 0x80 || (unsigned char)s[k] < 0x20)
			ascii = false;
	puts_(b, "Subject: ");
	if (ascii && n < 900) {
		puts_(b, s);
		puts_(b, "\r\n");
		return;
	}
	while (i < n) {
		/* 36 bytes make 48 of base64: "Subject: " + "=?UTF-8?B?" + 48 + "?="
		 * is 69 characters, within RFC 5322's 78 */
		size_t chunk = n - i > 36 ? 36 : n - i;
		char enc[64];

		/* never split a UTF-8 sequence between two words */
		while (i + chunk < n && chunk > 0 && ((unsigned char)s[i + chunk] & 0xc0) == 0x80)
			chunk--;
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)s + i, chunk,
		    sodium_base64_VARIANT_ORIGINAL);
		if (i > 0)
			puts_(b, "\r\n ");
		puts_(b, "=?UTF-8?B?");
		puts_(b, enc);
		puts_(b, "?=");
		i += chunk;
	}
	puts_(b, "\r\n");
}

/* Quoted-printable (RFC 2045), lines of at most 76 characters, CRLF ends. */
static void
put_qp(struct portail_wbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int col = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char enc[4];
		int w;

		if (c == '\n') {
			put(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if ((c >= 33 && c <= 126 && c != '=') ||
		    (c == ' ' && s[1] != '\n' && s[1] != '\0')) {
			enc[0] = (char)c;
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			w = 3;
		}
		if (col + w > 75) {
			put(b, "=\r\n", 3);
			col = 0;
		}
		put(b, enc, (size_t)w);
		col += w;
	}
	if (col > 0)
		put(b, "\r\n", 2);
}

/* The template file overriding a built-in one, if the admin wrote it. */
static bool
load_override(const portail_config *cfg, const char *name, const char *lang, char **subject,
    char **body)
{
	char path[1024], *text = NULL, *nl;
	size_t len;

	if (cfg->mail.template_dir == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/%s.%s.txt", cfg->mail.template_dir, name, lang);
	if (pt_file_read(path, 65536, &text, &len, NULL) != PORTAIL_OK)
		return false;
	if (strncmp(text, "Subject:", 8) != 0 || (nl = strchr(text, '\n')) == NULL ||
	    !pt_utf8_valid(text, len)) {
		free(text);
		return false;
	}
	*nl = '\0';
	if (nl > text && nl[-1] == '\r')
		nl[-1] = '\0';
	*subject = strdup(pt_trim(text + 8));
	*body = strdup(nl[1] == '\n' ? nl + 2 : nl + 1);
	free(text);
	if (*subject == NULL || *body == NULL) {
		free(*subject);
		free(*body);
		return false;
	}
	/* a subject line from a file must not smuggle another header */
	for (char *c = *subject; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	return true;
}

/* The bare address of "Name <addr>" or "addr". */
static void
bare_address(const char *from, char *out, size_t len)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt && gt > lt + 1)
		snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, len, "%s", from);
}

portail_status
portail_mail_compose(const portail_config *cfg, enum portail_mail_kind kind, const char *lang,
    const char *to, const char *code, char **out, portail_error *err)
{
	const struct tmpl *t;
	struct portail_wbuf b = PORTAIL_WBUF_INIT(0), subj = PORTAIL_WBUF_INIT(0),
	    body = PORTAIL_WBUF_INIT(0);
	char *fsubject = NULL, *fbody = NULL, *msg, minutes[16], date[64], from_addr[256], id[33];
	const char *domain;
	unsigned char rnd[16];
	bool en;
	time_t now = time(NULL);
	struct tm tm;

	if ((unsigned)kind >= sizeof(templates) / sizeof(templates[0]))
		return portail_error_set(err, PORTAIL_ERR_INVALID, "unknown message kind");
	t = &templates[kind];
	en = lang != NULL && strcmp(lang, "en") == 0;
	if (lang == NULL)
		en = strcmp(cfg->mail.language, "en") == 0;
	snprintf(minutes, sizeof(minutes), "%d", cfg->codes.lifetime / 60);
	if (load_override(cfg, t->name, en ? "en" : "fr", &fsubject, &fbody)) {
		expand(&subj, fsubject, code, minutes, cfg->mail.portal_name, to);
		expand(&body, fbody, code, minutes, cfg->mail.portal_name, to);
	} else {
		expand(&subj, en ? t->en_subject : t->fr_subject, code, minutes,
		    cfg->mail.portal_name, to);
		expand(&body, en ? t->en_body : t->fr_body, code, minutes, cfg->mail.portal_name, to);
	}
	free(fsubject);
	free(fbody);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	bare_address(cfg->mail.from, from_addr, sizeof(from_addr));
	domain = strchr(from_addr, '@') ? strchr(from_addr, '@') + 1 : "localhost";
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(id, sizeof(id), rnd, sizeof(rnd));

	puts_(&b, "From: ");
	puts_(&b, cfg->mail.from);
	puts_(&b, "\r\nTo: <");
	puts_(&b, to);
	puts_(&b, ">\r\nDate: ");
	puts_(&b, date);
	puts_(&b, "\r\nMessage-ID: <");
	puts_(&b, id);
	puts_(&b, "@");
	puts_(&b, domain);
	puts_(&b, ">\r\n");
	put_subject(&b, subj.data ? subj.data : "");
	puts_(&b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n");
	put_qp(&b, body.data ? body.data : "");
	portail_wbuf_wipe(&subj);
	portail_wbuf_wipe(&body);
	if ((msg = portail_wbuf_take(&b, NULL)) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	*out = msg;
	return PORTAIL_OK;
}

/* ---- sending ------------------------------------------------------------------ */

struct reader {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *dst, size_t size, size_t n, void *arg)
{
	struct reader *r = arg;
	size_t want = size * n;

	if (want > r->left)
		want = r->left;
	memcpy(dst, r->p, want);
	r->p += want;
	r->left -= want;
	return want;
}

/* What every SMTP transfer sets: protocols, timeouts, TLS, no signals. */
static void
curl_common(CURL *c, const portail_config *cfg, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_URL, cfg->mail.url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->mail.timeout);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->mail.timeout);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USE_SSL, cfg->mail.starttls == PORTAIL_TLS_YES ? (long)CURLUSESSL_ALL :
	    cfg->mail.starttls == PORTAIL_TLS_TRY ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_NONE);
}

/* A transient failure is worth retrying; a permanent one is not. */
static portail_status
send_one(const portail_config *cfg, const char *smtp_password, const char *to, const char *msg,
    bool *transient, char *why, size_t why_len)
{
	CURL *c = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	struct reader rd = { msg, strlen(msg) };
	char from[256], errbuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode rc;

	*transient = true;
	if (c == NULL) {
		snprintf(why, why_len, "curl: out of memory");
		return PORTAIL_ERR_NOMEM;
	}
	bare_address(cfg->mail.from, from, sizeof(from));
	{
		char bracketed[300];

		snprintf(bracketed, sizeof(bracketed), "<%s>", to);
		rcpt = curl_slist_append(NULL, bracketed);
	}
	curl_common(c, cfg, errbuf);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	if (cfg->mail.username != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->mail.username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, smtp_password ? smtp_password : "");
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK)
		return PORTAIL_OK;
	/* 5xx from the server, a refused login or a bad URL will not get better */
	if ((code >= 500 && code < 600) || rc == CURLE_LOGIN_DENIED ||
	    rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
		*transient = false;
	snprintf(why, why_len, "%s%s%s (SMTP %ld)", curl_easy_strerror(rc),
	    errbuf[0] ? ": " : "", errbuf, code);
	return PORTAIL_ERR_UNAVAILABLE;
}

struct item {
	struct item *next;
	char *to;
	/*
	 * What to compose: on the queue's thread, not the caller's, so that
	 * a request costs the same whether it queues a message or not
	 * (DESIGN §2, enumeration).
	 */
	enum portail_mail_kind kind;
	char lang[3];
	char code[PORTAIL_CODE_MAX + 1];        /* "" none; wiped with the item */
	char *msg;              /* composed, may hold a code; NULL until then */
	int64_t deadline;
	int64_t next_try;
	int tries;
};

struct portail_mailq {
	const portail_config *cfg;
	portail_log_fn log;
	char *smtp_password;    /* sodium_malloc'd */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head;
	bool stop;
	bool kicked;            /* a row was queued in the store since the thread last looked */
	struct portail_mailq_stats stats;
	/* attached (portail_mailq_attach): the queue is the store's mail_queue */
	portail_store *store;
	const portail_key *key;
	/* the schedule's clock (portail_mailq_set_clock); NULL: the wall clock */
	int64_t (*_Atomic clock)(void);
};

/* Now, on the clock that stamps the queue's rows. */
static int64_t
queue_now(portail_mailq *q)
{
	int64_t (*fn)(void) = atomic_load(&q->clock);

	return fn != NULL ? fn() : (int64_t)time(NULL);
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	if (it->msg != NULL) {
		sodium_memzero(it->msg, strlen(it->msg));
		free(it->msg);
	}
	sodium_memzero(it->code, sizeof(it->code));
	free(it->to);
	free(it);
}

static void
qlog(portail_mailq *q, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
qlog(portail_mailq *q, int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (q->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	q->log(prio, buf);
}

/* Back off 2, 4, 8 … 60 s (the same rule for both queues). */
static int64_t
backoff(int tries)
{
	return tries < 5 ? (1 << tries) : 60;
}

/*
 * One row of the store's queue, taken with q->lock released: composed
 * (its code unsealed only here), sent, then deleted, or rescheduled. A
 * kill before the delete sends it again after the restart: at least once.
 */
static void
deliver_row(portail_mailq *q, portail_store *st, const portail_key *key,
    struct portail_mail_row *row)
{
	char code[PORTAIL_CODE_MAX + 1] = "", *msg = NULL, why[600] = "";
	portail_error cerr = { { 0 } };
	int64_t now = queue_now(q);
	bool transient = true, done = false, ok = false;

	if (now >= row->deadline) {
		snprintf(why, sizeof(why), "past its deadline before it could be sent");
		transient = false;
	} else if (row->code_box != NULL && (row->code_box_len - PORTAIL_SEAL_OVERHEAD >
	    PORTAIL_CODE_MAX || portail_key_open(key, PORTAIL_KEY_MAIL, row->code_box,
	    row->code_box_len, (unsigned char *)code) != PORTAIL_OK)) {
		snprintf(why, sizeof(why), "its code does not open with this server key");
		transient = false;
	} else if (portail_mail_compose(q->cfg, (enum portail_mail_kind)row->kind,
	    row->lang[0] ? row->lang : NULL, row->rcpt, row->code_box ? code : NULL, &msg,
	    &cerr) != PORTAIL_OK) {
		snprintf(why, sizeof(why), "not composed: %s", cerr.message);
		transient = false;
	} else {
		ok = send_one(q->cfg, q->smtp_password, row->rcpt, msg, &transient, why,
		    sizeof(why)) == PORTAIL_OK;
	}
	sodium_memzero(code, sizeof(code));
	if (msg != NULL) {
		sodium_memzero(msg, strlen(msg));
		free(msg);
	}
	now = queue_now(q);
	if (ok) {
		done = true;
	} else {
		row->tries++;
		row->next_try = now + backoff(row->tries);
		done = !transient || row->next_try >= row->deadline;
	}
	if (done ? portail_store_mail_delete(st, row->id, &cerr) != PORTAIL_OK :
	    portail_store_mail_retry(st, row->id, row->tries, row->next_try, &cerr) != PORTAIL_OK)
		qlog(q, LOG_ERR, "mail queue: %s", cerr.message);
	pthread_mutex_lock(&q->lock);
	if (ok) {
		q->stats.sent++;
		qlog(q, LOG_INFO, "mail to=%s sent", row->rcpt);
	} else {
		q->stats.last_failure = now;
		/* the reason, cut to the status field */
		(void)snprintf(q->stats.last_error, sizeof(q->stats.last_error), "%.*s",
		    (int)sizeof(q->stats.last_error) - 1, why);
		if (done) {
			q->stats.failed++;
			qlog(q, LOG_ERR, "mail to=%s given up after %d tries: %s", row->rcpt,
			    row->tries, why);
		} else {
			qlog(q, LOG_WARNING, "mail to=%s failed (try %d, again in %lld s): %s",
			    row->rcpt, row->tries, (long long)(row->next_try - now), why);
		}
	}
	pthread_mutex_unlock(&q->lock);
}

/* Seconds between two looks at a queue that other hosts fill too. */
#define PT_SHARED_POLL 30

/* The store's queue, until stop; called and returns with q->lock held. */
static void
stored_main(portail_mailq *q)
{
	while (!q->stop) {
		portail_store *st = q->store;
		const portail_key *key = q->key;
		struct portail_mail_row row;
		struct timespec ts;
		int64_t now = queue_now(q), next_due = 0, wake;
		portail_status r;

		q->kicked = false;
		pthread_mutex_unlock(&q->lock);
		r = portail_store_mail_next(st, now, &row, &next_due, NULL);
		if (r == PORTAIL_OK) {
			deliver_row(q, st, key, &row);
			portail_mail_row_clear(&row);
			pthread_mutex_lock(&q->lock);
			continue;
		}
		pthread_mutex_lock(&q->lock);
		if (q->stop || q->kicked)
			continue;
		/* none due: until the first is, or a new one is queued; the store
		 * unreachable: again in 5 s. A store shared by several hosts
		 * (portail_store_shared: PostgreSQL) is looked at every PT_SHARED_POLL s at least:
		 * another host's messages (one that died before sending, or its
		 * lease ran out) are queued without a word to this one. */
		wake = r != PORTAIL_ERR_UNKNOWN ? now + 5 : next_due > 0 ? next_due : now + 3600;
		if (portail_store_shared(st) && wake > now + PT_SHARED_POLL)
			wake = now + PT_SHARED_POLL;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(wake > now ? wake - now : 1);
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
}

static void *
mailq_main(void *arg)
{
	portail_mailq *q = arg;

	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		struct item *it = NULL, **pp;
		int64_t now = (int64_t)time(NULL), next = 0;

		if (q->store != NULL && q->head == NULL) {
			stored_main(q);
			break;
		}

		/* the first message due */
		for (pp = &q->head; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->next_try <= now) {
				it = *pp;
				*pp = it->next;
				break;
			}
			if (next == 0 || (*pp)->next_try < next)
				next = (*pp)->next_try;
		}
		if (it == NULL) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += next ? (time_t)(next - now) : 3600;
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		if (it->msg == NULL) {
			portail_error cerr = { { 0 } };

			if (portail_mail_compose(q->cfg, it->kind, it->lang[0] ? it->lang : NULL, it->to,
			    it->code[0] ? it->code : NULL, &it->msg, &cerr) != PORTAIL_OK) {
				pthread_mutex_lock(&q->lock);
				q->stats.failed++;
				q->stats.queued--;
				snprintf(q->stats.last_error, sizeof(q->stats.last_error), "%s",
				    cerr.message);
				qlog(q, LOG_ERR, "mail to=%s not composed: %s", it->to, cerr.message);
				item_free(it);
				continue;
			}
			sodium_memzero(it->code, sizeof(it->code));
		}
		{
			char why[512];
			bool transient;
			portail_status r = send_one(q->cfg, q->smtp_password, it->to, it->msg,
			    &transient, why, sizeof(why));

			now = (int64_t)time(NULL);
			pthread_mutex_lock(&q->lock);
			if (r == PORTAIL_OK) {
				q->stats.sent++;
				q->stats.queued--;
				qlog(q, LOG_INFO, "mail to=%s sent", it->to);
				item_free(it);
				continue;
			}
			q->stats.last_failure = now;
			snprintf(q->stats.last_error, sizeof(q->stats.last_error), "%s", why);
			it->tries++;
			/* back off 2, 4, 8 … 60 s, while the message is still useful */
			it->next_try = now + backoff(it->tries);
			if (!transient || it->next_try >= it->deadline) {
				q->stats.failed++;
				q->stats.queued--;
				qlog(q, LOG_ERR, "mail to=%s given up after %d tries: %s", it->to,
				    it->tries, why);
				item_free(it);
				continue;
			}
			qlog(q, LOG_WARNING, "mail to=%s failed (try %d, again in %lld s): %s", it->to,
			    it->tries, (long long)(it->next_try - now), why);
			it->next = q->head;
			q->head = it;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

portail_status
portail_mailq_new(const portail_config *cfg, portail_log_fn log, portail_mailq **out,
    portail_error *err)
{
	portail_mailq *q;
	portail_status r;
	sigset_t all, old;
	int rc;

	/* not thread-safe: the daemon calls this before starting its workers */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libcurl failed to initialize");
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	q->cfg = cfg;
	q->log = log;
	if (cfg->mail.password_file != NULL) {
		char *pw = NULL;

		if ((r = portail_secret_read(cfg->mail.password_file, &pw, err)) != PORTAIL_OK) {
			free(q);
			return r == PORTAIL_ERR_NOMEM ? r : PORTAIL_ERR_CONFIG;
		}
		if ((q->smtp_password = sodium_malloc(strlen(pw) + 1)) != NULL)
			memcpy(q->smtp_password, pw, strlen(pw) + 1);
		portail_secret_free(pw);
		if (q->smtp_password == NULL) {
			free(q);
			return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
		}
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	/* the thread is born with every signal blocked: signals are the
	 * host's business, for its own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&q->thread, NULL, mailq_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		if (q->smtp_password)
			sodium_free(q->smtp_password);
		free(q);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "cannot start the mail thread");
	}
	*out = q;
	return PORTAIL_OK;
}

void
portail_mailq_free(portail_mailq *q)
{
	unsigned long dropped = 0;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	while (q->head != NULL) {
		struct item *it = q->head;

		q->head = it->next;
		item_free(it);
		dropped++;
	}
	if (dropped > 0)
		qlog(q, LOG_WARNING, "%lu message(s) not sent at shutdown", dropped);
	if (q->smtp_password)
		sodium_free(q->smtp_password);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

void
portail_mailq_attach(portail_mailq *q, portail_store *st, const portail_key *key)
{
	pthread_mutex_lock(&q->lock);
	q->store = st;
	q->key = key;
	q->kicked = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void
portail_mailq_set_clock(portail_mailq *q, int64_t (*now)(void))
{
	atomic_store(&q->clock, now);
}

bool
portail_mailq_stored(portail_mailq *q)
{
	bool r;

	pthread_mutex_lock(&q->lock);
	r = q->store != NULL;
	pthread_mutex_unlock(&q->lock);
	return r;
}

portail_status
portail_mailq_row(portail_mailq *q, enum portail_mail_kind kind, const char *lang,
    const char *to, const char *code, int64_t now, int64_t deadline,
    struct portail_mail_row *row, portail_error *err)
{
	memset(row, 0, sizeof(*row));
	if (code != NULL && strlen(code) > PORTAIL_CODE_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "code longer than %d", PORTAIL_CODE_MAX);
	if (q->key == NULL)
		return portail_error_set(err, PORTAIL_ERR_CONFIG, "mail queue not attached to a store");
	row->kind = (int)kind;
	snprintf(row->lang, sizeof(row->lang), "%s", lang == NULL ? "" :
	    strcmp(lang, "en") == 0 ? "en" : "fr");
	row->deadline = deadline;
	row->next_try = now;
	if ((row->rcpt = strdup(to)) == NULL)
		goto nomem;
	if (code != NULL) {
		row->code_box_len = strlen(code) + PORTAIL_SEAL_OVERHEAD;
		if ((row->code_box = malloc(row->code_box_len)) == NULL)
			goto nomem;
		portail_key_seal(q->key, PORTAIL_KEY_MAIL, (const unsigned char *)code, strlen(code),
		    row->code_box);
	}
	return PORTAIL_OK;
nomem:
	portail_mail_row_clear(row);
	return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
}

void
portail_mailq_kick(portail_mailq *q)
{
	pthread_mutex_lock(&q->lock);
	q->kicked = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

portail_status
portail_mailq_send(portail_mailq *q, enum portail_mail_kind kind, const char *lang,
    const char *to, const char *code, int64_t deadline, portail_error *err)
{
	struct item *it;

	if (code != NULL && strlen(code) > PORTAIL_CODE_MAX)
		return portail_error_set(err, PORTAIL_ERR_INVALID, "code longer than %d", PORTAIL_CODE_MAX);
	if (portail_mailq_stored(q)) {
		struct portail_mail_row row;
		portail_status r;

		r = portail_mailq_row(q, kind, lang, to, code, queue_now(q), deadline, &row, err);
		if (r == PORTAIL_OK)
			r = portail_store_mail_add(q->store, &row, err);
		portail_mail_row_clear(&row);
		if (r == PORTAIL_OK)
			portail_mailq_kick(q);
		return r;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL || (it->to = strdup(to)) == NULL) {
		free(it);
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "out of memory");
	}
	it->kind = kind;
	/* "" keeps [mail] language */
	snprintf(it->lang, sizeof(it->lang), "%s", lang == NULL ? "" :
	    strcmp(lang, "en") == 0 ? "en" : "fr");
	if (code != NULL)
		memcpy(it->code, code, strlen(code) + 1);
	it->deadline = deadline;
	pthread_mutex_lock(&q->lock);
	{
		/* first in, first out */
		struct item **pp = &q->head;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = it;
	}
	q->stats.queued++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return PORTAIL_OK;
}

void
portail_mailq_stats(portail_mailq *q, struct portail_mailq_stats *out)
{
	portail_store *st;
	unsigned long n;

	pthread_mutex_lock(&q->lock);
	*out = q->stats;
	st = q->store;
	pthread_mutex_unlock(&q->lock);
	/* attached: what waits is what the store holds, kills and restarts included */
	if (st != NULL && portail_store_mail_count(st, &n, NULL) == PORTAIL_OK)
		out->queued = n;
}

portail_status
portail_mail_probe(const portail_config *cfg, portail_error *err)
{
	CURL *c;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE] = "";

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (c = curl_easy_init()) == NULL)
		return portail_error_set(err, PORTAIL_ERR_NOMEM, "libcurl failed to initialize");
	curl_common(c, cfg, errbuf);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return portail_error_set(err, PORTAIL_ERR_UNAVAILABLE, "%s: %s%s%s", cfg->mail.url,
		    curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
	return PORTAIL_OK;
}
