/* The admin console's grammar: a hand-written scanner over the query text
 * for PgBouncer's two forms, `WORD [WORD] [;]` and `SET key (=|TO) value
 * [;]`, where a word is [0-9A-Za-z_]+ or "double-quoted" and a value a
 * word or 'single-quoted' ('' for a quote). */
#include "admin_parse.h"

#include <string.h>
#include <strings.h>

struct admin_scan {
	const char *p, *end;
};

enum admin_word {
	ADMIN_WORD_NONE, /* no word here */
	ADMIN_WORD_OK,
	ADMIN_WORD_LONG, /* a word, longer than the room for it */
};

static const struct {
	const char *name; /* as typed, any case */
	const char *tag;  /* its reply's command tag */
	enum admin_verb verb;
} admin_verbs[] = {
    {"show", "SHOW", ADMIN_SHOW},
    {"select", "SHOW", ADMIN_SHOW},
    {"pause", "PAUSE", ADMIN_PAUSE},
    {"resume", "RESUME", ADMIN_RESUME},
    {"suspend", "SUSPEND", ADMIN_SUSPEND},
    {"reconnect", "RECONNECT", ADMIN_RECONNECT},
    {"wait_close", "WAIT_CLOSE", ADMIN_WAIT_CLOSE},
    {"kill", "KILL", ADMIN_KILL},
    {"kill_client", "KILL_CLIENT", ADMIN_KILL_CLIENT},
    {"disable", "DISABLE", ADMIN_DISABLE},
    {"enable", "ENABLE", ADMIN_ENABLE},
    {"shutdown", "SHUTDOWN", ADMIN_SHUTDOWN},
    {"reload", "RELOAD", ADMIN_RELOAD},
    {"set", "SET", ADMIN_SET},
};

static bool admin_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\f' || ch == '\v';
}

static bool admin_is_word_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || ch == '_';
}

/* Skips white space; returns how much was skipped. */
static size_t admin_skip_space(struct admin_scan *s)
{
	const char *start = s->p;

	while (s->p < s->end && admin_is_space(*s->p))
		s->p++;
	return (size_t)(s->p - start);
}

/* Copies [from, to) into out (cap bytes with the NUL), undoubling `quote`
 * when it is not NUL. */
static enum admin_word admin_copy(const char *from, const char *to, char quote,
				  char *out, size_t cap)
{
	size_t n = 0;

	for (const char *c = from; c < to; c++) {
		if (quote != '\0' && *c == quote)
			c++; /* the second of a doubled quote */
		if (n + 1 >= cap)
			return ADMIN_WORD_LONG;
		out[n++] = *c;
	}
	out[n] = '\0';
	return ADMIN_WORD_OK;
}

/* A bare word, or a string between `quote`s (doubled inside when
 * `doubled`); empty quotes are no word. */
static enum admin_word admin_read(struct admin_scan *s, char quote,
				  bool doubled, char *out, size_t cap)
{
	const char *start = s->p;

	if (s->p < s->end && *s->p == quote) {
		const char *c = ++s->p;
		for (;;) {
			if (c >= s->end) {
				s->p = start;
				return ADMIN_WORD_NONE;
			}
			if (*c == quote && doubled && c + 1 < s->end &&
			    c[1] == quote) {
				c += 2;
				continue;
			}
			if (*c == quote)
				break;
			c++;
		}
		s->p = c + 1;
		if (c == start + 1)
			return ADMIN_WORD_NONE;
		return admin_copy(start + 1, c, doubled ? quote : '\0', out,
				  cap);
	}
	while (s->p < s->end && admin_is_word_char(*s->p))
		s->p++;
	if (s->p == start)
		return ADMIN_WORD_NONE;
	return admin_copy(start, s->p, '\0', out, cap);
}

static enum admin_word admin_read_word(struct admin_scan *s, char *out,
				       size_t cap)
{
	return admin_read(s, '"', false, out, cap);
}

/* White space, an optional `;` and white space, then the end. */
static bool admin_at_end(struct admin_scan *s)
{
	admin_skip_space(s);
	if (s->p < s->end && *s->p == ';') {
		s->p++;
		admin_skip_space(s);
	}
	return s->p == s->end;
}

/* What follows `SET`: key (= | TO) value. */
static enum admin_parse_result admin_parse_set(struct admin_scan *s,
					       struct admin_cmd *out)
{
	enum admin_word r;

	if (admin_skip_space(s) == 0)
		return ADMIN_PARSE_INVALID;
	r = admin_read_word(s, out->arg, sizeof(out->arg));
	if (r == ADMIN_WORD_NONE)
		return ADMIN_PARSE_INVALID;
	if (r == ADMIN_WORD_LONG)
		return ADMIN_PARSE_BAD_ARGS;
	out->has_arg = true;
	admin_skip_space(s);
	if (s->p < s->end && *s->p == '=')
		s->p++;
	else if (s->end - s->p >= 2 && strncasecmp(s->p, "to", 2) == 0)
		s->p += 2;
	else
		return ADMIN_PARSE_INVALID;
	admin_skip_space(s);
	if (s->p < s->end && *s->p == '\'')
		r = admin_read(s, '\'', true, out->value, sizeof(out->value));
	else
		r = admin_read_word(s, out->value, sizeof(out->value));
	if (r == ADMIN_WORD_NONE || !admin_at_end(s))
		return ADMIN_PARSE_INVALID;
	return r == ADMIN_WORD_LONG ? ADMIN_PARSE_BAD_ARGS : ADMIN_PARSE_OK;
}

static bool admin_find_verb(const char *word, enum admin_verb *verb)
{
	for (size_t i = 0; i < sizeof(admin_verbs) / sizeof(admin_verbs[0]);
	     i++) {
		if (strcasecmp(word, admin_verbs[i].name) == 0) {
			*verb = admin_verbs[i].verb;
			return true;
		}
	}
	return false;
}

enum admin_parse_result admin_parse(const char *q, size_t len,
				    struct admin_cmd *out)
{
	struct admin_scan s = {q, q + len};
	char word[ADMIN_WORD_MAX + 1];
	enum admin_word r, r2 = ADMIN_WORD_OK;
	bool quoted;

	memset(out, 0, sizeof(*out));
	if (memchr(q, '\0', len) != NULL)
		return ADMIN_PARSE_INVALID;
	admin_skip_space(&s);
	quoted = s.p < s.end && *s.p == '"';
	r = admin_read_word(&s, word, sizeof(word));
	if (r == ADMIN_WORD_NONE)
		return ADMIN_PARSE_INVALID;
	if (r == ADMIN_WORD_OK && !quoted && strcasecmp(word, "set") == 0) {
		out->verb = ADMIN_SET;
		return admin_parse_set(&s, out);
	}
	if (admin_skip_space(&s) > 0 && s.p < s.end && *s.p != ';') {
		r2 = admin_read_word(&s, out->arg, sizeof(out->arg));
		if (r2 == ADMIN_WORD_NONE)
			return ADMIN_PARSE_INVALID;
		out->has_arg = true;
	}
	if (!admin_at_end(&s))
		return ADMIN_PARSE_INVALID;
	if (r == ADMIN_WORD_LONG || r2 == ADMIN_WORD_LONG)
		return ADMIN_PARSE_BAD_ARGS;
	if (!admin_find_verb(word, &out->verb) || out->verb == ADMIN_SET)
		return ADMIN_PARSE_INVALID;
	return ADMIN_PARSE_OK;
}

const char *admin_verb_name(enum admin_verb v)
{
	for (size_t i = 0; i < sizeof(admin_verbs) / sizeof(admin_verbs[0]);
	     i++)
		if (admin_verbs[i].verb == v)
			return admin_verbs[i].tag;
	return "SHOW";
}
