// SPDX-License-Identifier: BSD-2-Clause
/*
 * The chains a policy image implies and their rules (libnftnl objects +
 * nft-syntax text). Pure: no kernel. The layout is documented in
 * docs/nft-engine.md; in short, every packet the appliance forwards is
 * judged by the ORIGINAL tuple of its conntrack entry (so a reply or an
 * ICMP error is judged like the connection that it belongs to, and
 * re-judged after every policy change: a connection whose flow left the
 * policy is cut at its next packet):
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
 *   flow_<id>: rate limit, new-connection counter, log, flow index in
 *     the ct mark (recorded flows), counter, accept
 *   deny: established/related -> counted as cut; the rest as no flow
 * Every drop for a policy reason also goes to NFLOG (prefix
 * ZWNFT_DENY_PREFIX), for the denied records.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>

#include <zonewall/flow_record.h>
#include <zonewall/l7.h>
#include <zonewall/policy.h>

#include "nft_build.h"

#define CT_NEW NF_CT_STATE_BIT(IP_CT_NEW)
#define CT_ESTABLISHED NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
#define CT_RELATED NF_CT_STATE_BIT(IP_CT_RELATED)

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
		if (zwnft_udata_set_comment(c, ZWNFT_CHAIN,
					    NFTNL_UDATA_CHAIN_COMMENT, cm)) {
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
		const char *pol = rs->opts.l7_only ? "accept" : "drop";

		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY,
				    rs->opts.l7_only ? NF_ACCEPT : NF_DROP);
		if (p == 0)
			zwnft_buf__printf(&t, "\t\ttype filter hook forward priority filter; policy %s;\n",
					  pol);
		else
			zwnft_buf__printf(&t,
					  "\t\ttype filter hook forward priority filter %c %d; policy %s;\n",
					  p < 0 ? '-' : '+', p < 0 ? -p : p, pol);
	}
	it = zwnft_ruleset__push(rs, ZWNFT_CHAIN, name, flow);
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

static int pc_push(struct zwnft_build *b, uint32_t from, uint32_t to,
		   const struct zw_img_pair *p)
{
	struct zwnft_pchain *v = realloc(b->pc, (b->n_pc + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	b->pc = v;
	v[b->n_pc].from = from;
	v[b->n_pc].to = to;
	v[b->n_pc].p = p;
	b->n_pc++;
	return 0;
}

static bool pair_has_live_rule(struct zwnft_build *b,
			       const struct zw_img_pair *p)
{
	for (uint32_t i = 0; i < p->count; i++) {
		const struct zw_img_rule *ru = &b->img->rules[p->first + i];

		if (zw_image__flow_live(b->img, ru->flow, b->day) &&
		    zwnft_rule_families(b->img, ru) >= 0)
			return true;
	}
	return false;
}

/* Which flows send their connections to the inspector: with queue=, those
 * with a live rule of an `inspect:` service, and those of a zone pair a
 * crisis block-file measure covers (docs/l7.md). */
static int plan_l7(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;

	b->flow_l7 = calloc(img->n_flows ? img->n_flows : 1, sizeof(bool));
	if (!b->flow_l7)
		return -ENOMEM;
	if (!b->rs->opts.queue_set)
		return 0;
	for (uint32_t r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];

		if (b->flow_chain[ru->flow] &&
		    img->services[ru->service].inspect)
			b->flow_l7[ru->flow] = true;
	}
	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];

		for (uint32_t i = 0; i < img->n_fileblock; i++) {
			const struct zw_img_fileblock *fb = &img->fileblock[i];

			if (b->flow_chain[f] &&
			    (fb->from == ZW_FILEBLOCK_ANY || fb->from == fl->from) &&
			    (fb->to == ZW_FILEBLOCK_ANY || fb->to == fl->to))
				b->flow_l7[f] = true;
		}
		b->any_l7 = b->any_l7 || b->flow_l7[f];
	}
	return 0;
}

/* opts.l7_only (the XDP engine's table): only the zone pairs with an
 * inspected flow keep their chain (with every rule of the pair: the first
 * match decides the flow), only inspected flows have a flow chain, and
 * the narrowing sets are those of the pairs kept. */
static void plan_l7_only(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;
	size_t n = 0;

	memset(b->set_used, 0, (img->n_sets ? img->n_sets : 1) * sizeof(bool));
	memset(b->from_chain, 0, (img->n_zones ? img->n_zones : 1) * sizeof(bool));
	for (size_t i = 0; i < b->n_pc; i++) {
		const struct zw_img_pair *p = b->pc[i].p;
		bool keep = false;

		for (uint32_t k = 0; p && k < p->count; k++)
			keep = keep || b->flow_l7[img->rules[p->first + k].flow];
		if (!keep)
			continue;
		for (uint32_t k = 0; k < p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[p->first + k];

			if (!zw_image__flow_live(img, ru->flow, b->day) ||
			    zwnft_rule_families(img, ru) < 0)
				continue;
			if (ru->src_set != ZW_NO_SET)
				b->set_used[ru->src_set] = true;
			if (ru->dst_set != ZW_NO_SET)
				b->set_used[ru->dst_set] = true;
		}
		b->from_chain[b->pc[i].from] = true;
		b->pc[n++] = b->pc[i];
	}
	b->n_pc = n;
	for (uint32_t f = 0; f < img->n_flows; f++)
		b->flow_chain[f] = b->flow_l7[f];
}

/* Decide which chains exist. */
int zwnft_build__plan(struct zwnft_build *b)
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

			if (!zw_image__flow_live(img, ru->flow, b->day) ||
			    zwnft_rule_families(img, ru) < 0)
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
	b->rest = b->rs->opts.l7_only ? "uninspected" : "deny";
	if ((ret = plan_l7(b)))
		return ret;
	if (b->rs->opts.l7_only)
		plan_l7_only(b);
	return 0;
}

int zwnft_build__chains(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], c[256];
	int ret;

	if ((ret = add_chain(b->rs, ZWNFT_BASE_CHAIN, NULL, true, ZW_NO_FLOW)) ||
	    (ret = add_chain(b->rs, b->rest,
			     b->rs->opts.l7_only ?
				     "not inspected: judged by the XDP program" :
				     "nothing allows it",
			     false, ZW_NO_FLOW)))
		return ret;
	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b->from_chain[z])
			continue;
		snprintf(c, sizeof(c), "traffic from zone %s",
			 zwnft_zone_name(img, z));
		if ((ret = zwnft_name__from(n, img, z)) ||
		    (ret = add_chain(b->rs, n, c, false, ZW_NO_FLOW)))
			return ret;
	}
	for (size_t i = 0; i < b->n_pc; i++) {
		const struct zwnft_pchain *p = &b->pc[i];

		snprintf(c, sizeof(c), "%s -> %s",
			 zwnft_zone_name(img, p->from),
			 zwnft_zone_name(img, p->to));
		if ((ret = zwnft_name__pair(n, img, p->from, p->to)) ||
		    (ret = add_chain(b->rs, n, c, false, ZW_NO_FLOW)))
			return ret;
	}
	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];

		if (!b->flow_chain[f])
			continue;
		snprintf(c, sizeof(c), "flow #%u %s: %s -> %s", f,
			 zwnft_flow_id(img, f), zwnft_zone_name(img, fl->from),
			 zwnft_zone_name(img, fl->to));
		if ((ret = zwnft_name__fmt(n, "flow_%s",
					   zwnft_flow_id(img, f))) ||
		    (ret = add_chain(b->rs, n, c, false, f)))
			return ret;
	}
	return 0;
}

/* opts.l7_only: the classification of inspected flows only (the XDP
 * program dropped the rest already); without one, nothing but the marker
 * (no ct expression: conntrack is not loaded for it). */
static int l7_only_base_rules(struct zwnft_build *b)
{
	struct zwnft_ruleset *rs = b->rs;
	const char *ch = ZWNFT_BASE_CHAIN;
	struct zwnft_rb rb;
	int ret;

	if (!b->any_l7)
		return 0;
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if ((ret = zwnft_rb__begin(&rb, rs, ch)))
			return ret;
		zwnft_rb__nfproto(&rb, fam);
		zwnft_rb__ct_addr(&rb, fam, true, i ? "src6" : "src4", true);
		if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}
	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	zwnft_rb__verdict(&rb, NFT_GOTO,
			  b->from_chain[ZW_ZONE_OUTSIDE] ? "from_outside" :
							   b->rest);
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;
	if ((ret = zwnft_rb__begin(&rb, rs, b->rest)))
		return ret;
	zwnft_rb__verdict(&rb, NF_ACCEPT, NULL);
	return zwnft_rb__end(&rb, rs, b->rest, ZW_NO_FLOW, NULL, 0, 0);
}

static int base_rules(struct zwnft_build *b)
{
	struct zwnft_ruleset *rs = b->rs;
	const char *ch = ZWNFT_BASE_CHAIN;
	char mark[NFTNL_UDATA_COMMENT_MAXLEN], dn[ZWNFT_NAME_MAX];
	struct zwnft_rb rb;
	int ret;

	snprintf(mark, sizeof(mark), "%s%s day=%d", ZWNFT_IMAGE_MARK,
		 rs->sha256_hex, rs->day);
	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	zwnft_rb__counter(&rb, "zw_total");
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, mark, 0, 0)))
		return ret;
	if (rs->opts.l7_only)
		return l7_only_base_rules(b);

	for (int i = 0; i < 4; i++) {
		int fam = i < 2 ? ZW_AF_INET : ZW_AF_INET6;

		if ((ret = zwnft_rb__begin(&rb, rs, ch)))
			return ret;
		zwnft_rb__hdr_addr_in(&rb, fam, i % 2 == 0,
				      fam == ZW_AF_INET ? "block4" : "block6");
		zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_BLOCKED));
		zwnft_rb__deny_log(&rb, rs, ZW_DROP_BLOCKED, ZW_NO_FLOW);
		zwnft_rb__verdict(&rb, NF_DROP, NULL);
		if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	/* IPv6 extension chains the packet parser of the other engines
	 * refuses (ZW_DROP_EXT_HEADERS) and the kernel forwards: a routing
	 * header of type 0 (RFC 5095), a hop-by-hop header that is not the
	 * first. (A chain longer than ZW_IPV6_EXT_MAX cannot be counted
	 * here: docs/nft-engine.md, limits.) */
	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	{
		uint8_t zero = 0;

		zwnft_rb__nfproto(&rb, ZW_AF_INET6);
		zwnft_rb__exthdr6(&rb, ZWNFT_IP6_ROUTING, 2, false);
		zwnft_rb__cmp(&rb, NFT_CMP_EQ, &zero, 1);
		zwnft_rb__text(&rb, "rt type 0");
	}
	zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_EXT_HEADERS));
	zwnft_rb__deny_log(&rb, rs, ZW_DROP_EXT_HEADERS, ZW_NO_FLOW);
	zwnft_rb__verdict(&rb, NF_DROP, NULL);
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;
	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	{
		uint8_t one = 1, hbh = ZWNFT_IP6_HOPOPTS;
		struct nftnl_expr *e;

		zwnft_rb__nfproto(&rb, ZW_AF_INET6);
		zwnft_rb__exthdr6(&rb, ZWNFT_IP6_HOPOPTS, 0, true);
		zwnft_rb__cmp(&rb, NFT_CMP_EQ, &one, 1);
		zwnft_rb__text(&rb, "exthdr hbh exists");
		e = zwnft_rb__expr(&rb, "payload"); /* ip6 nexthdr */
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
					   NFT_PAYLOAD_NETWORK_HEADER);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 6);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
			zwnft_rb__add(&rb, e);
		}
		zwnft_rb__cmp(&rb, NFT_CMP_NEQ, &hbh, 1);
		zwnft_rb__text(&rb, "ip6 nexthdr != 0");
	}
	zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_EXT_HEADERS));
	zwnft_rb__deny_log(&rb, rs, ZW_DROP_EXT_HEADERS, ZW_NO_FLOW);
	zwnft_rb__verdict(&rb, NF_DROP, NULL);
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	zwnft_rb__ct_state(&rb,
			   NF_CT_STATE_INVALID_BIT | NF_CT_STATE_UNTRACKED_BIT,
			   "invalid,untracked");
	zwnft_rb__counter(&rb, "zw_invalid");
	zwnft_rb__verdict(&rb, NF_DROP, NULL);
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	/* A new TCP connection opens with a SYN; an IPv6 packet with AH is
	 * protocol 51 (not TCP) for the policy, whatever AH carries. */
	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if ((ret = zwnft_rb__begin(&rb, rs, ch)))
			return ret;
		zwnft_rb__ct_state(&rb, CT_NEW, "new");
		zwnft_rb__nfproto(&rb, fam);
		if (fam == ZW_AF_INET6)
			zwnft_rb__ah6(&rb, false);
		zwnft_rb__tcp_not_syn(&rb);
		zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_NOT_SYN));
		zwnft_rb__deny_log(&rb, rs, ZW_DROP_NOT_SYN, ZW_NO_FLOW);
		zwnft_rb__verdict(&rb, NF_DROP, NULL);
		if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	for (int i = 0; i < 2; i++) {
		int fam = i ? ZW_AF_INET6 : ZW_AF_INET;

		if ((ret = zwnft_rb__begin(&rb, rs, ch)))
			return ret;
		zwnft_rb__nfproto(&rb, fam);
		zwnft_rb__ct_addr(&rb, fam, true, i ? "src6" : "src4", true);
		if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
			return ret;
	}

	/* source in no zone: outside */
	if ((ret = zwnft_rb__begin(&rb, rs, ch)))
		return ret;
	zwnft_rb__verdict(&rb, NFT_GOTO,
			  b->from_chain[ZW_ZONE_OUTSIDE] ? "from_outside" :
							   "deny");
	if ((ret = zwnft_rb__end(&rb, rs, ch, ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	/* Nothing allowed it. An established connection reaching here was
	 * allowed by a policy that no longer does: cut it. */
	if ((ret = zwnft_rb__begin(&rb, rs, "deny")))
		return ret;
	zwnft_rb__ct_state(&rb, CT_ESTABLISHED | CT_RELATED,
			   "established,related");
	zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_FLOW_REMOVED));
	zwnft_rb__deny_log(&rb, rs, ZW_DROP_FLOW_REMOVED, ZW_NO_FLOW);
	zwnft_rb__verdict(&rb, NF_DROP, NULL);
	if ((ret = zwnft_rb__end(&rb, rs, "deny", ZW_NO_FLOW, NULL, 0, 0)))
		return ret;

	if ((ret = zwnft_rb__begin(&rb, rs, "deny")))
		return ret;
	zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_NO_FLOW));
	zwnft_rb__deny_log(&rb, rs, ZW_DROP_NO_FLOW, ZW_NO_FLOW);
	zwnft_rb__verdict(&rb, NF_DROP, NULL);
	return zwnft_rb__end(&rb, rs, "deny", ZW_NO_FLOW, NULL, 0, 0);
}

static bool pair_exists(const struct zwnft_build *b, uint32_t from,
			uint32_t to)
{
	for (size_t i = 0; i < b->n_pc; i++)
		if (b->pc[i].from == from && b->pc[i].to == to)
			return true;
	return false;
}

static int from_rules(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], set[ZWNFT_NAME_MAX];
	struct zwnft_rb rb;
	int ret;

	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b->from_chain[z])
			continue;
		if ((ret = zwnft_name__from(n, img, z)))
			return ret;
		for (int k = 0; k < 2; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;
			bool exists = false;

			if ((ret = zwnft_name__fmt(set, "dst%d_%s", k ? 6 : 4,
						   zwnft_zone_name(img, z))))
				return ret;
			for (size_t i = 0; i < b->rs->n[ZWNFT_SET]; i++)
				if (strcmp(b->rs->v[ZWNFT_SET][i].name, set) == 0)
					exists = true;
			if (!exists)
				continue;
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__nfproto(&rb, fam);
			zwnft_rb__ct_addr(&rb, fam, false, set, true);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, ZW_NO_FLOW,
						 NULL, 0, 0)))
				return ret;
		}
		/* destination in no zone: outside */
		if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
			return ret;
		if (pair_exists(b, z, ZW_ZONE_OUTSIDE)) {
			if ((ret = zwnft_name__pair(set, img, z,
						    ZW_ZONE_OUTSIDE)))
				return ret;
			zwnft_rb__verdict(&rb, NFT_GOTO, set);
		} else {
			zwnft_rb__verdict(&rb, NFT_GOTO, b->rest);
		}
		if ((ret = zwnft_rb__end(&rb, b->rs, n, ZW_NO_FLOW, NULL, 0,
					 0)))
			return ret;
	}
	return 0;
}

static void rule_comment(const struct zw_image *img,
			 const struct zw_img_rule *ru, char *buf, size_t n)
{
	char pb[4];
	const char *id = zwnft_flow_id(img, ru->flow);
	const char *svc = zw_image__str(img, img->services[ru->service].name);
	const char *p = zwnft_proto_name(ru->proto, pb);

	if (ru->flags & ZW_IMG_RULE_ANY)
		snprintf(buf, n, "%s %s %s", id, svc, p);
	else if (ru->lo == ru->hi)
		snprintf(buf, n, "%s %s %s/%u", id, svc, p, ru->lo);
	else
		snprintf(buf, n, "%s %s %s/%u-%u", id, svc, p, ru->lo, ru->hi);
}

/* One image rule as an nft rule of @chain for family @fam (0: both). With
 * @ah6 (fam IPv6, a protocol 51 rule): the rule for IPv6 packets with an
 * AH header, which conntrack files under the protocol AH carries. */
static int one_pair_rule(struct zwnft_build *b, const char *chain,
			 const struct zw_img_rule *ru, int fam, bool ah6)
{
	const struct zw_image *img = b->img;
	char set[ZWNFT_NAME_MAX], target[ZWNFT_NAME_MAX], comment[160];
	struct zwnft_rb rb;
	int ret;

	if ((ret = zwnft_name__fmt(target, "flow_%s",
				   zwnft_flow_id(img, ru->flow))))
		return ret;
	if ((ret = zwnft_rb__begin(&rb, b->rs, chain)))
		return ret;
	if (fam) {
		uint32_t sets[2] = {ru->src_set, ru->dst_set};

		zwnft_rb__nfproto(&rb, fam);
		for (int k = 0; k < 2; k++) {
			uint8_t a[16];
			int len;

			if (sets[k] == ZW_NO_SET)
				continue;
			if (zwnft_set_single_prefix(img, sets[k], fam, a,
						    &len)) {
				zwnft_rb__ct_addr_prefix(&rb, fam, k == 0, a,
							 len);
				continue;
			}
			zwnft_name__fmt(set, "n%d_%u",
					fam == ZW_AF_INET ? 4 : 6, sets[k]);
			zwnft_rb__ct_addr(&rb, fam, k == 0, set, false);
		}
	}
	if (ah6) {
		zwnft_rb__ah6(&rb, true);
		if (b->rs->opts.l7_only && !b->flow_l7[ru->flow])
			zwnft_rb__verdict(&rb, NF_ACCEPT, NULL);
		else
			zwnft_rb__verdict(&rb, NFT_GOTO, target);
		rule_comment(img, ru, comment, sizeof(comment));
		strncat(comment, " (IPv6 AH header)",
			sizeof(comment) - strlen(comment) - 1);
		return zwnft_rb__end(&rb, b->rs, chain, ru->flow, comment,
				     ru->src_set, ru->dst_set);
	}
	zwnft_rb__ct_proto(&rb, ru->proto);
	if (!(ru->flags & ZW_IMG_RULE_ANY)) {
		if (zwnft_proto_has_ports(ru->proto)) {
			if (!(ru->lo == 0 && ru->hi == 65535))
				zwnft_rb__ct_pdst(&rb, ru->lo, ru->hi);
		} else if (ru->proto == 1 || ru->proto == 58) {
			if (!(ru->lo == 0 && ru->hi >= 255))
				zwnft_rb__ct_pdst(&rb,
						  (uint16_t)(ru->lo << 8),
						  (uint16_t)(ru->hi << 8 |
							     0xff));
		}
	}
	/* opts.l7_only: a flow not inspected is the XDP program's */
	if (b->rs->opts.l7_only && !b->flow_l7[ru->flow])
		zwnft_rb__verdict(&rb, NF_ACCEPT, NULL);
	else
		zwnft_rb__verdict(&rb, NFT_GOTO, target);
	rule_comment(img, ru, comment, sizeof(comment));
	return zwnft_rb__end(&rb, b->rs, chain, ru->flow, comment, ru->src_set,
			     ru->dst_set);
}

static int pair_end(struct zwnft_build *b, struct zwnft_rb *rb,
		    const struct zwnft_pchain *pc, const char *n);

static int pair_rules(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX];
	struct zwnft_rb rb;
	int ret;

	for (size_t i = 0; i < b->n_pc; i++) {
		const struct zwnft_pchain *pc = &b->pc[i];

		if ((ret = zwnft_name__pair(n, img, pc->from, pc->to)))
			return ret;
		/* IPv6 packets with AH first: only the pair's protocol 51
		 * rules can match them, then what ends the chain. Needed only
		 * where some rule can match an IPv6 packet. */
		bool v6 = false;

		for (uint32_t k = 0; pc->p && k < pc->p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[pc->p->first + k];
			int fams = zwnft_rule_families(img, ru);

			if (!zw_image__flow_live(img, ru->flow, b->day) || fams < 0 ||
			    !(fams == 0 || (fams & 2)))
				continue;
			v6 = true;
			if (ru->proto == ZWNFT_IP6_AH &&
			    (ret = one_pair_rule(b, n, ru, ZW_AF_INET6, true)))
				return ret;
		}
		if (v6) {
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__nfproto(&rb, ZW_AF_INET6);
			zwnft_rb__ah6(&rb, true);
			if ((ret = pair_end(b, &rb, pc, n)))
				return ret;
		}
		for (uint32_t k = 0; pc->p && k < pc->p->count; k++) {
			const struct zw_img_rule *ru = &img->rules[pc->p->first + k];
			int fams;

			if (!zw_image__flow_live(img, ru->flow, b->day))
				continue;
			fams = zwnft_rule_families(img, ru);
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
			if ((fams & 2) && ru->proto != ZWNFT_IP6_AH &&
			    (ret = one_pair_rule(b, n, ru, ZW_AF_INET6, false)))
				return ret;
		}
		if ((ret = zwnft_rb__begin(&rb, b->rs, n)) ||
		    (ret = pair_end(b, &rb, pc, n)))
			return ret;
	}
	return 0;
}

/* End pair chain @n with the rule begun in @rb: nothing before matched. */
static int pair_end(struct zwnft_build *b, struct zwnft_rb *rb,
		    const struct zwnft_pchain *pc, const char *n)
{
	char dn[ZWNFT_NAME_MAX];

	if (pc->from != pc->to || pc->from == ZW_ZONE_OUTSIDE ||
	    b->rs->opts.l7_only) {
		zwnft_rb__verdict(rb, NFT_GOTO, b->rest);
		return zwnft_rb__end(rb, b->rs, n, ZW_NO_FLOW, NULL, 0, 0);
	}
	/* both ends in one declared zone, no flow matched */
	if (b->img->zones[pc->from].flags & ZW_IMG_ZONE_ISOLATE) {
		zwnft_rb__counter(rb, zwnft_name__drop(dn, ZW_DROP_ISOLATED));
		zwnft_rb__deny_log(rb, b->rs, ZW_DROP_ISOLATED, ZW_NO_FLOW);
		zwnft_rb__verdict(rb, NF_DROP, NULL);
		return zwnft_rb__end(rb, b->rs, n, ZW_NO_FLOW,
				     "isolated zone: members may not talk", 0,
				     0);
	}
	zwnft_rb__counter(rb, "zw_same_zone");
	zwnft_rb__verdict(rb, NF_ACCEPT, NULL);
	return zwnft_rb__end(rb, b->rs, n, ZW_NO_FLOW, "same zone", 0, 0);
}

static int flow_rules(struct zwnft_build *b)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX], obj[ZWNFT_NAME_MAX], set[ZWNFT_NAME_MAX];
	char drop[ZWNFT_NAME_MAX], dn[ZWNFT_NAME_MAX];
	struct zwnft_rb rb;
	int ret;

	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];
		const char *id;

		if (!b->flow_chain[f])
			continue;
		id = zwnft_flow_id(img, f);
		if ((ret = zwnft_name__fmt(n, "flow_%s", id)) ||
		    (ret = zwnft_name__fmt(drop, "drop_%s", id)))
			return ret;
		for (int k = 0; fl->rate && !b->rs->opts.l7_only && k < 2;
		     k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;

			if ((ret = zwnft_name__fmt(set, "rate%d_%s", k ? 6 : 4,
						   id)) ||
			    (ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__ct_state(&rb, CT_NEW, "new");
			zwnft_rb__nfproto(&rb, fam);
			zwnft_rb__rate(&rb, fam, set, fl->rate);
			zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_RATE));
			zwnft_rb__counter(&rb, drop);
			zwnft_rb__deny_log(&rb, b->rs, ZW_DROP_RATE, f);
			zwnft_rb__verdict(&rb, NF_DROP, NULL);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
		}
		if ((ret = zwnft_name__fmt(obj, "new_%s", id)) ||
		    (ret = zwnft_rb__begin(&rb, b->rs, n)))
			return ret;
		zwnft_rb__ct_state(&rb, CT_NEW, "new");
		zwnft_rb__counter(&rb, obj);
		if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
			return ret;
		if ((fl->flags & ZW_IMG_FLOW_LOG) && !b->rs->opts.l7_only) {
			char prefix[128];

			snprintf(prefix, sizeof(prefix), "zonewall %s ", id);
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__ct_state(&rb, CT_NEW, "new");
			zwnft_rb__log(&rb, prefix, b->rs->opts.log_group);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
		}
		if (((fl->flags & ZW_IMG_FLOW_LOG) || b->rs->opts.log_all) &&
		    !b->rs->opts.l7_only) {
			/* the flow index in the connection's ct mark, for its
			 * created/ended records (nft_records.c); L7's bits
			 * kept */
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__ct_state(&rb, CT_NEW, "new");
			zwnft_rb__ct_mark_set(&rb, ZW_L7_CTMARK_MASK, f + 1);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
		}
		if ((ret = zwnft_name__fmt(obj, "flow_%s", id)))
			return ret;
		if (b->flow_l7[f]) {
			/* cut by the inspector: every later packet */
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__ct_mark(&rb, ZW_L7_CTMARK_MASK,
					  ZW_L7_CTMARK_CUT, true);
			zwnft_rb__counter(&rb, zwnft_name__drop(dn, ZW_DROP_L7_MISMATCH));
			zwnft_rb__counter(&rb, drop);
			zwnft_rb__deny_log(&rb, b->rs, ZW_DROP_L7_MISMATCH, f);
			zwnft_rb__verdict(&rb, NF_DROP, NULL);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
				return ret;
			/* not judged yet: to the inspector (fail closed) */
			if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
				return ret;
			zwnft_rb__ct_mark(&rb, ZW_L7_CTMARK_MASK,
					  ZW_L7_CTMARK_PASS, false);
			zwnft_rb__counter(&rb, obj);
			zwnft_rb__queue(&rb, b->rs->opts.queue);
			if ((ret = zwnft_rb__end(&rb, b->rs, n, f,
						 "to the L7 inspector until judged",
						 0, 0)))
				return ret;
		}
		if ((ret = zwnft_rb__begin(&rb, b->rs, n)))
			return ret;
		zwnft_rb__counter(&rb, obj);
		zwnft_rb__verdict(&rb, NF_ACCEPT, NULL);
		if ((ret = zwnft_rb__end(&rb, b->rs, n, f, NULL, 0, 0)))
			return ret;
	}
	return 0;
}

int zwnft_build__rules(struct zwnft_build *b)
{
	int ret;

	if ((ret = base_rules(b)) || (ret = from_rules(b)) ||
	    (ret = pair_rules(b)) || (ret = flow_rules(b)))
		return ret;
	return 0;
}
