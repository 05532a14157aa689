/* The walk over a server's host list shared by both connect drivers: one
 * place for the shuffle, the two passes of prefer-standby and libpq's
 * target_session_attrs rules. */
#include "hostlist.h"

#include <stdio.h>
#include <string.h>

/* Splits a comma-separated list into at most max pieces (in place). */
static unsigned hostlist_split(char *list, char **out, unsigned max)
{
	unsigned n = 0;

	for (char *p = list; n < max; p++) {
		out[n++] = p;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		*p = '\0';
	}
	return n;
}

static void hostlist_swap(char **v, unsigned a, unsigned b)
{
	char *x = v[a];

	v[a] = v[b];
	v[b] = x;
}

/* Fisher-Yates over the hosts, the ports following when one per host. */
static void hostlist_shuffle(struct hostlist *hl, const uint32_t *rnd)
{
	for (unsigned i = hl->n; i > 1; i--) {
		unsigned j = rnd[i - 1] % i;
		hostlist_swap(hl->host, i - 1, j);
		if (hl->nports == hl->n)
			hostlist_swap(hl->port, i - 1, j);
	}
}

void hostlist_init(struct hostlist *hl, char *hosts, char *ports,
		   const char *tsa, const uint32_t *rnd)
{
	memset(hl, 0, sizeof(*hl));
	hl->n = hostlist_split(hosts, hl->host, HOSTLIST_MAX);
	hl->nports = hostlist_split(ports, hl->port, HOSTLIST_MAX);
	hl->tsa = tsa != NULL && strcmp(tsa, "any") != 0 ? tsa : NULL;
	if (rnd != NULL)
		hostlist_shuffle(hl, rnd);
}

unsigned hostlist_count(const char *hosts)
{
	unsigned n = 1;

	for (; *hosts != '\0' && n < HOSTLIST_MAX; hosts++)
		n += *hosts == ',';
	return n;
}

bool hostlist_ports_ok(const struct hostlist *hl, char *err, size_t cap)
{
	if (hl->nports == 1 || hl->nports == hl->n)
		return true;
	snprintf(err, cap, "could not match %u port numbers to %u hosts",
		 hl->nports, hl->n);
	return false;
}

const char *hostlist_port(const struct hostlist *hl, unsigned i)
{
	return hl->port[hl->nports == 1 ? 0 : i];
}

/* Whether the target is prefer-standby, which libpq runs as two passes
 * over the hosts: a standby first, any server when there is none. */
static bool hostlist_prefer_standby(const struct hostlist *hl)
{
	return hl->tsa != NULL && strcmp(hl->tsa, "prefer-standby") == 0;
}

bool hostlist_next(struct hostlist *hl)
{
	while (hl->cur < hl->n && hl->pass2 && hl->skip[hl->cur])
		hl->cur++;
	if (hl->cur >= hl->n && hostlist_prefer_standby(hl) && !hl->pass2) {
		hl->pass2 = true; /* no standby: any server, from the first */
		hl->cur = 0;
		return hostlist_next(hl);
	}
	return hl->cur < hl->n;
}

bool hostlist_more(const struct hostlist *hl)
{
	return hl->cur + 1 < hl->n ||
	       (hostlist_prefer_standby(hl) && !hl->pass2);
}

void hostlist_failed(struct hostlist *hl, bool skip)
{
	if (skip && hl->cur < hl->n)
		hl->skip[hl->cur] = true;
	hl->cur++;
}

const char *hostlist_tsa(const struct hostlist *hl)
{
	if (!hostlist_prefer_standby(hl))
		return hl->tsa;
	return hl->pass2 ? NULL : "standby";
}

static bool hostlist_on(const char *v)
{
	return v != NULL && strcmp(v, "on") == 0;
}

/* read-write and read-only: libpq needs both parameters (else it asks
 * the server with SHOW transaction_read_only). */
static const char *hostlist_check_rw(bool want_rw, const char *standby,
				     const char *read_only)
{
	bool ro = hostlist_on(standby) || hostlist_on(read_only);

	if (standby == NULL || read_only == NULL)
		return "the server reports no in_hot_standby and "
		       "default_transaction_read_only (PostgreSQL before 14): "
		       "target_session_attrs cannot be checked";
	if (want_rw && ro)
		return hostlist_on(standby)
			   ? "session is read-only (in_hot_standby is on)"
			   : "session is read-only "
			     "(default_transaction_read_only is on)";
	if (!want_rw && !ro)
		return "session is not read-only (in_hot_standby and "
		       "default_transaction_read_only are off)";
	return NULL;
}

/* primary, standby, prefer-standby: in_hot_standby alone (else libpq
 * asks the server with SELECT pg_is_in_recovery()). */
static const char *hostlist_check_standby(bool want_standby,
					  const char *standby)
{
	if (standby == NULL)
		return "the server reports no in_hot_standby (PostgreSQL "
		       "before 14): target_session_attrs cannot be checked";
	if (want_standby && !hostlist_on(standby))
		return "server is not in hot standby mode (in_hot_standby is "
		       "off)";
	if (!want_standby && hostlist_on(standby))
		return "server is in hot standby mode (in_hot_standby is on)";
	return NULL;
}

const char *hostlist_check(const char *tsa, const char *in_hot_standby,
			   const char *read_only)
{
	if (tsa == NULL || strcmp(tsa, "any") == 0)
		return NULL;
	if (strcmp(tsa, "read-write") == 0)
		return hostlist_check_rw(true, in_hot_standby, read_only);
	if (strcmp(tsa, "read-only") == 0)
		return hostlist_check_rw(false, in_hot_standby, read_only);
	return hostlist_check_standby(strcmp(tsa, "primary") != 0,
				      in_hot_standby);
}
