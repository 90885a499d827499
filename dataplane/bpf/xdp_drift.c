/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's drift: every difference between the instance (active
 * slot's maps and header, links) and what an image implies for the slot's
 * day; and the map entries one flow produces.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/policy.h>

#include "xdp_instance.h"
#include "xdp_tables.h"

struct dsbuf {
	char *s;
	size_t n, cap;
	unsigned lines;
};

static void ds_add(struct dsbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ds_add(struct dsbuf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t k;

	if (++b->lines > 51)
		return;
	if (b->lines == 51) {
		snprintf(line, sizeof(line), "...\n"); /* more: cut */
	} else {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
	}
	k = strlen(line);
	if (b->n + k + 1 > b->cap) {
		size_t nc = (b->cap + k + 1) * 2;
		char *ns = realloc(b->s, nc);

		if (!ns)
			return;
		b->s = ns;
		b->cap = nc;
	}
	memcpy(b->s + b->n, line, k + 1);
	b->n += k;
}

/* Compare a hash/trie map with the expected entries (key/value arrays):
 * both key sets sorted, then merged. */
static size_t cmp_ksz;

static int cmp_key(const void *a, const void *b)
{
	return memcmp(*(const char *const *)a, *(const char *const *)b, cmp_ksz);
}

static void drift_map(struct dsbuf *b, int fd, const char *name,
		      const void *keys, size_t ksz, size_t kstride,
		      const void *vals, size_t vsz, size_t vstride, size_t n)
{
	void *live = NULL;
	size_t nl = 0, i = 0, j = 0;
	const char **ek = malloc((n + 1) * sizeof(*ek));
	const char **lk = NULL;
	char hk[96], hv[96];
	unsigned char val[64];

	if (!ek || zw_xdp_map_keys(fd, ksz, &live, &nl)) {
		ds_add(b, "%s: cannot read\n", name);
		goto out;
	}
	lk = malloc((nl + 1) * sizeof(*lk));
	if (!lk)
		goto out;
	for (i = 0; i < n; i++)
		ek[i] = (const char *)keys + i * kstride;
	for (j = 0; j < nl; j++)
		lk[j] = (const char *)live + j * ksz;
	cmp_ksz = ksz;
	qsort(ek, n, sizeof(*ek), cmp_key);
	qsort(lk, nl, sizeof(*lk), cmp_key);
	i = j = 0;
	while (i < n || j < nl) {
		int c = i == n ? 1 : j == nl ? -1 : memcmp(ek[i], lk[j], ksz);

		if (c < 0) {
			zw_hex((const uint8_t *)ek[i], ksz, hk);
			ds_add(b, "%s: entry %s missing\n", name, hk);
			i++;
		} else if (c > 0) {
			zw_hex((const uint8_t *)lk[j], ksz, hk);
			ds_add(b, "%s: entry %s not from the image\n", name, hk);
			j++;
		} else {
			size_t e = (size_t)(ek[i] - (const char *)keys) / kstride;

			if (vals && !bpf_map_lookup_elem(fd, ek[i], val) &&
			    memcmp(val, (const char *)vals + e * vstride, vsz)) {
				zw_hex((const uint8_t *)ek[i], ksz, hk);
				zw_hex((const uint8_t *)val, vsz, hv);
				ds_add(b, "%s: entry %s has value %s, not the image's\n",
				       name, hk, hv);
			}
			i++;
			j++;
		}
	}
out:
	free(ek);
	free(lk);
	free(live);
}

static void drift_array(struct dsbuf *b, int fd, const char *name,
			const void *vals, size_t vsz, size_t n)
{
	unsigned char val[64];

	for (__u32 i = 0; i < n; i++)
		if (bpf_map_lookup_elem(fd, &i, val) ||
		    memcmp(val, (const char *)vals + i * vsz, vsz))
			ds_add(b, "%s[%u] differs from the image\n", name, i);
}

char *zw_xdp__drift(struct zw_xdp *x, const struct zw_image *img)
{
	struct zw_xdp_status st;
	struct zw_xdp_tables *t = NULL;
	struct dsbuf b = {0};
	char e[256], h1[65], h2[65], name[64];
	unsigned s;
	__u32 one = 1;
	__u32 *ones = NULL;
	size_t mx;

	errno = 0;
	if (zw_xdp__status(x, &st))
		return NULL;
	if (!st.generation) {
		ds_add(&b, "no policy loaded\n");
		return b.s;
	}
	if (memcmp(st.sha256, img->sha256, 32)) {
		zw_hex(st.sha256, 32, h1);
		zw_hex(img->sha256, 32, h2);
		ds_add(&b, "enforces image %s, not %s\n", h1, h2);
		return b.s;
	}
	if (zw_xdp_tables__build(img, st.day, &t, e, sizeof(e))) {
		ds_add(&b, "image no longer projects: %s\n", e);
		return b.s;
	}
	s = st.slot;
	/* the slot header: what the program reads besides the maps */
	{
		struct zw_bpf_global g;
		struct zw_bpf_slot meta;
		__u32 k = s, hb = (t->n_block4 ? 1u : 0) | (t->n_block6 ? 2u : 0);

		if (zw_xdp_global_read(x, &g) ||
		    bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta)) {
			ds_add(&b, "zw_slots[%u]: cannot read\n", s);
		} else {
			if (meta.has_block != hb)
				ds_add(&b, "zw_slots[%u]: has_block %u, the image's block "
				       "list implies %u\n", s, meta.has_block, hb);
			if (meta.generation != g.generation)
				ds_add(&b, "zw_slots[%u]: generation %u, zw_global %u\n",
				       s, meta.generation, g.generation);
			if (meta.n_flows != img->n_flows || meta.n_zones != img->n_zones ||
			    meta.n_live != t->n_live)
				ds_add(&b, "zw_slots[%u]: %u flows (%u live), %u zones; the "
				       "image: %u (%u), %u\n", s, meta.n_flows, meta.n_live,
				       meta.n_zones, img->n_flows, t->n_live, img->n_zones);
		}
	}
	mx = t->n_sets4 > t->n_sets6 ? t->n_sets4 : t->n_sets6;
	if (t->n_block4 > mx)
		mx = t->n_block4;
	if (t->n_block6 > mx)
		mx = t->n_block6;
	ones = malloc((mx + 1) * sizeof(*ones));
	for (size_t i = 0; ones && i <= mx; i++)
		ones[i] = one;
#define NM(m) (snprintf(name, sizeof(name), "%s_%u", zw_xdp_slot_map_names[m], s), name)
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_ZONES4, s), NM(ZW_SM_ZONES4), &t->zones4[0].k,
		  sizeof(struct zw_bpf_lpm4), sizeof(*t->zones4), &t->zones4[0].v,
		  sizeof(struct zw_bpf_zone_val), sizeof(*t->zones4), t->n_zones4);
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_ZONES6, s), NM(ZW_SM_ZONES6), &t->zones6[0].k,
		  sizeof(struct zw_bpf_lpm6), sizeof(*t->zones6), &t->zones6[0].v,
		  sizeof(struct zw_bpf_zone_val), sizeof(*t->zones6), t->n_zones6);
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_SETS4, s), NM(ZW_SM_SETS4), t->sets4,
		  sizeof(*t->sets4), sizeof(*t->sets4), ones, 4, 4, t->n_sets4);
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_SETS6, s), NM(ZW_SM_SETS6), t->sets6,
		  sizeof(*t->sets6), sizeof(*t->sets6), ones, 4, 4, t->n_sets6);
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_BLOCK4, s), NM(ZW_SM_BLOCK4), t->block4,
		  sizeof(*t->block4), sizeof(*t->block4), ones, 4, 4, t->n_block4);
	drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_BLOCK6, s), NM(ZW_SM_BLOCK6), t->block6,
		  sizeof(*t->block6), sizeof(*t->block6), ones, 4, 4, t->n_block6);
	if (t->n_ports)
		drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_PORTS, s), NM(ZW_SM_PORTS), &t->ports[0].k,
			  sizeof(struct zw_bpf_port_key), sizeof(*t->ports),
			  &t->ports[0].v, sizeof(struct zw_bpf_span),
			  sizeof(*t->ports), t->n_ports);
	else
		drift_map(&b, zw_xdp_slot_fd(x, ZW_SM_PORTS, s), NM(ZW_SM_PORTS), NULL,
			  sizeof(struct zw_bpf_port_key), 0, NULL, 0, 0, 0);
	drift_array(&b, zw_xdp_slot_fd(x, ZW_SM_ZONEINFO, s), NM(ZW_SM_ZONEINFO), t->zoneinfo,
		    sizeof(*t->zoneinfo), t->n_zones);
	drift_array(&b, zw_xdp_slot_fd(x, ZW_SM_FLOWINFO, s), NM(ZW_SM_FLOWINFO), t->flowinfo,
		    sizeof(*t->flowinfo), t->n_flows);
	drift_array(&b, zw_xdp_slot_fd(x, ZW_SM_RANGES, s), NM(ZW_SM_RANGES), t->ranges,
		    sizeof(*t->ranges), t->n_ranges);
	drift_array(&b, zw_xdp_slot_fd(x, ZW_SM_CANDS, s), NM(ZW_SM_CANDS), t->cands,
		    sizeof(*t->cands), t->n_cands);
#undef NM
	for (uint32_t i = 0; i < st.n_links; i++) {
		__u32 cur = 0;

		if (!strcmp(st.links[i].mode, "detached")) {
			ds_add(&b, "link %s: interface gone or detached\n",
			       st.links[i].ifname);
			continue;
		}
		zw_xdp_attached_mode(st.links[i].ifindex, &cur);
		if (cur != st.links[i].prog_id)
			ds_add(&b, "%s runs XDP program %u, not zonewall's %u\n",
			       st.links[i].ifname, cur, st.links[i].prog_id);
		else if (!zw_xdp_prog_is_ours(x, cur))
			ds_add(&b, "%s: its link runs XDP program %u, not this "
			       "instance's program on its maps\n",
			       st.links[i].ifname, cur);
	}
	free(ones);
	zw_xdp_tables__free(t);
	errno = 0;
	return b.s;
}

char *zw_xdp__describe_flow(const struct zw_image *img, uint32_t flow)
{
	return zw_xdp_tables__describe_flow(img, flow, INT32_MIN);
}
