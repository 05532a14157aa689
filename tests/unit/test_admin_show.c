/* Unit tests for the console's result formatting: RowDescription bytes
 * (names, type OIDs and lengths, text format), DataRow values of every
 * kind (NULL, text, int4 clamped, numeric, timestamps), CommandComplete
 * with ReadyForQuery, the ERROR fields, the SHOW lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin_show.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void test_lookup(void **state)
{
	(void)state;
	assert_non_null(admin_show_find("POOLS"));
	assert_non_null(admin_show_find("stats_totals"));
	assert_int_equal(admin_show_find("Active_Sockets")->id,
			 ADMIN_SHOW_ACTIVE_SOCKETS);
	assert_null(admin_show_find("bogus"));
	assert_null(admin_show_find("pools;"));
	assert_true(admin_show_find("fds")->admin_only);
	assert_false(admin_show_find("pools")->admin_only);
	const struct admin_table *t = admin_show_find("DateStyle");
	assert_int_equal(t->id, ADMIN_SHOW_PARAM);
	assert_string_equal(t->value, "ISO");
	assert_int_equal(admin_show_find("pools")->ncols, 16);
	assert_int_equal(admin_show_find("stats")->ncols, 15);
	assert_int_equal(admin_show_find("clients")->ncols, 18);
	assert_int_equal(admin_show_find("sockets")->ncols, 25);
	assert_int_equal(admin_show_find("databases")->ncols, 13);
}

/* RowDescription of SHOW LISTS: list text(25, -1), items int4(23, 4). */
static void test_header(void **state)
{
	uint8_t buf[512];
	struct proto_writer w;
	const struct admin_table *t = admin_show_find("lists");

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_header(&w, t);
	assert_false(w.overflow);
	assert_int_equal(buf[0], 'T');
	assert_int_equal(be32(buf + 1), w.len - 1);
	assert_int_equal(buf[5], 0);
	assert_int_equal(buf[6], 2);
	const uint8_t *f = buf + 7;
	assert_string_equal((const char *)f, "list");
	f += 5;
	assert_int_equal(be32(f), 0);	   /* table */
	assert_int_equal(be32(f + 6), 25); /* type */
	assert_int_equal(f[10], 0xff);	   /* typlen -1 */
	assert_int_equal(f[11], 0xff);
	assert_int_equal(be32(f + 12), 0xffffffffu); /* typmod */
	assert_int_equal(f[16], 0);
	assert_int_equal(f[17], 0); /* text */
	f += 18;
	assert_string_equal((const char *)f, "items");
	f += 6;
	assert_int_equal(be32(f + 6), 23);
	assert_int_equal(f[11], 4);
	assert_int_equal((size_t)(f + 18 - buf), w.len);
}

/* Reads field i of a DataRow into out ("<NULL>" for NULL). */
static void row_field(const uint8_t *msg, unsigned i, char *out, size_t cap)
{
	const uint8_t *p = msg + 7;

	for (unsigned k = 0; k < i; k++) {
		uint32_t n = be32(p);
		p += 4 + (n == 0xffffffffu ? 0 : n);
	}
	uint32_t n = be32(p);
	if (n == 0xffffffffu) {
		snprintf(out, cap, "<NULL>");
		return;
	}
	snprintf(out, cap, "%.*s", (int)n, (const char *)p + 4);
}

static void test_row_values(void **state)
{
	uint8_t buf[ADMIN_ROW_MAX];
	struct proto_writer w;
	const struct admin_table *t = admin_show_find("databases");
	struct admin_val v[13] = {
	    AV_STR("db"), AV_NULL,
	    AV_INT(5432), AV_STR("db"),
	    AV_STR("u"),  AV_INT(10),
	    AV_INT(2),	  AV_INT(0),
	    AV_NULL,	  AV_INT(5000000000LL),
	    AV_INT(-3),	  AV_INT(1),
	    AV_INT(0),
	};
	char got[64];

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_row(&w, t, v);
	assert_false(w.overflow);
	assert_int_equal(buf[0], 'D');
	assert_int_equal(be32(buf + 1), w.len - 1);
	assert_int_equal(buf[6], 13);
	row_field(buf, 0, got, sizeof(got));
	assert_string_equal(got, "db");
	row_field(buf, 1, got, sizeof(got));
	assert_string_equal(got, "<NULL>");
	row_field(buf, 2, got, sizeof(got));
	assert_string_equal(got, "5432");
	row_field(buf, 8, got, sizeof(got));
	assert_string_equal(got, "<NULL>");
	row_field(buf, 9, got, sizeof(got)); /* int4 clamps */
	assert_string_equal(got, "2147483647");
	row_field(buf, 10, got, sizeof(got));
	assert_string_equal(got, "-3");

	/* numeric: an integer without a decimal point, never negative */
	t = admin_show_find("totals");
	struct admin_val nv[2] = {AV_STR("total_xact_count"),
				  AV_INT(12345678901234LL)};
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_row(&w, t, nv);
	row_field(buf, 1, got, sizeof(got));
	assert_string_equal(got, "12345678901234");
	nv[1] = AV_INT(-1);
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_row(&w, t, nv);
	row_field(buf, 1, got, sizeof(got));
	assert_string_equal(got, "0");
}

/* A timestamp is "YYYY-MM-DD HH:MM:SS ZONE" in local time. */
static void test_time(void **state)
{
	char buf[64];

	(void)state;
	setenv("TZ", "UTC", 1);
	admin_format_time(buf, sizeof(buf), 1764728400); /* 2025-12-03 */
	assert_string_equal(buf, "2025-12-03 02:20:00 UTC");
	admin_format_time(buf, sizeof(buf), 0); /* now */
	assert_int_equal(buf[4], '-');
	assert_int_equal(strlen(buf), 23);
}

/* ERROR: S, C, M and no more, then ReadyForQuery 'I'. */
static void test_error_and_done(void **state)
{
	uint8_t buf[256];
	struct proto_writer w;
	static const uint8_t want_err[] =
	    "E\0\0\0\x22SERROR\0C08P01\0Mbad arguments\0\0"
	    "Z\0\0\0\x05I";
	static const uint8_t want_done[] = "C\0\0\0\x0aPAUSE\0Z\0\0\0\x05I";

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_error(&w, "08P01", "bad arguments");
	assert_int_equal(w.len, sizeof(want_err) - 1);
	assert_memory_equal(buf, want_err, w.len);
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_done(&w, "PAUSE");
	assert_int_equal(w.len, sizeof(want_done) - 1);
	assert_memory_equal(buf, want_done, w.len);
}

/* A row that does not fit sets the writer's overflow flag. */
static void test_overflow(void **state)
{
	uint8_t buf[16];
	struct proto_writer w;
	const struct admin_table *t = admin_show_find("version");
	struct admin_val v[1] = {AV_STR("a version string longer than 16")};

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	admin_write_row(&w, t, v);
	assert_true(w.overflow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_row_values),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_error_and_done),
	    cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
