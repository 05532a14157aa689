/* The auth file: users and their secrets in PgBouncer's userlist.txt format,
 * one `"user" "secret"` line each, looked up at login. Pure module. */
#ifndef PITLANE_AUTHFILE_H
#define PITLANE_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "errlist.h"

#define AUTHFILE_ERROR_LEN ERRLIST_LEN /* size of one error message buffer */

enum authfile_kind {
	AUTHFILE_SCRAM, /* "SCRAM-SHA-256$iter:salt$StoredKey:ServerKey" */
	AUTHFILE_MD5,	/* "md5" + 32 lower-case hex digits */
	AUTHFILE_PLAIN, /* anything else: a plaintext password */
};

struct authfile;

/* Parses the whole contents of an auth file; `name` prefixes messages. Both
 * fields are double-quoted, `""` standing for a quote inside; text after the
 * second field is ignored, as PgBouncer does; lines starting with ; or # are
 * comments. A secret that starts with "SCRAM-SHA-256$" must be a well-formed
 * verifier. Every error is recorded as "NAME:LINE: message" in errs (the
 * first max_errs; *nerrs says how many), never quoting a secret. Returns
 * NULL on any error or when memory ran out; free with authfile_free. */
struct authfile *authfile_parse(const char *text, size_t len, const char *name,
				char errs[][AUTHFILE_ERROR_LEN],
				unsigned max_errs, unsigned *nerrs)
    __attribute__((warn_unused_result));

/* The secret of user (exact, case-sensitive match) and its kind, or NULL
 * when the file does not list the user. O(log n). The string belongs to a
 * and lives until authfile_free. */
const char *authfile_lookup(const struct authfile *a, const char *user,
			    enum authfile_kind *kind);

unsigned authfile_count(const struct authfile *a);

/* User i (0 to authfile_count - 1), in strcmp order: SHOW USERS. */
const char *authfile_user(const struct authfile *a, unsigned i);

/* How many users have a plaintext password (the caller may warn). */
unsigned authfile_plain_count(const struct authfile *a);

/* Wipes the secrets and frees a (NULL-safe). */
void authfile_free(struct authfile *a);

#endif
