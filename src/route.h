/* Routing: which database entry and which pool a login goes to, with the
 * pool's mode and limits. Pure module (L0): a decision over the
 * configuration, unit tested without sockets. */
#ifndef PITLANE_ROUTE_H
#define PITLANE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define ROUTE_NAME_MAX 64 /* a database or user name, NUL included */

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

/* The entry for alias exactly ("*" itself included), or NULL: what a
 * reload re-points a pool at. */
const struct db_entry *route_entry(const struct config *c, const char *alias);

#endif
