/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A commit's pure phase on a thread of its own, so that the event loop
 * keeps answering status and crisis requests while a large matrix is
 * parsed, validated, scanned for secrets and compiled (issue 10, item 10).
 * The thread runs one function on data the loop hands over and touches
 * nothing else: engines, SQLite and the journal stay the loop's alone.
 * Completion is an eventfd the loop polls; the loop then joins the thread
 * (at once: it has returned) and finishes the commit itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "zonewalld.h"

struct zwd_compile_worker {
	pthread_t thread;
	int efd;
	void (*fn)(void *);
	void *arg;
};

static void *worker_main(void *p)
{
	struct zwd_compile_worker *w = p;
	uint64_t one = 1;

	/* On a busy machine the loop's short requests go first: this thread
	 * alone is made nicer (a Linux thread has its own nice value). A
	 * failure only costs latency. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) < 0)
		(void)0;
	w->fn(w->arg);
	/* cannot fail short of a bug: the counter is far from its limit */
	if (write(w->efd, &one, sizeof(one)) < 0)
		(void)0;
	return NULL;
}

struct zwd_compile_worker *zwd_compile_worker__start(void (*fn)(void *),
						     void *arg)
{
	struct zwd_compile_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return NULL;
	w->fn = fn;
	w->arg = arg;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0)
		goto err;
	/* the thread inherits the loop's blocked signals (signalfd) */
	r = pthread_create(&w->thread, NULL, worker_main, w);
	if (r) {
		errno = r;
		goto err;
	}
	return w;
err:
	r = errno;
	if (w->efd >= 0)
		close(w->efd);
	free(w);
	errno = r;
	return NULL;
}

int zwd_compile_worker__fd(const struct zwd_compile_worker *w)
{
	return w ? w->efd : -1;
}

void zwd_compile_worker__join(struct zwd_compile_worker *w)
{
	if (!w)
		return;
	pthread_join(w->thread, NULL);
	close(w->efd);
	free(w);
}
