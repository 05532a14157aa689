/* Pool metrics: login failure reasons, period averages, and the snapshot
 * turned into one structured log record or a systemd status line. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *const login_failure_names[METRICS_LOGIN_NREASONS] = {
    [METRICS_LOGIN_AUTH] = "auth",
    [METRICS_LOGIN_DATABASE] = "database",
    [METRICS_LOGIN_LIMIT] = "too_many_clients",
    [METRICS_LOGIN_PROTOCOL] = "protocol",
    [METRICS_LOGIN_SHUTDOWN] = "shutdown",
    [METRICS_LOGIN_SERVER] = "server",
    [METRICS_LOGIN_OTHER] = "other",
};

enum metrics_login_failure metrics_login_failure_of(const char *sqlstate)
{
	if (strncmp(sqlstate, "28", 2) == 0)
		return METRICS_LOGIN_AUTH;
	if (strcmp(sqlstate, "3D000") == 0)
		return METRICS_LOGIN_DATABASE;
	if (strcmp(sqlstate, "53300") == 0)
		return METRICS_LOGIN_LIMIT;
	if (strcmp(sqlstate, "08P01") == 0)
		return METRICS_LOGIN_PROTOCOL;
	if (strcmp(sqlstate, "57P01") == 0)
		return METRICS_LOGIN_SHUTDOWN;
	if (strncmp(sqlstate, "08", 2) == 0)
		return METRICS_LOGIN_SERVER;
	return METRICS_LOGIN_OTHER;
}

const char *metrics_login_failure_name(enum metrics_login_failure r)
{
	return r < METRICS_LOGIN_NREASONS ? login_failure_names[r] : "other";
}

/* a / b, 0 when b is 0. */
static uint64_t metrics_div(uint64_t a, uint64_t b)
{
	return b == 0 ? 0 : a / b;
}

/* Change per second over length_us. */
static uint64_t metrics_per_s(uint64_t delta, int64_t length_us)
{
	return (uint64_t)((double)delta * 1e6 / (double)length_us);
}

struct metrics_rates metrics_rates_of(const struct metrics_counters *a,
				      const struct metrics_counters *b,
				      int64_t length_us)
{
	uint64_t xacts = b->xacts_total - a->xacts_total;
	uint64_t queries = b->queries_total - a->queries_total;

	return (struct metrics_rates){
	    .xact_count = metrics_per_s(xacts, length_us),
	    .query_count = metrics_per_s(queries, length_us),
	    .recv = metrics_per_s(b->bytes_in - a->bytes_in, length_us),
	    .sent = metrics_per_s(b->bytes_out - a->bytes_out, length_us),
	    .xact_time = metrics_div(b->xact_us - a->xact_us, xacts),
	    .query_time = metrics_div(b->query_us - a->query_us, queries),
	    .wait_time = metrics_per_s(b->wait_us - a->wait_us, length_us),
	};
}

void metrics_period_init(struct metrics_period *p,
			 const struct metrics_counters *c, int64_t now_us)
{
	memset(p, 0, sizeof(*p));
	p->start = *c;
	p->start_us = now_us;
}

void metrics_period_roll(struct metrics_period *p,
			 const struct metrics_counters *c, int64_t now_us)
{
	int64_t length = now_us - p->start_us;

	if (length <= 0)
		return;
	p->rates = metrics_rates_of(&p->start, c, length);
	p->length_us = length;
	p->start = *c;
	p->start_us = now_us;
}

void metrics_log(const struct metrics_snapshot *s)
{
	const struct metrics_counters *c = &s->c;
	const struct metrics_histos *h = &s->h;

	log_info("pool metrics", LF_STR("pool", s->pool),
		 LF_STR("user", s->user ? s->user : ""),
		 LF_INT("servers_total", s->servers_total),
		 LF_INT("servers_idle", s->servers_idle),
		 LF_INT("servers_active", s->servers_active),
		 LF_INT("servers_connecting", s->servers_connecting),
		 LF_INT("clients_total", s->clients_total),
		 LF_INT("clients_active", s->clients_active),
		 LF_INT("clients_waiting", s->clients_waiting),
		 LF_INT("wait_max_ms", s->wait_max_ms),
		 LF_INT("xacts_total", c->xacts_total),
		 LF_INT("queries_total", c->queries_total),
		 LF_INT("bytes_in", c->bytes_in),
		 LF_INT("bytes_out", c->bytes_out),
		 LF_INT("connects_total", c->connects_total),
		 LF_INT("connect_failures", c->connect_failures),
		 LF_INT("wait_timeouts", c->wait_timeouts),
		 LF_INT("server_errors", c->server_errors),
		 LF_INT("max", s->max), LF_INT("min", s->min),
		 LF_INT("idle_timeout_ms", s->idle_timeout_ms),
		 LF_INT("connect_timeout_ms", s->connect_timeout_ms),
		 LF_INT("wait_p50_us", histo_percentile_us(&h->wait, 0.50)),
		 LF_INT("wait_p90_us", histo_percentile_us(&h->wait, 0.90)),
		 LF_INT("wait_p99_us", histo_percentile_us(&h->wait, 0.99)),
		 LF_INT("xact_p50_us", histo_percentile_us(&h->xact, 0.50)),
		 LF_INT("xact_p90_us", histo_percentile_us(&h->xact, 0.90)),
		 LF_INT("xact_p99_us", histo_percentile_us(&h->xact, 0.99)),
		 LF_INT("query_p50_us", histo_percentile_us(&h->query, 0.50)),
		 LF_INT("query_p99_us", histo_percentile_us(&h->query, 0.99)),
		 LF_INT("avg_xact_count", s->rates.xact_count),
		 LF_INT("avg_query_count", s->rates.query_count),
		 LF_INT("avg_xact_time_us", s->rates.xact_time),
		 LF_INT("avg_wait_time_us", s->rates.wait_time),
		 LF_INT("logins", c->logins), LF_BOOL("paused", s->paused));
}

const char *metrics_status_line_all(const struct metrics_snapshot *v, size_t n,
				    char *buf, size_t size)
{
	struct metrics_snapshot t = {0};
	unsigned paused = 0;

	if (n == 1)
		return metrics_status_line(v, buf, size);
	for (size_t i = 0; i < n; i++) {
		t.clients_active += v[i].clients_active;
		t.clients_waiting += v[i].clients_waiting;
		t.clients_total += v[i].clients_total;
		t.servers_active += v[i].servers_active;
		t.servers_idle += v[i].servers_idle;
		t.servers_connecting += v[i].servers_connecting;
		t.max += v[i].max;
		paused += v[i].paused;
	}
	snprintf(buf, size,
		 "pools %zu, %u paused: clients %u active, %u waiting, %u "
		 "total; servers %u active, %u idle, %u connecting (max %d)",
		 n, paused, t.clients_active, t.clients_waiting,
		 t.clients_total, t.servers_active, t.servers_idle,
		 t.servers_connecting, t.max);
	return buf;
}

const char *metrics_status_line(const struct metrics_snapshot *s, char *buf,
				size_t size)
{
	snprintf(buf, size,
		 "pool %s: clients %u active, %u waiting, %u total; "
		 "servers %u active, %u idle, %u connecting (max %d)%s",
		 s->pool != NULL ? s->pool : "", s->clients_active,
		 s->clients_waiting, s->clients_total, s->servers_active,
		 s->servers_idle, s->servers_connecting, s->max,
		 s->paused ? "; paused" : "");
	return buf;
}
