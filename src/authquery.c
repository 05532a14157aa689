/* auth_query lookups: a queue of requests, at most AUTHQUERY_INFLIGHT of
 * them connected at once (each its own short connection as auth_user:
 * connect, one parameterised query, Terminate), and a small cache of the
 * answers with a fixed time to live. */
#include "authquery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "backend.h"
#include "log.h"

#define AQ_NAME_MAX 64 /* NAMEDATALEN */

struct authquery_entry {
	char dbname[AQ_NAME_MAX], user[AQ_NAME_MAX];
	char *secret;	    /* owned; NULL: no such user */
	int64_t expires_ms; /* 0: a free slot */
};

struct authquery_req {
	TAILQ_ENTRY(authquery_req) link; /* queue or running */
	struct authquery *aq;
	const struct config *cfg; /* held */
	char dbname[AQ_NAME_MAX], user[AQ_NAME_MAX];
	char host[1024], port[256];
	char *password; /* auth_user's; owned, wiped */
	authquery_done_cb done;
	void *arg;
	bool running, cancelled;
	bool ready;	   /* answered from the cache, delivery pending */
	bool starting;	   /* inside backend_connect_start */
	bool start_failed; /* it failed before returning */
	struct backend_connect *bc;
	PGconn *conn;
	struct event *ev;    /* socket, or the delivery of a cached answer */
	struct event *timer; /* query timeout */
	enum authquery_result result;
	char *secret; /* owned, wiped */
	char error[256];
};

TAILQ_HEAD(authquery_list, authquery_req);

struct authquery {
	struct event_base *base;
	struct evdns_base *dns;
	struct authquery_list queue, running, ready;
	unsigned nrunning;
	struct authquery_entry cache[AUTHQUERY_CACHE];
};

static int64_t aq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void aq_wipe_str(char **s)
{
	if (*s != NULL)
		OPENSSL_cleanse(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

struct authquery *authquery_new(struct event_base *base, struct evdns_base *dns)
{
	struct authquery *aq = calloc(1, sizeof(*aq));

	if (aq == NULL)
		return NULL;
	aq->base = base;
	aq->dns = dns;
	TAILQ_INIT(&aq->queue);
	TAILQ_INIT(&aq->running);
	TAILQ_INIT(&aq->ready);
	return aq;
}

/* ---- cache ---- */

static struct authquery_entry *aq_cache_find(struct authquery *aq,
					     const char *dbname,
					     const char *user, int64_t now)
{
	for (unsigned i = 0; i < AUTHQUERY_CACHE; i++) {
		struct authquery_entry *e = &aq->cache[i];
		if (e->expires_ms > now && strcmp(e->user, user) == 0 &&
		    strcmp(e->dbname, dbname) == 0)
			return e;
	}
	return NULL;
}

/* Stores an answer in an expired slot, else over the one expiring first. */
static void aq_cache_put(struct authquery *aq, const char *dbname,
			 const char *user, const char *secret, int64_t now)
{
	struct authquery_entry *e = &aq->cache[0];

	for (unsigned i = 0; i < AUTHQUERY_CACHE; i++)
		if (aq->cache[i].expires_ms < e->expires_ms)
			e = &aq->cache[i];
	aq_wipe_str(&e->secret);
	if (secret != NULL && (e->secret = strdup(secret)) == NULL) {
		e->expires_ms = 0;
		return;
	}
	snprintf(e->dbname, sizeof(e->dbname), "%s", dbname);
	snprintf(e->user, sizeof(e->user), "%s", user);
	e->expires_ms = now + AUTHQUERY_TTL_MS;
}

/* ---- requests ---- */

static void aq_req_free(struct authquery_req *r)
{
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->timer != NULL)
		event_free(r->timer);
	backend_connect_abort(r->bc);
	PQfinish(r->conn);
	config_release(r->cfg);
	aq_wipe_str(&r->password);
	aq_wipe_str(&r->secret);
	free(r);
}

static void aq_start_next(struct authquery *aq);

/* The lookup ended (r->result set): cache it, tell the asker, free it,
 * and let the next one run. */
static void aq_finish(struct authquery_req *r)
{
	struct authquery *aq = r->aq;

	if (r->running) {
		TAILQ_REMOVE(&aq->running, r, link);
		aq->nrunning--;
		if (r->result != AUTHQUERY_FAILED)
			aq_cache_put(aq, r->dbname, r->user, r->secret,
				     aq_now_ms());
	} else if (r->ready) {
		TAILQ_REMOVE(&aq->ready, r, link);
	}
	if (r->result == AUTHQUERY_FAILED)
		log_warn("auth_query lookup failed", LF_STR("user", r->user),
			 LF_STR("auth_user", r->cfg->auth_user),
			 LF_STR("dbname", r->dbname),
			 LF_STR("reason", r->error));
	if (!r->cancelled)
		r->done(r->result, r->secret, r->error, r->arg);
	aq_req_free(r);
	aq_start_next(aq);
}

static void aq_fail(struct authquery_req *r, const char *why)
{
	size_t n;

	r->result = AUTHQUERY_FAILED;
	snprintf(r->error, sizeof(r->error), "%s", why);
	n = strlen(r->error);
	while (n > 0 && (r->error[n - 1] == '\n' || r->error[n - 1] == ' '))
		r->error[--n] = '\0';
	aq_finish(r);
}

/* One result of the query: the first row's passwd, if any. */
static void aq_take_result(struct authquery_req *r, PGresult *res)
{
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (r->result != AUTHQUERY_FAILED)
			snprintf(r->error, sizeof(r->error), "%s",
				 PQresultErrorMessage(res));
		r->result = AUTHQUERY_FAILED;
		return;
	}
	if (PQnfields(res) < 2) {
		snprintf(r->error, sizeof(r->error),
			 "auth_query must return two columns (usename, "
			 "passwd)");
		r->result = AUTHQUERY_FAILED;
		return;
	}
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 1) &&
	    PQgetvalue(res, 0, 1)[0] != '\0' && r->secret == NULL) {
		r->secret = strdup(PQgetvalue(res, 0, 1));
		r->result = r->secret ? AUTHQUERY_FOUND : AUTHQUERY_FAILED;
		if (r->secret == NULL)
			snprintf(r->error, sizeof(r->error), "out of memory");
	}
}

static void aq_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authquery_req *r = arg;
	PGresult *res;

	(void)fd;
	(void)what;
	if (PQconsumeInput(r->conn) == 0) {
		aq_fail(r, PQerrorMessage(r->conn));
		return;
	}
	while (!PQisBusy(r->conn)) {
		res = PQgetResult(r->conn);
		if (res == NULL) {
			if (r->result == AUTHQUERY_FAILED)
				aq_fail(r, r->error);
			else
				aq_finish(r);
			return;
		}
		aq_take_result(r, res);
		PQclear(res);
	}
}

static void aq_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authquery_req *r = arg;

	(void)fd;
	(void)what;
	snprintf(r->error, sizeof(r->error), "auth_query timed out after %d ms",
		 r->cfg->connect_timeout_ms);
	aq_fail(r, r->error);
}

/* Connected as auth_user: send the query, the user name as $1. */
static void aq_connected_cb(PGconn *conn, const char *error, void *arg)
{
	struct authquery_req *r = arg;
	const char *vals[1] = {r->user};
	int ms = r->cfg->connect_timeout_ms;
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	r->bc = NULL;
	if (conn == NULL && r->starting) { /* aq_start reports it */
		r->start_failed = true;
		snprintf(r->error, sizeof(r->error), "%s", error);
		return;
	}
	if (conn == NULL) {
		aq_fail(r, error);
		return;
	}
	r->conn = conn;
	r->result = AUTHQUERY_NONE;
	if (PQsendQueryParams(conn, r->cfg->auth_query, 1, NULL, vals, NULL,
			      NULL, 0) == 0 ||
	    PQflush(conn) != 0) { /* a short query fits the socket buffer */
		aq_fail(r, PQerrorMessage(conn));
		return;
	}
	r->ev = event_new(r->aq->base, PQsocket(conn), EV_READ | EV_PERSIST,
			  aq_read_cb, r);
	r->timer = evtimer_new(r->aq->base, aq_timeout_cb, r);
	if (r->ev == NULL || r->timer == NULL || event_add(r->ev, NULL) != 0 ||
	    evtimer_add(r->timer, &tv) != 0)
		aq_fail(r, "out of memory");
}

/* A cached answer, delivered from the loop. */
static void aq_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	aq_finish(arg);
}

/* Answers r from the cache on the next loop turn; false when the cache
 * has nothing fresh. */
static bool aq_from_cache(struct authquery_req *r)
{
	struct authquery_entry *e =
	    aq_cache_find(r->aq, r->dbname, r->user, aq_now_ms());
	struct timeval now = {0, 0};

	if (e == NULL)
		return false;
	r->result = e->secret ? AUTHQUERY_FOUND : AUTHQUERY_NONE;
	if (e->secret != NULL && (r->secret = strdup(e->secret)) == NULL)
		return false;
	r->ev = evtimer_new(r->aq->base, aq_deliver_cb, r);
	if (r->ev == NULL || evtimer_add(r->ev, &now) != 0) {
		aq_wipe_str(&r->secret);
		return false;
	}
	r->ready = true;
	TAILQ_INSERT_TAIL(&r->aq->ready, r, link);
	return true;
}

static void aq_start(struct authquery_req *r)
{
	struct authquery *aq = r->aq;
	struct backend_target t = {.host = r->host,
				   .port = r->port,
				   .dbname = r->dbname,
				   .user = r->cfg->auth_user,
				   .password = r->password,
				   .application_name = "pitlane auth_query"};
	struct backend_connect *bc;

	r->running = true;
	TAILQ_INSERT_TAIL(&aq->running, r, link);
	aq->nrunning++;
	r->starting = true;
	bc = backend_connect_start(aq->base, aq->dns, r->cfg, &t,
				   aq_connected_cb, r);
	r->starting = false;
	if (r->start_failed) /* bc is gone already */
		aq_fail(r, r->error);
	else if (bc == NULL)
		aq_fail(r, "out of memory");
	else
		r->bc = bc;
}

static void aq_start_next(struct authquery *aq)
{
	struct authquery_req *r;

	while (aq->nrunning < AUTHQUERY_INFLIGHT &&
	       (r = TAILQ_FIRST(&aq->queue)) != NULL) {
		TAILQ_REMOVE(&aq->queue, r, link);
		if (r->cancelled) {
			aq_req_free(r);
			continue;
		}
		if (!aq_from_cache(r))
			aq_start(r);
	}
}

struct authquery_req *authquery_lookup(struct authquery *aq,
				       const struct authquery_target *t,
				       const char *user, authquery_done_cb done,
				       void *arg)
{
	struct authquery_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->aq = aq;
	r->cfg = config_hold(t->cfg);
	snprintf(r->dbname, sizeof(r->dbname), "%s", t->dbname);
	snprintf(r->host, sizeof(r->host), "%s", t->host);
	snprintf(r->port, sizeof(r->port), "%s", t->port);
	snprintf(r->user, sizeof(r->user), "%s", user);
	r->done = done;
	r->arg = arg;
	if (t->password != NULL &&
	    (r->password = strdup(t->password)) == NULL) {
		aq_req_free(r);
		return NULL;
	}
	if (aq_from_cache(r))
		return r;
	TAILQ_INSERT_TAIL(&aq->queue, r, link);
	aq_start_next(aq);
	return r;
}

void authquery_cancel(struct authquery_req *r)
{
	if (r == NULL)
		return;
	/* a running lookup goes on to fill the cache, silently; a queued
	 * one is dropped when its turn comes; a cached answer is dropped
	 * when delivered */
	r->cancelled = true;
}

static void aq_free_list(struct authquery_list *l)
{
	struct authquery_req *r;

	while ((r = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, r, link);
		aq_req_free(r);
	}
}

void authquery_free(struct authquery *aq)
{
	if (aq == NULL)
		return;
	aq_free_list(&aq->queue);
	aq_free_list(&aq->running);
	aq_free_list(&aq->ready);
	for (unsigned i = 0; i < AUTHQUERY_CACHE; i++)
		aq_wipe_str(&aq->cache[i].secret);
	free(aq);
}
