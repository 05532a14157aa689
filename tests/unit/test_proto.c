/* Unit tests for the wire codec: every message is fed at every prefix length,
 * malformed input is refused, and writer output is compared byte for byte
 * and parsed back. Tables hold the cases; each failure names its row. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* A byte-string literal with its length, embedded NULs included. Split a
 * literal after a hex escape ("\x05" "abc"): hex escapes are greedy. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

#define MAX_MSG (1u << 20)

/* Fails the test with the row name when cond is false. */
#define CHECK(row, cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("%s: check failed: %s", (row), #cond);        \
	} while (0)

/* A heap copy of exactly n bytes, so ASan catches any read past the end. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* What a reader does with a regular message: the header, then the body. */
static enum proto_status frame(const uint8_t *buf, size_t len, uint8_t *type,
			       uint32_t *msg_len)
{
	enum proto_status st =
	    proto_header_parse(buf, len, MAX_MSG, type, msg_len);

	if (st == PROTO_OK && len < 1 + (size_t)*msg_len)
		return PROTO_NEED_MORE;
	return st;
}

/* The same for a startup-phase packet: its length, then the whole packet. */
static enum proto_status frame_startup(const uint8_t *buf, size_t len,
				       struct proto_startup *s,
				       const char **err)
{
	uint32_t pkt_len;
	enum proto_status st = proto_startup_length(buf, len, &pkt_len);

	if (st != PROTO_OK)
		return st;
	if (len < pkt_len)
		return PROTO_NEED_MORE;
	return proto_startup_parse(buf, pkt_len, s, err);
}

/* Feeds msg at every prefix length: NEED_MORE until whole, then OK. */
static void check_message_prefixes(const char *row, const uint8_t *msg,
				   size_t n)
{
	uint8_t type;
	uint32_t msg_len;

	for (size_t k = 0; k <= n; k++) {
		uint8_t *c = exact_copy(msg, k);
		enum proto_status st = frame(c, k, &type, &msg_len);

		free(c);
		if (st != (k < n ? PROTO_NEED_MORE : PROTO_OK))
			fail_msg("%s: prefix %zu of %zu: status %d", row, k, n,
				 st);
	}
	CHECK(row, type == msg[0]);
	CHECK(row, 1 + (size_t)msg_len == n);
}

/* ---- message headers ---- */

static void test_header_prefixes(void **state)
{
	static const struct {
		const char *row;
		const uint8_t *msg;
		size_t n;
	} cases[] = {
	    {"ReadyForQuery", B("Z\0\0\0\x05"
				"I")},
	    {"Terminate", B("X\0\0\0\x04")},
	    {"Query", B("Q\0\0\0\x0d"
			"select 1\0")},
	    {"CommandComplete", B("C\0\0\0\x0d"
				  "SELECT 1\0")},
	    {"DataRow binary", B("D\0\0\0\x0e"
				 "\0\x01\0\0\0\x04"
				 "ab\0d")},
	    {"ParameterStatus", B("S\0\0\0\x11"
				  "TimeZone\0UTC\0")},
	    {"ErrorResponse", B("E\0\0\0\x1d"
				"SERROR\0VERROR\0C42P01\0Mx\0\0")},
	    {"AuthenticationOk", B("R\0\0\0\x08"
				   "\0\0\0\0")},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_message_prefixes(cases[i].row, cases[i].msg, cases[i].n);
}

static void test_header_lengths(void **state)
{
	static const struct {
		uint32_t field, max;
		enum proto_status want;
	} cases[] = {
	    {0, MAX_MSG, PROTO_BAD},
	    {3, MAX_MSG, PROTO_BAD},
	    {4, MAX_MSG, PROTO_OK},
	    {1000, 1000, PROTO_OK},
	    {1001, 1000, PROTO_BAD},
	    {0x80000000u, MAX_MSG, PROTO_BAD},
	    {0xffffffffu, 0xfffffffeu, PROTO_BAD},
	    {0xffffffffu, 0xffffffffu, PROTO_OK},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t hdr[PROTO_HEADER_LEN] = {'D'};
		uint8_t type = 0;
		uint32_t len = 0;

		put_be32(hdr + 1, cases[i].field);
		enum proto_status st = proto_header_parse(
		    hdr, sizeof(hdr), cases[i].max, &type, &len);
		if (st != cases[i].want)
			fail_msg("length %u max %u: status %d, want %d",
				 cases[i].field, cases[i].max, st,
				 cases[i].want);
		if (st == PROTO_OK) {
			assert_int_equal(type, 'D');
			assert_int_equal(len, cases[i].field);
		}
	}
}

/* ---- startup packets ---- */

/* A startup packet: length, code, payload; heap-allocated to its exact size. */
static uint8_t *startup_new(uint32_t code, const uint8_t *payload, size_t n,
			    uint32_t *pkt_len)
{
	uint8_t *p = malloc(8 + n);

	assert_non_null(p);
	*pkt_len = (uint32_t)(8 + n);
	put_be32(p, *pkt_len);
	put_be32(p + 4, code);
	if (n)
		memcpy(p + 8, payload, n);
	return p;
}

static void test_startup_length_bounds(void **state)
{
	static const struct {
		uint32_t field;
		enum proto_status want;
	} cases[] = {
	    {0, PROTO_BAD},	      {4, PROTO_BAD},
	    {7, PROTO_BAD},	      {8, PROTO_OK},
	    {10000, PROTO_OK},	      {10001, PROTO_BAD},
	    {0x80000000u, PROTO_BAD}, {0xffffffffu, PROTO_BAD},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[4];
		uint32_t len = 0;

		put_be32(buf, cases[i].field);
		enum proto_status st = proto_startup_length(buf, 4, &len);
		if (st != cases[i].want)
			fail_msg("length %u: status %d, want %d",
				 cases[i].field, st, cases[i].want);
		if (st == PROTO_OK)
			assert_int_equal(len, cases[i].field);
	}
}

#define V3_2 (PROTO_CODE_V3 | 2)

static const struct startup_case {
	const char *row;
	uint32_t code;
	const uint8_t *payload;
	size_t n;
	enum proto_startup_kind kind;
	uint16_t major, minor;
	unsigned nparams;
	const char *user, *database; /* expected lookups; NULL: absent */
	uint32_t pid, key;
} startup_cases[] = {
    {"v3 user+database", PROTO_CODE_V3, B("user\0alice\0database\0db1\0\0"),
     PROTO_STARTUP, 3, 0, 2, "alice", "db1", 0, 0},
    {"v3 options and _pq_", PROTO_CODE_V3,
     B("user\0bob\0options\0-c x=1\0_pq_.foo\0bar\0\0"), PROTO_STARTUP, 3, 0, 3,
     "bob", NULL, 0, 0},
    {"v3 empty value", PROTO_CODE_V3, B("user\0bob\0database\0\0\0"),
     PROTO_STARTUP, 3, 0, 2, "bob", "", 0, 0},
    {"v3 no parameters", PROTO_CODE_V3, B("\0"), PROTO_STARTUP, 3, 0, 0, NULL,
     NULL, 0, 0},
    {"v3.2", V3_2, B("user\0x\0\0"), PROTO_STARTUP, 3, 2, 1, "x", NULL, 0, 0},
    {"v2 not parsed", 2u << 16, B("whatever"), PROTO_STARTUP, 2, 0, 0, NULL,
     NULL, 0, 0},
    {"v4 not parsed", 4u << 16, B(""), PROTO_STARTUP, 4, 0, 0, NULL, NULL, 0,
     0},
    {"SSLRequest", PROTO_CODE_SSL, B(""), PROTO_SSL_REQ, 0, 0, 0, NULL, NULL, 0,
     0},
    {"GSSENCRequest", PROTO_CODE_GSSENC, B(""), PROTO_GSSENC_REQ, 0, 0, 0, NULL,
     NULL, 0, 0},
    {"CancelRequest", PROTO_CODE_CANCEL,
     B("\0\0\x30\x39"
       "\xde\xad\xbe\xef"),
     PROTO_CANCEL_REQ, 0, 0, 0, NULL, NULL, 12345, 0xdeadbeefu},
};

static void check_startup_result(const struct startup_case *c,
				 const uint8_t *pkt,
				 const struct proto_startup *s)
{
	const char *user = proto_startup_get(pkt, s, "user");
	const char *db = proto_startup_get(pkt, s, "database");

	CHECK(c->row, s->kind == c->kind);
	CHECK(c->row, s->major == c->major && s->minor == c->minor);
	CHECK(c->row, s->nparams == c->nparams);
	CHECK(c->row, s->cancel_pid == c->pid && s->cancel_key == c->key);
	CHECK(c->row, c->user ? user && !strcmp(user, c->user) : !user);
	CHECK(c->row, c->database ? db && !strcmp(db, c->database) : !db);
	CHECK(c->row, !proto_startup_get(pkt, s, "nonexistent"));
	if (c->user) /* a value is never taken for a key */
		CHECK(c->row, !proto_startup_get(pkt, s, c->user));
}

static void test_startup_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(startup_cases) / sizeof(*startup_cases);
	     i++) {
		const struct startup_case *c = &startup_cases[i];
		uint32_t n;
		uint8_t *pkt = startup_new(c->code, c->payload, c->n, &n);

		for (size_t k = 0; k <= n; k++) {
			uint8_t *p = exact_copy(pkt, k);
			struct proto_startup s;
			const char *err = NULL;
			enum proto_status st = frame_startup(p, k, &s, &err);

			if (st != (k < n ? PROTO_NEED_MORE : PROTO_OK))
				fail_msg("%s: prefix %zu of %u: status %d (%s)",
					 c->row, k, n, st, err ? err : "");
			if (k == n)
				check_startup_result(c, p, &s);
			free(p);
		}
		free(pkt);
	}
}

#define LEN  "invalid length"
#define LAST "expected terminator as last byte"

static void test_startup_malformed(void **state)
{
	static const struct {
		const char *row;
		uint32_t code;
		const uint8_t *payload;
		size_t n;
		const char *err; /* a part of the expected message */
	} cases[] = {
	    {"SSLRequest too long", PROTO_CODE_SSL, B("\0\0\0\0"), LEN},
	    {"GSSENCRequest too long", PROTO_CODE_GSSENC, B("\0\0\0\0"), LEN},
	    {"CancelRequest too short", PROTO_CODE_CANCEL, B("\0\0\0\x01"),
	     LEN},
	    {"CancelRequest too long", PROTO_CODE_CANCEL,
	     B("\0\0\0\x01\0\0\0\x02\0\0\0\x03"), LEN},
	    {"v3 empty", PROTO_CODE_V3, B(""), LAST},
	    {"unterminated name", PROTO_CODE_V3, B("user"), "parameter name"},
	    {"name without value", PROTO_CODE_V3, B("user\0"), "without value"},
	    {"unterminated value", PROTO_CODE_V3, B("user\0bob"),
	     "parameter value"},
	    {"missing terminator", PROTO_CODE_V3, B("user\0bob\0"), LAST},
	    {"bytes after terminator", PROTO_CODE_V3, B("user\0bob\0\0x"),
	     LAST},
	    {"two terminators", PROTO_CODE_V3, B("user\0bob\0\0\0"), LAST},
	    {"v3.2 missing terminator", V3_2, B("user\0bob\0"), LAST},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t n;
		uint8_t *pkt = startup_new(cases[i].code, cases[i].payload,
					   cases[i].n, &n);
		struct proto_startup s;
		const char *err = NULL;

		CHECK(cases[i].row,
		      frame_startup(pkt, n, &s, &err) == PROTO_BAD);
		CHECK(cases[i].row, err && strstr(err, cases[i].err));
		free(pkt);
	}
}

/* A v3 StartupMessage of nparams "kI\0v\0" pairs; returns its length. */
static uint32_t build_many_params(uint8_t *buf, size_t cap, unsigned nparams)
{
	size_t off = 8;

	for (unsigned i = 0; i < nparams; i++) {
		off += (size_t)snprintf((char *)buf + off, cap - off, "k%u", i);
		off++;
		off += (size_t)snprintf((char *)buf + off, cap - off, "v");
		off++;
	}
	buf[off++] = 0;
	put_be32(buf, (uint32_t)off);
	put_be32(buf + 4, PROTO_CODE_V3);
	return (uint32_t)off;
}

static void test_startup_param_limit(void **state)
{
	uint8_t buf[1024];
	struct proto_startup s;
	const char *err = NULL;
	uint32_t n;
	(void)state;

	n = build_many_params(buf, sizeof(buf), PROTO_MAX_PARAMS);
	assert_int_equal(frame_startup(buf, n, &s, &err), PROTO_OK);
	assert_int_equal(s.nparams, PROTO_MAX_PARAMS);
	assert_string_equal(proto_startup_get(buf, &s, "k63"), "v");

	n = build_many_params(buf, sizeof(buf), PROTO_MAX_PARAMS + 1);
	assert_int_equal(frame_startup(buf, n, &s, &err), PROTO_BAD);
	assert_non_null(strstr(err, "too many"));
}

/* proto_startup_parse checks pkt_len itself too, not only through framing. */
static void test_startup_parse_bad_pkt_len(void **state)
{
	static const uint32_t lens[] = {0, 7, PROTO_STARTUP_MAX + 1};
	uint8_t buf[8] = {0, 0, 0, 8, 0, 3, 0, 0};
	(void)state;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct proto_startup s;
		const char *err = NULL;

		assert_int_equal(proto_startup_parse(buf, lens[i], &s, &err),
				 PROTO_BAD);
		assert_non_null(err);
	}
}

/* ---- message bodies ---- */

static void test_parameter_status(void **state)
{
	static const struct {
		const char *row;
		const uint8_t *body;
		size_t n;
		const char *name, *value; /* NULL name: expect PROTO_BAD */
	} cases[] = {
	    {"TimeZone", B("TimeZone\0UTC\0"), "TimeZone", "UTC"},
	    {"empty value", B("application_name\0\0"), "application_name", ""},
	    {"empty both", B("\0\0"), "", ""},
	    {"empty body", B(""), NULL, NULL},
	    {"unterminated name", B("abc"), NULL, NULL},
	    {"unterminated value", B("abc\0def"), NULL, NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = exact_copy(cases[i].body, cases[i].n);
		size_t name = 99, value = 99;
		enum proto_status st =
		    proto_parameter_status_parse(b, cases[i].n, &name, &value);

		if (!cases[i].name) {
			CHECK(cases[i].row, st == PROTO_BAD);
		} else {
			CHECK(cases[i].row, st == PROTO_OK);
			CHECK(cases[i].row,
			      !strcmp((char *)b + name, cases[i].name));
			CHECK(cases[i].row,
			      !strcmp((char *)b + value, cases[i].value));
		}
		free(b);
	}
}

/* A body cut short is never accepted: the caller passes whole bodies only. */
static void test_parameter_status_prefixes(void **state)
{
	static const uint8_t body[] = "client_encoding\0UTF8"; /* + final NUL */
	size_t name, value;
	(void)state;

	for (size_t k = 0; k < sizeof(body); k++) {
		uint8_t *b = exact_copy(body, k);

		if (proto_parameter_status_parse(b, k, &name, &value) !=
		    PROTO_BAD)
			fail_msg("prefix %zu accepted", k);
		free(b);
	}
	assert_int_equal(
	    proto_parameter_status_parse(body, sizeof(body), &name, &value),
	    PROTO_OK);
}

static void test_error_field(void **state)
{
	static const uint8_t body[] =
	    "SERROR\0VERROR\0C42P01\0"
	    "Mrelation \"t\" does not exist\0"; /* + NUL */
	static const struct {
		uint8_t code;
		const char *want; /* NULL: absent */
	} cases[] = {
	    {'S', "ERROR"}, {'V', "ERROR"},
	    {'C', "42P01"}, {'M', "relation \"t\" does not exist"},
	    {'D', NULL},    {'H', NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long off = proto_error_field(body, sizeof(body), cases[i].code);

		if (!cases[i].want) {
			assert_int_equal(off, -1);
			continue;
		}
		assert_true(off > 0);
		assert_string_equal((const char *)body + off, cases[i].want);
	}
	/* Fields after the list terminator do not count. */
	assert_int_equal(proto_error_field(B("\0C42P01\0"), 'C'), -1);
	assert_int_equal(proto_error_field(B(""), 'C'), -1);
}

/* Every prefix: a field is reported only when its string ends within len. */
static void test_error_field_prefixes(void **state)
{
	static const uint8_t body[] = "SFATAL\0C28P01\0Mpassword failed\0";
	static const uint8_t codes[] = {'S', 'C', 'M'};
	(void)state;

	for (size_t k = 0; k <= sizeof(body); k++) {
		uint8_t *b = exact_copy(body, k);

		for (size_t i = 0; i < sizeof(codes); i++) {
			long off = proto_error_field(b, k, codes[i]);

			if (off >= 0 && !memchr(b + off, 0, k - (size_t)off))
				fail_msg("prefix %zu: field %c unterminated", k,
					 codes[i]);
			if (k == sizeof(body) && off < 0)
				fail_msg("field %c not found", codes[i]);
		}
		free(b);
	}
}

/* ---- writer ---- */

static void w_auth_ok(struct proto_writer *w)
{
	proto_write_auth_ok(w);
}

static void w_parameter_status(struct proto_writer *w)
{
	proto_write_parameter_status(w, "client_encoding", "UTF8");
}

static void w_backend_key(struct proto_writer *w)
{
	proto_write_backend_key(w, 12345, 0xdeadbeefu);
}

static void w_ready(struct proto_writer *w)
{
	proto_write_ready(w, 'T');
}

static void w_query(struct proto_writer *w)
{
	proto_write_query(w, "select 1");
}

static void w_terminate(struct proto_writer *w)
{
	proto_write_terminate(w);
}

static void w_negotiate(struct proto_writer *w)
{
	static const char *const opts[] = {"_pq_.a", "_pq_.bb"};

	proto_write_negotiate(w, 0, opts, 2);
}

static void w_negotiate_none(struct proto_writer *w)
{
	proto_write_negotiate(w, 2, NULL, 0);
}

static void w_error(struct proto_writer *w)
{
	proto_write_error(w, "FATAL", "08P01", "bad", NULL);
}

static void w_error_detail(struct proto_writer *w)
{
	proto_write_error(w, "ERROR", "53300", "too many", "pool full");
}

static const struct write_case {
	const char *row;
	void (*write)(struct proto_writer *w);
	const uint8_t *want;
	size_t n;
} write_cases[] = {
    {"AuthenticationOk", w_auth_ok,
     B("R\0\0\0\x08"
       "\0\0\0\0")},
    {"ParameterStatus", w_parameter_status,
     B("S\0\0\0\x19"
       "client_encoding\0UTF8\0")},
    {"BackendKeyData", w_backend_key,
     B("K\0\0\0\x0c"
       "\0\0\x30\x39"
       "\xde\xad\xbe\xef")},
    {"ReadyForQuery", w_ready,
     B("Z\0\0\0\x05"
       "T")},
    {"Query", w_query,
     B("Q\0\0\0\x0d"
       "select 1\0")},
    {"Terminate", w_terminate, B("X\0\0\0\x04")},
    {"NegotiateProtocolVersion", w_negotiate,
     B("v\0\0\0\x1b"
       "\0\0\0\0"
       "\0\0\0\x02"
       "_pq_.a\0_pq_.bb\0")},
    {"NegotiateProtocolVersion no options", w_negotiate_none,
     B("v\0\0\0\x0c"
       "\0\0\0\x02"
       "\0\0\0\0")},
    {"ErrorResponse", w_error,
     B("E\0\0\0\x1f"
       "SFATAL\0VFATAL\0C08P01\0Mbad\0\0")},
    {"ErrorResponse with detail", w_error_detail,
     B("E\0\0\0\x2f"
       "SERROR\0VERROR\0C53300\0Mtoo many\0Dpool full\0\0")},
};

/* Each builder's exact bytes, which then parse back at every prefix. */
static void test_writer_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(write_cases) / sizeof(*write_cases);
	     i++) {
		const struct write_case *c = &write_cases[i];
		uint8_t buf[256];
		struct proto_writer w;

		proto_writer_init(&w, buf, sizeof(buf));
		c->write(&w);
		CHECK(c->row, !w.overflow);
		CHECK(c->row, w.len == c->n);
		CHECK(c->row, memcmp(buf, c->want, c->n) == 0);
		check_message_prefixes(c->row, buf, w.len);
	}
}

static void test_writer_error_fields(void **state)
{
	static const struct {
		const char *sev, *code, *msg, *detail;
	} cases[] = {
	    {"FATAL", "53300", "too many clients", NULL},
	    {"ERROR", "08P01", "protocol violation", "unexpected message"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[256], type;
		uint32_t msg_len;
		struct proto_writer w;

		proto_writer_init(&w, buf, sizeof(buf));
		proto_write_error(&w, cases[i].sev, cases[i].code, cases[i].msg,
				  cases[i].detail);
		assert_false(w.overflow);
		assert_int_equal(frame(buf, w.len, &type, &msg_len), PROTO_OK);
		assert_int_equal(type, 'E');

		const uint8_t *body = buf + PROTO_HEADER_LEN;
		size_t n = msg_len - 4;
		long c = proto_error_field(body, n, 'C');
		long m = proto_error_field(body, n, 'M');
		long d = proto_error_field(body, n, 'D');

		assert_int_equal(body[n - 1], 0);
		assert_true(c > 0 && m > 0);
		assert_string_equal((const char *)body + c, cases[i].code);
		assert_string_equal((const char *)body + m, cases[i].msg);
		if (cases[i].detail)
			assert_string_equal((const char *)body + d,
					    cases[i].detail);
		else
			assert_int_equal(d, -1);
	}
}

/* Several messages in one buffer: each length is patched from its own start. */
static void test_writer_sequence(void **state)
{
	uint8_t buf[256], type;
	uint32_t msg_len;
	struct proto_writer w;
	size_t off = 0;
	(void)state;

	proto_writer_init(&w, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(write_cases) / sizeof(*write_cases); i++)
		write_cases[i].write(&w);
	assert_false(w.overflow);

	for (size_t i = 0; i < sizeof(write_cases) / sizeof(*write_cases);
	     i++) {
		const struct write_case *c = &write_cases[i];

		CHECK(c->row, frame(buf + off, w.len - off, &type, &msg_len) ==
				  PROTO_OK);
		CHECK(c->row, 1 + (size_t)msg_len == c->n);
		CHECK(c->row, memcmp(buf + off, c->want, c->n) == 0);
		off += c->n;
	}
	assert_int_equal(off, w.len);
}

/* Every capacity short of the whole: overflow, and nothing past cap. */
static void test_writer_overflow_every_cap(void **state)
{
	uint8_t full[256], buf[256];
	struct proto_writer w;
	size_t need;
	(void)state;

	proto_writer_init(&w, full, sizeof(full));
	w_error_detail(&w);
	w_parameter_status(&w);
	w_ready(&w);
	assert_false(w.overflow);
	need = w.len;

	for (size_t cap = 0; cap < need; cap++) {
		memset(buf, 0xaa, sizeof(buf));
		proto_writer_init(&w, buf, cap);
		w_error_detail(&w);
		w_parameter_status(&w);
		w_ready(&w);
		if (!w.overflow || w.len > cap)
			fail_msg("cap %zu: overflow %d len %zu", cap,
				 w.overflow, w.len);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != 0xaa)
				fail_msg("cap %zu: byte %zu written", cap, i);
	}
	proto_writer_init(&w, buf, need);
	w_error_detail(&w);
	w_parameter_status(&w);
	w_ready(&w);
	assert_false(w.overflow);
	assert_memory_equal(buf, full, need);
}

/* Once a put does not fit, a later put that would fit is ignored too. */
static void test_writer_overflow_sticky(void **state)
{
	uint8_t buf[8];
	struct proto_writer w;
	(void)state;

	memset(buf, 0xaa, sizeof(buf));
	proto_writer_init(&w, buf, 6);
	proto_begin(&w, 'Z');
	assert_false(w.overflow);
	assert_int_equal(w.len, 5);
	proto_put_u32(&w, 7);
	assert_true(w.overflow);
	proto_put_u8(&w, 'I');
	proto_put_str(&w, "");
	proto_end(&w);
	assert_true(w.overflow);
	assert_int_equal(w.len, 5);
	assert_int_equal(buf[5], 0xaa);
	assert_memory_equal(buf, "Z\0\0\0\0", 5); /* length left unpatched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_prefixes),
	    cmocka_unit_test(test_header_lengths),
	    cmocka_unit_test(test_startup_length_bounds),
	    cmocka_unit_test(test_startup_prefixes),
	    cmocka_unit_test(test_startup_malformed),
	    cmocka_unit_test(test_startup_param_limit),
	    cmocka_unit_test(test_startup_parse_bad_pkt_len),
	    cmocka_unit_test(test_parameter_status),
	    cmocka_unit_test(test_parameter_status_prefixes),
	    cmocka_unit_test(test_error_field),
	    cmocka_unit_test(test_error_field_prefixes),
	    cmocka_unit_test(test_writer_messages),
	    cmocka_unit_test(test_writer_error_fields),
	    cmocka_unit_test(test_writer_sequence),
	    cmocka_unit_test(test_writer_overflow_every_cap),
	    cmocka_unit_test(test_writer_overflow_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
