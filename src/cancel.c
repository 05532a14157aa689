/* Cancel helper threads: a bounded number of detached threads each send one
 * CancelRequest with PQcancel, then wake the loop through a thread-safe
 * event_active so completion is handled on the loop thread. */
#include "cancel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "log.h"

struct cancel_job {
	TAILQ_ENTRY(cancel_job) link;
	struct cancel_pool *cp;
	PGcancel *pgcancel; /* owned */
	struct event *done_ev;
	cancel_done_cb done;
	void *arg;
	char error[256];
	int ok;
};

struct cancel_pool {
	struct event_base *base;
	TAILQ_HEAD(, cancel_job) queue; /* waiting for a thread */
	unsigned running;
	unsigned queued;
};

struct cancel_pool *cancel_pool_new(struct event_base *base)
{
	struct cancel_pool *cp = calloc(1, sizeof(*cp));

	if (cp == NULL)
		return NULL;
	cp->base = base;
	TAILQ_INIT(&cp->queue);
	return cp;
}

static void *cancel_thread(void *arg)
{
	struct cancel_job *job = arg;

	job->ok = PQcancel(job->pgcancel, job->error, sizeof(job->error));
	event_active(job->done_ev, EV_TIMEOUT, 1);
	return NULL;
}

static void cancel_start_next(struct cancel_pool *cp);

static void cancel_job_free(struct cancel_job *job)
{
	PQfreeCancel(job->pgcancel);
	event_free(job->done_ev);
	free(job);
}

static void cancel_done_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cancel_job *job = arg;
	struct cancel_pool *cp = job->cp;

	(void)fd;
	(void)what;
	if (!job->ok)
		log_warn("cancel request failed", LF_STR("reason", job->error));
	cp->running--;
	job->done(job->arg);
	cancel_job_free(job);
	cancel_start_next(cp);
}

static void cancel_start_next(struct cancel_pool *cp)
{
	while (cp->running < CANCEL_THREADS_MAX && !TAILQ_EMPTY(&cp->queue)) {
		struct cancel_job *job = TAILQ_FIRST(&cp->queue);
		pthread_t t;

		TAILQ_REMOVE(&cp->queue, job, link);
		cp->queued--;
		cp->running++;
		if (pthread_create(&t, NULL, cancel_thread, job) != 0) {
			snprintf(job->error, sizeof(job->error),
				 "could not start a cancel thread");
			job->ok = 0;
			event_active(job->done_ev, EV_TIMEOUT, 1);
			continue;
		}
		pthread_detach(t);
	}
}

int cancel_submit(struct cancel_pool *cp, PGcancel *pgcancel,
		  cancel_done_cb done, void *arg)
{
	struct cancel_job *job = calloc(1, sizeof(*job));

	if (job == NULL || pgcancel == NULL) {
		free(job);
		PQfreeCancel(pgcancel);
		return -1;
	}
	job->done_ev = event_new(cp->base, -1, 0, cancel_done_ev_cb, job);
	if (job->done_ev == NULL) {
		free(job);
		PQfreeCancel(pgcancel);
		return -1;
	}
	job->cp = cp;
	job->pgcancel = pgcancel;
	job->done = done;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&cp->queue, job, link);
	cp->queued++;
	cancel_start_next(cp);
	return 0;
}

unsigned cancel_pending(const struct cancel_pool *cp)
{
	return cp->running + cp->queued;
}

void cancel_pool_free(struct cancel_pool *cp)
{
	struct cancel_job *job;

	if (cp == NULL)
		return;
	while ((job = TAILQ_FIRST(&cp->queue)) != NULL) {
		TAILQ_REMOVE(&cp->queue, job, link);
		cancel_job_free(job);
	}
	free(cp);
}
