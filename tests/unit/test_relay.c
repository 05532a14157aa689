/* Unit tests for the relay's frame access on byte queues: the same stream of
 * messages is laid out over one, two and three segments split at every
 * offset, and every header and body must read the same wherever the segment
 * boundaries fall (in place, or copied when a header straddles two). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"

/* Three messages as a backend would send them: RowDescription-like 'T'
 * with a body, an empty-bodied '2', and ReadyForQuery. */
static const uint8_t stream[] = {
    'T', 0,   0, 0, 12, 'a', 'b', 'c', 'd', 'e', 'f', 'g',
    'h', '2', 0, 0, 0,	4,   'Z', 0,   0,   0,	 5,   'I',
};

struct frame {
	uint8_t type;
	uint32_t len;
	const char *body;
};

static const struct frame frames[] = {
    {'T', 12, "abcdefgh"},
    {'2', 4, ""},
    {'Z', 5, "I"},
};

#define NFRAMES (sizeof(frames) / sizeof(frames[0]))

/* Each piece is its own segment (added to a queue of its own and moved
 * over, so that it does not grow into the previous piece's block): every
 * cut is a real segment boundary. */
static void add_piece(struct buf *buf, const uint8_t *p, size_t n)
{
	struct buf piece;

	if (n == 0)
		return;
	buf_init(&piece);
	assert_int_equal(buf_add(&piece, p, n), 0);
	assert_int_equal(buf_move(buf, &piece, n), 0);
}

static struct buf *layout(size_t a, size_t b)
{
	struct buf *buf = buf_new();

	assert_non_null(buf);
	add_piece(buf, stream, a);
	add_piece(buf, stream + a, b - a);
	add_piece(buf, stream + b, sizeof(stream) - b);
	assert_int_equal(buf_len(buf), sizeof(stream));
	return buf;
}

/* Scans every frame of buf and checks type, length and body (whole, and
 * cut short by a small cap). */
static void check_scan(struct buf *buf, size_t a, size_t b)
{
	struct relay_cursor cur;
	uint8_t type;
	uint32_t len;
	uint8_t body[32];

	relay_cursor_init(&cur);
	for (size_t i = 0; i < NFRAMES; i++) {
		size_t blen = strlen(frames[i].body);

		if (relay_peek(buf, &cur, &type, &len) != PROTO_OK)
			fail_msg("cut %zu/%zu: frame %zu not read", a, b, i);
		if (type != frames[i].type || len != frames[i].len)
			fail_msg("cut %zu/%zu: frame %zu read as '%c' %u", a, b,
				 i, type, len);
		assert_int_equal(
		    relay_copy_body(buf, &cur, len, body, sizeof(body)), blen);
		if (memcmp(body, frames[i].body, blen) != 0)
			fail_msg("cut %zu/%zu: frame %zu body differs", a, b,
				 i);
		if (blen > 3) {
			assert_int_equal(
			    relay_copy_body(buf, &cur, len, body, 3), 3);
			assert_memory_equal(body, frames[i].body, 3);
		}
		relay_cursor_advance(&cur, (size_t)len + 1);
	}
	assert_int_equal(cur.pos, sizeof(stream));
	assert_int_equal(relay_peek(buf, &cur, &type, &len), PROTO_NEED_MORE);
}

static void test_every_split(void **state)
{
	(void)state;
	for (size_t a = 0; a <= sizeof(stream); a++) {
		for (size_t b = a; b <= sizeof(stream); b++) {
			struct buf *buf = layout(a, b);

			check_scan(buf, a, b);
			buf_free(buf);
		}
	}
}

/* Fewer than five bytes: not yet a header, whatever the layout; once the
 * rest arrives a fresh cursor reads it. */
static void test_partial_header(void **state)
{
	(void)state;
	for (size_t n = 0; n < 5; n++) {
		struct buf *buf = buf_new();
		struct relay_cursor cur;
		uint8_t type;
		uint32_t len;

		assert_non_null(buf);
		for (size_t i = 0; i < n; i++)
			add_piece(buf, stream + i, 1);
		relay_cursor_init(&cur);
		assert_int_equal(relay_peek(buf, &cur, &type, &len),
				 PROTO_NEED_MORE);
		add_piece(buf, stream + n, sizeof(stream) - n);
		relay_cursor_init(&cur);
		assert_int_equal(relay_peek(buf, &cur, &type, &len), PROTO_OK);
		assert_int_equal(type, 'T');
		assert_int_equal(len, 12);
		buf_free(buf);
	}
}

/* A length below 4 cannot be: refused from the header, in place and when
 * the header straddles two segments. */
static void test_bad_length(void **state)
{
	static const uint8_t bad[] = {'D', 0, 0, 0, 3};

	(void)state;
	for (size_t cut = 0; cut <= sizeof(bad); cut++) {
		struct buf *buf = buf_new();
		struct relay_cursor cur;
		uint8_t type;
		uint32_t len;

		assert_non_null(buf);
		add_piece(buf, bad, cut);
		add_piece(buf, bad + cut, sizeof(bad) - cut);
		relay_cursor_init(&cur);
		assert_int_equal(relay_peek(buf, &cur, &type, &len), PROTO_BAD);
		buf_free(buf);
	}
}

/* Segments filled by copying, as buf_add makes them. */
static void test_copied_chains(void **state)
{
	struct buf *buf = buf_new();

	(void)state;
	assert_non_null(buf);
	assert_int_equal(buf_add(buf, stream, 7), 0);
	assert_int_equal(buf_add(buf, stream + 7, sizeof(stream) - 7), 0);
	check_scan(buf, 7, 7);
	buf_free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_partial_header),
	    cmocka_unit_test(test_bad_length),
	    cmocka_unit_test(test_copied_chains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
