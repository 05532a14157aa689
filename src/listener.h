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

/* Live takeover. The listening sockets: TCP, and unix (-1 when off, its
 * path in path). */
void listener_fds(const struct listener *l, int *tcp, int *unix_fd,
		  const char **path);
/* Listens on sockets received from the old process (owned from here);
 * unix_fd -1 when none. NULL, with err, on failure (fds closed). */
struct listener *listener_adopt(struct worker *w, int tcp, int unix_fd,
				const char *path, char *err, size_t errlen);
/* Stops or restarts accepting, the sockets kept open (the new process
 * accepts on the same ones). */
void listener_accepting(struct listener *l, bool on);
/* given: the sockets are shared with a new process, so the unix socket
 * file is never unlinked here. */
void listener_given(struct listener *l, bool given);

void listener_free(struct listener *l);

#endif
