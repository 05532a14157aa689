/* pitlane's byte queue for connection input and output: segments over
 * reference-counted blocks, so that a read lands in a block the queue
 * already holds, a relayed range moves to another queue by relinking (a
 * segment split, never a byte copy), and neither reading nor relaying
 * allocates once the process has warmed up: blocks and segments come from
 * free lists of their own. Single-threaded, like the event loop it serves.
 * L0: no libevent, no sockets. */
#ifndef PITLANE_BUF_H
#define PITLANE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Usable bytes of a standard block (a read asks for up to this much). */
#define BUF_BLOCK_DATA (16384u - 16u)

struct buf_block;

/* A range of a block (internal to buf.c; visible for buf_first). */
struct buf_seg {
	struct buf_seg *next;
	struct buf_block *blk;
	uint8_t *p;
	size_t len;
};

struct buf {
	struct buf_seg *head, *tail;
	size_t len;
	/* Called after bytes were taken from the front (drain, remove,
	 * move); NULL: none. */
	void (*consumed)(void *arg);
	void *consumed_arg;
};

/* An empty queue in place / on the heap (NULL when out of memory). */
void buf_init(struct buf *b);
struct buf *buf_new(void);

/* Drops every byte (the consumed callback is not called). */
void buf_clear(struct buf *b);

void buf_free(struct buf *b); /* NULL-safe */

static inline size_t buf_len(const struct buf *b)
{
	return b->len;
}

/* The first segment's bytes: *p and *len; false when b is empty. */
static inline bool buf_first(const struct buf *b, const uint8_t **p,
			     size_t *len)
{
	if (b->head == NULL)
		return false;
	*p = b->head->p;
	*len = b->head->len;
	return true;
}

/* Appends n bytes (copied); 0, or -1 when out of memory (nothing added). */
int buf_add(struct buf *b, const void *data, size_t n);

/* Appends formatted text; 0 or -1 (out of memory, or a format error). */
int buf_add_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Removes the first n bytes (all when n >= the length). */
void buf_drain(struct buf *b, size_t n);

/* Copies up to n bytes starting at offset off; returns how many. */
size_t buf_copyout(const struct buf *b, size_t off, void *out, size_t n);

/* Copies and removes up to n bytes from the front; returns how many. */
size_t buf_remove(struct buf *b, void *out, size_t n);

/* Makes the first n bytes contiguous and returns them; NULL when fewer
 * are buffered or out of memory. Copies only when they straddle
 * segments. */
uint8_t *buf_pullup(struct buf *b, size_t n);

/* Fills up to max iovecs with the first n bytes (n = SIZE_MAX: all);
 * returns how many iovecs were filled. */
int buf_peek(const struct buf *b, size_t n, struct iovec *v, int max);

/* The contiguous bytes holding offset off: *p and *avail (bytes from off to
 * the end of its segment); false when off is not buffered. */
bool buf_locate(const struct buf *b, size_t off, const uint8_t **p,
		size_t *avail);

/* Moves the first n bytes of src to the end of dst without copying them
 * (n must be buffered in src); 0, or -1 when out of memory (nothing
 * moved). */
int buf_move(struct buf *dst, struct buf *src, size_t n);

/* Room to read into at the end of b: at least min bytes, and the free
 * space of b's last block when it has that much (no new block). Returns
 * the room and its size, NULL when out of memory. buf_commit must follow
 * before any other call on any queue. */
uint8_t *buf_reserve(struct buf *b, size_t min, size_t *room);

/* Appends the n bytes written into the room buf_reserve gave (n may be 0);
 * 0, or -1 when out of memory (the bytes are lost). */
int buf_commit(struct buf *b, size_t n);

/* Returns kept blocks and segments to malloc (tests, leak checks). */
void buf_release_cache(void);

#endif
