/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl audit --format html: one self-contained page (inline style, no
 * script, no external resource) that an auditor who never saw YAML reads
 * and prints: the verdict first, the zone grid coloured by usage and
 * findings, drift in red in the matrix's words and the engine's, the
 * recertification list as a table, then every section.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_render.h"

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

void zw_audit_html_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

#define T(s) zw_audit_html_text(out, (s))

static const char style[] =
	"body{font-family:sans-serif;margin:1.5em;color:#222}"
	"h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #999;"
	"margin-top:1.6em}"
	".verdict{font-size:1.3em;font-weight:bold;padding:.6em;border-radius:4px}"
	".clean{background:#d7f5d7}.findings{background:#ffd9c7}"
	".incomplete{background:#e6e6e6}"
	"table{border-collapse:collapse;margin:.5em 0}"
	"td,th{border:1px solid #aaa;padding:.25em .5em;font-size:.9em;"
	"vertical-align:top}"
	"th{background:#eee}.drift{color:#b00000;font-weight:bold}"
	".engine{font-family:monospace;color:#b00000}"
	".g-none{background:#f4f4f4}.g-used{background:#9fe09f}"
	".g-unused{background:#ffe38a}.g-finding{background:#ff8c8c}"
	".missing{color:#555;font-style:italic}"
	"@media print{.verdict{border:2px solid #000}}";

static void findings_table(FILE *out, const json_t *rep, const char *section)
{
	static const char *const lists[] = {"missing", "findings", "notes"};
	bool head = false;

	for (int l = 0; l < 3; l++) {
		size_t i;
		json_t *f;

		json_array_foreach(json_object_get(rep, lists[l]), i, f) {
			bool drift = l == 1 && !strcmp(section, "enforcement");

			if (strcmp(sget(f, "section"), section))
				continue;
			if (!head) {
				fputs("<table><tr><th>what</th><th>severity</th>"
				      "<th>in matrix terms</th><th>in the engine's "
				      "words</th></tr>\n",
				      out);
				head = true;
			}
			fprintf(out, "<tr><td>%s</td><td>", l == 0   ? "NOT GATHERED"
							    : l == 1 ? "FINDING"
								     : "note");
			T(sget(f, "severity"));
			fprintf(out, "</td><td%s>", drift ? " class=\"drift\"" : "");
			T(l == 0 ? sget(f, "what") : sget(f, "message"));
			fputs("</td><td class=\"engine\">", out);
			T(sget(f, "engine_text"));
			fputs("</td></tr>\n", out);
		}
	}
	if (head)
		fputs("</table>\n", out);
	else
		fputs("<p>Nothing found.</p>\n", out);
}

/* One cell of the grid: the flows of a zone pair. */
struct cell {
	size_t flows, used, findings;
	char ids[256];
	size_t il;
};

/* Index of zone @name in @zi ({"name": index}), or -1. */
static long zidx(const json_t *zi, const char *name)
{
	const json_t *v = json_object_get(zi, name);

	return v ? (long)json_integer_value(v) : -1;
}

/* The zone grid: each pair's flows, coloured by usage and findings (a
 * finding names the pair, or one of its flows). Built in one pass over
 * flows and findings: a 10 000-flow matrix has 200 zones or so. */
static void zone_grid(FILE *out, const json_t *rep)
{
	const json_t *zones = json_object_get(rep, "zones"),
		     *flows = json_object_get(json_object_get(rep, "usage"), "flows");
	size_t nz = json_array_size(zones), i, k;
	json_t *zi = json_object(), *fpair = json_object(), *a, *f;
	struct cell *c = NULL;

	if (!nz || !zi || !fpair || !(c = calloc(nz * nz, sizeof(*c)))) {
		json_decref(zi);
		json_decref(fpair);
		return;
	}
	json_array_foreach(zones, i, a)
		json_object_set_new(zi, sget(a, "name"), json_integer((json_int_t)i));
	json_array_foreach(flows, i, f) {
		long x = zidx(zi, sget(f, "from")), y = zidx(zi, sget(f, "to"));
		struct cell *e;

		if (x < 0 || y < 0)
			continue;
		e = &c[(size_t)x * nz + (size_t)y];
		e->flows++;
		e->used += !json_is_true(json_object_get(f, "recertify")) &&
			   !json_is_true(json_object_get(f, "never_hit"));
		if (e->il < sizeof(e->ids) - 1)
			e->il += (size_t)snprintf(e->ids + e->il, sizeof(e->ids) - e->il,
						  "%s%s", e->il ? " " : "",
						  sget(f, "flow"));
		if (e->il >= sizeof(e->ids))
			e->il = sizeof(e->ids) - 1;
		json_object_set_new(fpair, sget(f, "flow"),
				    json_integer((json_int_t)((size_t)x * nz + (size_t)y)));
	}
	json_array_foreach(json_object_get(rep, "findings"), i, f) {
		long x = zidx(zi, sget(f, "from")), y = zidx(zi, sget(f, "to"));
		const json_t *p = json_object_get(fpair, sget(f, "flow"));

		if (x >= 0 && y >= 0)
			c[(size_t)x * nz + (size_t)y].findings++;
		else if (p)
			c[json_integer_value(p)].findings++;
	}
	fputs("<h2>Zone grid</h2>\n<p>Rows: from; columns: to. Each cell holds "
	      "the flows of that pair: <span class=\"g-used\">used</span>, "
	      "<span class=\"g-unused\">not used recently</span>, "
	      "<span class=\"g-finding\">with findings</span>.</p>\n"
	      "<table class=\"grid\"><tr><th>from \\ to</th>",
	      out);
	json_array_foreach(zones, i, a) {
		fputs("<th>", out);
		T(sget(a, "name"));
		fputs("</th>", out);
	}
	fputs("</tr>\n", out);
	json_array_foreach(zones, i, a) {
		fputs("<tr><th>", out);
		T(sget(a, "name"));
		fputs("</th>", out);
		for (k = 0; k < nz; k++) {
			const struct cell *e = &c[i * nz + k];

			fprintf(out, "<td class=\"%s\">",
				e->findings ? "g-finding"
				: !e->flows ? "g-none"
				: e->used == e->flows ? "g-used"
						      : "g-unused");
			T(e->ids);
			if (e->il == sizeof(e->ids) - 1)
				fputs("...", out);
			if (e->findings)
				fprintf(out, " (%zu finding%s)", e->findings,
					e->findings > 1 ? "s" : "");
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
	free(c);
	json_decref(zi);
	json_decref(fpair);
}

static void recert_table(FILE *out, const json_t *rep)
{
	const json_t *u = json_object_get(rep, "usage");
	size_t i, n = 0;
	json_t *f;

	fprintf(out, "<h3>Recertification list (flows not hit for %lld days)</h3>\n",
		(long long)json_integer_value(json_object_get(u, "unused_days")));
	json_array_foreach(json_object_get(u, "flows"), i, f) {
		if (!json_is_true(json_object_get(f, "recertify")))
			continue;
		if (!n++)
			fputs("<table><tr><th>flow</th><th>from</th><th>to</th>"
			      "<th>services</th><th>owner</th><th>last review</th>"
			      "<th>justification</th><th>last hit</th></tr>\n",
			      out);
		fputs("<tr><td>", out);
		T(sget(f, "flow"));
		fputs("</td><td>", out);
		T(sget(f, "from"));
		fputs("</td><td>", out);
		T(sget(f, "to"));
		fputs("</td><td>", out);
		{
			size_t k;
			json_t *s;

			json_array_foreach(json_object_get(f, "services"), k, s) {
				if (k)
					fputs(", ", out);
				T(json_string_value(s));
			}
		}
		fputs("</td><td>", out);
		T(*sget(f, "owner") ? sget(f, "owner") : "-");
		fputs("</td><td>", out);
		T(*sget(f, "review") ? sget(f, "review") : "-");
		fputs("</td><td>", out);
		T(sget(f, "justification"));
		fputs("</td><td>", out);
		if (json_is_true(json_object_get(f, "never_hit")))
			fputs("<b>never hit since added</b>", out);
		else
			T(sget(f, "last_hit"));
		fputs("</td></tr>\n", out);
	}
	if (n)
		fputs("</table>\n", out);
	else
		fputs("<p>No flow to recertify.</p>\n", out);
}

int zw_audit_html(FILE *out, const json_t *rep)
{
	const json_t *ac = json_object_get(rep, "active"),
		     *cnt = json_object_get(rep, "counts");
	const char *verdict = sget(rep, "verdict");

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<title>zonewall audit</title><style>",
	      out);
	fputs(style, out);
	fputs("</style></head><body>\n<h1>zonewall audit of ", out);
	T(sget(rep, "host"));
	fputs("</h1>\n<p>Generated ", out);
	T(sget(rep, "generated"));
	fputs(" (", out);
	T(sget(rep, "mode"));
	fputs(").", out);
	if (json_is_object(ac)) {
		fprintf(out, " Active version %lld by ",
			(long long)json_integer_value(json_object_get(ac, "version")));
		T(sget(ac, "user"));
		fputs(" since ", out);
		T(sget(ac, "since"));
		fputs(", image SHA-256 <code>", out);
		T(sget(ac, "image_sha256"));
		fputs("</code>.", out);
	}
	fprintf(out, "</p>\n<div class=\"verdict %s\">Verdict: %s &mdash; %lld "
		     "finding(s), %lld note(s), %lld piece(s) of evidence not "
		     "gathered</div>\n",
		verdict,
		!strcmp(verdict, "clean")	 ? "CLEAN"
		: !strcmp(verdict, "findings") ? "FINDINGS"
					       : "INCOMPLETE",
		(long long)json_integer_value(json_object_get(cnt, "findings")),
		(long long)json_integer_value(json_object_get(cnt, "notes")),
		(long long)json_integer_value(json_object_get(cnt, "missing")));
	{
		size_t i;
		json_t *m;

		json_array_foreach(json_object_get(rep, "missing"), i, m) {
			fputs("<p class=\"missing\">Not gathered (", out);
			T(sget(m, "section"));
			fputs("): ", out);
			T(sget(m, "what"));
			fputs("</p>\n", out);
		}
	}
	zone_grid(out, rep);
	for (const struct zw_audit_section *s = zw_audit_sections; s->key; s++) {
		fprintf(out, "<h2>%d. ", (int)(s - zw_audit_sections) + 1);
		T(s->title);
		fputs(" <small>(", out);
		T(s->requirement);
		fputs(")</small></h2>\n", out);
		findings_table(out, rep, s->key);
		if (!strcmp(s->key, "usage") && json_is_object(json_object_get(rep, "usage")))
			recert_table(out, rep);
		if (!strcmp(s->key, "integrity")) {
			const json_t *jo = json_object_get(
				json_object_get(rep, "integrity"), "journal");

			fprintf(out, "<p>Journal %s: %lld entries, head entry %lld, "
				     "hash <code>",
				json_is_true(json_object_get(jo, "intact")) ? "intact"
									    : "NOT INTACT",
				(long long)json_integer_value(json_object_get(jo, "entries")),
				(long long)json_integer_value(json_object_get(jo, "head_seq")));
			T(sget(jo, "head_hash"));
			fputs("</code>.</p>\n", out);
		}
	}
	fputs("</body></html>\n", out);
	return ferror(out) ? -5 : 0;
}
