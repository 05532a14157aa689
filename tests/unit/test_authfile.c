/* Unit tests for the auth file: quoting and escapes, comments, the three
 * kinds of secret, every error message (none quoting a secret), duplicate
 * users, a large file and every prefix of a valid one. Run under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authfile.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ERRS     8

#define SALT   "cGl0bGFuZS1zYWx0LTE2Yg=="
#define STORED "h7BOWJYfmpnYU9QEagtbeT58Pku9IfWsqPsXwgzbHYs="
#define SERVER "s+rNM0M7MbUlI1EDLJs+ei56p3ONXezfDdbGJoCFPAY="
#define SCRAM  "SCRAM-SHA-256$4096:" SALT "$" STORED ":" SERVER
#define MD5    "md54a0a68b43b6cd5cf266fa02f196e2371"

static struct authfile *parse(const char *text, unsigned *nerrs,
			      char errs[][AUTHFILE_ERROR_LEN])
{
	return authfile_parse(text, strlen(text), "users.txt", errs, MAX_ERRS,
			      nerrs);
}

static struct authfile *parse_ok(const char *text, unsigned n)
{
	char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
	unsigned nerrs = 99;
	struct authfile *a = parse(text, &nerrs, errs);

	if (a == NULL)
		fail_msg("\"%s\" failed: %s", text, nerrs ? errs[0] : "?");
	assert_int_equal(nerrs, 0);
	assert_int_equal(authfile_count(a), n);
	/* every user once, in strcmp order, each found by lookup */
	for (unsigned i = 0; i < n; i++) {
		const char *u = authfile_user(a, i);
		assert_non_null(authfile_lookup(a, u, NULL));
		if (i > 0)
			assert_true(strcmp(authfile_user(a, i - 1), u) < 0);
	}
	assert_null(authfile_user(a, n));
	return a;
}

static void expect(const struct authfile *a, const char *user,
		   const char *secret, enum authfile_kind kind)
{
	enum authfile_kind k = 99;
	const char *s = authfile_lookup(a, user, &k);

	if (s == NULL)
		fail_msg("user \"%s\" not found", user);
	assert_string_equal(s, secret);
	assert_int_equal(k, kind);
}

static void test_syntax(void **state)
{
	static const struct {
		const char *text;
		const char *user;
		const char *secret;
		enum authfile_kind kind;
	} cases[] = {
	    {"\"alice\" \"" SCRAM "\"", "alice", SCRAM, AUTHFILE_SCRAM},
	    {"\"alice\" \"" SCRAM "\"\n", "alice", SCRAM, AUTHFILE_SCRAM},
	    {"\"bob\" \"" MD5 "\"\r\n", "bob", MD5, AUTHFILE_MD5},
	    {"\"bob\" \"md54A0A68B43B6CD5CF266FA02F196E2371\"", "bob", MD5,
	     AUTHFILE_MD5},
	    {"  \"bob\"\t\"" MD5 "\"  ", "bob", MD5, AUTHFILE_MD5},
	    {"\"bob\"\"\" \"x\"", "bob\"", "x", AUTHFILE_PLAIN},
	    {"\"bob\"\"\"\"x\"", "bob\"\"x", NULL, AUTHFILE_PLAIN},
	    {"\"b\"\"o\"\"b\" \"p\"\"w\"", "b\"o\"b", "p\"w", AUTHFILE_PLAIN},
	    {"\"a b,c\" \"pass word\"", "a b,c", "pass word", AUTHFILE_PLAIN},
	    {"\"bob\"\"x\"", NULL, NULL, AUTHFILE_PLAIN},
	    {"\"bob\" \"x\" trailing text ignored", "bob", "x", AUTHFILE_PLAIN},
	    {"\"bob\" \"x\" \"third\"", "bob", "x", AUTHFILE_PLAIN},
	    {"\"bob\"\"\"\"x\" \"y\"", "bob\"\"x", "y", AUTHFILE_PLAIN},
	    {"; comment\n# comment\n  ; indented\n\n\t\n\"u\" \"p\"", "u", "p",
	     AUTHFILE_PLAIN},
	    /* Near misses of the hashed forms are plaintext passwords. */
	    {"\"u\" \"md5\"", "u", "md5", AUTHFILE_PLAIN},
	    {"\"u\" \"md54a0a68b43b6cd5cf266fa02f196e237\"", "u",
	     "md54a0a68b43b6cd5cf266fa02f196e237", AUTHFILE_PLAIN},
	    {"\"u\" \"md54a0a68b43b6cd5cf266fa02f196e23711\"", "u",
	     "md54a0a68b43b6cd5cf266fa02f196e23711", AUTHFILE_PLAIN},
	    {"\"u\" \"md54a0a68b43b6cd5cf266fa02f196e237g\"", "u",
	     "md54a0a68b43b6cd5cf266fa02f196e237g", AUTHFILE_PLAIN},
	    {"\"u\" \"MD54a0a68b43b6cd5cf266fa02f196e2371\"", "u",
	     "MD54a0a68b43b6cd5cf266fa02f196e2371", AUTHFILE_PLAIN},
	    {"\"u\" \"scram-sha-256$x\"", "u", "scram-sha-256$x",
	     AUTHFILE_PLAIN},
	    {"\"u\" \"SCRAM-SHA-256\"", "u", "SCRAM-SHA-256", AUTHFILE_PLAIN},
	    {"\"u\" \"SCRAM-SHA-256$1:AAAA$" STORED ":" SERVER "\"", "u",
	     "SCRAM-SHA-256$1:AAAA$" STORED ":" SERVER, AUTHFILE_SCRAM},
	    {"\"u\" \"SCRAM-SHA-256$4096:QQ==$" STORED ":" SERVER "\"", "u",
	     "SCRAM-SHA-256$4096:QQ==$" STORED ":" SERVER, AUTHFILE_SCRAM},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
		unsigned nerrs;
		struct authfile *a = parse(cases[i].text, &nerrs, errs);

		if (cases[i].user == NULL || cases[i].secret == NULL) {
			/* `""` inside a field escapes, so these lines lack
			 * a second field. */
			assert_null(a);
			continue;
		}
		if (a == NULL)
			fail_msg("case %zu: %s", i, errs[0]);
		assert_int_equal(authfile_count(a), 1);
		expect(a, cases[i].user, cases[i].secret, cases[i].kind);
		assert_int_equal(authfile_plain_count(a),
				 cases[i].kind == AUTHFILE_PLAIN);
		authfile_free(a);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
	    {"alice \"SECRET\"",
	     "users.txt:1: expected a double-quoted user name"},
	    {"'alice' 'SECRET'",
	     "users.txt:1: expected a double-quoted user name"},
	    {"\n\n\"alice SECRET", "users.txt:3: unterminated user name"},
	    {"\"alice\n\"bob\" \"SECRET\"",
	     "users.txt:1: unterminated user name"},
	    {"\"\" \"SECRET\"", "users.txt:1: empty user name"},
	    {"\"alice\"",
	     "users.txt:1: expected a double-quoted secret for user \"alice\""},
	    {"\"alice\" SECRET",
	     "users.txt:1: expected a double-quoted secret for user \"alice\""},
	    {"\"alice\" ; \"SECRET\"",
	     "users.txt:1: expected a double-quoted secret for user \"alice\""},
	    {"\"alice\" \"SECRET",
	     "users.txt:1: unterminated secret for user \"alice\""},
	    {"\"alice\" \"SECRET\"\"",
	     "users.txt:1: unterminated secret for user \"alice\""},
	    {"\"alice\" \"\"", "users.txt:1: empty secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$SECRET\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$0:" SALT "$" STORED ":" SERVER
	     "SECRET\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$0:" SALT "$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$1234567890:" SALT "$" STORED ":" SERVER
	     "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$-1:" SALT "$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096$" SALT "$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:abc$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:ab!d$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:a===$" STORED ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT "$" STORED "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT "$" STORED ":\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT "$" STORED ":" SERVER "x\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT "$" SALT ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT
	     "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	    {"\"alice\" \"SCRAM-SHA-256$4096:" SALT "$" STORED ":" SERVER
	     ":" SERVER "\"",
	     "users.txt:1: malformed SCRAM-SHA-256 secret for user \"alice\""},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
		unsigned nerrs = 99;
		struct authfile *a = parse(cases[i].text, &nerrs, errs);

		if (a != NULL)
			fail_msg("\"%s\" parsed", cases[i].text);
		assert_int_equal(nerrs, 1);
		assert_string_equal(errs[0], cases[i].err);
		assert_null(strstr(errs[0], "SECRET"));
		assert_null(strstr(errs[0], SALT));
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "\"a\" \"b\"\n\"c\" \"d\0e\"\n";
	char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
	unsigned nerrs;

	(void)state;
	assert_null(authfile_parse(text, sizeof(text) - 1, "users.txt", errs,
				   MAX_ERRS, &nerrs));
	assert_int_equal(nerrs, 1);
	assert_string_equal(errs[0], "users.txt:2: invalid NUL byte");
}

/* Every bad line is reported, duplicates after them; up to max_errs. */
static void test_error_collection(void **state)
{
	static const char text[] = "\"a\" \"1\"\n"
				   "b \"2\"\n"
				   "\"a\" \"3\"\n"
				   "\"c\" \"\"\n"
				   "\"c\" \"4\"\n"
				   "\"a\" \"5\"\n";
	char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
	unsigned nerrs = 99;

	(void)state;
	assert_null(parse(text, &nerrs, errs));
	assert_int_equal(nerrs, 4);
	assert_string_equal(errs[0],
			    "users.txt:2: expected a double-quoted user name");
	assert_string_equal(errs[1],
			    "users.txt:4: empty secret for user \"c\"");
	assert_string_equal(errs[2], "users.txt:3: duplicate user \"a\" (first "
				     "on line 1)");
	assert_string_equal(errs[3], "users.txt:6: duplicate user \"a\" (first "
				     "on line 1)");
	assert_null(authfile_parse(text, strlen(text), "f", errs, 1, &nerrs));
	assert_int_equal(nerrs, 1);
	assert_null(authfile_parse(text, strlen(text), "f", NULL, 0, &nerrs));
	assert_int_equal(nerrs, 0);
}

static void test_lookup(void **state)
{
	static const char text[] = "; users\n"
				   "\"zed\" \"" SCRAM "\"\n"
				   "\"alice\" \"" MD5 "\"\n"
				   "\"Alice\" \"plain\"\n"
				   "\"bob\" \"hunter2\"\n"
				   "\"\xc3\xa9mile\" \"" SCRAM "\"\n";
	struct authfile *a = parse_ok(text, 5);
	enum authfile_kind k;

	(void)state;
	expect(a, "zed", SCRAM, AUTHFILE_SCRAM);
	expect(a, "alice", MD5, AUTHFILE_MD5);
	expect(a, "Alice", "plain", AUTHFILE_PLAIN);
	expect(a, "bob", "hunter2", AUTHFILE_PLAIN);
	expect(a, "\xc3\xa9mile", SCRAM, AUTHFILE_SCRAM);
	assert_int_equal(authfile_plain_count(a), 2);
	assert_null(authfile_lookup(a, "ALICE", &k));
	assert_null(authfile_lookup(a, "alic", &k));
	assert_null(authfile_lookup(a, "alicex", &k));
	assert_null(authfile_lookup(a, "", &k));
	assert_null(authfile_lookup(a, "a", NULL));
	assert_non_null(authfile_lookup(a, "zed", NULL));
	authfile_free(a);
	authfile_free(NULL);

	a = parse_ok("; nobody\n", 0);
	assert_null(authfile_lookup(a, "alice", &k));
	authfile_free(a);
}

/* 10,000 users parse and each is found. */
static void test_large_file(void **state)
{
	const unsigned n = 10000;
	char *text = malloc((size_t)n * 200);
	size_t len = 0;
	struct authfile *a;
	char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];
	unsigned nerrs;

	(void)state;
	assert_non_null(text);
	for (unsigned i = n; i-- > 0;)
		len += (size_t)sprintf(text + len, "\"user%u\" \"%s\"\n", i,
				       i % 2 ? SCRAM : MD5);
	a = authfile_parse(text, len, "big", errs, MAX_ERRS, &nerrs);
	assert_non_null(a);
	assert_int_equal(authfile_count(a), n);
	for (unsigned i = 0; i < n; i++) {
		char user[32];

		snprintf(user, sizeof(user), "user%u", i);
		expect(a, user, i % 2 ? SCRAM : MD5,
		       i % 2 ? AUTHFILE_SCRAM : AUTHFILE_MD5);
	}
	assert_null(authfile_lookup(a, "user10000", NULL));
	authfile_free(a);
	free(text);
}

/* Every prefix of a valid file parses or fails cleanly; each prefix is
 * copied to its own allocation so ASan sees any read past its end. */
static void test_prefixes(void **state)
{
	static const char text[] = "; PgBouncer userlist\n"
				   "\"alice\" \"" SCRAM "\"\n"
				   "\"b\"\"ob\" \"" MD5 "\"\r\n"
				   "# plaintext\n"
				   "  \"carol\"\t\"pa\"\"ss\" extra\n";
	char errs[MAX_ERRS][AUTHFILE_ERROR_LEN];

	(void)state;
	for (size_t n = 0; n <= sizeof(text) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		unsigned nerrs;
		struct authfile *a;

		memcpy(copy, text, n);
		a = authfile_parse(copy, n, "p", errs, MAX_ERRS, &nerrs);
		assert_true((a == NULL) == (nerrs > 0));
		for (unsigned i = 0; i < nerrs; i++)
			assert_null(strstr(errs[i], SALT));
		authfile_free(a);
		free(copy);
	}
	authfile_free(parse_ok(text, 3));
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_error_collection),
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
