/*
 * portail-web — the parents' pages (issue 14), behind the school's nginx
 * or Apache, which terminate TLS.
 *
 *   portail-web [-c FILE] [-f] [-d]
 *
 * Reads portail.conf ([web], and [daemon] socket to reach portaild),
 * listens on [web] listen (a unix socket, mode 0660, group of [web] user;
 * or a loopback port), drops to [web] user when started as root, and
 * answers with libmicrohttpd (http.c). A client of portaild only: no key,
 * no store, no provider secret. See portail-web(8).
 */
#include "web.h"
#include "service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <paths.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>


/* 127.0.0.1:PORT or [::1]:PORT (config.c checked the shape). */
static int
tcp_socket(const char *listen_at)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *colon = strrchr(listen_at, ':');
	long port = strtol(colon + 1, NULL, 10);
	int fd = -1, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (listen_at[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "portail-web: %s: %s\n", listen_at, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL || pw->pw_uid == 0)
		return 0;
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "portail-web: cannot become %s: %s\n", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "portail-web: privileges not dropped\n");
		return -1;
	}
	prctl(PR_SET_DUMPABLE, 0);      /* pages in memory hold tickets */
	return 0;
}

static int
load_proxies(struct web *w)
{
	char **p = w->cfg->web.trusted_proxies;

	for (int i = 0; p != NULL && p[i] != NULL; i++) {
		struct web_proxy *x = &w->proxies[w->n_proxies];

		if (strcmp(p[i], "unix") == 0) {
			w->trust_unix = true;
			continue;
		}
		if (inet_pton(AF_INET, p[i], x->addr) == 1)
			x->family = AF_INET;
		else if (inet_pton(AF_INET6, p[i], x->addr) == 1)
			x->family = AF_INET6;
		else
			return -1;      /* config.c refused it already */
		w->n_proxies++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct web w;
	struct portail_service_opts o;
	portail_error err = { { 0 } };
	struct passwd *pw = NULL;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)] = "";
	ino_t socket_ino = 0;
	sigset_t mask;
	int fd = -1, sig = 0, rc = 1;

	if (!portail_service_getopt("portail-web", argc, argv, &o, &rc))
		return rc;
	w.foreground = o.foreground;
	w.debug = o.debug;
	if (sodium_init() < 0) {
		fprintf(stderr, "portail-web: libsodium cannot start\n");
		return 1;
	}
	if (portail_config_load(o.config, &w.cfg, &err) != PORTAIL_OK) {
		fprintf(stderr, "portail-web: %s\n", err.message);
		return 2;
	}
	if (load_proxies(&w) != 0) {
		fprintf(stderr, "portail-web: %s: [web] trusted_proxies: bad address\n", w.cfg->path);
		rc = 2;
		goto out;
	}
	if (geteuid() == 0 && (pw = getpwnam(w.cfg->web.user)) == NULL) {
		fprintf(stderr, "portail-web: %s: [web] user '%s' does not exist\n", w.cfg->path,
		    w.cfg->web.user);
		rc = 2;
		goto out;
	}
	/* the clients' secrets are root's files: read them now, as root, on the terminal's stderr */
	if (web_introspect_load(&w) != 0) {
		rc = 2;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* blocked before libmicrohttpd's threads exist: main waits for them */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	openlog("portail-web", LOG_PID, LOG_AUTHPRIV);
	/*
	 * In the foreground on a machine without a syslog socket (a container),
	 * stderr alone, as portaild: glibc's syslog() would otherwise open and
	 * try to connect a socket for every line, under its lock.
	 */
	w.to_syslog = !w.foreground || access(_PATH_LOG, W_OK) == 0;
	if (!w.foreground)
		portail_service_daemonize("portail-web");
	w.listen_unix = w.cfg->web.listen[0] == '/';
	if (w.listen_unix) {
		(void)snprintf(socket_path, sizeof(socket_path), "%s", w.cfg->web.listen);
		/* 0660: the web server's group (nginx, Apache as www-data) may connect, nobody else */
		fd = portail_service_listen_unix("portail-web", socket_path, pw, true, 0660, &socket_ino);
	} else {
		fd = tcp_socket(w.cfg->web.listen);
	}
	if (fd < 0)
		goto out;
	if (drop_privileges(pw) != 0)
		goto out;
	if (!web_auth_cache_init(&w)) {
		fprintf(stderr, "portail-web: out of memory\n");
		goto out;
	}
	if ((w.mhd = web_http_start(&w, fd)) == NULL) {
		fprintf(stderr, "portail-web: libmicrohttpd did not start on %s\n", w.cfg->web.listen);
		goto out;
	}
	web_log(&w, LOG_INFO, "portail-web %s ready on %s (uid %u), portaild at %s",
	    portail_version(), w.cfg->web.listen, (unsigned)getuid(), w.cfg->daemon.socket);
	if (!portail_service_ready())
		syslog(LOG_WARNING, "cannot tell the starting process we are ready");
	while (sigwait(&mask, &sig) == 0 && sig == SIGHUP)
		web_log(&w, LOG_INFO, "SIGHUP ignored: restart to read the configuration again");
	web_log(&w, LOG_INFO, "portail-web stopped (signal %d)", sig);
	rc = 0;
out:
	if (w.mhd != NULL)
		MHD_stop_daemon(w.mhd);
	if (fd >= 0)
		close(fd);
	if (socket_path[0] != '\0' && socket_ino != 0) {
		struct stat st;

		/* only if it is still ours */
		if (lstat(socket_path, &st) == 0 && st.st_ino == socket_ino)
			(void)unlink(socket_path);
	}
	web_introspect_wipe(&w);
	web_auth_cache_free(&w);
	portail_config_free(w.cfg);
	return rc;
}
