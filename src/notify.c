/* systemd notification through libsystemd's sd_notify, or nothing in a
 * build without it. The watchdog ping runs on the event loop, so a stuck
 * loop stops it and systemd restarts the service. */
#include "notify.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"

static struct event *notify_watchdog_ev; /* WATCHDOG=1 timer, or NULL */

#ifdef HAVE_LIBSYSTEMD

bool notify_built_in(void)
{
	return true;
}

/* Sends one notification; a failure is logged, never fatal. */
static void notify_send(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("sd_notify failed", LF_STR("state", state),
			 LF_INT("errno", -rc));
}

void notify_ready(void)
{
	notify_send("READY=1");
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/* MONOTONIC_USEC lets Type=notify-reload match the reload. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		     (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void notify_status(const char *line)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	notify_send(msg);
}

static void notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

int notify_watchdog_start(struct event_base *base)
{
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	notify_watchdog_ev =
	    event_new(base, -1, EV_PERSIST, notify_watchdog_cb, NULL);
	if (notify_watchdog_ev == NULL ||
	    event_add(notify_watchdog_ev, &tv) != 0)
		return -1;
	log_info("systemd watchdog", LF_INT("interval_ms", usec / 1000));
	notify_send("WATCHDOG=1");
	return 0;
}

#else /* no libsystemd */

bool notify_built_in(void)
{
	return false;
}

void notify_ready(void)
{
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}

void notify_status(const char *line)
{
	(void)line;
}

int notify_watchdog_start(struct event_base *base)
{
	(void)base;
	return 0;
}

#endif

void notify_watchdog_stop(void)
{
	if (notify_watchdog_ev != NULL)
		event_free(notify_watchdog_ev);
	notify_watchdog_ev = NULL;
}
