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
	int port;      /* PostgreSQL TCP port, 0 before start */
	pid_t pg_pid;  /* postmaster, 0 when stopped */
	PGconn *admin; /* cached connection to `postgres` */
	int nlogs;     /* pitlane log files made so far */
	bool passed;   /* h_pass reached by the current test */
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

static void cleanup_at_exit(void)
{
	if (g.admin)
		PQfinish(g.admin);
	g.admin = NULL;
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
	return true;
}

/* Once per process: clean libpq environment, temporary directory, cleanup
 * hooks, binaries, user. */
static bool h_init(void)
{
	if (g.inited)
		return true;
	g.inited = true;
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

static int free_port(void)
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

/* Starts the postmaster on g.port and waits for PQping to answer OK. */
static bool pg_launch(void)
{
	char cmd[PATH_MAX + 16], log[PATH_MAX + 16], port[16], conninfo[256];
	pg_cmd(cmd, sizeof(cmd), "postgres");
	snprintf(log, sizeof(log), "%s/postgres.log", g.base);
	snprintf(port, sizeof(port), "%d", g.port);
	const char *sock = strlen(g.base) < 80 ? g.base : "";
	char *argv[] = {cmd,
			"-D",
			g.data,
			"-p",
			port,
			"-k",
			(char *)sock,
			"-c",
			"listen_addresses=127.0.0.1",
			"-c",
			"fsync=off",
			"-c",
			"synchronous_commit=off",
			"-c",
			"full_page_writes=off",
			"-c",
			"max_connections=200",
			NULL};
	g.pg_pid = spawn(argv, NULL, log, g.drop, SIGQUIT);
	snprintf(conninfo, sizeof(conninfo),
		 "host=127.0.0.1 port=%d dbname=postgres user=%s "
		 "connect_timeout=2",
		 g.port, H_USER);
	int64_t deadline = h_now_ms() + 60000;
	while (h_now_ms() < deadline) {
		if (PQping(conninfo) == PQPING_OK)
			return true;
		if (wait_child(g.pg_pid, 0) != -1)
			break;
		h_sleep_ms(H_POLL_MS);
	}
	fprintf(stderr, "harness: PostgreSQL did not start on port %d\n",
		g.port);
	dump_file(log, 30);
	h_pg_stop();
	return false;
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
			g.port = free_port();
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
	if (g.admin)
		PQfinish(g.admin);
	g.admin = NULL;
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

static void pitlane_end(struct h_pitlane *pl);

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
	h_pg_stop();
	return 0;
}

int h_test_setup(void **state)
{
	*state = NULL;
	g.passed = false;
	if (g.initdb_done && !g.pg_pid)
		h_pg_start(); /* a failed test left it stopped */
	return 0;
}

int h_test_teardown(void **state)
{
	struct h_pitlane *pl = *state;
	if (pl) {
		pitlane_end(pl);
		if (!g.passed)
			h_pitlane_dump_log(pl, 60);
		free(pl);
	}
	*state = NULL;
	if (g.pg_pid)
		h_wait_backends(0, 5000);
	return 0;
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

/* ---- log records ------------------------------------------------------ */

char *h_log_read(struct h_pitlane *pl)
{
	FILE *f = fopen(pl->log_path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (f) {
		char chunk[8192];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, mem);
		fclose(f);
	}
	fclose(mem);
	return buf;
}

/* Calls fn on each complete line whose msg equals msg until fn returns
 * true; returns the number of matching lines visited. */
static int log_scan(struct h_pitlane *pl, const char *msg,
		    bool (*fn)(const char *line, int idx, void *arg), void *arg)
{
	char *text = h_log_read(pl), m[256];
	int count = 0;
	for (char *p = text, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		if (!h_json_str(p, "msg", m, sizeof(m)) || strcmp(m, msg))
			continue;
		if (fn && fn(p, count, arg))
			break;
		count++;
	}
	free(text);
	return count;
}

int h_log_count(struct h_pitlane *pl, const char *msg)
{
	return log_scan(pl, msg, NULL, NULL);
}

struct record_arg {
	int nth;
	char *buf;
	size_t cap;
	bool found;
};

static bool record_cb(const char *line, int idx, void *arg)
{
	struct record_arg *a = arg;
	if (a->nth >= 0 && idx != a->nth)
		return false;
	snprintf(a->buf, a->cap, "%s", line);
	a->found = true;
	return a->nth >= 0;
}

bool h_log_record(struct h_pitlane *pl, const char *msg, int nth, char *buf,
		  size_t cap)
{
	struct record_arg a = {nth, buf, cap, false};
	log_scan(pl, msg, record_cb, &a);
	return a.found;
}

bool h_log_wait(struct h_pitlane *pl, const char *msg, int count,
		int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	for (;;) {
		if (h_log_count(pl, msg) >= count)
			return true;
		if (h_now_ms() >= deadline)
			return false;
		h_sleep_ms(H_POLL_MS);
	}
}

/* The value after "key": where "key" starts a member (after { or ,). */
static const char *json_value(const char *line, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = strchr(line, '"'); p; p = strchr(p + 1, '"')) {
		if (strncmp(p + 1, key, klen) || p[klen + 1] != '"')
			continue;
		const char *b = p;
		while (b > line && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b == line || (b[-1] != '{' && b[-1] != ','))
			continue;
		const char *v = p + klen + 2;
		while (*v == ' ')
			v++;
		if (*v != ':')
			continue;
		v++;
		while (*v == ' ')
			v++;
		return v;
	}
	return NULL;
}

bool h_json_int(const char *line, const char *key, long long *out)
{
	const char *v = json_value(line, key);
	char *end;
	if (!v)
		return false;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return end != v && errno == 0;
}

bool h_json_str(const char *line, const char *key, char *out, size_t cap)
{
	const char *v = json_value(line, key);
	size_t n = 0;
	if (!v || *v != '"' || cap == 0)
		return false;
	for (v++; *v && *v != '"'; v++) {
		if (*v == '\\' && v[1])
			v++;
		if (n + 1 < cap)
			out[n++] = *v;
	}
	out[n] = '\0';
	return *v == '"';
}

/* ---- libpq ------------------------------------------------------------ */

PGconn *h_connect_try(struct h_pitlane *pl, const char *extra)
{
	char ci[1024];
	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable "
		 "connect_timeout=10 %s",
		 pl->port, H_DBNAME, H_USER, extra ? extra : "");
	return PQconnectdb(ci);
}

PGconn *h_connect(struct h_pitlane *pl, const char *extra)
{
	PGconn *c = h_connect_try(pl, extra);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQfinish(c);
		h_pitlane_dump_log(pl, 30);
		fail_msg("connect through pitlane (port %d): %s", pl->port,
			 msg);
	}
	return c;
}

PGconn *h_direct(const char *dbname)
{
	char ci[512];
	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d dbname=%s user=%s sslmode=disable "
		 "application_name=" H_DIRECT_APP " connect_timeout=10",
		 g.port, dbname, H_USER);
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQfinish(c);
		fail_msg("direct connection to %s: %s", dbname, msg);
	}
	return c;
}

PGconn *h_admin(void)
{
	if (g.admin && PQstatus(g.admin) == CONNECTION_OK)
		return g.admin;
	if (g.admin)
		PQfinish(g.admin);
	g.admin = NULL;
	g.admin = h_direct("postgres");
	return g.admin;
}

void h_exec_ok(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		PQclear(r);
		fail_msg("`%s` failed: %s", sql, msg);
	}
	PQclear(r);
}

long long h_query_int(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		PQclear(r);
		fail_msg("`%s` failed: %s", sql, msg);
	}
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

const char *h_result_sqlstate(PGresult *res, char buf[6])
{
	ExecStatusType st = PQresultStatus(res);
	const char *s = "";
	if (res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
		    st == PGRES_EMPTY_QUERY))
		s = "00000";
	else if (res && PQresultErrorField(res, PG_DIAG_SQLSTATE))
		s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(buf, 6, "%s", s);
	return buf;
}

const char *h_exec_sqlstate(PGconn *conn, const char *sql, char buf[6])
{
	PGresult *r = PQexec(conn, sql);
	h_result_sqlstate(r, buf);
	PQclear(r);
	return buf;
}

void h_exec_expect(PGconn *conn, const char *sql, const char *sqlstate)
{
	char got[6];
	const char *want = sqlstate ? sqlstate : "00000";
	h_exec_sqlstate(conn, sql, got);
	if (strcmp(got, want))
		fail_msg("`%s`: want SQLSTATE %s, got \"%s\": %s", sql, want,
			 got, PQerrorMessage(conn));
}

int h_backends(void)
{
	static const char sql[] =
	    "SELECT count(*) FROM pg_stat_activity WHERE datname = '" H_DBNAME
	    "' AND backend_type = 'client backend' AND "
	    "application_name IS DISTINCT FROM '" H_DIRECT_APP "'";
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r = PQexec(h_admin(), sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int n = atoi(PQgetvalue(r, 0, 0));
			PQclear(r);
			return n;
		}
		PQclear(r);
		PQfinish(g.admin);
		g.admin = NULL;
	}
	return -1;
}

static bool backends_eq(void *arg)
{
	return h_backends() == *(int *)arg;
}

bool h_wait_backends(int want, int timeout_ms)
{
	return h_poll(backends_eq, &want, timeout_ms);
}

/* ---- raw protocol ----------------------------------------------------- */

uint32_t h_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int h_raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

bool h_raw_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool h_raw_startup(int fd, uint32_t version, const char *const *kv)
{
	unsigned char buf[8192];
	size_t n = 8;
	for (; kv && *kv; kv++) {
		size_t l = strlen(*kv) + 1;
		if (n + l + 1 > sizeof(buf))
			return false;
		memcpy(buf + n, *kv, l);
		n += l;
	}
	buf[n++] = '\0';
	uint32_t be[2] = {htonl((uint32_t)n), htonl(version)};
	memcpy(buf, be, 8);
	return h_raw_send(fd, buf, n);
}

/* Reads exactly len bytes before the deadline. */
static bool raw_read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	char *p = buf;
	while (len > 0) {
		int left = (int)(deadline - h_now_ms());
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

int h_raw_read_byte(int fd, int timeout_ms)
{
	unsigned char c;
	if (!raw_read_full(fd, &c, 1, h_now_ms() + timeout_ms))
		return -1;
	return c;
}

int h_raw_read_msg(int fd, char *type, unsigned char *buf, size_t cap,
		   int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	unsigned char hdr[5], scratch[4096];
	if (!raw_read_full(fd, hdr, 5, deadline))
		return -1;
	uint32_t len = h_be32(hdr + 1);
	if (len < 4 || len > (1u << 24))
		return -1;
	*type = (char)hdr[0];
	size_t body = len - 4, done = 0;
	while (done < body) {
		size_t want = body - done;
		unsigned char *dst = scratch;
		if (done < cap) {
			dst = buf + done;
			want = want < cap - done ? want : cap - done;
		} else if (want > sizeof(scratch)) {
			want = sizeof(scratch);
		}
		if (!raw_read_full(fd, dst, want, deadline))
			return -1;
		done += want;
	}
	return (int)body;
}

bool h_raw_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	char buf[4096];
	for (;;) {
		int left = (int)(deadline - h_now_ms());
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

bool h_raw_err_field(const unsigned char *body, int len, char field, char *out,
		     size_t cap)
{
	int i = 0;
	while (i < len && body[i] != '\0') {
		char code = (char)body[i++];
		const unsigned char *s = body + i;
		size_t l = strnlen((const char *)s, (size_t)(len - i));
		if (code == field) {
			snprintf(out, cap, "%.*s", (int)l, (const char *)s);
			return true;
		}
		i += (int)l + 1;
	}
	return false;
}
