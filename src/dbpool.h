/* The pool table: one pool per (database alias, server login user), each
 * with its own accounting (struct pool), pool mode, parameter snapshot,
 * console switches and last connect error. The worker holds the table;
 * sessions point at their pool (c->pool, s->pool). The default DB_* pool
 * is the first entry, made at startup and never dropped. */
#ifndef PITLANE_DBPOOL_H
#define PITLANE_DBPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "dbconf.h"
#include "params.h"
#include "pool.h"

struct worker;
struct mode_ops;

struct dbpool {
	struct pool pool;	  /* the L0 accounting: slots, waiters, stats */
	TAILQ_ENTRY(dbpool) link; /* the worker's pools */
	struct worker *w;
	char *alias;		   /* the database clients ask for; owned */
	char *dbname;		   /* the server's database; owned */
	char *user;		   /* the server login user; owned */
	const struct db_entry *db; /* its entry in w->cfg, re-pointed by a
				      reload; NULL once the entry is gone */
	const struct mode_ops *mode;
	struct params params; /* newest server's, for logins */
	bool have_params;
	bool disabled;	   /* DISABLE: new logins refused */
	bool removed;	   /* its entry left the configuration: no new logins;
			      dropped when empty */
	bool autodb;	   /* made on demand from the "*" entry */
	unsigned gen;	   /* servers of an older one close when released */
	unsigned nclients; /* logged-in clients pointing at it */
	bool dispatching, dispatch_again; /* guards client_dispatch */
	int64_t last_used_ms;		  /* a client logged in or left */
	char last_connect_error[256];
};

TAILQ_HEAD(dbpool_list, dbpool);

/* A new pool in w's table (appended), its name and key copied; limits
 * and mode are taken from lim and mode. NULL when out of memory. */
struct dbpool *dbpool_new(struct worker *w, const char *alias,
			  const char *dbname, const char *user,
			  const struct pool_limits *lim,
			  const struct mode_ops *mode);

/* Removes p from the table and frees it (NULL-safe). No session may
 * point at it any more. */
void dbpool_free(struct dbpool *p);

/* The pool a client logging in to database db as user goes to. NULL when
 * none may take it: *sqlstate and msg (len bytes) then say why, as the
 * FATAL error the client gets. */
struct dbpool *dbpool_for_login(struct worker *w, const char *db,
				const char *user, const char **sqlstate,
				char *msg, size_t len);

/* Frees every pool of w (at exit). */
void dbpool_free_all(struct worker *w);

/* The pool for (alias, user), or NULL. Removed pools are not found. */
struct dbpool *dbpool_find(struct worker *w, const char *alias,
			   const char *user);

/* The default DB_* pool: the first entry. */
struct dbpool *dbpool_default(const struct worker *w);

/* Whether a pool may be dropped: nobody uses it and no server is left. */
bool dbpool_empty(const struct dbpool *p);

/* Replaces one owned string of p (alias, dbname or user) with a copy of
 * v; false (unchanged) when out of memory. */
bool dbpool_set_str(char **field, const char *v)
    __attribute__((warn_unused_result));

#endif
