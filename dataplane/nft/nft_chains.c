// SPDX-License-Identifier: BSD-2-Clause
/*
 * Policy image -> nftables ruleset (libnftnl objects + nft-syntax text).
 * Pure: no kernel. The layout is documented in docs/nft-engine.md; in
 * short, every packet the appliance forwards is judged by the ORIGINAL
 * tuple of its conntrack entry (so a reply or an ICMP error is judged like
 * the connection that it belongs to, and re-judged after every policy
 * change: a connection whose flow left the policy is cut at its next
 * packet):
 *
 *   forward (base, policy drop)
 *     block list drops, invalid drop, TCP new-without-SYN drop
 *     ct original ip saddr vmap @src4  -> goto from_<zone>
 *     (no zone) goto from_outside
 *   from_<zone>: ct original ip daddr vmap @dst4_<zone> -> goto pair_<a>_<b>
 *     (no zone) goto pair_<zone>_outside
 *   pair_<a>_<b>: one rule per image rule (proto, port/type range, src/dst
 *     narrowing sets), first match wins -> goto flow_<id>; then the
 *     same-zone accept, the isolated drop, or goto deny
 *   flow_<id>: rate limit, new-connection counter, log, counter, accept
 *   deny: established/related -> counted as cut; the rest as no flow
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "zwnft.h"

/* nft's datatype ids (src/datatype.h of nftables), for set key types. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8

/* Global counters, named objects kept across applies. */
static const char *const global_counters[] = {
	"zw_total",   "zw_blocked",   "zw_invalid",  "zw_not_syn",
	"zw_no_flow", "zw_same_zone", "zw_isolated", "zw_cut",
	"zw_rate",    "zw_ext_headers",
};

/* IPv6 extension headers the engine looks at (the shared packet parser,
 * dataplane/core/zw_parse.h, makes the same decisions). */
#define IP6_HOPOPTS 0
#define IP6_ROUTING 43
#define IP6_AH 51

/* ------------------------------------------------------------------ */
/* ruleset items */

static struct zwnft_item *rs_push(struct zwnft_ruleset *rs, enum zwnft_kind k,
				  const char *name, uint32_t flow)
{
	struct zwnft_item *it;

	if (rs->n[k] == rs->cap[k]) {
		size_t cap = rs->cap[k] ? rs->cap[k] * 2 : 64;
		struct zwnft_item *v = realloc(rs->v[k], cap * sizeof(*v));

		if (!v)
			return NULL;
		rs->v[k] = v;
		rs->cap[k] = cap;
	}
	it = &rs->v[k][rs->n[k]];
	memset(it, 0, sizeof(*it));
	it->kind = k;
	it->flow = flow;
	it->name = strdup(name);
	if (!it->name)
		return NULL;
	rs->n[k]++;
	return it;
}

static void item_fini(struct zwnft_item *it)
{
	if (it->obj) { /* the union: any of the four, or none (text only) */
		switch (it->kind) {
		case ZWNFT_OBJ:
			nftnl_obj_free(it->obj);
			break;
		case ZWNFT_CHAIN:
			nftnl_chain_free(it->chain);
			break;
		case ZWNFT_SET:
			nftnl_set_free(it->set);
			break;
		case ZWNFT_RULE:
			nftnl_rule_free(it->rule);
			break;
		default:
			break;
		}
	}
	free(it->name);
	free(it->text);
}

void zwnft_ruleset__free(struct zwnft_ruleset *rs)
{
	if (!rs)
		return;
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		for (size_t i = 0; i < rs->n[k]; i++)
			item_fini(&rs->v[k][i]);
		free(rs->v[k]);
	}
	if (rs->table)
		nftnl_table_free(rs->table);
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		free(rs->fx.off[k]);
		free(rs->fx.idx[k]);
	}
	free(rs->nset_items);
	free(rs);
}

/* Names: printf into a kernel-sized buffer, -E2BIG if it does not fit. */
static int fmt_name(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fmt_name(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, ZWNFT_NAME_MAX, fmt, ap);
	va_end(ap);
	return (n < 0 || n >= ZWNFT_NAME_MAX) ? -E2BIG : 0;
}

static int set_comment(void *obj, int kind, uint8_t type, const char *text)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char c[NFTNL_UDATA_COMMENT_MAXLEN];

	if (!u)
		return -ENOMEM;
	/* nft refuses longer comments; cut ours rather than fail. */
	snprintf(c, sizeof(c), "%s", text);
	if (!nftnl_udata_put_strz(u, type, c)) {
		nftnl_udata_buf_free(u);
		return -ENOMEM;
	}
	switch (kind) {
	case ZWNFT_CHAIN:
		nftnl_chain_set_data(obj, NFTNL_CHAIN_USERDATA,
				     nftnl_udata_buf_data(u),
				     nftnl_udata_buf_len(u));
		break;
	case ZWNFT_RULE:
		nftnl_rule_set_data(obj, NFTNL_RULE_USERDATA,
				    nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
		break;
	default: /* table */
		nftnl_table_set_data(obj, NFTNL_TABLE_USERDATA,
				     nftnl_udata_buf_data(u),
				     nftnl_udata_buf_len(u));
		break;
	}
	nftnl_udata_buf_free(u);
	return 0;
}

/* ------------------------------------------------------------------ */
/* rule builder: bytecode and nft text side by side */

struct rb {
	struct nftnl_rule *r;
	struct zwnft_buf t;
	bool oom;
	bool objects; /* build libnftnl expressions */
	bool text;    /* build the nft-syntax text */
};

static void rb_text(struct rb *rb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rb_text(struct rb *rb, const char *fmt, ...)
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

static struct nftnl_expr *rb_expr(struct rb *rb, const char *name)
{
	struct nftnl_expr *e;

	if (!rb->objects)
		return NULL;
	e = nftnl_expr_alloc(name);
	if (!e)
		rb->oom = true;
	return e;
}

static void rb_add(struct rb *rb, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(rb->r, e);
}

static void rb_meta(struct rb *rb, uint32_t key)
{
	struct nftnl_expr *e = rb_expr(rb, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	rb_add(rb, e);
}

static void rb_cmp(struct rb *rb, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = rb_expr(rb, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	rb_add(rb, e);
}

static void rb_range(struct rb *rb, const void *lo, const void *hi,
		     uint32_t len)
{
	struct nftnl_expr *e = rb_expr(rb, "range");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, lo, len);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, hi, len);
	rb_add(rb, e);
}

static void rb_bitwise(struct rb *rb, uint32_t mask)
{
	struct nftnl_expr *e = rb_expr(rb, "bitwise");
	uint32_t zero = 0;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	rb_add(rb, e);
}

static void rb_bitwise8(struct rb *rb, uint8_t mask)
{
	struct nftnl_expr *e = rb_expr(rb, "bitwise");
	uint8_t zero = 0;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 1);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
	rb_add(rb, e);
}

static void rb_ct(struct rb *rb, uint32_t key, bool original)
{
	struct nftnl_expr *e = rb_expr(rb, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	if (original)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
	rb_add(rb, e);
}

static void rb_lookup(struct rb *rb, const char *set, bool vmap)
{
	struct nftnl_expr *e = rb_expr(rb, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (vmap)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	/* the kernel reports flags 0 explicitly: say it too, so the rule
	 * built here and the one dumped back print the same */
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	rb_add(rb, e);
}

static const char *nfproto_name(int family)
{
	return family == ZW_AF_INET ? "ipv4" : "ipv6";
}

/* meta nfproto ipv4|ipv6 */
static void rb_nfproto(struct rb *rb, int family)
{
	uint8_t v = family == ZW_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;

	rb_meta(rb, NFT_META_NFPROTO);
	rb_cmp(rb, NFT_CMP_EQ, &v, 1);
	rb_text(rb, "meta nfproto %s", nfproto_name(family));
}

/* ct state S (mask of NF_CT_STATE_* bits) */
static void rb_ct_state(struct rb *rb, uint32_t mask, const char *text)
{
	uint32_t zero = 0;

	rb_ct(rb, NFT_CT_STATE, false);
	rb_bitwise(rb, mask);
	rb_cmp(rb, NFT_CMP_NEQ, &zero, sizeof(zero));
	rb_text(rb, "ct state %s", text);
}

#define CT_NEW NF_CT_STATE_BIT(IP_CT_NEW)
#define CT_ESTABLISHED NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
#define CT_RELATED NF_CT_STATE_BIT(IP_CT_RELATED)

/* ip|ip6 saddr|daddr @set (packet header, not conntrack) */
static void rb_hdr_addr_in(struct rb *rb, int family, bool src,
			   const char *set)
{
	struct nftnl_expr *e;
	uint8_t v = family == ZW_AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t off, len;

	rb_meta(rb, NFT_META_NFPROTO);
	rb_cmp(rb, NFT_CMP_EQ, &v, 1);
	if (family == ZW_AF_INET) {
		off = src ? 12 : 16;
		len = 4;
	} else {
		off = src ? 8 : 24;
		len = 16;
	}
	e = rb_expr(rb, "payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
				   NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		rb_add(rb, e);
	}
	rb_lookup(rb, set, false);
	rb_text(rb, "%s %s @%s", family == ZW_AF_INET ? "ip" : "ip6",
		src ? "saddr" : "daddr", set);
}

/* ct original ip|ip6 saddr|daddr @set  /  vmap @set */
static void rb_ct_addr(struct rb *rb, int family, bool src, const char *set,
		       bool vmap)
{
	uint32_t key;

	if (family == ZW_AF_INET)
		key = src ? NFT_CT_SRC_IP : NFT_CT_DST_IP;
	else
		key = src ? NFT_CT_SRC_IP6 : NFT_CT_DST_IP6;
	rb_ct(rb, key, true);
	rb_lookup(rb, set, vmap);
	rb_text(rb, "ct original %s %s %s@%s",
		family == ZW_AF_INET ? "ip" : "ip6", src ? "saddr" : "daddr",
		vmap ? "vmap " : "", set);
}

/* ct original ip|ip6 saddr|daddr ADDR[/LEN], compared inline */
static void rb_ct_addr_prefix(struct rb *rb, int family, bool src,
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
	rb_ct(rb, key, true);
	for (int i = 0; i < w; i++) {
		int bits = len - 8 * i;

		mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		net[i] = addr[i] & mask[i];
	}
	if (len < w * 8) {
		struct nftnl_expr *e = rb_expr(rb, "bitwise");

		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, (uint32_t)w);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, (uint32_t)w);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, (uint32_t)w);
			rb_add(rb, e);
		}
	}
	rb_cmp(rb, NFT_CMP_EQ, net, (uint32_t)w);
	inet_ntop(w == 4 ? AF_INET : AF_INET6, net, text, sizeof(text));
	if (len == w * 8)
		rb_text(rb, "ct original %s %s %s", w == 4 ? "ip" : "ip6",
			src ? "saddr" : "daddr", text);
	else
		rb_text(rb, "ct original %s %s %s/%d", w == 4 ? "ip" : "ip6",
			src ? "saddr" : "daddr", text, len);
}

static const char *proto_name(uint8_t p, char buf[4])
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

static bool proto_has_ports(uint8_t p)
{
	return p == 6 || p == 17 || p == 132 || p == 33 || p == 136;
}

static void rb_ct_proto(struct rb *rb, uint8_t proto)
{
	char b[4];

	rb_ct(rb, NFT_CT_PROTOCOL, false);
	rb_cmp(rb, NFT_CMP_EQ, &proto, 1);
	rb_text(rb, "ct protocol %s", proto_name(proto, b));
}

/* ct original proto-dst lo[-hi]: 16 bits, network order. For ICMP the
 * conntrack tuple holds type and code there (type in the high byte). */
static void rb_ct_pdst(struct rb *rb, uint16_t lo, uint16_t hi)
{
	uint16_t l = htons(lo), h = htons(hi);

	rb_ct(rb, NFT_CT_PROTO_DST, true);
	if (lo == hi) {
		rb_cmp(rb, NFT_CMP_EQ, &l, 2);
		rb_text(rb, "ct original proto-dst %u", lo);
	} else {
		rb_range(rb, &l, &h, 2);
		rb_text(rb, "ct original proto-dst %u-%u", lo, hi);
	}
}

/* TCP packet that opens no connection: new but not a bare SYN. */
static void rb_tcp_not_syn(struct rb *rb)
{
	struct nftnl_expr *e;
	uint8_t tcp = 6, syn = 0x02;

	rb_meta(rb, NFT_META_L4PROTO);
	rb_cmp(rb, NFT_CMP_EQ, &tcp, 1);
	e = rb_expr(rb, "payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
				   NFT_PAYLOAD_TRANSPORT_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 13);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		rb_add(rb, e);
	}
	rb_bitwise8(rb, 0x17); /* fin | syn | rst | ack */
	rb_cmp(rb, NFT_CMP_NEQ, &syn, 1);
	rb_text(rb, "tcp flags != syn / fin,syn,rst,ack");
}

/* exthdr: load 1 byte of the first IPv6 extension header of @type at
 * @off, or (@present) 1 if the packet has one, 0 if not. The kernel finds
 * it wherever it is in the chain (ipv6_find_hdr), AH included. IPv6
 * packets only: put rb_nfproto(ZW_AF_INET6) before. */
static void rb_exthdr6(struct rb *rb, uint8_t type, uint32_t off, bool present)
{
	struct nftnl_expr *e = rb_expr(rb, "exthdr");

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
	rb_add(rb, e);
}

/* An AH header anywhere in the IPv6 chain (@yes) or none. The packet
 * parser of the other engines stops at AH: its protocol is 51, whatever AH
 * carries, while conntrack and `meta l4proto` skip AH and see what it
 * carries. */
static void rb_ah6(struct rb *rb, bool yes)
{
	uint8_t v = yes;

	rb_exthdr6(rb, IP6_AH, 0, true);
	rb_cmp(rb, NFT_CMP_EQ, &v, 1);
	rb_text(rb, "exthdr ah %s", yes ? "exists" : "missing");
}

static void rb_counter(struct rb *rb, const char *name)
{
	struct nftnl_expr *e = rb_expr(rb, "objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
		rb_add(rb, e);
	}
	rb_text(rb, "counter name \"%s\"", name);
}

static void rb_verdict(struct rb *rb, int verdict, const char *chain)
{
	struct nftnl_expr *e = rb_expr(rb, "immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
		rb_add(rb, e);
	}
	switch (verdict) {
	case NF_ACCEPT: rb_text(rb, "accept"); break;
	case NF_DROP: rb_text(rb, "drop"); break;
	case NFT_JUMP: rb_text(rb, "jump %s", chain); break;
	case NFT_GOTO: rb_text(rb, "goto %s", chain); break;
	default: break;
	}
}

/* add @set { ct original ip saddr limit rate over N/second burst N packets } */
static void rb_rate(struct rb *rb, int family, const char *set, uint32_t rate)
{
	struct nftnl_expr *e, *l;

	rb_ct(rb, family == ZW_AF_INET ? NFT_CT_SRC_IP : NFT_CT_SRC_IP6, true);
	e = rb_expr(rb, "dynset");
	l = rb_expr(rb, "limit");
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
	rb_add(rb, e);
text:
	rb_text(rb,
		"add @%s { ct original %s saddr limit rate over %u/second burst %u packets }",
		set, family == ZW_AF_INET ? "ip" : "ip6", rate, rate);
}

static void rb_log(struct rb *rb, const char *prefix, uint16_t group)
{
	struct nftnl_expr *e = rb_expr(rb, "log");

	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		rb_add(rb, e);
	}
	rb_text(rb, "log prefix \"%s\" group %u", prefix, group);
}

static int rb_begin(struct rb *rb, const struct zwnft_ruleset *rs,
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
static int rb_end(struct rb *rb, struct zwnft_ruleset *rs, const char *chain,
		  uint32_t flow, const char *comment, uint32_t src_set,
		  uint32_t dst_set)
{
	struct zwnft_item *it;
	int ret = -ENOMEM;

	if (rb->oom)
		goto err;
	if (comment) {
		char c[NFTNL_UDATA_COMMENT_MAXLEN];

		snprintf(c, sizeof(c), "%s", comment);
		if (rb->r &&
		    set_comment(rb->r, ZWNFT_RULE, NFTNL_UDATA_RULE_COMMENT, c))
			goto err;
		rb_text(rb, "comment \"%s\"", c);
	}
	it = rs_push(rs, ZWNFT_RULE, chain, flow);
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

/* ------------------------------------------------------------------ */
/* address ranges and interval sets */

struct zrange {
	uint8_t lo[16];
	uint8_t hi[16];
	int verdict; /* NFT_JUMP / NFT_GOTO for maps, 0 for plain sets */
	const char *chain;
};

struct zranges {
	struct zrange *v;
	size_t n;
	size_t cap;
	int w; /* key bytes: 4 or 16 */
};

static int zr_push(struct zranges *r, const struct zrange *x)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct zrange *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *x;
	return 0;
}

static void zr_prefix(struct zrange *x, const uint8_t *addr, int len, int w)
{
	memset(x, 0, sizeof(*x));
	for (int i = 0; i < w; i++) {
		int bits = len - 8 * i;
		uint8_t mask = bits >= 8 ? 0xff :
			       bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));

		x->lo[i] = addr[i] & mask;
		x->hi[i] = (uint8_t)(addr[i] | (uint8_t)~mask);
	}
}

static bool addr_is_max(const uint8_t *a, int w)
{
	for (int i = 0; i < w; i++)
		if (a[i] != 0xff)
			return false;
	return true;
}

static bool addr_is_zero(const uint8_t *a, int w)
{
	for (int i = 0; i < w; i++)
		if (a[i])
			return false;
	return true;
}

static void addr_inc(uint8_t *a, int w)
{
	for (int i = w - 1; i >= 0; i--)
		if (++a[i])
			return;
}

static int zr_cmp(const void *a, const void *b)
{
	const struct zrange *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	return c ? c : memcmp(x->hi, y->hi, 16);
}

static bool zr_same_data(const struct zrange *a, const struct zrange *b)
{
	if (a->verdict != b->verdict)
		return false;
	if (!a->chain || !b->chain)
		return a->chain == b->chain;
	return strcmp(a->chain, b->chain) == 0;
}

/* Sort and merge overlapping ranges (not adjacent ones: nft keeps those
 * apart too). Overlap with different data is an error (the validator
 * forbids overlapping zones). */
static int zr_normalize(struct zranges *r)
{
	size_t o = 0;

	if (r->n == 0)
		return 0;
	qsort(r->v, r->n, sizeof(r->v[0]), zr_cmp);
	for (size_t i = 1; i < r->n; i++) {
		struct zrange *cur = &r->v[o];

		if (memcmp(r->v[i].lo, cur->hi, 16) <= 0) {
			if (!zr_same_data(cur, &r->v[i]))
				return -EINVAL;
			if (memcmp(r->v[i].hi, cur->hi, 16) > 0)
				memcpy(cur->hi, r->v[i].hi, 16);
			continue;
		}
		r->v[++o] = r->v[i];
	}
	r->n = o + 1;
	return 0;
}

static void addr_text(const uint8_t *a, int w, char *buf, size_t n)
{
	inet_ntop(w == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)n);
}

/* Prefix length if [lo, hi] is exactly a prefix, else -1. */
static int range_prefix_len(const uint8_t *lo, const uint8_t *hi, int w)
{
	int len = 0, i;

	for (i = 0; i < w * 8; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		int l = (lo[byte] >> bit) & 1, h = (hi[byte] >> bit) & 1;

		if (l != h)
			break;
		len++;
	}
	for (; i < w * 8; i++) {
		int byte = i / 8, bit = 7 - i % 8;

		if (((lo[byte] >> bit) & 1) != 0 || ((hi[byte] >> bit) & 1) != 1)
			return -1;
	}
	return len;
}

static void range_text(struct zwnft_buf *b, const struct zrange *x, int w)
{
	char l[INET6_ADDRSTRLEN], h[INET6_ADDRSTRLEN];
	int plen = range_prefix_len(x->lo, x->hi, w);

	addr_text(x->lo, w, l, sizeof(l));
	if (plen == w * 8) {
		zwnft_buf__puts(b, l);
	} else if (plen >= 0) {
		zwnft_buf__printf(b, "%s/%d", l, plen);
	} else {
		addr_text(x->hi, w, h, sizeof(h));
		zwnft_buf__printf(b, "%s-%s", l, h);
	}
	if (x->verdict)
		zwnft_buf__printf(b, " : %s %s",
				  x->verdict == NFT_JUMP ? "jump" : "goto",
				  x->chain);
}

static int elem_add(struct nftnl_set *s, const uint8_t *key, int w, bool end,
		    const struct zrange *data)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -ENOMEM;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)w);
	if (end) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS,
				       NFT_SET_ELEM_INTERVAL_END);
	} else if (data && data->verdict) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
				       (uint32_t)data->verdict);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, data->chain);
	}
	nftnl_set_elem_add(s, e);
	return 0;
}

/*
 * An interval set (or verdict map) named @name over @r (normalized), with
 * elements laid out as nft itself sends them: an interval-end element at
 * 0 when the first range does not start there, then for each range its
 * start element and, unless it runs to the top of the address space, an
 * interval-end element just after it.
 */
static int add_interval_set(struct zwnft_ruleset *rs, const char *name,
			    const struct zranges *r, bool map, uint32_t flow,
			    uint32_t nset)
{
	struct zwnft_buf t = {0};
	struct zwnft_item *it;
	struct nftnl_set *s;
	int w = r->w, ret = -ENOMEM;
	uint8_t zero[16] = {0};

	s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, rs->opts.table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	/* the kernel wants a batch-local id for every new set */
	nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)rs->n[ZWNFT_SET] + 1);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS,
			  NFT_SET_INTERVAL | (map ? NFT_SET_MAP : 0));
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
			  w == 4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)w);
	if (map) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
	}

	zwnft_buf__printf(&t, "%s %s {\n\t\ttype %s%s\n\t\tflags interval\n",
			  map ? "map" : "set", name,
			  w == 4 ? "ipv4_addr" : "ipv6_addr",
			  map ? " : verdict" : "");
	bool objects = rs->mode & ZWNFT_BUILD_OBJECTS;

	if (objects && r->n && !addr_is_zero(r->v[0].lo, w) &&
	    (ret = elem_add(s, zero, w, true, NULL)))
		goto err;
	if (r->n)
		zwnft_buf__puts(&t, "\t\telements = { ");
	for (size_t i = 0; i < r->n; i++) {
		uint8_t next[16];

		if (objects &&
		    (ret = elem_add(s, r->v[i].lo, w, false, &r->v[i])))
			goto err;
		if (objects && !addr_is_max(r->v[i].hi, w)) {
			memcpy(next, r->v[i].hi, 16);
			addr_inc(next, w);
			if ((ret = elem_add(s, next, w, true, NULL)))
				goto err;
		}
		if (!(rs->mode & ZWNFT_BUILD_TEXT))
			continue;
		if (i)
			zwnft_buf__puts(&t, ",\n\t\t\t     ");
		range_text(&t, &r->v[i], w);
	}
	if (r->n)
		zwnft_buf__puts(&t, " }\n");
	zwnft_buf__puts(&t, "\t}");

	it = rs_push(rs, ZWNFT_SET, name, flow);
	ret = -ENOMEM;
	if (!it)
		goto err;
	it->set = s;
	it->sets[0] = nset;
	rs->n_elems += r->n * 2;
	if (!(rs->mode & ZWNFT_BUILD_TEXT)) {
		zwnft_buf__fini(&t);
		return 0;
	}
	it->text = zwnft_buf__take(&t);
	return it->text ? 0 : -ENOMEM;
err:
	nftnl_set_free(s);
	zwnft_buf__fini(&t);
	return ret;
}

/* A dynamic set of source addresses for a per-source rate limit. */
static int add_rate_set(struct zwnft_ruleset *rs, const char *name, int w,
			uint32_t flow)
{
	struct zwnft_item *it;
	struct nftnl_set *s = nftnl_set_alloc();
	char text[512];

	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, rs->opts.table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)rs->n[ZWNFT_SET] + 1);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
			  w == 4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)w);
	nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, ZWNFT_RATE_TIMEOUT_MS);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, ZWNFT_RATE_SIZE);
	snprintf(text, sizeof(text),
		 "set %s {\n\t\ttype %s\n\t\tsize %u\n\t\tflags dynamic,timeout\n"
		 "\t\ttimeout %us\n\t}",
		 name, w == 4 ? "ipv4_addr" : "ipv6_addr", ZWNFT_RATE_SIZE,
		 ZWNFT_RATE_TIMEOUT_MS / 1000);
	it = rs_push(rs, ZWNFT_SET, name, flow);
	if (!it) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	it->set = s;
	it->dynamic = true;
	if (!(rs->mode & ZWNFT_BUILD_TEXT))
		return 0;
	it->text = strdup(text);
	return it->text ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ */
/* chains and objects */

static int add_counter(struct zwnft_ruleset *rs, const char *name,
		       uint32_t flow)
{
	struct zwnft_item *it;
	struct nftnl_obj *o = nftnl_obj_alloc();
	char text[ZWNFT_NAME_MAX + 32];

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, rs->opts.table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	it = rs_push(rs, ZWNFT_OBJ, name, flow);
	if (!it) {
		nftnl_obj_free(o);
		return -ENOMEM;
	}
	it->obj = o;
	if (!(rs->mode & ZWNFT_BUILD_TEXT))
		return 0;
	snprintf(text, sizeof(text), "counter %s { }", name);
	it->text = strdup(text);
	return it->text ? 0 : -ENOMEM;
}

static int add_chain(struct zwnft_ruleset *rs, const char *name,
		     const char *comment, bool base, uint32_t flow)
{
	struct zwnft_buf t = {0};
	struct zwnft_item *it;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, rs->opts.table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	zwnft_buf__printf(&t, "chain %s {\n", name);
	if (comment) {
		char cm[NFTNL_UDATA_COMMENT_MAXLEN];

		snprintf(cm, sizeof(cm), "%s", comment);
		if (set_comment(c, ZWNFT_CHAIN, NFTNL_UDATA_CHAIN_COMMENT, cm)) {
			nftnl_chain_free(c);
			zwnft_buf__fini(&t);
			return -ENOMEM;
		}
		zwnft_buf__printf(&t, "\t\tcomment \"%s\"\n", cm);
	}
	if (base) {
		int32_t p = rs->opts.priority;

		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, p);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
		if (p == 0)
			zwnft_buf__puts(&t, "\t\ttype filter hook forward priority filter; policy drop;\n");
		else
			zwnft_buf__printf(&t,
					  "\t\ttype filter hook forward priority filter %c %d; policy drop;\n",
					  p < 0 ? '-' : '+', p < 0 ? -p : p);
	}
	it = rs_push(rs, ZWNFT_CHAIN, name, flow);
	if (!it) {
		nftnl_chain_free(c);
		zwnft_buf__fini(&t);
		return -ENOMEM;
	}
	it->chain = c;
	if (!(rs->mode & ZWNFT_BUILD_TEXT)) {
		zwnft_buf__fini(&t);
		return 0;
	}
	it->text = zwnft_buf__take(&t);
	return it->text ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ */
/* the build */

struct build {
	const struct zw_image *img;
	struct zwnft_ruleset *rs;
	int32_t day;
	/* pair chains, in (from, to) order: self pairs merged with the
	 * image's pairs */
	struct pchain {
		uint32_t from;
		uint32_t to;
		const struct zw_img_pair *p; /* NULL: no rule */
	} *pc;
	size_t n_pc;
	bool *from_chain;  /* [zone]: zone has a from_<zone> chain */
	bool *flow_chain;  /* [flow]: flow has a flow_<id> chain */
	bool *set_used;	   /* [set]: narrowing set used by a live rule */
};

static const char *zname(const struct zw_image *img, uint32_t z)
{
	return zw_image__str(img, img->zones[z].name);
}

static const char *fid(const struct zw_image *img, uint32_t f)
{
	return zw_image__str(img, img->flows[f].id);
}

static bool set_has_family(const struct zw_image *img, uint32_t set, int fam)
{
	const struct zw_img_set *s = &img->sets[set];

	for (uint32_t i = 0; i < s->count; i++)
		if (img->narrow[s->first + i].family == fam)
			return true;
	return false;
}

/* The families a rule can match: 0 = both in one family-free rule, else
 * a bit mask (1 = IPv4, 2 = IPv6) of per-family rules. */
static int rule_families(const struct zw_image *img,
			 const struct zw_img_rule *ru)
{
	int m = 0;

	if (ru->src_set == ZW_NO_SET && ru->dst_set == ZW_NO_SET)
		return 0;
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if (ru->src_set != ZW_NO_SET &&
		    !set_has_family(img, ru->src_set, fam))
			continue;
		if (ru->dst_set != ZW_NO_SET &&
		    !set_has_family(img, ru->dst_set, fam))
			continue;
		m |= 1 << i;
	}
	return m ? m : -1; /* -1: can match nothing */
}

static int pc_push(struct build *b, uint32_t from, uint32_t to,
		   const struct zw_img_pair *p)
{
	struct pchain *v = realloc(b->pc, (b->n_pc + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	b->pc = v;
	v[b->n_pc].from = from;
	v[b->n_pc].to = to;
	v[b->n_pc].p = p;
	b->n_pc++;
	return 0;
}

static bool pair_has_live_rule(struct build *b, const struct zw_img_pair *p)
{
	for (uint32_t i = 0; i < p->count; i++) {
		const struct zw_img_rule *ru = &b->img->rules[p->first + i];

		if (zwnft_flow_live(b->img, ru->flow, b->day) &&
		    rule_families(b->img, ru) >= 0)
			return true;
	}
	return false;
}

/* Decide which chains exist. */
static int plan(struct build *b)
{
	const struct zw_image *img = b->img;
	uint32_t self = 1; /* next self pair (z, z) to merge, z >= 1 */
	int ret;

	b->from_chain = calloc(img->n_zones ? img->n_zones : 1, sizeof(bool));
	b->flow_chain = calloc(img->n_flows ? img->n_flows : 1, sizeof(bool));
	b->set_used = calloc(img->n_sets ? img->n_sets : 1, sizeof(bool));
	if (!b->from_chain || !b->flow_chain || !b->set_used)
		return -ENOMEM;

	for (uint32_t i = 0; i <= img->n_pairs; i++) {
		const struct zw_img_pair *p = i < img->n_pairs ? &img->pairs[i] : NULL;
		uint64_t key = p ? ((uint64_t)p->from << 16 | p->to) : UINT64_MAX;

		/* self pairs that sort before this pair */
		while (self < img->n_zones &&
		       ((uint64_t)self << 16 | self) < key) {
			if ((ret = pc_push(b, self, self, NULL)))
				return ret;
			self++;
		}
		if (!p)
			break;
		if (p->from == p->to && p->from == self && self < img->n_zones)
			self++; /* the image pair is the self pair */
		if (!pair_has_live_rule(b, p)) {
			if (p->from == p->to && p->from != ZW_ZONE_OUTSIDE) {
				if ((ret = pc_push(b, p->from, p->to, NULL)))
					return ret;
			}
			continue;
		}
		if ((ret = pc_push(b, p->from, p->to, p)))
			return ret;
		for (uint32_t k = 0; k < p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[p->first + k];

			if (!zwnft_flow_live(img, ru->flow, b->day) ||
			    rule_families(img, ru) < 0)
				continue;
			b->flow_chain[ru->flow] = true;
			if (ru->src_set != ZW_NO_SET)
				b->set_used[ru->src_set] = true;
			if (ru->dst_set != ZW_NO_SET)
				b->set_used[ru->dst_set] = true;
		}
	}
	for (size_t i = 0; i < b->n_pc; i++)
		b->from_chain[b->pc[i].from] = true;
	return 0;
}

static int name_from(char *buf, const struct zw_image *img, uint32_t z)
{
	return fmt_name(buf, "from_%s", zname(img, z));
}

static int name_pair(char *buf, const struct zw_image *img, uint32_t a,
		     uint32_t b)
{
	return fmt_name(buf, "pair_%s_%s", zname(img, a), zname(img, b));
}

static int build_objects(struct build *b)
{
	char n[ZWNFT_NAME_MAX];
	int ret;

	for (size_t i = 0; i < sizeof(global_counters) / sizeof(global_counters[0]); i++)
		if ((ret = add_counter(b->rs, global_counters[i], ZW_NO_FLOW)))
			return ret;
	for (uint32_t f = 0; f < b->img->n_flows; f++) {
		if (!b->flow_chain[f])
			continue;
		if ((ret = fmt_name(n, "flow_%s", fid(b->img, f))) ||
		    (ret = add_counter(b->rs, n, f)) ||
		    (ret = fmt_name(n, "new_%s", fid(b->img, f))) ||
		    (ret = add_counter(b->rs, n, f)))
			return ret;
		/* packets its rate limit refused (backend.h: the flow's drops) */
		if (b->img->flows[f].rate &&
		    ((ret = fmt_name(n, "drop_%s", fid(b->img, f))) ||
		     (ret = add_counter(b->rs, n, f))))
			return ret;
	}
	return 0;
}

static int build_chains(struct build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], c[256];
	int ret;

	if ((ret = add_chain(b->rs, ZWNFT_BASE_CHAIN, NULL, true, ZW_NO_FLOW)) ||
	    (ret = add_chain(b->rs, "deny", "nothing allows it", false,
			     ZW_NO_FLOW)))
		return ret;
	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b->from_chain[z])
			continue;
		snprintf(c, sizeof(c), "traffic from zone %s", zname(img, z));
		if ((ret = name_from(n, img, z)) ||
		    (ret = add_chain(b->rs, n, c, false, ZW_NO_FLOW)))
			return ret;
	}
	for (size_t i = 0; i < b->n_pc; i++) {
		const struct pchain *p = &b->pc[i];

		snprintf(c, sizeof(c), "%s -> %s", zname(img, p->from),
			 zname(img, p->to));
		if ((ret = name_pair(n, img, p->from, p->to)) ||
		    (ret = add_chain(b->rs, n, c, false, ZW_NO_FLOW)))
			return ret;
	}
	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];

		if (!b->flow_chain[f])
			continue;
		snprintf(c, sizeof(c), "flow #%u %s: %s -> %s", f, fid(img, f),
			 zname(img, fl->from), zname(img, fl->to));
		if ((ret = fmt_name(n, "flow_%s", fid(img, f))) ||
		    (ret = add_chain(b->rs, n, c, false, f)))
			return ret;
	}
	return 0;
}

static int narrow_ranges(const struct zw_image *img,
			 const struct zw_img_narrow *v, uint32_t n, int fam,
			 struct zranges *out)
{
	out->w = fam == ZW_AF_INET ? 4 : 16;
	for (uint32_t i = 0; i < n; i++) {
		struct zrange x;
		int ret;

		if (v[i].family != fam)
			continue;
		zr_prefix(&x, v[i].addr, v[i].len, out->w);
		if ((ret = zr_push(out, &x)))
			return ret;
	}
	(void)img;
	return zr_normalize(out);
}

/*
 * If narrowing set @set holds, for family @fam, exactly one prefix (after
 * merging), put it in @addr/@len and return true: the rule compares the
 * address inline instead of looking up a named set. The kernel finds sets
 * by walking a list, so thousands of one-address sets make every commit
 * quadratic; most narrowings are one address or one prefix.
 */
static bool set_single_prefix(const struct zw_image *img, uint32_t set,
			      int fam, uint8_t addr[16], int *len)
{
	struct zranges r = {0};
	bool one = false;
	int w = fam == ZW_AF_INET ? 4 : 16;

	if (narrow_ranges(img, &img->narrow[img->sets[set].first],
			  img->sets[set].count, fam, &r) == 0 && r.n == 1) {
		int plen = range_prefix_len(r.v[0].lo, r.v[0].hi, w);

		if (plen >= 0) {
			memcpy(addr, r.v[0].lo, 16);
			*len = plen;
			one = true;
		}
	}
	free(r.v);
	return one;
}

/* Zone prefixes of family @fam as ranges, each mapped to the chain
 * @target names for its zone (zones it names none for are left out).
 * Addresses of no zone are not in the map at all: the rule after the
 * lookup sends them to the `outside` chain. No gap elements: every map
 * element makes the kernel validate its target chain again at commit. */
static int zone_ranges(struct build *b, int fam,
		       const char *(*target)(struct build *, uint32_t, void *),
		       void *ctx, int verdict, struct zranges *out)
{
	const struct zw_image *img = b->img;
	uint32_t n = fam == ZW_AF_INET ? img->n_prefix4 : img->n_prefix6;
	int ret;

	out->w = fam == ZW_AF_INET ? 4 : 16;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *addr = fam == ZW_AF_INET ? img->prefix4[i].addr :
							 img->prefix6[i].addr;
		uint8_t len = fam == ZW_AF_INET ? img->prefix4[i].len :
						  img->prefix6[i].len;
		uint16_t zone = fam == ZW_AF_INET ? img->prefix4[i].zone :
						    img->prefix6[i].zone;
		const char *t = target(b, zone, ctx);
		struct zrange x;

		if (!t)
			continue;
		zr_prefix(&x, addr, len, out->w);
		x.verdict = verdict;
		x.chain = t;
		if ((ret = zr_push(out, &x)))
			return ret;
	}
	return zr_normalize(out);
}

/* Chain names live as long as the build: keep them in a string table. */
struct names {
	char **v; /* [zone] or [zone*n+zone] */
};

static const char *from_target(struct build *b, uint32_t z, void *ctx)
{
	char **names = ctx;

	if (b->from_chain[z])
		return names[z];
	return z == ZW_ZONE_OUTSIDE ? NULL : "deny";
}

struct pair_ctx {
	uint32_t from;
	char **names; /* [to] for this from, NULL if no chain */
};

/* Every declared zone is in a destination map, "deny" when the pair has
 * no chain: only addresses of no zone may fall through to outside. */
static const char *pair_target(struct build *b, uint32_t z, void *ctx)
{
	struct pair_ctx *pc = ctx;

	(void)b;
	if (pc->names[z])
		return pc->names[z];
	return z == ZW_ZONE_OUTSIDE ? NULL : "deny";
}

static int build_sets(struct build *b, char **from_names)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX];
	int ret = 0;

	/* crisis block list */
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;
		struct zranges r = {0};

		if ((ret = narrow_ranges(img, img->block, img->n_block, fam, &r)) ||
		    (ret = add_interval_set(b->rs, i ? "block6" : "block4", &r,
					    false, ZW_NO_FLOW, 0))) {
			free(r.v);
			return ret;
		}
		free(r.v);
	}
	/* source zone -> from_<zone> */
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;
		struct zranges r = {0};

		if ((ret = zone_ranges(b, fam, from_target, from_names, NFT_GOTO,
				       &r)) ||
		    (ret = add_interval_set(b->rs, i ? "src6" : "src4", &r, true,
					    ZW_NO_FLOW, 0))) {
			free(r.v);
			return ret;
		}
		free(r.v);
	}
	/* per source zone: destination zone -> pair_<from>_<to> */
	char **pnames = calloc(img->n_zones, sizeof(char *));

	if (!pnames)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_pc && !ret;) {
		uint32_t from = b->pc[i].from;
		struct pair_ctx ctx = {.from = from, .names = pnames};
		size_t j;

		for (j = i; j < b->n_pc && b->pc[j].from == from; j++) {
			pnames[b->pc[j].to] = malloc(ZWNFT_NAME_MAX);
			if (!pnames[b->pc[j].to]) {
				ret = -ENOMEM;
				break;
			}
			ret = name_pair(pnames[b->pc[j].to], img, from,
					b->pc[j].to);
			if (ret)
				break;
		}
		for (int k = 0; k < 2 && !ret; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;
			struct zranges r = {0};

			ret = zone_ranges(b, fam, pair_target, &ctx, NFT_GOTO, &r);
			if (!ret && r.n)
				ret = fmt_name(n, "dst%d_%s", k ? 6 : 4,
					       zname(img, from));
			if (!ret && r.n)
				ret = add_interval_set(b->rs, n, &r, true,
						       ZW_NO_FLOW, 0);
			free(r.v);
		}
		for (size_t k = i; k < j; k++) {
			free(pnames[b->pc[k].to]);
			pnames[b->pc[k].to] = NULL;
		}
		i = j;
	}
	free(pnames);
	if (ret)
		return ret;
	/* narrowing sets */
	for (uint32_t s = 1; s < img->n_sets; s++) {
		if (!b->set_used[s])
			continue;
		for (int k = 0; k < 2; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;
			struct zranges r = {0};

			uint8_t a[16];
			int len;

			if (!set_has_family(img, s, fam) ||
			    set_single_prefix(img, s, fam, a, &len))
				continue;
			ret = narrow_ranges(img, &img->narrow[img->sets[s].first],
					    img->sets[s].count, fam, &r);
			if (!ret)
				ret = fmt_name(n, "n%d_%u", k ? 6 : 4, s);
			if (!ret)
				ret = add_interval_set(b->rs, n, &r, false,
						       ZW_NO_FLOW, s);
			free(r.v);
			if (ret)
				return ret;
		}
	}
	/* rate limits */
	for (uint32_t f = 0; f < img->n_flows; f++) {
		if (!b->flow_chain[f] || !img->flows[f].rate)
			continue;
		if ((ret = fmt_name(n, "rate4_%s", fid(img, f))) ||
		    (ret = add_rate_set(b->rs, n, 4, f)) ||
		    (ret = fmt_name(n, "rate6_%s", fid(img, f))) ||
		    (ret = add_rate_set(b->rs, n, 16, f)))
			return ret;
	}
	return 0;
}

static int base_rules(struct build *b)
{
	struct zwnft_ruleset *rs = b->rs;
	const char *ch = ZWNFT_BASE_CHAIN;
	char mark[NFTNL_UDATA_COMMENT_MAXLEN];
	struct rb rb;
	int ret;

	snprintf(mark, sizeof(mark), "%s%s day=%d", ZWNFT_IMAGE_MARK,
		 rs->sha256_hex, rs->day);
	if ((ret = rb_begin(&rb, rs, ch)))
		return ret;
	rb_counter(&rb, "zw_total");
	if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, mark, 0, 0)))
		return ret;

	for (int i = 0; i < 4; i++) {
		int fam = i < 2 ? ZW_AF_INET : ZW_AF_INET6;

		if ((ret = rb_begin(&rb, rs, ch)))
			return ret;
		rb_hdr_addr_in(&rb, fam, i % 2 == 0,
			       fam == ZW_AF_INET ? "block4" : "block6");
		rb_counter(&rb, "zw_blocked");
		rb_verdict(&rb, NF_DROP, NULL);
		if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	/* IPv6 extension chains the packet parser of the other engines
	 * refuses (ZW_DROP_EXT_HEADERS) and the kernel forwards: a routing
	 * header of type 0 (RFC 5095), a hop-by-hop header that is not the
	 * first. (A chain longer than ZW_IPV6_EXT_MAX cannot be counted
	 * here: docs/nft-engine.md, limits.) */
	if ((ret = rb_begin(&rb, rs, ch)))
		return ret;
	{
		uint8_t zero = 0;

		rb_nfproto(&rb, ZW_AF_INET6);
		rb_exthdr6(&rb, IP6_ROUTING, 2, false);
		rb_cmp(&rb, NFT_CMP_EQ, &zero, 1);
		rb_text(&rb, "rt type 0");
	}
	rb_counter(&rb, "zw_ext_headers");
	rb_verdict(&rb, NF_DROP, NULL);
	if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;
	if ((ret = rb_begin(&rb, rs, ch)))
		return ret;
	{
		uint8_t one = 1, hbh = IP6_HOPOPTS;
		struct nftnl_expr *e;

		rb_nfproto(&rb, ZW_AF_INET6);
		rb_exthdr6(&rb, IP6_HOPOPTS, 0, true);
		rb_cmp(&rb, NFT_CMP_EQ, &one, 1);
		rb_text(&rb, "exthdr hbh exists");
		e = rb_expr(&rb, "payload"); /* ip6 nexthdr */
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
					   NFT_PAYLOAD_NETWORK_HEADER);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 6);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
			rb_add(&rb, e);
		}
		rb_cmp(&rb, NFT_CMP_NEQ, &hbh, 1);
		rb_text(&rb, "ip6 nexthdr != 0");
	}
	rb_counter(&rb, "zw_ext_headers");
	rb_verdict(&rb, NF_DROP, NULL);
	if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	if ((ret = rb_begin(&rb, rs, ch)))
		return ret;
	rb_ct_state(&rb, NF_CT_STATE_INVALID_BIT | NF_CT_STATE_UNTRACKED_BIT,
		    "invalid,untracked");
	rb_counter(&rb, "zw_invalid");
	rb_verdict(&rb, NF_DROP, NULL);
	if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	/* A new TCP connection opens with a SYN; an IPv6 packet with AH is
	 * protocol 51 (not TCP) for the policy, whatever AH carries. */
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if ((ret = rb_begin(&rb, rs, ch)))
			return ret;
		rb_ct_state(&rb, CT_NEW, "new");
		rb_nfproto(&rb, fam);
		if (fam == ZW_AF_INET6)
			rb_ah6(&rb, false);
		rb_tcp_not_syn(&rb);
		rb_counter(&rb, "zw_not_syn");
		rb_verdict(&rb, NF_DROP, NULL);
		if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if ((ret = rb_begin(&rb, rs, ch)))
			return ret;
		rb_nfproto(&rb, fam);
		rb_ct_addr(&rb, fam, true, i ? "src6" : "src4", true);
		if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	/* source in no zone: outside */
	if ((ret = rb_begin(&rb, rs, ch)))
		return ret;
	rb_verdict(&rb, NFT_GOTO, b->from_chain[ZW_ZONE_OUTSIDE] ? "from_outside" : "deny");
	if ((ret = rb_end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	/* Nothing allowed it. An established connection reaching here was
	 * allowed by a policy that no longer does: cut it. */
	if ((ret = rb_begin(&rb, rs, "deny")))
		return ret;
	rb_ct_state(&rb, CT_ESTABLISHED | CT_RELATED, "established,related");
	rb_counter(&rb, "zw_cut");
	rb_verdict(&rb, NF_DROP, NULL);
	if ((ret = rb_end(&rb, rs, "deny", ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	if ((ret = rb_begin(&rb, rs, "deny")))
		return ret;
	rb_counter(&rb, "zw_no_flow");
	rb_verdict(&rb, NF_DROP, NULL);
	return rb_end(&rb, rs, "deny", ZW_NO_FLOW, NULL, 0, 0);
}

static bool pair_exists(const struct build *b, uint32_t from, uint32_t to)
{
	for (size_t i = 0; i < b->n_pc; i++)
		if (b->pc[i].from == from && b->pc[i].to == to)
			return true;
	return false;
}

static int from_rules(struct build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], set[ZWNFT_NAME_MAX];
	struct rb rb;
	int ret;

	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b->from_chain[z])
			continue;
		if ((ret = name_from(n, img, z)))
			return ret;
		for (int k = 0; k < 2; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;
			bool exists = false;

			if ((ret = fmt_name(set, "dst%d_%s", k ? 6 : 4,
					    zname(img, z))))
				return ret;
			for (size_t i = 0; i < b->rs->n[ZWNFT_SET]; i++)
				if (strcmp(b->rs->v[ZWNFT_SET][i].name, set) == 0)
					exists = true;
			if (!exists)
				continue;
			if ((ret = rb_begin(&rb, b->rs, n)))
				return ret;
			rb_nfproto(&rb, fam);
			rb_ct_addr(&rb, fam, false, set, true);
			if ((ret = rb_end(&rb, b->rs, n, ZW_NO_FLOW, NULL, 0, 0)))
				return ret;
		}
		/* destination in no zone: outside */
		if ((ret = rb_begin(&rb, b->rs, n)))
			return ret;
		if (pair_exists(b, z, ZW_ZONE_OUTSIDE)) {
			if ((ret = name_pair(set, img, z, ZW_ZONE_OUTSIDE)))
				return ret;
			rb_verdict(&rb, NFT_GOTO, set);
		} else {
			rb_verdict(&rb, NFT_GOTO, "deny");
		}
		if ((ret = rb_end(&rb, b->rs, n, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}
	return 0;
}

static void rule_comment(const struct zw_image *img,
			 const struct zw_img_rule *ru, char *buf, size_t n)
{
	char pb[4];
	const char *svc = zw_image__str(img, img->services[ru->service].name);
	const char *p = proto_name(ru->proto, pb);

	if (ru->flags & ZW_IMG_RULE_ANY)
		snprintf(buf, n, "%s %s %s", fid(img, ru->flow), svc, p);
	else if (ru->lo == ru->hi)
		snprintf(buf, n, "%s %s %s/%u", fid(img, ru->flow), svc, p,
			 ru->lo);
	else
		snprintf(buf, n, "%s %s %s/%u-%u", fid(img, ru->flow), svc, p,
			 ru->lo, ru->hi);
}

/* One image rule as an nft rule of @chain for family @fam (0: both). With
 * @ah6 (fam IPv6, a protocol 51 rule): the rule for IPv6 packets with an
 * AH header, which conntrack files under the protocol AH carries. */
static int one_pair_rule(struct build *b, const char *chain,
			 const struct zw_img_rule *ru, int fam, bool ah6)
{
	const struct zw_image *img = b->img;
	char set[ZWNFT_NAME_MAX], target[ZWNFT_NAME_MAX], comment[160];
	struct rb rb;
	int ret;

	if ((ret = fmt_name(target, "flow_%s", fid(img, ru->flow))))
		return ret;
	if ((ret = rb_begin(&rb, b->rs, chain)))
		return ret;
	if (fam) {
		uint32_t sets[2] = {ru->src_set, ru->dst_set};

		rb_nfproto(&rb, fam);
		for (int k = 0; k < 2; k++) {
			uint8_t a[16];
			int len;

			if (sets[k] == ZW_NO_SET)
				continue;
			if (set_single_prefix(img, sets[k], fam, a, &len)) {
				rb_ct_addr_prefix(&rb, fam, k == 0, a, len);
				continue;
			}
			fmt_name(set, "n%d_%u", fam == ZW_AF_INET ? 4 : 6, sets[k]);
			rb_ct_addr(&rb, fam, k == 0, set, false);
		}
	}
	if (ah6) {
		rb_ah6(&rb, true);
		rb_verdict(&rb, NFT_GOTO, target);
		rule_comment(img, ru, comment, sizeof(comment));
		strncat(comment, " (IPv6 AH header)",
			sizeof(comment) - strlen(comment) - 1);
		return rb_end(&rb, b->rs, chain, ru->flow, comment,
			      ru->src_set, ru->dst_set);
	}
	rb_ct_proto(&rb, ru->proto);
	if (!(ru->flags & ZW_IMG_RULE_ANY)) {
		if (proto_has_ports(ru->proto)) {
			if (!(ru->lo == 0 && ru->hi == 65535))
				rb_ct_pdst(&rb, ru->lo, ru->hi);
		} else if (ru->proto == 1 || ru->proto == 58) {
			if (!(ru->lo == 0 && ru->hi >= 255))
				rb_ct_pdst(&rb, (uint16_t)(ru->lo << 8),
					   (uint16_t)(ru->hi << 8 | 0xff));
		}
	}
	rb_verdict(&rb, NFT_GOTO, target);
	rule_comment(img, ru, comment, sizeof(comment));
	return rb_end(&rb, b->rs, chain, ru->flow, comment, ru->src_set,
		      ru->dst_set);
}

static int pair_end(struct build *b, struct rb *rb, const struct pchain *pc,
		    const char *n);

static int pair_rules(struct build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX];
	struct rb rb;
	int ret;

	for (size_t i = 0; i < b->n_pc; i++) {
		const struct pchain *pc = &b->pc[i];

		if ((ret = name_pair(n, img, pc->from, pc->to)))
			return ret;
		/* IPv6 packets with AH first: only the pair's protocol 51
		 * rules can match them, then what ends the chain. Needed only
		 * where some rule can match an IPv6 packet. */
		bool v6 = false;

		for (uint32_t k = 0; pc->p && k < pc->p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[pc->p->first + k];
			int fams = rule_families(img, ru);

			if (!zwnft_flow_live(img, ru->flow, b->day) || fams < 0 ||
			    !(fams == 0 || (fams & 2)))
				continue;
			v6 = true;
			if (ru->proto == IP6_AH &&
			    (ret = one_pair_rule(b, n, ru, ZW_AF_INET6, true)))
				return ret;
		}
		if (v6) {
			if ((ret = rb_begin(&rb, b->rs, n)))
				return ret;
			rb_nfproto(&rb, ZW_AF_INET6);
			rb_ah6(&rb, true);
			if ((ret = pair_end(b, &rb, pc, n)))
				return ret;
		}
		for (uint32_t k = 0; pc->p && k < pc->p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[pc->p->first + k];
			int fams;

			if (!zwnft_flow_live(img, ru->flow, b->day))
				continue;
			fams = rule_families(img, ru);
			if (fams < 0)
				continue;
			if (fams == 0) {
				if ((ret = one_pair_rule(b, n, ru, 0, false)))
					return ret;
				continue;
			}
			if ((fams & 1) &&
			    (ret = one_pair_rule(b, n, ru, ZW_AF_INET, false)))
				return ret;
			/* no IPv6 packet is protocol 51 for conntrack (the
			 * AH rules above are its IPv6 rules) */
			if ((fams & 2) && ru->proto != IP6_AH &&
			    (ret = one_pair_rule(b, n, ru, ZW_AF_INET6, false)))
				return ret;
		}
		if ((ret = rb_begin(&rb, b->rs, n)) ||
		    (ret = pair_end(b, &rb, pc, n)))
			return ret;
	}
	return 0;
}

/* End pair chain @n with the rule begun in @rb: nothing before matched. */
static int pair_end(struct build *b, struct rb *rb, const struct pchain *pc,
		    const char *n)
{
	if (pc->from != pc->to || pc->from == ZW_ZONE_OUTSIDE) {
		rb_verdict(rb, NFT_GOTO, "deny");
		return rb_end(rb, b->rs, n, ZW_NO_FLOW, NULL, 0, 0);
	}
	/* both ends in one declared zone, no flow matched */
	if (b->img->zones[pc->from].flags & ZW_IMG_ZONE_ISOLATE) {
		rb_counter(rb, "zw_isolated");
		rb_verdict(rb, NF_DROP, NULL);
		return rb_end(rb, b->rs, n, ZW_NO_FLOW,
			      "isolated zone: members may not talk", 0, 0);
	}
	rb_counter(rb, "zw_same_zone");
	rb_verdict(rb, NF_ACCEPT, NULL);
	return rb_end(rb, b->rs, n, ZW_NO_FLOW, "same zone", 0, 0);
}

static int flow_rules(struct build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], obj[ZWNFT_NAME_MAX], set[ZWNFT_NAME_MAX];
	char drop[ZWNFT_NAME_MAX];
	struct rb rb;
	int ret;

	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];

		if (!b->flow_chain[f])
			continue;
		if ((ret = fmt_name(n, "flow_%s", fid(img, f))) ||
		    (ret = fmt_name(drop, "drop_%s", fid(img, f))))
			return ret;
		for (int k = 0; fl->rate && k < 2; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;

			if ((ret = fmt_name(set, "rate%d_%s", k ? 6 : 4, fid(img, f))) ||
			    (ret = rb_begin(&rb, b->rs, n)))
				return ret;
			rb_ct_state(&rb, CT_NEW, "new");
			rb_nfproto(&rb, fam);
			rb_rate(&rb, fam, set, fl->rate);
			rb_counter(&rb, "zw_rate");
			rb_counter(&rb, drop);
			rb_verdict(&rb, NF_DROP, NULL);
			if ((ret = rb_end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
		}
		if ((ret = fmt_name(obj, "new_%s", fid(img, f))) ||
		    (ret = rb_begin(&rb, b->rs, n)))
			return ret;
		rb_ct_state(&rb, CT_NEW, "new");
		rb_counter(&rb, obj);
		if ((ret = rb_end(&rb, b->rs, n, f, NULL, 0, 0)))
			return ret;
		if (fl->flags & ZW_IMG_FLOW_LOG) {
			char prefix[128];

			snprintf(prefix, sizeof(prefix), "zonewall %s ", fid(img, f));
			if ((ret = rb_begin(&rb, b->rs, n)))
				return ret;
			rb_ct_state(&rb, CT_NEW, "new");
			rb_log(&rb, prefix, b->rs->opts.log_group);
			if ((ret = rb_end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
		}
		if ((ret = fmt_name(obj, "flow_%s", fid(img, f))) ||
		    (ret = rb_begin(&rb, b->rs, n)))
			return ret;
		rb_counter(&rb, obj);
		rb_verdict(&rb, NF_ACCEPT, NULL);
		if ((ret = rb_end(&rb, b->rs, n, f, NULL, 0, 0)))
			return ret;
	}
	return 0;
}

/* Per-flow index of items and each rule's chain, for describe_flow(). */
static int build_index(struct zwnft_ruleset *rs, const struct zw_image *img)
{
	uint32_t nf = img->n_flows;
	size_t c = 0;

	/* rules come grouped by chain, in chain order */
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++) {
		struct zwnft_item *r = &rs->v[ZWNFT_RULE][i];

		while (c < rs->n[ZWNFT_CHAIN] &&
		       strcmp(rs->v[ZWNFT_CHAIN][c].name, r->name) != 0)
			c++;
		if (c == rs->n[ZWNFT_CHAIN])
			return -EINVAL; /* a builder bug: rule out of order */
		r->chain_idx = (uint32_t)c;
	}
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		uint32_t *off = calloc((size_t)nf + 2, sizeof(uint32_t));
		uint32_t *idx = calloc(rs->n[k] + 1, sizeof(uint32_t));

		if (!off || !idx) {
			free(off);
			free(idx);
			return -ENOMEM;
		}
		rs->fx.off[k] = off;
		rs->fx.idx[k] = idx;
		for (size_t i = 0; i < rs->n[k]; i++)
			if (rs->v[k][i].flow < nf)
				off[rs->v[k][i].flow + 1]++;
		for (uint32_t f = 0; f < nf; f++)
			off[f + 1] += off[f];
		uint32_t *fill = calloc((size_t)nf + 1, sizeof(uint32_t));

		if (!fill)
			return -ENOMEM;
		for (size_t i = 0; i < rs->n[k]; i++) {
			uint32_t f = rs->v[k][i].flow;

			if (f < nf)
				idx[off[f] + fill[f]++] = (uint32_t)i;
		}
		free(fill);
	}
	rs->n_nsets = img->n_sets;
	rs->nset_items = calloc(img->n_sets ? img->n_sets : 1, sizeof(uint32_t));
	if (!rs->nset_items)
		return -ENOMEM;
	for (size_t i = rs->n[ZWNFT_SET]; i-- > 0;) {
		uint32_t ns = rs->v[ZWNFT_SET][i].sets[0];

		if (ns && ns < img->n_sets)
			rs->nset_items[ns] = (uint32_t)i + 1;
	}
	return 0;
}

int zwnft_ruleset__build(const struct zw_image *img, int32_t day,
			 const struct zwnft_opts *opts,
			 struct zwnft_ruleset **out)
{
	return zwnft_ruleset__build_mode(img, day, opts,
					 ZWNFT_BUILD_OBJECTS | ZWNFT_BUILD_TEXT,
					 out);
}

int zwnft_ruleset__build_mode(const struct zw_image *img, int32_t day,
			      const struct zwnft_opts *opts, unsigned mode,
			      struct zwnft_ruleset **out)
{
	struct build b = {.img = img, .day = day};
	struct zwnft_ruleset *rs;
	char **from_names = NULL;
	int ret = -ENOMEM;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	b.rs = rs;
	rs->mode = mode;
	if (opts)
		rs->opts = *opts;
	else
		zwnft_opts__init(&rs->opts);
	zwnft_hex(img->sha256, 32, rs->sha256_hex);
	rs->day = day;
	rs->n_flows = img->n_flows;

	rs->table = nftnl_table_alloc();
	if (!rs->table)
		goto err;
	nftnl_table_set_str(rs->table, NFTNL_TABLE_NAME, rs->opts.table);
	nftnl_table_set_u32(rs->table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(rs->table, NFTNL_TABLE_FLAGS, 0);
	if ((ret = set_comment(rs->table, -1, NFTNL_UDATA_TABLE_COMMENT,
			       ZWNFT_OWNER_COMMENT)))
		goto err;

	if ((ret = plan(&b)))
		goto err;
	ret = -ENOMEM;
	from_names = calloc(img->n_zones ? img->n_zones : 1, sizeof(char *));
	if (!from_names)
		goto err;
	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b.from_chain[z])
			continue;
		from_names[z] = malloc(ZWNFT_NAME_MAX);
		if (!from_names[z])
			goto err;
		if ((ret = name_from(from_names[z], img, z)))
			goto err;
	}
	if ((ret = build_objects(&b)) || (ret = build_chains(&b)) ||
	    (ret = build_sets(&b, from_names)) || (ret = base_rules(&b)) ||
	    (ret = from_rules(&b)) || (ret = pair_rules(&b)) ||
	    (ret = flow_rules(&b)) || (ret = build_index(rs, img)))
		goto err;
	ret = 0;
	*out = rs;
	rs = NULL;
err:
	if (from_names)
		for (uint32_t z = 0; z < img->n_zones; z++)
			free(from_names[z]);
	free(from_names);
	free(b.pc);
	free(b.from_chain);
	free(b.flow_chain);
	free(b.set_used);
	zwnft_ruleset__free(rs);
	return ret;
}

/* ------------------------------------------------------------------ */
/* text */

static void text_rules_of(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
			  const char *chain, uint32_t flow, bool only_flow)
{
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++) {
		const struct zwnft_item *r = &rs->v[ZWNFT_RULE][i];

		if (strcmp(r->name, chain) != 0)
			continue;
		if (only_flow && r->flow != flow)
			continue;
		zwnft_buf__printf(t, "\t\t%s\n", r->text);
	}
}

static void text_chain(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
		       const struct zwnft_item *c, uint32_t flow, bool only_flow)
{
	/* c->text is "chain NAME {\n[comment][hook]" without the end */
	zwnft_buf__printf(t, "\t%s", c->text);
	text_rules_of(t, rs, c->name, flow, only_flow);
	zwnft_buf__puts(t, "\t}\n");
}

char *zwnft_ruleset__text(const struct zwnft_ruleset *rs)
{
	struct zwnft_buf t = {0};

	zwnft_buf__printf(&t, "table inet %s {\n\tcomment \"%s\"\n",
			  rs->opts.table, ZWNFT_OWNER_COMMENT);
	for (size_t i = 0; i < rs->n[ZWNFT_OBJ]; i++)
		zwnft_buf__printf(&t, "\t%s\n\n", rs->v[ZWNFT_OBJ][i].text);
	for (size_t i = 0; i < rs->n[ZWNFT_SET]; i++)
		zwnft_buf__printf(&t, "\t%s\n\n", rs->v[ZWNFT_SET][i].text);
	for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++) {
		if (i)
			zwnft_buf__puts(&t, "\n");
		text_chain(&t, rs, &rs->v[ZWNFT_CHAIN][i], ZW_NO_FLOW, false);
	}
	zwnft_buf__puts(&t, "}\n");
	return zwnft_buf__take(&t);
}

static void text_set_if(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
			uint32_t nset, uint32_t *shown, size_t *n_shown)
{
	uint32_t first;

	if (!nset || nset >= rs->n_nsets || !rs->nset_items[nset])
		return;
	for (size_t k = 0; k < *n_shown; k++)
		if (shown[k] == nset)
			return;
	if (*n_shown < 4)
		shown[(*n_shown)++] = nset;
	first = rs->nset_items[nset] - 1;
	/* the IPv4 and IPv6 sets of one image set are adjacent */
	for (size_t i = first; i < rs->n[ZWNFT_SET] &&
			       rs->v[ZWNFT_SET][i].sets[0] == nset; i++)
		zwnft_buf__printf(t, "\t%s\n", rs->v[ZWNFT_SET][i].text);
}

char *zwnft_ruleset__describe_flow(const struct zwnft_ruleset *rs,
				   const struct zw_image *img, uint32_t flow)
{
	const struct zwnft_flow_index *fx = &rs->fx;
	struct zwnft_buf t = {0};
	uint32_t shown[4];
	size_t n_shown = 0;

	if (flow >= img->n_flows || flow >= rs->n_flows) {
		errno = EINVAL;
		return NULL;
	}
	if (fx->off[ZWNFT_RULE][flow] == fx->off[ZWNFT_RULE][flow + 1]) {
		zwnft_buf__printf(&t,
				  "# flow %s: no rule in table inet %s (%s)\n",
				  fid(img, flow), rs->opts.table,
				  zwnft_flow_live(img, flow, rs->day) ?
					  "no service of the flow gives a rule" :
					  "expired");
		return zwnft_buf__take(&t);
	}
	zwnft_buf__printf(&t, "table inet %s {\n", rs->opts.table);
	for (uint32_t i = fx->off[ZWNFT_OBJ][flow];
	     i < fx->off[ZWNFT_OBJ][flow + 1]; i++)
		zwnft_buf__printf(&t, "\t%s\n",
				  rs->v[ZWNFT_OBJ][fx->idx[ZWNFT_OBJ][i]].text);
	for (uint32_t i = fx->off[ZWNFT_RULE][flow];
	     i < fx->off[ZWNFT_RULE][flow + 1]; i++) {
		const struct zwnft_item *r =
			&rs->v[ZWNFT_RULE][fx->idx[ZWNFT_RULE][i]];

		text_set_if(&t, rs, r->sets[0], shown, &n_shown);
		text_set_if(&t, rs, r->sets[1], shown, &n_shown);
	}
	for (uint32_t i = fx->off[ZWNFT_SET][flow];
	     i < fx->off[ZWNFT_SET][flow + 1]; i++)
		zwnft_buf__printf(&t, "\t%s\n",
				  rs->v[ZWNFT_SET][fx->idx[ZWNFT_SET][i]].text);
	/* rules in the pair chain, then the flow's own chain */
	uint32_t open_chain = UINT32_MAX;

	for (uint32_t i = fx->off[ZWNFT_RULE][flow];
	     i < fx->off[ZWNFT_RULE][flow + 1]; i++) {
		const struct zwnft_item *r =
			&rs->v[ZWNFT_RULE][fx->idx[ZWNFT_RULE][i]];

		if (r->chain_idx != open_chain) {
			if (open_chain != UINT32_MAX)
				zwnft_buf__puts(&t, "\t}\n");
			open_chain = r->chain_idx;
			zwnft_buf__printf(&t, "\t%s",
					  rs->v[ZWNFT_CHAIN][r->chain_idx].text);
		}
		zwnft_buf__printf(&t, "\t\t%s\n", r->text);
	}
	if (open_chain != UINT32_MAX)
		zwnft_buf__puts(&t, "\t}\n");
	zwnft_buf__puts(&t, "}\n");
	return zwnft_buf__take(&t);
}
