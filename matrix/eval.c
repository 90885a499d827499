/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reference evaluator on the matrix model. The same semantics read from
 * the compiled image live in image/eval.c (libzwimage, so engines need no
 * YAML); the golden round-trip test demands the two readings agree. Linear
 * scans on purpose: this is the oracle, not a fast path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

static uint32_t model_zone_of(const struct zw_matrix *m, uint8_t family,
			      const uint8_t *addr)
{
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t i = 0; i < m->zones[z].n_networks; i++)
			if (zw_prefix__contains_addr(&m->zones[z].networks[i],
						     family, addr))
				return (uint32_t)z;
	return ZW_ZONE_OUTSIDE;
}

static bool in_list(const struct zw_prefix *v, size_t n, uint8_t family,
		    const uint8_t *addr)
{
	if (!n)
		return true; /* no narrowing: the whole zone */
	for (size_t i = 0; i < n; i++)
		if (zw_prefix__contains_addr(&v[i], family, addr))
			return true;
	return false;
}

static bool in_ranges(const struct zw_range *r, size_t n, uint16_t v)
{
	for (size_t i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static bool entry_matches(const struct zw_svc_entry *e, const struct zw_query *q)
{
	if (e->proto != q->proto)
		return false;
	if (zw_proto__has_ports(e->proto))
		return in_ranges(e->ports, e->n_ports, q->port);
	if (zw_proto__is_icmp(e->proto) && e->n_types)
		return q->port <= 255 && in_ranges(e->types, e->n_types, q->port);
	return true;
}

void zw_eval__matrix(const struct zw_matrix *m, const struct zw_query *q,
		     struct zw_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->flow = ZW_NO_FLOW;
	v->reason = ZW_VERDICT_NO_FLOW;
	v->src_zone = model_zone_of(m, q->family, q->src);
	v->dst_zone = model_zone_of(m, q->family, q->dst);

	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		if (f->from != v->src_zone || f->to != v->dst_zone ||
		    !zw_flow__live(f, q->day) ||
		    !in_list(f->src, f->n_src, q->family, q->src) ||
		    !in_list(f->dst, f->n_dst, q->family, q->dst))
			continue;
		for (size_t s = 0; s < f->n_services; s++) {
			const struct zw_service *svc = &m->services[f->services[s]];

			for (size_t e = 0; e < svc->n_entries; e++) {
				if (!entry_matches(&svc->entries[e], q))
					continue;
				v->allow = true;
				v->reason = ZW_VERDICT_FLOW;
				v->flow = (uint32_t)i;
				v->service = f->services[s];
				return;
			}
		}
	}
	zw_verdict__same_zone(v, m->zones[v->src_zone].isolate);
}
