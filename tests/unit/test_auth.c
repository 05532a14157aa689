/* Unit tests for SCRAM-SHA-256 and MD5 authentication: RFC 7677's example
 * byte for byte, a SCRAM client written here from RFC 5802 driving full
 * exchanges (channel binding included), every truncation and a table of
 * malformed messages, verifier text, the unknown-user mock, MD5 vectors
 * computed with `openssl md5`, and the tls-server-end-point hash. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "auth.h"

/* RFC 7677 section 3. */
#define RFC_CNONCE	 "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE	 "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT	 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_FIRST	 "n,,n=user,r=" RFC_CNONCE
#define RFC_SERVER_FIRST "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL                                                              \
	"c=biws,r=" RFC_CNONCE RFC_SNONCE                                      \
	",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

#define CHECK(row, cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("%s: check failed: %s", (row), #cond);        \
	} while (0)

static const uint8_t test_cbind[32] = {
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba,
    0xcb, 0xdc, 0xed, 0xfe, 0x0f, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56,
    0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0};

/* A heap copy of exactly n bytes, so ASan catches any read past the end. */
static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	assert_non_null(c);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* ---- a SCRAM client, from RFC 5802 ---- */

static size_t b64(const uint8_t *in, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static size_t unb64(const char *in, size_t n, uint8_t *out)
{
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);

	assert_true(len >= 0);
	while (n > 0 && in[--n] == '=')
		len--;
	return (size_t)len;
}

static void hmac(const uint8_t *key, size_t key_len, const void *msg,
		 size_t len, uint8_t out[32])
{
	assert_non_null(
	    HMAC(EVP_sha256(), key, (int)key_len, msg, len, out, NULL));
}

/* What the client knows: its password and what it sent first. */
struct client {
	const char *password;
	const char *gs2;      /* "n,,", "y,," or "p=tls-server-end-point,," */
	const uint8_t *cbind; /* its view of the server certificate hash */
	size_t cbind_len;
	const char *bare; /* client-first-message-bare */
	uint8_t server_sig[32];
	const uint8_t *salted; /* SaltedPassword, else from the password */
};

/* The body of a SASLInitialResponse carrying gs2 + bare. */
static size_t initial_body(const char *mech, const char *gs2, const char *bare,
			   uint8_t *out)
{
	size_t m = strlen(mech) + 1;
	uint32_t n = (uint32_t)(strlen(gs2) + strlen(bare));

	memcpy(out, mech, m);
	out[m] = (uint8_t)(n >> 24);
	out[m + 1] = (uint8_t)(n >> 16);
	out[m + 2] = (uint8_t)(n >> 8);
	out[m + 3] = (uint8_t)n;
	memcpy(out + m + 4, gs2, strlen(gs2));
	memcpy(out + m + 4 + strlen(gs2), bare, strlen(bare));
	return m + 4 + n;
}

/* Reads server-first, writes client-final into out, and remembers the
 * ServerSignature the server must send back. */
static void client_final(struct client *c, const char *first, size_t first_len,
			 char *out)
{
	char sf[512], cbind_in[128], auth[2048], cb64[256], *r, *s, *i;
	uint8_t salt[128], salted[32], ckey[32], skey[32], stored[32], sig[32],
	    proof[32];
	size_t salt_len, gs2_len = strlen(c->gs2), n;

	assert_true(first_len < sizeof(sf));
	memcpy(sf, first, first_len);
	sf[first_len] = '\0';
	r = sf;
	s = strstr(sf, ",s=");
	i = strstr(sf, ",i=");
	assert_true(strncmp(r, "r=", 2) == 0 && s && i && s < i);
	*s = *i = '\0';
	salt_len = unb64(s + 3, strlen(s + 3), salt);
	if (c->salted)
		memcpy(salted, c->salted, 32);
	else
		assert_int_equal(
		    PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password),
				      salt, (int)salt_len, atoi(i + 3),
				      EVP_sha256(), 32, salted),
		    1);
	hmac(salted, 32, "Client Key", 10, ckey);
	hmac(salted, 32, "Server Key", 10, skey);
	assert_int_equal(EVP_Digest(ckey, 32, stored, NULL, EVP_sha256(), NULL),
			 1);

	memcpy(cbind_in, c->gs2, gs2_len);
	if (c->cbind_len)
		memcpy(cbind_in + gs2_len, c->cbind, c->cbind_len);
	b64((const uint8_t *)cbind_in, gs2_len + c->cbind_len, cb64);
	sprintf(out, "c=%s,%s", cb64, r); /* r still "r=<nonce>" */
	n = (size_t)sprintf(auth, "%s,%.*s,%s", c->bare, (int)first_len, first,
			    out);
	hmac(stored, 32, auth, n, sig);
	for (int k = 0; k < 32; k++)
		proof[k] = ckey[k] ^ sig[k];
	hmac(skey, 32, auth, n, c->server_sig);
	strcat(out, ",p=");
	b64(proof, 32, out + strlen(out));
}

/* Runs a whole exchange; returns the last result and leaves the failure
 * reason in s. */
static enum auth_result exchange(struct auth_scram *s, struct client *c,
				 const char *mech)
{
	uint8_t body[1024];
	char final[1024], expect[64];
	const char *out;
	size_t out_len, n = initial_body(mech, c->gs2, c->bare, body);
	enum auth_result r = auth_scram_step(s, body, n, &out, &out_len);

	if (r != AUTH_CONTINUE)
		return r;
	client_final(c, out, out_len, final);
	r = auth_scram_step(s, (const uint8_t *) final, strlen(final), &out,
			    &out_len);
	if (r == AUTH_OK) {
		b64(c->server_sig, 32, expect + 2);
		memcpy(expect, "v=", 2);
		assert_int_equal(out_len, strlen(expect));
		assert_memory_equal(out, expect, out_len);
	}
	return r;
}

/* The RFC 7677 user's verifier, computed the client's way. */
static void rfc_verifier(struct auth_verifier *v)
{
	uint8_t salted[32], ckey[32];

	memset(v, 0, sizeof(*v));
	v->iterations = 4096;
	v->salt_len = unb64(RFC_SALT, strlen(RFC_SALT), v->salt);
	assert_int_equal(PKCS5_PBKDF2_HMAC("pencil", 6, v->salt,
					   (int)v->salt_len, 4096, EVP_sha256(),
					   32, salted),
			 1);
	hmac(salted, 32, "Client Key", 10, ckey);
	hmac(salted, 32, "Server Key", 10, v->server_key);
	assert_int_equal(
	    EVP_Digest(ckey, 32, v->stored_key, NULL, EVP_sha256(), NULL), 1);
}

/* Starts the RFC exchange and checks server-first. */
static void rfc_first(struct auth_scram *s)
{
	struct auth_verifier v;
	uint8_t body[256];
	const char *out;
	size_t out_len, n;

	rfc_verifier(&v);
	auth_scram_init(s, &v, NULL, 0);
	assert_true(auth_scram_set_nonce_for_test(s, RFC_SNONCE));
	n = initial_body("SCRAM-SHA-256", "n,,", "n=user,r=" RFC_CNONCE, body);
	assert_int_equal(auth_scram_step(s, body, n, &out, &out_len),
			 AUTH_CONTINUE);
	assert_int_equal(out_len, strlen(RFC_SERVER_FIRST));
	assert_memory_equal(out, RFC_SERVER_FIRST, out_len);
}

static enum auth_result step_str(struct auth_scram *s, const char *msg)
{
	const char *out;
	size_t out_len;

	return auth_scram_step(s, (const uint8_t *)msg, strlen(msg), &out,
			       &out_len);
}

/* ---- tests ---- */

static void test_rfc7677(void **state)
{
	struct auth_scram s;
	const char *out;
	size_t out_len;

	(void)state;
	rfc_first(&s);
	assert_int_equal(auth_scram_step(&s, (const uint8_t *)RFC_FINAL,
					 strlen(RFC_FINAL), &out, &out_len),
			 AUTH_OK);
	assert_int_equal(out_len, strlen(RFC_SERVER_FINAL));
	assert_memory_equal(out, RFC_SERVER_FINAL, out_len);
	assert_int_equal(step_str(&s, RFC_FINAL), AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_STATE);

	/* an empty body with no buffer behind it, at each step */
	auth_scram_init(&s, &(struct auth_verifier){.salt_len = 1}, NULL, 0);
	assert_int_equal(auth_scram_step(&s, NULL, 0, &out, &out_len),
			 AUTH_FAIL);
	rfc_first(&s);
	assert_int_equal(auth_scram_step(&s, NULL, 0, &out, &out_len),
			 AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_MALFORMED);
}

static void test_rfc7677_client(void **state)
{
	struct auth_verifier v;
	struct auth_scram s;
	struct client c = {"pencil",	       "n,,", NULL, 0,
			   "n=,r=" RFC_CNONCE, {0},   NULL};

	(void)state;
	rfc_verifier(&v);
	auth_scram_init(&s, &v, NULL, 0);
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_OK);
	auth_scram_init(&s, &v, NULL, 0);
	c.password = "pencil2";
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_PROOF);
}

/* ---- SCRAM pass-through ---- */

/* The RFC's ClientKey, from the password as a client derives it. */
static void rfc_client_key(uint8_t ckey[32], uint8_t skey[32])
{
	struct auth_verifier v;
	uint8_t salted[32];

	rfc_verifier(&v);
	assert_int_equal(PKCS5_PBKDF2_HMAC("pencil", 6, v.salt, (int)v.salt_len,
					   4096, EVP_sha256(), 32, salted),
			 1);
	hmac(salted, 32, "Client Key", 10, ckey);
	memcpy(skey, v.server_key, 32);
}

static void test_recover_client_key(void **state)
{
	struct auth_scram s;
	uint8_t want[32], skey[32], got[32];

	(void)state;
	rfc_client_key(want, skey);
	rfc_first(&s);
	assert_false(auth_scram_client_key(&s, got));
	assert_int_equal(step_str(&s, RFC_FINAL), AUTH_OK);
	assert_true(auth_scram_client_key(&s, got));
	assert_memory_equal(got, want, 32);

	/* a wrong proof yields no key */
	rfc_first(&s);
	assert_int_equal(
	    step_str(&s, "c=biws,r=" RFC_CNONCE RFC_SNONCE
			 ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU="),
	    AUTH_FAIL);
	assert_false(auth_scram_client_key(&s, got));
}

/* pitlane as the client, with the RFC's keys and nonce: the exact RFC
 * client-final, and the RFC server-final accepted. */
static void test_client_rfc7677(void **state)
{
	struct auth_scram_client c;
	uint8_t ckey[32], skey[32];
	const char *out;
	size_t len;

	(void)state;
	rfc_client_key(ckey, skey);
	auth_scram_client_init(&c, ckey, skey);
	assert_true(auth_scram_client_set_nonce(&c, RFC_CNONCE));
	assert_true(auth_scram_client_first(&c, &out, &len));
	assert_int_equal(len, strlen("n,,n=,r=" RFC_CNONCE));
	assert_memory_equal(out, "n,,n=,r=" RFC_CNONCE, len);
	/* the RFC's bare message names "user"; ours is empty, as libpq's,
	 * so the proof differs from the RFC's: the server side checks it */
	assert_int_equal(
	    auth_scram_client_final(&c, (const uint8_t *)RFC_SERVER_FIRST,
				    strlen(RFC_SERVER_FIRST), &out, &len),
	    AUTH_CONTINUE);
	assert_true(len > strlen("c=biws,r=" RFC_CNONCE RFC_SNONCE ",p="));
	assert_memory_equal(out, "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=",
			    strlen("c=biws,r=" RFC_CNONCE RFC_SNONCE ",p="));

	/* the server side accepts that proof and signs what we expect */
	struct auth_verifier v;
	struct auth_scram s;
	uint8_t body[256];
	const char *sout;
	size_t slen, n;
	char final[256];

	memcpy(final, out, len);
	rfc_verifier(&v);
	auth_scram_init(&s, &v, NULL, 0);
	assert_true(auth_scram_set_nonce_for_test(&s, RFC_SNONCE));
	n = initial_body("SCRAM-SHA-256", "n,,", "n=,r=" RFC_CNONCE, body);
	assert_int_equal(auth_scram_step(&s, body, n, &sout, &slen),
			 AUTH_CONTINUE);
	assert_int_equal(
	    auth_scram_step(&s, (const uint8_t *) final, len, &sout, &slen),
	    AUTH_OK);
	assert_int_equal(
	    auth_scram_client_verify(&c, (const uint8_t *)sout, slen), AUTH_OK);
}

/* A server signature over another AuthMessage (the RFC's, which names
 * "user") is refused. */
static void test_client_proof_vector(void **state)
{
	struct auth_scram_client c;
	uint8_t ckey[32], skey[32];
	const char *out;
	size_t len;

	(void)state;
	rfc_client_key(ckey, skey);
	auth_scram_client_init(&c, ckey, skey);
	assert_true(auth_scram_client_set_nonce(&c, RFC_CNONCE));
	assert_true(auth_scram_client_first(&c, &out, &len));
	assert_int_equal(
	    auth_scram_client_final(&c, (const uint8_t *)RFC_SERVER_FIRST,
				    strlen(RFC_SERVER_FIRST), &out, &len),
	    AUTH_CONTINUE);
	/* the RFC's server signature is over another AuthMessage: refused */
	assert_int_equal(
	    auth_scram_client_verify(&c, (const uint8_t *)RFC_SERVER_FINAL,
				     strlen(RFC_SERVER_FINAL)),
	    AUTH_FAIL);
	assert_int_equal(c.reason, AUTH_REASON_PROOF);
}

/* Server messages that break the grammar or the nonce are refused. */
static void test_client_bad_server_first(void **state)
{
	static const char *const bad[] = {
	    "",
	    "r=" RFC_CNONCE ",s=" RFC_SALT ",i=4096", /* no server part */
	    "r=XXXX" RFC_SNONCE ",s=" RFC_SALT ",i=4096",
	    "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT,
	    "r=" RFC_CNONCE RFC_SNONCE ",s=!!!!,i=4096",
	    "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=40x6",
	    "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=",
	    "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096,",
	    "m=ext,r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096",
	    "e=other-error",
	};
	struct auth_scram_client c;
	uint8_t k[32] = {0};
	const char *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		auth_scram_client_init(&c, k, k);
		assert_true(auth_scram_client_set_nonce(&c, RFC_CNONCE));
		assert_true(auth_scram_client_first(&c, &out, &len));
		CHECK(bad[i], auth_scram_client_final(
				  &c, (const uint8_t *)bad[i], strlen(bad[i]),
				  &out, &len) == AUTH_FAIL);
		CHECK(bad[i], c.reason != AUTH_REASON_NONE);
	}
	/* every prefix of a good message is refused or accepted, never read
	 * past its end (ASan) */
	for (size_t n = 0; n <= strlen(RFC_SERVER_FIRST); n++) {
		uint8_t *p = exact_copy(RFC_SERVER_FIRST, n);
		auth_scram_client_init(&c, k, k);
		assert_true(auth_scram_client_set_nonce(&c, RFC_CNONCE));
		assert_true(auth_scram_client_first(&c, &out, &len));
		enum auth_result r =
		    auth_scram_client_final(&c, p, n, &out, &len);
		/* shorter i= values are valid messages too */
		assert_true(r == AUTH_FAIL || r == AUTH_CONTINUE);
		assert_true(r == AUTH_CONTINUE || n < strlen(RFC_SERVER_FIRST));
		free(p);
	}
	/* server-final out of order, and malformed */
	auth_scram_client_init(&c, k, k);
	assert_int_equal(
	    auth_scram_client_verify(&c, (const uint8_t *)RFC_SERVER_FINAL, 10),
	    AUTH_FAIL);
	assert_int_equal(c.reason, AUTH_REASON_STATE);
}

static void test_nonce_tampered(void **state)
{
	static const char *const finals[] = {
	    "c=biws,r=" RFC_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1"
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "c=biws,r=" RFC_CNONCE
	    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "c=biws,r=" RFC_CNONCE RFC_SNONCE
	    "x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	};
	struct auth_scram s;

	(void)state;
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		rfc_first(&s);
		assert_int_equal(step_str(&s, finals[i]), AUTH_FAIL);
		assert_int_equal(s.reason, AUTH_REASON_NONCE);
	}
	/* a proof that is not the client's: one flipped bit */
	rfc_first(&s);
	assert_int_equal(
	    step_str(&s, "c=biws,r=" RFC_CNONCE RFC_SNONCE
			 ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU="),
	    AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_PROOF);
}

/* Every proper prefix of the SASLInitialResponse body fails; every prefix
 * of client-first (with a matching length) fails as malformed unless it
 * still holds a whole nonce. */
static void test_truncated_first(void **state)
{
	uint8_t body[256], *copy;
	const char *out;
	size_t out_len, n;
	struct auth_verifier v;
	struct auth_scram s;
	const char *bare = "n=user,r=" RFC_CNONCE;
	size_t nonce_at = strlen("n,,n=user,r=");

	(void)state;
	rfc_verifier(&v);
	n = initial_body("SCRAM-SHA-256", "n,,", bare, body);
	for (size_t len = 0; len < n; len++) {
		auth_scram_init(&s, &v, NULL, 0);
		copy = exact_copy(body, len);
		assert_int_equal(auth_scram_step(&s, copy, len, &out, &out_len),
				 AUTH_FAIL);
		free(copy);
	}
	for (size_t len = 0; len < strlen(RFC_FIRST); len++) {
		char gs2[8] = {0}, rest[64] = {0};
		enum auth_result r;

		memcpy(gs2, RFC_FIRST, len < 3 ? len : 3);
		if (len > 3)
			memcpy(rest, &RFC_FIRST[3], len - 3);
		n = initial_body("SCRAM-SHA-256", gs2, rest, body);
		copy = exact_copy(body, n);
		auth_scram_init(&s, &v, NULL, 0);
		r = auth_scram_step(&s, copy, n, &out, &out_len);
		free(copy);
		if (len > nonce_at) {
			assert_int_equal(r, AUTH_CONTINUE);
		} else {
			assert_int_equal(r, AUTH_FAIL);
			assert_int_equal(s.reason, AUTH_REASON_MALFORMED);
		}
	}
}

static void test_truncated_final(void **state)
{
	struct auth_scram s;
	const char *out;
	size_t out_len;
	uint8_t *copy;

	(void)state;
	for (size_t len = 0; len < strlen(RFC_FINAL); len++) {
		rfc_first(&s);
		copy = exact_copy(RFC_FINAL, len);
		assert_int_equal(auth_scram_step(&s, copy, len, &out, &out_len),
				 AUTH_FAIL);
		assert_int_equal(s.reason, AUTH_REASON_MALFORMED);
		free(copy);
	}
}

struct bad_case {
	const char *name;
	const char *mech;
	const char *data; /* gs2 header + bare, or client-final */
	enum auth_reason reason;
};

static void test_malformed_first(void **state)
{
	static const struct bad_case cases[] = {
	    {"empty", "SCRAM-SHA-256", "", AUTH_REASON_MALFORMED},
	    {"bad flag", "SCRAM-SHA-256", "x,,n=,r=abc", AUTH_REASON_MALFORMED},
	    {"flag only", "SCRAM-SHA-256", "n", AUTH_REASON_MALFORMED},
	    {"no comma", "SCRAM-SHA-256", "nn,n=,r=abc", AUTH_REASON_MALFORMED},
	    {"authzid", "SCRAM-SHA-256", "n,a=bob,n=,r=abc",
	     AUTH_REASON_UNSUPPORTED},
	    {"mandatory ext", "SCRAM-SHA-256", "n,,m=x,n=,r=abc",
	     AUTH_REASON_UNSUPPORTED},
	    {"no user", "SCRAM-SHA-256", "n,,r=abc", AUTH_REASON_MALFORMED},
	    {"no nonce", "SCRAM-SHA-256", "n,,n=", AUTH_REASON_MALFORMED},
	    {"empty nonce", "SCRAM-SHA-256", "n,,n=,r=", AUTH_REASON_MALFORMED},
	    {"ctl nonce", "SCRAM-SHA-256", "n,,n=,r=a\x01z",
	     AUTH_REASON_MALFORMED},
	    {"space nonce", "SCRAM-SHA-256", "n,,n=,r=a z",
	     AUTH_REASON_MALFORMED},
	    {"high nonce", "SCRAM-SHA-256", "n,,n=,r=a\xc3\xa9",
	     AUTH_REASON_MALFORMED},
	    {"trailing comma", "SCRAM-SHA-256", "n,,n=,r=abc,",
	     AUTH_REASON_MALFORMED},
	    {"bad ext", "SCRAM-SHA-256", "n,,n=,r=abc,x",
	     AUTH_REASON_MALFORMED},
	    {"empty ext", "SCRAM-SHA-256",
	     "n,,n=,r=abc,x=", AUTH_REASON_MALFORMED},
	    {"digit ext", "SCRAM-SHA-256", "n,,n=,r=abc,1=a",
	     AUTH_REASON_MALFORMED},
	    {"other cb", "SCRAM-SHA-256-PLUS", "p=tls-unique,,n=,r=abc",
	     AUTH_REASON_UNSUPPORTED},
	    {"cb no comma", "SCRAM-SHA-256-PLUS", "p=tls-server-end-point",
	     AUTH_REASON_MALFORMED},
	    {"p without plus", "SCRAM-SHA-256",
	     "p=tls-server-end-point,,n=,r=a", AUTH_REASON_CBIND_MISMATCH},
	    {"plus with n", "SCRAM-SHA-256-PLUS", "n,,n=,r=abc",
	     AUTH_REASON_CBIND_MISMATCH},
	    {"plus with y", "SCRAM-SHA-256-PLUS", "y,,n=,r=abc",
	     AUTH_REASON_CBIND_MISMATCH},
	    {"y on tls", "SCRAM-SHA-256", "y,,n=,r=abc",
	     AUTH_REASON_CBIND_DOWNGRADE},
	    {"mechanism", "SCRAM-SHA-1", "n,,n=,r=abc", AUTH_REASON_MECHANISM},
	    {"lower mech", "scram-sha-256", "n,,n=,r=abc",
	     AUTH_REASON_MECHANISM},
	};
	struct auth_verifier v;
	struct auth_scram s;
	uint8_t body[256];
	const char *out;
	size_t out_len, n;

	(void)state;
	rfc_verifier(&v);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];

		auth_scram_init(&s, &v, test_cbind, sizeof(test_cbind));
		n = initial_body(c->mech, "", c->data, body);
		CHECK(c->name, auth_scram_step(&s, body, n, &out, &out_len) ==
				   AUTH_FAIL);
		CHECK(c->name, s.reason == c->reason);
		CHECK(c->name, s.state == AUTH_SCRAM_DONE);
	}
}

static void test_malformed_initial(void **state)
{
	static const struct {
		const char *name;
		const char *body;
		size_t len;
	} cases[] = {
#define BODY(s) s, sizeof(s) - 1
	    {"no mech NUL", BODY("SCRAM-SHA-256")},
	    {"short length", BODY("SCRAM-SHA-256\0\0\0\0")},
	    {"length too big", BODY("SCRAM-SHA-256\0\0\0\0\x0c"
				    "n,,n=,r=abc")},
	    {"length too small", BODY("SCRAM-SHA-256\0\0\0\0\x0a"
				      "n,,n=,r=abc")},
	    {"-1 with data", BODY("SCRAM-SHA-256\0\xff\xff\xff\xff"
				  "n,,")},
	    {"embedded NUL", BODY("SCRAM-SHA-256\0\0\0\0\x0b"
				  "n,,n=,r=a\0c")},
	    {"huge", BODY("SCRAM-SHA-256\0\x7f\xff\xff\xff")},
#undef BODY
	};
	struct auth_verifier v;
	struct auth_scram s;
	const char *out;
	size_t out_len;

	(void)state;
	rfc_verifier(&v);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *copy = exact_copy(cases[i].body, cases[i].len);

		auth_scram_init(&s, &v, NULL, 0);
		CHECK(cases[i].name,
		      auth_scram_step(&s, copy, cases[i].len, &out, &out_len) ==
			  AUTH_FAIL);
		CHECK(cases[i].name, s.reason == AUTH_REASON_MALFORMED);
		free(copy);
	}
}

static void test_malformed_final(void **state)
{
	static const struct bad_case cases[] = {
#define N RFC_CNONCE RFC_SNONCE
#define P "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	    {"empty", NULL, "", AUTH_REASON_MALFORMED},
	    {"no c", NULL, "r=" N ",p=" P, AUTH_REASON_MALFORMED},
	    {"r before c", NULL, "r=" N ",c=biws,p=" P, AUTH_REASON_MALFORMED},
	    {"no proof", NULL, "c=biws,r=" N, AUTH_REASON_MALFORMED},
	    {"empty proof", NULL, "c=biws,r=" N ",p=", AUTH_REASON_MALFORMED},
	    {"short proof", NULL, "c=biws,r=" N ",p=dHzb",
	     AUTH_REASON_MALFORMED},
	    {"proof unpadded", NULL,
	     "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
	     AUTH_REASON_MALFORMED},
	    {"proof bad char", NULL,
	     "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And*Q=",
	     AUTH_REASON_MALFORMED},
	    {"proof space", NULL,
	     "c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7And VQ=",
	     AUTH_REASON_MALFORMED},
	    {"after proof", NULL, "c=biws,r=" N ",p=" P ",x=y",
	     AUTH_REASON_MALFORMED},
	    {"trailing comma", NULL, "c=biws,r=" N ",p=" P ",",
	     AUTH_REASON_MALFORMED},
	    {"bad ext", NULL, "c=biws,r=" N ",zz,p=" P, AUTH_REASON_MALFORMED},
	    {"cbind y", NULL, "c=eSws,r=" N ",p=" P,
	     AUTH_REASON_CBIND_MISMATCH},
	    {"cbind p", NULL, "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" N ",p=" P,
	     AUTH_REASON_CBIND_MISMATCH},
	    {"cbind empty", NULL, "c=,r=" N ",p=" P,
	     AUTH_REASON_CBIND_MISMATCH},
	    {"nonce empty", NULL, "c=biws,r=,p=" P, AUTH_REASON_NONCE},
	    {"ext ok, proof wrong", NULL, "c=biws,r=" N ",x=1,p=" P,
	     AUTH_REASON_PROOF},
#undef N
#undef P
	};
	struct auth_scram s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rfc_first(&s);
		CHECK(cases[i].name, step_str(&s, cases[i].data) == AUTH_FAIL);
		CHECK(cases[i].name, s.reason == cases[i].reason);
	}
}

/* SASLInitialResponse without data: an empty challenge, then client-first. */
static void test_no_initial_data(void **state)
{
	static const uint8_t body[] = "SCRAM-SHA-256\0\xff\xff\xff\xff";
	struct auth_verifier v;
	struct auth_scram s;
	const char *out;
	size_t out_len;

	(void)state;
	rfc_verifier(&v);
	auth_scram_init(&s, &v, NULL, 0);
	assert_true(auth_scram_set_nonce_for_test(&s, RFC_SNONCE));
	assert_int_equal(
	    auth_scram_step(&s, body, sizeof(body) - 1, &out, &out_len),
	    AUTH_CONTINUE);
	assert_int_equal(out_len, 0);
	assert_int_equal(step_str(&s, RFC_FIRST), AUTH_CONTINUE);
	assert_int_equal(step_str(&s, RFC_FINAL), AUTH_OK);
}

static void test_mechanisms(void **state)
{
	static const char plus[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
	static const char plain[] = "SCRAM-SHA-256\0";
	struct auth_verifier v;
	struct auth_scram s;
	const uint8_t *m;
	size_t len;

	(void)state;
	rfc_verifier(&v);
	auth_scram_init(&s, &v, NULL, 0);
	m = auth_scram_mechanisms(&s, &len);
	assert_int_equal(len, sizeof(plain));
	assert_memory_equal(m, plain, len);
	auth_scram_init(&s, &v, test_cbind, sizeof(test_cbind));
	m = auth_scram_mechanisms(&s, &len);
	assert_int_equal(len, sizeof(plus));
	assert_memory_equal(m, plus, len);
}

static void test_channel_binding(void **state)
{
	static const uint8_t wrong[32] = {1};
	static const struct {
		const char *name;
		bool tls; /* server has cbind data */
		const char *mech;
		const char *gs2;
		const uint8_t *cbind;	 /* client's view */
		enum auth_reason reason; /* NONE: success */
	} cases[] = {
	    {"plus", true, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,",
	     test_cbind, AUTH_REASON_NONE},
	    {"plus wrong data", true, "SCRAM-SHA-256-PLUS",
	     "p=tls-server-end-point,,", wrong, AUTH_REASON_CBIND_MISMATCH},
	    {"n on tls: client opts out", true, "SCRAM-SHA-256", "n,,", NULL,
	     AUTH_REASON_NONE},
	    {"y on tls: downgrade", true, "SCRAM-SHA-256", "y,,", NULL,
	     AUTH_REASON_CBIND_DOWNGRADE},
	    {"y without tls", false, "SCRAM-SHA-256", "y,,", NULL,
	     AUTH_REASON_NONE},
	    {"plus without tls", false, "SCRAM-SHA-256-PLUS",
	     "p=tls-server-end-point,,", test_cbind, AUTH_REASON_MECHANISM},
	};
	struct auth_verifier v;
	struct auth_scram s;
	char text[AUTH_VERIFIER_TEXT_MAX];

	(void)state;
	assert_true(
	    auth_verifier_from_password("secret", &v, text, sizeof(text)));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct client c = {"secret",
				   cases[i].gs2,
				   cases[i].cbind,
				   cases[i].cbind ? 32 : 0,
				   "n=,r=fyko+d2lbbFgONRv9qkxdawL",
				   {0},
				   NULL};
		enum auth_result r;

		auth_scram_init(&s, &v, cases[i].tls ? test_cbind : NULL,
				cases[i].tls ? sizeof(test_cbind) : 0);
		r = exchange(&s, &c, cases[i].mech);
		if (cases[i].reason == AUTH_REASON_NONE) {
			CHECK(cases[i].name, r == AUTH_OK);
		} else {
			CHECK(cases[i].name, r == AUTH_FAIL);
			CHECK(cases[i].name, s.reason == cases[i].reason);
		}
	}
}

static void test_verifier_text(void **state)
{
	static const char text[] =
	    "SCRAM-SHA-256$4096:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
	static const char *const bad[] = {
	    "",
	    "SCRAM-SHA-256$",
	    "SCRAM-SHA-1$4096:" RFC_SALT "$AAAA:AAAA",
	    "SCRAM-SHA-256$0:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$99999999999:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$-1:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:"
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4q=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
	    "SCRAM-SHA-256$4096:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
	    "SCRAM-SHA-256$4096:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=="
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:AAAA",
	};
	struct auth_verifier v, rfc;
	char out[AUTH_VERIFIER_TEXT_MAX];

	(void)state;
	/* the RFC 7677 user, as PostgreSQL would store it */
	rfc_verifier(&rfc);
	assert_true(auth_verifier_parse(text, &v));
	assert_int_equal(v.iterations, 4096);
	assert_int_equal(v.salt_len, 16);
	assert_memory_equal(v.salt, rfc.salt, 16);
	assert_memory_equal(v.stored_key, rfc.stored_key, 32);
	assert_memory_equal(v.server_key, rfc.server_key, 32);
	assert_false(v.mock);
	assert_true(auth_verifier_format(&v, out, sizeof(out)));
	assert_string_equal(out, text);
	assert_false(auth_verifier_format(&v, out, strlen(text)));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(bad[i], !auth_verifier_parse(bad[i], &v));
}

static void test_verifier_from_password(void **state)
{
	struct auth_verifier v, parsed, other;
	struct auth_scram s;
	char text[AUTH_VERIFIER_TEXT_MAX];
	struct client c = {"correct horse",
			   "n,,",
			   NULL,
			   0,
			   "n=,r=fyko+d2lbbFgONRv9qkxdawL",
			   {0},
			   NULL};

	(void)state;
	assert_true(auth_verifier_from_password("correct horse", &v, text,
						sizeof(text)));
	assert_true(auth_verifier_parse(text, &parsed));
	assert_memory_equal(&parsed, &v, sizeof(v));
	assert_int_equal(v.iterations, AUTH_SCRAM_ITERATIONS);
	assert_int_equal(v.salt_len, 16);
	assert_true(
	    auth_verifier_from_password("correct horse", &other, NULL, 0));
	assert_memory_not_equal(other.salt, v.salt, 16);

	auth_scram_init(&s, &parsed, NULL, 0);
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_OK);
	c.password = "correct horse ";
	auth_scram_init(&s, &parsed, NULL, 0);
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_PROOF);
}

/* A verifier is derived from the SASLprep form of its password, or from the
 * bytes as they are where SASLprep refuses them. The client here hashes
 * what it is given, like libpq after its own SASLprep. */
static void test_verifier_saslprep(void **state)
{
	static const struct {
		const char *password; /* for the verifier */
		const char *ok;	      /* what the client hashes */
		const char *fails;
	} rows[] = {
	    {"IX-\u2168", "IX-IX", "IX-\u2168"},
	    {"pass\u00ADword\u00A0x", "password x", "pass\u00ADword\u00A0x"},
	    {"pw\xFF", "pw\xFF", "pw"},		   /* not UTF-8 */
	    {"\a\u00E9", "\a\u00E9", "\ae\u0301"}, /* prohibited */
	};
	struct auth_verifier v;
	struct auth_scram s;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct client c = {
		    rows[i].ok, "n,,", NULL, 0, "n=,r=fyko+d2lbbFgONRv9qkxdawL",
		    {0},	NULL};
		assert_true(
		    auth_verifier_from_password(rows[i].password, &v, NULL, 0));
		auth_scram_init(&s, &v, NULL, 0);
		CHECK(rows[i].ok, exchange(&s, &c, "SCRAM-SHA-256") == AUTH_OK);
		c.password = rows[i].fails;
		auth_scram_init(&s, &v, NULL, 0);
		CHECK(rows[i].fails,
		      exchange(&s, &c, "SCRAM-SHA-256") == AUTH_FAIL);
	}
}

/* An unknown user gets a stable per-user salt and fails at the proof, like a
 * wrong password, whatever the client sends. */
static void test_unknown_user(void **state)
{
	static const uint8_t secret[AUTH_MOCK_SECRET_LEN] = {42};
	struct auth_verifier a, a2, b;
	struct auth_scram s;
	struct client c = {"pencil",	       "n,,", NULL, 0,
			   "n=,r=" RFC_CNONCE, {0},   NULL};
	uint8_t salted[32];

	(void)state;
	auth_verifier_mock(secret, "alice", &a);
	auth_verifier_mock(secret, "alice", &a2);
	auth_verifier_mock(secret, "bob", &b);
	assert_memory_equal(&a, &a2, sizeof(a));
	assert_memory_not_equal(a.salt, b.salt, 16);
	assert_int_equal(a.iterations, AUTH_SCRAM_ITERATIONS);
	assert_int_equal(a.salt_len, 16);
	assert_true(a.mock);

	auth_scram_init(&s, &a, test_cbind, sizeof(test_cbind));
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_PROOF);

	/* not even a client that knows the mock's keys gets in: the mock's
	 * SaltedPassword is HMAC(secret, user) */
	hmac(secret, sizeof(secret), "alice", 5, salted);
	c.salted = salted;
	a.mock = false;
	auth_scram_init(&s, &a, NULL, 0);
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_OK);
	a.mock = true;
	auth_scram_init(&s, &a, NULL, 0);
	assert_int_equal(exchange(&s, &c, "SCRAM-SHA-256"), AUTH_FAIL);
	assert_int_equal(s.reason, AUTH_REASON_PROOF);
}

static void test_test_nonce(void **state)
{
	struct auth_verifier v;
	struct auth_scram s;
	char long_nonce[AUTH_NONCE_MAX + 2];

	(void)state;
	rfc_verifier(&v);
	auth_scram_init(&s, &v, NULL, 0);
	memset(long_nonce, 'a', sizeof(long_nonce) - 1);
	long_nonce[sizeof(long_nonce) - 1] = '\0';
	assert_false(auth_scram_set_nonce_for_test(&s, long_nonce));
	assert_false(auth_scram_set_nonce_for_test(&s, "a,b"));
	assert_false(auth_scram_set_nonce_for_test(&s, ""));
	assert_true(auth_scram_set_nonce_for_test(&s, "abc"));
}

/* Vectors: printf 'penciluser' | openssl md5, then
 * printf '<hex>\x01\x02\x03\x04' | openssl md5. */
static void test_md5(void **state)
{
	static const char stored[] = "md520c46e3762c864548e296b33c3406aa9";
	static const char response[] = "md54376eb6913b38f9aaff38dc7cf19ca76";
	static const uint8_t salt[4] = {1, 2, 3, 4};
	static const uint8_t other_salt[4] = {1, 2, 3, 5};
	char out[AUTH_MD5_LEN + 1];

	(void)state;
	assert_true(auth_md5_stored("pencil", "user", out));
	assert_string_equal(out, stored);
	assert_true(auth_md5_expected(stored, salt, out));
	assert_string_equal(out, response);
	assert_false(auth_md5_expected("md5XYZ", salt, out));
	assert_false(auth_md5_expected("md520C46E3762C864548E296B33C3406AA9",
				       salt, out));

	assert_true(auth_md5_verify(stored, salt, (const uint8_t *)response,
				    sizeof(response)));
	assert_false(auth_md5_verify(
	    stored, other_salt, (const uint8_t *)response, sizeof(response)));
	assert_false(auth_md5_verify(stored, salt, (const uint8_t *)response,
				     sizeof(response) - 1));
	assert_false(auth_md5_verify(NULL, salt, (const uint8_t *)response,
				     sizeof(response)));
	/* an unknown user cannot be matched through the dummy it is checked
	 * against, whatever that is */
	assert_true(auth_md5_expected("md500000000000000000000000000000000",
				      salt, out));
	assert_false(
	    auth_md5_verify(NULL, salt, (const uint8_t *)out, sizeof(out)));
	assert_false(auth_md5_verify(stored, salt, (const uint8_t *)"", 0));
	for (size_t len = 0; len < sizeof(response); len++) {
		uint8_t *copy = exact_copy(response, len);

		assert_false(auth_md5_verify(stored, salt, copy, len));
		free(copy);
	}
}

/* A self-signed certificate with a key of type `type`, signed with md. */
static X509 *make_cert(const char *type, const EVP_MD *md)
{
	EVP_PKEY *key = strcmp(type, "EC") == 0
			    ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
			    : EVP_PKEY_Q_keygen(NULL, NULL, type);
	X509 *cert = X509_new();

	assert_non_null(key);
	assert_non_null(cert);
	assert_int_equal(X509_set_version(cert, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	assert_int_equal(X509_set_pubkey(cert, key), 1);
	assert_true(X509_sign(cert, key, md) > 0);
	EVP_PKEY_free(key);
	return cert;
}

static void test_cbind_hash(void **state)
{
	static const struct {
		const char *name;
		const char *key;
		const char *sign_md; /* NULL: the key type's own */
		const char *hash_md; /* NULL: no binding possible */
	} cases[] = {
	    {"ecdsa-sha256", "EC", "SHA256", "SHA256"},
	    {"ecdsa-sha384", "EC", "SHA384", "SHA384"},
	    {"ecdsa-sha512", "EC", "SHA512", "SHA512"},
	    {"ecdsa-sha1 uses sha256", "EC", "SHA1", "SHA256"},
	    {"ed25519", "ED25519", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const EVP_MD *sign =
		    cases[i].sign_md ? EVP_get_digestbyname(cases[i].sign_md)
				     : NULL;
		X509 *cert = make_cert(cases[i].key, sign);
		uint8_t got[AUTH_CBIND_MAX], want[EVP_MAX_MD_SIZE];
		unsigned want_len = 0;
		size_t len = 0;
		bool ok = auth_cbind_hash(cert, got, &len);

		if (!cases[i].hash_md) {
			CHECK(cases[i].name, !ok);
		} else {
			CHECK(cases[i].name,
			      X509_digest(
				  cert, EVP_get_digestbyname(cases[i].hash_md),
				  want, &want_len) == 1);
			CHECK(cases[i].name, ok && len == want_len);
			CHECK(cases[i].name, memcmp(got, want, len) == 0);
		}
		X509_free(cert);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7677),
	    cmocka_unit_test(test_rfc7677_client),
	    cmocka_unit_test(test_recover_client_key),
	    cmocka_unit_test(test_client_rfc7677),
	    cmocka_unit_test(test_client_proof_vector),
	    cmocka_unit_test(test_client_bad_server_first),
	    cmocka_unit_test(test_nonce_tampered),
	    cmocka_unit_test(test_truncated_first),
	    cmocka_unit_test(test_truncated_final),
	    cmocka_unit_test(test_malformed_first),
	    cmocka_unit_test(test_malformed_initial),
	    cmocka_unit_test(test_malformed_final),
	    cmocka_unit_test(test_no_initial_data),
	    cmocka_unit_test(test_mechanisms),
	    cmocka_unit_test(test_channel_binding),
	    cmocka_unit_test(test_verifier_text),
	    cmocka_unit_test(test_verifier_from_password),
	    cmocka_unit_test(test_verifier_saslprep),
	    cmocka_unit_test(test_unknown_user),
	    cmocka_unit_test(test_test_nonce),
	    cmocka_unit_test(test_md5),
	    cmocka_unit_test(test_cbind_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
