/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's policy swap in two phases (docs/xdp-engine.md, "The
 * swap"): prepare projects the image, fills the inactive slot and carries
 * the per-flow counters over (all that can fail; packets see nothing of
 * it); commit switches the generation in one map update, after checking
 * that nothing else was applied or prepared since.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "xdp_instance.h"
#include "xdp_tables.h"

/* Time the loader lets packets judged by the previous generation finish
 * (XDP runs under RCU, a NAPI poll lasts well under this). */
#define ZW_XDP_GRACE_US 20000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Array indexes 0..n-1. */
static __u32 *iota(size_t n)
{
	__u32 *k = malloc((n ? n : 1) * sizeof(*k));

	for (size_t i = 0; k && i < n; i++)
		k[i] = (__u32)i;
	return k;
}

static void cnt_add(struct zw_bpf_counters *a, const struct zw_bpf_counters *b,
		    int sign)
{
	a->packets += (uint64_t)sign * b->packets;
	a->bytes += (uint64_t)sign * b->bytes;
	a->new_conns += (uint64_t)sign * b->new_conns;
	a->drops += (uint64_t)sign * b->drops;
}

/* Carry-over of counters from the old slot: new index → old index. */
struct carry {
	uint32_t *old_of; /* [n_new + 1], UINT32_MAX = none; [n_new] = none-flow */
	struct zw_bpf_counters *snap; /* old totals at snapshot, [n_new + 1] */
	struct zw_bpf_counters *base; /* new bases, [n_new + 1] */
	uint32_t n_new;
};

static int fill_slot(struct zw_xdp *x, unsigned slot,
		     const struct zw_xdp_tables *t, char *err, size_t err_len)
{
	static const size_t ksz[] = {
		[ZW_SM_ZONES4] = sizeof(struct zw_bpf_lpm4),
		[ZW_SM_ZONES6] = sizeof(struct zw_bpf_lpm6),
		[ZW_SM_SETS4] = sizeof(struct zw_bpf_set4),
		[ZW_SM_SETS6] = sizeof(struct zw_bpf_set6),
		[ZW_SM_BLOCK4] = sizeof(struct zw_bpf_lpm4),
		[ZW_SM_BLOCK6] = sizeof(struct zw_bpf_lpm6),
		[ZW_SM_PORTS] = sizeof(struct zw_bpf_port_key),
	};
	static const enum zw_xdp_slot_map clear[] = {
		ZW_SM_ZONES4, ZW_SM_ZONES6, ZW_SM_SETS4, ZW_SM_SETS6,
		ZW_SM_BLOCK4, ZW_SM_BLOCK6, ZW_SM_PORTS};
	__u32 one = 1, *idx = NULL;
	struct zw_bpf_port_key *pk = NULL;
	struct zw_bpf_span *pv = NULL;
	size_t i, max;
	int rc = 0;

	for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
		rc = zw_xdp_map_clear(zw_xdp_slot_fd(x, clear[i], slot), ksz[clear[i]]);
		if (rc) {
			zw_xdp_fail(err, err_len, rc, "cannot clear %s_%u: %s",
				    zw_xdp_slot_map_names[clear[i]], slot,
				    strerror(-rc));
			goto out;
		}
	}
#define PUT_ONE(m, key, val)                                                 \
	do {                                                                 \
		if (bpf_map_update_elem(zw_xdp_slot_fd(x, m, slot), key, val, \
					BPF_ANY)) {                           \
			rc = -errno;                                         \
			zw_xdp_fail(err, err_len, rc, "cannot fill %s_%u: %s", \
				    zw_xdp_slot_map_names[m], slot,          \
				    strerror(errno));                        \
			goto out;                                            \
		}                                                            \
	} while (0)
	for (i = 0; i < t->n_zones4; i++)
		PUT_ONE(ZW_SM_ZONES4, &t->zones4[i].k, &t->zones4[i].v);
	for (i = 0; i < t->n_zones6; i++)
		PUT_ONE(ZW_SM_ZONES6, &t->zones6[i].k, &t->zones6[i].v);
	for (i = 0; i < t->n_sets4; i++)
		PUT_ONE(ZW_SM_SETS4, &t->sets4[i], &one);
	for (i = 0; i < t->n_sets6; i++)
		PUT_ONE(ZW_SM_SETS6, &t->sets6[i], &one);
	for (i = 0; i < t->n_block4; i++)
		PUT_ONE(ZW_SM_BLOCK4, &t->block4[i], &one);
	for (i = 0; i < t->n_block6; i++)
		PUT_ONE(ZW_SM_BLOCK6, &t->block6[i], &one);
#undef PUT_ONE

	max = t->n_ranges;
	if (t->n_cands > max)
		max = t->n_cands;
	if (t->n_flows > max)
		max = t->n_flows;
	if (t->n_zones > max)
		max = t->n_zones;
	idx = iota(max);
	if (!idx) {
		rc = zw_xdp_fail(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
#define PUT_ARR(m, vals, n)                                                  \
	do {                                                                 \
		rc = zw_xdp_map_put(zw_xdp_slot_fd(x, m, slot), idx,          \
				    sizeof(__u32), vals, sizeof(*(vals)), n, 1); \
		if (rc) {                                                    \
			zw_xdp_fail(err, err_len, rc, "cannot fill %s_%u: %s", \
				    zw_xdp_slot_map_names[m], slot,          \
				    strerror(-rc));                          \
			goto out;                                            \
		}                                                            \
	} while (0)
	PUT_ARR(ZW_SM_ZONEINFO, t->zoneinfo, t->n_zones);
	PUT_ARR(ZW_SM_FLOWINFO, t->flowinfo, t->n_flows);
	PUT_ARR(ZW_SM_RANGES, t->ranges, t->n_ranges);
	PUT_ARR(ZW_SM_CANDS, t->cands, t->n_cands);
#undef PUT_ARR
	/* ports: a hash, batched; keys and values interleaved in t->ports */
	pk = malloc((t->n_ports + 1) * sizeof(*pk));
	pv = malloc((t->n_ports + 1) * sizeof(*pv));
	if (!pk || !pv) {
		rc = zw_xdp_fail(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < t->n_ports; i++) {
		pk[i] = t->ports[i].k;
		pv[i] = t->ports[i].v;
	}
	rc = zw_xdp_map_put(zw_xdp_slot_fd(x, ZW_SM_PORTS, slot), pk, sizeof(*pk),
			    pv, sizeof(*pv), t->n_ports, 1);
	if (rc)
		zw_xdp_fail(err, err_len, rc, "cannot fill zw_ports_%u: %s", slot,
			    strerror(-rc));
out:
	free(pk);
	free(pv);
	free(idx);
	return rc;
}

/* Zero the per-CPU counters of flows 0..n-1 and of the none-flow. */
static int zero_counters(struct zw_xdp *x, unsigned slot, uint32_t n)
{
	int fd = zw_xdp_slot_fd(x, ZW_SM_CNT, slot);
	struct zw_bpf_counters *z = calloc((size_t)x->ncpus, sizeof(*z));
	__u32 i;
	int rc = 0;

	if (!z)
		return -ENOMEM;
	for (i = 0; i <= n && !rc; i++) {
		__u32 k = i == n ? ZW_BPF_FLOW_NONE : i;

		if (bpf_map_update_elem(fd, &k, z, BPF_ANY))
			rc = -errno;
	}
	free(z);
	return rc;
}

static void carry_free(struct carry *c)
{
	free(c->old_of);
	free(c->snap);
	free(c->base);
}

struct hidx {
	uint64_t hash;
	uint32_t idx;
};

static int cmp_hidx(const void *a, const void *b)
{
	uint64_t x = ((const struct hidx *)a)->hash, y = ((const struct hidx *)b)->hash;

	return x < y ? -1 : x > y;
}

/* Map the new flows to the old slot's by id hash and snapshot the old
 * totals (base + per-CPU counters). */
static int carry_prepare(struct zw_xdp *x, unsigned old_slot, uint32_t old_n,
			 const struct zw_xdp_tables *t, struct carry *c)
{
	int finfo = zw_xdp_slot_fd(x, ZW_SM_FLOWINFO, old_slot);
	int fcnt = zw_xdp_slot_fd(x, ZW_SM_CNT, old_slot);
	int fbase = zw_xdp_slot_fd(x, ZW_SM_CNTBASE, old_slot);
	uint64_t *old_hash = NULL;
	uint32_t i, j;
	int rc = -ENOMEM;

	c->n_new = t->n_flows;
	c->old_of = malloc((t->n_flows + 1) * sizeof(*c->old_of));
	c->snap = calloc(t->n_flows + 1, sizeof(*c->snap));
	c->base = calloc(t->n_flows + 1, sizeof(*c->base));
	old_hash = calloc(old_n + 1, sizeof(*old_hash));
	if (!c->old_of || !c->snap || !c->base || !old_hash)
		goto out;
	for (i = 0; i < old_n; i++) {
		struct zw_bpf_flowinfo fi;

		if (!bpf_map_lookup_elem(finfo, &i, &fi))
			old_hash[i] = fi.id_hash;
	}
	/* match new flows to old ones by id hash: sort the old (hash,
	 * index) pairs, binary-search each new hash */
	for (i = 0; i <= t->n_flows; i++)
		c->old_of[i] = UINT32_MAX;
	{
		struct hidx *h = malloc((old_n + 1) * sizeof(*h));

		if (!h)
			goto out;
		for (j = 0; j < old_n; j++)
			h[j] = (struct hidx){.hash = old_hash[j], .idx = j};
		qsort(h, old_n, sizeof(*h), cmp_hidx);
		for (i = 0; i < t->n_flows; i++) {
			struct hidx k = {.hash = t->flowinfo[i].id_hash};
			struct hidx *f = old_n ? bsearch(&k, h, old_n, sizeof(*h), cmp_hidx)
					       : NULL;

			if (f && f->hash)
				c->old_of[i] = f->idx;
		}
		free(h);
	}
	c->old_of[t->n_flows] = ZW_BPF_FLOW_NONE;
	for (i = 0; i <= t->n_flows; i++) {
		struct zw_bpf_counters b = {0};

		if (c->old_of[i] == UINT32_MAX)
			continue;
		rc = zw_xdp_percpu_sum(x, fcnt, c->old_of[i], &c->snap[i]);
		if (rc)
			goto out;
		bpf_map_lookup_elem(fbase, &c->old_of[i], &b);
		c->base[i] = b;
		cnt_add(&c->base[i], &c->snap[i], 1);
	}
	rc = 0;
out:
	free(old_hash);
	return rc;
}

static int carry_write(struct zw_xdp *x, unsigned slot, const struct carry *c)
{
	int fd = zw_xdp_slot_fd(x, ZW_SM_CNTBASE, slot);

	for (uint32_t i = 0; i <= c->n_new; i++) {
		__u32 k = i == c->n_new ? ZW_BPF_FLOW_NONE : i;

		if (bpf_map_update_elem(fd, &k, &c->base[i], BPF_ANY))
			return -errno;
	}
	return 0;
}

/* After the flip: add what the old slot counted since the snapshot. */
static int carry_finish(struct zw_xdp *x, unsigned old_slot, unsigned slot,
			struct carry *c)
{
	int fcnt = zw_xdp_slot_fd(x, ZW_SM_CNT, old_slot);

	for (uint32_t i = 0; i <= c->n_new; i++) {
		struct zw_bpf_counters now;

		if (c->old_of[i] == UINT32_MAX)
			continue;
		if (zw_xdp_percpu_sum(x, fcnt, c->old_of[i], &now))
			continue;
		cnt_add(&c->base[i], &now, 1);
		cnt_add(&c->base[i], &c->snap[i], -1);
	}
	return carry_write(x, slot, c);
}

/* A prepared change: the inactive slot is filled, its header written;
 * the generation flip is all that remains. */
struct zw_xdp_ticket {
	const struct zw_xdp *x; /* the handle that prepared it */
	__u32 old_gen;		/* generation in force at prepare */
	__u32 new_gen;
	unsigned slot, old_slot;
	int have_old;
	struct zw_bpf_slot meta; /* the header prepare wrote: identifies
				  * this filling of the slot */
	struct carry c;
};

static void ticket_free(struct zw_xdp_ticket *t)
{
	if (!t)
		return;
	carry_free(&t->c);
	free(t);
}

/* Prepare with the instance lock held (by the caller). */
static int prepare_locked(struct zw_xdp *x, const struct zw_image *img,
			  int32_t day, const struct zw_xdp_tables *t,
			  struct zw_xdp_ticket **out, char *err, size_t err_len)
{
	struct zw_xdp_ticket *tk = NULL;
	struct zw_bpf_global g;
	struct zw_bpf_slot old_meta, blank = {0};
	int slots = bpf_map__fd(x->skel->maps.zw_slots);
	__u32 k;
	int rc;

	tk = calloc(1, sizeof(*tk));
	if (!tk) {
		rc = zw_xdp_fail(err, err_len, -ENOMEM, "out of memory");
		goto out;
	}
	tk->x = x;
	rc = zw_xdp_global_read(x, &g);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot read zw_global: %s", strerror(-rc));
		goto out;
	}
	tk->old_gen = g.generation;
	tk->new_gen = g.generation + 1;
	if (tk->new_gen == 0)
		tk->new_gen = 2; /* 0 means "no policy"; keep the parity turning */
	tk->slot = tk->new_gen & 1;
	tk->old_slot = tk->slot ^ 1;
	tk->have_old = g.generation != 0;

	/* The header goes first: a slot whose filling was left half done
	 * (failure, crash) no longer carries the header a pending ticket
	 * checks at commit. */
	k = tk->slot;
	if (bpf_map_update_elem(slots, &k, &blank, BPF_ANY)) {
		rc = -errno;
		zw_xdp_fail(err, err_len, rc, "cannot reset the slot header: %s",
			    strerror(errno));
		goto out;
	}
	rc = fill_slot(x, tk->slot, t, err, err_len);
	if (rc)
		goto out;
	rc = zero_counters(x, tk->slot, t->n_flows);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot reset counters: %s", strerror(-rc));
		goto out;
	}
	memset(&old_meta, 0, sizeof(old_meta));
	k = tk->old_slot;
	if (tk->have_old)
		bpf_map_lookup_elem(slots, &k, &old_meta);
	rc = carry_prepare(x, tk->old_slot, tk->have_old ? old_meta.n_flows : 0,
			   t, &tk->c);
	if (!rc)
		rc = carry_write(x, tk->slot, &tk->c);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot carry counters over: %s", strerror(-rc));
		goto out;
	}

	memcpy(tk->meta.sha256, img->sha256, 32);
	tk->meta.generation = tk->new_gen;
	tk->meta.day = day;
	tk->meta.n_flows = img->n_flows;
	tk->meta.n_zones = img->n_zones;
	tk->meta.n_live = t->n_live;
	tk->meta.has_block = (t->n_block4 ? 1u : 0) | (t->n_block6 ? 2u : 0);
	tk->meta.applied_ns = mono_ns();
	snprintf(tk->meta.name, sizeof(tk->meta.name), "%s",
		 zw_image__str(img, img->meta->name));
	k = tk->slot;
	if (bpf_map_update_elem(slots, &k, &tk->meta, BPF_ANY)) {
		rc = -errno;
		zw_xdp_fail(err, err_len, rc, "cannot write the slot header: %s",
			    strerror(errno));
		goto out;
	}

	if (x->inject_failure) {
		x->inject_failure = 0;
		rc = zw_xdp_fail(err, err_len, -EIO,
				 "injected failure after filling slot %u (test hook): "
				 "generation %u stays in force", tk->slot, g.generation);
		goto out;
	}
	*out = tk;
	tk = NULL;
out:
	ticket_free(tk);
	return rc;
}

/* Project @img, re-create the pins of a destroyed instance and take the
 * lock: what both prepare and apply start with. The lock fd in *@lock. */
static int prepare_begin(struct zw_xdp *x, const struct zw_image *img,
			 int32_t day, struct zw_xdp_tables **t, int *lock,
			 char *err, size_t err_len)
{
	int rc;

	*lock = -1;
	/* mirroring to probes is the backend's (xdp_mirror.c): the loader
	 * alone refuses them (prepare and apply alike) */
	rc = x->probes_ok ? 0 :
		zw_backend__refuse_probes(img, "XDP",
					  "copies to a probe interface only through zonewalld (backend xdp)",
					  err, err_len);
	if (!rc)
		rc = zw_xdp_tables__build(img, day, t, err, err_len);
	if (rc)
		return rc;
	if (x->destroyed) {
		rc = zw_xdp_repin(x, err, err_len);
		if (rc)
			return rc;
	}
	*lock = zw_xdp_lock(x);
	if (*lock < 0)
		return zw_xdp_fail(err, err_len, *lock, "cannot lock %s: %s", x->dir,
				   strerror(-*lock));
	return 0;
}

int zw_xdp__prepare(struct zw_xdp *x, const struct zw_image *img, int32_t day,
		    struct zw_xdp_ticket **out, char *err, size_t err_len)
{
	struct zw_xdp_tables *t = NULL;
	int lock, rc;

	*out = NULL;
	rc = prepare_begin(x, img, day, &t, &lock, err, err_len);
	if (!rc)
		rc = prepare_locked(x, img, day, t, out, err, err_len);
	zw_xdp_unlock(lock);
	zw_xdp_tables__free(t);
	return rc;
}

/* Commit with the instance lock held (by the caller). Consumes @tk. */
static int commit_locked(struct zw_xdp *x, struct zw_xdp_ticket *tk,
			 char *err, size_t err_len)
{
	struct zw_bpf_global g;
	struct zw_bpf_slot now;
	__u32 k;
	int rc;

	rc = zw_xdp_global_read(x, &g);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot read zw_global: %s", strerror(-rc));
		goto out;
	}
	/* pf's ticket check: another apply since prepare makes this filling
	 * of the inactive slot stale; so does another prepare that re-filled
	 * the slot without committing (its header differs from ours). */
	if (g.generation != tk->old_gen) {
		rc = zw_xdp_fail(err, err_len, -ESTALE,
				 "stale ticket: prepared on generation %u, the "
				 "instance is on generation %u; generation %u stays "
				 "in force", tk->old_gen, g.generation, g.generation);
		goto out;
	}
	k = tk->slot;
	if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.zw_slots), &k, &now) ||
	    memcmp(&now, &tk->meta, sizeof(now))) {
		rc = zw_xdp_fail(err, err_len, -ESTALE,
				 "stale ticket: slot %u was re-filled since prepare; "
				 "generation %u stays in force", tk->slot,
				 g.generation);
		goto out;
	}
	/* THE switch: one map update; every packet after it is judged by
	 * the new slot. Record settings are kept as they are now. */
	g.generation = tk->new_gen;
	g.abi = ZW_BPF_ABI_VERSION;
	rc = zw_xdp_global_write(x, &g);
	if (rc) {
		zw_xdp_fail(err, err_len, rc, "cannot switch the generation: %s",
			    strerror(-rc));
		goto out;
	}
	usleep(ZW_XDP_GRACE_US);
	if (tk->have_old)
		carry_finish(x, tk->old_slot, tk->slot, &tk->c); /* best effort */
out:
	ticket_free(tk);
	return rc;
}

int zw_xdp__commit(struct zw_xdp *x, struct zw_xdp_ticket *tk, char *err,
		   size_t err_len)
{
	int rc, lock;

	if (!tk || tk->x != x) {
		ticket_free(tk);
		return zw_xdp_fail(err, err_len, -EINVAL,
				   "no ticket prepared on this handle");
	}
	if (x->destroyed) {
		ticket_free(tk);
		return zw_xdp_fail(err, err_len, -ESTALE,
				   "the instance was destroyed since prepare");
	}
	lock = zw_xdp_lock(x);
	if (lock < 0) {
		ticket_free(tk);
		return zw_xdp_fail(err, err_len, lock, "cannot lock %s: %s", x->dir,
				   strerror(-lock));
	}
	rc = commit_locked(x, tk, err, err_len);
	zw_xdp_unlock(lock);
	return rc;
}

void zw_xdp__abort(struct zw_xdp *x, struct zw_xdp_ticket *tk)
{
	(void)x;
	/* The inactive slot stays filled but unused: no generation points to
	 * it, and the next prepare clears it first. */
	ticket_free(tk);
}

/* Both phases under one hold of the lock: concurrent applies (any handle,
 * any process) are serialised, none makes another stale. */
int zw_xdp__apply(struct zw_xdp *x, const struct zw_image *img, int32_t day,
		  char *err, size_t err_len)
{
	struct zw_xdp_tables *t = NULL;
	struct zw_xdp_ticket *tk = NULL;
	int lock, rc;

	rc = prepare_begin(x, img, day, &t, &lock, err, err_len);
	if (!rc)
		rc = prepare_locked(x, img, day, t, &tk, err, err_len);
	if (!rc)
		rc = commit_locked(x, tk, err, err_len);
	zw_xdp_unlock(lock);
	zw_xdp_tables__free(t);
	return rc;
}
