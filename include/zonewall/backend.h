/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall backends: the one interface through which zonewalld programs an
 * enforcement engine (nftables, eBPF/XDP, DPDK). Each engine provides one
 * struct zw_backend_ops; its instances embed struct zw_backend (first or
 * anywhere: engines get back to their own struct with zw_container_of()).
 *
 * Changing the policy is a two-phase commit across engines, modelled on
 * pf's ticket commit (OpenBSD pf_ioctl.c, DIOCXBEGIN/DIOCXCOMMIT/
 * DIOCXROLLBACK):
 *  - prepare(img, day) does everything that can fail (the nft batch built
 *    against the live ruleset, the XDP inactive slot filled, the DPDK
 *    context built and uploaded) and returns a ticket. Nothing a packet
 *    sees changes.
 *  - commit(ticket) is the one step that switches the engine to the new
 *    policy (one netlink transaction, one generation flip, one RCU pointer
 *    swap). It cannot fail in practice; when it does (the engine changed
 *    behind our back since prepare, a process died) the engine still
 *    judges every packet by its previous policy and says why.
 *  - abort(ticket) discards a prepared ticket; nothing changes.
 * The daemon prepares every engine, then commits all (engines.c), so a
 * refusal by any engine changes no engine. An engine holds at most one
 * ticket at a time; a ticket is consumed by commit or abort.
 *
 * Other rules for every engine:
 *  - state survives the daemon: an engine keeps enforcing after close() and
 *    after the daemon is killed; open() attaches to what is already there
 *    and never flushes it (reconcile, do not re-add blindly).
 *  - flows whose expires date is before @day are not enforced; the daemon
 *    programs the active image again when a UTC day starts.
 *  - programming the same image again is harmless (idempotent).
 *  - read_back() reports what the engine itself holds, never what the
 *    daemon last sent, and as data: the rules it really holds in matrix
 *    terms, and anything foreign on its hooks that can change a verdict.
 *  - destroy() is mandatory: it removes everything the engine installed
 *    and says why when it cannot.
 *  - The daemon calls every op from one thread.
 */
#ifndef ZONEWALL_BACKEND_H
#define ZONEWALL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/flow_record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_image;
struct zw_flow_record;
struct zw_backend_ops;

/* The appliance-wide flow-record settings (zonewalld --log-all-flows,
 * --flow-active-timeout). The daemon sets them in the engine's base after
 * open() and before the first prepare(); an engine applies them at every
 * prepare(), so they reach the dataplane with the policy. */
struct zw_record_conf {
	bool log_all;		   /* created/ended/update for every flow,
				    * not only for flows with log: true */
	uint32_t active_timeout_s; /* update record of a long-lived
				    * connection every S seconds; 0 = the
				    * default, ZW_ACTIVE_TIMEOUT_DEFAULT */
};
#define ZW_ACTIVE_TIMEOUT_DEFAULT 300u

/* Base of every engine instance; the engine's own struct embeds it
 * (zero-initialised by open(): no log_all, default active timeout). */
struct zw_backend {
	const struct zw_backend_ops *ops;
	struct zw_record_conf rec;
};

#define zw_container_of(ptr, type, member)                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A prepared change (engine-specific, opaque to the daemon). */
struct zw_ticket;

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

/*
 * Engine-wide statistics (the stats op), for the metrics endpoint. Every
 * value is the engine's own running count (summed over CPUs, lcores,
 * workers) since it was started: a lower value than before is a reset.
 */
struct zw_engine_stats {
	/* Packets dropped by reason (enum zw_drop_reason in flow_record.h),
	 * valid where drop_counted[reason] is true: the engine counts that
	 * reason (false: it does not count it, or cannot drop for it). */
	uint64_t drops[ZW_DROP__COUNT];
	bool drop_counted[ZW_DROP__COUNT];
	/* The connection table, when has_conns: entries in use, its
	 * capacity, and entries dropped early to make room for new
	 * connections (valid when has_early_drops). */
	bool has_conns;
	bool has_early_drops;
	uint64_t conn_used;
	uint64_t conn_size;
	uint64_t early_drops;
	/* Flow records the engine produced and lost before the daemon could
	 * pull them (a full ring, an overwritten buffer), when
	 * has_records_lost. */
	bool has_records_lost;
	uint64_t records_lost;
};

/*
 * One allow rule an engine really holds, decoded back into matrix terms.
 * Zone and flow names are those the engine holds (so a rule added by hand
 * shows what it allows even when no flow of the active version does).
 */
struct zw_held_rule {
	char from[33];	   /* source zone name */
	char to[33];	   /* destination zone name */
	uint8_t proto;	   /* IP protocol number */
	bool any;	   /* every port / ICMP type (lo, hi ignored) */
	uint16_t lo, hi;   /* destination ports or ICMP types, inclusive */
	char flow_id[65];  /* the flow the engine attributes it to, "" none */
	char *src;	   /* narrowed source prefixes "a,b", NULL = zone */
	char *dst;	   /* narrowed destination prefixes, NULL = zone */
	char *engine_text; /* the rule in the engine's own words (nft rule
			    * text, map key/value), or NULL */
};

/* What an engine really enforces, read back from the engine itself. */
struct zw_backend_state {
	int enforcing;		/* 1 if a zonewall policy is loaded */
	uint8_t sha256[32];	/* SHA-256 of the image it says it enforces */
	char detail[256];	/* engine-specific one-liner (mode, ports...) */
	char *drift;		/* text naming each difference between what
				 * @expected implies and what is live (rules
				 * added or removed by hand), or NULL */
	/* As data: the rules held (rules_known = 0 when the engine cannot
	 * decode them), and one line per foreign object on the engine's
	 * hooks that can change a verdict (another table's base chain, another
	 * XDP program...). */
	bool rules_known;
	struct zw_held_rule *rules;
	size_t n_rules;
	char **foreign;
	size_t n_foreign;
};

/* Free what a read_back() filled and zero @st. NULL-safe. */
void zw_backend_state__fini(struct zw_backend_state *st);
/* Append a held rule (strings copied); 0 or -ENOMEM. */
int zw_backend_state__add_rule(struct zw_backend_state *st,
			       const struct zw_held_rule *r);
/* Append a foreign object's line (printf-style); 0 or -ENOMEM. */
int zw_backend_state__add_foreign(struct zw_backend_state *st,
				  const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Fill st->rules with the rules of @img live on @day, in matrix terms: for
 * engines that hold a verified image as such (DPDK, file). 0 or -ENOMEM. */
int zw_backend_state__add_image_rules(struct zw_backend_state *st,
				      const struct zw_image *img, int32_t day);

/*
 * Describes the technical implementation of the flows of one image in one
 * engine (rules, map entries), for the journal (REQUIREMENTS L1). Built once
 * per image (a commit describes every added, changed or removed flow:
 * 100 000 times for a 100 000-flow first commit), so each describe() is
 * proportional to that flow's rules. Engines embed it.
 */
struct zw_describer {
	/* malloc'd text, or NULL with errno set */
	char *(*describe)(struct zw_describer *d, uint32_t flow);
	void (*free)(struct zw_describer *d); /* NULL-safe via helper */
};

/* The engine-neutral describer: one line per rule of the flow,
 * "ops -> jump tcp/22 src any dst any" ("no rule" when the flow has none,
 * e.g. left out by a crisis measure). NULL with errno on failure. */
struct zw_describer *zw_rule_describer__new(const struct zw_image *img);
/* d->describe(d, flow), NULL-safe on @d. */
char *zw_describer__describe(struct zw_describer *d, uint32_t flow);
/* d->free(d); NULL-safe. */
void zw_describer__free(struct zw_describer *d);

/* Receives flow records from records(); return non-zero to stop. */
typedef int (*zw_record_fn)(void *ctx, const struct zw_flow_record *rec);

struct zw_backend_ops {
	const char *name; /* "nft", "xdp", "dpdk" */

	/* Open the engine described by @arg (the part after "name:" in
	 * --backend, or ""). Attach to existing state, change nothing.
	 * Returns 0 or -errno with a reason in @err. */
	int (*open)(const char *arg, struct zw_backend **out, char *err,
		    size_t err_len);

	/* Phase one: make ready to enforce @img for day @day (days since
	 * epoch, UTC) without changing what packets see. Returns 0 with a
	 * ticket in *@t, or -errno with a reason in @err (no ticket). */
	int (*prepare)(struct zw_backend *be, const struct zw_image *img,
		       int32_t day, struct zw_ticket **t, char *err,
		       size_t err_len);
	/* Phase two: switch to the prepared policy. Consumes @t. Returns 0,
	 * or -errno with a reason in @err: the engine is then still on its
	 * previous policy (-ESTALE: it changed since prepare). */
	int (*commit)(struct zw_backend *be, struct zw_ticket *t, char *err,
		      size_t err_len);
	/* Discard a prepared ticket; consumes @t; NULL-safe. */
	void (*abort)(struct zw_backend *be, struct zw_ticket *t);

	/* Read back what is enforced (see struct zw_backend_state), compared
	 * with @expected (may be NULL). Returns 0 or -errno. The caller calls
	 * zw_backend_state__fini(). */
	int (*read_back)(struct zw_backend *be, const struct zw_image *expected,
			 struct zw_backend_state *st);

	/* Per-flow counters for the image in force: fills @out[0..n_flows).
	 * Returns 0 or -errno. */
	int (*counters)(struct zw_backend *be, struct zw_flow_counters *out,
			uint32_t n_flows);

	/* Engine-wide statistics (struct zw_engine_stats): drops by reason,
	 * connection-table occupancy and early drops. Fills all of @out
	 * (zeroed first; what the engine does not count stays false).
	 * Returns 0 or -errno when the engine cannot be asked. */
	int (*stats)(struct zw_backend *be, struct zw_engine_stats *out);

	/* Hand the flow records the engine has produced since the last call
	 * to @fn, at most @max of them, without blocking. Returns how many
	 * were handed, or -errno. Engines that produce none yet return 0. */
	int (*records)(struct zw_backend *be, zw_record_fn fn, void *ctx,
		       size_t max);

	/* A describer of @img's flows in this engine. Needs no open engine.
	 * NULL with errno on failure. */
	struct zw_describer *(*describer)(const struct zw_image *img);

	/* The enforcement watch (control/daemon/watch.c), so the daemon
	 * notices within a second a change it did not make:
	 *
	 * watch_fd() returns a descriptor the daemon polls for POLLIN (the
	 * engine's change notifications: nftables' netlink multicast group),
	 * or -1 when the engine has none (the daemon then calls check() on a
	 * short period). The engine owns it.
	 *
	 * check() is the cheap test, called when watch_fd() is readable and
	 * on every watch period: it consumes pending notifications and
	 * returns 0 when nothing the daemon did not do can have changed what
	 * the engine enforces since the last check() or commit(), 1 when
	 * something may have (or when it cannot tell: the first call), and
	 * -errno when the engine cannot be asked. On 1 the daemon calls
	 * read_back() and compares: a false 1 costs a read-back, never an
	 * alert. The engine's own commit() re-bases it (a change made through
	 * this handle is not reported). */
	int (*watch_fd)(struct zw_backend *be);
	int (*check)(struct zw_backend *be);

	/* Detach; enforcement stays in place. NULL-safe. */
	void (*close)(struct zw_backend *be);

	/* Remove everything the engine installed (uninstall, tests, clearing
	 * an engine that took the very first version). Mandatory. Returns 0
	 * or -errno with the reason in @err. */
	int (*destroy)(struct zw_backend *be, char *err, size_t err_len);
};

/* The production engines. Each is defined by its own library (dataplane/)
 * and listed only when that library is built. */
extern const struct zw_backend_ops zw_backend_nft;  /* dataplane/nft */
extern const struct zw_backend_ops zw_backend_xdp;  /* dataplane/bpf */
extern const struct zw_backend_ops zw_backend_dpdk; /* dataplane/dpdk client */
/* Test double (tests/control/backend_file.c): "file:PATH" writes the image
 * it is given to PATH (atomically) and enforces nothing; prepare() fails
 * while PATH.fail exists, commit() while PATH.commit-fail exists. Never in
 * the production list: the tests register it. */
extern const struct zw_backend_ops zw_backend_file;

/* Add an engine to this process's list (tests: the file engine). At most
 * 8; returns 0, -EEXIST (same name) or -ENOSPC. */
int zw_backend__register(const struct zw_backend_ops *ops);

/* Find an engine by name (production list, then registered), or NULL. */
const struct zw_backend_ops *zw_backend__find(const char *name);

/*
 * Open the engine named by a --backend SPEC ("nft", "xdp:eth0,eth1",
 * "dpdk:/run/zw-dpdk.sock"): finds the engine by the part before ':' and
 * calls its open() with the rest ("" when none).
 * Returns 0 or -errno with a one-line reason in @err (-ENOENT: no such
 * engine in this build; the reason lists those that are).
 */
int zw_backend__open_spec(const char *spec, struct zw_backend **be, char *err,
			  size_t err_len);

/* prepare() then commit() on one engine: for tools that drive a single
 * engine (zw-nft-apply, zw-xdp). 0 or -errno with the reason in @err. */
int zw_backend__apply(struct zw_backend *be, const struct zw_image *img,
		      int32_t day, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_BACKEND_H */
