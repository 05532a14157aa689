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

#include "backend.h"
#include "config.h"
#include "dbconf.h"
#include "params.h"
#include "pool.h"
#include "srvcreds.h"
#include "route.h"

struct worker;
struct mode_ops;

#define DBPOOL_OPTIONS_MAX 512 /* the "-c DateStyle=... -c TimeZone=..." */

struct dbpool {
	struct pool pool;	  /* the L0 accounting: slots, waiters, stats */
	TAILQ_ENTRY(dbpool) link; /* the worker's pools */
	struct worker *w;
	char *alias;		   /* the database clients ask for; owned */
	char *dbname;		   /* the server's database; owned */
	char *user;		   /* the server login user; owned */
	const struct config *cfg;  /* held: the configuration db is in */
	const struct db_entry *db; /* its entry in cfg; NULL: the [pool]
				      settings (a configuration without
				      entries) */
	const struct mode_ops *mode;
	struct params params; /* newest server's, for logins */
	bool have_params;
	bool removed;	   /* its entry left the configuration: no new logins;
			      dropped when empty */
	bool autodb;	   /* made on demand from the "*" entry */
	bool capped;	   /* max_db/user_connections held a connect back */
	unsigned gen;	   /* servers of an older one close when released */
	unsigned nclients; /* logged-in clients pointing at it */
	bool dispatching, dispatch_again; /* guards client_dispatch */
	int64_t last_used_ms;		  /* a client logged in or left */
	char last_connect_error[256];
};

TAILQ_HEAD(dbpool_list, dbpool);

/* A new pool in w's table (appended) for route r under w->cfg (held).
 * NULL when out of memory. */
struct dbpool *dbpool_new(struct worker *w, const struct route *r);

/* Removes p from the table and frees it (NULL-safe). No session may
 * point at it any more. */
void dbpool_free(struct dbpool *p);

/* The pool a client logging in to database db as user goes to. NULL when
 * none may take it: *sqlstate and msg (len bytes) then say why, as the
 * FATAL error the client gets. */
struct dbpool *dbpool_for_login(struct worker *w, const char *db,
				const char *user, const char **sqlstate,
				char *msg, size_t len);

/* Where p's next server connects and as whom. The strings point into p,
 * its configuration, the credentials and opts (DBPOOL_OPTIONS_MAX bytes):
 * use them at once (backend_connect_start copies them). */
void dbpool_target(const struct dbpool *p, struct backend_target *t,
		   char *opts);

/* libpq's target_session_attrs keyword for p's servers ("read-write",
 * ...; the default pool's comes from [pool] target_session_attrs); NULL
 * for any. */
const char *dbpool_target_session_attrs(const struct dbpool *p);

/* The credentials p's servers log in with, as srvcreds_choose decides
 * (the one place): the entry's password=, else DB_PASSWORD when the user
 * is DB_USER, else the auth file's plaintext password for the user, else
 * the ClientKey of a client of that user (SCRAM pass-through), else none.
 * Wipe sc when done. */
enum srvcreds_kind dbpool_server_creds(const struct dbpool *p,
				       struct srvcreds *sc);

/* The password of dbpool_server_creds, or NULL (pass-through or none). */
const char *dbpool_server_password(const struct dbpool *p);

/* How many more servers p may open under max_db_connections (shared by
 * the pools of its database) and max_user_connections (by the pools of
 * its login user); UINT32_MAX: no cap. */
unsigned dbpool_connect_room(const struct dbpool *p);

/* When p waits at a cap: closes the longest idle server of another pool
 * sharing it, so the room goes where clients wait. true when one closed. */
bool dbpool_evict_for(struct dbpool *p);

/* A reload swapped w->cfg: the default pool takes the [pool] names and
 * limits; each other pool follows its entry (limits, caps; a changed entry
 * reconnects its servers), and one whose entry is gone (or whose user the
 * entry no longer matches) takes no new logins and goes once empty. */
void dbpool_reload(struct worker *w);

/* Drops pools no longer wanted: removed ones once empty, "*" ones empty
 * for autodb_idle_timeout. */
void dbpool_sweep(struct worker *w, int64_t now_ms);

/* Frees every pool of w (at exit). */
void dbpool_free_all(struct worker *w);

/* The pool for (alias, user), or NULL. Removed pools are not found. */
struct dbpool *dbpool_find(struct worker *w, const char *alias,
			   const char *user);

/* DISABLE / ENABLE: whether new logins to database alias are refused, and
 * setting it (for an alias with or without pools yet). Setting returns
 * false when out of memory. */
bool dbpool_db_disabled(const struct worker *w, const char *alias);
bool dbpool_db_set_disabled(struct worker *w, const char *alias, bool on)
    __attribute__((warn_unused_result));

/* PAUSE / KILL db and RESUME: whether database alias is paused (its pools
 * made from now on start paused), and setting it (alias NULL: every
 * database, PAUSE without one; clearing that also clears each alias's).
 * Setting returns false when out of memory; clearing never fails. */
bool dbpool_db_paused(const struct worker *w, const char *alias);
bool dbpool_db_set_paused(struct worker *w, const char *alias, bool on)
    __attribute__((warn_unused_result));

/* The default DB_* pool: the first entry. */
struct dbpool *dbpool_default(const struct worker *w);

#endif
