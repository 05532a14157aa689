/* The rows of the SHOW commands: one per pool, database, user or
 * connection as PgBouncer lays them out, sorted by name, read from the
 * worker at the time of the command. */
#include "admin_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "client.h"
#include "io.h"
#include "login.h"
#include "net.h"
#include "server.h"

#ifndef PITLANE_VERSION
#define PITLANE_VERSION "0.0.0"
#endif

/* Moves the message(s) written to r->w into the reply. */
void admin_put(struct admin_reply *r)
{
	if (r->w.overflow || r->out == NULL ||
	    buf_add(r->out, r->buf, r->w.len) != 0)
		r->failed = true;
	proto_writer_init(&r->w, r->buf, sizeof(r->buf));
}

void admin_row(struct admin_reply *r, const struct admin_table *t,
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
bool admin_db_row(const struct worker *w)
{
	return strcmp(w->cfg->dbname, ADMIN_DB) != 0;
}

/* The pools sorted by (database, user): PgBouncer keeps databases and
 * pools ordered by name. A malloc'd array of w->npools (the caller frees),
 * or NULL when out of memory. */
static struct dbpool **admin_sorted_pools(const struct worker *w);

/* Whether the console's row sorts before the pool named alias. */
static bool admin_console_before(const char *alias)
{
	return strcmp(ADMIN_DB, alias) < 0;
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

static void admin_count_client(const struct client *c, struct admin_counts *n)
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

static void admin_count_server(const struct server *s, int64_t now,
			       struct admin_counts *n)
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

/* The sessions of pool p (NULL: every session of the worker). */
static void admin_count(const struct worker *w, const struct dbpool *p,
			int64_t now, struct admin_counts *n)
{
	const struct client *c;
	const struct server *s;

	memset(n, 0, sizeof(*n));
	TAILQ_FOREACH(c, &w->clients, link)
	if (p == NULL || c->pool == p)
		admin_count_client(c, n);
	TAILQ_FOREACH(s, &w->servers, link)
	if (p == NULL || s->pool == p)
		admin_count_server(s, now, n);
}

static void admin_pools_pool(struct admin_reply *r, const struct admin_table *t,
			     const struct dbpool *p)
{
	struct admin_counts n;
	int64_t wait = pool_wait_max_ms(&p->pool, r->now_ms);

	admin_count(r->c->w, p, r->now_ms, &n);
	struct admin_val v[] = {
	    AV_STR(p->alias),
	    AV_STR(p->user),
	    AV_INT(n.cl_active),
	    AV_INT(n.cl_waiting),
	    AV_INT(0),
	    AV_INT(0),
	    AV_INT(n.sv_active),
	    AV_INT(0),
	    AV_INT(n.sv_canceling),
	    AV_INT(n.sv_idle),
	    AV_INT(n.sv_used),
	    AV_INT(n.sv_tested),
	    AV_INT(n.sv_login),
	    AV_INT(wait / 1000),
	    AV_INT(wait % 1000 * 1000),
	    AV_STR(p->mode->name),
	};
	admin_row(r, t, v);
}

static void admin_pools_console(struct admin_reply *r,
				const struct admin_table *t)
{
	struct admin_counts n;
	struct admin_val v[16];

	admin_count(r->c->w, NULL, r->now_ms, &n);
	for (unsigned i = 0; i < 16; i++)
		v[i] = AV_INT(0);
	v[0] = AV_STR(ADMIN_DB);
	v[1] = AV_STR(ADMIN_DB);
	v[2] = AV_INT(n.cl_console);
	v[15] = AV_STR("statement");
	admin_row(r, t, v);
}

/* SHOW POOLS: one row per pool, and the console's, by name. */
static void admin_show_pools(struct admin_reply *r, const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	struct dbpool **v = admin_sorted_pools(w);
	bool console = admin_db_row(w);

	if (v == NULL) {
		r->failed = true;
		return;
	}
	for (unsigned i = 0; i < w->npools; i++) {
		if (console && admin_console_before(v[i]->alias)) {
			admin_pools_console(r, t);
			console = false;
		}
		admin_pools_pool(r, t, v[i]);
	}
	if (console)
		admin_pools_console(r, t);
	free(v);
}

/* The figures of one STATS row: totals, then the per-period averages. */
struct admin_stats {
	const char *db;
	uint64_t xacts, queries, recv, sent, xact_us, query_us, wait_us;
	uint64_t avg[7]; /* xacts/s, queries/s, recv/s, sent/s, µs/xact,
			    µs/query, wait µs/s */
};

/* Adds pool p's figures to st (p NULL: the console's). */
static void admin_stats_add(const struct worker *w, const struct dbpool *p,
			    struct admin_stats *st)
{
	const struct metrics_counters *m =
	    p == NULL ? &w->console_stats : &p->pool.stats;

	st->db = p == NULL ? ADMIN_DB : p->alias;
	st->xacts += m->xacts_total;
	st->queries += m->queries_total;
	st->recv += m->bytes_in;
	st->sent += m->bytes_out;
	st->xact_us += m->xact_us;
	st->query_us += m->query_us;
	st->wait_us += m->wait_us;
	if (p != NULL) {
		const struct metrics_rates *a = &p->pool.period.rates;
		uint64_t avg[7] = {a->xact_count, a->query_count, a->recv,
				   a->sent,	  a->xact_time,	  a->query_time,
				   a->wait_time};
		for (unsigned i = 0; i < 7; i++)
			st->avg[i] += avg[i];
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

/* SHOW STATS, STATS_TOTALS, STATS_AVERAGES: one row per database (the
 * pools of its users summed), and the console's, by name. */
static void admin_show_stats(struct admin_reply *r, const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	struct dbpool **v = admin_sorted_pools(w);
	bool console = admin_db_row(w);
	struct admin_stats st;

	if (v == NULL) {
		r->failed = true;
		return;
	}
	for (unsigned i = 0; i < w->npools; i++) {
		if (console && admin_console_before(v[i]->alias)) {
			memset(&st, 0, sizeof(st));
			admin_stats_add(w, NULL, &st);
			admin_stats_row(r, t, &st);
			console = false;
		}
		if (i == 0 || strcmp(v[i - 1]->alias, v[i]->alias) != 0)
			memset(&st, 0, sizeof(st));
		admin_stats_add(w, v[i], &st);
		if (i + 1 == w->npools ||
		    strcmp(v[i + 1]->alias, v[i]->alias) != 0)
			admin_stats_row(r, t, &st);
	}
	if (console) {
		memset(&st, 0, sizeof(st));
		admin_stats_add(w, NULL, &st);
		admin_stats_row(r, t, &st);
	}
	free(v);
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
	const struct dbpool *p;
	struct admin_stats a = {0};
	char name[64];

	TAILQ_FOREACH(p, &w->pools, link)
	admin_stats_add(w, p, &a);
	admin_stats_add(w, NULL, &a);
	uint64_t total[7] = {
	    a.xacts,   a.queries,  a.recv,    a.sent,
	    a.xact_us, a.query_us, a.wait_us,
	};
	for (unsigned i = 0; i < 14; i++) {
		snprintf(name, sizeof(name), "%s_%s", i < 7 ? "total" : "avg",
			 names[i % 7]);
		struct admin_val v[2] = {
		    AV_STR(name),
		    AV_INT(i < 7 ? total[i] : a.avg[i - 7]),
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
	k->recv = io_input_length(c->io);
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
	int fd = server_fd(s);

	memset(k, 0, sizeof(*k));
	k->type = 'S';
	k->user = s->pool->user;
	k->db = s->pool->alias;
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
	k->close_needed = s->gen != s->pool->gen;
	k->ptr = s;
	k->link = s->peer.io != NULL ? s->peer.ctx : NULL;
	k->remote_pid = s->backend_pid;
	if (s->conn != NULL && PQsslInUse(s->conn))
		snprintf(k->tls, sizeof(k->tls), "%s/%s",
			 PQsslAttribute(s->conn, "protocol"),
			 PQsslAttribute(s->conn, "cipher"));
	k->app = "";
	if (s->io != NULL) {
		k->recv = buf_len(io_input(s->io));
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

/* max_connections: the database's max_db_connections, else its pool
 * size (what one user's pool may open). */
static int admin_db_max(const struct config *cfg, const struct db_entry *e,
			int size)
{
	if (e != NULL && e->max_db_connections > 0)
		return e->max_db_connections;
	return cfg->max_db_connections > 0 ? cfg->max_db_connections : size;
}

/* One SHOW DATABASES row: database alias name, its entry e (NULL for a
 * pool made from "*": then the "*" entry) and its first pool p (NULL when
 * it has none yet); servers counted over all its pools. */
static void admin_databases_row(struct admin_reply *r,
				const struct admin_table *t, const char *name,
				const struct db_entry *e,
				const struct dbpool *p, unsigned servers)
{
	const struct config *cfg = r->c->w->cfg;
	bool own = e != NULL && !e->is_default;
	const char *host = own && e->host != NULL ? e->host : cfg->host;
	int port = own && e->port != NULL ? atoi(e->port) : cfg->port;
	const char *dbname = p != NULL	 ? p->dbname
			     : !own	 ? cfg->dbname
			     : e->dbname ? e->dbname
					 : name;
	const char *user = !own ? cfg->user : e->user;
	int size = own ? e->pool_size : cfg->pool_max;
	struct admin_val v[13] = {
	    AV_STR(name),
	    host[0] == '/' ? AV_NULL : AV_STR(host),
	    AV_INT(port),
	    AV_STR(dbname),
	    user != NULL ? AV_STR(user) : AV_NULL,
	    AV_INT(size),
	    AV_INT(own ? e->min_pool_size : cfg->pool_min),
	    AV_INT(own && e->reserve_pool != DBCONF_UNSET ? e->reserve_pool
							  : cfg->reserve_pool),
	    own && e->pool_mode != DBCONF_UNSET
		? AV_STR(dbconf_pool_mode_name(e->pool_mode))
		: AV_NULL,
	    AV_INT(admin_db_max(cfg, own ? e : NULL, size)),
	    AV_INT(servers),
	    AV_INT((p != NULL && p->pool.paused) ||
		   dbpool_db_paused(r->c->w, name)),
	    AV_INT(dbpool_db_disabled(r->c->w, name)),
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

/* A database SHOW DATABASES lists: an entry's alias (not "*"), or the
 * alias of a pool made from "*". */
struct admin_db {
	const char *name;
	const struct db_entry *e;
};

static int admin_db_cmp(const void *a, const void *b)
{
	return strcmp(((const struct admin_db *)a)->name,
		      ((const struct admin_db *)b)->name);
}

/* The databases to list, sorted, in a malloc'd array (*n of them; the
 * caller frees); NULL when out of memory. */
static struct admin_db *admin_dbs(const struct worker *w, unsigned *n)
{
	const struct config *cfg = w->cfg;
	struct admin_db *v = malloc((cfg->ndbs + w->npools + 1) * sizeof(*v));
	const struct dbpool *p;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (unsigned i = 0; i < cfg->ndbs; i++)
		if (strcmp(cfg->dbs[i].alias, "*") != 0)
			v[(*n)++] =
			    (struct admin_db){cfg->dbs[i].alias, &cfg->dbs[i]};
	if (cfg->ndbs == 0)
		v[(*n)++] = (struct admin_db){cfg->pool_name, NULL};
	TAILQ_FOREACH(p, &w->pools, link)
	{
		bool listed = false;
		for (unsigned i = 0; i < *n && !listed; i++)
			listed = strcmp(v[i].name, p->alias) == 0;
		if (!listed)
			v[(*n)++] = (struct admin_db){p->alias, p->db};
	}
	qsort(v, *n, sizeof(*v), admin_db_cmp);
	return v;
}

/* SHOW DATABASES: one row per database, and the console's. */
static void admin_show_databases(struct admin_reply *r,
				 const struct admin_table *t)
{
	const struct worker *w = r->c->w;
	unsigned n;
	struct admin_db *v = admin_dbs(w, &n);
	bool console = admin_db_row(w);

	if (v == NULL) {
		r->failed = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct dbpool *p, *first = NULL;
		unsigned servers = 0;

		if (console && admin_console_before(v[i].name)) {
			admin_databases_console(r, t);
			console = false;
		}
		TAILQ_FOREACH(p, &w->pools, link)
		{
			if (strcmp(p->alias, v[i].name) != 0)
				continue;
			first = first != NULL ? first : p;
			servers += pool_total(&p->pool);
		}
		admin_databases_row(r, t, v[i].name, v[i].e, first, servers);
	}
	if (console)
		admin_databases_console(r, t);
	free(v);
}

/* Orders pools by database alias, then user. */
static int admin_pool_cmp(const void *a, const void *b)
{
	const struct dbpool *x = *(const struct dbpool *const *)a;
	const struct dbpool *y = *(const struct dbpool *const *)b;
	int d = strcmp(x->alias, y->alias);

	return d != 0 ? d : strcmp(x->user, y->user);
}

static struct dbpool **admin_sorted_pools(const struct worker *w)
{
	struct dbpool **v = malloc((w->npools + 1) * sizeof(*v));
	struct dbpool *p;
	unsigned n = 0;

	if (v == NULL)
		return NULL;
	TAILQ_FOREACH(p, &w->pools, link)
	v[n++] = p;
	qsort(v, n, sizeof(*v), admin_pool_cmp);
	return v;
}

/* How many databases SHOW DATABASES lists (the console's aside). */
static unsigned admin_db_count(const struct worker *w)
{
	unsigned n;
	struct admin_db *v = admin_dbs(w, &n);

	if (v == NULL)
		return 0;
	free(v);
	return n;
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
	const char **v = malloc((nf + w->npools + 2) * sizeof(*v));
	const struct dbpool *p;
	unsigned n = 0, k = 0;

	if (v == NULL)
		return -1;
	v[n++] = ADMIN_DB;
	v[n++] = w->cfg->user;
	TAILQ_FOREACH(p, &w->pools, link)
	v[n++] = p->user;
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
	unsigned console = admin_db_row(w) ? 1 : 0;
	unsigned dbs = admin_db_count(w) + console;

	admin_count(w, NULL, r->now_ms, &n);
	const struct {
		const char *name;
		unsigned items;
	} rows[] = {
	    {"databases", dbs},
	    {"users", admin_user_count(w)},
	    {"pools", w->npools + console},
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

	admin_count(w, NULL, r->now_ms, &n);
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
	bool paused = dbpool_default(r->c->w)->pool.paused;
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
void admin_show_rows(struct admin_reply *r, const struct admin_table *t)
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
