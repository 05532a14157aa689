/* Socket helpers shared by the listener and the sessions. */
#ifndef PITLANE_NET_H
#define PITLANE_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Disables Nagle's algorithm on a TCP socket; harmless on unix sockets. */
void net_set_nodelay(int fd);

/* Formats a peer address as "ip:port" or "unix" into buf. */
void net_format_addr(const struct sockaddr *sa, char *buf, size_t cap);

/* Formats a peer address without its port ("[local]" for unix sockets). */
void net_format_ip(const struct sockaddr *sa, char *buf, size_t cap);

/* Copies a peer's IP address bytes (network order) into out[16]; returns
 * its family (AF_INET, AF_INET6), or 0 for other sockets. */
int net_addr_bytes(const struct sockaddr *sa, unsigned char out[16]);

#endif
