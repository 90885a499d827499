/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's side of the enforcement watch: a fingerprint of what
 * decides verdicts, cheap enough to take a few times a second. XDP has no
 * change notification, so the daemon polls it. Covered: zw_global (the
 * generation, hence the active slot), the active slot's header, the
 * program attached to each enforced interface (mode and id), and every
 * entry of the active slot's rule maps (keys and values; the counter maps
 * are left out: traffic changes them). Entries are combined without regard
 * to order (a sum of per-entry hashes), so a map rebuilt in another order
 * fingerprints the same.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/policy.h>

#include "xdp_instance.h"

#define FP_KEY_MAX 256
#define FP_VAL_MAX 4096

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	return (h ^ zw_fnv1a64(p, n)) * 0x100000001b3ULL;
}

/* Order-independent hash of every entry of map @fd. */
static int map_fp(int fd, uint64_t *out)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	uint8_t key[FP_KEY_MAX], next[FP_KEY_MAX], *val;
	uint64_t sum = 0, n = 0;
	void *prev = NULL;
	int rc;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size > FP_KEY_MAX || info.value_size > FP_VAL_MAX)
		return -E2BIG;
	val = malloc(info.value_size ? info.value_size : 1);
	if (!val)
		return -ENOMEM;
	while (!(rc = bpf_map_get_next_key(fd, prev, next))) {
		uint8_t buf[FP_KEY_MAX + FP_VAL_MAX];

		memcpy(key, next, info.key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue; /* deleted meanwhile: the next pass sees it */
		memcpy(buf, key, info.key_size);
		memcpy(buf + info.key_size, val, info.value_size);
		sum += zw_fnv1a64(buf, info.key_size + info.value_size);
		n++;
	}
	free(val);
	if (errno != ENOENT)
		return -errno;
	*out = sum ^ (n * 0x9e3779b97f4a7c15ULL);
	return 0;
}

int zw_xdp__fingerprint(struct zw_xdp *x, char (*ifnames)[16],
			size_t n_if, uint64_t *fp)
{
	/* the rule maps; zw_cnt and zw_cntbase count traffic */
	static const enum zw_xdp_slot_map rule_maps[] = {
		ZW_SM_ZONES4, ZW_SM_ZONES6, ZW_SM_SETS4,    ZW_SM_SETS6,
		ZW_SM_BLOCK4, ZW_SM_BLOCK6, ZW_SM_ZONEINFO, ZW_SM_FLOWINFO,
		ZW_SM_PORTS,  ZW_SM_RANGES, ZW_SM_CANDS,
	};
	struct zw_bpf_global g;
	struct zw_bpf_slot meta;
	uint64_t h = 0xcbf29ce484222325ULL;
	__u32 k;
	int rc;

	rc = zw_xdp_global_read(x, &g);
	if (rc)
		return rc;
	h = mix(h, &g.generation, sizeof(g.generation));
	k = g.generation & 1;
	memset(&meta, 0, sizeof(meta));
	if (g.generation &&
	    bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &meta))
		return -errno;
	h = mix(h, &meta, sizeof(meta));
	for (size_t i = 0; i < n_if; i++) {
		unsigned idx = if_nametoindex(ifnames[i]);
		__u32 prog = 0;
		const char *mode = idx ? zw_xdp_attached_mode((int)idx, &prog)
				       : "absent";

		h = mix(h, &idx, sizeof(idx));
		h = mix(h, &prog, sizeof(prog));
		h = mix(h, mode, strlen(mode));
	}
	for (size_t i = 0; g.generation && i < sizeof(rule_maps) / sizeof(rule_maps[0]); i++) {
		int fd = zw_xdp_slot_fd(x, rule_maps[i], k);
		uint64_t m = 0;

		if (fd < 0)
			continue;
		rc = map_fp(fd, &m);
		if (rc)
			return rc;
		h = mix(h, &m, sizeof(m));
	}
	*fp = h;
	return 0;
}
