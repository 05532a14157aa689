/* Listening sockets with evconnlistener: accepted sockets become clients. */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/listener.h>

#include "client.h"
#include "log.h"
#include "net.h"

#define LISTENER_BACKLOG  1024
#define LISTENER_PAUSE_MS 100 /* accept pause when out of descriptors */

struct listener {
	struct worker *w;
	struct evconnlistener *tcp;
	struct evconnlistener *unix_sock;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int port;
	struct event *resume; /* re-enables accepting after EMFILE */
	bool paused;
	bool held;  /* accepting stopped for a takeover */
	bool given; /* handed to a new process: never unlink the file */
};

static void listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
			       struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	(void)el;
	(void)salen;
	client_accept(l->w, fd, sa);
}

/* Accepting again after a pause for running out of descriptors. */
static void listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	l->paused = false;
	if (l->w->shutting_down || l->held)
		return;
	if (l->tcp != NULL)
		evconnlistener_enable(l->tcp);
	if (l->unix_sock != NULL)
		evconnlistener_enable(l->unix_sock);
}

/* accept() failed. Out of descriptors, retrying at once would spin: stop
 * accepting for a moment (pending connections wait in the backlog) and say
 * so once. */
static void listener_error_cb(struct evconnlistener *el, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval pause = {.tv_usec = LISTENER_PAUSE_MS * 1000};

	(void)el;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_error("accept failed",
			  LF_STR("reason", evutil_socket_error_to_string(err)));
		return;
	}
	if (l->paused)
		return;
	l->paused = true;
	log_error("accept paused: out of file descriptors",
		  LF_STR("reason", evutil_socket_error_to_string(err)),
		  LF_INT("clients", l->w->nclients),
		  LF_INT("pause_ms", LISTENER_PAUSE_MS));
	if (l->tcp != NULL)
		evconnlistener_disable(l->tcp);
	if (l->unix_sock != NULL)
		evconnlistener_disable(l->unix_sock);
	evtimer_add(l->resume, &pause);
}

/* reuseport: SO_REUSEPORT, so peers share the TCP port and the kernel
 * spreads connections over them. */
static struct evconnlistener *listener_bind(struct listener *l,
					    const struct sockaddr *sa,
					    socklen_t len, bool reuseport)
{
	unsigned flags =
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
	struct evconnlistener *el;

	if (reuseport)
		flags |= LEV_OPT_REUSEABLE_PORT;
	el = evconnlistener_new_bind(l->w->base, listener_accept_cb, l, flags,
				     LISTENER_BACKLOG, sa, (int)len);

	if (el != NULL)
		evconnlistener_set_error_cb(el, listener_error_cb);
	return el;
}

static int listener_open_tcp(struct listener *l, char *err, size_t errlen)
{
	const struct config *cfg = l->w->cfg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	rc = getaddrinfo(cfg->listen_addr, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve listen_addr \"%s\": %s",
			 cfg->listen_addr, gai_strerror(rc));
		return -1;
	}
	l->tcp =
	    listener_bind(l, res->ai_addr, res->ai_addrlen, cfg->so_reuseport);
	freeaddrinfo(res);
	if (l->tcp == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s",
			 cfg->listen_addr, cfg->listen_port, strerror(errno));
		return -1;
	}
	if (getsockname(evconnlistener_get_fd(l->tcp),
			(struct sockaddr *)&bound, &blen) == 0)
		l->port = ntohs(bound.ss_family == AF_INET6
				    ? ((struct sockaddr_in6 *)&bound)->sin6_port
				    : ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

static int listener_open_unix(struct listener *l, char *err, size_t errlen)
{
	const char *dir = l->w->cfg->unix_socket_dir;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	snprintf(l->unix_path, sizeof(l->unix_path), "%s/.s.PGSQL.%d", dir,
		 l->port);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->unix_path);
	/* a peer sharing the port with the same unix_socket_dir would
	 * otherwise take the socket file over silently */
	if (net_unix_live(&sun, SOCK_STREAM)) {
		snprintf(err, errlen,
			 "another process listens on unix socket %s: each "
			 "peer needs a unix_socket_dir of its own",
			 l->unix_path);
		l->unix_path[0] = '\0'; /* not ours to unlink */
		return -1;
	}
	(void)unlink(l->unix_path); /* a stale socket from a crash */
	l->unix_sock =
	    listener_bind(l, (struct sockaddr *)&sun, sizeof(sun), false);
	if (l->unix_sock == NULL) {
		snprintf(err, errlen, "cannot listen on unix socket %s: %s",
			 l->unix_path, strerror(errno));
		l->unix_path[0] = '\0';
		return -1;
	}
	(void)chmod(l->unix_path, 0777);
	return 0;
}

struct listener *listener_new(struct worker *w, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->w = w;
	l->resume = evtimer_new(w->base, listener_resume_cb, l);
	if (l->resume == NULL) {
		snprintf(err, errlen, "out of memory");
		listener_free(l);
		return NULL;
	}
	if (listener_open_tcp(l, err, errlen) != 0 ||
	    (w->cfg->unix_socket_dir != NULL &&
	     listener_open_unix(l, err, errlen) != 0)) {
		listener_free(l);
		return NULL;
	}
	/* Only once every socket listens: scripts and tests wait for the
	 * first record (it names the port) before they connect, to either. */
	log_info("listening", LF_STR("addr", w->cfg->listen_addr),
		 LF_INT("port", l->port));
	if (l->unix_sock != NULL)
		log_info("listening", LF_STR("unix_socket", l->unix_path),
			 LF_INT("port", l->port));
	return l;
}

int listener_port(const struct listener *l)
{
	return l->port;
}

/* Closing (not just disabling) matters: a listening socket left open
 * still completes handshakes into its backlog, where they would wait until
 * exit. Closed, it makes the kernel pass new connections to the other
 * peers of an SO_REUSEPORT group, or refuse them, so a load balancer
 * retries elsewhere at once. */
static void listener_close(struct listener *l)
{
	if (l->tcp != NULL)
		evconnlistener_free(l->tcp);
	if (l->unix_sock != NULL)
		evconnlistener_free(l->unix_sock);
	l->tcp = l->unix_sock = NULL;
	if (l->unix_path[0] != '\0' && !l->given)
		(void)unlink(l->unix_path);
	l->unix_path[0] = '\0';
}

void listener_disable(struct listener *l)
{
	event_del(l->resume);
	listener_close(l);
}

void listener_close_tcp(struct listener *l)
{
	if (l->tcp != NULL)
		evconnlistener_free(l->tcp);
	l->tcp = NULL;
}

void listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	listener_close(l);
	if (l->resume != NULL)
		event_free(l->resume);
	free(l);
}

void listener_fds(const struct listener *l, int *tcp, int *unix_fd,
		  const char **path)
{
	*tcp = l->tcp != NULL ? evconnlistener_get_fd(l->tcp) : -1;
	*unix_fd =
	    l->unix_sock != NULL ? evconnlistener_get_fd(l->unix_sock) : -1;
	*path = l->unix_path;
}

/* An evconnlistener on a socket that already listens. */
static struct evconnlistener *listener_wrap(struct listener *l, int fd)
{
	struct evconnlistener *el = evconnlistener_new(
	    l->w->base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);

	if (el != NULL)
		evconnlistener_set_error_cb(el, listener_error_cb);
	return el;
}

static int listener_tcp_port(int fd)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);

	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
		return -1;
	return ntohs(bound.ss_family == AF_INET6
			 ? ((struct sockaddr_in6 *)&bound)->sin6_port
			 : ((struct sockaddr_in *)&bound)->sin_port);
}

struct listener *listener_adopt(struct worker *w, int tcp, int unix_fd,
				const char *path, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l != NULL) {
		l->w = w;
		l->resume = evtimer_new(w->base, listener_resume_cb, l);
		l->tcp = listener_wrap(l, tcp);
	}
	if (l == NULL || l->resume == NULL || l->tcp == NULL) {
		if (l == NULL || l->tcp == NULL)
			close(tcp);
		if (unix_fd >= 0)
			close(unix_fd);
		snprintf(err, errlen, "out of memory");
		listener_free(l);
		return NULL;
	}
	l->port = listener_tcp_port(tcp);
	if (unix_fd >= 0) {
		l->unix_sock = listener_wrap(l, unix_fd);
		if (l->unix_sock == NULL) {
			close(unix_fd);
			snprintf(err, errlen, "out of memory");
			listener_free(l);
			return NULL;
		}
		snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
	}
	log_info("listening", LF_STR("addr", w->cfg->listen_addr),
		 LF_INT("port", l->port),
		 LF_STR("unix_socket", unix_fd >= 0 ? l->unix_path : ""),
		 LF_BOOL("taken_over", true));
	return l;
}

void listener_accepting(struct listener *l, bool on)
{
	l->held = !on;
	if (!on) {
		event_del(l->resume);
		l->paused = false;
	}
	if (l->tcp != NULL)
		(void)(on ? evconnlistener_enable(l->tcp)
			  : evconnlistener_disable(l->tcp));
	if (l->unix_sock != NULL)
		(void)(on ? evconnlistener_enable(l->unix_sock)
			  : evconnlistener_disable(l->unix_sock));
}

void listener_given(struct listener *l, bool given)
{
	l->given = given;
}
