/* Routing: a login's database entry, pool key, mode and limits. */
#include "route.h"

#include <stdio.h>
#include <string.h>

const struct db_entry *route_entry(const struct config *c, const char *alias)
{
	for (unsigned i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].alias, alias) == 0)
			return &c->dbs[i];
	return NULL;
}

static bool route_copy(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n >= ROUTE_NAME_MAX)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* The pool mode: the [users] line's, else the entry's, else the global. */
static enum pool_mode route_mode(const struct config *c,
				 const struct db_entry *e,
				 const struct user_entry *u)
{
	if (u != NULL && u->pool_mode != DBCONF_UNSET)
		return (enum pool_mode)u->pool_mode;
	if (e != NULL && !e->is_default && e->pool_mode != DBCONF_UNSET)
		return (enum pool_mode)e->pool_mode;
	return c->pool_mode;
}

void route_caps(const struct config *c, const struct db_entry *e,
		const char *login, unsigned *max_db, unsigned *max_user)
{
	const struct user_entry *u = config_find_user(c, login);

	*max_db = (unsigned)(e != NULL && e->max_db_connections > 0
				 ? e->max_db_connections
				 : c->max_db_connections);
	*max_user =
	    (unsigned)(u != NULL && u->max_user_connections != DBCONF_UNSET
			   ? u->max_user_connections
			   : c->max_user_connections);
}

/* Limits: the entry's, else [pool]'s. The default entry's are [pool]'s,
 * which a reload or SET may change. */
static void route_limits(const struct config *c, const struct db_entry *e,
			 struct route *r)
{
	bool own = e != NULL && !e->is_default;

	r->max = (unsigned)(own && e->pool_size != DBCONF_UNSET ? e->pool_size
								: c->pool_max);
	r->min = (unsigned)(own && e->min_pool_size != DBCONF_UNSET
				? e->min_pool_size
				: c->pool_min);
	if (r->min > r->max)
		r->min = r->max;
	r->reserve = (unsigned)(own && e->reserve_pool != DBCONF_UNSET
				    ? e->reserve_pool
				    : c->reserve_pool);
	route_caps(c, e, r->user, &r->max_db_connections,
		   &r->max_user_connections);
}

/* The server's database: the entry's dbname=, else the name asked for
 * ("*") or the alias; the default entry's is [pool] dbname. */
static const char *route_dbname(const struct config *c,
				const struct db_entry *e, const char *name)
{
	if (e->is_default)
		return c->dbname;
	if (e->dbname != NULL)
		return e->dbname;
	return name;
}

/* Fills out for entry e (NULL: the [pool] settings alone), the name
 * asked for and the login user. false when a name is too long. */
static bool route_fill(const struct config *c, const struct db_entry *e,
		       const char *name, const char *login, struct route *out)
{
	if (!route_copy(out->alias, name) ||
	    !route_copy(out->dbname,
			e != NULL ? route_dbname(c, e, name) : c->dbname) ||
	    !route_copy(out->user, login))
		return false;
	out->db = e;
	out->autodb = e != NULL && strcmp(e->alias, "*") == 0;
	out->mode = route_mode(c, e, config_find_user(c, login));
	route_limits(c, e, out);
	return true;
}

void route_default(const struct config *c, struct route *out)
{
	const struct db_entry *e = c->ndbs > 0 ? &c->dbs[0] : NULL;

	memset(out, 0, sizeof(*out));
	if (route_fill(c, e, c->pool_name, c->user, out))
		return;
	/* Names longer than PostgreSQL's own limit: kept cut. */
	snprintf(out->alias, sizeof(out->alias), "%s", c->pool_name);
	snprintf(out->dbname, sizeof(out->dbname), "%s", c->dbname);
	snprintf(out->user, sizeof(out->user), "%s", c->user);
	out->db = e;
	out->mode = c->pool_mode;
	route_limits(c, e, out);
}

bool route_login(const struct config *c, const char *name, const char *user,
		 struct route *out, char *msg, size_t len)
{
	const struct db_entry *e = config_find_db(c, name);
	const char *login;

	memset(out, 0, sizeof(*out));
	if (c->ndbs == 0 && strcmp(name, c->pool_name) == 0) {
		route_default(c, out);
		return true;
	}
	if (e == NULL) {
		snprintf(msg, len, "no such database: %s", name);
		return false;
	}
	login = e->is_default ? c->user : e->user != NULL ? e->user : user;
	if (!route_fill(c, e, name, login, out)) {
		memset(out, 0, sizeof(*out));
		snprintf(msg, len, "database or user name too long");
		return false;
	}
	return true;
}

static bool route_str_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool route_entry_equal(const struct db_entry *a, const struct db_entry *b)
{
	const char *const sa[] = {
	    a->alias,
	    a->host,
	    a->port,
	    a->dbname,
	    a->user,
	    a->password,
	    a->connect_query,
	    a->application_name,
	    a->client_encoding,
	    a->datestyle,
	    a->timezone,
	};
	const char *const sb[] = {
	    b->alias,
	    b->host,
	    b->port,
	    b->dbname,
	    b->user,
	    b->password,
	    b->connect_query,
	    b->application_name,
	    b->client_encoding,
	    b->datestyle,
	    b->timezone,
	};

	for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
		if (!route_str_equal(sa[i], sb[i]))
			return false;
	return a->pool_size == b->pool_size &&
	       a->min_pool_size == b->min_pool_size &&
	       a->reserve_pool == b->reserve_pool &&
	       a->pool_mode == b->pool_mode &&
	       a->max_db_connections == b->max_db_connections &&
	       a->target_session_attrs == b->target_session_attrs &&
	       a->load_balance_random == b->load_balance_random &&
	       a->is_default == b->is_default;
}
