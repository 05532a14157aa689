/* The session state that crosses the takeover socket with a client's file
 * descriptor (design.md §7: takeover moves sessions, not bytes): who logged
 * in, its session parameters, its prepared statements by text, its cancel
 * key and the bytes already read from it; and a server's record (its pool,
 * parameters, cancel key, age) that crosses with a server's descriptor.
 * Pure module: encode to and decode from one self-contained byte string,
 * bounded, never trusting its input. */
#ifndef PITLANE_HANDOFF_H
#define PITLANE_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

#define HANDOFF_STR_MAX	  256	      /* user, db, addr, ip, auth method */
#define HANDOFF_STMTS_MAX 65535	      /* statements one session carries */
#define HANDOFF_MAX	  (96 * 1024) /* encoded bytes (one datagram) */

/* One client-named prepared statement: the registry key (the Parse body
 * after the name, plus its search_path tail) the new process interns. */
struct handoff_stmt {
	const char *name;    /* NUL-terminated, inside the decoded buffer */
	const uint8_t *body; /* inside the decoded buffer */
	uint32_t body_len;
	uint32_t parse_len; /* leading bytes of body sent in Parse */
};

struct handoff_session {
	uint32_t key_pid, key_secret; /* BackendKeyData the client holds */
	int64_t connect_wall_s;
	int32_t port;
	uint8_t family;
	uint8_t peer[16];
	bool unix_socket;
	char user[HANDOFF_STR_MAX], db[HANDOFF_STR_MAX];
	char addr[HANDOFF_STR_MAX], ip[HANDOFF_STR_MAX];
	char auth_method[HANDOFF_STR_MAX];
	struct params want;	    /* owned by the session */
	struct params startup;	    /* owned by the session */
	struct handoff_stmt *stmts; /* owned array; entries point into the
				       decoded buffer */
	unsigned nstmts;
	const uint8_t *pending; /* input read but not handled; decoded buffer */
	uint32_t pending_len;
};

/* A growing output buffer with a sticky failure flag (out of memory or
 * past HANDOFF_MAX), checked once at the end. */
struct handoff_buf {
	uint8_t *p; /* owned */
	size_t len, cap;
	bool failed;
};

/* Writers in wire order: handoff_begin the fixed part, then the two
 * parameter sets, then the statements, then handoff_end with the pending
 * input. Check b->failed afterwards; handoff_buf_free always. */
void handoff_put_byte(struct handoff_buf *b, uint8_t v);
void handoff_begin(struct handoff_buf *b, const struct handoff_session *s);
void handoff_put_params(struct handoff_buf *b, const struct params *p);
void handoff_put_stmt_count(struct handoff_buf *b, unsigned n);
void handoff_put_stmt(struct handoff_buf *b, const char *name,
		      const uint8_t *body, uint32_t body_len,
		      uint32_t parse_len);
void handoff_end(struct handoff_buf *b, const uint8_t *pending,
		 uint32_t pending_len);
void handoff_buf_free(struct handoff_buf *b);

/* Decodes buf (which must outlive s: statements and pending input point
 * into it). false on any malformed or oversized input, s then cleared. */
bool handoff_decode(const uint8_t *buf, size_t len, struct handoff_session *s)
    __attribute__((warn_unused_result));

/* Frees what a decode allocated; s is empty and reusable. */
void handoff_session_clear(struct handoff_session *s);

/* An idle server connection (plain TCP or unix socket toward PostgreSQL)
 * that crosses with its socket: the pool it belongs to, what the backend
 * reported, its cancel key and its age. Its prepared statements do not
 * cross: the giving process deallocates them first (docs/design.md). */
struct handoff_server {
	uint32_t pid, secret; /* BackendKeyData: cancels */
	int64_t age_ms;	      /* connected this long ago (server_lifetime) */
	bool unix_socket;     /* toward PostgreSQL's unix socket */
	char alias[HANDOFF_STR_MAX]; /* the pool: database alias */
	char user[HANDOFF_STR_MAX];  /* and server login user */
	struct params params;	     /* ParameterStatus as now; owned */
};

/* Appends a server record to b (check b->failed at the end). */
void handoff_put_server(struct handoff_buf *b, const struct handoff_server *s);

/* Decodes exactly one server record from buf. false on any malformed or
 * oversized input, s then cleared. */
bool handoff_decode_server(const uint8_t *buf, size_t len,
			   struct handoff_server *s)
    __attribute__((warn_unused_result));

/* Frees what a server decode allocated; s is empty and reusable. */
void handoff_server_clear(struct handoff_server *s);

#endif
