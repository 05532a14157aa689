/* Unit tests for the hba file: every syntax element, every error message,
 * first-match order, IPv4/IPv6 masks, ssl and local rules, a large file and
 * every prefix of a valid one. Run under ASan to catch leaks and overruns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "hba.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ERRS     8
#define NO_MATCH     (-1)

static struct hba *parse(const char *text, unsigned *nerrs,
			 char errs[][HBA_ERROR_LEN])
{
	return hba_parse(text, strlen(text), "hba.conf", errs, MAX_ERRS, nerrs);
}

/* text parses into n rules. */
static struct hba *parse_ok(const char *text, unsigned n)
{
	char errs[MAX_ERRS][HBA_ERROR_LEN];
	unsigned nerrs = 99;
	struct hba *h = parse(text, &nerrs, errs);

	if (h == NULL)
		fail_msg("\"%s\" failed: %s", text, nerrs ? errs[0] : "?");
	assert_int_equal(nerrs, 0);
	assert_int_equal(hba_rule_count(h), n);
	return h;
}

/* A TCP (conn "tcp" or "ssl") or unix-socket ("local") login. */
static struct hba_query query(const char *conn, const char *addr,
			      const char *db, const char *user)
{
	struct hba_query q = {.database = db, .user = user};

	q.conn = strcmp(conn, "local") == 0 ? HBA_LOCAL : HBA_HOST;
	q.ssl = strcmp(conn, "ssl") == 0;
	if (addr != NULL) {
		q.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(q.family, addr, q.addr), 1);
	}
	return q;
}

static void test_syntax(void **state)
{
	static const struct {
		const char *text;
		unsigned rules;
	} cases[] = {
	    {"", 0},
	    {"\n\n  \n\t\n", 0},
	    {"# only a comment\n   # indented comment\n", 0},
	    {"local all all trust", 1},
	    {"local all all trust\n", 1},
	    {"local all all trust\r\n", 1},
	    {"local all all trust # trailing comment\n", 1},
	    {"local all all trust#comment", 1},
	    {"  local\tall  \t all   trust  \n", 1},
	    {"host all all 10.0.0.0/8 md5\n", 1},
	    {"hostssl all all ::1/128 scram-sha-256\n", 1},
	    {"hostnossl all all 0.0.0.0/0 reject\n", 1},
	    {"host all all 10.0.0.0 255.0.0.0 md5\n", 1},
	    {"host all all ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff md5\n",
	     1},
	    {"host all all all trust\n", 1},
	    {"host db1,db2,\"db 3\" u1,u2 all md5\n", 1},
	    {"host db1, db2 u1,\tu2 all md5\n", 1},
	    {"host sameuser all all md5\n", 1},
	    {"host \"all\" \"sameuser\" all md5\n", 1},
	    {"host \"+group\" \"@file\" all md5\n", 1},
	    {"host \"/re\",\"replication\" all all md5\n", 1},
	    {"hostssl all all all cert\n", 1},
	    {"hostssl all all all cert clientcert=verify-full\n", 1},
	    {"hostssl all all all md5 clientcert=verify-ca\n", 1},
	    {"hostssl all all all scram-sha-256 clientcert=verify-full\n", 1},
	    {"host all \\\nall all trust\n", 1},
	    {"host all all \\\r\n all trust\n", 1},
	    {"ho\\\nst all all all trust\n", 1},
	    {"local all all trust\\", 1},
	    {"local all all trust\nhost all all all md5\nlocal db u reject\n",
	     3},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		hba_free(parse_ok(cases[i].text, cases[i].rules));
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
	    {"local all all", "hba.conf:1: end of line before authentication "
			      "method"},
	    {"local all", "hba.conf:1: end of line before user field"},
	    {"local", "hba.conf:1: end of line before database field"},
	    {"host all all", "hba.conf:1: end of line before address field"},
	    {"host all all 10.0.0.1", "hba.conf:1: end of line before netmask"},
	    {"host all all all", "hba.conf:1: end of line before "
				 "authentication method"},
	    {"\n\nlocal all \"all trust",
	     "hba.conf:3: unterminated quoted string"},
	    {"loc\"al all all trust", "hba.conf:1: unterminated quoted string"},
	    {"local,host all all trust",
	     "hba.conf:1: multiple values in connection type"},
	    {"peer all all trust",
	     "hba.conf:1: unsupported connection type \"peer\""},
	    {"hostgssenc all all all trust",
	     "hba.conf:1: unsupported connection type \"hostgssenc\""},
	    {"local a,,b all trust",
	     "hba.conf:1: empty name in database field"},
	    {"local all a,", "hba.conf:1: empty name in user field"},
	    {"local a, all trust",
	     "hba.conf:1: end of line before authentication method"},
	    {"local \"\" all trust",
	     "hba.conf:1: empty name in database field"},
	    {"local @dbs all trust",
	     "hba.conf:1: file inclusion is not supported: \"@dbs\""},
	    {"local all @users trust",
	     "hba.conf:1: file inclusion is not supported: \"@users\""},
	    {"local /^db all trust",
	     "hba.conf:1: regular expressions are not supported: \"/^db\""},
	    {"local all /^u trust",
	     "hba.conf:1: regular expressions are not supported: \"/^u\""},
	    {"local all +admins trust",
	     "hba.conf:1: group membership is not supported: \"+admins\""},
	    {"local samerole all trust",
	     "hba.conf:1: keyword \"samerole\" is not supported"},
	    {"local samegroup all trust",
	     "hba.conf:1: keyword \"samegroup\" is not supported"},
	    {"local replication all trust",
	     "hba.conf:1: keyword \"replication\" is not supported"},
	    {"host all all samehost trust",
	     "hba.conf:1: keyword \"samehost\" is not supported"},
	    {"host all all samenet trust",
	     "hba.conf:1: keyword \"samenet\" is not supported"},
	    {"host all all 10.0.0.0/8,::1/128 trust",
	     "hba.conf:1: multiple values in address field"},
	    {"host all all db.example.com trust",
	     "hba.conf:1: invalid IP address \"db.example.com\" (host names "
	     "are not supported)"},
	    {"host all all .example.com trust",
	     "hba.conf:1: invalid IP address \".example.com\" (host names "
	     "are not supported)"},
	    {"host all all 10.0.0.256/8 trust",
	     "hba.conf:1: invalid IP address \"10.0.0.256/8\" (host names "
	     "are not supported)"},
	    {"host all all fe80::1%eth0/64 trust",
	     "hba.conf:1: invalid IP address \"fe80::1%eth0/64\" (host names "
	     "are not supported)"},
	    {"host all all 10.0.0.0/33 trust",
	     "hba.conf:1: invalid CIDR mask in address \"10.0.0.0/33\""},
	    {"host all all 10.0.0.0/ trust",
	     "hba.conf:1: invalid CIDR mask in address \"10.0.0.0/\""},
	    {"host all all 10.0.0.0/-1 trust",
	     "hba.conf:1: invalid CIDR mask in address \"10.0.0.0/-1\""},
	    {"host all all 10.0.0.0/8x trust",
	     "hba.conf:1: invalid CIDR mask in address \"10.0.0.0/8x\""},
	    {"host all all 10.0.0.0/0008 trust",
	     "hba.conf:1: invalid CIDR mask in address \"10.0.0.0/0008\""},
	    {"host all all ::/129 trust",
	     "hba.conf:1: invalid CIDR mask in address \"::/129\""},
	    {"host all all 10.0.0.1 md5",
	     "hba.conf:1: invalid IP mask \"md5\""},
	    {"host all all 10.0.0.1 255.0.0.0,255.0.0.0 md5",
	     "hba.conf:1: multiple values in netmask"},
	    {"host all all 10.0.0.1 ffff:: md5",
	     "hba.conf:1: IP address and mask do not match"},
	    {"host all all ::1 255.255.255.255 md5",
	     "hba.conf:1: IP address and mask do not match"},
	    {"local all all password",
	     "hba.conf:1: unsupported authentication method \"password\""},
	    {"local all all peer",
	     "hba.conf:1: unsupported authentication method \"peer\""},
	    {"local all all ldap ldapserver=x",
	     "hba.conf:1: unsupported authentication method \"ldap\""},
	    {"local all all md5,trust",
	     "hba.conf:1: multiple values in authentication method"},
	    {"local all all cert",
	     "hba.conf:1: cert authentication is only supported on hostssl "
	     "lines"},
	    {"host all all all cert",
	     "hba.conf:1: cert authentication is only supported on hostssl "
	     "lines"},
	    {"hostssl all all all md5 clientcert",
	     "hba.conf:1: authentication option not in name=value format: "
	     "\"clientcert\""},
	    {"hostssl all all all md5 map=x",
	     "hba.conf:1: unknown authentication option \"map\""},
	    {"hostssl all all all md5 clientcert=verify-full,map=x",
	     "hba.conf:1: multiple values in authentication option"},
	    {"hostssl all all all md5 clientcert=no-verify",
	     "hba.conf:1: invalid value for clientcert: \"no-verify\""},
	    {"hostssl all all all md5 clientcert=",
	     "hba.conf:1: invalid value for clientcert: \"\""},
	    {"host all all all md5 clientcert=verify-ca",
	     "hba.conf:1: clientcert can only be configured for hostssl "
	     "lines"},
	    {"local all all md5 clientcert=verify-full",
	     "hba.conf:1: clientcert can only be configured for hostssl "
	     "lines"},
	    {"hostssl all all all cert clientcert=verify-ca",
	     "hba.conf:1: clientcert only accepts verify-full with cert "
	     "authentication"},
	    {"# ok\nlocal all all \\\n  nope\n",
	     "hba.conf:2: unsupported authentication method \"nope\""},
	    {"local all all \\\n\\\ntrust\nlocal x",
	     "hba.conf:4: end of line before user field"},
	    {"host all all \"all\" md5",
	     "hba.conf:1: invalid IP address \"all\" (host names are not "
	     "supported)"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char errs[MAX_ERRS][HBA_ERROR_LEN];
		unsigned nerrs = 99;
		struct hba *h = parse(cases[i].text, &nerrs, errs);

		if (h != NULL)
			fail_msg("\"%s\" parsed", cases[i].text);
		assert_int_equal(nerrs, 1);
		assert_string_equal(errs[0], cases[i].err);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "local all all trust\nlocal\0all all trust";
	char errs[MAX_ERRS][HBA_ERROR_LEN];
	unsigned nerrs;

	(void)state;
	assert_null(hba_parse(text, sizeof(text) - 1, "hba.conf", errs,
			      MAX_ERRS, &nerrs));
	assert_int_equal(nerrs, 1);
	assert_string_equal(errs[0], "hba.conf:2: invalid NUL byte");
}

/* Errors on several lines are all reported, one per line, up to max_errs;
 * valid lines between them do not hide them. */
static void test_error_collection(void **state)
{
	static const char text[] = "local all all peer\n"
				   "local all all trust\n"
				   "host all all x y z\n"
				   "local @a +b ident\n"
				   "host all all 1.2.3.4/99 md5\n";
	char errs[MAX_ERRS][HBA_ERROR_LEN];
	unsigned nerrs = 99;

	(void)state;
	assert_null(parse(text, &nerrs, errs));
	assert_int_equal(nerrs, 4);
	assert_string_equal(errs[0], "hba.conf:1: unsupported authentication "
				     "method \"peer\"");
	assert_string_equal(errs[1], "hba.conf:3: invalid IP address \"x\" "
				     "(host names are not supported)");
	assert_string_equal(errs[2], "hba.conf:4: file inclusion is not "
				     "supported: \"@a\"");
	assert_string_equal(errs[3], "hba.conf:5: invalid CIDR mask in "
				     "address \"1.2.3.4/99\"");
	assert_null(hba_parse(text, strlen(text), "f", errs, 2, &nerrs));
	assert_int_equal(nerrs, 2);
	assert_string_equal(errs[1], "f:3: invalid IP address \"x\" (host "
				     "names are not supported)");
	assert_null(hba_parse(text, strlen(text), "f", NULL, 0, &nerrs));
	assert_int_equal(nerrs, 0);
}

/* A long value is cut to fit the message buffer, NUL-terminated. */
static void test_long_error(void **state)
{
	char text[2048] = "local all all ";
	char errs[1][HBA_ERROR_LEN];
	unsigned nerrs;

	(void)state;
	memset(text + strlen(text), 'x', 1000);
	assert_null(parse(text, &nerrs, errs));
	assert_int_equal(nerrs, 1);
	assert_int_equal(strlen(errs[0]), HBA_ERROR_LEN - 1);
	assert_memory_equal(errs[0],
			    "hba.conf:1: unsupported authentication "
			    "method \"xxx",
			    42);
}

struct match_case {
	const char *conn; /* "local", "tcp" or "ssl" */
	const char *addr; /* client address for tcp and ssl */
	const char *db;
	const char *user;
	int method; /* NO_MATCH or an enum hba_method */
	unsigned line;
};

static void check_matches(const char *text, const struct match_case *c,
			  size_t n)
{
	char errs[MAX_ERRS][HBA_ERROR_LEN];
	unsigned nerrs;
	struct hba *h = parse(text, &nerrs, errs);

	if (h == NULL)
		fail_msg("parse failed: %s", errs[0]);
	for (size_t i = 0; i < n; i++) {
		struct hba_query q =
		    query(c[i].conn, c[i].addr, c[i].db, c[i].user);
		bool matched = false;
		unsigned line = 99;
		enum hba_method m = hba_match(h, &q, &matched, &line, NULL);

		if (matched != (c[i].method != NO_MATCH) ||
		    (matched && (int)m != c[i].method) || line != c[i].line)
			fail_msg(
			    "case %zu (%s %s %s %s): got %s method %d line "
			    "%u",
			    i, c[i].conn, c[i].addr ? c[i].addr : "-", c[i].db,
			    c[i].user, matched ? "matched" : "unmatched",
			    (int)m, line);
		if (!matched)
			assert_int_equal(m, HBA_REJECT);
	}
	hba_free(h);
}

static void test_match_order(void **state)
{
	static const char text[] =
	    "# first match wins\n"
	    "local   all      postgres                 trust\n"		/* 2 */
	    "local   all      all                      scram-sha-256\n" /* 3 */
	    "host    all      postgres  all            reject\n"	/* 4 */
	    "hostssl app      alice     10.1.0.0/16    cert\n"		/* 5 */
	    "hostssl app      alice     10.0.0.0/8     scram-sha-256\n" /* 6 */
	    "hostnossl app    alice     10.0.0.0/8     reject\n"	/* 7 */
	    "host    sameuser all       192.168.0.0/16 md5\n"		/* 8 */
	    "host    a,\"b c\",\"d,e\" bob,\"x y\" all trust\n"		/* 9 */
	    "host    \"all\"  \"sameuser\" all         md5\n"		/* 10 */
	    "host    all      all       127.0.0.1/32   trust\n";	/* 11 */
	static const struct match_case cases[] = {
	    {"local", NULL, "db", "postgres", HBA_TRUST, 2},
	    {"local", NULL, "db", "alice", HBA_SCRAM, 3},
	    {"tcp", "127.0.0.1", "db", "postgres", HBA_REJECT, 4},
	    {"ssl", "127.0.0.1", "db", "postgres", HBA_REJECT, 4},
	    {"ssl", "10.1.2.3", "app", "alice", HBA_CERT, 5},
	    {"ssl", "10.2.2.3", "app", "alice", HBA_SCRAM, 6},
	    {"tcp", "10.1.2.3", "app", "alice", HBA_REJECT, 7},
	    {"tcp", "11.1.2.3", "app", "alice", NO_MATCH, 0},
	    {"ssl", "10.1.2.3", "App", "alice", NO_MATCH, 0},
	    {"ssl", "10.1.2.3", "app", "Alice", NO_MATCH, 0},
	    {"tcp", "192.168.1.1", "carol", "carol", HBA_MD5, 8},
	    {"tcp", "192.168.1.1", "carol", "dave", NO_MATCH, 0},
	    {"ssl", "192.168.1.1", "dave", "dave", HBA_MD5, 8},
	    {"tcp", "8.8.8.8", "a", "bob", HBA_TRUST, 9},
	    {"tcp", "8.8.8.8", "b c", "x y", HBA_TRUST, 9},
	    {"tcp", "8.8.8.8", "d,e", "bob", HBA_TRUST, 9},
	    {"tcp", "8.8.8.8", "d", "bob", NO_MATCH, 0},
	    {"tcp", "8.8.8.8", "b", "bob", NO_MATCH, 0},
	    {"tcp", "8.8.8.8", "a", "x", NO_MATCH, 0},
	    {"tcp", "8.8.8.8", "all", "sameuser", HBA_MD5, 10},
	    {"tcp", "8.8.8.8", "all", "bob", NO_MATCH, 0},
	    {"tcp", "8.8.8.8", "x", "sameuser", NO_MATCH, 0},
	    {"tcp", "127.0.0.1", "db", "alice", HBA_TRUST, 11},
	    {"tcp", "::1", "db", "alice", NO_MATCH, 0},
	};

	(void)state;
	check_matches(text, cases, ARRAY_LEN(cases));
}

static void test_ipv4_masks(void **state)
{
	static const char text[] =
	    "host a all 10.20.30.40/32 trust\n"		      /* 1 */
	    "host a all 10.20.30.0/24 md5\n"		      /* 2 */
	    "host a all 10.20.30.41 255.255.255.255 reject\n" /* 3: unused */
	    "host b all 10.20.30.41 255.255.255.255 reject\n"
	    "host b all 10.20.0.0 255.255.0.0 md5\n"	/* 5 */
	    "host b all 10.20.30.255/1 scram-sha-256\n" /* 6: 0.0.0.0/1 */
	    "host c all 1.2.3.4/0 trust\n"		/* 7 */
	    "host d all 0.0.0.0 0.0.0.0 md5\n"		/* 8 */
	    "host e all 10.0.0.0 255.0.255.0 trust\n";	/* 9: odd mask */
	static const struct match_case cases[] = {
	    {"tcp", "10.20.30.40", "a", "u", HBA_TRUST, 1},
	    {"tcp", "10.20.30.41", "a", "u", HBA_MD5, 2},
	    {"tcp", "10.20.31.41", "a", "u", NO_MATCH, 0},
	    {"tcp", "10.20.30.41", "b", "u", HBA_REJECT, 4},
	    {"tcp", "10.20.99.1", "b", "u", HBA_MD5, 5},
	    {"tcp", "10.21.0.0", "b", "u", HBA_SCRAM, 6},
	    {"tcp", "127.255.255.255", "b", "u", HBA_SCRAM, 6},
	    {"tcp", "128.0.0.0", "b", "u", NO_MATCH, 0},
	    {"tcp", "255.255.255.255", "c", "u", HBA_TRUST, 7},
	    {"tcp", "0.0.0.0", "c", "u", HBA_TRUST, 7},
	    {"tcp", "::1", "c", "u", NO_MATCH, 0},
	    {"tcp", "9.9.9.9", "d", "u", HBA_MD5, 8},
	    {"tcp", "10.1.0.1", "e", "u", HBA_TRUST, 9},
	    {"tcp", "10.1.1.1", "e", "u", NO_MATCH, 0},
	    /* IPv4-mapped IPv6 clients match IPv4 rules. */
	    {"tcp", "::ffff:10.20.30.40", "a", "u", HBA_TRUST, 1},
	    {"tcp", "::ffff:9.9.9.9", "d", "u", HBA_MD5, 8},
	    {"tcp", "::fffe:10.20.30.40", "a", "u", NO_MATCH, 0},
	    {"tcp", "::10.20.30.40", "a", "u", NO_MATCH, 0},
	};

	(void)state;
	check_matches(text, cases, ARRAY_LEN(cases));
}

static void test_ipv6_masks(void **state)
{
	static const char text[] =
	    "host a all ::1/128 trust\n"			/* 1 */
	    "host a all 2001:db8::/32 md5\n"			/* 2 */
	    "host a all 2001:db9:: ffff:ffff:: scram-sha-256\n" /* 3 */
	    "host b all ::/0 reject\n"				/* 4 */
	    "host c all 2001:db8::1:0/127 trust\n"		/* 5 */
	    "host d all ::ffff:0:0/96 md5\n"			/* 6 */
	    "host e all fe80::1234/10 trust\n";			/* 7 */
	static const struct match_case cases[] = {
	    {"tcp", "::1", "a", "u", HBA_TRUST, 1},
	    {"tcp", "::2", "a", "u", NO_MATCH, 0},
	    {"tcp", "2001:db8:ffff::1", "a", "u", HBA_MD5, 2},
	    {"tcp", "2001:db9:1::1", "a", "u", HBA_SCRAM, 3},
	    {"tcp", "2001:dba::1", "a", "u", NO_MATCH, 0},
	    {"tcp", "127.0.0.1", "a", "u", NO_MATCH, 0},
	    {"tcp", "ffff::", "b", "u", HBA_REJECT, 4},
	    {"tcp", "1.2.3.4", "b", "u", NO_MATCH, 0},
	    {"tcp", "2001:db8::1:0", "c", "u", HBA_TRUST, 5},
	    {"tcp", "2001:db8::1:1", "c", "u", HBA_TRUST, 5},
	    {"tcp", "2001:db8::1:2", "c", "u", NO_MATCH, 0},
	    /* A mapped address still matches IPv6 rules in its own form. */
	    {"tcp", "::ffff:1.2.3.4", "d", "u", HBA_MD5, 6},
	    {"tcp", "febf::1", "e", "u", HBA_TRUST, 7},
	    {"tcp", "fec0::1", "e", "u", NO_MATCH, 0},
	};

	(void)state;
	check_matches(text, cases, ARRAY_LEN(cases));
}

static void test_conn_types(void **state)
{
	static const char text[] = "local     a all trust\n"
				   "hostssl   b all all cert\n"
				   "hostnossl b all all md5\n"
				   "host      c all all scram-sha-256\n"
				   "hostnossl d all all reject\n";
	static const struct match_case cases[] = {
	    {"local", NULL, "a", "u", HBA_TRUST, 1},
	    {"tcp", "127.0.0.1", "a", "u", NO_MATCH, 0},
	    {"ssl", "127.0.0.1", "b", "u", HBA_CERT, 2},
	    {"tcp", "127.0.0.1", "b", "u", HBA_MD5, 3},
	    {"local", NULL, "b", "u", NO_MATCH, 0},
	    {"ssl", "::1", "c", "u", HBA_SCRAM, 4},
	    {"tcp", "::1", "c", "u", HBA_SCRAM, 4},
	    {"local", NULL, "c", "u", NO_MATCH, 0},
	    {"tcp", "::1", "d", "u", HBA_REJECT, 5},
	    {"ssl", "::1", "d", "u", NO_MATCH, 0},
	};

	(void)state;
	check_matches(text, cases, ARRAY_LEN(cases));
}

static void test_clientcert(void **state)
{
	static const char text[] =
	    "hostssl a all all md5\n"
	    "hostssl b all all md5 clientcert=verify-ca\n"
	    "hostssl c all all scram-sha-256 clientcert=verify-full\n"
	    "hostssl d all all cert\n"
	    "hostssl e all all cert clientcert=verify-full\n";
	static const struct {
		const char *db;
		enum hba_clientcert want;
	} cases[] = {
	    {"a", HBA_CLIENTCERT_NONE},
	    {"b", HBA_CLIENTCERT_VERIFY_CA},
	    {"c", HBA_CLIENTCERT_VERIFY_FULL},
	    {"d", HBA_CLIENTCERT_VERIFY_FULL},
	    {"e", HBA_CLIENTCERT_VERIFY_FULL},
	    {"z", HBA_CLIENTCERT_NONE},
	};
	struct hba *h = parse_ok(text, 5);

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct hba_query q = query("ssl", "10.0.0.1", cases[i].db, "u");
		enum hba_clientcert cc = 99;

		(void)hba_match(h, &q, NULL, NULL, &cc);
		assert_int_equal(cc, cases[i].want);
	}
	hba_free(h);
}

static void test_empty_file_rejects(void **state)
{
	struct hba *h = parse_ok("# nothing\n", 0);
	struct hba_query q = query("local", NULL, "db", "u");
	bool matched = true;
	unsigned line = 7;

	(void)state;
	assert_int_equal(hba_match(h, &q, &matched, &line, NULL), HBA_REJECT);
	assert_false(matched);
	assert_int_equal(line, 0);
	hba_free(h);
	hba_free(NULL);
}

/* Rules made of keywords only: no name stored at all. */
static void test_keywords_only(void **state)
{
	static const char text[] = "host sameuser all all md5\n"
				   "local all all reject\n";
	static const struct match_case cases[] = {
	    {"tcp", "10.0.0.1", "u", "u", HBA_MD5, 1},
	    {"tcp", "10.0.0.1", "db", "u", NO_MATCH, 0},
	    {"local", NULL, "db", "u", HBA_REJECT, 2},
	};

	(void)state;
	check_matches(text, cases, ARRAY_LEN(cases));
}

static void test_method_names(void **state)
{
	(void)state;
	assert_string_equal(hba_method_name(HBA_TRUST), "trust");
	assert_string_equal(hba_method_name(HBA_REJECT), "reject");
	assert_string_equal(hba_method_name(HBA_MD5), "md5");
	assert_string_equal(hba_method_name(HBA_SCRAM), "scram-sha-256");
	assert_string_equal(hba_method_name(HBA_CERT), "cert");
}

/* 10,000 rules parse, and the last one is found. */
static void test_large_file(void **state)
{
	const unsigned n = 10000;
	char *text = malloc((size_t)n * 64);
	size_t len = 0;
	struct hba *h;
	struct hba_query q = query("tcp", "10.39.15.7", "db9999", "u9999");
	unsigned line;

	(void)state;
	assert_non_null(text);
	for (unsigned i = 0; i < n; i++)
		len += (size_t)sprintf(text + len,
				       "host db%u u%u 10.%u.%u.0/24 md5\n", i,
				       i, i / 256 % 256, i % 256);
	h = parse_ok(text, n);
	assert_int_equal(hba_match(h, &q, NULL, &line, NULL), HBA_MD5);
	assert_int_equal(line, n);
	hba_free(h);
	free(text);
}

/* Every prefix of a valid file parses or fails cleanly; each prefix is
 * copied to its own allocation so ASan sees any read past its end. */
static void test_prefixes(void **state)
{
	static const char text[] =
	    "# TYPE DATABASE USER ADDRESS METHOD\n"
	    "local all postgres trust\n"
	    "host \"my db\",other \"a \"\"b\",c 10.0.0.0/8 md5\n"
	    "hostssl all all ::1/128 cert clientcert=verify-full\n"
	    "hostnossl sameuser all 192.168.0.0 255.255.0.0 \\\n"
	    "  scram-sha-256  # continued\r\n"
	    "host all all all reject\n";
	char errs[MAX_ERRS][HBA_ERROR_LEN];

	(void)state;
	for (size_t n = 0; n <= sizeof(text) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		unsigned nerrs;
		struct hba *h;

		memcpy(copy, text, n);
		h = hba_parse(copy, n, "p", errs, MAX_ERRS, &nerrs);
		assert_true((h == NULL) == (nerrs > 0));
		hba_free(h);
		free(copy);
	}
	hba_free(parse_ok(text, 5));
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_error_collection),
	    cmocka_unit_test(test_long_error),
	    cmocka_unit_test(test_match_order),
	    cmocka_unit_test(test_ipv4_masks),
	    cmocka_unit_test(test_ipv6_masks),
	    cmocka_unit_test(test_conn_types),
	    cmocka_unit_test(test_clientcert),
	    cmocka_unit_test(test_empty_file_rejects),
	    cmocka_unit_test(test_keywords_only),
	    cmocka_unit_test(test_method_names),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
