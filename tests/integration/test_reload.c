/* Live reload through the real daemon: SIGHUP after the INI file, the
 * auth file or the TLS certificate changed. A lower pool_max under load
 * (no client error, servers drop to the new max), a file with bad values
 * (rejected whole: still serving, old values in effect, every error
 * logged), a setting that cannot change at runtime (kept, with a warning),
 * a new auth file (a new user logs in, a removed one cannot) and new hba
 * rules, a renewed certificate (a new handshake sees it, an old session
 * goes on), and a new backend target (every server replaced, an open
 * transaction finishes). */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define N_LOAD	 8 /* clients of the load loop */
#define ALICE_PW "alice-s3cret"
#define BOB_PW	 "bob-s3cret"
#define RELOADED "configuration reloaded"
#define REJECTED "reload rejected: the old configuration stays"
#define WAIT_MS	 15000 /* bound of every wait for the daemon */

/* ---- helpers ---------------------------------------------------------- */

/* Sends SIGHUP and waits for the reload's outcome: `reloaded` or
 * `rejected` records, counted from the start. */
static void sighup(struct h_pitlane *pl, bool ok, int nth)
{
	const char *msg = ok ? RELOADED : REJECTED;

	h_pitlane_signal(pl, SIGHUP);
	if (!h_log_wait(pl, msg, nth, WAIT_MS)) {
		h_pitlane_dump_log(pl, 40);
		fail_msg("no `%s` record #%d after SIGHUP", msg, nth);
	}
	assert_true(h_pitlane_alive(pl));
}

/* The `pool metrics` record written for a SIGUSR1, into line. */
static void metrics(struct h_pitlane *pl, char *line, size_t cap)
{
	int n = h_log_count(pl, "pool metrics");

	h_pitlane_signal(pl, SIGUSR1);
	assert_true(h_log_wait(pl, "pool metrics", n + 1, WAIT_MS));
	assert_true(h_log_record(pl, "pool metrics", -1, line, cap));
}

static long long metric(struct h_pitlane *pl, const char *key)
{
	char line[4096];
	long long v = -1;

	metrics(pl, line, sizeof(line));
	assert_true(h_json_int(line, key, &v));
	return v;
}

static bool log_contains(struct h_pitlane *pl, const char *needle)
{
	char *text = h_log_read(pl);
	bool found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Connects through pitlane as user with password (NULL: none); the caller
 * checks PQstatus. */
static PGconn *connect_as(struct h_pitlane *pl, const char *user,
			  const char *password, const char *extra)
{
	char ci[2048];

	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d dbname=%s user=%s password=%s "
		 "gssencmode=disable connect_timeout=10 %s",
		 pl->port, H_DBNAME, user, password ? password : "",
		 extra ? extra : "sslmode=disable");
	return PQconnectdb(ci);
}

static PGconn *connect_ok(struct h_pitlane *pl, const char *user,
			  const char *password, const char *extra)
{
	PGconn *c = connect_as(pl, user, password, extra);

	if (PQstatus(c) != CONNECTION_OK) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQfinish(c);
		h_pitlane_dump_log(pl, 30);
		fail_msg("login as %s failed: %s", user, msg);
	}
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	return c;
}

static void login_refused(struct h_pitlane *pl, const char *user,
			  const char *password)
{
	PGconn *c = connect_as(pl, user, password, NULL);
	bool refused = PQstatus(c) != CONNECTION_OK;

	if (!refused || strstr(PQerrorMessage(c), "password") == NULL)
		fail_msg("login as %s: want a password failure, got: %s", user,
			 refused ? PQerrorMessage(c) : "success");
	PQfinish(c);
}

/* ---- load ------------------------------------------------------------- */

/* N_LOAD clients each running short queries back to back through libpq's
 * asynchronous calls, so one thread keeps them all busy. */
struct load {
	PGconn *c[N_LOAD];
	bool busy[N_LOAD];
	long done, errors;
	char first_error[512];
};

static void load_start(struct load *l, struct h_pitlane *pl)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < N_LOAD; i++) {
		l->c[i] = h_connect(pl, NULL);
		assert_int_equal(PQsetnonblocking(l->c[i], 1), 0);
	}
}

/* One query's results: anything but one row is an error. */
static void load_collect(struct load *l, int i)
{
	PGresult *r;

	while ((r = PQgetResult(l->c[i])) != NULL) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			if (l->errors++ == 0)
				snprintf(l->first_error, sizeof(l->first_error),
					 "%s", PQresultErrorMessage(r));
		}
		PQclear(r);
	}
	l->busy[i] = false;
	l->done++;
}

/* Runs the load for ms milliseconds, or until pred (when not NULL) holds;
 * pred is checked every 100 ms. Returns whether pred held. */
static bool load_run(struct load *l, int ms, bool (*pred)(void *), void *arg)
{
	int64_t end = h_now_ms() + ms, next_check = 0;

	while (h_now_ms() < end) {
		for (int i = 0; i < N_LOAD; i++) {
			if (!l->busy[i]) {
				assert_int_equal(
				    PQsendQuery(l->c[i],
						"SELECT pg_sleep(0.005)"),
				    1);
				l->busy[i] = true;
			}
			PQflush(l->c[i]);
			if (!PQconsumeInput(l->c[i])) {
				if (l->errors++ == 0)
					snprintf(l->first_error,
						 sizeof(l->first_error), "%s",
						 PQerrorMessage(l->c[i]));
				fail_msg("load client %d lost: %s", i,
					 l->first_error);
			}
			if (!PQisBusy(l->c[i]))
				load_collect(l, i);
		}
		if (pred != NULL && h_now_ms() >= next_check) {
			if (pred(arg))
				return true;
			next_check = h_now_ms() + 100;
		}
		h_sleep_ms(1);
	}
	return false;
}

static void load_stop(struct load *l)
{
	for (int i = 0; i < N_LOAD; i++) {
		if (l->busy[i]) {
			PQsetnonblocking(l->c[i], 0);
			load_collect(l, i);
		}
		PQfinish(l->c[i]);
	}
}

static bool backends_at_least(void *arg)
{
	return h_backends() >= *(int *)arg;
}

static bool backends_at_most(void *arg)
{
	int n = h_backends();

	return n >= 0 && n <= *(int *)arg;
}

/* ---- tests ------------------------------------------------------------ */

/* A lower pool_max under load: surplus idle servers close at once, busy
 * ones when released; no client sees an error. */
static void test_lower_pool_max_under_load(void **state)
{
	char ini[PATH_MAX];
	const char *args[] = {"-c", h_tmp_path("max.ini", ini, sizeof(ini)),
			      NULL};
	struct load l;
	int six = 6, two = 2;

	h_write_file(ini, "[pool]\npool_max = 6\npool_min = 0\n");
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, args);
	load_start(&l, pl);
	if (!load_run(&l, WAIT_MS, backends_at_least, &six))
		fail_msg("the pool never reached 6 servers (%d)", h_backends());
	assert_int_equal(metric(pl, "max"), 6);

	h_write_file(ini, "[pool]\npool_max = 2\npool_min = 0\n");
	h_pitlane_signal(pl, SIGHUP);
	if (!load_run(&l, WAIT_MS, backends_at_most, &two))
		fail_msg("servers did not drop to 2 (%d)", h_backends());
	assert_true(h_log_wait(pl, RELOADED, 1, WAIT_MS));
	long before = l.done;
	load_run(&l, 1000, NULL, NULL);
	assert_true(l.done > before);
	assert_true(h_backends() <= 2);
	assert_int_equal(metric(pl, "max"), 2);
	assert_true(metric(pl, "servers_total") <= 2);
	load_stop(&l);
	if (l.errors != 0)
		fail_msg("%ld of %ld queries failed, the first: %s", l.errors,
			 l.done, l.first_error);
	assert_true(log_contains(pl, "\"setting\":\"pool_max\""));
	h_pass();
}

/* A file with bad values is rejected whole, every error logged; the old
 * values stay and pitlane goes on serving. So does a missing file and an
 * unreadable auth file. */
static void test_bad_values_rejected(void **state)
{
	char ini[PATH_MAX];
	const char *args[] = {"-c", h_tmp_path("bad.ini", ini, sizeof(ini)),
			      NULL};

	h_write_file(ini, "[pool]\npool_max = 3\npool_min = 0\n");
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, args);
	PGconn *c = h_connect(pl, NULL);
	h_exec_ok(c, "BEGIN");
	assert_int_equal(h_query_int(c, "SELECT 7"), 7);

	/* A good change (pool_min) beside two bad values. */
	h_write_file(ini, "[pool]\npool_max = many\npool_min = 1\n"
			  "[pitlane]\nquery_timeout = -1\n");
	sighup(pl, false, 1);
	assert_true(log_contains(pl, "pool_max must be an integer"));
	assert_true(log_contains(pl, "query_timeout must be a number"));
	assert_int_equal(metric(pl, "max"), 3);
	assert_int_equal(metric(pl, "min"), 0);
	assert_int_equal(h_query_int(c, "SELECT 8"), 8);
	h_exec_ok(c, "COMMIT");

	/* pool_min above pool_max: a cross-setting error. */
	h_write_file(ini, "[pool]\npool_max = 3\npool_min = 4\n");
	sighup(pl, false, 2);
	assert_true(log_contains(pl, "must not be greater than"));

	/* An auth file that cannot be read. */
	h_write_file(ini, "[pool]\npool_max = 3\npool_min = 0\n[pitlane]\n"
			  "auth_file = /nonexistent/users.txt\n");
	sighup(pl, false, 3);
	assert_true(log_contains(pl, "cannot read auth_file"));

	/* No file at all. */
	assert_int_equal(unlink(ini), 0);
	sighup(pl, false, 4);
	assert_true(log_contains(pl, "cannot read config file"));
	assert_int_equal(metric(pl, "max"), 3);
	assert_int_equal(h_log_count(pl, RELOADED), 0);

	/* Still serving, old values in effect; a good file is taken. */
	assert_int_equal(h_query_int(c, "SELECT 9"), 9);
	PQfinish(c);
	c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 10"), 10);
	h_write_file(ini, "[pool]\npool_max = 5\npool_min = 0\n");
	sighup(pl, true, 1);
	assert_int_equal(metric(pl, "max"), 5);
	PQfinish(c);
	h_pass();
}

/* The listen address cannot change at runtime: it keeps its value with a
 * warning naming it, and the rest of the file is applied. Had it been
 * taken, trust on a non-loopback address would have been an error. */
static void test_fixed_setting_kept(void **state)
{
	char ini[PATH_MAX], line[4096], setting[64];
	const char *args[] = {"-c", h_tmp_path("fixed.ini", ini, sizeof(ini)),
			      NULL};

	h_write_file(ini, "[pitlane]\nlisten_addr = 127.0.0.1\n"
			  "[pool]\npool_max = 4\n");
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, args);
	h_write_file(ini, "[pitlane]\nlisten_addr = 0.0.0.0\n"
			  "[pool]\npool_max = 7\n");
	sighup(pl, true, 1);
	assert_true(h_log_record(
	    pl, "setting cannot change at runtime: kept until a restart", 0,
	    line, sizeof(line)));
	assert_true(h_json_str(line, "setting", setting, sizeof(setting)));
	assert_string_equal(setting, "listen_addr");
	assert_int_equal(metric(pl, "max"), 7);
	PGconn *c = h_connect(pl, NULL);
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	PQfinish(c);
	h_pass();
}

/* A new auth file serves new logins: its new user logs in, the user it no
 * longer lists cannot, and a session that logged in before goes on. New
 * hba rules likewise. */
static void test_new_auth_file(void **state)
{
	char ini[PATH_MAX], users[PATH_MAX], hba[PATH_MAX];
	const char *args[] = {"-c", h_tmp_path("auth.ini", ini, sizeof(ini)),
			      NULL};
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256", NULL};

	h_tmp_path("users.txt", users, sizeof(users));
	h_tmp_path("hba.conf", hba, sizeof(hba));
	h_write_file(users, "\"alice\" \"%s\"\n", ALICE_PW);
	h_write_file(ini, "[pitlane]\nauth_file = %s\n", users);
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	PGconn *alice = connect_ok(pl, "alice", ALICE_PW, NULL);
	login_refused(pl, "bob", BOB_PW);

	h_write_file(users, "\"bob\" \"%s\"\n", BOB_PW);
	sighup(pl, true, 1);
	PGconn *bob = connect_ok(pl, "bob", BOB_PW, NULL);
	login_refused(pl, "alice", ALICE_PW);
	assert_int_equal(h_query_int(alice, "SELECT 2"), 2);
	assert_int_equal(h_query_int(bob, "SELECT 3"), 3);
	PQfinish(alice);
	PQfinish(bob);

	/* An auth file with an error is rejected: bob still logs in. */
	h_write_file(users, "\"carol\n");
	sighup(pl, false, 1);
	bob = connect_ok(pl, "bob", BOB_PW, NULL);

	/* hba rules: a new file rejects bob's new logins, not his session. */
	h_write_file(users, "\"bob\" \"%s\"\n", BOB_PW);
	h_write_file(hba, "host all bob 127.0.0.1/32 reject\n"
			  "host all all 127.0.0.1/32 scram-sha-256\n");
	h_write_file(ini, "[pitlane]\nauth_file = %s\nhba_file = %s\n", users,
		     hba);
	sighup(pl, true, 2);
	PGconn *c = connect_as(pl, "bob", BOB_PW, NULL);
	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	assert_non_null(strstr(PQerrorMessage(c), "pg_hba.conf rejects"));
	PQfinish(c);
	assert_int_equal(h_query_int(bob, "SELECT 4"), 4);
	PQfinish(bob);
	h_pass();
}

/* A self-signed certificate for localhost named NAME.crt / NAME.key. */
static const char cert_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
    "-nodes -days 2 -subj \"/CN=$2\" -keyout \"$2.key.tmp\" "
    "-out \"$2.crt.tmp\" 2>/dev/null\n"
    "chmod 600 \"$2.key.tmp\"\n"
    "mv \"$2.key.tmp\" \"$3.key\"\n"
    "mv \"$2.crt.tmp\" \"$3.crt\"\n";

static void make_cert(const char *cn, const char *name)
{
	char log[PATH_MAX];
	const char *args[] = {h_tmpdir(), cn, name, NULL};

	h_tmp_path("openssl.log", log, sizeof(log));
	assert_int_equal(h_run_sh(cert_script, args, log), 0);
}

/* The CN of the certificate a TLS connection was served with. */
static void peer_cn(PGconn *c, char *out, size_t cap)
{
	SSL *ssl = PQsslStruct(c, "OpenSSL");
	X509 *cert;

	assert_non_null(ssl);
	cert = SSL_get1_peer_certificate(ssl);
	assert_non_null(cert);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
					      NID_commonName, out,
					      (int)cap) > 0);
	X509_free(cert);
}

/* A renewed certificate: new handshakes get it (channel binding too), a
 * session from before goes on with the old one; a broken certificate is
 * rejected and the renewed one stays. */
static void test_renewed_certificate(void **state)
{
	char ini[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], cn[64];
	const char *args[] = {"-c", h_tmp_path("tls.ini", ini, sizeof(ini)),
			      NULL};
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" ALICE_PW, NULL};
	const char *tls = "sslmode=require channel_binding=require";

	make_cert("pitlane-first", "server");
	h_tmp_path("server.crt", crt, sizeof(crt));
	h_tmp_path("server.key", key, sizeof(key));
	h_write_file(ini, "[pitlane]\ntls_cert_file = %s\ntls_key_file = %s\n",
		     crt, key);
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	PGconn *old = connect_ok(pl, H_USER, ALICE_PW, tls);
	peer_cn(old, cn, sizeof(cn));
	assert_string_equal(cn, "pitlane-first");

	make_cert("pitlane-renewed", "server");
	sighup(pl, true, 1);
	PGconn *c = connect_ok(pl, H_USER, ALICE_PW, tls);
	peer_cn(c, cn, sizeof(cn));
	assert_string_equal(cn, "pitlane-renewed");
	PQfinish(c);
	assert_int_equal(h_query_int(old, "SELECT 5"), 5);
	peer_cn(old, cn, sizeof(cn));
	assert_string_equal(cn, "pitlane-first");

	/* A key that does not match the certificate: rejected. */
	make_cert("pitlane-other", "other");
	h_write_file(
	    ini, "[pitlane]\ntls_cert_file = %s\ntls_key_file = %s/other.key\n",
	    crt, h_tmpdir());
	sighup(pl, false, 1);
	assert_true(log_contains(pl, "tls_key_file"));
	c = connect_ok(pl, H_USER, ALICE_PW, tls);
	peer_cn(c, cn, sizeof(cn));
	assert_string_equal(cn, "pitlane-renewed");
	PQfinish(c);
	assert_int_equal(h_query_int(old, "SELECT 6"), 6);
	PQfinish(old);
	h_pass();
}

/* Pool backends logged in as role. */
static int backends_of(const char *role)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
		 "AND usename = '%s' AND backend_type = 'client backend' AND "
		 "application_name IS DISTINCT FROM '" H_DIRECT_APP "'",
		 H_DBNAME, role);
	return (int)h_query_int(h_admin(), sql);
}

static bool no_backends_of(void *role)
{
	return backends_of(role) == 0;
}

/* A new backend target (here the user pitlane logs in to PostgreSQL as)
 * replaces every server: idle ones at once, the one in a transaction when
 * the transaction ends, which it does without an error. */
static void test_target_change_reconnects(void **state)
{
	char ini[PATH_MAX], users[PATH_MAX], who[64];
	const char *args[] = {"-c", h_tmp_path("target.ini", ini, sizeof(ini)),
			      NULL};
	/* The pool's user comes from the file; clients log in by trust as a
	 * user the auth file knows. */
	const char *env[] = {"DB_USER", NULL};
	long long pid1, pid2;

	h_exec_ok(h_admin(), "DROP ROLE IF EXISTS reload_other");
	h_exec_ok(h_admin(), "CREATE ROLE reload_other LOGIN SUPERUSER");
	h_tmp_path("target-users.txt", users, sizeof(users));
	h_write_file(users, "\"%s\" \"unused\"\n", H_USER);
	h_write_file(ini,
		     "[pitlane]\nauth_file = %s\n[pool]\nuser = %s\n"
		     "pool_min = 2\n",
		     users, H_USER);
	struct h_pitlane *pl = *state = h_pitlane_start(env, args);
	PGconn *c = h_connect(pl, NULL);
	PGconn *tx = h_connect(pl, NULL);
	pid1 = h_query_int(c, "SELECT pg_backend_pid()");
	h_exec_ok(tx, "BEGIN");
	h_exec_ok(tx, "INSERT INTO t VALUES (1201, 'before reload')");

	h_write_file(ini,
		     "[pitlane]\nauth_file = %s\n[pool]\nuser = reload_other\n"
		     "pool_min = 2\n",
		     users);
	sighup(pl, true, 1);
	assert_true(h_log_count(pl, "backend target changed: reconnecting") ==
		    1);
	PGresult *r = PQexec(c, "SELECT current_user, pg_backend_pid()");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(who, sizeof(who), "%s", PQgetvalue(r, 0, 0));
	pid2 = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	assert_string_equal(who, "reload_other");
	assert_true(pid2 != pid1);

	/* The transaction goes on with its server, then it is replaced. */
	h_exec_ok(tx, "INSERT INTO t VALUES (1202, 'after reload')");
	h_exec_ok(tx, "COMMIT");
	assert_int_equal(h_query_int(tx, "SELECT count(*) FROM t WHERE id "
					 "IN (1201, 1202)"),
			 2);
	if (!h_poll(no_backends_of, H_USER, WAIT_MS))
		fail_msg("%d servers of the old target remain",
			 backends_of(H_USER));
	assert_true(backends_of("reload_other") >= 1);
	h_exec_ok(tx, "DELETE FROM t WHERE id IN (1201, 1202)");
	PQfinish(c);
	PQfinish(tx);
	h_pass();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lower_pool_max_under_load,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values_rejected,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_fixed_setting_kept,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_new_auth_file, h_test_setup,
					    h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_renewed_certificate,
					    h_test_setup, h_test_teardown),
	    cmocka_unit_test_setup_teardown(test_target_change_reconnects,
					    h_test_setup, h_test_teardown),
	};

	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
