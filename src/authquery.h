/* auth_query: the secrets of users the auth file does not list, looked up
 * in PostgreSQL (SELECT usename, passwd FROM pg_shadow WHERE usename=$1 by
 * default) as auth_user, without blocking the loop: backend.c's connect
 * (resolution with evdns, libpq's non-blocking connect),
 * then PQsendQueryParams with the user name as parameter $1 (never in the
 * query text). Answers are cached for AUTHQUERY_TTL_MS; at most
 * AUTHQUERY_INFLIGHT lookups run at once, the others wait in order. */
#ifndef PITLANE_AUTHQUERY_H
#define PITLANE_AUTHQUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "config.h"

#define AUTHQUERY_TTL_MS   5000 /* an answer (found or not) is reused */
#define AUTHQUERY_CACHE	   256	/* cached answers at most */
#define AUTHQUERY_INFLIGHT 4	/* lookups running at once */

enum authquery_result {
	AUTHQUERY_FOUND,  /* secret set */
	AUTHQUERY_NONE,	  /* no row, or a NULL passwd: an unknown user */
	AUTHQUERY_FAILED, /* the lookup could not run: error set */
};

/* Called once per lookup, on the loop; secret and error are valid during
 * the call only. */
typedef void (*authquery_done_cb)(enum authquery_result r, const char *secret,
				  const char *error, void *arg);

struct authquery;
struct authquery_req;

struct authquery *authquery_new(struct event_base *base,
				struct evdns_base *dns);
void authquery_free(struct authquery *aq); /* NULL-safe; no callbacks */

/* Where and as whom a lookup runs. */
struct authquery_target {
	const struct config *cfg; /* sslmode, timeouts, auth_user, query */
	const char *host, *port;  /* the database entry's, or [pool]'s */
	const char *dbname;	  /* auth_dbname, or the client's database */
	const char *password;	  /* auth_user's, or NULL */
};

/* Looks up user. The answer always comes through done, never before this
 * returns (a cached one on the next loop turn). NULL when out of memory. */
struct authquery_req *authquery_lookup(struct authquery *aq,
				       const struct authquery_target *t,
				       const char *user, authquery_done_cb done,
				       void *arg);

/* The asker left: done will not be called (NULL-safe). */
void authquery_cancel(struct authquery_req *r);

#endif
