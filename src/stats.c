/* Statistics service: snapshots of a pool's state and counters, the
 * periodic `pool metrics` record and the per-period averages. */
#include "stats.h"

#include <stdlib.h>

#include "client.h"
#include "log.h"
#include "notify.h"
#include "server.h"

/* The sessions of pool dp by state, counted by walking the worker's
 * lists. Clients without a pool yet (logging in, the console) count
 * toward the default pool, as they did when it was the only one. */
static void stats_count_sessions(struct worker *w, const struct dbpool *dp,
				 struct metrics_snapshot *s)
{
	bool first = dp == dbpool_default(w);
	struct client *c;
	struct server *sv;

	TAILQ_FOREACH(c, &w->clients, link)
	{
		if (c->pool != dp && (c->pool != NULL || !first))
			continue;
		s->clients_total++;
		if (c->server != NULL)
			s->clients_active++;
		if (c->state == CLIENT_IDLE)
			s->clients_idle++;
		else if (c->state < CLIENT_LOGIN)
			s->clients_login++;
	}
	TAILQ_FOREACH(sv, &w->servers, link)
	{
		if (sv->pool == dp && sv->state == SERVER_RESETTING)
			s->servers_used++;
	}
}

void stats_snapshot(struct worker *w, const struct dbpool *dp,
		    struct metrics_snapshot *out)
{
	const struct pool *p = &dp->pool;
	int64_t wait_ms = pool_wait_max_ms(p, worker_now_ms());
	const char *why;

	*out = (struct metrics_snapshot){
	    .pool = p->name,
	    .database = p->database,
	    .user = p->user,
	    .servers_total = pool_total(p),
	    .servers_idle = p->count[POOL_SLOT_IDLE],
	    .servers_active = p->count[POOL_SLOT_ACTIVE],
	    .servers_connecting = p->count[POOL_SLOT_CONNECTING],
	    .clients_waiting = p->nwaiting,
	    .wait_max_ms = wait_ms,
	    .wait_max_us = wait_ms * 1000,
	    .paused = p->paused,
	    .shutting_down = w->shutting_down,
	    .c = p->stats,
	    .h = p->hist,
	    .rates = p->period.rates,
	    .max = (int)p->lim.max,
	    .min = (int)p->lim.min,
	    .idle_timeout_ms = (int)p->lim.idle_timeout_ms,
	    .connect_timeout_ms = (int)p->lim.connect_timeout_ms,
	};
	stats_count_sessions(w, dp, out);
	/* Servers being cleaned hold an active slot but serve no client. */
	out->servers_active -= out->servers_used <= out->servers_active
				   ? out->servers_used
				   : out->servers_active;
	out->ready = stats_ready(w, p, &why);
}

bool stats_ready(const struct worker *w, const struct pool *p, const char **why)
{
	int64_t timeout_us = (int64_t)w->cfg->connect_timeout_ms * 1000;
	unsigned connected =
	    p->count[POOL_SLOT_IDLE] + p->count[POOL_SLOT_ACTIVE];

	*why = NULL;
	if (w->shutting_down)
		*why = "shutting down";
	else if (p->paused)
		*why = "paused";
	else if (p->backoff_ms > 0)
		*why = "cannot connect to the database";
	else if (connected == 0 && pool_total(p) + p->lim.min > 0)
		*why = "no server connection yet";
	else if (p->probe_since_us != 0 &&
		 worker_now_us(w) - p->alive_us > timeout_us)
		*why = "the database did not answer within the connect timeout";
	return *why == NULL;
}

bool stats_ready_any(const struct worker *w, const char **why)
{
	const struct dbpool *p;

	if (!stats_ready(w, &dbpool_default(w)->pool, why))
		return false;
	TAILQ_FOREACH(p, &w->pools, link)
	if (!p->pool.paused && !p->removed)
		return true;
	*why = "every pool is paused";
	return false;
}

struct metrics_snapshot *stats_snapshot_all(struct worker *w, size_t *n)
{
	struct metrics_snapshot *v = calloc(w->npools, sizeof(*v));
	const struct dbpool *p;
	size_t i = 0;

	if (v == NULL)
		return NULL;
	TAILQ_FOREACH(p, &w->pools, link)
	stats_snapshot(w, p, &v[i++]);
	*n = i;
	return v;
}

void stats_log(struct worker *w)
{
	struct metrics_snapshot snap;
	const struct dbpool *p;

	TAILQ_FOREACH(p, &w->pools, link)
	{
		stats_snapshot(w, p, &snap);
		metrics_log(&snap);
	}
}

/* Every pool's state in one line: systemd's status line has room for
 * one (the default pool's alone when it is the only one). */
void stats_notify_status(struct worker *w)
{
	struct metrics_snapshot snap, *v;
	char line[256];
	size_t n;

	v = stats_snapshot_all(w, &n);
	if (v != NULL) {
		notify_status(
		    metrics_status_line_all(v, n, line, sizeof(line)));
		free(v);
		return;
	}
	stats_snapshot(w, dbpool_default(w), &snap); /* out of memory */
	notify_status(metrics_status_line(&snap, line, sizeof(line)));
}

/* The end of a stats period: roll the averages, log the record, tell
 * systemd. */
static void stats_period_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct dbpool *p;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(p, &w->pools, link)
	metrics_period_roll(&p->pool.period, &p->pool.stats, worker_now_us(w));
	stats_log(w);
	stats_notify_status(w);
}

int stats_start(struct worker *w)
{
	int ms = w->cfg->stats_period_ms;
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	struct dbpool *p;

	TAILQ_FOREACH(p, &w->pools, link)
	metrics_period_init(&p->pool.period, &p->pool.stats, worker_now_us(w));
	if (ms == 0)
		return 0;
	w->stats_ev = event_new(w->base, -1, EV_PERSIST, stats_period_cb, w);
	if (w->stats_ev == NULL || event_add(w->stats_ev, &tv) != 0)
		return -1;
	return 0;
}

void stats_stop(struct worker *w)
{
	if (w->stats_ev != NULL)
		event_free(w->stats_ev);
	w->stats_ev = NULL;
}
