// SPDX-License-Identifier: BSD-2-Clause
/*
 * Per-worker connection tables: an rte_hash per family (the worker is its
 * only reader and writer, so no locks), connection data in an array
 * indexed by the hash's key position, timeouts checked by an incremental
 * scan, and early drop of the oldest embryonic entry when the table is
 * full (the way Linux conntrack drops unassured entries first).
 */
#include <errno.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "zw_conn.h"
#include "zwdpdk.h"

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
	struct rte_hash_parameters p = {
		.name = name,
		.entries = cap,
		.key_len = family == 4 ? sizeof(struct zw_key4) :
					 sizeof(struct zw_key6),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		/* Extendable buckets: adds fail only when truly full. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	memset(t, 0, sizeof(*t));
	t->family = family;
	t->cap = cap;
	t->h = rte_hash_create(&p);
	/* Positions run 0..entries (the hash keeps one spare slot). */
	t->conns = rte_zmalloc_socket("zw_conns",
				      ((size_t)cap + 1) * sizeof(*t->conns),
				      RTE_CACHE_LINE_SIZE, socket);
	t->emb_cap = rte_align32pow2(cap + 1);
	t->embryo = rte_malloc_socket("zw_embryo",
				      (size_t)t->emb_cap * sizeof(uint32_t), 0,
				      socket);
	if (!t->h || !t->conns || !t->embryo) {
		zw_ctab__fini(t);
		return -ENOMEM;
	}
	return 0;
}

void zw_ctab__fini(struct zw_ctab *t)
{
	rte_hash_free(t->h);
	rte_free(t->conns);
	rte_free(t->embryo);
	memset(t, 0, sizeof(*t));
}

void zw_ctab__embryo(struct zw_ctab *t, int32_t pos)
{
	if (t->emb_tail - t->emb_head == t->emb_cap)
		t->emb_head++; /* forget the oldest hint */
	t->embryo[t->emb_tail++ & (t->emb_cap - 1)] = (uint32_t)pos;
}

void zw_ctab__del(struct zw_ctab *t, struct zw_worker *w, int32_t pos,
		  uint64_t now_ns)
{
	const struct zw_dconn *d = &t->conns[pos];
	void *key;

	if (rte_hash_get_key_with_position(t->h, pos, &key) == 0) {
		if (!d->kind && (d->c.flags & ZW_CF_LOG))
			zw_worker__emit_end(w, key, t->family, d, now_ns);
		if (rte_hash_del_key(t->h, key) >= 0)
			t->count--;
	}
	t->conns[pos].used = 0;
}

/* Early drop: the oldest entry that is still embryonic. The FIFO holds
 * hints (an entry may have been established or reused since): check. */
static bool evict_one(struct zw_ctab *t, struct zw_worker *w, uint64_t now_ns)
{
	int tries = 64;

	while (t->emb_head != t->emb_tail && tries--) {
		uint32_t pos = t->embryo[t->emb_head++ & (t->emb_cap - 1)];

		if (pos <= t->cap && zw_dconn__embryonic(&t->conns[pos])) {
			zw_ctab__del(t, w, (int32_t)pos, now_ns);
			w->st.evicted++;
			return true;
		}
	}
	return false;
}

int32_t zw_ctab__add(struct zw_ctab *t, struct zw_worker *w, const void *key,
		     uint64_t now_ns)
{
	int32_t pos;

	if (t->count >= t->cap && !evict_one(t, w, now_ns))
		return -ENOSPC;
	pos = rte_hash_add_key(t->h, key);
	if (pos == -ENOSPC && evict_one(t, w, now_ns))
		pos = rte_hash_add_key(t->h, key);
	if (pos < 0)
		return pos;
	memset(&t->conns[pos], 0, sizeof(t->conns[pos]));
	t->conns[pos].used = 1;
	t->count++;
	return pos;
}

uint32_t zw_ctab__expire(struct zw_ctab *t, struct zw_worker *w,
			 uint64_t now_ns, uint32_t budget)
{
	uint32_t removed = 0;

	while (budget--) {
		uint32_t pos = t->scan;
		struct zw_dconn *d = &t->conns[pos];
		void *key;
		uint8_t proto;

		t->scan = pos >= t->cap ? 0 : pos + 1;
		if (!d->used)
			continue;
		if (rte_hash_get_key_with_position(t->h, (int32_t)pos, &key)) {
			d->used = 0;
			continue;
		}
		proto = t->family == 4 ? ((const struct zw_key4 *)key)->proto :
					 ((const struct zw_key6 *)key)->proto;
		if (!(now_ns > d->c.last_ns &&
		      now_ns - d->c.last_ns > zw_dconn__timeout(d, proto)))
			continue;
		zw_ctab__del(t, w, (int32_t)pos, now_ns);
		removed++;
	}
	return removed;
}
