/* Prometheus text exposition of pool snapshots: one HELP and TYPE line per
 * family, then one sample per pool labelled with its database and user.
 * Names follow Prometheus conventions: pitlane_ prefix, base units,
 * counters ending in _total. */
#include "prom.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_SNAP(f) offsetof(struct metrics_snapshot, f)

enum prom_value {
	PROM_UNSIGNED, /* unsigned */
	PROM_U64,      /* uint64_t */
	PROM_INT,      /* int */
	PROM_BOOL,     /* bool, as 0 or 1 */
};

/* A family with one sample per pool, read at an offset in the snapshot. */
struct prom_family {
	const char *name, *type, *help;
	size_t off;
	enum prom_value kind;
};

/* A family with one sample per pool and per value of a second label. */
struct prom_labelled {
	const char *name, *type, *help, *label;
	struct {
		const char *value;
		size_t off;
	} v[METRICS_LOGIN_NREASONS];
	unsigned n;
};

static const struct prom_family prom_families[] = {
    {"pitlane_pool_max_servers", "gauge",
     "Most server connections the pool opens (pool_max).", PROM_SNAP(max),
     PROM_INT},
    {"pitlane_pool_min_servers", "gauge",
     "Server connections the pool keeps open (pool_min).", PROM_SNAP(min),
     PROM_INT},
    {"pitlane_ready", "gauge",
     "1 when a new client would be served now (as /readyz).", PROM_SNAP(ready),
     PROM_BOOL},
    {"pitlane_paused", "gauge", "1 while the pool is paused.",
     PROM_SNAP(paused), PROM_BOOL},
    {"pitlane_transactions_total", "counter",
     "Transactions ended (ReadyForQuery idle).", PROM_SNAP(c.xacts_total),
     PROM_U64},
    {"pitlane_queries_total", "counter",
     "Queries relayed (Query, Sync and FunctionCall messages).",
     PROM_SNAP(c.queries_total), PROM_U64},
    {"pitlane_client_received_bytes_total", "counter",
     "Bytes received from clients and relayed to servers.",
     PROM_SNAP(c.bytes_in), PROM_U64},
    {"pitlane_client_sent_bytes_total", "counter",
     "Bytes relayed from servers to clients.", PROM_SNAP(c.bytes_out),
     PROM_U64},
    {"pitlane_server_connects_total", "counter",
     "Server connections established.", PROM_SNAP(c.connects_total), PROM_U64},
    {"pitlane_server_connect_failures_total", "counter",
     "Server connection attempts that failed.", PROM_SNAP(c.connect_failures),
     PROM_U64},
    {"pitlane_server_assignments_total", "counter",
     "Server connections handed to clients.", PROM_SNAP(c.assignments),
     PROM_U64},
    {"pitlane_servers_lost_total", "counter",
     "Server connections lost while in use (SQLSTATE 08006).",
     PROM_SNAP(c.server_errors), PROM_U64},
    {"pitlane_client_wait_timeouts_total", "counter",
     "Clients refused after waiting the connect timeout (SQLSTATE 53300).",
     PROM_SNAP(c.wait_timeouts), PROM_U64},
    {"pitlane_client_logins_total", "counter", "Client logins completed.",
     PROM_SNAP(c.logins), PROM_U64},
    {"pitlane_cancel_requests_total", "counter",
     "Cancel requests received from clients.", PROM_SNAP(c.cancel_requests),
     PROM_U64},
};

static const struct prom_labelled prom_states[] = {
    {"pitlane_clients",
     "gauge",
     "Client connections by state.",
     "state",
     {{"active", PROM_SNAP(clients_active)},
      {"waiting", PROM_SNAP(clients_waiting)},
      {"idle", PROM_SNAP(clients_idle)},
      {"login", PROM_SNAP(clients_login)}},
     4},
    {"pitlane_servers",
     "gauge",
     "Server connections by state.",
     "state",
     {{"active", PROM_SNAP(servers_active)},
      {"idle", PROM_SNAP(servers_idle)},
      {"used", PROM_SNAP(servers_used)},
      {"connecting", PROM_SNAP(servers_connecting)}},
     4},
};

static void prom_printf(struct prom_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void prom_printf(struct prom_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		o->buf[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

/* A label value with \, " and newline escaped as the format requires. */
static void prom_label_value(struct prom_out *o, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\\')
			prom_printf(o, "\\\\");
		else if (*s == '"')
			prom_printf(o, "\\\"");
		else if (*s == '\n')
			prom_printf(o, "\\n");
		else
			prom_printf(o, "%c", *s);
	}
}

/* name{database="…",user="…" — the caller closes the braces. */
static void prom_series(struct prom_out *o, const char *name,
			const char *suffix, const struct metrics_snapshot *s)
{
	prom_printf(o, "%s%s{database=\"", name, suffix);
	prom_label_value(o, s->database);
	prom_printf(o, "\",user=\"");
	prom_label_value(o, s->user);
	prom_printf(o, "\"");
}

static void prom_header(struct prom_out *o, const char *name, const char *type,
			const char *help)
{
	prom_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t prom_read(const struct metrics_snapshot *s, size_t off,
			  enum prom_value kind)
{
	const char *p = (const char *)s + off;

	switch (kind) {
	case PROM_UNSIGNED:
		return *(const unsigned *)(const void *)p;
	case PROM_U64:
		return *(const uint64_t *)(const void *)p;
	case PROM_INT:
		return (uint64_t) * (const int *)(const void *)p;
	case PROM_BOOL:
		return *(const bool *)(const void *)p ? 1 : 0;
	}
	return 0;
}

static void prom_family(struct prom_out *o, const struct prom_family *f,
			const struct metrics_snapshot *pools, size_t n)
{
	prom_header(o, f->name, f->type, f->help);
	for (size_t i = 0; i < n; i++) {
		prom_series(o, f->name, "", &pools[i]);
		prom_printf(
		    o, "} %llu\n",
		    (unsigned long long)prom_read(&pools[i], f->off, f->kind));
	}
}

static void prom_states_family(struct prom_out *o,
			       const struct prom_labelled *f,
			       const struct metrics_snapshot *pools, size_t n)
{
	prom_header(o, f->name, f->type, f->help);
	for (size_t i = 0; i < n; i++) {
		for (unsigned j = 0; j < f->n; j++) {
			prom_series(o, f->name, "", &pools[i]);
			prom_printf(o, ",%s=\"%s\"} %u\n", f->label,
				    f->v[j].value,
				    (unsigned)prom_read(&pools[i], f->v[j].off,
							PROM_UNSIGNED));
		}
	}
}

static void prom_login_failures(struct prom_out *o,
				const struct metrics_snapshot *pools, size_t n)
{
	static const char name[] = "pitlane_client_login_failures_total";

	prom_header(o, name, "counter",
		    "Client logins refused, by reason (auth, database, "
		    "too_many_clients, protocol, shutdown, server, other).");
	for (size_t i = 0; i < n; i++) {
		for (unsigned r = 0; r < METRICS_LOGIN_NREASONS; r++) {
			prom_series(o, name, "", &pools[i]);
			prom_printf(
			    o, ",reason=\"%s\"} %llu\n",
			    metrics_login_failure_name(r),
			    (unsigned long long)pools[i].c.login_failures[r]);
		}
	}
}

/* One histogram of one pool: cumulative buckets in seconds, sum, count. */
static void prom_histo(struct prom_out *o, const char *name,
		       const struct metrics_snapshot *s, const struct histo *h)
{
	uint64_t cum = 0;

	for (unsigned i = 0; i < HISTO_NBOUNDS; i++) {
		cum += h->bucket[i];
		prom_series(o, name, "_bucket", s);
		prom_printf(o, ",le=\"%g\"} %llu\n",
			    (double)histo_bound_us(i) / 1e6,
			    (unsigned long long)cum);
	}
	prom_series(o, name, "_bucket", s);
	prom_printf(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	prom_series(o, name, "_sum", s);
	prom_printf(o, "} %.6f\n", (double)h->sum_us / 1e6);
	prom_series(o, name, "_count", s);
	prom_printf(o, "} %llu\n", (unsigned long long)h->count);
}

static void prom_histograms(struct prom_out *o,
			    const struct metrics_snapshot *pools, size_t n)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} hs[] = {
	    {"pitlane_client_wait_seconds",
	     "Time a client waited for a server connection, per assignment.",
	     PROM_SNAP(h.wait)},
	    {"pitlane_transaction_duration_seconds",
	     "Transaction duration, first request to ReadyForQuery idle.",
	     PROM_SNAP(h.xact)},
	    {"pitlane_query_duration_seconds",
	     "Query duration, sent to its ReadyForQuery.", PROM_SNAP(h.query)},
	};

	for (size_t k = 0; k < sizeof(hs) / sizeof(hs[0]); k++) {
		prom_header(o, hs[k].name, "histogram", hs[k].help);
		for (size_t i = 0; i < n; i++)
			prom_histo(
			    o, hs[k].name, &pools[i],
			    (const struct histo
				 *)(const void *)((const char *)&pools[i] +
						  hs[k].off));
	}
}

bool prom_format(struct prom_out *o, const struct prom_info *info,
		 const struct metrics_snapshot *pools, size_t n)
{
	o->len = 0;
	o->overflow = o->cap == 0;
	prom_header(o, "pitlane_build_info", "gauge",
		    "Always 1; labels say the version and built-in features.");
	prom_printf(o, "pitlane_build_info{version=\"");
	prom_label_value(o, info->version);
	prom_printf(o, "\",notify=\"%s\"} 1\n", info->notify ? "yes" : "no");
	for (size_t k = 0; k < sizeof(prom_states) / sizeof(prom_states[0]);
	     k++)
		prom_states_family(o, &prom_states[k], pools, n);
	for (size_t k = 0; k < sizeof(prom_families) / sizeof(prom_families[0]);
	     k++)
		prom_family(o, &prom_families[k], pools, n);
	prom_login_failures(o, pools, n);
	prom_printf(o, "# HELP pitlane_client_wait_max_seconds Longest current "
		       "wait of a client for a server.\n"
		       "# TYPE pitlane_client_wait_max_seconds gauge\n");
	for (size_t i = 0; i < n; i++) {
		prom_series(o, "pitlane_client_wait_max_seconds", "",
			    &pools[i]);
		prom_printf(o, "} %.6f\n", (double)pools[i].wait_max_us / 1e6);
	}
	prom_histograms(o, pools, n);
	return !o->overflow;
}
