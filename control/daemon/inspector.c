/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The L7 inspector's supervision (docs/l7.md, docs/daemon.md): when an
 * engine says at open that it hands packets to the inspector (struct
 * zw_inspector_need in backend.h), zonewalld runs one zw-inspect for the
 * appliance, in its own network namespace, on the queue and image the
 * engines name; restarts it when it dies (logged, with a growing delay
 * while it keeps dying at once); stops it when it stops. The engines
 * enforce fail closed, so while no inspector runs the inspected
 * connections are dropped, never let through.
 *
 * Like the engines' state, the inspector outlives a daemon that is killed
 * (kill -9, a crash): inspected connections keep being judged. Its pid is
 * in STATE/zw-inspect.pid; the next daemon adopts it when that process
 * runs the same program with the same arguments (read from /proc, held
 * by a pidfd from then on, so a recycled pid is never taken for it), and
 * supervises it through the pidfd. Under systemd, the unit's control
 * group is stopped with the daemon, inspector included.
 *
 * The inspector's verdicts reach the record pump as flow records (a cut:
 * reason l7-mismatch or file-type, with what it saw): zw-inspect sends
 * each as one datagram to STATE/inspector.rec, a socket the daemon binds
 * at start (a path, not an inherited descriptor, so an adopted inspector
 * reaches the new daemon too); zwd_tm__tick() reads it like an engine's
 * records. A record sent while no daemon listens is lost and counted by
 * zw-inspect (its stats file).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
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
	char pidfile[4200];
	char records[108];	/* STATE/inspector.rec (sun_path's size) */
	int rec_fd;		/* bound there, non-blocking; -1 none */
	pid_t pid;		/* 0: not running */
	int pidfd;		/* adopted (not our child): its pidfd, else -1 */
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

static int pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* A pidfd is readable once its process has exited (zombie or reaped). */
static bool pidfd_exited(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

static void write_pidfile(const struct zwd_inspector *in)
{
	char buf[32];
	int fd = open(in->pidfile,
		      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)in->pid);

	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		zw_log(ZW_LOG_WARN, "inspector-pid-file", "path=%s error=\"%s\"",
		       in->pidfile, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The inspector a killed daemon left running, if STATE/zw-inspect.pid
 * names a process whose command line is exactly ours. */
static bool adopt(struct zwd_inspector *in)
{
	char buf[4096 + 512], want[sizeof(buf)], path[64];
	FILE *f = fopen(in->pidfile, "re");
	int pid = 0, fd;
	size_t n, wn;

	if (!f)
		return false;
	if (fscanf(f, "%d", &pid) != 1 || pid <= 1) {
		fclose(f);
		return false;
	}
	fclose(f);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return false;
	/* checked after the pidfd is held: the pid cannot be recycled */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	wn = (size_t)snprintf(want, sizeof(want),
			      "%s%c--queue%c%s%c--image%c%s%c--records%c%s",
			      in->path, 0, 0, in->queue, 0, 0, in->image, 0, 0,
			      in->records) + 1;
	if (n != wn || memcmp(buf, want, wn)) {
		close(fd);
		return false;
	}
	in->pid = pid;
	in->pidfd = fd;
	in->started_ms = mono_ms();
	zw_log(ZW_LOG_INFO, "inspector-adopted",
	       "pid=%d path=%s queue=%s image=%s msg=\"left running by the "
	       "previous daemon\"",
	       pid, in->path, in->queue, in->image);
	return true;
}

static void spawn(struct zwd_inspector *in)
{
	char *argv[] = {in->path,   "--queue",	 in->queue, "--image",
			in->image,  "--records", in->records, NULL};
	pid_t pid;

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
	in->pidfd = -1;
	in->started_ms = mono_ms();
	in->restart_at_ms = 0;
	write_pidfile(in);
	zw_log(ZW_LOG_INFO, "inspector-started",
	       "pid=%d path=%s queue=%s image=%s restarts=%llu", (int)pid,
	       in->path, in->queue, in->image,
	       (unsigned long long)in->restarts);
}

/* The datagram socket zw-inspect sends its records to: created anew
 * (a stale one of a previous daemon removed), owner-only, non-blocking,
 * with room for bursts of cuts. -1 with errno. */
static int bind_records(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int sz = 1 << 20, e;

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    chmod(path, 0600) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

int zwd_inspector__records_fd(const struct zwd *d)
{
	return d->insp ? d->insp->rec_fd : -1;
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
	in->pidfd = -1;
	snprintf(in->pidfile, sizeof(in->pidfile), "%s/zw-inspect.pid",
		 d->state_dir);
	if ((size_t)snprintf(in->records, sizeof(in->records),
			     "%s/inspector.rec", d->state_dir) >=
	    sizeof(in->records)) {
		snprintf(err, err_len,
			 "state directory %s: too long a path for the "
			 "inspector's record socket (%zu bytes at most)",
			 d->state_dir, sizeof(in->records) - 15);
		free(in);
		return -ENAMETOOLONG;
	}
	in->rec_fd = bind_records(in->records);
	if (in->rec_fd < 0)
		zw_log(ZW_LOG_WARN, "inspector-records",
		       "path=%s error=\"%s\" msg=\"the inspector's verdicts "
		       "will not reach the flow records\"",
		       in->records, strerror(errno));
	d->insp = in;
	if (!adopt(in))
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
	if (in->pidfd >= 0) {
		/* adopted: its parent is init now, which reaps it */
		if (!pidfd_exited(in->pidfd))
			return;
		close(in->pidfd);
		in->pidfd = -1;
		status = -1;
	} else {
		r = waitpid(in->pid, &status, WNOHANG);
		if (r != in->pid)
			return;
	}
	{
		int64_t now = mono_ms();
		char how[32];

		if (status == -1)
			snprintf(how, sizeof(how), "adopted=1");
		else if (WIFEXITED(status))
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

bool zwd_inspector__status(const struct zwd *d, bool *up, uint64_t *restarts)
{
	const struct zwd_inspector *in = d->insp;

	if (!in)
		return false;
	*up = in->pid != 0;
	*restarts = in->restarts;
	return true;
}

void zwd_inspector__stop(struct zwd *d)
{
	struct zwd_inspector *in = d->insp;

	if (!in)
		return;
	if (in->pid && in->pidfd >= 0) {
		int64_t end = mono_ms() + STOP_MS;
		bool gone;

		pidfd_signal(in->pidfd, SIGTERM);
		while (!(gone = pidfd_exited(in->pidfd)) && mono_ms() < end)
			usleep(10000);
		if (!gone)
			pidfd_signal(in->pidfd, SIGKILL);
		close(in->pidfd);
		zw_log(ZW_LOG_INFO, "inspector-stopped", "pid=%d%s",
		       (int)in->pid, gone ? "" : " killed=1");
	} else if (in->pid) {
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
	unlink(in->pidfile);
	if (in->rec_fd >= 0) {
		close(in->rec_fd);
		unlink(in->records);
	}
	free(in);
	d->insp = NULL;
}
