/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ruleset build (policy image -> struct zwnft_ruleset), private to the
 * files that make it, one concept each:
 *
 *   nft_ruleset.c   the ruleset's items, the build's steps, per-flow index
 *   nft_names.c     names of chains, sets and counters
 *   nft_expr.c      the rule builder: expressions and their nft text
 *   nft_counters.c  named counters
 *   nft_sets.c      address ranges, zone maps, narrowing and rate sets
 *   nft_chains.c    which chains exist, and their rules
 *   nft_text.c      the ruleset in nft syntax (print, describe_flow)
 *
 * The rest of the engine sees the ruleset through zwnft.h only.
 */
#ifndef ZONEWALL_DATAPLANE_NFT_NFT_BUILD_H
#define ZONEWALL_DATAPLANE_NFT_NFT_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zwnft.h"

struct zw_image;
struct zw_img_pair;
struct zw_img_rule;
struct nftnl_expr;
struct nftnl_rule;

/* IPv6 extension headers the engine looks at (the shared packet parser,
 * dataplane/core/zw_parse.h, makes the same decisions). */
#define ZWNFT_IP6_HOPOPTS 0
#define ZWNFT_IP6_ROUTING 43
#define ZWNFT_IP6_AH 51

/* ---- ruleset items (nft_ruleset.c) ---- */

/* Append an item of kind @k named @name (copied) for @flow (ZW_NO_FLOW if
 * shared); the caller fills in its object and text. NULL if out of
 * memory. */
struct zwnft_item *zwnft_ruleset__push(struct zwnft_ruleset *rs,
				       enum zwnft_kind k, const char *name,
				       uint32_t flow);
/* Set the comment (@type NFTNL_UDATA_*_COMMENT) of @obj: a chain (@kind
 * ZWNFT_CHAIN), a rule (ZWNFT_RULE) or a table (any other @kind). @text
 * is cut to nft's limit. 0 or -ENOMEM. */
int zwnft_udata_set_comment(void *obj, int kind, uint8_t type,
			    const char *text);

/* ---- names (nft_names.c) ---- */

/* printf into @buf[ZWNFT_NAME_MAX]: 0, or -E2BIG if it does not fit. */
int zwnft_name__fmt(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* from_<zone> and pair_<from>_<to> into @buf[ZWNFT_NAME_MAX]. */
int zwnft_name__from(char *buf, const struct zw_image *img, uint32_t z);
int zwnft_name__pair(char *buf, const struct zw_image *img, uint32_t a,
		     uint32_t b);
/* The counter of drop reason @reason (enum zw_drop_reason): "zw_" and
 * zw_drop_reason__name() with '-' as '_' ("zw_no_flow"), except
 * ZW_DROP_FLOW_REMOVED, counted in "zw_cut". Returns @buf or a constant. */
const char *zwnft_name__drop(char buf[ZWNFT_NAME_MAX], unsigned reason);
/* The image's name of zone @z and id of flow @f (point into @img). */
const char *zwnft_zone_name(const struct zw_image *img, uint32_t z);
const char *zwnft_flow_id(const struct zw_image *img, uint32_t f);

/* ---- the rule builder (nft_expr.c) ---- */

/* One rule being built: its libnftnl expressions and/or its nft text, as
 * the ruleset's mode asks. Out of memory is remembered and reported by
 * zwnft_rb__end(). */
struct zwnft_rb {
	struct nftnl_rule *r;
	struct zwnft_buf t;
	bool oom;
	bool objects; /* build libnftnl expressions */
	bool text;    /* build the nft-syntax text */
};

/* Start a rule of @chain. 0 or -ENOMEM. */
int zwnft_rb__begin(struct zwnft_rb *rb, const struct zwnft_ruleset *rs,
		    const char *chain);
/* Finish the rule (optional @comment, the narrowing sets it uses) and
 * append it to @rs; on error the rule is freed. 0 or -ENOMEM. */
int zwnft_rb__end(struct zwnft_rb *rb, struct zwnft_ruleset *rs,
		  const char *chain, uint32_t flow, const char *comment,
		  uint32_t src_set, uint32_t dst_set);

/* Raw pieces, for matches with no builder of their own: append text
 * (space-separated), allocate an expression (NULL when objects are not
 * built, or out of memory), append it to the rule, compare register 1. */
void zwnft_rb__text(struct zwnft_rb *rb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct nftnl_expr *zwnft_rb__expr(struct zwnft_rb *rb, const char *name);
void zwnft_rb__add(struct zwnft_rb *rb, struct nftnl_expr *e);
void zwnft_rb__cmp(struct zwnft_rb *rb, uint32_t op, const void *data,
		   uint32_t len);

/* Matches (family: ZW_AF_INET or ZW_AF_INET6). */
void zwnft_rb__nfproto(struct zwnft_rb *rb, int family);
void zwnft_rb__ct_state(struct zwnft_rb *rb, uint32_t mask, const char *text);
void zwnft_rb__hdr_addr_in(struct zwnft_rb *rb, int family, bool src,
			   const char *set);
void zwnft_rb__ct_addr(struct zwnft_rb *rb, int family, bool src,
		       const char *set, bool vmap);
void zwnft_rb__ct_addr_prefix(struct zwnft_rb *rb, int family, bool src,
			      const uint8_t *addr, int len);
void zwnft_rb__ct_proto(struct zwnft_rb *rb, uint8_t proto);
void zwnft_rb__ct_pdst(struct zwnft_rb *rb, uint16_t lo, uint16_t hi);
void zwnft_rb__tcp_not_syn(struct zwnft_rb *rb);
void zwnft_rb__exthdr6(struct zwnft_rb *rb, uint8_t type, uint32_t off,
		       bool present);
void zwnft_rb__ah6(struct zwnft_rb *rb, bool yes);

/* Statements. */
void zwnft_rb__counter(struct zwnft_rb *rb, const char *name);
void zwnft_rb__verdict(struct zwnft_rb *rb, int verdict, const char *chain);
void zwnft_rb__rate(struct zwnft_rb *rb, int family, const char *set,
		    uint32_t rate);
void zwnft_rb__log(struct zwnft_rb *rb, const char *prefix, uint16_t group);
/* ct mark & @mask ==/!= @value */
void zwnft_rb__ct_mark(struct zwnft_rb *rb, uint32_t mask, uint32_t value,
		       bool eq);
/* ct mark set ct mark & @keep | @value: the bits of @keep survive (the
 * flow index of the records beside L7's bits) */
void zwnft_rb__ct_mark_set(struct zwnft_rb *rb, uint32_t keep, uint32_t value);
/* A denial to NFLOG (the engine's log group) for the records: prefix
 * ZWNFT_DENY_PREFIX "REASON " or, for a flow's own drops, "REASON #FLOW "
 * (nft_records.c reads it back). */
void zwnft_rb__deny_log(struct zwnft_rb *rb, const struct zwnft_ruleset *rs,
			unsigned reason, uint32_t flow);
/* To NFQUEUE @num, without the bypass flag: dropped when no process
 * listens (fail closed). The xt NFQUEUE target through nft_compat, which
 * kernels without nft's own queue expression also have. */
void zwnft_rb__queue(struct zwnft_rb *rb, uint16_t num);

/* The protocol's name as nft prints it (@buf for a number). */
const char *zwnft_proto_name(uint8_t p, char buf[4]);
/* TCP, UDP, SCTP, DCCP, UDP-Lite: conntrack keeps a destination port. */
bool zwnft_proto_has_ports(uint8_t p);

/* ---- the build in progress ---- */

/* A pair chain pair_<from>_<to>. */
struct zwnft_pchain {
	uint32_t from;
	uint32_t to;
	const struct zw_img_pair *p; /* NULL: no rule */
};

struct zwnft_build {
	const struct zw_image *img;
	struct zwnft_ruleset *rs;
	int32_t day;
	/* pair chains, in (from, to) order: self pairs merged with the
	 * image's pairs */
	struct zwnft_pchain *pc;
	size_t n_pc;
	bool *from_chain;  /* [zone]: zone has a from_<zone> chain */
	bool *flow_chain;  /* [flow]: flow has a flow_<id> chain */
	bool *set_used;	   /* [set]: narrowing set used by a live rule */
	bool *flow_l7;	   /* [flow]: its connections go to the inspector
			    * (opts.queue_set, and inspect: or block-file) */
	bool any_l7;
	/* what ends a packet nothing matched: "deny", or with opts.l7_only
	 * "uninspected" (accepted) */
	const char *rest;
};

/* The steps, in this order (each 0 or -errno; nft_ruleset.c frees what
 * the plan allocates): */
/* Decide which chains exist (nft_chains.c). */
int zwnft_build__plan(struct zwnft_build *b);
/* The named counters (nft_counters.c). */
int zwnft_build__counters(struct zwnft_build *b);
/* The chains, empty (nft_chains.c). */
int zwnft_build__chains(struct zwnft_build *b);
/* Sets and maps; @from_names[zone]: from_<zone>, NULL without a chain
 * (nft_sets.c). */
int zwnft_build__sets(struct zwnft_build *b, char **from_names);
/* The rules of every chain (nft_chains.c). */
int zwnft_build__rules(struct zwnft_build *b);

/* ---- narrowing (nft_sets.c) ---- */

/* The families a rule can match: 0 = both in one family-free rule, else
 * a bit mask (1 = IPv4, 2 = IPv6) of per-family rules; -1: none. */
int zwnft_rule_families(const struct zw_image *img,
			const struct zw_img_rule *ru);
/* Whether narrowing set @set holds exactly one prefix of family @fam
 * (after merging), then in @addr/@len: the rule compares it inline. */
bool zwnft_set_single_prefix(const struct zw_image *img, uint32_t set,
			     int fam, uint8_t addr[16], int *len);

#endif /* ZONEWALL_DATAPLANE_NFT_NFT_BUILD_H */
