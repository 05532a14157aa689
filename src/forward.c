/* Cancel forwarding (forward.h) over bufferevents: connect (a unix socket
 * DIR/.s.PGSQL.PORT, or a host name through evdns), write the request,
 * read until the peer closes or FORWARD_TIMEOUT_MS passes. */
#include "forward.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"

#define FORWARD_CANCEL_CODE 80877102u /* 1234 << 16 | 5678 */

struct forward {
	LIST_ENTRY(forward) link;
	struct forwarder *f;
	struct bufferevent *bev;
	unsigned peer_id;
	bool sent; /* the request has left */
};

struct forwarder {
	struct event_base *base;
	struct evdns_base *dns;
	LIST_HEAD(, forward) live;
	unsigned n;
};

struct forwarder *forwarder_new(struct event_base *base, struct evdns_base *dns)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->base = base;
	f->dns = dns;
	LIST_INIT(&f->live);
	return f;
}

static void forward_free(struct forward *fw)
{
	LIST_REMOVE(fw, link);
	fw->f->n--;
	bufferevent_free(fw->bev);
	free(fw);
}

/* Whatever the peer sends is ignored; it closes when done. */
static void forward_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void forward_write_cb(struct bufferevent *bev, void *arg)
{
	struct forward *fw = arg;

	(void)bev;
	fw->sent = true;
}

static void forward_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct forward *fw = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_EOF) && fw->sent)
		log_info("cancel request forwarded to peer",
			 LF_INT("peer_id", fw->peer_id));
	else
		log_warn("cancel request to peer failed",
			 LF_INT("peer_id", fw->peer_id),
			 LF_STR("reason", (what & BEV_EVENT_TIMEOUT)
					      ? "timed out"
					      : evutil_socket_error_to_string(
						    EVUTIL_SOCKET_ERROR())));
	forward_free(fw);
}

static int forward_connect(struct forward *fw, const struct peer_addr *to)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n;

	if (to->host[0] != '/')
		return bufferevent_socket_connect_hostname(
		    fw->bev, fw->f->dns, AF_UNSPEC, to->host, to->port);
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d",
		     to->host, to->port);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return -1;
	return bufferevent_socket_connect(fw->bev, (struct sockaddr *)&sun,
					  sizeof(sun));
}

static void forward_request(uint8_t out[16], uint32_t pid, uint32_t secret)
{
	uint32_t w[4] = {htonl(16), htonl(FORWARD_CANCEL_CODE), htonl(pid),
			 htonl(secret)};

	memcpy(out, w, sizeof(w));
}

/* A forward on the list of f, its connection not started; NULL when out
 * of memory. */
static struct forward *forward_new(struct forwarder *f, unsigned peer_id)
{
	struct timeval tv = {.tv_sec = FORWARD_TIMEOUT_MS / 1000,
			     .tv_usec = (FORWARD_TIMEOUT_MS % 1000) * 1000};
	struct forward *fw = calloc(1, sizeof(*fw));

	if (fw == NULL)
		return NULL;
	fw->bev = bufferevent_socket_new(
	    f->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (fw->bev == NULL) {
		free(fw);
		return NULL;
	}
	fw->f = f;
	fw->peer_id = peer_id;
	LIST_INSERT_HEAD(&f->live, fw, link);
	f->n++;
	bufferevent_setcb(fw->bev, forward_read_cb, forward_write_cb,
			  forward_event_cb, fw);
	bufferevent_set_timeouts(fw->bev, &tv, &tv);
	return fw;
}

/* Callbacks are deferred, so a connect that fails at once is seen in its
 * return value only, and freeing then is safe. */
void forwarder_send(struct forwarder *f, const struct peer_addr *to,
		    unsigned peer_id, uint32_t pid, uint32_t secret)
{
	struct forward *fw;
	uint8_t req[16];

	if (f->n >= FORWARD_MAX) {
		log_warn("cancel request dropped: too many forwards in flight",
			 LF_INT("peer_id", peer_id),
			 LF_INT("max", FORWARD_MAX));
		return;
	}
	fw = forward_new(f, peer_id);
	if (fw == NULL) {
		log_warn("cancel request to peer failed",
			 LF_INT("peer_id", peer_id),
			 LF_STR("reason", "out of memory"));
		return;
	}
	forward_request(req, pid, secret);
	if (bufferevent_write(fw->bev, req, sizeof(req)) != 0 ||
	    bufferevent_enable(fw->bev, EV_READ | EV_WRITE) != 0 ||
	    forward_connect(fw, to) != 0) {
		log_warn("cancel request to peer failed",
			 LF_INT("peer_id", peer_id), LF_STR("host", to->host),
			 LF_STR("reason", evutil_socket_error_to_string(
					      EVUTIL_SOCKET_ERROR())));
		forward_free(fw);
	}
}

void forwarder_free(struct forwarder *f)
{
	if (f == NULL)
		return;
	while (!LIST_EMPTY(&f->live))
		forward_free(LIST_FIRST(&f->live));
	free(f);
}
