/* The client protocol through pitlane: cancel, login errors, simple and
 * extended queries in both pool modes, errors and disconnects inside
 * transactions, SSLRequest, malformed and oversized startup packets, a
 * Terminate before the startup packet, protocol negotiation and the
 * parameters a client gets at login. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROTO_30    196608u   /* 3.0 */
#define PROTO_32    196610u   /* 3.2, PostgreSQL 18 */
#define PROTO_20    131072u   /* 2.0 */
#define SSL_CODE    80877103u /* SSLRequest */
#define GSSENC_CODE 80877104u /* GSSENCRequest */
#define CANCEL_CODE 80877102u /* CancelRequest */

static const char *const login_kv[] = {"user", H_USER, "database", H_DBNAME,
				       NULL};

/* What a raw login saw, message by message, up to ReadyForQuery or an
 * ErrorResponse. */
struct login {
	bool negotiated;	 /* NegotiateProtocolVersion before auth */
	uint32_t newest_minor;	 /* its newest supported minor version */
	uint32_t n_unrecognized; /* its count of rejected options */
	char unrecognized[128];	 /* the first rejected option */
	bool auth_ok;		 /* AuthenticationOk */
	bool server_version;	 /* ParameterStatus server_version */
	bool key;		 /* BackendKeyData of 8 bytes */
	bool ready;		 /* ReadyForQuery */
	char error[6];		 /* SQLSTATE of an ErrorResponse */
};

static void raw_login(int fd, struct login *lg)
{
	unsigned char b[2048];
	char type;
	int n;
	memset(lg, 0, sizeof(*lg));
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b) - 1, 5000)) >= 0) {
		b[n] = '\0';
		if (type == 'v' && n >= 8) {
			lg->negotiated = !lg->auth_ok;
			lg->newest_minor = h_be32(b);
			lg->n_unrecognized = h_be32(b + 4);
			snprintf(lg->unrecognized, sizeof(lg->unrecognized),
				 "%.127s", (const char *)b + 8);
		} else if (type == 'R') {
			lg->auth_ok = n == 4 && h_be32(b) == 0;
		} else if (type == 'S') {
			lg->server_version |=
			    strcmp((const char *)b, "server_version") == 0;
		} else if (type == 'K') {
			lg->key = n == 8;
		} else if (type == 'Z') {
			lg->ready = true;
			return;
		} else if (type == 'E') {
			h_raw_err_field(b, n, 'C', lg->error,
					sizeof(lg->error));
			return;
		}
	}
}

/* Sends a simple Query and returns the first column of its first row. */
static void raw_query_value(int fd, const char *sql, char *out, size_t cap)
{
	size_t len = strlen(sql) + 1;
	unsigned char msg[256] = {'Q'};
	uint32_t be = htonl((uint32_t)(len + 4));
	memcpy(msg + 1, &be, 4);
	memcpy(msg + 5, sql, len);
	assert_true(h_raw_send(fd, msg, len + 5));
	unsigned char b[1024];
	char type;
	int n;
	out[0] = '\0';
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000)) >= 0) {
		if (type == 'D' && n >= 6 && out[0] == '\0')
			snprintf(out, cap, "%.*s", (int)h_be32(b + 2), b + 6);
		if (type == 'Z')
			return;
	}
	fail_msg("no ReadyForQuery after `%s`", sql);
}

static void raw_terminate(int fd)
{
	static const unsigned char x[] = {'X', 0, 0, 0, 4};
	h_raw_send(fd, x, sizeof(x));
	close(fd);
}

static bool sleep_is_running(void *arg)
{
	(void)arg;
	return h_query_int(
		   h_admin(),
		   "SELECT count(*) FROM pg_stat_activity WHERE "
		   "state = 'active' AND query LIKE 'SELECT pg_sleep%'") == 1;
}

static void test_cancel_pg_sleep(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	PGconn *c = h_connect(pl, NULL);
	assert_true(PQsendQuery(c, "SELECT pg_sleep(10)"));
	assert_true(h_poll(sleep_is_running, NULL, 5000));
	char err[256], st[6];
	PGcancel *cn = PQgetCancel(c);
	int64_t t0 = h_now_ms();
	assert_true(PQcancel(cn, err, sizeof(err)));
	PGresult *r = PQgetResult(c);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "canceled after %lld ms: %s", (long long)took,
		PQresultErrorMessage(r));
	assert_string_equal(h_result_sqlstate(r, st), "57014");
	assert_true(took < 1000);
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_int_equal(h_query_int(c, "SELECT 3"), 3);

	/* A CancelRequest with the wrong key cancels nothing. */
	assert_true(PQsendQuery(c, "SELECT pg_sleep(0.5)"));
	assert_true(h_poll(sleep_is_running, NULL, 5000));
	uint32_t bogus[4] = {htonl(16), htonl(CANCEL_CODE),
			     htonl((uint32_t)PQbackendPID(c)), htonl(12345)};
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, bogus, sizeof(bogus)));
	close(fd);
	r = PQgetResult(c);
	assert_string_equal(h_result_sqlstate(r, st), "00000");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	PQcancel(cn, err, sizeof(err)); /* nothing running: harmless */
	PQfreeCancel(cn);
	assert_int_equal(h_query_int(c, "SELECT 4"), 4);
	PQfinish(c);
	h_pass();
}

/* pitlane sends at most 4 cancels at once (CANCEL_THREADS_MAX) and starts
 * a queued one only when the loop has been told that a running one
 * finished. Nine cancels in turn each cancel their query: were a
 * completion lost, the fifth would wait in the queue for ever and its
 * pg_sleep would run its full ten seconds and succeed. */
static void test_cancel_many_in_turn(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	PGconn *c = h_connect(pl, NULL);
	PGcancel *cn = PQgetCancel(c);
	char err[256], st[6];

	for (int i = 0; i < 9; i++) {
		assert_true(PQsendQuery(c, "SELECT pg_sleep(10)"));
		assert_true(h_poll(sleep_is_running, NULL, 5000));
		assert_true(PQcancel(cn, err, sizeof(err)));
		PGresult *r = PQgetResult(c);
		assert_string_equal(h_result_sqlstate(r, st), "57014");
		PQclear(r);
		while ((r = PQgetResult(c)))
			PQclear(r);
	}
	PQfreeCancel(cn);
	assert_int_equal(h_query_int(c, "SELECT 5"), 5);
	PQfinish(c);
	h_pass();
}

/* A client that never cancels, sharing the server with one that does: any
 * query of its that fails was hit by a cancel meant for someone else. */
struct bystander {
	struct h_pitlane *pl;
	volatile int stop;
	int queries, wrong;
	int64_t longest_ms; /* the longest query, its wait for the server in */
	char sqlstate[6];   /* of the first failure */
};

static void *bystander_run(void *arg)
{
	struct bystander *b = arg;
	PGconn *c = h_connect_try(b->pl, NULL);

	if (PQstatus(c) != CONNECTION_OK)
		b->wrong++;
	while (PQstatus(c) == CONNECTION_OK && !b->stop) {
		int64_t t0 = h_now_ms();
		PGresult *r = PQexec(c, "SELECT pg_sleep(0.002)");
		if (h_now_ms() - t0 > b->longest_ms)
			b->longest_ms = h_now_ms() - t0;
		if (PQresultStatus(r) != PGRES_TUPLES_OK && b->wrong++ == 0)
			h_result_sqlstate(r, b->sqlstate);
		b->queries++;
		PQclear(r);
	}
	PQfinish(c);
	return NULL;
}

/* Runs sql and returns its SQLSTATE ("00000" on success). */
static const char *query_state(PGconn *c, const char *sql, char st[6])
{
	PGresult *r = PQexec(c, sql);
	h_result_sqlstate(r, st);
	PQclear(r);
	return st;
}

/* A cancel reaches only the query that was running for the client that
 * sent it. Each round times a cancel against a short query that is just
 * ending (it lands during it, or after it), then runs a query of the same
 * client with no cancel, then sends a cancel while the client is idle and
 * runs another: those two must never fail, nor may any query of a second
 * client on the same server (pool of one in transaction mode).
 *
 * That second client waits for the server while the first one has it,
 * and while a cancel of the first one's is in flight (pitlane holds the
 * server until PQcancel has returned: docs/design.md, Cancel). Under CPU
 * load with the ASan build a cancel took up to 2194 ms, and the second
 * client's longest query followed it (2214 ms; 2280 ms in a run that
 * failed), past the 2 s default wait timeout (connect_timeout_ms): a
 * 53300, not a wrong cancel. The wait timeout is therefore long here; a
 * server held for good still fails the test. */
static void cancel_race(void **state, const char *mode, const char *pool_max)
{
	char max[32], min[32], st[6];
	snprintf(max, sizeof(max), "DB_POOL_MAX=%s", pool_max);
	snprintf(min, sizeof(min), "DB_POOL_MIN=%s", pool_max);
	const char *env[] = {max, min, "DB_CONNECT_TIMEOUT_MS=30000", NULL};
	const char *args[] = {"-m", mode, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	struct bystander b = {.pl = pl};
	pthread_t t;
	int canceled = 0, completed = 0, wrong = 0;
	char err[256];

	PGconn *c = h_connect(pl, NULL);
	PGcancel *cn = PQgetCancel(c);
	assert_int_equal(pthread_create(&t, NULL, bystander_run, &b), 0);
	srand(12345);
	for (int i = 0; i < 150; i++) {
		assert_true(PQsendQuery(c, "SELECT pg_sleep(0.003)"));
		usleep((useconds_t)(rand() % 6000));
		assert_true(PQcancel(cn, err, sizeof(err)));
		PGresult *r = PQgetResult(c);
		h_result_sqlstate(r, st);
		PQclear(r);
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
		if (strcmp(st, "57014") == 0)
			canceled++;
		else if (strcmp(st, "00000") == 0)
			completed++;
		else
			wrong++;
		if (strcmp(query_state(c, "SELECT pg_sleep(0.003)", st),
			   "00000") != 0 &&
		    wrong++ == 0)
			fprintf(stderr, "round %d: next query got %s\n", i, st);
		assert_true(PQcancel(cn, err, sizeof(err))); /* nothing runs */
		if (strcmp(query_state(c, "SELECT pg_sleep(0.003)", st),
			   "00000") != 0 &&
		    wrong++ == 0)
			fprintf(stderr,
				"round %d: query after an idle cancel "
				"got %s\n",
				i, st);
	}
	b.stop = 1;
	assert_int_equal(pthread_join(t, NULL), 0);
	fprintf(stderr,
		"%s: 150 timed cancels: %d canceled their query, %d came too "
		"late; wrong cancels: %d of this client's, %d of %d of the "
		"other's (%s), its longest query %lld ms\n",
		mode, canceled, completed, wrong, b.wrong, b.queries,
		b.sqlstate[0] ? b.sqlstate : "-", (long long)b.longest_ms);
	assert_int_equal(wrong, 0);
	assert_int_equal(b.wrong, 0);
	assert_true(b.queries > 0);
	PQfreeCancel(cn);
	PQfinish(c);
	h_pass();
}

static void test_cancel_race_transaction(void **state)
{
	cancel_race(state, "transaction", "1");
}

static void test_cancel_race_session(void **state)
{
	cancel_race(state, "session", "2");
}

static void test_cancel_race_statement(void **state)
{
	cancel_race(state, "statement", "1");
}

static void expect_login_error(int port, const char *user, const char *db,
			       const char *sqlstate)
{
	const char *kv[] = {"user", user, "database", db, NULL};
	struct login lg;
	int fd = h_raw_connect(port);
	assert_true(h_raw_startup(fd, PROTO_30, kv));
	raw_login(fd, &lg);
	assert_false(lg.ready);
	assert_string_equal(lg.error, sqlstate);
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
}

static void test_wrong_user_or_database(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	expect_login_error(pl->port, "nobody", H_DBNAME, "28000");
	expect_login_error(pl->port, H_USER, "nosuchdb", "3D000");
	PGconn *c = h_connect_try(pl, "user=nobody");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	c = h_connect_try(pl, "dbname=postgres");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	h_pass();
}

static const char *param_text(PGconn *c, const char *sql, const char *arg,
			      char *out, size_t cap)
{
	PGresult *r = PQexecParams(c, sql, 1, NULL, &arg, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("`%s`: %s", sql, PQresultErrorMessage(r));
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static const char *prepared_text(PGconn *c, const char *name, const char *arg,
				 char *out, size_t cap)
{
	PGresult *r = PQexecPrepared(c, name, 1, &arg, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("execute %s: %s", name, PQresultErrorMessage(r));
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static void copy_round_trip(PGconn *c)
{
	PGresult *r = PQexec(c, "COPY t FROM STDIN");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	for (int i = 0; i < 1000; i++) {
		char row[64];
		int n = snprintf(row, sizeof(row), "%d\tcopy\n", 500000 + i);
		assert_int_equal(PQputCopyData(c, row, n), 1);
	}
	assert_int_equal(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_null(PQgetResult(c));
	r = PQexec(c, "COPY (SELECT id FROM t WHERE note = 'copy') TO STDOUT");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
	PQclear(r);
	int rows = 0;
	char *buf;
	while (PQgetCopyData(c, &buf, 0) > 0) {
		rows++;
		PQfreemem(buf);
	}
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_null(PQgetResult(c));
	assert_int_equal(rows, 1000);
	h_exec_ok(c, "DELETE FROM t WHERE note = 'copy'");
}

static void run_queries(struct h_pitlane *pl, bool session)
{
	PGconn *c = h_connect(pl, NULL);
	char v[64], st[6];
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	assert_int_equal(h_query_int(c, "SELECT 1; SELECT 2"), 2);
	assert_string_equal(param_text(c, "SELECT $1::int + 1", "41", v, 64),
			    "42");
	/* An error in an extended query, then the connection goes on. */
	PGresult *r = PQexecParams(c, "SELECT 1 / $1::int", 1, NULL,
				   (const char *const[]){"0"}, NULL, NULL, 0);
	assert_string_equal(h_result_sqlstate(r, st), "22012");
	PQclear(r);
	assert_string_equal(param_text(c, "SELECT $1::text", "ok", v, 64),
			    "ok");

	h_exec_ok(c, "BEGIN");
	r = PQprepare(c, "s1", "SELECT $1::text || 'x'", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = PQdescribePrepared(c, "s1");
	assert_int_equal(PQnparams(r), 1);
	PQclear(r);
	assert_string_equal(prepared_text(c, "s1", "a", v, 64), "ax");
	assert_string_equal(prepared_text(c, "s1", "b", v, 64), "bx");
	r = PQprepare(c, "", "SELECT $1::int * 2", 1, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_string_equal(prepared_text(c, "", "21", v, 64), "42");
	h_exec_ok(c, "DEALLOCATE s1");
	h_exec_ok(c, "COMMIT");

	copy_round_trip(c);
	if (session) {
		/* The server stays linked: statements and settings last. */
		r = PQprepare(c, "s2", "SELECT $1::int - 1", 1, NULL);
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		h_exec_ok(c, "SET work_mem = '1234kB'");
		assert_string_equal(prepared_text(c, "s2", "43", v, 64), "42");
		r = PQexec(c, "SHOW work_mem");
		assert_string_equal(PQgetvalue(r, 0, 0), "1234kB");
		PQclear(r);
	}
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	PQfinish(c);
	if (session) {
		/* DISCARD ALL before the server serves the next client. */
		c = h_connect(pl, NULL);
		r = PQexec(c, "SHOW work_mem");
		assert_string_not_equal(PQgetvalue(r, 0, 0), "1234kB");
		PQclear(r);
		PQfinish(c);
	}
}

static void test_session_mode_queries(void **state)
{
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	const char *args[] = {"-m", "session", NULL};
	*state = h_pitlane_start(env, args);
	run_queries(*state, true);
	h_pass();
}

static void test_transaction_mode_queries(void **state)
{
	const char *args[] = {"-m", "transaction", NULL};
	*state = h_pitlane_start(NULL, args);
	run_queries(*state, false);
	h_pass();
}

/* A statement run outside any leftover transaction has now() equal to
 * statement_timestamp(). */
static void expect_clean_server(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT now() = statement_timestamp()");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
}

static void test_error_in_transaction(void **state)
{
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *a = h_connect(pl, NULL);
	h_exec_ok(a, "BEGIN");
	h_exec_expect(a, "SELECT 1/0", "22012");
	assert_int_equal(PQtransactionStatus(a), PQTRANS_INERROR);
	h_exec_expect(a, "SELECT 1", "25P02");
	h_exec_ok(a, "ROLLBACK");
	assert_int_equal(PQtransactionStatus(a), PQTRANS_IDLE);
	h_exec_ok(a, "BEGIN");
	PGresult *r = PQexecParams(a, "SELECT 1 / $1::int", 1, NULL,
				   (const char *const[]){"0"}, NULL, NULL, 0);
	PQclear(r);
	h_exec_ok(a, "ROLLBACK");

	/* The single server is healthy for the next client. */
	PGconn *b = h_connect(pl, NULL);
	expect_clean_server(b);
	h_exec_ok(b, "BEGIN");
	h_exec_ok(b, "INSERT INTO t VALUES (3003, 'after error')");
	h_exec_ok(b, "COMMIT");
	assert_int_equal(
	    h_query_int(b, "SELECT count(*) FROM t WHERE id = 3003"), 1);
	expect_clean_server(a);
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

static bool no_idle_in_transaction(void *arg)
{
	(void)arg;
	return h_query_int(h_admin(),
			   "SELECT count(*) FROM pg_stat_activity WHERE "
			   "datname = 'pitlane' AND state LIKE 'idle in "
			   "transaction%'") == 0;
}

static void test_disconnect_midtransaction(void **state)
{
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *a = h_connect(pl, NULL);
	h_exec_ok(a, "BEGIN");
	h_exec_ok(a, "INSERT INTO t VALUES (2002, 'ghost')");
	PQfinish(a);
	/* A query still running when its client leaves. */
	a = h_connect(pl, NULL);
	assert_true(PQsendQuery(a, "BEGIN; INSERT INTO t VALUES (2003, "
				   "'inflight'); SELECT pg_sleep(0.3)"));
	PQfinish(a);

	PGconn *b = h_connect(pl, NULL);
	expect_clean_server(b);
	assert_int_equal(h_query_int(b, "SELECT count(*) FROM t WHERE id IN "
					"(2002, 2003)"),
			 0);
	assert_true(h_poll(no_idle_in_transaction, NULL, 5000));
	PQfinish(b);
	h_pass();
}

static void test_ssl_request_answered_n(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	PGconn *c = h_connect(pl, "sslmode=prefer");
	assert_int_equal(PQsslInUse(c), 0);
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	PQfinish(c);
	c = h_connect_try(pl, "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);

	const uint32_t codes[] = {SSL_CODE, GSSENC_CODE};
	for (int i = 0; i < 2; i++) {
		uint32_t req[2] = {htonl(8), htonl(codes[i])};
		struct login lg;
		int fd = h_raw_connect(pl->port);
		assert_true(h_raw_send(fd, req, sizeof(req)));
		assert_int_equal(h_raw_read_byte(fd, 5000), 'N');
		assert_true(h_raw_startup(fd, PROTO_30, login_kv));
		raw_login(fd, &lg);
		assert_true(lg.ready);
		raw_terminate(fd);
	}
	h_pass();
}

/* Bytes that are not a valid startup get a FATAL ErrorResponse, then the
 * connection closes. */
static void expect_refused(int port, const void *bytes, size_t len,
			   const char *what)
{
	unsigned char b[1024];
	char type = 0, code[6] = "", sev[16] = "";
	int fd = h_raw_connect(port);
	assert_true(h_raw_send(fd, bytes, len));
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	if (n >= 0) {
		h_raw_err_field(b, n, 'C', code, sizeof(code));
		h_raw_err_field(b, n, 'S', sev, sizeof(sev));
	}
	fprintf(stderr, "%s: '%c' %s %s\n", what, type ? type : '-', sev, code);
	if (type != 'E')
		fail_msg("%s: want ErrorResponse, got '%c'", what, type);
	assert_string_equal(sev, "FATAL");
	assert_true(code[0] != '\0');
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
}

static void test_bad_startup_packets(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	unsigned char v2[64];
	int fd = h_raw_connect(pl->port);
	close(fd); /* connect and leave: harmless */

	/* A protocol 2.0 startup: length, version, user\0 ... */
	uint32_t hdr[2] = {htonl(40), htonl(PROTO_20)};
	memset(v2, 0, sizeof(v2));
	memcpy(v2, hdr, 8);
	memcpy(v2 + 8, "pitlane", 7);
	expect_refused(pl->port, v2, 40, "protocol 2");
	expect_refused(pl->port, "\0\0\0\3", 4, "length 3");
	expect_refused(pl->port, "\0\0\0\x08\x12\x34\x56\x78", 8,
		       "unknown code");
	expect_refused(pl->port, "\xde\xad\xbe\xef\x01\x02\x03\x04", 8,
		       "garbage");
	expect_refused(pl->port, "GET / HTTP/1.1\r\n\r\n", 18, "http");

	/* Over 10 kB: the header alone may be refused; otherwise send on. */
	static unsigned char big[12000];
	uint32_t bh[2] = {htonl(sizeof(big)), htonl(PROTO_30)};
	memcpy(big, bh, 8);
	memcpy(big + 8, "user\0pitlane\0options\0", 21);
	memset(big + 29, 'x', sizeof(big) - 31);
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, big, 8));
	unsigned char b[512];
	char type = 0;
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 1000);
	if (n < 0) {
		h_raw_send(fd, big + 8, sizeof(big) - 8);
		n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	}
	assert_true(n >= 0);
	assert_int_equal(type, 'E');
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
	assert_true(h_pitlane_alive(pl));
	h_pass();
}

/* Waits for the end of the stream: it must come with no byte before it
 * and as an orderly close, not a reset. */
static void expect_quiet_close(int fd, const char *what)
{
	unsigned char b[64];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 5000) != 1)
		fail_msg("%s: still open after 5 s", what);
	n = recv(fd, b, sizeof(b), 0);
	if (n > 0)
		fail_msg("%s: got %zd bytes, first '%c', before the close",
			 what, n, b[0]);
	if (n < 0)
		fail_msg("%s: %s instead of an orderly close", what,
			 strerror(errno));
	close(fd);
}

/* A Terminate before the startup packet (a driver closing a connection it
 * has just opened) is closed without a reply and logged, as PostgreSQL
 * does, whatever follows it; other garbage still gets a FATAL. */
static void test_terminate_before_startup(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	static const unsigned char x[] = {'X', 0, 0, 0, 4};
	unsigned char pkt[256];
	int fd, logged = 0;

	/* The startup packet a driver would have sent after it. */
	uint32_t hdr[2] = {0, htonl(PROTO_30)};
	size_t plen = 8;
	for (const char *const *kv = login_kv; *kv; kv++) {
		memcpy(pkt + plen, *kv, strlen(*kv) + 1);
		plen += strlen(*kv) + 1;
	}
	pkt[plen++] = '\0';
	hdr[0] = htonl((uint32_t)plen);
	memcpy(pkt, hdr, 8);

	fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, x, sizeof(x)));
	expect_quiet_close(fd, "Terminate alone");
	logged++;

	unsigned char both[sizeof(x) + sizeof(pkt)];
	memcpy(both, x, sizeof(x));
	memcpy(both + sizeof(x), pkt, plen);
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, both, sizeof(x) + plen));
	expect_quiet_close(fd, "Terminate then startup, one write");
	logged++;

	/* The Terminate first, the startup packet in a write of its own, as
	 * the driver does: whatever of it has arrived is read before the
	 * close. */
	for (int i = 0; i < 20; i++) {
		fd = h_raw_connect(pl->port);
		assert_true(h_raw_send(fd, x, sizeof(x)));
		assert_true(h_raw_send(fd, pkt, plen));
		expect_quiet_close(fd, "Terminate then startup");
		logged++;
	}

	/* The same after an SSLRequest answered 'N'. */
	uint32_t req[2] = {htonl(8), htonl(SSL_CODE)};
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, req, sizeof(req)));
	assert_int_equal(h_raw_read_byte(fd, 5000), 'N');
	assert_true(h_raw_send(fd, x, sizeof(x)));
	expect_quiet_close(fd, "SSLRequest, then Terminate");
	logged++;

	/* Only a whole Terminate: the same first bytes then others are a
	 * startup packet of an invalid length. */
	expect_refused(pl->port, "X\0\0\0\5\0\0\0", 8, "X, length 5");
	expect_refused(pl->port, "X\0\0\1", 4, "X, length 0x58000001");

	char line[1024], level[16], detail[128];
	assert_true(
	    h_log_wait(pl, "invalid length of startup packet", logged, 5000));
	assert_true(h_log_record(pl, "invalid length of startup packet", 0,
				 line, sizeof(line)));
	assert_true(h_json_str(line, "level", level, sizeof(level)));
	assert_string_equal(level, "info");
	assert_true(h_json_str(line, "detail", detail, sizeof(detail)));
	assert_int_equal(h_log_count(pl, "client refused"), 2);
	/* Logins go on as usual. */
	PGconn *c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	PQfinish(c);
	h_pass();
}

static void test_negotiate_protocol_version(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	struct login lg;
	char v[64];
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_32, login_kv));
	raw_login(fd, &lg);
	assert_true(lg.negotiated);
	assert_int_equal(lg.newest_minor, 0);
	assert_int_equal(lg.n_unrecognized, 0);
	assert_true(lg.auth_ok && lg.key && lg.ready);
	raw_query_value(fd, "SELECT 40 + 2", v, sizeof(v));
	assert_string_equal(v, "42");
	raw_terminate(fd);

	const char *kv[] = {"user",	H_USER, "database", H_DBNAME,
			    "_pq_.foo", "bar",	NULL};
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, kv));
	raw_login(fd, &lg);
	assert_true(lg.negotiated);
	assert_int_equal(lg.newest_minor, 0);
	assert_int_equal(lg.n_unrecognized, 1);
	assert_string_equal(lg.unrecognized, "_pq_.foo");
	assert_true(lg.auth_ok && lg.ready);
	raw_query_value(fd, "SELECT 'ok'", v, sizeof(v));
	assert_string_equal(v, "ok");
	raw_terminate(fd);
	h_pass();
}

static void test_login_parameters(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	PGconn *c = h_connect(pl, NULL);
	PGconn *d = h_direct(H_DBNAME);
	const char *sv = PQparameterStatus(c, "server_version");
	assert_non_null(sv);
	assert_string_equal(sv, PQparameterStatus(d, "server_version"));
	assert_non_null(PQparameterStatus(c, "client_encoding"));
	assert_non_null(PQparameterStatus(c, "standard_conforming_strings"));
	assert_non_null(PQparameterStatus(c, "integer_datetimes"));
	assert_int_not_equal(PQbackendPID(c), 0);
	assert_int_equal(PQprotocolVersion(c), 3);
	assert_int_equal(PQserverVersion(c), PQserverVersion(d));
	PQfinish(d);
	PQfinish(c);

	struct login lg;
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	raw_login(fd, &lg);
	assert_false(lg.negotiated);
	assert_true(lg.auth_ok && lg.server_version && lg.key && lg.ready);
	raw_terminate(fd);
	h_pass();
}

static bool login_works(void *arg)
{
	PGconn *c = h_connect_try(arg, NULL);
	bool ok = PQstatus(c) == CONNECTION_OK;
	PQfinish(c);
	return ok;
}

static void test_max_client_conn(void **state)
{
	char ini[1200];
	snprintf(ini, sizeof(ini), "%s/maxconn.ini", h_tmpdir());
	FILE *f = fopen(ini, "w");
	assert_non_null(f);
	fputs("[pitlane]\nmax_client_conn = 2\n", f);
	fclose(f);
	const char *args[] = {"-c", ini, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, args);
	PGconn *a = h_connect(pl, NULL);
	PGconn *b = h_connect(pl, NULL);
	struct login lg;
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	raw_login(fd, &lg);
	assert_false(lg.ready);
	assert_string_equal(lg.error, "53300");
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
	PQfinish(a);
	assert_true(h_poll(login_works, pl, 5000));
	assert_int_equal(h_query_int(b, "SELECT 1"), 1);
	PQfinish(b);
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_cancel_pg_sleep),
	    TEST(test_cancel_many_in_turn),
	    TEST(test_cancel_race_transaction),
	    TEST(test_cancel_race_session),
	    TEST(test_cancel_race_statement),
	    TEST(test_wrong_user_or_database),
	    TEST(test_session_mode_queries),
	    TEST(test_transaction_mode_queries),
	    TEST(test_error_in_transaction),
	    TEST(test_disconnect_midtransaction),
	    TEST(test_ssl_request_answered_n),
	    TEST(test_bad_startup_packets),
	    TEST(test_terminate_before_startup),
	    TEST(test_negotiate_protocol_version),
	    TEST(test_login_parameters),
	    TEST(test_max_client_conn),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
