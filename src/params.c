/* Server run-time parameters: a small owned name/value set, updated from
 * ParameterStatus messages and written back out as ParameterStatus. */
#include "params.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int params_find(const struct params *p, const char *name)
{
	for (unsigned i = 0; i < p->n; i++)
		if (strcasecmp(p->name[i], name) == 0)
			return (int)i;
	return -1;
}

/* The name and value arrays share one block (value = name + cap), and
 * an entry's name and value one string ("name\0value"): a client holds
 * a set for its whole session, so a small one costs two allocations. */
static bool params_grow(struct params *p)
{
	unsigned cap = p->cap ? p->cap * 2 : 2;
	char **b;

	if (p->cap >= PARAMS_MAX)
		return false;
	b = malloc(2 * (size_t)cap * sizeof(*b));
	if (b == NULL)
		return false;
	if (p->n > 0) {
		memcpy(b, p->name, p->n * sizeof(*b));
		memcpy(b + cap, p->value, p->n * sizeof(*b));
	}
	free(p->name);
	p->name = b;
	p->value = b + cap;
	p->cap = cap;
	return true;
}

/* "name\0value" in one allocation; NULL when out of memory. */
static char *params_entry(const char *name, const char *value)
{
	size_t n = strlen(name) + 1, v = strlen(value) + 1;
	char *e = malloc(n + v);

	if (e != NULL) {
		memcpy(e, name, n);
		memcpy(e + n, value, v);
	}
	return e;
}

/* Puts entry e (params_entry) in slot i. */
static void params_put(struct params *p, unsigned i, char *e)
{
	p->name[i] = e;
	p->value[i] = e + strlen(e) + 1;
}

bool params_set(struct params *p, const char *name, const char *value)
{
	int i = params_find(p, name);
	char *e;

	if (i >= 0) {
		/* The old entry may hold name or value: copy, then free. */
		e = params_entry(p->name[i], value);
		if (e == NULL)
			return false;
		if (strcmp(p->value[i], value) != 0)
			p->gen++;
		free(p->name[i]);
		params_put(p, (unsigned)i, e);
		return true;
	}
	p->gen++;
	if (p->n == p->cap && !params_grow(p))
		return false;
	e = params_entry(name, value);
	if (e == NULL)
		return false;
	params_put(p, p->n++, e);
	return true;
}

const char *params_get(const struct params *p, const char *name)
{
	int i = params_find(p, name);

	return i < 0 ? NULL : p->value[i];
}

bool params_copy(struct params *dst, const struct params *src)
{
	params_clear(dst);
	for (unsigned i = 0; i < src->n; i++) {
		if (!params_set(dst, src->name[i], src->value[i])) {
			params_clear(dst);
			return false;
		}
	}
	return true;
}

void params_clear(struct params *p)
{
	for (unsigned i = 0; i < p->n; i++)
		free(p->name[i]); /* and its value */
	free(p->name);		  /* and the value array */
	*p = (struct params){.gen = p->gen + 1};
}

void params_write(const struct params *p, struct proto_writer *w)
{
	for (unsigned i = 0; i < p->n; i++)
		proto_write_parameter_status(w, p->name[i], p->value[i]);
}

void params_unset(struct params *p, const char *name)
{
	int i = params_find(p, name);

	if (i < 0)
		return;
	free(p->name[i]); /* and its value */
	p->gen++;
	p->n--;
	p->name[i] = p->name[p->n];
	p->value[i] = p->value[p->n];
}

/* Parameter names become SQL literals and identifiers later: only the
 * characters PostgreSQL's own parameter names use are accepted. */
static bool params_name_ok(const char *name)
{
	if (*name == '\0' || strlen(name) > 63)
		return false;
	for (; *name != '\0'; name++)
		if (!(isalnum((unsigned char)*name) || *name == '_' ||
		      *name == '.'))
			return false;
	return true;
}

static const char *params_add(struct params *out, const char *name,
			      const char *value, char *err, size_t errlen)
{
	if (!params_name_ok(name)) {
		snprintf(err, errlen,
			 "unrecognized configuration parameter \"%.64s\"",
			 name);
		return "42704";
	}
	if (!params_set(out, name, value)) {
		snprintf(err, errlen, "too many startup parameters");
		return "54000";
	}
	return NULL;
}

/* Reads the next whitespace-separated word of an options string, with
 * backslash escapes as libpq writes them. NULL when the word does not fit
 * in cap. */
static const char *params_next_word(const char *s, char *word, size_t cap)
{
	size_t n = 0;

	while (isspace((unsigned char)*s))
		s++;
	while (*s != '\0' && !isspace((unsigned char)*s)) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (n + 1 >= cap)
			return NULL;
		word[n++] = *s;
		s++;
	}
	word[n] = '\0';
	return s;
}

/* Applies one `name=value` switch; PostgreSQL turns dashes into
 * underscores in the --name form. */
static const char *params_switch(struct params *out, char *arg, bool dashes,
				 char *err, size_t errlen)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL) {
		snprintf(err, errlen, "-c %.64s requires a value", arg);
		return "42601";
	}
	*eq = '\0';
	for (char *p = arg; dashes && *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return params_add(out, arg, eq + 1, err, errlen);
}

static const char *params_options(struct params *out, const char *opts,
				  char *err, size_t errlen)
{
	char word[1024];
	const char *state = NULL;

	while (state == NULL) {
		opts = params_next_word(opts, word, sizeof(word));
		if (opts == NULL)
			break;
		if (word[0] == '\0')
			return NULL;
		if (strcmp(word, "-c") == 0) {
			opts = params_next_word(opts, word, sizeof(word));
			if (opts == NULL)
				break;
			state = params_switch(out, word, false, err, errlen);
		} else if (strncmp(word, "-c", 2) == 0) {
			state =
			    params_switch(out, word + 2, false, err, errlen);
		} else if (strncmp(word, "--", 2) == 0) {
			state = params_switch(out, word + 2, true, err, errlen);
		} else {
			snprintf(err, errlen,
				 "pitlane accepts only -c name=value and "
				 "--name=value in options, got \"%.64s\"",
				 word);
			state = "0A000";
		}
	}
	if (state == NULL) {
		snprintf(err, errlen, "options word longer than %zu bytes",
			 sizeof(word) - 1);
		state = "54000";
	}
	return state;
}

const char *params_from_startup(struct params *out, const uint8_t *pkt,
				const struct proto_startup *st, char *err,
				size_t errlen)
{
	const char *state = NULL;

	const char *opts = proto_startup_get(pkt, st, "options");

	/* PostgreSQL applies options first: an explicit parameter wins. */
	if (opts != NULL)
		state = params_options(out, opts, err, errlen);
	for (unsigned i = 0; i < st->nparams && state == NULL; i++) {
		const char *key = (const char *)pkt + st->params[i].key;
		const char *val = (const char *)pkt + st->params[i].val;

		if (strcmp(key, "user") == 0 || strcmp(key, "database") == 0 ||
		    strcmp(key, "replication") == 0 ||
		    strcmp(key, "options") == 0 ||
		    strncmp(key, "_pq_.", 5) == 0)
			continue;
		state = params_add(out, key, val, err, errlen);
	}
	if (state == NULL && params_get(out, "application_name") == NULL)
		state = params_add(out, "application_name", "", err, errlen);
	return state;
}

/* PostgreSQL keeps printable ASCII up to 63 bytes as it is. */
static bool params_plain_appname(const char *v)
{
	size_t n = 0;

	for (; *v != '\0'; v++, n++)
		if (*v < 32 || *v > 126)
			return false;
	return n <= 63;
}

bool params_need_server(const struct params *want, const struct params *base)
{
	for (unsigned i = 0; i < want->n; i++) {
		const char *b = params_get(base, want->name[i]);

		if (b == NULL)
			return true;
		if (strcmp(b, want->value[i]) == 0)
			continue;
		if (strcasecmp(want->name[i], "application_name") != 0 ||
		    !params_plain_appname(want->value[i]))
			return true;
	}
	return false;
}

/* FNV-1a over one entry, the name folded to lower case. */
static uint64_t params_entry_hash(const char *name, const char *value)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)tolower((unsigned char)*name)) *
		    1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (; *value != '\0'; value++)
		h = (h ^ (uint8_t)*value) * 1099511628211ULL;
	return h;
}

uint64_t params_fingerprint(struct params *p)
{
	uint64_t fp = 0;

	if (p->fp_gen == p->gen + 1)
		return p->fp;
	for (unsigned i = 0; i < p->n; i++)
		fp += params_entry_hash(p->name[i], p->value[i]);
	p->fp = fp;
	p->fp_gen = p->gen + 1;
	return fp;
}

/* Shared sets: a hash table by fingerprint of sets nobody changes any
 * more. The event loop is single-threaded: the table needs no lock. */
#define PARAMS_SHARED_BUCKETS 256

struct params_shared {
	struct params_shared *next; /* in its bucket */
	unsigned refs;
	uint64_t fp;
	struct params set;
};

static struct params_shared *params_shared_table[PARAMS_SHARED_BUCKETS];
static const struct params params_none;

/* Whether a and b hold the same names (in any case) with the same
 * values. */
static bool params_equal(const struct params *a, const struct params *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++) {
		const char *v = params_get(b, a->name[i]);
		if (v == NULL || strcmp(v, a->value[i]) != 0)
			return false;
	}
	return true;
}

struct params_shared *params_share(struct params *p)
{
	uint64_t fp = params_fingerprint(p);
	struct params_shared **head =
	    &params_shared_table[fp % PARAMS_SHARED_BUCKETS];
	struct params_shared *s;

	for (s = *head; s != NULL; s = s->next)
		if (s->fp == fp && params_equal(&s->set, p)) {
			s->refs++;
			return s;
		}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	if (!params_copy(&s->set, p)) {
		free(s);
		return NULL;
	}
	s->refs = 1;
	s->fp = fp;
	s->next = *head;
	*head = s;
	return s;
}

void params_unshare(struct params_shared *s)
{
	struct params_shared **pp;

	if (s == NULL || --s->refs > 0)
		return;
	pp = &params_shared_table[s->fp % PARAMS_SHARED_BUCKETS];
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	params_clear(&s->set);
	free(s);
}

const struct params *params_shared_get(const struct params_shared *s)
{
	return s != NULL ? &s->set : &params_none;
}
