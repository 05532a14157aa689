/* Console sessions: the welcome, the query loop (simple protocol only, one
 * command per query), the SHOW commands read from the worker's sessions
 * and counters, and the control commands. Replies are built in a private
 * buffer and sent whole, as PgBouncer does. */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <libpq-fe.h>

#include "admin_parse.h"
#include "admin_show.h"
#include "client.h"
#include "io.h"
#include "janitor.h"
#include "login.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "relay.h"
#include "reload.h"
#include "server.h"

#ifndef PITLANE_VERSION
#define PITLANE_VERSION "0.0.0"
#endif

#define ADMIN_QUERY_MAX 4096	    /* longest console query read */
#define ADMIN_DB	"pgbouncer" /* the console's database and user */
#define ADMIN_POOL_SIZE 2	    /* PgBouncer's for its admin db */
/* What SHOW VERSION and server_version claim: the column sets served are
 * PgBouncer 1.18's. */
#define ADMIN_COMPAT_VERSION "1.18.0"

/* What a console command waits for before its reply (client's
 * console_wait). */
enum admin_wait {
	ADMIN_WAIT_NONE,
	ADMIN_WAIT_PAUSE, /* every server closed */
	ADMIN_WAIT_STALE, /* no server from before a RECONNECT left */
};

/* SHUTDOWN WAIT_FOR_*: when the process may exit (worker's
 * console_shutdown). */
enum admin_shutdown {
	ADMIN_SHUTDOWN_NONE,
	ADMIN_SHUTDOWN_SERVERS, /* every server released and closed */
	ADMIN_SHUTDOWN_CLIENTS, /* the last pool client gone */
};

/* A reply being built: messages go to `out`, one at a time through `w`. */
struct admin_reply {
	struct client *c;
	struct evbuffer *out;
	bool failed; /* a message did not fit, or out of memory */
	struct proto_writer w;
	uint8_t buf[ADMIN_ROW_MAX];
	int64_t now_ms; /* monotonic */
	int64_t wall_s; /* the same instant on the wall clock */
};

static bool admin_reply_init(struct admin_reply *r, struct client *c)
{
	r->c = c;
	r->out = evbuffer_new();
	r->failed = r->out == NULL;
	r->now_ms = worker_now_ms();
	r->wall_s = (int64_t)time(NULL);
	proto_writer_init(&r->w, r->buf, sizeof(r->buf));
	return !r->failed;
}

/* Moves the message(s) written to r->w into the reply. */
static void admin_put(struct admin_reply *r)
{
	if (r->w.overflow || r->out == NULL ||
	    evbuffer_add(r->out, r->buf, r->w.len) != 0)
		r->failed = true;
	proto_writer_init(&r->w, r->buf, sizeof(r->buf));
}

/* Sends a reply, or "no mem" when it could not be built whole. */
static void admin_send(struct admin_reply *r)
{
	struct client *c = r->c;
	struct evbuffer *out = io_output(c->io);

	if (r->failed) {
		proto_writer_init(&r->w, r->buf, sizeof(r->buf));
		admin_write_error(&r->w, "08P01", "no mem");
		evbuffer_add(out, r->buf, r->w.len);
	} else {
		c->w->console_stats.bytes_out += evbuffer_get_length(r->out);
		evbuffer_add_buffer(out, r->out);
	}
	if (r->out != NULL)
		evbuffer_free(r->out);
	r->out = NULL;
	io_flush(c->io);
}

static void admin_error(struct client *c, const char *message)
{
	uint8_t buf[1024];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_error(&w, "08P01", message);
	if (!w.overflow)
		evbuffer_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

static void admin_errorf(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void admin_errorf(struct client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	admin_error(c, msg);
}

/* The welcome: AuthenticationOk, the ParameterStatus values drivers need
 * (psycopg2 fails without client_encoding; lib/pq reads server_version as
 * %d.%d; a DateStyle not starting with ISO makes psycopg2 send SET),
 * BackendKeyData, ReadyForQuery. */
static void admin_start(struct client *c)
{
	const char *app = params_get(&c->want, "application_name");
	static const char *const fixed[][2] = {
	    {"server_version", ADMIN_COMPAT_VERSION "/bouncer"},
	    {"client_encoding", "UTF8"},
	    {"server_encoding", "UTF8"},
	    {"DateStyle", "ISO"},
	    {"TimeZone", "GMT"},
	    {"standard_conforming_strings", "on"},
	    {"integer_datetimes", "on"},
	    {"is_superuser", "on"},
	};
	uint8_t buf[2048];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_auth_ok(&w);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		proto_write_parameter_status(&w, fixed[i][0], fixed[i][1]);
	proto_write_parameter_status(&w, "application_name",
				     app != NULL ? app : "");
	proto_write_backend_key(&w, c->key_pid, c->key_secret);
	proto_write_ready(&w, 'I');
	if (w.overflow) {
		client_close(c, "54000", "application_name too long");
		return;
	}
	evbuffer_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* CommandComplete `tag` and ReadyForQuery. */
static void admin_done(struct client *c, const char *tag)
{
	uint8_t buf[ADMIN_VALUE_MAX + 64];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_done(&w, tag);
	if (!w.overflow)
		evbuffer_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* Rows. */

static void admin_row(struct admin_reply *r, const struct admin_table *t,
		      const struct admin_val *v)
{
	admin_write_row(&r->w, t, v);
	admin_put(r);
}

/* A monotonic instant as wall-clock seconds. */
static int64_t admin_wall(const struct admin_reply *r, int64_t mono_ms)
{
	return r->wall_s - (r->now_ms - mono_ms) / 1000;
}

/* Whether the console's own pseudo-database has a row: not when the pool's
 * database is itself named pgbouncer (the labels would repeat). */
static bool admin_db_row(const struct worker *w)
{
	return strcmp(w->cfg->dbname, ADMIN_DB) != 0;
}

/* Whether the pool's rows sort before the console's (PgBouncer keeps
 * databases and pools ordered by name). */
static bool admin_pool_first(const struct worker *w)
{
	return strcmp(w->cfg->dbname, ADMIN_DB) < 0;
}

/* Client and server counts by what SHOW POOLS calls them. */
struct admin_counts {
	unsigned cl_active, cl_waiting, cl_console, cl_login;
	unsigned sv_active, sv_idle, sv_used, sv_tested, sv_login;
	unsigned sv_canceling, servers;
};

static bool admin_server_used(const struct server *s, int64_t now)
{
	const struct config *cfg = s->w->cfg;

	return s->state == SERVER_IDLE && cfg->server_check_query != NULL &&
	       now - s->slot.since_ms >= cfg->server_check_delay_ms;
}

static void admin_count(const struct worker *w, int64_t now,
			struct admin_counts *n)
{
	const struct client *c;
	const struct server *s;

	memset(n, 0, sizeof(*n));
	TAILQ_FOREACH(c, &w->clients, link)
	{
		if (c->state == CLIENT_IDLE || c->state == CLIENT_ACTIVE)
			n->cl_active++;
		else if (c->state == CLIENT_WAITING || c->state == CLIENT_LOGIN)
			n->cl_waiting++;
		else if (c->state == CLIENT_CONSOLE)
			n->cl_console++;
		else if (c->state == CLIENT_STARTUP || c->state == CLIENT_AUTH)
			n->cl_login++;
	}
	TAILQ_FOREACH(s, &w->servers, link)
	{
		n->servers++;
		if (s->state == SERVER_ACTIVE && s->cancels > 0)
			n->sv_canceling++;
		else if (s->state == SERVER_ACTIVE)
			n->sv_active++;
		else if (admin_server_used(s, now))
			n->sv_used++;
		else if (s->state == SERVER_IDLE)
			n->sv_idle++;
		else if (s->state == SERVER_RESETTING)
			n->sv_tested++;
		else if (s->state == SERVER_CONNECTING)
			n->sv_login++;
	}
}

static void admin_pools_pool(struct admin_reply *r, const struct admin_table *t,
			     const struct admin_counts *n)
{
	const struct worker *w = r->c->w;
	int64_t wait = pool_wait_max_ms(&w->pool, r->now_ms);
	struct admin_val v[] = {
	    AV_STR(w->cfg->dbname),
	    AV_STR(w->cfg->user),
	    AV_INT(n->cl_active),
	    AV_INT(n->cl_waiting),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(n->sv_active),
	    AV_INT(0),
	    AV_INT(n->sv_canceling),
	    AV_INT(n->sv_idle),
	    AV_INT(n->sv_used),
	    AV_INT(n->sv_tested),
	    AV_INT(n->sv_login),
	    AV_INT(wait / 1000),
	    AV_INT(wait % 1000 * 1000),
	    AV_STR(w->mode->name),
	};
	admin_row(r, t, v);
}

static void admin_pools_console(struct admin_reply *r,
				const struct admin_table *t,
				const struct admin_counts *n)
{
	struct admin_val v[16];

	for (unsigned i = 0; i < 16; i++)
		v[i] = AV_INT(0);
	v[0] = AV_STR(ADMIN_DB);
	v[1] = AV_STR(ADMIN_DB);
	v[2] = AV_INT(n->cl_console);
	v[15] = AV_STR("statement");
	admin_row(r, t, v);
}

static void admin_show_pools(struct admin_reply *r, const struct admin_table *t)
{
	struct admin_counts n;
	bool console = admin_db_row(r->c->w);

	admin_count(r->c->w, r->now_ms, &n);
	if (console && !admin_pool_first(r->c->w))
		admin_pools_console(r, t, &n);
	admin_pools_pool(r, t, &n);
	if (console && admin_pool_first(r->c->w))
		admin_pools_console(r, t, &n);
}

/* The figures of one STATS row: totals, then the per-period averages. */
struct admin_stats {
	const char *db;
	uint64_t xacts, queries, recv, sent, xact_us, query_us, wait_us;
	uint64_t avg[7]; /* xacts/s, queries/s, recv/s, sent/s, µs/xact,
			    µs/query, wait µs/s */
};

static void admin_stats_of(const struct worker *w, bool console,
			   struct admin_stats *st)
{
	const struct metrics_counters *m =
	    console ? &w->console_stats : &w->pool.stats;

	memset(st, 0, sizeof(*st));
	st->db = console ? ADMIN_DB : w->cfg->dbname;
	st->xacts = m->xacts_total;
	st->queries = m->queries_total;
	st->recv = m->bytes_in;
	st->sent = m->bytes_out;
	st->xact_us = m->xact_us;
	st->query_us = m->query_us;
	st->wait_us = m->wait_us;
	if (!console) {
		const struct metrics_rates *a = &w->pool.period.rates;
		uint64_t avg[7] = {a->xact_count, a->query_count, a->recv,
				   a->sent,	  a->xact_time,	  a->query_time,
				   a->wait_time};
		memcpy(st->avg, avg, sizeof(avg));
	}
}

static void admin_stats_row(struct admin_reply *r, const struct admin_table *t,
			    const struct admin_stats *st)
{
	struct admin_val v[15] = {
	    AV_STR(st->db),	  AV_INT(st->xacts),   AV_INT(st->queries),
	    AV_INT(st->recv),	  AV_INT(st->sent),    AV_INT(st->xact_us),
	    AV_INT(st->query_us), AV_INT(st->wait_us),
	};

	for (unsigned i = 0; i < 7; i++)
		v[8 + i] = AV_INT(st->avg[i]);
	if (t->id == ADMIN_SHOW_STATS) {
		admin_row(r, t, v);
		return;
	}
	if (t->id == ADMIN_SHOW_STATS_AVERAGES)
		for (unsigned i = 0; i < 7; i++)
			v[1 + i] = AV_INT(st->avg[i]);
	admin_row(r, t, v); /* the first 8 values */
}

/* SHOW STATS, STATS_TOTALS, STATS_AVERAGES: one row per database. */
static void admin_show_stats(struct admin_reply *r, const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	struct admin_stats pool, console;

	admin_stats_of(w, false, &pool);
	admin_stats_of(w, true, &console);
	if (admin_db_row(w) && !admin_pool_first(w))
		admin_stats_row(r, t, &console);
	admin_stats_row(r, t, &pool);
	if (admin_db_row(w) && admin_pool_first(w))
		admin_stats_row(r, t, &console);
}

/* SHOW TOTALS: each figure summed over the databases. */
static void admin_show_totals(struct admin_reply *r,
			      const struct admin_table *t)
{
	static const char *const names[] = {
	    "xact_count", "query_count", "client_bytes", "server_bytes",
	    "xact_time",  "query_time",	 "wait_time",
	};
	const struct worker *w = r->c->w;
	struct admin_stats a, b;
	char name[64];

	admin_stats_of(w, false, &a);
	admin_stats_of(w, true, &b);
	uint64_t total[7] = {
	    a.xacts + b.xacts,	   a.queries + b.queries,
	    a.recv + b.recv,	   a.sent + b.sent,
	    a.xact_us + b.xact_us, a.query_us + b.query_us,
	    a.wait_us + b.wait_us,
	};
	for (unsigned i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "%s_%s", i < 7 ? "total" : "avg",
			 names[i % 7]);
		struct admin_val v[2] = {
		    AV_STR(name),
		    AV_INT(i < 7 ? total[i] : a.avg[i - 7] + b.avg[i - 7]),
		};
		admin_row(r, t, v);
	}
}

/* The columns SERVERS, CLIENTS and SOCKETS share, for one connection. */
struct admin_sock {
	char type;
	const char *user, *db, *state;
	char addr[64], local[64];
	int port, local_port;
	int64_t connect_s, request_s;
	int64_t wait_ms;
	bool close_needed;
	const void *ptr, *link;
	int remote_pid;
	char tls[128];
	const char *app;
	size_t recv, send; /* buffered bytes, SOCKETS only */
};

static void admin_sock_row(struct admin_reply *r, const struct admin_table *t,
			   const struct admin_sock *k)
{
	char type[2] = {k->type, '\0'}, ptr[32], link[32] = "";
	struct admin_val v[25] = {
	    AV_STR(type),
	    AV_STR(k->user),
	    AV_STR(k->db),
	    AV_STR(k->state),
	    AV_STR(k->addr),
	    AV_INT(k->port),
	    AV_STR(k->local),
	    AV_INT(k->local_port),
	    AV_TIME(k->connect_s),
	    AV_TIME(k->request_s),
	    AV_INT(k->wait_ms / 1000),
	    AV_INT(k->wait_ms % 1000 * 1000),
	    AV_INT(k->close_needed),
	    AV_STR(ptr),
	    AV_STR(link),
	    AV_INT(k->remote_pid),
	    AV_STR(k->tls),
	    AV_STR(k->app),
	    AV_INT(k->recv),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(k->send),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(0),
	};

	snprintf(ptr, sizeof(ptr), "%p", k->ptr);
	if (k->link != NULL)
		snprintf(link, sizeof(link), "%p", k->link);
	admin_row(r, t, v);
}

static const char *admin_client_state(const struct client *c, bool sockets)
{
	switch (c->state) {
	case CLIENT_STARTUP:
	case CLIENT_AUTH:
		return sockets ? "cl_login" : NULL;
	case CLIENT_WAITING:
	case CLIENT_LOGIN:
		return sockets ? "cl_waiting" : "waiting";
	case CLIENT_IDLE:
	case CLIENT_ACTIVE:
	case CLIENT_CONSOLE:
		return sockets ? "cl_active" : "active";
	default:
		return NULL;
	}
}

static void admin_tls_text(SSL *ssl, char *buf, size_t cap)
{
	if (ssl == NULL) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, cap, "%s/%s", SSL_get_version(ssl),
		 SSL_get_cipher_name(ssl));
}

static void admin_client_sock(struct admin_reply *r, struct client *c,
			      const char *state, struct admin_sock *k)
{
	const char *app = params_get(&c->want, "application_name");

	memset(k, 0, sizeof(*k));
	k->type = 'C';
	k->user = c->user[0] ? c->user : "(nouser)";
	k->db = c->db[0] ? c->db : "(nodb)";
	k->state = state;
	if (c->unix_socket)
		snprintf(k->addr, sizeof(k->addr), "unix");
	else
		snprintf(k->addr, sizeof(k->addr), "%s", c->ip);
	k->port = c->port;
	net_sock_name(io_fd(c->io), true, k->local, sizeof(k->local),
		      &k->local_port);
	k->connect_s = c->connect_wall_s;
	k->request_s = admin_wall(r, c->last_active_ms);
	if (c->waiter.queued)
		k->wait_ms = r->now_ms - c->waiter.since_ms;
	k->ptr = c;
	k->link = c->server;
	admin_tls_text(c->tls ? io_ssl(c->io) : NULL, k->tls, sizeof(k->tls));
	k->app = app != NULL ? app : "";
	k->recv = evbuffer_get_length(io_input(c->io));
	k->send = io_unsent(c->io);
}

static const char *admin_server_state(const struct server *s, int64_t now,
				      bool sockets)
{
	static const char *const names[][2] = {
	    {"new", "sv_login"},
	    {"idle", "sv_idle"},
	    {"active", "sv_active"},
	    {"tested", "sv_tested"},
	    {"being_canceled", "sv_active"},
	    {"used", "sv_used"},
	};
	unsigned i;

	switch (s->state) {
	case SERVER_CONNECTING:
		i = 0;
		break;
	case SERVER_IDLE:
		i = admin_server_used(s, now) ? 5 : 1;
		break;
	case SERVER_ACTIVE:
		i = s->cancels > 0 ? 4 : 2;
		break;
	case SERVER_RESETTING:
		i = 3;
		break;
	default:
		return NULL;
	}
	return names[i][sockets];
}

static void admin_server_sock(struct admin_reply *r, struct server *s,
			      const char *state, struct admin_sock *k)
{
	const struct config *cfg = s->w->cfg;
	int fd = s->conn != NULL ? PQsocket(s->conn) : -1;

	memset(k, 0, sizeof(*k));
	k->type = 'S';
	k->user = cfg->user;
	k->db = cfg->dbname;
	k->state = state;
	if (fd < 0 ||
	    !net_sock_name(fd, false, k->addr, sizeof(k->addr), &k->port))
		snprintf(k->addr, sizeof(k->addr), "%s", cfg->host);
	if (strcmp(k->addr, "unix") == 0 || k->port == 0)
		k->port = cfg->port;
	if (fd >= 0)
		net_sock_name(fd, true, k->local, sizeof(k->local),
			      &k->local_port);
	k->connect_s = admin_wall(r, s->created_ms);
	k->request_s = admin_wall(r, s->slot.since_ms);
	k->close_needed = pool_slot_stale(&s->w->pool, &s->slot);
	k->ptr = s;
	k->link = s->peer.io != NULL ? s->peer.ctx : NULL;
	k->remote_pid = s->backend_pid;
	if (s->conn != NULL && PQsslInUse(s->conn))
		snprintf(k->tls, sizeof(k->tls), "%s/%s",
			 PQsslAttribute(s->conn, "protocol"),
			 PQsslAttribute(s->conn, "cipher"));
	k->app = "";
	if (s->io != NULL) {
		k->recv = evbuffer_get_length(io_input(s->io));
		k->send = io_unsent(s->io);
	}
}

/* SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS. */
static void admin_show_sockets(struct admin_reply *r,
			       const struct admin_table *t)
{
	struct worker *w = r->c->w;
	bool clients = t->id != ADMIN_SHOW_SERVERS;
	bool servers = t->id != ADMIN_SHOW_CLIENTS;
	bool sockets =
	    t->id == ADMIN_SHOW_SOCKETS || t->id == ADMIN_SHOW_ACTIVE_SOCKETS;
	bool busy_only = t->id == ADMIN_SHOW_ACTIVE_SOCKETS;
	struct admin_sock k;
	struct client *c;
	struct server *s;

	TAILQ_FOREACH(c, &w->clients, link)
	{
		const char *st = admin_client_state(c, sockets);
		if (!clients || st == NULL)
			continue;
		admin_client_sock(r, c, st, &k);
		if (!busy_only || k.recv + k.send > 0)
			admin_sock_row(r, t, &k);
	}
	TAILQ_FOREACH(s, &w->servers, link)
	{
		const char *st = admin_server_state(s, r->now_ms, sockets);
		if (!servers || st == NULL)
			continue;
		admin_server_sock(r, s, st, &k);
		if (!busy_only || k.recv + k.send > 0)
			admin_sock_row(r, t, &k);
	}
}

static void admin_databases_pool(struct admin_reply *r,
				 const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	const struct config *cfg = w->cfg;
	bool unix_host = cfg->host[0] == '/';
	struct admin_val v[13] = {
	    AV_STR(cfg->dbname),
	    unix_host ? AV_NULL : AV_STR(cfg->host),
	    AV_INT(cfg->port),
	    AV_STR(cfg->dbname),
	    AV_STR(cfg->user),
	    AV_INT(cfg->pool_max),
	    AV_INT(cfg->pool_min),
	    AV_INT(0),
	    AV_NULL, /* the mode is pitlane's, not set per database */
	    AV_INT(cfg->pool_max),
	    AV_INT(pool_total(&w->pool)),
	    AV_INT(w->pool.paused),
	    AV_INT(w->disabled),
	};
	admin_row(r, t, v);
}

static void admin_databases_console(struct admin_reply *r,
				    const struct admin_table *t)
{
	struct admin_val v[13] = {
	    AV_STR(ADMIN_DB),
	    AV_NULL,
	    AV_INT(r->c->w->cfg->listen_port),
	    AV_STR(ADMIN_DB),
	    AV_STR(ADMIN_DB),
	    AV_INT(ADMIN_POOL_SIZE),
	    AV_INT(0),
	    AV_INT(0),
	    AV_STR("statement"),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(0),
	};
	admin_row(r, t, v);
}

static void admin_show_databases(struct admin_reply *r,
				 const struct admin_table *t)
{
	const struct worker *w = r->c->w;

	if (admin_db_row(w) && !admin_pool_first(w))
		admin_databases_console(r, t);
	admin_databases_pool(r, t);
	if (admin_db_row(w) && admin_pool_first(w))
		admin_databases_console(r, t);
}

static int admin_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The users PgBouncer would list: the console's, the pool's (forced)
 * user, and the auth file's; sorted, once each. Returns how many are in
 * *out (malloc'd, the caller frees), or -1 when out of memory. */
static int admin_users(const struct worker *w, const char ***out)
{
	const struct authfile *af = w->creds != NULL ? w->creds->file : NULL;
	unsigned nf = af != NULL ? authfile_count(af) : 0;
	const char **v = malloc((nf + 2) * sizeof(*v));
	unsigned n = 0, k = 0;

	if (v == NULL)
		return -1;
	v[n++] = ADMIN_DB;
	v[n++] = w->cfg->user;
	for (unsigned i = 0; i < nf; i++)
		v[n++] = authfile_user(af, i);
	qsort(v, n, sizeof(*v), admin_strcmp);
	for (unsigned i = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	*out = v;
	return (int)k;
}

/* SHOW USERS: pool_mode is NULL: pitlane sets no mode per user. */
static void admin_show_users(struct admin_reply *r, const struct admin_table *t)
{
	const char **users;
	int n = admin_users(r->c->w, &users);

	if (n < 0) {
		r->failed = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct admin_val v[2] = {AV_STR(users[i]), AV_NULL};
		admin_row(r, t, v);
	}
	free(users);
}

static unsigned admin_user_count(const struct worker *w)
{
	const char **users;
	int n = admin_users(w, &users);

	if (n < 0)
		return 0;
	free(users);
	return (unsigned)n;
}

static void admin_show_lists(struct admin_reply *r, const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	struct admin_counts n;
	unsigned dbs = admin_db_row(w) ? 2 : 1;

	admin_count(w, r->now_ms, &n);
	const struct {
		const char *name;
		unsigned items;
	} rows[] = {
	    {"databases", dbs},
	    {"users", admin_user_count(w)},
	    {"pools", dbs},
	    {"free_clients", 0},
	    {"used_clients", w->nclients - n.cl_login},
	    {"login_clients", n.cl_login},
	    {"free_servers", 0},
	    {"used_servers", n.servers},
	    {"dns_names", 0},
	    {"dns_zones", 0},
	    {"dns_queries", 0},
	    {"dns_pending", 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct admin_val v[2] = {AV_STR(rows[i].name),
					 AV_INT(rows[i].items)};
		admin_row(r, t, v);
	}
}

/* SHOW MEM: PgBouncer's caches are slabs; pitlane's objects are malloc'd
 * one by one, so size is an object's size and free is 0. */
static void admin_show_mem(struct admin_reply *r, const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	struct admin_counts n;

	admin_count(w, r->now_ms, &n);
	const struct {
		const char *name;
		size_t size;
		unsigned used;
	} rows[] = {
	    {"user_cache", 0, admin_user_count(w)},
	    {"db_cache", 0, admin_db_row(w) ? 2 : 1},
	    {"pool_cache", sizeof(struct pool), 1},
	    {"server_cache", sizeof(struct server), n.servers},
	    {"client_cache", sizeof(struct client), w->nclients},
	    {"iobuf_cache", 0, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct admin_val v[5] = {
		    AV_STR(rows[i].name),
		    AV_INT(rows[i].size),
		    AV_INT(rows[i].used),
		    AV_INT(0),
		    AV_INT(rows[i].size * rows[i].used),
		};
		admin_row(r, t, v);
	}
}

static void admin_show_version(struct admin_reply *r,
			       const struct admin_table *t)
{
	struct admin_val v[1] = {
	    AV_STR("PgBouncer " ADMIN_COMPAT_VERSION
		   " (pitlane " PITLANE_VERSION ")"),
	};
	admin_row(r, t, v);
}

static void admin_show_state(struct admin_reply *r, const struct admin_table *t)
{
	bool paused = r->c->w->pool.paused;
	struct admin_val a[2] = {AV_STR("active"),
				 AV_STR(paused ? "no" : "yes")};
	struct admin_val p[2] = {AV_STR("paused"),
				 AV_STR(paused ? "yes" : "no")};
	struct admin_val s[2] = {AV_STR("suspended"), AV_STR("no")};

	admin_row(r, t, a);
	admin_row(r, t, p);
	admin_row(r, t, s);
}

static void admin_show_config(struct admin_reply *r,
			      const struct admin_table *t)
{
	const struct config *cfg = r->c->w->cfg;
	struct config_setting_info info;

	for (unsigned i = 0; i < config_setting_count(); i++) {
		config_setting_info(cfg, i, &info);
		struct admin_val v[4] = {
		    AV_STR(info.key),
		    AV_STR(info.value),
		    AV_STR(info.def),
		    AV_STR(info.changeable ? "yes" : "no"),
		};
		admin_row(r, t, v);
	}
}

static void admin_show_param(struct admin_reply *r, const struct admin_table *t)
{
	struct admin_val v[1] = {AV_STR(t->value)};

	admin_row(r, t, v);
}

/* The rows of a SHOW with columns. */
static void admin_show_rows(struct admin_reply *r, const struct admin_table *t)
{
	switch (t->id) {
	case ADMIN_SHOW_POOLS:
		admin_show_pools(r, t);
		break;
	case ADMIN_SHOW_STATS:
	case ADMIN_SHOW_STATS_TOTALS:
	case ADMIN_SHOW_STATS_AVERAGES:
		admin_show_stats(r, t);
		break;
	case ADMIN_SHOW_TOTALS:
		admin_show_totals(r, t);
		break;
	case ADMIN_SHOW_SERVERS:
	case ADMIN_SHOW_CLIENTS:
	case ADMIN_SHOW_SOCKETS:
	case ADMIN_SHOW_ACTIVE_SOCKETS:
		admin_show_sockets(r, t);
		break;
	case ADMIN_SHOW_DATABASES:
		admin_show_databases(r, t);
		break;
	case ADMIN_SHOW_USERS:
		admin_show_users(r, t);
		break;
	case ADMIN_SHOW_LISTS:
		admin_show_lists(r, t);
		break;
	case ADMIN_SHOW_CONFIG:
		admin_show_config(r, t);
		break;
	case ADMIN_SHOW_MEM:
		admin_show_mem(r, t);
		break;
	case ADMIN_SHOW_VERSION:
		admin_show_version(r, t);
		break;
	case ADMIN_SHOW_STATE:
		admin_show_state(r, t);
		break;
	case ADMIN_SHOW_PARAM:
		admin_show_param(r, t);
		break;
	default:
		break; /* DNS_HOSTS, DNS_ZONES: pitlane keeps no DNS cache */
	}
}

static void admin_show(struct client *c, const struct admin_cmd *cmd,
		       const char *query)
{
	const struct admin_table *t =
	    cmd->has_arg ? admin_show_find(cmd->arg) : NULL;
	struct admin_reply *r;

	if (t == NULL) {
		admin_errorf(c, "invalid command '%s', use SHOW HELP;", query);
		return;
	}
	if (t->admin_only && c->console != CONSOLE_ADMIN) {
		admin_error(c, "admin access needed");
		return;
	}
	if (t->id == ADMIN_SHOW_FDS) {
		admin_error(c, "SHOW FDS is not supported: pitlane has no "
			       "online restart (takeover)");
		return;
	}
	r = malloc(sizeof(*r));
	if (r == NULL || !admin_reply_init(r, c)) {
		if (r != NULL && r->out != NULL)
			evbuffer_free(r->out);
		free(r);
		admin_error(c, "no mem");
		return;
	}
	if (t->id == ADMIN_SHOW_HELP) {
		admin_write_notice(&r->w, "Console usage", admin_help_text);
	} else {
		admin_write_header(&r->w, t);
		admin_put(r);
		admin_show_rows(r, t);
	}
	admin_write_done(&r->w, "SHOW");
	admin_put(r);
	admin_send(r);
	free(r);
}

/* The parameters drivers SET at connect (psycopg2's datestyle): accepted
 * from anyone and ignored, as PgBouncer does. */
static bool admin_fake_param(const char *key)
{
	const struct admin_table *t = admin_show_find(key);

	return t != NULL && t->id == ADMIN_SHOW_PARAM;
}

static void admin_set_ignored(struct client *c)
{
	uint8_t buf[256];
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_notice(&w, "SET ignored", NULL);
	admin_write_done(&w, "SET");
	evbuffer_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* Control commands. */

/* Checks a command's database argument: none (every database), the pool's,
 * or an error for the console's own or an unknown one. `verb` names the
 * command in PgBouncer's "cannot X admin db" message. */
static bool admin_db_arg(struct client *c, const struct admin_cmd *cmd,
			 const char *verb, bool required)
{
	if (!cmd->has_arg) {
		if (required)
			admin_error(c, "a database is required");
		return !required;
	}
	if (strcmp(cmd->arg, ADMIN_DB) == 0 && admin_db_row(c->w)) {
		admin_errorf(c, "cannot %s admin db: %s", verb, cmd->arg);
		return false;
	}
	if (strcmp(cmd->arg, c->w->cfg->dbname) != 0) {
		admin_errorf(c, "no such database: %s", cmd->arg);
		return false;
	}
	return true;
}

/* Closes the servers no client holds: idle, connecting, being checked. A
 * linked server closes when its client releases it (pool_keeps). */
static void admin_close_unlinked(struct worker *w, bool stale_only)
{
	struct server *s, *next;

	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->state == SERVER_ACTIVE)
			continue;
		if (stale_only && !pool_slot_stale(&w->pool, &s->slot))
			continue;
		if (s->state == SERVER_RESETTING && s->peer.io != NULL)
			continue; /* cleaning after its client; back soon */
		server_close(s, NULL);
	}
}

/* Holds the reply until the condition of `what` holds (admin_tick). */
static void admin_wait_for(struct client *c, enum admin_wait what)
{
	c->console_wait = (uint8_t)what;
	c->w->console_waits++;
	admin_tick(c->w);
}

/* PAUSE [db]: no server is handed out or connected any more; in-flight
 * transactions finish, their servers close as they come back, and the
 * reply waits until every server is closed. */
static void admin_pause(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;

	if (!admin_db_arg(c, cmd, "pause", false))
		return;
	if (w->shutting_down || w->console_shutdown != ADMIN_SHUTDOWN_NONE) {
		admin_error(c, "pooler is shutting down");
		return;
	}
	if (w->pool.paused) {
		admin_error(c, "already suspended/paused");
		return;
	}
	pool_pause(&w->pool);
	log_info("pool paused", LF_STR("pool", w->pool.name),
		 LF_STR("by", c->user),
		 LF_INT("servers_active", w->pool.count[POOL_SLOT_ACTIVE]));
	admin_close_unlinked(w, false);
	admin_wait_for(c, ADMIN_WAIT_PAUSE);
}

/* RESUME [db]: connects start at once (backoff reset), waiters are served
 * and their wait timeout counts from now. */
static void admin_resume(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;

	if (cmd->has_arg && !admin_db_arg(c, cmd, "resume", false))
		return;
	if (w->shutting_down || w->console_shutdown != ADMIN_SHUTDOWN_NONE) {
		admin_error(c, "pooler is shutting down");
		return;
	}
	if (!w->pool.paused) {
		if (cmd->has_arg)
			admin_errorf(c, "database %s is not paused", cmd->arg);
		else
			admin_error(c, "pooler is not paused/suspended");
		return;
	}
	pool_resume(&w->pool, worker_now_ms());
	log_info("pool resumed", LF_STR("pool", w->pool.name),
		 LF_STR("by", c->user),
		 LF_INT("clients_waiting", w->pool.nwaiting));
	admin_done(c, "RESUME");
	w->maintain(w);
}

/* RECONNECT [db]: idle servers are closed now, busy ones when released;
 * the pool refills with new connections. */
static void admin_reconnect(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;

	if (!admin_db_arg(c, cmd, "reconnect", false))
		return;
	pool_reconnect(&w->pool);
	log_info("pool reconnecting", LF_STR("pool", w->pool.name),
		 LF_STR("by", c->user));
	admin_close_unlinked(w, true);
	admin_done(c, "RECONNECT");
	w->maintain(w);
}

/* WAIT_CLOSE [db]: the reply waits until no server from before the last
 * RECONNECT is left. */
static void admin_wait_close(struct client *c, const struct admin_cmd *cmd)
{
	if (!admin_db_arg(c, cmd, "wait in", false))
		return;
	admin_wait_for(c, ADMIN_WAIT_STALE);
}

/* Disconnects every client of the pool (the console's stay). */
static void admin_kill_clients(struct worker *w)
{
	struct client *c, *next;

	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state != CLIENT_CONSOLE && c->state != CLIENT_CLOSING)
			client_close(c, "57P01",
				     "terminating connection due to "
				     "administrator command");
	}
}

/* KILL [db]: the pool is paused and every client and server of it is
 * dropped at once; RESUME lets new ones in. */
static void admin_kill(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;
	struct server *s, *next;

	if (!admin_db_arg(c, cmd, "kill", false))
		return;
	pool_pause(&w->pool);
	log_info("pool killed", LF_STR("pool", w->pool.name),
		 LF_STR("by", c->user), LF_INT("clients", w->nclients));
	admin_kill_clients(w);
	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		server_close(s, NULL);
	}
	admin_done(c, "KILL");
}

/* KILL_CLIENT ptr: the client whose SHOW CLIENTS `ptr` is given. The value
 * is compared with the live clients, never dereferenced. */
static void admin_kill_client(struct client *c, const struct admin_cmd *cmd)
{
	struct client *k;
	char *end;
	unsigned long long v;

	errno = 0;
	v = cmd->has_arg ? strtoull(cmd->arg, &end, 16) : 0;
	if (!cmd->has_arg || errno != 0 || *end != '\0' || v == 0) {
		admin_error(c, "invalid client pointer supplied");
		return;
	}
	TAILQ_FOREACH(k, &c->w->clients, link)
	{
		if ((uintptr_t)k != (uintptr_t)v || k->state == CLIENT_CLOSING)
			continue;
		log_info("client killed", LF_STR("client", k->addr),
			 LF_STR("by", c->user));
		admin_done(c, "KILL_CLIENT");
		client_close(k, "57P01",
			     "terminating connection due to administrator "
			     "command");
		return;
	}
	admin_error(c, "client not found");
}

/* DISABLE db / ENABLE db: new logins to the pool are refused / let in. */
static void admin_enable(struct client *c, const struct admin_cmd *cmd,
			 bool enable)
{
	if (!admin_db_arg(c, cmd, "disable", true))
		return;
	c->w->disabled = !enable;
	log_info(enable ? "database enabled" : "database disabled",
		 LF_STR("database", cmd->arg), LF_STR("by", c->user));
	admin_done(c, enable ? "ENABLE" : "DISABLE");
}

/* SHUTDOWN: at once, without a reply, as PgBouncer. WAIT_FOR_SERVERS:
 * PAUSE, then exit once every server is closed; WAIT_FOR_CLIENTS: exit once
 * the last pool client has left. Both stop TCP at once (the unix socket
 * stays for the console) and reply SHUTDOWN. */
static void admin_shutdown(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;

	if (!cmd->has_arg) {
		log_info("shutdown requested on the console",
			 LF_STR("by", c->user));
		if (w->listener != NULL)
			listener_disable(w->listener);
		janitor_shutdown(w);
		w->shutdown_deadline_ms = worker_now_ms(); /* no grace */
		janitor_run(w);
		return;
	}
	if (strcasecmp(cmd->arg, "wait_for_servers") == 0)
		w->console_shutdown = ADMIN_SHUTDOWN_SERVERS;
	else if (strcasecmp(cmd->arg, "wait_for_clients") == 0)
		w->console_shutdown = ADMIN_SHUTDOWN_CLIENTS;
	else {
		admin_error(c, "bad arguments");
		return;
	}
	log_info("shutdown requested on the console", LF_STR("by", c->user),
		 LF_STR("wait_for", cmd->arg));
	if (w->listener != NULL)
		listener_close_tcp(w->listener);
	if (w->console_shutdown == ADMIN_SHUTDOWN_SERVERS && !w->pool.paused) {
		pool_pause(&w->pool);
		admin_close_unlinked(w, false);
	}
	admin_done(c, "SHUTDOWN");
	admin_tick(w);
}

/* SET key = value: through the reload path, which validates the value and
 * applies it like a changed line of the file. */
static void admin_set(struct client *c, const struct admin_cmd *cmd)
{
	char err[512], tag[ADMIN_ARG_MAX + ADMIN_VALUE_MAX + 8];

	if (!reload_set(c->w, cmd->arg, cmd->value, err, sizeof(err))) {
		admin_errorf(c, "SET failed: %s", err);
		return;
	}
	log_info("setting changed on the console", LF_STR("key", cmd->arg),
		 LF_STR("by", c->user));
	snprintf(tag, sizeof(tag), "SET %s=%s", cmd->arg, cmd->value);
	admin_done(c, tag);
}

/* RELOAD: the configuration files again, all or nothing. */
static void admin_reload(struct client *c, const struct admin_cmd *cmd,
			 const char *query)
{
	char err[512], msg[600];
	uint8_t buf[1024];
	struct proto_writer w;

	if (cmd->has_arg) {
		admin_errorf(c, "invalid command '%s', use SHOW HELP;", query);
		return;
	}
	log_info("reload requested on the console", LF_STR("by", c->user));
	if (reload_run(c->w, err, sizeof(err))) {
		admin_done(c, "RELOAD");
		return;
	}
	snprintf(msg, sizeof(msg),
		 "RELOAD failed, see logs for additional details: %s", err);
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_error(&w, "F0000", msg);
	if (!w.overflow)
		evbuffer_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* The control commands; the caller checked admin access. */
static void admin_control(struct client *c, const struct admin_cmd *cmd,
			  const char *query)
{
	switch (cmd->verb) {
	case ADMIN_PAUSE:
		admin_pause(c, cmd);
		break;
	case ADMIN_RESUME:
		admin_resume(c, cmd);
		break;
	case ADMIN_RECONNECT:
		admin_reconnect(c, cmd);
		break;
	case ADMIN_WAIT_CLOSE:
		admin_wait_close(c, cmd);
		break;
	case ADMIN_KILL:
		admin_kill(c, cmd);
		break;
	case ADMIN_KILL_CLIENT:
		admin_kill_client(c, cmd);
		break;
	case ADMIN_DISABLE:
	case ADMIN_ENABLE:
		admin_enable(c, cmd, cmd->verb == ADMIN_ENABLE);
		break;
	case ADMIN_SUSPEND:
		admin_error(c, "SUSPEND is not supported: pitlane has no "
			       "online restart to hand sockets to; use PAUSE");
		break;
	case ADMIN_SHUTDOWN:
		admin_shutdown(c, cmd);
		break;
	case ADMIN_SET:
		admin_set(c, cmd);
		break;
	case ADMIN_RELOAD:
		admin_reload(c, cmd, query);
		break;
	case ADMIN_SHOW:
		break;
	}
}

/* Runs one query. */
static void admin_run(struct client *c, const char *query, size_t len)
{
	struct admin_cmd cmd;

	c->w->console_stats.queries_total++;
	c->w->console_stats.xacts_total++;
	switch (admin_parse(query, len, &cmd)) {
	case ADMIN_PARSE_INVALID:
		admin_errorf(c, "invalid command '%s', use SHOW HELP;", query);
		return;
	case ADMIN_PARSE_BAD_ARGS:
		admin_error(c, "bad arguments");
		return;
	case ADMIN_PARSE_OK:
		break;
	}
	if (cmd.verb == ADMIN_SHOW) {
		admin_show(c, &cmd, query);
		return;
	}
	if (cmd.verb == ADMIN_SET && admin_fake_param(cmd.arg)) {
		admin_set_ignored(c);
		return;
	}
	if (c->console != CONSOLE_ADMIN) {
		admin_error(c, "admin access needed");
		return;
	}
	admin_control(c, &cmd, query);
}

/* Reads the console client's messages: Query runs, Terminate leaves,
 * the extended protocol and anything else end the session. Input waits
 * while a command waits for its condition. */
static void admin_read(struct client *c)
{
	struct evbuffer *in = io_input(c->io);
	char query[ADMIN_QUERY_MAX + 1];
	struct relay_cursor cur;
	uint8_t type;
	uint32_t len;

	while (c->state == CLIENT_CONSOLE && c->console_wait == 0) {
		relay_cursor_init(&cur);
		switch (relay_peek(in, &cur, &type, &len)) {
		case PROTO_NEED_MORE:
			return;
		case PROTO_BAD:
			client_close(c, "08P01", "invalid message length");
			return;
		case PROTO_OK:
			break;
		}
		if (type == 'X') {
			client_close(c, NULL, NULL);
			return;
		}
		if (type == 'P' || type == 'B' || type == 'E') {
			/* As PgBouncer: an ERROR the driver reports for the
			 * query, then the session ends. */
			admin_error(c, "extended query protocol not supported "
				       "by admin console");
			client_close(c, "08P01", "bad packet");
			return;
		}
		if (type != 'Q') {
			char msg[96];
			snprintf(msg, sizeof(msg),
				 "unsupported packet type for admin console: "
				 "%d",
				 type);
			client_close(c, "08P01", msg);
			return;
		}
		if (len - 4 > ADMIN_QUERY_MAX) {
			client_close(c, "08P01",
				     "query too long for the admin console");
			return;
		}
		if (evbuffer_get_length(in) < (size_t)len + 1)
			return;
		evbuffer_drain(in, PROTO_HEADER_LEN);
		evbuffer_remove(in, query, len - 4);
		query[len - 4] = '\0';
		c->w->console_stats.bytes_in += (uint64_t)len + 1;
		admin_run(c, query, strnlen(query, len - 4));
	}
}

/* Whether a waiting console command may be answered now. */
static bool admin_wait_over(const struct worker *w, const struct client *c)
{
	const struct server *s;

	switch (c->console_wait) {
	case ADMIN_WAIT_PAUSE:
		return !w->pool.paused || pool_total(&w->pool) == 0;
	case ADMIN_WAIT_STALE:
		TAILQ_FOREACH(s, &w->servers, link)
		if (pool_slot_stale(&w->pool, &s->slot))
			return false;
		return true;
	default:
		return false;
	}
}

/* Answers one waiting console command, then reads on. */
static void admin_wait_answer(struct client *c)
{
	struct worker *w = c->w;
	enum admin_wait what = c->console_wait;

	c->console_wait = ADMIN_WAIT_NONE;
	w->console_waits--;
	if (what == ADMIN_WAIT_PAUSE && !w->pool.paused) {
		admin_error(c, "PAUSE canceled: the pool was resumed");
	} else if (what == ADMIN_WAIT_PAUSE) {
		log_info("pool paused: every server closed",
			 LF_STR("pool", w->pool.name),
			 LF_INT("clients_waiting", w->pool.nwaiting));
		admin_done(c, "PAUSE");
	} else {
		admin_done(c, "WAIT_CLOSE");
	}
	admin_read(c);
}

/* Whether SHUTDOWN WAIT_FOR_* may end the process now. */
static bool admin_shutdown_due(const struct worker *w)
{
	const struct client *c;

	if (w->console_shutdown == ADMIN_SHUTDOWN_SERVERS)
		return pool_total(&w->pool) == 0;
	TAILQ_FOREACH(c, &w->clients, link)
	if (c->state != CLIENT_CONSOLE && c->state != CLIENT_CLOSING)
		return false;
	return true;
}

void admin_tick(struct worker *w)
{
	struct client *c;

	while (w->console_waits > 0) {
		TAILQ_FOREACH(c, &w->clients, link)
		if (c->console_wait != ADMIN_WAIT_NONE &&
		    c->state == CLIENT_CONSOLE && admin_wait_over(w, c))
			break;
		if (c == NULL)
			break;
		admin_wait_answer(c); /* may change the list: scan again */
	}
	if (w->console_shutdown != ADMIN_SHUTDOWN_NONE && !w->shutting_down &&
	    admin_shutdown_due(w)) {
		log_info("console shutdown: condition met",
			 LF_INT("clients", w->nclients));
		janitor_shutdown(w);
	}
}

/* A CancelRequest with a console client's key, during PAUSE: PgBouncer's
 * way out of a PAUSE that waits too long is a full RESUME. */
static void admin_cancel(struct client *c)
{
	struct worker *w = c->w;

	if (!w->pool.paused || w->shutting_down ||
	    w->console_shutdown != ADMIN_SHUTDOWN_NONE)
		return;
	log_info("console cancel: resuming the pool",
		 LF_STR("client", c->addr));
	pool_resume(&w->pool, worker_now_ms());
	w->maintain(w);
}

void admin_install(struct worker *w)
{
	w->console_start = admin_start;
	w->console_read = admin_read;
	w->console_cancel = admin_cancel;
}
