/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The enforcement watch and the clock watch (docs/daemon.md).
 *
 * Engines: each engine's check() (include/zonewall/backend.h) is called
 * when its watch_fd() is readable (nftables notifications) and every
 * period (polled engines: XDP fingerprint, DPDK STATUS, the file engine's
 * stat). When it says something may have changed, the engine is read back
 * and compared with the active image: a difference is journalled as a
 * `drift` entry in matrix terms (rules missing, rules added, foreign
 * objects on the engine's hooks, the engine's own words), logged, and by
 * default repaired by programming the active image again on that engine
 * (--on-drift alert: journal and alert only). A drift already journalled
 * is not journalled again while it lasts.
 *
 * Clock: the wall clock (CLOCK_REALTIME) is compared with CLOCK_BOOTTIME
 * at every period; a difference in their progress beyond the tolerance is
 * a step, journalled as a `clock-step` entry with both readings. Journal
 * entries stay in time order: before any entry is written
 * (zwd_journal__append), a wall clock earlier than the newest entry's time
 * is recorded by a clock-step entry first, the one kind of entry
 * `journal verify` accepts out of order.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal_priv.h"
#include "log.h"
#include "zonewalld.h"

#define WATCH_PERIOD_MS 250
#define CLOCK_TOLERANCE_US (2 * 1000000LL)
#define LIST_MAX 40 /* rules named per list in a drift entry */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t boot_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct zwd_author watch_author(void)
{
	struct zwd_author a = {.uid = (uint32_t)getuid()};

	snprintf(a.name, sizeof(a.name), "zonewalld");
	return a;
}

const char *zwd_on_drift__name(enum zwd_on_drift m)
{
	return m == ZWD_ON_DRIFT_ALERT ? "alert" : "repair";
}

int zwd_on_drift__parse(const char *s, enum zwd_on_drift *m)
{
	if (!strcmp(s, "repair"))
		*m = ZWD_ON_DRIFT_REPAIR;
	else if (!strcmp(s, "alert"))
		*m = ZWD_ON_DRIFT_ALERT;
	else
		return -EINVAL;
	return 0;
}

/* ---- journal order ---- */

static int append_raw(struct zwd *d, struct zw_journal_entry *e)
{
	int r = zw_journal__append(d->j, e, NULL);

	if (r < 0)
		zw_log(ZW_LOG_ERR, "journal-failed", "action=%s error=%d",
		       zw_journal_action__name(e->action), r);
	else
		d->clock.journal_last_us = e->time_us;
	return r;
}

/* Journal a clock step of @step_us (signed; wall minus elapsed) seen
 * between wall times @before_us and @after_us, @elapsed_us of
 * CLOCK_BOOTTIME apart (-1: not measured, the step is against the
 * newest journal entry). */
static int journal_step(struct zwd *d, int64_t before_us, int64_t after_us,
			int64_t elapsed_us, int64_t step_us)
{
	struct zwd_author me = watch_author();
	char detail[768], after[512], t0[32], t1[32], dy[11], ty[11], q[800];
	int64_t mag = step_us < 0 ? -step_us : step_us;
	int32_t today = (int32_t)(after_us / 86400000000LL);
	struct zw_journal_entry e = {
		.action = ZW_JA_CLOCK_STEP,
		.time_us = after_us,
		.uid = me.uid,
		.user = me.name,
		.version = d->active,
		.reason = "wall clock step detected",
		.detail = detail,
		.after = after,
	};
	int r;

	zw_time__format(before_us, t0);
	zw_time__format(after_us, t1);
	zw_date__format(d->day, dy);
	zw_date__format(today, ty);
	if (elapsed_us >= 0)
		snprintf(detail, sizeof(detail),
			 "wall clock stepped %s by %lld.%06lld s: %s, then %s "
			 "%lld.%06lld s later by CLOCK_BOOTTIME",
			 step_us < 0 ? "back" : "forward", (long long)(mag / 1000000),
			 (long long)(mag % 1000000), t0, t1,
			 (long long)(elapsed_us / 1000000),
			 (long long)(elapsed_us % 1000000));
	else
		snprintf(detail, sizeof(detail),
			 "wall clock reads %s, %lld.%06lld s before the newest "
			 "journal entry (%s): it went back",
			 t1, (long long)(mag / 1000000),
			 (long long)(mag % 1000000), t0);
	if (d->day > 0 && today < d->day) {
		size_t n = strlen(detail);

		snprintf(detail + n, sizeof(detail) - n,
			 "; engines stay on day %s, the latest applied (never "
			 "an earlier day)",
			 dy);
	}
	snprintf(after, sizeof(after),
		 "{\"step_us\":%lld,\"wall_before\":\"%s\",\"wall_after\":\"%s\","
		 "\"boottime_elapsed_us\":%lld,\"boottime_us\":%lld,"
		 "\"applied_day\":\"%s\",\"today\":\"%s\"}",
		 (long long)step_us, t0, t1, (long long)elapsed_us,
		 (long long)boot_us(), d->day > 0 ? dy : "", ty);
	r = append_raw(d, &e);
	d->clock.n_steps++;
	d->clock.last_step_us = step_us;
	d->clock.last_step_at_us = after_us;
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_WARN, "clock-step", "step_us=%lld detail=%s",
	       (long long)step_us, zw_log__q(detail, q, sizeof(q)));
	return r;
}

int zwd_journal__append(struct zwd *d, struct zw_journal_entry *e)
{
	int64_t now = zw_time__now_us();

	if (now < d->clock.journal_last_us) {
		int r = journal_step(d, d->clock.journal_last_us, now, -1,
				     now - d->clock.journal_last_us);

		if (r < 0)
			return r;
	}
	e->time_us = now;
	return append_raw(d, e);
}

/* Time of the newest journal entry (0 when empty). */
static int newest_cb(int64_t seq, const char *content, const char *hash,
		     void *ctx)
{
	json_t *o = json_loads(content, 0, NULL);
	int64_t *t = ctx;

	(void)seq, (void)hash;
	if (o && zw_time__parse(json_string_value(json_object_get(o, "time")),
				t))
		*t = 0;
	json_decref(o);
	return 0;
}

/* ---- clock ---- */

void zwd_watch__clock(struct zwd *d)
{
	int64_t real = zw_time__now_us(), boot = boot_us();
	int64_t step;

	if (d->clock.real_us) {
		step = (real - d->clock.real_us) - (boot - d->clock.boot_us);
		if (step > CLOCK_TOLERANCE_US || step < -CLOCK_TOLERANCE_US)
			journal_step(d, d->clock.real_us, real,
				     boot - d->clock.boot_us, step);
	}
	d->clock.real_us = real;
	d->clock.boot_us = boot;
}

/* ---- engines ---- */

static void fmt_rule(const struct zw_held_rule *r, char *buf, size_t len)
{
	char pb[4];

	if (r->any)
		snprintf(buf, len, "%s -> %s %s", r->from, r->to,
			 zw_proto__name(r->proto, pb));
	else if (r->lo == r->hi)
		snprintf(buf, len, "%s -> %s %s/%u", r->from, r->to,
			 zw_proto__name(r->proto, pb), r->lo);
	else
		snprintf(buf, len, "%s -> %s %s/%u-%u", r->from, r->to,
			 zw_proto__name(r->proto, pb), r->lo, r->hi);
	if (r->src || r->dst) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " src %s dst %s",
			 r->src ? r->src : "zone", r->dst ? r->dst : "zone");
	}
	if (*r->flow_id) {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " (%s)", r->flow_id);
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rules of @st as sorted text lines (malloc'd array of malloc'd). */
static char **rule_lines(const struct zw_backend_state *st)
{
	char **v = calloc(st->n_rules + 1, sizeof(*v));
	char buf[1024];

	if (!v)
		return NULL;
	for (size_t i = 0; i < st->n_rules; i++) {
		fmt_rule(&st->rules[i], buf, sizeof(buf));
		v[i] = strdup(buf);
		if (!v[i]) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	}
	qsort(v, st->n_rules, sizeof(*v), str_cmp);
	return v;
}

static void lines_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Append to @arr the lines of @a not in @b (both sorted); count them. */
static size_t minus(char **a, size_t na, char **b, size_t nb, json_t *arr)
{
	size_t i = 0, k = 0, n = 0;

	while (i < na) {
		int c = k < nb ? strcmp(a[i], b[k]) : -1;

		if (c == 0) {
			i++, k++;
		} else if (c < 0) {
			if (n++ < LIST_MAX)
				json_array_append_new(arr, json_string(a[i]));
			i++;
		} else {
			k++;
		}
	}
	return n;
}

static char *foreign_text(const struct zw_backend_state *st)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < st->n_foreign; i++)
		len += strlen(st->foreign[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; s && i < st->n_foreign; i++) {
		strcat(s, st->foreign[i]);
		strcat(s, "\n");
	}
	return s;
}

static bool in_sync(const struct zw_backend_state *st,
		    const struct zw_image *img)
{
	return st->enforcing && !memcmp(st->sha256, img->sha256, 32) &&
	       !st->drift;
}

/* What differs, in matrix terms, into @o; one line of it into @sum. */
static void describe(struct zwd *d, const struct zw_backend_state *st,
		     json_t *o, char *sum, size_t len)
{
	struct zw_backend_state want = {0};
	json_t *miss = json_array(), *add = json_array(), *fo = json_array();
	size_t n_miss = 0, n_add = 0, off;
	char hex[65];

	/* an engine that enforces nothing holds no rule, decoded or not */
	if ((st->rules_known || !st->enforcing) &&
	    zw_backend_state__add_image_rules(&want, d->enforced, d->day) == 0) {
		char **w = rule_lines(&want), **h = rule_lines(st);

		if (w && h) {
			n_miss = minus(w, want.n_rules, h, st->n_rules, miss);
			n_add = minus(h, st->n_rules, w, want.n_rules, add);
		}
		lines_free(w, want.n_rules);
		lines_free(h, st->n_rules);
	}
	zw_backend_state__fini(&want);
	for (size_t i = 0; i < st->n_foreign; i++)
		json_array_append_new(fo, json_string(st->foreign[i]));
	zw_hex(st->sha256, 32, hex);
	json_object_set_new(o, "enforcing", json_boolean(st->enforcing));
	json_object_set_new(o, "image_sha256",
			    st->enforcing ? json_string(hex) : json_null());
	json_object_set_new(o, "expected_sha256",
			    json_string(d->enforced->sha256_hex));
	json_object_set_new(o, "rules_missing", miss);
	json_object_set_new(o, "rules_missing_count", json_integer((json_int_t)n_miss));
	json_object_set_new(o, "rules_added", add);
	json_object_set_new(o, "rules_added_count", json_integer((json_int_t)n_add));
	json_object_set_new(o, "foreign", fo);
	json_object_set_new(o, "engine_drift",
			    st->drift ? json_string(st->drift) : json_null());
	if (!st->enforcing)
		off = (size_t)snprintf(sum, len, "enforces no zonewall policy");
	else if (memcmp(st->sha256, d->enforced->sha256, 32))
		off = (size_t)snprintf(sum, len, "enforces another image %.16s...",
				       hex);
	else
		off = (size_t)snprintf(sum, len, "%s", st->drift
						 ? "holds the active image, altered"
						 : "enforces the active image");
	if (off < len && (n_miss || n_add))
		off += (size_t)snprintf(sum + off, len - off,
					"; %zu rule(s) of the active version "
					"missing, %zu rule(s) added",
					n_miss, n_add);
	for (size_t i = 0; i < json_array_size(miss) && i < 3 && off < len; i++)
		off += (size_t)snprintf(sum + off, len - off, "%s %s",
					i ? "," : " (missing:",
					json_string_value(json_array_get(miss, i)));
	if (json_array_size(miss) && off < len)
		off += (size_t)snprintf(sum + off, len - off, "%s)",
					n_miss > 3 ? ", ..." : "");
	if (st->n_foreign && off < len)
		off += (size_t)snprintf(sum + off, len - off,
					"; %zu foreign object(s) on its hooks: %s",
					st->n_foreign, st->foreign[0]);
	if (st->drift && off < len)
		snprintf(sum + off, len - off, "; engine: %.*s",
			 (int)strcspn(st->drift, "\n"), st->drift);
}

static void journal_line(struct zwd *d, enum zw_journal_action a,
			 const char *reason, const char *detail)
{
	struct zwd_author me = watch_author();
	struct zw_journal_entry e = {
		.action = a,
		.uid = me.uid,
		.user = me.name,
		.version = d->active,
		.reason = reason,
		.detail = detail,
	};

	zwd_journal__append(d, &e);
	zw_fwd__notify(d->fwd);
}

/* The engine may have changed: read it back; journal, alert and repair a
 * difference from the active image. */
static void inspect(struct zwd *d, struct zwd_backend *b)
{
	struct zwd_author me = watch_author();
	struct zw_backend_state st;
	char sum[1024], detail[2048], err[512] = "", q[2100];
	char *fs = NULL, *after = NULL;
	bool sync, foreign_new, repaired = false;
	json_t *o;
	int r;

	r = b->be->ops->read_back(b->be, d->enforced, &st);
	if (r < 0) {
		if (!b->watch_failed)
			zw_log(ZW_LOG_ERR, "watch-read-back-failed",
			       "backend=%s error=\"%s\"", b->spec,
			       strerror(-r));
		b->watch_failed = true;
		return;
	}
	sync = in_sync(&st, d->enforced);
	fs = foreign_text(&st);
	foreign_new = fs && b->foreign_seen && strcmp(fs, b->foreign_seen);
	if (fs) {
		free(b->foreign_seen);
		b->foreign_seen = fs;
	}
	if (sync && !foreign_new) {
		if (b->drift_seen)
			zw_log(ZW_LOG_INFO, "drift-gone",
			       "backend=%s msg=\"enforces the active image "
			       "again\"",
			       b->spec);
		free(b->drift_seen);
		b->drift_seen = NULL;
		zw_backend_state__fini(&st);
		return;
	}
	o = json_object();
	describe(d, &st, o, sum, sizeof(sum));
	zw_backend_state__fini(&st);
	if (!sync && !foreign_new && b->drift_seen && !strcmp(b->drift_seen, sum)) {
		json_decref(o); /* journalled already, still so */
		return;
	}
	/* Journal first (the evidence within the second), then repair. */
	snprintf(detail, sizeof(detail), "backend %s, changed behind "
		 "zonewalld's back: %s; %s",
		 b->spec, sum,
		 sync ? "the active image is still enforced (foreign objects "
			"changed: alert only)"
		 : d->on_drift == ZWD_ON_DRIFT_ALERT
			 ? "NOT repaired (--on-drift alert)"
			 : "re-applying the active version");
	json_object_set_new(o, "backend", json_string(b->spec));
	json_object_set_new(o, "engine", json_string(b->be->ops->name));
	json_object_set_new(o, "on_drift",
			    json_string(zwd_on_drift__name(d->on_drift)));
	json_object_set_new(o, "action",
			    json_string(sync ? "none"
					: d->on_drift == ZWD_ON_DRIFT_ALERT
						? "alert"
						: "re-apply"));
	after = zw_json__canonical(o);
	json_decref(o);
	{
		struct zw_journal_entry e = {
			.action = ZW_JA_DRIFT,
			.uid = me.uid,
			.user = me.name,
			.version = d->active,
			.reason = "enforcement watch",
			.after = after,
			.detail = detail,
		};

		zwd_journal__append(d, &e);
	}
	free(after);
	d->n_drifts++;
	zw_fwd__notify(d->fwd);
	zw_log(sync || d->on_drift == ZWD_ON_DRIFT_REPAIR ? ZW_LOG_WARN
							   : ZW_LOG_ERR,
	       "drift", "backend=%s detail=%s", b->spec,
	       zw_log__q(detail, q, sizeof(q)));
	if (!sync && d->on_drift == ZWD_ON_DRIFT_REPAIR) {
		r = zwd_engines__repair(d, b, err, sizeof(err));
		if (!r && b->be->ops->read_back(b->be, d->enforced, &st) == 0) {
			repaired = in_sync(&st, d->enforced);
			zw_backend_state__fini(&st);
		}
		/* our own change: not reported by the next check */
		b->be->ops->check(b->be);
		snprintf(detail, sizeof(detail),
			 "backend %s re-programmed with version %lld (image "
			 "%s) after drift: %s%s%s",
			 b->spec, (long long)d->active,
			 d->enforced->sha256_hex,
			 repaired ? "in sync again"
			 : r	  ? "FAILED"
				  : "still differs",
			 r && *err ? ": " : "", r ? err : "");
		journal_line(d, ZW_JA_RECONCILE, "repair after drift", detail);
		zw_log(repaired ? ZW_LOG_INFO : ZW_LOG_ERR,
		       repaired ? "drift-repaired" : "drift-repair-failed",
		       "backend=%s detail=%s", b->spec,
		       zw_log__q(detail, q, sizeof(q)));
	}
	free(b->drift_seen);
	b->drift_seen = repaired || sync ? NULL : strdup(sum);
}

void zwd_watch__init(struct zwd *d)
{
	int64_t head = 0, newest = 0, now;
	char hash[65];

	if (!d->watch_ms)
		d->watch_ms = WATCH_PERIOD_MS;
	d->watch_next_ms = mono_ms();
	if (zw_journal__head(d->j, &head, hash) == 0 && head > 0) {
		struct zw_journal_filter f = {.after_seq = head - 1, .limit = 1};

		zw_journal__foreach(d->j, &f, newest_cb, &newest);
	}
	d->clock.journal_last_us = newest;
	now = zw_time__now_us();
	/* The clock went back while we were down (or since the last entry):
	 * said now, not at the first change. */
	if (newest && now < newest)
		journal_step(d, newest, now, -1, now - newest);
	zwd_watch__clock(d);
}

size_t zwd_watch__pollfds(struct zwd *d, struct pollfd *p, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_bes && n < max; i++) {
		int fd = d->bes[i].be->ops->watch_fd(d->bes[i].be);

		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	return n;
}

int zwd_watch__timeout(struct zwd *d)
{
	int64_t now = mono_ms();

	return d->watch_next_ms <= now ? 0 : (int)(d->watch_next_ms - now);
}

void zwd_watch__run(struct zwd *d, const struct pollfd *p, size_t n)
{
	int64_t now = mono_ms();
	bool due = now >= d->watch_next_ms;

	if (due) {
		d->watch_next_ms = now + d->watch_ms;
		zwd_watch__clock(d);
	}
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		bool woken = i < n && p[i].fd >= 0 && (p[i].revents & POLLIN);
		int r;

		if (!due && !woken)
			continue;
		r = b->be->ops->check(b->be);
		if (r < 0) {
			if (!b->watch_failed)
				zw_log(ZW_LOG_ERR, "watch-check-failed",
				       "backend=%s error=\"%s\" msg=\"read back "
				       "every period instead\"",
				       b->spec, strerror(-r));
			b->watch_failed = true;
			/* cannot tell: read back, at the period only */
			r = due;
		} else {
			b->watch_failed = false;
		}
		/* nothing to hold the engine to without an active version */
		if (r > 0 && d->enforced && !b->dirty)
			inspect(d, b);
	}
}

void zwd_watch__fini(struct zwd *d)
{
	for (size_t i = 0; i < d->n_bes; i++) {
		free(d->bes[i].drift_seen);
		free(d->bes[i].foreign_seen);
		d->bes[i].drift_seen = d->bes[i].foreign_seen = NULL;
	}
}
