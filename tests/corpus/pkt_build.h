/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A packet builder for tests: Ethernet (+VLAN) / IPv4 (+options) / IPv6
 * (+extension headers) / TCP, UDP, SCTP, ICMP, ICMPv6 or any protocol, with
 * fragments, ICMP errors quoting another packet, and knobs to break every
 * header field the parser checks. Checksums are computed (tcpdump and real
 * stacks accept what it builds unless told otherwise).
 *
 * Shared by the core's unit tests, the fuzz seed corpus and the
 * differential corpus (tests/corpus/corpus.h).
 */
#ifndef ZONEWALL_TESTS_PKT_BUILD_H
#define ZONEWALL_TESTS_PKT_BUILD_H

#include <stddef.h>
#include <stdint.h>

#define ZW_PB_MAX 2048 /* largest frame built */

struct zw_pb {
	uint8_t family; /* 4 or 6 */
	uint8_t src[16];
	uint8_t dst[16];
	uint8_t proto;
	uint16_t sport, dport; /* tcp/udp/sctp */
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	uint16_t payload; /* bytes after the L4 header */
	uint8_t hop_limit; /* 0 = 64 */
	int vlans;	   /* VLAN tags, 0..3 (alternating 802.1ad/802.1Q) */

	/* IPv6 extension headers before the upper-layer header, in order
	 * (0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts, 51 AH...) */
	uint8_t ext[12];
	int n_ext;
	uint8_t rh_type; /* routing header type (default 0 → written as 2
			  * unless rh0 is set) */
	int rh0;	 /* write a type-0 routing header */

	/* fragment fields (IPv4 header; IPv6: the 44 in ext[]) */
	int frag;	   /* IPv4: fragment */
	uint16_t frag_off; /* 8-byte units */
	int frag_mf;
	uint32_t frag_id;
	int frag_nol4; /* first fragment without (all of) the L4 header:
			* L4 cut to this many bytes (1..) */

	/* ICMP error: the quoted packet */
	const struct zw_pb *quote;
	uint16_t quote_len; /* bytes of the quoted packet kept (0 = its IP
			     * header(s) + 8) */

	/* malformations */
	int trunc;     /* cut the frame to this many bytes (0 = not) */
	int ihl;       /* IPv4 IHL override, words (0 = computed) */
	int tot_delta; /* added to IPv4 tot_len / IPv6 payload_len */
	int version;   /* IP version nibble override (0 = right one) */
	int udp_len;   /* UDP length override (0 = computed; -1 = 0) */
	int tcp_doff;  /* TCP data offset override, words (0 = 5) */
	int evil;      /* IPv4 reserved flag */
	int ip_opts;   /* IPv4 option bytes (multiple of 4, <= 40) */
	int pad_eth;   /* Ethernet padding bytes after the IP packet */
};

/* Convenience: fill @s for a simple packet. Addresses are text (inet_pton
 * of the family). Returns 0 or -EINVAL. */
int zw_pb__init(struct zw_pb *s, const char *src, const char *dst,
		uint8_t proto, uint16_t sport, uint16_t dport);

/* Build the frame into @buf (@cap bytes). Returns its length, or 0 if it
 * does not fit or @s is inconsistent. */
size_t zw_pb__build(const struct zw_pb *s, uint8_t *buf, size_t cap);

#endif /* ZONEWALL_TESTS_PKT_BUILD_H */
