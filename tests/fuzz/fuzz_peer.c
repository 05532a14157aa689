/* libFuzzer target: the [peers] list (peer.h). The input, as a string, is
 * checked for a few peer ids and searched for each id it might name; a
 * found address must be a non-empty host and a port in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned ids[] = {0,  1,		2,
				       17, PEER_ID_MAX, PEER_ID_MAX + 1};
	char *list = malloc(size + 1);
	char err[256];
	struct peer_addr a;

	if (list == NULL)
		return 0;
	memcpy(list, data, size);
	list[size] = '\0';
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		err[0] = '\0';
		(void)peer_check(list, ids[i], err, sizeof(err));
		if (strlen(err) >= sizeof(err))
			abort();
		if (peer_find(list, ids[i], &a) &&
		    (a.host[0] == '\0' || a.port < 1 || a.port > 65535))
			abort();
	}
	free(list);
	return 0;
}
