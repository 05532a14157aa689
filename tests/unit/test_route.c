/* Unit tests for routing: which entry and pool key a login gets, the "*"
 * fallback, the forced user, and the mode and limits by precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

static struct db_entry dbs[4];
static struct user_entry users[1];
static struct config cfg;

/* A configuration with the default entry, `sales` (its own user, size and
 * mode), `reports` (clients log in as themselves) and, when star, "*". */
static void fx_init(bool star)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(dbs, 0, sizeof(dbs));
	memset(users, 0, sizeof(users));
	cfg.pool_mode = POOL_MODE_TRANSACTION;
	cfg.pool_max = 10;
	cfg.pool_min = 2;
	cfg.dbname = (char *)"app";
	cfg.user = (char *)"appuser";
	cfg.max_db_connections = 50;
	cfg.max_user_connections = 0;
	cfg.reserve_pool = 2;
	for (unsigned i = 0; i < 4; i++) {
		dbs[i].pool_size = DBCONF_UNSET;
		dbs[i].min_pool_size = DBCONF_UNSET;
		dbs[i].reserve_pool = DBCONF_UNSET;
		dbs[i].pool_mode = DBCONF_UNSET;
	}
	dbs[0].alias = (char *)"app";
	dbs[0].user = (char *)"appuser";
	dbs[0].is_default = true;
	dbs[1].alias = (char *)"sales";
	dbs[1].dbname = (char *)"salesdb";
	dbs[1].user = (char *)"seller";
	dbs[1].pool_size = 4;
	dbs[1].min_pool_size = 9; /* above the size: clamped */
	dbs[1].pool_mode = POOL_MODE_SESSION;
	dbs[1].max_db_connections = 3;
	dbs[1].reserve_pool = 1;
	dbs[2].alias = (char *)"reports";
	dbs[3].alias = (char *)"*";
	users[0].name = (char *)"alice";
	users[0].pool_mode = POOL_MODE_STATEMENT;
	users[0].max_user_connections = 7;
	cfg.dbs = dbs;
	cfg.ndbs = star ? 4 : 3;
	cfg.users = users;
	cfg.nusers = 1;
}

static void test_default_entry(void **state)
{
	struct route r;
	char msg[128];

	(void)state;
	fx_init(false);
	assert_true(route_login(&cfg, "app", "bob", &r, msg, sizeof(msg)));
	assert_ptr_equal(r.db, &dbs[0]);
	assert_string_equal(r.alias, "app");
	assert_string_equal(r.dbname, "app");
	assert_string_equal(r.user, "appuser");
	assert_int_equal(r.mode, POOL_MODE_TRANSACTION);
	assert_int_equal(r.max, 10);
	assert_int_equal(r.min, 2);
	assert_int_equal(r.reserve, 2); /* [pitlane] reserve_pool */
	assert_int_equal(r.max_db_connections, 50);
	assert_false(r.autodb);
}

static void test_forced_user_entry(void **state)
{
	struct route r;
	char msg[128];

	(void)state;
	fx_init(false);
	assert_true(route_login(&cfg, "sales", "bob", &r, msg, sizeof(msg)));
	assert_string_equal(r.alias, "sales");
	assert_string_equal(r.dbname, "salesdb");
	assert_string_equal(r.user, "seller");
	assert_int_equal(r.mode, POOL_MODE_SESSION);
	assert_int_equal(r.max, 4);
	assert_int_equal(r.min, 4);
	assert_int_equal(r.reserve, 1); /* the entry's own */
	assert_int_equal(r.max_db_connections, 3);
}

static void test_own_user_entry(void **state)
{
	struct route r;
	char msg[128];

	(void)state;
	fx_init(false);
	assert_true(route_login(&cfg, "reports", "bob", &r, msg, sizeof(msg)));
	assert_string_equal(r.dbname, "reports");
	assert_string_equal(r.user, "bob");
	assert_int_equal(r.max, 10);
	assert_int_equal(r.reserve, 2);
	assert_int_equal(r.max_user_connections, 0);
	/* alice has a [users] line: its mode beats the global one. */
	assert_true(
	    route_login(&cfg, "reports", "alice", &r, msg, sizeof(msg)));
	assert_string_equal(r.user, "alice");
	assert_int_equal(r.mode, POOL_MODE_STATEMENT);
	assert_int_equal(r.max_user_connections, 7);
}

static void test_unknown_refused(void **state)
{
	struct route r;
	char msg[128];

	(void)state;
	fx_init(false);
	assert_false(route_login(&cfg, "nope", "bob", &r, msg, sizeof(msg)));
	assert_string_equal(msg, "no such database: nope");
	assert_null(r.db);
}

static void test_star_fallback(void **state)
{
	struct route r;
	char msg[128];

	(void)state;
	fx_init(true);
	assert_true(route_login(&cfg, "other", "bob", &r, msg, sizeof(msg)));
	assert_ptr_equal(r.db, &dbs[3]);
	assert_true(r.autodb);
	assert_string_equal(r.alias, "other");
	assert_string_equal(r.dbname, "other");
	assert_string_equal(r.user, "bob");
	/* A named entry still wins over "*". */
	assert_true(route_login(&cfg, "sales", "bob", &r, msg, sizeof(msg)));
	assert_false(r.autodb);
	assert_ptr_equal(route_entry(&cfg, "*"), &dbs[3]);
	assert_null(route_entry(&cfg, "other"));
}

static void test_long_name_refused(void **state)
{
	struct route r;
	char msg[128], name[ROUTE_NAME_MAX + 8];

	(void)state;
	fx_init(true);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_false(route_login(&cfg, name, "bob", &r, msg, sizeof(msg)));
	assert_false(route_login(&cfg, "reports", name, &r, msg, sizeof(msg)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_entry),
	    cmocka_unit_test(test_forced_user_entry),
	    cmocka_unit_test(test_own_user_entry),
	    cmocka_unit_test(test_unknown_refused),
	    cmocka_unit_test(test_star_fallback),
	    cmocka_unit_test(test_long_name_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
