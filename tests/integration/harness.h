/* Integration-test harness: a throwaway PostgreSQL (initdb in a temporary
 * directory, dropped to an unprivileged user when run as root), the real
 * pitlane process (harness.c), its log records, libpq and raw-socket helpers
 * (harness_db.c). Every wait polls with a deadline; children and temporary
 * files are removed at exit. */
#ifndef PITLANE_TEST_HARNESS_H
#define PITLANE_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>
#include <libpq-fe.h>

#define H_DBNAME     "pitlane" /* the pool's database */
#define H_USER	     "pitlane" /* initdb superuser, the pool's user */
#define H_DIRECT_APP "pitlane-test-direct" /* direct connections' app name */
#define H_POLL_MS    20			   /* poll interval of every wait */

/* One pitlane process started by a test. Owned by the test; h_pitlane_stop
 * ends the process (if still running) and frees it. */
struct h_pitlane {
	pid_t pid;	     /* 0 once reaped */
	int status;	     /* exit code, 128+signal, -1 while running */
	int port;	     /* TCP port from the `listening` record */
	char log_path[4096]; /* stderr and stdout of the process */
};

/* Time and polling. */
int64_t h_now_ms(void);
void h_sleep_ms(int ms);
bool h_poll(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* cmocka fixtures: the group ones start PostgreSQL once per binary (with
 * database `pitlane` and table t(id int, note text)); the per-test ones
 * stop the pitlane kept in *state (SIGTERM), fail the test unless it exited
 * 0, and print its log if h_pass was not reached. */
int h_group_setup(void **state);
int h_group_teardown(void **state);
int h_test_setup(void **state);
int h_test_teardown(void **state);
void h_pass(void);

/* PostgreSQL. h_pg_start reuses the port of a previous run if there was
 * one, so a pitlane pointed at a stopped server finds it again. */
void h_pg_start(void);
void h_pg_stop(void);
int h_pg_port(void);

/* A streaming standby of that server (pg_basebackup -R), listening on
 * H_STANDBY_ADDR at the primary's port (another loopback address, so one
 * port serves a two-host list). h_standby_wait_streaming polls the
 * primary's pg_stat_replication, h_standby_wait_caught_up the standby's
 * replay position against the primary's current WAL position.
 * h_pg_crash stops the primary as a crash would (immediate shutdown);
 * h_standby_promote promotes the standby and waits until it leaves
 * recovery. After a promotion the old primary is not restarted by the
 * per-test fixture: a failover test is the last of its binary. */
#define H_STANDBY_ADDR "127.0.0.2"
void h_standby_start(void);
void h_standby_stop(void);
bool h_standby_wait_streaming(int timeout_ms);
bool h_standby_wait_caught_up(int timeout_ms);
void h_pg_crash(void);
bool h_standby_promote(int timeout_ms);
PGconn *h_standby_direct(const char *dbname);

/* The per-run temporary directory (removed at exit) for test files. */
const char *h_tmpdir(void);

/* name's path in h_tmpdir(), written into buf (cap bytes); returns buf. */
const char *h_tmp_path(const char *name, char *buf, size_t cap);

/* Replaces path's content through a rename, as an editor or a
 * configuration manager does: a reader sees the old or the new, whole. */
void h_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Drives a PQconnectStart* connection until it is made or has failed, or
 * timeout_ms passes (its status then stays CONNECTION_STARTED or so);
 * returns c. */
PGconn *h_connect_finish(PGconn *c, int timeout_ms);

/* pitlane. env holds "KEY=VALUE" overrides ("KEY" alone unsets) applied on
 * top of a pool pointed at the test server; args are extra flags after
 * "-p 0". Both lists end with NULL and may be NULL. */
struct h_pitlane *h_pitlane_spawn(const char *const *env,
				  const char *const *args);
struct h_pitlane *h_pitlane_start(const char *const *env,
				  const char *const *args);
bool h_pitlane_wait_ready(struct h_pitlane *pl, int timeout_ms);
bool h_pitlane_alive(struct h_pitlane *pl);
void h_pitlane_signal(struct h_pitlane *pl, int sig);
int h_pitlane_wait_exit(struct h_pitlane *pl, int timeout_ms);
void h_pitlane_stop(struct h_pitlane *pl);
void h_pitlane_dump_log(struct h_pitlane *pl, int max_lines);

/* The log: records are JSON objects, one a line. h_log_read returns the
 * whole file (caller frees). h_log_record copies record nth (0-based, -1
 * for the last) with the given msg into buf. */
char *h_log_read(struct h_pitlane *pl);
int h_log_count(struct h_pitlane *pl, const char *msg);
bool h_log_record(struct h_pitlane *pl, const char *msg, int nth, char *buf,
		  size_t cap);
bool h_log_wait(struct h_pitlane *pl, const char *msg, int count,
		int timeout_ms);
/* Waits up to timeout_ms for a record with msg and copies the first one
 * into buf. */
bool h_log_first(struct h_pitlane *pl, const char *msg, int timeout_ms,
		 char *buf, size_t cap);
bool h_json_int(const char *line, const char *key, long long *out);
bool h_json_str(const char *line, const char *key, char *out, size_t cap);

/* libpq. h_connect asserts success; h_connect_try returns the connection
 * whatever its status (caller checks PQstatus and calls PQfinish). extra is
 * appended to the conninfo and may be NULL. */
/* Runs `sh -c script sh args...` (args NULL-terminated, may be NULL),
 * stdout and stderr appended to log; its exit status, -1 when it did not
 * exit normally. */
int h_run_sh(const char *script, const char *const *args, const char *log);

PGconn *h_connect(struct h_pitlane *pl, const char *extra);
PGconn *h_connect_try(struct h_pitlane *pl, const char *extra);
PGconn *h_direct(const char *dbname);
/* A direct libpq connection to the PostgreSQL at host:port (h_direct: the
 * primary; h_standby_direct: the standby); fails the test on error. */
PGconn *h_direct_at(const char *host, int port, const char *dbname);
PGconn *h_admin(void);
void h_admin_close(void);
void h_exec_ok(PGconn *conn, const char *sql);
long long h_query_int(PGconn *conn, const char *sql);
const char *h_result_sqlstate(PGresult *res, char buf[6]);
const char *h_exec_sqlstate(PGconn *conn, const char *sql, char buf[6]);
void h_exec_expect(PGconn *conn, const char *sql, const char *sqlstate);

/* SCRAM pass-through setup: the SCRAM secret the test server stores for
 * role (from pg_authid), into out; an auth file of "user" "secret" pairs
 * (NULL-terminated) named name in h_tmpdir(), whose path is returned
 * (static: valid until the next call). */
void h_pg_secret(const char *role, char *out, size_t cap);
const char *h_write_authfile(const char *name, ...);

/* Messages that arrive while a connection is idle (a FATAL before the
 * close) reach libpq's notice receiver: h_capture_async stores the first
 * one's SQLSTATE in buf (which must outlive conn), h_wait_async reads the
 * socket until one arrived or the connection ended, and returns whether
 * one arrived. */
void h_capture_async(PGconn *conn, char buf[6]);
bool h_wait_async(PGconn *conn, char buf[6], int timeout_ms);

/* Backends of the pool database, direct connections excluded. */
int h_backends(void);
bool h_wait_backends(int want, int timeout_ms);

/* Raw protocol. h_raw_read_msg returns the body length of the next typed
 * message (type in *type, body in buf, truncated to cap), -1 on EOF, error
 * or timeout. h_raw_read_byte returns one byte or -1. */
int h_raw_connect(int port);
int h_raw_connect_unix(const char *dir, int port); /* DIR/.s.PGSQL.PORT */
bool h_raw_send(int fd, const void *buf, size_t len);
bool h_raw_startup(int fd, uint32_t version, const char *const *kv);
int h_raw_read_byte(int fd, int timeout_ms);
int h_raw_read_msg(int fd, char *type, unsigned char *buf, size_t cap,
		   int timeout_ms);
bool h_raw_wait_closed(int fd, int timeout_ms);
bool h_raw_err_field(const unsigned char *body, int len, char field, char *out,
		     size_t cap);
uint32_t h_be32(const unsigned char *p);

/* A loopback TCP port nothing listens on now (bound, read, closed). */
int h_free_port(void);

/* A host that accepts TCP and never answers: a non-blocking loopback
 * listener nobody accepts on (the kernel completes the handshake, nothing
 * replies to the startup packet); *port gets its port. h_silent_count
 * returns how many connections reached it since the last call (they wait
 * in its queue, even when their client closed them since). Close it when
 * done. */
int h_silent_listen(int *port);
int h_silent_count(int fd);

#endif
