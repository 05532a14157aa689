/* The flat byte-array model the byte queue is checked against, shared by
 * the unit test (tests/unit/test_buf.c) and the fuzz target
 * (tests/fuzz/fuzz_buf.c): a queue's bytes as one array. */
#ifndef PITLANE_BUF_MODEL_H
#define PITLANE_BUF_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct model {
	uint8_t *d; /* room for every byte the test adds */
	size_t len;
};

static inline void model_add(struct model *m, const uint8_t *p, size_t n)
{
	memcpy(m->d + m->len, p, n);
	m->len += n;
}

static inline void model_drain(struct model *m, size_t n)
{
	memmove(m->d, m->d + n, m->len - n);
	m->len -= n;
}

#endif
