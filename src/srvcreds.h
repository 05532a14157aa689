/* Which credentials a server login uses: the one place that decides
 * (design.md, "SCRAM pass-through"). A password when one is known (the
 * database entry's, DB_PASSWORD for DB_USER, a plaintext auth-file entry),
 * else the ClientKey a client of that user proved (SCRAM pass-through),
 * else none (libpq tries without a password: trust, peer). The ClientKeys
 * are kept in a small table by user, filled at each client login that
 * proved itself against a stored secret. Pure module. */
#ifndef PITLANE_SRVCREDS_H
#define PITLANE_SRVCREDS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "login.h"

#define SRVCREDS_MAX	  1024 /* users whose keys are kept at most */
#define SRVCREDS_USER_MAX 64   /* NAMEDATALEN */

enum srvcreds_kind {
	SRVCREDS_NONE,	   /* no secret: libpq without a password */
	SRVCREDS_PASSWORD, /* libpq with password */
	SRVCREDS_PASSTHRU, /* pitlane's own SCRAM login with the keys */
};

/* A server login's credentials. password points into the configuration or
 * the auth file: use it before they change (a reload). */
struct srvcreds {
	enum srvcreds_kind kind;
	const char *password;
	uint8_t client_key[AUTH_SCRAM_KEY_LEN];
	uint8_t server_key[AUTH_SCRAM_KEY_LEN];
};

/* ClientKeys by user; zero-initialised is empty. */
struct srvcreds_keys {
	struct srvcreds_key *e; /* owned, cap entries */
	unsigned n, cap;
};

/* Remembers (or replaces) user's keys. false when out of memory, the
 * table is full or the name is too long. */
bool srvcreds_keys_put(struct srvcreds_keys *t, const char *user,
		       const uint8_t client_key[AUTH_SCRAM_KEY_LEN],
		       const uint8_t server_key[AUTH_SCRAM_KEY_LEN])
    __attribute__((warn_unused_result));

/* Wipes and frees the table's entries. */
void srvcreds_keys_clear(struct srvcreds_keys *t);

/* The credentials for a server login as user: entry_password (a database
 * entry's password=, NULL: none) first, then DB_PASSWORD when user is
 * DB_USER, a plaintext auth-file password, the pass-through keys (keys
 * may be NULL), else none. Wipe out with OPENSSL_cleanse when done. */
enum srvcreds_kind srvcreds_choose(const struct creds *cr,
				   const struct srvcreds_keys *keys,
				   const char *user, const char *entry_password,
				   struct srvcreds *out);

#endif
