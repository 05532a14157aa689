/* Cancel forwarding between peers: a CancelRequest that reached the wrong
 * pitlane process is sent on, once, to the peer whose id its key carries
 * (peer.h). Each forward is one short connection that sends the 16-byte
 * request and waits for the peer to close. */
#ifndef PITLANE_FORWARD_H
#define PITLANE_FORWARD_H

#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "peer.h"

#define FORWARD_MAX	   64	/* forwards in flight; more are dropped */
#define FORWARD_TIMEOUT_MS 5000 /* a peer that has not closed by then */

struct forwarder;

struct forwarder *forwarder_new(struct event_base *base,
				struct evdns_base *dns);

/* Sends CancelRequest (pid, secret) to the peer at to. The outcome is
 * logged, a request that cannot even be started (too many in flight, out
 * of memory, a bad address) included; nothing is reported back, as a
 * CancelRequest gets no reply. */
void forwarder_send(struct forwarder *f, const struct peer_addr *to,
		    unsigned peer_id, uint32_t pid, uint32_t secret);

/* Abandons forwards still in flight and frees f (NULL-safe). */
void forwarder_free(struct forwarder *f);

#endif
