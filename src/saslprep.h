/* SASLprep (RFC 4013) of a password, as PostgreSQL applies it before
 * deriving SCRAM keys (pg_saslprep): libidn's stringprep tables for the
 * mapping and the checks, libunistring's NFKC. */
#ifndef PITLANE_SASLPREP_H
#define PITLANE_SASLPREP_H

enum saslprep_result {
	SASLPREP_OK,	     /* *out holds the prepared password */
	SASLPREP_NOT_UTF8,   /* input is not valid UTF-8 */
	SASLPREP_PROHIBITED, /* prohibited or unassigned code point, bidi
				rule broken, or nothing left after mapping */
	SASLPREP_ERROR,	     /* out of memory */
};

/* Prepares the NUL-terminated password `in` as pg_saslprep does: ASCII is
 * returned as it is; otherwise non-ASCII spaces become U+0020, "commonly
 * mapped to nothing" characters go, prohibited output, unassigned code
 * points (Unicode 3.2) and the bidi rules are checked on that mapped text
 * (PostgreSQL's order; RFC 4013 checks after normalising), and the result
 * is NFKC-normalised. On SASLPREP_OK *out is a new string for
 * saslprep_free; otherwise *out is NULL, and PostgreSQL, libpq and the
 * caller use the password's bytes unchanged (except on SASLPREP_ERROR). */
enum saslprep_result saslprep(const char *in, char **out)
    __attribute__((warn_unused_result));

/* Wipes and frees a string from saslprep. NULL-safe. */
void saslprep_free(char *s);

#endif
