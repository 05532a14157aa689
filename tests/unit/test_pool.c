/* Unit tests for pool accounting, driven by a fake clock: connect decisions,
 * backoff, LIFO checkout, idle reaping above min, the FIFO wait queue, and
 * the console's PAUSE and RESUME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pool.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NSLOTS	     32

/* A pool with embedded slots and waiters, as servers and clients hold them,
 * and the fake monotonic clock every call is given. */
struct fixture {
	struct pool p;
	struct pool_slot slot[NSLOTS];
	struct pool_waiter waiter[NSLOTS];
	int64_t now;
};

static struct fixture fx;

static void fx_init(unsigned min, unsigned max)
{
	const struct pool_limits lim = {
	    .max = max,
	    .min = min,
	    .idle_timeout_ms = 60000,
	    .connect_timeout_ms = 2500, /* two hosts: */
	    .wait_timeout_ms = 5000,
	};

	fx = (struct fixture){.now = 1000000};
	pool_init(&fx.p, "test", &lim);
}

/* Puts the next n unused slots into state; returns the first index used. */
static size_t fx_add(enum pool_slot_state state, unsigned n)
{
	size_t first = NSLOTS;

	for (size_t i = 0; i < NSLOTS && n > 0; i++) {
		if (fx.slot[i].state != POOL_SLOT_NONE)
			continue;
		if (first == NSLOTS)
			first = i;
		pool_slot_set(&fx.p, &fx.slot[i], state, fx.now);
		n--;
	}
	assert_int_equal(n, 0);
	return first;
}

static void fx_wait(unsigned n)
{
	for (size_t i = 0; i < NSLOTS && n > 0; i++) {
		if (fx.waiter[i].queued)
			continue;
		pool_wait_push(&fx.p, &fx.waiter[i], fx.now);
		n--;
	}
	assert_int_equal(n, 0);
}

static void test_init_empty(void **state)
{
	(void)state;
	fx_init(2, 10);
	assert_int_equal(pool_total(&fx.p), 0);
	assert_int_equal(fx.p.nwaiting, 0);
	assert_null(pool_wait_first(&fx.p));
	assert_null(pool_checkout(&fx.p, fx.now));
	assert_null(pool_reapable(&fx.p, fx.now));
	assert_int_equal(pool_wait_max_ms(&fx.p, fx.now), 0);
	assert_string_equal(fx.p.name, "test");
}

static void test_connects_wanted_table(void **state)
{
	(void)state;
	static const struct {
		unsigned min, max;
		unsigned connecting, idle, active, waiting;
		unsigned want;
	} cases[] = {
	    /* Reach min at start, at most POOL_CONNECTS_IN_FLIGHT at once. */
	    {3, 10, 0, 0, 0, 0, 3},
	    {6, 10, 0, 0, 0, 0, POOL_CONNECTS_IN_FLIGHT},
	    {6, 10, 2, 0, 0, 0, POOL_CONNECTS_IN_FLIGHT - 2},
	    {10, 10, POOL_CONNECTS_IN_FLIGHT, 0, 0, 0, 0},
	    {10, 10, POOL_CONNECTS_IN_FLIGHT + 1, 0, 0, 0, 0},
	    /* Connecting, idle and active servers all count toward min. */
	    {3, 10, 3, 0, 0, 0, 0},
	    {3, 10, 1, 1, 0, 0, 1},
	    {2, 10, 0, 0, 5, 0, 0},
	    {0, 10, 0, 0, 0, 0, 0},
	    /* Waiters not covered by idle or connecting servers. */
	    {0, 10, 0, 0, 0, 2, 2},
	    {0, 10, 0, 1, 0, 2, 1},
	    {0, 10, 1, 0, 0, 2, 1},
	    {0, 10, 2, 1, 0, 3, 0},
	    {0, 10, 0, 0, 5, 3, 3},
	    {0, 20, 0, 0, 0, 10, POOL_CONNECTS_IN_FLIGHT},
	    /* New connects toward min also serve waiters: not counted twice. */
	    {2, 10, 0, 0, 0, 1, 2},
	    {2, 10, 0, 0, 0, 3, 3},
	    /* Never past max, connecting ones included. */
	    {0, 3, 0, 0, 3, 5, 0},
	    {0, 3, 1, 0, 1, 5, 1},
	    {0, 3, 2, 0, 1, 5, 0},
	    {5, 3, 0, 0, 0, 0, 3},
	    {5, 3, 1, 0, 2, 0, 0},
	    {0, 0, 0, 0, 0, 5, 0},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		fx_init(cases[i].min, cases[i].max);
		fx_add(POOL_SLOT_CONNECTING, cases[i].connecting);
		fx_add(POOL_SLOT_IDLE, cases[i].idle);
		fx_add(POOL_SLOT_ACTIVE, cases[i].active);
		fx_wait(cases[i].waiting);
		unsigned got = pool_connects_wanted(&fx.p, fx.now);
		if (got != cases[i].want)
			fail_msg("case %zu: wanted %u connects, got %u", i,
				 cases[i].want, got);
	}
}

/* Drives the pool the way the janitor would, starting every connect it is
 * told to and finishing the oldest, and checks max is never exceeded. */
static void test_never_past_max(void **state)
{
	(void)state;
	fx_init(3, 8);
	fx_wait(20);
	for (int step = 0; step < 50; step++) {
		unsigned n = pool_connects_wanted(&fx.p, fx.now);
		assert_true(n <= POOL_CONNECTS_IN_FLIGHT);
		if (n > 0)
			fx_add(POOL_SLOT_CONNECTING, n);
		assert_true(pool_total(&fx.p) <= 8);
		assert_true(fx.p.count[POOL_SLOT_CONNECTING] <=
			    POOL_CONNECTS_IN_FLIGHT);
		struct pool_slot *s =
		    TAILQ_FIRST(&fx.p.slots[POOL_SLOT_CONNECTING]);
		if (s != NULL) {
			pool_slot_set(&fx.p, s, POOL_SLOT_ACTIVE, fx.now);
			pool_connect_done(&fx.p, true, fx.now);
		}
		fx.now += 10;
	}
	assert_int_equal(pool_total(&fx.p), 8);
	assert_int_equal(fx.p.count[POOL_SLOT_ACTIVE], 8);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
}

/* A closed server whose socket is still open counts toward max: its
 * replacement is connected only once it is gone. */
static void test_closing_counts_toward_max(void **state)
{
	(void)state;
	fx_init(0, 4);
	fx_add(POOL_SLOT_ACTIVE, 3);
	fx_wait(3);
	fx.p.closing = 1;
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	fx.p.closing = 0;
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 1);

	/* Below min, the refill waits for the closing ones too. */
	fx_init(4, 4);
	fx_add(POOL_SLOT_IDLE, 2);
	fx.p.closing = 2;
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	fx.p.closing = 1;
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 1);
	assert_int_equal(pool_total(&fx.p), 2); /* not counted as servers */
}

static void test_backoff(void **state)
{
	(void)state;
	static const int64_t delays[] = {
	    POOL_BACKOFF_MIN_MS, 500, 1000, 2000, 4000, POOL_BACKOFF_MAX_MS,
	    POOL_BACKOFF_MAX_MS,
	};

	fx_init(2, 10);
	fx_wait(3);
	for (size_t i = 0; i < ARRAY_LEN(delays); i++) {
		pool_connect_done(&fx.p, false, fx.now);
		assert_int_equal(fx.p.backoff_ms, delays[i]);
		assert_int_equal(fx.p.stats.connect_failures, i + 1);
		int64_t failed = fx.now;
		/* Neither min nor waiters start a connect while backing off. */
		assert_int_equal(pool_connects_wanted(&fx.p, failed), 0);
		assert_int_equal(
		    pool_connects_wanted(&fx.p, failed + delays[i] - 1), 0);
		fx.now = failed + delays[i];
		assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 3);
	}

	/* One success and the next failure starts from the minimum again. */
	pool_connect_done(&fx.p, true, fx.now);
	assert_int_equal(fx.p.backoff_ms, 0);
	assert_int_equal(fx.p.stats.connects_total, 1);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 3);
	pool_connect_done(&fx.p, false, fx.now);
	assert_int_equal(fx.p.backoff_ms, POOL_BACKOFF_MIN_MS);

	/* A connect started earlier succeeding during the backoff ends it. */
	pool_connect_done(&fx.p, true, fx.now + 1);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 1), 3);
}

/* The newest idle server is handed out so the oldest age and get reaped. */
static void test_checkout_lifo(void **state)
{
	(void)state;
	fx_init(0, 10);
	for (size_t i = 0; i < 3; i++) {
		pool_slot_set(&fx.p, &fx.slot[i], POOL_SLOT_IDLE, fx.now);
		fx.now += 100;
	}
	for (size_t i = 3; i-- > 0;) {
		struct pool_slot *s = pool_checkout(&fx.p, fx.now);
		assert_ptr_equal(s, &fx.slot[i]);
		assert_int_equal(s->state, POOL_SLOT_ACTIVE);
		assert_int_equal(s->since_ms, fx.now);
		assert_int_equal(fx.p.count[POOL_SLOT_IDLE], i);
		assert_int_equal(fx.p.count[POOL_SLOT_ACTIVE], 3 - i);
		assert_int_equal(pool_total(&fx.p), 3);
	}
	assert_null(pool_checkout(&fx.p, fx.now));

	/* A server released back to idle is the next one out. */
	pool_slot_set(&fx.p, &fx.slot[2], POOL_SLOT_IDLE, fx.now);
	pool_slot_set(&fx.p, &fx.slot[0], POOL_SLOT_IDLE, fx.now);
	struct pool_slot *s = pool_checkout(&fx.p, fx.now);
	assert_ptr_equal(s, &fx.slot[0]);
}

static void test_slot_set_counts(void **state)
{
	(void)state;
	struct pool_slot *s = &fx.slot[0];

	fx_init(0, 10);
	pool_slot_set(&fx.p, s, POOL_SLOT_CONNECTING, fx.now);
	assert_int_equal(fx.p.count[POOL_SLOT_CONNECTING], 1);
	assert_int_equal(pool_total(&fx.p), 1);
	pool_slot_set(&fx.p, s, POOL_SLOT_IDLE, fx.now + 1);
	assert_int_equal(fx.p.count[POOL_SLOT_CONNECTING], 0);
	assert_int_equal(fx.p.count[POOL_SLOT_IDLE], 1);
	assert_int_equal(s->since_ms, fx.now + 1);
	pool_slot_set(&fx.p, s, POOL_SLOT_ACTIVE, fx.now + 2);
	assert_int_equal(fx.p.count[POOL_SLOT_IDLE], 0);
	assert_int_equal(fx.p.count[POOL_SLOT_ACTIVE], 1);
	pool_slot_set(&fx.p, s, POOL_SLOT_NONE, fx.now + 3);
	assert_int_equal(s->state, POOL_SLOT_NONE);
	assert_int_equal(pool_total(&fx.p), 0);
	assert_true(TAILQ_EMPTY(&fx.p.slots[POOL_SLOT_ACTIVE]));
}

/* Idle servers above min are reaped oldest first once idle for the idle
 * timeout; the pool never drops below min, active servers counting. */
static void test_reapable(void **state)
{
	(void)state;
	const int64_t t0 = 1000000, timeout = 60000;

	fx_init(1, 10);
	for (size_t i = 0; i < 3; i++)
		pool_slot_set(&fx.p, &fx.slot[i], POOL_SLOT_IDLE, t0 + 100 * i);

	assert_null(pool_reapable(&fx.p, t0));
	assert_null(pool_reapable(&fx.p, t0 + timeout - 1));
	assert_ptr_equal(pool_reapable(&fx.p, t0 + timeout), &fx.slot[0]);
	/* Only the oldest is offered, and only until the caller removes it. */
	assert_ptr_equal(pool_reapable(&fx.p, t0 + timeout + 150), &fx.slot[0]);
	pool_slot_set(&fx.p, &fx.slot[0], POOL_SLOT_NONE, t0 + timeout + 150);
	assert_ptr_equal(pool_reapable(&fx.p, t0 + timeout + 150), &fx.slot[1]);
	pool_slot_set(&fx.p, &fx.slot[1], POOL_SLOT_NONE, t0 + timeout + 150);
	/* One left, which is min: kept however long it idles. */
	assert_null(pool_reapable(&fx.p, t0 + 100 * timeout));

	/* Active servers count toward min too. */
	fx_init(2, 10);
	fx_add(POOL_SLOT_ACTIVE, 1);
	fx_add(POOL_SLOT_IDLE, 2);
	struct pool_slot *s = pool_reapable(&fx.p, fx.now + timeout);
	assert_non_null(s);
	pool_slot_set(&fx.p, s, POOL_SLOT_NONE, fx.now + timeout);
	assert_null(pool_reapable(&fx.p, fx.now + 100 * timeout));

	/* A checked-out and returned server starts a fresh idle period. */
	fx_init(0, 10);
	fx_add(POOL_SLOT_IDLE, 1);
	fx.now += timeout - 1;
	s = pool_checkout(&fx.p, fx.now);
	pool_slot_set(&fx.p, s, POOL_SLOT_IDLE, fx.now);
	assert_null(pool_reapable(&fx.p, fx.now + 1));
	assert_ptr_equal(pool_reapable(&fx.p, fx.now + timeout), s);
}

/* A max lowered by a reload: idle servers above it are reaped at once,
 * oldest first, whatever their idle time; busy ones are left to their
 * release, and no connect starts while the pool is over max. */
static void test_reapable_over_max(void **state)
{
	(void)state;
	fx_init(1, 6);
	size_t idle = fx_add(POOL_SLOT_IDLE, 3);
	fx_add(POOL_SLOT_ACTIVE, 3);
	fx.p.lim.max = 2;
	for (size_t i = idle; i < idle + 3; i++) {
		assert_ptr_equal(pool_reapable(&fx.p, fx.now), &fx.slot[i]);
		pool_slot_set(&fx.p, &fx.slot[i], POOL_SLOT_NONE, fx.now);
	}
	/* Three active servers remain, one over max: nothing idle to reap,
	 * nothing to connect, even for a waiter. */
	assert_null(pool_reapable(&fx.p, fx.now));
	fx_wait(1);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	/* At max again, idle servers wait for the idle timeout. */
	fx_init(0, 4);
	fx_add(POOL_SLOT_IDLE, 2);
	fx.p.lim.max = 2;
	assert_null(pool_reapable(&fx.p, fx.now));
}

/* reserve_pool: a waiter that has waited the reserve timeout lets the pool
 * open up to reserve servers beyond max, never more; they are reaped first
 * once idle and nobody waits, back down to max. */
static void test_reserve(void **state)
{
	(void)state;
	fx_init(0, 2);
	fx.p.lim.reserve = 1;
	fx.p.lim.reserve_timeout_ms = 500;
	fx_add(POOL_SLOT_ACTIVE, 2);
	fx_wait(2);
	assert_int_equal(pool_cap(&fx.p, fx.now), 2);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 499), 0);
	assert_int_equal(pool_cap(&fx.p, fx.now + 500), 3);
	/* Two waiters, one reserve server: only one connect. */
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 500), 1);
	fx.now += 500;
	size_t r = fx_add(POOL_SLOT_CONNECTING, 1);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 10000), 0);
	pool_slot_set(&fx.p, &fx.slot[r], POOL_SLOT_ACTIVE, fx.now);
	pool_wait_remove(&fx.p, &fx.waiter[0]);
	/* The other waiter has waited long too: the reserve is spent. */
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 10000), 0);
	pool_wait_remove(&fx.p, &fx.waiter[1]);
	/* Released while nobody waits: the surplus idle server goes at once,
	 * the ones within max wait for the idle timeout. */
	pool_slot_set(&fx.p, &fx.slot[0], POOL_SLOT_IDLE, fx.now);
	assert_ptr_equal(pool_reapable(&fx.p, fx.now), &fx.slot[0]);
	pool_slot_set(&fx.p, &fx.slot[0], POOL_SLOT_NONE, fx.now);
	pool_slot_set(&fx.p, &fx.slot[1], POOL_SLOT_IDLE, fx.now);
	assert_null(pool_reapable(&fx.p, fx.now));
	/* With a waiter queued past the reserve timeout, an idle surplus
	 * server is kept for it (not before: the reserve is not open yet). */
	pool_slot_set(&fx.p, &fx.slot[0], POOL_SLOT_ACTIVE, fx.now);
	pool_slot_set(&fx.p, &fx.slot[2], POOL_SLOT_IDLE, fx.now);
	fx_wait(1);
	assert_true(pool_over_cap(&fx.p, fx.now + 499));
	assert_false(pool_over_cap(&fx.p, fx.now + 500));
	assert_null(pool_reapable(&fx.p, fx.now + 500));
	/* Past the cap (a reload lowered max), it goes even so. */
	fx.p.lim.max = 1;
	assert_true(pool_over_cap(&fx.p, fx.now + 500));
	assert_ptr_equal(pool_reapable(&fx.p, fx.now + 500), &fx.slot[1]);
	/* No reserve configured: the cap stays max however long one waits. */
	fx_init(0, 2);
	fx.p.lim.reserve_timeout_ms = 0;
	fx_wait(1);
	assert_int_equal(pool_cap(&fx.p, fx.now + 100000), 2);
}

/* Removing servers (lost backends, reaped ones) below min asks for more. */
static void test_min_refill(void **state)
{
	(void)state;
	fx_init(3, 10);
	unsigned n = pool_connects_wanted(&fx.p, fx.now);
	assert_int_equal(n, 3);
	size_t first = fx_add(POOL_SLOT_CONNECTING, n);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	for (size_t i = first; i < first + 3; i++) {
		pool_slot_set(&fx.p, &fx.slot[i], POOL_SLOT_IDLE, fx.now);
		pool_connect_done(&fx.p, true, fx.now);
	}
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);

	pool_slot_set(&fx.p, &fx.slot[first], POOL_SLOT_NONE, fx.now);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 1);
	pool_slot_set(&fx.p, &fx.slot[first + 1], POOL_SLOT_NONE, fx.now);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 2);

	/* A refill that fails waits out the backoff before trying again. */
	pool_connect_done(&fx.p, false, fx.now);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now), 0);
	assert_int_equal(
	    pool_connects_wanted(&fx.p, fx.now + POOL_BACKOFF_MIN_MS), 2);
}

static void test_waiters_fifo(void **state)
{
	(void)state;
	struct pool_waiter *w = fx.waiter;

	fx_init(0, 10);
	for (size_t i = 0; i < 4; i++) {
		pool_wait_push(&fx.p, &w[i], fx.now + 10 * (int64_t)i);
		assert_true(w[i].queued);
	}
	assert_int_equal(fx.p.nwaiting, 4);
	assert_ptr_equal(pool_wait_first(&fx.p), &w[0]);

	/* Removing from the middle keeps the order of the rest. */
	pool_wait_remove(&fx.p, &w[2]);
	assert_false(w[2].queued);
	assert_int_equal(fx.p.nwaiting, 3);
	static const size_t order[] = {0, 1, 3};
	for (size_t i = 0; i < ARRAY_LEN(order); i++) {
		assert_ptr_equal(pool_wait_first(&fx.p), &w[order[i]]);
		pool_wait_remove(&fx.p, pool_wait_first(&fx.p));
	}
	assert_null(pool_wait_first(&fx.p));
	assert_int_equal(fx.p.nwaiting, 0);

	/* Removing a waiter that is not queued changes nothing. */
	pool_wait_push(&fx.p, &w[0], fx.now);
	pool_wait_remove(&fx.p, &w[1]);
	pool_wait_remove(&fx.p, &w[1]);
	assert_int_equal(fx.p.nwaiting, 1);
	assert_ptr_equal(pool_wait_first(&fx.p), &w[0]);

	/* A removed waiter can queue again, at the back. */
	pool_wait_push(&fx.p, &w[2], fx.now);
	pool_wait_remove(&fx.p, &w[0]);
	pool_wait_push(&fx.p, &w[0], fx.now);
	assert_ptr_equal(pool_wait_first(&fx.p), &w[2]);
	assert_ptr_equal(TAILQ_NEXT(&w[2], link), &w[0]);
}

/* A waiter expires when it has waited exactly the wait timeout (not the
 * connect timeout, which is per host). */
static void test_wait_expired(void **state)
{
	(void)state;
	const int64_t t0 = 1000000, timeout = 5000;
	struct pool_waiter *w = fx.waiter;

	fx_init(0, 10);
	pool_wait_push(&fx.p, &w[0], t0);
	pool_wait_push(&fx.p, &w[1], t0 + 100);
	assert_null(pool_wait_expired(&fx.p, t0));
	assert_null(pool_wait_expired(&fx.p, t0 + timeout - 1));
	assert_ptr_equal(pool_wait_expired(&fx.p, t0 + timeout), &w[0]);
	pool_wait_remove(&fx.p, &w[0]);
	assert_null(pool_wait_expired(&fx.p, t0 + timeout));
	assert_null(pool_wait_expired(&fx.p, t0 + 100 + timeout - 1));
	assert_ptr_equal(pool_wait_expired(&fx.p, t0 + 100 + timeout), &w[1]);
	pool_wait_remove(&fx.p, &w[1]);
	assert_null(pool_wait_expired(&fx.p, t0 + 100 * timeout));
}

/* While paused: no connect (not even to min), no waiter times out; RESUME
 * resets the backoff and counts the waits from the resume. */
static void test_pause_resume(void **state)
{
	(void)state;
	const int64_t timeout = 5000;

	fx_init(2, 10);
	fx_wait(3);
	pool_connect_done(&fx.p, false, fx.now);
	pool_connect_done(&fx.p, false, fx.now);
	assert_int_equal(fx.p.backoff_ms, 2 * POOL_BACKOFF_MIN_MS);
	pool_pause(&fx.p);
	assert_true(fx.p.paused);
	assert_int_equal(pool_connects_wanted(&fx.p, fx.now + 60000), 0);
	assert_null(pool_wait_expired(&fx.p, fx.now + 100 * timeout));

	int64_t resumed = fx.now + 100 * timeout;
	pool_resume(&fx.p, resumed);
	assert_false(fx.p.paused);
	assert_int_equal(fx.p.backoff_ms, 0);
	assert_int_equal(pool_connects_wanted(&fx.p, resumed), 3);
	assert_null(pool_wait_expired(&fx.p, resumed + timeout - 1));
	assert_ptr_equal(pool_wait_expired(&fx.p, resumed + timeout),
			 &fx.waiter[0]);
}

static void test_wait_max_ms(void **state)
{
	(void)state;
	const int64_t t0 = 1000000;
	struct pool_waiter *w = fx.waiter;

	fx_init(0, 10);
	assert_int_equal(pool_wait_max_ms(&fx.p, t0), 0);
	pool_wait_push(&fx.p, &w[0], t0);
	pool_wait_push(&fx.p, &w[1], t0 + 30);
	assert_int_equal(pool_wait_max_ms(&fx.p, t0), 0);
	assert_int_equal(pool_wait_max_ms(&fx.p, t0 + 50), 50);
	pool_wait_remove(&fx.p, &w[0]);
	assert_int_equal(pool_wait_max_ms(&fx.p, t0 + 50), 20);
	pool_wait_remove(&fx.p, &w[1]);
	assert_int_equal(pool_wait_max_ms(&fx.p, t0 + 50), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_empty),
	    cmocka_unit_test(test_connects_wanted_table),
	    cmocka_unit_test(test_never_past_max),
	    cmocka_unit_test(test_closing_counts_toward_max),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_checkout_lifo),
	    cmocka_unit_test(test_slot_set_counts),
	    cmocka_unit_test(test_reapable),
	    cmocka_unit_test(test_reapable_over_max),
	    cmocka_unit_test(test_min_refill),
	    cmocka_unit_test(test_waiters_fifo),
	    cmocka_unit_test(test_wait_expired),
	    cmocka_unit_test(test_wait_max_ms),
	    cmocka_unit_test(test_pause_resume),
	    cmocka_unit_test(test_reserve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
