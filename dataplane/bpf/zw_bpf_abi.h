/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The BPF ABI of the XDP engine: every map key and value, and the
 * constants both sides agree on, in ONE header included by the BPF program
 * (zonewall.bpf.c) and by its loader (xdp_*.c). Fixed-size fields, explicit
 * padding, sizes asserted. Documented in docs/xdp-engine.md; a change here
 * is a change of the pinned maps' layout: bump ZW_BPF_ABI_VERSION.
 *
 * Connection keys and values, fragment keys and values come from the
 * dataplane core (<zonewall/packet.h>), shared with the DPDK engine.
 */
#ifndef ZONEWALL_BPF_ABI_H
#define ZONEWALL_BPF_ABI_H

#include <linux/types.h>

#include <zonewall/flow_record.h>
#include <zonewall/packet.h>

/* Layout version of the pinned maps; stored in zw_global and checked by
 * the loader before it reuses a pinned instance. */
#define ZW_BPF_ABI_VERSION 3

/* ---- capacities (per policy slot where it applies) ---- */
#define ZW_BPF_MAX_ZONES 4096	      /* zones per image, incl. outside */
#define ZW_BPF_MAX_FLOWS 16384	      /* flows per image */
#define ZW_BPF_MAX_PREFIXES 65536     /* zone prefixes per family */
#define ZW_BPF_MAX_NARROW 65536	      /* narrowing prefixes per family */
#define ZW_BPF_MAX_BLOCK 16384	      /* crisis block prefixes per family */
#define ZW_BPF_MAX_PORT_KEYS 262144   /* exact-port and range-list keys */
#define ZW_BPF_MAX_RANGES 262144      /* port intervals in range lists */
#define ZW_BPF_MAX_CANDS 524288	      /* candidate rules */
#define ZW_BPF_DEF_CONNS 262144	      /* default connection table size */
#define ZW_BPF_MAX_FRAGS 16384	      /* fragment table */
#define ZW_BPF_MAX_RATE 65536	      /* rate-limit buckets */
#define ZW_BPF_RINGBUF (1u << 20)     /* event ring buffer, bytes */

/* ---- verifier bounds ---- */
/* Candidates examined for one (zone pair, protocol, port): the rules whose
 * src/dst narrowing must be tested in flow order, up to and including the
 * first rule without narrowing. The loader refuses an image that needs
 * more (docs/xdp-engine.md, "limits"). */
#define ZW_BPF_CAND_SCAN 32
/* Binary-search steps over one range list: 2^18 intervals per
 * (zone pair, protocol). */
#define ZW_BPF_RANGE_STEPS 18

/* Counter index of traffic admitted without a flow (same zone). */
#define ZW_BPF_FLOW_NONE ZW_BPF_MAX_FLOWS
#define ZW_BPF_NO_FLOW 0xffffffffu

/* IPv4 connection key: the normalised struct zw_tuple of an IPv4 packet
 * without its 24 zero bytes (hashing 16 bytes instead of 40 is measurably
 * cheaper on the per-packet path). IPv6 connections use struct zw_tuple. */
struct zw_bpf_ckey4 {
	__u8 src[4];
	__u8 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct zw_bpf_ckey4) == 16, "ckey4 size");

/*
 * Value of the connection tables (zw_conns4, zw_conns6): the dataplane
 * core's connection, and what the engine's flow records need at its end
 * (docs/telemetry.md): when it started, and packets and bytes per
 * direction (index 0: initiator to responder, 1: the replies; IP bytes).
 * The program adds to them in the entry it already holds for the verdict
 * (no lookup of their own); user space only reads them (the sweep,
 * xdp_records.c). In the XDP engine, ZW_CF_LOG in c.flags means "a
 * created record was emitted for it": its ended and update records follow.
 */
struct zw_bpf_conn {
	struct zw_conn c;
	__u64 start_ns;	  /* engine clock at the opening packet */
	__u64 packets[2]; /* [0] initiator's, [1] responder's */
	__u64 bytes[2];
};
_Static_assert(sizeof(struct zw_bpf_conn) == 64, "bpf conn size");

/* ---- LPM trie keys ---- */
struct zw_bpf_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct zw_bpf_lpm4) == 8, "lpm4 size");

struct zw_bpf_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct zw_bpf_lpm6) == 20, "lpm6 size");

/* Narrowing sets: one trie per family holding every set; the set index is
 * part of the prefix (prefixlen = 32 + address prefix length), so a lookup
 * with prefixlen 32 + 32 (or 128) answers "is addr in set". The set index
 * is stored big-endian so its 32 bits are the first the trie compares. */
struct zw_bpf_set4 {
	__u32 prefixlen;
	__be32 set;
	__u8 addr[4];
};
_Static_assert(sizeof(struct zw_bpf_set4) == 12, "set4 size");

struct zw_bpf_set6 {
	__u32 prefixlen;
	__be32 set;
	__u8 addr[16];
};
_Static_assert(sizeof(struct zw_bpf_set6) == 24, "set6 size");

/* Value of the zone tries. */
struct zw_bpf_zone_val {
	__u32 zone;
};
_Static_assert(sizeof(struct zw_bpf_zone_val) == 4, "zone val size");

/* zoneinfo[zone] */
#define ZW_BPF_ZONE_ISOLATE 1u
#define ZW_BPF_ZONE_DECLARED 2u /* a declared zone (not outside) */
struct zw_bpf_zoneinfo {
	__u32 flags;
};
_Static_assert(sizeof(struct zw_bpf_zoneinfo) == 4, "zoneinfo size");

/* flowinfo[flow] */
#define ZW_BPF_FLOW_LOG 1u
struct zw_bpf_flowinfo {
	__u32 flags;
	__u32 rate;	    /* new connections per second per source, 0 = none */
	__u64 interval_ns;  /* 1e9 / rate */
	__u64 tolerance_ns; /* burst tolerance: (rate - 1) * interval */
	__u64 id_hash;	    /* FNV-1a of the flow id: lets the loader carry
			     * counters over to the next image */
};
_Static_assert(sizeof(struct zw_bpf_flowinfo) == 32, "flowinfo size");

/*
 * Rule lookup. For each (from zone, to zone, protocol) the loader cuts the
 * port space (ICMP: type space; protocols without ports: port 0) into
 * elementary intervals on the rules' boundaries and computes, per
 * interval, the ordered candidate list: the rules covering it in flow
 * order, without duplicates of a (src set, dst set) pair already listed,
 * ending at the first rule without narrowing. Single-port intervals get an
 * exact key (kind ZW_BPF_PK_PORT); the others are listed, sorted, in
 * `ranges` under one key of kind ZW_BPF_PK_RANGES. A lookup tries the exact
 * key, then binary-searches the range list.
 */
#define ZW_BPF_PK_PORT 0
#define ZW_BPF_PK_RANGES 1
struct zw_bpf_port_key {
	__u16 from;
	__u16 to;
	__u8 proto;
	__u8 kind; /* ZW_BPF_PK_* */
	__u16 port; /* ZW_BPF_PK_PORT: the port; RANGES: 0 */
};
_Static_assert(sizeof(struct zw_bpf_port_key) == 8, "port key size");

/* PORT: candidates [first, first + count); RANGES: ranges [first, +count) */
struct zw_bpf_span {
	__u32 first;
	__u32 count;
};
_Static_assert(sizeof(struct zw_bpf_span) == 8, "span size");

struct zw_bpf_range {
	__u16 lo;
	__u16 hi;
	__u32 first; /* candidates */
	__u32 count;
};
_Static_assert(sizeof(struct zw_bpf_range) == 12, "range size");

struct zw_bpf_cand {
	__u32 flow;
	__u32 src_set; /* 0 = whole zone */
	__u32 dst_set;
};
_Static_assert(sizeof(struct zw_bpf_cand) == 12, "cand size");

/* Per-flow counters (per CPU), index flow or ZW_BPF_FLOW_NONE. */
struct zw_bpf_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_conns;
	__u64 drops;
};
_Static_assert(sizeof(struct zw_bpf_counters) == 32, "counters size");

/* The one entry of zw_global: the generation judged by, read once per
 * packet. Slot = generation & 1. Generation 0: no policy yet (every IP
 * packet is dropped: fail closed). */
struct zw_bpf_global {
	__u32 generation;
	__u32 abi;	  /* ZW_BPF_ABI_VERSION */
	__u32 drop_sample; /* drop records: 0 none, 1 all, N one in N */
	__u32 log_all_new; /* new-connection records for every flow, not
			    * only log: true ones */
};
_Static_assert(sizeof(struct zw_bpf_global) == 16, "global size");

/* What a slot holds (zw_slots[slot]): written by the loader only. */
struct zw_bpf_slot {
	__u8 sha256[32];     /* of the image */
	__u32 generation;    /* the generation this slot was filled for */
	__s32 day;	     /* days since epoch the liveness was computed for */
	__u32 n_flows;	     /* flows in the image */
	__u32 n_zones;
	__u32 has_block;     /* bit 0: IPv4 block list, bit 1: IPv6 */
	__u32 n_live;	     /* flows live on day */
	__u64 applied_ns;    /* CLOCK_MONOTONIC when filled */
	char name[64];	     /* matrix name */
};
_Static_assert(sizeof(struct zw_bpf_slot) == 128, "slot size");

/* Per-flow counter base of a slot (zw_cntbase_S[flow]), written by the
 * loader only: counts carried over from earlier generations for the same
 * flow id, so counters survive re-applies. */

/* Rate-limit bucket key. */
struct zw_bpf_rate_key {
	__u8 addr[16];
	__u32 flow;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct zw_bpf_rate_key) == 24, "rate key size");

struct zw_bpf_rate_val {
	__u64 tat_ns; /* theoretical arrival time (GCRA) */
};
_Static_assert(sizeof(struct zw_bpf_rate_val) == 8, "rate val size");

/* Statistics (zw_stats, per CPU): drop reasons at their enum value, then
 * these. */
enum zw_bpf_stat {
	ZW_BPF_ST_PASS = 16,	     /* packets passed (IP) */
	ZW_BPF_ST_NOT_IP = 17,	     /* non-IP frames passed */
	ZW_BPF_ST_LINK_LOCAL = 18,   /* IPv6 ND/MLD passed */
	ZW_BPF_ST_NEW = 19,	     /* connections opened */
	ZW_BPF_ST_RECHECK = 20,	     /* connections re-checked after a swap */
	ZW_BPF_ST_EVENTS_LOST = 21,  /* ring buffer full */
	ZW_BPF_ST_FRAG_PASS = 22,    /* later fragments passed */
	ZW_BPF_ST_RELATED = 23,	     /* ICMP errors passed as related */
	/* written by user space (the sweep, in CPU 0's slot), never by the
	 * program: kept with the instance, read like the others */
	ZW_BPF_ST_SWEEP_ENDED = 24,  /* ended records of the sweep */
	ZW_BPF_ST_SWEEP_UPDATES = 25, /* update records of the sweep */
	ZW_BPF_ST_SWEEP_BEHIND = 26, /* update records merged: a sweep pass
				      * longer than the active timeout */
	ZW_BPF_ST_ENDED = 27,	     /* ended records of the program (cut,
				      * tuple re-used) */
	ZW_BPF_ST__COUNT = 28,
};
_Static_assert(ZW_DROP__COUNT <= 16, "drop reasons fit below the stats");

#endif /* ZONEWALL_BPF_ABI_H */
