/* Unit tests for dbconf: the quoting of entry values, every [databases]
 * and [users] key with its values and exact error text, copies and the
 * [pool] fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbconf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void parse_ok(struct db_entry *e, const char *value)
{
	char err[320] = "";

	if (!dbconf_parse_entry(e, "app", value, err, sizeof(err)))
		fail_msg("\"%s\": %s", value, err);
}

static void test_defaults(void **state)
{
	struct db_entry e;

	(void)state;
	parse_ok(&e, "");
	assert_string_equal(e.alias, "app");
	assert_null(e.host);
	assert_null(e.port);
	assert_null(e.dbname);
	assert_null(e.user);
	assert_null(e.password);
	assert_int_equal(e.pool_size, DBCONF_UNSET);
	assert_int_equal(e.min_pool_size, DBCONF_UNSET);
	assert_int_equal(e.reserve_pool, DBCONF_UNSET);
	assert_int_equal(e.pool_mode, DBCONF_UNSET);
	assert_int_equal(e.max_db_connections, 0);
	assert_null(e.connect_query);
	assert_int_equal(e.target_session_attrs, DBCONF_TSA_ANY);
	assert_false(e.load_balance_random);
	assert_null(e.application_name);
	assert_null(e.client_encoding);
	assert_null(e.datestyle);
	assert_null(e.timezone);
	assert_false(e.is_default);
	dbconf_entry_free(&e);
	dbconf_entry_free(&e); /* idempotent */
	dbconf_entry_free(NULL);
}

static void test_every_key(void **state)
{
	struct db_entry e;

	(void)state;
	parse_ok(&e,
		 "host=db1,db2,/run/pg port=5432,5433,5434 dbname=appdb "
		 "user=app password=s3cret pool_size=20 min_pool_size=5 "
		 "reserve_pool=3 pool_mode=session max_db_connections=50 "
		 "connect_query='SET x = 1' "
		 "target_session_attrs=read-write load_balance_hosts=random "
		 "application_name=web client_encoding=UTF8 "
		 "datestyle='ISO, MDY' timezone=UTC");
	assert_string_equal(e.host, "db1,db2,/run/pg");
	assert_string_equal(e.port, "5432,5433,5434");
	assert_string_equal(e.dbname, "appdb");
	assert_string_equal(e.user, "app");
	assert_string_equal(e.password, "s3cret");
	assert_int_equal(e.pool_size, 20);
	assert_int_equal(e.min_pool_size, 5);
	assert_int_equal(e.reserve_pool, 3);
	assert_int_equal(e.pool_mode, POOL_MODE_SESSION);
	assert_int_equal(e.max_db_connections, 50);
	assert_string_equal(e.connect_query, "SET x = 1");
	assert_int_equal(e.target_session_attrs, DBCONF_TSA_READ_WRITE);
	assert_true(e.load_balance_random);
	assert_string_equal(e.application_name, "web");
	assert_string_equal(e.client_encoding, "UTF8");
	assert_string_equal(e.datestyle, "ISO, MDY");
	assert_string_equal(e.timezone, "UTC");
	dbconf_entry_free(&e);
}

struct choice_case {
	const char *value;
	int field; /* what the field holds after parsing */
};

static void test_choices(void **state)
{
	static const struct choice_case tsa[] = {
	    {"target_session_attrs=any", DBCONF_TSA_ANY},
	    {"target_session_attrs=read-write", DBCONF_TSA_READ_WRITE},
	    {"target_session_attrs=primary", DBCONF_TSA_PRIMARY},
	    {"target_session_attrs=read-only", DBCONF_TSA_READ_ONLY},
	    {"target_session_attrs=standby", DBCONF_TSA_STANDBY},
	    {"target_session_attrs=prefer-standby", DBCONF_TSA_PREFER_STANDBY},
	};
	static const struct choice_case modes[] = {
	    {"pool_mode=session", POOL_MODE_SESSION},
	    {"pool_mode=transaction", POOL_MODE_TRANSACTION},
	    {"pool_mode=statement", POOL_MODE_STATEMENT},
	};
	struct db_entry e;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(tsa); i++) {
		parse_ok(&e, tsa[i].value);
		assert_int_equal(e.target_session_attrs, tsa[i].field);
		assert_string_equal(dbconf_tsa_name(e.target_session_attrs),
				    strchr(tsa[i].value, '=') + 1);
		dbconf_entry_free(&e);
	}
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		parse_ok(&e, modes[i].value);
		assert_int_equal(e.pool_mode, modes[i].field);
		assert_string_equal(dbconf_pool_mode_name(e.pool_mode),
				    strchr(modes[i].value, '=') + 1);
		dbconf_entry_free(&e);
	}
	assert_null(dbconf_pool_mode_name(DBCONF_UNSET));
	parse_ok(&e, "load_balance_hosts=disable");
	assert_false(e.load_balance_random);
	dbconf_entry_free(&e);
}

struct quote_case {
	const char *value;
	const char *password; /* as parsed */
};

/* Quoting as PgBouncer's (and libpq's) connection strings have it. */
static void test_quoting(void **state)
{
	static const struct quote_case cases[] = {
	    {"password=plain", "plain"},
	    {"password='two words'", "two words"},
	    {"password='it''s'", "it's"},
	    {"password='it\\'s'", "it's"},
	    {"password='back\\\\slash'", "back\\slash"},
	    {"password=un\\ quoted", "un quoted"},
	    {"password='a ;b # c'", "a ;b # c"},
	    {"password = 'spaced'", "spaced"},
	    {"password= x", "x"},
	    {"password =y", "y"},
	    {"  password=z  ", "z"},
	    {"password=''''", "'"},
	    {"password='='", "="},
	    {"password=a=b", "a=b"},
	    {"dbname=d\tpassword=tab", "tab"},
	};
	struct db_entry e;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		parse_ok(&e, cases[i].value);
		if (e.password == NULL ||
		    strcmp(e.password, cases[i].password) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
				 cases[i].value,
				 e.password ? e.password : "(null)",
				 cases[i].password);
		dbconf_entry_free(&e);
	}
	/* An empty password is no password. */
	parse_ok(&e, "password=''");
	assert_null(e.password);
	dbconf_entry_free(&e);
}

/* A long value: no limit but the per-key ones. */
static void test_long_value(void **state)
{
	char value[5000], name[4001];
	struct db_entry e;

	(void)state;
	memset(name, 'h', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(value, sizeof(value), "application_name='%s'", name);
	parse_ok(&e, value);
	assert_int_equal(strlen(e.application_name), 4000);
	dbconf_entry_free(&e);
}

struct bad_case {
	const char *value;
	const char *msg;
};

static const struct bad_case bad_entries[] = {
    {"foo=1",
     "unknown key \"foo\": the keys are host, port, dbname, user, password, "
     "pool_size, min_pool_size, reserve_pool, pool_mode, "
     "max_db_connections, connect_query, target_session_attrs, "
     "load_balance_hosts, application_name, client_encoding, datestyle, "
     "timezone"},
    {"=1", "expected key=value, found \"=\" without a key"},
    {"dbname", "dbname: expected \"=\" and a value after the key"},
    {"dbname x=1", "dbname: expected \"=\" and a value after the key"},
    {"password='open",
     "password: the quoted value has no closing quote (write a quote "
     "inside it as '' or \\')"},
    {"password='a\\'", "password: the quoted value has no closing quote "
		       "(write a quote inside it as '' or \\')"},
    {"dbname=a dbname=b", "dbname: given twice"},
    {"host=", "host: \"\" is not a comma-separated list of host names, "
	      "addresses or socket directories"},
    {"host=a,,b", "host: \"a,,b\" is not a comma-separated list of host "
		  "names, addresses or socket directories"},
    {"host=a,", "host: \"a,\" is not a comma-separated list of host names, "
		"addresses or socket directories"},
    {"host=,a", "host: \",a\" is not a comma-separated list of host names, "
		"addresses or socket directories"},
    {"host='a b'", "host: \"a b\" is not a comma-separated list of host "
		   "names, addresses or socket directories"},
    {"port=0",
     "port: \"0\" is not a comma-separated list of ports from 1 to 65535"},
    {"port=65536", "port: \"65536\" is not a comma-separated list of ports "
		   "from 1 to 65535"},
    {"port=5432,x", "port: \"5432,x\" is not a comma-separated list of "
		    "ports from 1 to 65535"},
    {"port=-1",
     "port: \"-1\" is not a comma-separated list of ports from 1 to 65535"},
    {"port=", "port: \"\" is not a comma-separated list of ports from 1 to "
	      "65535"},
    {"port=123456789", "port: \"123456789\" is not a comma-separated list "
		       "of ports from 1 to 65535"},
    {"host=a,b,c port=1,2",
     "port: 2 ports for 3 hosts: give one port for all hosts or one per "
     "host"},
    {"dbname=", "dbname: \"\" must be 1 to 4096 bytes long"},
    {"user=''", "user: \"\" must be 1 to 4096 bytes long"},
    {"pool_size=0", "pool_size: \"0\" is not an integer from 1 to 10000"},
    {"pool_size=10001",
     "pool_size: \"10001\" is not an integer from 1 to 10000"},
    {"pool_size=x", "pool_size: \"x\" is not an integer from 1 to 10000"},
    {"pool_size=+5", "pool_size: \"+5\" is not an integer from 1 to 10000"},
    {"pool_size=5x", "pool_size: \"5x\" is not an integer from 1 to 10000"},
    {"pool_size=99999999999999999999", "pool_size: \"99999999999999999999\" "
				       "is not an integer from 1 to 10000"},
    {"min_pool_size=-1",
     "min_pool_size: \"-1\" is not an integer from 0 to 10000"},
    {"reserve_pool=10001",
     "reserve_pool: \"10001\" is not an integer from 0 to 10000"},
    {"max_db_connections=100001",
     "max_db_connections: \"100001\" is not an integer from 0 to 100000"},
    {"pool_size=2 min_pool_size=3",
     "min_pool_size (3) must not be greater than pool_size (2)"},
    {"pool_mode=txn", "pool_mode: \"txn\" is not one of session, "
		      "transaction, statement"},
    {"target_session_attrs=master",
     "target_session_attrs: \"master\" is not one of any, read-write, "
     "primary, read-only, standby, prefer-standby"},
    {"load_balance_hosts=yes", "load_balance_hosts: \"yes\" is not one of "
			       "disable, random"},
    {"connect_query=", "connect_query: \"\" must be 1 to 1024 bytes long"},
    {"application_name=", "application_name: \"\" must be 1 to 4096 bytes "
			  "long"},
    {"client_encoding=''", "client_encoding: \"\" must be 1 to 4096 bytes "
			   "long"},
    {"datestyle=", "datestyle: \"\" must be 1 to 4096 bytes long"},
    {"timezone=", "timezone: \"\" must be 1 to 4096 bytes long"},
};

static void test_bad_entries(void **state)
{
	struct db_entry e;
	char err[320];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_entries); i++) {
		err[0] = '\0';
		if (dbconf_parse_entry(&e, "app", bad_entries[i].value, err,
				       sizeof(err)))
			fail_msg("\"%s\" was accepted", bad_entries[i].value);
		if (strcmp(err, bad_entries[i].msg) != 0)
			fail_msg("\"%s\":\n got  %s\n want %s",
				 bad_entries[i].value, err, bad_entries[i].msg);
		assert_null(e.alias); /* freed on error */
	}
	assert_false(dbconf_parse_entry(&e, "", "", err, sizeof(err)));
	assert_string_equal(err, "the name is empty");
}

/* A password is never echoed in an error. */
static void test_password_not_echoed(void **state)
{
	struct db_entry e;
	char err[320], value[5000];

	(void)state;
	memset(value, 0, sizeof(value));
	memcpy(value, "password=", 9);
	memset(value + 9, 's', 4097);
	assert_false(dbconf_parse_entry(&e, "app", value, err, sizeof(err)));
	assert_string_equal(err, "password: longer than 4096 bytes");
	assert_false(dbconf_parse_entry(&e, "app", "password=hunter2 x=1", err,
					sizeof(err)));
	assert_null(strstr(err, "hunter2"));
}

static void test_copy_resolve(void **state)
{
	struct db_entry e, c;

	(void)state;
	parse_ok(&e, "host=h port=1 dbname=d user=u password=p "
		     "connect_query='SELECT 1' application_name=a "
		     "client_encoding=c datestyle=ds timezone=tz pool_size=4");
	assert_true(dbconf_entry_copy(&c, &e));
	assert_ptr_not_equal(c.host, e.host);
	assert_string_equal(c.alias, "app");
	assert_string_equal(c.timezone, "tz");
	assert_int_equal(c.pool_size, 4);
	dbconf_entry_free(&e);
	assert_string_equal(c.password, "p"); /* survives the original */
	/* min_pool_size falls back to pool_min, at most pool_size. */
	dbconf_resolve(&c, 10, 6);
	assert_int_equal(c.pool_size, 4);
	assert_int_equal(c.min_pool_size, 4);
	dbconf_entry_free(&c);

	parse_ok(&e, "");
	dbconf_resolve(&e, 10, 2);
	assert_int_equal(e.pool_size, 10);
	assert_int_equal(e.min_pool_size, 2);
	dbconf_entry_free(&e);
	parse_ok(&e, "min_pool_size=0");
	dbconf_resolve(&e, 10, 2);
	assert_int_equal(e.min_pool_size, 0);
	dbconf_entry_free(&e);
}

static void test_users(void **state)
{
	struct user_entry u, c;
	char err[320];

	(void)state;
	assert_true(dbconf_parse_user(&u, "alice", "", err, sizeof(err)));
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.pool_mode, DBCONF_UNSET);
	assert_int_equal(u.max_user_connections, DBCONF_UNSET);
	dbconf_user_free(&u);
	assert_true(dbconf_parse_user(
	    &u, "bob", "pool_mode=session max_user_connections=7", err,
	    sizeof(err)));
	assert_int_equal(u.pool_mode, POOL_MODE_SESSION);
	assert_int_equal(u.max_user_connections, 7);
	assert_true(dbconf_user_copy(&c, &u));
	dbconf_user_free(&u);
	assert_string_equal(c.name, "bob");
	assert_int_equal(c.max_user_connections, 7);
	dbconf_user_free(&c);
	dbconf_user_free(&c);
	dbconf_user_free(NULL);
}

static const struct bad_case bad_users[] = {
    {"pool_size=1", "unknown key \"pool_size\": the keys are pool_mode, "
		    "max_user_connections"},
    {"pool_mode=x", "pool_mode: \"x\" is not one of session, transaction, "
		    "statement"},
    {"max_user_connections=-1",
     "max_user_connections: \"-1\" is not an integer from 0 to 100000"},
    {"max_user_connections=100001",
     "max_user_connections: \"100001\" is not an integer from 0 to 100000"},
    {"pool_mode=session pool_mode=statement", "pool_mode: given twice"},
    {"pool_mode", "pool_mode: expected \"=\" and a value after the key"},
};

static void test_bad_users(void **state)
{
	struct user_entry u;
	char err[320];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_users); i++) {
		err[0] = '\0';
		if (dbconf_parse_user(&u, "bob", bad_users[i].value, err,
				      sizeof(err)))
			fail_msg("\"%s\" was accepted", bad_users[i].value);
		if (strcmp(err, bad_users[i].msg) != 0)
			fail_msg("\"%s\":\n got  %s\n want %s",
				 bad_users[i].value, err, bad_users[i].msg);
		assert_null(u.name);
	}
}

/* dbconf_print_entry writes what dbconf_parse_entry reads back. */
static void test_print_round_trip(void **state)
{
	static const char *const values[] = {
	    "",
	    "dbname=plain",
	    "dbname='two words'",
	    "dbname='it''s'",
	    "dbname='back\\\\slash;#'",
	    "host=a,b port=1,2 user=u pool_size=3 min_pool_size=1 "
	    "reserve_pool=2 pool_mode=statement max_db_connections=4 "
	    "connect_query='SET a = 1' target_session_attrs=standby "
	    "load_balance_hosts=random application_name=x client_encoding=y "
	    "datestyle=z timezone=w"};
	struct db_entry e, back;
	char err[320], *buf, *eq;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		FILE *f = open_memstream(&buf, &len);

		parse_ok(&e, values[i]);
		dbconf_print_entry(f, &e, "<redacted>");
		assert_int_equal(fclose(f), 0);
		assert_memory_equal(buf, "app =", 5);
		assert_int_equal(buf[len - 1], '\n');
		buf[len - 1] = '\0';
		eq = strchr(buf, '=');
		if (!dbconf_parse_entry(&back, "app", eq + 1, err, sizeof(err)))
			fail_msg("%s: %s", buf, err);
		assert_string_equal(back.dbname ? back.dbname : "",
				    e.dbname ? e.dbname : "");
		assert_int_equal(back.pool_mode, e.pool_mode);
		assert_int_equal(back.target_session_attrs,
				 e.target_session_attrs);
		assert_int_equal(back.load_balance_random,
				 e.load_balance_random);
		free(buf);
		dbconf_entry_free(&back);
		dbconf_entry_free(&e);
	}
	/* The password is written as given to redact it. */
	parse_ok(&e, "password=hunter2");
	{
		FILE *f = open_memstream(&buf, &len);

		dbconf_print_entry(f, &e, "<redacted>");
		assert_int_equal(fclose(f), 0);
	}
	assert_string_equal(buf, "app = password=<redacted>\n");
	free(buf);
	dbconf_entry_free(&e);
}

struct comment_case {
	const char *line, *kept;
};

static void test_cut_comment(void **state)
{
	static const struct comment_case cases[] = {
	    {"a=1 ; c", "a=1 "},
	    {"a=1;c", "a=1;c"},
	    {"a='x ;y' ;z", "a='x ;y' "},
	    {"a='it''s ;' ;z", "a='it''s ;' "},
	    {"a='it\\'s ;' ;z", "a='it\\'s ;' "},
	    {"a=x\\ ;y", "a=x\\ ;y"},
	    {"a=1 #c", "a=1 #c"},
	    {"a=1\t;c", "a=1\t"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].line);
		dbconf_cut_comment(buf);
		if (strcmp(buf, cases[i].kept) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
				 cases[i].line, buf, cases[i].kept);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_choices),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_long_value),
	    cmocka_unit_test(test_bad_entries),
	    cmocka_unit_test(test_password_not_echoed),
	    cmocka_unit_test(test_copy_resolve),
	    cmocka_unit_test(test_users),
	    cmocka_unit_test(test_bad_users),
	    cmocka_unit_test(test_print_round_trip),
	    cmocka_unit_test(test_cut_comment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
