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

/* Append [lo, hi] to @r, whose intervals are sorted by start and which
 * has room: fused with the last one when they overlap or touch. */
static void ivs_push_fused(struct ivs *r, u128 lo, u128 hi)
{
	if (r->n && (r->hi[r->n - 1] == U128_MAX || r->hi[r->n - 1] + 1 >= lo)) {
		if (hi > r->hi[r->n - 1])
			r->hi[r->n - 1] = hi;
		return;
	}
	r->lo[r->n] = lo;
	r->hi[r->n++] = hi;
}

struct iv {
	u128 lo, hi;
};

static int cmp_iv(const void *a, const void *b)
{
	const struct iv *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and fuse overlapping or adjacent intervals. */
static int ivs_norm(struct ivs *s)
{
	struct iv *v = malloc((s->n + 1) * sizeof(*v));
	size_t n = s->n;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct iv){s->lo[i], s->hi[i]};
	qsort(v, n, sizeof(*v), cmp_iv);
	s->n = 0;
	for (size_t i = 0; i < n; i++)
		ivs_push_fused(s, v[i].lo, v[i].hi);
	free(v);
	return 0;
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

/* Union @b into @a, both sorted and fused (as ivs_norm leaves them). */
static int ivs_union(struct ivs *a, const struct ivs *b)
{
	struct ivs r = {.lo = malloc((a->n + b->n + 1) * sizeof(u128)),
			.hi = malloc((a->n + b->n + 1) * sizeof(u128))};
	size_t i = 0, j = 0;

	if (!r.lo || !r.hi) {
		ivs_free(&r);
		return -ENOMEM;
	}
	while (i < a->n || j < b->n) {
		bool ta = j == b->n || (i < a->n && a->lo[i] <= b->lo[j]);

		if (ta) {
			ivs_push_fused(&r, a->lo[i], a->hi[i]);
			i++;
		} else {
			ivs_push_fused(&r, b->lo[j], b->hi[j]);
			j++;
		}
	}
	ivs_free(a);
	*a = r;
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
	for (int f = 0; f < 2; f++)
		if (ivs_norm(&s->src[f]) || ivs_norm(&s->dst[f]))
			return -ENOMEM;
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

/* "tcp/8081-8090", "icmp/echo-request", "proto 50"; "" for any protocol. */
static char *proto_text(const struct line *l)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (!l->any) {
		char nb[4];
		const char *p = zw_proto__name(l->proto, nb);

		if (!zw_proto__has_ports(l->proto) && !zw_proto__is_icmp(l->proto))
			fprintf(f, "proto %s", p);
		else if (full_ports(l))
			fprintf(f, "%s (any %s)", p,
				zw_proto__is_icmp(l->proto) ? "type" : "port");
		else {
			fprintf(f, "%s/", p);
			port_set(f, l, false);
		}
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "from A to B", "to B", "from A", or "" where the addresses are the whole
 * scope of the change. */
static char *addr_text(const struct line *l, const struct scope *sc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int fi = l->family == ZW_AF_INET6;
	bool src = !ivs_eq(&l->src, &sc->src[fi]);
	bool dst = !ivs_eq(&l->dst, &sc->dst[fi]);

	if (!f)
		return NULL;
	if (src) {
		fputs("from ", f);
		addr_set(f, l->family, &l->src, false);
	}
	if (dst) {
		fputs(src ? " to " : "to ", f);
		addr_set(f, l->family, &l->dst, false);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A part of a change, as text: the lines to print, and, when the part is
 * the whole of the service for some addresses only, those addresses. */
struct part {
	char **lines;
	size_t n;
	char *addr_only; /* "to 10.1.0.128/25", or NULL */
};

static void part_free(struct part *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->lines[i]);
	free(p->lines);
	free(p->addr_only);
	memset(p, 0, sizeof(*p));
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Protocol texts of @ls's lines of family index @fi, sorted, joined. */
static char *protos_of(const struct lines *ls, int fi)
{
	char **v = calloc(ls->n + 1, sizeof(*v)), *buf = NULL;
	size_t n = 0, len = 0;
	FILE *f;

	if (!v)
		return NULL;
	for (size_t i = 0; i < ls->n; i++)
		if ((ls->v[i].family == ZW_AF_INET6) == fi) {
			v[n] = proto_text(&ls->v[i]);
			if (!v[n++])
				goto out;
		}
	qsort(v, n, sizeof(*v), cmp_cstr);
	f = open_memstream(&buf, &len);
	if (f) {
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s;", v[i]);
		if (fclose(f)) {
			free(buf);
			buf = NULL;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return buf;
}

/* Is the change all of its service for some addresses? Sets *addr (NULL
 * if not). */
static int address_only(const struct zw_traffic_change *c,
			const struct lines *ls, const char *const *atxt,
			char **addr)
{
	struct lines sl = {0};
	char *per[2] = {NULL, NULL};
	bool ok = true;
	int r = -ENOMEM;

	*addr = NULL;
	if (c->flow == ZW_TRAFFIC_SAME_ZONE || !ls->n)
		return 0;
	if (lines_from_boxes(c->scope, c->n_scope, &sl) || lines_fuse(&sl))
		goto out;
	for (int fi = 0; fi < 2 && ok; fi++) {
		const char *a = NULL;
		bool present = false;

		for (size_t i = 0; i < ls->n && ok; i++) {
			if ((ls->v[i].family == ZW_AF_INET6) != fi)
				continue;
			present = true;
			if (!*atxt[i] || (a && strcmp(a, atxt[i])))
				ok = false;
			a = atxt[i];
		}
		if (!present || !ok)
			continue;
		char *pc = protos_of(ls, fi), *ps = protos_of(&sl, fi);

		if (!pc || !ps) {
			free(pc);
			free(ps);
			goto out;
		}
		ok = !strcmp(pc, ps);
		free(pc);
		free(ps);
		per[fi] = (char *)a;
	}
	if (ok && (per[0] || per[1]) &&
	    asprintf(addr, "%s%s%s", per[0] ? per[0] : "",
		     per[0] && per[1] ? "; " : "", per[1] ? per[1] : "") < 0) {
		*addr = NULL;
		goto out;
	}
	r = 0;
out:
	lines_free(&sl);
	return r;
}

/* The text of a partial change. */
static int part_build(const struct zw_traffic_change *c, struct part *p)
{
	struct lines ls = {0};
	struct scope sc;
	char **txt = NULL, **atxt = NULL;
	bool *impl = NULL;
	int r = -ENOMEM;

	memset(p, 0, sizeof(*p));
	if (scope_build(c, &sc))
		goto out;
	if (lines_from_boxes(c->boxes, c->n_boxes, &ls) || lines_fuse(&ls))
		goto out;
	txt = calloc(ls.n + 1, sizeof(*txt));
	atxt = calloc(ls.n + 1, sizeof(*atxt));
	impl = calloc(ls.n + 1, sizeof(*impl));
	p->lines = calloc(ls.n + 1, sizeof(*p->lines));
	if (!txt || !atxt || !impl || !p->lines)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		char *pt = proto_text(&ls.v[i]);

		atxt[i] = addr_text(&ls.v[i], &sc);
		if (!pt || !atxt[i] ||
		    asprintf(&txt[i], "%s%s%s", pt, *pt && *atxt[i] ? " " : "",
			     atxt[i]) < 0) {
			free(pt);
			txt[i] = NULL;
			goto out;
		}
		free(pt);
		impl[i] = !*atxt[i];
	}
	if (address_only(c, &ls, (const char *const *)atxt, &p->addr_only))
		goto out;
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
		if (asprintf(&p->lines[p->n], "%s%s", *txt[i] ? txt[i] : "all addresses",
			     fam) < 0) {
			p->lines[p->n] = NULL;
			goto out;
		}
		p->n++;
	}
	r = 0;
out:
	for (size_t i = 0; i < ls.n; i++) {
		if (txt)
			free(txt[i]);
		if (atxt)
			free(atxt[i]);
	}
	free(txt);
	free(atxt);
	free(impl);
	lines_free(&ls);
	scope_free(&sc);
	if (r)
		part_free(p);
	return r;
}

/* "@head, only X" on one line, or "@head, only:" and the lines below. */
static void part_print(FILE *out, const struct part *p, const char *head)
{
	if (p->n == 1)
		fprintf(out, "    %s, only %s\n", head, p->lines[0]);
	else
		fprintf(out, "    %s, only:\n", head);
	for (size_t i = 0; p->n > 1 && i < p->n; i++)
		fprintf(out, "        %s\n", p->lines[i]);
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

				if (c->whole) {
					fprintf(out, "    %s\n", head);
				} else {
					struct part p;

					if (part_build(c, &p))
						return -ENOMEM;
					part_print(out, &p, head);
					part_free(&p);
				}
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
			/* One flow: its whole services on one line; the services
			 * it keeps whole for some addresses only, grouped by
			 * those addresses; then the other parts one by one. */
			const char *id = m->flows[c->flow].id;
			size_t e = k;
			bool any_whole = false;

			while (e < j && v[e].flow == c->flow)
				e++;
			struct part *parts = calloc(e - k + 1, sizeof(*parts));
			bool *done = calloc(e - k + 1, sizeof(*done));

			if (!parts || !done) {
				free(parts);
				free(done);
				return -ENOMEM;
			}
			r = 0;
			for (size_t x = k; x < e && !r; x++)
				if (!v[x].whole)
					r = part_build(&v[x], &parts[x - k]);
			for (size_t x = k; x < e && !r; x++)
				if (v[x].whole) {
					fprintf(out, any_whole ? ", %s" : "    %s: %s",
						any_whole ? m->services[v[x].service].name : id,
						m->services[v[x].service].name);
					any_whole = true;
				}
			if (any_whole)
				fputc('\n', out);
			for (size_t x = k; x < e && !r; x++) {
				const char *a = parts[x - k].addr_only;

				if (v[x].whole || !a || done[x - k])
					continue;
				fprintf(out, "    %s: %s", id, m->services[v[x].service].name);
				for (size_t y = x + 1; y < e; y++)
					if (!v[y].whole && parts[y - k].addr_only &&
					    !strcmp(a, parts[y - k].addr_only)) {
						fprintf(out, ", %s", m->services[v[y].service].name);
						done[y - k] = true;
					}
				fprintf(out, ", only %s\n", a);
			}
			for (size_t x = k; x < e && !r; x++) {
				char *head = NULL;

				if (v[x].whole || parts[x - k].addr_only)
					continue;
				if (asprintf(&head, "%s: %s", id,
					     m->services[v[x].service].name) < 0) {
					r = -ENOMEM;
					break;
				}
				part_print(out, &parts[x - k], head);
				free(head);
			}
			for (size_t x = k; x < e; x++)
				part_free(&parts[x - k]);
			free(parts);
			free(done);
			if (r)
				return r;
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
