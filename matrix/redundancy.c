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
 *
 * Only a flow that lives at least as long covers another (no expiry, or an
 * expiry on or after the other's): a flow covered today by one that expires
 * first is needed once that one has expired. So the allowed traffic stays
 * unchanged on every day from today on, not just today.
 */
#include <stdlib.h>
#include <string.h>
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

/* True if @c is live on @today and every day @f is live after it. */
static bool outlives(const struct zw_flow *c, const struct zw_flow *f,
		     int32_t today)
{
	if (!zw_flow__live(c, today))
		return false;
	return c->expires == ZW_DATE_NONE ||
	       (f->expires != ZW_DATE_NONE && c->expires >= f->expires);
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

/* A flow's bounding box and a 64-bit signature of its (family, protocol)
 * pairs: a cheap test that two flows cannot meet. */
struct bound {
	uint64_t sig;
	struct zw_ival d[3];
};

static uint64_t sig_of(const struct zw_box *b)
{
	return 1ull << ((b->proto * 2u + (b->family == ZW_AF_INET6)) % 64u);
}

static void bound_of(const struct zw_boxes *all, size_t from, size_t to,
		     struct bound *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t x = from; x < to; x++) {
		const struct zw_box *b = &all->v[x];

		out->sig |= sig_of(b);
		for (int k = 0; k < 3; k++) {
			if (x == from || b->d[k].lo < out->d[k].lo)
				out->d[k].lo = b->d[k].lo;
			if (x == from || b->d[k].hi > out->d[k].hi)
				out->d[k].hi = b->d[k].hi;
		}
	}
}

static bool may_meet(const struct bound *a, const struct zw_box *b)
{
	if (!(a->sig & sig_of(b)))
		return false;
	for (int k = 0; k < 3; k++)
		if (a->d[k].hi < b->d[k].lo || b->d[k].hi < a->d[k].lo)
			return false;
	return true;
}

/* Does any box of flow group member i intersect one of member j? */
static bool flows_meet(const struct zw_boxes *all, const size_t *start,
		       size_t i, size_t j)
{
	for (size_t x = start[i]; x < start[i + 1]; x++)
		for (size_t y = start[j]; y < start[j + 1]; y++)
			if (zw_box__intersects(&all->v[x], &all->v[y]))
				return true;
	return false;
}

static void check_group(const struct zw_matrix *m, const size_t *grp,
			size_t n, int32_t today, bool *removed,
			struct zw_boxes *all, size_t *start, struct zw_diags *d)
{
	size_t *cover = malloc((n + 1) * sizeof(*cover));
	struct bound *bd = malloc((n + 1) * sizeof(*bd));
	const struct zw_box **cands = NULL;
	size_t cap = 0;

	if (!cover || !bd)
		goto out;
	/* Box lists of every flow of the group, built once. */
	all->n = 0;
	for (size_t i = 0; i < n; i++) {
		start[i] = all->n;
		zw_boxes__flow(m, (uint32_t)grp[i], all);
	}
	start[n] = all->n;
	if (all->oom)
		goto out;
	for (size_t i = 0; i < n; i++)
		bound_of(all, start[i], start[i + 1], &bd[i]);

	for (size_t ii = n; ii-- > 0;) {
		const struct zw_flow *f = &m->flows[grp[ii]];
		bool redundant = true;

		if (!zw_flow__live(f, today) || start[ii] == start[ii + 1])
			continue; /* expired (ZW041) or allows nothing */
		for (size_t b = start[ii]; b < start[ii + 1] && redundant; b++) {
			size_t nc = 0;

			for (size_t j = 0; j < n; j++) {
				if (j == ii || removed[grp[j]] ||
				    !may_meet(&bd[j], &all->v[b]) ||
				    !outlives(&m->flows[grp[j]], f, today))
					continue;
				for (size_t c = start[j]; c < start[j + 1]; c++) {
					if (!zw_box__intersects(&all->v[b], &all->v[c]))
						continue;
					if (zw_grow((void **)&cands, &cap, nc + 1,
						    sizeof(*cands)) < 0)
						goto out;
					cands[nc++] = &all->v[c];
				}
			}
			int r = zw_box__covered(&all->v[b], cands, nc);

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
		for (size_t j = 0; j < n; j++)
			if (j != i && !removed[grp[j]] &&
			    outlives(&m->flows[grp[j]], &m->flows[grp[i]], today) &&
			    flows_meet(all, start, i, j))
				cover[n_cover++] = grp[j];
		report(m, &m->flows[grp[i]], cover, n_cover, d);
	}
out:
	free(cands);
	free(cover);
	free(bd);
}

void zw_redundancy__check(const struct zw_matrix *m, int32_t today,
			  struct zw_diags *d)
{
	size_t *idx = malloc((m->n_flows + 1) * sizeof(*idx));
	size_t *start = malloc((m->n_flows + 2) * sizeof(*start));
	bool *removed = calloc(m->n_flows + 1, sizeof(*removed));
	struct zw_boxes all = {.squeeze_outside = true};
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
	zw_boxes__fini(&all);
	free(idx);
	free(start);
	free(removed);
}
