/* SPDX-License-Identifier: BSD-2-Clause */
/* What zonectl show and diff share: loading a valid matrix, writing the
 * output, the zone grid, the text of services and addresses. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "show.h"
#include "zonectl.h"

/* ---- grid ---- */

static bool flow_narrowed(const struct zw_flow *f)
{
	return f->n_src || f->n_dst;
}

static int cell_add(struct zw_grid_cell *c, uint32_t service, uint32_t flow,
		    bool narrowed)
{
	struct zw_grid_item *it = NULL;
	uint32_t *nf;

	for (size_t i = 0; i < c->n_items; i++)
		if (c->items[i].service == service)
			it = &c->items[i];
	if (!it) {
		struct zw_grid_item *v = realloc(c->items, (c->n_items + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->items = v;
		it = &c->items[c->n_items++];
		memset(it, 0, sizeof(*it));
		it->service = service;
		it->narrowed = true;
	}
	for (size_t i = 0; i < it->n_flows; i++)
		if (it->flows[i] == flow)
			return 0;
	nf = realloc(it->flows, (it->n_flows + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	it->flows = nf;
	it->flows[it->n_flows++] = flow;
	if (!narrowed)
		it->narrowed = false;
	return 0;
}

struct zw_grid *zw_grid__new(const struct zw_matrix *m, int32_t day)
{
	struct zw_grid *g = calloc(1, sizeof(*g));
	uint32_t *pos = NULL; /* zone index -> display position */
	bool outside = false;

	if (!g)
		return NULL;
	g->m = m;
	for (size_t i = 0; i < m->n_flows; i++)
		if (m->flows[i].from == ZW_ZONE_OUTSIDE ||
		    m->flows[i].to == ZW_ZONE_OUTSIDE)
			outside = true;
	g->zones = calloc(m->n_zones + 1, sizeof(*g->zones));
	pos = calloc(m->n_zones + 1, sizeof(*pos));
	g->expired = calloc(m->n_flows + 1, sizeof(*g->expired));
	if (!g->zones || !pos || !g->expired)
		goto err;
	for (size_t z = 1; z < m->n_zones; z++) {
		pos[z] = (uint32_t)g->n;
		g->zones[g->n++] = (uint32_t)z;
	}
	if (outside) {
		pos[ZW_ZONE_OUTSIDE] = (uint32_t)g->n;
		g->zones[g->n++] = ZW_ZONE_OUTSIDE;
	}
	g->cells = calloc(g->n * g->n + 1, sizeof(*g->cells));
	if (!g->cells)
		goto err;
	for (size_t i = 0; i < g->n; i++) {
		uint32_t z = g->zones[i];
		struct zw_grid_cell *c = zw_grid__cell(g, i, i);

		if (z == ZW_ZONE_OUTSIDE)
			continue;
		c->isolated = m->zones[z].isolate;
		c->same_any = !m->zones[z].isolate;
	}
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		struct zw_grid_cell *c;

		if (!zw_flow__live(f, day)) {
			g->expired[g->n_expired++] = (uint32_t)i;
			continue;
		}
		c = zw_grid__cell(g, pos[f->from], pos[f->to]);
		for (size_t s = 0; s < f->n_services; s++)
			if (cell_add(c, f->services[s], (uint32_t)i, flow_narrowed(f)))
				goto err;
	}
	free(pos);
	return g;
err:
	free(pos);
	zw_grid__free(g);
	errno = ENOMEM;
	return NULL;
}

void zw_grid__free(struct zw_grid *g)
{
	if (!g)
		return;
	for (size_t i = 0; g->cells && i < g->n * g->n; i++) {
		for (size_t k = 0; k < g->cells[i].n_items; k++)
			free(g->cells[i].items[k].flows);
		free(g->cells[i].items);
	}
	free(g->cells);
	free(g->zones);
	free(g->expired);
	free(g);
}

/* ---- text ---- */

/* A memory stream: open, write, close to get the string. */
struct sbuf {
	char *s;
	size_t len;
	FILE *f;
};

static bool sb_open(struct sbuf *b)
{
	b->s = NULL;
	b->len = 0;
	b->f = open_memstream(&b->s, &b->len);
	return b->f != NULL;
}

static char *sb_close(struct sbuf *b)
{
	if (fclose(b->f) != 0) {
		free(b->s);
		errno = ENOMEM;
		return NULL;
	}
	return b->s;
}

static void ranges(FILE *f, const struct zw_svc_entry *e, const char *sep)
{
	const struct zw_range *r;
	size_t n;
	bool icmp = zw_proto__is_icmp(e->proto);

	if (zw_proto__has_ports(e->proto)) {
		r = e->ports;
		n = e->n_ports;
	} else if (icmp) {
		r = e->types;
		n = e->n_types;
	} else {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = icmp && r[i].lo == r[i].hi
					   ? zw_icmp_type__name(e->proto, (uint8_t)r[i].lo)
					   : NULL;

		if (i)
			fputs(sep, f);
		if (name)
			fputs(name, f);
		else if (r[i].lo == r[i].hi)
			fprintf(f, "%u", r[i].lo);
		else
			fprintf(f, "%u-%u", r[i].lo, r[i].hi);
	}
}

char *zw_show_ranges_text(const struct zw_svc_entry *e, const char *sep)
{
	struct sbuf b;

	if (!sb_open(&b))
		return NULL;
	ranges(b.f, e, sep);
	return sb_close(&b);
}

static void entry(FILE *f, const struct zw_svc_entry *e)
{
	char pb[4];
	const char *p = zw_proto__name(e->proto, pb);

	if (zw_proto__has_ports(e->proto) ||
	    (zw_proto__is_icmp(e->proto) && e->n_types)) {
		fprintf(f, "%s/", p);
		ranges(f, e, ",");
	} else if (zw_proto__is_icmp(e->proto)) {
		fputs(p, f);
	} else {
		fprintf(f, "proto %s", p);
	}
}

char *zw_show_entry_text(const struct zw_svc_entry *e)
{
	struct sbuf b;

	if (!sb_open(&b))
		return NULL;
	entry(b.f, e);
	return sb_close(&b);
}

char *zw_show_service_text(const struct zw_service *s)
{
	struct sbuf b;

	if (!sb_open(&b))
		return NULL;
	for (size_t i = 0; i < s->n_entries; i++) {
		if (i)
			fputs(" + ", b.f);
		entry(b.f, &s->entries[i]);
	}
	return sb_close(&b);
}

char *zw_show_prefixes_text(const struct zw_prefix *p, size_t n,
			    const char *sep)
{
	struct sbuf b;
	char buf[64];

	if (!sb_open(&b))
		return NULL;
	for (size_t i = 0; i < n; i++)
		fprintf(b.f, "%s%s", i ? sep : "", zw_prefix__format(&p[i], buf));
	return sb_close(&b);
}

char *zw_show_flow_services(const struct zw_matrix *m,
			    const struct zw_flow *f, const char *sep)
{
	struct sbuf b;

	if (!sb_open(&b))
		return NULL;
	for (size_t i = 0; i < f->n_services; i++)
		fprintf(b.f, "%s%s", i ? sep : "", m->services[f->services[i]].name);
	return sb_close(&b);
}

bool zw_show_flow_unsafe(const struct zw_matrix *m, const struct zw_flow *f)
{
	for (size_t i = 0; i < f->n_services; i++)
		if (m->services[f->services[i]].unsafe)
			return true;
	return false;
}

bool zw_show_review_stale(const struct zw_flow *f, int32_t today)
{
	return f->review != ZW_DATE_NONE && today - f->review > ZW_REVIEW_MAX_DAYS;
}

const char *zw_show_kind_class(enum zw_zone_kind k)
{
	if (k == ZW_KIND_OUTSIDE)
		return "outside";
	return zw_zone_kind__internal(k) ? "internal" : "interconnection";
}

void zw_html_escape(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}
