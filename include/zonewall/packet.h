/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * zonewall dataplane core: the packet model shared by every packet engine
 * (the XDP programs, the DPDK pipeline) and by their tests. This header
 * holds the types and constants; the inline code that fills and uses them
 * lives in dataplane/core/ (zw_parse.h: parser, zw_conn.h: normalised key
 * and connection-state machine), reached through zwcore_dep.
 *
 * Everything here compiles three ways: as BPF C (clang -target bpf), as
 * user-space C (gcc/clang, DPDK included) and under sanitizers. It therefore
 * uses only <linux/types.h>, fixed-size fields, explicit padding and no
 * pointers, and asserts every size (these structs are map keys and values,
 * i.e. ABI between the BPF programs and their loader).
 *
 * Semantics are documented in docs/dataplane-core.md.
 */
#ifndef ZONEWALL_PACKET_H
#define ZONEWALL_PACKET_H

#include <linux/types.h>

#include <zonewall/flow_record.h>

/* ---- limits of the parser (verifier-friendly constant bounds) ---- */

/* VLAN tags walked (802.1Q, 802.1ad); a frame with more is dropped as
 * ZW_DROP_BAD_HEADER. */
#define ZW_VLAN_MAX 2
/* IPv6 extension headers walked before the upper-layer header; a longer
 * chain is dropped as ZW_DROP_EXT_HEADERS. */
#define ZW_IPV6_EXT_MAX 8

/* IP protocol numbers the core knows by name. */
#define ZW_IPPROTO_HOPOPTS 0
#define ZW_IPPROTO_ICMP 1
#define ZW_IPPROTO_TCP 6
#define ZW_IPPROTO_UDP 17
#define ZW_IPPROTO_ROUTING 43
#define ZW_IPPROTO_FRAGMENT 44
#define ZW_IPPROTO_ESP 50
#define ZW_IPPROTO_AH 51
#define ZW_IPPROTO_ICMPV6 58
#define ZW_IPPROTO_NONE 59
#define ZW_IPPROTO_DSTOPTS 60
#define ZW_IPPROTO_SCTP 132
#define ZW_IPPROTO_MH 135
#define ZW_IPPROTO_HIP 139
#define ZW_IPPROTO_SHIM6 140

/* TCP flag bits (the 8 low bits of the flags byte). */
#define ZW_TCP_FIN 0x01
#define ZW_TCP_SYN 0x02
#define ZW_TCP_RST 0x04
#define ZW_TCP_PSH 0x08
#define ZW_TCP_ACK 0x10

/* What the parser made of a frame. */
enum zw_parse_class {
	/* Malformed: zw_pkt.reason says why (enum zw_drop_reason). */
	ZW_PARSE_DROP = 0,
	/* An IPv4 or IPv6 packet to judge against the policy. */
	ZW_PARSE_IP = 1,
	/* Not IP (ARP, LLDP, ...): outside the policy's scope, passes. */
	ZW_PARSE_NOT_IP = 2,
	/* IPv6 link-local control (neighbour discovery with hop limit 255,
	 * MLD from a link-local source with hop limit 1): never forwarded,
	 * needed for IPv6 to work at all, passes. */
	ZW_PARSE_LINK_LOCAL = 3,
};

/* zw_pkt.flags */
enum zw_pkt_flags {
	ZW_PF_FRAG = 1u << 0,	    /* part of a fragmented datagram */
	ZW_PF_FRAG_LATER = 1u << 1, /* non-first fragment: no L4 header, ports 0 */
	ZW_PF_ICMP_ERR = 1u << 2,   /* ICMP(v6) error: inner is the quoted tuple */
	ZW_PF_ICMP_QUERY = 1u << 3, /* echo/timestamp/...: ports are the ICMP id */
};

/*
 * A connection tuple. As parsed, it is the packet's own direction: src/sport
 * sent it to dst/dport. Addresses in network order, IPv4 in the first 4
 * bytes and the rest zero; ports in host order. Protocols without ports
 * carry 0. ICMP(v6) messages (other than errors, which carry 0) carry
 * their identifier at the requester's end and ZW_ICMP_TAG | type at the
 * other: a request (echo, timestamp, information, address mask; ICMPv6
 * echo) sport = id, dport = TAG | its type; its reply sport = TAG | the
 * request's type, dport = id; a message without identifier sport = 0,
 * dport = TAG | its type. So a request and its reply map to one
 * connection, and nothing else does: not another query type with the same
 * identifier, not a request from the responder, not a message of another
 * type (which all get keys of their own and are judged as new).
 *
 * The normalised form (zw_tuple__normalise) orders the two (address, port)
 * ends so that both directions of a connection give the same bytes: it is
 * the key of the connection tables.
 */
struct zw_tuple {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
};
_Static_assert(sizeof(struct zw_tuple) == 40, "tuple size");

/* The port of the non-requester end of an ICMP(v6) tuple: ZW_ICMP_TAG |
 * request type (see struct zw_tuple). An identifier equal to a tag value
 * (0xff00 and up) is the requester's own choice. */
#define ZW_ICMP_TAG 0xff00

/* A parsed packet. */
struct zw_pkt {
	struct zw_tuple t;     /* the packet's own tuple */
	struct zw_tuple inner; /* ZW_PF_ICMP_ERR: the quoted packet's tuple,
				* as its sender sent it */
	__u32 frag_id;	       /* fragments: IPv4 id or IPv6 identification */
	__u16 l3_len;	       /* bytes of the IP packet (header + payload) */
	__u16 match_port;      /* what rules match: TCP/UDP/SCTP destination
				* port, ICMP(v6) type, else 0 */
	__u8 tcp_flags;	       /* ZW_TCP_* (TCP only) */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 flags;	       /* enum zw_pkt_flags */
	__u8 reason;	       /* enum zw_drop_reason when ZW_PARSE_DROP */
	__u8 frag_proto;       /* fragments: protocol of the fragmentable
				* part (IPv4 protocol, IPv6 fragment header's
				* next header): the fragment key's protocol */
	__u8 pad[2];
};
_Static_assert(sizeof(struct zw_pkt) == 96, "pkt size");

/* ---- connections ---- */

enum zw_conn_state {
	ZW_CS_NONE = 0,
	/* TCP */
	ZW_CS_SYN_SENT = 1,	/* initiator's SYN seen */
	ZW_CS_SYN_RECV = 2,	/* responder's SYN (+ACK) seen */
	ZW_CS_ESTABLISHED = 3,	/* initiator's ACK after the SYN+ACK */
	ZW_CS_FIN_WAIT = 4,	/* one side sent FIN */
	ZW_CS_TIME_WAIT = 5,	/* both sides sent FIN */
	ZW_CS_CLOSE = 6,	/* RST seen */
	/* everything else */
	ZW_CS_UNREPLIED = 7,	/* only the initiator has spoken */
	ZW_CS_REPLIED = 8,	/* the responder answered */
	ZW_CS__COUNT = 9,
};

/* zw_conn.flags */
enum zw_conn_flags {
	/* The initiator is the normalised key's dst end (the key was
	 * swapped when the connection was opened). */
	ZW_CF_ORIG_SWAPPED = 1u << 0,
	ZW_CF_FIN_ORIG = 1u << 1,  /* initiator sent FIN */
	ZW_CF_FIN_REPLY = 1u << 2, /* responder sent FIN */
	ZW_CF_LOG = 1u << 3,	   /* its flow has log: true */
};

/* Idle timeouts, seconds (Linux conntrack's defaults, so that the nftables
 * engine and the packet engines forget connections alike). */
#define ZW_TO_TCP_SYN_SENT 120
#define ZW_TO_TCP_SYN_RECV 60
#define ZW_TO_TCP_ESTABLISHED 432000
#define ZW_TO_TCP_FIN_WAIT 120
#define ZW_TO_TCP_TIME_WAIT 120
#define ZW_TO_TCP_CLOSE 10
#define ZW_TO_UDP_UNREPLIED 30
#define ZW_TO_UDP_REPLIED 180
#define ZW_TO_ICMP 30
#define ZW_TO_OTHER 600
/* A first fragment lets its datagram's later fragments pass this long. */
#define ZW_TO_FRAG 30

/*
 * A tracked connection: the value of the connection table, keyed by the
 * normalised tuple. It remembers the policy generation and flow that
 * admitted it so an engine can re-check it after a policy swap, and the
 * rule-matching port of the opening packet (destination port or ICMP type)
 * so the re-check asks the new policy the very question the old one
 * answered.
 */
struct zw_conn {
	__u64 last_ns;	   /* engine clock at the last packet */
	__u32 flow;	   /* flow index in the generation's image, or
			    * 0xffffffff when admitted as same-zone */
	__u32 generation;  /* policy generation that admitted/re-checked it */
	__u16 src_zone;	   /* zones of the initiator and responder */
	__u16 dst_zone;
	__u16 match_port;  /* of the opening packet */
	__u8 state;	   /* enum zw_conn_state */
	__u8 flags;	   /* enum zw_conn_flags */
};
_Static_assert(sizeof(struct zw_conn) == 24, "conn size");

/* Fragment table key: later fragments of a datagram whose first fragment
 * was allowed pass (ZW_TO_FRAG). */
struct zw_frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;
	__u8 proto; /* zw_pkt.frag_proto */
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct zw_frag_key) == 40, "frag key size");

struct zw_frag {
	__u64 first_ns;	  /* when the first fragment passed */
	__u32 flow;	  /* flow of the datagram (counters) */
	__u32 generation; /* policy generation that allowed it */
};
_Static_assert(sizeof(struct zw_frag) == 16, "frag size");

/* What zw_conn__track() tells the engine to do with a packet of a known
 * connection. */
enum zw_conn_action {
	ZW_CA_PASS = 0,	  /* part of the connection: pass */
	ZW_CA_REOPEN = 1, /* a SYN on a closed TCP connection: judge it as a
			   * new connection (replacing the old entry) */
};

#endif /* ZONEWALL_PACKET_H */
