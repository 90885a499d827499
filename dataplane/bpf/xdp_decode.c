/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Map entries → rules in matrix terms: the inverse of the projection
 * (xdp_tables.c), for read-back as data (backend.h, struct zw_held_rule).
 *
 * Every (port entry or range, candidate) says "flow F may decide
 * (from, to, proto) on these ports for these src/dst sets"; the pieces of
 * one (from, to, proto, flow, src set, dst set) are merged into maximal
 * port intervals. Works on tables read from the kernel as on tables built
 * from an image, so the unit test checks the round trip without a kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "xdp_tables.h"

/* One (interval, candidate) of the lookup structure. */
struct piece {
	uint16_t from, to;
	uint8_t proto;
	uint32_t flow, src_set, dst_set;
	uint32_t lo, hi;
	uint32_t port;	/* index in t->ports */
	uint32_t range; /* index in t->ranges, UINT32_MAX: exact port */
	uint32_t cand;	/* index in t->cands */
};

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

#define CMP(f)                                                               \
	if (x->f != y->f)                                                    \
		return x->f < y->f ? -1 : 1;
	CMP(from) CMP(to) CMP(proto) CMP(flow) CMP(src_set) CMP(dst_set)
	CMP(lo) CMP(hi)
#undef CMP
	return 0;
}

struct hidx {
	uint64_t hash;
	uint32_t idx;
};

static int cmp_hidx(const void *a, const void *b)
{
	uint64_t x = ((const struct hidx *)a)->hash;
	uint64_t y = ((const struct hidx *)b)->hash;

	return x < y ? -1 : x > y;
}

/* "a b c ..." (bpftool's way of printing bytes) */
static void hexb(FILE *f, const void *p, size_t n)
{
	const uint8_t *c = p;

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%02x", i ? " " : "", c[i]);
}

static void entry_line(FILE *f, const char *map, unsigned slot,
		       const void *k, size_t ks, const void *v, size_t vs)
{
	fprintf(f, "%s_%u key: ", map, slot);
	hexb(f, k, ks);
	fputs("  value: ", f);
	hexb(f, v, vs);
	fputc('\n', f);
}

struct pfx {
	uint8_t family, len;
	uint8_t addr[16];
};

static int cmp_pfx(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* The prefixes of narrowing set @set as held in sets4/sets6, as text: in
 * @names' order when @names' set @set holds exactly them, else sorted.
 * NULL for set 0 (whole zone) or on ENOMEM (*oom set). */
static char *set_text(const struct zw_xdp_tables *t, uint32_t set,
		      const struct zw_image *names, bool *oom)
{
	struct pfx *v = NULL, *w = NULL;
	size_t n = 0, i;
	char *out = NULL, buf[64];
	size_t len = 0;
	FILE *f = NULL;
	int same = 0;

	if (!set)
		return NULL;
	v = calloc(t->n_sets4 + t->n_sets6 + 1, sizeof(*v));
	if (!v)
		goto oom;
	for (i = 0; i < t->n_sets4; i++)
		if (ntohl(t->sets4[i].set) == set) {
			v[n].family = ZW_AF_INET;
			v[n].len = (uint8_t)(t->sets4[i].prefixlen - 32);
			memcpy(v[n++].addr, t->sets4[i].addr, 4);
		}
	for (i = 0; i < t->n_sets6; i++)
		if (ntohl(t->sets6[i].set) == set) {
			v[n].family = ZW_AF_INET6;
			v[n].len = (uint8_t)(t->sets6[i].prefixlen - 32);
			memcpy(v[n++].addr, t->sets6[i].addr, 16);
		}
	qsort(v, n, sizeof(*v), cmp_pfx);
	if (names && set < names->n_sets && names->sets[set].count == n) {
		const struct zw_img_set *s = &names->sets[set];

		w = calloc(n + 1, sizeof(*w));
		if (!w)
			goto oom;
		for (i = 0; i < n; i++) {
			const struct zw_img_narrow *x = &names->narrow[s->first + i];

			w[i].family = x->family;
			w[i].len = x->len;
			memcpy(w[i].addr, x->addr, 16);
		}
		qsort(w, n, sizeof(*w), cmp_pfx);
		same = !memcmp(v, w, n * sizeof(*v));
		if (same) /* the image's own order */
			for (i = 0; i < n; i++) {
				const struct zw_img_narrow *x =
					&names->narrow[s->first + i];

				w[i].family = x->family;
				w[i].len = x->len;
				memcpy(w[i].addr, x->addr, 16);
			}
	}
	f = open_memstream(&out, &len);
	if (!f)
		goto oom;
	if (!n)
		fputs("(empty set)", f);
	for (i = 0; i < n; i++) {
		const struct pfx *x = same ? &w[i] : &v[i];
		struct zw_prefix p = {.family = x->family, .len = x->len};

		memcpy(p.addr, x->addr, 16);
		fprintf(f, "%s%s", i ? "," : "", zw_prefix__format(&p, buf));
	}
	if (fclose(f)) {
		free(out);
		goto oom;
	}
	free(v);
	free(w);
	return out;
oom:
	*oom = true;
	free(v);
	free(w);
	return NULL;
}

static void zone_name(const struct zw_image *names, uint32_t z, char out[33])
{
	if (names && z < names->n_zones)
		snprintf(out, 33, "%s", zw_image__str(names, names->zones[z].name));
	else
		snprintf(out, 33, "zone#%u", z);
}

/* Append the pieces of the candidate list [first, first + count) for
 * interval [lo, hi] of port entry @pi (range @ri). */
static int add_pieces(const struct zw_xdp_tables *t, uint32_t pi, uint32_t ri,
		      uint32_t lo, uint32_t hi, uint32_t first, uint32_t count,
		      struct piece **v, size_t *n, size_t *cap)
{
	const struct zw_bpf_port_key *k = &t->ports[pi].k;

	/* the program reads at most ZW_BPF_CAND_SCAN candidates */
	for (uint32_t i = 0; i < count && i < ZW_BPF_CAND_SCAN; i++) {
		const struct zw_bpf_cand *c;

		if ((size_t)first + i >= t->n_cands)
			break;
		c = &t->cands[first + i];
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct piece *nv = realloc(*v, nc * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			*v = nv;
			*cap = nc;
		}
		(*v)[(*n)++] = (struct piece){
			.from = k->from, .to = k->to, .proto = k->proto,
			.flow = c->flow, .src_set = c->src_set,
			.dst_set = c->dst_set, .lo = lo, .hi = hi,
			.port = pi, .range = ri, .cand = first + i,
		};
	}
	return 0;
}

/* At most this many map entries are quoted per held rule. */
#define MAX_QUOTED 12

int zw_xdp_tables__held_rules(const struct zw_xdp_tables *t, unsigned slot,
			      const struct zw_image *names,
			      const struct zw_image *flow_names,
			      struct zw_backend_state *st)
{
	struct piece *v = NULL;
	struct hidx *h = NULL;
	size_t n = 0, cap = 0, i, j, nh = 0;
	int rc = 0;

	st->rules_known = true;
	for (uint32_t pi = 0; pi < t->n_ports && !rc; pi++) {
		const struct zw_xdp_port *e = &t->ports[pi];

		if (e->k.kind == ZW_BPF_PK_PORT) {
			rc = add_pieces(t, pi, UINT32_MAX, e->k.port, e->k.port,
					e->v.first, e->v.count, &v, &n, &cap);
			continue;
		}
		for (uint32_t r = 0; r < e->v.count && !rc; r++) {
			const struct zw_bpf_range *rg;

			if ((size_t)e->v.first + r >= t->n_ranges)
				break;
			rg = &t->ranges[e->v.first + r];
			rc = add_pieces(t, pi, e->v.first + r, rg->lo, rg->hi,
					rg->first, rg->count, &v, &n, &cap);
		}
	}
	if (rc)
		goto out;
	qsort(v, n, sizeof(*v), cmp_piece);

	/* flow names: by the id hash flowinfo holds */
	if (flow_names) {
		h = calloc(flow_names->n_flows + 1, sizeof(*h));
		if (!h) {
			rc = -ENOMEM;
			goto out;
		}
		for (uint32_t f = 0; f < flow_names->n_flows; f++)
			h[nh++] = (struct hidx){.hash = flow_names->flows[f].id_hash,
						.idx = f};
		qsort(h, nh, sizeof(*h), cmp_hidx);
	}

	for (i = 0; i < n && !rc; i = j) {
		struct zw_held_rule r = {.proto = v[i].proto};
		uint64_t hash = v[i].flow < t->n_flows ? t->flowinfo[v[i].flow].id_hash : 0;
		struct hidx key = {.hash = hash}, *found = NULL;
		uint32_t lo = v[i].lo, hi = v[i].hi, quoted = 0;
		char *text = NULL;
		size_t tlen = 0;
		bool oom = false;
		FILE *f;

		/* the pieces of this (pair, proto, flow, sets) that touch */
		for (j = i + 1; j < n && v[j].from == v[i].from && v[j].to == v[i].to &&
				v[j].proto == v[i].proto && v[j].flow == v[i].flow &&
				v[j].src_set == v[i].src_set &&
				v[j].dst_set == v[i].dst_set && v[j].lo <= hi + 1;
		     j++)
			if (v[j].hi > hi)
				hi = v[j].hi;
		zone_name(names, v[i].from, r.from);
		zone_name(names, v[i].to, r.to);
		r.any = lo == 0 && hi == 65535;
		r.lo = (uint16_t)lo;
		r.hi = (uint16_t)hi;
		if (hash && nh)
			found = bsearch(&key, h, nh, sizeof(*h), cmp_hidx);
		if (found)
			snprintf(r.flow_id, sizeof(r.flow_id), "%s",
				 zw_image__str(flow_names,
					       flow_names->flows[found->idx].id));
		r.src = set_text(t, v[i].src_set, names, &oom);
		r.dst = set_text(t, v[i].dst_set, names, &oom);
		f = open_memstream(&text, &tlen);
		if (!f) {
			oom = true;
		} else {
			if (!found)
				fprintf(f, "unknown flow: flow %u, id hash %016llx\n",
					v[i].flow, (unsigned long long)hash);
			for (size_t k = i; k < j; k++) {
				const struct piece *p = &v[k];
				const struct zw_xdp_port *e = &t->ports[p->port];
				uint32_t idx;

				if (quoted++ == MAX_QUOTED) {
					fputs("...\n", f);
					break;
				}
				entry_line(f, "zw_ports", slot, &e->k, sizeof(e->k),
					   &e->v, sizeof(e->v));
				if (p->range != UINT32_MAX) {
					idx = p->range;
					entry_line(f, "zw_ranges", slot, &idx, sizeof(idx),
						   &t->ranges[idx], sizeof(t->ranges[idx]));
				}
				idx = p->cand;
				entry_line(f, "zw_cands", slot, &idx, sizeof(idx),
					   &t->cands[idx], sizeof(t->cands[idx]));
			}
			if (fclose(f))
				oom = true;
			else if (tlen && text[tlen - 1] == '\n')
				text[tlen - 1] = 0;
		}
		r.engine_text = text;
		rc = oom ? -ENOMEM : zw_backend_state__add_rule(st, &r);
		free(r.src);
		free(r.dst);
		free(text);
	}
out:
	free(v);
	free(h);
	return rc;
}
