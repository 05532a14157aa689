/* A server's host list as the connect drivers walk it (backend.c with
 * libpq, passthru.c with pitlane's own login): hosts and ports split from
 * their comma-separated lists, load_balance_hosts=random's shuffle, the
 * order hosts are tried in (prefer-standby's two passes), and whether a
 * logged-in server suits target_session_attrs by what it reported.
 * Pure module: the shuffle's random words come from the caller. */
#ifndef PITLANE_HOSTLIST_H
#define PITLANE_HOSTLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOSTLIST_MAX 16 /* hosts of a list tried; the rest are ignored */

struct hostlist {
	char *host[HOSTLIST_MAX]; /* into the caller's host string, split */
	char *port[HOSTLIST_MAX]; /* into the caller's port string, split */
	unsigned n, nports;
	const char *tsa;	 /* target_session_attrs; NULL: any */
	unsigned cur;		 /* the host being tried */
	bool pass2;		 /* prefer-standby's second pass: any server */
	bool skip[HOSTLIST_MAX]; /* timed out or unresolved: not tried again
				    in the second pass */
};

/* Splits hosts and ports (in place: hl points into them, and into tsa).
 * With rnd (HOSTLIST_MAX random words), the hosts are shuffled, and the
 * ports with them when there is one per host: load_balance_hosts=random. */
void hostlist_init(struct hostlist *hl, char *hosts, char *ports,
		   const char *tsa, const uint32_t *rnd);

/* How many hosts a comma-separated list names, as hostlist_init splits it
 * (at most HOSTLIST_MAX). */
unsigned hostlist_count(const char *hosts);

/* Whether the ports fit the hosts: one for all, or one per host; else
 * false, with libpq's message in err. */
bool hostlist_ports_ok(const struct hostlist *hl, char *err, size_t cap);

/* The port of host i. */
const char *hostlist_port(const struct hostlist *hl, unsigned i);

/* Moves cur to the host to try now: cur itself, or in the second pass the
 * next one not skipped; past the last host of prefer-standby's first
 * pass, the first host again for any server. false: none is left. */
bool hostlist_next(struct hostlist *hl);

/* Whether another host may be tried after cur (its failure is then
 * logged as "trying the next"). */
bool hostlist_more(const struct hostlist *hl);

/* Host cur failed; skip: not to be tried in the second pass. */
void hostlist_failed(struct hostlist *hl, bool skip);

/* The target_session_attrs host cur must suit in this pass (libpq's
 * keyword; NULL: any server). */
const char *hostlist_tsa(const struct hostlist *hl);

/* Whether a server suits tsa by the in_hot_standby and
 * default_transaction_read_only it reported at login (NULL: not
 * reported, as before PostgreSQL 14), with libpq's rules: read-write
 * wants neither on, read-only either; primary wants in_hot_standby off,
 * standby and prefer-standby on. NULL when it suits, else why not. */
const char *hostlist_check(const char *tsa, const char *in_hot_standby,
			   const char *read_only);

#endif
