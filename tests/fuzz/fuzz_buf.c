/* libFuzzer target: the byte queue and the relay's frame access on it. The
 * input is a program of operations on two queues (append, read through
 * reserve/commit, drain, move between them, pullup, copy out, a relay walk
 * of message headers), each checked against a flat array model: after
 * every step both queues must hold exactly the model's bytes, and
 * relay_peek must see the same headers wherever segments split them as
 * proto_header_parse sees in the flat bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/buf_model.h"
#include "buf.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (4 * BUF_BLOCK_DATA) /* most bytes a queue holds here */

static uint8_t store[2][CAP];
static struct model models[2] = {{store[0], 0}, {store[1], 0}};
static uint8_t tmp[CAP];

static void check(const struct buf *b, const struct model *m)
{
	if (buf_len(b) != m->len || buf_copyout(b, 0, tmp, CAP) != m->len ||
	    memcmp(tmp, m->d, m->len) != 0)
		abort();
}

/* The relay's walk over b against the flat model: every header the same,
 * whole messages stepped over, stops where the model needs more. */
static void relay_walk(struct buf *b, const struct model *m)
{
	struct relay_cursor cur;
	size_t off = 0;

	relay_cursor_init(&cur);
	for (;;) {
		uint8_t t1 = 0, t2 = 0;
		uint32_t l1 = 0, l2 = 0;
		enum proto_status s1 = relay_peek(b, &cur, &t1, &l1);
		enum proto_status s2 = proto_header_parse(
		    m->d + off, m->len - off, RELAY_MAX_MESSAGE, &t2, &l2);
		if (s1 != s2 || (s1 == PROTO_OK && (t1 != t2 || l1 != l2)))
			abort();
		if (s1 != PROTO_OK || m->len - off < (size_t)l1 + 1)
			return;
		uint8_t body[8];
		size_t n = relay_copy_body(b, &cur, l1, body, sizeof(body));
		size_t want = l1 - 4 < sizeof(body) ? l1 - 4 : sizeof(body);
		if (n != want || memcmp(body, m->d + off + 5, n) != 0)
			abort();
		relay_cursor_advance(&cur, (size_t)l1 + 1);
		off += (size_t)l1 + 1;
	}
}

/* One operation on queue x (the other is y); returns the bytes used. */
static size_t step(struct buf *q, const uint8_t *p, size_t left)
{
	unsigned op = p[0] % 7, w = p[0] / 7 % 2;
	struct buf *x = &q[w], *y = &q[!w];
	struct model *mx = &models[w], *my = &models[!w];
	size_t n = left >= 3 ? (size_t)p[1] << 8 | p[2] : 0;
	size_t used = left >= 3 ? 3 : left;
	const uint8_t *src = p + used;
	size_t avail = left - used, room;

	switch (op) {
	case 0: /* append input bytes (a message stream, say) */
		n = n % 600 < avail ? n % 600 : avail;
		if (mx->len + n <= CAP && buf_add(x, src, n) == 0) {
			model_add(mx, src, n);
			used += n;
		}
		break;
	case 1: /* a read into the room */
	{
		n = n % 600 < avail ? n % 600 : avail;
		uint8_t *r = buf_reserve(x, 1 + n % 4096, &room);
		if (r == NULL)
			abort();
		if (n > room || mx->len + n > CAP)
			n = 0;
		memcpy(r, src, n);
		if (buf_commit(x, n) != 0)
			abort();
		model_add(mx, src, n);
		used += n;
		break;
	}
	case 2:
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		buf_drain(x, n);
		model_drain(mx, n);
		break;
	case 3:
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		if (my->len + n <= CAP) {
			if (buf_move(y, x, n) != 0)
				abort();
			model_add(my, mx->d, n);
			model_drain(mx, n);
		}
		break;
	case 4: {
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		uint8_t *r = buf_pullup(x, n);
		if (r == NULL || memcmp(r, mx->d, n) != 0)
			abort();
		break;
	}
	case 5:
		if (mx->len > 0) {
			size_t off = n % mx->len;
			uint8_t out[64];
			size_t k = buf_copyout(x, off, out, sizeof(out));
			size_t want = mx->len - off < 64 ? mx->len - off : 64;
			if (k != want || memcmp(out, mx->d + off, k) != 0)
				abort();
		}
		break;
	default:
		relay_walk(x, mx);
		break;
	}
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf q[2];

	buf_init(&q[0]);
	buf_init(&q[1]);
	models[0].len = models[1].len = 0;
	for (size_t off = 0; off < size;) {
		off += step(q, data + off, size - off);
		check(&q[0], &models[0]);
		check(&q[1], &models[1]);
	}
	relay_walk(&q[0], &models[0]);
	buf_clear(&q[0]);
	buf_clear(&q[1]);
	buf_release_cache();
	return 0;
}
