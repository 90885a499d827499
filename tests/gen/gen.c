/* SPDX-License-Identifier: BSD-2-Clause */
/* Random valid matrices and interesting queries (see gen.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "gen.h"

uint64_t zw_gen__rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static unsigned pick(uint64_t *s, unsigned n)
{
	return n ? (unsigned)(zw_gen__rand(s) % n) : 0;
}

struct sb {
	char *v;
	size_t n, cap;
};

static void add(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->v ? b->v + b->n : NULL, b->v ? b->cap - b->n : 0,
			      fmt, ap);
		va_end(ap);
		if (k < 0)
			abort();
		if (b->v && b->n + (size_t)k < b->cap) {
			b->n += (size_t)k;
			return;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->v = realloc(b->v, b->cap);
		if (!b->v)
			abort();
	}
}

static const char *const kinds[] = {
	"operations", "servers", "admin", "update", "remote-access",
	"provider-exchange", "infrastructure", "internal-service",
	"client-exchange", "third-party-exchange", "internet-access",
	"managed-access", "third-party-admin",
};

static bool internal(const char *k)
{
	return !strcmp(k, "operations") || !strcmp(k, "servers") ||
	       !strcmp(k, "admin") || !strcmp(k, "update") ||
	       !strcmp(k, "infrastructure") || !strcmp(k, "internal-service");
}

static const char *const builtins[] = {"ssh", "https", "dns", "ntp", "ipsec",
				       "icmp-echo", "icmpv6-echo", "syslog-tls",
				       "rdp", "smb", "kerberos", "openvpn"};

char *zw_gen__matrix(const struct zw_gen_opts *o)
{
	struct sb b = {0};
	uint64_t s = o->seed * 2654435761u + 1;
	size_t nz = o->n_zones < 7 ? 7 : o->n_zones;
	/* with edges and no ipv6: one more zone, all of IPv6 */
	size_t zall = o->edges && !o->ipv6 ? nz + 1 : 0;
	size_t nzz = zall ? zall : nz;
	const char **zk = calloc(nzz + 1, sizeof(*zk));
	bool *unsafe = calloc(o->n_services + 1, sizeof(*unsafe));
	int32_t today = zw_date__today();

	if (!zk || !unsafe)
		abort();
	add(&b, "zonewall: 1\nname: gen-%llu\nprofile: minimal\nzones:\n",
	    (unsigned long long)o->seed);
	for (size_t i = 1; i <= nz; i++) {
		zk[i] = i <= 6 ? kinds[i - 1] : kinds[pick(&s, 13)];
		add(&b, "  z%zu:\n    kind: %s\n    networks: [10.%zu.%zu.0/24", i,
		    zk[i], i >> 8, i & 255);
		if (i < 256 && pick(&s, 3) == 0)
			add(&b, ", 172.16.%zu.0/24", i);
		if (o->ipv6)
			add(&b, ", \"fd00:0:%zx::/48\"", i);
		add(&b, "]\n");
		if (!strcmp(zk[i], "operations") || pick(&s, 4) == 0)
			add(&b, "    isolate: true\n");
	}
	if (zall) {
		zk[zall] = "internet-access";
		add(&b, "  z%zu:\n    kind: internet-access\n    networks: [\"::/0\"]\n%s",
		    zall, pick(&s, 2) ? "    isolate: true\n" : "");
	}
	if (o->edges)
		add(&b, "services:\n"
			"  ssh: {proto: tcp, ports: [2222]}\n"
			"  icmp-echo: [{proto: icmp}, {proto: icmpv6, types: [0, 255]}]\n"
			"  e0: {proto: 0}\n"
			"  e255: {proto: icmp, types: [0, 255]}\n"
			"  emax: [{proto: udp, ports: [65535]}, {proto: tcp, ports: [\"65500-65535\"]}, {proto: 255}]\n");
	if (o->n_services) {
		if (!o->edges)
			add(&b, "services:\n");
		for (size_t i = 0; i < o->n_services; i++) {
			unsigned k = pick(&s, 10);

			unsafe[i] = pick(&s, 8) == 0;
			add(&b, "  s%zu: ", i);
			if (k < 6) {
				static const char *const pp[] = {"tcp", "udp", "sctp"};
				unsigned lo = 1 + pick(&s, 60000);

				add(&b, "{proto: %s, ports: [%u", pp[k % 3], lo);
				if (pick(&s, 2))
					add(&b, ", \"%u-%u\"", lo + 5, lo + 5 + pick(&s, 300));
				add(&b, "]");
			} else if (k < 8) {
				const char *p = k == 6 ? "icmp" : "icmpv6";

				if (pick(&s, 2))
					add(&b, "{proto: %s, types: [%u, %u]", p,
					    pick(&s, 256), pick(&s, 256));
				else
					add(&b, "{proto: %s", p);
			} else {
				static const unsigned raw[] = {47, 50, 51, 89, 112};

				add(&b, "{proto: %u", raw[pick(&s, 5)]);
			}
			add(&b, "%s}\n", unsafe[i] ? ", unsafe: true" : "");
		}
	}
	add(&b, "flows:\n");
	for (size_t f = 0; f < o->n_flows; f++) {
		size_t from, to;
		const char *kf, *kt;

		for (;;) {
			from = pick(&s, 10) == 0 ? 0 : 1 + pick(&s, (unsigned)nzz);
			to = pick(&s, 10) == 0 ? 0 : 1 + pick(&s, (unsigned)nzz);
			kf = from ? zk[from] : "outside";
			kt = to ? zk[to] : "outside";
			if (from == to && from && !strcmp(kf, "operations"))
				continue;
			if ((!from && internal(kt)) || (!to && internal(kf)))
				continue;
			if (!strcmp(kt, "admin") && from != to && !internal(kf) &&
			    strcmp(kf, "remote-access"))
				continue;
			break;
		}
		add(&b, "  - id: F%zu\n    from: %s%.0zu\n    to: %s%.0zu\n", f,
		    from ? "z" : "outside", from, to ? "z" : "outside", to);
		/* "%.0zu" prints nothing for 0 (outside), the number otherwise */
		bool need_comp = false;

		if (o->narrowing && pick(&s, 3) == 0) {
			add(&b, "    src: [");
			if (from && from == zall)
				add(&b, "%s", pick(&s, 2) ? "\"::/0\"" : "\"fd00::/8\", \"2001:db8::/32\"");
			else if (from)
				add(&b, "10.%zu.%zu.%u/%u", from >> 8, from & 255,
				    pick(&s, 2) * 128, 25 + pick(&s, 1));
			else
				add(&b, "198.18.%u.0/24", pick(&s, 256));
			add(&b, "]\n");
		}
		if (o->narrowing && pick(&s, 3) == 0) {
			unsigned len = 26 + pick(&s, 7);
			unsigned step = 1u << (32 - len);

			add(&b, "    dst: [");
			if (to && to == zall)
				add(&b, "%s", pick(&s, 2) ? "\"::/0\"" : "\"2001:db8::/33\"");
			else if (to)
				add(&b, "10.%zu.%zu.%u/%u", to >> 8, to & 255,
				    (pick(&s, 256) / step) * step, len);
			else
				add(&b, "198.19.%u.%u/32", pick(&s, 256), pick(&s, 256));
			if (to && o->ipv6 && pick(&s, 2))
				add(&b, ", \"fd00:0:%zx::%x/128\"", to, 1 + pick(&s, 100));
			add(&b, "]\n");
		}
		add(&b, "    services: [");
		unsigned ns = 1 + pick(&s, 3);
		bool used[64] = {false};

		unsigned listed = 0;

		for (unsigned k = 0; k < ns; k++) {
			if (o->edges && pick(&s, 3) == 0) {
				static const char *const ev[] = {"e0", "e255", "emax"};
				unsigned i = pick(&s, 3);

				if (used[48 + i])
					continue;
				used[48 + i] = true;
				add(&b, "%s%s", listed++ ? ", " : "", ev[i]);
			} else if (o->n_services && pick(&s, 2)) {
				size_t i = pick(&s, (unsigned)(o->n_services < 48 ? o->n_services : 48));

				if (used[i])
					continue;
				used[i] = true;
				add(&b, "%ss%zu", listed++ ? ", " : "", i);
				need_comp |= unsafe[i];
			} else {
				unsigned i = pick(&s, 12);

				if (used[63 - i])
					continue;
				used[63 - i] = true;
				add(&b, "%s%s", listed++ ? ", " : "", builtins[i]);
			}
		}
		/* the loop may have skipped everything: always one service */
		if (!listed)
			add(&b, "ssh");
		add(&b, "]\n    justification: generated flow %zu\n", f);
		if (need_comp)
			add(&b, "    compensating: generated measures\n");
		if (o->expiry && pick(&s, 4) == 0) {
			char d[11];

			add(&b, "    expires: %s\n",
			    zw_date__format(today - 20 + (int32_t)pick(&s, 41), d));
		}
		if (pick(&s, 8) == 0)
			add(&b, "    log: true\n");
	}
	free(zk);
	free(unsafe);
	return b.v;
}

/* ---- queries ---- */

static void random_host(uint64_t *s, const struct zw_prefix *p, uint8_t *out)
{
	unsigned bits = p->family == ZW_AF_INET ? 32 : 128;

	memcpy(out, p->addr, 16);
	for (unsigned b = p->len; b < bits; b++)
		if (pick(s, 2))
			out[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

/* First or last address of @p, or one step outside it. */
static void edge(uint64_t *s, const struct zw_prefix *p, uint8_t *out)
{
	unsigned bits = p->family == ZW_AF_INET ? 32 : 128;
	unsigned k = pick(s, 4);
	int n = p->family == ZW_AF_INET ? 4 : 16;

	memcpy(out, p->addr, 16);
	if (k & 1)
		for (unsigned b = p->len; b < bits; b++)
			out[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	if (k >= 2) {
		/* step out: +1 after the last, -1 before the first */
		if (k & 1) {
			for (int i = n - 1; i >= 0 && ++out[i] == 0; i--)
				;
		} else {
			for (int i = n - 1; i >= 0 && out[i]-- == 0; i--)
				;
		}
	}
}

static void address(const struct zw_matrix *m, uint64_t *s, uint8_t family,
		    uint8_t *out)
{
	unsigned k = pick(s, 10);

	memset(out, 0, 16);
	if (k < 6) {
		const struct zw_zone *z = &m->zones[1 + pick(s, (unsigned)m->n_zones - 1)];

		for (size_t i = 0; i < z->n_networks; i++) {
			const struct zw_prefix *p = &z->networks[(i + pick(s, 7)) % z->n_networks];

			if (p->family == family) {
				random_host(s, p, out);
				return;
			}
		}
	}
	if (k < 9 && m->n_flows) {
		const struct zw_flow *f = &m->flows[pick(s, (unsigned)m->n_flows)];
		const struct zw_prefix *v = pick(s, 2) ? f->src : f->dst;
		size_t n = v == f->src ? f->n_src : f->n_dst;

		for (size_t i = 0; i < n; i++)
			if (v[i].family == family) {
				edge(s, &v[i], out);
				return;
			}
	}
	/* outside */
	if (family == ZW_AF_INET) {
		out[0] = 198;
		out[1] = (uint8_t)(18 + pick(s, 2));
		out[2] = (uint8_t)pick(s, 256);
		out[3] = (uint8_t)pick(s, 256);
	} else {
		out[0] = 0x20;
		out[1] = 0x01;
		out[2] = 0x0d;
		out[3] = 0xb8;
		out[15] = (uint8_t)pick(s, 256);
	}
}

/* An address of zone @z (or outside) of @family, near the narrowing of @v
 * when given; false if the zone has no network of that family. */
static bool zone_address(const struct zw_matrix *m, uint64_t *s, uint32_t z,
			 const struct zw_prefix *v, size_t nv, uint8_t family,
			 uint8_t *out)
{
	memset(out, 0, 16);
	if (nv && pick(s, 3)) {
		for (size_t i = 0; i < nv; i++) {
			const struct zw_prefix *p = &v[(i + pick(s, 5)) % nv];

			if (p->family != family)
				continue;
			if (pick(s, 2))
				edge(s, p, out);
			else
				random_host(s, p, out);
			return true;
		}
	}
	if (z == ZW_ZONE_OUTSIDE) {
		address(m, s, family, out);
		/* address() may land in a zone; outside ranges are fine */
		if (family == ZW_AF_INET) {
			out[0] = 198;
			out[1] = (uint8_t)(18 + pick(s, 2));
		} else {
			out[0] = 0x20, out[1] = 0x01, out[2] = 0x0d, out[3] = 0xb8;
		}
		return true;
	}
	const struct zw_zone *zz = &m->zones[z];

	for (size_t i = 0; i < zz->n_networks; i++) {
		const struct zw_prefix *p = &zz->networks[(i + pick(s, 5)) % zz->n_networks];

		if (p->family == family) {
			random_host(s, p, out);
			return true;
		}
	}
	return false;
}

static void port_of(uint64_t *s, const struct zw_flow *f,
		    const struct zw_matrix *m, struct zw_query *q)
{
	const struct zw_service *sv = &m->services[f->services[pick(s, (unsigned)f->n_services)]];
	const struct zw_svc_entry *e = &sv->entries[pick(s, (unsigned)sv->n_entries)];
	const struct zw_range *r = NULL;
	size_t nr = 0;

	q->proto = e->proto;
	if (zw_proto__has_ports(e->proto))
		r = e->ports, nr = e->n_ports;
	else if (zw_proto__is_icmp(e->proto))
		r = e->types, nr = e->n_types;
	if (!nr) {
		q->port = (uint16_t)pick(s, 256);
		return;
	}
	const struct zw_range *x = &r[pick(s, (unsigned)nr)];

	switch (pick(s, 6)) {
	case 0:
		q->port = x->lo;
		break;
	case 1:
		q->port = x->hi;
		break;
	case 2:
		q->port = (uint16_t)(x->lo - 1);
		break;
	case 3:
		q->port = (uint16_t)(x->hi + 1);
		break;
	default:
		q->port = (uint16_t)(x->lo + pick(s, x->hi - x->lo + 1u));
	}
}

static void query(const struct zw_matrix *m, uint64_t *s, int32_t today,
		  struct zw_query *q)
{
	memset(q, 0, sizeof(*q));
	q->day = today;
	q->family = pick(s, 3) == 0 ? ZW_AF_INET6 : ZW_AF_INET;

	if (m->n_flows && pick(s, 10) < 7) {
		/* Aimed at one flow: its zones, narrowing edges, service edges. */
		const struct zw_flow *f = &m->flows[pick(s, (unsigned)m->n_flows)];

		if (zone_address(m, s, f->from, f->src, f->n_src, q->family, q->src) &&
		    zone_address(m, s, f->to, f->dst, f->n_dst, q->family, q->dst)) {
			port_of(s, f, m, q);
			if (f->expires != ZW_DATE_NONE && pick(s, 2))
				q->day = f->expires + (int32_t)pick(s, 3) - 1;
			return;
		}
	}
	address(m, s, q->family, q->src);
	address(m, s, q->family, q->dst);
	if (m->n_flows && pick(s, 8)) {
		port_of(s, &m->flows[pick(s, (unsigned)m->n_flows)], m, q);
	} else {
		static const uint8_t protos[] = {6, 17, 132, 1, 58, 47, 50};

		q->proto = protos[pick(s, 7)];
		q->port = (uint16_t)(1 + pick(s, 65535));
	}
}

void zw_gen__query(const struct zw_matrix *m, uint64_t *s, int32_t today,
		   struct zw_query *q)
{
	query(m, s, today, q);
	/* An ICMP type is one byte on the wire: keep queries realistic. */
	if (zw_proto__is_icmp(q->proto))
		q->port &= 0xff;
}
