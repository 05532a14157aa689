/* Connection byte streams: raw events on plain sockets (persistent
 * EV_READ, EV_WRITE only while the kernel buffer is full) or a
 * bufferevent_openssl for TLS, behind one small interface. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#define IO_READ_CHUNK	    16384 /* bytes asked of each read */
#define IO_READS_PER_WAKEUP 8	  /* reads per wakeup before yielding */
#define IO_BLOCKS_KEPT	    64	  /* free read blocks kept for reuse */
#define IO_DISCARD_READS    64	  /* reads of unread input before a close */

struct io {
	const struct io_ops *ops;
	void *ctx;
	int fd;
	bool close_fd;
	bool reading;	   /* EV_READ wanted */
	bool read_armed;   /* rev is added (plain sockets) */
	bool write_armed;  /* EV_WRITE pending: the socket was full */
	bool dead;	   /* failed: report once */
	size_t read_limit; /* 0: none */
	struct evbuffer_cb_entry *in_cb; /* while read_limit holds reading */
	size_t low_water;
	int err;		 /* errno of a failed write, reported later */
	struct event *rev, *wev; /* plain sockets */
	struct evbuffer *in, *out;
	struct bufferevent *bev;	   /* TLS: everything goes through it */
	struct bufferevent *under;	   /* TLS filter: the socket beneath */
	void (*peek)(void *ctx, int byte); /* once, before the first read */
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
	       (io->read_limit == 0 ||
		evbuffer_get_length(io->in) < io->read_limit);
}

static void io_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
		     void *arg);

/* Adds or deletes the read event only when that changes something: the
 * relay asks for reading again at every transaction. False when libevent
 * refused. */
static bool io_arm_read(struct io *io, bool on)
{
	if (on != io->read_armed) {
		if ((on ? event_add(io->rev, NULL) : event_del(io->rev)) != 0)
			return false;
		io->read_armed = on;
	}
	return true;
}

/* The input callback exists only while read_limit holds reading back:
 * otherwise every drain of the input would pay for it. Should it fail to
 * register, reading goes on past the limit rather than stall. */
static void io_watch_input(struct io *io, bool on)
{
	if (on && io->in_cb == NULL) {
		io->in_cb = evbuffer_add_cb(io->in, io_in_cb, io);
		if (io->in_cb == NULL)
			io_arm_read(io, true);
	} else if (!on && io->in_cb != NULL) {
		evbuffer_remove_cb_entry(io->in, io->in_cb);
		io->in_cb = NULL;
	}
}

static void io_update_read(struct io *io)
{
	if (io->bev != NULL) {
		if (io->reading)
			bufferevent_enable(io->bev, EV_READ);
		else
			bufferevent_disable(io->bev, EV_READ);
		return;
	}
	if (io_want_read(io)) {
		io_watch_input(io, false);
		io_arm_read(io, true);
	} else {
		io_arm_read(io, false);
		io_watch_input(io, io->reading && !io->dead);
	}
}

/* Read blocks: a read lands in a block that the input buffer references
 * instead of a chain libevent would allocate (and free once written) for
 * every read. Blocks come back when their data has been written or
 * drained, and the most recent ones are kept for the next reads, so the
 * relay neither allocates nor touches cold memory per read. The event
 * loop is single-threaded: the list needs no lock. */
struct io_block {
	struct io_block *next;
};

static struct io_block *io_blocks; /* free, most recently used first */
static unsigned io_nblocks;

static void *io_block_get(void)
{
	struct io_block *b = io_blocks;

	if (b == NULL)
		return malloc(IO_READ_CHUNK);
	io_blocks = b->next;
	io_nblocks--;
	return b;
}

static void io_block_put(const void *data, size_t len, void *block)
{
	struct io_block *b = block;

	(void)data;
	(void)len;
	if (io_nblocks >= IO_BLOCKS_KEPT) {
		free(b);
		return;
	}
	b->next = io_blocks;
	io_blocks = b;
	io_nblocks++;
}

/* One read into a block, appended to the input without a copy: no
 * FIONREAD probe. Returns read()'s result; -1 with ENOMEM when no block
 * or reference could be had (the connection then fails: a read whose
 * bytes were lost cannot go on). */
static ssize_t io_read_once(struct io *io)
{
	void *block = io_block_get();
	ssize_t r;

	if (block == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = read(io->fd, block, IO_READ_CHUNK);
	if (r <= 0) {
		int err = errno;
		io_block_put(NULL, 0, block);
		errno = err;
		return r;
	}
	if (evbuffer_add_reference(io->in, block, (size_t)r, io_block_put,
				   block) != 0) {
		io_block_put(NULL, 0, block);
		errno = ENOMEM;
		return -1;
	}
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

static void io_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	ssize_t r = 0;
	size_t total = 0;
	int err = 0;

	(void)fd;
	(void)what;
	if (io->peek != NULL) {
		io_peek_cb(io);
		return; /* the data, still there, wakes us again */
	}
	for (int i = 0; i < IO_READS_PER_WAKEUP; i++) {
		r = io_read_once(io);
		if (r > 0)
			total += (size_t)r;
		if (r < 0)
			err = errno;
		if (r < IO_READ_CHUNK || !io_want_read(io))
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
}

/* Resumes reading once the consumer took input below the limit. */
static void io_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
		     void *arg)
{
	struct io *io = arg;

	(void)buf;
	if (info->n_deleted > 0 && io_want_read(io)) {
		/* Removing this callback from within it is safe: libevent
		 * takes the next entry before calling one. */
		io_watch_input(io, false);
		io_arm_read(io, true);
	}
}

/* Writes as much as the socket takes; true when the output is empty. */
static bool io_write_some(struct io *io)
{
	while (evbuffer_get_length(io->out) > 0) {
		int n = evbuffer_write(io->out, io->fd);
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

static void io_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	bool empty;

	(void)fd;
	(void)what;
	if (io->err != 0) {
		io_fail(io, false, io->err);
		return;
	}
	empty = io_write_some(io);
	if (io->err != 0) {
		io_fail(io, false, io->err);
		return;
	}
	if (empty) {
		io->write_armed = false;
		event_del(io->wev);
	}
	if (evbuffer_get_length(io->out) <= io->low_water)
		io->ops->drained(io->ctx);
}

void io_flush(struct io *io)
{
	if (io->bev != NULL || io->dead || io->write_armed)
		return;
	if (io_write_some(io))
		return;
	/* Full socket, or an error reported from the loop. */
	io->write_armed = true;
	if (io->err != 0)
		event_active(io->wev, EV_WRITE, 1);
	else
		event_add(io->wev, NULL);
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

struct io *io_new_socket(struct event_base *base, int fd, bool close_fd,
			 const struct io_ops *ops, void *ctx)
{
	struct io *io = io_alloc(fd, ops, ctx);

	if (io == NULL)
		return NULL;
	io->close_fd = close_fd;
	io->in = evbuffer_new();
	io->out = evbuffer_new();
	io->rev = event_new(base, fd, EV_READ | EV_PERSIST, io_read_cb, io);
	io->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, io_write_cb, io);
	if (io->in == NULL || io->out == NULL || io->rev == NULL ||
	    io->wev == NULL || !io_arm_read(io, true)) {
		io->close_fd = false;
		io_free(io);
		return NULL;
	}
	return io;
}

static void io_bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	(void)bev;
	io->ops->read(io->ctx);
}

/* Output counts as drained once the socket beneath a TLS filter has
 * sent it too: a final error must not be cut off by closing early. */
static bool io_bev_pending(const struct io *io)
{
	return io->under != NULL &&
	       evbuffer_get_length(bufferevent_get_output(io->under)) > 0;
}

static void io_bev_write_cb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	(void)bev;
	if (!io_bev_pending(io))
		io->ops->drained(io->ctx);
}

static void io_under_out_cb(struct evbuffer *buf,
			    const struct evbuffer_cb_info *info, void *arg)
{
	struct io *io = arg;

	if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0 && !io->dead &&
	    evbuffer_get_length(io->out) <= io->low_water)
		io->ops->drained(io->ctx);
}

static void io_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct io *io = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		io_fail(io, true, 0);
	else if (what & BEV_EVENT_ERROR && io->bev != NULL &&
		 bufferevent_get_openssl_error(io->bev) != 0)
		io_fail(io, false, EPROTO);
	else if (what & BEV_EVENT_ERROR)
		io_fail(io, false, EVUTIL_SOCKET_ERROR());
}

/* Wires a TLS io's bufferevent to the io callbacks and starts it. */
static void io_bev_start(struct io *io)
{
	io->in = bufferevent_get_input(io->bev);
	io->out = bufferevent_get_output(io->bev);
	bufferevent_setcb(io->bev, io_bev_read_cb, io_bev_write_cb,
			  io_bev_event_cb, io);
	bufferevent_enable(io->bev, EV_READ | EV_WRITE);
}

struct io *io_new_ssl_open(struct event_base *base, int fd, SSL *ssl,
			   const struct io_ops *ops, void *ctx)
{
	struct io *io = io_alloc(fd, ops, ctx);

	if (io == NULL)
		return NULL;
	io->bev = bufferevent_openssl_socket_new(base, fd, ssl,
						 BUFFEREVENT_SSL_OPEN, 0);
	if (io->bev == NULL) {
		free(io);
		return NULL;
	}
	io_bev_start(io);
	return io;
}

void io_detach(struct io *io)
{
	io->dead = true;
	if (io->bev != NULL) {
		bufferevent_disable(io->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(io->bev, NULL, NULL, NULL, NULL);
		return;
	}
	io_arm_read(io, false);
	event_del(io->wev);
}

struct io *io_new_ssl_accept(struct event_base *base, int fd, SSL *ssl,
			     struct evbuffer *early, const struct io_ops *ops,
			     void *ctx)
{
	struct io *io = io_alloc(fd, ops, ctx);
	struct bufferevent *under;

	if (io == NULL)
		return NULL;
	under = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (under == NULL) {
		free(io);
		return NULL;
	}
	if (early != NULL)
		evbuffer_add_buffer(bufferevent_get_input(under), early);
	/* A filter reads through the socket bufferevent, so bytes already
	 * read (a direct ClientHello) reach OpenSSL like later ones. */
	io->bev = bufferevent_openssl_filter_new(
	    base, under, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (io->bev == NULL) {
		bufferevent_free(under);
		SSL_free(ssl);
		free(io);
		return NULL;
	}
	io->under = under;
	io_bev_start(io);
	evbuffer_add_cb(bufferevent_get_output(under), io_under_out_cb, io);
	if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
		bufferevent_trigger(under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
	return io;
}

SSL *io_ssl(struct io *io)
{
	return io->bev != NULL ? bufferevent_openssl_get_ssl(io->bev) : NULL;
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
	char buf[IO_READ_CHUNK];

	(void)shutdown(fd, SHUT_WR);
	for (int i = 0; i < IO_DISCARD_READS; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			return;
}

void io_free(struct io *io)
{
	if (io == NULL)
		return;
	if (io->close_fd || io->under != NULL)
		io_end_stream(io->fd);
	if (io->bev != NULL) {
		bufferevent_free(io->bev);
	} else {
		if (io->rev != NULL)
			event_free(io->rev);
		if (io->wev != NULL)
			event_free(io->wev);
		if (io->in != NULL)
			evbuffer_free(io->in);
		if (io->out != NULL)
			evbuffer_free(io->out);
		if (io->close_fd)
			close(io->fd);
	}
	free(io);
}

size_t io_unsent(struct io *io)
{
	size_t n = evbuffer_get_length(io->out);

	if (io->under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(io->under));
	return n;
}

struct evbuffer *io_input(struct io *io)
{
	return io->in;
}

struct evbuffer *io_output(struct io *io)
{
	return io->out;
}

void io_read(struct io *io, bool on)
{
	io->reading = on;
	io_update_read(io);
}

void io_set_read_limit(struct io *io, size_t limit)
{
	io->read_limit = limit;
	if (io->bev != NULL)
		bufferevent_setwatermark(io->bev, EV_READ, 0, limit);
	else
		io_update_read(io);
}

void io_set_low_water(struct io *io, size_t low)
{
	io->low_water = low;
	if (io->bev != NULL)
		bufferevent_setwatermark(io->bev, EV_WRITE, low, 0);
}
