/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl show --format csv and --format json: the matrix as data.
 *
 * CSV (RFC 4180: comma, double quotes, CRLF): one row per flow and service,
 * for spreadsheets (REQUIREMENTS M1, M6). A free-text cell starting with
 * = + - @ or a control character gets a leading apostrophe so office
 * software shows it as text instead of evaluating it as a formula.
 *
 * JSON: one document whose schema (docs/zonectl.md) scripts rely on; one
 * zone, service or flow per line so that it also reads and diffs well.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

/* ---- CSV ---- */

static void csv_field(FILE *out, const char *s, bool text, bool first)
{
	bool quote = false;

	if (!first)
		fputc(',', out);
	if (!s)
		return;
	for (const char *p = s; *p; p++)
		if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r')
			quote = true;
	if (quote)
		fputc('"', out);
	if (text && (*s == '=' || *s == '+' || *s == '-' || *s == '@' ||
		     *s == '\t' || *s == '\r'))
		fputc('\'', out);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc(*p, out);
	}
	if (quote)
		fputc('"', out);
}

/* "udp; tcp" and "53; 53" for the entries of a service. */
static int svc_columns(const struct zw_service *s, char **protos, char **ports)
{
	char *pb = NULL, *tb = NULL;
	size_t pl = 0, tl = 0;
	FILE *pf = open_memstream(&pb, &pl), *tf = open_memstream(&tb, &tl);
	int r = 0;

	if (!pf || !tf) {
		if (pf)
			fclose(pf);
		if (tf)
			fclose(tf);
		free(pb);
		free(tb);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct zw_svc_entry *e = &s->entries[i];
		char nb[4];
		char *rg = zw_show_ranges_text(e, ",");

		if (!rg) {
			r = -ENOMEM;
			break;
		}
		fprintf(pf, "%s%s", i ? "; " : "", zw_proto__name(e->proto, nb));
		fprintf(tf, "%s%s", i ? "; " : "", *rg ? rg : "any");
		free(rg);
	}
	if (fclose(pf))
		r = -ENOMEM;
	if (fclose(tf))
		r = -ENOMEM;
	if (r) {
		free(pb);
		free(tb);
		return r;
	}
	*protos = pb;
	*ports = tb;
	return 0;
}

int zw_show_csv(const struct zw_matrix *m, const struct zw_show_opts *o,
		FILE *out)
{
	static const char *const header[] = {
		"id", "from", "from_kind", "to", "to_kind", "src", "dst",
		"service", "protocol", "ports/types", "unsafe", "justification",
		"compensating", "review", "expires", "owner", "log", "rate", NULL};

	if (o->bom)
		fputs("\xef\xbb\xbf", out);
	for (size_t i = 0; header[i]; i++)
		csv_field(out, header[i], false, i == 0);
	fputs("\r\n", out);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		char *src = zw_show_prefixes_text(f->src, f->n_src, " ");
		char *dst = zw_show_prefixes_text(f->dst, f->n_dst, " ");
		char review[11], expires[11], rate[24] = "";

		if (!src || !dst) {
			free(src);
			free(dst);
			return -ENOMEM;
		}
		if (f->rate)
			snprintf(rate, sizeof(rate), "%u/s", f->rate);
		zw_date__format(f->review, review);
		zw_date__format(f->expires, expires);
		for (size_t k = 0; k < f->n_services; k++) {
			const struct zw_service *s = &m->services[f->services[k]];
			char *protos, *ports;

			if (svc_columns(s, &protos, &ports)) {
				free(src);
				free(dst);
				return -ENOMEM;
			}
			csv_field(out, f->id, false, true);
			csv_field(out, m->zones[f->from].name, false, false);
			csv_field(out, zw_zone_kind__name(m->zones[f->from].kind), false, false);
			csv_field(out, m->zones[f->to].name, false, false);
			csv_field(out, zw_zone_kind__name(m->zones[f->to].kind), false, false);
			csv_field(out, src, false, false);
			csv_field(out, dst, false, false);
			csv_field(out, s->name, false, false);
			csv_field(out, protos, false, false);
			csv_field(out, ports, false, false);
			csv_field(out, s->unsafe ? "yes" : "no", false, false);
			csv_field(out, f->justification, true, false);
			csv_field(out, f->compensating, true, false);
			csv_field(out, review, false, false);
			csv_field(out, expires, false, false);
			csv_field(out, f->owner, true, false);
			csv_field(out, f->log ? "yes" : "no", false, false);
			csv_field(out, rate, false, false);
			fputs("\r\n", out);
			free(protos);
			free(ports);
		}
		free(src);
		free(dst);
	}
	return 0;
}

/* ---- JSON ---- */

static void jstr(FILE *out, const char *key, const char *val, bool comma)
{
	if (comma)
		fputs(", ", out);
	fprintf(out, "\"%s\": ", key);
	if (val)
		zw_json__string(out, val);
	else
		fputs("null", out);
}

static void jdate(FILE *out, const char *key, int32_t d)
{
	char b[11];

	jstr(out, key, d == ZW_DATE_NONE ? NULL : zw_date__format(d, b), true);
}

static void jbool(FILE *out, const char *key, bool v)
{
	fprintf(out, ", \"%s\": %s", key, v ? "true" : "false");
}

static void jprefixes(FILE *out, const char *key, const struct zw_prefix *p,
		      size_t n)
{
	char b[64];

	fprintf(out, ", \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		zw_json__string(out, zw_prefix__format(&p[i], b));
	}
	fputc(']', out);
}

static void jranges(FILE *out, const struct zw_range *r, size_t n, bool icmp,
		    uint8_t proto)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		const char *name = icmp && r[i].lo == r[i].hi
					   ? zw_icmp_type__name(proto, (uint8_t)r[i].lo)
					   : NULL;

		if (i)
			fputs(", ", out);
		if (name)
			fprintf(out, "\"%s\"", name);
		else if (r[i].lo == r[i].hi)
			fprintf(out, "\"%u\"", r[i].lo);
		else
			fprintf(out, "\"%u-%u\"", r[i].lo, r[i].hi);
	}
	fputc(']', out);
}

int zw_show_json(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out)
{
	char hex[65], day[11];
	bool first = true;

	zw_hex(m->source_sha256, 32, hex);
	fputs("{\n  ", out);
	jstr(out, "name", m->name, false);
	fputs(",\n  ", out);
	jstr(out, "profile", zw_profile__name(m->profile), false);
	fprintf(out, ",\n  \"lang_version\": %d", m->lang_version);
	fputs(",\n  ", out);
	jstr(out, "source_sha256", hex, false);
	fputs(",\n  ", out);
	jstr(out, "date", zw_date__format(o->today, day), false);

	fputs(",\n  \"zones\": [", out);
	for (size_t z = 1; z < m->n_zones; z++) {
		const struct zw_zone *zn = &m->zones[z];

		fputs(z > 1 ? ",\n    {" : "\n    {", out);
		jstr(out, "name", zn->name, false);
		jstr(out, "kind", zw_zone_kind__name(zn->kind), true);
		jstr(out, "class", zw_show_kind_class(zn->kind), true);
		jprefixes(out, "networks", zn->networks, zn->n_networks);
		jbool(out, "isolate", zn->isolate);
		jstr(out, "description", zn->description, true);
		fputc('}', out);
	}
	fputs(m->n_zones > 1 ? "\n  ]" : "]", out);

	fputs(",\n  \"services\": [", out);
	for (size_t i = 0; i < m->n_services; i++) {
		const struct zw_service *s = &m->services[i];

		if (!s->used && s->builtin)
			continue;
		fputs(first ? "\n    {" : ",\n    {", out);
		first = false;
		jstr(out, "name", s->name, false);
		jbool(out, "builtin", s->builtin);
		jbool(out, "unsafe", s->unsafe);
		jstr(out, "inspect", s->inspect, true);
		fputs(", \"entries\": [", out);
		for (size_t e = 0; e < s->n_entries; e++) {
			const struct zw_svc_entry *en = &s->entries[e];
			char nb[4];

			fprintf(out, "%s{\"proto\": \"%s\", \"proto_number\": %u, \"ports\": ",
				e ? ", " : "", zw_proto__name(en->proto, nb), en->proto);
			jranges(out, en->ports, en->n_ports, false, en->proto);
			fputs(", \"types\": ", out);
			jranges(out, en->types, en->n_types, true, en->proto);
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputs(first ? "]" : "\n  ]", out);

	fputs(",\n  \"flows\": [", out);
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];

		fputs(i ? ",\n    {" : "\n    {", out);
		jstr(out, "id", f->id, false);
		jstr(out, "from", m->zones[f->from].name, true);
		jstr(out, "to", m->zones[f->to].name, true);
		jprefixes(out, "src", f->src, f->n_src);
		jprefixes(out, "dst", f->dst, f->n_dst);
		fputs(", \"services\": [", out);
		for (size_t k = 0; k < f->n_services; k++) {
			if (k)
				fputs(", ", out);
			zw_json__string(out, m->services[f->services[k]].name);
		}
		fputc(']', out);
		jstr(out, "justification", f->justification, true);
		jstr(out, "compensating", f->compensating, true);
		jdate(out, "review", f->review);
		jdate(out, "expires", f->expires);
		jstr(out, "owner", f->owner, true);
		jbool(out, "log", f->log);
		if (f->rate)
			fprintf(out, ", \"rate\": %u", f->rate);
		else
			fputs(", \"rate\": null", out);
		jbool(out, "live", zw_flow__live(f, o->today));
		jbool(out, "review_stale", zw_show_review_stale(f, o->today));
		jbool(out, "unsafe", zw_show_flow_unsafe(m, f));
		fputc('}', out);
	}
	fputs(m->n_flows ? "\n  ]" : "]", out);
	/* only when there are some: documents without probes unchanged */
	if (m->n_probes)
		fputs(",\n  \"probes\": [", out);
	for (size_t i = 0; i < m->n_probes; i++) {
		const struct zw_probe *p = &m->probes[i];

		fputs(i ? ",\n    {" : "\n    {", out);
		jstr(out, "name", p->name, false);
		jstr(out, "interface", p->interface, true);
		fputs(", \"zones\": [", out);
		for (size_t k = 0; k < p->n_zones; k++) {
			if (k)
				fputs(", ", out);
			zw_json__string(out, m->zones[p->zones[k]].name);
		}
		fputc(']', out);
		jstr(out, "traffic", p->traffic == ZW_PROBE_ALLOWED ? "allowed" : "all",
		     true);
		jstr(out, "description", p->description, true);
		fputc('}', out);
	}
	fputs(m->n_probes ? "\n  ]\n}\n" : "\n}\n", out);
	return 0;
}
