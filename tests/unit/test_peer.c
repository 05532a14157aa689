/* Unit tests for peers: the peer id in the cancel secret (every id, the
 * forwarded bit, the random bits kept), the [peers] list as found and as
 * checked, with each kind of malformed entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "peer.h"

static void test_key_layout(void **state)
{
	(void)state;
	for (unsigned id = 1; id <= PEER_ID_MAX; id++) {
		uint32_t s = peer_key_secret(id, 0xffffffffu);

		assert_int_equal(peer_key_id(s), id);
		assert_false(peer_key_forwarded(s));
		assert_true(peer_key_forwarded(s | PEER_KEY_FORWARDED));
		assert_int_equal(peer_key_id(s | PEER_KEY_FORWARDED), id);
		assert_int_equal(peer_key_plain(s | PEER_KEY_FORWARDED), s);
	}
	/* 17 random bits survive; id 0 leaves the secret alone. */
	assert_int_equal(peer_key_secret(5, 0x0001ffffu) & 0x3ffffu, 0x1ffffu);
	assert_int_equal(peer_key_secret(5, 0x00020000u) & 0x3ffffu, 0);
	assert_int_equal(peer_key_secret(0, 0xdeadbeefu), 0xdeadbeefu);
}

static void test_find(void **state)
{
	const char *list = "1 = host=/run/p1 port=6432; 2 = host=10.0.0.2;"
			   "  17=host=db.example port=7000  ";
	struct peer_addr a;

	(void)state;
	assert_true(peer_find(list, 1, &a));
	assert_string_equal(a.host, "/run/p1");
	assert_int_equal(a.port, 6432);
	assert_true(peer_find(list, 2, &a));
	assert_string_equal(a.host, "10.0.0.2");
	assert_int_equal(a.port, PEER_DEFAULT_PORT);
	assert_true(peer_find(list, 17, &a));
	assert_string_equal(a.host, "db.example");
	assert_int_equal(a.port, 7000);
	assert_false(peer_find(list, 3, &a));
	assert_false(peer_find(NULL, 1, &a));
}

static void test_check(void **state)
{
	static const struct {
		const char *list;
		unsigned self;
		const char *err; /* NULL: valid */
	} cases[] = {
	    {NULL, 0, NULL},
	    {"1 = host=/a; 2 = host=/b port=2", 2, NULL},
	    {"1 = host=/a", 0, "peer_id is 0"},
	    {"1 = host=/a", 2, "peer_id 2 is missing"},
	    {"1 = host=/a; 1 = host=/b", 1, "peer 1 is listed twice"},
	    {"0 = host=/a", 1, "peer id must be 1 to 16383"},
	    {"16384 = host=/a", 1, "peer id must be 1 to 16383"},
	    {"x = host=/a", 1, "peer id must be 1 to 16383"},
	    {"1 host=/a", 1, "expected \"ID = host"},
	    {"1 = port=5", 1, "host is missing"},
	    {"1 = host=/a port=0", 1, "port must be 1 to 65535"},
	    {"1 = host=/a port=6x", 1, "port must be 1 to 65535"},
	    {"1 = host=/a pool_size=5", 1, "unknown key \"pool_size\""},
	    {"1 = host", 1, "expected key=value"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok =
		    peer_check(cases[i].list, cases[i].self, err, sizeof(err));

		if (cases[i].err == NULL) {
			assert_true(ok);
			continue;
		}
		assert_false(ok);
		if (strstr(err, cases[i].err) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 cases[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_layout),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
