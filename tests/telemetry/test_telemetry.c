/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libzwtelemetry: the encoder's output parsed back by a small independent
 * decoder (templates, data records, variable-length strings, NetFlow v9
 * framing), template refresh and sequence numbers, the denial fold, and the
 * exporters against local sockets: a UDP collector that is down then up, a
 * TCP collector that stops reading, then goes away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <zonewall/telemetry.h>

/* ---- the decoder ---- */

struct dfield {
	uint16_t id;
	uint16_t len;
	uint32_t pen;
};

struct dtmpl {
	uint16_t id;
	size_t n;
	struct dfield f[64];
};

/* A decoded value: the element's bytes. */
struct dval {
	uint16_t id;
	uint32_t pen;
	const uint8_t *p;
	size_t len;
};

struct drec {
	uint16_t tid;
	size_t n;
	struct dval v[64];
};

struct dmsg {
	int version;
	uint32_t seq, domain, count; /* count: v9 header */
	size_t n_tmpl_records; /* templates seen in this message */
	size_t n_rec;
	struct drec rec[256];
};

static struct dtmpl tmpls[4];
static size_t n_tmpls;

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static struct dtmpl *find_tmpl(uint16_t id)
{
	for (size_t i = 0; i < n_tmpls; i++)
		if (tmpls[i].id == id)
			return &tmpls[i];
	return NULL;
}

/* Returns 0 or -1 (malformed). */
static int decode(const uint8_t *m, size_t len, struct dmsg *out)
{
	size_t off, hdr;
	uint16_t tset;

	memset(out, 0, sizeof(*out));
	if (len < 16)
		return -1;
	out->version = g16(m);
	if (out->version == 10) {
		if (g16(m + 2) != len)
			return -1;
		out->seq = g32(m + 8);
		out->domain = g32(m + 12);
		hdr = 16;
		tset = 2;
	} else if (out->version == 9) {
		out->count = g16(m + 2);
		out->seq = g32(m + 12);
		out->domain = g32(m + 16);
		hdr = 20;
		tset = 0;
	} else {
		return -1;
	}
	for (off = hdr; off < len;) {
		uint16_t sid, slen;
		size_t p, end;

		if (off + 4 > len)
			return -1;
		sid = g16(m + off);
		slen = g16(m + off + 2);
		if (slen < 4 || off + slen > len)
			return -1;
		if (out->version == 9 && slen % 4)
			return -1; /* v9 flowsets are 4-aligned here */
		p = off + 4;
		end = off + slen;
		if (sid == tset) {
			while (p + 4 <= end) {
				struct dtmpl *t = &tmpls[n_tmpls];
				uint16_t id = g16(m + p);

				if (find_tmpl(id))
					t = find_tmpl(id);
				else
					n_tmpls++;
				t->id = id;
				t->n = g16(m + p + 2);
				p += 4;
				for (size_t i = 0; i < t->n; i++) {
					uint16_t fid = g16(m + p);

					t->f[i].len = g16(m + p + 2);
					t->f[i].pen = 0;
					p += 4;
					if (out->version == 10 && (fid & 0x8000)) {
						t->f[i].pen = g32(m + p);
						p += 4;
					}
					/* v9 ids above 32767 are plain ids
					 * (33002); IPFIX: the enterprise bit */
					t->f[i].id = out->version == 10
							     ? fid & 0x7fff
							     : fid;
				}
				out->n_tmpl_records++;
			}
		} else if (sid >= 256) {
			struct dtmpl *t = find_tmpl(sid);

			if (!t)
				return -1; /* data before its template */
			while (p < end) {
				struct drec *r = &out->rec[out->n_rec];
				size_t q = p;

				r->tid = sid;
				r->n = t->n;
				for (size_t i = 0; i < t->n; i++) {
					size_t l = t->f[i].len;

					if (l == 0xffff) {
						l = m[q++];
						if (l == 255) {
							l = g16(m + q);
							q += 2;
						}
					}
					if (q + l > end)
						return -1;
					r->v[i] = (struct dval){t->f[i].id,
								 t->f[i].pen,
								 m + q, l};
					q += l;
				}
				p = q;
				out->n_rec++;
				/* v9: the rest may be padding */
				if (out->version == 9 && end - p < 4)
					break;
			}
		} else {
			return -1;
		}
		off = end;
	}
	if (out->version == 9 &&
	    out->count != out->n_rec + out->n_tmpl_records)
		return -1;
	return 0;
}

static const struct dval *val(const struct drec *r, uint16_t id, uint32_t pen)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].id == id && r->v[i].pen == pen)
			return &r->v[i];
	return NULL;
}

static uint64_t num(const struct drec *r, uint16_t id)
{
	const struct dval *v = val(r, id, 0);
	uint64_t x = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (size_t i = 0; i < v->len; i++)
		x = x << 8 | v->p[i];
	return x;
}

static int str_is(const struct drec *r, uint16_t id, const char *s)
{
	const struct dval *v = val(r, id, ZW_TM_DEFAULT_PEN);

	return v && v->len == strlen(s) && !memcmp(v->p, s, v->len);
}

/* ---- records ---- */

static uint8_t sha[32];

static struct zw_tm_record rec4(uint16_t sport)
{
	struct zw_tm_record r = {0};

	r.family = 4;
	r.proto = 6;
	r.fw_event = ZW_TM_FW_DELETED;
	r.end_reason = ZW_END_CLOSED;
	inet_pton(AF_INET, "10.1.0.5", r.src);
	inet_pton(AF_INET, "10.2.0.7", r.dst);
	r.sport = sport;
	r.dport = 22;
	r.ingress_if = 3;
	r.egress_if = 4;
	r.flow_index = 7;
	r.generation = 9;
	r.conn_id = 0x1122334455667788ull;
	r.packets = 12;
	r.octets = 3400;
	r.init_packets = 7;
	r.init_octets = 1400;
	r.resp_packets = 5;
	r.resp_octets = 2000;
	r.start_ms = 1700000000000ull;
	r.end_ms = 1700000001500ull;
	r.src_zone = "ops";
	r.dst_zone = "jump";
	r.flow_id = "OPS-001";
	r.drop_reason = "";
	r.l7_seen = "";
	r.image_sha256 = sha;
	return r;
}

static struct zw_tm_encoder *enc(enum zw_tm_format f, uint32_t refresh_s,
				 uint32_t refresh_msgs)
{
	struct zw_tm_encoder_opts o = {.format = f, .domain = 42,
				       .refresh_s = refresh_s,
				       .refresh_messages = refresh_msgs,
				       .max_message = 1400};
	struct zw_tm_encoder *e = zw_tm_encoder__new(&o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	return e;
}

static size_t one_message(struct zw_tm_encoder *e, const struct zw_tm_record *r,
			  size_t n, uint64_t now, struct dmsg *d)
{
	const uint8_t *m;
	size_t len, nrec;

	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(zw_tm_encoder__add(e, &r[i], now), 0);
	len = zw_tm_encoder__finish(e, &m, &nrec);
	CU_ASSERT_EQUAL(nrec, n);
	CU_ASSERT_EQUAL_FATAL(decode(m, len, d), 0);
	return len;
}

static void test_ipfix_roundtrip(void)
{
	struct zw_tm_encoder *e = enc(ZW_TM_IPFIX, 60, 0);
	struct zw_tm_record r[3];
	struct dmsg *d = calloc(1, sizeof(*d));
	const struct drec *x;

	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)i;
	n_tmpls = 0;
	r[0] = rec4(40000);
	r[1] = rec4(40001);
	r[1].family = 6;
	inet_pton(AF_INET6, "fd00:1::5", r[1].src);
	inet_pton(AF_INET6, "fd00:2::7", r[1].dst);
	r[2] = rec4(0);
	r[2].proto = 1;
	r[2].sport = r[2].dport = 0;
	r[2].icmp_type_code = 8 << 8;
	r[2].fw_event = ZW_TM_FW_DENIED;
	r[2].flow_index = ZW_TM_NO_FLOW;
	r[2].flow_id = "";
	r[2].drop_reason = "no-flow";
	r[1].fw_event = ZW_TM_FW_DENIED;
	r[1].drop_reason = "l7-mismatch";
	r[1].l7_seen = "http";
	one_message(e, r, 3, 1700000002000ull, d);
	CU_ASSERT_EQUAL(d->version, 10);
	CU_ASSERT_EQUAL(d->domain, 42);
	CU_ASSERT_EQUAL(d->seq, 0);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	CU_ASSERT_EQUAL_FATAL(d->n_rec, 3);
	x = &d->rec[0];
	CU_ASSERT_EQUAL(x->tid, ZW_TM_TEMPLATE_V4);
	CU_ASSERT_EQUAL(num(x, 148), 0x1122334455667788ull);
	CU_ASSERT_EQUAL(num(x, 8), 0x0a010005);
	CU_ASSERT_EQUAL(num(x, 12), 0x0a020007);
	CU_ASSERT_EQUAL(num(x, 7), 40000);
	CU_ASSERT_EQUAL(num(x, 11), 22);
	CU_ASSERT_EQUAL(num(x, 4), 6);
	CU_ASSERT_EQUAL(num(x, 1), 3400);
	CU_ASSERT_EQUAL(num(x, 2), 12);
	CU_ASSERT_EQUAL(num(x, 231), 1400);
	CU_ASSERT_EQUAL(num(x, 232), 2000);
	CU_ASSERT_EQUAL(num(x, 298), 7);
	CU_ASSERT_EQUAL(num(x, 299), 5);
	CU_ASSERT_EQUAL(num(x, 152), 1700000000000ull);
	CU_ASSERT_EQUAL(num(x, 153), 1700000001500ull);
	CU_ASSERT_EQUAL(num(x, 136), ZW_END_CLOSED);
	CU_ASSERT_EQUAL(num(x, 233), ZW_TM_FW_DELETED);
	CU_ASSERT_EQUAL(num(x, 10), 3);
	CU_ASSERT_EQUAL(num(x, 14), 4);
	CU_ASSERT(str_is(x, ZW_TM_IE_SRC_ZONE, "ops"));
	CU_ASSERT(str_is(x, ZW_TM_IE_DST_ZONE, "jump"));
	CU_ASSERT(str_is(x, ZW_TM_IE_FLOW_ID, "OPS-001"));
	CU_ASSERT(str_is(x, ZW_TM_IE_DROP_REASON, ""));
	CU_ASSERT(str_is(x, ZW_TM_IE_L7_SEEN, ""));
	CU_ASSERT_EQUAL(val(x, ZW_TM_IE_IMAGE_SHA256, ZW_TM_DEFAULT_PEN)->len, 32);
	CU_ASSERT(!memcmp(val(x, ZW_TM_IE_IMAGE_SHA256, ZW_TM_DEFAULT_PEN)->p,
			  sha, 32));
	x = &d->rec[1];
	CU_ASSERT_EQUAL(x->tid, ZW_TM_TEMPLATE_V6);
	CU_ASSERT_EQUAL(val(x, 27, 0)->len, 16);
	CU_ASSERT(!memcmp(val(x, 27, 0)->p, r[1].src, 16));
	CU_ASSERT(!memcmp(val(x, 28, 0)->p, r[1].dst, 16));
	CU_ASSERT(str_is(x, ZW_TM_IE_DROP_REASON, "l7-mismatch"));
	CU_ASSERT(str_is(x, ZW_TM_IE_L7_SEEN, "http"));
	x = &d->rec[2];
	CU_ASSERT_EQUAL(x->tid, ZW_TM_TEMPLATE_V4);
	CU_ASSERT_EQUAL(num(x, 32), 8 << 8);
	CU_ASSERT_EQUAL(num(x, 7), 0);
	CU_ASSERT_EQUAL(num(x, 233), ZW_TM_FW_DENIED);
	CU_ASSERT(str_is(x, ZW_TM_IE_DROP_REASON, "no-flow"));
	CU_ASSERT(str_is(x, ZW_TM_IE_FLOW_ID, ""));
	zw_tm_encoder__free(e);
	free(d);
}

static void test_sequence_and_refresh(void)
{
	struct zw_tm_encoder *e = enc(ZW_TM_IPFIX, 60, 3);
	struct zw_tm_record r[5];
	struct dmsg *d = calloc(1, sizeof(*d));
	uint64_t t0 = 1700000000000ull;

	n_tmpls = 0;
	for (int i = 0; i < 5; i++)
		r[i] = rec4((uint16_t)(1000 + i));
	/* msg 1: templates, seq 0; msgs 2, 3: none, seq 5, 6 */
	one_message(e, r, 5, t0, d);
	CU_ASSERT_EQUAL(d->seq, 0);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	one_message(e, r, 1, t0 + 1000, d);
	CU_ASSERT_EQUAL(d->seq, 5);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 0);
	one_message(e, r, 1, t0 + 2000, d);
	CU_ASSERT_EQUAL(d->seq, 6);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 0);
	/* 3 messages since: templates again */
	one_message(e, r, 2, t0 + 3000, d);
	CU_ASSERT_EQUAL(d->seq, 7);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	one_message(e, r, 1, t0 + 4000, d);
	CU_ASSERT_EQUAL(d->seq, 9);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 0);
	/* 60 s after the last templates */
	one_message(e, r, 1, t0 + 63000, d);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	CU_ASSERT_EQUAL(d->seq, 10);
	/* the collector may have lost them: again, same session */
	zw_tm_encoder__reset(e, false);
	one_message(e, r, 1, t0 + 64000, d);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	CU_ASSERT_EQUAL(d->seq, 11);
	/* a new session: sequence from 0 */
	zw_tm_encoder__reset(e, true);
	one_message(e, r, 1, t0 + 65000, d);
	CU_ASSERT_EQUAL(d->n_tmpl_records, 2);
	CU_ASSERT_EQUAL(d->seq, 0);
	zw_tm_encoder__free(e);
	free(d);
}

static void test_message_full(void)
{
	struct zw_tm_encoder *e = enc(ZW_TM_IPFIX, 60, 0);
	struct zw_tm_record r = rec4(1);
	struct dmsg *d = calloc(1, sizeof(*d));
	const uint8_t *m;
	size_t n = 0, len, nrec, total = 0;
	int rc;

	n_tmpls = 0;
	while ((rc = zw_tm_encoder__add(e, &r, 1)) == 0)
		n++;
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT(n > 5);
	CU_ASSERT_EQUAL(zw_tm_encoder__pending(e), n);
	len = zw_tm_encoder__finish(e, &m, &nrec);
	CU_ASSERT(len <= 1400);
	CU_ASSERT_EQUAL(nrec, n);
	CU_ASSERT_EQUAL(decode(m, len, d), 0);
	CU_ASSERT_EQUAL(d->n_rec, n);
	total += n;
	CU_ASSERT_EQUAL(zw_tm_encoder__add(e, &r, 2), 0);
	len = zw_tm_encoder__finish(e, &m, &nrec);
	CU_ASSERT_EQUAL(decode(m, len, d), 0);
	CU_ASSERT_EQUAL(d->seq, total);
	CU_ASSERT_EQUAL(zw_tm_encoder__finish(e, &m, &nrec), 0);
	zw_tm_encoder__free(e);
	free(d);
}

static void test_nsel(void)
{
	struct zw_tm_encoder *e = enc(ZW_TM_NSEL, 60, 0);
	struct zw_tm_record r[2];
	struct dmsg *d = calloc(1, sizeof(*d));
	const struct drec *x;
	const struct dval *acl;

	n_tmpls = 0;
	r[0] = rec4(40000);
	r[0].fw_event = ZW_TM_FW_CREATED;
	r[1] = rec4(40001);
	r[1].fw_event = ZW_TM_FW_DENIED;
	r[1].drop_reason = "no-flow";
	r[1].proto = 1;
	r[1].icmp_type_code = 8 << 8 | 3;
	one_message(e, r, 2, 1700000002000ull, d);
	CU_ASSERT_EQUAL(d->version, 9);
	CU_ASSERT_EQUAL(d->domain, 42);
	CU_ASSERT_EQUAL(d->seq, 0);
	CU_ASSERT_EQUAL(d->count, 4); /* 2 templates + 2 records */
	CU_ASSERT_EQUAL_FATAL(d->n_rec, 2);
	x = &d->rec[0];
	CU_ASSERT_EQUAL(num(x, 233), ZW_TM_FW_CREATED);
	CU_ASSERT_EQUAL(num(x, 33002), 0);
	CU_ASSERT_EQUAL(num(x, 148), 0x55667788u);
	CU_ASSERT_EQUAL(num(x, 231), 1400);
	CU_ASSERT_EQUAL(num(x, 299), 5);
	CU_ASSERT_EQUAL(num(x, 152), 1700000000000ull);
	CU_ASSERT_EQUAL(num(x, 323), 1700000001500ull);
	acl = val(x, 33000, 0);
	CU_ASSERT_EQUAL_FATAL(acl->len, 12);
	CU_ASSERT_EQUAL(g32(acl->p), 7);
	CU_ASSERT_EQUAL(g32(acl->p + 4), 9);
	x = &d->rec[1];
	CU_ASSERT_EQUAL(num(x, 233), ZW_TM_FW_DENIED);
	CU_ASSERT_EQUAL(num(x, 33002), 1001);
	CU_ASSERT_EQUAL(num(x, 176), 8);
	CU_ASSERT_EQUAL(num(x, 177), 3);
	/* v9 sequence numbers count packets */
	one_message(e, r, 1, 1700000003000ull, d);
	CU_ASSERT_EQUAL(d->seq, 1);
	CU_ASSERT_EQUAL(d->count, 1);
	zw_tm_encoder__free(e);
	free(d);
}

static void test_from_flow(void)
{
	struct zw_flow_record f = {0};
	struct zw_tm_record r;

	f.event = ZW_EV_END;
	f.family = 4;
	f.proto = 6;
	f.ts_ns = 5000000000ull;
	f.packets = 10;
	f.bytes = 1000;
	f.sport = 1;
	f.dport = 2;
	CU_ASSERT_EQUAL(zw_tm_record__from_flow(&r, &f, 1000), 0);
	CU_ASSERT_EQUAL(r.fw_event, ZW_TM_FW_DELETED);
	CU_ASSERT_EQUAL(r.end_ms, 6000);
	CU_ASSERT_EQUAL(r.start_ms, 6000); /* unknown: the end */
	CU_ASSERT_EQUAL(r.init_packets, 10); /* no split known */
	CU_ASSERT_EQUAL(r.resp_packets, 0);
	/* garbage in the extension is ignored without the flag */
	f.rev_packets = 99999;
	f.start_ns = 77;
	CU_ASSERT_EQUAL(zw_tm_record__from_flow(&r, &f, 1000), 0);
	CU_ASSERT_EQUAL(r.resp_packets, 0);
	f.flags = ZW_REC_F_EXT;
	f.rev_packets = 4;
	f.rev_bytes = 300;
	f.start_ns = 3000000000ull;
	f.end_reason = ZW_END_IDLE;
	CU_ASSERT_EQUAL(zw_tm_record__from_flow(&r, &f, 1000), 0);
	CU_ASSERT_EQUAL(r.init_packets, 6);
	CU_ASSERT_EQUAL(r.resp_packets, 4);
	CU_ASSERT_EQUAL(r.init_octets, 700);
	CU_ASSERT_EQUAL(r.resp_octets, 300);
	CU_ASSERT_EQUAL(r.start_ms, 4000);
	CU_ASSERT_EQUAL(r.end_reason, ZW_END_IDLE);
	f.event = ZW_EV_DROP;
	f.reason = ZW_DROP_NO_FLOW;
	CU_ASSERT_EQUAL(zw_tm_record__from_flow(&r, &f, 0), 0);
	CU_ASSERT_EQUAL(r.fw_event, ZW_TM_FW_DENIED);
	CU_ASSERT_STRING_EQUAL(r.drop_reason, "no-flow");
	CU_ASSERT_EQUAL(r.packets, 1);
	f.event = 77;
	CU_ASSERT_EQUAL(zw_tm_record__from_flow(&r, &f, 0), -EINVAL);
}

static size_t n_out;
static uint64_t sum_out;

static void count_out(void *ctx, const struct zw_tm_denial *dn)
{
	(void)ctx;
	n_out++;
	sum_out += dn->count;
}

static void test_aggregation(void)
{
	struct zw_tm_agg *a = zw_tm_agg__new(4, 1000);
	struct zw_flow_record f = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	f.event = ZW_EV_DROP;
	f.family = 4;
	f.proto = 6;
	f.dport = 23;
	f.src[0] = 10;
	f.dst[0] = 11;
	/* a flood from one source to one port: one key */
	for (int i = 0; i < 10000; i++) {
		f.sport = (uint16_t)i; /* source ports do not split keys */
		CU_ASSERT_EQUAL(zw_tm_agg__add(a, &f, NULL, 100), 0);
	}
	CU_ASSERT_EQUAL(zw_tm_agg__size(a), 1);
	/* a scan of ports: one key each, bounded by the table */
	for (int p = 1; p <= 10; p++) {
		f.dport = (uint16_t)p;
		zw_tm_agg__add(a, &f, NULL, 200);
	}
	CU_ASSERT_EQUAL(zw_tm_agg__size(a), 4);
	CU_ASSERT_EQUAL(zw_tm_agg__overflow(a), 7);
	/* nothing before the window has passed */
	n_out = sum_out = 0;
	CU_ASSERT_EQUAL(zw_tm_agg__flush(a, 1099, false, count_out, NULL), 0);
	CU_ASSERT_EQUAL(zw_tm_agg__flush(a, 1100, false, count_out, NULL), 1);
	CU_ASSERT_EQUAL(sum_out, 10000);
	CU_ASSERT_EQUAL(zw_tm_agg__size(a), 3);
	/* an aggregated record adds its count */
	f.dport = 1;
	f.event = ZW_EV_DENIED_AGG;
	f.packets = 50;
	CU_ASSERT_EQUAL(zw_tm_agg__add(a, &f, NULL, 1100), 0);
	CU_ASSERT_EQUAL(zw_tm_agg__flush(a, 1100, true, count_out, NULL), 3);
	CU_ASSERT_EQUAL(sum_out, 10000 + 51 + 1 + 1);
	CU_ASSERT_EQUAL(zw_tm_agg__size(a), 0);
	zw_tm_agg__free(a);
}

/* ---- exporters ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int free_port(int type)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, type, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &l);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int bind_port(int type, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, type, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_udp_down_up(void)
{
	int port = free_port(SOCK_DGRAM), fd;
	char url[64], err[256];
	struct zw_tm_exporter_opts o = {.url = url, .domain = 7};
	struct zw_tm_exporter *x;
	struct zw_tm_exporter_stats st;
	struct zw_tm_record r = rec4(1);
	struct dmsg *d = calloc(1, sizeof(*d));
	uint8_t buf[2000];
	ssize_t n;
	int got_tpl = 0, msgs = 0;

	snprintf(url, sizeof(url), "udp://127.0.0.1:%d", port);
	x = zw_tm_exporter__new(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	/* collector down: ICMP port unreachable makes sends fail */
	for (int i = 0; i < 6; i++) {
		zw_tm_exporter__add(x, &r, now_ms());
		zw_tm_exporter__tick(x, now_ms());
		usleep(20000);
	}
	zw_tm_exporter__stats(x, &st);
	CU_ASSERT(st.dropped[ZW_TM_DROP_DOWN] >= 1);
	CU_ASSERT_EQUAL(st.records_sent + st.records_dropped, 6);
	/* collector up: export resumes, the templates come first */
	fd = bind_port(SOCK_DGRAM, port);
	n_tmpls = 0;
	for (int i = 0; i < 3; i++) {
		zw_tm_exporter__add(x, &r, now_ms());
		zw_tm_exporter__tick(x, now_ms());
		usleep(20000);
	}
	zw_tm_exporter__stats(x, &st);
	CU_ASSERT_EQUAL(st.state, ZW_TM_UP);
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (msgs++ == 0) {
			CU_ASSERT_EQUAL(decode(buf, (size_t)n, d), 0);
			got_tpl = d->n_tmpl_records == 2;
		}
	}
	CU_ASSERT(msgs >= 2);
	CU_ASSERT(got_tpl);
	close(fd);
	zw_tm_exporter__free(x);
	free(d);
}

static void test_tcp_stops_reading(void)
{
	int port = free_port(SOCK_STREAM), lfd, cfd;
	char url[64], err[256];
	struct zw_tm_exporter_opts o = {.url = url, .queue_bytes = 65536,
					.backoff_min_ms = 50,
					.backoff_max_ms = 200};
	struct zw_tm_exporter *x;
	struct zw_tm_exporter_stats st;
	struct zw_tm_record r = rec4(1);
	uint64_t t0, worst = 0;

	lfd = bind_port(SOCK_STREAM, port);
	listen(lfd, 4);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	x = zw_tm_exporter__new(&o, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	for (int i = 0; i < 50; i++) {
		zw_tm_exporter__tick(x, now_ms());
		zw_tm_exporter__stats(x, &st);
		if (st.state == ZW_TM_UP)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL_FATAL(st.state, ZW_TM_UP);
	cfd = accept(lfd, NULL, NULL);
	/* the collector never reads: the kernel buffers fill, then ours;
	 * no call waits */
	for (int i = 0; i < 200000; i++) {
		t0 = now_ms();
		zw_tm_exporter__add(x, &r, t0);
		if (i % 100 == 0)
			zw_tm_exporter__tick(x, t0);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
	}
	zw_tm_exporter__stats(x, &st);
	CU_ASSERT(st.dropped[ZW_TM_DROP_QUEUE_FULL] > 0);
	CU_ASSERT(st.records_sent > 0);
	CU_ASSERT(worst < 100);
	/* the collector goes away: down, counted, then reconnects */
	close(cfd);
	for (int i = 0; i < 50 && st.state == ZW_TM_UP; i++) {
		zw_tm_exporter__tick(x, now_ms());
		zw_tm_exporter__stats(x, &st);
		usleep(10000);
	}
	CU_ASSERT_EQUAL(st.state, ZW_TM_DOWN);
	CU_ASSERT(st.dropped[ZW_TM_DROP_DOWN] > 0);
	CU_ASSERT_EQUAL(zw_tm_exporter__add(x, &r, now_ms()), -ENOTCONN);
	for (int i = 0; i < 100 && st.connects < 2; i++) {
		zw_tm_exporter__tick(x, now_ms());
		zw_tm_exporter__stats(x, &st);
		usleep(10000);
	}
	CU_ASSERT_EQUAL(st.connects, 2);
	close(lfd);
	zw_tm_exporter__free(x);
}

static void test_urls(void)
{
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("udp://127.0.0.1:4739"), 0);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("tcp://collector:4739"), 0);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("nsel+udp://[::1]:2055"), 0);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("10.0.0.1:4739"), 0);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("sctp://h:1"), -EINVAL);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("h"), -EINVAL);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("h:0"), -EINVAL);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("h:70000"), -EINVAL);
	CU_ASSERT_EQUAL(zw_tm_exporter__check_url("[::1:4739"), -EINVAL);
}

int main(void)
{
	CU_pSuite s;
	unsigned f;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("telemetry", NULL, NULL);
	CU_add_test(s, "ipfix roundtrip", test_ipfix_roundtrip);
	CU_add_test(s, "sequence and template refresh", test_sequence_and_refresh);
	CU_add_test(s, "message full", test_message_full);
	CU_add_test(s, "netflow v9 nsel", test_nsel);
	CU_add_test(s, "from engine record", test_from_flow);
	CU_add_test(s, "denial aggregation", test_aggregation);
	CU_add_test(s, "urls", test_urls);
	CU_add_test(s, "udp collector down then up", test_udp_down_up);
	CU_add_test(s, "tcp collector stops reading", test_tcp_stops_reading);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	f = CU_get_number_of_failures();
	CU_cleanup_registry();
	return f ? 1 : 0;
}
