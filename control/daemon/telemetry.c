/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewalld's record pump (docs/telemetry.md): at each tick it pulls the
 * flow records every engine produced (the records op of backend.h, never
 * blocking, at most PULL_MAX per engine and tick), names them from the
 * enforced image (zones, flow id, image SHA-256), keeps what is to be
 * exported (denials always, folded per (src, dst, proto, dport) over
 * DENY_WINDOW_MS; created / ended / update records of flows with
 * "log: true", or of every flow with --log-all-flows), hands them to the
 * exporters (libzwtelemetry) and to the live-flows buffer that
 * 'zonectl flows' reads. Nothing here waits: a full buffer, a collector
 * that is down or slow, a table that is full, each is counted and shown
 * by 'zonectl status'.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/flow_record.h>
#ifdef ZW_HAVE_L7
#include <zonewall/l7.h>
#endif
#include <zonewall/policy.h>
#include <zonewall/telemetry.h>

#include "log.h"
#include "proto.h"
#include "zonewalld.h"

#define TICK_MS 100
#define PULL_MAX 4096	    /* records per engine and tick */
#define DENY_WINDOW_MS 1000 /* denials folded over 1 s */
#define DENY_KEYS 8192	    /* keys in the fold table */
#define LIVE_SIZE 8192	    /* entries of the live buffer */
#define LIVE_MAX_REPLY 2000 /* entries per 'flows' answer */

/* One entry of the live buffer: the record and the names that judged it. */
struct live {
	uint64_t seq; /* 1, 2, ... */
	int64_t unix_ms;
	struct zw_flow_record r;
	uint64_t count; /* denials folded into it (1 when raw) */
	char from[33], to[33], flow_id[65];
};

struct zwd_tm {
	struct zw_tm_exporter **x;
	size_t n_x;
	struct zw_tm_agg *agg;
	bool log_all;
	uint32_t active_timeout_s, domain, pen;
	uint64_t next_tick_ms; /* CLOCK_MONOTONIC */
	bool behind;	       /* an engine had more: tick again at once */
	/* counters shown by status */
	uint64_t pulled, exported, not_logged, engine_errors;
	char engine_error[160];
	/* live buffer: seq of the next entry, ring of LIVE_SIZE */
	struct live *live;
	uint64_t live_next;
	/* per tick */
	struct zwd *d;
	int64_t mono_to_unix_ms, now_unix_ms;
};

static int64_t clock_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zwd_tm__start(struct zwd *d, const struct zwd_tm_opts *o, char *err,
		  size_t len)
{
	struct zwd_tm *t = calloc(1, sizeof(*t));

	if (!t)
		goto nomem;
	d->tm = t;
	t->log_all = o->log_all;
	t->active_timeout_s = o->active_timeout_s;
	t->domain = o->domain;
	t->pen = o->pen ? o->pen : ZW_TM_DEFAULT_PEN;
	t->live = calloc(LIVE_SIZE, sizeof(*t->live));
	t->agg = zw_tm_agg__new(DENY_KEYS, DENY_WINDOW_MS);
	t->x = calloc(o->n_urls + 1, sizeof(*t->x));
	if (!t->live || !t->agg || !t->x)
		goto nomem;
	t->live_next = 1;
	for (size_t i = 0; i < o->n_urls; i++) {
		struct zw_tm_exporter_opts xo = {
			.url = o->urls[i],
			.domain = o->domain,
			.pen = o->pen,
		};

		t->x[i] = zw_tm_exporter__new(&xo, err, len);
		if (!t->x[i])
			return -(errno ? errno : EINVAL);
		t->n_x++;
		zw_log(ZW_LOG_INFO, "ipfix-exporter", "url=%s", o->urls[i]);
	}
	return 0;
nomem:
	snprintf(err, len, "out of memory");
	return -ENOMEM;
}

void zwd_tm__stop(struct zwd *d)
{
	struct zwd_tm *t = d->tm;

	if (!t)
		return;
	for (size_t i = 0; i < t->n_x; i++)
		zw_tm_exporter__free(t->x[i]);
	free(t->x);
	zw_tm_agg__free(t->agg);
	free(t->live);
	free(t);
	d->tm = NULL;
}

int zwd_tm__timeout_ms(struct zwd *d)
{
	int64_t now;

	if (!d->tm)
		return -1;
	if (d->tm->behind)
		return 0;
	now = clock_ms(CLOCK_MONOTONIC);
	return (uint64_t)now >= d->tm->next_tick_ms
		       ? 0
		       : (int)(d->tm->next_tick_ms - (uint64_t)now);
}

/* ---- names ---- */

static const char *zone_name(const struct zw_image *img, uint32_t z)
{
	return img && z < img->n_zones ? zw_image__str(img, img->zones[z].name)
				       : "";
}

static const char *flow_name(const struct zw_image *img, uint32_t f)
{
	return img && f < img->n_flows ? zw_image__str(img, img->flows[f].id)
				       : "";
}

/* What an L7 cut saw (struct zw_flow_record.l7_seen): the protocol
 * recognised or the file type, "" when none or unknown. */
static const char *l7_seen_name(const struct zw_flow_record *r)
{
	size_t n = 0;

	if (!r->l7_seen)
		return "";
	if (r->reason == ZW_DROP_L7_MISMATCH) {
		while (zw_inspect_names[n])
			n++;
		return r->l7_seen <= n ? zw_inspect_names[r->l7_seen - 1] : "";
	}
#ifdef ZW_HAVE_L7
	if (r->reason == ZW_DROP_FILE_TYPE && r->l7_seen <= ZW_FT__COUNT)
		return zw_l7_ftype__name(r->l7_seen - 1u);
#endif
	return "";
}

/* Zones of a record: as the engine judged them; for a denial that came
 * before any zone lookup (both "outside"), looked up here. */
static void zones_of(const struct zw_image *img, const struct zw_flow_record *r,
		     uint32_t *zs, uint32_t *zd)
{
	*zs = r->src_zone;
	*zd = r->dst_zone;
	if (img && !*zs && !*zd &&
	    (r->event == ZW_EV_DROP || r->event == ZW_EV_DENIED_AGG) &&
	    (r->family == 4 || r->family == 6)) {
		*zs = zw_image__zone_of(img, r->family, r->src);
		*zd = zw_image__zone_of(img, r->family, r->dst);
	}
}

/* ---- live buffer ---- */

static void live_add(struct zwd_tm *t, const struct zw_flow_record *r,
		     uint64_t count, int64_t unix_ms)
{
	const struct zw_image *img = t->d->enforced;
	struct live *l = &t->live[t->live_next % LIVE_SIZE];
	uint32_t zs, zd;

	zones_of(img, r, &zs, &zd);
	l->seq = t->live_next++;
	l->unix_ms = unix_ms;
	l->r = *r;
	l->count = count;
	snprintf(l->from, sizeof(l->from), "%s", zone_name(img, zs));
	snprintf(l->to, sizeof(l->to), "%s", zone_name(img, zd));
	snprintf(l->flow_id, sizeof(l->flow_id), "%s", flow_name(img, r->flow));
}

/* ---- export ---- */

static void export(struct zwd_tm *t, const struct zw_flow_record *r,
		   uint64_t count, int64_t first_ms, int64_t last_ms)
{
	const struct zw_image *img = t->d->enforced;
	struct zw_tm_record x;
	uint32_t zs, zd;

	if (!t->n_x)
		return;
	if (zw_tm_record__from_flow(&x, r, t->mono_to_unix_ms) < 0)
		return;
	/* an engine clock that is not CLOCK_MONOTONIC: the time we got it */
	if (x.end_ms + 3600000 < (uint64_t)t->now_unix_ms ||
	    x.end_ms > (uint64_t)t->now_unix_ms + 3600000)
		x.start_ms = x.end_ms = (uint64_t)t->now_unix_ms;
	if (count) { /* a fold of denials */
		x.packets = x.init_packets = count;
		x.start_ms = (uint64_t)first_ms;
		x.end_ms = (uint64_t)last_ms;
	}
	zones_of(img, r, &zs, &zd);
	x.src_zone = zone_name(img, zs);
	x.dst_zone = zone_name(img, zd);
	x.flow_id = flow_name(img, r->flow);
	x.l7_seen = l7_seen_name(r);
	x.image_sha256 = img ? img->sha256 : NULL;
	for (size_t i = 0; i < t->n_x; i++)
		zw_tm_exporter__add(t->x[i], &x, (uint64_t)t->now_unix_ms);
	t->exported++;
}

static void fold_out(void *ctx, const struct zw_tm_denial *dn)
{
	export(ctx, &dn->first, dn->count, (int64_t)dn->first_ms,
	       (int64_t)dn->last_ms);
}

static bool logged(const struct zwd_tm *t, const struct zw_flow_record *r)
{
	const struct zw_image *img = t->d->enforced;

	if (t->log_all)
		return true;
	return img && r->flow < img->n_flows &&
	       (img->flows[r->flow].flags & ZW_IMG_FLOW_LOG);
}

static int take(void *ctx, const struct zw_flow_record *r)
{
	struct zwd_tm *t = ctx;
	bool denied = r->event == ZW_EV_DROP || r->event == ZW_EV_DENIED_AGG;

	t->pulled++;
	if (denied) {
		uint64_t n = r->event == ZW_EV_DENIED_AGG && r->packets
				     ? r->packets : 1;

		live_add(t, r, n, t->now_unix_ms);
		/* a full fold table refuses the attempt; it is counted
		 * there (status: aggregation_overflow) */
		zw_tm_agg__add(t->agg, r, NULL, (uint64_t)t->now_unix_ms);
		return 0;
	}
	if (!logged(t, r)) {
		t->not_logged++;
		return 0;
	}
	live_add(t, r, 1, t->now_unix_ms);
	export(t, r, 0, 0, 0);
	return 0;
}

/* The L7 inspector's verdicts (inspector.c: one record per datagram on
 * its socket), taken like an engine's records, at most PULL_MAX a tick. */
static void inspector_records(struct zwd *d, struct zwd_tm *t)
{
	int fd = zwd_inspector__records_fd(d);
	struct zw_flow_record r;

	for (int n = 0; fd >= 0 && n < PULL_MAX; n++) {
		ssize_t k = recv(fd, &r, sizeof(r), MSG_DONTWAIT | MSG_TRUNC);

		if (k < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				t->engine_errors++;
				snprintf(t->engine_error, sizeof(t->engine_error),
					 "inspector records: %s", strerror(errno));
			}
			return;
		}
		if (k != (ssize_t)sizeof(r) || r.event != ZW_EV_DROP) {
			t->engine_errors++;
			snprintf(t->engine_error, sizeof(t->engine_error),
				 "inspector records: a datagram of %zd bytes "
				 "that is no denied record", k);
			continue;
		}
		take(t, &r);
		if (n + 1 == PULL_MAX)
			t->behind = true;
	}
}

void zwd_tm__tick(struct zwd *d)
{
	struct zwd_tm *t = d->tm;
	int64_t mono;

	if (!t)
		return;
	mono = clock_ms(CLOCK_MONOTONIC);
	if (!t->behind && (uint64_t)mono < t->next_tick_ms)
		return;
	t->next_tick_ms = (uint64_t)mono + TICK_MS;
	t->behind = false;
	t->d = d;
	t->now_unix_ms = clock_ms(CLOCK_REALTIME);
	t->mono_to_unix_ms = t->now_unix_ms - mono;
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zw_backend *be = d->bes[i].be;
		int n = be->ops->records(be, take, t, PULL_MAX);

		if (n < 0) {
			t->engine_errors++;
			snprintf(t->engine_error, sizeof(t->engine_error),
				 "%s: %s", d->bes[i].spec, strerror(-n));
		} else if (n >= PULL_MAX) {
			t->behind = true;
		}
	}
	inspector_records(d, t);
	zw_tm_agg__flush(t->agg, (uint64_t)t->now_unix_ms, false, fold_out, t);
	for (size_t i = 0; i < t->n_x; i++)
		zw_tm_exporter__tick(t->x[i], (uint64_t)t->now_unix_ms);
}

void zwd_tm__drain(struct zwd *d)
{
	struct zwd_tm *t = d->tm;

	if (!t)
		return;
	t->d = d;
	t->now_unix_ms = clock_ms(CLOCK_REALTIME);
	t->mono_to_unix_ms = t->now_unix_ms - clock_ms(CLOCK_MONOTONIC);
	zw_tm_agg__flush(t->agg, (uint64_t)t->now_unix_ms, true, fold_out, t);
	for (size_t i = 0; i < t->n_x; i++)
		zw_tm_exporter__tick(t->x[i], (uint64_t)t->now_unix_ms);
}

/* ---- status ---- */

json_t *zwd_tm__status(struct zwd *d)
{
	struct zwd_tm *t = d->tm;
	uint64_t engine_lost = 0;
	json_t *xs, *o;

	if (!t)
		return json_null();
	xs = json_array();
	for (size_t i = 0; i < t->n_x; i++) {
		struct zw_tm_exporter_stats st;
		json_t *why = json_object();

		zw_tm_exporter__stats(t->x[i], &st);
		for (unsigned c = 0; c < ZW_TM_DROP__COUNT; c++)
			json_object_set_new(why, zw_tm_drop_cause__name(c),
					    json_integer((json_int_t)st.dropped[c]));
		json_array_append_new(
			xs,
			json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:I,"
				  " s:I, s:I, s:s?}",
				  "url", zw_tm_exporter__url(t->x[i]), "format",
				  st.format == ZW_TM_NSEL ? "netflow9-nsel"
							  : "ipfix",
				  "transport",
				  st.transport == ZW_TM_TCP ? "tcp" : "udp",
				  "collector", zw_tm_state__name(st.state),
				  "records_sent", (json_int_t)st.records_sent,
				  "records_dropped",
				  (json_int_t)st.records_dropped, "dropped",
				  why, "messages_sent",
				  (json_int_t)st.messages_sent,
				  "template_sends",
				  (json_int_t)st.template_sends, "connects",
				  (json_int_t)st.connects, "last_error",
				  *st.last_error ? st.last_error : NULL));
	}
	/* records the engines lost before we pulled them (their stats op:
	 * a full ring, a socket overrun...): asked now, for this answer */
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zw_backend *be = d->bes[i].be;
		struct zw_engine_stats es;

		if (be && be->ops->stats && be->ops->stats(be, &es) == 0 &&
		    es.has_records_lost)
			engine_lost += es.records_lost;
	}
	o = json_pack("{s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
		      " s:s?, s:I, s:o}",
		      "log_all_flows", t->log_all, "active_timeout_s",
		      (int)t->active_timeout_s, "observation_domain",
		      (json_int_t)t->domain, "pen", (json_int_t)t->pen,
		      "records_pulled", (json_int_t)t->pulled,
		      "records_exported", (json_int_t)t->exported,
		      "not_logged", (json_int_t)t->not_logged,
		      "aggregation_overflow",
		      (json_int_t)zw_tm_agg__overflow(t->agg), "engine_lost",
		      (json_int_t)engine_lost, "engine_errors",
		      (json_int_t)t->engine_errors, "last_engine_error",
		      *t->engine_error ? t->engine_error : NULL,
		      "live_seq", (json_int_t)(t->live_next - 1), "exporters",
		      xs);
	return o ? o : json_null();
}

/* ---- the flows request ---- */

static const char *event_name(uint8_t ev)
{
	switch (ev) {
	case ZW_EV_NEW: return "created";
	case ZW_EV_END: return "ended";
	case ZW_EV_UPDATE: return "update";
	case ZW_EV_DROP:
	case ZW_EV_DENIED_AGG: return "denied";
	default: return "unknown";
	}
}

static json_t *live_json(const struct live *l)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], tb[32], pb[4];
	const struct zw_flow_record *r = &l->r;
	int af = r->family == 6 ? AF_INET6 : AF_INET;
	bool icmp = r->proto == 1 || r->proto == 58;
	bool denied = r->event == ZW_EV_DROP || r->event == ZW_EV_DENIED_AGG;
	json_t *o;

	inet_ntop(af, r->src, src, sizeof(src));
	inet_ntop(af, r->dst, dst, sizeof(dst));
	o = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:I,"
		      " s:I, s:I}",
		      "seq", (json_int_t)l->seq, "time",
		      zw_time__format(l->unix_ms * 1000, tb), "event",
		      event_name(r->event), "flow",
		      *l->flow_id ? l->flow_id : NULL, "from", l->from, "to",
		      l->to, "proto", zw_proto__name(r->proto, pb), "src", src,
		      "dst", dst, "packets",
		      (json_int_t)(denied ? l->count : r->packets), "bytes",
		      (json_int_t)(denied ? 0 : r->bytes), "ifindex",
		      (json_int_t)r->ifindex);
	if (!o)
		return NULL;
	if (icmp) {
		json_object_set_new(o, "icmp_type", json_integer(r->dport >> 8));
		json_object_set_new(o, "icmp_code", json_integer(r->dport & 0xff));
	} else {
		json_object_set_new(o, "sport", json_integer(r->sport));
		json_object_set_new(o, "dport", json_integer(r->dport));
	}
	json_object_set_new(o, "reason",
			    denied ? json_string(zw_drop_reason__name(r->reason))
				   : json_null());
	if (*l7_seen_name(r))
		json_object_set_new(o, "seen", json_string(l7_seen_name(r)));
	return o;
}

json_t *zwd_tm__flows(struct zwd *d, const json_t *req)
{
	struct zwd_tm *t = d->tm;
	const char *zone = json_string_value(json_object_get(req, "zone"));
	const char *flow = json_string_value(json_object_get(req, "flow"));
	bool denied = json_is_true(json_object_get(req, "denied"));
	json_t *after_j = json_object_get(req, "after"), *out;
	uint64_t oldest, first, lost = 0, next;
	json_int_t max = json_integer_value(json_object_get(req, "max"));

	if (!t)
		return zw_proto__error(3, "live flows are not running");
	if (after_j && !json_is_integer(after_j))
		return zw_proto__error(2, "\"after\" must be an integer");
	if (max <= 0 || max > LIVE_MAX_REPLY)
		max = LIVE_MAX_REPLY;
	next = t->live_next; /* seq the next entry will get */
	oldest = next > LIVE_SIZE ? next - LIVE_SIZE : 1;
	if (after_j) {
		json_int_t a = json_integer_value(after_j);

		first = a < 0 ? oldest : (uint64_t)a + 1;
		if (first > next)
			first = next; /* a reader from a previous daemon */
		if (first < oldest) {
			lost = oldest - first; /* overwritten before read */
			first = oldest;
		}
	} else {
		/* no cursor: the latest @max entries */
		first = next - oldest > (uint64_t)max ? next - (uint64_t)max
						     : oldest;
	}
	out = json_array();
	for (uint64_t s = first; s < next && json_array_size(out) < (size_t)max;
	     s++) {
		const struct live *l = &t->live[s % LIVE_SIZE];
		bool is_denied = l->r.event == ZW_EV_DROP ||
				 l->r.event == ZW_EV_DENIED_AGG;

		first = s + 1;
		if (denied && !is_denied)
			continue;
		if (zone && strcmp(zone, l->from) && strcmp(zone, l->to))
			continue;
		if (flow && strcmp(flow, l->flow_id))
			continue;
		json_array_append_new(out, live_json(l));
	}
	return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "next",
			 (json_int_t)(first - 1), "lost", (json_int_t)lost,
			 "flows", out);
}
