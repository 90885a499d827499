/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewalld's Prometheus endpoint (private to control/daemon/; the metrics
 * are listed in docs/daemon.md). A small HTTP/1.0 server driven by the
 * daemon's own poll loop: non-blocking sockets, at most
 * ZWD_METRICS_MAX_CONNS clients at a time, a bounded request (4 KiB) and
 * a deadline for each, one response per connection ("Connection: close").
 * Only GET and HEAD of /metrics (and / pointing there) are served. The
 * page is rendered when asked for, from the daemon's state and each
 * engine's read_back and counters ops, on the loop's thread like every
 * other op call.
 */
#ifndef ZONEWALL_CONTROL_DAEMON_METRICS_H
#define ZONEWALL_CONTROL_DAEMON_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "zonewalld.h"

#define ZWD_METRICS_MAX_CONNS 8
/* pollfd entries zwd_metrics__pollfds() may fill: listener + clients */
#define ZWD_METRICS_MAX_FDS (1 + ZWD_METRICS_MAX_CONNS)

struct zwd_metrics;

/*
 * Listen on @addr ("HOST:PORT", "[V6]:PORT"; HOST may be a name or "*"
 * for every address), non-blocking. Returns the endpoint, or NULL with
 * errno and a one-line reason in @err.
 */
struct zwd_metrics *zwd_metrics__new(const char *addr, char *err,
				     size_t err_len);

/* Close the listener and every client. NULL-safe. */
void zwd_metrics__free(struct zwd_metrics *m);

/*
 * Fill @p (room for ZWD_METRICS_MAX_FDS) with what the endpoint waits for;
 * returns how many entries were filled. Lowers *@next_ms (CLOCK_MONOTONIC
 * ms, -1 = none) to the earliest client deadline.
 */
size_t zwd_metrics__pollfds(struct zwd_metrics *m, struct pollfd *p,
			    int64_t *next_ms);

/* Serve what poll() reported in @p[0..@n) (as filled by pollfds()), and
 * drop clients past their deadline. */
void zwd_metrics__serve(struct zwd_metrics *m, struct zwd *d,
			const struct pollfd *p, size_t n);

/* The page: Prometheus text exposition format 0.0.4. malloc'd, NULL on
 * ENOMEM. Exposed for tests. */
char *zwd_metrics__render(struct zwd *d, size_t *len);

#endif
