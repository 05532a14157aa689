/* PostgreSQL v3 wire codec: reads message headers and the few message bodies
 * pitlane must understand, and writes the messages pitlane originates. Pure:
 * works on byte arrays, records offsets instead of pointers, allocates
 * nothing, never does I/O. */
#ifndef PITLANE_PROTO_H
#define PITLANE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_HEADER_LEN  5	/* type byte + int32 length */
#define PROTO_STARTUP_MAX 10000 /* largest startup packet accepted */
#define PROTO_MAX_PARAMS  64	/* startup parameters kept per client */

#define PROTO_CODE_V3	  196608   /* 3 << 16: protocol 3.0 */
#define PROTO_CODE_CANCEL 80877102 /* 1234 << 16 | 5678 */
#define PROTO_CODE_SSL	  80877103 /* 1234 << 16 | 5679 */
#define PROTO_CODE_GSSENC 80877104 /* 1234 << 16 | 5680 */

enum proto_status {
	PROTO_OK,
	PROTO_NEED_MORE, /* the bytes so far are a valid prefix */
	PROTO_BAD,	 /* malformed: the connection cannot continue */
};

/* The big-endian int32 at p. */
static inline uint32_t proto_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads a message header from buf (len bytes available). On PROTO_OK sets
 * *type and *msg_len (the length field: it counts itself, so the whole
 * message is 1 + *msg_len bytes). PROTO_BAD when the length is below 4 or
 * above max_len. Inline: the relay reads several headers a transaction. */
static inline __attribute__((warn_unused_result)) enum proto_status
proto_header_parse(const uint8_t *buf, size_t len, uint32_t max_len,
		   uint8_t *type, uint32_t *msg_len)
{
	uint32_t n;

	if (len < PROTO_HEADER_LEN)
		return PROTO_NEED_MORE;
	n = proto_get_u32(buf + 1);
	if (n < 4 || n > max_len)
		return PROTO_BAD;
	*type = buf[0];
	*msg_len = n;
	return PROTO_OK;
}

/* Reads the int32 length that opens a startup-phase packet. PROTO_BAD when
 * below 8 or above PROTO_STARTUP_MAX. */
enum proto_status proto_startup_length(const uint8_t *buf, size_t len,
				       uint32_t *pkt_len)
    __attribute__((warn_unused_result));

enum proto_startup_kind {
	PROTO_STARTUP,	  /* a StartupMessage of some protocol version */
	PROTO_SSL_REQ,	  /* SSLRequest */
	PROTO_GSSENC_REQ, /* GSSENCRequest */
	PROTO_CANCEL_REQ, /* CancelRequest */
};

struct proto_kv {
	uint16_t key; /* offset of the NUL-terminated name in the packet */
	uint16_t val; /* offset of the NUL-terminated value */
};

struct proto_startup {
	enum proto_startup_kind kind;
	uint16_t major, minor; /* PROTO_STARTUP only */
	uint32_t cancel_pid;   /* PROTO_CANCEL_REQ only */
	uint32_t cancel_key;   /* PROTO_CANCEL_REQ only */
	unsigned nparams;      /* parameters, `_pq_.` options included */
	struct proto_kv params[PROTO_MAX_PARAMS];
};

/* Parses a whole startup-phase packet of pkt_len bytes (its length field
 * included). Parameters are read only for major version 3. PROTO_BAD, with
 * *err set to a static message fit for a client, when the packet is
 * malformed: wrong length for its kind, a missing terminator, more than
 * PROTO_MAX_PARAMS parameters, a parameter without a value. */
enum proto_status proto_startup_parse(const uint8_t *pkt, uint32_t pkt_len,
				      struct proto_startup *out,
				      const char **err)
    __attribute__((warn_unused_result));

/* The value of startup parameter `key`, or NULL. */
const char *proto_startup_get(const uint8_t *pkt, const struct proto_startup *s,
			      const char *key);

/* Reads a ParameterStatus body (after the header): offsets of the name and
 * value within body. PROTO_BAD when either string is unterminated. */
enum proto_status proto_parameter_status_parse(const uint8_t *body, size_t len,
					       size_t *name_off,
					       size_t *value_off)
    __attribute__((warn_unused_result));

/* Finds field `code` (e.g. 'C' SQLSTATE, 'M' message, 'S' severity) in an
 * ErrorResponse or NoticeResponse body; its offset in body, or -1. */
long proto_error_field(const uint8_t *body, size_t len, uint8_t code);

/* Message writer over a caller-owned buffer. Overflow is sticky: once a put
 * does not fit, every later put is ignored and `overflow` stays true, so a
 * caller checks once at the end. */
struct proto_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t msg_start; /* offset of the message being written */
	bool overflow;
};

void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap);
void proto_begin(struct proto_writer *w, uint8_t type);
void proto_put_u8(struct proto_writer *w, uint8_t v);
void proto_put_u32(struct proto_writer *w, uint32_t v);
void proto_put_str(struct proto_writer *w, const char *s); /* with its NUL */
void proto_put_bytes(struct proto_writer *w, const void *p, size_t n);
void proto_end(struct proto_writer *w); /* patches the length field */

/* Whole messages. */
void proto_write_error(struct proto_writer *w, const char *severity,
		       const char *sqlstate, const char *message,
		       const char *detail); /* detail may be NULL */
void proto_write_auth_ok(struct proto_writer *w);
void proto_write_parameter_status(struct proto_writer *w, const char *name,
				  const char *value);
void proto_write_backend_key(struct proto_writer *w, uint32_t pid,
			     uint32_t key);
void proto_write_ready(struct proto_writer *w, uint8_t status);
/* NegotiateProtocolVersion: newest minor version supported and the names of
 * the options not recognised. */
void proto_write_negotiate(struct proto_writer *w, uint32_t minor,
			   const char *const *options, unsigned noptions);
void proto_write_query(struct proto_writer *w, const char *sql);
void proto_write_terminate(struct proto_writer *w);

#endif
