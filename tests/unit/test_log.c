/* Unit tests for log: exact JSON and text records for fixed times, escaping,
 * truncation at every buffer size, level filtering and log_emit's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Formats into a buffer large enough for every record in these tests. */
static const char *fmt(enum log_format format, int64_t ms, enum log_level level,
		       const char *msg, const struct log_field *f, size_t n)
{
	static char buf[1024];
	size_t want =
	    log_format_record(buf, sizeof(buf), format, ms, level, msg, f, n);

	assert_true(want < sizeof(buf));
	assert_int_equal(want, strlen(buf));
	return buf;
}

/* A minimal validator for the flat JSON objects log writes: string keys,
 * values that are strings, integers, true, false or null; then "\n". */
static const char *json_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	for (; *s != '"'; s++) {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s != '\\')
			continue;
		s++;
		if (*s == 'u') {
			for (int i = 1; i <= 4; i++)
				if (strchr("0123456789abcdefABCDEF", s[i]) ==
					NULL ||
				    s[i] == '\0')
					return NULL;
			s += 4;
		} else if (*s == '\0' || strchr("\"\\/bfnrt", *s) == NULL) {
			return NULL;
		}
	}
	return s + 1;
}

static const char *json_value(const char *s)
{
	static const char *const words[] = {"true", "false", "null"};

	if (*s == '"')
		return json_string(s);
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strncmp(s, words[i], strlen(words[i])) == 0)
			return s + strlen(words[i]);
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return NULL;
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

static bool json_line_valid(const char *s)
{
	if (*s++ != '{')
		return false;
	for (bool first = true; *s != '}'; first = false) {
		if (!first && *s++ != ',')
			return false;
		if ((s = json_string(s)) == NULL || *s++ != ':')
			return false;
		if ((s = json_value(s)) == NULL)
			return false;
	}
	return strcmp(s, "}\n") == 0;
}

static void test_json_record_exact(void **state)
{
	(void)state;
	const struct log_field f[] = {
	    LF_STR("pool", "main"),   LF_INT("max", 10),
	    LF_INT("neg", -42),	      LF_BOOL("tls", true),
	    LF_BOOL("ro", false),     LF_STR("user", NULL),
	    LF_INT("big", INT64_MIN),
	};

	assert_string_equal(
	    fmt(LOG_FORMAT_JSON, 0, LOG_LEVEL_INFO, "pool metrics", f,
		ARRAY_LEN(f)),
	    "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\","
	    "\"msg\":\"pool metrics\",\"pool\":\"main\",\"max\":10,"
	    "\"neg\":-42,\"tls\":true,\"ro\":false,\"user\":null,"
	    "\"big\":-9223372036854775808}\n");
	assert_string_equal(
	    fmt(LOG_FORMAT_JSON, 1795773600123, LOG_LEVEL_WARN, "x", NULL, 0),
	    "{\"ts\":\"2026-11-27T10:00:00.123Z\","
	    "\"level\":\"warn\",\"msg\":\"x\"}\n");
	assert_string_equal(
	    fmt(LOG_FORMAT_JSON, 0, LOG_LEVEL_ERROR, NULL, NULL, 0),
	    "{\"ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"level\":\"error\",\"msg\":null}\n");
}

static void test_timestamps(void **state)
{
	(void)state;
	static const struct {
		int64_t ms;
		const char *ts;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {1, "1970-01-01T00:00:00.001Z"},
	    {999, "1970-01-01T00:00:00.999Z"},
	    {1000, "1970-01-01T00:00:01.000Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {951868799999, "2000-02-29T23:59:59.999Z"},
	    {1795773600123, "2026-11-27T10:00:00.123Z"},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *line = fmt(LOG_FORMAT_TEXT, cases[i].ms,
				       LOG_LEVEL_INFO, "m", NULL, 0);
		assert_memory_equal(line, cases[i].ts, strlen(cases[i].ts));
		assert_int_equal(line[strlen(cases[i].ts)], ' ');
	}
}

static void test_json_escaping(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"plain", "plain"},
	    {"say \"hi\"", "say \\\"hi\\\""},
	    {"back\\slash", "back\\\\slash"},
	    {"a\nb", "a\\nb"},
	    {"a\tb\rc", "a\\tb\\rc"},
	    {"\x01\x1f", "\\u0001\\u001f"},
	    {"\b\f", "\\u0008\\u000c"},
	    {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
	    {"/ = ' {}", "/ = ' {}"},
	};
	const char *prefix = "{\"ts\":\"1970-01-01T00:00:00.000Z\","
			     "\"level\":\"debug\",\"msg\":\"m\",\"k\":\"";

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct log_field f[] = {LF_STR("k", cases[i].in)};
		const char *line =
		    fmt(LOG_FORMAT_JSON, 0, LOG_LEVEL_DEBUG, "m", f, 1);
		char want[256];

		snprintf(want, sizeof(want), "%s%s\"}\n", prefix, cases[i].out);
		assert_string_equal(line, want);
		assert_true(json_line_valid(line));
	}

	/* Keys and the message are escaped the same way. */
	const struct log_field f[] = {LF_INT("a\"b", 1)};
	assert_string_equal(
	    fmt(LOG_FORMAT_JSON, 0, LOG_LEVEL_INFO, "x\ny", f, 1),
	    "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"info\","
	    "\"msg\":\"x\\ny\",\"a\\\"b\":1}\n");
}

static void test_text_record_exact(void **state)
{
	(void)state;
	const struct log_field f[] = {
	    LF_STR("pool", "x"),	  LF_INT("max", 10),
	    LF_STR("note", "has spaces"), LF_BOOL("ok", true),
	    LF_STR("user", NULL),
	};

	assert_string_equal(fmt(LOG_FORMAT_TEXT, 1795773600123, LOG_LEVEL_INFO,
				"pool metrics", f, ARRAY_LEN(f)),
			    "2026-11-27T10:00:00.123Z INFO  pool metrics "
			    "pool=x max=10 note=\"has spaces\" ok=true "
			    "user=null\n");
	assert_string_equal(
	    fmt(LOG_FORMAT_TEXT, 0, LOG_LEVEL_DEBUG, "a", NULL, 0),
	    "1970-01-01T00:00:00.000Z DEBUG a\n");
	/* The message is bare: only control characters are escaped. */
	assert_string_equal(
	    fmt(LOG_FORMAT_TEXT, 0, LOG_LEVEL_WARN, "a\nb \"c\" d\\", NULL, 0),
	    "1970-01-01T00:00:00.000Z WARN  a\\nb \"c\" d\\\n");
	assert_string_equal(
	    fmt(LOG_FORMAT_TEXT, 0, LOG_LEVEL_ERROR, NULL, NULL, 0),
	    "1970-01-01T00:00:00.000Z ERROR \n");
}

static void test_text_quoting(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"bare", "bare"},
	    {"", "\"\""},
	    {"two words", "\"two words\""},
	    {"a=b", "\"a=b\""},
	    {"say \"hi\"", "\"say \\\"hi\\\"\""},
	    {"c:\\dir", "\"c:\\\\dir\""},
	    {"line\nbreak", "\"line\\nbreak\""},
	    {"tab\t", "\"tab\\t\""},
	    {"\x7f", "\"\x7f\""},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct log_field f[] = {LF_STR("k", cases[i].in)};
		char want[256];

		snprintf(want, sizeof(want),
			 "1970-01-01T00:00:00.000Z INFO  m k=%s\n",
			 cases[i].out);
		assert_string_equal(
		    fmt(LOG_FORMAT_TEXT, 0, LOG_LEVEL_INFO, "m", f, 1), want);
	}
}

/* Whether s is well-formed UTF-8 (no overlong or surrogate checks needed:
 * the inputs here are well-formed, only cuts could break them). */
static bool utf8_whole(const char *s)
{
	while (*s != '\0') {
		unsigned char c = (unsigned char)*s++;
		int more = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
		if (c >= 0x80 && c < 0xc0)
			return false;
		for (; more > 0; more--)
			if (((unsigned char)*s++ & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* Formats rec at every capacity from 0 to past its length: nothing is
 * written past cap (a guard byte follows), the result is NUL-terminated,
 * the wanted length never changes, a cut line still ends in "\n", what
 * precedes the closing tail is a prefix of the full record, no character is
 * split, and a cut JSON
 * record is still a valid object once there is room for `{}\n`. */
static void check_every_cap(enum log_format format, const char *msg,
			    const struct log_field *f, size_t n)
{
	char full[1024];
	char buf[1024 + 1];
	size_t len = log_format_record(full, sizeof(full), format, 0,
				       LOG_LEVEL_INFO, msg, f, n);

	assert_true(len < sizeof(full));
	for (size_t cap = 0; cap <= len + 1; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		size_t want = log_format_record(buf, cap, format, 0,
						LOG_LEVEL_INFO, msg, f, n);
		assert_int_equal(want, len);
		assert_int_equal((unsigned char)buf[cap], 0xa5);
		if (cap == 0)
			continue;
		size_t got = strnlen(buf, cap);
		assert_true(got < cap);
		if (cap > len) {
			assert_string_equal(buf, full);
			continue;
		}
		if (cap >= 2)
			assert_int_equal(buf[got - 1], '\n');
		size_t tail = 0;
		while (tail < 3 && tail < got &&
		       strchr("\"}\n", buf[got - 1 - tail]) != NULL)
			tail++;
		assert_memory_equal(buf, full, got - tail);
		assert_true(utf8_whole(buf));
		if (format == LOG_FORMAT_JSON && cap >= 5) {
			if (!json_line_valid(buf))
				fail_msg("cap %zu: invalid JSON: %s", cap, buf);
		}
	}
}

static void test_truncation_every_cap(void **state)
{
	(void)state;
	const struct log_field f[] = {
	    LF_STR("esc", "q\" b\\ n\n c\x01 \xe2\x82\xac\xc3\xa9"),
	    LF_INT("n", -1234567),
	    LF_BOOL("b", false),
	    LF_STR("null", NULL),
	    LF_STR("k\"ey", "v"),
	    LF_STR("empty", ""),
	    LF_STR("words", "two words"),
	};

	check_every_cap(LOG_FORMAT_JSON, "msg with \"quotes\"\n", f,
			ARRAY_LEN(f));
	check_every_cap(LOG_FORMAT_TEXT, "msg with \"quotes\"\n", f,
			ARRAY_LEN(f));
	check_every_cap(LOG_FORMAT_JSON, "m", NULL, 0);
	check_every_cap(LOG_FORMAT_TEXT, "m", NULL, 0);
}

/* A NULL buffer with no room measures the record, like snprintf. */
static void test_measure_only(void **state)
{
	(void)state;
	const struct log_field f[] = {LF_INT("n", 7)};
	const char *line = fmt(LOG_FORMAT_JSON, 0, LOG_LEVEL_INFO, "m", f, 1);

	assert_int_equal(log_format_record(NULL, 0, LOG_FORMAT_JSON, 0,
					   LOG_LEVEL_INFO, "m", f, 1),
			 strlen(line));
}

/* Reads what was written to a memstream and rewinds it. */
static char *drain(FILE *mem, char **text, size_t *size)
{
	fflush(mem);
	char *copy = strndup(*text, *size);
	assert_non_null(copy);
	rewind(mem);
	**text = '\0';
	return copy;
}

static void test_level_filter(void **state)
{
	(void)state;
	static const enum log_level levels[] = {
	    LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR};
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);

	assert_non_null(mem);
	for (size_t m = 0; m < ARRAY_LEN(levels); m++) {
		log_setup(mem, LOG_FORMAT_JSON, levels[m]);
		for (size_t l = 0; l < ARRAY_LEN(levels); l++) {
			assert_int_equal(log_enabled(levels[l]), l >= m);
			log_emit(levels[l], "x", NULL, 0);
			char *out = drain(mem, &text, &size);
			if (l >= m)
				assert_non_null(strstr(out, "\"msg\":\"x\""));
			else
				assert_string_equal(out, "");
			free(out);
		}
	}
	log_setup(stderr, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	fclose(mem);
	free(text);
}

static void test_emit_lines(void **state)
{
	(void)state;
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);

	assert_non_null(mem);
	log_setup(mem, LOG_FORMAT_JSON, LOG_LEVEL_DEBUG);
	log_info("started", LF_STR("pool", "main"), LF_INT("port", 6432));
	log_debug("two", LF_BOOL("b", true));
	char *out = drain(mem, &text, &size);
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	assert_memory_equal(out, "{\"ts\":\"", 7);
	assert_non_null(strstr(out, "\"level\":\"info\",\"msg\":\"started\","
				    "\"pool\":\"main\",\"port\":6432}"));
	assert_non_null(strstr(nl + 1, "\"level\":\"debug\",\"msg\":\"two\","
				       "\"b\":true}\n"));
	assert_int_equal(strchr(nl + 1, '\n')[1], '\0');
	free(out);

	log_setup(mem, LOG_FORMAT_TEXT, LOG_LEVEL_INFO);
	log_warn("slow", LF_INT("ms", 12));
	out = drain(mem, &text, &size);
	assert_non_null(strstr(out, "Z WARN  slow ms=12\n"));
	free(out);

	log_setup(stderr, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	fclose(mem);
	free(text);
}

/* A record longer than log_emit's line buffer is cut to one valid line. */
static void test_emit_long_record(void **state)
{
	(void)state;
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	char *big = malloc(10000);

	assert_non_null(mem);
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_setup(mem, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	log_error("big", LF_STR("query", big));
	char *out = drain(mem, &text, &size);
	assert_true(strlen(out) < 4096);
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	assert_true(json_line_valid(out));
	free(out);
	log_setup(stderr, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	fclose(mem);
	free(text);
	free(big);
}

static void test_level_names(void **state)
{
	(void)state;
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_LEVEL_INFO), "info");
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_record_exact),
	    cmocka_unit_test(test_timestamps),
	    cmocka_unit_test(test_json_escaping),
	    cmocka_unit_test(test_text_record_exact),
	    cmocka_unit_test(test_text_quoting),
	    cmocka_unit_test(test_truncation_every_cap),
	    cmocka_unit_test(test_measure_only),
	    cmocka_unit_test(test_level_filter),
	    cmocka_unit_test(test_emit_lines),
	    cmocka_unit_test(test_emit_long_record),
	    cmocka_unit_test(test_level_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
