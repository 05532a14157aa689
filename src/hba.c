/* pg_hba.conf parsing and matching. A logical line (backslash continuations
 * joined) is split into fields of comma-separated, possibly quoted tokens,
 * then checked field by field; rules keep their name lists as offsets into
 * one shared string buffer. */
#include "hba.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const method_names[] = {
    [HBA_TRUST] = "trust",	   [HBA_REJECT] = "reject", [HBA_MD5] = "md5",
    [HBA_SCRAM] = "scram-sha-256", [HBA_CERT] = "cert",
};

/* A database or user field: keywords as flags, names in hba->names. */
struct hba_list {
	bool all;      /* `all` */
	bool sameuser; /* `sameuser` (database field only) */
	size_t off;    /* first of n NUL-terminated names in hba->names */
	unsigned n;
};

struct hba_rule {
	enum hba_conn conn;
	enum hba_method method;
	enum hba_clientcert clientcert;
	unsigned line; /* first physical line of the rule */
	struct hba_list db;
	struct hba_list user;
	bool addr_any;	  /* `all`, or a local rule */
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* already masked */
	uint8_t mask[16];
};

struct hba {
	struct hba_rule *rules; /* owned, in file order */
	size_t n, cap;
	char *names; /* owned: every rule's names, NUL-terminated */
	size_t names_len, names_cap;
};

struct hba_token {
	size_t off;  /* dequoted, NUL-terminated text in parser->tok_text */
	bool quoted; /* any part was quoted: never a keyword */
};

struct hba_field {
	size_t first; /* index of its first token */
	size_t n;     /* >= 1 */
};

/* Parse state; the scratch buffers are reused from line to line. */
struct hba_parser {
	struct hba *h;
	struct errlist err; /* its file name and line, and what it found */
	bool oom;
	char *text; /* the logical line, continuations joined */
	size_t text_len, text_cap;
	char *tok_text;
	size_t tok_cap;
	struct hba_token *toks;
	size_t ntok, toks_cap;
	struct hba_field *fields;
	size_t nfield, fields_cap;
};

/* Makes room for need elements of size bytes in p (capacity *cap). Returns
 * the possibly moved array, or NULL (p untouched) when out of memory. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return p;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return NULL;
		n *= 2;
	}
	q = realloc(p, n * size);
	if (q != NULL)
		*cap = n;
	return q;
}

static void hba_oom(struct hba_parser *p)
{
	p->oom = true;
	p->err.failed = true;
}

static bool append_text(struct hba_parser *p, const char *s, size_t n)
{
	char *t = grow(p->text, &p->text_cap, p->text_len + n + 1, 1);

	if (t == NULL) {
		hba_oom(p);
		return false;
	}
	p->text = t;
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	p->text[p->text_len] = '\0';
	return true;
}

/* Copies the logical line at text[*pos] into p->text, joining physical
 * lines that end in a backslash (removed, as PostgreSQL does); advances
 * *pos past it and *lineno by the physical lines read. */
static bool join_line(struct hba_parser *p, const char *text, size_t len,
		      size_t *pos, unsigned *lineno)
{
	p->text_len = 0;
	if (!append_text(p, "", 0))
		return false;
	while (*pos < len) {
		const char *s = text + *pos;
		const char *nl = memchr(s, '\n', len - *pos);
		size_t n = nl ? (size_t)(nl - s) : len - *pos;
		size_t keep = n;
		bool more;

		*pos += nl ? n + 1 : n;
		(*lineno)++;
		if (keep > 0 && s[keep - 1] == '\r')
			keep--;
		more = keep > 0 && s[keep - 1] == '\\';
		if (!append_text(p, s, more ? keep - 1 : n))
			return false;
		if (!more)
			break;
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool push_token(struct hba_parser *p, size_t off, bool quoted)
{
	struct hba_token *t =
	    grow(p->toks, &p->toks_cap, p->ntok + 1, sizeof(*t));

	if (t == NULL) {
		hba_oom(p);
		return false;
	}
	p->toks = t;
	p->toks[p->ntok++] = (struct hba_token){off, quoted};
	return true;
}

static bool push_field(struct hba_parser *p)
{
	struct hba_field *f =
	    grow(p->fields, &p->fields_cap, p->nfield + 1, sizeof(*f));

	if (f == NULL) {
		hba_oom(p);
		return false;
	}
	p->fields = f;
	p->fields[p->nfield++] = (struct hba_field){p->ntok, 0};
	return true;
}

/* Reads one token at p->text[*i] into tok_text at *out: double quotes
 * toggle quoting, an unquoted blank, comma or # ends it. */
static bool read_token(struct hba_parser *p, size_t *i, size_t *out)
{
	size_t start = *out;
	bool in_quote = false, quoted = false;

	for (; *i < p->text_len; (*i)++) {
		char c = p->text[*i];

		if (c == '"') {
			in_quote = !in_quote;
			quoted = true;
			continue;
		}
		if (!in_quote && (c == ',' || c == '#' || is_blank(c)))
			break;
		p->tok_text[(*out)++] = c;
	}
	p->tok_text[(*out)++] = '\0';
	if (in_quote) {
		errlist_add(&p->err, "unterminated quoted string");
		return false;
	}
	if (!push_token(p, start, quoted))
		return false;
	p->fields[p->nfield - 1].n++;
	return true;
}

/* Splits p->text into fields (separated by blanks) of tokens (separated by
 * commas, blanks allowed after a comma); # starts a comment. */
static bool tokenize(struct hba_parser *p)
{
	size_t i = 0, out = 0;
	char *t = grow(p->tok_text, &p->tok_cap, 2 * p->text_len + 2, 1);

	/* A line of L bytes has at most L + 1 tokens (each follows a comma or
	 * starts a field), so its text and their NULs fit in 2L + 2 bytes. */
	if (t == NULL) {
		hba_oom(p);
		return false;
	}
	p->tok_text = t;
	p->ntok = p->nfield = 0;
	for (;;) {
		while (i < p->text_len && is_blank(p->text[i]))
			i++;
		if (i == p->text_len || p->text[i] == '#')
			return true;
		if (!push_field(p))
			return false;
		for (;;) {
			if (!read_token(p, &i, &out))
				return false;
			if (i == p->text_len || p->text[i] != ',')
				break;
			i++;
			while (i < p->text_len && is_blank(p->text[i]))
				i++;
		}
	}
}

static const struct hba_token *token(const struct hba_parser *p,
				     const struct hba_field *f, size_t k)
{
	return &p->toks[f->first + k];
}

static const char *token_text(const struct hba_parser *p,
			      const struct hba_token *t)
{
	return p->tok_text + t->off;
}

static bool is_keyword(const struct hba_parser *p, const struct hba_token *t,
		       const char *kw)
{
	return !t->quoted && strcmp(token_text(p, t), kw) == 0;
}

/* Field f, or NULL (error recorded) when the line ends before it. */
static const struct hba_field *field(struct hba_parser *p, unsigned f,
				     const char *what)
{
	if (f < p->nfield)
		return &p->fields[f];
	errlist_add(&p->err, "end of line before %s", what);
	return NULL;
}

/* The only token of field f, or NULL (error recorded). */
static const struct hba_token *single(struct hba_parser *p, unsigned f,
				      const char *what)
{
	const struct hba_field *fl = field(p, f, what);

	if (fl == NULL)
		return NULL;
	if (fl->n > 1) {
		errlist_add(&p->err, "multiple values in %s", what);
		return NULL;
	}
	return token(p, fl, 0);
}

static bool parse_conn(struct hba_parser *p, struct hba_rule *r)
{
	static const char *const names[] = {
	    [HBA_LOCAL] = "local",
	    [HBA_HOST] = "host",
	    [HBA_HOSTSSL] = "hostssl",
	    [HBA_HOSTNOSSL] = "hostnossl",
	};
	const struct hba_token *t = single(p, 0, "connection type");

	if (t == NULL)
		return false;
	for (unsigned i = 0; i < ARRAY_LEN(names); i++) {
		if (strcmp(token_text(p, t), names[i]) == 0) {
			r->conn = (enum hba_conn)i;
			return true;
		}
	}
	errlist_add(&p->err, "unsupported connection type \"%s\"",
		    token_text(p, t));
	return false;
}

static bool append_name(struct hba_parser *p, const char *s)
{
	struct hba *h = p->h;
	size_t n = strlen(s) + 1;
	char *names = grow(h->names, &h->names_cap, h->names_len + n, 1);

	if (names == NULL) {
		hba_oom(p);
		return false;
	}
	h->names = names;
	memcpy(h->names + h->names_len, s, n);
	h->names_len += n;
	return true;
}

/* Rejects the unquoted forms PostgreSQL gives a meaning we do not
 * implement, rather than reading them as plain names. */
static bool name_supported(struct hba_parser *p, const struct hba_token *t,
			   bool is_db)
{
	static const char *const db_keywords[] = {"samerole", "samegroup",
						  "replication"};
	const char *s = token_text(p, t);

	if (t->quoted)
		return true;
	if (s[0] == '@') {
		errlist_add(&p->err, "file inclusion is not supported: \"%s\"",
			    s);
		return false;
	}
	if (s[0] == '/') {
		errlist_add(&p->err,
			    "regular expressions are not supported: \"%s\"", s);
		return false;
	}
	if (!is_db && s[0] == '+') {
		errlist_add(&p->err,
			    "group membership is not supported: \"%s\"", s);
		return false;
	}
	for (unsigned i = 0; is_db && i < ARRAY_LEN(db_keywords); i++) {
		if (strcmp(s, db_keywords[i]) == 0) {
			errlist_add(&p->err, "keyword \"%s\" is not supported",
				    s);
			return false;
		}
	}
	return true;
}

/* The database (is_db) or user list of field f. */
static bool parse_list(struct hba_parser *p, unsigned f, bool is_db,
		       struct hba_list *l)
{
	const char *what = is_db ? "database field" : "user field";
	const struct hba_field *fl = field(p, f, what);

	if (fl == NULL)
		return false;
	l->off = p->h->names_len;
	for (size_t k = 0; k < fl->n; k++) {
		const struct hba_token *t = token(p, fl, k);
		const char *s = token_text(p, t);

		if (*s == '\0') {
			errlist_add(&p->err, "empty name in %s", what);
			return false;
		}
		if (is_keyword(p, t, "all")) {
			l->all = true;
		} else if (is_db && is_keyword(p, t, "sameuser")) {
			l->sameuser = true;
		} else {
			if (!name_supported(p, t, is_db) || !append_name(p, s))
				return false;
			l->n++;
		}
	}
	return true;
}

/* Parses an IPv4 or IPv6 address of at most n bytes at s; returns its
 * family, or 0 when it is not one. */
static int parse_ip(const char *s, size_t n, uint8_t out[16])
{
	char buf[64];

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, 16);
	if (inet_pton(AF_INET, buf, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, out) == 1)
		return AF_INET6;
	return 0;
}

/* A prefix length of 0..bits in decimal, or -1. */
static int parse_prefix(const char *s, int bits)
{
	int v = 0;

	if (*s == '\0' || strlen(s) > 3)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= bits ? v : -1;
}

static void prefix_mask(uint8_t mask[16], int bits)
{
	memset(mask, 0, 16);
	for (int i = 0; i < bits; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/* The netmask column that follows a bare address in field *f. */
static bool parse_mask(struct hba_parser *p, unsigned *f, struct hba_rule *r)
{
	const struct hba_token *t = single(p, ++*f, "netmask");
	const char *s;
	int family;

	if (t == NULL)
		return false;
	s = token_text(p, t);
	family = parse_ip(s, strlen(s), r->mask);
	if (family == 0) {
		errlist_add(&p->err, "invalid IP mask \"%s\"", s);
		return false;
	}
	if (family != r->family) {
		errlist_add(&p->err, "IP address and mask do not match");
		return false;
	}
	return true;
}

/* The address field *f of a host line: `all`, CIDR, or address and mask
 * (which takes one more field); *f is left on the last field used. */
static bool parse_addr(struct hba_parser *p, unsigned *f, struct hba_rule *r)
{
	const struct hba_token *t = single(p, *f, "address field");
	const char *s, *slash;
	int prefix;

	if (t == NULL)
		return false;
	s = token_text(p, t);
	if (is_keyword(p, t, "all")) {
		r->addr_any = true;
		return true;
	}
	if (is_keyword(p, t, "samehost") || is_keyword(p, t, "samenet")) {
		errlist_add(&p->err, "keyword \"%s\" is not supported", s);
		return false;
	}
	slash = strchr(s, '/');
	r->family =
	    parse_ip(s, slash ? (size_t)(slash - s) : strlen(s), r->addr);
	if (r->family == 0) {
		errlist_add(&p->err,
			    "invalid IP address \"%s\" (host names are not "
			    "supported)",
			    s);
		return false;
	}
	if (slash == NULL) {
		if (!parse_mask(p, f, r))
			return false;
	} else {
		prefix =
		    parse_prefix(slash + 1, r->family == AF_INET ? 32 : 128);
		if (prefix < 0) {
			errlist_add(&p->err,
				    "invalid CIDR mask in address \"%s\"", s);
			return false;
		}
		prefix_mask(r->mask, prefix);
	}
	for (int i = 0; i < 16; i++)
		r->addr[i] &= r->mask[i];
	return true;
}

static bool parse_method(struct hba_parser *p, unsigned f, struct hba_rule *r)
{
	const struct hba_token *t = single(p, f, "authentication method");

	if (t == NULL)
		return false;
	for (unsigned i = 0; i < ARRAY_LEN(method_names); i++) {
		if (strcmp(token_text(p, t), method_names[i]) == 0) {
			r->method = (enum hba_method)i;
			if (r->method == HBA_CERT && r->conn != HBA_HOSTSSL) {
				errlist_add(&p->err,
					    "cert authentication is only "
					    "supported on hostssl lines");
				return false;
			}
			return true;
		}
	}
	errlist_add(&p->err, "unsupported authentication method \"%s\"",
		    token_text(p, t));
	return false;
}

/* One name=value option after the method; only clientcert is known. */
static bool parse_option(struct hba_parser *p, unsigned f, struct hba_rule *r)
{
	const struct hba_token *t = single(p, f, "authentication option");
	const char *s, *v;

	if (t == NULL)
		return false;
	s = token_text(p, t);
	v = strchr(s, '=');
	if (v == NULL) {
		errlist_add(&p->err,
			    "authentication option not in name=value format: "
			    "\"%s\"",
			    s);
		return false;
	}
	v++;
	if (strncmp(s, "clientcert=", 11) != 0) {
		errlist_add(&p->err, "unknown authentication option \"%.*s\"",
			    (int)(v - 1 - s), s);
		return false;
	}
	if (r->conn != HBA_HOSTSSL) {
		errlist_add(&p->err,
			    "clientcert can only be configured for hostssl "
			    "lines");
		return false;
	}
	if (strcmp(v, "verify-full") == 0) {
		r->clientcert = HBA_CLIENTCERT_VERIFY_FULL;
	} else if (strcmp(v, "verify-ca") == 0 && r->method != HBA_CERT) {
		r->clientcert = HBA_CLIENTCERT_VERIFY_CA;
	} else if (strcmp(v, "verify-ca") == 0) {
		errlist_add(&p->err,
			    "clientcert only accepts verify-full with cert "
			    "authentication");
		return false;
	} else {
		errlist_add(&p->err, "invalid value for clientcert: \"%s\"", v);
		return false;
	}
	return true;
}

static bool add_rule(struct hba_parser *p, const struct hba_rule *r)
{
	struct hba *h = p->h;
	struct hba_rule *rules = grow(h->rules, &h->cap, h->n + 1, sizeof(*r));

	if (rules == NULL) {
		hba_oom(p);
		return false;
	}
	h->rules = rules;
	h->rules[h->n++] = *r;
	return true;
}

/* Turns the tokenized line into a rule; stops at the line's first error. */
static void parse_rule(struct hba_parser *p)
{
	struct hba_rule r = {.line = p->err.line, .addr_any = true};
	size_t names_len = p->h->names_len;
	unsigned f = 3;

	if (!parse_conn(p, &r) || !parse_list(p, 1, true, &r.db) ||
	    !parse_list(p, 2, false, &r.user))
		goto fail;
	if (r.conn != HBA_LOCAL) {
		r.addr_any = false;
		if (!parse_addr(p, &f, &r))
			goto fail;
		f++;
	}
	if (!parse_method(p, f, &r))
		goto fail;
	while (++f < p->nfield)
		if (!parse_option(p, f, &r))
			goto fail;
	if (r.method == HBA_CERT)
		r.clientcert = HBA_CLIENTCERT_VERIFY_FULL;
	if (add_rule(p, &r))
		return;
fail:
	p->h->names_len = names_len;
}

struct hba *hba_parse(const char *text, size_t len, const char *name,
		      char errs[][HBA_ERROR_LEN], unsigned max_errs,
		      unsigned *nerrs)
{
	struct hba_parser p = {
	    .err = {.name = name, .msg = errs, .max = max_errs}};
	size_t pos = 0;
	unsigned lineno = 0;

	p.h = calloc(1, sizeof(*p.h));
	if (p.h == NULL)
		hba_oom(&p);
	while (!p.oom && pos < len) {
		p.err.line = lineno + 1;
		if (!join_line(&p, text, len, &pos, &lineno))
			break;
		if (memchr(p.text, '\0', p.text_len) != NULL)
			errlist_add(&p.err, "invalid NUL byte");
		else if (tokenize(&p) && p.nfield > 0)
			parse_rule(&p);
	}
	free(p.text);
	free(p.tok_text);
	free(p.toks);
	free(p.fields);
	if (p.oom) {
		p.err.line = 0;
		errlist_add(&p.err, "out of memory");
	}
	*nerrs = p.err.n;
	if (p.err.failed) {
		hba_free(p.h);
		return NULL;
	}
	return p.h;
}

void hba_free(struct hba *h)
{
	if (h == NULL)
		return;
	free(h->rules);
	free(h->names);
	free(h);
}

unsigned hba_rule_count(const struct hba *h)
{
	return (unsigned)h->n;
}

static bool list_match(const struct hba *h, const struct hba_list *l,
		       const char *name, const char *user)
{
	const char *s;

	if (l->all || (l->sameuser && strcmp(name, user) == 0))
		return true;
	if (l->n == 0)
		return false; /* h->names may be NULL */
	s = h->names + l->off;
	for (unsigned i = 0; i < l->n; i++, s += strlen(s) + 1)
		if (strcmp(s, name) == 0)
			return true;
	return false;
}

static bool conn_match(enum hba_conn rule, const struct hba_query *q)
{
	if (q->conn == HBA_LOCAL)
		return rule == HBA_LOCAL;
	switch (rule) {
	case HBA_LOCAL:
		return false;
	case HBA_HOST:
		return true;
	case HBA_HOSTSSL:
		return q->ssl;
	case HBA_HOSTNOSSL:
		return !q->ssl;
	}
	return false;
}

static bool masked_equal(const uint8_t *a, const struct hba_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((a[i] & r->mask[i]) != r->addr[i])
			return false;
	return true;
}

static bool addr_match(const struct hba_rule *r, const struct hba_query *q)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0,    0,
					     0, 0, 0, 0, 0xff, 0xff};

	if (r->addr_any)
		return true;
	if (r->family == q->family)
		return masked_equal(q->addr, r, r->family == AF_INET ? 4 : 16);
	if (r->family == AF_INET && q->family == AF_INET6 &&
	    memcmp(q->addr, v4mapped, sizeof(v4mapped)) == 0)
		return masked_equal(q->addr + 12, r, 4);
	return false;
}

enum hba_method hba_match(const struct hba *h, const struct hba_query *q,
			  bool *matched, unsigned *line,
			  enum hba_clientcert *clientcert)
{
	const struct hba_rule *r = NULL;

	assert(q->database != NULL && q->user != NULL);
	for (size_t i = 0; i < h->n && r == NULL; i++) {
		const struct hba_rule *c = &h->rules[i];

		if (conn_match(c->conn, q) && addr_match(c, q) &&
		    list_match(h, &c->db, q->database, q->user) &&
		    list_match(h, &c->user, q->user, q->user))
			r = c;
	}
	if (matched != NULL)
		*matched = r != NULL;
	if (line != NULL)
		*line = r ? r->line : 0;
	if (clientcert != NULL)
		*clientcert = r ? r->clientcert : HBA_CLIENTCERT_NONE;
	return r ? r->method : HBA_REJECT;
}

const char *hba_method_name(enum hba_method m)
{
	assert((unsigned)m < ARRAY_LEN(method_names));
	return method_names[m];
}
