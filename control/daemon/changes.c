/* SPDX-License-Identifier: BSD-2-Clause */
/* Flows and zones as the journal records them, and what changed between
 * two matrices (state.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal_priv.h"
#include "state.h"

static json_t *prefixes(const struct zw_prefix *p, size_t n)
{
	json_t *a = json_array();
	char buf[64];

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(zw_prefix__format(&p[i], buf)));
	return a;
}

static json_t *ranges(const struct zw_range *r, size_t n)
{
	json_t *a = json_array();
	char buf[16];

	for (size_t i = 0; a && i < n; i++) {
		if (r[i].lo == r[i].hi)
			snprintf(buf, sizeof(buf), "%u", r[i].lo);
		else
			snprintf(buf, sizeof(buf), "%u-%u", r[i].lo, r[i].hi);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *zone_ref(const struct zw_matrix *m, uint32_t z)
{
	const struct zw_zone *zone = &m->zones[z];

	if (z == ZW_ZONE_OUTSIDE)
		return json_pack("{s:s, s:s}", "zone", "outside", "kind",
				 "outside");
	return json_pack("{s:s, s:s, s:o}", "zone", zone->name, "kind",
			 zw_zone_kind__name(zone->kind), "networks",
			 prefixes(zone->networks, zone->n_networks));
}

static json_t *service_json(const struct zw_service *s)
{
	json_t *entries = json_array();
	char pbuf[4];

	for (size_t i = 0; entries && i < s->n_entries; i++) {
		const struct zw_svc_entry *e = &s->entries[i];
		json_t *o = json_pack("{s:s}", "proto",
				      zw_proto__name(e->proto, pbuf));

		if (e->n_ports)
			json_object_set_new(o, "ports",
					    ranges(e->ports, e->n_ports));
		if (e->n_types)
			json_object_set_new(o, "types",
					    ranges(e->types, e->n_types));
		json_array_append_new(entries, o);
	}
	return json_pack("{s:s, s:o, s:b, s:s?}", "name", s->name, "entries",
			 entries, "unsafe", s->unsafe, "inspect", s->inspect);
}

static json_t *date_or_null(int32_t d)
{
	char buf[11];

	if (d == ZW_DATE_NONE)
		return json_null();
	return json_string(zw_date__format(d, buf));
}

json_t *zw_flow__json(const struct zw_matrix *m, const struct zw_flow *f)
{
	json_t *svcs = json_array();

	for (size_t i = 0; svcs && i < f->n_services; i++)
		json_array_append_new(svcs,
				      service_json(&m->services[f->services[i]]));
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s?, s:s?,"
			 " s:o, s:o, s:b, s:I}",
			 "id", f->id, "from", zone_ref(m, f->from), "to",
			 zone_ref(m, f->to), "src", prefixes(f->src, f->n_src),
			 "dst", prefixes(f->dst, f->n_dst), "services", svcs,
			 "justification", f->justification ? f->justification : "",
			 "compensating", f->compensating, "owner", f->owner,
			 "review", date_or_null(f->review), "expires",
			 date_or_null(f->expires), "log", f->log, "rate",
			 (json_int_t)f->rate);
}

json_t *zw_zone__json(const struct zw_matrix *m, const struct zw_zone *z)
{
	(void)m;
	return json_pack("{s:s, s:s, s:o, s:b, s:s?}", "name", z->name, "kind",
			 zw_zone_kind__name(z->kind), "networks",
			 prefixes(z->networks, z->n_networks), "isolate",
			 z->isolate, "description", z->description);
}

json_t *zw_probe__json(const struct zw_matrix *m, const struct zw_probe *p)
{
	json_t *zones = json_array();

	for (size_t i = 0; zones && i < p->n_zones; i++)
		json_array_append_new(zones,
				      json_string(m->zones[p->zones[i]].name));
	return json_pack("{s:s, s:s, s:o, s:s, s:s?}", "name", p->name,
			 "interface", p->interface, "zones", zones, "traffic",
			 p->traffic == ZW_PROBE_ALLOWED ? "allowed" : "all",
			 "description", p->description);
}

struct item {
	const char *name;
	int idx;
	char *json;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name,
		      ((const struct item *)b)->name);
}

enum kind { K_ZONES, K_FLOWS, K_PROBES };

/* Items of @m (zones, flows or probes) sorted by name, with canonical
 * JSON. */
static struct item *items(const struct zw_matrix *m, enum kind kind,
			  size_t *n)
{
	bool zones = kind == K_ZONES;
	size_t cnt = !m ? 0 : zones ? (m->n_zones ? m->n_zones - 1 : 0)
			 : kind == K_PROBES ? m->n_probes
					    : m->n_flows;
	struct item *v = calloc(cnt + 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < cnt; i++) {
		json_t *o;

		if (zones) {
			v[i].name = m->zones[i + 1].name;
			v[i].idx = (int)i + 1;
			o = zw_zone__json(m, &m->zones[i + 1]);
		} else if (kind == K_PROBES) {
			v[i].name = m->probes[i].name;
			v[i].idx = (int)i;
			o = zw_probe__json(m, &m->probes[i]);
		} else {
			v[i].name = m->flows[i].id;
			v[i].idx = (int)i;
			o = zw_flow__json(m, &m->flows[i]);
		}
		v[i].json = o ? zw_json__canonical(o) : NULL;
		json_decref(o);
		if (!v[i].json) {
			for (size_t k = 0; k <= i; k++)
				free(v[k].json);
			free(v);
			return NULL;
		}
	}
	qsort(v, cnt, sizeof(*v), by_name);
	*n = cnt;
	return v;
}

static int push(struct zw_change **out, size_t *n, size_t *cap,
		enum zw_journal_action a, struct item *o, struct item *nw)
{
	struct zw_change *c;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct zw_change *x = realloc(*out, nc * sizeof(*x));

		if (!x)
			return -ENOMEM;
		*out = x;
		*cap = nc;
	}
	c = &(*out)[(*n)++];
	c->action = a;
	c->name = nw ? nw->name : o->name;
	c->old_idx = o ? o->idx : -1;
	c->new_idx = nw ? nw->idx : -1;
	/* ownership of the JSON texts moves to the change */
	c->before = o ? o->json : NULL;
	c->after = nw ? nw->json : NULL;
	if (o)
		o->json = NULL;
	if (nw)
		nw->json = NULL;
	return 0;
}

static int diff(struct item *a, size_t na, struct item *b, size_t nb,
		enum kind kind, struct zw_change **out, size_t *n, size_t *cap)
{
	static const enum zw_journal_action acts[3][3] = {
		[K_ZONES] = {ZW_JA_ZONE_ADDED, ZW_JA_ZONE_CHANGED,
			     ZW_JA_ZONE_REMOVED},
		[K_FLOWS] = {ZW_JA_FLOW_ADDED, ZW_JA_FLOW_CHANGED,
			     ZW_JA_FLOW_REMOVED},
		[K_PROBES] = {ZW_JA_PROBE_ADDED, ZW_JA_PROBE_CHANGED,
			      ZW_JA_PROBE_REMOVED},
	};
	size_t i = 0, k = 0;
	enum zw_journal_action add = acts[kind][0], chg = acts[kind][1],
			       rem = acts[kind][2];

	while (i < na || k < nb) {
		int c = i == na	  ? 1
			: k == nb ? -1
				  : strcmp(a[i].name, b[k].name);
		int r = 0;

		if (c < 0) {
			r = push(out, n, cap, rem, &a[i++], NULL);
		} else if (c > 0) {
			r = push(out, n, cap, add, NULL, &b[k++]);
		} else {
			if (strcmp(a[i].json, b[k].json))
				r = push(out, n, cap, chg, &a[i], &b[k]);
			i++;
			k++;
		}
		if (r)
			return r;
	}
	return 0;
}

static void items_free(struct item *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].json);
	free(v);
}

int zw_matrix__changes(const struct zw_matrix *old, const struct zw_matrix *new,
		       struct zw_change **out, size_t *n)
{
	size_t nzo, nzn, nfo, nfn, npo, npn, cap = 0;
	struct item *zo = items(old, K_ZONES, &nzo), *zn = items(new, K_ZONES, &nzn);
	struct item *fo = items(old, K_FLOWS, &nfo), *fn = items(new, K_FLOWS, &nfn);
	struct item *po = items(old, K_PROBES, &npo),
		    *pn = items(new, K_PROBES, &npn);
	int r = -ENOMEM;

	*out = NULL;
	*n = 0;
	if (!zo || !zn || !fo || !fn || !po || !pn)
		goto out;
	r = diff(zo, nzo, zn, nzn, K_ZONES, out, n, &cap);
	if (!r)
		r = diff(fo, nfo, fn, nfn, K_FLOWS, out, n, &cap);
	if (!r)
		r = diff(po, npo, pn, npn, K_PROBES, out, n, &cap);
	if (r) {
		zw_changes__free(*out, *n);
		*out = NULL;
		*n = 0;
	}
out:
	items_free(zo, nzo);
	items_free(zn, nzn);
	items_free(fo, nfo);
	items_free(fn, nfn);
	items_free(po, npo);
	items_free(pn, npn);
	return r;
}

void zw_changes__free(struct zw_change *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].before);
		free(c[i].after);
	}
	free(c);
}

static bool check(const char *text, const char *what, const char *name,
		  char *why, size_t len)
{
	char kind[64];

	if (!text || !zw_secret__find(text, kind, sizeof(kind)))
		return false;
	snprintf(why, len,
		 "%s of %s seems to contain a secret (%s): never put "
		 "passwords or keys in the matrix",
		 what, name, kind);
	return true;
}

bool zw_matrix__has_secret(const struct zw_matrix *m, char *why, size_t len)
{
	for (size_t i = 1; i < m->n_zones; i++)
		if (check(m->zones[i].description, "the description",
			  m->zones[i].name, why, len))
			return true;
	for (size_t i = 0; i < m->n_probes; i++)
		if (check(m->probes[i].description, "the description",
			  m->probes[i].name, why, len))
			return true;
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		if (check(f->justification, "the justification", f->id, why,
			  len) ||
		    check(f->compensating, "the compensating measures", f->id,
			  why, len) ||
		    check(f->owner, "the owner", f->id, why, len))
			return true;
	}
	return false;
}

bool zw_matrix__source_has_secret(const char *text, size_t text_len,
				  const char *file, char *why, size_t len)
{
	char kind[64], *comp = file ? strdup(file) : NULL;
	size_t line = 0;
	bool in_name;

	/* A path is scanned component by component: '/' is a base64 character,
	 * so a whole path would read as one long "random-looking token"
	 * (temporary directories, build trees) where no component is one. */
	if (file && !comp)
		return false;
	for (char *c = comp; c && *c; c++)
		if (*c == '/')
			*c = ' ';
	in_name = comp && zw_secret__find(comp, kind, sizeof(kind));
	free(comp);
	if (in_name) {
		snprintf(why, len,
			 "the matrix file name seems to contain a secret (%s): "
			 "never put passwords or keys in file names",
			 kind);
		return true;
	}
	if (text && zw_secret__find_lines(text, text_len, &line, kind,
					  sizeof(kind))) {
		snprintf(why, len,
			 "line %zu of the matrix seems to contain a secret "
			 "(%s): never put passwords or keys in the matrix, "
			 "comments included",
			 line, kind);
		return true;
	}
	return false;
}
