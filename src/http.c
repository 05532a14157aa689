/* The HTTP endpoint: evhttp serves the requests; this file routes them and
 * bounds the connections evhttp has no limit for.
 *
 * libevent 2.1's evhttp has no connection limit and no hook when a
 * connection ends, so each connection's bufferevent is made here
 * (evhttp_set_bevcb) and kept referenced: evhttp_connection_free clears
 * its callbacks, which the sweep sees, and only then is it released
 * (closing the socket: BEV_OPT_CLOSE_ON_FREE, so the descriptor cannot be
 * reused while its events still exist). A connection past HTTP_MAX_CONNS,
 * or older than HTTP_LIFETIME_MS, is shut down; evhttp then reads EOF and
 * frees it. */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "log.h"
#include "prom.h"
#include "stats.h"

#define HTTP_BACKLOG	 128
#define HTTP_METRICS_CAP (64 * 1024) /* first try; doubled as needed */

/* One connection evhttp serves, as seen from here. */
struct http_conn {
	struct bufferevent *bev; /* referenced: released by the sweep */
	int64_t since_ms;	 /* accepted */
	bool shut;		 /* shut down: over the limit or too old */
};

struct http_server {
	struct worker *w;
	struct evhttp *http;
	struct event *sweep_ev; /* HTTP_SWEEP_MS while connections exist */
	struct event *shut_ev;	/* shuts connections over the limit down */
	struct http_conn *conns;
	size_t nconns, cap;
	unsigned live; /* connections not shut down */
	int port;
	bool notify;			 /* for pitlane_build_info */
	struct evconnlistener *listener; /* evhttp's, bound to http */
};

/* Whether evhttp is done with this bufferevent (it clears the callbacks
 * in bufferevent_free; while it owns one, the event callback is set). */
static bool http_conn_done(const struct http_conn *c)
{
	bufferevent_event_cb eventcb;

	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, NULL);
	return eventcb == NULL;
}

static void http_conn_shut(struct http_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	c->shut = true;
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR); /* evhttp sees EOF and frees it */
}

static void http_sweep_arm(struct http_server *h)
{
	struct timeval tv = {.tv_usec = HTTP_SWEEP_MS * 1000};

	if (!evtimer_pending(h->sweep_ev, NULL))
		evtimer_add(h->sweep_ev, &tv);
}

/* Releases finished connections, shuts down old ones and those marked to
 * go; keeps the sweep running while any remain. */
static void http_sweep(struct http_server *h)
{
	int64_t now = worker_now_ms();
	size_t j = 0;

	h->live = 0;
	for (size_t i = 0; i < h->nconns; i++) {
		struct http_conn *c = &h->conns[i];
		if (http_conn_done(c)) {
			bufferevent_decref(c->bev);
			continue;
		}
		if (!c->shut && now - c->since_ms >= HTTP_LIFETIME_MS)
			http_conn_shut(c);
		if (!c->shut)
			h->live++;
		h->conns[j++] = *c;
	}
	h->nconns = j;
	if (h->nconns > 0)
		http_sweep_arm(h);
}

static void http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_sweep(arg);
}

/* Shuts down the connections accepted over the limit, right after evhttp
 * has set them up. */
static void http_shut_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *h = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < h->nconns; i++) {
		struct http_conn *c = &h->conns[i];
		if (c->shut && !http_conn_done(c))
			http_conn_shut(c);
	}
	http_sweep(h);
}

static bool http_track_room(struct http_server *h)
{
	size_t cap = h->cap == 0 ? 16 : h->cap * 2;
	struct http_conn *c;

	if (h->nconns < h->cap)
		return true;
	c = realloc(h->conns, cap * sizeof(*c));
	if (c == NULL)
		return false;
	h->conns = c;
	h->cap = cap;
	return true;
}

/* evhttp's bufferevent for a new connection. Returns NULL (evhttp then
 * makes an untracked one) only when out of memory. */
static struct bufferevent *http_bev_cb(struct event_base *base, void *arg)
{
	struct http_server *h = arg;
	struct bufferevent *bev;
	bool over;

	http_sweep(h);
	if (!http_track_room(h))
		return NULL;
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_incref(bev);
	over = h->live >= HTTP_MAX_CONNS;
	h->conns[h->nconns++] = (struct http_conn){
	    .bev = bev, .since_ms = worker_now_ms(), .shut = over};
	if (over)
		event_active(h->shut_ev, EV_TIMEOUT, 0);
	else
		h->live++;
	http_sweep_arm(h);
	return bev;
}

static void http_reply(struct evhttp_request *req, int code, const char *reason,
		       const char *type, struct evbuffer *body)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

	evhttp_add_header(hdr, "Content-Type", type);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evhttp_add_header(hdr, "Connection", "close");
	evhttp_send_reply(req, code, reason, body);
}

/* GET /metrics: every pool's snapshot in the Prometheus text format. */
static void http_metrics(struct http_server *h, struct evhttp_request *req,
			 struct evbuffer *body)
{
	size_t n = 0;
	struct metrics_snapshot *snap = stats_snapshot_all(h->w, &n);
	struct prom_info info = {.version = PITLANE_VERSION,
				 .notify = h->notify};
	struct prom_out o = {0};

	for (size_t cap = HTTP_METRICS_CAP;
	     snap != NULL && cap <= 64 * HTTP_METRICS_CAP * n; cap *= 2) {
		char *buf = realloc(o.buf, cap);
		if (buf == NULL)
			break;
		o.buf = buf;
		o.cap = cap;
		if (prom_format(&o, &info, snap, n)) {
			evbuffer_add(body, o.buf, o.len);
			free(o.buf);
			free(snap);
			http_reply(req, HTTP_OK, "OK",
				   "text/plain; version=0.0.4; charset=utf-8",
				   body);
			return;
		}
	}
	free(o.buf);
	free(snap);
	evbuffer_add_printf(body, "out of memory\n");
	http_reply(req, HTTP_INTERNAL, "Internal Server Error",
		   "text/plain; charset=utf-8", body);
}

/* GET /readyz: 200 when a new client of the default pool would be served
 * now and some pool is not paused (stats_ready_any), else 503 with the
 * reason as one line of JSON. */
static void http_readyz(struct http_server *h, struct evhttp_request *req,
			struct evbuffer *body)
{
	const char *why;

	if (stats_ready_any(h->w, &why)) {
		evbuffer_add_printf(body, "{\"ready\":true}\n");
		http_reply(req, HTTP_OK, "OK", "application/json", body);
		return;
	}
	evbuffer_add_printf(body, "{\"ready\":false,\"reason\":\"%s\"}\n", why);
	http_reply(req, HTTP_SERVUNAVAIL, "Service Unavailable",
		   "application/json", body);
}

/* Routes a request by its path (the query string is ignored). */
static void http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http_server *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0)
		http_metrics(h, req, body);
	else if (path != NULL && strcmp(path, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		http_reply(req, HTTP_OK, "OK", "text/plain; charset=utf-8",
			   body);
	} else if (path != NULL && strcmp(path, "/readyz") == 0)
		http_readyz(h, req, body);
	else {
		evbuffer_add_printf(body, "not found: try /metrics, /healthz "
					  "or /readyz\n");
		http_reply(req, HTTP_NOTFOUND, "Not Found",
			   "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

static void http_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/* accept() failed, most likely out of descriptors: a retry would spin, so
 * the listener pauses for a sweep period. (Its argument is evhttp's once
 * bound, hence the listener alone is used.) */
static void http_accept_error_cb(struct evconnlistener *el, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {.tv_usec = HTTP_SWEEP_MS * 1000};

	(void)arg;
	log_warn("http accept paused",
		 LF_STR("reason", evutil_socket_error_to_string(err)),
		 LF_INT("pause_ms", HTTP_SWEEP_MS));
	evconnlistener_disable(el);
	if (event_base_once(evconnlistener_get_base(el), -1, EV_TIMEOUT,
			    http_accept_resume_cb, el, &tv) != 0)
		evconnlistener_enable(el);
}

static struct evconnlistener *http_listen(struct http_server *h, char *err,
					  size_t errlen)
{
	const struct config *cfg = h->w->cfg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	struct evconnlistener *el;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%d", cfg->http_port);
	rc = getaddrinfo(cfg->http_addr, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve http_addr \"%s\": %s",
			 cfg->http_addr, gai_strerror(rc));
		return NULL;
	}
	el = evconnlistener_new_bind(
	    h->w->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
		LEV_OPT_DISABLED,
	    HTTP_BACKLOG, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (el == NULL) {
		snprintf(err, errlen, "cannot listen for HTTP on %s:%d: %s",
			 cfg->http_addr, cfg->http_port, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(el, http_accept_error_cb);
	return el;
}

static int http_bound_port(struct evconnlistener *el)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(evconnlistener_get_fd(el), (struct sockaddr *)&ss,
			&len) != 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6
			 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			 : ((struct sockaddr_in *)&ss)->sin_port);
}

/* The evhttp object with every bound this file promises. */
static int http_setup(struct http_server *h)
{
	struct timeval tv = {.tv_sec = HTTP_TIMEOUT_S};

	h->http = evhttp_new(h->w->base);
	h->sweep_ev = evtimer_new(h->w->base, http_sweep_cb, h);
	h->shut_ev = evtimer_new(h->w->base, http_shut_cb, h);
	if (h->http == NULL || h->sweep_ev == NULL || h->shut_ev == NULL)
		return -1;
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout_tv(h->http, &tv);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_bevcb(h->http, http_bev_cb, h);
	evhttp_set_gencb(h->http, http_request_cb, h);
	return 0;
}

/* http_new and http_adopt: adopt_fd -1 binds http_addr:http_port. */
static struct http_server *http_start(struct worker *w, bool notify_built_in,
				      int adopt_fd, char *err, size_t errlen)
{
	struct http_server *h = calloc(1, sizeof(*h));
	struct evconnlistener *el;

	if (h == NULL || (h->w = w, http_setup(h)) != 0) {
		snprintf(err, errlen, "out of memory");
		if (adopt_fd >= 0)
			close(adopt_fd);
		http_free(h);
		return NULL;
	}
	h->notify = notify_built_in;
	if (adopt_fd >= 0) {
		el = evconnlistener_new(w->base, NULL, NULL,
					LEV_OPT_CLOSE_ON_FREE |
					    LEV_OPT_CLOSE_ON_EXEC |
					    LEV_OPT_DISABLED,
					0, adopt_fd);
		if (el == NULL) {
			close(adopt_fd);
			snprintf(err, errlen, "out of memory");
		} else {
			evconnlistener_set_error_cb(el, http_accept_error_cb);
		}
	} else {
		el = http_listen(h, err, errlen);
	}
	if (el == NULL) {
		http_free(h);
		return NULL;
	}
	h->port = http_bound_port(el);
	if (evhttp_bind_listener(h->http, el) == NULL) {
		evconnlistener_free(el);
		snprintf(err, errlen, "out of memory");
		http_free(h);
		return NULL;
	}
	h->listener = el;
	evconnlistener_enable(el);
	log_info("http listening", LF_STR("addr", w->cfg->http_addr),
		 LF_INT("port", h->port));
	return h;
}

struct http_server *http_new(struct worker *w, bool notify_built_in, char *err,
			     size_t errlen)
{
	return http_start(w, notify_built_in, -1, err, errlen);
}

struct http_server *http_adopt(struct worker *w, bool notify_built_in, int fd,
			       char *err, size_t errlen)
{
	return http_start(w, notify_built_in, fd, err, errlen);
}

int http_listen_fd(const struct http_server *h)
{
	return evconnlistener_get_fd(h->listener);
}

void http_accepting(struct http_server *h, bool on)
{
	(void)(on ? evconnlistener_enable(h->listener)
		  : evconnlistener_disable(h->listener));
}

int http_port(const struct http_server *h)
{
	return h->port;
}

void http_free(struct http_server *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http); /* frees its connections too */
	for (size_t i = 0; i < h->nconns; i++)
		bufferevent_decref(h->conns[i].bev);
	free(h->conns);
	if (h->sweep_ev != NULL)
		event_free(h->sweep_ev);
	if (h->shut_ev != NULL)
		event_free(h->shut_ev);
	free(h);
}
