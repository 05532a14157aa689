/* The admin console's grammar, as PgBouncer's: one command per simple query,
 * `WORD [WORD]` or `SET key = value`, keywords without regard to case, an
 * optional trailing `;`. Pure: parses a byte string into a small struct of
 * fixed-size fields, allocates nothing, so it is unit tested and fuzzed. */
#ifndef PITLANE_ADMIN_PARSE_H
#define PITLANE_ADMIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define ADMIN_WORD_MAX	15  /* longest command keyword */
#define ADMIN_ARG_MAX	63  /* longest argument (database, SHOW subject) */
#define ADMIN_VALUE_MAX 255 /* longest SET value */

enum admin_verb {
	ADMIN_SHOW, /* SHOW x, or its alias SELECT x */
	ADMIN_PAUSE,
	ADMIN_RESUME,
	ADMIN_SUSPEND,
	ADMIN_RECONNECT,
	ADMIN_WAIT_CLOSE,
	ADMIN_KILL,
	ADMIN_KILL_CLIENT,
	ADMIN_DISABLE,
	ADMIN_ENABLE,
	ADMIN_SHUTDOWN,
	ADMIN_RELOAD,
	ADMIN_SET,
};

enum admin_parse_result {
	ADMIN_PARSE_OK,
	ADMIN_PARSE_INVALID,  /* not the grammar, or an unknown command */
	ADMIN_PARSE_BAD_ARGS, /* a word or value over its size limit */
};

struct admin_cmd {
	enum admin_verb verb;
	bool has_arg;
	char arg[ADMIN_ARG_MAX + 1];	 /* SHOW subject, database, SET key */
	char value[ADMIN_VALUE_MAX + 1]; /* SET value, quotes removed */
};

/* Parses one query text of len bytes (it need not be NUL-terminated; a NUL
 * inside makes it invalid). Only the words are checked here, not whether
 * a command takes an argument: that is the handler's. */
enum admin_parse_result admin_parse(const char *q, size_t len,
				    struct admin_cmd *out)
    __attribute__((warn_unused_result));

/* The verb's name as the command tag of its reply ("PAUSE", ...). */
const char *admin_verb_name(enum admin_verb v);

#endif
