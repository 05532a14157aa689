/* Prepared statements under transaction pooling: every distinct Parse body
 * gets a server-side name "pl_<id>" that cannot collide, each client maps
 * its own names onto those statements, and each server remembers (bounded,
 * least recently used out) which ones are already prepared there, and since
 * when. A body may have several versions, each its own server-side
 * statement: a client's name must never run on a copy planned before the
 * client's Parse of it (see txn_prepare). Pure: no I/O; allocates only when
 * a statement, name or cache entry is new. */
#ifndef PITLANE_STMT_H
#define PITLANE_STMT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#define STMT_NAME_MAX 32 /* "pl_" + 20 digits + NUL fits */

/* One version of a distinct statement. Owned by its registry, which frees it
 * when the last reference (a client name or a server cache entry) is
 * dropped. */
struct stmt {
	LIST_ENTRY(stmt) all;	  /* the registry's statements */
	uint64_t id;		  /* unique per registry, from 1 */
	char name[STMT_NAME_MAX]; /* server-side name: "pl_<id>" */
	uint32_t hash;		  /* of body */
	uint32_t body_len;
	uint8_t *body;	    /* owned copy of Parse after the name */
	unsigned refs;	    /* client names + server caches holding it */
	bool valid;	    /* a server has prepared its body without error */
	bool current;	    /* the version stmt_intern finds for its body */
	uint32_t parse_len; /* leading bytes of body sent in Parse (the rest
			       of the key tells apart search_path) */
};

/* Private to stmt.c: one slot of the open-addressing table behind the three
 * maps, visible only so the maps can be embedded in clients and servers. */
struct stmt_slot {
	void *key;	/* body (registry), id (cache) or owned name (names) */
	struct stmt *s; /* value; NULL marks an empty slot */
	uint64_t stamp; /* cache only: use counter at last use */
	uint64_t born;	/* names: when the client parsed it; cache: when it
			   was prepared there (stmt_registry clock) */
	uint32_t len;	/* key bytes */
	uint32_t hash;	/* of key */
};

/* Private to stmt.c: linear probing, backward-shift deletion. */
struct stmt_table {
	struct stmt_slot *slots; /* cap slots, NULL until the first insert */
	unsigned cap;		 /* 0 or a power of two */
	unsigned count;		 /* occupied slots, at most 3/4 of cap */
};

struct stmt_registry; /* opaque; one per worker */

struct stmt_registry *stmt_registry_new(void);
/* NULL-safe; frees every statement, referenced or not, so clear the names and
 * caches that point into it first. */
void stmt_registry_free(struct stmt_registry *r);
/* Statements alive, every version counted. */
unsigned stmt_registry_count(const struct stmt_registry *r);

/* Finds or creates the statement with this body (its current version) and
 * takes a reference. NULL when out of memory (nothing changed). */
struct stmt *stmt_intern(struct stmt_registry *r, const uint8_t *body,
			 uint32_t len) __attribute__((warn_unused_result));
/* The current version of s's body, referenced: s itself becomes current
 * when the body has none left. NULL when out of memory. */
struct stmt *stmt_current(struct stmt_registry *r, struct stmt *s)
    __attribute__((warn_unused_result));
/* A new version of s, which must be current: the same body under a new
 * server-side name, valid if s is. It becomes current; s lives on for those
 * that hold it. Referenced; NULL when out of memory (nothing changed). */
struct stmt *stmt_renew(struct stmt_registry *r, struct stmt *s)
    __attribute__((warn_unused_result));
void stmt_ref(struct stmt *s);
/* Drops a reference; the statement is freed (and removed from the registry)
 * at 0. */
void stmt_unref(struct stmt_registry *r, struct stmt *s);

/* A client's statement names (embedded in the client, zero-initialised =
 * empty; the table is allocated on first set). Each name holds a reference
 * on its statement. */
struct stmt_names {
	struct stmt_table t; /* name copy -> statement */
};

/* Binds name to s (taking a reference, releasing the one the name held), as
 * the client's Parse of it now. false when out of memory (nothing
 * changed). */
bool stmt_names_set(struct stmt_names *m, struct stmt_registry *r,
		    const char *name, struct stmt *s)
    __attribute__((warn_unused_result));
struct stmt *stmt_names_get(const struct stmt_names *m, const char *name);
/* The same, and when the client parsed it in *parsed. */
struct stmt *stmt_names_find(const struct stmt_names *m, const char *name,
			     uint64_t *parsed);
/* Points the existing name at s, another version of its statement, keeping
 * when the client parsed it. */
void stmt_names_move(struct stmt_names *m, struct stmt_registry *r,
		     const char *name, struct stmt *s);
/* No-op when absent. */
void stmt_names_remove(struct stmt_names *m, struct stmt_registry *r,
		       const char *name);
/* Releases every name and frees the table; m is empty and usable again. */
void stmt_names_clear(struct stmt_names *m, struct stmt_registry *r);
unsigned stmt_names_count(const struct stmt_names *m);
/* Calls fn for each name and its statement, in no particular order. */
void stmt_names_each(const struct stmt_names *m,
		     void (*fn)(void *arg, const char *name,
				const struct stmt *s),
		     void *arg);

/* The statements prepared on one server, at most max, least recently used
 * first out (embedded in the server; zero-init + stmt_cache_init). Each entry
 * holds a reference on its statement. */
struct stmt_cache {
	struct stmt_table t; /* statement id -> statement, with use stamp */
	unsigned max;	     /* entries kept, >= 1 */
	uint64_t clock;	     /* use counter: stamps the LRU order */
};

void stmt_cache_init(struct stmt_cache *c, unsigned max);
/* Whether s is prepared there; marks it most recently used. */
bool stmt_cache_touch(struct stmt_cache *c, const struct stmt *s);
/* When s was prepared there (registry clock), 0 when it is not; marks it
 * most recently used. */
uint64_t stmt_cache_use(struct stmt_cache *c, const struct stmt *s);
/* Records s as prepared now and most recently used (taking a reference;
 * when s is already there it is only marked used). When the cache was full,
 * the least recently used entry is removed and returned: the caller sends
 * Close for it on the server and then calls stmt_unref on it. *oom set true
 * when out of memory (nothing changed). */
struct stmt *stmt_cache_add(struct stmt_cache *c, struct stmt_registry *r,
			    struct stmt *s, bool *oom)
    __attribute__((warn_unused_result));
/* Forgets s (e.g. its Parse failed), releasing the cache's reference. No-op
 * when absent. */
void stmt_cache_remove(struct stmt_cache *c, struct stmt_registry *r,
		       const struct stmt *s);
/* Forgets everything (server ran DISCARD ALL / DEALLOCATE ALL, or is being
 * freed) and frees the table; max is kept. */
void stmt_cache_clear(struct stmt_cache *c, struct stmt_registry *r);
unsigned stmt_cache_count(const struct stmt_cache *c);

#endif
