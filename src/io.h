/* A connection's byte stream for the relay: input and output evbuffers
 * over a socket. Plain sockets are read as far as the socket holds per
 * wakeup and written inline, with EV_WRITE armed only while the socket is
 * full, so a relayed message costs one read and one write and no epoll_ctl.
 * TLS connections run through a bufferevent_openssl underneath, behind the
 * same calls. */
#ifndef PITLANE_IO_H
#define PITLANE_IO_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct io;

struct io_ops {
	/* New bytes are in the input buffer. */
	void (*read)(void *ctx);
	/* Output fell to the low mark after the socket had been full. */
	void (*drained)(void *ctx);
	/* End of stream (eof true) or a socket/TLS error: the io is dead. */
	void (*failed)(void *ctx, bool eof, const char *reason);
};

/* Wraps a connected non-blocking socket. close_fd: io_free closes it. */
struct io *io_new_socket(struct event_base *base, int fd, bool close_fd,
			 const struct io_ops *ops, void *ctx);

/* Wraps an established TLS connection (ssl already past its handshake, as
 * libpq leaves it). Neither the socket nor the SSL object is freed by
 * io_free: their owner (libpq) does that. */
struct io *io_new_ssl_open(struct event_base *base, int fd, SSL *ssl,
			   const struct io_ops *ops, void *ctx);

/* Stops every event and callback at once (safe inside a callback); the
 * buffers stay until io_free, which the owner calls from a deferred point. */
void io_detach(struct io *io);

void io_free(struct io *io); /* NULL-safe */

struct evbuffer *io_input(struct io *io);
struct evbuffer *io_output(struct io *io);

/* Writes what the output holds now, as far as the socket takes it. Never
 * calls back: a failure is reported from the loop. */
void io_flush(struct io *io);

/* Pauses or resumes reading (backpressure, a client waiting for a server).
 * Reading is on after io_new_*. */
void io_read(struct io *io, bool on);

/* The most input buffered before reading pauses by itself; 0: no limit. */
void io_set_read_limit(struct io *io, size_t limit);

/* Output at or below which drained() is called after the socket had been
 * full. */
void io_set_low_water(struct io *io, size_t low);

#endif
