/* Structured logging: one record per line on stderr, JSON by default or
 * readable text. Pure module: no libevent, no sockets; records carry typed
 * fields so callers never format JSON by hand. */
#ifndef PITLANE_LOG_H
#define PITLANE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_JSON,
	LOG_FORMAT_TEXT,
};

enum log_field_type {
	LOG_FIELD_STR,
	LOG_FIELD_INT,
	LOG_FIELD_BOOL,
};

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s; /* NULL logs as null */
		int64_t i;
		bool b;
	} v;
};

/* Field constructors: log_at(LOG_LEVEL_INFO, "msg", LF_STR("a", x),
 * LF_INT("n", 1)). The fields live in a compound array on the caller's stack;
 * nothing is allocated. */
#define LF_STR(k, x)                                                           \
	{                                                                      \
		.key = (k), .type = LOG_FIELD_STR, .v.s = (x)                  \
	}
#define LF_INT(k, x)                                                           \
	{                                                                      \
		.key = (k), .type = LOG_FIELD_INT, .v.i = (int64_t)(x)         \
	}
#define LF_BOOL(k, x)                                                          \
	{                                                                      \
		.key = (k), .type = LOG_FIELD_BOOL, .v.b = (x)                 \
	}

#define log_at(lvl, msg, ...)                                                  \
	do {                                                                   \
		if (log_enabled(lvl)) {                                        \
			const struct log_field log_f_[] = {{0}, __VA_ARGS__};  \
			log_emit((lvl), (msg), log_f_ + 1,                     \
				 sizeof(log_f_) / sizeof(log_f_[0]) - 1);      \
		}                                                              \
	} while (0)

#define log_debug(msg, ...) log_at(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_at(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_at(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_at(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

/* Sets where records go, their format and the lowest level written. The
 * default is stderr, JSON, info. */
void log_setup(FILE *out, enum log_format format, enum log_level min_level);

/* The lowest level written (log_setup sets it). */
extern enum log_level log_min;

/* Whether a record at level would be written: inline, since the hot path
 * asks at every debug record it skips. */
static inline bool log_enabled(enum log_level level)
{
	return level >= log_min;
}

/* Writes one record with n fields. The timestamp is taken from the real-time
 * clock (RFC 3339, UTC, milliseconds). */
void log_emit(enum log_level level, const char *msg,
	      const struct log_field *fields, size_t n);

/* Formats one record into buf (always NUL-terminated, truncated to fit) with
 * the given timestamp in milliseconds since the epoch; returns the length it
 * wanted. log_emit uses it; tests call it directly. */
size_t log_format_record(char *buf, size_t cap, enum log_format format,
			 int64_t epoch_ms, enum log_level level,
			 const char *msg, const struct log_field *fields,
			 size_t n);

const char *log_level_name(enum log_level level);

#endif
