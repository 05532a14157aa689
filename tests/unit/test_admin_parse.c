/* Unit tests for the admin console's grammar: the two forms, case, the
 * optional `;` and white space, quoted words and values, the size limits
 * (bad arguments) and what is not the grammar (invalid command), table
 * driven, plus every prefix of a valid query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "admin_parse.h"

struct parse_case {
	const char *q;
	enum admin_parse_result want;
	enum admin_verb verb;
	const char *arg, *value;
};

static const struct parse_case cases[] = {
    {"SHOW POOLS", ADMIN_PARSE_OK, ADMIN_SHOW, "POOLS", ""},
    {"show pools;", ADMIN_PARSE_OK, ADMIN_SHOW, "pools", ""},
    {"  Show\tStats_Totals \n; \n", ADMIN_PARSE_OK, ADMIN_SHOW, "Stats_Totals",
     ""},
    {"SELECT version", ADMIN_PARSE_OK, ADMIN_SHOW, "version", ""},
    {"SHOW \"my db\"", ADMIN_PARSE_OK, ADMIN_SHOW, "my db", ""},
    {"PAUSE", ADMIN_PARSE_OK, ADMIN_PAUSE, "", ""},
    {"pause;", ADMIN_PARSE_OK, ADMIN_PAUSE, "", ""},
    {"PAUSE mydb", ADMIN_PARSE_OK, ADMIN_PAUSE, "mydb", ""},
    {"RESUME \"Mixed-Case.db\"", ADMIN_PARSE_OK, ADMIN_RESUME, "Mixed-Case.db",
     ""},
    {"kill_client 0x55d0c0ffee00", ADMIN_PARSE_OK, ADMIN_KILL_CLIENT,
     "0x55d0c0ffee00", ""},
    {"SHUTDOWN WAIT_FOR_CLIENTS", ADMIN_PARSE_OK, ADMIN_SHUTDOWN,
     "WAIT_FOR_CLIENTS", ""},
    {"wait_close", ADMIN_PARSE_OK, ADMIN_WAIT_CLOSE, "", ""},
    {"RELOAD;", ADMIN_PARSE_OK, ADMIN_RELOAD, "", ""},
    {"SET pool_max = 20", ADMIN_PARSE_OK, ADMIN_SET, "pool_max", "20"},
    {"set pool_max=20;", ADMIN_PARSE_OK, ADMIN_SET, "pool_max", "20"},
    {"SET datestyle TO 'ISO'", ADMIN_PARSE_OK, ADMIN_SET, "datestyle", "ISO"},
    {"set log_level to debug", ADMIN_PARSE_OK, ADMIN_SET, "log_level", "debug"},
    {"SET server_reset_query = 'DISCARD ''ALL'''", ADMIN_PARSE_OK, ADMIN_SET,
     "server_reset_query", "DISCARD 'ALL'"},
    {"SET \"pool_max\" = '1.5'", ADMIN_PARSE_OK, ADMIN_SET, "pool_max", "1.5"},
    /* not the grammar */
    {"", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {";", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"   ", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SELECT 1 + 1", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW POOLS; SHOW STATS", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW POOLS STATS", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"BEGIN", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOWPOOLS x", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW pools -- comment", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"PAUSE my-db", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW \"unterminated", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW \"\"", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SET pool_max", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SET pool_max = 1.5", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SET pool_max = 'x", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SET = 3", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SETpool_max = 3", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SET a = b c", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"set", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"\"SET\" a = b", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    {"SHOW pools;;", ADMIN_PARSE_INVALID, ADMIN_SHOW, "", ""},
    /* over the limits */
    {"SHOW_THIS_IS_TOO_LONG pools", ADMIN_PARSE_BAD_ARGS, ADMIN_SHOW, "", ""},
    {"SHOW "
     "a234567890123456789012345678901234567890123456789012345678901234",
     ADMIN_PARSE_BAD_ARGS, ADMIN_SHOW, "", ""},
};

static void test_cases(void **state)
{
	struct admin_cmd cmd;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *k = &cases[i];
		enum admin_parse_result r =
		    admin_parse(k->q, strlen(k->q), &cmd);
		if (r != k->want)
			fail_msg("\"%s\": got %d, want %d", k->q, r, k->want);
		if (r != ADMIN_PARSE_OK)
			continue;
		assert_int_equal(cmd.verb, k->verb);
		assert_string_equal(cmd.arg, k->arg);
		assert_int_equal(cmd.has_arg, k->arg[0] != '\0');
		assert_string_equal(cmd.value, k->value);
	}
}

/* A 63-byte argument fits, 64 does not; a 255-byte value fits, 256 not. */
static void test_limits(void **state)
{
	char q[600], word[300];
	struct admin_cmd cmd;

	(void)state;
	memset(word, 'a', 63);
	word[63] = '\0';
	snprintf(q, sizeof(q), "PAUSE %s", word);
	assert_int_equal(admin_parse(q, strlen(q), &cmd), ADMIN_PARSE_OK);
	assert_int_equal(strlen(cmd.arg), 63);
	memset(word, 'v', 255);
	word[255] = '\0';
	snprintf(q, sizeof(q), "SET k = '%s'", word);
	assert_int_equal(admin_parse(q, strlen(q), &cmd), ADMIN_PARSE_OK);
	assert_int_equal(strlen(cmd.value), 255);
	snprintf(q, sizeof(q), "SET k = '%sv'", word);
	assert_int_equal(admin_parse(q, strlen(q), &cmd), ADMIN_PARSE_BAD_ARGS);
	assert_int_equal(admin_parse("abcdefghijklmnop", 16, &cmd),
			 ADMIN_PARSE_BAD_ARGS);
	assert_int_equal(admin_parse("abcdefghijklmno", 15, &cmd),
			 ADMIN_PARSE_INVALID);
}

/* The length given is the query: bytes after it are not read, a NUL
 * inside makes the query invalid. */
static void test_length_and_nul(void **state)
{
	struct admin_cmd cmd;

	(void)state;
	assert_int_equal(admin_parse("SHOW POOLSxyz", 10, &cmd),
			 ADMIN_PARSE_OK);
	assert_string_equal(cmd.arg, "POOLS");
	assert_int_equal(admin_parse("SHOW\0POOLS", 10, &cmd),
			 ADMIN_PARSE_INVALID);
}

/* Every proper prefix of a valid query parses (as something or nothing)
 * without reading past its length. */
static void test_prefixes(void **state)
{
	static const char q[] = "SET server_reset_query = 'DISCARD ''ALL''';";
	struct admin_cmd cmd;

	(void)state;
	for (size_t n = 0; n < sizeof(q) - 1; n++) {
		char buf[sizeof(q)];
		memcpy(buf, q, n);
		enum admin_parse_result r = admin_parse(buf, n, &cmd);
		assert_true(r == ADMIN_PARSE_OK || r == ADMIN_PARSE_INVALID);
	}
	assert_int_equal(admin_parse(q, sizeof(q) - 1, &cmd), ADMIN_PARSE_OK);
}

static void test_tags(void **state)
{
	(void)state;
	assert_string_equal(admin_verb_name(ADMIN_PAUSE), "PAUSE");
	assert_string_equal(admin_verb_name(ADMIN_WAIT_CLOSE), "WAIT_CLOSE");
	assert_string_equal(admin_verb_name(ADMIN_KILL_CLIENT), "KILL_CLIENT");
	assert_string_equal(admin_verb_name(ADMIN_SHOW), "SHOW");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_length_and_nul),
	    cmocka_unit_test(test_prefixes),
	    cmocka_unit_test(test_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
