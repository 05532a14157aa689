/* pitlane: flags, configuration, wiring of the worker, signals, run. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "authquery.h"
#include "admin.h"
#include "cancel.h"
#include "client.h"
#include "config.h"
#include "http.h"
#include "janitor.h"
#include "listener.h"
#include "login.h"
#include "notify.h"
#include "peer.h"
#include "tls.h"
#include "log.h"
#include "pool.h"
#include "reload.h"
#include "stats.h"
#include "takeover.h"
#include "worker.h"

#ifndef PITLANE_VERSION
#define PITLANE_VERSION "0.0.0"
#endif

#define EXIT_RUNTIME 1

extern char **environ;

struct flags {
	const char *config_file;
	const char *hash_user; /* --hash-password USER */
	bool check_config;
	bool takeover; /* -R: take over the running process */
	unsigned n;    /* settings given as flags, applied after the env */
	struct config_override set[16];
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pitlane [options]\n"
	    "  -c, --config FILE         read settings from an INI file\n"
	    "  -a, --listen-addr ADDR    address to listen on "
	    "(127.0.0.1)\n"
	    "  -p, --port PORT           port to listen on (6432; 0 picks "
	    "one)\n"
	    "  -m, --pool-mode MODE      session, transaction or "
	    "statement\n"
	    "  -R, --takeover            take over the running pitlane's "
	    "sockets and clients\n"
	    "      --http-addr ADDR      address of the HTTP endpoint "
	    "(127.0.0.1)\n"
	    "      --http-port PORT      serve /metrics, /healthz, /readyz "
	    "(off; 0 picks one)\n"
	    "      --check-config        print the effective configuration "
	    "and exit\n"
	    "      --hash-password USER  read a password on stdin, print an "
	    "auth_file line\n"
	    "  -V, --version             print the version and exit\n"
	    "  -h, --help                print this help and exit\n"
	    "The pool comes from DB_HOST, DB_PORT, DB_NAME, DB_USER, "
	    "DB_PASSWORD,\n"
	    "DB_POOL_MAX, DB_POOL_MIN, DB_IDLE_TIMEOUT_MS, "
	    "DB_CONNECT_TIMEOUT_MS, DB_SSLMODE.\n"
	    "See pitlane(8) and pitlane.ini(5).\n");
}

/* Reads the command line. Returns -1 to exit with *status. */
static int parse_flags(int argc, char **argv, struct flags *f, int *status)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen-addr", required_argument, NULL, 'a'},
	    {"port", required_argument, NULL, 'p'},
	    {"pool-mode", required_argument, NULL, 'm'},
	    {"takeover", no_argument, NULL, 'R'},
	    {"http-addr", required_argument, NULL, 'A'},
	    {"http-port", required_argument, NULL, 'P'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"hash-password", required_argument, NULL, 'H'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:a:p:m:RVh", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			f->config_file = optarg;
			break;
		case 'a':
			f->set[f->n++] = (struct config_override){
			    "listen_addr", optarg, "--listen-addr"};
			break;
		case 'p':
			f->set[f->n++] = (struct config_override){
			    "listen_port", optarg, "--port"};
			break;
		case 'm':
			f->set[f->n++] = (struct config_override){
			    "pool_mode", optarg, "--pool-mode"};
			break;
		case 'A':
			f->set[f->n++] = (struct config_override){
			    "http_addr", optarg, "--http-addr"};
			break;
		case 'P':
			f->set[f->n++] = (struct config_override){
			    "http_port", optarg, "--http-port"};
			break;
		case 'C':
			f->check_config = true;
			break;
		case 'R':
			f->takeover = true;
			break;
		case 'H':
			f->hash_user = optarg;
			break;
		case 'V':
			printf(
			    "pitlane %s\nsystemd notify: %s\n", PITLANE_VERSION,
			    notify_built_in() ? "built in"
					      : "not built in (no libsystemd)");
			*status = 0;
			return -1;
		case 'h':
			usage(stdout);
			*status = 0;
			return -1;
		default:
			usage(stderr);
			*status = CONFIG_EXIT_INVALID;
			return -1;
		}
		if (f->n == sizeof(f->set) / sizeof(f->set[0]))
			f->n--; /* applied in order: the last one wins */
	}
	if (optind < argc) {
		fprintf(stderr, "pitlane: unexpected argument \"%s\"\n",
			argv[optind]);
		*status = CONFIG_EXIT_INVALID;
		return -1;
	}
	return 0;
}

/* What the configuration names in files (auth_file, hba_file, TLS), read
 * before any socket opens so that a bad one is a configuration error (78)
 * like a bad setting; the worker owns them from then on. */
struct loaded {
	struct config *cfg;
	struct creds *creds;
	struct tls_server *tls;
};

/* Authentication settings that work but that an operator should know of. */
static void warn_auth(const struct config *cfg, const struct creds *cr)
{
	if (cr->file != NULL && authfile_plain_count(cr->file) > 0)
		log_warn("auth_file holds plaintext passwords",
			 LF_STR("auth_file", cfg->auth_file),
			 LF_INT("users", authfile_plain_count(cr->file)));
	if (cfg->auth_type != AUTH_TRUST && cfg->auth_type != AUTH_CERT &&
	    cfg->hba_file == NULL && !cr->have_pool_secret && cr->file == NULL)
		log_warn(
		    "no client can log in: set DB_PASSWORD or auth_file, "
		    "or auth_type trust",
		    LF_STR("auth_type", config_auth_type_name(cfg->auth_type)));
}

/* [peers] must list this process among well-formed entries. It cannot
 * change at runtime, so the start is the one place to check it. */
static void check_peers(const struct config *cfg, struct config_errors *errs)
{
	char err[CONFIG_ERROR_LEN];

	if (!peer_check(cfg->peers, (unsigned)cfg->peer_id, err, sizeof(err)))
		config_error(errs, "%s", err);
}

/* defaults < INI < environment < flags (the loader a reload uses too);
 * every error reported, then 78. */
static int load_config(struct loaded *ld, const struct config_sources *src)
{
	struct config_errors errs = {0};

	ld->cfg = config_new();
	config_load(ld->cfg, src, &errs);
	config_finish(ld->cfg, &errs);
	check_peers(ld->cfg, &errs);
	if (errs.n == 0 &&
	    !reload_load_files(ld->cfg, &ld->creds, &ld->tls, &errs) &&
	    errs.n == 0)
		config_error(&errs, "cannot load the authentication files");
	for (unsigned i = 0; i < errs.n; i++)
		fprintf(stderr, "pitlane: configuration error: %s\n",
			errs.msg[i]);
	if (errs.n > 0) {
		fprintf(stderr, "pitlane: %u configuration error%s, exiting\n",
			errs.n, errs.n == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

struct app {
	struct worker w;
	struct listener *listener;
	struct http_server *http;  /* NULL: http_port off */
	struct takeover *takeover; /* NULL: no takeover socket */
	struct event *sig_usr1, *sig_term, *sig_int, *sig_hup;
};

/* SIGHUP: reload; a failed one changes nothing and was logged. systemd
 * hears RELOADING=1, then READY=1 and the new state, either way. */
static void reload_signal(struct worker *w)
{
	char err[CONFIG_ERROR_LEN + 128];

	if (w->shutting_down) {
		log_warn("SIGHUP during shutdown: not reloading");
		return;
	}
	notify_reloading();
	if (!reload_run(w, err, sizeof(err)))
		log_warn("reload rejected: the old configuration stays",
			 LF_STR("reason", err));
	notify_ready();
	stats_notify_status(w);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;

	(void)what;
	if (sig == SIGUSR1) {
		stats_log(&app->w);
		return;
	}
	if (sig == SIGHUP) {
		reload_signal(&app->w);
		return;
	}
	if (app->w.shutting_down) {
		log_warn("second signal: exiting at once",
			 LF_INT("signal", sig));
		_exit(EXIT_RUNTIME);
	}
	log_info("signal received", LF_STR("signal", strsignal((int)sig)));
	notify_stopping();
	listener_disable(app->listener);
	janitor_shutdown(&app->w);
}

/* The worker's event base, with libevent's defaults. Not
 * EVENT_BASE_FLAG_PRECISE_TIMER: with it the epoll backend re-arms a
 * timerfd (timerfd_settime) on every loop iteration, a system call per
 * wakeup. Without it a timer fires up to about 5 ms late, never early
 * (libevent's clock is then CLOCK_MONOTONIC_COARSE, 4 ms ticks, and
 * epoll_wait's timeout is in milliseconds); pitlane's shortest timer is
 * 20 ms, and durations do not come from libevent's time (worker_now_us). */
static struct event_base *worker_base_new(void)
{
	return event_base_new();
}

static int worker_init(struct worker *w, struct loaded *ld,
		       const struct config_sources *src)
{
	const struct config *cfg = ld->cfg;
	struct route def;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->sources = src;
	w->creds = ld->creds;
	w->tls = ld->tls;
	memset(ld, 0, sizeof(*ld)); /* the worker owns them now */
	TAILQ_INIT(&w->pools);
	route_default(cfg, &def);
	if (dbpool_new(w, &def) == NULL)
		return -1;
	TAILQ_INIT(&w->clients);
	TAILQ_INIT(&w->servers);
	TAILQ_INIT(&w->dead_clients);
	TAILQ_INIT(&w->dead_servers);
	admin_install(w);
	w->base = worker_base_new();
	if (w->base == NULL)
		return -1;
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (w->dns == NULL) {
		/* No usable resolv.conf: /etc/hosts and numeric names still
		 * work. */
		w->dns = evdns_base_new(w->base, 0);
		if (w->dns == NULL)
			return -1;
		evdns_base_load_hosts(w->dns, NULL);
	}
	w->cancels = cancel_pool_new(w->base);
	w->forwards = forwarder_new(w->base, w->dns);
	w->stmts = stmt_registry_new();
	w->authq = authquery_new(w->base, w->dns);
	if (w->cancels == NULL || w->forwards == NULL || w->stmts == NULL ||
	    w->authq == NULL)
		return -1;
	if (janitor_start(w) != 0)
		return -1;
	return stats_start(w);
}

static void worker_free(struct worker *w)
{
	bool threads_busy = w->cancels && cancel_pending(w->cancels) > 0;

	stats_stop(w);
	janitor_stop(w);
	dbpool_free_all(w);
	stmt_registry_free(w->stmts);
	forwarder_free(w->forwards);
	if (threads_busy)
		return; /* a stuck cancel thread may still wake the base */
	authquery_free(w->authq);
	cancel_pool_free(w->cancels);
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	if (w->base != NULL)
		event_base_free(w->base);
}

/* What the worker owns beyond its loop; after worker_free (the listener
 * reads the configuration until it is freed). */
static void worker_free_config(struct worker *w)
{
	reload_free_files(w->creds, w->tls);
	srvcreds_keys_clear(&w->passkeys);
	config_release(w->cfg);
	w->creds = NULL;
	w->tls = NULL;
	w->cfg = NULL;
}

static int add_signal(struct app *app, struct event **ev, int sig)
{
	*ev = evsignal_new(app->w.base, sig, signal_cb, app);
	return *ev == NULL ? -1 : event_add(*ev, NULL);
}

static void log_configured(const struct worker *w, int port)
{
	const struct config *cfg = w->cfg;
	char listen[300];

	snprintf(listen, sizeof(listen), "%s:%d", cfg->listen_addr, port);
	log_info("pool configured",
		 LF_STR("pool", dbpool_default(w)->pool.name),
		 LF_INT("max", cfg->pool_max), LF_INT("min", cfg->pool_min),
		 LF_INT("idle_timeout_ms", cfg->idle_timeout_ms),
		 LF_INT("connect_timeout_ms", cfg->connect_timeout_ms),
		 LF_STR("pool_mode", dbpool_default(w)->mode->name),
		 LF_STR("listen", listen));
}

/* pitlane -R: the running process's sockets, then confirmation (from
 * which it hands its clients over). */
static int take_sockets(struct app *app, const char *path, char *err,
			size_t errlen)
{
	struct takeover_fds fds;

	app->takeover = takeover_connect(&app->w, path, &fds, err, errlen);
	if (app->takeover == NULL)
		return -1;
	app->listener = listener_adopt(&app->w, fds.tcp, fds.unix_fd,
				       fds.unix_path, err, errlen);
	if (app->listener == NULL) {
		if (fds.http >= 0)
			close(fds.http);
		return -1;
	}
	if (fds.http >= 0)
		app->http = http_adopt(&app->w, notify_built_in(), fds.http,
				       err, errlen);
	else if (app->w.cfg->http_port >= 0)
		app->http = http_new(&app->w, notify_built_in(), err, errlen);
	if (app->http == NULL && app->w.cfg->http_port >= 0)
		return -1;
	takeover_set_sockets(app->takeover, app->listener, app->http);
	return 0;
}

/* The listening sockets: opened here, or taken over (-R); and the
 * takeover socket a later -R connects to. */
static int open_sockets(struct app *app, bool takeover, char *err,
			size_t errlen)
{
	char path[TAKEOVER_PATH_MAX];
	bool have_path = takeover_path(app->w.cfg, path, sizeof(path));

	if (takeover) {
		if (!have_path) {
			snprintf(err, errlen,
				 "-R needs unix_socket_dir or takeover_socket");
			return -1;
		}
		if (take_sockets(app, path, err, errlen) != 0)
			return -1;
	} else {
		app->listener = listener_new(&app->w, err, errlen);
		if (app->listener == NULL)
			return -1;
		if (app->w.cfg->http_port >= 0) {
			app->http =
			    http_new(&app->w, notify_built_in(), err, errlen);
			if (app->http == NULL)
				return -1;
		}
		if (have_path) {
			app->takeover =
			    takeover_listen(&app->w, path, err, errlen);
			if (app->takeover == NULL)
				return -1;
			takeover_set_sockets(app->takeover, app->listener,
					     app->http);
		}
	}
	app->w.listener = app->listener;
	return 0;
}

static int run(struct loaded *ld, const struct config_sources *src,
	       bool takeover)
{
	struct app app = {0};
	char err[512];
	int rc = EXIT_RUNTIME;

	if (worker_init(&app.w, ld, src) != 0) {
		log_error("cannot initialise the event loop");
		goto out;
	}
	if (open_sockets(&app, takeover, err, sizeof(err)) != 0) {
		log_error(takeover ? "takeover failed" : "cannot listen",
			  LF_STR("reason", err));
		goto out;
	}
	if (notify_watchdog_start(app.w.base) != 0) {
		log_error("cannot start the systemd watchdog timer");
		goto out;
	}
	if (add_signal(&app, &app.sig_usr1, SIGUSR1) != 0 ||
	    add_signal(&app, &app.sig_term, SIGTERM) != 0 ||
	    add_signal(&app, &app.sig_int, SIGINT) != 0 ||
	    add_signal(&app, &app.sig_hup, SIGHUP) != 0) {
		log_error("cannot install signal handlers");
		goto out;
	}
	if (app.takeover != NULL && takeover &&
	    !takeover_confirm(app.takeover, err, sizeof(err))) {
		log_error("takeover failed", LF_STR("reason", err));
		goto out;
	}
	log_configured(&app.w, listener_port(app.listener));
	janitor_run(&app.w);
	stats_log(&app.w);
	notify_ready();
	stats_notify_status(&app.w);
	if (event_base_dispatch(app.w.base) == 0 && app.w.stopped)
		rc = 0;
out:
	if (app.sig_usr1)
		event_free(app.sig_usr1);
	if (app.sig_term)
		event_free(app.sig_term);
	if (app.sig_int)
		event_free(app.sig_int);
	if (app.sig_hup)
		event_free(app.sig_hup);
	takeover_free(app.takeover);
	http_free(app.http);
	notify_watchdog_stop();
	listener_free(app.listener);
	worker_free(&app.w);
	worker_free_config(&app.w);
	return rc;
}

/* --hash-password USER: one auth_file line with a SCRAM-SHA-256 verifier
 * for the password read from stdin (first line, without its newline). */
static int hash_password(const char *user)
{
	char pw[1024], text[AUTH_VERIFIER_TEXT_MAX];
	struct auth_verifier v;
	size_t n;

	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "pitlane: no password on standard input\n");
		return CONFIG_EXIT_INVALID;
	}
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	if (n == 0 ||
	    !auth_verifier_from_password(pw, &v, text, sizeof(text))) {
		OPENSSL_cleanse(pw, sizeof(pw));
		fprintf(stderr, "pitlane: cannot hash an empty password\n");
		return CONFIG_EXIT_INVALID;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	putchar('"');
	for (; *user != '\0'; user++) {
		if (*user == '"')
			putchar('"');
		putchar(*user);
	}
	printf("\" \"%s\"\n", text);
	return 0;
}

int main(int argc, char **argv)
{
	struct flags f = {0};
	struct config_sources src = {.envp = environ};
	struct loaded ld = {0};
	int status = 0;

	if (parse_flags(argc, argv, &f, &status) != 0)
		return status;
	if (f.hash_user != NULL)
		return hash_password(f.hash_user);
	src.file = f.config_file;
	src.overrides = f.set;
	src.n_overrides = f.n;
	if (load_config(&ld, &src) != 0) {
		status = CONFIG_EXIT_INVALID;
	} else if (f.check_config) {
		config_print(ld.cfg, stdout);
	} else {
		log_setup(stderr, ld.cfg->log_format, ld.cfg->log_level);
		warn_auth(ld.cfg, ld.creds);
		signal(SIGPIPE, SIG_IGN);
		status = run(&ld, &src, f.takeover);
	}
	reload_free_files(ld.creds, ld.tls); /* when run did not take them */
	config_release(ld.cfg);
	return status;
}
