/* SCRAM pass-through connections: one host at a time (resolve, connect,
 * log in), in the order and with the target_session_attrs of the libpq
 * path (backend.c; both walk the list with hostlist.c): the first host
 * that logs in and suits target_session_attrs wins. A timer bounds each
 * host's turn (connect_timeout_ms, applied to each host separately as
 * libpq's connect_timeout is), so a host that never answers only costs its
 * own turn, as on the libpq path. */
#include "passthru.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/util.h>
#include <openssl/crypto.h>

#include "backend.h"
#include "log.h"
#include "net.h"
#include "srvlogin.h"

#define PASSTHRU_BUF (SRVLOGIN_MSG_MAX + PROTO_HEADER_LEN)

struct passthru_connect {
	struct event_base *base;
	struct evdns_base *dns;
	struct passthru_target t; /* keys wiped at the end; strings below */
	char host[1024], port[256], user[64], dbname[64], tsa[32];
	struct hostlist hl; /* into host, port and tsa */
	passthru_done_cb done;
	void *arg;
	struct event *ev, *timer;
	struct evdns_getaddrinfo_request *dns_req;
	unsigned in_dns_cb;	    /* freed by the outer callback's return */
	bool dns_timed_out;	    /* the lookup was cancelled by the timer */
	struct passthru_conn *conn; /* the connection being made */
	struct srvlogin login;
	bool connected; /* the TCP connect completed */
	uint8_t in[PASSTHRU_BUF];
	size_t in_len;
	char error[256];
};

bool passthru_allowed(const struct config *cfg)
{
	const char *m = cfg->sslmode;

	return m == NULL || strcmp(m, "disable") == 0 ||
	       strcmp(m, "allow") == 0 || strcmp(m, "prefer") == 0;
}

static void passthru_conn_free(struct passthru_conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	params_clear(&c->params);
	free(c);
}

void passthru_close(struct passthru_conn *c)
{
	static const uint8_t terminate[] = {'X', 0, 0, 0, 4};

	if (c == NULL)
		return;
	/* the server may be gone already: nothing to do then */
	if (c->fd >= 0 && write(c->fd, terminate, sizeof(terminate)) < 0)
		c->pid = 0;
	passthru_conn_free(c);
}

/* Drops the host being tried (socket, login state). */
static void passthru_drop_host(struct passthru_connect *pc)
{
	if (pc->ev != NULL)
		event_free(pc->ev);
	pc->ev = NULL;
	passthru_conn_free(pc->conn);
	pc->conn = NULL;
	srvlogin_free(&pc->login);
	pc->in_len = 0;
	pc->connected = false;
}

void passthru_connect_abort(struct passthru_connect *pc)
{
	if (pc == NULL)
		return;
	passthru_drop_host(pc);
	if (pc->timer != NULL)
		event_free(pc->timer);
	pc->timer = NULL;
	config_release(pc->t.cfg);
	OPENSSL_cleanse(&pc->t, sizeof(pc->t));
	if (pc->dns_req != NULL) {
		/* the callback runs (cancelled) and frees pc */
		pc->done = NULL;
		evdns_getaddrinfo_cancel(pc->dns_req);
		return;
	}
	if (pc->in_dns_cb) {
		pc->done = NULL;
		return;
	}
	free(pc);
}

static void passthru_finish(struct passthru_connect *pc,
			    struct passthru_conn *conn, const char *error)
{
	passthru_done_cb done = pc->done;
	void *arg = pc->arg;
	char reason[sizeof(pc->error)] = "";

	if (error != NULL)
		snprintf(reason, sizeof(reason), "%s", error);
	passthru_connect_abort(pc);
	done(conn, conn != NULL ? NULL : reason, arg);
}

static void passthru_next_host(struct passthru_connect *pc);

/* The host being tried, and its port. */
static const char *passthru_host(const struct passthru_connect *pc)
{
	return pc->hl.host[pc->hl.cur];
}

static const char *passthru_port(const struct passthru_connect *pc)
{
	return hostlist_port(&pc->hl, pc->hl.cur);
}

/* This host failed: remember why and try the next one; skip: not in
 * prefer-standby's second pass (timed out, unresolved). Each failure but
 * the last is logged here; the caller logs the last. */
static void passthru_host_failed(struct passthru_connect *pc, const char *why,
				 bool skip)
{
	if (why != pc->error)
		snprintf(pc->error, sizeof(pc->error), "%s", why);
	if (hostlist_more(&pc->hl))
		log_info("backend host failed, trying the next",
			 LF_STR("host", passthru_host(pc)),
			 LF_STR("port", passthru_port(pc)),
			 LF_STR("reason", pc->error));
	passthru_drop_host(pc);
	hostlist_failed(&pc->hl, skip);
	passthru_next_host(pc);
}

static bool passthru_send(struct passthru_connect *pc, const uint8_t *p,
			  size_t n)
{
	while (n > 0) {
		ssize_t r = write(pc->conn->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false; /* login messages fit any socket buffer */
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* Whether the server just logged in suits target_session_attrs by the
 * in_hot_standby and default_transaction_read_only it reported, as libpq
 * decides for servers that report them (PostgreSQL 14 and later). A server
 * that reports neither is refused when there is something to check: the
 * query libpq would send is not run on this path. Else the server is told
 * goodbye and the next host tried. */
static bool passthru_suits(struct passthru_connect *pc)
{
	const char *why = hostlist_check(
	    hostlist_tsa(&pc->hl),
	    params_get(&pc->login.params, "in_hot_standby"),
	    params_get(&pc->login.params, "default_transaction_read_only"));

	if (why == NULL)
		return true;
	passthru_close(pc->conn);
	pc->conn = NULL;
	passthru_host_failed(pc, why, false);
	return false;
}

/* Feeds every whole message in the input buffer to the login. */
static void passthru_consume(struct passthru_connect *pc)
{
	size_t off = 0;

	while (pc->in_len - off >= PROTO_HEADER_LEN) {
		uint8_t type, out[3 * AUTH_SCRAM_MSG_MAX];
		uint32_t len;
		struct proto_writer w;
		enum srvlogin_result r;

		if (proto_header_parse(pc->in + off, pc->in_len - off,
				       SRVLOGIN_MSG_MAX + 4, &type,
				       &len) != PROTO_OK) {
			passthru_host_failed(pc, "bad message from server",
					     false);
			return;
		}
		if (pc->in_len - off < (size_t)len + 1)
			break;
		proto_writer_init(&w, out, sizeof(out));
		r = srvlogin_feed(&pc->login, type,
				  pc->in + off + PROTO_HEADER_LEN, len - 4, &w);
		off += (size_t)len + 1;
		if (r == SRVLOGIN_FAIL) {
			snprintf(pc->error, sizeof(pc->error),
				 "SCRAM pass-through login failed: %.180s (%s)",
				 pc->login.error, pc->login.sqlstate);
			passthru_host_failed(pc, pc->error, false);
			return;
		}
		if (w.overflow || !passthru_send(pc, out, w.len)) {
			passthru_host_failed(pc, "cannot write to server",
					     false);
			return;
		}
		if (r == SRVLOGIN_READY) {
			struct passthru_conn *c = pc->conn;
			if (off != pc->in_len) {
				passthru_host_failed(pc, "data after login",
						     false);
				return;
			}
			if (!passthru_suits(pc))
				return;
			c->pid = pc->login.pid;
			c->key = pc->login.key;
			c->params = pc->login.params;
			memset(&pc->login.params, 0, sizeof(pc->login.params));
			pc->conn = NULL;
			passthru_finish(pc, c, NULL);
			return;
		}
	}
	memmove(pc->in, pc->in + off, pc->in_len - off);
	pc->in_len -= off;
}

static void passthru_io_cb(evutil_socket_t fd, short what, void *arg);

/* The connect completed: send the StartupMessage. */
static void passthru_connected(struct passthru_connect *pc)
{
	uint8_t out[512];
	struct proto_writer w;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (getsockopt(pc->conn->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
	    err != 0) {
		snprintf(pc->error, sizeof(pc->error), "connect failed: %s",
			 strerror(err ? err : errno));
		passthru_host_failed(pc, pc->error, false);
		return;
	}
	pc->connected = true;
	proto_writer_init(&w, out, sizeof(out));
	srvlogin_startup(&w, pc->user, pc->dbname);
	if (w.overflow || !passthru_send(pc, out, w.len)) {
		passthru_host_failed(pc, "cannot send the startup packet",
				     false);
		return;
	}
	event_free(pc->ev);
	pc->ev = event_new(pc->base, pc->conn->fd, EV_READ | EV_PERSIST,
			   passthru_io_cb, pc);
	if (pc->ev == NULL || event_add(pc->ev, NULL) != 0)
		passthru_host_failed(pc, "cannot wait for the server", false);
}

static void passthru_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct passthru_connect *pc = arg;
	ssize_t r;

	(void)what;
	if (!pc->connected) {
		passthru_connected(pc);
		return;
	}
	r = read(fd, pc->in + pc->in_len, sizeof(pc->in) - pc->in_len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		passthru_host_failed(pc,
				     r == 0 ? "server closed the "
					      "connection during login"
					    : strerror(errno),
				     false);
		return;
	}
	pc->in_len += (size_t)r;
	passthru_consume(pc);
}

/* Opens a non-blocking socket to addr and waits for the connect. */
static void passthru_connect_addr(struct passthru_connect *pc,
				  const struct sockaddr *addr, socklen_t len)
{
	struct passthru_conn *c = calloc(1, sizeof(*c));
	int fd;

	if (c == NULL) {
		passthru_host_failed(pc, "out of memory", false);
		return;
	}
	c->fd = -1;
	pc->conn = c;
	memcpy(&c->addr, addr, len);
	c->addr_len = len;
	srvlogin_init(&pc->login, pc->t.client_key, pc->t.server_key);
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		passthru_host_failed(pc, strerror(errno), false);
		return;
	}
	c->fd = fd;
	if (connect(fd, addr, len) != 0 && errno != EINPROGRESS) {
		snprintf(pc->error, sizeof(pc->error), "connect failed: %s",
			 strerror(errno));
		passthru_host_failed(pc, pc->error, false);
		return;
	}
	if (addr->sa_family != AF_UNIX)
		net_set_nodelay(fd);
	pc->ev = event_new(pc->base, fd, EV_WRITE, passthru_io_cb, pc);
	if (pc->ev == NULL || event_add(pc->ev, NULL) != 0)
		passthru_host_failed(pc, "cannot wait for the connect", false);
}

static void passthru_dns_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	struct passthru_connect *pc = arg;

	pc->dns_req = NULL;
	if (pc->done == NULL) { /* aborted */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		if (pc->in_dns_cb == 0) /* else the outer callback frees */
			free(pc);
		return;
	}
	pc->in_dns_cb++;
	if (err != 0 || res == NULL) {
		if (!pc->dns_timed_out) /* else the error says so already */
			snprintf(pc->error, sizeof(pc->error),
				 "could not resolve host name \"%.100s\": %s",
				 passthru_host(pc), evutil_gai_strerror(err));
		pc->dns_timed_out = false;
		passthru_host_failed(pc, pc->error, true);
	} else {
		passthru_connect_addr(pc, res->ai_addr, res->ai_addrlen);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	/* a lookup that ends at once (a numeric name) runs its callback
	 * inside this one: only the outermost may free pc */
	if (--pc->in_dns_cb == 0 && pc->done == NULL)
		free(pc); /* finished or aborted inside */
}

/* Tries host hl.cur, or the next one hostlist_next picks, with
 * connect_timeout_ms of its own: a unix-socket directory, a numeric
 * address, or a name to resolve. All tried: fail with the last host's
 * error. */
static void passthru_next_host(struct passthru_connect *pc)
{
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_protocol = IPPROTO_TCP};
	int ms = pc->t.cfg->connect_timeout_ms;
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};
	const char *name;

	if (!hostlist_next(&pc->hl)) {
		passthru_finish(pc, NULL,
				pc->error[0] ? pc->error : "no host to try");
		return;
	}
	if (evtimer_add(pc->timer, &tv) != 0) {
		passthru_finish(pc, NULL, "cannot arm the connect timer");
		return;
	}
	name = passthru_host(pc);
	if (name[0] == '/') {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		int k = snprintf(un.sun_path, sizeof(un.sun_path),
				 "%s/.s.PGSQL.%s", name, passthru_port(pc));
		if (k < 0 || (size_t)k >= sizeof(un.sun_path)) {
			passthru_host_failed(pc, "socket path too long", false);
			return;
		}
		passthru_connect_addr(pc, (struct sockaddr *)&un, sizeof(un));
		return;
	}
	/* the callback may run (and end the attempt) before this returns:
	 * pc is touched only when the lookup is still pending */
	struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(
	    pc->dns, name, passthru_port(pc), &hints, passthru_dns_cb, pc);
	if (req != NULL)
		pc->dns_req = req;
}

/* The first host is tried from the loop, so the callback never runs
 * before passthru_connect_start has returned. */
static void passthru_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct passthru_connect *pc = arg;

	(void)fd;
	(void)what;
	event_free(pc->ev);
	pc->ev = NULL;
	if (!hostlist_ports_ok(&pc->hl, pc->error, sizeof(pc->error))) {
		passthru_finish(pc, NULL, pc->error);
		return;
	}
	passthru_next_host(pc);
}

/* The host being tried had its time: the next one is tried. A lookup in
 * flight is cancelled; its callback goes on to the next host. */
static void passthru_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct passthru_connect *pc = arg;

	(void)fd;
	(void)what;
	snprintf(pc->error, sizeof(pc->error),
		 "timeout connecting to host \"%.100s\" port %s after %d ms",
		 passthru_host(pc), passthru_port(pc),
		 pc->t.cfg->connect_timeout_ms);
	if (pc->dns_req != NULL) {
		pc->dns_timed_out = true;
		evdns_getaddrinfo_cancel(pc->dns_req);
		return;
	}
	passthru_host_failed(pc, pc->error, true);
}

struct passthru_connect *passthru_connect_start(struct event_base *base,
						struct evdns_base *dns,
						const struct passthru_target *t,
						passthru_done_cb done,
						void *arg)
{
	struct passthru_connect *pc = calloc(1, sizeof(*pc));
	struct timeval now = {0, 0};

	if (pc == NULL)
		return NULL;
	pc->base = base;
	pc->dns = dns;
	pc->t = *t;
	config_hold(t->cfg);
	pc->done = done;
	pc->arg = arg;
	snprintf(pc->host, sizeof(pc->host), "%s", t->host);
	snprintf(pc->port, sizeof(pc->port), "%s", t->port);
	snprintf(pc->user, sizeof(pc->user), "%s", t->user);
	snprintf(pc->dbname, sizeof(pc->dbname), "%s", t->dbname);
	snprintf(pc->tsa, sizeof(pc->tsa), "%s",
		 t->target_session_attrs != NULL ? t->target_session_attrs
						 : "any");
	pc->t.host = pc->t.port = pc->t.user = pc->t.dbname = NULL;
	pc->t.target_session_attrs = NULL;
	backend_hosts_init(&pc->hl, pc->host, pc->port, pc->tsa,
			   t->shuffle_hosts);
	pc->timer = evtimer_new(base, passthru_timeout_cb, pc);
	pc->ev = evtimer_new(base, passthru_kick_cb, pc);
	if (pc->timer == NULL || pc->ev == NULL ||
	    evtimer_add(pc->ev, &now) != 0) {
		passthru_connect_abort(pc);
		return NULL;
	}
	return pc;
}
