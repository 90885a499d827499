/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rte_acl input layouts: the pipeline writes one of these per packet (zone
 * pair from the LPM, addresses and ports from the packet, all in network
 * order) and classifies them in bulk. Shared by the engine and perf/.
 */
#ifndef ZW_DPDK_ACL_LAYOUT_H
#define ZW_DPDK_ACL_LAYOUT_H

#include <stdint.h>

#include <rte_acl.h>

struct zw_acl4_in {
	uint8_t proto;
	uint8_t pad[3];
	uint16_t szone, dzone; /* big-endian */
	uint32_t src, dst;     /* network order */
	uint16_t any, dport;   /* any is 0; dport big-endian (ICMP: type) */
};
_Static_assert(sizeof(struct zw_acl4_in) == 20, "acl4 input");

struct zw_acl6_in {
	uint8_t proto;
	uint8_t pad[3];
	uint16_t szone, dzone;
	uint8_t src[16], dst[16];
	uint16_t any, dport;
};
_Static_assert(sizeof(struct zw_acl6_in) == 44, "acl6 input");

#define ZW_ACL4_FIELDS 7
#define ZW_ACL6_FIELDS 13

RTE_ACL_RULE_DEF(zw_acl4_rule, ZW_ACL4_FIELDS);
RTE_ACL_RULE_DEF(zw_acl6_rule, ZW_ACL6_FIELDS);

extern const struct rte_acl_field_def zw_acl4_defs[ZW_ACL4_FIELDS];
extern const struct rte_acl_field_def zw_acl6_defs[ZW_ACL6_FIELDS];

struct zw_acl_rule;
/* Fill an rte_acl rule from a rules.h rule of the same family. */
void zw_acl4_rule__fill(struct zw_acl4_rule *out, const struct zw_acl_rule *r);
void zw_acl6_rule__fill(struct zw_acl6_rule *out, const struct zw_acl_rule *r);
/* Build an ACL context from rules.h rules of one family; NULL with
 * rte_errno set (ENOENT when @n is 0). */
struct rte_acl_ctx *zw_acl__build(const char *name, int socket, uint8_t family,
				  const struct zw_acl_rule *rules, size_t n);

#endif /* ZW_DPDK_ACL_LAYOUT_H */
