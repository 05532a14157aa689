/* Pool accounting: which server connections exist and in what state, who is
 * waiting for one, and when to connect, reap or time a waiter out. Pure: no
 * I/O, time is passed in (milliseconds on a monotonic clock), so it is unit
 * tested with a fake clock. Slots and waiters are embedded in the caller's
 * server and client objects; the pool only links them into its lists. */
#ifndef PITLANE_POOL_H
#define PITLANE_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "metrics.h"

#define POOL_BACKOFF_MIN_MS	250  /* first retry delay after a failure */
#define POOL_BACKOFF_MAX_MS	5000 /* retry delay ceiling */
#define POOL_CONNECTS_IN_FLIGHT 4    /* concurrent connects (SCRAM costs CPU) */

enum pool_slot_state {
	POOL_SLOT_NONE, /* not in the pool */
	POOL_SLOT_CONNECTING,
	POOL_SLOT_IDLE,
	POOL_SLOT_ACTIVE, /* linked to a client, or being cleaned */
	POOL_SLOT_NSTATES,
};

/* One server connection's place in the pool. */
struct pool_slot {
	TAILQ_ENTRY(pool_slot) link;
	enum pool_slot_state state;
	int64_t since_ms; /* when it entered its state */
};

/* One client's place in the wait queue. */
struct pool_waiter {
	TAILQ_ENTRY(pool_waiter) link;
	bool queued;
	int64_t since_ms; /* when it started waiting */
};

TAILQ_HEAD(pool_slot_list, pool_slot);
TAILQ_HEAD(pool_waiter_list, pool_waiter);

struct pool_limits {
	unsigned max; /* server connections, connecting ones included */
	unsigned min; /* kept open, refilled after losses */
	int64_t idle_timeout_ms; /* idle servers above min closed after this */
	int64_t connect_timeout_ms; /* bounds a connect to one host */
	int64_t wait_timeout_ms; /* bounds a client's wait: connect_timeout_ms
				    per host of the target, the longest one
				    connect attempt takes */
	unsigned reserve; /* servers allowed beyond max for a client that has
			     waited reserve_timeout_ms (reserve_pool) */
	int64_t reserve_timeout_ms;
};

struct pool {
	const char *name; /* not owned */
	struct pool_limits lim;
	struct pool_slot_list
	    slots[POOL_SLOT_NSTATES]; /* by state; idle: oldest first */
	unsigned count[POOL_SLOT_NSTATES];
	struct pool_waiter_list waiters; /* first come, first served */
	unsigned nwaiting;
	unsigned closing;   /* closed servers whose socket is still open: they
			       count toward max until it is closed */
	int64_t backoff_ms; /* current retry delay, 0 when healthy */
	int64_t next_connect_ms; /* no connect starts before this */
	bool paused; /* PAUSE: no server handed out or connected (set by the
			console) */
	const char *database, *user; /* its key, for labels; not owned */
	int64_t alive_us;	     /* a server last answered (readiness) */
	int64_t probe_since_us; /* readiness probe running since; 0: none */
	struct metrics_counters stats;
	struct metrics_histos hist;   /* recorded with stats */
	struct metrics_period period; /* stats_period averages */
};

void pool_init(struct pool *p, const char *name, const struct pool_limits *lim);

/* Servers in the pool, connecting ones included. */
unsigned pool_total(const struct pool *p);

/* Moves slot into state (POOL_SLOT_NONE removes it from the pool). Idle slots
 * join the tail of the idle list. */
void pool_slot_set(struct pool *p, struct pool_slot *slot,
		   enum pool_slot_state state, int64_t now);

/* The most servers the pool may hold now: max, plus the reserve once the
 * first waiter has waited the reserve timeout (PgBouncer's reserve_pool). */
unsigned pool_cap(const struct pool *p, int64_t now);

/* Whether the pool holds more servers than it may keep now: more than max
 * while nobody waits (reserve servers, or a max a reload lowered), or more
 * than pool_cap. A server that turns idle then is closed. */
bool pool_over_cap(const struct pool *p, int64_t now);

/* How many new connections to start now: enough to reach min and to serve
 * the waiters not covered by idle or connecting servers, never past
 * pool_cap (closing servers included: a new connection never opens before
 * the one it replaces is closed), never more than POOL_CONNECTS_IN_FLIGHT
 * at once, none while backing off. */
unsigned pool_connects_wanted(const struct pool *p, int64_t now);

/* A connect attempt ended: success resets the backoff; failure doubles it
 * (from POOL_BACKOFF_MIN_MS up to POOL_BACKOFF_MAX_MS). */
void pool_connect_done(struct pool *p, bool ok, int64_t now);

/* The most recently idled server, moved to active; NULL when none. Taking
 * the newest keeps the oldest idle so the excess is reaped. */
struct pool_slot *pool_checkout(struct pool *p, int64_t now)
    __attribute__((warn_unused_result));

/* The idle server to close now (idle longer than the idle timeout while the
 * pool holds more than min, or any idle one while it holds more than max:
 * reserve servers nobody waits for, or a max a reload lowered), or NULL. The
 * caller closes it and removes it. */
struct pool_slot *pool_reapable(const struct pool *p, int64_t now);

/* PAUSE: no connect starts and no waiter times out until pool_resume; the
 * caller closes idle servers, and busy ones as they come back
 * (server_become_idle). */
void pool_pause(struct pool *p);

/* RESUME: the backoff is reset so connects start at once, and each waiter's
 * wait counts from now. */
void pool_resume(struct pool *p, int64_t now);

void pool_wait_push(struct pool *p, struct pool_waiter *w, int64_t now);
void pool_wait_remove(struct pool *p,
		      struct pool_waiter *w); /* no-op if not queued */
struct pool_waiter *pool_wait_first(const struct pool *p);

/* The first waiter that has waited the wait timeout, or NULL. */
struct pool_waiter *pool_wait_expired(const struct pool *p, int64_t now);

/* Longest current wait in ms, 0 when nobody waits. */
int64_t pool_wait_max_ms(const struct pool *p, int64_t now);

#endif
