/* Unit tests for the byte queue: each operation on its own, and a long
 * random sequence of operations on two queues checked byte for byte
 * against a plain array model after every step (moves that split
 * segments, reads into a shared block's room, pullups across segments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "buf_model.h"

/* The queue's bytes, gathered with buf_copyout from offset 0. */
static size_t contents(const struct buf *b, uint8_t *out, size_t cap)
{
	return buf_copyout(b, 0, out, cap);
}

static void test_add_drain(void **state)
{
	struct buf b;
	uint8_t out[16];

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_add(&b, "hello", 5), 0);
	assert_int_equal(buf_add(&b, " world", 6), 0);
	assert_int_equal(buf_len(&b), 11);
	assert_int_equal(contents(&b, out, sizeof(out)), 11);
	assert_memory_equal(out, "hello world", 11);
	buf_drain(&b, 6);
	assert_int_equal(buf_len(&b), 5);
	assert_int_equal(buf_remove(&b, out, sizeof(out)), 5);
	assert_memory_equal(out, "world", 5);
	assert_int_equal(buf_len(&b), 0);
	buf_drain(&b, 3); /* nothing there: no effect */
	assert_int_equal(buf_len(&b), 0);
	buf_clear(&b);
}

static void test_large_add_spans_blocks(void **state)
{
	size_t n = 3 * BUF_BLOCK_DATA + 77;
	uint8_t *in = malloc(n), *out = malloc(n);
	struct buf b;
	struct iovec v[8];

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	buf_init(&b);
	assert_int_equal(buf_add(&b, in, n), 0);
	assert_int_equal(buf_peek(&b, SIZE_MAX, v, 8), 4);
	assert_int_equal(contents(&b, out, n), n);
	assert_memory_equal(in, out, n);
	/* A pullup across blocks makes the whole range contiguous. */
	uint8_t *p = buf_pullup(&b, n - 10);
	assert_non_null(p);
	assert_memory_equal(p, in, n - 10);
	assert_int_equal(buf_len(&b), n);
	assert_null(buf_pullup(&b, n + 1));
	buf_clear(&b);
	free(in);
	free(out);
}

static void test_printf(void **state)
{
	struct buf b;
	char out[8192];
	char big[6000];

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_add_printf(&b, "%s=%d;", "x", 42), 0);
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_add_printf(&b, "%s", big), 0);
	assert_int_equal(buf_len(&b), 5 + sizeof(big) - 1);
	contents(&b, (uint8_t *)out, sizeof(out));
	assert_memory_equal(out, "x=42;qqq", 8);
	buf_clear(&b);
}

static int consumed_calls;
static void count_consumed(void *arg)
{
	(void)arg;
	consumed_calls++;
}

static void test_move_splits_and_reports(void **state)
{
	struct buf a, b;
	uint8_t out[32];
	const uint8_t *p;
	size_t avail;

	(void)state;
	buf_init(&a);
	buf_init(&b);
	a.consumed = count_consumed;
	consumed_calls = 0;
	buf_add(&a, "0123456789", 10);
	assert_int_equal(buf_move(&b, &a, 4), 0);
	assert_int_equal(consumed_calls, 1);
	assert_int_equal(buf_len(&a), 6);
	assert_int_equal(buf_len(&b), 4);
	/* a's segment still ends at the block's written end: it grows in
	 * place; b's (the split-off front) must not write over it. */
	buf_add(&a, "AB", 2);
	buf_add(&b, "xy", 2);
	assert_int_equal(contents(&a, out, sizeof(out)), 8);
	assert_memory_equal(out, "456789AB", 8);
	assert_int_equal(contents(&b, out, sizeof(out)), 6);
	assert_memory_equal(out, "0123xy", 6);
	assert_true(buf_locate(&b, 5, &p, &avail));
	assert_int_equal(*p, 'y');
	assert_false(buf_locate(&b, 6, &p, &avail));
	/* Moving everything relinks whole segments. */
	assert_int_equal(buf_move(&b, &a, 8), 0);
	assert_int_equal(buf_len(&a), 0);
	assert_int_equal(contents(&b, out, sizeof(out)), 14);
	assert_memory_equal(out, "0123xy456789AB", 14);
	buf_clear(&a);
	buf_clear(&b);
}

static void test_reserve_commit(void **state)
{
	struct buf b;
	size_t room;
	uint8_t *w, out[16];

	(void)state;
	buf_init(&b);
	w = buf_reserve(&b, 1, &room);
	assert_non_null(w);
	assert_true(room >= BUF_BLOCK_DATA);
	assert_int_equal(buf_commit(&b, 0), 0); /* a read that got nothing */
	assert_int_equal(buf_len(&b), 0);
	w = buf_reserve(&b, 1, &room);
	memcpy(w, "abc", 3);
	assert_int_equal(buf_commit(&b, 3), 0);
	/* The next read lands in the same block's room. */
	uint8_t *w2 = buf_reserve(&b, 1, &room);
	assert_ptr_equal(w2, w + 3);
	memcpy(w2, "de", 2);
	buf_commit(&b, 2);
	/* Asking for more than the room left takes a new block. */
	uint8_t *w3 = buf_reserve(&b, BUF_BLOCK_DATA, &room);
	assert_true(w3 != w2 + 2);
	memcpy(w3, "f", 1);
	buf_commit(&b, 1);
	assert_int_equal(contents(&b, out, sizeof(out)), 6);
	assert_memory_equal(out, "abcdef", 6);
	struct iovec v[4];
	assert_int_equal(buf_peek(&b, SIZE_MAX, v, 4), 2);
	assert_int_equal(buf_peek(&b, 4, v, 4), 1);
	assert_int_equal(v[0].iov_len, 4);
	buf_clear(&b);
}

/* The random sequence: two queues and their models (buf_model.h). */
static void check(const struct buf *b, const struct model *m, uint8_t *tmp)
{
	assert_int_equal(buf_len(b), m->len);
	assert_int_equal(contents(b, tmp, m->len), m->len);
	assert_memory_equal(tmp, m->d, m->len);
}

/* One random step on queue x (model mx), with y/my as the other side. */
static void random_step(struct buf *x, struct model *mx, struct buf *y,
			struct model *my, uint8_t *src, uint32_t *seed)
{
	size_t cap = 8 * BUF_BLOCK_DATA;
	size_t n = (size_t)rand_r(seed) % (BUF_BLOCK_DATA + 300);

	switch (rand_r(seed) % 6) {
	case 0: /* add */
		if (mx->len + n <= cap) {
			assert_int_equal(buf_add(x, src + (n % 97), n), 0);
			model_add(mx, src + (n % 97), n);
		}
		break;
	case 1: /* read through reserve/commit */
	{
		size_t room;
		uint8_t *w = buf_reserve(x, 1 + n % 2048, &room);
		size_t k = n < room ? n : room;
		assert_non_null(w);
		if (mx->len + k > cap)
			k = 0;
		memcpy(w, src + 3, k);
		assert_int_equal(buf_commit(x, k), 0);
		model_add(mx, src + 3, k);
		break;
	}
	case 2: /* drain */
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		buf_drain(x, n);
		model_drain(mx, n);
		break;
	case 3: /* move to the other queue */
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		if (my->len + n <= cap) {
			assert_int_equal(buf_move(y, x, n), 0);
			model_add(my, mx->d, n);
			model_drain(mx, n);
		}
		break;
	case 4: /* pullup */
		n = mx->len == 0 ? 0 : n % (mx->len + 1);
		uint8_t *p = buf_pullup(x, n);
		assert_non_null(p);
		assert_memory_equal(p, mx->d, n);
		break;
	default: /* copyout from an offset */
		if (mx->len > 0) {
			uint8_t tmp[64];
			size_t off = n % mx->len;
			size_t k = buf_copyout(x, off, tmp, sizeof(tmp));
			size_t want = mx->len - off < 64 ? mx->len - off : 64;
			assert_int_equal(k, want);
			assert_memory_equal(tmp, mx->d + off, k);
		}
		break;
	}
}

static void test_random_against_model(void **state)
{
	size_t cap = 8 * BUF_BLOCK_DATA;
	struct model ma = {malloc(cap), 0}, mb = {malloc(cap), 0};
	uint8_t *src = malloc(BUF_BLOCK_DATA + 400), *tmp = malloc(cap);
	struct buf a, b;
	uint32_t seed = 12345;

	(void)state;
	assert_non_null(ma.d);
	assert_non_null(mb.d);
	assert_non_null(src);
	assert_non_null(tmp);
	for (size_t i = 0; i < BUF_BLOCK_DATA + 400; i++)
		src[i] = (uint8_t)(i * 31 + (i >> 8));
	buf_init(&a);
	buf_init(&b);
	for (int i = 0; i < 20000; i++) {
		if (rand_r(&seed) % 2)
			random_step(&a, &ma, &b, &mb, src, &seed);
		else
			random_step(&b, &mb, &a, &ma, src, &seed);
		check(&a, &ma, tmp);
		check(&b, &mb, tmp);
	}
	buf_clear(&a);
	buf_clear(&b);
	buf_release_cache();
	free(ma.d);
	free(mb.d);
	free(src);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_drain),
	    cmocka_unit_test(test_large_add_spans_blocks),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_move_splits_and_reports),
	    cmocka_unit_test(test_reserve_commit),
	    cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
