/* SCRAM-SHA-256 and MD5 password authentication, server side, as PostgreSQL
 * does it. Messages are parsed with a cursor over the caller's bytes; the
 * exchange state is one fixed-size struct; libcrypto does the hashing. */
#include "auth.h"
#include "saslprep.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define SCRAM_PREFIX	"SCRAM-SHA-256$"
#define MECH_SCRAM	"SCRAM-SHA-256"
#define MECH_SCRAM_PLUS "SCRAM-SHA-256-PLUS"
#define CBIND_TYPE	"tls-server-end-point"
#define NEW_SALT_LEN	16
#define NONCE_RAW_LEN	18  /* as PostgreSQL: 24 base64 characters */
#define B64_DECODE_MAX	128 /* longest base64 text we ever decode */
#define KEY_B64_LEN	44  /* base64 of a 32-byte key */

/* ---- base64 and small helpers ---- */

static bool is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Encodes n > 0 bytes into out (cap bytes, NUL included). Returns the
 * length written, 0 when it does not fit. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (n == 0 || n > INT_MAX / 2 || 4 * ((n + 2) / 3) + 1 > cap)
		return 0;
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decodes strict base64 (alphabet only, length a multiple of 4, '='
 * padding only at the end) into out. Returns the byte count, or -1 when
 * malformed or longer than cap. EVP_DecodeBlock alone would skip
 * whitespace and count padding as zero bytes. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint8_t tmp[B64_DECODE_MAX / 4 * 3];
	size_t pad = 0, len;

	if (n == 0 || n % 4 != 0 || n > B64_DECODE_MAX)
		return -1;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!is_b64_char(in[i]))
			return -1;
	len = n / 4 * 3 - pad;
	if (len > cap || EVP_DecodeBlock(tmp, (const unsigned char *)in,
					 (int)n) != (int)(n / 4 * 3))
		return -1;
	memcpy(out, tmp, len);
	return (int)len;
}

/* SCRAM's printable: 0x21..0x7E except ','. */
static bool is_printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7E || p[i] == ',')
			return false;
	return n > 0;
}

static bool hmac256(const uint8_t *key, size_t key_len, const void *msg,
		    size_t len, uint8_t out[AUTH_SCRAM_KEY_LEN])
{
	unsigned out_len = 0;

	return HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, &out_len) !=
		   NULL &&
	       out_len == AUTH_SCRAM_KEY_LEN;
}

static bool sha256(const void *msg, size_t len, uint8_t out[AUTH_SCRAM_KEY_LEN])
{
	return EVP_Digest(msg, len, out, NULL, EVP_sha256(), NULL) == 1;
}

/* ---- verifiers ---- */

/* Decodes exactly want bytes of base64 from [p, end) into out. */
static bool b64_field(const char *p, const char *end, uint8_t *out, size_t want)
{
	return b64_decode(p, (size_t)(end - p), out, want) == (int)want;
}

bool auth_verifier_parse(const char *text, struct auth_verifier *v)
{
	const char *p, *colon, *dollar, *colon2, *end;
	long long iter = 0;
	int n;

	memset(v, 0, sizeof(*v));
	if (strncmp(text, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) != 0)
		return false;
	p = text + strlen(SCRAM_PREFIX);
	colon = strchr(p, ':');
	if (!colon || colon == p || colon - p > 10)
		return false;
	for (; p < colon; p++) {
		if (*p < '0' || *p > '9')
			return false;
		iter = iter * 10 + (*p - '0');
	}
	dollar = strchr(colon + 1, '$');
	colon2 = dollar ? strchr(dollar + 1, ':') : NULL;
	if (!colon2 || iter < 1 || iter > INT_MAX)
		return false;
	end = colon2 + 1 + strlen(colon2 + 1);
	n = b64_decode(colon + 1, (size_t)(dollar - colon - 1), v->salt,
		       sizeof(v->salt));
	if (n < 1 ||
	    !b64_field(dollar + 1, colon2, v->stored_key, AUTH_SCRAM_KEY_LEN) ||
	    !b64_field(colon2 + 1, end, v->server_key, AUTH_SCRAM_KEY_LEN))
		return false;
	v->iterations = (int)iter;
	v->salt_len = (size_t)n;
	return true;
}

bool auth_verifier_format(const struct auth_verifier *v, char *text, size_t cap)
{
	char salt[AUTH_SALT_MAX * 2], stored[KEY_B64_LEN + 1],
	    server[KEY_B64_LEN + 1];
	int n;

	if (!b64_encode(v->salt, v->salt_len, salt, sizeof(salt)) ||
	    !b64_encode(v->stored_key, AUTH_SCRAM_KEY_LEN, stored,
			sizeof(stored)) ||
	    !b64_encode(v->server_key, AUTH_SCRAM_KEY_LEN, server,
			sizeof(server)))
		return false;
	n = snprintf(text, cap, SCRAM_PREFIX "%d:%s$%s:%s", v->iterations, salt,
		     stored, server);
	return n > 0 && (size_t)n < cap;
}

/* StoredKey and ServerKey from a salted password (RFC 5802 section 3). */
static bool derive_keys(const uint8_t salted[AUTH_SCRAM_KEY_LEN],
			struct auth_verifier *v)
{
	uint8_t client_key[AUTH_SCRAM_KEY_LEN];
	bool ok =
	    hmac256(salted, AUTH_SCRAM_KEY_LEN, "Client Key", 10, client_key) &&
	    sha256(client_key, sizeof(client_key), v->stored_key) &&
	    hmac256(salted, AUTH_SCRAM_KEY_LEN, "Server Key", 10,
		    v->server_key);

	OPENSSL_cleanse(client_key, sizeof(client_key));
	return ok;
}

bool auth_verifier_from_password(const char *password, struct auth_verifier *v,
				 char *text, size_t cap)
{
	uint8_t salted[AUTH_SCRAM_KEY_LEN];
	char *prep = NULL;
	enum saslprep_result r = saslprep(password, &prep);
	const char *pw = r == SASLPREP_OK ? prep : password;
	bool ok;

	memset(v, 0, sizeof(*v));
	v->iterations = AUTH_SCRAM_ITERATIONS;
	v->salt_len = NEW_SALT_LEN;
	ok = r != SASLPREP_ERROR && RAND_bytes(v->salt, NEW_SALT_LEN) == 1 &&
	     PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), v->salt, NEW_SALT_LEN,
			       v->iterations, EVP_sha256(), sizeof(salted),
			       salted) == 1 &&
	     derive_keys(salted, v) &&
	     (!text || auth_verifier_format(v, text, cap));
	OPENSSL_cleanse(salted, sizeof(salted));
	saslprep_free(prep);
	return ok;
}

/* Like PostgreSQL's mock_scram_secret, with keys derived from the secret
 * too; `mock` makes the proof check fail whatever they are. */
void auth_verifier_mock(const uint8_t secret[AUTH_MOCK_SECRET_LEN],
			const char *user, struct auth_verifier *v)
{
	uint8_t mac[AUTH_SCRAM_KEY_LEN];

	memset(v, 0, sizeof(*v));
	v->iterations = AUTH_SCRAM_ITERATIONS;
	v->salt_len = NEW_SALT_LEN;
	v->mock = true;
	if (hmac256(secret, AUTH_MOCK_SECRET_LEN, user, strlen(user), mac)) {
		memcpy(v->salt, mac, NEW_SALT_LEN);
		(void)derive_keys(mac, v);
	}
}

/* ---- SCRAM message grammar ---- */

/* A read position in a client message, which holds no NUL. */
struct cursor {
	const char *p, *end;
};

/* Reads "<attr>=<value>" ending at ',' or the end of the message and moves
 * past the ','. A ',' must be followed by another attribute. attr 0 reads
 * any letter and stores it in *got. */
static bool read_attr(struct cursor *c, char attr, char *got, const char **val,
		      size_t *len)
{
	const char *comma;
	char a;

	if (c->end - c->p < 2 || c->p[1] != '=')
		return false;
	a = c->p[0];
	if (attr ? a != attr
		 : !((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')))
		return false;
	*val = c->p + 2;
	comma = memchr(*val, ',', (size_t)(c->end - *val));
	*len = (size_t)((comma ? comma : c->end) - *val);
	c->p = comma ? comma + 1 : c->end;
	if (got)
		*got = a;
	return !comma || c->p < c->end;
}

/* Skips optional extensions "x=value" up to the end of the message. */
static bool skip_extensions(struct cursor *c)
{
	const char *val;
	size_t len;
	char a;

	while (c->p < c->end)
		if (!read_attr(c, 0, &a, &val, &len) || len == 0)
			return false;
	return true;
}

static enum auth_result fail(struct auth_scram *s, enum auth_reason why)
{
	s->state = AUTH_SCRAM_DONE;
	s->reason = why;
	return AUTH_FAIL;
}

/* Reads the gs2 header ("n,,", "y,,", "p=tls-server-end-point,,") and
 * checks it against the mechanism and our channel binding support. */
static enum auth_reason read_gs2(struct auth_scram *s, struct cursor *c)
{
	const char *start = c->p, *val;
	size_t len;

	if (c->p == c->end)
		return AUTH_REASON_MALFORMED;
	if (*c->p == 'p') {
		if (!read_attr(c, 'p', NULL, &val, &len))
			return AUTH_REASON_MALFORMED;
		if (len != strlen(CBIND_TYPE) || memcmp(val, CBIND_TYPE, len))
			return AUTH_REASON_UNSUPPORTED;
		if (!s->plus)
			return AUTH_REASON_CBIND_MISMATCH;
	} else if (*c->p == 'n' || *c->p == 'y') {
		if (c->end - c->p < 2 || c->p[1] != ',')
			return AUTH_REASON_MALFORMED;
		if (s->plus)
			return AUTH_REASON_CBIND_MISMATCH;
		if (*c->p == 'y' && s->cbind_len > 0)
			return AUTH_REASON_CBIND_DOWNGRADE;
		c->p += 2;
	} else {
		return AUTH_REASON_MALFORMED;
	}
	if (c->p < c->end && *c->p == 'a')
		return AUTH_REASON_UNSUPPORTED; /* authzid */
	if (c->p == c->end || *c->p != ',')
		return AUTH_REASON_MALFORMED;
	c->p++;
	s->gs2_len = (size_t)(c->p - start);
	memcpy(s->gs2, start, s->gs2_len); /* at most 24 bytes */
	return AUTH_REASON_NONE;
}

/* Reads client-first-message-bare: [m=...] n=user,r=nonce[,ext...]. */
static enum auth_reason read_bare(struct auth_scram *s, struct cursor *c,
				  const char **nonce, size_t *nonce_len)
{
	const char *user;
	size_t user_len;

	s->bare_len = (size_t)(c->end - c->p);
	memcpy(s->bare, c->p, s->bare_len);
	if (c->end - c->p >= 2 && c->p[0] == 'm' && c->p[1] == '=')
		return AUTH_REASON_UNSUPPORTED;
	if (!read_attr(c, 'n', NULL, &user, &user_len) ||
	    !read_attr(c, 'r', NULL, nonce, nonce_len) ||
	    !is_printable(*nonce, *nonce_len) || !skip_extensions(c))
		return AUTH_REASON_MALFORMED;
	return AUTH_REASON_NONE;
}

/* Chooses the server nonce and writes server-first-message. */
static enum auth_reason
write_server_first(struct auth_scram *s, const char *cnonce, size_t cnonce_len)
{
	uint8_t raw[NONCE_RAW_LEN];
	char salt[AUTH_SALT_MAX * 2];
	int n;

	if (!s->snonce[0] &&
	    (RAND_bytes(raw, sizeof(raw)) != 1 ||
	     !b64_encode(raw, sizeof(raw), s->snonce, sizeof(s->snonce))))
		return AUTH_REASON_INTERNAL;
	if (!b64_encode(s->v.salt, s->v.salt_len, salt, sizeof(salt)))
		return AUTH_REASON_INTERNAL;
	n = snprintf(s->first, sizeof(s->first), "r=%.*s%s,s=%s,i=%d",
		     (int)cnonce_len, cnonce, s->snonce, salt, s->v.iterations);
	if (n < 0 || (size_t)n >= sizeof(s->first))
		return AUTH_REASON_INTERNAL; /* sized so this cannot happen */
	s->first_len = (size_t)n;
	s->nonce_len = cnonce_len + strlen(s->snonce);
	return AUTH_REASON_NONE;
}

static enum auth_result client_first(struct auth_scram *s, const uint8_t *data,
				     size_t len, const char **out,
				     size_t *out_len)
{
	struct cursor c = {(const char *)data, (const char *)data + len};
	enum auth_reason why;
	const char *nonce;
	size_t nonce_len;

	if (len > AUTH_SCRAM_MSG_MAX || memchr(data, '\0', len))
		return fail(s, AUTH_REASON_MALFORMED);
	why = read_gs2(s, &c);
	if (why == AUTH_REASON_NONE)
		why = read_bare(s, &c, &nonce, &nonce_len);
	if (why == AUTH_REASON_NONE)
		why = write_server_first(s, nonce, nonce_len);
	if (why != AUTH_REASON_NONE)
		return fail(s, why);
	s->state = AUTH_SCRAM_WAIT_FINAL;
	*out = s->first;
	*out_len = s->first_len;
	return AUTH_CONTINUE;
}

/* SASLInitialResponse: mechanism\0, int32 length (-1: none), data. */
static enum auth_result initial_response(struct auth_scram *s,
					 const uint8_t *body, size_t len,
					 const char **out, size_t *out_len)
{
	const uint8_t *nul = memchr(body, '\0', len), *p;
	size_t rest;
	uint32_t n;

	if (!nul || (size_t)(body + len - nul) < 5)
		return fail(s, AUTH_REASON_MALFORMED);
	if (strcmp((const char *)body, MECH_SCRAM_PLUS) == 0 &&
	    s->cbind_len > 0)
		s->plus = true;
	else if (strcmp((const char *)body, MECH_SCRAM) != 0)
		return fail(s, AUTH_REASON_MECHANISM);
	p = nul + 5;
	rest = (size_t)(body + len - p);
	n = (uint32_t)nul[1] << 24 | (uint32_t)nul[2] << 16 |
	    (uint32_t)nul[3] << 8 | nul[4];
	if (n == UINT32_MAX && rest == 0) {
		s->state = AUTH_SCRAM_WAIT_FIRST;
		*out = "";
		return AUTH_CONTINUE;
	}
	if (n != rest)
		return fail(s, AUTH_REASON_MALFORMED);
	return client_first(s, p, rest, out, out_len);
}

/* Checks c=: base64(gs2 header + our certificate hash when 'p'). */
static bool cbind_matches(const struct auth_scram *s, const char *val,
			  size_t len)
{
	uint8_t input[sizeof(s->gs2) + AUTH_CBIND_MAX];
	char expect[sizeof(input) * 2];
	size_t n = s->gs2_len, elen;

	memcpy(input, s->gs2, n);
	if (s->plus) {
		memcpy(input + n, s->cbind, s->cbind_len);
		n += s->cbind_len;
	}
	elen = b64_encode(input, n, expect, sizeof(expect));
	return elen == len && memcmp(expect, val, len) == 0;
}

/* Verifies ClientProof over AuthMessage and writes server-final. Does the
 * same work for a mock verifier, which then fails. */
static enum auth_result check_proof(struct auth_scram *s, const char *final,
				    size_t final_len,
				    const uint8_t proof[AUTH_SCRAM_KEY_LEN],
				    const char **out, size_t *out_len)
{
	char msg[sizeof(s->bare) + sizeof(s->first) + AUTH_SCRAM_MSG_MAX + 2];
	uint8_t sig[AUTH_SCRAM_KEY_LEN], key[AUTH_SCRAM_KEY_LEN],
	    stored[AUTH_SCRAM_KEY_LEN];
	size_t n = 0;
	bool ok;

	memcpy(msg, s->bare, s->bare_len);
	n += s->bare_len;
	msg[n++] = ',';
	memcpy(msg + n, s->first, s->first_len);
	n += s->first_len;
	msg[n++] = ',';
	memcpy(msg + n, final, final_len);
	n += final_len;

	ok = hmac256(s->v.stored_key, AUTH_SCRAM_KEY_LEN, msg, n, sig);
	for (size_t i = 0; i < AUTH_SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	ok = sha256(key, sizeof(key), stored) && ok;
	ok = CRYPTO_memcmp(stored, s->v.stored_key, AUTH_SCRAM_KEY_LEN) == 0 &&
	     ok && !s->v.mock;
	if (ok)
		memcpy(s->client_key, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	if (!ok)
		return fail(s, AUTH_REASON_PROOF);
	s->have_client_key = true;
	memcpy(s->final, "v=", 2);
	if (!hmac256(s->v.server_key, AUTH_SCRAM_KEY_LEN, msg, n, sig) ||
	    !b64_encode(sig, sizeof(sig), s->final + 2, sizeof(s->final) - 2))
		return fail(s, AUTH_REASON_INTERNAL);
	s->final_len = 2 + KEY_B64_LEN;
	s->state = AUTH_SCRAM_DONE;
	*out = s->final;
	*out_len = s->final_len;
	return AUTH_OK;
}

/* client-final-message: c=cbind,r=nonce[,ext...],p=proof. */
static enum auth_result client_final(struct auth_scram *s, const uint8_t *data,
				     size_t len, const char **out,
				     size_t *out_len)
{
	struct cursor c = {(const char *)data, (const char *)data + len};
	const char *cb, *nonce, *val, *at;
	size_t cb_len, nonce_len, vlen;
	uint8_t proof[AUTH_SCRAM_KEY_LEN];
	char a = 0;

	if (len > AUTH_SCRAM_MSG_MAX || memchr(data, '\0', len) ||
	    !read_attr(&c, 'c', NULL, &cb, &cb_len) ||
	    !read_attr(&c, 'r', NULL, &nonce, &nonce_len))
		return fail(s, AUTH_REASON_MALFORMED);
	do {
		at = c.p;
		if (!read_attr(&c, 0, &a, &val, &vlen) || vlen == 0)
			return fail(s, AUTH_REASON_MALFORMED);
	} while (a != 'p');
	if (c.p != c.end ||
	    b64_decode(val, vlen, proof, sizeof(proof)) != AUTH_SCRAM_KEY_LEN)
		return fail(s, AUTH_REASON_MALFORMED);
	if (!cbind_matches(s, cb, cb_len))
		return fail(s, AUTH_REASON_CBIND_MISMATCH);
	if (nonce_len != s->nonce_len || memcmp(nonce, s->first + 2, nonce_len))
		return fail(s, AUTH_REASON_NONCE);
	return check_proof(s, (const char *)data,
			   (size_t)(at - 1 - (const char *)data), proof, out,
			   out_len);
}

/* ---- SCRAM exchange ---- */

const char *auth_reason_str(enum auth_reason r)
{
	switch (r) {
	case AUTH_REASON_NONE:
		return "no failure";
	case AUTH_REASON_MALFORMED:
		return "malformed SCRAM message";
	case AUTH_REASON_MECHANISM:
		return "invalid SASL mechanism";
	case AUTH_REASON_UNSUPPORTED:
		return "unsupported SCRAM feature";
	case AUTH_REASON_CBIND_DOWNGRADE:
		return "channel binding downgrade";
	case AUTH_REASON_CBIND_MISMATCH:
		return "channel binding mismatch";
	case AUTH_REASON_NONCE:
		return "SCRAM nonce mismatch";
	case AUTH_REASON_PROOF:
		return "password authentication failed";
	case AUTH_REASON_STATE:
		return "SCRAM exchange already finished";
	case AUTH_REASON_INTERNAL:
		return "internal error";
	}
	return "unknown";
}

void auth_scram_init(struct auth_scram *s, const struct auth_verifier *v,
		     const uint8_t *cbind, size_t cbind_len)
{
	assert(v && v->salt_len > 0 && v->salt_len <= AUTH_SALT_MAX);
	assert(cbind_len <= AUTH_CBIND_MAX && (cbind || cbind_len == 0));
	memset(s, 0, sizeof(*s));
	s->state = AUTH_SCRAM_START;
	s->v = *v;
	if (cbind_len)
		memcpy(s->cbind, cbind, cbind_len);
	s->cbind_len = cbind_len;
}

const uint8_t *auth_scram_mechanisms(const struct auth_scram *s, size_t *len)
{
	static const char plus[] = MECH_SCRAM_PLUS "\0" MECH_SCRAM "\0";
	static const char plain[] = MECH_SCRAM "\0";

	/* sizeof counts the literal's own NUL: the list's final empty name */
	*len = s->cbind_len ? sizeof(plus) : sizeof(plain);
	return (const uint8_t *)(s->cbind_len ? plus : plain);
}

enum auth_result auth_scram_step(struct auth_scram *s, const uint8_t *body,
				 size_t len, const char **out, size_t *out_len)
{
	*out = "";
	*out_len = 0;
	if (len == 0)
		body = (const uint8_t *)""; /* no NULL into memchr/memcpy */
	switch (s->state) {
	case AUTH_SCRAM_START:
		return initial_response(s, body, len, out, out_len);
	case AUTH_SCRAM_WAIT_FIRST:
		return client_first(s, body, len, out, out_len);
	case AUTH_SCRAM_WAIT_FINAL:
		return client_final(s, body, len, out, out_len);
	case AUTH_SCRAM_DONE:
		break;
	}
	return fail(s, AUTH_REASON_STATE);
}

bool auth_scram_set_nonce_for_test(struct auth_scram *s, const char *nonce)
{
	size_t n = strlen(nonce);

	if (n > AUTH_NONCE_MAX || !is_printable(nonce, n))
		return false;
	memcpy(s->snonce, nonce, n + 1);
	return true;
}

bool auth_scram_client_key(const struct auth_scram *s,
			   uint8_t key[AUTH_SCRAM_KEY_LEN])
{
	if (!s->have_client_key || s->reason != AUTH_REASON_NONE)
		return false;
	memcpy(key, s->client_key, AUTH_SCRAM_KEY_LEN);
	return true;
}

/* ---- client side (SCRAM pass-through) ---- */

#define CLIENT_BARE_PREFIX "n=,r="
#define CLIENT_GS2	   "n,,"
#define CLIENT_CBIND	   "biws" /* base64("n,,") */

static enum auth_result client_fail(struct auth_scram_client *c,
				    enum auth_reason why)
{
	c->state = AUTH_CLIENT_DONE;
	c->reason = why;
	return AUTH_FAIL;
}

void auth_scram_client_init(struct auth_scram_client *c,
			    const uint8_t client_key[AUTH_SCRAM_KEY_LEN],
			    const uint8_t server_key[AUTH_SCRAM_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	c->state = AUTH_CLIENT_START;
	memcpy(c->client_key, client_key, AUTH_SCRAM_KEY_LEN);
	memcpy(c->server_key, server_key, AUTH_SCRAM_KEY_LEN);
}

bool auth_scram_client_set_nonce(struct auth_scram_client *c, const char *nonce)
{
	size_t n = strlen(nonce);

	if (n > AUTH_NONCE_MAX || !is_printable(nonce, n))
		return false;
	memcpy(c->cnonce, nonce, n + 1);
	return true;
}

bool auth_scram_client_first(struct auth_scram_client *c, const char **out,
			     size_t *len)
{
	uint8_t raw[NONCE_RAW_LEN];
	int n;

	if (c->state != AUTH_CLIENT_START)
		return false;
	if (!c->cnonce[0] &&
	    (RAND_bytes(raw, sizeof(raw)) != 1 ||
	     !b64_encode(raw, sizeof(raw), c->cnonce, sizeof(c->cnonce))))
		return false;
	n = snprintf(c->msg, sizeof(c->msg), CLIENT_GS2 CLIENT_BARE_PREFIX "%s",
		     c->cnonce);
	c->msg_len = (size_t)n;
	c->state = AUTH_CLIENT_WAIT_FIRST;
	*out = c->msg;
	*len = c->msg_len;
	return true;
}

/* Reads server-first: r=<our nonce + server's>,s=<salt>,i=<count>[,ext].
 * *nonce, *nonce_len: the whole combined nonce. */
static enum auth_reason read_server_first(const struct auth_scram_client *c,
					  struct cursor *cur,
					  const char **nonce, size_t *nonce_len)
{
	uint8_t salt[AUTH_SALT_MAX];
	const char *val;
	size_t len, cn = strlen(c->cnonce);

	if (cur->end - cur->p >= 2 && cur->p[0] == 'm' && cur->p[1] == '=')
		return AUTH_REASON_UNSUPPORTED;
	if (!read_attr(cur, 'r', NULL, nonce, nonce_len) ||
	    !is_printable(*nonce, *nonce_len))
		return AUTH_REASON_MALFORMED;
	if (*nonce_len <= cn || memcmp(*nonce, c->cnonce, cn) != 0)
		return AUTH_REASON_NONCE;
	if (!read_attr(cur, 's', NULL, &val, &len) ||
	    b64_decode(val, len, salt, sizeof(salt)) < 1 ||
	    !read_attr(cur, 'i', NULL, &val, &len) || len == 0 || len > 10)
		return AUTH_REASON_MALFORMED;
	for (size_t i = 0; i < len; i++)
		if (val[i] < '0' || val[i] > '9')
			return AUTH_REASON_MALFORMED;
	return skip_extensions(cur) ? AUTH_REASON_NONE : AUTH_REASON_MALFORMED;
}

/* Signs AuthMessage (bare + "," + server-first + "," + final-without-proof)
 * and appends ",p=<proof>" to c->msg; keeps the server's expected
 * signature. */
static bool client_sign(struct auth_scram_client *c, const uint8_t *first,
			size_t first_len)
{
	char am[sizeof(c->msg) + AUTH_SCRAM_MSG_MAX + 64];
	uint8_t stored[AUTH_SCRAM_KEY_LEN], sig[AUTH_SCRAM_KEY_LEN];
	int n = snprintf(am, sizeof(am), CLIENT_BARE_PREFIX "%s,%.*s,%.*s",
			 c->cnonce, (int)first_len, (const char *)first,
			 (int)c->msg_len, c->msg);
	bool ok = n > 0 && (size_t)n < sizeof(am) &&
		  sha256(c->client_key, AUTH_SCRAM_KEY_LEN, stored) &&
		  hmac256(stored, sizeof(stored), am, (size_t)n, sig) &&
		  hmac256(c->server_key, AUTH_SCRAM_KEY_LEN, am, (size_t)n,
			  c->server_sig);

	for (size_t i = 0; ok && i < AUTH_SCRAM_KEY_LEN; i++)
		sig[i] ^= c->client_key[i];
	if (ok && c->msg_len + 3 + KEY_B64_LEN + 1 <= sizeof(c->msg)) {
		memcpy(c->msg + c->msg_len, ",p=", 3);
		c->msg_len += 3;
		c->msg_len += b64_encode(sig, sizeof(sig), c->msg + c->msg_len,
					 sizeof(c->msg) - c->msg_len);
	} else {
		ok = false;
	}
	OPENSSL_cleanse(sig, sizeof(sig));
	return ok;
}

enum auth_result auth_scram_client_final(struct auth_scram_client *c,
					 const uint8_t *data, size_t len,
					 const char **out, size_t *out_len)
{
	struct cursor cur = {(const char *)data, (const char *)data + len};
	const char *nonce = NULL;
	size_t nonce_len = 0;
	enum auth_reason why;
	int n;

	*out = "";
	*out_len = 0;
	if (c->state != AUTH_CLIENT_WAIT_FIRST)
		return client_fail(c, AUTH_REASON_STATE);
	if (len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(data, '\0', len))
		return client_fail(c, AUTH_REASON_MALFORMED);
	why = read_server_first(c, &cur, &nonce, &nonce_len);
	if (why != AUTH_REASON_NONE)
		return client_fail(c, why);
	n = snprintf(c->msg, sizeof(c->msg), "c=" CLIENT_CBIND ",r=%.*s",
		     (int)nonce_len, nonce);
	if (n < 0 || (size_t)n >= sizeof(c->msg))
		return client_fail(c, AUTH_REASON_MALFORMED);
	c->msg_len = (size_t)n;
	if (!client_sign(c, data, len))
		return client_fail(c, AUTH_REASON_INTERNAL);
	c->state = AUTH_CLIENT_WAIT_FINAL;
	*out = c->msg;
	*out_len = c->msg_len;
	return AUTH_CONTINUE;
}

enum auth_result auth_scram_client_verify(struct auth_scram_client *c,
					  const uint8_t *data, size_t len)
{
	uint8_t sig[AUTH_SCRAM_KEY_LEN];
	struct cursor cur = {(const char *)data, (const char *)data + len};
	const char *val;
	size_t vlen;

	if (c->state != AUTH_CLIENT_WAIT_FINAL)
		return client_fail(c, AUTH_REASON_STATE);
	if (len == 0 || len > AUTH_SCRAM_MSG_MAX || memchr(data, '\0', len) ||
	    !read_attr(&cur, 'v', NULL, &val, &vlen) ||
	    b64_decode(val, vlen, sig, sizeof(sig)) != AUTH_SCRAM_KEY_LEN ||
	    !skip_extensions(&cur))
		return client_fail(c, AUTH_REASON_MALFORMED);
	if (CRYPTO_memcmp(sig, c->server_sig, sizeof(sig)) != 0)
		return client_fail(c, AUTH_REASON_PROOF);
	c->state = AUTH_CLIENT_DONE;
	return AUTH_OK;
}

/* ---- MD5 ---- */

/* "md5" + hex(md5(a + b)) into out. */
static bool md5_hex(const void *a, size_t a_len, const void *b, size_t b_len,
		    char out[AUTH_MD5_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t digest[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, a, a_len) == 1 &&
		  EVP_DigestUpdate(ctx, b, b_len) == 1 &&
		  EVP_DigestFinal_ex(ctx, digest, NULL) == 1;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return false;
	memcpy(out, "md5", 3);
	for (size_t i = 0; i < 16; i++) {
		out[3 + 2 * i] = hex[digest[i] >> 4];
		out[4 + 2 * i] = hex[digest[i] & 15];
	}
	out[AUTH_MD5_LEN] = '\0';
	return true;
}

bool auth_md5_stored(const char *password, const char *user,
		     char out[AUTH_MD5_LEN + 1])
{
	return md5_hex(password, strlen(password), user, strlen(user), out);
}

static bool is_md5_stored(const char *stored)
{
	if (strlen(stored) != AUTH_MD5_LEN || memcmp(stored, "md5", 3) != 0)
		return false;
	for (const char *p = stored + 3; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool auth_md5_expected(const char *stored,
		       const uint8_t salt[AUTH_MD5_SALT_LEN],
		       char out[AUTH_MD5_LEN + 1])
{
	return is_md5_stored(stored) && md5_hex(stored + 3, AUTH_MD5_LEN - 3,
						salt, AUTH_MD5_SALT_LEN, out);
}

bool auth_md5_verify(const char *stored, const uint8_t salt[AUTH_MD5_SALT_LEN],
		     const uint8_t *body, size_t len)
{
	static const char dummy[] = "md500000000000000000000000000000000";
	char expect[AUTH_MD5_LEN + 1];
	bool ok = auth_md5_expected(stored ? stored : dummy, salt, expect);

	if (len != AUTH_MD5_LEN + 1 || body[AUTH_MD5_LEN] != '\0')
		return false;
	return CRYPTO_memcmp(expect, body, AUTH_MD5_LEN) == 0 && ok && stored;
}

/* ---- channel binding ---- */

bool auth_cbind_hash(X509 *cert, uint8_t out[AUTH_CBIND_MAX], size_t *len)
{
	int md_nid = NID_undef;
	const EVP_MD *md;
	unsigned n = 0;

	if (!X509_get_signature_info(cert, &md_nid, NULL, NULL, NULL))
		return false;
	if (md_nid == NID_md5 || md_nid == NID_sha1)
		md_nid = NID_sha256;
	md = EVP_get_digestbynid(md_nid);
	if (!md || EVP_MD_get_size(md) > AUTH_CBIND_MAX ||
	    X509_digest(cert, md, out, &n) != 1)
		return false;
	*len = n;
	return true;
}
