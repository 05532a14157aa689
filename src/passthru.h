/* Backend connections for SCRAM pass-through: pitlane logs in to
 * PostgreSQL itself (srvlogin) with a client's ClientKey, on a plain TCP or
 * unix socket, because libpq 15 cannot. Resolution with evdns, a
 * non-blocking connect and the login on libevent events, bounded by the
 * connect timeout, tried host after host. Every other login uses libpq
 * (backend.c). */
#ifndef PITLANE_PASSTHRU_H
#define PITLANE_PASSTHRU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "auth.h"
#include "config.h"
#include "params.h"

/* A logged-in backend connection without a PGconn. */
struct passthru_conn {
	int fd;			      /* non-blocking; owned */
	uint32_t pid, key;	      /* BackendKeyData, for CancelRequest */
	struct params params;	      /* ParameterStatus at login; owned */
	struct sockaddr_storage addr; /* where it is connected: cancels */
	socklen_t addr_len;
};

/* What a pass-through login needs. */
struct passthru_target {
	const struct config *cfg;  /* connect_timeout_ms; held */
	const char *host;	   /* comma-separated list; copied */
	const char *port;	   /* one for all hosts, or a list; copied */
	const char *user, *dbname; /* copied */
	const char *target_session_attrs; /* libpq's keyword, NULL: any */
	bool shuffle_hosts;		  /* load_balance_hosts=random */
	uint8_t client_key[AUTH_SCRAM_KEY_LEN];
	uint8_t server_key[AUTH_SCRAM_KEY_LEN];
};

/* Called once: conn (the callee owns it) or NULL with a reason for the
 * log. */
typedef void (*passthru_done_cb)(struct passthru_conn *conn, const char *error,
				 void *arg);

struct passthru_connect;

/* Whether sslmode toward the server lets pass-through use a plain socket:
 * disable, allow and prefer do; require and stronger do not (TLS toward
 * the server stays with libpq, which cannot log in with a ClientKey). */
bool passthru_allowed(const struct config *cfg);

/* Starts one attempt (t and its strings are copied; cfg is held). NULL
 * when out of memory. */
struct passthru_connect *passthru_connect_start(struct event_base *base,
						struct evdns_base *dns,
						const struct passthru_target *t,
						passthru_done_cb done,
						void *arg);

/* Abandons an attempt without calling its callback (NULL-safe). */
void passthru_connect_abort(struct passthru_connect *pc);

/* Sends Terminate, closes the socket and frees conn (NULL-safe). */
void passthru_close(struct passthru_conn *conn);

#endif
