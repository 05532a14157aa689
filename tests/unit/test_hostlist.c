/* Unit tests for the host list walk: splitting and port matching, the
 * shuffle (a permutation that keeps each host's port), the order of
 * prefer-standby's two passes with skipped hosts, and libpq's
 * target_session_attrs rules over the reported parameters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hostlist.h"

static void test_split_ports(void **state)
{
	char h[] = "a,b,c", p[] = "5432", p3[] = "1,2,3", p2[] = "1,2";
	char err[64];
	struct hostlist hl;

	(void)state;
	hostlist_init(&hl, h, p, NULL, NULL);
	assert_int_equal(hl.n, 3);
	assert_true(hostlist_ports_ok(&hl, err, sizeof(err)));
	assert_string_equal(hl.host[2], "c");
	assert_string_equal(hostlist_port(&hl, 2), "5432");
	char h3[] = "a,b,c";
	hostlist_init(&hl, h3, p3, "any", NULL);
	assert_int_equal(hl.n, 3);
	assert_null(hl.tsa);
	assert_string_equal(hostlist_port(&hl, 1), "2");
	char h2[] = "a,b,c";
	hostlist_init(&hl, h2, p2, NULL, NULL);
	assert_false(hostlist_ports_ok(&hl, err, sizeof(err)));
	assert_string_equal(err, "could not match 2 port numbers to 3 hosts");
}

/* hostlist_count agrees with the split, up to HOSTLIST_MAX. */
static void test_count(void **state)
{
	char many[3 * HOSTLIST_MAX + 1] = "";
	char split[sizeof(many)], port[] = "1";
	struct hostlist hl;

	(void)state;
	assert_int_equal(hostlist_count("db1"), 1);
	assert_int_equal(hostlist_count("a,b,c"), 3);
	assert_int_equal(hostlist_count(""), 1);
	for (unsigned i = 0; i < HOSTLIST_MAX + 3; i++)
		strcat(many, i == 0 ? "h" : ",h");
	assert_int_equal(hostlist_count(many), HOSTLIST_MAX);
	strcpy(split, many);
	hostlist_init(&hl, split, port, NULL, NULL);
	assert_int_equal(hl.n, hostlist_count(many));
}

/* Every shuffle is a permutation and keeps each host with its port. */
static void test_shuffle(void **state)
{
	uint32_t rnd[HOSTLIST_MAX];
	unsigned seen_first[4] = {0};

	(void)state;
	for (uint32_t k = 0; k < 64; k++) {
		char h[] = "h0,h1,h2,h3", p[] = "p0,p1,p2,p3";
		struct hostlist hl;
		unsigned mask = 0;
		for (unsigned i = 0; i < HOSTLIST_MAX; i++)
			rnd[i] = k * 2654435761u + i * 40503u;
		hostlist_init(&hl, h, p, NULL, rnd);
		assert_int_equal(hl.n, 4);
		for (unsigned i = 0; i < hl.n; i++) {
			assert_int_equal(hl.host[i][1], hl.port[i][1]);
			mask |= 1u << (hl.host[i][1] - '0');
		}
		assert_int_equal(mask, 0xf);
		seen_first[hl.host[0][1] - '0']++;
	}
	for (unsigned i = 0; i < 4; i++)
		assert_true(seen_first[i] > 0);
}

/* prefer-standby: "standby" over every host, then any server over the
 * hosts not skipped; other values: one pass. */
static void test_two_passes(void **state)
{
	char h[] = "a,b,c", p[] = "1";
	struct hostlist hl;

	(void)state;
	hostlist_init(&hl, h, p, "prefer-standby", NULL);
	assert_true(hostlist_next(&hl));
	assert_int_equal(hl.cur, 0);
	assert_string_equal(hostlist_tsa(&hl), "standby");
	hostlist_failed(&hl, false);
	assert_true(hostlist_next(&hl));
	hostlist_failed(&hl, true); /* b timed out */
	assert_true(hostlist_next(&hl));
	assert_int_equal(hl.cur, 2);
	assert_true(hostlist_more(&hl)); /* the second pass comes */
	hostlist_failed(&hl, false);
	assert_true(hostlist_next(&hl));
	assert_int_equal(hl.cur, 0);
	assert_null(hostlist_tsa(&hl));
	hostlist_failed(&hl, false);
	assert_true(hostlist_next(&hl));
	assert_int_equal(hl.cur, 2); /* b skipped */
	hostlist_failed(&hl, false);
	assert_false(hostlist_next(&hl));

	char h2[] = "a,b", p2[] = "1";
	hostlist_init(&hl, h2, p2, "read-write", NULL);
	assert_true(hostlist_next(&hl));
	assert_true(hostlist_more(&hl));
	assert_string_equal(hostlist_tsa(&hl), "read-write");
	hostlist_failed(&hl, true);
	assert_true(hostlist_next(&hl));
	assert_false(hostlist_more(&hl));
	hostlist_failed(&hl, false);
	assert_false(hostlist_next(&hl));
}

/* libpq's rules, a table of (tsa, in_hot_standby,
 * default_transaction_read_only, suits). */
static void test_check(void **state)
{
	static const struct {
		const char *tsa, *hs, *ro;
		bool ok;
	} cases[] = {
	    {NULL, NULL, NULL, true},
	    {"any", "on", "on", true},
	    {"read-write", "off", "off", true},
	    {"read-write", "on", "off", false},
	    {"read-write", "off", "on", false},
	    {"read-write", "off", NULL, false}, /* cannot tell */
	    {"read-only", "off", "off", false},
	    {"read-only", "on", "off", true},
	    {"read-only", "off", "on", true},
	    {"primary", "off", "on", true}, /* read-only primary is one */
	    {"primary", "on", "on", false},
	    {"primary", NULL, "off", false},
	    {"standby", "on", "on", true},
	    {"standby", "off", "off", false},
	    {"prefer-standby", "on", "off", true},
	    {"prefer-standby", "off", "off", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why =
		    hostlist_check(cases[i].tsa, cases[i].hs, cases[i].ro);
		if ((why == NULL) != cases[i].ok)
			fail_msg("case %zu (%s): %s", i,
				 cases[i].tsa ? cases[i].tsa : "NULL",
				 why ? why : "suits");
	}
	assert_non_null(
	    strstr(hostlist_check("read-write", "on", "on"), "in_hot_standby"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_ports),
	    cmocka_unit_test(test_count),
	    cmocka_unit_test(test_shuffle),
	    cmocka_unit_test(test_two_passes),
	    cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
