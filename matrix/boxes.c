/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Traffic as boxes: a flow allows a union of boxes (family, protocol,
 * port or type range, source interval, destination interval). Coverage and
 * difference of unions of boxes are computed exactly by cutting each
 * dimension at the edges of the boxes involved. Used by the redundancy
 * check (ZW040) and by zonectl diff's effective traffic change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

static zw_u128 addr_value(const uint8_t *addr, uint8_t family)
{
	zw_u128 v = 0;
	int n = family == ZW_AF_INET ? 4 : 16;

	for (int i = 0; i < n; i++)
		v = (v << 8) | addr[i];
	return v;
}

struct zw_ival zw_prefix_ival(const struct zw_prefix *p)
{
	int bits = p->family == ZW_AF_INET ? 32 : 128;
	zw_u128 base = addr_value(p->addr, p->family);
	zw_u128 span = p->len == 0 ? (bits == 128 ? ~(zw_u128)0 : (((zw_u128)1 << bits) - 1))
				: ((((zw_u128)1) << (bits - p->len)) - 1);

	return (struct zw_ival){base, base + span};
}

static int cmp_ival(const void *a, const void *b)
{
	const struct zw_ival *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Address intervals of one family for (zone, narrowing). */
struct zw_ivals {
	struct zw_ival *v;
	size_t n;
};

/* The gaps between declared prefixes of @family (the outside zone), with
 * the running total of gap sizes before each, computed once per matrix. */
static bool outside_gaps(const struct zw_matrix *m, struct zw_boxes *bx,
			 int fi, uint8_t family)
{
	struct zw_outside *o = &bx->outside[fi];
	size_t total = 0, nd = 0, n = 0;
	struct zw_ival *d;

	if (o->ready)
		return true;
	for (size_t z = 1; z < m->n_zones; z++)
		total += m->zones[z].n_networks;
	d = malloc((total + 1) * sizeof(*d));
	o->gaps = malloc((total + 1) * sizeof(*o->gaps));
	o->before = malloc((total + 1) * sizeof(*o->before));
	if (!d || !o->gaps || !o->before) {
		free(d);
		return false;
	}
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t i = 0; i < m->zones[z].n_networks; i++)
			if (m->zones[z].networks[i].family == family)
				d[nd++] = zw_prefix_ival(&m->zones[z].networks[i]);
	qsort(d, nd, sizeof(*d), cmp_ival);

	zw_u128 max = family == ZW_AF_INET ? 0xffffffffu : ~(zw_u128)0;
	zw_u128 next = 0, sum = 0;
	bool done = false;

	for (size_t i = 0; i < nd && !done; i++) {
		if (d[i].hi < next)
			continue;
		if (d[i].lo > next)
			o->gaps[n++] = (struct zw_ival){next, d[i].lo - 1};
		if (d[i].hi == max)
			done = true;
		else
			next = d[i].hi + 1;
	}
	if (!done)
		o->gaps[n++] = (struct zw_ival){next, max};
	for (size_t i = 0; i < n; i++) {
		o->before[i] = sum;
		sum += o->gaps[i].hi - o->gaps[i].lo + 1; /* wraps only when
							   * nothing is declared,
							   * then unused */
	}
	o->n = n;
	o->ready = true;
	free(d);
	return true;
}

/* Position of @a (an outside address) once the declared addresses are
 * squeezed out: gaps laid end to end. */
static zw_u128 squeeze(const struct zw_outside *o, zw_u128 a)
{
	size_t lo = 0, hi = o->n;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (o->gaps[mid].lo <= a)
			lo = mid;
		else
			hi = mid;
	}
	return o->before[lo] + (a - o->gaps[lo].lo);
}

static bool zone_ivals(const struct zw_matrix *m, struct zw_boxes *bx,
		       uint32_t zone, const struct zw_prefix *narrow,
		       size_t n_narrow, int fi, uint8_t family,
		       struct zw_ivals *out)
{
	size_t n = 0, cap;
	struct zw_ival *v;
	struct zw_outside *o = &bx->outside[fi];

	out->v = NULL;
	out->n = 0;
	if (zone == ZW_ZONE_OUTSIDE && !outside_gaps(m, bx, fi, family))
		return false;
	if (n_narrow)
		cap = n_narrow;
	else if (zone != ZW_ZONE_OUTSIDE)
		cap = m->zones[zone].n_networks;
	else
		cap = o->n;
	v = malloc((cap + 1) * sizeof(*v));
	if (!v)
		return false;
	if (n_narrow) {
		for (size_t i = 0; i < n_narrow; i++)
			if (narrow[i].family == family)
				v[n++] = zw_prefix_ival(&narrow[i]);
	} else if (zone != ZW_ZONE_OUTSIDE) {
		const struct zw_zone *z = &m->zones[zone];

		for (size_t i = 0; i < z->n_networks; i++)
			if (z->networks[i].family == family)
				v[n++] = zw_prefix_ival(&z->networks[i]);
	} else if (!bx->squeeze_outside || o->n == 0 ||
		   (o->n == 1 && o->gaps[0].lo == 0 &&
		    o->gaps[0].hi == (family == ZW_AF_INET ? 0xffffffffu : ~(zw_u128)0))) {
		/* real addresses, or nothing declared: the gaps themselves */
		memcpy(v, o->gaps, o->n * sizeof(*v));
		n = o->n;
	} else {
		/* one interval: every outside address, squeezed */
		zw_u128 last = o->before[o->n - 1] + (o->gaps[o->n - 1].hi - o->gaps[o->n - 1].lo);

		v[n++] = (struct zw_ival){0, last};
	}
	if (zone == ZW_ZONE_OUTSIDE && n_narrow && bx->squeeze_outside && o->n) {
		/* A narrowing prefix of outside holds no declared address, so
		 * it lies in one gap and stays contiguous once squeezed. */
		for (size_t i = 0; i < n; i++) {
			zw_u128 span = v[i].hi - v[i].lo;

			v[i].lo = squeeze(o, v[i].lo);
			v[i].hi = v[i].lo + span;
		}
	}
	out->v = v;
	out->n = n;
	return true;
}

void zw_boxes__fini(struct zw_boxes *b)
{
	for (int i = 0; i < 2; i++) {
		free(b->outside[i].gaps);
		free(b->outside[i].before);
	}
	free(b->v);
	memset(b, 0, sizeof(*b));
}

static void push(struct zw_boxes *b, const struct zw_box *x)
{
	if (zw_grow((void **)&b->v, &b->cap, b->n + 1, sizeof(*b->v)) < 0) {
		b->oom = true;
		return;
	}
	b->v[b->n++] = *x;
}

size_t zw_entry__ranges(const struct zw_svc_entry *en,
			const struct zw_range **r, struct zw_range *all)
{
	if (zw_proto__has_ports(en->proto)) {
		*r = en->ports;
		return en->n_ports;
	}
	if (zw_proto__is_icmp(en->proto) && en->n_types) {
		*r = en->types;
		return en->n_types;
	}
	all->lo = 0;
	all->hi = zw_proto__is_icmp(en->proto) ? 255 : 0;
	*r = all;
	return 1;
}

bool zw_boxes__addrs(const struct zw_matrix *m, struct zw_boxes *bx,
		     uint32_t zone, const struct zw_prefix *narrow,
		     size_t n_narrow, int fi, struct zw_ival **out, size_t *n)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};
	struct zw_ivals v;
	size_t k = 0;

	if (!zone_ivals(m, bx, zone, narrow, n_narrow, fi, fams[fi], &v))
		return false;
	qsort(v.v, v.n, sizeof(*v.v), cmp_ival);
	for (size_t i = 0; i < v.n; i++) {
		/* overlapping or adjacent (hi + 1 == lo; hi is not the last
		 * address then, since lo > hi) */
		if (k && (v.v[i].lo <= v.v[k - 1].hi ||
			  v.v[i].lo - 1 == v.v[k - 1].hi)) {
			if (v.v[i].hi > v.v[k - 1].hi)
				v.v[k - 1].hi = v.v[i].hi;
		} else {
			v.v[k++] = v.v[i];
		}
	}
	*out = v.v;
	*n = k;
	return true;
}

bool zw_boxes__ivals(const struct zw_matrix *m, struct zw_boxes *bx,
		     uint32_t zone, const struct zw_prefix *narrow,
		     size_t n_narrow, int fi, struct zw_ival **out, size_t *n)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};
	struct zw_ivals v;

	if (!zone_ivals(m, bx, zone, narrow, n_narrow, fi, fams[fi], &v))
		return false;
	*out = v.v;
	*n = v.n;
	return true;
}

bool zw_flow__items(const struct zw_matrix *m, const struct zw_flow *f,
		    struct zw_svc_item **it, size_t *n, size_t *cap)
{
	for (size_t s = 0; s < f->n_services; s++) {
		const struct zw_service *svc = &m->services[f->services[s]];

		for (size_t e = 0; e < svc->n_entries; e++) {
			const struct zw_range *r;
			struct zw_range all;
			size_t nr = zw_entry__ranges(&svc->entries[e], &r, &all);

			for (size_t k = 0; k < nr; k++) {
				if (zw_grow((void **)it, cap, *n + 1,
					    sizeof(**it)) < 0)
					return false;
				(*it)[(*n)++] = (struct zw_svc_item){
					svc->entries[e].proto, f->services[s],
					{r[k].lo, r[k].hi}};
			}
		}
	}
	return true;
}

void zw_boxes__flow(const struct zw_matrix *m, uint32_t flow,
		    struct zw_boxes *out)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};
	const struct zw_flow *f = &m->flows[flow];

	for (int fi = 0; fi < 2; fi++) {
		struct zw_ivals src, dst;

		if (!zone_ivals(m, out, f->from, f->src, f->n_src, fi, fams[fi], &src)) {
			out->oom = true;
			return;
		}
		if (!zone_ivals(m, out, f->to, f->dst, f->n_dst, fi, fams[fi], &dst)) {
			free(src.v);
			out->oom = true;
			return;
		}
		for (size_t s = 0; s < f->n_services; s++) {
			const struct zw_service *svc = &m->services[f->services[s]];

			for (size_t e = 0; e < svc->n_entries; e++) {
				const struct zw_svc_entry *en = &svc->entries[e];
				const struct zw_range *r;
				struct zw_range all;
				size_t nr = zw_entry__ranges(en, &r, &all);

				for (size_t k = 0; k < nr; k++)
					for (size_t a = 0; a < src.n; a++)
						for (size_t b = 0; b < dst.n; b++) {
							struct zw_box x = {
								.family = fams[fi],
								.proto = en->proto,
								.flow = flow,
								.service = f->services[s],
								.d = {{r[k].lo, r[k].hi},
								      src.v[a],
								      dst.v[b]}};

							push(out, &x);
						}
			}
		}
		free(src.v);
		free(dst.v);
	}
}

bool zw_box__intersects(const struct zw_box *a, const struct zw_box *b)
{
	if (a->family != b->family || a->proto != b->proto)
		return false;
	for (int i = 0; i < 3; i++)
		if (a->d[i].hi < b->d[i].lo || b->d[i].hi < a->d[i].lo)
			return false;
	return true;
}

static int cmp_zw_u128(const void *a, const void *b)
{
	zw_u128 x = *(const zw_u128 *)a, y = *(const zw_u128 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Cut @cell along dimension @dim at the edges of the candidates (every one
 * intersects @cell) and recurse into each elementary segment with the
 * candidates that span it. Returns 1 if the union covers @cell, 0 if not
 * (with @out NULL it stops at the first uncovered cell; otherwise it
 * appends every uncovered cell to @out), -1 when memory ran out.
 */
static int walk(struct zw_box *cell, const struct zw_box *const *cands,
		size_t n, int dim, struct zw_boxes *out)
{
	if (!n) {
		if (out) {
			push(out, cell);
			if (out->oom)
				return -1;
		}
		return 0;
	}
	if (dim == 3)
		return 1;

	struct zw_ival whole = cell->d[dim];
	zw_u128 *cuts = malloc((2 * n + 1) * sizeof(*cuts));
	const struct zw_box **sub = malloc(n * sizeof(*sub));
	size_t nc = 0;
	int r = 1;

	if (!cuts || !sub) {
		free(cuts);
		free(sub);
		return -1;
	}
	cuts[nc++] = whole.lo;
	for (size_t i = 0; i < n; i++) {
		if (cands[i]->d[dim].lo > whole.lo)
			cuts[nc++] = cands[i]->d[dim].lo;
		if (cands[i]->d[dim].hi < whole.hi)
			cuts[nc++] = cands[i]->d[dim].hi + 1;
	}
	qsort(cuts, nc, sizeof(*cuts), cmp_zw_u128);
	for (size_t c = 0; c < nc; c++) {
		if (c && cuts[c] == cuts[c - 1])
			continue;
		zw_u128 a = cuts[c], z = whole.hi;

		for (size_t k = c + 1; k < nc; k++)
			if (cuts[k] != a) {
				z = cuts[k] - 1;
				break;
			}
		size_t ns = 0;

		for (size_t i = 0; i < n; i++)
			if (cands[i]->d[dim].lo <= a && cands[i]->d[dim].hi >= z)
				sub[ns++] = cands[i];
		cell->d[dim] = (struct zw_ival){a, z};
		int k = walk(cell, sub, ns, dim + 1, out);

		if (k < 0) {
			r = -1;
			break;
		}
		if (k == 0) {
			r = 0;
			if (!out)
				break;
		}
	}
	cell->d[dim] = whole;
	free(cuts);
	free(sub);
	return r;
}

int zw_box__covered(const struct zw_box *b, const struct zw_box *const *cands,
		    size_t n)
{
	struct zw_box cell = *b;

	return walk(&cell, cands, n, 0, NULL);
}

int zw_box__subtract(const struct zw_box *b, const struct zw_box *const *cands,
		     size_t n, struct zw_boxes *out)
{
	struct zw_box cell = *b;
	int r = walk(&cell, cands, n, 0, out);

	return r < 0 ? -ENOMEM : 0;
}
