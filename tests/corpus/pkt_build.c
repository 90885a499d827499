/* SPDX-License-Identifier: BSD-2-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pkt_build.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int zw_pb__init(struct zw_pb *s, const char *src, const char *dst,
		uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(s, 0, sizeof(*s));
	if (inet_pton(AF_INET, src, s->src) == 1 &&
	    inet_pton(AF_INET, dst, s->dst) == 1)
		s->family = 4;
	else if (inet_pton(AF_INET6, src, s->src) == 1 &&
		 inet_pton(AF_INET6, dst, s->dst) == 1)
		s->family = 6;
	else
		return -EINVAL;
	s->proto = proto;
	s->sport = sport;
	s->dport = dport;
	if (proto == 6)
		s->tcp_flags = 0x02;
	return 0;
}

static size_t l4_hdr_len(const struct zw_pb *s)
{
	switch (s->proto) {
	case 6:
		return (size_t)(s->tcp_doff ? s->tcp_doff : 5) * 4;
	case 17:
		return 8;
	case 132:
		return 12;
	case 1:
	case 58:
		return 8;
	default:
		return 0;
	}
}

static size_t ip_hdr_len(const struct zw_pb *s)
{
	size_t n;
	int i;

	if (s->family == 4)
		return 20 + (size_t)s->ip_opts;
	n = 40;
	for (i = 0; i < s->n_ext; i++)
		n += s->ext[i] == 51 ? 12 : 8;
	return n;
}

/* The quoted bytes of an ICMP error: the packet @q (without Ethernet), cut
 * to @keep bytes (0: IP header(s) + 8). */
static size_t build_quote(const struct zw_pb *q, size_t keep, uint8_t *out,
			  size_t cap)
{
	uint8_t tmp[ZW_PB_MAX];
	size_t n = zw_pb__build(q, tmp, sizeof(tmp));

	if (n < 14)
		return 0;
	n -= 14;
	if (!keep)
		keep = ip_hdr_len(q) + 8;
	if (keep > n)
		keep = n;
	if (keep > cap)
		return 0;
	memcpy(out, tmp + 14, keep);
	return keep;
}

size_t zw_pb__build(const struct zw_pb *s, uint8_t *buf, size_t cap)
{
	uint8_t l4[ZW_PB_MAX];
	size_t l4len = 0, off, iphl, iplen, total, i;
	int frag_later = 0, v;
	uint16_t eth = s->family == 4 ? 0x0800 : 0x86dd;

	if (cap < 64 || s->vlans > 3 || s->n_ext > 12)
		return 0;
	memset(buf, 0, cap);

	/* the upper-layer part (L4 header + payload, or fragment data) */
	if (s->family == 4)
		frag_later = s->frag && s->frag_off;
	for (i = 0; i < (size_t)s->n_ext; i++)
		if (s->ext[i] == 44 && s->frag_off)
			frag_later = 1;
	memset(l4, 0, sizeof(l4));
	if (frag_later) {
		l4len = s->payload;
		for (i = 0; i < l4len; i++)
			l4[i] = (uint8_t)(0xa0 + i);
	} else {
		size_t hl = l4_hdr_len(s);

		switch (s->proto) {
		case 6:
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put32(l4 + 4, 0x1000);
			put32(l4 + 8, (s->tcp_flags & 0x10) ? 0x2000 : 0);
			l4[12] = (uint8_t)((s->tcp_doff ? s->tcp_doff : 5) << 4);
			l4[13] = s->tcp_flags;
			put16(l4 + 14, 65535);
			break;
		case 17:
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put16(l4 + 4, (uint16_t)(s->udp_len == -1 ? 0
					       : s->udp_len ? s->udp_len
							    : (int)(8 + s->payload)));
			break;
		case 132:
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put32(l4 + 4, 0x11223344);
			break;
		case 1:
		case 58:
			l4[0] = s->icmp_type;
			l4[1] = s->icmp_code;
			put16(l4 + 4, s->icmp_id);
			put16(l4 + 6, 1);
			break;
		default:
			break;
		}
		l4len = hl;
		if (s->quote) {
			size_t qn = build_quote(s->quote, s->quote_len,
						l4 + l4len,
						sizeof(l4) - l4len - 64);
			if (!qn)
				return 0;
			l4len += qn;
		} else {
			for (i = 0; i < s->payload && l4len < sizeof(l4); i++)
				l4[l4len++] = (uint8_t)(0x30 + i);
		}
		if (s->frag_nol4 && (size_t)s->frag_nol4 < l4len)
			l4len = (size_t)s->frag_nol4;
	}

	/* Ethernet and VLANs */
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	off = 12;
	for (v = 0; v < s->vlans; v++) {
		put16(buf + off, v == 0 && s->vlans > 1 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, (uint16_t)(100 + v));
		off += 4;
	}
	put16(buf + off, eth);
	off += 2;

	iphl = ip_hdr_len(s);
	iplen = iphl + l4len;
	total = off + iplen + (size_t)s->pad_eth;
	if (total > cap || iplen > 65535)
		return 0;

	if (s->family == 4) {
		uint8_t *ip = buf + off;
		uint16_t fo = 0;
		int ihl = s->ihl ? s->ihl : (int)(iphl / 4);

		ip[0] = (uint8_t)(((s->version ? s->version : 4) << 4) |
				  (ihl & 0xf));
		put16(ip + 2, (uint16_t)((int)iplen + s->tot_delta));
		put16(ip + 4, (uint16_t)s->frag_id);
		if (s->frag) {
			fo = s->frag_off & 0x1fff;
			if (s->frag_mf)
				fo |= 0x2000;
		}
		if (s->evil)
			fo |= 0x8000;
		put16(ip + 6, fo);
		ip[8] = s->hop_limit ? s->hop_limit : 64;
		ip[9] = s->proto;
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		for (i = 20; i < iphl; i++)
			ip[i] = 1; /* NOP options */
		put16(ip + 10, csum_fold(csum_add(0, ip, iphl)));
	} else {
		uint8_t *ip = buf + off;
		uint8_t *h;
		uint8_t nh;

		put32(ip, (uint32_t)(s->version ? s->version : 6) << 28);
		put16(ip + 4, (uint16_t)((int)(iplen - 40) + s->tot_delta));
		ip[7] = s->hop_limit ? s->hop_limit : 64;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
		nh = s->n_ext ? s->ext[0] : s->proto;
		ip[6] = nh;
		h = ip + 40;
		for (i = 0; i < (size_t)s->n_ext; i++) {
			uint8_t next = i + 1 < (size_t)s->n_ext ? s->ext[i + 1]
								: s->proto;

			h[0] = next;
			if (s->ext[i] == 44) {
				uint16_t fo = (uint16_t)(s->frag_off << 3);

				if (s->frag_mf)
					fo |= 1;
				put16(h + 2, fo);
				put32(h + 4, s->frag_id);
				h += 8;
			} else if (s->ext[i] == 51) {
				h[1] = 1; /* (1 + 2) * 4 = 12 bytes */
				h += 12;
			} else {
				h[1] = 0;
				if (s->ext[i] == 43)
					h[2] = s->rh0 ? 0 : 2;
				else {
					h[2] = 1; /* PadN */
					h[3] = 4;
				}
				h += 8;
			}
		}
	}
	memcpy(buf + off + iphl, l4, l4len);

	/* L4 checksum over the (unfragmented) datagram */
	if (!frag_later && !(s->family == 4 && s->frag) && !s->frag_nol4) {
		uint8_t *p = buf + off + iphl;
		uint32_t sum = 0;
		size_t coff = 0;
		int pseudo = 1;

		switch (s->proto) {
		case 6:
			coff = 16;
			break;
		case 17:
			coff = 6;
			break;
		case 1:
			coff = 2;
			pseudo = 0;
			break;
		case 58:
			coff = 2;
			break;
		default:
			pseudo = -1;
		}
		if (pseudo >= 0 && l4len >= coff + 2) {
			if (pseudo) {
				uint8_t ph[4];

				if (s->family == 4) {
					sum = csum_add(sum, s->src, 4);
					sum = csum_add(sum, s->dst, 4);
				} else {
					sum = csum_add(sum, s->src, 16);
					sum = csum_add(sum, s->dst, 16);
				}
				put16(ph, 0);
				ph[2] = 0;
				ph[3] = s->proto;
				sum = csum_add(sum, ph, 4);
				put16(ph, (uint16_t)l4len);
				sum = csum_add(sum, ph, 2);
			}
			sum = csum_add(sum, p, l4len);
			put16(p + coff, csum_fold(sum));
		}
	}
	if (s->trunc && (size_t)s->trunc < total)
		total = (size_t)s->trunc;
	if (total < 60 && !s->trunc)
		total = 60; /* Ethernet minimum (padding) */
	return total;
}
