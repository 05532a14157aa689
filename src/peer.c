/* Peer list parsing and the cancel-key layout of peer ids (peer.h). The
 * list is parsed again at each use: it is short and a cancel is rare. */
#include "peer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_ID_SHIFT 18
#define PEER_RAND_MASK                                                         \
	((1u << PEER_ID_SHIFT) - 1 - PEER_KEY_FORWARDED) /* 17 random bits */

uint32_t peer_key_secret(unsigned id, uint32_t random)
{
	if (id == 0)
		return random;
	return ((uint32_t)id << PEER_ID_SHIFT) | (random & PEER_RAND_MASK);
}

unsigned peer_key_id(uint32_t secret)
{
	return secret >> PEER_ID_SHIFT;
}

bool peer_key_forwarded(uint32_t secret)
{
	return (secret & PEER_KEY_FORWARDED) != 0;
}

uint32_t peer_key_plain(uint32_t secret)
{
	return secret & ~PEER_KEY_FORWARDED;
}

static const char *skip_blanks(const char *s, const char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	return s;
}

/* One "key=value" word of a connection string; false when malformed. */
static bool peer_word(const char *k, size_t klen, const char *v, size_t vlen,
		      struct peer_addr *out, char *err, size_t errlen)
{
	char num[8];
	char *endp;
	long port;

	if (klen == 4 && strncmp(k, "host", 4) == 0) {
		if (vlen == 0 || vlen >= sizeof(out->host)) {
			snprintf(err, errlen, "host must be 1 to %zu bytes",
				 sizeof(out->host) - 1);
			return false;
		}
		memcpy(out->host, v, vlen);
		out->host[vlen] = '\0';
		return true;
	}
	if (klen == 4 && strncmp(k, "port", 4) == 0) {
		if (vlen == 0 || vlen >= sizeof(num))
			goto bad_port;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		port = strtol(num, &endp, 10);
		if (*endp != '\0' || port < 1 || port > 65535)
			goto bad_port;
		out->port = (int)port;
		return true;
	}
	snprintf(err, errlen, "unknown key \"%.*s\" (host and port are known)",
		 (int)klen, k);
	return false;
bad_port:
	snprintf(err, errlen, "port must be 1 to 65535, got \"%.*s\"",
		 (int)vlen, v);
	return false;
}

/* "host=H port=P" between s and end. */
static bool peer_conninfo(const char *s, const char *end, struct peer_addr *out,
			  char *err, size_t errlen)
{
	out->host[0] = '\0';
	out->port = PEER_DEFAULT_PORT;
	for (s = skip_blanks(s, end); s < end; s = skip_blanks(s, end)) {
		const char *k = s, *eq, *v;

		while (s < end && !isspace((unsigned char)*s))
			s++;
		eq = memchr(k, '=', (size_t)(s - k));
		if (eq == NULL) {
			snprintf(err, errlen,
				 "expected key=value, got \"%.*s\"",
				 (int)(s - k), k);
			return false;
		}
		v = eq + 1;
		if (!peer_word(k, (size_t)(eq - k), v, (size_t)(s - v), out,
			       err, errlen))
			return false;
	}
	if (out->host[0] == '\0') {
		snprintf(err, errlen, "host is missing");
		return false;
	}
	return true;
}

/* One "ID = conninfo" entry between s and end: its id in *id. */
static bool peer_entry(const char *s, const char *end, unsigned *id,
		       struct peer_addr *out, char *err, size_t errlen)
{
	unsigned long n = 0;
	const char *p;

	s = skip_blanks(s, end);
	for (p = s; p < end && isdigit((unsigned char)*p) && n <= PEER_ID_MAX;
	     p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == s || n < 1 || n > PEER_ID_MAX) {
		snprintf(err, errlen, "peer id must be 1 to %d, got \"%.*s\"",
			 PEER_ID_MAX, (int)(end - s), s);
		return false;
	}
	p = skip_blanks(p, end);
	if (p == end || *p != '=') {
		snprintf(err, errlen, "expected \"ID = host=... port=...\"");
		return false;
	}
	*id = (unsigned)n;
	return peer_conninfo(p + 1, end, out, err, errlen);
}

/* Calls visit for each entry of list until it returns false. false with
 * err filled for a malformed entry. */
static bool peer_each(const char *list,
		      bool (*visit)(unsigned id, const struct peer_addr *a,
				    void *arg),
		      void *arg, char *err, size_t errlen)
{
	const char *s = list;

	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ';');
		struct peer_addr a;
		unsigned id;

		if (end == NULL)
			end = s + strlen(s);
		if (skip_blanks(s, end) != end) {
			if (!peer_entry(s, end, &id, &a, err, errlen))
				return false;
			if (!visit(id, &a, arg))
				return true;
		}
		s = *end == ';' ? end + 1 : end;
	}
	return true;
}

struct peer_search {
	unsigned id;
	struct peer_addr *out;
	bool found;
};

static bool peer_search_visit(unsigned id, const struct peer_addr *a, void *arg)
{
	struct peer_search *ps = arg;

	if (id != ps->id)
		return true;
	*ps->out = *a;
	ps->found = true;
	return false;
}

bool peer_find(const char *list, unsigned id, struct peer_addr *out)
{
	struct peer_search ps = {.id = id, .out = out};
	char err[128];

	return peer_each(list, peer_search_visit, &ps, err, sizeof(err)) &&
	       ps.found;
}

struct peer_audit {
	unsigned char seen[(PEER_ID_MAX + 8) / 8];
	unsigned dup; /* first id listed twice; 0: none */
};

static bool peer_audit_visit(unsigned id, const struct peer_addr *a, void *arg)
{
	struct peer_audit *pa = arg;

	(void)a;
	if (pa->seen[id / 8] & (1u << (id % 8))) {
		pa->dup = id;
		return false;
	}
	pa->seen[id / 8] |= (unsigned char)(1u << (id % 8));
	return true;
}

bool peer_check(const char *list, unsigned self, char *err, size_t errlen)
{
	struct peer_audit pa;
	char why[160];

	if (list == NULL)
		return true;
	memset(&pa, 0, sizeof(pa));
	if (!peer_each(list, peer_audit_visit, &pa, why, sizeof(why))) {
		snprintf(err, errlen, "[peers]: %s", why);
		return false;
	}
	if (pa.dup != 0) {
		snprintf(err, errlen, "[peers]: peer %u is listed twice",
			 pa.dup);
		return false;
	}
	if (self == 0 || self > PEER_ID_MAX) {
		snprintf(err, errlen,
			 "[peers] is set but peer_id is %u: set this process's "
			 "peer_id (1 to %d)",
			 self, PEER_ID_MAX);
		return false;
	}
	if (!(pa.seen[self / 8] & (1u << (self % 8)))) {
		snprintf(err, errlen,
			 "[peers] must list every peer, this one included: "
			 "peer_id %u is missing",
			 self);
		return false;
	}
	return true;
}
