/* Pool metrics: turns a snapshot into one structured log record. */
#include "metrics.h"

#include "log.h"

void metrics_log(const struct metrics_snapshot *s)
{
	const struct metrics_counters *c = &s->c;

	log_info("pool metrics", LF_STR("pool", s->pool),
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
		 LF_INT("connect_timeout_ms", s->connect_timeout_ms));
}
