// SPDX-License-Identifier: BSD-2-Clause
/* rte_acl layouts and build (see acl_layout.h). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>

#include "acl_layout.h"
#include "rules.h"

#define F(t, sz, fi, ii, off)                                                 \
	{ .type = RTE_ACL_FIELD_TYPE_##t, .size = sz, .field_index = fi,       \
	  .input_index = ii, .offset = off }

const struct rte_acl_field_def zw_acl4_defs[ZW_ACL4_FIELDS] = {
	F(BITMASK, 1, 0, 0, offsetof(struct zw_acl4_in, proto)),
	F(BITMASK, 2, 1, 1, offsetof(struct zw_acl4_in, szone)),
	F(BITMASK, 2, 2, 1, offsetof(struct zw_acl4_in, dzone)),
	F(MASK, 4, 3, 2, offsetof(struct zw_acl4_in, src)),
	F(MASK, 4, 4, 3, offsetof(struct zw_acl4_in, dst)),
	F(RANGE, 2, 5, 4, offsetof(struct zw_acl4_in, any)),
	F(RANGE, 2, 6, 4, offsetof(struct zw_acl4_in, dport)),
};

#define SRC6(i) F(MASK, 4, 3 + (i), 2 + (i), offsetof(struct zw_acl6_in, src) + 4 * (i))
#define DST6(i) F(MASK, 4, 7 + (i), 6 + (i), offsetof(struct zw_acl6_in, dst) + 4 * (i))

const struct rte_acl_field_def zw_acl6_defs[ZW_ACL6_FIELDS] = {
	F(BITMASK, 1, 0, 0, offsetof(struct zw_acl6_in, proto)),
	F(BITMASK, 2, 1, 1, offsetof(struct zw_acl6_in, szone)),
	F(BITMASK, 2, 2, 1, offsetof(struct zw_acl6_in, dzone)),
	SRC6(0), SRC6(1), SRC6(2), SRC6(3),
	DST6(0), DST6(1), DST6(2), DST6(3),
	F(RANGE, 2, 11, 10, offsetof(struct zw_acl6_in, any)),
	F(RANGE, 2, 12, 10, offsetof(struct zw_acl6_in, dport)),
};

static void common(struct rte_acl_field *f, struct rte_acl_rule_data *d,
		   const struct zw_acl_rule *r)
{
	d->category_mask = 1;
	d->priority = (int32_t)r->priority;
	d->userdata = r->rule + 1;
	f[0].value.u8 = r->proto;
	f[0].mask_range.u8 = 0xff;
	f[1].value.u16 = r->src_zone;
	f[1].mask_range.u16 = 0xffff;
	f[2].value.u16 = r->dst_zone;
	f[2].mask_range.u16 = 0xffff;
}

static uint32_t word(const uint8_t *a, int i)
{
	return (uint32_t)a[4 * i] << 24 | (uint32_t)a[4 * i + 1] << 16 |
	       (uint32_t)a[4 * i + 2] << 8 | a[4 * i + 3];
}

void zw_acl4_rule__fill(struct zw_acl4_rule *out, const struct zw_acl_rule *r)
{
	memset(out, 0, sizeof(*out));
	common(out->field, &out->data, r);
	out->field[3].value.u32 = word(r->src, 0);
	out->field[3].mask_range.u32 = r->src_len;
	out->field[4].value.u32 = word(r->dst, 0);
	out->field[4].mask_range.u32 = r->dst_len;
	out->field[5].value.u16 = 0;
	out->field[5].mask_range.u16 = 0xffff;
	out->field[6].value.u16 = r->lo;
	out->field[6].mask_range.u16 = r->hi;
}

static uint32_t part(unsigned len, int i)
{
	int l = (int)len - 32 * i;

	return l <= 0 ? 0 : l >= 32 ? 32 : (uint32_t)l;
}

void zw_acl6_rule__fill(struct zw_acl6_rule *out, const struct zw_acl_rule *r)
{
	int i;

	memset(out, 0, sizeof(*out));
	common(out->field, &out->data, r);
	for (i = 0; i < 4; i++) {
		out->field[3 + i].value.u32 = word(r->src, i);
		out->field[3 + i].mask_range.u32 = part(r->src_len, i);
		out->field[7 + i].value.u32 = word(r->dst, i);
		out->field[7 + i].mask_range.u32 = part(r->dst_len, i);
	}
	out->field[11].value.u16 = 0;
	out->field[11].mask_range.u16 = 0xffff;
	out->field[12].value.u16 = r->lo;
	out->field[12].mask_range.u16 = r->hi;
}

struct rte_acl_ctx *zw_acl__build(const char *name, int socket, uint8_t family,
				  const struct zw_acl_rule *rules, size_t n)
{
	struct rte_acl_param prm = {
		.name = name,
		.socket_id = socket,
		.max_rule_num = (uint32_t)n,
	};
	struct rte_acl_config cfg = { .num_categories = 1 };
	struct rte_acl_ctx *acl;
	size_t i;
	int rc;

	if (!n) {
		rte_errno = ENOENT;
		return NULL;
	}
	if (family == 4) {
		prm.rule_size = RTE_ACL_RULE_SZ(ZW_ACL4_FIELDS);
		cfg.num_fields = ZW_ACL4_FIELDS;
		memcpy(cfg.defs, zw_acl4_defs, sizeof(zw_acl4_defs));
	} else {
		prm.rule_size = RTE_ACL_RULE_SZ(ZW_ACL6_FIELDS);
		cfg.num_fields = ZW_ACL6_FIELDS;
		memcpy(cfg.defs, zw_acl6_defs, sizeof(zw_acl6_defs));
	}
	acl = rte_acl_create(&prm);
	if (!acl)
		return NULL;
	for (i = 0; i < n; i++) {
		if (family == 4) {
			struct zw_acl4_rule ar;

			zw_acl4_rule__fill(&ar, &rules[i]);
			rc = rte_acl_add_rules(acl, (struct rte_acl_rule *)&ar, 1);
		} else {
			struct zw_acl6_rule ar;

			zw_acl6_rule__fill(&ar, &rules[i]);
			rc = rte_acl_add_rules(acl, (struct rte_acl_rule *)&ar, 1);
		}
		if (rc)
			goto err;
	}
	rc = rte_acl_build(acl, &cfg);
	if (rc)
		goto err;
	return acl;
err:
	rte_acl_free(acl);
	rte_errno = -rc;
	return NULL;
}
