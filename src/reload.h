/* Live reconfiguration: RELOAD, SIGHUP and the console's SET. A new
 * configuration is built whole with the startup loader, validated, compared
 * with the running one, and each change applied through the owner of its
 * state; any error rejects it whole and pitlane goes on with the old one. */
#ifndef PITLANE_RELOAD_H
#define PITLANE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct creds;
struct tls_server;
struct worker;

/* Loads what a finished configuration names in files: the auth_file and
 * hba_file into *creds, the TLS certificate, key and CA into *tls (NULL
 * when tls_mode is disable). Startup and reload share it. Errors go to
 * errs and make it return false; either way free both with
 * reload_free_files. */
bool reload_load_files(const struct config *cfg, struct creds **creds,
		       struct tls_server **tls, struct config_errors *errs)
    __attribute__((warn_unused_result));
void reload_free_files(struct creds *creds, struct tls_server *tls);

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
