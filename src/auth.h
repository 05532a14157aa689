/* Server side of PostgreSQL password authentication: SCRAM-SHA-256 (RFC 5802,
 * RFC 7677, with tls-server-end-point channel binding) and legacy MD5. Pure:
 * works on message bodies the caller has framed, allocates nothing, does no
 * I/O; OpenSSL's libcrypto does the math. */
#ifndef PITLANE_AUTH_H
#define PITLANE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h> /* X509 */

#define AUTH_SCRAM_KEY_LEN     32   /* SHA-256 output */
#define AUTH_SALT_MAX	       64   /* longest salt a verifier may carry */
#define AUTH_SCRAM_ITERATIONS  4096 /* PostgreSQL's default */
#define AUTH_VERIFIER_TEXT_MAX 256  /* text verifier, NUL included */
#define AUTH_CBIND_MAX	       64   /* tls-server-end-point hash, any digest */
#define AUTH_MOCK_SECRET_LEN   32   /* see auth_verifier_mock */
#define AUTH_SCRAM_MSG_MAX     1024 /* longest client SCRAM message accepted */
#define AUTH_NONCE_MAX	       64   /* longest server nonce */
#define AUTH_MD5_LEN	       35   /* "md5" + 32 hex digits */
#define AUTH_MD5_SALT_LEN      4

/* A SCRAM-SHA-256 secret as PostgreSQL stores it in pg_authid.rolpassword. */
struct auth_verifier {
	int iterations;		     /* PBKDF2 iteration count, > 0 */
	uint8_t salt[AUTH_SALT_MAX]; /* raw salt bytes */
	size_t salt_len;	     /* 1..AUTH_SALT_MAX */
	uint8_t stored_key[AUTH_SCRAM_KEY_LEN]; /* H(ClientKey) */
	uint8_t server_key[AUTH_SCRAM_KEY_LEN]; /* HMAC(SaltedPassword, ...) */
	bool mock; /* from auth_verifier_mock: never matches */
};

/* Parses "SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>".
 * Strict: base64 with its padding, 32-byte keys, nothing after. */
bool auth_verifier_parse(const char *text, struct auth_verifier *v)
    __attribute__((warn_unused_result));

/* Writes v in the text form above into text (cap bytes, NUL included);
 * AUTH_VERIFIER_TEXT_MAX always suffices. false when it does not fit. */
bool auth_verifier_format(const struct auth_verifier *v, char *text, size_t cap)
    __attribute__((warn_unused_result));

/* Builds a verifier from a plaintext password with a random 16-byte salt and
 * AUTH_SCRAM_ITERATIONS, and writes its text form (text may be NULL). Every
 * verifier pitlane derives comes from here: DB_PASSWORD, plaintext auth_file
 * passwords, `pitlane --hash-password`. The password is hashed after
 * SASLprep, or as it is where SASLprep refuses it (not UTF-8, prohibited
 * output), as PostgreSQL and libpq do, so a verifier matches the one
 * PostgreSQL stores for the same password. false only when out of memory or
 * when libcrypto fails. */
bool auth_verifier_from_password(const char *password, struct auth_verifier *v,
				 char *text, size_t cap)
    __attribute__((warn_unused_result));

/* Fills v with a mock verifier for a user that does not exist, so that the
 * exchange looks the same as for a real user (a stable per-user salt,
 * AUTH_SCRAM_ITERATIONS, the same work) and fails only at the proof check,
 * with AUTH_REASON_PROOF like a wrong password. secret: AUTH_MOCK_SECRET_LEN
 * random bytes (RAND_bytes) made once per process and kept for its life, so
 * a user's salt does not change between attempts. */
void auth_verifier_mock(const uint8_t secret[AUTH_MOCK_SECRET_LEN],
			const char *user, struct auth_verifier *v);

enum auth_result {
	AUTH_CONTINUE, /* send AuthenticationSASLContinue(out) */
	AUTH_OK,       /* send AuthenticationSASLFinal(out), AuthenticationOk */
	AUTH_FAIL,     /* see auth_scram.reason; the exchange is over */
};

/* Why an exchange failed, for the log and the SQLSTATE: AUTH_REASON_PROOF
 * is 28P01 (wrong password or unknown user, indistinguishable); every
 * other reason is a protocol violation (08P01). */
enum auth_reason {
	AUTH_REASON_NONE,
	AUTH_REASON_MALFORMED,	 /* a message that breaks the grammar */
	AUTH_REASON_MECHANISM,	 /* unknown mechanism, or -PLUS without TLS */
	AUTH_REASON_UNSUPPORTED, /* authzid, mandatory extension, cb type */
	AUTH_REASON_CBIND_DOWNGRADE, /* "y": client thinks we lack binding */
	AUTH_REASON_CBIND_MISMATCH,  /* gs2 flag vs mechanism, or wrong c= */
	AUTH_REASON_NONCE,	     /* final nonce is not client + server's */
	AUTH_REASON_PROOF,	     /* wrong password or unknown user */
	AUTH_REASON_STATE,	     /* a step after the exchange ended */
	AUTH_REASON_INTERNAL,	     /* RAND_bytes or a hash failed */
};

/* A static English phrase for r, fit for a log line. */
const char *auth_reason_str(enum auth_reason r);

enum auth_scram_state {
	AUTH_SCRAM_START,      /* expecting SASLInitialResponse */
	AUTH_SCRAM_WAIT_FIRST, /* initial response had no data: client-first */
	AUTH_SCRAM_WAIT_FINAL, /* server-first sent: client-final */
	AUTH_SCRAM_DONE,       /* succeeded or failed: no more steps */
};

/* One login's SCRAM exchange. Fixed size, owns no memory: embed it in the
 * client session. Read `reason` after AUTH_FAIL; the rest is private. */
struct auth_scram {
	enum auth_scram_state state;
	enum auth_reason reason;       /* why the exchange failed */
	struct auth_verifier v;	       /* a copy of the user's verifier */
	uint8_t cbind[AUTH_CBIND_MAX]; /* server cert hash; empty: no TLS */
	size_t cbind_len;
	bool plus;    /* client chose SCRAM-SHA-256-PLUS */
	char gs2[32]; /* gs2 header as the client sent it */
	size_t gs2_len;
	char bare[AUTH_SCRAM_MSG_MAX]; /* client-first-message-bare */
	size_t bare_len;
	char snonce[AUTH_NONCE_MAX + 1];    /* server nonce, "" until chosen */
	size_t nonce_len;		    /* client + server nonce length */
	char first[2 * AUTH_SCRAM_MSG_MAX]; /* server-first-message */
	size_t first_len;
	char final[64]; /* server-final-message */
	size_t final_len;
	uint8_t client_key[AUTH_SCRAM_KEY_LEN]; /* recovered from the proof */
	bool have_client_key; /* the proof matched a real verifier */
};

/* Starts an exchange against v (copied; from auth_verifier_mock for an
 * unknown user). cbind: the tls-server-end-point hash of our certificate
 * (auth_cbind_hash) when the client is on TLS, else NULL/0; it enables
 * SCRAM-SHA-256-PLUS. */
void auth_scram_init(struct auth_scram *s, const struct auth_verifier *v,
		     const uint8_t *cbind, size_t cbind_len);

/* The mechanism list for the AuthenticationSASL body (after its int32 code):
 * NUL-terminated names, "SCRAM-SHA-256-PLUS" first when channel binding is
 * available, and the final empty name. Static; *len is its length. */
const uint8_t *auth_scram_mechanisms(const struct auth_scram *s, size_t *len);

/* Feeds the body of the client's next 'p' message: SASLInitialResponse
 * first (mechanism, int32 length, client-first; a length of -1 gets an empty
 * challenge and the client-first in the next SASLResponse), then the
 * SASLResponse with client-final. out, out_len: the server message to send
 * (points into s, valid while s is). The gs2 header may be "n,,", "y,,"
 * (fails when we offer -PLUS: downgrade) or "p=tls-server-end-point,,"
 * (only with -PLUS). Like PostgreSQL, "n,," is accepted on TLS: the client
 * chose not to bind, and only the client can insist (channel_binding=
 * require). The username in client-first is ignored; authzid and mandatory
 * extensions are refused. The proof is compared in constant time. */
enum auth_result auth_scram_step(struct auth_scram *s, const uint8_t *body,
				 size_t len, const char **out, size_t *out_len)
    __attribute__((warn_unused_result));

/* Test hook: use nonce (printable, no ',', at most AUTH_NONCE_MAX
 * characters) as the server nonce instead of 18 random bytes in base64.
 * Call before the client-first step. */
bool auth_scram_set_nonce_for_test(struct auth_scram *s, const char *nonce)
    __attribute__((warn_unused_result));

/* After AUTH_OK: the client's ClientKey, recovered from its proof
 * (ClientProof XOR HMAC(StoredKey, AuthMessage), checked by H(ClientKey) ==
 * StoredKey), into key. With the verifier's ServerKey it lets pitlane log
 * in to a server that stores the same secret (SCRAM pass-through). false
 * before a successful exchange. */
bool auth_scram_client_key(const struct auth_scram *s,
			   uint8_t key[AUTH_SCRAM_KEY_LEN])
    __attribute__((warn_unused_result));

/* ---- client side, for SCRAM pass-through ---- */

enum auth_client_state {
	AUTH_CLIENT_START,	/* client-first not written yet */
	AUTH_CLIENT_WAIT_FIRST, /* waiting for server-first */
	AUTH_CLIENT_WAIT_FINAL, /* client-final sent: waiting for server-final
				 */
	AUTH_CLIENT_DONE,	/* server verified, or failed */
};

/* pitlane's side of a SCRAM-SHA-256 login to PostgreSQL with the keys of a
 * client that proved itself (no password): no channel binding (gs2 header
 * "n,,"), an empty user name as libpq sends it. Fixed size, owns no memory.
 * The salt and iteration count the server sends are read for the grammar
 * only: the ClientKey already embodies them. */
struct auth_scram_client {
	enum auth_client_state state;
	enum auth_reason reason; /* why it failed */
	uint8_t client_key[AUTH_SCRAM_KEY_LEN];
	uint8_t server_key[AUTH_SCRAM_KEY_LEN];
	char cnonce[AUTH_NONCE_MAX + 1];  /* our nonce */
	char msg[3 * AUTH_SCRAM_MSG_MAX]; /* the message last written */
	size_t msg_len;
	uint8_t server_sig[AUTH_SCRAM_KEY_LEN]; /* expected in server-final */
};

/* Starts a client exchange with the keys (copied); wipe with
 * OPENSSL_cleanse when done. */
void auth_scram_client_init(struct auth_scram_client *c,
			    const uint8_t client_key[AUTH_SCRAM_KEY_LEN],
			    const uint8_t server_key[AUTH_SCRAM_KEY_LEN]);

/* client-first-message ("n,,n=,r=<nonce>") for the SASLInitialResponse of
 * mechanism SCRAM-SHA-256. *out points into c. false: no random bytes. */
bool auth_scram_client_first(struct auth_scram_client *c, const char **out,
			     size_t *len) __attribute__((warn_unused_result));

/* Reads server-first (the AuthenticationSASLContinue data: r=,s=,i=, with
 * our nonce as the prefix of r) and writes client-final ("c=biws,r=...,
 * p=<ClientKey XOR HMAC(H(ClientKey), AuthMessage)>"). AUTH_CONTINUE with
 * *out (into c) to send, or AUTH_FAIL (reason set). */
enum auth_result auth_scram_client_final(struct auth_scram_client *c,
					 const uint8_t *data, size_t len,
					 const char **out, size_t *out_len)
    __attribute__((warn_unused_result));

/* Checks server-final (the AuthenticationSASLFinal data, "v=<signature>")
 * against HMAC(ServerKey, AuthMessage) in constant time: AUTH_OK, or
 * AUTH_FAIL (an "e=" error, a wrong signature, a malformed message). */
enum auth_result auth_scram_client_verify(struct auth_scram_client *c,
					  const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));

/* Test hook: nonce (printable, no ',') instead of 18 random bytes. */
bool auth_scram_client_set_nonce(struct auth_scram_client *c, const char *nonce)
    __attribute__((warn_unused_result));

/* PostgreSQL's stored MD5 form of a plaintext password: "md5" +
 * hex(md5(password + user)) into out. */
bool auth_md5_stored(const char *password, const char *user,
		     char out[AUTH_MD5_LEN + 1])
    __attribute__((warn_unused_result));

/* The response a client must send to an AuthenticationMD5Password with salt
 * for stored ("md5" + 32 lowercase hex): "md5" + hex(md5(hex + salt)). */
bool auth_md5_expected(const char *stored,
		       const uint8_t salt[AUTH_MD5_SALT_LEN],
		       char out[AUTH_MD5_LEN + 1])
    __attribute__((warn_unused_result));

/* Checks a PasswordMessage body (the NUL-terminated response) against
 * stored, in constant time. stored NULL (unknown user) does the same work
 * and returns false. */
bool auth_md5_verify(const char *stored, const uint8_t salt[AUTH_MD5_SALT_LEN],
		     const uint8_t *body, size_t len)
    __attribute__((warn_unused_result));

/* The tls-server-end-point channel binding data of our certificate (RFC
 * 5929): its hash with the digest of its signature algorithm, SHA-256 when
 * that is MD5 or SHA-1. false when the algorithm names no single digest
 * (Ed25519...): offer no -PLUS then. Not const: OpenSSL caches the
 * signature info in the certificate (RSA-PSS needs it). */
bool auth_cbind_hash(X509 *cert, uint8_t out[AUTH_CBIND_MAX], size_t *len)
    __attribute__((warn_unused_result));

#endif
