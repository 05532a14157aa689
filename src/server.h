/* Server sessions: one backend connection each, from connect to Terminate.
 * A server relays to the client linked to it, tracks where transactions end,
 * cleans itself before serving someone else, and reports to its client
 * through the callbacks given at link time. */
#ifndef PITLANE_SERVER_H
#define PITLANE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include <libpq-fe.h>

#include "backend.h"
#include "handoff.h"
#include "passthru.h"
#include "stmt.h"
#include "params.h"
#include "pool.h"
#include "worker.h"

enum server_state {
	SERVER_CONNECTING,
	SERVER_IDLE,
	SERVER_ACTIVE,	  /* linked to a client */
	SERVER_RESETTING, /* running ROLLBACK, reset or check query */
	SERVER_CLOSED,	  /* waiting to be freed */
};

/* How a server talks back to the client it serves. */
struct server_peer_ops {
	/* The server returned to the pool at a transaction boundary. */
	void (*released)(void *ctx);
	/* The server is gone; the peer must not touch it again. told: the
	 * backend's own FATAL reached the client, which needs no other. */
	void (*lost)(void *ctx, const char *reason, bool told);
	/* The server's output drained: the peer may read again. */
	void (*drained)(void *ctx);
	/* The cancels sent for this server have landed: what the peer holds
	 * back may be sent now. */
	void (*resumed)(void *ctx);
	/* The session parameters asked for at link time are applied. */
	void (*synced)(void *ctx);
	/* The server cannot serve the client on: a parameter was refused, or
	 * the pool mode forbids what it did. */
	void (*refused)(void *ctx, const char *sqlstate, const char *message);
};

/* The client side of a link, as the server sees it. */
struct server_peer {
	struct io *io; /* the client's connection */
	const struct server_peer_ops *ops;
	void *ctx;
	struct stmt_names *names; /* client's statements; NULL: pass through */
	struct params *want;	  /* client's session parameters; NULL: none */
	const struct params *startup; /* restored by RESET ALL / DISCARD ALL */
};

/* One request sent to the backend whose responses are still due, in order:
 * the relay pops it at the response message that completes it. */
struct server_req {
	uint8_t type;	   /* the request's message type: P B C D E S Q F */
	uint8_t kind;	   /* enum server_req_kind */
	struct stmt *stmt; /* referenced: the statement a Parse prepares */
	int64_t sent_us;   /* when it was sent (query duration) */
};

struct server {
	struct pool_slot slot;
	TAILQ_ENTRY(server) link; /* worker's servers or dead_servers */
	struct worker *w;
	struct dbpool *pool; /* the pool it belongs to */
	enum server_state state;
	struct backend_connect *connecting;
	struct passthru_connect *connecting_raw; /* SCRAM pass-through */
	PGconn *conn;				 /* owned; PQfinish'd last */
	struct passthru_conn *raw; /* instead of conn: pass-through; owned */
	struct io *io; /* on the socket of conn or raw, never closes it */
	int backend_pid;
	unsigned gen;		 /* pool->gen when it was started */
	int64_t created_ms;	 /* for server_lifetime */
	int64_t busy_since_ms;	 /* when the request queue last filled */
	int64_t rest_since_ms;	 /* when it last emptied */
	struct params params;	 /* as the backend has them now */
	uint64_t synced_fp;	 /* fingerprint of the values last applied */
	unsigned synced_gen;	 /* params.gen + 1 then; 0: unknown */
	struct stmt_cache stmts; /* statements prepared on the backend */
	struct server_peer peer; /* the linked client; io NULL when none */

	/* Requests in flight, a ring. */
	struct server_req *reqs;
	unsigned req_head, req_len, req_cap;

	bool ext_open;	       /* extended messages since the last Sync */
	bool skip_to_sync;     /* the backend skips to the next Sync */
	uint8_t xact;	       /* status of the last ReadyForQuery */
	int64_t xact_start_us; /* first request since the last 'I'; 0: none */
	uint32_t in_skip;    /* body bytes of a server message still to relay */
	uint32_t out_skip;   /* body bytes of a client message still to send */
	bool hidden_failed;  /* a query pitlane sent on its own failed */
	bool sync_report;    /* a parameter sync ended: tell the peer */
	bool resync;	     /* reapply the client's parameters */
	bool reset_reports;  /* ParameterStatus of the client's RESET ALL or
				DISCARD ALL: the server's defaults, not its */
	bool seen_reset_all; /* the query in flight is RESET ALL */
	char seen_set[64];   /* the parameter the query in flight SETs */
	char seen_value[256]; /* and its value ("\x01": unreadable) */
	bool seen_default;    /* SET ... TO DEFAULT */
	bool broken;	      /* state unknown: close instead of reuse */
	bool read_only;	      /* read-only, its pool wants a primary: close */
	bool told_fatal;      /* relayed the backend's FATAL to the client */
	bool just_checked; /* ran server_check_query: next checkout uses it */
	bool must_check;   /* run it before the next checkout (failover) */
	bool probing;	   /* running the readiness probe */
	int64_t probe_idle_since_ms; /* its idle time, restored after it */
	unsigned cancels;     /* cancel requests in flight: nothing is sent */
	char sync_state[6];   /* SQLSTATE of a failed parameter sync */
	char sync_error[256]; /* its message */
	bool moving;	      /* being handed to a new process (takeover) */
	uint32_t handoff_secret; /* its cancel secret, while moving */
	int handoff_spare; /* libpq's, while moving: an unconnected socket that
			      takes its descriptor number when it has gone */
};

/* Starts a new backend connection for pool p; it joins the pool as
 * connecting and becomes idle when ready. */
struct server *server_connect(struct dbpool *p);

/* The server's socket (libpq's or its own), -1 when not connected. */
int server_fd(const struct server *s);

/* Links an active server (from pool_checkout) to a client and, when the
 * client's session parameters differ from the server's, applies them first
 * (one query, pipelined ahead of the client's own; ops->synced reports the
 * outcome). */
void server_link(struct server *s, const struct server_peer *peer);

/* Runs server_check_query (SELECT 1 when none is set) on an idle server
 * to prove the backend answers, for /readyz; it comes back idle with its
 * idle time kept, so probing does not hold off idle reaping. */
void server_probe(struct server *s);

/* Whether an idle server must run server_check_query before reuse; if so
 * the check is started and the server comes back through dispatch. */
bool server_check_if_stale(struct server *s);

/* The client is done with the server (it left, or session ended): return it
 * to the pool clean, reset it first, or close it when it cannot be made
 * clean (a query still running, a partial message sent). */
void server_unlink(struct server *s);

/* Whether the server sits between transactions with nothing in flight. */
bool server_at_rest(const struct server *s);

/* Whether a linked server may go back to the pool now. */
bool server_may_release(const struct server *s);

/* Unlinks at a transaction boundary: the server returns to the pool (or
 * closes, in session mode during shutdown) and the client is told. */
void server_release(struct server *s);

/* Puts a clean server back in the pool (or closes it: shutdown, lifetime,
 * unknown state) and lets the waiters have it. */
void server_become_idle(struct server *s);

/* Asks the backend to cancel what it runs (from a helper thread). Until the
 * request has landed (PostgreSQL's cancel process has signalled the backend
 * and exited), nothing more is sent to the server and it stays linked to its
 * client, so the cancel can reach only what was in flight when it was sent:
 * never the client's next query, nor another client's. */
void server_cancel(struct server *s);

/* RECONNECT, or a reload that changed the backend target: every server
 * of pool p is replaced. Idle and connecting ones close now, busy ones when
 * they are next released (no client loses its transaction); the janitor
 * opens new ones with the current configuration. */
void server_reconnect(struct dbpool *p);

/* Failover (docs/deploying.md, design.md "Failover"): evidence that s is
 * read-only, a reported parameter (server_note_param: in_hot_standby, and
 * for read-write default_transaction_read_only, as libpq judges) or
 * SQLSTATE 25006 (server_found_read_only). When its pool's
 * target_session_attrs is read-write or primary, s is closed at release
 * and never handed out again. Evidence a client cannot cause (sure:
 * in_hot_standby, or a report at login or in pitlane's own queries) also
 * closes the pool's idle servers on the same host and marks its busy ones
 * (and those still connecting), so new connects let libpq pick the host
 * that qualifies now. Evidence a client may have caused (its BEGIN READ
 * ONLY, its SET) makes those servers run the check query before their next
 * checkout. */
void server_note_param(struct server *s, const char *name, const char *value,
		       bool sure);
void server_found_read_only(struct server *s, const char *why, bool sure);

/* Closes the server (deferred free). A linked client is told via lost().
 * A server in transit (takeover) goes without a Terminate. */
void server_close(struct server *s, const char *reason);

/* Frees a closed server; called by the worker's deferred reaper. Returns
 * false while a cancel thread still uses it. */
bool server_free(struct server *s);

/* Pauses or resumes reading from the backend (backpressure). */
void server_pause(struct server *s, bool pause);

/* Live takeover, giving side. Whether s can cross to a new process now:
 * a plain socket toward PostgreSQL (TLS state cannot move), its cancel
 * key known, idle (or, linked, at rest: session mode), nothing in flight,
 * buffered or being cancelled, no prepared statement of pitlane's. */
bool server_handoff_ready(const struct server *s);
/* Whether s could ever cross (plain socket, cancel key known). */
bool server_handoff_plain(const struct server *s);
/* An idle s holding pitlane's prepared statements: DEALLOCATE ALL runs
 * first (the new process's statement cache starts empty); s comes back
 * idle. false when there is nothing to clean. */
bool server_handoff_clean(struct server *s);
/* Appends s's record (handoff.h) to b and stops reading it (s->moving);
 * false, nothing changed, when it cannot go now. */
bool server_handoff_begin(struct server *s, struct handoff_buf *b)
    __attribute__((warn_unused_result));
/* The new process holds s: this copy closes without a Terminate (the
 * connection lives on there). A linked client must have let go first. */
void server_handoff_done(struct server *s);
/* The handoff failed: s serves here again (idle, or its linked client). */
void server_handoff_back(struct server *s);
/* The moving server with this backend key, or NULL. */
struct server *server_moving_by_key(struct worker *w, uint32_t pid,
				    uint32_t secret);

/* Receiving side: the server on socket fd (owned from here, closed on
 * failure), a pass-through connection (no PGconn) in the pool of hs (made
 * when needed), not yet read nor handed out. NULL when its pool is full,
 * paused or unknown here, or out of memory. */
struct server *server_adopt(struct worker *w, int fd,
			    const struct handoff_server *hs);
/* The old process let go: an unlinked s becomes idle, a linked one reads. */
void server_adopted_start(struct server *s);
/* The old process keeps s after all: this copy goes without a word. */
void server_handoff_drop(struct server *s);

#endif
