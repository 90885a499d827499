/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall-dpdk internals: the policy context (what one image compiles
 * to), the per-lcore connection table, the worker pipeline and the control
 * server. See docs/dpdk-engine.md.
 */
#ifndef ZW_DPDK_H
#define ZW_DPDK_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include <zonewall/backend.h>
#include <zonewall/flow_record.h>
#include <zonewall/packet.h>
#include <zonewall/policy.h>

#include "ctab.h"

#define ZW_MAX_WORKERS 64
#define ZW_MAX_PORTS 32
#define ZW_BURST 32
/* Drop records emitted per worker and millisecond at most (the drop
 * counters are exact; the records are a sample under floods). */
#define ZW_DROP_EVENTS_PER_MS 64

struct rte_lpm;
struct rte_lpm6;
struct rte_acl_ctx;
struct rte_hash;
struct rte_ring;
struct rte_rcu_qsbr;

/* ---- policy context: immutable once published ---- */

struct zw_ctx_flow {
	uint32_t id_hash; /* zw_dpdk__flow_hash(image id_hash) */
	uint16_t from, to;
	uint8_t log;	  /* emit ZW_EV_NEW records */
	uint8_t live;
	uint32_t rate;	  /* new connections per second per source, 0 none */
	uint64_t interval_ns;  /* GCRA: 1e9 / rate */
	uint64_t tolerance_ns; /* GCRA burst tolerance: (rate - 1) * interval */
};

/* Per-flow counters of one worker (written by that worker only). */
struct zw_flow_ctr {
	uint64_t packets;
	uint64_t bytes;
	uint64_t new_conns;
	uint64_t drops; /* packets of this flow dropped (rate limit) */
};

struct zw_ctx {
	uint32_t generation;
	int32_t day;
	struct zw_image *img; /* owned */
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6;
	struct rte_acl_ctx *acl4; /* NULL when no IPv4 rule */
	struct rte_acl_ctx *acl6;
	uint32_t n_flows;
	uint32_t n_zones;
	struct zw_ctx_flow *flows;
	uint32_t *rule_flow;	/* image rule index -> flow index */
	uint8_t *zone_isolate;	/* per zone */
	uint32_t n_workers;
	struct zw_flow_ctr *ctr; /* [worker * ctr_stride + flow] */
	uint32_t ctr_stride;
	struct zw_flow_counters *base; /* totals carried from older
					* generations, by flow id */
	uint32_t n_acl4, n_acl6, n_lpm; /* entries programmed */
	uint32_t *fh_slot; /* open addressing: flow id hash -> flow index */
	uint32_t fh_mask;
	/* L7 inspection (l7.c): set when a connection of this policy may
	 * need it (a live rule of an `inspect:` service, or a crisis
	 * block-file measure); rule_l7[image rule] is the protocol index
	 * + 1 of the rule's service, 0 none */
	uint8_t l7;
	uint8_t *rule_l7;
	uint64_t active_ns; /* ZW_EV_UPDATE of a logged connection this
			     * often (zw_eng.rec.active_timeout_s) */
	/* Mirroring to probes (docs/dpdk-engine.md "Probes"): per zone, the
	 * mirror ports (bit = port id, < ZW_MAX_PORTS) whose probes watch it:
	 * mir_any every probe (allowed packets), mir_deny the probes with
	 * `traffic: all` (denied packets too). mirror: the image has probes;
	 * mirror_deny: one of them wants denied packets. */
	uint8_t mirror, mirror_deny;
	uint32_t *mir_any, *mir_deny; /* [n_zones + 1] */
};

/* The mirror ports of an allowed (@pass) or denied packet between zones
 * @sz and @dz. */
static inline uint32_t zw_ctx__mirrors(const struct zw_ctx *ctx, uint16_t sz,
				       uint16_t dz, int pass)
{
	const uint32_t *m = pass ? ctx->mir_any : ctx->mir_deny;

	return m[sz] | m[dz];
}

/* Flow index of the flow (live or not) whose id hashes to @h, or
 * ZW_NO_FLOW. */
static inline uint32_t zw_ctx__flow_by_hash(const struct zw_ctx *ctx,
					    uint32_t h)
{
	uint32_t i = h & ctx->fh_mask;

	for (;; i = (i + 1) & ctx->fh_mask) {
		uint32_t f = ctx->fh_slot[i];

		if (f == ZW_NO_FLOW || ctx->flows[f].id_hash == h)
			return f;
	}
}

/* Build a context for @img (ownership of @img passes to the context on
 * success) on day @day, with the record settings in force (zw_eng.rec:
 * log_all logs every flow). Returns NULL with a reason in @err. */
struct zw_ctx *zw_ctx__new(struct zw_image *img, int32_t day,
			   uint32_t generation, uint32_t n_workers, char *err,
			   size_t err_len);
/* NULL-safe. */
void zw_ctx__free(struct zw_ctx *ctx);
/* Sum of a flow's counters over workers and older generations, plus what
 * its live connections counted and have not folded yet (exact once the
 * workers are idle; a read under traffic may miss packets in flight). */
void zw_ctx__flow_total(const struct zw_ctx *ctx, uint32_t flow,
			struct zw_flow_counters *out);
/* zw_ctx__flow_total of every flow into @out[ctx->n_flows], in one pass
 * over the connection tables. */
void zw_ctx__totals(const struct zw_ctx *ctx, struct zw_flow_counters *out);
/* Carry @old's folded totals into @new->base by flow id (call once @old
 * is quiescent; what live connections have not folded yet is folded into
 * the new context later, by flow id hash). */
void zw_ctx__carry(struct zw_ctx *new_ctx, const struct zw_ctx *old);

/* ---- a new-connection verdict ---- */

struct zw_judge {
	uint8_t allow;
	uint8_t reason; /* enum zw_drop_reason when !allow */
	uint16_t src_zone, dst_zone;
	uint8_t l7p;	/* protocol index + 1 its service must carry, 0 none */
	uint8_t pad;
	uint32_t flow;	/* ZW_NO_FLOW for same-zone */
};

/* The verdict once @j's zones are known and not blocked: rte_acl's result
 * @res (0: no rule, else the rule's userdata), then the same-zone rule.
 * The one place the fast path (bulk) and zw_ctx__judge decide. */
static inline void zw_ctx__decide(const struct zw_ctx *ctx, uint32_t res,
				  struct zw_judge *j)
{
	if (res) {
		j->allow = 1;
		j->flow = ctx->rule_flow[res - 1];
		if (ctx->rule_l7)
			j->l7p = ctx->rule_l7[res - 1];
	} else if (j->src_zone == j->dst_zone && j->src_zone) {
		if (ctx->zone_isolate[j->src_zone])
			j->reason = ZW_DROP_ISOLATED;
		else
			j->allow = 1;
	} else {
		j->reason = ZW_DROP_NO_FLOW;
	}
}

/* Judge one new connection (slow path: re-checks, ICMP, tests). */
void zw_ctx__judge(const struct zw_ctx *ctx, uint8_t family, uint8_t proto,
		   const uint8_t *src, const uint8_t *dst, uint16_t port,
		   struct zw_judge *j);

/* ---- connection table (one per worker and family): ctab.h ---- */

struct zw_worker;

/* Per-worker GCRA state of rate-limited flows, by (flow, source). */
struct zw_rate_key {
	uint8_t addr[16];
	uint32_t flow;
	uint8_t family;
	uint8_t pad[11];
};
_Static_assert(sizeof(struct zw_rate_key) == 32, "rate key");

#define ZW_RATE_ENTRIES 65536

/* ---- workers ---- */

struct zw_port_pair {
	uint16_t in, out;
};

struct zw_worker_stats {
	uint64_t rx, tx, tx_fail, passed_nonip;
	uint64_t done; /* packets fully judged (rx counts them first) */
	uint64_t bursts; /* non-empty rx bursts */
	uint64_t drops[ZW_DROP__COUNT];
	uint64_t evicted, expired, events_lost;
	uint64_t conns; /* live entries, both families */
	/* L7 inspection (l7.c) */
	uint64_t l7_judged;    /* connections judged conformant */
	uint64_t l7_cut;       /* connections cut (l7-mismatch, file-type) */
	uint64_t l7_pool_full; /* new inspected connections refused */
	uint64_t l7_held;      /* segments dropped before being fed (out of
				* order, before the handshake: sent again) */
	/* mirroring to probes */
	uint64_t mirrored;     /* copies sent to mirror ports */
	uint64_t mirror_drops; /* copies a full mirror port did not take */
} __rte_cache_aligned;

struct zw_worker {
	uint32_t id;	  /* 0..n_workers-1, RCU thread id */
	uint32_t lcore;
	uint16_t queue;	  /* rx/tx queue on every port */
	uint16_t n_pairs; /* directed: in -> out */
	struct zw_port_pair pairs[ZW_MAX_PORTS];
	struct zw_ctab t4, t6;
	struct rte_hash *rate;	/* struct zw_rate_key -> rate_tat[pos] */
	uint64_t *rate_tat;	/* theoretical arrival time, ns */
	struct zw_worker_stats st;
	uint64_t next_expire;
	uint64_t tsc_to_ns_mul; /* ns = tsc * mul >> 20 */
	uint32_t drop_budget;	/* drop records left in this millisecond */
	/* records staged for one enqueue per burst (zw_worker__flush) */
	uint32_t n_rec;
	uint8_t l7_seen; /* the last L7 cut's, for its record (l7.c) */
	struct zw_flow_record rec[ZW_BURST];
	/* copies to mirror ports of the burst being judged, sent at its end
	 * (a packet goes at most once to a port: ZW_BURST each) */
	uint32_t mq_used; /* bit = port id */
	uint16_t nmq[ZW_MAX_PORTS];
	struct rte_mbuf *mq[ZW_MAX_PORTS][ZW_BURST];
} __rte_cache_aligned;

struct zw_engine {
	struct zw_ctx *volatile ctx; /* published with one store */
	struct rte_rcu_qsbr *qs;
	struct rte_ring *events;     /* struct zw_flow_record, MP/SC */
	/* Flow-record settings (zonewalld's PREPARE), applied to every
	 * context built from then on (zw_ctx__new). */
	struct zw_record_conf rec;
	uint32_t n_workers;
	struct zw_worker *workers[ZW_MAX_WORKERS];
	uint16_t n_ports;
	uint16_t ports[ZW_MAX_PORTS];
	uint16_t peer[ZW_MAX_PORTS]; /* by port id, UINT16_MAX none (a
				      * mirror port: sent to, never read) */
	/* mirror ports (--mirror-port): also in ports[], without a peer */
	uint16_t n_mirrors;
	struct zw_mirror_port {
		uint16_t port;
		char alias[16]; /* a probe interface name mapped to it, or "" */
	} mirrors[ZW_MAX_PORTS];
	uint32_t generation;
	volatile int quit;
	int main_is_worker;
	uint32_t ports_started;
	struct rte_mempool *mp;
	uint64_t hz;
	uint64_t start_tsc;
};

/* Engine set-up: zw_eng.ports/n_ports/peer are filled by the caller. */
struct zw_engine_cfg {
	uint32_t conns; /* connection table size per worker and family */
	uint16_t rxd, txd;
	uint32_t mbufs;	/* 0: computed */
	uint32_t events; /* telemetry ring size, power of 2 (0: 16384) */
	int32_t day;
};

/* Mempool, ports (RSS, queues), RCU, tables and the first context from
 * @img (owned by the engine on success; NULL: no policy until the first
 * LOAD, fail closed). Returns 0 or -errno (-EINVAL: the
 * policy cannot be built) with a reason in @err. */
int zw_engine__init(const struct zw_engine_cfg *cfg, struct zw_image *img,
		    char *err, size_t err_len);
/* Start the workers on their lcores (not the main lcore). */
void zw_engine__launch(void);
/* Ask the workers to stop and wait for them. */
void zw_engine__stop(void);
/* The symmetric Toeplitz key the ports are given (0x6d5a repeated). */
void zw_engine__rss_key(uint8_t *key, size_t len);
/* Free everything, stop and close the ports. */
void zw_engine__fini(void);

extern struct zw_engine zw_eng;

/* Judge and forward one burst: @pkts came in on @in, allowed ones are
 * moved to @out[] (returns how many), denied ones freed and counted. The
 * context is read once, so one burst is judged by one policy. */
uint16_t zw_pipeline__burst(struct zw_worker *w, const struct zw_ctx *ctx,
			    struct rte_mbuf **pkts, uint16_t n,
			    struct rte_mbuf **out, uint64_t now);
/* No policy loaded yet (started without --policy): fail closed, every IP
 * packet is dropped (NO_FLOW); ARP and IPv6 link-local control pass. */
uint16_t zw_pipeline__closed(struct zw_worker *w, struct rte_mbuf **pkts,
			     uint16_t n, struct rte_mbuf **out);
/* The connection-table key of @t (struct zw_key4 or zw_key6, by family)
 * into @key; returns 1 if @t's source is the key's b end. (Benchmarks.) */
int zw_pipeline__conn_key(const struct zw_tuple *t, void *key);
/* The rate table of a worker (flows with `rate`). 0 or -ENOMEM. */
int zw_worker__rate_init(struct zw_worker *w, int socket);
void zw_worker__rate_fini(struct zw_worker *w);
/* The worker loop (rte_eal_remote_launch). */
int zw_worker__main(void *arg);
/* Periodic housekeeping of a worker (expiry). */
void zw_worker__housekeep(struct zw_worker *w, uint64_t now_ns);
/* Emit a telemetry record: staged in the worker, enqueued with the others
 * of its burst by zw_worker__flush (never blocks; what a full ring refuses
 * is counted in events_lost). */
void zw_worker__emit(struct zw_worker *w, const struct zw_flow_record *r);
/* Enqueue the staged records (the end of every burst and housekeeping). */
void zw_worker__flush(struct zw_worker *w);
/* Emit the ZW_EV_END (entry being removed) or ZW_EV_UPDATE (active
 * timeout) record of the connection at @pos of @t: both directions'
 * counts, its start, flags ZW_REC_F_EXT. */
void zw_worker__emit_conn(struct zw_worker *w, const struct zw_ctab *t,
			  uint32_t pos, uint8_t event, uint64_t now_ns);

/* ---- L7 inspection (l7.c, docs/l7.md) ---- */

/* zw_conn.flags bits of the DPDK engine (the core uses bits 0-3) */
#define ZW_CF_L7 (1u << 4)	/* under inspection: ctab.l7[pos] is its slot */
#define ZW_CF_L7_CUT (1u << 5)	/* cut: every later packet dropped */
#define ZW_CF_L7_FILE (1u << 6) /* cut for a file type (else l7-mismatch) */
#define ZW_CF_MIRROR (1u << 7)	/* a probe watches one of its zones (set at
				 * open and recheck, by zw_ctx__mirrors) */

#define ZW_L7_CONNS_DEFAULT 1024
/* zw_l7__packet: a segment dropped without judging (sent again later) */
#define ZW_L7_HELD 0xffu

struct zw_l7_opts {
	bool off;	/* --no-l7: inspect: not enforced, block-file refused */
	uint32_t conns; /* connections under inspection per worker at once */
};
/* Set before the first context is built. */
extern struct zw_l7_opts zw_l7_opts;

/* At context build: what the image asks of L7 (ctx->l7, ctx->rule_l7),
 * the Hyperscan database and the per-worker pools (made once, at the
 * first policy that needs them, and handed on to every later context:
 * the patterns do not depend on the image). -EOPNOTSUPP with the flows
 * named in @err when the image asks what this engine cannot enforce. */
int zw_ctx__l7_build(struct zw_ctx *ctx, char *err, size_t err_len);
/* A new connection allowed by @j (packet @p, frame @f of @flen bytes):
 * if it must be inspected, take a slot of worker @w's pool into *@slot
 * and set *@on. Returns 0, or a drop reason: TABLE_FULL when the pool is
 * exhausted (fail closed), L7_MISMATCH for a SYN carrying data. */
uint8_t zw_l7__begin(struct zw_worker *w, const struct zw_ctx *ctx,
		     const struct zw_judge *j, const struct zw_pkt *p,
		     const uint8_t *f, uint32_t flen, uint32_t *slot, int *on);
/* Give back a slot (its entry is gone, or was never made). */
void zw_l7__end(struct zw_worker *w, uint32_t slot);
/* A packet of an entry with ZW_CF_L7 or ZW_CF_L7_CUT. Returns 0 to pass,
 * ZW_L7_HELD to drop it unjudged, or the drop reason (L7_MISMATCH,
 * FILE_TYPE) of a cut connection; *@cut is set when this packet cut it. */
uint8_t zw_l7__packet(struct zw_worker *w, struct zw_ctab *t, uint32_t pos,
		      struct zw_dconn *d, const struct zw_pkt *p,
		      const uint8_t *f, uint32_t flen, int reply, int *cut);
/* Slots of worker @w's pool in use, its size (0: no pool yet). */
unsigned zw_l7__used(uint32_t worker);
unsigned zw_l7__size(uint32_t worker);
/* Free the database and the pools (engine fini, tests). */
void zw_l7__fini(void);

/* ---- control ---- */

/* Swap in a new image (copied) for @day: build, publish, wait for every
 * worker to be quiescent, free the old context. Returns 0 or -errno with
 * a reason in @err. Not for the fast path. */
int zw_engine__load(const void *bytes, size_t len, int32_t day, char *err,
		    size_t err_len);
/* The two phases of a load (include/zonewall/backend.h). prepare: verify
 * the image and build its context (LPM, ACL, flows) without publishing it;
 * one at a time (a new prepare replaces the older). commit: publish the
 * prepared context whose image has SHA-256 @sha256_hex, through the RCU
 * grace period; -ESTALE when it is not the one prepared or the engine
 * changed since. abort: drop the prepared context. load = both. */
int zw_engine__prepare(const void *bytes, size_t len, int32_t day,
		       char sha256_hex[65], char *err, size_t err_len);
int zw_engine__commit(const char *sha256_hex, char *err, size_t err_len);
void zw_engine__abort(void);
/* Back to no policy (fail closed: every IP packet dropped), through the
 * same RCU grace period. */
void zw_engine__unload(void);
/* Serve the control socket until zw_eng.quit; runs in a control thread. */
int zw_ctl_server__start(const char *path);
void zw_ctl_server__stop(void);
/* Print statistics to @f. */
void zw_engine__print_stats(FILE *f);

#endif /* ZW_DPDK_H */
