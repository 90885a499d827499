/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's projection of a policy image: every map entry one
 * policy slot holds, computed in user space as a pure function of (image,
 * day). The loader writes these entries into the kernel; describe_flow
 * prints the ones a flow produced; the unit tests check, without a kernel,
 * that looking them up the way the BPF program does gives the reference
 * evaluator's answer; read-back decodes entries back into rules
 * (xdp_decode.c). Private to dataplane/bpf.
 */
#ifndef ZONEWALL_XDP_TABLES_H
#define ZONEWALL_XDP_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include <zonewall/eval.h>
#include <zonewall/policy.h>

#include "zw_bpf_abi.h"

struct zw_xdp_zone4 {
	struct zw_bpf_lpm4 k;
	struct zw_bpf_zone_val v;
};
struct zw_xdp_zone6 {
	struct zw_bpf_lpm6 k;
	struct zw_bpf_zone_val v;
};
struct zw_xdp_port {
	struct zw_bpf_port_key k;
	struct zw_bpf_span v;
};

struct zw_xdp_tables {
	struct zw_xdp_zone4 *zones4;
	size_t n_zones4;
	struct zw_xdp_zone6 *zones6;
	size_t n_zones6;
	struct zw_bpf_set4 *sets4; /* value: 1 */
	size_t n_sets4;
	struct zw_bpf_set6 *sets6;
	size_t n_sets6;
	struct zw_bpf_lpm4 *block4; /* value: 1 */
	size_t n_block4;
	struct zw_bpf_lpm6 *block6;
	size_t n_block6;
	struct zw_bpf_zoneinfo *zoneinfo; /* [n_zones] */
	uint32_t n_zones;
	struct zw_bpf_flowinfo *flowinfo; /* [n_flows] */
	uint32_t n_flows;
	struct zw_xdp_port *ports;
	size_t n_ports;
	struct zw_bpf_range *ranges;
	size_t n_ranges;
	struct zw_bpf_cand *cands;
	size_t n_cands;
	uint32_t n_live;     /* flows live on the day */
	uint32_t max_scan;   /* longest candidate list */
	uint32_t max_ranges; /* longest range list */
};

/*
 * Project @img for day @day (flows with expires < day get no entry).
 * Returns 0 and *out (free with zw_xdp_tables__free), or -E2BIG when the
 * image exceeds a map capacity or a verifier bound (ZW_BPF_CAND_SCAN,
 * ZW_BPF_RANGE_STEPS) with the reason in @err, or -ENOMEM.
 */
int zw_xdp_tables__build(const struct zw_image *img, int32_t day,
			 struct zw_xdp_tables **out, char *err,
			 size_t err_len);

/* NULL-safe. */
void zw_xdp_tables__free(struct zw_xdp_tables *t);

struct zw_backend_state;

/*
 * Read-back as data (xdp_decode.c): the rules the rule-lookup entries of
 * @t (ports, ranges, cands, sets4/6, flowinfo) hold, appended to @st as
 * struct zw_held_rule: one per (zone pair, protocol, flow, src set, dst
 * set) and maximal port interval on which that flow can decide (rules
 * an earlier flow always decides first are not held: the projection
 * leaves them out). Zone names come from @names by index (NULL or out of
 * range: "zone#N"; zone indexes mean something only in the image the
 * tables were built from), flow ids from @flow_names by the id hash
 * flowinfo holds (any image: the hash is the id's): a flow whose hash no
 * flow of @flow_names has (or NULL) gets flow_id "" and an engine_text
 * starting "unknown flow". engine_text quotes the map entries behind the rule as
 * `bpftool map dump` prints them, map names with slot @slot.
 * 0 or -ENOMEM.
 */
int zw_xdp_tables__held_rules(const struct zw_xdp_tables *t, unsigned slot,
			      const struct zw_image *names,
			      const struct zw_image *flow_names,
			      struct zw_backend_state *st);

/*
 * The BPF program's classification of a new connection, done in C over the
 * tables (same steps: zone tries, exact port key, range binary search,
 * candidate scan with narrowing, same-zone rule). Crisis block list
 * included. Fills @v like zw_eval__image() (service is not known: 0).
 */
void zw_xdp_tables__classify(const struct zw_xdp_tables *t,
			     const struct zw_query *q, struct zw_verdict *v);

/*
 * Text of the map entries flow @flow produces (for the journal), or NULL
 * with errno set. @day: liveness day (INT32_MIN: every flow live).
 */
char *zw_xdp_tables__describe_flow(const struct zw_image *img, uint32_t flow,
				   int32_t day);

#endif /* ZONEWALL_XDP_TABLES_H */
