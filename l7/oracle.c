// SPDX-License-Identifier: BSD-2-Clause
/*
 * The reference evaluator with payloads: zw_eval__image() for the
 * connection, then the conformance of the first bytes to the service's
 * protocol and the crisis block-file measures of its zone pair. Kept
 * simple on purpose: one connection object fed each direction's bytes as
 * one packet.
 */
#include <errno.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "l7_priv.h"

uint32_t zw_l7__blocked_types(const struct zw_image *img, uint32_t from,
			      uint32_t to)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < img->n_fileblock; i++) {
		const struct zw_img_fileblock *fb = &img->fileblock[i];

		if ((fb->from == ZW_FILEBLOCK_ANY || fb->from == from) &&
		    (fb->to == ZW_FILEBLOCK_ANY || fb->to == to))
			m |= fb->types;
	}
	return m & ZW_FT_ALL;
}

int zw_l7__service_proto(const struct zw_image *img, uint32_t service)
{
	if (service >= img->n_services || !img->services[service].inspect)
		return -1;
	return zw_l7_proto__find(
		zw_image__str(img, img->services[service].inspect));
}

static unsigned l3_reason(enum zw_verdict_reason r)
{
	switch (r) {
	case ZW_VERDICT_ISOLATED:
		return ZW_DROP_ISOLATED;
	case ZW_VERDICT_BLOCKED:
		return ZW_DROP_BLOCKED;
	default:
		return ZW_DROP_NO_FLOW;
	}
}

int zw_l7__eval(const struct zw_image *img, struct zw_l7_db *db,
		const struct zw_query *q, const void *c2s, size_t c2s_len,
		const void *s2c, size_t s2c_len, struct zw_l7_result *out)
{
	struct zw_verdict v;
	struct zw_l7_conn *c;

	memset(out, 0, sizeof(*out));
	out->proto = out->seen = out->ftype = -1;
	zw_eval__image(img, q, &v);
	out->flow = v.flow;
	if (!v.allow) {
		out->reason = l3_reason(v.reason);
		return 0;
	}
	out->allow = true;
	if (v.reason == ZW_VERDICT_FLOW)
		out->proto = zw_l7__service_proto(img, v.service);
	out->ftypes = q->proto == 6 ? zw_l7__blocked_types(img, v.src_zone,
							   v.dst_zone)
				    : 0;
	if (out->proto < 0 && !out->ftypes) {
		out->l7 = ZW_L7_PASS;
		return 0;
	}
	c = zw_l7_conn__new(db, out->proto, q->proto, out->ftypes);
	if (!c)
		return -errno;
	zw_l7_conn__feed(c, ZW_L7_C2S, c2s, c2s_len);
	zw_l7_conn__feed(c, ZW_L7_S2C, s2c, s2c_len);
	out->l7 = zw_l7_conn__verdict(c);
	out->seen = zw_l7_conn__seen(c);
	out->ftype = zw_l7_conn__ftype(c);
	if (out->l7 == ZW_L7_MISMATCH) {
		out->allow = false;
		out->reason = ZW_DROP_L7_MISMATCH;
	} else if (out->l7 == ZW_L7_FILE) {
		out->allow = false;
		out->reason = ZW_DROP_FILE_TYPE;
	}
	zw_l7_conn__free(c);
	return 0;
}
