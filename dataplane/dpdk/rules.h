/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Policy image -> DPDK lookup structures, as plain data (no DPDK needed):
 * the zone LPM entries (with the crisis block bit folded in) and the ACL
 * rules of every zone pair. zonewall-dpdk programs rte_lpm/rte_lpm6 and
 * rte_acl from exactly these lists; the daemon-side client prints them for
 * the journal (describe_flow), so what the journal says is what runs.
 */
#ifndef ZW_DPDK_RULES_H
#define ZW_DPDK_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zw_image;

/* LPM next hop: zone index in the low 16 bits, ZW_NH_BLOCKED when the
 * address is in the crisis block list. */
#define ZW_NH_ZONE_MASK 0xffffu
#define ZW_NH_BLOCKED (1u << 16)

struct zw_lpm_entry {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16]; /* network order, host bits zero */
	uint32_t nh;	  /* zone | ZW_NH_BLOCKED */
	bool from_block;  /* entry added for a block-list prefix */
};

/*
 * Every LPM entry to install for @img, sorted by (family, addr, len). Zone
 * prefixes give their zone; a block prefix gives the zone its addresses
 * have without it, plus ZW_NH_BLOCKED; a zone prefix inside a block prefix
 * gets ZW_NH_BLOCKED too. Addresses matching no entry are zone 0
 * (outside), not blocked. *out is malloc'd. Returns 0 or -ENOMEM.
 */
int zw_lpm_entries__build(const struct zw_image *img,
			  struct zw_lpm_entry **out, size_t *n);

/* One ACL rule. Pairs are disjoint through the zone fields, so only the
 * order inside a pair matters: the image's rule order, lowest index wins. */
struct zw_acl_rule {
	uint32_t rule;	   /* image rule index; ACL userdata is rule + 1 */
	uint32_t flow;	   /* image flow index */
	uint32_t priority; /* rte_acl priority, higher wins */
	uint8_t family;	   /* 4 or 6 */
	uint8_t proto;
	uint16_t src_zone;
	uint16_t dst_zone;
	uint16_t lo, hi;	    /* destination port or ICMP type, inclusive */
	uint8_t src_len, dst_len; /* 0 = whole zone */
	uint8_t src[16], dst[16]; /* network order */
};

/* Highest priority given to a rule (rte_acl's RTE_ACL_MAX_PRIORITY). */
#define ZW_ACL_MAX_PRIORITY 0x1fffffffu

/*
 * The ACL rules of family @family (4 or 6) for @img on day @day (dead
 * flows give no rule). A rule with narrowing sets gives one ACL rule per
 * (src prefix, dst prefix) of that family; a rule whose set has no prefix
 * of the family gives none. If @flow is not ZW_NO_FLOW, only that flow's
 * rules. *out is malloc'd (may be NULL when *n is 0). Returns 0, -ENOMEM,
 * or -E2BIG past ZW_ACL_MAX_PRIORITY rules.
 */
int zw_acl_rules__build(const struct zw_image *img, int32_t day,
			uint8_t family, uint32_t flow,
			struct zw_acl_rule **out, size_t *n);

/* Format one rule / entry as one line (no newline) into @buf. */
void zw_acl_rule__format(const struct zw_image *img,
			 const struct zw_acl_rule *r, char *buf, size_t len);
void zw_lpm_entry__format(const struct zw_image *img,
			  const struct zw_lpm_entry *e, char *buf, size_t len);

/* The journal text of flow @flow (every LPM entry of its zones and every
 * ACL rule it produces, both families); malloc'd, NULL with errno set. */
char *zw_dpdk__describe_flow(const struct zw_image *img, uint32_t flow);

/* Days since epoch (UTC) of now; used when no day is given. */
int32_t zw_dpdk__today(void);

/* The 32 bits of a flow's id hash (struct zw_img_flow.id_hash, stored by
 * the compiler) that connections remember to recognise their flow across
 * policy generations. */
static inline uint32_t zw_dpdk__flow_hash(uint64_t id_hash)
{
	return (uint32_t)(id_hash ^ (id_hash >> 32));
}

#endif /* ZW_DPDK_RULES_H */
