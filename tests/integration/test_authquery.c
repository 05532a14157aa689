/* Logins without a password in any pitlane file (issue 14): SCRAM
 * pass-through (the auth file holds only the secret copied from
 * pg_authid; pitlane logs in to PostgreSQL with the ClientKey recovered
 * from the client's proof) and auth_query (a role that exists only in
 * PostgreSQL). The test server's pg_hba.conf is rewritten through SQL so
 * that the test roles must use scram-sha-256 over TCP. */
#include "harness.h"

#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PT_USER	     "pt_user" /* pass-through role */
#define PT_PW	     "pt-S3cret-pw"
#define AQ_USER	     "aq_user" /* exists only in PostgreSQL */
#define AQ_PW	     "aq-S3cret-pw"
#define AQ_AUTH	     "aq_lookup" /* auth_user: runs the lookup function */
#define AQ_AUTH_PW   "lookup-pw"
#define WRONG_PW     "wr0ng-Password-42"
#define SCRAM_ROLES  PT_USER "," AQ_USER "," AQ_AUTH
#define LOOKUP_QUERY "SELECT usename, passwd FROM pitlane_lookup($1)"

static const char *envf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *envf(const char *fmt, ...)
{
	static char pool[32][PATH_MAX + 64];
	static int next;
	char *s = pool[next++ % 32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, PATH_MAX + 64, fmt, ap);
	va_end(ap);
	return s;
}

/* ---- PostgreSQL side -------------------------------------------------- */

static bool direct_login_refused(void *arg)
{
	char ci[256];
	(void)arg;
	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d dbname=%s user=" PT_USER
		 " password=" WRONG_PW " sslmode=disable connect_timeout=10",
		 h_pg_port(), H_DBNAME);
	PGconn *c = PQconnectdb(ci);
	bool refused = PQstatus(c) != CONNECTION_OK &&
		       strstr(PQerrorMessage(c), "password") != NULL;
	PQfinish(c);
	return refused;
}

/* Prepends a scram-sha-256 line for the test roles to pg_hba.conf (the
 * other lines kept, blanks collapsed: COPY's text format would escape
 * tabs), reloads, and waits until a wrong password is refused. */
static void pg_require_scram(void)
{
	PGconn *a = h_admin();
	PGresult *r = PQexec(a, "SELECT current_setting('hba_file'), "
				"pg_read_file(current_setting('hba_file'))");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	size_t cap = strlen(PQgetvalue(r, 0, 1)) + 4096;
	char *sql = malloc(cap), *text = strdup(PQgetvalue(r, 0, 1));
	size_t n = (size_t)snprintf(sql, cap,
				    "COPY (VALUES ('host all " SCRAM_ROLES
				    " 127.0.0.1/32 "
				    "scram-sha-256')");
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\0')
			continue;
		n += (size_t)snprintf(sql + n, cap - n, ", ('");
		for (bool blank = false; *p; p++) {
			if (*p == ' ' || *p == '\t') {
				blank = true;
				continue;
			}
			if (blank)
				sql[n++] = ' ';
			blank = false;
			sql[n++] = *p;
		}
		n += (size_t)snprintf(sql + n, cap - n, "')");
	}
	snprintf(sql + n, cap - n, ") TO '%s'", PQgetvalue(r, 0, 0));
	PQclear(r);
	h_exec_ok(a, sql);
	h_exec_ok(a, "SELECT pg_reload_conf()");
	free(sql);
	free(text);
	assert_true(h_poll(direct_login_refused, NULL, 10000));
}

static void pg_setup_roles(void)
{
	PGconn *a = h_admin();
	h_exec_ok(a, "SET password_encryption = 'scram-sha-256'");
	h_exec_ok(a, "DROP ROLE IF EXISTS " PT_USER);
	h_exec_ok(a, "DROP ROLE IF EXISTS " AQ_USER);
	h_exec_ok(a, "CREATE ROLE " PT_USER " LOGIN PASSWORD '" PT_PW "'");
	h_exec_ok(a, "CREATE ROLE " AQ_USER " LOGIN PASSWORD '" AQ_PW "'");
	h_exec_ok(a, "GRANT ALL ON DATABASE " H_DBNAME " TO " PT_USER
		     ", " AQ_USER);
	PQfinish(h_direct(H_DBNAME)); /* the database exists */
	PGconn *d = h_direct(H_DBNAME);
	/* The recommended auth_query setup: a SECURITY DEFINER function an
	 * unprivileged auth_user may call, instead of reading pg_shadow. */
	h_exec_ok(d, "DROP FUNCTION IF EXISTS pitlane_lookup(text)");
	h_exec_ok(d, "DROP ROLE IF EXISTS " AQ_AUTH);
	h_exec_ok(d, "SET password_encryption = 'scram-sha-256'");
	h_exec_ok(d, "CREATE ROLE " AQ_AUTH " LOGIN PASSWORD '" AQ_AUTH_PW "'");
	h_exec_ok(d,
		  "CREATE FUNCTION pitlane_lookup(p_user text, "
		  "OUT usename name, OUT passwd text) RETURNS record "
		  "LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog "
		  "AS $$ SELECT usename, passwd FROM pg_shadow "
		  "WHERE usename = p_user $$");
	h_exec_ok(d, "REVOKE ALL ON FUNCTION pitlane_lookup(text) FROM PUBLIC");
	h_exec_ok(d,
		  "GRANT EXECUTE ON FUNCTION pitlane_lookup(text) TO " AQ_AUTH);
	PQfinish(d);
}

static int group_setup(void **state)
{
	int rc = h_group_setup(state);
	if (rc != 0)
		return rc;
	pg_setup_roles();
	pg_require_scram();
	return 0;
}

/* ---- client side ------------------------------------------------------ */

static PGconn *login_db(struct h_pitlane *pl, const char *db, const char *user,
			const char *pw)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", pl->port);
	/* keyword arrays: a hostile user name needs no quoting */
	const char *keys[] = {
	    "host",    "port",	     "dbname",		"user", "password",
	    "sslmode", "gssencmode", "connect_timeout", NULL};
	const char *vals[] = {"127.0.0.1", port,      db,   user, pw,
			      "disable",   "disable", "15", NULL};
	PGconn *c = PQconnectStartParams(keys, vals, 0);
	assert_non_null(c);
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	h_connect_finish(c, 20000);
	return c;
}

static PGconn *login(struct h_pitlane *pl, const char *user, const char *pw)
{
	return login_db(pl, H_DBNAME, user, pw);
}

static char *current_user(PGconn *c, char *out, size_t cap)
{
	PGresult *r = PQexec(c, "SELECT current_user");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("SELECT current_user: %s", PQerrorMessage(c));
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static void login_db_as(struct h_pitlane *pl, const char *db, const char *user,
			const char *pw, const char *want_current)
{
	char who[64];
	PGconn *c = login_db(pl, db, user, pw);
	if (PQstatus(c) != CONNECTION_OK) {
		h_pitlane_dump_log(pl, 40);
		fail_msg("login as %s: %s", user, PQerrorMessage(c));
	}
	assert_string_equal(current_user(c, who, sizeof(who)), want_current);
	PQfinish(c);
}

static void login_as(struct h_pitlane *pl, const char *user, const char *pw,
		     const char *want_current)
{
	login_db_as(pl, H_DBNAME, user, pw, want_current);
}

/* The login fails with FATAL sqlstate; the message is returned in err. */
static void login_refused(struct h_pitlane *pl, const char *user,
			  const char *pw, const char *sqlstate, char *err,
			  size_t cap)
{
	char tag[32];
	PGconn *c = login(pl, user, pw);
	snprintf(err, cap, "%s", PQerrorMessage(c));
	ConnStatusType st = PQstatus(c);
	PQfinish(c);
	if (st == CONNECTION_OK)
		fail_msg("login as %s succeeded", user);
	snprintf(tag, sizeof(tag), "FATAL:  %s: ", sqlstate);
	if (!strstr(err, tag))
		fail_msg("login as %s: want %s, got: %s", user, tag, err);
}

/* The client's pg_sleep runs on a server. */
static bool sleep_running(void *arg)
{
	(void)arg;
	return h_query_int(h_admin(),
			   "SELECT count(*) FROM pg_stat_activity WHERE "
			   "usename = '" PT_USER "' AND state = 'active' AND "
			   "query LIKE 'SELECT pg_sleep%'") == 1;
}

/* ---- tests ------------------------------------------------------------ */

/* The auth file holds only pt_user's secret from pg_authid; pt_user is
 * the pool's user without DB_PASSWORD. Its client logs in with its
 * password, and the servers log in as pt_user with the ClientKey. */
static void test_passthru(void **state)
{
	char secret[512], err[1024];
	h_pg_secret(PT_USER, secret, sizeof(secret));
	const char *af = h_write_authfile("pt.txt", PT_USER, secret, NULL);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     envf("PITLANE_AUTH_FILE=%s", af),
			     "DB_USER=" PT_USER, "DB_POOL_MIN=0", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);

	login_as(pl, PT_USER, PT_PW, PT_USER);
	assert_int_equal(h_log_count(pl, "server connect failed"), 0);

	/* a second client reuses the key; a query is cancelled with a raw
	 * CancelRequest (no PGconn on this path) */
	PGconn *c = login(pl, PT_USER, PT_PW);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQsendQuery(c, "SELECT pg_sleep(60)"), 1);
	assert_true(h_poll(sleep_running, NULL, 10000));
	PGcancel *pc = PQgetCancel(c);
	char ebuf[256];
	assert_int_equal(PQcancel(pc, ebuf, sizeof(ebuf)), 1);
	PQfreeCancel(pc);
	PGresult *r;
	char st[6] = "";
	while ((r = PQgetResult(c)) != NULL) {
		h_result_sqlstate(r, st);
		PQclear(r);
	}
	assert_string_equal(st, "57014");
	PQfinish(c);

	login_refused(pl, PT_USER, WRONG_PW, "28P01", err, sizeof(err));
	login_refused(pl, "nobody_here", PT_PW, "28P01", err, sizeof(err));
	/* no plaintext password anywhere in the log */
	char *log = h_log_read(pl);
	assert_null(strstr(log, PT_PW));
	free(log);
	h_pass();
}

/* Pass-through over a host list whose first host accepts TCP and never
 * answers: that host gets connect_timeout_ms of its own, then the real
 * server logs the client's server in (no password anywhere: libpq could
 * not have). */
static void test_passthru_silent_host(void **state)
{
	char secret[512], ini[PATH_MAX], line[4096], reason[512];
	int sport, silent = h_silent_listen(&sport);
	h_pg_secret(PT_USER, secret, sizeof(secret));
	const char *af = h_write_authfile("pt3.txt", PT_USER, secret, NULL);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     envf("PITLANE_AUTH_FILE=%s", af), "DB_POOL_MIN=0",
			     "DB_CONNECT_TIMEOUT_MS=1000", NULL};
	const char *args[] = {"-c", ini, NULL};
	h_tmp_path("pthosts.ini", ini, sizeof(ini));
	h_write_file(ini,
		     "[databases]\nptdb = host=127.0.0.1,127.0.0.1 "
		     "port=%d,%d dbname=" H_DBNAME "\n",
		     sport, h_pg_port());
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);

	int64_t t0 = h_now_ms();
	login_db_as(pl, "ptdb", PT_USER, PT_PW, PT_USER);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "served after %lld ms\n", (long long)took);
	assert_true(took >= 950);	 /* the silent host had its second */
	assert_true(took < 2000 + 4000); /* within two hosts' time */
	assert_int_equal(h_silent_count(silent), 1);
	assert_true(h_log_first(pl, "backend host failed, trying the next",
				5000, line, sizeof(line)));
	assert_true(h_json_str(line, "reason", reason, sizeof(reason)));
	assert_non_null(strstr(reason, "timeout connecting to host"));
	assert_int_equal(h_log_count(pl, "server connect failed"), 0);
	close(silent);
	h_pass();
}

/* sslmode require toward the server: pass-through cannot use TLS, so it
 * is refused with a log line, not attempted. */
static void test_passthru_refused_with_tls(void **state)
{
	char secret[512];
	h_pg_secret(PT_USER, secret, sizeof(secret));
	const char *af = h_write_authfile("pt2.txt", PT_USER, secret, NULL);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     envf("PITLANE_AUTH_FILE=%s", af),
			     "DB_USER=" PT_USER,
			     "DB_POOL_MIN=0",
			     "DB_SSLMODE=require",
			     "DB_CONNECT_TIMEOUT_MS=1000",
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *c = login(pl, PT_USER, PT_PW);
	PQfinish(c);
	assert_true(h_log_wait(pl,
			       "SCRAM pass-through refused: it needs a "
			       "plain connection to the server, and "
			       "sslmode asks for TLS",
			       1, 10000));
	h_pass();
}

/* The environment of an auth_query setup: auth_user aq_lookup, whose
 * plaintext password is the auth file's only line, calls the SECURITY
 * DEFINER function; extra entries are appended (NULL-terminated). */
static const char *const *aq_env(const char *a, const char *b, const char *c)
{
	static const char *env[16];
	const char *af =
	    h_write_authfile("aq.txt", AQ_AUTH, AQ_AUTH_PW, (const char *)NULL);
	int n = 0;
	env[n++] = "PITLANE_AUTH_TYPE=scram-sha-256";
	env[n++] = envf("PITLANE_AUTH_FILE=%s", af);
	env[n++] = "PITLANE_AUTH_USER=" AQ_AUTH;
	env[n++] = "PITLANE_AUTH_QUERY=" LOOKUP_QUERY;
	env[n++] = a;
	env[n++] = b;
	env[n++] = c;
	env[n] = NULL;
	return env;
}

/* aq_user exists only in PostgreSQL: no pitlane file names it. It logs
 * in through auth_query. The default pool forces DB_USER, so the server
 * is pitlane's (per-user pools need a [databases] entry without user=). */
static void test_auth_query_login(void **state)
{
	char err[1024];
	struct h_pitlane *pl = *state =
	    h_pitlane_start(aq_env(NULL, NULL, NULL), NULL);

	login_as(pl, AQ_USER, AQ_PW, H_USER);
	login_as(pl, AQ_USER, AQ_PW, H_USER); /* from the cache */
	login_refused(pl, AQ_USER, WRONG_PW, "28P01", err, sizeof(err));
	assert_non_null(
	    strstr(err, "password authentication failed for user \"aq_user\""));
	login_refused(pl, "no_such_role", AQ_PW, "28P01", err, sizeof(err));
	assert_non_null(strstr(
	    err, "password authentication failed for user \"no_such_role\""));
	assert_int_equal(h_log_count(pl, "auth_query lookup failed"), 0);
	h_pass();
}

/* A role that exists only in PostgreSQL, served by servers that log in as
 * that role: auth_query gives pitlane its SCRAM secret, the client's proof
 * gives the ClientKey, and the servers log in by SCRAM pass-through. */
static void test_auth_query_passthru(void **state)
{
	char err[1024];
	struct h_pitlane *pl = *state = h_pitlane_start(
	    aq_env("DB_USER=" AQ_USER, "DB_POOL_MIN=0", NULL), NULL);

	login_as(pl, AQ_USER, AQ_PW, AQ_USER);
	login_refused(pl, AQ_USER, WRONG_PW, "28P01", err, sizeof(err));
	char *log = h_log_read(pl);
	assert_null(strstr(log, AQ_PW));
	free(log);
	h_pass();
}

/* User names that would break a query built as text reach PostgreSQL as
 * a parameter: they are unknown users (28P01), nothing else happens. */
static void test_auth_query_hostile_name(void **state)
{
	static const char *const names[] = {
	    "x'; DROP TABLE t; --",
	    "aq_user' OR '1'='1",
	    "\"; SELECT pg_sleep(10); --",
	    "a\\'b;c",
	};
	char err[1024];
	struct h_pitlane *pl = *state =
	    h_pitlane_start(aq_env(NULL, NULL, NULL), NULL);
	PGconn *d = h_direct(H_DBNAME);
	long long rows = h_query_int(d, "SELECT count(*) FROM t");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		login_refused(pl, names[i], AQ_PW, "28P01", err, sizeof(err));
	assert_int_equal(h_query_int(d, "SELECT count(*) FROM t"), rows);
	PQfinish(d);
	assert_int_equal(h_log_count(pl, "auth_query lookup failed"), 0);
	login_as(pl, AQ_USER, AQ_PW, H_USER); /* still works */
	h_pass();
}

/* The lookup cannot run (its database does not exist): a clear FATAL and
 * a log line, within the connect timeout, not a hang. */
static void test_auth_query_db_down(void **state)
{
	char err[1024];
	struct h_pitlane *pl = *state = h_pitlane_start(
	    aq_env("PITLANE_AUTH_DBNAME=no_such_db", NULL, NULL), NULL);
	int64_t t0 = h_now_ms();

	login_refused(pl, AQ_USER, AQ_PW, "08006", err, sizeof(err));
	assert_non_null(strstr(err, "authentication lookup failed"));
	assert_true(h_now_ms() - t0 < 15000);
	assert_true(h_log_wait(pl, "auth_query lookup failed", 1, 5000));
	h_pass();
}

/* The auth database's server is down (nothing listens on the port of the
 * entry asked for): the lookup's connect fails, the client gets 08006. */
static void test_auth_query_server_down(void **state)
{
	char ini[PATH_MAX], err[1024];
	const char *af = h_write_authfile("down.txt", AQ_AUTH, AQ_AUTH_PW,
					  (const char *)NULL);
	snprintf(ini, sizeof(ini), "%s/down.ini", h_tmpdir());
	FILE *f = fopen(ini, "w");
	assert_non_null(f);
	fprintf(f,
		"[pitlane]\nauth_file = %s\nauth_user = " AQ_AUTH
		"\nauth_query = " LOOKUP_QUERY "\n"
		"[databases]\ndown = dbname=" H_DBNAME " port=%d\n",
		af, h_free_port());
	fclose(f);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_CONNECT_TIMEOUT_MS=3000", NULL};
	const char *args[] = {"-c", ini, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	int64_t t0 = h_now_ms();

	PGconn *c = login_db(pl, "down", AQ_USER, AQ_PW);
	snprintf(err, sizeof(err), "%s", PQerrorMessage(c));
	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	assert_non_null(strstr(err, "08006"));
	assert_true(h_now_ms() - t0 < 15000);
	assert_true(h_log_wait(pl, "auth_query lookup failed", 1, 5000));
	/* the default database's server is up: lookups there still work */
	login_as(pl, AQ_USER, AQ_PW, H_USER);
	h_pass();
}

/* Per-user pools: a [databases] entry without user= serves each client as
 * itself. pt_user (its pg_authid secret in the auth file) and aq_user
 * (only in PostgreSQL, found by auth_query) both get servers that log in
 * as them by SCRAM pass-through: no password of theirs in any file. */
static void test_own_user_pools(void **state)
{
	char secret[512], ini[PATH_MAX], err[1024];
	h_pg_secret(PT_USER, secret, sizeof(secret));
	const char *af = h_write_authfile("own.txt", PT_USER, secret, AQ_AUTH,
					  AQ_AUTH_PW, (const char *)NULL);
	snprintf(ini, sizeof(ini), "%s/own.ini", h_tmpdir());
	FILE *f = fopen(ini, "w");
	assert_non_null(f);
	fprintf(f,
		"[pitlane]\nauth_file = %s\nauth_user = " AQ_AUTH
		"\nauth_query = " LOOKUP_QUERY "\n"
		"[databases]\nown = dbname=" H_DBNAME "\n",
		af);
	fclose(f);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256", NULL};
	const char *args[] = {"-c", ini, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);

	login_db_as(pl, "own", PT_USER, PT_PW, PT_USER);
	login_db_as(pl, "own", AQ_USER, AQ_PW, AQ_USER);
	login_db_as(pl, "own", AQ_USER, AQ_PW, AQ_USER); /* pooled, cached */
	/* the database asked for is mapped: the lookup runs on its server */
	PGconn *c = login_db(pl, "own", AQ_USER, WRONG_PW);
	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	assert_non_null(strstr(PQerrorMessage(c), "28P01"));
	PQfinish(c);
	(void)err;
	char *log = h_log_read(pl);
	assert_null(strstr(log, AQ_PW));
	assert_null(strstr(log, PT_PW));
	free(log);
	h_pass();
}

/* A burst of logins at once, known and unknown users mixed, the unknown
 * ones each under its own name so the cache cannot answer them: more than
 * the 4 lookups that run at once, so the others queue. Every known user gets
 * in, every unknown one gets 28P01, none hangs. */
#define BURST 12
static void test_auth_query_burst(void **state)
{
	struct h_pitlane *pl = *state =
	    h_pitlane_start(aq_env(NULL, NULL, NULL), NULL);
	PGconn *c[BURST];
	PostgresPollingStatusType st[BURST];
	char port[16], users[BURST][32];
	snprintf(port, sizeof(port), "%d", pl->port);

	for (int i = 0; i < BURST; i++) {
		if (i % 2 == 0)
			snprintf(users[i], sizeof(users[i]), "%s", AQ_USER);
		else
			snprintf(users[i], sizeof(users[i]), "ghost_%d", i);
		const char *keys[] = {"host",	    "port",	"dbname",
				      "user",	    "password", "sslmode",
				      "gssencmode", NULL};
		const char *vals[] = {"127.0.0.1", port,  H_DBNAME,
				      users[i],	   AQ_PW, "disable",
				      "disable",   NULL};
		c[i] = PQconnectStartParams(keys, vals, 0);
		assert_non_null(c[i]);
		PQsetErrorVerbosity(c[i], PQERRORS_VERBOSE);
		st[i] = PGRES_POLLING_WRITING;
	}
	int64_t deadline = h_now_ms() + 30000;
	for (int pending = BURST; pending > 0 && h_now_ms() < deadline;) {
		struct pollfd pfd[BURST];
		int idx[BURST], n = 0;
		for (int i = 0; i < BURST; i++) {
			if (st[i] == PGRES_POLLING_OK ||
			    st[i] == PGRES_POLLING_FAILED)
				continue;
			pfd[n].fd = PQsocket(c[i]);
			pfd[n].events =
			    st[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			idx[n++] = i;
		}
		pending = n;
		if (n == 0)
			break;
		poll(pfd, (nfds_t)n, 200);
		for (int k = 0; k < n; k++)
			if (pfd[k].revents != 0)
				st[idx[k]] = PQconnectPoll(c[idx[k]]);
	}
	for (int i = 0; i < BURST; i++) {
		if (i % 2 == 0) {
			if (st[i] != PGRES_POLLING_OK)
				fail_msg("%s: %s", users[i],
					 PQerrorMessage(c[i]));
		} else {
			assert_int_equal(st[i], PGRES_POLLING_FAILED);
			assert_non_null(strstr(PQerrorMessage(c[i]), "28P01"));
		}
		PQfinish(c[i]);
	}
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_passthru),
	    TEST(test_passthru_refused_with_tls),
	    TEST(test_passthru_silent_host),
	    TEST(test_auth_query_login),
	    TEST(test_auth_query_passthru),
	    TEST(test_auth_query_hostile_name),
	    TEST(test_auth_query_db_down),
	    TEST(test_auth_query_server_down),
	    TEST(test_own_user_pools),
	    TEST(test_auth_query_burst),
	};
	return cmocka_run_group_tests(tests, group_setup, h_group_teardown);
}
