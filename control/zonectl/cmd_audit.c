/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl audit: the auditor's report (docs/audit.md), gathered by
 * zonewalld (or read-only from --state DIR for what needs no engine) as
 * one JSON document and rendered here: text, JSON, CSV (one finding per
 * row), HTML, or the zone matrix in Firewall Orchestrator's
 * compliance-matrix import format. Exit 0 nothing found, 1 findings, 3
 * evidence missing (named).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/policy.h>

#include "audit_render.h"
#include "client.h"
#include "options.h"
#include "zonectl.h"

const struct zw_audit_section zw_audit_sections[] = {
	{"enforcement", "Enforced = declared", "M3, L5, S2"},
	{"appliance", "The appliance as it is", "Z3, Z5, M6"},
	{"cartography", "Cartography", "M1, M6"},
	{"usage", "Usage and recertification", "M2, Z3"},
	{"hygiene", "Review and hygiene", "M2, M4, M5"},
	{"integrity", "Evidence of integrity", "L2, L3"},
	{"history", "History", "L1, L5"},
	{NULL, NULL, NULL},
};

enum { F_TEXT, F_JSON, F_CSV, F_HTML, F_FWO };
static const char *const audit_formats[] = {"text", "json", "csv", "html",
					    "fwo", NULL};

struct audit_opts {
	const char *cartography;
	bool cartography_template;
	const char *since;
	long unused_days;
	int format;
	const char *output;
};

static const struct zw_ctl_opt audit_opts[] = {
	ZW_CTL_OPT("cartography", 0, ZW_CTL_STRING, struct audit_opts,
		   cartography, "FILE",
		   "compare the matrix with this cartography (CSV:\n"
		   "zone,kind,network,interconnection_point,\n"
		   "filtering_device,location,description)"),
	ZW_CTL_OPT("cartography-template", 0, ZW_CTL_FLAG, struct audit_opts,
		   cartography_template, NULL,
		   "print the cartography derived from the matrix\n"
		   "and the appliance, as that CSV, and exit"),
	ZW_CTL_OPT("since", 0, ZW_CTL_STRING, struct audit_opts, since, "DATE",
		   "also list every change since DATE (YYYY-MM-DD\n"
		   "or UTC date-time) with the allowed-traffic change"),
	ZW_CTL_OPT("unused-days", 0, ZW_CTL_INT, struct audit_opts,
		   unused_days, "N",
		   "recertify flows not hit for N days (default 90;\n"
		   "0: the flows never hit)",
		   .min = 0, .max = 100000),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct audit_opts, format, NULL,
		   "text (default), one JSON document, csv (one\n"
		   "finding per row), html (self-contained page), or\n"
		   "fwo (the zone matrix for Firewall Orchestrator)",
		   .choices = audit_formats),
	ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct audit_opts, output,
		   "FILE", "write the report to FILE (default stdout)"),
	{NULL},
};

static const struct zw_ctl_cmdline audit_cmdline = {
	.name = "audit",
	.usage = "zonectl audit [--cartography FILE] [--since DATE] [--unused-days N]\n"
		 "              [--format text|json|csv|html|fwo] [-o FILE]\n"
		 "zonectl audit --cartography-template",
	.about = "The auditor's report (docs/audit.md): enforced = declared per\n"
		 "engine in matrix terms, the appliance's routes and interfaces,\n"
		 "the cartography, flow usage and the recertification list, review\n"
		 "and hygiene, evidence of integrity, and with --since the history.\n"
		 "Gathered by zonewalld; with --state DIR, what needs no engine.\n"
		 "Exit: 0 nothing found, 1 findings, 3 evidence could not be\n"
		 "gathered (named in the report), 2 usage.\n",
	.opts = audit_opts,
	.max_pos = 0,
	.too_many = "audit takes no argument (see zonectl audit --help)",
};

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- CSV ---- */

/* One cell of a CSV row: zw_csv__field() (RFC 4180 quoting, formula
 * cells protected), after the comma unless it is the row's first. */
static void csv_cell(FILE *out, const char *s, bool first)
{
	if (!first)
		fputc(',', out);
	zw_csv__field(out, s);
}

static void csv_rows(FILE *out, const char *type, const json_t *arr)
{
	size_t i;
	json_t *f;

	json_array_foreach(arr, i, f) {
		csv_cell(out, type, true);
		csv_cell(out, sget(f, "section"), false);
		csv_cell(out, sget(f, "severity"), false);
		csv_cell(out, sget(f, "kind"), false);
		csv_cell(out, sget(f, "subject"), false);
		csv_cell(out, sget(f, "engine"), false);
		csv_cell(out, sget(f, "flow"), false);
		csv_cell(out, *sget(f, "message") ? sget(f, "message")
						  : sget(f, "what"),
			 false);
		csv_cell(out, sget(f, "engine_text"), false);
		fputs("\r\n", out);
	}
}

static void render_csv(FILE *out, const json_t *rep)
{
	fputs("type,section,severity,kind,subject,engine,flow,message,"
	      "engine_text\r\n",
	      out);
	csv_rows(out, "missing", json_object_get(rep, "missing"));
	csv_rows(out, "finding", json_object_get(rep, "findings"));
	csv_rows(out, "note", json_object_get(rep, "notes"));
}

/* ---- text ---- */

static void text_findings(FILE *out, const json_t *rep, const char *section)
{
	static const char *const lists[] = {"missing", "findings", "notes"};

	for (int l = 0; l < 3; l++) {
		size_t i;
		json_t *f;

		json_array_foreach(json_object_get(rep, lists[l]), i, f) {
			const char *et = sget(f, "engine_text");

			if (strcmp(sget(f, "section"), section))
				continue;
			if (l == 0)
				fprintf(out, "  NOT GATHERED: %s\n", sget(f, "what"));
			else
				fprintf(out, "  %s [%s] %s\n",
					l == 1 ? "FINDING" : "note   ",
					sget(f, "severity"), sget(f, "message"));
			if (*et)
				fprintf(out, "      engine: %s\n", et);
		}
	}
}

static void render_text(FILE *out, const json_t *rep)
{
	const json_t *ac = json_object_get(rep, "active"),
		     *cnt = json_object_get(rep, "counts");
	const char *verdict = sget(rep, "verdict");
	size_t i;
	json_t *e;

	fprintf(out, "zonewall audit of %s, %s (%s)\n", sget(rep, "host"),
		sget(rep, "generated"), sget(rep, "mode"));
	if (json_is_object(ac))
		fprintf(out, "active version %lld by %s since %s, image %s\n",
			(long long)json_integer_value(json_object_get(ac, "version")),
			sget(ac, "user"), sget(ac, "since"), sget(ac, "image_sha256"));
	else
		fputs("no active version\n", out);
	if (!strcmp(verdict, "clean"))
		fputs("VERDICT: CLEAN - nothing found\n", out);
	else
		fprintf(out, "VERDICT: %s - %lld finding(s), %lld piece(s) of "
			     "evidence not gathered\n",
			!strcmp(verdict, "incomplete") ? "INCOMPLETE" : "FINDINGS",
			(long long)json_integer_value(json_object_get(cnt, "findings")),
			(long long)json_integer_value(json_object_get(cnt, "missing")));
	for (const struct zw_audit_section *s = zw_audit_sections; s->key; s++) {
		fprintf(out, "\n%d. %s (%s)\n", (int)(s - zw_audit_sections) + 1,
			s->title, s->requirement);
		text_findings(out, rep, s->key);
		if (!strcmp(s->key, "enforcement")) {
			json_array_foreach(json_object_get(rep, "enforcement"), i, e)
				fprintf(out, "  engine %s: %s, image %s, %lld rule(s) "
					     "held, %lld declared%s\n",
					sget(e, "spec"),
					json_is_true(json_object_get(e, "enforcing"))
						? "enforcing"
						: "NOT ENFORCING",
					json_is_true(json_object_get(e, "image_matches"))
						? "= active version"
						: *sget(e, "sha256") ? sget(e, "sha256")
								     : "none",
					(long long)json_integer_value(json_object_get(e, "held")),
					(long long)json_integer_value(json_object_get(e, "declared")),
					json_is_true(json_object_get(e, "rules_known"))
						? ""
						: " (rules not decoded)");
		} else if (!strcmp(s->key, "appliance")) {
			const json_t *ap = json_object_get(rep, "appliance");

			if (!json_is_true(json_object_get(ap, "checked")))
				fprintf(out, "  not checked: %s\n", sget(ap, "why"));
			json_array_foreach(json_object_get(ap, "zones"), i, e)
				fprintf(out, "  zone %s %s via %s\n", sget(e, "zone"),
					sget(e, "network"),
					*sget(e, "interfaces") ? sget(e, "interfaces")
							       : "(no route)");
		} else if (!strcmp(s->key, "usage")) {
			const json_t *u = json_object_get(rep, "usage");
			size_t n = 0;

			json_array_foreach(json_object_get(u, "flows"), i, e)
				if (json_is_true(json_object_get(e, "recertify"))) {
					if (!n++)
						fprintf(out, "  recertification list "
							     "(not hit for %lld days):\n",
							(long long)json_integer_value(
								json_object_get(u, "unused_days")));
					fprintf(out, "    %s  %s -> %s  owner %s  "
						     "review %s  %s  last hit %s\n",
						sget(e, "flow"), sget(e, "from"),
						sget(e, "to"),
						*sget(e, "owner") ? sget(e, "owner") : "-",
						*sget(e, "review") ? sget(e, "review") : "-",
						sget(e, "justification"),
						json_is_true(json_object_get(e, "never_hit"))
							? "NEVER (since added)"
							: sget(e, "last_hit"));
				}
			if (json_is_object(u) && !n)
				fputs("  every flow was hit recently enough\n", out);
		} else if (!strcmp(s->key, "integrity")) {
			const json_t *in = json_object_get(rep, "integrity"),
				     *jo = json_object_get(in, "journal"),
				     *ck = json_object_get(in, "clock"),
				     *sy = json_object_get(in, "syslog");

			fprintf(out, "  journal %s: %lld entries, head entry %lld, "
				     "hash %s\n",
				json_is_true(json_object_get(jo, "intact")) ? "intact"
									    : "NOT INTACT",
				(long long)json_integer_value(json_object_get(jo, "entries")),
				(long long)json_integer_value(json_object_get(jo, "head_seq")),
				sget(jo, "head_hash"));
			json_array_foreach(json_object_get(in, "engines"), i, e)
				fprintf(out, "  engine %s image sha256 %s\n",
					sget(e, "spec"),
					*sget(e, "sha256") ? sget(e, "sha256") : "none");
			fprintf(out, "  clock %s (%s, %s)\n",
				json_is_true(json_object_get(ck, "synced"))
					? "synchronised"
					: "NOT SYNCHRONISED",
				sget(ck, "state"), sget(ck, "source"));
			if (json_is_true(json_object_get(sy, "enabled")))
				fprintf(out, "  syslog %s: %s, %lld queued\n",
					sget(sy, "server"),
					json_is_true(json_object_get(sy, "connected"))
						? "connected"
						: "disconnected",
					(long long)json_integer_value(json_object_get(sy, "queued")));
		} else if (!strcmp(s->key, "history")) {
			const json_t *h = json_object_get(rep, "history");
			json_t *t, *c;
			size_t k;

			if (!json_is_object(h)) {
				fputs("  (use --since DATE)\n", out);
				continue;
			}
			fprintf(out, "  changes since %s:\n", sget(h, "since"));
			json_array_foreach(json_object_get(h, "changes"), i, e)
				fprintf(out, "    %s  v%lld  %-15s %s  by %s: %s\n",
					sget(e, "time"),
					(long long)json_integer_value(json_object_get(e, "version")),
					sget(e, "action"),
					*sget(e, "flow") ? sget(e, "flow") : sget(e, "zone"),
					sget(e, "user"), sget(e, "reason"));
			json_array_foreach(json_object_get(h, "traffic"), i, t) {
				fprintf(out, "  allowed traffic, version %lld -> %lld (%s):\n",
					(long long)json_integer_value(json_object_get(t, "previous")),
					(long long)json_integer_value(json_object_get(t, "version")),
					sget(t, "time"));
				json_array_foreach(json_object_get(t, "added"), k, c)
					fprintf(out, "    now allowed: %s %s -> %s %s%s\n",
						sget(c, "flow"), sget(c, "from"),
						sget(c, "to"), sget(c, "service"),
						json_is_true(json_object_get(c, "whole")) ? "" : " (part)");
				json_array_foreach(json_object_get(t, "removed"), k, c)
					fprintf(out, "    no longer allowed: %s %s -> %s %s%s\n",
						sget(c, "flow"), sget(c, "from"),
						sget(c, "to"), sget(c, "service"),
						json_is_true(json_object_get(c, "whole")) ? "" : " (part)");
			}
		}
	}
}

/* ---- Firewall Orchestrator's compliance-matrix import format ---- */

static int render_fwo(FILE *out, const json_t *rep)
{
	const json_t *ac = json_object_get(rep, "active");
	json_t *doc, *areas = json_array();
	const json_t *flows = json_object_get(json_object_get(rep, "usage"), "flows");
	size_t i, k;
	json_t *z, *f;

	if (!json_is_object(ac) || !areas) {
		json_decref(areas);
		zw_ctl_err("no active version: no zone matrix to export");
		return ZW_EXIT_INVALID;
	}
	json_array_foreach(json_object_get(rep, "zones"), i, z) {
		const char *name = sget(z, "name");
		json_t *subnets = json_array(), *to = json_array(), *n;
		bool used = false;

		json_array_foreach(json_object_get(z, "networks"), k, n)
			json_array_append_new(subnets,
					      json_pack("{s:s, s:O}", "name", name,
							"ip", n));
		if (!json_is_true(json_object_get(z, "isolate")) &&
		    json_array_size(json_object_get(z, "networks")))
			json_array_append_new(to, json_pack("{s:s}", "id_string", name));
		json_array_foreach(flows, k, f) {
			bool dup = false;
			size_t m;
			json_t *t;

			if (!json_is_true(json_object_get(f, "live")))
				continue;
			used |= !strcmp(sget(f, "from"), name) ||
				!strcmp(sget(f, "to"), name);
			if (strcmp(sget(f, "from"), name))
				continue;
			json_array_foreach(to, m, t)
				dup |= !strcmp(sget(t, "id_string"), sget(f, "to"));
			if (!dup)
				json_array_append_new(to, json_pack("{s:s}", "id_string",
								    sget(f, "to")));
		}
		/* "outside" only when a flow names it */
		if (!strcmp(sget(z, "kind"), "outside") && !used) {
			json_decref(subnets);
			json_decref(to);
			continue;
		}
		json_array_append_new(areas,
				      json_pack("{s:s, s:s, s:o, s:o}", "name", name,
						"id_string", name, "subnets", subnets,
						"communication_to", to));
	}
	{
		char c[200];

		snprintf(c, sizeof(c), "zonewall matrix version %lld, image sha256 %s",
			 (long long)json_integer_value(json_object_get(ac, "version")),
			 sget(ac, "image_sha256"));
		doc = json_pack("{s:s, s:s, s:o}", "name",
				*sget(ac, "matrix_name") ? sget(ac, "matrix_name")
							 : "zonewall",
				"comment", c, "areas", areas);
	}
	if (!doc)
		return ZW_EXIT_ENV;
	json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
	return 0;
}

/* ---- the command ---- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (!m) {
		fclose(f);
		return NULL;
	}
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int zw_cmd_audit(int argc, char **argv)
{
	struct audit_opts o = {.unused_days = 90};
	struct zw_ctl_args args;
	json_t *req, *resp, *rep;
	char *carto = NULL, *buf = NULL;
	size_t len = 0;
	FILE *out;
	int r, rc;

	r = zw_ctl_parse(&audit_cmdline, &o, argc, argv, &args);
	if (r != ZW_CTL_GO)
		return r;
	if (o.cartography && !(carto = read_all(o.cartography))) {
		zw_ctl_err("cannot read the cartography %s: %s", o.cartography,
			   strerror(errno));
		return ZW_EXIT_ENV;
	}
	req = json_pack("{s:s, s:I, s:b}", "op", "audit", "unused_days",
			(json_int_t)o.unused_days, "cartography_template",
			o.cartography_template);
	if (o.since)
		json_object_set_new(req, "since", json_string(o.since));
	if (carto)
		json_object_set_new(req, "cartography", json_string(carto));
	free(carto);
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	if (o.cartography_template) {
		const char *t = sget(resp, "template");

		r = zw_ctl_write(o.output, t, strlen(t));
		json_decref(resp);
		if (r < 0) {
			zw_ctl_err("cannot write %s: %s", o.output, strerror(-r));
			return ZW_EXIT_ENV;
		}
		return ZW_EXIT_OK;
	}
	rep = json_object_get(resp, "report");
	rc = (int)json_integer_value(json_object_get(rep, "exit"));
	out = open_memstream(&buf, &len);
	if (!out) {
		json_decref(resp);
		return ZW_EXIT_ENV;
	}
	switch (o.format) {
	case F_JSON:
		json_dumpf(rep, out, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', out);
		break;
	case F_CSV:
		render_csv(out, rep);
		break;
	case F_HTML:
		r = zw_audit_html(out, rep);
		break;
	case F_FWO:
		r = render_fwo(out, rep);
		if (r)
			rc = r;
		break;
	default:
		render_text(out, rep);
	}
	if (fclose(out) || r < 0) {
		free(buf);
		json_decref(resp);
		zw_ctl_err("out of memory");
		return ZW_EXIT_ENV;
	}
	r = zw_ctl_write(o.output, buf, len);
	free(buf);
	if (r < 0) {
		zw_ctl_err("cannot write %s: %s", o.output, strerror(-r));
		json_decref(resp);
		return ZW_EXIT_ENV;
	}
	/* The FWO export is the matrix, not the verdict. */
	if (o.format == F_FWO && rc != ZW_EXIT_INVALID)
		rc = ZW_EXIT_OK;
	{
		const json_t *miss = json_object_get(rep, "missing");
		size_t i;
		json_t *m;

		json_array_foreach(miss, i, m)
			zw_ctl_err("evidence not gathered (%s): %s",
				   sget(m, "section"), sget(m, "what"));
	}
	json_decref(resp);
	return rc;
}

int zw_ctl_version_at(const char *when, char **text, size_t *len,
		      long long *version, int32_t *day)
{
	json_t *req = json_pack("{s:s, s:s}", "op", "version_at", "at", when),
	       *resp;
	const char *m;
	int r = zw_ctl_request(req, true, &resp);

	json_decref(req);
	if (r)
		return r;
	m = json_string_value(json_object_get(resp, "matrix"));
	*len = json_string_length(json_object_get(resp, "matrix"));
	*text = m ? malloc(*len + 1) : NULL;
	if (!*text) {
		json_decref(resp);
		zw_ctl_err("out of memory");
		return ZW_EXIT_ENV;
	}
	memcpy(*text, m, *len);
	(*text)[*len] = '\0';
	*version = (long long)json_integer_value(json_object_get(resp, "version"));
	if (zw_date__parse(sget(resp, "day"), day))
		*day = zw_date__today();
	fprintf(stderr, "zonectl: at %s: version %lld, in force from %s%s%s\n",
		when, *version, sget(resp, "since"),
		*sget(resp, "until") ? " to " : " (still active)",
		sget(resp, "until"));
	json_decref(resp);
	return 0;
}
