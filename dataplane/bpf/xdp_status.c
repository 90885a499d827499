/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's read-back: what the instance enforces (generation,
 * active slot's image, links), per-flow counters, engine statistics.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_instance.h"

int zw_xdp__status(struct zw_xdp *x, struct zw_xdp_status *st)
{
	char path[PATH_MAX + 300];
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	struct dirent *e;
	__u32 k;
	DIR *d;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = zw_xdp_global_read(x, &g);
	if (rc)
		return rc;
	st->generation = g.generation;
	st->slot = g.generation & 1;
	st->drop_sample = g.drop_sample;
	st->log_all_new = g.log_all_new;
	st->verifier_insns = x->verifier_insns;
	st->conns_max = bpf_map__max_entries(x->skel->maps.zw_conns4);
	zw_xdp_prog_tag(zw_xdp__prog_fd(x), (__u8[8]){0}, &st->prog_id);
	if (g.generation) {
		k = st->slot;
		if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta))
			return -errno;
		memcpy(st->sha256, meta.sha256, 32);
		memcpy(st->name, meta.name, sizeof(st->name));
		st->name[sizeof(st->name) - 1] = 0;
		st->day = meta.day;
		st->n_flows = meta.n_flows;
		st->n_live = meta.n_live;
		st->n_zones = meta.n_zones;
	}
	snprintf(path, sizeof(path), "%s/links", x->dir);
	d = opendir(path);
	while (d && (e = readdir(d)) && st->n_links < 32) {
		struct zw_xdp_link *l = &st->links[st->n_links];
		struct bpf_link_info li = {0};
		__u32 len = sizeof(li);
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/links/%s", x->dir, e->d_name);
		fd = bpf_obj_get(path);
		snprintf(l->ifname, sizeof(l->ifname), "%.15s", e->d_name);
		l->mode = "detached";
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &li, &len) &&
		    li.xdp.ifindex) {
			l->ifindex = (int)li.xdp.ifindex;
			l->prog_id = li.prog_id;
			l->mode = zw_xdp_attached_mode(l->ifindex, NULL);
		}
		if (fd >= 0)
			close(fd);
		st->n_links++;
	}
	if (d)
		closedir(d);
	return 0;
}

static int counters_at(struct zw_xdp *x, unsigned slot, __u32 idx,
		       struct zw_flow_counters *out)
{
	struct zw_bpf_counters sum, base = {0};
	int rc = zw_xdp_percpu_sum(x, zw_xdp_slot_fd(x, ZW_SM_CNT, slot), idx, &sum);

	if (rc)
		return rc;
	bpf_map_lookup_elem(zw_xdp_slot_fd(x, ZW_SM_CNTBASE, slot), &idx, &base);
	out->packets = sum.packets + base.packets;
	out->bytes = sum.bytes + base.bytes;
	out->new_conns = sum.new_conns + base.new_conns;
	out->drops = sum.drops + base.drops;
	return 0;
}

int zw_xdp__counters(struct zw_xdp *x, struct zw_flow_counters *out,
		     uint32_t n)
{
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	__u32 k;
	int rc = zw_xdp_global_read(x, &g);

	memset(out, 0, n * sizeof(*out));
	if (rc)
		return rc;
	if (!g.generation)
		return 0;
	k = g.generation & 1;
	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta))
		return -errno;
	for (uint32_t i = 0; i < n && i < meta.n_flows; i++) {
		rc = counters_at(x, k, i, &out[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int zw_xdp__counters_same_zone(struct zw_xdp *x, struct zw_flow_counters *out)
{
	struct zw_bpf_global g;
	int rc = zw_xdp_global_read(x, &g);

	memset(out, 0, sizeof(*out));
	if (rc || !g.generation)
		return rc;
	return counters_at(x, g.generation & 1, ZW_BPF_FLOW_NONE, out);
}

int zw_xdp__stats(struct zw_xdp *x, uint64_t out[ZW_XDP_N_STATS])
{
	int fd = bpf_map__fd(x->skel->maps.zw_stats);
	uint64_t *v = calloc((size_t)x->ncpus, sizeof(*v));

	_Static_assert(ZW_XDP_N_STATS == ZW_BPF_ST__COUNT, "stats count");
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < ZW_XDP_N_STATS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < x->ncpus; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

static int count_keys(const struct bpf_map *m, uint64_t *n)
{
	unsigned char key[2][64];
	int fd = bpf_map__fd(m), cur = 0;
	void *prev = NULL;

	if (bpf_map__key_size(m) > sizeof(key[0]))
		return -EINVAL;
	/* An entry deleted while we walk restarts the walk from the first
	 * key (the kernel's answer to a key it no longer holds): bound it. */
	for (uint64_t i = 0; i <= 2ull * bpf_map__max_entries(m); i++) {
		if (bpf_map_get_next_key(fd, prev, key[cur])) {
			if (errno != ENOENT)
				return -errno;
			return 0;
		}
		(*n)++;
		prev = key[cur];
		cur ^= 1;
	}
	return 0;
}

int zw_xdp__conns(struct zw_xdp *x, uint64_t *used, uint64_t *size)
{
	int rc;

	*used = 0;
	*size = (uint64_t)bpf_map__max_entries(x->skel->maps.zw_conns4) +
		bpf_map__max_entries(x->skel->maps.zw_conns6);
	rc = count_keys(x->skel->maps.zw_conns4, used);
	if (!rc)
		rc = count_keys(x->skel->maps.zw_conns6, used);
	if (*used > *size) /* walks restarted by deletions */
		*used = *size;
	return rc;
}
