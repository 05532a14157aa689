/* Configuration: built-in defaults, then the INI file, then the environment,
 * then command-line flags, each later source overriding the earlier. Every
 * invalid value is collected (setting name, value, what is allowed) so one
 * run reports them all. Pure module: no sockets, no libevent. */
#ifndef PITLANE_CONFIG_H
#define PITLANE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dbconf.h"
#include "log.h"

#define CONFIG_EXIT_INVALID 78 /* EX_CONFIG */
#define CONFIG_MAX_ERRORS   64
#define CONFIG_ERROR_LEN    320
#define CONFIG_REDACTED	    "<redacted>" /* a secret's value, shown */

/* How clients prove who they are (auth_type; an hba_file may choose per
 * client). */
enum auth_type {
	AUTH_SCRAM, /* scram-sha-256 */
	AUTH_MD5,   /* md5 */
	AUTH_CERT,  /* cert: the client certificate's CN is the user */
	AUTH_TRUST, /* trust: no proof */
};

/* TLS toward clients, named as PostgreSQL's sslmode. */
enum tls_mode {
	TLS_DISABLE,	 /* SSLRequest answered 'N' */
	TLS_ALLOW,	 /* TLS when the client asks; as prefer */
	TLS_PREFER,	 /* TLS when the client asks */
	TLS_REQUIRE,	 /* TCP clients must use TLS */
	TLS_VERIFY_CA,	 /* and present a certificate signed by tls_ca_file */
	TLS_VERIFY_FULL, /* whose CN is also the user logged in as */
	TLS_AUTO,	 /* unset: config_finish makes it prefer or disable */
};

enum tls_version {
	TLS_VERSION_1_2, /* TLSv1.2 */
	TLS_VERSION_1_3, /* TLSv1.3 */
};

struct config {
	/* [pitlane] section: the daemon. Strings are owned (malloc'd). */
	char *listen_addr;	     /* 127.0.0.1 */
	int listen_port;	     /* 6432 */
	char *unix_socket_dir;	     /* NULL: off */
	char *takeover_socket;	     /* NULL: unix_socket_dir's */
	bool so_reuseport;	     /* no: share the port with peers */
	int peer_id;		     /* 0: no peers; else 1..16383 */
	char *peers;		     /* [peers] as "ID = conninfo; ..." */
	enum pool_mode pool_mode;    /* transaction */
	enum log_format log_format;  /* json */
	enum log_level log_level;    /* info */
	int shutdown_timeout_ms;     /* 30000 */
	int max_client_conn;	     /* 1000 */
	int max_prepared_statements; /* 200 per server; 0: passed through */
	/* Durations: written in seconds with up to 3 decimals, held in ms. */
	int idle_transaction_timeout_ms; /* 0: off */
	int query_timeout_ms;		 /* 0: off */
	int client_idle_timeout_ms;	 /* 0: off */
	int server_lifetime_ms;		 /* 3600 s; 0: never recycled */
	int server_check_delay_ms;	 /* 30 s; 0: check before every reuse */
	char *server_reset_query; /* "DISCARD ALL" (session mode); NULL: none */
	char *server_check_query; /* "SELECT 1"; NULL: no check */
	enum auth_type auth_type; /* scram-sha-256 */
	char *auth_file;	  /* NULL: DB_USER/DB_PASSWORD only */
	char *hba_file;		  /* NULL: auth_type for every client */
	char *admin_users;	  /* "a, b": console admins; NULL: none */
	char *stats_users;	  /* "a, b": console SHOW only; NULL: none */
	bool auth_trust_anywhere; /* false: trust on loopback only */
	enum tls_mode tls_mode;	  /* never TLS_AUTO after config_finish */
	char *tls_cert_file;	  /* NULL: none */
	char *tls_key_file;	  /* NULL: none */
	char *tls_ca_file;	  /* NULL: none */
	char *tls_ciphers;	  /* "HIGH:!aNULL:!MD5:!3DES:!RC4" */
	enum tls_version tls_min_version; /* TLSv1.2 */
	int client_login_timeout_ms;	  /* 15 s */
	long max_packet_size;		  /* bytes; 1 GB */
	int stats_period_ms; /* 60 s: `pool metrics` log, averages; 0: off */
	char *http_addr;     /* 127.0.0.1: /metrics, /healthz, /readyz */
	int http_port;	     /* -1: no HTTP endpoint; 0: a free port */

	/* [pool] section, or DB_* in the environment: the backend pool. */
	char *host;		/* localhost; a comma-separated list allowed */
	int port;		/* 5432 */
	char *dbname;		/* postgres */
	char *user;		/* postgres */
	char *password;		/* NULL: none; never logged or printed */
	int pool_max;		/* 10 */
	int pool_min;		/* 2 */
	int idle_timeout_ms;	/* 30000 */
	int connect_timeout_ms; /* 2000 */
	char *sslmode;		/* prefer */
	char *sslrootcert;	/* NULL: libpq's default */
	char *sslcert;		/* NULL: libpq's default */
	char *sslkey;		/* NULL: libpq's default */
	char *target_session_attrs; /* "any"; libpq's words (failover) */

	/* [databases] / [users] and the settings that go with them (issue
	 * 14). dbs[0] is the default entry, built by config_finish from the
	 * [pool] / DB_* settings above (alias pool_name, user forced to
	 * `user`, is_default set); [databases] lines follow in file order. */
	struct db_entry *dbs;
	unsigned ndbs;
	struct user_entry *users; /* [users] lines, in file order */
	unsigned nusers;
	int autodb_idle_timeout_ms;  /* 3600 s: "*" pools unused this long go */
	int max_db_connections;	     /* 0: no cap; servers per database */
	int max_user_connections;    /* 0: no cap; servers per user */
	int reserve_pool;	     /* 0: servers a pool may add beyond its
					size for a client waiting long */
	int reserve_pool_timeout_ms; /* 5 s: how long, first */
	char *auth_user;	     /* NULL: no auth_query */
	char *auth_query;  /* "SELECT usename, passwd FROM pg_shadow WHERE
			      usename=$1" */
	char *auth_dbname; /* NULL: the database the client asked for */

	char *pool_name;  /* "<dbname>": derived by config_finish */
	char port_str[8]; /* port as text for backend targets: derived by
			     config_finish */
	unsigned refs;	  /* holders of a config_new one; see config_hold */
};

/* A setting given on the command line, applied after the environment. */
struct config_override {
	const char *key; /* in [pitlane] */
	const char *value;
	const char *source; /* the flag, for error messages: "--port" */
};

/* Where a configuration comes from, kept for reloads: the same file name,
 * environment and flags give the same precedence every time. Not owned. */
struct config_sources {
	const char *file;  /* -c FILE; NULL: none */
	char *const *envp; /* NAME=value list, e.g. environ */
	const struct config_override *overrides; /* flags, in order */
	unsigned n_overrides;
};

struct config_errors {
	unsigned n;
	char msg[CONFIG_MAX_ERRORS][CONFIG_ERROR_LEN];
};

/* Fills c with the built-in defaults (strings allocated). */
void config_defaults(struct config *c);

/* Frees the strings of c (NULL-safe); c may then be reused. */
void config_free(struct config *c);

/* A configuration on the heap with the defaults, held once. A running
 * pitlane shares one between the worker and the backend connects started
 * under it, so a reload can replace it while they finish: each holder
 * calls config_hold and, when done, config_release (which frees it after
 * the last). */
struct config *config_new(void);
const struct config *config_hold(const struct config *c);
void config_release(const struct config *c); /* NULL-safe */

/* defaults < file < environment < overrides, as at startup; the caller
 * then calls config_finish. Errors go to errs. */
void config_load(struct config *c, const struct config_sources *src,
		 struct config_errors *errs);

/* Copies every setting of src into dst (before config_finish: derived
 * values are not copied). */
void config_copy(struct config *dst, const struct config *src);

/* Sets one setting by its INI section ("pitlane" or "pool") and key. `source`
 * names the setting in error messages exactly as the user wrote it, e.g.
 * "DB_POOL_MAX", "--port", or "pitlane.ini:7: pool_max". Invalid values are
 * appended to errs and leave the setting unchanged. Returns false for an
 * unknown section/key (also recorded in errs). */
bool config_set(struct config *c, const char *section, const char *key,
		const char *value, const char *source,
		struct config_errors *errs);

/* Reads an INI file with inih. A missing file or a syntax error is recorded
 * in errs (file name and line). */
void config_load_file(struct config *c, const char *path,
		      struct config_errors *errs);

/* Applies the PITLANE_* and DB_* variables found in envp (a NULL-terminated
 * list of "NAME=value" strings, e.g. environ). Unknown names are ignored; an
 * empty value counts as unset, except DB_PASSWORD. */
void config_load_env(struct config *c, char *const *envp,
		     struct config_errors *errs);

/* Cross-setting checks (pool_min <= pool_max, auth_type trust only on a
 * loopback listen_addr, TLS files for tls_mode and auth_type cert, ...) and
 * derived values (pool_name, tls_mode when unset). Call once, after all
 * sources. */
void config_finish(struct config *c, struct config_errors *errs);

/* Records one error (printf-style), dropping it when errs is full. */
void config_error(struct config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The entry a client asking for database `name` is served by: the entry
 * with that alias, else the "*" entry, else NULL. */
const struct db_entry *config_find_db(const struct config *c, const char *name);

/* The [users] line for name, or NULL. */
const struct user_entry *config_find_user(const struct config *c,
					  const char *name);

/* Prints the effective configuration as INI, the password redacted. */
void config_print(const struct config *c, FILE *out);

/* One setting as SHOW CONFIG lists it. */
struct config_setting_info {
	const char *section; /* "pitlane" or "pool" */
	const char *key;     /* as in the INI file */
	const char *env;     /* its environment variable */
	const char *value;   /* current value as text; "" when unset; a secret
				that is set is CONFIG_REDACTED. Points into the
				config or into num: valid while both are */
	const char *def;     /* built-in default as text; "" when none */
	bool changeable;     /* a reload or SET applies a new value */
	char num[24];	     /* holds value when it is a number */
};

/* How many settings there are; config_setting_info takes 0 to count-1, in
 * the order of config_print. */
unsigned config_setting_count(void);

/* Fills out for setting i of c. */
void config_setting_info(const struct config *c, unsigned i,
			 struct config_setting_info *out);

/* The index of a setting for config_setting_info, or -1 when there is no
 * such setting. A NULL section matches either (keys are unique). */
int config_setting_index(const char *section, const char *key);

/* Whether a running pitlane applies a new value of this setting on reload
 * or SET (false for an unknown one). A NULL section matches either. */
bool config_changeable(const char *section, const char *key);

/* Whether setting i has the same value in a and b. */
bool config_setting_equal(const struct config *a, const struct config *b,
			  unsigned i);

/* Gives setting i of dst the value it has in src. */
void config_setting_copy(struct config *dst, const struct config *src,
			 unsigned i);

/* Whether user is one of the names of a comma-separated list such as
 * admin_users (blanks around names ignored; NULL list: nobody). */
bool config_user_listed(const char *list, const char *user);

const char *config_pool_mode_name(enum pool_mode m);
const char *config_auth_type_name(enum auth_type t);
/* "auto" for TLS_AUTO (before config_finish). */
const char *config_tls_mode_name(enum tls_mode m);
const char *config_tls_version_name(enum tls_version v);

#endif
