/* Routing to many pools against a real PostgreSQL: [databases] entries
 * served by their own databases, an entry without user= where servers log
 * in as the client's own role (its password from the auth file, its grants
 * applying), per-pool limits and the max_db_connections /
 * max_user_connections caps under 100 concurrent clients, an unknown
 * database refused with 3D000, connect_query, the "*" entry's pools made
 * on demand and dropped when unused, SHOW POOLS and /metrics listing every
 * pool, a reload that changes, removes and adds entries, and a takeover
 * that hands each client into its own pool. */
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ALICE_PW "alice-pw-1"
#define BOB_PW	 "bob-pw-2"
#define WAIT_MS	 20000
#define NLOAD	 100 /* concurrent clients of the caps test */

/* ---- helpers ---------------------------------------------------------- */

/* Starts pitlane with ini as its file (the auth file lists alice and bob
 * with their plaintext passwords) and SCRAM client authentication. */
static char ini_path[PATH_MAX];
static const char *const start_env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
					"DB_PASSWORD=pitlane-pw",
					"DB_CONNECT_TIMEOUT_MS=30000", NULL};

static struct h_pitlane *start_with_env(const char *ini, const char *extra)
{
	static char users_path[PATH_MAX];
	const char *args[] = {"-c", ini_path, NULL};
	const char *env[8];
	size_t n = 0;

	for (; start_env[n] != NULL; n++)
		env[n] = start_env[n];
	env[n++] = extra;
	env[n] = NULL;

	h_tmp_path("users.txt", users_path, sizeof(users_path));
	h_write_file(users_path, "\"alice\" \"" ALICE_PW "\"\n"
				 "\"bob\" \"" BOB_PW "\"\n");
	h_tmp_path("routing.ini", ini_path, sizeof(ini_path));
	h_write_file(ini_path,
		     "[pitlane]\nauth_file = %s\nadmin_users = pitlane\n%s",
		     users_path, ini);
	return h_pitlane_start(env, args);
}

static struct h_pitlane *start_with(const char *ini)
{
	return start_with_env(ini, NULL);
}

/* A connection through pitlane to database db as user with password. */
static PGconn *connect_as(struct h_pitlane *pl, const char *db,
			  const char *user, const char *pw)
{
	char extra[256];

	snprintf(extra, sizeof(extra), "dbname=%s user=%s password=%s", db,
		 user, pw);
	return h_connect(pl, extra);
}

/* The first column of the first row of sql, into buf. */
static const char *query_str(PGconn *c, const char *sql, char *buf, size_t cap)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return buf;
}

/* Backends pitlane holds (direct connections excluded) for a database
 * and, when user is not NULL, a user. */
static int backends_of(const char *datname, const char *user)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
		 "AND (%s IS NULL OR usename = %s%s%s) AND "
		 "application_name <> '" H_DIRECT_APP "' AND backend_type = "
		 "'client backend'",
		 datname, user ? "''" : "NULL", user ? "'" : "NULL",
		 user ? user : "", user ? "'" : "");
	return (int)h_query_int(h_admin(), sql);
}

/* Whether SHOW POOLS lists (database, user). */
static bool pools_list(PGconn *console, const char *db, const char *user)
{
	PGresult *r = PQexec(console, "SHOW POOLS");
	bool found = false;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("SHOW POOLS: %s", PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r); i++)
		found |= strcmp(PQgetvalue(r, i, 0), db) == 0 &&
			 strcmp(PQgetvalue(r, i, 1), user) == 0;
	PQclear(r);
	return found;
}

/* The body of GET path from pitlane's HTTP endpoint (malloc'd). */
static char *http_get(struct h_pitlane *pl, const char *path)
{
	char line[4096], req[256];
	long long port;
	size_t len = 0, cap = 1 << 16;
	char *body = calloc(1, cap);
	int fd;

	assert_true(h_log_record(pl, "http listening", 0, line, sizeof(line)));
	assert_true(h_json_int(line, "port", &port));
	fd = h_raw_connect((int)port);
	assert_true(fd >= 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	assert_true(h_raw_send(fd, req, strlen(req)));
	for (int b; (b = h_raw_read_byte(fd, WAIT_MS)) >= 0;) {
		if (len + 2 > cap)
			body = realloc(body, cap *= 2);
		body[len++] = (char)b;
	}
	body[len] = '\0';
	close(fd);
	return body;
}

/* SHOW DATABASES's `paused` for db; -1 when db is not listed. */
static int db_paused(PGconn *console, const char *db)
{
	PGresult *r = PQexec(console, "SHOW DATABASES");
	int paused = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("SHOW DATABASES: %s", PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 0), db) == 0)
			paused = atoi(PQgetvalue(r, i, PQfnumber(r, "paused")));
	PQclear(r);
	return paused;
}

static PGconn *console(struct h_pitlane *pl)
{
	return connect_as(pl, "pgbouncer", "pitlane", "pitlane-pw");
}

/* ---- fixtures --------------------------------------------------------- */

/* Two databases, two roles with passwords that PostgreSQL checks (SCRAM
 * for them in pg_hba.conf, ahead of the harness's trust), a table only
 * alice may read and one bob may read too. */
static int setup(void **state)
{
	PGconn *a;
	char hba[PATH_MAX], *old;
	PGresult *r;
	FILE *f;
	long n;

	if (h_group_setup(state) != 0)
		return -1;
	a = h_admin();
	h_exec_ok(a, "CREATE DATABASE route_a");
	h_exec_ok(a, "CREATE DATABASE route_b");
	h_exec_ok(a, "SET password_encryption = 'scram-sha-256'");
	h_exec_ok(a, "CREATE ROLE alice LOGIN PASSWORD '" ALICE_PW "'");
	h_exec_ok(a, "CREATE ROLE bob LOGIN PASSWORD '" BOB_PW "'");
	h_exec_ok(a, "ALTER ROLE pitlane PASSWORD 'pitlane-pw'");
	PGconn *b = h_direct("route_b");
	h_exec_ok(b, "CREATE TABLE secret (v int); INSERT INTO secret "
		     "VALUES (1); GRANT SELECT ON secret TO alice");
	h_exec_ok(b, "CREATE TABLE open (v int); INSERT INTO open VALUES "
		     "(2); GRANT SELECT ON open TO alice, bob");
	PQfinish(b);
	r = PQexec(a, "SHOW hba_file");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(hba, sizeof(hba), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	f = fopen(hba, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	old = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(old, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	f = fopen(hba, "w");
	assert_non_null(f);
	fprintf(f, "host all alice,bob 127.0.0.1/32 scram-sha-256\n%s", old);
	fclose(f);
	free(old);
	h_exec_ok(a, "SELECT pg_reload_conf()");
	return 0;
}

/* The database a new connection to alias lands on, or "" when refused
 * (sqlstate then in st). */
static const char *db_of(struct h_pitlane *pl, const char *alias, char *buf,
			 size_t cap, char st[6])
{
	char extra[256];
	PGconn *c;

	snprintf(extra, sizeof(extra),
		 "dbname=%s user=alice password=" ALICE_PW, alias);
	c = h_connect_try(pl, extra);
	buf[0] = st[0] = '\0';
	if (PQstatus(c) == CONNECTION_OK)
		query_str(c, "SELECT current_database()", buf, cap);
	else if (strstr(PQerrorMessage(c), "no such database") != NULL)
		snprintf(st, 6, "3D000");
	PQfinish(c);
	return buf;
}

/* ---- tests ------------------------------------------------------------ */

/* Two entries, two databases; an unknown name is refused after login. */
static void test_entries_route(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[pitlane]\nhttp_port = 0\n[databases]\n"
		       "alpha = host=127.0.0.1 dbname=route_a user=pitlane\n"
		       "beta = dbname=route_b user=pitlane pool_size=3\n"
		       "unused = dbname=route_b\n");
	char buf[128];

	PGconn *a = connect_as(pl, "alpha", "alice", ALICE_PW);
	PGconn *b = connect_as(pl, "beta", "bob", BOB_PW);
	assert_string_equal(
	    query_str(a, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	assert_string_equal(
	    query_str(b, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	/* user= in the entry: the server logs in as that user. */
	assert_string_equal(
	    query_str(a, "SELECT current_user", buf, sizeof(buf)), "pitlane");
	/* The default DB_* pool is still served. */
	PGconn *d = connect_as(pl, H_DBNAME, "pitlane", "pitlane-pw");
	assert_string_equal(
	    query_str(d, "SELECT current_database()", buf, sizeof(buf)),
	    H_DBNAME);

	char extra[128], err[1024];
	snprintf(extra, sizeof(extra),
		 "dbname=nosuchdb user=alice password=" ALICE_PW);
	PGconn *x = h_connect_try(pl, extra);
	assert_int_equal(PQstatus(x), CONNECTION_BAD);
	snprintf(err, sizeof(err), "%s", PQerrorMessage(x));
	PQfinish(x);
	assert_non_null(strstr(err, "no such database: nosuchdb"));
	assert_true(h_log_wait(pl, "client refused", 1, WAIT_MS));
	char line[4096], state_[16];
	assert_true(h_log_record(pl, "client refused", -1, line, sizeof(line)));
	assert_true(h_json_str(line, "sqlstate", state_, sizeof(state_)));
	assert_string_equal(state_, "3D000");

	PGconn *con = console(pl);
	assert_true(pools_list(con, "alpha", "pitlane"));
	assert_true(pools_list(con, "beta", "pitlane"));
	assert_true(pools_list(con, H_DBNAME, "pitlane"));
	assert_int_equal(db_paused(con, "unused"), 0); /* listed, no pool */
	/* One `pool metrics` record per pool, in the order they were made. */
	int n0 = h_log_count(pl, "pool metrics");
	h_pitlane_signal(pl, SIGUSR1);
	assert_true(h_log_wait(pl, "pool metrics", n0 + 3, WAIT_MS));
	assert_true(
	    h_log_record(pl, "pool metrics", n0 + 1, line, sizeof(line)));
	assert_true(h_json_str(line, "pool", buf, sizeof(buf)));
	assert_string_equal(buf, "alpha");
	assert_true(h_json_str(line, "user", buf, sizeof(buf)));
	assert_string_equal(buf, "pitlane");
	assert_true(h_log_record(pl, "pool metrics", -1, line, sizeof(line)));
	assert_true(h_json_str(line, "pool", buf, sizeof(buf)));
	assert_string_equal(buf, "beta");
	/* /metrics: one set of series per pool. */
	char *prom = http_get(pl, "/metrics");
	assert_non_null(strstr(prom, "{database=\"alpha\",user=\"pitlane\""));
	assert_non_null(strstr(prom, "{database=\"beta\",user=\"pitlane\""));
	assert_non_null(
	    strstr(prom, "{database=\"" H_DBNAME "\",user=\"pitlane\""));
	free(prom);
	/* PAUSE with a database pauses that database's pools only. */
	h_exec_ok(con, "PAUSE alpha");
	assert_int_equal(db_paused(con, "alpha"), 1);
	assert_int_equal(db_paused(con, "beta"), 0);
	assert_string_equal(
	    query_str(b, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	h_exec_ok(con, "RESUME alpha");
	assert_int_equal(db_paused(con, "alpha"), 0);
	/* DISABLE works on an entry that has no pool yet. */
	h_exec_ok(con, "DISABLE unused");
	char dst[6];
	db_of(pl, "unused", buf, sizeof(buf), dst);
	assert_string_equal(buf, "");
	h_exec_ok(con, "ENABLE unused");
	assert_string_equal(db_of(pl, "unused", buf, sizeof(buf), dst),
			    "route_b");
	assert_string_equal(
	    query_str(a, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	PQfinish(con);
	PQfinish(a);
	PQfinish(b);
	PQfinish(d);
	h_pass();
}

/* Without user=, servers log in as the client's own role: its grants
 * apply, and each user has a pool of its own. */
static void test_own_user(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[databases]\nshared = dbname=route_b\n");
	char buf[128], st[6];

	PGconn *a = connect_as(pl, "shared", "alice", ALICE_PW);
	PGconn *b = connect_as(pl, "shared", "bob", BOB_PW);
	assert_string_equal(
	    query_str(a, "SELECT current_user", buf, sizeof(buf)), "alice");
	assert_string_equal(
	    query_str(b, "SELECT current_user", buf, sizeof(buf)), "bob");
	assert_int_equal(h_query_int(a, "SELECT v FROM secret"), 1);
	assert_int_equal(h_query_int(b, "SELECT v FROM open"), 2);
	assert_string_equal(h_exec_sqlstate(b, "SELECT v FROM secret", st),
			    "42501");
	/* The session goes on after the error (transaction mode). */
	assert_int_equal(h_query_int(b, "SELECT v FROM open"), 2);
	PGconn *con = console(pl);
	assert_true(pools_list(con, "shared", "alice"));
	assert_true(pools_list(con, "shared", "bob"));
	PQfinish(con);
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* connect_query runs once on each new server before its first use. */
static void test_connect_query(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[databases]\n"
		       "cq = dbname=route_a user=pitlane "
		       "connect_query='SET pitlane.tag TO connected'\n");
	char buf[128];

	PGconn *c = connect_as(pl, "cq", "alice", ALICE_PW);
	assert_string_equal(query_str(c,
				      "SELECT current_setting('pitlane.tag')",
				      buf, sizeof(buf)),
			    "connected");
	PQfinish(c);
	h_pass();
}

/* One client of the load. */
struct loader {
	PGconn *conn;
	int rounds_left;
	bool busy;
};

struct caps_seen {
	int ok, failed;
	int db_peak, alice_peak, bob_peak;
};

static void sample(struct caps_seen *s)
{
	int db = backends_of("route_a", NULL);
	int al = backends_of("route_a", "alice");
	int bo = backends_of("route_a", "bob");

	s->db_peak = db > s->db_peak ? db : s->db_peak;
	s->alice_peak = al > s->alice_peak ? al : s->alice_peak;
	s->bob_peak = bo > s->bob_peak ? bo : s->bob_peak;
}

static bool loader_drain(struct loader *l, struct caps_seen *s)
{
	if (!PQconsumeInput(l->conn)) {
		s->failed++;
		l->rounds_left = 0;
		return false;
	}
	while (!PQisBusy(l->conn)) {
		PGresult *r = PQgetResult(l->conn);
		if (r == NULL)
			return false;
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			s->ok++;
		else if (s->failed++ == 0)
			fprintf(stderr, "load query: %s",
				PQresultErrorMessage(r));
		PQclear(r);
	}
	return true;
}

/* 100 clients (half alice, half bob) on one database: each user's pool
 * stays within pool_size, alice within her max_user_connections, the
 * database within max_db_connections; every query is served. */
static void test_caps_under_load(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[pitlane]\nmax_db_connections = 50\n"
		       "[databases]\n"
		       "capped = dbname=route_a pool_size=3 min_pool_size=0 "
		       "max_db_connections=4\n"
		       "[users]\nalice = max_user_connections=2\n");
	struct loader *ls = calloc(NLOAD, sizeof(*ls));
	struct pollfd pfd[NLOAD];
	struct caps_seen s = {0};
	int64_t deadline = h_now_ms() + 120000;

	for (int i = 0; i < NLOAD; i++) {
		ls[i].conn = i % 2
				 ? connect_as(pl, "capped", "bob", BOB_PW)
				 : connect_as(pl, "capped", "alice", ALICE_PW);
		ls[i].rounds_left = 2;
	}
	for (;;) {
		int active = 0;
		for (int i = 0; i < NLOAD; i++) {
			struct loader *l = &ls[i];
			if (!l->busy && l->rounds_left > 0) {
				l->rounds_left--;
				l->busy =
				    PQsendQuery(l->conn, "SELECT "
							 "pg_sleep(0.02)") == 1;
			}
			pfd[i].fd = l->busy ? PQsocket(l->conn) : -1;
			pfd[i].events = POLLIN;
			active += l->busy;
		}
		if (active == 0 || h_now_ms() > deadline)
			break;
		poll(pfd, NLOAD, H_POLL_MS);
		for (int i = 0; i < NLOAD; i++)
			if (ls[i].busy &&
			    (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				ls[i].busy = loader_drain(&ls[i], &s);
		sample(&s);
	}
	for (int i = 0; i < NLOAD; i++)
		PQfinish(ls[i].conn);
	free(ls);
	fprintf(stderr,
		"%d clients: %d ok, %d failed; peaks: db %d, alice %d, "
		"bob %d\n",
		NLOAD, s.ok, s.failed, s.db_peak, s.alice_peak, s.bob_peak);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.ok, 2 * NLOAD);
	assert_true(s.alice_peak <= 2);
	assert_true(s.bob_peak <= 3);
	assert_true(s.db_peak <= 4);
	assert_true(s.alice_peak >= 1 && s.bob_peak >= 1);
	h_pass();
}

/* The "*" entry serves any other name; its pool goes once unused for
 * autodb_idle_timeout. */
static void test_star_entry(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[pitlane]\nautodb_idle_timeout = 1\n"
		       "[databases]\n* = host=127.0.0.1 user=pitlane\n");
	char buf[128];

	PGconn *c = connect_as(pl, "route_b", "alice", ALICE_PW);
	assert_string_equal(
	    query_str(c, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	PGconn *con = console(pl);
	assert_true(pools_list(con, "route_b", "pitlane"));
	PQfinish(c);
	assert_true(h_log_wait(pl, "pool dropped", 1, WAIT_MS));
	assert_false(pools_list(con, "route_b", "pitlane"));
	assert_true(pools_list(con, H_DBNAME, "pitlane"));
	PQfinish(con);
	/* Asked for again, it is made again. */
	c = connect_as(pl, "route_a", "bob", BOB_PW);
	assert_string_equal(
	    query_str(c, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	PQfinish(c);
	h_pass();
}

/* A reload: a changed entry's servers are replaced (its client, still
 * connected, lands on the new database), a removed entry's pool takes no
 * new login but serves its client until it leaves, then goes; a new entry
 * serves at once. */
static void test_reload_entries(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[databases]\n"
		       "moved = dbname=route_a user=pitlane\n"
		       "gone = dbname=route_a user=pitlane\n");
	char buf[128], st[6];

	PGconn *m = connect_as(pl, "moved", "alice", ALICE_PW);
	PGconn *g = connect_as(pl, "gone", "bob", BOB_PW);
	assert_string_equal(
	    query_str(m, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	assert_string_equal(
	    query_str(g, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	h_write_file(ini_path,
		     "[pitlane]\nauth_file = %s/users.txt\nadmin_users = "
		     "pitlane\n[databases]\n"
		     "moved = dbname=route_b user=pitlane\n"
		     "fresh = dbname=route_b user=pitlane\n",
		     h_tmpdir());
	h_pitlane_signal(pl, SIGHUP);
	assert_true(h_log_wait(pl, "configuration reloaded", 1, WAIT_MS));
	assert_true(
	    h_log_wait(pl, "database entry changed: reconnecting", 1, WAIT_MS));
	assert_string_equal(
	    query_str(m, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	assert_string_equal(db_of(pl, "fresh", buf, sizeof(buf), st),
			    "route_b");
	db_of(pl, "gone", buf, sizeof(buf), st);
	assert_string_equal(st, "3D000");
	/* Its client keeps being served, on the old target. */
	assert_string_equal(
	    query_str(g, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	assert_int_equal(h_log_count(pl, "pool dropped"), 0);
	PQfinish(g);
	assert_true(h_log_wait(pl, "pool dropped", 1, WAIT_MS));
	PGconn *con = console(pl);
	assert_false(pools_list(con, "gone", "pitlane"));
	assert_true(pools_list(con, "moved", "pitlane"));
	PQfinish(con);
	PQfinish(m);
	h_pass();
}

/* A takeover (pitlane -R) hands each client over into the pool of its
 * database and user: a forced-user entry's client and an own-user entry's
 * client go on in the new process on their databases, as themselves. */
static void test_takeover_routed(void **state)
{
	char dir[PATH_MAX], ini[PATH_MAX + 256], buf[128];

	snprintf(dir, sizeof(dir), "%s/tk", h_tmpdir());
	mkdir(dir, 0700);
	snprintf(ini, sizeof(ini),
		 "[pitlane]\nunix_socket_dir = %s\n[databases]\n"
		 "alpha = dbname=route_a user=pitlane\n"
		 "shared = dbname=route_b\n",
		 dir);
	struct h_pitlane *old = *state = start_with(ini);
	assert_true(h_log_wait(old, "takeover socket listening", 1, WAIT_MS));
	PGconn *a = connect_as(old, "alpha", "alice", ALICE_PW);
	PGconn *b = connect_as(old, "shared", "bob", BOB_PW);
	assert_string_equal(
	    query_str(b, "SELECT current_user", buf, sizeof(buf)), "bob");
	assert_string_equal(
	    query_str(a, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");

	const char *args[] = {"-c", ini_path, "-R", NULL};
	struct h_pitlane *new = h_pitlane_start(start_env, args);
	int rc = h_pitlane_wait_exit(old, 30000);
	if (rc != 0)
		h_pitlane_dump_log(old, 80);
	assert_int_equal(rc, 0);
	h_pitlane_stop(old);
	*state = new;
	assert_true(h_log_wait(new, "takeover complete: the old process let go",
			       1, WAIT_MS));
	assert_string_equal(
	    query_str(a, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	assert_string_equal(
	    query_str(b, "SELECT current_user", buf, sizeof(buf)), "bob");
	assert_string_equal(
	    query_str(b, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	PGconn *con = console(new);
	assert_true(pools_list(con, "alpha", "pitlane"));
	assert_true(pools_list(con, "shared", "bob"));
	PQfinish(con);
	PQfinish(a);
	PQfinish(b);
	h_pass();
}

/* SHOW POOLS's column col for (db, user); -1 when not listed. */
static int pool_col(PGconn *console, const char *db, const char *user,
		    const char *col)
{
	PGresult *r = PQexec(console, "SHOW POOLS");
	int v = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("SHOW POOLS: %s", PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 0), db) == 0 &&
		    strcmp(PQgetvalue(r, i, 1), user) == 0)
			v = atoi(PQgetvalue(r, i, PQfnumber(r, col)));
	PQclear(r);
	return v;
}

/* Polls until route_a holds n backends of user pitlane. */
static bool reserve_backends_are(void *arg)
{
	return backends_of("route_a", "pitlane") == *(int *)arg;
}

static bool wait_reserve_backends(int n)
{
	return h_poll(reserve_backends_are, &n, WAIT_MS);
}

/* Whether the query sent on c has not been answered yet. */
static bool still_busy(PGconn *c)
{
	assert_int_equal(PQconsumeInput(c), 1);
	return PQisBusy(c) == 1;
}

/* Reads the answers to a query sent on c; fails on an error. */
static void finish_query(PGconn *c)
{
	PGresult *r;

	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) == PGRES_FATAL_ERROR)
			fail_msg("%s", PQresultErrorMessage(r));
		PQclear(r);
	}
}

/* reserve_pool: with pool_size=2 reserve_pool=1, a third client holding a
 * transaction gets a third server once it has waited reserve_pool_timeout,
 * a fourth waits (the reserve is spent), and once the transactions end the
 * reserve server is closed, back to pool_size. */
static void test_reserve_pool(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[pitlane]\nreserve_pool_timeout = 0.5\n"
		       "[databases]\n"
		       "res = dbname=route_a user=pitlane pool_size=2 "
		       "min_pool_size=0 reserve_pool=1\n");
	PGconn *c[4], *con;
	PGresult *r;

	for (int i = 0; i < 4; i++)
		c[i] = connect_as(pl, "res", "alice", ALICE_PW);
	con = console(pl);
	r = PQexec(con, "SHOW DATABASES");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 0), "res") == 0)
			assert_string_equal(
			    PQgetvalue(r, i, PQfnumber(r, "reserve_pool")),
			    "1");
	PQclear(r);
	for (int i = 0; i < 2; i++)
		h_exec_ok(c[i], "BEGIN; SELECT 1");
	assert_true(wait_reserve_backends(2));
	int64_t t0 = h_now_ms();
	assert_int_equal(PQsendQuery(c[2], "BEGIN; SELECT 1"), 1);
	finish_query(c[2]); /* after the reserve timeout */
	assert_true(h_now_ms() - t0 >= 400);
	assert_true(wait_reserve_backends(3));
	/* The fourth waits past the reserve timeout and gets nothing. */
	assert_int_equal(PQsendQuery(c[3], "BEGIN; SELECT 1"), 1);
	while (pool_col(con, "res", "pitlane", "maxwait") < 1)
		assert_true(still_busy(c[3]) && h_now_ms() - t0 < WAIT_MS);
	assert_true(still_busy(c[3]));
	assert_int_equal(backends_of("route_a", "pitlane"), 3);
	assert_int_equal(pool_col(con, "res", "pitlane", "cl_waiting"), 1);
	/* A release serves it; after every release, the reserve goes. */
	h_exec_ok(c[0], "COMMIT");
	finish_query(c[3]);
	for (int i = 1; i < 4; i++)
		h_exec_ok(c[i], "COMMIT");
	assert_true(wait_reserve_backends(2));
	assert_int_equal(pool_col(con, "res", "pitlane", "sv_idle"), 2);
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
	PQfinish(con);
	h_pass();
}

/* A console command that fails with msg in its error. */
static void console_error(PGconn *con, const char *cmd, const char *msg)
{
	PGresult *r = PQexec(con, cmd);

	if (PQresultStatus(r) != PGRES_FATAL_ERROR ||
	    strstr(PQresultErrorMessage(r), msg) == NULL)
		fail_msg("%s: expected \"%s\", got %s %s", cmd, msg,
			 PQresStatus(PQresultStatus(r)),
			 PQresultErrorMessage(r));
	PQclear(r);
}

/* What the login in progress waits for (login_step). */
static PostgresPollingStatusType login_st;

/* Starts a login of alice to db without waiting for it. */
static PGconn *login_start(struct h_pitlane *pl, const char *db)
{
	char port[16];
	const char *keys[] = {"host",	  "port",    "dbname",	   "user",
			      "password", "sslmode", "gssencmode", NULL};
	const char *vals[] = {"127.0.0.1", port,      db,	 "alice",
			      ALICE_PW,	   "disable", "disable", NULL};
	PGconn *c;

	snprintf(port, sizeof(port), "%d", pl->port);
	c = PQconnectStartParams(keys, vals, 0);
	assert_non_null(c);
	assert_int_not_equal(PQstatus(c), CONNECTION_BAD);
	login_st = PGRES_POLLING_WRITING;
	return c;
}

/* Drives the login c for up to ms: true once it is logged in. One login
 * at a time (login_st). */
static bool login_step(PGconn *c, int ms)
{
	PostgresPollingStatusType st = login_st;
	int64_t deadline = h_now_ms() + ms;

	if (PQstatus(c) == CONNECTION_OK)
		return true;
	for (;;) {
		struct pollfd pfd = {
		    .fd = PQsocket(c),
		    .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		int left = (int)(deadline - h_now_ms());

		if (pfd.fd < 0 || left <= 0)
			return false;
		if (poll(&pfd, 1, left) == 0)
			return false;
		login_st = st = PQconnectPoll(c);
		if (st == PGRES_POLLING_OK)
			return true;
		if (st == PGRES_POLLING_FAILED)
			fail_msg("login: %s", PQerrorMessage(c));
	}
}

/* PAUSE, RESUME, KILL and RECONNECT on a [databases] entry that has no
 * pool yet apply to the entry: a pool made while it is paused starts
 * paused (its client waits) until RESUME; a name that is no entry is
 * refused. */
static void test_pause_entry(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[databases]\n"
		       "later = dbname=route_a user=pitlane min_pool_size=0\n"
		       "other = dbname=route_b user=pitlane\n");
	PGconn *con = console(pl), *c;
	char buf[128];

	h_exec_ok(con, "PAUSE later");
	assert_int_equal(db_paused(con, "later"), 1);
	assert_int_equal(db_paused(con, "other"), 0);
	console_error(con, "PAUSE later", "already");
	console_error(con, "PAUSE nosuchdb", "no such database: nosuchdb");
	console_error(con, "RESUME nosuchdb", "no such database: nosuchdb");
	console_error(con, "KILL nosuchdb", "no such database: nosuchdb");
	console_error(con, "RECONNECT nosuchdb", "no such database: nosuchdb");
	h_exec_ok(con, "RECONNECT later");
	/* A login to it makes its pool, paused: no server, the client waits. */
	c = login_start(pl, "later");
	while (!pools_list(con, "later", "pitlane"))
		assert_false(login_step(c, 50));
	assert_int_equal(pool_col(con, "later", "pitlane", "sv_idle") +
			     pool_col(con, "later", "pitlane", "sv_active") +
			     pool_col(con, "later", "pitlane", "sv_login"),
			 0);
	assert_false(login_step(c, 200));
	h_exec_ok(con, "RESUME later");
	assert_int_equal(db_paused(con, "later"), 0);
	assert_true(login_step(c, WAIT_MS));
	assert_string_equal(
	    query_str(c, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	console_error(con, "RESUME later", "not paused");
	PQfinish(c);
	/* KILL of an entry with no pool pauses it too; RESUME lets it in. */
	h_exec_ok(con, "KILL other");
	assert_int_equal(db_paused(con, "other"), 1);
	c = login_start(pl, "other");
	while (!pools_list(con, "other", "pitlane"))
		assert_false(login_step(c, 50));
	h_exec_ok(con, "RESUME other");
	assert_true(login_step(c, WAIT_MS));
	assert_string_equal(
	    query_str(c, "SELECT current_database()", buf, sizeof(buf)),
	    "route_b");
	PQfinish(c);
	PQfinish(con);
	h_pass();
}

/* A datagram socket at path, as systemd's NOTIFY_SOCKET. */
static int notify_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(a.sun_path));
	strcpy(a.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads notifications from fd until one starts with want (true) or
 * WAIT_MS pass; the last STATUS= line seen goes to last. */
static bool notify_wait(int fd, const char *want, char *last, size_t cap)
{
	int64_t deadline = h_now_ms() + WAIT_MS;
	char msg[1024];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - h_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		n = recv(fd, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		if (strncmp(msg, "STATUS=", 7) == 0)
			snprintf(last, cap, "%s", msg);
		if (strncmp(msg, want, strlen(want)) == 0)
			return true;
	}
}

/* With many pools, the systemd STATUS= line sums them all, and /readyz
 * is 200 while the default pool is ready and some pool takes clients:
 * pausing another database leaves it ready, a PAUSE of everything (the
 * default pool with it) makes it 503. */
static void test_status_all_pools(void **state)
{
	char path[PATH_MAX], env[PATH_MAX + 16], last[1024] = "", buf[64];
	int fd = notify_listen(h_tmp_path("notify.sock", path, sizeof(path)));

	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", path);
	struct h_pitlane *pl = *state =
	    start_with_env("[pitlane]\nhttp_port = 0\nstats_period = 0.2\n"
			   "[databases]\n"
			   "alpha = dbname=route_a user=pitlane\n",
			   env);
	PGconn *a = connect_as(pl, "alpha", "alice", ALICE_PW);
	assert_string_equal(
	    query_str(a, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	/* Two pools (the default and alpha's), one client of alpha. */
	if (!notify_wait(fd, "STATUS=pools 2, 0 paused: clients ", last,
			 sizeof(last)))
		fail_msg("no STATUS= for two pools; last: %s", last);
	assert_non_null(strstr(last, "total; servers "));
	PGconn *con = console(pl);
	h_exec_ok(con, "PAUSE alpha");
	char *body = http_get(pl, "/readyz");
	assert_non_null(strstr(body, "\"ready\":true"));
	free(body);
	assert_true(
	    notify_wait(fd, "STATUS=pools 2, 1 paused: ", last, sizeof(last)));
	h_exec_ok(con, "RESUME alpha");
	h_exec_ok(con, "PAUSE");
	body = http_get(pl, "/readyz");
	assert_non_null(strstr(body, "\"ready\":false"));
	assert_non_null(strstr(body, "paused"));
	free(body);
	h_exec_ok(con, "RESUME");
	PQfinish(con);
	PQfinish(a);
	close(fd);
	h_pass();
}

/* A connect that fails inside libpq's start (a socket directory that
 * does not exist: connect() fails at once, before PQconnectStartParams
 * returns) is reported from the loop, never before backend_connect_start
 * has returned: the pool backs off and retries, a RECONNECT and the
 * client's leaving abort what is in flight, and pitlane goes on serving
 * (under the sanitizer build a use of the freed attempt would abort). */
static void test_connect_fails_at_once(void **state)
{
	struct h_pitlane *pl = *state =
	    start_with("[databases]\n"
		       "dead = host=/nonexistent-pitlane-dir port=5432 "
		       "dbname=route_a user=pitlane min_pool_size=1\n"
		       "live = dbname=route_a user=pitlane\n");
	PGconn *con = console(pl), *c, *d;
	char buf[64];

	c = login_start(pl, "dead");
	assert_false(login_step(c, 100));
	assert_true(h_log_wait(pl, "server connect failed", 3, WAIT_MS));
	h_exec_ok(con, "RECONNECT dead");
	assert_true(h_log_wait(pl, "server connect failed", 4, WAIT_MS));
	assert_false(login_step(c, 10));
	PQfinish(c);
	h_exec_ok(con, "KILL dead");
	h_exec_ok(con, "RESUME dead");
	assert_true(h_pitlane_alive(pl));
	d = connect_as(pl, "live", "alice", ALICE_PW);
	assert_string_equal(
	    query_str(d, "SELECT current_database()", buf, sizeof(buf)),
	    "route_a");
	char line[4096];
	assert_true(
	    h_log_record(pl, "server connect failed", 0, line, sizeof(line)));
	assert_non_null(strstr(line, "nonexistent-pitlane-dir"));
	PQfinish(d);
	PQfinish(con);
	h_pass();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_entries_route, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_own_user, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_connect_query, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_caps_under_load, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_star_entry, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_reload_entries, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_takeover_routed, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_reserve_pool, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_pause_entry, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_status_all_pools, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_connect_fails_at_once,
					    h_test_setup, h_test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, h_group_teardown);
}
