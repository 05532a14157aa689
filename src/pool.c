/* Pool accounting: lists of server slots by state, the FIFO wait queue, and
 * the decisions taken on them (connect, reap, time out) given the time. */
#include "pool.h"

#include <assert.h>
#include <string.h>

void pool_init(struct pool *p, const char *name, const struct pool_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->lim = *lim;
	for (int i = 0; i < POOL_SLOT_NSTATES; i++)
		TAILQ_INIT(&p->slots[i]);
	TAILQ_INIT(&p->waiters);
}

unsigned pool_total(const struct pool *p)
{
	return p->count[POOL_SLOT_CONNECTING] + p->count[POOL_SLOT_IDLE] +
	       p->count[POOL_SLOT_ACTIVE];
}

void pool_slot_set(struct pool *p, struct pool_slot *slot,
		   enum pool_slot_state state, int64_t now)
{
	assert(state < POOL_SLOT_NSTATES);
	if (slot->state != POOL_SLOT_NONE) {
		assert(p->count[slot->state] > 0);
		TAILQ_REMOVE(&p->slots[slot->state], slot, link);
		p->count[slot->state]--;
	}
	slot->state = state;
	slot->since_ms = now;
	if (state != POOL_SLOT_NONE) {
		TAILQ_INSERT_TAIL(&p->slots[state], slot, link);
		p->count[state]++;
	}
}

unsigned pool_cap(const struct pool *p, int64_t now)
{
	const struct pool_waiter *w = TAILQ_FIRST(&p->waiters);

	if (p->lim.reserve == 0 || w == NULL ||
	    now - w->since_ms < p->lim.reserve_timeout_ms)
		return p->lim.max;
	return p->lim.max + p->lim.reserve;
}

bool pool_over_cap(const struct pool *p, int64_t now)
{
	unsigned total = pool_total(p);

	return total > p->lim.max &&
	       (p->nwaiting == 0 || total > pool_cap(p, now));
}

unsigned pool_connects_wanted(const struct pool *p, int64_t now)
{
	unsigned cap = pool_cap(p, now);
	unsigned total = pool_total(p) + p->closing;
	unsigned connecting = p->count[POOL_SLOT_CONNECTING];
	unsigned covered = p->count[POOL_SLOT_IDLE] + connecting;
	unsigned want = 0;

	if (p->paused || now < p->next_connect_ms || total >= cap)
		return 0;
	if (total < p->lim.min)
		want = p->lim.min - total;
	if (p->nwaiting > covered && p->nwaiting - covered > want)
		want = p->nwaiting - covered;
	if (want > cap - total)
		want = cap - total;
	if (connecting >= POOL_CONNECTS_IN_FLIGHT)
		return 0;
	if (want > POOL_CONNECTS_IN_FLIGHT - connecting)
		want = POOL_CONNECTS_IN_FLIGHT - connecting;
	return want;
}

void pool_connect_done(struct pool *p, bool ok, int64_t now)
{
	if (ok) {
		p->stats.connects_total++;
		p->backoff_ms = 0;
		p->next_connect_ms = 0;
		return;
	}
	p->stats.connect_failures++;
	if (p->backoff_ms == 0)
		p->backoff_ms = POOL_BACKOFF_MIN_MS;
	else if (p->backoff_ms * 2 <= POOL_BACKOFF_MAX_MS)
		p->backoff_ms *= 2;
	else
		p->backoff_ms = POOL_BACKOFF_MAX_MS;
	p->next_connect_ms = now + p->backoff_ms;
}

struct pool_slot *pool_checkout(struct pool *p, int64_t now)
{
	struct pool_slot *slot =
	    TAILQ_LAST(&p->slots[POOL_SLOT_IDLE], pool_slot_list);

	if (slot != NULL)
		pool_slot_set(p, slot, POOL_SLOT_ACTIVE, now);
	return slot;
}

struct pool_slot *pool_reapable(const struct pool *p, int64_t now)
{
	struct pool_slot *oldest = TAILQ_FIRST(&p->slots[POOL_SLOT_IDLE]);

	if (oldest == NULL || pool_total(p) <= p->lim.min)
		return NULL;
	if (pool_over_cap(p, now))
		return oldest; /* reserve servers nobody waits for, or max was
				  lowered: the surplus goes at once */
	if (now - oldest->since_ms < p->lim.idle_timeout_ms)
		return NULL;
	return oldest;
}

void pool_wait_push(struct pool *p, struct pool_waiter *w, int64_t now)
{
	assert(!w->queued);
	w->queued = true;
	w->since_ms = now;
	TAILQ_INSERT_TAIL(&p->waiters, w, link);
	p->nwaiting++;
}

void pool_wait_remove(struct pool *p, struct pool_waiter *w)
{
	if (!w->queued)
		return;
	TAILQ_REMOVE(&p->waiters, w, link);
	w->queued = false;
	p->nwaiting--;
}

struct pool_waiter *pool_wait_first(const struct pool *p)
{
	return TAILQ_FIRST(&p->waiters);
}

struct pool_waiter *pool_wait_expired(const struct pool *p, int64_t now)
{
	struct pool_waiter *w = TAILQ_FIRST(&p->waiters);

	if (p->paused || w == NULL ||
	    now - w->since_ms < p->lim.wait_timeout_ms)
		return NULL;
	return w;
}

void pool_pause(struct pool *p)
{
	p->paused = true;
}

void pool_resume(struct pool *p, int64_t now)
{
	struct pool_waiter *w;

	p->paused = false;
	p->backoff_ms = 0;
	p->next_connect_ms = 0;
	TAILQ_FOREACH(w, &p->waiters, link)
	w->since_ms = now;
}

int64_t pool_wait_max_ms(const struct pool *p, int64_t now)
{
	struct pool_waiter *w = TAILQ_FIRST(&p->waiters);

	return w == NULL ? 0 : now - w->since_ms;
}
