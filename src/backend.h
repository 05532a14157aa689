/* Backend connection driver: resolves the configured hosts with evdns, then
 * lets libpq connect without blocking the loop (PQconnectStartParams and
 * PQconnectPoll on libevent events), bounded by the connect timeout. */
#ifndef PITLANE_BACKEND_H
#define PITLANE_BACKEND_H

#include <event2/dns.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "config.h"

struct backend_connect;

/* Called once per attempt: conn on success (owned by the callee from then
 * on, already non-blocking), or NULL with a reason that never contains the
 * password. */
typedef void (*backend_done_cb)(PGconn *conn, const char *error, void *arg);

/* Starts one connect attempt. NULL when out of memory. */
struct backend_connect *backend_connect_start(struct event_base *base,
					      struct evdns_base *dns,
					      const struct config *cfg,
					      backend_done_cb done, void *arg);

/* Who an attempt logs in as, when not the configuration's DB_USER on
 * DB_NAME: NULL fields keep the configuration's value. */
struct backend_login {
	const char *user, *dbname, *password;
};

/* backend_connect_start with the login as (copied). NULL when out of
 * memory. */
struct backend_connect *backend_connect_start_as(
    struct event_base *base, struct evdns_base *dns, const struct config *cfg,
    const struct backend_login *as, backend_done_cb done, void *arg);

/* Abandons an attempt in progress without calling its callback. */
void backend_connect_abort(struct backend_connect *bc);

#endif
