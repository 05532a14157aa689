/* libFuzzer target: the admin console's grammar. Whatever the query, the
 * parse ends, every field it fills is a terminated string within its size,
 * and a parse that succeeds also succeeds on the same text followed by
 * `;` (the optional terminator). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_cmd cmd, again;
	char *q = malloc(size + 2);
	enum admin_parse_result r;

	memcpy(q, data, size);
	r = admin_parse(q, size, &cmd);
	if (!memchr(cmd.arg, '\0', sizeof(cmd.arg)) ||
	    !memchr(cmd.value, '\0', sizeof(cmd.value)))
		abort();
	if (r == ADMIN_PARSE_OK) {
		size_t n = size;
		while (n > 0 && strchr(" \t\n\r\f\v", q[n - 1]) != NULL)
			n--;
		if (n > 0 && q[n - 1] != ';') {
			q[n] = ';';
			if (admin_parse(q, n + 1, &again) != ADMIN_PARSE_OK ||
			    again.verb != cmd.verb ||
			    strcmp(again.arg, cmd.arg) != 0 ||
			    strcmp(again.value, cmd.value) != 0)
				abort();
		}
	}
	free(q);
	return 0;
}
