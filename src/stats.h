/* Statistics service: builds the one metrics snapshot of a pool that every
 * reader formats (the `pool metrics` log record, the console's SHOW
 * commands, /metrics), and runs the stats_period timer that logs it and
 * rolls the per-period averages. */
#ifndef PITLANE_STATS_H
#define PITLANE_STATS_H

#include "metrics.h"
#include "worker.h"

/* Fills out with pool p's state now. Walks the worker's sessions for the
 * per-state counts: for readers (log, console, scrape), not the hot path. */
void stats_snapshot(struct worker *w, const struct dbpool *p,
		    struct metrics_snapshot *out);

/* Snapshots of every pool, in table order, into a malloc'd array (the
 * caller frees); *n is their count. NULL when out of memory. */
struct metrics_snapshot *stats_snapshot_all(struct worker *w, size_t *n);

/* Whether a new client would be served now, and if not why (a short
 * reason for /readyz); *why is NULL when ready. Not ready: shutting down,
 * paused, connects failing (backoff), no server connected yet, or a
 * readiness probe outstanding while no server has answered for the connect
 * timeout (janitor_probe sends one after half of it). */
bool stats_ready(const struct worker *w, const struct pool *p,
		 const char **why);

/* What /readyz answers: whether the default pool is ready (stats_ready)
 * and some pool (not paused, not removed by a reload) takes clients; *why
 * as for stats_ready ("every pool is paused"). */
bool stats_ready_any(const struct worker *w, const char **why);

/* Logs one `pool metrics` record per pool (startup, SIGUSR1). */
void stats_log(struct worker *w);

/* Sends the state of every pool as systemd's one-line STATUS=. */
void stats_notify_status(struct worker *w);

/* Starts the first period and, when stats_period is set, its timer.
 * Returns -1 when out of memory. */
int stats_start(struct worker *w) __attribute__((warn_unused_result));

/* Frees what stats_start made. */
void stats_stop(struct worker *w);

#endif
