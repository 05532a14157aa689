/* The HTTP endpoint (libevent's evhttp, on the worker's loop): GET /metrics
 * (Prometheus), /healthz (liveness), /readyz (readiness). Bounded against
 * slow or hostile clients: header size, timeouts, a lifetime, GET/HEAD
 * only, and a connection limit past which a new connection is closed at
 * once. */
#ifndef PITLANE_HTTP_H
#define PITLANE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

#define HTTP_MAX_CONNS	 64    /* concurrent connections served */
#define HTTP_MAX_HEADERS 8192  /* request line and headers, bytes */
#define HTTP_TIMEOUT_S	 5     /* a read or write stalled this long */
#define HTTP_LIFETIME_MS 10000 /* a connection open this long is closed */
#define HTTP_SWEEP_MS	 250   /* how often finished connections go */

struct http_server;

/* Listens on http_addr:http_port (the worker's config; port 0 picks one and
 * logs it). Returns NULL with a message in err when it cannot. */
struct http_server *http_new(struct worker *w, bool notify_built_in, char *err,
			     size_t errlen);

/* Live takeover: the same on a socket received from the old process that
 * already listens (owned from here; closed on failure). */
struct http_server *http_adopt(struct worker *w, bool notify_built_in, int fd,
			       char *err, size_t errlen);
/* The listening socket. */
int http_listen_fd(const struct http_server *h);
/* Stops or restarts accepting, the socket kept open. */
void http_accepting(struct http_server *h, bool on);

/* The bound port. */
int http_port(const struct http_server *h);

/* Closes the listener and every connection. NULL-safe. */
void http_free(struct http_server *h);

#endif
