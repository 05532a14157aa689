/* PostgreSQL v3 wire codec: header and startup parsing, the few bodies pitlane
 * reads, and a bounded writer for the messages it originates. Pure: no I/O,
 * no allocation; parsers return offsets into the caller's bytes. */
#include "proto.h"

#include <assert.h>
#include <string.h>

static void set_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Offset just past the NUL that ends the string at off, or 0 when the string
 * is not terminated before end (0 is never a valid answer: it is past a
 * string of at least one byte). */
static size_t str_end(const uint8_t *buf, size_t off, size_t end)
{
	const uint8_t *nul;

	if (off >= end)
		return 0;
	nul = memchr(buf + off, 0, end - off);
	return nul ? (size_t)(nul - buf) + 1 : 0;
}

enum proto_status proto_startup_length(const uint8_t *buf, size_t len,
				       uint32_t *pkt_len)
{
	uint32_t n;

	if (len < 4)
		return PROTO_NEED_MORE;
	n = proto_get_u32(buf);
	if (n < 8 || n > PROTO_STARTUP_MAX)
		return PROTO_BAD;
	*pkt_len = n;
	return PROTO_OK;
}

/* Reads the name\0value\0...\0 list of a v3 StartupMessage from offset 8.
 * The packet must end exactly at the final terminator, as PostgreSQL's
 * ProcessStartupPacket requires; an empty value is allowed. */
static enum proto_status parse_params(const uint8_t *pkt, uint32_t pkt_len,
				      struct proto_startup *out,
				      const char **err)
{
	size_t off = 8, val, next;

	while (off < pkt_len && pkt[off] != 0) {
		val = str_end(pkt, off, pkt_len);
		if (val == 0) {
			*err = "invalid startup packet layout: unterminated "
			       "parameter name";
			return PROTO_BAD;
		}
		if (val >= pkt_len) {
			*err = "invalid startup packet layout: parameter "
			       "without value";
			return PROTO_BAD;
		}
		next = str_end(pkt, val, pkt_len);
		if (next == 0) {
			*err = "invalid startup packet layout: unterminated "
			       "parameter value";
			return PROTO_BAD;
		}
		if (out->nparams == PROTO_MAX_PARAMS) {
			*err = "too many startup parameters";
			return PROTO_BAD;
		}
		out->params[out->nparams].key = (uint16_t)off;
		out->params[out->nparams].val = (uint16_t)val;
		out->nparams++;
		off = next;
	}
	if (off != (size_t)pkt_len - 1) {
		*err = "invalid startup packet layout: expected terminator as "
		       "last byte";
		return PROTO_BAD;
	}
	return PROTO_OK;
}

/* Checks that a packet has the size its kind requires. */
static enum proto_status expect_len(bool ok, const char **err)
{
	if (ok)
		return PROTO_OK;
	*err = "invalid length of startup packet";
	return PROTO_BAD;
}

enum proto_status proto_startup_parse(const uint8_t *pkt, uint32_t pkt_len,
				      struct proto_startup *out,
				      const char **err)
{
	uint32_t code;

	memset(out, 0, sizeof(*out));
	if (pkt_len < 8 || pkt_len > PROTO_STARTUP_MAX)
		return expect_len(false, err);
	code = proto_get_u32(pkt + 4);
	switch (code) {
	case PROTO_CODE_SSL:
		out->kind = PROTO_SSL_REQ;
		return expect_len(pkt_len == 8, err);
	case PROTO_CODE_GSSENC:
		out->kind = PROTO_GSSENC_REQ;
		return expect_len(pkt_len == 8, err);
	case PROTO_CODE_CANCEL:
		out->kind = PROTO_CANCEL_REQ;
		if (expect_len(pkt_len == 16, err) != PROTO_OK)
			return PROTO_BAD;
		out->cancel_pid = proto_get_u32(pkt + 8);
		out->cancel_key = proto_get_u32(pkt + 12);
		return PROTO_OK;
	}
	out->kind = PROTO_STARTUP;
	out->major = (uint16_t)(code >> 16);
	out->minor = (uint16_t)(code & 0xffff);
	if (out->major != 3)
		return PROTO_OK; /* the caller refuses the version */
	return parse_params(pkt, pkt_len, out, err);
}

const char *proto_startup_get(const uint8_t *pkt, const struct proto_startup *s,
			      const char *key)
{
	for (unsigned i = 0; i < s->nparams; i++) {
		if (strcmp((const char *)pkt + s->params[i].key, key) == 0)
			return (const char *)pkt + s->params[i].val;
	}
	return NULL;
}

enum proto_status proto_parameter_status_parse(const uint8_t *body, size_t len,
					       size_t *name_off,
					       size_t *value_off)
{
	size_t val = str_end(body, 0, len);

	if (val == 0 || str_end(body, val, len) == 0)
		return PROTO_BAD;
	*name_off = 0;
	*value_off = val;
	return PROTO_OK;
}

/* Fields are a code byte and a NUL-terminated string; a 0 code ends the list.
 * A truncated field ends the search, so a returned offset always starts a
 * string terminated within len. */
long proto_error_field(const uint8_t *body, size_t len, uint8_t code)
{
	size_t off = 0, next;

	while (off < len && body[off] != 0) {
		next = str_end(body, off + 1, len);
		if (next == 0)
			return -1;
		if (body[off] == code)
			return (long)off + 1;
		off = next;
	}
	return -1;
}

void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->msg_start = 0;
	w->overflow = false;
}

void proto_put_bytes(struct proto_writer *w, const void *p, size_t n)
{
	if (w->overflow || n == 0)
		return;
	if (n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void proto_put_u8(struct proto_writer *w, uint8_t v)
{
	proto_put_bytes(w, &v, 1);
}

void proto_put_u32(struct proto_writer *w, uint32_t v)
{
	uint8_t b[4];

	set_u32(b, v);
	proto_put_bytes(w, b, sizeof(b));
}

void proto_put_str(struct proto_writer *w, const char *s)
{
	proto_put_bytes(w, s, strlen(s) + 1);
}

/* Writes the type byte and a length placeholder that proto_end patches. */
void proto_begin(struct proto_writer *w, uint8_t type)
{
	w->msg_start = w->len;
	proto_put_u8(w, type);
	proto_put_u32(w, 0);
}

void proto_end(struct proto_writer *w)
{
	if (w->overflow)
		return;
	assert(w->len - w->msg_start >= PROTO_HEADER_LEN);
	set_u32(w->buf + w->msg_start + 1,
		(uint32_t)(w->len - w->msg_start - 1));
}

/* V repeats the severity unlocalized, as servers since 9.6 send it. */
void proto_write_error(struct proto_writer *w, const char *severity,
		       const char *sqlstate, const char *message,
		       const char *detail)
{
	proto_begin(w, 'E');
	proto_put_u8(w, 'S');
	proto_put_str(w, severity);
	proto_put_u8(w, 'V');
	proto_put_str(w, severity);
	proto_put_u8(w, 'C');
	proto_put_str(w, sqlstate);
	proto_put_u8(w, 'M');
	proto_put_str(w, message);
	if (detail) {
		proto_put_u8(w, 'D');
		proto_put_str(w, detail);
	}
	proto_put_u8(w, 0);
	proto_end(w);
}

void proto_write_auth_ok(struct proto_writer *w)
{
	proto_begin(w, 'R');
	proto_put_u32(w, 0);
	proto_end(w);
}

void proto_write_parameter_status(struct proto_writer *w, const char *name,
				  const char *value)
{
	proto_begin(w, 'S');
	proto_put_str(w, name);
	proto_put_str(w, value);
	proto_end(w);
}

void proto_write_backend_key(struct proto_writer *w, uint32_t pid, uint32_t key)
{
	proto_begin(w, 'K');
	proto_put_u32(w, pid);
	proto_put_u32(w, key);
	proto_end(w);
}

void proto_write_ready(struct proto_writer *w, uint8_t status)
{
	proto_begin(w, 'Z');
	proto_put_u8(w, status);
	proto_end(w);
}

void proto_write_negotiate(struct proto_writer *w, uint32_t minor,
			   const char *const *options, unsigned noptions)
{
	proto_begin(w, 'v');
	proto_put_u32(w, minor);
	proto_put_u32(w, noptions);
	for (unsigned i = 0; i < noptions; i++)
		proto_put_str(w, options[i]);
	proto_end(w);
}

void proto_write_query(struct proto_writer *w, const char *sql)
{
	proto_begin(w, 'Q');
	proto_put_str(w, sql);
	proto_end(w);
}

void proto_write_terminate(struct proto_writer *w)
{
	proto_begin(w, 'X');
	proto_end(w);
}
