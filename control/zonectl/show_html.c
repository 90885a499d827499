/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl show --format html: one self-contained page (inline CSS, no
 * script, no external resource) for an auditor who never saw the YAML:
 * what the matrix is (name, source SHA-256, date), the zones, the zone grid
 * and every flow with its justification, compensating measures, review and
 * expiry, stale reviews, expired flows and unsafe services highlighted.
 * Everything taken from the matrix is HTML-escaped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

#define SOON_DAYS 30 /* "expires soon" */

static const char css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
	"margin:2em auto;max-width:110em;padding:0 1.5em;color:#1d2329;line-height:1.45}\n"
	"h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;"
	"border-bottom:2px solid #2b5d8a;padding-bottom:.2em}\n"
	"table{border-collapse:collapse;margin:.6em 0 1.2em}\n"
	"th,td{border:1px solid #c5ccd3;padding:.3em .55em;vertical-align:top;text-align:left}\n"
	"th{background:#eef2f6;font-weight:600}\n"
	"table.meta th{width:12em}\n"
	".mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,monospace;font-size:.9em}\n"
	".nets{white-space:nowrap}\n"
	".muted{color:#6b747c}\n"
	".unsafe{color:#a61b1b;font-weight:600}\n"
	".tag{display:inline-block;padding:0 .45em;margin:.1em .2em .1em 0;border-radius:.3em;"
	"font-size:.82em;font-weight:600;white-space:nowrap}\n"
	".t-unsafe{background:#fbe0e0;color:#8a1414}\n"
	".t-stale{background:#ffefc2;color:#6b4d00}\n"
	".t-expired{background:#dedede;color:#333}\n"
	".t-soon{background:#e3eefa;color:#1f4f80}\n"
	".t-internal{background:#dce9f5;color:#1f4f80}\n"
	".t-interconnection{background:#fbe5cc;color:#7a4500}\n"
	".t-outside{background:#eeeeee;color:#444}\n"
	"td.stale{background:#fff6da}\n"
	"td.expired{background:#ececec}\n"
	"tr.expired td{color:#666}\n"
	".grid td{min-width:6em}\n"
	".grid th.row{text-align:right}\n"
	".grid td.diag{background:#f2f5f8}\n"
	".grid td.none{color:#9aa3ab;text-align:center}\n"
	".grid td.has-unsafe{background:#fdf0f0}\n"
	".svc{white-space:nowrap}\n"
	"a.fid{font-size:.8em;color:#2b5d8a;text-decoration:none;margin-left:.2em}\n"
	".wrap{overflow-x:auto}\n"
	"ul.findings li{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em}\n"
	"footer{margin-top:3em;font-size:.85em;color:#6b747c}\n"
	"@media print{body{margin:0;max-width:none}.wrap{overflow:visible}"
	"a{color:inherit;text-decoration:none}h2{page-break-after:avoid}"
	"tr{page-break-inside:avoid}}\n";

#define E(s) zw_html_escape(out, (s))

static void tag(FILE *out, const char *cls, const char *text)
{
	fprintf(out, "<span class=\"tag t-%s\">", cls);
	E(text);
	fputs("</span>", out);
}

static void flow_link(FILE *out, const char *id)
{
	fputs("<a class=\"fid\" href=\"#flow-", out);
	E(id);
	fputs("\">", out);
	E(id);
	fputs("</a>", out);
}

static void prefixes(FILE *out, const struct zw_prefix *p, size_t n)
{
	char b[64];

	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs("<br>", out);
		fputs("<span class=\"mono nets\">", out);
		E(zw_prefix__format(&p[i], b));
		fputs("</span>", out);
	}
}

static void meta(FILE *out, const struct zw_matrix *m,
		 const struct zw_show_opts *o)
{
	char hex[65], day[11];

	zw_hex(m->source_sha256, 32, hex);
	zw_date__format(o->today, day);
	fputs("<header>\n<h1>Flow matrix &ldquo;", out);
	E(m->name);
	fputs("&rdquo;</h1>\n<table class=\"meta\">\n<tr><th>Source file</th><td class=\"mono\">", out);
	E(o->path);
	fputs("</td></tr>\n<tr><th>Source SHA-256</th><td class=\"mono\">", out);
	E(hex);
	fputs("</td></tr>\n<tr><th>Profile</th><td>", out);
	E(zw_profile__name(m->profile));
	fprintf(out, "</td></tr>\n<tr><th>Language version</th><td>%d</td></tr>\n",
		m->lang_version);
	fprintf(out, "<tr><th>Generated</th><td>%s by zonectl %s; expiry and review "
		     "age are judged on this date</td></tr>\n</table>\n</header>\n",
		day, ZW_VERSION);
}

static void summary(FILE *out, const struct zw_matrix *m,
		    const struct zw_show_opts *o)
{
	size_t n_int = 0, n_exp = 0, n_stale = 0, n_none = 0, n_unsafe = 0;

	for (size_t z = 1; z < m->n_zones; z++)
		n_int += zw_zone_kind__internal(m->zones[z].kind);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		n_exp += !zw_flow__live(f, o->today);
		n_stale += zw_show_review_stale(f, o->today);
		n_none += f->review == ZW_DATE_NONE;
		n_unsafe += zw_show_flow_unsafe(m, f);
	}
	fputs("<section id=\"summary\">\n<h2>Summary</h2>\n<ul>\n", out);
	fprintf(out, "<li>%zu zones: %zu internal, %zu interconnection.</li>\n",
		m->n_zones - 1, n_int, m->n_zones - 1 - n_int);
	fprintf(out, "<li>%zu authorised flows: %zu in force, %zu expired (no longer "
		     "enforced).</li>\n",
		m->n_flows, m->n_flows - n_exp, n_exp);
	fprintf(out, "<li>%zu flow(s) whose last review is older than %d days%s, "
		     "%zu without a review date.</li>\n",
		n_stale, ZW_REVIEW_MAX_DAYS, n_stale ? " (highlighted)" : "", n_none);
	fprintf(out, "<li>%zu flow(s) using a service known to be unsafe; each states "
		     "its compensating measures.</li>\n",
		n_unsafe);
	fputs("<li>Everything that no flow below authorises is denied (default deny), "
	      "in both directions and between zones. Traffic between two members of "
	      "one zone is allowed unless the zone is isolated.</li>\n</ul>\n",
	      out);

	fputs("<h3>Findings of the validator (warnings)</h3>\n", out);
	if (!o->diags || !o->diags->n_warnings) {
		fputs("<p>None.</p>\n", out);
	} else {
		fputs("<ul class=\"findings\">\n", out);
		for (size_t i = 0; i < o->diags->n; i++) {
			const struct zw_diag *d = &o->diags->v[i];

			if (d->level != ZW_WARNING)
				continue;
			fprintf(out, "<li>line %u: ZW%03d ", d->loc.line, d->code);
			E(d->message);
			fputs("</li>\n", out);
		}
		fputs("</ul>\n", out);
	}
	fputs("</section>\n", out);
}

static void zones(FILE *out, const struct zw_matrix *m)
{
	fputs("<section id=\"zones\">\n<h2>Zones</h2>\n"
	      "<p>Every address belongs to at most one zone; addresses no zone "
	      "declares form the implicit zone <em>outside</em>.</p>\n"
	      "<div class=\"wrap\"><table>\n<tr><th>Zone</th><th>Kind</th>"
	      "<th>Networks</th><th>Members may talk to each other</th>"
	      "<th>Description</th></tr>\n",
	      out);
	for (size_t z = 1; z < m->n_zones; z++) {
		const struct zw_zone *zn = &m->zones[z];

		fputs("<tr id=\"zone-", out);
		E(zn->name);
		fputs("\"><td><strong>", out);
		E(zn->name);
		fputs("</strong></td><td>", out);
		E(zw_zone_kind__name(zn->kind));
		fputs("<br>", out);
		tag(out, zw_show_kind_class(zn->kind), zw_show_kind_class(zn->kind));
		fputs("</td><td>", out);
		prefixes(out, zn->networks, zn->n_networks);
		fputs(zn->isolate ? "</td><td>No: isolated (only the flows listed)"
				  : "</td><td>Yes",
		      out);
		fputs("</td><td>", out);
		if (zn->description)
			E(zn->description);
		else
			fputs("<span class=\"muted\">none</span>", out);
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div>\n</section>\n", out);
}

static void grid(FILE *out, const struct zw_matrix *m, const struct zw_grid *g,
		 const struct zw_show_opts *o)
{
	char day[11];

	fprintf(out, "<section id=\"grid\">\n<h2>Zone grid</h2>\n"
		     "<p>Services a new connection may use on %s, from the zone of "
		     "the row to the zone of the column, with the flows that allow "
		     "them. Replies of an allowed connection pass; nothing else does. "
		     "<span class=\"unsafe\">Red</span>: service known to be unsafe. "
		     "<sup>*</sup>: only for some addresses of the zones (see the flow). "
		     "Expired flows are not shown.</p>\n"
		     "<div class=\"wrap\"><table class=\"grid\">\n<tr><th>From \\ To</th>",
		zw_date__format(o->today, day));
	for (size_t c = 0; c < g->n; c++) {
		fputs("<th>", out);
		E(m->zones[g->zones[c]].name);
		fputs("</th>", out);
	}
	fputs("</tr>\n", out);
	for (size_t r = 0; r < g->n; r++) {
		fputs("<tr><th class=\"row\">", out);
		E(m->zones[g->zones[r]].name);
		fputs("</th>", out);
		for (size_t c = 0; c < g->n; c++) {
			const struct zw_grid_cell *cell = zw_grid__cell(g, r, c);
			bool unsafe = false;

			for (size_t k = 0; k < cell->n_items; k++)
				unsafe |= m->services[cell->items[k].service].unsafe;
			if (!cell->n_items && !cell->same_any && !cell->isolated) {
				fputs("<td class=\"none\">&mdash;</td>", out);
				continue;
			}
			if (r == c)
				fputs(unsafe ? "<td class=\"diag has-unsafe\">" : "<td class=\"diag\">", out);
			else
				fputs(unsafe ? "<td class=\"has-unsafe\">" : "<td>", out);
			if (cell->same_any)
				fputs("<em>all traffic</em> (zone not isolated)", out);
			if (cell->isolated)
				fputs("<em>isolated</em>", out);
			for (size_t k = 0; k < cell->n_items; k++) {
				const struct zw_grid_item *it = &cell->items[k];
				const struct zw_service *s = &m->services[it->service];

				if (k || cell->same_any || cell->isolated)
					fputs("<br>", out);
				fprintf(out, "<span class=\"svc%s\">", s->unsafe ? " unsafe" : "");
				E(s->name);
				fputs("</span>", out);
				if (it->narrowed)
					fputs("<sup>*</sup>", out);
				for (size_t f = 0; f < it->n_flows; f++)
					flow_link(out, m->flows[it->flows[f]].id);
			}
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</table></div>\n</section>\n", out);
}

static int flows(FILE *out, const struct zw_matrix *m,
		 const struct zw_show_opts *o)
{
	char d1[11];

	fputs("<section id=\"flows\">\n<h2>Flows</h2>\n"
	      "<p>Each authorised flow: from which zone to which zone, the services "
	      "(protocol and destination ports), why it exists, and what compensates "
	      "an unsafe service. Reviews older than 365 days and expired flows are "
	      "highlighted.</p>\n"
	      "<div class=\"wrap\"><table>\n<tr><th>Flow</th><th>From &rarr; To</th>"
	      "<th>Addresses</th><th>Services</th><th>Justification</th>"
	      "<th>Compensating measures</th><th>Last review</th><th>Expires</th>"
	      "<th>Owner</th><th>Logging, rate</th></tr>\n",
	      out);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		bool live = zw_flow__live(f, o->today);
		bool stale = zw_show_review_stale(f, o->today);

		fputs("<tr id=\"flow-", out);
		E(f->id);
		fprintf(out, "\"%s><td class=\"mono\"><strong>", live ? "" : " class=\"expired\"");
		E(f->id);
		fputs("</strong>", out);
		if (!live) {
			fputs("<br>", out);
			tag(out, "expired", "expired");
		}
		fputs("</td><td>", out);
		E(m->zones[f->from].name);
		fputs(" &rarr; ", out);
		E(m->zones[f->to].name);
		fputs("</td><td>", out);
		if (!f->n_src && !f->n_dst) {
			fputs("<span class=\"muted\">whole zones</span>", out);
		} else {
			fputs("from ", out);
			if (f->n_src)
				prefixes(out, f->src, f->n_src);
			else
				fputs("<span class=\"muted\">whole zone</span>", out);
			fputs("<br>to ", out);
			if (f->n_dst)
				prefixes(out, f->dst, f->n_dst);
			else
				fputs("<span class=\"muted\">whole zone</span>", out);
		}
		fputs("</td><td>", out);
		for (size_t k = 0; k < f->n_services; k++) {
			const struct zw_service *s = &m->services[f->services[k]];
			char *t = zw_show_service_text(s);

			if (!t)
				return -ENOMEM;
			if (k)
				fputs("<br>", out);
			fprintf(out, "<span class=\"svc%s\">", s->unsafe ? " unsafe" : "");
			E(s->name);
			fputs("</span> <span class=\"mono muted\">", out);
			E(t);
			fputs("</span>", out);
			if (s->unsafe) {
				fputc(' ', out);
				tag(out, "unsafe", "unsafe");
			}
			free(t);
		}
		fputs("</td><td>", out);
		E(f->justification);
		fputs("</td><td>", out);
		if (f->compensating)
			E(f->compensating);
		else
			fputs("<span class=\"muted\">&mdash;</span>", out);
		fprintf(out, "</td><td%s>", stale || f->review == ZW_DATE_NONE ? " class=\"stale\"" : "");
		if (f->review == ZW_DATE_NONE) {
			tag(out, "stale", "not recorded");
		} else {
			E(zw_date__format(f->review, d1));
			if (stale) {
				char t[64];

				snprintf(t, sizeof(t), "%d days ago: review due",
					 o->today - f->review);
				fputs("<br>", out);
				tag(out, "stale", t);
			}
		}
		fprintf(out, "</td><td%s>", live ? "" : " class=\"expired\"");
		if (f->expires == ZW_DATE_NONE) {
			fputs("<span class=\"muted\">never</span>", out);
		} else {
			E(zw_date__format(f->expires, d1));
			if (!live) {
				fputs("<br>", out);
				tag(out, "expired", "expired, not enforced");
			} else if (f->expires - o->today <= SOON_DAYS) {
				char t[64];

				snprintf(t, sizeof(t), "in %d day(s)", f->expires - o->today);
				fputs("<br>", out);
				tag(out, "soon", t);
			}
		}
		fputs("</td><td>", out);
		if (f->owner)
			E(f->owner);
		else
			fputs("<span class=\"muted\">&mdash;</span>", out);
		fputs("</td><td>", out);
		fputs(f->log ? "every new connection logged" : "<span class=\"muted\">not logged</span>", out);
		if (f->rate)
			fprintf(out, "<br>at most %u new connections/s per source", f->rate);
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div>\n</section>\n", out);
	return 0;
}

static int services(FILE *out, const struct zw_matrix *m)
{
	fputs("<section id=\"services\">\n<h2>Services</h2>\n"
	      "<p>The services the flows use, and those the matrix declares.</p>\n"
	      "<div class=\"wrap\"><table>\n<tr><th>Service</th><th>Protocols and "
	      "destination ports</th><th>Known unsafe</th><th>Protocol conformance "
	      "check</th><th>Defined by</th></tr>\n",
	      out);
	for (size_t i = 0; i < m->n_services; i++) {
		const struct zw_service *s = &m->services[i];
		char *t;

		if (!s->used && s->builtin)
			continue;
		t = zw_show_service_text(s);
		if (!t)
			return -ENOMEM;
		fprintf(out, "<tr><td class=\"svc%s\">", s->unsafe ? " unsafe" : "");
		E(s->name);
		fputs("</td><td class=\"mono\">", out);
		E(t);
		free(t);
		fputs("</td><td>", out);
		if (s->unsafe)
			tag(out, "unsafe", "unsafe");
		else
			fputs("no", out);
		fputs("</td><td>", out);
		if (s->inspect)
			E(s->inspect);
		else
			fputs("<span class=\"muted\">&mdash;</span>", out);
		fputs(s->builtin ? "</td><td>built-in catalogue" : "</td><td>this matrix", out);
		if (!s->used)
			fputs(" (unused)", out);
		fputs("</td></tr>\n", out);
	}
	fputs("</table></div>\n</section>\n", out);
	return 0;
}

int zw_show_html(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out)
{
	struct zw_grid *g = zw_grid__new(m, o->today);
	int r;

	if (!g)
		return -ENOMEM;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"zonectl " ZW_VERSION "\">\n<title>Flow matrix ",
	      out);
	E(m->name);
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
	meta(out, m, o);
	summary(out, m, o);
	zones(out, m);
	grid(out, m, g, o);
	r = flows(out, m, o);
	if (!r)
		r = services(out, m);
	fputs("<footer>Generated by zonectl show --format html from the matrix whose "
	      "SHA-256 is given above; regenerate it from that file to check this "
	      "page.</footer>\n</body>\n</html>\n",
	      out);
	zw_grid__free(g);
	return r;
}
