/* Client authentication and TLS through the real daemon: SCRAM-SHA-256 and
 * MD5 against DB_PASSWORD, wrong password and unknown user alike, an
 * auth_file entry made by `pitlane --hash-password`, hba rejection, TLS by
 * SSLRequest and by PostgreSQL 17's direct negotiation (ALPN), tls_mode
 * require and verify-full, channel binding, client certificates, and the
 * max_packet_size and client_login_timeout limits, and bulk data (large
 * messages, pipelined queries) through TLS. The certificates (a CA,
 * a server certificate for localhost and 127.0.0.1, client certificates
 * for CN pitlane and CN other) are made with the openssl command at run
 * time. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PROTO_30 196608u
#define PASSWORD "Corr3ct-horse"     /* DB_PASSWORD of the pool user */
#define WRONG_PW "wr0ng-Password-42" /* must never reach the log */
#define ALICE_PW "alice-s3cret"	     /* auth_file user's password */

static char certs[PATH_MAX]; /* directory of the generated certificates */

/* ---- helpers ---------------------------------------------------------- */

/* The daemon under test, as the harness finds it. */
static void pitlane_bin(char *out, size_t cap)
{
	const char *bin = getenv("PITLANE_BIN");
	char exe[PATH_MAX];
	ssize_t n;

	if (bin && *bin) {
		snprintf(out, cap, "%s", bin);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	assert_true(snprintf(out, cap, "%s/../../src/pitlane", exe) < (int)cap);
}

static void dump_text(const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (getline(&text, &cap, f) >= 0)
		fprintf(stderr, "  | %s", text);
	free(text);
	fclose(f);
}

static const char *cert_path(const char *name, char *buf, size_t cap)
{
	assert_true(snprintf(buf, cap, "%s/%s", certs, name) < (int)cap);
	return buf;
}

/* A CA, the server certificate (CN localhost, SAN localhost and
 * 127.0.0.1), client certificates for CN pitlane and CN other. */
static const char cert_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "cat > openssl.cnf <<'EOF'\n"
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = pitlane-test-ca\n"
    "[v3_ca]\n"
    "basicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[server]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
    "[client]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = clientAuth\n"
    "EOF\n"
    "key() { openssl genpkey -algorithm EC "
    "-pkeyopt ec_paramgen_curve:prime256v1 -out \"$1\"; chmod 600 \"$1\"; }\n"
    "key ca.key\n"
    "openssl req -config openssl.cnf -x509 -new -key ca.key -days 2 "
    "-extensions v3_ca -out ca.crt\n"
    "mk() {\n"
    "  key \"$1.key\"\n"
    "  openssl req -config openssl.cnf -new -key \"$1.key\" "
    "-subj \"/CN=$2\" -out \"$1.csr\"\n"
    "  openssl x509 -req -in \"$1.csr\" -CA ca.crt -CAkey ca.key "
    "-CAcreateserial -days 2 -extfile openssl.cnf -extensions \"$3\" "
    "-out \"$1.crt\"\n"
    "}\n"
    "mk server localhost server\n"
    "mk client-pitlane pitlane client\n"
    "mk client-other other client\n"
    "openssl verify -CAfile ca.crt server.crt client-pitlane.crt "
    "client-other.crt\n";

static int group_setup(void **state)
{
	int rc = h_group_setup(state);
	char log[PATH_MAX + 16];
	if (rc != 0)
		return rc;
	snprintf(certs, sizeof(certs), "%s/certs", h_tmpdir());
	if (mkdir(certs, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", certs, strerror(errno));
		return -1;
	}
	snprintf(log, sizeof(log), "%s/openssl.log", certs);
	const char *args[] = {certs, NULL};
	if (h_run_sh(cert_script, args, log) != 0) {
		fprintf(stderr, "generating certificates failed:\n");
		dump_text(log);
		return -1;
	}
	return 0;
}

/* "KEY=VALUE" strings kept for the life of the test binary. */
static const char *envf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *envf(const char *fmt, ...)
{
	static char pool[64][PATH_MAX + 64];
	static int next;
	char *s = pool[next++ % 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, PATH_MAX + 64, fmt, ap);
	va_end(ap);
	return s;
}

static const char *tls_cert_env(void)
{
	return envf("PITLANE_TLS_CERT_FILE=%s/server.crt", certs);
}

static const char *tls_key_env(void)
{
	return envf("PITLANE_TLS_KEY_FILE=%s/server.key", certs);
}

static const char *tls_ca_env(void)
{
	return envf("PITLANE_TLS_CA_FILE=%s/ca.crt", certs);
}

/* Connects through pitlane with libpq reporting SQLSTATEs (verbose
 * errors: "FATAL:  28P01: ..."); the whole error text goes to err. The
 * caller checks PQstatus and calls PQfinish. */
static PGconn *login(struct h_pitlane *pl, const char *extra, char *err,
		     size_t cap)
{
	char ci[4096];
	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable "
		 "gssencmode=disable connect_timeout=10 %s",
		 pl->port, H_DBNAME, H_USER, extra ? extra : "");
	PGconn *c = PQconnectStart(ci);
	assert_non_null(c);
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	h_connect_finish(c, 15000);
	snprintf(err, cap, "%s", PQerrorMessage(c));
	return c;
}

/* Logs in, asserts success and a working query. */
static PGconn *login_ok(struct h_pitlane *pl, const char *extra)
{
	char err[2048];
	PGconn *c = login(pl, extra, err, sizeof(err));
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		h_pitlane_dump_log(pl, 30);
		fail_msg("login with `%s` failed: %s", extra ? extra : "", err);
	}
	assert_int_equal(h_query_int(c, "SELECT 41 + 1"), 42);
	return c;
}

/* Asserts that the login fails with the server's SQLSTATE (or, with
 * sqlstate NULL, on the client side), its error containing `want` when
 * not NULL. The error text goes to err. */
static void login_fails(struct h_pitlane *pl, const char *extra,
			const char *sqlstate, const char *want, char *err,
			size_t cap)
{
	char tag[32];
	PGconn *c = login(pl, extra, err, cap);
	ConnStatusType st = PQstatus(c);
	PQfinish(c);
	fprintf(stderr, "`%s`: %s", extra ? extra : "", err);
	if (st == CONNECTION_OK)
		fail_msg("login with `%s` succeeded, want failure",
			 extra ? extra : "");
	if (sqlstate) {
		snprintf(tag, sizeof(tag), "FATAL:  %s: ", sqlstate);
		if (!strstr(err, tag))
			fail_msg("`%s`: want %s, got: %s", extra ? extra : "",
				 tag, err);
	}
	if (want && !strstr(err, want))
		fail_msg("`%s`: want \"%s\" in: %s", extra ? extra : "", want,
			 err);
}

/* The server's message after "FATAL:  SQLSTATE: " up to the line end. */
static void fatal_text(const char *err, char *out, size_t cap)
{
	const char *p = strstr(err, "FATAL:  ");
	assert_non_null(p);
	p += 8;
	const char *colon = strstr(p, ": ");
	assert_non_null(colon);
	p = colon + 2;
	snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

static bool log_contains(struct h_pitlane *pl, const char *needle)
{
	char *text = h_log_read(pl);
	bool found = text && strstr(text, needle);
	free(text);
	return found;
}

/* Reads one message from a raw socket; asserts it is an ErrorResponse
 * with severity FATAL and the given SQLSTATE, then that the connection
 * closes. */
static void expect_fatal(int fd, const char *sqlstate, int timeout_ms)
{
	unsigned char b[1024];
	char type = 0, code[6] = "", sev[16] = "", msg[256] = "";
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), timeout_ms);
	if (n < 0)
		fail_msg("want ErrorResponse %s, got nothing (EOF or timeout)",
			 sqlstate);
	h_raw_err_field(b, n, 'C', code, sizeof(code));
	h_raw_err_field(b, n, 'S', sev, sizeof(sev));
	h_raw_err_field(b, n, 'M', msg, sizeof(msg));
	fprintf(stderr, "got '%c' %s %s %s\n", type, sev, code, msg);
	if (type != 'E')
		fail_msg("want ErrorResponse %s, got '%c'", sqlstate, type);
	assert_string_equal(sev, "FATAL");
	assert_string_equal(code, sqlstate);
	assert_true(h_raw_wait_closed(fd, 5000));
}

static const char *const login_kv[] = {"user", H_USER, "database", H_DBNAME,
				       NULL};

/* Reads login messages up to ReadyForQuery; fails on anything else. */
static void raw_login_ok(int fd)
{
	unsigned char b[1024];
	char type;
	int n;
	while ((n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000)) >= 0) {
		if (type == 'Z')
			return;
		if (type == 'E')
			fail_msg("raw login refused");
	}
	fail_msg("raw login: no ReadyForQuery");
}

/* ---- passwords -------------------------------------------------------- */

static void test_scram_login(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char err[2048];
	PGconn *c = login_ok(pl, "password=" PASSWORD);
	PQfinish(c);
	/* Without a password libpq cannot answer the SASL request. */
	login_fails(pl, NULL, NULL, NULL, err, sizeof(err));
	assert_true(h_pitlane_alive(pl));
	h_pass();
}

static void test_wrong_password_unknown_user(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char e1[2048], e2[2048], m1[512], m2[512];

	login_fails(pl, "password=" WRONG_PW, "28P01",
		    "password authentication failed for user \"" H_USER "\"",
		    e1, sizeof(e1));
	login_fails(pl, "user=nobody password=" WRONG_PW, "28P01",
		    "password authentication failed for user \"nobody\"", e2,
		    sizeof(e2));
	/* The same text but for the name: nothing tells them apart. */
	fatal_text(e1, m1, sizeof(m1));
	fatal_text(e2, m2, sizeof(m2));
	char *u = strstr(m2, "\"nobody\"");
	assert_non_null(u);
	char norm[600];
	snprintf(norm, sizeof(norm), "%.*s\"%s\"%s", (int)(u - m2), m2, H_USER,
		 u + strlen("\"nobody\""));
	assert_string_equal(m1, norm);

	/* Both logged with client and user, never with the password. */
	assert_true(h_log_wait(pl, "authentication failed", 2, 5000));
	char line[4096], v[256];
	const char *users[] = {H_USER, "nobody"};
	for (int i = 0; i < 2; i++) {
		assert_true(h_log_record(pl, "authentication failed", i, line,
					 sizeof(line)));
		assert_true(h_json_str(line, "user", v, sizeof(v)));
		assert_string_equal(v, users[i]);
		assert_true(h_json_str(line, "client", v, sizeof(v)));
		assert_non_null(strstr(v, "127.0.0.1"));
	}
	assert_false(log_contains(pl, WRONG_PW));
	assert_false(log_contains(pl, PASSWORD));
	/* The right password still works. */
	PQfinish(login_ok(pl, "password=" PASSWORD));
	h_pass();
}

static void test_md5(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=md5", "DB_PASSWORD=" PASSWORD,
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char err[2048];
	PQfinish(login_ok(pl, "password=" PASSWORD));
	login_fails(pl, "password=" WRONG_PW, "28P01",
		    "password authentication failed for user \"" H_USER "\"",
		    err, sizeof(err));
	login_fails(pl, "user=nobody password=" WRONG_PW, "28P01",
		    "password authentication failed for user \"nobody\"", err,
		    sizeof(err));
	assert_true(h_log_wait(pl, "authentication failed", 2, 5000));
	assert_false(log_contains(pl, WRONG_PW));
	h_pass();
}

/* Runs `pitlane --hash-password user` with password on stdin and reads the
 * auth_file line it prints into line. */
static void hash_password(const char *user, const char *password, char *line,
			  size_t cap)
{
	char bin[PATH_MAX], pwfile[PATH_MAX], out[PATH_MAX], log[PATH_MAX];
	snprintf(pwfile, sizeof(pwfile), "%s/%s.pw", h_tmpdir(), user);
	snprintf(out, sizeof(out), "%s/%s.line", h_tmpdir(), user);
	snprintf(log, sizeof(log), "%s/hash-password.log", h_tmpdir());
	pitlane_bin(bin, sizeof(bin));
	FILE *f = fopen(pwfile, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", password);
	fclose(f);
	const char *args[] = {bin, user, pwfile, out, NULL};
	int st = h_run_sh("\"$1\" --hash-password \"$2\" < \"$3\" > \"$4\"",
			  args, log);
	if (st != 0) {
		dump_text(log);
		fail_msg("pitlane --hash-password exited %d", st);
	}
	f = fopen(out, "r");
	assert_non_null(f);
	line[0] = '\0';
	assert_non_null(fgets(line, (int)cap, f));
	fclose(f);
	fprintf(stderr, "auth_file line: %s", line);
	assert_null(strstr(line, password));
}

/* `pitlane --hash-password alice` with the password on stdin makes the
 * auth_file line; alice logs in and is served by the pool's user. */
static void test_auth_file_hash_password(void **state)
{
	char authfile[PATH_MAX], line[512];
	snprintf(authfile, sizeof(authfile), "%s/userlist.txt", h_tmpdir());
	hash_password("alice", ALICE_PW, line, sizeof(line));
	assert_true(strncmp(line, "\"alice\" \"SCRAM-SHA-256$4096:", 28) == 0);
	FILE *f = fopen(authfile, "w");
	assert_non_null(f);
	fputs(line, f);
	fclose(f);

	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     envf("PITLANE_AUTH_FILE=%s", authfile), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char err[2048];
	PGconn *c = login_ok(pl, "user=alice password=" ALICE_PW);
	PGresult *r = PQexec(c, "SELECT current_user");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), H_USER);
	PQclear(r);
	PQfinish(c);
	login_fails(pl, "user=alice password=" WRONG_PW, "28P01",
		    "password authentication failed for user \"alice\"", err,
		    sizeof(err));
	/* No DB_PASSWORD: the pool user has no secret and cannot log in. */
	login_fails(pl, "password=" PASSWORD, "28P01", NULL, err, sizeof(err));
	h_pass();
}

/* The SCRAM verifier PostgreSQL stores for a role created with the
 * password literal sql_pw, into out. */
static void pg_verifier(const char *sql_pw, char *out, size_t cap)
{
	char sql[256];
	h_exec_ok(h_admin(), "DROP ROLE IF EXISTS saslprep_pg");
	snprintf(sql, sizeof(sql),
		 "SET password_encryption = 'scram-sha-256'; "
		 "CREATE ROLE saslprep_pg LOGIN PASSWORD %s",
		 sql_pw);
	h_exec_ok(h_admin(), sql);
	PGresult *r = PQexec(h_admin(), "SELECT rolpassword FROM pg_authid "
					"WHERE rolname = 'saslprep_pg'");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_true(strncmp(out, "SCRAM-SHA-256$", 14) == 0);
	h_exec_ok(h_admin(), "DROP ROLE saslprep_pg");
}

/* Logs in as user with each of the ok passwords (NULL-terminated) and
 * fails with wrong. */
static void logins(struct h_pitlane *pl, const char *user,
		   const char *const *ok, const char *wrong)
{
	char ci[256], err[2048];
	for (; *ok; ok++) {
		snprintf(ci, sizeof(ci), "user=%s password=%s", user, *ok);
		PQfinish(login_ok(pl, ci));
	}
	snprintf(ci, sizeof(ci), "user=%s password=%s", user, wrong);
	login_fails(pl, ci, "28P01", NULL, err, sizeof(err));
}

#define ROMAN "IX-\u2168" /* U+2168 ROMAN NUMERAL NINE: IX-IX after NFKC */
#define GRAVE "a\u0340b"  /* U+0340 is prohibited: hashed as it is */

/* issue 11: passwords are SASLprepped before SCRAM keys are derived, as
 * PostgreSQL and libpq do. A plaintext auth_file password, DB_PASSWORD and
 * a `--hash-password` line accept and refuse the same passwords as the
 * verifier PostgreSQL itself stored for the same password. U+0340 shows
 * PostgreSQL's order: it is prohibited before NFKC would make it U+0300. */
static void test_saslprep(void **state)
{
	char authfile[PATH_MAX], roman_pg[512], grave_pg[512], line[512];
	snprintf(authfile, sizeof(authfile), "%s/userlist.txt", h_tmpdir());
	pg_verifier("U&'IX-\\2168'", roman_pg, sizeof(roman_pg));
	pg_verifier("U&'a\\0340b'", grave_pg, sizeof(grave_pg));
	hash_password("hashed", ROMAN, line, sizeof(line));
	FILE *f = fopen(authfile, "w");
	assert_non_null(f);
	fprintf(f,
		"%s\"roman\" \"" ROMAN "\"\n\"roman_pg\" \"%s\"\n"
		"\"grave\" \"" GRAVE "\"\n\"grave_pg\" \"%s\"\n",
		line, roman_pg, grave_pg);
	fclose(f);

	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" ROMAN,
			     envf("PITLANE_AUTH_FILE=%s", authfile), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	const char *roman_ok[] = {ROMAN, "IX-IX", NULL};
	const char *roman_users[] = {"roman", "roman_pg", "hashed", H_USER};
	for (int u = 0; u < 4; u++)
		logins(pl, roman_users[u], roman_ok, "IX-I");
	const char *grave_ok[] = {GRAVE, NULL};
	logins(pl, "grave", grave_ok, "a\u0300b");
	logins(pl, "grave_pg", grave_ok, "a\u0300b");
	h_pass();
}

static void test_hba_reject(void **state)
{
	char hba[PATH_MAX];
	snprintf(hba, sizeof(hba), "%s/pg_hba.conf", h_tmpdir());
	FILE *f = fopen(hba, "w");
	assert_non_null(f);
	fputs("# pitlane test\n"
	      "host all mallory 127.0.0.1/32 reject\n"
	      "host " H_DBNAME " " H_USER " 127.0.0.1/32 scram-sha-256\n",
	      f);
	fclose(f);
	const char *env[] = {"DB_PASSWORD=" PASSWORD,
			     envf("PITLANE_HBA_FILE=%s", hba), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char err[2048];
	PQfinish(login_ok(pl, "password=" PASSWORD));
	login_fails(pl, "user=mallory password=" PASSWORD, "28000",
		    "pg_hba.conf rejects connection", err, sizeof(err));
	login_fails(pl, "user=eve password=" PASSWORD, "28000",
		    "no pg_hba.conf entry", err, sizeof(err));
	assert_true(h_log_wait(pl, "authentication failed", 2, 5000));
	char line[4096], v[64];
	assert_true(
	    h_log_record(pl, "authentication failed", 0, line, sizeof(line)));
	assert_true(h_json_str(line, "user", v, sizeof(v)));
	assert_string_equal(v, "mallory");
	h_pass();
}

/* ---- TLS -------------------------------------------------------------- */

static const char *ssl_opts(const char *mode, const char *client)
{
	char ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], name[64];
	cert_path("ca.crt", ca, sizeof(ca));
	if (!client)
		return envf("sslmode=%s sslrootcert=%s sslcert=/nonexistent "
			    "sslkey=/nonexistent",
			    mode, ca);
	snprintf(name, sizeof(name), "%s.crt", client);
	cert_path(name, crt, sizeof(crt));
	snprintf(name, sizeof(name), "%s.key", client);
	cert_path(name, key, sizeof(key));
	return envf("sslmode=%s sslrootcert=%s sslcert=%s sslkey=%s", mode, ca,
		    crt, key);
}

static void test_tls_prefer_and_channel_binding(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD, tls_cert_env(),
			     tls_key_env(), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char extra[PATH_MAX * 4], err[2048];

	snprintf(extra, sizeof(extra), "%s password=" PASSWORD,
		 ssl_opts("require", NULL));
	PGconn *c = login_ok(pl, extra);
	assert_int_equal(PQsslInUse(c), 1);
	assert_non_null(PQsslAttribute(c, "protocol"));
	fprintf(stderr, "TLS: %s %s\n", PQsslAttribute(c, "protocol"),
		PQsslAttribute(c, "cipher"));
	PQfinish(c);

	/* SCRAM-SHA-256-PLUS: the client insists on channel binding. */
	snprintf(extra, sizeof(extra),
		 "%s password=" PASSWORD " channel_binding=require",
		 ssl_opts("require", NULL));
	c = login_ok(pl, extra);
	assert_int_equal(PQsslInUse(c), 1);
	PQfinish(c);
	snprintf(extra, sizeof(extra),
		 "%s password=" WRONG_PW " channel_binding=require",
		 ssl_opts("require", NULL));
	login_fails(pl, extra, "28P01", NULL, err, sizeof(err));

	/* Plaintext is still allowed with tls_mode prefer. */
	c = login_ok(pl, "password=" PASSWORD);
	assert_int_equal(PQsslInUse(c), 0);
	PQfinish(c);
	/* Without TLS there is nothing to bind to: libpq refuses. */
	login_fails(pl, "password=" PASSWORD " channel_binding=require", NULL,
		    "channel binding", err, sizeof(err));
	h_pass();
}

static void test_tls_required(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD,
			     "PITLANE_TLS_MODE=require",
			     tls_cert_env(),
			     tls_key_env(),
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char extra[PATH_MAX * 4], err[2048];

	login_fails(pl, "sslmode=disable password=" PASSWORD, "28000", "TLS",
		    err, sizeof(err));
	snprintf(extra, sizeof(extra), "%s password=" PASSWORD,
		 ssl_opts("require", NULL));
	PGconn *c = login_ok(pl, extra);
	assert_int_equal(PQsslInUse(c), 1);
	PQfinish(c);
	/* A raw plaintext startup gets the same refusal. */
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	expect_fatal(fd, "28000", 5000);
	close(fd);
	h_pass();
}

static void test_tls_verify_full_host_name(void **state)
{
	const char *env[] = {"DB_PASSWORD=" PASSWORD, tls_cert_env(),
			     tls_key_env(), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char extra[PATH_MAX * 4], err[2048];

	snprintf(extra, sizeof(extra),
		 "%s host=localhost hostaddr=127.0.0.1 password=" PASSWORD,
		 ssl_opts("verify-full", NULL));
	PGconn *c = login_ok(pl, extra);
	assert_int_equal(PQsslInUse(c), 1);
	PQfinish(c);
	snprintf(extra, sizeof(extra),
		 "%s host=wrong.example hostaddr=127.0.0.1 password=" PASSWORD,
		 ssl_opts("verify-full", NULL));
	login_fails(pl, extra, NULL, "does not match host name", err,
		    sizeof(err));
	h_pass();
}

static void test_client_certificate(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=cert",
			     "PITLANE_TLS_MODE=verify-full",
			     tls_cert_env(),
			     tls_key_env(),
			     tls_ca_env(),
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char extra[PATH_MAX * 4], err[2048];
	const char *host = " host=localhost hostaddr=127.0.0.1";

	snprintf(extra, sizeof(extra), "%s%s",
		 ssl_opts("verify-full", "client-pitlane"), host);
	PGconn *c = login_ok(pl, extra);
	assert_int_equal(PQsslInUse(c), 1);
	PQfinish(c);
	/* A valid certificate for another name. */
	snprintf(extra, sizeof(extra), "%s%s",
		 ssl_opts("verify-full", "client-other"), host);
	login_fails(pl, extra, "28000", NULL, err, sizeof(err));
	/* No certificate at all. */
	snprintf(extra, sizeof(extra), "%s%s", ssl_opts("verify-full", NULL),
		 host);
	login_fails(pl, extra, "28000", NULL, err, sizeof(err));
	/* No TLS at all. */
	login_fails(pl, "sslmode=disable", "28000", NULL, err, sizeof(err));
	assert_true(h_pitlane_alive(pl));
	h_pass();
}

/* PostgreSQL 17's sslnegotiation=direct: a TLS ClientHello first, no
 * SSLRequest. libpq 15 cannot do it, so OpenSSL does it here. Returns the
 * type of the first message after the StartupMessage and, for an
 * ErrorResponse, its SQLSTATE; on 'R' reads on to ReadyForQuery. */
static int ssl_read_full(SSL *ssl, unsigned char *buf, int len)
{
	int got = 0;
	while (got < len) {
		int n = SSL_read(ssl, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return got;
}

static char direct_tls(int port, bool alpn, char sqlstate[6], bool *ready)
{
	char ca[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(
			     ctx, cert_path("ca.crt", ca, sizeof(ca)), NULL),
			 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (alpn)
		assert_int_equal(
		    SSL_CTX_set_alpn_protos(
			ctx, (const unsigned char *)"\x0apostgresql", 11),
		    0);
	int fd = h_raw_connect(port);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set1_host(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		char e[256];
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		fail_msg("direct TLS handshake failed: %s", e);
	}
	const unsigned char *sel = NULL;
	unsigned nsel = 0;
	SSL_get0_alpn_selected(ssl, &sel, &nsel);
	if (alpn)
		assert_true(nsel == 10 && memcmp(sel, "postgresql", 10) == 0);
	else
		assert_int_equal(nsel, 0);

	unsigned char pkt[128];
	size_t n = 8;
	for (const char *const *kv = login_kv; *kv; kv++) {
		memcpy(pkt + n, *kv, strlen(*kv) + 1);
		n += strlen(*kv) + 1;
	}
	pkt[n++] = '\0';
	uint32_t be[2] = {htonl((uint32_t)n), htonl(PROTO_30)};
	memcpy(pkt, be, 8);
	SSL_write(ssl, pkt, (int)n); /* refused at once: may fail, fine */

	char first = 0;
	unsigned char hdr[5], body[2048];
	sqlstate[0] = '\0';
	*ready = false;
	while (ssl_read_full(ssl, hdr, 5) == 5) {
		uint32_t len = h_be32(hdr + 1);
		if (len < 4 || len - 4 > sizeof(body) ||
		    ssl_read_full(ssl, body, (int)len - 4) != (int)len - 4)
			break;
		if (!first)
			first = (char)hdr[0];
		if (hdr[0] == 'E') {
			h_raw_err_field(body, (int)len - 4, 'C', sqlstate, 6);
			break;
		}
		if (hdr[0] == 'Z') {
			*ready = true;
			break;
		}
	}
	if (first == 'E') /* then the connection ends */
		assert_true(SSL_read(ssl, body, sizeof(body)) <= 0);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return first;
}

static void test_direct_tls(void **state)
{
	/* Trust (the harness default) keeps the exchange short. */
	const char *env[] = {tls_cert_env(), tls_key_env(), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	char code[6];
	bool ready;
	char t = direct_tls(pl->port, true, code, &ready);
	fprintf(stderr, "direct TLS with ALPN: '%c' %s\n", t ? t : '-', code);
	assert_int_equal(t, 'R');
	assert_true(ready);
	t = direct_tls(pl->port, false, code, &ready);
	fprintf(stderr, "direct TLS without ALPN: '%c' %s\n", t ? t : '-',
		code);
	assert_int_equal(t, 'E');
	assert_string_equal(code, "08P01");
	PQfinish(login_ok(pl, ssl_opts("require", NULL)));
	h_pass();
}

/* Bulk through TLS: a 3 MB parameter (records arrive faster than the relay
 * takes them, so reading pauses at its limit with plaintext left inside
 * OpenSSL, which must be read without a new socket event), a 4 MB result,
 * and 300 pipelined queries whose many small messages share records. */
static void test_tls_bulk(void **state)
{
	const char *env[] = {tls_cert_env(), tls_key_env(), NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	PGconn *c = login_ok(pl, ssl_opts("require", NULL));
	size_t n = 3u << 20;
	char *big = malloc(n + 1);

	assert_int_equal(PQsslInUse(c), 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "ab"[i % 2];
	big[n] = '\0';
	const char *params[] = {big};
	PGresult *r = PQexecParams(
	    c, "SELECT length($1::text), $1::text = repeat('ab', 1572864)", 1,
	    NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "3145728");
	assert_string_equal(PQgetvalue(r, 0, 1), "t");
	PQclear(r);
	free(big);

	r = PQexec(c, "SELECT repeat('xy', 2097152)");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQgetlength(r, 0, 0), 4194304);
	const char *v = PQgetvalue(r, 0, 0);
	assert_true(v[0] == 'x' && v[4194302] == 'x' && v[4194303] == 'y');
	PQclear(r);

	assert_int_equal(PQenterPipelineMode(c), 1);
	for (int i = 0; i < 300; i++) {
		char num[16];
		const char *p[] = {num};
		snprintf(num, sizeof(num), "%d", i);
		assert_int_equal(PQsendQueryParams(c, "SELECT $1::int + 1", 1,
						   NULL, p, NULL, NULL, 0),
				 1);
	}
	assert_int_equal(PQpipelineSync(c), 1);
	for (int i = 0; i < 300; i++) {
		r = PQgetResult(c);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_int_equal(atoi(PQgetvalue(r, 0, 0)), i + 1);
		PQclear(r);
		assert_null(PQgetResult(c));
	}
	r = PQgetResult(c);
	assert_int_equal(PQresultStatus(r), PGRES_PIPELINE_SYNC);
	PQclear(r);
	assert_int_equal(PQexitPipelineMode(c), 1);
	assert_int_equal(h_query_int(c, "SELECT 41 + 1"), 42);
	PQfinish(c);
	h_pass();
}

/* ---- limits ----------------------------------------------------------- */

static void test_max_packet_size(void **state)
{
	const char *env[] = {"PITLANE_MAX_PACKET_SIZE=1MB", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);

	/* Just under the limit passes. */
	size_t qlen = 900 * 1024;
	char *sql = malloc(qlen + 64);
	assert_non_null(sql);
	strcpy(sql, "SELECT length('");
	memset(sql + 15, 'x', qlen);
	strcpy(sql + 15 + qlen, "')");
	PGconn *c = login_ok(pl, NULL);
	assert_int_equal(h_query_int(c, sql), (long long)qlen);
	free(sql);

	/* 2 MB: refused from its header, without the body arriving. */
	size_t body = 2 * 1024 * 1024;
	unsigned char *msg = malloc(body + 5);
	assert_non_null(msg);
	msg[0] = 'Q';
	uint32_t be = htonl((uint32_t)body + 4);
	memcpy(msg + 1, &be, 4);
	memcpy(msg + 5, "SELECT length('", 15);
	memset(msg + 20, 'x', body - 18);
	memcpy(msg + body + 5 - 3, "')", 3);
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	raw_login_ok(fd);
	assert_true(h_raw_send(fd, msg, 5 + 64 * 1024));
	unsigned char b[1024];
	char type = 0, code[6] = "", sev[16] = "";
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 3000);
	if (n < 0) { /* not refused from the header: send it all */
		fprintf(stderr, "no answer to the header; sending the rest\n");
		h_raw_send(fd, msg + 5 + 64 * 1024, body - 64 * 1024);
		n = h_raw_read_msg(fd, &type, b, sizeof(b), 10000);
	}
	free(msg);
	if (n >= 0) {
		h_raw_err_field(b, n, 'C', code, sizeof(code));
		h_raw_err_field(b, n, 'S', sev, sizeof(sev));
	}
	fprintf(stderr, "2 MB query: '%c' %s %s\n", type ? type : '-', sev,
		code);
	assert_int_equal(type, 'E');
	assert_string_equal(sev, "FATAL");
	assert_string_equal(code, "08P01");
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
	/* pitlane serves on: the earlier session and a new one. */
	assert_int_equal(h_query_int(c, "SELECT 7"), 7);
	PQfinish(c);
	PQfinish(login_ok(pl, NULL));
	h_pass();
}

static void test_client_login_timeout(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD,
			     "PITLANE_CLIENT_LOGIN_TIMEOUT=0.5", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);

	/* Sends nothing. */
	int64_t t0 = h_now_ms();
	int fd = h_raw_connect(pl->port);
	expect_fatal(fd, "08P01", 5000);
	int64_t took = h_now_ms() - t0;
	fprintf(stderr, "silent client closed after %lld ms\n",
		(long long)took);
	assert_true(took >= 400 && took < 3000);
	close(fd);

	/* Half a startup packet. */
	t0 = h_now_ms();
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, "\0\0\0\x40\0\3\0\0user\0pit", 16));
	expect_fatal(fd, "08P01", 5000);
	assert_true(h_now_ms() - t0 >= 400);
	close(fd);

	/* Stalls in the SCRAM exchange. */
	t0 = h_now_ms();
	fd = h_raw_connect(pl->port);
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	unsigned char b[256];
	char type = 0;
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	assert_true(n >= 4);
	assert_int_equal(type, 'R');
	assert_int_equal(h_be32(b), 10); /* AuthenticationSASL */
	expect_fatal(fd, "08P01", 5000);
	assert_true(h_now_ms() - t0 >= 400);
	close(fd);

	/* A login that completes in time is not cut later. */
	PGconn *c = login_ok(pl, "password=" PASSWORD);
	int64_t until = h_now_ms() + 800;
	while (h_now_ms() < until)
		assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_scram_login),
	    TEST(test_wrong_password_unknown_user),
	    TEST(test_md5),
	    TEST(test_auth_file_hash_password),
	    TEST(test_saslprep),
	    TEST(test_hba_reject),
	    TEST(test_tls_prefer_and_channel_binding),
	    TEST(test_tls_required),
	    TEST(test_tls_verify_full_host_name),
	    TEST(test_client_certificate),
	    TEST(test_direct_tls),
	    TEST(test_tls_bulk),
	    TEST(test_max_packet_size),
	    TEST(test_client_login_timeout),
	};
	return cmocka_run_group_tests(tests, group_setup, h_group_teardown);
}
