// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fast path: one run-to-completion loop per worker lcore. Per burst:
 * parse every frame with the shared core parser (its fast path for plain
 * TCP/UDP) and prefetch every connection key's bucket (ctab.h), look them
 * up, classify the candidates for a new connection
 * in bulk (rte_lpm/rte_lpm6 for zones, rte_acl for the zone-pair rules),
 * then decide packet by packet in arrival order (a SYN and its SYN-ACK may
 * share a burst). It never allocates, never logs and never blocks: it
 * counts.
 */
#include <string.h>

#include <rte_acl.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "acl_layout.h"
#include "rules.h"
#include "zw_conn.h"
#include "zw_parse.h"
#include "zwdpdk.h"

enum { V_NONE = 0, V_PASS, V_DROP };

/* Per-packet scratch of one burst. */
struct slot {
	int32_t pos;	  /* table position, <0 miss */
	uint8_t verdict;
	uint8_t reason;
	uint8_t cls;	  /* enum zw_parse_class */
	uint8_t swapped;  /* the packet's source is the key's b end */
	uint8_t kind;	  /* 0 connection key, 1 fragment key, 2 ICMP error */
	uint8_t cand;	  /* classified as a new connection */
	uint8_t emitted;  /* its drop record is out already (L7 cut) */
	uint8_t mir;	  /* a probe watches its connection: zones in j */
	struct zw_judge j;
};

union key {
	struct zw_key4 k4;
	struct zw_key6 k6;
};

static inline uint64_t worker_ns(const struct zw_worker *w, uint64_t tsc)
{
	return (uint64_t)(((unsigned __int128)(tsc - zw_eng.start_tsc) *
			   w->tsc_to_ns_mul) >> 20);
}

/* Normalised connection key of tuple @t; returns 1 if @t's source is the
 * key's b end. The order of the ends is the core's (zw_tuple__normalise,
 * the one the XDP program uses): only the packing into the table's compact
 * key (struct zw_key4 / zw_key6) is DPDK's own. */
static inline int conn_key(const struct zw_tuple *t, union key *k);

int zw_pipeline__conn_key(const struct zw_tuple *t, void *key)
{
	return conn_key(t, key);
}

static inline int conn_key(const struct zw_tuple *t, union key *k)
{
	struct zw_tuple n;
	int sw = zw_tuple__normalise(t, &n);

	if (n.family == 4) {
		memcpy(&k->k4.a, n.src, 4);
		memcpy(&k->k4.b, n.dst, 4);
		k->k4.pa = n.sport;
		k->k4.pb = n.dport;
		k->k4.proto = n.proto;
		k->k4.kind = 0;
		k->k4.pad = 0;
	} else {
		memcpy(k->k6.a, n.src, 16);
		memcpy(k->k6.b, n.dst, 16);
		k->k6.frag_id = 0;
		k->k6.pa = n.sport;
		k->k6.pb = n.dport;
		k->k6.proto = n.proto;
		k->k6.kind = 0;
		memset(k->k6.pad, 0, sizeof(k->k6.pad));
	}
	return sw;
}

/* Fragment key: the datagram (source, destination, id, protocol), in its
 * own direction. */
static inline void frag_key(const struct zw_pkt *p, union key *k)
{
	if (p->t.family == 4) {
		memcpy(&k->k4.a, p->t.src, 4);
		memcpy(&k->k4.b, p->t.dst, 4);
		k->k4.pa = (uint16_t)(p->frag_id >> 16);
		k->k4.pb = (uint16_t)p->frag_id;
		k->k4.proto = p->frag_proto;
		k->k4.kind = 1;
		k->k4.pad = 0;
	} else {
		memcpy(k->k6.a, p->t.src, 16);
		memcpy(k->k6.b, p->t.dst, 16);
		k->k6.frag_id = p->frag_id;
		k->k6.pa = k->k6.pb = 0;
		k->k6.proto = p->frag_proto;
		k->k6.kind = 1;
		memset(k->k6.pad, 0, sizeof(k->k6.pad));
	}
}

/* The initiator's tuple of a connection entry. */
static void init_tuple(uint8_t family, const void *key,
		       const struct zw_dconn *d, struct zw_tuple *t)
{
	int sw = !!(d->c.flags & ZW_CF_ORIG_SWAPPED);

	memset(t, 0, sizeof(*t));
	t->family = family;
	if (family == 4) {
		const struct zw_key4 *k = key;

		memcpy(t->src, sw ? &k->b : &k->a, 4);
		memcpy(t->dst, sw ? &k->a : &k->b, 4);
		t->sport = sw ? k->pb : k->pa;
		t->dport = sw ? k->pa : k->pb;
		t->proto = k->proto;
	} else {
		const struct zw_key6 *k = key;

		memcpy(t->src, sw ? k->b : k->a, 16);
		memcpy(t->dst, sw ? k->a : k->b, 16);
		t->sport = sw ? k->pb : k->pa;
		t->dport = sw ? k->pa : k->pb;
		t->proto = k->proto;
	}
}

void zw_worker__flush(struct zw_worker *w)
{
	unsigned n = w->n_rec, k;

	if (!n)
		return;
	/* one reservation of the shared ring per burst, not per record */
	k = rte_ring_mp_enqueue_burst_elem(zw_eng.events, w->rec, sizeof(w->rec[0]),
					   n, NULL);
	w->st.events_lost += n - k;
	w->n_rec = 0;
}

void zw_worker__emit(struct zw_worker *w, const struct zw_flow_record *r)
{
	if (w->n_rec == ZW_BURST)
		zw_worker__flush(w);
	w->rec[w->n_rec++] = *r;
}

static void emit_pkt(struct zw_worker *w, const struct zw_ctx *ctx,
		     const struct zw_pkt *p, uint8_t event, uint8_t reason,
		     uint32_t flow, uint16_t sz, uint16_t dz, uint64_t now)
{
	struct zw_flow_record r;

	memset(&r, 0, sizeof(r));
	r.ts_ns = now;
	r.flow = flow;
	r.generation = ctx->generation;
	r.src_zone = sz;
	r.dst_zone = dz;
	r.sport = p->t.sport;
	r.dport = p->t.dport;
	if ((p->t.proto == ZW_IPPROTO_ICMP || p->t.proto == ZW_IPPROTO_ICMPV6) &&
	    !(p->flags & ZW_PF_FRAG_LATER)) {
		/* flow_record.h: ICMP carries its identifier and type/code, not
		 * the key's ports (one of which is a request tag) */
		r.sport = zw_pkt__icmp_id(p);
		r.dport = (uint16_t)(p->icmp_type << 8 | p->icmp_code);
	}
	r.family = p->t.family;
	r.proto = p->t.proto;
	r.event = event;
	r.reason = reason;
	r.engine = 2;
	memcpy(r.src, p->t.src, 16);
	memcpy(r.dst, p->t.dst, 16);
	zw_worker__emit(w, &r);
}

/* Why a connection's END record is emitted: what removes it tells (conn.c
 * removes entries for every cause through zw_ctab__del). */
static uint8_t end_reason(const struct zw_dconn *d, const struct zw_ctx *ctx,
			  uint8_t proto, uint64_t now_ns)
{
	if (d->c.state == ZW_CS_CLOSE || d->c.state == ZW_CS_TIME_WAIT)
		return ZW_END_CLOSED;
	if (zw_conn__expired(&d->c, proto, now_ns))
		return ZW_END_IDLE;
	if (!ctx || d->c.generation != ctx->generation)
		return ZW_END_FORCED; /* cut by a policy change, unloaded */
	return ZW_END_EVICTED;	     /* early drop for a new connection */
}

void zw_worker__emit_conn(struct zw_worker *w, const struct zw_ctab *t_,
			  uint32_t pos, uint8_t event, uint64_t now_ns)
{
	const void *key = zw_ctab__key(t_, pos);
	const struct zw_dconn *d = zw_ctab__entry(t_, pos);
	uint8_t family = t_->family;
	const struct zw_ctx *ctx = __atomic_load_n(&zw_eng.ctx, __ATOMIC_ACQUIRE);
	struct zw_flow_record r;
	struct zw_tuple t;

	init_tuple(family, key, d, &t);
	memset(&r, 0, sizeof(r));
	r.ts_ns = now_ns;
	/* (no policy since an UNLOAD: ctx is NULL) */
	r.flow = ctx && d->c.generation == ctx->generation ? d->c.flow :
							     ZW_NO_FLOW;
	r.generation = d->c.generation;
	r.src_zone = d->c.src_zone;
	r.dst_zone = d->c.dst_zone;
	r.sport = t.sport;
	r.dport = t.dport;
	if (t.proto == ZW_IPPROTO_ICMP || t.proto == ZW_IPPROTO_ICMPV6) {
		/* the key holds the identifier and a request tag: keep the
		 * identifier, and the request type in dport as for NEW records */
		uint16_t id = t.sport >= ZW_ICMP_TAG ? t.dport : t.sport;
		uint16_t tag = t.sport >= ZW_ICMP_TAG ? t.sport : t.dport;

		r.sport = id;
		r.dport = tag >= ZW_ICMP_TAG ? (uint16_t)((tag & 0xff) << 8) : 0;
	}
	r.family = family;
	r.proto = t.proto;
	r.event = event;
	r.engine = 2;
	r.packets = d->packets;
	r.bytes = d->bytes;
	r.flags = ZW_REC_F_EXT;
	r.start_ns = t_->fold[pos].start_ns;
	r.rev_packets = t_->rev[pos].packets;
	r.rev_bytes = t_->rev[pos].bytes;
	r.end_reason = event == ZW_EV_UPDATE ? ZW_END_ACTIVE :
					       end_reason(d, ctx, t.proto, now_ns);
	memcpy(r.src, t.src, 16);
	memcpy(r.dst, t.dst, 16);
	zw_worker__emit(w, &r);
}

static inline struct zw_flow_ctr *ctr_of(struct zw_worker *w,
					 const struct zw_ctx *ctx,
					 uint32_t flow)
{
	return &ctx->ctr[(size_t)w->id * ctx->ctr_stride + flow];
}

/*
 * A policy swap happened since this connection was judged: ask the new
 * policy the question the old one answered (initiator's tuple, opening
 * port), as docs/dataplane-core.md says every engine does. Denied: the
 * connection is cut. Allowed: it lives on, counted under the flow that
 * allows it now. Returns 0 to keep, or the drop reason.
 */
static uint8_t recheck(struct zw_worker *w, const struct zw_ctx *ctx,
		       struct zw_ctab *t, int32_t pos, struct zw_dconn *d)
{
	struct zw_judge j;
	struct zw_tuple tu;

	/* what it counted so far goes to its flow's id in this generation,
	 * before it is counted under the flow that allows it now */
	zw_ctab__fold(t, w, ctx, (uint32_t)pos);
	init_tuple(t->family, zw_ctab__key(t, (uint32_t)pos), d, &tu);
	zw_ctx__judge(ctx, tu.family, tu.proto, tu.src, tu.dst,
		      d->c.match_port, &j);
	if (!j.allow)
		return j.reason == ZW_DROP_BLOCKED ? ZW_DROP_BLOCKED :
						     ZW_DROP_FLOW_REMOVED;
	d->c.flow = j.flow;
	d->c.generation = ctx->generation;
	d->c.src_zone = j.src_zone;
	d->c.dst_zone = j.dst_zone;
	d->flow_hash = j.flow != ZW_NO_FLOW ? ctx->flows[j.flow].id_hash : 0;
	if (j.flow != ZW_NO_FLOW && ctx->flows[j.flow].log)
		d->c.flags |= ZW_CF_LOG;
	else
		d->c.flags &= (uint8_t)~ZW_CF_LOG;
	if (ctx->mirror && zw_ctx__mirrors(ctx, j.src_zone, j.dst_zone, 1))
		d->c.flags |= ZW_CF_MIRROR;
	else
		d->c.flags &= (uint8_t)~ZW_CF_MIRROR;
	return 0;
}

static inline struct zw_ctab *tab(struct zw_worker *w, uint8_t family)
{
	return family == 4 ? &w->t4 : &w->t6;
}

/* Bulk classification of the new-connection candidates of one family. */
static void classify4(const struct zw_ctx *ctx, struct zw_pkt *p,
		      struct slot *s, const uint8_t *idx, unsigned n)
{
	struct zw_acl4_in in[ZW_BURST];
	const uint8_t *data[ZW_BURST];
	uint32_t res[ZW_BURST];
	uint8_t acl_idx[ZW_BURST];
	unsigned i, na = 0;

	for (i = 0; i < n; i++) {
		struct zw_pkt *pk = &p[idx[i]];
		struct slot *sl = &s[idx[i]];
		uint32_t nhs, nhd;

		if (rte_lpm_lookup(ctx->lpm4,
				   rte_be_to_cpu_32(*(uint32_t *)pk->t.src), &nhs))
			nhs = 0;
		if (rte_lpm_lookup(ctx->lpm4,
				   rte_be_to_cpu_32(*(uint32_t *)pk->t.dst), &nhd))
			nhd = 0;
		sl->j.src_zone = (uint16_t)nhs;
		sl->j.dst_zone = (uint16_t)nhd;
		sl->j.flow = ZW_NO_FLOW;
		if ((nhs | nhd) & ZW_NH_BLOCKED) {
			sl->j.reason = ZW_DROP_BLOCKED;
			continue;
		}
		in[na].proto = pk->t.proto;
		in[na].szone = rte_cpu_to_be_16(sl->j.src_zone);
		in[na].dzone = rte_cpu_to_be_16(sl->j.dst_zone);
		memcpy(&in[na].src, pk->t.src, 4);
		memcpy(&in[na].dst, pk->t.dst, 4);
		in[na].any = 0;
		in[na].dport = rte_cpu_to_be_16(pk->match_port);
		data[na] = &in[na].proto;
		acl_idx[na++] = idx[i];
	}
	if (!na)
		return;
	if (ctx->acl4)
		rte_acl_classify(ctx->acl4, data, res, na, 1);
	else
		memset(res, 0, na * sizeof(res[0]));
	for (i = 0; i < na; i++)
		zw_ctx__decide(ctx, res[i], &s[acl_idx[i]].j);
}

static void classify6(const struct zw_ctx *ctx, struct zw_pkt *p,
		      struct slot *s, const uint8_t *idx, unsigned n)
{
	struct zw_acl6_in in[ZW_BURST];
	const uint8_t *data[ZW_BURST];
	uint8_t ips[2 * ZW_BURST][RTE_LPM6_IPV6_ADDR_SIZE];
	int32_t nh[2 * ZW_BURST];
	uint32_t res[ZW_BURST];
	uint8_t acl_idx[ZW_BURST];
	unsigned i, na = 0;

	for (i = 0; i < n; i++) {
		memcpy(ips[2 * i], p[idx[i]].t.src, 16);
		memcpy(ips[2 * i + 1], p[idx[i]].t.dst, 16);
	}
	rte_lpm6_lookup_bulk_func(ctx->lpm6, ips, nh, 2 * n);
	for (i = 0; i < n; i++) {
		struct zw_pkt *pk = &p[idx[i]];
		struct slot *sl = &s[idx[i]];
		uint32_t nhs = nh[2 * i] < 0 ? 0 : (uint32_t)nh[2 * i];
		uint32_t nhd = nh[2 * i + 1] < 0 ? 0 : (uint32_t)nh[2 * i + 1];

		sl->j.src_zone = (uint16_t)nhs;
		sl->j.dst_zone = (uint16_t)nhd;
		sl->j.flow = ZW_NO_FLOW;
		if ((nhs | nhd) & ZW_NH_BLOCKED) {
			sl->j.reason = ZW_DROP_BLOCKED;
			continue;
		}
		in[na].proto = pk->t.proto;
		in[na].szone = rte_cpu_to_be_16(sl->j.src_zone);
		in[na].dzone = rte_cpu_to_be_16(sl->j.dst_zone);
		memcpy(in[na].src, pk->t.src, 16);
		memcpy(in[na].dst, pk->t.dst, 16);
		in[na].any = 0;
		in[na].dport = rte_cpu_to_be_16(pk->match_port);
		data[na] = &in[na].proto;
		acl_idx[na++] = idx[i];
	}
	if (!na)
		return;
	if (ctx->acl6)
		rte_acl_classify(ctx->acl6, data, res, na, 1);
	else
		memset(res, 0, na * sizeof(res[0]));
	for (i = 0; i < na; i++)
		zw_ctx__decide(ctx, res[i], &s[acl_idx[i]].j);
}

static inline int blocked(const struct zw_ctx *ctx, const struct zw_tuple *t)
{
	uint32_t a = 0, b = 0;

	if (t->family == 4) {
		if (rte_lpm_lookup(ctx->lpm4, rte_be_to_cpu_32(*(const uint32_t *)t->src), &a))
			a = 0;
		if (rte_lpm_lookup(ctx->lpm4, rte_be_to_cpu_32(*(const uint32_t *)t->dst), &b))
			b = 0;
	} else {
		if (rte_lpm6_lookup(ctx->lpm6, t->src, &a))
			a = 0;
		if (rte_lpm6_lookup(ctx->lpm6, t->dst, &b))
			b = 0;
	}
	return !!((a | b) & ZW_NH_BLOCKED);
}

/* Remember an allowed first fragment so its datagram's later fragments
 * pass. */
static void frag_note(struct zw_worker *w, const struct zw_ctx *ctx,
		      const struct zw_pkt *p, uint32_t flow, uint32_t fhash,
		      uint16_t sz, uint16_t dz, uint64_t now)
{
	struct zw_ctab *t = tab(w, p->t.family);
	struct zw_dconn *d;
	union key k;
	int32_t pos;

	frag_key(p, &k);
	pos = zw_ctab__lookup(t, &k, zw_ctab__hash(t, &k));
	if (pos < 0) {
		pos = zw_ctab__add(t, w, ctx, &k, now);
		if (pos < 0)
			return; /* later fragments will be dropped: counted */
		zw_ctab__embryo(t, pos);
	}
	/* zw_frag semantics (core): first_ns, flow, generation. */
	d = zw_ctab__entry(t, (uint32_t)pos);
	d->kind = 1;
	d->flow_hash = fhash;
	d->c.flow = flow;
	d->c.generation = ctx->generation;
	d->c.last_ns = now;
	d->c.state = ZW_CS_NONE;
	/* its later fragments are mirrored as it was */
	d->c.src_zone = sz;
	d->c.dst_zone = dz;
	if (ctx->mirror && zw_ctx__mirrors(ctx, sz, dz, 1))
		d->c.flags |= ZW_CF_MIRROR;
	else
		d->c.flags &= (uint8_t)~ZW_CF_MIRROR;
}

int zw_worker__rate_init(struct zw_worker *w, int socket)
{
	struct rte_hash_parameters p = {
		.entries = ZW_RATE_ENTRIES,
		.key_len = sizeof(struct zw_rate_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
	};
	char name[32];

	snprintf(name, sizeof(name), "zwrate_%u_%p", w->id, (void *)w);
	p.name = name;
	w->rate = rte_hash_create(&p);
	w->rate_tat = rte_zmalloc_socket("zw_rate",
					 (ZW_RATE_ENTRIES + 1) * sizeof(uint64_t),
					 RTE_CACHE_LINE_SIZE, socket);
	if (!w->rate || !w->rate_tat) {
		zw_worker__rate_fini(w);
		return -ENOMEM;
	}
	return 0;
}

void zw_worker__rate_fini(struct zw_worker *w)
{
	rte_hash_free(w->rate);
	rte_free(w->rate_tat);
	w->rate = NULL;
	w->rate_tat = NULL;
}

/*
 * GCRA per (flow, source), as the XDP engine: 1 if this new connection
 * is within the flow's rate. The table is per worker; when it is full it
 * starts afresh (a coarse LRU: every source gets its burst again).
 */
static int rate_ok(struct zw_worker *w, const struct zw_ctx_flow *fi,
		   const struct zw_tuple *t, uint32_t flow, uint64_t now)
{
	struct zw_rate_key k;
	int32_t pos;
	uint64_t tat;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, t->src, 16);
	k.flow = flow;
	k.family = t->family;
	pos = rte_hash_lookup(w->rate, &k);
	if (pos < 0) {
		pos = rte_hash_add_key(w->rate, &k);
		if (pos == -ENOSPC) {
			rte_hash_reset(w->rate);
			pos = rte_hash_add_key(w->rate, &k);
		}
		if (pos >= 0)
			w->rate_tat[pos] = now + fi->interval_ns;
		return 1;
	}
	tat = w->rate_tat[pos] > now ? w->rate_tat[pos] : now;
	if (tat - now > fi->tolerance_ns)
		return 0;
	w->rate_tat[pos] = tat + fi->interval_ns;
	return 1;
}

/* Open a connection for an allowed new packet. Returns 0 or a drop
 * reason. */
static uint8_t open_conn(struct zw_worker *w, const struct zw_ctx *ctx,
			 const struct zw_pkt *p, const union key *k,
			 const struct slot *sl, uint32_t len, uint64_t now,
			 const struct rte_mbuf *m, int *cut)
{
	struct zw_ctab *t = tab(w, p->t.family);
	const struct zw_judge *j = &sl->j;
	struct zw_dconn *d;
	uint32_t l7slot = 0;
	int32_t pos;
	int l7 = 0;

	*cut = 0;
	if (unlikely(ctx->l7)) {
		/* an inspected flow: its inspector first (fail closed) */
		uint8_t r = zw_l7__begin(w, ctx, j, p,
					 rte_pktmbuf_mtod(m, const uint8_t *),
					 rte_pktmbuf_data_len(m), &l7slot, &l7);

		if (r)
			return r;
	}
	pos = zw_ctab__add(t, w, ctx, k, now);
	if (pos < 0) {
		if (l7)
			zw_l7__end(w, l7slot);
		return ZW_DROP_TABLE_FULL;
	}
	d = zw_ctab__entry(t, (uint32_t)pos);
	zw_conn__init(&d->c, p, sl->swapped, now, j->flow, ctx->generation,
		      j->src_zone, j->dst_zone,
		      j->flow != ZW_NO_FLOW && ctx->flows[j->flow].log);
	if (j->flow != ZW_NO_FLOW)
		d->flow_hash = ctx->flows[j->flow].id_hash;
	if (d->c.flags & ZW_CF_LOG)
		t->rev[pos] = (struct zw_crev){ 0 };
	if (unlikely(ctx->mirror) &&
	    zw_ctx__mirrors(ctx, j->src_zone, j->dst_zone, 1))
		d->c.flags |= ZW_CF_MIRROR;
	d->packets = 1;
	d->bytes = len;
	zw_ctab__embryo(t, pos);
	if (l7) {
		d->c.flags |= ZW_CF_L7;
		t->l7[pos] = l7slot;
		/* the opening packet: a SYN's sequence, a datagram's bytes */
		return zw_l7__packet(w, t, (uint32_t)pos, d, p,
				     rte_pktmbuf_mtod(m, const uint8_t *),
				     rte_pktmbuf_data_len(m), 0, cut);
	}
	return 0;
}

/*
 * A packet of a connection under L7 inspection that does not pass: held
 * (@r ZW_L7_HELD: dropped unjudged, its sender sends it again) or of a
 * cut connection (l7-mismatch, file-type: counted in its flow's drops;
 * the packet that cut it emits its denied record, whatever the sampling).
 */
static void l7_drop(struct zw_worker *w, const struct zw_ctx *ctx,
		    struct slot *sl, const struct zw_dconn *d,
		    const struct zw_pkt *pk, uint8_t r, int cut, uint64_t now)
{
	uint32_t flow = zw_dconn__flow_in(d, ctx);

	sl->verdict = V_DROP;
	sl->reason = r == ZW_L7_HELD ? 0 : r;
	if (r == ZW_L7_HELD)
		return;
	if (flow != ZW_NO_FLOW)
		ctr_of(w, ctx, flow)->drops++;
	sl->cand = 1;
	sl->j.flow = flow;
	sl->j.src_zone = d->c.src_zone;
	sl->j.dst_zone = d->c.dst_zone;
	if (cut) {
		emit_pkt(w, ctx, pk, ZW_EV_DROP, r, flow, d->c.src_zone,
			 d->c.dst_zone, now);
		/* what the cut saw (zw_l7__packet): the protocol or file type */
		w->rec[w->n_rec - 1].l7_seen = w->l7_seen;
		w->l7_seen = 0;
		sl->emitted = 1;
	}
}

/*
 * Mirroring to probes (docs/dpdk-engine.md "Probes"), once a packet's
 * verdict is known: an allowed packet goes to every probe of its zones, a
 * denied one to those with `traffic: all`, each port once. The zones are
 * those the pipeline found: the connection's (sl->mir), the new-connection
 * classification's (sl->cand); only a denied packet that was never
 * classified (no connection, fragment, unrelated ICMP, block list, cut by
 * a policy change) has them looked up here, and only when a probe wants
 * denied packets. The copy is the mbuf itself, one more reference
 * (unmodified, no allocation), queued for the burst's end.
 */
static inline void mirror_zones(const struct zw_ctx *ctx,
				const struct zw_tuple *t, uint16_t *sz,
				uint16_t *dz)
{
	uint32_t a = 0, b = 0;

	if (t->family == 4) {
		if (rte_lpm_lookup(ctx->lpm4, rte_be_to_cpu_32(*(const uint32_t *)t->src), &a))
			a = 0;
		if (rte_lpm_lookup(ctx->lpm4, rte_be_to_cpu_32(*(const uint32_t *)t->dst), &b))
			b = 0;
	} else {
		if (rte_lpm6_lookup(ctx->lpm6, t->src, &a))
			a = 0;
		if (rte_lpm6_lookup(ctx->lpm6, t->dst, &b))
			b = 0;
	}
	*sz = (uint16_t)(a & ZW_NH_ZONE_MASK);
	*dz = (uint16_t)(b & ZW_NH_ZONE_MASK);
}

static void mirror_note(struct zw_worker *w, const struct zw_ctx *ctx,
			const struct slot *sl, const struct zw_pkt *pk,
			struct rte_mbuf *m)
{
	int pass = sl->verdict == V_PASS;
	uint16_t sz, dz;
	uint32_t ports;

	if (sl->mir || sl->cand) {
		sz = sl->j.src_zone;
		dz = sl->j.dst_zone;
	} else if (!pass && ctx->mirror_deny && sl->cls == ZW_PARSE_IP) {
		mirror_zones(ctx, &pk->t, &sz, &dz);
	} else {
		return; /* non-IP, or allowed by no connection of a probe */
	}
	ports = zw_ctx__mirrors(ctx, sz, dz, pass);
	while (ports) {
		unsigned port = (unsigned)__builtin_ctz(ports);

		ports &= ports - 1;
		rte_mbuf_refcnt_update(m, 1);
		w->mq[port][w->nmq[port]++] = m;
		w->mq_used |= 1u << port;
	}
}

/* Send the burst's copies; what a full port does not take is freed and
 * counted (mirror drops): never waits. */
static void mirror_flush(struct zw_worker *w)
{
	uint32_t used = w->mq_used;

	while (used) {
		unsigned port = (unsigned)__builtin_ctz(used);
		uint16_t n = w->nmq[port], sent;

		used &= used - 1;
		sent = rte_eth_tx_burst((uint16_t)port, w->queue, w->mq[port], n);
		w->st.mirrored += sent;
		if (unlikely(sent < n)) {
			w->st.mirror_drops += n - sent;
			rte_pktmbuf_free_bulk(w->mq[port] + sent, n - sent);
		}
		w->nmq[port] = 0;
	}
	w->mq_used = 0;
}

uint16_t zw_pipeline__burst(struct zw_worker *w, const struct zw_ctx *ctx,
			    struct rte_mbuf **pkts, uint16_t n,
			    struct rte_mbuf **out, uint64_t now)
{
	struct zw_pkt p[ZW_BURST];
	struct slot s[ZW_BURST];
	union key k[ZW_BURST];
	uint32_t h[ZW_BURST];
	uint8_t c4[ZW_BURST], c6[ZW_BURST];
	struct rte_mbuf *drop[ZW_BURST];
	unsigned nc4 = 0, nc6 = 0, nd = 0, i, inserted = 0;
	uint64_t evicted0 = w->st.evicted;
	uint32_t moved0 = w->t4.moved + w->t6.moved;
	int dirty = 0, block = ctx->img->n_block != 0;
	uint16_t nout = 0;

	/* 1. parse, keys */
	for (i = 0; i < n && i < 4; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		const uint8_t *data = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		struct slot *sl = &s[i];

		if (i + 4 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
		sl->pos = -1;
		sl->verdict = V_NONE;
		sl->cand = 0;
		sl->emitted = 0;
		sl->mir = 0;
		sl->kind = 0;
		sl->swapped = 0;
		sl->cls = (uint8_t)zw_parse__fast(data,
						  data + rte_pktmbuf_data_len(pkts[i]),
						  &p[i]);
		if (sl->cls == ZW_PARSE_DROP) {
			sl->verdict = V_DROP;
			sl->reason = p[i].reason;
			continue;
		}
		if (sl->cls != ZW_PARSE_IP) {
			sl->verdict = V_PASS;
			w->st.passed_nonip++;
			continue;
		}
		/* Crisis block list: denied first, whatever the packet (only
		 * while a block list is in force: one LPM lookup per end). */
		if (unlikely(block) && blocked(ctx, &p[i].t)) {
			sl->verdict = V_DROP;
			sl->reason = ZW_DROP_BLOCKED;
			continue;
		}
		if (p[i].flags & ZW_PF_FRAG_LATER) {
			sl->kind = 1;
			frag_key(&p[i], &k[i]);
		} else if (p[i].flags & ZW_PF_ICMP_ERR) {
			if (!zw_pkt__error_to_sender(&p[i])) {
				sl->verdict = V_DROP;
				sl->reason = ZW_DROP_UNRELATED_ICMP;
				continue;
			}
			sl->kind = 2;
			conn_key(&p[i].inner, &k[i]);
		} else {
			sl->swapped = (uint8_t)conn_key(&p[i].t, &k[i]);
		}
		h[i] = zw_ctab__hash(tab(w, p[i].t.family), &k[i]);
		sl->cand = 2; /* looked up below */
	}

	/* 2. every bucket prefetched at once, then the lookups: with a
	 * million connections each is a miss (and, on 4 KiB pages, a page
	 * walk), overlapped with the others; issued inside the parse loop
	 * they stall it (measured) */
	for (i = 0; i < n; i++)
		if (s[i].cand == 2)
			zw_ctab__prefetch(tab(w, p[i].t.family), h[i]);
	for (i = 0; i < n; i++) {
		struct slot *sl = &s[i];

		if (sl->cand != 2)
			continue;
		sl->cand = 0;
		sl->pos = zw_ctab__lookup(tab(w, p[i].t.family), &k[i], h[i]);
		/* a logged connection counts its replies beside the table */
		if (sl->pos >= 0 &&
		    unlikely(zw_ctab__entry(tab(w, p[i].t.family),
					    (uint32_t)sl->pos)->c.flags &
			     ZW_CF_LOG))
			rte_prefetch0(&tab(w, p[i].t.family)->rev[sl->pos]);
	}

	/* 3. bulk classification of what may open a connection */
	for (i = 0; i < n; i++) {
		struct slot *sl = &s[i];

		if (sl->verdict != V_NONE || sl->pos >= 0 || sl->kind)
			continue;
		if (!zw_pkt__may_open(&p[i]))
			continue; /* only a SYN opens; may be a reply below */
		sl->cand = 1;
		memset(&sl->j, 0, sizeof(sl->j));
		if (p[i].t.family == 4)
			c4[nc4++] = (uint8_t)i;
		else
			c6[nc6++] = (uint8_t)i;
	}
	if (nc4)
		classify4(ctx, p, s, c4, nc4);
	if (nc6)
		classify6(ctx, p, s, c6, nc6);

	/* 4. decide, in arrival order */
	for (i = 0; i < n; i++) {
		struct slot *sl = &s[i];
		struct zw_pkt *pk = &p[i];
		struct zw_ctab *t;
		struct zw_dconn *d;
		uint32_t len = pk->l3_len; /* IP bytes, as every engine counts */

		if (sl->verdict != V_NONE)
			goto done;
		t = tab(w, pk->t.family);
		/* Entries created earlier in this burst (SYN then SYN-ACK),
		 * or removed (cut, evicted, reopened) or moved: look again. */
		if (unlikely(dirty || w->st.evicted != evicted0 ||
			     w->t4.moved + w->t6.moved != moved0))
			sl->pos = zw_ctab__lookup(t, &k[i], h[i]);
		else if (sl->pos < 0 && inserted)
			sl->pos = zw_ctab__lookup(t, &k[i], h[i]);
		if (sl->pos < 0)
			goto miss;
		d = zw_ctab__entry(t, (uint32_t)sl->pos);
		if (sl->kind == 1) {
			/* Later fragment: its first fragment passed under this
			 * very policy, less than ZW_TO_FRAG ago. */
			struct zw_frag f = {
				.first_ns = d->c.last_ns,
				.flow = d->c.flow,
				.generation = d->c.generation,
			};

			if (!d->kind || !zw_frag__admits(&f, now, ctx->generation))
				goto miss;
			if (d->c.flow != ZW_NO_FLOW) {
				struct zw_flow_ctr *c = ctr_of(w, ctx, d->c.flow);

				c->packets++;
				c->bytes += len;
			}
			sl->verdict = V_PASS;
			goto pass;
		}
		if (unlikely(d->kind)) /* cannot happen: kind is in the key */
			goto miss;
		if (unlikely(zw_conn__expired(&d->c, pk->t.family == 4 ?
							     k[i].k4.proto :
							     k[i].k6.proto,
					      now))) {
			/* Idle past its timeout: no connection any more,
			 * whether or not the expiry scan has reached it. */
			zw_ctab__del(t, w, ctx, sl->pos, now);
			w->st.expired++;
			dirty = 1;
			sl->pos = -1;
			goto miss;
		}
		if (unlikely(d->c.generation != ctx->generation)) {
			uint8_t r = recheck(w, ctx, t, sl->pos, d);

			if (r) {
				/* Counted by reason (FLOW_REMOVED/BLOCKED), not
				 * per flow: backend.h's flow drops are packets
				 * of a flow in force (rate limit). */
				zw_ctab__del(t, w, ctx, sl->pos, now);
				dirty = 1;
				sl->verdict = V_DROP;
				sl->reason = r;
				goto done;
			}
		}
		if (sl->kind == 0 &&
		    zw_conn__track(&d->c, pk, zw_conn__is_reply(&d->c, sl->swapped),
				   now) == ZW_CA_REOPEN) {
			/* A new connection on the same tuple: judge it anew. */
			zw_ctab__del(t, w, ctx, sl->pos, now);
			dirty = 1;
			sl->pos = -1;
			zw_ctx__judge(ctx, pk->t.family, pk->t.proto, pk->t.src,
				      pk->t.dst, pk->match_port, &sl->j);
			sl->cand = 1;
			goto miss;
		}
		if (unlikely(d->c.flags & (ZW_CF_L7 | ZW_CF_L7_CUT))) {
			/* under inspection, or cut by it */
			int cut;
			uint8_t r = zw_l7__packet(
				w, t, (uint32_t)sl->pos, d, pk,
				rte_pktmbuf_mtod(pkts[i], const uint8_t *),
				rte_pktmbuf_data_len(pkts[i]),
				zw_conn__is_reply(&d->c, sl->swapped), &cut);

			if (r) {
				l7_drop(w, ctx, sl, d, pk, r, cut, now);
				goto done;
			}
		}
		/* counted in the entry only: folded into the flow's
		 * counters by the expiry scan and at its end (ctab.h) */
		d->packets++;
		d->bytes += len;
		if (unlikely(d->c.flags & ZW_CF_LOG) && sl->kind == 0) {
			/* branch-free: the direction is a coin toss */
			uint64_t rp = (uint64_t)zw_conn__is_reply(&d->c,
								  sl->swapped);

			t->rev[sl->pos].packets += rp;
			t->rev[sl->pos].bytes += len & -rp;
		}
		if ((pk->flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER)) == ZW_PF_FRAG) {
			frag_note(w, ctx, pk, d->c.flow, d->flow_hash,
				  d->c.src_zone, d->c.dst_zone, now);
			inserted++;
		}
		sl->verdict = V_PASS;
pass:
		/* established (or a later fragment): the one flag test of
		 * mirroring on the fast path */
		if (unlikely(d->c.flags & ZW_CF_MIRROR)) {
			sl->mir = 1;
			sl->j.src_zone = d->c.src_zone;
			sl->j.dst_zone = d->c.dst_zone;
		}
		goto done;
miss:
		if (sl->kind == 0 && !sl->cand && zw_pkt__may_open(pk)) {
			/* Its entry was there at the bulk lookup but went away
			 * (cut, evicted earlier in this burst, or expired): a
			 * packet of no connection, judged now (slow path). */
			zw_ctx__judge(ctx, pk->t.family, pk->t.proto, pk->t.src,
				      pk->t.dst, pk->match_port, &sl->j);
			sl->cand = 1;
		}
		if (sl->kind == 1) {
			sl->verdict = V_DROP;
			sl->reason = ZW_DROP_FRAGMENT;
		} else if (sl->kind == 2) {
			sl->verdict = V_DROP;
			sl->reason = ZW_DROP_UNRELATED_ICMP;
		} else if (!sl->cand) {
			sl->verdict = V_DROP;
			sl->reason = ZW_DROP_NOT_SYN;
		} else if (!sl->j.allow) {
			sl->verdict = V_DROP;
			sl->reason = sl->j.reason;
		} else if (sl->j.flow != ZW_NO_FLOW &&
			   unlikely(ctx->flows[sl->j.flow].rate) &&
			   !rate_ok(w, &ctx->flows[sl->j.flow], &pk->t,
				    sl->j.flow, now)) {
			ctr_of(w, ctx, sl->j.flow)->drops++;
			sl->verdict = V_DROP;
			sl->reason = ZW_DROP_RATE;
		} else {
			int cut;
			uint8_t r = open_conn(w, ctx, pk, &k[i], sl, len, now,
					      pkts[i], &cut);

			if (unlikely(cut)) {
				/* opened and cut by its first datagram */
				sl->pos = zw_ctab__lookup(t, &k[i], h[i]);
				inserted++;
				if (sl->j.flow != ZW_NO_FLOW)
					ctr_of(w, ctx, sl->j.flow)->new_conns++;
				l7_drop(w, ctx, sl,
					zw_ctab__entry(t, (uint32_t)sl->pos),
					pk, r, cut, now);
				goto done;
			}
			if (r == ZW_L7_HELD) {
				sl->verdict = V_DROP;
				sl->reason = 0;
				inserted++;
				goto done;
			}
			if (r) {
				sl->verdict = V_DROP;
				sl->reason = r;
				goto done;
			}
			inserted++;
			sl->verdict = V_PASS;
			if (sl->j.flow != ZW_NO_FLOW) {
				/* its packet counts in the entry */
				ctr_of(w, ctx, sl->j.flow)->new_conns++;
				if (ctx->flows[sl->j.flow].log)
					emit_pkt(w, ctx, pk, ZW_EV_NEW, 0,
						 sl->j.flow, sl->j.src_zone,
						 sl->j.dst_zone, now);
			}
			if (pk->flags & ZW_PF_FRAG) {
				frag_note(w, ctx, pk, sl->j.flow,
					  sl->j.flow == ZW_NO_FLOW ? 0 :
					  ctx->flows[sl->j.flow].id_hash,
					  sl->j.src_zone, sl->j.dst_zone, now);
			}
		}
done:
		if (unlikely(ctx->mirror))
			mirror_note(w, ctx, sl, pk, pkts[i]);
		if (sl->verdict == V_PASS) {
			out[nout++] = pkts[i];
		} else {
			w->st.drops[sl->reason < ZW_DROP__COUNT ? sl->reason : 0]++;
			/* Drop records are sampled (ZW_DROP_EVENTS_PER_MS per
			 * worker): a flood must not turn into a telemetry
			 * flood; the per-reason counters stay exact. */
			if (sl->cls == ZW_PARSE_IP && sl->reason &&
			    !sl->emitted && w->drop_budget &&
			    w->drop_budget--)
				emit_pkt(w, ctx, pk, ZW_EV_DROP, sl->reason,
					 sl->cand ? sl->j.flow : ZW_NO_FLOW,
					 sl->cand ? sl->j.src_zone : 0,
					 sl->cand ? sl->j.dst_zone : 0, now);
			drop[nd++] = pkts[i];
		}
	}
	if (nd)
		rte_pktmbuf_free_bulk(drop, nd);
	if (unlikely(w->mq_used))
		mirror_flush(w);
	zw_worker__flush(w);
	return nout;
}

uint16_t zw_pipeline__closed(struct zw_worker *w, struct rte_mbuf **pkts,
			     uint16_t n, struct rte_mbuf **out)
{
	struct rte_mbuf *drop[ZW_BURST];
	uint16_t nout = 0, nd = 0, i;

	for (i = 0; i < n; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		struct zw_pkt p;
		int cls = zw_parse(d, d + rte_pktmbuf_data_len(pkts[i]), &p);

		if (cls == ZW_PARSE_NOT_IP || cls == ZW_PARSE_LINK_LOCAL) {
			w->st.passed_nonip++;
			out[nout++] = pkts[i];
			continue;
		}
		w->st.drops[cls == ZW_PARSE_DROP ? p.reason : ZW_DROP_NO_FLOW]++;
		drop[nd++] = pkts[i];
	}
	if (nd)
		rte_pktmbuf_free_bulk(drop, nd);
	return nout;
}

void zw_worker__housekeep(struct zw_worker *w, uint64_t now_ns)
{
	w->drop_budget = ZW_DROP_EVENTS_PER_MS;
	uint32_t b4 = RTE_MAX(64u, w->t4.nslots >> 10);
	uint32_t b6 = RTE_MAX(64u, w->t6.nslots >> 10);

	w->st.expired += zw_ctab__expire(&w->t4, w, now_ns, b4);
	w->st.expired += zw_ctab__expire(&w->t6, w, now_ns, b6);
	zw_worker__flush(w);
}

int zw_worker__main(void *arg)
{
	struct zw_worker *w = arg;
	struct rte_mbuf *rx[ZW_BURST], *tx[ZW_BURST];
	uint64_t tick = rte_get_tsc_hz() / 1000, next = 0;
	uint16_t k;

	w->tsc_to_ns_mul = (uint64_t)((1000000000ull << 20) / rte_get_tsc_hz());
	rte_rcu_qsbr_thread_online(zw_eng.qs, w->id);
	while (!zw_eng.quit) {
		uint64_t tsc = rte_rdtsc(), now = worker_ns(w, tsc);

		for (k = 0; k < w->n_pairs; k++) {
			const struct zw_port_pair *pp = &w->pairs[k];
			const struct zw_ctx *ctx;
			uint16_t nb, nout, sent;

			nb = rte_eth_rx_burst(pp->in, w->queue, rx, ZW_BURST);
			if (!nb)
				continue;
			w->st.rx += nb;
			w->st.bursts++;
			/* One context per burst: a burst is judged by one
			 * policy, never a mix. */
			ctx = __atomic_load_n(&zw_eng.ctx, __ATOMIC_ACQUIRE);
			if (likely(ctx != NULL))
				nout = zw_pipeline__burst(w, ctx, rx, nb, tx, now);
			else
				nout = zw_pipeline__closed(w, rx, nb, tx);
			if (nout) {
				sent = rte_eth_tx_burst(pp->out, w->queue, tx,
							nout);
				w->st.tx += sent;
				if (unlikely(sent < nout)) {
					w->st.tx_fail += nout - sent;
					rte_pktmbuf_free_bulk(tx + sent,
							      nout - sent);
				}
			}
			__atomic_store_n(&w->st.done, w->st.done + nb,
					 __ATOMIC_RELEASE);
		}
		/* Housekeeping reads the context too (END records): it runs
		 * before the quiescent report, never after. */
		if (unlikely(tsc >= next)) {
			zw_worker__housekeep(w, now);
			next = tsc + tick;
		}
		rte_rcu_qsbr_quiescent(zw_eng.qs, w->id);
	}
	rte_rcu_qsbr_thread_offline(zw_eng.qs, w->id);
	return 0;
}
