/* Transaction mode with libpq as the client, on a pool smaller than the
 * number of clients: named prepared statements across transactions (and
 * servers), the same statement name with different text on two clients,
 * Close, DISCARD ALL / DEALLOCATE ALL; pipeline mode with several Syncs
 * outstanding and errors inside; Flush without Sync keeping the server;
 * startup options (-c statement_timeout) honoured for their client only,
 * and for each of many consecutive clients on one server in every pool
 * mode; a client pipelining past the per-client read limit while it
 * waits; a client going idle -> busy -> idle over and over with pipelined
 * input arriving in pieces (its buffers are lent only while in use). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const txn_args[] = {"-m", "transaction", NULL};

static struct h_pitlane *start_pool(const char *max, const char *extra)
{
	char mx[64];
	snprintf(mx, sizeof(mx), "DB_POOL_MAX=%s", max);
	const char *env[] = {mx, "DB_POOL_MIN=1", extra, NULL};
	return h_pitlane_start(env, txn_args);
}

static void prepare_ok(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQprepare(c, name, sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("prepare %s `%s`: %s", name, sql,
			 PQresultErrorMessage(r));
	PQclear(r);
}

/* Executes prepared statement name with one text parameter; returns the
 * first column of the first row as a number, the second (if any) in
 * *second. */
static long long exec_prepared(PGconn *c, const char *name, const char *arg,
			       long long *second)
{
	PGresult *r = PQexecPrepared(c, name, 1, &arg, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("execute %s(%s): %s", name, arg,
			 PQresultErrorMessage(r));
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (second && PQnfields(r) > 1)
		*second = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return v;
}

static void expect_prepared_fails(PGconn *c, const char *name,
				  const char *sqlstate)
{
	const char *arg = "1";
	char st[6];
	PGresult *r = PQexecPrepared(c, name, 1, &arg, NULL, NULL, 0);
	if (strcmp(h_result_sqlstate(r, st), sqlstate) != 0)
		fail_msg("execute %s: want %s, got \"%s\" %s", name, sqlstate,
			 st, PQresultErrorMessage(r));
	PQclear(r);
}

/* Two clients on one server, alternating, both with a statement named s1
 * (different text) and more, prepared once and executed in autocommit and
 * explicit transactions. The shared server holds both under distinct
 * names. */
static void test_prepared_two_clients_one_server(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *a = h_connect(pl, NULL), *b = h_connect(pl, NULL);
	prepare_ok(a, "s1", "SELECT $1::int * 2");
	prepare_ok(b, "s1", "SELECT $1::int + 1000");
	prepare_ok(b, "s2", "SELECT $1::int - 1");
	for (int i = 0; i < 30; i++) {
		char arg[16];
		snprintf(arg, sizeof(arg), "%d", i);
		bool txn = i % 2 == 1;
		if (txn)
			h_exec_ok(a, "BEGIN");
		assert_int_equal(exec_prepared(a, "s1", arg, NULL), i * 2);
		if (txn) {
			assert_int_equal(exec_prepared(a, "s1", arg, NULL),
					 i * 2);
			h_exec_ok(a, "COMMIT");
			h_exec_ok(b, "BEGIN");
		}
		assert_int_equal(exec_prepared(b, "s1", arg, NULL), i + 1000);
		assert_int_equal(exec_prepared(b, "s2", arg, NULL), i - 1);
		if (txn)
			h_exec_ok(b, "COMMIT");
	}
	PGresult *r = PQdescribePrepared(b, "s2");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_int_equal(PQnparams(r), 1);
	assert_int_equal(PQnfields(r), 1);
	PQclear(r);
	/* One server: both texts there, under two different names. */
	assert_int_equal(
	    h_query_int(a, "SELECT count(DISTINCT name) FROM "
			   "pg_prepared_statements WHERE statement IN "
			   "('SELECT $1::int * 2', 'SELECT $1::int + 1000')"),
	    2);
	expect_prepared_fails(a, "s2", "26000"); /* b's, not a's */
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

static long long backend_pid(PGconn *c)
{
	return h_query_int(c, "SELECT pg_backend_pid()");
}

/* A statement prepared once runs on whichever server is free: two
 * holders take both servers of the pool in turn, leaving one free. */
static void test_prepared_moves_between_servers(void **state)
{
	struct h_pitlane *pl = *state = start_pool("2", NULL);
	PGconn *a = h_connect(pl, NULL);
	PGconn *k1 = h_connect(pl, NULL), *k2 = h_connect(pl, NULL);
	long long pid = 0;
	prepare_ok(a, "pid", "SELECT $1::int * 3, pg_backend_pid()");
	for (int i = 0; i < 4; i++) {
		char arg[16];
		snprintf(arg, sizeof(arg), "%d", i);
		h_exec_ok(k1, "BEGIN");
		long long p1 = backend_pid(k1);
		h_exec_ok(k2, "BEGIN");
		long long p2 = backend_pid(k2);
		assert_true(p1 != p2);
		h_exec_ok(k1, "COMMIT"); /* p1 free */
		assert_int_equal(exec_prepared(a, "pid", arg, &pid), i * 3);
		assert_int_equal(pid, p1);
		h_exec_ok(k1, "BEGIN");
		assert_int_equal(backend_pid(k1), p1);
		h_exec_ok(k2, "COMMIT"); /* p2 free */
		assert_int_equal(exec_prepared(a, "pid", arg, &pid), i * 3);
		assert_int_equal(pid, p2);
		h_exec_ok(k1, "COMMIT");
	}
	PQfinish(a);
	PQfinish(k1);
	PQfinish(k2);
	h_pass();
}

struct recycle {
	PGconn *c;
	long long first; /* the backend before */
};

static bool backend_changed(void *arg)
{
	struct recycle *r = arg;

	return backend_pid(r->c) != r->first;
}

/* server_lifetime: an idle server older than it is closed and the pool
 * refills, so the same client later lands on another backend. */
static void test_server_lifetime_recycles(void **state)
{
	struct h_pitlane *pl = *state =
	    start_pool("1", "PITLANE_SERVER_LIFETIME=0.3");
	PGconn *c = h_connect(pl, NULL);
	struct recycle r = {.c = c, .first = backend_pid(c)};

	assert_true(h_poll(backend_changed, &r, 10000));
	PQfinish(c);
	h_pass();
}

/* server_check_query runs on a server idle longer than server_check_delay
 * before a client gets it (here: every time, delay 0). */
static void test_server_check_query(void **state)
{
	PGconn *admin = h_direct(H_DBNAME);
	h_exec_ok(admin, "CREATE TABLE IF NOT EXISTS pitlane_checks "
			 "(at timestamptz DEFAULT now())");
	h_exec_ok(admin, "TRUNCATE pitlane_checks");
	const char *env[] = {
	    "DB_POOL_MAX=1", "DB_POOL_MIN=1", "PITLANE_SERVER_CHECK_DELAY=0",
	    "PITLANE_SERVER_CHECK_QUERY=INSERT INTO pitlane_checks DEFAULT "
	    "VALUES",
	    NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, txn_args);
	PGconn *c = h_connect(pl, NULL);

	for (int i = 0; i < 3; i++)
		assert_int_equal(h_query_int(c, "SELECT 7"), 7);
	/* Each of the three queries took the idle server after a check. */
	assert_true(h_query_int(admin, "SELECT count(*) FROM pitlane_checks") >=
		    3);
	PQfinish(c);
	PQfinish(admin);
	h_pass();
}

static void test_discard_all_forgets_statements(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *a = h_connect(pl, NULL), *b = h_connect(pl, NULL);
	const char *resets[] = {"DISCARD ALL", "DEALLOCATE ALL"};
	for (int i = 0; i < 2; i++) {
		prepare_ok(a, "d1", "SELECT $1::int + 5");
		prepare_ok(b, "d1", "SELECT $1::int + 6");
		assert_int_equal(exec_prepared(a, "d1", "1", NULL), 6);
		assert_int_equal(exec_prepared(b, "d1", "1", NULL), 7);
		h_exec_ok(a, resets[i]);
		assert_int_equal(exec_prepared(b, "d1", "1", NULL), 7);
		expect_prepared_fails(a, "d1", "26000");
		/* b keeps its own; a may prepare the name again */
		assert_int_equal(exec_prepared(b, "d1", "2", NULL), 8);
		prepare_ok(a, "d1", "SELECT $1::int + 50");
		assert_int_equal(exec_prepared(a, "d1", "1", NULL), 51);
		h_exec_ok(a, resets[i]);
		h_exec_ok(b, resets[i]);
		expect_prepared_fails(b, "d1", "26000");
	}
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* ---- prepared statements and schema changes ------------------------------ */

/* One step of a session against a table whose column changes type: DDL,
 * or a client (0 or 1) preparing or executing a statement, with what it
 * must give (a value, or a SQLSTATE). */
struct ddl_step {
	int who;	  /* client, or -1: DDL on a direct connection */
	const char *name; /* statement, or the DDL's SQL */
	bool prepare;	  /* PQprepare, else PQexecPrepared */
	const char *want; /* value, or "E<sqlstate>" */
};

#define DDL_TABLE  "pl_ddl_r"
#define DDL_SELECT "SELECT col FROM " DDL_TABLE
#define DDL_INT(v)                                                             \
	"DROP TABLE IF EXISTS " DDL_TABLE "; CREATE TABLE " DDL_TABLE          \
	"(col integer); INSERT INTO " DDL_TABLE " VALUES (" v ")"
#define DDL_TEXT(v)                                                            \
	"DROP TABLE " DDL_TABLE "; CREATE TABLE " DDL_TABLE                    \
	"(col text); INSERT INTO " DDL_TABLE " VALUES ('" v "')"

/* A statement prepared after the change is planned afresh, as on a direct
 * connection, whatever the same text prepared before it left on the
 * server; one prepared before it fails 0A000 (cached plan must not change
 * result type), as PostgreSQL fails it. */
static const struct ddl_step ddl_steps[] = {
    {-1, DDL_INT("1"), false, NULL},
    {0, "a", true, NULL},
    {0, "a", false, "1"},
    {1, "b0", true, NULL},
    {1, "b0", false, "1"},
    {-1, DDL_TEXT("x"), false, NULL},
    {0, "b", true, NULL},
    {0, "b", false, "x"},
    {0, "a", false, "E0A000"},
    {1, "b0", false, "E0A000"},
    {1, "c", true, NULL},
    {1, "c", false, "x"},
    {0, "b", false, "x"},
    {0, "a", false, "E0A000"},
    {-1, DDL_INT("2"), false, NULL},
    {0, "b", false, "E0A000"},
    {1, "c", false, "E0A000"},
    {0, "d", true, NULL},
    {0, "d", false, "2"},
    {1, "e", true, NULL},
    {1, "e", false, "2"},
    {1, "c", false, "E0A000"},
    {0, "d", false, "2"},
    {-1, "DROP TABLE " DDL_TABLE, false, NULL},
};

/* Runs ddl_steps with two clients, c[0] and c[1]. */
static void run_ddl_steps(PGconn *const c[2], const char *via)
{
	PGconn *ddl = h_direct(H_DBNAME);

	for (size_t i = 0; i < sizeof(ddl_steps) / sizeof(ddl_steps[0]); i++) {
		const struct ddl_step *st = &ddl_steps[i];
		char got[64], state[6];
		PGresult *r;

		if (st->who < 0) {
			h_exec_ok(ddl, st->name);
			continue;
		}
		if (st->prepare) {
			prepare_ok(c[st->who], st->name, DDL_SELECT);
			continue;
		}
		r = PQexecPrepared(c[st->who], st->name, 0, NULL, NULL, NULL,
				   0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			snprintf(got, sizeof(got), "%s", PQgetvalue(r, 0, 0));
		else
			snprintf(got, sizeof(got), "E%s",
				 h_result_sqlstate(r, state));
		PQclear(r);
		if (strcmp(got, st->want) != 0)
			fail_msg("%s, step %zu: client %d executing %s: want "
				 "%s, got %s",
				 via, i, st->who, st->name, st->want, got);
	}
	PQfinish(ddl);
}

/* The same steps on direct connections (what PostgreSQL does) and through
 * pitlane, with two clients taking turns on one server. */
static void test_prepared_across_schema_change(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *direct[2] = {h_direct(H_DBNAME), h_direct(H_DBNAME)};
	PGconn *pooled[2] = {h_connect(pl, NULL), h_connect(pl, NULL)};

	run_ddl_steps(direct, "direct");
	run_ddl_steps(pooled, "pitlane");
	for (int i = 0; i < 2; i++) {
		PQfinish(direct[i]);
		PQfinish(pooled[i]);
	}
	h_pass();
}

/* A statement outlives the newer version of its text made for another
 * client: with one statement kept per server, b's version pushes a's out,
 * then goes itself; a's statement is prepared again when it runs. */
static void test_prepared_older_version_outlives_newer(void **state)
{
	struct h_pitlane *pl = *state =
	    start_pool("1", "PITLANE_MAX_PREPARED_STATEMENTS=1");
	PGconn *a = h_connect(pl, NULL), *b = h_connect(pl, NULL);

	for (int i = 0; i < 3; i++) {
		prepare_ok(a, "a", "SELECT $1::int + 10");
		assert_int_equal(exec_prepared(a, "a", "1", NULL), 11);
		prepare_ok(b, "b", "SELECT $1::int + 10");
		assert_int_equal(exec_prepared(b, "b", "2", NULL), 12);
		h_exec_ok(b, "DEALLOCATE b");
		prepare_ok(a, "other", "SELECT $1::int + 20");
		assert_int_equal(exec_prepared(a, "other", "1", NULL), 21);
		assert_int_equal(exec_prepared(a, "a", "3", NULL), 13);
	}
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* ---- raw protocol: Close ------------------------------------------------ */

static void raw_msg(int fd, char type, const void *body, size_t len)
{
	unsigned char buf[512];
	uint32_t be = htonl((uint32_t)(len + 4));
	assert_true(len + 5 <= sizeof(buf));
	buf[0] = (unsigned char)type;
	memcpy(buf + 1, &be, 4);
	memcpy(buf + 5, body, len);
	assert_true(h_raw_send(fd, buf, len + 5));
}

static void raw_parse(int fd, const char *name, const char *sql)
{
	unsigned char b[400];
	size_t n = strlen(name) + 1, m = strlen(sql) + 1;
	memcpy(b, name, n);
	memcpy(b + n, sql, m);
	memset(b + n + m, 0, 2); /* no parameter types */
	raw_msg(fd, 'P', b, n + m + 2);
}

/* Bind (no parameters, text results) of statement name and Execute. */
static void raw_bind_execute(int fd, const char *name)
{
	unsigned char b[200] = {0};
	size_t n = strlen(name) + 1;
	memcpy(b + 1, name, n); /* portal "" then the statement */
	raw_msg(fd, 'B', b, 1 + n + 6);
	raw_msg(fd, 'E', "\0\0\0\0", 5);
}

/* Sends Sync and reads up to ReadyForQuery: the message types seen (in
 * order) into types, the first DataRow's value into val, the first
 * error's SQLSTATE into state. */
static void raw_sync(int fd, char *types, size_t cap, char *val, char *state)
{
	unsigned char b[1024];
	char type;
	int n;
	size_t nt = 0;
	raw_msg(fd, 'S', "", 0);
	val[0] = state[0] = '\0';
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b) - 1, 5000)) >= 0) {
		if (nt + 1 < cap)
			types[nt++] = type;
		types[nt] = '\0';
		if (type == 'D' && val[0] == '\0' && n >= 6)
			snprintf(val, 64, "%.*s", (int)h_be32(b + 2), b + 6);
		if (type == 'E' && state[0] == '\0')
			h_raw_err_field(b, n, 'C', state, 6);
		if (type == 'Z')
			return;
	}
	fail_msg("no ReadyForQuery (saw \"%s\")", types);
}

static void test_close_statement(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	static const char *const kv[] = {"user", H_USER, "database", H_DBNAME,
					 NULL};
	char types[64], val[64], st[6];
	unsigned char b[1024];
	char type;
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, 196608u, kv));
	while (h_raw_read_msg(fd, &type, b, sizeof(b), 5000) >= 0 &&
	       type != 'Z')
		assert_int_not_equal(type, 'E');
	PGconn *o = h_connect(pl, NULL);
	prepare_ok(o, "c1", "SELECT 'other'");

	raw_parse(fd, "c1", "SELECT 7");
	raw_sync(fd, types, sizeof(types), val, st);
	assert_string_equal(types, "1Z");
	assert_int_equal(h_query_int(o, "SELECT 1"), 1); /* server hand-off */
	raw_bind_execute(fd, "c1");
	raw_sync(fd, types, sizeof(types), val, st);
	assert_string_equal(types, "2DCZ");
	assert_string_equal(val, "7");
	/* Close, then the name is gone for this client only. */
	raw_msg(fd, 'C', "Sc1", 4);
	raw_sync(fd, types, sizeof(types), val, st);
	assert_string_equal(types, "3Z");
	raw_bind_execute(fd, "c1");
	raw_sync(fd, types, sizeof(types), val, st);
	assert_string_equal(st, "26000");
	PGresult *r = PQexecPrepared(o, "c1", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("other client's c1: %s", PQresultErrorMessage(r));
	assert_string_equal(PQgetvalue(r, 0, 0), "other");
	PQclear(r);
	/* Closing an unknown name is not an error; the name is reusable. */
	raw_msg(fd, 'C', "Snope", 6);
	raw_parse(fd, "c1", "SELECT 8");
	raw_bind_execute(fd, "c1");
	raw_sync(fd, types, sizeof(types), val, st);
	assert_string_equal(types, "312DCZ");
	assert_string_equal(val, "8");
	close(fd);
	PQfinish(o);
	h_pass();
}

/* ---- pipeline mode ------------------------------------------------------ */

static void send_params(PGconn *c, const char *sql, int v)
{
	char arg[16];
	const char *args[] = {arg};
	snprintf(arg, sizeof(arg), "%d", v);
	assert_true(PQsendQueryParams(c, sql, 1, NULL, args, NULL, NULL, 0));
}

/* Reads the next result of a pipeline; it must have status want (and,
 * for rows, the value), followed by the NULL that ends a query. */
static void pipe_expect(PGconn *c, ExecStatusType want, long long value)
{
	PGresult *r = PQgetResult(c);
	if (PQresultStatus(r) != want)
		fail_msg("pipeline: want %s, got %s: %s", PQresStatus(want),
			 PQresStatus(PQresultStatus(r)),
			 PQresultErrorMessage(r));
	if (want == PGRES_TUPLES_OK)
		assert_int_equal(strtoll(PQgetvalue(r, 0, 0), NULL, 10), value);
	PQclear(r);
	if (want != PGRES_PIPELINE_SYNC)
		assert_null(PQgetResult(c));
}

/* Two clients on one server: a sends a pipeline of three Sync groups
 * (the second fails half way) mixing named statements and parameters
 * while b waits with its own query; every result arrives, in order. */
static void test_pipeline_with_other_client(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *a = h_connect(pl, NULL), *b = h_connect(pl, NULL);
	prepare_ok(b, "p1", "SELECT $1::int + 7000");
	for (int round = 0; round < 10; round++) {
		assert_true(PQenterPipelineMode(a));
		if (round == 0)
			assert_true(PQsendPrepare(
			    a, "p1", "SELECT $1::int * 10", 0, NULL));
		for (int i = 0; i < 5; i++)
			send_params(a, "SELECT $1::int * 10", i);
		assert_true(PQpipelineSync(a));
		const char *one = "1";
		assert_true(
		    PQsendQueryPrepared(a, "p1", 1, &one, NULL, NULL, 0));
		send_params(a, "SELECT 1 / $1::int", 0);
		send_params(a, "SELECT $1::int", 99);
		assert_true(PQpipelineSync(a));
		for (int i = 0; i < 3; i++) {
			const char *arg = i == 1 ? "5" : "6";
			assert_true(PQsendQueryPrepared(a, "p1", 1, &arg, NULL,
							NULL, 0));
		}
		assert_true(PQpipelineSync(a));
		assert_int_equal(PQflush(a), 0);
		/* b's query on the single server, sent meanwhile */
		assert_true(
		    PQsendQueryPrepared(b, "p1", 1, &one, NULL, NULL, 0));

		if (round == 0)
			pipe_expect(a, PGRES_COMMAND_OK, 0);
		for (int i = 0; i < 5; i++)
			pipe_expect(a, PGRES_TUPLES_OK, i * 10);
		pipe_expect(a, PGRES_PIPELINE_SYNC, 0);
		pipe_expect(a, PGRES_TUPLES_OK, 10);
		char st[6];
		PGresult *r = PQgetResult(a);
		assert_string_equal(h_result_sqlstate(r, st), "22012");
		PQclear(r);
		assert_null(PQgetResult(a));
		pipe_expect(a, PGRES_PIPELINE_ABORTED, 0);
		pipe_expect(a, PGRES_PIPELINE_SYNC, 0);
		for (int i = 0; i < 3; i++)
			pipe_expect(a, PGRES_TUPLES_OK, i == 1 ? 50 : 60);
		pipe_expect(a, PGRES_PIPELINE_SYNC, 0);
		assert_true(PQexitPipelineMode(a));

		r = PQgetResult(b);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(r, 0, 0), "7001");
		PQclear(r);
		assert_null(PQgetResult(b));
		assert_int_equal(exec_prepared(a, "p1", "2", NULL), 20);
	}
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* Sends what libpq buffered and gives pitlane time to read it on its own,
 * so that the next message arrives in a separate read (drivers such as
 * psycopg flush every message of a pipeline as they go). */
static void spread(PGconn *c)
{
	assert_int_equal(PQflush(c), 0);
	h_sleep_ms(20);
}

/* A pipeline that prepares a named statement and then fails (its first
 * execution divides by zero): the statement exists afterwards, on
 * whichever server the client gets next, for both clients taking turns
 * on one server with the same statement names and texts. */
static void test_pipeline_prepare_then_error(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *c[2] = {h_connect(pl, NULL), h_connect(pl, NULL)};
	char st[6];
	for (int round = 0; round < 6; round++) {
		for (int k = 0; k < 2; k++) {
			char name[16];
			const char *zero = "0", *two = "2";
			snprintf(name, sizeof(name), "e%d", round);
			assert_true(PQenterPipelineMode(c[k]));
			send_params(c[k], "SELECT $1::int", 1);
			spread(c[k]);
			assert_true(PQsendPrepare(
			    c[k], name, "SELECT 10 / $1::int", 0, NULL));
			spread(c[k]);
			assert_true(PQsendQueryPrepared(c[k], name, 1, &zero,
							NULL, NULL, 0));
			spread(c[k]);
			send_params(c[k], "SELECT $1::int", 2);
			spread(c[k]);
			assert_true(PQpipelineSync(c[k]));
			pipe_expect(c[k], PGRES_TUPLES_OK, 1);
			pipe_expect(c[k], PGRES_COMMAND_OK, 0);
			PGresult *r = PQgetResult(c[k]);
			assert_string_equal(h_result_sqlstate(r, st), "22012");
			PQclear(r);
			assert_null(PQgetResult(c[k]));
			pipe_expect(c[k], PGRES_PIPELINE_ABORTED, 0);
			pipe_expect(c[k], PGRES_PIPELINE_SYNC, 0);
			assert_true(PQexitPipelineMode(c[k]));
			for (int j = 0; j <= round; j++) {
				snprintf(name, sizeof(name), "e%d", j);
				assert_int_equal(
				    exec_prepared(c[k], name, two, NULL), 5);
			}
		}
	}
	PQfinish(c[0]);
	PQfinish(c[1]);
	h_pass();
}

static bool input_ready(void *arg)
{
	PGconn *c = arg;
	assert_int_equal(PQconsumeInput(c), 1);
	return !PQisBusy(c);
}

/* Flush without Sync: a's server stays linked after its result, so b's
 * query waits past DB_CONNECT_TIMEOUT_MS (53300, not fatal) until a
 * sends Sync. */
static void test_flush_without_sync_keeps_server(void **state)
{
	struct h_pitlane *pl = *state =
	    start_pool("1", "DB_CONNECT_TIMEOUT_MS=300");
	PGconn *a = h_connect(pl, NULL), *b = h_connect(pl, NULL);
	char st[6];
	for (int round = 0; round < 2; round++) {
		assert_true(PQenterPipelineMode(a));
		send_params(a, "SELECT $1::int + 40", 2);
		assert_true(PQsendFlushRequest(a));
		assert_int_equal(PQflush(a), 0);
		assert_true(h_poll(input_ready, a, 5000));
		pipe_expect(a, PGRES_TUPLES_OK, 42);

		int64_t t0 = h_now_ms();
		h_exec_expect(b, "SELECT 1", "53300");
		int64_t took = h_now_ms() - t0;
		fprintf(stderr, "b waited %lld ms\n", (long long)took);
		assert_true(took >= 250);
		assert_int_equal(PQstatus(b), CONNECTION_OK);

		/* a still owns its server: the same backend, mid-pipeline */
		send_params(a, "SELECT $1::int + pg_backend_pid() * 0", 43);
		assert_true(PQpipelineSync(a));
		pipe_expect(a, PGRES_TUPLES_OK, 43);
		pipe_expect(a, PGRES_PIPELINE_SYNC, 0);
		assert_true(PQexitPipelineMode(a));
		/* released at Sync: b runs now */
		assert_int_equal(h_query_int(b, "SELECT 5"), 5);
		assert_string_equal(h_exec_sqlstate(a, "SELECT 6", st),
				    "00000");
	}
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* ---- startup options ---------------------------------------------------- */

static void expect_show(PGconn *c, const char *what, const char *want)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SHOW %s", what);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("SHOW %s: %s", what, PQresultErrorMessage(r));
	if (strcmp(PQgetvalue(r, 0, 0), want) != 0)
		fail_msg("SHOW %s: want \"%s\", got \"%s\"", what, want,
			 PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void test_startup_options_per_client(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	PGconn *a = h_connect(pl, "options='-c statement_timeout=100'");
	PGconn *b = h_connect(pl, "application_name=txn-b");
	for (int i = 0; i < 3; i++) {
		int64_t t0 = h_now_ms();
		h_exec_expect(a, "SELECT pg_sleep(1)", "57014");
		assert_true(h_now_ms() - t0 < 900);
		expect_show(a, "statement_timeout", "100ms");
		expect_show(b, "statement_timeout", "0");
		expect_show(b, "application_name", "txn-b");
		expect_show(a, "application_name", "");
		h_exec_expect(b, "SELECT pg_sleep(0.3)", NULL);
		h_exec_ok(a, "BEGIN");
		expect_show(a, "statement_timeout", "100ms");
		h_exec_ok(a, "COMMIT");
	}
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* One client of a sequence: the startup parameters it gives, and what
 * it must see. */
struct startup_profile {
	const char *app;     /* application_name, NULL: none given */
	const char *timeout; /* statement_timeout in options, NULL: none */
	const char *idle;    /* idle_in_transaction_session_timeout */
};

static void expect_profile(PGconn *c, const struct startup_profile *p,
			   int client)
{
	const char *app = p->app ? p->app : "";
	const char *got = PQparameterStatus(c, "application_name");
	if (got == NULL || strcmp(got, app) != 0)
		fail_msg("client %d: ParameterStatus application_name \"%s\", "
			 "want \"%s\"",
			 client, got ? got : "(none)", app);
	expect_show(c, "application_name", app);
	expect_show(c, "statement_timeout", p->timeout ? p->timeout : "0");
	expect_show(c, "idle_in_transaction_session_timeout",
		    p->idle ? p->idle : "0");
}

/* Consecutive clients over one server, each with its own startup
 * parameters (or the same as the one before, or none): each sees its own
 * values, at login, in every query and after its own DISCARD ALL or RESET
 * ALL, never those a previous client had or those a reset left on the
 * server. */
static void startup_params_in_turn(void **state, const char *mode)
{
	static const struct startup_profile profiles[] = {
	    {"myapp", NULL, NULL},    {"myapp", NULL, NULL},
	    {"myapp", NULL, NULL},    {"myapp", NULL, NULL},
	    {NULL, "3s", NULL},	      {NULL, "3s", NULL},
	    {"other", "3s", "7s"},    {"other", "3s", "7s"},
	    {NULL, NULL, NULL},	      {NULL, NULL, NULL},
	    {"myapp", NULL, "7s"},    {"myapp", NULL, "7s"},
	    {"myapp", "250ms", NULL}, {"myapp", NULL, NULL},
	    {NULL, "3s", "7s"},	      {"myapp", NULL, NULL},
	    {NULL, NULL, NULL},	      {"other", "3s", "7s"},
	    {NULL, NULL, "7s"},	      {NULL, NULL, "7s"},
	};
	const char *env[] = {"DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	const char *args[] = {"-m", mode, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	const size_t n = sizeof(profiles) / sizeof(profiles[0]);

	for (size_t round = 0; round < 2; round++) {
		for (size_t i = 0; i < n; i++) {
			const struct startup_profile *p = &profiles[i];
			char extra[256] = "", opts[128] = "";
			int k = (int)(round * n + i);

			if (p->timeout)
				snprintf(opts, sizeof(opts),
					 "-c statement_timeout=%s ",
					 p->timeout);
			if (p->idle)
				snprintf(opts + strlen(opts),
					 sizeof(opts) - strlen(opts),
					 "-c idle_in_transaction_session_"
					 "timeout=%s",
					 p->idle);
			if (p->app)
				snprintf(extra, sizeof(extra),
					 "application_name=%s ", p->app);
			if (opts[0])
				snprintf(extra + strlen(extra),
					 sizeof(extra) - strlen(extra),
					 "options='%s'", opts);
			PGconn *c = h_connect(pl, extra);
			expect_profile(c, p, k);
			if (strcmp(mode, "statement") != 0) {
				h_exec_ok(c, "BEGIN");
				expect_profile(c, p, k);
				h_exec_ok(c, "COMMIT");
			}
			/* A reset gives back the startup values. */
			h_exec_ok(c, k % 2 ? "DISCARD ALL" : "RESET ALL");
			expect_profile(c, p, k);
			PQfinish(c);
		}
	}
	h_pass();
}

static void test_startup_params_in_turn_session(void **state)
{
	startup_params_in_turn(state, "session");
}

static void test_startup_params_in_turn_transaction(void **state)
{
	startup_params_in_turn(state, "transaction");
}

static void test_startup_params_in_turn_statement(void **state)
{
	startup_params_in_turn(state, "statement");
}

/* A client pipelines 16 MB of queries while the only server is held by
 * another client's transaction. pitlane reads it up to its per-client
 * limit (512 KiB) and stops, so the client's sends block; once the server
 * is free the relay drains that input, reading resumes, and every query
 * is answered, in order. */
#define PIPE_QUERIES   16000
#define PIPE_QUERY_LEN 1000

static void test_pipeline_past_read_limit_while_waiting(void **state)
{
	struct h_pitlane *pl = *state = start_pool("1", NULL);
	static const char *const kv[] = {"user", H_USER, "database", H_DBNAME,
					 NULL};
	size_t msg_len = 1 + 4 + PIPE_QUERY_LEN, total = msg_len * PIPE_QUERIES;
	unsigned char *out = malloc(total), b[1024];
	char type;
	int n;
	assert_non_null(out);
	for (int i = 0; i < PIPE_QUERIES; i++) {
		unsigned char *m = out + (size_t)i * msg_len;
		uint32_t be = htonl(4 + PIPE_QUERY_LEN);
		m[0] = 'Q';
		memcpy(m + 1, &be, 4);
		memset(m + 5, ' ', PIPE_QUERY_LEN - 1);
		memcpy(m + 5, "SELECT ", 7);
		snprintf((char *)m + 12, 8, "%d", i);
		m[12 + strlen((char *)m + 12)] = ' ';
		m[5 + PIPE_QUERY_LEN - 1] = '\0';
	}

	PGconn *holder = h_connect(pl, NULL);
	h_exec_ok(holder, "BEGIN");
	h_exec_ok(holder, "SELECT 1"); /* the only server, held */

	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, 196608u, kv));
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000)) >= 0 &&
	       type != 'Z')
		assert_int_not_equal(type, 'E');
	assert_true(n >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
			 0);

	/* Send until the kernel takes no more: pitlane has stopped reading. */
	size_t sent = 0;
	int64_t deadline = h_now_ms() + 10000;
	for (;;) {
		ssize_t w = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			if (sent == total)
				break;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			fail_msg("send: %s", strerror(errno));
		/* No room for 200 ms once past what pitlane reads of a
		 * waiting client: it has stopped reading. A stall short of
		 * that is only slowness, and waiting goes on. */
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 200) == 0 && sent >= 512 * 1024)
			break;
		if (h_now_ms() > deadline)
			fail_msg("sending stalled at %zu bytes, below the "
				 "512 KiB pitlane reads of a waiting client",
				 sent);
	}
	fprintf(stderr, "sent %zu of %zu bytes before blocking\n", sent, total);
	if (sent == total)
		fail_msg("all %zu bytes went through while the client waited: "
			 "no read limit held them back",
			 total);

	h_exec_ok(holder, "COMMIT"); /* the server goes to the client */

	/* The rest of the queries and all the answers, in order. */
	int answered = 0, rows = 0;
	size_t inbuf = 0;
	unsigned char in[65536];
	deadline = h_now_ms() + 30000;
	while (answered < PIPE_QUERIES) {
		struct pollfd p = {
		    .fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0)};
		if (h_now_ms() > deadline)
			fail_msg("%d of %d queries answered, %zu of %zu bytes "
				 "sent, within 30 s",
				 answered, PIPE_QUERIES, sent, total);
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((p.revents & POLLOUT) && sent < total) {
			ssize_t w =
			    send(fd, out + sent, total - sent, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t r = recv(fd, in + inbuf, sizeof(in) - inbuf, 0);
		if (r == 0)
			fail_msg("pitlane closed the connection after %d "
				 "answers",
				 answered);
		if (r < 0)
			continue;
		inbuf += (size_t)r;
		size_t off = 0;
		while (inbuf - off >= 5) {
			uint32_t len = h_be32(in + off + 1);
			if (inbuf - off < 1 + (size_t)len)
				break;
			unsigned char *m = in + off;
			if (m[0] == 'E')
				fail_msg("query %d failed", answered);
			if (m[0] == 'D') {
				char want[16];
				snprintf(want, sizeof(want), "%d", answered);
				if (h_be32(m + 7) != strlen(want) ||
				    memcmp(m + 11, want, strlen(want)) != 0)
					fail_msg("answer %d out of order",
						 answered);
				rows++;
			}
			if (m[0] == 'Z')
				answered++;
			off += 1 + (size_t)len;
		}
		memmove(in, in + off, inbuf - off);
		inbuf -= off;
	}
	assert_int_equal(rows, PIPE_QUERIES);
	assert_int_equal(sent, total);
	close(fd);
	PQfinish(holder);
	free(out);
}

/* A simple Query message for sql in buf; its length. */
static size_t idle_query(unsigned char *buf, size_t cap, const char *sql)
{
	size_t n = strlen(sql) + 1;
	uint32_t be = htonl((uint32_t)(4 + n));
	assert_true(1 + 4 + n <= cap);
	buf[0] = 'Q';
	memcpy(buf + 1, &be, 4);
	memcpy(buf + 5, sql, n);
	return 1 + 4 + n;
}

/* Reads one query's answer up to ReadyForQuery; the value of its single
 * row, or -1. */
static long idle_answer(int fd)
{
	unsigned char b[256];
	char type;
	long v = -1;
	int n;
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b), 10000)) >= 0 &&
	       type != 'Z') {
		assert_int_not_equal(type, 'E');
		if (type == 'D' && n >= 6) {
			uint32_t len = h_be32(b + 2);
			char text[32];
			assert_true(len < sizeof(text) &&
				    6 + len <= (uint32_t)n);
			memcpy(text, b + 6, len);
			text[len] = '\0';
			v = strtol(text, NULL, 10);
		}
	}
	assert_true(n >= 0);
	return v;
}

/* A client's buffers are lent only while something is in them (an idle
 * client holds none): one that goes idle -> busy -> idle over and over,
 * with two pipelined queries arriving in pieces, and another client's
 * whole transaction run between the pieces (the partial message must stay
 * buffered meanwhile, the next round must find fresh buffers), gets every
 * answer in order. */
static void test_idle_busy_idle_pieces(void **state)
{
	/* Two servers: a client holds one from its first byte on. */
	struct h_pitlane *pl = *state = start_pool("2", NULL);
	static const char *const kv[] = {"user", H_USER, "database", H_DBNAME,
					 NULL};
	unsigned char msg[256], b[256];
	char type, sql[64];
	int fd[2], n;

	for (int i = 0; i < 2; i++) {
		fd[i] = h_raw_connect(pl->port);
		assert_true(h_raw_startup(fd[i], 196608u, kv));
		while ((n = h_raw_read_msg(fd[i], &type, b, sizeof(b),
					   10000)) >= 0 &&
		       type != 'Z')
			assert_int_not_equal(type, 'E');
		assert_true(n >= 0);
	}
	for (int r = 0; r < 60; r++) {
		snprintf(sql, sizeof(sql), "SELECT %d", r);
		size_t len = idle_query(msg, sizeof(msg), sql);
		snprintf(sql, sizeof(sql), "SELECT %d", 1000 + r);
		len += idle_query(msg + len, sizeof(msg) - len, sql);
		/* Cut anywhere, the header and the second message included. */
		size_t cut = 1 + (size_t)r * 7 % (len - 1);
		assert_true(h_raw_send(fd[0], msg, cut));
		/* A whole transaction of the other client meanwhile. */
		size_t other = idle_query(b, sizeof(b), "SELECT 7");
		assert_true(h_raw_send(fd[1], b, other));
		assert_int_equal(idle_answer(fd[1]), 7);
		assert_true(h_raw_send(fd[0], msg + cut, len - cut));
		assert_int_equal(idle_answer(fd[0]), r);
		assert_int_equal(idle_answer(fd[0]), 1000 + r);
	}
	close(fd[0]);
	close(fd[1]);
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_prepared_two_clients_one_server),
	    TEST(test_prepared_moves_between_servers),
	    TEST(test_server_lifetime_recycles),
	    TEST(test_server_check_query),
	    TEST(test_discard_all_forgets_statements),
	    TEST(test_prepared_across_schema_change),
	    TEST(test_prepared_older_version_outlives_newer),
	    TEST(test_close_statement),
	    TEST(test_pipeline_with_other_client),
	    TEST(test_pipeline_prepare_then_error),
	    TEST(test_flush_without_sync_keeps_server),
	    TEST(test_startup_options_per_client),
	    TEST(test_startup_params_in_turn_session),
	    TEST(test_startup_params_in_turn_transaction),
	    TEST(test_startup_params_in_turn_statement),
	    TEST(test_pipeline_past_read_limit_while_waiting),
	    TEST(test_idle_busy_idle_pieces),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
