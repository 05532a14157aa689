/* Live takeover (pitlane -R): a new process connects to the running one
 * over a unix socket, receives its listening sockets, then each client at
 * its own idle boundary (socket with SCM_RIGHTS, session with handoff.h;
 * in session mode with its linked server), then the idle servers of pools
 * the old process no longer serves. The old process exits once it holds
 * nothing; if the new one goes away half-way, the old one serves on as
 * before. */
#ifndef PITLANE_TAKEOVER_H
#define PITLANE_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "listener.h"
#include "worker.h"

#define TAKEOVER_PROTO	   2  /* bump on any change of the messages */
#define TAKEOVER_TIMEOUT_S 10 /* the new process's handshake, per step */
#define TAKEOVER_SWEEP_MS  20 /* how often idle clients are looked at */
#define TAKEOVER_PATH_MAX  108

struct takeover;

/* Sockets the old process gives (fd -1: none). */
struct takeover_fds {
	int tcp, unix_fd, http, takeover;
	char unix_path[TAKEOVER_PATH_MAX];
};

/* The takeover socket's path: takeover_socket, else
 * unix_socket_dir/pitlane.takeover; false when neither is set. */
bool takeover_path(const struct config *cfg, char *buf, size_t len);

/* A running process: listens on the takeover socket at path. NULL, with
 * err, when it cannot (another process listens there). */
struct takeover *takeover_listen(struct worker *w, const char *path, char *err,
				 size_t errlen);

/* pitlane -R: connects to the running process at path, checks versions and
 * receives its listening sockets into fds. NULL, with err, when refused or
 * failed: nothing has moved then. */
struct takeover *takeover_connect(struct worker *w, const char *path,
				  struct takeover_fds *fds, char *err,
				  size_t errlen);

/* The sockets a takeover gives away (or, after takeover_connect, those made
 * from the received ones). */
void takeover_set_sockets(struct takeover *t, struct listener *l,
			  struct http_server *h);

/* After takeover_connect, once the received sockets accept here: the old
 * process stops accepting and starts handing over its clients. */
bool takeover_confirm(struct takeover *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Closes the sockets; unlinks the takeover socket unless it was given. */
void takeover_free(struct takeover *t);

#endif
