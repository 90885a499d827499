/* SPDX-License-Identifier: BSD-2-Clause */
/* The registry of engines linked into this build, and engine-neutral
 * helpers for them (backend.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

const struct zw_backend_ops *const zw_backends[] = {
#ifdef ZW_HAVE_NFT
	&zw_backend_nft,
#endif
#ifdef ZW_HAVE_XDP
	&zw_backend_xdp,
#endif
#ifdef ZW_HAVE_DPDK
	&zw_backend_dpdk,
#endif
	&zw_backend_file,
	NULL,
};

const struct zw_backend_ops *zw_backend__find(const char *name)
{
	for (size_t i = 0; zw_backends[i]; i++)
		if (!strcmp(zw_backends[i]->name, name))
			return zw_backends[i];
	return NULL;
}

int zw_backend__open_spec(const char *spec, const struct zw_backend_ops **ops,
			  struct zw_backend **be, char *err, size_t err_len)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	char name[32], avail[128] = "";
	int r;

	*be = NULL;
	*ops = NULL;
	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, err_len, "bad backend '%s' (expected NAME[:ARG])",
			 spec);
		return -EINVAL;
	}
	memcpy(name, spec, n);
	name[n] = '\0';
	*ops = zw_backend__find(name);
	if (!*ops) {
		for (size_t i = 0; zw_backends[i]; i++) {
			size_t l = strlen(avail);

			snprintf(avail + l, sizeof(avail) - l, "%s%s",
				 l ? ", " : "", zw_backends[i]->name);
		}
		snprintf(err, err_len,
			 "no engine '%s' in this build (available: %s)", name,
			 avail);
		return -ENOENT;
	}
	r = (*ops)->open(colon ? colon + 1 : "", be, err, err_len);
	if (r < 0)
		*be = NULL;
	return r;
}

/* ---- describe_rules: flow -> its rules, through a per-image index ---- */

struct rule_index {
	uint8_t sha[32];
	const struct zw_image *img;
	uint32_t n_flows;
	uint32_t *first; /* n_flows + 1 offsets into idx */
	uint32_t *idx;	 /* rule indexes grouped by flow */
	uint32_t *pair;	 /* pair of each rule */
};

static __thread struct rule_index cache;

static int build_index(const struct zw_image *img)
{
	struct rule_index ri = {.img = img, .n_flows = img->n_flows};
	uint32_t *fill = NULL;

	if (cache.img == img && cache.n_flows == img->n_flows &&
	    !memcmp(cache.sha, img->sha256, 32))
		return 0;
	memcpy(ri.sha, img->sha256, 32);
	ri.first = calloc((size_t)img->n_flows + 1, sizeof(uint32_t));
	ri.idx = malloc(((size_t)img->n_rules + 1) * sizeof(uint32_t));
	ri.pair = malloc(((size_t)img->n_rules + 1) * sizeof(uint32_t));
	fill = calloc((size_t)img->n_flows + 1, sizeof(uint32_t));
	if (!ri.first || !ri.idx || !ri.pair || !fill)
		goto err;
	for (uint32_t p = 0; p < img->n_pairs; p++)
		for (uint32_t k = 0; k < img->pairs[p].count; k++) {
			uint32_t r = img->pairs[p].first + k;

			ri.pair[r] = p;
			if (img->rules[r].flow < img->n_flows)
				ri.first[img->rules[r].flow + 1]++;
		}
	for (uint32_t f = 0; f < img->n_flows; f++)
		ri.first[f + 1] += ri.first[f];
	for (uint32_t p = 0; p < img->n_pairs; p++)
		for (uint32_t k = 0; k < img->pairs[p].count; k++) {
			uint32_t r = img->pairs[p].first + k;
			uint32_t f = img->rules[r].flow;

			if (f < img->n_flows)
				ri.idx[ri.first[f] + fill[f]++] = r;
		}
	free(fill);
	free(cache.first);
	free(cache.idx);
	free(cache.pair);
	cache = ri;
	return 0;
err:
	free(fill);
	free(ri.first);
	free(ri.idx);
	free(ri.pair);
	return -ENOMEM;
}

static void narrow_text(const struct zw_image *img, uint32_t set, char *out,
			size_t len)
{
	size_t n = 0;

	if (set == ZW_NO_SET || set >= img->n_sets) {
		snprintf(out, len, "any");
		return;
	}
	out[0] = '\0';
	for (uint32_t k = 0; k < img->sets[set].count && n + 1 < len; k++) {
		const struct zw_img_narrow *x =
			&img->narrow[img->sets[set].first + k];
		struct zw_prefix p = {.family = x->family, .len = x->len};
		char buf[64];

		memcpy(p.addr, x->addr, 16);
		n += (size_t)snprintf(out + n, len - n, "%s%s", k ? "," : "",
				      zw_prefix__format(&p, buf));
	}
	if (n >= len && len > 4)
		strcpy(out + len - 4, "...");
}

char *zw_backend__describe_rules(const struct zw_image *img, uint32_t flow)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (flow >= img->n_flows || build_index(img) < 0)
		return NULL;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	if (cache.first[flow] == cache.first[flow + 1])
		fputs("no rule", f);
	for (uint32_t k = cache.first[flow]; k < cache.first[flow + 1]; k++) {
		const struct zw_img_rule *r = &img->rules[cache.idx[k]];
		const struct zw_img_pair *p = &img->pairs[cache.pair[cache.idx[k]]];
		char proto[4], src[512], dst[512];

		narrow_text(img, r->src_set, src, sizeof(src));
		narrow_text(img, r->dst_set, dst, sizeof(dst));
		fprintf(f, "%s%s -> %s %s", k > cache.first[flow] ? "\n" : "",
			zw_image__str(img, img->zones[p->from].name),
			zw_image__str(img, img->zones[p->to].name),
			zw_proto__name(r->proto, proto));
		if (!(r->flags & ZW_IMG_RULE_ANY)) {
			const char *what =
				zw_proto__is_icmp(r->proto) ? " type " : "/";

			if (r->lo == r->hi)
				fprintf(f, "%s%u", what, r->lo);
			else
				fprintf(f, "%s%u-%u", what, r->lo, r->hi);
		}
		fprintf(f, " src %s dst %s", src, dst);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
