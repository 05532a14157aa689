/* Peers: several pitlane processes sharing one port (so_reuseport), each
 * with a peer_id. The id travels in the cancel keys a process hands out, so
 * a CancelRequest that the kernel gave to another process can be sent on to
 * the right one, listed in [peers]. Pure module: parsing and key layout. */
#ifndef PITLANE_PEER_H
#define PITLANE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_ID_MAX	   16383 /* 14 bits of the cancel secret */
#define PEER_HOST_MAX	   256
#define PEER_DEFAULT_PORT  6432
#define PEER_KEY_FORWARDED (1u << 17) /* set on a forwarded CancelRequest */

/* Where a peer listens: a unix socket directory (host starts with '/') or
 * a host name or address, and a port. */
struct peer_addr {
	char host[PEER_HOST_MAX];
	int port;
};

/* The cancel secret handed out by peer id (1..PEER_ID_MAX): its top 14
 * bits are the id, bit 17 (PEER_KEY_FORWARDED) is clear, and the other 17
 * bits come from random. With id 0 (no peers) random is returned as is. */
uint32_t peer_key_secret(unsigned id, uint32_t random);

/* The peer id a cancel secret names (meaningless when peer_id is 0). */
unsigned peer_key_id(uint32_t secret);

/* Whether a secret was already forwarded once (and must not be again). */
bool peer_key_forwarded(uint32_t secret);

/* The secret as handed out: the forwarded bit cleared. */
uint32_t peer_key_plain(uint32_t secret);

/* The peers setting is a list of "ID = host=H port=P" entries separated by
 * ';' (one per [peers] line). peer_find fills out for id; false when the
 * list does not name it or is malformed. */
bool peer_find(const char *list, unsigned id, struct peer_addr *out);

/* Checks the whole list for this process (self is its peer_id): every
 * entry well formed, ids 1..PEER_ID_MAX and unique, self listed. false with
 * the first problem in err. A NULL list is valid. */
bool peer_check(const char *list, unsigned self, char *err, size_t errlen);

#endif
