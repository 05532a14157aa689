/* Database and user entries (dbconf.h): PgBouncer's `key=value ...` lines
 * of [databases] and [users], parsed against one table of keys each. The
 * tokenizer unquotes into a buffer as long as the line, so a value has no
 * length limit of its own beyond the ones checked per key. */
#include "dbconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Error messages quote at most this many bytes of a rejected value. */
#define SHOWN_MAX 64
/* Longest key we name in an error; longer ones are unknown anyway. */
#define KEY_MAX 64
/* Longest connect_query, as server_reset_query in config.c. */
#define QUERY_MAX 1024
/* Longest other string value (a host list, a name, a password). */
#define VALUE_MAX 4096

enum key_kind {
	KEY_STR,    /* char * field, not empty */
	KEY_SECRET, /* char * field, never echoed; empty: not given */
	KEY_HOSTS,  /* comma list without empty elements */
	KEY_PORTS,  /* comma list of 1..65535 */
	KEY_INT,    /* int field within min..max */
	KEY_CHOICE, /* one of choices, stored by index through store */
};

struct key {
	const char *name;
	enum key_kind kind;
	size_t off; /* of the field in the struct parsed into */
	int min, max;
	size_t max_len;			 /* KEY_STR: longest value */
	const char *const *choices;	 /* KEY_CHOICE, NULL-terminated */
	void (*store)(void *dst, int v); /* KEY_CHOICE */
};

static const char *const pool_modes[] = {"session", "transaction", "statement",
					 NULL};
static const char *const tsa_names[] = {
    "any",     "read-write",	 "primary", "read-only",
    "standby", "prefer-standby", NULL};
static const char *const lb_names[] = {"disable", "random", NULL};

_Static_assert(POOL_MODE_SESSION == 0 && POOL_MODE_TRANSACTION == 1 &&
		   POOL_MODE_STATEMENT == 2,
	       "pool_modes[] follows enum pool_mode");
_Static_assert(DBCONF_TSA_ANY == 0 && DBCONF_TSA_READ_WRITE == 1 &&
		   DBCONF_TSA_PRIMARY == 2 && DBCONF_TSA_READ_ONLY == 3 &&
		   DBCONF_TSA_STANDBY == 4 && DBCONF_TSA_PREFER_STANDBY == 5,
	       "tsa_names[] follows enum dbconf_tsa");

static void store_db_pool_mode(void *dst, int v)
{
	((struct db_entry *)dst)->pool_mode = v;
}

static void store_tsa(void *dst, int v)
{
	((struct db_entry *)dst)->target_session_attrs = (enum dbconf_tsa)v;
}

static void store_lb(void *dst, int v)
{
	((struct db_entry *)dst)->load_balance_random = v == 1;
}

static void store_user_pool_mode(void *dst, int v)
{
	((struct user_entry *)dst)->pool_mode = v;
}

#define DB_STR(k, len)                                                         \
	{                                                                      \
		.name = #k, .kind = KEY_STR,                                   \
		.off = offsetof(struct db_entry, k), .max_len = len            \
	}
#define DB_INT(k, lo, hi)                                                      \
	{                                                                      \
		.name = #k, .kind = KEY_INT,                                   \
		.off = offsetof(struct db_entry, k), .min = lo, .max = hi      \
	}

/* The [databases] keys, in the order pitlane.ini(5) lists them. */
static const struct key db_keys[] = {
    {.name = "host", .kind = KEY_HOSTS, .off = offsetof(struct db_entry, host)},
    {.name = "port", .kind = KEY_PORTS, .off = offsetof(struct db_entry, port)},
    DB_STR(dbname, VALUE_MAX),
    DB_STR(user, VALUE_MAX),
    {.name = "password",
     .kind = KEY_SECRET,
     .off = offsetof(struct db_entry, password)},
    DB_INT(pool_size, 1, 10000),
    DB_INT(min_pool_size, 0, 10000),
    DB_INT(reserve_pool, 0, 10000),
    {.name = "pool_mode",
     .kind = KEY_CHOICE,
     .choices = pool_modes,
     .store = store_db_pool_mode},
    DB_INT(max_db_connections, 0, 100000),
    DB_STR(connect_query, QUERY_MAX),
    {.name = "target_session_attrs",
     .kind = KEY_CHOICE,
     .choices = tsa_names,
     .store = store_tsa},
    {.name = "load_balance_hosts",
     .kind = KEY_CHOICE,
     .choices = lb_names,
     .store = store_lb},
    DB_STR(application_name, VALUE_MAX),
    DB_STR(client_encoding, VALUE_MAX),
    DB_STR(datestyle, VALUE_MAX),
    DB_STR(timezone, VALUE_MAX),
};

/* The [users] keys. */
static const struct key user_keys[] = {
    {.name = "pool_mode",
     .kind = KEY_CHOICE,
     .choices = pool_modes,
     .store = store_user_pool_mode},
    {.name = "max_user_connections",
     .kind = KEY_INT,
     .off = offsetof(struct user_entry, max_user_connections),
     .min = 0,
     .max = 100000},
};

#define N_DB_KEYS   (sizeof(db_keys) / sizeof(db_keys[0]))
#define N_USER_KEYS (sizeof(user_keys) / sizeof(user_keys[0]))

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Reads a quoted value after its opening quote into val: `''` and `\'`
 * are a quote, a backslash takes the next byte as it is. Returns the byte
 * after the closing quote, or NULL when there is none. */
static const char *read_quoted(const char *p, char *val)
{
	for (;;) {
		if (*p == '\0')
			return NULL;
		if (*p == '\\' && p[1] != '\0') {
			*val++ = p[1];
			p += 2;
		} else if (*p == '\'' && p[1] == '\'') {
			*val++ = '\'';
			p += 2;
		} else if (*p == '\'') {
			*val = '\0';
			return p + 1;
		} else {
			*val++ = *p++;
		}
	}
}

/* Reads an unquoted value into val: up to a blank, a backslash escaping
 * the next byte. */
static const char *read_plain(const char *p, char *val)
{
	while (*p != '\0' && *p != ' ' && *p != '\t') {
		if (*p == '\\' && p[1] != '\0')
			p++;
		*val++ = *p++;
	}
	*val = '\0';
	return p;
}

/* Reads the next `key = value` pair at *pp: key gets the key (cut to
 * KEY_MAX - 1 bytes), val the unquoted value (val has room for the whole
 * line). Returns 1 for a pair, 0 at the end of the line, -1 on a syntax
 * error with a message in err. */
static int next_pair(const char **pp, char key[KEY_MAX], char *val, char *err,
		     size_t errlen)
{
	const char *p = skip_blanks(*pp), *k = p;
	size_t klen;

	if (*p == '\0')
		return 0;
	while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\t')
		p++;
	klen = (size_t)(p - k);
	snprintf(key, KEY_MAX, "%.*s", (int)klen, k);
	if (klen == 0) {
		fail(err, errlen,
		     "expected key=value, found \"=\" without a key");
		return -1;
	}
	p = skip_blanks(p);
	if (*p != '=') {
		fail(err, errlen,
		     "%s: expected \"=\" and a value after the key", key);
		return -1;
	}
	p = skip_blanks(p + 1);
	p = *p == '\'' ? read_quoted(p + 1, val) : read_plain(p, val);
	if (p == NULL) {
		fail(err, errlen,
		     "%s: the quoted value has no closing quote (write a "
		     "quote inside it as '' or \\')",
		     key);
		return -1;
	}
	*pp = p;
	return 1;
}

static const struct key *find_key(const struct key *keys, size_t n,
				  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* "a, b, c" from a NULL-terminated list or a key table, into buf. */
static void join_choices(char *buf, size_t cap, const char *const *choices)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; choices[i] != NULL && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i ? ", " : "", choices[i]);
}

static void join_keys(char *buf, size_t cap, const struct key *keys, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 i ? ", " : "", keys[i].name);
}

static bool parse_int(const char *v, int min, int max, int *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*out = (int)n;
	return true;
}

/* Whether v is a comma list without empty elements or blanks. */
static bool valid_list(const char *v)
{
	if (v[0] == '\0' || v[0] == ',' || v[strlen(v) - 1] == ',' ||
	    strstr(v, ",,") != NULL)
		return false;
	return strpbrk(v, " \t") == NULL;
}

static bool valid_ports(const char *v)
{
	char buf[8];
	int port;

	if (!valid_list(v))
		return false;
	while (*v != '\0') {
		size_t n = strcspn(v, ",");

		if (n >= sizeof(buf))
			return false;
		memcpy(buf, v, n);
		buf[n] = '\0';
		if (!parse_int(buf, 1, 65535, &port))
			return false;
		v += n + (v[n] == ',');
	}
	return true;
}

static bool set_string(char **slot, const char *v)
{
	char *d = strdup(v);

	if (d == NULL)
		return false;
	free(*slot);
	*slot = d;
	return true;
}

/* Checks one value against its key and stores it into dst. */
static bool apply_key(void *dst, const struct key *k, const char *v, char *err,
		      size_t errlen)
{
	char **slot = (char **)(void *)((char *)dst + k->off);
	char allowed[128];
	int n;

	switch (k->kind) {
	case KEY_SECRET:
		if (v[0] == '\0')
			return true; /* empty: no password */
		if (strlen(v) > VALUE_MAX) {
			fail(err, errlen, "%s: longer than %d bytes", k->name,
			     VALUE_MAX);
			return false;
		}
		break;
	case KEY_STR:
		if (v[0] == '\0' || strlen(v) > k->max_len) {
			fail(err, errlen,
			     "%s: \"%.*s\" must be 1 to %zu bytes long",
			     k->name, SHOWN_MAX, v, k->max_len);
			return false;
		}
		break;
	case KEY_HOSTS:
		if (!valid_list(v) || strlen(v) > VALUE_MAX) {
			fail(err, errlen,
			     "%s: \"%.*s\" is not a comma-separated list of "
			     "host names, addresses or socket directories",
			     k->name, SHOWN_MAX, v);
			return false;
		}
		break;
	case KEY_PORTS:
		if (!valid_ports(v)) {
			fail(err, errlen,
			     "%s: \"%.*s\" is not a comma-separated list of "
			     "ports from 1 to 65535",
			     k->name, SHOWN_MAX, v);
			return false;
		}
		break;
	case KEY_INT:
		if (!parse_int(v, k->min, k->max, &n)) {
			fail(err, errlen,
			     "%s: \"%.*s\" is not an integer from %d to %d",
			     k->name, SHOWN_MAX, v, k->min, k->max);
			return false;
		}
		*(int *)(void *)((char *)dst + k->off) = n;
		return true;
	case KEY_CHOICE:
		for (n = 0; k->choices[n] != NULL; n++)
			if (strcmp(k->choices[n], v) == 0) {
				k->store(dst, n);
				return true;
			}
		join_choices(allowed, sizeof(allowed), k->choices);
		fail(err, errlen, "%s: \"%.*s\" is not one of %s", k->name,
		     SHOWN_MAX, v, allowed);
		return false;
	}
	if (!set_string(slot, v)) {
		fail(err, errlen, "%s: out of memory", k->name);
		return false;
	}
	return true;
}

/* Parses every pair of value against keys into dst, each key at most
 * once. */
static bool parse_pairs(void *dst, const struct key *keys, size_t nkeys,
			const char *value, char *err, size_t errlen)
{
	char key[KEY_MAX], allowed[512];
	bool seen[N_DB_KEYS > N_USER_KEYS ? N_DB_KEYS : N_USER_KEYS] = {0};
	char *val = malloc(strlen(value) + 1);
	const struct key *k;
	int rc;
	bool ok = true;

	if (val == NULL) {
		fail(err, errlen, "out of memory");
		return false;
	}
	while (ok && (rc = next_pair(&value, key, val, err, errlen)) != 0) {
		ok = rc > 0;
		if (!ok)
			break;
		k = find_key(keys, nkeys, key);
		if (k == NULL) {
			join_keys(allowed, sizeof(allowed), keys, nkeys);
			fail(err, errlen, "unknown key \"%s\": the keys are %s",
			     key, allowed);
			ok = false;
		} else if (seen[k - keys]) {
			fail(err, errlen, "%s: given twice", key);
			ok = false;
		} else {
			seen[k - keys] = true;
			ok = apply_key(dst, k, val, err, errlen);
		}
	}
	free(val);
	return ok;
}

/* Counts the elements of a comma list. */
static unsigned list_len(const char *v)
{
	unsigned n = 1;

	for (; *v != '\0'; v++)
		n += *v == ',';
	return n;
}

/* Checks between keys of one entry. */
static bool check_entry(const struct db_entry *e, char *err, size_t errlen)
{
	if (e->pool_size != DBCONF_UNSET && e->min_pool_size != DBCONF_UNSET &&
	    e->min_pool_size > e->pool_size) {
		fail(err, errlen,
		     "min_pool_size (%d) must not be greater than pool_size "
		     "(%d)",
		     e->min_pool_size, e->pool_size);
		return false;
	}
	if (e->host != NULL && e->port != NULL && list_len(e->port) != 1 &&
	    list_len(e->port) != list_len(e->host)) {
		fail(err, errlen,
		     "port: %u ports for %u hosts: give one port for all "
		     "hosts or one per host",
		     list_len(e->port), list_len(e->host));
		return false;
	}
	return true;
}

static bool set_name(char **slot, const char *name, char *err, size_t errlen)
{
	if (name == NULL || name[0] == '\0') {
		fail(err, errlen, "the name is empty");
		return false;
	}
	if (!set_string(slot, name)) {
		fail(err, errlen, "out of memory");
		return false;
	}
	return true;
}

bool dbconf_parse_entry(struct db_entry *e, const char *alias,
			const char *value, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->pool_size = DBCONF_UNSET;
	e->min_pool_size = DBCONF_UNSET;
	e->reserve_pool = DBCONF_UNSET;
	e->pool_mode = DBCONF_UNSET;
	e->target_session_attrs = DBCONF_TSA_ANY;
	if (!set_name(&e->alias, alias, err, errlen) ||
	    !parse_pairs(e, db_keys, N_DB_KEYS, value, err, errlen) ||
	    !check_entry(e, err, errlen)) {
		dbconf_entry_free(e);
		return false;
	}
	return true;
}

bool dbconf_parse_user(struct user_entry *u, const char *name,
		       const char *value, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->pool_mode = DBCONF_UNSET;
	u->max_user_connections = DBCONF_UNSET;
	if (!set_name(&u->name, name, err, errlen) ||
	    !parse_pairs(u, user_keys, N_USER_KEYS, value, err, errlen)) {
		dbconf_user_free(u);
		return false;
	}
	return true;
}

void dbconf_resolve(struct db_entry *e, int pool_max, int pool_min)
{
	if (e->pool_size == DBCONF_UNSET)
		e->pool_size = pool_max;
	if (e->min_pool_size == DBCONF_UNSET)
		e->min_pool_size =
		    pool_min < e->pool_size ? pool_min : e->pool_size;
}

/* The string fields of struct db_entry, for free and copy. */
static const size_t entry_strings[] = {
    offsetof(struct db_entry, alias),
    offsetof(struct db_entry, host),
    offsetof(struct db_entry, port),
    offsetof(struct db_entry, dbname),
    offsetof(struct db_entry, user),
    offsetof(struct db_entry, password),
    offsetof(struct db_entry, connect_query),
    offsetof(struct db_entry, application_name),
    offsetof(struct db_entry, client_encoding),
    offsetof(struct db_entry, datestyle),
    offsetof(struct db_entry, timezone),
};

#define N_ENTRY_STRINGS (sizeof(entry_strings) / sizeof(entry_strings[0]))

static char **string_slot(struct db_entry *e, size_t i)
{
	return (char **)(void *)((char *)e + entry_strings[i]);
}

void dbconf_entry_free(struct db_entry *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < N_ENTRY_STRINGS; i++) {
		free(*string_slot(e, i));
		*string_slot(e, i) = NULL;
	}
}

void dbconf_user_free(struct user_entry *u)
{
	if (u == NULL)
		return;
	free(u->name);
	u->name = NULL;
}

bool dbconf_entry_copy(struct db_entry *dst, const struct db_entry *src)
{
	*dst = *src;
	for (size_t i = 0; i < N_ENTRY_STRINGS; i++) {
		char **slot = string_slot(dst, i);

		if (*slot != NULL && (*slot = strdup(*slot)) == NULL) {
			while (++i < N_ENTRY_STRINGS)
				*string_slot(dst, i) = NULL;
			dbconf_entry_free(dst);
			return false;
		}
	}
	return true;
}

bool dbconf_user_copy(struct user_entry *dst, const struct user_entry *src)
{
	*dst = *src;
	if (src->name != NULL && (dst->name = strdup(src->name)) == NULL)
		return false;
	return true;
}

const char *dbconf_tsa_name(enum dbconf_tsa tsa)
{
	if ((unsigned)tsa >= sizeof(tsa_names) / sizeof(tsa_names[0]) - 1)
		return "any";
	return tsa_names[tsa];
}

const char *dbconf_pool_mode_name(int mode)
{
	if (mode < 0 || mode > POOL_MODE_STATEMENT)
		return NULL;
	return pool_modes[mode];
}

/* Cuts an inline comment off an entry line: a ';' after a blank, as inih
 * does, but not inside a single-quoted value (where a backslash or a
 * doubled quote escapes a quote), nor escaped by a backslash. */
void dbconf_cut_comment(char *line)
{
	bool quoted = false, blank = false; /* after an unescaped blank */

	for (char *p = line; *p != '\0'; p++) {
		if (!quoted && blank && *p == ';') {
			*p = '\0';
			return;
		}
		blank = !quoted && (*p == ' ' || *p == '\t');
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (quoted && *p == '\'' && p[1] == '\'')
			p++;
		else if (*p == '\'')
			quoted = !quoted;
	}
}

/* A value as an entry line writes it: quoted when it must be. */
static void print_value(FILE *out, const char *v)
{
	if (v[0] != '\0' && strpbrk(v, " \t'\\;#") == NULL) {
		fputs(v, out);
		return;
	}
	fputc('\'', out);
	for (; *v != '\0'; v++) {
		if (*v == '\'' || *v == '\\')
			fputc('\\', out);
		fputc(*v, out);
	}
	fputc('\'', out);
}

static void print_str(FILE *out, const char *key, const char *v)
{
	if (v == NULL)
		return;
	fprintf(out, " %s=", key);
	print_value(out, v);
}

static void print_int(FILE *out, const char *key, int v, int unset)
{
	if (v != unset)
		fprintf(out, " %s=%d", key, v);
}

void dbconf_print_entry(FILE *out, const struct db_entry *e,
			const char *redacted)
{
	fprintf(out, "%s =", e->alias);
	print_str(out, "host", e->host);
	print_str(out, "port", e->port);
	print_str(out, "dbname", e->dbname);
	print_str(out, "user", e->user);
	if (e->password != NULL)
		fprintf(out, " password=%s", redacted);
	print_int(out, "pool_size", e->pool_size, DBCONF_UNSET);
	print_int(out, "min_pool_size", e->min_pool_size, DBCONF_UNSET);
	print_int(out, "reserve_pool", e->reserve_pool, DBCONF_UNSET);
	if (e->pool_mode != DBCONF_UNSET)
		fprintf(out, " pool_mode=%s",
			dbconf_pool_mode_name(e->pool_mode));
	print_int(out, "max_db_connections", e->max_db_connections, 0);
	print_str(out, "connect_query", e->connect_query);
	if (e->target_session_attrs != DBCONF_TSA_ANY)
		fprintf(out, " target_session_attrs=%s",
			dbconf_tsa_name(e->target_session_attrs));
	if (e->load_balance_random)
		fputs(" load_balance_hosts=random", out);
	print_str(out, "application_name", e->application_name);
	print_str(out, "client_encoding", e->client_encoding);
	print_str(out, "datestyle", e->datestyle);
	print_str(out, "timezone", e->timezone);
	fputc('\n', out);
}

void dbconf_print_user(FILE *out, const struct user_entry *u)
{
	fprintf(out, "%s =", u->name);
	if (u->pool_mode != DBCONF_UNSET)
		fprintf(out, " pool_mode=%s",
			dbconf_pool_mode_name(u->pool_mode));
	print_int(out, "max_user_connections", u->max_user_connections,
		  DBCONF_UNSET);
	fputc('\n', out);
}
