/* libFuzzer target: the INI configuration. config_load_file reads a path,
 * so the input is written to a temporary file first; then config_finish
 * and config_print run on the result. The input's lines are also applied
 * as an environment (PITLANE_*= and DB_*= entries). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[4096];
static int fd = -1;
static FILE *devnull;

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/fuzz_config.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	devnull = fopen("/dev/null", "w");
	if (fd < 0 || devnull == NULL)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct config_errors errs = {0};
	char *envbuf, *envp[65];
	size_t n = 0;

	if (fd < 0)
		setup();
	if (ftruncate(fd, 0) != 0 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();

	config_defaults(&c);
	config_load_file(&c, path, &errs);

	/* Lines as environment entries (NUL bytes end a line early). */
	envbuf = malloc(size + 1);
	memcpy(envbuf, data, size);
	envbuf[size] = '\0';
	for (char *p = envbuf, *nl; *p && n < 64; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strchr(p, '=') && (!nl || strchr(p, '=') < nl))
			envp[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
	}
	envp[n] = NULL;
	config_load_env(&c, envp, &errs);
	free(envbuf);

	config_finish(&c, &errs);
	if (errs.n > CONFIG_MAX_ERRORS)
		abort();
	for (unsigned i = 0; i < errs.n && i < CONFIG_MAX_ERRORS; i++)
		if (!memchr(errs.msg[i], '\0', CONFIG_ERROR_LEN))
			abort();
	config_print(&c, devnull);
	config_free(&c);
	return 0;
}
