/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The flow record every engine emits for telemetry (new connections,
 * drops, connection ends): one struct shared by the BPF programs (ring
 * buffer), the DPDK engine (rte_ring) and the daemon's exporters. Fixed
 * size, explicit padding, no pointers; included from BPF code too, so it
 * uses only <linux/types.h>.
 *
 * Layout: the first 88 bytes are the original record, unchanged; the
 * extension (both directions, start time, end reason, egress interface)
 * follows it and is meaningful only when flags has ZW_REC_F_EXT. An engine
 * that does not fill the extension leaves flags 0 (it was the field
 * "reserved", always written 0) and readers ignore the extension's bytes,
 * which may then be anything (a BPF ring buffer slot is not zeroed).
 */
#ifndef ZONEWALL_FLOW_RECORD_H
#define ZONEWALL_FLOW_RECORD_H

#include <linux/types.h>

enum zw_flow_event {
	ZW_EV_NEW = 1,	/* a new connection was allowed */
	ZW_EV_DROP = 2, /* a packet was dropped */
	ZW_EV_END = 3,	/* a connection ended (closed or timed out) */
	ZW_EV_UPDATE = 4, /* a long-lived connection, still open (active
			   * timeout): counters so far */
	ZW_EV_DENIED_AGG = 5, /* denied attempts of one (src, dst, proto,
			       * dport) over a window: packets = attempts */
};

/* Why a connection's record was emitted (ZW_EV_END, ZW_EV_UPDATE); the
 * values are those of IPFIX flowEndReason (IE 136, RFC 5102). */
enum zw_end_reason {
	ZW_END_UNKNOWN = 0,
	ZW_END_IDLE = 1,    /* idle timeout */
	ZW_END_ACTIVE = 2,  /* active timeout (ZW_EV_UPDATE) */
	ZW_END_CLOSED = 3,  /* end of connection seen (FIN, RST) */
	ZW_END_FORCED = 4,  /* cut: its flow left the policy */
	ZW_END_EVICTED = 5, /* lack of resources (table full, evicted) */
};

/* struct zw_flow_record flags */
#define ZW_REC_F_EXT 0x1u /* the extension fields are filled */

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
	__u8 engine;	  /* 1 xdp, 2 dpdk, 3 nft, 4 the L7 inspector */
	__u8 l7_seen;	  /* reason l7-mismatch: the protocol recognised,
			   * 1 + its index in zw_inspect_names (0: none);
			   * reason file-type: 1 + the file type (enum
			   * zw_l7_ftype, l7.h); else 0 */
	__u8 pad[2];
	__u32 ifindex;	  /* ingress interface (xdp) or port id (dpdk) */
	union {
		__u32 reserved; /* its old name: engines that write 0 here
				 * say "no extension" */
		__u32 flags;	/* ZW_REC_F_* */
	};
	__u8 src[16];	  /* network order; IPv4 in the first 4 bytes */
	__u8 dst[16];
	/* ---- extension: only when flags & ZW_REC_F_EXT ---- */
	__u64 start_ns;	    /* connection start, engine clock; 0 unknown */
	__u64 rev_packets;  /* of packets: those of the responder (dst to
			     * src); packets - rev_packets are the
			     * initiator's */
	__u64 rev_bytes;    /* likewise for bytes */
	__u32 egress_ifindex; /* egress interface or port, 0 unknown */
	__u8 end_reason;    /* enum zw_end_reason */
	__u8 pad2[3];
};
_Static_assert(sizeof(struct zw_flow_record) == 120, "flow record size");
_Static_assert(__builtin_offsetof(struct zw_flow_record, start_ns) == 88,
	       "the first 88 bytes are the original record");

#endif /* ZONEWALL_FLOW_RECORD_H */
