/* A pool's host list through the real daemon: each host gets its own
 * connect_timeout_ms (libpq's rule for connect_timeout), so a host that
 * accepts TCP and then never answers (a listening socket of this process
 * that nobody accepts on: the kernel completes the handshake, nothing ever
 * replies to the startup packet) is given up after its share and the next
 * host, the real PostgreSQL, serves the client. When every host is silent,
 * a waiting client gets SQLSTATE 53300 once one whole attempt's time has
 * passed, and the error names the last host's timeout. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROTO_30   196608u /* 3.0 */
#define TIMEOUT_MS 1000	   /* DB_CONNECT_TIMEOUT_MS: per host */
#define SLACK_MS   4000	   /* the machine is busy */

/* Starts pitlane with the entry `hostsdb` over 127.0.0.1 at ports p1 and
 * p2, in that order, opts added to the entry; no server is opened before a
 * client asks. */
static struct h_pitlane *start_hosts(int p1, int p2, const char *opts)
{
	static char path[4096];
	const char *env[] = {"DB_POOL_MIN=0", "DB_CONNECT_TIMEOUT_MS=1000",
			     NULL};
	const char *args[] = {"-c", path, NULL};

	h_tmp_path("hosts.ini", path, sizeof(path));
	h_write_file(path,
		     "[databases]\n"
		     "hostsdb = host=127.0.0.1,127.0.0.1 port=%d,%d "
		     "dbname=" H_DBNAME " %s\n",
		     p1, p2, opts);
	return h_pitlane_start(env, args);
}

/* What a raw login to hostsdb got: ready, or the ErrorResponse's SQLSTATE
 * and detail. */
struct login {
	bool ready;
	char sqlstate[6];
	char message[256];
	char detail[256];
};

static void raw_login(struct h_pitlane *pl, struct login *lg, int timeout_ms)
{
	static const char *const kv[] = {"user", H_USER, "database", "hostsdb",
					 NULL};
	unsigned char b[2048];
	char type;
	int n, fd = h_raw_connect(pl->port);

	memset(lg, 0, sizeof(*lg));
	assert_true(h_raw_startup(fd, PROTO_30, kv));
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b) - 1, timeout_ms)) >=
	       0) {
		if (type == 'Z') {
			lg->ready = true;
			break;
		}
		if (type == 'E') {
			h_raw_err_field(b, n, 'C', lg->sqlstate,
					sizeof(lg->sqlstate));
			h_raw_err_field(b, n, 'M', lg->message,
					sizeof(lg->message));
			h_raw_err_field(b, n, 'D', lg->detail,
					sizeof(lg->detail));
			break;
		}
	}
	close(fd);
}

/* The silent host first, the real server second: the client is served
 * after the first host's connect_timeout_ms, within one attempt's time
 * (two hosts), and the log names the host given up. */
static void test_silent_host_then_server(void **state)
{
	int silent_port, silent = h_silent_listen(&silent_port);
	struct h_pitlane *pl = *state =
	    start_hosts(silent_port, h_pg_port(), "");
	char line[4096], reason[512], host[64], port[16];

	int64_t t0 = h_now_ms();
	PGconn *c = h_connect(pl, "dbname=hostsdb");
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "served after %lld ms\n", (long long)took);
	assert_true(took >= TIMEOUT_MS - 50); /* the silent host had its time */
	assert_true(took < 2 * TIMEOUT_MS + SLACK_MS);
	assert_int_equal(h_silent_count(silent), 1);

	assert_true(h_log_first(pl, "backend host failed, trying the next",
				5000, line, sizeof(line)));
	assert_true(h_json_str(line, "host", host, sizeof(host)));
	assert_true(h_json_str(line, "port", port, sizeof(port)));
	assert_true(h_json_str(line, "reason", reason, sizeof(reason)));
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(atoi(port), silent_port);
	assert_non_null(strstr(reason, "timeout connecting to host"));
	assert_int_equal(h_log_count(pl, "server connect failed"), 0);

	/* The server it made serves the next client at once. */
	PGconn *d = h_connect(pl, "dbname=hostsdb");
	assert_int_equal(h_query_int(d, "SELECT 2"), 2);
	PQfinish(d);
	PQfinish(c);
	close(silent);
	h_pass();
}

/* prefer-standby over the silent host and the primary: no standby, so the
 * primary serves, found in libpq's second pass (any server), which does not
 * wait for the silent host again: one connect_timeout_ms in all. */
static void test_prefer_standby_second_pass(void **state)
{
	int silent_port, silent = h_silent_listen(&silent_port);
	struct h_pitlane *pl = *state = start_hosts(
	    silent_port, h_pg_port(), "target_session_attrs=prefer-standby");

	int64_t t0 = h_now_ms();
	PGconn *c = h_connect(pl, "dbname=hostsdb");
	assert_int_equal(h_query_int(c, "SELECT pg_is_in_recovery()::int"), 0);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "served after %lld ms\n", (long long)took);
	assert_true(took >= TIMEOUT_MS - 50);
	assert_true(took < 2 * TIMEOUT_MS + SLACK_MS);
	assert_int_equal(h_silent_count(silent), 1);
	/* the silent host's timeout, the primary refused as no standby */
	assert_true(
	    h_log_wait(pl, "backend host failed, trying the next", 2, 5000));
	assert_int_equal(h_log_count(pl, "server connect failed"), 0);
	PQfinish(c);
	close(silent);
	h_pass();
}

static bool connect_failed(void *arg)
{
	return h_log_count(arg, "server connect failed") > 0;
}

/* Every host silent: a waiting client gets 53300 after one attempt's time
 * (connect_timeout_ms per host); both hosts were tried, the attempt's
 * error is the last host's timeout, and the clients that wait after it
 * read it in the error's detail. */
static void test_all_hosts_silent(void **state)
{
	int p1, p2, s1 = h_silent_listen(&p1), s2 = h_silent_listen(&p2);
	struct h_pitlane *pl = *state = start_hosts(p1, p2, "");
	struct login lg;
	char line[4096], reason[512], want[128];

	int64_t t0 = h_now_ms();
	raw_login(pl, &lg, 2 * TIMEOUT_MS + SLACK_MS);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "refused after %lld ms: %s (%s)\n", (long long)took,
		lg.message, lg.detail);
	assert_false(lg.ready);
	assert_string_equal(lg.sqlstate, "53300");
	assert_true(took >= 2 * TIMEOUT_MS - 50);
	assert_true(took < 2 * TIMEOUT_MS + SLACK_MS);
	/* (a second attempt may have started meanwhile) */
	assert_true(h_silent_count(s1) >= 1);
	assert_true(h_silent_count(s2) >= 1);

	assert_true(h_poll(connect_failed, pl, SLACK_MS));
	assert_true(
	    h_log_record(pl, "server connect failed", 0, line, sizeof(line)));
	assert_true(h_json_str(line, "reason", reason, sizeof(reason)));
	snprintf(want, sizeof(want),
		 "timeout connecting to host \"127.0.0.1\" port %d after %d ms",
		 p2, TIMEOUT_MS);
	assert_string_equal(reason, want);

	/* The pool backs off and retries; a client waiting meanwhile is told
	 * why: the message names the failing connects, not a full pool. */
	raw_login(pl, &lg, 2 * TIMEOUT_MS + SLACK_MS);
	assert_string_equal(lg.sqlstate, "53300");
	assert_non_null(strstr(lg.message, "cannot connect to the database"));
	assert_null(strstr(lg.message, "saturated"));
	assert_non_null(strstr(lg.detail, want));
	close(s1);
	close(s2);
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_silent_host_then_server),
	    TEST(test_all_hosts_silent),
	    TEST(test_prefer_standby_second_pass),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
