// SPDX-License-Identifier: BSD-2-Clause
/*
 * Preallocated connections for a packet path that must not allocate (the
 * DPDK engine's workers): a pool holds @n connection states, their HTTP
 * head buffers, four Hyperscan stream blocks per connection (two
 * conformance streams and two magic-number streams are the most a
 * connection has open at once) and its own scratch space (one pool per
 * thread, so one scratch per thread). Everything is taken when the pool is
 * made; afterwards get/put only move indices on free stacks.
 *
 * Hyperscan allocates a stream inside hs_open_stream() through its stream
 * allocator, which is process-wide (hs_set_stream_allocator): ours serves
 * the pool bound to the calling thread (zw_l7_pool__bind, done by conn.c
 * around every open and close of a pooled connection's streams) and falls
 * back to malloc/free otherwise, so unpooled connections (zw-inspect, the
 * oracle) are unchanged. Hyperscan has no call that opens a stream in
 * caller-provided memory, hence this.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "l7_db.h"
#include "l7_pool.h"

#define STREAMS_PER_CONN 4u
#define ALIGN 64u

struct zw_l7_pool {
	struct zw_l7_db *db;
	hs_scratch_t *scratch;
	unsigned n, used;
	size_t csz;	      /* bytes per connection state (aligned) */
	uint8_t *conns;	      /* n * csz */
	char *heads;	      /* n * 2 * HTTP_HEAD_MAX */
	uint32_t *cfree;      /* free stack of connection indices */
	unsigned ncfree;
	size_t ssz;	      /* bytes per stream block (aligned) */
	uint8_t *streams;     /* n * STREAMS_PER_CONN * ssz */
	uint32_t *sfree;
	unsigned nsfree;
	uint64_t exhausted;   /* gets refused */
};

static __thread struct zw_l7_pool *bound;

struct zw_l7_pool *zw_l7_pool__bind(struct zw_l7_pool *p)
{
	struct zw_l7_pool *prev = bound;

	bound = p;
	return prev;
}

static void *HS_CDECL stream_alloc(size_t size)
{
	struct zw_l7_pool *p = bound;

	if (!p)
		return malloc(size);
	if (size > p->ssz || !p->nsfree)
		return NULL; /* cannot happen: sized for the worst case */
	return p->streams + (size_t)p->sfree[--p->nsfree] * p->ssz;
}

static void HS_CDECL stream_free(void *ptr)
{
	struct zw_l7_pool *p = bound;
	uint8_t *b = ptr;

	if (p && b >= p->streams &&
	    b < p->streams + (size_t)p->n * STREAMS_PER_CONN * p->ssz) {
		p->sfree[p->nsfree++] = (uint32_t)((size_t)(b - p->streams) / p->ssz);
		return;
	}
	free(ptr);
}

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;

static void set_allocator(void)
{
	hs_set_stream_allocator(stream_alloc, stream_free);
}

static size_t align_up(size_t v)
{
	return (v + ALIGN - 1) / ALIGN * ALIGN;
}

static size_t stream_size(const struct zw_l7_db *db)
{
	size_t m = 0, s;

	for (unsigned p = 0; p < ZW_L7_MAX_DEFS; p++)
		for (int d = 0; d < 2; d++)
			if (db->side[p][d] &&
			    hs_stream_size(db->side[p][d], &s) == HS_SUCCESS &&
			    s > m)
				m = s;
	if (db->magic && hs_stream_size(db->magic, &s) == HS_SUCCESS && s > m)
		m = s;
	return align_up(m);
}

struct zw_l7_pool *zw_l7_pool__new(struct zw_l7_db *db, unsigned n)
{
	struct zw_l7_pool *p;
	size_t ns;

	if (!db || !n) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&alloc_once, set_allocator);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->db = db;
	p->n = n;
	p->csz = align_up(zw_l7_conn_size);
	p->ssz = stream_size(db);
	ns = (size_t)n * STREAMS_PER_CONN;
	p->conns = aligned_alloc(ALIGN, (size_t)n * p->csz);
	p->heads = malloc((size_t)n * 2 * HTTP_HEAD_MAX);
	p->cfree = malloc((size_t)n * sizeof(uint32_t));
	p->streams = aligned_alloc(ALIGN, ns * p->ssz);
	p->sfree = malloc(ns * sizeof(uint32_t));
	if (!p->conns || !p->heads || !p->cfree || !p->streams || !p->sfree ||
	    hs_clone_scratch(db->scratch, &p->scratch) != HS_SUCCESS) {
		zw_l7_pool__free(p);
		errno = ENOMEM;
		return NULL;
	}
	/* touch everything now: no page fault on the packet path */
	memset(p->conns, 0, (size_t)n * p->csz);
	memset(p->heads, 0, (size_t)n * 2 * HTTP_HEAD_MAX);
	memset(p->streams, 0, ns * p->ssz);
	for (unsigned i = 0; i < n; i++)
		p->cfree[i] = n - 1 - i;
	p->ncfree = n;
	for (size_t i = 0; i < ns; i++)
		p->sfree[i] = (uint32_t)(ns - 1 - i);
	p->nsfree = (unsigned)ns;
	return p;
}

void zw_l7_pool__free(struct zw_l7_pool *p)
{
	if (!p)
		return;
	if (p->scratch)
		hs_free_scratch(p->scratch);
	free(p->conns);
	free(p->heads);
	free(p->cfree);
	free(p->streams);
	free(p->sfree);
	free(p);
}

unsigned zw_l7_pool__size(const struct zw_l7_pool *p)
{
	return p->n;
}

unsigned zw_l7_pool__used(const struct zw_l7_pool *p)
{
	return p->used;
}

uint64_t zw_l7_pool__exhausted(const struct zw_l7_pool *p)
{
	return p->exhausted;
}

struct zw_l7_conn *zw_l7_pool__at(struct zw_l7_pool *p, uint32_t index)
{
	return (struct zw_l7_conn *)(p->conns + (size_t)index * p->csz);
}

struct zw_l7_conn *zw_l7_pool__get(struct zw_l7_pool *p, int proto,
				   uint8_t l4, uint32_t ftypes,
				   uint32_t *index)
{
	struct zw_l7_conn *c;
	uint32_t i;

	if (!p->ncfree) {
		p->exhausted++;
		errno = ENOBUFS;
		return NULL;
	}
	i = p->cfree[--p->ncfree];
	c = zw_l7_pool__at(p, i);
	if (zw_l7_conn__init(c, p->db, p->scratch, p,
			     p->heads + (size_t)i * 2 * HTTP_HEAD_MAX, proto,
			     l4, ftypes)) {
		p->cfree[p->ncfree++] = i;
		errno = ENOMEM;
		return NULL;
	}
	p->used++;
	*index = i;
	return c;
}

void zw_l7_pool__put(struct zw_l7_pool *p, struct zw_l7_conn *c)
{
	size_t off = (size_t)((uint8_t *)c - p->conns);

	zw_l7_conn__release(c);
	p->cfree[p->ncfree++] = (uint32_t)(off / p->csz);
	p->used--;
}
