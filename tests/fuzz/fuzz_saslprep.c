/* libFuzzer target: SASLprep of a password (the bytes up to the first NUL).
 * A result is valid UTF-8, ASCII comes back as it is, and a refusal leaves
 * no output. (Preparing a result again may refuse it: the checks run before
 * NFKC, which can turn U+2135 ALEF SYMBOL, left-to-right, into a Hebrew
 * letter.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include "saslprep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out = (char *)1;
	enum saslprep_result r;

	memcpy(in, data, size);
	in[size] = '\0';
	r = saslprep(in, &out);
	if (r != SASLPREP_OK) {
		if (out != NULL || r == SASLPREP_ERROR || is_ascii(in))
			abort();
		free(in);
		return 0;
	}
	if (out == NULL ||
	    u8_check((const uint8_t *)out, strlen(out)) != NULL ||
	    (is_ascii(in) && strcmp(in, out) != 0))
		abort();
	saslprep_free(out);
	free(in);
	return 0;
}
