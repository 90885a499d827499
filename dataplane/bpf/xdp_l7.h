/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * L7 inspection for the XDP engine (xdp_l7.c, docs/l7.md): the XDP
 * program judges L3/L4 and passes what it allows to the kernel; the
 * connections of flows with an `inspect:` service, or under a crisis
 * block-file measure, are then sent to zw-inspect (NFQUEUE) by an
 * nftables table of their own (default inet zonewall_xdp_l7), built by
 * the nftables engine in its opts.l7_only mode and committed with the XDP
 * policy. On by default, like the nftables engine's inspection: queue
 * ZW_INSPECT_QUEUE_DEFAULT and the image ZW_XDP_INSPECT_IMAGE_DEFAULT
 * unless queue=N / inspect_image=PATH say otherwise; the engine sets its
 * base's inspect at open, so zonewalld runs zw-inspect for it. l7=off:
 * the operator waives `inspect:` (never a block-file measure, refused);
 * a build without the nftables engine refuses images that need it,
 * naming the flows.
 */
#ifndef ZONEWALL_XDP_L7_H
#define ZONEWALL_XDP_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zonewall/backend.h>

#define ZW_XDP_L7_TABLE_DEFAULT "zonewall_xdp_l7"
/* The image zw-inspect reads: the nftables engine's default (that of its
 * default table, zonewall), so that both engines in one daemon agree on
 * the one inspector's image without options. */
#define ZW_XDP_INSPECT_IMAGE_DEFAULT ZW_INSPECT_IMAGE_DIR "/zonewall.img"

struct xdp_l7 {
	bool off;	/* l7=off */
	bool queue_set; /* queue=N given */
	uint16_t queue;
	char table[64];
	char image[256]; /* inspect_image=, "" default (set by open) */
	struct zw_backend *nft; /* the L7 table's engine, NULL without L7 */
};

/* One token of the backend argument: 1 if it is an L7 option (queue=N,
 * inspect_image=PATH, l7_table=NAME, l7=off), 0 if not, -EINVAL. */
int xdp_l7__option(struct xdp_l7 *l, const char *tok, char *err,
		   size_t err_len);
/* After the options: open the L7 table's engine (unless l7=off) and say
 * in @need (the engine's base) that the daemon must run zw-inspect. */
int xdp_l7__open(struct xdp_l7 *l, struct zw_inspector_need *need, char *err,
		 size_t err_len);
void xdp_l7__close(struct xdp_l7 *l);

/* What of @img the engine cannot enforce (refused, flows named), then the
 * L7 table checked by the kernel without committing it: *@t (NULL with
 * l7=off). commit sends it (and writes the image zw-inspect reads);
 * abort drops it. 0 or -errno with @err. */
int xdp_l7__prepare(struct xdp_l7 *l, const struct zw_image *img, int32_t day,
		    struct zw_ticket **t, char *err, size_t err_len);
int xdp_l7__commit(struct xdp_l7 *l, struct zw_ticket *t, char *err,
		   size_t err_len);
void xdp_l7__abort(struct xdp_l7 *l, struct zw_ticket *t);

/* Append to @out the L7 table's state: its detail, and its drift against
 * @expected (a missing table is drift). 0 or -errno. */
int xdp_l7__read_back(struct xdp_l7 *l, const struct zw_image *expected,
		      struct zw_backend_state *out);
/* 1 when the L7 table changed behind the engine's back, 0, -errno. */
int xdp_l7__check(struct xdp_l7 *l);
/* The L7 table's drops: by reason into @st, per flow added to @c. */
int xdp_l7__stats(struct xdp_l7 *l, struct zw_engine_stats *st);
int xdp_l7__counters(struct xdp_l7 *l, struct zw_flow_counters *c,
		     uint32_t n_flows);
/* Remove the L7 table. */
int xdp_l7__destroy(struct xdp_l7 *l, char *err, size_t err_len);

#endif /* ZONEWALL_XDP_L7_H */
