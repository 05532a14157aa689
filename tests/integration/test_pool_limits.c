/* Pool limits against a real PostgreSQL: min warm connections, never more
 * than max backends under 50 concurrent clients, idle reaping down to min,
 * and the 53300 wait timeout that leaves a transaction-mode client usable. */
#include "harness.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One client of the load generator. */
struct loader {
	PGconn *conn;
	int rounds_left; /* queries still to send */
	bool busy;	 /* a query is in flight */
};

struct load_result {
	int ok;	    /* queries that returned tuples */
	int failed; /* queries that returned an error */
	int peak;   /* most backends seen in one sample */
	int low;    /* fewest backends seen in one sample */
};

/* Reads what arrived for l; returns false once its query has finished. */
static bool loader_drain(struct loader *l, struct load_result *res)
{
	if (!PQconsumeInput(l->conn)) {
		fprintf(stderr, "load client: %s", PQerrorMessage(l->conn));
		res->failed++;
		l->rounds_left = 0;
		return false;
	}
	while (!PQisBusy(l->conn)) {
		PGresult *r = PQgetResult(l->conn);
		if (!r)
			return false;
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			res->ok++;
		} else {
			if (res->failed++ == 0)
				fprintf(stderr, "load query: %s",
					PQresultErrorMessage(r));
		}
		PQclear(r);
	}
	return true;
}

/* Runs `rounds` queries of sql on each of n clients at once, sampling the
 * backend count between I/O events. */
static struct load_result run_load(struct h_pitlane *pl, int n, int rounds,
				   const char *sql)
{
	struct loader *ls = calloc((size_t)n, sizeof(*ls));
	struct pollfd *pfds = calloc((size_t)n, sizeof(*pfds));
	struct load_result res = {.low = 1 << 30};
	for (int i = 0; i < n; i++) {
		ls[i].conn = h_connect(pl, NULL);
		ls[i].rounds_left = rounds;
	}
	int64_t deadline = h_now_ms() + 120000;
	for (;;) {
		int active = 0;
		for (int i = 0; i < n; i++) {
			struct loader *l = &ls[i];
			if (!l->busy && l->rounds_left > 0) {
				l->rounds_left--;
				l->busy = PQsendQuery(l->conn, sql) == 1;
				if (!l->busy)
					res.failed++;
			}
			pfds[i].fd = l->busy ? PQsocket(l->conn) : -1;
			pfds[i].events = POLLIN;
			active += l->busy;
		}
		if (active == 0 || h_now_ms() > deadline)
			break;
		poll(pfds, (nfds_t)n, H_POLL_MS);
		for (int i = 0; i < n; i++)
			if (ls[i].busy &&
			    (pfds[i].revents & (POLLIN | POLLERR | POLLHUP)))
				ls[i].busy = loader_drain(&ls[i], &res);
		int b = h_backends();
		res.peak = b > res.peak ? b : res.peak;
		res.low = b < res.low ? b : res.low;
	}
	for (int i = 0; i < n; i++)
		PQfinish(ls[i].conn);
	free(ls);
	free(pfds);
	return res;
}

static void test_min_warm_after_startup(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	char line[4096];
	long long v;
	assert_true(h_log_record(pl, "pool configured", 0, line, sizeof(line)));
	assert_true(h_json_int(line, "max", &v));
	assert_int_equal(v, 10);
	assert_true(h_json_int(line, "min", &v));
	assert_int_equal(v, 2);
	assert_true(h_wait_backends(2, 10000));
	/* They are pitlane's (fallback_application_name) and stay at min. */
	long long named = h_query_int(
	    h_admin(), "SELECT count(*) FROM pg_stat_activity WHERE "
		       "datname = 'pitlane' AND application_name = 'pitlane'");
	assert_int_equal(named, 2);
	PGconn *c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 41 + 1"), 42);
	PQfinish(c);
	assert_int_equal(h_backends(), 2);
	h_pass();
}

static void test_max_never_exceeded(void **state)
{
	const char *env[] = {"DB_POOL_MAX=5", "DB_POOL_MIN=2",
			     "DB_CONNECT_TIMEOUT_MS=60000", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_wait_backends(2, 10000));
	struct load_result r = run_load(pl, 50, 3, "SELECT pg_sleep(0.1)");
	fprintf(stderr, "50 clients: %d ok, %d failed, backends %d..%d\n", r.ok,
		r.failed, r.low, r.peak);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.ok, 150);
	assert_true(r.peak <= 5);
	/* 50 clients queued for 3 s must have grown the pool to max. */
	assert_int_equal(r.peak, 5);
	assert_true(h_pitlane_alive(pl));
	h_pass();
}

static bool backends_stay(int want, int ms)
{
	int64_t end = h_now_ms() + ms;
	while (h_now_ms() < end) {
		if (h_backends() != want)
			return false;
		h_sleep_ms(H_POLL_MS);
	}
	return true;
}

static void test_idle_reaped_to_min(void **state)
{
	const char *env[] = {"DB_POOL_MAX=5", "DB_POOL_MIN=2",
			     "DB_IDLE_TIMEOUT_MS=300",
			     "DB_CONNECT_TIMEOUT_MS=60000", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_wait_backends(2, 10000));
	struct load_result r = run_load(pl, 10, 2, "SELECT pg_sleep(0.3)");
	assert_int_equal(r.failed, 0);
	assert_true(r.peak > 2);
	int64_t t0 = h_now_ms();
	assert_true(h_wait_backends(2, 10000));
	fprintf(stderr, "reaped from %d to 2 backends in %lld ms\n", r.peak,
		(long long)(h_now_ms() - t0));
	/* Reaping stops at min: it holds for several idle timeouts. */
	assert_true(backends_stay(2, 1000));
	h_pass();
}

static void test_wait_timeout_53300(void **state)
{
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1",
			     "DB_CONNECT_TIMEOUT_MS=500", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_wait_backends(1, 10000));
	PGconn *holder = h_connect(pl, NULL);
	PGconn *waiter = h_connect(pl, NULL);
	h_exec_ok(holder, "BEGIN");
	h_exec_ok(holder, "SELECT 1");

	char st[6];
	int64_t t0 = h_now_ms();
	PGresult *r = PQexec(waiter, "SELECT 1");
	int64_t waited = h_now_ms() - t0;
	fprintf(stderr, "waited %lld ms: %s", (long long)waited,
		PQresultErrorMessage(r));
	assert_string_equal(h_result_sqlstate(r, st), "53300");
	PQclear(r);
	assert_true(waited >= 400);
	assert_true(waited < 10000);
	assert_int_equal(PQstatus(waiter), CONNECTION_OK);
	assert_int_equal(PQtransactionStatus(waiter), PQTRANS_IDLE);

	/* An extended-protocol query times out the same way. */
	const char *one = "1";
	r = PQexecParams(waiter, "SELECT $1::int", 1, NULL, &one, NULL, NULL,
			 0);
	assert_string_equal(h_result_sqlstate(r, st), "53300");
	PQclear(r);
	assert_int_equal(PQstatus(waiter), CONNECTION_OK);

	h_exec_ok(holder, "COMMIT");
	assert_int_equal(h_query_int(waiter, "SELECT 7"), 7);
	r = PQexecParams(waiter, "SELECT $1::int", 1, NULL, &one, NULL, NULL,
			 0);
	assert_string_equal(h_result_sqlstate(r, st), "00000");
	PQclear(r);

	/* The metrics count the timeouts. */
	int before = h_log_count(pl, "pool metrics");
	h_pitlane_signal(pl, SIGUSR1);
	assert_true(h_log_wait(pl, "pool metrics", before + 1, 5000));
	char line[4096];
	long long timeouts;
	assert_true(h_log_record(pl, "pool metrics", -1, line, sizeof(line)));
	assert_true(h_json_int(line, "wait_timeouts", &timeouts));
	assert_true(timeouts >= 2);
	PQfinish(holder);
	PQfinish(waiter);
	h_pass();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_min_warm_after_startup,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_max_never_exceeded,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_reaped_to_min,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_wait_timeout_53300,
					    h_test_setup, h_test_teardown),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
