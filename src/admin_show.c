/* Column layouts of PgBouncer 1.18's SHOW commands and the writers that put
 * them on the wire. The layouts are data: one array per command, in wire
 * order, with PgBouncer's type codes. */
#include "admin_show.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define N(cols) (sizeof(cols) / sizeof(cols[0]))

static const struct admin_col cols_pools[] = {
    {"database", 's'},
    {"user", 's'},
    {"cl_active", 'i'},
    {"cl_waiting", 'i'},
    {"cl_active_cancel_req", 'i'},
    {"cl_waiting_cancel_req", 'i'},
    {"sv_active", 'i'},
    {"sv_active_cancel", 'i'},
    {"sv_being_canceled", 'i'},
    {"sv_idle", 'i'},
    {"sv_used", 'i'},
    {"sv_tested", 'i'},
    {"sv_login", 'i'},
    {"maxwait", 'i'},
    {"maxwait_us", 'i'},
    {"pool_mode", 's'},
};

static const struct admin_col cols_stats[] = {
    {"database", 's'},		{"total_xact_count", 'N'},
    {"total_query_count", 'N'}, {"total_received", 'N'},
    {"total_sent", 'N'},	{"total_xact_time", 'N'},
    {"total_query_time", 'N'},	{"total_wait_time", 'N'},
    {"avg_xact_count", 'N'},	{"avg_query_count", 'N'},
    {"avg_recv", 'N'},		{"avg_sent", 'N'},
    {"avg_xact_time", 'N'},	{"avg_query_time", 'N'},
    {"avg_wait_time", 'N'},
};

/* STATS_TOTALS and STATS_AVERAGES share their names in 1.18. */
static const struct admin_col cols_stats_db[] = {
    {"database", 's'},	     {"xact_count", 'N'}, {"query_count", 'N'},
    {"bytes_received", 'N'}, {"bytes_sent", 'N'}, {"xact_time", 'N'},
    {"query_time", 'N'},     {"wait_time", 'N'},
};

static const struct admin_col cols_name_value[] = {
    {"name", 's'},
    {"value", 'N'},
};

#define SOCKET_COLS                                                            \
	{"type", 's'}, {"user", 's'}, {"database", 's'}, {"state", 's'},       \
	    {"addr", 's'}, {"port", 'i'}, {"local_addr", 's'},                 \
	    {"local_port", 'i'}, {"connect_time", 'T'}, {"request_time", 'T'}, \
	    {"wait", 'i'}, {"wait_us", 'i'}, {"close_needed", 'i'},            \
	    {"ptr", 's'}, {"link", 's'}, {"remote_pid", 'i'}, {"tls", 's'},    \
	{                                                                      \
		"application_name", 's'                                        \
	}

static const struct admin_col cols_sockets_std[] = {SOCKET_COLS};

static const struct admin_col cols_sockets_debug[] = {
    SOCKET_COLS,	 {"recv_pos", 'i'},   {"pkt_pos", 'i'},
    {"pkt_remain", 'i'}, {"send_pos", 'i'},   {"send_remain", 'i'},
    {"pkt_avail", 'i'},	 {"send_avail", 'i'},
};

static const struct admin_col cols_databases[] = {
    {"name", 's'},
    {"host", 's'},
    {"port", 'i'},
    {"database", 's'},
    {"force_user", 's'},
    {"pool_size", 'i'},
    {"min_pool_size", 'i'},
    {"reserve_pool", 'i'},
    {"pool_mode", 's'},
    {"max_connections", 'i'},
    {"current_connections", 'i'},
    {"paused", 'i'},
    {"disabled", 'i'},
};

static const struct admin_col cols_users[] = {
    {"name", 's'},
    {"pool_mode", 's'},
};

static const struct admin_col cols_lists[] = {
    {"list", 's'},
    {"items", 'i'},
};

static const struct admin_col cols_config[] = {
    {"key", 's'},
    {"value", 's'},
    {"default", 's'},
    {"changeable", 's'},
};

static const struct admin_col cols_mem[] = {
    {"name", 's'}, {"size", 'i'},     {"used", 'i'},
    {"free", 'i'}, {"memtotal", 'i'},
};

static const struct admin_col cols_version[] = {{"version", 's'}};

static const struct admin_col cols_state[] = {
    {"key", 's'},
    {"value", 's'},
};

static const struct admin_col cols_dns_hosts[] = {
    {"hostname", 's'},
    {"ttl", 'q'},
    {"addrs", 's'},
};

static const struct admin_col cols_dns_zones[] = {
    {"zonename", 's'},
    {"serial", 'q'},
    {"count", 'i'},
};

/* The fake parameters: one column named after each. */
static const struct admin_col col_client_encoding[] = {
    {"client_encoding", 's'}};
static const struct admin_col col_isolation[] = {
    {"default_transaction_isolation", 's'}};
static const struct admin_col col_std_strings[] = {
    {"standard_conforming_strings", 's'}};
static const struct admin_col col_datestyle[] = {{"datestyle", 's'}};
static const struct admin_col col_timezone[] = {{"timezone", 's'}};

#define TABLE(name, id, cols)                                                  \
	{                                                                      \
		name, id, cols, N(cols), false, NULL                           \
	}
#define PARAM(name, col, value)                                                \
	{                                                                      \
		name, ADMIN_SHOW_PARAM, col, 1, false, value                   \
	}

static const struct admin_table admin_tables[] = {
    TABLE("pools", ADMIN_SHOW_POOLS, cols_pools),
    TABLE("stats", ADMIN_SHOW_STATS, cols_stats),
    TABLE("stats_totals", ADMIN_SHOW_STATS_TOTALS, cols_stats_db),
    TABLE("stats_averages", ADMIN_SHOW_STATS_AVERAGES, cols_stats_db),
    TABLE("totals", ADMIN_SHOW_TOTALS, cols_name_value),
    TABLE("servers", ADMIN_SHOW_SERVERS, cols_sockets_std),
    TABLE("clients", ADMIN_SHOW_CLIENTS, cols_sockets_std),
    TABLE("sockets", ADMIN_SHOW_SOCKETS, cols_sockets_debug),
    TABLE("active_sockets", ADMIN_SHOW_ACTIVE_SOCKETS, cols_sockets_debug),
    TABLE("databases", ADMIN_SHOW_DATABASES, cols_databases),
    TABLE("users", ADMIN_SHOW_USERS, cols_users),
    TABLE("lists", ADMIN_SHOW_LISTS, cols_lists),
    TABLE("config", ADMIN_SHOW_CONFIG, cols_config),
    TABLE("mem", ADMIN_SHOW_MEM, cols_mem),
    TABLE("version", ADMIN_SHOW_VERSION, cols_version),
    TABLE("state", ADMIN_SHOW_STATE, cols_state),
    TABLE("dns_hosts", ADMIN_SHOW_DNS_HOSTS, cols_dns_hosts),
    TABLE("dns_zones", ADMIN_SHOW_DNS_ZONES, cols_dns_zones),
    {"help", ADMIN_SHOW_HELP, NULL, 0, false, NULL},
    {"fds", ADMIN_SHOW_FDS, NULL, 0, true, NULL},
    PARAM("client_encoding", col_client_encoding, "UTF-8"),
    PARAM("default_transaction_isolation", col_isolation, "read committed"),
    PARAM("standard_conforming_strings", col_std_strings, "on"),
    PARAM("datestyle", col_datestyle, "ISO"),
    PARAM("timezone", col_timezone, "GMT"),
};

const char admin_help_text[] =
    "\n\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION"
    "\n\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS"
    "\n\tSHOW LISTS|MEM|STATE|SOCKETS|ACTIVE_SOCKETS|DNS_HOSTS|DNS_ZONES"
    "\n\tSET key = arg"
    "\n\tRELOAD"
    "\n\tPAUSE [<db>]"
    "\n\tRESUME [<db>]"
    "\n\tDISABLE <db>"
    "\n\tENABLE <db>"
    "\n\tRECONNECT [<db>]"
    "\n\tKILL [<db>]"
    "\n\tKILL_CLIENT <ptr>"
    "\n\tWAIT_CLOSE [<db>]"
    "\n\tSHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]";

const struct admin_table *admin_show_find(const char *subject)
{
	for (size_t i = 0; i < N(admin_tables); i++)
		if (strcasecmp(subject, admin_tables[i].name) == 0)
			return &admin_tables[i];
	return NULL;
}

static uint32_t admin_type_oid(char type)
{
	switch (type) {
	case ADMIN_INT4:
		return 23;
	case ADMIN_INT8:
		return 20;
	case ADMIN_NUMERIC:
		return 1700;
	default:
		return 25;
	}
}

static uint16_t admin_type_len(char type)
{
	switch (type) {
	case ADMIN_INT4:
		return 4;
	case ADMIN_INT8:
		return 8;
	default:
		return (uint16_t)-1;
	}
}

void admin_write_header(struct proto_writer *w, const struct admin_table *t)
{
	proto_begin(w, 'T');
	proto_put_u8(w, (uint8_t)(t->ncols >> 8));
	proto_put_u8(w, (uint8_t)t->ncols);
	for (unsigned i = 0; i < t->ncols; i++) {
		uint16_t len = admin_type_len(t->cols[i].type);

		proto_put_str(w, t->cols[i].name);
		proto_put_u32(w, 0); /* table OID */
		proto_put_u8(w, 0);  /* attribute number */
		proto_put_u8(w, 0);
		proto_put_u32(w, admin_type_oid(t->cols[i].type));
		proto_put_u8(w, (uint8_t)(len >> 8));
		proto_put_u8(w, (uint8_t)len);
		proto_put_u32(w, UINT32_MAX); /* typmod -1 */
		proto_put_u8(w, 0);	      /* text format */
		proto_put_u8(w, 0);
	}
	proto_end(w);
}

/* The text of one value for a column of `type` into buf; NULL for NULL. */
static const char *admin_value_text(char type, const struct admin_val *v,
				    char *buf, size_t cap)
{
	int64_t x = v->i;

	switch (v->kind) {
	case ADMIN_V_NULL:
		return NULL;
	case ADMIN_V_STR:
		return v->s != NULL ? v->s : "";
	case ADMIN_V_TIME:
		admin_format_time(buf, cap, (time_t)x);
		return buf;
	case ADMIN_V_INT:
		break;
	}
	if (type == ADMIN_INT4)
		x = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x;
	else if (type == ADMIN_INT8 || type == ADMIN_NUMERIC)
		x = x < 0 ? 0 : x;
	snprintf(buf, cap, "%" PRId64, x);
	return buf;
}

void admin_write_row(struct proto_writer *w, const struct admin_table *t,
		     const struct admin_val *v)
{
	char buf[64];

	proto_begin(w, 'D');
	proto_put_u8(w, (uint8_t)(t->ncols >> 8));
	proto_put_u8(w, (uint8_t)t->ncols);
	for (unsigned i = 0; i < t->ncols; i++) {
		const char *s =
		    admin_value_text(t->cols[i].type, &v[i], buf, sizeof(buf));

		if (s == NULL) {
			proto_put_u32(w, UINT32_MAX); /* -1: NULL */
			continue;
		}
		size_t n = strlen(s);
		proto_put_u32(w, (uint32_t)n);
		proto_put_bytes(w, s, n);
	}
	proto_end(w);
}

void admin_write_done(struct proto_writer *w, const char *tag)
{
	proto_begin(w, 'C');
	proto_put_str(w, tag);
	proto_end(w);
	proto_write_ready(w, 'I');
}

void admin_write_error(struct proto_writer *w, const char *sqlstate,
		       const char *message)
{
	proto_begin(w, 'E');
	proto_put_u8(w, 'S');
	proto_put_str(w, "ERROR");
	proto_put_u8(w, 'C');
	proto_put_str(w, sqlstate);
	proto_put_u8(w, 'M');
	proto_put_str(w, message);
	proto_put_u8(w, 0);
	proto_end(w);
	proto_write_ready(w, 'I');
}

void admin_write_notice(struct proto_writer *w, const char *message,
			const char *detail)
{
	proto_begin(w, 'N');
	proto_put_u8(w, 'S');
	proto_put_str(w, "NOTICE");
	proto_put_u8(w, 'C');
	proto_put_str(w, "00000");
	proto_put_u8(w, 'M');
	proto_put_str(w, message);
	if (detail != NULL) {
		proto_put_u8(w, 'D');
		proto_put_str(w, detail);
	}
	proto_put_u8(w, 0);
	proto_end(w);
}

void admin_format_time(char *buf, size_t cap, time_t t)
{
	struct tm tm;

	if (t == 0)
		t = time(NULL); /* PgBouncer prints "now" for an unset time */
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(buf, cap, "%s", "");
}
