/* handoff: a session encodes and decodes to the same values; every
 * truncation and a trailing byte are refused; hostile counts allocate
 * nothing past the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "handoff.h"

static const uint8_t body[] = "SELECT $1::int\0\0\0";

/* A session with every field set, encoded into b. */
static void encode_sample(struct handoff_buf *b)
{
	struct handoff_session s = {
	    .key_pid = 0x12345678,
	    .key_secret = 0x9abcdef0,
	    .connect_wall_s = 1700000000123LL,
	    .port = 54321,
	    .family = 2,
	    .unix_socket = false,
	    .user = "alice",
	    .db = "pitlane",
	    .addr = "127.0.0.1:54321",
	    .ip = "127.0.0.1",
	    .auth_method = "scram-sha-256",
	};
	struct params want = {0}, startup = {0};

	s.peer[0] = 127, s.peer[3] = 1;
	assert_true(params_set(&want, "application_name", "bench"));
	assert_true(params_set(&want, "search_path", "a, b"));
	assert_true(params_set(&startup, "application_name", ""));
	handoff_begin(b, &s);
	handoff_put_params(b, &want);
	handoff_put_params(b, &startup);
	handoff_put_stmt_count(b, 2);
	handoff_put_stmt(b, "s1", body, sizeof(body), 15);
	handoff_put_stmt(b, "", body, 15, 15);
	handoff_end(b, (const uint8_t *)"Q\0\0\0\x0dSELECT 1\0", 14);
	params_clear(&want);
	params_clear(&startup);
	assert_false(b->failed);
}

static void test_round_trip(void **state)
{
	struct handoff_buf b = {0};
	struct handoff_session s;

	(void)state;
	encode_sample(&b);
	assert_true(handoff_decode(b.p, b.len, &s));
	assert_int_equal(s.key_pid, 0x12345678);
	assert_int_equal(s.key_secret, 0x9abcdef0);
	assert_true(s.connect_wall_s == 1700000000123LL);
	assert_int_equal(s.port, 54321);
	assert_int_equal(s.family, 2);
	assert_int_equal(s.peer[0], 127);
	assert_int_equal(s.peer[3], 1);
	assert_string_equal(s.user, "alice");
	assert_string_equal(s.db, "pitlane");
	assert_string_equal(s.addr, "127.0.0.1:54321");
	assert_string_equal(s.ip, "127.0.0.1");
	assert_string_equal(s.auth_method, "scram-sha-256");
	assert_string_equal(params_get(&s.want, "search_path"), "a, b");
	assert_string_equal(params_get(&s.want, "application_name"), "bench");
	assert_string_equal(params_get(&s.startup, "application_name"), "");
	assert_int_equal(s.nstmts, 2);
	assert_string_equal(s.stmts[0].name, "s1");
	assert_int_equal(s.stmts[0].body_len, sizeof(body));
	assert_memory_equal(s.stmts[0].body, body, sizeof(body));
	assert_int_equal(s.stmts[0].parse_len, 15);
	assert_string_equal(s.stmts[1].name, "");
	assert_int_equal(s.pending_len, 14);
	assert_memory_equal(s.pending, "Q\0\0\0\x0dSELECT 1\0", 14);
	handoff_session_clear(&s);
	handoff_buf_free(&b);
}

/* Every proper prefix is refused, and so is one byte too many. */
static void test_truncated_and_trailing(void **state)
{
	struct handoff_buf b = {0};
	struct handoff_session s;

	(void)state;
	encode_sample(&b);
	for (size_t n = 0; n < b.len; n++)
		assert_false(handoff_decode(b.p, n, &s));
	handoff_put_byte(&b, 0);
	assert_false(handoff_decode(b.p, b.len, &s));
	handoff_buf_free(&b);
}

/* A statement whose Parse part is longer than its body, a string without
 * its NUL, and a huge statement count are refused. */
static void test_bad_fields(void **state)
{
	struct handoff_buf b = {0};
	struct handoff_session s = {.user = "u"};
	struct params none = {0};

	(void)state;
	handoff_begin(&b, &s);
	handoff_put_params(&b, &none);
	handoff_put_params(&b, &none);
	handoff_put_stmt_count(&b, 1);
	handoff_put_stmt(&b, "x", body, 4, 5);
	handoff_end(&b, NULL, 0);
	assert_false(handoff_decode(b.p, b.len, &s));
	handoff_buf_free(&b);

	handoff_begin(&b, &s);
	handoff_put_params(&b, &none);
	handoff_put_params(&b, &none);
	handoff_put_stmt_count(&b, 60000);
	handoff_end(&b, NULL, 0);
	assert_false(handoff_decode(b.p, b.len, &s));
	/* the user string's NUL (offset 41 + 2 + 1) made non-zero */
	b.p[4 * 5 + 1 + 16 + 1 + 2 + 1] = 'x';
	assert_false(handoff_decode(b.p, b.len, &s));
	handoff_buf_free(&b);
}

/* An encoding past HANDOFF_MAX fails instead of growing on. */
static void test_too_big(void **state)
{
	struct handoff_buf b = {0};
	uint8_t *big = calloc(1, HANDOFF_MAX);

	(void)state;
	assert_non_null(big);
	handoff_end(&b, big, HANDOFF_MAX);
	assert_true(b.failed);
	handoff_buf_free(&b);
	free(big);
}

/* A server record: the same values back; every prefix, a trailing byte
 * and an unknown flag are refused. */
static void test_server_round_trip(void **state)
{
	struct handoff_server s = {
	    .pid = 4242,
	    .secret = 0xdeadbeef,
	    .age_ms = 5000000001LL,
	    .unix_socket = true,
	    .alias = "appdb",
	    .user = "app",
	};
	struct handoff_server d;
	struct handoff_buf b = {0};

	(void)state;
	assert_true(params_set(&s.params, "server_version", "16.4"));
	assert_true(params_set(&s.params, "TimeZone", "UTC"));
	handoff_put_server(&b, &s);
	assert_false(b.failed);
	assert_true(handoff_decode_server(b.p, b.len, &d));
	assert_int_equal(d.pid, 4242);
	assert_int_equal(d.secret, 0xdeadbeef);
	assert_true(d.age_ms == 5000000001LL);
	assert_true(d.unix_socket);
	assert_string_equal(d.alias, "appdb");
	assert_string_equal(d.user, "app");
	assert_string_equal(params_get(&d.params, "server_version"), "16.4");
	assert_string_equal(params_get(&d.params, "TimeZone"), "UTC");
	handoff_server_clear(&d);
	for (size_t n = 0; n < b.len; n++)
		assert_false(handoff_decode_server(b.p, n, &d));
	b.p[16] = 3; /* flags: an undefined bit */
	assert_false(handoff_decode_server(b.p, b.len, &d));
	b.p[16] = 1;
	handoff_put_byte(&b, 0);
	assert_false(handoff_decode_server(b.p, b.len, &d));
	params_clear(&s.params);
	handoff_buf_free(&b);
}

/* A negative age (a server from the future) is refused. */
static void test_server_bad_age(void **state)
{
	struct handoff_server s = {.age_ms = -1, .alias = "a", .user = "u"};
	struct handoff_server d;
	struct handoff_buf b = {0};

	(void)state;
	handoff_put_server(&b, &s);
	assert_false(handoff_decode_server(b.p, b.len, &d));
	handoff_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_truncated_and_trailing),
	    cmocka_unit_test(test_bad_fields),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_server_round_trip),
	    cmocka_unit_test(test_server_bad_age),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
