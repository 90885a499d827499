// SPDX-License-Identifier: BSD-2-Clause
/*
 * The rule builder: one rule's expressions (libnftnl bytecode) and its nft
 * text side by side, either or both (ZWNFT_BUILD_*). One function per
 * match or statement the engine uses; the chains that use them are in
 * nft_chains.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

#include <zonewall/policy.h>

#include "nft_build.h"

void zwnft_rb__text(struct zwnft_rb *rb, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	if (!rb->text)
		return;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (rb->t.len)
		zwnft_buf__puts(&rb->t, " ");
	zwnft_buf__puts(&rb->t, tmp);
}

struct nftnl_expr *zwnft_rb__expr(struct zwnft_rb *rb, const char *name)
{
	struct nftnl_expr *e;

	if (!rb->objects)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		rb->oom = true;
	return e;
}

void zwnft_rb__add(struct zwnft_rb *rb, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(rb->r, e);
}

static void zwnft_rb__meta(struct zwnft_rb *rb, uint32_t key)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	zwnft_rb__add(rb, e);
}

void zwnft_rb__cmp(struct zwnft_rb *rb, uint32_t op, const void *data,
		   uint32_t len)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	zwnft_rb__add(rb, e);
}

static void zwnft_rb__range(struct zwnft_rb *rb, const void *lo,
			    const void *hi, uint32_t len)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "range");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, lo, len);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, hi, len);
	zwnft_rb__add(rb, e);
}

/* register 1 = (register 1 & @mask) ^ @xor */
static void zwnft_rb__bitwise_xor(struct zwnft_rb *rb, uint32_t mask,
				  uint32_t xor)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "bitwise");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, sizeof(xor));
	zwnft_rb__add(rb, e);
}

static void zwnft_rb__bitwise(struct zwnft_rb *rb, uint32_t mask)
{
	zwnft_rb__bitwise_xor(rb, mask, 0);
}

static void zwnft_rb__bitwise8(struct zwnft_rb *rb, uint8_t mask)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "bitwise");
	uint8_t zero = 0;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 1);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
	zwnft_rb__add(rb, e);
}

static void zwnft_rb__ct(struct zwnft_rb *rb, uint32_t key, bool original)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	if (original)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
	zwnft_rb__add(rb, e);
}

static void zwnft_rb__lookup(struct zwnft_rb *rb, const char *set, bool vmap)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (vmap)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	/* the kernel reports flags 0 explicitly: say it too, so the rule
	 * built here and the one dumped back print the same */
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	zwnft_rb__add(rb, e);
}

static const char *nfproto_name(int family)
{
	return family == ZW_AF_INET ? "ipv4" : "ipv6";
}

/* meta nfproto ipv4|ipv6 */
void zwnft_rb__nfproto(struct zwnft_rb *rb, int family)
{
	uint8_t v = family == ZW_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	zwnft_rb__meta(rb, NFT_META_NFPROTO);
	zwnft_rb__cmp(rb, NFT_CMP_EQ, &v, 1);
	zwnft_rb__text(rb, "meta nfproto %s", nfproto_name(family));
}

/* ct state S (mask of NF_CT_STATE_* bits) */
void zwnft_rb__ct_mark(struct zwnft_rb *rb, uint32_t mask, uint32_t value,
		       bool eq)
{
	zwnft_rb__ct(rb, NFT_CT_MARK, false);
	zwnft_rb__bitwise(rb, mask);
	zwnft_rb__cmp(rb, eq ? NFT_CMP_EQ : NFT_CMP_NEQ, &value, sizeof(value));
	zwnft_rb__text(rb, "ct mark & 0x%08x %s 0x%08x", mask, eq ? "==" : "!=",
		       value);
}

/* ct mark set ct mark & @keep | @value (@value has no bit of @keep) */
void zwnft_rb__ct_mark_set(struct zwnft_rb *rb, uint32_t keep, uint32_t value)
{
	struct nftnl_expr *e;

	zwnft_rb__ct(rb, NFT_CT_MARK, false);
	zwnft_rb__bitwise_xor(rb, keep, value);
	e = zwnft_rb__expr(rb, "ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__text(rb, "ct mark set ct mark & 0x%08x | 0x%08x", keep,
		       value);
}

void zwnft_rb__queue(struct zwnft_rb *rb, uint16_t num)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "target");
	struct xt_NFQ_info_v3 *info;

	if (e) {
		/* libnftnl 1.2 keeps (and frees) the info it is given */
		info = calloc(1, sizeof(*info));
		if (!info) {
			rb->oom = true;
			nftnl_expr_free(e);
			return;
		}
		info->queuenum = num;
		info->queues_total = 1;
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__text(rb, "queue num %u", num);
}

void zwnft_rb__ct_state(struct zwnft_rb *rb, uint32_t mask, const char *text)
{
	uint32_t zero = 0;

	zwnft_rb__ct(rb, NFT_CT_STATE, false);
	zwnft_rb__bitwise(rb, mask);
	zwnft_rb__cmp(rb, NFT_CMP_NEQ, &zero, sizeof(zero));
	zwnft_rb__text(rb, "ct state %s", text);
}

/* ip|ip6 saddr|daddr @set (packet header, not conntrack) */
void zwnft_rb__hdr_addr_in(struct zwnft_rb *rb, int family, bool src,
			   const char *set)
{
	struct nftnl_expr *e;
	uint8_t v = family == ZW_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t off, len;

	zwnft_rb__meta(rb, NFT_META_NFPROTO);
	zwnft_rb__cmp(rb, NFT_CMP_EQ, &v, 1);
	if (family == ZW_AF_INET) {
		off = src ? 12 : 16;
		len = 4;
	} else {
		off = src ? 8 : 24;
		len = 16;
	}
	e = zwnft_rb__expr(rb, "payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
				   NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__lookup(rb, set, false);
	zwnft_rb__text(rb, "%s %s @%s", family == ZW_AF_INET ? "ip" : "ip6",
		       src ? "saddr" : "daddr", set);
}

/* ct original ip|ip6 saddr|daddr @set  /  vmap @set */
void zwnft_rb__ct_addr(struct zwnft_rb *rb, int family, bool src,
		       const char *set, bool vmap)
{
	uint32_t key;

	if (family == ZW_AF_INET)
		key = src ? NFT_CT_SRC_IP : NFT_CT_DST_IP;
	else
		key = src ? NFT_CT_SRC_IP6 : NFT_CT_DST_IP6;
	zwnft_rb__ct(rb, key, true);
	zwnft_rb__lookup(rb, set, vmap);
	zwnft_rb__text(rb, "ct original %s %s %s@%s",
		       family == ZW_AF_INET ? "ip" : "ip6",
		       src ? "saddr" : "daddr", vmap ? "vmap " : "", set);
}

/* ct original ip|ip6 saddr|daddr ADDR[/LEN], compared inline */
void zwnft_rb__ct_addr_prefix(struct zwnft_rb *rb, int family, bool src,
			      const uint8_t *addr, int len)
{
	int w = family == ZW_AF_INET ? 4 : 16;
	uint32_t key;
	uint8_t mask[16] = {0}, zero[16] = {0}, net[16];
	char text[INET6_ADDRSTRLEN];

	if (family == ZW_AF_INET)
		key = src ? NFT_CT_SRC_IP : NFT_CT_DST_IP;
	else
		key = src ? NFT_CT_SRC_IP6 : NFT_CT_DST_IP6;
	zwnft_rb__ct(rb, key, true);
	for (int i = 0; i < w; i++) {
		int bits = len - 8 * i;

		mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		net[i] = addr[i] & mask[i];
	}
	if (len < w * 8) {
		struct nftnl_expr *e = zwnft_rb__expr(rb, "bitwise");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, (uint32_t)w);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, (uint32_t)w);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, (uint32_t)w);
			zwnft_rb__add(rb, e);
		}
	}
	zwnft_rb__cmp(rb, NFT_CMP_EQ, net, (uint32_t)w);
	inet_ntop(w == 4 ? AF_INET : AF_INET6, net, text, sizeof(text));
	if (len == w * 8)
		zwnft_rb__text(rb, "ct original %s %s %s",
			       w == 4 ? "ip" : "ip6", src ? "saddr" : "daddr",
			       text);
	else
		zwnft_rb__text(rb, "ct original %s %s %s/%d",
			       w == 4 ? "ip" : "ip6", src ? "saddr" : "daddr",
			       text, len);
}

const char *zwnft_proto_name(uint8_t p, char buf[4])
{
	/* The names nft prints (/etc/protocols), for the common ones. */
	switch (p) {
	case 1: return "icmp";
	case 2: return "igmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 33: return "dccp";
	case 41: return "ipv6";
	case 47: return "gre";
	case 50: return "esp";
	case 51: return "ah";
	case 58: return "ipv6-icmp";
	case 132: return "sctp";
	case 136: return "udplite";
	default:
		snprintf(buf, 4, "%u", p);
		return buf;
	}
}

bool zwnft_proto_has_ports(uint8_t p)
{
	return p == 6 || p == 17 || p == 132 || p == 33 || p == 136;
}

void zwnft_rb__ct_proto(struct zwnft_rb *rb, uint8_t proto)
{
	char b[4];

	zwnft_rb__ct(rb, NFT_CT_PROTOCOL, false);
	zwnft_rb__cmp(rb, NFT_CMP_EQ, &proto, 1);
	zwnft_rb__text(rb, "ct protocol %s", zwnft_proto_name(proto, b));
}

/* ct original proto-dst lo[-hi]: 16 bits, network order. For ICMP the
 * conntrack tuple holds type and code there (type in the high byte). */
void zwnft_rb__ct_pdst(struct zwnft_rb *rb, uint16_t lo, uint16_t hi)
{
	uint16_t l = htons(lo), h = htons(hi);

	zwnft_rb__ct(rb, NFT_CT_PROTO_DST, true);
	if (lo == hi) {
		zwnft_rb__cmp(rb, NFT_CMP_EQ, &l, 2);
		zwnft_rb__text(rb, "ct original proto-dst %u", lo);
	} else {
		zwnft_rb__range(rb, &l, &h, 2);
		zwnft_rb__text(rb, "ct original proto-dst %u-%u", lo, hi);
	}
}

/* TCP packet that opens no connection: new but not a bare SYN. */
void zwnft_rb__tcp_not_syn(struct zwnft_rb *rb)
{
	struct nftnl_expr *e;
	uint8_t tcp = 6, syn = 0x02;

	zwnft_rb__meta(rb, NFT_META_L4PROTO);
	zwnft_rb__cmp(rb, NFT_CMP_EQ, &tcp, 1);
	e = zwnft_rb__expr(rb, "payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
				   NFT_PAYLOAD_TRANSPORT_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 13);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__bitwise8(rb, 0x17); /* fin | syn | rst | ack */
	zwnft_rb__cmp(rb, NFT_CMP_NEQ, &syn, 1);
	zwnft_rb__text(rb, "tcp flags != syn / fin,syn,rst,ack");
}

/* exthdr: load 1 byte of the first IPv6 extension header of @type at
 * @off, or (@present) 1 if the packet has one, 0 if not. The kernel finds
 * it wherever it is in the chain (ipv6_find_hdr), AH included. IPv6
 * packets only: put zwnft_rb__nfproto(ZW_AF_INET6) before. */
void zwnft_rb__exthdr6(struct zwnft_rb *rb, uint8_t type, uint32_t off,
		       bool present)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "exthdr");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_DREG, NFT_REG_1);
	nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 1);
	/* the kernel dumps flags and op even when 0: say them too */
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_FLAGS,
			   present ? NFT_EXTHDR_F_PRESENT : 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OP, NFT_EXTHDR_OP_IPV6);
	zwnft_rb__add(rb, e);
}

/* An AH header anywhere in the IPv6 chain (@yes) or none. The packet
 * parser of the other engines stops at AH: its protocol is 51, whatever AH
 * carries, while conntrack and `meta l4proto` skip AH and see what it
 * carries. */
void zwnft_rb__ah6(struct zwnft_rb *rb, bool yes)
{
	uint8_t v = yes;

	zwnft_rb__exthdr6(rb, ZWNFT_IP6_AH, 0, true);
	zwnft_rb__cmp(rb, NFT_CMP_EQ, &v, 1);
	zwnft_rb__text(rb, "exthdr ah %s", yes ? "exists" : "missing");
}

void zwnft_rb__counter(struct zwnft_rb *rb, const char *name)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__text(rb, "counter name \"%s\"", name);
}

void zwnft_rb__verdict(struct zwnft_rb *rb, int verdict, const char *chain)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
		zwnft_rb__add(rb, e);
	}
	switch (verdict) {
	case NF_ACCEPT: zwnft_rb__text(rb, "accept"); break;
	case NF_DROP: zwnft_rb__text(rb, "drop"); break;
	case NFT_JUMP: zwnft_rb__text(rb, "jump %s", chain); break;
	case NFT_GOTO: zwnft_rb__text(rb, "goto %s", chain); break;
	default: break;
	}
}

/* add @set { ct original ip saddr limit rate over N/second burst N packets } */
void zwnft_rb__rate(struct zwnft_rb *rb, int family, const char *set,
		    uint32_t rate)
{
	struct nftnl_expr *e, *l;

	zwnft_rb__ct(rb, family == ZW_AF_INET ? NFT_CT_SRC_IP : NFT_CT_SRC_IP6,
		     true);
	e = zwnft_rb__expr(rb, "dynset");
	l = zwnft_rb__expr(rb, "limit");
	if (!e || !l) {
		if (e)
			nftnl_expr_free(e);
		if (l)
			nftnl_expr_free(l);
		goto text;
	}
	nftnl_expr_set_u64(l, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(l, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_BURST, rate);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, 0); /* as dumped */
	nftnl_expr_add_expr(e, NFTNL_EXPR_DYNSET_EXPRESSIONS, l);
	zwnft_rb__add(rb, e);
text:
	zwnft_rb__text(rb,
		       "add @%s { ct original %s saddr limit rate over %u/second burst %u packets }",
		       set, family == ZW_AF_INET ? "ip" : "ip6", rate, rate);
}

void zwnft_rb__log(struct zwnft_rb *rb, const char *prefix, uint16_t group)
{
	struct nftnl_expr *e = zwnft_rb__expr(rb, "log");

	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		zwnft_rb__add(rb, e);
	}
	zwnft_rb__text(rb, "log prefix \"%s\" group %u", prefix, group);
}

void zwnft_rb__deny_log(struct zwnft_rb *rb, const struct zwnft_ruleset *rs,
			unsigned reason, uint32_t flow)
{
	char p[64];

	/* The XDP engine's L7 table: its records are the XDP engine's,
	 * nothing listens on its log group. */
	if (rs->opts.l7_only)
		return;
	if (flow == ZW_NO_FLOW)
		snprintf(p, sizeof(p), ZWNFT_DENY_PREFIX "%s ",
			 zw_drop_reason__name(reason));
	else
		snprintf(p, sizeof(p), ZWNFT_DENY_PREFIX "%s #%u ",
			 zw_drop_reason__name(reason), flow);
	zwnft_rb__log(rb, p, rs->opts.log_group);
}

int zwnft_rb__begin(struct zwnft_rb *rb, const struct zwnft_ruleset *rs,
		    const char *chain)
{
	memset(rb, 0, sizeof(*rb));
	rb->objects = rs->mode & ZWNFT_BUILD_OBJECTS;
	rb->text = rs->mode & ZWNFT_BUILD_TEXT;
	if (!rb->objects)
		return 0;
	rb->r = nftnl_rule_alloc();
	if (!rb->r)
		return -ENOMEM;
	nftnl_rule_set_u32(rb->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rb->r, NFTNL_RULE_TABLE, rs->opts.table);
	nftnl_rule_set_str(rb->r, NFTNL_RULE_CHAIN, chain);
	return 0;
}

/* Finish the rule (optional comment) and append it to the ruleset. */
int zwnft_rb__end(struct zwnft_rb *rb, struct zwnft_ruleset *rs,
		  const char *chain, uint32_t flow, const char *comment,
		  uint32_t src_set, uint32_t dst_set)
{
	struct zwnft_item *it;
	int ret = -ENOMEM;

	if (rb->oom)
		goto err;
	if (comment) {
		char c[NFTNL_UDATA_COMMENT_MAXLEN];

		snprintf(c, sizeof(c), "%s", comment);
		if (rb->r &&
		    zwnft_udata_set_comment(rb->r, ZWNFT_RULE,
					    NFTNL_UDATA_RULE_COMMENT, c))
			goto err;
		zwnft_rb__text(rb, "comment \"%s\"", c);
	}
	it = zwnft_ruleset__push(rs, ZWNFT_RULE, chain, flow);
	if (!it)
		goto err;
	it->rule = rb->r;
	rb->r = NULL;
	it->sets[0] = src_set;
	it->sets[1] = dst_set;
	if (!rb->text)
		return 0;
	it->text = zwnft_buf__take(&rb->t);
	if (!it->text)
		return -ENOMEM;
	return 0;
err:
	if (rb->r)
		nftnl_rule_free(rb->r);
	rb->r = NULL;
	zwnft_buf__fini(&rb->t);
	return ret;
}
