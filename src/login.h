/* Client authentication for the pool: which method applies to a login
 * (hba_file or auth_type), the credentials it is checked against (DB_USER's
 * password, the auth_file), and the exchange itself (SCRAM-SHA-256, MD5,
 * certificate, trust). Pure: it reads and writes message bodies; the
 * caller frames and sends them. Clients authenticate as themselves and are
 * served by the pool's backend user, as with PgBouncer's forced user. */
#ifndef PITLANE_LOGIN_H
#define PITLANE_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "auth.h"
#include "authfile.h"
#include "config.h"
#include "hba.h"
#include "proto.h"

/* What pitlane authenticates against, loaded at startup and by each reload
 * (which swaps it whole between two logins: a login copies what it needs
 * in login_start). */
struct creds {
	const struct config *cfg;
	struct authfile *file;		 /* NULL: no auth_file */
	struct hba *hba;		 /* NULL: auth_type decides */
	bool have_pool_secret;		 /* DB_PASSWORD is set */
	struct auth_verifier pool_scram; /* from DB_PASSWORD */
	char pool_md5[AUTH_MD5_LEN + 1]; /* from DB_PASSWORD and DB_USER */
	uint8_t mock_secret[AUTH_MOCK_SECRET_LEN]; /* for unknown users */
};

/* Loads the auth_file and hba_file named in cfg and derives the pool
 * user's secrets. Errors (file, line, what) go to errs; false on any. */
bool creds_load(struct creds *cr, const struct config *cfg,
		struct config_errors *errs) __attribute__((warn_unused_result));
void creds_free(struct creds *cr);

/* One login's facts. */
struct login_peer {
	const char *user, *database;
	bool unix_socket;
	bool tls;
	int family;	      /* AF_INET / AF_INET6 for TCP */
	uint8_t addr[16];     /* network order */
	const char *cert_cn;  /* verified client certificate's CN, or NULL */
	const uint8_t *cbind; /* hash of the certificate pitlane served
				 (tls_ssl_cbind), for -PLUS; NULL: none */
	size_t cbind_len;
	const char *addr_text; /* for messages */
	/* auth_query's answer for a user login_needs_lookup named: the
	 * secret (SCRAM verifier, md5 hash), or NULL when the query found
	 * none (the user fails like a wrong password). */
	const char *looked_up;
};

enum login_result {
	LOGIN_OK,   /* authenticated */
	LOGIN_SEND, /* send what was written and wait for a 'p' message */
	LOGIN_FAIL, /* refuse with sqlstate and message */
};

struct login;

/* Starts authenticating: decides the method (its name in *method) and
 * writes the first Authentication request (nothing for trust). On
 * LOGIN_FAIL *sqlstate and msg say why. *lp is set for LOGIN_SEND (free
 * with login_free). */
enum login_result login_start(const struct creds *cr,
			      const struct login_peer *p, struct login **lp,
			      const char **method, struct proto_writer *w,
			      const char **sqlstate, char *msg, size_t msglen);

/* Feeds the body of one PasswordMessage/SASL response. */
enum login_result login_step(struct login *l, const uint8_t *body, size_t len,
			     struct proto_writer *w, const char **sqlstate,
			     char *msg, size_t msglen);

/* Whether user's secret must come from auth_query before login_start:
 * auth_user is set and neither DB_PASSWORD nor the auth file knows user. */
bool login_needs_lookup(const struct creds *cr, const char *user);

/* After LOGIN_OK of a SCRAM exchange against a stored secret (an auth-file
 * `SCRAM-SHA-256$...` entry or auth_query's answer, which are the server's
 * own): the ClientKey recovered from the client's proof and the secret's
 * ServerKey, for SCRAM pass-through. false for any other login (a verifier
 * pitlane derived from a plaintext password has its own salt, so its keys
 * would not open the server). */
bool login_passthru_keys(const struct login *l,
			 uint8_t client_key[AUTH_SCRAM_KEY_LEN],
			 uint8_t server_key[AUTH_SCRAM_KEY_LEN])
    __attribute__((warn_unused_result));

/* The method chosen, for logs. */
const char *login_method(const struct login *l);

void login_free(struct login *l); /* NULL-safe */

#endif
