/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The L7 inspector's supervision (docs/l7.md, docs/daemon.md): when an
 * engine says at open that it hands packets to the inspector (struct
 * zw_inspector_need in backend.h), zonewalld runs one zw-inspect for the
 * appliance, in its own network namespace, on the queue and image the
 * engines name; restarts it when it dies (logged, with a growing delay
 * while it keeps dying at once); stops it with itself. The engines
 * enforce fail closed, so while no inspector runs the inspected
 * connections are dropped, never let through.
 *
 * fork and exec rather than posix_spawn: the child asks the kernel to
 * stop it when the daemon dies (PR_SET_PDEATHSIG), even by SIGKILL, so
 * that a new daemon's inspector can bind the queue.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "zonewalld.h"

#define RESTART_MIN_MS 500
#define RESTART_MAX_MS 30000
#define STABLE_MS 60000 /* running this long: the next death restarts fast */
#define STOP_MS 2000	/* SIGTERM, then SIGKILL */

struct zwd_inspector {
	char path[4096];
	char queue[8];
	char image[256];
	int log_fd;
	pid_t pid;		/* 0: not running */
	int64_t started_ms;	/* CLOCK_MONOTONIC */
	int64_t restart_at_ms;	/* 0: none planned */
	int delay_ms;		/* next restart delay */
	uint64_t restarts;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void spawn(struct zwd_inspector *in)
{
	char *argv[] = {in->path, "--queue", in->queue, "--image", in->image,
			NULL};
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0) {
		zw_log(ZW_LOG_ERR, "inspector-start-failed", "error=\"%s\"",
		       strerror(errno));
		in->restart_at_ms = mono_ms() + in->delay_ms;
		return;
	}
	if (pid == 0) {
		/* async-signal-safe calls only: the daemon has threads */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1); /* the daemon is already gone */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &dfl, NULL);
		if (in->log_fd >= 0) {
			dup2(in->log_fd, 1);
			dup2(in->log_fd, 2);
		}
		execv(in->path, argv);
		_exit(127);
	}
	in->pid = pid;
	in->started_ms = mono_ms();
	in->restart_at_ms = 0;
	zw_log(ZW_LOG_INFO, "inspector-started",
	       "pid=%d path=%s queue=%s image=%s restarts=%llu", (int)pid,
	       in->path, in->queue, in->image,
	       (unsigned long long)in->restarts);
}

int zwd_inspector__start(struct zwd *d, const char *path, int log_fd,
			 char *err, size_t err_len)
{
	const struct zw_inspector_need *need = NULL;
	const char *first = NULL;
	struct zwd_inspector *in;

	for (size_t i = 0; i < d->n_bes; i++) {
		const struct zw_inspector_need *n = &d->bes[i].be->inspect;

		if (!n->need)
			continue;
		if (!need) {
			need = n;
			first = d->bes[i].spec;
			continue;
		}
		if (n->queue != need->queue || strcmp(n->image, need->image)) {
			snprintf(err, err_len,
				 "backends %s and %s hand packets to the L7 "
				 "inspector on different queues or images (%u "
				 "%s, %u %s): one inspector per appliance, give "
				 "them the same queue= and inspect_image=",
				 first, d->bes[i].spec, need->queue,
				 need->image, n->queue, n->image);
			return -EINVAL;
		}
	}
	if (!need)
		return 0;
	if (!path || access(path, X_OK) < 0) {
		snprintf(err, err_len,
			 "backend %s needs the L7 inspector (NFQUEUE %u) and "
			 "zw-inspect was not found%s%s: give --inspector PATH",
			 first, need->queue, path ? " at " : "",
			 path ? path : "");
		return -ENOENT;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	snprintf(in->path, sizeof(in->path), "%s", path);
	snprintf(in->queue, sizeof(in->queue), "%u", need->queue);
	snprintf(in->image, sizeof(in->image), "%s", need->image);
	in->log_fd = log_fd;
	in->delay_ms = RESTART_MIN_MS;
	d->insp = in;
	spawn(in);
	return 0;
}

void zwd_inspector__reap(struct zwd *d)
{
	struct zwd_inspector *in = d->insp;
	int status;
	pid_t r;

	if (!in || !in->pid)
		return;
	r = waitpid(in->pid, &status, WNOHANG);
	if (r != in->pid)
		return;
	{
		int64_t now = mono_ms();
		char how[32];

		if (WIFEXITED(status))
			snprintf(how, sizeof(how), "exit=%d", WEXITSTATUS(status));
		else
			snprintf(how, sizeof(how), "signal=%d",
				 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		if (now - in->started_ms >= STABLE_MS)
			in->delay_ms = RESTART_MIN_MS;
		zw_log(ZW_LOG_ERR, "inspector-died",
		       "pid=%d %s ran_ms=%lld restart_in_ms=%d msg=\"inspected "
		       "connections are dropped until it is back\"",
		       (int)in->pid, how, (long long)(now - in->started_ms),
		       in->delay_ms);
		in->pid = 0;
		in->restart_at_ms = now + in->delay_ms;
		in->delay_ms = in->delay_ms * 2 > RESTART_MAX_MS
				       ? RESTART_MAX_MS
				       : in->delay_ms * 2;
	}
}

int zwd_inspector__timeout(const struct zwd *d)
{
	const struct zwd_inspector *in = d->insp;
	int64_t now;

	if (!in || !in->restart_at_ms)
		return -1;
	now = mono_ms();
	return in->restart_at_ms <= now ? 0 : (int)(in->restart_at_ms - now);
}

void zwd_inspector__tick(struct zwd *d)
{
	struct zwd_inspector *in = d->insp;

	if (!in || in->pid || !in->restart_at_ms ||
	    in->restart_at_ms > mono_ms())
		return;
	in->restarts++;
	spawn(in);
}

void zwd_inspector__stop(struct zwd *d)
{
	struct zwd_inspector *in = d->insp;

	if (!in)
		return;
	if (in->pid) {
		int64_t end = mono_ms() + STOP_MS;
		int status;
		pid_t r = 0;

		kill(in->pid, SIGTERM);
		while ((r = waitpid(in->pid, &status, WNOHANG)) == 0 &&
		       mono_ms() < end)
			usleep(10000);
		if (r == 0) {
			kill(in->pid, SIGKILL);
			waitpid(in->pid, &status, 0);
		}
		zw_log(ZW_LOG_INFO, "inspector-stopped", "pid=%d%s",
		       (int)in->pid, r == 0 ? " killed=1" : "");
	}
	free(in);
	d->insp = NULL;
}
