/* Client authentication: method choice, credential lookup and the
 * SCRAM-SHA-256 / MD5 / certificate / trust exchanges, as message bodies. */
#include "login.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define LOGIN_FILE_MAX (16 * 1024 * 1024) /* auth_file / hba_file size cap */

_Static_assert(AUTHFILE_ERROR_LEN == 256 && HBA_ERROR_LEN == 256,
	       "creds_load_file passes one error buffer to both parsers");

enum login_kind { LOGIN_SCRAM, LOGIN_MD5 };

struct login {
	enum login_kind kind;
	const char *method;
	char user[64];
	char md5_stored[AUTH_MD5_LEN + 1]; /* "" when unknown: fails */
	uint8_t salt[AUTH_MD5_SALT_LEN];
	struct auth_scram scram;
	bool stored_secret; /* the verifier is a stored secret: pass-through */
};

/* Reads a whole file for the parsers. NULL with errno set on failure. */
static char *login_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *b;
			if (cap >= LOGIN_FILE_MAX)
				break;
			cap = cap ? cap * 2 : 4096;
			b = realloc(buf, cap + 1);
			if (b == NULL)
				break;
			buf = b;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* A parser of the auth_file or hba_file, behind one signature. */
typedef void *(*creds_parse_fn)(const char *text, size_t len, const char *name,
				char errs[][256], unsigned max_errs,
				unsigned *nerrs);

static void *creds_parse_authfile(const char *text, size_t len,
				  const char *name, char errs[][256],
				  unsigned max_errs, unsigned *nerrs)
{
	return authfile_parse(text, len, name, errs, max_errs, nerrs);
}

static void *creds_parse_hba(const char *text, size_t len, const char *name,
			     char errs[][256], unsigned max_errs,
			     unsigned *nerrs)
{
	return hba_parse(text, len, name, errs, max_errs, nerrs);
}

/* Reads and parses one of the files; its errors (file and line) go to
 * errs. NULL on any. */
static void *creds_load_file(const char *setting, const char *path,
			     creds_parse_fn parse, struct config_errors *errs)
{
	char perr[8][256];
	unsigned nerr = 0;
	size_t len = 0;
	char *text = login_read_file(path, &len);
	void *parsed;

	if (text == NULL) {
		config_error(errs, "cannot read %s \"%s\": %m", setting, path);
		return NULL;
	}
	parsed = parse(text, len, path, perr, 8, &nerr);
	free(text);
	for (unsigned i = 0; i < nerr; i++)
		config_error(errs, "%s", perr[i]);
	if (parsed == NULL && nerr == 0)
		config_error(errs, "cannot load %s \"%s\"", setting, path);
	return parsed;
}

bool creds_load(struct creds *cr, const struct config *cfg,
		struct config_errors *errs)
{
	bool ok = true;

	memset(cr, 0, sizeof(*cr));
	cr->cfg = cfg;
	if (RAND_bytes(cr->mock_secret, sizeof(cr->mock_secret)) != 1) {
		config_error(errs, "cannot draw random bytes");
		return false;
	}
	if (cfg->password != NULL) {
		cr->have_pool_secret =
		    auth_verifier_from_password(cfg->password, &cr->pool_scram,
						NULL, 0) &&
		    auth_md5_stored(cfg->password, cfg->user, cr->pool_md5);
		if (!cr->have_pool_secret) {
			config_error(errs, "cannot derive the secrets of "
					   "DB_PASSWORD");
			ok = false;
		}
	}
	if (cfg->auth_file != NULL &&
	    (cr->file = creds_load_file("auth_file", cfg->auth_file,
					creds_parse_authfile, errs)) == NULL)
		ok = false;
	if (cfg->hba_file != NULL &&
	    (cr->hba = creds_load_file("hba_file", cfg->hba_file,
				       creds_parse_hba, errs)) == NULL)
		ok = false;
	return ok;
}

void creds_free(struct creds *cr)
{
	authfile_free(cr->file);
	hba_free(cr->hba);
	OPENSSL_cleanse(cr, sizeof(*cr));
}

/* The kind of a secret auth_query returned (the auth file's rules). */
static enum authfile_kind login_classify(const char *secret)
{
	struct auth_verifier v;
	size_t hex = strspn(secret + (strncmp(secret, "md5", 3) ? 0 : 3),
			    "0123456789abcdef");

	if (auth_verifier_parse(secret, &v))
		return AUTHFILE_SCRAM;
	if (strncmp(secret, "md5", 3) == 0 && hex == 32 &&
	    strlen(secret) == AUTH_MD5_LEN)
		return AUTHFILE_MD5;
	return AUTHFILE_PLAIN;
}

/* The user's secret: the pool user's from DB_PASSWORD, else the auth_file
 * entry, else auth_query's answer. NULL for an unknown user. */
static const char *login_secret(const struct creds *cr,
				const struct login_peer *p,
				enum authfile_kind *kind, bool *pool_user)
{
	const char *user = p->user, *s = NULL;

	*pool_user = strcmp(user, cr->cfg->user) == 0 && cr->have_pool_secret;
	if (*pool_user)
		return "";
	if (cr->file != NULL)
		s = authfile_lookup(cr->file, user, kind);
	if (s == NULL && p->looked_up != NULL) {
		s = p->looked_up;
		*kind = login_classify(s);
	}
	return s;
}

bool login_needs_lookup(const struct creds *cr, const char *user)
{
	enum authfile_kind kind;

	if (cr->cfg->auth_user == NULL)
		return false;
	if (strcmp(user, cr->cfg->user) == 0 && cr->have_pool_secret)
		return false;
	return cr->file == NULL || !authfile_lookup(cr->file, user, &kind);
}

/* Whether a trust login may use this name: one pitlane knows. */
static bool login_known_user(const struct creds *cr, const char *user)
{
	enum authfile_kind kind;

	return strcmp(user, cr->cfg->user) == 0 ||
	       (cr->file != NULL && authfile_lookup(cr->file, user, &kind));
}

static enum hba_method login_choose(const struct creds *cr,
				    const struct login_peer *p,
				    enum hba_clientcert *cc, bool *matched)
{
	*cc = HBA_CLIENTCERT_NONE;
	*matched = true;
	if (cr->hba != NULL) {
		struct hba_query q = {
		    .conn = p->unix_socket ? HBA_LOCAL : HBA_HOST,
		    .ssl = p->tls,
		    .family = p->family,
		    .database = p->database,
		    .user = p->user,
		};
		memcpy(q.addr, p->addr, sizeof(q.addr));
		return hba_match(cr->hba, &q, matched, NULL, cc);
	}
	switch (cr->cfg->auth_type) {
	case AUTH_MD5:
		return HBA_MD5;
	case AUTH_CERT:
		return HBA_CERT;
	case AUTH_TRUST:
		return HBA_TRUST;
	default:
		return HBA_SCRAM;
	}
}

static const char *login_fail(const char *state, char *msg, size_t len,
			      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the refusal message; returns its SQLSTATE. */
static const char *login_fail(const char *state, char *msg, size_t len,
			      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return state;
}

/* The certificate a rule or the cert method demands. NULL when satisfied,
 * else the SQLSTATE of the refusal written to msg. */
static const char *login_check_cert(const struct login_peer *p,
				    enum hba_clientcert cc, char *msg,
				    size_t len)
{
	if (cc == HBA_CLIENTCERT_NONE)
		return NULL;
	if (!p->tls || p->cert_cn == NULL)
		return login_fail("28000", msg, len,
				  "connection requires a valid client "
				  "certificate");
	if (cc == HBA_CLIENTCERT_VERIFY_FULL &&
	    strcmp(p->cert_cn, p->user) != 0)
		return login_fail("28000", msg, len,
				  "certificate authentication failed for user "
				  "\"%s\"",
				  p->user);
	return NULL;
}

static void login_write_sasl(struct login *l, struct proto_writer *w)
{
	size_t n;
	const uint8_t *mech = auth_scram_mechanisms(&l->scram, &n);

	proto_begin(w, 'R');
	proto_put_u32(w, 10);
	proto_put_bytes(w, mech, n);
	proto_end(w);
}

static void login_write_md5(struct login *l, struct proto_writer *w)
{
	proto_begin(w, 'R');
	proto_put_u32(w, 5);
	proto_put_bytes(w, l->salt, sizeof(l->salt));
	proto_end(w);
}

/* Prepares a password exchange. Users without a usable secret go through
 * the same steps with a secret that never matches, so their failure looks
 * and takes the same as a wrong password. */
static struct login *login_password(const struct creds *cr,
				    const struct login_peer *p,
				    enum login_kind kind)
{
	struct login *l = calloc(1, sizeof(*l));
	enum authfile_kind fk = AUTHFILE_PLAIN;
	bool pool;
	const char *secret = login_secret(cr, p, &fk, &pool);
	struct auth_verifier v;
	bool have = false;

	if (l == NULL)
		return NULL;
	l->kind = kind;
	snprintf(l->user, sizeof(l->user), "%s", p->user);
	if (kind == LOGIN_SCRAM) {
		l->method = "scram-sha-256";
		if (pool)
			v = cr->pool_scram, have = true;
		else if (secret != NULL && fk == AUTHFILE_SCRAM)
			have = l->stored_secret =
			    auth_verifier_parse(secret, &v);
		else if (secret != NULL && fk == AUTHFILE_PLAIN)
			have = auth_verifier_from_password(secret, &v, NULL, 0);
		if (!have)
			auth_verifier_mock(cr->mock_secret, p->user, &v);
		auth_scram_init(&l->scram, &v, p->tls ? p->cbind : NULL,
				p->tls ? p->cbind_len : 0);
		OPENSSL_cleanse(&v, sizeof(v));
		return l;
	}
	l->method = "md5";
	if (pool)
		memcpy(l->md5_stored, cr->pool_md5, sizeof(l->md5_stored));
	else if (secret != NULL && fk == AUTHFILE_MD5)
		snprintf(l->md5_stored, sizeof(l->md5_stored), "%s", secret);
	else if (secret != NULL && fk == AUTHFILE_PLAIN &&
		 !auth_md5_stored(secret, p->user, l->md5_stored))
		l->md5_stored[0] = '\0';
	if (RAND_bytes(l->salt, sizeof(l->salt)) != 1) {
		free(l);
		return NULL;
	}
	return l;
}

enum login_result login_start(const struct creds *cr,
			      const struct login_peer *p, struct login **lp,
			      const char **method, struct proto_writer *w,
			      const char **sqlstate, char *msg, size_t msglen)
{
	enum hba_clientcert cc;
	bool matched;
	enum hba_method m = login_choose(cr, p, &cc, &matched);
	const char *enc = p->tls ? "SSL encryption" : "no encryption";

	*lp = NULL;
	*method = matched ? hba_method_name(m) : "no hba entry";
	if (!matched) {
		*sqlstate = login_fail(
		    "28000", msg, msglen,
		    "no pg_hba.conf entry for host \"%s\", user \"%s\", "
		    "database \"%s\", %s",
		    p->addr_text, p->user, p->database, enc);
		return LOGIN_FAIL;
	}
	if (m == HBA_REJECT) {
		*sqlstate = login_fail("28000", msg, msglen,
				       "pg_hba.conf rejects connection for "
				       "host \"%s\", user \"%s\", database "
				       "\"%s\", %s",
				       p->addr_text, p->user, p->database, enc);
		return LOGIN_FAIL;
	}
	if (m == HBA_CERT)
		cc = HBA_CLIENTCERT_VERIFY_FULL;
	if ((*sqlstate = login_check_cert(p, cc, msg, msglen)) != NULL)
		return LOGIN_FAIL;
	if (m == HBA_CERT || m == HBA_TRUST) {
		/* Without a password, only names pitlane knows get in. */
		if (login_known_user(cr, p->user))
			return LOGIN_OK;
		*sqlstate = login_fail("28000", msg, msglen,
				       "role \"%s\" is not served by this "
				       "pool",
				       p->user);
		return LOGIN_FAIL;
	}
	*lp = login_password(cr, p, m == HBA_MD5 ? LOGIN_MD5 : LOGIN_SCRAM);
	if (*lp == NULL) {
		*sqlstate = login_fail("53200", msg, msglen, "out of memory");
		return LOGIN_FAIL;
	}
	if ((*lp)->kind == LOGIN_SCRAM)
		login_write_sasl(*lp, w);
	else
		login_write_md5(*lp, w);
	return LOGIN_SEND;
}

enum login_result login_step(struct login *l, const uint8_t *body, size_t len,
			     struct proto_writer *w, const char **sqlstate,
			     char *msg, size_t msglen)
{
	const char *out = NULL;
	size_t n = 0;

	if (l->kind == LOGIN_MD5) {
		if (auth_md5_verify(l->md5_stored[0] ? l->md5_stored : NULL,
				    l->salt, body, len))
			return LOGIN_OK;
	} else {
		switch (auth_scram_step(&l->scram, body, len, &out, &n)) {
		case AUTH_CONTINUE:
			proto_begin(w, 'R');
			proto_put_u32(w, 11);
			proto_put_bytes(w, out, n);
			proto_end(w);
			return LOGIN_SEND;
		case AUTH_OK:
			proto_begin(w, 'R');
			proto_put_u32(w, 12);
			proto_put_bytes(w, out, n);
			proto_end(w);
			return LOGIN_OK;
		case AUTH_FAIL:
			if (l->scram.reason != AUTH_REASON_PROOF) {
				/* Not a wrong password: a broken exchange. */
				*sqlstate = login_fail(
				    "08P01", msg, msglen,
				    "invalid SCRAM exchange: %s",
				    auth_reason_str(l->scram.reason));
				return LOGIN_FAIL;
			}
			break;
		}
	}
	*sqlstate = login_fail("28P01", msg, msglen,
			       "password authentication failed for user "
			       "\"%s\"",
			       l->user);
	return LOGIN_FAIL;
}

bool login_passthru_keys(const struct login *l,
			 uint8_t client_key[AUTH_SCRAM_KEY_LEN],
			 uint8_t server_key[AUTH_SCRAM_KEY_LEN])
{
	if (l == NULL || l->kind != LOGIN_SCRAM || !l->stored_secret ||
	    !auth_scram_client_key(&l->scram, client_key))
		return false;
	memcpy(server_key, l->scram.v.server_key, AUTH_SCRAM_KEY_LEN);
	return true;
}

const char *login_method(const struct login *l)
{
	return l != NULL ? l->method : "trust";
}

void login_free(struct login *l)
{
	if (l == NULL)
		return;
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}
