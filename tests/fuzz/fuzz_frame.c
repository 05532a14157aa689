/* libFuzzer target: message framing. The input is a byte stream of typed
 * messages: proto_header_parse is tried at every offset (with a limit
 * chosen by the first byte), the stream is walked message by message as
 * the relay does, and each body goes through the body readers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t limits[] = {4, 5, 1024, 1u << 20, 1u << 30, UINT32_MAX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_len, len;
	uint8_t type;
	size_t off;

	if (size < 1)
		return 0;
	max_len = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	data++;
	size--;

	/* Every offset, every prefix length up to a header. */
	for (off = 0; off < size; off++) {
		size_t avail = size - off;
		for (size_t n = 0; n <= avail && n <= PROTO_HEADER_LEN; n++) {
			enum proto_status st = proto_header_parse(
			    data + off, n, max_len, &type, &len);
			if (st == PROTO_OK &&
			    (n < PROTO_HEADER_LEN || len < 4 || len > max_len))
				abort();
			if (st == PROTO_NEED_MORE && n >= PROTO_HEADER_LEN)
				abort();
		}
	}

	/* The relay's walk: header, whole message, next. */
	for (off = 0; off < size;) {
		enum proto_status st = proto_header_parse(
		    data + off, size - off, max_len, &type, &len);
		if (st != PROTO_OK)
			break;
		if (size - off < (size_t)len + 1)
			break;
		const uint8_t *body = data + off + PROTO_HEADER_LEN;
		size_t blen = len - 4;
		size_t name_off, value_off;
		long f;

		if (type == 'S' &&
		    proto_parameter_status_parse(body, blen, &name_off,
						 &value_off) == PROTO_OK) {
			if (name_off >= blen || value_off >= blen ||
			    !memchr(body + name_off, '\0', blen - name_off) ||
			    !memchr(body + value_off, '\0', blen - value_off))
				abort();
		}
		if (type == 'E' || type == 'N') {
			static const uint8_t codes[] = {'C', 'M', 'S', 'D'};
			for (size_t i = 0; i < sizeof(codes); i++) {
				f = proto_error_field(body, blen, codes[i]);
				if (f >= 0 &&
				    ((size_t)f >= blen ||
				     !memchr(body + f, '\0', blen - (size_t)f)))
					abort();
			}
		}
		off += (size_t)len + 1;
	}

	/* The writer with the input as text, into a buffer that may be too
	 * small: overflow must stay sticky and in bounds. */
	{
		uint8_t out[256];
		char text[128];
		size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
		struct proto_writer w;

		memcpy(text, data, n);
		text[n] = '\0';
		proto_writer_init(&w, out, 16 + (size % 200));
		proto_write_error(&w, "FATAL", "08P01", text, text);
		proto_write_parameter_status(&w, text, text);
		proto_write_query(&w, text);
		if (w.len > w.cap)
			abort();
	}
	return 0;
}
