/* Frame access on evbuffers for the relay: header peeks through an
 * evbuffer_ptr cursor, never a pullup, never a copy of a body that is only
 * passed through. */
#include "relay.h"

void relay_cursor_init(struct relay_cursor *cur, struct evbuffer *buf)
{
	evbuffer_ptr_set(buf, &cur->ptr, 0, EVBUFFER_PTR_SET);
	cur->pos = 0;
}

void relay_cursor_advance(struct relay_cursor *cur, struct evbuffer *buf,
			  size_t n)
{
	cur->pos += n;
	if (cur->pos < evbuffer_get_length(buf))
		evbuffer_ptr_set(buf, &cur->ptr, n, EVBUFFER_PTR_ADD);
}

enum proto_status relay_peek(struct evbuffer *buf,
			     const struct relay_cursor *cur, uint8_t *type,
			     uint32_t *len)
{
	uint8_t hdr[PROTO_HEADER_LEN];

	if (evbuffer_get_length(buf) - cur->pos < PROTO_HEADER_LEN)
		return PROTO_NEED_MORE;
	if (evbuffer_copyout_from(buf, &cur->ptr, hdr, sizeof(hdr)) !=
	    (ev_ssize_t)sizeof(hdr))
		return PROTO_NEED_MORE;
	return proto_header_parse(hdr, sizeof(hdr), RELAY_MAX_MESSAGE, type,
				  len);
}

size_t relay_copy_body(struct evbuffer *buf, const struct relay_cursor *cur,
		       uint32_t len, uint8_t *out, size_t cap)
{
	struct evbuffer_ptr p = cur->ptr;
	size_t n = len - 4 < cap ? len - 4 : cap;

	if (n == 0)
		return 0;
	if (evbuffer_ptr_set(buf, &p, PROTO_HEADER_LEN, EVBUFFER_PTR_ADD) != 0)
		return 0;
	return evbuffer_copyout_from(buf, &p, out, n) == (ev_ssize_t)n ? n : 0;
}
