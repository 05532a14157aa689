/* systemd service notification (sd_notify): READY, RELOADING, STOPPING,
 * STATUS and the watchdog, when pitlane runs as a Type=notify service
 * (NOTIFY_SOCKET set). Every function is a no-op without NOTIFY_SOCKET,
 * and in a build without libsystemd. Process-wide, like the socket. */
#ifndef PITLANE_NOTIFY_H
#define PITLANE_NOTIFY_H

#include <stdbool.h>

#include <event2/event.h>

/* Whether this build has notify support (libsystemd). */
bool notify_built_in(void);

/* READY=1: pitlane listens and serves (also after a reload). */
void notify_ready(void);

/* RELOADING=1: a reload began; notify_ready() ends it. */
void notify_reloading(void);

/* STOPPING=1: a graceful shutdown began. */
void notify_stopping(void);

/* STATUS=<line>: one line of state shown by systemctl status. */
void notify_status(const char *line);

/* When systemd set WATCHDOG_USEC for this process, sends WATCHDOG=1 from
 * the loop at half that interval. Returns -1 when out of memory. */
int notify_watchdog_start(struct event_base *base)
    __attribute__((warn_unused_result));

/* Stops the watchdog timer. */
void notify_watchdog_stop(void);

#endif
