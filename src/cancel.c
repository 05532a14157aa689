/* Cancel helper threads: a bounded number of detached threads each send one
 * CancelRequest with PQcancel, then hand the finished job back through a
 * locked list and an eventfd, so completion is handled on the loop thread
 * and the loop itself needs no locking (no evthread). */
#include "cancel.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proto.h"

#include "log.h"

struct cancel_job {
	TAILQ_ENTRY(cancel_job) link;
	struct cancel_pool *cp;
	PGcancel *pgcancel;	      /* owned; NULL: a raw request (below) */
	struct sockaddr_storage addr; /* raw: where the server listens */
	socklen_t addr_len;
	uint32_t pid, key; /* raw: the server's BackendKeyData */
	cancel_done_cb done;
	void *arg;
	char error[256];
	int ok;
};

TAILQ_HEAD(cancel_job_list, cancel_job);

struct cancel_pool {
	struct event_base *base;
	struct cancel_job_list queue;	 /* waiting for a thread (loop only) */
	struct cancel_job_list finished; /* back from a thread, under lock */
	pthread_mutex_t lock;		 /* guards finished */
	int wake_fd;			 /* eventfd the threads signal */
	struct event *wake_ev;		 /* reads wake_fd on the loop */
	unsigned running;
	unsigned queued;
};

static void cancel_wake_cb(evutil_socket_t fd, short what, void *arg);

struct cancel_pool *cancel_pool_new(struct event_base *base)
{
	struct cancel_pool *cp = calloc(1, sizeof(*cp));

	if (cp == NULL)
		return NULL;
	cp->base = base;
	TAILQ_INIT(&cp->queue);
	TAILQ_INIT(&cp->finished);
	cp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cp->wake_fd < 0 || pthread_mutex_init(&cp->lock, NULL) != 0) {
		if (cp->wake_fd >= 0)
			close(cp->wake_fd);
		free(cp);
		return NULL;
	}
	cp->wake_ev = event_new(base, cp->wake_fd, EV_READ | EV_PERSIST,
				cancel_wake_cb, cp);
	if (cp->wake_ev == NULL || event_add(cp->wake_ev, NULL) != 0) {
		if (cp->wake_ev != NULL)
			event_free(cp->wake_ev);
		pthread_mutex_destroy(&cp->lock);
		close(cp->wake_fd);
		free(cp);
		return NULL;
	}
	return cp;
}

/* Any thread: puts a finished job on the list the loop collects. */
static void cancel_finish(struct cancel_job *job)
{
	struct cancel_pool *cp = job->cp;
	uint64_t one = 1;

	pthread_mutex_lock(&cp->lock);
	TAILQ_INSERT_TAIL(&cp->finished, job, link);
	pthread_mutex_unlock(&cp->lock);
	while (write(cp->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

#define CANCEL_RAW_TIMEOUT_S 10 /* connect, send, wait for the close */

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A CancelRequest on a new connection, for a server pitlane logged in to
 * without libpq (SCRAM pass-through). Like PQcancel, it waits for the
 * server to close the connection: the cancel has then been delivered. */
static int cancel_raw(struct cancel_job *job)
{
	struct timeval tv = {.tv_sec = CANCEL_RAW_TIMEOUT_S};
	uint8_t pkt[16], c;
	int fd = socket(job->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	put_u32(pkt, sizeof(pkt));
	put_u32(pkt + 4, PROTO_CODE_CANCEL);
	put_u32(pkt + 8, job->pid);
	put_u32(pkt + 12, job->key);
	if (fd >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    connect(fd, (struct sockaddr *)&job->addr, job->addr_len) == 0 &&
	    write(fd, pkt, sizeof(pkt)) == (ssize_t)sizeof(pkt))
		ok = read(fd, &c, 1) == 0;
	if (!ok)
		snprintf(job->error, sizeof(job->error),
			 "cancel request failed: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

static void *cancel_thread(void *arg)
{
	struct cancel_job *job = arg;

	job->ok = job->pgcancel != NULL
		      ? PQcancel(job->pgcancel, job->error, sizeof(job->error))
		      : cancel_raw(job);
	cancel_finish(job);
	return NULL;
}

static void cancel_start_next(struct cancel_pool *cp);

static void cancel_job_free(struct cancel_job *job)
{
	if (job->pgcancel != NULL)
		PQfreeCancel(job->pgcancel);
	free(job);
}

/* Loop thread: reports every job the threads have finished. */
static void cancel_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cancel_pool *cp = arg;
	struct cancel_job_list done = TAILQ_HEAD_INITIALIZER(done);
	struct cancel_job *job;
	uint64_t count;

	(void)what;
	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("cancel wakeup read failed");
	pthread_mutex_lock(&cp->lock);
	TAILQ_CONCAT(&done, &cp->finished, link);
	pthread_mutex_unlock(&cp->lock);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, link);
		if (!job->ok)
			log_warn("cancel request failed",
				 LF_STR("reason", job->error));
		cp->running--;
		job->done(job->arg);
		cancel_job_free(job);
	}
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
			cancel_finish(job);
			continue;
		}
		pthread_detach(t);
	}
}

/* Queues job (its target filled in) and starts it when a thread is free. */
static void cancel_enqueue(struct cancel_pool *cp, struct cancel_job *job,
			   cancel_done_cb done, void *arg)
{
	job->cp = cp;
	job->done = done;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&cp->queue, job, link);
	cp->queued++;
	cancel_start_next(cp);
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
	job->pgcancel = pgcancel;
	cancel_enqueue(cp, job, done, arg);
	return 0;
}

int cancel_submit_raw(struct cancel_pool *cp,
		      const struct sockaddr_storage *addr, socklen_t addr_len,
		      uint32_t pid, uint32_t key, cancel_done_cb done,
		      void *arg)
{
	struct cancel_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return -1;
	memcpy(&job->addr, addr, sizeof(job->addr));
	job->addr_len = addr_len;
	job->pid = pid;
	job->key = key;
	cancel_enqueue(cp, job, done, arg);
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
	while ((job = TAILQ_FIRST(&cp->finished)) != NULL) {
		TAILQ_REMOVE(&cp->finished, job, link);
		cancel_job_free(job);
	}
	event_free(cp->wake_ev);
	close(cp->wake_fd);
	pthread_mutex_destroy(&cp->lock);
	free(cp);
}
