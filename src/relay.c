/* Frame access on byte queues for the relay: headers are read in place in
 * the segment that holds them (a copy only when one straddles two),
 * never a pullup, never a copy of a body that is only passed through. */
#include "relay.h"

#include <stdbool.h>
#include <string.h>

/* Whether the cached segment holds the n bytes at off. */
static bool relay_seg_has(const struct relay_cursor *cur, size_t off, size_t n)
{
	return cur->seg != NULL && off >= cur->seg_off &&
	       off - cur->seg_off + n <= cur->seg_len;
}

/* Caches the segment that holds the byte at the cursor (which must be
 * buffered). */
static void relay_seg_load(struct relay_cursor *cur, const struct buf *buf)
{
	size_t avail;

	if (!buf_locate(buf, cur->pos, &cur->seg, &avail)) {
		cur->seg = NULL;
		return;
	}
	cur->seg_off = cur->pos;
	cur->seg_len = avail;
}

/* Copies n buffered bytes from offset off, in place when one segment
 * holds them. */
static bool relay_copyout(const struct buf *buf, const struct relay_cursor *cur,
			  size_t off, uint8_t *out, size_t n)
{
	if (relay_seg_has(cur, off, n)) {
		memcpy(out, cur->seg + (off - cur->seg_off), n);
		return true;
	}
	return buf_copyout(buf, off, out, n) == n;
}

enum proto_status relay_peek_slow(struct buf *buf, struct relay_cursor *cur,
				  uint8_t *type, uint32_t *len)
{
	uint8_t hdr[PROTO_HEADER_LEN];

	/* relay_peek found the header outside the cached segment. */
	if (buf_len(buf) - cur->pos < PROTO_HEADER_LEN)
		return PROTO_NEED_MORE;
	if (!relay_seg_has(cur, cur->pos, 1))
		relay_seg_load(cur, buf);
	if (relay_seg_has(cur, cur->pos, PROTO_HEADER_LEN))
		return proto_header_parse(cur->seg + (cur->pos - cur->seg_off),
					  PROTO_HEADER_LEN, RELAY_MAX_MESSAGE,
					  type, len);
	if (!relay_copyout(buf, cur, cur->pos, hdr, sizeof(hdr)))
		return PROTO_NEED_MORE;
	return proto_header_parse(hdr, sizeof(hdr), RELAY_MAX_MESSAGE, type,
				  len);
}

size_t relay_copy_body(struct buf *buf, const struct relay_cursor *cur,
		       uint32_t len, uint8_t *out, size_t cap)
{
	size_t n = len - 4 < cap ? len - 4 : cap;

	if (n == 0)
		return 0;
	return relay_copyout(buf, cur, cur->pos + PROTO_HEADER_LEN, out, n) ? n
									    : 0;
}
