/* The janitor: a 100 ms tick (and an immediate run when asked) that starts
 * connects up to what the pool wants, reaps idle servers, times waiters out,
 * frees dead sessions outside their callbacks, and drives shutdown. */
#ifndef PITLANE_JANITOR_H
#define PITLANE_JANITOR_H

#include "worker.h"

#define JANITOR_TICK_MS 100

/* Installs the janitor on the worker (its maintain hook, the deferred
 * reaper, the tick). Returns -1 when out of memory. */
int janitor_start(struct worker *w) __attribute__((warn_unused_result));

/* Runs one round now. */
void janitor_run(struct worker *w);

/* Begins a graceful shutdown: no new work, idle clients told 57P01, linked
 * ones finish their transaction (bounded by shutdown_timeout_ms), then
 * every backend gets Terminate and the loop ends. */
void janitor_shutdown(struct worker *w);

/* Frees what janitor_start made. */
void janitor_stop(struct worker *w);

#endif
