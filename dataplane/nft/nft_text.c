// SPDX-License-Identifier: BSD-2-Clause
/*
 * The ruleset in nft syntax: the whole table (zw-nft-apply --print) and
 * one flow's part of it (describe_flow, zonectl rules), from the text each
 * item carries.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zonewall/policy.h>

#include "nft_build.h"

static void text_rules_of(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
			  const char *chain, uint32_t flow, bool only_flow)
{
	for (size_t i = 0; i < rs->n[ZWNFT_RULE]; i++) {
		const struct zwnft_item *r = &rs->v[ZWNFT_RULE][i];

		if (strcmp(r->name, chain) != 0)
			continue;
		if (only_flow && r->flow != flow)
			continue;
		zwnft_buf__printf(t, "\t\t%s\n", r->text);
	}
}

static void text_chain(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
		       const struct zwnft_item *c, uint32_t flow, bool only_flow)
{
	/* c->text is "chain NAME {\n[comment][hook]" without the end */
	zwnft_buf__printf(t, "\t%s", c->text);
	text_rules_of(t, rs, c->name, flow, only_flow);
	zwnft_buf__puts(t, "\t}\n");
}

char *zwnft_ruleset__text(const struct zwnft_ruleset *rs)
{
	struct zwnft_buf t = {0};

	zwnft_buf__printf(&t, "table inet %s {\n\tcomment \"%s\"\n",
			  rs->opts.table, ZWNFT_OWNER_COMMENT);
	for (size_t i = 0; i < rs->n[ZWNFT_OBJ]; i++)
		zwnft_buf__printf(&t, "\t%s\n\n", rs->v[ZWNFT_OBJ][i].text);
	for (size_t i = 0; i < rs->n[ZWNFT_SET]; i++)
		zwnft_buf__printf(&t, "\t%s\n\n", rs->v[ZWNFT_SET][i].text);
	for (size_t i = 0; i < rs->n[ZWNFT_CHAIN]; i++) {
		if (i)
			zwnft_buf__puts(&t, "\n");
		text_chain(&t, rs, &rs->v[ZWNFT_CHAIN][i], ZW_NO_FLOW, false);
	}
	zwnft_buf__puts(&t, "}\n");
	return zwnft_buf__take(&t);
}

static void text_set_if(struct zwnft_buf *t, const struct zwnft_ruleset *rs,
			uint32_t nset, uint32_t *shown, size_t *n_shown)
{
	uint32_t first;

	if (!nset || nset >= rs->n_nsets || !rs->nset_items[nset])
		return;
	for (size_t k = 0; k < *n_shown; k++)
		if (shown[k] == nset)
			return;
	if (*n_shown < 4)
		shown[(*n_shown)++] = nset;
	first = rs->nset_items[nset] - 1;
	/* the IPv4 and IPv6 sets of one image set are adjacent */
	for (size_t i = first; i < rs->n[ZWNFT_SET] &&
			       rs->v[ZWNFT_SET][i].sets[0] == nset; i++)
		zwnft_buf__printf(t, "\t%s\n", rs->v[ZWNFT_SET][i].text);
}

char *zwnft_ruleset__describe_flow(const struct zwnft_ruleset *rs,
				   const struct zw_image *img, uint32_t flow)
{
	const struct zwnft_flow_index *fx = &rs->fx;
	struct zwnft_buf t = {0};
	uint32_t shown[4];
	size_t n_shown = 0;

	if (flow >= img->n_flows || flow >= rs->n_flows) {
		errno = EINVAL;
		return NULL;
	}
	if (fx->off[ZWNFT_RULE][flow] == fx->off[ZWNFT_RULE][flow + 1]) {
		zwnft_buf__printf(&t,
				  "# flow %s: no rule in table inet %s (%s)\n",
				  zwnft_flow_id(img, flow), rs->opts.table,
				  zw_image__flow_live(img, flow, rs->day) ?
					  "no service of the flow gives a rule" :
					  "expired");
		return zwnft_buf__take(&t);
	}
	zwnft_buf__printf(&t, "table inet %s {\n", rs->opts.table);
	for (uint32_t i = fx->off[ZWNFT_OBJ][flow];
	     i < fx->off[ZWNFT_OBJ][flow + 1]; i++)
		zwnft_buf__printf(&t, "\t%s\n",
				  rs->v[ZWNFT_OBJ][fx->idx[ZWNFT_OBJ][i]].text);
	for (uint32_t i = fx->off[ZWNFT_RULE][flow];
	     i < fx->off[ZWNFT_RULE][flow + 1]; i++) {
		const struct zwnft_item *r =
			&rs->v[ZWNFT_RULE][fx->idx[ZWNFT_RULE][i]];

		text_set_if(&t, rs, r->sets[0], shown, &n_shown);
		text_set_if(&t, rs, r->sets[1], shown, &n_shown);
	}
	for (uint32_t i = fx->off[ZWNFT_SET][flow];
	     i < fx->off[ZWNFT_SET][flow + 1]; i++)
		zwnft_buf__printf(&t, "\t%s\n",
				  rs->v[ZWNFT_SET][fx->idx[ZWNFT_SET][i]].text);
	/* rules in the pair chain, then the flow's own chain */
	uint32_t open_chain = UINT32_MAX;

	for (uint32_t i = fx->off[ZWNFT_RULE][flow];
	     i < fx->off[ZWNFT_RULE][flow + 1]; i++) {
		const struct zwnft_item *r =
			&rs->v[ZWNFT_RULE][fx->idx[ZWNFT_RULE][i]];

		if (r->chain_idx != open_chain) {
			if (open_chain != UINT32_MAX)
				zwnft_buf__puts(&t, "\t}\n");
			open_chain = r->chain_idx;
			zwnft_buf__printf(&t, "\t%s",
					  rs->v[ZWNFT_CHAIN][r->chain_idx].text);
		}
		zwnft_buf__printf(&t, "\t\t%s\n", r->text);
	}
	if (open_chain != UINT32_MAX)
		zwnft_buf__puts(&t, "\t}\n");
	zwnft_buf__puts(&t, "}\n");
	return zwnft_buf__take(&t);
}
