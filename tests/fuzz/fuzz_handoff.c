/* libFuzzer target: a handed-over session (handoff.h) as the new process
 * reads it from the takeover socket. A decoded one must re-encode to the
 * same bytes (the format has one spelling per value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handoff_session s;
	struct handoff_buf b = {0};

	if (!handoff_decode(data, size, &s))
		return 0;
	handoff_begin(&b, &s);
	handoff_put_params(&b, &s.want);
	handoff_put_params(&b, &s.startup);
	handoff_put_stmt_count(&b, s.nstmts);
	for (unsigned i = 0; i < s.nstmts; i++)
		handoff_put_stmt(&b, s.stmts[i].name, s.stmts[i].body,
				 s.stmts[i].body_len, s.stmts[i].parse_len);
	handoff_end(&b, s.pending, s.pending_len);
	if (b.failed || b.len > size)
		abort();
	handoff_buf_free(&b);
	handoff_session_clear(&s);
	return 0;
}
