/* Unit tests for session parameters: the owned name/value set, its
 * ParameterStatus output, the session parameters read from a startup packet
 * (options switches included) and the decision whether a login needs a
 * server. Run under ASan to catch leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"
#include "proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KV_MAX	     16 /* name, value, name, value, ..., NULL */

/* Number of name/value pairs in a NULL-terminated kv list. */
static unsigned kv_count(const char *const *kv)
{
	unsigned n = 0;

	while (kv[2 * n] != NULL)
		n++;
	return n;
}

/* Fills p from a NULL-terminated kv list. */
static void fill(struct params *p, const char *const *kv)
{
	for (unsigned i = 0; kv[2 * i] != NULL; i++)
		assert_true(params_set(p, kv[2 * i], kv[2 * i + 1]));
}

/* p holds exactly the pairs of kv. */
static void assert_params(const struct params *p, const char *const *kv)
{
	assert_int_equal(p->n, kv_count(kv));
	for (unsigned i = 0; kv[2 * i] != NULL; i++) {
		const char *v = params_get(p, kv[2 * i]);

		if (v == NULL)
			fail_msg("parameter \"%s\" missing", kv[2 * i]);
		assert_string_equal(v, kv[2 * i + 1]);
	}
}

static void test_set_get(void **state)
{
	struct params p = {0};

	(void)state;
	assert_null(params_get(&p, "TimeZone"));
	assert_true(params_set(&p, "TimeZone", "UTC"));
	assert_true(params_set(&p, "DateStyle", "ISO, MDY"));
	assert_int_equal(p.n, 2);
	assert_string_equal(params_get(&p, "TimeZone"), "UTC");
	assert_string_equal(params_get(&p, "DateStyle"), "ISO, MDY");
	/* Replacing keeps one entry; the empty value is a value. */
	assert_true(params_set(&p, "TimeZone", "Europe/Paris"));
	assert_true(params_set(&p, "application_name", ""));
	assert_int_equal(p.n, 3);
	assert_string_equal(params_get(&p, "TimeZone"), "Europe/Paris");
	assert_string_equal(params_get(&p, "application_name"), "");
	/* Names are compared exactly. */
	assert_null(params_get(&p, "TimeZon"));
	assert_null(params_get(&p, "TimeZoneX"));
	params_clear(&p);
	assert_int_equal(p.n, 0);
	assert_null(params_get(&p, "TimeZone"));
	/* A cleared set is usable again. */
	assert_true(params_set(&p, "a", "1"));
	assert_string_equal(params_get(&p, "a"), "1");
	params_clear(&p);
	params_clear(&p);
}

static void test_full(void **state)
{
	struct params p = {0};
	char name[16];

	(void)state;
	for (unsigned i = 0; i < PARAMS_MAX; i++) {
		snprintf(name, sizeof(name), "p%u", i);
		assert_true(params_set(&p, name, name));
	}
	assert_false(params_set(&p, "one_more", "x"));
	assert_int_equal(p.n, PARAMS_MAX);
	assert_null(params_get(&p, "one_more"));
	/* A full set still replaces values. */
	assert_true(params_set(&p, "p0", "new"));
	assert_string_equal(params_get(&p, "p0"), "new");
	params_clear(&p);
}

static void test_unset(void **state)
{
	static const char *const start[] = {"a", "1", "b", "2", "c",
					    "3", "d", "4", NULL};
	static const struct {
		const char *name;
		const char *const left[KV_MAX];
	} steps[] = {
	    {"absent", {"a", "1", "b", "2", "c", "3", "d", "4", NULL}},
	    {"b", {"a", "1", "c", "3", "d", "4", NULL}},
	    {"d", {"a", "1", "c", "3", NULL}}, /* the last one */
	    {"b", {"a", "1", "c", "3", NULL}}, /* twice */
	    {"a", {"c", "3", NULL}},
	    {"c", {NULL}},
	    {"c", {NULL}}, /* from an empty set */
	};
	struct params p = {0};

	(void)state;
	fill(&p, start);
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		params_unset(&p, steps[i].name);
		assert_params(&p, steps[i].left);
	}
	/* Still usable. */
	assert_true(params_set(&p, "e", "5"));
	assert_string_equal(params_get(&p, "e"), "5");
	params_clear(&p);
}

static void test_copy(void **state)
{
	static const char *const src_kv[] = {"client_encoding", "UTF8",
					     "TimeZone", "UTC", NULL};
	struct params src = {0}, dst = {0}, empty = {0};

	(void)state;
	fill(&src, src_kv);
	assert_true(params_set(&dst, "stale", "x"));
	assert_true(params_copy(&dst, &src));
	assert_params(&dst, src_kv);
	/* Deep copy: changing one leaves the other alone. */
	assert_true(params_set(&src, "TimeZone", "Asia/Tokyo"));
	assert_string_equal(params_get(&dst, "TimeZone"), "UTC");
	assert_true(params_copy(&dst, &empty));
	assert_int_equal(dst.n, 0);
	params_clear(&src);
	params_clear(&dst);
}

/* ParameterStatus messages in buf, parsed back into p. */
static void parse_statuses(const uint8_t *buf, size_t len, struct params *p)
{
	size_t off = 0;

	while (off < len) {
		uint8_t type = 0;
		uint32_t mlen = 0;
		size_t name_off, value_off;

		assert_int_equal(proto_header_parse(buf + off, len - off,
						    1 << 20, &type, &mlen),
				 PROTO_OK);
		assert_int_equal(type, 'S');
		assert_true(off + 1 + mlen <= len);
		const uint8_t *body = buf + off + PROTO_HEADER_LEN;
		assert_int_equal(proto_parameter_status_parse(
				     body, mlen - 4, &name_off, &value_off),
				 PROTO_OK);
		/* Exactly two strings fill the body. */
		assert_int_equal(value_off +
				     strlen((const char *)body + value_off) + 1,
				 mlen - 4);
		assert_null(params_get(p, (const char *)body + name_off));
		assert_true(params_set(p, (const char *)body + name_off,
				       (const char *)body + value_off));
		off += 1 + (size_t)mlen;
	}
	assert_int_equal(off, len);
}

static void test_write(void **state)
{
	static const char *const kv[] = {"server_version",
					 "15.8",
					 "DateStyle",
					 "ISO, MDY",
					 "application_name",
					 "",
					 "search_path",
					 "\"$user\", public",
					 NULL};
	struct params p = {0}, back = {0};
	uint8_t buf[1024];
	struct proto_writer w;

	(void)state;
	/* An empty set writes nothing. */
	proto_writer_init(&w, buf, sizeof(buf));
	params_write(&p, &w);
	assert_int_equal(w.len, 0);
	assert_false(w.overflow);

	fill(&p, kv);
	proto_writer_init(&w, buf, sizeof(buf));
	params_write(&p, &w);
	assert_false(w.overflow);
	parse_statuses(buf, w.len, &back);
	assert_params(&back, kv);
	/* The first message, byte for byte. */
	assert_memory_equal(buf,
			    "S\0\0\0\x18server_version\0"
			    "15.8\0",
			    25);

	/* Too small a buffer: the overflow is sticky. */
	proto_writer_init(&w, buf, 30);
	params_write(&p, &w);
	assert_true(w.overflow);
	params_clear(&p);
	params_clear(&back);
}

/* A v3 StartupMessage with the given parameters, built with the proto
 * writer; its length is returned. */
static uint32_t build_startup(uint8_t *buf, size_t cap, const char *const *kv)
{
	struct proto_writer w;

	proto_writer_init(&w, buf, cap);
	proto_put_u32(&w, 0); /* length, patched below */
	proto_put_u32(&w, PROTO_CODE_V3);
	for (unsigned i = 0; kv[2 * i] != NULL; i++) {
		proto_put_str(&w, kv[2 * i]);
		proto_put_str(&w, kv[2 * i + 1]);
	}
	proto_put_u8(&w, 0);
	assert_false(w.overflow);
	buf[0] = (uint8_t)(w.len >> 24);
	buf[1] = (uint8_t)(w.len >> 16);
	buf[2] = (uint8_t)(w.len >> 8);
	buf[3] = (uint8_t)w.len;
	return (uint32_t)w.len;
}

static const char *long_name(void)
{
	static char name[65];

	memset(name, 'x', 64);
	name[64] = '\0';
	return name;
}

static const char *max_name(void)
{
	static char name[64];

	memset(name, 'y', 63);
	name[63] = '\0';
	return name;
}

/* Expected outcome: the parameters (sqlstate NULL), or the SQLSTATE and a
 * piece of the message. */
struct startup_case {
	const char *what;
	const char *kv[KV_MAX];	  /* startup packet, user/database added */
	const char *want[KV_MAX]; /* session parameters */
	const char *sqlstate;
	const char *msg; /* substring of the error message */
};

static const struct startup_case startup_cases[] = {
    {"no parameters: empty application_name",
     {NULL},
     {"application_name", "", NULL},
     NULL,
     NULL},
    {"parameters kept as sent",
     {"application_name", "psql", "client_encoding", "UTF8", "DateStyle",
      "ISO, MDY", "TimeZone", "Europe/Paris", NULL},
     {"application_name", "psql", "client_encoding", "UTF8", "DateStyle",
      "ISO, MDY", "TimeZone", "Europe/Paris", NULL},
     NULL,
     NULL},
    {"unreported parameters kept too",
     {"statement_timeout", "5s", "extra_float_digits", "3", NULL},
     {"statement_timeout", "5s", "extra_float_digits", "3", "application_name",
      "", NULL},
     NULL,
     NULL},
    {"replication and _pq_ options skipped",
     {"replication", "database", "_pq_.compression", "on", NULL},
     {"application_name", "", NULL},
     NULL,
     NULL},
    {"explicit empty application_name",
     {"application_name", "", NULL},
     {"application_name", "", NULL},
     NULL,
     NULL},
    {"options: -c name=value",
     {"options", "-c search_path=app", NULL},
     {"search_path", "app", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: -cname=value",
     {"options", "-csearch_path=app", NULL},
     {"search_path", "app", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: --name=value, dashes to underscores",
     {"options", "--statement-timeout=5s", NULL},
     {"statement_timeout", "5s", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: dashes in the value kept",
     {"options", "--application-name=my-app", NULL},
     {"application_name", "my-app", NULL},
     NULL,
     NULL},
    {"options: escaped space",
     {"options", "-c search_path=a,\\ b", NULL},
     {"search_path", "a, b", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: escaped backslash",
     {"options", "-c x.y=a\\\\b", NULL},
     {"x.y", "a\\b", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: '=' in the value",
     {"options", "-c x.y=a=b", NULL},
     {"x.y", "a=b", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: empty value",
     {"options", "-c search_path=", NULL},
     {"search_path", "", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: several switches, extra blanks",
     {"options", "  -c a=1\t-cb=2   --c-d=3 -c application_name=x  ", NULL},
     {"a", "1", "b", "2", "c_d", "3", "application_name", "x", NULL},
     NULL,
     NULL},
    {"options: empty string",
     {"options", "", NULL},
     {"application_name", "", NULL},
     NULL,
     NULL},
    {"options and parameters together",
     {"application_name", "app", "options", "-c geqo=off", "TimeZone", "UTC",
      NULL},
     {"application_name", "app", "geqo", "off", "TimeZone", "UTC", NULL},
     NULL,
     NULL},
    {"longest valid name",
     {"x", "1", NULL},
     {"x", "1", "application_name", "", NULL},
     NULL,
     NULL},
    {"options: unknown switch",
     {"options", "-B 100", NULL},
     {NULL},
     "0A000",
     "\"-B\""},
    {"options: bare word",
     {"options", "geqo=off", NULL},
     {NULL},
     "0A000",
     "geqo=off"},
    {"options: unknown switch after a good one",
     {"options", "-c a=1 -F", NULL},
     {NULL},
     "0A000",
     "\"-F\""},
    {"options: -c without '='",
     {"options", "-c geqo", NULL},
     {NULL},
     "42601",
     "requires a value"},
    {"options: -c at the end",
     {"options", "-c", NULL},
     {NULL},
     "42601",
     "requires a value"},
    {"options: --name without '='",
     {"options", "--geqo", NULL},
     {NULL},
     "42601",
     "requires a value"},
    {"invalid name: semicolon",
     {"a;drop", "1", NULL},
     {NULL},
     "42704",
     "unrecognized configuration parameter \"a;drop\""},
    {"invalid name: quote",
     {"a'b", "1", NULL},
     {NULL},
     "42704",
     "unrecognized configuration parameter"},
    {"invalid name: in options",
     {"options", "-c a;drop=1", NULL},
     {NULL},
     "42704",
     "\"a;drop\""},
    /* An empty name cannot be sent as a parameter: it ends the list. */
    {"invalid name: empty, in options",
     {"options", "-c =1", NULL},
     {NULL},
     "42704",
     "unrecognized configuration parameter"},
    {"invalid name: 64 characters",
     {"long", "1", NULL},
     {NULL},
     "42704",
     "unrecognized configuration parameter"},
};

/* Replaces the placeholders "x" (63 characters) and "long" (64) by names
 * of those lengths. */
static const char *case_name(const char *name)
{
	if (strcmp(name, "x") == 0)
		return max_name();
	if (strcmp(name, "long") == 0)
		return long_name();
	return name;
}

static void run_startup_case(const struct startup_case *tc)
{
	const char *kv[KV_MAX + 4] = {"user", "app", "database", "appdb"};
	const char *want[KV_MAX];
	uint8_t pkt[PROTO_STARTUP_MAX];
	struct proto_startup st;
	struct params out = {0};
	const char *perr = NULL, *state;
	char err[256] = "";
	unsigned n = 4;

	for (unsigned i = 0; tc->kv[i] != NULL; i++, n++)
		kv[n] = i % 2 == 0 ? case_name(tc->kv[i]) : tc->kv[i];
	kv[n] = NULL;
	for (n = 0; tc->want[n] != NULL; n++)
		want[n] = n % 2 == 0 ? case_name(tc->want[n]) : tc->want[n];
	want[n] = NULL;

	uint32_t len = build_startup(pkt, sizeof(pkt), kv);
	if (proto_startup_parse(pkt, len, &st, &perr) != PROTO_OK)
		fail_msg("%s: %s", tc->what, perr);
	state = params_from_startup(&out, pkt, &st, err, sizeof(err));
	if (tc->sqlstate == NULL) {
		if (state != NULL)
			fail_msg("%s: unexpected %s: %s", tc->what, state, err);
		assert_params(&out, want);
	} else {
		if (state == NULL)
			fail_msg("%s: expected %s", tc->what, tc->sqlstate);
		assert_string_equal(state, tc->sqlstate);
		if (strstr(err, tc->msg) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", tc->what,
				 err, tc->msg);
	}
	params_clear(&out);
}

static void test_from_startup(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(startup_cases); i++)
		run_startup_case(&startup_cases[i]);
}

/* The packet's own bytes, as written by hand: offsets point into it. */
static void test_from_startup_by_hand(void **state)
{
	static const uint8_t pkt[] = "\0\0\0\x41"
				     "\0\x03\0\0"
				     "user\0u\0"
				     "options\0-c search_path=s\0"
				     "database\0d\0"
				     "TimeZone\0UTC\0"
				     "\0";
	static const char *const want[] = {
	    "search_path",	"s", "TimeZone", "UTC",
	    "application_name", "",  NULL};
	struct proto_startup st;
	struct params out = {0};
	const char *perr = NULL;
	char err[64];

	(void)state;
	assert_int_equal(sizeof(pkt) - 1, 0x41);
	assert_int_equal(proto_startup_parse(pkt, sizeof(pkt) - 1, &st, &perr),
			 PROTO_OK);
	assert_null(params_from_startup(&out, pkt, &st, err, sizeof(err)));
	assert_params(&out, want);
	params_clear(&out);
}

/* A message longer than the buffer is cut, still terminated. */
static void test_from_startup_small_err(void **state)
{
	const char *const kv[] = {"user", "u", "options", "-Z", NULL};
	uint8_t pkt[256];
	struct proto_startup st;
	struct params out = {0};
	const char *perr = NULL;
	char err[8];

	(void)state;
	uint32_t len = build_startup(pkt, sizeof(pkt), kv);
	assert_int_equal(proto_startup_parse(pkt, len, &st, &perr), PROTO_OK);
	assert_string_equal(
	    params_from_startup(&out, pkt, &st, err, sizeof(err)), "0A000");
	assert_int_equal(strlen(err), sizeof(err) - 1);
	params_clear(&out);
}

/* More settings than a set holds: refused, nothing leaked. */
static void test_from_startup_too_many(void **state)
{
	char opts[PARAMS_MAX * 16];
	const char *const kv[] = {"user", "u", "options", opts, NULL};
	uint8_t pkt[PROTO_STARTUP_MAX];
	struct proto_startup st;
	struct params out = {0};
	const char *perr = NULL;
	char err[128];
	size_t n = 0;

	(void)state;
	for (unsigned i = 0; i <= PARAMS_MAX; i++)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n, "-c p%u=1 ",
				      i);
	uint32_t len = build_startup(pkt, sizeof(pkt), kv);
	assert_int_equal(proto_startup_parse(pkt, len, &st, &perr), PROTO_OK);
	assert_string_equal(
	    params_from_startup(&out, pkt, &st, err, sizeof(err)), "54000");
	params_clear(&out);
}

static void test_need_server(void **state)
{
	static const char *const base_kv[] = {"application_name",
					      "",
					      "client_encoding",
					      "UTF8",
					      "DateStyle",
					      "ISO, MDY",
					      "TimeZone",
					      "UTC",
					      "server_version",
					      "15.8",
					      NULL};
	static const struct {
		const char *what;
		const char *want[KV_MAX];
		bool need;
	} cases[] = {
	    {"nothing asked", {NULL}, false},
	    {"identical values",
	     {"application_name", "", "client_encoding", "UTF8", "DateStyle",
	      "ISO, MDY", "TimeZone", "UTC", NULL},
	     false},
	    {"plain ASCII application_name",
	     {"application_name", "pgbench", NULL},
	     false},
	    {"application_name with every printable character",
	     {"application_name", " ~!#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}",
	      NULL},
	     false},
	    {"application_name of 63 characters",
	     {"application_name",
	      "123456789012345678901234567890123456789012345678901234567890123",
	      NULL},
	     false},
	    {"application_name of 64 characters",
	     {"application_name",
	      "123456789012345678901234567890123456789012345678901234567890123"
	      "4",
	      NULL},
	     true},
	    {"application_name with UTF-8",
	     {"application_name", "caf\xc3\xa9", NULL},
	     true},
	    {"application_name with a tab",
	     {"application_name", "a\tb", NULL},
	     true},
	    {"application_name with DEL",
	     {"application_name", "a\x7f", NULL},
	     true},
	    {"differing DateStyle", {"DateStyle", "German", NULL}, true},
	    {"DateStyle the server would normalise",
	     {"DateStyle", "iso", NULL},
	     true},
	    {"differing client_encoding",
	     {"client_encoding", "LATIN1", NULL},
	     true},
	    {"parameter the server does not report",
	     {"statement_timeout", "5s", NULL},
	     true},
	    {"plain application_name and an unreported parameter",
	     {"application_name", "app", "search_path", "s", NULL},
	     true},
	    /* PostgreSQL matches names without regard to case. */
	    {"name differing in case only", {"timezone", "UTC", NULL}, false},
	    {"name differing in case, value too",
	     {"timezone", "Asia/Tokyo", NULL},
	     true},
	};
	struct params base = {0};

	(void)state;
	fill(&base, base_kv);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct params want = {0};

		fill(&want, cases[i].want);
		if (params_need_server(&want, &base) != cases[i].need)
			fail_msg("%s: expected %s", cases[i].what,
				 cases[i].need ? "true" : "false");
		params_clear(&want);
	}
	params_clear(&base);
}

/* Equal sets (names in any case, any order) share one copy; a different
 * one gets its own; the last reference frees it (ASan checks). A set
 * replacing a value with one of its own names keeps both intact. */
static void test_share(void **state)
{
	struct params a = {0}, b = {0}, c = {0};
	(void)state;
	assert_true(params_set(&a, "application_name", "x"));
	assert_true(params_set(&a, "TimeZone", "UTC"));
	assert_true(params_set(&b, "timezone", "UTC"));
	assert_true(params_set(&b, "application_name", "x"));
	assert_true(params_set(&c, "application_name", "y"));
	struct params_shared *sa = params_share(&a);
	struct params_shared *sb = params_share(&b);
	struct params_shared *sc = params_share(&c);
	assert_non_null(sa);
	assert_ptr_equal(sa, sb);
	assert_ptr_not_equal(sa, sc);
	assert_string_equal(params_get(params_shared_get(sa), "timezone"),
			    "UTC");
	assert_int_equal(params_shared_get(NULL)->n, 0);
	params_unshare(sb);
	assert_string_equal(params_get(params_shared_get(sa), "timezone"),
			    "UTC");
	params_unshare(sa);
	params_unshare(sc);
	params_unshare(NULL);
	/* The value comes from the entry it replaces. */
	assert_true(params_set(&a, "TimeZone", a.name[1]));
	assert_string_equal(params_get(&a, "timezone"), "TimeZone");
	assert_string_equal(a.name[1], "TimeZone");
	params_clear(&a);
	params_clear(&b);
	params_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_get),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_unset),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_write),
	    cmocka_unit_test(test_from_startup),
	    cmocka_unit_test(test_from_startup_by_hand),
	    cmocka_unit_test(test_from_startup_small_err),
	    cmocka_unit_test(test_from_startup_too_many),
	    cmocka_unit_test(test_need_server),
	    cmocka_unit_test(test_share),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
