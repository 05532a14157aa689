/* Live takeover (pitlane -R, issue 15): a second process started with -R
 * takes the listening sockets and then every client at its own idle
 * boundary. pgbench with 20 persistent clients runs straight through a
 * takeover without a failed transaction and the old process exits 0; a
 * prepared statement and a cancel work across it (and across a second
 * takeover); a cancel for a client the old process still holds reaches it;
 * a refused version and a new process killed half-way leave the old one
 * serving; two peers on one port are restarted in turn under pgbench. */
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

/* The old process: the fixture's *state, with its own socket directory. */
static struct h_pitlane *start_old(void **state, const char *name)
{
	const char *env[] = {env_dir, "DB_POOL_MAX=8", CONNECT_TIMEOUT, NULL};
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
	const char *env[] = {env_dir, "DB_POOL_MAX=8", CONNECT_TIMEOUT, extra,
			     NULL};
	const char *args[] = {"-R", NULL};

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
	for (int i = 0; i < 100; i++) {
		if (h_query_int(h_admin(),
				"SELECT count(*) FROM pg_stat_activity WHERE "
				"state = 'active' AND query LIKE "
				"'SELECT pg_sleep%'") == 1)
			break;
		h_sleep_ms(H_POLL_MS);
	}
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

static bool sleep_running(void *arg)
{
	(void)arg;
	return h_query_int(h_admin(),
			   "SELECT count(*) FROM pg_stat_activity WHERE "
			   "state = 'active' AND query LIKE "
			   "'SELECT pg_sleep%'") == 1;
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

int main(void)
{
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
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
