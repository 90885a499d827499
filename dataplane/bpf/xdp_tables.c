/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Image → XDP map entries (see xdp_tables.h and docs/xdp-engine.md).
 *
 * The rule lookup structure: per (zone pair, protocol), the port space is
 * cut into elementary intervals on every rule boundary; each interval gets
 * the ordered list of rules that can decide it (flow order, up to the
 * first rule without narrowing, duplicates of a (src set, dst set) already
 * listed removed since they can never be the first to match). Adjacent
 * intervals with equal lists merge. The first candidate whose narrowing
 * holds is the lowest-index matching flow, which is exactly the oracle's
 * answer, in at most ZW_BPF_CAND_SCAN map reads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "xdp_tables.h"

#define GROW(arr, n, cap)                                                 \
	do {                                                              \
		if ((n) == (cap)) {                                       \
			size_t nc_ = (cap) ? (cap) * 2 : 64;              \
			void *np_ = realloc((arr), nc_ * sizeof(*(arr))); \
			if (!np_)                                         \
				goto enomem;                              \
			(arr) = np_;                                      \
			(cap) = nc_;                                      \
		}                                                         \
	} while (0)

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void zw_xdp_tables__free(struct zw_xdp_tables *t)
{
	if (!t)
		return;
	free(t->zones4);
	free(t->zones6);
	free(t->sets4);
	free(t->sets6);
	free(t->block4);
	free(t->block6);
	free(t->zoneinfo);
	free(t->flowinfo);
	free(t->ports);
	free(t->ranges);
	free(t->cands);
	free(t);
}

/* One rule of a (pair, protocol) being cut into intervals. */
struct prule {
	uint32_t lo, hi; /* inclusive, 0..65535 */
	struct zw_bpf_cand c;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_port(const void *a, const void *b)
{
	const struct zw_bpf_port_key *x = &((const struct zw_xdp_port *)a)->k;
	const struct zw_bpf_port_key *y = &((const struct zw_xdp_port *)b)->k;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

struct builder {
	struct zw_xdp_tables *t;
	size_t cap_ports, cap_ranges, cap_cands;
	/* the last candidate list written, for sharing */
	uint32_t last_first, last_count;
};

/* Append @n candidates (or reuse the last list if equal); returns the
 * index of the first, or -1 on ENOMEM. */
static long put_cands(struct builder *b, const struct zw_bpf_cand *c,
		      uint32_t n)
{
	struct zw_xdp_tables *t = b->t;
	uint32_t i;

	if (b->last_count == n &&
	    !memcmp(&t->cands[b->last_first], c, n * sizeof(*c)))
		return b->last_first;
	for (i = 0; i < n; i++) {
		GROW(t->cands, t->n_cands, b->cap_cands);
		t->cands[t->n_cands++] = c[i];
	}
	b->last_first = (uint32_t)(t->n_cands - n);
	b->last_count = n;
	return b->last_first;
enomem:
	return -1;
}

/* Cut the rules @r[0..n) of (from, to, proto) into intervals. */
static int cut_proto(struct builder *b, uint16_t from, uint16_t to,
		     uint8_t proto, const struct prule *r, size_t n,
		     const struct zw_image *img, char *err, size_t err_len)
{
	struct zw_xdp_tables *t = b->t;
	uint32_t *bound = malloc((2 * n + 2) * sizeof(*bound));
	struct zw_bpf_cand cur[ZW_BPF_CAND_SCAN + 1], prev[ZW_BPF_CAND_SCAN + 1];
	uint32_t ncur = 0, nprev = 0, prev_lo = 0, prev_hi = 0;
	size_t nb = 0, i, j, first_range = t->n_ranges;
	int have_prev = 0, rc = -ENOMEM;

	if (!bound)
		return -ENOMEM;
	bound[nb++] = 0;
	for (i = 0; i < n; i++) {
		bound[nb++] = r[i].lo;
		bound[nb++] = r[i].hi + 1;
	}
	qsort(bound, nb, sizeof(*bound), cmp_u32);
	for (i = 1, j = 1; i < nb; i++)
		if (bound[i] != bound[j - 1])
			bound[j++] = bound[i];
	nb = j;

	/* one pass more than the intervals, to flush the last one */
	for (i = 0; i <= nb; i++) {
		uint32_t lo = 0, hi = 0;

		ncur = 0;
		if (i < nb) {
			lo = bound[i];
			if (lo > 65535)
				continue;
			hi = i + 1 < nb ? bound[i + 1] - 1 : 65535;
			if (hi > 65535)
				hi = 65535;
			for (j = 0; j < n; j++) {
				const struct zw_bpf_cand *c = &r[j].c;
				uint32_t k;
				int dup = 0;

				if (r[j].lo > lo || r[j].hi < lo)
					continue;
				for (k = 0; k < ncur; k++)
					if (cur[k].src_set == c->src_set &&
					    cur[k].dst_set == c->dst_set)
						dup = 1;
				if (dup)
					continue;
				if (ncur == ZW_BPF_CAND_SCAN) {
					rc = fail(err, err_len, -E2BIG,
						  "zone pair %s -> %s, protocol %u, port %u: "
						  "more than %d narrowed rules can decide one "
						  "port (XDP engine limit ZW_BPF_CAND_SCAN)",
						  zw_image__str(img, img->zones[from].name),
						  zw_image__str(img, img->zones[to].name),
						  proto, lo, ZW_BPF_CAND_SCAN);
					goto out;
				}
				cur[ncur++] = *c;
				if (!c->src_set && !c->dst_set)
					break;
			}
			if (have_prev && ncur == nprev && lo == prev_hi + 1 &&
			    !memcmp(cur, prev, ncur * sizeof(*cur))) {
				prev_hi = hi;
				continue;
			}
		}
		/* flush prev */
		if (have_prev && nprev) {
			long first = put_cands(b, prev, nprev);

			if (first < 0)
				goto out;
			if (nprev > t->max_scan)
				t->max_scan = nprev;
			if (prev_lo == prev_hi) {
				GROW(t->ports, t->n_ports, b->cap_ports);
				t->ports[t->n_ports++] = (struct zw_xdp_port){
					.k = {.from = from, .to = to, .proto = proto,
					      .kind = ZW_BPF_PK_PORT,
					      .port = (uint16_t)prev_lo},
					.v = {.first = (uint32_t)first, .count = nprev},
				};
			} else {
				GROW(t->ranges, t->n_ranges, b->cap_ranges);
				t->ranges[t->n_ranges++] = (struct zw_bpf_range){
					.lo = (uint16_t)prev_lo,
					.hi = (uint16_t)prev_hi,
					.first = (uint32_t)first,
					.count = nprev,
				};
			}
		}
		memcpy(prev, cur, ncur * sizeof(*cur));
		nprev = ncur;
		prev_lo = lo;
		prev_hi = hi;
		have_prev = 1;
	}
	if (t->n_ranges > first_range) {
		size_t nr = t->n_ranges - first_range;

		if (nr > (1u << ZW_BPF_RANGE_STEPS)) {
			rc = fail(err, err_len, -E2BIG,
				  "zone pair %s -> %s, protocol %u: %zu port intervals "
				  "(XDP engine limit %u)",
				  zw_image__str(img, img->zones[from].name),
				  zw_image__str(img, img->zones[to].name), proto, nr,
				  1u << ZW_BPF_RANGE_STEPS);
			goto out;
		}
		if (nr > t->max_ranges)
			t->max_ranges = (uint32_t)nr;
		GROW(t->ports, t->n_ports, b->cap_ports);
		t->ports[t->n_ports++] = (struct zw_xdp_port){
			.k = {.from = from, .to = to, .proto = proto,
			      .kind = ZW_BPF_PK_RANGES, .port = 0},
			.v = {.first = (uint32_t)first_range, .count = (uint32_t)nr},
		};
	}
	rc = 0;
	goto out;
enomem:
	rc = -ENOMEM;
out:
	free(bound);
	return rc;
}

static int build_rules(struct builder *b, const struct zw_image *img,
		       int32_t day, char *err, size_t err_len)
{
	struct prule *r = NULL;
	size_t cap = 0;
	int rc = 0;

	for (uint32_t p = 0; p < img->n_pairs && !rc; p++) {
		const struct zw_img_pair *pair = &img->pairs[p];
		uint8_t protos[256];
		size_t n_protos = 0;
		int seen[256] = {0};

		for (uint32_t i = 0; i < pair->count; i++) {
			const struct zw_img_rule *x = &img->rules[pair->first + i];

			if (zw_image__flow_live(img, x->flow, day) && !seen[x->proto]) {
				seen[x->proto] = 1;
				protos[n_protos++] = x->proto;
			}
		}
		for (size_t q = 0; q < n_protos && !rc; q++) {
			size_t n = 0;

			for (uint32_t i = 0; i < pair->count; i++) {
				const struct zw_img_rule *x =
					&img->rules[pair->first + i];

				if (x->proto != protos[q] || !zw_image__flow_live(img, x->flow, day))
					continue;
				GROW(r, n, cap);
				r[n].lo = (x->flags & ZW_IMG_RULE_ANY) ? 0 : x->lo;
				r[n].hi = (x->flags & ZW_IMG_RULE_ANY) ? 65535 : x->hi;
				r[n].c = (struct zw_bpf_cand){.flow = x->flow,
							      .src_set = x->src_set,
							      .dst_set = x->dst_set};
				n++;
			}
			rc = cut_proto(b, pair->from, pair->to, protos[q], r, n,
				       img, err, err_len);
		}
	}
	free(r);
	return rc;
enomem:
	free(r);
	return -ENOMEM;
}

int zw_xdp_tables__build(const struct zw_image *img, int32_t day,
			 struct zw_xdp_tables **out, char *err,
			 size_t err_len)
{
	struct zw_xdp_tables *t = calloc(1, sizeof(*t));
	struct builder b = {.t = t};
	size_t n4 = 0, n6 = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	if (img->n_zones > ZW_BPF_MAX_ZONES) {
		rc = fail(err, err_len, -E2BIG,
			  "%u zones: the XDP engine holds at most %u",
			  img->n_zones, ZW_BPF_MAX_ZONES);
		goto err;
	}
	if (img->n_flows > ZW_BPF_MAX_FLOWS) {
		rc = fail(err, err_len, -E2BIG,
			  "%u flows: the XDP engine holds at most %u",
			  img->n_flows, ZW_BPF_MAX_FLOWS);
		goto err;
	}
	t->n_zones = img->n_zones;
	t->zoneinfo = calloc(img->n_zones ? img->n_zones : 1, sizeof(*t->zoneinfo));
	t->n_flows = img->n_flows;
	t->flowinfo = calloc(img->n_flows ? img->n_flows : 1, sizeof(*t->flowinfo));
	t->zones4 = calloc(img->n_prefix4 + 1, sizeof(*t->zones4));
	t->zones6 = calloc(img->n_prefix6 + 1, sizeof(*t->zones6));
	if (!t->zoneinfo || !t->flowinfo || !t->zones4 || !t->zones6)
		goto err;

	for (uint32_t z = 0; z < img->n_zones; z++)
		t->zoneinfo[z].flags =
			((img->zones[z].flags & ZW_IMG_ZONE_ISOLATE) ? ZW_BPF_ZONE_ISOLATE : 0) |
			(z ? ZW_BPF_ZONE_DECLARED : 0);
	for (uint32_t f = 0; f < img->n_flows; f++) {
		const struct zw_img_flow *fl = &img->flows[f];
		struct zw_bpf_flowinfo *fi = &t->flowinfo[f];

		fi->id_hash = fl->id_hash;
		if (!zw_image__flow_live(img, f, day))
			continue;
		t->n_live++;
		fi->flags = (fl->flags & ZW_IMG_FLOW_LOG) ? ZW_BPF_FLOW_LOG : 0;
		fi->rate = fl->rate;
		if (fl->rate) {
			fi->interval_ns = 1000000000ull / fl->rate;
			fi->tolerance_ns = (uint64_t)(fl->rate - 1) * fi->interval_ns;
		}
	}
	if (img->n_prefix4 > ZW_BPF_MAX_PREFIXES || img->n_prefix6 > ZW_BPF_MAX_PREFIXES) {
		rc = fail(err, err_len, -E2BIG,
			  "%u IPv4 / %u IPv6 zone prefixes: the XDP engine holds at most %u per family",
			  img->n_prefix4, img->n_prefix6, ZW_BPF_MAX_PREFIXES);
		goto err;
	}
	for (uint32_t i = 0; i < img->n_prefix4; i++) {
		struct zw_xdp_zone4 *e = &t->zones4[t->n_zones4++];

		e->k.prefixlen = img->prefix4[i].len;
		memcpy(e->k.addr, img->prefix4[i].addr, 4);
		e->v.zone = img->prefix4[i].zone;
	}
	for (uint32_t i = 0; i < img->n_prefix6; i++) {
		struct zw_xdp_zone6 *e = &t->zones6[t->n_zones6++];

		e->k.prefixlen = img->prefix6[i].len;
		memcpy(e->k.addr, img->prefix6[i].addr, 16);
		e->v.zone = img->prefix6[i].zone;
	}

	/* narrowing sets */
	for (uint32_t s = 1; s < img->n_sets; s++)
		for (uint32_t i = 0; i < img->sets[s].count; i++)
			*(img->narrow[img->sets[s].first + i].family == 4 ? &n4 : &n6) += 1;
	t->sets4 = calloc(n4 + 1, sizeof(*t->sets4));
	t->sets6 = calloc(n6 + 1, sizeof(*t->sets6));
	if (!t->sets4 || !t->sets6)
		goto err;
	if (n4 > ZW_BPF_MAX_NARROW || n6 > ZW_BPF_MAX_NARROW) {
		rc = fail(err, err_len, -E2BIG,
			  "%zu IPv4 / %zu IPv6 narrowing prefixes: the XDP engine holds at most %u per family",
			  n4, n6, ZW_BPF_MAX_NARROW);
		goto err;
	}
	for (uint32_t s = 1; s < img->n_sets; s++) {
		for (uint32_t i = 0; i < img->sets[s].count; i++) {
			const struct zw_img_narrow *nw = &img->narrow[img->sets[s].first + i];

			if (nw->family == 4) {
				struct zw_bpf_set4 *k = &t->sets4[t->n_sets4++];

				k->prefixlen = 32 + nw->len;
				k->set = htonl(s);
				memcpy(k->addr, nw->addr, 4);
			} else {
				struct zw_bpf_set6 *k = &t->sets6[t->n_sets6++];

				k->prefixlen = 32 + nw->len;
				k->set = htonl(s);
				memcpy(k->addr, nw->addr, 16);
			}
		}
	}

	/* crisis block list */
	t->block4 = calloc(img->n_block + 1, sizeof(*t->block4));
	t->block6 = calloc(img->n_block + 1, sizeof(*t->block6));
	if (!t->block4 || !t->block6)
		goto err;
	for (uint32_t i = 0; i < img->n_block; i++) {
		const struct zw_img_narrow *nw = &img->block[i];

		if (nw->family == 4) {
			struct zw_bpf_lpm4 *k = &t->block4[t->n_block4++];

			k->prefixlen = nw->len;
			memcpy(k->addr, nw->addr, 4);
		} else {
			struct zw_bpf_lpm6 *k = &t->block6[t->n_block6++];

			k->prefixlen = nw->len;
			memcpy(k->addr, nw->addr, 16);
		}
	}
	if (t->n_block4 > ZW_BPF_MAX_BLOCK || t->n_block6 > ZW_BPF_MAX_BLOCK) {
		rc = fail(err, err_len, -E2BIG,
			  "block list of %zu IPv4 / %zu IPv6 prefixes: the XDP engine holds at most %u per family",
			  t->n_block4, t->n_block6, ZW_BPF_MAX_BLOCK);
		goto err;
	}

	rc = build_rules(&b, img, day, err, err_len);
	if (rc)
		goto err;
	if (t->n_ports > ZW_BPF_MAX_PORT_KEYS || t->n_ranges > ZW_BPF_MAX_RANGES ||
	    t->n_cands > ZW_BPF_MAX_CANDS) {
		rc = fail(err, err_len, -E2BIG,
			  "%zu port keys, %zu ranges, %zu candidates: the XDP engine holds at most %u, %u, %u",
			  t->n_ports, t->n_ranges, t->n_cands, ZW_BPF_MAX_PORT_KEYS,
			  ZW_BPF_MAX_RANGES, ZW_BPF_MAX_CANDS);
		goto err;
	}
	qsort(t->ports, t->n_ports, sizeof(*t->ports), cmp_port);
	*out = t;
	return 0;
err:
	if (rc == -ENOMEM)
		fail(err, err_len, rc, "out of memory projecting the image");
	zw_xdp_tables__free(t);
	return rc;
}

/* ---- the BPF lookup, in C ---- */

static int in_prefix(const uint8_t *addr, const uint8_t *pfx, unsigned len)
{
	unsigned full = len / 8, rem = len % 8;

	if (memcmp(addr, pfx, full))
		return 0;
	if (rem && ((addr[full] ^ pfx[full]) & (uint8_t)(0xff << (8 - rem))))
		return 0;
	return 1;
}

static uint32_t zone_of(const struct zw_xdp_tables *t, uint8_t family,
			const uint8_t *addr)
{
	uint32_t best = 0, zone = 0;
	int found = 0;

	if (family == 4) {
		for (size_t i = 0; i < t->n_zones4; i++)
			if (in_prefix(addr, t->zones4[i].k.addr, t->zones4[i].k.prefixlen) &&
			    (!found || t->zones4[i].k.prefixlen > best)) {
				best = t->zones4[i].k.prefixlen;
				zone = t->zones4[i].v.zone;
				found = 1;
			}
	} else {
		for (size_t i = 0; i < t->n_zones6; i++)
			if (in_prefix(addr, t->zones6[i].k.addr, t->zones6[i].k.prefixlen) &&
			    (!found || t->zones6[i].k.prefixlen > best)) {
				best = t->zones6[i].k.prefixlen;
				zone = t->zones6[i].v.zone;
				found = 1;
			}
	}
	return zone;
}

static int in_set(const struct zw_xdp_tables *t, uint32_t set, uint8_t family,
		  const uint8_t *addr)
{
	if (!set)
		return 1;
	if (family == 4) {
		for (size_t i = 0; i < t->n_sets4; i++)
			if (ntohl(t->sets4[i].set) == set &&
			    in_prefix(addr, t->sets4[i].addr, t->sets4[i].prefixlen - 32))
				return 1;
	} else {
		for (size_t i = 0; i < t->n_sets6; i++)
			if (ntohl(t->sets6[i].set) == set &&
			    in_prefix(addr, t->sets6[i].addr, t->sets6[i].prefixlen - 32))
				return 1;
	}
	return 0;
}

static int blocked(const struct zw_xdp_tables *t, uint8_t family,
		   const uint8_t *addr)
{
	if (family == 4) {
		for (size_t i = 0; i < t->n_block4; i++)
			if (in_prefix(addr, t->block4[i].addr, t->block4[i].prefixlen))
				return 1;
	} else {
		for (size_t i = 0; i < t->n_block6; i++)
			if (in_prefix(addr, t->block6[i].addr, t->block6[i].prefixlen))
				return 1;
	}
	return 0;
}

static const struct zw_bpf_span *port_lookup(const struct zw_xdp_tables *t,
					     const struct zw_bpf_port_key *k)
{
	struct zw_xdp_port key = {.k = *k};
	const struct zw_xdp_port *e =
		bsearch(&key, t->ports, t->n_ports, sizeof(*t->ports), cmp_port);

	return e ? &e->v : NULL;
}

void zw_xdp_tables__classify(const struct zw_xdp_tables *t,
			     const struct zw_query *q, struct zw_verdict *v)
{
	struct zw_bpf_port_key pk = {0};
	const struct zw_bpf_span *sp;
	struct zw_bpf_span span = {0, 0};
	uint16_t port = q->port;
	int have = 0;

	memset(v, 0, sizeof(*v));
	v->flow = ZW_NO_FLOW;
	v->src_zone = zone_of(t, q->family, q->src);
	v->dst_zone = zone_of(t, q->family, q->dst);
	if (blocked(t, q->family, q->src) || blocked(t, q->family, q->dst)) {
		v->reason = ZW_VERDICT_BLOCKED;
		return;
	}
	/* the rule port as the parser gives it: 0 for protocols without */
	if (!zw_proto__has_ports(q->proto) && !zw_proto__is_icmp(q->proto))
		port = 0;
	pk.from = (uint16_t)v->src_zone;
	pk.to = (uint16_t)v->dst_zone;
	pk.proto = q->proto;
	pk.kind = ZW_BPF_PK_PORT;
	pk.port = port;
	sp = port_lookup(t, &pk);
	if (sp) {
		span = *sp;
		have = 1;
	} else {
		pk.kind = ZW_BPF_PK_RANGES;
		pk.port = 0;
		sp = port_lookup(t, &pk);
		if (sp) {
			uint32_t lo = sp->first, n = sp->count;

			for (int i = 0; i < ZW_BPF_RANGE_STEPS && n > 1; i++) {
				uint32_t half = n / 2, mid = lo + half;

				if (t->ranges[mid].lo <= port) {
					lo = mid;
					n -= half;
				} else {
					n = half;
				}
			}
			if (n == 1 && port >= t->ranges[lo].lo && port <= t->ranges[lo].hi) {
				span.first = t->ranges[lo].first;
				span.count = t->ranges[lo].count;
				have = 1;
			}
		}
	}
	if (have) {
		for (uint32_t i = 0; i < ZW_BPF_CAND_SCAN && i < span.count; i++) {
			const struct zw_bpf_cand *c = &t->cands[span.first + i];

			if (!in_set(t, c->src_set, q->family, q->src) ||
			    !in_set(t, c->dst_set, q->family, q->dst))
				continue;
			v->allow = true;
			v->reason = ZW_VERDICT_FLOW;
			v->flow = c->flow;
			return;
		}
	}
	if (v->src_zone == v->dst_zone && v->src_zone != 0) {
		if (t->zoneinfo[v->src_zone].flags & ZW_BPF_ZONE_ISOLATE) {
			v->reason = ZW_VERDICT_ISOLATED;
		} else {
			v->allow = true;
			v->reason = ZW_VERDICT_SAME_ZONE;
		}
		return;
	}
	v->reason = ZW_VERDICT_NO_FLOW;
}

/* ---- describe ---- */

struct sbuf {
	char *s;
	size_t n, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->oom = 1;
			return;
		}
		if (b->s && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		{
			size_t nc = (b->cap + (size_t)k + 1) * 2;
			char *ns = realloc(b->s, nc);

			if (!ns) {
				b->oom = 1;
				return;
			}
			b->s = ns;
			b->cap = nc;
		}
	}
}

static const char *zname(const struct zw_image *img, uint32_t z)
{
	return zw_image__str(img, img->zones[z].name);
}

static void describe_set(struct sbuf *b, const struct zw_image *img,
			 uint32_t set, const char *what)
{
	char buf[64];

	if (!set)
		return;
	sb_add(b, "  zw_sets%s_S set %u (%s narrowing):", "4/6", set, what);
	for (uint32_t i = 0; i < img->sets[set].count; i++) {
		const struct zw_img_narrow *nw = &img->narrow[img->sets[set].first + i];
		struct zw_prefix p = {.family = nw->family, .len = nw->len};

		memcpy(p.addr, nw->addr, 16);
		sb_add(b, " %s", zw_prefix__format(&p, buf));
	}
	sb_add(b, "\n");
}

/*
 * describe_flow is called for every flow a commit adds, changes or removes
 * (backend.h): projecting the whole image for each call made a first
 * commit quadratic (16 384 flows: two minutes). The projection of the last
 * image asked about is kept, with per flow the places its candidates
 * appear, so a call costs that flow's entries.
 */
struct dref {
	uint32_t port;	/* index in t->ports */
	uint32_t range; /* index in its range list, UINT32_MAX for PK_PORT */
	uint32_t rank;	/* 1-based position in the candidate list */
};

static struct {
	uint8_t sha256[32];
	size_t size;
	int32_t day;
	int valid;
	int rc;
	char err[256];
	struct zw_xdp_tables *t;
	uint32_t n_flows;
	uint32_t *ref_first;  /* [n_flows + 1]: refs of flow f */
	struct dref *refs;
	uint32_t *cand_first; /* [n_flows + 1]: cand_idx of flow f */
	uint32_t *cand_idx;   /* candidate indexes, ascending per flow */
} dcache;
static pthread_mutex_t dcache_lock = PTHREAD_MUTEX_INITIALIZER;

static void dcache_clear(void)
{
	zw_xdp_tables__free(dcache.t);
	free(dcache.ref_first);
	free(dcache.refs);
	free(dcache.cand_first);
	free(dcache.cand_idx);
	memset(&dcache, 0, sizeof(dcache));
}

/* The first position of @flow in candidates [first, first + count), 1-based,
 * or 0. */
static uint32_t cand_rank(const struct zw_xdp_tables *t, uint32_t first,
			  uint32_t count, uint32_t flow)
{
	for (uint32_t i = 0; i < count; i++)
		if (t->cands[first + i].flow == flow)
			return i + 1;
	return 0;
}

/* Every (port entry, range) list, in describe order, and each flow's
 * first place in it: counted into dcache.ref_first (@fill NULL), or
 * stored into dcache.refs. */
static size_t dc_walk(const struct zw_xdp_tables *t, uint32_t n,
		      uint32_t *fill)
{
	size_t nrefs = 0;

	for (uint32_t pi = 0; pi < t->n_ports; pi++) {
		const struct zw_xdp_port *e = &t->ports[pi];
		uint32_t nl = e->k.kind == ZW_BPF_PK_PORT ? 1 : e->v.count;

		for (uint32_t r = 0; r < nl; r++) {
			uint32_t first = e->v.first, count = e->v.count;
			uint32_t range = UINT32_MAX;

			if (e->k.kind != ZW_BPF_PK_PORT) {
				const struct zw_bpf_range *rg = &t->ranges[e->v.first + r];

				first = rg->first;
				count = rg->count;
				range = r;
			}
			for (uint32_t c = 0; c < count; c++) {
				uint32_t fl = t->cands[first + c].flow;

				if (fl >= n || cand_rank(t, first, c, fl))
					continue; /* not its first place */
				nrefs++;
				if (!fill)
					dcache.ref_first[fl + 1]++;
				else
					dcache.refs[dcache.ref_first[fl] + fill[fl]++] =
						(struct dref){.port = pi, .range = range,
							      .rank = c + 1};
			}
		}
	}
	return nrefs;
}

/* Make dcache hold @img's projection for @day. 0 or -ENOMEM (the
 * projection's own failure is kept in dcache.rc/err). */
static int dcache_fill(const struct zw_image *img, int32_t day)
{
	struct zw_xdp_tables *t;
	uint32_t n = img->n_flows, *fill = NULL;
	size_t nrefs = 0;

	if (dcache.valid && dcache.day == day && dcache.size == img->size &&
	    !memcmp(dcache.sha256, img->sha256, 32))
		return 0;
	dcache_clear();
	dcache.rc = zw_xdp_tables__build(img, day, &dcache.t, dcache.err,
					 sizeof(dcache.err));
	if (dcache.rc == -ENOMEM)
		goto enomem;
	t = dcache.t;
	dcache.n_flows = n;
	if (t) {
		dcache.ref_first = calloc((size_t)n + 1, sizeof(uint32_t));
		dcache.cand_first = calloc((size_t)n + 1, sizeof(uint32_t));
		fill = calloc((size_t)n + 1, sizeof(uint32_t));
		if (!dcache.ref_first || !dcache.cand_first || !fill)
			goto enomem;
		nrefs = dc_walk(t, n, NULL);
		for (uint32_t f = 0; f < n; f++)
			dcache.ref_first[f + 1] += dcache.ref_first[f];
		dcache.refs = calloc(nrefs + 1, sizeof(*dcache.refs));
		if (!dcache.refs)
			goto enomem;
		dc_walk(t, n, fill);
		for (size_t i = 0; i < t->n_cands; i++)
			if (t->cands[i].flow < n)
				dcache.cand_first[t->cands[i].flow + 1]++;
		for (uint32_t f = 0; f < n; f++)
			dcache.cand_first[f + 1] += dcache.cand_first[f];
		dcache.cand_idx = calloc(t->n_cands + 1, sizeof(uint32_t));
		if (!dcache.cand_idx)
			goto enomem;
		memset(fill, 0, ((size_t)n + 1) * sizeof(uint32_t));
		for (size_t i = 0; i < t->n_cands; i++) {
			uint32_t f = t->cands[i].flow;

			if (f < n)
				dcache.cand_idx[dcache.cand_first[f] + fill[f]++] =
					(uint32_t)i;
		}
	}
	free(fill);
	memcpy(dcache.sha256, img->sha256, 32);
	dcache.size = img->size;
	dcache.day = day;
	dcache.valid = 1;
	return 0;
enomem:
	free(fill);
	dcache_clear();
	return -ENOMEM;
}

char *zw_xdp_tables__describe_flow(const struct zw_image *img, uint32_t flow,
				   int32_t day)
{
	const struct zw_xdp_tables *t;
	struct sbuf b = {0};
	const struct zw_img_flow *fl;
	char pbuf[4];
	uint32_t sets_done[64];
	size_t n_sets_done = 0, entries = 0;

	if (flow >= img->n_flows) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&dcache_lock);
	if (dcache_fill(img, day)) {
		pthread_mutex_unlock(&dcache_lock);
		errno = ENOMEM;
		return NULL;
	}
	t = dcache.t;
	fl = &img->flows[flow];
	sb_add(&b, "xdp: flow %s (index %u): zones %s(%u) -> %s(%u)\n",
	       zw_image__str(img, fl->id), flow, zname(img, fl->from), fl->from,
	       zname(img, fl->to), fl->to);
	if (dcache.rc) {
		sb_add(&b, "  not loadable in the XDP engine: %s\n", dcache.err);
		goto done;
	}
	if (!zw_image__flow_live(img, flow, day)) {
		sb_add(&b, "  expired: no map entry\n");
		goto done;
	}
	sb_add(&b, "  zw_flowinfo_S[%u] = {log=%u rate=%u/s}\n", flow,
	       !!(t->flowinfo[flow].flags & ZW_BPF_FLOW_LOG), t->flowinfo[flow].rate);
	for (uint32_t i = dcache.ref_first[flow]; i < dcache.ref_first[flow + 1]; i++) {
		const struct dref *r = &dcache.refs[i];
		const struct zw_xdp_port *e = &t->ports[r->port];

		if (r->range == UINT32_MAX) {
			sb_add(&b, "  zw_ports_S{from=%u to=%u proto=%s port=%u} -> candidate %u of %u\n",
			       e->k.from, e->k.to, zw_proto__name(e->k.proto, pbuf),
			       e->k.port, r->rank, e->v.count);
		} else {
			const struct zw_bpf_range *rg = &t->ranges[e->v.first + r->range];

			sb_add(&b, "  zw_ports_S{from=%u to=%u proto=%s ranges}[%u] = %u-%u -> candidate %u of %u\n",
			       e->k.from, e->k.to, zw_proto__name(e->k.proto, pbuf),
			       r->range, rg->lo, rg->hi, r->rank, rg->count);
		}
		entries++;
	}
	for (uint32_t i = dcache.cand_first[flow]; i < dcache.cand_first[flow + 1]; i++) {
		const struct zw_bpf_cand *c = &t->cands[dcache.cand_idx[i]];
		uint32_t s[2] = {c->src_set, c->dst_set};

		for (int k = 0; k < 2; k++) {
			size_t j;

			if (!s[k])
				continue;
			for (j = 0; j < n_sets_done && sets_done[j] != s[k]; j++)
				;
			if (j < n_sets_done || n_sets_done == 64)
				continue;
			sets_done[n_sets_done++] = s[k];
			describe_set(&b, img, s[k], k ? "dst" : "src");
		}
	}
	if (!entries)
		sb_add(&b, "  no rule entry: every port it names is decided by an earlier flow\n");
done:
	pthread_mutex_unlock(&dcache_lock);
	if (b.oom) {
		free(b.s);
		errno = ENOMEM;
		return NULL;
	}
	return b.s;
}
