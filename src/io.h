/* A connection's byte stream for the relay: input and output queues
 * over a socket. A socket is read as far as it holds per wakeup and
 * written inline, with EV_WRITE armed only while it is full, so a relayed
 * message costs one read and one write and no epoll_ctl. TLS connections
 * do the same through SSL_read/SSL_write, behind the same calls. */
#ifndef PITLANE_IO_H
#define PITLANE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "buf.h"

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

/* Starts the server side of a TLS handshake on a client socket. OpenSSL
 * reads the socket itself, so `early` (bytes already read from it) must be
 * NULL or empty: io_peek_first leaves a direct ClientHello unread. The io
 * owns the socket and the SSL from here on (the SSL even on failure). */
struct io *io_new_ssl_accept(struct event_base *base, int fd, SSL *ssl,
			     struct buf *early, const struct io_ops *ops,
			     void *ctx);

/* The SSL of a TLS io, NULL for plain ones. */
SSL *io_ssl(struct io *io);

/* The socket. */
int io_fd(const struct io *io);

/* Calls cb with the first byte that arrives, before anything is read, so
 * the owner can still hand the untouched socket to TLS (a ClientHello sent
 * without SSLRequest). Plain sockets only. */
void io_peek_first(struct io *io, void (*cb)(void *ctx, int byte));

/* Lets go of the socket: io_free will not close it. */
void io_release_fd(struct io *io);

void io_free(struct io *io); /* NULL-safe */

/* The buffers; never NULL (out of memory, a scratch buffer stands in and
 * the io fails from the loop). */
struct buf *io_input(struct io *io);
struct buf *io_output(struct io *io);

/* Bytes written to the io that have not reached the socket yet (for TLS,
 * the plaintext of a record OpenSSL could not finish writing included). */
size_t io_unsent(const struct io *io);

/* Bytes in the input buffer (without lending the io one). */
size_t io_input_length(const struct io *io);

/* Makes the io lean: its buffers are lent only while they hold something
 * and returned from the loop once empty (an idle client's io holds none).
 * io_input and io_output lend one when called; a buffer they return is
 * valid until the caller returns to the loop. */
void io_set_lean(struct io *io);

/* Writes what the output holds now, as far as the socket takes it. Never
 * calls back: a failure is reported from the loop. */
void io_flush(struct io *io);

/* Moves the first n bytes of src (another io's input) to the io's output.
 * When that output is empty and no write waits, the socket (or, for TLS,
 * SSL_write) takes them first straight from src's segments, with no move
 * into the output; only what it did not take is moved. Never calls back;
 * io_flush after it as after writing to io_output. */
void io_write_from(struct io *io, struct buf *src, size_t n);

/* Pauses or resumes reading (backpressure, a client waiting for a server).
 * Reading is on after io_new_*. */
void io_read(struct io *io, bool on);

/* The most input buffered before reading pauses by itself; 0: no limit. */
void io_set_read_limit(struct io *io, size_t limit);

/* CLOCK_MONOTONIC in microseconds (time since boot, not a date), read
 * once per io event callback: inside one (a read that relays a response,
 * releases the server and hands it to the next client), every call
 * returns what the first call read, so the relay reads the clock once per
 * wakeup instead of at every step; outside one, the clock itself. */
extern int64_t io_clock_us;   /* 0: not read in this callback, or outside */
int64_t io_now_us_read(void); /* reads the clock (and keeps it inside) */

static inline int64_t io_now_us(void)
{
	return io_clock_us != 0 ? io_clock_us : io_now_us_read();
}

/* Output at or below which drained() is called after the socket had been
 * full. */
void io_set_low_water(struct io *io, size_t low);

#endif
