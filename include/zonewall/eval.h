/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall reference evaluator: the obviously-correct oracle. It answers
 * "what verdict does a NEW connection (src, dst, proto, port or ICMP type)
 * get, and by which flow", from a matrix model or from a policy image, by a
 * linear scan. Every engine is tested against it; it is kept simple on
 * purpose and is not a fast path.
 *
 * Semantics (docs/matrix-language.md): allowed if a live flow's from zone holds
 * the source (and its src narrowing, if any), its to zone holds the
 * destination (and dst narrowing) and one of its services matches protocol
 * and destination port (ICMP type). Among matching flows the one reported is
 * the first in matrix order. Otherwise traffic between two members of the
 * same declared, non-isolated zone is allowed; everything else is denied.
 */
#ifndef ZONEWALL_EVAL_H
#define ZONEWALL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_matrix;
struct zw_image;

struct zw_query {
	uint8_t family; /* ZW_AF_INET or ZW_AF_INET6 */
	uint8_t proto;	/* IP protocol number */
	uint16_t port;	/* destination port, or ICMP type; ignored for other
			 * protocols */
	uint8_t src[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t dst[16];
	int32_t day; /* days since epoch (UTC) for expiry */
};

enum zw_verdict_reason {
	ZW_VERDICT_FLOW,      /* allowed by flow */
	ZW_VERDICT_SAME_ZONE, /* allowed: both ends in one non-isolated zone */
	ZW_VERDICT_NO_FLOW,   /* denied: no flow matches */
	ZW_VERDICT_ISOLATED,  /* denied: both ends in one isolated zone */
	ZW_VERDICT_BLOCKED,   /* denied: crisis block list (image only) */
};

struct zw_verdict {
	bool allow;
	enum zw_verdict_reason reason;
	uint32_t flow;	  /* flow index, ZW_NO_FLOW when none */
	uint32_t service; /* service index of the matching service, when flow */
	uint32_t src_zone;
	uint32_t dst_zone;
};

/* The verdict for a connection no flow allows, both ends known: allowed
 * between two members of one declared, non-isolated zone, denied as
 * isolated in an isolated one, no flow otherwise. Shared by both readings. */
void zw_verdict__same_zone(struct zw_verdict *v, bool isolate);

/* Evaluate on the model (libzwmatrix). Service indexes are the model's. */
void zw_eval__matrix(const struct zw_matrix *m, const struct zw_query *q,
		     struct zw_verdict *v);

/* Evaluate on a verified image (libzwimage). Service indexes are the
 * image's. */
void zw_eval__image(const struct zw_image *img, const struct zw_query *q,
		    struct zw_verdict *v);

/* Parse "SRC DST PROTO [PORT|TYPE]" words into a query (day = today).
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is read as the IPv4 address
 * a.b.c.d. Returns 0 or -EINVAL with a reason in @err. */
int zw_query__parse(struct zw_query *q, const char *src, const char *dst,
		    const char *proto, const char *port, char *err,
		    size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_EVAL_H */
