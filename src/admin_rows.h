/* The rows of the admin console's SHOW commands, gathered from the worker's
 * sessions, pools and counters; admin_show (L0) formats them. Shared by
 * admin.c's session code and admin_rows.c. */
#ifndef PITLANE_ADMIN_ROWS_H
#define PITLANE_ADMIN_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "admin_show.h"
#include "buf.h"
#include "worker.h"

#define ADMIN_DB	"pgbouncer" /* the console's database and user */
#define ADMIN_POOL_SIZE 2	    /* PgBouncer's for its admin db */
/* What SHOW VERSION and server_version claim: the column sets served are
 * PgBouncer 1.18's. */
#define ADMIN_COMPAT_VERSION "1.18.0"

/* A reply being built: messages go to `out`, one at a time through `w`. */
struct admin_reply {
	struct client *c;
	struct buf *out;
	bool failed; /* a message did not fit, or out of memory */
	struct proto_writer w;
	uint8_t buf[ADMIN_ROW_MAX];
	int64_t now_ms; /* monotonic */
	int64_t wall_s; /* the same instant on the wall clock */
};

/* Moves the message(s) written to r->w into the reply. */
void admin_put(struct admin_reply *r);

/* One DataRow of t. */
void admin_row(struct admin_reply *r, const struct admin_table *t,
	       const struct admin_val *v);

/* Whether the console's own pseudo-database has a row (not when the pool's
 * database is itself named pgbouncer). */
bool admin_db_row(const struct worker *w);

/* The rows of a SHOW with columns. */
void admin_show_rows(struct admin_reply *r, const struct admin_table *t);

#endif
