/* Routing: which database entry and which pool a login goes to, with the
 * pool's mode and limits. Pure module (L0): a decision over the
 * configuration, unit tested without sockets. */
#ifndef PITLANE_ROUTE_H
#define PITLANE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define ROUTE_NAME_MAX 256 /* a database or user name, NUL included */

/* Where a client asking for database `name` as `user` is served. */
struct route {
	const struct db_entry *db;   /* its entry in the configuration */
	char alias[ROUTE_NAME_MAX];  /* the pool's database: the entry's alias,
					or for "*" the name asked for */
	char dbname[ROUTE_NAME_MAX]; /* the server's database */
	char user[ROUTE_NAME_MAX];   /* the server login user: the entry's
					user=, else the client's own */
	enum pool_mode mode;	     /* [users] pool_mode > entry > [pitlane] */
	unsigned max, min; /* entry pool_size / min_pool_size, else [pool]
			      pool_max / pool_min */
	unsigned reserve;  /* entry reserve_pool, else [pitlane]'s */
	unsigned max_db_connections;   /* 0: no cap; entry's, else global */
	unsigned max_user_connections; /* 0: no cap; [users] line's, else
					  global */
	bool autodb;		       /* made from the "*" entry */
};

/* Routes (name, user) through c. false when no entry serves name (PgBouncer
 * answers 3D000 "no such database: name" after authentication) or a name
 * is too long for a pool key; msg (len bytes) then says why. */
bool route_login(const struct config *c, const char *name, const char *user,
		 struct route *out, char *msg, size_t len)
    __attribute__((warn_unused_result));

/* The default DB_* pool's route: the default entry (dbs[0]) with the
 * [pool] settings. In a configuration without entries (db NULL then) the
 * same from the [pool] settings alone. */
void route_default(const struct config *c, struct route *out);

/* The caps on servers that pools of entry e (NULL: the default) logging in
 * as login share: the entry's max_db_connections, else [pitlane]'s; the
 * [users] line's max_user_connections, else [pitlane]'s. 0: no cap. */
void route_caps(const struct config *c, const struct db_entry *e,
		const char *login, unsigned *max_db, unsigned *max_user);

/* Whether two entries have the same settings (a reload leaves their
 * pools alone). */
bool route_entry_equal(const struct db_entry *a, const struct db_entry *b);

/* The entry for alias exactly ("*" itself included), or NULL: what a
 * reload re-points a pool at. */
const struct db_entry *route_entry(const struct config *c, const char *alias);

#endif
