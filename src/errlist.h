/* The errors a parser finds in a text file, each "NAME:LINE: message", kept
 * in the caller's buffers up to their number; the parse fails on the first
 * error whether or not there is room to keep it. Shared by the auth file
 * and hba file parsers. */
#ifndef PITLANE_ERRLIST_H
#define PITLANE_ERRLIST_H

#include <stdbool.h>

#define ERRLIST_LEN 256 /* size of one message buffer */

struct errlist {
	const char *name;	  /* the file, as messages name it */
	char (*msg)[ERRLIST_LEN]; /* the caller's buffers, max of them */
	unsigned max;
	unsigned n;    /* messages kept */
	unsigned line; /* the line being read, from 1; 0: none */
	bool failed;   /* an error was found, kept or not */
};

/* Records "NAME:LINE: message" (or "NAME: message" at line 0) and marks
 * the parse failed. */
void errlist_add(struct errlist *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
