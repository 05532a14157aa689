/* Configuration: one table describes every setting (section, key,
 * environment variable, default, type and limits). Parsing, validation,
 * printing and the environment all work from it, so adding a setting is one
 * line here plus its field in config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Error messages quote at most this many bytes of a rejected value. */
#define SHOWN_MAX 64
/* Longest server_reset_query or server_check_query, in bytes. */
#define QUERY_MAX 1024
/* Linux sun_path: the unix socket "DIR/.s.PGSQL.PORT" must fit in it. */
#define SUN_PATH_LEN 108

enum setting_kind {
	KIND_STR,  /* char * field */
	KIND_INT,  /* int field within min..max */
	KIND_ENUM, /* C enum field; its value is the index in choices */
	KIND_SECS, /* int field in ms, written in seconds within min..max ms */
	KIND_BOOL, /* bool field, written as one of bool_words */
	KIND_SIZE, /* long field in bytes, optionally written with a unit */
};

enum setting_flag {
	FLAG_NONEMPTY = 1 << 0,	 /* the empty string is invalid */
	FLAG_OPTIONAL = 1 << 1,	 /* the empty string unsets (NULL; for an
				    enum, the value after its choices) */
	FLAG_SECRET = 1 << 2,	 /* never echoed; printed redacted */
	FLAG_HOSTLIST = 1 << 3,	 /* a comma list without empty elements */
	FLAG_ENV_EMPTY = 1 << 4, /* an empty environment value is applied */
	FLAG_USERLIST = 1 << 5,	 /* user names, comma-separated, none empty */
};

struct setting {
	const char *section;
	bool changeable; /* LIVE: a reload or SET applies it; FIXED: kept */
	const char *key;
	const char *env;
	const char *def; /* default as text; NULL: unset */
	enum setting_kind kind;
	unsigned flags;
	size_t off;		    /* of the field in struct config */
	int min, max;		    /* KIND_INT, KIND_SIZE; KIND_SECS in ms */
	size_t max_len;		    /* KIND_STR: longest value; 0: any */
	const char *const *choices; /* NULL-terminated; KIND_ENUM, KIND_BOOL or
				       KIND_STR */
	void (*store)(struct config *c, int v); /* KIND_ENUM */
	int (*load)(const struct config *c);	/* KIND_ENUM */
};

static const char *const pool_modes[] = {"session", "transaction", "statement",
					 NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error",
					 NULL};
static const char *const sslmodes[] = {
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};
/* libpq's target_session_attrs, in dbconf_tsa order. */
static const char *const target_session_attrs_words[] = {
    "any",     "read-write",	 "primary", "read-only",
    "standby", "prefer-standby", NULL};

_Static_assert(DBCONF_TSA_ANY == 0 && DBCONF_TSA_READ_WRITE == 1 &&
		   DBCONF_TSA_PRIMARY == 2 && DBCONF_TSA_READ_ONLY == 3 &&
		   DBCONF_TSA_STANDBY == 4 && DBCONF_TSA_PREFER_STANDBY == 5,
	       "target_session_attrs_words follows enum dbconf_tsa");

/* [pool] target_session_attrs (checked against the words) as the enum
 * the default entry holds. */
static enum dbconf_tsa config_tsa(const char *word)
{
	for (int i = 0; word != NULL && target_session_attrs_words[i]; i++)
		if (strcmp(word, target_session_attrs_words[i]) == 0)
			return (enum dbconf_tsa)i;
	return DBCONF_TSA_ANY;
}
static const char *const auth_types[] = {"scram-sha-256", "md5", "cert",
					 "trust", NULL};
/* tls_mode: the empty string is TLS_AUTO, the index after these. */
static const char *const tls_modes[] = {
    "disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};
static const char *const tls_versions[] = {"TLSv1.2", "TLSv1.3", NULL};
/* KIND_BOOL: an even index is true. */
static const char *const bool_words[] = {"yes", "no", "true", "false", "on",
					 "off", "1",  "0",    NULL};

_Static_assert(POOL_MODE_SESSION == 0 && POOL_MODE_TRANSACTION == 1 &&
		   POOL_MODE_STATEMENT == 2,
	       "pool_modes[] follows enum pool_mode");
_Static_assert(LOG_FORMAT_JSON == 0 && LOG_FORMAT_TEXT == 1,
	       "log_formats[] follows enum log_format");
_Static_assert(LOG_LEVEL_DEBUG == 0 && LOG_LEVEL_ERROR == 3,
	       "log_levels[] follows enum log_level");
_Static_assert(AUTH_SCRAM == 0 && AUTH_MD5 == 1 && AUTH_CERT == 2 &&
		   AUTH_TRUST == 3,
	       "auth_types[] follows enum auth_type");
_Static_assert(TLS_DISABLE == 0 && TLS_ALLOW == 1 && TLS_PREFER == 2 &&
		   TLS_REQUIRE == 3 && TLS_VERIFY_CA == 4 &&
		   TLS_VERIFY_FULL == 5 && TLS_AUTO == 6,
	       "tls_modes[] follows enum tls_mode, TLS_AUTO after them");
_Static_assert(TLS_VERSION_1_2 == 0 && TLS_VERSION_1_3 == 1,
	       "tls_versions[] follows enum tls_version");

/* Enum fields have an implementation-defined type, so each one gets a typed
 * accessor pair instead of a store through an int pointer. */
#define ENUM_ACCESSORS(field, type)                                            \
	static void store_##field(struct config *c, int v)                     \
	{                                                                      \
		c->field = (type)v;                                            \
	}                                                                      \
	static int load_##field(const struct config *c)                        \
	{                                                                      \
		return (int)c->field;                                          \
	}
ENUM_ACCESSORS(pool_mode, enum pool_mode)
ENUM_ACCESSORS(log_format, enum log_format)
ENUM_ACCESSORS(log_level, enum log_level)
ENUM_ACCESSORS(auth_type, enum auth_type)
ENUM_ACCESSORS(tls_mode, enum tls_mode)
ENUM_ACCESSORS(tls_min_version, enum tls_version)

/* Whether a running pitlane can take a new value (reload, SET): FIXED ones
 * shape sockets or every session (listeners, pool mode, limits sized at
 * start) and keep their value until a restart. */
#define LIVE  true
#define FIXED false

#define STR(sec, chg, k, e, d, f, ch)                                          \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_STR, .flags = f,                        \
		.off = offsetof(struct config, k), .choices = ch               \
	}
#define INT(sec, chg, k, e, d, lo, hi)                                         \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_INT, .off = offsetof(struct config, k), \
		.min = lo, .max = hi                                           \
	}
/* An integer whose empty value means off (-1, printed as off). */
#define INT_OPT(sec, chg, k, e, lo, hi)                                        \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = "", .kind = KIND_INT, .flags = FLAG_OPTIONAL,           \
		.off = offsetof(struct config, k), .min = lo, .max = hi        \
	}
/* A duration: the key names it in seconds, the field (k_ms) holds ms, and
 * so do the limits. */
#define SECS(sec, chg, k, e, d, lo, hi)                                        \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_SECS,                                   \
		.off = offsetof(struct config, k##_ms), .min = lo, .max = hi   \
	}
/* An SQL statement pitlane sends to servers; empty: none (NULL). */
#define QUERY(sec, chg, k, e, d)                                               \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_STR, .flags = FLAG_OPTIONAL,            \
		.off = offsetof(struct config, k), .max_len = QUERY_MAX        \
	}
#define ENUM(sec, chg, k, e, d, ch)                                            \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_ENUM,                                   \
		.off = offsetof(struct config, k), .choices = ch,              \
		.store = store_##k, .load = load_##k                           \
	}
/* An enum whose empty value means "decide in config_finish". */
#define AUTO_ENUM(sec, chg, k, e, ch)                                          \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = "", .kind = KIND_ENUM, .flags = FLAG_OPTIONAL,          \
		.off = offsetof(struct config, k), .choices = ch,              \
		.store = store_##k, .load = load_##k                           \
	}
#define BOOL(sec, chg, k, e, d)                                                \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_BOOL,                                   \
		.off = offsetof(struct config, k), .choices = bool_words       \
	}
/* A size in bytes: a plain integer, or one with a kB, MB or GB unit. */
#define SIZE(sec, chg, k, e, d, lo, hi)                                        \
	{                                                                      \
		.section = sec, .changeable = chg, .key = #k, .env = e,        \
		.def = d, .kind = KIND_SIZE,                                   \
		.off = offsetof(struct config, k), .min = lo, .max = hi        \
	}
/* A comma-separated list of user names; empty: nobody (NULL). */
#define USERS(sec, chg, k, e)                                                  \
	STR(sec, chg, k, e, NULL, FLAG_OPTIONAL | FLAG_USERLIST, NULL)
/* A file name; empty: none (NULL). */
#define PATH(sec, chg, k, e) STR(sec, chg, k, e, NULL, FLAG_OPTIONAL, NULL)

#define KB 1024
#define MB (1024 * KB)
#define GB (1024 * MB)

/* In the order config_print and config_load_env use. Keep etc/pitlane.ini
 * and man/pitlane.ini.5 in step with this table. */
static const struct setting settings[] = {
    STR("pitlane", FIXED, listen_addr, "PITLANE_LISTEN_ADDR", "127.0.0.1",
	FLAG_NONEMPTY, NULL),
    INT("pitlane", FIXED, listen_port, "PITLANE_LISTEN_PORT", "6432", 0, 65535),
    STR("pitlane", FIXED, unix_socket_dir, "PITLANE_UNIX_SOCKET_DIR", NULL,
	FLAG_OPTIONAL, NULL),
    STR("pitlane", FIXED, takeover_socket, "PITLANE_TAKEOVER_SOCKET", NULL,
	FLAG_OPTIONAL, NULL),
    BOOL("pitlane", FIXED, so_reuseport, "PITLANE_SO_REUSEPORT", "no"),
    INT("pitlane", FIXED, peer_id, "PITLANE_PEER_ID", "0", 0, 16383),
    /* The [peers] section's lines, "ID = host=... port=..." joined by ';'
       (peer.h); in the environment or a flag, that list itself. */
    STR("pitlane", FIXED, peers, "PITLANE_PEERS", NULL, FLAG_OPTIONAL, NULL),
    ENUM("pitlane", FIXED, pool_mode, "PITLANE_POOL_MODE", "transaction",
	 pool_modes),
    ENUM("pitlane", LIVE, log_format, "PITLANE_LOG_FORMAT", "json",
	 log_formats),
    ENUM("pitlane", LIVE, log_level, "PITLANE_LOG_LEVEL", "info", log_levels),
    INT("pitlane", LIVE, shutdown_timeout_ms, "PITLANE_SHUTDOWN_TIMEOUT_MS",
	"30000", 0, 86400000),
    INT("pitlane", FIXED, max_client_conn, "PITLANE_MAX_CLIENT_CONN", "1000", 1,
	100000),
    INT("pitlane", FIXED, max_prepared_statements,
	"PITLANE_MAX_PREPARED_STATEMENTS", "200", 0, 100000),
    SECS("pitlane", LIVE, idle_transaction_timeout,
	 "PITLANE_IDLE_TRANSACTION_TIMEOUT", "0", 0, 86400000),
    SECS("pitlane", LIVE, query_timeout, "PITLANE_QUERY_TIMEOUT", "0", 0,
	 86400000),
    SECS("pitlane", LIVE, client_idle_timeout, "PITLANE_CLIENT_IDLE_TIMEOUT",
	 "0", 0, 86400000),
    SECS("pitlane", LIVE, server_lifetime, "PITLANE_SERVER_LIFETIME", "3600", 0,
	 604800000),
    SECS("pitlane", LIVE, server_check_delay, "PITLANE_SERVER_CHECK_DELAY",
	 "30", 0, 86400000),
    QUERY("pitlane", LIVE, server_reset_query, "PITLANE_SERVER_RESET_QUERY",
	  "DISCARD ALL"),
    QUERY("pitlane", LIVE, server_check_query, "PITLANE_SERVER_CHECK_QUERY",
	  "SELECT 1"),
    ENUM("pitlane", LIVE, auth_type, "PITLANE_AUTH_TYPE", "scram-sha-256",
	 auth_types),
    PATH("pitlane", LIVE, auth_file, "PITLANE_AUTH_FILE"),
    PATH("pitlane", LIVE, hba_file, "PITLANE_HBA_FILE"),
    BOOL("pitlane", LIVE, auth_trust_anywhere, "PITLANE_AUTH_TRUST_ANYWHERE",
	 "no"),
    AUTO_ENUM("pitlane", LIVE, tls_mode, "PITLANE_TLS_MODE", tls_modes),
    PATH("pitlane", LIVE, tls_cert_file, "PITLANE_TLS_CERT_FILE"),
    PATH("pitlane", LIVE, tls_key_file, "PITLANE_TLS_KEY_FILE"),
    PATH("pitlane", LIVE, tls_ca_file, "PITLANE_TLS_CA_FILE"),
    STR("pitlane", LIVE, tls_ciphers, "PITLANE_TLS_CIPHERS",
	"HIGH:!aNULL:!MD5:!3DES:!RC4", FLAG_NONEMPTY, NULL),
    ENUM("pitlane", LIVE, tls_min_version, "PITLANE_TLS_MIN_VERSION", "TLSv1.2",
	 tls_versions),
    SECS("pitlane", LIVE, client_login_timeout, "PITLANE_CLIENT_LOGIN_TIMEOUT",
	 "15", 100, 3600000),
    SIZE("pitlane", LIVE, max_packet_size, "PITLANE_MAX_PACKET_SIZE", "1GB", MB,
	 GB),
    SECS("pitlane", LIVE, stats_period, "PITLANE_STATS_PERIOD", "60", 0,
	 86400000),
    USERS("pitlane", LIVE, admin_users, "PITLANE_ADMIN_USERS"),
    USERS("pitlane", LIVE, stats_users, "PITLANE_STATS_USERS"),
    SECS("pitlane", LIVE, autodb_idle_timeout, "PITLANE_AUTODB_IDLE_TIMEOUT",
	 "3600", 1000, 604800000),
    INT("pitlane", LIVE, max_db_connections, "PITLANE_MAX_DB_CONNECTIONS", "0",
	0, 100000),
    INT("pitlane", LIVE, max_user_connections, "PITLANE_MAX_USER_CONNECTIONS",
	"0", 0, 100000),
    INT("pitlane", LIVE, reserve_pool, "PITLANE_RESERVE_POOL", "0", 0, 10000),
    SECS("pitlane", LIVE, reserve_pool_timeout, "PITLANE_RESERVE_POOL_TIMEOUT",
	 "5", 0, 86400000),
    STR("pitlane", LIVE, auth_user, "PITLANE_AUTH_USER", NULL, FLAG_OPTIONAL,
	NULL),
    QUERY("pitlane", LIVE, auth_query, "PITLANE_AUTH_QUERY",
	  "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"),
    STR("pitlane", LIVE, auth_dbname, "PITLANE_AUTH_DBNAME", NULL,
	FLAG_OPTIONAL, NULL),
    STR("pitlane", FIXED, http_addr, "PITLANE_HTTP_ADDR", "127.0.0.1",
	FLAG_NONEMPTY, NULL),
    INT_OPT("pitlane", FIXED, http_port, "PITLANE_HTTP_PORT", 0, 65535),
    STR("pool", LIVE, host, "DB_HOST", "localhost",
	FLAG_NONEMPTY | FLAG_HOSTLIST, NULL),
    INT("pool", LIVE, port, "DB_PORT", "5432", 1, 65535),
    STR("pool", LIVE, dbname, "DB_NAME", "postgres", FLAG_NONEMPTY, NULL),
    STR("pool", LIVE, user, "DB_USER", "postgres", FLAG_NONEMPTY, NULL),
    STR("pool", LIVE, password, "DB_PASSWORD", NULL,
	FLAG_OPTIONAL | FLAG_SECRET | FLAG_ENV_EMPTY, NULL),
    INT("pool", LIVE, pool_max, "DB_POOL_MAX", "10", 1, 10000),
    INT("pool", LIVE, pool_min, "DB_POOL_MIN", "2", 0, 10000),
    INT("pool", LIVE, idle_timeout_ms, "DB_IDLE_TIMEOUT_MS", "30000", 100,
	86400000),
    INT("pool", LIVE, connect_timeout_ms, "DB_CONNECT_TIMEOUT_MS", "2000", 100,
	600000),
    STR("pool", LIVE, sslmode, "DB_SSLMODE", "prefer", FLAG_NONEMPTY, sslmodes),
    PATH("pool", LIVE, sslrootcert, "DB_SSLROOTCERT"),
    PATH("pool", LIVE, sslcert, "DB_SSLCERT"),
    PATH("pool", LIVE, sslkey, "DB_SSLKEY"),
    STR("pool", LIVE, target_session_attrs, "DB_TARGET_SESSION_ATTRS", "any",
	FLAG_NONEMPTY, target_session_attrs_words),
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **str_slot(struct config *c, const struct setting *s)
{
	return (char **)(void *)((char *)c + s->off);
}

static int *int_slot(struct config *c, const struct setting *s)
{
	return (int *)(void *)((char *)c + s->off);
}

static bool *bool_slot(struct config *c, const struct setting *s)
{
	return (bool *)(void *)((char *)c + s->off);
}

static long *long_slot(struct config *c, const struct setting *s)
{
	return (long *)(void *)((char *)c + s->off);
}

/* Configuration is read at startup and on reload, a few dozen short
 * strings: running out of memory there has no sensible recovery. */
static char *dup_or_die(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

static void replace_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value == NULL ? NULL : dup_or_die(value);
}

static const struct setting *find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];

		if ((section == NULL || strcmp(s->section, section) == 0) &&
		    strcmp(s->key, key) == 0)
			return s;
	}
	return NULL;
}

static int choice_index(const char *const *choices, const char *value)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], value) == 0)
			return i;
	return -1;
}

static int choice_count(const char *const *choices)
{
	int n = 0;

	while (choices[n] != NULL)
		n++;
	return n;
}

/* Records "SOURCE must be ALLOWED, got "VALUE"", the one shape of every
 * invalid-value error. A secret value is never shown. */
static void reject(struct config_errors *errs, const struct setting *s,
		   const char *source, const char *allowed, const char *value)
{
	if (s->flags & FLAG_SECRET) {
		config_error(errs, "%s must be %s", source, allowed);
		return;
	}
	config_error(errs, "%s must be %s, got \"%.*s%s\"", source, allowed,
		     SHOWN_MAX, value, strlen(value) > SHOWN_MAX ? "..." : "");
}

/* The whole string must be decimal digits (no setting is negative): strtol
 * alone would accept blanks and a sign and stop at the first non-digit. */
static bool parse_int(const char *text, int min, int max, int *out)
{
	char *end;
	long v;

	if (!(*text >= '0' && *text <= '9'))
		return false;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = (int)v;
	return true;
}

/* Seconds with at most 3 decimals, "30", "0.5" or "1.250", into ms: the
 * whole string must be digits with an optional "." and 1 to 3 digits (no
 * sign, blanks or exponent, as strtod would take). */
static bool parse_secs(const char *text, int min_ms, int max_ms, int *out_ms)
{
	long long ms = 0;
	const char *p = text;
	int scale = 1000;

	if (!(*p >= '0' && *p <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		ms = ms * 10 + (*p - '0') * 1000;
		if (ms > max_ms)
			return false;
	}
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return false; /* a fourth decimal */
			scale /= 10;
			ms += (*p - '0') * scale;
		}
	}
	if (*p != '\0' || ms < min_ms || ms > max_ms)
		return false;
	*out_ms = (int)ms;
	return true;
}

/* Milliseconds as config_print writes them: seconds, decimals only as
 * needed ("3600", "0.5", "1.25"). */
static void format_secs(char *buf, size_t cap, int ms)
{
	int frac = ms % 1000;
	int digits = 3;

	if (frac == 0) {
		snprintf(buf, cap, "%d", ms / 1000);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, cap, "%d.%0*d", ms / 1000, digits, frac);
}

/* Bytes, "1048576", or a whole number of kB, MB or GB (1024-based, with
 * PostgreSQL's spelling): digits and at most a unit, no sign or blanks. */
static bool parse_size(const char *text, int min, int max, long *out)
{
	static const struct {
		const char *unit;
		long long scale;
	} units[] = {{"", 1}, {"kB", KB}, {"MB", MB}, {"GB", GB}};
	long long v = 0;
	const char *p = text;

	if (!(*p >= '0' && *p <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > max)
			return false;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		v *= units[i].scale;
		if (v < min || v > max)
			return false;
		*out = (long)v;
		return true;
	}
	return false;
}

/* Bytes as config_print writes them: in the largest unit that divides them
 * ("1GB", "1536kB", "1000000"). */
static void format_size(char *buf, size_t cap, long bytes)
{
	if (bytes != 0 && bytes % GB == 0)
		snprintf(buf, cap, "%ldGB", bytes / GB);
	else if (bytes != 0 && bytes % MB == 0)
		snprintf(buf, cap, "%ldMB", bytes / MB);
	else if (bytes != 0 && bytes % KB == 0)
		snprintf(buf, cap, "%ldkB", bytes / KB);
	else
		snprintf(buf, cap, "%ld", bytes);
}

/* libpq splits host lists on commas without complaint: "a,,b" or "a," would
 * name an empty host and fail only at connect time. */
static bool valid_host_list(const char *v)
{
	if (*v == '\0' || *v == ',')
		return false;
	for (const char *p = v; *p != '\0'; p++)
		if (*p == ',' && (p[1] == ',' || p[1] == '\0'))
			return false;
	return true;
}

/* The next name of a comma-separated user list, blanks around it skipped:
 * its start and length; returns where the next name begins, NULL after the
 * last one. */
static const char *next_user(const char *p, const char **name, size_t *len)
{
	const char *end;

	p += strspn(p, " \t");
	end = p + strcspn(p, ",");
	*name = p;
	*len = (size_t)(end - p);
	while (*len > 0 && (p[*len - 1] == ' ' || p[*len - 1] == '\t'))
		(*len)--;
	return *end == ',' ? end + 1 : NULL;
}

/* admin_users, stats_users: "a, b" but not "a,,b" or "a,". */
static bool valid_user_list(const char *v)
{
	const char *name;
	size_t len;

	do {
		v = next_user(v, &name, &len);
		if (len == 0)
			return false;
	} while (v != NULL);
	return true;
}

static void reject_choice(struct config_errors *errs, const struct setting *s,
			  const char *source, const char *value)
{
	char allowed[128] = "one of ";

	for (int i = 0; s->choices[i] != NULL; i++) {
		if (i > 0)
			strncat(allowed, ", ",
				sizeof(allowed) - strlen(allowed) - 1);
		strncat(allowed, s->choices[i],
			sizeof(allowed) - strlen(allowed) - 1);
	}
	if (s->kind == KIND_ENUM && (s->flags & FLAG_OPTIONAL))
		strncat(allowed, ", or empty for automatic",
			sizeof(allowed) - strlen(allowed) - 1);
	reject(errs, s, source, allowed, value);
}

static void set_str(struct config *c, const struct setting *s,
		    const char *value, const char *source,
		    struct config_errors *errs)
{
	if (s->choices != NULL && choice_index(s->choices, value) < 0)
		reject_choice(errs, s, source, value);
	else if (value[0] == '\0' && (s->flags & FLAG_OPTIONAL))
		replace_str(str_slot(c, s), NULL);
	else if (value[0] == '\0' && (s->flags & FLAG_NONEMPTY))
		reject(errs, s, source, "a non-empty string", value);
	else if (s->max_len != 0 && strlen(value) > s->max_len) {
		char allowed[96];

		snprintf(allowed, sizeof(allowed),
			 "an SQL statement of at most %zu bytes, or empty for "
			 "none",
			 s->max_len);
		reject(errs, s, source, allowed, value);
	} else if ((s->flags & FLAG_USERLIST) && !valid_user_list(value))
		reject(errs, s, source,
		       "user names separated by commas, with no empty name, or "
		       "empty for none",
		       value);
	else if ((s->flags & FLAG_HOSTLIST) && !valid_host_list(value))
		reject(errs, s, source,
		       "a host name, IP address or socket directory, or a "
		       "comma-separated list of them with no empty element",
		       value);
	else
		replace_str(str_slot(c, s), value);
}

/* Validates value for s and stores it; an invalid value is recorded in errs
 * under the name `source` and leaves the setting unchanged. */
static void set_value(struct config *c, const struct setting *s,
		      const char *value, const char *source,
		      struct config_errors *errs)
{
	char allowed[128], lo[24], hi[24];
	long bytes;
	int v;

	switch (s->kind) {
	case KIND_STR:
		set_str(c, s, value, source, errs);
		break;
	case KIND_INT:
		if (value[0] == '\0' && (s->flags & FLAG_OPTIONAL)) {
			*int_slot(c, s) = -1;
			break;
		}
		if (parse_int(value, s->min, s->max, &v)) {
			*int_slot(c, s) = v;
			break;
		}
		snprintf(allowed, sizeof(allowed), "an integer from %d to %d%s",
			 s->min, s->max,
			 s->flags & FLAG_OPTIONAL ? ", or empty for off" : "");
		reject(errs, s, source, allowed, value);
		break;
	case KIND_ENUM:
		v = choice_index(s->choices, value);
		if (v < 0 && value[0] == '\0' && (s->flags & FLAG_OPTIONAL))
			v = choice_count(s->choices);
		if (v >= 0)
			s->store(c, v);
		else
			reject_choice(errs, s, source, value);
		break;
	case KIND_SECS:
		if (parse_secs(value, s->min, s->max, &v)) {
			*int_slot(c, s) = v;
			break;
		}
		format_secs(lo, sizeof(lo), s->min);
		format_secs(hi, sizeof(hi), s->max);
		snprintf(allowed, sizeof(allowed),
			 "a number of seconds from %s to %s with at most 3 "
			 "decimals",
			 lo, hi);
		reject(errs, s, source, allowed, value);
		break;
	case KIND_BOOL:
		v = choice_index(s->choices, value);
		if (v >= 0)
			*bool_slot(c, s) = v % 2 == 0;
		else
			reject_choice(errs, s, source, value);
		break;
	case KIND_SIZE:
		if (parse_size(value, s->min, s->max, &bytes)) {
			*long_slot(c, s) = bytes;
			break;
		}
		format_size(lo, sizeof(lo), s->min);
		format_size(hi, sizeof(hi), s->max);
		snprintf(allowed, sizeof(allowed),
			 "a size from %s to %s, in bytes or with a unit kB, MB "
			 "or GB",
			 lo, hi);
		reject(errs, s, source, allowed, value);
		break;
	}
}

void config_error(struct config_errors *errs, const char *fmt, ...)
{
	va_list ap;

	if (errs->n >= CONFIG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->n++], CONFIG_ERROR_LEN, fmt, ap);
	va_end(ap);
}

/* Frees the [databases] and [users] entries of c. */
static void free_entries(struct config *c)
{
	for (unsigned i = 0; i < c->ndbs; i++)
		dbconf_entry_free(&c->dbs[i]);
	for (unsigned i = 0; i < c->nusers; i++)
		dbconf_user_free(&c->users[i]);
	free(c->dbs);
	free(c->users);
	c->dbs = NULL;
	c->users = NULL;
	c->ndbs = 0;
	c->nusers = 0;
}

/* Deep copies of src's entries replace dst's. */
static void copy_entries(struct config *dst, const struct config *src)
{
	free_entries(dst);
	if (src->ndbs > 0) {
		dst->dbs = calloc(src->ndbs, sizeof(*dst->dbs));
		if (dst->dbs == NULL)
			abort();
	}
	for (; dst->ndbs < src->ndbs; dst->ndbs++)
		if (!dbconf_entry_copy(&dst->dbs[dst->ndbs],
				       &src->dbs[dst->ndbs]))
			abort();
	if (src->nusers > 0) {
		dst->users = calloc(src->nusers, sizeof(*dst->users));
		if (dst->users == NULL)
			abort();
	}
	for (; dst->nusers < src->nusers; dst->nusers++)
		if (!dbconf_user_copy(&dst->users[dst->nusers],
				      &src->users[dst->nusers]))
			abort();
}

void config_defaults(struct config *c)
{
	struct config_errors errs = {0};

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (settings[i].def != NULL)
			set_value(c, &settings[i], settings[i].def,
				  settings[i].key, &errs);
	assert(errs.n == 0 && "a built-in default fails its own check");
}

void config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (settings[i].kind == KIND_STR)
			replace_str(str_slot(c, &settings[i]), NULL);
	replace_str(&c->pool_name, NULL);
	free_entries(c);
}

struct config *config_new(void)
{
	struct config *c = malloc(sizeof(*c));

	if (c == NULL)
		abort();
	config_defaults(c);
	c->refs = 1;
	return c;
}

/* The count lives in the object the holders see as const: they share it
 * but only config_release ever changes or frees it. */
const struct config *config_hold(const struct config *c)
{
	struct config *m = (struct config *)c;

	assert(m->refs > 0 && "config_hold on a config not from config_new");
	m->refs++;
	return c;
}

void config_release(const struct config *c)
{
	struct config *m = (struct config *)c;

	if (m == NULL)
		return;
	assert(m->refs > 0);
	if (--m->refs > 0)
		return;
	config_free(m);
	free(m);
}

void config_load(struct config *c, const struct config_sources *src,
		 struct config_errors *errs)
{
	if (src->file != NULL)
		config_load_file(c, src->file, errs);
	config_load_env(c, src->envp, errs);
	for (unsigned i = 0; i < src->n_overrides; i++)
		config_set(c, "pitlane", src->overrides[i].key,
			   src->overrides[i].value, src->overrides[i].source,
			   errs);
}

bool config_setting_equal(const struct config *a, const struct config *b,
			  unsigned i)
{
	const struct setting *s = &settings[i];
	const char *fa = (const char *)a + s->off;
	const char *fb = (const char *)b + s->off;
	const char *sa, *sb;

	assert(i < N_SETTINGS);
	switch (s->kind) {
	case KIND_STR:
		sa = *(char *const *)(const void *)fa;
		sb = *(char *const *)(const void *)fb;
		return sa == sb ||
		       (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
	case KIND_ENUM:
		return s->load(a) == s->load(b);
	case KIND_INT:
	case KIND_SECS:
		return *(const int *)(const void *)fa ==
		       *(const int *)(const void *)fb;
	case KIND_BOOL:
		return *(const bool *)(const void *)fa ==
		       *(const bool *)(const void *)fb;
	case KIND_SIZE:
		return *(const long *)(const void *)fa ==
		       *(const long *)(const void *)fb;
	}
	return false;
}

void config_setting_copy(struct config *dst, const struct config *src,
			 unsigned i)
{
	const struct setting *s = &settings[i];
	const char *field = (const char *)src + s->off;

	assert(i < N_SETTINGS);
	switch (s->kind) {
	case KIND_STR:
		replace_str(str_slot(dst, s),
			    *(char *const *)(const void *)field);
		break;
	case KIND_ENUM:
		s->store(dst, s->load(src));
		break;
	case KIND_INT:
	case KIND_SECS:
		*int_slot(dst, s) = *(const int *)(const void *)field;
		break;
	case KIND_BOOL:
		*bool_slot(dst, s) = *(const bool *)(const void *)field;
		break;
	case KIND_SIZE:
		*long_slot(dst, s) = *(const long *)(const void *)field;
		break;
	}
}

void config_copy(struct config *dst, const struct config *src)
{
	for (unsigned i = 0; i < N_SETTINGS; i++)
		config_setting_copy(dst, src, i);
	copy_entries(dst, src);
}

/* The entry with exactly this alias, "*" only for "*". */
static const struct db_entry *config_find_db_exact(const struct config *c,
						   const char *alias)
{
	for (unsigned i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].alias, alias) == 0)
			return &c->dbs[i];
	return NULL;
}

const struct db_entry *config_find_db(const struct config *c, const char *name)
{
	const struct db_entry *e = config_find_db_exact(c, name);

	return e != NULL ? e : config_find_db_exact(c, "*");
}

const struct user_entry *config_find_user(const struct config *c,
					  const char *name)
{
	for (unsigned i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

bool config_set(struct config *c, const char *section, const char *key,
		const char *value, const char *source,
		struct config_errors *errs)
{
	const struct setting *s = find_setting(section, key);

	if (s == NULL) {
		config_error(errs, "%s: unknown setting \"%s\" in section [%s]",
			     source, key, section);
		return false;
	}
	set_value(c, s, value, source, errs);
	return true;
}

/* Like getenv, over an explicit environment: the first NAME=value wins. */
static const char *env_value(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

void config_load_env(struct config *c, char *const *envp,
		     struct config_errors *errs)
{
	if (envp == NULL)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *v = env_value(envp, s->env);

		/* An empty variable is unset, except where empty means
		 * "none" (DB_PASSWORD=). */
		if (v == NULL || (v[0] == '\0' && !(s->flags & FLAG_ENV_EMPTY)))
			continue;
		set_value(c, s, v, s->env, errs);
	}
}

static bool is_loopback(const char *addr)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (strcmp(addr, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6);
	return false;
}

static bool verifies_clients(enum tls_mode m)
{
	return m == TLS_VERIFY_CA || m == TLS_VERIFY_FULL;
}

/* tls_mode, unset, becomes prefer with a certificate and key, else disable;
 * every mode but disable needs both, verify-* a CA as well, and auth_type
 * cert a verify-* mode. */
static void finish_tls(struct config *c, struct config_errors *errs)
{
	bool cert = c->tls_cert_file != NULL, key = c->tls_key_file != NULL;

	if (c->tls_mode == TLS_AUTO || c->tls_mode == TLS_DISABLE) {
		if (cert != key)
			config_error(errs,
				     "%s is set but %s is not: set both or "
				     "neither",
				     cert ? "tls_cert_file" : "tls_key_file",
				     cert ? "tls_key_file" : "tls_cert_file");
		if (c->tls_mode == TLS_AUTO)
			c->tls_mode = cert && key ? TLS_PREFER : TLS_DISABLE;
	} else if (!cert || !key) {
		config_error(errs,
			     "tls_mode %s needs tls_cert_file and "
			     "tls_key_file: %s",
			     tls_modes[c->tls_mode],
			     !cert && !key ? "neither is set"
			     : !cert	   ? "tls_cert_file is not set"
					   : "tls_key_file is not set");
	}
	if (verifies_clients(c->tls_mode) && c->tls_ca_file == NULL)
		config_error(errs,
			     "tls_mode %s needs tls_ca_file to verify client "
			     "certificates",
			     tls_modes[c->tls_mode]);
	if (c->auth_type == AUTH_CERT && !verifies_clients(c->tls_mode))
		config_error(
		    errs,
		    "auth_type cert needs client certificates: "
		    "tls_mode must be verify-ca or verify-full, not %s",
		    tls_modes[c->tls_mode]);
}

/* dbs[0], the default entry, made (again) from [pool] / DB_*: a config
 * finished twice (SET finishes a copy of a finished one) keeps one. */
static void finish_default_db(struct config *c)
{
	struct db_entry *d;

	if (c->ndbs == 0 || !c->dbs[0].is_default) {
		d = realloc(c->dbs, (c->ndbs + 1) * sizeof(*c->dbs));
		if (d == NULL)
			abort();
		memmove(d + 1, d, c->ndbs * sizeof(*d));
		memset(d, 0, sizeof(*d));
		c->dbs = d;
		c->ndbs++;
	}
	d = &c->dbs[0];
	dbconf_entry_free(d);
	*d = (struct db_entry){
	    .alias = dup_or_die(c->pool_name),
	    .host = dup_or_die(c->host),
	    .port = dup_or_die(c->port_str),
	    .dbname = dup_or_die(c->dbname),
	    .user = dup_or_die(c->user),
	    .password = c->password == NULL ? NULL : dup_or_die(c->password),
	    .pool_size = c->pool_max,
	    .min_pool_size = c->pool_min,
	    .reserve_pool = DBCONF_UNSET,
	    .pool_mode = DBCONF_UNSET,
	    .target_session_attrs = config_tsa(c->target_session_attrs),
	    .is_default = true,
	};
}

/* The [databases] entries get their [pool] fallbacks; none may take the
 * default entry's name, and min_pool_size must fit the pool it falls back
 * to. */
static void finish_dbs(struct config *c, struct config_errors *errs)
{
	for (unsigned i = 1; i < c->ndbs; i++) {
		struct db_entry *e = &c->dbs[i];
		bool min_given = e->min_pool_size != DBCONF_UNSET;

		dbconf_resolve(e, c->pool_max, c->pool_min);
		if (strcmp(e->alias, c->pool_name) == 0)
			config_error(errs,
				     "databases.%.*s: the alias is the name "
				     "of the default database (pool_name "
				     "\"%.*s\", from [pool] dbname / "
				     "DB_NAME): rename the [databases] entry "
				     "or change DB_NAME",
				     SHOWN_MAX, e->alias, SHOWN_MAX,
				     c->pool_name);
		if (min_given && e->min_pool_size > e->pool_size)
			config_error(errs,
				     "databases.%.*s: min_pool_size (%d) must "
				     "not be greater than pool_size (%d, from "
				     "pool_max)",
				     SHOWN_MAX, e->alias, e->min_pool_size,
				     e->pool_size);
	}
}

/* auth_user looks users up with auth_query, which takes the name as $1. */
static void finish_auth_query(struct config *c, struct config_errors *errs)
{
	if (c->auth_user == NULL)
		return;
	if (c->auth_query == NULL)
		config_error(errs, "auth_user is set but auth_query is empty: "
				   "set auth_query or unset auth_user");
	else if (strstr(c->auth_query, "$1") == NULL)
		config_error(errs,
			     "auth_query \"%.*s\" has no $1: the user name "
			     "is passed as parameter $1",
			     SHOWN_MAX, c->auth_query);
}

void config_finish(struct config *c, struct config_errors *errs)
{
	if (c->pool_min > c->pool_max)
		config_error(errs,
			     "DB_POOL_MIN (%d) must not be greater than "
			     "DB_POOL_MAX (%d)",
			     c->pool_min, c->pool_max);
	if (c->auth_type == AUTH_TRUST && !c->auth_trust_anywhere &&
	    !is_loopback(c->listen_addr))
		config_error(errs,
			     "auth_type trust accepts anyone: listen_addr "
			     "\"%.*s\" is not a loopback address (set "
			     "auth_trust_anywhere = yes to allow it)",
			     SHOWN_MAX, c->listen_addr);
	finish_tls(c, errs);
	if (c->unix_socket_dir != NULL &&
	    strlen(c->unix_socket_dir) + sizeof("/.s.PGSQL.65535") >
		SUN_PATH_LEN)
		config_error(errs,
			     "unix_socket_dir \"%.*s...\" is too long: the "
			     "socket path must fit in %d bytes",
			     SHOWN_MAX, c->unix_socket_dir, SUN_PATH_LEN);
	if (c->takeover_socket != NULL &&
	    strlen(c->takeover_socket) + 1 > SUN_PATH_LEN)
		config_error(errs,
			     "takeover_socket \"%.*s...\" is too long: the "
			     "socket path must fit in %d bytes",
			     SHOWN_MAX, c->takeover_socket, SUN_PATH_LEN);
	snprintf(c->port_str, sizeof(c->port_str), "%d", c->port);
	replace_str(&c->pool_name, c->dbname);
	finish_default_db(c);
	finish_dbs(c, errs);
	finish_auth_query(c, errs);
}

bool config_user_listed(const char *list, const char *user)
{
	const char *name;
	size_t len;

	if (list == NULL || user == NULL)
		return false;
	do {
		list = next_user(list, &name, &len);
		if (len == strlen(user) && strncmp(name, user, len) == 0)
			return true;
	} while (list != NULL);
	return false;
}

const char *config_pool_mode_name(enum pool_mode m)
{
	assert((unsigned)m < sizeof(pool_modes) / sizeof(pool_modes[0]) - 1);
	return pool_modes[m];
}

const char *config_auth_type_name(enum auth_type t)
{
	assert((unsigned)t < sizeof(auth_types) / sizeof(auth_types[0]) - 1);
	return auth_types[t];
}

const char *config_tls_mode_name(enum tls_mode m)
{
	if (m == TLS_AUTO)
		return "auto";
	assert((unsigned)m < sizeof(tls_modes) / sizeof(tls_modes[0]) - 1);
	return tls_modes[m];
}

const char *config_tls_version_name(enum tls_version v)
{
	assert((unsigned)v <
	       sizeof(tls_versions) / sizeof(tls_versions[0]) - 1);
	return tls_versions[v];
}

/* The value of s as text, or NULL when unset; num holds integers. */
static const char *value_text(const struct config *c, const struct setting *s,
			      char *num, size_t cap)
{
	const char *field = (const char *)c + s->off;

	switch (s->kind) {
	case KIND_STR:
		return *(char *const *)(const void *)field;
	case KIND_INT:
		if ((s->flags & FLAG_OPTIONAL) &&
		    *(const int *)(const void *)field < 0)
			return NULL;
		snprintf(num, cap, "%d", *(const int *)(const void *)field);
		return num;
	case KIND_ENUM:
		/* An optional enum's value after its choices: unset. */
		if (s->load(c) == choice_count(s->choices))
			return NULL;
		return s->choices[s->load(c)];
	case KIND_SECS:
		format_secs(num, cap, *(const int *)(const void *)field);
		return num;
	case KIND_BOOL:
		return *(const bool *)(const void *)field ? "yes" : "no";
	case KIND_SIZE:
		format_size(num, cap, *(const long *)(const void *)field);
		return num;
	}
	return NULL;
}

unsigned config_setting_count(void)
{
	return (unsigned)N_SETTINGS;
}

int config_setting_index(const char *section, const char *key)
{
	const struct setting *s = find_setting(section, key);

	return s == NULL ? -1 : (int)(s - settings);
}

bool config_changeable(const char *section, const char *key)
{
	const struct setting *s = find_setting(section, key);

	return s != NULL && s->changeable;
}

void config_setting_info(const struct config *c, unsigned i,
			 struct config_setting_info *out)
{
	const struct setting *s;
	const char *v;

	assert(i < N_SETTINGS);
	s = &settings[i];
	v = value_text(c, s, out->num, sizeof(out->num));
	out->section = s->section;
	out->key = s->key;
	out->env = s->env;
	out->def = s->def == NULL ? "" : s->def;
	out->changeable = s->changeable;
	if (v != NULL && (s->flags & FLAG_SECRET))
		v = CONFIG_REDACTED;
	out->value = v == NULL ? "" : v;
}

/* [databases] (the default entry is [pool]) and [users], when given. */
static void print_entries(const struct config *c, FILE *out)
{
	bool header = false;

	for (unsigned i = 0; i < c->ndbs; i++) {
		if (c->dbs[i].is_default)
			continue;
		if (!header)
			fputs("\n[databases]\n", out);
		header = true;
		dbconf_print_entry(out, &c->dbs[i], CONFIG_REDACTED);
	}
	if (c->nusers > 0)
		fputs("\n[users]\n", out);
	for (unsigned i = 0; i < c->nusers; i++)
		dbconf_print_user(out, &c->users[i]);
}

void config_print(const struct config *c, FILE *out)
{
	const char *section = NULL;
	char num[24];

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *v = value_text(c, s, num, sizeof(num));

		if (section == NULL || strcmp(section, s->section) != 0) {
			fprintf(out, "%s[%s]\n", section == NULL ? "" : "\n",
				s->section);
			section = s->section;
		}
		if (v == NULL && s->def == NULL)
			fprintf(out, "; %s not set\n", s->key);
		else if (v == NULL) /* turned off: the empty value says so */
			fprintf(out, "%s =\n", s->key);
		else if (s->flags & FLAG_SECRET)
			fprintf(out, "%s = %s\n", s->key, CONFIG_REDACTED);
		else
			fprintf(out, "%s = %s\n", s->key, v);
	}
	print_entries(c, out);
}
