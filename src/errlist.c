/* Error messages of the file parsers, with the file name and line. */
#include "errlist.h"

#include <stdarg.h>
#include <stdio.h>

void errlist_add(struct errlist *e, const char *fmt, ...)
{
	char *m;
	int n;
	va_list ap;

	e->failed = true;
	if (e->n >= e->max)
		return;
	m = e->msg[e->n++];
	if (e->line > 0)
		n = snprintf(m, ERRLIST_LEN, "%s:%u: ", e->name, e->line);
	else
		n = snprintf(m, ERRLIST_LEN, "%s: ", e->name);
	if (n < 0 || n >= ERRLIST_LEN)
		return;
	va_start(ap, fmt);
	vsnprintf(m + n, ERRLIST_LEN - (size_t)n, fmt, ap);
	va_end(ap);
}
