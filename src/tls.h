/* TLS toward clients: the server context built from tls_* settings
 * (certificate, key, CA for client certificates, protocol floor, ciphers,
 * ALPN "postgresql" for PostgreSQL 17's direct negotiation), and what a
 * handshake tells about the client. */
#ifndef PITLANE_TLS_H
#define PITLANE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"

/* One SSL_CTX. Each SSL made from it holds a reference to the context
 * (OpenSSL counts them), so tls_server_free after a reload leaves the
 * sessions that shook hands under it working until they end. */
struct tls_server;

/* NULL, with a reason naming the setting in err, when the files cannot be
 * used. Call only when cfg->tls_mode is not TLS_DISABLE. */
struct tls_server *tls_server_new(const struct config *cfg, char *err,
				  size_t errlen);
void tls_server_free(struct tls_server *t);

/* A new server-side SSL for one client; NULL when out of memory. */
SSL *tls_server_ssl(struct tls_server *t);

/* The tls-server-end-point hash (SCRAM -PLUS) of the certificate this
 * connection was served with: after a reload that renewed the certificate,
 * a session that shook hands before it still binds to its own. */
bool tls_ssl_cbind(SSL *ssl, uint8_t *out, size_t *len);

/* Whether the client negotiated ALPN "postgresql". */
bool tls_alpn_ok(SSL *ssl);

/* The CN of a client certificate that verified, into buf; NULL when the
 * client sent none or it did not verify. */
const char *tls_peer_cn(SSL *ssl, char *buf, size_t len);

#endif
