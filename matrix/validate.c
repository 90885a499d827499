/* SPDX-License-Identifier: BSD-2-Clause */
/* The validator: every semantic check of docs/matrix-language.md, all problems
 * reported in one run. Parse-level checks (ZW001, ZW002, malformed
 * prefixes) happen in parse.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

#define ERR(d, loc, code, ...) zw_diags__add((d), ZW_ERROR, (code), (loc), __VA_ARGS__)
#define WARN(d, loc, code, ...) zw_diags__add((d), ZW_WARNING, (code), (loc), __VA_ARGS__)

static bool blank(const char *s)
{
	if (!s)
		return true;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static bool zone_ok(const struct zw_matrix *m, uint32_t z)
{
	return z < m->n_zones;
}

static struct zw_loc or_loc(struct zw_loc a, struct zw_loc b)
{
	return a.line ? a : b;
}

/* ---- ZW003 ---- */

static const struct zw_matrix *sort_m;

static int cmp_flow_id(const void *a, const void *b)
{
	const struct zw_flow *x = &sort_m->flows[*(const size_t *)a];
	const struct zw_flow *y = &sort_m->flows[*(const size_t *)b];
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void check_duplicate_ids(const struct zw_matrix *m, struct zw_diags *d)
{
	size_t *idx = malloc((m->n_flows + 1) * sizeof(*idx));
	size_t n = 0;

	if (!idx) {
		ERR(d, ZW_LOC(0, 0), 1, "out of memory checking flow ids");
		return;
	}
	for (size_t i = 0; i < m->n_flows; i++)
		if (m->flows[i].id)
			idx[n++] = i;
	sort_m = m;
	qsort(idx, n, sizeof(*idx), cmp_flow_id);
	for (size_t i = 1; i < n; i++) {
		const struct zw_flow *a = &m->flows[idx[i - 1]];
		const struct zw_flow *b = &m->flows[idx[i]];
		size_t first = i - 1;

		if (strcmp(a->id, b->id))
			continue;
		while (first > 0 && !strcmp(m->flows[idx[first - 1]].id, b->id))
			first--;
		ERR(d, or_loc(b->locs.id, b->loc), 3,
		    "duplicate flow id '%s' (first at line %u)", b->id,
		    m->flows[idx[first]].locs.id.line);
	}
	free(idx);
}

/* ---- ZW010 overlaps ---- */

struct zpfx {
	const struct zw_prefix *p;
	uint32_t zone;
};

static int cmp_zpfx(const void *a, const void *b)
{
	const struct zpfx *x = a, *y = b;
	int c;

	if (x->p->family != y->p->family)
		return x->p->family < y->p->family ? -1 : 1;
	c = memcmp(x->p->addr, y->p->addr, 16);
	if (c)
		return c;
	if (x->p->len != y->p->len)
		return x->p->len < y->p->len ? -1 : 1;
	return x->zone < y->zone ? -1 : x->zone > y->zone;
}

/* Sorted by address then length, a prefix containing another comes first:
 * a stack of the prefixes still "open" finds every containment in one
 * pass. */
static void check_overlaps(const struct zw_matrix *m, struct zw_diags *d)
{
	size_t total = 0, n = 0, depth = 0;
	struct zpfx *v, *stack[130];

	for (size_t z = 1; z < m->n_zones; z++)
		total += m->zones[z].n_networks;
	if (!total)
		return;
	v = malloc(total * sizeof(*v));
	if (!v) {
		ERR(d, ZW_LOC(0, 0), 1, "out of memory checking overlaps");
		return;
	}
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t i = 0; i < m->zones[z].n_networks; i++)
			v[n++] = (struct zpfx){&m->zones[z].networks[i], (uint32_t)z};
	qsort(v, n, sizeof(*v), cmp_zpfx);
	for (size_t i = 0; i < n; i++) {
		while (depth && !zw_prefix__contains(stack[depth - 1]->p, v[i].p))
			depth--;
		for (size_t k = 0; k < depth; k++) {
			char a[64], b[64];

			if (stack[k]->zone == v[i].zone)
				continue;
			ERR(d, v[i].p->loc, 10,
			    "%s of zone '%s' overlaps %s of zone '%s' (line %u)",
			    zw_prefix__format(v[i].p, a),
			    m->zones[v[i].zone].name,
			    zw_prefix__format(stack[k]->p, b),
			    m->zones[stack[k]->zone].name, stack[k]->p->loc.line);
		}
		if (depth < sizeof(stack) / sizeof(stack[0]))
			stack[depth++] = &v[i];
	}
	free(v);
}

/* ---- ZW012, ZW013: broad zones ---- */

/* A zone is *broad* in a family when its networks together hold more
 * addresses than a /7, 1/128 of the family's space (2^25 IPv4, 2^121 IPv6
 * addresses): a default route, a /0 to /6, or prefixes that add up to as
 * much. All of RFC 1918 with 100.64.0.0/10 stays below (about 2^24.3). */
#define BROAD_LOG2_V4 25
#define BROAD_LOG2_V6 121

static int cmp_ival_lo(const void *a, const void *b);

/* Addresses in the union of @z's networks of @family: *count, or *full
 * when it is the whole family (2^128 does not fit). The networks giving
 * the most addresses is *widest. */
static int zone_size(const struct zw_zone *z, uint8_t family, zw_u128 *count,
		     bool *full, const struct zw_prefix **widest)
{
	struct zw_ival *v = malloc((z->n_networks + 1) * sizeof(*v));
	size_t n = 0;

	*count = 0;
	*full = false;
	*widest = NULL;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < z->n_networks; i++) {
		const struct zw_prefix *p = &z->networks[i];

		if (p->family != family)
			continue;
		v[n++] = zw_prefix_ival(p);
		if (!*widest || p->len < (*widest)->len)
			*widest = p;
	}
	qsort(v, n, sizeof(*v), cmp_ival_lo);
	for (size_t i = 0; i < n;) {
		zw_u128 lo = v[i].lo, hi = v[i].hi;

		for (i++; i < n && v[i].lo <= hi; i++)
			if (v[i].hi > hi)
				hi = v[i].hi;
		if (lo == 0 && hi == ~(zw_u128)0) {
			*full = true;
			break;
		}
		*count += hi - lo + 1;
	}
	free(v);
	return 0;
}

/* "4294967296" (IPv4), "2^120" or "more than 2^120" (IPv6). */
static const char *count_text(uint8_t family, zw_u128 count, bool full,
			      char buf[48])
{
	int log2 = 0;

	if (family == ZW_AF_INET) {
		snprintf(buf, 48, "%llu", (unsigned long long)count);
		return buf;
	}
	if (full) {
		snprintf(buf, 48, "2^128");
		return buf;
	}
	while (log2 < 127 && count >> (log2 + 1))
		log2++;
	snprintf(buf, 48, "%s2^%d", count == (zw_u128)1 << log2 ? "" : "more than ",
		 log2);
	return buf;
}

static void check_broad(const struct zw_matrix *m, struct zw_diags *d)
{
	static const uint8_t fam[] = {ZW_AF_INET, ZW_AF_INET6};

	for (size_t zi = 1; zi < m->n_zones; zi++) {
		const struct zw_zone *z = &m->zones[zi];

		for (size_t f = 0; f < 2; f++) {
			int lim = fam[f] == ZW_AF_INET ? BROAD_LOG2_V4 : BROAD_LOG2_V6;
			const struct zw_prefix *w;
			char num[48], px[64];
			zw_u128 count;
			bool full;

			if (zone_size(z, fam[f], &count, &full, &w) < 0) {
				ERR(d, z->loc, 1, "out of memory checking zone sizes");
				return;
			}
			if (!full && count <= (zw_u128)1 << lim)
				continue;
			count_text(fam[f], count, full, num);
			zw_prefix__format(w, px);
			if (zw_zone_kind__internal(z->kind))
				ERR(d, or_loc(w->loc, z->loc), 12,
				    "zone '%s' is of internal kind '%s' and its %s networks hold %s addresses (more than a /7; widest %s): an internal zone holds your own networks, never the internet",
				    z->name, zw_zone_kind__name(z->kind),
				    fam[f] == ZW_AF_INET ? "IPv4" : "IPv6", num, px);
			else
				WARN(d, or_loc(w->loc, z->loc), 13,
				     "zone '%s' (%s): its %s networks hold %s addresses (more than a /7; widest %s)",
				     z->name, zw_zone_kind__name(z->kind),
				     fam[f] == ZW_AF_INET ? "IPv4" : "IPv6", num, px);
		}
	}
}

/* ---- ZW014: IPv4-mapped IPv6 prefixes ---- */

/* Inside ::ffff:0:0/96, an IPv6 spelling of IPv4 addresses: one host
 * would have two spellings, possibly in two zones. */
static bool ipv4_mapped(const struct zw_prefix *p)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return p->family == ZW_AF_INET6 && p->len >= 96 &&
	       !memcmp(p->addr, mapped, sizeof(mapped));
}

static void check_mapped(const struct zw_prefix *v, size_t n, const char *kind,
			 const char *name, const char *key, struct zw_diags *d)
{
	for (size_t i = 0; i < n; i++) {
		struct zw_prefix v4 = {.family = ZW_AF_INET};
		char a[64], b[64];

		if (!ipv4_mapped(&v[i]))
			continue;
		memcpy(v4.addr, v[i].addr + 12, 4);
		v4.len = (uint8_t)(v[i].len - 96);
		ERR(d, v[i].loc, 14,
		    "%s '%s' %s: %s is an IPv4-mapped IPv6 prefix; write it as IPv4, %s",
		    kind, name, key, zw_prefix__format(&v[i], a),
		    zw_prefix__format(&v4, b));
	}
}

static void check_mapped_all(const struct zw_matrix *m, struct zw_diags *d)
{
	for (size_t z = 1; z < m->n_zones; z++)
		check_mapped(m->zones[z].networks, m->zones[z].n_networks,
			     "zone", m->zones[z].name, "networks", d);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		check_mapped(f->src, f->n_src, "flow", f->id ? f->id : "?", "src", d);
		check_mapped(f->dst, f->n_dst, "flow", f->id ? f->id : "?", "dst", d);
	}
}

/* ---- ZW011 ---- */

static int cmp_ival_lo(const void *a, const void *b)
{
	const struct zw_ival *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* True if @p lies in the union of the zone's networks: in one of them, or
 * tiled by several (10.0.0.0/24 over 10.0.0.0/25 and 10.0.0.128/25). */
static bool in_zone(const struct zw_zone *z, const struct zw_prefix *p)
{
	struct zw_ival *v, want = zw_prefix_ival(p);
	size_t n = 0;
	bool ok;

	for (size_t i = 0; i < z->n_networks; i++)
		if (zw_prefix__contains(&z->networks[i], p))
			return true;
	v = malloc((z->n_networks + 1) * sizeof(*v));
	if (!v)
		return false; /* reported as outside: fails closed */
	for (size_t i = 0; i < z->n_networks; i++)
		if (zw_prefix__contains(p, &z->networks[i]))
			v[n++] = zw_prefix_ival(&z->networks[i]);
	qsort(v, n, sizeof(*v), cmp_ival_lo);
	/* Every network here lies inside @p: walk them in order and see that
	 * they leave no gap up to its last address. */
	zw_u128 reach = want.lo; /* first address not covered yet */

	ok = false;
	for (size_t i = 0; i < n; i++) {
		if (v[i].lo > reach)
			break;
		if (v[i].hi >= want.hi) {
			ok = true;
			break;
		}
		if (v[i].hi >= reach)
			reach = v[i].hi + 1; /* below want.hi: cannot wrap */
	}
	free(v);
	return ok;
}

static const struct zw_zone *declared_overlap(const struct zw_matrix *m,
					      const struct zw_prefix *p)
{
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t i = 0; i < m->zones[z].n_networks; i++)
			if (zw_prefix__overlap(&m->zones[z].networks[i], p))
				return &m->zones[z];
	return NULL;
}

static void check_narrowing(const struct zw_matrix *m, const struct zw_flow *f,
			    uint32_t zone, const struct zw_prefix *v, size_t n,
			    const char *key, struct zw_diags *d)
{
	const char *id = f->id ? f->id : "?";

	if (!zone_ok(m, zone))
		return;
	for (size_t i = 0; i < n; i++) {
		char b[64];

		if (zone == ZW_ZONE_OUTSIDE) {
			const struct zw_zone *z = declared_overlap(m, &v[i]);

			if (z)
				ERR(d, v[i].loc, 11,
				    "flow %s: %s %s is in zone '%s', not outside",
				    id, key, zw_prefix__format(&v[i], b),
				    z->name);
		} else if (!in_zone(&m->zones[zone], &v[i])) {
			ERR(d, v[i].loc, 11,
			    "flow %s: %s %s is not inside zone '%s'", id, key,
			    zw_prefix__format(&v[i], b), m->zones[zone].name);
		}
	}
}

/* ---- ZW020 ---- */

static void check_profile(const struct zw_matrix *m, struct zw_diags *d)
{
	static const enum zw_zone_kind minimal[] = {
		ZW_KIND_OPERATIONS, ZW_KIND_SERVERS, ZW_KIND_ADMIN,
		ZW_KIND_UPDATE, ZW_KIND_REMOTE_ACCESS};
	static const enum zw_zone_kind piams[] = {
		ZW_KIND_OPERATIONS, ZW_KIND_SERVERS,
		ZW_KIND_ADMIN, ZW_KIND_UPDATE,
		ZW_KIND_INFRASTRUCTURE, ZW_KIND_INTERNAL_SERVICE,
		ZW_KIND_REMOTE_ACCESS};
	const enum zw_zone_kind *req = m->profile == ZW_PROFILE_PIAMS ? piams : minimal;
	size_t nreq = m->profile == ZW_PROFILE_PIAMS
			      ? sizeof(piams) / sizeof(piams[0])
			      : sizeof(minimal) / sizeof(minimal[0]);
	bool have[ZW_KIND__COUNT] = {false};
	bool exchange = false;

	for (size_t z = 1; z < m->n_zones; z++) {
		have[m->zones[z].kind] = true;
		exchange |= zw_zone_kind__exchange(m->zones[z].kind);
	}
	for (size_t i = 0; i < nreq; i++)
		if (!have[req[i]])
			ERR(d, ZW_LOC(1, 1), 20,
			    "profile %s requires a zone of kind '%s'",
			    zw_profile__name(m->profile), zw_zone_kind__name(req[i]));
	if (!exchange)
		ERR(d, ZW_LOC(1, 1), 20,
		    "profile %s requires an exchange zone (provider-exchange, client-exchange or third-party-exchange)",
		    zw_profile__name(m->profile));
}

/* ---- per-flow checks ---- */

static void check_flow(const struct zw_matrix *m, const struct zw_flow *f,
		       int32_t today, struct zw_diags *d)
{
	const char *id = f->id ? f->id : "?";
	bool zones = zone_ok(m, f->from) && zone_ok(m, f->to);
	const struct zw_zone *zf = zones ? &m->zones[f->from] : NULL;
	const struct zw_zone *zt = zones ? &m->zones[f->to] : NULL;
	char date[11];

	if (blank(f->justification))
		ERR(d, or_loc(f->locs.justification, f->loc), 30,
		    "flow %s: missing or empty justification", id);

	bool unsafe = false;

	for (size_t i = 0; i < f->n_services; i++) {
		const struct zw_service *s = &m->services[f->services[i]];

		if (s->unsafe && blank(f->compensating) && !unsafe) {
			ERR(d, or_loc(f->locs.services, f->loc), 31,
			    "flow %s: service '%s' is unsafe and the flow has no 'compensating' measures",
			    id, s->name);
			unsafe = true;
		}
	}

	check_narrowing(m, f, f->from, f->src, f->n_src, "src", d);
	check_narrowing(m, f, f->to, f->dst, f->n_dst, "dst", d);

	if (zones) {
		if (zf->kind == ZW_KIND_OPERATIONS && f->from == f->to)
			ERR(d, or_loc(f->locs.to, f->loc), 21,
			    "flow %s: operations zone '%s' must not talk to itself (workstation isolation)",
			    id, zf->name);
		if ((f->from == ZW_ZONE_OUTSIDE && zw_zone_kind__internal(zt->kind)) ||
		    (f->to == ZW_ZONE_OUTSIDE && zw_zone_kind__internal(zf->kind)))
			ERR(d, or_loc(f->from == ZW_ZONE_OUTSIDE ? f->locs.to : f->locs.from, f->loc), 22,
			    "flow %s: '%s' (%s) talks directly to outside; go through an interconnection zone",
			    id, f->from == ZW_ZONE_OUTSIDE ? zt->name : zf->name,
			    zw_zone_kind__name(f->from == ZW_ZONE_OUTSIDE ? zt->kind : zf->kind));
		if (zt->kind == ZW_KIND_ADMIN && f->from != f->to &&
		    !zw_zone_kind__internal(zf->kind) &&
		    zf->kind != ZW_KIND_REMOTE_ACCESS &&
		    zf->kind != ZW_KIND_OUTSIDE /* that is ZW022 */)
			ERR(d, or_loc(f->locs.from, f->loc), 23,
			    "flow %s: admin zone '%s' must not be reachable from '%s' (%s); only remote-access may reach it",
			    id, zt->name, zf->name, zw_zone_kind__name(zf->kind));
		for (size_t i = 0; i < f->n_services; i++) {
			const struct zw_service *s = &m->services[f->services[i]];

			if (f->from != f->to && (s->classes & ZW_SVC_ADMIN) && s->unsafe)
				WARN(d, or_loc(f->locs.services, f->loc), 32,
				     "flow %s: admin protocol '%s' crosses from '%s' to '%s' unencrypted",
				     id, s->name, zf->name, zt->name);
			if (f->from == ZW_ZONE_OUTSIDE && zt->kind == ZW_KIND_REMOTE_ACCESS &&
			    !(s->classes & (ZW_SVC_VPN | ZW_SVC_TLS)))
				WARN(d, or_loc(f->locs.services, f->loc), 33,
				     "flow %s: remote access from outside on '%s', which is neither a VPN nor TLS",
				     id, s->name);
		}
	}

	if (f->expires != ZW_DATE_NONE && f->expires < today)
		WARN(d, or_loc(f->locs.expires, f->loc), 41,
		     "flow %s expired on %s and is no longer enforced", id,
		     zw_date__format(f->expires, date));
	if (f->review != ZW_DATE_NONE && today - f->review > 365)
		WARN(d, or_loc(f->locs.review, f->loc), 41,
		     "flow %s: last review %s is %d days old (review at least yearly)",
		     id, zw_date__format(f->review, date), today - f->review);
	if (f->review != ZW_DATE_NONE && f->review > today)
		WARN(d, or_loc(f->locs.review, f->loc), 41,
		     "flow %s: review date %s is in the future", id,
		     zw_date__format(f->review, date));
}

/* ---- ZW050 ---- */

static void check_unused(const struct zw_matrix *m, struct zw_diags *d)
{
	bool *used = calloc(m->n_zones ? m->n_zones : 1, sizeof(*used));

	for (size_t i = 0; i < m->n_services; i++)
		if (!m->services[i].builtin && !m->services[i].used)
			WARN(d, m->services[i].loc, 50,
			     "service '%s' is declared but no flow uses it",
			     m->services[i].name);
	if (!used)
		return;
	for (size_t i = 0; i < m->n_flows; i++) {
		if (zone_ok(m, m->flows[i].from))
			used[m->flows[i].from] = true;
		if (zone_ok(m, m->flows[i].to))
			used[m->flows[i].to] = true;
	}
	for (size_t z = 1; z < m->n_zones; z++)
		if (!used[z])
			WARN(d, m->zones[z].loc, 50,
			     "zone '%s' has no flow in or out", m->zones[z].name);
	free(used);
}

size_t zw_matrix__validate(struct zw_matrix *m, int32_t today,
			   struct zw_diags *d)
{
	check_duplicate_ids(m, d);
	check_overlaps(m, d);
	check_broad(m, d);
	check_mapped_all(m, d);
	check_profile(m, d);
	for (size_t z = 1; z < m->n_zones; z++)
		if (m->zones[z].kind == ZW_KIND_OPERATIONS && !m->zones[z].isolate)
			ERR(d, or_loc(m->zones[z].loc_isolate, m->zones[z].loc), 21,
			    "operations zone '%s' must set 'isolate: true' (workstations may not talk to each other)",
			    m->zones[z].name);
	for (size_t i = 0; i < m->n_flows; i++)
		check_flow(m, &m->flows[i], today, d);
	check_unused(m, d);
	zw_probes__check(m, d);
	/* Redundancy needs a sound model: skip it when anything is broken so
	 * it never reasons on half-parsed flows. */
	if (!d->n_errors)
		zw_redundancy__check(m, today, d);
	zw_diags__sort(d);
	return d->n_errors;
}
