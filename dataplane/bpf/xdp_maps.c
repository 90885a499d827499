/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP loader's access to the maps: the slot maps by number, zw_global,
 * every key of a map, clearing and (batched) filling, per-CPU sums.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdp_instance.h"

const char *const zw_xdp_slot_map_names[ZW_SM__COUNT] = {
	"zw_zones4", "zw_zones6", "zw_sets4",	 "zw_sets6",  "zw_block4",
	"zw_block6", "zw_zoneinfo", "zw_flowinfo", "zw_ports", "zw_ranges",
	"zw_cands",  "zw_cnt",	    "zw_cntbase",
};

static struct bpf_map *slot_map(const struct zw_xdp *x, enum zw_xdp_slot_map m,
				unsigned slot)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_%u", zw_xdp_slot_map_names[m], slot & 1);
	return bpf_object__find_map_by_name(x->skel->obj, name);
}

int zw_xdp_slot_fd(const struct zw_xdp *x, enum zw_xdp_slot_map m,
		   unsigned slot)
{
	struct bpf_map *map = slot_map(x, m, slot);

	return map ? bpf_map__fd(map) : -ENOENT;
}

int zw_xdp_global_read(const struct zw_xdp *x, struct zw_bpf_global *g)
{
	__u32 k = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_global), &k, g))
		return -errno;
	return 0;
}

int zw_xdp_global_write(const struct zw_xdp *x, const struct zw_bpf_global *g)
{
	__u32 k = 0;

	if (bpf_map_update_elem(bpf_map__fd(x->skel->maps.zw_global), &k, g,
				BPF_ANY))
		return -errno;
	return 0;
}

int zw_xdp_map_keys(int fd, size_t key_size, void **out, size_t *n)
{
	size_t cap = 256, cnt = 0;
	char *keys = malloc(cap * key_size);
	int rc;

	if (!keys)
		return -ENOMEM;
	rc = bpf_map_get_next_key(fd, NULL, keys);
	while (!rc) {
		if (cnt + 1 == cap) {
			char *nk = realloc(keys, cap * 2 * key_size);

			if (!nk) {
				rc = -ENOMEM;
				goto err;
			}
			keys = nk;
			cap *= 2;
		}
		cnt++;
		rc = bpf_map_get_next_key(fd, keys + (cnt - 1) * key_size,
					  keys + cnt * key_size);
	}
	if (errno != ENOENT) {
		rc = -errno;
		goto err;
	}
	*out = keys;
	*n = cnt;
	return 0;
err:
	free(keys);
	return rc;
}

int zw_xdp_map_clear(int fd, size_t key_size)
{
	void *keys = NULL;
	size_t n = 0, i;
	int rc = zw_xdp_map_keys(fd, key_size, &keys, &n);

	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, (char *)keys + i * key_size) &&
		    errno != ENOENT) {
			rc = -errno;
			break;
		}
	free(keys);
	return rc;
}

int zw_xdp_map_put(int fd, const void *keys, size_t key_size,
		   const void *vals, size_t val_size, size_t n, int batch)
{
	size_t i;

	if (!n)
		return 0;
	if (batch) {
		__u32 count = (__u32)n;
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = 0,
			    .flags = 0);

		if (!bpf_map_update_batch(fd, keys, vals, &count, &o) &&
		    count == n)
			return 0;
		/* fall back to one by one */
	}
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
					(const char *)vals + i * val_size,
					BPF_ANY))
			return -errno;
	return 0;
}

int zw_xdp_percpu_sum(const struct zw_xdp *x, int fd, __u32 idx,
		      struct zw_bpf_counters *out)
{
	struct zw_bpf_counters *v = calloc((size_t)x->ncpus, sizeof(*v));
	int i;

	memset(out, 0, sizeof(*out));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &idx, v)) {
		int rc = -errno;

		free(v);
		return rc;
	}
	for (i = 0; i < x->ncpus; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->new_conns += v[i].new_conns;
		out->drops += v[i].drops;
	}
	free(v);
	return 0;
}
