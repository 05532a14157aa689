/* Integration-test harness, database side: pitlane's log records, libpq
 * helpers (through pitlane, direct, admin) and raw protocol sockets. See
 * harness.h for the contracts. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static PGconn *admin; /* cached connection to `postgres`, see h_admin */

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

bool h_log_first(struct h_pitlane *pl, const char *msg, int timeout_ms,
		 char *buf, size_t cap)
{
	return h_log_wait(pl, msg, 1, timeout_ms) &&
	       h_log_record(pl, msg, 0, buf, cap);
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

PGconn *h_direct_at(const char *host, int port, const char *dbname)
{
	char ci[512];
	snprintf(ci, sizeof(ci),
		 "host=%s port=%d dbname=%s user=%s sslmode=disable "
		 "application_name=" H_DIRECT_APP " connect_timeout=10",
		 host, port, dbname, H_USER);
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQfinish(c);
		fail_msg("direct connection to %s on %s: %s", dbname, host,
			 msg);
	}
	return c;
}

PGconn *h_direct(const char *dbname)
{
	return h_direct_at("127.0.0.1", h_pg_port(), dbname);
}

PGconn *h_admin(void)
{
	if (admin && PQstatus(admin) == CONNECTION_OK)
		return admin;
	h_admin_close();
	admin = h_direct("postgres");
	return admin;
}

void h_admin_close(void)
{
	if (admin)
		PQfinish(admin);
	admin = NULL;
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

static void capture_cb(void *arg, const PGresult *res)
{
	char *buf = arg;
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (s && buf[0] == '\0')
		snprintf(buf, 6, "%s", s);
}

void h_capture_async(PGconn *conn, char buf[6])
{
	buf[0] = '\0';
	PQsetNoticeReceiver(conn, capture_cb, buf);
}

bool h_wait_async(PGconn *conn, char buf[6], int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	while (buf[0] == '\0' && h_now_ms() < deadline) {
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		if (pfd.fd < 0)
			break;
		poll(&pfd, 1, H_POLL_MS);
		bool open = PQconsumeInput(conn) == 1;
		PQisBusy(conn); /* parses what arrived */
		if (!open)
			break;
	}
	return buf[0] != '\0';
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
		h_admin_close();
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

int h_raw_connect_unix(const char *dir, int port)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.%d", dir, port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect %s: %s", sa.sun_path, strerror(errno));
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

/* ---- SCRAM pass-through setup ------------------------------------------ */

void h_pg_secret(const char *role, char *out, size_t cap)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT rolpassword FROM pg_authid WHERE rolname = '%s'",
		 role);
	PGresult *r = PQexec(h_admin(), sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_true(strncmp(out, "SCRAM-SHA-256$", 14) == 0);
}

const char *h_write_authfile(const char *name, ...)
{
	static char path[PATH_MAX];
	va_list ap;
	snprintf(path, sizeof(path), "%s/%s", h_tmpdir(), name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, name);
	for (const char *u; (u = va_arg(ap, const char *)) != NULL;)
		fprintf(f, "\"%s\" \"%s\"\n", u, va_arg(ap, const char *));
	va_end(ap);
	fclose(f);
	return path;
}
