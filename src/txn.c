/* Transaction tracking: every request sent to a backend is queued with the
 * response message type that completes it, so the relay always knows which
 * request a response belongs to. That is what lets pitlane release a server
 * only at a true boundary, swallow the responses to its own messages
 * (statement preparation, parameter sync, checks) and answer some client
 * messages itself, all without reading message bodies on the hot path. */
#include "txn.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"

#define TXN_NAME_PREFIX_MAX 2048 /* bytes of a Bind read to find its names */
#define TXN_NAME_PEEK	    (PROTO_HEADER_LEN + 64) /* first look at names */
#define TXN_TAG_MAX	    32 /* CommandComplete tag bytes inspected */
/* What pitlane records for a parameter a client SET that the server does
 * not report: no client ever wants this value, so the next link resets it. */
#define TXN_UNKNOWN_VALUE "\x01"
#define TXN_SQL_MAX	  256 /* simple queries read for DEALLOCATE: shorter ones */
/* ErrorResponse bytes read for the severity and the SQLSTATE. */
#define TXN_SEVERITY_PEEK      64
#define TXN_READ_ONLY_SQLSTATE "25006" /* read_only_sql_transaction */

static const uint8_t synth_close_complete[] = {'3', 0, 0, 0, 4};
static const uint8_t synth_deallocate[] = {
    'C', 0, 0, 0, 15, 'D', 'E', 'A', 'L', 'L', 'O', 'C', 'A', 'T', 'E', 0};

/* Reported parameters a client cannot SET: they never follow it. */
static const char *const txn_untracked[] = {
    "server_version", "server_encoding", "integer_datetimes",
    "in_hot_standby", "is_superuser",	 "session_authorization",
};

static bool txn_sync(struct server *s, enum server_req_kind kind);
static void txn_note_session_sql(struct server *s, const char *q);
static bool txn_is_deallocate(const char *q, char *name, size_t cap);
static bool txn_session_sql_start(const char *q, size_t n);
static bool txn_session_sql_at(struct buf *src, const struct relay_cursor *cur,
			       uint32_t len);

bool txn_param_tracked(const char *name)
{
	for (size_t i = 0; i < sizeof(txn_untracked) / sizeof(txn_untracked[0]);
	     i++)
		if (strcasecmp(name, txn_untracked[i]) == 0)
			return false;
	return true;
}

/* The request queue: a ring that grows by doubling (rarely: its size
 * follows the deepest pipeline seen on this server), so that its size is
 * a power of two and an index wraps with a mask. */

static struct server_req *txn_head(const struct server *s)
{
	return s->req_len > 0 ? &s->reqs[s->req_head] : NULL;
}

static bool txn_grow(struct server *s)
{
	unsigned cap = s->req_cap ? s->req_cap * 2 : 16;
	struct server_req *r = malloc(cap * sizeof(*r));

	if (r == NULL)
		return false;
	for (unsigned i = 0; i < s->req_len; i++)
		r[i] = s->reqs[(s->req_head + i) & (s->req_cap - 1)];
	free(s->reqs);
	s->reqs = r;
	s->req_cap = cap;
	s->req_head = 0;
	return true;
}

static bool txn_push(struct server *s, uint8_t type, enum server_req_kind kind,
		     struct stmt *st)
{
	if (s->req_len == s->req_cap && !txn_grow(s))
		return false;
	int64_t now = worker_now_us(s->w);

	s->reqs[(s->req_head + s->req_len) & (s->req_cap - 1)] =
	    (struct server_req){
		.type = type, .kind = kind, .stmt = st, .sent_us = now};
	if (s->xact_start_us == 0 && (kind == REQ_CLIENT || kind == REQ_SYNTH))
		s->xact_start_us = now;
	if (st != NULL)
		stmt_ref(st);
	if (s->req_len++ == 0)
		s->busy_since_ms = worker_now_ms();
	log_debug("req push", LF_INT("backend_pid", s->backend_pid),
		  LF_INT("type", type), LF_INT("kind", kind),
		  LF_INT("len", s->req_len));
	return true;
}

/* Drops the head request. A Parse that failed (or was skipped after an
 * error) did not prepare its statement on the server. */
static void txn_pop(struct server *s, bool failed)
{
	struct server_req *r = &s->reqs[s->req_head];

	log_debug("req pop", LF_INT("backend_pid", s->backend_pid),
		  LF_INT("type", r->type), LF_INT("kind", r->kind),
		  LF_BOOL("failed", failed), LF_INT("len", s->req_len - 1));
	if (r->stmt != NULL) {
		if (failed && r->type == 'P')
			stmt_cache_remove(&s->stmts, s->w->stmts, r->stmt);
		else if (r->type == 'P')
			r->stmt->valid = true;
		stmt_unref(s->w->stmts, r->stmt);
	}
	s->req_head = (s->req_head + 1) & (s->req_cap - 1);
	if (--s->req_len == 0)
		s->rest_since_ms = worker_now_ms();
}

/* The response message that completes a request of each type. */
static bool txn_completes(uint8_t req, uint8_t resp)
{
	switch (req) {
	case 'P':
		return resp == '1';
	case 'B':
		return resp == '2';
	case 'C':
		return resp == '3';
	case 'D':
		return resp == 'T' || resp == 'n';
	case 'E':
		return resp == 'C' || resp == 'I' || resp == 's';
	default: /* Sync, Query, FunctionCall */
		return resp == 'Z';
	}
}

/* An ErrorResponse ends the request it answers and, in the extended
 * protocol, makes the backend skip every message up to the next Sync. */
static void txn_on_error(struct server *s)
{
	struct server_req *r = txn_head(s);

	if (r == NULL || r->type == 'S' || r->type == 'Q' || r->type == 'F')
		return; /* the error is part of a response ended by 'Z' */
	txn_pop(s, true);
	while ((r = txn_head(s)) != NULL && r->type != 'S')
		txn_pop(s, true);
	/* No Sync sent yet: what the client sends until it is skipped. */
	s->skip_to_sync = r == NULL;
}

/* Keeps the queue in step with one relayed response message. */
static void txn_account(struct server *s, uint8_t type)
{
	struct server_req *r = txn_head(s);

	if (r == NULL)
		return;
	if (type == 'E')
		txn_on_error(s);
	else if (txn_completes(r->type, type))
		txn_pop(s, false);
}

bool txn_at_boundary(const struct server *s)
{
	return s->req_len == 0 && !s->ext_open && s->out_skip == 0 &&
	       s->in_skip == 0 && s->cancels == 0;
}

/* Moves the scanned bytes to the client (or drops them when no client is
 * linked) and restarts the cursor on what is left. */
static void txn_flush(struct server *s, struct buf *in,
		      struct relay_cursor *cur)
{
	if (cur->pos > 0) {
		if (s->peer.io != NULL) {
			io_write_from(s->peer.io, in, cur->pos);
			s->pool->pool.stats.bytes_out += cur->pos;
			if (io_unsent(s->peer.io) > RELAY_HIGH_WATER)
				server_pause(s, true);
		} else {
			buf_drain(in, cur->pos);
		}
	}
	relay_cursor_init(cur);
}

/* Answers the client messages pitlane handled itself, once every request
 * before them is complete. True when one of them ended with ReadyForQuery,
 * which is a boundary like the backend's own. */
static bool txn_emit_synth(struct server *s)
{
	struct server_req *r;
	bool ready = false;

	while ((r = txn_head(s)) != NULL && r->kind == REQ_SYNTH) {
		struct buf *out =
		    s->peer.io != NULL ? io_output(s->peer.io) : NULL;
		if (out != NULL && r->type == 'Q') {
			/* SQL DEALLOCATE of a client's statement: the
			 * transaction state does not change. */
			uint8_t z[] = {'Z', 0, 0, 0, 5, s->xact};
			buf_add(out, synth_deallocate,
				sizeof(synth_deallocate));
			buf_add(out, z, sizeof(z));
			ready = true;
		} else if (out != NULL) {
			buf_add(out, synth_close_complete,
				sizeof(synth_close_complete));
		}
		txn_pop(s, false);
	}
	return ready;
}

static void txn_track_param(struct server *s, struct buf *in,
			    const struct relay_cursor *cur, uint32_t len,
			    bool hidden, enum server_req_kind kind)
{
	uint8_t body[1024];
	size_t n = relay_copy_body(in, cur, len, body, sizeof(body));
	size_t name_off, value_off;
	const char *name, *value;

	if (n != len - 4 || proto_parameter_status_parse(
				body, n, &name_off, &value_off) != PROTO_OK)
		return;
	name = (const char *)body + name_off;
	value = (const char *)body + value_off;
	if (!params_set(&s->params, name, value))
		s->broken = true;
	/* A report during the client's request may be its own SET; during
	 * the sync of its parameters it is; during pitlane's own queries it
	 * is the server's configuration. */
	if (kind != REQ_PARAMS)
		server_note_param(s, name, value, kind == REQ_HIDDEN);
	if (!hidden && s->peer.want != NULL && txn_param_tracked(name) &&
	    !params_set(s->peer.want, name, value))
		s->broken = true;
}

/* A client's SET of a parameter the server does not report succeeded: the
 * value follows the client when it could be read, else the server resets
 * it before anyone else uses it. */
static void txn_track_set(struct server *s)
{
	const char *v = s->seen_value;
	bool ok = true;

	if (s->seen_default) {
		if (s->peer.want != NULL)
			params_unset(s->peer.want, s->seen_set);
		params_unset(&s->params, s->seen_set);
		return;
	}
	if (v[0] != TXN_UNKNOWN_VALUE[0] && s->peer.want != NULL)
		ok = params_set(s->peer.want, s->seen_set, v);
	else if (s->peer.want != NULL)
		params_unset(s->peer.want, s->seen_set);
	if (!ok || !params_set(&s->params, s->seen_set, v))
		s->broken = true;
}

/* Acts on a CommandComplete tag that changes what pitlane tracks for the
 * session: DISCARD ALL, DEALLOCATE ALL, and RESET and SET as recognised in
 * the query text when it was sent (txn_query). Every other tag (SELECT n,
 * INSERT 0 n, ...) is passed over at its first letter or within a few. */
static void txn_track_tag(struct server *s, const char *tag)
{
	bool forget;

	switch (tag[0]) {
	case 'D':
		if (strcmp(tag, "DISCARD ALL") != 0 &&
		    strcmp(tag, "DEALLOCATE ALL") != 0)
			return;
		if (s->peer.names != NULL)
			stmt_names_clear(s->peer.names, s->w->stmts);
		stmt_cache_clear(&s->stmts, s->w->stmts);
		forget = tag[1] == 'I'; /* DISCARD ALL */
		break;
	case 'R':
		forget = strcmp(tag, "RESET") == 0 && s->seen_reset_all;
		break;
	case 'S':
		if (strcmp(tag, "SET") == 0 && s->seen_set[0] != '\0' &&
		    params_get(&s->pool->params, s->seen_set) == NULL)
			txn_track_set(s);
		return;
	default:
		return;
	}
	if (forget) {
		txn_forget_session(s);
		s->resync = true; /* at ReadyForQuery, after the
				     ParameterStatus messages */
		s->reset_reports = true;
	}
}

static void txn_track_command(struct server *s, struct buf *in,
			      const struct relay_cursor *cur, uint32_t len)
{
	char tag[TXN_TAG_MAX + 1] = "";
	size_t n = relay_copy_body(in, cur, len, (uint8_t *)tag, TXN_TAG_MAX);

	tag[n] = '\0';
	txn_track_tag(s, tag);
	s->seen_reset_all = false;
	s->seen_set[0] = '\0';
}

/* Captures why one of pitlane's own queries failed. */
static void txn_note_failure(struct server *s, struct buf *in,
			     const struct relay_cursor *cur, uint32_t len)
{
	uint8_t body[512];
	size_t n = relay_copy_body(in, cur, len, body, sizeof(body) - 1);
	long code, msg;

	body[n] = '\0';
	code = proto_error_field(body, n, 'C');
	msg = proto_error_field(body, n, 'M');
	snprintf(s->sync_state, sizeof(s->sync_state), "%s",
		 code >= 0 ? (const char *)body + code : "XX000");
	snprintf(s->sync_error, sizeof(s->sync_error), "%s",
		 msg >= 0 ? (const char *)body + msg : "unknown error");
	s->hidden_failed = true;
	if (strcmp(s->sync_state, TXN_READ_ONLY_SQLSTATE) == 0)
		server_found_read_only(s, "check query: read-only transaction",
				       true);
}

/* A ReadyForQuery the client sees: the query it ends and, at status 'I',
 * the transaction, into the pool's counters and histograms. A transaction
 * starts at its first request, or at r's when a pipelined one was sent
 * before the previous transaction ended. */
static void txn_note_ready(struct server *s, const struct server_req *r,
			   uint8_t status)
{
	struct pool *p = &s->pool->pool;
	int64_t now = worker_now_us(s->w);
	int64_t start = r != NULL ? r->sent_us : now;

	if (r != NULL && (r->type == 'Q' || r->type == 'S' || r->type == 'F'))
		metrics_record_query(&p->stats, &p->hist,
				     metrics_elapsed_us(r->sent_us, now));
	if (status != 'I')
		return;
	p->stats.xacts_total++;
	if (s->xact_start_us != 0 && s->xact_start_us < start)
		start = s->xact_start_us;
	metrics_record_xact(&p->stats, &p->hist,
			    metrics_elapsed_us(start, now));
	s->xact_start_us = 0;
}

/* A whole message the relay must read. Returns true when it is dropped
 * rather than relayed; sets *stop when the scan must end after it. */
static bool txn_inspect(struct server *s, struct buf *in,
			const struct relay_cursor *cur, uint8_t type,
			uint32_t len, bool *stop)
{
	struct server_req *r = txn_head(s);
	enum server_req_kind kind = r != NULL ? r->kind : REQ_CLIENT;
	bool hidden = kind == REQ_HIDDEN || kind == REQ_PARAMS;
	bool linked = s->peer.io != NULL;
	uint8_t status = 0;

	switch (type) {
	case 'Z':
		relay_copy_body(in, cur, len, &status, 1);
		s->xact = status;
		s->pool->pool.alive_us = worker_now_us(s->w);
		if (!hidden)
			txn_note_ready(s, r, status);
		else if (status == 'I')
			s->xact_start_us = 0;
		if (r != NULL && txn_completes(r->type, 'Z'))
			txn_pop(s, false);
		if (kind == REQ_PARAMS)
			s->sync_report = true;
		*stop = true;
		/* Statement mode refuses a transaction block: the FATAL must
		 * answer BEGIN, so its ReadyForQuery is not relayed. */
		if (linked && !hidden && status != 'I' &&
		    s->pool->mode->single_statement && txn_at_boundary(s))
			return true;
		return hidden || !linked;
	case 'S':
		/* After a reset the server reports its own defaults; the
		 * client is told its startup values instead (txn_restore). */
		txn_track_param(s, in, cur, len, hidden || s->reset_reports,
				kind);
		return hidden || s->reset_reports || !linked;
	case 'E':
		if (hidden)
			txn_note_failure(s, in, cur, len);
		else if (!linked)
			s->hidden_failed = true;
		txn_on_error(s);
		if (!linked && s->state == SERVER_IDLE)
			*stop = true;
		/* A failed preparation is the client's error too. */
		return !(linked && hidden && r->type == 'P');
	case 'C':
		txn_account(s, type);
		if (!hidden && linked)
			txn_track_command(s, in, cur, len);
		return hidden || !linked;
	default:
		txn_account(s, type);
		return hidden || !linked;
	}
}

/* Statement mode and a transaction block began: pitlane rolls it back on
 * its own and answers the client with an error in place of the
 * ReadyForQuery it held back, so the session goes on. */
static void txn_refuse_block(struct server *s)
{
	uint8_t buf[256];
	struct proto_writer wr;

	if (!txn_send_query(s, "ROLLBACK", REQ_HIDDEN)) {
		s->peer.ops->refused(s->peer.ctx, "53200", "out of memory");
		return;
	}
	io_flush(s->io);
	proto_writer_init(&wr, buf, sizeof(buf));
	proto_write_error(&wr, "ERROR", "0A000",
			  "transaction blocks are not allowed in statement "
			  "pooling mode",
			  "pitlane rolled the transaction back; run each "
			  "statement on its own.");
	proto_write_ready(&wr, 'I');
	if (!wr.overflow)
		buf_add(io_output(s->peer.io), buf, wr.len);
	io_flush(s->peer.io);
}

/* After the scan stopped at a ReadyForQuery or an error. */
static void txn_after_stop(struct server *s)
{
	if (s->sync_report && s->state == SERVER_ACTIVE) {
		const struct server_peer_ops *ops = s->peer.ops;
		void *ctx = s->peer.ctx;

		s->sync_report = false;
		if (s->hidden_failed) {
			s->hidden_failed = false;
			ops->refused(ctx, s->sync_state, s->sync_error);
		} else {
			ops->synced(ctx);
		}
		if (s->state != SERVER_ACTIVE || s->peer.ctx != ctx)
			return;
	}
	s->sync_report = false;
	switch (s->state) {
	case SERVER_ACTIVE:
		if (s->resync && txn_at_boundary(s)) {
			/* After the client's RESET ALL / DISCARD ALL its
			 * startup values go back on the server. */
			s->resync = false;
			if (txn_sync(s, REQ_PARAMS))
				break;
		}
		if (s->pool->mode->single_statement && s->xact != 'I' &&
		    txn_at_boundary(s)) {
			txn_refuse_block(s);
		} else if (server_may_release(s)) {
			server_release(s);
		} else if (s->w->at_rest != NULL && server_at_rest(s)) {
			s->w->at_rest(s);
		}
		break;
	case SERVER_RESETTING:
		if (s->req_len > 0)
			break;
		if (s->hidden_failed || s->xact != 'I') {
			log_warn("closing server: pitlane's own query failed",
				 LF_STR("pool", s->pool->pool.name),
				 LF_INT("backend_pid", s->backend_pid),
				 LF_STR("sqlstate", s->sync_state),
				 LF_STR("message", s->sync_error));
			server_close(s, "reset failed");
		} else
			server_become_idle(s);
		break;
	case SERVER_IDLE:
		if (!s->hidden_failed)
			break;
		log_warn("server sent an error while idle",
			 LF_STR("pool", s->pool->pool.name),
			 LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
		break;
	default:
		break;
	}
}

/* Whether an ErrorResponse (its first n body bytes) is FATAL or PANIC:
 * the backend ends the connection after it. */
static bool txn_error_is_fatal(const uint8_t *body, size_t n)
{
	long sev = proto_error_field(body, n, 'V'); /* not localised */

	if (sev < 0)
		sev = proto_error_field(body, n, 'S');
	return sev >= 0 && (strcmp((const char *)body + sev, "FATAL") == 0 ||
			    strcmp((const char *)body + sev, "PANIC") == 0);
}

/* An ErrorResponse relayed to the client: when it is the backend's FATAL,
 * the client has been told why the connection ends, and pitlane adds no
 * error of its own. False when its first bytes have not arrived yet. */
static bool txn_note_relayed_error(struct server *s, struct buf *in,
				   const struct relay_cursor *cur, uint32_t len)
{
	uint8_t body[TXN_SEVERITY_PEEK];
	size_t n = len - 4 < sizeof(body) ? len - 4 : sizeof(body);
	long code;

	if (buf_len(in) - cur->pos < PROTO_HEADER_LEN + n)
		return false;
	n = relay_copy_body(in, cur, len, body, n);
	if (txn_error_is_fatal(body, n))
		s->told_fatal = true;
	code = proto_error_field(body, n, 'C');
	if (code >= 0 &&
	    strcmp((const char *)body + code, TXN_READ_ONLY_SQLSTATE) == 0)
		server_found_read_only(s, "read_only_sql_transaction relayed",
				       false);
	return true;
}

/* Writes one ParameterStatus to the linked client. */
static void txn_tell_param(struct server *s, const char *name,
			   const char *value)
{
	struct buf *out = io_output(s->peer.io);
	size_t n = strlen(name) + 1, v = strlen(value) + 1;
	uint32_t len = (uint32_t)(4 + n + v);
	uint8_t h[5] = {'S', (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};

	if (buf_add(out, h, sizeof(h)) != 0 || buf_add(out, name, n) != 0 ||
	    buf_add(out, value, v) != 0)
		s->broken = true;
}

/* The ReadyForQuery of the client's RESET ALL or DISCARD ALL is next. On a
 * direct connection the session goes back to the client's startup values
 * (the session defaults), and PostgreSQL reports each reported parameter
 * that changed: the client gets those reports now, in place of the ones
 * the server sent for its own defaults, and its values become the startup
 * ones again (put on the server by the resync that follows). */
static void txn_restore(struct server *s)
{
	const struct params *base = &s->pool->params;
	struct params *want = s->peer.want;
	const struct params *startup = s->peer.startup;

	s->reset_reports = false;
	if (want == NULL || startup == NULL)
		return;
	for (unsigned i = 0; i < base->n && s->peer.io != NULL; i++) {
		const char *name = base->name[i];
		const char *now = params_get(want, name);
		const char *then = params_get(startup, name);

		if (!txn_param_tracked(name))
			continue;
		if (now == NULL)
			now = base->value[i];
		if (then == NULL)
			then = base->value[i];
		if (strcmp(now, then) != 0)
			txn_tell_param(s, name, then);
	}
	if (!params_copy(want, startup))
		s->broken = true;
}

/* Scans and relays what is buffered, up to the first message after which
 * the server may change hands. Returns true when it stopped there. */
static bool txn_relay_some(struct server *s)
{
	struct buf *in = io_input(s->io);
	struct relay_cursor cur;
	bool stop = false;

	relay_cursor_init(&cur);
	while (!stop) {
		size_t avail = buf_len(in);
		struct server_req *r = txn_head(s);
		uint8_t type;
		uint32_t len;

		if (r != NULL && r->kind == REQ_SYNTH) {
			txn_flush(s, in, &cur);
			stop = txn_emit_synth(s);
			continue;
		}
		if (cur.pos >= avail)
			break;
		if (s->in_skip > 0) {
			size_t n = avail - cur.pos < s->in_skip
				       ? avail - cur.pos
				       : s->in_skip;
			relay_cursor_advance(&cur, n);
			s->in_skip -= (uint32_t)n;
			continue;
		}
		enum proto_status st = relay_peek(in, &cur, &type, &len);
		if (st == PROTO_NEED_MORE)
			break;
		if (st == PROTO_BAD) {
			server_close(s, "invalid message length from server");
			return false;
		}
		bool hidden = r != NULL && r->kind != REQ_CLIENT;
		bool whole = hidden || s->peer.io == NULL || type == 'Z' ||
			     type == 'S' || type == 'C';
		if (!whole && type == 'E' &&
		    !txn_note_relayed_error(s, in, &cur, len))
			break;
		if (!whole) {
			txn_account(s, type);
			relay_cursor_advance(&cur, PROTO_HEADER_LEN);
			s->in_skip = len - 4;
			continue;
		}
		if (avail - cur.pos < (size_t)len + 1)
			break;
		if (type == 'Z' && s->reset_reports) {
			txn_flush(s, in, &cur); /* what precedes, first */
			txn_restore(s);
		}
		if (txn_inspect(s, in, &cur, type, len, &stop)) {
			txn_flush(s, in, &cur);
			buf_drain(in, (size_t)len + 1);
		} else {
			relay_cursor_advance(&cur, (size_t)len + 1);
		}
	}
	txn_flush(s, in, &cur);
	if (txn_emit_synth(s))
		stop = true;
	/* One write for everything relayed. At a boundary it waits until
	 * the server has gone to its next holder, whose request then reaches
	 * the backend before this client is woken. The io outlives the
	 * release: clients are freed only by the reaper. */
	struct io *peer = s->peer.io;
	if (stop)
		txn_after_stop(s);
	if (peer != NULL)
		io_flush(peer);
	return stop;
}

void txn_relay(struct server *s)
{
	while (txn_relay_some(s) && s->state != SERVER_CLOSED &&
	       buf_len(io_input(s->io)) > 0)
		; /* what followed a boundary belongs to the next holder */
}

struct stmt *txn_intern(struct worker *w, const uint8_t *body, size_t len,
			const struct params *want)
{
	const char *path =
	    want != NULL ? params_get(want, "search_path") : NULL;
	size_t plen = path != NULL ? strlen(path) : 0;
	uint8_t *key = (uint8_t *)body;
	struct stmt *st;

	if (plen > 0) {
		key = malloc(len + 1 + plen);
		if (key == NULL)
			return NULL;
		memcpy(key, body, len);
		key[len] = 0xff; /* never inside a Parse body's tail */
		memcpy(key + len + 1, path, plen);
	}
	st =
	    stmt_intern(w->stmts, key, (uint32_t)(len + (plen ? 1 + plen : 0)));
	if (st != NULL && st->parse_len == 0)
		st->parse_len = (uint32_t)len;
	if (key != body)
		free(key);
	return st;
}

/* Client to server. */

static void txn_write(struct server *s, const void *p, size_t n)
{
	if (buf_add(io_output(s->io), p, n) != 0)
		s->broken = true;
}

static void txn_write_header(struct server *s, uint8_t type, uint32_t len)
{
	uint8_t h[5] = {type, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len};

	txn_write(s, h, sizeof(h));
}

bool txn_send_query(struct server *s, const char *sql,
		    enum server_req_kind kind)
{
	size_t n = strlen(sql) + 1;

	if (!txn_push(s, 'Q', kind, NULL))
		return false;
	txn_write_header(s, 'Q', (uint32_t)(4 + n));
	txn_write(s, sql, n);
	return !s->broken;
}

/* Sends Parse for a statement under its server-side name. */
static bool txn_send_parse(struct server *s, struct stmt *st,
			   enum server_req_kind kind)
{
	size_t name = strlen(st->name) + 1;

	if (!txn_push(s, 'P', kind, st))
		return false;
	txn_write_header(s, 'P', (uint32_t)(4 + name + st->parse_len));
	txn_write(s, st->name, name);
	txn_write(s, st->body, st->parse_len);
	s->ext_open = true;
	return true;
}

/* Records st as prepared on the server, closing the least recently used
 * statement there when the cache is full. */
static bool txn_cache(struct server *s, struct stmt *st)
{
	bool oom = false;
	struct stmt *old = stmt_cache_add(&s->stmts, s->w->stmts, st, &oom);

	if (oom)
		return false;
	if (old == NULL)
		return true;
	size_t name = strlen(old->name) + 1;
	bool ok = txn_push(s, 'C', REQ_HIDDEN, NULL);
	if (ok) {
		txn_write_header(s, 'C', (uint32_t)(4 + 1 + name));
		txn_write(s, "S", 1);
		txn_write(s, old->name, name);
	}
	stmt_unref(s->w->stmts, old);
	return ok;
}

/* Makes sure the statement the client's name stands for exists on the
 * server, prepared there after the client's Parse of the name: a direct
 * connection plans a statement at its Parse, so a copy prepared before may
 * predate a schema change the client's statement must see (and fail with
 * 0A000, cached plan must not change result type, where PostgreSQL plans
 * afresh). Such a copy stays for the clients that parsed before it; the
 * name moves to the newest version of its statement, or to a new version
 * when that one too is older there. st and parsed: what stmt_names_find
 * gave for the name. kind: REQ_CLIENT for the client's own Parse (its
 * ParseComplete relayed), which always goes out, REQ_HIDDEN before a Bind
 * or Describe. Returns the statement to use, NULL when out of memory. */
static struct stmt *txn_prepare(struct server *s, const char *name,
				struct stmt *st, uint64_t parsed,
				enum server_req_kind kind)
{
	struct stmt_registry *r = s->w->stmts;
	uint64_t born = stmt_cache_use(&s->stmts, st);
	struct stmt *cur;
	bool ok = true;

	if (born > parsed)
		return st;
	cur = stmt_current(r, st);
	if (cur == NULL)
		return NULL;
	if (cur != st)
		born = stmt_cache_use(&s->stmts, cur);
	if (born != 0 && born < parsed) {
		struct stmt *fresh = stmt_renew(r, cur);

		stmt_unref(r, cur);
		if (fresh == NULL)
			return NULL;
		cur = fresh;
		born = 0;
	}
	stmt_names_move(s->peer.names, r, name, cur);
	if (born == 0)
		ok = txn_cache(s, cur) && txn_send_parse(s, cur, kind);
	stmt_unref(r, cur); /* the name holds it */
	return ok ? cur : NULL;
}

/* Notes one client request passed through as it is. */
static bool txn_note_request(struct server *s, uint8_t type)
{
	if (s->skip_to_sync && type != 'S' && type != 'Q' && type != 'F')
		return true; /* the backend skips it after an error: no reply */
	if (type == 'S')
		s->skip_to_sync = false;
	switch (type) {
	case 'S':
		s->ext_open = false;
		/* fall through */
	case 'Q':
	case 'F':
		s->pool->pool.stats.queries_total++;
		return txn_push(s, type, REQ_CLIENT, NULL);
	case 'P':
	case 'B':
	case 'E':
	case 'D':
	case 'C':
		s->ext_open = true;
		return txn_push(s, type, REQ_CLIENT, NULL);
	case 'H':
		s->ext_open = true;
		return true;
	default:
		return true;
	}
}

/* Moves the first n bytes of src to the server. */
static void txn_move(struct server *s, struct buf *src, size_t n)
{
	if (n == 0)
		return;
	io_write_from(s->io, src, n);
	s->pool->pool.stats.bytes_in += n;
}

/* Passes the message at the start of src through, streaming what has not
 * arrived yet. */
static enum txn_forward_result txn_pass(struct server *s, struct buf *src,
					uint8_t type, uint32_t len)
{
	size_t avail = buf_len(src);
	size_t n = avail < (size_t)len + 1 ? avail : (size_t)len + 1;

	if (!txn_note_request(s, type))
		return FORWARD_NOMEM;
	txn_move(s, src, n);
	s->out_skip = (uint32_t)((size_t)len + 1 - n);
	return FORWARD_OK;
}

/* A Parse of `DEALLOCATE name` (drivers send it through the extended
 * protocol, psycopg when its statement cache is full): the client's name
 * goes; the server-side statement stays for others, so the server runs a
 * statement that does nothing instead. */
static enum txn_forward_result
txn_parse_deallocate(struct server *s, struct buf *src, uint32_t len,
		     const uint8_t *body, size_t nlen, const char *name)
{
	static const char noop[] = "DO $$BEGIN END$$";
	uint8_t params[2] = {0, 0};

	stmt_names_remove(s->peer.names, s->w->stmts, name);
	if (!txn_note_request(s, 'P'))
		return FORWARD_NOMEM;
	txn_write_header(s, 'P', (uint32_t)(4 + nlen + 1 + sizeof(noop) + 2));
	txn_write(s, body, nlen + 1);
	txn_write(s, noop, sizeof(noop));
	txn_write(s, params, sizeof(params));
	buf_drain(src, (size_t)len + 1);
	return FORWARD_OK;
}

/* Parse with a statement name: intern it, name it for the client and
 * prepare it on the server under a server-side name (txn_prepare). */
static enum txn_forward_result txn_parse(struct server *s, struct buf *src,
					 uint32_t len)
{
	uint8_t head[PROTO_HEADER_LEN + 1 + 16];
	size_t few =
	    (size_t)len + 1 < sizeof(head) ? (size_t)len + 1 : sizeof(head);

	/* The common case, an unnamed statement that is no session command,
	 * passes on a look at its first bytes. */
	buf_copyout(src, 0, head, few);
	if (few > PROTO_HEADER_LEN + 1 && head[PROTO_HEADER_LEN] == '\0' &&
	    !txn_session_sql_start((const char *)head + PROTO_HEADER_LEN + 1,
				   few - PROTO_HEADER_LEN - 1))
		return txn_pass(s, src, 'P', len);

	const uint8_t *msg = buf_pullup(src, (size_t)len + 1);
	const uint8_t *body = msg + PROTO_HEADER_LEN;
	size_t blen = len - 4, nlen;
	struct stmt *st;
	enum txn_forward_result res = FORWARD_OK;

	if (msg == NULL)
		return FORWARD_NOMEM;
	nlen = strnlen((const char *)body, blen);
	if (nlen == blen)
		return FORWARD_BAD;
	size_t qlen = strnlen((const char *)body + nlen + 1, blen - nlen - 1);
	if (qlen < TXN_SQL_MAX &&
	    txn_session_sql_start((const char *)body + nlen + 1, qlen)) {
		const char *q = (const char *)body + nlen + 1;
		char dname[128];

		txn_note_session_sql(s, q);
		if (s->peer.names != NULL &&
		    txn_is_deallocate(q, dname, sizeof(dname)) &&
		    stmt_names_get(s->peer.names, dname) != NULL)
			return txn_parse_deallocate(s, src, len, body, nlen,
						    dname);
	}
	if (nlen == 0 || s->peer.names == NULL)
		return txn_pass(s, src, 'P', len);
	st = txn_intern(s->w, body + nlen + 1, blen - nlen - 1, s->peer.want);
	if (st == NULL)
		return FORWARD_NOMEM;
	/* Named now, the name has no copy prepared since: the Parse goes
	 * to the server, as on a direct connection. */
	const char *name = (const char *)body;
	uint64_t parsed = 0;
	if (!stmt_names_set(s->peer.names, s->w->stmts, name, st) ||
	    stmt_names_find(s->peer.names, name, &parsed) != st ||
	    txn_prepare(s, name, st, parsed, REQ_CLIENT) == NULL)
		res = FORWARD_NOMEM;
	buf_drain(src, (size_t)len + 1);
	stmt_unref(s->w->stmts, st);
	return res;
}

/* Bind to a named statement: prepare it if needed, rename it, and stream
 * the parameters untouched. */
static enum txn_forward_result txn_bind(struct server *s, struct buf *src,
					uint32_t len, const uint8_t *body,
					size_t have)
{
	size_t plen = strnlen((const char *)body, have), nlen;
	const char *sname;
	struct stmt *st;
	uint64_t parsed;

	if (plen == have)
		return FORWARD_BAD;
	sname = (const char *)body + plen + 1;
	nlen = strnlen(sname, have - plen - 1);
	if (nlen == have - plen - 1)
		return FORWARD_BAD;
	st = nlen ? stmt_names_find(s->peer.names, sname, &parsed) : NULL;
	if (st == NULL)
		return txn_pass(s, src, 'B', len);
	st = txn_prepare(s, sname, st, parsed, REQ_HIDDEN);
	if (st == NULL || !txn_note_request(s, 'B'))
		return FORWARD_NOMEM;
	size_t name = strlen(st->name) + 1;
	size_t rest = len - 4 - (plen + 1) - (nlen + 1);
	txn_write_header(s, 'B', (uint32_t)(4 + plen + 1 + name + rest));
	txn_write(s, body, plen + 1);
	txn_write(s, st->name, name);
	buf_drain(src, PROTO_HEADER_LEN + plen + 1 + nlen + 1);
	size_t avail = buf_len(src);
	size_t n = avail < rest ? avail : rest;
	txn_move(s, src, n);
	s->out_skip = (uint32_t)(rest - n);
	return FORWARD_OK;
}

/* Describe or Close of a named statement. */
static enum txn_forward_result
txn_describe_close(struct server *s, struct buf *src, uint8_t type,
		   uint32_t len, const uint8_t *body, size_t have)
{
	const char *name = (const char *)body + 1;
	size_t nlen;
	struct stmt *st;

	if (have < 2 || have != (size_t)len - 4)
		return have < 2 ? FORWARD_BAD : txn_pass(s, src, type, len);
	nlen = strnlen(name, have - 1);
	if (nlen == have - 1)
		return FORWARD_BAD;
	if (body[0] != 'S' || nlen == 0)
		return txn_pass(s, src, type, len);
	if (type == 'C') {
		stmt_names_remove(s->peer.names, s->w->stmts, name);
		buf_drain(src, (size_t)len + 1);
		s->ext_open = true;
		return txn_push(s, 'C', REQ_SYNTH, NULL) ? FORWARD_OK
							 : FORWARD_NOMEM;
	}
	uint64_t parsed;
	st = stmt_names_find(s->peer.names, name, &parsed);
	if (st == NULL)
		return txn_pass(s, src, type, len);
	st = txn_prepare(s, name, st, parsed, REQ_HIDDEN);
	if (st == NULL || !txn_note_request(s, 'D'))
		return FORWARD_NOMEM;
	size_t n = strlen(st->name) + 1;
	txn_write_header(s, 'D', (uint32_t)(4 + 1 + n));
	txn_write(s, "S", 1);
	txn_write(s, st->name, n);
	buf_drain(src, (size_t)len + 1);
	return FORWARD_OK;
}

/* Reads an SQL identifier at p (folded to lower case unless quoted) into
 * out; returns the position after it, or NULL. */
static const char *txn_sql_ident(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '\0'; p++) {
			if (*p == '"' && *++p != '"')
				break;
			if (n + 1 >= cap)
				return NULL;
			out[n++] = *p;
		}
		if (p[-1] != '"')
			return NULL;
	} else {
		for (; isalnum((unsigned char)*p) || *p == '_' || *p == '$';
		     p++) {
			if (n + 1 >= cap)
				return NULL;
			out[n++] = (char)tolower((unsigned char)*p);
		}
	}
	out[n] = '\0';
	return n > 0 ? p : NULL;
}

static const char *txn_sql_word(const char *p, const char *word)
{
	size_t n = strlen(word);

	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, word, n) != 0 || isalnum((unsigned char)p[n]) ||
	    p[n] == '_')
		return NULL;
	return p + n;
}

/* Whether the query text is `DEALLOCATE [PREPARE] name` for one of the
 * client's statements; the name goes to name. */
static bool txn_is_deallocate(const char *q, char *name, size_t cap)
{
	const char *p = txn_sql_word(q, "DEALLOCATE"), *next;

	if (p == NULL)
		return false;
	if ((next = txn_sql_word(p, "PREPARE")) != NULL)
		p = next;
	while (isspace((unsigned char)*p))
		p++;
	if (txn_sql_word(p, "ALL") != NULL ||
	    (p = txn_sql_ident(p, name, cap)) == NULL)
		return false;
	while (isspace((unsigned char)*p) || *p == ';')
		p++;
	return *p == '\0';
}

/* Reads the value of `SET name TO|= value`: one quoted literal (unquoted)
 * or bare text up to the end (numbers, identifiers, lists). DEFAULT reads
 * as the empty string with *dflt set. false when it cannot be read. */
static bool txn_sql_set_value(const char *p, char *out, size_t cap, bool *dflt)
{
	const char *next;
	size_t n = 0;

	while (isspace((unsigned char)*p))
		p++;
	if ((next = txn_sql_word(p, "TO")) != NULL)
		p = next;
	else if (*p == '=')
		p++;
	else
		return false;
	while (isspace((unsigned char)*p))
		p++;
	*dflt = txn_sql_word(p, "DEFAULT") != NULL;
	if (*p == '\'') {
		for (p++; *p != '\0'; p++) {
			if (*p == '\'' && *++p != '\'')
				break;
			if (n + 1 >= cap)
				return false;
			out[n++] = *p;
		}
		if (p[-1] != '\'')
			return false;
	} else {
		while (*p != '\0' && *p != ';' && *p != '\'' && n + 1 < cap)
			out[n++] = *p++;
		while (n > 0 && isspace((unsigned char)out[n - 1]))
			n--;
		if (n == 0 || *p == '\'')
			return false;
	}
	out[n] = '\0';
	while (isspace((unsigned char)*p) || *p == ';')
		p++;
	return *p == '\0';
}

/* Whether q starts with the three lower-case letters w, in either case. */
static bool txn_prefix3(const char *q, const char *w)
{
	return (q[0] | 0x20) == w[0] && (q[1] | 0x20) == w[1] &&
	       (q[2] | 0x20) == w[2];
}

/* Whether a query text may change session state pitlane tracks (SET,
 * RESET, DISCARD, DEALLOCATE): a look at its first letters, so that
 * ordinary queries take the fast path. */
static bool txn_session_sql_start(const char *q, size_t n)
{
	size_t i = 0;

	while (i < n && isspace((unsigned char)q[i]))
		i++;
	if (n - i < 3)
		return false;
	q += i;
	switch (q[0] | 0x20) { /* ASCII lower case */
	case 's':
		return txn_prefix3(q, "set");
	case 'r':
		return txn_prefix3(q, "res");
	case 'd':
		return txn_prefix3(q, "dis") || txn_prefix3(q, "dea");
	default:
		return false;
	}
}

/* The same for the simple Query at the cursor. */
static bool txn_session_sql_at(struct buf *src, const struct relay_cursor *cur,
			       uint32_t len)
{
	char head[16];
	size_t n =
	    relay_copy_body(src, cur, len, (uint8_t *)head, sizeof(head));

	return txn_session_sql_start(head, n);
}

/* Notes a query that resets or sets session state, so its CommandComplete
 * can be told apart (RESET ALL from RESET x) and a SET of a parameter the
 * server does not report can follow the client. */
static void txn_note_session_sql(struct server *s, const char *q)
{
	const char *p;

	s->seen_reset_all = false;
	s->seen_set[0] = '\0';
	if ((p = txn_sql_word(q, "RESET")) != NULL) {
		s->seen_reset_all = txn_sql_word(p, "ALL") != NULL;
	} else if ((p = txn_sql_word(q, "SET")) != NULL &&
		   txn_sql_word(p, "LOCAL") == NULL) {
		const char *sess = txn_sql_word(p, "SESSION");
		if (sess != NULL)
			p = sess;
		while (isspace((unsigned char)*p))
			p++;
		p = txn_sql_ident(p, s->seen_set, sizeof(s->seen_set));
		if (p == NULL)
			s->seen_set[0] = '\0';
		else if (!txn_sql_set_value(p, s->seen_value,
					    sizeof(s->seen_value),
					    &s->seen_default))
			s->seen_value[0] = TXN_UNKNOWN_VALUE[0],
			s->seen_value[1] = '\0';
	}
}

/* A simple query that deallocates one of the client's statements by name:
 * the statement stays on the server for others; only the client's name
 * goes, and pitlane answers as PostgreSQL would. */
static enum txn_forward_result txn_query(struct server *s, struct buf *src,
					 uint32_t len)
{
	uint8_t buf[PROTO_HEADER_LEN + TXN_SQL_MAX];
	char name[128];
	const char *q = (const char *)buf + PROTO_HEADER_LEN;

	buf_copyout(src, 0, buf, (size_t)len + 1);
	if (buf[len] != '\0')
		return txn_pass(s, src, 'Q', len);
	txn_note_session_sql(s, q);
	if (s->peer.names == NULL ||
	    !txn_is_deallocate(q, name, sizeof(name)) ||
	    stmt_names_get(s->peer.names, name) == NULL)
		return txn_pass(s, src, 'Q', len);
	stmt_names_remove(s->peer.names, s->w->stmts, name);
	buf_drain(src, (size_t)len + 1);
	s->pool->pool.stats.queries_total++;
	return txn_push(s, 'Q', REQ_SYNTH, NULL) ? FORWARD_OK : FORWARD_NOMEM;
}

/* Whether the message at the cursor is one pitlane must read whole or
 * rewrite: a named statement's Parse/Bind/Describe/Close (when names are
 * mapped), or a query that may change session state. Unnamed
 * extended-protocol traffic (most of it) streams through like anything
 * else, untouched and uncopied. A look at the first bytes decides; when
 * they are not there yet, the slow path. */
static bool txn_must_rewrite(struct buf *src, const struct relay_cursor *cur,
			     uint8_t type, uint32_t len, bool names)
{
	uint8_t b[24];
	size_t n;

	if (type == 'Q')
		return len - 4 < TXN_SQL_MAX &&
		       txn_session_sql_at(src, cur, len);
	if ((type != 'P' && type != 'B' && type != 'D' && type != 'C') ||
	    (!names && type != 'P'))
		return false;
	n = relay_copy_body(src, cur, len, b, sizeof(b));
	if (n < 2 && n < len - 4)
		return true; /* not here yet */
	switch (type) {
	case 'P': /* name, then the query text */
		if (n == 0 || b[0] != '\0')
			return n == 0 || names;
		return txn_session_sql_start((const char *)b + 1, n - 1);
	case 'B': { /* portal, then statement name */
		const uint8_t *z = memchr(b, 0, n);
		return z == NULL || z + 1 >= b + n || z[1] != '\0';
	}
	default: /* 'S' or 'P', then the name */
		return b[0] == 'S' && (n < 2 || b[1] != '\0');
	}
}

/* Whether the names at the start of a Bind (portal, statement) or a
 * Describe/Close (kind byte, name) end within the n bytes read. */
static bool txn_names_fit(const uint8_t *body, size_t n, uint8_t type)
{
	const uint8_t *end = body + n;
	const uint8_t *p = type == 'B' ? memchr(body, 0, n) : body;

	if (p == NULL || p + 1 >= end)
		return false;
	return memchr(p + 1, 0, (size_t)(end - p - 1)) != NULL;
}

static enum txn_forward_result txn_named(struct server *s, struct buf *src,
					 uint8_t type, uint32_t len)
{
	uint8_t buf[PROTO_HEADER_LEN + TXN_NAME_PREFIX_MAX];
	size_t have =
	    (size_t)len + 1 < sizeof(buf) ? (size_t)len + 1 : sizeof(buf);

	if (type == 'P')
		return txn_parse(s, src, len);
	if (type == 'Q')
		return txn_query(s, src, len);
	/* Names are short: read a little first, more only when needed. */
	size_t few = have < TXN_NAME_PEEK ? have : TXN_NAME_PEEK;
	buf_copyout(src, 0, buf, few);
	if (few < have && !txn_names_fit(buf + PROTO_HEADER_LEN,
					 few - PROTO_HEADER_LEN, type))
		buf_copyout(src, 0, buf, few = have);
	have = few;
	if (type == 'B')
		return txn_bind(s, src, len, buf + PROTO_HEADER_LEN,
				have - PROTO_HEADER_LEN);
	return txn_describe_close(s, src, type, len, buf + PROTO_HEADER_LEN,
				  have - PROTO_HEADER_LEN);
}

enum txn_forward_result txn_forward(struct server *s, struct buf *src)
{
	enum txn_forward_result res = FORWARD_OK;
	struct relay_cursor cur;

	relay_cursor_init(&cur);
	while (res == FORWARD_OK) {
		size_t avail = buf_len(src);
		uint8_t type;
		uint32_t len;

		if (cur.pos >= avail)
			break;
		if (s->out_skip > 0) {
			size_t n = avail - cur.pos < s->out_skip
				       ? avail - cur.pos
				       : s->out_skip;
			relay_cursor_advance(&cur, n);
			s->out_skip -= (uint32_t)n;
			continue;
		}
		if (s->cancels > 0)
			break; /* held until the cancel has landed (server.h) */
		enum proto_status st = relay_peek(src, &cur, &type, &len);
		if (st != PROTO_OK) {
			res = st == PROTO_BAD ? FORWARD_BAD : FORWARD_OK;
			break;
		}
		if (type == 'X') {
			res = FORWARD_TERMINATE;
			break;
		}
		if ((long)len + 1 > s->w->cfg->max_packet_size) {
			res = FORWARD_TOO_BIG; /* refused before it is read */
			break;
		}
		if (!s->skip_to_sync &&
		    txn_must_rewrite(src, &cur, type, len,
				     s->peer.names != NULL)) {
			size_t need = (size_t)len + 1;
			if (type != 'P' &&
			    need > PROTO_HEADER_LEN + TXN_NAME_PREFIX_MAX)
				need = PROTO_HEADER_LEN + TXN_NAME_PREFIX_MAX;
			if (avail - cur.pos < need) {
				if (need > RELAY_HIGH_WATER)
					io_set_read_limit(s->peer.io, need);
				break;
			}
			txn_move(s, src, cur.pos);
			res = txn_named(s, src, type, len);
			relay_cursor_init(&cur);
			continue;
		}
		if (!txn_note_request(s, type)) {
			res = FORWARD_NOMEM;
			break;
		}
		relay_cursor_advance(&cur, PROTO_HEADER_LEN);
		s->out_skip = len - 4;
	}
	txn_move(s, src, cur.pos);
	io_flush(s->io);
	bool ready = txn_emit_synth(s);
	if (s->peer.io != NULL)
		io_flush(s->peer.io);
	if (ready && res == FORWARD_OK && server_may_release(s)) {
		server_release(s);
		return FORWARD_OK;
	}
	if (s->broken && res == FORWARD_OK)
		res = FORWARD_NOMEM;
	if (s->peer.io != NULL && buf_len(io_output(s->io)) > RELAY_HIGH_WATER)
		io_read(s->peer.io, false);
	return res;
}

/* Parameter sync. */

struct txn_sql {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void txn_sql_add(struct txn_sql *q, const char *s, size_t n)
{
	if (q->oom)
		return;
	if (q->len + n + 1 > q->cap) {
		size_t cap = (q->len + n + 1) * 2;
		char *b = realloc(q->buf, cap);
		if (b == NULL) {
			q->oom = true;
			return;
		}
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, s, n);
	q->len += n;
	q->buf[q->len] = '\0';
}

/* Appends s as an E'' literal: safe whatever standard_conforming_strings
 * says. */
static void txn_sql_literal(struct txn_sql *q, const char *s)
{
	txn_sql_add(q, "E'", 2);
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			txn_sql_add(q, s, 1);
		txn_sql_add(q, s, 1);
	}
	txn_sql_add(q, "'", 1);
}

/* Appends RESET for a parameter name, each dotted part quoted. */
static void txn_sql_reset(struct txn_sql *q, const char *name)
{
	txn_sql_add(q, "RESET \"", 7);
	for (; *name != '\0'; name++) {
		if (*name == '.')
			txn_sql_add(q, "\".\"", 3);
		else if (*name == '"')
			txn_sql_add(q, "\"\"", 2);
		else
			txn_sql_add(q, name, 1);
	}
	txn_sql_add(q, "\";", 2);
}

static void txn_sql_set(struct txn_sql *q, const char *name, const char *value)
{
	txn_sql_add(q, "SELECT pg_catalog.set_config(", 29);
	txn_sql_literal(q, name);
	txn_sql_add(q, ", ", 2);
	txn_sql_literal(q, value);
	txn_sql_add(q, ", false);", 9);
}

/* Remembers which values the server now holds (optimistically). */
static void txn_note_synced(struct server *s, uint64_t fp)
{
	s->synced_fp = fp;
	s->synced_gen = s->params.gen + 1;
}

/* Builds and sends the query that gives the server the client's values:
 * parameters a previous client left go back to the pool's value (reported
 * ones) or to the server's default (RESET); the client's own are set. */
static bool txn_sync(struct server *s, enum server_req_kind kind)
{
	const struct params *want = s->peer.want;
	const struct params *base = &s->pool->params;
	struct txn_sql q = {0};
	unsigned i = 0;

	if (want == NULL)
		return false;
	/* The common case: this server was last brought to exactly these
	 * values and has not changed since. */
	uint64_t fp = params_fingerprint(s->peer.want);
	if (s->synced_gen == s->params.gen + 1 && s->synced_fp == fp)
		return false;
	while (i < s->params.n) {
		const char *name = s->params.name[i];
		const char *b = params_get(base, name);
		if (!txn_param_tracked(name) || params_get(want, name) ||
		    (b != NULL && strcmp(b, s->params.value[i]) == 0)) {
			i++;
		} else if (b != NULL) {
			txn_sql_set(&q, name, b);
			i++;
		} else {
			txn_sql_reset(&q, name);
			params_unset(&s->params,
				     name); /* moves the last here */
		}
	}
	for (i = 0; i < want->n; i++) {
		const char *cur = params_get(&s->params, want->name[i]);
		if (cur == NULL || strcmp(cur, want->value[i]) != 0)
			txn_sql_set(&q, want->name[i], want->value[i]);
	}
	if (q.len == 0 || q.oom) {
		free(q.buf);
		if (q.oom)
			s->broken = true;
		else
			txn_note_synced(s, fp);
		return false;
	}
	/* Parameters the backend reports come back in ParameterStatus when
	 * their value changes (normalised, as a client must see them); the
	 * others are recorded as sent. */
	for (i = 0; i < want->n && !s->broken; i++)
		if (params_get(base, want->name[i]) == NULL &&
		    !params_set(&s->params, want->name[i], want->value[i]))
			s->broken = true;
	bool ok = txn_send_query(s, q.buf, kind);
	free(q.buf);
	io_flush(s->io);
	if (!ok)
		s->broken = true;
	txn_note_synced(s, fp);
	return ok;
}

bool txn_sync_params(struct server *s)
{
	return txn_sync(s, REQ_PARAMS);
}

void txn_forget_session(struct server *s)
{
	const struct params *base = &s->pool->params;

	/* Reported parameters come back with ParameterStatus; the others
	 * are at the server's defaults again. They are removed in place, so
	 * the set's generation only grows: a fresh set restarting from 0
	 * could meet synced_gen again and pass for the values last applied
	 * (issue 11). Those values are gone anyway, so the next sync
	 * compares them one by one. */
	for (unsigned i = 0; i < s->params.n;) {
		if (params_get(base, s->params.name[i]) == NULL)
			params_unset(&s->params, s->params.name[i]);
		else
			i++;
	}
	s->synced_gen = 0;
	stmt_cache_clear(&s->stmts, s->w->stmts);
}

void txn_free(struct server *s)
{
	while (s->req_len > 0)
		txn_pop(s, true);
	free(s->reqs);
	s->reqs = NULL;
	stmt_cache_clear(&s->stmts, s->w->stmts);
}
