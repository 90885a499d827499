// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-worker connection tables (ctab.h): bucketised, key and state inline,
 * the worker is the only writer so no locks; timeouts checked by an
 * incremental scan that also folds the per-connection counters into the
 * per-flow ones; early drop of the oldest embryonic entry when the table
 * is full (the way Linux conntrack drops unassured entries first).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <rte_atomic.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "zw_conn.h"
#include "zwdpdk.h"

/* Every table of the process, for zw_ctab__pending. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zw_ctab *reg_head;

uint64_t zw_dconn__timeout(const struct zw_dconn *d, uint8_t proto)
{
	if (d->kind)
		return (uint64_t)ZW_TO_FRAG * ZW_NS_PER_SEC;
	return zw_conn__timeout_ns(&d->c, proto);
}

bool zw_dconn__embryonic(const struct zw_dconn *d)
{
	/* Linux conntrack's early drop spares "assured" entries: here the
	 * established TCP (half-closed ones too: FIN_WAIT still carries
	 * data the other way) and the answered others. */
	return d->used && (d->kind || (d->c.state != ZW_CS_ESTABLISHED &&
				       d->c.state != ZW_CS_FIN_WAIT &&
				       d->c.state != ZW_CS_REPLIED));
}

int zw_ctab__init(struct zw_ctab *t, const char *name, uint8_t family,
		  uint32_t cap, int socket)
{
	uint32_t slots;

	memset(t, 0, sizeof(*t));
	t->family = family;
	t->cap = cap;
	t->esz = family == 4 ? sizeof(struct zw_cent4) :
			       sizeof(struct zw_cent6);
	/* At most 80 % of the slots live (usually 40-60 %): two buckets of
	 * four are then almost never both full. */
	slots = rte_align32pow2(cap + cap / 4 + 1);
	if (slots < 4 * ZW_CT_WAYS)
		slots = 4 * ZW_CT_WAYS;
	t->nslots = slots;
	t->bmask = slots / ZW_CT_WAYS - 1;
	t->ent = rte_zmalloc_socket(name, (size_t)slots * t->esz,
				    RTE_CACHE_LINE_SIZE, socket);
	t->fold = rte_zmalloc_socket("zw_fold",
				     (size_t)slots * sizeof(*t->fold),
				     RTE_CACHE_LINE_SIZE, socket);
	t->l7 = rte_zmalloc_socket("zw_l7slot",
				   (size_t)slots * sizeof(*t->l7),
				   RTE_CACHE_LINE_SIZE, socket);
	t->emb_cap = rte_align32pow2(cap + 1);
	t->rev = rte_zmalloc_socket("zw_rev", (size_t)slots * sizeof(*t->rev),
				    RTE_CACHE_LINE_SIZE, socket);
	t->embryo = rte_malloc_socket("zw_embryo",
				      (size_t)t->emb_cap * sizeof(uint32_t), 0,
				      socket);
	if (!t->ent || !t->fold || !t->l7 || !t->rev || !t->embryo) {
		zw_ctab__fini(t);
		return -ENOMEM;
	}
	pthread_mutex_lock(&reg_lock);
	t->next = reg_head;
	reg_head = t;
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

void zw_ctab__fini(struct zw_ctab *t)
{
	struct zw_ctab **p;

	pthread_mutex_lock(&reg_lock);
	for (p = &reg_head; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	rte_free(t->ent);
	rte_free(t->fold);
	rte_free(t->l7);
	rte_free(t->rev);
	rte_free(t->embryo);
	memset(t, 0, sizeof(*t));
}

void zw_ctab__embryo(struct zw_ctab *t, int32_t pos)
{
	if (t->emb_tail - t->emb_head == t->emb_cap)
		t->emb_head++; /* forget the oldest hint */
	t->embryo[t->emb_tail++ & (t->emb_cap - 1)] = (uint32_t)pos;
}

uint32_t zw_dconn__flow_in(const struct zw_dconn *d, const struct zw_ctx *ctx)
{
	if (d->c.generation == ctx->generation)
		return d->c.flow < ctx->n_flows ? d->c.flow : ZW_NO_FLOW;
	/* judged by another generation: its flow by id in this one (an
	 * entry of a newer generation than @ctx is not @ctx's to count) */
	if (!d->flow_hash || d->c.generation > ctx->generation)
		return ZW_NO_FLOW;
	return zw_ctx__flow_by_hash(ctx, d->flow_hash);
}

void zw_ctab__fold(struct zw_ctab *t, struct zw_worker *w,
		   const struct zw_ctx *ctx, uint32_t pos)
{
	struct zw_dconn *d = zw_ctab__entry(t, pos);
	struct zw_cfold *f = &t->fold[pos];
	uint64_t dp = d->packets - f->packets, db = d->bytes - f->bytes;
	uint32_t flow;

	if (!dp && !db)
		return;
	/* snapshot first, flow total second: a concurrent reader that sees
	 * the new total sees the new snapshot (ctab.h) */
	f->packets = d->packets;
	f->bytes = d->bytes;
	rte_compiler_barrier();
	if (!ctx)
		return;
	flow = zw_dconn__flow_in(d, ctx);
	if (flow != ZW_NO_FLOW) {
		struct zw_flow_ctr *c =
			&ctx->ctr[(size_t)w->id * ctx->ctr_stride + flow];

		c->packets += dp;
		c->bytes += db;
	}
}

static uint32_t key_hash_at(const struct zw_ctab *t, uint32_t pos)
{
	return zw_ctab__hash(t, zw_ctab__key(t, pos));
}

void zw_ctab__del(struct zw_ctab *t, struct zw_worker *w,
		  const struct zw_ctx *ctx, int32_t pos, uint64_t now_ns)
{
	struct zw_dconn *d = zw_ctab__entry(t, (uint32_t)pos);
	uint32_t h, b1;

	if (!d->used)
		return;
	zw_ctab__fold(t, w, ctx, (uint32_t)pos);
	if (!d->kind && (d->c.flags & ZW_CF_LOG))
		zw_worker__emit_conn(w, t, (uint32_t)pos, ZW_EV_END, now_ns);
	/* stored in its secondary bucket: one spill less for the primary */
	h = key_hash_at(t, (uint32_t)pos);
	b1 = zw_ctab__b1(t, h);
	if ((uint32_t)pos / ZW_CT_WAYS != b1) {
		struct zw_dconn *s0 = zw_ctab__entry(t, b1 * ZW_CT_WAYS);

		if (s0->spill != UINT16_MAX)
			s0->spill--;
	}
	if (d->c.flags & ZW_CF_L7)
		zw_l7__end(w, t->l7[pos]); /* its inspector goes back */
	d->used = 0;
	t->count--;
}

/* Early drop: the oldest entry that is still embryonic. The FIFO holds
 * hints (an entry may have been established or reused since): check. */
static bool evict_one(struct zw_ctab *t, struct zw_worker *w,
		      const struct zw_ctx *ctx, uint64_t now_ns)
{
	int tries = 64;

	while (t->emb_head != t->emb_tail && tries--) {
		uint32_t pos = t->embryo[t->emb_head++ & (t->emb_cap - 1)];

		if (pos < t->nslots &&
		    zw_dconn__embryonic(zw_ctab__entry(t, pos))) {
			zw_ctab__del(t, w, ctx, (int32_t)pos, now_ns);
			w->st.evicted++;
			return true;
		}
	}
	return false;
}

static int32_t free_way(const struct zw_ctab *t, uint32_t bucket)
{
	uint32_t pos = bucket * ZW_CT_WAYS, k;

	for (k = 0; k < ZW_CT_WAYS; k++, pos++)
		if (!zw_ctab__entry(t, pos)->used)
			return (int32_t)pos;
	return -1;
}

/* Move the entry at @from to the free slot @to (its other bucket): its
 * counters are folded first, so a concurrent reader that sees it twice
 * counts nothing twice. */
static void move_entry(struct zw_ctab *t, struct zw_worker *w,
		       const struct zw_ctx *ctx, uint32_t from, uint32_t to,
		       uint32_t b1)
{
	struct zw_dconn *s = zw_ctab__entry(t, from), *d = zw_ctab__entry(t, to);
	uint16_t spill = d->spill;
	bool embryonic = zw_dconn__embryonic(s);

	zw_ctab__fold(t, w, ctx, from);
	memcpy(zw_ctab__slot(t, to), zw_ctab__slot(t, from),
	       t->family == 4 ? sizeof(struct zw_cent4) - sizeof(*d) :
				sizeof(struct zw_key6));
	d->used = 0;
	rte_compiler_barrier();
	memcpy(&d->c, &s->c, sizeof(s->c));
	d->packets = s->packets;
	d->bytes = s->bytes;
	d->flow_hash = s->flow_hash;
	d->kind = s->kind;
	d->spill = spill;
	t->fold[to] = t->fold[from];
	t->l7[to] = t->l7[from];
	t->rev[to] = t->rev[from];
	rte_compiler_barrier();
	d->used = 1;
	rte_compiler_barrier();
	s->used = 0;
	/* primary -> secondary: one more spill; back: one less */
	s = zw_ctab__entry(t, b1 * ZW_CT_WAYS);
	if (s->spill != UINT16_MAX)
		s->spill = (uint16_t)(s->spill + (to / ZW_CT_WAYS == b1 ? -1 : 1));
	t->moved++;
	if (embryonic)
		zw_ctab__embryo(t, (int32_t)to);
}

/* Both buckets of a new key are full: move one of their entries to its
 * other bucket (one step of cuckoo hashing). Returns the freed position
 * or -1. */
static int32_t make_room(struct zw_ctab *t, struct zw_worker *w,
			 const struct zw_ctx *ctx, uint32_t ba, uint32_t bb)
{
	uint32_t k;

	for (k = 0; k < 2 * ZW_CT_WAYS; k++) {
		uint32_t pos = (k < ZW_CT_WAYS ? ba : bb) * ZW_CT_WAYS +
			       k % ZW_CT_WAYS;
		uint32_t h = key_hash_at(t, pos), b1 = zw_ctab__b1(t, h);
		uint32_t alt = pos / ZW_CT_WAYS == b1 ? zw_ctab__b2(t, h) : b1;
		int32_t to = free_way(t, alt);

		if (to >= 0) {
			move_entry(t, w, ctx, pos, (uint32_t)to, b1);
			return (int32_t)pos;
		}
	}
	return -1;
}

/* Both buckets full and no entry can move: early drop of an embryonic
 * entry of these buckets (the oldest seen). Returns its position or -1. */
static int32_t evict_in(struct zw_ctab *t, struct zw_worker *w,
			const struct zw_ctx *ctx, uint32_t ba, uint32_t bb,
			uint64_t now_ns)
{
	int32_t best = -1;
	uint32_t k;

	for (k = 0; k < 2 * ZW_CT_WAYS; k++) {
		uint32_t pos = (k < ZW_CT_WAYS ? ba : bb) * ZW_CT_WAYS +
			       k % ZW_CT_WAYS;
		const struct zw_dconn *d = zw_ctab__entry(t, pos);

		if (zw_dconn__embryonic(d) &&
		    (best < 0 ||
		     d->c.last_ns < zw_ctab__entry(t, (uint32_t)best)->c.last_ns))
			best = (int32_t)pos;
	}
	if (best >= 0) {
		zw_ctab__del(t, w, ctx, best, now_ns);
		w->st.evicted++;
	}
	return best;
}

static int32_t place(struct zw_ctab *t, struct zw_worker *w,
		     const struct zw_ctx *ctx, const void *key, uint64_t now_ns)
{
	uint32_t h = zw_ctab__hash(t, key), b1 = zw_ctab__b1(t, h);
	uint32_t b2 = zw_ctab__b2(t, h);
	int32_t pos = free_way(t, b1);
	struct zw_dconn *d;
	uint16_t spill;

	if (pos < 0)
		pos = free_way(t, b2);
	if (pos < 0)
		pos = make_room(t, w, ctx, b1, b2);
	if (pos < 0)
		pos = evict_in(t, w, ctx, b1, b2, now_ns);
	if (pos < 0)
		return -ENOSPC;
	if ((uint32_t)pos / ZW_CT_WAYS != b1) {
		d = zw_ctab__entry(t, b1 * ZW_CT_WAYS);
		if (d->spill != UINT16_MAX)
			d->spill++;
	}
	d = zw_ctab__entry(t, (uint32_t)pos);
	spill = d->spill; /* slot 0 keeps its bucket's count */
	memcpy(zw_ctab__slot(t, (uint32_t)pos), key,
	       t->family == 4 ? sizeof(struct zw_key4) : sizeof(struct zw_key6));
	memset(d, 0, sizeof(*d));
	d->spill = spill;
	t->fold[pos] = (struct zw_cfold){ .start_ns = now_ns,
					  .report_ns = now_ns };
	/* (t->rev[pos] is zeroed by the worker for logged connections only:
	 * the others never read it, and it is a cache line of its own) */
	/* published last (a concurrent reader checks `used` first) */
	rte_compiler_barrier();
	d->used = 1;
	t->count++;
	return pos;
}

int32_t zw_ctab__add(struct zw_ctab *t, struct zw_worker *w,
		     const struct zw_ctx *ctx, const void *key, uint64_t now_ns)
{
	if (t->count >= t->cap && !evict_one(t, w, ctx, now_ns))
		return -ENOSPC;
	return place(t, w, ctx, key, now_ns);
}

static uint8_t key_proto(const struct zw_ctab *t, uint32_t pos)
{
	const void *k = zw_ctab__key(t, pos);

	return t->family == 4 ? ((const struct zw_key4 *)k)->proto :
				((const struct zw_key6 *)k)->proto;
}

uint32_t zw_ctab__expire_ctx(struct zw_ctab *t, struct zw_worker *w,
			     const struct zw_ctx *ctx, uint64_t now_ns,
			     uint32_t budget)
{
	uint32_t removed = 0;

	while (budget--) {
		uint32_t pos = t->scan;
		struct zw_dconn *d = zw_ctab__entry(t, pos);

		t->scan = pos + 1 >= t->nslots ? 0 : pos + 1;
		if (!d->used)
			continue;
		if (!(now_ns > d->c.last_ns &&
		      now_ns - d->c.last_ns >
			      zw_dconn__timeout(d, key_proto(t, pos)))) {
			zw_ctab__fold(t, w, ctx, pos);
			/* a long-lived logged connection: its counts so far,
			 * every active timeout */
			if (unlikely(d->c.flags & ZW_CF_LOG) && !d->kind && ctx &&
			    now_ns - t->fold[pos].report_ns >= ctx->active_ns) {
				t->fold[pos].report_ns = now_ns;
				zw_worker__emit_conn(w, t, pos, ZW_EV_UPDATE,
						     now_ns);
			}
			continue;
		}
		zw_ctab__del(t, w, ctx, (int32_t)pos, now_ns);
		removed++;
	}
	return removed;
}

uint32_t zw_ctab__expire(struct zw_ctab *t, struct zw_worker *w,
			 uint64_t now_ns, uint32_t budget)
{
	const struct zw_ctx *ctx = __atomic_load_n(&zw_eng.ctx, __ATOMIC_ACQUIRE);

	return zw_ctab__expire_ctx(t, w, ctx, now_ns, budget);
}

void zw_ctab__pending(const struct zw_ctx *ctx, uint32_t only,
		      struct zw_flow_counters *out)
{
	const struct zw_ctab *t;

	pthread_mutex_lock(&reg_lock);
	for (t = reg_head; t; t = t->next) {
		uint32_t pos;

		for (pos = 0; pos < t->nslots; pos++) {
			const volatile struct zw_dconn *d =
				zw_ctab__entry(t, pos);
			const volatile struct zw_cfold *f = &t->fold[pos];
			uint64_t fp, fb, p, b;
			uint32_t flow;

			if (!d->used || d->kind)
				continue;
			rte_compiler_barrier();
			/* the snapshot before the count: it never exceeds it */
			fp = f->packets;
			fb = f->bytes;
			rte_compiler_barrier();
			p = d->packets;
			b = d->bytes;
			flow = zw_dconn__flow_in((const struct zw_dconn *)d, ctx);
			if (flow == ZW_NO_FLOW || (only != ZW_NO_FLOW && flow != only))
				continue;
			if (only != ZW_NO_FLOW)
				flow = 0;
			out[flow].packets += p > fp ? p - fp : 0;
			out[flow].bytes += b > fb ? b - fb : 0;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}
