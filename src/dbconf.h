/* Database and user entries: the [databases] and [users] sections in
 * PgBouncer's syntax, and the default entry built from [pool] / DB_*.
 * Pure module (L0): parsing and lookup only, no sockets, no libevent.
 *
 * An entry line is `alias = key=value key='quoted value' ...`; see
 * pitlane.ini(5) for the keys and the quoting rules. */
#ifndef PITLANE_DBCONF_H
#define PITLANE_DBCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define DBCONF_MAX_ENTRIES 512 /* [databases] lines */
#define DBCONF_MAX_USERS   512 /* [users] lines */
#define DBCONF_UNSET	   (-1)

/* How long a server stays with one client (config.h's pool_mode). */
enum pool_mode {
	POOL_MODE_SESSION,
	POOL_MODE_TRANSACTION,
	POOL_MODE_STATEMENT,
};

/* libpq's target_session_attrs. */
enum dbconf_tsa {
	DBCONF_TSA_ANY,
	DBCONF_TSA_READ_WRITE,
	DBCONF_TSA_PRIMARY,
	DBCONF_TSA_READ_ONLY,
	DBCONF_TSA_STANDBY,
	DBCONF_TSA_PREFER_STANDBY,
};

/* One database entry. Strings are owned (malloc'd); NULL means "not given"
 * and the documented fallback applies (see dbconf_resolve). */
struct db_entry {
	char *alias;	/* the name clients connect to; "*": any other */
	char *host;	/* comma-separated list; NULL: [pool] host */
	char *port;	/* comma-separated list, as text; NULL: [pool] port */
	char *dbname;	/* NULL: the alias (for "*": the name asked for) */
	char *user;	/* NULL: every client logs in as itself */
	char *password; /* NULL: from the auth file / SCRAM pass-through */
	int pool_size;	/* DBCONF_UNSET: [pool] pool_max */
	int min_pool_size;	/* DBCONF_UNSET: [pool] pool_min */
	int reserve_pool;	/* DBCONF_UNSET: [pitlane] reserve_pool */
	int pool_mode;		/* DBCONF_UNSET or an enum pool_mode */
	int max_db_connections; /* 0: no cap */
	char *connect_query;	/* run once on each new server; NULL: none */
	enum dbconf_tsa target_session_attrs; /* any */
	bool load_balance_random;	      /* load_balance_hosts=random */
	char *application_name;		      /* NULL: not sent */
	char *client_encoding;		      /* NULL: not sent */
	char *datestyle;		      /* NULL: not sent */
	char *timezone;			      /* NULL: not sent */
	bool is_default; /* the [pool] / DB_* entry (forced user DB_USER) */
};

/* One [users] line: `name = pool_mode=... max_user_connections=N`. */
struct user_entry {
	char *name;
	int pool_mode;		  /* DBCONF_UNSET or an enum pool_mode */
	int max_user_connections; /* DBCONF_UNSET: the [pitlane] setting */
};

/* Parses the value of a [databases] line for alias into e (zeroed first,
 * defaults set). Returns false with a message naming the key and what is
 * allowed in err (errlen bytes) on any bad key or value. */
bool dbconf_parse_entry(struct db_entry *e, const char *alias,
			const char *value, char *err, size_t errlen);

/* Parses the value of a [users] line. Same error convention. */
bool dbconf_parse_user(struct user_entry *u, const char *name,
		       const char *value, char *err, size_t errlen);

void dbconf_entry_free(struct db_entry *e); /* NULL-safe; strings only */
void dbconf_user_free(struct user_entry *u);

/* Deep copies (for config_copy); false when out of memory. */
bool dbconf_entry_copy(struct db_entry *dst, const struct db_entry *src);
bool dbconf_user_copy(struct user_entry *dst, const struct user_entry *src);

/* Fills the fallbacks of an entry from [pool]: pool_size unset becomes
 * pool_max, min_pool_size unset becomes pool_min (at most pool_size).
 * config_finish calls it for every entry. */
void dbconf_resolve(struct db_entry *e, int pool_max, int pool_min);

/* The libpq keyword for tsa ("read-write", ...). */
const char *dbconf_tsa_name(enum dbconf_tsa tsa);

/* "session", "transaction" or "statement"; NULL for DBCONF_UNSET. */
const char *dbconf_pool_mode_name(int mode);

/* Cuts an inline comment off a [databases] / [users] line in place: a ';'
 * after a blank, as inih has it for the other sections, unless it is in a
 * single-quoted value or escaped by a backslash. */
void dbconf_cut_comment(char *line);

/* Writes e as its [databases] line would read (values quoted where they
 * must be, the password as `redacted`), and u as its [users] line: lines
 * that dbconf_parse_entry / _user read back the same. */
void dbconf_print_entry(FILE *out, const struct db_entry *e,
			const char *redacted);
void dbconf_print_user(FILE *out, const struct user_entry *u);

#endif
