// SPDX-License-Identifier: BSD-2-Clause
/*
 * Policy context: one image compiled into DPDK lookup structures. Built by
 * the control thread, published by one pointer store, freed after an RCU
 * grace period; never modified once published.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>

#include <rte_acl.h>
#include <rte_atomic.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>

#include "acl_layout.h"
#include "rules.h"
#include "zwdpdk.h"

void zw_ctx__free(struct zw_ctx *ctx)
{
	if (!ctx)
		return;
	rte_lpm_free(ctx->lpm4);
	rte_lpm6_free(ctx->lpm6);
	rte_acl_free(ctx->acl4);
	rte_acl_free(ctx->acl6);
	free(ctx->flows);
	free(ctx->rule_flow);
	free(ctx->rule_l7);
	free(ctx->zone_isolate);
	free(ctx->mir_any);
	free(ctx->mir_deny);
	free(ctx->base);
	free(ctx->fh_slot);
	rte_free(ctx->ctr);
	zw_image__free(ctx->img);
	free(ctx);
}

static int build_lpm(struct zw_ctx *ctx, char *err, size_t err_len)
{
	struct zw_lpm_entry *e = NULL;
	size_t n = 0, i, n4 = 0, n6 = 0;
	char name[RTE_LPM_NAMESIZE];
	int rc;

	rc = zw_lpm_entries__build(ctx->img, &e, &n);
	if (rc) {
		snprintf(err, err_len, "LPM entries: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < n; i++)
		e[i].family == 4 ? n4++ : n6++;
	{
		struct rte_lpm_config c4 = {
			.max_rules = (uint32_t)(n4 + 16),
			.number_tbl8s = (uint32_t)(n4 + 16),
		};
		struct rte_lpm6_config c6 = {
			.max_rules = (uint32_t)(n6 + 16),
			.number_tbl8s = (uint32_t)((n6 + 16) * 16),
		};

		snprintf(name, sizeof(name), "zw4_%u", ctx->generation);
		ctx->lpm4 = rte_lpm_create(name, (int)rte_socket_id(), &c4);
		snprintf(name, sizeof(name), "zw6_%u", ctx->generation);
		ctx->lpm6 = rte_lpm6_create(name, (int)rte_socket_id(), &c6);
	}
	if (!ctx->lpm4 || !ctx->lpm6) {
		snprintf(err, err_len, "cannot create LPM tables: %s",
			 rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (e[i].family == 4) {
			uint32_t ip = (uint32_t)e[i].addr[0] << 24 |
				      (uint32_t)e[i].addr[1] << 16 |
				      (uint32_t)e[i].addr[2] << 8 |
				      e[i].addr[3];

			rc = rte_lpm_add(ctx->lpm4, ip, e[i].len, e[i].nh);
		} else {
			rc = rte_lpm6_add(ctx->lpm6, e[i].addr, e[i].len,
					  e[i].nh);
		}
		if (rc) {
			snprintf(err, err_len, "LPM add: %s", strerror(-rc));
			goto out;
		}
	}
	ctx->n_lpm = (uint32_t)n;
out:
	free(e);
	return rc;
}

static int build_acl(struct zw_ctx *ctx, uint8_t family, char *err,
		     size_t err_len)
{
	struct zw_acl_rule *r = NULL;
	struct rte_acl_ctx *acl;
	char name[64];
	size_t n;
	int rc;

	rc = zw_acl_rules__build(ctx->img, ctx->day, family, ZW_NO_FLOW, &r,
				 &n);
	if (rc) {
		snprintf(err, err_len, "ACL rules: %s", strerror(-rc));
		return rc;
	}
	if (!n) {
		free(r);
		return 0; /* no rule for this family: no context */
	}
	snprintf(name, sizeof(name), "zwacl%u_%u", family, ctx->generation);
	acl = zw_acl__build(name, (int)rte_socket_id(), family, r, n);
	free(r);
	if (!acl) {
		snprintf(err, err_len, "rte_acl build (IPv%u, %zu rules): %s",
			 family, n, rte_strerror(rte_errno));
		return -(rte_errno ? rte_errno : ENOMEM);
	}
	if (family == 4) {
		ctx->acl4 = acl;
		ctx->n_acl4 = (uint32_t)n;
	} else {
		ctx->acl6 = acl;
		ctx->n_acl6 = (uint32_t)n;
	}
	return 0;
}

/* The mirror port of probe interface @ifname: a --mirror-port mapped to
 * that name, else the mirror port whose device name it is; -1 none. */
static int mirror_port_of(const char *ifname)
{
	uint16_t i;

	for (i = 0; i < zw_eng.n_mirrors; i++)
		if (!strcmp(zw_eng.mirrors[i].alias, ifname))
			return zw_eng.mirrors[i].port;
	for (i = 0; i < zw_eng.n_mirrors; i++) {
		char name[RTE_ETH_NAME_MAX_LEN];

		if (!zw_eng.mirrors[i].alias[0] &&
		    !rte_eth_dev_get_name_by_port(zw_eng.mirrors[i].port, name) &&
		    !strcmp(name, ifname))
			return zw_eng.mirrors[i].port;
	}
	return -1;
}

/* Probes (PROBES, PROBE_ZONES): per zone, the mirror ports that watch it.
 * A probe naming no mirror port of this engine refuses the policy, named:
 * the engine never mirrors less than asked. */
static int build_mirror(struct zw_ctx *ctx, char *err, size_t err_len)
{
	const struct zw_image *img = ctx->img;
	uint32_t i, k;

	for (i = 0; i < img->n_probes; i++) {
		const struct zw_img_probe *pr = &img->probes[i];
		const char *ifname = zw_image__str(img, pr->interface);
		int port = mirror_port_of(ifname);

		if (port < 0 || port >= ZW_MAX_PORTS) {
			snprintf(err, err_len,
				 "probe '%s' (interface %s): no mirror port of "
				 "the DPDK engine is named %s (--mirror-port "
				 "[%s=]PORT)",
				 zw_image__str(img, pr->name), ifname, ifname,
				 ifname);
			return -EOPNOTSUPP;
		}
		for (k = pr->first; k < pr->first + pr->count; k++) {
			uint16_t z = img->probe_zones[k].zone;

			if (z > img->n_zones)
				continue; /* verified by the image loader */
			ctx->mir_any[z] |= 1u << port;
			if (pr->flags & ZW_IMG_PROBE_DENIED)
				ctx->mir_deny[z] |= 1u << port;
		}
		ctx->mirror = 1;
		if (pr->flags & ZW_IMG_PROBE_DENIED)
			ctx->mirror_deny = 1;
	}
	return 0;
}

struct zw_ctx *zw_ctx__new(struct zw_image *img, int32_t day,
			   uint32_t generation, uint32_t n_workers, char *err,
			   size_t err_len)
{
	struct zw_ctx *ctx;
	uint32_t i;
	size_t stride;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ctx->img = img;
	ctx->day = day;
	ctx->generation = generation;
	ctx->n_flows = img->n_flows;
	ctx->n_zones = img->n_zones;
	ctx->n_workers = n_workers ? n_workers : 1;
	ctx->active_ns = (uint64_t)(zw_eng.rec.active_timeout_s
					    ? zw_eng.rec.active_timeout_s
					    : ZW_ACTIVE_TIMEOUT_DEFAULT) *
			 1000000000ull;
	ctx->flows = calloc(img->n_flows + 1, sizeof(*ctx->flows));
	ctx->rule_flow = calloc(img->n_rules + 1, sizeof(*ctx->rule_flow));
	ctx->zone_isolate = calloc(img->n_zones + 1, 1);
	ctx->mir_any = calloc(img->n_zones + 1, sizeof(uint32_t));
	ctx->mir_deny = calloc(img->n_zones + 1, sizeof(uint32_t));
	ctx->base = calloc(img->n_flows + 1, sizeof(*ctx->base));
	/* One cache-line-aligned slice per worker: no false sharing. */
	stride = RTE_ALIGN_CEIL((size_t)img->n_flows + 1, 2);
	ctx->ctr_stride = (uint32_t)stride;
	ctx->ctr = rte_zmalloc("zw_ctr",
			       stride * ctx->n_workers * sizeof(*ctx->ctr),
			       RTE_CACHE_LINE_SIZE);
	if (!ctx->flows || !ctx->rule_flow || !ctx->zone_isolate ||
	    !ctx->base || !ctx->ctr || !ctx->mir_any || !ctx->mir_deny) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	for (i = 0; i < img->n_flows; i++) {
		const struct zw_img_flow *f = &img->flows[i];

		ctx->flows[i].id_hash = zw_dpdk__flow_hash(f->id_hash);
		ctx->flows[i].from = f->from;
		ctx->flows[i].to = f->to;
		ctx->flows[i].log =
			zw_eng.rec.log_all || (f->flags & ZW_IMG_FLOW_LOG);
		ctx->flows[i].live =
			f->expires == INT32_MIN || f->expires >= day;
		ctx->flows[i].rate = f->rate;
		if (f->rate) {
			ctx->flows[i].interval_ns = 1000000000ull / f->rate;
			ctx->flows[i].tolerance_ns =
				(uint64_t)(f->rate - 1) * ctx->flows[i].interval_ns;
		}
	}
	ctx->fh_mask = rte_align32pow2(2 * img->n_flows + 2) - 1;
	ctx->fh_slot = malloc(((size_t)ctx->fh_mask + 1) * sizeof(uint32_t));
	if (!ctx->fh_slot) {
		snprintf(err, err_len, "out of memory");
		goto err;
	}
	memset(ctx->fh_slot, 0xff, ((size_t)ctx->fh_mask + 1) * sizeof(uint32_t));
	for (i = 0; i < img->n_flows; i++) {
		uint32_t h = ctx->flows[i].id_hash, k;

		/* dead flows too: counters of connections judged by an older
		 * generation are folded by flow id, as zw_ctx__carry does */
		for (k = h & ctx->fh_mask; ctx->fh_slot[k] != ZW_NO_FLOW;
		     k = (k + 1) & ctx->fh_mask)
			if (ctx->flows[ctx->fh_slot[k]].id_hash == h)
				break;
		if (ctx->fh_slot[k] == ZW_NO_FLOW)
			ctx->fh_slot[k] = i;
	}
	for (i = 0; i < img->n_rules; i++)
		ctx->rule_flow[i] = img->rules[i].flow;
	for (i = 0; i < img->n_zones; i++)
		ctx->zone_isolate[i] =
			!!(img->zones[i].flags & ZW_IMG_ZONE_ISOLATE);
	if (build_mirror(ctx, err, err_len) ||
	    zw_ctx__l7_build(ctx, err, err_len) ||
	    build_lpm(ctx, err, err_len) || build_acl(ctx, 4, err, err_len) ||
	    build_acl(ctx, 6, err, err_len))
		goto err;
	return ctx;
err:
	ctx->img = NULL; /* stays the caller's on failure */
	zw_ctx__free(ctx);
	return NULL;
}

/* Folded counters only: older generations and the workers' slices. */
static void folded_total(const struct zw_ctx *ctx, uint32_t flow,
			 struct zw_flow_counters *out)
{
	uint32_t w;

	*out = ctx->base[flow];
	for (w = 0; w < ctx->n_workers; w++) {
		const struct zw_flow_ctr *c =
			&ctx->ctr[(size_t)w * ctx->ctr_stride + flow];

		out->packets += c->packets;
		out->bytes += c->bytes;
		out->new_conns += c->new_conns;
		out->drops += c->drops;
	}
}

void zw_ctx__flow_total(const struct zw_ctx *ctx, uint32_t flow,
			struct zw_flow_counters *out)
{
	/* folded first, live connections second (ctab.h: never twice) */
	folded_total(ctx, flow, out);
	rte_smp_rmb();
	zw_ctab__pending(ctx, flow, out);
}

void zw_ctx__totals(const struct zw_ctx *ctx, struct zw_flow_counters *out)
{
	uint32_t i;

	for (i = 0; i < ctx->n_flows; i++)
		folded_total(ctx, i, &out[i]);
	rte_smp_rmb();
	zw_ctab__pending(ctx, ZW_NO_FLOW, out);
}

struct idx_hash {
	uint32_t hash, idx;
};

static int ih_cmp(const void *a, const void *b)
{
	const struct idx_hash *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

void zw_ctx__carry(struct zw_ctx *nc, const struct zw_ctx *old)
{
	struct idx_hash *v;
	uint32_t i;

	if (!old || !old->n_flows)
		return;
	v = malloc(old->n_flows * sizeof(*v));
	if (!v)
		return; /* counters restart; nothing else depends on them */
	for (i = 0; i < old->n_flows; i++) {
		v[i].hash = old->flows[i].id_hash;
		v[i].idx = i;
	}
	qsort(v, old->n_flows, sizeof(*v), ih_cmp);
	for (i = 0; i < nc->n_flows; i++) {
		struct idx_hash k = { .hash = nc->flows[i].id_hash }, *m;
		const char *id = zw_image__str(nc->img, nc->img->flows[i].id);

		m = bsearch(&k, v, old->n_flows, sizeof(*v), ih_cmp);
		/* Walk to the first of equal hashes, then compare ids. */
		while (m && m > v && m[-1].hash == k.hash)
			m--;
		for (; m && m < v + old->n_flows && m->hash == k.hash; m++) {
			const char *oid = zw_image__str(
				old->img, old->img->flows[m->idx].id);

			if (!strcmp(id, oid)) {
				folded_total(old, m->idx, &nc->base[i]);
				break;
			}
		}
	}
	free(v);
}

void zw_ctx__judge(const struct zw_ctx *ctx, uint8_t family, uint8_t proto,
		   const uint8_t *src, const uint8_t *dst, uint16_t port,
		   struct zw_judge *j)
{
	uint32_t nhs = 0, nhd = 0, res = 0;

	memset(j, 0, sizeof(*j));
	j->flow = ZW_NO_FLOW;
	if (family == 4) {
		uint32_t s = (uint32_t)src[0] << 24 | (uint32_t)src[1] << 16 |
			     (uint32_t)src[2] << 8 | src[3];
		uint32_t d = (uint32_t)dst[0] << 24 | (uint32_t)dst[1] << 16 |
			     (uint32_t)dst[2] << 8 | dst[3];

		if (rte_lpm_lookup(ctx->lpm4, s, &nhs))
			nhs = 0;
		if (rte_lpm_lookup(ctx->lpm4, d, &nhd))
			nhd = 0;
	} else {
		if (rte_lpm6_lookup(ctx->lpm6, src, &nhs))
			nhs = 0;
		if (rte_lpm6_lookup(ctx->lpm6, dst, &nhd))
			nhd = 0;
	}
	j->src_zone = (uint16_t)(nhs & ZW_NH_ZONE_MASK);
	j->dst_zone = (uint16_t)(nhd & ZW_NH_ZONE_MASK);
	if ((nhs | nhd) & ZW_NH_BLOCKED) {
		j->reason = ZW_DROP_BLOCKED;
		return;
	}
	if (family == 4 && ctx->acl4) {
		struct zw_acl4_in in = {
			.proto = proto,
			.szone = rte_cpu_to_be_16(j->src_zone),
			.dzone = rte_cpu_to_be_16(j->dst_zone),
			.dport = rte_cpu_to_be_16(port),
		};
		const uint8_t *p = &in.proto;

		memcpy(&in.src, src, 4);
		memcpy(&in.dst, dst, 4);
		rte_acl_classify(ctx->acl4, &p, &res, 1, 1);
	} else if (family == 6 && ctx->acl6) {
		struct zw_acl6_in in = {
			.proto = proto,
			.szone = rte_cpu_to_be_16(j->src_zone),
			.dzone = rte_cpu_to_be_16(j->dst_zone),
			.dport = rte_cpu_to_be_16(port),
		};
		const uint8_t *p = &in.proto;

		memcpy(in.src, src, 16);
		memcpy(in.dst, dst, 16);
		rte_acl_classify(ctx->acl6, &p, &res, 1, 1);
	}
	zw_ctx__decide(ctx, res, j);
}
