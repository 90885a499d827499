/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ZW040, exact redundancy. A flow is redundant when every (source,
 * destination, protocol, port) it allows is allowed by other live flows.
 *
 * Zones partition the address space, so only flows of the same ordered
 * zone pair can cover each other. Each flow is a union of boxes
 * (family, protocol, port range, source interval, destination interval);
 * a box is covered by a union of boxes when, cutting each dimension at the
 * candidates' edges, every elementary cell lies in some candidate (checked
 * recursively, dimension by dimension). Work is proportional to the flows
 * of a pair squared, so near-linear overall when flows spread over pairs;
 * a matrix with all its flows in one pair is quadratic (documented in
 * docs/matrix-guide.md).
 *
 * Flows are examined from the last to the first and a flow found redundant
 * stops covering the ones examined after it: removing every flow reported
 * leaves the allowed traffic unchanged (two identical flows: the later one
 * is reported).
 */
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

typedef unsigned __int128 u128;

struct ival {
	u128 lo, hi;
};

struct box {
	uint8_t family;
	uint8_t proto;
	struct ival d[3]; /* port/type, source, destination */
};

struct boxes {
	struct box *v;
	size_t n, cap;
	bool oom;
};

static u128 addr_value(const uint8_t *addr, uint8_t family)
{
	u128 v = 0;
	int n = family == ZW_AF_INET ? 4 : 16;

	for (int i = 0; i < n; i++)
		v = (v << 8) | addr[i];
	return v;
}

static struct ival prefix_ival(const struct zw_prefix *p)
{
	int bits = p->family == ZW_AF_INET ? 32 : 128;
	u128 base = addr_value(p->addr, p->family);
	u128 span = p->len == 0 ? (bits == 128 ? ~(u128)0 : (((u128)1 << bits) - 1))
				: ((((u128)1) << (bits - p->len)) - 1);

	return (struct ival){base, base + span};
}

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Address intervals of one family for (zone, narrowing). */
struct ivals {
	struct ival *v;
	size_t n;
};

static bool zone_ivals(const struct zw_matrix *m, uint32_t zone,
		       const struct zw_prefix *narrow, size_t n_narrow,
		       uint8_t family, struct ivals *out)
{
	size_t cap = 0, n = 0;
	struct ival *v = NULL;

	out->v = NULL;
	out->n = 0;
	if (n_narrow) {
		v = malloc(n_narrow * sizeof(*v));
		if (!v)
			return false;
		for (size_t i = 0; i < n_narrow; i++)
			if (narrow[i].family == family)
				v[n++] = prefix_ival(&narrow[i]);
		out->v = v;
		out->n = n;
		return true;
	}
	if (zone != ZW_ZONE_OUTSIDE) {
		const struct zw_zone *z = &m->zones[zone];

		v = malloc((z->n_networks + 1) * sizeof(*v));
		if (!v)
			return false;
		for (size_t i = 0; i < z->n_networks; i++)
			if (z->networks[i].family == family)
				v[n++] = prefix_ival(&z->networks[i]);
		out->v = v;
		out->n = n;
		return true;
	}
	/* outside: the complement of every declared prefix of the family. */
	size_t total = 0;

	for (size_t z = 1; z < m->n_zones; z++)
		total += m->zones[z].n_networks;
	struct ival *d = malloc((total + 1) * sizeof(*d));

	if (!d)
		return false;
	size_t nd = 0;

	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t i = 0; i < m->zones[z].n_networks; i++)
			if (m->zones[z].networks[i].family == family)
				d[nd++] = prefix_ival(&m->zones[z].networks[i]);
	qsort(d, nd, sizeof(*d), cmp_ival);
	u128 max = family == ZW_AF_INET ? 0xffffffffu : ~(u128)0;
	u128 next = 0;
	bool done = false;

	cap = nd + 1;
	v = malloc(cap * sizeof(*v));
	if (!v) {
		free(d);
		return false;
	}
	for (size_t i = 0; i < nd && !done; i++) {
		if (d[i].hi < next)
			continue;
		if (d[i].lo > next)
			v[n++] = (struct ival){next, d[i].lo - 1};
		if (d[i].hi == max)
			done = true;
		else
			next = d[i].hi + 1;
	}
	if (!done)
		v[n++] = (struct ival){next, max};
	free(d);
	out->v = v;
	out->n = n;
	return true;
}

static void push(struct boxes *b, const struct box *x)
{
	if (zw_grow((void **)&b->v, &b->cap, b->n + 1, sizeof(*b->v)) < 0) {
		b->oom = true;
		return;
	}
	b->v[b->n++] = *x;
}

/* Append every box of flow @f to @out. */
static void flow_boxes(const struct zw_matrix *m, const struct zw_flow *f,
		       struct boxes *out)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};

	for (int fi = 0; fi < 2; fi++) {
		struct ivals src, dst;

		if (!zone_ivals(m, f->from, f->src, f->n_src, fams[fi], &src)) {
			out->oom = true;
			return;
		}
		if (!zone_ivals(m, f->to, f->dst, f->n_dst, fams[fi], &dst)) {
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
				size_t nr;

				if (zw_proto__has_ports(en->proto)) {
					r = en->ports;
					nr = en->n_ports;
				} else if (zw_proto__is_icmp(en->proto) && en->n_types) {
					r = en->types;
					nr = en->n_types;
				} else {
					all.lo = 0;
					all.hi = zw_proto__is_icmp(en->proto) ? 255 : 0;
					r = &all;
					nr = 1;
				}
				for (size_t k = 0; k < nr; k++)
					for (size_t a = 0; a < src.n; a++)
						for (size_t b = 0; b < dst.n; b++) {
							struct box x = {
								.family = fams[fi],
								.proto = en->proto,
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

static bool intersects(const struct box *a, const struct box *b)
{
	if (a->family != b->family || a->proto != b->proto)
		return false;
	for (int i = 0; i < 3; i++)
		if (a->d[i].hi < b->d[i].lo || b->d[i].hi < a->d[i].lo)
			return false;
	return true;
}

static int cmp_u128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Is @b (restricted to dimensions >= dim) covered by the union of
 * cands[0..n)? Every candidate intersects @b. Returns 1, 0, or -1 when
 * memory ran out (the caller then reports nothing: better no warning than
 * a false one).
 */
static int covered(const struct box *b, const struct box *const *cands,
		   size_t n, int dim)
{
	if (!n)
		return 0;
	if (dim == 3)
		return 1;

	u128 lo = b->d[dim].lo, hi = b->d[dim].hi;
	u128 *cuts = malloc((2 * n + 1) * sizeof(*cuts));
	const struct box **sub = malloc(n * sizeof(*sub));
	size_t nc = 0;
	int r = 1;

	if (!cuts || !sub) {
		free(cuts);
		free(sub);
		return -1;
	}
	cuts[nc++] = lo;
	for (size_t i = 0; i < n; i++) {
		if (cands[i]->d[dim].lo > lo)
			cuts[nc++] = cands[i]->d[dim].lo;
		if (cands[i]->d[dim].hi < hi)
			cuts[nc++] = cands[i]->d[dim].hi + 1;
	}
	qsort(cuts, nc, sizeof(*cuts), cmp_u128);
	for (size_t c = 0; c < nc && r == 1; c++) {
		if (c && cuts[c] == cuts[c - 1])
			continue;
		u128 a = cuts[c];
		u128 z = hi;

		for (size_t k = c + 1; k < nc; k++)
			if (cuts[k] != a) {
				z = cuts[k] - 1;
				break;
			}
		size_t ns = 0;

		for (size_t i = 0; i < n; i++)
			if (cands[i]->d[dim].lo <= a && cands[i]->d[dim].hi >= z)
				sub[ns++] = cands[i];
		r = covered(b, sub, ns, dim + 1);
	}
	free(cuts);
	free(sub);
	return r;
}

static const struct zw_matrix *sort_m;

static int cmp_pair(const void *a, const void *b)
{
	const struct zw_flow *x = &sort_m->flows[*(const size_t *)a];
	const struct zw_flow *y = &sort_m->flows[*(const size_t *)b];

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void report(const struct zw_matrix *m, const struct zw_flow *f,
		   const size_t *cover, size_t n_cover, struct zw_diags *d)
{
	char list[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < n_cover && i < 5; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? ", " : "", m->flows[cover[i]].id);
	if (n_cover > 5 && len < sizeof(list))
		snprintf(list + len, sizeof(list) - len, " and %zu more",
			 n_cover - 5);
	zw_diags__add(d, ZW_WARNING, 40, f->loc,
		      "flow %s is redundant: everything it allows is also allowed by %s",
		      f->id, list);
}

static void check_group(const struct zw_matrix *m, const size_t *grp,
			size_t n, int32_t today, bool *removed,
			struct boxes *all, size_t *start, struct zw_diags *d)
{
	size_t *cover = malloc((n + 1) * sizeof(*cover));
	const struct box **cands = NULL;
	size_t cap = 0;

	if (!cover)
		return;
	/* Box lists of every flow of the group, built once. */
	all->n = 0;
	for (size_t i = 0; i < n; i++) {
		start[i] = all->n;
		flow_boxes(m, &m->flows[grp[i]], all);
	}
	start[n] = all->n;
	if (all->oom)
		goto out;

	for (size_t ii = n; ii-- > 0;) {
		const struct zw_flow *f = &m->flows[grp[ii]];
		size_t n_cover = 0;
		bool redundant = true;

		if (!zw_flow__live(f, today) || start[ii] == start[ii + 1])
			continue; /* expired (ZW041) or allows nothing */
		for (size_t b = start[ii]; b < start[ii + 1] && redundant; b++) {
			size_t nc = 0;

			for (size_t j = 0; j < n; j++) {
				const struct zw_flow *g = &m->flows[grp[j]];
				bool used = false;

				if (j == ii || removed[grp[j]] || !zw_flow__live(g, today))
					continue;
				for (size_t c = start[j]; c < start[j + 1]; c++) {
					if (!intersects(&all->v[b], &all->v[c]))
						continue;
					if (zw_grow((void **)&cands, &cap, nc + 1,
						    sizeof(*cands)) < 0)
						goto out;
					cands[nc++] = &all->v[c];
					used = true;
				}
				if (used) {
					bool seen = false;

					for (size_t k = 0; k < n_cover; k++)
						seen |= cover[k] == grp[j];
					if (!seen)
						cover[n_cover++] = grp[j];
				}
			}
			int r = covered(&all->v[b], cands, nc, 0);

			if (r < 0)
				goto out;
			redundant = r == 1;
		}
		if (redundant) {
			/* Report covering flows in matrix order. */
			for (size_t a = 1; a < n_cover; a++)
				for (size_t k = a; k > 0 && cover[k - 1] > cover[k]; k--) {
					size_t t = cover[k];

					cover[k] = cover[k - 1];
					cover[k - 1] = t;
				}
			removed[grp[ii]] = true;
			report(m, f, cover, n_cover, d);
		}
	}
out:
	free(cands);
	free(cover);
}

void zw_redundancy__check(const struct zw_matrix *m, int32_t today,
			  struct zw_diags *d)
{
	size_t *idx = malloc((m->n_flows + 1) * sizeof(*idx));
	size_t *start = malloc((m->n_flows + 2) * sizeof(*start));
	bool *removed = calloc(m->n_flows + 1, sizeof(*removed));
	struct boxes all = {0};
	size_t n = 0;

	if (!idx || !start || !removed)
		goto out;
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		if (f->from >= m->n_zones || f->to >= m->n_zones || !f->id)
			continue;
		/* Inside one declared non-isolated zone everything is allowed
		 * without a flow. */
		if (f->from == f->to && f->from != ZW_ZONE_OUTSIDE &&
		    !m->zones[f->from].isolate && zw_flow__live(f, today)) {
			zw_diags__add(d, ZW_WARNING, 40, f->loc,
				      "flow %s is redundant: zone '%s' is not isolated, so traffic inside it is allowed without a flow",
				      f->id, m->zones[f->from].name);
			removed[i] = true;
			continue;
		}
		idx[n++] = i;
	}
	sort_m = m;
	qsort(idx, n, sizeof(*idx), cmp_pair);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && m->flows[idx[j]].from == m->flows[idx[i]].from &&
		       m->flows[idx[j]].to == m->flows[idx[i]].to)
			j++;
		if (j - i > 1)
			check_group(m, idx + i, j - i, today, removed, &all,
				    start, d);
		i = j;
	}
out:
	free(all.v);
	free(idx);
	free(start);
	free(removed);
}
