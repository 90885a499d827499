/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-worker connection table of zonewall-dpdk (one per worker and
 * family), built for the fast path: an established packet touches one
 * cache line (IPv4) or two adjacent ones (IPv6), prefetched while the rest
 * of the burst is parsed.
 *
 * Why not a DPDK library: rte_hash keeps its keys and its data apart from
 * its buckets (bucket line, then key line, then our entry: three or four
 * dependent misses per packet at a million connections, measured at
 * 50-60 ns); rte_table_hash_key16/32 (librte_table) keep key and data in
 * the bucket but have no delete by position, no iteration (expiry scan,
 * early drop of embryonic entries) and evict on a full bucket, which a
 * firewall must not do to an established connection. VPP's bihash is the
 * model (key and value inline, bucket prefetch a burst ahead); it is not a
 * library we can link.
 *
 * Layout: buckets of ZW_CT_WAYS entries; an entry is the key followed by
 * struct zw_dconn (the core's connection, its packet and byte counts, the
 * flow id hash), 64 bytes for IPv4, 128 for IPv6, cache-line aligned. A key
 * lives in its primary bucket (CRC hash) or, when that one is full, in its
 * secondary one; slot 0 of every bucket counts the entries that spilled
 * out of it ("spill"), so a miss reads the secondary bucket only when
 * something spilled. When both buckets of a new key are full, one of
 * their entries moves to its other bucket (one cuckoo step, counted in
 * `moved`: a position found before an add is then stale); else an
 * embryonic entry of the two buckets is dropped early; else the add
 * fails. Otherwise a position (bucket * ZW_CT_WAYS + way) is stable for the
 * life of the connection.
 *
 * Concurrency: one writer, the worker that owns the table. The control
 * thread only reads (zw_ctab__pending, for exact counters): an entry is
 * published by setting `used` last, and counters are folded snapshot
 * first, flow total second, so a concurrent read may miss in-flight
 * packets but never counts one twice.
 *
 * Counters: a packet of a connection counts in its entry only. The
 * difference between the entry and its fold snapshot (a cold array beside
 * the table) is added to the per-flow counters (struct zw_flow_ctr) when
 * the entry is visited by the expiry scan, re-judged after a policy swap
 * or removed; a flow's exact total is its folded counters plus the
 * unfolded part of its live connections (zw_ctab__pending).
 */
#ifndef ZW_DPDK_CTAB_H
#define ZW_DPDK_CTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <zonewall/backend.h>
#include <zonewall/packet.h>
#include <zonewall/policy.h>

#define ZW_CT_WAYS 4

/* Normalised keys: (a, b) is the (address, port) pair in sorted order. */
struct zw_key4 {
	uint32_t a, b; /* network order */
	uint16_t pa, pb;
	uint8_t proto;
	uint8_t kind; /* 0 connection, 1 fragment (pa:pb = IP id) */
	uint16_t pad;
};
_Static_assert(sizeof(struct zw_key4) == 16, "key4");

struct zw_key6 {
	uint8_t a[16], b[16];
	uint32_t frag_id;
	uint16_t pa, pb;
	uint8_t proto;
	uint8_t kind;
	uint8_t pad[6];
};
_Static_assert(sizeof(struct zw_key6) == 48, "key6");

/* What an entry holds beside its key: the core's connection (dataplane/
 * core, packet.h) plus what the DPDK engine adds. Fragment entries (kind 1)
 * reuse it: flow and generation of the datagram's first fragment. */
struct zw_dconn {
	struct zw_conn c;
	uint64_t packets;   /* of the connection, both ways (IP bytes): its */
	uint64_t bytes;	    /* ZW_EV_END record carries them */
	uint32_t flow_hash; /* zw_dpdk__flow_hash of its flow, 0 same zone */
	uint16_t spill;	    /* slot 0 only: entries of this primary bucket
			     * stored in their secondary one (saturates) */
	uint8_t used;
	uint8_t kind;	    /* 0 connection, 1 fragment */
};
_Static_assert(sizeof(struct zw_dconn) == 48, "dconn");

struct zw_cent4 {
	struct zw_key4 k;
	struct zw_dconn d;
} __rte_aligned(64);
_Static_assert(sizeof(struct zw_cent4) == 64, "cent4: one line");

struct zw_cent6 {
	struct zw_key6 k;
	struct zw_dconn d;
	uint8_t pad[32];
} __rte_aligned(64);
_Static_assert(sizeof(struct zw_cent6) == 128, "cent6: two lines");

/* Packets and bytes of an entry already added to its flow's counters;
 * and what the flow records of a connection of a logged flow (ZW_CF_LOG)
 * need beyond the entry: its start and its last ZW_EV_UPDATE. Cold: beside
 * the table, not in the entry's line. */
struct zw_cfold {
	uint64_t packets, bytes;
	uint64_t start_ns, report_ns;
};

/* The responder's packets and bytes of a connection of a logged flow,
 * counted on the fast path (prefetched with the lookup): 16 bytes per
 * position, four to a line, beside the table (no room in the entry). */
struct zw_crev {
	uint64_t packets, bytes;
};

struct zw_ctab {
	uint8_t *ent;		/* nslots entries of esz bytes */
	struct zw_cfold *fold;	/* [position] */
	uint32_t *l7;		/* [position] L7 slot of an entry under
				 * inspection (ZW_CF_L7, l7.c) */
	struct zw_crev *rev;	/* [position] */
	uint32_t esz;		/* 64 (IPv4) or 128 (IPv6) */
	uint32_t bmask;		/* buckets - 1 */
	uint32_t nslots;	/* buckets * ZW_CT_WAYS */
	uint32_t cap;		/* most live entries */
	uint32_t count;		/* live entries */
	uint32_t *embryo;	/* FIFO of positions of embryonic entries */
	uint32_t emb_head, emb_tail, emb_cap;
	uint32_t scan;		/* next position the expiry scan looks at */
	uint32_t moved;		/* entries moved to make room (positions
				 * found before an add may be stale) */
	uint8_t family;
	struct zw_ctab *next;	/* every table of the process (counters) */
};

struct zw_worker;
struct zw_ctx;

/* A table for at most @cap live entries of @family (4 or 6) on NUMA
 * @socket; @name is for the allocator's statistics only. Its slots are
 * about 1.25-2.5x @cap (a power of two), so that a full table still has
 * free slots in almost every bucket pair. Returns 0 or -ENOMEM (the table
 * is then empty and zw_ctab__fini-safe). */
int zw_ctab__init(struct zw_ctab *t, const char *name, uint8_t family,
		  uint32_t cap, int socket);
/* Free a table (safe on a zeroed or half-built one). */
void zw_ctab__fini(struct zw_ctab *t);

/* The hash of @key (struct zw_key4 or zw_key6 by the table's family). */
static inline uint32_t zw_ctab__hash(const struct zw_ctab *t, const void *key)
{
	const uint64_t *k = key;
	uint32_t h = rte_hash_crc_8byte(k[0], 0x9747b28c);

	h = rte_hash_crc_8byte(k[1], h);
	if (t->family == 6) {
		h = rte_hash_crc_8byte(k[2], h);
		h = rte_hash_crc_8byte(k[3], h);
		h = rte_hash_crc_8byte(k[4], h);
		h = rte_hash_crc_8byte(k[5], h);
	}
	return h;
}

static inline uint32_t zw_ctab__b1(const struct zw_ctab *t, uint32_t h)
{
	return h & t->bmask;
}

static inline uint32_t zw_ctab__b2(const struct zw_ctab *t, uint32_t h)
{
	uint32_t b1 = h & t->bmask;
	uint32_t b2 = rte_hash_crc_4byte(h, 0x5bd1e995) & t->bmask;

	return b2 != b1 ? b2 : b1 ^ 1;
}

static inline void *zw_ctab__slot(const struct zw_ctab *t, uint32_t pos)
{
	return t->ent + (size_t)pos * t->esz;
}

/* The entry at position @pos (a live one: from lookup or add). */
static inline struct zw_dconn *zw_ctab__entry(const struct zw_ctab *t,
					      uint32_t pos)
{
	uint8_t *e = zw_ctab__slot(t, pos);

	return t->family == 4 ? &((struct zw_cent4 *)e)->d :
				&((struct zw_cent6 *)e)->d;
}

/* The key of the entry at @pos. */
static inline const void *zw_ctab__key(const struct zw_ctab *t, uint32_t pos)
{
	return zw_ctab__slot(t, pos);
}

/* Prefetch the first slot of the primary bucket of hash @h, where an
 * established packet's entry most likely is. One line only: the CPU's
 * adjacent-line prefetcher brings its 128-byte pair (slot 1 of IPv4, the
 * second half of an IPv6 entry), and a second explicit prefetch per packet
 * fills the miss queue (measured: the burst then stalls on it). */
static inline void zw_ctab__prefetch(const struct zw_ctab *t, uint32_t h)
{
	rte_prefetch0(zw_ctab__slot(t, zw_ctab__b1(t, h) * ZW_CT_WAYS));
}

static inline bool zw_ctab__key_eq(const struct zw_ctab *t, const void *a,
				   const void *b)
{
	const uint64_t *x = a, *y = b;
	uint64_t d = (x[0] ^ y[0]) | (x[1] ^ y[1]);

	if (t->family == 6)
		d |= (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		     (x[5] ^ y[5]);
	return d == 0;
}

static __rte_always_inline int32_t zw_ctab__find_in(const struct zw_ctab *t,
				       uint32_t bucket, const void *key)
{
	uint32_t pos = bucket * ZW_CT_WAYS, w;

	for (w = 0; w < ZW_CT_WAYS; w++, pos++) {
		const uint8_t *e = zw_ctab__slot(t, pos);

		if (zw_ctab__entry(t, pos)->used && zw_ctab__key_eq(t, e, key))
			return (int32_t)pos;
	}
	return -1;
}

/* The position of @key (hash @h), or -1. */
static __rte_always_inline int32_t zw_ctab__lookup(const struct zw_ctab *t,
				      const void *key, uint32_t h)
{
	uint32_t b1 = zw_ctab__b1(t, h);
	int32_t pos = zw_ctab__find_in(t, b1, key);

	if (pos >= 0 || !zw_ctab__entry(t, b1 * ZW_CT_WAYS)->spill)
		return pos;
	return zw_ctab__find_in(t, zw_ctab__b2(t, h), key);
}

/* Insert @key (absent); on a full table evict the oldest embryonic entry
 * (counted in w->st.evicted, its counters folded into @ctx). May move one
 * other entry (t->moved). Returns the position or -ENOSPC. The new entry
 * is zeroed but for `used` (state FREE). */
int32_t zw_ctab__add(struct zw_ctab *t, struct zw_worker *w,
		     const struct zw_ctx *ctx, const void *key, uint64_t now_ns);
/* Remove the entry at @pos, whatever ends it (expiry, cut by a policy
 * change, reopening, early drop): its counters are folded into @ctx (may
 * be NULL: no policy) and a connection of a logged flow emits its
 * ZW_EV_END record here, so every end is reported once. */
void zw_ctab__del(struct zw_ctab *t, struct zw_worker *w,
		  const struct zw_ctx *ctx, int32_t pos, uint64_t now_ns);
/* Remember @pos as embryonic (candidate for early drop). */
void zw_ctab__embryo(struct zw_ctab *t, int32_t pos);
/* Add what the entry at @pos counted since its last fold to its flow's
 * counters in @ctx (worker @w's slice). */
void zw_ctab__fold(struct zw_ctab *t, struct zw_worker *w,
		   const struct zw_ctx *ctx, uint32_t pos);
/* Expire up to @budget positions idle past their timeout, folding the
 * counters of those that stay (into @ctx). Returns the number removed. */
uint32_t zw_ctab__expire_ctx(struct zw_ctab *t, struct zw_worker *w,
			     const struct zw_ctx *ctx, uint64_t now_ns,
			     uint32_t budget);
/* The same with the engine's context in force (zw_eng.ctx). */
uint32_t zw_ctab__expire(struct zw_ctab *t, struct zw_worker *w,
			 uint64_t now_ns, uint32_t budget);

/* The flow of @ctx an entry's counters belong to: its own flow when it
 * was judged by @ctx's generation, else the flow with the same id (by id
 * hash) in @ctx, else ZW_NO_FLOW. */
uint32_t zw_dconn__flow_in(const struct zw_dconn *d, const struct zw_ctx *ctx);

/* Add to @out[flow] (flows of @ctx; @only: that flow only, @out its
 * counters; else ZW_NO_FLOW and @out has ctx->n_flows elements) what the
 * live connections of every table of this process have not folded yet.
 * Takes the table registry's lock; reads the tables without stopping their
 * workers. */
void zw_ctab__pending(const struct zw_ctx *ctx, uint32_t only,
		      struct zw_flow_counters *out);

/* Idle timeout of an entry, ns (the core's ZW_TO_* values). */
uint64_t zw_dconn__timeout(const struct zw_dconn *d, uint8_t proto);
/* Entries that early drop may evict. */
bool zw_dconn__embryonic(const struct zw_dconn *d);

#endif /* ZW_DPDK_CTAB_H */
