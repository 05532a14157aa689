/* TLS toward clients with OpenSSL 3: one SSL_CTX per configuration; a
 * reload makes a new one for new handshakes. */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* Kernel TLS when OpenSSL was built with it and the kernel offers the "tls"
 * ULP: after the handshake the kernel encrypts (and, where OpenSSL
 * supports it, decrypts) and SSL_write/SSL_read become plain socket calls.
 * OpenSSL falls back to its own record layer when the kernel refuses. */
#ifdef SSL_OP_ENABLE_KTLS
#define TLS_KTLS SSL_OP_ENABLE_KTLS
#else
#define TLS_KTLS 0
#endif

#include "auth.h"

static const unsigned char tls_alpn_pg[] = "postgresql";

struct tls_server {
	SSL_CTX *ctx;
};

static void tls_error(char *err, size_t errlen, const char *what,
		      const char *path)
{
	char ossl[160] = "";
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	snprintf(err, errlen, "%s \"%s\": %s", what, path ? path : "",
		 ossl[0] ? ossl : "unusable");
	ERR_clear_error();
}

/* Accepts ALPN "postgresql" and nothing else; a client offering other
 * protocols only gets no ALPN, which direct negotiation then refuses. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == sizeof(tls_alpn_pg) - 1 &&
		    memcmp(in + i + 1, tls_alpn_pg, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

struct tls_server *tls_server_new(const struct config *cfg, char *err,
				  size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));
	int min = cfg->tls_min_version == TLS_VERSION_1_3 ? TLS1_3_VERSION
							  : TLS1_2_VERSION;

	if (t == NULL || (t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_error(err, errlen, "cannot create a TLS context", NULL);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, min);
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
					SSL_OP_CIPHER_SERVER_PREFERENCE |
					TLS_KTLS);
	if (SSL_CTX_set_cipher_list(t->ctx, cfg->tls_ciphers) != 1) {
		tls_error(err, errlen, "tls_ciphers", cfg->tls_ciphers);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->tls_cert_file) !=
	    1) {
		tls_error(err, errlen, "tls_cert_file", cfg->tls_cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->tls_key_file,
					SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1) {
		tls_error(err, errlen, "tls_key_file", cfg->tls_key_file);
		goto fail;
	}
	if (cfg->tls_ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(t->ctx, cfg->tls_ca_file,
						  NULL) != 1) {
			tls_error(err, errlen, "tls_ca_file", cfg->tls_ca_file);
			goto fail;
		}
		/* Ask for a certificate; whether one is required is the
		 * login's decision (tls_mode, hba clientcert, cert). */
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_alpn_select_cb(t->ctx, tls_alpn_cb, NULL);
	return t;
fail:
	tls_server_free(t);
	return NULL;
}

void tls_server_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

SSL *tls_server_ssl(struct tls_server *t)
{
	return SSL_new(t->ctx);
}

bool tls_ssl_cbind(SSL *ssl, uint8_t *out, size_t *len)
{
	X509 *cert = SSL_get_certificate(ssl);

	return cert != NULL && auth_cbind_hash(cert, out, len);
}

bool tls_alpn_ok(SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == sizeof(tls_alpn_pg) - 1 && memcmp(p, tls_alpn_pg, n) == 0;
}

const char *tls_peer_cn(SSL *ssl, char *buf, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	int n;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
				      NID_commonName, buf, (int)len);
	return n > 0 && (size_t)n < len ? buf : NULL;
}
