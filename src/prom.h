/* Prometheus text exposition (format 0.0.4) of pool metrics snapshots:
 * what GET /metrics returns. Pure module: formats into a caller's buffer
 * with a sticky overflow flag; unit tested on fixed snapshots. */
#ifndef PITLANE_PROM_H
#define PITLANE_PROM_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

/* A bounded output buffer: writes past cap set overflow and are dropped. */
struct prom_out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

/* What the process reports besides its pools. */
struct prom_info {
	const char *version;
	bool notify; /* built with systemd notify support */
};

/* Writes every metric family for n pools into o (NUL-terminated when it
 * fits). Returns false when o overflowed: retry with a larger buffer. */
bool prom_format(struct prom_out *o, const struct prom_info *info,
		 const struct metrics_snapshot *pools, size_t n)
    __attribute__((warn_unused_result));

#endif
