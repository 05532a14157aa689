/* Connection byte streams on raw events (persistent EV_READ, EV_WRITE only
 * while the kernel buffer is full): plain sockets through read/writev, TLS
 * through SSL_read/SSL_write on the same non-blocking socket, behind one
 * small interface. */
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event_struct.h>
#include <openssl/err.h>

#define IO_READ_MIN	    4096  /* room a read asks for at least */
#define IO_DISCARD_CHUNK    16384 /* bytes of each read before a close */
#define IO_READS_PER_WAKEUP 8	  /* reads per wakeup before yielding */
#define IO_DISCARD_READS    64	  /* reads of unread input before a close */
#define IO_BUFS_KEPT	    256	  /* empty queues kept for lending */
#define IO_WRITE_IOVS	    8	  /* segments one write takes at once */
#define IO_SHEDS_HELD	    32 /* ios whose shed waits for the callback end */

/* Laid out for size (an idle client holds one): the read event is part
 * of it, pointers first, the small fields packed after them. */
struct io {
	struct event rev; /* EV_READ | EV_PERSIST, made by io_start */
	const struct io_ops *ops;
	void *ctx;
	struct event *wev; /* made when first needed */
	struct buf *in, *out;
	void (*peek)(void *ctx, int byte); /* once, before the first read */
	SSL *ssl;			   /* TLS; NULL for plain sockets */
	uint32_t read_limit;		   /* 0: none */
	uint32_t low_water;
	int fd;
	int err;       /* errno of a failed write, reported later */
	int wpend;     /* length of an SSL_write to repeat; 0: none */
	bool rev_made; /* rev is assigned */
	bool close_fd;
	bool reading;	     /* EV_READ wanted */
	bool read_armed;     /* rev is added */
	bool write_armed;    /* a write waits: the socket was full (or TLS
				wants to read first) */
	bool wev_added;	     /* wev is added */
	bool dead;	     /* failed: report once */
	bool own_ssl;	     /* io_free shuts it down and frees it */
	bool ssl_fatal;	     /* OpenSSL failed: no close_notify */
	bool rd_wants_write; /* SSL_read needs the socket writable */
	bool wr_wants_read;  /* SSL_write needs the socket readable */
	bool ssl_starved;    /* SSL_read wants the socket: what OpenSSL
				holds is a partial record */
	bool lean;	     /* lends its buffers back when they are empty */
	bool watching;	     /* in->consumed is set: read_limit holds
				reading */
	bool shed_queued;    /* a deferred io_shed is on the loop */
};

void io_detach(struct io *io);

static void io_fail(struct io *io, bool eof, int err)
{
	if (io->dead)
		return;
	io_detach(io);
	io->ops->failed(io->ctx, eof,
			eof ? "connection closed"
			    : evutil_socket_error_to_string(err));
}

/* Whether reading should be armed given the wish and the input limit. */
static bool io_want_read(const struct io *io)
{
	return io->reading && !io->dead &&
	       (io->read_limit == 0 || io_input_length(io) < io->read_limit);
}

static void io_in_consumed(void *arg);

/* Lent buffers: a lean io (a client's) holds its queues only while
 * something is in them, so that an idle client costs none. Empty ones
 * wait here for the next io that needs one; lending and returning happen
 * once per idle-busy transition, not per message, and cost a pointer
 * move. Single-threaded like the read blocks. */
static struct buf *io_bufs[IO_BUFS_KEPT];
static unsigned io_nbufs;
/* Stands in for a buffer that could not be had (out of memory): bytes
 * added to it are dropped, and the io fails from the loop. */
static struct buf io_scratch;

static struct buf *io_buf_get(void)
{
	if (io_nbufs > 0)
		return io_bufs[--io_nbufs];
	return buf_new();
}

/* An empty queue back to the list (or to malloc). */
static void io_buf_put(struct buf *b)
{
	b->consumed = NULL;
	if (io_nbufs < IO_BUFS_KEPT)
		io_bufs[io_nbufs++] = b;
	else
		buf_free(b);
}

/* A buffer of an io being freed: what it still holds is dropped. */
static void io_buf_drop(struct buf *b)
{
	buf_clear(b);
	io_buf_put(b);
}

/* The io's buffer in *slot, lent now if it has none; NULL when out of
 * memory. */
static struct buf *io_buf(struct buf **slot)
{
	if (*slot == NULL)
		*slot = io_buf_get();
	return *slot;
}

/* Returns a lean io's empty buffers. Only from the loop (the io's own
 * callbacks): a caller up the stack may hold a buffer's pointer. Input
 * watched for the read limit is kept. */
static void io_shed(struct io *io)
{
	if (!io->lean)
		return;
	if (io->in != NULL && !io->watching && buf_len(io->in) == 0) {
		io_buf_put(io->in);
		io->in = NULL;
	}
	if (io->out != NULL && !io->write_armed && io->wpend == 0 &&
	    buf_len(io->out) == 0) {
		io_buf_put(io->out);
		io->out = NULL;
	}
}

/* The ios whose buffers io_shed_later holds for the end of the event
 * callback running now (io_cb_depth > 0: inside one). */
static struct io *io_sheds[IO_SHEDS_HELD];
static unsigned io_nsheds;
static unsigned io_cb_depth;

int64_t io_clock_us;

static void io_cb_enter(void)
{
	io_cb_depth++;
}

static int64_t io_clock_read(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t io_now_us_read(void)
{
	if (io_cb_depth == 0)
		return io_clock_read();
	io_clock_us = io_clock_read();
	return io_clock_us;
}

/* Leaving the outermost io callback: the held ios shed their buffers (a
 * dead one keeps them for io_free, as when its events were stopped). */
static void io_cb_leave(void)
{
	if (--io_cb_depth > 0)
		return;
	io_clock_us = 0;
	while (io_nsheds > 0) {
		struct io *io = io_sheds[--io_nsheds];
		io->shed_queued = false;
		if (!io->dead)
			io_shed(io);
	}
}

/* io_free of a held io takes it off the list. */
static void io_unhold_shed(struct io *io)
{
	for (unsigned i = 0; io->shed_queued && i < io_nsheds; i++) {
		if (io_sheds[i] == io) {
			io_sheds[i] = io_sheds[--io_nsheds];
			return;
		}
	}
}

/* Adds or deletes the read event only when that changes something: the
 * relay asks for reading again at every transaction. False when libevent
 * refused. */
static bool io_arm_read(struct io *io, bool on)
{
	if (on != io->read_armed) {
		if ((on ? event_add(&io->rev, NULL) : event_del(&io->rev)) != 0)
			return false;
		io->read_armed = on;
	}
	return true;
}

/* The input's consumed callback is set only while read_limit holds
 * reading back. Should no input buffer be had, reading goes on past the
 * limit rather than stall. */
static void io_watch_input(struct io *io, bool on)
{
	if (on && !io->watching) {
		if (io_buf(&io->in) == NULL) {
			io_arm_read(io, true);
			return;
		}
		io->in->consumed = io_in_consumed;
		io->in->consumed_arg = io;
		io->watching = true;
	} else if (!on && io->watching) {
		io->in->consumed = NULL;
		io->watching = false;
	}
}

static void io_update_read(struct io *io)
{
	bool want = io_want_read(io);

	/* A TLS write waiting for the peer's bytes needs reading too. */
	io_arm_read(io, want || (io->wr_wants_read && !io->dead));
	io_watch_input(io, !want && io->reading && !io->dead);
	/* Plaintext OpenSSL holds already never wakes the socket. */
	if (want && io->ssl != NULL && !io->ssl_starved &&
	    SSL_has_pending(io->ssl))
		event_active(&io->rev, EV_READ, 1);
}

static void io_write_cb(evutil_socket_t fd, short what, void *arg);

/* Reports err (set) from the loop, through the read event: the owner's
 * call that met it must not call back. */
static void io_fail_later(struct io *io)
{
	event_active(&io->rev, EV_READ, 1);
}

/* Adds or deletes the write event: wanted while a write waits for room in
 * the socket, or a TLS read does. The event is made the first time: most
 * connections never fill their socket, and an idle client should not
 * carry one. */
static void io_update_write(struct io *io)
{
	bool on = !io->dead && ((io->write_armed && !io->wr_wants_read) ||
				io->rd_wants_write);

	if (on == io->wev_added)
		return;
	if (on && io->wev == NULL) {
		io->wev = event_new(event_get_base(&io->rev), io->fd,
				    EV_WRITE | EV_PERSIST, io_write_cb, io);
		if (io->wev == NULL) {
			io->err = ENOMEM;
			io_fail_later(io);
			return;
		}
	}
	if ((on ? event_add(io->wev, NULL) : event_del(io->wev)) == 0)
		io->wev_added = on;
}

/* One read into the input's room (the free end of its last block, or a
 * fresh block from buf's free list), appended without a copy: no FIONREAD
 * probe, no allocation once warm. Returns read()'s result and the room
 * asked for in *asked; -1 with ENOMEM when no room could be had (the
 * connection then fails: a read whose bytes were lost cannot go on). */
static ssize_t io_read_once(struct io *io, size_t *asked)
{
	uint8_t *room = NULL;
	ssize_t r;

	if (io_buf(&io->in) != NULL)
		room = buf_reserve(io->in, IO_READ_MIN, asked);
	if (room == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = read(io->fd, room, *asked);
	int err = errno;
	if (buf_commit(io->in, r > 0 ? (size_t)r : 0) != 0) {
		errno = ENOMEM;
		return -1;
	}
	errno = err;
	return r;
}

/* Shows the first byte without consuming it (io_peek_first). */
static void io_peek_cb(struct io *io)
{
	void (*cb)(void *, int) = io->peek;
	uint8_t b;
	ssize_t r = recv(io->fd, &b, 1, MSG_PEEK);

	if (r == 1) {
		io->peek = NULL;
		cb(io->ctx, b); /* may hand the socket to another io */
	} else if (r == 0) {
		io_fail(io, true, 0);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		io_fail(io, false, errno);
	}
}

static void io_plain_read(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	ssize_t r = 0;
	size_t total = 0;
	int err = 0;

	(void)fd;
	if (io->err != 0) {
		io_fail(io, false, io->err); /* a write's, or no memory */
		return;
	}
	if (what & EV_TIMEOUT)
		io->shed_queued = false; /* io_shed_later's */
	if (what == EV_TIMEOUT) {
		io_shed(io); /* nothing to read */
		return;
	}
	if (io->peek != NULL) {
		io_peek_cb(io);
		return; /* the data, still there, wakes us again */
	}
	for (int i = 0; i < IO_READS_PER_WAKEUP; i++) {
		size_t asked = 0;
		r = io_read_once(io, &asked);
		if (r > 0)
			total += (size_t)r;
		if (r < 0)
			err = errno;
		if (r < 0 || (size_t)r < asked || !io_want_read(io))
			break;
	}
	bool eof = r == 0;
	bool failed =
	    r == -1 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR;
	if (!io_want_read(io)) {
		io_arm_read(io, false);
		io_watch_input(io, io->reading && !io->dead);
	}
	if (total > 0)
		io->ops->read(io->ctx); /* what came before an end */
	if (eof || failed)
		io_fail(io, eof, err);
	io_shed(io);
}

/* The plain read event's callback. */
static void io_read_cb(evutil_socket_t fd, short what, void *arg)
{
	io_cb_enter();
	io_plain_read(fd, what, arg);
	io_cb_leave();
}

/* Resumes reading once the consumer took input below the limit (the
 * input's consumed callback; clearing it from within is safe). */
static void io_in_consumed(void *arg)
{
	struct io *io = arg;

	if (io_want_read(io))
		io_update_read(io);
}

/* One write (or writev) of the first n bytes of b's first segments,
 * drained from b as the socket took them: write()'s result. */
static ssize_t io_write_buf(int fd, struct buf *b, size_t n)
{
	struct iovec v[IO_WRITE_IOVS];
	int k = buf_peek(b, n, v, IO_WRITE_IOVS);
	ssize_t w;

	if (k <= 0)
		return 0;
	w = k == 1 ? write(fd, v[0].iov_base, v[0].iov_len) : writev(fd, v, k);
	if (w > 0)
		buf_drain(b, (size_t)w);
	return w;
}

/* Writes as much as the socket takes; true when the output is empty. A
 * failure is kept in err. */
static bool io_plain_write_some(struct io *io)
{
	while (io_unsent(io) > 0) {
		ssize_t n = io_write_buf(io->fd, io->out, SIZE_MAX);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return false;
			io->err = errno;
			return false;
		}
		if (n == 0)
			return false;
	}
	return true;
}

/* Empties the thread's OpenSSL error queue before an SSL call, whose
 * failure SSL_get_error reads from it: an error left by someone else would
 * pass for this connection's. Peeking first costs a fifth of clearing an
 * empty queue (ERR_clear_error walks all its slots), and the queue is
 * nearly always empty. */
static void io_tls_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* What an SSL call's failure means for the io: false with err set when the
 * connection is lost, true when it only has to wait (want_* set). */
static bool io_tls_wait(struct io *io, int ret, bool *want_read,
			bool *want_write)
{
	int e = SSL_get_error(io->ssl, ret);

	if (e == SSL_ERROR_WANT_READ) {
		*want_read = true;
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		*want_write = true;
		return true;
	}
	/* A peer's end (close_notify or, with SSL_OP_IGNORE_UNEXPECTED_EOF,
	 * none) leaves err 0. */
	io->err = e == SSL_ERROR_ZERO_RETURN ? 0
		  : e == SSL_ERROR_SYSCALL   ? errno
					     : EPROTO;
	if (e != SSL_ERROR_ZERO_RETURN)
		io->ssl_fatal = true;
	ERR_clear_error();
	return false;
}

/* SSL_write of the output's first segment by segment, each drained when
 * OpenSSL took it; true when the output is empty. A write that OpenSSL
 * could not finish is repeated with the same length (its record is
 * already built), from wherever the segment now lies. */
static bool io_tls_write_some(struct io *io)
{
	bool want_read = false, want_write = false;

	if (io_unsent(io) == 0)
		return true;
	io_tls_clear_errors();
	while (buf_len(io->out) > 0) {
		struct iovec v;
		buf_peek(io->out, SIZE_MAX, &v, 1);
		int len = io->wpend != 0	? io->wpend
			  : v.iov_len > INT_MAX ? INT_MAX
						: (int)v.iov_len;
		int n = SSL_write(io->ssl, v.iov_base, len);
		if (n > 0) {
			io->wpend = 0;
			buf_drain(io->out, (size_t)n);
			continue;
		}
		io->wpend = len;
		if (io_tls_wait(io, n, &want_read, &want_write))
			io->wr_wants_read = want_read;
		else if (io->err == 0)
			io->err = EPIPE; /* the peer ended the session */
		return false;
	}
	return true;
}

static bool io_write_some(struct io *io)
{
	return io->ssl != NULL ? io_tls_write_some(io)
			       : io_plain_write_some(io);
}

/* Writes on once the socket took bytes again (or, for TLS, delivered what
 * SSL_write waited for): stops waiting when the output is empty, reports
 * drained() at the low mark, a failure as failed(). */
static void io_write_resume(struct io *io)
{
	bool empty;

	if (io->err == 0) {
		empty = io_write_some(io);
		if (empty)
			io->write_armed = false;
	}
	if (io->err != 0) {
		io_fail(io, false, io->err);
		return;
	}
	io_update_write(io);
	if (io->ssl != NULL)
		io_update_read(io);
	if (io_unsent(io) <= io->low_water)
		io->ops->drained(io->ctx);
	io_shed(io);
}

static void io_tls_read_cb(struct io *io);

static void io_write_event(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	(void)fd;
	(void)what;
	if (io->rd_wants_write) {
		io->rd_wants_write = false;
		io_tls_read_cb(io);
		if (io->dead)
			return;
		if (!io->write_armed) {
			io_update_write(io);
			return;
		}
	}
	io_write_resume(io);
}

/* The write event's callback. */
static void io_write_cb(evutil_socket_t fd, short what, void *arg)
{
	io_cb_enter();
	io_write_event(fd, what, arg);
	io_cb_leave();
}

/* An io_flush that emptied a lean io's output cannot return the buffer
 * there (its caller may still hold it). Inside an io's event callback
 * (the relay: a server's read flushes its client) the io waits in
 * io_sheds until that callback returns to the loop, where nobody holds a
 * buffer: no loop turn and no event_active per message. Elsewhere, or
 * with the list full, the read event, made active with EV_TIMEOUT (which
 * no read sets), does it from the loop. */
static void io_shed_later(struct io *io)
{
	if (!io->lean || io->shed_queued || !io->rev_made)
		return;
	io->shed_queued = true;
	if (io_cb_depth > 0 && io_nsheds < IO_SHEDS_HELD)
		io_sheds[io_nsheds++] = io;
	else
		event_active(&io->rev, EV_TIMEOUT, 1);
}

/* One write of up to n bytes from src's first segments, drained from
 * src as the socket took them; returns how many. A failure is left for
 * the io_flush that follows to meet again and report. */
static size_t io_write_direct(struct io *io, struct buf *src, size_t n)
{
	ssize_t w = io_write_buf(io->fd, src, n);

	return w > 0 ? (size_t)w : 0;
}

/* SSL_write of up to n bytes from src's first segments, one by one,
 * drained from src as OpenSSL took them; returns how many. A write
 * OpenSSL could not finish leaves wpend set (the rest of src, moved to
 * the output by the caller, starts with the same bytes, contiguous) and
 * *stalled true, as io_tls_write_some would. */
static size_t io_tls_write_direct(struct io *io, struct buf *src, size_t n,
				  bool *stalled)
{
	struct iovec v[IO_WRITE_IOVS];
	int k = buf_peek(src, n, v, IO_WRITE_IOVS);
	bool want_read = false, want_write = false;
	size_t done = 0;

	io_tls_clear_errors();
	for (int i = 0; i < k && i < IO_WRITE_IOVS && done < n; i++) {
		size_t want = v[i].iov_len < n - done ? v[i].iov_len : n - done;
		int len = want > INT_MAX ? INT_MAX : (int)want;
		int w = SSL_write(io->ssl, v[i].iov_base, len);
		if (w <= 0) {
			io->wpend = len;
			if (io_tls_wait(io, w, &want_read, &want_write))
				io->wr_wants_read = want_read;
			else if (io->err == 0)
				io->err =
				    EPIPE; /* the peer ended the session */
			*stalled = true;
			break;
		}
		done += (size_t)w;
		if ((size_t)w < want)
			break;
	}
	if (done > 0)
		buf_drain(src, done);
	return done;
}

/* A write that could not finish: waits for the socket (or, for TLS, for
 * the peer's bytes), or reports a failure from the loop. */
static void io_write_stalled(struct io *io)
{
	io->write_armed = true;
	if (io->err != 0) {
		io_fail_later(io);
		return;
	}
	io_update_write(io);
	if (io->wr_wants_read)
		io_update_read(io);
}

void io_write_from(struct io *io, struct buf *src, size_t n)
{
	bool stalled = false;

	if (n > 0 && !io->dead && !io->write_armed && io->err == 0 &&
	    io->wpend == 0 && io_unsent(io) == 0)
		n -= io->ssl != NULL ? io_tls_write_direct(io, src, n, &stalled)
				     : io_write_direct(io, src, n);
	if (n > 0 && buf_move(io_output(io), src, n) != 0) {
		buf_drain(src, n); /* lost: the io fails from the loop */
		io->err = ENOMEM;
		io_fail_later(io);
	}
	if (stalled)
		io_write_stalled(io);
}

void io_flush(struct io *io)
{
	if (io->dead || io->write_armed)
		return;
	if (io_write_some(io)) {
		io_shed_later(io);
		return;
	}
	/* Full socket, TLS waiting to read, or an error reported from the
	 * loop. */
	io_write_stalled(io);
}

/* The input's room filled by SSL_read, record after record, appended
 * without a copy. Stops when the room is full, when OpenSSL holds nothing
 * more (with read-ahead it read what the socket had: the next bytes wake
 * the socket again) or when SSL_read fails; the last SSL_read's return
 * goes to *ret (above 0: no failure) and the room to *asked. Returns the
 * bytes appended, -1 with no memory. */
static ssize_t io_tls_read_block(struct io *io, int *ret, size_t *asked)
{
	uint8_t *room = NULL;
	size_t off = 0;

	*ret = 1;
	if (io_buf(&io->in) != NULL)
		room = buf_reserve(io->in, IO_READ_MIN, asked);
	if (room == NULL)
		return -1;
	while (off < *asked) {
		size_t want = *asked - off;
		*ret = SSL_read(io->ssl, room + off,
				want > INT_MAX ? INT_MAX : (int)want);
		if (*ret <= 0)
			break;
		off += (size_t)*ret;
		if (!SSL_has_pending(io->ssl))
			break;
	}
	if (buf_commit(io->in, off) != 0)
		return -1;
	return (ssize_t)off;
}

/* The TLS read side: first a write that waited for the peer's bytes, then
 * plaintext as far as OpenSSL and the socket hold it, bounded per wakeup
 * like plain reads; plaintext left inside OpenSSL at the bound is read on
 * the next loop turn without waiting for the socket. */
static void io_tls_read_cb(struct io *io)
{
	bool want_read = false, want_write = false, lost = false;
	size_t total = 0;
	int ret = 1;

	if (io->dead)
		return;
	if (io->err != 0) {
		io_fail(io, false, io->err); /* a write's, or no memory */
		return;
	}
	if (io->wr_wants_read) {
		io->wr_wants_read = false;
		io_write_resume(io);
		if (io->dead)
			return;
	}
	io_tls_clear_errors();
	for (int i = 0; i < IO_READS_PER_WAKEUP && io_want_read(io); i++) {
		size_t asked = 0;
		ssize_t r = io_tls_read_block(io, &ret, &asked);
		if (r < 0) {
			io->err = ENOMEM;
			lost = true;
			break;
		}
		total += (size_t)r;
		if (ret <= 0) {
			lost = !io_tls_wait(io, ret, &want_read, &want_write);
			break;
		}
		if ((size_t)r < asked && !SSL_has_pending(io->ssl))
			break;
	}
	io->rd_wants_write = want_write;
	io->ssl_starved = want_read;
	io_update_read(io);
	io_update_write(io);
	if (total > 0)
		io->ops->read(io->ctx); /* what came before an end */
	if (lost)
		io_fail(io, io->err == 0, io->err);
	io_shed(io);
}

/* The TLS read event's callback. */
static void io_read_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	io_cb_enter();
	if (what & EV_TIMEOUT)
		io->shed_queued = false; /* io_shed_later's */
	if (what == EV_TIMEOUT)
		io_shed(io); /* nothing to read */
	else if (io->ssl != NULL)
		io_tls_read_cb(io);
	else
		io_plain_read(fd, what, io);
	io_cb_leave();
}

/* A new io for fd, reading on, no buffers yet. */
static struct io *io_alloc(int fd, const struct io_ops *ops, void *ctx)
{
	struct io *io = calloc(1, sizeof(*io));

	if (io == NULL)
		return NULL;
	io->ops = ops;
	io->ctx = ctx;
	io->fd = fd;
	io->reading = true;
	return io;
}

/* Buffers and events for an allocated io; reading starts. */
static bool io_start(struct io *io, struct event_base *base)
{
	io->in = io_buf_get();
	io->out = io_buf_get();
	io->rev_made =
	    event_assign(&io->rev, base, io->fd, EV_READ | EV_PERSIST,
			 io->ssl != NULL ? io_read_event_cb : io_read_cb,
			 io) == 0;
	if (io->in == NULL || io->out == NULL || !io->rev_made ||
	    !io_arm_read(io, true))
		return false;
	io_update_read(io);
	return true;
}

struct io *io_new_socket(struct event_base *base, int fd, bool close_fd,
			 const struct io_ops *ops, void *ctx)
{
	struct io *io = io_alloc(fd, ops, ctx);

	if (io == NULL)
		return NULL;
	io->close_fd = close_fd;
	if (!io_start(io, base)) {
		io->close_fd = false;
		io_free(io);
		return NULL;
	}
	return io;
}

/* How pitlane drives an SSL: read-ahead (one read of the socket brings
 * whole records instead of a header and then a body), a write repeated
 * from wherever the output segment now lies, and a peer's close without
 * close_notify read as an end of stream. */
static void io_tls_setup(SSL *ssl)
{
	SSL_set_read_ahead(ssl, 1);
	SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

struct io *io_new_ssl_open(struct event_base *base, int fd, SSL *ssl,
			   const struct io_ops *ops, void *ctx)
{
	struct io *io = io_alloc(fd, ops, ctx);

	if (io == NULL)
		return NULL;
	io->ssl = ssl;
	io_tls_setup(ssl);
	if (!io_start(io, base)) {
		io_free(io);
		return NULL;
	}
	return io;
}

void io_detach(struct io *io)
{
	io->dead = true;
	io_arm_read(io, false);
	io_update_write(io);
}

struct io *io_new_ssl_accept(struct event_base *base, int fd, SSL *ssl,
			     struct buf *early, const struct io_ops *ops,
			     void *ctx)
{
	struct io *io;

	if (early != NULL && buf_len(early) > 0) {
		SSL_free(ssl);
		return NULL; /* OpenSSL reads the socket itself */
	}
	io = io_alloc(fd, ops, ctx);
	if (io == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		free(io);
		return NULL;
	}
	io->ssl = ssl;
	io->own_ssl = true;
	io->close_fd = true;
	io_tls_setup(ssl);
	SSL_set_accept_state(ssl);
	if (!io_start(io, base)) {
		io->close_fd = false; /* the caller's plain io still owns it */
		io_free(io);
		return NULL;
	}
	return io;
}

SSL *io_ssl(struct io *io)
{
	return io->ssl;
}

int io_fd(const struct io *io)
{
	return io->fd;
}

void io_peek_first(struct io *io, void (*cb)(void *ctx, int byte))
{
	io->peek = cb;
}

void io_release_fd(struct io *io)
{
	io->close_fd = false;
}

/* Ends the stream before the close: closing a socket with unread input
 * resets the connection instead of ending it, and the peer may then lose
 * what was written to it last (a final error). The FIN goes first
 * (shutdown, after what is still queued), so that a peer that has received
 * it sees the end of the stream even if bytes it sends later (or that
 * arrive between the reads below and the close) are answered with a reset;
 * then what the peer sent and nobody read is read and dropped, bounded: a
 * peer that goes on sending is reset all the same. */
static void io_end_stream(int fd)
{
	char junk[IO_DISCARD_CHUNK];

	(void)shutdown(fd, SHUT_WR);
	for (int i = 0; i < IO_DISCARD_READS; i++)
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			return;
}

/* A TLS session of pitlane's own ends with close_notify when the socket
 * takes it at once; the peer's answer is not waited for (one that never
 * sends it cannot hold the close), and a session OpenSSL gave up on sends
 * none. */
static void io_tls_close(struct io *io)
{
	if (!io->ssl_fatal && SSL_is_init_finished(io->ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(io->ssl);
		ERR_clear_error();
	}
	SSL_free(io->ssl);
}

void io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->own_ssl && io->close_fd)
		io_tls_close(io);
	else if (io->own_ssl)
		SSL_free(io->ssl);
	if (io->close_fd)
		io_end_stream(io->fd);
	if (io->rev_made)
		event_del(&io->rev); /* pending, active or not */
	io_unhold_shed(io);
	if (io->wev != NULL)
		event_free(io->wev);
	if (io->in != NULL)
		io_buf_drop(io->in);
	if (io->out != NULL)
		io_buf_drop(io->out);
	if (io->close_fd)
		close(io->fd);
	free(io);
}

size_t io_unsent(const struct io *io)
{
	return io->out != NULL ? buf_len(io->out) : 0;
}

size_t io_input_length(const struct io *io)
{
	return io->in != NULL ? buf_len(io->in) : 0;
}

/* A buffer that could not be lent: the io fails from the loop, and the
 * caller writes into the scratch buffer, emptied here. */
static struct buf *io_buf_missing(struct io *io)
{
	if (io->err == 0)
		io->err = ENOMEM;
	io_fail_later(io);
	buf_clear(&io_scratch);
	return &io_scratch;
}

struct buf *io_input(struct io *io)
{
	return io_buf(&io->in) != NULL ? io->in : io_buf_missing(io);
}

struct buf *io_output(struct io *io)
{
	return io_buf(&io->out) != NULL ? io->out : io_buf_missing(io);
}

void io_set_lean(struct io *io)
{
	io->lean = true;
	io_shed(io);
}

void io_read(struct io *io, bool on)
{
	io->reading = on;
	io_update_read(io);
}

void io_set_read_limit(struct io *io, size_t limit)
{
	io->read_limit = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
	io_update_read(io);
}

void io_set_low_water(struct io *io, size_t low)
{
	io->low_water = low > UINT32_MAX ? UINT32_MAX : (uint32_t)low;
}
