/* The pool table: lookup and creation for a login, each pool's backend
 * target and server credentials, the caps pools share, and what a reload
 * or the passing of time does to the table. */
#include "dbpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "authfile.h"
#include "client.h"
#include "hostlist.h"
#include "log.h"
#include "login.h"
#include "server.h"
#include "worker.h"

#define server_of_slot(sl)                                                     \
	((struct server *)((char *)(sl)-offsetof(struct server, slot)))

/* Replaces one owned string with a copy of v; false (unchanged) when out
 * of memory. */
static bool dbpool_set_str(char **field, const char *v)
{
	char *copy = strdup(v != NULL ? v : "");

	if (copy == NULL)
		return false;
	free(*field);
	*field = copy;
	return true;
}

/* The L0 pool's labels point at the strings p owns. Its database label
 * is the alias, as SHOW POOLS has it: (alias, user) is the pool's key, so
 * /metrics never has two series with the same labels. */
static void dbpool_labels(struct dbpool *p)
{
	p->pool.name = p->alias;
	p->pool.database = p->alias;
	p->pool.user = p->user;
}

/* The number of hosts a connect of route r tries (backend.c and
 * passthru.c), at most HOSTLIST_MAX. */
static unsigned dbpool_hosts(const struct config *cfg, const struct route *r)
{
	const struct db_entry *e =
	    r->db != NULL && !r->db->is_default ? r->db : NULL;
	const char *h = e != NULL && e->host != NULL ? e->host : cfg->host;

	return h != NULL ? hostlist_count(h) : 1;
}

/* The limits of route r under the configuration's timeouts. A client
 * waits as long as one connect attempt may take, connect_timeout_ms for
 * each host, so a host that never answers does not time out the clients
 * that a later host of the list would serve. */
static void dbpool_limits(const struct config *cfg, const struct route *r,
			  struct pool_limits *lim)
{
	*lim = (struct pool_limits){
	    .wait_timeout_ms =
		(int64_t)cfg->connect_timeout_ms * dbpool_hosts(cfg, r),
	    .max = r->max,
	    .min = r->min,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .connect_timeout_ms = cfg->connect_timeout_ms,
	    .reserve = r->reserve,
	    .reserve_timeout_ms = cfg->reserve_pool_timeout_ms,
	};
}

struct dbpool *dbpool_new(struct worker *w, const struct route *r)
{
	struct dbpool *p = calloc(1, sizeof(*p));
	struct pool_limits lim;

	if (p == NULL)
		return NULL;
	if (!dbpool_set_str(&p->alias, r->alias) ||
	    !dbpool_set_str(&p->dbname, r->dbname) ||
	    !dbpool_set_str(&p->user, r->user)) {
		free(p->alias);
		free(p->dbname);
		free(p->user);
		free(p);
		return NULL;
	}
	dbpool_limits(w->cfg, r, &lim);
	pool_init(&p->pool, p->alias, &lim);
	dbpool_labels(p);
	p->w = w;
	p->cfg = config_hold(w->cfg);
	p->db = r->db;
	p->autodb = r->autodb;
	p->mode = client_mode_ops(r->mode);
	p->last_used_ms = worker_now_ms();
	if (dbpool_db_paused(w, p->alias))
		pool_pause(&p->pool); /* PAUSE db came before its first pool */
	TAILQ_INSERT_TAIL(&w->pools, p, link);
	w->npools++;
	return p;
}

void dbpool_free(struct dbpool *p)
{
	if (p == NULL)
		return;
	TAILQ_REMOVE(&p->w->pools, p, link);
	p->w->npools--;
	params_clear(&p->params);
	config_release(p->cfg);
	free(p->alias);
	free(p->dbname);
	free(p->user);
	free(p);
}

/* Empties and frees a set of aliases (DISABLE, PAUSE). */
static void dbpool_set_free(char ***v, unsigned *n)
{
	while (*n > 0)
		free((*v)[--*n]);
	free(*v);
	*v = NULL;
}

void dbpool_free_all(struct worker *w)
{
	struct dbpool *p;

	while ((p = TAILQ_FIRST(&w->pools)) != NULL)
		dbpool_free(p);
	dbpool_set_free(&w->disabled_dbs, &w->ndisabled_dbs);
	dbpool_set_free(&w->paused_dbs, &w->npaused_dbs);
	w->paused_all = false;
}

struct dbpool *dbpool_find(struct worker *w, const char *alias,
			   const char *user)
{
	struct dbpool *p;

	TAILQ_FOREACH(p, &w->pools, link)
	{
		if (!p->removed && strcmp(p->alias, alias) == 0 &&
		    strcmp(p->user, user) == 0)
			return p;
	}
	return NULL;
}

struct dbpool *dbpool_default(const struct worker *w)
{
	return TAILQ_FIRST(&w->pools);
}

/* Whether a pool may be dropped: nobody uses it and no server is left. */
static bool dbpool_empty(const struct dbpool *p)
{
	const struct server *s;

	if (p->nclients > 0 || pool_total(&p->pool) > 0 ||
	    p->pool.closing > 0 || p->pool.nwaiting > 0)
		return false;
	TAILQ_FOREACH(s, &p->w->dead_servers, link)
	if (s->pool == p)
		return false; /* freed by the reaper soon */
	return true;
}

/* The index of alias in the set v of n aliases, or -1. */
static int dbpool_set_index(char *const *v, unsigned n, const char *alias)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(v[i], alias) == 0)
			return (int)i;
	return -1;
}

/* Adds alias to (on) or removes it from the set *v of *n aliases; false
 * when out of memory. */
static bool dbpool_set_put(char ***v, unsigned *n, const char *alias, bool on)
{
	int i = dbpool_set_index(*v, *n, alias);
	char **nv;

	if (!on && i >= 0) {
		free((*v)[i]);
		(*v)[i] = (*v)[--*n];
	}
	if (!on || i >= 0)
		return true;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL)
		return false;
	*v = nv;
	nv[*n] = strdup(alias);
	if (nv[*n] == NULL)
		return false;
	(*n)++;
	return true;
}

bool dbpool_db_disabled(const struct worker *w, const char *alias)
{
	return dbpool_set_index(w->disabled_dbs, w->ndisabled_dbs, alias) >= 0;
}

bool dbpool_db_set_disabled(struct worker *w, const char *alias, bool on)
{
	return dbpool_set_put(&w->disabled_dbs, &w->ndisabled_dbs, alias, on);
}

bool dbpool_db_paused(const struct worker *w, const char *alias)
{
	return w->paused_all ||
	       (alias != NULL &&
		dbpool_set_index(w->paused_dbs, w->npaused_dbs, alias) >= 0);
}

bool dbpool_db_set_paused(struct worker *w, const char *alias, bool on)
{
	if (alias == NULL) {
		w->paused_all = on;
		if (!on)
			dbpool_set_free(&w->paused_dbs, &w->npaused_dbs);
		return true;
	}
	return dbpool_set_put(&w->paused_dbs, &w->npaused_dbs, alias, on);
}

struct dbpool *dbpool_for_login(struct worker *w, const char *db,
				const char *user, const char **sqlstate,
				char *msg, size_t len)
{
	struct route r;
	struct dbpool *p;

	if (!route_login(w->cfg, db, user, &r, msg, len)) {
		*sqlstate = "3D000";
		return NULL;
	}
	if (dbpool_db_disabled(w, r.alias)) {
		*sqlstate = "08P01";
		snprintf(msg, len, "database \"%s\" is disabled", db);
		return NULL;
	}
	p = dbpool_find(w, r.alias, r.user);
	if (p != NULL && p->autodb && p->nclients == 0)
		dbpool_limits(w->cfg, &r, &p->pool.lim); /* undo a drain */
	if (p != NULL)
		return p;
	p = dbpool_new(w, &r);
	if (p == NULL) {
		*sqlstate = "53200";
		snprintf(msg, len, "out of memory");
		return NULL;
	}
	log_info("pool created", LF_STR("pool", p->alias),
		 LF_STR("user", p->user), LF_STR("dbname", p->dbname),
		 LF_STR("pool_mode", p->mode->name),
		 LF_INT("max", p->pool.lim.max));
	return p;
}

/* Appends " -c name=value" to opts, escaping blanks and backslashes as
 * libpq's options keyword wants. */
static void dbpool_add_option(char *opts, const char *name, const char *v)
{
	size_t n = strlen(opts);

	n += (size_t)snprintf(opts + n, DBPOOL_OPTIONS_MAX - n,
			      "%s-c %s=", n > 0 ? " " : "", name);
	for (; *v != '\0' && n + 3 < DBPOOL_OPTIONS_MAX; v++) {
		if (*v == ' ' || *v == '\\')
			opts[n++] = '\\';
		opts[n++] = *v;
	}
	opts[n < DBPOOL_OPTIONS_MAX ? n : DBPOOL_OPTIONS_MAX - 1] = '\0';
}

enum srvcreds_kind dbpool_server_creds(const struct dbpool *p,
				       struct srvcreds *sc)
{
	const char *entry_pw =
	    p->db != NULL && !p->db->is_default ? p->db->password : NULL;

	if (p->w->creds == NULL) { /* no credentials loaded (tests) */
		memset(sc, 0, sizeof(*sc));
		sc->password = entry_pw;
		return sc->kind = entry_pw ? SRVCREDS_PASSWORD : SRVCREDS_NONE;
	}
	return srvcreds_choose(p->w->creds, &p->w->passkeys, p->user, entry_pw,
			       sc);
}

const char *dbpool_server_password(const struct dbpool *p)
{
	struct srvcreds sc;
	const char *pw = dbpool_server_creds(p, &sc) == SRVCREDS_PASSWORD
			     ? sc.password
			     : NULL;

	OPENSSL_cleanse(&sc, sizeof(sc));
	return pw;
}

const char *dbpool_target_session_attrs(const struct dbpool *p)
{
	enum dbconf_tsa tsa =
	    p->db != NULL ? p->db->target_session_attrs : DBCONF_TSA_ANY;

	return tsa != DBCONF_TSA_ANY ? dbconf_tsa_name(tsa) : NULL;
}

void dbpool_target(const struct dbpool *p, struct backend_target *t, char *opts)
{
	const struct config *cfg = p->w->cfg;
	const struct db_entry *e =
	    p->db != NULL && !p->db->is_default ? p->db : NULL;

	*t = (struct backend_target){
	    .host = e != NULL && e->host != NULL ? e->host : cfg->host,
	    .port = e != NULL && e->port != NULL ? e->port : cfg->port_str,
	    .dbname = p->dbname,
	    .user = p->user,
	    .password = dbpool_server_password(p),
	};
	opts[0] = '\0';
	t->target_session_attrs = dbpool_target_session_attrs(p);
	if (e == NULL)
		return;
	t->application_name = e->application_name;
	t->client_encoding = e->client_encoding;
	t->shuffle_hosts = e->load_balance_random;
	if (e->datestyle != NULL)
		dbpool_add_option(opts, "DateStyle", e->datestyle);
	if (e->timezone != NULL)
		dbpool_add_option(opts, "TimeZone", e->timezone);
	t->options = opts[0] != '\0' ? opts : NULL;
}

/* Servers held by the pools sharing a cap with p: same database alias
 * (same_db) or same login user. */
static unsigned dbpool_group_total(const struct dbpool *p, bool same_db)
{
	const struct dbpool *q;
	unsigned n = 0;

	TAILQ_FOREACH(q, &p->w->pools, link)
	{
		if (strcmp(same_db ? q->alias : q->user,
			   same_db ? p->alias : p->user) == 0)
			n += pool_total(&q->pool) + q->pool.closing;
	}
	return n;
}

/* The room left under one cap: 0 when reached, UINT32_MAX without one. */
static unsigned dbpool_room(const struct dbpool *p, unsigned cap, bool same_db)
{
	unsigned used;

	if (cap == 0)
		return UINT32_MAX;
	used = dbpool_group_total(p, same_db);
	return used >= cap ? 0 : cap - used;
}

unsigned dbpool_connect_room(const struct dbpool *p)
{
	unsigned max_db, max_user, a, b;

	route_caps(p->w->cfg, p->db, p->user, &max_db, &max_user);
	a = dbpool_room(p, max_db, true);
	b = dbpool_room(p, max_user, false);
	return a < b ? a : b;
}

/* Whether pool q shares a cap with p that p is held back by. */
static bool dbpool_shares_cap(const struct dbpool *p, const struct dbpool *q)
{
	unsigned max_db, max_user;

	route_caps(p->w->cfg, p->db, p->user, &max_db, &max_user);
	return (max_db > 0 && dbpool_room(p, max_db, true) == 0 &&
		strcmp(q->alias, p->alias) == 0) ||
	       (max_user > 0 && dbpool_room(p, max_user, false) == 0 &&
		strcmp(q->user, p->user) == 0);
}

bool dbpool_evict_for(struct dbpool *p)
{
	struct dbpool *q;
	struct pool_slot *best = NULL;

	TAILQ_FOREACH(q, &p->w->pools, link)
	{
		struct pool_slot *s =
		    TAILQ_FIRST(&q->pool.slots[POOL_SLOT_IDLE]);

		if (q == p || s == NULL || !dbpool_shares_cap(p, q))
			continue;
		if (best == NULL || s->since_ms < best->since_ms)
			best = s;
	}
	if (best == NULL)
		return false;
	log_debug("closing an idle server for a pool at its cap",
		  LF_STR("pool", p->alias), LF_STR("user", p->user));
	server_close(server_of_slot(best), NULL);
	return true;
}

/* The entry a pool of the new configuration belongs to, or NULL when it
 * has none any more: its own alias, or "*" for one made on demand (unless
 * the alias now has an entry of its own). */
static const struct db_entry *dbpool_new_entry(const struct dbpool *p,
					       const struct config *cfg)
{
	const struct db_entry *own = route_entry(cfg, p->alias);

	if (p->autodb)
		return own != NULL ? NULL : route_entry(cfg, "*");
	return own;
}

/* Whether p's user is still the one its entry e logs in as: the forced
 * user=, or (without one) the client's own, as before. */
static bool dbpool_user_fits(const struct dbpool *p, const struct db_entry *e)
{
	const struct db_entry *old = p->db;
	bool was_forced = old != NULL && old->user != NULL;

	if (e->user == NULL)
		return !was_forced;
	return strcmp(e->user, p->user) == 0;
}

/* Marks p removed: it takes no new logins and goes once empty. */
static void dbpool_remove(struct dbpool *p, const char *why)
{
	p->removed = true;
	log_info("pool removed: it goes once its clients leave",
		 LF_STR("pool", p->alias), LF_STR("user", p->user),
		 LF_STR("reason", why), LF_INT("clients", p->nclients));
}

/* Re-points p at its entry in w->cfg and applies the limits it gives. */
static void dbpool_follow(struct dbpool *p, const struct db_entry *e)
{
	const struct config *cfg = p->w->cfg;
	bool changed = p->db == NULL || !route_entry_equal(p->db, e);
	struct route r;
	char msg[128];

	config_release(p->cfg);
	p->cfg = config_hold(cfg);
	p->db = e;
	if (!route_login(cfg, p->alias, p->user, &r, msg, sizeof(msg)))
		return;
	dbpool_limits(cfg, &r, &p->pool.lim);
	if (!dbpool_set_str(&p->dbname, r.dbname))
		log_error("out of memory renaming the pool",
			  LF_STR("pool", p->alias));
	dbpool_labels(p);
	if (p->nclients == 0)
		p->mode = client_mode_ops(r.mode); /* never under a client */
	if (!changed)
		return;
	log_info("database entry changed: reconnecting",
		 LF_STR("pool", p->alias), LF_STR("user", p->user));
	server_reconnect(p);
	p->pool.backoff_ms = 0;
	p->pool.next_connect_ms = 0;
}

/* The default pool after a reload: the [pool] names (a new dbname is
 * also the name clients ask for) and limits. */
static void dbpool_follow_default(struct dbpool *p)
{
	const struct config *cfg = p->w->cfg;
	struct route r;

	route_default(cfg, &r);
	config_release(p->cfg);
	p->cfg = config_hold(cfg);
	p->db = r.db;
	if (!dbpool_set_str(&p->alias, r.alias) ||
	    !dbpool_set_str(&p->dbname, r.dbname) ||
	    !dbpool_set_str(&p->user, r.user))
		log_error("out of memory renaming the pool",
			  LF_STR("pool", p->alias));
	dbpool_labels(p);
	dbpool_limits(cfg, &r, &p->pool.lim);
}

void dbpool_reload(struct worker *w)
{
	struct dbpool *p;

	TAILQ_FOREACH(p, &w->pools, link)
	{
		const struct db_entry *e;

		if (p == dbpool_default(w) || p->removed)
			continue;
		e = dbpool_new_entry(p, w->cfg);
		if (e == NULL)
			dbpool_remove(p, "its database entry is gone");
		else if (p->db != NULL && !dbpool_user_fits(p, e))
			dbpool_remove(p, "its entry's user changed");
		else
			dbpool_follow(p, e);
	}
	dbpool_follow_default(dbpool_default(w));
}

/* A pool on its way out keeps no idle server (min 0, idle ones closed),
 * so it empties once its clients have left. */
static void dbpool_drain(struct dbpool *p)
{
	struct pool_slot *slot;

	p->pool.lim.min = 0;
	while ((slot = TAILQ_FIRST(&p->pool.slots[POOL_SLOT_IDLE])) != NULL)
		server_close(server_of_slot(slot), NULL);
}

void dbpool_sweep(struct worker *w, int64_t now_ms)
{
	struct dbpool *p, *next;
	int64_t idle_ms = w->cfg->autodb_idle_timeout_ms;

	for (p = TAILQ_FIRST(&w->pools); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (p == dbpool_default(w) || p->nclients > 0)
			continue;
		if (!p->removed &&
		    !(p->autodb && now_ms - p->last_used_ms >= idle_ms))
			continue;
		dbpool_drain(p);
		if (!dbpool_empty(p))
			continue;
		log_info("pool dropped", LF_STR("pool", p->alias),
			 LF_STR("user", p->user),
			 LF_STR("reason", p->removed ? "removed" : "unused"));
		dbpool_free(p);
	}
}
