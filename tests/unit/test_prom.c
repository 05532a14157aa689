/* Unit tests for the Prometheus exposition: exact samples from a fixed
 * snapshot of two pools, label escaping, cumulative histogram buckets, the
 * sticky overflow at every buffer size, and `promtool check metrics` on the
 * output when promtool is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "prom.h"

static const struct prom_info info = {.version = "1.2.3", .notify = true};

static void fixed_pools(struct metrics_snapshot p[2])
{
	memset(p, 0, 2 * sizeof(*p));
	p[0].database = "app";
	p[0].user = "web";
	p[0].clients_active = 3;
	p[0].clients_waiting = 2;
	p[0].servers_idle = 1;
	p[0].max = 10;
	p[0].min = 2;
	p[0].ready = true;
	p[0].wait_max_us = 1500000;
	p[0].c.xacts_total = 42;
	p[0].c.login_failures[METRICS_LOGIN_AUTH] = 5;
	metrics_record_xact(&p[0].c, &p[0].h, 15);	  /* (10, 20] µs */
	metrics_record_xact(&p[0].c, &p[0].h, 3000);	  /* (2, 5] ms */
	metrics_record_xact(&p[0].c, &p[0].h, 200000000); /* +Inf */
	p[1].database = "we\"ird\\db";
	p[1].user = "u\nx";
	p[1].paused = true;
}

static char *format(size_t cap, bool *ok)
{
	struct metrics_snapshot p[2];
	struct prom_out o = {.buf = malloc(cap), .cap = cap};

	fixed_pools(p);
	assert_non_null(o.buf);
	*ok = prom_format(&o, &info, p, 2);
	return o.buf;
}

static void test_samples(void **state)
{
	static const char *const want[] = {
	    "# TYPE pitlane_build_info gauge\n",
	    "pitlane_build_info{version=\"1.2.3\",notify=\"yes\"} 1\n",
	    "pitlane_clients{database=\"app\",user=\"web\",state=\"active\"} "
	    "3\n",
	    "pitlane_clients{database=\"app\",user=\"web\",state=\"waiting\"} "
	    "2\n",
	    "pitlane_servers{database=\"app\",user=\"web\",state=\"idle\"} 1\n",
	    "pitlane_pool_max_servers{database=\"app\",user=\"web\"} 10\n",
	    "pitlane_ready{database=\"app\",user=\"web\"} 1\n",
	    "# TYPE pitlane_transactions_total counter\n",
	    "pitlane_transactions_total{database=\"app\",user=\"web\"} 42\n",
	    "pitlane_client_login_failures_total{database=\"app\",user=\"web\","
	    "reason=\"auth\"} 5\n",
	    "pitlane_client_wait_max_seconds{database=\"app\",user=\"web\"} "
	    "1.500000\n",
	    "# TYPE pitlane_transaction_duration_seconds histogram\n",
	    "pitlane_transaction_duration_seconds_bucket{database=\"app\","
	    "user=\"web\",le=\"1e-05\"} 0\n",
	    "pitlane_transaction_duration_seconds_bucket{database=\"app\","
	    "user=\"web\",le=\"2e-05\"} 1\n",
	    "pitlane_transaction_duration_seconds_bucket{database=\"app\","
	    "user=\"web\",le=\"0.005\"} 2\n",
	    "pitlane_transaction_duration_seconds_bucket{database=\"app\","
	    "user=\"web\",le=\"100\"} 2\n",
	    "pitlane_transaction_duration_seconds_bucket{database=\"app\","
	    "user=\"web\",le=\"+Inf\"} 3\n",
	    "pitlane_transaction_duration_seconds_sum{database=\"app\","
	    "user=\"web\"} 200.003015\n",
	    "pitlane_transaction_duration_seconds_count{database=\"app\","
	    "user=\"web\"} 3\n",
	    "pitlane_paused{database=\"we\\\"ird\\\\db\",user=\"u\\nx\"} 1\n",
	    "# TYPE pitlane_client_wait_seconds histogram\n",
	    "# TYPE pitlane_query_duration_seconds histogram\n",
	};
	bool ok;
	char *text = format(1 << 20, &ok);

	(void)state;
	assert_true(ok);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strstr(text, want[i]) == NULL)
			fail_msg("missing: %s", want[i]);
	}
	/* Every sample of a per-pool family carries both labels. */
	for (char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (line[0] != '#' &&
		    strncmp(line, "pitlane_build_info", 18) != 0)
			assert_true(
			    strncmp(strchr(line, '{'), "{database=", 10) == 0);
	}
	free(text);
}

static void test_overflow_every_size(void **state)
{
	bool ok;
	char *full = format(1 << 20, &ok);
	size_t len = strlen(full);

	(void)state;
	assert_true(ok);
	for (size_t cap = 1; cap <= len; cap++) {
		char *part = format(cap, &ok);
		assert_false(ok);
		assert_true(strlen(part) < cap);
		assert_memory_equal(part, full, strlen(part));
		free(part);
	}
	free(format(len + 1, &ok));
	assert_true(ok);
	free(full);
}

static void test_promtool(void **state)
{
	char path[] = "/tmp/pitlane-prom-XXXXXX", cmd[256];
	bool ok;
	char *text = format(1 << 20, &ok);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(text);
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		unlink(path);
		fail_msg("promtool is missing (scripts/deps installs "
			 "prometheus)");
	}
	/* promtool prints lint problems and exits non-zero on any. */
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	int rc = system(cmd);
	unlink(path);
	assert_int_equal(rc, 0);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_overflow_every_size),
	    cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
