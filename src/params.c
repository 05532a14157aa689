/* Server run-time parameters: a small owned name/value set, updated from
 * ParameterStatus messages and written back out as ParameterStatus. */
#include "params.h"

#include <stdlib.h>
#include <string.h>

static int params_find(const struct params *p, const char *name)
{
	for (unsigned i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return (int)i;
	return -1;
}

bool params_set(struct params *p, const char *name, const char *value)
{
	int i = params_find(p, name);
	char *v = strdup(value);

	if (v == NULL)
		return false;
	if (i >= 0) {
		free(p->value[i]);
		p->value[i] = v;
		return true;
	}
	if (p->n == PARAMS_MAX || (p->name[p->n] = strdup(name)) == NULL) {
		free(v);
		return false;
	}
	p->value[p->n++] = v;
	return true;
}

const char *params_get(const struct params *p, const char *name)
{
	int i = params_find(p, name);

	return i < 0 ? NULL : p->value[i];
}

bool params_copy(struct params *dst, const struct params *src)
{
	params_clear(dst);
	for (unsigned i = 0; i < src->n; i++) {
		if (!params_set(dst, src->name[i], src->value[i])) {
			params_clear(dst);
			return false;
		}
	}
	return true;
}

void params_clear(struct params *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		free(p->name[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

void params_write(const struct params *p, struct proto_writer *w)
{
	for (unsigned i = 0; i < p->n; i++)
		proto_write_parameter_status(w, p->name[i], p->value[i]);
}
