/* The admin console through libpq against the real daemon: every SHOW
 * command's columns (names, order, type OIDs) checked against PgBouncer
 * 1.18's layout as the reference lists it, the rows the exporters rely on,
 * login and authorization (admin_users, stats_users, the same-uid
 * `pgbouncer` rule on the unix socket), errors that keep the session, the
 * extended protocol refused, and the control commands: PAUSE waiting for
 * an open transaction, RESUME, RECONNECT, KILL, KILL_CLIENT, DISABLE. */
#include "harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_ENV "PITLANE_ADMIN_USERS=" H_USER

/* ---- helpers ---------------------------------------------------------- */

static PGconn *console(struct h_pitlane *pl, const char *extra)
{
	char ci[256];

	snprintf(ci, sizeof(ci), "dbname=pgbouncer %s", extra ? extra : "");
	return h_connect(pl, ci);
}

/* A SHOW that must succeed; the caller PQclears. */
static PGresult *show(PGconn *c, const char *cmd)
{
	PGresult *res = PQexec(c, cmd);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", cmd, PQresultErrorMessage(res));
	return res;
}

/* PgBouncer's type code for a column OID. */
static char type_code(Oid oid)
{
	switch (oid) {
	case 25:
		return 's';
	case 23:
		return 'i';
	case 20:
		return 'q';
	case 1700:
		return 'N';
	default:
		return '?';
	}
}

/* "name t,name t,...": the columns of a result as the reference writes
 * them (T, a timestamp as text, is 's' on the wire). */
static void layout(PGresult *res, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < PQnfields(res); i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s %c", i ? "," : "",
				      PQfname(res, i),
				      type_code(PQftype(res, i)));
}

static int col(PGresult *res, const char *name)
{
	int i = PQfnumber(res, name);

	if (i < 0)
		fail_msg("no column %s", name);
	return i;
}

/* The row whose `key` column is `value`, or -1. */
static int row_where(PGresult *res, const char *key, const char *value)
{
	int k = col(res, key);

	for (int r = 0; r < PQntuples(res); r++)
		if (!PQgetisnull(res, r, k) &&
		    strcmp(PQgetvalue(res, r, k), value) == 0)
			return r;
	return -1;
}

static long long cell_int(PGresult *res, int row, const char *name)
{
	assert_true(row >= 0);
	return atoll(PQgetvalue(res, row, col(res, name)));
}

/* An ERROR the session survives: SQLSTATE 08P01, message as given. */
static void expect_error(PGconn *c, const char *cmd, const char *msg)
{
	PGresult *res = PQexec(c, cmd);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (PQresultStatus(res) != PGRES_FATAL_ERROR || state == NULL ||
	    strcmp(state, "08P01") != 0 || m == NULL || strstr(m, msg) == NULL)
		fail_msg("%s: want 08P01 \"%s\", got %s %s", cmd, msg,
			 state ? state : "-", PQresultErrorMessage(res));
	PQclear(res);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
}

static void expect_ok(PGconn *c, const char *cmd, const char *tag)
{
	PGresult *res = PQexec(c, cmd);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", cmd, PQresultErrorMessage(res));
	assert_string_equal(PQcmdStatus(res), tag);
	PQclear(res);
}

/* ---- SHOW layouts ------------------------------------------------------ */

#define SOCKET_COLS                                                            \
	"type s,user s,database s,state s,addr s,port i,local_addr s,"         \
	"local_port i,connect_time s,request_time s,wait i,wait_us i,"         \
	"close_needed i,ptr s,link s,remote_pid i,tls s,application_name s"
#define STATS_DB_COLS                                                          \
	"database s,xact_count N,query_count N,bytes_received N,bytes_sent N," \
	"xact_time N,query_time N,wait_time N"

/* PgBouncer 1.18's columns, typed from the reference (admin-console.md
 * §3), not from pitlane's tables. */
static const struct {
	const char *cmd, *cols;
} layouts[] = {
    {"SHOW POOLS",
     "database s,user s,cl_active i,cl_waiting i,cl_active_cancel_req i,"
     "cl_waiting_cancel_req i,sv_active i,sv_active_cancel i,"
     "sv_being_canceled i,sv_idle i,sv_used i,sv_tested i,sv_login i,"
     "maxwait i,maxwait_us i,pool_mode s"},
    {"SHOW STATS",
     "database s,total_xact_count N,total_query_count N,total_received N,"
     "total_sent N,total_xact_time N,total_query_time N,total_wait_time N,"
     "avg_xact_count N,avg_query_count N,avg_recv N,avg_sent N,"
     "avg_xact_time N,avg_query_time N,avg_wait_time N"},
    {"SHOW STATS_TOTALS", STATS_DB_COLS},
    {"SHOW STATS_AVERAGES", STATS_DB_COLS},
    {"SHOW TOTALS", "name s,value N"},
    {"SHOW SERVERS", SOCKET_COLS},
    {"SHOW CLIENTS", SOCKET_COLS},
    {"SHOW SOCKETS",
     SOCKET_COLS ",recv_pos i,pkt_pos i,pkt_remain i,"
		 "send_pos i,send_remain i,pkt_avail i,send_avail i"},
    {"SHOW ACTIVE_SOCKETS",
     SOCKET_COLS ",recv_pos i,pkt_pos i,pkt_remain i,send_pos i,"
		 "send_remain i,pkt_avail i,send_avail i"},
    {"SHOW DATABASES",
     "name s,host s,port i,database s,force_user s,pool_size i,"
     "min_pool_size i,reserve_pool i,pool_mode s,max_connections i,"
     "current_connections i,paused i,disabled i"},
    {"SHOW USERS", "name s,pool_mode s"},
    {"SHOW LISTS", "list s,items i"},
    {"SHOW CONFIG", "key s,value s,default s,changeable s"},
    {"SHOW MEM", "name s,size i,used i,free i,memtotal i"},
    {"SHOW VERSION", "version s"},
    {"SHOW STATE", "key s,value s"},
    {"SHOW DNS_HOSTS", "hostname s,ttl q,addrs s"},
    {"SHOW DNS_ZONES", "zonename s,serial q,count i"},
    {"SHOW client_encoding", "client_encoding s"},
};

/* Every SHOW answers with 1.18's columns, in any case, with or without
 * `;`; the tag is SHOW; HELP is a notice. */
static void test_show_layouts(void **state)
{
	const char *env[] = {ADMIN_ENV, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *c = console(pl, NULL);
	char got[2048], lower[64];

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		PGresult *res = show(c, layouts[i].cmd);
		layout(res, got, sizeof(got));
		if (strcmp(got, layouts[i].cols) != 0)
			fail_msg("%s:\n got  %s\n want %s", layouts[i].cmd, got,
				 layouts[i].cols);
		assert_string_equal(PQcmdStatus(res), "SHOW");
		PQclear(res);
		/* lower case, with a `;`, as the Go exporter sends it */
		size_t n = strlen(layouts[i].cmd);
		for (size_t j = 0; j <= n; j++)
			lower[j] = (char)(layouts[i].cmd[j] >= 'A' &&
						  layouts[i].cmd[j] <= 'Z'
					      ? layouts[i].cmd[j] + 32
					      : layouts[i].cmd[j]);
		strcat(lower, " ; ");
		res = show(c, lower);
		layout(res, got, sizeof(got));
		assert_string_equal(got, layouts[i].cols);
		PQclear(res);
	}
	PGresult *res = PQexec(c, "SHOW HELP");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdStatus(res), "SHOW");
	PQclear(res);
	PQfinish(c);
	h_pass();
}

/* The rows: one per database/pool, sorted, the pool under DB_NAME with
 * pool_size = pool_max; LISTS's 12 rows; CONFIG's strict columns;
 * VERSION's one; the console's commands not counted as pool traffic. */
static void test_show_rows(void **state)
{
	const char *env[] = {ADMIN_ENV, "DB_POOL_MAX=7", "DB_POOL_MIN=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, "application_name=rows-app");
	PGconn *c = console(pl, "application_name=rows-console");
	PGresult *res;

	for (int i = 0; i < 5; i++)
		assert_int_equal(h_query_int(app, "SELECT 1"), 1);

	res = show(c, "SHOW POOLS");
	assert_int_equal(PQntuples(res), 2);
	assert_string_equal(PQgetvalue(res, 0, 0), "pgbouncer");
	assert_string_equal(PQgetvalue(res, 1, 0), H_DBNAME);
	assert_string_equal(PQgetvalue(res, 1, 1), H_USER);
	assert_int_equal(cell_int(res, 1, "cl_active"), 1);
	assert_int_equal(cell_int(res, 1, "cl_waiting"), 0);
	assert_int_equal(cell_int(res, 0, "cl_active"), 1);
	assert_string_equal(PQgetvalue(res, 1, col(res, "pool_mode")),
			    "transaction");
	PQclear(res);

	res = show(c, "SHOW DATABASES");
	assert_int_equal(PQntuples(res), 2);
	int r = row_where(res, "name", H_DBNAME);
	assert_int_equal(r, 1);
	assert_int_equal(cell_int(res, r, "pool_size"), 7);
	assert_int_equal(cell_int(res, r, "min_pool_size"), 1);
	assert_int_equal(cell_int(res, r, "reserve_pool"), 0);
	assert_string_equal(PQgetvalue(res, r, col(res, "force_user")), H_USER);
	assert_false(PQgetisnull(res, r, col(res, "database")));
	PQclear(res);

	res = show(c, "SHOW STATS");
	r = row_where(res, "database", H_DBNAME);
	assert_true(cell_int(res, r, "total_query_count") >= 5);
	assert_true(cell_int(res, r, "total_xact_count") >= 5);
	assert_true(cell_int(res, r, "total_received") > 0);
	long long queries = cell_int(res, r, "total_query_count");
	PQclear(res);
	for (int i = 0; i < 3; i++)
		PQclear(show(c, "SHOW STATS"));
	res = show(c, "SHOW STATS_TOTALS");
	r = row_where(res, "database", H_DBNAME);
	assert_int_equal(cell_int(res, r, "query_count"), queries);
	assert_true(row_where(res, "database", "pgbouncer") >= 0);
	PQclear(res);

	res = show(c, "SHOW LISTS");
	static const char *const lists[] = {
	    "databases",    "users",	     "pools",	     "free_clients",
	    "used_clients", "login_clients", "free_servers", "used_servers",
	    "dns_names",    "dns_zones",     "dns_queries",  "dns_pending"};
	assert_int_equal(PQntuples(res), 12);
	for (int i = 0; i < 12; i++)
		assert_string_equal(PQgetvalue(res, i, 0), lists[i]);
	assert_int_equal(
	    cell_int(res, row_where(res, "list", "used_clients"), "items"), 2);
	PQclear(res);

	res = show(c, "SHOW CONFIG");
	assert_true(PQntuples(res) > 20);
	for (int i = 0; i < PQntuples(res); i++) {
		assert_false(PQgetisnull(res, i, 0));
		assert_false(PQgetisnull(res, i, 3));
		const char *ch = PQgetvalue(res, i, 3);
		assert_true(strcmp(ch, "yes") == 0 || strcmp(ch, "no") == 0);
	}
	r = row_where(res, "key", "max_client_conn");
	assert_true(r >= 0);
	assert_string_equal(PQgetvalue(res, r, 1), "1000");
	r = row_where(res, "key", "pool_max");
	assert_string_equal(PQgetvalue(res, r, 1), "7");
	PQclear(res);

	res = show(c, "SHOW VERSION");
	assert_int_equal(PQntuples(res), 1);
	assert_non_null(strstr(PQgetvalue(res, 0, 0), "PgBouncer 1.18.0"));
	PQclear(res);

	res = show(c, "SHOW CLIENTS");
	assert_int_equal(PQntuples(res), 2);
	r = row_where(res, "application_name", "rows-app");
	assert_string_equal(PQgetvalue(res, r, col(res, "database")), H_DBNAME);
	assert_string_equal(PQgetvalue(res, r, col(res, "state")), "active");
	assert_string_equal(PQgetvalue(res, r, col(res, "addr")), "127.0.0.1");
	/* Datadog's parse: "YYYY-MM-DD HH:MM:SS" before the zone */
	const char *t = PQgetvalue(res, r, col(res, "connect_time"));
	assert_true(strlen(t) >= 19 && t[4] == '-' && t[10] == ' ' &&
		    t[13] == ':');
	r = row_where(res, "application_name", "rows-console");
	assert_string_equal(PQgetvalue(res, r, col(res, "database")),
			    "pgbouncer");
	PQclear(res);

	res = show(c, "SHOW SERVERS");
	assert_true(PQntuples(res) >= 1);
	assert_true(cell_int(res, 0, "remote_pid") > 0);
	assert_string_equal(PQgetvalue(res, 0, col(res, "type")), "S");
	PQclear(res);

	PQfinish(app);
	PQfinish(c);
	h_pass();
}

/* ---- login and authorization ------------------------------------------ */

static char auth_file[PATH_MAX];

static void write_auth_file(void)
{
	snprintf(auth_file, sizeof(auth_file), "%s/admin-users.txt",
		 h_tmpdir());
	FILE *f = fopen(auth_file, "w");
	assert_non_null(f);
	fprintf(f, "\"watcher\" \"watch-pw\"\n\"boss\" \"boss-pw\"\n"
		   "\"nobody\" \"nobody-pw\"\n");
	fclose(f);
	chmod(auth_file, 0600);
}

/* SQLSTATE of a failed connection (from its error text), or "". */
static void expect_refused(struct h_pitlane *pl, const char *extra,
			   const char *sqlstate_text)
{
	PGconn *c = h_connect_try(pl, extra);
	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	if (strstr(PQerrorMessage(c), sqlstate_text) == NULL)
		fail_msg("%s: want \"%s\", got %s", extra, sqlstate_text,
			 PQerrorMessage(c));
	PQfinish(c);
}

/* admin_users may do everything, stats_users SHOW only, anyone else is
 * refused after proving who they are (a wrong password is 28P01 for
 * all); the session survives a refused command. */
static void test_console_roles(void **state)
{
	char af[PATH_MAX + 32];
	write_auth_file();
	snprintf(af, sizeof(af), "PITLANE_AUTH_FILE=%s", auth_file);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=pool-pw",
			     af,
			     "PITLANE_ADMIN_USERS=boss",
			     "PITLANE_STATS_USERS=watcher, other",
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);

	PGconn *w = console(pl, "user=watcher password=watch-pw");
	PQclear(show(w, "SHOW POOLS"));
	expect_error(w, "PAUSE", "admin access needed");
	expect_error(w, "RECONNECT", "admin access needed");
	expect_error(w, "SHUTDOWN", "admin access needed");
	expect_error(w, "SET pool_max = 3", "admin access needed");
	expect_error(w, "RELOAD", "admin access needed");
	expect_error(w, "KILL_CLIENT 0x1", "admin access needed");
	expect_ok(w, "SET datestyle TO 'ISO'", "SET");
	PQclear(show(w, "SHOW VERSION"));
	PQfinish(w);

	PGconn *b = console(pl, "user=boss password=boss-pw");
	PQclear(show(b, "SHOW STATE"));

	/* SHOW USERS: the console's, the pool's and the auth file's users */
	PGresult *res = show(b, "SHOW USERS");
	static const char *const users[] = {"boss", "nobody", "pgbouncer",
					    H_USER, "watcher"};
	assert_int_equal(PQntuples(res), 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(PQgetvalue(res, i, 0), users[i]);
		assert_true(PQgetisnull(res, i, 1));
	}
	PQclear(res);
	PQfinish(b);

	expect_refused(pl, "dbname=pgbouncer user=nobody password=nobody-pw",
		       "not allowed to use the admin console");
	expect_refused(pl, "dbname=pgbouncer user=nobody password=wrong",
		       "password authentication failed");
	expect_refused(pl, "dbname=pgbouncer user=boss password=wrong",
		       "password authentication failed");
	/* The pool's user is no console user unless listed. */
	expect_refused(pl, "dbname=pgbouncer password=pool-pw",
		       "not allowed to use the admin console");
	h_pass();
}

/* On the unix socket, user pgbouncer from pitlane's own uid is an admin
 * with no password; over TCP it is an unknown user like any other. */
static void test_unix_peer_pgbouncer(void **state)
{
	char dir[PATH_MAX], kv[PATH_MAX + 32], ci[PATH_MAX + 128];

	snprintf(dir, sizeof(dir), "%s/sock", h_tmpdir());
	mkdir(dir, 0700);
	snprintf(kv, sizeof(kv), "PITLANE_UNIX_SOCKET_DIR=%s", dir);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=pool-pw", kv, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);

	snprintf(ci, sizeof(ci),
		 "host=%s port=%d dbname=pgbouncer user=pgbouncer "
		 "connect_timeout=10",
		 dir, pl->port);
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("unix console: %s", PQerrorMessage(c));
	PGresult *res = show(c, "SHOW VERSION");
	PQclear(res);
	/* admin-only, refused for what it is, not for want of rights */
	expect_error(c, "SHOW FDS", "not supported");
	PQfinish(c);
	expect_refused(pl, "dbname=pgbouncer user=pgbouncer password=x",
		       "password authentication failed");
	h_pass();
}

/* hba rules see the console as the database pgbouncer. */
static void test_console_hba(void **state)
{
	char hba[PATH_MAX], kv[PATH_MAX + 32];

	snprintf(hba, sizeof(hba), "%s/console_hba.conf", h_tmpdir());
	FILE *f = fopen(hba, "w");
	assert_non_null(f);
	fputs("host pgbouncer all 127.0.0.1/32 reject\n"
	      "host all all 127.0.0.1/32 trust\n",
	      f);
	fclose(f);
	snprintf(kv, sizeof(kv), "PITLANE_HBA_FILE=%s", hba);
	const char *env[] = {ADMIN_ENV, kv, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	assert_int_equal(h_query_int(app, "SELECT 1"), 1);
	PQfinish(app);
	expect_refused(pl, "dbname=pgbouncer", "pg_hba.conf rejects");
	h_pass();
}

/* ---- protocol ---------------------------------------------------------- */

/* Errors keep the session: unknown command, bad arguments, more than one
 * statement, BEGIN; the welcome carries what drivers need; the extended
 * protocol ends the session with an error. */
static void test_console_protocol(void **state)
{
	const char *env[] = {ADMIN_ENV, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *c = console(pl, NULL);
	char longword[80];

	assert_string_equal(PQparameterStatus(c, "client_encoding"), "UTF8");
	assert_string_equal(PQparameterStatus(c, "DateStyle"), "ISO");
	assert_non_null(PQparameterStatus(c, "server_version"));
	assert_string_equal(PQparameterStatus(c, "standard_conforming_strings"),
			    "on");
	expect_error(c, "SHOW BOGUS", "invalid command");
	expect_error(c, "SELECT 1", "invalid command");
	expect_error(c, "BEGIN", "invalid command");
	expect_error(c, "SHOW POOLS; SHOW STATS", "invalid command");
	expect_error(c, ";", "invalid command");
	memset(longword, 'x', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = '\0';
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "SHOW %s", longword);
	expect_error(c, cmd, "bad arguments");
	PQclear(show(c, "  show\tversion  ;  "));
	PQclear(show(c, "SELECT version"));

	PGresult *res =
	    PQexecParams(c, "SHOW VERSION", 0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	if (strstr(PQresultErrorMessage(res), "extended query") == NULL)
		fail_msg("extended protocol: %s", PQresultErrorMessage(res));
	PQclear(res);
	res = PQexec(c, "SHOW VERSION");
	assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	PQfinish(c);
	h_pass();
}

/* ---- control commands -------------------------------------------------- */

/* Whether an asynchronous query's reply has come (reads what arrived). */
static bool reply_ready(void *arg)
{
	PGconn *c = arg;

	return PQconsumeInput(c) == 1 && !PQisBusy(c);
}

/* Waits for the reply of a PQsendQuery and returns its command tag's
 * result (the caller PQclears), failing after timeout_ms. */
static PGresult *await(PGconn *c, int timeout_ms)
{
	if (!h_poll(reply_ready, c, timeout_ms))
		fail_msg("no reply within %d ms", timeout_ms);
	PGresult *res = PQgetResult(c);
	PGresult *extra;
	while ((extra = PQgetResult(c)) != NULL)
		PQclear(extra);
	return res;
}

static void await_ok(PGconn *c, const char *tag)
{
	PGresult *res = await(c, 10000);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", tag, PQresultErrorMessage(res));
	assert_string_equal(PQcmdStatus(res), tag);
	PQclear(res);
}

/* A SHOW POOLS figure of the pool's row. */
static long long pool_figure(PGconn *c, const char *name)
{
	PGresult *res = show(c, "SHOW POOLS");
	long long v = cell_int(res, row_where(res, "database", H_DBNAME), name);
	PQclear(res);
	return v;
}

struct figure_want {
	PGconn *c;
	const char *name;
	long long want;
};

static bool figure_is(void *arg)
{
	struct figure_want *f = arg;
	return pool_figure(f->c, f->name) == f->want;
}

static void wait_figure(PGconn *c, const char *name, long long want)
{
	struct figure_want f = {c, name, want};
	if (!h_poll(figure_is, &f, 10000))
		fail_msg("SHOW POOLS %s stayed %lld, want %lld", name,
			 pool_figure(c, name), want);
}

static long long servers_total(PGconn *c)
{
	return pool_figure(c, "sv_active") + pool_figure(c, "sv_idle") +
	       pool_figure(c, "sv_used") + pool_figure(c, "sv_tested") +
	       pool_figure(c, "sv_login");
}

static bool no_servers(void *arg)
{
	return servers_total(arg) == 0;
}

/* PAUSE with a transaction open answers only after its COMMIT, with every
 * server closed; a new transaction then waits (its wait timeout does not
 * run while paused) and goes on after RESUME, with no error. */
static void test_pause_waits_for_commit(void **state)
{
	/* the connect timeout also bounds the connects after RESUME: 500 ms
	 * failed them on a loaded machine */
	const char *env[] = {ADMIN_ENV, "DB_CONNECT_TIMEOUT_MS=2000",
			     "DB_POOL_MIN=2", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *pauser = console(pl, NULL);
	PGconn *watch = console(pl, NULL);
	PGresult *res;

	h_exec_ok(app, "BEGIN");
	h_exec_ok(app, "INSERT INTO t VALUES (9001, 'pause')");
	assert_int_equal(PQsendQuery(pauser, "PAUSE"), 1);
	/* PAUSE is in force (SHOW DATABASES says so) but not answered */
	res = show(watch, "SHOW DATABASES");
	int r = row_where(res, "name", H_DBNAME);
	while (cell_int(res, r, "paused") != 1) {
		PQclear(res);
		h_sleep_ms(H_POLL_MS);
		res = show(watch, "SHOW DATABASES");
	}
	PQclear(res);
	assert_true(h_wait_backends(1, 10000)); /* the idle one closed */
	PQclear(show(watch, "SHOW STATE"));	/* a round trip later */
	assert_int_equal(PQconsumeInput(pauser), 1);
	assert_int_equal(PQisBusy(pauser), 1);
	assert_int_equal(pool_figure(watch, "sv_active"), 1);

	h_exec_ok(app, "COMMIT");
	await_ok(pauser, "PAUSE");
	assert_int_equal(servers_total(watch), 0);
	assert_true(h_wait_backends(0, 10000));

	/* a new transaction waits, longer than the wait timeout */
	assert_int_equal(PQsendQuery(app, "SELECT count(*) FROM t WHERE id = "
					  "9001"),
			 1);
	wait_figure(watch, "cl_waiting", 1);
	h_sleep_ms(3000); /* past DB_CONNECT_TIMEOUT_MS: must not fire */
	assert_int_equal(PQconsumeInput(app), 1);
	assert_int_equal(PQisBusy(app), 1);
	assert_int_equal(h_backends(), 0);
	res = show(watch, "SHOW STATE");
	assert_string_equal(PQgetvalue(res, 1, 1), "yes");
	PQclear(res);

	expect_ok(watch, "RESUME", "RESUME");
	res = await(app, 10000);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	expect_error(watch, "RESUME", "not paused");
	expect_ok(watch, "PAUSE", "PAUSE"); /* nothing in flight: at once */
	expect_error(watch, "PAUSE", "already");
	expect_ok(watch, "RESUME", "RESUME");
	expect_error(watch, "PAUSE pgbouncer", "cannot pause admin db");
	expect_error(watch, "PAUSE nosuchdb", "no such database: nosuchdb");
	PQfinish(app);
	PQfinish(pauser);
	PQfinish(watch);
	h_pass();
}

/* A cancel with the console's key ends a PAUSE that waits (PgBouncer's
 * way out): the pool resumes and the PAUSE gets an error. */
static void test_cancel_resumes(void **state)
{
	const char *env[] = {ADMIN_ENV, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *pauser = console(pl, NULL);
	char err[256];

	h_exec_ok(app, "BEGIN");
	assert_int_equal(PQsendQuery(pauser, "PAUSE"), 1);
	PGconn *watch = console(pl, NULL);
	PGresult *res;
	do {
		res = show(watch, "SHOW STATE");
		bool paused = strcmp(PQgetvalue(res, 1, 1), "yes") == 0;
		PQclear(res);
		if (paused)
			break;
		h_sleep_ms(H_POLL_MS);
	} while (1);
	PGcancel *cn = PQgetCancel(pauser);
	assert_int_equal(PQcancel(cn, err, sizeof(err)), 1);
	PQfreeCancel(cn);
	res = await(pauser, 10000);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQresultErrorMessage(res), "resumed"));
	PQclear(res);
	res = show(watch, "SHOW STATE");
	assert_string_equal(PQgetvalue(res, 1, 1), "no");
	PQclear(res);
	h_exec_ok(app, "COMMIT");
	assert_int_equal(h_query_int(app, "SELECT 7"), 7);
	PQfinish(app);
	PQfinish(pauser);
	PQfinish(watch);
	h_pass();
}

/* RECONNECT replaces the servers: the backend pid changes; WAIT_CLOSE
 * returns once none of the old ones is left. */
static void test_reconnect(void **state)
{
	const char *env[] = {ADMIN_ENV, "DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *c = console(pl, NULL);

	long long pid1 = h_query_int(app, "SELECT pg_backend_pid()");
	assert_int_equal(h_query_int(app, "SELECT pg_backend_pid()"), pid1);
	h_exec_ok(app, "BEGIN"); /* busy: closed when released */
	expect_ok(c, "RECONNECT", "RECONNECT");
	PGresult *res = show(c, "SHOW SERVERS");
	assert_int_equal(PQntuples(res), 1);
	assert_int_equal(cell_int(res, 0, "close_needed"), 1);
	PQclear(res);
	assert_int_equal(PQsendQuery(c, "WAIT_CLOSE"), 1);
	PGconn *watch = console(pl, NULL);
	PQclear(show(watch, "SHOW VERSION"));
	assert_int_equal(PQconsumeInput(c), 1);
	assert_int_equal(PQisBusy(c), 1);
	h_exec_ok(app, "COMMIT");
	await_ok(c, "WAIT_CLOSE");
	long long pid2 = h_query_int(app, "SELECT pg_backend_pid()");
	assert_true(pid2 != pid1);
	expect_ok(c, "WAIT_CLOSE", "WAIT_CLOSE"); /* nothing old: at once */
	expect_ok(c, "RECONNECT " H_DBNAME, "RECONNECT");
	long long pid3 = h_query_int(app, "SELECT pg_backend_pid()");
	assert_true(pid3 != pid2);
	PQfinish(watch);
	PQfinish(app);
	PQfinish(c);
	h_pass();
}

/* KILL_CLIENT drops the client whose ptr SHOW CLIENTS gives; KILL drops
 * every pool client and pauses; DISABLE refuses new logins. */
static void test_kill_and_disable(void **state)
{
	const char *env[] = {ADMIN_ENV, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *a = h_connect(pl, "application_name=victim");
	PGconn *b = h_connect(pl, "application_name=bystander");
	PGconn *c = console(pl, NULL);
	char cmd[128], async[6];

	PGresult *res = show(c, "SHOW CLIENTS");
	int r = row_where(res, "application_name", "victim");
	snprintf(cmd, sizeof(cmd), "KILL_CLIENT %s",
		 PQgetvalue(res, r, col(res, "ptr")));
	PQclear(res);
	h_capture_async(a, async);
	expect_ok(c, cmd, "KILL_CLIENT");
	assert_true(h_wait_async(a, async, 5000));
	assert_string_equal(async, "57P01");
	assert_int_equal(h_query_int(b, "SELECT 2"), 2);
	expect_error(c, cmd, "client not found");
	expect_error(c, "KILL_CLIENT zz", "invalid client pointer supplied");
	PQfinish(a);

	expect_ok(c, "DISABLE " H_DBNAME, "DISABLE");
	expect_refused(pl, NULL, "is disabled");
	assert_int_equal(h_query_int(b, "SELECT 3"), 3);
	expect_error(c, "DISABLE", "a database is required");
	expect_error(c, "DISABLE pgbouncer", "cannot disable admin db");
	expect_ok(c, "ENABLE " H_DBNAME, "ENABLE");
	PGconn *d = h_connect(pl, NULL);
	PQfinish(d);

	h_capture_async(b, async);
	expect_ok(c, "KILL " H_DBNAME, "KILL");
	assert_true(h_wait_async(b, async, 5000));
	PQfinish(b);
	res = show(c, "SHOW CLIENTS");
	assert_int_equal(PQntuples(res), 1); /* the console itself */
	PQclear(res);
	assert_true(h_poll(no_servers, c, 10000));
	expect_ok(c, "RESUME", "RESUME");
	d = h_connect(pl, NULL);
	assert_int_equal(h_query_int(d, "SELECT 4"), 4);
	PQfinish(d);
	expect_error(c, "SUSPEND", "not supported");
	PQfinish(c);
	h_pass();
}

/* A console on the unix socket as user pgbouncer (same uid: no password). */
static PGconn *unix_console(struct h_pitlane *pl, const char *dir)
{
	char ci[PATH_MAX + 128];

	snprintf(ci, sizeof(ci),
		 "host=%s port=%d dbname=pgbouncer user=pgbouncer "
		 "connect_timeout=10",
		 dir, pl->port);
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("unix console: %s", PQerrorMessage(c));
	return c;
}

static struct h_pitlane *start_with_socket(char *dir, size_t cap,
					   const char *extra_env)
{
	static char kv[PATH_MAX + 32];

	snprintf(dir, cap, "%s/sock-%d", h_tmpdir(), (int)h_now_ms() % 100000);
	mkdir(dir, 0700);
	snprintf(kv, sizeof(kv), "PITLANE_UNIX_SOCKET_DIR=%s", dir);
	const char *env[] = {kv, extra_env, NULL};
	return h_pitlane_start(env, NULL);
}

/* SHUTDOWN WAIT_FOR_CLIENTS: TCP refused at once, the console still works
 * on the unix socket, connected clients go on, and the process exits 0
 * when the last of them leaves. */
static void test_shutdown_wait_for_clients(void **state)
{
	char dir[PATH_MAX];
	struct h_pitlane *pl = *state =
	    start_with_socket(dir, sizeof(dir), NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *c = unix_console(pl, dir);

	expect_ok(c, "SHUTDOWN WAIT_FOR_CLIENTS", "SHUTDOWN");
	PGconn *late = h_connect_try(pl, NULL);
	assert_int_not_equal(PQstatus(late), CONNECTION_OK);
	assert_non_null(strstr(PQerrorMessage(late), "refused"));
	PQfinish(late);
	PQclear(show(c, "SHOW VERSION"));
	expect_error(c, "RESUME", "shutting down");
	assert_int_equal(h_query_int(app, "SELECT 5"), 5);
	assert_true(h_pitlane_alive(pl));
	PQfinish(app);
	assert_int_equal(h_pitlane_wait_exit(pl, 10000), 0);
	PQfinish(c);
	h_pass();
}

/* SHUTDOWN WAIT_FOR_SERVERS: pauses; the open transaction commits, its
 * server closes, and the process exits 0. */
static void test_shutdown_wait_for_servers(void **state)
{
	char dir[PATH_MAX];
	struct h_pitlane *pl = *state =
	    start_with_socket(dir, sizeof(dir), NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *c = unix_console(pl, dir);

	h_exec_ok(app, "BEGIN");
	h_exec_ok(app, "INSERT INTO t VALUES (9002, 'wait_for_servers')");
	expect_ok(c, "SHUTDOWN WAIT_FOR_SERVERS", "SHUTDOWN");
	PQclear(show(c, "SHOW VERSION"));
	assert_true(h_pitlane_alive(pl));
	h_exec_ok(app, "COMMIT");
	assert_int_equal(h_pitlane_wait_exit(pl, 10000), 0);
	PQfinish(app);
	PQfinish(c);
	PGconn *d = h_direct(H_DBNAME);
	assert_int_equal(
	    h_query_int(d, "SELECT count(*) FROM t WHERE id = 9002"), 1);
	PQfinish(d);
	h_pass();
}

/* SHUTDOWN: the process exits at once, no reply. */
static void test_shutdown_now(void **state)
{
	const char *env[] = {ADMIN_ENV, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *c = console(pl, NULL);

	h_exec_ok(app, "BEGIN");
	PGresult *res = PQexec(c, "SHUTDOWN");
	assert_int_not_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(h_pitlane_wait_exit(pl, 10000), 0);
	PQfinish(app);
	PQfinish(c);
	h_pass();
}

struct stats_want {
	PGconn *c;
	const char *col;
};

static bool stats_positive(void *arg)
{
	struct stats_want *w = arg;
	PGresult *res = show(w->c, "SHOW STATS");
	long long v =
	    cell_int(res, row_where(res, "database", H_DBNAME), w->col);
	PQclear(res);
	return v > 0;
}

/* The counters are real: time in transactions, queries and waiting, in
 * µs, and the per-period averages once a stats_period has passed. */
static void test_stats_counters(void **state)
{
	const char *env[] = {ADMIN_ENV, "PITLANE_STATS_PERIOD=1",
			     "DB_POOL_MAX=1", "DB_POOL_MIN=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *app = h_connect(pl, NULL);
	PGconn *c = console(pl, NULL);

	h_exec_ok(app, "BEGIN");
	h_exec_ok(app, "SELECT pg_sleep(0.2)");
	h_exec_ok(app, "COMMIT");
	PGresult *res = show(c, "SHOW STATS_TOTALS");
	int r = row_where(res, "database", H_DBNAME);
	assert_true(cell_int(res, r, "xact_time") >= 200000);
	assert_true(cell_int(res, r, "query_time") >= 200000);
	assert_true(cell_int(res, r, "xact_count") >= 1);
	assert_true(cell_int(res, r, "query_count") >= 3);
	PQclear(res);
	res = show(c, "SHOW TOTALS");
	assert_true(cell_int(res, row_where(res, "name", "total_xact_time"),
			     "value") >= 200000);
	PQclear(res);
	for (int i = 0; i < 20; i++)
		assert_int_equal(h_query_int(app, "SELECT 1"), 1);
	struct stats_want w = {c, "avg_query_count"};
	assert_true(h_poll(stats_positive, &w, 10000));
	PQfinish(app);
	PQfinish(c);
	h_pass();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The value SHOW CONFIG gives a setting. */
static void config_value(PGconn *c, const char *key, char *out, size_t cap)
{
	PGresult *res = show(c, "SHOW CONFIG");
	int r = row_where(res, "key", key);
	assert_true(r >= 0);
	snprintf(out, cap, "%s", PQgetvalue(res, r, 1));
	PQclear(res);
}

/* SET through the reload path: a changeable setting changes (tag
 * "SET key=value"), a fixed or unknown one or a bad value is refused and
 * changes nothing; RELOAD applies the file, or answers F0000 and keeps the
 * old values. */
static void test_set_and_reload(void **state)
{
	char ini[PATH_MAX], v[64];
	snprintf(ini, sizeof(ini), "%s/console.ini", h_tmpdir());
	write_file(ini, "[pitlane]\nquery_timeout = 7\n");
	const char *env[] = {ADMIN_ENV, NULL};
	const char *args[] = {"-c", ini, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	PGconn *c = console(pl, NULL);

	expect_ok(c, "SET pool_max = 3", "SET pool_max=3");
	config_value(c, "pool_max", v, sizeof(v));
	assert_string_equal(v, "3");
	PGresult *res = show(c, "SHOW DATABASES");
	assert_int_equal(
	    cell_int(res, row_where(res, "name", H_DBNAME), "pool_size"), 3);
	PQclear(res);
	expect_error(c, "SET pool_max = 'many'", "SET failed");
	expect_error(c, "SET listen_port = 7000", "SET failed");
	expect_error(c, "SET no_such_setting = 1", "SET failed");
	/* the longest SET the grammar allows gets a reply */
	char longset[400], tag[400], val[256];
	memset(val, 'x', 255);
	val[255] = '\0';
	snprintf(longset, sizeof(longset), "SET server_check_query = '%s'",
		 val);
	snprintf(tag, sizeof(tag), "SET server_check_query=%s", val);
	PGresult *lr = PQexec(c, longset);
	assert_int_equal(PQresultStatus(lr), PGRES_COMMAND_OK);
	/* libpq keeps the first 63 bytes of a tag */
	assert_true(strlen(PQcmdStatus(lr)) >= 63);
	assert_memory_equal(PQcmdStatus(lr), tag, strlen(PQcmdStatus(lr)));
	PQclear(lr);
	expect_ok(c, "SET server_check_query = 'SELECT 1'",
		  "SET server_check_query=SELECT 1");
	config_value(c, "pool_max", v, sizeof(v));
	assert_string_equal(v, "3");

	config_value(c, "query_timeout", v, sizeof(v));
	assert_true(atof(v) == 7.0);
	write_file(ini, "[pitlane]\nquery_timeout = 9\n");
	expect_ok(c, "RELOAD", "RELOAD");
	config_value(c, "query_timeout", v, sizeof(v));
	assert_true(atof(v) == 9.0);
	write_file(ini, "[pitlane]\nquery_timeout = banana\n");
	res = PQexec(c, "RELOAD;");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "F0000");
	PQclear(res);
	config_value(c, "query_timeout", v, sizeof(v));
	assert_true(atof(v) == 9.0);
	expect_error(c, "RELOAD now", "invalid command");
	PGconn *app = h_connect(pl, NULL);
	assert_int_equal(h_query_int(app, "SELECT 8"), 8);
	PQfinish(app);
	PQfinish(c);
	h_pass();
}

/* RESUME resets the backoff: with PostgreSQL back, the first connect starts
 * at RESUME, not when a backoff grown while it was down runs out. */
static void test_resume_resets_backoff(void **state)
{
	const char *env[] = {ADMIN_ENV, "DB_POOL_MIN=1",
			     "DB_CONNECT_TIMEOUT_MS=3000", NULL};
	h_pg_stop();
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	/* five failures: the next attempt is 4 s away */
	assert_true(h_log_wait(pl, "server connect failed", 5, 20000));
	PGconn *c = console(pl, NULL);
	expect_ok(c, "PAUSE", "PAUSE"); /* no server: at once */
	h_pg_start();
	expect_ok(c, "RESUME", "RESUME");
	/* the connect has started: it is in the pool right away */
	assert_true(servers_total(c) >= 1);
	PGconn *app = h_connect(pl, NULL);
	assert_int_equal(h_query_int(app, "SELECT 6"), 6);
	PQfinish(app);
	PQfinish(c);
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_show_layouts),
	    TEST(test_show_rows),
	    TEST(test_console_roles),
	    TEST(test_unix_peer_pgbouncer),
	    TEST(test_console_hba),
	    TEST(test_console_protocol),
	    TEST(test_pause_waits_for_commit),
	    TEST(test_cancel_resumes),
	    TEST(test_reconnect),
	    TEST(test_kill_and_disable),
	    TEST(test_shutdown_wait_for_clients),
	    TEST(test_shutdown_wait_for_servers),
	    TEST(test_shutdown_now),
	    TEST(test_stats_counters),
	    TEST(test_set_and_reload),
	    TEST(test_resume_resets_backoff),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
