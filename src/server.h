/* Server sessions: one backend connection each, from connect to Terminate.
 * A server relays to the client linked to it, tracks where transactions end,
 * cleans itself before serving someone else, and reports to its client
 * through the callbacks given at link time. */
#ifndef PITLANE_SERVER_H
#define PITLANE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <libpq-fe.h>

#include "backend.h"
#include "params.h"
#include "pool.h"
#include "worker.h"

enum server_state {
	SERVER_CONNECTING,
	SERVER_IDLE,
	SERVER_ACTIVE,	  /* linked to a client */
	SERVER_RESETTING, /* running ROLLBACK / the reset query */
	SERVER_CLOSED,	  /* waiting to be freed */
};

/* How a server talks back to the client it serves. */
struct server_peer_ops {
	/* The server returned to the pool at a transaction boundary. */
	void (*released)(void *peer);
	/* The server is gone; the peer must not touch it again. */
	void (*lost)(void *peer, const char *reason);
	/* The server's output drained: the peer may read again. */
	void (*drained)(void *peer);
};

enum server_forward_result {
	FORWARD_OK,
	FORWARD_TERMINATE, /* the client sent Terminate: stop reading it */
	FORWARD_BAD,	   /* malformed message length */
};

struct server {
	struct pool_slot slot;
	TAILQ_ENTRY(server) link; /* worker's servers or dead_servers */
	struct worker *w;
	enum server_state state;
	struct backend_connect *connecting;
	PGconn *conn;		 /* owned; PQfinish'd last */
	struct bufferevent *bev; /* on PQsocket(conn), never closes it */
	int backend_pid;
	struct params params; /* as last reported by the backend */

	/* The linked client. */
	struct bufferevent *peer_bev;
	const struct server_peer_ops *peer_ops;
	void *peer;

	/* Transaction tracking (design.md: count requests against
	 * ReadyForQuery). */
	unsigned pending_ready; /* Query/Sync/FunctionCall sent, not answered */
	bool ext_open;		/* extended messages since the last Sync */
	uint8_t xact;		/* status of the last ReadyForQuery */
	uint32_t in_skip;  /* body bytes of a server message still to relay */
	uint32_t out_skip; /* body bytes of a client message still to send */
	unsigned reset_pending; /* ReadyForQuery awaited while resetting */
	bool reset_failed;
	unsigned cancels; /* cancel requests in flight */
};

/* Starts a new backend connection; it joins the pool as connecting and
 * becomes idle when ready. */
struct server *server_connect(struct worker *w);

/* Links an active server (from pool_checkout) to a client. */
void server_link(struct server *s, struct bufferevent *peer_bev,
		 const struct server_peer_ops *ops, void *peer);

/* Sends what the client has buffered in src, tracking transaction state. */
enum server_forward_result server_forward(struct server *s,
					  struct evbuffer *src);

/* The client is done with the server (it left, or session ended): return it
 * to the pool clean, reset it first, or close it when it cannot be made
 * clean (a query still running, a partial message sent). */
void server_unlink(struct server *s);

/* Whether the server sits between transactions with nothing in flight. */
bool server_at_rest(const struct server *s);

/* Asks the backend to cancel what it runs (from a helper thread). */
void server_cancel(struct server *s);

/* Closes the server (deferred free). A linked client is told via lost(). */
void server_close(struct server *s, const char *reason);

/* Frees a closed server; called by the worker's deferred reaper. Returns
 * false while a cancel thread still uses it. */
bool server_free(struct server *s);

/* Pauses or resumes reading from the backend (backpressure). */
void server_pause(struct server *s, bool pause);

#endif
