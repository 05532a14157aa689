/* Socket helpers shared by the listener and the sessions. */
#ifndef PITLANE_NET_H
#define PITLANE_NET_H

#include <stdbool.h>
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

/* The address and port of a connected socket: its own end (local) or its
 * peer's. A unix socket gives "unix" and port 0. False when unknown. */
bool net_sock_name(int fd, bool local, char *ip, size_t cap, int *port);

/* The port of a peer address; 0 for unix sockets. */
int net_port(const struct sockaddr *sa);

/* The user id of the process at the other end of a unix socket. */
bool net_peer_uid(int fd, unsigned *uid);

struct sockaddr_un;

/* Whether a process accepts connections of type (SOCK_STREAM,
 * SOCK_SEQPACKET) on the unix socket sun: a connect that succeeds. */
bool net_unix_live(const struct sockaddr_un *sun, int type);

#endif
