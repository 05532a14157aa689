/* Backend connection driver: resolves the configured hosts with evdns, then
 * lets libpq connect to one host after the other without blocking the loop
 * (PQconnectStartParams and PQconnectPoll on libevent events), each host
 * bounded by the connect timeout. */
#ifndef PITLANE_BACKEND_H
#define PITLANE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <libpq-fe.h>

#include "config.h"
#include "hostlist.h"

struct backend_connect;

/* Where and as whom one backend connection logs in (a pool's target). The
 * strings are copied by backend_connect_start; NULL: not sent. TLS toward
 * the server (sslmode, sslrootcert, sslcert, sslkey) and the connect
 * timeout come from the configuration. */
struct backend_target {
	const char *host; /* comma-separated list */
	const char *port; /* comma-separated list, or one for every host */
	const char *dbname;
	const char *user;
	const char *password;
	const char *target_session_attrs; /* libpq's keyword */
	const char *application_name;	  /* else fallback "pitlane" */
	const char *client_encoding;
	const char *options; /* "-c DateStyle=... -c TimeZone=..." */
	bool shuffle_hosts;  /* load_balance_hosts=random */
};

/* Called once per attempt: conn on success (owned by the callee from then
 * on, already non-blocking), or NULL with a reason that never contains the
 * password: the last host's (every host failed). */
typedef void (*backend_done_cb)(PGconn *conn, const char *error, void *arg);

/* Starts one connect attempt to target: its hosts in list order (shuffled
 * first with shuffle_hosts), each with connect_timeout_ms of its own (the
 * first one's also covers the name lookups), the first that logs in and
 * suits target_session_attrs wins. So an attempt takes at most
 * connect_timeout_ms times the number of hosts. NULL when out of memory.
 * done is never called before this returns: the first step runs from the
 * loop. */
struct backend_connect *backend_connect_start(
    struct event_base *base, struct evdns_base *dns, const struct config *cfg,
    const struct backend_target *target, backend_done_cb done, void *arg);

/* hostlist_init with load_balance_hosts=random's random words when
 * shuffle: the host order of both connect drivers (this one and
 * passthru.c). */
void backend_hosts_init(struct hostlist *hl, char *hosts, char *ports,
			const char *tsa, bool shuffle);

/* Abandons an attempt in progress without calling its callback. */
void backend_connect_abort(struct backend_connect *bc);

/* The cancel secret of conn's BackendKeyData, which libpq keeps but does
 * not show (a takeover hands it to the new process). false when it cannot
 * be read with confidence. */
bool backend_cancel_secret(PGconn *conn, uint32_t *secret)
    __attribute__((warn_unused_result));

#endif
