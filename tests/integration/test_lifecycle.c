/* pitlane's life cycle: SIGUSR1 metrics, SIGTERM with a transaction in
 * flight, PostgreSQL down at startup, a backend terminated under a client
 * (whose FATAL alone reaches it), and every configuration error exiting 78
 * without leaking the password. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EX_CONFIG 78

static const char *const metric_fields[] = {"servers_total",
					    "servers_idle",
					    "servers_active",
					    "servers_connecting",
					    "clients_total",
					    "clients_active",
					    "clients_waiting",
					    "wait_max_ms",
					    "xacts_total",
					    "queries_total",
					    "bytes_in",
					    "bytes_out",
					    "connects_total",
					    "connect_failures",
					    "wait_timeouts",
					    "server_errors",
					    "max",
					    "min",
					    "idle_timeout_ms",
					    "connect_timeout_ms"};

#define NFIELDS (sizeof(metric_fields) / sizeof(metric_fields[0]))

/* Sends SIGUSR1 and returns the fresh `pool metrics` record's fields in
 * metric_fields order. */
static void metrics_now(struct h_pitlane *pl, long long v[NFIELDS])
{
	char line[4096], pool[128];
	int before = h_log_count(pl, "pool metrics");
	h_pitlane_signal(pl, SIGUSR1);
	assert_true(h_log_wait(pl, "pool metrics", before + 1, 15000));
	assert_true(h_log_record(pl, "pool metrics", -1, line, sizeof(line)));
	assert_true(h_json_str(line, "pool", pool, sizeof(pool)));
	assert_true(pool[0] != '\0');
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!h_json_int(line, metric_fields[i], &v[i]))
			fail_msg("field %s missing in %s", metric_fields[i],
				 line);
		assert_true(v[i] >= 0);
	}
}

static long long field(const long long v[NFIELDS], const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(metric_fields[i], name) == 0)
			return v[i];
	fail_msg("no metric %s", name);
	return -1;
}

static void test_sigusr1_metrics(void **state)
{
	const char *env[] = {"DB_POOL_MAX=4", "DB_POOL_MIN=2",
			     "DB_IDLE_TIMEOUT_MS=5000",
			     "DB_CONNECT_TIMEOUT_MS=1500", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_log_wait(pl, "pool metrics", 1, 5000));
	assert_true(h_wait_backends(2, 10000));
	PGconn *c = h_connect(pl, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(h_query_int(c, "SELECT 1"), 1);

	long long v[NFIELDS];
	metrics_now(pl, v);
	assert_int_equal(field(v, "max"), 4);
	assert_int_equal(field(v, "min"), 2);
	assert_int_equal(field(v, "idle_timeout_ms"), 5000);
	assert_int_equal(field(v, "connect_timeout_ms"), 1500);
	long long total = field(v, "servers_total");
	assert_true(total >= 2 && total <= 4);
	assert_true(field(v, "servers_idle") + field(v, "servers_active") <=
		    total);
	assert_true(field(v, "clients_total") >= 1);
	assert_int_equal(field(v, "clients_waiting"), 0);
	assert_true(field(v, "queries_total") >= 3);
	assert_true(field(v, "xacts_total") >= 1);
	assert_true(field(v, "bytes_in") > 0);
	assert_true(field(v, "bytes_out") > 0);
	assert_true(field(v, "connects_total") >= 2);
	assert_int_equal(field(v, "connect_failures"), 0);
	assert_int_equal(field(v, "wait_timeouts"), 0);
	assert_int_equal(field(v, "server_errors"), 0);

	/* One record per signal, counters only grow, the daemon lives on. */
	long long w[NFIELDS];
	assert_int_equal(h_query_int(c, "SELECT 2"), 2);
	metrics_now(pl, w);
	assert_true(field(w, "queries_total") > field(v, "queries_total"));
	assert_true(field(w, "bytes_in") > field(v, "bytes_in"));
	assert_true(h_pitlane_alive(pl));
	PQfinish(c);
	h_pass();
}

/* True once pitlane no longer completes a login. */
static bool login_refused(void *arg)
{
	PGconn *c = h_connect_try(arg, "connect_timeout=2");
	bool refused = PQstatus(c) != CONNECTION_OK;
	PQfinish(c);
	return refused;
}

static void test_sigterm_inflight_commits(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	assert_true(h_wait_backends(2, 10000));
	PGconn *c = h_connect(pl, NULL);
	h_exec_ok(c, "BEGIN");
	h_exec_ok(c, "INSERT INTO t VALUES (1001, 'sigterm')");

	h_pitlane_signal(pl, SIGTERM);
	/* Shutdown has begun once new logins are refused. */
	assert_true(h_poll(login_refused, pl, 5000));
	assert_true(h_pitlane_alive(pl));
	char async[6];
	h_capture_async(c, async);
	h_exec_ok(c, "COMMIT");
	/* Now idle, the client is told 57P01 and closed. */
	assert_true(h_wait_async(c, async, 5000));
	assert_string_equal(async, "57P01");

	int st = h_pitlane_wait_exit(pl, 15000);
	assert_int_equal(st, 0);
	assert_true(h_log_count(pl, "shutdown complete") == 1);
	PGconn *d = h_direct(H_DBNAME);
	assert_int_equal(
	    h_query_int(d, "SELECT count(*) FROM t WHERE id = 1001"), 1);
	PQfinish(d);
	assert_true(h_wait_backends(0, 5000));
	/* The client was closed. */
	char s[6];
	h_exec_sqlstate(c, "SELECT 1", s);
	assert_string_not_equal(s, "00000");
	PQfinish(c);
	h_pass();
}

/* True once a query through pitlane succeeds. */
static bool query_works(void *arg)
{
	PGconn *c = h_connect_try(arg, "connect_timeout=3");
	PGresult *r = PQexec(c, "SELECT 1");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	PQfinish(c);
	return ok;
}

static bool connect_failure_counted(void *arg)
{
	long long v[NFIELDS];
	metrics_now(arg, v);
	return field(v, "connect_failures") >= 1;
}

static void test_postgres_down_at_startup(void **state)
{
	const char *env[] = {"DB_CONNECT_TIMEOUT_MS=1000", NULL};
	h_pg_stop();
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_poll(connect_failure_counted, pl, 10000));
	PGconn *c = h_connect_try(pl, "connect_timeout=5");
	PQclear(PQexec(c, "SELECT 1")); /* fails one way or another */
	PQfinish(c);
	assert_true(h_pitlane_alive(pl));

	h_pg_start();
	int64_t t0 = h_now_ms();
	assert_true(h_poll(query_works, pl, 30000));
	fprintf(stderr, "first query %lld ms after PostgreSQL started\n",
		(long long)(h_now_ms() - t0));
	assert_true(h_wait_backends(2, 30000));
	h_pass();
}

static bool pid_gone(void *arg)
{
	char sql[128];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
		 *(long long *)arg);
	return h_query_int(h_admin(), sql) == 0;
}

static void test_backend_terminated_midtransaction(void **state)
{
	const char *env[] = {"DB_POOL_MAX=5", "DB_POOL_MIN=2", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	assert_true(h_wait_backends(2, 10000));
	PGconn *c = h_connect(pl, NULL);
	h_exec_ok(c, "BEGIN");
	long long pid = h_query_int(c, "SELECT pg_backend_pid()");
	char sql[128], s[6];
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", pid);
	h_exec_ok(h_admin(), sql);

	/* pitlane sends the error as soon as the server is gone; libpq
	 * takes it as a notice while idle, or as the next query's result. */
	char async[6];
	h_capture_async(c, async);
	h_wait_async(c, async, 5000);
	PGresult *r = PQexec(c, "SELECT 1");
	h_result_sqlstate(r, s);
	fprintf(stderr, "after terminate: async \"%s\", query \"%s\" %s", async,
		s, PQresultErrorMessage(r));
	PQclear(r);
	const char *got = async[0] ? async : s;
	if (strcmp(got, "08006") && strcmp(got, "57P01"))
		fail_msg("want SQLSTATE 08006 or 57P01, got \"%s\"", got);
	/* The client is disconnected. */
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);

	char line[4096], level[32], reason[256];
	long long logged_pid;
	assert_true(h_log_wait(pl, "server lost", 1, 5000));
	assert_true(h_log_record(pl, "server lost", 0, line, sizeof(line)));
	assert_true(h_json_str(line, "level", level, sizeof(level)));
	assert_string_equal(level, "error");
	assert_true(h_json_int(line, "backend_pid", &logged_pid));
	assert_int_equal(logged_pid, pid);
	assert_true(h_json_str(line, "reason", reason, sizeof(reason)));
	assert_true(h_json_str(line, "pool", reason, sizeof(reason)));

	/* The pool replaces the connection, and new clients work. */
	assert_true(h_poll(pid_gone, &pid, 5000));
	assert_true(h_wait_backends(2, 10000));
	c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 5"), 5);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	PQfinish(c);
	h_pass();
}

/* A backend that ends with its own FATAL (pg_terminate_backend: 57P01)
 * while a client is linked to it: the client gets that FATAL and then the
 * end of the stream, as from PostgreSQL, and no second FATAL from pitlane. */
static void backend_fatal_relayed_alone(void **state, const char *mode)
{
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	const char *args[] = {"-m", mode, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	PGconn *c = h_connect(pl, NULL);
	unsigned char b[1024];
	char sql[128], type, code[6] = "", sev[16] = "";
	int n, errors = 0;

	h_exec_ok(c, "BEGIN");
	long long pid = h_query_int(c, "SELECT pg_backend_pid()");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", pid);
	h_exec_ok(h_admin(), sql);
	/* libpq has read everything up to ReadyForQuery: what follows on the
	 * socket is what pitlane sends after the backend's end. */
	while ((n = h_raw_read_msg(PQsocket(c), &type, b, sizeof(b), 5000)) >=
	       0) {
		fprintf(stderr, "%s: '%c' after terminate\n", mode, type);
		assert_int_equal(type, 'E');
		if (errors++ == 0) {
			h_raw_err_field(b, n, 'C', code, sizeof(code));
			h_raw_err_field(b, n, 'V', sev, sizeof(sev));
		}
	}
	assert_int_equal(errors, 1);
	assert_string_equal(code, "57P01");
	assert_string_equal(sev, "FATAL");
	PQfinish(c);
	/* The pool replaces the connection. */
	c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 6"), 6);
	PQfinish(c);
	h_pass();
}

static void test_backend_fatal_relayed_alone_session(void **state)
{
	backend_fatal_relayed_alone(state, "session");
}

static void test_backend_fatal_relayed_alone_transaction(void **state)
{
	backend_fatal_relayed_alone(state, "transaction");
}

/* One invalid configuration: environment, flags, and text the error
 * output must contain. */
struct bad_config {
	const char *env[4];
	const char *args[4];
	const char *needles[3];
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect_config_error(const struct bad_config *bc,
				const char *password)
{
	char pw[128];
	const char *env[6] = {pw};
	snprintf(pw, sizeof(pw), "DB_PASSWORD=%s", password);
	for (int i = 0; bc->env[i]; i++)
		env[i + 1] = bc->env[i];
	struct h_pitlane *pl = h_pitlane_spawn(env, bc->args);
	int st = h_pitlane_wait_exit(pl, 10000);
	char *out = h_log_read(pl);
	bool ok = st == EX_CONFIG && !strstr(out, password) &&
		  !strstr(out, "\"listening\"");
	for (int i = 0; bc->needles[i]; i++)
		ok = ok && strstr(out, bc->needles[i]);
	if (!ok) {
		fprintf(stderr, "case %s %s: exit %d, output:\n%s\n",
			bc->env[0] ? bc->env[0] : "",
			bc->args[0] ? bc->args[0] : "", st, out);
		free(out);
		h_pitlane_stop(pl);
		fail_msg("want exit 78 naming %s without the password",
			 bc->needles[0]);
	}
	free(out);
	h_pitlane_stop(pl);
}

static void test_config_errors_exit_78(void **state)
{
	(void)state;
	char missing[1200], badini[1200], password[64];
	snprintf(missing, sizeof(missing), "%s/missing.ini", h_tmpdir());
	snprintf(badini, sizeof(badini), "%s/bad.ini", h_tmpdir());
	snprintf(password, sizeof(password), "pw-%d-s3cr3t", (int)getpid());
	write_file(badini, "[pool]\npool_max = zero\n");
	const struct bad_config cases[] = {
	    {{"DB_POOL_MAX=abc"}, {NULL}, {"DB_POOL_MAX", "abc"}},
	    {{"DB_POOL_MAX=0"}, {NULL}, {"DB_POOL_MAX"}},
	    {{"DB_POOL_MIN=5", "DB_POOL_MAX=3"}, {NULL}, {"DB_POOL_MIN"}},
	    {{"DB_IDLE_TIMEOUT_MS=50"}, {NULL}, {"DB_IDLE_TIMEOUT_MS"}},
	    {{"DB_CONNECT_TIMEOUT_MS=-1"}, {NULL}, {"DB_CONNECT_TIMEOUT_MS"}},
	    {{"DB_PORT=70000"}, {NULL}, {"DB_PORT", "70000"}},
	    {{"DB_SSLMODE=sometimes"}, {NULL}, {"DB_SSLMODE", "sometimes"}},
	    {{"DB_POOL_MAX=abc", "DB_IDLE_TIMEOUT_MS=xyz"},
	     {NULL},
	     {"DB_POOL_MAX", "DB_IDLE_TIMEOUT_MS"}},
	    {{"PITLANE_AUTH_TYPE=trust"},
	     {"-a", "0.0.0.0"},
	     {"0.0.0.0", "auth_trust_anywhere"}},
	    {{NULL}, {"-m", "bogus"}, {"bogus"}},
	    {{NULL}, {"-p", "99999"}, {"99999"}},
	    {{NULL}, {"-c", missing}, {"missing.ini"}},
	    {{NULL}, {"-c", badini}, {"pool_max", "zero"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_config_error(&cases[i], password);
	h_pass();
}

static void test_check_config_redacts_password(void **state)
{
	(void)state;
	const char *env[] = {"DB_PASSWORD=hunter2-redact-me", NULL};
	const char *args[] = {"--check-config", NULL};
	struct h_pitlane *pl = h_pitlane_spawn(env, args);
	int st = h_pitlane_wait_exit(pl, 10000);
	char *out = h_log_read(pl);
	bool leaked = strstr(out, "hunter2-redact-me") != NULL;
	bool listened = strstr(out, "\"listening\"") != NULL;
	if (st != 0 || leaked || listened)
		fprintf(stderr, "--check-config exit %d:\n%s\n", st, out);
	free(out);
	h_pitlane_stop(pl);
	assert_int_equal(st, 0);
	assert_false(leaked);
	assert_false(listened);
	h_pass();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sigusr1_metrics, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_sigterm_inflight_commits,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_postgres_down_at_startup,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(
		test_backend_terminated_midtransaction, h_test_setup,
		h_test_teardown),
	    cmocka_unit_test_setup_teardown(
		test_backend_fatal_relayed_alone_session, h_test_setup,
		h_test_teardown),
	    cmocka_unit_test_setup_teardown(
		test_backend_fatal_relayed_alone_transaction, h_test_setup,
		h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors_exit_78,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_check_config_redacts_password,
					    h_test_setup, h_test_teardown),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
