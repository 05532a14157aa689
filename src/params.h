/* Server run-time parameters (ParameterStatus): the set a backend reported at
 * login and every change relayed since, replayed to clients at their login.
 * Pure module. */
#ifndef PITLANE_PARAMS_H
#define PITLANE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define PARAMS_MAX 64 /* parameters one set holds at most */

/* A small name/value set. Names compare without regard to ASCII case, as
 * PostgreSQL's do. Zero-initialised is empty; storage grows on demand, so
 * a client that sets nothing costs nothing. */
struct params {
	unsigned n, cap;
	char **name;	 /* cap entries; owns the block value is in and
			    each entry's "name\0value" string */
	char **value;	 /* cap entries, = name + cap; into the strings */
	unsigned gen;	 /* bumped by every change */
	unsigned fp_gen; /* gen + 1 when fp is current */
	uint64_t fp;	 /* params_fingerprint cache */
};

/* Sets name to value, adding it when new. Returns false when out of memory
 * or full (the set is unchanged). */
bool params_set(struct params *p, const char *name, const char *value)
    __attribute__((warn_unused_result));

const char *params_get(const struct params *p, const char *name);

/* Replaces dst with a copy of src; false (dst emptied) when out of memory. */
bool params_copy(struct params *dst, const struct params *src)
    __attribute__((warn_unused_result));

void params_clear(struct params *p);

/* Writes one ParameterStatus message per parameter. */
void params_write(const struct params *p, struct proto_writer *w);

/* A digest of the contents that does not depend on order or on the case
 * of names: equal sets have equal fingerprints (and different ones almost
 * surely differ). Cached until the next change. */
uint64_t params_fingerprint(struct params *p);

/* Removes name (no-op when absent). */
void params_unset(struct params *p, const char *name);

/* The session parameters a client asks for in its startup packet: every
 * parameter but user, database, replication and `_pq_.` options, plus the
 * `-c name=value` and `--name=value` switches of `options`. A client that
 * names no application_name gets the empty one, as PostgreSQL gives it.
 * Returns NULL, or the SQLSTATE of the error written to err. */
const char *params_from_startup(struct params *out, const uint8_t *pkt,
				const struct proto_startup *st, char *err,
				size_t errlen);

/* Whether a value differs from what the server reports in a way only the
 * server can settle (it normalises or validates it): true for parameters
 * the server does not report and for reported ones whose value differs,
 * except an application_name PostgreSQL would keep as it is. */
bool params_need_server(const struct params *want, const struct params *base);

/* An immutable set held by several owners: clients that logged in alike
 * (the same application_name, the same options) share one copy of their
 * startup set instead of holding one each. */
struct params_shared;

/* The shared set equal to p, a reference taken (made when there is none
 * yet); NULL when out of memory. */
struct params_shared *params_share(struct params *p)
    __attribute__((warn_unused_result));

/* Drops a reference; the last frees the set. NULL-safe. */
void params_unshare(struct params_shared *s);

/* The set; an empty one for NULL. */
const struct params *params_shared_get(const struct params_shared *s);

#endif
