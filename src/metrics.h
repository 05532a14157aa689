/* Pool metrics: the counters and histograms a pool accumulates, the
 * per-period averages, and the one snapshot every reader formats (the JSON
 * `pool metrics` record, the console's SHOW commands, /metrics). Pure
 * module: time is passed in. */
#ifndef PITLANE_METRICS_H
#define PITLANE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histo.h"

/* Why a login failed, from the SQLSTATE the client was refused with. */
enum metrics_login_failure {
	METRICS_LOGIN_AUTH,	/* 28000, 28P01 */
	METRICS_LOGIN_DATABASE, /* 3D000 */
	METRICS_LOGIN_LIMIT,	/* 53300: too many clients */
	METRICS_LOGIN_PROTOCOL, /* 08P01 */
	METRICS_LOGIN_SHUTDOWN, /* 57P01 */
	METRICS_LOGIN_SERVER,	/* 08xxx other than 08P01: backend failure */
	METRICS_LOGIN_OTHER,
	METRICS_LOGIN_NREASONS,
};

struct metrics_counters {
	uint64_t xacts_total;	   /* transactions ended (ReadyForQuery 'I') */
	uint64_t queries_total;	   /* Query and Sync messages relayed */
	uint64_t bytes_in;	   /* bytes read from clients */
	uint64_t bytes_out;	   /* bytes written to clients */
	uint64_t connects_total;   /* backend connections established */
	uint64_t connect_failures; /* backend connect attempts that failed */
	uint64_t wait_timeouts;	   /* clients refused after waiting (53300) */
	uint64_t server_errors;	   /* backends lost while in use (08006) */
	uint64_t xact_us;	   /* time spent in transactions */
	uint64_t query_us;	   /* time spent in queries */
	uint64_t wait_us;	   /* time clients waited for a server */
	uint64_t assignments;	   /* servers handed to clients */
	uint64_t logins;	   /* clients that completed a login */
	uint64_t login_failures[METRICS_LOGIN_NREASONS];
	uint64_t cancel_requests; /* CancelRequest packets received */
};

/* Latency distributions, recorded with the counters above. */
struct metrics_histos {
	struct histo wait;  /* wait for a server, one per assignment */
	struct histo xact;  /* transaction start to ReadyForQuery 'I' */
	struct histo query; /* query sent to its ReadyForQuery */
};

/* PgBouncer 1.18's SHOW STATS avg_* columns over the last full period. */
struct metrics_rates {
	uint64_t xact_count;  /* transactions per second */
	uint64_t query_count; /* queries per second */
	uint64_t recv;	      /* bytes from clients per second */
	uint64_t sent;	      /* bytes to clients per second */
	uint64_t xact_time;   /* µs per transaction */
	uint64_t query_time;  /* µs per query */
	uint64_t wait_time;   /* µs waited per second */
};

/* One stats period: counters at its start, and the previous one's rates. */
struct metrics_period {
	struct metrics_counters start; /* counters when this period began */
	int64_t start_us;	       /* when it began */
	struct metrics_rates rates;    /* the last completed period */
	int64_t length_us;	       /* its length, 0 before the first */
};

struct metrics_snapshot {
	const char *pool;
	const char *database, *user; /* the pool's key: labels, SHOW rows */
	unsigned servers_total, servers_idle, servers_active;
	unsigned servers_connecting;
	unsigned servers_used; /* released, being cleaned or tested */
	unsigned clients_total, clients_active, clients_waiting;
	unsigned clients_idle;	/* logged in, no server, no request */
	unsigned clients_login; /* not logged in yet */
	int64_t wait_max_ms;	/* longest current wait, 0 when none */
	int64_t wait_max_us;
	bool paused, ready, shutting_down;
	struct metrics_counters c;
	struct metrics_histos h;
	struct metrics_rates rates; /* last period's averages */
	int max, min, idle_timeout_ms, connect_timeout_ms;
};

/* The reason a client refused during login counts as; sqlstate non-NULL. */
enum metrics_login_failure metrics_login_failure_of(const char *sqlstate);

/* The label value for a reason ("auth", "database", …). */
const char *metrics_login_failure_name(enum metrics_login_failure r);

/* A duration between two clock readings, never negative. */
static inline uint64_t metrics_elapsed_us(int64_t from_us, int64_t to_us)
{
	return to_us > from_us ? (uint64_t)(to_us - from_us) : 0;
}

/* O(1) recorders for the hot path: a counter and a histogram each. */
static inline void metrics_record_wait(struct metrics_counters *c,
				       struct metrics_histos *h, uint64_t us)
{
	c->wait_us += us;
	c->assignments++;
	histo_record(&h->wait, us);
}

static inline void metrics_record_xact(struct metrics_counters *c,
				       struct metrics_histos *h, uint64_t us)
{
	c->xact_us += us;
	histo_record(&h->xact, us);
}

static inline void metrics_record_query(struct metrics_counters *c,
					struct metrics_histos *h, uint64_t us)
{
	c->query_us += us;
	histo_record(&h->query, us);
}

/* Starts the first period at now_us. */
void metrics_period_init(struct metrics_period *p,
			 const struct metrics_counters *c, int64_t now_us);

/* Ends the current period at now_us: its rates replace the previous ones
 * and a new period starts. A zero-length period changes nothing. */
void metrics_period_roll(struct metrics_period *p,
			 const struct metrics_counters *c, int64_t now_us);

/* Rates over the counters' change from a to b in length_us (> 0). */
struct metrics_rates metrics_rates_of(const struct metrics_counters *a,
				      const struct metrics_counters *b,
				      int64_t length_us);

/* Logs one `pool metrics` record at level info. */
void metrics_log(const struct metrics_snapshot *s);

/* One-line systemd STATUS= text ("clients 3 active, 1 waiting; servers …")
 * into buf; returns buf. */
const char *metrics_status_line(const struct metrics_snapshot *s, char *buf,
				size_t size);

/* The STATUS= line of n pools (v, n > 0): for one, metrics_status_line;
 * for more, their clients and servers summed ("pools 3, 1 paused:
 * clients …"). Returns buf. */
const char *metrics_status_line_all(const struct metrics_snapshot *v, size_t n,
				    char *buf, size_t size);

#endif
