/* Client sessions: the startup handshake, trust login, then relaying through
 * whatever server the pool mode links; the wait for a server and its
 * timeout; CancelRequest routing; one disconnect path with a SQLSTATE. */
#ifndef PITLANE_CLIENT_H
#define PITLANE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "handoff.h"
#include "login.h"
#include "params.h"
#include "pool.h"
#include "stmt.h"
#include "worker.h"

/* What a console client may do. */
enum client_console {
	CONSOLE_NONE,  /* not a console client */
	CONSOLE_STATS, /* stats_users: SHOW only */
	CONSOLE_ADMIN, /* admin_users, or the same-uid `pgbouncer` */
};

enum client_state {
	CLIENT_STARTUP, /* reading the startup packet */
	CLIENT_AUTH,	/* authenticating: waiting for a password message */
	CLIENT_LOGIN,	/* logged in, waiting for a server to finish login */
	CLIENT_IDLE,	/* logged in, no server (transaction mode) */
	CLIENT_WAITING, /* has a request, waiting for a server */
	CLIENT_ACTIVE,	/* linked to a server */
	CLIENT_CONSOLE, /* logged in to the admin console; never linked */
	CLIENT_MOVING,	/* being handed to a new process (takeover): not read */
	CLIENT_CLOSING, /* flushing a final error, then freed */
	CLIENT_NSTATES,
};

/* Laid out for size (10,000 idle clients hold one each): pointers and
 * 64-bit fields first, the small fields packed after them. */
struct client {
	TAILQ_ENTRY(client) link; /* worker's clients or dead_clients */
	struct pool_waiter waiter;
	struct worker *w;
	struct dbpool *pool;   /* its pool once logged in; NULL before, and for
				  the console */
	struct io *io;	       /* its connection */
	struct server *server; /* linked server, or NULL */
	struct event *login_timer;     /* startup or final-flush deadline */
	struct params want;	       /* session parameters it set */
	struct params_shared *startup; /* as after login: what RESET ALL
					  restores; NULL before */
	struct stmt_names names;       /* its named prepared statements */
	int64_t last_active_ms;	       /* last read from it */
	int64_t wait_since_us; /* when it asked for a server (metrics) */
	/* Names for logs and SHOW, each cut as PostgreSQL cuts names (63
	 * bytes, 47 for ip); they point into name_block, one block sized to
	 * them (client_set_names), or to "" before it. */
	const char *addr;	 /* peer address and port */
	const char *user;	 /* as authenticated */
	const char *ip;		 /* peer address without port, "[local]" */
	const char *db;		 /* database asked for */
	char *name_block;	 /* owned */
	const char *auth_method; /* static name, for logs */
	struct io *plain_io;	 /* before STARTTLS; freed with the client */
	struct login *login;	 /* the exchange in progress, CLIENT_AUTH */
	struct authquery_req *lookup; /* auth_query running for this login;
					 CLIENT_AUTH with login NULL */
	uint8_t peer[16];	      /* peer address, for hba */
	uint32_t key_pid;	      /* BackendKeyData pitlane gave it */
	uint32_t key_secret;
	uint32_t connect_wall_s; /* wall-clock time of accept, for SHOW
				    (seconds since 1970, to 2106) */
	uint16_t port;		 /* peer's port; 0 on the unix socket */
	uint8_t family;		 /* of peer (AF_*) */
	uint8_t state;		 /* enum client_state */
	bool discard_until_sync; /* a refused batch: skip to its Sync */
	bool buried;		 /* on the dead list, freed soon */
	bool unix_socket;	 /* accepted on the unix socket */
	bool tls;		 /* the connection is encrypted */
	bool direct_tls;	 /* TLS began without SSLRequest */
	bool console_db;	 /* asked for the database pgbouncer/pitlane */
	uint8_t console;	 /* enum client_console */
	uint8_t console_wait;	 /* a console command waits (admin.c) */
};

/* The pool-mode table for a configured mode. */
const struct mode_ops *client_mode_ops(enum pool_mode mode);

/* Takes an accepted socket (closed on failure). */
void client_accept(struct worker *w, int fd, const struct sockaddr *sa);

/* Hands p's idle servers to its waiting clients, first come first served.
 * Safe to call from inside session callbacks. */
void client_dispatch(struct dbpool *p);

/* A waiter has waited the connect timeout: refuse its request. */
void client_wait_timeout(struct client *c);

/* Shutdown: tells idle clients 57P01 and closes them; linked ones finish
 * their transaction first. force closes everyone. */
void client_shutdown(struct client *c, bool force);

/* Ends the client when one of the configured timeouts has passed:
 * query_timeout, idle_transaction_timeout, client_idle_timeout. */
void client_check_timeouts(struct client *c, int64_t now);

/* Ends a client, with a FATAL error when sqlstate is not NULL (console
 * KILL, KILL_CLIENT). */
void client_close(struct client *c, const char *sqlstate, const char *message);

/* Live takeover, giving side. Encodes an idle client's session (pending
 * input included) into b and stops reading it (CLIENT_MOVING). In session
 * mode a linked client whose server can cross (server_handoff_ready)
 * qualifies too: the caller appends the server's record
 * (server_handoff_begin) and moves both. false, with nothing changed, when
 * the client is not at a boundary it can leave at: not idle, output still
 * unsent, skipping to a Sync, or too much state. */
bool client_handoff_begin(struct client *c, struct handoff_buf *b)
    __attribute__((warn_unused_result));
/* The new process holds the client (and its linked server): let go of
 * them without a word (the sockets stay open there). */
void client_handoff_done(struct client *c);
/* The handoff failed: the client is served here again, as if nothing had
 * happened; serve: handle what it sent meanwhile now (else the caller
 * goes on with it). */
void client_handoff_back(struct client *c, bool serve);

/* Receiving side: a client from the old process on socket fd (owned from
 * here, closed on failure). NULL when out of memory. Reading starts with
 * client_adopted_start, once the old process knows it let go. */
struct client *client_adopt(struct worker *w, int fd,
			    const struct handoff_session *hs);
void client_adopted_start(struct client *c);
/* Session mode: links an adopted client to the server adopted with it
 * (server_adopt), as it was in the old process; no parameter is applied,
 * the backend has them already. false when its pool does not link. */
bool client_adopt_link(struct client *c, struct server *s)
    __attribute__((warn_unused_result));
/* An adopted client the old process still holds after all: frees this copy
 * without touching the connection. */
void client_handoff_drop(struct client *c);

/* Finds the client holding a BackendKeyData (NULL: none). */
struct client *client_by_key(struct worker *w, uint32_t pid, uint32_t secret);
/* Cancels what the client with this key runs here; false when no client
 * here holds it. */
bool client_cancel_local(struct worker *w, uint32_t pid, uint32_t secret);

/* Frees a closing client; called by the worker's deferred reaper. */
void client_free(struct client *c);

#endif
