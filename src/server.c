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
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "net.h"
#include "relay.h"
#include "txn.h"

#define SERVER_CHECK_FRESH_MS 1000 /* a check this recent needs no other */
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
		pool_slot_set(&s->pool->pool, &s->slot, slot_of[st],
			      worker_now_ms());
	s->state = st;
	if (s->probing && st != SERVER_RESETTING) {
		s->probing = false;
		s->pool->pool.probe_since_us = 0;
		if (st == SERVER_IDLE)
			s->slot.since_ms = s->probe_idle_since_ms;
	}
}

/* A clean server goes back to the pool and the waiters get their turn. It
 * is closed instead during shutdown, when its state is unknown, while the
 * pool is paused (PAUSE), when it belongs to a backend target replaced
 * since (server_reconnect: RECONNECT, reload), when the pool holds
 * more than a lowered max, or when it has outlived
 * server_lifetime (the janitor refills the pool). */
void server_become_idle(struct server *s)
{
	const struct config *cfg = s->w->cfg;
	int64_t now = worker_now_ms();

	if (s->w->shutting_down || s->broken || s->read_only ||
	    s->pool->pool.paused) {
		server_close(s, NULL);
		return;
	}
	if (s->gen != s->pool->gen || pool_over_cap(&s->pool->pool, now)) {
		log_debug("closing server after reconfiguration",
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	if (cfg->server_lifetime_ms > 0 &&
	    now - s->created_ms >= cfg->server_lifetime_ms) {
		log_debug("closing server past its lifetime",
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	server_set_state(s, SERVER_IDLE);
	s->w->dispatch(s->pool);
}

static void server_run_hidden(struct server *s, const char *const *sql,
			      unsigned n);
static void server_let_go(struct server *s);
static void server_read_cb(void *arg);
static void server_drained_cb(void *arg);
static void server_failed_cb(void *arg, bool eof, const char *reason);

static const struct io_ops server_io_ops = {
    .read = server_read_cb,
    .drained = server_drained_cb,
    .failed = server_failed_cb,
};

/* Wraps the connected socket (and libpq's SSL object, keeping libpq's BIO)
 * in an io that never closes either: PQfinish does. */
static int server_attach(struct server *s)
{
	struct event_base *base = s->w->base;
	int fd = server_fd(s);
	SSL *ssl = s->conn != NULL && PQsslInUse(s->conn)
		       ? PQsslStruct(s->conn, "OpenSSL")
		       : NULL;

	if (ssl != NULL)
		s->io = io_new_ssl_open(base, fd, ssl, &server_io_ops, s);
	else
		s->io = io_new_socket(base, fd, false, &server_io_ops, s);
	if (s->io == NULL)
		return -1;
	net_set_nodelay(fd);
	io_set_low_water(s->io, RELAY_LOW_WATER);
	return 0;
}

/* Snapshot of the login parameters; from here on ParameterStatus messages
 * in the stream keep it current (PQparameterStatus goes stale). */
static void server_snapshot_params(struct server *s)
{
	struct dbpool *p = s->pool;

	if (s->raw != NULL) { /* collected from ParameterStatus at login */
		if (!params_copy(&s->params, &s->raw->params))
			log_warn("out of memory recording server parameters",
				 LF_INT("backend_pid", s->backend_pid));
		p->have_params = params_copy(&p->params, &s->params);
		return;
	}
	for (size_t i = 0;
	     i < sizeof(server_reported) / sizeof(server_reported[0]); i++) {
		const char *v = PQparameterStatus(s->conn, server_reported[i]);
		if (v != NULL && !params_set(&s->params, server_reported[i], v))
			log_warn("out of memory recording server parameters",
				 LF_INT("backend_pid", s->backend_pid));
	}
	p->have_params = params_copy(&p->params, &s->params);
	for (size_t i = 0; i < s->params.n; i++)
		server_note_param(s, s->params.name[i], s->params.value[i],
				  true);
}

/* A connect attempt ended: false (server closed) when it failed. */
static bool server_connect_done(struct server *s, bool ok, const char *error)
{
	struct dbpool *p = s->pool;

	pool_connect_done(&p->pool, ok, worker_now_ms());
	if (ok)
		return true;
	snprintf(p->last_connect_error, sizeof(p->last_connect_error), "%s",
		 error);
	log_warn("server connect failed", LF_STR("pool", p->pool.name),
		 LF_STR("reason", error),
		 LF_INT("retry_in_ms", p->pool.backoff_ms));
	server_close(s, NULL);
	return false;
}

static void server_ready(struct server *s);

static void server_connected_cb(PGconn *conn, const char *error, void *arg)
{
	struct server *s = arg;

	s->connecting = NULL;
	if (!server_connect_done(s, conn != NULL, error))
		return;
	s->conn = conn;
	s->backend_pid = PQbackendPID(conn);
	server_ready(s);
}

static void server_connected_raw_cb(struct passthru_conn *conn,
				    const char *error, void *arg)
{
	struct server *s = arg;

	s->connecting_raw = NULL;
	if (!server_connect_done(s, conn != NULL, error))
		return;
	s->raw = conn;
	s->backend_pid = (int)conn->pid;
	server_ready(s);
}

/* Logged in, by libpq or pass-through: relay from now on. */
static void server_ready(struct server *s)
{
	struct dbpool *p = s->pool;

	p->pool.alive_us = worker_now_us(s->w);
	s->xact = 'I';
	s->created_ms = worker_now_ms();
	if (server_attach(s) != 0) {
		log_error("cannot relay server connection",
			  LF_STR("pool", p->pool.name),
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	server_snapshot_params(s);
	log_debug("server connected", LF_STR("pool", p->pool.name),
		  LF_INT("backend_pid", s->backend_pid));
	if (p->db != NULL && !p->db->is_default &&
	    p->db->connect_query != NULL) {
		/* connect_query: once, before the server is first used; a
		 * failure closes it (txn_after_stop). */
		server_run_hidden(s, (const char *const *)&p->db->connect_query,
				  1);
		return;
	}
	server_become_idle(s);
}

/* Starts the login with the credentials srvcreds_choose picks (through
 * dbpool_target's password and dbpool_server_creds): libpq, or pitlane's
 * own SCRAM exchange with a client's ClientKey (pass-through), which
 * needs a plain socket toward the server. */
static bool server_start_login(struct server *s)
{
	struct worker *w = s->w;
	const struct config *cfg = w->cfg;
	struct backend_target target;
	char opts[DBPOOL_OPTIONS_MAX];
	struct srvcreds sc;
	bool ok;

	dbpool_target(s->pool, &target, opts);
	if (dbpool_server_creds(s->pool, &sc) == SRVCREDS_PASSTHRU &&
	    !passthru_allowed(cfg)) {
		log_warn("SCRAM pass-through refused: it needs a plain "
			 "connection to the server, and sslmode asks for TLS",
			 LF_STR("user", target.user),
			 LF_STR("sslmode", cfg->sslmode));
		sc.kind = SRVCREDS_NONE;
	}
	if (sc.kind == SRVCREDS_PASSTHRU) {
		struct passthru_target t = {
		    .cfg = cfg,
		    .host = target.host,
		    .port = target.port,
		    .user = target.user,
		    .dbname = target.dbname,
		    .target_session_attrs = target.target_session_attrs,
		    .shuffle_hosts = target.shuffle_hosts};
		memcpy(t.client_key, sc.client_key, sizeof(t.client_key));
		memcpy(t.server_key, sc.server_key, sizeof(t.server_key));
		s->connecting_raw = passthru_connect_start(
		    w->base, w->dns, &t, server_connected_raw_cb, s);
		OPENSSL_cleanse(&t, sizeof(t));
		ok = s->connecting_raw != NULL;
	} else {
		s->connecting = backend_connect_start(
		    w->base, w->dns, cfg, &target, server_connected_cb, s);
		ok = s->connecting != NULL;
	}
	OPENSSL_cleanse(&sc, sizeof(sc));
	return ok;
}

int server_fd(const struct server *s)
{
	if (s->raw != NULL)
		return s->raw->fd;
	return s->conn != NULL ? PQsocket(s->conn) : -1;
}

/* A server of pool p, in the worker's list and in the pool's slot state
 * `slot`; NULL when out of memory. */
static struct server *server_new(struct dbpool *p, enum pool_slot_state slot)
{
	struct worker *w = p->w;
	struct server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->w = w;
	s->pool = p;
	s->gen = p->gen;
	stmt_cache_init(&s->stmts,
			w->cfg->max_prepared_statements > 0
			    ? (unsigned)w->cfg->max_prepared_statements
			    : 1);
	TAILQ_INSERT_TAIL(&w->servers, s, link);
	pool_slot_set(&p->pool, &s->slot, slot, worker_now_ms());
	return s;
}

struct server *server_connect(struct dbpool *p)
{
	struct server *s = server_new(p, POOL_SLOT_CONNECTING);

	if (s == NULL)
		return NULL;
	s->state = SERVER_CONNECTING;
	if (!server_start_login(s)) {
		server_close(s, NULL);
		return NULL;
	}
	/* the attempt never ends before its start returns (backend.h) */
	assert(s->state == SERVER_CONNECTING);
	return s;
}

void server_link(struct server *s, const struct server_peer *peer)
{
	assert(s->state == SERVER_IDLE || s->slot.state == POOL_SLOT_ACTIVE);
	s->peer = *peer;
	server_set_state(s, SERVER_ACTIVE);
}

bool server_at_rest(const struct server *s)
{
	return s->xact == 'I' && txn_at_boundary(s);
}

bool server_may_release(const struct server *s)
{
	return s->state == SERVER_ACTIVE &&
	       (s->pool->mode->release_at_idle || s->w->shutting_down) &&
	       server_at_rest(s);
}

static void server_forget_peer(struct server *s)
{
	memset(&s->peer, 0, sizeof(s->peer));
}

/* Returns the server to the pool at a transaction boundary and tells the
 * client, which no longer has a server. */
void server_release(struct server *s)
{
	const struct server_peer_ops *ops = s->peer.ops;
	void *ctx = s->peer.ctx;

	server_forget_peer(s);
	if (s->pool->mode->release_at_idle)
		server_become_idle(s);
	else
		server_close(s, NULL); /* session mode, shutting down */
	ops->released(ctx);
}

/* Sends pitlane's own queries; the server comes back idle when they all
 * succeed (see txn_after_stop), or is closed. */
static void server_run_hidden(struct server *s, const char *const *sql,
			      unsigned n)
{
	s->hidden_failed = false;
	server_set_state(s, SERVER_RESETTING);
	for (unsigned i = 0; i < n; i++) {
		if (!txn_send_query(s, sql[i], REQ_HIDDEN)) {
			server_close(s, "cannot send a query");
			return;
		}
	}
	io_flush(s->io);
}

void server_unlink(struct server *s)
{
	const char *sql[2];
	unsigned n = 0;

	server_forget_peer(s);
	if (s->w->shutting_down || s->broken || !txn_at_boundary(s)) {
		/* A query still runs or a message is half sent: the server
		 * cannot be brought to a known state cheaply. */
		log_debug("closing server left mid-request",
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		return;
	}
	if (s->xact != 'I')
		sql[n++] = "ROLLBACK";
	if (s->pool->mode->reset_on_unlink && s->w->cfg->server_reset_query) {
		sql[n++] = s->w->cfg->server_reset_query;
		txn_forget_session(s);
	}
	if (n == 0)
		server_become_idle(s);
	else
		server_run_hidden(s, sql, n);
}

void server_probe(struct server *s)
{
	const char *sql = s->w->cfg->server_check_query;

	if (sql == NULL)
		sql = "SELECT 1";
	s->probe_idle_since_ms = s->slot.since_ms;
	s->probing = true;
	s->pool->pool.probe_since_us = worker_now_us(s->w);
	server_run_hidden(s, &sql, 1);
}

bool server_check_if_stale(struct server *s)
{
	const struct config *cfg = s->w->cfg;
	const char *sql = cfg->server_check_query;

	if (s->just_checked) {
		/* Back from its check: it goes to the waiter it was for
		 * (unless it then sat idle again for long). */
		s->just_checked = false;
		if (worker_now_ms() - s->slot.since_ms < SERVER_CHECK_FRESH_MS)
			return false;
	}
	if (s->must_check) {
		/* Another server of its host answered read-only. */
		s->must_check = false;
		if (sql == NULL)
			sql = "SELECT 1";
	} else if (sql == NULL || worker_now_ms() - s->slot.since_ms <
				      cfg->server_check_delay_ms) {
		return false;
	}
	s->just_checked = true;
	server_run_hidden(s, &sql, 1);
	return true;
}

static void server_read_cb(void *arg)
{
	txn_relay(arg);
}

static void server_drained_cb(void *arg)
{
	struct server *s = arg;

	if (s->peer.ops != NULL)
		s->peer.ops->drained(s->peer.ctx);
}

static void server_failed_cb(void *arg, bool eof, const char *why)
{
	struct server *s = arg;
	char reason[160];

	snprintf(reason, sizeof(reason), "%s",
		 eof ? "server closed the connection" : why);
	if (s->state == SERVER_ACTIVE) {
		s->pool->pool.stats.server_errors++;
		log_error("server lost", LF_STR("pool", s->pool->pool.name),
			  LF_INT("backend_pid", s->backend_pid),
			  LF_STR("reason", reason));
	} else {
		log_warn("server closed", LF_STR("pool", s->pool->pool.name),
			 LF_INT("backend_pid", s->backend_pid),
			 LF_STR("state", server_state_names[s->state]),
			 LF_STR("reason", reason));
	}
	server_close(s, reason);
}

static void server_cancel_done(void *arg)
{
	struct server *s = arg;

	s->cancels--;
	if (s->state == SERVER_CLOSED)
		event_active(s->w->reap_ev, EV_TIMEOUT, 1);
	else if (server_may_release(s))
		server_release(s);
	else if (s->cancels == 0 && s->peer.ops != NULL)
		s->peer.ops->resumed(s->peer.ctx);
}

void server_cancel(struct server *s)
{
	PGcancel *pc;

	if (s->raw != NULL) {
		s->cancels++;
		if (cancel_submit_raw(s->w->cancels, &s->raw->addr,
				      s->raw->addr_len, s->raw->pid,
				      s->raw->key, server_cancel_done, s) != 0)
			s->cancels--;
		return;
	}
	if (s->conn == NULL || (pc = PQgetCancel(s->conn)) == NULL)
		return;
	s->cancels++;
	if (cancel_submit(s->w->cancels, pc, server_cancel_done, s) != 0)
		s->cancels--;
}

void server_close(struct server *s, const char *reason)
{
	struct worker *w = s->w;
	const struct server_peer_ops *ops = s->peer.ops;
	void *ctx = s->peer.ctx;

	if (s->state == SERVER_CLOSED)
		return;
	if (s->moving) {
		/* In transit: the other process may hold it already, so this
		 * copy goes without a Terminate (the backend ends when the
		 * last copy closes). */
		if (s->io != NULL)
			io_detach(s->io);
		server_let_go(s);
		s->moving = false;
	}
	backend_connect_abort(s->connecting);
	s->connecting = NULL;
	passthru_connect_abort(s->connecting_raw);
	s->connecting_raw = NULL;
	if (s->conn != NULL || s->raw != NULL)
		s->pool->pool.closing++; /* until server_free closes it */
	if (s->io != NULL)
		io_detach(s->io); /* freed with the server, outside callbacks */
	server_forget_peer(s);
	server_set_state(s, SERVER_CLOSED);
	TAILQ_REMOVE(&w->servers, s, link);
	TAILQ_INSERT_TAIL(&w->dead_servers, s, link);
	event_active(w->reap_ev, EV_TIMEOUT, 1);
	if (ops != NULL)
		ops->lost(ctx, reason ? reason : "server closed",
			  s->told_fatal);
}

/* Whether the pool of s wants a server that is not read-only. */
static bool server_wants_primary(const struct server *s)
{
	const char *tsa = dbpool_target_session_attrs(s->pool);

	return tsa != NULL &&
	       (strcmp(tsa, "read-write") == 0 || strcmp(tsa, "primary") == 0);
}

void server_note_param(struct server *s, const char *name, const char *value,
		       bool sure)
{
	bool standby = strcmp(name, "in_hot_standby") == 0;
	const char *tsa;

	if (!standby && strcmp(name, "default_transaction_read_only") != 0)
		return;
	if (strcmp(value, "on") != 0)
		return;
	tsa = dbpool_target_session_attrs(s->pool);
	if (standby || (tsa != NULL && strcmp(tsa, "read-write") == 0))
		server_found_read_only(s, name, standby || sure);
}

/* Whether a and b are connected to the same host and port. */
static bool server_same_host(const struct server *a, const struct server *b)
{
	const char *ha, *hb, *pa, *pb;

	if (a->conn == NULL || b->conn == NULL)
		return false;
	ha = PQhostaddr(a->conn);
	hb = PQhostaddr(b->conn);
	pa = PQport(a->conn);
	pb = PQport(b->conn);
	return ha != NULL && hb != NULL && pa != NULL && pb != NULL &&
	       strcmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
}

/* Sure: the idle servers of s's pool on its host close and the others are
 * marked. Not sure: those servers run the check query before their next
 * checkout, which makes a server whose configuration changed report it. */
static void server_sweep_host(struct server *s, bool sure)
{
	struct server *t, *next;

	for (t = TAILQ_FIRST(&s->w->servers); t != NULL; t = next) {
		next = TAILQ_NEXT(t, link);
		if (t == s || t->pool != s->pool || t->read_only)
			continue;
		if (t->state == SERVER_CONNECTING) {
			/* Its host is not known yet; it may have logged in
			 * before the change: one reconnect at most. */
			if (sure)
				t->read_only = true;
			continue;
		}
		if (!server_same_host(s, t))
			continue;
		if (!sure) {
			t->must_check = true; /* at its next checkout */
		} else if (t->state == SERVER_IDLE) {
			server_close(t, NULL);
		} else {
			t->read_only = true;
		}
	}
}

void server_found_read_only(struct server *s, const char *why, bool sure)
{
	if (s->read_only || !server_wants_primary(s))
		return;
	s->read_only = true;
	log_warn(sure ? "server is read-only, closing the pool's servers on "
			"its host"
		      : "server answered read-only, checking the pool's "
			"servers on its host",
		 LF_STR("pool", s->pool->pool.name),
		 LF_INT("backend_pid", s->backend_pid), LF_STR("reason", why));
	server_sweep_host(s, sure);
}

void server_reconnect(struct dbpool *p)
{
	struct server *s, *next;

	p->gen++;
	for (s = TAILQ_FIRST(&p->w->servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->pool == p &&
		    (s->state == SERVER_IDLE || s->state == SERVER_CONNECTING))
			server_close(s, NULL);
	}
}

/* Closes a closed server's connection, at once even while a cancel request
 * for it runs (the request has its own connection): the pool counts the
 * server toward its max until then. */
static void server_close_socket(struct server *s)
{
	io_free(s->io); /* first: it must let go of the socket and SSL */
	s->io = NULL;
	if (s->conn == NULL && s->raw == NULL)
		return;
	PQfinish(s->conn); /* sends Terminate, closes socket and SSL */
	s->conn = NULL;
	passthru_close(s->raw); /* the same, for a pass-through socket */
	s->raw = NULL;
	assert(s->pool->pool.closing > 0);
	s->pool->pool.closing--;
}

bool server_free(struct server *s)
{
	server_close_socket(s);
	if (s->cancels > 0)
		return false;
	txn_free(s);
	params_clear(&s->params);
	free(s);
	return true;
}

void server_pause(struct server *s, bool pause)
{
	if (s->io != NULL && s->state != SERVER_CLOSED)
		io_read(s->io, !pause);
}

/* Live takeover. */

bool server_handoff_plain(const struct server *s)
{
	if (s->raw != NULL)
		return true;
	return s->conn != NULL && !PQsslInUse(s->conn);
}

bool server_handoff_ready(const struct server *s)
{
	bool linked = s->state == SERVER_ACTIVE && s->peer.io != NULL;

	if (s->moving || !server_handoff_plain(s) || s->io == NULL ||
	    (s->state != SERVER_IDLE && !linked))
		return false;
	return server_at_rest(s) && !s->resync && !s->sync_report &&
	       !s->broken && stmt_cache_count(&s->stmts) == 0 &&
	       io_unsent(s->io) == 0 && buf_len(io_input(s->io)) == 0;
}

bool server_handoff_clean(struct server *s)
{
	static const char *const sql = "DEALLOCATE ALL";

	if (s->state != SERVER_IDLE || stmt_cache_count(&s->stmts) == 0)
		return false;
	stmt_cache_clear(&s->stmts, s->w->stmts);
	server_run_hidden(s, &sql, 1);
	return true;
}

bool server_handoff_begin(struct server *s, struct handoff_buf *b)
{
	struct handoff_server hs = {
	    .pid = (uint32_t)s->backend_pid,
	    .age_ms = worker_now_ms() - s->created_ms,
	};
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);

	if (!server_handoff_ready(s))
		return false;
	if (s->raw != NULL)
		hs.secret = s->raw->key;
	else if (!backend_cancel_secret(s->conn, &hs.secret))
		return false;
	if (getpeername(server_fd(s), (struct sockaddr *)&sa, &salen) != 0)
		return false;
	if (s->conn != NULL) {
		/* Made now, so letting go later cannot fail for want of it. */
		s->handoff_spare =
		    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->handoff_spare < 0)
			return false;
	}
	hs.unix_socket = sa.ss_family == AF_UNIX;
	if (hs.age_ms < 0)
		hs.age_ms = 0;
	snprintf(hs.alias, sizeof(hs.alias), "%s", s->pool->alias);
	snprintf(hs.user, sizeof(hs.user), "%s", s->pool->user);
	hs.params = s->params; /* borrowed: only read */
	handoff_put_server(b, &hs);
	if (b->failed) {
		if (s->conn != NULL)
			close(s->handoff_spare);
		return false;
	}
	io_read(s->io, false);
	s->moving = true;
	s->handoff_secret = hs.secret;
	if (s->state == SERVER_IDLE)
		server_set_state(s, SERVER_RESETTING); /* out of the pool */
	return true;
}

/* Closes the server's socket without a Terminate: for libpq, the spare
 * unconnected socket takes its descriptor number (dup2 closes the real
 * one), so what PQfinish writes at close goes nowhere; passthru_close
 * writes nothing to a closed descriptor. */
static void server_let_go(struct server *s)
{
	int fd = server_fd(s);

	if (s->raw != NULL) {
		close(s->raw->fd);
		s->raw->fd = -1;
		return;
	}
	if (s->conn == NULL)
		return;
	while (dup2(s->handoff_spare, fd) < 0 && errno == EINTR)
		;
	close(s->handoff_spare);
}

void server_handoff_done(struct server *s)
{
	if (!s->moving || s->state == SERVER_CLOSED)
		return;
	server_forget_peer(s);
	server_close(s, NULL); /* lets go: it is moving */
}

void server_handoff_back(struct server *s)
{
	if (!s->moving)
		return;
	s->moving = false;
	if (s->conn != NULL)
		close(s->handoff_spare);
	if (s->state == SERVER_CLOSED)
		return;
	io_read(s->io, true);
	if (s->peer.io == NULL)
		server_become_idle(s);
}

struct server *server_moving_by_key(struct worker *w, uint32_t pid,
				    uint32_t secret)
{
	struct server *s;

	TAILQ_FOREACH(s, &w->servers, link)
	{
		if (s->moving && (uint32_t)s->backend_pid == pid &&
		    s->handoff_secret == secret)
			return s;
	}
	return NULL;
}

/* The pool a handed-over server belongs to here: found, or made the way a
 * login to its database as its user would make it. */
static struct dbpool *server_adopt_pool(struct worker *w,
					const struct handoff_server *hs)
{
	struct dbpool *p = dbpool_find(w, hs->alias, hs->user);
	const char *why;
	char msg[256];

	if (p == NULL)
		p = dbpool_for_login(w, hs->alias, hs->user, &why, msg,
				     sizeof(msg));
	if (p == NULL || strcmp(p->alias, hs->alias) != 0 ||
	    strcmp(p->user, hs->user) != 0)
		return NULL;
	return p;
}

/* The pass-through connection an adopted server talks through. */
static struct passthru_conn *server_adopt_conn(int fd,
					       const struct handoff_server *hs)
{
	struct passthru_conn *raw = calloc(1, sizeof(*raw));

	if (raw == NULL)
		return NULL;
	raw->fd = fd;
	raw->pid = hs->pid;
	raw->key = hs->secret;
	raw->addr_len = sizeof(raw->addr);
	if (getpeername(fd, (struct sockaddr *)&raw->addr, &raw->addr_len) !=
		0 ||
	    !params_copy(&raw->params, &hs->params)) {
		params_clear(&raw->params);
		free(raw);
		return NULL;
	}
	return raw;
}

struct server *server_adopt(struct worker *w, int fd,
			    const struct handoff_server *hs)
{
	struct dbpool *p = server_adopt_pool(w, hs);
	struct server *s;

	if (p == NULL || p->pool.paused || dbpool_db_disabled(w, p->alias) ||
	    pool_total(&p->pool) >= p->pool.lim.max ||
	    (s = server_new(p, POOL_SLOT_ACTIVE)) == NULL) {
		close(fd);
		return NULL;
	}
	s->state = SERVER_RESETTING; /* not handed out before the ack */
	s->moving = true;
	s->raw = server_adopt_conn(fd, hs);
	if (s->raw == NULL) {
		close(fd);
		server_close(s, NULL);
		return NULL;
	}
	s->backend_pid = (int)hs->pid;
	s->xact = 'I';
	s->created_ms = worker_now_ms() - hs->age_ms;
	if (server_attach(s) != 0 || !params_copy(&s->params, &hs->params)) {
		server_handoff_drop(s);
		return NULL;
	}
	io_read(s->io, false);
	if (!p->have_params)
		p->have_params = params_copy(&p->params, &s->params);
	return s;
}

void server_adopted_start(struct server *s)
{
	s->moving = false;
	log_debug("server taken over", LF_STR("pool", s->pool->pool.name),
		  LF_INT("backend_pid", s->backend_pid));
	io_read(s->io, true);
	if (s->peer.io == NULL)
		server_become_idle(s);
}

void server_handoff_drop(struct server *s)
{
	server_forget_peer(s);
	server_close(s, NULL); /* lets go: it is moving */
}
