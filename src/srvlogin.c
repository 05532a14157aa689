/* The frontend side of a SCRAM pass-through login: reads the server's
 * startup-phase messages by offsets and answers them, allocating nothing
 * but the parameter set it collects. */
#include "srvlogin.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define MECH "SCRAM-SHA-256"

static enum srvlogin_result
srvlogin_fail(struct srvlogin *l, const char *sqlstate, const char *what)
{
	snprintf(l->sqlstate, sizeof(l->sqlstate), "%s", sqlstate);
	snprintf(l->error, sizeof(l->error), "%s", what);
	return SRVLOGIN_FAIL;
}

void srvlogin_init(struct srvlogin *l, const uint8_t client_key[32],
		   const uint8_t server_key[32])
{
	memset(l, 0, sizeof(*l));
	auth_scram_client_init(&l->scram, client_key, server_key);
}

void srvlogin_startup(struct proto_writer *w, const char *user,
		      const char *database)
{
	size_t start = w->len;

	/* a startup packet has no type byte: write a placeholder length */
	proto_put_u32(w, 0);
	proto_put_u32(w, PROTO_CODE_V3);
	proto_put_str(w, "user");
	proto_put_str(w, user);
	proto_put_str(w, "database");
	proto_put_str(w, database);
	proto_put_str(w, "application_name");
	proto_put_str(w, "pitlane");
	proto_put_u8(w, 0);
	if (!w->overflow) {
		uint32_t n = (uint32_t)(w->len - start);
		uint8_t *p = w->buf + start;
		p[0] = (uint8_t)(n >> 24), p[1] = (uint8_t)(n >> 16);
		p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
	}
}

/* Whether the AuthenticationSASL list (NUL-terminated names, then an
 * empty one) offers SCRAM-SHA-256. */
static bool offers_scram(const uint8_t *p, size_t len)
{
	while (len > 0 && p[0] != '\0') {
		const uint8_t *nul = memchr(p, '\0', len);
		if (nul == NULL)
			return false;
		if ((size_t)(nul - p) == strlen(MECH) &&
		    memcmp(p, MECH, strlen(MECH)) == 0)
			return true;
		len -= (size_t)(nul - p) + 1;
		p = nul + 1;
	}
	return false;
}

static enum srvlogin_result srvlogin_sasl(struct srvlogin *l, const uint8_t *p,
					  size_t len, struct proto_writer *w)
{
	const char *first;
	size_t n;

	if (l->sasl_started)
		return srvlogin_fail(l, "08P01", "SASL restarted");
	if (!offers_scram(p, len))
		return srvlogin_fail(l, "28000",
				     "the server does not offer SCRAM-SHA-256");
	if (!auth_scram_client_first(&l->scram, &first, &n))
		return srvlogin_fail(l, "58000", "no random bytes");
	l->sasl_started = true;
	proto_begin(w, 'p');
	proto_put_str(w, MECH);
	proto_put_u32(w, (uint32_t)n);
	proto_put_bytes(w, first, n);
	proto_end(w);
	return SRVLOGIN_CONTINUE;
}

static enum srvlogin_result srvlogin_scram_fail(struct srvlogin *l)
{
	char what[128];

	snprintf(what, sizeof(what), "SCRAM pass-through: %s",
		 auth_reason_str(l->scram.reason));
	return srvlogin_fail(
	    l, l->scram.reason == AUTH_REASON_PROOF ? "28P01" : "08P01", what);
}

/* One Authentication message: code, then its data. */
static enum srvlogin_result srvlogin_auth(struct srvlogin *l,
					  const uint8_t *body, size_t len,
					  struct proto_writer *w)
{
	const char *out;
	size_t n;

	if (len < 4)
		return srvlogin_fail(l, "08P01",
				     "short Authentication message");
	switch (proto_get_u32(body)) {
	case 0: /* AuthenticationOk; without SASL: trust, as libpq allows */
		if (l->sasl_started && (l->scram.state != AUTH_CLIENT_DONE ||
					l->scram.reason != AUTH_REASON_NONE))
			return srvlogin_fail(l, "28000",
					     "the server ended SCRAM before "
					     "proving itself");
		l->authenticated = true;
		return SRVLOGIN_CONTINUE;
	case 10:
		return srvlogin_sasl(l, body + 4, len - 4, w);
	case 11:
		if (auth_scram_client_final(&l->scram, body + 4, len - 4, &out,
					    &n) != AUTH_CONTINUE)
			return srvlogin_scram_fail(l);
		proto_begin(w, 'p');
		proto_put_bytes(w, out, n);
		proto_end(w);
		return SRVLOGIN_CONTINUE;
	case 12:
		if (auth_scram_client_verify(&l->scram, body + 4, len - 4) !=
		    AUTH_OK)
			return srvlogin_scram_fail(l);
		return SRVLOGIN_CONTINUE;
	default:
		return srvlogin_fail(l, "28000",
				     "the server asks for another method "
				     "than SCRAM-SHA-256");
	}
}

/* ErrorResponse: keep its SQLSTATE and message. */
static enum srvlogin_result srvlogin_error(struct srvlogin *l,
					   const uint8_t *body, size_t len)
{
	long c = proto_error_field(body, len, 'C');
	long m = proto_error_field(body, len, 'M');

	const char *state = c >= 0 ? (const char *)body + c : "";

	/* a SQLSTATE is five characters; anything else is not one */
	srvlogin_fail(l, strlen(state) == 5 ? state : "08P01",
		      m >= 0 ? (const char *)body + m : "server error");
	return SRVLOGIN_FAIL;
}

enum srvlogin_result srvlogin_feed(struct srvlogin *l, uint8_t type,
				   const uint8_t *body, size_t len,
				   struct proto_writer *w)
{
	size_t name, value;

	if (len > SRVLOGIN_MSG_MAX)
		return srvlogin_fail(l, "08P01", "login message too large");
	switch (type) {
	case 'R':
		return srvlogin_auth(l, body, len, w);
	case 'E':
		return srvlogin_error(l, body, len);
	case 'N':
		return SRVLOGIN_CONTINUE;
	case 'S':
		if (!l->authenticated ||
		    proto_parameter_status_parse(body, len, &name, &value) !=
			PROTO_OK)
			return srvlogin_fail(l, "08P01", "bad ParameterStatus");
		if (!params_set(&l->params, (const char *)body + name,
				(const char *)body + value))
			return srvlogin_fail(l, "53200", "out of memory");
		return SRVLOGIN_CONTINUE;
	case 'K':
		if (!l->authenticated || len != 8)
			return srvlogin_fail(l, "08P01", "bad BackendKeyData");
		l->pid = proto_get_u32(body);
		l->key = proto_get_u32(body + 4);
		return SRVLOGIN_CONTINUE;
	case 'Z':
		if (!l->authenticated || len != 1)
			return srvlogin_fail(l, "08P01", "bad ReadyForQuery");
		return SRVLOGIN_READY;
	default:
		return srvlogin_fail(l, "08P01",
				     "unexpected message during login");
	}
}

void srvlogin_free(struct srvlogin *l)
{
	params_clear(&l->params);
	OPENSSL_cleanse(&l->scram, sizeof(l->scram));
}
