/* libFuzzer target: startup-phase packets (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest): proto_startup_length on the first bytes,
 * then proto_startup_parse on the whole packet, and every parameter read
 * back must lie inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_startup st;
	const char *err = NULL;
	uint32_t plen = 0;
	uint8_t *pkt;

	for (size_t n = 0; n <= size && n < 8; n++)
		if (proto_startup_length(data, n, &plen) == PROTO_OK && n < 4)
			abort();
	if (proto_startup_length(data, size, &plen) != PROTO_OK)
		return 0;
	if (plen < 8 || plen > PROTO_STARTUP_MAX)
		abort();
	if (size < plen)
		return 0;
	/* An exact-size copy: a read past the packet is an ASan report. */
	pkt = malloc(plen);
	if (pkt == NULL)
		return 0;
	memcpy(pkt, data, plen);
	if (proto_startup_parse(pkt, plen, &st, &err) != PROTO_OK) {
		if (err == NULL)
			abort();
		free(pkt);
		return 0;
	}
	if (st.nparams > PROTO_MAX_PARAMS)
		abort();
	for (unsigned i = 0; i < st.nparams; i++) {
		size_t k = st.params[i].key, v = st.params[i].val;
		if (k >= plen || v >= plen || !memchr(pkt + k, 0, plen - k) ||
		    !memchr(pkt + v, 0, plen - v))
			abort();
	}
	if (st.kind == PROTO_STARTUP) {
		static const char *const keys[] = {
		    "user",	   "database", "options", "application_name",
		    "replication", "_pq_.x"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const char *v = proto_startup_get(pkt, &st, keys[i]);
			if (v && (v < (const char *)pkt ||
				  v >= (const char *)pkt + plen))
				abort();
		}
	}
	free(pkt);
	return 0;
}
