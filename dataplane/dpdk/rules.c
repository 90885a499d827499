// SPDX-License-Identifier: BSD-2-Clause
/* Policy image -> LPM entries and ACL rules (see rules.h). */
#include "rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/policy.h>

static int alen(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

/* True if prefix (a, alen) covers address b. */
static bool covers(const uint8_t *a, unsigned len, const uint8_t *b)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff00u >> rest);

		if ((a[full] & m) != (b[full] & m))
			return false;
	}
	return true;
}
struct pfx {
	uint8_t family, len;
	uint8_t addr[16];
	uint16_t zone;
};

struct pfx_list {
	struct pfx *v;
	size_t n, cap;
};

static int pfx_push(struct pfx_list *l, uint8_t family, uint8_t len,
		    const uint8_t *addr, uint16_t zone)
{
	struct pfx *p;

	/* LPM depth is 1..32/128: a /0 is its two /1 halves. */
	if (len == 0) {
		uint8_t half[16] = { 0 };
		int rc = pfx_push(l, family, 1, half, zone);

		half[0] = 0x80;
		return rc ? rc : pfx_push(l, family, 1, half, zone);
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pfx *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	p = &l->v[l->n++];
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->len = len;
	memcpy(p->addr, addr, (size_t)alen(family));
	p->zone = zone;
	return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct zw_lpm_entry *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family - b->family;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	return a->len - b->len;
}

int zw_lpm_entries__build(const struct zw_image *img,
			  struct zw_lpm_entry **out, size_t *n)
{
	struct pfx_list zones = { 0 }, blocks = { 0 };
	struct zw_lpm_entry *v = NULL;
	size_t nv = 0, i, j;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < img->n_prefix4 && !rc; i++)
		rc = pfx_push(&zones, 4, img->prefix4[i].len,
			      img->prefix4[i].addr, img->prefix4[i].zone);
	for (i = 0; i < img->n_prefix6 && !rc; i++)
		rc = pfx_push(&zones, 6, img->prefix6[i].len,
			      img->prefix6[i].addr, img->prefix6[i].zone);
	for (i = 0; i < img->n_block && !rc; i++)
		rc = pfx_push(&blocks, img->block[i].family, img->block[i].len,
			      img->block[i].addr, 0);
	if (rc)
		goto err;

	v = calloc(zones.n + blocks.n + 1, sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto err;
	}
	for (i = 0; i < zones.n; i++) {
		struct zw_lpm_entry *e = &v[nv++];
		const struct pfx *z = &zones.v[i];

		e->family = z->family;
		e->len = z->len;
		memcpy(e->addr, z->addr, 16);
		e->nh = z->zone;
		for (j = 0; j < blocks.n; j++) {
			const struct pfx *b = &blocks.v[j];

			if (b->family == z->family && b->len <= z->len &&
			    covers(b->addr, b->len, z->addr))
				e->nh |= ZW_NH_BLOCKED;
		}
	}
	for (i = 0; i < blocks.n; i++) {
		const struct pfx *b = &blocks.v[i];
		unsigned best = 0;
		uint16_t zone = 0;
		bool dup = false;

		for (j = 0; j < nv && !dup; j++)
			dup = v[j].family == b->family && v[j].len == b->len &&
			      !memcmp(v[j].addr, b->addr, 16);
		if (dup)
			continue; /* already there, blocked bit set above */
		/* Addresses of b that no longer zone prefix claims keep the
		 * zone of the longest zone prefix holding all of b. */
		for (j = 0; j < zones.n; j++) {
			const struct pfx *z = &zones.v[j];

			if (z->family == b->family && z->len <= b->len &&
			    z->len >= best && covers(z->addr, z->len, b->addr)) {
				best = z->len;
				zone = z->zone;
			}
		}
		v[nv].family = b->family;
		v[nv].len = b->len;
		memcpy(v[nv].addr, b->addr, 16);
		v[nv].nh = zone | ZW_NH_BLOCKED;
		v[nv].from_block = true;
		nv++;
	}
	qsort(v, nv, sizeof(*v), entry_cmp);
	/* Merge exact duplicates (a zone listing one prefix twice). */
	for (i = j = 0; i < nv; i++) {
		if (j && !entry_cmp(&v[j - 1], &v[i])) {
			v[j - 1].nh |= v[i].nh & ZW_NH_BLOCKED;
			continue;
		}
		v[j++] = v[i];
	}
	*out = v;
	*n = j;
	v = NULL;
err:
	free(v);
	free(zones.v);
	free(blocks.v);
	return rc;
}

struct rule_list {
	struct zw_acl_rule *v;
	size_t n, cap;
};

static struct zw_acl_rule *rule_push(struct rule_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct zw_acl_rule *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* The prefixes of @set for @family: [*first, *first + *count) in narrow[],
 * or the single "any" prefix (count 1, any = true) for ZW_NO_SET. */
static void set_range(const struct zw_image *img, uint32_t set, size_t *first,
		      size_t *count, bool *any)
{
	*any = set == ZW_NO_SET;
	if (*any) {
		*first = 0;
		*count = 1;
		return;
	}
	*first = img->sets[set].first;
	*count = img->sets[set].count;
}

/* Index of the pair (from, to) in the sorted PAIRS section, or -1. */
static int64_t pair_index(const struct zw_image *img, uint32_t from,
			  uint32_t to)
{
	uint32_t lo = 0, hi = img->n_pairs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct zw_img_pair *p = &img->pairs[mid];

		if (p->from < from || (p->from == from && p->to < to))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < img->n_pairs && img->pairs[lo].from == from &&
	    img->pairs[lo].to == to)
		return lo;
	return -1;
}

int zw_acl_rules__build(const struct zw_image *img, int32_t day,
			uint8_t family, uint32_t flow,
			struct zw_acl_rule **out, size_t *n)
{
	struct rule_list l = { 0 };
	uint32_t p, r, p_first = 0, p_end = img->n_pairs;

	*out = NULL;
	*n = 0;
	if (img->n_rules >= ZW_ACL_MAX_PRIORITY)
		return -E2BIG;
	if (flow != ZW_NO_FLOW) {
		/* One flow: only its zone pair (describe_flow must stay
		 * proportional to the flow, not to the image). */
		int64_t pi;

		if (flow >= img->n_flows)
			return 0;
		pi = pair_index(img, img->flows[flow].from, img->flows[flow].to);
		if (pi < 0)
			return 0;
		p_first = (uint32_t)pi;
		p_end = p_first + 1;
	}
	for (p = p_first; p < p_end; p++) {
		const struct zw_img_pair *pair = &img->pairs[p];

		for (r = pair->first; r < pair->first + pair->count; r++) {
			const struct zw_img_rule *ir = &img->rules[r];
			size_t sf, sc, df, dc, si, di;
			bool sany, dany;

			if (flow != ZW_NO_FLOW && ir->flow != flow)
				continue;
			if (!zw_image__flow_live(img, ir->flow, day))
				continue;
			set_range(img, ir->src_set, &sf, &sc, &sany);
			set_range(img, ir->dst_set, &df, &dc, &dany);
			for (si = sf; si < sf + sc; si++) {
				const struct zw_img_narrow *sn =
					sany ? NULL : &img->narrow[si];

				if (sn && sn->family != family)
					continue;
				for (di = df; di < df + dc; di++) {
					const struct zw_img_narrow *dn =
						dany ? NULL : &img->narrow[di];
					struct zw_acl_rule *a;

					if (dn && dn->family != family)
						continue;
					a = rule_push(&l);
					if (!a) {
						free(l.v);
						return -ENOMEM;
					}
					a->rule = r;
					a->flow = ir->flow;
					a->priority = ZW_ACL_MAX_PRIORITY - r;
					a->family = family;
					a->proto = ir->proto;
					a->src_zone = pair->from;
					a->dst_zone = pair->to;
					if (ir->flags & ZW_IMG_RULE_ANY) {
						a->lo = 0;
						a->hi = 0xffff;
					} else {
						a->lo = ir->lo;
						a->hi = ir->hi;
					}
					if (sn) {
						a->src_len = sn->len;
						memcpy(a->src, sn->addr, 16);
					}
					if (dn) {
						a->dst_len = dn->len;
						memcpy(a->dst, dn->addr, 16);
					}
				}
			}
		}
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static const char *zone_name(const struct zw_image *img, uint32_t zone)
{
	if (zone >= img->n_zones)
		return "?";
	if (zone == 0)
		return "outside";
	return zw_image__str(img, img->zones[zone].name);
}

static void fmt_prefix(uint8_t family, const uint8_t *addr, unsigned len,
		       char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	snprintf(buf, n, "%s/%u", a, len);
}

void zw_acl_rule__format(const struct zw_image *img,
			 const struct zw_acl_rule *r, char *buf, size_t len)
{
	char s[64], d[64];

	fmt_prefix(r->family, r->src, r->src_len, s, sizeof(s));
	fmt_prefix(r->family, r->dst, r->dst_len, d, sizeof(d));
	snprintf(buf, len,
		 "acl%s prio=%u proto=%u zones=%u(%s)->%u(%s) src=%s dst=%s "
		 "%s=%u-%u userdata=%u (image rule %u)",
		 r->family == 4 ? "4" : "6", r->priority, r->proto,
		 r->src_zone, zone_name(img, r->src_zone), r->dst_zone,
		 zone_name(img, r->dst_zone), s, d,
		 (r->proto == 1 || r->proto == 58) ? "type" : "dport", r->lo,
		 r->hi, r->rule + 1, r->rule);
}

void zw_lpm_entry__format(const struct zw_image *img,
			  const struct zw_lpm_entry *e, char *buf, size_t len)
{
	char p[64];

	fmt_prefix(e->family, e->addr, e->len, p, sizeof(p));
	snprintf(buf, len, "lpm%s %s -> zone %u (%s)%s",
		 e->family == 4 ? "4" : "6", p, e->nh & ZW_NH_ZONE_MASK,
		 zone_name(img, e->nh & ZW_NH_ZONE_MASK),
		 (e->nh & ZW_NH_BLOCKED) ? " BLOCKED" : "");
}

struct strbuf {
	char *s;
	size_t n, cap;
	int err;
};

static void sb_add(struct strbuf *b, const char *line)
{
	size_t l = strlen(line);

	if (b->err)
		return;
	if (b->n + l + 2 > b->cap) {
		size_t cap = (b->cap + l + 2) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->err = ENOMEM;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->n, line, l);
	b->n += l;
	b->s[b->n++] = '\n';
	b->s[b->n] = 0;
}

char *zw_dpdk__describe_flow(const struct zw_image *img, uint32_t flow)
{
	const struct zw_img_flow *f;
	struct zw_acl_rule *acl = NULL;
	struct strbuf b = { 0 };
	char line[512];
	size_t n, i;
	int fam, rc;

	if (!img || flow >= img->n_flows) {
		errno = EINVAL;
		return NULL;
	}
	f = &img->flows[flow];
	snprintf(line, sizeof(line),
		 "dpdk: flow %s (index %u) zone %u (%s) -> zone %u (%s)",
		 zw_image__str(img, f->id), flow, f->from,
		 zone_name(img, f->from), f->to, zone_name(img, f->to));
	sb_add(&b, line);
	/* The LPM entries of the flow's zones (as zw_lpm_entries__build()
	 * gives them), without building the whole table. */
	for (i = 0; i < (size_t)img->n_prefix4 + img->n_prefix6; i++) {
		struct zw_lpm_entry e = { 0 };
		uint32_t k;

		if (i < img->n_prefix4) {
			const struct zw_img_prefix4 *p4 = &img->prefix4[i];

			if (p4->zone != f->from && p4->zone != f->to)
				continue;
			e.family = 4;
			e.len = p4->len;
			memcpy(e.addr, p4->addr, 4);
			e.nh = p4->zone;
		} else {
			const struct zw_img_prefix6 *p6 =
				&img->prefix6[i - img->n_prefix4];

			if (p6->zone != f->from && p6->zone != f->to)
				continue;
			e.family = 6;
			e.len = p6->len;
			memcpy(e.addr, p6->addr, 16);
			e.nh = p6->zone;
		}
		for (k = 0; k < img->n_block; k++)
			if (img->block[k].family == e.family &&
			    img->block[k].len <= e.len &&
			    covers(img->block[k].addr, img->block[k].len, e.addr))
				e.nh |= ZW_NH_BLOCKED;
		zw_lpm_entry__format(img, &e, line, sizeof(line));
		sb_add(&b, line);
	}
	if (img->n_block) {
		snprintf(line, sizeof(line),
			 "lpm: %u crisis block prefix(es) marked BLOCKED in both "
			 "tables (denied before any flow)", img->n_block);
		sb_add(&b, line);
	}
	if (f->from == 0 || f->to == 0)
		sb_add(&b, "lpm (no entry) -> zone 0 (outside): every address "
			   "no zone declares");
	for (fam = 4; fam <= 6; fam += 2) {
		/* Every rule of the flow, whatever its expiry date: the
		 * journal describes the flow, apply() decides liveness. */
		rc = zw_acl_rules__build(img, INT32_MIN, (uint8_t)fam, flow,
					 &acl, &n);
		if (rc) {
			errno = -rc;
			goto err;
		}
		for (i = 0; i < n; i++) {
			zw_acl_rule__format(img, &acl[i], line, sizeof(line));
			sb_add(&b, line);
		}
		free(acl);
		acl = NULL;
	}
	if (f->expires != INT32_MIN) {
		snprintf(line, sizeof(line),
			 "expires: day %d (rules not installed after it)",
			 f->expires);
		sb_add(&b, line);
	}
	if (b.err) {
		errno = b.err;
		goto err;
	}
	return b.s;
err:
	free(acl);
	free(b.s);
	return NULL;
}

int32_t zw_dpdk__today(void)
{
	return (int32_t)(time(NULL) / 86400);
}
