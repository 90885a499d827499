/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of dataplane/core: the parser on crafted packets (every drop
 * reason it can give, every protocol, VLANs, IPv6 extension chains,
 * fragments, ICMP errors, truncation at every byte) and the connection-
 * state machine (normalisation, TCP states, timeouts, re-open).
 */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/packet.h>

#include "pkt_build.h"
#include "zw_conn.h"

static uint8_t frame[ZW_PB_MAX];

static int parse_spec(const struct zw_pb *s, struct zw_pkt *p)
{
	size_t n = zw_pb__build(s, frame, sizeof(frame));

	CU_ASSERT_FATAL(n > 0);
	return zw_parse(frame, frame + n, p);
}

static void spec(struct zw_pb *s, const char *src, const char *dst,
		 uint8_t proto, uint16_t sport, uint16_t dport)
{
	CU_ASSERT_FATAL(zw_pb__init(s, src, dst, proto, sport, dport) == 0);
}

/* Expect a drop with @reason. */
#define DROPS(s, why)                                                     \
	do {                                                              \
		struct zw_pkt p_;                                         \
		int c_ = parse_spec(s, &p_);                              \
		CU_ASSERT_EQUAL(c_, ZW_PARSE_DROP);                       \
		CU_ASSERT_EQUAL(p_.reason, why);                          \
		if (c_ != ZW_PARSE_DROP || p_.reason != (why))            \
			fprintf(stderr, "  line %d: class %d reason %d\n",  \
				__LINE__, c_, p_.reason);                 \
	} while (0)

static void test_tcp4(void)
{
	struct zw_pb s;
	struct zw_pkt p;
	uint8_t a[4];

	spec(&s, "10.0.0.1", "10.0.1.2", 6, 40000, 22);
	s.payload = 10;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.family, 4);
	CU_ASSERT_EQUAL(p.t.proto, 6);
	CU_ASSERT_EQUAL(p.t.sport, 40000);
	CU_ASSERT_EQUAL(p.t.dport, 22);
	CU_ASSERT_EQUAL(p.match_port, 22);
	CU_ASSERT_EQUAL(p.tcp_flags, ZW_TCP_SYN);
	CU_ASSERT_EQUAL(p.l3_len, 20 + 20 + 10);
	CU_ASSERT_EQUAL(p.flags, 0);
	inet_pton(AF_INET, "10.0.0.1", a);
	CU_ASSERT(memcmp(p.t.src, a, 4) == 0);
	CU_ASSERT(p.t.src[4] == 0 && p.t.src[15] == 0);
	inet_pton(AF_INET, "10.0.1.2", a);
	CU_ASSERT(memcmp(p.t.dst, a, 4) == 0);
	CU_ASSERT(zw_pkt__may_open(&p));
	s.tcp_flags = ZW_TCP_SYN | ZW_TCP_ACK;
	parse_spec(&s, &p);
	CU_ASSERT(!zw_pkt__may_open(&p));
	/* IPv4 options are skipped */
	s.ip_opts = 8;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.dport, 22);
}

static void test_protocols(void)
{
	struct zw_pb s;
	struct zw_pkt p;

	spec(&s, "10.0.0.1", "10.0.1.2", 17, 5353, 53);
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.match_port, 53);
	CU_ASSERT_EQUAL(p.t.sport, 5353);

	spec(&s, "fd00::1", "fd00:1::2", 132, 1000, 2905);
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.family, 6);
	CU_ASSERT_EQUAL(p.t.proto, 132);
	CU_ASSERT_EQUAL(p.match_port, 2905);

	/* ICMP echo: the id at the requester's end, the tag of the request
	 * type at the other; the rule port is the type */
	spec(&s, "10.0.0.1", "10.0.1.2", 1, 0, 0);
	s.icmp_type = 8;
	s.icmp_id = 0x4242;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.match_port, 8);
	CU_ASSERT_EQUAL(p.t.sport, 0x4242);
	CU_ASSERT_EQUAL(p.t.dport, ZW_ICMP_TAG | 8);
	CU_ASSERT(p.flags & ZW_PF_ICMP_QUERY);
	CU_ASSERT_EQUAL(zw_pkt__icmp_id(&p), 0x4242);

	/* ICMPv6 echo reply */
	spec(&s, "fd00::1", "fd00:1::2", 58, 0, 0);
	s.icmp_type = 129;
	s.icmp_id = 7;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.match_port, 129);
	CU_ASSERT_EQUAL(p.t.sport, ZW_ICMP_TAG | 128);
	CU_ASSERT_EQUAL(p.t.dport, 7);
	CU_ASSERT_EQUAL(zw_pkt__icmp_id(&p), 7);

	/* ICMP informational without id: the tag of its type */
	spec(&s, "10.0.0.1", "10.0.1.2", 1, 0, 0);
	s.icmp_type = 9;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.sport, 0);
	CU_ASSERT_EQUAL(p.t.dport, ZW_ICMP_TAG | 9);
	CU_ASSERT_EQUAL(p.match_port, 9);
	CU_ASSERT_EQUAL(zw_pkt__icmp_id(&p), 0);

	/* other protocols: no ports, rule port 0 */
	spec(&s, "10.0.0.1", "10.0.1.2", 50, 0, 0);
	s.payload = 40;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.proto, 50);
	CU_ASSERT_EQUAL(p.match_port, 0);
	CU_ASSERT_EQUAL(p.t.sport, 0);

	/* ICMPv6 number inside IPv4: a plain protocol, no fields read */
	spec(&s, "10.0.0.1", "10.0.1.2", 58, 0, 0);
	s.icmp_type = 128;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.match_port, 0);
}

static void test_l2(void)
{
	struct zw_pb s;
	struct zw_pkt p;
	uint8_t arp[60] = {0};

	spec(&s, "10.0.0.1", "10.0.1.2", 6, 1, 2);
	s.vlans = 1;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.dport, 2);
	s.vlans = 2;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.dport, 2);
	s.vlans = 3;
	DROPS(&s, ZW_DROP_BAD_HEADER);

	arp[12] = 0x08;
	arp[13] = 0x06;
	CU_ASSERT_EQUAL(zw_parse(arp, arp + sizeof(arp), &p), ZW_PARSE_NOT_IP);
	CU_ASSERT_EQUAL(zw_parse(arp, arp + 13, &p), ZW_PARSE_DROP);
	CU_ASSERT_EQUAL(p.reason, ZW_DROP_TRUNCATED);
	/* VLAN header cut */
	arp[12] = 0x81;
	arp[13] = 0x00;
	CU_ASSERT_EQUAL(zw_parse(arp, arp + 16, &p), ZW_PARSE_DROP);
	CU_ASSERT_EQUAL(p.reason, ZW_DROP_TRUNCATED);
}

static void test_ipv4_malformed(void)
{
	struct zw_pb s;

	spec(&s, "10.0.0.1", "10.0.1.2", 17, 1, 53);
	s.payload = 20;
	s.ihl = 4;
	DROPS(&s, ZW_DROP_BAD_HEADER); /* IHL < 5 */
	s.ihl = 0;
	s.version = 5;
	DROPS(&s, ZW_DROP_BAD_HEADER); /* version */
	s.version = 0;
	s.tot_delta = 1;
	DROPS(&s, ZW_DROP_TRUNCATED); /* tot_len beyond the frame */
	s.tot_delta = -(20 + 8 + 20) + 19;
	DROPS(&s, ZW_DROP_BAD_HEADER); /* tot_len < IHL */
	s.tot_delta = -(8 + 20) + 4;
	DROPS(&s, ZW_DROP_TRUNCATED); /* L4 header beyond tot_len */
	s.tot_delta = 0;
	s.evil = 1;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.evil = 0;
	s.udp_len = 7;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.udp_len = 8 + 21;
	DROPS(&s, ZW_DROP_BAD_HEADER); /* longer than the IP payload */
	s.udp_len = 0;
	s.ihl = 15; /* options beyond the frame */
	s.trunc = 14 + 40;
	DROPS(&s, ZW_DROP_TRUNCATED);
	s.ihl = 0;
	s.trunc = 14 + 19;
	DROPS(&s, ZW_DROP_TRUNCATED);

	spec(&s, "10.0.0.1", "10.0.1.2", 6, 1, 22);
	s.tcp_doff = 4;
	s.payload = 10;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.payload = 0;
	s.tcp_doff = 15; /* options beyond the IP payload */
	s.trunc = 14 + 20 + 20;
	s.tot_delta = -40;
	DROPS(&s, ZW_DROP_TRUNCATED);
	s.tcp_doff = 0;
	s.trunc = 0;
	s.tot_delta = 0;
	s.tcp_flags = ZW_TCP_SYN | ZW_TCP_FIN;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.tcp_flags = ZW_TCP_SYN | ZW_TCP_RST;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.tcp_flags = ZW_TCP_SYN;
	s.trunc = 14 + 20 + 19;
	DROPS(&s, ZW_DROP_TRUNCATED);
}

static void test_ipv6_ext(void)
{
	struct zw_pb s;
	struct zw_pkt p;
	int i;

	spec(&s, "fd00::1", "fd00:1::2", 6, 1234, 443);
	s.ext[0] = 0;
	s.ext[1] = 60;
	s.ext[2] = 43;
	s.ext[3] = 60;
	s.n_ext = 4;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.proto, 6);
	CU_ASSERT_EQUAL(p.match_port, 443);
	/* AH is the protocol, as in IPv4 */
	s.ext[4] = 51;
	s.n_ext = 5;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.proto, 51);
	CU_ASSERT_EQUAL(p.match_port, 0);
	CU_ASSERT_EQUAL(p.t.sport, 0);

	/* the limit: ZW_IPV6_EXT_MAX headers pass, one more does not */
	for (i = 0; i < ZW_IPV6_EXT_MAX; i++)
		s.ext[i] = 60;
	s.n_ext = ZW_IPV6_EXT_MAX;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.match_port, 443);
	s.ext[ZW_IPV6_EXT_MAX] = 60;
	s.n_ext = ZW_IPV6_EXT_MAX + 1;
	DROPS(&s, ZW_DROP_EXT_HEADERS);

	/* hop-by-hop anywhere but first */
	s.n_ext = 2;
	s.ext[0] = 60;
	s.ext[1] = 0;
	DROPS(&s, ZW_DROP_EXT_HEADERS);
	/* routing header type 0 */
	s.ext[1] = 43;
	s.rh0 = 1;
	DROPS(&s, ZW_DROP_EXT_HEADERS);
	s.rh0 = 0;
	/* two fragment headers */
	s.ext[0] = 44;
	s.ext[1] = 44;
	s.frag_mf = 1;
	DROPS(&s, ZW_DROP_EXT_HEADERS);
	/* ext header cut by the frame */
	s.n_ext = 1;
	s.ext[0] = 60;
	s.frag_mf = 0;
	s.trunc = 14 + 40 + 3;
	DROPS(&s, ZW_DROP_TRUNCATED);
	/* ext header longer than payload_len */
	s.trunc = 0;
	s.tot_delta = -(8 + 20) + 4;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	s.tot_delta = 1;
	DROPS(&s, ZW_DROP_TRUNCATED);
	/* version */
	s.tot_delta = 0;
	s.version = 4;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	/* payload_len 0 (jumbogram) */
	s.version = 0;
	s.tot_delta = -(8 + 20);
	DROPS(&s, ZW_DROP_BAD_HEADER);
	/* ESP ends the walk */
	spec(&s, "fd00::1", "fd00:1::2", 50, 0, 0);
	s.ext[0] = 60;
	s.n_ext = 1;
	s.payload = 30;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.proto, 50);
	/* no next header */
	spec(&s, "fd00::1", "fd00:1::2", 59, 0, 0);
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.t.proto, 59);
}

static void test_fragments(void)
{
	struct zw_pb s;
	struct zw_pkt p;

	/* IPv4 first fragment: judged like a packet, remembered */
	spec(&s, "10.0.0.1", "10.0.1.2", 17, 1000, 53);
	s.frag = 1;
	s.frag_mf = 1;
	s.frag_id = 0x1234;
	s.payload = 64;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER), ZW_PF_FRAG);
	CU_ASSERT_EQUAL(p.frag_id, 0x1234);
	CU_ASSERT_EQUAL(p.frag_proto, 17);
	CU_ASSERT_EQUAL(p.match_port, 53);
	/* first fragment hiding the L4 header */
	s.frag_nol4 = 4;
	DROPS(&s, ZW_DROP_FRAGMENT);
	s.frag_nol4 = 0;
	/* later fragment */
	s.frag_off = 9;
	s.frag_mf = 0;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER),
			ZW_PF_FRAG | ZW_PF_FRAG_LATER);
	CU_ASSERT_EQUAL(p.t.sport, 0);
	CU_ASSERT_EQUAL(p.frag_id, 0x1234);
	CU_ASSERT_EQUAL(p.frag_proto, 17);
	/* RFC 1858: TCP later fragment at offset 8 overlaps the header */
	spec(&s, "10.0.0.1", "10.0.1.2", 6, 1000, 80);
	s.frag = 1;
	s.frag_off = 1;
	s.payload = 40;
	DROPS(&s, ZW_DROP_FRAGMENT);
	s.frag_off = 3;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);

	/* IPv6 */
	spec(&s, "fd00::1", "fd00:1::2", 17, 1000, 53);
	s.ext[0] = 44;
	s.n_ext = 1;
	s.frag_mf = 1;
	s.frag_id = 0xdeadbeef;
	s.payload = 64;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER), ZW_PF_FRAG);
	CU_ASSERT_EQUAL(p.frag_id, 0xdeadbeef);
	CU_ASSERT_EQUAL(p.match_port, 53);
	s.frag_nol4 = 6;
	DROPS(&s, ZW_DROP_FRAGMENT);
	s.frag_nol4 = 0;
	s.frag_off = 100;
	s.frag_mf = 0;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT(p.flags & ZW_PF_FRAG_LATER);
	CU_ASSERT_EQUAL(p.frag_proto, 17);
	/* atomic fragment: not a fragment */
	s.frag_off = 0;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.flags & ZW_PF_FRAG, 0);
	CU_ASSERT_EQUAL(p.match_port, 53);
	/* first fragment whose chain goes on past it */
	s.ext[0] = 44;
	s.ext[1] = 60;
	s.n_ext = 2;
	s.frag_mf = 1;
	s.trunc = 14 + 40 + 8 + 3;
	s.tot_delta = -(8 + 8 + 64) + 3;
	DROPS(&s, ZW_DROP_FRAGMENT);
}

static void test_icmp_errors(void)
{
	struct zw_pb q, s;
	struct zw_pkt p;

	/* the packet a host sent, then the error coming back to it */
	spec(&q, "10.0.0.1", "10.0.1.2", 17, 5000, 53);
	q.payload = 100;
	spec(&s, "10.0.1.254", "10.0.0.1", 1, 0, 0);
	s.icmp_type = 3;
	s.icmp_code = 3;
	s.quote = &q;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT(p.flags & ZW_PF_ICMP_ERR);
	CU_ASSERT_EQUAL(p.match_port, 3);
	CU_ASSERT_EQUAL(p.inner.proto, 17);
	CU_ASSERT_EQUAL(p.inner.sport, 5000);
	CU_ASSERT_EQUAL(p.inner.dport, 53);
	CU_ASSERT_EQUAL(p.inner.family, 4);
	CU_ASSERT(memcmp(p.inner.src, p.t.dst, 16) == 0);
	CU_ASSERT(zw_pkt__error_to_sender(&p));
	/* the whole quoted packet fits: same answer */
	s.quote_len = 200;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.inner.dport, 53);
	/* a quote cut before the ports */
	s.quote_len = 20 + 3;
	DROPS(&s, ZW_DROP_TRUNCATED);
	/* a quote with a bad IHL */
	s.quote_len = 0;
	q.ihl = 3;
	DROPS(&s, ZW_DROP_BAD_HEADER);
	q.ihl = 0;
	/* a quote of a later fragment: no ports to relate it by */
	q.frag = 1;
	q.frag_off = 10;
	DROPS(&s, ZW_DROP_FRAGMENT);
	q.frag = 0;
	q.frag_off = 0;
	/* a fragmented error */
	s.frag = 1;
	s.frag_mf = 1;
	DROPS(&s, ZW_DROP_FRAGMENT);
	s.frag = 0;
	s.frag_mf = 0;
	/* an error sent elsewhere than to the quoted packet's sender */
	inet_pton(AF_INET, "10.0.9.9", s.dst);
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT(!zw_pkt__error_to_sender(&p));

	/* ICMPv6 packet too big about a TCP segment with ext headers */
	spec(&q, "fd00::1", "fd00:1::2", 6, 40000, 443);
	q.tcp_flags = ZW_TCP_ACK;
	q.ext[0] = 60;
	q.n_ext = 1;
	q.payload = 1400;
	spec(&s, "fd00:1::fe", "fd00::1", 58, 0, 0);
	s.icmp_type = 2;
	s.quote = &q;
	s.quote_len = 1000;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT(p.flags & ZW_PF_ICMP_ERR);
	CU_ASSERT_EQUAL(p.inner.proto, 6);
	CU_ASSERT_EQUAL(p.inner.sport, 40000);
	CU_ASSERT_EQUAL(p.inner.dport, 443);
	CU_ASSERT(zw_pkt__error_to_sender(&p));
	/* echo quoted: the tuple of the echo itself (its connection's key) */
	spec(&q, "fd00::1", "fd00:1::2", 58, 0, 0);
	q.icmp_type = 128;
	q.icmp_id = 99;
	s.quote_len = 0;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	CU_ASSERT_EQUAL(p.inner.sport, 99);
	CU_ASSERT_EQUAL(p.inner.dport, ZW_ICMP_TAG | 128);
	{
		struct zw_pkt e;
		struct zw_tuple k1, k2;

		CU_ASSERT_EQUAL(parse_spec(&q, &e), ZW_PARSE_IP);
		zw_tuple__normalise(&e.t, &k1);
		zw_tuple__normalise(&p.inner, &k2);
		CU_ASSERT(memcmp(&k1, &k2, sizeof(k1)) == 0);
	}
}

static void test_link_local(void)
{
	struct zw_pb s;
	struct zw_pkt p;

	spec(&s, "fe80::1", "ff02::1:ff00:2", 58, 0, 0);
	s.icmp_type = 135; /* NS */
	s.hop_limit = 255;
	s.payload = 16;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_LINK_LOCAL);
	s.hop_limit = 64; /* off-link: judged */
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	s.icmp_type = 143; /* MLDv2 report */
	s.hop_limit = 1;
	s.ext[0] = 0;
	s.n_ext = 1;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_LINK_LOCAL);
	spec(&s, "fd00::1", "ff02::16", 58, 0, 0);
	s.icmp_type = 143;
	s.hop_limit = 1;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
}

/* Cut valid packets at every length: the parser never reads outside the
 * frame (ASan watches) and every cut before the last header it needs is a
 * drop. */
static void test_truncation(void)
{
	struct zw_pb specs[6], q;
	size_t k, n, cut;
	struct zw_pkt p;
	uint8_t *copy;

	spec(&specs[0], "10.0.0.1", "10.0.1.2", 6, 1, 2);
	spec(&specs[1], "fd00::1", "fd00:1::2", 17, 1, 2);
	specs[1].ext[0] = 0;
	specs[1].ext[1] = 44;
	specs[1].ext[2] = 60;
	specs[1].n_ext = 3;
	spec(&specs[2], "10.0.0.1", "10.0.1.2", 132, 1, 2);
	specs[2].vlans = 2;
	spec(&q, "10.0.0.1", "10.0.1.2", 6, 1, 2);
	spec(&specs[3], "10.0.1.2", "10.0.0.1", 1, 0, 0);
	specs[3].icmp_type = 11;
	specs[3].quote = &q;
	spec(&specs[4], "fd00::1", "fd00:1::2", 58, 0, 0);
	specs[4].icmp_type = 128;
	spec(&specs[5], "10.0.0.1", "10.0.1.2", 6, 1, 2);
	specs[5].ip_opts = 12;
	for (k = 0; k < 6; k++) {
		n = zw_pb__build(&specs[k], frame, sizeof(frame));
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_EQUAL(zw_parse(frame, frame + n, &p), ZW_PARSE_IP);
		/* cuts in the Ethernet padding are harmless */
		n = 14 + 4 * (size_t)specs[k].vlans + p.l3_len;
		for (cut = 0; cut < n; cut++) {
			int c;

			/* exact-size heap copy so ASan sees any overread */
			copy = malloc(cut ? cut : 1);
			memcpy(copy, frame, cut);
			c = zw_parse(copy, copy + cut, &p);
			free(copy);
			/* all these frames are shorter than their headers
			 * or their IP length: never accepted as IP */
			if (c != ZW_PARSE_DROP)
				fprintf(stderr, "  spec %zu cut %zu: class %d\n",
					k, cut, c);
			CU_ASSERT_EQUAL(c, ZW_PARSE_DROP);
			CU_ASSERT(p.reason == ZW_DROP_TRUNCATED ||
				  p.reason == ZW_DROP_FRAGMENT);
		}
	}
}

static void test_normalise(void)
{
	struct zw_pb s;
	struct zw_pkt a, b;
	struct zw_tuple ka, kb, orig;
	struct zw_conn c;
	int sa, sb;

	spec(&s, "10.0.1.2", "10.0.0.1", 6, 40000, 22);
	parse_spec(&s, &a);
	spec(&s, "10.0.0.1", "10.0.1.2", 6, 22, 40000);
	s.tcp_flags = ZW_TCP_SYN | ZW_TCP_ACK;
	parse_spec(&s, &b);
	sa = zw_tuple__normalise(&a.t, &ka);
	sb = zw_tuple__normalise(&b.t, &kb);
	CU_ASSERT(memcmp(&ka, &kb, sizeof(ka)) == 0);
	CU_ASSERT(sa != sb);
	zw_conn__init(&c, &a, sa, 1000, 3, 7, 1, 2, 0);
	CU_ASSERT(!zw_conn__is_reply(&c, sa));
	CU_ASSERT(zw_conn__is_reply(&c, sb));
	zw_conn__orig(&ka, &c, &orig);
	CU_ASSERT(memcmp(&orig, &a.t, sizeof(orig)) == 0);
	CU_ASSERT_EQUAL(c.match_port, 22);
	CU_ASSERT_EQUAL(c.flow, 3);
	CU_ASSERT_EQUAL(c.generation, 7);

	/* same address both ends: the ports decide */
	spec(&s, "fd00::1", "fd00::1", 17, 9, 8);
	parse_spec(&s, &a);
	sa = zw_tuple__normalise(&a.t, &ka);
	CU_ASSERT_EQUAL(sa, 1);
	CU_ASSERT_EQUAL(ka.sport, 8);
	zw_conn__init(&c, &a, sa, 0, 0, 0, 0, 0, 0);
	zw_conn__orig(&ka, &c, &orig);
	CU_ASSERT(memcmp(&orig, &a.t, sizeof(orig)) == 0);

	/* ICMP echo request and reply share a key */
	spec(&s, "10.0.0.1", "10.0.1.2", 1, 0, 0);
	s.icmp_type = 8;
	s.icmp_id = 5;
	parse_spec(&s, &a);
	spec(&s, "10.0.1.2", "10.0.0.1", 1, 0, 0);
	s.icmp_type = 0;
	s.icmp_id = 5;
	parse_spec(&s, &b);
	zw_tuple__normalise(&a.t, &ka);
	zw_tuple__normalise(&b.t, &kb);
	CU_ASSERT(memcmp(&ka, &kb, sizeof(ka)) == 0);
}

static struct zw_pkt tcp_pkt(int reply, uint8_t flags)
{
	struct zw_pb s;
	struct zw_pkt p;

	if (reply)
		spec(&s, "10.0.1.2", "10.0.0.1", 6, 22, 40000);
	else
		spec(&s, "10.0.0.1", "10.0.1.2", 6, 40000, 22);
	s.tcp_flags = flags;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	return p;
}

#define SEC_NS(x) ((__u64)(x) * ZW_NS_PER_SEC)

static void test_tcp_states(void)
{
	struct zw_pkt syn = tcp_pkt(0, ZW_TCP_SYN);
	struct zw_pkt synack = tcp_pkt(1, ZW_TCP_SYN | ZW_TCP_ACK);
	struct zw_pkt ack = tcp_pkt(0, ZW_TCP_ACK);
	struct zw_pkt rack = tcp_pkt(1, ZW_TCP_ACK);
	struct zw_pkt fin = tcp_pkt(0, ZW_TCP_FIN | ZW_TCP_ACK);
	struct zw_pkt rfin = tcp_pkt(1, ZW_TCP_FIN | ZW_TCP_ACK);
	struct zw_pkt rst = tcp_pkt(1, ZW_TCP_RST);
	struct zw_conn c;
	__u64 t = SEC_NS(1000);

	zw_conn__init(&c, &syn, 0, t, 0, 1, 1, 2, 0);
	CU_ASSERT_EQUAL(c.state, ZW_CS_SYN_SENT);
	CU_ASSERT(!zw_conn__expired(&c, 6, t + SEC_NS(ZW_TO_TCP_SYN_SENT)));
	CU_ASSERT(zw_conn__expired(&c, 6, t + SEC_NS(ZW_TO_TCP_SYN_SENT) + 1));
	/* a clock that went backwards never expires */
	CU_ASSERT(!zw_conn__expired(&c, 6, t - SEC_NS(1000)));
	CU_ASSERT_EQUAL(zw_conn__track(&c, &syn, 0, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_SYN_SENT);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &synack, 1, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_SYN_RECV);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &ack, 0, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_ESTABLISHED);
	t += SEC_NS(3600);
	CU_ASSERT(!zw_conn__expired(&c, 6, t));
	CU_ASSERT_EQUAL(zw_conn__track(&c, &rack, 1, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.last_ns, t);
	CU_ASSERT(zw_conn__expired(&c, 6, t + SEC_NS(ZW_TO_TCP_ESTABLISHED) + 1));
	/* a SYN on a live connection is part of it, not a re-open */
	CU_ASSERT_EQUAL(zw_conn__track(&c, &syn, 0, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_ESTABLISHED);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &fin, 0, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_FIN_WAIT);
	CU_ASSERT(zw_conn__expired(&c, 6, t + SEC_NS(ZW_TO_TCP_FIN_WAIT) + 1));
	CU_ASSERT_EQUAL(zw_conn__track(&c, &rfin, 1, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_TIME_WAIT);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &ack, 0, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_TIME_WAIT);
	/* a new SYN re-opens (judged again); the entry is untouched */
	CU_ASSERT_EQUAL(zw_conn__track(&c, &syn, 0, t + 5), ZW_CA_REOPEN);
	CU_ASSERT_EQUAL(c.last_ns, t);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &synack, 1, t), ZW_CA_PASS);

	/* RST closes from any state */
	zw_conn__init(&c, &syn, 0, t, 0, 1, 1, 2, 0);
	zw_conn__track(&c, &synack, 1, t);
	zw_conn__track(&c, &ack, 0, t);
	CU_ASSERT_EQUAL(zw_conn__track(&c, &rst, 1, t), ZW_CA_PASS);
	CU_ASSERT_EQUAL(c.state, ZW_CS_CLOSE);
	CU_ASSERT(zw_conn__expired(&c, 6, t + SEC_NS(ZW_TO_TCP_CLOSE) + 1));
	CU_ASSERT_EQUAL(zw_conn__track(&c, &syn, 0, t), ZW_CA_REOPEN);
	/* the responder may re-open too (its SYN is judged as new) */
	{
		struct zw_pkt rsyn = tcp_pkt(1, ZW_TCP_SYN);

		CU_ASSERT_EQUAL(zw_conn__track(&c, &rsyn, 1, t), ZW_CA_REOPEN);
	}
	/* simultaneous open: responder's bare SYN */
	zw_conn__init(&c, &syn, 0, t, 0, 1, 1, 2, 0);
	{
		struct zw_pkt rsyn = tcp_pkt(1, ZW_TCP_SYN);

		zw_conn__track(&c, &rsyn, 1, t);
		CU_ASSERT_EQUAL(c.state, ZW_CS_SYN_RECV);
	}
	CU_ASSERT_EQUAL(zw_conn__timeout_ns(&c, 6), SEC_NS(ZW_TO_TCP_SYN_RECV));
}

static void test_udp_states(void)
{
	struct zw_pb s;
	struct zw_pkt q, r, e;
	struct zw_conn c;
	__u64 t = SEC_NS(50);

	spec(&s, "10.0.0.1", "10.0.1.2", 17, 1000, 53);
	parse_spec(&s, &q);
	spec(&s, "10.0.1.2", "10.0.0.1", 17, 53, 1000);
	parse_spec(&s, &r);
	CU_ASSERT(zw_pkt__may_open(&q));
	CU_ASSERT(zw_pkt__may_open(&r));
	zw_conn__init(&c, &q, 0, t, 2, 1, 1, 2, 1);
	CU_ASSERT(c.flags & ZW_CF_LOG);
	CU_ASSERT_EQUAL(c.state, ZW_CS_UNREPLIED);
	CU_ASSERT(zw_conn__expired(&c, 17, t + SEC_NS(ZW_TO_UDP_UNREPLIED) + 1));
	zw_conn__track(&c, &q, 0, t);
	CU_ASSERT_EQUAL(c.state, ZW_CS_UNREPLIED);
	zw_conn__track(&c, &r, 1, t);
	CU_ASSERT_EQUAL(c.state, ZW_CS_REPLIED);
	CU_ASSERT(!zw_conn__expired(&c, 17, t + SEC_NS(ZW_TO_UDP_REPLIED)));
	CU_ASSERT(zw_conn__expired(&c, 17, t + SEC_NS(ZW_TO_UDP_REPLIED) + 1));

	spec(&s, "10.0.0.1", "10.0.1.2", 1, 0, 0);
	s.icmp_type = 8;
	parse_spec(&s, &e);
	zw_conn__init(&c, &e, 0, t, 2, 1, 1, 2, 0);
	CU_ASSERT_EQUAL(zw_conn__timeout_ns(&c, 1), SEC_NS(ZW_TO_ICMP));
	spec(&s, "10.0.0.1", "10.0.1.2", 47, 0, 0);
	parse_spec(&s, &e);
	zw_conn__init(&c, &e, 0, t, 2, 1, 1, 2, 0);
	CU_ASSERT_EQUAL(zw_conn__timeout_ns(&c, 47), SEC_NS(ZW_TO_OTHER));
}

/* An ICMP query connection is its request type from the initiator and
 * the matching reply type from the responder: the tuple (the connection
 * key) tells them from any other ICMP message with the same identifier
 * (another query type, a request from the responder, a message without
 * identifier), which is then a connection of its own, judged as new. */
static struct zw_pkt icmp_pkt(const char *src, const char *dst, uint8_t type,
			      uint16_t id)
{
	struct zw_pb s;
	struct zw_pkt p;

	spec(&s, src, dst, strchr(src, ':') ? 58 : 1, 0, 0);
	s.icmp_type = type;
	s.icmp_id = id;
	CU_ASSERT_EQUAL(parse_spec(&s, &p), ZW_PARSE_IP);
	return p;
}

static int same_key(const struct zw_pkt *a, const struct zw_pkt *b)
{
	struct zw_tuple ka, kb;

	zw_tuple__normalise(&a->t, &ka);
	zw_tuple__normalise(&b->t, &kb);
	return !memcmp(&ka, &kb, sizeof(ka));
}

static void test_icmp_keys(void)
{
	struct zw_pkt req = icmp_pkt("10.0.0.1", "10.0.1.2", 8, 77);
	struct zw_pkt rep = icmp_pkt("10.0.1.2", "10.0.0.1", 0, 77);
	struct zw_pkt req2 = icmp_pkt("10.0.0.1", "10.0.1.2", 8, 77);
	struct zw_pkt ts = icmp_pkt("10.0.0.1", "10.0.1.2", 13, 77);
	struct zw_pkt tsr = icmp_pkt("10.0.1.2", "10.0.0.1", 14, 77);
	struct zw_pkt rreq = icmp_pkt("10.0.1.2", "10.0.0.1", 8, 77);
	struct zw_pkt frep = icmp_pkt("10.0.0.1", "10.0.1.2", 0, 77);
	struct zw_pkt r9 = icmp_pkt("10.0.0.1", "10.0.1.2", 9, 0);
	struct zw_pkt r9b = icmp_pkt("10.0.1.2", "10.0.0.1", 9, 0);
	struct zw_pkt r10 = icmp_pkt("10.0.1.2", "10.0.0.1", 10, 0);
	struct zw_pkt req0 = icmp_pkt("10.0.0.1", "10.0.1.2", 8, 0);
	struct zw_pkt rep0 = icmp_pkt("10.0.1.2", "10.0.0.1", 0, 0);
	struct zw_pkt q6 = icmp_pkt("fd00::1", "fd00:1::2", 128, 5);
	struct zw_pkt r6 = icmp_pkt("fd00:1::2", "fd00::1", 129, 5);
	struct zw_pkt rq6 = icmp_pkt("fd00:1::2", "fd00::1", 128, 5);
	struct zw_tuple k;
	struct zw_conn c;
	int sw;

	/* request and reply: one connection, the reply from the responder */
	CU_ASSERT(same_key(&req, &rep));
	CU_ASSERT(same_key(&req, &req2));
	sw = zw_tuple__normalise(&req.t, &k);
	zw_conn__init(&c, &req, sw, 1, 0, 1, 1, 2, 0);
	CU_ASSERT(zw_conn__is_reply(&c, zw_tuple__normalise(&rep.t, &k)));
	CU_ASSERT(!zw_conn__is_reply(&c, zw_tuple__normalise(&req2.t, &k)));
	CU_ASSERT(same_key(&ts, &tsr));
	/* not part of it */
	CU_ASSERT(!same_key(&req, &ts));
	CU_ASSERT(!same_key(&req, &rreq));
	CU_ASSERT(!same_key(&req, &frep));
	CU_ASSERT(!same_key(&ts, &rreq));
	/* messages without identifier: per type and direction */
	CU_ASSERT(same_key(&r9, &r9));
	CU_ASSERT(!same_key(&r9, &r9b));
	CU_ASSERT(!same_key(&r9, &r10));
	CU_ASSERT(!same_key(&r9, &req0));
	CU_ASSERT(!same_key(&r9, &rep0));
	CU_ASSERT(same_key(&req0, &rep0));
	/* ICMPv6 */
	CU_ASSERT(same_key(&q6, &r6));
	CU_ASSERT(!same_key(&q6, &rq6));
	/* the id is in the port of the requester's end */
	CU_ASSERT_EQUAL(req.t.sport, 77);
	CU_ASSERT_EQUAL(rep.t.dport, 77);
	CU_ASSERT_EQUAL(req.match_port, 8);
	CU_ASSERT_EQUAL(rep.match_port, 0);
}

static void test_frag_table(void)
{
	struct zw_pb s;
	struct zw_pkt a, b;
	struct zw_frag_key ka, kb;
	struct zw_frag f = {.first_ns = SEC_NS(10), .flow = 1, .generation = 4};

	spec(&s, "fd00::1", "fd00:1::2", 17, 1000, 53);
	s.ext[0] = 44;
	s.n_ext = 1;
	s.frag_mf = 1;
	s.frag_id = 77;
	s.payload = 100;
	parse_spec(&s, &a);
	s.frag_off = 20;
	s.frag_mf = 0;
	parse_spec(&s, &b);
	zw_frag_key__from_pkt(&a, &ka);
	zw_frag_key__from_pkt(&b, &kb);
	CU_ASSERT(memcmp(&ka, &kb, sizeof(ka)) == 0);
	CU_ASSERT(zw_frag__admits(&f, SEC_NS(10 + ZW_TO_FRAG), 4));
	CU_ASSERT(!zw_frag__admits(&f, SEC_NS(10 + ZW_TO_FRAG) + 1, 4));
	CU_ASSERT(!zw_frag__admits(&f, SEC_NS(11), 5));
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("core", NULL, NULL);
	CU_add_test(s, "tcp over ipv4", test_tcp4);
	CU_add_test(s, "protocols", test_protocols);
	CU_add_test(s, "ethernet and vlan", test_l2);
	CU_add_test(s, "ipv4 malformed", test_ipv4_malformed);
	CU_add_test(s, "ipv6 extension headers", test_ipv6_ext);
	CU_add_test(s, "fragments", test_fragments);
	CU_add_test(s, "icmp errors", test_icmp_errors);
	CU_add_test(s, "ipv6 link-local control", test_link_local);
	CU_add_test(s, "truncation at every byte", test_truncation);
	CU_add_test(s, "normalised tuple", test_normalise);
	CU_add_test(s, "tcp state machine", test_tcp_states);
	CU_add_test(s, "udp/icmp/other states", test_udp_states);
	CU_add_test(s, "icmp connection keys", test_icmp_keys);
	CU_add_test(s, "fragment table", test_frag_table);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
