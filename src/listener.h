/* Listening sockets: TCP on listen_addr:listen_port and, when configured, a
 * unix socket named like PostgreSQL's (DIR/.s.PGSQL.PORT). */
#ifndef PITLANE_LISTENER_H
#define PITLANE_LISTENER_H

#include <stddef.h>

#include "worker.h"

struct listener;

/* Opens the sockets and logs a `listening` record for each. NULL, with a
 * reason in err, when a socket cannot be opened. */
struct listener *listener_new(struct worker *w, char *err, size_t errlen);

/* The TCP port actually bound (useful with port 0). */
int listener_port(const struct listener *l);

/* Stops accepting at once (shutdown) and closes the listening sockets, so
 * new connections go to the other peers or are refused instead of waiting
 * in a backlog; open clients are unaffected. */
void listener_disable(struct listener *l);

/* Closes the TCP socket, so that new TCP connections are refused; the unix
 * socket stays open for the console (SHUTDOWN WAIT_FOR_*). */
void listener_close_tcp(struct listener *l);

void listener_free(struct listener *l);

#endif
