/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one encoder of flow records: IPFIX (RFC 7011) and NetFlow v9 with
 * NSEL fields (RFC 3954 framing, Cisco ASA element ids). Both share the
 * record model and differ in framing (headers, set ids, padding), in the
 * element lists (tables below) and in what a sequence number counts. The
 * tables are the templates of docs/telemetry.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/telemetry.h>

#include "wire.h"

/* How a field's value is taken from a record. */
enum fkind {
	K_CONN_ID,
	K_SRC,
	K_DST,
	K_SPORT,
	K_DPORT,
	K_PROTO,
	K_ICMP_TC,   /* type << 8 | code, 2 bytes */
	K_ICMP_TYPE, /* 1 byte */
	K_ICMP_CODE, /* 1 byte */
	K_OCTETS,
	K_PACKETS,
	K_INIT_OCT,
	K_RESP_OCT,
	K_INIT_PKT,
	K_RESP_PKT,
	K_START,
	K_END,
	K_EVENT_TIME,
	K_END_REASON,
	K_FW_EVENT,
	K_FW_XEVENT,
	K_ACL,
	K_IN_IF,
	K_OUT_IF,
	K_E_SRC_ZONE, /* enterprise, variable length */
	K_E_DST_ZONE,
	K_E_FLOW_ID,
	K_E_REASON,
	K_E_SHA,
	K_E_L7_SEEN,
};

struct field {
	uint16_t id;  /* element id (enterprise ids: under the PEN) */
	uint16_t len; /* octets; 0xffff = variable (IPFIX only) */
	uint8_t kind; /* enum fkind */
	uint8_t ent;  /* enterprise-specific */
};

#define VAR 0xffff
#define F(id, len, k) {(id), (len), (k), 0}
#define E(id, len, k) {(id), (len), (k), 1}

/* IPFIX, IPv4 (template 256) and IPv6 (257): IANA ids, then ours. */
static const struct field ipfix4[] = {
	F(148, 8, K_CONN_ID),	 F(8, 4, K_SRC),	 F(12, 4, K_DST),
	F(7, 2, K_SPORT),	 F(11, 2, K_DPORT),	 F(4, 1, K_PROTO),
	F(32, 2, K_ICMP_TC),	 F(1, 8, K_OCTETS),	 F(2, 8, K_PACKETS),
	F(231, 8, K_INIT_OCT),	 F(232, 8, K_RESP_OCT),	 F(298, 8, K_INIT_PKT),
	F(299, 8, K_RESP_PKT),	 F(152, 8, K_START),	 F(153, 8, K_END),
	F(136, 1, K_END_REASON), F(233, 1, K_FW_EVENT),	 F(10, 4, K_IN_IF),
	F(14, 4, K_OUT_IF),
	E(ZW_TM_IE_SRC_ZONE, VAR, K_E_SRC_ZONE),
	E(ZW_TM_IE_DST_ZONE, VAR, K_E_DST_ZONE),
	E(ZW_TM_IE_FLOW_ID, VAR, K_E_FLOW_ID),
	E(ZW_TM_IE_DROP_REASON, VAR, K_E_REASON),
	E(ZW_TM_IE_IMAGE_SHA256, 32, K_E_SHA),
	E(ZW_TM_IE_L7_SEEN, VAR, K_E_L7_SEEN),
};
static const struct field ipfix6[] = {
	F(148, 8, K_CONN_ID),	 F(27, 16, K_SRC),	 F(28, 16, K_DST),
	F(7, 2, K_SPORT),	 F(11, 2, K_DPORT),	 F(4, 1, K_PROTO),
	F(139, 2, K_ICMP_TC),	 F(1, 8, K_OCTETS),	 F(2, 8, K_PACKETS),
	F(231, 8, K_INIT_OCT),	 F(232, 8, K_RESP_OCT),	 F(298, 8, K_INIT_PKT),
	F(299, 8, K_RESP_PKT),	 F(152, 8, K_START),	 F(153, 8, K_END),
	F(136, 1, K_END_REASON), F(233, 1, K_FW_EVENT),	 F(10, 4, K_IN_IF),
	F(14, 4, K_OUT_IF),
	E(ZW_TM_IE_SRC_ZONE, VAR, K_E_SRC_ZONE),
	E(ZW_TM_IE_DST_ZONE, VAR, K_E_DST_ZONE),
	E(ZW_TM_IE_FLOW_ID, VAR, K_E_FLOW_ID),
	E(ZW_TM_IE_DROP_REASON, VAR, K_E_REASON),
	E(ZW_TM_IE_IMAGE_SHA256, 32, K_E_SHA),
	E(ZW_TM_IE_L7_SEEN, VAR, K_E_L7_SEEN),
};
/* NetFlow v9 + NSEL: fixed lengths only (v9 has neither variable-length
 * nor enterprise elements); ids as nfdump and Wireshark read them:
 * NF_F_CONN_ID 148, NF_F_ICMP_TYPE/CODE 176/177 (v6: 178/179),
 * NF_F_FWD/REV_FLOW_DELTA_BYTES 231/232, initiator/responder packets
 * 298/299, NF_F_FLOW_CREATE/END_TIME_MSEC 152/153, NF_F_EVENT_TIME_MSEC
 * 323, NF_F_FW_EVENT 233, NF_F_FW_EXT_EVENT 33002, NF_F_INGRESS_ACL_ID
 * 33000 (12 bytes: the flow index, the policy generation, 0). */
static const struct field nsel4[] = {
	F(148, 4, K_CONN_ID),	 F(8, 4, K_SRC),	 F(12, 4, K_DST),
	F(7, 2, K_SPORT),	 F(11, 2, K_DPORT),	 F(4, 1, K_PROTO),
	F(176, 1, K_ICMP_TYPE),	 F(177, 1, K_ICMP_CODE), F(10, 4, K_IN_IF),
	F(14, 4, K_OUT_IF),	 F(231, 8, K_INIT_OCT),	 F(232, 8, K_RESP_OCT),
	F(298, 8, K_INIT_PKT),	 F(299, 8, K_RESP_PKT),	 F(152, 8, K_START),
	F(153, 8, K_END),	 F(323, 8, K_EVENT_TIME), F(233, 1, K_FW_EVENT),
	F(33002, 2, K_FW_XEVENT), F(33000, 12, K_ACL),	 F(136, 1, K_END_REASON),
};
static const struct field nsel6[] = {
	F(148, 4, K_CONN_ID),	 F(27, 16, K_SRC),	 F(28, 16, K_DST),
	F(7, 2, K_SPORT),	 F(11, 2, K_DPORT),	 F(4, 1, K_PROTO),
	F(178, 1, K_ICMP_TYPE),	 F(179, 1, K_ICMP_CODE), F(10, 4, K_IN_IF),
	F(14, 4, K_OUT_IF),	 F(231, 8, K_INIT_OCT),	 F(232, 8, K_RESP_OCT),
	F(298, 8, K_INIT_PKT),	 F(299, 8, K_RESP_PKT),	 F(152, 8, K_START),
	F(153, 8, K_END),	 F(323, 8, K_EVENT_TIME), F(233, 1, K_FW_EVENT),
	F(33002, 2, K_FW_XEVENT), F(33000, 12, K_ACL),	 F(136, 1, K_END_REASON),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct tmpl {
	uint16_t id;
	const struct field *f;
	size_t n;
};

static const struct tmpl templates[2][2] = {
	[ZW_TM_IPFIX] = {{ZW_TM_TEMPLATE_V4, ipfix4, N(ipfix4)},
			 {ZW_TM_TEMPLATE_V6, ipfix6, N(ipfix6)}},
	[ZW_TM_NSEL] = {{ZW_TM_TEMPLATE_V4, nsel4, N(nsel4)},
			{ZW_TM_TEMPLATE_V6, nsel6, N(nsel6)}},
};

#define IPFIX_HDR 16
#define V9_HDR 20
#define MAX_STR 254 /* one-byte IPFIX length prefix */

struct zw_tm_encoder {
	struct zw_tm_encoder_opts o;
	uint8_t *buf;
	size_t len;	     /* bytes in the open message, 0: none open */
	size_t n_rec;	     /* data records in it */
	size_t n_v9_records; /* v9 header count: templates + data */
	size_t set_off;	     /* open data set's header, 0: none */
	uint16_t set_tid;
	uint64_t open_ms;     /* when the open message was opened */
	uint32_t seq;	      /* IPFIX: data records sent; v9: packets */
	uint64_t first_ms;    /* v9 sysUptime origin */
	bool tpl_due;
	uint64_t last_tpl_ms;
	uint32_t msgs_since_tpl;
};

struct zw_tm_encoder *zw_tm_encoder__new(const struct zw_tm_encoder_opts *o)
{
	struct zw_tm_encoder *e;

	if (!o || o->format > ZW_TM_NSEL || o->max_message < 512 ||
	    o->max_message > 65535) {
		errno = EINVAL;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->o = *o;
	if (!e->o.pen)
		e->o.pen = ZW_TM_DEFAULT_PEN;
	e->buf = malloc(o->max_message);
	if (!e->buf) {
		free(e);
		return NULL;
	}
	e->tpl_due = true;
	return e;
}

void zw_tm_encoder__free(struct zw_tm_encoder *e)
{
	if (!e)
		return;
	free(e->buf);
	free(e);
}

void zw_tm_encoder__reset(struct zw_tm_encoder *e, bool new_session)
{
	e->len = e->n_rec = e->n_v9_records = e->set_off = 0;
	e->tpl_due = true;
	if (new_session)
		e->seq = 0;
}

size_t zw_tm_encoder__pending(const struct zw_tm_encoder *e)
{
	return e->len ? e->n_rec : 0;
}

static size_t slen(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > MAX_STR ? MAX_STR : n;
}

static size_t record_size(const struct tmpl *t, const struct zw_tm_record *r)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (t->f[i].len != VAR) {
			n += t->f[i].len;
			continue;
		}
		switch (t->f[i].kind) {
		case K_E_SRC_ZONE: n += 1 + slen(r->src_zone); break;
		case K_E_DST_ZONE: n += 1 + slen(r->dst_zone); break;
		case K_E_FLOW_ID: n += 1 + slen(r->flow_id); break;
		case K_E_L7_SEEN: n += 1 + slen(r->l7_seen); break;
		default: n += 1 + slen(r->drop_reason); break;
		}
	}
	return n;
}

static void put_templates(struct zw_tm_encoder *e)
{
	size_t start = e->len;
	uint8_t *p = e->buf + e->len + 4;

	for (int v = 0; v < 2; v++) {
		const struct tmpl *t = &templates[e->o.format][v];

		p = zw_put16(p, t->id);
		p = zw_put16(p, (uint16_t)t->n);
		for (size_t i = 0; i < t->n; i++) {
			p = zw_put16(p, (uint16_t)(t->f[i].id |
						   (t->f[i].ent ? 0x8000 : 0)));
			p = zw_put16(p, t->f[i].len);
			if (t->f[i].ent)
				p = zw_put32(p, e->o.pen);
		}
		e->n_v9_records++;
	}
	e->len = (size_t)(p - e->buf);
	/* set id: IPFIX template set 2, v9 template flowset 0 */
	zw_put16(e->buf + start, e->o.format == ZW_TM_IPFIX ? 2 : 0);
	zw_put16(e->buf + start + 2, (uint16_t)(e->len - start));
}

static void close_set(struct zw_tm_encoder *e)
{
	if (!e->set_off)
		return;
	if (e->o.format == ZW_TM_NSEL)
		while ((e->len - e->set_off) % 4)
			e->buf[e->len++] = 0; /* v9: flowsets end 4-aligned */
	zw_put16(e->buf + e->set_off + 2, (uint16_t)(e->len - e->set_off));
	e->set_off = 0;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
	size_t n = slen(s);

	*p++ = (uint8_t)n;
	if (n)
		memcpy(p, s, n);
	return p + n;
}

/* NF_F_FW_EXT_EVENT: 1001 denied by an ingress ACL (no flow allows it),
 * 1004 first packet not a SYN; 0 (no extended event) otherwise. */
static uint16_t xevent(const struct zw_tm_record *r)
{
	if (r->fw_event != ZW_TM_FW_DENIED)
		return 0;
	if (r->drop_reason && !strcmp(r->drop_reason, "not-syn"))
		return 1004;
	return 1001;
}

static uint8_t *put_record(const struct zw_tm_encoder *e, const struct tmpl *t,
			   uint8_t *p, const struct zw_tm_record *r)
{
	bool icmp = r->proto == 1 || r->proto == 58;
	size_t alen = r->family == 6 ? 16 : 4;

	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->f[i];

		switch (f->kind) {
		case K_CONN_ID:
			p = f->len == 8 ? zw_put64(p, r->conn_id)
					: zw_put32(p, (uint32_t)r->conn_id);
			break;
		case K_SRC: memcpy(p, r->src, alen); p += alen; break;
		case K_DST: memcpy(p, r->dst, alen); p += alen; break;
		case K_SPORT: p = zw_put16(p, r->sport); break;
		case K_DPORT: p = zw_put16(p, r->dport); break;
		case K_PROTO: *p++ = r->proto; break;
		case K_ICMP_TC: p = zw_put16(p, icmp ? r->icmp_type_code : 0); break;
		case K_ICMP_TYPE: *p++ = icmp ? (uint8_t)(r->icmp_type_code >> 8) : 0; break;
		case K_ICMP_CODE: *p++ = icmp ? (uint8_t)r->icmp_type_code : 0; break;
		case K_OCTETS: p = zw_put64(p, r->octets); break;
		case K_PACKETS: p = zw_put64(p, r->packets); break;
		case K_INIT_OCT: p = zw_put64(p, r->init_octets); break;
		case K_RESP_OCT: p = zw_put64(p, r->resp_octets); break;
		case K_INIT_PKT: p = zw_put64(p, r->init_packets); break;
		case K_RESP_PKT: p = zw_put64(p, r->resp_packets); break;
		case K_START: p = zw_put64(p, r->start_ms); break;
		case K_END: p = zw_put64(p, r->end_ms); break;
		case K_EVENT_TIME: p = zw_put64(p, r->end_ms); break;
		case K_END_REASON: *p++ = r->end_reason; break;
		case K_FW_EVENT: *p++ = r->fw_event; break;
		case K_FW_XEVENT: p = zw_put16(p, xevent(r)); break;
		case K_ACL:
			p = zw_put32(p, r->flow_index);
			p = zw_put32(p, r->generation);
			p = zw_put32(p, 0);
			break;
		case K_IN_IF: p = zw_put32(p, r->ingress_if); break;
		case K_OUT_IF: p = zw_put32(p, r->egress_if); break;
		case K_E_SRC_ZONE: p = put_str(p, r->src_zone); break;
		case K_E_DST_ZONE: p = put_str(p, r->dst_zone); break;
		case K_E_FLOW_ID: p = put_str(p, r->flow_id); break;
		case K_E_REASON: p = put_str(p, r->drop_reason); break;
		case K_E_L7_SEEN: p = put_str(p, r->l7_seen); break;
		case K_E_SHA:
			if (r->image_sha256)
				memcpy(p, r->image_sha256, 32);
			else
				memset(p, 0, 32);
			p += 32;
			break;
		}
	}
	(void)e;
	return p;
}

static bool templates_due(const struct zw_tm_encoder *e, uint64_t now_ms)
{
	if (e->tpl_due)
		return true;
	if (e->o.refresh_s && now_ms - e->last_tpl_ms >= e->o.refresh_s * 1000ull)
		return true;
	return e->o.refresh_messages && e->msgs_since_tpl >= e->o.refresh_messages;
}

int zw_tm_encoder__add(struct zw_tm_encoder *e, const struct zw_tm_record *r,
		       uint64_t now_ms)
{
	const struct tmpl *t = &templates[e->o.format][r->family == 6 ? 1 : 0];
	size_t hdr = e->o.format == ZW_TM_IPFIX ? IPFIX_HDR : V9_HDR;
	size_t need = record_size(t, r) + 4 + 3; /* a set header, v9 pad */
	bool tpl;

	if (!e->len) {
		if (hdr + need > e->o.max_message)
			return -EMSGSIZE;
		/* When templates and record do not fit together, the
		 * templates go alone (the record gets -ENOSPC: next message). */
		tpl = templates_due(e, now_ms);
		if (!e->first_ms)
			e->first_ms = now_ms;
		e->len = hdr;
		e->n_rec = e->n_v9_records = 0;
		e->set_off = 0;
		e->open_ms = now_ms;
		if (tpl) {
			put_templates(e);
			e->tpl_due = false;
			e->last_tpl_ms = now_ms;
			e->msgs_since_tpl = 0;
		}
	}
	if (e->set_off && e->set_tid != t->id)
		close_set(e);
	if (e->len + need > e->o.max_message)
		return -ENOSPC; /* the message holds records or templates */
	if (!e->set_off) {
		e->set_off = e->len;
		e->set_tid = t->id;
		zw_put16(e->buf + e->len, t->id);
		e->len += 4;
	}
	e->len = (size_t)(put_record(e, t, e->buf + e->len, r) - e->buf);
	e->n_rec++;
	e->n_v9_records++;
	return 0;
}

size_t zw_tm_encoder__finish(struct zw_tm_encoder *e, const uint8_t **msg,
			     size_t *n_records)
{
	size_t len = e->len;
	uint8_t *p = e->buf;

	*n_records = 0;
	*msg = NULL;
	if (!len)
		return 0;
	close_set(e);
	len = e->len;
	if (e->o.format == ZW_TM_IPFIX) {
		p = zw_put16(p, 10);
		p = zw_put16(p, (uint16_t)len);
		p = zw_put32(p, (uint32_t)(e->open_ms / 1000));
		p = zw_put32(p, e->seq);
		zw_put32(p, e->o.domain);
		e->seq += (uint32_t)e->n_rec;
	} else {
		p = zw_put16(p, 9);
		p = zw_put16(p, (uint16_t)e->n_v9_records);
		p = zw_put32(p, (uint32_t)(e->open_ms - e->first_ms));
		p = zw_put32(p, (uint32_t)(e->open_ms / 1000));
		p = zw_put32(p, e->seq++);
		zw_put32(p, e->o.domain);
	}
	*n_records = e->n_rec;
	*msg = e->buf;
	e->msgs_since_tpl++;
	e->len = 0;
	e->n_rec = 0;
	return len;
}
