/* Live takeover over a SOCK_SEQPACKET unix socket: one message per
 * datagram, a type byte first, descriptors riding along with SCM_RIGHTS.
 *
 *   new -> old  'H' "PLTK" proto(u32) version   hello
 *   old -> new  'O' | 'N' reason                accepted | refused
 *   old -> new  'L' mask(u8) unix_path\0        + listening sockets
 *   new -> old  'l'                             the new one accepts now
 *   old -> new  'C' session (handoff.h)         + the client's socket
 *   old -> new  'B' len(u32) session server     + client's, server's socket
 *   new -> old  'c' pid secret | 'r' pid secret client adopted | refused
 *   old -> new  'S' server (handoff.h)          + an idle server's socket
 *   new -> old  's' pid secret | 'q' pid secret server adopted | refused
 *   new -> old  'K' pid secret                  a cancel for a key it lacks
 *   old -> new  'D'                             the old one holds nothing
 *
 * 'B' is a session-mode client with the server linked to it (len: the
 * session's bytes), acknowledged by the client's key; 'S' an idle server,
 * acknowledged by its backend key. The old process keeps a client or
 * server (not reading it) until 'c' or 's' says the new one has it;
 * stream order means an ack sent is read before the EOF of a new process
 * that died, so nothing is lost nor served twice. A server the new one
 * holds is closed here without a Terminate. */
#include "takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "client.h"
#include "handoff.h"
#include "io.h"
#include "janitor.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"

#ifndef PITLANE_VERSION
#define PITLANE_VERSION "0.0.0"
#endif

#define TK_MSG_MAX (HANDOFF_MAX + 16)
#define TK_FDS_MAX 4
#define TK_MAGIC   "PLTK"

enum tk_mask {
	TK_FD_TCP = 1,
	TK_FD_UNIX = 2,
	TK_FD_HTTP = 4,
	TK_FD_TAKEOVER = 8,
};

enum tk_state {
	TK_IDLE,      /* no takeover under way */
	TK_HELLO,     /* old: a new process connected, hello due */
	TK_SENT,      /* old: sockets sent, waiting for 'l' */
	TK_GIVING,    /* old: handing clients over */
	TK_DONE,      /* old: holds nothing, shutting down */
	TK_RECEIVING, /* new: taking clients */
};

struct takeover {
	struct worker *w;
	struct listener *l;
	struct http_server *h;
	char path[TAKEOVER_PATH_MAX];
	int lfd;	     /* listening takeover socket, -1: none */
	struct event *lev;   /* accepts on lfd */
	bool given;	     /* lfd handed to a new process: never unlink */
	int cfd;	     /* the one connection, -1: none */
	struct event *cev;   /* reads cfd */
	struct event *sweep; /* old: idle clients, every TAKEOVER_SWEEP_MS */
	struct event *rest;  /* old: a linked server came to rest */
	enum tk_state st;
	unsigned moving; /* old: clients and servers sent, not acknowledged */
	uint8_t buf[TK_MSG_MAX];
};

static struct takeover *tk_of_worker; /* the worker hooks' context */

bool takeover_path(const struct config *cfg, char *buf, size_t len)
{
	int n;

	if (cfg->takeover_socket != NULL)
		n = snprintf(buf, len, "%s", cfg->takeover_socket);
	else if (cfg->unix_socket_dir != NULL)
		n = snprintf(buf, len, "%s/pitlane.takeover",
			     cfg->unix_socket_dir);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

/* Sending and receiving datagrams. */

static bool tk_send(int fd, const void *p, size_t n, const int *fds,
		    unsigned nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * TK_FDS_MAX)];
	} ctl;
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

static bool tk_send_key(int fd, char type, uint32_t pid, uint32_t secret)
{
	uint8_t m[9] = {(uint8_t)type, pid >> 24,    pid >> 16,	  pid >> 8, pid,
			secret >> 24,  secret >> 16, secret >> 8, secret};

	return tk_send(fd, m, sizeof(m), NULL, 0);
}

/* One datagram into t->buf; its descriptors (closed when more came than
 * fit) in fds. Returns its length, 0 at EOF, -1 on error (errno). */
static ssize_t tk_recv(struct takeover *t, int *fds, unsigned *nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * TK_FDS_MAX)];
	} ctl;
	struct iovec iov = {.iov_base = t->buf, .iov_len = sizeof(t->buf)};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.b,
			   .msg_controllen = sizeof(ctl.b)};
	ssize_t n = recvmsg(t->cfd, &m, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL;
	     c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k =
		    (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int got[TK_FDS_MAX];
		memcpy(got, CMSG_DATA(c),
		       sizeof(int) * (k < TK_FDS_MAX ? k : TK_FDS_MAX));
		for (unsigned i = 0; i < k && i < TK_FDS_MAX; i++)
			fds[(*nfds)++] = got[i];
	}
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		for (unsigned i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

static void tk_close_conn(struct takeover *t)
{
	if (t->cev != NULL)
		event_free(t->cev);
	t->cev = NULL;
	if (t->cfd >= 0)
		close(t->cfd);
	t->cfd = -1;
}

/* Giving side. */

static bool tk_handoff(struct client *c);
static void tk_at_rest(struct server *s);
static void tk_give_servers(struct takeover *t);
static void tk_cancel_unknown(struct worker *w, uint32_t pid, uint32_t secret);

/* The takeover is off: whatever moved stays moved, the rest is served here
 * as before and new connections are accepted here again. */
static void tk_give_up(struct takeover *t, const char *why)
{
	struct client *c, *next;

	log_warn("takeover failed: serving on", LF_STR("reason", why),
		 LF_INT("clients", t->w->nclients));
	struct server *s, *snext;

	t->w->handoff = NULL;
	t->w->at_rest = NULL;
	t->w->takeover_busy = false;
	event_del(t->sweep);
	tk_close_conn(t);
	t->st = TK_IDLE;
	t->moving = 0;
	for (c = TAILQ_FIRST(&t->w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_MOVING)
			client_handoff_back(c, true);
	}
	for (s = TAILQ_FIRST(&t->w->servers); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		if (s->moving)
			server_handoff_back(s);
	}
	t->given = false;
	if (t->l != NULL) {
		listener_given(t->l, false);
		listener_accepting(t->l, true);
	}
	if (t->h != NULL)
		http_accepting(t->h, true);
	if (t->lev != NULL)
		event_add(t->lev, NULL);
}

static void tk_send_sockets(struct takeover *t)
{
	uint8_t m[2 + TAKEOVER_PATH_MAX] = {'L', 0};
	int fds[TK_FDS_MAX];
	unsigned n = 0;
	int tcp = -1, ufd = -1;
	const char *path = "";
	size_t plen;

	if (t->l != NULL)
		listener_fds(t->l, &tcp, &ufd, &path);
	if (tcp >= 0)
		m[1] |= TK_FD_TCP, fds[n++] = tcp;
	if (ufd >= 0)
		m[1] |= TK_FD_UNIX, fds[n++] = ufd;
	if (t->h != NULL)
		m[1] |= TK_FD_HTTP, fds[n++] = http_listen_fd(t->h);
	if (t->lfd >= 0)
		m[1] |= TK_FD_TAKEOVER, fds[n++] = t->lfd;
	plen = strlen(path);
	memcpy(m + 2, path, plen + 1);
	if (!tk_send(t->cfd, m, 2 + plen + 1, fds, n)) {
		tk_give_up(t, "cannot send the listening sockets");
		return;
	}
	t->st = TK_SENT;
}

/* The hello: the right magic and protocol, or a refusal with a reason. */
static void tk_hello(struct takeover *t, size_t n)
{
	char why[160];
	uint32_t proto = n >= 9 ? proto_get_u32(t->buf + 5) : 0;

	if (n < 9 || memcmp(t->buf + 1, TK_MAGIC, 4) != 0)
		snprintf(why, sizeof(why), "not a pitlane takeover hello");
	else if (proto != TAKEOVER_PROTO)
		snprintf(why, sizeof(why),
			 "incompatible takeover protocol %u (this process "
			 "speaks %u, pitlane %s)",
			 proto, TAKEOVER_PROTO, PITLANE_VERSION);
	else if (t->w->shutting_down)
		snprintf(why, sizeof(why), "the running process shuts down");
	else
		why[0] = '\0';
	if (why[0] != '\0') {
		char m[1 + sizeof(why)] = {'N'};
		memcpy(m + 1, why, strlen(why) + 1);
		(void)tk_send(t->cfd, m, strlen(why) + 2, NULL, 0);
		log_warn("takeover refused", LF_STR("reason", why));
		tk_close_conn(t);
		t->st = TK_IDLE;
		return;
	}
	char ok[1 + 64] = {'O'};
	snprintf(ok + 1, sizeof(ok) - 1, "%s", PITLANE_VERSION);
	if (!tk_send(t->cfd, ok, strlen(ok + 1) + 2, NULL, 0)) {
		tk_give_up(t, "cannot answer the hello");
		return;
	}
	tk_send_sockets(t);
}

/* The new process accepts now: stop accepting here, close the console
 * sessions (a console belongs to one process), and start handing over. */
static void tk_start_giving(struct takeover *t)
{
	struct client *c, *next;
	struct timeval tv = {.tv_usec = TAKEOVER_SWEEP_MS * 1000};

	log_info("takeover started: handing clients over",
		 LF_INT("clients", t->w->nclients));
	t->st = TK_GIVING;
	t->given = true;
	if (t->l != NULL) {
		listener_given(t->l, true);
		listener_accepting(t->l, false);
	}
	if (t->h != NULL)
		http_accepting(t->h, false);
	if (t->lev != NULL)
		event_del(t->lev);
	t->w->handoff = tk_handoff;
	t->w->at_rest = tk_at_rest;
	t->w->takeover_busy = true;
	for (c = TAILQ_FIRST(&t->w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_CONSOLE)
			client_close(c, "57P01",
				     "pitlane is being taken over by a new "
				     "process: reconnect");
	}
	event_add(t->sweep, &tv);
	tk_give_servers(t);
}

/* Nothing left here: tell the new process and shut down. */
static void tk_finish(struct takeover *t)
{
	static const uint8_t done = 'D';

	log_info("takeover complete: every client handed over");
	(void)tk_send(t->cfd, &done, 1, NULL, 0);
	t->st = TK_DONE;
	t->w->handoff = NULL;
	t->w->at_rest = NULL;
	event_del(t->sweep);
	if (t->l != NULL)
		listener_disable(t->l);
	if (t->h != NULL)
		http_accepting(t->h, false);
	janitor_shutdown(t->w);
}

/* Idle servers of pools no client here uses any more go to the new
 * process (those of pools still in use serve the clients left here).
 * Returns how many are still to go: being cleaned (DEALLOCATE ALL) or not
 * yet at rest; TLS ones never go, and those that cannot go now wait. */
static unsigned tk_give_servers_left(struct takeover *t)
{
	struct server *s, *next;
	unsigned left = 0;
	/* No client left: pools count theirs until the reaper frees them. */
	bool none = TAILQ_EMPTY(&t->w->clients);

	for (s = TAILQ_FIRST(&t->w->servers); s != NULL && t->st == TK_GIVING;
	     s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->moving || (!none && s->pool->nclients > 0) ||
		    !server_handoff_plain(s))
			continue;
		if (s->state == SERVER_RESETTING) {
			left++;
			continue;
		}
		if (s->state != SERVER_IDLE)
			continue;
		if (server_handoff_clean(s)) {
			left++;
			continue;
		}
		struct handoff_buf b = {0};
		int fd = server_fd(s);
		handoff_put_byte(&b, 'S');
		if (server_handoff_begin(s, &b)) {
			if (tk_send(t->cfd, b.p, b.len, &fd, 1))
				t->moving++;
			else
				server_handoff_back(s);
		}
		handoff_buf_free(&b);
	}
	return left;
}

static void tk_give_servers(struct takeover *t)
{
	(void)tk_give_servers_left(t);
}

static void tk_check_finish(struct takeover *t)
{
	if (t->st != TK_GIVING || !TAILQ_EMPTY(&t->w->clients))
		return;
	if (tk_give_servers_left(t) == 0 && t->moving == 0)
		tk_finish(t);
}

/* 'c' or 'r' for a client in transit. */
static void tk_ack(struct takeover *t, size_t n, bool taken)
{
	struct client *c;

	if (n < 9)
		return;
	c = client_by_key(t->w, proto_get_u32(t->buf + 1),
			  proto_get_u32(t->buf + 5));
	if (c == NULL || c->state != CLIENT_MOVING) {
		if (t->moving > 0)
			t->moving--; /* it went meanwhile */
		return;
	}
	t->moving--;
	if (taken)
		client_handoff_done(c);
	else
		client_handoff_back(c, true);
}

/* 's' or 'q' for an idle server in transit: gone over, or closed here
 * (the new process has no room for it: its pool is full there). */
static void tk_server_ack(struct takeover *t, size_t n, bool taken)
{
	struct server *s;

	if (n < 9)
		return;
	if (t->moving > 0)
		t->moving--;
	s = server_moving_by_key(t->w, proto_get_u32(t->buf + 1),
				 proto_get_u32(t->buf + 5));
	if (s == NULL)
		return;
	if (taken) {
		server_handoff_done(s);
		return;
	}
	server_handoff_back(s);
	if (s->state == SERVER_IDLE)
		server_close(s, NULL);
}

static void tk_old_read(struct takeover *t)
{
	int fds[TK_FDS_MAX];
	unsigned nfds;
	ssize_t n = tk_recv(t, fds, &nfds);

	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]); /* the new process sends none */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (t->st == TK_DONE)
			tk_close_conn(t);
		else if (t->st == TK_HELLO) {
			tk_close_conn(t);
			t->st = TK_IDLE;
		} else
			tk_give_up(t, "the new process went away");
		return;
	}
	switch (t->buf[0]) {
	case 'H':
		if (t->st == TK_HELLO)
			tk_hello(t, (size_t)n);
		break;
	case 'l':
		if (t->st == TK_SENT)
			tk_start_giving(t);
		break;
	case 'c':
	case 'r':
		tk_ack(t, (size_t)n, t->buf[0] == 'c');
		tk_check_finish(t);
		break;
	case 's':
	case 'q':
		tk_server_ack(t, (size_t)n, t->buf[0] == 's');
		tk_give_servers(t);
		tk_check_finish(t);
		break;
	case 'K':
		if (n >= 9)
			(void)client_cancel_local(t->w,
						  proto_get_u32(t->buf + 1),
						  proto_get_u32(t->buf + 5));
		break;
	default:
		break;
	}
}

/* A session-mode client at rest with its server: both leave in one 'B'
 * message (the session's length first), or neither. TLS on either side
 * keeps them here until the client leaves. */
static bool tk_handoff_linked(struct takeover *t, struct client *c)
{
	struct handoff_buf b = {0};
	struct server *s = c->server;
	int fds[2];
	size_t start;
	bool sent;

	if (c->tls || !server_handoff_ready(s))
		return false;
	handoff_put_byte(&b, 'B');
	for (int i = 0; i < 4; i++)
		handoff_put_byte(&b, 0);
	start = b.len;
	if (!client_handoff_begin(c, &b)) {
		handoff_buf_free(&b);
		return false;
	}
	if (!b.failed) {
		size_t n = b.len - start;
		b.p[1] = (uint8_t)(n >> 24), b.p[2] = (uint8_t)(n >> 16);
		b.p[3] = (uint8_t)(n >> 8), b.p[4] = (uint8_t)n;
	}
	if (!server_handoff_begin(s, &b)) {
		handoff_buf_free(&b);
		client_handoff_back(c, false);
		return false;
	}
	fds[0] = io_fd(c->io);
	fds[1] = server_fd(s);
	sent = tk_send(t->cfd, b.p, b.len, fds, 2);
	handoff_buf_free(&b);
	if (!sent) {
		client_handoff_back(c, true); /* the server comes back too */
		return false;
	}
	t->moving++;
	return true;
}

/* The worker's at_rest hook: look at the linked clients once the current
 * callbacks have unwound (the ReadyForQuery has reached the client). */
static void tk_at_rest(struct server *s)
{
	struct takeover *t = tk_of_worker;

	(void)s;
	if (t != NULL && t->st == TK_GIVING)
		event_active(t->rest, EV_TIMEOUT, 1);
}

/* Linked clients at rest leave with their servers. */
static void tk_give_linked(struct takeover *t)
{
	struct client *c, *next;

	for (c = TAILQ_FIRST(&t->w->clients); c != NULL && t->st == TK_GIVING;
	     c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_ACTIVE && c->server != NULL &&
		    c->pool->mode->server_at_login)
			(void)tk_handoff_linked(t, c);
	}
}

static void tk_rest_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tk_give_linked(arg);
}

/* The worker's handoff hook: an idle client leaves now if it can. */
static bool tk_handoff(struct client *c)
{
	struct takeover *t = tk_of_worker;
	struct handoff_buf b = {0};
	int fd;
	bool sent;

	if (t == NULL || t->st != TK_GIVING)
		return false;
	if (c->server != NULL)
		return tk_handoff_linked(t, c);
	if (c->tls) {
		client_close(c, "57P01",
			     "pitlane is being taken over by a new process: "
			     "TLS connections cannot be handed over, "
			     "reconnect");
		return true;
	}
	handoff_put_byte(&b, 'C');
	if (!client_handoff_begin(c, &b)) {
		handoff_buf_free(&b);
		return false;
	}
	fd = io_fd(c->io);
	sent = tk_send(t->cfd, b.p, b.len, &fd, 1);
	handoff_buf_free(&b);
	if (!sent) {
		client_handoff_back(c, false); /* again at its next boundary */
		return false;
	}
	t->moving++;
	return true;
}

/* While giving: idle clients that said nothing lately. Before that: the
 * handshake's deadline, so a silent connection cannot block takeovers. */
static void tk_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;
	struct client *c, *next;
	struct timeval tv = {.tv_usec = TAKEOVER_SWEEP_MS * 1000};

	(void)fd;
	(void)what;
	if (t->st == TK_HELLO) {
		log_warn("takeover: no hello in time, connection closed");
		tk_close_conn(t);
		t->st = TK_IDLE;
		return;
	}
	if (t->st == TK_SENT) {
		tk_give_up(t, "the new process did not confirm in time");
		return;
	}
	for (c = TAILQ_FIRST(&t->w->clients); c != NULL && t->st == TK_GIVING;
	     c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_IDLE)
			(void)tk_handoff(c);
	}
	tk_give_linked(t);
	tk_give_servers(t);
	tk_check_finish(t);
	if (t->st == TK_GIVING)
		event_add(t->sweep, &tv);
}

/* Receiving side. */

static void tk_adopt(struct takeover *t, size_t n, int fd)
{
	struct handoff_session hs;
	struct client *c = NULL;
	uint32_t pid = n >= 9 ? proto_get_u32(t->buf + 1) : 0;
	uint32_t secret = n >= 9 ? proto_get_u32(t->buf + 5) : 0;

	if (fd < 0) {
		(void)tk_send_key(t->cfd, 'r', pid, secret);
		return;
	}
	if (!handoff_decode(t->buf + 1, n - 1, &hs)) {
		log_warn("takeover: bad session refused");
		close(fd);
		(void)tk_send_key(t->cfd, 'r', pid, secret);
		return;
	}
	c = client_adopt(t->w, fd, &hs);
	handoff_session_clear(&hs);
	if (c == NULL) {
		(void)tk_send_key(t->cfd, 'r', pid, secret);
		return;
	}
	if (!tk_send_key(t->cfd, 'c', pid, secret)) {
		/* The old process cannot hear that it let go: it keeps the
		 * client, so this copy must go without a word. */
		client_handoff_drop(c);
		return;
	}
	client_adopted_start(c);
}

/* An idle server: adopted into its pool, or refused (closed here). */
static void tk_adopt_server(struct takeover *t, size_t n, int fd)
{
	struct handoff_server hs;
	struct server *s;
	uint32_t pid = n >= 9 ? proto_get_u32(t->buf + 1) : 0;
	uint32_t secret = n >= 9 ? proto_get_u32(t->buf + 5) : 0;

	if (fd < 0) {
		(void)tk_send_key(t->cfd, 'q', pid, secret);
		return;
	}
	if (!handoff_decode_server(t->buf + 1, n - 1, &hs)) {
		log_warn("takeover: bad server record refused");
		close(fd);
		(void)tk_send_key(t->cfd, 'q', pid, secret);
		return;
	}
	s = server_adopt(t->w, fd, &hs);
	handoff_server_clear(&hs);
	if (s == NULL) {
		(void)tk_send_key(t->cfd, 'q', pid, secret);
		return;
	}
	if (!tk_send_key(t->cfd, 's', pid, secret)) {
		server_handoff_drop(s);
		return;
	}
	server_adopted_start(s);
}

/* A session-mode client and its server: both adopted and linked, or both
 * refused. */
static void tk_adopt_linked(struct takeover *t, size_t n, const int *fds,
			    unsigned nfds)
{
	struct handoff_session hs;
	struct handoff_server hsv;
	struct client *c;
	struct server *s;
	uint32_t len = n >= 5 ? proto_get_u32(t->buf + 1) : 0;
	const uint8_t *sess = t->buf + 5;
	uint32_t pid = n >= 13 ? proto_get_u32(sess) : 0;
	uint32_t secret = n >= 13 ? proto_get_u32(sess + 4) : 0;
	bool ok = nfds == 2 && n >= 5 && len <= n - 5 &&
		  handoff_decode(sess, len, &hs);

	if (ok && !handoff_decode_server(sess + len, n - 5 - len, &hsv)) {
		handoff_session_clear(&hs);
		ok = false;
	}
	if (!ok) {
		log_warn("takeover: bad session and server refused");
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		(void)tk_send_key(t->cfd, 'r', pid, secret);
		return;
	}
	c = client_adopt(t->w, fds[0], &hs);
	s = c != NULL ? server_adopt(t->w, fds[1], &hsv) : NULL;
	handoff_session_clear(&hs);
	handoff_server_clear(&hsv);
	if (c == NULL)
		close(fds[1]);
	else if (s == NULL)
		client_handoff_drop(c);
	else if (!client_adopt_link(c, s)) {
		server_handoff_drop(s);
		client_handoff_drop(c);
	} else if (!tk_send_key(t->cfd, 'c', pid, secret)) {
		client_handoff_drop(c); /* its server too */
		return;
	} else {
		client_adopted_start(c);
		return;
	}
	(void)tk_send_key(t->cfd, 'r', pid, secret);
}

static void tk_accept_cb(evutil_socket_t fd, short what, void *arg);

/* The old process is gone or done: this one is the running one now, and
 * takes the next takeover itself. */
static void tk_received_all(struct takeover *t, bool done)
{
	if (done)
		log_info("takeover complete: the old process let go");
	else
		log_warn("takeover: the old process went away before it "
			 "handed everything over");
	tk_close_conn(t);
	t->w->cancel_unknown = NULL;
	t->w->takeover_busy = false;
	t->st = TK_IDLE;
	if (t->lev != NULL)
		event_add(t->lev, NULL);
}

static void tk_new_read(struct takeover *t)
{
	int fds[TK_FDS_MAX];
	unsigned nfds;
	ssize_t n = tk_recv(t, fds, &nfds);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		tk_received_all(t, false);
		return;
	}
	if (t->buf[0] == 'B') {
		tk_adopt_linked(t, (size_t)n, fds, nfds);
		return;
	}
	for (unsigned i = 1; i < nfds; i++)
		close(fds[i]);
	if (t->buf[0] == 'C')
		tk_adopt(t, (size_t)n, nfds > 0 ? fds[0] : -1);
	else if (t->buf[0] == 'S')
		tk_adopt_server(t, (size_t)n, nfds > 0 ? fds[0] : -1);
	else if (nfds > 0)
		close(fds[0]);
	if (t->buf[0] == 'D')
		tk_received_all(t, true);
}

static void tk_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;

	(void)fd;
	(void)what;
	if (t->st == TK_RECEIVING)
		tk_new_read(t);
	else
		tk_old_read(t);
}

/* A cancel whose key no client here holds may belong to one the old
 * process still serves. */
static void tk_cancel_unknown(struct worker *w, uint32_t pid, uint32_t secret)
{
	struct takeover *t = tk_of_worker;

	(void)w;
	if (t != NULL && t->st == TK_RECEIVING && t->cfd >= 0)
		(void)tk_send_key(t->cfd, 'K', pid, secret);
}

static void tk_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct timeval deadline = {.tv_sec = TAKEOVER_TIMEOUT_S};

	(void)what;
	if (c < 0)
		return;
	if (t->cfd >= 0) {
		static const char busy[] = "Na takeover is already under way";
		(void)tk_send(c, busy, sizeof(busy), NULL, 0);
		close(c);
		return;
	}
	t->cfd = c;
	t->cev = event_new(t->w->base, c, EV_READ | EV_PERSIST, tk_conn_cb, t);
	if (t->cev == NULL || event_add(t->cev, NULL) != 0) {
		tk_close_conn(t);
		return;
	}
	t->st = TK_HELLO;
	event_add(t->sweep, &deadline); /* the handshake's */
	log_info("takeover: a new process connected");
}

static struct takeover *tk_new(struct worker *w, const char *path)
{
	struct takeover *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->w = w;
	t->lfd = t->cfd = -1;
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->sweep = evtimer_new(w->base, tk_sweep_cb, t);
	t->rest = event_new(w->base, -1, 0, tk_rest_cb, t);
	if (t->sweep == NULL || t->rest == NULL) {
		if (t->sweep != NULL)
			event_free(t->sweep);
		free(t);
		return NULL;
	}
	tk_of_worker = t;
	return t;
}

/* Accepting takeover connections on t->lfd (not yet armed). */
static bool tk_arm_listen(struct takeover *t)
{
	t->lev = event_new(t->w->base, t->lfd, EV_READ | EV_PERSIST,
			   tk_accept_cb, t);
	return t->lev != NULL;
}

struct takeover *takeover_listen(struct worker *w, const char *path, char *err,
				 size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct takeover *t;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (net_unix_live(&sun, SOCK_SEQPACKET)) {
		snprintf(err, errlen,
			 "another process listens on takeover socket %s: "
			 "start with -R to take it over",
			 path);
		return NULL;
	}
	t = tk_new(w, path);
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	(void)unlink(path); /* a stale socket from a crash */
	t->lfd =
	    socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->lfd < 0 ||
	    bind(t->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0600) != 0 || listen(t->lfd, 4) != 0 ||
	    !tk_arm_listen(t) || event_add(t->lev, NULL) != 0) {
		snprintf(err, errlen, "cannot listen on takeover socket %s: %s",
			 path, strerror(errno));
		t->given = true; /* not ours, or not made */
		takeover_free(t);
		return NULL;
	}
	log_info("takeover socket listening", LF_STR("path", path));
	return t;
}

/* Blocking receive for the handshake, bounded by TAKEOVER_TIMEOUT_S. */
static ssize_t tk_recv_wait(struct takeover *t, int *fds, unsigned *nfds,
			    char *err, size_t errlen)
{
	ssize_t n = tk_recv(t, fds, nfds);

	if (n <= 0)
		snprintf(err, errlen, "takeover socket %s: %s", t->path,
			 n == 0 ? "closed by the running process"
				: strerror(errno));
	return n;
}

/* This process's protocol; PITLANE_TAKEOVER_PROTO overrides it, for the
 * tests of a refused version only. */
static uint32_t tk_proto(void)
{
	const char *e = getenv("PITLANE_TAKEOVER_PROTO");

	return e != NULL ? (uint32_t)strtoul(e, NULL, 10) : TAKEOVER_PROTO;
}

static bool tk_handshake(struct takeover *t, struct takeover_fds *fds,
			 char *err, size_t errlen)
{
	uint8_t hello[9 + 64] = {'H', 'P', 'L', 'T', 'K'};
	uint32_t p = tk_proto();
	int got[TK_FDS_MAX];
	unsigned n = 0, k = 0;
	ssize_t len;

	hello[5] = p >> 24, hello[6] = p >> 16, hello[7] = p >> 8, hello[8] = p;
	snprintf((char *)hello + 9, 64, "%s", PITLANE_VERSION);
	if (!tk_send(t->cfd, hello, 9 + strlen((char *)hello + 9) + 1, NULL,
		     0)) {
		snprintf(err, errlen, "cannot send the takeover hello: %s",
			 strerror(errno));
		return false;
	}
	len = tk_recv_wait(t, got, &n, err, errlen);
	if (len <= 0)
		return false;
	if (t->buf[0] != 'O') {
		t->buf[len < TK_MSG_MAX ? len : TK_MSG_MAX - 1] = 0;
		snprintf(err, errlen,
			 "takeover refused by the running process: %s",
			 t->buf[0] == 'N' ? (char *)t->buf + 1 : "?");
		return false;
	}
	len = tk_recv_wait(t, got, &n, err, errlen);
	if (len < 3 || t->buf[0] != 'L' || t->buf[len - 1] != 0) {
		for (unsigned i = 0; i < n; i++)
			close(got[i]);
		if (len > 0)
			snprintf(err, errlen, "takeover: bad socket message");
		return false;
	}
	uint8_t mask = t->buf[1];
	int *slot[] = {&fds->tcp, &fds->unix_fd, &fds->http, &fds->takeover};
	for (unsigned bit = 0; bit < 4; bit++)
		if ((mask & (1u << bit)) && k < n)
			*slot[bit] = got[k++];
	for (; k < n; k++)
		close(got[k]);
	snprintf(fds->unix_path, sizeof(fds->unix_path), "%s",
		 (char *)t->buf + 2);
	if (fds->tcp < 0) {
		snprintf(err, errlen, "takeover: no TCP socket received");
		return false;
	}
	return true;
}

struct takeover *takeover_connect(struct worker *w, const char *path,
				  struct takeover_fds *fds, char *err,
				  size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = TAKEOVER_TIMEOUT_S};
	struct takeover *t = tk_new(w, path);

	*fds = (struct takeover_fds){-1, -1, -1, -1, ""};
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	t->cfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (t->cfd < 0 ||
	    setsockopt(t->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(t->cfd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen,
			 "cannot connect to takeover socket %s: %s", path,
			 strerror(errno));
		t->given = true;
		takeover_free(t);
		return NULL;
	}
	if (!tk_handshake(t, fds, err, errlen)) {
		int *all[] = {&fds->tcp, &fds->unix_fd, &fds->http,
			      &fds->takeover};
		for (unsigned i = 0; i < 4; i++)
			if (*all[i] >= 0)
				close(*all[i]), *all[i] = -1;
		t->given = true;
		takeover_free(t);
		return NULL;
	}
	t->lfd = fds->takeover;
	t->given = t->lfd < 0;
	fds->takeover = -1;
	t->st = TK_RECEIVING;
	return t;
}

void takeover_set_sockets(struct takeover *t, struct listener *l,
			  struct http_server *h)
{
	if (t == NULL)
		return;
	t->l = l;
	t->h = h;
}

bool takeover_confirm(struct takeover *t, char *err, size_t errlen)
{
	static const uint8_t ok = 'l';
	int fl = fcntl(t->cfd, F_GETFL);

	if (fl < 0 || fcntl(t->cfd, F_SETFL, fl | O_NONBLOCK) != 0 ||
	    (t->lfd >= 0 && (fcntl(t->lfd, F_SETFL,
				   fcntl(t->lfd, F_GETFL) | O_NONBLOCK) != 0 ||
			     !tk_arm_listen(t)))) {
		snprintf(err, errlen, "takeover: %s", strerror(errno));
		return false;
	}
	t->cev =
	    event_new(t->w->base, t->cfd, EV_READ | EV_PERSIST, tk_conn_cb, t);
	if (t->cev == NULL || event_add(t->cev, NULL) != 0 ||
	    !tk_send(t->cfd, &ok, 1, NULL, 0)) {
		snprintf(err, errlen, "takeover: cannot confirm: %s",
			 strerror(errno));
		return false;
	}
	t->w->cancel_unknown = tk_cancel_unknown;
	t->w->takeover_busy = true;
	log_info("takeover: accepting, taking clients over",
		 LF_STR("path", t->path));
	return true;
}

void takeover_free(struct takeover *t)
{
	if (t == NULL)
		return;
	if (tk_of_worker == t) {
		t->w->handoff = NULL;
		t->w->at_rest = NULL;
		t->w->cancel_unknown = NULL;
		tk_of_worker = NULL;
	}
	tk_close_conn(t);
	if (t->sweep != NULL)
		event_free(t->sweep);
	if (t->rest != NULL)
		event_free(t->rest);
	if (t->lev != NULL)
		event_free(t->lev);
	if (t->lfd >= 0) {
		close(t->lfd);
		if (!t->given)
			(void)unlink(t->path);
	}
	free(t);
}
