/* The admin console's result sets: the column layout of every SHOW command
 * as PgBouncer 1.18 sends it (names, order, types) and the writers of
 * RowDescription, DataRow, CommandComplete and the console's notices and
 * errors. Pure: the handlers gather values, this formats them, so the
 * layouts are unit tested against 1.18 without a socket. */
#ifndef PITLANE_ADMIN_SHOW_H
#define PITLANE_ADMIN_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

/* Column types, PgBouncer's codes. */
#define ADMIN_TEXT    's' /* text (OID 25) */
#define ADMIN_INT4    'i' /* int4 (23) */
#define ADMIN_INT8    'q' /* int8 (20) */
#define ADMIN_NUMERIC 'N' /* numeric (1700), written as an integer */
#define ADMIN_TIME    'T' /* text: "YYYY-MM-DD HH:MM:SS TZ", local time */

#define ADMIN_ROW_MAX 16384 /* room one DataRow may take */

enum admin_show_id {
	ADMIN_SHOW_POOLS,
	ADMIN_SHOW_STATS,
	ADMIN_SHOW_STATS_TOTALS,
	ADMIN_SHOW_STATS_AVERAGES,
	ADMIN_SHOW_TOTALS,
	ADMIN_SHOW_SERVERS,
	ADMIN_SHOW_CLIENTS,
	ADMIN_SHOW_SOCKETS,
	ADMIN_SHOW_ACTIVE_SOCKETS,
	ADMIN_SHOW_DATABASES,
	ADMIN_SHOW_USERS,
	ADMIN_SHOW_LISTS,
	ADMIN_SHOW_CONFIG,
	ADMIN_SHOW_MEM,
	ADMIN_SHOW_VERSION,
	ADMIN_SHOW_STATE,
	ADMIN_SHOW_DNS_HOSTS,
	ADMIN_SHOW_DNS_ZONES,
	ADMIN_SHOW_HELP,  /* a notice, no rows */
	ADMIN_SHOW_FDS,	  /* refused: no online restart */
	ADMIN_SHOW_PARAM, /* client_encoding, datestyle, ...: one fixed value */
};

struct admin_col {
	const char *name;
	char type; /* ADMIN_TEXT, ... */
};

struct admin_table {
	const char *name; /* as after SHOW, lower case */
	enum admin_show_id id;
	const struct admin_col *cols;
	unsigned ncols;
	bool admin_only;   /* refused to stats users */
	const char *value; /* ADMIN_SHOW_PARAM: the one value */
};

/* The table a SHOW subject names (without regard to case), or NULL. */
const struct admin_table *admin_show_find(const char *subject);

/* One value of a row. */
enum admin_val_kind {
	ADMIN_V_NULL,
	ADMIN_V_STR,
	ADMIN_V_INT,  /* a number; text columns print it in decimal */
	ADMIN_V_TIME, /* wall-clock seconds, for ADMIN_TIME columns */
};

struct admin_val {
	enum admin_val_kind kind;
	const char *s;
	int64_t i;
};

#define AV_NULL	   ((struct admin_val){.kind = ADMIN_V_NULL})
#define AV_STR(x)  ((struct admin_val){.kind = ADMIN_V_STR, .s = (x)})
#define AV_INT(x)  ((struct admin_val){.kind = ADMIN_V_INT, .i = (int64_t)(x)})
#define AV_TIME(x) ((struct admin_val){.kind = ADMIN_V_TIME, .i = (int64_t)(x)})

/* RowDescription of t: text format, no table, typmod -1. */
void admin_write_header(struct proto_writer *w, const struct admin_table *t);

/* One DataRow of t->ncols values. An int4 column clamps to its range, int8
 * and numeric to zero and above. */
void admin_write_row(struct proto_writer *w, const struct admin_table *t,
		     const struct admin_val *v);

/* CommandComplete `tag`, then ReadyForQuery 'I'. */
void admin_write_done(struct proto_writer *w, const char *tag);

/* ERROR with fields S, C, M only, as PgBouncer sends it, then ReadyForQuery
 * 'I': the session goes on. */
void admin_write_error(struct proto_writer *w, const char *sqlstate,
		       const char *message);

/* A NoticeResponse (S NOTICE, C 00000, M, D when not NULL). */
void admin_write_notice(struct proto_writer *w, const char *message,
			const char *detail);

/* SHOW HELP's detail text: the commands, one per line. */
extern const char admin_help_text[];

/* Formats wall-clock seconds as PgBouncer does ("%Y-%m-%d %H:%M:%S %Z",
 * local time) into buf. */
void admin_format_time(char *buf, size_t cap, time_t t);

#endif
