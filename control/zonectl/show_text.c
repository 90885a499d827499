/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl show --format text: the zone grid (rows: from zone, columns: to
 * zone, cells: the services allowed), then the zones and the flows. The
 * grid is split into blocks of columns when wider than the terminal, each
 * block repeating the row names, and a cell wraps its services over lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

#define CELL_CAP 18 /* a cell wraps beyond this many columns */
#define MIN_WIDTH 40

struct cell_text {
	char **items; /* "ssh", "http!", "https*", "(all)", "-" */
	size_t n;
	char **lines; /* after packing to the column width */
	size_t n_lines;
};

struct layout {
	const struct zw_grid *g;
	struct cell_text *cells; /* n * n */
	size_t *colw;		 /* per display column */
	size_t roww;		 /* width of the row-name column */
};

static const char *zone_name(const struct zw_matrix *m, uint32_t z)
{
	return m->zones[z].name;
}

static void free_lines(struct cell_text *c)
{
	for (size_t i = 0; i < c->n_lines; i++)
		free(c->lines[i]);
	free(c->lines);
	c->lines = NULL;
	c->n_lines = 0;
}

static int push_str(char ***v, size_t *n, char *s)
{
	char **nv;

	if (!s)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	*v = nv;
	(*v)[(*n)++] = s;
	return 0;
}

static int cell_items(const struct zw_matrix *m, const struct zw_grid_cell *c,
		      struct cell_text *t)
{
	if (c->same_any && push_str(&t->items, &t->n, strdup("(all)")))
		return -ENOMEM;
	if (c->isolated && push_str(&t->items, &t->n, strdup("(isolated)")))
		return -ENOMEM;
	for (size_t i = 0; i < c->n_items; i++) {
		const struct zw_service *s = &m->services[c->items[i].service];
		char *x = NULL;

		if (asprintf(&x, "%s%s%s", s->name, s->unsafe ? "!" : "",
			     c->items[i].narrowed ? "*" : "") < 0)
			return -ENOMEM;
		if (push_str(&t->items, &t->n, x))
			return -ENOMEM;
	}
	if (!t->n && push_str(&t->items, &t->n, strdup("-")))
		return -ENOMEM;
	return 0;
}

/* Pack items into lines of at most @w columns, "a, b," per line. */
static int pack(struct cell_text *t, size_t w)
{
	char *line = NULL;
	size_t len = 0;

	free_lines(t);
	for (size_t i = 0; i < t->n; i++) {
		size_t il = strlen(t->items[i]);
		bool last = i + 1 == t->n;

		if (line && len + 2 + il + (last ? 0 : 1) <= w) {
			char *nl = NULL;

			if (asprintf(&nl, "%s, %s", line, t->items[i]) < 0)
				goto oom;
			free(line);
			line = nl;
			len += 2 + il;
			continue;
		}
		if (line) {
			char *nl = NULL;

			if (asprintf(&nl, "%s,", line) < 0)
				goto oom;
			free(line);
			line = NULL;
			if (push_str(&t->lines, &t->n_lines, nl))
				return -ENOMEM;
		}
		line = strdup(t->items[i]);
		if (!line)
			return -ENOMEM;
		len = il;
	}
	if (line && push_str(&t->lines, &t->n_lines, line))
		return -ENOMEM;
	return 0;
oom:
	free(line);
	return -ENOMEM;
}

static size_t joined_len(const struct cell_text *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += strlen(t->items[i]) + (i ? 2 : 0);
	return n;
}

static int layout_build(struct layout *L, const struct zw_grid *g)
{
	const struct zw_matrix *m = g->m;

	memset(L, 0, sizeof(*L));
	L->g = g;
	L->cells = calloc(g->n * g->n + 1, sizeof(*L->cells));
	L->colw = calloc(g->n + 1, sizeof(*L->colw));
	if (!L->cells || !L->colw)
		return -ENOMEM;
	L->roww = strlen("from \\ to");
	for (size_t i = 0; i < g->n; i++) {
		size_t l = strlen(zone_name(m, g->zones[i]));

		if (l > L->roww)
			L->roww = l;
	}
	for (size_t c = 0; c < g->n; c++) {
		size_t w = strlen(zone_name(m, g->zones[c]));

		for (size_t r = 0; r < g->n; r++) {
			struct cell_text *t = &L->cells[r * g->n + c];
			size_t j;

			if (cell_items(m, zw_grid__cell(g, r, c), t))
				return -ENOMEM;
			j = joined_len(t);
			if (j > CELL_CAP)
				j = CELL_CAP;
			if (j > w)
				w = j;
			for (size_t i = 0; i < t->n; i++) {
				size_t il = strlen(t->items[i]) + (t->n > 1 ? 1 : 0);

				if (il > w)
					w = il;
			}
		}
		L->colw[c] = w;
		for (size_t r = 0; r < g->n; r++)
			if (pack(&L->cells[r * g->n + c], w))
				return -ENOMEM;
	}
	return 0;
}

static void layout_free(struct layout *L)
{
	if (L->cells)
		for (size_t i = 0; i < L->g->n * L->g->n; i++) {
			struct cell_text *t = &L->cells[i];

			for (size_t k = 0; k < t->n; k++)
				free(t->items[k]);
			free(t->items);
			free_lines(t);
		}
	free(L->cells);
	free(L->colw);
}

/* Print @s padded to @w, or nothing if it is the last column (no trailing
 * blanks). */
static void cell_out(FILE *out, const char *s, size_t w, bool last)
{
	if (last)
		fputs(s, out);
	else
		fprintf(out, "%-*s", (int)w, s);
}

static void rule(FILE *out, const struct layout *L, size_t c0, size_t c1)
{
	for (size_t i = 0; i < L->roww; i++)
		fputc('-', out);
	for (size_t c = c0; c < c1; c++) {
		fputs("-+-", out);
		for (size_t i = 0; i < L->colw[c]; i++)
			fputc('-', out);
	}
	fputc('\n', out);
}

static void block(FILE *out, const struct layout *L, size_t c0, size_t c1)
{
	const struct zw_grid *g = L->g;
	bool tall = false;

	for (size_t r = 0; r < g->n; r++)
		for (size_t c = c0; c < c1; c++)
			if (L->cells[r * g->n + c].n_lines > 1)
				tall = true;
	cell_out(out, "from \\ to", L->roww, false);
	for (size_t c = c0; c < c1; c++) {
		fputs(" | ", out);
		cell_out(out, zone_name(g->m, g->zones[c]), L->colw[c], c + 1 == c1);
	}
	fputc('\n', out);
	rule(out, L, c0, c1);
	for (size_t r = 0; r < g->n; r++) {
		size_t h = 1;

		for (size_t c = c0; c < c1; c++)
			if (L->cells[r * g->n + c].n_lines > h)
				h = L->cells[r * g->n + c].n_lines;
		for (size_t k = 0; k < h; k++) {
			size_t end = c0; /* one past the last column with a line k */

			for (size_t c = c0; c < c1; c++)
				if (k < L->cells[r * g->n + c].n_lines)
					end = c + 1;
			cell_out(out, k ? "" : zone_name(g->m, g->zones[r]), L->roww,
				 false);
			for (size_t c = c0; c < end; c++) {
				const struct cell_text *t = &L->cells[r * g->n + c];

				fputs(" | ", out);
				cell_out(out, k < t->n_lines ? t->lines[k] : "",
					 L->colw[c], c + 1 == end);
			}
			fputc('\n', out);
		}
		if (tall && r + 1 < g->n)
			rule(out, L, c0, c1);
	}
}

static int grid_out(FILE *out, const struct layout *L, unsigned width)
{
	const struct zw_grid *g = L->g;
	size_t c0 = 0;
	size_t n_blocks = 0, *starts = calloc(g->n + 2, sizeof(*starts));

	if (!starts)
		return -ENOMEM;

	/* The fewest blocks of columns that fit @width (greedily), then the
	 * same number of blocks with the columns spread evenly, as far as
	 * they fit. */
	size_t want = 0;

	for (int pass = 0; pass < 2; pass++) {
		n_blocks = 0;
		c0 = 0;
		while (c0 < g->n) {
			size_t used = L->roww, c1 = c0;
			size_t left = want > n_blocks ? want - n_blocks : 1;
			size_t cap = pass ? (g->n - c0 + left - 1) / left : g->n;

			while (c1 < g->n && (c1 == c0 || (used + 3 + L->colw[c1] <= width &&
							   c1 - c0 < cap)))
				used += 3 + L->colw[c1++];
			starts[n_blocks++] = c0;
			c0 = c1;
		}
		want = n_blocks;
	}
	starts[n_blocks] = g->n;
	for (size_t b = 0; b < n_blocks; b++) {
		if (n_blocks > 1)
			fprintf(out, "%sTo zones %zu-%zu of %zu:\n", b ? "\n" : "",
				starts[b] + 1, starts[b + 1], g->n);
		block(out, L, starts[b], starts[b + 1]);
	}
	free(starts);
	return 0;
}

/*
 * Free text from the matrix made safe for a terminal: C0 control
 * characters but tab and line feed, DEL, C1 controls and the bidirectional
 * overrides and isolates (U+202A-U+202E, U+2066-U+2069) are written as
 * \xHH or \uHHHH, so a description cannot move the cursor, recolour the
 * screen or reorder what the reader sees. Returns a malloc'd string, or
 * NULL when memory runs out.
 */
static char *terminal_safe(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(6 * n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned char c1 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
		unsigned char c2 = i + 2 < n ? (unsigned char)s[i + 2] : 0;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		} else if (c == 0xc2 && c1 >= 0x80 && c1 <= 0x9f) {
			o += (size_t)sprintf(out + o, "\\u%04x", c1);
			i++;
		} else if (c == 0xe2 && ((c1 == 0x80 && c2 >= 0xaa && c2 <= 0xae) ||
					 (c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9))) {
			o += (size_t)sprintf(out + o, "\\u%04x",
					     0x2000 + ((c1 & 0x3f) << 6) + (c2 & 0x3f));
			i += 2;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/* Print @items (already text) wrapped at @width after an indent. */
static void wrapped(FILE *out, size_t indent, const char *text, unsigned width)
{
	size_t col = indent;
	const char *p = text;

	fprintf(out, "%*s", (int)indent, "");
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t wl = sp ? (size_t)(sp - p) : strlen(p);

		if (col > indent && col + 1 + wl > width) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, wl, out);
		col += wl;
		p += wl;
		while (*p == ' ')
			p++;
	}
	fputc('\n', out);
}

static int zones_out(FILE *out, const struct zw_matrix *m, unsigned width)
{
	size_t nw = 0, kw = 0;

	for (size_t z = 1; z < m->n_zones; z++) {
		size_t l = strlen(m->zones[z].name);
		size_t k = strlen(zw_zone_kind__name(m->zones[z].kind)) +
			   strlen(zw_show_kind_class(m->zones[z].kind)) + 3;

		nw = l > nw ? l : nw;
		kw = k > kw ? k : kw;
	}
	fprintf(out, "\nZones (%zu):\n", m->n_zones - 1);
	for (size_t z = 1; z < m->n_zones; z++) {
		const struct zw_zone *zn = &m->zones[z];
		char *nets = zw_show_prefixes_text(zn->networks, zn->n_networks, ", ");
		char kind[96];

		if (!nets)
			return -ENOMEM;
		snprintf(kind, sizeof(kind), "%s (%s)", zw_zone_kind__name(zn->kind),
			 zw_show_kind_class(zn->kind));
		fprintf(out, "  %-*s  ", (int)nw, zn->name);
		if (zn->isolate)
			fprintf(out, "%-*s  isolated\n", (int)kw, kind);
		else
			fprintf(out, "%s\n", kind);
		wrapped(out, nw + 4, nets, width);
		if (zn->description) {
			char *d = terminal_safe(zn->description);

			if (!d)
				return -ENOMEM;
			wrapped(out, nw + 4, d, width);
			free(d);
		}
		free(nets);
	}
	return 0;
}

static int flows_out(FILE *out, const struct zw_matrix *m, int32_t today)
{
	size_t iw = 0, pw = 0, n_exp = 0, n_stale = 0, n_unsafe = 0;
	char d1[11];

	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		size_t l = strlen(m->zones[f->from].name) + strlen(m->zones[f->to].name) + 4;

		iw = strlen(f->id) > iw ? strlen(f->id) : iw;
		pw = l > pw ? l : pw;
		n_exp += !zw_flow__live(f, today);
		n_stale += zw_show_review_stale(f, today);
		n_unsafe += zw_show_flow_unsafe(m, f);
	}
	fprintf(out, "\nFlows (%zu; %zu expired, %zu with a review older than %d days, %zu with unsafe services):\n",
		m->n_flows, n_exp, n_stale, ZW_REVIEW_MAX_DAYS, n_unsafe);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		char *svcs = zw_show_flow_services(m, f, ", ");
		char pair[80];

		if (!svcs)
			return -ENOMEM;
		snprintf(pair, sizeof(pair), "%s -> %s", m->zones[f->from].name,
			 m->zones[f->to].name);
		fprintf(out, "  %-*s  %-*s  %s", (int)iw, f->id, (int)pw, pair, svcs);
		free(svcs);
		if (!zw_flow__live(f, today))
			fprintf(out, "  [expired %s]", zw_date__format(f->expires, d1));
		else if (f->expires != ZW_DATE_NONE)
			fprintf(out, "  [until %s]", zw_date__format(f->expires, d1));
		if (zw_show_review_stale(f, today))
			fprintf(out, "  [review stale: %s]", zw_date__format(f->review, d1));
		if (zw_show_flow_unsafe(m, f)) {
			fputs("  [unsafe:", out);
			for (size_t s = 0; s < f->n_services; s++)
				if (m->services[f->services[s]].unsafe)
					fprintf(out, " %s", m->services[f->services[s]].name);
			fputc(']', out);
		}
		fputc('\n', out);
		for (int k = 0; k < 2; k++) {
			const struct zw_prefix *p = k ? f->dst : f->src;
			size_t n = k ? f->n_dst : f->n_src;
			char *t;

			if (!n)
				continue;
			t = zw_show_prefixes_text(p, n, ", ");
			if (!t)
				return -ENOMEM;
			fprintf(out, "  %-*s  %s %s\n", (int)iw, "", k ? "dst" : "src", t);
			free(t);
		}
	}
	return 0;
}

/* Probes (mirroring to detection probes): only when the matrix has some. */
static int probes_out(FILE *out, const struct zw_matrix *m, unsigned width)
{
	size_t nw = 0;

	if (!m->n_probes)
		return 0;
	for (size_t i = 0; i < m->n_probes; i++)
		if (strlen(m->probes[i].name) > nw)
			nw = strlen(m->probes[i].name);
	fprintf(out, "\nProbes (%zu; a copy of every packet to or from their zones):\n",
		m->n_probes);
	for (size_t i = 0; i < m->n_probes; i++) {
		const struct zw_probe *p = &m->probes[i];

		fprintf(out, "  %-*s  interface %s, %s, zones", (int)nw, p->name,
			p->interface,
			p->traffic == ZW_PROBE_ALLOWED ? "allowed traffic only"
						       : "allowed and denied traffic");
		for (size_t k = 0; k < p->n_zones; k++)
			fprintf(out, "%s %s", k ? "," : "", m->zones[p->zones[k]].name);
		fputc('\n', out);
		if (p->description) {
			char *d = terminal_safe(p->description);

			if (!d)
				return -ENOMEM;
			wrapped(out, nw + 4, d, width);
			free(d);
		}
	}
	return 0;
}

int zw_show_text(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out)
{
	struct zw_grid *g = zw_grid__new(m, o->today);
	struct layout L;
	unsigned width = o->width < MIN_WIDTH ? MIN_WIDTH : o->width;
	char hex[65], day[11];
	int r = -ENOMEM;

	if (!g)
		return -ENOMEM;
	zw_hex(m->source_sha256, 32, hex);
	fprintf(out, "Matrix %s (profile %s, language %d): %zu zones, %zu flows\n",
		m->name, zw_profile__name(m->profile), m->lang_version,
		m->n_zones - 1, m->n_flows);
	{
		char *path = terminal_safe(o->path);

		if (!path) {
			zw_grid__free(g);
			return -ENOMEM;
		}
		fprintf(out, "Source %s, SHA-256 %s\n\n", path, hex);
		free(path);
	}
	fprintf(out, "Allowed on %s: services a new connection may use from the row's zone\n"
		     "to the column's zone.\n\n",
		zw_date__format(o->today, day));
	if (layout_build(&L, g) || grid_out(out, &L, width))
		goto out;
	fputs("\n"
	      "  (all)       any traffic between members of the zone (not isolated)\n"
	      "  (isolated)  members may not talk to each other, except by the flows shown\n"
	      "  name!       unsafe service (the flow states compensating measures)\n"
	      "  name*       only for part of the zones' addresses (src/dst narrowing)\n"
	      "  -           nothing allowed\n",
	      out);
	if (g->n_expired) {
		fputs("  Not shown, expired:", out);
		for (size_t i = 0; i < g->n_expired; i++)
			fprintf(out, "%s %s", i ? "," : "", m->flows[g->expired[i]].id);
		fputc('\n', out);
	}
	if (zones_out(out, m, width) || flows_out(out, m, o->today) ||
	    probes_out(out, m, width))
		goto out;
	r = 0;
out:
	layout_free(&L);
	zw_grid__free(g);
	return r;
}
