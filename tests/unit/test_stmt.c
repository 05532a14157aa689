/* Unit tests for prepared statements: interning and reference counts, client
 * name maps (growth, probe chains after deletion) and the servers' LRU cache,
 * checked against simple models, and versions of one body. Run under ASan to
 * catch leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stmt.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NSTMTS	     64

static struct stmt_registry *reg;

static int reg_setup(void **state)
{
	(void)state;
	reg = stmt_registry_new();
	return reg ? 0 : -1;
}

static int reg_teardown(void **state)
{
	(void)state;
	stmt_registry_free(reg);
	reg = NULL;
	return 0;
}

/* Deterministic pseudo-random numbers, so failures reproduce. */
static uint32_t rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

/* Interns "SELECT <i>" with no parameter types; the caller owns one ref. */
static struct stmt *intern_nth(unsigned i)
{
	char body[32];
	int len = snprintf(body, sizeof(body), "SELECT %u%c%c%c", i, 0, 0, 0);
	struct stmt *s = stmt_intern(reg, (const uint8_t *)body, (uint32_t)len);

	assert_non_null(s);
	return s;
}

/* Parse bodies: query text, NUL, int16 count and int32 type OIDs. */
static const struct {
	const char *bytes;
	uint32_t len;
} bodies[] = {
    {"SELECT 1\0\0\0", 11},
    {"SELECT 2\0\0\0", 11},
    {"SELECT $1\0\0\1\0\0\0\x17", 16}, /* int4 */
    {"SELECT $1\0\0\1\0\0\0\x19", 16}, /* text: differs only in OID */
    {"SELECT $1\0\0\1\0\0\0\0", 16},   /* unspecified */
    {"SELECT 1\0", 9},		       /* a prefix of the first */
    {"", 0},
};

static void test_intern_identity(void **state)
{
	struct stmt *first[ARRAY_LEN(bodies)];
	uint8_t copy[64];
	char want[STMT_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		first[i] = stmt_intern(reg, (const uint8_t *)bodies[i].bytes,
				       bodies[i].len);
		assert_non_null(first[i]);
		assert_int_equal(first[i]->id, i + 1);
		snprintf(want, sizeof(want), "pl_%zu", i + 1);
		assert_string_equal(first[i]->name, want);
		assert_int_equal(first[i]->body_len, bodies[i].len);
		assert_memory_equal(first[i]->body, bodies[i].bytes,
				    bodies[i].len);
	}
	assert_int_equal(stmt_registry_count(reg), ARRAY_LEN(bodies));
	/* Equal bytes from another buffer find the same statement. */
	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		memcpy(copy, bodies[i].bytes, bodies[i].len);
		assert_ptr_equal(stmt_intern(reg, copy, bodies[i].len),
				 first[i]);
		assert_int_equal(first[i]->refs, 2);
	}
	assert_int_equal(stmt_registry_count(reg), ARRAY_LEN(bodies));
	for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
		stmt_unref(reg, first[i]);
		stmt_unref(reg, first[i]);
		assert_int_equal(stmt_registry_count(reg),
				 ARRAY_LEN(bodies) - i - 1);
	}
}

static void test_refcount(void **state)
{
	struct stmt *s = intern_nth(1);
	struct stmt *other = intern_nth(2);

	(void)state;
	stmt_ref(s);
	assert_int_equal(s->refs, 2);
	stmt_unref(reg, s);
	assert_int_equal(stmt_registry_count(reg), 2);
	stmt_unref(reg, s);
	assert_int_equal(stmt_registry_count(reg), 1);
	/* The same body again is a new statement: ids are never reused. */
	s = intern_nth(1);
	assert_int_equal(s->id, 3);
	assert_string_equal(s->name, "pl_3");
	assert_ptr_equal(intern_nth(2), other);
	stmt_unref(reg, s);
	stmt_unref(reg, other);
	stmt_unref(reg, other);
	assert_int_equal(stmt_registry_count(reg), 0);
}

static void test_names_set_get_remove(void **state)
{
	struct stmt_names m = {0};
	struct stmt *a = intern_nth(1);
	struct stmt *b = intern_nth(2);

	(void)state;
	assert_true(stmt_names_set(&m, reg, "q", a));
	assert_int_equal(a->refs, 2);
	assert_ptr_equal(stmt_names_get(&m, "q"), a);
	assert_null(stmt_names_get(&m, "Q"));
	/* Rebinding to the same statement keeps one reference. */
	assert_true(stmt_names_set(&m, reg, "q", a));
	assert_int_equal(a->refs, 2);
	/* Replacing moves the reference. */
	assert_true(stmt_names_set(&m, reg, "q", b));
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 2);
	assert_ptr_equal(stmt_names_get(&m, "q"), b);
	assert_true(stmt_names_set(&m, reg, "", a)); /* any string is a key */
	assert_int_equal(stmt_names_count(&m), 2);
	stmt_names_remove(&m, reg, "absent");
	assert_int_equal(stmt_names_count(&m), 2);
	stmt_names_remove(&m, reg, "q");
	assert_null(stmt_names_get(&m, "q"));
	assert_ptr_equal(stmt_names_get(&m, ""), a);
	assert_int_equal(b->refs, 1);
	stmt_unref(reg, a);
	stmt_unref(reg, b);
	assert_int_equal(stmt_registry_count(reg), 1); /* a, held by "" */
	stmt_names_clear(&m, reg);
	assert_int_equal(stmt_names_count(&m), 0);
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* A name that holds the only reference frees its statement when rebound. */
static void test_names_replace_frees(void **state)
{
	struct stmt_names m = {0};
	struct stmt *a = intern_nth(1);
	struct stmt *b = intern_nth(2);

	(void)state;
	assert_true(stmt_names_set(&m, reg, "q", a));
	assert_true(stmt_names_set(&m, reg, "r", b));
	stmt_unref(reg, a);
	stmt_unref(reg, b);
	assert_true(stmt_names_set(&m, reg, "q", b));
	assert_int_equal(stmt_registry_count(reg), 1);
	assert_int_equal(b->refs, 2);
	stmt_names_clear(&m, reg);
	assert_int_equal(stmt_registry_count(reg), 0);
	/* Cleared names are usable again. */
	a = intern_nth(3);
	assert_true(stmt_names_set(&m, reg, "q", a));
	stmt_unref(reg, a);
	stmt_names_clear(&m, reg);
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* 10,000 names grow the table many times; all stay retrievable, and removing
 * half keeps the other half findable. */
static void test_names_many(void **state)
{
	enum { N = 10000 };
	struct stmt_names m = {0};
	char name[32];

	(void)state;
	for (unsigned i = 0; i < N; i++) {
		struct stmt *s = intern_nth(i);

		snprintf(name, sizeof(name), "stmt_%u", i);
		assert_true(stmt_names_set(&m, reg, name, s));
		stmt_unref(reg, s);
	}
	assert_int_equal(stmt_names_count(&m), N);
	assert_int_equal(stmt_registry_count(reg), N);
	for (unsigned i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "stmt_%u", i);
		stmt_names_remove(&m, reg, name);
	}
	assert_int_equal(stmt_names_count(&m), N / 2);
	assert_int_equal(stmt_registry_count(reg), N / 2);
	for (unsigned i = 0; i < N; i++) {
		struct stmt *s;

		snprintf(name, sizeof(name), "stmt_%u", i);
		s = stmt_names_get(&m, name);
		if (i % 2 == 0) {
			assert_null(s);
			continue;
		}
		assert_non_null(s);
		assert_int_equal(s->id, i + 1);
	}
	stmt_names_clear(&m, reg);
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* Small tables collide and wrap around often: insert n names, remove them in
 * a random order, and after every removal check every name against a model.
 * This is what breaks if backward-shift deletion cuts a probe chain. */
static void test_names_probe_chains(void **state)
{
	struct stmt *s[NSTMTS];
	char name[NSTMTS][16];
	uint32_t seed = 7;

	(void)state;
	for (unsigned i = 0; i < NSTMTS; i++) {
		s[i] = intern_nth(i);
		snprintf(name[i], sizeof(name[i]), "n%u", i);
	}
	for (unsigned n = 1; n <= NSTMTS; n++) {
		for (unsigned round = 0; round < 8; round++) {
			struct stmt_names m = {0};
			bool present[NSTMTS] = {0};

			for (unsigned i = 0; i < n; i++) {
				assert_true(
				    stmt_names_set(&m, reg, name[i], s[i]));
				present[i] = true;
			}
			for (unsigned left = n; left > 0; left--) {
				unsigned k = rnd(&seed) % n;

				while (!present[k])
					k = (k + 1) % n;
				stmt_names_remove(&m, reg, name[k]);
				present[k] = false;
				assert_int_equal(stmt_names_count(&m),
						 left - 1);
				for (unsigned i = 0; i < n; i++)
					assert_ptr_equal(
					    stmt_names_get(&m, name[i]),
					    present[i] ? s[i] : NULL);
			}
			stmt_names_clear(&m, reg);
		}
	}
	for (unsigned i = 0; i < NSTMTS; i++) {
		assert_int_equal(s[i]->refs, 1);
		stmt_unref(reg, s[i]);
	}
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* One step of a cache script over statements 0..5. */
enum op { ADD, TOUCH, REMOVE };
struct cache_step {
	enum op op;
	int stmt;
	int want; /* ADD: index evicted or -1; TOUCH: 1 when present */
};

static void test_cache_lru_script(void **state)
{
	static const struct cache_step steps[] = {
	    {TOUCH, 0, 0}, {ADD, 0, -1},   {ADD, 1, -1},   {ADD, 2, -1},
	    {ADD, 3, 0},   {TOUCH, 0, 0},  {TOUCH, 1, 1},  {ADD, 4, 2},
	    {TOUCH, 2, 0}, {TOUCH, 3, 1},  {ADD, 5, 1},	   {ADD, 3, -1},
	    {ADD, 0, 4},   {REMOVE, 5, 0}, {REMOVE, 5, 0}, {ADD, 1, -1},
	    {TOUCH, 3, 1}, {ADD, 2, 0},	   {TOUCH, 1, 1},  {TOUCH, 3, 1},
	    {TOUCH, 2, 1}, {ADD, 4, 1},	   {TOUCH, 3, 1},  {TOUCH, 2, 1},
	    {TOUCH, 4, 1},
	};
	struct stmt *s[6];
	struct stmt_cache c = {0};

	(void)state;
	stmt_cache_init(&c, 3);
	for (unsigned i = 0; i < ARRAY_LEN(s); i++)
		s[i] = intern_nth(i);
	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		const struct cache_step *st = &steps[i];
		struct stmt *evicted;
		bool oom = true;

		switch (st->op) {
		case TOUCH:
			if (stmt_cache_touch(&c, s[st->stmt]) !=
			    (st->want == 1))
				fail_msg("step %zu: touch %d", i, st->stmt);
			break;
		case ADD:
			evicted = stmt_cache_add(&c, reg, s[st->stmt], &oom);
			assert_false(oom);
			if (evicted != (st->want < 0 ? NULL : s[st->want]))
				fail_msg("step %zu: wrong eviction", i);
			if (evicted) {
				assert_int_equal(evicted->refs, 2);
				stmt_unref(reg, evicted);
			}
			break;
		case REMOVE:
			stmt_cache_remove(&c, reg, s[st->stmt]);
			assert_false(stmt_cache_touch(&c, s[st->stmt]));
			break;
		}
		assert_true(stmt_cache_count(&c) <= 3);
	}
	assert_int_equal(stmt_cache_count(&c), 3);
	stmt_cache_clear(&c, reg);
	assert_int_equal(stmt_cache_count(&c), 0);
	for (unsigned i = 0; i < ARRAY_LEN(s); i++) {
		assert_int_equal(s[i]->refs, 1);
		stmt_unref(reg, s[i]);
	}
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* The least recently used entry of a model with explicit stamps. */
static int model_lru(const uint64_t *stamp, unsigned n)
{
	int lru = -1;

	for (unsigned i = 0; i < n; i++) {
		if (stamp[i] && (lru < 0 || stamp[i] < stamp[lru]))
			lru = (int)i;
	}
	return lru;
}

/* Random adds, touches and removes against a stamp model, for several
 * maxima: evictions must match exactly and the count never pass max. */
static void test_cache_lru_model(void **state)
{
	static const unsigned maxima[] = {1, 2, 5, 13, 40};
	struct stmt *s[NSTMTS];
	uint32_t seed = 42;

	(void)state;
	for (unsigned i = 0; i < NSTMTS; i++)
		s[i] = intern_nth(i);
	for (size_t m = 0; m < ARRAY_LEN(maxima); m++) {
		struct stmt_cache c;
		uint64_t stamp[NSTMTS] = {0}, clock = 0;
		unsigned count = 0;

		stmt_cache_init(&c, maxima[m]);
		for (unsigned step = 0; step < 5000; step++) {
			unsigned k = rnd(&seed) % NSTMTS;
			unsigned op = rnd(&seed) % 8;
			struct stmt *evicted, *want = NULL;
			bool oom;

			if (op == 0) {
				stmt_cache_remove(&c, reg, s[k]);
				count -= stamp[k] != 0;
				stamp[k] = 0;
			} else if (op < 4) {
				assert_int_equal(stmt_cache_touch(&c, s[k]),
						 stamp[k] != 0);
				if (stamp[k])
					stamp[k] = ++clock;
			} else {
				if (!stamp[k] && count == maxima[m]) {
					int lru = model_lru(stamp, NSTMTS);

					want = s[lru];
					stamp[lru] = 0;
					count--;
				}
				count += stamp[k] == 0;
				stamp[k] = ++clock;
				evicted = stmt_cache_add(&c, reg, s[k], &oom);
				assert_false(oom);
				assert_ptr_equal(evicted, want);
				if (evicted)
					stmt_unref(reg, evicted);
			}
			assert_int_equal(stmt_cache_count(&c), count);
			assert_true(count <= maxima[m]);
		}
		stmt_cache_clear(&c, reg);
	}
	for (unsigned i = 0; i < NSTMTS; i++) {
		assert_int_equal(s[i]->refs, 1);
		stmt_unref(reg, s[i]);
	}
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* The cache's reference alone keeps a statement alive; remove and clear
 * release it, and adding a statement already there takes no second one. */
static void test_cache_references(void **state)
{
	struct stmt_cache c;
	struct stmt *a = intern_nth(1);
	struct stmt *b = intern_nth(2);
	bool oom;

	(void)state;
	stmt_cache_init(&c, 4);
	assert_null(stmt_cache_add(&c, reg, a, &oom));
	assert_null(stmt_cache_add(&c, reg, a, &oom));
	assert_false(oom);
	assert_int_equal(a->refs, 2);
	assert_null(stmt_cache_add(&c, reg, b, &oom));
	stmt_unref(reg, a);
	stmt_unref(reg, b);
	assert_int_equal(stmt_registry_count(reg), 2);
	stmt_cache_remove(&c, reg, a);
	assert_int_equal(stmt_registry_count(reg), 1);
	assert_int_equal(stmt_cache_count(&c), 1);
	stmt_cache_clear(&c, reg);
	assert_int_equal(stmt_registry_count(reg), 0);
	assert_int_equal(stmt_cache_count(&c), 0);
	/* A cleared cache is usable again, with the same max. */
	a = intern_nth(3);
	assert_null(stmt_cache_add(&c, reg, a, &oom));
	assert_int_equal(c.max, 4);
	stmt_cache_clear(&c, reg);
	stmt_unref(reg, a);
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* Zero-initialised maps are empty and every call on them is safe. */
static void test_zero_init(void **state)
{
	struct stmt_names m = {0};
	struct stmt_cache c = {0};
	struct stmt *s = intern_nth(1);

	(void)state;
	assert_int_equal(stmt_names_count(&m), 0);
	assert_null(stmt_names_get(&m, "q"));
	stmt_names_remove(&m, reg, "q");
	stmt_names_clear(&m, reg);
	stmt_cache_init(&c, 1);
	assert_int_equal(stmt_cache_count(&c), 0);
	assert_false(stmt_cache_touch(&c, s));
	stmt_cache_remove(&c, reg, s);
	stmt_cache_clear(&c, reg);
	assert_int_equal(s->refs, 1);
	stmt_unref(reg, s);
	stmt_registry_free(NULL);
}

/* A new version of a body: its own id and server-side name, found by
 * stmt_intern from then on, while the old one lives as long as it is held;
 * a server's cache holds both, each with when it was prepared there. */
static void test_renew_versions(void **state)
{
	struct stmt_names m = {0};
	struct stmt_cache c;
	struct stmt *a = intern_nth(1), *b, *again;
	uint64_t parsed, a_born, b_born;
	bool oom;

	(void)state;
	a->valid = true;
	a->parse_len = 7;
	assert_true(stmt_names_set(&m, reg, "q", a));
	assert_ptr_equal(stmt_names_find(&m, "q", &parsed), a);
	b = stmt_renew(reg, a);
	assert_non_null(b);
	assert_true(b != a && b->id > a->id);
	assert_string_not_equal(b->name, a->name);
	assert_memory_equal(b->body, a->body, a->body_len);
	assert_true(b->valid && b->current && !a->current);
	assert_int_equal(b->parse_len, 7);
	again = intern_nth(1);
	assert_ptr_equal(again, b);
	stmt_unref(reg, again);
	assert_int_equal(stmt_registry_count(reg), 2);

	/* Two versions of one body side by side in a cache, in the order
	 * they were prepared, both after the name's Parse. */
	stmt_cache_init(&c, 4);
	assert_int_equal(stmt_cache_use(&c, a), 0);
	assert_null(stmt_cache_add(&c, reg, a, &oom));
	assert_null(stmt_cache_add(&c, reg, b, &oom));
	a_born = stmt_cache_use(&c, a);
	b_born = stmt_cache_use(&c, b);
	assert_true(parsed < a_born && a_born < b_born);
	assert_int_equal(stmt_cache_count(&c), 2);

	/* Moving the name keeps when it was parsed; a new Parse does not. */
	uint64_t moved;
	stmt_names_move(&m, reg, "q", b);
	assert_ptr_equal(stmt_names_find(&m, "q", &moved), b);
	assert_int_equal(moved, parsed);
	assert_int_equal(a->refs, 2); /* its own, the cache's */
	assert_true(stmt_names_set(&m, reg, "q", b));
	assert_ptr_equal(stmt_names_find(&m, "q", &moved), b);
	assert_true(moved > b_born);

	/* The current version of a body, from any version. */
	again = stmt_current(reg, a);
	assert_ptr_equal(again, b);
	stmt_unref(reg, again);

	/* The old version goes when its last holder lets go; the body is
	 * still found, as the new version. */
	stmt_cache_remove(&c, reg, a);
	stmt_unref(reg, a);
	assert_int_equal(stmt_registry_count(reg), 1);
	again = intern_nth(1);
	assert_ptr_equal(again, b);
	stmt_unref(reg, again);
	uint64_t b_id = b->id;
	stmt_cache_clear(&c, reg);
	stmt_names_clear(&m, reg);
	stmt_unref(reg, b);
	assert_int_equal(stmt_registry_count(reg), 0);
	/* Gone: the body is a new statement again. */
	again = intern_nth(1);
	assert_true(again->id > b_id && again->current);
	stmt_unref(reg, again);
}

/* When the current version of a body is gone, an older one still held
 * becomes current again rather than a statement made from nothing. */
static void test_current_after_newest_gone(void **state)
{
	struct stmt *a = intern_nth(1), *b, *cur;

	(void)state;
	a->parse_len = 9;
	b = stmt_renew(reg, a);
	assert_non_null(b);
	stmt_unref(reg, b);
	assert_int_equal(stmt_registry_count(reg), 1);
	assert_false(a->current);
	cur = stmt_current(reg, a);
	assert_ptr_equal(cur, a);
	assert_true(a->current);
	assert_int_equal(a->refs, 2);
	cur = intern_nth(1);
	assert_ptr_equal(cur, a);
	assert_int_equal(cur->parse_len, 9);
	stmt_unref(reg, cur);
	stmt_unref(reg, a);
	stmt_unref(reg, a);
	assert_int_equal(stmt_registry_count(reg), 0);
}

/* Freeing the registry frees statements still referenced (checked by
 * LeakSanitizer). */
static void test_registry_free_referenced(void **state)
{
	struct stmt_registry *r = stmt_registry_new();
	struct stmt *s;

	(void)state;
	assert_non_null(r);
	for (unsigned i = 0; i < 100; i++) {
		s = stmt_intern(r, (const uint8_t *)&i, sizeof(i));
		assert_non_null(s);
		stmt_ref(s);
	}
	assert_int_equal(stmt_registry_count(r), 100);
	/* Versions no longer current too. */
	s = stmt_intern(r, (const uint8_t *)"x", 1);
	assert_non_null(s);
	assert_non_null(stmt_renew(r, s));
	assert_int_equal(stmt_registry_count(r), 102);
	stmt_registry_free(r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, reg_setup, reg_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_intern_identity),
	    T(test_refcount),
	    T(test_names_set_get_remove),
	    T(test_names_replace_frees),
	    T(test_names_many),
	    T(test_names_probe_chains),
	    T(test_cache_lru_script),
	    T(test_cache_lru_model),
	    T(test_cache_references),
	    T(test_zero_init),
	    T(test_renew_versions),
	    T(test_current_after_newest_gone),
	    T(test_registry_free_referenced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
