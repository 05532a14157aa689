/* The INI file reader of config_load_file: inih for [pitlane], [pool] and
 * [peers], and a line reader of pitlane's own for [databases] and [users],
 * whose lines are connection strings longer than inih's line buffer, with
 * quoted values where inih would take " ;" for a comment. Pure module: no
 * sockets, no libevent; every problem is recorded with the file and line. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbconf.h"

/* Longest line of the file, in bytes (a [databases] line; inih's own limit
 * of 200 applies to the other sections). */
#define CONFIG_LINE_MAX 65536
/* Error messages quote at most this many bytes of a name. */
#define SHOWN_MAX 64

/* The sections pitlane reads line by line itself, past inih: their lines
 * are connection strings, longer than inih's line buffer, with quoted
 * values where inih would take " ;" for a comment. */
enum own_section {
	OWN_NONE,
	OWN_DATABASES, /* [databases] */
	OWN_USERS,     /* [users] */
};

/* The state of one config_load_file: inih calls our reader and our handler
 * with it, so the handler knows the line it is called for. */
struct ini_file {
	struct config *c;
	struct config_errors *errs;
	const char *path;
	FILE *f;
	int lineno;	      /* of the line last read, as inih counts */
	int read_errno;	      /* set when reading failed */
	char bad_section[64]; /* the unknown section last reported */
	char *line; /* the line last read, up to CONFIG_LINE_MAX bytes */
	size_t cap; /* of line */
	enum own_section own; /* the section of the line last read */
};

/* A "[name]" line: notes whether it opens one of our own sections. inih
 * takes the name as the bytes between the brackets, and so does this. */
static void ini_track_section(struct ini_file *r, const char *line)
{
	const char *end = strchr(line, ']');
	size_t n = end == NULL ? 0 : (size_t)(end - line - 1);

	r->own = OWN_NONE;
	if (n == strlen("databases") && strncmp(line + 1, "databases", n) == 0)
		r->own = OWN_DATABASES;
	else if (n == strlen("users") && strncmp(line + 1, "users", n) == 0)
		r->own = OWN_USERS;
}

static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	s[n] = '\0';
	return s;
}

static void add_db(struct ini_file *r, const char *alias, const char *value);
static void add_user(struct ini_file *r, const char *name, const char *value);

/* One line of [databases] or [users] (leading blanks gone): a comment, a
 * blank line or `name = key=value ...`. */
static void ini_own_line(struct ini_file *r, char *line)
{
	char *eq;

	if (line[0] == ';' || line[0] == '#')
		return;
	dbconf_cut_comment(line);
	line = trim(line);
	if (line[0] == '\0')
		return;
	eq = strchr(line, '=');
	if (eq == NULL || eq == line) {
		config_error(r->errs,
			     "%s:%d: syntax error in [%s]: expected \"%s = "
			     "key=value ...\"",
			     r->path, r->lineno,
			     r->own == OWN_DATABASES ? "databases" : "users",
			     r->own == OWN_DATABASES ? "alias" : "name");
		return;
	}
	*eq = '\0';
	if (r->own == OWN_DATABASES)
		add_db(r, trim(line), trim(eq + 1));
	else
		add_user(r, trim(line), trim(eq + 1));
}

/* Reads one line, its '\n' included, into r->line, growing it up to
 * CONFIG_LINE_MAX + 1 bytes and skipping the rest of a longer line; *len is
 * the line's full length. Returns false at the end of the file (or on a
 * read error) before any byte. */
static bool read_line(struct ini_file *r, size_t *len)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(r->f)) != EOF) {
		if (n + 2 > r->cap && n < CONFIG_LINE_MAX + 1) {
			size_t cap = r->cap == 0 ? 256 : r->cap * 2;
			char *grown;

			if (cap > CONFIG_LINE_MAX + 2)
				cap = CONFIG_LINE_MAX + 2;
			grown = realloc(r->line, cap);
			if (grown == NULL)
				abort();
			r->line = grown;
			r->cap = cap;
		}
		if (n + 1 < r->cap)
			r->line[n] = (char)ch;
		n++;
		if (ch == '\n')
			break;
	}
	if (n == 0)
		return false;
	r->line[n < r->cap ? n : r->cap - 1] = '\0';
	*len = n;
	return true;
}

/* Whether the line read_line read, n bytes, ends with its '\n' (1) or
 * not (0): the last line of a file may lack it. */
static size_t line_ends(const struct ini_file *r, size_t n)
{
	return n <= CONFIG_LINE_MAX + 1 && r->line[n - 1] == '\n';
}

/* An fgets for inih that counts lines as inih does and defuses three of its
 * surprises: an indented line would continue the previous setting's value
 * (inih's multi-line values: an indented file would be misread), the rest of
 * an overlong line would be parsed as a line of its own, and a NUL byte would
 * cut the line short. Leading blanks are dropped; an overlong line or one
 * with a NUL byte is reported and passed on empty. Lines of [databases] and
 * [users] are read here, whatever their length, and passed on empty. */
static char *ini_read_line_cb(char *str, int num, void *stream)
{
	struct ini_file *r = stream;
	size_t n;
	char *line;
	size_t len;

	str[0] = '\0';
	if (!read_line(r, &n)) {
		if (ferror(r->f))
			r->read_errno = errno;
		return NULL;
	}
	r->lineno++;
	if (n - line_ends(r, n) > CONFIG_LINE_MAX) {
		config_error(r->errs, "%s:%d: line is longer than %d bytes",
			     r->path, r->lineno, CONFIG_LINE_MAX);
		return str;
	}
	if (strlen(r->line) != n) {
		config_error(r->errs, "%s:%d: line contains a NUL byte",
			     r->path, r->lineno);
		return str;
	}
	line = r->line + strspn(r->line, " \t");
	if (line[0] == '[') {
		ini_track_section(r, line);
	} else if (r->own != OWN_NONE) {
		ini_own_line(r, line);
		return str;
	}
	len = strlen(line);
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len + 1 > (size_t)num) {
		config_error(r->errs,
			     "%s:%d: line is longer than %d characters",
			     r->path, r->lineno, num - 2);
		return str;
	}
	memcpy(str, line, len + 1);
	return str;
}

/* The source of an entry's errors: "file:line: databases.alias". */
static void entry_error(struct ini_file *r, const char *section,
			const char *name, const char *msg)
{
	config_error(r->errs, "%s:%d: %s.%.*s: %s", r->path, r->lineno, section,
		     SHOWN_MAX, name, msg);
}

/* Longest alias or user name: PostgreSQL's NAMEDATALEN - 1. */
#define NAME_MAX_LEN 63

static void add_db(struct ini_file *r, const char *alias, const char *value)
{
	struct config *c = r->c;
	struct db_entry e, *grown;
	char err[CONFIG_ERROR_LEN];

	if (strlen(alias) > NAME_MAX_LEN) {
		entry_error(r, "databases", alias,
			    "the alias is longer than 63 bytes");
		return;
	}
	if (config_find_db(c, alias) != NULL &&
	    strcmp(config_find_db(c, alias)->alias, alias) == 0) {
		entry_error(r, "databases", alias,
			    "the alias is given twice in [databases]");
		return;
	}
	if (c->ndbs >= DBCONF_MAX_ENTRIES) {
		entry_error(r, "databases", alias,
			    "too many entries in [databases] (at most 512)");
		return;
	}
	if (!dbconf_parse_entry(&e, alias, value, err, sizeof(err))) {
		entry_error(r, "databases", alias, err);
		return;
	}
	grown = realloc(c->dbs, (c->ndbs + 1) * sizeof(*c->dbs));
	if (grown == NULL)
		abort();
	c->dbs = grown;
	c->dbs[c->ndbs++] = e;
}

static void add_user(struct ini_file *r, const char *name, const char *value)
{
	struct config *c = r->c;
	struct user_entry u, *grown;
	char err[CONFIG_ERROR_LEN];

	if (strlen(name) > NAME_MAX_LEN) {
		entry_error(r, "users", name,
			    "the user name is longer than 63 bytes");
		return;
	}
	if (config_find_user(c, name) != NULL) {
		entry_error(r, "users", name,
			    "the user is given twice in [users]");
		return;
	}
	if (c->nusers >= DBCONF_MAX_USERS) {
		entry_error(r, "users", name,
			    "too many entries in [users] (at most 512)");
		return;
	}
	if (!dbconf_parse_user(&u, name, value, err, sizeof(err))) {
		entry_error(r, "users", name, err);
		return;
	}
	grown = realloc(c->users, (c->nusers + 1) * sizeof(*c->users));
	if (grown == NULL)
		abort();
	c->users = grown;
	c->users[c->nusers++] = u;
}

static void ini_report_unknown(struct ini_file *r, const char *section,
			       const char *key)
{
	int elsewhere = config_setting_index(NULL, key);
	struct config_setting_info info;

	if (section[0] == '\0') {
		config_error(r->errs,
			     "%s:%d: setting \"%s\" is outside any section: "
			     "settings belong in [pitlane] or [pool]",
			     r->path, r->lineno, key);
	} else if (strcmp(section, "pitlane") != 0 &&
		   strcmp(section, "pool") != 0) {
		if (strcmp(r->bad_section, section) == 0)
			return;
		snprintf(r->bad_section, sizeof(r->bad_section), "%s", section);
		config_error(r->errs,
			     "%s:%d: unknown section [%s]: the sections are "
			     "[pitlane], [pool], [databases], [users] and "
			     "[peers]",
			     r->path, r->lineno, section);
	} else if (elsewhere >= 0) {
		config_setting_info(r->c, (unsigned)elsewhere, &info);
		config_error(r->errs,
			     "%s:%d: unknown setting \"%s\" in section [%s] "
			     "(it belongs in [%s])",
			     r->path, r->lineno, key, section, info.section);
	} else {
		config_error(r->errs,
			     "%s:%d: unknown setting \"%s\" in section [%s]",
			     r->path, r->lineno, key, section);
	}
}

/* A [peers] line "ID = conninfo" joins the peers list (peer.h checks it). */
static void ini_add_peer(struct config *c, const char *id, const char *value)
{
	size_t old = c->peers != NULL ? strlen(c->peers) : 0;
	size_t n =
	    old + strlen(id) + strlen(value) + sizeof("; ") + sizeof(" = ");
	char *list = malloc(n);

	if (list == NULL)
		abort();
	snprintf(list, n, "%s%s%s = %s", old ? c->peers : "", old ? "; " : "",
		 id, value);
	free(c->peers);
	c->peers = list;
}

/* inih's handler: every problem is recorded in errs here and 1 returned,
 * since a zero return would make inih report a syntax error as well. */
static int ini_setting_cb(void *user, const char *section, const char *key,
			  const char *value)
{
	struct ini_file *r = user;
	char source[CONFIG_ERROR_LEN];

	if (strcmp(section, "peers") == 0) {
		ini_add_peer(r->c, key, value);
		return 1;
	}
	if (config_setting_index(section, key) < 0) {
		ini_report_unknown(r, section, key);
		return 1;
	}
	r->bad_section[0] = '\0';
	snprintf(source, sizeof(source), "%s:%d: %s", r->path, r->lineno, key);
	config_set(r->c, section, key, value, source, r->errs);
	return 1;
}

void config_load_file(struct config *c, const char *path,
		      struct config_errors *errs)
{
	struct ini_file r = {.c = c, .errs = errs, .path = path};
	int rc;

	r.f = fopen(path, "r");
	if (r.f == NULL) {
		config_error(errs, "cannot read config file \"%s\": %s", path,
			     strerror(errno));
		return;
	}
	rc = ini_parse_stream(ini_read_line_cb, &r, ini_setting_cb, &r);
	free(r.line);
	if (r.read_errno != 0)
		config_error(errs, "cannot read config file \"%s\": %s", path,
			     strerror(r.read_errno));
	else if (rc > 0)
		config_error(errs,
			     "%s:%d: syntax error: expected \"[section]\" or "
			     "\"name = value\"",
			     path, rc);
	else if (rc < 0)
		config_error(errs, "cannot read config file \"%s\": %s", path,
			     strerror(ENOMEM));
	fclose(r.f);
}
