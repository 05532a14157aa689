/* The pool table: lookup, creation and removal of the per-(database, user)
 * pools the worker holds. */
#include "dbpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

bool dbpool_set_str(char **field, const char *v)
{
	char *copy = strdup(v != NULL ? v : "");

	if (copy == NULL)
		return false;
	free(*field);
	*field = copy;
	return true;
}

/* The L0 pool's labels point at the strings p owns. */
static void dbpool_labels(struct dbpool *p)
{
	p->pool.name = p->alias;
	p->pool.database = p->dbname;
	p->pool.user = p->user;
}

struct dbpool *dbpool_new(struct worker *w, const char *alias,
			  const char *dbname, const char *user,
			  const struct pool_limits *lim,
			  const struct mode_ops *mode)
{
	struct dbpool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (!dbpool_set_str(&p->alias, alias) ||
	    !dbpool_set_str(&p->dbname, dbname) ||
	    !dbpool_set_str(&p->user, user)) {
		free(p->alias);
		free(p->dbname);
		free(p->user);
		free(p);
		return NULL;
	}
	pool_init(&p->pool, p->alias, lim);
	dbpool_labels(p);
	p->w = w;
	p->mode = mode;
	p->last_used_ms = worker_now_ms();
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
	free(p->alias);
	free(p->dbname);
	free(p->user);
	free(p);
}

void dbpool_free_all(struct worker *w)
{
	struct dbpool *p;

	while ((p = TAILQ_FIRST(&w->pools)) != NULL)
		dbpool_free(p);
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

bool dbpool_empty(const struct dbpool *p)
{
	return p->nclients == 0 && pool_total(&p->pool) == 0 &&
	       p->pool.closing == 0 && p->pool.nwaiting == 0;
}

struct dbpool *dbpool_for_login(struct worker *w, const char *db,
				const char *user, const char **sqlstate,
				char *msg, size_t len)
{
	struct dbpool *p = dbpool_default(w);

	(void)user;
	if (strcmp(db, w->cfg->dbname) != 0) {
		*sqlstate = "3D000";
		snprintf(msg, len, "database \"%s\" does not exist", db);
		return NULL;
	}
	if (p->disabled) {
		*sqlstate = "08P01";
		snprintf(msg, len, "database \"%s\" is disabled", db);
		return NULL;
	}
	return p;
}
