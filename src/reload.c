/* Live reconfiguration (design.md §7): parse a whole new configuration with
 * the startup loader, validate it and load its files, and only when all of
 * that succeeded compare it with the running one and apply each change
 * through the owner of its state. The worker holds the configuration, the
 * credentials and the TLS context; each is replaced whole, never edited in
 * place, so a session that took a pointer before the swap keeps a
 * consistent view (backend connects hold the configuration, TLS sessions
 * their SSL_CTX). */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "login.h"
#include "server.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

/* The backend target: a change of any of these replaces every server. */
static const char *const reload_target_keys[] = {
    "host",    "port",	      "dbname",	 "user",   "password",
    "sslmode", "sslrootcert", "sslcert", "sslkey",
};

/* A candidate: the configuration and what its files hold, all owned. */
struct reload_next {
	struct config *cfg;
	struct creds *creds;
	struct tls_server *tls;
};

bool reload_load_files(const struct config *cfg, struct creds **creds,
		       struct tls_server **tls, struct config_errors *errs)
{
	char err[512];

	*creds = calloc(1, sizeof(**creds));
	*tls = NULL;
	if (*creds == NULL) {
		config_error(errs, "out of memory loading credentials");
		return false;
	}
	if (!creds_load(*creds, cfg, errs))
		return false;
	if (cfg->tls_mode == TLS_DISABLE)
		return true;
	*tls = tls_server_new(cfg, err, sizeof(err));
	if (*tls == NULL) {
		config_error(errs, "%s", err);
		return false;
	}
	return true;
}

void reload_free_files(struct creds *creds, struct tls_server *tls)
{
	if (creds != NULL) {
		creds_free(creds);
		free(creds);
	}
	tls_server_free(tls);
}

static void reload_next_free(struct reload_next *n)
{
	reload_free_files(n->creds, n->tls);
	config_release(n->cfg);
	memset(n, 0, sizeof(*n));
}

/* A setting that cannot change at runtime keeps its running value; the
 * operator learns that the new one waits for a restart. */
static void reload_keep_fixed(const struct config *running, struct config *c)
{
	for (unsigned i = 0; i < config_setting_count(); i++) {
		struct config_setting_info info, want;

		if (config_setting_equal(running, c, i))
			continue;
		config_setting_info(running, i, &info);
		if (info.changeable)
			continue;
		config_setting_info(c, i, &want);
		log_warn("setting cannot change at runtime: kept until a "
			 "restart",
			 LF_STR("setting", info.key),
			 LF_STR("kept", info.value),
			 LF_STR("ignored", want.value));
		config_setting_copy(c, running, i);
	}
}

/* Finishes the candidate and loads its files; every error goes to errs. */
static bool reload_prepare(const struct worker *w, struct reload_next *n,
			   struct config_errors *errs)
{
	reload_keep_fixed(w->cfg, n->cfg);
	config_finish(n->cfg, errs);
	if (errs->n > 0)
		return false;
	if (!reload_load_files(n->cfg, &n->creds, &n->tls, errs))
		return false;
	/* Unknown users get the same made-up salt before and after. */
	memcpy(n->creds->mock_secret, w->creds->mock_secret,
	       sizeof(n->creds->mock_secret));
	return true;
}

/* Logs every error and says, for the console, how many and the first. */
static void reload_report(const char *what, const struct config_errors *errs,
			  char *err, size_t errlen)
{
	for (unsigned i = 0; i < errs->n; i++)
		log_error("configuration error: nothing changed",
			  LF_STR("during", what),
			  LF_STR("error", errs->msg[i]));
	if (errs->n == 1)
		snprintf(err, errlen, "%s failed, nothing changed: %s", what,
			 errs->msg[0]);
	else
		snprintf(err, errlen,
			 "%s failed, nothing changed: %u errors (all in the "
			 "log), the first: %s",
			 what, errs->n, errs->msg[0]);
}

/* Logs each changeable setting whose value differs (a secret's value is
 * never written) and says whether the backend target is among them. */
static unsigned reload_log_changes(const struct config *old,
				   const struct config *cfg, bool *target)
{
	unsigned changed = 0;

	*target = false;
	for (unsigned i = 0; i < config_setting_count(); i++) {
		struct config_setting_info was, now;

		if (config_setting_equal(old, cfg, i))
			continue;
		config_setting_info(old, i, &was);
		config_setting_info(cfg, i, &now);
		log_info("setting changed", LF_STR("setting", now.key),
			 LF_STR("from", was.value), LF_STR("to", now.value));
		changed++;
		for (size_t k = 0; k < sizeof(reload_target_keys) /
					   sizeof(reload_target_keys[0]);
		     k++)
			if (strcmp(now.key, reload_target_keys[k]) == 0)
				*target = true;
	}
	return changed;
}

/* A new stats_period starts a new period at once. */
static void reload_stats_period(struct worker *w)
{
	stats_stop(w);
	if (stats_start(w) != 0)
		log_error("cannot restart the stats_period timer",
			  LF_INT("stats_period_ms", w->cfg->stats_period_ms));
}

/* Swaps the candidate in; the old configuration, credentials and TLS
 * context go (what still holds them keeps them alive). Then each owner
 * acts: the log, the pool (lower max: surplus idle servers close in
 * maintain, busy ones on release), the servers (target change). */
static void reload_apply(struct worker *w, struct reload_next *n,
			 const char *what)
{
	struct reload_next old = {
	    .cfg = (struct config *)w->cfg, .creds = w->creds, .tls = w->tls};
	bool target;
	unsigned changed = reload_log_changes(old.cfg, n->cfg, &target);

	w->cfg = n->cfg;
	w->creds = n->creds;
	w->tls = n->tls;
	memset(n, 0, sizeof(*n));
	log_setup(stderr, w->cfg->log_format, w->cfg->log_level);
	dbpool_reload(w);
	if (w->cfg->stats_period_ms != old.cfg->stats_period_ms)
		reload_stats_period(w);
	reload_next_free(&old);
	if (target) {
		struct dbpool *p = dbpool_default(w);

		log_info("backend target changed: reconnecting",
			 LF_STR("pool", p->pool.name));
		server_reconnect(p);
		/* Failures against the old target say nothing of the new one
		 * (a failover): connect at once. */
		p->pool.backoff_ms = 0;
		p->pool.next_connect_ms = 0;
	}
	log_info("configuration reloaded", LF_STR("during", what),
		 LF_INT("changed", changed));
	w->maintain(w);
}

/* Validates, then applies or rejects n (consumed either way). */
static bool reload_commit(struct worker *w, struct reload_next *n,
			  struct config_errors *errs, const char *what,
			  char *err, size_t errlen)
{
	if (errs->n > 0 || !reload_prepare(w, n, errs)) {
		reload_report(what, errs, err, errlen);
		reload_next_free(n);
		return false;
	}
	reload_apply(w, n, what);
	return true;
}

bool reload_run(struct worker *w, char *err, size_t errlen)
{
	struct config_errors *errs = calloc(1, sizeof(*errs));
	struct reload_next n = {.cfg = config_new()};
	bool ok;

	if (errs == NULL) {
		snprintf(err, errlen, "reload failed: out of memory");
		config_release(n.cfg);
		return false;
	}
	log_info("reloading configuration",
		 LF_STR("config_file", w->sources->file));
	config_load(n.cfg, w->sources, errs);
	ok = reload_commit(w, &n, errs, "reload", err, errlen);
	free(errs);
	return ok;
}

bool reload_set(struct worker *w, const char *key, const char *value, char *err,
		size_t errlen)
{
	struct config_errors *errs;
	struct reload_next n;
	char source[96];
	int i = config_setting_index(NULL, key);
	struct config_setting_info info;
	bool ok;

	if (i < 0) {
		snprintf(err, errlen, "unknown setting \"%.64s\"", key);
		return false;
	}
	config_setting_info(w->cfg, (unsigned)i, &info);
	if (!info.changeable) {
		snprintf(err, errlen,
			 "setting \"%s\" cannot change at runtime: change it "
			 "in the configuration and restart pitlane",
			 info.key);
		return false;
	}
	errs = calloc(1, sizeof(*errs));
	if (errs == NULL) {
		snprintf(err, errlen, "SET failed: out of memory");
		return false;
	}
	n = (struct reload_next){.cfg = config_new()};
	config_copy(n.cfg, w->cfg);
	snprintf(source, sizeof(source), "SET %s", info.key);
	config_set(n.cfg, info.section, info.key, value, source, errs);
	ok = reload_commit(w, &n, errs, "SET", err, errlen);
	free(errs);
	return ok;
}
