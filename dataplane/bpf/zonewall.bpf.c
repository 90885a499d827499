// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * zonewall's XDP program: judge every IP packet entering a zone-facing
 * interface by the policy image (zones, zone-pair rules, narrowing, crisis
 * block list), with connection tracking, before the kernel's stack sees it.
 *
 * The decision order is the dataplane core's (docs/dataplane-core.md); the
 * maps and the swap are documented in docs/xdp-engine.md. Two sets of
 * policy maps ("slots") exist; the generation read once per packet from
 * zw_global selects one, and every lookup of that packet goes to that
 * slot, so a packet is judged entirely by one policy. The slot is a
 * compile-time constant inside zw_judge() (two inlined copies), so each
 * map access names its map directly and the verifier inlines array and
 * hash lookups.
 *
 * The fast path never logs: it counts (zw_stats, zw_cnt_S) and emits flow
 * records into the zw_events ring buffer.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "zw_bpf_abi.h"
#include "zw_conn.h"
#include "zw_parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- global maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zw_bpf_global);
} zw_global SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct zw_bpf_slot);
} zw_slots SEC(".maps");

/* Connections: IPv4 under a compact key, IPv6 under the normalised tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZW_BPF_DEF_CONNS);
	__type(key, struct zw_bpf_ckey4);
	__type(value, struct zw_bpf_conn);
} zw_conns4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZW_BPF_DEF_CONNS);
	__type(key, struct zw_tuple);
	__type(value, struct zw_bpf_conn);
} zw_conns6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZW_BPF_MAX_FRAGS);
	__type(key, struct zw_frag_key);
	__type(value, struct zw_frag);
} zw_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ZW_BPF_MAX_RATE);
	__type(key, struct zw_bpf_rate_key);
	__type(value, struct zw_bpf_rate_val);
} zw_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ZW_BPF_ST__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} zw_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ZW_BPF_RINGBUF);
} zw_events SEC(".maps");

/* Where a new connection's entry is built: 64 bytes more on zw_judge()'s
 * stack would exceed the 512 bytes its call chain may use. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zw_bpf_conn);
} zw_scratch SEC(".maps");

/* ---- policy slots ---- */

#define ZW_SLOT_MAPS(S)                                                    \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_PREFIXES);                  \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_lpm4);                           \
		__type(value, struct zw_bpf_zone_val);                     \
	} zw_zones4_##S SEC(".maps");                                      \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_PREFIXES);                  \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_lpm6);                           \
		__type(value, struct zw_bpf_zone_val);                     \
	} zw_zones6_##S SEC(".maps");                                      \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_NARROW);                    \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_set4);                           \
		__type(value, __u32);                                      \
	} zw_sets4_##S SEC(".maps");                                       \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_NARROW);                    \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_set6);                           \
		__type(value, __u32);                                      \
	} zw_sets6_##S SEC(".maps");                                       \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_BLOCK);                     \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_lpm4);                           \
		__type(value, __u32);                                      \
	} zw_block4_##S SEC(".maps");                                      \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                       \
		__uint(max_entries, ZW_BPF_MAX_BLOCK);                     \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_lpm6);                           \
		__type(value, __u32);                                      \
	} zw_block6_##S SEC(".maps");                                      \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);                          \
		__uint(max_entries, ZW_BPF_MAX_ZONES);                     \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_zoneinfo);                     \
	} zw_zoneinfo_##S SEC(".maps");                                    \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);                          \
		__uint(max_entries, ZW_BPF_MAX_FLOWS);                     \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_flowinfo);                     \
	} zw_flowinfo_##S SEC(".maps");                                    \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_HASH);                           \
		__uint(max_entries, ZW_BPF_MAX_PORT_KEYS);                 \
		__uint(map_flags, BPF_F_NO_PREALLOC);                      \
		__type(key, struct zw_bpf_port_key);                       \
		__type(value, struct zw_bpf_span);                         \
	} zw_ports_##S SEC(".maps");                                       \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);                          \
		__uint(max_entries, ZW_BPF_MAX_RANGES);                    \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_range);                        \
	} zw_ranges_##S SEC(".maps");                                      \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);                          \
		__uint(max_entries, ZW_BPF_MAX_CANDS);                     \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_cand);                         \
	} zw_cands_##S SEC(".maps");                                       \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                   \
		__uint(max_entries, ZW_BPF_MAX_FLOWS + 1);                 \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_counters);                     \
	} zw_cnt_##S SEC(".maps");                                         \
	struct {                                                           \
		__uint(type, BPF_MAP_TYPE_ARRAY);                          \
		__uint(max_entries, ZW_BPF_MAX_FLOWS + 1);                 \
		__type(key, __u32);                                        \
		__type(value, struct zw_bpf_counters);                     \
	} zw_cntbase_##S SEC(".maps");

ZW_SLOT_MAPS(0)
ZW_SLOT_MAPS(1)

/* The map of slot S (a constant after inlining). */
#define SM(name, S) ((S) ? (void *)&name##_1 : (void *)&name##_0)

/* ---- helpers ---- */

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&zw_stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count(__u32 flow, __u32 bytes, int is_new,
				  int drop, const int S)
{
	__u32 idx = flow < ZW_BPF_MAX_FLOWS ? flow : ZW_BPF_FLOW_NONE;
	struct zw_bpf_counters *c = bpf_map_lookup_elem(SM(zw_cnt, S), &idx);

	if (!c)
		return;
	if (drop) {
		/* a dropped packet is no packet of the flow's connections */
		c->drops += 1;
		return;
	}
	c->packets += 1;
	c->bytes += bytes;
	c->new_conns += is_new;
}

static __always_inline void ckey4(const struct zw_tuple *k,
				  struct zw_bpf_ckey4 *k4)
{
	__builtin_memcpy(k4->src, k->src, 4);
	__builtin_memcpy(k4->dst, k->dst, 4);
	k4->sport = k->sport;
	k4->dport = k->dport;
	k4->proto = k->proto;
	k4->pad[0] = 0;
	k4->pad[1] = 0;
	k4->pad[2] = 0;
}

static __always_inline struct zw_bpf_conn *conn_lookup(const struct zw_tuple *k)
{
	if (k->family == 4) {
		struct zw_bpf_ckey4 k4;

		ckey4(k, &k4);
		return bpf_map_lookup_elem(&zw_conns4, &k4);
	}
	return bpf_map_lookup_elem(&zw_conns6, k);
}

static __always_inline int conn_update(const struct zw_tuple *k,
				       const struct zw_bpf_conn *c)
{
	if (k->family == 4) {
		struct zw_bpf_ckey4 k4;

		ckey4(k, &k4);
		return bpf_map_update_elem(&zw_conns4, &k4, c, BPF_ANY);
	}
	return bpf_map_update_elem(&zw_conns6, k, c, BPF_ANY);
}

static __always_inline void conn_delete(const struct zw_tuple *k)
{
	if (k->family == 4) {
		struct zw_bpf_ckey4 k4;

		ckey4(k, &k4);
		bpf_map_delete_elem(&zw_conns4, &k4);
		return;
	}
	bpf_map_delete_elem(&zw_conns6, k);
}

/* Zone of an address: longest prefix, outside (0) when none. */
static __always_inline __u32 zone_of(const __u8 *addr, __u8 family,
				     const int S)
{
	struct zw_bpf_zone_val *v;

	if (family == 4) {
		struct zw_bpf_lpm4 k = {.prefixlen = 32};

		__builtin_memcpy(k.addr, addr, 4);
		v = bpf_map_lookup_elem(SM(zw_zones4, S), &k);
	} else {
		struct zw_bpf_lpm6 k = {.prefixlen = 128};

		__builtin_memcpy(k.addr, addr, 16);
		v = bpf_map_lookup_elem(SM(zw_zones6, S), &k);
	}
	return v ? v->zone : 0;
}

static __always_inline int in_set(__u32 set, const __u8 *addr, __u8 family,
				  const int S)
{
	if (!set)
		return 1;
	if (family == 4) {
		struct zw_bpf_set4 k = {.prefixlen = 64};

		k.set = bpf_htonl(set);
		__builtin_memcpy(k.addr, addr, 4);
		return bpf_map_lookup_elem(SM(zw_sets4, S), &k) != NULL;
	} else {
		struct zw_bpf_set6 k = {.prefixlen = 160};

		k.set = bpf_htonl(set);
		__builtin_memcpy(k.addr, addr, 16);
		return bpf_map_lookup_elem(SM(zw_sets6, S), &k) != NULL;
	}
}

static __always_inline int blocked(const __u8 *addr, __u8 family,
				   const int S)
{
	if (family == 4) {
		struct zw_bpf_lpm4 k = {.prefixlen = 32};

		__builtin_memcpy(k.addr, addr, 4);
		return bpf_map_lookup_elem(SM(zw_block4, S), &k) != NULL;
	} else {
		struct zw_bpf_lpm6 k = {.prefixlen = 128};

		__builtin_memcpy(k.addr, addr, 16);
		return bpf_map_lookup_elem(SM(zw_block6, S), &k) != NULL;
	}
}

struct verdict {
	__u32 flow;	/* ZW_BPF_NO_FLOW when none */
	__u16 src_zone;
	__u16 dst_zone;
	__u8 allow;
	__u8 reason;	/* drop reason when !allow */
	__u8 pad[2];
};

/* The candidate span for (pair, proto, port), or 0. */
static __always_inline int find_span(struct zw_bpf_port_key *pk,
				     __u16 port, struct zw_bpf_span *out,
				     const int S)
{
	struct zw_bpf_span *sp;
	__u32 lo, n, i;

	pk->kind = ZW_BPF_PK_PORT;
	pk->port = port;
	sp = bpf_map_lookup_elem(SM(zw_ports, S), pk);
	if (sp) {
		*out = *sp;
		return 1;
	}
	pk->kind = ZW_BPF_PK_RANGES;
	pk->port = 0;
	sp = bpf_map_lookup_elem(SM(zw_ports, S), pk);
	if (!sp)
		return 0;
	/* last interval with lo <= port: binary search over [first, +n) */
	lo = sp->first;
	n = sp->count;
	for (i = 0; i < ZW_BPF_RANGE_STEPS && n > 1; i++) {
		__u32 half = n / 2, mid = lo + half;
		struct zw_bpf_range *r = bpf_map_lookup_elem(SM(zw_ranges, S),
							     &mid);

		if (!r)
			return 0;
		if (r->lo <= port) {
			lo = mid;
			n -= half;
		} else {
			n = half;
		}
	}
	if (n != 1)
		return 0;
	{
		struct zw_bpf_range *r = bpf_map_lookup_elem(SM(zw_ranges, S),
							     &lo);

		if (!r || port < r->lo || port > r->hi)
			return 0;
		out->first = r->first;
		out->count = r->count;
	}
	return 1;
}

/*
 * The policy's answer for a new connection @t (rule port @port): the same
 * question as zw_eval__image() answers.
 */
static __always_inline void classify_body(const struct zw_tuple *t,
					  __u16 port, struct verdict *v,
					  const int S)
{
	struct zw_bpf_port_key pk = {};
	struct zw_bpf_span span;
	struct zw_bpf_zoneinfo *zi;
	__u32 zs, zd, i;

	zs = zone_of(t->src, t->family, S);
	zd = zone_of(t->dst, t->family, S);
	v->src_zone = (__u16)zs;
	v->dst_zone = (__u16)zd;
	v->flow = ZW_BPF_NO_FLOW;

	pk.from = (__u16)zs;
	pk.to = (__u16)zd;
	pk.proto = t->proto;
	if (find_span(&pk, port, &span, S)) {
		for (i = 0; i < ZW_BPF_CAND_SCAN; i++) {
			__u32 idx = span.first + i;
			struct zw_bpf_cand *c;

			if (i >= span.count)
				break;
			c = bpf_map_lookup_elem(SM(zw_cands, S), &idx);
			if (!c)
				break;
			if (!in_set(c->src_set, t->src, t->family, S))
				continue;
			if (!in_set(c->dst_set, t->dst, t->family, S))
				continue;
			v->flow = c->flow;
			v->allow = 1;
			v->reason = ZW_DROP_NONE;
			return;
		}
	}
	if (zs == zd && zs != 0) {
		zi = bpf_map_lookup_elem(SM(zw_zoneinfo, S), &zs);
		if (zi && (zi->flags & ZW_BPF_ZONE_ISOLATE)) {
			v->allow = 0;
			v->reason = ZW_DROP_ISOLATED;
		} else {
			v->allow = 1;
			v->reason = ZW_DROP_NONE;
		}
		return;
	}
	v->allow = 0;
	v->reason = ZW_DROP_NO_FLOW;
}

/*
 * Out of line, one copy per slot, and GLOBAL: the verifier checks a global
 * function once, against the types of its arguments, instead of once per
 * distinct caller state; that is what keeps the verifier's work (and the
 * headroom we document) independent of the parser's many paths.
 */
__noinline int zw_classify_0(const struct zw_tuple *t, __u32 port,
			     struct verdict *v);
__noinline int zw_classify_1(const struct zw_tuple *t, __u32 port,
			     struct verdict *v);

__noinline int zw_classify_0(const struct zw_tuple *t, __u32 port,
			     struct verdict *v)
{
	if (!t || !v)
		return 0;
	classify_body(t, (__u16)port, v, 0);
	return v->allow;
}

__noinline int zw_classify_1(const struct zw_tuple *t, __u32 port,
			     struct verdict *v)
{
	if (!t || !v)
		return 0;
	classify_body(t, (__u16)port, v, 1);
	return v->allow;
}

static __always_inline void classify(const struct zw_tuple *t, __u16 port,
				     struct verdict *v, const int S)
{
	if (S)
		zw_classify_1(t, port, v);
	else
		zw_classify_0(t, port, v);
}

/* GCRA per (flow, source): 1 if this new connection is within the rate. */
static __always_inline int rate_ok(const struct zw_bpf_flowinfo *fi,
				   const struct zw_tuple *t, __u32 flow,
				   __u64 now)
{
	struct zw_bpf_rate_key k = {};
	struct zw_bpf_rate_val *r, nv;
	__u64 tat;

	__builtin_memcpy(k.addr, t->src, 16);
	k.flow = flow;
	k.family = t->family;
	r = bpf_map_lookup_elem(&zw_rate, &k);
	if (!r) {
		nv.tat_ns = now + fi->interval_ns;
		bpf_map_update_elem(&zw_rate, &k, &nv, BPF_ANY);
		return 1;
	}
	tat = r->tat_ns > now ? r->tat_ns : now;
	if (tat - now > fi->tolerance_ns)
		return 0;
	r->tat_ns = tat + fi->interval_ns;
	return 1;
}

static __always_inline void emit(struct xdp_md *ctx, const struct zw_pkt *p,
				 __u8 event, __u8 reason, __u32 flow,
				 __u32 gen, __u16 zs, __u16 zd, __u64 now)
{
	struct zw_flow_record *r;

	r = bpf_ringbuf_reserve(&zw_events, sizeof(*r), 0);
	if (!r) {
		stat_inc(ZW_BPF_ST_EVENTS_LOST);
		return;
	}
	r->ts_ns = now;
	r->packets = 0;
	r->bytes = 0;
	r->flow = flow;
	r->generation = gen;
	r->src_zone = zs;
	r->dst_zone = zd;
	if (p->t.proto == ZW_IPPROTO_ICMP || p->t.proto == ZW_IPPROTO_ICMPV6) {
		r->sport = zw_pkt__icmp_id(p);
		r->dport = (__u16)(p->icmp_type << 8 | p->icmp_code);
	} else {
		r->sport = p->t.sport;
		r->dport = p->t.dport;
	}
	r->family = p->t.family;
	r->proto = p->t.proto;
	r->event = event;
	r->reason = reason;
	r->engine = 1;
	r->l7_seen = 0;
	r->pad[0] = 0;
	r->pad[1] = 0;
	r->ifindex = ctx->ingress_ifindex;
	r->reserved = 0;
	__builtin_memcpy(r->src, p->t.src, 16);
	__builtin_memcpy(r->dst, p->t.dst, 16);
	bpf_ringbuf_submit(r, 0);
}

/*
 * The ended record of connection @e (stored under @key) that the program
 * itself removes or replaces (cut by a policy change, its tuple re-used by
 * a new connection): the user-space sweep (xdp_records.c) will not see it.
 * Only for connections whose created record was emitted (ZW_CF_LOG).
 */
static __always_inline void emit_end(const struct zw_tuple *key,
				     const struct zw_bpf_conn *e,
				     __u8 end_reason, __u64 now)
{
	struct zw_flow_record *r;
	__u16 sp, dp;

	if (!(e->c.flags & ZW_CF_LOG))
		return;
	r = bpf_ringbuf_reserve(&zw_events, sizeof(*r), 0);
	if (!r) {
		stat_inc(ZW_BPF_ST_EVENTS_LOST);
		return;
	}
	stat_inc(ZW_BPF_ST_ENDED);
	/* the initiator's tuple (zw_conn__orig), straight into the record */
	if (e->c.flags & ZW_CF_ORIG_SWAPPED) {
		__builtin_memcpy(r->src, key->dst, 16);
		__builtin_memcpy(r->dst, key->src, 16);
		sp = key->dport;
		dp = key->sport;
	} else {
		__builtin_memcpy(r->src, key->src, 16);
		__builtin_memcpy(r->dst, key->dst, 16);
		sp = key->sport;
		dp = key->dport;
	}
	r->ts_ns = now;
	r->packets = e->packets[0] + e->packets[1];
	r->bytes = e->bytes[0] + e->bytes[1];
	r->flow = e->c.flow;
	r->generation = e->c.generation;
	r->src_zone = e->c.src_zone;
	r->dst_zone = e->c.dst_zone;
	if (key->proto == ZW_IPPROTO_ICMP || key->proto == ZW_IPPROTO_ICMPV6) {
		/* as in created records: the identifier, the request type */
		__u16 id = sp >= ZW_ICMP_TAG ? dp : sp;
		__u16 tag = sp >= ZW_ICMP_TAG ? sp : dp;

		r->sport = id;
		r->dport = tag >= ZW_ICMP_TAG ? (__u16)((tag & 0xff) << 8) : 0;
	} else {
		r->sport = sp;
		r->dport = dp;
	}
	r->family = key->family;
	r->proto = key->proto;
	r->event = ZW_EV_END;
	r->reason = ZW_DROP_NONE;
	r->engine = 1;
	r->l7_seen = 0;
	r->pad[0] = 0;
	r->pad[1] = 0;
	r->ifindex = 0;
	r->flags = ZW_REC_F_EXT;
	r->start_ns = e->start_ns;
	r->rev_packets = e->packets[1];
	r->rev_bytes = e->bytes[1];
	r->egress_ifindex = 0;
	r->end_reason = end_reason;
	r->pad2[0] = 0;
	r->pad2[1] = 0;
	r->pad2[2] = 0;
	bpf_ringbuf_submit(r, 0);
}

static __always_inline int drop(struct xdp_md *ctx, const struct zw_pkt *p,
				__u8 reason, __u32 flow, __u32 gen, int zknown,
				__u16 zs, __u16 zd, const int S)
{
	__u32 k0 = 0;
	struct zw_bpf_global *g;

	stat_inc(reason);
	g = bpf_map_lookup_elem(&zw_global, &k0);
	if (g && g->drop_sample &&
	    (g->drop_sample == 1 ||
	     bpf_get_prandom_u32() % g->drop_sample == 0)) {
		if (!zknown && p->t.family) {
			zs = (__u16)zone_of(p->t.src, p->t.family, S);
			zd = (__u16)zone_of(p->t.dst, p->t.family, S);
		}
		emit(ctx, p, ZW_EV_DROP, reason, flow, gen, zs, zd,
		     bpf_ktime_get_coarse_ns());
	}
	return XDP_DROP;
}

/* Re-check connection @c (stored under @key) against the policy of slot S
 * after a generation change: allowed again (possibly by another flow) or
 * cut. Returns 1 to keep it. */
static __always_inline int recheck(const struct zw_tuple *key,
				   struct zw_conn *c, __u32 gen, const int S)
{
	struct zw_tuple orig;
	struct verdict v = {};

	stat_inc(ZW_BPF_ST_RECHECK);
	zw_conn__orig(key, c, &orig);
	classify(&orig, c->match_port, &v, S);
	if (!v.allow)
		return 0;
	c->flow = v.flow;
	c->generation = gen;
	c->src_zone = v.src_zone;
	c->dst_zone = v.dst_zone;
	return 1;
}

static __always_inline void remember_fragment(const struct zw_pkt *p,
					      __u32 flow, __u32 gen, __u64 now)
{
	struct zw_frag_key fk;
	struct zw_frag f = {.first_ns = now, .flow = flow, .generation = gen};

	if ((p->flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER)) != ZW_PF_FRAG)
		return;
	zw_frag_key__from_pkt(p, &fk);
	bpf_map_update_elem(&zw_frags, &fk, &f, BPF_ANY);
}

static __always_inline int zw_judge(struct xdp_md *ctx, struct zw_pkt *p,
				    __u32 gen, const int S)
{
	__u32 slot = S;
	struct zw_bpf_slot *meta = bpf_map_lookup_elem(&zw_slots, &slot);
	struct zw_tuple key;
	struct zw_bpf_conn *e, *ne;
	struct zw_conn *c;
	struct verdict v = {};
	__u64 now = bpf_ktime_get_coarse_ns();
	int swapped;

	if (!meta)
		return XDP_DROP;

	/* 1. crisis block list, before anything else */
	if (meta->has_block & (p->t.family == 4 ? 1 : 2)) {
		if (blocked(p->t.src, p->t.family, S) ||
		    blocked(p->t.dst, p->t.family, S))
			return drop(ctx, p, ZW_DROP_BLOCKED, ZW_BPF_NO_FLOW,
				    gen, 0, 0, 0, S);
	}

	/* 2. later fragments: only behind an allowed first fragment */
	if (p->flags & ZW_PF_FRAG_LATER) {
		struct zw_frag_key fk;
		struct zw_frag *f;

		zw_frag_key__from_pkt(p, &fk);
		f = bpf_map_lookup_elem(&zw_frags, &fk);
		if (f && zw_frag__admits(f, now, gen)) {
			count(f->flow, p->l3_len, 0, 0, S);
			stat_inc(ZW_BPF_ST_FRAG_PASS);
			stat_inc(ZW_BPF_ST_PASS);
			return XDP_PASS;
		}
		return drop(ctx, p, ZW_DROP_FRAGMENT, ZW_BPF_NO_FLOW, gen, 0,
			    0, 0, S);
	}

	/* 3. ICMP errors: only about a live connection, back to its sender */
	if (p->flags & ZW_PF_ICMP_ERR) {
		if (!zw_pkt__error_to_sender(p))
			return drop(ctx, p, ZW_DROP_UNRELATED_ICMP,
				    ZW_BPF_NO_FLOW, gen, 0, 0, 0, S);
		zw_tuple__normalise(&p->inner, &key);
		e = conn_lookup(&key);
		if (!e || zw_conn__expired(&e->c, key.proto, now))
			return drop(ctx, p, ZW_DROP_UNRELATED_ICMP,
				    ZW_BPF_NO_FLOW, gen, 0, 0, 0, S);
		c = &e->c;
		if (c->generation != gen && !recheck(&key, c, gen, S)) {
			__u32 old = c->flow;

			emit_end(&key, e, ZW_END_FORCED, now);
			conn_delete(&key);
			return drop(ctx, p, ZW_DROP_FLOW_REMOVED, old, gen, 0,
				    0, 0, S);
		}
		count(c->flow, p->l3_len, 0, 0, S);
		stat_inc(ZW_BPF_ST_RELATED);
		stat_inc(ZW_BPF_ST_PASS);
		return XDP_PASS;
	}

	/* 4. packets of a known connection */
	swapped = zw_tuple__normalise(&p->t, &key);
	e = conn_lookup(&key);
	if (e && !zw_conn__expired(&e->c, key.proto, now)) {
		int reply;

		c = &e->c;
		if (c->generation != gen && !recheck(&key, c, gen, S)) {
			__u32 old = c->flow;
			__u16 zs = c->src_zone, zd = c->dst_zone;

			emit_end(&key, e, ZW_END_FORCED, now);
			conn_delete(&key);
			return drop(ctx, p, ZW_DROP_FLOW_REMOVED, old, gen, 1,
				    zs, zd, S);
		}
		reply = zw_conn__is_reply(c, swapped);
		if (zw_conn__track(c, p, reply, now) == ZW_CA_PASS) {
			/* the connection's own counters, in the entry we
			 * hold: no lookup (docs/performance.md) */
			e->packets[reply & 1] += 1;
			e->bytes[reply & 1] += p->l3_len;
			count(c->flow, p->l3_len, 0, 0, S);
			remember_fragment(p, c->flow, gen, now);
			stat_inc(ZW_BPF_ST_PASS);
			return XDP_PASS;
		}
		/* a SYN re-opening a closed connection: judged as new */
	}

	/* 5. a new connection */
	if (!zw_pkt__may_open(p))
		return drop(ctx, p, ZW_DROP_NOT_SYN, ZW_BPF_NO_FLOW, gen, 0, 0,
			    0, S);
	classify(&p->t, p->match_port, &v, S);
	if (!v.allow)
		return drop(ctx, p, v.reason, ZW_BPF_NO_FLOW, gen, 1,
			    v.src_zone, v.dst_zone, S);
	{
		int log = 0;

		if (v.flow != ZW_BPF_NO_FLOW) {
			__u32 fl = v.flow;
			struct zw_bpf_flowinfo *fi =
				bpf_map_lookup_elem(SM(zw_flowinfo, S), &fl);

			if (fi) {
				log = fi->flags & ZW_BPF_FLOW_LOG;
				if (fi->rate && !rate_ok(fi, &p->t, fl, now)) {
					count(fl, p->l3_len, 0, 1, S);
					return drop(ctx, p, ZW_DROP_RATE, fl,
						    gen, 1, v.src_zone,
						    v.dst_zone, S);
				}
			}
		}
		if (!log) {
			__u32 k0 = 0;
			struct zw_bpf_global *g =
				bpf_map_lookup_elem(&zw_global, &k0);

			log = g && g->log_all_new;
		}
		/* the entry remembers that its created record goes out, so
		 * that its ended and update records follow (ZW_CF_LOG) */
		{
			__u32 k0 = 0;

			ne = bpf_map_lookup_elem(&zw_scratch, &k0);
			if (!ne)
				return XDP_DROP;
		}
		zw_conn__init(&ne->c, p, swapped, now, v.flow, gen, v.src_zone,
			      v.dst_zone, log);
		ne->start_ns = now;
		ne->packets[0] = 1;
		ne->packets[1] = 0;
		ne->bytes[0] = p->l3_len;
		ne->bytes[1] = 0;
		/* a closed or expired connection of this tuple is replaced:
		 * its end is reported here, the sweep will not see it */
		if (e)
			emit_end(&key, e,
				 e->c.state == ZW_CS_TIME_WAIT ||
						 e->c.state == ZW_CS_CLOSE
					 ? ZW_END_CLOSED
					 : ZW_END_IDLE,
				 now);
		if (conn_update(&key, ne))
			return drop(ctx, p, ZW_DROP_TABLE_FULL, v.flow, gen, 1,
				    v.src_zone, v.dst_zone, S);
		count(v.flow, p->l3_len, 1, 0, S);
		remember_fragment(p, v.flow, gen, now);
		stat_inc(ZW_BPF_ST_NEW);
		stat_inc(ZW_BPF_ST_PASS);
		if (log)
			emit(ctx, p, ZW_EV_NEW, ZW_DROP_NONE, v.flow, gen,
			     v.src_zone, v.dst_zone, now);
	}
	return XDP_PASS;
}

/* Global for the same reason as zw_classify_S. */
__noinline int zw_judge_0(struct xdp_md *ctx, struct zw_pkt *p, __u32 gen);
__noinline int zw_judge_1(struct xdp_md *ctx, struct zw_pkt *p, __u32 gen);

__noinline int zw_judge_0(struct xdp_md *ctx, struct zw_pkt *p, __u32 gen)
{
	if (!ctx || !p)
		return XDP_DROP;
	return zw_judge(ctx, p, gen, 0);
}

__noinline int zw_judge_1(struct xdp_md *ctx, struct zw_pkt *p, __u32 gen)
{
	if (!ctx || !p)
		return XDP_DROP;
	return zw_judge(ctx, p, gen, 1);
}

/*
 * IPv6 link-local control (neighbour discovery, MLD) passes unjudged:
 * IPv6 does not work without it. But only while it stays on the link: a
 * neighbour solicitation or redirect (hop limit 255, any payload) sent to a
 * routed address is forwarded by the kernel like any other packet, into
 * any zone. 1 when the kernel will not forward @p: to a link-local or
 * link-scope multicast address, or the FIB says so (a local address, a
 * multicast route, forwarding off on the ingress device, a reject route).
 */
static __always_inline int stays_on_link(struct xdp_md *ctx,
					 const struct zw_pkt *p)
{
	struct bpf_fib_lookup fl = {};
	const __u8 *d = p->t.dst;
	long rc;

	if (d[0] == 0xfe && (d[1] & 0xc0) == 0x80)
		return 1;
	if (d[0] == 0xff && (d[1] & 0x0f) <= 2)
		return 1; /* interface- or link-local multicast */
	fl.family = 10; /* AF_INET6 */
	fl.l4_protocol = p->t.proto;
	fl.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(fl.ipv6_src, p->t.src, 16);
	__builtin_memcpy(fl.ipv6_dst, p->t.dst, 16);
	rc = bpf_fib_lookup(ctx, &fl, sizeof(fl), 0);
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED ||
	       rc == BPF_FIB_LKUP_RET_FWD_DISABLED ||
	       rc == BPF_FIB_LKUP_RET_BLACKHOLE ||
	       rc == BPF_FIB_LKUP_RET_UNREACHABLE ||
	       rc == BPF_FIB_LKUP_RET_PROHIBIT;
}

SEC("xdp")
int zw_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct zw_bpf_global *g;
	struct zw_pkt p;
	__u32 k0 = 0, gen;
	int cls;

	cls = zw_parse(data, data_end, &p);
	if (cls == ZW_PARSE_NOT_IP) {
		stat_inc(ZW_BPF_ST_NOT_IP);
		return XDP_PASS;
	}
	if (cls == ZW_PARSE_LINK_LOCAL) {
		if (stays_on_link(ctx, &p)) {
			stat_inc(ZW_BPF_ST_LINK_LOCAL);
			return XDP_PASS;
		}
		cls = ZW_PARSE_IP; /* routed: judged like any packet */
	}
	g = bpf_map_lookup_elem(&zw_global, &k0);
	if (!g)
		return XDP_DROP;
	/* THE read of the generation: the whole packet is judged by it */
	gen = *(volatile __u32 *)&g->generation;
	if (gen == 0) {
		stat_inc(ZW_DROP_NO_FLOW); /* no policy yet: fail closed */
		return XDP_DROP;
	}
	if (cls == ZW_PARSE_DROP) {
		if (gen & 1)
			return drop(ctx, &p, p.reason, ZW_BPF_NO_FLOW, gen, 0,
				    0, 0, 1);
		return drop(ctx, &p, p.reason, ZW_BPF_NO_FLOW, gen, 0, 0, 0,
			    0);
	}
	if (gen & 1)
		return zw_judge_1(ctx, &p, gen);
	return zw_judge_0(ctx, &p, gen);
}
