/* libFuzzer target: pitlane's side of a SCRAM pass-through login fed the
 * server's startup-phase messages. Input: whole protocol frames (type,
 * int32 length, body), fed in order until the login ends; what is left
 * over is ignored. The client nonce is fixed ("FUZZNONCE"), so a seed can
 * carry a server-first that continues the exchange. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srvlogin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ck[32] = {1}, sk[32] = {2};
	struct srvlogin l;
	size_t off = 0;

	srvlogin_init(&l, ck, sk);
	if (!auth_scram_client_set_nonce(&l.scram, "FUZZNONCE"))
		abort();
	while (size - off >= PROTO_HEADER_LEN) {
		uint8_t type, out[1024];
		uint32_t len;
		struct proto_writer w;
		enum srvlogin_result r;

		if (proto_header_parse(data + off, size - off,
				       SRVLOGIN_MSG_MAX + 4, &type,
				       &len) != PROTO_OK ||
		    size - off < (size_t)len + 1)
			break;
		/* a heap copy of exactly the body: ASan sees any overread */
		uint8_t *body = malloc(len - 4 ? len - 4 : 1);
		if (body == NULL)
			abort();
		memcpy(body, data + off + PROTO_HEADER_LEN, len - 4);
		proto_writer_init(&w, out, sizeof(out));
		r = srvlogin_feed(&l, type, body, len - 4, &w);
		free(body);
		off += (size_t)len + 1;
		if (w.overflow)
			abort(); /* every reply fits 1 KiB */
		if (r == SRVLOGIN_FAIL && l.sqlstate[0] == '\0')
			abort();
		if (r != SRVLOGIN_CONTINUE)
			break;
	}
	srvlogin_free(&l);
	return 0;
}
