/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl diff OLD NEW: what changed between two valid matrices. First what
 * was written (matrix name and profile, zones, declared services, flows by
 * id: added, removed, changed field by field), then what it means: the
 * traffic NEW allows and OLD does not ("now allowed") and the reverse ("no
 * longer allowed"), computed exactly by zw_matrix__traffic_diff on one day,
 * grouped by zone pair in the zones of the matrix that allows it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "show.h"
#include "zonectl.h"

/* A value as text (for people) and as JSON (for scripts). */
struct val {
	char *text;
	char *json;
};

struct field {
	const char *name;
	struct val old, new_;
	bool prose; /* free text: shown on lines of their own */
};

struct item {
	char op; /* '+', '-', '~' */
	const char *name;
	char *summary; /* '+'/'-': one line of text */
	char *json;    /* '+'/'-': a JSON object */
	struct field *f;
	size_t n_f;
};

struct section {
	const char *title;
	struct item *v;
	size_t n;
	size_t count[3]; /* added, removed, changed */
};

struct diff {
	const struct zw_matrix *o, *n;
	const char *opath, *npath;
	struct section matrix, zones, services, flows, probes;
	struct zw_traffic_diff *traffic;
	int32_t day;
	bool oom;
};

/* ---- values ---- */

static char *mem_json_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (s)
		zw_json__string(f, s);
	else
		fputs("null", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static struct val v_str(const char *s, const char *none)
{
	return (struct val){strdup(s ? s : none), mem_json_string(s)};
}

static struct val v_date(int32_t d)
{
	char b[11];

	return v_str(d == ZW_DATE_NONE ? NULL : zw_date__format(d, b), "(none)");
}

static struct val v_bool(bool b)
{
	return (struct val){strdup(b ? "true" : "false"), strdup(b ? "true" : "false")};
}

static struct val v_rate(uint32_t r)
{
	struct val v = {0};

	if (!r)
		return (struct val){strdup("(none)"), strdup("null")};
	if (asprintf(&v.text, "%u/s", r) < 0)
		v.text = NULL;
	if (asprintf(&v.json, "%u", r) < 0)
		v.json = NULL;
	return v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of strings: text "a, b" (or @none), json ["a", "b"]. */
static struct val v_list(char **s, size_t n, const char *none)
{
	char *t = NULL, *j = NULL;
	size_t tl = 0, jl = 0;
	FILE *tf = open_memstream(&t, &tl), *jf = open_memstream(&j, &jl);

	if (!tf || !jf) {
		if (tf)
			fclose(tf);
		if (jf)
			fclose(jf);
		free(t);
		free(j);
		return (struct val){NULL, NULL};
	}
	fputc('[', jf);
	for (size_t i = 0; i < n; i++) {
		fprintf(tf, "%s%s", i ? ", " : "", s[i]);
		if (i)
			fputs(", ", jf);
		zw_json__string(jf, s[i]);
	}
	if (!n)
		fputs(none, tf);
	fputc(']', jf);
	fclose(tf);
	fclose(jf);
	return (struct val){t, j};
}

static char **prefix_strs(const struct zw_prefix *p, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));
	char b[64];

	for (size_t i = 0; v && i < n; i++)
		v[i] = strdup(zw_prefix__format(&p[i], b));
	return v;
}

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Compare two lists as sets; show them as written. */
static bool lists_differ(char **a, size_t na, char **b, size_t nb)
{
	char **sa, **sb;
	bool d = na != nb;

	if (d)
		return true;
	sa = calloc(na + 1, sizeof(*sa));
	sb = calloc(nb + 1, sizeof(*sb));
	if (!sa || !sb) {
		free(sa);
		free(sb);
		return true;
	}
	memcpy(sa, a, na * sizeof(*sa));
	memcpy(sb, b, nb * sizeof(*sb));
	qsort(sa, na, sizeof(*sa), cmp_str);
	qsort(sb, nb, sizeof(*sb), cmp_str);
	for (size_t i = 0; i < na && !d; i++)
		d = strcmp(sa[i], sb[i]) != 0;
	free(sa);
	free(sb);
	return d;
}

static void val_free(struct val *v)
{
	free(v->text);
	free(v->json);
}

/* ---- sections ---- */

static struct item *item_add(struct diff *d, struct section *s, char op,
			     const char *name)
{
	struct item *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v) {
		d->oom = true;
		return NULL;
	}
	s->v = v;
	memset(&v[s->n], 0, sizeof(*v));
	v[s->n].op = op;
	v[s->n].name = name;
	s->count[op == '+' ? 0 : op == '-' ? 1 : 2]++;
	return &v[s->n++];
}

/* Add field @name to the '~' item *@it of @s (created on first use) when
 * the values differ by @differ; takes the values either way. */
static void field(struct diff *d, struct section *s, struct item **it,
		  const char *item_name, const char *name, struct val o,
		  struct val n, bool differ, bool prose)
{
	struct field *f;

	if (!o.text || !o.json || !n.text || !n.json)
		d->oom = true;
	if (!differ || d->oom) {
		val_free(&o);
		val_free(&n);
		return;
	}
	if (!*it)
		*it = item_add(d, s, '~', item_name);
	if (!*it) {
		val_free(&o);
		val_free(&n);
		return;
	}
	f = realloc((*it)->f, ((*it)->n_f + 1) * sizeof(*f));
	if (!f) {
		d->oom = true;
		val_free(&o);
		val_free(&n);
		return;
	}
	(*it)->f = f;
	f[(*it)->n_f++] = (struct field){name, o, n, prose};
}

static bool str_differ(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

static void field_str(struct diff *d, struct section *s, struct item **it,
		      const char *iname, const char *name, const char *a,
		      const char *b, bool prose)
{
	field(d, s, it, iname, name, v_str(a, "(none)"), v_str(b, "(none)"),
	      str_differ(a, b), prose);
}

static void field_prefixes(struct diff *d, struct section *s, struct item **it,
			   const char *iname, const char *name,
			   const struct zw_prefix *a, size_t na,
			   const struct zw_prefix *b, size_t nb, const char *none)
{
	char **sa = prefix_strs(a, na), **sb = prefix_strs(b, nb);

	if (!sa || !sb) {
		d->oom = true;
	} else {
		bool differ = lists_differ(sa, na, sb, nb);

		field(d, s, it, iname, name, v_list(sa, na, none),
		      v_list(sb, nb, none), differ, false);
	}
	strs_free(sa, na);
	strs_free(sb, nb);
}

/* ---- zones ---- */

static char *zone_summary(const struct zw_zone *z)
{
	char *nets = zw_show_prefixes_text(z->networks, z->n_networks, ", ");
	char *s = NULL;

	if (nets && asprintf(&s, "%s%s  %s", zw_zone_kind__name(z->kind),
			     z->isolate ? " (isolated)" : "", nets) < 0)
		s = NULL;
	free(nets);
	return s;
}

static char *zone_json(const struct zw_zone *z)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char b[64];

	if (!f)
		return NULL;
	fputs("{\"name\": ", f);
	zw_json__string(f, z->name);
	fprintf(f, ", \"kind\": \"%s\", \"networks\": [", zw_zone_kind__name(z->kind));
	for (size_t i = 0; i < z->n_networks; i++)
		fprintf(f, "%s\"%s\"", i ? ", " : "", zw_prefix__format(&z->networks[i], b));
	fprintf(f, "], \"isolate\": %s, \"description\": ", z->isolate ? "true" : "false");
	if (z->description)
		zw_json__string(f, z->description);
	else
		fputs("null", f);
	fputc('}', f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void diff_zones(struct diff *d)
{
	struct section *s = &d->zones;

	for (size_t i = 1; i < d->o->n_zones; i++) {
		const struct zw_zone *a = &d->o->zones[i];
		int j = zw_matrix__zone_index(d->n, a->name);
		struct item *it = NULL;

		if (j <= 0) {
			it = item_add(d, s, '-', a->name);
			if (it && (!(it->summary = zone_summary(a)) || !(it->json = zone_json(a))))
				d->oom = true;
			continue;
		}
		const struct zw_zone *b = &d->n->zones[j];

		field(d, s, &it, a->name, "kind", v_str(zw_zone_kind__name(a->kind), ""),
		      v_str(zw_zone_kind__name(b->kind), ""), a->kind != b->kind, false);
		field_prefixes(d, s, &it, a->name, "networks", a->networks, a->n_networks,
			       b->networks, b->n_networks, "(none)");
		field(d, s, &it, a->name, "isolate", v_bool(a->isolate), v_bool(b->isolate),
		      a->isolate != b->isolate, false);
		field_str(d, s, &it, a->name, "description", a->description,
			  b->description, true);
	}
	for (size_t j = 1; j < d->n->n_zones; j++) {
		const struct zw_zone *b = &d->n->zones[j];
		struct item *it;

		if (zw_matrix__zone_index(d->o, b->name) > 0)
			continue;
		it = item_add(d, s, '+', b->name);
		if (it && (!(it->summary = zone_summary(b)) || !(it->json = zone_json(b))))
			d->oom = true;
	}
}

/* ---- services (those a matrix declares; the catalogue is the same) ---- */

static char *service_json(const struct zw_service *s)
{
	char *t = zw_show_service_text(s), *j = NULL;

	if (t && asprintf(&j, "{\"name\": \"%s\", \"definition\": \"%s\", \"unsafe\": %s}",
			  s->name, t, s->unsafe ? "true" : "false") < 0)
		j = NULL;
	free(t);
	return j;
}

static void service_pair(struct diff *d, const struct zw_service *a,
			 const struct zw_service *b)
{
	struct section *s = &d->services;
	struct item *it = NULL;
	char *ta = zw_show_service_text(a), *tb = zw_show_service_text(b);

	if (!ta || !tb) {
		d->oom = true;
		free(ta);
		free(tb);
		return;
	}
	field(d, s, &it, a->name, "definition", v_str(ta, ""), v_str(tb, ""),
	      strcmp(ta, tb) != 0, false);
	free(ta);
	free(tb);
	field(d, s, &it, a->name, "unsafe", v_bool(a->unsafe), v_bool(b->unsafe),
	      a->unsafe != b->unsafe, false);
	field_str(d, s, &it, a->name, "inspect", a->inspect, b->inspect, false);
	field(d, s, &it, a->name, "origin",
	      v_str(a->builtin ? "built-in catalogue" : "the matrix", ""),
	      v_str(b->builtin ? "built-in catalogue" : "the matrix", ""),
	      a->builtin != b->builtin, false);
}

static void diff_services(struct diff *d)
{
	struct section *s = &d->services;

	for (size_t i = 0; i < d->o->n_services; i++) {
		const struct zw_service *a = &d->o->services[i];
		int j = zw_matrix__service_index(d->n, a->name);

		if (j < 0) {
			struct item *it = item_add(d, s, '-', a->name);

			if (it && (!(it->summary = zw_show_service_text(a)) ||
				   !(it->json = service_json(a))))
				d->oom = true;
			continue;
		}
		if (!a->builtin || !d->n->services[j].builtin)
			service_pair(d, a, &d->n->services[j]);
	}
	for (size_t j = 0; j < d->n->n_services; j++) {
		const struct zw_service *b = &d->n->services[j];
		struct item *it;

		if (zw_matrix__service_index(d->o, b->name) >= 0)
			continue;
		it = item_add(d, s, '+', b->name);
		if (it && (!(it->summary = zw_show_service_text(b)) ||
			   !(it->json = service_json(b))))
			d->oom = true;
	}
}

/* ---- flows ---- */

static char **service_names(const struct zw_matrix *m, const struct zw_flow *f)
{
	char **v = calloc(f->n_services + 1, sizeof(*v));

	for (size_t i = 0; v && i < f->n_services; i++)
		v[i] = m->services[f->services[i]].name; /* borrowed */
	return v;
}

static char *flow_summary(const struct zw_matrix *m, const struct zw_flow *f)
{
	char *svcs = zw_show_flow_services(m, f, ", "), *s = NULL;

	if (svcs && asprintf(&s, "%s -> %s  %s", m->zones[f->from].name,
			     m->zones[f->to].name, svcs) < 0)
		s = NULL;
	free(svcs);
	return s;
}

static char *flow_json(const struct zw_matrix *m, const struct zw_flow *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	if (!o)
		return NULL;
	fputs("{\"id\": ", o);
	zw_json__string(o, f->id);
	fputs(", \"from\": ", o);
	zw_json__string(o, m->zones[f->from].name);
	fputs(", \"to\": ", o);
	zw_json__string(o, m->zones[f->to].name);
	fputs(", \"services\": [", o);
	for (size_t i = 0; i < f->n_services; i++) {
		if (i)
			fputs(", ", o);
		zw_json__string(o, m->services[f->services[i]].name);
	}
	fputs("], \"justification\": ", o);
	zw_json__string(o, f->justification);
	fputc('}', o);
	if (fclose(o)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void flow_pair(struct diff *d, const struct zw_flow *a,
		      const struct zw_flow *b)
{
	const struct zw_matrix *mo = d->o, *mn = d->n;
	struct section *s = &d->flows;
	struct item *it = NULL;
	const char *id = a->id;

	field_str(d, s, &it, id, "from", mo->zones[a->from].name,
		  mn->zones[b->from].name, false);
	field_str(d, s, &it, id, "to", mo->zones[a->to].name, mn->zones[b->to].name,
		  false);
	field_prefixes(d, s, &it, id, "src", a->src, a->n_src, b->src, b->n_src,
		       "(whole zone)");
	field_prefixes(d, s, &it, id, "dst", a->dst, a->n_dst, b->dst, b->n_dst,
		       "(whole zone)");

	char **sa = service_names(mo, a), **sb = service_names(mn, b);

	if (!sa || !sb) {
		d->oom = true;
	} else {
		bool differ = lists_differ(sa, a->n_services, sb, b->n_services);

		field(d, s, &it, id, "services", v_list(sa, a->n_services, "(none)"),
		      v_list(sb, b->n_services, "(none)"), differ, false);
	}
	free(sa);
	free(sb);
	field_str(d, s, &it, id, "justification", a->justification, b->justification,
		  true);
	field_str(d, s, &it, id, "compensating", a->compensating, b->compensating,
		  true);
	field(d, s, &it, id, "review", v_date(a->review), v_date(b->review),
	      a->review != b->review, false);
	field(d, s, &it, id, "expires", v_date(a->expires), v_date(b->expires),
	      a->expires != b->expires, false);
	field_str(d, s, &it, id, "owner", a->owner, b->owner, true);
	field(d, s, &it, id, "log", v_bool(a->log), v_bool(b->log), a->log != b->log,
	      false);
	field(d, s, &it, id, "rate", v_rate(a->rate), v_rate(b->rate),
	      a->rate != b->rate, false);
}

static void diff_flows(struct diff *d)
{
	struct section *s = &d->flows;

	for (size_t i = 0; i < d->o->n_flows; i++) {
		const struct zw_flow *a = &d->o->flows[i];
		int j = zw_matrix__flow_index(d->n, a->id);

		if (j < 0) {
			struct item *it = item_add(d, s, '-', a->id);

			if (it && (!(it->summary = flow_summary(d->o, a)) ||
				   !(it->json = flow_json(d->o, a))))
				d->oom = true;
			continue;
		}
		flow_pair(d, a, &d->n->flows[j]);
	}
	for (size_t j = 0; j < d->n->n_flows; j++) {
		const struct zw_flow *b = &d->n->flows[j];
		struct item *it;

		if (zw_matrix__flow_index(d->o, b->id) >= 0)
			continue;
		it = item_add(d, s, '+', b->id);
		if (it && (!(it->summary = flow_summary(d->n, b)) ||
			   !(it->json = flow_json(d->n, b))))
			d->oom = true;
	}
}

/* ---- probes (shown only when a matrix has some) ---- */

static const char *probe_traffic(const struct zw_probe *p)
{
	return p->traffic == ZW_PROBE_ALLOWED ? "allowed" : "all";
}

static char **probe_zones(const struct zw_matrix *m, const struct zw_probe *p)
{
	char **v = calloc(p->n_zones + 1, sizeof(*v));

	for (size_t i = 0; v && i < p->n_zones; i++)
		v[i] = strdup(m->zones[p->zones[i]].name);
	return v;
}

static char *probe_summary(const struct zw_matrix *m, const struct zw_probe *p)
{
	char **z = probe_zones(m, p);
	struct val l = z ? v_list(z, p->n_zones, "(none)") : (struct val){0};
	char *s = NULL;

	if (l.text && asprintf(&s, "interface %s, traffic %s, zones %s",
			       p->interface, probe_traffic(p), l.text) < 0)
		s = NULL;
	val_free(&l);
	strs_free(z, p->n_zones);
	return s;
}

static char *probe_json(const struct zw_matrix *m, const struct zw_probe *p)
{
	char **z = probe_zones(m, p);
	struct val l = z ? v_list(z, p->n_zones, "") : (struct val){0};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = l.json ? open_memstream(&buf, &len) : NULL;

	strs_free(z, p->n_zones);
	if (!f) {
		val_free(&l);
		return NULL;
	}
	fputs("{\"name\": ", f);
	zw_json__string(f, p->name);
	fputs(", \"interface\": ", f);
	zw_json__string(f, p->interface);
	fprintf(f, ", \"zones\": %s, \"traffic\": \"%s\", \"description\": ",
		l.json, probe_traffic(p));
	if (p->description)
		zw_json__string(f, p->description);
	else
		fputs("null", f);
	fputc('}', f);
	val_free(&l);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void diff_probes(struct diff *d)
{
	struct section *s = &d->probes;

	for (size_t i = 0; i < d->o->n_probes; i++) {
		const struct zw_probe *a = &d->o->probes[i];
		int j = zw_matrix__probe_index(d->n, a->name);
		struct item *it = NULL;

		if (j < 0) {
			it = item_add(d, s, '-', a->name);
			if (it && (!(it->summary = probe_summary(d->o, a)) ||
				   !(it->json = probe_json(d->o, a))))
				d->oom = true;
			continue;
		}
		const struct zw_probe *b = &d->n->probes[j];
		char **za = probe_zones(d->o, a), **zb = probe_zones(d->n, b);

		field_str(d, s, &it, a->name, "interface", a->interface,
			  b->interface, false);
		if (!za || !zb)
			d->oom = true;
		else
			field(d, s, &it, a->name, "zones",
			      v_list(za, a->n_zones, "(none)"),
			      v_list(zb, b->n_zones, "(none)"),
			      lists_differ(za, a->n_zones, zb, b->n_zones), false);
		strs_free(za, a->n_zones);
		strs_free(zb, b->n_zones);
		field_str(d, s, &it, a->name, "traffic", probe_traffic(a),
			  probe_traffic(b), false);
		field_str(d, s, &it, a->name, "description", a->description,
			  b->description, true);
	}
	for (size_t j = 0; j < d->n->n_probes; j++) {
		const struct zw_probe *b = &d->n->probes[j];
		struct item *it;

		if (zw_matrix__probe_index(d->o, b->name) >= 0)
			continue;
		it = item_add(d, s, '+', b->name);
		if (it && (!(it->summary = probe_summary(d->n, b)) ||
			   !(it->json = probe_json(d->n, b))))
			d->oom = true;
	}
}

static bool has_probes(const struct diff *d)
{
	return d->o->n_probes || d->n->n_probes;
}

static void diff_matrix(struct diff *d)
{
	struct item *it = NULL;

	field_str(d, &d->matrix, &it, "matrix", "name", d->o->name, d->n->name, false);
	field_str(d, &d->matrix, &it, "matrix", "profile", zw_profile__name(d->o->profile),
		  zw_profile__name(d->n->profile), false);
}

static void section_free(struct section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].summary);
		free(s->v[i].json);
		for (size_t k = 0; k < s->v[i].n_f; k++) {
			val_free(&s->v[i].f[k].old);
			val_free(&s->v[i].f[k].new_);
		}
		free(s->v[i].f);
	}
	free(s->v);
}

/* ---- output ---- */

static bool different(const struct diff *d)
{
	return d->matrix.n || d->zones.n || d->services.n || d->flows.n ||
	       d->probes.n || d->traffic->n_added || d->traffic->n_removed;
}

/* Items in the order: added, removed, changed. */
static void section_text(FILE *out, const struct section *s)
{
	static const char ops[3] = {'+', '-', '~'};
	size_t w = 0;

	if (!s->n) {
		fprintf(out, "%s: no change\n", s->title);
		return;
	}
	if (s->count[0] + s->count[1] == 0 && s->count[2] == 1 && !strcmp(s->title, "Matrix"))
		fprintf(out, "%s:\n", s->title);
	else
		fprintf(out, "%s: %zu added, %zu removed, %zu changed\n", s->title,
			s->count[0], s->count[1], s->count[2]);
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i].name) > w)
			w = strlen(s->v[i].name);
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < s->n; i++) {
			const struct item *it = &s->v[i];

			if (it->op != ops[k])
				continue;
			if (it->op != '~') {
				fprintf(out, "  %c %-*s  %s\n", it->op, (int)w, it->name,
					it->summary);
				continue;
			}
			fprintf(out, "  ~ %s\n", it->name);
			for (size_t f = 0; f < it->n_f; f++) {
				const struct field *fl = &it->f[f];

				if (fl->prose)
					fprintf(out, "      %s:\n        - %s\n        + %s\n",
						fl->name, fl->old.text, fl->new_.text);
				else
					fprintf(out, "      %s: %s -> %s\n", fl->name,
						fl->old.text, fl->new_.text);
			}
		}
}

static int render_text(FILE *out, const struct diff *d)
{
	char ho[65], hn[65], day[11];

	zw_hex(d->o->source_sha256, 32, ho);
	zw_hex(d->n->source_sha256, 32, hn);
	fprintf(out, "--- %s  (matrix %s, SHA-256 %s)\n", d->opath, d->o->name, ho);
	fprintf(out, "+++ %s  (matrix %s, SHA-256 %s)\n\n", d->npath, d->n->name, hn);
	if (!different(d)) {
		fprintf(out, "No difference: same zones, services and flows, same "
			     "allowed traffic on %s.\n",
			zw_date__format(d->day, day));
		return 0;
	}
	if (d->matrix.n) {
		section_text(out, &d->matrix);
		fputc('\n', out);
	}
	section_text(out, &d->zones);
	fputc('\n', out);
	section_text(out, &d->services);
	fputc('\n', out);
	section_text(out, &d->flows);
	if (has_probes(d)) {
		fputc('\n', out);
		section_text(out, &d->probes);
	}
	fprintf(out, "\nAllowed traffic on %s (new connections; replies follow):\n",
		zw_date__format(d->day, day));
	if (!d->traffic->n_added && !d->traffic->n_removed) {
		fputs("  no change\n", out);
		return 0;
	}
	fprintf(out, "Now allowed (zones of %s):\n", d->npath);
	if (!d->traffic->n_added)
		fputs("  nothing\n", out);
	else if (zw_diff_traffic_text(out, d->n, d->o, d->traffic->added,
				      d->traffic->n_added, d->npath, d->opath))
		return -ENOMEM;
	fprintf(out, "No longer allowed (zones of %s):\n", d->opath);
	if (!d->traffic->n_removed)
		fputs("  nothing\n", out);
	else if (zw_diff_traffic_text(out, d->o, d->n, d->traffic->removed,
				      d->traffic->n_removed, d->opath, d->npath))
		return -ENOMEM;
	return 0;
}

static void section_json(FILE *out, const char *key, const struct section *s,
			 bool last)
{
	static const char *const names[3] = {"added", "removed", "changed"};
	static const char ops[3] = {'+', '-', '~'};

	fprintf(out, "  \"%s\": {", key);
	for (int k = 0; k < 3; k++) {
		bool first = true;

		fprintf(out, "%s\"%s\": [", k ? ", " : "", names[k]);
		for (size_t i = 0; i < s->n; i++) {
			const struct item *it = &s->v[i];

			if (it->op != ops[k])
				continue;
			fputs(first ? "\n    " : ",\n    ", out);
			first = false;
			if (it->op != '~') {
				fputs(it->json, out);
				continue;
			}
			fputs("{\"name\": ", out);
			zw_json__string(out, it->name);
			fputs(", \"changes\": [", out);
			for (size_t f = 0; f < it->n_f; f++)
				fprintf(out, "%s{\"field\": \"%s\", \"old\": %s, \"new\": %s}",
					f ? ", " : "", it->f[f].name, it->f[f].old.json,
					it->f[f].new_.json);
			fputs("]}", out);
		}
		fputs(first ? "]" : "\n  ]", out);
	}
	fprintf(out, "}%s\n", last ? "" : ",");
}

static void side_json(FILE *out, const char *key, const char *path,
		      const struct zw_matrix *m)
{
	char h[65];

	zw_hex(m->source_sha256, 32, h);
	fprintf(out, "  \"%s\": {\"file\": ", key);
	zw_json__string(out, path);
	fputs(", \"name\": ", out);
	zw_json__string(out, m->name);
	fprintf(out, ", \"source_sha256\": \"%s\"},\n", h);
}

static int render_json(FILE *out, const struct diff *d)
{
	char day[11];

	fputs("{\n", out);
	side_json(out, "old", d->opath, d->o);
	side_json(out, "new", d->npath, d->n);
	fprintf(out, "  \"date\": \"%s\",\n  \"different\": %s,\n",
		zw_date__format(d->day, day), different(d) ? "true" : "false");
	section_json(out, "matrix", &d->matrix, false);
	section_json(out, "zones", &d->zones, false);
	section_json(out, "services", &d->services, false);
	section_json(out, "flows", &d->flows, false);
	if (has_probes(d))
		section_json(out, "probes", &d->probes, false);
	fputs("  \"traffic\": {\n    \"now_allowed\": ", out);
	if (zw_diff_traffic_json(out, d->n, d->o, d->traffic->added,
				 d->traffic->n_added, "new", "old"))
		return -ENOMEM;
	fputs(",\n    \"no_longer_allowed\": ", out);
	if (zw_diff_traffic_json(out, d->o, d->n, d->traffic->removed,
				 d->traffic->n_removed, "old", "new"))
		return -ENOMEM;
	fputs("\n  }\n}\n", out);
	return 0;
}

struct diff_opts {
	int format; /* index in zw_ctl_text_json */
	const char *date;
	bool exit_code;
	const char *output;
};

static const struct zw_ctl_opt diff_opts[] = {
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct diff_opts, format, NULL,
	 "text (default) or one JSON document (docs/zonectl.md)",
	 .choices = zw_ctl_text_json),
	ZW_CTL_OPT("date", 0, ZW_CTL_STRING, struct diff_opts, date, "YYYY-MM-DD",
	 "judge flow expiry on that day (default today, UTC)"),
	ZW_CTL_OPT("exit-code", 0, ZW_CTL_FLAG, struct diff_opts, exit_code, NULL,
	 "exit 1 when they differ (like git diff)"),
	ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct diff_opts, output, "FILE",
	 "write FILE (whole or not at all) instead of stdout"),
	{NULL},
};

static const struct zw_ctl_cmdline diff_cmdline = {
	.name = "diff",
	.usage = "zonectl diff OLD.yaml NEW.yaml [--format text|json]\n"
		 "             [--date YYYY-MM-DD] [--exit-code] [-o|--output FILE]",
	.about = "Compare two matrices that pass 'zonectl check':\n"
		 "  - what was written: zones, declared services, flows (by id) and\n"
		 "    probes added, removed or changed, field by field (old -> new);\n"
		 "  - what it means: the traffic NEW allows and OLD does not (now\n"
		 "    allowed) and the reverse (no longer allowed), exact to the address\n"
		 "    and port, grouped by zone pair and service, including traffic\n"
		 "    inside a zone (isolation, networks moving) and flow expiry on\n"
		 "    --date (default today, UTC).\n"
		 "Exit 0 whether or not they differ; with --exit-code, exit 1 when they\n"
		 "differ (like git diff). A matrix with errors is refused (exit 1).\n",
	.opts = diff_opts,
	.max_pos = 2,
	.too_many = "diff takes two matrix files, OLD and NEW",
};

int zw_cmd_diff(int argc, char **argv)
{
	struct diff_opts o = {0};
	struct zw_ctl_args a;
	const char **paths = a.pos, *output;
	int rc, r;
	struct zw_diags dg[2];
	struct zw_matrix *m[2] = {NULL, NULL};
	struct diff d;

	rc = zw_ctl_parse(&diff_cmdline, &o, argc, argv, &a);
	if (rc != ZW_CTL_GO)
		return rc;
	if (a.n_pos != 2) {
		zw_ctl_help(&diff_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	output = o.output;
	rc = ZW_EXIT_OK;
	memset(&d, 0, sizeof(d));
	d.day = zw_date__today();
	if (o.date && zw_date__parse(o.date, &d.day)) {
		zw_ctl_err("--date must be YYYY-MM-DD, not '%s'", o.date);
		return ZW_EXIT_USAGE;
	}

	memset(dg, 0, sizeof(dg));
	for (int k = 0; k < 2 && rc == ZW_EXIT_OK; k++)
		m[k] = zw_ctl_load_valid(paths[k], d.day, &dg[k], &rc);
	if (rc != ZW_EXIT_OK)
		goto out;

	d.o = m[0];
	d.n = m[1];
	d.opath = paths[0];
	d.npath = paths[1];
	d.matrix.title = "Matrix";
	d.zones.title = "Zones";
	d.services.title = "Services declared by the matrices";
	d.flows.title = "Flows";
	d.probes.title = "Probes (mirroring; no effect on allowed traffic)";
	diff_matrix(&d);
	diff_zones(&d);
	diff_services(&d);
	diff_flows(&d);
	diff_probes(&d);
	r = d.oom ? -ENOMEM : zw_matrix__traffic_diff(m[0], m[1], d.day, &d.traffic);

	char *buf = NULL;
	size_t len = 0;
	FILE *mem = r ? NULL : open_memstream(&buf, &len);

	if (!r && !mem)
		r = -ENOMEM;
	if (!r)
		r = o.format == 1 ? render_json(mem, &d) : render_text(mem, &d);
	if (mem && fclose(mem) && !r)
		r = -ENOMEM;
	if (!r) {
		r = zw_ctl_write(output, buf, len);
		if (r)
			zw_ctl_err("cannot write %s: %s", output ? output : "the output",
				   strerror(-r));
	} else {
		zw_ctl_err("cannot compare %s and %s: %s", paths[0], paths[1],
			   strerror(-r));
	}
	free(buf);
	if (r)
		rc = ZW_EXIT_ENV;
	else if (o.exit_code && different(&d))
		rc = ZW_EXIT_INVALID;
out:
	section_free(&d.matrix);
	section_free(&d.zones);
	section_free(&d.services);
	section_free(&d.flows);
	section_free(&d.probes);
	zw_traffic_diff__free(d.traffic);
	for (int k = 0; k < 2; k++) {
		zw_matrix__free(m[k]);
		if (dg[k].file)
			zw_diags__fini(&dg[k]);
	}
	return rc;
}
