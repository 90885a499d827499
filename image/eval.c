/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reference evaluator on a verified policy image (libzwimage), and the
 * parsing of "SRC DST PROTO [PORT]" queries. The same semantics read from
 * the matrix model live in matrix/eval.c. Linear scans on purpose: this is
 * the oracle every engine is tested against, not a fast path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/policy.h>

void zw_verdict__same_zone(struct zw_verdict *v, bool isolate)
{
	if (v->src_zone == v->dst_zone && v->src_zone != ZW_ZONE_OUTSIDE) {
		v->allow = !isolate;
		v->reason = isolate ? ZW_VERDICT_ISOLATED : ZW_VERDICT_SAME_ZONE;
	}
}

void zw_eval__image(const struct zw_image *img, const struct zw_query *q,
		    struct zw_verdict *v)
{
	const struct zw_img_pair *pair;

	memset(v, 0, sizeof(*v));
	v->flow = ZW_NO_FLOW;
	v->reason = ZW_VERDICT_NO_FLOW;
	v->src_zone = zw_image__zone_of(img, q->family, q->src);
	v->dst_zone = zw_image__zone_of(img, q->family, q->dst);

	if (zw_image__blocked(img, q->family, q->src) ||
	    zw_image__blocked(img, q->family, q->dst)) {
		v->reason = ZW_VERDICT_BLOCKED;
		return;
	}
	pair = zw_image__pair(img, v->src_zone, v->dst_zone);
	for (uint32_t r = 0; pair && r < pair->count; r++) {
		const struct zw_img_rule *x = &img->rules[pair->first + r];

		if (x->proto != q->proto || !zw_image__flow_live(img, x->flow, q->day))
			continue;
		if (!(x->flags & ZW_IMG_RULE_ANY) && (q->port < x->lo || q->port > x->hi))
			continue;
		if (!zw_image__set_contains(img, x->src_set, q->family, q->src) ||
		    !zw_image__set_contains(img, x->dst_set, q->family, q->dst))
			continue;
		v->allow = true;
		v->reason = ZW_VERDICT_FLOW;
		v->flow = x->flow;
		v->service = x->service;
		return;
	}
	zw_verdict__same_zone(v, img->zones[v->src_zone].flags & ZW_IMG_ZONE_ISOLATE);
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 host a.b.c.d:
 * a matrix cannot declare that spelling (ZW014), and a dual-stack socket
 * talking to it sends IPv4 packets. Asked about it, answer for the IPv4
 * address, so one host never gets two answers. */
static void unmap_ipv4(struct zw_prefix *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (a->family != ZW_AF_INET6 || a->len != 128 ||
	    memcmp(a->addr, mapped, sizeof(mapped)))
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = ZW_AF_INET;
	a->len = 32;
}

int zw_query__parse(struct zw_query *q, const char *src, const char *dst,
		    const char *proto, const char *port, char *err,
		    size_t err_len)
{
	struct zw_prefix a, b;
	int p;

	memset(q, 0, sizeof(*q));
	q->day = zw_date__today();
	if (zw_prefix__parse(src, &a) || a.len != (a.family == ZW_AF_INET ? 32 : 128)) {
		snprintf(err, err_len, "source '%s' is not an IPv4 or IPv6 address", src);
		return -EINVAL;
	}
	if (zw_prefix__parse(dst, &b) || b.len != (b.family == ZW_AF_INET ? 32 : 128)) {
		snprintf(err, err_len, "destination '%s' is not an IPv4 or IPv6 address", dst);
		return -EINVAL;
	}
	unmap_ipv4(&a);
	unmap_ipv4(&b);
	if (a.family != b.family) {
		snprintf(err, err_len, "source and destination are not of the same family");
		return -EINVAL;
	}
	p = zw_proto__parse(proto);
	if (p < 0) {
		snprintf(err, err_len,
			 "protocol '%s' is not tcp, udp, sctp, icmp, icmpv6 or 0-255", proto);
		return -EINVAL;
	}
	q->family = a.family;
	q->proto = (uint8_t)p;
	memcpy(q->src, a.addr, 16);
	memcpy(q->dst, b.addr, 16);
	if (zw_proto__has_ports(q->proto)) {
		char *end;
		long v;

		if (!port) {
			snprintf(err, err_len, "%s needs a destination port", proto);
			return -EINVAL;
		}
		v = strtol(port, &end, 10);
		if (*port < '0' || *port > '9' || *end || v < 1 || v > 65535) {
			snprintf(err, err_len, "port '%s' is not 1-65535", port);
			return -EINVAL;
		}
		q->port = (uint16_t)v;
	} else if (zw_proto__is_icmp(q->proto)) {
		int t;

		if (!port) {
			snprintf(err, err_len, "%s needs an ICMP type (e.g. echo-request)", proto);
			return -EINVAL;
		}
		t = zw_icmp_type__parse(q->proto, port);
		if (t < 0) {
			char *end;
			long v = strtol(port, &end, 10);

			if (*port < '0' || *port > '9' || *end || v > 255) {
				snprintf(err, err_len, "'%s' is not an %s type name or number 0-255",
					 port, proto);
				return -EINVAL;
			}
			t = (int)v;
		}
		q->port = (uint16_t)t;
	} else if (port) {
		snprintf(err, err_len, "protocol %s has no ports", proto);
		return -EINVAL;
	}
	return 0;
}
