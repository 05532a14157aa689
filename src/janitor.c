/* The janitor: periodic and on-demand pool upkeep, the deferred reaper of
 * closed sessions and the shutdown sequence. */
#include "janitor.h"

#include <stddef.h>
#include <malloc.h>
#include <stdlib.h>

#include "admin.h"
#include "client.h"
#include "log.h"
#include "server.h"

#define client_of_waiter(wt)                                                   \
	((struct client *)((char *)(wt)-offsetof(struct client, waiter)))
#define server_of_slot(sl)                                                     \
	((struct server *)((char *)(sl)-offsetof(struct server, slot)))

#define JANITOR_TRIM_AFTER 64 /* clients freed before memory is trimmed */

static struct event *janitor_tick_ev;

/* Transactions served by every pool, for the last log line. */
static uint64_t janitor_xacts_total(const struct worker *w)
{
	const struct dbpool *p;
	uint64_t n = 0;

	TAILQ_FOREACH(p, &w->pools, link)
	n += p->pool.stats.xacts_total;
	return n;
}

/* Every server is gone, every client too: the pool is closed. */
static void janitor_finish_shutdown(struct worker *w)
{
	if (w->stopped)
		return;
	w->stopped = true;
	log_info("shutdown complete",
		 LF_STR("pool", dbpool_default(w)->pool.name),
		 LF_INT("xacts_total", janitor_xacts_total(w)));
	event_base_loopexit(w->base, NULL);
}

static void janitor_shutdown_step(struct worker *w, int64_t now)
{
	struct client *c, *next;
	struct server *s, *snext;

	if (now >= w->shutdown_deadline_ms) {
		for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
			next = TAILQ_NEXT(c, link);
			client_shutdown(c, true);
		}
	}
	if (!TAILQ_EMPTY(&w->clients))
		return;
	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		server_close(s, NULL);
	}
	if (TAILQ_EMPTY(&w->dead_clients) && TAILQ_EMPTY(&w->dead_servers))
		janitor_finish_shutdown(w);
	else if (now >= w->shutdown_deadline_ms + JANITOR_TICK_MS * 10)
		janitor_finish_shutdown(w); /* a cancel thread is stuck */
}

/* The per-client timeouts, when any is configured. */
static void janitor_client_timeouts(struct worker *w, int64_t now)
{
	const struct config *cfg = w->cfg;
	struct client *c, *next;

	if (cfg->query_timeout_ms == 0 &&
	    cfg->idle_transaction_timeout_ms == 0 &&
	    cfg->client_idle_timeout_ms == 0)
		return;
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		client_check_timeouts(c, now);
	}
}

/* Readiness wants proof that the database answers: when no server has
 * answered for half the connect timeout (an idle pool), the newest idle
 * server runs the check query. Never while a client waits, one at a time;
 * a busy pool proves itself with every ReadyForQuery. */
static void janitor_probe(struct dbpool *dp)
{
	struct worker *w = dp->w;
	struct pool *p = &dp->pool;
	int64_t now = worker_now_us(w);
	struct pool_slot *slot;

	if (p->paused || p->nwaiting > 0 || p->probe_since_us != 0 ||
	    now - p->alive_us < (int64_t)w->cfg->connect_timeout_ms * 500)
		return;
	slot = TAILQ_LAST(&p->slots[POOL_SLOT_IDLE], pool_slot_list);
	if (slot != NULL)
		server_probe(server_of_slot(slot));
}

/* After many clients went away (a burst, an attack), gives the freed
 * memory back to the system: glibc would keep it. Called from the tick
 * only, never right after the reaper: freeing a TLS session's bufferevent
 * is finished by libevent later in the loop (its finalizer), and the
 * OpenSSL buffers it frees then are most of such a client's memory. A
 * trimming tick also trims on the next tick when clients were freed
 * meanwhile, so the tail of a burst (fewer than JANITOR_TRIM_AFTER, and
 * the finalizers run after the last trim) comes back too; a tick without
 * frees ends the burst. */
static void janitor_trim(struct worker *w)
{
	bool trim = w->freed_since_trim >= JANITOR_TRIM_AFTER ||
		    (w->trim_tail && w->freed_since_trim > 0);

	w->trim_tail = trim;
	if (!trim)
		return;
	malloc_trim(0);
	w->freed_since_trim = 0;
}

/* Refuses the waiters of p that waited past the connect timeout. */
static void janitor_waiters(struct dbpool *p, int64_t now)
{
	struct pool_waiter *wt;

	while ((wt = pool_wait_expired(&p->pool, now)) != NULL)
		client_wait_timeout(client_of_waiter(wt));
}

/* One pool's upkeep: idle servers past their time close, new ones open as
 * the pool wants. */
static void janitor_pool(struct dbpool *p, int64_t now)
{
	struct pool_slot *slot;

	while ((slot = pool_reapable(&p->pool, now)) != NULL) {
		struct server *s = server_of_slot(slot);
		log_debug("closing idle server", LF_STR("pool", p->pool.name),
			  LF_INT("backend_pid", s->backend_pid));
		server_close(s, NULL);
	}
	unsigned want = pool_connects_wanted(&p->pool, now);

	if (p->w->takeover_busy && p->pool.nwaiting == 0)
		want = 0; /* idle servers come from the old process */
	unsigned room = want > 0 ? dbpool_connect_room(p) : 0;

	/* max_db_connections / max_user_connections: waiters get room
	 * from an idle server of a pool sharing the cap. */
	p->capped = want > room;
	if (room == 0 && want > 0 && p->pool.nwaiting > 0)
		dbpool_evict_for(p);
	for (unsigned n = want < room ? want : room; n > 0; n--)
		if (server_connect(p) == NULL)
			break;
	janitor_probe(p);
}

void janitor_run(struct worker *w)
{
	int64_t now = worker_now_ms();
	struct dbpool *p;

	if (w->shutting_down) {
		janitor_shutdown_step(w, now);
		return;
	}
	TAILQ_FOREACH(p, &w->pools, link)
	janitor_waiters(p, now);
	janitor_client_timeouts(w, now);
	TAILQ_FOREACH(p, &w->pools, link)
	janitor_pool(p, now);
	dbpool_sweep(w, now);
}

/* Frees sessions closed since the last run, outside their callbacks. */
static void janitor_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct client *c;
	struct server *s, *next;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&w->dead_clients)) != NULL) {
		TAILQ_REMOVE(&w->dead_clients, c, link);
		client_free(c);
		w->freed_since_trim++;
	}

	for (s = TAILQ_FIRST(&w->dead_servers); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		TAILQ_REMOVE(&w->dead_servers, s, link);
		if (!server_free(s))
			TAILQ_INSERT_HEAD(&w->dead_servers, s, link);
	}
	janitor_run(w);
	admin_tick(w); /* from the loop, never inside a session's callback */
}

static void janitor_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	janitor_trim(arg);
	janitor_run(arg);
	admin_tick(arg);
}

int janitor_start(struct worker *w)
{
	struct timeval tick = {.tv_usec = JANITOR_TICK_MS * 1000};

	w->maintain = janitor_run;
	w->dispatch = client_dispatch;
	w->reap_ev = event_new(w->base, -1, 0, janitor_reap_cb, w);
	janitor_tick_ev =
	    event_new(w->base, -1, EV_PERSIST, janitor_tick_cb, w);
	if (w->reap_ev == NULL || janitor_tick_ev == NULL ||
	    event_add(janitor_tick_ev, &tick) != 0)
		return -1;
	return 0;
}

void janitor_shutdown(struct worker *w)
{
	struct client *c, *next;
	struct server *s, *snext;

	if (w->shutting_down)
		return;
	w->shutting_down = true;
	w->shutdown_deadline_ms = worker_now_ms() + w->cfg->shutdown_timeout_ms;
	log_info("shutdown started",
		 LF_STR("pool", dbpool_default(w)->pool.name),
		 LF_INT("clients", w->nclients),
		 LF_INT("clients_active", w->clients_active),
		 LF_INT("timeout_ms", w->cfg->shutdown_timeout_ms));
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		client_shutdown(c, false);
	}
	for (s = TAILQ_FIRST(&w->servers); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		if (s->state == SERVER_IDLE || s->state == SERVER_CONNECTING ||
		    s->state == SERVER_RESETTING)
			server_close(s, NULL);
	}
	janitor_run(w);
}

void janitor_stop(struct worker *w)
{
	if (janitor_tick_ev != NULL)
		event_free(janitor_tick_ev);
	janitor_tick_ev = NULL;
	if (w->reap_ev != NULL)
		event_free(w->reap_ev);
	w->reap_ev = NULL;
}
