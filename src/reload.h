/* Live reconfiguration: RELOAD, SIGHUP and the console's SET. A new
 * configuration is built whole with the startup loader, validated, compared
 * with the running one, and each change applied through the owner of its
 * state; any error rejects it whole and pitlane goes on with the old one. */
#ifndef PITLANE_RELOAD_H
#define PITLANE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

struct worker;

/* Re-reads the INI file, the auth file, the hba file and the TLS files
 * (environment and flags keep their precedence) and applies every
 * changeable setting that differs; a changed setting that cannot change at
 * runtime keeps its old value and is logged as a warning. On any error
 * nothing changes, every error is logged, and err holds a summary for the
 * console (ERROR F0000); returns false. Never exits. */
bool reload_run(struct worker *w, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The console's SET key = value: the running configuration with one setting
 * changed goes through the same validate, diff and apply path. Fails (err
 * says why) for an unknown key, a setting that cannot change at runtime, an
 * invalid value, or a configuration the new value makes invalid. */
bool reload_set(struct worker *w, const char *key, const char *value, char *err,
		size_t errlen) __attribute__((warn_unused_result));

#endif
