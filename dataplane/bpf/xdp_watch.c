/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's side of the enforcement watch: a fingerprint of what
 * decides verdicts, cheap enough to take a few times a second. XDP has no
 * change notification, so the daemon polls it. Covered: zw_global (the
 * generation, hence the active slot), the active slot's header, the
 * program attached to each enforced interface (mode and id), and every
 * entry of the active slot's rule maps (keys and values; the counter maps
 * are left out: traffic changes them). Hash and trie entries are combined
 * without regard to order (a sum of per-entry hashes), so a map rebuilt in
 * another order fingerprints the same; arrays are read in batches and only
 * as far as the program can reach (zones and flows of the slot, the
 * ranges and candidates the port map and ranges refer to).
 */
#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
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

/* A fast hash of a large buffer, 8 bytes at a time (arrays of tens of
 * MB are hashed several times a second: FNV byte by byte is too slow). */
static uint64_t words_hash(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Entries past the highest index referenced are never read by the
 * program: the candidate and range arrays are hashed up to it. @refs 1:
 * @val is a struct zw_bpf_span, 2: a struct zw_bpf_range. */
static void note_ref(const uint8_t *val, int refs, __u32 *maxref)
{
	__u32 end;

	if (refs == 1) {
		struct zw_bpf_span sp;

		memcpy(&sp, val, sizeof(sp));
		end = sp.first + sp.count;
	} else {
		struct zw_bpf_range rg;

		memcpy(&rg, val, sizeof(rg));
		end = rg.first + rg.count;
	}
	if (end > *maxref)
		*maxref = end;
}

/* An array map in chunks of one syscall each (BPF_MAP_LOOKUP_BATCH): its
 * keys are its indices, in order, so its values are hashed as they come.
 * -EOPNOTSUPP when the kernel cannot batch it. */
static int array_fp(int fd, const struct bpf_map_info *info, __u32 limit,
		    int refs, __u32 *maxref, uint64_t *out)
{
	enum { CHUNK = 8192 };
	__u32 done = 0;
	uint8_t *vals = malloc((size_t)CHUNK * info->value_size);
	__u32 *keys = malloc(CHUNK * sizeof(*keys)), next = 0;
	uint64_t h = 0xcbf29ce484222325ULL;
	bool first = true;
	int rc = 0;

	if (!vals || !keys) {
		rc = -ENOMEM;
		goto out;
	}
	while (done < limit) {
		__u32 n = limit - done < CHUNK ? limit - done : CHUNK;

		rc = bpf_map_lookup_batch(fd, first ? NULL : &next, &next, keys,
					  vals, &n, NULL);
		first = false;
		if (rc && errno != ENOENT) {
			rc = -errno;
			goto out;
		}
		if (n)
			h = words_hash(h, vals, (size_t)n * info->value_size);
		for (__u32 i = 0; refs && i < n; i++)
			note_ref(vals + (size_t)i * info->value_size, refs, maxref);
		done += n;
		if (rc) { /* ENOENT: that was the last chunk */
			rc = 0;
			break;
		}
	}
	rc = 0;
	*out = h;
out:
	free(vals);
	free(keys);
	return rc;
}

/* Order-independent hash of every entry of map @fd. */
static int map_fp(int fd, __u32 limit, int refs, __u32 *maxref,
		  uint64_t *out)
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
	if (info.type == BPF_MAP_TYPE_ARRAY) {
		if (limit > info.max_entries)
			limit = info.max_entries;
		rc = array_fp(fd, &info, limit, refs, maxref, out);
		if (rc != -EOPNOTSUPP && rc != -EINVAL)
			return rc;
	}
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
		if (refs)
			note_ref(val, refs, maxref);
		n++;
	}
	free(val);
	if (errno != ENOENT)
		return -errno;
	*out = sum ^ (n * 0x9e3779b97f4a7c15ULL);
	return 0;
}

int zw_xdp__fingerprint(struct zw_xdp *x, char (*ifnames)[16],
			size_t n_if, bool with_maps, uint64_t *fp)
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
	__u32 maxref = 0; /* highest range/candidate index referenced + 1 */
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
	for (size_t i = 0; with_maps && g.generation &&
			   i < sizeof(rule_maps) / sizeof(rule_maps[0]); i++) {
		int fd = zw_xdp_slot_fd(x, rule_maps[i], k);
		__u32 limit = UINT32_MAX;
		int refs = 0;
		uint64_t m = 0;

		if (fd < 0)
			continue;
		/* arrays: the part the program can reach */
		switch (rule_maps[i]) {
		case ZW_SM_ZONEINFO: limit = meta.n_zones + 1; break;
		case ZW_SM_FLOWINFO: limit = meta.n_flows + 1; break;
		case ZW_SM_PORTS: refs = 1; break;
		case ZW_SM_RANGES: limit = maxref; refs = 2; break;
		case ZW_SM_CANDS: limit = maxref; break;
		default: break;
		}
		rc = map_fp(fd, limit, refs, &maxref, &m);
		if (rc)
			return rc;
		h = mix(h, &m, sizeof(m));
	}
	*fp = h;
	return 0;
}
