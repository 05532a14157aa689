/* Peers: two pitlane processes share one TCP port (so_reuseport), each with
 * its peer_id and unix socket directory. A cancel reaches its query
 * whichever process the kernel hands it to; a CancelRequest for another
 * peer is forwarded once, one for an unknown peer dropped with a log line;
 * the other peer keeps serving the port when one is killed with SIGKILL or
 * drains after SIGTERM; a [peers] list without this process and a shared
 * unix socket directory are refused at start. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CANCEL_CODE   80877102u
#define PROTO_30      196608u
#define KEY_FORWARDED (1u << 17) /* peer.h PEER_KEY_FORWARDED */
#define KEY_ID_SHIFT  18	 /* the peer id's place in the secret */
#define ROUNDS	      20

/* The second process of a test; the first is the fixture's *state. */
static struct h_pitlane *peer_b;
static int shared_port;
static char dir[3][512]; /* unix socket directories of peers 1, 2 (0 unused) */

static const char *const login_kv[] = {"user", H_USER, "database", H_DBNAME,
				       NULL};

/* Starts (or, with wait false, spawns) peer id of the pair on shared_port;
 * sock_dir NULL: its own directory. */
static struct h_pitlane *peer_spawn(int id, const char *sock_dir, bool wait)
{
	char e_id[32], e_dir[600], e_peers[1400], port[16];
	const char *env[] = {"PITLANE_SO_REUSEPORT=yes", e_id, e_dir, e_peers,
			     NULL};
	const char *args[] = {"-p", port, NULL};
	struct h_pitlane *pl;

	snprintf(e_id, sizeof(e_id), "PITLANE_PEER_ID=%d", id);
	snprintf(e_dir, sizeof(e_dir), "PITLANE_UNIX_SOCKET_DIR=%s",
		 sock_dir ? sock_dir : dir[id]);
	snprintf(e_peers, sizeof(e_peers),
		 "PITLANE_PEERS=1 = host=%s port=%d; 2 = host=%s port=%d",
		 dir[1], shared_port, dir[2], shared_port);
	snprintf(port, sizeof(port), "%d", shared_port);
	if (!wait)
		return h_pitlane_spawn(env, args);
	pl = h_pitlane_start(env, args);
	/* The first `listening` is the TCP socket's; this record comes once
	 * the unix socket is bound and the signal handlers are in place. */
	assert_true(h_log_wait(pl, "pool configured", 1, 10000));
	return pl;
}

/* Peers 1 (returned, the fixture's) and 2 (peer_b) on one port. */
static struct h_pitlane *start_pair(void)
{
	struct h_pitlane *a;

	for (int i = 1; i <= 2; i++) {
		snprintf(dir[i], sizeof(dir[i]), "%s/peer%d", h_tmpdir(), i);
		mkdir(dir[i], 0700);
	}
	shared_port = h_free_port();
	a = peer_spawn(1, NULL, true);
	peer_b = peer_spawn(2, NULL, true);
	assert_int_equal(a->port, shared_port);
	assert_int_equal(peer_b->port, shared_port);
	return a;
}

/* Stops peer 2 too; one still running must exit 0 on SIGTERM. */
static int peers_teardown(void **state)
{
	int rc = 0;

	if (peer_b != NULL && h_pitlane_alive(peer_b)) {
		kill(peer_b->pid, SIGTERM);
		if (h_pitlane_wait_exit(peer_b, 10000) != 0) {
			fprintf(stderr, "peer 2 exit status %d, want 0\n",
				peer_b->status);
			h_pitlane_dump_log(peer_b, 60);
			rc = -1;
		}
	}
	h_pitlane_stop(peer_b);
	peer_b = NULL;
	return h_test_teardown(state) != 0 ? -1 : rc;
}

static bool sleep_is_running(void *arg)
{
	(void)arg;
	return h_query_int(
		   h_admin(),
		   "SELECT count(*) FROM pg_stat_activity WHERE "
		   "state = 'active' AND query LIKE 'SELECT pg_sleep%'") == 1;
}

static bool some_forward_logged(void *arg)
{
	struct h_pitlane *a = arg;

	return h_log_count(a, "cancel request forwarded to peer") +
		   h_log_count(peer_b, "cancel request forwarded to peer") >
	       0;
}

/* Each of ROUNDS clients connects to the shared port, runs a long query
 * and cancels it with libpq: the kernel picks the process for the client
 * and for the cancel independently, yet every cancel ends its query. */
static void test_cancel_through_shared_port(void **state)
{
	struct h_pitlane *a = *state = start_pair();
	int canceled = 0;

	for (int i = 0; i < ROUNDS; i++) {
		PGconn *c = h_connect(a, NULL);
		PGcancel *cn = PQgetCancel(c);
		char err[256], st[6];
		PGresult *r;

		assert_true(PQsendQuery(c, "SELECT pg_sleep(8)"));
		assert_true(h_poll(sleep_is_running, NULL, 5000));
		int64_t t0 = h_now_ms();
		assert_true(PQcancel(cn, err, sizeof(err)));
		r = PQgetResult(c);
		if (strcmp(h_result_sqlstate(r, st), "57014") == 0 &&
		    h_now_ms() - t0 < 5000)
			canceled++;
		else
			fail_msg("round %d: the cancel missed (%s after %lld "
				 "ms)",
				 i, st, (long long)(h_now_ms() - t0));
		PQclear(r);
		while ((r = PQgetResult(c)))
			PQclear(r);
		PQfreeCancel(cn);
		PQfinish(c);
	}
	fprintf(stderr, "%d of %d cancels reached their query\n", canceled,
		ROUNDS);
	assert_int_equal(canceled, ROUNDS);
	/* Half the cancels land on the other process: some were forwarded
	 * (all 20 on the right one by chance: one in a million). */
	assert_true(h_poll(some_forward_logged, a, 5000));
	h_pass();
}

/* A raw client logged in to peer 2 over its unix socket; its key in *pid
 * and *secret. */
static int raw_login(const char *sock_dir, uint32_t *pid, uint32_t *secret)
{
	int fd = h_raw_connect_unix(sock_dir, shared_port);
	unsigned char body[512];
	char type = 0;
	int n;

	assert_true(h_raw_startup(fd, PROTO_30, login_kv));
	while ((n = h_raw_read_msg(fd, &type, body, sizeof(body), 5000)) >= 0 &&
	       type != 'Z') {
		assert_int_not_equal(type, 'E');
		if (type == 'K') {
			*pid = h_be32(body);
			*secret = h_be32(body + 4);
		}
	}
	assert_int_equal(type, 'Z');
	return fd;
}

static void raw_cancel(const char *sock_dir, uint32_t pid, uint32_t secret)
{
	uint32_t req[4] = {htonl(16), htonl(CANCEL_CODE), htonl(pid),
			   htonl(secret)};
	int fd = h_raw_connect_unix(sock_dir, shared_port);

	assert_true(h_raw_send(fd, req, sizeof(req)));
	assert_true(h_raw_wait_closed(fd, 5000));
	close(fd);
}

static bool raw_query(int fd, const char *sql)
{
	unsigned char msg[256];
	size_t len = strlen(sql) + 1;
	uint32_t be = htonl((uint32_t)(4 + len));

	msg[0] = 'Q';
	memcpy(msg + 1, &be, 4);
	memcpy(msg + 5, sql, len);
	return h_raw_send(fd, msg, 5 + len);
}

/* The SQLSTATE of the query's error ("" when it succeeded), reading up to
 * ReadyForQuery. */
static void raw_result(int fd, char code[6])
{
	unsigned char body[1024];
	char type = 0;
	int n;

	code[0] = '\0';
	while ((n = h_raw_read_msg(fd, &type, body, sizeof(body), 10000)) >=
		   0 &&
	       type != 'Z')
		if (type == 'E')
			assert_true(h_raw_err_field(body, n, 'C', code, 6));
	assert_int_equal(type, 'Z');
}

/* The key carries the peer id: a cancel for peer 2's client sent to peer 1
 * is forwarded and cancels; one already forwarded, or for a peer not in
 * [peers], is dropped with a log line and cancels nothing. */
static void test_forward_once_and_unknown_peer(void **state)
{
	struct h_pitlane *a = *state = start_pair();
	uint32_t pid = 0, secret = 0;
	int fd = raw_login(dir[2], &pid, &secret);
	char code[6], line[4096];
	long long id;

	assert_int_equal(secret >> KEY_ID_SHIFT, 2);
	assert_int_equal(secret & KEY_FORWARDED, 0);

	assert_true(raw_query(fd, "SELECT pg_sleep(20)"));
	assert_true(h_poll(sleep_is_running, NULL, 5000));
	raw_cancel(dir[1], pid, secret);
	raw_result(fd, code);
	assert_string_equal(code, "57014");
	assert_true(h_log_wait(a, "cancel request forwarded to peer", 1, 5000));
	assert_true(h_log_record(a, "cancel request forwarded to peer", 0, line,
				 sizeof(line)));
	assert_true(h_json_int(line, "peer_id", &id));
	assert_int_equal(id, 2);

	/* Marked as forwarded already: peer 1 must not send it on. */
	assert_true(raw_query(fd, "SELECT pg_sleep(20)"));
	assert_true(h_poll(sleep_is_running, NULL, 5000));
	raw_cancel(dir[1], pid, secret | KEY_FORWARDED);
	assert_true(h_log_wait(
	    a, "cancel request dropped: already forwarded once", 1, 5000));
	/* Peer 9 is not listed. */
	raw_cancel(dir[1], pid, (9u << KEY_ID_SHIFT) | (secret & 0x1ffff));
	assert_true(
	    h_log_wait(a, "cancel request dropped: unknown peer", 1, 5000));
	assert_true(h_log_record(a, "cancel request dropped: unknown peer", 0,
				 line, sizeof(line)));
	assert_true(h_json_int(line, "peer_id", &id));
	assert_int_equal(id, 9);
	assert_int_equal(h_log_count(a, "cancel request forwarded to peer"), 1);
	assert_true(sleep_is_running(NULL)); /* nothing canceled it */
	/* Sent straight to its own peer, the request still works. */
	raw_cancel(dir[2], pid, secret);
	raw_result(fd, code);
	assert_string_equal(code, "57014");
	close(fd);
	h_pass();
}

/* SIGKILL of one peer: its client loses the connection and reconnects
 * through the shared port, served by the other; the killed peer restarts
 * over its stale unix socket. */
static void test_sigkill_peer(void **state)
{
	struct h_pitlane *a = *state = start_pair();
	char host[600];
	PGconn *c;

	snprintf(host, sizeof(host), "host=%s", dir[2]);
	c = h_connect(a, host); /* peer 2, by its unix socket */
	assert_int_equal(h_query_int(c, "SELECT 1"), 1);
	h_pitlane_signal(peer_b, SIGKILL);
	assert_int_equal(h_pitlane_wait_exit(peer_b, 5000), 128 + SIGKILL);
	PGresult *r = PQexec(c, "SELECT 1");
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(c);
	for (int i = 0; i < ROUNDS; i++) {
		c = h_connect(a, NULL);
		assert_int_equal(h_query_int(c, "SELECT 2"), 2);
		PQfinish(c);
	}
	h_pitlane_stop(peer_b);
	peer_b = peer_spawn(2, NULL, true);
	c = h_connect(a, host);
	assert_int_equal(h_query_int(c, "SELECT 3"), 3);
	PQfinish(c);
	h_pass();
}

/* SIGTERM of one peer while it holds a transaction: it closes its listening
 * sockets at once, so every new connection to the shared port goes to the
 * other peer (none waits in the draining one's backlog), and the
 * transaction still commits before the peer exits 0. */
static void test_sigterm_peer_drains(void **state)
{
	struct h_pitlane *a = *state = start_pair();
	char host[600];
	PGconn *c;

	snprintf(host, sizeof(host), "host=%s", dir[2]);
	c = h_connect(a, host); /* peer 2 */
	h_exec_ok(c, "BEGIN");
	h_exec_ok(c, "INSERT INTO t VALUES (1501, 'peer drain')");
	h_pitlane_signal(peer_b, SIGTERM);
	assert_true(h_log_wait(peer_b, "shutdown started", 1, 5000));
	for (int i = 0; i < ROUNDS; i++) {
		PGconn *n = h_connect(a, "connect_timeout=3");
		assert_int_equal(h_query_int(n, "SELECT 5"), 5);
		PQfinish(n);
	}
	assert_true(h_pitlane_alive(peer_b)); /* still draining */
	h_exec_ok(c, "COMMIT");
	assert_int_equal(h_pitlane_wait_exit(peer_b, 15000), 0);
	PQfinish(c);
	PGconn *d = h_direct(H_DBNAME);
	assert_int_equal(
	    h_query_int(d, "SELECT count(*) FROM t WHERE id = 1501"), 1);
	PQfinish(d);
	h_pass();
}

/* Refused at start: [peers] without this process (exit 78, configuration
 * error), and a second peer on the first one's unix socket directory
 * (which keeps serving). */
static void test_refused_at_start(void **state)
{
	struct h_pitlane *a = *state = start_pair();
	const char *env[] = {"PITLANE_PEER_ID=3",
			     "PITLANE_PEERS=1 = host=/tmp port=6432", NULL};
	struct h_pitlane *bad = h_pitlane_spawn(env, NULL);
	char host[600];
	PGconn *c;

	assert_int_equal(h_pitlane_wait_exit(bad, 10000), 78);
	char *log = h_log_read(bad);
	assert_non_null(strstr(log, "peer_id 3 is missing"));
	free(log);
	h_pitlane_stop(bad);

	h_pitlane_stop(peer_b);
	peer_b = peer_spawn(2, dir[1], false);
	assert_int_not_equal(h_pitlane_wait_exit(peer_b, 10000), 0);
	log = h_log_read(peer_b);
	assert_non_null(strstr(log, "each peer needs a unix_socket_dir"));
	free(log);
	snprintf(host, sizeof(host), "host=%s", dir[1]);
	c = h_connect(a, host);
	assert_int_equal(h_query_int(c, "SELECT 4"), 4);
	PQfinish(c);
	h_pass();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cancel_through_shared_port,
					    h_test_setup, peers_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_once_and_unknown_peer,
					    h_test_setup, peers_teardown),
	    cmocka_unit_test_setup_teardown(test_sigkill_peer, h_test_setup,
					    peers_teardown),
	    cmocka_unit_test_setup_teardown(test_sigterm_peer_drains,
					    h_test_setup, peers_teardown),
	    cmocka_unit_test_setup_teardown(test_refused_at_start, h_test_setup,
					    peers_teardown),
	};
	return cmocka_run_group_tests(tests, h_group_setup, h_group_teardown);
}
