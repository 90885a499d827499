/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * zonewall dataplane core: the packet parser (types in
 * <zonewall/packet.h>, semantics in docs/dataplane-core.md).
 *
 *   int zw_parse(const void *data, const void *data_end, struct zw_pkt *p);
 *
 * parses one Ethernet frame held in [data, data_end) and returns an enum
 * zw_parse_class. It never reads outside the frame, never trusts a length
 * field without checking it against the frame AND against the enclosing
 * header's length, walks bounded chains only (ZW_VLAN_MAX, ZW_IPV6_EXT_MAX)
 * and drops what it cannot parse safely, with a reason, rather than guess.
 *
 * It is written for the BPF verifier first: every header access is preceded
 * by an explicit "pointer + size > data_end" check on the very pointer that
 * is dereferenced, loops have constant bounds, offsets derived from packet
 * fields are masked to a small range. The same code compiles unchanged for
 * user space (DPDK: pointers into a single-segment mbuf).
 */
#ifndef ZONEWALL_CORE_PARSE_H
#define ZONEWALL_CORE_PARSE_H

#include <linux/types.h>

#include <zonewall/packet.h>

#ifndef ZW_INLINE
#define ZW_INLINE static inline __attribute__((always_inline))
#endif

/* Loops with constant bounds: unrolled for BPF (the verifier then sees
 * straight-line code), left to the optimiser elsewhere. */
#ifdef __clang__
#define ZW_UNROLL _Pragma("unroll")
#else
#define ZW_UNROLL
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define zw_ntohs(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define zw_ntohl(x) ((__u32)__builtin_bswap32((__u32)(x)))
#else
#define zw_ntohs(x) ((__u16)(x))
#define zw_ntohl(x) ((__u32)(x))
#endif
#define zw_htons(x) zw_ntohs(x)
#define zw_htonl(x) zw_ntohl(x)

/* Wire headers, declared here so the core depends on no libc or kernel
 * header beyond <linux/types.h> (BPF, DPDK and glibc all disagree about
 * the others). */
struct zw_ethhdr {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
} __attribute__((packed));

struct zw_vlanhdr {
	__be16 tci;
	__be16 proto;
} __attribute__((packed));

struct zw_iphdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 proto;
	__u16 check;
	__u8 saddr[4];
	__u8 daddr[4];
} __attribute__((packed));

struct zw_ip6hdr {
	__be32 vtc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
} __attribute__((packed));

struct zw_ip6_opthdr {
	__u8 nexthdr;
	__u8 hdrlen;
	__u8 type; /* routing header: routing type */
	__u8 data;
} __attribute__((packed));

struct zw_ip6_fraghdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 id;
} __attribute__((packed));

struct zw_tcphdr {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res; /* data offset << 4 */
	__u8 flags;
	__be16 window;
	__u16 check;
	__be16 urg_ptr;
} __attribute__((packed));

struct zw_udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__u16 check;
} __attribute__((packed));

struct zw_sctphdr {
	__be16 source;
	__be16 dest;
	__be32 vtag;
	__u32 checksum;
} __attribute__((packed));

struct zw_icmphdr {
	__u8 type;
	__u8 code;
	__u16 check;
	__be16 id;
	__be16 seq;
} __attribute__((packed));

#define ZW_ETH_P_IP 0x0800
#define ZW_ETH_P_IPV6 0x86DD
#define ZW_ETH_P_8021Q 0x8100
#define ZW_ETH_P_8021AD 0x88A8

#define ZW_IP_MF 0x2000
#define ZW_IP_OFFSET 0x1FFF
#define ZW_IP_RF 0x8000

/* Smallest L4 header the parser needs for each protocol it reads, i.e. the
 * bytes a first fragment must hold. 0: the protocol has no header we read. */
ZW_INLINE __u32 zw_l4_min(__u8 proto)
{
	switch (proto) {
	case ZW_IPPROTO_TCP:
		return sizeof(struct zw_tcphdr);
	case ZW_IPPROTO_UDP:
		return sizeof(struct zw_udphdr);
	case ZW_IPPROTO_SCTP:
		return sizeof(struct zw_sctphdr);
	case ZW_IPPROTO_ICMP:
	case ZW_IPPROTO_ICMPV6:
		return sizeof(struct zw_icmphdr);
	default:
		return 0;
	}
}

/* ICMPv4 classes. */
ZW_INLINE int zw_icmp4_is_error(__u8 type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

ZW_INLINE int zw_icmp4_is_query(__u8 type)
{
	return type == 0 || type == 8 || type == 13 || type == 14 ||
	       type == 15 || type == 16 || type == 17 || type == 18;
}

ZW_INLINE int zw_icmp6_is_error(__u8 type)
{
	return type < 128;
}

ZW_INLINE int zw_icmp6_is_query(__u8 type)
{
	return type == 128 || type == 129;
}

/* The request type answered by ICMP(v6) reply @type, or -1 when @type is
 * not a reply. */
ZW_INLINE int zw_icmp_request_of(__u8 family, __u8 type)
{
	if (family == 6)
		return type == 129 ? 128 : -1;
	if (type == 0)
		return 8;
	if (type == 14 || type == 16 || type == 18)
		return type - 1;
	return -1;
}

ZW_INLINE int zw_addr_is_zero(const __u8 a[16])
{
	__u64 x, y;

	__builtin_memcpy(&x, a, 8);
	__builtin_memcpy(&y, a + 8, 8);
	return (x | y) == 0;
}

/* The identifier of ICMP(v6) query @p (0 for other messages), for
 * records: it sits at the requester's end of the tuple. */
ZW_INLINE __u16 zw_pkt__icmp_id(const struct zw_pkt *p)
{
	if (!(p->flags & ZW_PF_ICMP_QUERY))
		return 0;
	return zw_icmp_request_of(p->t.family, p->icmp_type) >= 0 ? p->t.dport
								   : p->t.sport;
}

/* Result of an L3 parse. */
struct zw_l3 {
	__u32 l4_off;	 /* offset of the upper-layer header from data */
	__u32 l4_room;	 /* bytes of IP payload from l4_off on, per the IP
			  * lengths (for the inner quote: per the frame) */
	__u8 proto;	 /* upper-layer protocol */
	__u8 later;	 /* non-first fragment */
	__u8 frag;	 /* fragmented */
	__u8 frag_proto;
	__u32 frag_id;
	__u16 l3_len;
	__u8 hop_limit;
	__u8 pad;
};

/*
 * The IPv6 extension header walk. AH and ESP end it: they are the
 * packet's protocol (51, 50), as in IPv4, so a matrix rule for protocol 51
 * means the same thing in both families. @off is the offset of the first
 * next-header from @data, @nh its type, @ip_end the offset where the IP
 * payload ends (per payload_len). Fills @l3; returns 0 or a drop reason.
 * @quote: parsing the packet quoted in an ICMPv6 error (the quote may be cut
 * short: running out of frame is not an error until the L4 ports).
 */
ZW_INLINE int zw_ip6_walk(const __u8 *data, const __u8 *end, __u32 off,
			  __u8 nh, __u32 ip_end, struct zw_l3 *l3, int quote)
{
	int i;

ZW_UNROLL
	for (i = 0; i < ZW_IPV6_EXT_MAX + 1; i++) {
		const struct zw_ip6_opthdr *oh;
		const struct zw_ip6_fraghdr *fh;
		__u32 len;

		switch (nh) {
		case ZW_IPPROTO_HOPOPTS:
			if (i != 0) /* only right after the fixed header */
				return ZW_DROP_EXT_HEADERS;
			/* fallthrough */
		case ZW_IPPROTO_DSTOPTS:
		case ZW_IPPROTO_ROUTING:
		case ZW_IPPROTO_MH:
		case ZW_IPPROTO_HIP:
		case ZW_IPPROTO_SHIM6:
		case ZW_IPPROTO_FRAGMENT:
			break;
		default:
			goto upper;
		}
		if (i == ZW_IPV6_EXT_MAX)
			return ZW_DROP_EXT_HEADERS;
		off &= 0x3fff; /* bounded for the verifier; checked below */
		oh = (const struct zw_ip6_opthdr *)(data + off);
		if ((const __u8 *)(oh + 1) > end)
			return l3->frag ? ZW_DROP_FRAGMENT : ZW_DROP_TRUNCATED;
		if (nh == ZW_IPPROTO_FRAGMENT) {
			__u16 fo;

			if (l3->frag) /* a second fragment header */
				return ZW_DROP_EXT_HEADERS;
			fh = (const struct zw_ip6_fraghdr *)(data + off);
			if ((const __u8 *)(fh + 1) > end)
				return ZW_DROP_TRUNCATED;
			fo = zw_ntohs(fh->frag_off);
			len = sizeof(*fh);
			if ((fo & 0xfff8) == 0 && (fo & 1) == 0) {
				/* atomic fragment (RFC 6946): not fragmented */
			} else {
				l3->frag = 1;
				l3->frag_id = zw_ntohl(fh->id);
				l3->frag_proto = fh->nexthdr;
				if (fo & 0xfff8) {
					/* non-first: the rest is fragment data */
					l3->later = 1;
					l3->proto = fh->nexthdr;
					l3->l4_off = off + len;
					l3->l4_room = 0;
					return 0;
				}
			}
		} else {
			if (nh == ZW_IPPROTO_ROUTING && oh->type == 0)
				return ZW_DROP_EXT_HEADERS; /* RH0, RFC 5095 */
			len = ((__u32)oh->hdrlen + 1) * 8;
		}
		if (!quote && off + len > ip_end)
			return l3->frag ? ZW_DROP_FRAGMENT : ZW_DROP_BAD_HEADER;
		nh = oh->nexthdr;
		off += len;
	}
	return ZW_DROP_EXT_HEADERS;
upper:
	l3->proto = nh;
	l3->l4_off = off;
	l3->l4_room = ip_end > off ? ip_end - off : 0;
	return 0;
}

/* IPv4 header at @off. Fills @t's addresses and @l3; returns 0 or a drop
 * reason. @quote: see zw_ip6_walk. */
ZW_INLINE int zw_parse_ip4(const __u8 *data, const __u8 *end, __u32 flen,
			   __u32 off, struct zw_tuple *t, struct zw_l3 *l3,
			   int quote)
{
	const struct zw_iphdr *ip;
	__u32 ihl, tot, avail;
	__u16 fo;

	off &= 0x3fff;
	ip = (const struct zw_iphdr *)(data + off);
	if ((const __u8 *)(ip + 1) > end || off + sizeof(*ip) > flen)
		return ZW_DROP_TRUNCATED;
	if ((ip->ver_ihl >> 4) != 4)
		return ZW_DROP_BAD_HEADER;
	ihl = (__u32)(ip->ver_ihl & 0x0f) * 4;
	if (ihl < sizeof(*ip))
		return ZW_DROP_BAD_HEADER;
	tot = zw_ntohs(ip->tot_len);
	avail = flen - off;
	if (ihl > avail)
		return ZW_DROP_TRUNCATED;
	if (tot < ihl)
		return ZW_DROP_BAD_HEADER;
	if (!quote && tot > avail)
		return ZW_DROP_TRUNCATED;
	fo = zw_ntohs(ip->frag_off);
	if (fo & ZW_IP_RF)
		return ZW_DROP_BAD_HEADER; /* reserved ("evil") bit */

	t->family = 4;
	t->proto = ip->proto;
	__builtin_memcpy(t->src, ip->saddr, 4);
	__builtin_memcpy(t->dst, ip->daddr, 4);

	l3->proto = ip->proto;
	l3->l3_len = (__u16)tot;
	l3->hop_limit = ip->ttl;
	l3->l4_off = off + ihl;
	l3->l4_room = tot - ihl;
	if (quote && tot > avail)
		l3->l4_room = avail > ihl ? avail - ihl : 0;
	if (fo & (ZW_IP_MF | ZW_IP_OFFSET)) {
		l3->frag = 1;
		l3->frag_id = zw_ntohs(ip->id);
		l3->frag_proto = ip->proto;
		if (fo & ZW_IP_OFFSET) {
			/* RFC 1858: a later fragment overlapping where the
			 * first one's transport header lies is an attack. */
			if ((__u32)(fo & ZW_IP_OFFSET) * 8 < zw_l4_min(ip->proto))
				return ZW_DROP_FRAGMENT;
			l3->later = 1;
		}
	}
	return 0;
}

/* IPv6 fixed header at @off, then the extension walk. */
ZW_INLINE int zw_parse_ip6(const __u8 *data, const __u8 *end, __u32 flen,
			   __u32 off, struct zw_tuple *t, struct zw_l3 *l3,
			   int quote)
{
	const struct zw_ip6hdr *ip6;
	__u32 plen, avail, ip_end;

	off &= 0x3fff;
	ip6 = (const struct zw_ip6hdr *)(data + off);
	if ((const __u8 *)(ip6 + 1) > end || off + sizeof(*ip6) > flen)
		return ZW_DROP_TRUNCATED;
	if ((zw_ntohl(ip6->vtc_flow) >> 28) != 6)
		return ZW_DROP_BAD_HEADER;
	plen = zw_ntohs(ip6->payload_len);
	avail = flen - off - (__u32)sizeof(*ip6);
	if (plen == 0 && ip6->nexthdr != ZW_IPPROTO_NONE)
		return ZW_DROP_BAD_HEADER; /* jumbogram: not supported */
	if (!quote && plen > avail)
		return ZW_DROP_TRUNCATED;

	t->family = 6;
	__builtin_memcpy(t->src, ip6->saddr, 16);
	__builtin_memcpy(t->dst, ip6->daddr, 16);
	l3->l3_len = (__u16)(plen + sizeof(*ip6));
	l3->hop_limit = ip6->hop_limit;
	ip_end = off + (__u32)sizeof(*ip6) + plen;
	if (quote && plen > avail)
		ip_end = off + (__u32)sizeof(*ip6) + avail;
	{
		int r = zw_ip6_walk(data, end, off + sizeof(*ip6),
				    ip6->nexthdr, ip_end, l3, quote);
		if (r)
			return r;
	}
	t->proto = l3->proto;
	return 0;
}

/*
 * Ports and ICMP fields of the upper-layer header at l3->l4_off into @t and
 * @p (p may be NULL for the quoted packet of an ICMP error, where only the
 * first 8 bytes are guaranteed and length fields are not checked).
 */
ZW_INLINE int zw_parse_l4(const __u8 *data, const __u8 *end,
			  const struct zw_l3 *l3, struct zw_tuple *t,
			  struct zw_pkt *p)
{
	__u32 off = l3->l4_off & 0x3fff;
	int icmp = (l3->proto == ZW_IPPROTO_ICMP && t->family == 4) ||
		   (l3->proto == ZW_IPPROTO_ICMPV6 && t->family == 6);
	__u32 need = icmp ? sizeof(struct zw_icmphdr)
			  : (l3->proto == ZW_IPPROTO_ICMP ||
			     l3->proto == ZW_IPPROTO_ICMPV6)
				    ? 0
				    : zw_l4_min(l3->proto);

	if (l3->later || need == 0)
		return 0; /* no ports */
	/* the quote of an ICMP error holds at least 8 bytes of L4 */
	if (!p && need > 8)
		need = 8;
	if (l3->l4_room < need)
		return l3->frag ? ZW_DROP_FRAGMENT : ZW_DROP_TRUNCATED;

	switch (l3->proto) {
	case ZW_IPPROTO_TCP:
		if (p) {
			const struct zw_tcphdr *th =
				(const struct zw_tcphdr *)(data + off);
			__u32 doff;

			if ((const __u8 *)(th + 1) > end)
				return ZW_DROP_TRUNCATED;
			doff = (__u32)(th->doff_res >> 4) * 4;
			if (doff < sizeof(*th))
				return ZW_DROP_BAD_HEADER;
			if (!l3->frag && doff > l3->l4_room)
				return ZW_DROP_TRUNCATED;
			p->tcp_flags = th->flags;
			if ((th->flags & ZW_TCP_SYN) &&
			    (th->flags & (ZW_TCP_RST | ZW_TCP_FIN)))
				return ZW_DROP_BAD_HEADER;
			t->sport = zw_ntohs(th->source);
			t->dport = zw_ntohs(th->dest);
			p->match_port = t->dport;
			return 0;
		}
		break;
	case ZW_IPPROTO_UDP:
		if (p) {
			const struct zw_udphdr *uh =
				(const struct zw_udphdr *)(data + off);
			__u32 ulen;

			if ((const __u8 *)(uh + 1) > end)
				return ZW_DROP_TRUNCATED;
			ulen = zw_ntohs(uh->len);
			if (!l3->frag &&
			    (ulen < sizeof(*uh) || ulen > l3->l4_room))
				return ZW_DROP_BAD_HEADER;
			if (l3->frag && ulen < sizeof(*uh))
				return ZW_DROP_BAD_HEADER;
			t->sport = zw_ntohs(uh->source);
			t->dport = zw_ntohs(uh->dest);
			p->match_port = t->dport;
			return 0;
		}
		break;
	case ZW_IPPROTO_SCTP:
		break;
	default: /* ICMP in its own family (need is 0 otherwise) */
		{
			const struct zw_icmphdr *ih =
				(const struct zw_icmphdr *)(data + off);
			int query, error, rq;

			if ((const __u8 *)(ih + 1) > end)
				return ZW_DROP_TRUNCATED;
			query = t->family == 4 ? zw_icmp4_is_query(ih->type)
					       : zw_icmp6_is_query(ih->type);
			error = t->family == 4 ? zw_icmp4_is_error(ih->type)
					       : zw_icmp6_is_error(ih->type);
			/* the key of the message (struct zw_tuple): the id at
			 * the requester's end, the request type at the other */
			rq = zw_icmp_request_of(t->family, ih->type);
			if (query && rq >= 0) {
				t->sport = (__u16)(ZW_ICMP_TAG | rq);
				t->dport = zw_ntohs(ih->id);
			} else if (query) {
				t->sport = zw_ntohs(ih->id);
				t->dport = (__u16)(ZW_ICMP_TAG | ih->type);
			} else if (!error) {
				t->sport = 0;
				t->dport = (__u16)(ZW_ICMP_TAG | ih->type);
			}
			if (p) {
				p->icmp_type = ih->type;
				p->icmp_code = ih->code;
				p->match_port = ih->type;
				if (query)
					p->flags |= ZW_PF_ICMP_QUERY;
			}
			return 0;
		}
	}
	/* TCP/UDP/SCTP ports: the first 4 bytes */
	{
		const struct zw_sctphdr *sh =
			(const struct zw_sctphdr *)(data + off);

		if ((const __u8 *)sh + 8 > end)
			return ZW_DROP_TRUNCATED;
		t->sport = zw_ntohs(sh->source);
		t->dport = zw_ntohs(sh->dest);
		if (p) {
			if ((const __u8 *)(sh + 1) > end)
				return ZW_DROP_TRUNCATED;
			p->match_port = t->dport;
		}
	}
	return 0;
}

/* The packet quoted by an ICMP error, starting at @off: its tuple as its
 * sender sent it into p->inner. Returns 0 or a drop reason. */
ZW_INLINE int zw_parse_quote(const __u8 *data, const __u8 *end, __u32 flen,
			     __u32 off, struct zw_pkt *p)
{
	struct zw_l3 l3 = {};
	int r;

	if (p->t.family == 4)
		r = zw_parse_ip4(data, end, flen, off, &p->inner, &l3, 1);
	else
		r = zw_parse_ip6(data, end, flen, off, &p->inner, &l3, 1);
	if (r)
		return r;
	if (l3.later)
		return ZW_DROP_FRAGMENT; /* no ports to relate it by */
	p->inner.proto = l3.proto;
	return zw_parse_l4(data, end, &l3, &p->inner, (struct zw_pkt *)0);
}

/*
 * Parse the Ethernet frame [data, data_end) into @p (fully overwritten).
 * Returns an enum zw_parse_class; on ZW_PARSE_DROP, p->reason says why.
 */
ZW_INLINE int zw_parse(const void *data_, const void *data_end_,
		       struct zw_pkt *p)
{
	const __u8 *data = (const __u8 *)data_;
	const __u8 *end = (const __u8 *)data_end_;
	const struct zw_ethhdr *eth = (const struct zw_ethhdr *)data;
	struct zw_l3 l3 = {};
	__u32 off, flen;
	__u16 proto;
	int i, r;

	__builtin_memset(p, 0, sizeof(*p));
	/* Scalar frame length for the length logic; memory safety rests on
	 * the pointer checks before each access. */
	flen = (__u32)(end - data);
	if ((const __u8 *)(eth + 1) > end) {
		p->reason = ZW_DROP_TRUNCATED;
		return ZW_PARSE_DROP;
	}
	proto = zw_ntohs(eth->proto);
	off = sizeof(*eth);
ZW_UNROLL
	for (i = 0; i < ZW_VLAN_MAX + 1; i++) {
		const struct zw_vlanhdr *vh;

		if (proto != ZW_ETH_P_8021Q && proto != ZW_ETH_P_8021AD)
			break;
		if (i == ZW_VLAN_MAX) {
			p->reason = ZW_DROP_BAD_HEADER;
			return ZW_PARSE_DROP;
		}
		vh = (const struct zw_vlanhdr *)(data + off);
		if ((const __u8 *)(vh + 1) > end) {
			p->reason = ZW_DROP_TRUNCATED;
			return ZW_PARSE_DROP;
		}
		proto = zw_ntohs(vh->proto);
		off += sizeof(*vh);
	}

	if (proto == ZW_ETH_P_IP)
		r = zw_parse_ip4(data, end, flen, off, &p->t, &l3, 0);
	else if (proto == ZW_ETH_P_IPV6)
		r = zw_parse_ip6(data, end, flen, off, &p->t, &l3, 0);
	else
		return ZW_PARSE_NOT_IP;
	if (r)
		goto drop;

	p->l3_len = l3.l3_len;
	p->t.proto = l3.proto;
	if (l3.frag) {
		p->flags |= ZW_PF_FRAG;
		p->frag_id = l3.frag_id;
		p->frag_proto = l3.frag_proto;
		if (l3.later)
			p->flags |= ZW_PF_FRAG_LATER;
	}
	r = zw_parse_l4(data, end, &l3, &p->t, p);
	if (r)
		goto drop;

	if (l3.later)
		return ZW_PARSE_IP;
	if (p->t.family == 6 && p->t.proto == ZW_IPPROTO_ICMPV6) {
		__u8 ty = p->icmp_type;

		/* neighbour discovery: RS, RA, NS, NA, redirect */
		if (ty >= 133 && ty <= 137 && l3.hop_limit == 255)
			return ZW_PARSE_LINK_LOCAL;
		/* MLD query/report/done, MLDv2 report, from link-local */
		if ((ty == 130 || ty == 131 || ty == 132 || ty == 143) &&
		    l3.hop_limit == 1 &&
		    ((p->t.src[0] == 0xfe && (p->t.src[1] & 0xc0) == 0x80) ||
		     zw_addr_is_zero(p->t.src)))
			return ZW_PARSE_LINK_LOCAL;
	}
	if ((p->t.family == 4 && p->t.proto == ZW_IPPROTO_ICMP &&
	     zw_icmp4_is_error(p->icmp_type)) ||
	    (p->t.family == 6 && p->t.proto == ZW_IPPROTO_ICMPV6 &&
	     zw_icmp6_is_error(p->icmp_type))) {
		if (l3.frag) {
			r = ZW_DROP_FRAGMENT; /* errors are small: never fragmented */
			goto drop;
		}
		p->flags |= ZW_PF_ICMP_ERR;
		/* the quote ends where the outer IP packet ends, not at the
		 * frame's end (Ethernet padding is not part of it) */
		r = zw_parse_quote(data, end, (l3.l4_off + l3.l4_room) & 0xffff,
				   l3.l4_off + sizeof(struct zw_icmphdr), p);
		if (r)
			goto drop;
	}
	return ZW_PARSE_IP;
drop:
	p->reason = (__u8)r;
	return ZW_PARSE_DROP;
}

/*
 * The fast path of zw_parse for what most traffic is: an untagged IPv4
 * packet without options or fragmentation, or an IPv6 one without
 * extension headers, carrying TCP or UDP whose lengths are consistent.
 * It fills what zw_parse fills for such a packet (same class, same fields)
 * without zeroing the whole struct: p->inner is left as it was (it is only
 * meaningful with ZW_PF_ICMP_ERR, which these packets never have). Anything
 * else, and anything this path would have to drop, goes to zw_parse,
 * which keeps every check. tests/core compares both on every input.
 */
ZW_INLINE int zw_parse__fast(const void *data_, const void *data_end_,
			     struct zw_pkt *p)
{
	const __u8 *data = (const __u8 *)data_;
	const __u8 *end = (const __u8 *)data_end_;
	const struct zw_ethhdr *eth = (const struct zw_ethhdr *)data;
	__u32 l4_off, room, flen = (__u32)(end - data);
	__u16 l3_len;
	__u8 proto;

	/* Each header is read only once the frame holds it: the Ethernet
	 * and IPv4 headers here, the IPv6 one below, the L4 header within
	 * the IP length (itself within the frame). A minimum-size IPv4
	 * frame (60 bytes) thus takes this path. */
	if (flen < sizeof(*eth) + sizeof(struct zw_iphdr))
		goto slow;
	if (eth->proto == zw_htons(ZW_ETH_P_IP)) {
		const struct zw_iphdr *ip =
			(const struct zw_iphdr *)(data + sizeof(*eth));
		__u32 tot = zw_ntohs(ip->tot_len);

		if (ip->ver_ihl != 0x45 ||
		    (ip->frag_off & zw_htons(ZW_IP_RF | ZW_IP_MF | ZW_IP_OFFSET)) ||
		    tot < sizeof(*ip) || tot > flen - sizeof(*eth))
			goto slow;
		proto = ip->proto;
		__builtin_memset(&p->t, 0, sizeof(p->t));
		__builtin_memcpy(p->t.src, ip->saddr, 4);
		__builtin_memcpy(p->t.dst, ip->daddr, 4);
		p->t.family = 4;
		l3_len = (__u16)tot;
		l4_off = sizeof(*eth) + sizeof(*ip);
		room = tot - (__u32)sizeof(*ip);
	} else if (eth->proto == zw_htons(ZW_ETH_P_IPV6)) {
		const struct zw_ip6hdr *ip6 =
			(const struct zw_ip6hdr *)(data + sizeof(*eth));
		__u32 plen;

		if (flen < sizeof(*eth) + sizeof(*ip6))
			goto slow;
		plen = zw_ntohs(ip6->payload_len);
		if ((zw_ntohl(ip6->vtc_flow) >> 28) != 6 || plen == 0 ||
		    plen > flen - sizeof(*eth) - sizeof(*ip6))
			goto slow;
		proto = ip6->nexthdr;
		__builtin_memcpy(p->t.src, ip6->saddr, 16);
		__builtin_memcpy(p->t.dst, ip6->daddr, 16);
		p->t.pad[0] = p->t.pad[1] = 0;
		p->t.family = 6;
		l3_len = (__u16)(plen + sizeof(*ip6));
		l4_off = sizeof(*eth) + sizeof(*ip6);
		room = plen;
	} else {
		goto slow;
	}
	if (proto == ZW_IPPROTO_TCP) {
		const struct zw_tcphdr *th = (const struct zw_tcphdr *)(data + l4_off);
		__u32 doff;

		if (room < sizeof(*th))
			goto slow;
		doff = (__u32)(th->doff_res >> 4) * 4;
		if (doff < sizeof(*th) || doff > room ||
		    ((th->flags & ZW_TCP_SYN) &&
		     (th->flags & (ZW_TCP_RST | ZW_TCP_FIN))))
			goto slow;
		p->tcp_flags = th->flags;
		p->t.sport = zw_ntohs(th->source);
		p->t.dport = zw_ntohs(th->dest);
	} else if (proto == ZW_IPPROTO_UDP) {
		const struct zw_udphdr *uh = (const struct zw_udphdr *)(data + l4_off);
		__u32 ulen;

		if (room < sizeof(*uh))
			goto slow;
		ulen = zw_ntohs(uh->len);
		if (ulen < sizeof(*uh) || ulen > room)
			goto slow;
		p->tcp_flags = 0;
		p->t.sport = zw_ntohs(uh->source);
		p->t.dport = zw_ntohs(uh->dest);
	} else {
		goto slow;
	}
	p->t.proto = proto;
	p->frag_id = 0;
	p->l3_len = l3_len;
	p->match_port = p->t.dport;
	p->icmp_type = 0;
	p->icmp_code = 0;
	p->flags = 0;
	p->reason = 0;
	p->frag_proto = 0;
	p->pad[0] = p->pad[1] = 0;
	return ZW_PARSE_IP;
slow:
	return zw_parse(data_, data_end_, p);
}

#endif /* ZONEWALL_CORE_PARSE_H */
