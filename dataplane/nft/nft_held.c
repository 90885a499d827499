// SPDX-License-Identifier: BSD-2-Clause
/*
 * Read-back as data: what the live table really allows, decoded from the
 * kernel's objects (never from an image) back into matrix terms, and the
 * other tables' base chains that see the same packets.
 *
 * Only the pair chains hold allow rules (docs/nft-engine.md): a rule there
 * that accepts, or goes to a chain other than `deny`, lets its packets
 * through. Its matches give the protocol (ct protocol, meta l4proto, or an
 * AH header for IPv6 protocol 51), the destination ports or ICMP types
 * (ct original proto-dst, th dport), the narrowed prefixes (an inline
 * prefix or a lookup in a set, whose elements are read), the family; its
 * chain's comment gives the zone pair, its target's comment the flow.
 * Matches the decoder does not know only narrow a rule further, so what
 * it reports is what the rule allows at most; engine_text is the rule
 * itself. The builder splits one image rule into per-family rules (and an
 * IPv6 AH rule for protocol 51): those are joined back into one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "zwnft.h"

#define IP6_AH 51
#define AH_SUFFIX " (IPv6 AH header)"

/* ------------------------------------------------------------------ */
/* objects of the live table by name */

struct byname {
	const char *name;
	size_t idx;
};

static int byname_cmp(const void *a, const void *b)
{
	return strcmp(((const struct byname *)a)->name,
		      ((const struct byname *)b)->name);
}

static const struct byname *byname_find(const struct byname *v, size_t n,
					const char *name)
{
	struct byname k = {name, 0};

	return name ? bsearch(&k, v, n, sizeof(*v), byname_cmp) : NULL;
}

struct held_ctx {
	const struct zwnft_live *live;
	struct byname *chains; /* live->chains by name */
	struct byname *sets;   /* live->sets by name */
};

static char *chain_comment(const struct nftnl_chain *c)
{
	uint32_t ulen = 0;
	const void *ud = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &ulen);

	return zwnft_udata_comment(ud, ulen, NFTNL_UDATA_CHAIN_COMMENT);
}

static const struct nftnl_chain *find_chain(const struct held_ctx *h,
					    const char *name)
{
	const struct byname *b = byname_find(h->chains, h->live->n_chains,
					     name);

	return b ? h->live->chains[b->idx] : NULL;
}

/* ------------------------------------------------------------------ */
/* one rule */

enum reg {
	R_NONE,
	R_NFPROTO,
	R_PROTO, /* meta l4proto, ct protocol */
	R_PDST,	 /* ct original proto-dst, th dport */
	R_ADDR,
	R_AH, /* exthdr ah exists */
	R_OTHER,
};

/* A pair chain's allow rule, for one family (0: both) or merged. */
struct held {
	size_t rule;	 /* index in live->rules */
	int fam;	 /* 0, 4 or 6 */
	bool ah;	 /* the IPv6 AH rule of a protocol 51 rule */
	bool merged;	 /* joined with its other family's rule */
	bool gone;	 /* joined into another */
	struct zw_held_rule r;
	char *comment;	 /* the rule's comment, AH suffix cut, or NULL */
	struct zwnft_buf src, dst; /* prefixes "a,b" */
	bool src_n, dst_n;	   /* narrowed */
	struct zwnft_buf text;
};

struct dec {
	const struct held_ctx *h;
	struct held *x;
	enum reg reg;
	bool reg_src;
	int reg_w; /* address bytes in the register: 4 or 16 */
	uint8_t mask[16];
	bool masked;
	bool matches;
	bool have_ports;
	bool same_zone_ctr;
	int verdict; /* 0: none yet */
	char target[ZWNFT_NAME_MAX];
	bool vmap;
};

static void prefix_into(struct zwnft_buf *b, const uint8_t *lo,
			const uint8_t *hi, int w)
{
	struct zw_prefix p = {.family = w == 4 ? ZW_AF_INET : ZW_AF_INET6};
	char buf[64], l[INET6_ADDRSTRLEN], u[INET6_ADDRSTRLEN];
	int len = 0, i;

	/* the prefix [lo, hi] is, or "lo-hi" for a range that is none */
	for (i = 0; i < w * 8; i++) {
		int byte = i / 8, bit = 7 - i % 8;

		if (((lo[byte] ^ hi[byte]) >> bit) & 1)
			break;
		len++;
	}
	for (; i < w * 8; i++) {
		int byte = i / 8, bit = 7 - i % 8;

		if (((lo[byte] >> bit) & 1) || !((hi[byte] >> bit) & 1))
			break;
	}
	if (b->len)
		zwnft_buf__puts(b, ",");
	if (i == w * 8) {
		memcpy(p.addr, lo, (size_t)w);
		p.len = (uint8_t)len;
		zwnft_buf__puts(b, zw_prefix__format(&p, buf));
		return;
	}
	inet_ntop(w == 4 ? AF_INET : AF_INET6, lo, l, sizeof(l));
	inet_ntop(w == 4 ? AF_INET : AF_INET6, hi, u, sizeof(u));
	zwnft_buf__printf(b, "%s-%s", l, u);
}

/* Interval set elements: a key opens a range that runs to just before
 * the next key (or to the top), unless it is an interval end. */
struct ielem {
	uint8_t key[16];
	uint8_t key_end[16];
	bool end;
	bool has_key_end;
};

struct ielems {
	struct ielem *v;
	size_t n, cap;
	int w;
	bool oom;
};

static int ielem_cb(struct nftnl_set_elem *e, void *data)
{
	struct ielems *c = data;
	struct ielem x = {0};
	uint32_t len = 0;
	const void *p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

	if (!p || (len != 4 && len != 16))
		return 0;
	c->w = (int)len;
	memcpy(x.key, p, len);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
		const void *q = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END,
						   &len);

		if (q && len == (uint32_t)c->w) {
			memcpy(x.key_end, q, len);
			x.has_key_end = true;
		}
	}
	x.end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
		(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) &
		 NFT_SET_ELEM_INTERVAL_END);
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct ielem *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return -1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = x;
	return 0;
}

static int ielem_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ielem *)a)->key,
		      ((const struct ielem *)b)->key, 16);
}

/* The prefixes of set @name into @b. */
static void set_into(struct dec *d, struct zwnft_buf *b, const char *name)
{
	const struct byname *f = byname_find(d->h->sets, d->h->live->n_sets,
					     name);
	struct ielems c = {0};

	if (!f) { /* cannot happen: the kernel keeps a set its rules use */
		if (b->len)
			zwnft_buf__puts(b, ",");
		zwnft_buf__printf(b, "@%s", name);
		return;
	}
	nftnl_set_elem_foreach(d->h->live->sets[f->idx], ielem_cb, &c);
	if (c.oom)
		b->oom = true;
	qsort(c.v, c.n, sizeof(*c.v), ielem_cmp);
	for (size_t i = 0; i < c.n; i++) {
		uint8_t hi[16];

		if (c.v[i].end)
			continue;
		if (c.v[i].has_key_end) {
			memcpy(hi, c.v[i].key_end, 16);
		} else if (i + 1 < c.n) {
			/* next key - 1 */
			memcpy(hi, c.v[i + 1].key, 16);
			for (int k = c.w - 1; k >= 0; k--)
				if (hi[k]--)
					break;
		} else {
			memset(hi, 0xff, (size_t)c.w);
		}
		prefix_into(b, c.v[i].key, hi, c.w);
	}
	free(c.v);
}

static void addr_match(struct dec *d, const void *data, uint32_t len)
{
	struct zwnft_buf *b = d->reg_src ? &d->x->src : &d->x->dst;
	uint8_t lo[16] = {0}, hi[16] = {0};

	if (len != (uint32_t)d->reg_w)
		return;
	memcpy(lo, data, len);
	for (uint32_t i = 0; i < len; i++)
		hi[i] = d->masked ? (uint8_t)(lo[i] | (uint8_t)~d->mask[i]) : lo[i];
	prefix_into(b, lo, hi, d->reg_w);
	if (d->reg_src)
		d->x->src_n = true;
	else
		d->x->dst_n = true;
}

static void load_addr(struct dec *d, bool src, int w)
{
	d->reg = R_ADDR;
	d->reg_src = src;
	d->reg_w = w;
	d->masked = false;
}

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct dec *d = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	uint32_t len = 0;

	if (!strcmp(name, "meta")) {
		uint32_t k = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);

		d->reg = k == NFT_META_NFPROTO ? R_NFPROTO :
			 k == NFT_META_L4PROTO ? R_PROTO : R_OTHER;
	} else if (!strcmp(name, "ct")) {
		uint32_t k = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);

		switch (k) {
		case NFT_CT_PROTOCOL: d->reg = R_PROTO; break;
		case NFT_CT_PROTO_DST: d->reg = R_PDST; break;
		case NFT_CT_SRC_IP: load_addr(d, true, 4); break;
		case NFT_CT_DST_IP: load_addr(d, false, 4); break;
		case NFT_CT_SRC_IP6: load_addr(d, true, 16); break;
		case NFT_CT_DST_IP6: load_addr(d, false, 16); break;
		default: d->reg = R_OTHER; break;
		}
	} else if (!strcmp(name, "payload")) {
		uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
		uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
		uint32_t l = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);

		d->reg = R_OTHER;
		if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 && l == 2)
			d->reg = R_PDST;
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && l == 4 &&
			 (off == 12 || off == 16) && d->x->fam == 4)
			load_addr(d, off == 12, 4);
		else if (base == NFT_PAYLOAD_NETWORK_HEADER && l == 16 &&
			 (off == 8 || off == 24) && d->x->fam == 6)
			load_addr(d, off == 8, 16);
	} else if (!strcmp(name, "exthdr")) {
		d->reg = nftnl_expr_get_u8(e, NFTNL_EXPR_EXTHDR_TYPE) == IP6_AH &&
				 (nftnl_expr_get_u32(e, NFTNL_EXPR_EXTHDR_FLAGS) &
				  NFT_EXTHDR_F_PRESENT) ?
			 R_AH : R_OTHER;
	} else if (!strcmp(name, "bitwise")) {
		const void *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);

		if (d->reg == R_ADDR && m && len == (uint32_t)d->reg_w) {
			memcpy(d->mask, m, len);
			d->masked = true;
		} else {
			d->reg = R_OTHER;
		}
	} else if (!strcmp(name, "cmp")) {
		const uint8_t *v = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
		bool eq = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) == NFT_CMP_EQ;

		d->matches = true;
		if (eq && v && len == 1 && d->reg == R_NFPROTO)
			d->x->fam = v[0] == NFPROTO_IPV4 ? 4 :
				    v[0] == NFPROTO_IPV6 ? 6 : d->x->fam;
		else if (eq && v && len == 1 && d->reg == R_PROTO)
			d->x->r.proto = v[0];
		else if (eq && v && len == 2 && d->reg == R_PDST) {
			d->x->r.lo = d->x->r.hi = (uint16_t)(v[0] << 8 | v[1]);
			d->have_ports = true;
		} else if (eq && v && d->reg == R_ADDR)
			addr_match(d, v, len);
		else if (eq && v && len == 1 && d->reg == R_AH && v[0] == 1)
			d->x->ah = true;
		d->reg = R_NONE;
	} else if (!strcmp(name, "range")) {
		const uint8_t *lo = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &len);
		uint32_t hlen = 0;
		const uint8_t *hi = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &hlen);

		d->matches = true;
		if (d->reg == R_PDST && lo && hi && len == 2 && hlen == 2 &&
		    nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) == NFT_RANGE_EQ) {
			d->x->r.lo = (uint16_t)(lo[0] << 8 | lo[1]);
			d->x->r.hi = (uint16_t)(hi[0] << 8 | hi[1]);
			d->have_ports = true;
		}
		d->reg = R_NONE;
	} else if (!strcmp(name, "lookup")) {
		const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
		uint32_t fl = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) ?
				      nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0;

		d->matches = true;
		if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG)) {
			d->vmap = true; /* a verdict map: not a rule of ours */
		} else if (d->reg == R_ADDR && set && !(fl & NFT_LOOKUP_F_INV)) {
			set_into(d, d->reg_src ? &d->x->src : &d->x->dst, set);
			if (d->reg_src)
				d->x->src_n = true;
			else
				d->x->dst_n = true;
		}
		d->reg = R_NONE;
	} else if (!strcmp(name, "immediate")) {
		if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
			d->verdict = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
			if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
				snprintf(d->target, sizeof(d->target), "%s",
					 nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
		}
	} else if (!strcmp(name, "objref")) {
		const char *o = nftnl_expr_get_str(e, NFTNL_EXPR_OBJREF_IMM_NAME);

		if (o && !strcmp(o, "zw_same_zone"))
			d->same_zone_ctr = true;
	} else if (strcmp(name, "counter") && strcmp(name, "log")) {
		d->matches = true; /* a statement or match not decoded */
		d->reg = R_OTHER;
	}
	return 0;
}

/* The flow that chain @name (a goto target) counts, "" if none. */
static void flow_of(const struct held_ctx *h, const char *name, char id[65])
{
	const struct nftnl_chain *c;
	char *cm, *p, *colon;

	id[0] = '\0';
	if (strncmp(name, "flow_", 5) != 0)
		return;
	snprintf(id, 65, "%.64s", name + 5);
	c = find_chain(h, name);
	cm = c ? chain_comment(c) : NULL;
	/* "flow #N ID: from -> to" */
	if (cm && !strncmp(cm, "flow #", 6) && (p = strchr(cm + 6, ' ')) &&
	    (colon = strchr(p + 1, ':')) != NULL) {
		*colon = '\0';
		snprintf(id, 65, "%.64s", p + 1);
	}
	free(cm);
}

/* The zone pair of pair chain @c: its comment "A -> B", else its name
 * pair_A_B cut at the first '_'. */
static void pair_of(const struct nftnl_chain *c, char from[33], char to[33])
{
	const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME) + 5;
	char *cm = chain_comment(c), *arrow = cm ? strstr(cm, " -> ") : NULL;
	const char *us;

	if (arrow) {
		*arrow = '\0';
		snprintf(from, 33, "%.32s", cm);
		snprintf(to, 33, "%.32s", arrow + 4);
	} else if ((us = strchr(name, '_'))) {
		snprintf(from, 33, "%.*s", (int)(us - name < 32 ? us - name : 32), name);
		snprintf(to, 33, "%.32s", us + 1);
	} else {
		snprintf(from, 33, "%.32s", name);
		to[0] = '\0';
	}
	free(cm);
}

/* Decode live->rules[i] (of pair chain @c) into @x; false if it allows
 * nothing (drop, goto deny, the same-zone accept, a verdict map). */
static bool decode(const struct held_ctx *h, size_t i,
		   const struct nftnl_chain *c, struct held *x)
{
	const struct nftnl_rule *r = h->live->rules[i];
	struct dec d = {.h = h, .x = x};
	uint32_t ulen = 0;
	const void *ud;
	char *canon;

	memset(x, 0, sizeof(*x));
	x->rule = i;
	nftnl_expr_foreach((struct nftnl_rule *)r, expr_cb, &d);
	if (d.vmap || !(d.verdict == NF_ACCEPT ||
			((d.verdict == NFT_GOTO || d.verdict == NFT_JUMP) &&
			 d.target[0] && strcmp(d.target, "deny") != 0)))
		goto none;
	/* the end of a self pair's chain (and its IPv6 AH twin), counted
	 * in zw_same_zone: members of a zone talk freely, no flow needed */
	if (d.verdict == NF_ACCEPT && d.same_zone_ctr)
		goto none;
	pair_of(c, x->r.from, x->r.to);
	if (d.verdict != NF_ACCEPT)
		flow_of(h, d.target, x->r.flow_id);
	if (x->ah)
		x->r.proto = IP6_AH;
	x->r.any = !d.have_ports;
	if (x->r.any) {
		x->r.lo = 0;
		x->r.hi = 65535;
	} else if (x->r.proto == 1 || x->r.proto == 58) {
		/* conntrack keeps type << 8 | code */
		x->r.lo >>= 8;
		x->r.hi >>= 8;
	}
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
	x->comment = zwnft_udata_comment(ud, ulen, NFTNL_UDATA_RULE_COMMENT);
	if (x->comment && x->ah) {
		size_t n = strlen(x->comment), k = strlen(AH_SUFFIX);

		if (n >= k && !strcmp(x->comment + n - k, AH_SUFFIX))
			x->comment[n - k] = '\0';
	}
	canon = zwnft_canon_rule(r);
	zwnft_buf__puts(&x->text, canon ? canon : "?");
	free(canon);
	/* the handle, so the operator finds it (`nft -a list chain`) */
	if (nftnl_rule_is_set(r, NFTNL_RULE_HANDLE))
		zwnft_buf__printf(&x->text, " (handle %llu)",
				  (unsigned long long)nftnl_rule_get_u64(
					  r, NFTNL_RULE_HANDLE));
	return true;
none:
	zwnft_buf__fini(&x->src);
	zwnft_buf__fini(&x->dst);
	return false;
}

static void held_fini(struct held *x)
{
	free(x->comment);
	zwnft_buf__fini(&x->src);
	zwnft_buf__fini(&x->dst);
	zwnft_buf__fini(&x->text);
}

/* The same image rule: same flow, service (comment), protocol, ports. */
static bool same_rule(const struct held *a, const struct held *b)
{
	if (strcmp(a->r.flow_id, b->r.flow_id) || a->r.proto != b->r.proto ||
	    a->r.any != b->r.any || a->r.lo != b->r.lo || a->r.hi != b->r.hi ||
	    a->src_n != b->src_n || a->dst_n != b->dst_n)
		return false;
	if (!a->comment || !b->comment)
		return !a->comment && !b->comment;
	return !strcmp(a->comment, b->comment);
}

static void join_buf(struct zwnft_buf *into, struct zwnft_buf *first,
		     struct zwnft_buf *second, const char *sep)
{
	struct zwnft_buf t = {0};

	if (first->len)
		zwnft_buf__puts(&t, first->s);
	if (first->len && second->len)
		zwnft_buf__puts(&t, sep);
	if (second->len)
		zwnft_buf__puts(&t, second->s);
	if (first->oom || second->oom)
		t.oom = true;
	zwnft_buf__fini(first == into ? second : first);
	zwnft_buf__fini(into);
	*into = t;
}

/* Join @b into @a (IPv4 prefixes first); @b is gone. */
static void merge(struct held *a, struct held *b)
{
	bool a_first = a->fam != 6;

	join_buf(&a->src, a_first ? &a->src : &b->src,
		 a_first ? &b->src : &a->src, ",");
	join_buf(&a->dst, a_first ? &a->dst : &b->dst,
		 a_first ? &b->dst : &a->dst, ",");
	join_buf(&a->text, &a->text, &b->text, "\n");
	if (a->ah) { /* the other rule says what the pair is */
		a->ah = b->ah;
		a->r.proto = b->r.proto;
	}
	a->fam = b->fam == 0 ? 0 : a->fam == b->fam ? a->fam : 0;
	a->merged = true;
	b->gone = true;
}

/* Join the per-family rules of one image rule: an IPv4 rule and the IPv6
 * rule right after it; an IPv6 AH rule (at the top of the chain) and the
 * first later IPv4 or family-free rule of the same image rule. */
static void merge_chain(struct held *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct held *a = &v[i];

		if (a->gone || a->merged)
			continue;
		if (a->ah && a->fam == 6) {
			for (size_t j = i + 1; j < n; j++) {
				struct held *b = &v[j];

				if (b->gone || b->merged || b->ah ||
				    !same_rule(a, b))
					continue;
				if (b->fam == 4 ||
				    (b->fam == 0 && !a->src_n && !a->dst_n)) {
					merge(b, a);
					break;
				}
			}
			continue;
		}
		if (a->fam == 4 && i + 1 < n) {
			struct held *b = &v[i + 1];

			if (!b->gone && !b->merged && !b->ah && b->fam == 6 &&
			    same_rule(a, b))
				merge(a, b);
		}
	}
}

static int emit(struct zw_backend_state *st, struct held *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct held *x = &v[i];
		int ret;

		if (x->gone)
			continue;
		if (x->src.oom || x->dst.oom || x->text.oom)
			return -ENOMEM;
		x->r.src = x->src_n ? (x->src.s ? x->src.s : (char *)"") : NULL;
		x->r.dst = x->dst_n ? (x->dst.s ? x->dst.s : (char *)"") : NULL;
		x->r.engine_text = x->text.s;
		ret = zw_backend_state__add_rule(st, &x->r);
		if (ret)
			return ret;
	}
	return 0;
}

int zwnft_live__held_rules(const struct zwnft_live *live,
			   struct zw_backend_state *st)
{
	struct held_ctx h = {.live = live};
	struct held *v = NULL;
	size_t n = 0;
	int ret = -ENOMEM;

	st->rules_known = true;
	h.chains = calloc(live->n_chains + 1, sizeof(*h.chains));
	h.sets = calloc(live->n_sets + 1, sizeof(*h.sets));
	v = calloc(live->n_rules + 1, sizeof(*v));
	if (!h.chains || !h.sets || !v)
		goto out;
	for (size_t i = 0; i < live->n_chains; i++)
		h.chains[i] = (struct byname){
			nftnl_chain_get_str(live->chains[i], NFTNL_CHAIN_NAME), i};
	for (size_t i = 0; i < live->n_sets; i++)
		h.sets[i] = (struct byname){
			nftnl_set_get_str(live->sets[i], NFTNL_SET_NAME), i};
	qsort(h.chains, live->n_chains, sizeof(*h.chains), byname_cmp);
	qsort(h.sets, live->n_sets, sizeof(*h.sets), byname_cmp);

	/* rules come chain by chain: decode, join, emit each chain's */
	ret = 0;
	for (size_t i = 0; i < live->n_rules && !ret;) {
		const char *cn = nftnl_rule_get_str(live->rules[i], NFTNL_RULE_CHAIN);
		const struct nftnl_chain *c = find_chain(&h, cn);
		size_t j = i;

		while (j < live->n_rules &&
		       !strcmp(nftnl_rule_get_str(live->rules[j],
						  NFTNL_RULE_CHAIN), cn))
			j++;
		if (c && !strncmp(cn, "pair_", 5)) {
			for (size_t k = i; k < j; k++)
				if (decode(&h, k, c, &v[n]))
					n++;
			merge_chain(v, n);
			ret = emit(st, v, n);
			for (size_t k = 0; k < n; k++)
				held_fini(&v[k]);
			n = 0;
		}
		i = j;
	}
out:
	for (size_t k = 0; k < n; k++)
		held_fini(&v[k]);
	free(v);
	free(h.chains);
	free(h.sets);
	return ret;
}

/* ------------------------------------------------------------------ */
/* foreign base chains */

static const char *family_name(uint32_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	default: return "?";
	}
}

static const char *hook_name(uint32_t h)
{
	static const char *const n[] = {"prerouting", "input", "forward",
					"output", "postrouting"};

	return h < sizeof(n) / sizeof(n[0]) ? n[h] : "?";
}

int zwnft_live__foreign(const struct zwnft_live *live, int32_t priority,
			struct zw_backend_state *st)
{
	/* the hooks our table uses: forward, and those of any other of its
	 * base chains (with their priorities, to say which runs first) */
	bool used[8] = {false};
	int32_t prio[8] = {0};

	for (size_t i = 0; i < live->n_chains; i++) {
		const struct nftnl_chain *c = live->chains[i];
		uint32_t hk;

		if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
			continue;
		hk = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		if (hk >= 8)
			continue;
		if (!used[hk] || !strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
					 ZWNFT_BASE_CHAIN))
			prio[hk] = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		used[hk] = true;
	}
	if (!used[NF_INET_FORWARD]) {
		used[NF_INET_FORWARD] = true;
		prio[NF_INET_FORWARD] = priority;
	}
	for (size_t i = 0; i < live->n_foreign; i++) {
		const struct nftnl_chain *c = live->foreign[i];
		uint32_t hk = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		int32_t p = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		uint32_t pol = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) ?
				       nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) :
				       NF_ACCEPT;
		int ret;

		if (hk >= 8 || !used[hk])
			continue;
		ret = zw_backend_state__add_foreign(
			st,
			"table %s %s chain %s: type %s hook %s priority %d "
			"policy %s (%s zonewall's)",
			family_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY)),
			nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			nftnl_chain_get_str(c, NFTNL_CHAIN_NAME),
			nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ?
				nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "?",
			hook_name(hk), p,
			pol == NF_DROP ? "drop" : "accept",
			p < prio[hk] ? "runs before" :
			p > prio[hk] ? "runs after" : "same priority as");
		if (ret)
			return ret;
	}
	return 0;
}
