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
 * Flows are kept factored, as the redundancy check does: per family the
 * address intervals of each end (one per prefix, as the boxes take them)
 * and the protocol and port ranges of the services; a box is one interval
 * of each. The boxes meeting a box are found factor by factor: the zones
 * (of the other matrix) that its addresses belong to give the zone pairs,
 * hence the flows, to look at, and within a flow a binary search in each
 * address list gives the intervals meeting it. Zones of many networks thus
 * cost the boxes a flow really has, not their square: a box of a zone of
 * 100 networks meets one box of the same flow in the other matrix, found
 * in a few steps, where a list of every box of the pair had to be read.
 * The candidates found are exactly the boxes an exhaustive search would
 * find, so the pieces (cut at their edges) are the same. A flow the other
 * matrix holds unchanged (same id, same boxes) gains nothing and is
 * skipped, so the diff of two close versions costs only what changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <zonewall/matrix.h>

#include "internal.h"

#define SAME ZW_TRAFFIC_SAME_ZONE

static const zw_u128 U128_MAX = ~(zw_u128)0;

/* A declared network as an address interval, for finding zones. */
struct zspan {
	struct zw_ival iv;
	uint32_t zone;
};

/*
 * Address intervals of one end of a flow (or of a zone's networks) in one
 * family: @v as the boxes take them (one per prefix, declaration order, so
 * a box is named by its position), and by start (@s) with the largest end
 * so far (@pmax), so those meeting an interval are found by binary search
 * even when prefixes nest.
 */
struct alist {
	struct zw_ival *v;
	uint32_t *s;
	zw_u128 *pmax;
	size_t n;
};

/* A live flow, factored: in family fi its boxes are
 * it x a[fi][0] (sources) x a[fi][1] (destinations), in that order. */
struct tflow {
	uint32_t flow;
	uint64_t pair; /* from * n_zones + to */
	struct alist a[2][2];
	struct zw_svc_item *it;
	size_t nit;
};

/* One matrix: its live flows, its zones' networks, the zone index. */
struct side {
	const struct zw_matrix *m;
	struct zw_boxes bx;	 /* caches the outside gaps */
	struct tflow *tf;	 /* live flows, matrix order */
	size_t n_tf;
	uint32_t *by_pair;	 /* tf positions sorted by (pair, position) */
	uint32_t *by_id;	 /* tf positions sorted by flow id */
	struct alist (*same)[2]; /* per zone and family: the networks of a
				  * declared non-isolated zone, else empty */
	struct zspan *spans[2];	 /* declared networks per family, by start */
	zw_u128 *spmax[2];	 /* largest end among spans[0..k] */
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

/* Positions in an alist. */
struct hits {
	uint32_t *v;
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

static bool ival_meet(struct zw_ival a, struct zw_ival b)
{
	return a.lo <= b.hi && b.lo <= a.hi;
}

/* ---- address lists ---- */

static int cmp_by_lo(const void *a, const void *b, void *arg)
{
	const struct zw_ival *v = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (v[x].lo != v[y].lo)
		return v[x].lo < v[y].lo ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Index @v (malloc'd, @n intervals; @l takes it). */
static int alist_init(struct alist *l, struct zw_ival *v, size_t n)
{
	l->v = v;
	l->n = n;
	l->s = malloc((n + 1) * sizeof(*l->s));
	l->pmax = malloc((n + 1) * sizeof(*l->pmax));
	if (!l->s || !l->pmax)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		l->s[i] = (uint32_t)i;
	if (n > 1)
		qsort_r(l->s, n, sizeof(*l->s), cmp_by_lo, v);
	for (size_t k = 0; k < n; k++) {
		zw_u128 hi = v[l->s[k]].hi;

		l->pmax[k] = k && l->pmax[k - 1] > hi ? l->pmax[k - 1] : hi;
	}
	return 0;
}

static void alist_fini(struct alist *l)
{
	free(l->v);
	free(l->s);
	free(l->pmax);
}

/* Set @h to the positions of the intervals of @l meeting @q. */
static int alist_meet(const struct alist *l, struct zw_ival q, struct hits *h)
{
	size_t lo = 0, hi = l->n;

	h->n = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->pmax[mid] < q.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < l->n && l->v[l->s[k]].lo <= q.hi; k++) {
		if (l->v[l->s[k]].hi < q.lo)
			continue; /* nested in an earlier one, ends before */
		if (zw_grow((void **)&h->v, &h->cap, h->n + 1, sizeof(*h->v)) < 0)
			return -ENOMEM;
		h->v[h->n++] = l->s[k];
	}
	return 0;
}

/* ---- building a side ---- */

static void tflow_fini(struct tflow *g)
{
	for (int fi = 0; fi < 2; fi++)
		for (int k = 0; k < 2; k++)
			alist_fini(&g->a[fi][k]);
	free(g->it);
}

static int tflow_build(struct side *s, uint32_t flow, struct tflow *g)
{
	const struct zw_matrix *m = s->m;
	const struct zw_flow *f = &m->flows[flow];
	size_t cap = 0;

	memset(g, 0, sizeof(*g));
	g->flow = flow;
	g->pair = (uint64_t)f->from * m->n_zones + f->to;
	for (int fi = 0; fi < 2; fi++)
		for (int k = 0; k < 2; k++) {
			struct zw_ival *v = NULL;
			size_t n = 0;
			bool ok = k ? zw_boxes__ivals(m, &s->bx, f->to, f->dst,
						      f->n_dst, fi, &v, &n)
				    : zw_boxes__ivals(m, &s->bx, f->from, f->src,
						      f->n_src, fi, &v, &n);

			if (!ok || alist_init(&g->a[fi][k], v, n)) {
				if (!ok)
					free(v);
				return -ENOMEM;
			}
		}
	return zw_flow__items(m, f, &g->it, &g->nit, &cap) ? 0 : -ENOMEM;
}

static int cmp_by_pair(const void *a, const void *b, void *arg)
{
	const struct tflow *tf = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint64_t px = tf[x].pair, py = tf[y].pair;

	if (px != py)
		return px < py ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The flow's id, "" for none (a matrix that failed validation). */
static const char *tf_id(const struct side *s, uint32_t pos)
{
	const char *id = s->m->flows[s->tf[pos].flow].id;

	return id ? id : "";
}

static int cmp_by_id(const void *a, const void *b, void *arg)
{
	return strcmp(tf_id(arg, *(const uint32_t *)a),
		      tf_id(arg, *(const uint32_t *)b));
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
	s->tf = calloc(m->n_flows + 1, sizeof(*s->tf));
	s->by_pair = malloc((m->n_flows + 1) * sizeof(*s->by_pair));
	s->by_id = malloc((m->n_flows + 1) * sizeof(*s->by_id));
	s->same = calloc(m->n_zones + 1, sizeof(*s->same));
	if (!s->tf || !s->by_pair || !s->by_id || !s->same)
		return -ENOMEM;
	for (size_t f = 0; f < m->n_flows; f++) {
		if (!zw_flow__live(&m->flows[f], day))
			continue;
		s->by_pair[s->n_tf] = (uint32_t)s->n_tf;
		s->by_id[s->n_tf] = (uint32_t)s->n_tf;
		if (tflow_build(s, (uint32_t)f, &s->tf[s->n_tf++]))
			return -ENOMEM;
	}
	if (s->n_tf > 1) {
		qsort_r(s->by_pair, s->n_tf, sizeof(*s->by_pair), cmp_by_pair,
			s->tf);
		qsort_r(s->by_id, s->n_tf, sizeof(*s->by_id), cmp_by_id, s);
	}

	for (size_t z = 1; z < m->n_zones; z++) {
		if (m->zones[z].isolate)
			continue;
		for (int fi = 0; fi < 2; fi++) {
			struct zw_ival *v = NULL;
			size_t n = 0;

			if (!zw_boxes__ivals(m, &s->bx, (uint32_t)z, NULL, 0, fi,
					     &v, &n) ||
			    alist_init(&s->same[z][fi], v, n))
				return -ENOMEM;
		}
	}

	for (int fi = 0; fi < 2; fi++) {
		size_t total = 0, n = 0;

		for (size_t z = 1; z < m->n_zones; z++)
			total += m->zones[z].n_networks;
		s->spans[fi] = malloc((total + 1) * sizeof(*s->spans[fi]));
		s->spmax[fi] = malloc((total + 1) * sizeof(*s->spmax[fi]));
		if (!s->spans[fi] || !s->spmax[fi])
			return -ENOMEM;
		for (size_t z = 1; z < m->n_zones; z++)
			for (size_t i = 0; i < m->zones[z].n_networks; i++)
				if (m->zones[z].networks[i].family == fams[fi])
					s->spans[fi][n++] = (struct zspan){
						zw_prefix_ival(&m->zones[z].networks[i]), (uint32_t)z};
		if (n > 1)
			qsort(s->spans[fi], n, sizeof(*s->spans[fi]), cmp_span);
		for (size_t k = 0; k < n; k++) {
			zw_u128 hi = s->spans[fi][k].iv.hi;

			s->spmax[fi][k] = k && s->spmax[fi][k - 1] > hi ? s->spmax[fi][k - 1] : hi;
		}
		s->n_spans[fi] = n;
	}
	return 0;
}

static void side_fini(struct side *s)
{
	for (size_t i = 0; s->tf && i < s->n_tf; i++)
		tflow_fini(&s->tf[i]);
	free(s->tf);
	free(s->by_pair);
	free(s->by_id);
	for (size_t z = 0; s->same && z < s->m->n_zones; z++)
		for (int fi = 0; fi < 2; fi++)
			alist_fini(&s->same[z][fi]);
	free(s->same);
	for (int fi = 0; fi < 2; fi++) {
		free(s->spans[fi]);
		free(s->spmax[fi]);
	}
	zw_boxes__fini(&s->bx);
}

/* [*l, *r): the positions of by_pair holding flows of @pair. */
static void pair_range(const struct side *s, uint64_t pair, size_t *l,
		       size_t *r)
{
	size_t a = 0, b = s->n_tf;

	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (s->tf[s->by_pair[mid]].pair < pair)
			a = mid + 1;
		else
			b = mid;
	}
	*l = a;
	b = s->n_tf;
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (s->tf[s->by_pair[mid]].pair <= pair)
			a = mid + 1;
		else
			b = mid;
	}
	*r = a;
}

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

static bool zset_has(const struct zset *z, uint32_t zone)
{
	if (z->many)
		return true;
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i] == zone)
			return true;
	return false;
}

/* The zones of @s that addresses [iv.lo, iv.hi] of @family belong to:
 * declared zones whose networks meet it (by address), and outside if part
 * of it lies in no declared network. */
static void zones_of(const struct side *s, uint8_t family, struct zw_ival iv,
		     struct zset *out)
{
	int fi = family == ZW_AF_INET6;
	const struct zspan *v = s->spans[fi];
	size_t lo = 0, hi = s->n_spans[fi];
	zw_u128 next = iv.lo; /* first address not yet accounted for */
	bool gap = false, covered = false;

	out->n = 0;
	out->many = false;
	/* First span that may meet it: ending at or after iv.lo, or inside
	 * one that does (networks of one zone may nest). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->spmax[fi][mid] < iv.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < s->n_spans[fi] && v[i].iv.lo <= iv.hi; i++) {
		if (v[i].iv.hi < iv.lo)
			continue;
		if (!covered && v[i].iv.lo > next)
			gap = true;
		zset_add(out, v[i].zone);
		if (covered)
			continue;
		if (v[i].iv.hi >= iv.hi)
			covered = true;
		else if (v[i].iv.hi + 1 > next)
			next = v[i].iv.hi + 1;
	}
	if (gap || !covered) /* some of it lies in no declared network */
		zset_add(out, ZW_ZONE_OUTSIDE);
}

/* ---- boxes meeting a box ---- */

/* Scratch space of one direction. */
struct work {
	struct hits hs, hd;
	struct zw_boxes other; /* candidates allowing it before it, outside
				* its change */
	struct zw_boxes mine;  /* earlier boxes of its own change */
	struct cands c;
	struct zset *zs, *zd;  /* zones of each source / destination */
	size_t cap_zs, cap_zd;
};

static void work_fini(struct work *w)
{
	free(w->hs.v);
	free(w->hd.v);
	free(w->other.v);
	free(w->mine.v);
	free(w->c.v);
	free(w->zs);
	free(w->zd);
}

/* Append to @out the boxes of @g meeting @q (its family, protocol, ports
 * and addresses). */
static int tflow_meet(const struct tflow *g, const struct zw_box *q,
		      struct work *w, struct zw_boxes *out)
{
	int fi = q->family == ZW_AF_INET6;
	const struct alist *src = &g->a[fi][0], *dst = &g->a[fi][1];
	bool searched = false;

	for (size_t t = 0; t < g->nit; t++) {
		const struct zw_svc_item *it = &g->it[t];

		if (it->proto != q->proto || !ival_meet(it->r, q->d[0]))
			continue;
		if (!searched) {
			searched = true;
			if (alist_meet(src, q->d[1], &w->hs))
				return -ENOMEM;
			if (!w->hs.n)
				return 0;
			if (alist_meet(dst, q->d[2], &w->hd))
				return -ENOMEM;
		}
		for (size_t a = 0; a < w->hs.n; a++)
			for (size_t b = 0; b < w->hd.n; b++) {
				struct zw_box x = {
					.family = q->family,
					.proto = it->proto,
					.flow = g->flow,
					.service = it->service,
					.d = {it->r, src->v[w->hs.v[a]], dst->v[w->hd.v[b]]}};

				if (box_push(out, &x))
					return -ENOMEM;
			}
	}
	return 0;
}

/* Append to @out the flow boxes of @s meeting @q, the zones of whose
 * addresses in @s are @zs and @zd. */
static int side_meet(const struct side *s, const struct zw_box *q,
		     const struct zset *zs, const struct zset *zd,
		     struct work *w, struct zw_boxes *out)
{
	if (zs->many || zd->many) {
		/* A box spanning very many zones (rare: wide outside
		 * narrowing): every flow. */
		for (size_t k = 0; k < s->n_tf; k++)
			if (tflow_meet(&s->tf[k], q, w, out))
				return -ENOMEM;
		return 0;
	}
	for (size_t i = 0; i < zs->n; i++)
		for (size_t j = 0; j < zd->n; j++) {
			size_t l, r;

			pair_range(s, (uint64_t)zs->v[i] * s->m->n_zones + zd->v[j],
				   &l, &r);
			for (size_t k = l; k < r; k++)
				if (tflow_meet(&s->tf[s->by_pair[k]], q, w, out))
					return -ENOMEM;
		}
	return 0;
}

/* Append to @out @s's same-zone rectangles meeting @q's addresses, stamped
 * with @q's protocol and port range. */
static int same_meet(const struct side *s, const struct zw_box *q,
		     const struct zset *zs, const struct zset *zd,
		     struct work *w, struct zw_boxes *out)
{
	int fi = q->family == ZW_AF_INET6;
	bool all = zs->many && zd->many;
	const struct zset *walk = zs->many ? zd : zs, *test = zs->many ? zs : zd;
	size_t n = all ? s->m->n_zones : walk->n;

	for (size_t i = 0; i < n; i++) {
		uint32_t z = all ? (uint32_t)i : walk->v[i];
		const struct alist *l = &s->same[z][fi];

		if (!l->n || (!all && !zset_has(test, z)))
			continue;
		if (alist_meet(l, q->d[1], &w->hs))
			return -ENOMEM;
		if (!w->hs.n)
			continue;
		if (alist_meet(l, q->d[2], &w->hd))
			return -ENOMEM;
		for (size_t a = 0; a < w->hs.n; a++)
			for (size_t b = 0; b < w->hd.n; b++) {
				struct zw_box x = {
					.family = q->family,
					.proto = q->proto,
					.flow = SAME,
					.service = z,
					.d = {q->d[0], l->v[w->hs.v[a]], l->v[w->hd.v[b]]}};

				if (box_push(out, &x))
					return -ENOMEM;
			}
	}
	return 0;
}

/* @b cut down to @to in the address dimensions (from @dim0: also ports). */
static struct zw_box clip(const struct zw_box *b, const struct zw_box *to,
			  int dim0)
{
	struct zw_box x = *b;

	for (int i = dim0; i < 3; i++) {
		if (to->d[i].lo > x.d[i].lo)
			x.d[i].lo = to->d[i].lo;
		if (to->d[i].hi < x.d[i].hi)
			x.d[i].hi = to->d[i].hi;
	}
	return x;
}

/* A flow box of a side meeting a same-zone piece, and where it sorts:
 * as the boxes of that side sorted by (zone pair, family, protocol, gap of
 * the outside end, first port, position in the matrix's box order). */
struct exent {
	uint64_t pair;
	uint32_t gap;
	uint8_t proto;
	zw_u128 port;
	uint32_t g, t, a, b; /* flow (tf position), item, source, dest */
	struct zw_box box;
};

struct exents {
	struct exent *v;
	size_t n, cap;
};

static int cmp_exent(const void *x_, const void *y_)
{
	const struct exent *x = x_, *y = y_;

	if (x->pair != y->pair)
		return x->pair < y->pair ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->gap != y->gap)
		return x->gap < y->gap ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return x->b < y->b ? -1 : x->b > y->b;
}

/* Collect the boxes of flow tf[@k] of @s meeting @q's addresses (any
 * protocol). */
static int exc_flow(const struct side *s, size_t k, const struct zw_box *q,
		    struct work *w, struct exents *out)
{
	const struct tflow *g = &s->tf[k];
	int fi = q->family == ZW_AF_INET6;
	const struct alist *src = &g->a[fi][0], *dst = &g->a[fi][1];
	int dim = outside_dim(s, g->pair);

	if (!g->nit)
		return 0;
	if (alist_meet(src, q->d[1], &w->hs))
		return -ENOMEM;
	if (!w->hs.n)
		return 0;
	if (alist_meet(dst, q->d[2], &w->hd))
		return -ENOMEM;
	for (size_t t = 0; t < g->nit; t++)
		for (size_t a = 0; a < w->hs.n; a++)
			for (size_t b = 0; b < w->hd.n; b++) {
				struct exent e = {
					.pair = g->pair,
					.proto = g->it[t].proto,
					.port = g->it[t].r.lo,
					.g = (uint32_t)k,
					.t = (uint32_t)t,
					.a = w->hs.v[a],
					.b = w->hd.v[b],
					.box = {.family = q->family,
						.proto = g->it[t].proto,
						.flow = g->flow,
						.service = g->it[t].service,
						.d = {g->it[t].r, src->v[w->hs.v[a]],
						      dst->v[w->hd.v[b]]}}};

				e.gap = dim ? gap_of(s, q->family, e.box.d[dim].lo) : 0;
				e.box = clip(&e.box, q, 1);
				if (zw_grow((void **)&out->v, &out->cap, out->n + 1,
					    sizeof(*out->v)) < 0)
					return -ENOMEM;
				out->v[out->n++] = e;
			}
	return 0;
}

static int exc_flush(struct exents *e, struct zw_boxes *out, size_t reps)
{
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(*e->v), cmp_exent);
	while (reps--)
		for (size_t i = 0; i < e->n; i++)
			if (box_push(out, &e->v[i].box))
				return -ENOMEM;
	e->n = 0;
	return 0;
}

/* Append to @out every flow box of @s meeting @q's addresses, whatever its
 * protocol, clipped to them: zone pair by zone pair (in the order the zones
 * of @q's addresses are found), each sorted as @s's boxes by (protocol,
 * outside gap, port, box order). When the addresses span very many zones,
 * every box of @s, sorted, once per zone pair that would have been read. */
static int side_meet_addr(const struct side *s, const struct zw_box *q,
			  struct work *w, struct exents *e,
			  struct zw_boxes *out)
{
	struct zset zs, zd;

	zones_of(s, q->family, q->d[1], &zs);
	zones_of(s, q->family, q->d[2], &zd);
	if (zs.many || zd.many) {
		for (size_t k = 0; k < s->n_tf; k++)
			if (exc_flow(s, k, q, w, e))
				return -ENOMEM;
		return exc_flush(e, out, (zs.many ? 1 : zs.n) * (zd.many ? 1 : zd.n));
	}
	for (size_t i = 0; i < zs.n; i++)
		for (size_t j = 0; j < zd.n; j++) {
			size_t l, r;

			pair_range(s, (uint64_t)zs.v[i] * s->m->n_zones + zd.v[j],
				   &l, &r);
			for (size_t k = l; k < r; k++)
				if (exc_flow(s, s->by_pair[k], q, w, e))
					return -ENOMEM;
			if (exc_flush(e, out, 1))
				return -ENOMEM;
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

/* ---- one direction ---- */

/* Position of the change of flow @g's @service among out->v[first..),
 * made (whole until shown otherwise) when missing; -ENOMEM. */
static ssize_t flow_chg(const struct side *x, const struct tflow *g,
			uint32_t service, size_t first, struct chgs *out)
{
	const struct zw_flow *f = &x->m->flows[g->flow];
	struct chg *ch;

	for (size_t k = first; k < out->n; k++)
		if (out->v[k].service == service)
			return (ssize_t)k;
	ch = chg_add(out, f->from, f->to, g->flow, service, service_pos(f, service));
	if (!ch)
		return -ENOMEM;
	ch->whole = true;
	return (ssize_t)(out->n - 1);
}

/* Append to w->mine (same service) or w->other the boxes of flow @g before
 * its box (item @t, source @a, destination @b) = @q that meet it: those of
 * its earlier items, and of item @t at earlier addresses when the flow's
 * prefixes nest. */
static int own_earlier(const struct tflow *g, size_t t, uint32_t a, uint32_t b,
		       const struct zw_box *q, struct work *w)
{
	int fi = q->family == ZW_AF_INET6;
	const struct alist *src = &g->a[fi][0], *dst = &g->a[fi][1];
	bool searched = false;

	for (size_t u = 0; u <= t; u++) {
		const struct zw_svc_item *it = &g->it[u];

		if (it->proto != q->proto || !ival_meet(it->r, q->d[0]))
			continue;
		if (!searched) {
			searched = true;
			if (alist_meet(src, q->d[1], &w->hs) ||
			    alist_meet(dst, q->d[2], &w->hd))
				return -ENOMEM;
		}
		for (size_t i = 0; i < w->hs.n; i++)
			for (size_t j = 0; j < w->hd.n; j++) {
				uint32_t pa = w->hs.v[i], pb = w->hd.v[j];
				struct zw_box x = {
					.family = q->family,
					.proto = it->proto,
					.flow = g->flow,
					.service = it->service,
					.d = {it->r, src->v[pa], dst->v[pb]}};

				if (u == t && (pa > a || (pa == a && pb >= b)))
					continue; /* not before @q */
				if (box_push(it->service == q->service ? &w->mine
								       : &w->other,
					     &x))
					return -ENOMEM;
			}
	}
	return 0;
}

/*
 * Append @b minus the candidates of @w to @ch's pieces. @ch is whole (all
 * its boxes are in its pieces) while what the candidates outside the change
 * take from @b lies in earlier boxes of the change: then the pieces of each
 * box are all of it but what the change's earlier boxes hold.
 */
static int take(struct chg *ch, const struct zw_box *b, struct work *w)
{
	w->c.n = 0;
	for (size_t i = 0; i < w->other.n; i++)
		if (cands_push(&w->c, &w->other.v[i]))
			return -ENOMEM;
	for (size_t i = 0; i < w->mine.n; i++)
		if (cands_push(&w->c, &w->mine.v[i]))
			return -ENOMEM;
	if (zw_box__subtract(b, w->c.v, w->c.n, &ch->pieces) || ch->pieces.oom)
		return -ENOMEM;
	if (!ch->whole || !w->other.n)
		return 0;
	if (!w->mine.n) {
		ch->whole = false;
		return 0;
	}
	for (size_t i = 0; i < w->other.n && ch->whole; i++) {
		struct zw_box o = clip(&w->other.v[i], b, 0);
		int r;

		w->c.n = 0;
		for (size_t k = 0; k < w->mine.n; k++)
			if (zw_box__intersects(&w->mine.v[k], &o) &&
			    cands_push(&w->c, &w->mine.v[k]))
				return -ENOMEM;
		r = zw_box__covered(&o, w->c.v, w->c.n);
		if (r < 0)
			return -ENOMEM;
		ch->whole = r == 1;
	}
	return 0;
}

/* Zones of @y for each interval of @l, in w->zs (@dst: w->zd). */
static int zones_each(const struct side *y, const struct alist *l, int fi,
		      bool dst, struct work *w)
{
	struct zset **v = dst ? &w->zd : &w->zs;

	if (zw_grow((void **)v, dst ? &w->cap_zd : &w->cap_zs, l->n,
		    sizeof(**v)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		zones_of(y, fi ? ZW_AF_INET6 : ZW_AF_INET, l->v[i], &(*v)[i]);
	return 0;
}

static bool alist_same(const struct alist *a, const struct alist *b)
{
	return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof(*a->v));
}

/*
 * Does @y hold a live flow of the same id as @g allowing the very same
 * boxes (address intervals per family and end, protocol and port items in
 * the same order)? Then nothing of @g is gained over @y, whatever comes
 * before it: the fast path of an unchanged flow, which keeps a diff of two
 * close versions near-linear (the exhaustive path below costs the flows of
 * the pair that meet each box).
 */
static bool unchanged_in(const struct side *y, const struct side *x,
			 const struct tflow *g)
{
	const char *id = x->m->flows[g->flow].id;
	size_t lo = 0, hi = y->n_tf;

	if (!id || !*id)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(tf_id(y, y->by_id[mid]), id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == y->n_tf || strcmp(tf_id(y, y->by_id[lo]), id))
		return false;

	const struct tflow *h = &y->tf[y->by_id[lo]];

	if (h->nit != g->nit)
		return false;
	for (size_t t = 0; t < g->nit; t++)
		if (h->it[t].proto != g->it[t].proto ||
		    h->it[t].r.lo != g->it[t].r.lo || h->it[t].r.hi != g->it[t].r.hi)
			return false;
	for (int fi = 0; fi < 2; fi++)
		for (int k = 0; k < 2; k++)
			if (!alist_same(&g->a[fi][k], &h->a[fi][k]))
				return false;
	return true;
}

/* What @x's flow tf[@k] allows first and @y does not, appended to @out. */
static int flow_gained(const struct side *x, const struct side *y, size_t k,
		       struct chgs *out, struct work *w)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};
	const struct tflow *g = &x->tf[k];
	size_t first = out->n, l, r;

	if (unchanged_in(y, x, g))
		return 0;
	pair_range(x, g->pair, &l, &r);
	for (int fi = 0; fi < 2; fi++) {
		const struct alist *src = &g->a[fi][0], *dst = &g->a[fi][1];

		if (!src->n || !dst->n || !g->nit)
			continue;
		if (zones_each(y, src, fi, false, w) || zones_each(y, dst, fi, true, w))
			return -ENOMEM;
		for (size_t t = 0; t < g->nit; t++) {
			const struct zw_svc_item *it = &g->it[t];
			ssize_t ci = flow_chg(x, g, it->service, first, out);

			if (ci < 0)
				return -ENOMEM;
			for (uint32_t a = 0; a < src->n; a++)
				for (uint32_t b = 0; b < dst->n; b++) {
					struct zw_box q = {
						.family = fams[fi],
						.proto = it->proto,
						.flow = g->flow,
						.service = it->service,
						.d = {it->r, src->v[a], dst->v[b]}};

					w->other.n = 0;
					w->mine.n = 0;
					/* What allows part of it before it
					 * does: everything @y allows, @x's
					 * earlier flows, this one's earlier
					 * boxes. */
					if (same_meet(y, &q, &w->zs[a], &w->zd[b], w, &w->other) ||
					    side_meet(y, &q, &w->zs[a], &w->zd[b], w, &w->other))
						return -ENOMEM;
					for (size_t p = l; p < r && x->by_pair[p] < k; p++)
						if (tflow_meet(&x->tf[x->by_pair[p]], &q, w,
							       &w->other))
							return -ENOMEM;
					if (own_earlier(g, t, a, b, &q, w) ||
					    take(&out->v[ci], &q, w))
						return -ENOMEM;
				}
		}
	}
	return 0;
}

/* The same-zone allowance of @x that @y does not have, appended to @out. */
static int same_gained(const struct side *x, const struct side *y,
		       struct chgs *out, struct work *w)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};
	size_t first = out->n;

	for (uint32_t z = 1; z < x->m->n_zones; z++)
		for (int fi = 0; fi < 2; fi++) {
			const struct alist *l = &x->same[z][fi];
			struct chg *ch = NULL;

			if (!l->n)
				continue;
			for (size_t k = first; k < out->n; k++)
				if (out->v[k].from == z)
					ch = &out->v[k];
			if (!ch) {
				ch = chg_add(out, z, z, SAME, SAME, 0);
				if (!ch)
					return -ENOMEM;
				ch->whole = true;
			}
			if (zones_each(y, l, fi, false, w))
				return -ENOMEM;
			for (size_t a = 0; a < l->n; a++)
				for (size_t b = 0; b < l->n; b++) {
					struct zw_box q = {
						.family = fams[fi],
						.proto = 0,
						.flow = SAME,
						.service = z,
						.d = {{0, 0}, l->v[a], l->v[b]}};

					w->other.n = 0;
					w->mine.n = 0;
					if (same_meet(y, &q, &w->zs[a], &w->zs[b], w, &w->other) ||
					    take(ch, &q, w))
						return -ENOMEM;
				}
		}
	return 0;
}

/* Everything the change's flow service (or zone) allows, box by box in the
 * matrix's order. */
static int scope_build(const struct side *x, struct chg *ch)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};

	if (ch->flow == SAME) {
		for (int fi = 0; fi < 2; fi++) {
			const struct alist *l = &x->same[ch->from][fi];

			for (size_t a = 0; a < l->n; a++)
				for (size_t b = 0; b < l->n; b++) {
					struct zw_box q = {
						.family = fams[fi],
						.flow = SAME,
						.service = ch->from,
						.d = {{0, 0}, l->v[a], l->v[b]}};

					if (box_push(&ch->scope, &q))
						return -ENOMEM;
				}
		}
		return 0;
	}
	size_t lo = 0, hi = x->n_tf;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->tf[mid].flow < ch->flow)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct tflow *g = &x->tf[lo];

	for (int fi = 0; fi < 2; fi++) {
		const struct alist *src = &g->a[fi][0], *dst = &g->a[fi][1];

		for (size_t t = 0; t < g->nit; t++) {
			if (g->it[t].service != ch->service)
				continue;
			for (size_t a = 0; a < src->n; a++)
				for (size_t b = 0; b < dst->n; b++) {
					struct zw_box q = {
						.family = fams[fi],
						.proto = g->it[t].proto,
						.flow = g->flow,
						.service = ch->service,
						.d = {g->it[t].r, src->v[a], dst->v[b]}};

					if (box_push(&ch->scope, &q))
						return -ENOMEM;
				}
		}
	}
	return 0;
}

/* What @x allows and @y does not, appended to @out as changes of @x. */
static int gained(const struct side *x, const struct side *y, struct chgs *out)
{
	struct work w = {0};
	struct exents e = {0};
	size_t first;
	int r = -ENOMEM;

	for (size_t k = 0; k < x->n_tf; k++)
		if (flow_gained(x, y, k, out, &w))
			goto out;
	first = out->n;
	if (same_gained(x, y, out, &w))
		goto out;
	for (size_t k = first; k < out->n; k++) {
		struct chg *ch = &out->v[k];

		merge(&ch->pieces);
		for (size_t p = 0; p < ch->pieces.n; p++) {
			const struct zw_box *pc = &ch->pieces.v[p];

			if (side_meet_addr(x, pc, &w, &e, &ch->exc) ||
			    side_meet_addr(y, pc, &w, &e, &ch->exc_oth))
				goto out;
		}
		merge(&ch->exc);
		merge(&ch->exc_oth);
	}

	/* Merge, and state the scope of what is not empty; then drop the
	 * rest (only once nothing can fail: @out must stay whole for the
	 * caller to free on -ENOMEM). */
	for (size_t k = 0; k < out->n; k++) {
		struct chg *ch = &out->v[k];

		if (!ch->pieces.n)
			continue;
		merge(&ch->pieces);
		if (scope_build(x, ch))
			goto out;
	}
	size_t n = 0;

	for (size_t k = 0; k < out->n; k++) {
		if (out->v[k].pieces.n)
			out->v[n++] = out->v[k];
		else
			chg_fini(&out->v[k]);
	}
	out->n = n;
	r = 0;
out:
	work_fini(&w);
	free(e.v);
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
