/* Query cancellation: libpq 15 has no non-blocking cancel, so PQcancel runs
 * on helper threads (design.md §2 point 7) and the result is reported back
 * on the loop thread. */
#ifndef PITLANE_CANCEL_H
#define PITLANE_CANCEL_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <libpq-fe.h>

#define CANCEL_THREADS_MAX 4 /* requests sent at once; the rest queue */

struct cancel_pool;

/* Called on the loop thread once the request has been sent (or failed). */
typedef void (*cancel_done_cb)(void *arg);

/* Completions are reported on the loop of base (no evthread needed). */
struct cancel_pool *cancel_pool_new(struct event_base *base);

/* Takes ownership of pgcancel (from PQgetCancel) and sends the cancel
 * request from a helper thread. Returns -1 (pgcancel freed, done not
 * called) when out of memory. */
int cancel_submit(struct cancel_pool *cp, PGcancel *pgcancel,
		  cancel_done_cb done, void *arg)
    __attribute__((warn_unused_result));

/* Sends a CancelRequest for pid/key to addr from a helper thread, for a
 * server without a PGconn (SCRAM pass-through). -1 when out of memory
 * (done not called). */
int cancel_submit_raw(struct cancel_pool *cp,
		      const struct sockaddr_storage *addr, socklen_t addr_len,
		      uint32_t pid, uint32_t key, cancel_done_cb done,
		      void *arg) __attribute__((warn_unused_result));

/* Requests queued or running. */
unsigned cancel_pending(const struct cancel_pool *cp);

/* Frees the pool; requests still running are abandoned (their threads are
 * detached and exit with the process). */
void cancel_pool_free(struct cancel_pool *cp);

#endif
