// SPDX-License-Identifier: BSD-2-Clause
/*
 * The ruleset an image implies (struct zwnft_ruleset): its items, their
 * life cycle, the build that fills it step by step (counters, chains, sets,
 * rules: nft_counters.c, nft_chains.c, nft_sets.c) and the per-flow index
 * describe_flow() reads. Pure: no kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <zonewall/policy.h>

#include "nft_build.h"

/* ------------------------------------------------------------------ */
/* ruleset items */

struct zwnft_item *zwnft_ruleset__push(struct zwnft_ruleset *rs,
				       enum zwnft_kind k, const char *name,
				       uint32_t flow)
{
	struct zwnft_item *it;

	if (rs->n[k] == rs->cap[k]) {
		size_t cap = rs->cap[k] ? rs->cap[k] * 2 : 64;
		struct zwnft_item *v = realloc(rs->v[k], cap * sizeof(*v));

		if (!v)
			return NULL;
		rs->v[k] = v;
		rs->cap[k] = cap;
	}
	it = &rs->v[k][rs->n[k]];
	memset(it, 0, sizeof(*it));
	it->kind = k;
	it->flow = flow;
	it->name = strdup(name);
	if (!it->name)
		return NULL;
	rs->n[k]++;
	return it;
}

static void item_fini(struct zwnft_item *it)
{
	if (it->obj) { /* the union: any of the four, or none (text only) */
		switch (it->kind) {
		case ZWNFT_OBJ:
			nftnl_obj_free(it->obj);
			break;
		case ZWNFT_CHAIN:
			nftnl_chain_free(it->chain);
			break;
		case ZWNFT_SET:
			nftnl_set_free(it->set);
			break;
		case ZWNFT_RULE:
			nftnl_rule_free(it->rule);
			break;
		default:
			break;
		}
	}
	free(it->name);
	free(it->text);
}

void zwnft_ruleset__free(struct zwnft_ruleset *rs)
{
	if (!rs)
		return;
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		for (size_t i = 0; i < rs->n[k]; i++)
			item_fini(&rs->v[k][i]);
		free(rs->v[k]);
	}
	if (rs->table)
		nftnl_table_free(rs->table);
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		free(rs->fx.off[k]);
		free(rs->fx.idx[k]);
	}
	free(rs->nset_items);
	zwnft_mirror__free(rs->mirror);
	free(rs);
}

int zwnft_udata_set_comment(void *obj, int kind, uint8_t type,
			    const char *text)
{
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	char c[NFTNL_UDATA_COMMENT_MAXLEN];

	if (!u)
		return -ENOMEM;
	/* nft refuses longer comments; cut ours rather than fail. */
	snprintf(c, sizeof(c), "%s", text);
	if (!nftnl_udata_put_strz(u, type, c)) {
		nftnl_udata_buf_free(u);
		return -ENOMEM;
	}
	switch (kind) {
	case ZWNFT_CHAIN:
		nftnl_chain_set_data(obj, NFTNL_CHAIN_USERDATA,
				     nftnl_udata_buf_data(u),
				     nftnl_udata_buf_len(u));
		break;
	case ZWNFT_RULE:
		nftnl_rule_set_data(obj, NFTNL_RULE_USERDATA,
				    nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
		break;
	default: /* table */
		nftnl_table_set_data(obj, NFTNL_TABLE_USERDATA,
				     nftnl_udata_buf_data(u),
				     nftnl_udata_buf_len(u));
		break;
	}
	nftnl_udata_buf_free(u);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the build */

/* Per-flow index of items and each rule's chain, for describe_flow(). */
static int build_index(struct zwnft_ruleset *rs, const struct zw_image *img)
{
	uint32_t nf = img->n_flows;
	size_t c = 0;

	/* rules come grouped by chain, in chain order */
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++) {
		struct zwnft_item *r = &rs->v[ZWNFT_RULE][i];

		while (c < rs->n[ZWNFT_CHAIN] &&
		       strcmp(rs->v[ZWNFT_CHAIN][c].name, r->name) != 0)
			c++;
		if (c == rs->n[ZWNFT_CHAIN])
			return -EINVAL; /* a builder bug: rule out of order */
		r->chain_idx = (uint32_t)c;
	}
	for (int k = 0; k < ZWNFT__KINDS; k++) {
		uint32_t *off = calloc((size_t)nf + 2, sizeof(uint32_t));
		uint32_t *idx = calloc(rs->n[k] + 1, sizeof(uint32_t));

		if (!off || !idx) {
			free(off);
			free(idx);
			return -ENOMEM;
		}
		rs->fx.off[k] = off;
		rs->fx.idx[k] = idx;
		for (size_t i = 0; i < rs->n[k]; i++)
			if (rs->v[k][i].flow < nf)
				off[rs->v[k][i].flow + 1]++;
		for (uint32_t f = 0; f < nf; f++)
			off[f + 1] += off[f];
		uint32_t *fill = calloc((size_t)nf + 1, sizeof(uint32_t));

		if (!fill)
			return -ENOMEM;
		for (size_t i = 0; i < rs->n[k]; i++) {
			uint32_t f = rs->v[k][i].flow;

			if (f < nf)
				idx[off[f] + fill[f]++] = (uint32_t)i;
		}
		free(fill);
	}
	rs->n_nsets = img->n_sets;
	rs->nset_items = calloc(img->n_sets ? img->n_sets : 1, sizeof(uint32_t));
	if (!rs->nset_items)
		return -ENOMEM;
	for (size_t i = rs->n[ZWNFT_SET]; i-- > 0;) {
		uint32_t ns = rs->v[ZWNFT_SET][i].sets[0];

		if (ns && ns < img->n_sets)
			rs->nset_items[ns] = (uint32_t)i + 1;
	}
	return 0;
}

int zwnft_ruleset__build(const struct zw_image *img, int32_t day,
			 const struct zwnft_opts *opts,
			 struct zwnft_ruleset **out)
{
	return zwnft_ruleset__build_mode(img, day, opts,
					 ZWNFT_BUILD_OBJECTS | ZWNFT_BUILD_TEXT,
					 out);
}

int zwnft_ruleset__build_mode(const struct zw_image *img, int32_t day,
			      const struct zwnft_opts *opts, unsigned mode,
			      struct zwnft_ruleset **out)
{
	struct zwnft_build b = {.img = img, .day = day};
	struct zwnft_ruleset *rs;
	char **from_names = NULL;
	int ret = -ENOMEM;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	b.rs = rs;
	rs->mode = mode;
	if (opts)
		rs->opts = *opts;
	else
		zwnft_opts__init(&rs->opts);
	zw_hex(img->sha256, 32, rs->sha256_hex);
	rs->day = day;
	rs->n_flows = img->n_flows;

	rs->table = nftnl_table_alloc();
	if (!rs->table)
		goto err;
	nftnl_table_set_str(rs->table, NFTNL_TABLE_NAME, rs->opts.table);
	nftnl_table_set_u32(rs->table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(rs->table, NFTNL_TABLE_FLAGS, 0);
	if ((ret = zwnft_udata_set_comment(rs->table, -1,
					   NFTNL_UDATA_TABLE_COMMENT,
					   ZWNFT_OWNER_COMMENT)))
		goto err;

	if ((ret = zwnft_build__plan(&b)))
		goto err;
	ret = -ENOMEM;
	from_names = calloc(img->n_zones ? img->n_zones : 1, sizeof(char *));
	if (!from_names)
		goto err;
	for (uint32_t z = 0; z < img->n_zones; z++) {
		if (!b.from_chain[z])
			continue;
		from_names[z] = malloc(ZWNFT_NAME_MAX);
		if (!from_names[z])
			goto err;
		if ((ret = zwnft_name__from(from_names[z], img, z)))
			goto err;
	}
	if ((ret = zwnft_build__counters(&b)) ||
	    (ret = zwnft_build__chains(&b)) ||
	    (ret = zwnft_build__sets(&b, from_names)) ||
	    (ret = zwnft_build__rules(&b)) || (ret = build_index(rs, img)))
		goto err;
	ret = 0;
	*out = rs;
	rs = NULL;
err:
	if (from_names)
		for (uint32_t z = 0; z < img->n_zones; z++)
			free(from_names[z]);
	free(from_names);
	free(b.pc);
	free(b.from_chain);
	free(b.flow_chain);
	free(b.set_used);
	free(b.flow_l7);
	zwnft_ruleset__free(rs);
	return ret;
}
