/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ZW040, exact redundancy. A flow is redundant when every (source,
 * destination, protocol, port) it allows is allowed by other live flows.
 *
 * Zones partition the address space, so only flows of the same ordered
 * zone pair can cover each other. Each flow is, per family, a product
 * sources x destinations x (protocol, port range), kept factored (the
 * sorted interval lists of its zones or narrowing, and its services'
 * ranges). A flow is redundant when one other flow contains each factor,
 * or else when each box (one interval of each factor) is covered by the
 * union of the boxes of the other flows meeting it: cutting each dimension
 * at the candidates' edges, every elementary cell lies in some candidate
 * (checked recursively, dimension by dimension). Candidates are found by
 * binary search in the other flows' interval lists, so zones of many
 * networks do not multiply the work. The flows that may meet a flow are
 * found through interval indexes of the pair's flows (their port hulls and,
 * per family, source and destination hulls: sorted by start, with a tree of
 * maximum ends), in the dimension that yields the fewest: work is
 * O(n log n + k) per pair, k the pairs of flows that do meet, instead of
 * every flow of the pair against every other. When even the best index
 * would list a quarter of the pair, a plain scan in order is cheaper and
 * is used (flows of a pair that genuinely overlap stay quadratic).
 *
 * Flows are examined from the last to the first and a flow found redundant
 * stops covering the ones examined after it: removing every flow reported
 * leaves the allowed traffic unchanged (two identical flows: the later one
 * is reported).
 *
 * Only a flow that lives at least as long covers another (no expiry, or an
 * expiry on or after the other's): a flow covered today by one that expires
 * first is needed once that one has expired. So the allowed traffic stays
 * unchanged on every day from today on, not just today.
 */
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

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

/*
 * True if @c may stand in for @f: live on @today and every day @f is live
 * after it, and without a rate limit (when flows overlap, the first one's
 * rate applies: removing @f could put its traffic under @c's limit).
 */
static bool may_cover(const struct zw_flow *c, const struct zw_flow *f,
		      int32_t today)
{
	if (!zw_flow__live(c, today) || c->rate)
		return false;
	return c->expires == ZW_DATE_NONE ||
	       (f->expires != ZW_DATE_NONE && c->expires >= f->expires);
}

/* A flow with a rate limit or logging does more than allow traffic: its
 * removal would lift the limit or stop the telemetry, so it is never
 * reported redundant. */
static bool removable(const struct zw_flow *f)
{
	return !f->rate && !f->log;
}

static void report(const struct zw_matrix *m, const struct zw_flow *f,
		   const size_t *cover, size_t n_cover, struct zw_diags *d)
{
	/* Five ids of at most 64 bytes, their separators and the count fit;
	 * an id that would not is counted with the rest, never cut. */
	char list[512] = "";
	size_t len = 0, shown = 0;

	for (size_t i = 0; i < n_cover && i < 5; i++) {
		int k = snprintf(list + len, sizeof(list) - len, "%s%s",
				 i ? ", " : "", m->flows[cover[i]].id);

		if (k < 0 || (size_t)k >= sizeof(list) - len - 32) {
			list[len] = '\0';
			break;
		}
		len += (size_t)k;
		shown++;
	}
	if (shown < n_cover)
		snprintf(list + len, sizeof(list) - len, " and %zu more",
			 n_cover - shown);
	zw_diags__add(d, ZW_WARNING, 40, f->loc,
		      "flow %s is redundant: everything it allows is also allowed by %s",
		      f->id, list);
}

/*
 * A flow of the group, factored: in family fi it allows
 * a[fi][0] (sources) x a[fi][1] (destinations) x it (protocol and port or
 * type ranges of its services), the address lists sorted, disjoint and
 * non-adjacent. Comparing factors instead of the product keeps the work
 * proportional to the networks of a zone, not to their square.
 */
struct fflow {
	/* a cheap first test: bits of the protocols, port hull, and per
	 * family the hull of the sources and of the destinations */
	uint64_t sig;
	unsigned fams; /* bit fi: both ends have addresses of family fi */
	struct zw_ival hull[3][2]; /* [0 ports | 1 src | 2 dst][family] */
	struct zw_ival *a[2][2];
	size_t na[2][2];
	struct zw_svc_item *it;
	size_t nit;
};

static void fflow_fini(struct fflow *x)
{
	for (int f = 0; f < 2; f++)
		for (int k = 0; k < 2; k++)
			free(x->a[f][k]);
	free(x->it);
}

static void fflow_hull(struct fflow *x)
{
	for (size_t i = 0; i < x->nit; i++) {
		x->sig |= 1ull << (x->it[i].proto % 64u);
		if (!i || x->it[i].r.lo < x->hull[0][0].lo)
			x->hull[0][0].lo = x->it[i].r.lo;
		if (!i || x->it[i].r.hi > x->hull[0][0].hi)
			x->hull[0][0].hi = x->it[i].r.hi;
	}
	for (int fi = 0; fi < 2; fi++) {
		if (x->na[fi][0] && x->na[fi][1])
			x->fams |= 1u << fi;
		for (int k = 0; k < 2; k++)
			if (x->na[fi][k])
				x->hull[1 + k][fi] = (struct zw_ival){
					x->a[fi][k][0].lo,
					x->a[fi][k][x->na[fi][k] - 1].hi};
	}
}

/* False when @x and @y surely share no connection. */
static bool hulls_meet(const struct fflow *x, const struct fflow *y)
{
	if (!(x->sig & y->sig) || x->hull[0][0].hi < y->hull[0][0].lo ||
	    y->hull[0][0].hi < x->hull[0][0].lo)
		return false;
	for (int fi = 0; fi < 2; fi++)
		if ((x->fams & y->fams & (1u << fi)) &&
		    x->hull[1][fi].lo <= y->hull[1][fi].hi &&
		    y->hull[1][fi].lo <= x->hull[1][fi].hi &&
		    x->hull[2][fi].lo <= y->hull[2][fi].hi &&
		    y->hull[2][fi].lo <= x->hull[2][fi].hi)
			return true;
	return false;
}

static bool fflow_build(const struct zw_matrix *m, uint32_t flow,
			struct zw_boxes *bx, struct fflow *x)
{
	const struct zw_flow *f = &m->flows[flow];
	size_t cap = 0;

	memset(x, 0, sizeof(*x));
	for (int fi = 0; fi < 2; fi++)
		if (!zw_boxes__addrs(m, bx, f->from, f->src, f->n_src, fi,
				     &x->a[fi][0], &x->na[fi][0]) ||
		    !zw_boxes__addrs(m, bx, f->to, f->dst, f->n_dst, fi,
				     &x->a[fi][1], &x->na[fi][1]))
			return false;
	if (!zw_flow__items(m, f, &x->it, &x->nit, &cap))
		return false;
	fflow_hull(x);
	return true;
}

/* True if the flow allows nothing (no family with both ends). */
static bool fflow_empty(const struct fflow *x)
{
	for (int fi = 0; fi < 2; fi++)
		if (x->na[fi][0] && x->na[fi][1] && x->nit)
			return false;
	return true;
}

static bool ival_meet(struct zw_ival a, struct zw_ival b)
{
	return a.lo <= b.hi && b.lo <= a.hi;
}

/* Two sorted disjoint lists share an address. */
static bool ivals_meet(const struct zw_ival *a, size_t na,
		       const struct zw_ival *b, size_t nb)
{
	for (size_t i = 0, j = 0; i < na && j < nb;) {
		if (ival_meet(a[i], b[j]))
			return true;
		if (a[i].hi < b[j].hi)
			i++;
		else
			j++;
	}
	return false;
}

/* First index of sorted disjoint @v whose interval may meet @q (the first
 * with hi >= q.lo); those meeting @q follow while lo <= q.hi. */
static size_t ivals_first(const struct zw_ival *v, size_t n, struct zw_ival q)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].hi < q.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Every address of @a is in @b (both sorted, disjoint, non-adjacent: an
 * interval of @a lies in a single interval of @b). */
static bool ivals_within(const struct zw_ival *a, size_t na,
			 const struct zw_ival *b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		size_t k = ivals_first(b, nb, a[i]);

		if (k == nb || b[k].lo > a[i].lo || b[k].hi < a[i].hi)
			return false;
	}
	return true;
}

static bool items_meet(const struct fflow *x, const struct fflow *y)
{
	for (size_t i = 0; i < x->nit; i++)
		for (size_t j = 0; j < y->nit; j++)
			if (x->it[i].proto == y->it[j].proto &&
			    ival_meet(x->it[i].r, y->it[j].r))
				return true;
	return false;
}

/* Every (protocol, port) of @x is in one of @y's items. */
static bool items_within(const struct fflow *x, const struct fflow *y)
{
	for (size_t i = 0; i < x->nit; i++) {
		zw_u128 next = x->it[i].r.lo; /* first port not yet covered */
		bool moved = true;

		/* the items are few: sweep until no item extends the cover */
		while (moved && next <= x->it[i].r.hi) {
			moved = false;
			for (size_t j = 0; j < y->nit; j++)
				if (y->it[j].proto == x->it[i].proto &&
				    y->it[j].r.lo <= next && y->it[j].r.hi >= next) {
					next = y->it[j].r.hi + 1;
					moved = true;
				}
		}
		if (next <= x->it[i].r.hi)
			return false;
	}
	return true;
}

/* Does some connection of @x belong to @y? */
static bool fflows_meet(const struct fflow *x, const struct fflow *y)
{
	if (!hulls_meet(x, y) || !items_meet(x, y))
		return false;
	for (int fi = 0; fi < 2; fi++)
		if (ivals_meet(x->a[fi][0], x->na[fi][0], y->a[fi][0], y->na[fi][0]) &&
		    ivals_meet(x->a[fi][1], x->na[fi][1], y->a[fi][1], y->na[fi][1]))
			return true;
	return false;
}

/* Does @y alone allow everything @x allows? */
static bool fflow_within(const struct fflow *x, const struct fflow *y)
{
	if (!items_within(x, y))
		return false;
	for (int fi = 0; fi < 2; fi++) {
		if (!x->na[fi][0] || !x->na[fi][1])
			continue;
		if (!ivals_within(x->a[fi][0], x->na[fi][0], y->a[fi][0], y->na[fi][0]) ||
		    !ivals_within(x->a[fi][1], x->na[fi][1], y->a[fi][1], y->na[fi][1]))
			return false;
	}
	return true;
}

/*
 * An interval index over the flows of a group in one dimension: entries
 * sorted by start, the ends sorted apart (to count what meets a query with
 * two binary searches) and a tree of maximum ends over the start order (to
 * list what meets it without visiting what does not).
 */
struct ient {
	zw_u128 lo, hi;
	uint32_t j;
};

struct ival_index {
	struct ient *e;
	zw_u128 *hi;  /* the ends, sorted */
	zw_u128 *max; /* tree of maximum ends: node k has 2k, 2k+1; leaves
		       * from @size */
	size_t n, size;
};

static int cmp_ient(const void *a, const void *b)
{
	const struct ient *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->j < y->j ? -1 : x->j > y->j;
}

static int cmp_u128(const void *a, const void *b)
{
	zw_u128 x = *(const zw_u128 *)a, y = *(const zw_u128 *)b;

	return x < y ? -1 : x > y;
}

static void index_fini(struct ival_index *ix)
{
	free(ix->e);
	free(ix->hi);
	free(ix->max);
}

/* Builds the index from the entries already in ix->e[0..ix->n). */
static bool index_build(struct ival_index *ix)
{
	ix->size = 1;
	while (ix->size < ix->n)
		ix->size *= 2;
	ix->hi = malloc((ix->n + 1) * sizeof(*ix->hi));
	ix->max = calloc(2 * ix->size, sizeof(*ix->max));
	if (!ix->hi || !ix->max)
		return false;
	qsort(ix->e, ix->n, sizeof(*ix->e), cmp_ient);
	for (size_t i = 0; i < ix->n; i++) {
		ix->hi[i] = ix->e[i].hi;
		ix->max[ix->size + i] = ix->e[i].hi;
	}
	qsort(ix->hi, ix->n, sizeof(*ix->hi), cmp_u128);
	for (size_t k = ix->size; k-- > 1;)
		ix->max[k] = ix->max[2 * k] > ix->max[2 * k + 1] ? ix->max[2 * k]
								   : ix->max[2 * k + 1];
	return true;
}

/* How many entries start at or before @v. */
static size_t starts_upto(const struct ival_index *ix, zw_u128 v)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->e[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* How many entries meet @q: those starting at or before its end, less
 * those ending before its start (all of which start before it too). */
static size_t index_count(const struct ival_index *ix, struct zw_ival q)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->hi[mid] < q.lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	return starts_upto(ix, q.hi) - lo;
}

struct cands {
	uint32_t *v;
	size_t n, cap;
	uint32_t *stamp; /* per flow of the group: the query that listed it */
	uint32_t query;
};

static int index_list(const struct ival_index *ix, size_t node, size_t l,
		      size_t r, size_t upto, zw_u128 from, struct cands *c)
{
	if (l >= upto || ix->max[node] < from)
		return 0;
	if (node >= ix->size) {
		uint32_t j = ix->e[l].j;

		if (c->stamp[j] == c->query)
			return 0;
		c->stamp[j] = c->query;
		if (zw_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v)) < 0)
			return -1;
		c->v[c->n++] = j;
		return 0;
	}
	size_t mid = l + (r - l) / 2;

	if (index_list(ix, 2 * node, l, mid, upto, from, c) < 0)
		return -1;
	return index_list(ix, 2 * node + 1, mid, r, upto, from, c);
}

/* Appends to @c the entries of @ix that meet @q (each flow once). */
static int index_query(const struct ival_index *ix, struct zw_ival q,
		       struct cands *c)
{
	if (!ix->n)
		return 0;
	return index_list(ix, 1, 0, ix->size, starts_upto(ix, q.hi), q.lo, c);
}

/* The indexes of a group: [0] port hulls; [1 + k][fi] source (k = 0) and
 * destination (k = 1) hulls of the flows with both ends in family fi. */
struct group_index {
	struct ival_index ports, addr[2][2];
	uint32_t n;    /* flows in the group */
	bool scan_all; /* ZONEWALL_REDUNDANCY_SCAN set (tests): never list
			* through the indexes, so a test can compare */
};

static void group_index_fini(struct group_index *g)
{
	index_fini(&g->ports);
	for (int k = 0; k < 2; k++)
		for (int fi = 0; fi < 2; fi++)
			index_fini(&g->addr[k][fi]);
}

static bool group_index_build(struct group_index *g, const struct fflow *ff,
			      size_t n)
{
	struct ival_index *all[5] = {&g->ports, &g->addr[0][0], &g->addr[0][1],
				     &g->addr[1][0], &g->addr[1][1]};

	memset(g, 0, sizeof(*g));
	g->n = (uint32_t)n;
	g->scan_all = getenv("ZONEWALL_REDUNDANCY_SCAN") != NULL;
	for (int i = 0; i < 5; i++)
		if (!(all[i]->e = malloc((n + 1) * sizeof(*all[i]->e))))
			return false;
	for (size_t j = 0; j < n; j++) {
		if (ff[j].nit)
			g->ports.e[g->ports.n++] = (struct ient){
				ff[j].hull[0][0].lo, ff[j].hull[0][0].hi, (uint32_t)j};
		for (int fi = 0; fi < 2; fi++) {
			if (!(ff[j].fams & (1u << fi)))
				continue;
			for (int k = 0; k < 2; k++) {
				struct ival_index *ix = &g->addr[k][fi];

				ix->e[ix->n++] = (struct ient){
					ff[j].hull[1 + k][fi].lo,
					ff[j].hull[1 + k][fi].hi, (uint32_t)j};
			}
		}
	}
	for (int i = 0; i < 5; i++)
		if (!index_build(all[i]))
			return false;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Lists in @c (in increasing order if @sorted) the flows of the group whose hulls may
 * meet @x's (a superset of those hulls_meet() accepts): through the index
 * that yields the fewest, the port hulls or, over @x's families, the
 * source or the destination hulls. 0; 1 (nothing listed) when that index
 * would list a quarter of the group or more, so the caller reads every flow
 * of the group in order; -1 when memory ran out.
 */
static int group_candidates(const struct group_index *g, const struct fflow *x,
			    uint32_t query, bool sorted, struct cands *c)
{
	size_t best = 0, count[3];

	c->n = 0;
	c->query = query;
	count[0] = index_count(&g->ports, x->hull[0][0]);
	for (int k = 0; k < 2; k++) {
		count[1 + k] = 0;
		for (int fi = 0; fi < 2; fi++)
			if (x->fams & (1u << fi))
				count[1 + k] += index_count(&g->addr[k][fi],
							    x->hull[1 + k][fi]);
	}
	for (size_t d = 1; d < 3; d++)
		if (count[d] < count[best])
			best = d;
	if (g->scan_all || count[best] >= g->n / 4)
		return 1; /* most of the group may meet @x: a plain scan in
			   * order is cheaper than listing through the tree */
	if (best == 0) {
		if (index_query(&g->ports, x->hull[0][0], c) < 0)
			return -1;
	} else {
		for (int fi = 0; fi < 2; fi++)
			if ((x->fams & (1u << fi)) &&
			    index_query(&g->addr[best - 1][fi],
					x->hull[best][fi], c) < 0)
				return -1;
	}
	if (sorted)
		qsort(c->v, c->n, sizeof(*c->v), cmp_u32);
	return 0;
}

struct scratch {
	struct zw_box *box;
	const struct zw_box **ptr;
	size_t cap_box, cap_ptr;
};

/*
 * Is every box of @x covered by the union of the flows cov[0..nc)? One
 * subject box at a time, with as candidates the pieces of the covering
 * flows' products that meet it. 1, 0, or -1 when memory ran out.
 */
static int covered_by_union(const struct fflow *x, uint32_t flow,
			    const struct fflow *const *cov, size_t nc,
			    struct scratch *sc)
{
	static const uint8_t fams[2] = {ZW_AF_INET, ZW_AF_INET6};

	for (int fi = 0; fi < 2; fi++)
	for (size_t p = 0; p < x->nit; p++)
	for (size_t a = 0; a < x->na[fi][0]; a++)
	for (size_t b = 0; b < x->na[fi][1]; b++) {
		struct zw_box q = {.family = fams[fi],
				   .proto = x->it[p].proto,
				   .flow = flow,
				   .service = x->it[p].service,
				   .d = {x->it[p].r, x->a[fi][0][a], x->a[fi][1][b]}};
		size_t n = 0;

		for (size_t j = 0; j < nc; j++) {
			const struct fflow *y = cov[j];
			size_t s0 = ivals_first(y->a[fi][0], y->na[fi][0], q.d[1]);
			size_t d0 = ivals_first(y->a[fi][1], y->na[fi][1], q.d[2]);

			for (size_t t = 0; t < y->nit; t++) {
				if (y->it[t].proto != q.proto ||
				    !ival_meet(y->it[t].r, q.d[0]))
					continue;
				for (size_t s = s0; s < y->na[fi][0] &&
						    y->a[fi][0][s].lo <= q.d[1].hi; s++)
					for (size_t u = d0; u < y->na[fi][1] &&
							    y->a[fi][1][u].lo <= q.d[2].hi; u++) {
						if (zw_grow((void **)&sc->box, &sc->cap_box,
							    n + 1, sizeof(*sc->box)) < 0)
							return -1;
						sc->box[n++] = (struct zw_box){
							.family = q.family,
							.proto = q.proto,
							.d = {y->it[t].r, y->a[fi][0][s],
							      y->a[fi][1][u]}};
					}
			}
		}
		if (zw_grow((void **)&sc->ptr, &sc->cap_ptr, n + 1, sizeof(*sc->ptr)) < 0)
			return -1;
		for (size_t k = 0; k < n; k++)
			sc->ptr[k] = &sc->box[k];
		int r = zw_box__covered(&q, sc->ptr, n);

		if (r <= 0)
			return r;
	}
	return 1;
}

static void check_group(const struct zw_matrix *m, const size_t *grp,
			size_t n, int32_t today, bool *removed,
			struct zw_boxes *bx, struct zw_diags *d)
{
	size_t *cover = malloc((n + 1) * sizeof(*cover));
	struct fflow *ff = calloc(n + 1, sizeof(*ff));
	const struct fflow **cov = malloc((n + 1) * sizeof(*cov));
	struct cands c = {.stamp = calloc(n + 1, sizeof(uint32_t))};
	struct group_index g = {0};
	struct scratch sc = {0};
	uint32_t query = 0;

	if (!cover || !ff || !cov || !c.stamp)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!fflow_build(m, (uint32_t)grp[i], bx, &ff[i]))
			goto out;
	if (!group_index_build(&g, ff, n))
		goto out;

	for (size_t ii = n; ii-- > 0;) {
		const struct zw_flow *f = &m->flows[grp[ii]];
		bool redundant = false;
		size_t nc = 0;

		if (!zw_flow__live(f, today) || fflow_empty(&ff[ii]) ||
		    !removable(f))
			continue; /* expired (ZW041), allows nothing, or carries
				   * a rate or logging its removal would lose */
		int all = group_candidates(&g, &ff[ii], ++query, false, &c);

		if (all < 0)
			goto out;
		for (size_t k = 0; k < (all ? n : c.n); k++) {
			size_t j = all ? k : c.v[k];

			if (j == ii || removed[grp[j]] ||
			    !hulls_meet(&ff[ii], &ff[j]) ||
			    !may_cover(&m->flows[grp[j]], f, today) ||
			    !fflows_meet(&ff[ii], &ff[j]))
				continue;
			if (fflow_within(&ff[ii], &ff[j])) {
				redundant = true; /* one flow covers it all */
				break;
			}
			cov[nc++] = &ff[j];
		}
		if (!redundant && nc) {
			int r = covered_by_union(&ff[ii], (uint32_t)grp[ii], cov,
						 nc, &sc);

			if (r < 0)
				goto out;
			redundant = r == 1;
		}
		if (redundant)
			removed[grp[ii]] = true;
	}
	/* Name, for each redundant flow, the flows that stay and overlap it:
	 * they cover it (by transitivity over the removals). */
	for (size_t i = 0; i < n; i++) {
		size_t n_cover = 0;

		if (!removed[grp[i]])
			continue;
		int all = group_candidates(&g, &ff[i], ++query, true, &c);

		if (all < 0)
			goto out;
		for (size_t k = 0; k < (all ? n : c.n); k++) {
			size_t j = all ? k : c.v[k];

			if (j != i && !removed[grp[j]] &&
			    may_cover(&m->flows[grp[j]], &m->flows[grp[i]], today) &&
			    fflows_meet(&ff[i], &ff[j]))
				cover[n_cover++] = grp[j];
		}
		report(m, &m->flows[grp[i]], cover, n_cover, d);
	}
out:
	for (size_t i = 0; ff && i < n; i++)
		fflow_fini(&ff[i]);
	group_index_fini(&g);
	free(c.v);
	free(c.stamp);
	free(ff);
	free(cov);
	free(sc.box);
	free(sc.ptr);
	free(cover);
}

void zw_redundancy__check(const struct zw_matrix *m, int32_t today,
			  struct zw_diags *d)
{
	size_t *idx = malloc((m->n_flows + 1) * sizeof(*idx));
	bool *removed = calloc(m->n_flows + 1, sizeof(*removed));
	struct zw_boxes all = {.squeeze_outside = true};
	size_t n = 0;

	if (!idx || !removed)
		goto out;
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		if (f->from >= m->n_zones || f->to >= m->n_zones || !f->id)
			continue;
		/* Inside one declared non-isolated zone everything is allowed
		 * without a flow. */
		if (f->from == f->to && f->from != ZW_ZONE_OUTSIDE &&
		    !m->zones[f->from].isolate && zw_flow__live(f, today) &&
		    removable(f)) {
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
			check_group(m, idx + i, j - i, today, removed, &all, d);
		i = j;
	}
out:
	zw_boxes__fini(&all);
	free(idx);
	free(removed);
}
