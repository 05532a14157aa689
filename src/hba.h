/* Host-based authentication rules: the subset of PostgreSQL's pg_hba.conf
 * that makes sense for a pooler, parsed once and matched at each login to
 * choose the authentication method. Pure module: no DNS, no sockets. */
#ifndef PITLANE_HBA_H
#define PITLANE_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errlist.h"

#define HBA_ERROR_LEN ERRLIST_LEN /* size of one error message buffer */

enum hba_conn { HBA_LOCAL, HBA_HOST, HBA_HOSTSSL, HBA_HOSTNOSSL };

enum hba_method { HBA_TRUST, HBA_REJECT, HBA_MD5, HBA_SCRAM, HBA_CERT };

/* What a rule demands of the client certificate. A `cert` rule always
 * demands verify-full (the certificate's CN is the user). */
enum hba_clientcert {
	HBA_CLIENTCERT_NONE,
	HBA_CLIENTCERT_VERIFY_CA,
	HBA_CLIENTCERT_VERIFY_FULL,
};

struct hba_rule;
struct hba; /* a parsed file: its rules in file order */

/* One login to decide on. */
struct hba_query {
	enum hba_conn conn;   /* HBA_LOCAL (unix socket) or HBA_HOST (TCP) */
	bool ssl;	      /* the TCP connection uses TLS */
	int family;	      /* AF_INET or AF_INET6; ignored for HBA_LOCAL */
	uint8_t addr[16];     /* client address, network order (IPv4: 0..3) */
	const char *database; /* as in the startup packet */
	const char *user;     /* as in the startup packet */
};

/* Parses the whole contents of an hba file; `name` prefixes messages. Every
 * error is recorded as "NAME:LINE: message" in errs (the first max_errs of
 * them; *nerrs says how many were recorded), one per line at most. Returns
 * NULL when there was any error or memory ran out; the caller frees the
 * result with hba_free. A file without rules is valid and rejects all. */
struct hba *hba_parse(const char *text, size_t len, const char *name,
		      char errs[][HBA_ERROR_LEN], unsigned max_errs,
		      unsigned *nerrs) __attribute__((warn_unused_result));

void hba_free(struct hba *h);

unsigned hba_rule_count(const struct hba *h);

/* The method of the first rule matching q, as PostgreSQL decides: first
 * match wins; no match gives HBA_REJECT with *matched false. *line is the
 * rule's line (0 without a match) and *clientcert what it demands of the
 * client certificate. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches
 * IPv4 rules as a.b.c.d as well as IPv6 rules. Any out pointer may be
 * NULL. */
enum hba_method hba_match(const struct hba *h, const struct hba_query *q,
			  bool *matched, unsigned *line,
			  enum hba_clientcert *clientcert);

const char *hba_method_name(enum hba_method m);

#endif
