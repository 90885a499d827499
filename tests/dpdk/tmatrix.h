/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test helpers of the DPDK engine's tests: random valid matrices (YAML
 * text), compilation to a verified image, new-connection queries aimed at
 * every rule's edges, and a minimal frame builder. The reference evaluator
 * (zw_eval__image) gives every expected verdict.
 */
#ifndef ZW_TESTS_DPDK_TMATRIX_H
#define ZW_TESTS_DPDK_TMATRIX_H

#include <stddef.h>
#include <stdint.h>

#include <zonewall/eval.h>
#include <zonewall/policy.h>

struct zw_prefix;

/* Deterministic PRNG (xorshift64*). */
uint64_t zt_rand(uint64_t *s);
static inline uint32_t zt_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(zt_rand(s) % n) : 0;
}

/* A random matrix that validates (minimal profile, every kind of service,
 * narrowing, isolation, expired flows, ICMP types, "any" protocols), as
 * malloc'd YAML text. @n_flows flows. */
char *zt_matrix_yaml(uint64_t seed, unsigned n_flows);

/* Parse, validate (today = @day) and compile @yaml with the optional crisis
 * block list; print diagnostics to stderr on failure. Returns a verified
 * image or NULL. */
struct zw_image *zt_compile(const char *yaml, int32_t day,
			    const struct zw_prefix *block, size_t n_block);
/* With full compile options (block list, excluded flows). */
struct zw_compile_opts;
struct zw_image *zt_compile_opts(const char *yaml, int32_t day,
				 const struct zw_compile_opts *o);
/* Same from a file. */
struct zw_image *zt_compile_file(const char *path, int32_t day);

/* Fill @q with a query near some rule of @img (port edges, narrowing
 * edges, other zones, other protocols) or a random one. */
void zt_query(const struct zw_image *img, uint64_t *s, int32_t day,
	      struct zw_query *q);

/* One frame for a query-like packet. */
struct zt_pkt {
	uint8_t family, proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* ICMP: dport = type << 8 | code, sport = id */
	uint8_t tcp_flags;
	uint32_t tag; /* written in the payload (identifies the packet) */
};
/* Build into @buf; returns the length. */
size_t zt_frame(const struct zt_pkt *p, uint8_t *buf, size_t cap);
/* The tag of a frame built by zt_frame, or UINT32_MAX. */
uint32_t zt_frame_tag(const uint8_t *buf, size_t len);
/* A packet for query @q with tag @tag and source port @sport. */
void zt_pkt_of_query(const struct zw_query *q, uint16_t sport, uint32_t tag,
		     struct zt_pkt *p);

/* ZONEWALL_TODAY (the test day) as days since epoch. */
int32_t zt_today(void);

#endif
