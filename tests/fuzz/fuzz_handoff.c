/* libFuzzer target: a handed-over session and a handed-over server
 * (handoff.h) as the new process reads them from the takeover socket; each
 * input is tried as both. A decoded one must re-encode to no more bytes
 * than it came in (a repeated parameter name keeps its last value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_server(const uint8_t *data, size_t size)
{
	struct handoff_server s;
	struct handoff_buf b = {0};

	if (!handoff_decode_server(data, size, &s))
		return;
	handoff_put_server(&b, &s);
	if (b.failed || b.len > size)
		abort();
	handoff_buf_free(&b);
	handoff_server_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct handoff_session s;
	struct handoff_buf b = {0};

	fuzz_server(data, size);
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
