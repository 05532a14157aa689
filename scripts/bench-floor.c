/* The benchmark's floor: the cheapest hop a proxy can be. Each accepted
 * connection gets a connection of its own to the upstream, and whatever one
 * side sends is read once and written once to the other, unparsed, on one
 * epoll loop. No pooling, no protocol, no buffering beyond one read: what it
 * costs per transaction is what any user-space proxy pays the kernel on this
 * machine. scripts/bench builds and runs it as the "floor" target; it is not
 * part of pitlane.
 *
 * Usage: bench-floor LISTEN UPSTREAM, each "tcp:PORT" (127.0.0.1; port 0
 * picks a free one) or "unix:PATH". Prints "listening PORT" on stdout once
 * it accepts connections. */
#define _GNU_SOURCE /* accept4 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 65536

struct endpoint {
	struct sockaddr_storage addr;
	socklen_t len;
	int family;
};

static int peer_of[MAX_FDS]; /* the other side of each connection, or -1 */

static int parse_endpoint(const char *spec, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "tcp:", 4) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ep->addr;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons((unsigned short)atoi(spec + 4));
		ep->len = sizeof(*in);
		ep->family = AF_INET;
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;

		if (strlen(spec + 5) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, spec + 5);
		ep->len = sizeof(*un);
		ep->family = AF_UNIX;
		return 0;
	}
	return -1;
}

static void set_nodelay(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Writes all of p to a non-blocking socket, waiting for room if it is full
 * (never for the small messages of the benchmark). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			poll(&pfd, 1, -1);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void close_pair(int epfd, int fd)
{
	int peer = peer_of[fd];

	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	peer_of[fd] = -1;
	if (peer >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, peer, NULL);
		close(peer);
		peer_of[peer] = -1;
	}
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Accepts one client and connects it to the upstream (blocking connect:
 * the upstream is local). */
static void accept_one(int epfd, int lfd, const struct endpoint *lep,
		       const struct endpoint *up)
{
	int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int u;

	if (c < 0)
		return;
	u = socket(up->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c >= MAX_FDS || u < 0 || u >= MAX_FDS ||
	    connect(u, (const struct sockaddr *)&up->addr, up->len) != 0 ||
	    fcntl(u, F_SETFL, O_NONBLOCK) != 0) {
		close(c);
		if (u >= 0)
			close(u);
		return;
	}
	set_nodelay(c, lep->family);
	set_nodelay(u, up->family);
	peer_of[c] = u;
	peer_of[u] = c;
	if (watch(epfd, c) != 0 || watch(epfd, u) != 0)
		close_pair(epfd, c);
}

static int listen_on(const struct endpoint *ep)
{
	int one = 1;
	int fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep->family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&ep->addr)->sun_path);
	if (bind(fd, (const struct sockaddr *)&ep->addr, ep->len) != 0 ||
	    listen(fd, 4096) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int bound_port(int fd, const struct endpoint *ep)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);

	if (ep->family != AF_INET ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		return 0;
	return ntohs(in.sin_port);
}

int main(int argc, char **argv)
{
	static char buf[16384];
	struct epoll_event evs[64];
	struct endpoint lep, up;
	int lfd, epfd;

	if (argc != 3 || parse_endpoint(argv[1], &lep) != 0 ||
	    parse_endpoint(argv[2], &up) != 0) {
		fprintf(stderr, "usage: bench-floor tcp:PORT|unix:PATH "
				"tcp:PORT|unix:PATH\n");
		return 2;
	}
	memset(peer_of, -1, sizeof(peer_of));
	lfd = listen_on(&lep);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || epfd < 0 || watch(epfd, lfd) != 0) {
		perror("bench-floor: listen");
		return 1;
	}
	printf("listening %d\n", bound_port(lfd, &lep));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(epfd, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == lfd) {
				accept_one(epfd, lfd, &lep, &up);
				continue;
			}
			if (peer_of[fd] < 0)
				continue; /* closed earlier in this batch */
			r = read(fd, buf, sizeof(buf));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0 ||
			    write_all(peer_of[fd], buf, (size_t)r) != 0)
				close_pair(epfd, fd);
		}
	}
}
