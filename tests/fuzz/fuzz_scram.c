/* libFuzzer target: the server side of a SCRAM-SHA-256 exchange. Input:
 * one flag byte, then the client-first and client-final messages separated
 * by the first 0xff byte (never part of a valid SCRAM message).
 *   bit 0: channel binding offered (TLS: -PLUS available)
 *   bit 1: the first part is the whole SASLInitialResponse body as is
 *   bit 2: the mechanism is SCRAM-SHA-256-PLUS (else SCRAM-SHA-256)
 *   bit 3: SASLInitialResponse without data (length -1); the client-first
 *          follows in its own SASLResponse
 * The verifier is the password "pencil" with a fixed salt and the server
 * nonce is fixed, so a seed can carry a valid proof and reach AUTH_OK. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#ifdef FUZZ_SCRAM_DEBUG
#include <stdio.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VERIFIER                                                               \
	"SCRAM-SHA-256$4096:AQIDBAUGBwgJCgsMDQ4PEA==$B9Mb8TSkDsvpddTD0BDmSDpJ" \
	"Ao08+gvK8zcSCGRjCZw=:0z4kjgndRyJQnA93HtYE376F1vMDI59QM1nDcPyu8Rw="
#define SERVER_NONCE "SERVERNONCE"

/* A result must come with a message in bounds, and a failure with a
 * reason. */
static void check(const struct auth_scram *s, enum auth_result r,
		  const char *out, size_t out_len)
{
	if (out == NULL)
		abort();
	if (out_len > 0 && (out < (const char *)s ||
			    out + out_len > (const char *)s + sizeof(*s)))
		abort();
	if (r == AUTH_FAIL && s->reason == AUTH_REASON_NONE)
		abort();
	if (r != AUTH_FAIL && s->reason != AUTH_REASON_NONE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_verifier v;
	static bool have_v;
	static uint8_t cbind[32];
	struct auth_scram s;
	const char *out;
	size_t out_len, first_len, final_len;
	const uint8_t *first, *final, *sep;
	uint8_t flags, *body, *buf;
	enum auth_result r;

	if (!have_v) {
		if (!auth_verifier_parse(VERIFIER, &v))
			abort();
		for (size_t i = 0; i < sizeof(cbind); i++)
			cbind[i] = (uint8_t)i;
		have_v = true;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	first = data + 1;
	sep = memchr(first, 0xff, size - 1);
	first_len = sep ? (size_t)(sep - first) : size - 1;
	final = sep ? sep + 1 : first + first_len;
	final_len = sep ? size - 1 - first_len - 1 : 0;

	auth_scram_init(&s, &v, (flags & 1) ? cbind : NULL,
			(flags & 1) ? sizeof(cbind) : 0);
	if (!auth_scram_set_nonce_for_test(&s, SERVER_NONCE))
		abort();
	(void)auth_scram_mechanisms(&s, &out_len);

	/* Exact-size heap copies: reading past a message is an ASan
	 * report. */
	if (flags & 2) {
		body = malloc(first_len ? first_len : 1);
		memcpy(body, first, first_len);
		r = auth_scram_step(&s, body, first_len, &out, &out_len);
		free(body);
	} else {
		const char *mech =
		    (flags & 4) ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
		size_t m = strlen(mech) + 1;
		bool split = flags & 8;
		size_t dlen = split ? 0 : first_len;
		uint32_t n = split ? UINT32_MAX : (uint32_t)first_len;

		body = malloc(m + 4 + dlen);
		memcpy(body, mech, m);
		body[m] = (uint8_t)(n >> 24);
		body[m + 1] = (uint8_t)(n >> 16);
		body[m + 2] = (uint8_t)(n >> 8);
		body[m + 3] = (uint8_t)n;
		memcpy(body + m + 4, first, dlen);
		r = auth_scram_step(&s, body, m + 4 + dlen, &out, &out_len);
		free(body);
		check(&s, r, out, out_len);
		if (split && r == AUTH_CONTINUE) {
			if (out_len != 0)
				abort();
			buf = malloc(first_len ? first_len : 1);
			memcpy(buf, first, first_len);
			r = auth_scram_step(&s, buf, first_len, &out, &out_len);
			free(buf);
		}
	}
	check(&s, r, out, out_len);
	if (r != AUTH_CONTINUE)
		return 0;
	buf = malloc(final_len ? final_len : 1);
	memcpy(buf, final, final_len);
	r = auth_scram_step(&s, buf, final_len, &out, &out_len);
	free(buf);
	check(&s, r, out, out_len);
#ifdef FUZZ_SCRAM_DEBUG
	fprintf(stderr, "result %d reason %s\n", (int)r,
		auth_reason_str(s.reason));
#endif
	/* Nothing is accepted after the end. */
	if (auth_scram_step(&s, (const uint8_t *)"x", 1, &out, &out_len) !=
	    AUTH_FAIL)
		abort();
	return 0;
}
