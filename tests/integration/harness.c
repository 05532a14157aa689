/* Integration-test harness: child processes (PostgreSQL as an unprivileged
 * user when run as root, pitlane), log parsing, libpq and raw-socket
 * helpers. See harness.h for the contracts. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_USER_ROOT "pitlane-test" /* PostgreSQL refuses to run as root */
#define MAX_CHILDREN 64
#ifndef TEST_TIMEOUT_S
#define TEST_TIMEOUT_S 180 /* watchdog: a hung daemon must not hang CI */
#endif

extern char **environ;

static struct {
	bool inited;		 /* h_init ran */
	bool initdb_done;	 /* data directory and database created */
	char base[1024];	 /* temporary directory, removed at exit */
	char data[PATH_MAX + 8]; /* PostgreSQL data directory */
	char bindir[PATH_MAX];	 /* PostgreSQL binaries, "" for PATH */
	char pitlane[PATH_MAX];	 /* the daemon under test */
	bool drop;		 /* run PostgreSQL as PG_USER_ROOT */
	uid_t uid;		 /* its uid and gid when drop */
	gid_t gid;
	int port;		     /* PostgreSQL TCP port, 0 before start */
	pid_t pg_pid;		     /* postmaster, 0 when stopped */
	int nlogs;		     /* pitlane log files made so far */
	char last_log[PATH_MAX];     /* log of the last pitlane started */
	bool passed;		     /* h_pass reached by the current test */
	pid_t sb_pid;		     /* standby postmaster, 0 when stopped */
	bool sb_made;		     /* standby data directory made */
	bool failed_over;	     /* the standby was promoted */
	char sb_data[PATH_MAX + 16]; /* standby data directory */
} g;

static struct {
	pid_t pid;   /* 0 for a free slot */
	int killsig; /* signal that ends it at exit */
} children[MAX_CHILDREN];

/* ---- time ------------------------------------------------------------ */

int64_t h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool h_poll(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		if (pred(arg))
			return true;
		if (h_now_ms() >= deadline)
			return false;
		h_sleep_ms(H_POLL_MS);
	}
}

/* ---- children and cleanup -------------------------------------------- */

static void child_add(pid_t pid, int killsig)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i].pid == 0) {
			children[i].pid = pid;
			children[i].killsig = killsig;
			return;
		}
	}
}

static void child_forget(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid == pid)
			children[i].pid = 0;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Waits up to timeout_ms for pid to exit; returns its decoded status or -1
 * on timeout. The child is forgotten once reaped. */
static int wait_child(pid_t pid, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			child_forget(pid);
			return decode_status(st);
		}
		if (r < 0 && errno == ECHILD) {
			child_forget(pid);
			return -2;
		}
		if (h_now_ms() >= deadline)
			return -1;
		h_sleep_ms(5);
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void dump_file(const char *path, int max_lines);

static void cleanup_at_exit(void)
{
	h_admin_close();
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t pid = children[i].pid;
		if (pid == 0)
			continue;
		kill(pid, children[i].killsig);
		if (wait_child(pid, 5000) == -1) {
			kill(pid, SIGKILL);
			wait_child(pid, 5000);
		}
	}
	if (g.base[0] == '\0')
		return;
	if (getenv("PITLANE_TEST_KEEP")) {
		fprintf(stderr, "harness: kept %s\n", g.base);
		return;
	}
	nftw(g.base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Interrupted run: end the children (async-signal-safe calls only), then
 * die of the same signal. The temporary directory is left behind. */
static void cleanup_on_signal(int sig)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid > 0)
			kill(children[i].pid, children[i].killsig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A test ran past TEST_TIMEOUT_S: show the daemon's log, end everything
 * and fail the binary. Not async-signal-safe, but the test is blocked in a
 * system call and the process ends here. */
static void watchdog(int sig)
{
	(void)sig;
	fprintf(stderr, "harness: test timed out after %d s\n", TEST_TIMEOUT_S);
	if (g.last_log[0])
		dump_file(g.last_log, 40);
	cleanup_at_exit();
	_exit(1);
}

/* Forks and execs argv with envp (NULL: ours), stdout and stderr appended
 * to out_path, stdin from /dev/null, as PG_USER_ROOT when drop. */
static pid_t spawn(char *const argv[], char *const envp[], const char *out_path,
		   bool drop, int killsig)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (out < 0 || in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		if (drop && (setgroups(0, NULL) != 0 || setgid(g.gid) != 0 ||
			     setuid(g.uid) != 0)) {
			dprintf(2, "harness: cannot drop to %s: %s\n",
				PG_USER_ROOT, strerror(errno));
			_exit(126);
		}
		if (envp)
			environ = (char **)envp;
		execvp(argv[0], argv);
		dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child_add(pid, killsig);
	return pid;
}

int h_run_sh(const char *script, const char *const *args, const char *log)
{
	char *argv[16] = {"sh", "-c", (char *)script, "sh"};
	int n = 4, st;

	for (; args && *args && n < 15; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid_t pid = spawn(argv, NULL, log, false, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			child_forget(pid);
			return -1;
		}
	child_forget(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void dump_file(const char *path, int max_lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char **ring = calloc((size_t)max_lines, sizeof(*ring));
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	while (getline(&line, &cap, f) >= 0) {
		free(ring[n % max_lines]);
		ring[n % max_lines] = strdup(line);
		n++;
	}
	fprintf(stderr, "---- %s (last %d lines) ----\n", path, max_lines);
	for (long i = n > max_lines ? n - max_lines : 0; i < n; i++)
		fputs(ring[i % max_lines], stderr);
	fprintf(stderr, "---- end ----\n");
	for (int i = 0; i < max_lines; i++)
		free(ring[i]);
	free(ring);
	free(line);
	fclose(f);
}

/* ---- setup ----------------------------------------------------------- */

static void locate_binaries(void)
{
	const char *bindir = getenv("PG_BINDIR");
	glob_t gl;
	if (bindir && *bindir) {
		snprintf(g.bindir, sizeof(g.bindir), "%s", bindir);
	} else if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &gl) ==
		   0) {
		snprintf(g.bindir, sizeof(g.bindir), "%s",
			 gl.gl_pathv[gl.gl_pathc - 1]);
		*strrchr(g.bindir, '/') = '\0';
		globfree(&gl);
	}
	const char *bin = getenv("PITLANE_BIN");
	char exe[1024];
	ssize_t n;
	if (bin && *bin) {
		snprintf(g.pitlane, sizeof(g.pitlane), "%s", bin);
	} else if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(g.pitlane, sizeof(g.pitlane), "%s/../../src/pitlane",
			 exe);
	}
}

/* As root, PostgreSQL runs as PG_USER_ROOT, created when missing. */
static bool prepare_user(void)
{
	if (geteuid() != 0)
		return true;
	struct passwd *pw = getpwnam(PG_USER_ROOT);
	if (!pw) {
		char *argv[] = {
		    "useradd", "--system",	    "--no-create-home",
		    "--shell", "/usr/sbin/nologin", PG_USER_ROOT,
		    NULL};
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/useradd.log", g.base);
		wait_child(spawn(argv, NULL, path, false, SIGKILL), 30000);
		pw = getpwnam(PG_USER_ROOT);
	}
	if (!pw) {
		fprintf(stderr,
			"harness: running as root and cannot create user %s "
			"for PostgreSQL (it refuses to run as root); run the "
			"tests as an unprivileged user\n",
			PG_USER_ROOT);
		return false;
	}
	g.drop = true;
	g.uid = pw->pw_uid;
	g.gid = pw->pw_gid;
	if (chown(g.base, g.uid, g.gid) != 0 || chmod(g.base, 0755) != 0) {
		fprintf(stderr, "harness: chown %s: %s\n", g.base,
			strerror(errno));
		return false;
	}
	char *test[] = {"test", "-w", g.base, NULL};
	if (wait_child(spawn(test, NULL, "/dev/null", true, SIGKILL), 10000)) {
		fprintf(stderr,
			"harness: user %s cannot reach %s; set TMPDIR to a "
			"directory every user can search, such as /tmp\n",
			PG_USER_ROOT, g.base);
		return false;
	}
	return true;
}

/* Once per process: clean libpq environment, temporary directory, cleanup
 * hooks, binaries, user. */
static bool h_init(void)
{
	if (g.inited)
		return true;
	g.inited = true;
	setvbuf(stdout, NULL, _IONBF, 0); /* keep cmocka's lines in order */
	for (char **e = environ; *e;) {
		if (strncmp(*e, "PG", 2) == 0 &&
		    strncmp(*e, "PG_BINDIR=", 10)) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s",
				 (int)strcspn(*e, "="), *e);
			unsetenv(name);
			e = environ;
		} else {
			e++;
		}
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(g.base, sizeof(g.base), "%s/pitlane-it-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g.base)) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", g.base,
			strerror(errno));
		g.base[0] = '\0';
		return false;
	}
	snprintf(g.data, sizeof(g.data), "%s/data", g.base);
	atexit(cleanup_at_exit);
	signal(SIGINT, cleanup_on_signal);
	signal(SIGTERM, cleanup_on_signal);
	signal(SIGHUP, cleanup_on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog);
	locate_binaries();
	return prepare_user();
}

static void pg_cmd(char *out, size_t cap, const char *name)
{
	if (g.bindir[0])
		snprintf(out, cap, "%s/%s", g.bindir, name);
	else
		snprintf(out, cap, "%s", name);
}

int h_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail_msg("free port: %s", strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

int h_silent_listen(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail_msg("silent listener: %s", strerror(errno));
	*port = ntohs(sa.sin_port);
	return fd;
}

int h_silent_count(int fd)
{
	int n = 0, c;

	while ((c = accept(fd, NULL, NULL)) >= 0) {
		close(c);
		n++;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		fail_msg("silent listener: accept: %s", strerror(errno));
	return n;
}

static bool run_initdb(void)
{
	char cmd[PATH_MAX + 16], log[PATH_MAX + 16];
	pg_cmd(cmd, sizeof(cmd), "initdb");
	snprintf(log, sizeof(log), "%s/initdb.log", g.base);
	char *argv[] = {cmd,	      "-D",	      g.data, "-U",
			H_USER,	      "--auth=trust", "-E",   "UTF8",
			"--locale=C", "--no-sync",    NULL};
	int st = wait_child(spawn(argv, NULL, log, g.drop, SIGKILL), 120000);
	if (st != 0) {
		fprintf(stderr, "harness: initdb failed (status %d)\n", st);
		dump_file(log, 40);
		return false;
	}
	return true;
}

/* Starts a postmaster on data, listening on addr:port (its socket in
 * sockdir), and waits for PQping to answer OK. Returns its pid, 0 when it
 * did not start (its log shown). */
static pid_t pg_launch_at(const char *data, const char *addr, int port,
			  const char *sockdir, const char *log)
{
	char cmd[PATH_MAX + 16], portstr[16], conninfo[256], listen[64];
	pg_cmd(cmd, sizeof(cmd), "postgres");
	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(listen, sizeof(listen), "listen_addresses=%s", addr);
	const char *sock = strlen(sockdir) < 80 ? sockdir : "";
	const char *const settings[] = {
	    listen, "fsync=off", "synchronous_commit=off",
	    "full_page_writes=off", "max_connections=200"};
	char *argv[32] = {cmd,	   "-D", (char *)data, "-p",
			  portstr, "-k", (char *)sock};
	int n = 7;
	for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); i++) {
		argv[n++] = "-c";
		argv[n++] = (char *)settings[i];
	}
	pid_t pid = spawn(argv, NULL, log, g.drop, SIGQUIT);
	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=%d dbname=postgres user=%s connect_timeout=2",
		 addr, port, H_USER);
	int64_t deadline = h_now_ms() + 60000;
	while (h_now_ms() < deadline) {
		if (PQping(conninfo) == PQPING_OK)
			return pid;
		if (wait_child(pid, 0) != -1) {
			pid = 0; /* exited and reaped */
			break;
		}
		h_sleep_ms(H_POLL_MS);
	}
	fprintf(stderr, "harness: PostgreSQL did not start on %s:%d\n", addr,
		port);
	dump_file(log, 30);
	if (pid) {
		kill(pid, SIGQUIT);
		if (wait_child(pid, 10000) == -1) {
			kill(pid, SIGKILL);
			wait_child(pid, 10000);
		}
	}
	return 0;
}

/* Starts the primary on g.port. */
static bool pg_launch(void)
{
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/postgres.log", g.base);
	g.pg_pid = pg_launch_at(g.data, "127.0.0.1", g.port, g.base, log);
	return g.pg_pid != 0;
}

static void create_objects(void)
{
	h_exec_ok(h_admin(), "CREATE DATABASE " H_DBNAME);
	PGconn *c = h_direct(H_DBNAME);
	h_exec_ok(c, "CREATE TABLE t (id int, note text)");
	PQfinish(c);
}

void h_pg_start(void)
{
	if (!h_init())
		fail_msg("harness initialisation failed");
	if (g.pg_pid)
		return;
	if (!g.initdb_done && !run_initdb())
		fail_msg("initdb failed");
	bool fixed = g.port != 0;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!fixed)
			g.port = h_free_port();
		if (pg_launch())
			break;
		if (fixed || attempt == 2)
			fail_msg("cannot start PostgreSQL");
	}
	if (!g.initdb_done) {
		g.initdb_done = true;
		create_objects();
	}
}

void h_pg_stop(void)
{
	h_admin_close();
	if (!g.pg_pid)
		return;
	kill(g.pg_pid, SIGINT);
	if (wait_child(g.pg_pid, 30000) == -1) {
		kill(g.pg_pid, SIGQUIT);
		if (wait_child(g.pg_pid, 10000) == -1) {
			kill(g.pg_pid, SIGKILL);
			wait_child(g.pg_pid, 10000);
		}
	}
	g.pg_pid = 0;
}

int h_pg_port(void)
{
	return g.port;
}

const char *h_tmpdir(void)
{
	if (!h_init())
		fail_msg("harness initialisation failed");
	return g.base;
}

const char *h_tmp_path(const char *name, char *buf, size_t cap)
{
	assert_true(snprintf(buf, cap, "%s/%s", h_tmpdir(), name) < (int)cap);
	return buf;
}

void h_write_file(const char *path, const char *fmt, ...)
{
	char tmp[PATH_MAX + 8];
	va_list ap;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

PGconn *h_connect_finish(PGconn *c, int timeout_ms)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int64_t deadline = h_now_ms() + timeout_ms;

	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		struct pollfd pfd = {
		    .fd = PQsocket(c),
		    .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		int left = (int)(deadline - h_now_ms());

		if (pfd.fd < 0 || left <= 0)
			break;
		poll(&pfd, 1, left);
		st = PQconnectPoll(c);
	}
	return c;
}

static void pitlane_end(struct h_pitlane *pl);

/* ---- standby --------------------------------------------------------- */

/* Ends a postmaster with sig (SIGINT: fast, SIGQUIT: immediate). */
static void pg_end(pid_t pid, int sig)
{
	kill(pid, sig);
	if (wait_child(pid, 30000) == -1) {
		kill(pid, SIGQUIT);
		if (wait_child(pid, 10000) == -1) {
			kill(pid, SIGKILL);
			wait_child(pid, 10000);
		}
	}
}

/* pg_basebackup -R of the primary: a data directory that starts as a
 * streaming standby (standby.signal, primary_conninfo). initdb's
 * pg_hba.conf already lets 127.0.0.1 replicate. */
static bool standby_make(void)
{
	char cmd[PATH_MAX + 16], log[PATH_MAX + 16], port[16];
	pg_cmd(cmd, sizeof(cmd), "pg_basebackup");
	snprintf(log, sizeof(log), "%s/basebackup.log", g.base);
	snprintf(g.sb_data, sizeof(g.sb_data), "%s/standby", g.base);
	snprintf(port, sizeof(port), "%d", g.port);
	char *argv[] = {cmd,  "-D",	      g.sb_data,   "-R",
			"-X", "stream",	      "-c",	   "fast",
			"-h", "127.0.0.1",    "-p",	   port,
			"-U", (char *)H_USER, "--no-sync", NULL};
	int st = wait_child(spawn(argv, NULL, log, g.drop, SIGKILL), 120000);
	if (st != 0) {
		fprintf(stderr, "harness: pg_basebackup failed (status %d)\n",
			st);
		dump_file(log, 40);
		return false;
	}
	return true;
}

void h_standby_start(void)
{
	char log[PATH_MAX + 16];
	if (g.sb_pid)
		return;
	if (!g.pg_pid)
		fail_msg("h_standby_start: the primary is not running");
	if (!g.sb_made && !(g.sb_made = standby_make()))
		fail_msg("cannot make the standby");
	snprintf(log, sizeof(log), "%s/standby.log", g.base);
	g.sb_pid =
	    pg_launch_at(g.sb_data, H_STANDBY_ADDR, g.port, g.sb_data, log);
	if (!g.sb_pid)
		fail_msg("cannot start the standby");
}

void h_standby_stop(void)
{
	if (g.sb_pid)
		pg_end(g.sb_pid, SIGINT);
	g.sb_pid = 0;
}

void h_pg_crash(void)
{
	h_admin_close();
	if (g.pg_pid)
		pg_end(g.pg_pid, SIGQUIT);
	g.pg_pid = 0;
}

PGconn *h_standby_direct(const char *dbname)
{
	return h_direct_at(H_STANDBY_ADDR, g.port, dbname);
}

/* Whether query (one boolean) answers true on conn. */
static bool query_true(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		   strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return yes;
}

/* Polls query on conn until it answers true, for timeout_ms. */
static bool poll_true(PGconn *conn, const char *sql, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		if (query_true(conn, sql))
			return true;
		if (h_now_ms() >= deadline)
			return false;
		h_sleep_ms(H_POLL_MS);
	}
}

bool h_standby_wait_streaming(int timeout_ms)
{
	return poll_true(h_admin(),
			 "SELECT count(*) > 0 FROM pg_stat_replication "
			 "WHERE state = 'streaming'",
			 timeout_ms);
}

bool h_standby_wait_caught_up(int timeout_ms)
{
	char sql[256];
	PGresult *r = PQexec(h_admin(), "SELECT pg_current_wal_lsn()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return false;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn",
		 PQgetvalue(r, 0, 0));
	PQclear(r);
	PGconn *sb = h_standby_direct("postgres");
	bool ok = poll_true(sb, sql, timeout_ms);
	PQfinish(sb);
	return ok;
}

bool h_standby_promote(int timeout_ms)
{
	PGconn *sb = h_standby_direct("postgres");
	PGresult *r = PQexec(sb, "SELECT pg_promote(false)");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	g.failed_over = true;
	ok = ok && poll_true(sb, "SELECT NOT pg_is_in_recovery()", timeout_ms);
	PQfinish(sb);
	return ok;
}

/* ---- fixtures -------------------------------------------------------- */

int h_group_setup(void **state)
{
	(void)state;
	h_pg_start();
	return g.pg_pid ? 0 : -1;
}

int h_group_teardown(void **state)
{
	(void)state;
	h_standby_stop();
	h_pg_stop();
	return 0;
}

int h_test_setup(void **state)
{
	*state = NULL;
	g.passed = false;
	alarm(TEST_TIMEOUT_S);
	if (g.initdb_done && !g.pg_pid && !g.failed_over)
		h_pg_start(); /* a failed test left it stopped */
	return 0;
}

int h_test_teardown(void **state)
{
	struct h_pitlane *pl = *state;
	int rc = 0;
	if (pl) {
		pitlane_end(pl);
		/* A clean shutdown exits 0; a sanitizer report does not. */
		if (g.passed && pl->status != 0) {
			fprintf(stderr, "pitlane exit status %d, want 0\n",
				pl->status);
			rc = -1;
		}
		if (!g.passed || rc)
			h_pitlane_dump_log(pl, 60);
		free(pl);
	}
	*state = NULL;
	if (g.pg_pid)
		h_wait_backends(0, 5000);
	alarm(0);
	return rc;
}

void h_pass(void)
{
	g.passed = true;
}

/* ---- pitlane ---------------------------------------------------------- */

/* A NULL-terminated vector of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, const char *x)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = strdup(x);
	s->v[s->n] = NULL;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* "KEY=VALUE" replaces KEY, "KEY" removes it. */
static void env_apply(struct strv *env, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], kv, klen) == 0 &&
		    env->v[i][klen] == '=') {
			free(env->v[i]);
			env->v[i] = env->v[--env->n];
			env->v[env->n] = NULL;
			break;
		}
	}
	if (kv[klen] == '=')
		strv_push(env, kv);
}

static void pitlane_env(struct strv *env, const char *const *overrides)
{
	char kv[64];
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "DB_", 3) && strncmp(*e, "PITLANE_", 8))
			strv_push(env, *e);
	env_apply(env, "DB_HOST=127.0.0.1");
	snprintf(kv, sizeof(kv), "DB_PORT=%d", g.port);
	env_apply(env, kv);
	env_apply(env, "DB_NAME=" H_DBNAME);
	env_apply(env, "DB_USER=" H_USER);
	env_apply(env, "DB_SSLMODE=disable");
	/* Tests of other features log in without a password; the
	 * authentication tests override this. */
	env_apply(env, "PITLANE_AUTH_TYPE=trust");
	for (; overrides && *overrides; overrides++)
		env_apply(env, *overrides);
}

struct h_pitlane *h_pitlane_spawn(const char *const *env,
				  const char *const *args)
{
	if (!h_init())
		fail_msg("harness initialisation failed");
	if (access(g.pitlane, X_OK) != 0)
		fail_msg("pitlane binary %s: %s (set PITLANE_BIN)", g.pitlane,
			 strerror(errno));
	struct h_pitlane *pl = calloc(1, sizeof(*pl));
	pl->status = -1;
	snprintf(pl->log_path, sizeof(pl->log_path), "%s/pitlane-%d.log",
		 g.base, ++g.nlogs);
	struct strv envv = {0}, argv = {0};
	pitlane_env(&envv, env);
	strv_push(&argv, g.pitlane);
	strv_push(&argv, "-p");
	strv_push(&argv, "0");
	for (; args && *args; args++)
		strv_push(&argv, *args);
	pl->pid = spawn(argv.v, envv.v, pl->log_path, false, SIGKILL);
	snprintf(g.last_log, sizeof(g.last_log), "%s", pl->log_path);
	strv_free(&envv);
	strv_free(&argv);
	return pl;
}

bool h_pitlane_wait_ready(struct h_pitlane *pl, int timeout_ms)
{
	char line[4096];
	long long port;
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		if (h_log_record(pl, "listening", 0, line, sizeof(line)) &&
		    h_json_int(line, "port", &port) && port > 0) {
			pl->port = (int)port;
			return true;
		}
		if (!h_pitlane_alive(pl) || h_now_ms() >= deadline)
			return false;
		h_sleep_ms(H_POLL_MS);
	}
}

struct h_pitlane *h_pitlane_start(const char *const *env,
				  const char *const *args)
{
	struct h_pitlane *pl = h_pitlane_spawn(env, args);
	if (!h_pitlane_wait_ready(pl, 10000)) {
		h_pitlane_dump_log(pl, 40);
		int st = pl->status;
		h_pitlane_stop(pl);
		fail_msg("pitlane did not log `listening` (exit status %d)",
			 st);
	}
	return pl;
}

bool h_pitlane_alive(struct h_pitlane *pl)
{
	if (pl->pid == 0)
		return false;
	int st = wait_child(pl->pid, 0);
	if (st == -1)
		return true;
	pl->status = st;
	pl->pid = 0;
	return false;
}

void h_pitlane_signal(struct h_pitlane *pl, int sig)
{
	if (!h_pitlane_alive(pl))
		fail_msg("pitlane exited (status %d) before signal %d",
			 pl->status, sig);
	kill(pl->pid, sig);
}

int h_pitlane_wait_exit(struct h_pitlane *pl, int timeout_ms)
{
	if (pl->pid == 0)
		return pl->status;
	int st = wait_child(pl->pid, timeout_ms);
	if (st == -1)
		return -1;
	pl->pid = 0;
	pl->status = st;
	return st;
}

/* SIGTERM, then a second SIGTERM (exit at once), then SIGKILL. */
static void pitlane_end(struct h_pitlane *pl)
{
	if (!h_pitlane_alive(pl))
		return;
	kill(pl->pid, SIGTERM);
	if (h_pitlane_wait_exit(pl, 5000) != -1)
		return;
	kill(pl->pid, SIGTERM);
	if (h_pitlane_wait_exit(pl, 5000) != -1)
		return;
	fprintf(stderr, "harness: pitlane ignored two SIGTERMs; SIGKILL\n");
	kill(pl->pid, SIGKILL);
	h_pitlane_wait_exit(pl, 5000);
}

void h_pitlane_stop(struct h_pitlane *pl)
{
	if (!pl)
		return;
	pitlane_end(pl);
	free(pl);
}

void h_pitlane_dump_log(struct h_pitlane *pl, int max_lines)
{
	dump_file(pl->log_path, max_lines);
}
