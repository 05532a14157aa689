/* Auth file parsing: fields are unescaped into one buffer sized from the
 * input (so entry pointers stay valid), entries are sorted by user name and
 * searched by bisection. Secrets are wiped on free. */
#include "authfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_PREFIX "SCRAM-SHA-256$"

struct authfile_entry {
	const char *user;   /* in authfile->buf */
	const char *secret; /* in authfile->buf */
	enum authfile_kind kind;
	unsigned line;
};

struct authfile {
	struct authfile_entry *entries; /* owned, sorted by user */
	size_t n, cap;
	char *buf; /* owned: unescaped fields, NUL-terminated */
	size_t buf_len, buf_size;
	unsigned nplain;
};

struct authfile_parser {
	struct authfile *a;
	struct errlist err; /* its file name and line, and what it found */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Unescapes the quoted field at s[*i] (which is '"') into the buffer, up to
 * the closing quote; `""` is a quote. Returns the field, or NULL when the
 * line ends first. The buffer never overflows: a field's text is shorter
 * than its quoted form, which has room for the NUL. */
static const char *read_quoted(struct authfile *a, const char *s, size_t n,
			       size_t *i)
{
	char *out = a->buf + a->buf_len;
	size_t k = 0;

	for ((*i)++; *i < n; (*i)++) {
		if (s[*i] == '"') {
			if (*i + 1 < n && s[*i + 1] == '"') {
				(*i)++;
			} else {
				(*i)++;
				out[k] = '\0';
				a->buf_len += k + 1;
				return out;
			}
		}
		out[k++] = s[*i];
	}
	return NULL;
}

static bool is_base64(const char *s, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t pad = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
			return false;
	return true;
}

/* A SHA-256 key in base64: 32 bytes, 44 characters, one '='. */
static bool is_key(const char *s, size_t n)
{
	return n == 44 && is_base64(s, n) && s[42] != '=';
}

/* Whether s is "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
 * with positive iterations, base64 salt and 32-byte base64 keys. */
static bool is_scram(const char *s)
{
	const char *salt, *dollar, *colon;
	unsigned long iter = 0;
	size_t digits = 0;

	s += strlen(SCRAM_PREFIX);
	for (; *s >= '0' && *s <= '9' && digits < 9; s++, digits++)
		iter = iter * 10 + (unsigned long)(*s - '0');
	if (iter == 0 || *s != ':')
		return false;
	salt = s + 1;
	dollar = strchr(salt, '$');
	if (dollar == NULL || !is_base64(salt, (size_t)(dollar - salt)))
		return false;
	colon = strchr(dollar + 1, ':');
	return colon != NULL &&
	       is_key(dollar + 1, (size_t)(colon - dollar - 1)) &&
	       is_key(colon + 1, strlen(colon + 1));
}

/* "md5" and 32 hex digits, which are lower-cased in place. */
static bool is_md5(char *s)
{
	if (strncmp(s, "md5", 3) != 0 || strlen(s) != 35 ||
	    strspn(s + 3, "0123456789abcdefABCDEF") != 32)
		return false;
	for (s += 3; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
	return true;
}

/* The kind of secret; false (error recorded) for a malformed verifier. */
static bool classify(struct authfile_parser *p, const char *user, char *secret,
		     enum authfile_kind *kind)
{
	if (strncmp(secret, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0) {
		if (!is_scram(secret)) {
			errlist_add(&p->err,
				    "malformed SCRAM-SHA-256 secret for "
				    "user \"%s\"",
				    user);
			return false;
		}
		*kind = AUTHFILE_SCRAM;
	} else if (is_md5(secret)) {
		*kind = AUTHFILE_MD5;
	} else {
		*kind = AUTHFILE_PLAIN;
	}
	return true;
}

static bool add_entry(struct authfile *a, const struct authfile_entry *e)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		struct authfile_entry *n;

		if (cap > SIZE_MAX / sizeof(*n))
			return false;
		n = realloc(a->entries, cap * sizeof(*n));
		if (n == NULL)
			return false;
		a->entries = n;
		a->cap = cap;
	}
	a->entries[a->n++] = *e;
	return true;
}

/* Parses one physical line s[0..n); false only when out of memory. */
static bool parse_line(struct authfile_parser *p, const char *s, size_t n)
{
	struct authfile_entry e = {.line = p->err.line};
	size_t i = 0, mark = p->a->buf_len;
	char *secret;

	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == ';' || s[i] == '#')
		return true;
	if (memchr(s, '\0', n) != NULL) {
		errlist_add(&p->err, "invalid NUL byte");
		return true;
	}
	if (s[i] != '"') {
		errlist_add(&p->err, "expected a double-quoted user name");
		return true;
	}
	e.user = read_quoted(p->a, s, n, &i);
	if (e.user == NULL) {
		errlist_add(&p->err, "unterminated user name");
		return true;
	}
	if (e.user[0] == '\0') {
		errlist_add(&p->err, "empty user name");
		goto fail;
	}
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] != '"') {
		errlist_add(&p->err,
			    "expected a double-quoted secret for user "
			    "\"%s\"",
			    e.user);
		goto fail;
	}
	e.secret = secret = (char *)read_quoted(p->a, s, n, &i);
	if (secret == NULL) {
		errlist_add(&p->err, "unterminated secret for user \"%s\"",
			    e.user);
		goto fail;
	}
	if (secret[0] == '\0') {
		errlist_add(&p->err, "empty secret for user \"%s\"", e.user);
		goto fail;
	}
	if (!classify(p, e.user, secret, &e.kind))
		goto fail;
	p->a->nplain += e.kind == AUTHFILE_PLAIN;
	return add_entry(p->a, &e);
fail:
	p->a->buf_len = mark;
	return true;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct authfile_entry *a = x, *b = y;
	int c = strcmp(a->user, b->user);

	if (c != 0)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Sorts the entries and reports every user listed again, at each later
 * line. */
static void sort_entries(struct authfile_parser *p)
{
	struct authfile *a = p->a;
	size_t first = 0;

	if (a->n > 0)
		qsort(a->entries, a->n, sizeof(*a->entries), entry_cmp);
	for (size_t i = 1; i < a->n; i++) {
		if (strcmp(a->entries[first].user, a->entries[i].user) != 0) {
			first = i;
			continue;
		}
		p->err.line = a->entries[i].line;
		errlist_add(&p->err, "duplicate user \"%s\" (first on line %u)",
			    a->entries[i].user, a->entries[first].line);
	}
}

struct authfile *authfile_parse(const char *text, size_t len, const char *name,
				char errs[][AUTHFILE_ERROR_LEN],
				unsigned max_errs, unsigned *nerrs)
{
	struct authfile_parser p = {
	    .err = {.name = name, .msg = errs, .max = max_errs}};
	bool ok = true;

	p.a = calloc(1, sizeof(*p.a));
	if (p.a != NULL) {
		p.a->buf_size = len + 1;
		p.a->buf = malloc(p.a->buf_size);
	}
	for (size_t pos = 0; p.a && p.a->buf && ok && pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		p.err.line++;
		pos += nl ? n + 1 : n;
		ok = parse_line(&p, s, n);
	}
	if (p.a == NULL || p.a->buf == NULL || !ok) {
		p.err.line = 0;
		errlist_add(&p.err, "out of memory");
	} else {
		sort_entries(&p);
	}
	*nerrs = p.err.n;
	if (p.err.failed) {
		authfile_free(p.a);
		return NULL;
	}
	return p.a;
}

const char *authfile_lookup(const struct authfile *a, const char *user,
			    enum authfile_kind *kind)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(user, a->entries[mid].user);

		if (c == 0) {
			if (kind != NULL)
				*kind = a->entries[mid].kind;
			return a->entries[mid].secret;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

unsigned authfile_count(const struct authfile *a)
{
	return (unsigned)a->n;
}

const char *authfile_user(const struct authfile *a, unsigned i)
{
	return i < a->n ? a->entries[i].user : NULL;
}

unsigned authfile_plain_count(const struct authfile *a)
{
	return a->nplain;
}

void authfile_free(struct authfile *a)
{
	if (a == NULL)
		return;
	if (a->buf != NULL)
		explicit_bzero(a->buf, a->buf_size);
	free(a->buf);
	free(a->entries);
	free(a);
}
