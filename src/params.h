/* Server run-time parameters (ParameterStatus): the set a backend reported at
 * login and every change relayed since, replayed to clients at their login.
 * Pure module. */
#ifndef PITLANE_PARAMS_H
#define PITLANE_PARAMS_H

#include <stdbool.h>

#include "proto.h"

#define PARAMS_MAX 48 /* PostgreSQL 15 reports 14; room for extensions */

struct params {
	unsigned n;
	char *name[PARAMS_MAX];	 /* owned */
	char *value[PARAMS_MAX]; /* owned */
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

#endif
