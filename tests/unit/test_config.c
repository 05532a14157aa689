/* Unit tests for config: defaults, every setting's validation and exact
 * error text, the INI file, the environment, precedence, cross-setting
 * checks, redaction of the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SECRET	     "hunter2-S3CRET"

/* INI files are written to a directory made by the group setup. */
static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char paths[64][256];
static unsigned n_paths;

static int make_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	for (unsigned i = 0; i < n_paths; i++)
		unlink(paths[i]);
	return rmdir(tmpdir);
}

/* Writes text to a new file in tmpdir and returns its path. */
static const char *write_ini(const char *text)
{
	char *path;
	FILE *f;

	assert_true(n_paths < ARRAY_LEN(paths));
	path = paths[n_paths];
	snprintf(path, sizeof(paths[0]), "%s/%u.ini", tmpdir, n_paths);
	n_paths++;
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* config_print's output as a malloc'd string. */
static char *print_config(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_no_errors(const struct config_errors *e)
{
	for (unsigned i = 0; i < e->n; i++)
		print_error("unexpected error: %s\n", e->msg[i]);
	assert_int_equal(e->n, 0);
}

static void assert_one_error(const struct config_errors *e, const char *msg)
{
	if (e->n != 1 || strcmp(e->msg[0], msg) != 0) {
		print_error("expected: %s\n", msg);
		for (unsigned i = 0; i < e->n; i++)
			print_error("got:      %s\n", e->msg[i]);
		fail();
	}
}

static void test_defaults(void **state)
{
	struct config c;
	struct config_errors errs = {0};
	char *text;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.listen_addr, "127.0.0.1");
	assert_int_equal(c.listen_port, 6432);
	assert_null(c.unix_socket_dir);
	assert_int_equal(c.pool_mode, POOL_MODE_TRANSACTION);
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.shutdown_timeout_ms, 30000);
	assert_int_equal(c.max_client_conn, 1000);
	assert_int_equal(c.max_prepared_statements, 200);
	assert_int_equal(c.idle_transaction_timeout_ms, 0);
	assert_int_equal(c.query_timeout_ms, 0);
	assert_int_equal(c.client_idle_timeout_ms, 0);
	assert_int_equal(c.server_lifetime_ms, 3600000);
	assert_int_equal(c.server_check_delay_ms, 30000);
	assert_string_equal(c.server_reset_query, "DISCARD ALL");
	assert_string_equal(c.server_check_query, "SELECT 1");
	assert_int_equal(c.auth_type, AUTH_SCRAM);
	assert_null(c.auth_file);
	assert_null(c.hba_file);
	assert_false(c.auth_trust_anywhere);
	assert_int_equal(c.tls_mode, TLS_AUTO);
	assert_null(c.tls_cert_file);
	assert_null(c.tls_key_file);
	assert_null(c.tls_ca_file);
	assert_string_equal(c.tls_ciphers, "HIGH:!aNULL:!MD5:!3DES:!RC4");
	assert_int_equal(c.tls_min_version, TLS_VERSION_1_2);
	assert_int_equal(c.client_login_timeout_ms, 15000);
	assert_true(c.max_packet_size == 1073741824L);
	assert_null(c.admin_users);
	assert_null(c.stats_users);
	assert_string_equal(c.host, "localhost");
	assert_int_equal(c.port, 5432);
	assert_string_equal(c.dbname, "postgres");
	assert_string_equal(c.user, "postgres");
	assert_null(c.password);
	assert_int_equal(c.pool_max, 10);
	assert_int_equal(c.pool_min, 2);
	assert_int_equal(c.idle_timeout_ms, 30000);
	assert_int_equal(c.connect_timeout_ms, 2000);
	assert_string_equal(c.sslmode, "prefer");
	assert_null(c.sslrootcert);
	assert_null(c.sslcert);
	assert_null(c.sslkey);

	/* Before config_finish, the unset tls_mode prints as empty. */
	text = print_config(&c);
	assert_non_null(strstr(text, "\ntls_mode =\n"));
	free(text);

	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.pool_name, "postgres");
	assert_string_equal(c.port_str, "5432");
	assert_int_equal(c.tls_mode, TLS_DISABLE); /* no certificate */

	text = print_config(&c);
	assert_string_equal(text, "[pitlane]\n"
				  "listen_addr = 127.0.0.1\n"
				  "listen_port = 6432\n"
				  "; unix_socket_dir not set\n"
				  "; takeover_socket not set\n"
				  "so_reuseport = no\n"
				  "peer_id = 0\n"
				  "; peers not set\n"
				  "pool_mode = transaction\n"
				  "log_format = json\n"
				  "log_level = info\n"
				  "shutdown_timeout_ms = 30000\n"
				  "max_client_conn = 1000\n"
				  "max_prepared_statements = 200\n"
				  "idle_transaction_timeout = 0\n"
				  "query_timeout = 0\n"
				  "client_idle_timeout = 0\n"
				  "server_lifetime = 3600\n"
				  "server_check_delay = 30\n"
				  "server_reset_query = DISCARD ALL\n"
				  "server_check_query = SELECT 1\n"
				  "auth_type = scram-sha-256\n"
				  "; auth_file not set\n"
				  "; hba_file not set\n"
				  "auth_trust_anywhere = no\n"
				  "tls_mode = disable\n"
				  "; tls_cert_file not set\n"
				  "; tls_key_file not set\n"
				  "; tls_ca_file not set\n"
				  "tls_ciphers = HIGH:!aNULL:!MD5:!3DES:!RC4\n"
				  "tls_min_version = TLSv1.2\n"
				  "client_login_timeout = 15\n"
				  "max_packet_size = 1GB\n"
				  "stats_period = 60\n"
				  "; admin_users not set\n"
				  "; stats_users not set\n"
				  "autodb_idle_timeout = 3600\n"
				  "max_db_connections = 0\n"
				  "max_user_connections = 0\n"
				  "reserve_pool = 0\n"
				  "reserve_pool_timeout = 5\n"
				  "; auth_user not set\n"
				  "auth_query = SELECT usename, passwd FROM "
				  "pg_shadow WHERE usename=$1\n"
				  "; auth_dbname not set\n"
				  "http_addr = 127.0.0.1\n"
				  "http_port =\n"
				  "\n"
				  "[pool]\n"
				  "host = localhost\n"
				  "port = 5432\n"
				  "dbname = postgres\n"
				  "user = postgres\n"
				  "; password not set\n"
				  "pool_max = 10\n"
				  "pool_min = 2\n"
				  "idle_timeout_ms = 30000\n"
				  "connect_timeout_ms = 2000\n"
				  "sslmode = prefer\n"
				  "; sslrootcert not set\n"
				  "; sslcert not set\n"
				  "; sslkey not set\n"
				  "target_session_attrs = any\n");
	free(text);
	config_free(&c);
	config_free(&c); /* idempotent */
	config_free(NULL);
}

struct bad_value {
	const char *section, *key, *value, *source, *msg;
};

static const struct bad_value bad_values[] = {
    {"pitlane", "admin_users", "ops,,root", "PITLANE_ADMIN_USERS",
     "PITLANE_ADMIN_USERS must be user names separated by commas, with no "
     "empty name, or empty for none, got \"ops,,root\""},
    {"pitlane", "stats_users", "exporter, ", "stats_users",
     "stats_users must be user names separated by commas, with no empty "
     "name, or empty for none, got \"exporter, \""},
    {"pitlane", "stats_users", " ,a", "stats_users",
     "stats_users must be user names separated by commas, with no empty "
     "name, or empty for none, got \" ,a\""},
    {"pitlane", "listen_addr", "", "PITLANE_LISTEN_ADDR",
     "PITLANE_LISTEN_ADDR must be a non-empty string, got \"\""},
    {"pitlane", "listen_port", "65536", "--port",
     "--port must be an integer from 0 to 65535, got \"65536\""},
    {"pitlane", "listen_port", "-1", "--port",
     "--port must be an integer from 0 to 65535, got \"-1\""},
    {"pitlane", "listen_port", "", "--port",
     "--port must be an integer from 0 to 65535, got \"\""},
    {"pitlane", "listen_port", " 1", "--port",
     "--port must be an integer from 0 to 65535, got \" 1\""},
    {"pitlane", "listen_port", "1 ", "--port",
     "--port must be an integer from 0 to 65535, got \"1 \""},
    {"pitlane", "listen_port", "+1", "--port",
     "--port must be an integer from 0 to 65535, got \"+1\""},
    {"pitlane", "listen_port", "0x10", "--port",
     "--port must be an integer from 0 to 65535, got \"0x10\""},
    {"pitlane", "listen_port", "99999999999999999999", "--port",
     "--port must be an integer from 0 to 65535, got "
     "\"99999999999999999999\""},
    {"pitlane", "pool_mode", "Session", "-m",
     "-m must be one of session, transaction, statement, got \"Session\""},
    {"pitlane", "pool_mode", "statements", "PITLANE_POOL_MODE",
     "PITLANE_POOL_MODE must be one of session, transaction, statement, got "
     "\"statements\""},
    {"pitlane", "log_format", "xml", "PITLANE_LOG_FORMAT",
     "PITLANE_LOG_FORMAT must be one of json, text, got \"xml\""},
    {"pitlane", "log_level", "warning", "PITLANE_LOG_LEVEL",
     "PITLANE_LOG_LEVEL must be one of debug, info, warn, error, got "
     "\"warning\""},
    {"pitlane", "shutdown_timeout_ms", "86400001",
     "PITLANE_SHUTDOWN_TIMEOUT_MS",
     "PITLANE_SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 86400000, "
     "got \"86400001\""},
    {"pitlane", "max_client_conn", "0", "PITLANE_MAX_CLIENT_CONN",
     "PITLANE_MAX_CLIENT_CONN must be an integer from 1 to 100000, got "
     "\"0\""},
    {"pitlane", "max_prepared_statements", "100001",
     "PITLANE_MAX_PREPARED_STATEMENTS",
     "PITLANE_MAX_PREPARED_STATEMENTS must be an integer from 0 to 100000, "
     "got \"100001\""},
    {"pitlane", "max_prepared_statements", "-1",
     "PITLANE_MAX_PREPARED_STATEMENTS",
     "PITLANE_MAX_PREPARED_STATEMENTS must be an integer from 0 to 100000, "
     "got \"-1\""},
    {"pitlane", "idle_transaction_timeout", "abc", "idle_transaction_timeout",
     "idle_transaction_timeout must be a number of seconds from 0 to 86400 "
     "with at most 3 decimals, got \"abc\""},
    {"pitlane", "query_timeout", "86400.001", "PITLANE_QUERY_TIMEOUT",
     "PITLANE_QUERY_TIMEOUT must be a number of seconds from 0 to 86400 with "
     "at most 3 decimals, got \"86400.001\""},
    {"pitlane", "client_idle_timeout", "", "pitlane.ini:4: client_idle_timeout",
     "pitlane.ini:4: client_idle_timeout must be a number of seconds from 0 "
     "to 86400 with at most 3 decimals, got \"\""},
    {"pitlane", "server_lifetime", "604801", "PITLANE_SERVER_LIFETIME",
     "PITLANE_SERVER_LIFETIME must be a number of seconds from 0 to 604800 "
     "with at most 3 decimals, got \"604801\""},
    {"pitlane", "server_check_delay", "1.2345", "PITLANE_SERVER_CHECK_DELAY",
     "PITLANE_SERVER_CHECK_DELAY must be a number of seconds from 0 to 86400 "
     "with at most 3 decimals, got \"1.2345\""},
    {"pitlane", "auth_type", "scram", "PITLANE_AUTH_TYPE",
     "PITLANE_AUTH_TYPE must be one of scram-sha-256, md5, cert, trust, got "
     "\"scram\""},
    {"pitlane", "auth_type", "", "PITLANE_AUTH_TYPE",
     "PITLANE_AUTH_TYPE must be one of scram-sha-256, md5, cert, trust, got "
     "\"\""},
    {"pitlane", "auth_type", "MD5", "pitlane.ini:2: auth_type",
     "pitlane.ini:2: auth_type must be one of scram-sha-256, md5, cert, "
     "trust, got \"MD5\""},
    {"pitlane", "auth_trust_anywhere", "maybe", "PITLANE_AUTH_TRUST_ANYWHERE",
     "PITLANE_AUTH_TRUST_ANYWHERE must be one of yes, no, true, false, on, "
     "off, 1, 0, got \"maybe\""},
    {"pitlane", "auth_trust_anywhere", "", "PITLANE_AUTH_TRUST_ANYWHERE",
     "PITLANE_AUTH_TRUST_ANYWHERE must be one of yes, no, true, false, on, "
     "off, 1, 0, got \"\""},
    {"pitlane", "auth_trust_anywhere", "YES", "PITLANE_AUTH_TRUST_ANYWHERE",
     "PITLANE_AUTH_TRUST_ANYWHERE must be one of yes, no, true, false, on, "
     "off, 1, 0, got \"YES\""},
    {"pitlane", "tls_mode", "verify", "PITLANE_TLS_MODE",
     "PITLANE_TLS_MODE must be one of disable, allow, prefer, require, "
     "verify-ca, verify-full, or empty for automatic, got \"verify\""},
    {"pitlane", "tls_mode", "auto", "PITLANE_TLS_MODE",
     "PITLANE_TLS_MODE must be one of disable, allow, prefer, require, "
     "verify-ca, verify-full, or empty for automatic, got \"auto\""},
    {"pitlane", "tls_ciphers", "", "PITLANE_TLS_CIPHERS",
     "PITLANE_TLS_CIPHERS must be a non-empty string, got \"\""},
    {"pitlane", "tls_min_version", "TLSv1.1", "PITLANE_TLS_MIN_VERSION",
     "PITLANE_TLS_MIN_VERSION must be one of TLSv1.2, TLSv1.3, got "
     "\"TLSv1.1\""},
    {"pitlane", "tls_min_version", "1.3", "PITLANE_TLS_MIN_VERSION",
     "PITLANE_TLS_MIN_VERSION must be one of TLSv1.2, TLSv1.3, got \"1.3\""},
    {"pitlane", "client_login_timeout", "0.099", "PITLANE_CLIENT_LOGIN_TIMEOUT",
     "PITLANE_CLIENT_LOGIN_TIMEOUT must be a number of seconds from 0.1 to "
     "3600 with at most 3 decimals, got \"0.099\""},
    {"pitlane", "client_login_timeout", "0", "PITLANE_CLIENT_LOGIN_TIMEOUT",
     "PITLANE_CLIENT_LOGIN_TIMEOUT must be a number of seconds from 0.1 to "
     "3600 with at most 3 decimals, got \"0\""},
    {"pitlane", "client_login_timeout", "3600.001",
     "PITLANE_CLIENT_LOGIN_TIMEOUT",
     "PITLANE_CLIENT_LOGIN_TIMEOUT must be a number of seconds from 0.1 to "
     "3600 with at most 3 decimals, got \"3600.001\""},
    {"pitlane", "max_packet_size", "2GB", "PITLANE_MAX_PACKET_SIZE",
     "PITLANE_MAX_PACKET_SIZE must be a size from 1MB to 1GB, in bytes or "
     "with a unit kB, MB or GB, got \"2GB\""},
    {"pitlane", "max_packet_size", "1023kB", "PITLANE_MAX_PACKET_SIZE",
     "PITLANE_MAX_PACKET_SIZE must be a size from 1MB to 1GB, in bytes or "
     "with a unit kB, MB or GB, got \"1023kB\""},
    {"pitlane", "max_packet_size", "", "PITLANE_MAX_PACKET_SIZE",
     "PITLANE_MAX_PACKET_SIZE must be a size from 1MB to 1GB, in bytes or "
     "with a unit kB, MB or GB, got \"\""},
    {"pool", "host", "", "DB_HOST",
     "DB_HOST must be a non-empty string, got \"\""},
    {"pool", "host", "a,,b", "DB_HOST",
     "DB_HOST must be a host name, IP address or socket directory, or a "
     "comma-separated list of them with no empty element, got \"a,,b\""},
    {"pool", "host", ",a", "DB_HOST",
     "DB_HOST must be a host name, IP address or socket directory, or a "
     "comma-separated list of them with no empty element, got \",a\""},
    {"pool", "host", "a,", "DB_HOST",
     "DB_HOST must be a host name, IP address or socket directory, or a "
     "comma-separated list of them with no empty element, got \"a,\""},
    {"pool", "port", "0", "DB_PORT",
     "DB_PORT must be an integer from 1 to 65535, got \"0\""},
    {"pool", "dbname", "", "DB_NAME",
     "DB_NAME must be a non-empty string, got \"\""},
    {"pool", "user", "", "pitlane.ini:3: user",
     "pitlane.ini:3: user must be a non-empty string, got \"\""},
    {"pool", "pool_max", "abc", "DB_POOL_MAX",
     "DB_POOL_MAX must be an integer from 1 to 10000, got \"abc\""},
    {"pool", "pool_max", "10001", "DB_POOL_MAX",
     "DB_POOL_MAX must be an integer from 1 to 10000, got \"10001\""},
    {"pool", "pool_min", "-1", "DB_POOL_MIN",
     "DB_POOL_MIN must be an integer from 0 to 10000, got \"-1\""},
    {"pool", "idle_timeout_ms", "99", "DB_IDLE_TIMEOUT_MS",
     "DB_IDLE_TIMEOUT_MS must be an integer from 100 to 86400000, got "
     "\"99\""},
    {"pool", "connect_timeout_ms", "600001", "DB_CONNECT_TIMEOUT_MS",
     "DB_CONNECT_TIMEOUT_MS must be an integer from 100 to 600000, got "
     "\"600001\""},
    {"pool", "sslmode", "x", "DB_SSLMODE",
     "DB_SSLMODE must be one of disable, allow, prefer, require, "
     "verify-ca, verify-full, got \"x\""},
    {"pool", "sslmode", "", "DB_SSLMODE",
     "DB_SSLMODE must be one of disable, allow, prefer, require, "
     "verify-ca, verify-full, got \"\""},
    {"pool", "target_session_attrs", "master", "DB_TARGET_SESSION_ATTRS",
     "DB_TARGET_SESSION_ATTRS must be one of any, read-write, primary, "
     "read-only, standby, prefer-standby, got \"master\""},
    {"pool", "pool_max",
     "1234567890123456789012345678901234567890123456789012345678901234567890",
     "DB_POOL_MAX",
     "DB_POOL_MAX must be an integer from 1 to 10000, got "
     "\"1234567890123456789012345678901234567890123456789012345678901234..."
     "\""},
};

/* Each invalid value gives exactly its message and leaves the configuration
 * as it was. */
static void test_invalid_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_values); i++) {
		const struct bad_value *b = &bad_values[i];
		struct config c;
		struct config_errors errs = {0};
		char *before, *after;

		config_defaults(&c);
		before = print_config(&c);
		assert_true(config_set(&c, b->section, b->key, b->value,
				       b->source, &errs));
		assert_one_error(&errs, b->msg);
		after = print_config(&c);
		assert_string_equal(before, after);
		free(before);
		free(after);
		config_free(&c);
	}
}

struct good_value {
	const char *section, *key, *value, *printed;
};

static const struct good_value good_values[] = {
    {"pitlane", "listen_addr", "::1", "listen_addr = ::1"},
    {"pitlane", "listen_port", "0", "listen_port = 0"},
    {"pitlane", "listen_port", "65535", "listen_port = 65535"},
    {"pitlane", "listen_port", "007", "listen_port = 7"},
    {"pitlane", "unix_socket_dir", "/run/pitlane",
     "unix_socket_dir = /run/pitlane"},
    {"pitlane", "unix_socket_dir", "", "; unix_socket_dir not set"},
    {"pitlane", "pool_mode", "session", "pool_mode = session"},
    {"pitlane", "log_format", "text", "log_format = text"},
    {"pitlane", "log_level", "debug", "log_level = debug"},
    {"pitlane", "log_level", "warn", "log_level = warn"},
    {"pitlane", "log_level", "error", "log_level = error"},
    {"pitlane", "shutdown_timeout_ms", "0", "shutdown_timeout_ms = 0"},
    {"pitlane", "max_client_conn", "100000", "max_client_conn = 100000"},
    {"pitlane", "pool_mode", "statement", "pool_mode = statement"},
    {"pitlane", "max_prepared_statements", "0", "max_prepared_statements = 0"},
    {"pitlane", "max_prepared_statements", "100000",
     "max_prepared_statements = 100000"},
    {"pitlane", "idle_transaction_timeout", "0.5",
     "idle_transaction_timeout = 0.5"},
    {"pitlane", "query_timeout", "86400", "query_timeout = 86400"},
    {"pitlane", "client_idle_timeout", "1.250", "client_idle_timeout = 1.25"},
    {"pitlane", "server_lifetime", "604800", "server_lifetime = 604800"},
    {"pitlane", "server_lifetime", "0", "server_lifetime = 0"},
    {"pitlane", "server_check_delay", "0.001", "server_check_delay = 0.001"},
    {"pitlane", "server_reset_query", "RESET ALL",
     "server_reset_query = RESET ALL"},
    {"pitlane", "server_reset_query", "", "server_reset_query ="},
    {"pitlane", "server_check_query", "", "server_check_query ="},
    {"pitlane", "server_check_query", ";", "server_check_query = ;"},
    {"pool", "host", "db1,db2,/var/run/postgresql",
     "host = db1,db2,/var/run/postgresql"},
    {"pool", "port", "1", "port = 1"},
    {"pool", "dbname", "app", "dbname = app"},
    {"pool", "user", "app_user", "user = app_user"},
    {"pool", "password", SECRET, "password = <redacted>"},
    {"pool", "password", "", "; password not set"},
    {"pool", "pool_max", "10000", "pool_max = 10000"},
    {"pool", "pool_min", "0", "pool_min = 0"},
    {"pool", "idle_timeout_ms", "100", "idle_timeout_ms = 100"},
    {"pool", "connect_timeout_ms", "600000", "connect_timeout_ms = 600000"},
    {"pool", "sslmode", "verify-full", "sslmode = verify-full"},
    {"pool", "sslmode", "disable", "sslmode = disable"},
    {"pool", "target_session_attrs", "prefer-standby",
     "target_session_attrs = prefer-standby"},
    {"pitlane", "auth_type", "scram-sha-256", "auth_type = scram-sha-256"},
    {"pitlane", "auth_type", "md5", "auth_type = md5"},
    {"pitlane", "auth_type", "cert", "auth_type = cert"},
    {"pitlane", "auth_type", "trust", "auth_type = trust"},
    {"pitlane", "auth_file", "/etc/pitlane/users.txt",
     "auth_file = /etc/pitlane/users.txt"},
    {"pitlane", "auth_file", "", "; auth_file not set"},
    {"pitlane", "hba_file", "/etc/pitlane/hba.conf",
     "hba_file = /etc/pitlane/hba.conf"},
    {"pitlane", "hba_file", "", "; hba_file not set"},
    {"pitlane", "auth_trust_anywhere", "yes", "auth_trust_anywhere = yes"},
    {"pitlane", "auth_trust_anywhere", "true", "auth_trust_anywhere = yes"},
    {"pitlane", "auth_trust_anywhere", "on", "auth_trust_anywhere = yes"},
    {"pitlane", "auth_trust_anywhere", "1", "auth_trust_anywhere = yes"},
    {"pitlane", "auth_trust_anywhere", "no", "auth_trust_anywhere = no"},
    {"pitlane", "auth_trust_anywhere", "false", "auth_trust_anywhere = no"},
    {"pitlane", "auth_trust_anywhere", "off", "auth_trust_anywhere = no"},
    {"pitlane", "auth_trust_anywhere", "0", "auth_trust_anywhere = no"},
    {"pitlane", "tls_mode", "disable", "tls_mode = disable"},
    {"pitlane", "tls_mode", "allow", "tls_mode = allow"},
    {"pitlane", "tls_mode", "prefer", "tls_mode = prefer"},
    {"pitlane", "tls_mode", "require", "tls_mode = require"},
    {"pitlane", "tls_mode", "verify-ca", "tls_mode = verify-ca"},
    {"pitlane", "tls_mode", "verify-full", "tls_mode = verify-full"},
    {"pitlane", "tls_mode", "", "tls_mode ="},
    {"pitlane", "tls_cert_file", "/etc/pitlane/server.crt",
     "tls_cert_file = /etc/pitlane/server.crt"},
    {"pitlane", "tls_cert_file", "", "; tls_cert_file not set"},
    {"pitlane", "tls_key_file", "/etc/pitlane/server.key",
     "tls_key_file = /etc/pitlane/server.key"},
    {"pitlane", "tls_ca_file", "/etc/pitlane/ca.crt",
     "tls_ca_file = /etc/pitlane/ca.crt"},
    {"pitlane", "tls_ciphers", "ECDHE+AESGCM", "tls_ciphers = ECDHE+AESGCM"},
    {"pitlane", "tls_min_version", "TLSv1.3", "tls_min_version = TLSv1.3"},
    {"pitlane", "tls_min_version", "TLSv1.2", "tls_min_version = TLSv1.2"},
    {"pitlane", "client_login_timeout", "0.1", "client_login_timeout = 0.1"},
    {"pitlane", "client_login_timeout", "3600", "client_login_timeout = 3600"},
    {"pitlane", "max_packet_size", "1MB", "max_packet_size = 1MB"},
    {"pitlane", "max_packet_size", "1048576", "max_packet_size = 1MB"},
    {"pitlane", "max_packet_size", "1536kB", "max_packet_size = 1536kB"},
    {"pitlane", "max_packet_size", "2000000", "max_packet_size = 2000000"},
    {"pitlane", "max_packet_size", "1024MB", "max_packet_size = 1GB"},
    {"pool", "sslrootcert", "/etc/ssl/ca.crt", "sslrootcert = /etc/ssl/ca.crt"},
    {"pool", "sslrootcert", "", "; sslrootcert not set"},
    {"pool", "sslcert", "/etc/ssl/client.crt", "sslcert = /etc/ssl/client.crt"},
    {"pool", "sslkey", "/etc/ssl/client.key", "sslkey = /etc/ssl/client.key"},
};

static void test_valid_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_values); i++) {
		const struct good_value *g = &good_values[i];
		struct config c;
		struct config_errors errs = {0};
		char line[128];
		char *text;

		config_defaults(&c);
		/* The secret first, so that unsetting it is tested too. */
		assert_true(
		    config_set(&c, "pool", "password", SECRET, "x", &errs));
		assert_true(config_set(&c, "pitlane", "unix_socket_dir", "/tmp",
				       "x", &errs));
		assert_true(
		    config_set(&c, g->section, g->key, g->value, "x", &errs));
		assert_no_errors(&errs);
		text = print_config(&c);
		snprintf(line, sizeof(line), "\n%s\n", g->printed);
		if (strstr(text, line) == NULL) {
			print_error("%s not in:\n%s", g->printed, text);
			fail();
		}
		free(text);
		config_free(&c);
	}
}

/* The one parser of every duration: seconds with at most 3 decimals, held
 * in milliseconds; anything else is rejected whole. */
static void test_durations(void **state)
{
	static const struct {
		const char *value;
		int ms; /* -1: invalid */
	} cases[] = {
	    {"0", 0},
	    {"30", 30000},
	    {"0.5", 500},
	    {"1.25", 1250},
	    {"1.250", 1250},
	    {"0.001", 1},
	    {"007.070", 7070},
	    {"86400", 86400000},
	    {"86400.000", 86400000},
	    {"86400.001", -1},
	    {"86401", -1},
	    {"99999999999999999999", -1},
	    {"1.2345", -1},
	    {"0.0001", -1},
	    {"1.0000", -1},
	    {"-1", -1},
	    {"-0", -1},
	    {"+1", -1},
	    {"1e3", -1},
	    {"1E3", -1},
	    {"0x10", -1},
	    {"1.", -1},
	    {".5", -1},
	    {"1..5", -1},
	    {"1.5.", -1},
	    {"1,5", -1},
	    {" 1", -1},
	    {"1 ", -1},
	    {"1s", -1},
	    {"inf", -1},
	    {"nan", -1},
	    {"", -1},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct config c;
		struct config_errors errs = {0};
		char want[CONFIG_ERROR_LEN];

		config_defaults(&c);
		assert_true(config_set(&c, "pitlane", "query_timeout",
				       cases[i].value, "query_timeout", &errs));
		if (cases[i].ms >= 0) {
			assert_no_errors(&errs);
			assert_int_equal(c.query_timeout_ms, cases[i].ms);
		} else {
			snprintf(want, sizeof(want),
				 "query_timeout must be a number of seconds "
				 "from 0 to 86400 with at most 3 decimals, got "
				 "\"%s\"",
				 cases[i].value);
			assert_one_error(&errs, want);
			assert_int_equal(c.query_timeout_ms, 0);
		}
		config_free(&c);
	}
}

/* server_reset_query and server_check_query: at most 1024 bytes; empty is
 * none (NULL). */
static void test_query_length(void **state)
{
	static const char *const keys[] = {"server_reset_query",
					   "server_check_query"};
	static const char *const defaults[] = {"DISCARD ALL", "SELECT 1"};
	char query[1026], want[CONFIG_ERROR_LEN];

	(void)state;
	memset(query, 'x', sizeof(query) - 1);
	memcpy(query, "SELECT ", 7);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		struct config c;
		struct config_errors errs = {0};
		char **field =
		    i == 0 ? &c.server_reset_query : &c.server_check_query;

		config_defaults(&c);
		query[1024] = 'x';
		query[1025] = '\0';
		assert_true(
		    config_set(&c, "pitlane", keys[i], query, "src", &errs));
		snprintf(want, sizeof(want),
			 "src must be an SQL statement of at most 1024 bytes, "
			 "or empty for none, got \"%.64s...\"",
			 query);
		assert_one_error(&errs, want);
		assert_string_equal(*field, defaults[i]);

		errs.n = 0;
		query[1024] = '\0';
		assert_true(
		    config_set(&c, "pitlane", keys[i], query, "src", &errs));
		assert_no_errors(&errs);
		assert_string_equal(*field, query);

		assert_true(
		    config_set(&c, "pitlane", keys[i], "", "src", &errs));
		assert_no_errors(&errs);
		assert_null(*field);
		config_free(&c);
	}
}

/* inih would end a line at a NUL byte and apply what comes before it: the
 * line is rejected instead. */
static void test_ini_nul_byte(void **state)
{
	static const char text[] = "[pitlane]\n"
				   "server_reset_query = DISCARD\0 ALL\n"
				   "query_timeout = 5\n";
	char want[CONFIG_ERROR_LEN];
	const char *path = write_ini("");
	struct config c;
	struct config_errors errs = {0};
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f),
			 sizeof(text) - 1);
	assert_int_equal(fclose(f), 0);
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	snprintf(want, sizeof(want), "%s:2: line contains a NUL byte", path);
	assert_one_error(&errs, want);
	assert_string_equal(c.server_reset_query, "DISCARD ALL");
	assert_int_equal(c.query_timeout_ms, 5000);
	config_free(&c);
}

static void test_set_unknown(void **state)
{
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	assert_false(config_set(&c, "pool", "nope", "1", "--bogus", &errs));
	assert_one_error(&errs,
			 "--bogus: unknown setting \"nope\" in section [pool]");
	errs.n = 0;
	assert_false(config_set(&c, "pitlane", "pool_max", "1", "x", &errs));
	assert_int_equal(errs.n, 1);
	assert_int_equal(c.pool_max, 10);
	config_free(&c);
}

static void test_env_every_setting(void **state)
{
	char *const envp[] = {
	    "PATH=/usr/bin",
	    "PITLANE_LISTEN_ADDR=::1",
	    "PITLANE_LISTEN_PORT=7000",
	    "PITLANE_UNIX_SOCKET_DIR=/run/pitlane",
	    "PITLANE_POOL_MODE=statement",
	    "PITLANE_LOG_FORMAT=text",
	    "PITLANE_LOG_LEVEL=debug",
	    "PITLANE_SHUTDOWN_TIMEOUT_MS=5",
	    "PITLANE_MAX_CLIENT_CONN=50",
	    "PITLANE_MAX_PREPARED_STATEMENTS=0",
	    "PITLANE_IDLE_TRANSACTION_TIMEOUT=1.5",
	    "PITLANE_QUERY_TIMEOUT=60",
	    "PITLANE_CLIENT_IDLE_TIMEOUT=0.25",
	    "PITLANE_SERVER_LIFETIME=0",
	    "PITLANE_SERVER_CHECK_DELAY=0",
	    "PITLANE_SERVER_RESET_QUERY=RESET ALL",
	    "PITLANE_SERVER_CHECK_QUERY=SELECT 2",
	    "PITLANE_AUTH_TYPE=cert",
	    "PITLANE_AUTH_FILE=/etc/pitlane/users",
	    "PITLANE_HBA_FILE=/etc/pitlane/hba",
	    "PITLANE_AUTH_TRUST_ANYWHERE=on",
	    "PITLANE_TLS_MODE=verify-full",
	    "PITLANE_TLS_CERT_FILE=/etc/pitlane/server.crt",
	    "PITLANE_TLS_KEY_FILE=/etc/pitlane/server.key",
	    "PITLANE_TLS_CA_FILE=/etc/pitlane/ca.crt",
	    "PITLANE_TLS_CIPHERS=HIGH",
	    "PITLANE_TLS_MIN_VERSION=TLSv1.3",
	    "PITLANE_CLIENT_LOGIN_TIMEOUT=2.5",
	    "PITLANE_MAX_PACKET_SIZE=64MB",
	    "PITLANE_ADMIN_USERS=ops, root",
	    "PITLANE_STATS_USERS=exporter",
	    "DB_HOST=db1,db2",
	    "DB_PORT=5433",
	    "DB_NAME=app",
	    "DB_USER=appuser",
	    "DB_PASSWORD=" SECRET,
	    "DB_POOL_MAX=20",
	    "DB_POOL_MIN=3",
	    "DB_IDLE_TIMEOUT_MS=1000",
	    "DB_CONNECT_TIMEOUT_MS=500",
	    "DB_SSLMODE=require",
	    "DB_SSLROOTCERT=/etc/ssl/ca.crt",
	    "DB_SSLCERT=/etc/ssl/client.crt",
	    "DB_SSLKEY=/etc/ssl/client.key",
	    "DB_HOSTNAME=ignored",
	    "DB_UNKNOWN=ignored",
	    "DB_PORT=1", /* like getenv: the first one wins */
	    NULL,
	};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_env(&c, envp, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.listen_addr, "::1");
	assert_int_equal(c.listen_port, 7000);
	assert_string_equal(c.unix_socket_dir, "/run/pitlane");
	assert_int_equal(c.pool_mode, POOL_MODE_STATEMENT);
	assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.shutdown_timeout_ms, 5);
	assert_int_equal(c.max_client_conn, 50);
	assert_int_equal(c.max_prepared_statements, 0);
	assert_int_equal(c.idle_transaction_timeout_ms, 1500);
	assert_int_equal(c.query_timeout_ms, 60000);
	assert_int_equal(c.client_idle_timeout_ms, 250);
	assert_int_equal(c.server_lifetime_ms, 0);
	assert_int_equal(c.server_check_delay_ms, 0);
	assert_string_equal(c.server_reset_query, "RESET ALL");
	assert_string_equal(c.server_check_query, "SELECT 2");
	assert_int_equal(c.auth_type, AUTH_CERT);
	assert_string_equal(c.auth_file, "/etc/pitlane/users");
	assert_string_equal(c.hba_file, "/etc/pitlane/hba");
	assert_true(c.auth_trust_anywhere);
	assert_int_equal(c.tls_mode, TLS_VERIFY_FULL);
	assert_string_equal(c.tls_cert_file, "/etc/pitlane/server.crt");
	assert_string_equal(c.tls_key_file, "/etc/pitlane/server.key");
	assert_string_equal(c.tls_ca_file, "/etc/pitlane/ca.crt");
	assert_string_equal(c.tls_ciphers, "HIGH");
	assert_int_equal(c.tls_min_version, TLS_VERSION_1_3);
	assert_int_equal(c.client_login_timeout_ms, 2500);
	assert_true(c.max_packet_size == 64L * 1024 * 1024);
	assert_string_equal(c.admin_users, "ops, root");
	assert_string_equal(c.stats_users, "exporter");
	assert_string_equal(c.host, "db1,db2");
	assert_int_equal(c.port, 5433);
	assert_string_equal(c.dbname, "app");
	assert_string_equal(c.user, "appuser");
	assert_string_equal(c.password, SECRET);
	assert_int_equal(c.pool_max, 20);
	assert_int_equal(c.pool_min, 3);
	assert_int_equal(c.idle_timeout_ms, 1000);
	assert_int_equal(c.connect_timeout_ms, 500);
	assert_string_equal(c.sslmode, "require");
	assert_string_equal(c.sslrootcert, "/etc/ssl/ca.crt");
	assert_string_equal(c.sslcert, "/etc/ssl/client.crt");
	assert_string_equal(c.sslkey, "/etc/ssl/client.key");
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.pool_name, "app");
	config_free(&c);
}

/* Every invalid variable is reported in one run, in the documented order. */
static void test_env_all_errors(void **state)
{
	char *const envp[] = {
	    "DB_SSLMODE=x", "DB_POOL_MAX=abc",	   "PITLANE_LOG_LEVEL=loud",
	    "DB_PORT=0",    "DB_PASSWORD=" SECRET, NULL,
	};
	static const char *const expected[] = {
	    "PITLANE_LOG_LEVEL must be one of debug, info, warn, error, got "
	    "\"loud\"",
	    "DB_PORT must be an integer from 1 to 65535, got \"0\"",
	    "DB_POOL_MAX must be an integer from 1 to 10000, got \"abc\"",
	    "DB_SSLMODE must be one of disable, allow, prefer, require, "
	    "verify-ca, verify-full, got \"x\"",
	};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_env(&c, envp, &errs);
	assert_int_equal(errs.n, ARRAY_LEN(expected));
	for (size_t i = 0; i < ARRAY_LEN(expected); i++)
		assert_string_equal(errs.msg[i], expected[i]);
	config_free(&c);
}

/* An empty variable counts as unset, except DB_PASSWORD where it means "no
 * password". */
static void test_env_empty(void **state)
{
	const char *path = write_ini("[pitlane]\n"
				     "unix_socket_dir = /run/pitlane\n"
				     "query_timeout = 2.5\n"
				     "server_check_query = SELECT 3\n"
				     "tls_mode = require\n"
				     "tls_cert_file = /c.crt\n"
				     "max_packet_size = 2MB\n"
				     "auth_trust_anywhere = yes\n"
				     "[pool]\n"
				     "host = filehost\n"
				     "pool_max = 7\n"
				     "sslkey = /k.key\n"
				     "password = " SECRET "\n");
	char *const envp[] = {
	    "DB_HOST=",
	    "DB_POOL_MAX=",
	    "DB_PASSWORD=",
	    "PITLANE_UNIX_SOCKET_DIR=",
	    "DB_SSLMODE=",
	    "PITLANE_LISTEN_ADDR=",
	    "PITLANE_QUERY_TIMEOUT=",
	    "PITLANE_SERVER_CHECK_QUERY=",
	    "PITLANE_SERVER_RESET_QUERY=",
	    "PITLANE_SERVER_LIFETIME=",
	    "PITLANE_TLS_MODE=",
	    "PITLANE_TLS_CERT_FILE=",
	    "PITLANE_MAX_PACKET_SIZE=",
	    "PITLANE_AUTH_TRUST_ANYWHERE=",
	    "DB_SSLKEY=",
	    NULL,
	};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	assert_string_equal(c.password, SECRET);
	config_load_env(&c, envp, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.host, "filehost");
	assert_int_equal(c.pool_max, 7);
	assert_null(c.password);
	assert_string_equal(c.unix_socket_dir, "/run/pitlane");
	assert_string_equal(c.sslmode, "prefer");
	assert_string_equal(c.listen_addr, "127.0.0.1");
	assert_int_equal(c.query_timeout_ms, 2500);
	assert_string_equal(c.server_check_query, "SELECT 3");
	assert_string_equal(c.server_reset_query, "DISCARD ALL");
	assert_int_equal(c.server_lifetime_ms, 3600000);
	assert_int_equal(c.tls_mode, TLS_REQUIRE);
	assert_string_equal(c.tls_cert_file, "/c.crt");
	assert_true(c.max_packet_size == 2L * 1024 * 1024);
	assert_true(c.auth_trust_anywhere);
	assert_string_equal(c.sslkey, "/k.key");
	config_free(&c);
}

/* defaults < INI < environment < config_set (what flags use). */
static void test_precedence(void **state)
{
	const char *path = write_ini("[pitlane]\n"
				     "listen_port = 7000\n"
				     "pool_mode = session\n"
				     "[pool]\n"
				     "pool_max = 5\n"
				     "pool_min = 1\n"
				     "dbname = filedb\n");
	char *const envp[] = {"PITLANE_LISTEN_PORT=7001", "DB_POOL_MAX=6",
			      "DB_NAME=envdb", NULL};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	config_load_env(&c, envp, &errs);
	assert_true(
	    config_set(&c, "pitlane", "listen_port", "7002", "--port", &errs));
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.listen_port, 7002);		  /* flag */
	assert_int_equal(c.pool_max, 6);		  /* environment */
	assert_string_equal(c.dbname, "envdb");		  /* environment */
	assert_int_equal(c.pool_min, 1);		  /* file */
	assert_int_equal(c.pool_mode, POOL_MODE_SESSION); /* file */
	assert_int_equal(c.idle_timeout_ms, 30000);	  /* default */
	assert_string_equal(c.pool_name, "envdb");
	config_free(&c);
}

/* inih reads an indented line as the continuation of the previous value:
 * pitlane drops leading blanks, so indented files mean what they say. */
static void test_ini_indented(void **state)
{
	const char *path = write_ini("[pool]\n"
				     "    host = db\n"
				     "    port = 5433\n"
				     "\t; comment\n"
				     "\tdbname = app\n");
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.host, "db");
	assert_int_equal(c.port, 5433);
	assert_string_equal(c.dbname, "app");
	config_free(&c);
}

/* [peers] lines (PgBouncer's syntax) become the peers list, in order;
 * the printed list reads back the same. */
static void test_ini_peers(void **state)
{
	const char *path = write_ini("[pitlane]\n"
				     "peer_id = 2\n"
				     "so_reuseport = yes\n"
				     "[peers]\n"
				     "1 = host=/run/p1 port=6432\n"
				     "2 = host=/run/p2\n");
	struct config c, again;
	struct config_errors errs = {0};
	char *text;

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.peer_id, 2);
	assert_true(c.so_reuseport);
	assert_string_equal(c.peers,
			    "1 = host=/run/p1 port=6432; 2 = host=/run/p2");
	text = print_config(&c);
	assert_non_null(strstr(text, "\npeers = 1 = host=/run/p1 port=6432; "
				     "2 = host=/run/p2\n"));
	path = write_ini(text);
	config_defaults(&again);
	config_load_file(&again, path, &errs);
	assert_no_errors(&errs);
	assert_string_equal(again.peers, c.peers);
	free(text);
	config_free(&again);
	config_free(&c);
}

static void test_ini_every_setting(void **state)
{
	const char *path = write_ini("; a comment\n"
				     "# another\n"
				     "[pitlane]\n"
				     "listen_addr = localhost\n"
				     "listen_port = 0\n"
				     "unix_socket_dir = /run/pitlane\n"
				     "pool_mode = session ; inline comment\n"
				     "log_format = text\n"
				     "log_level = warn\n"
				     "shutdown_timeout_ms = 1000\n"
				     "max_client_conn = 10\n"
				     "max_prepared_statements = 50\n"
				     "idle_transaction_timeout = 0.5\n"
				     "query_timeout = 30\n"
				     "client_idle_timeout = 600.125\n"
				     "server_lifetime = 604800\n"
				     "server_check_delay = 0\n"
				     "server_reset_query = SET SESSION "
				     "AUTHORIZATION DEFAULT; RESET ALL\n"
				     "server_check_query =\n"
				     "auth_type = md5\n"
				     "auth_file = /etc/pitlane/users\n"
				     "hba_file = /etc/pitlane/hba\n"
				     "auth_trust_anywhere = true\n"
				     "tls_mode = verify-ca\n"
				     "tls_cert_file = /etc/pitlane/server.crt\n"
				     "tls_key_file = /etc/pitlane/server.key\n"
				     "tls_ca_file = /etc/pitlane/ca.crt\n"
				     "tls_ciphers = HIGH:!aNULL\n"
				     "tls_min_version = TLSv1.3\n"
				     "client_login_timeout = 0.25\n"
				     "max_packet_size = 16MB\n"
				     "admin_users = ops\n"
				     "stats_users = exporter,datadog\n"
				     "\n"
				     "[pool]\r\n"
				     "host = /var/run/postgresql\r\n"
				     "port = 5433\n"
				     "dbname = app\n"
				     "user = app\n"
				     "password = " SECRET "\n"
				     "pool_max = 4\n"
				     "pool_min = 4\n"
				     "idle_timeout_ms = 60000\n"
				     "connect_timeout_ms = 100\n"
				     "sslmode = disable\n"
				     "sslrootcert = /etc/ssl/ca.crt\n"
				     "sslcert = /etc/ssl/client.crt\n"
				     "sslkey = /etc/ssl/client.key\n");
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.listen_addr, "localhost");
	assert_int_equal(c.listen_port, 0);
	assert_string_equal(c.unix_socket_dir, "/run/pitlane");
	assert_int_equal(c.pool_mode, POOL_MODE_SESSION);
	assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
	assert_int_equal(c.log_level, LOG_LEVEL_WARN);
	assert_int_equal(c.shutdown_timeout_ms, 1000);
	assert_int_equal(c.max_client_conn, 10);
	assert_int_equal(c.max_prepared_statements, 50);
	assert_int_equal(c.idle_transaction_timeout_ms, 500);
	assert_int_equal(c.query_timeout_ms, 30000);
	assert_int_equal(c.client_idle_timeout_ms, 600125);
	assert_int_equal(c.server_lifetime_ms, 604800000);
	assert_int_equal(c.server_check_delay_ms, 0);
	assert_string_equal(c.server_reset_query,
			    "SET SESSION AUTHORIZATION DEFAULT; RESET ALL");
	assert_null(c.server_check_query);
	assert_int_equal(c.auth_type, AUTH_MD5);
	assert_string_equal(c.auth_file, "/etc/pitlane/users");
	assert_string_equal(c.hba_file, "/etc/pitlane/hba");
	assert_true(c.auth_trust_anywhere);
	assert_int_equal(c.tls_mode, TLS_VERIFY_CA);
	assert_string_equal(c.tls_cert_file, "/etc/pitlane/server.crt");
	assert_string_equal(c.tls_key_file, "/etc/pitlane/server.key");
	assert_string_equal(c.tls_ca_file, "/etc/pitlane/ca.crt");
	assert_string_equal(c.tls_ciphers, "HIGH:!aNULL");
	assert_int_equal(c.tls_min_version, TLS_VERSION_1_3);
	assert_int_equal(c.client_login_timeout_ms, 250);
	assert_true(c.max_packet_size == 16L * 1024 * 1024);
	assert_string_equal(c.admin_users, "ops");
	assert_string_equal(c.stats_users, "exporter,datadog");
	assert_string_equal(c.host, "/var/run/postgresql");
	assert_int_equal(c.port, 5433);
	assert_string_equal(c.dbname, "app");
	assert_string_equal(c.user, "app");
	assert_string_equal(c.password, SECRET);
	assert_int_equal(c.pool_max, 4);
	assert_int_equal(c.pool_min, 4);
	assert_int_equal(c.idle_timeout_ms, 60000);
	assert_int_equal(c.connect_timeout_ms, 100);
	assert_string_equal(c.sslmode, "disable");
	assert_string_equal(c.sslrootcert, "/etc/ssl/ca.crt");
	assert_string_equal(c.sslcert, "/etc/ssl/client.crt");
	assert_string_equal(c.sslkey, "/etc/ssl/client.key");
	config_free(&c);
}

/* config_print's output is itself a valid configuration file. */
static void test_print_round_trip(void **state)
{
	struct config c, d;
	struct config_errors errs = {0};
	char *first, *second;

	(void)state;
	config_defaults(&c);
	config_set(&c, "pool", "host", "db1,db2", "x", &errs);
	config_set(&c, "pitlane", "log_level", "debug", "x", &errs);
	config_set(&c, "pitlane", "pool_mode", "statement", "x", &errs);
	config_set(&c, "pitlane", "max_prepared_statements", "0", "x", &errs);
	config_set(&c, "pitlane", "idle_transaction_timeout", "0.5", "x",
		   &errs);
	config_set(&c, "pitlane", "query_timeout", "1.020", "x", &errs);
	config_set(&c, "pitlane", "client_idle_timeout", "86399.999", "x",
		   &errs);
	config_set(&c, "pitlane", "server_lifetime", "0", "x", &errs);
	config_set(&c, "pitlane", "server_check_delay", "00010.100", "x",
		   &errs);
	config_set(&c, "pitlane", "server_reset_query", "", "x", &errs);
	config_set(&c, "pitlane", "server_check_query", "SELECT 'a;b'", "x",
		   &errs);
	config_set(&c, "pitlane", "auth_type", "trust", "x", &errs);
	config_set(&c, "pitlane", "auth_trust_anywhere", "on", "x", &errs);
	config_set(&c, "pitlane", "tls_cert_file", "/c.crt", "x", &errs);
	config_set(&c, "pitlane", "tls_min_version", "TLSv1.3", "x", &errs);
	config_set(&c, "pitlane", "client_login_timeout", "0.1", "x", &errs);
	config_set(&c, "pitlane", "max_packet_size", "3072kB", "x", &errs);
	config_set(&c, "pool", "sslrootcert", "/ca.crt", "x", &errs);
	assert_no_errors(&errs);
	first = print_config(&c);
	assert_non_null(strstr(first, "\nauth_type = trust\n"
				      "; auth_file not set\n"
				      "; hba_file not set\n"
				      "auth_trust_anywhere = yes\n"
				      "tls_mode =\n"
				      "tls_cert_file = /c.crt\n"));
	assert_non_null(strstr(first, "\ntls_min_version = TLSv1.3\n"
				      "client_login_timeout = 0.1\n"
				      "max_packet_size = 3MB\n"
				      "stats_period = 60\n"
				      "; admin_users not set\n"));
	assert_non_null(strstr(first, "\nidle_transaction_timeout = 0.5\n"
				      "query_timeout = 1.02\n"
				      "client_idle_timeout = 86399.999\n"
				      "server_lifetime = 0\n"
				      "server_check_delay = 10.1\n"
				      "server_reset_query =\n"
				      "server_check_query = SELECT 'a;b'\n"));
	config_defaults(&d);
	config_load_file(&d, write_ini(first), &errs);
	assert_no_errors(&errs);
	second = print_config(&d);
	assert_string_equal(first, second);
	assert_int_equal(d.pool_mode, POOL_MODE_STATEMENT);
	assert_int_equal(d.query_timeout_ms, 1020);
	assert_int_equal(d.client_idle_timeout_ms, 86399999);
	assert_null(d.server_reset_query);
	assert_int_equal(d.auth_type, AUTH_TRUST);
	assert_true(d.auth_trust_anywhere);
	assert_int_equal(d.tls_mode, TLS_AUTO);
	assert_int_equal(d.client_login_timeout_ms, 100);
	assert_true(d.max_packet_size == 3L * 1024 * 1024);
	assert_string_equal(d.sslrootcert, "/ca.crt");
	free(first);
	free(second);
	config_free(&c);
	config_free(&d);
}

struct ini_case {
	const char *text;
	const char *msgs[4]; /* "%1$s" is the file's path */
};

static const struct ini_case ini_cases[] = {
    {"[pool]\nfoo = 1\n",
     {"%1$s:2: unknown setting \"foo\" in section [pool]"}},
    {"[pitlane]\n\nhost = db\n",
     {"%1$s:3: unknown setting \"host\" in section [pitlane] (it belongs in "
      "[pool])"}},
    {"[poool]\na = 1\nb = 2\n[pool]\nport = 1\n[poool]\nc = 3\n",
     {"%1$s:2: unknown section [poool]: the sections are [pitlane], "
      "[pool], [databases], [users] and [peers]",
      "%1$s:7: unknown section [poool]: the sections are [pitlane], "
      "[pool], [databases], [users] and [peers]"}},
    {"port = 1\n",
     {"%1$s:1: setting \"port\" is outside any section: settings belong "
      "in [pitlane] or [pool]"}},
    {"[pool]\npool_max = abc\n",
     {"%1$s:2: pool_max must be an integer from 1 to 10000, got \"abc\""}},
    {"[pool]\n\n; comment\nhost\nport = 1\n",
     {"%1$s:4: syntax error: expected \"[section]\" or \"name = value\""}},
    /* inih names only its first syntax error, after the other errors. */
    {"[pool\nport = 1\n",
     {"%1$s:2: setting \"port\" is outside any section: settings belong "
      "in [pitlane] or [pool]",
      "%1$s:1: syntax error: expected \"[section]\" or \"name = value\""}},
    {"[pool]\npool_max = abc\nsslmode = x\nfoo = 1\n[pitlane]\n"
     "pool_mode = y\n",
     {"%1$s:2: pool_max must be an integer from 1 to 10000, got \"abc\"",
      "%1$s:3: sslmode must be one of disable, allow, prefer, require, "
      "verify-ca, verify-full, got \"x\"",
      "%1$s:4: unknown setting \"foo\" in section [pool]",
      "%1$s:6: pool_mode must be one of session, transaction, statement, "
      "got \"y\""}},
    {"[pitlane]\nquery_timeout = 1e3\nserver_lifetime = -1\n",
     {"%1$s:2: query_timeout must be a number of seconds from 0 to 86400 "
      "with at most 3 decimals, got \"1e3\"",
      "%1$s:3: server_lifetime must be a number of seconds from 0 to 604800 "
      "with at most 3 decimals, got \"-1\""}},
};

static void test_ini_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(ini_cases); i++) {
		const struct ini_case *t = &ini_cases[i];
		const char *path = write_ini(t->text);
		struct config c;
		struct config_errors errs = {0};
		unsigned n = 0;

		config_defaults(&c);
		config_load_file(&c, path, &errs);
		while (n < ARRAY_LEN(t->msgs) && t->msgs[n] != NULL)
			n++;
		if (errs.n != n) {
			for (unsigned j = 0; j < errs.n; j++)
				print_error("case %zu: %s\n", i, errs.msg[j]);
			fail();
		}
		for (unsigned j = 0; j < n; j++) {
			char want[CONFIG_ERROR_LEN];

			snprintf(want, sizeof(want), t->msgs[j], path);
			assert_string_equal(errs.msg[j], want);
		}
		config_free(&c);
	}
}

/* inih cuts long lines and parses the rest as a line of its own: pitlane
 * reports the line instead and goes on with the next one. */
static void test_ini_long_line(void **state)
{
	char text[1024], want[CONFIG_ERROR_LEN];
	const char *path;
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	snprintf(text, sizeof(text), "[pool]\nhost = %0600d\nport = 7\n", 0);
	path = write_ini(text);
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want), "%s:2: line is longer than ", path);
	assert_memory_equal(errs.msg[0], want, strlen(want));
	assert_string_equal(c.host, "localhost");
	assert_int_equal(c.port, 7);
	config_free(&c);
}

static void test_ini_unreadable(void **state)
{
	char missing[64], want[CONFIG_ERROR_LEN];
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	snprintf(missing, sizeof(missing), "%s/missing.ini", tmpdir);
	config_load_file(&c, missing, &errs);
	snprintf(want, sizeof(want),
		 "cannot read config file \"%s\": No such file or directory",
		 missing);
	assert_one_error(&errs, want);

	errs.n = 0;
	config_load_file(&c, tmpdir, &errs);
	snprintf(want, sizeof(want),
		 "cannot read config file \"%s\": Is a directory", tmpdir);
	assert_one_error(&errs, want);
	config_free(&c);
}

static void test_finish_pool_min_max(void **state)
{
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	config_set(&c, "pool", "pool_min", "5", "x", &errs);
	config_set(&c, "pool", "pool_max", "3", "x", &errs);
	config_finish(&c, &errs);
	assert_one_error(&errs, "DB_POOL_MIN (5) must not be greater than "
				"DB_POOL_MAX (3)");

	errs.n = 0;
	config_set(&c, "pool", "pool_max", "5", "x", &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	config_free(&c);
}

/* Any listen_addr with a real authentication method; trust only on
 * loopback, unless auth_trust_anywhere says otherwise. */
static void test_finish_trust(void **state)
{
	static const struct {
		const char *addr;
		bool loopback;
	} cases[] = {
	    {"127.0.0.1", true},
	    {"127.1.2.3", true},
	    {"localhost", true},
	    {"::1", true},
	    {"0:0:0:0:0:0:0:1", true},
	    {"0.0.0.0", false},
	    {"::", false},
	    {"10.0.0.1", false},
	    {"128.0.0.1", false},
	    {"127.1", false},
	    {"example.com", false},
	    {"::ffff:10.0.0.1", false},
	};
	static const char *const auth[] = {"scram-sha-256", "md5", "trust"};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		for (size_t a = 0; a < ARRAY_LEN(auth); a++) {
			for (int anywhere = 0; anywhere < 2; anywhere++) {
				struct config c;
				struct config_errors errs = {0};
				char want[CONFIG_ERROR_LEN];

				config_defaults(&c);
				config_set(&c, "pitlane", "listen_addr",
					   cases[i].addr, "x", &errs);
				config_set(&c, "pitlane", "auth_type", auth[a],
					   "x", &errs);
				config_set(&c, "pitlane", "auth_trust_anywhere",
					   anywhere ? "yes" : "no", "x", &errs);
				config_finish(&c, &errs);
				if (cases[i].loopback || anywhere ||
				    strcmp(auth[a], "trust") != 0) {
					assert_no_errors(&errs);
				} else {
					snprintf(want, sizeof(want),
						 "auth_type trust accepts "
						 "anyone: listen_addr \"%s\" "
						 "is not a loopback address "
						 "(set auth_trust_anywhere = "
						 "yes to allow it)",
						 cases[i].addr);
					assert_one_error(&errs, want);
				}
				config_free(&c);
			}
		}
	}
}

struct tls_case {
	const char *set[5][2]; /* [pitlane] key, value */
	enum tls_mode mode;    /* after config_finish */
	const char *msgs[3];
};

#define CERT                                                                   \
	{                                                                      \
		"tls_cert_file", "/s.crt"                                      \
	}
#define KEY                                                                    \
	{                                                                      \
		"tls_key_file", "/s.key"                                       \
	}
#define CA                                                                     \
	{                                                                      \
		"tls_ca_file", "/ca.crt"                                       \
	}
#define MODE(m)                                                                \
	{                                                                      \
		"tls_mode", m                                                  \
	}

static const struct tls_case tls_cases[] = {
    {{{NULL}}, TLS_DISABLE, {NULL}},
    {{CERT, KEY}, TLS_PREFER, {NULL}},
    {{CERT, KEY, CA}, TLS_PREFER, {NULL}},
    {{CERT},
     TLS_DISABLE,
     {"tls_cert_file is set but tls_key_file is not: set both or neither"}},
    {{KEY, MODE("disable")},
     TLS_DISABLE,
     {"tls_key_file is set but tls_cert_file is not: set both or neither"}},
    {{CERT, KEY, MODE("disable")}, TLS_DISABLE, {NULL}},
    {{MODE("disable")}, TLS_DISABLE, {NULL}},
    {{MODE("allow")},
     TLS_ALLOW,
     {"tls_mode allow needs tls_cert_file and tls_key_file: neither is "
      "set"}},
    {{MODE("prefer"), KEY},
     TLS_PREFER,
     {"tls_mode prefer needs tls_cert_file and tls_key_file: tls_cert_file "
      "is not set"}},
    {{MODE("prefer"), CERT, KEY}, TLS_PREFER, {NULL}},
    {{MODE("require")},
     TLS_REQUIRE,
     {"tls_mode require needs tls_cert_file and tls_key_file: neither is "
      "set"}},
    {{MODE("require"), CERT},
     TLS_REQUIRE,
     {"tls_mode require needs tls_cert_file and tls_key_file: tls_key_file "
      "is not set"}},
    {{MODE("require"), CERT, KEY}, TLS_REQUIRE, {NULL}},
    {{MODE("verify-ca"), KEY},
     TLS_VERIFY_CA,
     {"tls_mode verify-ca needs tls_cert_file and tls_key_file: "
      "tls_cert_file is not set",
      "tls_mode verify-ca needs tls_ca_file to verify client certificates"}},
    {{MODE("verify-full"), CERT, KEY},
     TLS_VERIFY_FULL,
     {"tls_mode verify-full needs tls_ca_file to verify client "
      "certificates"}},
    {{MODE("verify-full"), CERT, KEY, CA}, TLS_VERIFY_FULL, {NULL}},
    {{MODE("verify-ca"), CERT, KEY, CA}, TLS_VERIFY_CA, {NULL}},
    {{{"auth_type", "cert"}},
     TLS_DISABLE,
     {"auth_type cert needs client certificates: tls_mode must be verify-ca "
      "or verify-full, not disable"}},
    {{{"auth_type", "cert"}, CERT, KEY, CA},
     TLS_PREFER,
     {"auth_type cert needs client certificates: tls_mode must be verify-ca "
      "or verify-full, not prefer"}},
    {{{"auth_type", "cert"}, MODE("require"), CERT, KEY, CA},
     TLS_REQUIRE,
     {"auth_type cert needs client certificates: tls_mode must be verify-ca "
      "or verify-full, not require"}},
    {{{"auth_type", "cert"}, MODE("verify-ca"), CERT, KEY, CA},
     TLS_VERIFY_CA,
     {NULL}},
    {{{"auth_type", "cert"}, MODE("verify-full")},
     TLS_VERIFY_FULL,
     {"tls_mode verify-full needs tls_cert_file and tls_key_file: neither "
      "is set",
      "tls_mode verify-full needs tls_ca_file to verify client "
      "certificates"}},
    {{{"auth_type", "cert"}, MODE("disable"), CERT},
     TLS_DISABLE,
     {"tls_cert_file is set but tls_key_file is not: set both or neither",
      "auth_type cert needs client certificates: tls_mode must be verify-ca "
      "or verify-full, not disable"}},
};

#undef CERT
#undef KEY
#undef CA
#undef MODE

/* config_finish: tls_mode resolved when unset, the files each mode needs,
 * and auth_type cert only with client certificates. */
static void test_finish_tls(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(tls_cases); i++) {
		const struct tls_case *t = &tls_cases[i];
		struct config c;
		struct config_errors errs = {0};
		unsigned n = 0;

		config_defaults(&c);
		for (size_t j = 0; j < ARRAY_LEN(t->set) && t->set[j][0]; j++)
			assert_true(config_set(&c, "pitlane", t->set[j][0],
					       t->set[j][1], "x", &errs));
		assert_no_errors(&errs);
		config_finish(&c, &errs);
		while (n < ARRAY_LEN(t->msgs) && t->msgs[n] != NULL)
			n++;
		if (errs.n != n) {
			print_error("case %zu: want %u errors\n", i, n);
			for (unsigned j = 0; j < errs.n; j++)
				print_error("case %zu: %s\n", i, errs.msg[j]);
			fail();
		}
		for (unsigned j = 0; j < n; j++)
			assert_string_equal(errs.msg[j], t->msgs[j]);
		assert_int_equal(c.tls_mode, t->mode);
		config_free(&c);
	}
}

/* max_packet_size: bytes, or whole kB, MB or GB (1024-based), within
 * 1MB..1GB; printed in the largest unit that divides it. */
static void test_max_packet_size(void **state)
{
	static const struct {
		const char *value;
		long bytes; /* -1: invalid */
		const char *printed;
	} cases[] = {
	    {"1MB", 1048576, "1MB"},
	    {"1048576", 1048576, "1MB"},
	    {"1024kB", 1048576, "1MB"},
	    {"1025kB", 1049600, "1025kB"},
	    {"1048577", 1048577, "1048577"},
	    {"512MB", 536870912, "512MB"},
	    {"1GB", 1073741824, "1GB"},
	    {"1024MB", 1073741824, "1GB"},
	    {"1048576kB", 1073741824, "1GB"},
	    {"1073741824", 1073741824, "1GB"},
	    {"0001GB", 1073741824, "1GB"},
	    {"1073741825", -1, NULL},
	    {"1048575", -1, NULL},
	    {"1023kB", -1, NULL},
	    {"0MB", -1, NULL},
	    {"0", -1, NULL},
	    {"2GB", -1, NULL},
	    {"1025MB", -1, NULL},
	    {"99999999999999999999GB", -1, NULL},
	    {"1gb", -1, NULL},
	    {"1Gb", -1, NULL},
	    {"1KB", -1, NULL},
	    {"1kb", -1, NULL},
	    {"1mB", -1, NULL},
	    {"1 GB", -1, NULL},
	    {"1GB ", -1, NULL},
	    {" 1GB", -1, NULL},
	    {"1B", -1, NULL},
	    {"1TB", -1, NULL},
	    {"1.5GB", -1, NULL},
	    {"-1GB", -1, NULL},
	    {"+1GB", -1, NULL},
	    {"GB", -1, NULL},
	    {"0x100000", -1, NULL},
	    {"", -1, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct config c;
		struct config_errors errs = {0};
		char want[CONFIG_ERROR_LEN], *text;

		config_defaults(&c);
		config_set(&c, "pitlane", "max_packet_size", "2MB", "x", &errs);
		assert_true(config_set(&c, "pitlane", "max_packet_size",
				       cases[i].value, "max_packet_size",
				       &errs));
		if (cases[i].bytes >= 0) {
			assert_no_errors(&errs);
			assert_true(c.max_packet_size == cases[i].bytes);
			text = print_config(&c);
			snprintf(want, sizeof(want), "\nmax_packet_size = %s\n",
				 cases[i].printed);
			if (strstr(text, want) == NULL) {
				print_error("%s: %s not in:\n%s",
					    cases[i].value, want, text);
				fail();
			}
			free(text);
		} else {
			snprintf(want, sizeof(want),
				 "max_packet_size must be a size from 1MB to "
				 "1GB, in bytes or with a unit kB, MB or GB, "
				 "got \"%s\"",
				 cases[i].value);
			assert_one_error(&errs, want);
			assert_true(c.max_packet_size == 2L * 1024 * 1024);
		}
		config_free(&c);
	}
}

static void test_finish_unix_socket_dir(void **state)
{
	char dir[200];
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	config_defaults(&c);
	config_set(&c, "pitlane", "unix_socket_dir", dir, "x", &errs);
	config_finish(&c, &errs);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msg[0], "is too long"));
	config_free(&c);
}

/* The password reaches libpq and nothing else: not an error message (from
 * any source, even misplaced), not the printed configuration. */
static void test_password_never_shown(void **state)
{
	const char *path = write_ini("[pitlane]\n"
				     "password = " SECRET "\n"
				     "[pool]\n"
				     "password = " SECRET "\n" SECRET "\n"
				     "pool_max = abc\n");
	char *const envp[] = {"DB_PASSWORD=" SECRET, "DB_POOL_MAX=x", NULL};
	struct config c;
	struct config_errors errs = {0};
	char *text;

	(void)state;
	config_defaults(&c);
	config_load_file(&c, path, &errs);
	config_load_env(&c, envp, &errs);
	config_set(&c, "pool", "password", SECRET, "--password", &errs);
	config_set(&c, "pitlane", "auth_type", "trust", "x", &errs);
	config_set(&c, "pitlane", "listen_addr", "0.0.0.0", "x", &errs);
	config_finish(&c, &errs);
	assert_true(errs.n >= 4);
	for (unsigned i = 0; i < errs.n; i++)
		assert_null(strstr(errs.msg[i], "S3CRET"));

	text = print_config(&c);
	assert_null(strstr(text, "S3CRET"));
	assert_non_null(strstr(text, "\npassword = <redacted>\n"));
	free(text);

	assert_string_equal(c.password, SECRET); /* kept for the server */
	config_free(&c);
}

static void test_error_overflow(void **state)
{
	struct config_errors errs = {0};

	(void)state;
	for (int i = 0; i < CONFIG_MAX_ERRORS + 10; i++)
		config_error(&errs, "error %d", i);
	assert_int_equal(errs.n, CONFIG_MAX_ERRORS);
	assert_string_equal(errs.msg[CONFIG_MAX_ERRORS - 1], "error 63");
}

static void test_pool_mode_name(void **state)
{
	(void)state;
	assert_string_equal(config_pool_mode_name(POOL_MODE_SESSION),
			    "session");
	assert_string_equal(config_pool_mode_name(POOL_MODE_TRANSACTION),
			    "transaction");
	assert_string_equal(config_pool_mode_name(POOL_MODE_STATEMENT),
			    "statement");
}

static void test_enum_names(void **state)
{
	(void)state;
	assert_string_equal(config_auth_type_name(AUTH_SCRAM), "scram-sha-256");
	assert_string_equal(config_auth_type_name(AUTH_MD5), "md5");
	assert_string_equal(config_auth_type_name(AUTH_CERT), "cert");
	assert_string_equal(config_auth_type_name(AUTH_TRUST), "trust");
	assert_string_equal(config_tls_mode_name(TLS_DISABLE), "disable");
	assert_string_equal(config_tls_mode_name(TLS_ALLOW), "allow");
	assert_string_equal(config_tls_mode_name(TLS_PREFER), "prefer");
	assert_string_equal(config_tls_mode_name(TLS_REQUIRE), "require");
	assert_string_equal(config_tls_mode_name(TLS_VERIFY_CA), "verify-ca");
	assert_string_equal(config_tls_mode_name(TLS_VERIFY_FULL),
			    "verify-full");
	assert_string_equal(config_tls_mode_name(TLS_AUTO), "auto");
	assert_string_equal(config_tls_version_name(TLS_VERSION_1_2),
			    "TLSv1.2");
	assert_string_equal(config_tls_version_name(TLS_VERSION_1_3),
			    "TLSv1.3");
}

/* Every setting has a unique key (SET and SHOW CONFIG name it without its
 * section), and config_setting_info reports it in config_print's order with
 * its value, default and whether it can change at runtime. */
static void test_setting_info(void **state)
{
	struct config c;
	struct config_errors errs = {0};
	struct config_setting_info info;
	unsigned n = config_setting_count();
	char *text;

	(void)state;
	config_defaults(&c);
	config_set(&c, "pool", "password", SECRET, "x", &errs);
	config_set(&c, "pool", "pool_max", "7", "x", &errs);
	config_set(&c, "pitlane", "query_timeout", "1.5", "x", &errs);
	config_set(&c, "pitlane", "admin_users", "ops", "x", &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	text = print_config(&c);
	assert_true(n > 40);
	for (unsigned i = 0; i < n; i++) {
		char line[1200];

		config_setting_info(&c, i, &info);
		assert_int_equal(config_setting_index(NULL, info.key), (int)i);
		assert_int_equal(config_setting_index(info.section, info.key),
				 (int)i);
		assert_null(strstr(info.value, "S3CRET"));
		assert_non_null(info.env);
		/* config_print writes the same value. */
		if (info.value[0] != '\0') {
			snprintf(line, sizeof(line), "\n%s = %s\n", info.key,
				 info.value);
			assert_non_null(strstr(text, line));
		}
	}
	free(text);

	config_setting_info(
	    &c, (unsigned)config_setting_index("pool", "pool_max"), &info);
	assert_string_equal(info.section, "pool");
	assert_string_equal(info.env, "DB_POOL_MAX");
	assert_string_equal(info.value, "7");
	assert_string_equal(info.def, "10");
	assert_true(info.changeable);
	config_setting_info(
	    &c, (unsigned)config_setting_index(NULL, "query_timeout"), &info);
	assert_string_equal(info.value, "1.5");
	assert_string_equal(info.def, "0");
	config_setting_info(
	    &c, (unsigned)config_setting_index(NULL, "password"), &info);
	assert_string_equal(info.value, "<redacted>");
	assert_string_equal(info.def, "");
	config_setting_info(&c, (unsigned)config_setting_index(NULL, "sslcert"),
			    &info);
	assert_string_equal(info.value, "");
	config_setting_info(
	    &c, (unsigned)config_setting_index(NULL, "listen_port"), &info);
	assert_string_equal(info.section, "pitlane");
	assert_string_equal(info.value, "6432");
	assert_false(info.changeable);
	config_setting_info(
	    &c, (unsigned)config_setting_index(NULL, "admin_users"), &info);
	assert_string_equal(info.value, "ops");
	assert_string_equal(info.env, "PITLANE_ADMIN_USERS");

	assert_int_equal(config_setting_index(NULL, "nope"), -1);
	assert_int_equal(config_setting_index("pitlane", "pool_max"), -1);
	config_free(&c);

	/* An unset password shows as empty, not redacted. */
	config_defaults(&c);
	config_setting_info(
	    &c, (unsigned)config_setting_index(NULL, "password"), &info);
	assert_string_equal(info.value, "");
	config_free(&c);
}

/* What a running pitlane can change: not the sockets, the pool mode or the
 * sizes fixed at start; everything else, the backend target included. */
static void test_changeable(void **state)
{
	static const char *const fixed[] = {
	    "listen_addr",     "listen_port",
	    "unix_socket_dir", "takeover_socket",
	    "so_reuseport",    "peer_id",
	    "peers",	       "pool_mode",
	    "max_client_conn", "max_prepared_statements",
	    "http_addr",       "http_port"};
	static const char *const live[] = {"log_format",
					   "log_level",
					   "shutdown_timeout_ms",
					   "query_timeout",
					   "client_idle_timeout",
					   "idle_transaction_timeout",
					   "server_lifetime",
					   "server_check_delay",
					   "server_reset_query",
					   "server_check_query",
					   "auth_type",
					   "auth_file",
					   "hba_file",
					   "auth_trust_anywhere",
					   "tls_mode",
					   "tls_cert_file",
					   "tls_key_file",
					   "tls_ca_file",
					   "tls_ciphers",
					   "tls_min_version",
					   "client_login_timeout",
					   "max_packet_size",
					   "stats_period",
					   "admin_users",
					   "stats_users",
					   "autodb_idle_timeout",
					   "max_db_connections",
					   "max_user_connections",
					   "reserve_pool",
					   "reserve_pool_timeout",
					   "auth_user",
					   "auth_query",
					   "auth_dbname",
					   "host",
					   "port",
					   "dbname",
					   "user",
					   "password",
					   "pool_max",
					   "pool_min",
					   "idle_timeout_ms",
					   "connect_timeout_ms",
					   "sslmode",
					   "sslrootcert",
					   "sslcert",
					   "sslkey",
					   "target_session_attrs"};

	(void)state;
	assert_int_equal(ARRAY_LEN(fixed) + ARRAY_LEN(live),
			 config_setting_count());
	for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
		assert_int_not_equal(config_setting_index(NULL, fixed[i]), -1);
		assert_false(config_changeable(NULL, fixed[i]));
	}
	for (size_t i = 0; i < ARRAY_LEN(live); i++) {
		if (!config_changeable(NULL, live[i]))
			fail_msg("%s should be changeable", live[i]);
	}
	assert_true(config_changeable("pool", "pool_max"));
	assert_false(config_changeable("pitlane", "pool_max"));
	assert_false(config_changeable(NULL, "nope"));
	assert_false(config_changeable("pool", "listen_port"));
}

static void test_user_listed(void **state)
{
	(void)state;
	assert_true(config_user_listed("ops", "ops"));
	assert_true(config_user_listed("ops,root", "root"));
	assert_true(config_user_listed(" ops ,\troot\t", "ops"));
	assert_true(config_user_listed(" ops ,\troot\t", "root"));
	assert_true(config_user_listed("a b,c", "a b"));
	assert_false(config_user_listed("ops,root", "op"));
	assert_false(config_user_listed("ops,root", "ops,root"));
	assert_false(config_user_listed("ops,root", "roo"));
	assert_false(config_user_listed("ops,root", "rooted"));
	assert_false(config_user_listed("Ops", "ops"));
	assert_false(config_user_listed("ops", ""));
	assert_false(config_user_listed(NULL, "ops"));
	assert_false(config_user_listed("ops", NULL));
}

/* What a reload compares and carries over: config_setting_equal and
 * config_setting_copy for every kind of setting, config_copy. */
static void test_setting_equal_copy(void **state)
{
	static const char *const changes[][2] = {
	    {"listen_addr", "::1"},	{"unix_socket_dir", "/run/x"},
	    {"log_level", "debug"},	{"pool_max", "3"},
	    {"query_timeout", "1.5"},	{"auth_trust_anywhere", "yes"},
	    {"max_packet_size", "2MB"}, {"tls_mode", "require"},
	    {"admin_users", "ops"},	{"password", SECRET},
	    {"server_reset_query", ""},
	};
	struct config a, b;
	struct config_errors errs = {0};
	unsigned n = config_setting_count();

	(void)state;
	config_defaults(&a);
	config_defaults(&b);
	for (unsigned i = 0; i < n; i++)
		assert_true(config_setting_equal(&a, &b, i));
	for (size_t k = 0; k < ARRAY_LEN(changes); k++) {
		struct config_setting_info info;
		int i = config_setting_index(NULL, changes[k][0]);

		config_setting_info(&a, (unsigned)i, &info);
		config_set(&b, info.section, info.key, changes[k][1], "x",
			   &errs);
		assert_no_errors(&errs);
		assert_false(config_setting_equal(&a, &b, (unsigned)i));
		/* Only that setting differs. */
		for (unsigned j = 0; j < n; j++)
			if (j != (unsigned)i &&
			    !config_setting_equal(&a, &b, j))
				fail_msg("%s differs after setting %s",
					 info.key, changes[k][0]);
		config_setting_copy(&a, &b, (unsigned)i);
		assert_true(config_setting_equal(&a, &b, (unsigned)i));
	}
	assert_string_equal(a.password, SECRET);
	assert_null(a.server_reset_query);
	assert_int_equal(a.tls_mode, TLS_REQUIRE);
	config_free(&a);

	/* config_copy: all of them at once, strings duplicated. */
	config_defaults(&a);
	config_copy(&a, &b);
	for (unsigned i = 0; i < n; i++)
		assert_true(config_setting_equal(&a, &b, i));
	assert_ptr_not_equal(a.admin_users, b.admin_users);
	config_free(&b);
	assert_string_equal(a.admin_users, "ops");
	config_free(&a);
}

/* config_load: file < environment < overrides, as at startup and on every
 * reload; config_new and its reference count. */
static void test_load_sources(void **state)
{
	const char *path = write_ini("[pool]\npool_max = 4\npool_min = 1\n"
				     "[pitlane]\nlisten_port = 7001\n"
				     "log_level = warn\n");
	char *const envp[] = {"DB_POOL_MAX=5", "PITLANE_LISTEN_PORT=7002",
			      NULL};
	const struct config_override flags[] = {
	    {"listen_port", "7003", "--port"}};
	const struct config_override bad_flags[] = {
	    {"listen_port", "z", "--port"}};
	struct config_sources src = {
	    .file = path, .envp = envp, .overrides = flags, .n_overrides = 1};
	struct config_errors errs = {0};
	struct config *c = config_new();
	const struct config *held;

	(void)state;
	assert_int_equal(c->refs, 1);
	config_load(c, &src, &errs);
	config_finish(c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c->pool_max, 5);
	assert_int_equal(c->pool_min, 1);
	assert_int_equal(c->listen_port, 7003);
	assert_int_equal(c->log_level, LOG_LEVEL_WARN);
	held = config_hold(c);
	assert_ptr_equal(held, c);
	assert_int_equal(c->refs, 2);
	config_release(c);
	assert_int_equal(held->refs, 1);
	assert_string_equal(held->pool_name, "postgres");
	config_release(held);
	config_release(NULL);

	/* Errors from every source, in order. */
	src.file = write_ini("[pool]\npool_max = x\n");
	src.envp = (char *const[]){"DB_POOL_MIN=y", NULL};
	src.overrides = bad_flags;
	c = config_new();
	config_load(c, &src, &errs);
	assert_int_equal(errs.n, 3);
	assert_non_null(strstr(errs.msg[0], "pool_max"));
	assert_string_equal(errs.msg[1], "DB_POOL_MIN must be an integer from "
					 "0 to 10000, got \"y\"");
	assert_string_equal(errs.msg[2], "--port must be an integer from 0 to "
					 "65535, got \"z\"");
	config_release(c);
}

/* Loads text as an INI file into c (defaults first); errors into errs. */
static const char *load_text(struct config *c, const char *text,
			     struct config_errors *errs)
{
	const char *path = write_ini(text);

	config_defaults(c);
	config_load_file(c, path, errs);
	return path;
}

static void test_databases(void **state)
{
	struct config c;
	struct config_errors errs = {0};
	const struct db_entry *e;

	(void)state;
	load_text(&c,
		  "[pool]\n"
		  "dbname = main\n"
		  "user = owner\n"
		  "password = pw\n"
		  "pool_max = 8\n"
		  "pool_min = 3\n"
		  "[databases]\n"
		  "; a comment\n"
		  "# another\n"
		  "\n"
		  "appdb = host=db1,db2 port=5432 dbname=app "
		  "target_session_attrs=read-write\n"
		  "  appdb_ro=host=db1,db2 dbname=app "
		  "target_session_attrs=prefer-standby pool_size=4\n"
		  "* = host=db3 min_pool_size=1\n"
		  "[users]\n"
		  "alice = pool_mode=session max_user_connections=5\n"
		  "bob =\n",
		  &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 3); /* no default entry before finish */
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 4);
	e = &c.dbs[0];
	assert_true(e->is_default);
	assert_string_equal(e->alias, "main");
	assert_string_equal(e->host, "localhost");
	assert_string_equal(e->port, "5432");
	assert_string_equal(e->dbname, "main");
	assert_string_equal(e->user, "owner");
	assert_string_equal(e->password, "pw");
	assert_int_equal(e->pool_size, 8);
	assert_int_equal(e->min_pool_size, 3);
	assert_int_equal(e->pool_mode, DBCONF_UNSET);

	e = config_find_db(&c, "appdb");
	assert_ptr_equal(e, &c.dbs[1]);
	assert_false(e->is_default);
	assert_string_equal(e->host, "db1,db2");
	assert_null(e->user); /* clients log in as themselves */
	assert_int_equal(e->target_session_attrs, DBCONF_TSA_READ_WRITE);
	assert_int_equal(e->pool_size, 8); /* pool_max */
	assert_int_equal(e->min_pool_size, 3);
	e = config_find_db(&c, "appdb_ro");
	assert_ptr_equal(e, &c.dbs[2]);
	assert_int_equal(e->pool_size, 4);
	assert_int_equal(e->min_pool_size, 3);
	assert_ptr_equal(config_find_db(&c, "main"), &c.dbs[0]);
	assert_ptr_equal(config_find_db(&c, "other"), &c.dbs[3]);
	assert_string_equal(c.dbs[3].alias, "*");
	assert_int_equal(c.dbs[3].min_pool_size, 1);

	assert_int_equal(c.nusers, 2);
	assert_int_equal(config_find_user(&c, "alice")->pool_mode,
			 POOL_MODE_SESSION);
	assert_int_equal(config_find_user(&c, "alice")->max_user_connections,
			 5);
	assert_int_equal(config_find_user(&c, "bob")->max_user_connections,
			 DBCONF_UNSET);
	assert_null(config_find_user(&c, "carol"));

	/* Finishing again (SET finishes a copy) keeps one default entry,
	 * made from the current [pool]. */
	config_set(&c, "pool", "pool_max", "9", "x", &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 4);
	assert_int_equal(c.dbs[0].pool_size, 9);
	assert_false(c.dbs[1].is_default);
	config_free(&c);
	assert_int_equal(c.ndbs, 0);
	assert_null(c.dbs);
}

/* Without a "*" entry, an unknown name has no entry; without any entry the
 * default one is all there is. */
static void test_find_db_default_only(void **state)
{
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	assert_null(config_find_db(&c, "postgres")); /* before finish */
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 1);
	assert_ptr_equal(config_find_db(&c, "postgres"), &c.dbs[0]);
	assert_null(config_find_db(&c, "other"));
	assert_null(config_find_user(&c, "postgres"));
	assert_null(c.dbs[0].password);
	config_free(&c);
}

/* The default entry follows DB_* from the environment, applied after the
 * file. */
static void test_default_db_env(void **state)
{
	char *envp[] = {"DB_NAME=fromenv", "DB_HOST=h1,h2", "DB_PORT=6000",
			NULL};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	load_text(&c, "[databases]\nx = dbname=y\n", &errs);
	config_load_env(&c, envp, &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_string_equal(c.dbs[0].alias, "fromenv");
	assert_string_equal(c.dbs[0].host, "h1,h2");
	assert_string_equal(c.dbs[0].port, "6000");
	assert_string_equal(c.dbs[1].alias, "x");
	config_free(&c);
}

/* inih (Debian's: INI_MAX_LINE 200) would cut a line of [databases];
 * pitlane reads those itself, at any length. */
static void test_databases_long_line(void **state)
{
	size_t n = 3000;
	char *text = malloc(n + 200), *pw = malloc(n + 1);
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	memset(pw, 'p', n);
	pw[n] = '\0';
	snprintf(text, n + 200,
		 "[databases]\nbig = password='%s' dbname=b\n"
		 "[pool]\nport = 7\n",
		 pw);
	load_text(&c, text, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 1);
	assert_int_equal(strlen(c.dbs[0].password), n);
	assert_string_equal(c.dbs[0].dbname, "b");
	assert_int_equal(c.port, 7);
	config_free(&c);
	free(text);
	free(pw);
}

/* " ;" starts a comment as inih has it, except inside a quoted value or
 * escaped by a backslash; '#' starts a comment only at a line's start. */
static void test_databases_comments(void **state)
{
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	load_text(&c,
		  "[databases]\n"
		  "a = password='x ;y' dbname=d ; a comment\n"
		  "b = dbname=d;e\n"
		  "c = dbname=d ;e=1\n"
		  "d = password='it''s ;' ;x\n"
		  "e = password='it\\'s ;' ; x\n"
		  "f = password=a\\ ;b\n"
		  "# g = dbname=x\n"
		  "  ; h = dbname=x\n",
		  &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.ndbs, 6);
	assert_string_equal(c.dbs[0].password, "x ;y");
	assert_string_equal(c.dbs[0].dbname, "d");
	assert_string_equal(c.dbs[1].dbname, "d;e");
	assert_string_equal(c.dbs[2].dbname, "d");
	assert_string_equal(c.dbs[3].password, "it's ;");
	assert_string_equal(c.dbs[4].password, "it's ;");
	assert_string_equal(c.dbs[5].password, "a ;b");
	config_free(&c);
}

struct entry_error_case {
	const char *text;
	const char *msg; /* %1$s: the file */
};

static const struct entry_error_case entry_errors[] = {
    {"[databases]\nappdb = pool_mode=fast\n",
     "%1$s:2: databases.appdb: pool_mode: \"fast\" is not one of session, "
     "transaction, statement"},
    {"[databases]\n\nappdb = port=0\n",
     "%1$s:3: databases.appdb: port: \"0\" is not a comma-separated list of "
     "ports from 1 to 65535"},
    {"[databases]\na = dbname=x\nb = dbname=y\na = dbname=z\n",
     "%1$s:4: databases.a: the alias is given twice in [databases]"},
    {"[databases]\njust text\n",
     "%1$s:2: syntax error in [databases]: expected \"alias = "
     "key=value ...\""},
    {"[databases]\n= dbname=x\n",
     "%1$s:2: syntax error in [databases]: expected \"alias = "
     "key=value ...\""},
    {"[databases]\n"
     "a234567890123456789012345678901234567890123456789012345678901234 = "
     "dbname=x\n",
     "%1$s:2: databases."
     "a234567890123456789012345678901234567890123456789012345678901234: the "
     "alias is longer than 63 bytes"},
    {"[databases]\nx = dbname=y foo=1 ; comment\n",
     "%1$s:2: databases.x: unknown key \"foo\": the keys are host, port, "
     "dbname, user, password, pool_size, min_pool_size, reserve_pool, "
     "pool_mode, max_db_connections, connect_query, target_session_attrs, "
     "load_balance_hosts, application_name, client_encoding, datestyle, "
     "timezone"},
    {"[databases]\nx = dbname=d #e\n",
     "%1$s:2: databases.x: #e: expected \"=\" and a value after the key"},
    {"[databases]\nx = password='x ;y\n",
     "%1$s:2: databases.x: password: the quoted value has no closing quote "
     "(write a quote inside it as '' or \\')"},
    {"[users]\nbob = pool_mode=x\n",
     "%1$s:2: users.bob: pool_mode: \"x\" is not one of session, "
     "transaction, statement"},
    {"[users]\nbob = max_user_connections=1\nbob = pool_mode=session\n",
     "%1$s:3: users.bob: the user is given twice in [users]"},
    {"[users]\nbob\n",
     "%1$s:2: syntax error in [users]: expected \"name = key=value ...\""},
};

static void test_databases_errors(void **state)
{
	char want[CONFIG_ERROR_LEN];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(entry_errors); i++) {
		struct config c;
		struct config_errors errs = {0};
		const char *path = load_text(&c, entry_errors[i].text, &errs);

		snprintf(want, sizeof(want), entry_errors[i].msg, path);
		assert_one_error(&errs, want);
		config_free(&c);
	}
}

/* Checks config_finish makes: the default entry's name, min_pool_size
 * against the pool_max it falls back to, auth_query. */
static void test_databases_finish_errors(void **state)
{
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	load_text(&c, "[pool]\ndbname = app\n[databases]\napp = dbname=x\n",
		  &errs);
	assert_no_errors(&errs);
	config_finish(&c, &errs);
	assert_one_error(&errs,
			 "databases.app: the alias is the name of the default "
			 "database (pool_name \"app\", from [pool] dbname / "
			 "DB_NAME): rename the [databases] entry or change "
			 "DB_NAME");
	config_free(&c);

	errs.n = 0;
	load_text(&c,
		  "[pool]\npool_max = 4\npool_min = 1\n"
		  "[databases]\nx = min_pool_size=5\n",
		  &errs);
	config_finish(&c, &errs);
	assert_one_error(&errs, "databases.x: min_pool_size (5) must not be "
				"greater than pool_size (4, from pool_max)");
	config_free(&c);

	errs.n = 0;
	load_text(&c, "[pitlane]\nauth_user = pgb\nauth_query =\n", &errs);
	config_finish(&c, &errs);
	assert_one_error(&errs, "auth_user is set but auth_query is empty: set "
				"auth_query or unset auth_user");
	config_free(&c);

	errs.n = 0;
	load_text(&c,
		  "[pitlane]\nauth_user = pgb\n"
		  "auth_query = SELECT usename, passwd FROM pg_shadow\n",
		  &errs);
	config_finish(&c, &errs);
	assert_one_error(&errs,
			 "auth_query \"SELECT usename, passwd FROM pg_shadow\" "
			 "has no $1: the user name is passed as parameter $1");
	config_free(&c);

	/* Without auth_user, auth_query is not used and not checked. */
	errs.n = 0;
	load_text(&c, "[pitlane]\nauth_query = SELECT 1\n", &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	config_free(&c);
}

static void test_multidb_settings(void **state)
{
	char *envp[] = {"PITLANE_AUTODB_IDLE_TIMEOUT=60.5",
			"PITLANE_MAX_DB_CONNECTIONS=40",
			"PITLANE_MAX_USER_CONNECTIONS=30",
			"PITLANE_AUTH_USER=pgbouncer",
			"PITLANE_AUTH_QUERY=SELECT * FROM lookup($1)",
			"PITLANE_AUTH_DBNAME=authdb",
			NULL};
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.autodb_idle_timeout_ms, 3600000);
	assert_int_equal(c.max_db_connections, 0);
	assert_int_equal(c.max_user_connections, 0);
	assert_null(c.auth_user);
	assert_string_equal(c.auth_query, "SELECT usename, passwd FROM "
					  "pg_shadow WHERE usename=$1");
	assert_null(c.auth_dbname);
	config_load_env(&c, envp, &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	assert_int_equal(c.autodb_idle_timeout_ms, 60500);
	assert_int_equal(c.max_db_connections, 40);
	assert_int_equal(c.max_user_connections, 30);
	assert_string_equal(c.auth_user, "pgbouncer");
	assert_string_equal(c.auth_query, "SELECT * FROM lookup($1)");
	assert_string_equal(c.auth_dbname, "authdb");
	config_set(&c, "pitlane", "max_db_connections", "-1", "x", &errs);
	config_set(&c, "pitlane", "autodb_idle_timeout", "0", "y", &errs);
	assert_int_equal(errs.n, 2);
	assert_true(config_changeable("pitlane", "auth_query"));
	assert_true(config_changeable("pitlane", "autodb_idle_timeout"));
	config_free(&c);
}

/* config_print writes [databases] and [users] (password redacted) so that
 * they read back the same; config_copy copies them. */
static void test_databases_print_copy(void **state)
{
	struct config c, again, copy;
	struct config_errors errs = {0};
	char *text, *text2;
	const char *path;

	(void)state;
	load_text(&c,
		  "[databases]\n"
		  "appdb = host=db1,db2 port=5432,5433 dbname=app user=u "
		  "password='" SECRET "' reserve_pool=2 pool_mode=statement "
		  "max_db_connections=9 connect_query='SET a = ''b''' "
		  "target_session_attrs=read-only load_balance_hosts=random "
		  "application_name='my app' client_encoding=UTF8 "
		  "datestyle='ISO, DMY' timezone='Europe/Paris'\n"
		  "odd = dbname='a\\\\b;c#d'\n"
		  "[users]\n"
		  "alice = pool_mode=transaction max_user_connections=0\n"
		  "bob =\n",
		  &errs);
	config_finish(&c, &errs);
	assert_no_errors(&errs);
	text = print_config(&c);
	assert_null(strstr(text, SECRET));
	assert_non_null(strstr(
	    text, "\n\n[databases]\n"
		  "appdb = host=db1,db2 port=5432,5433 dbname=app user=u "
		  "password=<redacted> pool_size=10 min_pool_size=2 "
		  "reserve_pool=2 pool_mode=statement max_db_connections=9 "
		  "connect_query='SET a = \\'b\\'' "
		  "target_session_attrs=read-only load_balance_hosts=random "
		  "application_name='my app' client_encoding=UTF8 "
		  "datestyle='ISO, DMY' timezone=Europe/Paris\n"
		  "odd = dbname='a\\\\b;c#d' pool_size=10 min_pool_size=2\n"
		  "\n[users]\n"
		  "alice = pool_mode=transaction max_user_connections=0\n"
		  "bob =\n"));
	path = write_ini(text);
	config_defaults(&again);
	config_load_file(&again, path, &errs);
	config_finish(&again, &errs);
	assert_no_errors(&errs);
	assert_string_equal(again.dbs[2].dbname, "a\\b;c#d");
	assert_string_equal(again.dbs[1].connect_query, "SET a = 'b'");
	text2 = print_config(&again);
	assert_string_equal(text, text2);
	free(text2);

	config_defaults(&copy);
	config_copy(&copy, &c);
	assert_int_equal(copy.ndbs, c.ndbs);
	assert_int_equal(copy.nusers, 2);
	assert_ptr_not_equal(copy.dbs[1].host, c.dbs[1].host);
	assert_string_equal(copy.dbs[1].password, SECRET);
	config_free(&c);
	config_finish(&copy, &errs);
	assert_no_errors(&errs);
	text2 = print_config(&copy);
	assert_string_equal(text, text2);
	free(text2);
	free(text);
	config_free(&copy);
	config_free(&again);
}

/* Lines are read up to 64 kB; a longer one is reported and skipped. At
 * most 512 [databases] entries. */
static void test_databases_limits(void **state)
{
	size_t n = 70000, cap = n + 20 * 600 + 200, used;
	char *text = malloc(cap), want[CONFIG_ERROR_LEN];
	const char *path;
	struct config c;
	struct config_errors errs = {0};

	(void)state;
	used = (size_t)snprintf(text, cap, "[databases]\nbig = dbname=");
	memset(text + used, 'x', n);
	used += n;
	used += (size_t)snprintf(text + used, cap - used,
				 "\nok = dbname=y\n[pool]\nport = 7\n");
	path = load_text(&c, text, &errs);
	snprintf(want, sizeof(want), "%s:2: line is longer than 65536 bytes",
		 path);
	assert_one_error(&errs, want);
	assert_int_equal(c.ndbs, 1);
	assert_string_equal(c.dbs[0].alias, "ok");
	assert_int_equal(c.port, 7);
	config_free(&c);

	/* 65536 bytes and the newline: just fits. */
	used = (size_t)snprintf(text, cap, "[databases]\n");
	used += (size_t)snprintf(text + used, cap - used, "big = dbname=");
	memset(text + used, 'x', 65536 - strlen("big = dbname="));
	used += 65536 - strlen("big = dbname=");
	snprintf(text + used, cap - used, "\n");
	errs.n = 0;
	load_text(&c, text, &errs);
	assert_int_equal(errs.n, 1); /* dbname is at most 4096 bytes */
	assert_non_null(strstr(errs.msg[0], ":2: databases.big: dbname: "));
	config_free(&c);

	used = (size_t)snprintf(text, cap, "[databases]\n");
	for (int i = 0; i < 513; i++)
		used += (size_t)snprintf(text + used, cap - used,
					 "db%d = dbname=d\n", i);
	errs.n = 0;
	path = load_text(&c, text, &errs);
	snprintf(want, sizeof(want),
		 "%s:514: databases.db512: too many entries in [databases] (at "
		 "most 512)",
		 path);
	assert_one_error(&errs, want);
	assert_int_equal(c.ndbs, 512);
	config_finish(&c, &errs);
	assert_int_equal(c.ndbs, 513);
	config_free(&c);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_invalid_values),
	    cmocka_unit_test(test_valid_values),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_query_length),
	    cmocka_unit_test(test_set_unknown),
	    cmocka_unit_test(test_env_every_setting),
	    cmocka_unit_test(test_env_all_errors),
	    cmocka_unit_test(test_env_empty),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_ini_every_setting),
	    cmocka_unit_test(test_ini_indented),
	    cmocka_unit_test(test_ini_peers),
	    cmocka_unit_test(test_print_round_trip),
	    cmocka_unit_test(test_ini_errors),
	    cmocka_unit_test(test_ini_long_line),
	    cmocka_unit_test(test_ini_nul_byte),
	    cmocka_unit_test(test_ini_unreadable),
	    cmocka_unit_test(test_finish_pool_min_max),
	    cmocka_unit_test(test_finish_trust),
	    cmocka_unit_test(test_finish_tls),
	    cmocka_unit_test(test_max_packet_size),
	    cmocka_unit_test(test_finish_unix_socket_dir),
	    cmocka_unit_test(test_password_never_shown),
	    cmocka_unit_test(test_error_overflow),
	    cmocka_unit_test(test_pool_mode_name),
	    cmocka_unit_test(test_enum_names),
	    cmocka_unit_test(test_setting_info),
	    cmocka_unit_test(test_changeable),
	    cmocka_unit_test(test_user_listed),
	    cmocka_unit_test(test_setting_equal_copy),
	    cmocka_unit_test(test_load_sources),
	    cmocka_unit_test(test_databases),
	    cmocka_unit_test(test_find_db_default_only),
	    cmocka_unit_test(test_default_db_env),
	    cmocka_unit_test(test_databases_long_line),
	    cmocka_unit_test(test_databases_limits),
	    cmocka_unit_test(test_databases_comments),
	    cmocka_unit_test(test_databases_errors),
	    cmocka_unit_test(test_databases_finish_errors),
	    cmocka_unit_test(test_multidb_settings),
	    cmocka_unit_test(test_databases_print_copy),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
