/* SPDX-License-Identifier: BSD-2-Clause */
/* Private to matrix/: helpers shared by parser, validator and compiler. */
#ifndef ZONEWALL_MATRIX_INTERNAL_H
#define ZONEWALL_MATRIX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/matrix.h>

/* Grow *v (elements of @size) so it holds at least @need; 0 or -ENOMEM. */
int zw_grow(void **v, size_t *cap, size_t need, size_t size);

/* One entry of the built-in catalogue, as YAML text parsed at start-up by
 * the same parser as the matrix's own services (one mechanism). */
struct zw_builtin_service {
	const char *name;
	const char *yaml; /* flow-style YAML of the service value */
	unsigned classes; /* enum zw_svc_class */
};
extern const struct zw_builtin_service zw_builtin_services[];

/* The parser's tables (parse.c): the keys each mapping may hold (NULL-
 * terminated; any other key is an error); the values of 'inspect' are
 * libzwimage's zw_inspect_names.
 * The JSON Schema (schema.c) is generated from them. */
extern const char *const zw_parse_keys_root[];
extern const char *const zw_parse_keys_zone[];
extern const char *const zw_parse_keys_svc_entry[];
extern const char *const zw_parse_keys_flow[];
extern const char *const zw_parse_keys_probe[];
#define ZW_PARSE_MAX_PROBES 64	 /* probes in a matrix */
#define ZW_PARSE_MAX_ZONES 4096	 /* zones in a matrix */
#define ZW_PARSE_MAX_LIST 1000000 /* entries of any list */

/* ZW060, ZW061: the probes' interfaces (matrix/probes.c). */
void zw_probes__check(const struct zw_matrix *m, struct zw_diags *diags);

/* ZW040: append a warning for every redundant live flow. */
void zw_redundancy__check(const struct zw_matrix *m, int32_t today,
			  struct zw_diags *diags);

/* ---- traffic as boxes (boxes.c) ---- */

typedef unsigned __int128 zw_u128;

/* Inclusive interval; addresses as 32- or 128-bit integers. */
struct zw_ival {
	zw_u128 lo, hi;
};

/* The addresses of a prefix as an interval. */
struct zw_ival zw_prefix_ival(const struct zw_prefix *p);

/* A box of traffic: family, protocol, and three inclusive intervals:
 * d[0] destination port (tcp/udp/sctp) or ICMP type (0..255 when any),
 * [0,0] for other protocols; d[1] source address; d[2] destination. */
struct zw_box {
	uint8_t family;
	uint8_t proto;
	uint32_t flow;	  /* flow index it came from */
	uint32_t service; /* service index it came from */
	struct zw_ival d[3];
};

/* The outside zone of one family: the gaps between declared prefixes. */
struct zw_outside {
	bool ready;
	struct zw_ival *gaps;
	zw_u128 *before; /* sum of the sizes of the gaps before gaps[i] */
	size_t n;
};

/* A list of boxes built from ONE matrix (it caches that matrix's outside
 * gaps). Zero-initialise; release with zw_boxes__fini(). */
struct zw_boxes {
	struct zw_box *v;
	size_t n, cap;
	bool oom; /* set when an append failed */
	/* Outside addresses with the declared ones squeezed out, so the outside
	 * zone is one interval instead of one per gap. Exact for comparing
	 * flows of one matrix (redundancy); not comparable across matrices. */
	bool squeeze_outside;
	struct zw_outside outside[2]; /* [0] IPv4, [1] IPv6 */
};

void zw_boxes__fini(struct zw_boxes *b);

/* Append every box flow @flow allows (ignoring expiry) to @out. */
void zw_boxes__flow(const struct zw_matrix *m, uint32_t flow,
		    struct zw_boxes *out);
/* The port (tcp/udp/sctp) or ICMP type ranges of a service entry, or one
 * range standing for all (ICMP without types: 0..255; other protocols:
 * 0..0, stored in @all): *r points at them; returns their number. */
size_t zw_entry__ranges(const struct zw_svc_entry *en,
			const struct zw_range **r, struct zw_range *all);
/* The addresses (family index @fi: 0 IPv4, 1 IPv6) of @zone narrowed to
 * narrow[0..n_narrow) (none: the whole zone), as sorted, disjoint,
 * non-adjacent intervals in @bx's coordinates (outside squeezed when
 * bx->squeeze_outside). *out is malloc'd; false when memory ran out. */
bool zw_boxes__addrs(const struct zw_matrix *m, struct zw_boxes *bx,
		     uint32_t zone, const struct zw_prefix *narrow,
		     size_t n_narrow, int fi, struct zw_ival **out, size_t *n);
/* The same addresses as zw_boxes__flow() takes them: one interval per
 * prefix (per gap for the outside zone without narrowing), in declaration
 * order, neither sorted nor merged (prefixes of one zone may nest). */
bool zw_boxes__ivals(const struct zw_matrix *m, struct zw_boxes *bx,
		     uint32_t zone, const struct zw_prefix *narrow,
		     size_t n_narrow, int fi, struct zw_ival **out, size_t *n);
/* One protocol and port (or ICMP type) range of a flow's services, in the
 * order zw_boxes__flow() takes them (service, entry, range). */
struct zw_svc_item {
	uint8_t proto;
	uint32_t service;
	struct zw_ival r;
};
/* Append the items of flow @f to *it (*n of them, *cap allocated);
 * false when memory ran out. */
bool zw_flow__items(const struct zw_matrix *m, const struct zw_flow *f,
		    struct zw_svc_item **it, size_t *n, size_t *cap);
bool zw_box__intersects(const struct zw_box *a, const struct zw_box *b);
/* 1 if @b lies in the union of cands[0..n) (each intersecting @b), 0 if
 * not, -1 when memory ran out. */
int zw_box__covered(const struct zw_box *b, const struct zw_box *const *cands,
		    size_t n);
/* Append @b minus the union of cands[0..n) to @out as disjoint boxes
 * (flow/service of @b). 0 or -ENOMEM. */
int zw_box__subtract(const struct zw_box *b, const struct zw_box *const *cands,
		     size_t n, struct zw_boxes *out);

/* Free the contents of a service (not the struct itself). */
void zw_service_fini(struct zw_service *s);

#endif
