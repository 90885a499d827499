// SPDX-License-Identifier: BSD-2-Clause
/*
 * The rules an auditor must read, in nft's own words: for every held rule
 * that no flow explains (added by hand), the text `nft -a list table`
 * prints for it, found by its handle. libnftables is nft's own printer
 * (the same code as the command), so what the report quotes is exactly
 * what an operator sees with `nft -a list chain inet TABLE CHAIN`. Only
 * done when such rules exist: the normal read-back pays nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include <zonewall/backend.h>

#include "zwnft.h"

/* Handle N from "... (handle N)" at the end of a held rule's text. */
static bool handle_of(const char *text, unsigned long long *h)
{
	const char *p = text ? strstr(text, "(handle ") : NULL;

	return p && sscanf(p, "(handle %llu)", h) == 1;
}

/* The listing's line of rule @h (without indentation and the handle
 * comment) and its chain, or false. */
static bool find_rule(const char *listing, unsigned long long h, char *chain,
		      size_t chain_len, char **line)
{
	const char *p = listing;
	char cur[256] = "";

	while (p && *p) {
		const char *e = strchr(p, '\n'), *s = p, *hc;
		size_t n = e ? (size_t)(e - p) : strlen(p);
		unsigned long long v;

		while (s < p + n && (*s == ' ' || *s == '\t'))
			s++;
		if (!strncmp(s, "chain ", 6)) {
			size_t k = 0;

			for (s += 6; s < p + n && *s != ' ' && k + 1 < sizeof(cur);)
				cur[k++] = *s++;
			cur[k] = '\0';
		} else if ((hc = strstr(s, " # handle ")) && hc < p + n &&
			   sscanf(hc, " # handle %llu", &v) == 1 && v == h) {
			*line = strndup(s, (size_t)(hc - s));
			snprintf(chain, chain_len, "%s", cur);
			return *line != NULL;
		}
		p = e ? e + 1 : NULL;
	}
	return false;
}

int zwnft_held__nft_text(const char *table, struct zw_backend_state *st)
{
	struct nft_ctx *ctx = NULL;
	const char *out;
	char cmd[128];
	bool any = false;

	for (size_t i = 0; i < st->n_rules && !any; i++)
		any = !st->rules[i].flow_id[0];
	if (!any)
		return 0;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return -ENOMEM;
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE);
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		nft_ctx_free(ctx);
		return -ENOMEM;
	}
	snprintf(cmd, sizeof(cmd), "list table inet %s", table);
	if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
		nft_ctx_free(ctx);
		return 0; /* the canonical text stays: better than nothing */
	}
	out = nft_ctx_get_output_buffer(ctx);
	for (size_t i = 0; i < st->n_rules; i++) {
		struct zw_held_rule *r = &st->rules[i];
		unsigned long long h;
		char chain[256], *line = NULL, *text;

		if (r->flow_id[0] || !handle_of(r->engine_text, &h) ||
		    !find_rule(out, h, chain, sizeof(chain), &line))
			continue;
		if (asprintf(&text, "%s  # chain %s, handle %llu", line, chain,
			     h) >= 0) {
			free(r->engine_text);
			r->engine_text = text;
		}
		free(line);
	}
	nft_ctx_free(ctx);
	return 0;
}
