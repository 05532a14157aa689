/* Hostile clients against the real daemon: a thousand connections that send
 * nothing, garbage, half a startup packet or half a TLS handshake and
 * stall (pitlane keeps serving, and its file descriptors and memory come
 * back once they leave), oversized startup packets, wrong messages during
 * authentication, and running out of file descriptors. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROTO_30      196608u
#define SSL_CODE      80877103u
#define PASSWORD      "h0stile-Pw"
#define N_HOSTILE     1000	  /* connections in all */
#define FD_MARGIN     4		  /* fds pitlane may keep above its baseline */
#define RSS_MARGIN_KB (16 * 1024) /* lazily sized libevent/OpenSSL state */
#define RSS_REGROW_KB (8 * 1024)  /* a second round must not add more */

static char certs[PATH_MAX];

static const char *const login_kv[] = {"user", H_USER, "database", H_DBNAME,
				       NULL};

/* ---- helpers ---------------------------------------------------------- */

/* A self-signed certificate, for clients that stall inside TLS. */
static int group_setup(void **state)
{
	int rc = h_group_setup(state);
	char log[PATH_MAX + 16];
	if (rc != 0)
		return rc;
	snprintf(certs, sizeof(certs), "%s/certs", h_tmpdir());
	snprintf(log, sizeof(log), "%s/openssl.log", h_tmpdir());
	if (mkdir(certs, 0700) != 0 && errno != EEXIST)
		return -1;
	const char *args[] = {certs, NULL};
	if (h_run_sh("cd \"$1\" && openssl req -x509 -newkey ec -pkeyopt "
		     "ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
		     "-out server.crt -days 2 -subj /CN=localhost && "
		     "chmod 600 server.key",
		     args, log) != 0) {
		fprintf(stderr, "openssl failed; see %s\n", log);
		return -1;
	}
	return 0;
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Raises the soft RLIMIT_NOFILE as far as the hard limit allows (at most
 * want); returns the new soft limit. pitlane inherits it. */
static long raise_nofile(long want)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t target = (rlim_t)want;
	if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
		target = rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < target) {
		rl.rlim_cur = target;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

struct fd_wait {
	pid_t pid;
	int max; /* wait until count <= max, or... */
	int min; /* ...count >= min (when max < 0) */
	int last;
};

static bool fds_settled(void *arg)
{
	struct fd_wait *w = arg;
	w->last = count_fds(w->pid);
	return w->max >= 0 ? w->last >= 0 && w->last <= w->max
			   : w->last >= w->min;
}

struct rss_wait {
	pid_t pid;
	long max, last;
};

static bool rss_settled(void *arg)
{
	struct rss_wait *w = arg;
	w->last = rss_kb(w->pid);
	return w->last > 0 && w->last <= w->max;
}

/* A login (password PASSWORD, for the auth types that ask) and a query. */
static bool query_works(struct h_pitlane *pl)
{
	PGconn *c = h_connect_try(pl, "password=" PASSWORD);
	bool ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		PGresult *r = PQexec(c, "SELECT 40 + 2");
		ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
		     strcmp(PQgetvalue(r, 0, 0), "42") == 0;
		PQclear(r);
	} else {
		fprintf(stderr, "normal client: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return ok;
}

/* Non-blocking connect: a thousand of them must not wait on the accept
 * queue one by one. */
static int open_conn(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		fail_msg("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

enum hostile_kind {
	H_SILENT,	/* sends nothing */
	H_HALF_STARTUP, /* the first 16 bytes of a 64-byte startup packet */
	H_GARBAGE,	/* random bytes */
	H_BIG_PARTIAL,	/* a 9,000-byte startup packet, 200 bytes of it */
	H_SSL_STALL,	/* SSLRequest, then nothing */
	H_TLS_PARTIAL,	/* the first bytes of a TLS ClientHello */
	H_LOGIN_STALL,	/* a full startup, then no password */
	H_KINDS,
};

/* Whether pitlane closes that kind at once (not held until the login
 * timeout). */
static bool closed_at_once(enum hostile_kind k)
{
	return k == H_GARBAGE;
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void send_hostile(int fd, enum hostile_kind k, uint32_t *seed)
{
	unsigned char b[256];
	switch (k) {
	case H_SILENT:
	case H_KINDS:
		return;
	case H_HALF_STARTUP:
		memcpy(b, "\0\0\0\x40\0\3\0\0user\0pit", 16);
		h_raw_send(fd, b, 16);
		return;
	case H_GARBAGE:
		for (int i = 0; i < 64; i++)
			b[i] = (unsigned char)lcg(seed);
		b[0] |= 0x80; /* never a plausible length, never TLS */
		h_raw_send(fd, b, 64);
		return;
	case H_BIG_PARTIAL: {
		uint32_t hdr[2] = {htonl(9000), htonl(PROTO_30)};
		memset(b, 'a', sizeof(b));
		memcpy(b, hdr, 8);
		h_raw_send(fd, b, 200);
		return;
	}
	case H_SSL_STALL: {
		uint32_t req[2] = {htonl(8), htonl(SSL_CODE)};
		h_raw_send(fd, req, 8);
		return;
	}
	case H_TLS_PARTIAL:
		/* record header: handshake, TLS 1.0, 512 bytes; then the
		 * start of a ClientHello */
		memcpy(b, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
		h_raw_send(fd, b, 11);
		return;
	case H_LOGIN_STALL:
		h_raw_startup(fd, PROTO_30, login_kv);
		return;
	}
}

/* ---- tests ------------------------------------------------------------ */

/* One round of N_HOSTILE hostile clients, in batches of at most batch
 * held at once: pitlane holds their fds, serves a normal client meanwhile,
 * and gives the fds back when they go. */
static void hostile_round(struct h_pitlane *pl, const char *ci, pid_t pid,
			  int base_fds, long batch)
{
	int *fds = calloc((size_t)batch, sizeof(int));
	assert_non_null(fds);
	uint32_t seed = 12345;
	int done = 0;
	while (done < N_HOSTILE) {
		int n =
		    N_HOSTILE - done < batch ? N_HOSTILE - done : (int)batch;
		int held = 0;
		for (int i = 0; i < n; i++) {
			enum hostile_kind k = (done + i) % H_KINDS;
			fds[i] = open_conn(pl->port);
			send_hostile(fds[i], k, &seed);
			held += !closed_at_once(k);
		}
		/* pitlane holds the stalled ones... */
		struct fd_wait w = {
		    .pid = pid, .max = -1, .min = base_fds + held * 9 / 10};
		if (!h_poll(fds_settled, &w, 20000))
			fail_msg("pitlane holds %d fds, want at least %d "
				 "(%d stalled clients)",
				 w.last, w.min, held);
		fprintf(stderr,
			"%d hostile clients open: pitlane has %d fds, "
			"%ld kB RSS\n",
			n, w.last, rss_kb(pid));
		/* ...and serves a normal client meanwhile. */
		int64_t t0 = h_now_ms();
		PGconn *c = h_connect(pl, ci);
		assert_int_equal(h_query_int(c, "SELECT 40 + 2"), 42);
		PQfinish(c);
		fprintf(stderr, "normal client served in %lld ms\n",
			(long long)(h_now_ms() - t0));
		assert_true(h_now_ms() - t0 < 5000);
		for (int i = 0; i < n; i++)
			close(fds[i]);
		done += n;
		/* Their fds come back. */
		w = (struct fd_wait){.pid = pid, .max = base_fds + FD_MARGIN};
		if (!h_poll(fds_settled, &w, 20000))
			fail_msg("pitlane still has %d fds after the clients "
				 "left, baseline %d",
				 w.last, base_fds);
	}
	free(fds);
}
static void test_thousand_stalled_clients(void **state)
{
	long limit = raise_nofile(4096);
	long batch = limit - 128 < N_HOSTILE ? limit - 128 : N_HOSTILE;
	fprintf(stderr, "RLIMIT_NOFILE %ld: batches of %ld\n", limit, batch);
	if (batch < 64)
		fail_msg("RLIMIT_NOFILE %ld is too low for this test", limit);

	char cert[PATH_MAX + 64], key[PATH_MAX + 64];
	snprintf(cert, sizeof(cert), "PITLANE_TLS_CERT_FILE=%s/server.crt",
		 certs);
	snprintf(key, sizeof(key), "PITLANE_TLS_KEY_FILE=%s/server.key", certs);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD,
			     "PITLANE_MAX_CLIENT_CONN=5000",
			     "PITLANE_CLIENT_LOGIN_TIMEOUT=120",
			     cert,
			     key,
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	pid_t pid = pl->pid;

	/* Warm up: the first login, pool servers at pool_min. */
	char ci[64];
	snprintf(ci, sizeof(ci), "password=%s", PASSWORD);
	PQfinish(h_connect(pl, ci));
	assert_true(h_wait_backends(2, 10000));
	int base_fds = count_fds(pid);
	long base_rss = rss_kb(pid);
	assert_true(base_fds > 0 && base_rss > 0);
	fprintf(stderr, "baseline: %d fds, %ld kB RSS\n", base_fds, base_rss);

	hostile_round(pl, ci, pid, base_fds, batch);
	assert_true(h_pitlane_alive(pl));
	assert_true(query_works(pl));
	if (getenv("PITLANE_SANITIZED") != NULL) {
		/* ASan keeps freed memory in quarantine: RSS says nothing
		 * there, and LeakSanitizer checks for leaks at exit. */
		fprintf(stderr, "sanitizer build: RSS bounds not applied\n");
		h_pass();
		return;
	}
	/* The memory comes back too (a pitlane that returns freed memory to
	 * the system may do so on a timer: poll)... */
	struct rss_wait rw = {.pid = pid, .max = base_rss + RSS_MARGIN_KB};
	bool back = h_poll(rss_settled, &rw, 15000);
	long first = rw.last;
	fprintf(stderr, "after round 1: %d fds, %ld kB RSS (baseline %ld kB)\n",
		count_fds(pid), first, base_rss);
	if (!back)
		fail_msg("RSS %ld kB, want at most %ld kB (baseline + %d kB)",
			 rw.last, rw.max, RSS_MARGIN_KB);
	/* ...and a second round of the same does not grow it: what stays is
	 * reused, not leaked. */
	hostile_round(pl, ci, pid, base_fds, batch);
	rw = (struct rss_wait){.pid = pid, .max = first + RSS_REGROW_KB};
	back = h_poll(rss_settled, &rw, 15000);
	fprintf(stderr, "after round 2: %ld kB RSS\n", rw.last);
	if (!back)
		fail_msg("RSS grew from %ld kB to %ld kB over a second round",
			 first, rw.last);
	h_pass();
}

/* Stalled clients are also cut by client_login_timeout on their own. */
static void test_stalled_clients_time_out(void **state)
{
	raise_nofile(4096);
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD,
			     "PITLANE_CLIENT_LOGIN_TIMEOUT=1", NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	pid_t pid = pl->pid;
	PQfinish(h_connect(pl, "password=" PASSWORD));
	assert_true(h_wait_backends(2, 10000));
	int base_fds = count_fds(pid);
	enum { N = 200 };
	int fds[N];
	uint32_t seed = 7;
	for (int i = 0; i < N; i++) {
		fds[i] = open_conn(pl->port);
		send_hostile(fds[i], (enum hostile_kind)(i % H_KINDS), &seed);
	}
	struct fd_wait w = {.pid = pid, .max = -1, .min = base_fds + N / 2};
	assert_true(h_poll(fds_settled, &w, 10000));
	/* We keep our ends open: pitlane must let go of its own. */
	w = (struct fd_wait){.pid = pid, .max = base_fds + FD_MARGIN};
	if (!h_poll(fds_settled, &w, 10000))
		fail_msg("pitlane still has %d fds (baseline %d) after the "
			 "login timeout",
			 w.last, base_fds);
	/* Each got an ErrorResponse before the close (garbage and the
	 * TLS record header, a huge length without TLS: 08P01 at once; the
	 * others: the login timeout). */
	int errors = 0;
	for (int i = 0; i < N; i++) {
		unsigned char b[512];
		char type = 0;
		int n;
		if (i % H_KINDS == H_SSL_STALL) /* 'N' (TLS is off) */
			assert_int_equal(h_raw_read_byte(fds[i], 2000), 'N');
		while ((n = h_raw_read_msg(fds[i], &type, b, sizeof(b),
					   2000)) >= 0 &&
		       type != 'E')
			;
		errors += n >= 0 && type == 'E';
		close(fds[i]);
	}
	fprintf(stderr, "%d of %d got an ErrorResponse\n", errors, N);
	assert_int_equal(errors, N);
	assert_true(query_works(pl));
	h_pass();
}

static void expect_fatal(int fd, const char *sqlstate, const char *what)
{
	unsigned char b[1024];
	char type = 0, code[6] = "", sev[16] = "", msg[256] = "";
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	if (n >= 0) {
		h_raw_err_field(b, n, 'C', code, sizeof(code));
		h_raw_err_field(b, n, 'S', sev, sizeof(sev));
		h_raw_err_field(b, n, 'M', msg, sizeof(msg));
	}
	fprintf(stderr, "%s: '%c' %s %s %s\n", what, type ? type : '-', sev,
		code, msg);
	if (n < 0 || type != 'E')
		fail_msg("%s: want ErrorResponse %s", what, sqlstate);
	if (strcmp(sev, "FATAL") || strcmp(code, sqlstate))
		fail_msg("%s: want FATAL %s, got %s %s", what, sqlstate, sev,
			 code);
	if (!h_raw_wait_closed(fd, 5000))
		fail_msg("%s: connection not closed", what);
}

static void test_oversized_startup(void **state)
{
	struct h_pitlane *pl = *state = h_pitlane_start(NULL, NULL);
	const uint32_t lengths[] = {10001, 65536, 0x7fffffff, 0xffffffff};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(*lengths); i++) {
		/* Only the header: the refusal must not wait for a body. */
		uint32_t hdr[2] = {htonl(lengths[i]), htonl(PROTO_30)};
		char what[64];
		snprintf(what, sizeof(what), "startup length %u", lengths[i]);
		int fd = h_raw_connect(pl->port);
		assert_true(h_raw_send(fd, hdr, sizeof(hdr)));
		expect_fatal(fd, "08P01", what);
		close(fd);
	}
	/* Too many parameters within the size limit. */
	static unsigned char many[9000];
	size_t n = 8;
	for (int i = 0; i < 200; i++) {
		n += (size_t)sprintf((char *)many + n, "k%d", i) + 1;
		n += (size_t)sprintf((char *)many + n, "v") + 1;
	}
	many[n++] = '\0';
	uint32_t hdr[2] = {htonl((uint32_t)n), htonl(PROTO_30)};
	memcpy(many, hdr, 8);
	int fd = h_raw_connect(pl->port);
	assert_true(h_raw_send(fd, many, n));
	expect_fatal(fd, "08P01", "200 startup parameters");
	close(fd);
	assert_true(query_works(pl));
	h_pass();
}

/* Sends a startup on fd and reads the first Authentication request;
 * returns its code. */
static uint32_t start_auth(int fd)
{
	unsigned char b[512];
	char type = 0;
	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	assert_true(n >= 4);
	assert_int_equal(type, 'R');
	return h_be32(b);
}

static void send_msg(int fd, char type, const void *body, size_t len)
{
	unsigned char hdr[5] = {(unsigned char)type};
	uint32_t be = htonl((uint32_t)len + 4);
	memcpy(hdr + 1, &be, 4);
	assert_true(h_raw_send(fd, hdr, 5));
	if (len)
		assert_true(h_raw_send(fd, body, len));
}

/* A SASLInitialResponse body: mechanism, int32 length, data. */
static size_t sasl_initial(unsigned char *out, const char *mech,
			   const char *data)
{
	size_t m = strlen(mech) + 1, d = strlen(data);
	uint32_t be = htonl((uint32_t)d);
	memcpy(out, mech, m);
	memcpy(out + m, &be, 4);
	memcpy(out + m + 4, data, d);
	return m + 4 + d;
}

static void test_wrong_messages_during_auth(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=scram-sha-256",
			     "DB_PASSWORD=" PASSWORD, NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	unsigned char body[512];
	int fd;

	/* A Query where a SASLInitialResponse belongs. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	send_msg(fd, 'Q', "SELECT 1", 9);
	expect_fatal(fd, "08P01", "'Q' during SCRAM");
	close(fd);

	/* A password response far larger than any SCRAM message: refused
	 * from its header. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	unsigned char hdr[5] = {'p', 0, 0x10, 0, 0}; /* 1 MB */
	assert_true(h_raw_send(fd, hdr, 5));
	expect_fatal(fd, "08P01", "1 MB 'p' during SCRAM");
	close(fd);

	/* A length below 4. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	assert_true(h_raw_send(fd, "p\0\0\0\2", 5));
	expect_fatal(fd, "08P01", "'p' of length 2");
	close(fd);

	/* A malformed client-first-message: a protocol violation, as
	 * PostgreSQL reports it, not a wrong password. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	size_t n = sasl_initial(body, "SCRAM-SHA-256", "garbage");
	send_msg(fd, 'p', body, n);
	expect_fatal(fd, "08P01", "malformed client-first");
	close(fd);

	/* A mechanism pitlane did not offer. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	n = sasl_initial(body, "SCRAM-SHA-1", "n,,n=,r=abcdef");
	send_msg(fd, 'p', body, n);
	expect_fatal(fd, "08P01", "unknown SASL mechanism");
	close(fd);

	/* Terminate during authentication: just a close. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 10);
	send_msg(fd, 'X', NULL, 0);
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);

	assert_true(h_pitlane_alive(pl));
	PGconn *c = h_connect(pl, "password=" PASSWORD);
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	PQfinish(c);
	h_pass();
}

static void test_wrong_messages_during_md5(void **state)
{
	const char *env[] = {"PITLANE_AUTH_TYPE=md5", "DB_PASSWORD=" PASSWORD,
			     NULL};
	struct h_pitlane *pl = *state = h_pitlane_start(env, NULL);
	int fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 5);
	send_msg(fd, 'Q', "SELECT 1", 9);
	expect_fatal(fd, "08P01", "'Q' during MD5");
	close(fd);
	/* A password message without its terminating NUL. */
	fd = h_raw_connect(pl->port);
	assert_int_equal(start_auth(fd), 5);
	send_msg(fd, 'p', "md5abc", 6);
	unsigned char b[512];
	char type = 0, code[6] = "";
	int n = h_raw_read_msg(fd, &type, b, sizeof(b), 5000);
	assert_true(n >= 0);
	assert_int_equal(type, 'E');
	h_raw_err_field(b, n, 'C', code, sizeof(code));
	fprintf(stderr, "unterminated md5 response: %s\n", code);
	assert_true(strcmp(code, "08P01") == 0 || strcmp(code, "28P01") == 0);
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
	PGconn *c = h_connect(pl, "password=" PASSWORD);
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	PQfinish(c);
	h_pass();
}

/* pitlane out of file descriptors: accept fails while the clients stay;
 * once they leave it accepts again, without spinning on the error. */
static bool login_works(void *arg)
{
	return query_works(arg);
}

static void test_fd_exhaustion(void **state)
{
	struct rlimit saved, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct h_pitlane *pl = h_pitlane_spawn(NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	*state = pl;
	if (!h_pitlane_wait_ready(pl, 10000))
		fail_msg("pitlane did not start with RLIMIT_NOFILE 64");
	raise_nofile(4096);
	assert_true(query_works(pl));

	enum { N = 100 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = open_conn(pl->port);
		send_hostile(fds[i], H_HALF_STARTUP, NULL);
	}
	struct fd_wait w = {.pid = pl->pid, .max = -1, .min = 60};
	assert_true(h_poll(fds_settled, &w, 10000));
	assert_true(
	    h_log_wait(pl, "accept paused: out of file descriptors", 1, 10000));
	int64_t t0 = h_now_ms();
	/* An observation window, not a wait for an event: a listener that
	 * spins on EMFILE logs thousands of errors in it. */
	h_sleep_ms(1000);
	int errs = h_log_count(pl, "accept paused: out of file descriptors");
	fprintf(stderr, "%d `accept paused` records in %lld ms\n", errs,
		(long long)(h_now_ms() - t0));
	for (int i = 0; i < N; i++)
		close(fds[i]);
	assert_true(h_poll(login_works, pl, 10000));
	assert_true(h_pitlane_alive(pl));
	assert_true(errs < 200);
	h_pass();
}

#define TEST(f)                                                                \
	cmocka_unit_test_setup_teardown(f, h_test_setup, h_test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_thousand_stalled_clients),
	    TEST(test_stalled_clients_time_out),
	    TEST(test_oversized_startup),
	    TEST(test_wrong_messages_during_auth),
	    TEST(test_wrong_messages_during_md5),
	    TEST(test_fd_exhaustion),
	};
	return cmocka_run_group_tests(tests, group_setup, h_group_teardown);
}
