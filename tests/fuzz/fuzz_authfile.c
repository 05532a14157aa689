/* libFuzzer target: the auth file parser (PgBouncer's userlist.txt) and
 * the lookup of a few names, among them the first name in the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errs[4][AUTHFILE_ERROR_LEN];
	unsigned nerrs = 0;
	enum authfile_kind kind;
	char name[64];
	/* An exact-size copy, not NUL-terminated: the parser gets a length. */
	char *text = malloc(size ? size : 1);
	struct authfile *a;

	memcpy(text, data, size);
	a = authfile_parse(text, size, "fuzz", errs, 4, &nerrs);
	if (nerrs > 4)
		abort();
	for (unsigned i = 0; i < nerrs; i++)
		if (!memchr(errs[i], '\0', AUTHFILE_ERROR_LEN))
			abort();
	if (a == NULL) {
		free(text);
		return 0;
	}
	if (nerrs != 0)
		abort();
	/* The first quoted name, as the lookup key. */
	const char *q = memchr(text, '"', size);
	size_t n = 0;
	if (q) {
		q++;
		while (q + n < text + size && q[n] != '"' &&
		       n < sizeof(name) - 1)
			n++;
	}
	memcpy(name, q ? q : "", n);
	name[n] = '\0';
	free(text); /* the entries must not point into the text */
	const char *const users[] = {name, "pitlane", "", "alice", "\"\""};
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		const char *secret = authfile_lookup(a, users[i], &kind);
		if (secret && kind != AUTHFILE_SCRAM && kind != AUTHFILE_MD5 &&
		    kind != AUTHFILE_PLAIN)
			abort();
		if (secret)
			(void)strlen(secret);
	}
	if (authfile_plain_count(a) > authfile_count(a))
		abort();
	authfile_free(a);
	return 0;
}
