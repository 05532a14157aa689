/* Client sessions: startup packet, trust login, the request/wait/link cycle
 * the pool mode prescribes, the wait timeout, cancel routing and the single
 * disconnect path that sends a FATAL ErrorResponse with a SQLSTATE. */
#include "client.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "authquery.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "peer.h"
#include "proto.h"
#include "relay.h"
#include "route.h"
#include "server.h"
#include "tls.h"
#include "txn.h"

#define CLIENT_CLOSE_FLUSH_S 5	  /* how long a final error may take */
#define CLIENT_MSG_BUF	     8192 /* messages pitlane writes itself */
#define CLIENT_AUTH_MSG_MAX  4096 /* largest password message accepted */

#define client_of_waiter(wt)                                                   \
	((struct client *)((char *)(wt)-offsetof(struct client, waiter)))
#define server_of_slot(sl)                                                     \
	((struct server *)((char *)(sl)-offsetof(struct server, slot)))

static const struct mode_ops mode_session = {
    .name = "session",
    .server_at_login = true,
    .reset_on_unlink = true,
};

static const struct mode_ops mode_transaction = {
    .name = "transaction",
    .release_at_idle = true,
    .track_statements = true,
};

static const struct mode_ops mode_statement = {
    .name = "statement",
    .release_at_idle = true,
    .track_statements = true,
    .single_statement = true,
};

static const char *const client_state_names[] = {
    [CLIENT_STARTUP] = "startup", [CLIENT_AUTH] = "auth",
    [CLIENT_LOGIN] = "login",	  [CLIENT_IDLE] = "idle",
    [CLIENT_WAITING] = "waiting", [CLIENT_ACTIVE] = "active",
    [CLIENT_CONSOLE] = "console", [CLIENT_MOVING] = "moving",
    [CLIENT_CLOSING] = "closing",
};

const struct mode_ops *client_mode_ops(enum pool_mode mode)
{
	switch (mode) {
	case POOL_MODE_SESSION:
		return &mode_session;
	case POOL_MODE_STATEMENT:
		return &mode_statement;
	default:
		return &mode_transaction;
	}
}

static void client_set_state(struct client *c, enum client_state st)
{
	log_debug("client state", LF_STR("client", c->addr),
		  LF_STR("from", client_state_names[c->state]),
		  LF_STR("to", client_state_names[st]));
	c->state = st;
}

static void client_request(struct client *c);
static void client_forward(struct client *c);

/* Sets the client's names in one block sized to them (an idle client
 * should not carry 240 bytes of fixed arrays), each cut as before: 63
 * bytes, 47 for ip. The arguments may point into the old block. false
 * when out of memory (the names are unchanged). */
static bool client_set_names(struct client *c, const char *addr, const char *ip,
			     const char *user, const char *db)
{
	const char *src[4] = {addr, ip, user, db};
	const size_t cap[4] = {63, 47, 63, 63};
	size_t len[4], total = 0;
	char *b;

	for (int i = 0; i < 4; i++) {
		len[i] = strnlen(src[i], cap[i]);
		total += len[i] + 1;
	}
	b = malloc(total);
	if (b == NULL)
		return false;
	const char **dst[4] = {&c->addr, &c->ip, &c->user, &c->db};
	char *p = b;
	for (int i = 0; i < 4; i++) {
		memcpy(p, src[i], len[i]);
		p[len[i]] = '\0';
		*dst[i] = p;
		p += len[i] + 1;
	}
	free(c->name_block);
	c->name_block = b;
	return true;
}

/* Queues bytes pitlane writes itself and sends them. */
static void client_write(struct client *c, const void *p, size_t n)
{
	buf_add(io_output(c->io), p, n);
	io_flush(c->io);
}
static void client_disconnect(struct client *c, const char *sqlstate,
			      const char *message, const char *detail);

/* Writes an ErrorResponse (and, when ready is set, ReadyForQuery 'I'). */
static void client_send_error(struct client *c, const char *severity,
			      const char *sqlstate, const char *message,
			      const char *detail, bool ready)
{
	uint8_t buf[CLIENT_MSG_BUF];
	struct proto_writer wr;

	proto_writer_init(&wr, buf, sizeof(buf));
	proto_write_error(&wr, severity, sqlstate, message, detail);
	if (ready)
		proto_write_ready(&wr, 'I');
	if (!wr.overflow)
		client_write(c, buf, wr.len);
}

static void client_send_ready(struct client *c)
{
	static const uint8_t ready_idle[] = {'Z', 0, 0, 0, 5, 'I'};

	client_write(c, ready_idle, sizeof(ready_idle));
}

/* AuthenticationOk, one ParameterStatus per parameter the server reports
 * (its value in `values` when there, else the pool's), pitlane's
 * BackendKeyData and ReadyForQuery: the end of a successful login. */
static void client_send_welcome(struct client *c, const struct params *values)
{
	const struct params *base = &c->pool->params;
	uint8_t buf[CLIENT_MSG_BUF];
	struct proto_writer wr;

	proto_writer_init(&wr, buf, sizeof(buf));
	proto_write_auth_ok(&wr);
	for (unsigned i = 0; i < base->n; i++) {
		const char *v = params_get(values, base->name[i]);
		proto_write_parameter_status(&wr, base->name[i],
					     v != NULL ? v : base->value[i]);
	}
	proto_write_backend_key(&wr, c->key_pid, c->key_secret);
	proto_write_ready(&wr, 'I');
	if (wr.overflow) {
		client_disconnect(c, "54000", "server parameters too large",
				  NULL);
		return;
	}
	client_write(c, buf, wr.len);
	log_debug("client logged in", LF_STR("client", c->addr),
		  LF_INT("key_pid", c->key_pid));
}

/* The counters a client's events go to: its pool's, or the default
 * pool's before it has one (login failures, cancel requests). */
static struct metrics_counters *client_stats(const struct client *c)
{
	struct dbpool *p = c->pool != NULL ? c->pool : dbpool_default(c->w);

	return &p->pool.stats;
}

static void client_close_timeout_cb(evutil_socket_t fd, short what, void *arg);
static const struct io_ops client_io_ops;

static void client_bury(struct client *c)
{
	struct worker *w = c->w;

	if (c->buried)
		return;
	c->buried = true;
	io_detach(c->io);
	if (c->login_timer != NULL)
		event_free(c->login_timer);
	c->login_timer = NULL;
	TAILQ_REMOVE(&w->clients, c, link);
	TAILQ_INSERT_TAIL(&w->dead_clients, c, link);
	event_active(w->reap_ev, EV_TIMEOUT, 1);
}

/* The single way out for a client: optional FATAL error, the server given
 * back (cleaned or closed by server_unlink), then a deferred free once the
 * error has been flushed. */
static void client_disconnect(struct client *c, const char *sqlstate,
			      const char *message, const char *detail)
{
	struct worker *w = c->w;
	struct server *s = c->server;

	if (c->state == CLIENT_CLOSING)
		return;
	if (sqlstate != NULL && c->state < CLIENT_IDLE)
		client_stats(c)
		    ->login_failures[metrics_login_failure_of(sqlstate)]++;
	if (sqlstate != NULL) {
		client_send_error(c, "FATAL", sqlstate, message, detail, false);
		log_info("client refused", LF_STR("client", c->addr),
			 LF_STR("sqlstate", sqlstate),
			 LF_STR("message", message));
	}
	if (c->pool != NULL)
		pool_wait_remove(&c->pool->pool, &c->waiter);
	if (s != NULL) {
		c->server = NULL;
		w->clients_active--;
		server_unlink(s);
	}
	if (c->login_timer != NULL)
		event_free(c->login_timer);
	c->login_timer = NULL;
	client_set_state(c, CLIENT_CLOSING);
	io_read(c->io, false);
	io_flush(c->io);
	if (io_unsent(c->io) == 0) {
		client_bury(c);
		return;
	}
	/* The final error drains through drained(); the timer bounds it. */
	struct timeval tv = {.tv_sec = CLIENT_CLOSE_FLUSH_S};
	io_set_low_water(c->io, 0);
	c->login_timer = evtimer_new(w->base, client_close_timeout_cb, c);
	if (c->login_timer == NULL || evtimer_add(c->login_timer, &tv) != 0)
		client_bury(c);
}

static void client_failf(struct client *c, const char *sqlstate,
			 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void client_failf(struct client *c, const char *sqlstate,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_disconnect(c, sqlstate, msg, NULL);
}

/* Server callbacks. */

static void client_server_released(void *peer)
{
	struct client *c = peer;

	c->server = NULL;
	c->w->clients_active--;
	if (c->w->shutting_down) {
		client_disconnect(c, "57P01",
				  "terminating connection due to administrator "
				  "command",
				  NULL);
		return;
	}
	client_set_state(c, CLIENT_IDLE);
	client_request(c);
}

static void client_server_lost(void *peer, const char *reason, bool told)
{
	struct client *c = peer;
	char detail[256];

	c->server = NULL;
	c->w->clients_active--;
	if (told) {
		/* The backend's FATAL (57P01 from pg_terminate_backend, ...)
		 * is the client's error, as on a direct connection. */
		client_disconnect(c, NULL, NULL, NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "%s", reason);
	client_disconnect(c, "08006", "server connection lost", detail);
}

static void client_server_drained(void *peer)
{
	struct client *c = peer;

	if (c->state == CLIENT_ACTIVE)
		io_read(c->io, true);
}

/* A cancel has landed: send what was held back meanwhile. */
static void client_server_resumed(void *peer)
{
	struct client *c = peer;

	if (c->state == CLIENT_ACTIVE)
		client_forward(c);
}

static void client_login_done(struct client *c);

static void client_server_synced(void *ctx)
{
	struct client *c = ctx;

	if (c->state == CLIENT_LOGIN)
		client_login_done(c);
}

static void client_server_refused(void *ctx, const char *sqlstate,
				  const char *message)
{
	client_disconnect(ctx, sqlstate, message, NULL);
}

static const struct server_peer_ops client_server_ops = {
    .released = client_server_released,
    .lost = client_server_lost,
    .drained = client_server_drained,
    .resumed = client_server_resumed,
    .synced = client_server_synced,
    .refused = client_server_refused,
};

/* A message longer than max_packet_size: refused from its header, never
 * buffered. */
static void client_too_big(struct client *c)
{
	client_failf(c, "08P01", "message exceeds max_packet_size (%ld bytes)",
		     c->w->cfg->max_packet_size);
}

/* Sends what the client has buffered to its server. */
static void client_forward(struct client *c)
{
	struct buf *in = io_input(c->io);

	switch (txn_forward(c->server, in)) {
	case FORWARD_OK:
		break;
	case FORWARD_TERMINATE:
		buf_drain(in, buf_len(in));
		client_disconnect(c, NULL, NULL, NULL);
		break;
	case FORWARD_BAD:
		client_disconnect(c, "08P01", "invalid message", NULL);
		break;
	case FORWARD_TOO_BIG:
		client_too_big(c);
		break;
	case FORWARD_NOMEM:
		client_disconnect(c, "53200", "out of memory", NULL);
		break;
	}
}

/* Fixes the client's startup set: its parameters as they are now, shared
 * with the clients that logged in alike. */
static bool client_set_startup(struct client *c)
{
	struct params_shared *sh = params_share(&c->want);

	if (sh == NULL)
		return false;
	params_unshare(c->startup);
	c->startup = sh;
	return true;
}

/* Ends a login that needed a server: the server now holds the client's
 * parameters as PostgreSQL normalised them, which the client is told and
 * keeps as its startup state. */
static void client_login_done(struct client *c)
{
	struct worker *w = c->w;
	struct dbpool *p = c->pool;
	struct server *s = c->server;

	for (unsigned i = 0; i < c->want.n; i++) {
		const char *v = params_get(&s->params, c->want.name[i]);
		if (v != NULL && params_get(&p->params, c->want.name[i]) &&
		    !params_set(&c->want, c->want.name[i], v)) {
			client_disconnect(c, "53200", "out of memory", NULL);
			return;
		}
	}
	if (!client_set_startup(c)) {
		client_disconnect(c, "53200", "out of memory", NULL);
		return;
	}
	s->peer.startup = params_shared_get(c->startup);
	client_send_welcome(c, &s->params);
	if (c->state == CLIENT_CLOSING)
		return;
	p->pool.stats.logins++;
	if (!p->mode->server_at_login) {
		/* The server was needed for the login only. */
		c->server = NULL;
		w->clients_active--;
		server_unlink(s);
		client_set_state(c, CLIENT_IDLE);
		client_request(c);
		return;
	}
	client_set_state(c, CLIENT_ACTIVE);
	io_read(c->io, true);
	client_forward(c);
}

/* Links a server taken from the pool to this client; its parameters are
 * applied first. */
static void client_attach(struct client *c, struct server *s)
{
	struct worker *w = c->w;
	struct dbpool *p = c->pool;
	struct server_peer peer = {
	    .io = c->io,
	    .ops = &client_server_ops,
	    .ctx = c,
	    .names =
		p->mode->track_statements && w->cfg->max_prepared_statements > 0
		    ? &c->names
		    : NULL,
	    .want = &c->want,
	    .startup = params_shared_get(c->startup),
	};
	bool syncing;

	metrics_record_wait(
	    &p->pool.stats, &p->pool.hist,
	    metrics_elapsed_us(c->wait_since_us, worker_now_us(w)));
	c->server = s;
	w->clients_active++;
	server_link(s, &peer);
	syncing = txn_sync_params(s);
	if (c->state == CLIENT_LOGIN) {
		if (!syncing)
			client_login_done(c);
		return;
	}
	client_set_state(c, CLIENT_ACTIVE);
	io_read(c->io, true);
	client_forward(c);
}

/* The newest idle server that is fit for use: stale ones run
 * server_check_query first and come back through dispatch. */
static struct server *client_take_idle(struct dbpool *p)
{
	struct pool_slot *slot;

	while ((slot = pool_checkout(&p->pool, worker_now_ms())) != NULL) {
		struct server *s = server_of_slot(slot);
		if (!server_check_if_stale(s))
			return s;
	}
	return NULL;
}

/* Takes an idle server, or queues the client behind earlier waiters. */
static void client_acquire(struct client *c)
{
	struct worker *w = c->w;
	struct server *s = NULL;

	c->wait_since_us = worker_now_us(w);
	if (c->pool->pool.nwaiting == 0)
		s = client_take_idle(c->pool);
	if (s != NULL) {
		client_attach(c, s);
		return;
	}
	pool_wait_push(&c->pool->pool, &c->waiter, worker_now_ms());
	w->maintain(w);
}

void client_dispatch(struct dbpool *p)
{
	struct pool_waiter *wt;

	if (p->dispatching) {
		p->dispatch_again = true;
		return;
	}
	p->dispatching = true;
	do {
		p->dispatch_again = false;
		while ((wt = pool_wait_first(&p->pool)) != NULL &&
		       p->pool.count[POOL_SLOT_IDLE] > 0) {
			struct server *s = client_take_idle(p);

			if (s == NULL)
				break;
			pool_wait_remove(&p->pool, wt);
			client_attach(client_of_waiter(wt), s);
		}
	} while (p->dispatch_again);
	p->dispatching = false;
}

/* Drops buffered messages up to and including the next Sync. Returns true
 * when the Sync was found. */
static bool client_skip_to_sync(struct client *c)
{
	struct buf *in = io_input(c->io);
	struct relay_cursor cur;
	bool found = false;
	uint8_t type;
	uint32_t len;

	relay_cursor_init(&cur);
	while (!found && relay_peek(in, &cur, &type, &len) == PROTO_OK &&
	       buf_len(in) - cur.pos >= (size_t)len + 1) {
		found = type == 'S';
		relay_cursor_advance(&cur, (size_t)len + 1);
	}
	buf_drain(in, cur.pos);
	return found;
}

/* The body of the message at off in a pulled-up batch. */
static const char *client_msg_body(const uint8_t *b, size_t off, uint32_t *len)
{
	*len = (uint32_t)b[off + 1] << 24 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 8 | b[off + 4];
	return (const char *)b + off + PROTO_HEADER_LEN;
}

/* Whether every message of the batch can be answered without a server. */
static bool client_batch_known(struct client *c, const uint8_t *b, size_t n)
{
	for (size_t off = 0; off < n;) {
		uint32_t len;
		const char *body = client_msg_body(b, off, &len);
		size_t blen = len - 4, nlen = strnlen(body, blen);

		if (b[off] == 'P') {
			struct stmt *st;
			bool ok;

			if (nlen == 0 || nlen == blen)
				return false;
			st = txn_intern(c->w, (const uint8_t *)body + nlen + 1,
					blen - nlen - 1, &c->want);
			if (st == NULL)
				return false;
			ok = st->valid;
			stmt_unref(c->w->stmts, st);
			if (!ok)
				return false;
		} else if (b[off] == 'C' &&
			   (blen < 2 || body[0] != 'S' ||
			    strnlen(body + 1, blen - 1) == blen - 1)) {
			return false;
		}
		off += (size_t)len + 1;
	}
	return true;
}

/* Answers a batch client_batch_known accepted. */
static void client_batch_apply(struct client *c, const uint8_t *b, size_t n)
{
	static const uint8_t parse_complete[] = {'1', 0, 0, 0, 4};
	static const uint8_t close_complete[] = {'3', 0, 0, 0, 4};
	struct buf *out = io_output(c->io);

	for (size_t off = 0; off < n;) {
		uint32_t len;
		const char *body = client_msg_body(b, off, &len);
		size_t nlen = strlen(body);

		if (b[off] == 'P') {
			struct stmt *st =
			    txn_intern(c->w, (const uint8_t *)body + nlen + 1,
				       len - 4 - nlen - 1, &c->want);
			if (st == NULL ||
			    !stmt_names_set(&c->names, c->w->stmts, body, st)) {
				if (st != NULL)
					stmt_unref(c->w->stmts, st);
				client_disconnect(c, "53200", "out of memory",
						  NULL);
				return;
			}
			stmt_unref(c->w->stmts, st);
			buf_add(out, parse_complete, 5);
		} else if (b[off] == 'C') {
			stmt_names_remove(&c->names, c->w->stmts, body + 1);
			buf_add(out, close_complete, 5);
		} else {
			client_send_ready(c);
		}
		off += (size_t)len + 1;
	}
}

/* A batch made only of Parse messages for statements some server has
 * already prepared without error, Close of statements, and a final Sync
 * needs no server: pitlane answers it as PostgreSQL would. Drivers prepare
 * synchronously (pgbench, libpq's PQprepare), so this also keeps a client
 * from waiting for a server just to learn its statement is ready. Returns
 * true when the batch at the head of the input was answered. */
static bool client_answer_locally(struct client *c)
{
	struct buf *in = io_input(c->io);
	struct relay_cursor cur;
	uint8_t type = 0;
	uint32_t len;

	if (!c->pool->mode->track_statements ||
	    c->w->cfg->max_prepared_statements == 0)
		return false;
	relay_cursor_init(&cur);
	while (type != 'S') {
		if (relay_peek(in, &cur, &type, &len) != PROTO_OK ||
		    buf_len(in) - cur.pos < (size_t)len + 1 ||
		    (type != 'P' && type != 'C' && type != 'S') ||
		    len > RELAY_HIGH_WATER)
			return false;
		relay_cursor_advance(&cur, (size_t)len + 1);
	}
	uint8_t *batch = buf_pullup(in, (size_t)cur.pos);
	if (batch == NULL || !client_batch_known(c, batch, cur.pos))
		return false;
	client_batch_apply(c, batch, cur.pos);
	buf_drain(in, cur.pos);
	return c->state != CLIENT_CLOSING;
}

/* A logged-in client without a server has input: see what it wants. */
static void client_request(struct client *c)
{
	struct buf *in = io_input(c->io);
	uint8_t type;
	uint32_t len;
	struct relay_cursor cur;

	if (c->discard_until_sync) {
		if (!client_skip_to_sync(c))
			return;
		c->discard_until_sync = false;
		client_send_ready(c);
	}
	if (c->state == CLIENT_IDLE && c->w->handoff != NULL &&
	    c->w->handoff(c))
		return;
	if (buf_len(in) == 0)
		return;
	relay_cursor_init(&cur);
	switch (relay_peek(in, &cur, &type, &len)) {
	case PROTO_BAD:
		client_disconnect(c, "08P01", "invalid message length", NULL);
		return;
	case PROTO_NEED_MORE:
		return;
	case PROTO_OK:
		break;
	}
	if (type == 'X') {
		client_disconnect(c, NULL, NULL, NULL);
		return;
	}
	if ((long)len + 1 > c->w->cfg->max_packet_size) {
		client_too_big(c);
		return;
	}
	if (client_answer_locally(c)) {
		client_request(c);
		return;
	}
	client_set_state(c, CLIENT_WAITING);
	client_acquire(c);
}

/* Refuses the request at the head of the input after a wait timeout,
 * without ending the session: a simple query or function call is dropped;
 * an extended-protocol batch is skipped up to its Sync, as PostgreSQL skips
 * after an error, and ReadyForQuery answers that Sync. */
static void client_refuse_request(struct client *c, const char *msg,
				  const char *detail)
{
	struct buf *in = io_input(c->io);
	struct relay_cursor cur;
	uint8_t type = 0;
	uint32_t len = 0;

	relay_cursor_init(&cur);
	if (relay_peek(in, &cur, &type, &len) != PROTO_OK ||
	    buf_len(in) < (size_t)len + 1) {
		/* Not even one whole message: nothing sane to skip. */
		client_disconnect(c, "53300", msg, detail);
		return;
	}
	client_send_error(c, "ERROR", "53300", msg, detail, false);
	client_set_state(c, CLIENT_IDLE);
	if (strchr("PBEDCHS", type) != NULL) {
		c->discard_until_sync = true;
	} else {
		buf_drain(in, (size_t)len + 1);
		client_send_ready(c);
	}
	client_request(c);
}

void client_wait_timeout(struct client *c)
{
	struct dbpool *p = c->pool;
	char msg[256], detail[320] = "";

	pool_wait_remove(&p->pool, &c->waiter);
	p->pool.stats.wait_timeouts++;
	if (p->pool.backoff_ms > 0) {
		/* Connects are failing: that, not a full pool, is why (a
		 * "saturated" pool would send operators to pool_max). */
		snprintf(msg, sizeof(msg),
			 "pool \"%s\" cannot connect to the database: no "
			 "server connection within %d ms",
			 p->pool.name, (int)p->pool.lim.wait_timeout_ms);
		snprintf(detail, sizeof(detail),
			 "Connecting to the database failed: %s",
			 p->last_connect_error);
	} else {
		snprintf(msg, sizeof(msg),
			 "pool \"%s\" is saturated: no server connection "
			 "became free within %d ms (pool_max %u)",
			 p->pool.name, (int)p->pool.lim.wait_timeout_ms,
			 p->pool.lim.max);
	}
	if (p->pool.backoff_ms == 0 && p->capped)
		snprintf(detail, sizeof(detail),
			 "The servers of database \"%s\" or user \"%s\" are "
			 "at max_db_connections or max_user_connections.",
			 p->alias, p->user);
	log_warn("client wait timed out", LF_STR("pool", p->pool.name),
		 LF_STR("client", c->addr),
		 LF_INT("waited_ms", p->pool.lim.wait_timeout_ms));
	if (c->state == CLIENT_WAITING && !p->mode->server_at_login)
		client_refuse_request(c, msg, detail[0] ? detail : NULL);
	else
		client_disconnect(c, "53300", msg, detail[0] ? detail : NULL);
}

/* A cancel whose key names another peer goes on to it, unless it was
 * forwarded already (never twice) or names no listed peer. */
static void client_forward_cancel(struct worker *w, uint32_t pid,
				  uint32_t secret)
{
	unsigned id = peer_key_id(secret);
	struct peer_addr to;

	if (peer_key_forwarded(secret)) {
		log_warn("cancel request dropped: already forwarded once",
			 LF_INT("peer_id", id));
		return;
	}
	if (!peer_find(w->cfg->peers, id, &to)) {
		log_warn("cancel request dropped: unknown peer",
			 LF_INT("peer_id", id));
		return;
	}
	forwarder_send(w->forwards, &to, id, pid, secret | PEER_KEY_FORWARDED);
}

bool client_cancel_local(struct worker *w, uint32_t pid, uint32_t secret)
{
	struct client *c = client_by_key(w, pid, secret);

	if (c == NULL)
		return false;
	if (c->state == CLIENT_CONSOLE) {
		w->console_cancel(c);
		return true;
	}
	/* Only a request of this client's that is still in flight can be
	 * canceled; a cancel for nothing is dropped, so it cannot hit
	 * whatever the server runs next. */
	bool running = c->server != NULL && c->server->req_len > 0;
	log_debug(running ? "cancel request forwarded"
			  : "cancel request dropped: nothing running",
		  LF_STR("client", c->addr));
	if (running)
		server_cancel(c->server);
	return true;
}

static void client_route_cancel(struct worker *w, uint32_t pid, uint32_t secret)
{
	unsigned self = (unsigned)w->cfg->peer_id;

	if (self != 0) {
		if (peer_key_id(secret) != self) {
			client_forward_cancel(w, pid, secret);
			return;
		}
		/* Keys handed out under a peer id never have the forwarded bit
		 * (without one, the bit is random and part of the key). */
		secret = peer_key_plain(secret);
	}
	if (!client_cancel_local(w, pid, secret) && w->cancel_unknown != NULL)
		w->cancel_unknown(w, pid, secret);
}

/* Startup parameters decide who may log in: DB_USER to DB_NAME for now
 * (trust). Returns false after refusing the client. */
static bool client_check_login(struct client *c, const uint8_t *pkt,
			       const struct proto_startup *st)
{
	const struct config *cfg = c->w->cfg;
	const char *user = proto_startup_get(pkt, st, "user");
	const char *db = proto_startup_get(pkt, st, "database");

	if (user == NULL || user[0] == '\0') {
		client_disconnect(
		    c, "28000",
		    "no PostgreSQL user name specified in startup packet",
		    NULL);
		return false;
	}
	if (db == NULL || db[0] == '\0')
		db = user;
	if (proto_startup_get(pkt, st, "replication") != NULL) {
		client_disconnect(c, "0A000",
				  "pitlane does not relay replication "
				  "connections",
				  NULL);
		return false;
	}
	(void)cfg;
	if (!client_set_names(c, c->addr, c->ip, user, c->db)) {
		client_disconnect(c, "53200", "out of memory", NULL);
		return false;
	}
	return true;
}

/* Asks a client that wants a newer 3.x minor or `_pq_.` options to settle
 * for 3.0, as PostgreSQL does. */
static void client_negotiate(struct client *c, const uint8_t *pkt,
			     const struct proto_startup *st)
{
	const char *opts[PROTO_MAX_PARAMS];
	unsigned n = 0;
	uint8_t buf[CLIENT_MSG_BUF];
	struct proto_writer wr;

	for (unsigned i = 0; i < st->nparams; i++) {
		const char *key = (const char *)pkt + st->params[i].key;
		if (strncmp(key, "_pq_.", 5) == 0)
			opts[n++] = key;
	}
	if (st->minor == 0 && n == 0)
		return;
	proto_writer_init(&wr, buf, sizeof(buf));
	proto_write_negotiate(&wr, 0, opts, n);
	if (!wr.overflow)
		client_write(c, buf, wr.len);
}

/* Whether a database name asks for the admin console: `pgbouncer`, as with
 * PgBouncer, or `pitlane`, unless the pool's own database has that name. */
static bool client_is_console_db(const struct config *cfg, const char *db)
{
	return strcmp(db, cfg->dbname) != 0 &&
	       (strcmp(db, "pgbouncer") == 0 || strcmp(db, "pitlane") == 0);
}

/* PgBouncer's rule: on the unix socket, user `pgbouncer` connecting from a
 * process of pitlane's own uid is an admin without a password. */
static bool client_console_peer_ok(struct client *c)
{
	unsigned uid;

	return c->unix_socket && strcmp(c->user, "pgbouncer") == 0 &&
	       net_peer_uid(io_fd(c->io), &uid) && uid == (unsigned)getuid();
}

/* An authenticated console client: admin_users may do everything,
 * stats_users SHOW only, anyone else is refused, only now, so that the
 * refusal tells nothing to who has not proved who they are. */
static void client_console_finish(struct client *c)
{
	const struct config *cfg = c->w->cfg;

	if (c->console == CONSOLE_NONE) {
		if (config_user_listed(cfg->admin_users, c->user))
			c->console = CONSOLE_ADMIN;
		else if (config_user_listed(cfg->stats_users, c->user))
			c->console = CONSOLE_STATS;
	}
	if (c->console == CONSOLE_NONE) {
		client_failf(c, "28000",
			     "user \"%s\" is not allowed to use the admin "
			     "console (admin_users, stats_users)",
			     c->user);
		return;
	}
	if (c->login_timer != NULL)
		event_free(c->login_timer);
	c->login_timer = NULL;
	client_set_state(c, CLIENT_CONSOLE);
	log_info(
	    "console login", LF_STR("client", c->addr), LF_STR("user", c->user),
	    LF_STR("role", c->console == CONSOLE_ADMIN ? "admin" : "stats"));
	c->w->console_start(c);
}

/* The startup parameters a console client keeps: only application_name,
 * for SHOW CLIENTS; the rest (lib/pq's extra_float_digits included) are
 * ignored, as the console runs no SQL. */
static bool client_console_params(struct client *c, const uint8_t *pkt,
				  const struct proto_startup *st)
{
	const char *app = proto_startup_get(pkt, st, "application_name");

	if (params_set(&c->want, "application_name", app ? app : ""))
		return true;
	client_disconnect(c, "53200", "out of memory", NULL);
	return false;
}

/* The pool a login for database db goes to, joined: the client counts
 * toward it from here on. false when there is none (the client is told
 * why and closed). */
static bool client_join_pool(struct client *c, const char *db)
{
	char msg[256];
	const char *sqlstate = "3D000";
	struct dbpool *p =
	    dbpool_for_login(c->w, db, c->user, &sqlstate, msg, sizeof(msg));

	if (p == NULL) {
		client_disconnect(c, sqlstate, msg, NULL);
		return false;
	}
	c->pool = p;
	p->nclients++;
	p->last_used_ms = worker_now_ms();
	return true;
}

/* Authenticated: the database must have a pool, then the client gets
 * its parameters (through a server when they need one). */
static void client_login_finish(struct client *c, const char *db)
{
	struct dbpool *p;

	if (c->console_db) {
		client_console_finish(c);
		return;
	}
	if (!client_join_pool(c, db))
		return;
	p = c->pool;
	if (c->login_timer != NULL)
		event_free(c->login_timer);
	c->login_timer = NULL;
	if (p->mode->server_at_login || !p->have_params ||
	    params_need_server(&c->want, &p->params)) {
		client_set_state(c, CLIENT_LOGIN);
		client_acquire(c);
		return;
	}
	if (!client_set_startup(c)) {
		client_disconnect(c, "53200", "out of memory", NULL);
		return;
	}
	client_send_welcome(c, &c->want);
	p->pool.stats.logins++;
	client_set_state(c, CLIENT_IDLE);
	client_request(c);
}

/* What tls_mode demands of a TCP client. NULL when satisfied. */
static const char *client_tls_refusal(struct client *c)
{
	const struct config *cfg = c->w->cfg;

	if (c->unix_socket || cfg->tls_mode < TLS_REQUIRE)
		return NULL;
	if (!c->tls)
		return "pitlane requires TLS (tls_mode): connect with "
		       "sslmode=require or stronger";
	char cn[64];
	const char *got = cfg->tls_mode >= TLS_VERIFY_CA
			      ? tls_peer_cn(io_ssl(c->io), cn, sizeof(cn))
			      : NULL;
	if (cfg->tls_mode >= TLS_VERIFY_CA && got == NULL)
		return "connection requires a valid client certificate";
	if (cfg->tls_mode == TLS_VERIFY_FULL && strcmp(got, c->user) != 0)
		return "the client certificate's CN is not the user logged in "
		       "as (tls_mode verify-full)";
	return NULL;
}

static void client_auth_failed(struct client *c, const char *sqlstate,
			       const char *msg)
{
	log_warn("authentication failed", LF_STR("client", c->addr),
		 LF_STR("user", c->user),
		 LF_STR("method", c->login != NULL ? login_method(c->login)
						   : c->auth_method),
		 LF_STR("sqlstate", sqlstate));
	login_free(c->login);
	c->login = NULL;
	client_disconnect(c, sqlstate, msg, NULL);
}

/* SCRAM pass-through: a client that proved itself against a stored secret
 * leaves its ClientKey for the server logins of its user (srvcreds). A
 * pool backing off after failed connects retries at once: the new key may
 * be what they lacked. */
static void client_keep_passthru_keys(struct client *c)
{
	uint8_t ck[AUTH_SCRAM_KEY_LEN], sk[AUTH_SCRAM_KEY_LEN];

	if (!login_passthru_keys(c->login, ck, sk))
		return;
	if (!srvcreds_keys_put(&c->w->passkeys, c->user, ck, sk)) {
		log_warn("cannot keep the SCRAM pass-through key",
			 LF_STR("user", c->user));
	} else {
		struct dbpool *p;
		TAILQ_FOREACH(p, &c->w->pools, link)
		if (strcmp(p->user, c->user) == 0 && p->pool.backoff_ms > 0)
			p->pool.next_connect_ms = 0;
	}
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(sk, sizeof(sk));
}

/* Sends what the login wrote; on success the login goes on. */
static void client_auth_result(struct client *c, enum login_result r,
			       struct proto_writer *wr, const char *sqlstate,
			       const char *msg)
{
	if (wr->overflow) {
		client_auth_failed(c, "54000",
				   "authentication message too large");
		return;
	}
	if (wr->len > 0)
		client_write(c, wr->buf, wr->len);
	switch (r) {
	case LOGIN_SEND:
		client_set_state(c, CLIENT_AUTH);
		return;
	case LOGIN_FAIL:
		client_auth_failed(c, sqlstate, msg);
		return;
	case LOGIN_OK:
		log_debug("client authenticated", LF_STR("client", c->addr),
			  LF_STR("user", c->user),
			  LF_STR("method", c->auth_method));
		client_keep_passthru_keys(c);
		login_free(c->login);
		c->login = NULL;
		client_login_finish(c, c->db);
		return;
	}
}

/* Starts the authentication exchange; looked_up: auth_query's answer
 * for a user the auth file does not list (NULL: none). */
static void client_start_login(struct client *c, const char *looked_up)
{
	const char *state;
	char err[256];
	uint8_t buf[CLIENT_MSG_BUF];
	struct proto_writer wr;
	enum login_result r;
	struct login_peer peer = {
	    .user = c->user,
	    .database = c->db,
	    .unix_socket = c->unix_socket,
	    .tls = c->tls,
	    .family = c->family,
	    .addr_text = c->ip,
	    .looked_up = looked_up,
	};
	char cn[64];
	uint8_t cbind[AUTH_CBIND_MAX];
	memcpy(peer.addr, c->peer, sizeof(peer.addr));
	if (c->tls) {
		peer.cert_cn = tls_peer_cn(io_ssl(c->io), cn, sizeof(cn));
		if (tls_ssl_cbind(io_ssl(c->io), cbind, &peer.cbind_len))
			peer.cbind = cbind;
		else
			peer.cbind_len = 0; /* no -PLUS for this certificate */
	}
	proto_writer_init(&wr, buf, sizeof(buf));
	r = login_start(c->w->creds, &peer, &c->login, &c->auth_method, &wr,
			&state, err, sizeof(err));
	client_auth_result(c, r, &wr, state, err);
}

/* auth_query answered (or failed) for a client waiting in CLIENT_AUTH. An
 * unknown user goes on to the same exchange as a known one, against a
 * mock secret, so both fail alike (28P01 after the same work). */
static void client_lookup_done(enum authquery_result r, const char *secret,
			       const char *error, void *arg)
{
	struct client *c = arg;

	(void)error; /* logged by authquery, never sent to the client */
	c->lookup = NULL;
	if (c->state != CLIENT_AUTH || c->login != NULL)
		return;
	io_read(c->io, true);
	if (r == AUTHQUERY_FAILED) {
		client_auth_failed(c, "08006",
				   "authentication lookup failed: the "
				   "auth_query database is unavailable");
		return;
	}
	client_start_login(c, r == AUTHQUERY_FOUND ? secret : NULL);
}

/* Looks the user's secret up with auth_query (as auth_user, on
 * auth_dbname or the server database of the one asked for) before the
 * exchange; reading pauses until the answer. */
static void client_lookup(struct client *c)
{
	const struct config *cfg = c->w->cfg;
	struct srvcreds sc;
	struct route rt;
	char msg[128];
	struct authquery_target t = {
	    .cfg = cfg, .host = cfg->host, .port = cfg->port_str};
	bool routed = route_login(cfg, c->db, c->user, &rt, msg, sizeof(msg));

	/* the entry's server, else the [pool] one (an unknown database is
	 * refused only after authentication, which is still to come) */
	if (routed && !rt.db->is_default) {
		t.host = rt.db->host != NULL ? rt.db->host : cfg->host;
		t.port = rt.db->port != NULL ? rt.db->port : cfg->port_str;
	}
	t.dbname = cfg->auth_dbname != NULL ? cfg->auth_dbname
		   : routed		    ? rt.dbname
					    : cfg->dbname;
	if (srvcreds_choose(c->w->creds, NULL, cfg->auth_user, NULL, &sc) ==
	    SRVCREDS_PASSWORD)
		t.password = sc.password;
	client_set_state(c, CLIENT_AUTH);
	io_read(c->io, false);
	c->lookup =
	    authquery_lookup(c->w->authq, &t, c->user, client_lookup_done, c);
	OPENSSL_cleanse(&sc, sizeof(sc));
	if (c->lookup == NULL)
		client_auth_failed(c, "53200", "out of memory");
}

static void client_login(struct client *c, const uint8_t *pkt,
			 const struct proto_startup *st)
{
	const char *state, *tls_msg;
	char err[256];
	const char *db;

	if (st->major != 3) {
		client_failf(c, "0A000",
			     "unsupported frontend protocol %u.%u: server "
			     "supports 3.0 to 3.0",
			     st->major, st->minor);
		return;
	}
	if (!client_check_login(c, pkt, st))
		return;
	if ((tls_msg = client_tls_refusal(c)) != NULL) {
		client_disconnect(c, "28000", tls_msg, NULL);
		return;
	}
	db = proto_startup_get(pkt, st, "database");
	if (!client_set_names(c, c->addr, c->ip, c->user,
			      db && db[0] ? db : c->user)) {
		client_disconnect(c, "53200", "out of memory", NULL);
		return;
	}
	c->console_db = client_is_console_db(c->w->cfg, c->db);
	if (c->console_db) {
		/* One name for hba rules and SHOW, whichever alias. */
		if (!client_set_names(c, c->addr, c->ip, c->user,
				      "pgbouncer")) {
			client_disconnect(c, "53200", "out of memory", NULL);
			return;
		}
		if (!client_console_params(c, pkt, st))
			return;
	} else {
		state =
		    params_from_startup(&c->want, pkt, st, err, sizeof(err));
		if (state != NULL) {
			client_disconnect(c, state, err, NULL);
			return;
		}
	}
	client_negotiate(c, pkt, st);
	if (c->console_db && client_console_peer_ok(c)) {
		c->console = CONSOLE_ADMIN;
		c->auth_method = "peer";
		client_login_finish(c, c->db);
		return;
	}
	if (!c->console_db && login_needs_lookup(c->w->creds, c->user)) {
		client_lookup(c);
		return;
	}
	client_start_login(c, NULL);
}

/* One message of the authentication exchange. */
static void client_auth(struct client *c)
{
	struct buf *in = io_input(c->io);
	struct relay_cursor cur;
	uint8_t type, body[CLIENT_AUTH_MSG_MAX];
	uint8_t buf[CLIENT_MSG_BUF];
	struct proto_writer wr;
	const char *state = NULL;
	char err[256];
	uint32_t len;

	if (c->login == NULL)
		return; /* auth_query still running: input waits */
	relay_cursor_init(&cur);
	switch (relay_peek(in, &cur, &type, &len)) {
	case PROTO_NEED_MORE:
		return;
	case PROTO_BAD:
		client_auth_failed(c, "08P01", "invalid message length");
		return;
	case PROTO_OK:
		break;
	}
	if (type != 'p' || len - 4 > sizeof(body)) {
		client_auth_failed(c, "08P01",
				   type != 'p' ? "expected a password response"
					       : "password response too large");
		return;
	}
	if (buf_len(in) < (size_t)len + 1)
		return;
	buf_drain(in, PROTO_HEADER_LEN);
	buf_remove(in, body, len - 4);
	proto_writer_init(&wr, buf, sizeof(buf));
	enum login_result r =
	    login_step(c->login, body, len - 4, &wr, &state, err, sizeof(err));
	OPENSSL_cleanse(body, sizeof(body));
	client_auth_result(c, r, &wr, state, err);
}

/* Switches the connection to TLS: the server side of the handshake runs
 * on the same socket; `early` holds bytes of it already read. */
static bool client_start_tls(struct client *c, struct buf *early)
{
	struct io *tio;
	SSL *ssl;

	if (c->w->tls == NULL)
		return false; /* a reload turned TLS off since the accept */
	ssl = tls_server_ssl(c->w->tls);
	if (ssl == NULL)
		return false;
	tio = io_new_ssl_accept(c->w->base, io_fd(c->io), ssl, early,
				&client_io_ops, c);
	if (tio == NULL)
		return false;
	io_set_lean(tio);
	io_detach(c->io);
	io_release_fd(c->io);
	c->plain_io = c->io; /* freed with the client, outside callbacks */
	c->io = tio;
	c->tls = true;
	return true;
}

/* An SSLRequest: 'S' and a handshake when TLS is configured, else 'N'. */
static void client_ssl_request(struct client *c, struct buf *in)
{
	if (c->tls) {
		client_disconnect(c, "08P01",
				  "SSL request on an SSL connection", NULL);
		return;
	}
	if (c->w->tls == NULL || c->unix_socket) {
		client_write(c, "N", 1);
		return;
	}
	if (buf_len(in) > 0) {
		/* Bytes sent before the handshake could be injected by a
		 * man in the middle (CVE-2021-23214). */
		client_disconnect(c, "08P01",
				  "received unencrypted data after SSL request",
				  NULL);
		return;
	}
	client_write(c, "S", 1);
	if (!client_start_tls(c, NULL))
		client_disconnect(c, NULL, NULL, NULL);
}

/* The first byte of a TLS record: PostgreSQL 17's sslnegotiation=direct. */
#define CLIENT_TLS_HANDSHAKE 0x16

/* The first byte a TCP client sends, still unread: a TLS handshake record
 * means direct TLS negotiation; anything else is a startup packet. */
static void client_first_byte(void *ctx, int byte)
{
	struct client *c = ctx;

	if (byte != CLIENT_TLS_HANDSHAKE || c->state != CLIENT_STARTUP)
		return;
	c->direct_tls = true;
	if (!client_start_tls(c, NULL))
		client_disconnect(c, NULL, NULL, NULL);
}

/* A Terminate message where a startup packet belongs. */
static const uint8_t client_terminate[] = {'X', 0, 0, 0, 4};

/* Whether the first n buffered bytes (at least 4) begin a Terminate: a
 * driver that closes a connection before logging in (connect() and end()
 * at once) sends one before, or instead of, its startup packet. */
static bool client_terminate_at(const uint8_t *b, size_t n)
{
	return memcmp(b, client_terminate,
		      n < sizeof(client_terminate)
			  ? n
			  : sizeof(client_terminate)) == 0;
}

/* PostgreSQL reads that Terminate as a startup packet of an invalid length,
 * logs it and closes without a word; so does pitlane. What the client sent
 * is read first, so that it sees the end of the stream, not a reset. */
static void client_terminate_before_startup(struct client *c)
{
	struct buf *in = io_input(c->io);

	log_info("invalid length of startup packet", LF_STR("client", c->addr),
		 LF_STR("detail", "Terminate before the startup packet"));
	buf_drain(in, buf_len(in));
	client_disconnect(c, NULL, NULL, NULL);
}

/* Reads startup-phase packets: SSLRequest (TLS), GSSENCRequest ('N'),
 * CancelRequest, then the StartupMessage. */
static void client_startup(struct client *c)
{
	struct buf *in = io_input(c->io);
	uint8_t pkt[PROTO_STARTUP_MAX];
	struct proto_startup st;
	const char *err = NULL;
	uint32_t plen;

	if (c->direct_tls && !tls_alpn_ok(io_ssl(c->io))) {
		client_disconnect(c, "08P01",
				  "received direct SSL connection request "
				  "without ALPN protocol negotiation extension",
				  NULL);
		return;
	}
	while (c->state == CLIENT_STARTUP) {
		size_t avail = buf_len(in);
		if (avail < 4)
			return;
		buf_copyout(in, 0, pkt, sizeof(client_terminate));
		if (client_terminate_at(pkt, avail)) {
			if (avail >= sizeof(client_terminate))
				client_terminate_before_startup(c);
			return;
		}
		if (proto_startup_length(pkt, 4, &plen) != PROTO_OK) {
			client_disconnect(c, "08P01",
					  "invalid length of startup packet",
					  NULL);
			return;
		}
		if (avail < plen)
			return;
		buf_remove(in, pkt, plen);
		if (proto_startup_parse(pkt, plen, &st, &err) != PROTO_OK) {
			client_disconnect(c, "08P01", err, NULL);
			return;
		}
		switch (st.kind) {
		case PROTO_SSL_REQ:
			client_ssl_request(c, in);
			return;
		case PROTO_GSSENC_REQ:
			client_write(c, "N", 1);
			break;
		case PROTO_CANCEL_REQ:
			client_stats(c)->cancel_requests++;
			client_route_cancel(c->w, st.cancel_pid, st.cancel_key);
			client_disconnect(c, NULL, NULL, NULL);
			return;
		case PROTO_STARTUP:
			client_login(c, pkt, &st);
			return;
		}
	}
}

static void client_read_cb(void *arg)
{
	struct client *c = arg;

	c->last_active_ms = worker_now_ms();
	switch (c->state) {
	case CLIENT_STARTUP:
		client_startup(c);
		break;
	case CLIENT_AUTH:
		client_auth(c);
		break;
	case CLIENT_IDLE:
		client_request(c);
		break;
	case CLIENT_ACTIVE:
		client_forward(c);
		break;
	case CLIENT_CONSOLE:
		c->w->console_read(c);
		break;
	case CLIENT_CLOSING:
		buf_drain(io_input(c->io), buf_len(io_input(c->io)));
		break;
	default:
		break; /* waiting: the input stays buffered, bounded by the
			  read watermark */
	}
}

static void client_drained_cb(void *arg)
{
	struct client *c = arg;

	if (c->state == CLIENT_CLOSING) {
		if (io_unsent(c->io) == 0)
			client_bury(c);
		return;
	}
	if (c->server != NULL)
		server_pause(c->server, false);
}

static void client_failed_cb(void *arg, bool eof, const char *reason)
{
	struct client *c = arg;

	if (c->state != CLIENT_CLOSING) {
		log_debug("client gone", LF_STR("client", c->addr),
			  LF_STR("state", client_state_names[c->state]),
			  LF_BOOL("eof", eof), LF_STR("reason", reason));
		client_disconnect(c, NULL, NULL, NULL);
	}
	/* Nothing more can be written to a socket that failed. */
	client_bury(c);
}

static const struct io_ops client_io_ops = {
    .read = client_read_cb,
    .drained = client_drained_cb,
    .failed = client_failed_cb,
};

static void client_close_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_bury(arg); /* the final error could not be delivered */
}

static void client_login_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	client_failf(c, "08P01",
		     "login not completed within client_login_timeout (%d ms)",
		     c->w->cfg->client_login_timeout_ms);
}

/* A random BackendKeyData for the client: it never sees the backend's. */
static void client_make_key(struct client *c)
{
	uint32_t r[2];

	if (RAND_bytes((unsigned char *)r, sizeof(r)) != 1) {
		r[0] = (uint32_t)random();
		r[1] = (uint32_t)random();
	}
	c->key_pid = (r[0] & 0x7fffffff) | 1;
	c->key_secret = peer_key_secret((unsigned)c->w->cfg->peer_id, r[1]);
}

void client_accept(struct worker *w, int fd, const struct sockaddr *sa)
{
	struct client *c = calloc(1, sizeof(*c));
	struct timeval login = {
	    .tv_sec = w->cfg->client_login_timeout_ms / 1000,
	    .tv_usec = (w->cfg->client_login_timeout_ms % 1000) * 1000};
	char addr[64], ip[48];

	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->addr = c->ip = c->user = c->db = "";
	c->w = w;
	c->io = io_new_socket(w->base, fd, true, &client_io_ops, c);
	if (c->io != NULL)
		io_set_lean(c->io); /* an idle client holds no buffers */
	c->login_timer = evtimer_new(w->base, client_login_timeout_cb, c);
	net_format_addr(sa, addr, sizeof(addr));
	net_format_ip(sa, ip, sizeof(ip));
	if (c->io == NULL || c->login_timer == NULL ||
	    !client_set_names(c, addr, ip, "", "")) {
		if (c->io != NULL)
			io_free(c->io);
		else
			evutil_closesocket(fd);
		if (c->login_timer != NULL)
			event_free(c->login_timer);
		free(c);
		return;
	}
	c->port = net_port(sa);
	c->connect_wall_s = (uint32_t)time(NULL);
	c->unix_socket = sa == NULL || sa->sa_family == AF_UNIX;
	c->family = net_addr_bytes(sa, c->peer);
	net_set_nodelay(fd);
	client_make_key(c);
	TAILQ_INSERT_TAIL(&w->clients, c, link);
	w->nclients++;
	io_set_read_limit(c->io, RELAY_HIGH_WATER);
	io_set_low_water(c->io, RELAY_LOW_WATER);
	if (w->tls != NULL && !c->unix_socket)
		io_peek_first(c->io, client_first_byte);
	evtimer_add(c->login_timer, &login);
	if (w->nclients > (unsigned)w->cfg->max_client_conn) {
		client_disconnect(c, "53300", "sorry, too many clients already",
				  NULL);
		return;
	}
	log_debug("client connected", LF_STR("client", c->addr));
}

void client_shutdown(struct client *c, bool force)
{
	switch (c->state) {
	case CLIENT_CLOSING:
		if (force)
			client_bury(c); /* its final error never drained */
		return;
	case CLIENT_ACTIVE:
		if (!force && !server_at_rest(c->server))
			return; /* finishes its transaction first */
		break;
	case CLIENT_MOVING:
		return; /* the new process's, or back here soon */
	default:
		break;
	}
	client_disconnect(c, "57P01",
			  "terminating connection due to administrator command",
			  NULL);
}

void client_close(struct client *c, const char *sqlstate, const char *message)
{
	client_disconnect(c, sqlstate, message, NULL);
}

void client_free(struct client *c)
{
	if (c == NULL)
		return;
	c->w->nclients--;
	if (c->pool != NULL) {
		c->pool->nclients--;
		c->pool->last_used_ms = worker_now_ms();
	}
	if (c->console_wait != 0)
		c->w->console_waits--; /* left while its command waited */
	io_free(c->io);
	io_free(c->plain_io);
	authquery_cancel(c->lookup);
	login_free(c->login);
	params_clear(&c->want);
	params_unshare(c->startup);
	free(c->name_block);
	stmt_names_clear(&c->names, c->w->stmts);
	free(c);
}

void client_check_timeouts(struct client *c, int64_t now)
{
	const struct config *cfg = c->w->cfg;
	struct server *s = c->server;
	int64_t idle = now - c->last_active_ms;

	if (c->state == CLIENT_ACTIVE && s != NULL) {
		if (cfg->query_timeout_ms > 0 && s->req_len > 0 &&
		    now - s->busy_since_ms >= cfg->query_timeout_ms) {
			server_cancel(s);
			client_failf(c, "57014",
				     "canceling statement due to query_timeout "
				     "(%d ms)",
				     cfg->query_timeout_ms);
		} else if (cfg->idle_transaction_timeout_ms > 0 &&
			   s->xact != 'I' && txn_at_boundary(s) &&
			   now - s->rest_since_ms >=
			       cfg->idle_transaction_timeout_ms) {
			client_disconnect(c, "25P03",
					  "terminating connection due to "
					  "idle-in-transaction timeout",
					  NULL);
		} else if (cfg->client_idle_timeout_ms > 0 &&
			   server_at_rest(s) &&
			   idle >= cfg->client_idle_timeout_ms) {
			client_disconnect(c, "57P05",
					  "terminating connection due to "
					  "idle-session timeout",
					  NULL);
		}
	} else if (c->state == CLIENT_IDLE && cfg->client_idle_timeout_ms > 0 &&
		   idle >= cfg->client_idle_timeout_ms) {
		client_disconnect(c, "57P05",
				  "terminating connection due to idle-session "
				  "timeout",
				  NULL);
	}
}

/* Live takeover. */

struct client *client_by_key(struct worker *w, uint32_t pid, uint32_t secret)
{
	struct client *c;

	TAILQ_FOREACH(c, &w->clients, link)
	{
		if (c->key_pid == pid && c->key_secret == secret &&
		    c->state != CLIENT_CLOSING)
			return c;
	}
	return NULL;
}

static void client_handoff_stmt_cb(void *arg, const char *name,
				   const struct stmt *st)
{
	handoff_put_stmt(arg, name, st->body, st->body_len, st->parse_len);
}

bool client_handoff_begin(struct client *c, struct handoff_buf *b)
{
	struct buf *in = io_input(c->io);
	size_t pending = buf_len(in);
	struct handoff_session hs = {
	    .key_pid = c->key_pid,
	    .key_secret = c->key_secret,
	    .connect_wall_s = c->connect_wall_s,
	    .port = c->port,
	    .family = (uint8_t)c->family,
	    .unix_socket = c->unix_socket,
	};

	bool linked = c->state == CLIENT_ACTIVE && c->server != NULL &&
		      c->pool->mode->server_at_login &&
		      server_handoff_ready(c->server);

	if ((!linked && (c->state != CLIENT_IDLE || c->server != NULL)) ||
	    c->tls || c->discard_until_sync || io_unsent(c->io) != 0 ||
	    pending > HANDOFF_MAX / 2)
		return false;
	memcpy(hs.peer, c->peer, sizeof(hs.peer));
	snprintf(hs.user, sizeof(hs.user), "%s", c->user);
	snprintf(hs.db, sizeof(hs.db), "%s", c->db);
	snprintf(hs.addr, sizeof(hs.addr), "%s", c->addr);
	snprintf(hs.ip, sizeof(hs.ip), "%s", c->ip);
	snprintf(hs.auth_method, sizeof(hs.auth_method), "%s",
		 c->auth_method != NULL ? c->auth_method : "");
	handoff_begin(b, &hs);
	handoff_put_params(b, &c->want);
	handoff_put_params(b, params_shared_get(c->startup));
	handoff_put_stmt_count(b, stmt_names_count(&c->names));
	stmt_names_each(&c->names, client_handoff_stmt_cb, b);
	handoff_end(b, pending > 0 ? buf_pullup(in, pending) : NULL,
		    (uint32_t)pending);
	if (b->failed)
		return false;
	io_read(c->io, false);
	client_set_state(c, CLIENT_MOVING);
	return true;
}

void client_handoff_done(struct client *c)
{
	struct server *s = c->server;

	if (c->state != CLIENT_MOVING)
		return;
	if (s != NULL) { /* session mode: its server went with it */
		c->server = NULL;
		c->w->clients_active--;
		server_handoff_done(s);
	}
	io_release_fd(c->io);
	client_set_state(c, CLIENT_CLOSING);
	client_bury(c);
}

void client_handoff_back(struct client *c, bool serve)
{
	if (c->state != CLIENT_MOVING)
		return;
	if (c->server != NULL) { /* session mode: linked again */
		server_handoff_back(c->server);
		client_set_state(c, CLIENT_ACTIVE);
		io_read(c->io, true);
		if (serve)
			client_forward(c);
		return;
	}
	client_set_state(c, CLIENT_IDLE);
	io_read(c->io, true);
	if (serve)
		client_request(c);
}

void client_handoff_drop(struct client *c)
{
	int fd = io_fd(c->io);

	if (c->server != NULL) {
		struct server *s = c->server;
		c->server = NULL;
		c->w->clients_active--;
		server_handoff_drop(s);
	}

	io_release_fd(c->io); /* io_free would read from the socket */
	TAILQ_REMOVE(&c->w->clients, c, link);
	client_free(c);
	close(fd);
}

/* auth_method is a static name; map a received one back onto those. */
static const char *client_auth_method_of(const char *name)
{
	static const char *const known[] = {"trust",	     "peer",	 "md5",
					    "scram-sha-256", "password", "cert",
					    "reject",	     "hba",	 "any"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], name) == 0)
			return known[i];
	return "takeover";
}

/* The client's prepared statements, interned here by their text: each is
 * prepared on a server of this process the first time it is used. */
static bool client_adopt_stmts(struct client *c,
			       const struct handoff_session *hs)
{
	for (unsigned i = 0; i < hs->nstmts; i++) {
		const struct handoff_stmt *hst = &hs->stmts[i];
		struct stmt *st =
		    stmt_intern(c->w->stmts, hst->body, hst->body_len);
		bool ok;

		if (st == NULL)
			return false;
		if (st->parse_len == 0)
			st->parse_len = hst->parse_len;
		ok = stmt_names_set(&c->names, c->w->stmts, hst->name, st);
		stmt_unref(c->w->stmts, st);
		if (!ok)
			return false;
	}
	return true;
}

/* The adopted session's startup set, shared like a login's. */
static bool client_adopt_startup(struct client *c,
				 const struct handoff_session *hs)
{
	struct params tmp = {0};
	bool ok = params_copy(&tmp, &hs->startup);

	if (ok) {
		c->startup = params_share(&tmp);
		ok = c->startup != NULL;
	}
	params_clear(&tmp);
	return ok;
}

struct client *client_adopt(struct worker *w, int fd,
			    const struct handoff_session *hs)
{
	struct client *c = calloc(1, sizeof(*c));
	const char *why;
	char msg[256];

	if (c == NULL) {
		close(fd);
		return NULL;
	}
	c->addr = c->ip = c->user = c->db = "";
	c->w = w;
	c->io = io_new_socket(w->base, fd, true, &client_io_ops, c);
	if (c->io == NULL) {
		close(fd);
		free(c);
		return NULL;
	}
	io_set_lean(c->io);
	io_read(c->io, false);
	c->key_pid = hs->key_pid;
	c->key_secret = hs->key_secret;
	c->connect_wall_s = (uint32_t)hs->connect_wall_s;
	c->port = hs->port;
	c->family = hs->family;
	memcpy(c->peer, hs->peer, sizeof(c->peer));
	c->unix_socket = hs->unix_socket;
	c->auth_method = client_auth_method_of(hs->auth_method);
	c->last_active_ms = worker_now_ms();
	c->state = CLIENT_IDLE;
	TAILQ_INSERT_TAIL(&w->clients, c, link);
	w->nclients++;
	if (!client_set_names(c, hs->addr, hs->ip, hs->user, hs->db)) {
		client_handoff_drop(c);
		return NULL;
	}
	c->pool = dbpool_for_login(w, c->db, c->user, &why, msg, sizeof(msg));
	if (c->pool == NULL) {
		log_warn("taken-over client has no pool here",
			 LF_STR("client", c->addr), LF_STR("reason", msg));
		client_handoff_drop(c);
		return NULL;
	}
	c->pool->nclients++;
	if (!params_copy(&c->want, &hs->want) || !client_adopt_startup(c, hs) ||
	    !client_adopt_stmts(c, hs) ||
	    buf_add(io_input(c->io), hs->pending, hs->pending_len) != 0) {
		client_handoff_drop(c);
		return NULL;
	}
	io_set_read_limit(c->io, RELAY_HIGH_WATER);
	io_set_low_water(c->io, RELAY_LOW_WATER);
	net_set_nodelay(fd);
	return c;
}

bool client_adopt_link(struct client *c, struct server *s)
{
	struct server_peer peer = {
	    .io = c->io,
	    .ops = &client_server_ops,
	    .ctx = c,
	    .names = NULL, /* session mode: names pass through */
	    .want = &c->want,
	    .startup = params_shared_get(c->startup),
	};

	if (!c->pool->mode->server_at_login || s->pool != c->pool)
		return false;
	c->server = s;
	c->w->clients_active++;
	server_link(s, &peer);
	client_set_state(c, CLIENT_ACTIVE);
	return true;
}

void client_adopted_start(struct client *c)
{
	log_debug("client taken over", LF_STR("client", c->addr),
		  LF_INT("key_pid", c->key_pid),
		  LF_INT("backend_pid",
			 c->server != NULL ? c->server->backend_pid : 0));
	io_read(c->io, true);
	if (c->server != NULL) {
		server_adopted_start(c->server);
		client_forward(c);
		return;
	}
	client_request(c);
}
