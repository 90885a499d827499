// SPDX-License-Identifier: BSD-2-Clause
/*
 * The XDP engine's L7 inspection (xdp_l7.h, docs/l7.md): through the
 * kernel path, with the nftables engine's own code. The XDP program
 * cannot hold a packet while a process judges its connection, nor set
 * the ct mark the verdict lives in; so it judges L3/L4 as always and
 * passes what it allows (XDP_PASS), and an nftables table of the XDP
 * engine's own (opts.l7_only: base chain policy accept, chains only for
 * the zone pairs of inspected flows) sends the unjudged packets of
 * inspected connections to zw-inspect on NFQUEUE (no bypass: no inspector,
 * dropped), drops those it cut and accepts the judged ones. That table is
 * a second zw_backend_nft instance, prepared with the XDP slot and
 * committed just before the generation switch, read back for drift.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/policy.h>

#include "xdp_l7.h"
#ifdef ZW_XDP_HAVE_NFT
#include "zwnft.h"
#endif

int xdp_l7__option(struct xdp_l7 *l, const char *tok, char *err,
		   size_t err_len)
{
	char *end;
	unsigned long v;

	if (!strcmp(tok, "l7=off")) {
		l->off = true;
		return 1;
	}
	if (!strncmp(tok, "queue=", 6)) {
		errno = 0;
		v = strtoul(tok + 6, &end, 10);
		if (errno || end == tok + 6 || *end || v > 65535) {
			snprintf(err, err_len, "xdp: queue=0..65535: %s", tok);
			return -EINVAL;
		}
		l->queue_set = true;
		l->queue = (uint16_t)v;
		return 1;
	}
	if (!strncmp(tok, "inspect_image=", 14)) {
		if (tok[14] != '/' || strlen(tok + 14) >= sizeof(l->image)) {
			snprintf(err, err_len,
				 "xdp: inspect_image= needs an absolute path: %s",
				 tok);
			return -EINVAL;
		}
		snprintf(l->image, sizeof(l->image), "%s", tok + 14);
		return 1;
	}
	if (!strncmp(tok, "l7_table=", 9)) {
		const char *n = tok + 9;

		if (!*n || strlen(n) >= sizeof(l->table) ||
		    strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789_-") != strlen(n)) {
			snprintf(err, err_len, "xdp: l7_table=NAME ([A-Za-z0-9_-]): %s",
				 tok);
			return -EINVAL;
		}
		snprintf(l->table, sizeof(l->table), "%s", n);
		return 1;
	}
	return 0;
}

int xdp_l7__open(struct xdp_l7 *l, struct zw_inspector_need *need, char *err,
		 size_t err_len)
{
	if (l->off && (l->queue_set || l->image[0])) {
		snprintf(err, err_len,
			 "xdp: l7=off and queue=/inspect_image= contradict");
		return -EINVAL;
	}
	if (!l->table[0])
		snprintf(l->table, sizeof(l->table), "%s",
			 ZW_XDP_L7_TABLE_DEFAULT);
	if (l->off)
		return 0;
#ifdef ZW_XDP_HAVE_NFT
	{
		char arg[400];
		int rc;

		/* inspection is on unless waived (docs/l7.md): the defaults
		 * are the nftables engine's, so both engines in one daemon
		 * hand their packets to the same inspector */
		if (!l->queue_set)
			l->queue = ZW_INSPECT_QUEUE_DEFAULT;
		if (!l->image[0])
			snprintf(l->image, sizeof(l->image), "%s",
				 ZW_XDP_INSPECT_IMAGE_DEFAULT);
		snprintf(arg, sizeof(arg), "table=%s,queue=%u,inspect_image=%s",
			 l->table, l->queue, l->image);
		rc = zw_backend_nft.open(arg, &l->nft, err, err_len);
		if (rc)
			return rc;
		zwnft_backend__l7_only(l->nft);
		/* the daemon runs zw-inspect on our queue, reading the image
		 * the L7 table's engine publishes at each commit
		 * (zw_inspector__publish) */
		need->need = true;
		need->queue = l->queue;
		snprintf(need->image, sizeof(need->image), "%s", l->image);
		return 0;
	}
#else
	(void)need;
	if (!l->queue_set && !l->image[0])
		return 0; /* no inspection: images that need it are refused */
	snprintf(err, err_len,
		 "xdp: queue=: this build has no nftables engine, which the "
		 "XDP engine's L7 inspection uses (docs/l7.md)");
	return -EOPNOTSUPP;
#endif
}

void xdp_l7__close(struct xdp_l7 *l)
{
	if (l->nft)
		l->nft->ops->close(l->nft);
	l->nft = NULL;
}

/* Without the L7 table (l7=off, or a build without the nftables
 * engine): refuse what needs the inspector, naming the flows. */
static int refuse(const struct xdp_l7 *l, const struct zw_image *img,
		  int32_t day, char *err, size_t err_len)
{
	size_t off = 0;
	uint32_t bad = 0, last = ZW_NO_FLOW;

	if (img->n_fileblock) {
		snprintf(err, err_len,
			 "xdp: a crisis block-file measure needs L7 "
			 "inspection (zw-inspect, docs/l7.md), %s: not "
			 "enforced, refused",
			 l->off ? "waived here by l7=off" :
				  "which this build lacks (no nftables engine)");
		return -EOPNOTSUPP;
	}
	if (l->off)
		return 0;
	for (uint32_t r = 0; r < img->n_rules; r++) {
		const struct zw_img_rule *ru = &img->rules[r];

		if (!img->services[ru->service].inspect || ru->flow == last ||
		    !zw_image__flow_live(img, ru->flow, day))
			continue;
		last = ru->flow;
		if (!bad++)
			off = (size_t)snprintf(err, err_len,
					       "xdp: inspect: cannot be enforced: "
					       "this build has no nftables "
					       "engine, which the XDP engine's "
					       "L7 inspection uses; waive it "
					       "with l7=off (docs/l7.md); "
					       "refused, flows:");
		if (off < err_len)
			off += (size_t)snprintf(
				err + off, err_len - off, " %s (%s)",
				zw_image__str(img, img->flows[ru->flow].id),
				zw_image__str(img,
					      img->services[ru->service].inspect));
	}
	return bad ? -EOPNOTSUPP : 0;
}

int xdp_l7__prepare(struct xdp_l7 *l, const struct zw_image *img, int32_t day,
		    struct zw_ticket **t, char *err, size_t err_len)
{
	*t = NULL;
	if (!l->nft)
		return refuse(l, img, day, err, err_len);
	return l->nft->ops->prepare(l->nft, img, day, t, err, err_len);
}

int xdp_l7__commit(struct xdp_l7 *l, struct zw_ticket *t, char *err,
		   size_t err_len)
{
	if (!t)
		return 0;
	return l->nft->ops->commit(l->nft, t, err, err_len);
}

void xdp_l7__abort(struct xdp_l7 *l, struct zw_ticket *t)
{
	if (t)
		l->nft->ops->abort(l->nft, t);
}

static int append(char **s, const char *fmt, const char *a, const char *b)
{
	size_t n = *s ? strlen(*s) : 0, add = strlen(fmt) + strlen(a) +
					       strlen(b) + 2;
	char *ns = realloc(*s, n + add);

	if (!ns)
		return -ENOMEM;
	snprintf(ns + n, add, fmt, a, b);
	*s = ns;
	return 0;
}

int xdp_l7__read_back(struct xdp_l7 *l, const struct zw_image *expected,
		      struct zw_backend_state *out)
{
	struct zw_backend_state st;
	size_t n = strlen(out->detail);
	int rc;

	if (!l->nft) {
		snprintf(out->detail + n, sizeof(out->detail) - n, "; %s",
			 l->off ? "inspect: not enforced (l7=off)" :
				  "no L7 inspection");
		return 0;
	}
	rc = l->nft->ops->read_back(l->nft, expected, &st);
	if (rc)
		return rc;
	snprintf(out->detail + n, sizeof(out->detail) - n, "; L7 queue %u: %s",
		 l->queue, st.detail);
	if (st.drift) {
		/* one prefixed line per difference */
		char *save = NULL, *line;

		for (line = strtok_r(st.drift, "\n", &save); line && !rc;
		     line = strtok_r(NULL, "\n", &save))
			rc = append(&out->drift, "L7 table: %s%s\n", line, "");
	}
	zw_backend_state__fini(&st);
	return rc;
}

int xdp_l7__check(struct xdp_l7 *l)
{
	return l->nft ? l->nft->ops->check(l->nft) : 0;
}

int xdp_l7__stats(struct xdp_l7 *l, struct zw_engine_stats *out)
{
	struct zw_engine_stats st;
	int rc;

	if (!l->nft)
		return 0;
	rc = l->nft->ops->stats(l->nft, &st);
	if (rc)
		return rc;
	out->drops[ZW_DROP_L7_MISMATCH] = st.drops[ZW_DROP_L7_MISMATCH];
	out->drop_counted[ZW_DROP_L7_MISMATCH] =
		st.drop_counted[ZW_DROP_L7_MISMATCH];
	return 0;
}

int xdp_l7__counters(struct xdp_l7 *l, struct zw_flow_counters *c,
		     uint32_t n_flows)
{
	struct zw_flow_counters *v;
	int rc;

	if (!l->nft || !n_flows)
		return 0;
	v = calloc(n_flows, sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = l->nft->ops->counters(l->nft, v, n_flows);
	/* only the packets of cut connections: the rest the XDP program
	 * counted already */
	for (uint32_t f = 0; !rc && f < n_flows; f++)
		c[f].drops += v[f].drops;
	free(v);
	return rc;
}

int xdp_l7__destroy(struct xdp_l7 *l, char *err, size_t err_len)
{
	return l->nft ? l->nft->ops->destroy(l->nft, err, err_len) : 0;
}
