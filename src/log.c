/* Structured logging: formats a record (JSON or text) into a caller's buffer
 * without allocating, and writes each record with one fwrite so records from
 * one process never interleave mid-line. */
#include "log.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define LOG_LINE_MAX 4096 /* longest record log_emit writes; longer is cut */
#define LOG_TAIL_MAX 3	  /* `"`, `}` and `\n` closing a cut record */

static FILE *log_out; /* NULL means stderr (not a constant initializer) */
static enum log_format log_fmt = LOG_FORMAT_JSON;
enum log_level log_min = LOG_LEVEL_INFO;

/* A bounded writer. Pieces are written whole or not at all, and once one
 * does not fit nothing more is written, so the buffer always holds a prefix
 * of the record that ends on a piece boundary; `want` keeps counting. */
struct out {
	char *buf;
	size_t lim;  /* bytes that may be written */
	size_t len;  /* bytes written */
	size_t want; /* bytes the whole record needs */
	bool full;   /* a piece did not fit */
	bool in_str; /* the written prefix ends inside a quoted string */
};

static void put(struct out *o, const char *s, size_t n)
{
	o->want += n;
	if (o->full || n > o->lim - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Ends a group of pieces that must appear together (a key and its value):
 * if any of them did not fit, the whole group is taken back. */
static bool group_end(struct out *o, size_t mark)
{
	if (!o->full)
		return true;
	o->len = mark;
	return false;
}

/* Writes the unit of s at its start (one byte, its escape, or one UTF-8
 * sequence so a cut never splits a character) and returns its length in s.
 * Control characters are always escaped so a record stays one line; quotes
 * and backslashes only inside quotes. */
static size_t put_unit(struct out *o, const char *s, bool quoted)
{
	unsigned char c = (unsigned char)s[0];
	char esc[8];
	size_t n = 1;

	if (quoted && (c == '"' || c == '\\')) {
		esc[0] = '\\';
		esc[1] = (char)c;
		put(o, esc, 2);
	} else if (c == '\n') {
		put_str(o, "\\n");
	} else if (c == '\t') {
		put_str(o, "\\t");
	} else if (c == '\r') {
		put_str(o, "\\r");
	} else if (c < 0x20) {
		snprintf(esc, sizeof(esc), "\\u%04x", c);
		put(o, esc, 6);
	} else {
		while (c >= 0xc0 && n < 4 &&
		       ((unsigned char)s[n] & 0xc0) == 0x80)
			n++;
		put(o, s, n);
	}
	return n;
}

static void put_escaped(struct out *o, const char *s, bool quoted)
{
	while (*s != '\0')
		s += put_unit(o, s, quoted);
}

/* Writes the contents of a string whose opening quote is in the same group
 * as its key, then the closing quote; a cut inside leaves in_str set. */
static void put_quoted_rest(struct out *o, size_t mark, const char *s)
{
	put_str(o, "\"");
	if (group_end(o, mark))
		o->in_str = true;
	put_escaped(o, s, true);
	put_str(o, "\"");
	if (!o->full)
		o->in_str = false;
}

static void put_int(struct out *o, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	put(o, num, (size_t)n);
}

/* "key": followed by the value; the first member has no comma. */
static void json_member(struct out *o, const struct log_field *f, bool first)
{
	size_t mark = o->len;

	put_str(o, first ? "\"" : ",\"");
	put_escaped(o, f->key, true);
	put_str(o, "\":");
	if (f->type == LOG_FIELD_STR && f->v.s != NULL) {
		put_quoted_rest(o, mark, f->v.s);
		return;
	}
	if (f->type == LOG_FIELD_STR)
		put_str(o, "null");
	else if (f->type == LOG_FIELD_INT)
		put_int(o, f->v.i);
	else
		put_str(o, f->v.b ? "true" : "false");
	group_end(o, mark);
}

static void json_body(struct out *o, const char *ts, enum log_level level,
		      const char *msg, const struct log_field *fields, size_t n)
{
	const struct log_field head[] = {
	    LF_STR("ts", ts),
	    LF_STR("level", log_level_name(level)),
	    LF_STR("msg", msg),
	};

	put_str(o, "{");
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		json_member(o, &head[i], i == 0);
	for (size_t i = 0; i < n; i++)
		json_member(o, &fields[i], false);
}

/* Text values are bare unless empty or holding what would make the line
 * ambiguous to read back: blanks, quotes, '=', backslashes, control bytes. */
static bool text_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

/* ` key=value`, the value quoted when it needs it. */
static void text_member(struct out *o, const struct log_field *f)
{
	size_t mark = o->len;

	put_str(o, " ");
	put_escaped(o, f->key, false);
	put_str(o, "=");
	if (f->type == LOG_FIELD_STR && f->v.s != NULL &&
	    text_needs_quotes(f->v.s)) {
		put_quoted_rest(o, mark, f->v.s);
		return;
	}
	if (f->type == LOG_FIELD_STR)
		put_escaped(o, f->v.s != NULL ? f->v.s : "null", false);
	else if (f->type == LOG_FIELD_INT)
		put_int(o, f->v.i);
	else
		put_str(o, f->v.b ? "true" : "false");
	group_end(o, mark);
}

static const char *text_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG:
		return "DEBUG";
	case LOG_LEVEL_INFO:
		return "INFO ";
	case LOG_LEVEL_WARN:
		return "WARN ";
	case LOG_LEVEL_ERROR:
		return "ERROR";
	}
	return "?    ";
}

static void text_body(struct out *o, const char *ts, enum log_level level,
		      const char *msg, const struct log_field *fields, size_t n)
{
	put_str(o, ts);
	put_str(o, " ");
	put_str(o, text_level_name(level));
	put_str(o, " ");
	put_escaped(o, msg != NULL ? msg : "", false);
	for (size_t i = 0; i < n; i++)
		text_member(o, &fields[i]);
}

/* RFC 3339 in UTC with milliseconds, e.g. 2026-11-27T10:00:00.123Z. */
static void format_ts(char ts[32], int64_t epoch_ms)
{
	int64_t ms = epoch_ms % 1000;
	time_t sec = (time_t)(epoch_ms / 1000);
	struct tm tm;
	size_t n = 0;

	if (ms < 0) {
		ms += 1000;
		sec--;
	}
	if (gmtime_r(&sec, &tm) != NULL)
		n = strftime(ts, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		n = (size_t)snprintf(ts, 24, "0000-00-00T00:00:00");
	snprintf(ts + n, 32 - n, ".%03dZ", (int)ms);
}

static void format_body(struct out *o, enum log_format format, const char *ts,
			enum log_level level, const char *msg,
			const struct log_field *fields, size_t n)
{
	if (format == LOG_FORMAT_TEXT)
		text_body(o, ts, level, msg, fields, n);
	else
		json_body(o, ts, level, msg, fields, n);
}

/* The record is formatted once; only when it does not fit is it formatted
 * again with room kept for the tail that closes an open string and the JSON
 * object, so a cut record is still one line and, in JSON, still an object
 * (given room for at least `{}` and the newline). */
size_t log_format_record(char *buf, size_t cap, enum log_format format,
			 int64_t epoch_ms, enum log_level level,
			 const char *msg, const struct log_field *fields,
			 size_t n)
{
	const char *close = format == LOG_FORMAT_TEXT ? "\n" : "}\n";
	char ts[32];
	char tail[LOG_TAIL_MAX + 1];
	struct out o = {.buf = buf, .lim = cap > 0 ? cap - 1 : 0};
	size_t want;

	format_ts(ts, epoch_ms);
	format_body(&o, format, ts, level, msg, fields, n);
	put_str(&o, close);
	want = o.want;
	if (!o.full || cap == 0) {
		if (cap > 0)
			buf[o.len] = '\0';
		return want;
	}

	o = (struct out){.buf = buf};
	o.lim = cap - 1 > LOG_TAIL_MAX ? cap - 1 - LOG_TAIL_MAX : 0;
	format_body(&o, format, ts, level, msg, fields, n);
	snprintf(tail, sizeof(tail), "%s%s", o.in_str ? "\"" : "", close);
	/* Too small even for the tail: keep its end, the newline. */
	size_t tlen = strlen(tail), room = cap - 1 - o.len;
	size_t skip = tlen > room ? tlen - room : 0;
	memcpy(buf + o.len, tail + skip, tlen - skip);
	buf[o.len + tlen - skip] = '\0';
	return want;
}

void log_setup(FILE *out, enum log_format format, enum log_level min_level)
{
	log_out = out;
	log_fmt = format;
	log_min = min_level;
}

void log_emit(enum log_level level, const char *msg,
	      const struct log_field *fields, size_t n)
{
	char line[LOG_LINE_MAX];
	struct timespec now;
	FILE *out = log_out != NULL ? log_out : stderr;
	size_t len;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	log_format_record(line, sizeof(line), log_fmt,
			  (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
			  level, msg, fields, n);
	len = strlen(line);
	fwrite(line, 1, len, out);
	fflush(out);
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG:
		return "debug";
	case LOG_LEVEL_INFO:
		return "info";
	case LOG_LEVEL_WARN:
		return "warn";
	case LOG_LEVEL_ERROR:
		return "error";
	}
	return "unknown";
}
