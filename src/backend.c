/* Backend connection driver (design.md §2 points 1-4): evdns resolution of
 * every host name, then libpq's non-blocking connect to one host at a time,
 * in list order, driven by one-shot events that are re-armed on whatever
 * socket PQconnectPoll asks for. A libevent timer is the only enforcement
 * of the connect timeout, and it applies to each host separately, as
 * libpq's connect_timeout does: with the whole list handed to libpq, a
 * host that never answers would take the attempt's whole time. */
#include "backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "log.h"

#define BACKEND_CONNINFO_MAX 20

/* The target's strings a connect keeps its own copy of. */
enum backend_field {
	BF_HOST,
	BF_PORT,
	BF_DBNAME,
	BF_USER,
	BF_PASSWORD,
	BF_TSA,
	BF_APP,
	BF_ENCODING,
	BF_OPTIONS,
	BF_COUNT,
};

struct backend_connect {
	struct event_base *base;
	struct evdns_base *dns;
	struct event *kick; /* the first step, from the loop; NULL once run */
	const struct config *cfg; /* held until the attempt is freed */
	backend_done_cb done;
	void *arg;
	struct event *io;     /* one-shot, re-assigned per poll */
	struct event *timer;  /* connect timeout of the host being tried */
	PGconn *conn;	      /* of the host being tried */
	bool aborted;	      /* freed when the last lookup returns */
	bool tried_one;	      /* a host was tried: the next gets a new timer */
	unsigned pending_dns; /* lookups still running, +1 while starting */
	struct hostlist hl;   /* into field[BF_HOST], field[BF_PORT] */
	struct backend_lookup {
		struct backend_connect *bc;
		struct evdns_getaddrinfo_request *req;
		int err; /* the lookup's failure, 0 when it found an address */
	} lookup[HOSTLIST_MAX];
	char addr[HOSTLIST_MAX][INET6_ADDRSTRLEN]; /* "" for sockets */
	char error[256];
	char *field[BF_COUNT]; /* the target's strings, owned; NULL: unset */
};

/* The last step of an attempt: a reload may have replaced the
 * configuration it was started with, which lives until here. */
static void backend_free(struct backend_connect *bc)
{
	config_release(bc->cfg);
	if (bc->field[BF_PASSWORD] != NULL)
		explicit_bzero(bc->field[BF_PASSWORD],
			       strlen(bc->field[BF_PASSWORD]));
	for (unsigned i = 0; i < BF_COUNT; i++)
		free(bc->field[i]);
	free(bc);
}

/* Copies the target's strings; false when out of memory. */
static bool backend_copy_target(struct backend_connect *bc,
				const struct backend_target *t)
{
	const char *v[BF_COUNT] = {
	    [BF_HOST] = t->host,
	    [BF_PORT] = t->port,
	    [BF_DBNAME] = t->dbname,
	    [BF_USER] = t->user,
	    [BF_PASSWORD] = t->password,
	    [BF_TSA] = t->target_session_attrs,
	    [BF_APP] = t->application_name,
	    [BF_ENCODING] = t->client_encoding,
	    [BF_OPTIONS] = t->options,
	};

	for (unsigned i = 0; i < BF_COUNT; i++)
		if (v[i] != NULL && (bc->field[i] = strdup(v[i])) == NULL)
			return false;
	return bc->field[BF_HOST] != NULL && bc->field[BF_PORT] != NULL;
}

/* The libpq keyword/value arrays for host i of bc's target (NULL-terminated,
 * values pointing into bc and its configuration). Returns the number of
 * pairs. */
static size_t backend_conninfo(const struct backend_connect *bc, unsigned i,
			       const char **keys, const char **values)
{
	const struct config *c = bc->cfg;
	const char *const pairs[][2] = {
	    {"host", bc->hl.host[i]},
	    {"hostaddr", bc->addr[i][0] != '\0' ? bc->addr[i] : NULL},
	    {"port", hostlist_port(&bc->hl, i)},
	    {"dbname", bc->field[BF_DBNAME]},
	    {"user", bc->field[BF_USER]},
	    {"password", bc->field[BF_PASSWORD]},
	    {"sslmode", c->sslmode},
	    {"sslrootcert", c->sslrootcert},
	    {"sslcert", c->sslcert},
	    {"sslkey", c->sslkey},
	    {"gssencmode", "disable"}, /* Debian's libpq tries GSS first */
	    {"target_session_attrs", hostlist_tsa(&bc->hl)},
	    {"application_name", bc->field[BF_APP]},
	    {"fallback_application_name", "pitlane"},
	    {"client_encoding", bc->field[BF_ENCODING]},
	    {"options", bc->field[BF_OPTIONS]},
	};
	size_t n = 0;

	_Static_assert(sizeof(pairs) / sizeof(pairs[0]) < BACKEND_CONNINFO_MAX,
		       "BACKEND_CONNINFO_MAX holds every pair and the NULL");
	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		if (pairs[k][1] == NULL)
			continue;
		keys[n] = pairs[k][0];
		values[n] = pairs[k][1];
		n++;
	}
	keys[n] = NULL;
	values[n] = NULL;
	return n;
}

static void backend_finish(struct backend_connect *bc, PGconn *conn,
			   const char *error)
{
	backend_done_cb done = bc->done;
	void *arg = bc->arg;
	char reason[sizeof(bc->error)] = "";

	if (error != NULL)
		snprintf(reason, sizeof(reason), "%s", error);
	if (conn != NULL)
		bc->conn = NULL; /* handed over, not finished by abort */
	backend_connect_abort(bc);
	done(conn, conn != NULL ? NULL : reason, arg);
}

/* Copies libpq's message without its trailing newline. */
static const char *backend_pq_error(struct backend_connect *bc)
{
	size_t n;

	snprintf(bc->error, sizeof(bc->error), "%s",
		 bc->conn ? PQerrorMessage(bc->conn) : "out of memory");
	n = strlen(bc->error);
	while (n > 0 && (bc->error[n - 1] == '\n' || bc->error[n - 1] == ' '))
		bc->error[--n] = '\0';
	return bc->error;
}

static void backend_poll_cb(evutil_socket_t fd, short what, void *arg);
static void backend_next_host(struct backend_connect *bc);

/* Arms a one-shot event for what PQconnectPoll asked, on the connection's
 * current socket (it may change between the addresses of a host). */
static int backend_arm(struct backend_connect *bc, short what)
{
	int fd = PQsocket(bc->conn);

	if (fd < 0)
		return -1;
	if (bc->io != NULL)
		event_free(bc->io);
	bc->io = event_new(bc->base, fd, what, backend_poll_cb, bc);
	if (bc->io == NULL || event_add(bc->io, NULL) != 0)
		return -1;
	return 0;
}

/* Host number bc->hl.cur failed for why: it becomes the attempt's error
 * (the last host's is the one reported), and the next host is tried; skip:
 * not in prefer-standby's second pass. Each failure but the last is
 * logged here; the caller logs the last. */
static void backend_host_failed(struct backend_connect *bc, const char *why,
				bool skip)
{
	unsigned i = bc->hl.cur;

	if (why != bc->error)
		snprintf(bc->error, sizeof(bc->error), "%s", why);
	if (bc->io != NULL)
		event_free(bc->io);
	bc->io = NULL;
	if (bc->conn != NULL)
		PQfinish(bc->conn);
	bc->conn = NULL;
	if (hostlist_more(&bc->hl))
		log_info("backend host failed, trying the next",
			 LF_STR("host", bc->hl.host[i]),
			 LF_STR("port", hostlist_port(&bc->hl, i)),
			 LF_STR("reason", bc->error));
	hostlist_failed(&bc->hl, skip);
	backend_next_host(bc);
}

static void backend_step(struct backend_connect *bc,
			 PostgresPollingStatusType st)
{
	switch (st) {
	case PGRES_POLLING_READING:
		if (backend_arm(bc, EV_READ) == 0)
			return;
		break;
	case PGRES_POLLING_WRITING:
		if (backend_arm(bc, EV_WRITE) == 0)
			return;
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(bc->conn, 1) != 0)
			break;
		backend_finish(bc, bc->conn, NULL);
		return;
	default:
		break;
	}
	backend_host_failed(bc, backend_pq_error(bc), false);
}

static void backend_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_connect *bc = arg;

	(void)fd;
	(void)what;
	backend_step(bc, PQconnectPoll(bc->conn));
}

/* The timer ran out: while resolving (the first host's time covers the
 * lookups), the attempt fails; while connecting, that host does. */
static void backend_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_connect *bc = arg;
	unsigned i = bc->hl.cur;

	(void)fd;
	(void)what;
	if (bc->kick != NULL || bc->pending_dns > 0 || bc->conn == NULL) {
		snprintf(bc->error, sizeof(bc->error),
			 "timeout resolving the host names after %d ms",
			 bc->cfg->connect_timeout_ms);
		backend_finish(bc, NULL, bc->error);
		return;
	}
	snprintf(bc->error, sizeof(bc->error),
		 "timeout connecting to host \"%.100s\" port %.20s after %d ms",
		 bc->hl.host[i], hostlist_port(&bc->hl, i),
		 bc->cfg->connect_timeout_ms);
	backend_host_failed(bc, bc->error, true);
}

/* (Re)starts the connect timeout for the host about to be tried. The first
 * host tried keeps the timer started with the attempt, which covered the
 * name lookups too: one attempt takes at most connect_timeout_ms per
 * host. */
static bool backend_arm_timer(struct backend_connect *bc)
{
	int ms = bc->cfg->connect_timeout_ms;
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	if (!bc->tried_one) {
		bc->tried_one = true;
		return true;
	}
	return evtimer_add(bc->timer, &tv) == 0;
}

/* Starts libpq on host bc->cur, or on the first one after it that can be
 * tried; all of them tried: the attempt fails with the last host's error.
 * One host per libpq connection, so the timer bounds each host (libpq's
 * own connect_timeout only does in its blocking connect) and a host that
 * libpq turns down for target_session_attrs is passed like any failure.
 * prefer-standby asks each host for a standby, then, when none was found,
 * goes over the list again for any server, as libpq does, except the hosts
 * that timed out or could not be resolved: an attempt stays within
 * connect_timeout_ms per host but for hosts slow without timing out. */
static void backend_next_host(struct backend_connect *bc)
{
	const char *keys[BACKEND_CONNINFO_MAX], *vals[BACKEND_CONNINFO_MAX];
	unsigned i;

	if (!hostlist_next(&bc->hl)) {
		backend_finish(bc, NULL,
			       bc->error[0] != '\0' ? bc->error
						    : "no host to try");
		return;
	}
	i = bc->hl.cur;
	if (bc->lookup[i].err != 0) {
		snprintf(bc->error, sizeof(bc->error),
			 "could not resolve host name \"%.100s\": %s",
			 bc->hl.host[i],
			 evutil_gai_strerror(bc->lookup[i].err));
		backend_host_failed(bc, bc->error, true);
		return;
	}
	if (!backend_arm_timer(bc)) {
		backend_finish(bc, NULL, "cannot arm the connect timer");
		return;
	}
	backend_conninfo(bc, i, keys, vals);
	bc->conn = PQconnectStartParams(keys, vals, 0);
	if (bc->conn == NULL || PQstatus(bc->conn) == CONNECTION_BAD) {
		backend_host_failed(bc, backend_pq_error(bc), false);
		return;
	}
	backend_step(bc, PGRES_POLLING_WRITING);
}

/* One lookup ended. The last one to end starts on the first host. A lookup
 * may end inside evdns_getaddrinfo itself (numeric names, /etc/hosts),
 * hence the +1 held while the lookups are being started. */
static void backend_dns_done(struct backend_connect *bc)
{
	if (--bc->pending_dns > 0)
		return;
	if (bc->aborted)
		backend_free(bc);
	else
		backend_next_host(bc);
}

/* A lookup's answer: the first address, or the failure, which counts
 * against that host only when its turn comes (libpq passes such a host
 * too). */
static void backend_dns_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	struct backend_lookup *lk = arg;
	struct backend_connect *bc = lk->bc;
	unsigned i = (unsigned)(lk - bc->lookup);

	lk->req = NULL;
	if (err == 0 && res != NULL) {
		const void *a =
		    res->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)res->ai_addr)
			      ->sin_addr
			: (const void *)&((struct sockaddr_in6 *)res->ai_addr)
			      ->sin6_addr;
		inet_ntop(res->ai_family, a, bc->addr[i], sizeof(bc->addr[i]));
	} else {
		lk->err = err != 0 ? err : EVUTIL_EAI_FAIL;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	backend_dns_done(bc);
}

/* Starts one lookup per host name; unix-socket directories, numeric
 * addresses and an empty name (libpq's default) need none. */
static void backend_resolve(struct backend_connect *bc, struct evdns_base *dns)
{
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_protocol = IPPROTO_TCP};

	bc->pending_dns = 1;
	for (unsigned i = 0; i < bc->hl.n; i++) {
		const char *name = bc->hl.host[i];
		unsigned char tmp[sizeof(struct in6_addr)];

		bc->lookup[i].bc = bc;
		if (name[0] == '\0' || name[0] == '/')
			continue;
		if (inet_pton(AF_INET, name, tmp) == 1 ||
		    inet_pton(AF_INET6, name, tmp) == 1) {
			snprintf(bc->addr[i], sizeof(bc->addr[i]), "%.*s",
				 INET6_ADDRSTRLEN - 1, name);
			continue;
		}
		bc->pending_dns++;
		bc->lookup[i].req = evdns_getaddrinfo(
		    dns, name, NULL, &hints, backend_dns_cb, &bc->lookup[i]);
	}
	backend_dns_done(bc);
}

/* The attempt's first step runs from the loop, never inside
 * backend_connect_start: a connect that fails at once (every host an IP
 * literal, libpq refusing the options or the connect right away) would
 * otherwise call back, and free the attempt, before its caller has even
 * stored it. */
static void backend_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend_connect *bc = arg;

	(void)fd;
	(void)what;
	event_free(bc->kick);
	bc->kick = NULL;
	if (!hostlist_ports_ok(&bc->hl, bc->error, sizeof(bc->error))) {
		backend_finish(bc, NULL, bc->error);
		return;
	}
	backend_resolve(bc, bc->dns);
}

void backend_hosts_init(struct hostlist *hl, char *hosts, char *ports,
			const char *tsa, bool shuffle)
{
	uint32_t rnd[HOSTLIST_MAX];

	if (shuffle)
		evutil_secure_rng_get_bytes(rnd, sizeof(rnd));
	hostlist_init(hl, hosts, ports, tsa, shuffle ? rnd : NULL);
}

struct backend_connect *backend_connect_start(
    struct event_base *base, struct evdns_base *dns, const struct config *cfg,
    const struct backend_target *target, backend_done_cb done, void *arg)
{
	struct backend_connect *bc = calloc(1, sizeof(*bc));
	struct timeval tv = {.tv_sec = cfg->connect_timeout_ms / 1000,
			     .tv_usec =
				 (cfg->connect_timeout_ms % 1000) * 1000};
	struct timeval now = {0, 0};

	if (bc == NULL)
		return NULL;
	bc->base = base;
	bc->dns = dns;
	bc->cfg = config_hold(cfg);
	bc->done = done;
	bc->arg = arg;
	if (!backend_copy_target(bc, target)) {
		backend_free(bc);
		return NULL;
	}
	backend_hosts_init(&bc->hl, bc->field[BF_HOST], bc->field[BF_PORT],
			   bc->field[BF_TSA], target->shuffle_hosts);
	bc->timer = evtimer_new(base, backend_timeout_cb, bc);
	bc->kick = evtimer_new(base, backend_kick_cb, bc);
	if (bc->timer == NULL || evtimer_add(bc->timer, &tv) != 0 ||
	    bc->kick == NULL || evtimer_add(bc->kick, &now) != 0) {
		backend_connect_abort(bc);
		return NULL;
	}
	return bc;
}

/* Frees the attempt. Lookups still in flight are cancelled; the structure
 * then lives until the last of them has called back. */
void backend_connect_abort(struct backend_connect *bc)
{
	if (bc == NULL)
		return;
	if (bc->kick != NULL)
		event_free(bc->kick);
	bc->kick = NULL;
	if (bc->io != NULL)
		event_free(bc->io);
	if (bc->timer != NULL)
		event_free(bc->timer);
	bc->io = bc->timer = NULL;
	if (bc->conn != NULL)
		PQfinish(bc->conn);
	bc->conn = NULL;
	if (bc->pending_dns == 0) {
		backend_free(bc);
		return;
	}
	bc->aborted = true;
	for (unsigned i = 0; i < bc->hl.n; i++)
		if (bc->lookup[i].req != NULL)
			evdns_getaddrinfo_cancel(bc->lookup[i].req);
}

/* The head of libpq's struct pg_cancel (libpq-int.h, PostgreSQL 12 to
 * 17): the server's address, then the backend's pid and key. Read only
 * when the pid it holds is the connection's own, so a libpq with another
 * layout is refused, never misread. */
struct backend_cancel_head {
	struct {
		struct sockaddr_storage addr;
		socklen_t salen;
	} raddr; /* libpq's SockAddr, padding included */
	int be_pid;
	int be_key;
};

bool backend_cancel_secret(PGconn *conn, uint32_t *secret)
{
	PGcancel *pc = PQgetCancel(conn);
	const struct backend_cancel_head *h = (const void *)pc;
	bool ok;

	if (pc == NULL)
		return false;
	ok = PQlibVersion() < 180000 && h->be_pid == PQbackendPID(conn) &&
	     h->be_pid != 0;
	if (ok)
		*secret = (uint32_t)h->be_key;
	PQfreeCancel(pc);
	return ok;
}
