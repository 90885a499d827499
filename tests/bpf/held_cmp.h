/* SPDX-License-Identifier: BSD-2-Clause */
/* The bpf tests' comparison of held rules (struct zw_held_rule lists) as
 * sets: order, engine_text and the ports of an "any" rule ignored. */
#ifndef ZONEWALL_TESTS_BPF_HELD_CMP_H
#define ZONEWALL_TESTS_BPF_HELD_CMP_H

#include <stdio.h>

#include <zonewall/backend.h>

/* One rule as a line, "from -> to proto lo-hi|any flow src dst", into
 * @buf (@len bytes). */
const char *zwt_held_line(const struct zw_held_rule *r, char *buf, size_t len);

/* 1 if @a and @b hold the same rules; otherwise 0, and each rule held by
 * one only is printed to @why (when not NULL) with "only in NAME". */
int zwt_held_same(const struct zw_backend_state *a, const char *a_name,
		  const struct zw_backend_state *b, const char *b_name,
		  FILE *why);

#endif
