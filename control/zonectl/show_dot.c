/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl show --format dot: a Graphviz digraph. One node per zone, its
 * shape and colour telling internal zones (boxes) from interconnection zones
 * (hexagons) and the implicit outside (dashed ellipse); an isolated zone has
 * a double border. One edge per ordered zone pair with live flows, labelled
 * with the services (unsafe ones marked "!" and the edge drawn red,
 * narrowed ones "*"), its tooltip naming the flows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

/* A DOT double-quoted string. */
static void dq(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s != '\r')
			fputc(*s, out);
	}
	fputc('"', out);
}

static void node(FILE *out, const struct zw_matrix *m, uint32_t z)
{
	const struct zw_zone *zn = &m->zones[z];
	char *label = NULL;

	fputs("  ", out);
	dq(out, zn->name);
	if (z == ZW_ZONE_OUTSIDE) {
		fputs(" [label=\"outside\\n(undeclared addresses)\", shape=ellipse, "
		      "style=dashed, color=\"#555555\"];\n",
		      out);
		return;
	}
	if (asprintf(&label, "%s\n%s%s", zn->name, zw_zone_kind__name(zn->kind),
		     zn->isolate ? "\nisolated" : "") < 0)
		label = NULL;
	fputs(" [label=", out);
	dq(out, label ? label : zn->name);
	free(label);
	if (zw_zone_kind__internal(zn->kind))
		fputs(", shape=box, fillcolor=\"#dce9f5\", color=\"#2b5d8a\"", out);
	else
		fputs(", shape=hexagon, fillcolor=\"#fbe5cc\", color=\"#a35d00\"", out);
	if (zn->isolate)
		fputs(", peripheries=2", out);
	if (zn->description) {
		fputs(", tooltip=", out);
		dq(out, zn->description);
	}
	fputs("];\n", out);
}

int zw_show_dot(const struct zw_matrix *m, const struct zw_show_opts *o,
		FILE *out)
{
	struct zw_grid *g = zw_grid__new(m, o->today);
	char hex[65], day[11];
	char *title = NULL;

	if (!g)
		return -ENOMEM;
	zw_hex(m->source_sha256, 32, hex);
	if (asprintf(&title, "Matrix %s: flows allowed on %s\nsource SHA-256 %s",
		     m->name, zw_date__format(o->today, day), hex) < 0) {
		zw_grid__free(g);
		return -ENOMEM;
	}
	fputs("digraph ", out);
	dq(out, m->name);
	fputs(" {\n  graph [labelloc=t, rankdir=LR, fontname=\"Helvetica\", "
	      "fontsize=12, label=",
	      out);
	dq(out, title);
	free(title);
	fputs("];\n"
	      "  node [fontname=\"Helvetica\", fontsize=11, style=filled];\n"
	      "  edge [fontname=\"Helvetica\", fontsize=9];\n",
	      out);
	for (size_t i = 0; i < g->n; i++)
		node(out, m, g->zones[i]);
	for (size_t r = 0; r < g->n; r++)
		for (size_t c = 0; c < g->n; c++) {
			const struct zw_grid_cell *cell = zw_grid__cell(g, r, c);
			bool unsafe = false;
			char *lb = NULL, *tip = NULL;
			size_t ll = 0, tl = 0;
			FILE *lf, *tf;

			if (!cell->n_items)
				continue;
			lf = open_memstream(&lb, &ll);
			tf = open_memstream(&tip, &tl);
			if (!lf || !tf) {
				if (lf)
					fclose(lf);
				if (tf)
					fclose(tf);
				free(lb);
				free(tip);
				zw_grid__free(g);
				return -ENOMEM;
			}
			for (size_t k = 0; k < cell->n_items; k++) {
				const struct zw_grid_item *it = &cell->items[k];
				const struct zw_service *s = &m->services[it->service];

				unsafe |= s->unsafe;
				fprintf(lf, "%s%s%s%s", k ? "\n" : "", s->name,
					s->unsafe ? "!" : "", it->narrowed ? "*" : "");
				fprintf(tf, "%s%s:", k ? "; " : "", s->name);
				for (size_t f = 0; f < it->n_flows; f++)
					fprintf(tf, " %s", m->flows[it->flows[f]].id);
			}
			fclose(lf);
			fclose(tf);
			fputs("  ", out);
			dq(out, m->zones[g->zones[r]].name);
			fputs(" -> ", out);
			dq(out, m->zones[g->zones[c]].name);
			fputs(" [label=", out);
			dq(out, lb);
			fputs(", tooltip=", out);
			dq(out, tip);
			if (unsafe)
				fputs(", color=\"#c0392b\", fontcolor=\"#c0392b\", penwidth=2", out);
			fputs("];\n", out);
			free(lb);
			free(tip);
		}
	fputs("}\n", out);
	zw_grid__free(g);
	return 0;
}
