/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The auditor's report (audit.h, docs/audit.md). One pass gathers every
 * section as data; findings (something to act on), notes (information)
 * and missing evidence are kept apart so that zonectl's exit code says
 * which: 3 when evidence is missing, else 1 when there are findings.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "proto.h"
#include "state.h"
#include "usage.h"
#include "zonewalld.h"

#define ZW_AUDIT_EXPIRING_DAYS 30
#define ZW_AUDIT_REVIEW_DAYS 365

/* ---- findings ---- */

static json_t *vadd(json_t *arr, const char *section, const char *severity,
		    const char *kind, const char *subject, const char *fmt,
		    va_list ap)
{
	char *msg = NULL;
	json_t *o;

	if (vasprintf(&msg, fmt, ap) < 0)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "section", section,
		      "severity", severity, "kind", kind, "subject",
		      subject ? subject : "", "message", msg);
	free(msg);
	if (!o || json_array_append_new(arr, o))
		return NULL;
	return o;
}

json_t *zwd_audit__add(struct zwd_audit *a, bool note, const char *section,
		       const char *severity, const char *kind,
		       const char *subject, const char *fmt, ...)
{
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	o = vadd(note ? a->notes : a->findings, section, severity, kind,
		 subject, fmt, ap);
	va_end(ap);
	return o;
}

void zwd_audit__missing(struct zwd_audit *a, const char *section,
			const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	json_array_append_new(a->missing, json_pack("{s:s, s:s}", "section",
						    section, "what", msg));
	free(msg);
}

/* ---- the active version ---- */

struct active {
	int64_t n;
	struct zw_version_rec v;
	struct zw_matrix *m;
	struct zw_diags diags;
	bool have_v;
};

static void active_fini(struct active *ac)
{
	if (ac->have_v)
		zw_state__version_fini(&ac->v);
	zw_matrix__free(ac->m);
	zw_diags__fini(&ac->diags);
}

/* Parse a stored version's matrix (validated on @today into @diags). */
static struct zw_matrix *version_matrix(sqlite3 *db, int64_t n, int32_t today,
					struct zw_diags *diags)
{
	struct zw_version_rec v;
	struct zw_matrix *m;

	zw_diags__init(diags, NULL);
	if (zw_state__version_get(db, n, true, &v))
		return NULL;
	zw_diags__fini(diags);
	zw_diags__init(diags, v.file);
	m = zw_matrix__parse(v.matrix, v.matrix_len, v.file, diags);
	if (m)
		zw_matrix__validate(m, today, diags);
	zw_state__version_fini(&v);
	return m;
}

/* ---- journal walks ---- */

struct activation {
	int64_t version;
	int64_t time_us;
};

struct walk {
	struct activation *act;
	size_t n_act, cap;
	json_t *added;	 /* flow id -> time of its latest flow-added */
	json_t *changes; /* entries at or after since_us, or NULL */
	int64_t since_us;
};

static int walk_cb(int64_t seq, const char *content, const char *hash,
		   void *ctx)
{
	struct walk *w = ctx;
	json_t *c = json_loads(content, 0, NULL);
	const char *action, *ts;
	int64_t t = 0;

	(void)seq, (void)hash;
	if (!c)
		return -EBADMSG;
	action = json_string_value(json_object_get(c, "action"));
	ts = json_string_value(json_object_get(c, "time"));
	if (!action || !ts || zw_time__parse(ts, &t)) {
		json_decref(c);
		return 0;
	}
	if (!strcmp(action, "commit") || !strcmp(action, "rollback")) {
		if (w->n_act == w->cap) {
			struct activation *na;

			w->cap = w->cap ? w->cap * 2 : 16;
			na = realloc(w->act, w->cap * sizeof(*na));
			if (!na) {
				json_decref(c);
				return -ENOMEM;
			}
			w->act = na;
		}
		w->act[w->n_act++] = (struct activation){
			json_integer_value(json_object_get(c, "version")), t};
	}
	if (w->added && !strcmp(action, "flow-added") &&
	    json_is_string(json_object_get(c, "flow")))
		json_object_set_new(w->added,
				    json_string_value(json_object_get(c, "flow")),
				    json_string(ts));
	if (w->changes && t >= w->since_us && strcmp(action, "reconcile")) {
		json_t *e = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
				      "time", json_object_get(c, "time"),
				      "action", json_object_get(c, "action"),
				      "version", json_object_get(c, "version"),
				      "user", json_object_get(c, "user"),
				      "reason", json_object_get(c, "reason"),
				      "flow", json_object_get(c, "flow"),
				      "zone", json_object_get(c, "zone"),
				      "detail", json_object_get(c, "detail"));

		if (e)
			json_array_append_new(w->changes, e);
	}
	json_decref(c);
	return 0;
}

static int walk_journal(struct zw_journal *j, struct walk *w)
{
	struct zw_journal_filter f = {.with_archive = true};

	return zw_journal__foreach(j, &f, walk_cb, w);
}

/* ---- traffic changes as text ---- */

static void addr_text(uint8_t family, const uint8_t a[16], char *buf)
{
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, 64);
}

static char *box_text(const struct zw_traffic_box *b)
{
	char sl[64], sh[64], dl[64], dh[64], pb[4], *out = NULL;
	int r;

	addr_text(b->family, b->src_lo, sl);
	addr_text(b->family, b->src_hi, sh);
	addr_text(b->family, b->dst_lo, dl);
	addr_text(b->family, b->dst_hi, dh);
	if (b->any_proto)
		r = asprintf(&out, "any protocol from %s-%s to %s-%s", sl, sh,
			     dl, dh);
	else if (zw_proto__has_ports(b->proto) || zw_proto__is_icmp(b->proto))
		r = asprintf(&out, "%s/%u%s%.0u from %s-%s to %s-%s",
			     zw_proto__name(b->proto, pb), b->lo,
			     b->hi != b->lo ? "-" : "", b->hi != b->lo ? b->hi : 0,
			     sl, sh, dl, dh);
	else
		r = asprintf(&out, "%s from %s-%s to %s-%s",
			     zw_proto__name(b->proto, pb), sl, sh, dl, dh);
	return r < 0 ? NULL : out;
}

static json_t *changes_json(const struct zw_matrix *m,
			    const struct zw_traffic_change *c, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		const char *flow = c[i].flow == ZW_TRAFFIC_SAME_ZONE
					   ? "-"
					   : m->flows[c[i].flow].id;
		const char *svc = c[i].service == ZW_TRAFFIC_SAME_ZONE
					  ? "same zone"
					  : m->services[c[i].service].name;
		json_t *boxes = json_array();

		for (size_t k = 0; k < c[i].n_boxes && k < 20; k++) {
			char *t = box_text(&c[i].boxes[k]);

			if (t)
				json_array_append_new(boxes, json_string(t));
			free(t);
		}
		if (c[i].n_boxes > 20)
			json_array_append_new(
				boxes, json_sprintf("... and %zu more",
						    c[i].n_boxes - 20));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "flow",
				       flow, "from", m->zones[c[i].from].name,
				       "to", m->zones[c[i].to].name, "service",
				       svc, "whole", c[i].whole, "traffic",
				       boxes));
	}
	return arr;
}

/* ---- section 1: enforced = declared ---- */

/* Rules are compared port by port: engines may merge adjacent ranges of
 * one flow (XDP decodes tcp/22 and an entry added for tcp/23 as
 * tcp/22-23), so each (zone pair, protocol, narrowing, flow) group's port
 * ranges are merged and the differences named range by range. A narrowed
 * rule counts once per source and destination prefix, so an element added
 * to an nft set names the one prefix added, not the whole list twice. */
struct span {
	char *group;	/* from|to|proto|src|dst|flow */
	char *src, *dst; /* this span's one prefix each, NULL = zone */
	uint32_t lo, hi;
	size_t idx;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	if (c)
		return c;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* "ops -> jump tcp/22 src a dst b" (a port range or type; any: none). */
static char *rule_text(const struct zw_held_rule *r)
{
	char pb[4], ports[32] = "", *out = NULL;

	if (!r->any) {
		const char *what = zw_proto__is_icmp(r->proto) ? " type " : "/";

		if (r->lo == r->hi)
			snprintf(ports, sizeof(ports), "%s%u", what, r->lo);
		else
			snprintf(ports, sizeof(ports), "%s%u-%u", what, r->lo,
				 r->hi);
	}
	if (asprintf(&out, "%s -> %s %s%s%s%s%s%s", r->from, r->to,
		     zw_proto__name(r->proto, pb), ports,
		     r->src ? " src " : "", r->src ? r->src : "",
		     r->dst ? " dst " : "", r->dst ? r->dst : "") < 0)
		return NULL;
	return out;
}

static void spans_free(struct span *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].group);
		free(v[i].src);
		free(v[i].dst);
	}
	free(v);
}

/* Prefixes in a list "a,b": the length of the first of @s. */
static size_t prefix_len(const char *s)
{
	return strcspn(s, ",");
}

/* One span per rule, source prefix and destination prefix, sorted; their
 * number in *@n. NULL if out of memory. */
static struct span *spans_of(const struct zw_backend_state *st, size_t *n)
{
	struct span *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < st->n_rules; i++) {
		const struct zw_held_rule *r = &st->rules[i];
		const char *s = r->src ? r->src : "";

		do {
			size_t sl = prefix_len(s);
			const char *t = r->dst ? r->dst : "";

			do {
				size_t tl = prefix_len(t);
				struct span *x;

				if (*n == cap) {
					size_t c = cap ? 2 * cap : 16;
					struct span *w = realloc(v, c * sizeof(*v));

					if (!w)
						goto oom;
					v = w;
					cap = c;
				}
				x = &v[*n];
				memset(x, 0, sizeof(*x));
				(*n)++;
				if (asprintf(&x->group, "%s|%s|%u|%.*s|%.*s|%s",
					     r->from, r->to, r->proto, (int)sl, s,
					     (int)tl, t, r->flow_id) < 0) {
					x->group = NULL;
					goto oom;
				}
				if ((sl && !(x->src = strndup(s, sl))) ||
				    (tl && !(x->dst = strndup(t, tl))))
					goto oom;
				x->lo = r->any ? 0 : r->lo;
				x->hi = r->any ? 65535 : r->hi;
				x->idx = i;
				t += tl + (t[tl] == ',');
			} while (*t);
			s += sl + (s[sl] == ',');
		} while (*s);
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return NULL;
	qsort(v, *n, sizeof(*v), cmp_span);
	return v;
oom:
	spans_free(v, *n);
	return NULL;
}

/* The lines of @text that name flow @flow (a word of it, not part of a
 * longer id), joined with newlines; NULL if none. The engine's words of a
 * rule it no longer holds are only in its drift text. */
static char *lines_naming(const char *text, const char *flow)
{
	char *out = NULL;
	size_t len = 0, fl = strlen(flow);
	FILE *f;

	if (!text || !fl || !(f = open_memstream(&out, &len)))
		return NULL;
	for (const char *l = text; *l;) {
		size_t ll = strcspn(l, "\n");
		bool hit = false;

		for (const char *p = l; !hit && (p = memmem(p, ll - (size_t)(p - l),
							     flow, fl));
		     p++) {
			char b = p > l ? p[-1] : ' ', e = p[fl];

			hit = !(isalnum((unsigned char)b) || b == '.' ||
				b == '-' || b == '_') &&
			      !(isalnum((unsigned char)e) || e == '.' ||
				e == '-' || e == '_');
		}
		if (hit)
			fprintf(f, "%s%.*s", ftell(f) ? "\n" : "", (int)ll, l);
		l += ll + (l[ll] == '\n');
	}
	fclose(f);
	if (out && !*out) {
		free(out);
		out = NULL;
	}
	return out;
}

static void rule_finding(struct zwd_audit *a, const struct zwd_backend *b,
			 const struct zw_backend_state *st,
			 const struct span *g, size_t n_g, uint32_t lo,
			 uint32_t hi, bool added, int64_t version,
			 const char *held_drift)
{
	struct zw_held_rule r = st->rules[g[0].idx];
	char *txt, *et = NULL;
	size_t etl = 0;
	FILE *ef;
	json_t *f;

	r.lo = (uint16_t)lo;
	r.hi = (uint16_t)hi;
	r.any = lo == 0 && hi == 65535 && st->rules[g[0].idx].any;
	r.src = g[0].src;
	r.dst = g[0].dst;
	txt = rule_text(&r);
	if (!txt)
		return;
	/* the engine's words of the held rules that overlap the range */
	ef = open_memstream(&et, &etl);
	for (size_t k = 0; ef && k < n_g; k++) {
		const char *w = st->rules[g[k].idx].engine_text;

		if (w && g[k].lo <= hi && g[k].hi >= lo)
			fprintf(ef, "%s%s", etl || ftell(ef) ? "\n" : "", w);
	}
	if (ef)
		fclose(ef);
	if (added)
		f = zwd_audit__add(a, false, "enforcement", "high", "rule-added",
				   txt,
				   "%s: %s allows %s: no flow of version %lld "
				   "allows it%s%s%s",
				   b->spec, b->be->ops->name, txt,
				   (long long)version,
				   *r.flow_id ? " (the engine attributes it to "
						"flow "
					      : "",
				   r.flow_id, *r.flow_id ? ")" : "");
	else
		f = zwd_audit__add(a, false, "enforcement", "high",
				   "rule-missing", txt,
				   "%s: flow %s of version %lld allows %s, "
				   "which %s does not enforce",
				   b->spec, r.flow_id, (long long)version, txt,
				   b->be->ops->name);
	if (f) {
		json_object_set_new(f, "engine", json_string(b->spec));
		json_object_set_new(f, "from", json_string(r.from));
		json_object_set_new(f, "to", json_string(r.to));
		if (*r.flow_id)
			json_object_set_new(f, "flow", json_string(r.flow_id));
		if (added && et && *et) {
			json_object_set_new(f, "engine_text", json_string(et));
		} else if (!added && *r.flow_id) {
			/* what the engine says it lost, in its words */
			char *w = lines_naming(held_drift, r.flow_id);

			if (w)
				json_object_set_new(f, "engine_text",
						    json_string(w));
			free(w);
		}
	}
	free(et);
	free(txt);
}

/* Name each part of the ranges of group @x (in @xs) that the ranges of the
 * same group in @ys do not cover. Both sorted by lo. */
static size_t uncovered(struct zwd_audit *a, const struct zwd_backend *b,
			const struct zw_backend_state *xs, const struct span *x,
			size_t nx, const struct span *y, size_t ny, bool added,
			int64_t version, const char *held_drift)
{
	size_t n = 0, k = 0;
	uint32_t cur = 0;
	bool open = false;

	/* walk the merged ranges of x, subtract y */
	for (size_t i = 0; i < nx; i++) {
		uint32_t lo = x[i].lo, hi = x[i].hi;

		if (open && lo <= cur)
			lo = cur;
		if (open && lo > hi)
			continue;
		while (lo <= hi) {
			while (k < ny && y[k].hi < lo)
				k++;
			if (k == ny || y[k].lo > hi) {
				rule_finding(a, b, xs, x, nx, lo, hi, added,
					     version, held_drift);
				n++;
				break;
			}
			if (y[k].lo > lo) {
				rule_finding(a, b, xs, x, nx, lo, y[k].lo - 1,
					     added, version, held_drift);
				n++;
			}
			if (y[k].hi >= hi)
				break;
			lo = y[k].hi + 1;
		}
		cur = hi + 1;
		open = true;
	}
	return n;
}

/* Held rules against declared ones: everything allowed by one and not the
 * other, in matrix terms. */
static size_t compare_rules(struct zwd_audit *a, const struct zwd_backend *b,
			    const struct zw_backend_state *held,
			    const struct zw_backend_state *decl,
			    int64_t version)
{
	size_t nh = 0, nd = 0;
	struct span *h = spans_of(held, &nh), *d = spans_of(decl, &nd);
	size_t i = 0, k = 0, n = 0;

	if (!h || !d) {
		spans_free(h, nh);
		spans_free(d, nd);
		zwd_audit__missing(a, "enforcement", "%s: out of memory",
				   b->spec);
		return 0;
	}
	while (i < nh || k < nd) {
		size_t i2 = i, k2 = k;
		int c = i == nh	  ? 1
			: k == nd ? -1
				  : strcmp(h[i].group, d[k].group);

		if (c <= 0)
			while (i2 < nh && !strcmp(h[i2].group, h[i].group))
				i2++;
		if (c >= 0)
			while (k2 < nd && !strcmp(d[k2].group, d[k].group))
				k2++;
		n += uncovered(a, b, held, h + i, i2 - i, d + k, k2 - k, true,
			       version, held->drift);
		n += uncovered(a, b, decl, d + k, k2 - k, h + i, i2 - i, false,
			       version, held->drift);
		i = i2;
		k = k2;
	}
	spans_free(h, nh);
	spans_free(d, nd);
	return n;
}

static json_t *enforcement(struct zwd_audit *a, struct zwd *d)
{
	struct zw_backend_state decl = {0};
	json_t *arr = json_array();
	char hex[65];

	if (!d->n_bes)
		zwd_audit__add(a, false, "enforcement", "high", "no-engine", "",
			       "zonewalld programs no engine: nothing is "
			       "enforced");
	if (d->enforced &&
	    zw_backend_state__add_image_rules(&decl, d->enforced, d->day) < 0) {
		zwd_audit__missing(a, "enforcement", "out of memory");
		return arr;
	}
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		struct zw_backend_state st;
		size_t n0 = json_array_size(a->findings), diffs = 0;
		bool same;
		int r = b->be->ops->read_back(b->be, d->enforced, &st);
		json_t *foreign = json_array();

		if (r < 0) {
			zwd_audit__missing(a, "enforcement",
					   "%s: cannot read back what the "
					   "engine holds: %s",
					   b->spec, strerror(-r));
			json_array_append_new(arr,
					      json_pack("{s:s, s:s, s:b}", "spec",
							b->spec, "engine",
							b->be->ops->name,
							"read", 0));
			json_decref(foreign);
			continue;
		}
		zw_hex(st.sha256, 32, hex);
		same = d->enforced && st.enforcing &&
		       !memcmp(st.sha256, d->enforced->sha256, 32);
		if (!st.enforcing && d->enforced)
			zwd_audit__add(a, false, "enforcement", "high",
				       "not-enforcing", b->spec,
				       "%s: the engine enforces no zonewall "
				       "policy (version %lld should be in force)%s%s",
				       b->spec, (long long)d->active,
				       st.drift ? ": " : "",
				       st.drift ? st.drift : "");
		else if (st.enforcing && d->enforced && !same) {
			json_t *f = zwd_audit__add(
				a, false, "enforcement", "high", "engine-image",
				b->spec,
				"%s: the engine holds image %s, not the image "
				"of version %lld (%s): it enforces another "
				"matrix than the active one",
				b->spec, hex, (long long)d->active,
				d->enforced->sha256_hex);

			/* the engine's words: what it says it runs */
			if (f && (st.drift || *st.detail))
				json_object_set_new(
					f, "engine_text",
					json_string(*st.detail ? st.detail
							       : st.drift));
		}
		else if (st.enforcing && !d->enforced)
			zwd_audit__add(a, false, "enforcement", "high",
				       "engine-image", b->spec,
				       "%s: the engine enforces image %s while "
				       "no version is active",
				       b->spec, hex);
		if (st.enforcing && st.rules_known && d->enforced)
			diffs = compare_rules(a, b, &st, &decl, d->active);
		else if (st.enforcing && !st.rules_known)
			zwd_audit__add(a, true, "enforcement", "low",
				       "rules-unknown", b->spec,
				       "%s: the engine cannot decode the rules "
				       "it holds; compared by image SHA-256%s",
				       b->spec, st.drift ? " and drift" : " only");
		for (size_t k = 0; k < st.n_foreign; k++) {
			/* named by the object itself: several may be found */
			json_t *f = zwd_audit__add(
				a, false, "enforcement", "high", "foreign",
				st.foreign[k],
				"%s: foreign object on the engine's hooks, "
				"where it sees the traffic between zones and "
				"can change a verdict: %s",
				b->spec, st.foreign[k]);

			if (f) {
				json_object_set_new(f, "engine",
						    json_string(b->spec));
				json_object_set_new(f, "engine_text",
						    json_string(st.foreign[k]));
			}
			json_array_append_new(foreign, json_string(st.foreign[k]));
		}
		/* Drift the comparison above did not already name. */
		if (st.drift && st.enforcing &&
		    json_array_size(a->findings) == n0 + 0 && !diffs) {
			json_t *f = zwd_audit__add(
				a, false, "enforcement", "high", "drift",
				b->spec, "%s: what the engine holds differs "
					 "from version %lld: %s",
				b->spec, (long long)d->active, st.drift);

			if (f) {
				json_object_set_new(f, "engine",
						    json_string(b->spec));
				json_object_set_new(f, "engine_text",
						    json_string(st.drift));
			}
		}
		for (size_t k = n0; k < json_array_size(a->findings); k++) {
			json_t *f = json_array_get(a->findings, k);

			if (!json_object_get(f, "engine"))
				json_object_set_new(f, "engine",
						    json_string(b->spec));
		}
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:b, s:b, s:s?, s:b, s:b, "
				       "s:I, s:I, s:s?, s:o, s:s, s:s?}",
				       "spec", b->spec, "engine", b->be->ops->name,
				       "read", 1, "enforcing", st.enforcing != 0,
				       "sha256", st.enforcing ? hex : NULL,
				       "image_matches", same, "rules_known",
				       st.rules_known, "held",
				       (json_int_t)st.n_rules, "declared",
				       (json_int_t)decl.n_rules, "drift", st.drift,
				       "foreign", foreign, "detail", st.detail,
				       "last_error",
				       *b->last_error ? b->last_error : NULL));
		zw_backend_state__fini(&st);
	}
	zw_backend_state__fini(&decl);
	return arr;
}

/* ---- section 3: cartography ---- */

/* One CSV record of @s from *@pos (RFC 4180), its fields in @f (at most
 * @max, each malloc'd). Returns the number of fields, 0 at the end. */
static int csv_record(const char *s, size_t *pos, char **f, int max)
{
	size_t p = *pos;
	int n = 0;

	if (!s[p])
		return 0;
	for (;;) {
		char *out = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&out, &len);

		if (!m)
			return -ENOMEM;
		if (s[p] == '"') {
			p++;
			while (s[p]) {
				if (s[p] == '"' && s[p + 1] == '"') {
					fputc('"', m);
					p += 2;
				} else if (s[p] == '"') {
					p++;
					break;
				} else {
					fputc(s[p++], m);
				}
			}
		}
		while (s[p] && s[p] != ',' && s[p] != '\n' && s[p] != '\r')
			fputc(s[p++], m);
		fclose(m);
		if (n < max)
			f[n++] = out;
		else
			free(out);
		if (s[p] == ',') {
			p++;
			continue;
		}
		if (s[p] == '\r')
			p++;
		if (s[p] == '\n')
			p++;
		break;
	}
	*pos = p;
	return n;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	/* a cell protected against formula injection ('=...) */
	if (*s == '\'')
		s++;
	return s;
}

enum { C_ZONE, C_KIND, C_NETWORK, C_POINT, C_DEVICE, C_LOCATION, C_DESC,
       C__N };
static const char *const carto_cols[C__N] = {
	"zone", "kind", "network", "interconnection_point",
	"filtering_device", "location", "description",
};

static json_t *cartography(struct zwd_audit *a, const struct zw_matrix *m,
			   const char *text)
{
	char *f[16];
	int col[C__N], n, row = 1;
	size_t pos = 0, n_rows = 0;
	bool *seen = NULL;
	size_t total = 0, *base = NULL;

	for (int c = 0; c < C__N; c++)
		col[c] = -1;
	n = csv_record(text, &pos, f, 16);
	for (int i = 0; i < n; i++) {
		char *h = trim(f[i]);

		for (int c = 0; c < C__N; c++)
			if (!strcasecmp(h, carto_cols[c]))
				col[c] = i;
		free(f[i]);
	}
	if (col[C_ZONE] < 0 || col[C_NETWORK] < 0) {
		zwd_audit__add(a, false, "cartography", "medium", "carto-format",
			       "", "the cartography has no header line naming "
				   "at least the columns zone and network");
		return json_pack("{s:b, s:i}", "given", 1, "rows", 0);
	}
	base = calloc(m->n_zones + 1, sizeof(*base));
	for (size_t z = 0; base && z < m->n_zones; z++) {
		base[z] = total;
		total += m->zones[z].n_networks;
	}
	seen = calloc(total + 1, sizeof(*seen));
	if (!base || !seen) {
		free(base);
		free(seen);
		zwd_audit__missing(a, "cartography", "out of memory");
		return json_null();
	}
	while ((n = csv_record(text, &pos, f, 16)) > 0) {
		const char *v[C__N];
		struct zw_prefix p;
		char subj[160];
		int z;

		row++;
		for (int c = 0; c < C__N; c++)
			v[c] = col[c] >= 0 && col[c] < n ? trim(f[col[c]]) : "";
		if (!*v[C_ZONE] && !*v[C_NETWORK])
			goto next;
		n_rows++;
		snprintf(subj, sizeof(subj), "%s %s", v[C_ZONE], v[C_NETWORK]);
		z = zw_matrix__zone_index(m, v[C_ZONE]);
		if (z <= 0) {
			zwd_audit__add(a, false, "cartography", "medium",
				       "carto-zone-unknown", subj,
				       "cartography line %d: zone '%s' is not in "
				       "the matrix",
				       row, v[C_ZONE]);
			goto next;
		}
		if (*v[C_KIND] &&
		    strcmp(v[C_KIND], zw_zone_kind__name(m->zones[z].kind)))
			zwd_audit__add(a, false, "cartography", "medium",
				       "carto-kind-mismatch", subj,
				       "cartography line %d: zone %s is of kind "
				       "'%s' there, '%s' in the matrix",
				       row, v[C_ZONE], v[C_KIND],
				       zw_zone_kind__name(m->zones[z].kind));
		if (zw_prefix__parse(v[C_NETWORK], &p)) {
			zwd_audit__add(a, false, "cartography", "medium",
				       "carto-bad-network", subj,
				       "cartography line %d: '%s' is not a "
				       "network",
				       row, v[C_NETWORK]);
		} else {
			bool found = false;

			for (size_t k = 0; k < m->zones[z].n_networks; k++)
				if (m->zones[z].networks[k].family == p.family &&
				    m->zones[z].networks[k].len == p.len &&
				    zw_prefix__contains(&m->zones[z].networks[k],
							&p)) {
					seen[base[z] + k] = true;
					found = true;
				}
			if (!found)
				zwd_audit__add(a, false, "cartography", "medium",
					       "carto-network-undeclared", subj,
					       "cartography line %d: network %s "
					       "of zone %s is not declared in "
					       "the matrix",
					       row, v[C_NETWORK], v[C_ZONE]);
		}
		if (*v[C_POINT] && !*v[C_DEVICE])
			zwd_audit__add(a, false, "cartography", "medium",
				       "carto-unfiltered", subj,
				       "cartography line %d: interconnection "
				       "point '%s' of zone %s names no filtering "
				       "device",
				       row, v[C_POINT], v[C_ZONE]);
next:
		for (int i = 0; i < n; i++)
			free(f[i]);
	}
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t k = 0; k < m->zones[z].n_networks; k++) {
			char buf[64], subj[160];

			if (seen[base[z] + k])
				continue;
			zw_prefix__format(&m->zones[z].networks[k], buf);
			snprintf(subj, sizeof(subj), "%s %s", m->zones[z].name,
				 buf);
			zwd_audit__add(a, false, "cartography", "medium",
				       "carto-network-missing", subj,
				       "network %s of zone %s (matrix) is "
				       "missing from the cartography",
				       buf, m->zones[z].name);
		}
	free(base);
	free(seen);
	return json_pack("{s:b, s:I}", "given", 1, "rows", (json_int_t)n_rows);
}

/* One cell of a CSV row: zw_csv__field() (RFC 4180 quoting, formula
 * cells protected), after the comma unless it is the row's first. */
static void csv_cell(FILE *out, const char *s, bool first)
{
	if (!first)
		fputc(',', out);
	zw_csv__field(out, s);
}

static char *cartography_template(const struct zw_matrix *m, struct zwd *d)
{
	json_t *ifs = d ? zwd_appliance__zone_ifaces(m) : json_object();
	char *out = NULL, dev[512] = "zonewall";
	size_t len = 0, used = strlen(dev);
	FILE *f = open_memstream(&out, &len);

	if (!f) {
		json_decref(ifs);
		return NULL;
	}
	for (size_t i = 0; d && i < d->n_bes; i++)
		used += (size_t)snprintf(dev + used,
					 used < sizeof(dev) ? sizeof(dev) - used : 0,
					 "%s%s", i ? " " : " ", d->bes[i].spec);
	fputs("zone,kind,network,interconnection_point,filtering_device,"
	      "location,description\r\n",
	      f);
	for (size_t z = 1; z < m->n_zones; z++)
		for (size_t k = 0; k < m->zones[z].n_networks; k++) {
			char buf[64];
			const char *point;

			zw_prefix__format(&m->zones[z].networks[k], buf);
			point = json_string_value(json_object_get(ifs, buf));
			csv_cell(f, m->zones[z].name, true);
			csv_cell(f, zw_zone_kind__name(m->zones[z].kind), false);
			csv_cell(f, buf, false);
			csv_cell(f, point ? point : "", false);
			csv_cell(f, point && *point ? dev : "", false);
			csv_cell(f, "", false);
			csv_cell(f, m->zones[z].description
					    ? m->zones[z].description
					    : "",
				 false);
			fputs("\r\n", f);
		}
	json_decref(ifs);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- sections 4 and 5: usage, review and hygiene ---- */

static int64_t day_us(int32_t day)
{
	return (int64_t)day * 86400 * 1000000;
}

static json_t *services_json(const struct zw_matrix *m, const struct zw_flow *f)
{
	json_t *s = json_array();

	for (size_t k = 0; s && k < f->n_services; k++)
		json_array_append_new(s,
				      json_string(m->services[f->services[k]].name));
	return s;
}

static json_t *flows_section(struct zwd_audit *a, const struct zw_matrix *m,
			     sqlite3 *db, json_t *added, long unused_days,
			     int32_t today, int64_t now_us, bool live)
{
	struct zw_usage_flow *u = NULL;
	size_t n_u = 0;
	int64_t since = 0, limit = now_us - (int64_t)unused_days * 86400 * 1000000;
	json_t *flows = json_array();
	char tb[32], db_[11];

	if (zw_usage__read(db, &u, &n_u, &since) < 0)
		zwd_audit__missing(a, "usage", "cannot read the usage table");
	else if (!n_u && m->n_flows)
		zwd_audit__missing(a, "usage",
				   "no flow usage was ever sampled%s",
				   live ? " (no engine gives counters)"
					: " (the daemon samples it)");
	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		const struct zw_usage_flow *x = zw_usage__find(u, n_u, f->id);
		const char *add_s = json_string_value(json_object_get(added, f->id));
		int64_t add_us = 0;
		bool never = !x || !x->last_hit_us, recert = false;
		char rv[11] = "", ex[11] = "";
		json_t *o;

		if (add_s)
			zw_time__parse(add_s, &add_us);
		if (n_u) {
			if (unused_days == 0)
				recert = never;
			else if (never)
				recert = add_us && add_us <= limit;
			else
				recert = x->last_hit_us < limit;
		}
		if (f->review != ZW_DATE_NONE)
			zw_date__format(f->review, rv);
		if (f->expires != ZW_DATE_NONE)
			zw_date__format(f->expires, ex);
		o = json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s, s:s?, s:s?, s:s?,"
			      " s:s?, s:I, s:I, s:b, s:b, s:b}",
			      "flow", f->id, "from", m->zones[f->from].name,
			      "to", m->zones[f->to].name, "services",
			      services_json(m, f), "owner", f->owner,
			      "justification", f->justification, "review",
			      *rv ? rv : NULL, "expires", *ex ? ex : NULL,
			      "added", add_s, "last_hit",
			      never ? NULL : zw_time__format(x->last_hit_us, tb),
			      "packets", (json_int_t)(x ? x->packets : 0),
			      "bytes", (json_int_t)(x ? x->bytes : 0),
			      "never_hit", never, "recertify", recert,
			      "live", zw_flow__live(f, today));
		json_array_append_new(flows, o);
		if (recert) {
			json_t *fd;

			if (never)
				fd = zwd_audit__add(
					a, false, "usage", "low", "unused", f->id,
					"flow %s (%s -> %s, owner %s) was never "
					"hit since it was added%s%s",
					f->id, m->zones[f->from].name,
					m->zones[f->to].name,
					f->owner ? f->owner : "none",
					add_s ? " on " : "", add_s ? add_s : "");
			else
				fd = zwd_audit__add(
					a, false, "usage", "low", "unused", f->id,
					"flow %s (%s -> %s, owner %s) not hit "
					"for %ld days (last hit %s)",
					f->id, m->zones[f->from].name,
					m->zones[f->to].name,
					f->owner ? f->owner : "none", unused_days,
					zw_time__format(x->last_hit_us, tb));
			if (fd)
				json_object_set_new(fd, "flow", json_string(f->id));
		}
		/* review and hygiene (M2) */
		if (f->review == ZW_DATE_NONE)
			zwd_audit__add(a, false, "hygiene", "medium", "no-review",
				       f->id, "flow %s has no review date", f->id);
		else if (today - f->review > ZW_AUDIT_REVIEW_DAYS)
			zwd_audit__add(a, false, "hygiene", "medium",
				       "review-stale", f->id,
				       "flow %s was last reviewed on %s, more "
				       "than a year ago",
				       f->id, rv);
		if (f->expires != ZW_DATE_NONE && f->expires < today)
			zwd_audit__add(a, false, "hygiene", "low", "expired",
				       f->id, "flow %s expired on %s and is no "
					      "longer enforced; remove it from "
					      "the matrix",
				       f->id, ex);
		else if (f->expires != ZW_DATE_NONE &&
			 f->expires - today <= ZW_AUDIT_EXPIRING_DAYS)
			zwd_audit__add(a, false, "hygiene", "low", "expiring",
				       f->id, "flow %s expires on %s (within %d "
					      "days)",
				       f->id, ex, ZW_AUDIT_EXPIRING_DAYS);
		for (size_t k = 0; k < f->n_services; k++) {
			const struct zw_service *s = &m->services[f->services[k]];

			if (s->unsafe)
				zwd_audit__add(a, true, "hygiene", "low",
					       "unsafe-service", f->id,
					       "flow %s uses unsafe service %s; "
					       "compensating measure: %s",
					       f->id, s->name,
					       f->compensating ? f->compensating
							       : "none");
		}
	}
	(void)db_;
	zw_usage__free(u, n_u);
	return json_pack("{s:I, s:s?, s:o}", "unused_days", (json_int_t)unused_days,
			 "sampled_since", since ? zw_time__format(since, tb) : NULL,
			 "flows", flows);
}

static json_t *zones_json(const struct zw_matrix *m)
{
	json_t *arr = json_array();

	for (size_t z = 0; arr && z < m->n_zones; z++) {
		json_t *nets = json_array();
		char buf[64];

		for (size_t k = 0; k < m->zones[z].n_networks; k++)
			json_array_append_new(nets, json_string(zw_prefix__format(
							    &m->zones[z].networks[k],
							    buf)));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:o, s:b, s:s?}", "name",
				       m->zones[z].name, "kind",
				       z ? zw_zone_kind__name(m->zones[z].kind)
					 : "outside",
				       "networks", nets, "isolate",
				       m->zones[z].isolate, "description",
				       m->zones[z].description));
	}
	return arr;
}

/* ---- section 6: integrity ---- */

static json_t *integrity(struct zwd_audit *a, struct zw_journal *j,
			 struct zwd *d, json_t *engines)
{
	struct zw_journal_verify v;
	struct zw_clock_state cs;
	json_t *jo, *clock, *sys = json_null(), *imgs = json_array();
	const char *hook = getenv("ZONEWALL_CLOCK_SYNCED");
	size_t i;
	json_t *e;

	if (zw_journal__verify(j, &v) < 0) {
		zwd_audit__missing(a, "integrity", "the journal could not be "
						   "verified");
		jo = json_pack("{s:b}", "verified", 0);
	} else {
		jo = json_pack("{s:b, s:b, s:I, s:I, s:I, s:s, s:s?}", "verified",
			       1, "intact", v.ok, "entries",
			       (json_int_t)v.entries, "archived",
			       (json_int_t)v.archived, "head_seq",
			       (json_int_t)v.head_seq, "head_hash", v.head_hash,
			       "problem", v.ok ? NULL : v.problem);
		if (!v.ok)
			zwd_audit__add(a, false, "integrity", "high",
				       "journal-altered", "journal",
				       "the journal chain is broken at entry "
				       "%lld: %s",
				       (long long)v.bad_seq, v.problem);
	}
	zw_clock__read(&cs);
	if (hook && !strcmp(hook, "1"))
		cs.synced = true; /* test hook, said in the report */
	clock = json_pack("{s:b, s:s, s:I, s:s}", "synced", cs.synced, "state",
			  zw_clock__state_name(cs.state), "maxerror_us",
			  (json_int_t)cs.maxerror_us, "source",
			  hook && !strcmp(hook, "1")
				  ? "ZONEWALL_CLOCK_SYNCED=1 (test hook)"
				  : "adjtimex (kernel)");
	if (!cs.synced && d)
		zwd_audit__add(a, false, "integrity", "medium", "clock-unsynced",
			       "clock",
			       "the system clock is not synchronised "
			       "(adjtimex: STA_UNSYNC or TIME_ERROR): journal "
			       "times cannot be trusted to the second");
	if (d && d->fwd) {
		struct zw_fwd_status fs;

		zw_fwd__status(d->fwd, &fs);
		sys = json_pack("{s:b, s:s, s:b, s:I, s:I, s:s?}", "enabled", 1,
				"server", d->syslog_target, "connected",
				fs.connected, "sent_seq", (json_int_t)fs.sent_seq,
				"queued", (json_int_t)fs.queued, "last_error",
				*fs.last_error ? fs.last_error : NULL);
		if (!fs.connected || fs.queued)
			zwd_audit__add(a, false, "integrity", "medium",
				       "syslog-backlog", d->syslog_target,
				       "syslog forwarding to %s: %s, %lld "
				       "entries not yet forwarded",
				       d->syslog_target,
				       fs.connected ? "connected" : "disconnected",
				       (long long)fs.queued);
	} else if (d) {
		sys = json_pack("{s:b}", "enabled", 0);
		zwd_audit__add(a, true, "integrity", "low", "syslog-off", "",
			       "journal entries are not forwarded to a log "
			       "server (zonewalld --syslog)");
	}
	json_array_foreach(engines, i, e)
		json_array_append_new(imgs, json_pack("{s:O, s:O}", "spec",
						      json_object_get(e, "spec"),
						      "sha256",
						      json_object_get(e, "sha256")));
	return json_pack("{s:o, s:o, s:o, s:o}", "journal", jo, "clock", clock,
			 "syslog", sys, "engines", imgs);
}

/* ---- section 7: history ---- */

static int parse_when(const char *s, int64_t *us, bool end_of_day)
{
	int32_t day;

	if (!zw_date__parse(s, &day)) {
		*us = day_us(day + (end_of_day ? 1 : 0)) - (end_of_day ? 1 : 0);
		return 0;
	}
	return zw_time__parse(s, us);
}

static json_t *history(struct zwd_audit *a, sqlite3 *db, struct walk *w,
		       int32_t today)
{
	json_t *traffic = json_array();

	for (size_t k = 0; k < w->n_act; k++) {
		struct zw_diags d0, d1;
		struct zw_matrix *old = NULL, *new_;
		struct zw_traffic_diff *td = NULL;
		char tb[32];

		if (w->act[k].time_us < w->since_us)
			continue;
		zw_diags__init(&d0, NULL);
		if (!k) { /* the first version: everything it allows is new */
			json_t *added = json_array();

			new_ = version_matrix(db, w->act[k].version, today, &d1);
			for (size_t i = 0; new_ && i < new_->n_flows; i++) {
				const struct zw_flow *f = &new_->flows[i];

				for (size_t s = 0; s < f->n_services; s++)
					json_array_append_new(
						added,
						json_pack("{s:s, s:s, s:s, s:s, s:b, s:[]}",
							  "flow", f->id, "from",
							  new_->zones[f->from].name,
							  "to", new_->zones[f->to].name,
							  "service",
							  new_->services[f->services[s]].name,
							  "whole", 1, "traffic"));
			}
			json_array_append_new(
				traffic,
				json_pack("{s:I, s:I, s:s, s:o, s:[]}", "version",
					  (json_int_t)w->act[k].version, "previous",
					  (json_int_t)0, "time",
					  zw_time__format(w->act[k].time_us, tb),
					  "added", added, "removed"));
			zw_matrix__free(new_);
			zw_diags__fini(&d0);
			zw_diags__fini(&d1);
			continue;
		}
		if (k)
			old = version_matrix(db, w->act[k - 1].version, today, &d0);
		new_ = version_matrix(db, w->act[k].version, today, &d1);
		if (!new_ || (k && !old) || d1.n_errors || (old && d0.n_errors) ||
		    zw_matrix__traffic_diff(old, new_,
					    (int32_t)(w->act[k].time_us /
						      86400000000LL),
					    &td) < 0) {
			zwd_audit__missing(a, "history",
					   "version %lld: allowed-traffic change "
					   "not computed",
					   (long long)w->act[k].version);
		} else {
			json_array_append_new(
				traffic,
				json_pack("{s:I, s:I, s:s, s:o, s:o}", "version",
					  (json_int_t)w->act[k].version,
					  "previous",
					  (json_int_t)(k ? w->act[k - 1].version : 0),
					  "time",
					  zw_time__format(w->act[k].time_us, tb),
					  "added",
					  changes_json(new_, td->added, td->n_added),
					  "removed",
					  changes_json(old, td->removed,
						       td->n_removed)));
		}
		zw_traffic_diff__free(td);
		zw_matrix__free(old);
		zw_matrix__free(new_);
		zw_diags__fini(&d0);
		zw_diags__fini(&d1);
	}
	return traffic;
}

/* ---- the request ---- */

json_t *zwd_audit__run(struct zw_journal *j, struct zwd *d, const json_t *req)
{
	sqlite3 *db = zw_journal__sqlite(j);
	struct zwd_audit a = {json_array(), json_array(), json_array(),
			      json_object()};
	struct walk w = {.added = json_object()};
	struct active ac = {0};
	json_t *ud = json_object_get(req, "unused_days");
	long unused_days = json_is_integer(ud) ? (long)json_integer_value(ud) : 90;
	const char *since = json_string_value(json_object_get(req, "since"));
	const char *carto = json_string_value(json_object_get(req, "cartography"));
	bool tmpl = json_is_true(json_object_get(req, "cartography_template"));
	int32_t today = zw_date__today();
	int64_t now = zw_time__now_us();
	json_t *engines = json_null(), *resp;
	char tb[32], dbuf[11], host[256] = "";
	int r;

	if (unused_days < 0 || unused_days > 100000)
		return zw_proto__error(2, "unused_days must be 0 to 100000");
	if (since && parse_when(since, &w.since_us, false))
		return zw_proto__error(2, "since: '%s' is neither a date "
					  "(YYYY-MM-DD) nor a UTC time",
				       since);
	if (!a.findings || !a.notes || !a.missing || !a.report || !w.added)
		goto oom;
	if (since)
		w.changes = json_array();
	/* the active version, as stored */
	if (zw_state__get_int(db, "active_version", &ac.n) == 0 && ac.n > 0 &&
	    zw_state__version_get(db, ac.n, false, &ac.v) == 0) {
		ac.have_v = true;
		ac.m = version_matrix(db, ac.n, today, &ac.diags);
	}
	if (tmpl) {
		char *csv;

		if (!ac.m)
			return zw_proto__error(1, "no active version: no "
						  "cartography to derive");
		csv = cartography_template(ac.m, d);
		resp = json_pack("{s:b, s:s?}", "ok", 1, "template", csv);
		free(csv);
		active_fini(&ac);
		json_decref(a.findings);
		json_decref(a.notes);
		json_decref(a.missing);
		json_decref(a.report);
		json_decref(w.added);
		json_decref(w.changes);
		return resp;
	}
	r = walk_journal(j, &w);
	if (r < 0)
		zwd_audit__missing(&a, "history", "cannot read the journal: %s",
				   strerror(-r));
	gethostname(host, sizeof(host) - 1);
	json_object_set_new(a.report, "schema", json_string("zonewall-audit/1"));
	json_object_set_new(a.report, "generated",
			    json_string(zw_time__format(now, tb)));
	json_object_set_new(a.report, "host", json_string(host));
	json_object_set_new(a.report, "mode",
			    json_string(d ? "daemon" : "offline"));
	json_object_set_new(a.report, "today",
			    json_string(zw_date__format(today, dbuf)));
	if (!ac.have_v || !ac.m) {
		zwd_audit__missing(&a, "enforcement",
				   ac.have_v ? "the active version's matrix "
					       "cannot be read"
					     : "no active version: nothing is "
					       "declared yet");
		json_object_set_new(a.report, "active", json_null());
	} else {
		json_object_set_new(
			a.report, "active",
			json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:s}",
				  "version", (json_int_t)ac.n, "since",
				  zw_time__format(ac.v.time_us, tb), "user",
				  ac.v.user, "image_sha256", ac.v.image_sha256,
				  "matrix_sha256", ac.v.matrix_sha256,
				  "enforced_sha256",
				  d && d->enforced ? d->enforced->sha256_hex
						   : NULL,
				  "matrix_name", ac.m->name ? ac.m->name : ""));
		json_object_set_new(a.report, "zones", zones_json(ac.m));
	}
	/* 1. enforced = declared */
	if (d) {
		engines = enforcement(&a, d);
		json_object_set_new(a.report, "enforcement", json_incref(engines));
	} else {
		zwd_audit__missing(&a, "enforcement",
				   "offline (--state): the engines are not read; "
				   "ask the running daemon");
		json_object_set_new(a.report, "enforcement", json_null());
	}
	/* 2. the appliance */
	if (d && ac.m) {
		const char *ifs[64];
		char *copies[64];
		size_t n_if = 0, n_cp = 0;
		bool kernel = false;

		for (size_t i = 0; i < d->n_bes; i++) {
			const char *name = d->bes[i].be->ops->name;
			const char *arg = strchr(d->bes[i].spec, ':');

			kernel |= !strcmp(name, "nft") || !strcmp(name, "xdp");
			if (!strcmp(name, "xdp") && arg && n_cp < 64) {
				char *c = strdup(arg + 1), *save = NULL, *t;

				if (!c)
					continue;
				copies[n_cp++] = c;
				for (t = strtok_r(c, ",", &save); t && n_if < 64;
				     t = strtok_r(NULL, ",", &save))
					if (!strchr(t, '=')) /* dir=..., options */
						ifs[n_if++] = t;
			}
		}
		if (kernel)
			json_object_set_new(a.report, "appliance",
					    zwd_appliance__check(&a, ac.m, ifs,
								 n_if));
		else
			json_object_set_new(
				a.report, "appliance",
				json_pack("{s:b, s:s}", "checked", 0, "why",
					  "no engine enforces on this host's "
					  "interfaces (nft or xdp)"));
		for (size_t i = 0; i < n_cp; i++)
			free(copies[i]);
	} else {
		if (!d)
			zwd_audit__missing(&a, "appliance",
					   "offline (--state): the appliance's "
					   "links and routes are not read");
		json_object_set_new(a.report, "appliance",
				    json_pack("{s:b, s:s}", "checked", 0, "why",
					      d ? "no active version"
						: "offline (--state)"));
	}
	/* 3. cartography */
	if (carto && ac.m)
		json_object_set_new(a.report, "cartography",
				    cartography(&a, ac.m, carto));
	else
		json_object_set_new(a.report, "cartography",
				    json_pack("{s:b}", "given", 0));
	/* 4, 5. usage, review and hygiene */
	if (d) {
		r = zwd_usage__sample(d, now);
		if (r < 0)
			zwd_audit__missing(&a, "usage",
					   "the counters could not be sampled: %s",
					   strerror(-r));
	}
	if (ac.m) {
		json_object_set_new(a.report, "usage",
				    flows_section(&a, ac.m, db, w.added,
						  unused_days, today, now, d));
		for (size_t i = 0; i < ac.diags.n; i++) {
			const struct zw_diag *g = &ac.diags.v[i];
			char code[8];

			snprintf(code, sizeof(code), "ZW%03d", g->code);
			zwd_audit__add(&a, g->level != ZW_WARNING, "hygiene",
				       "low", "validator", code,
				       "%s (matrix line %u)", g->message,
				       g->loc.line);
		}
	}
	/* 6. integrity */
	json_object_set_new(a.report, "integrity", integrity(&a, j, d, engines));
	/* 7. history */
	if (since)
		json_object_set_new(
			a.report, "history",
			json_pack("{s:s, s:o, s:o}", "since", since, "changes",
				  json_incref(w.changes), "traffic",
				  history(&a, db, &w, today)));
	else
		json_object_set_new(a.report, "history", json_null());

	{
		size_t nf = json_array_size(a.findings),
		       nm = json_array_size(a.missing);

		json_object_set_new(a.report, "verdict",
				    json_string(nm ? "incomplete"
						: nf ? "findings"
						     : "clean"));
		json_object_set_new(a.report, "exit",
				    json_integer(nm ? 3 : nf ? 1 : 0));
		json_object_set_new(a.report, "counts",
				    json_pack("{s:I, s:I, s:I}", "findings",
					      (json_int_t)nf, "notes",
					      (json_int_t)json_array_size(a.notes),
					      "missing", (json_int_t)nm));
	}
	json_object_set_new(a.report, "findings", a.findings);
	json_object_set_new(a.report, "notes", a.notes);
	json_object_set_new(a.report, "missing", a.missing);
	json_decref(engines);
	json_decref(w.added);
	json_decref(w.changes);
	free(w.act);
	active_fini(&ac);
	return json_pack("{s:b, s:o}", "ok", 1, "report", a.report);
oom:
	json_decref(a.findings);
	json_decref(a.notes);
	json_decref(a.missing);
	json_decref(a.report);
	json_decref(w.added);
	return zw_proto__error(3, "out of memory");
}

json_t *zwd_audit__version_at(struct zw_journal *j, const json_t *req)
{
	const char *at = json_string_value(json_object_get(req, "at"));
	struct walk w = {0};
	struct zw_version_rec v;
	int64_t t = 0, want = 0;
	size_t k, hit = (size_t)-1;
	char tb[32], tb2[32], dbuf[11];
	int32_t day;
	json_t *resp;
	int r;

	if (!at)
		return zw_proto__error(2, "version_at needs \"at\"");
	if (at[0] == 'v' && at[1]) {
		char *end;

		want = strtoll(at + 1, &end, 10);
		if (*end || want <= 0)
			return zw_proto__error(2, "'%s': expected vN", at);
	} else if (parse_when(at, &t, true)) {
		return zw_proto__error(2, "'%s' is neither vN, a date "
					  "(YYYY-MM-DD) nor a UTC time "
					  "(YYYY-MM-DDTHH:MM:SSZ)",
				       at);
	}
	r = walk_journal(j, &w);
	if (r < 0) {
		free(w.act);
		return zw_proto__error(3, "cannot read the journal: %s",
				       strerror(-r));
	}
	for (k = 0; k < w.n_act; k++)
		if (want ? w.act[k].version == want : w.act[k].time_us <= t)
			hit = k;
	if (hit == (size_t)-1) {
		free(w.act);
		return want ? zw_proto__error(1, "version %lld was never "
						 "active",
					      (long long)want)
			    : zw_proto__error(1, "no version was active at %s",
					      at);
	}
	if (zw_state__version_get(zw_journal__sqlite(j), w.act[hit].version,
				  true, &v)) {
		free(w.act);
		return zw_proto__error(3, "version %lld is not stored",
				       (long long)w.act[hit].version);
	}
	day = want ? (int32_t)(w.act[hit].time_us / 86400000000LL)
		   : (int32_t)(t / 86400000000LL);
	resp = json_pack("{s:b, s:I, s:s, s:s?, s:s, s:s, s:s%}", "ok", 1,
			 "version", (json_int_t)v.n, "since",
			 zw_time__format(w.act[hit].time_us, tb), "until",
			 hit + 1 < w.n_act
				 ? zw_time__format(w.act[hit + 1].time_us, tb2)
				 : NULL,
			 "day", zw_date__format(day, dbuf), "file",
			 v.file ? v.file : "", "matrix", v.matrix, v.matrix_len);
	zw_state__version_fini(&v);
	free(w.act);
	return resp;
}
