/* The loop-wide owner: one event base and everything that runs on it (the
 * pool table, the sessions, the cancel threads). Passed around instead of
 * globals so several loops can run later. */
#ifndef PITLANE_WORKER_H
#define PITLANE_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "cancel.h"
#include "config.h"
#include "dbpool.h"
#include "forward.h"
#include "io.h"
#include "params.h"
#include "pool.h"
#include "srvcreds.h"
#include "stmt.h"

struct creds;
struct tls_server;
struct listener;

struct client;
struct server;

/* What differs between pool modes, as data the sessions consult. */
struct mode_ops {
	const char *name;
	bool server_at_login;  /* link a server for the whole connection */
	bool release_at_idle;  /* return the server at each idle boundary */
	bool track_statements; /* map client-named prepared statements */
	bool single_statement; /* refuse explicit transaction blocks */
	bool reset_on_unlink;  /* run server_reset_query before reuse */
};

TAILQ_HEAD(client_list, client);
TAILQ_HEAD(server_list, server);

struct worker {
	struct event_base *base;
	struct evdns_base *dns;
	const struct config *cfg; /* held (config_hold); a reload swaps it */
	const struct config_sources *sources; /* what a reload re-reads */
	struct dbpool_list pools; /* the pool table; the DB_* pool first */
	unsigned npools;
	char **disabled_dbs; /* DISABLE: aliases refusing new logins; owned */
	unsigned ndisabled_dbs;
	char **paused_dbs; /* PAUSE / KILL db: aliases whose pools, those
			      made later too, are paused; owned */
	unsigned npaused_dbs;
	bool paused_all; /* PAUSE / KILL without a database: new pools too */
	struct stmt_registry *stmts;   /* prepared statements by content, shared
					  by every pool (see docs/design.md) */
	struct creds *creds;	       /* client authentication; owned */
	struct srvcreds_keys passkeys; /* SCRAM pass-through ClientKeys */
	struct authquery *authq;       /* auth_query lookups and cache */
	struct tls_server *tls;	       /* NULL: TLS toward clients is off;
					  owned */
	struct cancel_pool *cancels;
	struct forwarder *forwards;	 /* cancels sent on to peers */
	struct client_list clients;	 /* every live client */
	struct server_list servers;	 /* every live server */
	struct client_list dead_clients; /* freed by reap_ev */
	struct server_list dead_servers;
	unsigned nclients;
	unsigned freed_since_trim; /* clients freed since malloc_trim */
	bool trim_tail;		   /* the last tick trimmed */
	unsigned clients_active;   /* linked to a server */
	struct event *reap_ev;	   /* deferred frees */
	struct event *stats_ev;	   /* stats_period timer, or NULL */
	bool shutting_down;
	bool takeover_busy; /* a takeover runs: pools are not refilled to
			       their minimum (servers cross instead) */
	bool stopped;	    /* shutdown complete */
	int64_t shutdown_deadline_ms;
	struct listener *listener; /* not owned; the console's SHUTDOWN */
	struct metrics_counters console_stats; /* the console's own commands */
	unsigned console_waits;	  /* console commands waiting for a condition */
	uint8_t console_shutdown; /* SHUTDOWN WAIT_FOR_*: admin.c's enum */
	/* Hooks the upper layers install. */
	void (*maintain)(struct worker *w); /* connect, reap, time out now */
	void (*dispatch)(struct dbpool *p); /* hand idle servers to waiters */
	/* A console client logged in / sent something (admin.c). */
	void (*console_start)(struct client *c);
	void (*console_read)(struct client *c);
	/* Live takeover (takeover.c): an idle client may leave now; true
	 * when it was taken (handed over, or closed). NULL: no takeover. */
	bool (*handoff)(struct client *c);
	/* A linked server is back at rest (ReadyForQuery, nothing in
	 * flight): in session mode its client may leave with it now. */
	void (*at_rest)(struct server *s);
	/* A CancelRequest whose key no client here holds (takeover.c passes
	 * it to the old process during a takeover). */
	void (*cancel_unknown)(struct worker *w, uint32_t pid, uint32_t secret);
	/* A CancelRequest with a console client's key (admin.c). */
	void (*console_cancel)(struct client *c);
};

/* Microseconds for durations: CLOCK_MONOTONIC (with the TSC clocksource
 * the vDSO answers it in user space, about 25 ns and no system call), read
 * once per io event callback (io_now_us) so that the relay's several
 * timestamps per wakeup cost one read. libevent's cached time is either
 * CLOCK_MONOTONIC_COARSE (4 ms ticks, most query durations would read 0)
 * or, with EVENT_BASE_FLAG_PRECISE_TIMER, costs a timerfd_settime per loop
 * iteration. Time since boot, not a date: never show it as one. The clock
 * does not jump, but differences still go through metrics_elapsed_us,
 * which clamps at 0. */
static inline int64_t worker_now_us(const struct worker *w)
{
	(void)w;
	return io_now_us();
}

/* Monotonic milliseconds, from the same reading. */
static inline int64_t worker_now_ms(void)
{
	return io_now_us() / 1000;
}

#endif
