/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall backends: the one interface through which zonewalld programs an
 * enforcement engine (nftables, eBPF/XDP, DPDK). Each engine provides one
 * struct zw_backend_ops; the daemon holds a list of opened backends and
 * drives them all with the same image.
 *
 * Contract for every engine:
 *  - apply() is atomic: on success the engine judges every packet by the new
 *    image; on failure it still judges every packet by the previous one.
 *    Connections whose flow is absent from the new image are cut.
 *  - state survives the daemon: an engine keeps enforcing after close() and
 *    after the daemon is killed; open() attaches to what is already there
 *    and never flushes it (reconcile, do not re-add blindly).
 *  - flows whose expires date is before @day are not enforced; the daemon
 *    re-applies the active image when a UTC day starts.
 *  - apply() is idempotent: the daemon applies the same image again for a
 *    new day, at start-up when read_back() shows drift, and to restore the
 *    previous image when another backend refused a new one.
 *  - read_back() reports what the engine itself holds (its image SHA-256
 *    and any difference from @expected), never what the daemon last sent:
 *    it is how the daemon decides, at start-up, to change nothing.
 *  - describe_flow() is called for every flow added, changed or removed by
 *    a commit (100 000 times for a 100 000-flow first commit): keep it
 *    proportional to that flow's rules (zw_backend__describe_rules() keeps
 *    a per-image index). The daemon calls every op from one thread.
 *  - destroy(), when provided, is also used to clear an engine that took
 *    the very first version of a commit another backend refused (there is
 *    no previous image to restore).
 */
#ifndef ZONEWALL_BACKEND_H
#define ZONEWALL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_image;
struct zw_backend;

/* Per-flow counters, summed over CPUs/lcores. */
struct zw_flow_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t new_conns;
	uint64_t drops; /* packets of this flow dropped while it is in force
			 * (rate limit, engine-specific); packets of connections
			 * cut because their flow left the policy cannot be
			 * counted here (the flow is gone): engines count them by
			 * drop reason (ZW_DROP_FLOW_REMOVED) */
};

/* What an engine really enforces, read back from the engine itself. */
struct zw_backend_state {
	int enforcing;		/* 1 if a zonewall policy is loaded */
	uint8_t sha256[32];	/* SHA-256 of the image it enforces */
	char detail[256];	/* engine-specific one-liner (mode, ports...) */
	char *drift;		/* malloc'd text naming each difference between
				 * what the image implies and what is live
				 * (rules added or removed by hand), or NULL */
};

struct zw_backend_ops {
	const char *name; /* "nft", "xdp", "dpdk" */

	/* Open the engine described by @arg (the part after "name:" in
	 * --backend, or "" ). Attach to existing state, change nothing.
	 * Returns 0 or -errno with a reason in @err. */
	int (*open)(const char *arg, struct zw_backend **out, char *err,
		    size_t err_len);

	/* Atomically enforce @img for day @day (days since epoch, UTC).
	 * Returns 0 or -errno with a reason in @err. */
	int (*apply)(struct zw_backend *be, const struct zw_image *img,
		     int32_t day, char *err, size_t err_len);

	/* Read back what is enforced. Returns 0 or -errno. The caller frees
	 * st->drift. */
	int (*read_back)(struct zw_backend *be, const struct zw_image *expected,
			 struct zw_backend_state *st);

	/* Per-flow counters for the image in force: fills @out[0..n_flows).
	 * Returns 0 or -errno. */
	int (*counters)(struct zw_backend *be, struct zw_flow_counters *out,
			uint32_t n_flows);

	/* The technical implementation of flow @flow in this engine (rules,
	 * map entries), as malloc'd text, for the journal (REQUIREMENTS L1).
	 * Pure function of the image; needs no open engine. */
	char *(*describe_flow)(const struct zw_image *img, uint32_t flow);

	/* Detach; enforcement stays in place. NULL-safe. */
	void (*close)(struct zw_backend *be);

	/* Remove everything the engine installed (tests, uninstall).
	 * Optional (may be NULL). */
	int (*destroy)(struct zw_backend *be);
};

/* The engines. Each is defined by its own library (dataplane/...) and is
 * listed in zw_backends[] only when that library is built. */
extern const struct zw_backend_ops zw_backend_nft;  /* dataplane/nft */
extern const struct zw_backend_ops zw_backend_xdp;  /* dataplane/bpf */
extern const struct zw_backend_ops zw_backend_dpdk; /* dataplane/dpdk client */
/* Test double (control/backend_file.c), always built: "file:PATH" writes
 * the image it is given to PATH (atomically) and enforces nothing; it fails
 * apply() while PATH.fail exists. For the daemon's own tests and dry runs,
 * never a filter. */
extern const struct zw_backend_ops zw_backend_file;

/* Engines linked into this build, NULL-terminated. */
extern const struct zw_backend_ops *const zw_backends[];

/* Find an engine by name, or NULL. */
const struct zw_backend_ops *zw_backend__find(const char *name);

/*
 * Open the engine named by a --backend SPEC ("nft", "xdp:eth0,eth1",
 * "dpdk:/run/zw-dpdk.sock", "file:/tmp/x.img"): finds the engine by the
 * part before ':' and calls its open() with the rest ("" when none).
 * Returns 0 or -errno with a one-line reason in @err (-ENOENT: no such
 * engine in this build; the reason lists those that are).
 */
int zw_backend__open_spec(const char *spec, const struct zw_backend_ops **ops,
			  struct zw_backend **be, char *err, size_t err_len);

/*
 * Engine-neutral text of flow @flow's rules in @img, one line per rule:
 * "ops -> jump tcp/22 src any dst any" (malloc'd; "no rule" when the flow
 * has none, e.g. left out by a crisis measure). Engines may use it as part
 * of describe_flow().
 */
char *zw_backend__describe_rules(const struct zw_image *img, uint32_t flow);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_BACKEND_H */
