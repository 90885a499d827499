/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The effective difference in allowed traffic between two matrices, for
 * zonectl diff (matrix.h, "traffic").
 *
 * A matrix X allows, on a day, the union of the boxes of its live flows
 * (boxes.c) and, for each declared non-isolated zone, every protocol between
 * two of its members (a "same-zone rectangle": addresses only). What X
 * allows and Y does not is computed box by box, in the order X's evaluator
 * would name them: each flow box of X minus every box of Y (flows and
 * same-zone rectangles, the latter stamped with the box's protocol) and
 * minus the boxes of X that come before it (so every piece is attributed to
 * the first flow and service matching it, as the evaluator does); then each
 * same-zone rectangle of X minus Y's rectangles, the flows of both matrices
 * that meet what remains being listed as exceptions (they allow that part by
 * a flow, so it is either unchanged or reported under the flow).
 *
 * Flow boxes meeting a box are found through an index: the zones (of the
 * indexed matrix) that the box's addresses belong to give the zone pairs
 * to look at; within a (zone pair, family, protocol), boxes are sorted by
 * port and read as an implicit balanced tree whose nodes carry the largest
 * port below them (an interval tree). The work is thus proportional to the
 * boxes of the same zone pairs whose ports overlap, not to the matrix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

#define SAME ZW_TRAFFIC_SAME_ZONE


static const zw_u128 U128_MAX = ~(zw_u128)0;

/* A declared network as an address interval, for finding zones. */
struct zspan {
	struct zw_ival iv;
	uint32_t zone;
};

/* One matrix: its live flow boxes, its same-zone rectangles, the index. */
struct side {
	const struct zw_matrix *m;
	struct zw_boxes flows; /* flow order, then family, service, entry */
	struct zw_boxes same;  /* proto 0, d[0] = [0,0], flow SAME,
				* service = zone index; zone by zone */
	size_t *same_at;       /* [zone, zone + 1): its rectangles in same */
	uint64_t *pair;	       /* per flow box: from * n_zones + to */
	uint32_t *gap;	       /* per flow box: gap of its outside end, or 0 */
	size_t *order;	       /* flows.v sorted by struct key */
	zw_u128 *maxhi;	       /* largest port (d[0].hi) in the implicit
				* subtree of order[k] within its run (a key
				* but for the port) */
	struct zspan *spans[2]; /* declared networks per family, sorted */
	size_t n_spans[2];
};

/* Zones (of one side) that an address interval meets. */
struct zset {
	uint32_t v[64];
	size_t n;
	bool many; /* more than fit: treat as "every zone" */
};

/* A change being built. */
struct chg {
	uint32_t from, to, flow, service;
	size_t pos;		 /* service position in the flow, for sorting */
	struct zw_boxes pieces;	 /* the traffic */
	struct zw_boxes scope;	 /* all the flow's service (zone) allows */
	struct zw_boxes exc;	 /* same zone: flow boxes of this matrix */
	struct zw_boxes exc_oth; /* same zone: flow boxes of the other one */
	bool whole;
};

struct chgs {
	struct chg *v;
	size_t n, cap;
};

/* Candidate pointers for zw_box__subtract/covered. */
struct cands {
	const struct zw_box **v;
	size_t n, cap;
};

static int cands_push(struct cands *c, const struct zw_box *b)
{
	if (zw_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
		return -ENOMEM;
	c->v[c->n++] = b;
	return 0;
}

static int box_push(struct zw_boxes *b, const struct zw_box *x)
{
	if (zw_grow((void **)&b->v, &b->cap, b->n + 1, sizeof(*b->v)) < 0) {
		b->oom = true;
		return -ENOMEM;
	}
	b->v[b->n++] = *x;
	return 0;
}

/* ---- building a side ---- */

/* Where a flow box sorts in the index. Boxes of a zone pair with the
 * outside zone at one end are further split by the gap (between declared
 * networks) their outside addresses lie in: the outside zone is many
 * intervals and its flows' boxes, one per gap, would otherwise all meet
 * in the port tree. */
struct key {
	uint64_t pair; /* from * n_zones + to */
	uint8_t family, proto;
	uint32_t gap;  /* outside pairs: gap index; else 0 */
	zw_u128 port;  /* d[0].lo: the interval tree is on ports */
};

/* Which end of a zone pair is outside: 1 (source), 2 (destination) or 0. */
static int outside_dim(const struct side *s, uint64_t pair)
{
	if (pair / s->m->n_zones == ZW_ZONE_OUTSIDE)
		return 1;
	if (pair % s->m->n_zones == ZW_ZONE_OUTSIDE)
		return 2;
	return 0;
}

/* Index of the gap holding outside address @a: the number of declared
 * networks of the family that start at or before it. */
static uint32_t gap_of(const struct side *s, uint8_t family, zw_u128 a)
{
	int fi = family == ZW_AF_INET6;
	size_t lo = 0, hi = s->n_spans[fi];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->spans[fi][mid].iv.lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static struct key key_of(const struct side *s, size_t i)
{
	const struct zw_box *b = &s->flows.v[i];

	return (struct key){s->pair[i], b->family, b->proto, s->gap[i], b->d[0].lo};
}

static int key_cmp(const struct key *a, const struct key *b)
{
	if (a->pair != b->pair)
		return a->pair < b->pair ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->gap != b->gap)
		return a->gap < b->gap ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

static int cmp_order(const void *a, const void *b, void *arg)
{
	const struct side *s = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	struct key kx = key_of(s, x), ky = key_of(s, y);
	int c = key_cmp(&kx, &ky);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/* Do order[i] and order[j] belong to one run (one tree)? */
static bool same_run(const struct side *s, size_t i, size_t j)
{
	struct key a = key_of(s, s->order[i]), b = key_of(s, s->order[j]);

	a.port = b.port = 0;
	return key_cmp(&a, &b) == 0;
}

/* Subtree of order[l, r) rooted at its middle: store and return the
 * largest port end in it. */
static zw_u128 tree_build(struct side *s, size_t l, size_t r)
{
	size_t m = l + (r - l) / 2;
	zw_u128 mx = s->flows.v[s->order[m]].d[0].hi, x;

	if (l < m) {
		x = tree_build(s, l, m);
		mx = x > mx ? x : mx;
	}
	if (m + 1 < r) {
		x = tree_build(s, m + 1, r);
		mx = x > mx ? x : mx;
	}
	s->maxhi[m] = mx;
	return mx;
}

static int cmp_span(const void *a, const void *b)
{
	const struct zspan *x = a, *y = b;

	return x->iv.lo < y->iv.lo ? -1 : x->iv.lo > y->iv.lo;
}

static int side_build(struct side *s, const struct zw_matrix *m, int32_t day)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};

	memset(s, 0, sizeof(*s));
	s->m = m;
	for (size_t f = 0; f < m->n_flows; f++)
		if (zw_flow__live(&m->flows[f], day))
			zw_boxes__flow(m, (uint32_t)f, &s->flows);
	if (s->flows.oom)
		return -ENOMEM;

	s->same_at = calloc(m->n_zones + 1, sizeof(*s->same_at));
	if (!s->same_at)
		return -ENOMEM;
	for (size_t z = 0; z < m->n_zones; z++) {
		const struct zw_zone *zone = &m->zones[z];

		s->same_at[z] = s->same.n;
		if (z == ZW_ZONE_OUTSIDE || zone->isolate)
			continue;
		for (int fi = 0; fi < 2; fi++)
			for (size_t a = 0; a < zone->n_networks; a++) {
				if (zone->networks[a].family != fams[fi])
					continue;
				for (size_t b = 0; b < zone->n_networks; b++) {
					if (zone->networks[b].family != fams[fi])
						continue;
					struct zw_box x = {
						.family = fams[fi],
						.proto = 0,
						.flow = SAME,
						.service = (uint32_t)z,
						.d = {{0, 0},
						      zw_prefix_ival(&zone->networks[a]),
						      zw_prefix_ival(&zone->networks[b])}};

					if (box_push(&s->same, &x))
						return -ENOMEM;
				}
			}
	}
	s->same_at[m->n_zones] = s->same.n;

	for (int fi = 0; fi < 2; fi++) {
		size_t total = 0, n = 0;

		for (size_t z = 1; z < m->n_zones; z++)
			total += m->zones[z].n_networks;
		s->spans[fi] = malloc((total + 1) * sizeof(*s->spans[fi]));
		if (!s->spans[fi])
			return -ENOMEM;
		for (size_t z = 1; z < m->n_zones; z++)
			for (size_t i = 0; i < m->zones[z].n_networks; i++)
				if (m->zones[z].networks[i].family == fams[fi])
					s->spans[fi][n++] = (struct zspan){
						zw_prefix_ival(&m->zones[z].networks[i]), (uint32_t)z};
		if (n > 1)
			qsort(s->spans[fi], n, sizeof(*s->spans[fi]), cmp_span);
		s->n_spans[fi] = n;
	}

	size_t n = s->flows.n;

	s->pair = malloc((n + 1) * sizeof(*s->pair));
	s->gap = malloc((n + 1) * sizeof(*s->gap));
	s->order = malloc((n + 1) * sizeof(*s->order));
	s->maxhi = malloc((n + 1) * sizeof(*s->maxhi));
	if (!s->pair || !s->gap || !s->order || !s->maxhi)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct zw_box *b = &s->flows.v[i];
		const struct zw_flow *f = &m->flows[b->flow];
		int dim;

		s->pair[i] = (uint64_t)f->from * m->n_zones + f->to;
		dim = outside_dim(s, s->pair[i]);
		s->gap[i] = dim ? gap_of(s, b->family, b->d[dim].lo) : 0;
		s->order[i] = i;
	}
	if (n > 1)
		qsort_r(s->order, n, sizeof(*s->order), cmp_order, s);
	for (size_t k = 0; k < n;) {
		size_t e = k + 1;

		while (e < n && same_run(s, k, e))
			e++;
		tree_build(s, k, e);
		k = e;
	}
	return 0;
}

static void side_fini(struct side *s)
{
	zw_boxes__fini(&s->flows);
	zw_boxes__fini(&s->same);
	free(s->same_at);
	free(s->pair);
	free(s->gap);
	free(s->order);
	free(s->maxhi);
	free(s->spans[0]);
	free(s->spans[1]);
}

static void zset_add(struct zset *z, uint32_t zone)
{
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i] == zone)
			return;
	if (z->n == sizeof(z->v) / sizeof(z->v[0]))
		z->many = true;
	else
		z->v[z->n++] = zone;
}

/* The zones of @s that addresses [iv.lo, iv.hi] of @family belong to:
 * declared zones whose networks meet it, and outside if part of it lies
 * in no declared network. */
static void zones_of(const struct side *s, uint8_t family, struct zw_ival iv,
		     struct zset *out)
{
	int fi = family == ZW_AF_INET6;
	const struct zspan *v = s->spans[fi];
	size_t lo = 0, hi = s->n_spans[fi];
	zw_u128 next = iv.lo; /* first address not yet accounted for */
	bool gap = false;

	out->n = 0;
	out->many = false;
	/* First span ending at or after iv.lo (spans are disjoint). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].iv.hi < iv.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < s->n_spans[fi] && v[i].iv.lo <= iv.hi; i++) {
		if (v[i].iv.lo > next)
			gap = true;
		zset_add(out, v[i].zone);
		if (v[i].iv.hi >= iv.hi) {
			next = iv.hi;
			goto covered;
		}
		next = v[i].iv.hi + 1;
	}
	gap = true; /* the end of the interval lies in no declared network */
covered:
	if (gap)
		zset_add(out, ZW_ZONE_OUTSIDE);
}

static int tree_query(const struct side *s, size_t l, size_t r,
		      const struct zw_box *q, size_t below, struct cands *c)
{
	while (l < r) {
		size_t m = l + (r - l) / 2;
		const struct zw_box *b = &s->flows.v[s->order[m]];

		if (s->maxhi[m] < q->d[0].lo)
			return 0; /* nothing below reaches q's ports */
		if (tree_query(s, l, m, q, below, c))
			return -ENOMEM;
		if (b->d[0].lo > q->d[0].hi)
			return 0; /* the right subtree starts even later */
		if (s->order[m] < below && zw_box__intersects(b, q) &&
		    cands_push(c, b))
			return -ENOMEM;
		l = m + 1;
	}
	return 0;
}

/* First position of order whose key is above @k. */
static size_t side_bound(const struct side *s, const struct key *k)
{
	size_t a = 0, b = s->flows.n;

	while (a < b) {
		size_t mid = a + (b - a) / 2;
		struct key x = key_of(s, s->order[mid]);

		if (key_cmp(&x, k) <= 0)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* [*l, *r): the positions of order with keys from @lo to @hi inclusive
 * (ports ignored). */
static void side_range(const struct side *s, struct key lo, struct key hi,
		       size_t *l, size_t *r)
{
	/* Just below @lo: the largest key smaller than any with @lo's
	 * (pair, family, proto, gap). */
	if (lo.gap) {
		lo.gap--;
	} else if (lo.proto) {
		lo.proto--;
		lo.gap = UINT32_MAX;
	} else {
		lo.family--;
		lo.proto = 255;
		lo.gap = UINT32_MAX;
	}
	lo.port = U128_MAX;
	hi.port = U128_MAX;
	*l = side_bound(s, &lo);
	*r = side_bound(s, &hi);
}

/* Append to @c the flow boxes of @s with index below @below that meet @q:
 * only boxes of the zone pairs of @s that @q's addresses belong to, of the
 * gaps of the outside zone they meet, whose ports meet @q's. */
static int side_meet(const struct side *s, const struct zw_box *q,
		     size_t below, struct cands *c)
{
	struct zset zs, zd;

	zones_of(s, q->family, q->d[1], &zs);
	zones_of(s, q->family, q->d[2], &zd);
	if (zs.many || zd.many) {
		/* A box spanning very many zones (rare: wide outside
		 * narrowing): every box. */
		for (size_t k = 0; k < s->flows.n && k < below; k++) {
			const struct zw_box *b = &s->flows.v[k];

			if (zw_box__intersects(b, q) && cands_push(c, b))
				return -ENOMEM;
		}
		return 0;
	}
	for (size_t i = 0; i < zs.n; i++)
		for (size_t j = 0; j < zd.n; j++) {
			struct key lo = {(uint64_t)zs.v[i] * s->m->n_zones + zd.v[j],
					 q->family, q->proto, 0, 0};
			struct key hi = lo;
			int dim = outside_dim(s, lo.pair);
			size_t l, r;

			if (dim) {
				lo.gap = gap_of(s, q->family, q->d[dim].lo);
				hi.gap = gap_of(s, q->family, q->d[dim].hi);
			}
			/* One tree per gap. */
			for (uint32_t g = lo.gap; g <= hi.gap; g++) {
				struct key k = lo;

				k.gap = g;
				side_range(s, k, k, &l, &r);
				if (tree_query(s, l, r, q, below, c))
					return -ENOMEM;
			}
		}
	return 0;
}

/* Does @a meet @b in both address dimensions (any protocol)? */
static bool addr_meet(const struct zw_box *a, const struct zw_box *b)
{
	if (a->family != b->family)
		return false;
	for (int i = 1; i < 3; i++)
		if (a->d[i].hi < b->d[i].lo || b->d[i].hi < a->d[i].lo)
			return false;
	return true;
}

static struct zw_box clip(const struct zw_box *b, const struct zw_box *to)
{
	struct zw_box x = *b;

	for (int i = 1; i < 3; i++) {
		if (to->d[i].lo > x.d[i].lo)
			x.d[i].lo = to->d[i].lo;
		if (to->d[i].hi < x.d[i].hi)
			x.d[i].hi = to->d[i].hi;
	}
	return x;
}

/* Append to @out every flow box of @s meeting @q's addresses, whatever its
 * protocol, clipped to them. */
static int side_meet_addr(const struct side *s, const struct zw_box *q,
			  struct zw_boxes *out)
{
	struct zset zs, zd;

	zones_of(s, q->family, q->d[1], &zs);
	zones_of(s, q->family, q->d[2], &zd);
	for (size_t i = 0; i < (zs.many ? 1 : zs.n); i++)
		for (size_t j = 0; j < (zd.many ? 1 : zd.n); j++) {
			uint64_t pair = (uint64_t)zs.v[i] * s->m->n_zones + zd.v[j];
			size_t l = 0, r = s->flows.n;

			if (!zs.many && !zd.many) {
				struct key lo = {pair, q->family, 0, 0, 0};
				struct key hi = {pair, q->family, 255, UINT32_MAX, 0};

				side_range(s, lo, hi, &l, &r);
			}
			for (size_t k = l; k < r; k++) {
				const struct zw_box *b = &s->flows.v[s->order[k]];
				struct zw_box e;

				if (!addr_meet(b, q))
					continue;
				e = clip(b, q);
				if (box_push(out, &e))
					return -ENOMEM;
			}
		}
	return 0;
}

/* Append to @out the boxes of @s's same-zone rectangles meeting @q's
 * addresses, stamped with @q's protocol and port range. */
static int same_meet(const struct side *s, const struct zw_box *q,
		     struct zw_boxes *out)
{
	struct zset zs, zd;

	zones_of(s, q->family, q->d[1], &zs);
	zones_of(s, q->family, q->d[2], &zd);
	for (size_t z = 0; z < s->m->n_zones; z++) {
		bool in_s = zs.many, in_d = zd.many;

		for (size_t i = 0; i < zs.n; i++)
			in_s |= zs.v[i] == z;
		for (size_t i = 0; i < zd.n; i++)
			in_d |= zd.v[i] == z;
		if (!in_s || !in_d)
			continue;
		for (size_t k = s->same_at[z]; k < s->same_at[z + 1]; k++) {
			const struct zw_box *r = &s->same.v[k];

			if (r->family != q->family || r->d[1].hi < q->d[1].lo ||
			    q->d[1].hi < r->d[1].lo || r->d[2].hi < q->d[2].lo ||
			    q->d[2].hi < r->d[2].lo)
				continue;
			struct zw_box x = *r;

			x.proto = q->proto;
			x.d[0] = q->d[0];
			if (box_push(out, &x))
				return -ENOMEM;
		}
	}
	return 0;
}

/* ---- merging pieces ---- */

static int merge_dim;

static int cmp_merge(const void *a, const void *b)
{
	const struct zw_box *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (i == merge_dim)
			continue;
		if (x->d[i].lo != y->d[i].lo)
			return x->d[i].lo < y->d[i].lo ? -1 : 1;
		if (x->d[i].hi != y->d[i].hi)
			return x->d[i].hi < y->d[i].hi ? -1 : 1;
	}
	if (x->d[merge_dim].lo != y->d[merge_dim].lo)
		return x->d[merge_dim].lo < y->d[merge_dim].lo ? -1 : 1;
	return 0;
}

/* Sort with @dim last and fuse neighbours equal elsewhere and adjacent (or
 * overlapping) along @dim. Returns how many boxes were fused away. */
static size_t merge_along(struct zw_boxes *b, int dim)
{
	size_t w = 0;

	if (b->n < 2)
		return 0;
	merge_dim = dim;
	qsort(b->v, b->n, sizeof(*b->v), cmp_merge);
	for (size_t r = 1; r < b->n; r++) {
		struct zw_box *p = &b->v[w], *x = &b->v[r];
		bool same = p->family == x->family && p->proto == x->proto &&
			    p->flow == x->flow && p->service == x->service;

		for (int i = 0; same && i < 3; i++)
			if (i != dim && (p->d[i].lo != x->d[i].lo ||
					 p->d[i].hi != x->d[i].hi))
				same = false;
		if (same && (p->d[dim].hi == U128_MAX ||
			     p->d[dim].hi + 1 >= x->d[dim].lo)) {
			if (x->d[dim].hi > p->d[dim].hi)
				p->d[dim].hi = x->d[dim].hi;
			continue;
		}
		b->v[++w] = *x;
	}
	size_t gone = b->n - (w + 1);

	b->n = w + 1;
	return gone;
}

static void merge(struct zw_boxes *b)
{
	size_t gone;

	do {
		gone = 0;
		for (int dim = 0; dim < 3; dim++)
			gone += merge_along(b, dim);
	} while (gone);
	/* Final order: family, proto, port, source, destination. */
	merge_dim = 2;
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), cmp_merge);
}

/* ---- one direction ---- */

static struct chg *chg_add(struct chgs *c, uint32_t from, uint32_t to,
			   uint32_t flow, uint32_t service, size_t pos)
{
	struct chg *x;

	if (zw_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
		return NULL;
	x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	x->from = from;
	x->to = to;
	x->flow = flow;
	x->service = service;
	x->pos = pos;
	return x;
}

static void chg_fini(struct chg *x)
{
	free(x->pieces.v);
	free(x->scope.v);
	free(x->exc.v);
	free(x->exc_oth.v);
}

static size_t service_pos(const struct zw_flow *f, uint32_t service)
{
	for (size_t i = 0; i < f->n_services; i++)
		if (f->services[i] == service)
			return i;
	return f->n_services;
}

/* Is every box of @scope covered by @pieces? 1, 0, or -1 (memory). */
static int covers(const struct zw_boxes *pieces, const struct zw_boxes *scope,
		  bool any_proto)
{
	struct cands c = {0};
	int r = 1;

	for (size_t s = 0; s < scope->n && r == 1; s++) {
		c.n = 0;
		for (size_t p = 0; p < pieces->n; p++) {
			bool meet = any_proto ? addr_meet(&pieces->v[p], &scope->v[s])
					      : zw_box__intersects(&pieces->v[p], &scope->v[s]);

			if (meet && cands_push(&c, &pieces->v[p])) {
				r = -1;
				break;
			}
		}
		if (r == 1)
			r = zw_box__covered(&scope->v[s], c.v, c.n);
	}
	free(c.v);
	return r;
}

/* What @x allows and @y does not, appended to @out as changes of @x. */
static int gained(const struct side *x, const struct side *y, struct chgs *out)
{
	struct cands c = {0};
	struct zw_boxes stamped = {0};
	size_t first = out->n; /* first change of the current flow */
	uint32_t cur_flow = SAME;
	int r = -ENOMEM;

	for (size_t i = 0; i < x->flows.n; i++) {
		const struct zw_box *b = &x->flows.v[i];
		const struct zw_flow *f = &x->m->flows[b->flow];
		struct chg *ch = NULL;

		if (b->flow != cur_flow) {
			cur_flow = b->flow;
			first = out->n;
		}
		for (size_t k = first; k < out->n; k++)
			if (out->v[k].service == b->service)
				ch = &out->v[k];
		if (!ch) {
			ch = chg_add(out, f->from, f->to, b->flow, b->service,
				     service_pos(f, b->service));
			if (!ch)
				goto out;
		}
		if (box_push(&ch->scope, b))
			goto out;

		/* Everything that allows part of @b before it does. */
		c.n = 0;
		stamped.n = 0;
		if (same_meet(y, b, &stamped))
			goto out;
		for (size_t k = 0; k < stamped.n; k++)
			if (cands_push(&c, &stamped.v[k]))
				goto out;
		if (side_meet(y, b, SIZE_MAX, &c) || side_meet(x, b, i, &c))
			goto out;
		if (zw_box__subtract(b, c.v, c.n, &ch->pieces) || ch->pieces.oom)
			goto out;
	}

	/* The same-zone allowance of @x. */
	first = out->n;
	for (size_t i = 0; i < x->same.n; i++) {
		const struct zw_box *b = &x->same.v[i];
		struct chg *ch = NULL;

		for (size_t k = first; k < out->n; k++)
			if (out->v[k].from == b->service)
				ch = &out->v[k];
		if (!ch) {
			ch = chg_add(out, b->service, b->service, SAME, SAME, 0);
			if (!ch)
				goto out;
		}
		if (box_push(&ch->scope, b))
			goto out;
		c.n = 0;
		for (size_t k = 0; k < y->same.n; k++)
			if (zw_box__intersects(&y->same.v[k], b) &&
			    cands_push(&c, &y->same.v[k]))
				goto out;
		if (zw_box__subtract(b, c.v, c.n, &ch->pieces) || ch->pieces.oom)
			goto out;
	}
	for (size_t k = first; k < out->n; k++) {
		struct chg *ch = &out->v[k];

		merge(&ch->pieces);
		for (size_t p = 0; p < ch->pieces.n; p++) {
			const struct zw_box *pc = &ch->pieces.v[p];

			if (side_meet_addr(x, pc, &ch->exc) ||
			    side_meet_addr(y, pc, &ch->exc_oth))
				goto out;
		}
		merge(&ch->exc);
		merge(&ch->exc_oth);
	}

	/* Merge and decide "whole"; then drop what is empty. */
	for (size_t k = 0; k < out->n; k++) {
		struct chg *ch = &out->v[k];
		int cov;

		if (!ch->pieces.n)
			continue;
		merge(&ch->pieces);
		cov = covers(&ch->pieces, &ch->scope, ch->flow == SAME);
		if (cov < 0)
			goto out;
		ch->whole = cov == 1;
	}
	size_t w = 0;

	for (size_t k = 0; k < out->n; k++) {
		if (out->v[k].pieces.n)
			out->v[w++] = out->v[k];
		else
			chg_fini(&out->v[k]);
	}
	out->n = w;
	r = 0;
out:
	free(c.v);
	free(stamped.v);
	return r;
}

/* ---- the public result ---- */

static void u128_bytes(zw_u128 v, uint8_t family, uint8_t out[16])
{
	int n = family == ZW_AF_INET ? 4 : 16;

	memset(out, 0, 16);
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void to_public(const struct zw_box *b, bool any_proto,
		      struct zw_traffic_box *o)
{
	memset(o, 0, sizeof(*o));
	o->family = b->family;
	o->any_proto = any_proto;
	if (!any_proto) {
		o->proto = b->proto;
		o->lo = (uint16_t)b->d[0].lo;
		o->hi = (uint16_t)b->d[0].hi;
	}
	u128_bytes(b->d[1].lo, b->family, o->src_lo);
	u128_bytes(b->d[1].hi, b->family, o->src_hi);
	u128_bytes(b->d[2].lo, b->family, o->dst_lo);
	u128_bytes(b->d[2].hi, b->family, o->dst_hi);
}

static struct zw_traffic_box *boxes_public(const struct zw_boxes *b,
					   bool any_proto)
{
	struct zw_traffic_box *v = calloc(b->n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < b->n; i++)
		to_public(&b->v[i], any_proto, &v[i]);
	return v;
}

static int cmp_chg(const void *a, const void *b)
{
	const struct chg *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	if (x->flow != y->flow)
		return x->flow < y->flow ? -1 : 1; /* SAME is UINT32_MAX: last */
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return 0;
}

static void change_free(struct zw_traffic_change *c)
{
	free(c->boxes);
	free(c->scope);
	free(c->excepts);
}

/* Sort @in ((from, to, flow, service position) is unique) and copy it out. */
static int publish(struct chgs *in, struct zw_traffic_change **out,
		   size_t *n_out)
{
	struct zw_traffic_change *v = calloc(in->n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (in->n > 1)
		qsort(in->v, in->n, sizeof(*in->v), cmp_chg);
	for (size_t i = 0; i < in->n; i++) {
		const struct chg *c = &in->v[i];
		struct zw_traffic_change *o = &v[i];
		bool same = c->flow == SAME;

		o->from = c->from;
		o->to = c->to;
		o->flow = c->flow;
		o->service = c->service;
		o->whole = c->whole;
		o->boxes = boxes_public(&c->pieces, same);
		o->n_boxes = c->pieces.n;
		o->scope = boxes_public(&c->scope, same);
		o->n_scope = c->scope.n;
		if (!o->boxes || !o->scope)
			goto err;
		if (!same)
			continue;
		size_t n = c->exc.n + c->exc_oth.n;

		o->excepts = calloc(n + 1, sizeof(*o->excepts));
		if (!o->excepts)
			goto err;
		for (size_t k = 0; k < n; k++) {
			bool oth = k >= c->exc.n;
			const struct zw_box *b = oth ? &c->exc_oth.v[k - c->exc.n]
						     : &c->exc.v[k];
			struct zw_traffic_except *e = &o->excepts[k];

			e->other = oth;
			e->flow = b->flow;
			e->service = b->service;
			to_public(b, false, &e->box);
		}
		o->n_excepts = n;
	}
	*out = v;
	*n_out = in->n;
	return 0;
err:
	for (size_t i = 0; i < in->n; i++)
		change_free(&v[i]);
	free(v);
	return -ENOMEM;
}

static void chgs_fini(struct chgs *c)
{
	for (size_t i = 0; i < c->n; i++)
		chg_fini(&c->v[i]);
	free(c->v);
}

int zw_matrix__traffic_diff(const struct zw_matrix *old,
			    const struct zw_matrix *new_, int32_t day,
			    struct zw_traffic_diff **out)
{
	struct side so, sn;
	struct chgs add = {0}, rem = {0};
	struct zw_traffic_diff *d = calloc(1, sizeof(*d));
	int r = -ENOMEM;

	*out = NULL;
	memset(&so, 0, sizeof(so));
	memset(&sn, 0, sizeof(sn));
	if (!d)
		return -ENOMEM;
	if (side_build(&so, old, day) || side_build(&sn, new_, day))
		goto err;
	if (gained(&sn, &so, &add) || gained(&so, &sn, &rem))
		goto err;
	if (publish(&add, &d->added, &d->n_added) ||
	    publish(&rem, &d->removed, &d->n_removed))
		goto err;
	*out = d;
	r = 0;
	d = NULL;
err:
	zw_traffic_diff__free(d);
	chgs_fini(&add);
	chgs_fini(&rem);
	side_fini(&so);
	side_fini(&sn);
	return r;
}

void zw_traffic_diff__free(struct zw_traffic_diff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_added; i++)
		change_free(&d->added[i]);
	for (size_t i = 0; i < d->n_removed; i++)
		change_free(&d->removed[i]);
	free(d->added);
	free(d->removed);
	free(d);
}

static int addr_cmp(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16);
}

bool zw_traffic_box__contains(const struct zw_traffic_box *b, uint8_t family,
			      uint8_t proto, uint16_t port,
			      const uint8_t src[16], const uint8_t dst[16])
{
	if (b->family != family)
		return false;
	if (!b->any_proto) {
		if (b->proto != proto)
			return false;
		if ((zw_proto__has_ports(proto) || zw_proto__is_icmp(proto)) &&
		    (port < b->lo || port > b->hi))
			return false;
	}
	return addr_cmp(src, b->src_lo) >= 0 && addr_cmp(src, b->src_hi) <= 0 &&
	       addr_cmp(dst, b->dst_lo) >= 0 && addr_cmp(dst, b->dst_hi) <= 0;
}
