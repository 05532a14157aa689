/* Socket helpers shared by the listener and the sessions. */
#ifndef PITLANE_NET_H
#define PITLANE_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Disables Nagle's algorithm on a TCP socket; harmless on unix sockets. */
void net_set_nodelay(int fd);

/* Formats a peer address as "ip:port" or "unix" into buf. */
void net_format_addr(const struct sockaddr *sa, char *buf, size_t cap);

#endif
