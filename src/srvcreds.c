/* Server-login credentials: the password-or-pass-through decision and the
 * table of ClientKeys it reads. */
#include "srvcreds.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct srvcreds_key {
	char user[SRVCREDS_USER_MAX];
	uint8_t client_key[AUTH_SCRAM_KEY_LEN];
	uint8_t server_key[AUTH_SCRAM_KEY_LEN];
};

static struct srvcreds_key *srvcreds_find(const struct srvcreds_keys *t,
					  const char *user)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->e[i].user, user) == 0)
			return &t->e[i];
	return NULL;
}

bool srvcreds_keys_put(struct srvcreds_keys *t, const char *user,
		       const uint8_t client_key[AUTH_SCRAM_KEY_LEN],
		       const uint8_t server_key[AUTH_SCRAM_KEY_LEN])
{
	struct srvcreds_key *k = srvcreds_find(t, user);

	if (strlen(user) >= SRVCREDS_USER_MAX)
		return false;
	if (k == NULL) {
		if (t->n == SRVCREDS_MAX)
			return false;
		if (t->n == t->cap) {
			unsigned cap = t->cap ? 2 * t->cap : 8;
			struct srvcreds_key *e =
			    calloc(cap, sizeof(*e)); /* no realloc: wipe */
			if (e == NULL)
				return false;
			if (t->n)
				memcpy(e, t->e, t->n * sizeof(*e));
			OPENSSL_cleanse(t->e, t->cap * sizeof(*e));
			free(t->e);
			t->e = e;
			t->cap = cap;
		}
		k = &t->e[t->n++];
		strcpy(k->user, user);
	}
	memcpy(k->client_key, client_key, AUTH_SCRAM_KEY_LEN);
	memcpy(k->server_key, server_key, AUTH_SCRAM_KEY_LEN);
	return true;
}

void srvcreds_keys_clear(struct srvcreds_keys *t)
{
	if (t->e != NULL)
		OPENSSL_cleanse(t->e, t->cap * sizeof(*t->e));
	free(t->e);
	memset(t, 0, sizeof(*t));
}

enum srvcreds_kind srvcreds_choose(const struct creds *cr,
				   const struct srvcreds_keys *keys,
				   const char *user, const char *entry_password,
				   struct srvcreds *out)
{
	const struct srvcreds_key *k;
	enum authfile_kind kind;
	const char *secret;

	memset(out, 0, sizeof(*out));
	if (entry_password == NULL && strcmp(user, cr->cfg->user) == 0)
		entry_password = cr->cfg->password;
	if (entry_password == NULL && cr->file != NULL &&
	    (secret = authfile_lookup(cr->file, user, &kind)) != NULL &&
	    kind == AUTHFILE_PLAIN)
		entry_password = secret;
	if (entry_password != NULL) {
		out->password = entry_password;
		return out->kind = SRVCREDS_PASSWORD;
	}
	if (keys != NULL && (k = srvcreds_find(keys, user)) != NULL) {
		memcpy(out->client_key, k->client_key, AUTH_SCRAM_KEY_LEN);
		memcpy(out->server_key, k->server_key, AUTH_SCRAM_KEY_LEN);
		return out->kind = SRVCREDS_PASSTHRU;
	}
	return out->kind = SRVCREDS_NONE;
}
