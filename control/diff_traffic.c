/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl diff: presenting the traffic difference (zw_matrix__traffic_diff)
 * grouped by zone pair, as text or JSON.
 *
 * A change is the whole of a flow's service ("ssh"), or part of it. A part
 * is a union of boxes; it is shown as lines "tcp/8081-8090 from A to B",
 * each line the product of a port set, a source set and a destination set.
 * Boxes are fused into lines when two of the three sets are equal (exact:
 * P x S x D1 u P x S x D2 = P x S x (D1 u D2)); addresses equal to the
 * flow's whole scope are left out of the text, and a line that then reads
 * the same for IPv4 and IPv6 is printed once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"

typedef unsigned __int128 u128;

static const u128 U128_MAX = ~(u128)0;

/* A set of disjoint, sorted, non-adjacent inclusive intervals. */
struct ivs {
	u128 *lo, *hi;
	size_t n;
};

struct line {
	uint8_t family;
	bool any;
	uint8_t proto;
	struct ivs port, src, dst;
};

struct lines {
	struct line *v;
	size_t n;
};

static void ivs_free(struct ivs *s)
{
	free(s->lo);
	free(s->hi);
	s->lo = s->hi = NULL;
	s->n = 0;
}

static int ivs_add(struct ivs *s, u128 lo, u128 hi)
{
	u128 *nl = realloc(s->lo, (s->n + 1) * sizeof(*nl));

	if (!nl)
		return -ENOMEM;
	s->lo = nl;
	u128 *nh = realloc(s->hi, (s->n + 1) * sizeof(*nh));

	if (!nh)
		return -ENOMEM;
	s->hi = nh;
	s->lo[s->n] = lo;
	s->hi[s->n] = hi;
	s->n++;
	return 0;
}

/* Sort and fuse overlapping or adjacent intervals. */
static void ivs_norm(struct ivs *s)
{
	size_t w = 0;

	for (size_t i = 1; i < s->n; i++) /* insertion sort: sets are small */
		for (size_t j = i; j > 0 && s->lo[j - 1] > s->lo[j]; j--) {
			u128 t = s->lo[j];

			s->lo[j] = s->lo[j - 1];
			s->lo[j - 1] = t;
			t = s->hi[j];
			s->hi[j] = s->hi[j - 1];
			s->hi[j - 1] = t;
		}
	for (size_t i = 1; i < s->n; i++) {
		if (s->hi[w] == U128_MAX || s->hi[w] + 1 >= s->lo[i]) {
			if (s->hi[i] > s->hi[w])
				s->hi[w] = s->hi[i];
			continue;
		}
		w++;
		s->lo[w] = s->lo[i];
		s->hi[w] = s->hi[i];
	}
	if (s->n)
		s->n = w + 1;
}

static bool ivs_eq(const struct ivs *a, const struct ivs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->lo[i] != b->lo[i] || a->hi[i] != b->hi[i])
			return false;
	return true;
}

/* Union @b into @a. */
static int ivs_union(struct ivs *a, const struct ivs *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (ivs_add(a, b->lo[i], b->hi[i]))
			return -ENOMEM;
	ivs_norm(a);
	return 0;
}

static u128 addr_u128(const uint8_t *a, uint8_t family)
{
	u128 v = 0;
	int n = family == ZW_AF_INET ? 4 : 16;

	for (int i = 0; i < n; i++)
		v = (v << 8) | a[i];
	return v;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		ivs_free(&l->v[i].port);
		ivs_free(&l->v[i].src);
		ivs_free(&l->v[i].dst);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int lines_from_boxes(const struct zw_traffic_box *b, size_t n,
			    struct lines *out)
{
	out->v = calloc(n + 1, sizeof(*out->v));
	out->n = 0;
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct line *l = &out->v[out->n++];

		l->family = b[i].family;
		l->any = b[i].any_proto;
		l->proto = b[i].proto;
		if (ivs_add(&l->port, b[i].lo, b[i].hi) ||
		    ivs_add(&l->src, addr_u128(b[i].src_lo, l->family),
			    addr_u128(b[i].src_hi, l->family)) ||
		    ivs_add(&l->dst, addr_u128(b[i].dst_lo, l->family),
			    addr_u128(b[i].dst_hi, l->family)))
			return -ENOMEM;
	}
	return 0;
}

/* Fuse lines equal in two of their three sets, until none can be. */
static int lines_fuse(struct lines *ls)
{
	bool again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < ls->n; i++)
			for (size_t j = i + 1; j < ls->n; j++) {
				struct line *a = &ls->v[i], *b = &ls->v[j];
				struct ivs *sa[3] = {&a->port, &a->src, &a->dst};
				struct ivs *sb[3] = {&b->port, &b->src, &b->dst};
				int diff = -1, nd = 0;

				if (a->family != b->family || a->any != b->any ||
				    a->proto != b->proto)
					continue;
				for (int k = 0; k < 3; k++)
					if (!ivs_eq(sa[k], sb[k])) {
						nd++;
						diff = k;
					}
				if (nd > 1)
					continue;
				if (nd == 1 && ivs_union(sa[diff], sb[diff]))
					return -ENOMEM;
				ivs_free(&b->port);
				ivs_free(&b->src);
				ivs_free(&b->dst);
				ls->v[j] = ls->v[--ls->n];
				j--;
				again = true;
			}
	}
	/* Stable reading order: family, protocol, first port, source, dest. */
	for (size_t i = 1; i < ls->n; i++)
		for (size_t j = i; j > 0; j--) {
			struct line *a = &ls->v[j - 1], *b = &ls->v[j];
			bool gt = a->family != b->family ? a->family > b->family
				: a->proto != b->proto	 ? a->proto > b->proto
				: a->port.lo[0] != b->port.lo[0] ? a->port.lo[0] > b->port.lo[0]
				: a->src.lo[0] != b->src.lo[0]	 ? a->src.lo[0] > b->src.lo[0]
								 : a->dst.lo[0] > b->dst.lo[0];

			if (!gt)
				break;
			struct line t = *a;

			*a = *b;
			*b = t;
		}
	return 0;
}

/* Source and destination sets of the scope, per family (0: v4, 1: v6). */
struct scope {
	struct ivs src[2], dst[2];
	bool has[2];
};

static int scope_build(const struct zw_traffic_change *c, struct scope *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < c->n_scope; i++) {
		const struct zw_traffic_box *b = &c->scope[i];
		int f = b->family == ZW_AF_INET6;

		s->has[f] = true;
		if (ivs_add(&s->src[f], addr_u128(b->src_lo, b->family),
			    addr_u128(b->src_hi, b->family)) ||
		    ivs_add(&s->dst[f], addr_u128(b->dst_lo, b->family),
			    addr_u128(b->dst_hi, b->family)))
			return -ENOMEM;
	}
	for (int f = 0; f < 2; f++) {
		ivs_norm(&s->src[f]);
		ivs_norm(&s->dst[f]);
	}
	return 0;
}

static void scope_free(struct scope *s)
{
	for (int f = 0; f < 2; f++) {
		ivs_free(&s->src[f]);
		ivs_free(&s->dst[f]);
	}
}

/* ---- text of sets ---- */

static void cidrs(FILE *out, uint8_t family, u128 lo, u128 hi, bool *first,
		  bool json)
{
	int bits = family == ZW_AF_INET ? 32 : 128;

	for (;;) {
		int k = 0;

		/* Largest aligned block at lo that ends at or before hi. */
		while (k < bits) {
			if (k + 1 == 128) {
				if (lo == 0 && hi == U128_MAX)
					k = 128;
				break;
			}
			u128 size = (u128)1 << (k + 1);

			if ((lo & (size - 1)) || lo + (size - 1) > hi)
				break;
			k++;
		}
		struct zw_prefix p = {.family = family, .len = (uint8_t)(bits - k)};
		char buf[64];
		u128 v = lo;
		int nb = bits / 8;

		for (int i = nb - 1; i >= 0; i--) {
			p.addr[i] = (uint8_t)v;
			v >>= 8;
		}
		zw_prefix__format(&p, buf);
		if (k == 0) {
			/* a host: no /32 or /128 in text */
			char *slash = strrchr(buf, '/');

			if (!json && slash)
				*slash = '\0';
		}
		if (json)
			fprintf(out, "%s\"%s\"", *first ? "" : ", ", buf);
		else
			fprintf(out, "%s%s", *first ? "" : ", ", buf);
		*first = false;
		u128 end = k == 128 ? U128_MAX : lo + (((u128)1 << k) - 1);

		if (end >= hi)
			break;
		lo = end + 1;
	}
}

static void addr_set(FILE *out, uint8_t family, const struct ivs *s, bool json)
{
	bool first = true;

	for (size_t i = 0; i < s->n; i++)
		cidrs(out, family, s->lo[i], s->hi[i], &first, json);
}

/* "22,8000-8080" or ICMP type names; "" for the full range. */
static void port_set(FILE *out, const struct line *l, bool json)
{
	bool icmp = zw_proto__is_icmp(l->proto);

	for (size_t i = 0; i < l->port.n; i++) {
		unsigned lo = (unsigned)l->port.lo[i], hi = (unsigned)l->port.hi[i];
		const char *name = icmp && lo == hi ? zw_icmp_type__name(l->proto, (uint8_t)lo)
						    : NULL;

		if (json)
			fputs(i ? ", \"" : "\"", out);
		else if (i)
			fputc(',', out);
		if (name)
			fputs(name, out);
		else if (lo == hi)
			fprintf(out, "%u", lo);
		else
			fprintf(out, "%u-%u", lo, hi);
		if (json)
			fputc('"', out);
	}
}

static bool full_ports(const struct line *l)
{
	if (l->port.n != 1 || l->port.lo[0] != 0)
		return false;
	if (zw_proto__has_ports(l->proto))
		return l->port.hi[0] == 65535;
	if (zw_proto__is_icmp(l->proto))
		return l->port.hi[0] == 255;
	return true;
}

/* The text of one line, addresses equal to the scope left out. Sets
 * *implicit when neither source nor destination is written. */
static char *line_text(const struct line *l, const struct scope *sc,
		       bool *implicit)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int fi = l->family == ZW_AF_INET6;
	bool src = !ivs_eq(&l->src, &sc->src[fi]);
	bool dst = !ivs_eq(&l->dst, &sc->dst[fi]);

	if (!f)
		return NULL;
	if (!l->any) {
		char nb[4];
		const char *p = zw_proto__name(l->proto, nb);

		if (full_ports(l))
			fprintf(f, zw_proto__has_ports(l->proto) || zw_proto__is_icmp(l->proto)
					   ? "%s (any %s)" : "proto %s",
				p, zw_proto__is_icmp(l->proto) ? "type" : "port");
		else {
			fprintf(f, "%s/", p);
			port_set(f, l, false);
		}
	}
	if (src) {
		fputs(l->any ? "from " : " from ", f);
		addr_set(f, l->family, &l->src, false);
	}
	if (dst) {
		fputs(l->any && !src ? "to " : " to ", f);
		addr_set(f, l->family, &l->dst, false);
	}
	*implicit = !src && !dst;
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The text lines of a partial change (caller frees them). */
static int part_lines(const struct zw_traffic_change *c, char ***out,
		      size_t *n_out)
{
	struct lines ls = {0};
	struct scope sc;
	char **txt = NULL, **res = NULL;
	bool *impl = NULL;
	size_t n = 0;
	int r = -ENOMEM;

	if (scope_build(c, &sc))
		goto out;
	if (lines_from_boxes(c->boxes, c->n_boxes, &ls) || lines_fuse(&ls))
		goto out;
	txt = calloc(ls.n + 1, sizeof(*txt));
	res = calloc(ls.n + 1, sizeof(*res));
	impl = calloc(ls.n + 1, sizeof(*impl));
	if (!txt || !res || !impl)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		txt[i] = line_text(&ls.v[i], &sc, &impl[i]);
		if (!txt[i])
			goto out;
	}
	for (size_t i = 0; i < ls.n; i++) {
		bool twin = false, dup = false;
		const char *fam = "";

		for (size_t j = 0; j < ls.n; j++) {
			if (j == i || ls.v[j].family == ls.v[i].family ||
			    strcmp(txt[i], txt[j]))
				continue;
			twin = true;
			dup |= j < i;
		}
		if (dup)
			continue;
		if (!twin && impl[i] && sc.has[0] && sc.has[1])
			fam = ls.v[i].family == ZW_AF_INET ? " (IPv4 only)" : " (IPv6 only)";
		if (asprintf(&res[n], "%s%s", *txt[i] ? txt[i] : "all addresses", fam) < 0) {
			res[n] = NULL;
			goto out;
		}
		n++;
	}
	*out = res;
	*n_out = n;
	res = NULL;
	r = 0;
out:
	for (size_t i = 0; txt && i < ls.n; i++)
		free(txt[i]);
	for (size_t i = 0; res && i < n; i++)
		free(res[i]);
	free(res);
	free(txt);
	free(impl);
	lines_free(&ls);
	scope_free(&sc);
	return r;
}

/* "@head, only X" on one line, or "@head, only:" and the lines below. */
static int part_text(FILE *out, const struct zw_traffic_change *c,
		     const char *head)
{
	char **l = NULL;
	size_t n = 0;

	if (part_lines(c, &l, &n))
		return -ENOMEM;
	if (n == 1)
		fprintf(out, "    %s, only %s\n", head, l[0]);
	else
		fprintf(out, "    %s, only:\n", head);
	for (size_t i = 0; i < n; i++) {
		if (n > 1)
			fprintf(out, "        %s\n", l[i]);
		free(l[i]);
	}
	free(l);
	return 0;
}

/* ---- excepts of a same-zone change ---- */

struct exc_name {
	const char *flow, *service;
	int side; /* 1: this matrix, 2: the other, 3: both */
};

static int excepts_collect(const struct zw_traffic_change *c,
			   const struct zw_matrix *m, const struct zw_matrix *other,
			   struct exc_name **out, size_t *n_out)
{
	struct exc_name *v = calloc(c->n_excepts + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_excepts; i++) {
		const struct zw_traffic_except *e = &c->excepts[i];
		const struct zw_matrix *x = e->other ? other : m;
		const char *fl = x->flows[e->flow].id, *sv = x->services[e->service].name;
		size_t k;

		for (k = 0; k < n; k++)
			if (!strcmp(v[k].flow, fl) && !strcmp(v[k].service, sv))
				break;
		if (k == n) {
			v[n].flow = fl;
			v[n].service = sv;
			n++;
		}
		v[k].side |= e->other ? 2 : 1;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- one direction ---- */

static bool same_pair(const struct zw_traffic_change *a,
		      const struct zw_traffic_change *b)
{
	return a->from == b->from && a->to == b->to;
}

int zw_diff_traffic_text(FILE *out, const struct zw_matrix *m,
			 const struct zw_matrix *other,
			 const struct zw_traffic_change *v, size_t n,
			 const char *m_label, const char *other_label)
{
	int r;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && same_pair(&v[i], &v[j]))
			j++;
		fprintf(out, "  %s -> %s%s\n", m->zones[v[i].from].name,
			m->zones[v[i].to].name,
			v[i].from == v[i].to && v[i].from != ZW_ZONE_OUTSIDE ? " (same zone)" : "");
		for (size_t k = i; k < j;) {
			const struct zw_traffic_change *c = &v[k];

			if (c->flow == ZW_TRAFFIC_SAME_ZONE) {
				static const char head[] = "any traffic between members of the zone";
				struct exc_name *ex = NULL;
				size_t nx = 0;

				if (c->whole)
					fprintf(out, "    %s\n", head);
				else if (part_text(out, c, head))
					return -ENOMEM;
				if (excepts_collect(c, m, other, &ex, &nx))
					return -ENOMEM;
				if (nx) {
					fputs("      except what these flows allow there:", out);
					for (size_t e = 0; e < nx; e++)
						fprintf(out, "%s %s (%s%s%s)", e ? "," : "",
							ex[e].flow, ex[e].service,
							ex[e].side == 2 ? ", in " : "",
							ex[e].side == 2 ? other_label : "");
					fputc('\n', out);
				}
				free(ex);
				k++;
				continue;
			}
			/* One flow: its whole services on one line, then each
			 * service of which only a part changed. */
			const char *id = m->flows[c->flow].id;
			size_t e = k;
			bool any_whole = false;

			while (e < j && v[e].flow == c->flow)
				e++;
			for (size_t x = k; x < e; x++)
				if (v[x].whole) {
					fprintf(out, any_whole ? ", %s" : "    %s: %s",
						any_whole ? m->services[v[x].service].name : id,
						m->services[v[x].service].name);
					any_whole = true;
				}
			if (any_whole)
				fputc('\n', out);
			for (size_t x = k; x < e; x++) {
				char *head = NULL;

				if (v[x].whole)
					continue;
				if (asprintf(&head, "%s: %s", id,
					     m->services[v[x].service].name) < 0)
					return -ENOMEM;
				r = part_text(out, &v[x], head);
				free(head);
				if (r)
					return r;
			}
			k = e;
		}
		i = j;
	}
	(void)m_label;
	return 0;
}

static void line_json(FILE *out, const struct line *l)
{
	char nb[4];

	fprintf(out, "{\"family\": %d, \"proto\": ", l->family == ZW_AF_INET ? 4 : 6);
	if (l->any)
		fputs("\"any\", \"ports\": []", out);
	else if (!zw_proto__has_ports(l->proto) && !zw_proto__is_icmp(l->proto))
		fprintf(out, "\"%s\", \"ports\": []", zw_proto__name(l->proto, nb));
	else {
		fprintf(out, "\"%s\", \"ports\": [", zw_proto__name(l->proto, nb));
		port_set(out, l, true);
		fputc(']', out);
	}
	fputs(", \"src\": [", out);
	addr_set(out, l->family, &l->src, true);
	fputs("], \"dst\": [", out);
	addr_set(out, l->family, &l->dst, true);
	fputs("]}", out);
}

int zw_diff_traffic_json(FILE *out, const struct zw_matrix *m,
			 const struct zw_matrix *other,
			 const struct zw_traffic_change *v, size_t n,
			 const char *m_label, const char *other_label)
{
	fputc('[', out);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && same_pair(&v[i], &v[j]))
			j++;
		fprintf(out, "%s\n      {\"from\": ", i ? "," : "");
		zw_json__string(out, m->zones[v[i].from].name);
		fputs(", \"to\": ", out);
		zw_json__string(out, m->zones[v[i].to].name);
		fputs(", \"changes\": [", out);
		for (size_t k = i; k < j; k++) {
			const struct zw_traffic_change *c = &v[k];
			bool same = c->flow == ZW_TRAFFIC_SAME_ZONE;
			struct lines ls = {0};

			fprintf(out, "%s\n        {\"flow\": ", k > i ? "," : "");
			if (same)
				fputs("null, \"service\": null", out);
			else {
				zw_json__string(out, m->flows[c->flow].id);
				fputs(", \"service\": ", out);
				zw_json__string(out, m->services[c->service].name);
			}
			fprintf(out, ", \"same_zone\": %s, \"whole\": %s, \"traffic\": [",
				same ? "true" : "false", c->whole ? "true" : "false");
			if (lines_from_boxes(c->boxes, c->n_boxes, &ls) || lines_fuse(&ls)) {
				lines_free(&ls);
				return -ENOMEM;
			}
			for (size_t x = 0; x < ls.n; x++) {
				fputs(x ? ", " : "", out);
				line_json(out, &ls.v[x]);
			}
			lines_free(&ls);
			fputs("], \"except\": [", out);
			if (same) {
				struct exc_name *ex = NULL;
				size_t nx = 0;

				if (excepts_collect(c, m, other, &ex, &nx))
					return -ENOMEM;
				for (size_t e = 0; e < nx; e++) {
					fputs(e ? ", {\"flow\": " : "{\"flow\": ", out);
					zw_json__string(out, ex[e].flow);
					fputs(", \"service\": ", out);
					zw_json__string(out, ex[e].service);
					fputs(", \"in\": ", out);
					zw_json__string(out, ex[e].side == 1   ? m_label
							     : ex[e].side == 2 ? other_label
									       : "both");
					fputc('}', out);
				}
				free(ex);
			}
			fputs("]}", out);
		}
		fputs("]}", out);
		i = j;
	}
	fputs(n ? "\n    ]" : "]", out);
	return 0;
}
