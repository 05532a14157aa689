/* libFuzzer target: the hba file parser (pg_hba.conf syntax) and matches
 * of the parsed rules against a few logins. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errs[4][HBA_ERROR_LEN];
	unsigned nerrs = 0, line;
	char *text = malloc(size ? size : 1);
	struct hba *h;

	memcpy(text, data, size);
	h = hba_parse(text, size, "fuzz", errs, 4, &nerrs);
	free(text); /* the rules must not point into the text */
	if (nerrs > 4)
		abort();
	for (unsigned i = 0; i < nerrs; i++)
		if (!memchr(errs[i], '\0', HBA_ERROR_LEN))
			abort();
	if (h == NULL)
		return 0;
	if (nerrs != 0)
		abort();

	struct hba_query q[5] = {
	    {.conn = HBA_LOCAL, .database = "pitlane", .user = "pitlane"},
	    {.conn = HBA_HOST,
	     .family = AF_INET,
	     .database = "pitlane",
	     .user = "pitlane"},
	    {.conn = HBA_HOST,
	     .ssl = true,
	     .family = AF_INET,
	     .database = "db",
	     .user = "alice"},
	    {.conn = HBA_HOST,
	     .family = AF_INET6,
	     .database = "all",
	     .user = "all"},
	    {.conn = HBA_HOST,
	     .ssl = true,
	     .family = AF_INET6,
	     .database = "replication",
	     .user = "+group"},
	};
	inet_pton(AF_INET, "127.0.0.1", q[1].addr);
	inet_pton(AF_INET, "10.1.2.3", q[2].addr);
	inet_pton(AF_INET6, "::1", q[3].addr);
	inet_pton(AF_INET6, "::ffff:192.168.0.1", q[4].addr);
	for (size_t i = 0; i < 5; i++) {
		bool matched = true;
		enum hba_clientcert cc;
		enum hba_method m = hba_match(h, &q[i], &matched, &line, &cc);
		if (!matched && (m != HBA_REJECT || line != 0))
			abort();
		if (matched && line == 0)
			abort();
		(void)hba_method_name(m);
	}
	(void)hba_rule_count(h);
	hba_free(h);
	return 0;
}
