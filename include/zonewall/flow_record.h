/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The flow record every engine emits for telemetry (new connections,
 * drops, connection ends): one struct shared by the BPF programs (ring
 * buffer), the DPDK engine (rte_ring) and the daemon's exporters. Fixed
 * size, explicit padding, no pointers; included from BPF code too, so it
 * uses only <linux/types.h>.
 */
#ifndef ZONEWALL_FLOW_RECORD_H
#define ZONEWALL_FLOW_RECORD_H

#include <linux/types.h>

enum zw_flow_event {
	ZW_EV_NEW = 1,	/* a new connection was allowed */
	ZW_EV_DROP = 2, /* a packet was dropped */
	ZW_EV_END = 3,	/* a connection ended (closed or timed out) */
};

/*
 * Why a packet was dropped (also the index of per-reason drop counters):
 * value, name and meaning, in one list. The names ("no-flow",
 * "flow-removed"...) are the only spelling every engine, exporter and doc
 * uses (zw_drop_reason__name() in libzwimage, policy.h).
 */
#define ZW_DROP_REASONS(X)                                                     \
	X(NONE, 0, "none", "not dropped")                                      \
	X(NO_FLOW, 1, "no-flow", "no flow allows this new connection")         \
	X(ISOLATED, 2, "isolated", "both ends in one isolated zone")           \
	X(NOT_SYN, 3, "not-syn", "TCP packet of no known connection")          \
	X(FLOW_REMOVED, 4, "flow-removed", "its flow left the policy")         \
	X(BLOCKED, 5, "blocked", "crisis block list")                          \
	X(RATE, 6, "rate", "flow rate limit exceeded")                         \
	X(TRUNCATED, 7, "truncated", "headers cut short")                      \
	X(BAD_HEADER, 8, "bad-header", "IHL < 5, bad version, bad lengths")    \
	X(FRAGMENT, 9, "fragment", "fragment without an allowed first one")    \
	X(EXT_HEADERS, 10, "ext-headers", "IPv6 extension chain too long/bad") \
	X(UNRELATED_ICMP, 11, "unrelated-icmp", "ICMP error about no connection") \
	X(TABLE_FULL, 12, "table-full", "connection table full")               \
	X(L7_MISMATCH, 13, "l7-mismatch",                                      \
	  "first payload bytes are not the service's inspect protocol")        \
	X(FILE_TYPE, 14, "file-type", "a crisis block-file type was transferred")

enum zw_drop_reason {
#define ZW_DROP_ENUM_(id, val, name, what) ZW_DROP_##id = val,
	ZW_DROP_REASONS(ZW_DROP_ENUM_)
#undef ZW_DROP_ENUM_
	ZW_DROP__COUNT = 15,
};

struct zw_flow_record {
	__u64 ts_ns;	  /* engine clock (monotonic) */
	__u64 packets;	  /* for ZW_EV_END: packets of the connection */
	__u64 bytes;	  /* for ZW_EV_END: bytes of the connection */
	__u32 flow;	  /* flow index in the image, 0xffffffff = none */
	__u32 generation; /* policy generation that judged it */
	__u16 src_zone;
	__u16 dst_zone;
	__u16 sport;	  /* host order; ICMP: id */
	__u16 dport;	  /* host order; ICMP: type << 8 | code */
	__u8 family;	  /* 4 or 6 */
	__u8 proto;
	__u8 event;	  /* enum zw_flow_event */
	__u8 reason;	  /* enum zw_drop_reason */
	__u8 engine;	  /* 1 xdp, 2 dpdk, 3 nft */
	__u8 pad[3];
	__u32 ifindex;	  /* ingress interface (xdp) or port id (dpdk) */
	__u32 reserved;	  /* 0 */
	__u8 src[16];	  /* network order; IPv4 in the first 4 bytes */
	__u8 dst[16];
};
_Static_assert(sizeof(struct zw_flow_record) == 88, "flow record size");

#endif /* ZONEWALL_FLOW_RECORD_H */
