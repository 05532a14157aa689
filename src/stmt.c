/* Prepared statements: the registry of distinct statements and their
 * versions, clients' name maps and servers' LRU caches, all three on one
 * small open-addressing hash table (linear probing, backward-shift
 * deletion, no tombstones). */
#include "stmt.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_CAP 8

struct stmt_registry {
	struct stmt_table by_body; /* body -> current version */
	LIST_HEAD(, stmt) all;	   /* every version: owns them */
	unsigned count;		   /* in all */
	uint64_t last_id;	   /* id given to the latest statement */
	uint64_t clock;		   /* orders Parses and preparations */
};

/* FNV-1a, 32 bits. */
static uint32_t hash_bytes(const void *key, uint32_t len)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* len == 0 first: a caller's empty key may be a NULL pointer. */
static bool key_equal(const struct stmt_slot *e, const void *key, uint32_t len,
		      uint32_t hash)
{
	return e->hash == hash && e->len == len &&
	       (len == 0 || e->key == key || memcmp(e->key, key, len) == 0);
}

/* The slot holding key, or NULL. Terminates because a table is never full. */
static struct stmt_slot *table_find(const struct stmt_table *t, const void *key,
				    uint32_t len, uint32_t hash)
{
	if (t->cap == 0)
		return NULL;
	for (unsigned i = hash & (t->cap - 1); t->slots[i].s;
	     i = (i + 1) & (t->cap - 1)) {
		if (key_equal(&t->slots[i], key, len, hash))
			return &t->slots[i];
	}
	return NULL;
}

/* Places e, whose key is absent, in the first free slot of its chain. The
 * caller has made room (table_reserve). */
static void table_place(struct stmt_table *t, const struct stmt_slot *e)
{
	unsigned i = e->hash & (t->cap - 1);

	assert(e->s != NULL && (t->count + 1) * 4 <= t->cap * 3);
	while (t->slots[i].s)
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = *e;
	t->count++;
}

/* Makes room for one more entry, doubling the table past 3/4 full. false
 * when out of memory (the table is unchanged). */
static bool table_reserve(struct stmt_table *t)
{
	struct stmt_table grown = {0};

	if ((t->count + 1) * 4 <= t->cap * 3)
		return true;
	if (t->cap > UINT_MAX / 8)
		return false;
	grown.cap = t->cap ? t->cap * 2 : TABLE_MIN_CAP;
	grown.slots = calloc(grown.cap, sizeof(*grown.slots));
	if (!grown.slots)
		return false;
	for (unsigned i = 0; i < t->cap; i++) {
		if (t->slots[i].s)
			table_place(&grown, &t->slots[i]);
	}
	free(t->slots);
	*t = grown;
	return true;
}

/* Empties slot e, then shifts later entries of the probe run back into the
 * hole unless their home lies after it, so every chain stays unbroken. */
static void table_delete(struct stmt_table *t, struct stmt_slot *e)
{
	unsigned mask = t->cap - 1;
	unsigned hole = (unsigned)(e - t->slots);

	for (unsigned i = (hole + 1) & mask; t->slots[i].s;
	     i = (i + 1) & mask) {
		unsigned home = t->slots[i].hash & mask;

		if (((i - home) & mask) >= ((i - hole) & mask)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole] = (struct stmt_slot){0};
	t->count--;
}

/* Frees the slot array only; the caller has released what the slots held. */
static void table_free(struct stmt_table *t)
{
	free(t->slots);
	*t = (struct stmt_table){0};
}

struct stmt_registry *stmt_registry_new(void)
{
	struct stmt_registry *r = calloc(1, sizeof(struct stmt_registry));

	if (r)
		LIST_INIT(&r->all);
	return r;
}

static void stmt_free(struct stmt_registry *r, struct stmt *s)
{
	LIST_REMOVE(s, all);
	r->count--;
	free(s->body);
	free(s);
}

void stmt_registry_free(struct stmt_registry *r)
{
	if (!r)
		return;
	while (!LIST_EMPTY(&r->all))
		stmt_free(r, LIST_FIRST(&r->all));
	table_free(&r->by_body);
	free(r);
}

unsigned stmt_registry_count(const struct stmt_registry *r)
{
	return r->count;
}

/* A new statement with one reference, not yet in the registry's table. */
static struct stmt *stmt_new(struct stmt_registry *r, const uint8_t *body,
			     uint32_t len, uint32_t hash)
{
	struct stmt *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->body = malloc(len ? len : 1); /* never NULL: keys must not be */
	if (!s->body) {
		free(s);
		return NULL;
	}
	if (len)
		memcpy(s->body, body, len);
	s->id = ++r->last_id;
	snprintf(s->name, sizeof(s->name), "pl_%" PRIu64, s->id);
	s->hash = hash;
	s->body_len = len;
	s->refs = 1;
	s->current = true;
	LIST_INSERT_HEAD(&r->all, s, all);
	r->count++;
	return s;
}

struct stmt *stmt_intern(struct stmt_registry *r, const uint8_t *body,
			 uint32_t len)
{
	uint32_t hash = hash_bytes(body, len);
	struct stmt_slot *e = table_find(&r->by_body, body, len, hash);
	struct stmt *s;

	if (e) {
		stmt_ref(e->s);
		return e->s;
	}
	if (!table_reserve(&r->by_body))
		return NULL;
	s = stmt_new(r, body, len, hash);
	if (!s)
		return NULL;
	table_place(&r->by_body, &(struct stmt_slot){
				     .key = s->body,
				     .s = s,
				     .len = len,
				     .hash = hash,
				 });
	return s;
}

struct stmt *stmt_current(struct stmt_registry *r, struct stmt *s)
{
	struct stmt_slot *e =
	    table_find(&r->by_body, s->body, s->body_len, s->hash);

	if (!e) {
		if (!table_reserve(&r->by_body))
			return NULL;
		table_place(&r->by_body, &(struct stmt_slot){
					     .key = s->body,
					     .s = s,
					     .len = s->body_len,
					     .hash = s->hash,
					 });
		s->current = true;
		e = table_find(&r->by_body, s->body, s->body_len, s->hash);
	}
	stmt_ref(e->s);
	return e->s;
}

struct stmt *stmt_renew(struct stmt_registry *r, struct stmt *s)
{
	struct stmt_slot *e =
	    table_find(&r->by_body, s->body, s->body_len, s->hash);
	struct stmt *fresh;

	assert(s->current && e && e->s == s);
	fresh = stmt_new(r, s->body, s->body_len, s->hash);
	if (!fresh)
		return NULL;
	fresh->valid = s->valid;
	fresh->parse_len = s->parse_len;
	e->key = fresh->body;
	e->s = fresh;
	s->current = false;
	return fresh;
}

void stmt_ref(struct stmt *s)
{
	assert(s->refs < UINT_MAX);
	s->refs++;
}

void stmt_unref(struct stmt_registry *r, struct stmt *s)
{
	struct stmt_slot *e;

	assert(s->refs > 0);
	if (--s->refs > 0)
		return;
	if (s->current) {
		e = table_find(&r->by_body, s->body, s->body_len, s->hash);
		assert(e && e->s == s);
		table_delete(&r->by_body, e);
	}
	stmt_free(r, s);
}

static struct stmt_slot *names_find(const struct stmt_names *m,
				    const char *name)
{
	size_t len = strlen(name);

	assert(len < UINT32_MAX);
	return table_find(&m->t, name, (uint32_t)len,
			  hash_bytes(name, (uint32_t)len));
}

bool stmt_names_set(struct stmt_names *m, struct stmt_registry *r,
		    const char *name, struct stmt *s)
{
	struct stmt_slot *e = names_find(m, name);
	struct stmt_slot added = {.s = s};

	assert(s != NULL);
	if (e) {
		stmt_ref(s); /* before the unref: s may be the old statement */
		stmt_unref(r, e->s);
		e->s = s;
		e->born = ++r->clock;
		return true;
	}
	if (!table_reserve(&m->t))
		return false;
	added.key = strdup(name);
	if (!added.key)
		return false;
	added.len = (uint32_t)strlen(name);
	added.hash = hash_bytes(name, added.len);
	added.born = ++r->clock;
	table_place(&m->t, &added);
	stmt_ref(s);
	return true;
}

struct stmt *stmt_names_get(const struct stmt_names *m, const char *name)
{
	uint64_t parsed;

	return stmt_names_find(m, name, &parsed);
}

struct stmt *stmt_names_find(const struct stmt_names *m, const char *name,
			     uint64_t *parsed)
{
	const struct stmt_slot *e = names_find(m, name);

	*parsed = e ? e->born : 0;
	return e ? e->s : NULL;
}

void stmt_names_move(struct stmt_names *m, struct stmt_registry *r,
		     const char *name, struct stmt *s)
{
	struct stmt_slot *e = names_find(m, name);

	assert(e != NULL);
	stmt_ref(s);
	stmt_unref(r, e->s);
	e->s = s;
}

void stmt_names_remove(struct stmt_names *m, struct stmt_registry *r,
		       const char *name)
{
	struct stmt_slot *e = names_find(m, name);
	struct stmt_slot gone;

	if (!e)
		return;
	gone = *e;
	table_delete(&m->t, e);
	free(gone.key);
	stmt_unref(r, gone.s);
}

void stmt_names_clear(struct stmt_names *m, struct stmt_registry *r)
{
	for (unsigned i = 0; i < m->t.cap; i++) {
		if (!m->t.slots[i].s)
			continue;
		free(m->t.slots[i].key);
		stmt_unref(r, m->t.slots[i].s);
	}
	table_free(&m->t);
}

unsigned stmt_names_count(const struct stmt_names *m)
{
	return m->t.count;
}

void stmt_names_each(const struct stmt_names *m,
		     void (*fn)(void *arg, const char *name,
				const struct stmt *s),
		     void *arg)
{
	for (unsigned i = 0; i < m->t.cap; i++)
		if (m->t.slots[i].s != NULL)
			fn(arg, m->t.slots[i].key, m->t.slots[i].s);
}

void stmt_cache_init(struct stmt_cache *c, unsigned max)
{
	assert(max >= 1);
	*c = (struct stmt_cache){.max = max};
}

/* Keyed by id: each version of a body is a statement of its own there. */
static struct stmt_slot *cache_find(const struct stmt_cache *c,
				    const struct stmt *s)
{
	return table_find(&c->t, &s->id, sizeof(s->id),
			  hash_bytes(&s->id, sizeof(s->id)));
}

uint64_t stmt_cache_use(struct stmt_cache *c, const struct stmt *s)
{
	struct stmt_slot *e = cache_find(c, s);

	if (!e)
		return 0;
	e->stamp = ++c->clock;
	return e->born;
}

bool stmt_cache_touch(struct stmt_cache *c, const struct stmt *s)
{
	return stmt_cache_use(c, s) != 0;
}

/* Removes the least recently used entry and hands over its reference. A
 * linear scan: it runs only when a full cache takes a new statement. */
static struct stmt *cache_evict(struct stmt_cache *c)
{
	struct stmt_slot *lru = NULL;
	struct stmt *s;

	for (unsigned i = 0; i < c->t.cap; i++) {
		struct stmt_slot *e = &c->t.slots[i];

		if (e->s && (!lru || e->stamp < lru->stamp))
			lru = e;
	}
	assert(lru);
	s = lru->s;
	table_delete(&c->t, lru);
	return s;
}

struct stmt *stmt_cache_add(struct stmt_cache *c, struct stmt_registry *r,
			    struct stmt *s, bool *oom)
{
	struct stmt *evicted = NULL;

	assert(c->max >= 1);
	*oom = false;
	if (stmt_cache_touch(c, s))
		return NULL;
	/* Evicting keeps the count at a size the table already held, so only
	 * a cache below max may need to grow, before anything changes. */
	if (c->t.count >= c->max)
		evicted = cache_evict(c);
	else if (!table_reserve(&c->t)) {
		*oom = true;
		return NULL;
	}
	table_place(&c->t, &(struct stmt_slot){
			       .key = &s->id,
			       .s = s,
			       .stamp = ++c->clock,
			       .born = ++r->clock,
			       .len = sizeof(s->id),
			       .hash = hash_bytes(&s->id, sizeof(s->id)),
			   });
	stmt_ref(s);
	return evicted;
}

void stmt_cache_remove(struct stmt_cache *c, struct stmt_registry *r,
		       const struct stmt *s)
{
	struct stmt_slot *e = cache_find(c, s);
	struct stmt *gone;

	if (!e)
		return;
	gone = e->s;
	table_delete(&c->t, e);
	stmt_unref(r, gone);
}

void stmt_cache_clear(struct stmt_cache *c, struct stmt_registry *r)
{
	for (unsigned i = 0; i < c->t.cap; i++) {
		if (c->t.slots[i].s)
			stmt_unref(r, c->t.slots[i].s);
	}
	table_free(&c->t);
}

unsigned stmt_cache_count(const struct stmt_cache *c)
{
	return c->t.count;
}
