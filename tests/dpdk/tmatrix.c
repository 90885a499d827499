// SPDX-License-Identifier: BSD-2-Clause
/* Test helpers of the DPDK engine's tests (see tmatrix.h). */
#include "tmatrix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/matrix.h>

uint64_t zt_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ull;
}

struct sb {
	char *s;
	size_t n, cap;
};

static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0,
			      fmt, ap);
		va_end(ap);
		if (b->s && (size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
}

/* Zones of the random matrices: index 1..N, name, kind, isolate. Zone z
 * owns 10.z.0.0/16, 172.16.z.0/24 (odd z) and fd00:z::/48. */
static const struct {
	const char *name, *kind;
	int isolate;
} zones[] = {
	{ "ops", "operations", 1 },	 { "srv", "servers", 0 },
	{ "adm", "admin", 0 },		 { "upd", "update", 0 },
	{ "vpn", "remote-access", 0 },	 { "xch", "provider-exchange", 0 },
	{ "app", "internal-service", 0 }, { "db", "internal-service", 1 },
};
#define NZ (int)(sizeof(zones) / sizeof(zones[0]))

static int internal(int z)
{
	return z >= 1 && z <= NZ && strcmp(zones[z - 1].kind, "remote-access") &&
	       strcmp(zones[z - 1].kind, "provider-exchange");
}

static void narrow(struct sb *b, uint64_t *s, int z)
{
	int a = (int)zt_below(s, 256), c = (int)zt_below(s, 4);

	if (z == 0) { /* outside: addresses no zone declares */
		sb_printf(b, "[203.0.113.%d/%d, \"2001:db8:%x::/64\"]",
			  (int)(zt_below(s, 4) * 64), 26, a);
		return;
	}
	switch (c) {
	case 0:
		sb_printf(b, "[10.%d.%d.0/24]", z, a);
		break;
	case 1:
		sb_printf(b, "[10.%d.%d.%d]", z, a, (int)zt_below(s, 256));
		break;
	case 2:
		sb_printf(b, "[\"fd00:%x:0:%x::/64\", 10.%d.%d.0/25]", z, a, z, a);
		break;
	default:
		sb_printf(b, "[10.%d.%d.0/23, 10.%d.%d.128/25]", z, a & 0xfe, z,
			  (a + 7) & 0xff);
	}
}

char *zt_matrix_yaml(uint64_t seed, unsigned n_flows)
{
	static const char *svc_names[] = { "t1", "t2", "u1", "u2", "sc",
					   "ic", "i6", "gre", "mix" };
	struct sb b = { 0 };
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned i;
	int z;

	sb_printf(&b, "zonewall: 1\nname: rand-%llu\nprofile: minimal\nzones:\n",
		  (unsigned long long)seed);
	for (z = 1; z <= NZ; z++) {
		sb_printf(&b, "  %s:\n    kind: %s\n    networks: [10.%d.0.0/16",
			  zones[z - 1].name, zones[z - 1].kind, z);
		if (z & 1)
			sb_printf(&b, ", 172.16.%d.0/24", z);
		sb_printf(&b, ", \"fd00:%x::/48\"]\n", z);
		if (zones[z - 1].isolate)
			sb_printf(&b, "    isolate: true\n");
	}
	/* Services with random ports. */
	{
		int p = 1 + (int)zt_below(&s, 60000);
		int q = 1 + (int)zt_below(&s, 1000);

		sb_printf(&b, "services:\n");
		sb_printf(&b, "  t1: {proto: tcp, ports: [%d, \"%d-%d\"]}\n", 22,
			  p, p + q);
		sb_printf(&b, "  t2: {proto: tcp, ports: [\"1-1024\"]}\n");
		sb_printf(&b, "  u1: {proto: udp, ports: [53, %d]}\n",
			  1 + (int)zt_below(&s, 65535));
		sb_printf(&b, "  u2: {proto: udp, ports: [\"%d-65535\"]}\n",
			  30000 + (int)zt_below(&s, 30000));
		sb_printf(&b, "  sc: {proto: sctp, ports: [%d]}\n",
			  1 + (int)zt_below(&s, 65535));
		sb_printf(&b, "  ic: {proto: icmp, types: [echo-request, %d]}\n",
			  13 + (int)zt_below(&s, 3));
		sb_printf(&b, "  i6: {proto: icmpv6, types: [128]}\n");
		sb_printf(&b, "  gre: {proto: 47}\n");
		sb_printf(&b, "  mix:\n    - {proto: tcp, ports: [\"%d-%d\"]}\n"
			      "    - {proto: udp, ports: [%d]}\n    - {proto: icmp}\n",
			  8000, 8000 + (int)zt_below(&s, 100),
			  1 + (int)zt_below(&s, 65535));
	}
	sb_printf(&b, "flows:\n");
	for (i = 0; i < n_flows; i++) {
		int from, to, k, ns;

		do {
			from = (int)zt_below(&s, NZ + 1);
			to = (int)zt_below(&s, NZ + 1);
		} while ((from == 1 && to == 1) ||
			 (from == 0 && internal(to)) ||
			 (to == 0 && internal(from)) ||
			 (to == 3 && from != 0 && !internal(from) &&
			  strcmp(zones[from - 1].kind, "remote-access")) ||
			 (to == 3 && from == 0) || (from == 0 && to == 0));
		sb_printf(&b, "  - id: F-%u\n    from: %s\n    to: %s\n", i,
			  from ? zones[from - 1].name : "outside",
			  to ? zones[to - 1].name : "outside");
		if (zt_below(&s, 4) == 0) {
			sb_printf(&b, "    src: ");
			narrow(&b, &s, from);
			sb_printf(&b, "\n");
		}
		if (zt_below(&s, 4) == 0) {
			sb_printf(&b, "    dst: ");
			narrow(&b, &s, to);
			sb_printf(&b, "\n");
		}
		ns = 1 + (int)zt_below(&s, 3);
		sb_printf(&b, "    services: [");
		{
			unsigned first = zt_below(&s, 9);

			for (k = 0; k < ns; k++) /* distinct: steps of 4 mod 9 */
				sb_printf(&b, "%s%s", k ? ", " : "",
					  svc_names[(first + (unsigned)k * 4) % 9]);
		}
		sb_printf(&b, "]\n    justification: generated flow %u\n", i);
		switch (zt_below(&s, 8)) {
		case 0:
			sb_printf(&b, "    expires: 2026-01-31\n"); /* dead */
			break;
		case 1:
			sb_printf(&b, "    expires: 2026-11-01\n"); /* last day */
			break;
		case 2:
			sb_printf(&b, "    log: true\n");
			break;
		default:
			break;
		}
	}
	return b.s;
}

static struct zw_image *compile_matrix(struct zw_matrix *m, struct zw_diags *d,
				       int32_t day,
				       const struct zw_compile_opts *opts)
{
	struct zw_compile_opts o = { 0 };
	struct zw_image *img = NULL;
	uint8_t *bytes = NULL;
	size_t len = 0;
	char err[256];

	if (!m || zw_matrix__validate(m, day, d) || d->n_errors) {
		zw_diags__print_text(d, stderr);
		return NULL;
	}
	if (opts)
		o = *opts;
	if (zw_policy__compile_opts(m, &o, &bytes, &len)) {
		fprintf(stderr, "compile failed\n");
		return NULL;
	}
	img = zw_image__open(bytes, len, err, sizeof(err));
	if (!img)
		fprintf(stderr, "image: %s\n", err);
	free(bytes);
	return img;
}

struct zw_image *zt_compile(const char *yaml, int32_t day,
			    const struct zw_prefix *block, size_t n_block)
{
	struct zw_compile_opts o = { .block = block, .n_block = n_block };

	return zt_compile_opts(yaml, day, &o);
}

struct zw_image *zt_compile_opts(const char *yaml, int32_t day,
				 const struct zw_compile_opts *o)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;

	zw_diags__init(&d, "test.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "test.yaml", &d);
	img = compile_matrix(m, &d, day, o);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

struct zw_image *zt_compile_file(const char *path, int32_t day)
{
	struct zw_diags d;
	struct zw_matrix *m;
	struct zw_image *img;

	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	img = compile_matrix(m, &d, day, NULL);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

/* A random address inside prefix (addr, len) of @family. */
static void addr_in(uint64_t *s, uint8_t family, const uint8_t *addr,
		    unsigned len, uint8_t *out)
{
	unsigned n = family == 4 ? 4 : 16, i;

	memset(out, 0, 16);
	for (i = 0; i < n; i++) {
		uint8_t r = (uint8_t)zt_rand(s);
		unsigned bit = i * 8;
		uint8_t m = bit >= len ? 0 : len - bit >= 8 ? 0xff :
					      (uint8_t)(0xff00u >> (len - bit));

		out[i] = (uint8_t)((addr[i] & m) | (r & ~m));
	}
}

/* An address of zone @z in @family (outside: a random one), or 0 if the
 * zone has no prefix of that family. */
static int zone_addr(const struct zw_image *img, uint64_t *s, uint32_t z,
		     uint8_t family, uint8_t *out)
{
	uint32_t i, n = 0, pick;

	if (z == 0) {
		memset(out, 0, 16);
		for (i = 0; i < (family == 4 ? 4u : 16u); i++)
			out[i] = (uint8_t)zt_rand(s);
		if (family == 4 && zt_below(s, 2)) {
			out[0] = 203, out[1] = 0, out[2] = 113;
		} else if (family == 6 && zt_below(s, 2)) {
			out[0] = 0x20, out[1] = 0x01, out[2] = 0x0d, out[3] = 0xb8;
		}
		return 1;
	}
	if (family == 4) {
		for (i = 0; i < img->n_prefix4; i++)
			n += img->prefix4[i].zone == z;
		if (!n)
			return 0;
		pick = zt_below(s, n);
		for (i = 0; i < img->n_prefix4; i++)
			if (img->prefix4[i].zone == z && !pick--)
				addr_in(s, 4, img->prefix4[i].addr,
					img->prefix4[i].len, out);
	} else {
		for (i = 0; i < img->n_prefix6; i++)
			n += img->prefix6[i].zone == z;
		if (!n)
			return 0;
		pick = zt_below(s, n);
		for (i = 0; i < img->n_prefix6; i++)
			if (img->prefix6[i].zone == z && !pick--)
				addr_in(s, 6, img->prefix6[i].addr,
					img->prefix6[i].len, out);
	}
	return 1;
}

static void set_addr(const struct zw_image *img, uint64_t *s, uint32_t set,
		     uint32_t zone, uint8_t family, uint8_t *out)
{
	if (set != ZW_NO_SET && zt_below(s, 4)) {
		const struct zw_img_set *st = &img->sets[set];
		uint32_t k;

		for (k = 0; k < 4; k++) {
			const struct zw_img_narrow *nw =
				&img->narrow[st->first + zt_below(s, st->count)];

			if (nw->family != family)
				continue;
			addr_in(s, family, nw->addr, nw->len, out);
			if (zt_below(s, 4) == 0) /* just past the prefix */
				out[nw->len / 8 < (family == 4 ? 4u : 16u) ?
					    nw->len / 8 : 0] ^= 0x80;
			return;
		}
	}
	if (!zone_addr(img, s, zone, family, out))
		zone_addr(img, s, 0, family, out);
}

void zt_query(const struct zw_image *img, uint64_t *s, int32_t day,
	      struct zw_query *q)
{
	memset(q, 0, sizeof(*q));
	q->day = day;
	q->family = zt_below(s, 3) ? 4 : 6;
	if (img->n_rules && zt_below(s, 8)) {
		const struct zw_img_rule *r = &img->rules[zt_below(s, img->n_rules)];
		const struct zw_img_flow *f = &img->flows[r->flow];
		uint32_t from = f->from, to = f->to;

		/* Now and then another zone at one end. */
		if (zt_below(s, 6) == 0)
			from = zt_below(s, img->n_zones);
		if (zt_below(s, 6) == 0)
			to = zt_below(s, img->n_zones);
		set_addr(img, s, r->src_set, from, q->family, q->src);
		set_addr(img, s, r->dst_set, to, q->family, q->dst);
		q->proto = r->proto;
		if (zt_below(s, 10) == 0)
			q->proto = (uint8_t)(zt_below(s, 2) ? 6 : 17);
		if (q->proto == 1 && q->family == 6)
			q->family = 4, set_addr(img, s, r->src_set, from, 4, q->src),
			set_addr(img, s, r->dst_set, to, 4, q->dst);
		if (q->proto == 58 && q->family == 4)
			q->family = 6, set_addr(img, s, r->src_set, from, 6, q->src),
			set_addr(img, s, r->dst_set, to, 6, q->dst);
		switch (zt_below(s, 6)) {
		case 0:
			q->port = r->lo;
			break;
		case 1:
			q->port = r->hi;
			break;
		case 2:
			q->port = (uint16_t)(r->lo - 1);
			break;
		case 3:
			q->port = (uint16_t)(r->hi + 1);
			break;
		default:
			q->port = (uint16_t)(r->lo + zt_below(s, (uint32_t)(r->hi - r->lo) + 1));
		}
	} else {
		static const uint8_t protos[] = { 6, 17, 132, 1, 58, 47 };

		zone_addr(img, s, zt_below(s, img->n_zones), q->family, q->src);
		zone_addr(img, s, zt_below(s, img->n_zones), q->family, q->dst);
		q->proto = protos[zt_below(s, 6)];
		if (q->proto == 1 && q->family == 6)
			q->proto = 58;
		else if (q->proto == 58 && q->family == 4)
			q->proto = 1;
		q->port = (uint16_t)zt_rand(s);
	}
	if (q->proto == 1 || q->proto == 58) {
		/* ICMP: only query types open connections (errors are
		 * related, never opened). */
		static const uint8_t t4[] = { 8, 13, 15, 17 }, t6[] = { 128 };

		if (!((q->proto == 1 && (q->port == 8 || q->port == 13 ||
					 q->port == 15 || q->port == 17)) ||
		      (q->proto == 58 && q->port == 128)))
			q->port = q->proto == 1 ? t4[zt_below(s, 4)] : t6[0];
	}
	if (q->proto != 6 && q->proto != 17 && q->proto != 132 &&
	    q->proto != 1 && q->proto != 58)
		q->port = 0;
}

static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (; n > 1; n -= 2, b += 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (n)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t zt_frame(const struct zt_pkt *p, uint8_t *buf, size_t cap)
{
	size_t l3 = 14, l4, hl, len;
	uint8_t *ip = buf + l3, *t;

	if (cap < 128)
		return 0;
	memset(buf, 0, 128);
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (p->family == 4) {
		buf[12] = 0x08, buf[13] = 0x00;
		hl = 20;
	} else {
		buf[12] = 0x86, buf[13] = 0xdd;
		hl = 40;
	}
	l4 = l3 + hl;
	t = buf + l4;
	switch (p->proto) {
	case 6:
		t[0] = (uint8_t)(p->sport >> 8), t[1] = (uint8_t)p->sport;
		t[2] = (uint8_t)(p->dport >> 8), t[3] = (uint8_t)p->dport;
		t[12] = 5 << 4;
		t[13] = p->tcp_flags;
		t[14] = 0x20;
		len = 20;
		break;
	case 17:
	case 132:
		t[0] = (uint8_t)(p->sport >> 8), t[1] = (uint8_t)p->sport;
		t[2] = (uint8_t)(p->dport >> 8), t[3] = (uint8_t)p->dport;
		len = p->proto == 17 ? 8 : 12;
		break;
	case 1:
	case 58:
		t[0] = (uint8_t)(p->dport >> 8), t[1] = (uint8_t)p->dport;
		t[4] = (uint8_t)(p->sport >> 8), t[5] = (uint8_t)p->sport;
		len = 8;
		break;
	default:
		len = 0;
	}
	/* payload: "ZT" + tag */
	t[len] = 'Z', t[len + 1] = 'T';
	t[len + 2] = (uint8_t)(p->tag >> 24), t[len + 3] = (uint8_t)(p->tag >> 16);
	t[len + 4] = (uint8_t)(p->tag >> 8), t[len + 5] = (uint8_t)p->tag;
	len += 6;
	if (p->proto == 17) {
		t[4] = (uint8_t)(len >> 8), t[5] = (uint8_t)len;
	}
	if (p->family == 4) {
		size_t tot = hl + len;

		ip[0] = 0x45;
		ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = p->proto;
		memcpy(ip + 12, p->src, 4);
		memcpy(ip + 16, p->dst, 4);
		{
			uint16_t c = csum(ip, 20, 0);

			ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
		}
	} else {
		ip[0] = 0x60;
		ip[4] = (uint8_t)(len >> 8), ip[5] = (uint8_t)len;
		ip[6] = p->proto;
		ip[7] = 64;
		memcpy(ip + 8, p->src, 16);
		memcpy(ip + 24, p->dst, 16);
	}
	len += l4;
	return len < 60 ? 60 : len;
}

uint32_t zt_frame_tag(const uint8_t *buf, size_t len)
{
	size_t off, l4 = 0;
	uint8_t proto;

	if (len < 14 + 20)
		return UINT32_MAX;
	if (buf[12] == 0x08 && buf[13] == 0x00) {
		off = 14 + (size_t)(buf[14] & 15) * 4;
		proto = buf[23];
		if (buf[20] & 0x3f || buf[21]) /* fragment: payload at once */
			proto = 0;
	} else {
		off = 14 + 40;
		proto = buf[20];
	}
	switch (proto) {
	case 6:
		l4 = 20;
		break;
	case 17:
	case 1:
	case 58:
		l4 = 8;
		break;
	case 132:
		l4 = 12;
		break;
	default:
		l4 = 0;
	}
	/* The tag follows the L4 header (zt_frame), or some quoted bytes
	 * (hand-made ICMP errors and fragments): search from there. */
	for (off += l4; off + 6 <= len; off++)
		if (buf[off] == 'Z' && buf[off + 1] == 'T')
			break;
	if (off + 6 > len)
		return UINT32_MAX;
	return (uint32_t)buf[off + 2] << 24 | (uint32_t)buf[off + 3] << 16 |
	       (uint32_t)buf[off + 4] << 8 | buf[off + 5];
}

void zt_pkt_of_query(const struct zw_query *q, uint16_t sport, uint32_t tag,
		     struct zt_pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->family = q->family;
	p->proto = q->proto;
	memcpy(p->src, q->src, 16);
	memcpy(p->dst, q->dst, 16);
	p->sport = sport;
	p->dport = q->port;
	if (q->proto == 1 || q->proto == 58)
		p->dport = (uint16_t)(q->port << 8);
	p->tcp_flags = 0x02;
	p->tag = tag;
}

int32_t zt_today(void)
{
	const char *t = getenv("ZONEWALL_TODAY");
	struct tm tm = { 0 };

	if (t && strptime(t, "%Y-%m-%d", &tm))
		return (int32_t)(timegm(&tm) / 86400);
	return (int32_t)(time(NULL) / 86400);
}
