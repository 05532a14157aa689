/* Unit tests for the parsers' error list: the "NAME:LINE: " prefix and
 * its line-less form, messages kept up to the caller's number and the
 * parse failed past it, and truncation of a long message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "errlist.h"

static void test_prefix(void **state)
{
	char msg[2][ERRLIST_LEN];
	struct errlist e = {.name = "pitlane_hba.conf", .msg = msg, .max = 2};

	(void)state;
	assert_false(e.failed);
	e.line = 7;
	errlist_add(&e, "unknown method \"%s\"", "ident");
	e.line = 0;
	errlist_add(&e, "out of memory");
	assert_true(e.failed);
	assert_int_equal(e.n, 2);
	assert_string_equal(msg[0],
			    "pitlane_hba.conf:7: unknown method \"ident\"");
	assert_string_equal(msg[1], "pitlane_hba.conf: out of memory");
}

static void test_no_room(void **state)
{
	char msg[1][ERRLIST_LEN];
	struct errlist e = {
	    .name = "users.txt", .msg = msg, .max = 1, .line = 1};

	(void)state;
	errlist_add(&e, "first");
	e.line = 2;
	errlist_add(&e, "second");
	assert_true(e.failed);
	assert_int_equal(e.n, 1);
	assert_string_equal(msg[0], "users.txt:1: first");

	struct errlist none = {.name = "users.txt", .max = 0, .line = 3};
	errlist_add(&none, "kept nowhere");
	assert_true(none.failed);
	assert_int_equal(none.n, 0);
}

static void test_truncated(void **state)
{
	char msg[1][ERRLIST_LEN];
	char long_name[ERRLIST_LEN * 2];
	struct errlist e = {.name = "f", .msg = msg, .max = 1, .line = 12};

	(void)state;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	errlist_add(&e, "duplicate user \"%s\"", long_name);
	assert_int_equal(strlen(msg[0]), ERRLIST_LEN - 1);
	assert_memory_equal(msg[0], "f:12: duplicate user \"xxx", 25);

	struct errlist by_name = {
	    .name = long_name, .msg = msg, .max = 1, .line = 1};
	errlist_add(&by_name, "lost");
	assert_true(by_name.failed);
	assert_int_equal(strlen(msg[0]), ERRLIST_LEN - 1);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_no_room),
	    cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
