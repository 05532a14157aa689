/* Frame access on byte queues: reads one message header at an offset without
 * copying or pulling up the buffer, so the relay can inspect headers and
 * move bodies between buffers untouched. */
#ifndef PITLANE_RELAY_H
#define PITLANE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "proto.h"

#define RELAY_MAX_MESSAGE (1u << 30)	/* largest message accepted: 1 GiB */
#define RELAY_HIGH_WATER  (512u * 1024) /* output that pauses the peer */
#define RELAY_LOW_WATER	  (64u * 1024)	/* output that resumes the peer */

/* A cursor over an input buffer: `pos` bytes from the start have been
 * scanned. `seg` caches the contiguous bytes of the segment holding `pos`
 * (from buffer offset `seg_off`, `seg_len` long), so that headers are read
 * in place; it is refilled when the cursor leaves it. The cursor is valid
 * while the buffer is unchanged: re-initialise it after a drain, a move or
 * an append. */
struct relay_cursor {
	size_t pos;
	const uint8_t *seg;
	size_t seg_off, seg_len;
};

/* Puts the cursor at the start of its buffer. */
static inline void relay_cursor_init(struct relay_cursor *cur)
{
	cur->pos = 0;
	cur->seg = NULL;
	cur->seg_off = 0;
	cur->seg_len = 0;
}

/* Advances the cursor by n bytes (n must be available). */
static inline void relay_cursor_advance(struct relay_cursor *cur, size_t n)
{
	cur->pos += n;
}

/* relay_peek's path for a header outside the cached segment. */
enum proto_status relay_peek_slow(struct buf *buf, struct relay_cursor *cur,
				  uint8_t *type, uint32_t *len)
    __attribute__((warn_unused_result));

/* Reads the header at the cursor. PROTO_NEED_MORE when fewer than 5 bytes
 * are there, PROTO_BAD when the length is invalid. Inline for the usual
 * case, a header inside the cached segment (several per transaction). */
static inline __attribute__((warn_unused_result)) enum proto_status
relay_peek(struct buf *buf, struct relay_cursor *cur, uint8_t *type,
	   uint32_t *len)
{
	size_t at;

	/* A fresh cursor takes the first segment without a lookup. */
	if (cur->seg == NULL && cur->pos == 0 &&
	    buf_first(buf, &cur->seg, &cur->seg_len))
		cur->seg_off = 0;
	at = cur->pos - cur->seg_off;
	if (cur->seg != NULL && cur->pos >= cur->seg_off &&
	    at + PROTO_HEADER_LEN <= cur->seg_len)
		return proto_header_parse(cur->seg + at, PROTO_HEADER_LEN,
					  RELAY_MAX_MESSAGE, type, len);
	return relay_peek_slow(buf, cur, type, len);
}

/* Copies up to cap bytes of the body of the message at the cursor (after
 * its header) into out; the whole message must be buffered. */
size_t relay_copy_body(struct buf *buf, const struct relay_cursor *cur,
		       uint32_t len, uint8_t *out, size_t cap);

#endif
