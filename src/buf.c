/* The byte queue: a list of segments, each a range of a reference-counted
 * block. Only the segment that ends where its block's written bytes end
 * may grow into the block's free space, so two queues sharing a block
 * (after a move split a segment) never write over each other's bytes. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_BLOCK_SIZE	(BUF_BLOCK_DATA + 16u) /* malloc size of a block */
#define BUF_BLOCKS_KEPT 64   /* free standard blocks kept for reuse */
#define BUF_SEGS_KEPT	1024 /* free segments kept for reuse */
#define BUF_PRINTF_MAX	4096 /* formatted text added at once */

struct buf_block {
	uint32_t refs; /* segments over the block */
	uint32_t cap;  /* usable bytes */
	uint32_t used; /* bytes written from the start */
	uint32_t pad;
	uint8_t data[];
};
_Static_assert(sizeof(struct buf_block) == BUF_BLOCK_SIZE - BUF_BLOCK_DATA,
	       "a standard block is BUF_BLOCK_SIZE bytes in all");

/* Free standard blocks (linked through their first bytes) and free
 * segments, most recently used first: reused while still in cache. */
static void *buf_blocks;
static unsigned buf_nblocks;
static struct buf_seg *buf_segs;
static unsigned buf_nsegs;

/* The block buf_reserve handed out, NULL when the room is the tail's. */
static struct buf_block *buf_pending;

/* A block with at least need usable bytes, no references; NULL when out
 * of memory. */
static struct buf_block *buf_block_get(size_t need)
{
	struct buf_block *blk;

	if (need > BUF_BLOCK_DATA) {
		if (need > UINT32_MAX)
			return NULL;
		blk = malloc(sizeof(*blk) + need);
		if (blk != NULL)
			blk->cap = (uint32_t)need;
	} else if (buf_blocks != NULL) {
		blk = buf_blocks;
		memcpy(&buf_blocks, blk, sizeof(void *));
		buf_nblocks--;
		blk->cap = BUF_BLOCK_DATA;
	} else {
		blk = malloc(BUF_BLOCK_SIZE);
		if (blk != NULL)
			blk->cap = BUF_BLOCK_DATA;
	}
	if (blk != NULL) {
		blk->refs = 0;
		blk->used = 0;
	}
	return blk;
}

/* A block no segment refers to: kept when standard and the list has
 * room. */
static void buf_block_put(struct buf_block *blk)
{
	if (blk->cap != BUF_BLOCK_DATA || buf_nblocks >= BUF_BLOCKS_KEPT) {
		free(blk);
		return;
	}
	memcpy(blk, &buf_blocks, sizeof(void *));
	buf_blocks = blk;
	buf_nblocks++;
}

static struct buf_seg *buf_seg_get(void)
{
	struct buf_seg *s = buf_segs;

	if (s == NULL)
		return malloc(sizeof(*s));
	buf_segs = s->next;
	buf_nsegs--;
	return s;
}

/* Returns a segment and drops its reference on its block. */
static void buf_seg_put(struct buf_seg *s)
{
	if (--s->blk->refs == 0)
		buf_block_put(s->blk);
	if (buf_nsegs >= BUF_SEGS_KEPT) {
		free(s);
		return;
	}
	s->next = buf_segs;
	buf_segs = s;
	buf_nsegs++;
}

/* Fills a fresh segment over len bytes at p of blk (one more reference). */
static void buf_seg_set(struct buf_seg *s, struct buf_block *blk, uint8_t *p,
			size_t len)
{
	s->next = NULL;
	s->blk = blk;
	s->p = p;
	s->len = len;
	blk->refs++;
}

/* Links the segments first..last (already chained) at the end of b. */
static void buf_link(struct buf *b, struct buf_seg *first, struct buf_seg *last,
		     size_t len)
{
	last->next = NULL;
	if (b->tail != NULL)
		b->tail->next = first;
	else
		b->head = first;
	b->tail = last;
	b->len += len;
}

/* Free bytes after b's last segment that it may grow into. */
static size_t buf_tail_room(const struct buf *b)
{
	const struct buf_seg *t = b->tail;

	if (t == NULL || t->p + t->len != t->blk->data + t->blk->used)
		return 0;
	return t->blk->cap - t->blk->used;
}

/* Grows the last segment by n bytes written into its room. */
static void buf_tail_grow(struct buf *b, size_t n)
{
	b->tail->len += n;
	b->tail->blk->used += (uint32_t)n;
	b->len += n;
}

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

struct buf *buf_new(void)
{
	struct buf *b = malloc(sizeof(*b));

	if (b != NULL)
		buf_init(b);
	return b;
}

/* Takes n (at most the length) bytes from the front. */
static void buf_take(struct buf *b, size_t n)
{
	b->len -= n;
	while (n > 0) {
		struct buf_seg *s = b->head;
		if (s->len > n) {
			s->p += n;
			s->len -= n;
			break;
		}
		n -= s->len;
		b->head = s->next;
		buf_seg_put(s);
	}
	if (b->head == NULL)
		b->tail = NULL;
}

void buf_clear(struct buf *b)
{
	buf_take(b, b->len);
}

void buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	buf_clear(b);
	free(b);
}

/* Tells the owner that bytes left the front. */
static void buf_consumed(struct buf *b)
{
	if (b->consumed != NULL)
		b->consumed(b->consumed_arg);
}

void buf_drain(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n == 0)
		return;
	buf_take(b, n);
	buf_consumed(b);
}

/* Segments over fresh standard blocks for n bytes, chained; NULL (and
 * nothing held) when out of memory. *last gets the final one. */
static struct buf_seg *buf_fresh(size_t n, struct buf_seg **last)
{
	struct buf_seg *first = NULL, *prev = NULL;

	while (n > 0) {
		struct buf_block *blk = buf_block_get(BUF_BLOCK_DATA);
		struct buf_seg *s = blk != NULL ? buf_seg_get() : NULL;
		if (s == NULL) {
			if (blk != NULL)
				buf_block_put(blk);
			while (first != NULL) {
				struct buf_seg *next = first->next;
				buf_seg_put(first);
				first = next;
			}
			return NULL;
		}
		size_t k = n < blk->cap ? n : blk->cap;
		buf_seg_set(s, blk, blk->data, k);
		blk->used = (uint32_t)k;
		if (prev != NULL)
			prev->next = s;
		else
			first = s;
		prev = s;
		n -= k;
	}
	*last = prev;
	return first;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	const uint8_t *src = data;
	size_t room = buf_tail_room(b);
	size_t k = n < room ? n : room;
	struct buf_seg *first = NULL, *last = NULL;

	if (n > k && (first = buf_fresh(n - k, &last)) == NULL)
		return -1;
	if (k > 0) {
		memcpy(b->tail->p + b->tail->len, src, k);
		buf_tail_grow(b, k);
	}
	if (first == NULL)
		return 0;
	size_t len = n - k;
	for (struct buf_seg *s = first; s != NULL; s = s->next) {
		memcpy(s->p, src + k, s->len);
		k += s->len;
	}
	buf_link(b, first, last, len);
	return 0;
}

int buf_add_printf(struct buf *b, const char *fmt, ...)
{
	char text[BUF_PRINTF_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(text)) {
		char *big = malloc((size_t)n + 1);
		int rc;
		if (big == NULL)
			return -1;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		rc = buf_add(b, big, (size_t)n);
		free(big);
		return rc;
	}
	return buf_add(b, text, (size_t)n);
}

size_t buf_copyout(const struct buf *b, size_t off, void *out, size_t n)
{
	uint8_t *dst = out;
	size_t done = 0;

	for (const struct buf_seg *s = b->head; s != NULL && done < n;
	     s = s->next) {
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t k = s->len - off < n - done ? s->len - off : n - done;
		memcpy(dst + done, s->p + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t buf_remove(struct buf *b, void *out, size_t n)
{
	size_t k = buf_copyout(b, 0, out, n);

	buf_drain(b, k);
	return k;
}

uint8_t *buf_pullup(struct buf *b, size_t n)
{
	static uint8_t empty[1];
	struct buf_block *blk;
	struct buf_seg *s;

	if (n > b->len)
		return NULL;
	if (n == 0)
		return b->head != NULL ? b->head->p : empty;
	if (b->head->len >= n)
		return b->head->p;
	blk = buf_block_get(n);
	s = blk != NULL ? buf_seg_get() : NULL;
	if (s == NULL) {
		if (blk != NULL)
			buf_block_put(blk); /* frees a big one */
		return NULL;
	}
	buf_copyout(b, 0, blk->data, n);
	blk->used = (uint32_t)n;
	buf_take(b, n);
	buf_seg_set(s, blk, blk->data, n);
	s->next = b->head;
	b->head = s;
	if (b->tail == NULL)
		b->tail = s;
	b->len += n;
	return s->p;
}

int buf_peek(const struct buf *b, size_t n, struct iovec *v, int max)
{
	int k = 0;

	for (const struct buf_seg *s = b->head; s != NULL && n > 0 && k < max;
	     s = s->next) {
		v[k].iov_base = s->p;
		v[k].iov_len = s->len < n ? s->len : n;
		n -= v[k].iov_len;
		k++;
	}
	return k;
}

bool buf_locate(const struct buf *b, size_t off, const uint8_t **p,
		size_t *avail)
{
	for (const struct buf_seg *s = b->head; s != NULL; s = s->next) {
		if (off < s->len) {
			*p = s->p + off;
			*avail = s->len - off;
			return true;
		}
		off -= s->len;
	}
	return false;
}

int buf_move(struct buf *dst, struct buf *src, size_t n)
{
	struct buf_seg *s = src->head, *last = NULL, *split = NULL;
	size_t left;

	if (n > src->len)
		n = src->len;
	if (n == 0)
		return 0;
	for (left = n; s->len <= left; s = s->next) {
		left -= s->len;
		last = s;
		if (left == 0)
			break;
	}
	if (left > 0) {
		/* n ends inside s: its first part goes as a new segment over
		 * the same block. */
		split = buf_seg_get();
		if (split == NULL)
			return -1;
		buf_seg_set(split, s->blk, s->p, left);
		s->p += left;
		s->len -= left;
	}
	if (last != NULL) {
		struct buf_seg *first = src->head;
		src->head = last->next;
		if (src->head == NULL)
			src->tail = NULL;
		buf_link(dst, first, last, 0);
	}
	if (split != NULL)
		buf_link(dst, split, split, 0);
	src->len -= n;
	dst->len += n;
	buf_consumed(src);
	return 0;
}

uint8_t *buf_reserve(struct buf *b, size_t min, size_t *room)
{
	size_t r = buf_tail_room(b);

	buf_pending = NULL;
	if (r > 0 && r >= min) {
		*room = r;
		return b->tail->p + b->tail->len;
	}
	buf_pending = buf_block_get(min);
	if (buf_pending == NULL)
		return NULL;
	*room = buf_pending->cap;
	return buf_pending->data;
}

int buf_commit(struct buf *b, size_t n)
{
	struct buf_block *blk = buf_pending;
	struct buf_seg *s;

	buf_pending = NULL;
	if (blk == NULL) {
		if (n > 0)
			buf_tail_grow(b, n);
		return 0;
	}
	if (n == 0) {
		buf_block_put(blk);
		return 0;
	}
	s = buf_seg_get();
	if (s == NULL) {
		buf_block_put(blk);
		return -1;
	}
	buf_seg_set(s, blk, blk->data, n);
	blk->used = (uint32_t)n;
	buf_link(b, s, s, n);
	return 0;
}

void buf_release_cache(void)
{
	while (buf_blocks != NULL) {
		void *next;
		memcpy(&next, buf_blocks, sizeof(void *));
		free(buf_blocks);
		buf_blocks = next;
	}
	buf_nblocks = 0;
	while (buf_segs != NULL) {
		struct buf_seg *next = buf_segs->next;
		free(buf_segs);
		buf_segs = next;
	}
	buf_nsegs = 0;
}
