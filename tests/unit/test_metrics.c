/* Unit tests for pool metrics: login failure reasons from SQLSTATEs, the
 * per-period averages (PgBouncer 1.18's avg_* meaning), and the `pool
 * metrics` record and status line formatted from a fixed snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "metrics.h"

static void test_login_failure_reasons(void **state)
{
	static const struct {
		const char *sqlstate, *name;
	} cases[] = {
	    {"28P01", "auth"},	   {"28000", "auth"},
	    {"3D000", "database"}, {"53300", "too_many_clients"},
	    {"08P01", "protocol"}, {"57P01", "shutdown"},
	    {"08006", "server"},   {"53200", "other"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(
		    metrics_login_failure_name(
			metrics_login_failure_of(cases[i].sqlstate)),
		    cases[i].name);
}

static void test_period_rates(void **state)
{
	struct metrics_counters c = {0};
	struct metrics_period p;

	(void)state;
	metrics_period_init(&p, &c, 1000000);
	assert_int_equal(p.length_us, 0);
	c.xacts_total = 200;
	c.queries_total = 600;
	c.bytes_in = 20000;
	c.bytes_out = 40000;
	c.xact_us = 200 * 1500;
	c.query_us = 600 * 400;
	c.wait_us = 30000;
	metrics_period_roll(&p, &c, 1000000); /* zero length: ignored */
	assert_int_equal(p.length_us, 0);
	metrics_period_roll(&p, &c, 3000000); /* 2 s */
	assert_int_equal(p.length_us, 2000000);
	assert_int_equal(p.rates.xact_count, 100);
	assert_int_equal(p.rates.query_count, 300);
	assert_int_equal(p.rates.recv, 10000);
	assert_int_equal(p.rates.sent, 20000);
	assert_int_equal(p.rates.xact_time, 1500);
	assert_int_equal(p.rates.query_time, 400);
	assert_int_equal(p.rates.wait_time, 15000);
	/* An idle period: rates drop to zero, no division by zero. */
	metrics_period_roll(&p, &c, 4000000);
	assert_int_equal(p.rates.xact_count, 0);
	assert_int_equal(p.rates.xact_time, 0);
}

static void test_elapsed_clamps(void **state)
{
	(void)state;
	assert_int_equal(metrics_elapsed_us(100, 350), 250);
	assert_int_equal(metrics_elapsed_us(350, 100), 0);
}

static struct metrics_snapshot fixed_snapshot(void)
{
	struct metrics_snapshot s = {
	    .pool = "app",
	    .database = "app",
	    .user = "web",
	    .servers_total = 3,
	    .servers_idle = 1,
	    .servers_active = 2,
	    .clients_total = 5,
	    .clients_active = 2,
	    .clients_waiting = 1,
	    .wait_max_ms = 12,
	    .max = 10,
	    .min = 2,
	    .idle_timeout_ms = 30000,
	    .connect_timeout_ms = 2000,
	};

	s.c.xacts_total = 7;
	for (int i = 0; i < 100; i++)
		metrics_record_xact(&s.c, &s.h, 1500);
	metrics_record_wait(&s.c, &s.h, 0);
	return s;
}

static void test_log_record(void **state)
{
	struct metrics_snapshot s = fixed_snapshot();
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);

	(void)state;
	assert_non_null(mem);
	log_setup(mem, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	metrics_log(&s);
	fclose(mem);
	log_setup(stderr, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	assert_non_null(strstr(text, "\"msg\":\"pool metrics\""));
	assert_non_null(strstr(text, "\"pool\":\"app\""));
	assert_non_null(strstr(text, "\"user\":\"web\""));
	assert_non_null(strstr(text, "\"clients_waiting\":1"));
	assert_non_null(strstr(text, "\"xacts_total\":7"));
	assert_non_null(strstr(text, "\"xact_p50_us\":1500"));
	assert_non_null(strstr(text, "\"xact_p99_us\":1990"));
	/* One wait of 0 in (0, 10 µs]: interpolated, as every bucket is. */
	assert_non_null(strstr(text, "\"wait_p99_us\":9"));
	assert_non_null(strstr(text, "\"connect_timeout_ms\":2000"));
	assert_int_equal(strchr(text, '\n') - text + 1, (long)size);
	free(text);
}

static void test_status_line(void **state)
{
	struct metrics_snapshot s = fixed_snapshot();
	char buf[256];

	(void)state;
	assert_string_equal(metrics_status_line(&s, buf, sizeof(buf)),
			    "pool app: clients 2 active, 1 waiting, 5 total; "
			    "servers 2 active, 1 idle, 0 connecting (max 10)");
	s.paused = true;
	assert_non_null(
	    strstr(metrics_status_line(&s, buf, sizeof(buf)), "; paused"));
}

/* Many pools: one line with their clients and servers summed. */
static void test_status_line_all(void **state)
{
	struct metrics_snapshot v[3] = {fixed_snapshot(), fixed_snapshot(),
					fixed_snapshot()};
	char buf[256];

	(void)state;
	assert_string_equal(metrics_status_line_all(v, 1, buf, sizeof(buf)),
			    "pool app: clients 2 active, 1 waiting, 5 total; "
			    "servers 2 active, 1 idle, 0 connecting (max 10)");
	v[1].paused = true;
	v[2].servers_connecting = 4;
	assert_string_equal(metrics_status_line_all(v, 3, buf, sizeof(buf)),
			    "pools 3, 1 paused: clients 6 active, 3 waiting, "
			    "15 total; servers 6 active, 3 idle, 4 connecting "
			    "(max 30)");
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_login_failure_reasons),
	    cmocka_unit_test(test_period_rates),
	    cmocka_unit_test(test_elapsed_clamps),
	    cmocka_unit_test(test_log_record),
	    cmocka_unit_test(test_status_line),
	    cmocka_unit_test(test_status_line_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
