/*
 * loop.c — portaild's event loop and worker pool.
 *
 * One thread owns every connection: it reads without blocking, buffers
 * up to one message (64 KiB) per connection, and hands only complete
 * request lines to a fixed pool of workers. Slow or idle clients hold a
 * buffer, never a worker. Answers come back through a queue and an
 * eventfd. One request per connection is with a worker at a time; the
 * next line waits in the buffer (a PAM conversation sends several).
 *
 * When nothing else waits to be sent on the connection, the worker sends
 * its answer itself, on a dup() of the socket made when the request was
 * handed over (so a descriptor closed and reused meanwhile is never
 * written to), and the client has it one thread hop sooner; the loop is
 * told afterwards. The worker and the deadline sweep claim the right to
 * answer with one atomic exchange: exactly one of them answers.
 *
 * Limits: a request must be complete within request_timeout of its first
 * byte, answered within request_timeout of being complete (else the
 * client gets "unavailable" and the late answer is dropped); an idle
 * connection lives idle_timeout; at max_connections the oldest idle
 * connection is closed to make room.
 *
 * Fairness (DESIGN §2; sshd's MaxStartups and PerSourcePenalties): one
 * uid cannot take the daemon from the others. Complete requests wait in
 * one queue per peer uid, and the workers take from the peers in turn,
 * so a uid with a thousand requests waiting gets one worker's turn in
 * as many as there are uids with work. A peer may have at most
 * max_queued_per_peer requests waiting, and all of them max_queued: past
 * that the answer is "busy" at once, from the loop, with no worker. A
 * request whose deadline passed while it waited is answered
 * "unavailable" without being run. A uid may hold max_connections_per_peer
 * connections; a new one beyond closes its own oldest idle one, or is
 * refused when all of them are busy: the others keep their room.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "monotime.h"

struct job;
struct peerq;

struct conn {
	int fd;
	struct job *job;                /* with a worker now, or NULL */
	uint64_t id;                    /* changes when an answer is abandoned */
	uint32_t serial;                /* this connection's, for its epoll events (ev_data) */
	struct peer peer;
	struct peerq *pq;               /* its uid's queue and counts */
	char *in;                       /* PORTAIL_PROTO_MAX bytes */
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool busy;                      /* a request is with a worker */
	bool closing;                   /* close once out is flushed */
	long long penalty_until;        /* ms; not read before (answered busy) */
	bool eof;                       /* the client shut its side */
	uint32_t events;                /* epoll interest now */
	long long last_active;          /* ms */
	long long partial_since;        /* ms; 0: no partial line */
	long long busy_since;           /* ms */
	struct conn *prev, *next;       /* all connections, oldest first */
};

enum { OPEN, LOOP_ANSWERS, WORKER_ANSWERS };

struct job {
	struct job *next;
	int fd;
	int wfd;                        /* dup of fd the worker may answer on, or -1 */
	atomic_int claim;               /* OPEN, then who answers */
	size_t sent;                    /* bytes the worker sent itself */
	uint64_t id;
	struct peer peer;
	long long deadline;             /* ms: past it, not run */
	struct peerq *pq;               /* its peer, for sched_done */
	char *line;
	size_t len;
	char *resp;
	size_t resp_len;
	bool close_after;
};

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool wake;                      /* done: the loop waits to hear of every answer */
};

/* One peer uid: its waiting requests and its connections. */
struct peerq {
	uid_t uid;
	struct job *head, *tail;
	int queued;                     /* waiting for a worker */
	int running;                    /* with a worker now */
	int conns;                      /* open connections */
	bool in_ring;
	struct peerq *ring_next;        /* the peers with work, in turn */
	struct peerq *hash_next;
};

#define PEER_BUCKETS 256

/* The workers' queue: per peer, served in turn (all under lock). */
struct sched {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct peerq *ring_head, *ring_tail;
	struct peerq *buckets[PEER_BUCKETS];
	int queued, max_queued, max_per_peer;
	int max_running;                /* workers one peer may hold while others have connections */
	int n_peers;                    /* peers known (connections or work) */
};

struct loop {
	struct daemon *d;
	int epfd, listen_fd, efd, sfd;
	int cfd;                        /* the test clock moved (daemon_clock_watch), or -1 */
	struct conn **by_fd;            /* index: fd */
	int by_fd_len;
	struct conn *first, *last;
	long open;
	uint64_t next_id;
	uint32_t next_serial;           /* wraps: only an fd's successive holders must differ */
	struct sched todo;
	struct queue done;
	int max_conns_per_peer;
	long long summarised;           /* ms: the log's summaries last looked at */
	pthread_t *workers;
	int n_workers;
	bool stopping;
};

/*
 * A worker's finished job to the loop; true when the loop must be woken
 * for it. An answer the worker sent in full leaves nothing for the loop
 * to do at once: the loop takes the job back when it next wakes (every
 * iteration begins so, and it wakes at least every 200 ms), and the
 * client's next request is what wakes it then. Saving that wake-up is one
 * context switch less per request. The loop asks to hear of every answer
 * (q->wake, under the same lock: either it finds the job or the worker
 * finds the flag) while a busy connection holds something it must act
 * on: a request sent before the answer, an EOF, a close, or the stop.
 */
static bool
done_push(struct queue *q, struct job *j)
{
	bool quiet = j->resp != NULL && j->sent == j->resp_len && !j->close_after, wake;

	pthread_mutex_lock(&q->lock);
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	wake = !quiet || q->wake;
	pthread_mutex_unlock(&q->lock);
	return wake;
}

/* Pops a job; waits when wait is true; NULL on an empty queue or a NULL job. */
static struct job *
queue_pop(struct queue *q, bool wait, bool *stop)
{
	struct job *j;

	pthread_mutex_lock(&q->lock);
	while (wait && q->head == NULL && !(stop != NULL && *stop))
		pthread_cond_wait(&q->cond, &q->lock);
	j = q->head;
	if (j != NULL) {
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	return j;
}

/* Wipes p's len bytes and frees it, as OpenBSD's freezero(3); NULL does nothing. */
static void
wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	wipe_free(j->line, j->len);             /* may hold a password */
	if (j->wfd >= 0)
		close(j->wfd);
	wipe_free(j->resp, j->resp_len);        /* may hold a ticket or a token */
	free(j);
}

static bool workers_stop;

/* The queue of uid (created when create); under s->lock. */
static struct peerq *
peer_find(struct sched *s, uid_t uid, bool create)
{
	struct peerq **pp = &s->buckets[uid % PEER_BUCKETS], *p;

	for (p = *pp; p != NULL; p = p->hash_next)
		if (p->uid == uid)
			return p;
	if (!create || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->uid = uid;
	p->hash_next = *pp;
	*pp = p;
	s->n_peers++;
	return p;
}

/* Forgets p when nothing refers to it any more; under s->lock. */
static void
peer_release(struct sched *s, struct peerq *p)
{
	struct peerq **pp = &s->buckets[p->uid % PEER_BUCKETS];

	if (p->conns > 0 || p->queued > 0 || p->running > 0 || p->in_ring)
		return;
	while (*pp != p)
		pp = &(*pp)->hash_next;
	*pp = p->hash_next;
	s->n_peers--;
	free(p);
}

/*
 * May p take another worker? Up to half of them while other peers have
 * connections (their requests find a worker free), all of them when it
 * is alone (a busy sshd or Postfix gets the whole daemon); under s->lock.
 */
static bool
may_run(const struct sched *s, const struct peerq *p)
{
	return p->running < s->max_running || s->n_peers <= 1;
}

/* p takes its turn at the back of the ring; under s->lock. */
static void
ring_append(struct sched *s, struct peerq *p)
{
	p->in_ring = true;
	p->ring_next = NULL;
	if (s->ring_tail != NULL)
		s->ring_tail->ring_next = p;
	else
		s->ring_head = p;
	s->ring_tail = p;
}

/*
 * Queues j behind the other requests of its peer p; false (j not taken)
 * when p's share or the whole queue is full. A peer is in the ring while
 * it has requests waiting and holds fewer than max_running workers: half
 * of the workers are always left to the others.
 */
static bool
sched_push(struct sched *s, struct peerq *p, struct job *j)
{
	pthread_mutex_lock(&s->lock);
	if (p->queued >= s->max_per_peer || s->queued >= s->max_queued) {
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	j->next = NULL;
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	s->queued++;
	j->pq = p;
	if (!p->in_ring && may_run(s, p))
		ring_append(s, p);
	pthread_mutex_unlock(&s->lock);
	pthread_cond_signal(&s->cond);
	return true;
}

/* The next request, from the peer whose turn it is; NULL when stopping (wait) or empty. */
static struct job *
sched_pop(struct sched *s, bool wait)
{
	struct peerq *p;
	struct job *j = NULL;

	pthread_mutex_lock(&s->lock);
	while (wait && s->ring_head == NULL && !workers_stop)
		pthread_cond_wait(&s->cond, &s->lock);
	if ((p = s->ring_head) != NULL) {
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		s->queued--;
		p->running++;
		/* its turn is over: to the back of the ring, or out of it */
		s->ring_head = p->ring_next;
		if (s->ring_head == NULL)
			s->ring_tail = NULL;
		p->in_ring = false;
		if (p->head != NULL && may_run(s, p))
			ring_append(s, p);
	}
	pthread_mutex_unlock(&s->lock);
	return j;
}

/* A worker is done with j: its peer may take a turn again. */
static void
sched_done(struct sched *s, struct job *j)
{
	struct peerq *p = j->pq;

	if (p == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	p->running--;
	j->pq = NULL;
	if (p->head != NULL && !p->in_ring && may_run(s, p)) {
		ring_append(s, p);
		pthread_cond_signal(&s->cond);
	}
	peer_release(s, p);
	pthread_mutex_unlock(&s->lock);
}

/*
 * The worker sends its answer when the loop let it (wfd) and the deadline
 * has not answered first; what the socket did not take goes back to the
 * loop in j->resp from j->sent on.
 */
static void
answer_directly(struct job *j)
{
	int open = OPEN;

	if (j->wfd < 0 || j->resp == NULL ||
	    !atomic_compare_exchange_strong(&j->claim, &open, WORKER_ANSWERS))
		return;
	while (j->sent < j->resp_len) {
		ssize_t n = send(j->wfd, j->resp + j->sent, j->resp_len - j->sent,
		    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			j->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		j->sent = j->resp_len;  /* the client is gone: the loop sees it close */
		break;
	}
	close(j->wfd);
	j->wfd = -1;
}

static void *
worker_main(void *arg)
{
	struct loop *l = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct job *j = sched_pop(&l->todo, true);
		uint64_t one = 1;

		if (j == NULL)
			break;
		if (portail_mono_ms() >= j->deadline) {
			/* its client has been told "unavailable", or is about to be: not run */
			atomic_fetch_add(&l->d->dropped_late, 1);
			j->resp = ops_error_line(PORTAIL_ERR_UNAVAILABLE, "request deadline exceeded",
			    &j->resp_len);
		} else {
			j->resp = ops_handle(l->d, &j->peer, j->line, j->len, &j->resp_len,
			    &j->close_after);
		}
		sched_done(&l->todo, j);
		wipe_free(j->line, j->len);
		j->line = NULL;
		answer_directly(j);
		if (done_push(&l->done, j) &&
		    write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_msg(LOG_ERR, "eventfd: %s", strerror(errno));
	}
	return NULL;
}

/*
 * What epoll gives back for c: its fd and a serial of its own. A batch of
 * events may hold one for an fd that a handler earlier in the batch
 * closed and an accept then gave to a new connection; the serial tells
 * that stale event from the new connection's.
 */
static uint64_t
ev_data(const struct conn *c)
{
	return (uint64_t)c->serial << 32 | (uint32_t)c->fd;
}

static void
set_events(struct loop *l, struct conn *c)
{
	uint32_t want = 0;
	struct epoll_event ev = { 0 };

	if (!c->closing && !c->eof && c->in_len < PORTAIL_PROTO_MAX && c->penalty_until == 0)
		want |= EPOLLIN;
	if (c->out_len > c->out_off)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.u64 = ev_data(c);
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static void
list_unlink(struct loop *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->last = c->prev;
	c->prev = c->next = NULL;
}

static void
list_append(struct loop *l, struct conn *c)
{
	c->prev = l->last;
	c->next = NULL;
	if (l->last)
		l->last->next = c;
	else
		l->first = c;
	l->last = c;
}

static void
conn_close(struct loop *l, struct conn *c)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	l->by_fd[c->fd] = NULL;
	list_unlink(l, c);
	if (c->pq != NULL) {
		pthread_mutex_lock(&l->todo.lock);
		c->pq->conns--;
		peer_release(&l->todo, c->pq);
		pthread_mutex_unlock(&l->todo.lock);
	}
	l->open--;
	atomic_store(&l->d->connections_open, l->open);
	wipe_free(c->in, PORTAIL_PROTO_MAX);
	wipe_free(c->out, c->out_len);
	free(c);
}

/* Queues an answer on c (takes line). */
static void
conn_answer(struct loop *l, struct conn *c, char *line, size_t len)
{
	if (line == NULL) {
		c->closing = true;
		return;
	}
	if (c->out_off == c->out_len) {
		wipe_free(c->out, c->out_len);
		c->out = line;
		c->out_len = len;
		c->out_off = 0;
	} else {
		/* a new buffer, the old ones wiped: answers may carry secrets */
		char *n = malloc(c->out_len + len);

		if (n == NULL) {
			wipe_free(line, len);
			c->closing = true;
			return;
		}
		memcpy(n, c->out, c->out_len);
		memcpy(n + c->out_len, line, len);
		wipe_free(c->out, c->out_len);
		wipe_free(line, len);
		c->out = n;
		c->out_len += len;
	}
}

static void
conn_error(struct loop *l, struct conn *c, portail_status s, const char *msg, bool close_after)
{
	size_t len = 0;
	char *line = ops_error_line(s, msg, &len);

	conn_answer(l, c, line, len);
	if (close_after)
		c->closing = true;
}

/* Hands the next complete line, if any, to a worker (or answers "busy"). */
static void
conn_dispatch(struct loop *l, struct conn *c)
{
	char *nl;
	struct job *j;
	size_t len;

	if (c->busy || c->closing || l->stopping || c->penalty_until != 0)
		return;
	nl = memchr(c->in, '\n', c->in_len);
	if (nl == NULL) {
		if (c->in_len >= PORTAIL_PROTO_MAX) {
			/* framing is lost: answer and close */
			atomic_fetch_add(&l->d->bad_requests, 1);
			log_msg(LOG_NOTICE, "op=- uid=%u pid=%d result=bad_request reason=oversize",
			    (unsigned)c->peer.uid, (int)c->peer.pid);
			conn_error(l, c, PORTAIL_ERR_PROTOCOL, "message larger than 64 KiB", true);
		}
		return;
	}
	len = (size_t)(nl - c->in);
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->line = malloc(len + 1)) == NULL) {
		free(j);
		conn_error(l, c, PORTAIL_ERR_UNAVAILABLE, "out of memory", true);
		return;
	}
	memcpy(j->line, c->in, len);
	j->line[len] = '\0';
	j->len = len;
	j->fd = c->fd;
	/* nothing waits to be sent before this answer: the worker may send it */
	j->wfd = c->out_off == c->out_len ? fcntl(c->fd, F_DUPFD_CLOEXEC, 0) : -1;
	atomic_init(&j->claim, OPEN);
	j->id = c->id;
	j->peer = c->peer;
	/* keep what follows the line (a pipelined request) */
	explicit_bzero(c->in, len + 1);
	memmove(c->in, nl + 1, c->in_len - len - 1);
	c->in_len -= len + 1;
	c->partial_since = c->in_len > 0 ? portail_mono_ms() : 0;
	c->busy_since = portail_mono_ms();
	j->deadline = c->busy_since + (long long)l->d->cfg->daemon.request_timeout * 1000;
	if (!sched_push(&l->todo, c->pq, j)) {
		/* this uid, or everyone, has enough waiting: say so now, no worker spent */
		job_free(j);
		atomic_fetch_add(&l->d->busy, 1);
		summary_note(c->peer.uid, SUMMARY_BUSY);
		conn_error(l, c, PORTAIL_ERR_BUSY, "busy: too many requests waiting; try again "
		    "in a moment", false);
		/*
		 * and this connection is not read for a moment (sshd's
		 * PerSourcePenalties): a client that asks again at once must
		 * not turn the loop into a busy-answering machine
		 */
		if (l->d->cfg->daemon.busy_pause_ms > 0)
			c->penalty_until = portail_mono_ms() + l->d->cfg->daemon.busy_pause_ms;
		return;
	}
	c->busy = true;
	c->job = j;
}

static void
conn_flush(struct loop *l, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->last_active = portail_mono_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(l, c);       /* the client went away */
		return;
	}
	if (c->out_off == c->out_len) {
		wipe_free(c->out, c->out_len);  /* answers may carry a ticket or a token */
		c->out = NULL;
		c->out_len = c->out_off = 0;
		if (c->closing || (c->eof && !c->busy && memchr(c->in, '\n', c->in_len) == NULL)) {
			conn_close(l, c);
			return;
		}
	}
	set_events(l, c);
}

static void
conn_read(struct loop *l, struct conn *c)
{
	while (c->in_len < PORTAIL_PROTO_MAX) {
		ssize_t n = recv(c->fd, c->in + c->in_len, PORTAIL_PROTO_MAX - c->in_len,
		    MSG_DONTWAIT);

		if (n > 0) {
			if (c->in_len == 0)
				c->partial_since = portail_mono_ms();
			c->in_len += (size_t)n;
			c->last_active = portail_mono_ms();
			continue;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		conn_close(l, c);
		return;
	}
	conn_dispatch(l, c);
	if (c->eof && !c->busy && c->out_len == c->out_off) {
		/* half a line and gone, or nothing more to do */
		conn_close(l, c);
		return;
	}
	conn_flush(l, c);
}

/* Closes the oldest connection with nothing in progress; false if none. */
static bool
evict_idle(struct loop *l)
{
	for (struct conn *c = l->first; c != NULL; c = c->next) {
		if (!c->busy && c->out_len == c->out_off) {
			atomic_fetch_add(&l->d->connections_evicted, 1);
			conn_close(l, c);
			return true;
		}
	}
	return false;
}

/*
 * Room for one more connection of uid: at its share, its own oldest idle
 * connection goes; false (refused, noted) when all of them are busy.
 */
static bool
peer_admit(struct loop *l, uid_t uid)
{
	struct peerq *p;
	bool full;

	pthread_mutex_lock(&l->todo.lock);
	p = peer_find(&l->todo, uid, false);
	full = p != NULL && p->conns >= l->max_conns_per_peer;
	pthread_mutex_unlock(&l->todo.lock);
	if (!full)
		return true;
	for (struct conn *c = l->first; c != NULL; c = c->next) {
		if (c->peer.uid == uid && !c->busy && c->out_len == c->out_off) {
			atomic_fetch_add(&l->d->connections_evicted, 1);
			conn_close(l, c);
			return true;
		}
	}
	atomic_fetch_add(&l->d->connections_refused, 1);
	summary_note(uid, SUMMARY_CONN_PEER);
	return false;
}

static void
do_accept(struct loop *l)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct epoll_event ev = { 0 };
		struct conn *c;
		int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_msg(LOG_ERR, "accept: %s", strerror(errno));
			return;
		}
		if (fd >= l->by_fd_len ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
			close(fd);
			continue;
		}
		if (!peer_admit(l, cred.uid)) {
			close(fd);
			continue;
		}
		if (l->open >= l->d->cfg->daemon.max_connections && !evict_idle(l)) {
			atomic_fetch_add(&l->d->connections_refused, 1);
			summary_note(cred.uid, SUMMARY_CONN_ALL);
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(PORTAIL_PROTO_MAX)) == NULL) {
			free(c);
			close(fd);
			continue;
		}
		pthread_mutex_lock(&l->todo.lock);
		c->pq = peer_find(&l->todo, cred.uid, true);
		if (c->pq != NULL)
			c->pq->conns++;
		pthread_mutex_unlock(&l->todo.lock);
		if (c->pq == NULL) {
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = ++l->next_id;
		if (++l->next_serial == 0)      /* 0: not a connection's (the loop's own fds) */
			++l->next_serial;
		c->serial = l->next_serial;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		c->peer.pid = cred.pid;
		c->last_active = portail_mono_ms();
		c->events = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.u64 = ev_data(c);
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			pthread_mutex_lock(&l->todo.lock);
			c->pq->conns--;
			peer_release(&l->todo, c->pq);
			pthread_mutex_unlock(&l->todo.lock);
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		l->by_fd[fd] = c;
		list_append(l, c);
		l->open++;
		atomic_store(&l->d->connections_open, l->open);
		atomic_fetch_add(&l->d->connections_total, 1);
	}
}

static void
collect_answers(struct loop *l)
{
	struct job *j;

	while ((j = queue_pop(&l->done, false, NULL)) != NULL) {
		struct conn *c = (j->fd < l->by_fd_len) ? l->by_fd[j->fd] : NULL;

		if (c != NULL && c->id == j->id && c->busy) {
			c->busy = false;
			c->job = NULL;
			c->last_active = portail_mono_ms();
			if (j->sent == 0) {
				/* NULL (no answer) closes, as conn_answer says */
				conn_answer(l, c, j->resp, j->resp_len);
				j->resp = NULL;
			} else if (j->sent < j->resp_len) {
				/* the rest of what the worker began to send */
				size_t rest = j->resp_len - j->sent;

				memmove(j->resp, j->resp + j->sent, rest);
				explicit_bzero(j->resp + rest, j->sent);
				conn_answer(l, c, j->resp, rest);
				j->resp = NULL;
			}
			if (j->close_after)
				c->closing = true;
			conn_dispatch(l, c);
			conn_flush(l, c);
		}
		job_free(j);
	}
}

/*
 * Whether the workers must wake the loop for every answer (done_push).
 * Answers already queued without a wake-up are what the loop waits for
 * now: it wakes itself for them.
 */
static void
want_answers(struct loop *l, bool all)
{
	uint64_t one = 1;
	bool queued;

	pthread_mutex_lock(&l->done.lock);
	l->done.wake = all;
	queued = l->done.head != NULL;
	pthread_mutex_unlock(&l->done.lock);
	if (all && queued && write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "eventfd: %s", strerror(errno));
}

/* Deadlines, idle connections, and whether answers must wake the loop. */
static void
sweep(struct loop *l)
{
	const struct portail_daemon_config *dc = &l->d->cfg->daemon;
	long long now = portail_mono_ms();
	struct conn *c, *next;
	bool attention = false;

	/* the minutes that are over, looked at once a second */
	if (now - l->summarised >= 1000) {
		summary_flush(false);
		l->summarised = now;
	}
	for (c = l->first; c != NULL; c = next) {
		next = c->next;
		if (c->penalty_until != 0 && now >= c->penalty_until) {
			c->penalty_until = 0;
			conn_dispatch(l, c);    /* a line it sent meanwhile */
			conn_flush(l, c);
			continue;
		}
		if (c->busy && now - c->busy_since >= (long long)dc->request_timeout * 1000) {
			int open = OPEN;

			/* the worker is sending its answer right now: it arrives in time */
			if (c->job != NULL &&
			    !atomic_compare_exchange_strong(&c->job->claim, &open, LOOP_ANSWERS))
				continue;
			/* abandon the answer: the worker's late result will not match */
			c->job = NULL;
			c->id = ++l->next_id;
			c->busy = false;
			atomic_fetch_add(&l->d->deadline_exceeded, 1);
			atomic_fetch_add(&l->d->unavailable, 1);
			log_msg(LOG_WARNING, "uid=%u pid=%d result=unavailable reason=deadline_exceeded",
			    (unsigned)c->peer.uid, (int)c->peer.pid);
			conn_error(l, c, PORTAIL_ERR_UNAVAILABLE, "request deadline exceeded", false);
			conn_dispatch(l, c);
			conn_flush(l, c);
			continue;
		}
		if (!c->busy && c->partial_since != 0 &&
		    now - c->partial_since >= (long long)dc->request_timeout * 1000) {
			atomic_fetch_add(&l->d->bad_requests, 1);
			conn_error(l, c, PORTAIL_ERR_PROTOCOL, "request not completed in time", true);
			conn_flush(l, c);
			continue;
		}
		if (!c->busy && c->in_len == 0 && c->out_len == c->out_off &&
		    now - c->last_active >= (long long)dc->idle_timeout * 1000) {
			conn_close(l, c);
			continue;
		}
		if (c->busy && (c->in_len > 0 || c->eof || c->closing))
			attention = true;
	}
	want_answers(l, attention || l->stopping);
}

static void
handle_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_reopen();
			log_msg(LOG_INFO, "SIGHUP: log reopened (configuration is not reloaded; restart to apply it)");
		} else if (!l->stopping) {
			log_msg(LOG_INFO, "signal %u: stopping; finishing requests in flight", si.ssi_signo);
			l->stopping = true;
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
			close(l->listen_fd);
			l->listen_fd = -1;
		}
	}
}

/*
 * A test moved the daemon's clock: what waits for a time on it looks
 * again now (the mail queue's next try, the log's minute), not when the
 * wall clock says.
 */
static void
clock_moved(struct loop *l)
{
	if (!daemon_clock_moved(l->cfd))
		return;
	if (l->d->mailq != NULL)
		portail_mailq_kick(l->d->mailq);
	summary_flush(false);
}

static bool
anything_in_flight(struct loop *l)
{
	for (struct conn *c = l->first; c != NULL; c = c->next)
		if (c->busy || c->out_len > c->out_off)
			return true;
	return false;
}

int
loop_run(struct daemon *d, int listen_fd, void (*ready)(void))
{
	struct loop l = { .d = d, .listen_fd = listen_fd, .epfd = -1, .efd = -1, .sfd = -1,
	    .cfd = -1 };
	struct epoll_event ev = { 0 }, events[64];
	sigset_t mask;
	long long stop_deadline = 0;
	int rc = 1;

	pthread_mutex_init(&l.todo.lock, NULL);
	pthread_cond_init(&l.todo.cond, NULL);
	{
		const struct portail_daemon_config *dc = &d->cfg->daemon;

		l.todo.max_queued = dc->max_queued > 0 ? dc->max_queued : 256;
		l.todo.max_per_peer = dc->max_queued_per_peer > 0 ? dc->max_queued_per_peer : 64;
		l.todo.max_running = dc->workers > 1 ? dc->workers / 2 : 1;
		l.max_conns_per_peer = dc->max_connections_per_peer > 0 ?
		    dc->max_connections_per_peer : dc->max_connections / 4;
		if (l.max_conns_per_peer < 1)
			l.max_conns_per_peer = 1;
	}
	pthread_mutex_init(&l.done.lock, NULL);
	pthread_cond_init(&l.done.cond, NULL);
	l.by_fd_len = 65536 + 64;
	if ((l.by_fd = calloc((size_t)l.by_fd_len, sizeof(*l.by_fd))) == NULL)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGPIPE);
	if ((l.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (l.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (l.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_msg(LOG_ERR, "event loop: %s", strerror(errno));
		goto out;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = (uint32_t)listen_fd;
	epoll_ctl(l.epfd, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.u64 = (uint32_t)l.efd;
	epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.efd, &ev);
	ev.data.u64 = (uint32_t)l.sfd;
	epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.sfd, &ev);
	if ((l.cfd = daemon_clock_watch()) >= 0) {
		ev.data.u64 = (uint32_t)l.cfd;
		epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.cfd, &ev);
	}

	l.n_workers = d->cfg->daemon.workers;
	if ((l.workers = calloc((size_t)l.n_workers, sizeof(*l.workers))) == NULL)
		goto out;
	for (int i = 0; i < l.n_workers; i++) {
		if (pthread_create(&l.workers[i], NULL, worker_main, &l) != 0) {
			log_msg(LOG_ERR, "cannot start worker %d", i);
			l.n_workers = i;
			goto out;
		}
	}
	if (ready != NULL)
		ready();

	for (;;) {
		int n = epoll_wait(l.epfd, events, 64, 200);

		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		/* the answers workers sent meanwhile, woken for or not (done_push) */
		collect_answers(&l);
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)events[i].data.u64;
			uint32_t serial = (uint32_t)(events[i].data.u64 >> 32);
			struct conn *c;

			if (fd == l.listen_fd) {
				do_accept(&l);
			} else if (fd == l.efd) {
				uint64_t one;

				while (read(l.efd, &one, sizeof(one)) > 0)
					;
			} else if (fd == l.sfd) {
				handle_signal(&l);
			} else if (fd == l.cfd) {
				clock_moved(&l);
			} else if (serial != 0 && fd < l.by_fd_len && (c = l.by_fd[fd]) != NULL &&
			    c->serial == serial) {
				if (events[i].events & EPOLLIN)
					conn_read(&l, c);
				else if (events[i].events & EPOLLOUT)
					conn_flush(&l, c);
				else if (events[i].events & (EPOLLHUP | EPOLLERR))
					conn_close(&l, c);
			}
		}
		sweep(&l);
		if (l.stopping) {
			struct conn *c, *next;

			if (stop_deadline == 0)
				stop_deadline = portail_mono_ms() + (long long)d->cfg->daemon.request_timeout * 1000;
			/* connections with nothing in progress go now */
			for (c = l.first; c != NULL; c = next) {
				next = c->next;
				if (!c->busy && c->out_len == c->out_off)
					conn_close(&l, c);
			}
			if (!anything_in_flight(&l) || portail_mono_ms() >= stop_deadline)
				break;
		}
	}
	rc = 0;
out:
	/* stop the workers: they finish the job at hand */
	pthread_mutex_lock(&l.todo.lock);
	workers_stop = true;
	pthread_cond_broadcast(&l.todo.cond);
	pthread_mutex_unlock(&l.todo.lock);
	for (int i = 0; i < l.n_workers; i++)
		pthread_join(l.workers[i], NULL);
	free(l.workers);
	{
		struct job *j;

		while ((j = sched_pop(&l.todo, false)) != NULL)
			job_free(j);
		while ((j = queue_pop(&l.done, false, NULL)) != NULL)
			job_free(j);
	}
	while (l.first != NULL)
		conn_close(&l, l.first);
	/* what the last minute counted, before the daemon goes */
	summary_flush(true);
	if (l.listen_fd >= 0)
		close(l.listen_fd);
	if (l.epfd >= 0)
		close(l.epfd);
	if (l.efd >= 0)
		close(l.efd);
	if (l.sfd >= 0)
		close(l.sfd);
	if (l.cfd >= 0)
		close(l.cfd);
	free(l.by_fd);
	return rc;
}
