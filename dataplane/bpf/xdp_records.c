/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's flow records: the settings in zw_global (drop sampling,
 * every new connection), the consumer of the zw_events ring buffer, and the
 * sweep of the connection tables that produces the ended and update records
 * (docs/telemetry.md).
 *
 * Why a sweep in user space rather than the program: a packet-less
 * connection has no packet to run the program on (idle timeouts), and a
 * BPF timer per entry would cost every new connection a helper call and
 * the entry 16 bytes more. The sweep reads the tables in chunks with
 * bpf_map_lookup_batch(), whose cursor is a hash bucket: entries removed
 * meanwhile (by the sweep, the program or the LRU) do not restart it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_instance.h"
#include "zw_conn.h"

int zw_xdp__set_records(struct zw_xdp *x, uint32_t drop_sample,
			int log_all_new)
{
	struct zw_bpf_global g;
	int lock = zw_xdp_lock(x), rc;

	if (lock < 0)
		return lock;
	rc = zw_xdp_global_read(x, &g);
	if (!rc) {
		g.drop_sample = drop_sample;
		g.log_all_new = !!log_all_new;
		rc = zw_xdp_global_write(x, &g);
	}
	zw_xdp_unlock(lock);
	return rc;
}

int zw_xdp__set_log_all(struct zw_xdp *x, int log_all_new)
{
	struct zw_bpf_global g;
	int lock = zw_xdp_lock(x), rc;

	if (lock < 0)
		return lock;
	rc = zw_xdp_global_read(x, &g);
	if (!rc && g.log_all_new != (uint32_t)!!log_all_new) {
		g.log_all_new = !!log_all_new;
		rc = zw_xdp_global_write(x, &g);
	}
	zw_xdp_unlock(lock);
	return rc;
}

static int rb_event(void *ctx, void *data, size_t size)
{
	struct zw_xdp *x = ctx;
	struct zw_flow_record r;

	if (size < sizeof(r))
		return 0;
	memcpy(&r, data, sizeof(r));
	return x->rb_cb ? x->rb_cb(&r, x->rb_arg) : 0;
}

int zw_xdp__poll_records(struct zw_xdp *x,
			 int (*cb)(const struct zw_flow_record *r, void *arg),
			 void *arg, int timeout_ms)
{
	int n;

	if (!x->rb) {
		x->rb = ring_buffer__new(bpf_map__fd(x->skel->maps.zw_events),
					 rb_event, x, NULL);
		if (!x->rb)
			return -errno;
	}
	x->rb_cb = cb;
	x->rb_arg = arg;
	n = timeout_ms ? ring_buffer__poll(x->rb, timeout_ms)
		       : ring_buffer__consume(x->rb);
	return n;
}

/* ---- the sweep of the connection tables ---- */

/* Entries read per bpf_map_lookup_batch() (a hash bucket holds few). */
#define ZW_XDP_SWEEP_CHUNK 512u

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * ZW_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static size_t key_size(int family)
{
	return family ? sizeof(struct zw_tuple) : sizeof(struct zw_bpf_ckey4);
}

static int table_fd(const struct zw_xdp *x, int family)
{
	return bpf_map__fd(family ? x->skel->maps.zw_conns6
				  : x->skel->maps.zw_conns4);
}

/* The connection table's key @k of @family as a normalised tuple. */
static void key_tuple(int family, const void *k, struct zw_tuple *t)
{
	if (family) {
		memcpy(t, k, sizeof(*t));
		return;
	}
	const struct zw_bpf_ckey4 *k4 = k;

	memset(t, 0, sizeof(*t));
	memcpy(t->src, k4->src, 4);
	memcpy(t->dst, k4->dst, 4);
	t->sport = k4->sport;
	t->dport = k4->dport;
	t->proto = k4->proto;
	t->family = 4;
}

/* The record of entry @e under @key (as emit_end() in the program). */
static void conn_record(const struct zw_tuple *key, const struct zw_bpf_conn *e,
			uint8_t event, uint8_t end_reason, uint64_t ts,
			struct zw_flow_record *r)
{
	struct zw_tuple o;

	zw_conn__orig(key, &e->c, &o);
	memset(r, 0, sizeof(*r));
	r->ts_ns = ts;
	r->packets = e->packets[0] + e->packets[1];
	r->bytes = e->bytes[0] + e->bytes[1];
	r->flow = e->c.flow;
	r->generation = e->c.generation;
	r->src_zone = e->c.src_zone;
	r->dst_zone = e->c.dst_zone;
	r->sport = o.sport;
	r->dport = o.dport;
	if (o.proto == ZW_IPPROTO_ICMP || o.proto == ZW_IPPROTO_ICMPV6) {
		uint16_t id = o.sport >= ZW_ICMP_TAG ? o.dport : o.sport;
		uint16_t tag = o.sport >= ZW_ICMP_TAG ? o.sport : o.dport;

		r->sport = id;
		r->dport = tag >= ZW_ICMP_TAG ? (uint16_t)((tag & 0xff) << 8) : 0;
	}
	r->family = o.family;
	r->proto = o.proto;
	r->event = event;
	r->engine = 1;
	r->flags = ZW_REC_F_EXT;
	memcpy(r->src, o.src, 16);
	memcpy(r->dst, o.dst, 16);
	r->start_ns = e->start_ns;
	r->rev_packets = e->packets[1];
	r->rev_bytes = e->bytes[1];
	r->end_reason = end_reason;
}

/* Active-timeout periods of a connection started at @start, at @t. */
static uint64_t periods(uint64_t start, uint64_t t, uint64_t active_ns)
{
	return t > start ? (t - start) / active_ns : 0;
}

/* Read the next chunk of the pass: 0, 1 when the pass is complete (the
 * next call begins another), or -errno. */
static int next_chunk(struct zw_xdp *x, uint64_t now)
{
	struct zw_xdp_sweep_state *s = &x->sw;
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count, out;
	int rc;

	if (s->last) {
		s->last = 0;
		s->started = 0;
		if (s->family++ == 1) {
			s->family = 0;
			return 1;
		}
	}
	if (!s->family && !s->started) { /* a pass begins */
		s->prev_ns = s->pass_ns ? s->pass_ns : now;
		s->pass_ns = now;
	}
	count = ZW_XDP_SWEEP_CHUNK;
	rc = bpf_map_lookup_batch(table_fd(x, s->family),
				  s->started ? &s->cursor : NULL, &out, s->keys,
				  s->vals, &count, &o);
	if (rc && errno != ENOENT)
		return -errno;
	s->last = rc != 0; /* ENOENT: no bucket after these */
	s->cursor = out;
	s->started = 1;
	s->n = count;
	s->i = 0;
	return 0;
}

/* Remove the expired entry @key if it is still the one read (@e): the
 * program may have replaced it (its tuple re-used) or refreshed it since.
 * 1 when removed. */
static int remove_expired(struct zw_xdp *x, int family, const void *key,
			  const struct zw_bpf_conn *e)
{
	struct zw_bpf_conn cur;
	int fd = table_fd(x, family);

	if (bpf_map_lookup_elem(fd, key, &cur))
		return 0;
	if (cur.start_ns != e->start_ns || cur.c.last_ns != e->c.last_ns)
		return 0;
	return bpf_map_delete_elem(fd, key) == 0;
}

/* Add what this handle counted to the instance's statistics (CPU 0's
 * slot of indexes the program never writes). */
static void flush_stats(struct zw_xdp *x)
{
	struct zw_xdp_sweep_state *s = &x->sw;
	const struct {
		__u32 idx;
		uint64_t *n;
	} v[] = {
		{ZW_BPF_ST_SWEEP_ENDED, &s->ended},
		{ZW_BPF_ST_SWEEP_UPDATES, &s->updates},
		{ZW_BPF_ST_SWEEP_BEHIND, &s->behind},
	};
	int fd = bpf_map__fd(x->skel->maps.zw_stats);
	uint64_t *pc = NULL;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (!*v[i].n)
			continue;
		if (!pc && !(pc = calloc((size_t)x->ncpus, sizeof(*pc))))
			return;
		if (bpf_map_lookup_elem(fd, &v[i].idx, pc))
			continue;
		pc[0] += *v[i].n;
		if (!bpf_map_update_elem(fd, &v[i].idx, pc, BPF_ANY))
			*v[i].n = 0;
	}
	free(pc);
}

int zw_xdp__sweep(struct zw_xdp *x, const struct zw_xdp_sweep_opts *o,
		  int (*cb)(const struct zw_flow_record *r, void *arg),
		  void *arg)
{
	struct zw_xdp_sweep_state *s = &x->sw;
	uint64_t now = o && o->now_ns ? o->now_ns : mono_ns();
	uint64_t active_ns = (uint64_t)(o && o->active_timeout_s
						? o->active_timeout_s
						: ZW_ACTIVE_TIMEOUT_DEFAULT) *
			     ZW_NS_PER_SEC;
	uint32_t budget = o && o->budget ? o->budget : ZW_XDP_SWEEP_BUDGET;
	int handed = 0, stop = 0, rc = 0;

	if (!s->keys) {
		s->keys = calloc(ZW_XDP_SWEEP_CHUNK, sizeof(struct zw_tuple));
		s->vals = calloc(ZW_XDP_SWEEP_CHUNK, sizeof(*s->vals));
		if (!s->keys || !s->vals)
			return -ENOMEM;
	}
	while (budget && !stop) {
		const struct zw_bpf_conn *e;
		const void *key;
		struct zw_flow_record r;
		struct zw_tuple t;
		int family = s->family;

		if (s->i == s->n) {
			rc = next_chunk(x, now);
			if (rc)
				break; /* error, or a pass complete */
			continue;
		}
		budget--;
		key = (const char *)s->keys + s->i * key_size(family);
		e = &s->vals[s->i++];
		key_tuple(family, key, &t);
		if (zw_conn__expired(&e->c, t.proto, now)) {
			if (!remove_expired(x, family, key, e) ||
			    !(e->c.flags & ZW_CF_LOG))
				continue;
			conn_record(&t, e, ZW_EV_END,
				    e->c.state == ZW_CS_TIME_WAIT ||
						    e->c.state == ZW_CS_CLOSE
					    ? ZW_END_CLOSED
					    : ZW_END_IDLE,
				    e->c.last_ns, &r);
			s->ended++;
		} else if (e->c.flags & ZW_CF_LOG) {
			uint64_t k = periods(e->start_ns, s->pass_ns, active_ns),
				 k0 = periods(e->start_ns, s->prev_ns, active_ns);

			if (k <= k0)
				continue;
			s->behind += k - k0 - 1;
			conn_record(&t, e, ZW_EV_UPDATE, ZW_END_ACTIVE, now, &r);
			s->updates++;
		} else {
			continue;
		}
		handed++;
		stop = cb(&r, arg) != 0;
	}
	flush_stats(x);
	return rc < 0 ? rc : handed;
}
