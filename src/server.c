/* Server sessions: connect through the backend driver, relay backend output
 * to the linked client while reading only the headers (and the ReadyForQuery
 * and ParameterStatus bodies), decide at each ReadyForQuery whether the
 * server may return to the pool, and clean or close it when a client leaves
 * it in an unknown state. */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "log.h"
#include "net.h"
#include "relay.h"

#define SERVER_PARAM_BODY_MAX 1024 /* larger ParameterStatus: not tracked */

/* The parameters PostgreSQL reports at login (GUC_REPORT); libpq has no
 * call to list them, so they are asked for by name. */
static const char *const server_reported[] = {
    "server_version",
    "server_encoding",
    "client_encoding",
    "application_name",
    "default_transaction_read_only",
    "in_hot_standby",
    "is_superuser",
    "session_authorization",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "integer_datetimes",
    "standard_conforming_strings",
};

static const char *const server_state_names[] = {
    [SERVER_CONNECTING] = "connecting", [SERVER_IDLE] = "idle",
    [SERVER_ACTIVE] = "active",		[SERVER_RESETTING] = "resetting",
    [SERVER_CLOSED] = "closed",
};

/* The one place a server changes state: it moves the pool slot too. */
static void server_set_state(struct server *s, enum server_state st)
{
	static const enum pool_slot_state slot_of[] = {
	    [SERVER_CONNECTING] = POOL_SLOT_CONNECTING,
	    [SERVER_IDLE] = POOL_SLOT_IDLE,
	    [SERVER_ACTIVE] = POOL_SLOT_ACTIVE,
	    [SERVER_RESETTING] = POOL_SLOT_ACTIVE,
	    [SERVER_CLOSED] = POOL_SLOT_NONE,
	};

	log_debug("server state", LF_INT("backend_pid", s->backend_pid),
		  LF_STR("from", server_state_names[s->state]),
		  LF_STR("to", server_state_names[st]));
	if (slot_of[st] != s->slot.state || st == SERVER_IDLE)
		pool_slot_set(&s->w->pool, &s->slot, slot_of[st],
			      worker_now_ms());
	s->state = st;
}

/* A clean server goes back to the pool and the waiters get their turn;
 * during shutdown it is closed instead. */
static void server_become_idle(struct server *s)
{
	if (s->w->shutting_down) {
		server_close(s, NULL);
		return;
	}
	server_set_state(s, SERVER_IDLE);
	s->w->dispatch(s->w);
}

static void server_read_cb(struct bufferevent *bev, void *arg);
static void server_write_cb(struct bufferevent *bev, void *arg);
static void server_event_cb(struct bufferevent *bev, short what, void *arg);

/* Wraps the connected socket (and libpq's SSL object, keeping libpq's BIO)
 * in a bufferevent that never closes either: PQfinish does. */
static int server_attach(struct server *s)
{
	struct event_base *base = s->w->base;
	int fd = PQsocket(s->conn);
	SSL *ssl = PQsslInUse(s->conn) ? PQsslStruct(s->conn, "OpenSSL") : NULL;

	if (ssl != NULL)
		s->bev = bufferevent_openssl_socket_new(
		    base, fd, ssl, BUFFEREVENT_SSL_OPEN, 0);
	else
		s->bev = bufferevent_socket_new(base, fd, 0);
	if (s->bev == NULL)
		return -1;
	net_set_nodelay(fd);
	bufferevent_setcb(s->bev, server_read_cb, server_write_cb,
			  server_event_cb, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, RELAY_LOW_WATER, 0);
	return bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* Snapshot of the login parameters; from here on ParameterStatus messages
 * in the stream keep it current (PQparameterStatus goes stale). */
static void server_snapshot_params(struct server *s)
{
	struct worker *w = s->w;

	for (size_t i = 0;
	     i < sizeof(server_reported) / sizeof(server_reported[0]); i++) {
		const char *v = PQparameterStatus(s->conn, server_reported[i]);
		if (v != NULL && !params_set(&s->params, server_reported[i], v))
			log_warn("out of memory recording server parameters",
				 LF_INT("backend_pid", s->backend_pid));
	}
	w->have_params = params_copy(&w->params, &s->params);
}

static void server_connected_cb(PGconn *conn, const char *error, void *arg)
{
	struct server *s = arg;
	struct worker *w = s->w;

	s->connecting = NULL;
	pool_connect_done(&w->pool, conn != NULL, worker_now_ms());
	if (conn == NULL) {
		snprintf(w->last_connect_error, sizeof(w->last_connect_error),
			 "%s", error);
		log_warn("server connect failed", LF_STR("pool", w->pool.name),
			 LF_STR("reason", error),
			 LF_INT("retry_in_ms", w->pool.backoff_ms));
		server_close(s, NULL);
		return;
	}
	s->conn = conn;
	s->backend_pid = PQbackendPID(conn);
	s->xact = 'I';
	if (server_attach(s) != 0) {
		log_error("cannot relay server connection",
			  LF_STR("pool", w->pool.name),
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	server_snapshot_params(s);
	log_debug("server connected", LF_STR("pool", w->pool.name),
		  LF_INT("backend_pid", s->backend_pid));
	server_become_idle(s);
}

struct server *server_connect(struct worker *w)
{
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->w = w;
	TAILQ_INSERT_TAIL(&w->servers, s, link);
	pool_slot_set(&w->pool, &s->slot, POOL_SLOT_CONNECTING,
		      worker_now_ms());
	s->state = SERVER_CONNECTING;
	s->connecting = backend_connect_start(w->base, w->dns, w->cfg,
					      server_connected_cb, s);
	if (s->connecting == NULL) {
		server_close(s, NULL);
		return NULL;
	}
	return s;
}

void server_link(struct server *s, struct bufferevent *peer_bev,
		 const struct server_peer_ops *ops, void *peer)
{
	assert(s->state == SERVER_IDLE || s->slot.state == POOL_SLOT_ACTIVE);
	s->peer_bev = peer_bev;
	s->peer_ops = ops;
	s->peer = peer;
	server_set_state(s, SERVER_ACTIVE);
}

/* Whether nothing is in flight between the client and the backend. */
static bool server_at_boundary(const struct server *s)
{
	return s->pending_ready == 0 && !s->ext_open && s->out_skip == 0 &&
	       s->in_skip == 0 && s->cancels == 0;
}

bool server_at_rest(const struct server *s)
{
	return s->xact == 'I' && server_at_boundary(s);
}

static bool server_may_release(const struct server *s)
{
	return s->state == SERVER_ACTIVE &&
	       (s->w->mode->release_at_idle || s->w->shutting_down) &&
	       s->xact == 'I' && server_at_boundary(s);
}

/* Returns the server to the pool at a transaction boundary and tells the
 * client, which no longer has a server. */
static void server_release(struct server *s)
{
	const struct server_peer_ops *ops = s->peer_ops;
	void *peer = s->peer;

	s->peer_bev = NULL;
	s->peer_ops = NULL;
	s->peer = NULL;
	if (s->w->mode->release_at_idle)
		server_become_idle(s);
	else
		server_close(s, NULL); /* session mode, shutting down */
	ops->released(peer);
}

static void server_track_param(struct server *s, struct evbuffer *in,
			       const struct relay_cursor *cur, uint32_t len)
{
	uint8_t body[SERVER_PARAM_BODY_MAX];
	size_t n = relay_copy_body(in, cur, len, body, sizeof(body));
	size_t name_off, value_off;

	if (n != len - 4 || proto_parameter_status_parse(
				body, n, &name_off, &value_off) != PROTO_OK)
		return;
	if (!params_set(&s->params, (const char *)body + name_off,
			(const char *)body + value_off))
		log_warn("out of memory recording server parameters",
			 LF_INT("backend_pid", s->backend_pid));
}

/* Handles one ReadyForQuery; true when the scan must stop there because
 * the server changes hands or finished resetting. */
static bool server_ready(struct server *s, uint8_t status)
{
	s->xact = status;
	switch (s->state) {
	case SERVER_ACTIVE:
		if (s->pending_ready > 0)
			s->pending_ready--;
		if (status == 'I')
			s->w->pool.stats.xacts_total++;
		return server_may_release(s);
	case SERVER_RESETTING:
		if (s->reset_pending > 0)
			s->reset_pending--;
		return s->reset_pending == 0;
	default:
		return false;
	}
}

/* Inspects a whole message the relay must read. Returns true to stop. */
static bool server_inspect(struct server *s, struct evbuffer *in,
			   const struct relay_cursor *cur, uint8_t type,
			   uint32_t len)
{
	uint8_t status = 0;

	switch (type) {
	case 'Z':
		relay_copy_body(in, cur, len, &status, 1);
		return server_ready(s, status);
	case 'S':
		server_track_param(s, in, cur, len);
		return false;
	case 'E':
		s->reset_failed = true; /* only inspected when not linked */
		return s->state == SERVER_IDLE;
	default:
		return false;
	}
}

/* What to do after the scan stopped at a message. */
static void server_after_stop(struct server *s)
{
	switch (s->state) {
	case SERVER_ACTIVE:
		server_release(s);
		break;
	case SERVER_RESETTING:
		if (s->reset_failed || s->xact != 'I')
			server_close(s, "reset failed");
		else
			server_become_idle(s);
		break;
	case SERVER_IDLE:
		log_warn("server sent an error while idle",
			 LF_STR("pool", s->w->pool.name),
			 LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		break;
	default:
		break;
	}
}

/* Relays what the backend sent: to the linked client, or nowhere when the
 * server is idle or resetting. Headers are peeked; bodies move by chain. */
static void server_relay(struct server *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t avail = evbuffer_get_length(in);
	struct relay_cursor cur;
	bool stop = false;

	relay_cursor_init(&cur, in);
	while (!stop && cur.pos < avail) {
		uint8_t type;
		uint32_t len;

		if (s->in_skip > 0) {
			size_t n = avail - cur.pos < s->in_skip
				       ? avail - cur.pos
				       : s->in_skip;
			relay_cursor_advance(&cur, in, n);
			s->in_skip -= (uint32_t)n;
			continue;
		}
		enum proto_status st = relay_peek(in, &cur, &type, &len);
		if (st == PROTO_NEED_MORE)
			break;
		if (st == PROTO_BAD) {
			server_close(s, "invalid message length from server");
			return;
		}
		bool inspect = type == 'Z' || type == 'S' ||
			       (type == 'E' && s->state != SERVER_ACTIVE);
		if (!inspect) {
			relay_cursor_advance(&cur, in, PROTO_HEADER_LEN);
			s->in_skip = len - 4;
			continue;
		}
		if (avail - cur.pos < (size_t)len + 1)
			break;
		stop = server_inspect(s, in, &cur, type, len);
		relay_cursor_advance(&cur, in, (size_t)len + 1);
	}
	if (s->state == SERVER_ACTIVE && cur.pos > 0) {
		struct evbuffer *out = bufferevent_get_output(s->peer_bev);
		evbuffer_remove_buffer(in, out, cur.pos);
		s->w->pool.stats.bytes_out += cur.pos;
		if (evbuffer_get_length(out) > RELAY_HIGH_WATER)
			server_pause(s, true);
	} else {
		evbuffer_drain(in, cur.pos);
	}
	if (stop)
		server_after_stop(s);
}

static void server_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	server_relay(arg);
}

static void server_write_cb(struct bufferevent *bev, void *arg)
{
	struct server *s = arg;

	(void)bev;
	if (s->peer_ops != NULL)
		s->peer_ops->drained(s->peer);
}

static void server_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct server *s = arg;
	char reason[160];

	(void)bev;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (what & BEV_EVENT_EOF)
		snprintf(reason, sizeof(reason),
			 "server closed the connection");
	else
		snprintf(reason, sizeof(reason), "%s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (s->state == SERVER_ACTIVE) {
		s->w->pool.stats.server_errors++;
		log_error("server lost", LF_STR("pool", s->w->pool.name),
			  LF_INT("backend_pid", s->backend_pid),
			  LF_STR("reason", reason));
	} else {
		log_warn("server closed", LF_STR("pool", s->w->pool.name),
			 LF_INT("backend_pid", s->backend_pid),
			 LF_STR("state", server_state_names[s->state]),
			 LF_STR("reason", reason));
	}
	server_close(s, reason);
}

enum server_forward_result server_forward(struct server *s,
					  struct evbuffer *src)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t avail = evbuffer_get_length(src);
	enum server_forward_result res = FORWARD_OK;
	struct relay_cursor cur;

	relay_cursor_init(&cur, src);
	while (cur.pos < avail) {
		uint8_t type;
		uint32_t len;

		if (s->out_skip > 0) {
			size_t n = avail - cur.pos < s->out_skip
				       ? avail - cur.pos
				       : s->out_skip;
			relay_cursor_advance(&cur, src, n);
			s->out_skip -= (uint32_t)n;
			continue;
		}
		enum proto_status st = relay_peek(src, &cur, &type, &len);
		if (st != PROTO_OK) {
			res = st == PROTO_BAD ? FORWARD_BAD : FORWARD_OK;
			break;
		}
		if (type == 'X') {
			res = FORWARD_TERMINATE;
			break;
		}
		switch (type) {
		case 'S':
			s->ext_open = false;
			/* fall through */
		case 'Q':
		case 'F':
			s->pending_ready++;
			s->w->pool.stats.queries_total++;
			break;
		case 'P':
		case 'B':
		case 'E':
		case 'D':
		case 'C':
		case 'H':
			s->ext_open = true;
			break;
		default:
			break;
		}
		relay_cursor_advance(&cur, src, PROTO_HEADER_LEN);
		s->out_skip = len - 4;
	}
	if (cur.pos > 0) {
		evbuffer_remove_buffer(src, out, cur.pos);
		s->w->pool.stats.bytes_in += cur.pos;
	}
	if (evbuffer_get_length(out) > RELAY_HIGH_WATER && s->peer_bev)
		bufferevent_disable(s->peer_bev, EV_READ);
	return res;
}

/* Sends one simple query the server runs on its own (no client linked). */
static void server_send_query(struct server *s, const char *sql)
{
	uint8_t buf[256];
	struct proto_writer wr;

	proto_writer_init(&wr, buf, sizeof(buf));
	proto_write_query(&wr, sql);
	if (!wr.overflow &&
	    evbuffer_add(bufferevent_get_output(s->bev), buf, wr.len) == 0)
		s->reset_pending++;
	else
		s->reset_failed = true;
}

void server_unlink(struct server *s)
{
	const char *reset = s->w->mode->reset_sql;

	s->peer_bev = NULL;
	s->peer_ops = NULL;
	s->peer = NULL;
	if (s->w->shutting_down || !server_at_boundary(s)) {
		/* A query still runs or a message is half sent: the server
		 * cannot be brought to a known state cheaply. */
		log_debug("closing server left mid-request",
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	if (s->xact == 'I' && reset == NULL) {
		server_become_idle(s);
		return;
	}
	s->reset_pending = 0;
	s->reset_failed = false;
	server_set_state(s, SERVER_RESETTING);
	if (s->xact != 'I')
		server_send_query(s, "ROLLBACK");
	if (reset != NULL)
		server_send_query(s, reset);
	if (s->reset_failed)
		server_close(s, "cannot send reset query");
}

static void server_cancel_done(void *arg)
{
	struct server *s = arg;

	s->cancels--;
	if (s->state == SERVER_CLOSED)
		event_active(s->w->reap_ev, EV_TIMEOUT, 1);
	else if (server_may_release(s))
		server_release(s);
}

void server_cancel(struct server *s)
{
	PGcancel *pc;

	if (s->conn == NULL || (pc = PQgetCancel(s->conn)) == NULL)
		return;
	s->cancels++;
	if (cancel_submit(s->w->cancels, pc, server_cancel_done, s) != 0)
		s->cancels--;
}

void server_close(struct server *s, const char *reason)
{
	struct worker *w = s->w;
	const struct server_peer_ops *ops = s->peer_ops;
	void *peer = s->peer;

	if (s->state == SERVER_CLOSED)
		return;
	backend_connect_abort(s->connecting);
	s->connecting = NULL;
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->peer_ops = NULL;
	s->peer = NULL;
	s->peer_bev = NULL;
	server_set_state(s, SERVER_CLOSED);
	TAILQ_REMOVE(&w->servers, s, link);
	TAILQ_INSERT_TAIL(&w->dead_servers, s, link);
	event_active(w->reap_ev, EV_TIMEOUT, 1);
	if (ops != NULL)
		ops->lost(peer, reason ? reason : "server closed");
}

bool server_free(struct server *s)
{
	if (s->cancels > 0)
		return false;
	if (s->conn != NULL)
		PQfinish(s->conn); /* sends Terminate, closes socket and SSL */
	params_clear(&s->params);
	free(s);
	return true;
}

void server_pause(struct server *s, bool pause)
{
	if (s->bev == NULL)
		return;
	if (pause)
		bufferevent_disable(s->bev, EV_READ);
	else
		bufferevent_enable(s->bev, EV_READ);
}
