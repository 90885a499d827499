/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Random valid matrices and queries for differential tests and benchmarks.
 * Shared by the golden round-trip test, the engines' differential tests and
 * perf/compile-bench. Deterministic for a given seed.
 */
#ifndef ZONEWALL_TESTS_GEN_H
#define ZONEWALL_TESTS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/eval.h>

struct zw_matrix;

struct zw_gen_opts {
	uint64_t seed;
	size_t n_zones;	  /* >= 7 (every mandatory kind) */
	size_t n_flows;
	size_t n_services; /* matrix-declared services on top of built-ins */
	bool ipv6;	  /* zones get IPv6 networks too */
	bool narrowing;	  /* some flows narrow src/dst */
	bool expiry;	  /* some flows expire around ZONEWALL_TODAY */
	/* Edge values: protocol 0, ICMP types 0 and 255, port 65535,
	 * built-ins (ssh, icmp-echo) overridden, and without ipv6 a zone
	 * owning all of IPv6 (::/0) with /0 narrowing. */
	bool edges;
};

/* YAML text of a matrix that validates with no error (malloc'd). */
char *zw_gen__matrix(const struct zw_gen_opts *o);

/* A small xorshift generator, also for callers' own choices. */
uint64_t zw_gen__rand(uint64_t *state);

/*
 * A query likely to hit interesting cases of @m: addresses inside zones,
 * at narrowing edges and just outside them, outside addresses, ports and
 * ICMP types at range edges, days around expiry dates.
 */
void zw_gen__query(const struct zw_matrix *m, uint64_t *state,
		   int32_t today, struct zw_query *q);

#endif
