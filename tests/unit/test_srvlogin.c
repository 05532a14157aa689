/* srvlogin and srvcreds: pitlane's own backend login for SCRAM
 * pass-through, played against the server side of auth.c (the same math
 * PostgreSQL does), its error paths, and the choice of a server login's
 * credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "srvcreds.h"
#include "srvlogin.h"

static const uint8_t salt[16] = {1, 2,	3,  4,	5,  6,	7,  8,
				 9, 10, 11, 12, 13, 14, 15, 16};

/* A verifier for password and the ClientKey a client derives from it. */
static void keys_for(const char *password, struct auth_verifier *v,
		     uint8_t ck[32])
{
	uint8_t salted[32];
	unsigned n;

	memset(v, 0, sizeof(*v));
	v->iterations = 4096;
	v->salt_len = sizeof(salt);
	memcpy(v->salt, salt, sizeof(salt));
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
					   salt, sizeof(salt), 4096,
					   EVP_sha256(), 32, salted),
			 1);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck,
	     &n);
	HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Server Key", 10,
	     v->server_key, &n);
	EVP_Digest(ck, 32, v->stored_key, NULL, EVP_sha256(), NULL);
}

/* An Authentication message body: code, then data. */
static size_t auth_body(uint32_t code, const void *data, size_t n, uint8_t *out)
{
	out[0] = (uint8_t)(code >> 24), out[1] = (uint8_t)(code >> 16);
	out[2] = (uint8_t)(code >> 8), out[3] = (uint8_t)code;
	if (n)
		memcpy(out + 4, data, n);
	return 4 + n;
}

/* The body of the one 'p' message in w. */
static const uint8_t *p_body(const struct proto_writer *w, size_t *len)
{
	assert_false(w->overflow);
	assert_true(w->len > 5);
	assert_int_equal(w->buf[0], 'p');
	*len = w->len - 5;
	return w->buf + 5;
}

static enum srvlogin_result feed(struct srvlogin *l, uint8_t type,
				 const void *body, size_t len,
				 struct proto_writer *w, uint8_t *buf,
				 size_t cap)
{
	proto_writer_init(w, buf, cap);
	return srvlogin_feed(l, type, body, len, w);
}

/* Runs the exchange up to AuthenticationOk against a server whose
 * verifier is v, with the client keys ck/sk; returns the last result. */
static enum srvlogin_result exchange(struct srvlogin *l,
				     const struct auth_verifier *v,
				     const uint8_t ck[32], const uint8_t sk[32])
{
	struct auth_scram s;
	struct proto_writer w;
	uint8_t buf[2048], msg[1024];
	const uint8_t *body, *mech;
	const char *out;
	size_t len, n, mlen;
	enum srvlogin_result r;

	srvlogin_init(l, ck, sk);
	auth_scram_init(&s, v, NULL, 0);
	mech = auth_scram_mechanisms(&s, &mlen);
	n = auth_body(10, mech, mlen, msg);
	assert_int_equal(feed(l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	body = p_body(&w, &len);
	assert_string_equal((const char *)body, "SCRAM-SHA-256");
	assert_int_equal(auth_scram_step(&s, body, len, &out, &n),
			 AUTH_CONTINUE);
	n = auth_body(11, out, n, msg);
	assert_int_equal(feed(l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	body = p_body(&w, &len);
	if (auth_scram_step(&s, body, len, &out, &n) != AUTH_OK)
		return SRVLOGIN_FAIL; /* the server refused the proof */
	n = auth_body(12, out, n, msg);
	r = feed(l, 'R', msg, n, &w, buf, sizeof(buf));
	if (r != SRVLOGIN_CONTINUE)
		return r;
	assert_int_equal(w.len, 0);
	n = auth_body(0, NULL, 0, msg);
	return feed(l, 'R', msg, n, &w, buf, sizeof(buf));
}

static void test_login(void **state)
{
	struct auth_verifier v;
	struct srvlogin l;
	struct proto_writer w;
	uint8_t ck[32], buf[256];
	static const uint8_t ps[] = "TimeZone\0UTC";
	static const uint8_t key[8] = {0,    0,	   0x30, 0x39,
				       0xde, 0xad, 0xbe, 0xef};

	(void)state;
	keys_for("pencil", &v, ck);
	assert_int_equal(exchange(&l, &v, ck, v.server_key), SRVLOGIN_CONTINUE);
	assert_int_equal(feed(&l, 'S', ps, sizeof(ps), &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	assert_int_equal(feed(&l, 'N', "", 1, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	assert_int_equal(feed(&l, 'K', key, 8, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	assert_int_equal(feed(&l, 'Z', "I", 1, &w, buf, sizeof(buf)),
			 SRVLOGIN_READY);
	assert_int_equal(l.pid, 12345);
	assert_int_equal(l.key, 0xdeadbeef);
	assert_string_equal(params_get(&l.params, "timezone"), "UTC");
	srvlogin_free(&l);
}

/* A ClientKey of another password: PostgreSQL (here auth.c) refuses the
 * proof. A right ClientKey with a wrong ServerKey: pitlane refuses the
 * server's signature (28P01). */
static void test_wrong_keys(void **state)
{
	struct auth_verifier v, other;
	struct srvlogin l;
	uint8_t ck[32], ck2[32];

	(void)state;
	keys_for("pencil", &v, ck);
	keys_for("crayon", &other, ck2);
	assert_int_equal(exchange(&l, &v, ck2, other.server_key),
			 SRVLOGIN_FAIL);
	srvlogin_free(&l);
	assert_int_equal(exchange(&l, &v, ck, other.server_key), SRVLOGIN_FAIL);
	assert_string_equal(l.sqlstate, "28P01");
	srvlogin_free(&l);
}

static void test_refusals(void **state)
{
	struct srvlogin l;
	struct proto_writer w;
	uint8_t k[32] = {0}, buf[256], msg[64];
	size_t n;
	static const uint8_t err[] = "SFATAL\0C28P01\0Mpassword authentication "
				     "failed for user \"x\"\0";

	(void)state;
	/* the server's ErrorResponse */
	srvlogin_init(&l, k, k);
	assert_int_equal(feed(&l, 'E', err, sizeof(err), &w, buf, sizeof(buf)),
			 SRVLOGIN_FAIL);
	assert_string_equal(l.sqlstate, "28P01");
	assert_non_null(strstr(l.error, "password authentication failed"));
	srvlogin_free(&l);
	/* md5 or cleartext asked for */
	srvlogin_init(&l, k, k);
	n = auth_body(5, "salt", 4, msg);
	assert_int_equal(feed(&l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_FAIL);
	assert_string_equal(l.sqlstate, "28000");
	srvlogin_free(&l);
	/* SASL without SCRAM-SHA-256 */
	srvlogin_init(&l, k, k);
	n = auth_body(10, "OTHER\0\0", 7, msg);
	assert_int_equal(feed(&l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_FAIL);
	srvlogin_free(&l);
	/* ParameterStatus, BackendKeyData or ReadyForQuery before
	 * AuthenticationOk; a short Authentication message; an unknown
	 * message */
	static const struct {
		uint8_t type;
		const char *body;
		size_t len;
	} early[] = {{'S', "a\0b", 4},
		     {'K', "12345678", 8},
		     {'Z', "I", 1},
		     {'R', "\0\0", 2},
		     {'D', "", 0}};
	for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
		srvlogin_init(&l, k, k);
		assert_int_equal(feed(&l, early[i].type, early[i].body,
				      early[i].len, &w, buf, sizeof(buf)),
				 SRVLOGIN_FAIL);
		srvlogin_free(&l);
	}
	/* AuthenticationOk in the middle of SCRAM */
	srvlogin_init(&l, k, k);
	n = auth_body(10, "SCRAM-SHA-256\0\0", 15, msg);
	assert_int_equal(feed(&l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	n = auth_body(0, NULL, 0, msg);
	assert_int_equal(feed(&l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_FAIL);
	srvlogin_free(&l);
	/* trust: AuthenticationOk without SASL is accepted, as libpq does */
	srvlogin_init(&l, k, k);
	assert_int_equal(feed(&l, 'R', msg, n, &w, buf, sizeof(buf)),
			 SRVLOGIN_CONTINUE);
	assert_int_equal(feed(&l, 'Z', "I", 1, &w, buf, sizeof(buf)),
			 SRVLOGIN_READY);
	srvlogin_free(&l);
}

static void test_startup(void **state)
{
	uint8_t buf[256];
	struct proto_writer w;
	struct proto_startup st;
	const char *err;

	(void)state;
	proto_writer_init(&w, buf, sizeof(buf));
	srvlogin_startup(&w, "app", "appdb");
	assert_false(w.overflow);
	assert_int_equal(proto_startup_parse(buf, (uint32_t)w.len, &st, &err),
			 PROTO_OK);
	assert_int_equal(st.major, 3);
	assert_string_equal(proto_startup_get(buf, &st, "user"), "app");
	assert_string_equal(proto_startup_get(buf, &st, "database"), "appdb");
	assert_string_equal(proto_startup_get(buf, &st, "application_name"),
			    "pitlane");
	proto_writer_init(&w, buf, 16); /* too small: sticky overflow */
	srvlogin_startup(&w, "app", "appdb");
	assert_true(w.overflow);
}

static void test_srvcreds_choose(void **state)
{
	struct config cfg = {.user = "pool", .password = "pool-pw"};
	struct creds cr = {.cfg = &cfg};
	struct srvcreds_keys keys = {0};
	struct srvcreds sc;
	uint8_t ck[32], sk[32];

	(void)state;
	memset(ck, 1, sizeof(ck));
	memset(sk, 2, sizeof(sk));
	/* an entry's password first, then DB_PASSWORD for DB_USER */
	assert_int_equal(srvcreds_choose(&cr, &keys, "pool", "entry-pw", &sc),
			 SRVCREDS_PASSWORD);
	assert_string_equal(sc.password, "entry-pw");
	assert_int_equal(srvcreds_choose(&cr, &keys, "pool", NULL, &sc),
			 SRVCREDS_PASSWORD);
	assert_string_equal(sc.password, "pool-pw");
	/* no password: the keys of a client who proved itself, else none */
	assert_int_equal(srvcreds_choose(&cr, &keys, "app", NULL, &sc),
			 SRVCREDS_NONE);
	assert_true(srvcreds_keys_put(&keys, "app", ck, sk));
	assert_int_equal(srvcreds_choose(&cr, &keys, "app", NULL, &sc),
			 SRVCREDS_PASSTHRU);
	assert_memory_equal(sc.client_key, ck, 32);
	assert_memory_equal(sc.server_key, sk, 32);
	/* a new login replaces the keys; a password still wins */
	memset(ck, 3, sizeof(ck));
	assert_true(srvcreds_keys_put(&keys, "app", ck, sk));
	assert_int_equal(keys.n, 1);
	assert_int_equal(srvcreds_choose(&cr, &keys, "app", NULL, &sc),
			 SRVCREDS_PASSTHRU);
	assert_memory_equal(sc.client_key, ck, 32);
	assert_int_equal(srvcreds_choose(&cr, &keys, "app", "pw", &sc),
			 SRVCREDS_PASSWORD);
	cfg.password = NULL;
	assert_true(srvcreds_keys_put(&keys, "pool", ck, sk));
	assert_int_equal(srvcreds_choose(&cr, &keys, "pool", NULL, &sc),
			 SRVCREDS_PASSTHRU);
	/* bounds: a name too long, a full table */
	char longname[SRVCREDS_USER_MAX + 1];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(srvcreds_keys_put(&keys, longname, ck, sk));
	for (unsigned i = keys.n; i < SRVCREDS_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "u%u", i);
		assert_true(srvcreds_keys_put(&keys, name, ck, sk));
	}
	assert_false(srvcreds_keys_put(&keys, "one_more", ck, sk));
	assert_int_equal(srvcreds_choose(&cr, &keys, "u100", NULL, &sc),
			 SRVCREDS_PASSTHRU);
	srvcreds_keys_clear(&keys);
	assert_int_equal(srvcreds_choose(&cr, &keys, "app", NULL, &sc),
			 SRVCREDS_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_login),
	    cmocka_unit_test(test_wrong_keys),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_startup),
	    cmocka_unit_test(test_srvcreds_choose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
