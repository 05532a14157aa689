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

/* The entry serving name: its own, else "*", else none. */
static const struct db_entry *route_find(const struct config *c,
					 const char *name)
{
	const struct db_entry *e = route_entry(c, name);

	return e != NULL ? e : route_entry(c, "*");
}

/* The [users] line for name, or NULL. */
static const struct user_entry *route_user(const struct config *c,
					   const char *name)
{
	for (unsigned i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
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
	if (e->pool_mode != DBCONF_UNSET)
		return (enum pool_mode)e->pool_mode;
	return c->pool_mode;
}

/* Limits: the entry's, else [pool]'s; the caps: the entry's or [users]
 * line's, else the [pitlane] ones. The default entry's are [pool]'s,
 * which a reload or SET may change. */
static void route_limits(const struct config *c, const struct db_entry *e,
			 const struct user_entry *u, struct route *r)
{
	bool own = !e->is_default;

	r->max = (unsigned)(own && e->pool_size != DBCONF_UNSET ? e->pool_size
								: c->pool_max);
	r->min = (unsigned)(own && e->min_pool_size != DBCONF_UNSET
				? e->min_pool_size
				: c->pool_min);
	if (r->min > r->max)
		r->min = r->max;
	r->max_db_connections =
	    (unsigned)(e->max_db_connections > 0 ? e->max_db_connections
						 : c->max_db_connections);
	r->max_user_connections =
	    (unsigned)(u != NULL && u->max_user_connections != DBCONF_UNSET
			   ? u->max_user_connections
			   : c->max_user_connections);
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

bool route_login(const struct config *c, const char *name, const char *user,
		 struct route *out, char *msg, size_t len)
{
	const struct db_entry *e = route_find(c, name);
	const char *login;

	memset(out, 0, sizeof(*out));
	if (e == NULL) {
		snprintf(msg, len, "no such database: %s", name);
		return false;
	}
	login = e->is_default ? c->user : e->user != NULL ? e->user : user;
	if (!route_copy(out->alias, name) ||
	    !route_copy(out->dbname, route_dbname(c, e, name)) ||
	    !route_copy(out->user, login)) {
		snprintf(msg, len, "database or user name too long");
		return false;
	}
	out->db = e;
	out->autodb = strcmp(e->alias, "*") == 0;
	out->mode = route_mode(c, e, route_user(c, login));
	route_limits(c, e, route_user(c, login), out);
	return true;
}
