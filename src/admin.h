/* The admin console: PgBouncer's console on the database `pgbouncer` (or
 * `pitlane`), for monitoring (SHOW) and control (PAUSE, RESUME, RECONNECT,
 * KILL, SET, RELOAD, SHUTDOWN, ...). A console client is a client session
 * that never links a server; this module answers its queries by reading
 * the worker's state or calling what a signal or reload would. */
#ifndef PITLANE_ADMIN_H
#define PITLANE_ADMIN_H

#include "worker.h"

/* Installs the console's hooks on the worker. */
void admin_install(struct worker *w);

/* Answers the console commands that wait for a condition (PAUSE,
 * WAIT_CLOSE, SHUTDOWN WAIT_FOR_*) once it holds; the janitor calls it
 * after each round. */
void admin_tick(struct worker *w);

#endif
