/* pitlane's own login to PostgreSQL for SCRAM pass-through: the frontend
 * side of the startup phase (StartupMessage, SCRAM-SHA-256 with a client's
 * ClientKey, then AuthenticationOk, ParameterStatus, BackendKeyData,
 * ReadyForQuery) as a pure state machine over whole messages. The caller
 * does the socket I/O (passthru.c). libpq 15 cannot log in with a
 * ClientKey; see design.md, "SCRAM pass-through". */
#ifndef PITLANE_SRVLOGIN_H
#define PITLANE_SRVLOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "params.h"
#include "proto.h"

#define SRVLOGIN_MSG_MAX 8192 /* largest login message accepted */

enum srvlogin_result {
	SRVLOGIN_CONTINUE, /* send what was written (maybe nothing), read on */
	SRVLOGIN_READY,	   /* ReadyForQuery: logged in */
	SRVLOGIN_FAIL,	   /* see error / sqlstate */
};

struct srvlogin {
	struct auth_scram_client scram;
	bool sasl_started;    /* SASLInitialResponse sent */
	bool authenticated;   /* AuthenticationOk seen */
	struct params params; /* ParameterStatus seen; owned, see
				 srvlogin_free */
	uint32_t pid, key;    /* BackendKeyData */
	char sqlstate[6];     /* the server's, or 08P01 / 28P01 of ours */
	char error[256];      /* why it failed, fit for a log line */
};

/* Starts a login with the keys (copied). */
void srvlogin_init(struct srvlogin *l, const uint8_t client_key[32],
		   const uint8_t server_key[32]);

/* Writes the StartupMessage (protocol 3.0, user, database,
 * application_name "pitlane"). */
void srvlogin_startup(struct proto_writer *w, const char *user,
		      const char *database);

/* Feeds one whole server message (type, body of len bytes) and writes the
 * reply, if any, to w. */
enum srvlogin_result srvlogin_feed(struct srvlogin *l, uint8_t type,
				   const uint8_t *body, size_t len,
				   struct proto_writer *w)
    __attribute__((warn_unused_result));

/* Wipes the keys and frees the parameters (the caller may have moved them
 * out first). */
void srvlogin_free(struct srvlogin *l);

#endif
