/* Encoding of a handed-over session: big-endian integers; strings as a
 * 16-bit length, the bytes and a NUL (so the decoder can point into the
 * buffer); blobs as a 32-bit length and the bytes. Every length is checked
 * against what is left before it is used. */
#include "handoff.h"

#include <stdlib.h>
#include <string.h>

/* Writing. */

static void put(struct handoff_buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (n > HANDOFF_MAX - b->len) {
		b->failed = true;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (q == NULL) {
			b->failed = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void handoff_put_byte(struct handoff_buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_u32(struct handoff_buf *b, uint32_t v)
{
	uint8_t x[4] = {v >> 24, v >> 16, v >> 8, v};

	put(b, x, 4);
}

static void put_i64(struct handoff_buf *b, int64_t v)
{
	put_u32(b, (uint32_t)((uint64_t)v >> 32));
	put_u32(b, (uint32_t)v);
}

static void put_u16(struct handoff_buf *b, uint16_t v)
{
	uint8_t x[2] = {v >> 8, v};

	put(b, x, 2);
}

static void put_str(struct handoff_buf *b, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > UINT16_MAX) {
		b->failed = true;
		return;
	}
	put_u16(b, (uint16_t)n);
	put(b, s != NULL ? s : "", n);
	put(b, "", 1);
}

void handoff_begin(struct handoff_buf *b, const struct handoff_session *s)
{
	uint8_t flags = s->unix_socket ? 1 : 0;

	put_u32(b, s->key_pid);
	put_u32(b, s->key_secret);
	put_i64(b, s->connect_wall_s);
	put_u32(b, (uint32_t)s->port);
	put(b, &s->family, 1);
	put(b, s->peer, sizeof(s->peer));
	put(b, &flags, 1);
	put_str(b, s->user);
	put_str(b, s->db);
	put_str(b, s->addr);
	put_str(b, s->ip);
	put_str(b, s->auth_method);
}

void handoff_put_params(struct handoff_buf *b, const struct params *p)
{
	put_u16(b, (uint16_t)p->n);
	for (unsigned i = 0; i < p->n; i++) {
		put_str(b, p->name[i]);
		put_str(b, p->value[i]);
	}
}

void handoff_put_stmt_count(struct handoff_buf *b, unsigned n)
{
	if (n > HANDOFF_STMTS_MAX)
		b->failed = true;
	put_u16(b, (uint16_t)n);
}

void handoff_put_stmt(struct handoff_buf *b, const char *name,
		      const uint8_t *body, uint32_t body_len,
		      uint32_t parse_len)
{
	put_str(b, name);
	put_u32(b, parse_len);
	put_u32(b, body_len);
	put(b, body, body_len);
}

void handoff_end(struct handoff_buf *b, const uint8_t *pending,
		 uint32_t pending_len)
{
	put_u32(b, pending_len);
	put(b, pending, pending_len);
}

void handoff_buf_free(struct handoff_buf *b)
{
	free(b->p);
	*b = (struct handoff_buf){0};
}

/* Reading: a cursor that fails for good at the first short or bad field. */

struct cur {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint32_t get_u32(struct cur *c)
{
	const uint8_t *x = take(c, 4);

	return x == NULL ? 0
			 : (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 |
			       (uint32_t)x[2] << 8 | x[3];
}

static int64_t get_i64(struct cur *c)
{
	uint64_t hi = get_u32(c);

	return (int64_t)(hi << 32 | get_u32(c));
}

static uint16_t get_u16(struct cur *c)
{
	const uint8_t *x = take(c, 2);

	return x == NULL ? 0 : (uint16_t)(x[0] << 8 | x[1]);
}

/* A string in place: its length, bytes without NUL, then the NUL. */
static const char *get_str(struct cur *c)
{
	uint16_t n = get_u16(c);
	const uint8_t *s = take(c, (size_t)n + 1);

	if (s == NULL || s[n] != 0 || memchr(s, 0, n) != NULL) {
		c->bad = true;
		return NULL;
	}
	return (const char *)s;
}

static void get_fixed_str(struct cur *c, char *out)
{
	const char *s = get_str(c);

	if (s == NULL || strlen(s) >= HANDOFF_STR_MAX) {
		c->bad = true;
		out[0] = '\0';
		return;
	}
	strcpy(out, s);
}

static void get_params(struct cur *c, struct params *p)
{
	unsigned n = get_u16(c);

	for (unsigned i = 0; i < n && !c->bad; i++) {
		const char *name = get_str(c);
		const char *value = get_str(c);
		if (!c->bad && (name[0] == '\0' || !params_set(p, name, value)))
			c->bad = true;
	}
}

static void get_stmts(struct cur *c, struct handoff_session *s)
{
	unsigned n = get_u16(c);

	if (c->bad || n == 0)
		return;
	/* Each entry takes at least 12 bytes: no allocation past the input. */
	if ((size_t)n * 12 > c->left) {
		c->bad = true;
		return;
	}
	s->stmts = calloc(n, sizeof(*s->stmts));
	if (s->stmts == NULL) {
		c->bad = true;
		return;
	}
	for (unsigned i = 0; i < n && !c->bad; i++) {
		struct handoff_stmt *st = &s->stmts[i];
		st->name = get_str(c);
		st->parse_len = get_u32(c);
		st->body_len = get_u32(c);
		st->body = take(c, st->body_len);
		if (!c->bad && st->parse_len > st->body_len)
			c->bad = true;
		s->nstmts = i + 1;
	}
}

bool handoff_decode(const uint8_t *buf, size_t len, struct handoff_session *s)
{
	struct cur c = {.p = buf, .left = len};
	const uint8_t *x;

	memset(s, 0, sizeof(*s));
	if (len > HANDOFF_MAX)
		return false;
	s->key_pid = get_u32(&c);
	s->key_secret = get_u32(&c);
	s->connect_wall_s = get_i64(&c);
	s->port = (int32_t)get_u32(&c);
	x = take(&c, 1);
	s->family = x != NULL ? x[0] : 0;
	x = take(&c, sizeof(s->peer));
	if (x != NULL)
		memcpy(s->peer, x, sizeof(s->peer));
	x = take(&c, 1);
	s->unix_socket = x != NULL && (x[0] & 1);
	get_fixed_str(&c, s->user);
	get_fixed_str(&c, s->db);
	get_fixed_str(&c, s->addr);
	get_fixed_str(&c, s->ip);
	get_fixed_str(&c, s->auth_method);
	get_params(&c, &s->want);
	get_params(&c, &s->startup);
	get_stmts(&c, s);
	s->pending_len = get_u32(&c);
	s->pending = take(&c, s->pending_len);
	if (!c.bad && c.left != 0)
		c.bad = true; /* trailing bytes: not what was sent */
	if (c.bad) {
		handoff_session_clear(s);
		return false;
	}
	return true;
}

void handoff_session_clear(struct handoff_session *s)
{
	params_clear(&s->want);
	params_clear(&s->startup);
	free(s->stmts);
	memset(s, 0, sizeof(*s));
}

/* Server records: pid, secret, age (two halves), flags, alias, user, the
 * parameter set. */

void handoff_put_server(struct handoff_buf *b, const struct handoff_server *s)
{
	uint8_t flags = s->unix_socket ? 1 : 0;

	put_u32(b, s->pid);
	put_u32(b, s->secret);
	put_i64(b, s->age_ms);
	put(b, &flags, 1);
	put_str(b, s->alias);
	put_str(b, s->user);
	handoff_put_params(b, &s->params);
}

bool handoff_decode_server(const uint8_t *buf, size_t len,
			   struct handoff_server *s)
{
	struct cur c = {.p = buf, .left = len};
	const uint8_t *x;

	memset(s, 0, sizeof(*s));
	if (len > HANDOFF_MAX)
		return false;
	s->pid = get_u32(&c);
	s->secret = get_u32(&c);
	s->age_ms = get_i64(&c);
	x = take(&c, 1);
	if (x != NULL && (x[0] & ~1u) != 0)
		c.bad = true; /* flags not defined */
	s->unix_socket = x != NULL && (x[0] & 1);
	get_fixed_str(&c, s->alias);
	get_fixed_str(&c, s->user);
	get_params(&c, &s->params);
	if (!c.bad && (s->age_ms < 0 || c.left != 0))
		c.bad = true;
	if (c.bad) {
		handoff_server_clear(s);
		return false;
	}
	return true;
}

void handoff_server_clear(struct handoff_server *s)
{
	params_clear(&s->params);
	memset(s, 0, sizeof(*s));
}
