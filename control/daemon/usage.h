/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Flow usage (private to control/): the per-flow counters of every engine,
 * sampled by zonewalld into the state database (hourly by default,
 * zonewalld --usage-interval) so that each flow has a last-hit time that
 * survives engine re-applies and daemon restarts (docs/audit.md, section
 * "Usage"). Kept per (engine, flow id), never per image index: an image
 * index changes with every version, a flow id does not.
 *
 * Tables (created on the first sample):
 *  - usage_flow(engine, flow, raw_packets, raw_bytes, packets, bytes,
 *    first_us, last_hit_us): the last raw counter read, and the sums of
 *    the deltas since the flow was first seen;
 *  - usage_sample(time_us, engine, flow, packets, bytes): one row per
 *    sample in which a flow was hit (its deltas), kept 366 days.
 * A raw counter lower than the last one read means the engine's counter
 * was reset (re-apply, engine restart): the new value is the delta.
 */
#ifndef ZONEWALL_CONTROL_USAGE_H
#define ZONEWALL_CONTROL_USAGE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zwd;

/* Default sampling period, seconds. */
#define ZW_USAGE_INTERVAL_S 3600
/* Samples older than this many days are deleted. */
#define ZW_USAGE_KEEP_DAYS 366

/* Create the usage tables if missing. 0 or -EIO. */
int zw_usage__init(sqlite3 *db);

/* Read every engine's counters for the image in force and record the
 * deltas at @now_us. Engines that cannot give counters are skipped (their
 * reason logged once per sample). 0 or -errno. */
int zwd_usage__sample(struct zwd *d, int64_t now_us);

/* What is recorded for one flow id, all engines together. */
struct zw_usage_flow {
	char *flow;
	uint64_t packets, bytes;
	int64_t first_us;    /* first sample that saw the flow */
	int64_t last_hit_us; /* 0: never hit */
};

/* Every flow recorded, sorted by id, in a malloc'd array (free with
 * zw_usage__free). *@since_us gets the first sample's time (0: none).
 * Returns 0 (also when nothing was ever sampled: *n = 0) or -EIO. */
int zw_usage__read(sqlite3 *db, struct zw_usage_flow **out, size_t *n,
		   int64_t *since_us);
void zw_usage__free(struct zw_usage_flow *v, size_t n);
/* The entry of @flow in @v (sorted), or NULL. */
const struct zw_usage_flow *zw_usage__find(const struct zw_usage_flow *v,
					   size_t n, const char *flow);

#endif
