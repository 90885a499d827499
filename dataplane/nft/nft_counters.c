// SPDX-License-Identifier: BSD-2-Clause
/*
 * Named counters: the global zw_* ones and, per flow with a chain,
 * flow_<id>, new_<id> and drop_<id> (with a rate limit). Named objects
 * are kept across applies while the flow stays (nft_batch.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/object.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>

#include "nft_build.h"

/* Global counters, named objects kept across applies: those of drop
 * reasons are named after the reason (zwnft_name__drop()), the others
 * count what is no drop reason (everything, conntrack's invalid packets,
 * same-zone traffic). In this order. */
static const struct {
	const char *name; /* NULL: the counter of @reason */
	unsigned reason;
} global_counters[] = {
	{"zw_total", 0},
	{NULL, ZW_DROP_BLOCKED},
	{"zw_invalid", 0},
	{NULL, ZW_DROP_NOT_SYN},
	{NULL, ZW_DROP_NO_FLOW},
	{"zw_same_zone", 0},
	{NULL, ZW_DROP_ISOLATED},
	{NULL, ZW_DROP_FLOW_REMOVED},
	{NULL, ZW_DROP_RATE},
	{NULL, ZW_DROP_EXT_HEADERS},
};

static int add_counter(struct zwnft_ruleset *rs, const char *name,
		       uint32_t flow)
{
	struct zwnft_item *it;
	struct nftnl_obj *o = nftnl_obj_alloc();
	char text[ZWNFT_NAME_MAX + 32];

	if (!o)
		return -ENOMEM;
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, rs->opts.table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	it = zwnft_ruleset__push(rs, ZWNFT_OBJ, name, flow);
	if (!it) {
		nftnl_obj_free(o);
		return -ENOMEM;
	}
	it->obj = o;
	if (!(rs->mode & ZWNFT_BUILD_TEXT))
		return 0;
	snprintf(text, sizeof(text), "counter %s { }", name);
	it->text = strdup(text);
	return it->text ? 0 : -ENOMEM;
}

int zwnft_build__counters(struct zwnft_build *b)
{
	char n[ZWNFT_NAME_MAX];
	int ret;

	for (size_t i = 0;
	     i < sizeof(global_counters) / sizeof(global_counters[0]); i++) {
		const char *name = global_counters[i].name;

		if (!name)
			name = zwnft_name__drop(n, global_counters[i].reason);
		if ((ret = add_counter(b->rs, name, ZW_NO_FLOW)))
			return ret;
	}
	if (b->any_l7 &&
	    (ret = add_counter(b->rs, zwnft_name__drop(n, ZW_DROP_L7_MISMATCH),
			       ZW_NO_FLOW)))
		return ret;
	for (uint32_t f = 0; f < b->img->n_flows; f++) {
		const char *id = zwnft_flow_id(b->img, f);

		if (!b->flow_chain[f])
			continue;
		if ((ret = zwnft_name__fmt(n, "flow_%s", id)) ||
		    (ret = add_counter(b->rs, n, f)) ||
		    (ret = zwnft_name__fmt(n, "new_%s", id)) ||
		    (ret = add_counter(b->rs, n, f)))
			return ret;
		/* packets its rate limit refused, and those of its connections
		 * the inspector cut (backend.h: the flow's drops) */
		if ((b->img->flows[f].rate || b->flow_l7[f]) &&
		    ((ret = zwnft_name__fmt(n, "drop_%s", id)) ||
		     (ret = add_counter(b->rs, n, f))))
			return ret;
	}
	return 0;
}
