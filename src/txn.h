/* Transaction tracking on a server: the queue of requests whose responses
 * are still due, the relay in both directions that keeps it, and what
 * transaction pooling layers on top: client-named prepared statements
 * mapped to server-side names, and session parameters applied before a
 * client's first message on a server. */
#ifndef PITLANE_TXN_H
#define PITLANE_TXN_H

#include <stdbool.h>

#include "buf.h"
#include "server.h"

enum server_req_kind {
	REQ_CLIENT, /* the client's: responses relayed */
	REQ_HIDDEN, /* pitlane's own: responses swallowed */
	REQ_SYNTH,  /* the client's, answered by pitlane, not sent */
	REQ_PARAMS, /* pitlane's parameter sync: swallowed, then reported */
};

enum txn_forward_result {
	FORWARD_OK,
	FORWARD_TERMINATE, /* the client sent Terminate: stop reading it */
	FORWARD_BAD,	   /* malformed message */
	FORWARD_TOO_BIG,   /* longer than max_packet_size */
	FORWARD_NOMEM,	   /* out of memory */
};

/* Nothing in flight between the client and the backend. */
bool txn_at_boundary(const struct server *s);

/* Relays what the backend sent (server read callback). */
void txn_relay(struct server *s);

/* Sends what the client has buffered in src to its linked server. */
enum txn_forward_result txn_forward(struct server *s, struct buf *src);

/* Sends one simple query of pitlane's own. */
bool txn_send_query(struct server *s, const char *sql,
		    enum server_req_kind kind)
    __attribute__((warn_unused_result));

/* Applies the linked client's session parameters where the server's differ;
 * true when a sync query was sent (the peer hears of it through synced or
 * refused). */
bool txn_sync_params(struct server *s);

/* The shared statement for a Parse body (query and parameter types) as a
 * client with these session parameters means it: the same text under
 * another search_path is another statement. Takes a reference. */
struct stmt *txn_intern(struct worker *w, const uint8_t *body, size_t len,
			const struct params *want)
    __attribute__((warn_unused_result));

/* Whether a parameter follows the client (settable with SET). */
bool txn_param_tracked(const char *name);

/* The server's session was reset (DISCARD ALL): forget the parameters and
 * statements pitlane had put there. */
void txn_forget_session(struct server *s);

/* Frees the request queue and the statement cache. */
void txn_free(struct server *s);

#endif
