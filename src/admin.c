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

#include "admin_parse.h"
#include "admin_rows.h"
#include "admin_show.h"
#include "client.h"
#include "io.h"
#include "janitor.h"
#include "listener.h"
#include "log.h"
#include "relay.h"
#include "reload.h"
#include "server.h"

#define ADMIN_QUERY_MAX 4096 /* longest console query read */

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

static bool admin_reply_init(struct admin_reply *r, struct client *c)
{
	r->c = c;
	r->out = buf_new();
	r->failed = r->out == NULL;
	r->now_ms = worker_now_ms();
	r->wall_s = (int64_t)time(NULL);
	proto_writer_init(&r->w, r->buf, sizeof(r->buf));
	return !r->failed;
}

/* Sends a reply, or "no mem" when it could not be built whole. */
static void admin_send(struct admin_reply *r)
{
	struct client *c = r->c;
	struct buf *out = io_output(c->io);

	if (r->failed) {
		proto_writer_init(&r->w, r->buf, sizeof(r->buf));
		admin_write_error(&r->w, "08P01", "no mem");
		buf_add(out, r->buf, r->w.len);
	} else {
		c->w->console_stats.bytes_out += buf_len(r->out);
		buf_move(out, r->out, buf_len(r->out));
	}
	if (r->out != NULL)
		buf_free(r->out);
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
		buf_add(io_output(c->io), buf, w.len);
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
	buf_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* CommandComplete `tag` and ReadyForQuery. */
static void admin_done(struct client *c, const char *tag)
{
	uint8_t buf[ADMIN_ARG_MAX + ADMIN_VALUE_MAX + 64]; /* "SET k=v" */
	struct proto_writer w;

	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_done(&w, tag);
	if (!w.overflow)
		buf_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
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
			buf_free(r->out);
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
	buf_add(io_output(c->io), buf, w.len);
	io_flush(c->io);
}

/* Control commands. */

/* Whether pool p is one a console command with cmd's optional database
 * argument acts on: every pool without one, else the pools of that
 * database alias. */
static bool admin_pool_match(const struct admin_cmd *cmd,
			     const struct dbpool *p)
{
	return !cmd->has_arg || strcmp(p->alias, cmd->arg) == 0;
}

/* Checks the optional database argument of PAUSE, RESUME, RECONNECT,
 * KILL, DISABLE and ENABLE: the console's own database cannot be named,
 * any other must have a pool or a [databases] entry (one without a pool
 * yet: the command applies to the pools it makes later, as PgBouncer's
 * database objects have it). */
static bool admin_db_arg(struct client *c, const struct admin_cmd *cmd,
			 const char *verb, bool required)
{
	const struct dbpool *p;

	if (!cmd->has_arg) {
		if (required)
			admin_error(c, "a database is required");
		return !required;
	}
	if (strcmp(cmd->arg, ADMIN_DB) == 0 && admin_db_row(c->w)) {
		admin_errorf(c, "cannot %s admin db: %s", verb, cmd->arg);
		return false;
	}
	TAILQ_FOREACH(p, &c->w->pools, link)
	if (admin_pool_match(cmd, p))
		return true;
	if (strcmp(cmd->arg, "*") != 0 &&
	    route_entry(c->w->cfg, cmd->arg) != NULL)
		return true; /* an entry with no pool yet */
	admin_errorf(c, "no such database: %s", cmd->arg);
	return false;
}

/* Closes the servers no client holds: idle, connecting, being checked. A
 * linked server closes when its client releases it (server_become_idle).
 * p NULL: of every pool. */
static void admin_close_unlinked(struct worker *w, const struct dbpool *p)
{
	struct server *s, *next;

	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (p != NULL && s->pool != p)
			continue;
		if (s->state == SERVER_ACTIVE)
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

/* Pauses one pool and closes what no client holds of it. */
static void admin_pause_pool(struct worker *w, struct dbpool *p, const char *by)
{
	pool_pause(&p->pool);
	log_info("pool paused", LF_STR("pool", p->pool.name),
		 LF_STR("user", p->user), LF_STR("by", by),
		 LF_INT("servers_active", p->pool.count[POOL_SLOT_ACTIVE]));
	admin_close_unlinked(w, p);
}

/* PAUSE [db]: no server is handed out or connected any more; in-flight
 * transactions finish, their servers close as they come back, and the
 * reply waits until every server is closed. */
static void admin_pause(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;
	struct dbpool *p;
	unsigned n = 0;

	if (!admin_db_arg(c, cmd, "pause", false))
		return;
	if (w->shutting_down || w->console_shutdown != ADMIN_SHUTDOWN_NONE) {
		admin_error(c, "pooler is shutting down");
		return;
	}
	TAILQ_FOREACH(p, &w->pools, link)
	if (admin_pool_match(cmd, p) && !p->pool.paused)
		n++;
	if (n == 0 && dbpool_db_paused(w, cmd->has_arg ? cmd->arg : NULL)) {
		admin_error(c, "already suspended/paused");
		return;
	}
	if (!dbpool_db_set_paused(w, cmd->has_arg ? cmd->arg : NULL, true)) {
		admin_error(c, "out of memory");
		return;
	}
	if (n == 0)
		log_info("database paused: its pools start paused",
			 LF_STR("database", cmd->has_arg ? cmd->arg : "*"),
			 LF_STR("by", c->user));
	TAILQ_FOREACH(p, &w->pools, link)
	if (admin_pool_match(cmd, p) && !p->pool.paused)
		admin_pause_pool(w, p, c->user);
	admin_wait_for(c, ADMIN_WAIT_PAUSE);
}

/* RESUME [db]: connects start at once (backoff reset), waiters are served
 * and their wait timeout counts from now. */
static void admin_resume(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;
	struct dbpool *p;
	const char *db = cmd->has_arg ? cmd->arg : NULL;
	unsigned n = 0;

	if (cmd->has_arg && !admin_db_arg(c, cmd, "resume", false))
		return;
	if (w->shutting_down || w->console_shutdown != ADMIN_SHUTDOWN_NONE) {
		admin_error(c, "pooler is shutting down");
		return;
	}
	if (db != NULL ? dbpool_db_paused(w, db) && !w->paused_all
		       : w->paused_all || w->npaused_dbs > 0)
		n++; /* an entry paused before it had a pool */
	if (!dbpool_db_set_paused(w, db, false)) {
		admin_error(c, "out of memory");
		return;
	}
	TAILQ_FOREACH(p, &w->pools, link)
	{
		if (!admin_pool_match(cmd, p) || !p->pool.paused)
			continue;
		pool_resume(&p->pool, worker_now_ms());
		log_info("pool resumed", LF_STR("pool", p->pool.name),
			 LF_STR("user", p->user), LF_STR("by", c->user),
			 LF_INT("clients_waiting", p->pool.nwaiting));
		n++;
	}
	if (n == 0) {
		if (cmd->has_arg)
			admin_errorf(c, "database %s is not paused", cmd->arg);
		else
			admin_error(c, "pooler is not paused/suspended");
		return;
	}
	admin_done(c, "RESUME");
	w->maintain(w);
}

/* RECONNECT [db]: idle servers are closed now, busy ones when released;
 * the pool refills with new connections. */
static void admin_reconnect(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;
	struct dbpool *p;

	if (!admin_db_arg(c, cmd, "reconnect", false))
		return;
	TAILQ_FOREACH(p, &w->pools, link)
	{
		if (!admin_pool_match(cmd, p))
			continue;
		log_info("pool reconnecting", LF_STR("pool", p->pool.name),
			 LF_STR("user", p->user), LF_STR("by", c->user));
		server_reconnect(p);
	}
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

/* Disconnects every client of the pools cmd names (the console's stay;
 * without a database, those still logging in go too). */
static void admin_kill_clients(struct worker *w, const struct admin_cmd *cmd)
{
	struct client *c, *next;

	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == CLIENT_CONSOLE || c->state == CLIENT_CLOSING)
			continue;
		if (c->pool != NULL ? !admin_pool_match(cmd, c->pool)
				    : cmd->has_arg)
			continue;
		client_close(c, "57P01",
			     "terminating connection due to administrator "
			     "command");
	}
}

/* KILL [db]: the pool is paused and every client and server of it is
 * dropped at once; RESUME lets new ones in. */
static void admin_kill(struct client *c, const struct admin_cmd *cmd)
{
	struct worker *w = c->w;
	struct server *s, *next;
	struct dbpool *p;

	if (!admin_db_arg(c, cmd, "kill", false))
		return;
	if (!dbpool_db_set_paused(w, cmd->has_arg ? cmd->arg : NULL, true)) {
		admin_error(c, "out of memory");
		return;
	}
	TAILQ_FOREACH(p, &w->pools, link)
	{
		if (!admin_pool_match(cmd, p))
			continue;
		pool_pause(&p->pool);
		log_info("pool killed", LF_STR("pool", p->pool.name),
			 LF_STR("user", p->user), LF_STR("by", c->user),
			 LF_INT("clients", p->nclients));
	}
	admin_kill_clients(w, cmd);
	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (admin_pool_match(cmd, s->pool))
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

/* DISABLE db / ENABLE db: new logins to the database's pools are refused
 * / let in. */
static void admin_enable(struct client *c, const struct admin_cmd *cmd,
			 bool enable)
{
	if (!admin_db_arg(c, cmd, "disable", true))
		return;
	if (!dbpool_db_set_disabled(c->w, cmd->arg, !enable)) {
		admin_error(c, "out of memory");
		return;
	}
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
	if (w->console_shutdown == ADMIN_SHUTDOWN_SERVERS) {
		struct dbpool *p;

		TAILQ_FOREACH(p, &w->pools, link)
		if (!p->pool.paused)
			admin_pause_pool(w, p, c->user);
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
		buf_add(io_output(c->io), buf, w.len);
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
	struct buf *in = io_input(c->io);
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
		if (buf_len(in) < (size_t)len + 1)
			return;
		buf_drain(in, PROTO_HEADER_LEN);
		buf_remove(in, query, len - 4);
		query[len - 4] = '\0';
		c->w->console_stats.bytes_in += (uint64_t)len + 1;
		admin_run(c, query, strnlen(query, len - 4));
	}
}

/* Whether any pool or database is paused. */
static bool admin_any_paused(const struct worker *w)
{
	const struct dbpool *p;

	if (w->paused_all || w->npaused_dbs > 0)
		return true;
	TAILQ_FOREACH(p, &w->pools, link)
	if (p->pool.paused)
		return true;
	return false;
}

/* Whether every paused pool has closed all its servers. */
static bool admin_paused_empty(const struct worker *w)
{
	const struct dbpool *p;

	TAILQ_FOREACH(p, &w->pools, link)
	if (p->pool.paused && pool_total(&p->pool) > 0)
		return false;
	return true;
}

/* Whether a waiting console command may be answered now. */
static bool admin_wait_over(const struct worker *w, const struct client *c)
{
	const struct server *s;

	switch (c->console_wait) {
	case ADMIN_WAIT_PAUSE:
		return !admin_any_paused(w) || admin_paused_empty(w);
	case ADMIN_WAIT_STALE:
		TAILQ_FOREACH(s, &w->servers, link)
		if (s->gen != s->pool->gen)
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
	if (what == ADMIN_WAIT_PAUSE && !admin_any_paused(w)) {
		admin_error(c, "PAUSE canceled: the pool was resumed");
	} else if (what == ADMIN_WAIT_PAUSE) {
		log_info("pool paused: every server closed",
			 LF_INT("clients", w->nclients));
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
		return admin_paused_empty(w);
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

	struct dbpool *p;

	if (!admin_any_paused(w) || w->shutting_down ||
	    w->console_shutdown != ADMIN_SHUTDOWN_NONE)
		return;
	log_info("console cancel: resuming the pool",
		 LF_STR("client", c->addr));
	if (!dbpool_db_set_paused(w, NULL, false))
		return; /* never: clearing cannot fail */
	TAILQ_FOREACH(p, &w->pools, link)
	if (p->pool.paused)
		pool_resume(&p->pool, worker_now_ms());
	w->maintain(w);
}

void admin_install(struct worker *w)
{
	w->console_start = admin_start;
	w->console_read = admin_read;
	w->console_cancel = admin_cancel;
}
