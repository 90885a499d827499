/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall's eBPF/XDP engine (dataplane/bpf): the loader of the XDP
 * program and its pinned maps, and the backend zonewalld drives
 * (zw_backend_xdp, arg "IFACE[,IFACE...][,dir=PATH][,mode=native|generic]").
 *
 * Private to the engine: its backend, its tool zw-xdp, its tests
 * (tests/bpf) and perf/xdp_bench.c (meson zwbpf_internal_dep). The rest of
 * zonewall sees the engine only as zw_backend_xdp (zonewall/backend.h).
 *
 * An instance is a bpffs directory (default ZW_XDP_DEFAULT_DIR, or
 * $ZONEWALL_XDP_DIR) holding the pinned program, its maps and one pinned
 * link per interface: enforcement lives in the kernel and survives the
 * process that loaded it. Opening an instance that exists re-attaches to
 * it without flushing anything.
 *
 * Maps, keys and the swap protocol: docs/xdp-engine.md.
 * Conventions: integer functions return 0 or -errno and write a one-line
 * reason into @err when they take one; pointer functions return NULL and
 * set errno.
 */
#ifndef ZONEWALL_XDP_H
#define ZONEWALL_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/backend.h>
#include <zonewall/flow_record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_image;
struct zw_xdp;

#define ZW_XDP_DEFAULT_DIR "/sys/fs/bpf/zonewall"

enum zw_xdp_mode {
	ZW_XDP_MODE_AUTO = 0,	 /* native if the driver has it, else generic */
	ZW_XDP_MODE_NATIVE = 1,	 /* driver mode only */
	ZW_XDP_MODE_GENERIC = 2, /* skb mode only */
};

struct zw_xdp_opts {
	/* Connection-table entries when the instance is created (ignored
	 * when it exists: the pinned table keeps its size). 0 = default. */
	uint32_t conns;
};

/*
 * Open the instance in bpffs directory @dir (NULL: $ZONEWALL_XDP_DIR or
 * ZW_XDP_DEFAULT_DIR), creating it (program loaded, maps pinned, no policy,
 * nothing attached) when it does not exist. @opts may be NULL.
 */
int zw_xdp__open(const char *dir, const struct zw_xdp_opts *opts,
		 struct zw_xdp **out, char *err, size_t err_len);

/* Close the handle; the instance keeps enforcing. NULL-safe. */
void zw_xdp__close(struct zw_xdp *x);

/* Detach from every interface, forget the policy, unpin and remove the
 * instance directory. The handle stays usable: a later zw_xdp__apply()
 * re-creates the instance (pins) from it; zw_xdp__close() frees it. */
int zw_xdp__destroy(struct zw_xdp *x, char *err, size_t err_len);

/* Remove the instance in @dir (NULL: default) without loading anything:
 * unpinning its links detaches them; for an instance this build cannot
 * open (another ABI version). Returns 0, -ENOENT if there was none. */
int zw_xdp__purge(const char *dir, char *err, size_t err_len);

/*
 * Attach the program to interface @ifname (found with libnl) and pin the
 * link. Already attached: nothing changes (the link is re-pointed to this
 * handle's program if it runs another: another build, or the same program
 * on other maps). Returns 0 and the mode obtained in
 * *mode_out ("native" or "generic"), or -errno.
 */
int zw_xdp__attach(struct zw_xdp *x, const char *ifname, enum zw_xdp_mode mode,
		   const char **mode_out, char *err, size_t err_len);

/* Detach from @ifname (remove its pinned link). */
int zw_xdp__detach(struct zw_xdp *x, const char *ifname, char *err,
		   size_t err_len);

/*
 * Changing the policy, in two phases (pf's ticket commit; the backend's
 * prepare/commit/abort map onto these):
 *
 * zw_xdp__prepare() does everything that can fail: project @img for day
 * @day, fill the inactive policy slot, zero its counters, carry the
 * per-flow counters over, write its header. Packets see none of it.
 * Returns 0 and a ticket in *@out, or -errno with the reason (no ticket;
 * the inactive slot may be half filled: unused, the next prepare clears
 * it).
 *
 * zw_xdp__commit() switches the generation to the prepared slot in one
 * map update. Until that update every packet is judged by the previous
 * policy; after it, by the new one; connections are re-checked at their
 * next packet. It refuses (-ESTALE, nothing changes) a ticket made stale
 * by another apply since prepare (from any handle or process: the
 * generation differs) or by another prepare that re-filled the slot.
 * Consumes @t. Interfaces are not attached here (zw_xdp__attach).
 *
 * zw_xdp__abort() discards a ticket: the filled slot stays unused.
 * Consumes @t; NULL-safe.
 *
 * A handle may hold several tickets, but at most one can commit: the
 * first commit makes the others stale.
 */
struct zw_xdp_ticket;

int zw_xdp__prepare(struct zw_xdp *x, const struct zw_image *img, int32_t day,
		    struct zw_xdp_ticket **out, char *err, size_t err_len);
int zw_xdp__commit(struct zw_xdp *x, struct zw_xdp_ticket *t, char *err,
		   size_t err_len);
void zw_xdp__abort(struct zw_xdp *x, struct zw_xdp_ticket *t);

/* zw_xdp__prepare() then zw_xdp__commit() under one hold of the instance
 * lock (so concurrent applies are serialised and never stale): enforce
 * @img for day @day. On failure nothing changes. */
int zw_xdp__apply(struct zw_xdp *x, const struct zw_image *img, int32_t day,
		  char *err, size_t err_len);

/* Test hook: make the next zw_xdp__prepare() fail (-EIO) after it filled
 * the inactive slot and wrote its header, to prove that a failed prepare
 * changes nothing packets see. */
void zw_xdp__inject_failure(struct zw_xdp *x);

/* The caller mirrors the image's probes itself (the backend, with
 * xdp_mirror.c): zw_xdp__prepare() and zw_xdp__apply() then accept an
 * image with probes. Without it they refuse one, naming the probe (the
 * loader alone, e.g. zw-xdp, copies nothing to a probe). */
void zw_xdp__mirrored_elsewhere(struct zw_xdp *x);

/* An interface the instance is attached to. */
struct zw_xdp_link {
	char ifname[16];
	int ifindex;
	const char *mode; /* "native", "generic" or "detached" */
	uint32_t prog_id;
};

/* What the instance enforces, read back from the kernel. */
struct zw_xdp_status {
	uint32_t generation; /* 0: no policy */
	uint32_t slot;
	uint8_t sha256[32];  /* image of the active slot */
	char name[64];	     /* its matrix name */
	int32_t day;
	uint32_t n_flows, n_live, n_zones;
	uint32_t prog_id;
	uint32_t conns_max;
	uint32_t verifier_insns; /* instructions the verifier processed when
				  * this handle loaded the program (0 when
				  * not known) */
	uint32_t drop_sample, log_all_new;
	struct zw_xdp_link links[32];
	uint32_t n_links;
};

int zw_xdp__status(struct zw_xdp *x, struct zw_xdp_status *st);

/* Per-flow counters of the active image: @out[0..n), summed over CPUs,
 * carried over re-applies for flows whose id did not change. */
int zw_xdp__counters(struct zw_xdp *x, struct zw_flow_counters *out,
		     uint32_t n);

/* Counters of traffic admitted without a flow (same zone). */
int zw_xdp__counters_same_zone(struct zw_xdp *x, struct zw_flow_counters *out);

/* Engine statistics: drop reasons at their enum zw_drop_reason value, then
 * the ZW_BPF_ST_* counters (dataplane/bpf/zw_bpf_abi.h); @out holds
 * ZW_XDP_N_STATS values. */
#define ZW_XDP_N_STATS 28
int zw_xdp__stats(struct zw_xdp *x, uint64_t out[ZW_XDP_N_STATS]);

/* Entries of the connection tables (both families) in use, and their
 * capacity. Counting walks the keys (the kernel keeps no count of an LRU
 * hash): proportional to the connections. */
int zw_xdp__conns(struct zw_xdp *x, uint64_t *used, uint64_t *size);

/* Flow records: @drop_sample 0 none, 1 every drop, N one drop in N;
 * @log_all_new: a record for every new connection, not only for flows
 * with log: true. */
int zw_xdp__set_records(struct zw_xdp *x, uint32_t drop_sample,
			int log_all_new);

/* Only the second: what zonewalld's --log-all-flows sets at every
 * prepare (the drop sampling stays as it is). */
int zw_xdp__set_log_all(struct zw_xdp *x, int log_all_new);

/*
 * Consume flow records: call @cb for each record available, waiting up to
 * @timeout_ms for the first (0: do not wait). Returns the number consumed
 * or -errno. A non-zero return of @cb stops the consumption.
 */
int zw_xdp__poll_records(struct zw_xdp *x,
			 int (*cb)(const struct zw_flow_record *r, void *arg),
			 void *arg, int timeout_ms);

/*
 * The sweep of the connection tables: the ended and update records the
 * ring buffer does not carry (docs/telemetry.md). Each call examines at
 * most @o->budget entries, continuing where the previous call stopped
 * (a pass over both tables spans calls; a call ends at most one pass):
 *  - an entry expired by its idle timeout is removed; when its created
 *    record was emitted (ZW_CF_LOG) its ended record goes to @cb: end
 *    reason ZW_END_CLOSED when FIN from both sides or an RST was seen
 *    (TIME_WAIT and CLOSE expire after their own timeouts), else
 *    ZW_END_IDLE; time = its last packet;
 *  - a logged entry that crossed a multiple of the active timeout (counted
 *    from its start) since the previous pass began gives an update record
 *    (ZW_EV_UPDATE, ZW_END_ACTIVE, counters so far). Crossings merged
 *    because a pass took longer than the active timeout are counted
 *    (statistics: sweep_behind).
 * Records carry the extension (ZW_REC_F_EXT: both directions, start).
 * A non-zero return of @cb stops the sweep after that record (it was
 * taken). Never blocks. Returns the records handed, or -errno.
 */
struct zw_xdp_sweep_opts {
	uint64_t now_ns;	   /* the sweep's clock (engine clock, i.e.
				    * CLOCK_MONOTONIC); 0 = now. Tests pass a
				    * later time to age connections. */
	uint32_t active_timeout_s; /* 0 = ZW_ACTIVE_TIMEOUT_DEFAULT */
	uint32_t budget;	   /* entries examined; 0 = ZW_XDP_SWEEP_BUDGET */
};
#define ZW_XDP_SWEEP_BUDGET 8192
int zw_xdp__sweep(struct zw_xdp *x, const struct zw_xdp_sweep_opts *o,
		  int (*cb)(const struct zw_flow_record *r, void *arg),
		  void *arg);

/* File descriptor of the loaded program (tests: BPF_PROG_TEST_RUN). */
int zw_xdp__prog_fd(const struct zw_xdp *x);

/* Drift between the instance and what @img implies for the active slot's
 * day: malloc'd text naming each difference (map entries added, removed or
 * changed by hand, wrong image), or NULL when there is none (errno 0) or
 * on error (errno set). */
char *zw_xdp__drift(struct zw_xdp *x, const struct zw_image *img);

/*
 * Read-back as data. zw_xdp__held_rules() appends to @st->rules the rules
 * the active slot's maps hold, decoded into matrix terms
 * (zw_xdp_tables__held_rules, xdp_tables.h): zone names from @names when
 * it is the image the slot holds (same SHA-256; else "zone#N"), flow ids
 * from @names by the id hash the maps hold (else "unknown flow"). *@day (when not NULL) gets the day the slot
 * was filled for. 0 or -errno.
 *
 * zw_xdp__foreign() appends to @st->foreign one line per BPF program of
 * others on interface @ifname that can change a verdict: an XDP program
 * that is not this instance's (any mode), a tc clsact ingress/egress BPF
 * filter, a tcx program. 0 or -ENOMEM.
 */
int zw_xdp__held_rules(struct zw_xdp *x, const struct zw_image *names,
		       struct zw_backend_state *st, int32_t *day);
int zw_xdp__foreign(struct zw_xdp *x, const char *ifname,
		    struct zw_backend_state *st);

/* The enforcement watch (xdp_watch.c): a fingerprint of what decides
 * verdicts (generation, active slot header, the program on each of the
 * @n_if interfaces @ifnames and, @with_maps, the active slot's rule maps).
 * Two equal fingerprints: nothing changed in between. Cost without maps: a
 * few syscalls; with: the rule arrays read whole (batched) and one lookup
 * per trie and hash entry. 0 or -errno. */
int zw_xdp__fingerprint(struct zw_xdp *x, char (*ifnames)[16],
			size_t n_if, bool with_maps, uint64_t *fp);

/* The map entries flow @flow of @img produces (malloc'd text, journal). */
char *zw_xdp__describe_flow(const struct zw_image *img, uint32_t flow);

/* The backend zonewalld drives. */
extern const struct zw_backend_ops zw_backend_xdp;

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_XDP_H */
