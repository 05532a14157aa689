/* Pool metrics: the counters a pool accumulates and the snapshot logged as one
 * `pool metrics` record at startup and on SIGUSR1. Pure module. */
#ifndef PITLANE_METRICS_H
#define PITLANE_METRICS_H

#include <stdint.h>

struct metrics_counters {
	uint64_t xacts_total;	   /* transactions ended (ReadyForQuery 'I') */
	uint64_t queries_total;	   /* Query and Sync messages relayed */
	uint64_t bytes_in;	   /* bytes read from clients */
	uint64_t bytes_out;	   /* bytes written to clients */
	uint64_t connects_total;   /* backend connections established */
	uint64_t connect_failures; /* backend connect attempts that failed */
	uint64_t wait_timeouts;	   /* clients refused after waiting */
	uint64_t server_errors;	   /* backends lost while in use */
};

struct metrics_snapshot {
	const char *pool;
	unsigned servers_total, servers_idle, servers_active;
	unsigned servers_connecting;
	unsigned clients_total, clients_active, clients_waiting;
	int64_t wait_max_ms; /* longest current wait, 0 when none */
	struct metrics_counters c;
	int max, min, idle_timeout_ms, connect_timeout_ms;
};

/* Logs one `pool metrics` record at level info. */
void metrics_log(const struct metrics_snapshot *s);

#endif
