/* SASLprep of passwords as PostgreSQL does it (src/common/saslprep.c):
 * libidn's RFC 3454 tables map and check the code points, libunistring
 * normalises them. Every buffer of ours that held the password is wiped
 * before it is freed. */
#include "saslprep.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <stringprep.h>
#include <uninorm.h>
#include <unistr.h>

#define PROFILE_MAX 32 /* steps of libidn's SASLprep profile (17), and room */

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* libidn's SASLprep profile without its NFKC step: PostgreSQL maps, then
 * checks prohibited output, bidi and unassigned code points on the mapped
 * text, and only then normalises. Copied from the library's profile, whose
 * table sizes are not exported. false if it does not fit. */
static bool check_profile(Stringprep_profile p[PROFILE_MAX])
{
	size_t n = 0;

	for (const Stringprep_profile *s = stringprep_saslprep; s->operation;
	     s++) {
		if (s->operation == STRINGPREP_NFKC)
			continue;
		if (n + 1 >= PROFILE_MAX)
			return false;
		p[n++] = *s;
	}
	memset(&p[n], 0, sizeof(p[n]));
	return true;
}

/* Steps 1, 3 and 4 of RFC 3454 on u[0..*n) in place (cap code points of
 * room; mapping never lengthens the text). */
static enum saslprep_result map_and_check(uint32_t *u, size_t *n, size_t cap)
{
	Stringprep_profile profile[PROFILE_MAX];

	if (!check_profile(profile))
		return SASLPREP_ERROR;
	switch (stringprep_4i(u, n, cap, STRINGPREP_NO_UNASSIGNED, profile)) {
	case STRINGPREP_OK:
		/* As PostgreSQL: an empty password is not a prepared one. */
		return *n > 0 ? SASLPREP_OK : SASLPREP_PROHIBITED;
	case STRINGPREP_CONTAINS_UNASSIGNED:
	case STRINGPREP_CONTAINS_PROHIBITED:
	case STRINGPREP_BIDI_BOTH_L_AND_RAL:
	case STRINGPREP_BIDI_LEADTRAIL_NOT_RAL:
	case STRINGPREP_BIDI_CONTAINS_PROHIBITED:
		return SASLPREP_PROHIBITED;
	default:
		return SASLPREP_ERROR;
	}
}

/* NFKC of u[0..n) (n > 0) as a new NUL-terminated UTF-8 string in *out. */
static enum saslprep_result normalize(const uint32_t *u, size_t n, char **out)
{
	size_t m = 0, cap = 0;
	uint32_t *norm = u32_normalize(UNINORM_NFKC, u, n, NULL, &m);
	uint8_t *b = NULL;

	if (norm != NULL && m <= (SIZE_MAX - 1) / 4) {
		cap = 4 * m; /* at most four bytes per code point */
		b = malloc(cap + 1);
	}
	if (b != NULL && u32_to_u8(norm, m, b, &cap) == b) {
		b[cap] = '\0'; /* no NUL inside: none in, none out */
		*out = (char *)b;
		b = NULL;
	}
	wipe_free(norm, m * sizeof(*norm));
	wipe_free(b, cap + 1);
	return *out ? SASLPREP_OK : SASLPREP_ERROR;
}

enum saslprep_result saslprep(const char *in, char **out)
{
	size_t len = strlen(in), n = len;
	uint32_t *u;
	enum saslprep_result r;

	*out = NULL;
	if (is_ascii(in)) {
		*out = strdup(in);
		return *out ? SASLPREP_OK : SASLPREP_ERROR;
	}
	if (u8_check((const uint8_t *)in, len) != NULL)
		return SASLPREP_NOT_UTF8;
	/* At most one code point per byte, so u8_to_u32 fills u itself. */
	u = len <= SIZE_MAX / sizeof(*u) ? malloc(len * sizeof(*u)) : NULL;
	if (u == NULL || u8_to_u32((const uint8_t *)in, len, u, &n) != u)
		r = SASLPREP_ERROR;
	else
		r = map_and_check(u, &n, len);
	if (r == SASLPREP_OK)
		r = normalize(u, n, out);
	wipe_free(u, len * sizeof(*u));
	return r;
}

void saslprep_free(char *s)
{
	if (s != NULL)
		wipe_free(s, strlen(s));
}
