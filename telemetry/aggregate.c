/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Denied attempts folded per (family, src, dst, proto, dport) over a
 * window: a scan or a flood gives at most one record per key and window,
 * with a count, and the table never grows past its capacity (a new key
 * when it is full is refused and counted). Open addressing with linear
 * probing; entries leave only in flush, which rebuilds the table, so no
 * tombstones are needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/policy.h>
#include <zonewall/telemetry.h>

struct slot {
	bool used;
	uint64_t hash;
	struct zw_tm_denial d;
};

struct zw_tm_agg {
	struct slot *s, *tmp;
	size_t cap;   /* keys at most */
	size_t nslot; /* power of two, >= 2 * cap */
	size_t n;
	uint32_t window_ms;
	uint64_t overflow;
	uint64_t oldest_ms; /* first_ms of the oldest entry */
};

struct zw_tm_agg *zw_tm_agg__new(size_t capacity, uint32_t window_ms)
{
	struct zw_tm_agg *a;

	if (!capacity || capacity > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cap = capacity;
	a->nslot = 16;
	while (a->nslot < 2 * capacity)
		a->nslot <<= 1;
	a->window_ms = window_ms;
	a->s = calloc(a->nslot, sizeof(*a->s));
	a->tmp = calloc(a->nslot, sizeof(*a->tmp));
	if (!a->s || !a->tmp) {
		zw_tm_agg__free(a);
		errno = ENOMEM;
		return NULL;
	}
	return a;
}

void zw_tm_agg__free(struct zw_tm_agg *a)
{
	if (!a)
		return;
	free(a->s);
	free(a->tmp);
	free(a);
}

static bool same_key(const struct zw_flow_record *x,
		     const struct zw_flow_record *y)
{
	return x->family == y->family && x->proto == y->proto &&
	       x->dport == y->dport && !memcmp(x->src, y->src, 16) &&
	       !memcmp(x->dst, y->dst, 16);
}

static uint64_t key_hash(const struct zw_flow_record *r)
{
	uint8_t k[36];

	k[0] = r->family;
	k[1] = r->proto;
	k[2] = (uint8_t)(r->dport >> 8);
	k[3] = (uint8_t)r->dport;
	memcpy(k + 4, r->src, 16);
	memcpy(k + 20, r->dst, 16);
	return zw_fnv1a64(k, sizeof(k));
}

int zw_tm_agg__add(struct zw_tm_agg *a, const struct zw_flow_record *r,
		   const void *tag, uint64_t now_ms)
{
	uint64_t h = key_hash(r);
	uint64_t n = r->event == ZW_EV_DENIED_AGG && r->packets ? r->packets : 1;
	size_t i = (size_t)h & (a->nslot - 1);

	for (;; i = (i + 1) & (a->nslot - 1)) {
		struct slot *s = &a->s[i];

		if (!s->used)
			break;
		if (s->hash == h && same_key(&s->d.first, r)) {
			s->d.count += n;
			s->d.last_ms = now_ms;
			return 0;
		}
	}
	if (a->n == a->cap) {
		a->overflow += n;
		return -ENOSPC;
	}
	a->s[i].used = true;
	a->s[i].hash = h;
	a->s[i].d = (struct zw_tm_denial){
		.first = *r, .count = n, .first_ms = now_ms,
		.last_ms = now_ms, .tag = tag};
	if (!a->n || now_ms < a->oldest_ms)
		a->oldest_ms = now_ms;
	a->n++;
	return 0;
}

size_t zw_tm_agg__flush(struct zw_tm_agg *a, uint64_t now_ms, bool all,
			void (*fn)(void *ctx, const struct zw_tm_denial *d),
			void *ctx)
{
	size_t out = 0, kept = 0;
	struct slot *t;

	if (!a->n || (!all && now_ms - a->oldest_ms < a->window_ms))
		return 0; /* nothing due: no rebuild */
	a->oldest_ms = UINT64_MAX;
	memset(a->tmp, 0, a->nslot * sizeof(*a->tmp));
	for (size_t i = 0; i < a->nslot; i++) {
		struct slot *s = &a->s[i];
		size_t j;

		if (!s->used)
			continue;
		if (all || now_ms - s->d.first_ms >= a->window_ms) {
			fn(ctx, &s->d);
			out++;
			continue;
		}
		for (j = (size_t)s->hash & (a->nslot - 1); a->tmp[j].used;
		     j = (j + 1) & (a->nslot - 1))
			;
		a->tmp[j] = *s;
		if (s->d.first_ms < a->oldest_ms)
			a->oldest_ms = s->d.first_ms;
		kept++;
	}
	t = a->s;
	a->s = a->tmp;
	a->tmp = t;
	a->n = kept;
	return out;
}

size_t zw_tm_agg__size(const struct zw_tm_agg *a)
{
	return a->n;
}

uint64_t zw_tm_agg__overflow(const struct zw_tm_agg *a)
{
	return a->overflow;
}
