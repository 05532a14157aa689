/* Live takeover (pitlane -R, issue 15): a second process started with -R
 * takes the listening sockets and then every client at its own idle
 * boundary. pgbench with 20 persistent clients runs straight through a
 * takeover without a failed transaction and the old process exits 0; a
 * prepared statement and a cancel work across it (and across a second
 * takeover); a cancel for a client the old process still holds reaches it;
 * a refused version and a new process killed half-way leave the old one
 * serving; two peers on one port are restarted in turn under pgbench.
 * Idle servers pass too: the same backends serve after a takeover, none is
 * opened; in session mode a client keeps its backend (temp table, SET,
 * prepared statements) and pgbench runs through without a failure. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A loaded machine may take PostgreSQL more than the default 2 s to
 * accept a connection; a new process has none to start with. */
#define CONNECT_TIMEOUT "DB_CONNECT_TIMEOUT_MS=10000"

static char sock_dir[512];
static char env_dir[600];
static const char *pool_max = "DB_POOL_MAX=8"; /* of both processes */
static const char *pool_mode;		       /* NULL: transaction */

/* The old process: the fixture's *state, with its own socket directory. */
static struct h_pitlane *start_old(void **state, const char *name)
{
	const char *env[] = {env_dir, pool_max, CONNECT_TIMEOUT, pool_mode,
			     NULL};
	struct h_pitlane *pl;

	snprintf(sock_dir, sizeof(sock_dir), "%s/%s", h_tmpdir(), name);
	mkdir(sock_dir, 0700);
	snprintf(env_dir, sizeof(env_dir), "PITLANE_UNIX_SOCKET_DIR=%s",
		 sock_dir);
	pl = h_pitlane_start(env, NULL);
	assert_true(h_log_wait(pl, "takeover socket listening", 1, 10000));
	*state = pl;
	return pl;
}

/* pitlane -R with the same configuration; extra: one more env entry. */
static struct h_pitlane *spawn_new(const char *extra, bool wait)
{
	const char *env[6] = {env_dir, pool_max, CONNECT_TIMEOUT};
	const char *args[] = {"-R", NULL};
	int n = 3;

	if (pool_mode != NULL)
		env[n++] = pool_mode;
	env[n] = extra; /* the last, or the end */

	return wait ? h_pitlane_start(env, args) : h_pitlane_spawn(env, args);
}

/* The old process hands over everything and exits 0; the new one is the
 * fixture's from then on. */
static void expect_handed_over(void **state, struct h_pitlane *old,
			       struct h_pitlane *new)
{
	int rc = h_pitlane_wait_exit(old, 30000);

	if (rc != 0)
		h_pitlane_dump_log(old, 80);
	assert_int_equal(rc, 0);
	assert_true(h_log_count(old, "takeover complete: every client "
				     "handed over") == 1);
	h_pitlane_stop(old);
	*state = new;
	assert_true(h_log_wait(new, "takeover complete: the old process let go",
			       1, 10000));
}

static long long rows_of_t(void)
{
	static PGconn *direct;

	if (direct == NULL)
		direct = h_direct(H_DBNAME);
	return h_query_int(direct, "SELECT count(*) FROM t");
}

static bool rows_grew(void *arg)
{
	return rows_of_t() >= *(long long *)arg;
}

/* pgbench -c 20 -T 8 with persistent connections on port, in the
 * background; returns its pid once it has committed a few hundred
 * transactions. Its output goes to bench_out. */
static char bench_out[700];

static pid_t bench_start(int port)
{
	char script[700], cmd[2400];
	const char *bindir = getenv("PG_BINDIR");
	long long want;
	pid_t bench;
	FILE *f;

	snprintf(script, sizeof(script), "%s/bench.sql", h_tmpdir());
	snprintf(bench_out, sizeof(bench_out), "%s/bench.out", h_tmpdir());
	f = fopen(script, "w");
	assert_non_null(f);
	fputs("BEGIN;\nINSERT INTO t VALUES (1, 'bench');\n"
	      "SELECT count(*) FROM t WHERE id = 2;\nCOMMIT;\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "exec %s%spgbench -n -c 20 -j 2 -T 8 -f %s -h 127.0.0.1 "
		 "-p %d -U %s %s >%s 2>&1",
		 bindir ? bindir : "", bindir ? "/" : "", script, port, H_USER,
		 H_DBNAME, bench_out);
	want = rows_of_t() + 200;
	bench = fork();
	assert_true(bench >= 0);
	if (bench == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	assert_true(h_poll(rows_grew, &want, 20000));
	return bench;
}

/* pgbench exited 0 with no failed transaction. */
static void bench_check(pid_t bench)
{
	char cmd[2000];
	int st;

	assert_int_equal(waitpid(bench, &st, 0), bench);
	snprintf(cmd, sizeof(cmd),
		 "grep -E '^(number of (transactions actually processed|"
		 "failed)|tps)' %s | sed 's/^/# pgbench: /'",
		 bench_out);
	(void)system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s >&2", bench_out);
		(void)system(cmd);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	snprintf(cmd, sizeof(cmd),
		 "grep -q '^number of failed transactions: 0 ' %s", bench_out);
	assert_int_equal(system(cmd), 0);
}

/* pgbench -c 20 (persistent connections) through a takeover: no failed
 * transaction, pgbench exits 0, the old process exits 0. */
static void test_pgbench_through_takeover(void **state)
{
	struct h_pitlane *old = start_old(state, "bench"), *new;
	pid_t bench = bench_start(old->port);

	new = spawn_new(NULL, true);
	expect_handed_over(state, old, new);
	bench_check(bench);
	h_pass();
}

static char peer_dir[3][512];

/* Peer id (1 or 2) of a pair sharing port; takeover: started with -R. */
static struct h_pitlane *peer_start(int id, int port, bool takeover)
{
	char e_id[32], e_dir[600], e_peers[1400], p[16];
	const char *env[] = {"PITLANE_SO_REUSEPORT=yes",
			     e_id,
			     e_dir,
			     e_peers,
			     "DB_POOL_MAX=6",
			     CONNECT_TIMEOUT,
			     NULL};
	const char *args[] = {"-p", p, takeover ? "-R" : NULL, NULL};
	struct h_pitlane *pl;

	snprintf(e_id, sizeof(e_id), "PITLANE_PEER_ID=%d", id);
	snprintf(e_dir, sizeof(e_dir), "PITLANE_UNIX_SOCKET_DIR=%s",
		 peer_dir[id]);
	snprintf(e_peers, sizeof(e_peers),
		 "PITLANE_PEERS=1 = host=%s port=%d; 2 = host=%s port=%d",
		 peer_dir[1], port, peer_dir[2], port);
	snprintf(p, sizeof(p), "%d", port);
	pl = h_pitlane_start(env, args);
	assert_true(h_log_wait(pl, "pool configured", 1, 10000));
	return pl;
}

/* A rolling restart of two peers on one port: each taken over in turn
 * with -R while pgbench runs through the shared port; no transaction
 * fails and each old process exits 0. */
static void test_rolling_restart_of_peers(void **state)
{
	int port = h_free_port();
	struct h_pitlane *p1, *p2, *n1, *n2;
	pid_t bench;

	for (int i = 1; i <= 2; i++) {
		snprintf(peer_dir[i], sizeof(peer_dir[i]), "%s/rolling%d",
			 h_tmpdir(), i);
		mkdir(peer_dir[i], 0700);
	}
	p1 = peer_start(1, port, false);
	*state = p1;
	p2 = peer_start(2, port, false);
	bench = bench_start(port);
	n1 = peer_start(1, port, true);
	expect_handed_over(state, p1, n1);
	n2 = peer_start(2, port, true);
	assert_int_equal(h_pitlane_wait_exit(p2, 30000), 0);
	h_pitlane_stop(p2);
	bench_check(bench);
	h_pitlane_signal(n2, SIGTERM);
	assert_int_equal(h_pitlane_wait_exit(n2, 20000), 0);
	h_pitlane_stop(n2);
	h_pass();
}

/* A statement prepared before the takeover is executed after it, on the
 * same connection, now served by the new process; then a third process
 * takes over from the second (a rolling restart) and it still works. */
static void test_prepared_across(void **state)
{
	struct h_pitlane *old = start_old(state, "prep"), *new;
	PGconn *c = h_connect(old, NULL);
	const char *v[1] = {"41"};
	PGresult *r;

	r = PQprepare(c, "plus1", "SELECT $1::int + 1", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	h_exec_ok(c, "SET application_name = 'moved'");
	new = spawn_new(NULL, true);
	expect_handed_over(state, old, new);
	r = PQexecPrepared(c, "plus1", 1, v, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "42");
	PQclear(r);
	assert_int_equal(
	    h_query_int(c, "SELECT count(*) FROM pg_stat_activity WHERE "
			   "application_name = 'moved' AND pid = "
			   "pg_backend_pid()"),
	    1);
	old = new;
	new = spawn_new(NULL, true);
	expect_handed_over(state, old, new);
	v[0] = "1";
	r = PQexecPrepared(c, "plus1", 1, v, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "2");
	PQclear(r);
	PQfinish(c);
	h_pass();
}

static bool sleep_running(void *arg)
{
	(void)arg;
	return h_query_int(h_admin(),
			   "SELECT count(*) FROM pg_stat_activity WHERE "
			   "state = 'active' AND query LIKE "
			   "'SELECT pg_sleep%'") == 1;
}

/* A client handed over keeps its cancel key: PQcancel reaches its query. */
static void test_cancel_after_takeover(void **state)
{
	struct h_pitlane *old = start_old(state, "cancel"), *new;
	PGconn *c = h_connect(old, NULL);
	PGcancel *cancel = PQgetCancel(c);
	char err[256], code[6];
	PGresult *r;

	new = spawn_new(NULL, true);
	expect_handed_over(state, old, new);
	assert_int_equal(PQsendQuery(c, "SELECT pg_sleep(30)"), 1);
	assert_true(h_poll(sleep_running, NULL, 10000));
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	r = PQgetResult(c);
	assert_string_equal(h_result_sqlstate(r, code), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	PQfreeCancel(cancel);
	h_exec_ok(c, "SELECT 1");
	PQfinish(c);
	h_pass();
}

/* A client still in the old process (its query running) is canceled
 * through the port the new process now accepts on: the new one passes the
 * cancel to the old. Then the client moves, and the old one exits 0. */
static void test_cancel_during_takeover(void **state)
{
	struct h_pitlane *old = start_old(state, "cancel2"), *new;
	PGconn *c = h_connect(old, NULL);
	PGcancel *cancel = PQgetCancel(c);
	char err[256], code[6];
	PGresult *r;

	assert_int_equal(PQsendQuery(c, "SELECT pg_sleep(30)"), 1);
	assert_true(h_poll(sleep_running, NULL, 10000));
	new = spawn_new(NULL, true);
	assert_true(h_log_wait(old, "takeover started: handing clients over", 1,
			       10000));
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	r = PQgetResult(c);
	assert_string_equal(h_result_sqlstate(r, code), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	PQfreeCancel(cancel);
	expect_handed_over(state, old, new);
	h_exec_ok(c, "SELECT 1");
	PQfinish(c);
	h_pass();
}

/* An incompatible takeover protocol is refused before anything moves. */
static void test_version_mismatch(void **state)
{
	struct h_pitlane *old = start_old(state, "version"), *new;
	PGconn *c = h_connect(old, NULL);

	new = spawn_new("PITLANE_TAKEOVER_PROTO=999", false);
	assert_int_not_equal(h_pitlane_wait_exit(new, 20000), 0);
	assert_true(h_log_wait(old, "takeover refused", 1, 5000));
	h_pitlane_stop(new);
	h_exec_ok(c, "SELECT 1");
	PQfinish(c);
	c = h_connect(old, NULL); /* still accepting */
	h_exec_ok(c, "SELECT 1");
	PQfinish(c);
	assert_true(h_pitlane_alive(old));
	h_pass();
}

/* The new process dies half-way: the old one serves every client it still
 * holds (here one inside a transaction) and accepts again. */
static void test_new_killed(void **state)
{
	struct h_pitlane *old = start_old(state, "killed"), *new;
	PGconn *busy = h_connect(old, NULL);

	h_exec_ok(busy, "BEGIN");
	h_exec_ok(busy, "INSERT INTO t VALUES (3, 'kept')");
	new = spawn_new(NULL, true);
	assert_true(h_log_wait(old, "takeover started: handing clients over", 1,
			       10000));
	h_pitlane_signal(new, SIGKILL);
	h_pitlane_wait_exit(new, 10000);
	h_pitlane_stop(new);
	assert_true(h_log_wait(old, "takeover failed: serving on", 1, 10000));
	h_exec_ok(busy, "COMMIT");
	assert_true(h_query_int(busy, "SELECT count(*) FROM t WHERE note = "
				      "'kept'") >= 1);
	PQfinish(busy);
	busy = h_connect(old, NULL);
	h_exec_ok(busy, "SELECT 1");
	PQfinish(busy);
	h_pass();
}

/* The backend pids of the pool database (direct connections excluded),
 * sorted, comma-separated, into buf. */
static void backend_pids(char *buf, size_t cap)
{
	PGresult *r =
	    PQexec(h_admin(),
		   "SELECT coalesce(string_agg(pid::text, ',' ORDER BY "
		   "pid), '') FROM pg_stat_activity WHERE datname = '" H_DBNAME
		   "' AND backend_type = 'client backend' AND "
		   "application_name IS DISTINCT FROM '" H_DIRECT_APP "'");

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* Whether pid (decimal) is one of the comma-separated pids. */
static bool pid_in(const char *pids, long long pid)
{
	char one[32];
	size_t n;

	snprintf(one, sizeof(one), "%lld", pid);
	n = strlen(one);
	for (const char *p = pids; p != NULL && *p != '\0';) {
		if (strncmp(p, one, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		p = p != NULL ? p + 1 : NULL;
	}
	return false;
}

/* Idle servers pass: three servers opened through the old process are
 * the new one's after the takeover (the same backends, no other opened),
 * listed by SHOW SERVERS there, and serve the clients there. */
static void test_idle_servers_move(void **state)
{
	struct h_pitlane *old = start_old(state, "servers"), *new;
	PGconn *c[3];
	char before[256], after[256];

	for (int i = 0; i < 3; i++) {
		c[i] = h_connect(old, NULL);
		h_exec_ok(c[i], "BEGIN");
		h_exec_ok(c[i], "SELECT 1");
	}
	for (int i = 0; i < 3; i++)
		h_exec_ok(c[i], "COMMIT");
	assert_true(h_wait_backends(3, 10000));
	backend_pids(before, sizeof(before));
	new = spawn_new("PITLANE_ADMIN_USERS=" H_USER, true);
	expect_handed_over(state, old, new);
	backend_pids(after, sizeof(after));
	assert_string_equal(before, after);
	/* the new console lists them, with their backend pids */
	PGconn *con = h_connect(new, "dbname=pgbouncer");
	PGresult *r = PQexec(con, "SHOW SERVERS");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 3);
	int col = PQfnumber(r, "remote_pid");
	assert_true(col >= 0);
	for (int i = 0; i < 3; i++)
		assert_true(pid_in(before, atoll(PQgetvalue(r, i, col))));
	PQclear(r);
	PQfinish(con);
	for (int i = 0; i < 3; i++) {
		h_exec_ok(c[i], "BEGIN");
		assert_true(
		    pid_in(before, h_query_int(c[i], "SELECT "
						     "pg_backend_pid()")));
	}
	for (int i = 0; i < 3; i++) {
		h_exec_ok(c[i], "COMMIT");
		PQfinish(c[i]);
	}
	backend_pids(after, sizeof(after));
	assert_string_equal(before, after);
	h_pass();
}

/* Session mode: a client's backend moves with it. Its pid, a temp table,
 * a SET, an SQL PREPARE and a protocol-level prepared statement are all
 * there after a takeover, and after a second one. */
static void test_session_state_kept(void **state)
{
	struct h_pitlane *old, *new;
	PGconn *c;
	long long pid;
	const char *v[1] = {"41"};
	PGresult *r;

	pool_mode = "PITLANE_POOL_MODE=session";
	old = start_old(state, "session");
	c = h_connect(old, NULL);
	pid = h_query_int(c, "SELECT pg_backend_pid()");
	h_exec_ok(c, "CREATE TEMP TABLE tt AS SELECT 7 AS x");
	h_exec_ok(c, "SET application_name = 'kept'");
	h_exec_ok(c, "PREPARE sq AS SELECT 5");
	r = PQprepare(c, "plus1", "SELECT $1::int + 1", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	for (int round = 0; round < 2; round++) {
		new = spawn_new(NULL, true);
		expect_handed_over(state, old, new);
		old = new;
		assert_int_equal(h_query_int(c, "SELECT pg_backend_pid()"),
				 pid);
		assert_int_equal(h_query_int(c, "SELECT x FROM tt"), 7);
		assert_int_equal(
		    h_query_int(c, "SELECT count(*) FROM pg_stat_activity "
				   "WHERE application_name = 'kept' AND pid = "
				   "pg_backend_pid()"),
		    1);
		assert_int_equal(h_query_int(c, "EXECUTE sq"), 5);
		r = PQexecPrepared(c, "plus1", 1, v, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(r, 0, 0), "42");
		PQclear(r);
	}
	PQfinish(c);
	pool_mode = NULL;
	h_pass();
}

/* Session mode under pgbench -c 20 (pool 24): every client moves with its
 * server between two transactions, none fails. */
static void test_session_pgbench(void **state)
{
	struct h_pitlane *old, *new;
	pid_t bench;

	pool_mode = "PITLANE_POOL_MODE=session";
	pool_max = "DB_POOL_MAX=24";
	old = start_old(state, "sessbench");
	bench = bench_start(old->port);
	new = spawn_new(NULL, true);
	expect_handed_over(state, old, new);
	/* every client moved between two transactions, not when it left */
	assert_int_equal(waitpid(bench, NULL, WNOHANG), 0);
	bench_check(bench);
	pool_mode = NULL;
	pool_max = "DB_POOL_MAX=8";
	h_pass();
}

static bool pid_gone(void *arg)
{
	char pids[256];

	backend_pids(pids, sizeof(pids));
	return !pid_in(pids, *(long long *)arg);
}

/* Session mode, the new process killed half-way: an idle client has moved
 * with its server (both die with the new process: its backend exits, the
 * old process kept no copy of it), a client inside a transaction (it
 * cannot move) stays with the old process on its backend and commits
 * there, and a new client is served by the old process's idle server:
 * every backend is held by one process only. */
static void test_session_new_killed(void **state)
{
	struct h_pitlane *old, *new;
	PGconn *busy, *idle;
	long long pid, idle_pid;

	pool_mode = "PITLANE_POOL_MODE=session";
	old = start_old(state, "sesskilled");
	busy = h_connect(old, NULL);
	idle = h_connect(old, NULL);
	pid = h_query_int(busy, "SELECT pg_backend_pid()");
	idle_pid = h_query_int(idle, "SELECT pg_backend_pid()");
	h_exec_ok(busy, "BEGIN");
	h_exec_ok(busy, "INSERT INTO t VALUES (4, 'session kept')");
	new = spawn_new("PITLANE_LOG_LEVEL=debug", true);
	assert_true(h_log_wait(new, "client taken over", 1, 10000));
	h_pitlane_signal(new, SIGKILL);
	h_pitlane_wait_exit(new, 10000);
	h_pitlane_stop(new);
	assert_true(h_log_wait(old, "takeover failed: serving on", 1, 10000));
	h_exec_ok(busy, "COMMIT");
	assert_int_equal(h_query_int(busy, "SELECT pg_backend_pid()"), pid);
	assert_true(h_poll(pid_gone, &idle_pid, 10000));
	PGconn *other = h_connect(old, NULL);
	h_exec_ok(other, "SELECT 1");
	PQfinish(other);
	PQfinish(idle);
	PQfinish(busy);
	pool_mode = NULL;
	h_pass();
}

int main(void)
{
	/* TEST_FILTER=test_name runs one test (cmocka's filter), for
	 * debugging */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pgbench_through_takeover,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_rolling_restart_of_peers,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_prepared_across, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_after_takeover,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_during_takeover,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_version_mismatch, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_new_killed, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_servers_move,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_session_state_kept,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_session_pgbench, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_session_new_killed,
					    h_test_setup, h_test_teardown),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
