/* libFuzzer target: [databases] and [users] entry values (dbconf.h). The
 * input is parsed as both; a parsed entry is printed, its line must parse
 * again, it is copied and freed; an error message must be a terminated
 * string that names something. The comment cut runs on the input too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The printed line parses again (values without a password: redacted
 * passwords read back as "<redacted>"). */
static void check_printed(const struct db_entry *e)
{
	char *buf = NULL, *eq, err[320];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct db_entry back;

	if (f == NULL)
		abort();
	dbconf_print_entry(f, e, "<redacted>");
	if (fclose(f) != 0 || len == 0 || buf[len - 1] != '\n')
		abort();
	buf[len - 1] = '\0';
	eq = strchr(buf, '=');
	if (eq == NULL ||
	    !dbconf_parse_entry(&back, "x", eq + 1, err, sizeof(err)))
		abort();
	if ((e->dbname == NULL) != (back.dbname == NULL) ||
	    (e->dbname != NULL && strcmp(e->dbname, back.dbname) != 0))
		abort();
	dbconf_entry_free(&back);
	free(buf);
}

static void check_entry(const char *value)
{
	struct db_entry e, copy;
	char err[320] = "";

	if (!dbconf_parse_entry(&e, "fuzz", value, err, sizeof(err))) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return;
	}
	if (e.pool_size != DBCONF_UNSET && e.min_pool_size != DBCONF_UNSET &&
	    e.min_pool_size > e.pool_size)
		abort();
	if (strcmp(dbconf_tsa_name(e.target_session_attrs), "") == 0)
		abort();
	check_printed(&e);
	if (!dbconf_entry_copy(&copy, &e))
		abort();
	dbconf_resolve(&copy, 10, 2);
	if (copy.min_pool_size > copy.pool_size)
		abort();
	dbconf_entry_free(&copy);
	dbconf_entry_free(&e);
}

static void check_user(const char *value)
{
	struct user_entry u, copy;
	char err[320] = "";

	if (!dbconf_parse_user(&u, "fuzz", value, err, sizeof(err))) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (!dbconf_user_copy(&copy, &u))
		abort();
	dbconf_user_free(&copy);
	dbconf_user_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = malloc(size + 1);

	if (value == NULL)
		return 0;
	memcpy(value, data, size);
	value[size] = '\0';
	check_entry(value);
	check_user(value);
	dbconf_cut_comment(value);
	check_entry(value);
	free(value);
	return 0;
}
