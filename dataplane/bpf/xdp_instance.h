/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the XDP loader: the handle behind struct zw_xdp and what the
 * loader's files share. One concept per file:
 *
 *   xdp_instance.c  life cycle: open (load, pin), close, destroy, purge,
 *                   re-pin; the instance lock
 *   xdp_maps.c      map access: slot maps by number, zw_global, keys,
 *                   clear, batched put, per-CPU sums
 *   xdp_link.c      links: attach, detach, which program a link runs
 *   xdp_apply.c     apply: fill the inactive slot, carry counters over,
 *                   switch the generation
 *   xdp_status.c    read-back: status, per-flow counters, statistics
 *   xdp_records.c   flow records: settings, the ring buffer, the sweep
 *                   of the connection tables (ended, update records)
 *   xdp_drift.c     drift between the instance and an image
 *   xdp_held.c      read-back as data: held rules (decoded by
 *                   xdp_decode.c), foreign programs on the interfaces
 *
 * Not for the engine's users (zw-xdp, the backend, tests): their API is
 * xdp.h. Conventions as there: integer functions return 0 or -errno.
 */
#ifndef ZONEWALL_XDP_INSTANCE_H
#define ZONEWALL_XDP_INSTANCE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/flow_record.h>
#include "xdp.h"

#include "zonewall.skel.h"
#include "zw_bpf_abi.h"

/* The sweep of the connection tables (xdp_records.c): where it is in its
 * pass, and the chunk of entries read but not all handled yet. */
struct zw_xdp_sweep_state {
	int family;	   /* 0: zw_conns4, 1: zw_conns6 */
	int started;	   /* @cursor holds the next bucket of @family */
	int last;	   /* the chunk is the last of @family */
	__u32 cursor;	   /* bpf_map_lookup_batch's bucket cursor */
	uint64_t pass_ns;  /* the clock when this pass began */
	uint64_t prev_ns;  /* ... and when the previous one did */
	void *keys;	   /* ZW_XDP_SWEEP_CHUNK keys (of either family) */
	struct zw_bpf_conn *vals;
	uint32_t n, i;	   /* entries in the chunk, next to handle */
	/* not yet added to zw_stats */
	uint64_t ended, updates, behind;
};

struct zw_xdp {
	char dir[PATH_MAX];
	struct zonewall_bpf *skel;
	uint32_t verifier_insns;
	struct ring_buffer *rb;
	int (*rb_cb)(const struct zw_flow_record *r, void *arg);
	void *rb_arg;
	struct zw_xdp_sweep_state sw;
	int ncpus;
	int destroyed; /* unpinned by zw_xdp__destroy(); apply re-pins */
	int inject_failure; /* zw_xdp__inject_failure() */
	int probes_ok; /* zw_xdp__mirrored_elsewhere() */
};

/* ---- xdp_instance.c ---- */

/* Write the reason into @err (when it has room) and return @rc. */
int zw_xdp_fail(char *err, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Writers of an instance (apply, record settings, destroy) from any handle
 * or process take this lock on the instance directory: two applies at once
 * would fill the same inactive slot with a mixture of both images and give
 * both the same generation, and a read-modify-write of zw_global would put
 * back an older generation. Returns the fd to pass to zw_xdp_unlock(),
 * or -errno.
 */
int zw_xdp_lock(const struct zw_xdp *x);

/* Release the lock zw_xdp_lock() returned; a negative @fd is ignored. */
void zw_xdp_unlock(int fd);

/* Re-create the pins of a destroyed instance from this handle. */
int zw_xdp_repin(struct zw_xdp *x, char *err, size_t err_len);

/* ---- xdp_maps.c ---- */

/* The maps of one policy slot, by number (name: zw_xdp_slot_map_names[m]
 * followed by _0 or _1). */
enum zw_xdp_slot_map {
	ZW_SM_ZONES4,
	ZW_SM_ZONES6,
	ZW_SM_SETS4,
	ZW_SM_SETS6,
	ZW_SM_BLOCK4,
	ZW_SM_BLOCK6,
	ZW_SM_ZONEINFO,
	ZW_SM_FLOWINFO,
	ZW_SM_PORTS,
	ZW_SM_RANGES,
	ZW_SM_CANDS,
	ZW_SM_CNT,
	ZW_SM_CNTBASE,
	ZW_SM__COUNT
};

extern const char *const zw_xdp_slot_map_names[ZW_SM__COUNT];

/* fd of map @m of policy slot @slot (low bit), or -ENOENT. */
int zw_xdp_slot_fd(const struct zw_xdp *x, enum zw_xdp_slot_map m,
		   unsigned slot);

/* zw_global[0]. */
int zw_xdp_global_read(const struct zw_xdp *x, struct zw_bpf_global *g);
int zw_xdp_global_write(const struct zw_xdp *x, const struct zw_bpf_global *g);

/* Every key of map @fd (malloc'd, key_size each), in *n. */
int zw_xdp_map_keys(int fd, size_t key_size, void **out, size_t *n);

/* Delete every entry of hash/trie map @fd. */
int zw_xdp_map_clear(int fd, size_t key_size);

/* Update @n entries, batched where the map type allows it (@batch). */
int zw_xdp_map_put(int fd, const void *keys, size_t key_size,
		   const void *vals, size_t val_size, size_t n, int batch);

/* Sum over CPUs of per-CPU counters @idx of map @fd into @out. */
int zw_xdp_percpu_sum(const struct zw_xdp *x, int fd, __u32 idx,
		      struct zw_bpf_counters *out);

/* ---- xdp_link.c ---- */

/* Tag (and id when @id is not NULL) of program @prog_fd. */
int zw_xdp_prog_tag(int prog_fd, __u8 tag[8], __u32 *id);

/* 1 if program @id is this instance's: this build's program (tag) on
 * exactly the maps this handle's program uses (the pinned ones). */
int zw_xdp_prog_is_ours(const struct zw_xdp *x, __u32 id);

/* XDP mode on @ifindex ("native", "generic", "offload" or "detached"),
 * and the id of the program attached in *prog_id (when not NULL). */
const char *zw_xdp_attached_mode(int ifindex, __u32 *prog_id);

#endif /* ZONEWALL_XDP_INSTANCE_H */
