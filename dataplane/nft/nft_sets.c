// SPDX-License-Identifier: BSD-2-Clause
/*
 * Sets and maps: address ranges (merged and laid out as nft lays them
 * out), the zone maps (src4/src6, dst4_<zone>/dst6_<zone>), the crisis
 * block list, the image's narrowing sets (or the single prefix a rule
 * compares inline instead) and the dynamic sets of the rate limits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/set.h>

#include <zonewall/policy.h>

#include "nft_build.h"

/* nft's datatype ids (src/datatype.h of nftables), for set key types. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8

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

	it = zwnft_ruleset__push(rs, ZWNFT_SET, name, flow);
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
	it = zwnft_ruleset__push(rs, ZWNFT_SET, name, flow);
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
/* narrowing, zone maps: the sets of an image */

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
int zwnft_rule_families(const struct zw_image *img,
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
bool zwnft_set_single_prefix(const struct zw_image *img, uint32_t set,
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
static int zone_ranges(struct zwnft_build *b, int fam,
		       const char *(*target)(struct zwnft_build *, uint32_t,
					     void *),
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

static const char *from_target(struct zwnft_build *b, uint32_t z, void *ctx)
{
	char **names = ctx;

	if (b->from_chain[z])
		return names[z];
	return z == ZW_ZONE_OUTSIDE ? NULL : b->rest;
}

struct pair_ctx {
	uint32_t from;
	char **names; /* [to] for this from, NULL if no chain */
};

/* Every declared zone is in a destination map, "deny" when the pair has
 * no chain: only addresses of no zone may fall through to outside. */
static const char *pair_target(struct zwnft_build *b, uint32_t z, void *ctx)
{
	struct pair_ctx *pc = ctx;

	if (pc->names[z])
		return pc->names[z];
	return z == ZW_ZONE_OUTSIDE ? NULL : b->rest;
}

int zwnft_build__sets(struct zwnft_build *b, char **from_names)
{
	const struct zw_image *img = b->img;
	char n[ZWNFT_NAME_MAX];
	int ret = 0;

	/* crisis block list (opts.l7_only: the XDP program's) */
	for (int i = 0; i < 2 && !b->rs->opts.l7_only; i++) {
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
			ret = zwnft_name__pair(pnames[b->pc[j].to], img, from,
					       b->pc[j].to);
			if (ret)
				break;
		}
		for (int k = 0; k < 2 && !ret; k++) {
			int fam = k ? ZW_AF_INET6 : ZW_AF_INET;
			struct zranges r = {0};

			ret = zone_ranges(b, fam, pair_target, &ctx, NFT_GOTO, &r);
			if (!ret && r.n)
				ret = zwnft_name__fmt(n, "dst%d_%s", k ? 6 : 4,
						      zwnft_zone_name(img,
								      from));
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
			    zwnft_set_single_prefix(img, s, fam, a, &len))
				continue;
			ret = narrow_ranges(img, &img->narrow[img->sets[s].first],
					    img->sets[s].count, fam, &r);
			if (!ret)
				ret = zwnft_name__fmt(n, "n%d_%u", k ? 6 : 4,
						      s);
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
		if (!b->flow_chain[f] || !img->flows[f].rate ||
		    b->rs->opts.l7_only)
			continue;
		const char *id = zwnft_flow_id(img, f);

		if ((ret = zwnft_name__fmt(n, "rate4_%s", id)) ||
		    (ret = add_rate_set(b->rs, n, 4, f)) ||
		    (ret = zwnft_name__fmt(n, "rate6_%s", id)) ||
		    (ret = add_rate_set(b->rs, n, 16, f)))
			return ret;
	}
	return 0;
}
