// SPDX-License-Identifier: BSD-2-Clause
/*
 * Unit tests of the nftables engine's flow records (nft_records.c),
 * without a kernel: raw netlink messages, built here attribute by
 * attribute as the kernel sends them (ctnetlink events and dump entries,
 * nfnetlink_log packets), turned into struct zw_flow_record, every field
 * checked:
 *  - conntrack NEW event: created, 5-tuple, flow index from the ct mark
 *    (L7's bits ignored), zones from the image's flow, times;
 *  - DESTROY: ended, both directions' counters, start and end, end reason
 *    from the TCP state (closed) or not (idle);
 *  - a dump entry: update once open for the active timeout, nothing
 *    before; ICMP and IPv6 tuples;
 *  - no flow index in the mark (none, or only L7's bits): no record;
 *  - NFLOG: a denial's reason and flow from the prefix, addresses and
 *    ports from the copied headers (cut short by the copy length),
 *    interfaces, time; the accept log of a log: true flow and unknown
 *    reasons are no record.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <zonewall/flow_record.h>
#include <zonewall/l7.h>
#include <zonewall/policy.h>

#include "zwnft.h"

#define S 1000000000ull

static char buf[8192];
/* flows 0..3: zones (1,2) (2,3) (3,1) (4,4) */
static const uint16_t zones[] = {1, 2, 2, 3, 3, 1, 4, 4};
static const struct zwnft_rec_ctx cx = {
	.zones = zones,
	.n_flows = 4,
	.real_to_mono_ns = -(int64_t)(1700000000ull * S), /* real - 1.7e9 s */
	.now_mono_ns = 5000 * S,
	.active_timeout_s = 300,
};

struct ct_msg {
	uint8_t type;	/* IPCTNL_MSG_CT_NEW / _DELETE */
	uint16_t flags; /* NLM_F_CREATE for a NEW event, 0 for a dump */
	int family;	/* AF_INET / AF_INET6 */
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;		 /* TCP/UDP */
	uint8_t icmp_type, icmp_code;	 /* ICMP */
	uint16_t icmp_id;
	uint32_t mark;
	bool no_mark;
	uint64_t op, ob, rp, rb;	 /* counters, 0 = none */
	uint64_t start_real, stop_real;	 /* ns, 0 = none */
	int tcp_state;			 /* -1 = none */
};

static void put_addr(struct nlmsghdr *nlh, uint16_t type, int family,
		     const char *a)
{
	uint8_t b[16];

	inet_pton(family, a, b);
	mnl_attr_put(nlh, type, family == AF_INET ? 4 : 16, b);
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type,
		      const struct ct_msg *m, bool reply)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, type), *n;
	bool v4 = m->family == AF_INET;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	put_addr(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, m->family,
		 reply ? m->dst : m->src);
	put_addr(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, m->family,
		 reply ? m->src : m->dst);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, m->proto);
	if (m->proto == 1 || m->proto == 58) {
		bool six = m->proto == 58;

		mnl_attr_put_u16(nlh, six ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID,
				 htons(m->icmp_id));
		mnl_attr_put_u8(nlh, six ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE,
				reply ? (uint8_t)(m->icmp_type == 8 ? 0 : 129)
				      : m->icmp_type);
		mnl_attr_put_u8(nlh, six ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE,
				m->icmp_code);
	} else {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT,
				 htons(reply ? m->dport : m->sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT,
				 htons(reply ? m->sport : m->dport));
	}
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, t);
}

static void put_counters(struct nlmsghdr *nlh, uint16_t type, uint64_t p,
			 uint64_t b)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(p));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(b));
	mnl_attr_nest_end(nlh, n);
}

/* A ctnetlink message as the kernel sends an event or a dump entry. */
static struct nlmsghdr *ct_build(const struct ct_msg *m)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | m->type;
	nlh->nlmsg_flags = m->flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)m->family;
	g->version = NFNETLINK_V0;
	put_tuple(nlh, CTA_TUPLE_ORIG, m, false);
	put_tuple(nlh, CTA_TUPLE_REPLY, m, true);
	if (!m->no_mark)
		mnl_attr_put_u32(nlh, CTA_MARK, htonl(m->mark));
	if (m->op || m->rp) {
		put_counters(nlh, CTA_COUNTERS_ORIG, m->op, m->ob);
		put_counters(nlh, CTA_COUNTERS_REPLY, m->rp, m->rb);
	}
	if (m->start_real) {
		struct nlattr *n = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);

		mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(m->start_real));
		if (m->stop_real)
			mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP,
					 htobe64(m->stop_real));
		mnl_attr_nest_end(nlh, n);
	}
	if (m->tcp_state >= 0 && m->proto == 6) {
		struct nlattr *pi = mnl_attr_nest_start(nlh, CTA_PROTOINFO);
		struct nlattr *t = mnl_attr_nest_start(nlh, CTA_PROTOINFO_TCP);

		mnl_attr_put_u8(nlh, CTA_PROTOINFO_TCP_STATE, (uint8_t)m->tcp_state);
		mnl_attr_nest_end(nlh, t);
		mnl_attr_nest_end(nlh, pi);
	}
	return nlh;
}

static bool addr_is(const uint8_t a[16], int family, const char *s)
{
	uint8_t b[16] = {0};

	inet_pton(family, s, b);
	return !memcmp(a, b, 16);
}

/* real time (ns) of mono time @m in cx */
static uint64_t real_of(uint64_t m)
{
	return (uint64_t)((int64_t)m - cx.real_to_mono_ns);
}

static void test_ct_new(void)
{
	struct ct_msg m = {
		.type = IPCTNL_MSG_CT_NEW, .flags = NLM_F_CREATE | NLM_F_EXCL,
		.family = AF_INET, .src = "10.1.0.5", .dst = "10.2.0.7",
		.proto = 6, .sport = 40000, .dport = 22,
		/* flow 1, and L7's PASS bit: ignored */
		.mark = ZW_L7_CTMARK_PASS | 2,
		.op = 1, .ob = 60,
		.start_real = real_of(4990 * S), .tcp_state = 1,
	};
	struct zw_flow_record r;

	memset(&r, 0xaa, sizeof(r));
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.event, ZW_EV_NEW);
	CU_ASSERT_EQUAL(r.engine, 3);
	CU_ASSERT_EQUAL(r.flags, ZW_REC_F_EXT);
	CU_ASSERT_EQUAL(r.flow, 1);
	CU_ASSERT_EQUAL(r.generation, 0);
	CU_ASSERT_EQUAL(r.src_zone, 2);
	CU_ASSERT_EQUAL(r.dst_zone, 3);
	CU_ASSERT_EQUAL(r.family, 4);
	CU_ASSERT_EQUAL(r.proto, 6);
	CU_ASSERT(addr_is(r.src, AF_INET, "10.1.0.5"));
	CU_ASSERT(addr_is(r.dst, AF_INET, "10.2.0.7"));
	CU_ASSERT_EQUAL(r.sport, 40000);
	CU_ASSERT_EQUAL(r.dport, 22);
	CU_ASSERT_EQUAL(r.packets, 1);
	CU_ASSERT_EQUAL(r.bytes, 60);
	CU_ASSERT_EQUAL(r.rev_packets, 0);
	CU_ASSERT_EQUAL(r.rev_bytes, 0);
	CU_ASSERT_EQUAL(r.start_ns, 4990 * S);
	CU_ASSERT_EQUAL(r.ts_ns, 4990 * S);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_UNKNOWN);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_NONE);
	CU_ASSERT_EQUAL(r.ifindex, 0);
	CU_ASSERT_EQUAL(r.egress_ifindex, 0);
	CU_ASSERT_EQUAL(r.l7_seen | r.pad[0] | r.pad[1], 0);
	CU_ASSERT_EQUAL(r.pad2[0] | r.pad2[1] | r.pad2[2], 0);

	/* no timestamp (nf_conntrack_timestamp off): the time it is read */
	m.start_real = 0;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.start_ns, cx.now_mono_ns);
	CU_ASSERT_EQUAL(r.ts_ns, cx.now_mono_ns);

	/* a flow index past the image known: a record, no zones */
	m.mark = 9;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.flow, 8);
	CU_ASSERT_EQUAL(r.src_zone, 0);
	CU_ASSERT_EQUAL(r.dst_zone, 0);
}

static void test_ct_no_index(void)
{
	struct ct_msg m = {
		.type = IPCTNL_MSG_CT_NEW, .flags = NLM_F_CREATE,
		.family = AF_INET, .src = "10.1.0.5", .dst = "10.2.0.7",
		.proto = 17, .sport = 5353, .dport = 53, .tcp_state = -1,
	};
	struct zw_flow_record r;

	m.no_mark = true;
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);
	m.no_mark = false;
	m.mark = 0;
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);
	m.mark = ZW_L7_CTMARK_MASK; /* L7's bits only: not a recorded flow */
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);
	m.type = IPCTNL_MSG_CT_DELETE;
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);
	/* another message type of the subsystem */
	m.type = IPCTNL_MSG_CT_GET_STATS;
	m.mark = 1;
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);
	/* marked, but no original tuple: refused, not read out of bounds */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct nfgenmsg *g;

		nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->nfgen_family = AF_INET;
		mnl_attr_put_u32(nlh, CTA_MARK, htonl(1));
		CU_ASSERT_EQUAL(zwnft_rec__from_ct(nlh, &cx, &r), -EINVAL);
	}
	/* a message of another subsystem */
	{
		struct nlmsghdr *nlh;

		m.type = IPCTNL_MSG_CT_NEW;
		nlh = ct_build(&m);
		nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | IPCTNL_MSG_CT_NEW;
		CU_ASSERT_EQUAL(zwnft_rec__from_ct(nlh, &cx, &r), 0);
	}
}

static void test_ct_destroy(void)
{
	struct ct_msg m = {
		.type = IPCTNL_MSG_CT_DELETE,
		.family = AF_INET, .src = "10.1.0.5", .dst = "10.2.0.7",
		.proto = 6, .sport = 40000, .dport = 443, .mark = 1,
		.op = 12, .ob = 1500, .rp = 10, .rb = 90000,
		.start_real = real_of(4000 * S), .stop_real = real_of(4100 * S),
		.tcp_state = 7, /* TIME_WAIT */
	};
	struct zw_flow_record r;

	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.event, ZW_EV_END);
	CU_ASSERT_EQUAL(r.flow, 0);
	CU_ASSERT_EQUAL(r.src_zone, 1);
	CU_ASSERT_EQUAL(r.dst_zone, 2);
	CU_ASSERT_EQUAL(r.sport, 40000);
	CU_ASSERT_EQUAL(r.dport, 443);
	CU_ASSERT_EQUAL(r.packets, 22);
	CU_ASSERT_EQUAL(r.rev_packets, 10);
	CU_ASSERT_EQUAL(r.bytes, 91500);
	CU_ASSERT_EQUAL(r.rev_bytes, 90000);
	CU_ASSERT_EQUAL(r.start_ns, 4000 * S);
	CU_ASSERT_EQUAL(r.ts_ns, 4100 * S);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_CLOSED);
	CU_ASSERT_EQUAL(r.flags, ZW_REC_F_EXT);

	/* established when it went: it timed out */
	m.tcp_state = 3;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_IDLE);
	/* UDP, no timestamps: idle, ended when read */
	m.proto = 17;
	m.start_real = m.stop_real = 0;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_IDLE);
	CU_ASSERT_EQUAL(r.start_ns, 0);
	CU_ASSERT_EQUAL(r.ts_ns, cx.now_mono_ns);
	CU_ASSERT_EQUAL(r.proto, 17);
}

static void test_ct_dump_update(void)
{
	struct ct_msg m = {
		.type = IPCTNL_MSG_CT_NEW, .flags = NLM_F_MULTI,
		.family = AF_INET6, .src = "fd00:1::5", .dst = "fd00:2::7",
		.proto = 58, .icmp_type = 128, .icmp_code = 0, .icmp_id = 0x1234,
		.mark = 4, .op = 400, .ob = 40000, .rp = 399, .rb = 39900,
		.start_real = real_of(5000 * S - 301 * S), .tcp_state = -1,
	};
	struct zw_flow_record r;

	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.event, ZW_EV_UPDATE);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_ACTIVE);
	CU_ASSERT_EQUAL(r.flow, 3);
	CU_ASSERT_EQUAL(r.src_zone, 4);
	CU_ASSERT_EQUAL(r.dst_zone, 4);
	CU_ASSERT_EQUAL(r.family, 6);
	CU_ASSERT_EQUAL(r.proto, 58);
	CU_ASSERT(addr_is(r.src, AF_INET6, "fd00:1::5"));
	CU_ASSERT(addr_is(r.dst, AF_INET6, "fd00:2::7"));
	CU_ASSERT_EQUAL(r.sport, 0x1234);
	CU_ASSERT_EQUAL(r.dport, 128 << 8);
	CU_ASSERT_EQUAL(r.packets, 799);
	CU_ASSERT_EQUAL(r.rev_packets, 399);
	CU_ASSERT_EQUAL(r.bytes, 79900);
	CU_ASSERT_EQUAL(r.rev_bytes, 39900);
	CU_ASSERT_EQUAL(r.start_ns, 5000 * S - 301 * S);
	CU_ASSERT_EQUAL(r.ts_ns, cx.now_mono_ns);

	/* open for less than the active timeout: no update yet */
	m.start_real = real_of(5000 * S - 299 * S);
	CU_ASSERT_EQUAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 0);

	/* IPv4 ICMP echo */
	m.family = AF_INET;
	m.src = "10.1.0.5";
	m.dst = "10.2.0.7";
	m.proto = 1;
	m.icmp_type = 8;
	m.icmp_code = 0;
	m.start_real = real_of(1 * S);
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_ct(ct_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.family, 4);
	CU_ASSERT_EQUAL(r.proto, 1);
	CU_ASSERT_EQUAL(r.sport, 0x1234);
	CU_ASSERT_EQUAL(r.dport, 8 << 8);
}

/* ---- NFLOG ---- */

struct log_msg {
	const char *prefix;
	const uint8_t *pkt;
	size_t len;
	uint32_t indev, outdev;
	uint64_t real_ns; /* 0: no timestamp */
	int family;
};

static struct nlmsghdr *log_build(const struct log_msg *m)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	struct nfulnl_msg_packet_hdr ph = {.hw_protocol = htons(0x0800),
					   .hook = 2};

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)m->family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(23);
	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	if (m->indev)
		mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(m->indev));
	if (m->outdev)
		mnl_attr_put_u32(nlh, NFULA_IFINDEX_OUTDEV, htonl(m->outdev));
	if (m->real_ns) {
		struct nfulnl_msg_packet_timestamp ts = {
			.sec = htobe64(m->real_ns / S),
			.usec = htobe64(m->real_ns % S / 1000),
		};

		mnl_attr_put(nlh, NFULA_TIMESTAMP, sizeof(ts), &ts);
	}
	mnl_attr_put(nlh, NFULA_PAYLOAD, m->len, m->pkt);
	if (m->prefix)
		mnl_attr_put_strz(nlh, NFULA_PREFIX, m->prefix);
	return nlh;
}

/* IPv4 TCP SYN 10.1.0.5:40001 -> 10.9.0.9:3389, total length 60 */
static const uint8_t syn4[] = {
	0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0,
	10, 1, 0, 5, 10, 9, 0, 9,
	0x9c, 0x41, 0x0d, 0x3d, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0,
	0, 0, 0, 0, 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7,
};

static void test_nflog_denied(void)
{
	struct log_msg m = {
		.prefix = ZWNFT_DENY_PREFIX "no-flow ", .pkt = syn4,
		.len = sizeof(syn4), .indev = 7, .outdev = 9,
		.real_ns = real_of(4999 * S + 250000000), .family = 2,
	};
	struct zw_flow_record r;

	memset(&r, 0xaa, sizeof(r));
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.event, ZW_EV_DROP);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_NO_FLOW);
	CU_ASSERT_EQUAL(r.engine, 3);
	CU_ASSERT_EQUAL(r.flow, ZW_NO_FLOW);
	/* zones: left to the daemon (both 0: looked up in the image) */
	CU_ASSERT_EQUAL(r.src_zone, 0);
	CU_ASSERT_EQUAL(r.dst_zone, 0);
	CU_ASSERT_EQUAL(r.family, 4);
	CU_ASSERT_EQUAL(r.proto, 6);
	CU_ASSERT(addr_is(r.src, AF_INET, "10.1.0.5"));
	CU_ASSERT(addr_is(r.dst, AF_INET, "10.9.0.9"));
	CU_ASSERT_EQUAL(r.sport, 40001);
	CU_ASSERT_EQUAL(r.dport, 3389);
	CU_ASSERT_EQUAL(r.packets, 1);
	CU_ASSERT_EQUAL(r.bytes, 60);
	CU_ASSERT_EQUAL(r.ifindex, 7);
	CU_ASSERT_EQUAL(r.egress_ifindex, 9);
	CU_ASSERT_EQUAL(r.flags, ZW_REC_F_EXT);
	CU_ASSERT_EQUAL(r.ts_ns, 4999 * S + 250000000);
	CU_ASSERT_EQUAL(r.start_ns, r.ts_ns);
	CU_ASSERT_EQUAL(r.rev_packets, 0);
	CU_ASSERT_EQUAL(r.end_reason, 0);

	/* a flow's own drop (rate): its index and zones */
	m.prefix = ZWNFT_DENY_PREFIX "rate #2 ";
	m.real_ns = 0;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_RATE);
	CU_ASSERT_EQUAL(r.flow, 2);
	CU_ASSERT_EQUAL(r.src_zone, 3);
	CU_ASSERT_EQUAL(r.dst_zone, 1);
	CU_ASSERT_EQUAL(r.ts_ns, cx.now_mono_ns);

	/* the copy cut the packet short: its header says 1500 bytes */
	{
		uint8_t big[sizeof(syn4)];

		memcpy(big, syn4, sizeof(big));
		big[2] = 1500 >> 8;
		big[3] = 1500 & 0xff;
		m.pkt = big;
		m.prefix = ZWNFT_DENY_PREFIX "flow-removed ";
		CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 1);
		CU_ASSERT_EQUAL(r.reason, ZW_DROP_FLOW_REMOVED);
		CU_ASSERT_EQUAL(r.bytes, 1500);
		CU_ASSERT_EQUAL(r.dport, 3389);
		m.pkt = syn4;
	}
}

static void test_nflog_icmp6(void)
{
	/* IPv6 echo request fd00:1::5 -> fd00:9::9, id 0x4242 */
	uint8_t p[48] = {0x60, 0, 0, 0, 0, 8, 58, 64};
	struct log_msg m = {
		.prefix = ZWNFT_DENY_PREFIX "isolated ", .pkt = p,
		.len = sizeof(p), .indev = 3, .family = 10,
	};
	struct zw_flow_record r;

	inet_pton(AF_INET6, "fd00:1::5", p + 8);
	inet_pton(AF_INET6, "fd00:9::9", p + 24);
	p[40] = 128;
	p[44] = 0x42;
	p[45] = 0x42;
	CU_ASSERT_EQUAL_FATAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 1);
	CU_ASSERT_EQUAL(r.reason, ZW_DROP_ISOLATED);
	CU_ASSERT_EQUAL(r.family, 6);
	CU_ASSERT_EQUAL(r.proto, 58);
	CU_ASSERT(addr_is(r.src, AF_INET6, "fd00:1::5"));
	CU_ASSERT(addr_is(r.dst, AF_INET6, "fd00:9::9"));
	CU_ASSERT_EQUAL(r.sport, 0x4242);
	CU_ASSERT_EQUAL(r.dport, 128 << 8);
	CU_ASSERT_EQUAL(r.bytes, 48);
	CU_ASSERT_EQUAL(r.ifindex, 3);
	CU_ASSERT_EQUAL(r.egress_ifindex, 0);
}

static void test_nflog_not_ours(void)
{
	struct log_msg m = {
		.prefix = "zonewall F-1 ", .pkt = syn4, .len = sizeof(syn4),
		.family = 2,
	};
	struct zw_flow_record r;

	/* the accept log of a log: true flow: conntrack gives those */
	CU_ASSERT_EQUAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 0);
	m.prefix = NULL;
	CU_ASSERT_EQUAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), 0);
	m.prefix = ZWNFT_DENY_PREFIX "no-such-reason ";
	CU_ASSERT_EQUAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), -EINVAL);
	m.prefix = ZWNFT_DENY_PREFIX "rate #x ";
	CU_ASSERT_EQUAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), -EINVAL);
	/* no IP packet */
	m.prefix = ZWNFT_DENY_PREFIX "no-flow ";
	m.len = 10;
	CU_ASSERT_EQUAL(zwnft_rec__from_nflog(log_build(&m), &cx, &r), -EINVAL);
	/* a conntrack message is no NFLOG message */
	{
		struct ct_msg c = {.type = IPCTNL_MSG_CT_NEW, .family = AF_INET,
				   .src = "10.0.0.1", .dst = "10.0.0.2",
				   .proto = 17, .mark = 1, .tcp_state = -1};

		CU_ASSERT_EQUAL(zwnft_rec__from_nflog(ct_build(&c), &cx, &r), 0);
	}
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("nft-records", NULL, NULL);
	CU_add_test(s, "conntrack NEW event: created", test_ct_new);
	CU_add_test(s, "no flow index in the mark: no record", test_ct_no_index);
	CU_add_test(s, "conntrack DESTROY event: ended", test_ct_destroy);
	CU_add_test(s, "dump entry: update after the active timeout",
		    test_ct_dump_update);
	CU_add_test(s, "NFLOG: denied, IPv4", test_nflog_denied);
	CU_add_test(s, "NFLOG: denied, ICMPv6", test_nflog_icmp6);
	CU_add_test(s, "NFLOG: not a denial of ours", test_nflog_not_ours);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
