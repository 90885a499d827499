// SPDX-License-Identifier: BSD-2-Clause
/*
 * L7 inspection inline in the DPDK workers (docs/l7.md): `inspect:`
 * conformance and crisis block-file measures with libzwl7 (Hyperscan).
 *
 *  - At context build (PREPARE, control thread): which image rules carry
 *    an inspected service (ctx->rule_l7), refusal of what cannot be
 *    enforced (named flows), and, at the first policy that needs it, the
 *    Hyperscan database and one pool per worker (zw_l7_pool: connection
 *    states, streams and a scratch space of its own, all preallocated).
 *    The patterns do not depend on the image, so the database and pools
 *    are made once and handed on to every later context: a connection
 *    under inspection keeps its streams across policy swaps.
 *  - On the fast path (the worker that owns the connection): a new
 *    connection of an inspected flow takes a slot of its worker's pool
 *    (none left: the connection is refused, fail closed); each of its
 *    packets' payload is fed, TCP in sequence order as zw-inspect does;
 *    judged good, the slot goes back and the entry is fast-pathed (one
 *    flag test per packet); cut, every later packet is dropped.
 *
 * Built without Hyperscan, the engine refuses images that ask for L7.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>

#include <zonewall/flow_record.h>
#include <zonewall/policy.h>
#ifdef ZW_HAVE_L7
#include <zonewall/l7.h>
#endif

#include "zwdpdk.h"

struct zw_l7_opts zw_l7_opts = { .conns = ZW_L7_CONNS_DEFAULT };

#ifdef ZW_HAVE_L7

/* What a worker keeps per slot beside libzwl7's state: the TCP sequence
 * expected next per direction. */
struct l7_slot {
	struct zw_l7_conn *c;
	uint32_t seq[2];
	uint8_t known[2];
};

static struct zw_l7_db *l7db;
static struct zw_l7_pool *pools[ZW_MAX_WORKERS];
static struct l7_slot *slots[ZW_MAX_WORKERS];

static int make_pools(uint32_t n_workers, char *err, size_t err_len)
{
	uint32_t i, n = zw_l7_opts.conns ? zw_l7_opts.conns : ZW_L7_CONNS_DEFAULT;

	if (!l7db) {
		char why[256] = "";

		l7db = zw_l7_db__new(why, sizeof(why));
		if (!l7db) {
			snprintf(err, err_len, "L7 inspection unavailable: %s",
				 why);
			return -EOPNOTSUPP;
		}
	}
	for (i = 0; i < n_workers && i < ZW_MAX_WORKERS; i++) {
		if (pools[i])
			continue;
		slots[i] = calloc(n, sizeof(*slots[i]));
		pools[i] = zw_l7_pool__new(l7db, n);
		if (!pools[i] || !slots[i]) {
			zw_l7_pool__free(pools[i]);
			free(slots[i]);
			pools[i] = NULL;
			slots[i] = NULL;
			snprintf(err, err_len, "cannot allocate %u L7 connection "
				 "states per worker (lower --l7-conns)", n);
			return -ENOMEM;
		}
	}
	return 0;
}

void zw_l7__fini(void)
{
	for (uint32_t i = 0; i < ZW_MAX_WORKERS; i++) {
		zw_l7_pool__free(pools[i]);
		free(slots[i]);
		pools[i] = NULL;
		slots[i] = NULL;
	}
	zw_l7_db__free(l7db);
	l7db = NULL;
}

unsigned zw_l7__used(uint32_t worker)
{
	return worker < ZW_MAX_WORKERS && pools[worker] ?
		       zw_l7_pool__used(pools[worker]) : 0;
}

unsigned zw_l7__size(uint32_t worker)
{
	return worker < ZW_MAX_WORKERS && pools[worker] ?
		       zw_l7_pool__size(pools[worker]) : 0;
}

#else /* no Hyperscan */

void zw_l7__fini(void)
{
}

unsigned zw_l7__used(uint32_t worker)
{
	(void)worker;
	return 0;
}

unsigned zw_l7__size(uint32_t worker)
{
	(void)worker;
	return 0;
}

#endif

/* Append " FLOW (inspect, protocol N)" to the refusal in @err. */
static void name_flow(const struct zw_image *img, const struct zw_img_rule *ru,
		      const char *head, int *bad, size_t *off, char *err,
		      size_t err_len)
{
	if (!(*bad)++)
		*off = (size_t)snprintf(err, err_len, "%s", head);
	if (*off < err_len)
		*off += (size_t)snprintf(err + *off, err_len - *off,
					 " %s (%s, protocol %u)",
					 zw_image__str(img, img->flows[ru->flow].id),
					 zw_image__str(img, img->services[ru->service].inspect),
					 ru->proto);
}

int zw_ctx__l7_build(struct zw_ctx *ctx, char *err, size_t err_len)
{
	const struct zw_image *img = ctx->img;
	size_t off = 0;
	int bad = 0, any = 0;
	uint32_t r;

	if (img->n_fileblock && zw_l7_opts.off) {
		snprintf(err, err_len, "crisis block-file needs L7 inspection, "
			 "which this engine runs without (--no-l7): refused");
		return -EOPNOTSUPP;
	}
	for (r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];

		if (img->services[ru->service].inspect &&
		    zw_image__flow_live(img, ru->flow, ctx->day)) {
			any = 1;
			break;
		}
	}
	if (!any && !img->n_fileblock)
		return 0;
	if (zw_l7_opts.off) {
		/* said at every load, never silent: the operator chose it */
		fprintf(stderr, "zonewall-dpdk: --no-l7: inspect: is NOT "
			"enforced on this policy's inspected flows\n");
		return 0;
	}
#ifdef ZW_HAVE_L7
	ctx->rule_l7 = calloc(img->n_rules + 1, 1);
	if (!ctx->rule_l7) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];
		int p;

		if (!img->services[ru->service].inspect ||
		    !zw_image__flow_live(img, ru->flow, ctx->day))
			continue;
		p = zw_l7__service_proto(img, ru->service);
		if (p >= 0 && p < 255 && zw_l7_proto__checks(p, ru->proto)) {
			ctx->rule_l7[r] = (uint8_t)(p + 1);
			continue;
		}
		name_flow(img, ru, "inspect cannot be enforced on these flows "
			  "(protocol not checkable over this transport):",
			  &bad, &off, err, err_len);
	}
	if (bad)
		return -EOPNOTSUPP;
	{
		int rc = make_pools(ctx->n_workers, err, err_len);

		if (rc)
			return rc;
	}
	ctx->l7 = 1;
	return 0;
#else
	for (r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];

		if (img->services[ru->service].inspect &&
		    zw_image__flow_live(img, ru->flow, ctx->day))
			name_flow(img, ru, "this build has no L7 inspection "
				  "(Hyperscan): inspect cannot be enforced on "
				  "these flows:", &bad, &off, err, err_len);
	}
	if (img->n_fileblock && !bad)
		snprintf(err, err_len, "this build has no L7 inspection "
			 "(Hyperscan): crisis block-file refused");
	return -EOPNOTSUPP;
#endif
}

#ifdef ZW_HAVE_L7

/*
 * The L4 payload of frame @f (@flen bytes) of parsed packet @p: Ethernet
 * with VLAN tags, IPv4 with options or IPv6 without extension headers,
 * TCP or UDP. -1 when it cannot be had here (fragment, extension
 * headers, truncated): such a packet of a connection under inspection is
 * dropped, never passed unseen.
 */
static int payload(const uint8_t *f, uint32_t flen, const struct zw_pkt *p,
		   const uint8_t **data, uint32_t *len, uint32_t *seq)
{
	uint32_t off = 12, l4, end, hl;
	uint16_t et;

	for (;;) {
		if (off + 2 > flen)
			return -1;
		et = (uint16_t)(f[off] << 8 | f[off + 1]);
		off += 2;
		if (et != 0x8100 && et != 0x88a8)
			break;
		off += 2;
	}
	if (p->flags & (ZW_PF_FRAG | ZW_PF_FRAG_LATER))
		return -1;
	if (et == 0x0800) {
		if (off + 20 > flen)
			return -1;
		l4 = off + (uint32_t)(f[off] & 0xf) * 4;
	} else if (et == 0x86dd) {
		if (off + 40 > flen || f[off + 6] != p->t.proto)
			return -1;
		l4 = off + 40;
	} else {
		return -1;
	}
	end = off + p->l3_len;
	if (end > flen)
		return -1;
	if (p->t.proto == 6) {
		if (l4 + 20 > end)
			return -1;
		hl = (uint32_t)(f[l4 + 12] >> 4) * 4;
		*seq = (uint32_t)f[l4 + 4] << 24 | (uint32_t)f[l4 + 5] << 16 |
		       (uint32_t)f[l4 + 6] << 8 | f[l4 + 7];
	} else if (p->t.proto == 17) {
		hl = 8;
	} else {
		return -1;
	}
	if (l4 + hl > end)
		return -1;
	*data = f + l4 + hl;
	*len = end - l4 - hl;
	return 0;
}

uint8_t zw_l7__begin(struct zw_worker *w, const struct zw_ctx *ctx,
		     const struct zw_judge *j, const struct zw_pkt *p,
		     const uint8_t *f, uint32_t flen, uint32_t *slot, int *on)
{
	int proto = j->l7p ? j->l7p - 1 : -1;
	uint32_t ft = 0, len, seq;
	const uint8_t *data;
	struct zw_l7_conn *c;
	struct l7_slot *st;

	*on = 0;
	if (p->t.proto == 6 && ctx->img->n_fileblock)
		ft = zw_l7__blocked_types(ctx->img, j->src_zone, j->dst_zone);
	if (proto < 0 && !ft)
		return 0;
	/* data in a SYN (TCP Fast Open) would reach the server unseen */
	if (p->t.proto == 6 &&
	    (payload(f, flen, p, &data, &len, &seq) || len))
		return ZW_DROP_L7_MISMATCH;
	if (unlikely(w->id >= ZW_MAX_WORKERS || !pools[w->id])) {
		w->st.l7_pool_full++;
		return ZW_DROP_TABLE_FULL;
	}
	c = zw_l7_pool__get(pools[w->id], proto, p->t.proto, ft, slot);
	if (!c) {
		/* fail closed: no inspector, no connection */
		w->st.l7_pool_full++;
		return ZW_DROP_TABLE_FULL;
	}
	st = &slots[w->id][*slot];
	st->c = c;
	st->known[0] = st->known[1] = 0;
	*on = 1;
	return 0;
}

void zw_l7__end(struct zw_worker *w, uint32_t slot)
{
	struct l7_slot *st;

	if (w->id >= ZW_MAX_WORKERS || !slots[w->id])
		return;
	st = &slots[w->id][slot];
	zw_l7_conn__free(st->c);
	st->c = NULL;
}

uint8_t zw_l7__packet(struct zw_worker *w, struct zw_ctab *t, uint32_t pos,
		      struct zw_dconn *d, const struct zw_pkt *p,
		      const uint8_t *f, uint32_t flen, int reply, int *cut)
{
	struct l7_slot *st;
	const uint8_t *data;
	uint32_t len, seq = 0;
	enum zw_l7_verdict v;
	int dir = !!reply;

	*cut = 0;
	if (d->c.flags & ZW_CF_L7_CUT)
		return d->c.flags & ZW_CF_L7_FILE ? ZW_DROP_FILE_TYPE :
						    ZW_DROP_L7_MISMATCH;
	st = &slots[w->id][t->l7[pos]];
	if (payload(f, flen, p, &data, &len, &seq)) {
		w->st.l7_held++;
		return ZW_L7_HELD;
	}
	if (p->t.proto == 6) {
		/* as zw-inspect: in sequence order, each byte fed once */
		if (p->tcp_flags & ZW_TCP_SYN) {
			if (len) {
				/* data in a SYN-ACK (Fast Open) would reach
				 * the client unseen: held */
				w->st.l7_held++;
				return ZW_L7_HELD;
			}
			st->seq[dir] = seq + 1;
			st->known[dir] = 1;
			return 0;
		}
		if (!st->known[dir]) {
			if (!len)
				return 0;
			w->st.l7_held++; /* data before its SYN(-ACK) */
			return ZW_L7_HELD;
		}
		if (len) {
			int32_t delta = (int32_t)(seq - st->seq[dir]);

			if (delta > 0) {
				w->st.l7_held++; /* a hole: sent again */
				return ZW_L7_HELD;
			}
			if ((uint32_t)-delta >= len)
				return 0; /* retransmitted, already seen */
			data += -delta;
			len -= (uint32_t)-delta;
			st->seq[dir] += len;
		}
	}
	if (!len)
		return 0; /* no data packet */
	v = zw_l7_conn__feed(st->c, dir ? ZW_L7_S2C : ZW_L7_C2S, data, len);
	if (v == ZW_L7_MISMATCH || v == ZW_L7_FILE) {
		d->c.flags = (uint8_t)((d->c.flags & ~ZW_CF_L7) | ZW_CF_L7_CUT |
				       (v == ZW_L7_FILE ? ZW_CF_L7_FILE : 0));
		w->l7_seen = zw_l7_conn__seen_code(st->c); /* its record's */
		zw_l7__end(w, t->l7[pos]);
		w->st.l7_cut++;
		*cut = 1;
		return v == ZW_L7_FILE ? ZW_DROP_FILE_TYPE : ZW_DROP_L7_MISMATCH;
	}
	if (zw_l7_conn__done(st->c)) {
		/* judged: fast path from now on */
		d->c.flags = (uint8_t)(d->c.flags & ~ZW_CF_L7);
		zw_l7__end(w, t->l7[pos]);
		w->st.l7_judged++;
	}
	return 0;
}

#else

uint8_t zw_l7__begin(struct zw_worker *w, const struct zw_ctx *ctx,
		     const struct zw_judge *j, const struct zw_pkt *p,
		     const uint8_t *f, uint32_t flen, uint32_t *slot, int *on)
{
	(void)w, (void)ctx, (void)j, (void)p, (void)f, (void)flen, (void)slot;
	*on = 0;
	return 0;
}

void zw_l7__end(struct zw_worker *w, uint32_t slot)
{
	(void)w, (void)slot;
}

uint8_t zw_l7__packet(struct zw_worker *w, struct zw_ctab *t, uint32_t pos,
		      struct zw_dconn *d, const struct zw_pkt *p,
		      const uint8_t *f, uint32_t flen, int reply, int *cut)
{
	(void)w, (void)t, (void)pos, (void)p, (void)f, (void)flen, (void)reply;
	*cut = 0;
	return d->c.flags & ZW_CF_L7_FILE ? ZW_DROP_FILE_TYPE :
					    ZW_DROP_L7_MISMATCH;
}

#endif
