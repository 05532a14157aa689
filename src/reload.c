/* Live reconfiguration (see reload.h). */
#include "reload.h"

#include <stdio.h>

#include "config.h"
#include "worker.h"

bool reload_run(struct worker *w, char *err, size_t errlen)
{
	(void)w;
	snprintf(err, errlen, "reload is not implemented yet");
	return false;
}

bool reload_set(struct worker *w, const char *key, const char *value, char *err,
		size_t errlen)
{
	(void)w;
	(void)value;
	if (!config_changeable(NULL, key)) {
		snprintf(err, errlen,
			 config_setting_index(NULL, key) < 0
			     ? "unknown setting \"%s\""
			     : "setting \"%s\" cannot change at runtime",
			 key);
		return false;
	}
	snprintf(err, errlen, "SET is not implemented yet");
	return false;
}
