/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The compiler: a validated matrix to policy image bytes
 * (docs/policy-image.md). Deterministic: every table is emitted in an order
 * derived from the matrix text alone (zones, services and flows in file
 * order; prefixes sorted by address), strings are interned in order of
 * first use, and no date, host or pointer enters the bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "internal.h"

struct buf {
	uint8_t *v;
	size_t n, cap;
	bool oom;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	if (b->oom || zw_grow((void **)&b->v, &b->cap, b->n + len, 1) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->v + b->n, data, len);
	b->n += len;
}

/* ---- string interning (open addressing, FNV-1a) ---- */

struct strtab {
	struct buf data;
	uint32_t *slots; /* offset + 1, 0 = empty */
	size_t nslots, used;
};

static uint64_t fnv(const char *s)
{
	return zw_fnv1a64(s, strlen(s));
}

static int strtab_rehash(struct strtab *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i])
			continue;
		const char *str = (const char *)t->data.v + t->slots[i] - 1;
		size_t k = fnv(str) & (n - 1);

		while (s[k])
			k = (k + 1) & (n - 1);
		s[k] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

static uint32_t intern(struct strtab *t, const char *s)
{
	size_t k;

	if (!s || !*s)
		return 0;
	if ((t->used + 1) * 2 > t->nslots && strtab_rehash(t) < 0) {
		t->data.oom = true;
		return 0;
	}
	k = fnv(s) & (t->nslots - 1);
	while (t->slots[k]) {
		if (!strcmp((const char *)t->data.v + t->slots[k] - 1, s))
			return t->slots[k] - 1;
		k = (k + 1) & (t->nslots - 1);
	}
	size_t off = t->data.n;

	if (off > UINT32_MAX - 1) {
		t->data.oom = true;
		return 0;
	}
	put(&t->data, s, strlen(s) + 1);
	if (t->data.oom)
		return 0;
	t->slots[k] = (uint32_t)off + 1;
	t->used++;
	return (uint32_t)off;
}

/* ---- tables ---- */

struct tables {
	struct strtab str;
	struct buf meta, zones, p4, p6, services, flows, pairs, rules, sets,
		narrow, block, fileblock, probes, probe_zones;
};

static int cmp_p4(const void *a, const void *b)
{
	const struct zw_img_prefix4 *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 4);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->zone < y->zone ? -1 : x->zone > y->zone;
}

static int cmp_p6(const void *a, const void *b)
{
	const struct zw_img_prefix6 *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->zone < y->zone ? -1 : x->zone > y->zone;
}

/* Sort a prefix table and drop exact duplicates (same prefix listed twice
 * in one zone). */
static void sort_unique(struct buf *b, size_t size,
			int (*cmp)(const void *, const void *))
{
	size_t n = b->n / size, k = 0;

	if (!n)
		return;
	qsort(b->v, n, size, cmp);
	for (size_t i = 1; i < n; i++)
		if (cmp(b->v + k * size, b->v + i * size))
			memmove(b->v + ++k * size, b->v + i * size, size);
	b->n = (k + 1) * size;
}

static uint32_t add_set(struct tables *t, const struct zw_prefix *v, size_t n)
{
	struct zw_img_set set;

	if (!n)
		return ZW_NO_SET;
	set.first = (uint32_t)(t->narrow.n / sizeof(struct zw_img_narrow));
	set.count = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		struct zw_img_narrow x = {.family = v[i].family, .len = v[i].len};

		memcpy(x.addr, v[i].addr, 16);
		zw_prefix_mask(x.addr, x.family, x.len);
		put(&t->narrow, &x, sizeof(x));
	}
	put(&t->sets, &set, sizeof(set));
	return (uint32_t)(t->sets.n / sizeof(set) - 1);
}

struct pending_rule {
	struct zw_img_rule r;
	uint16_t from, to;
	size_t seq; /* emission order, for a stable sort */
};

static int cmp_pending(const void *a, const void *b)
{
	const struct pending_rule *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int build_probes(const struct zw_matrix *m, struct tables *t);

static int build(const struct zw_matrix *m, const struct zw_compile_opts *o,
		 struct tables *t)
{
	uint32_t *svc_map = NULL;
	struct pending_rule *pend = NULL;
	size_t npend = 0, cappend = 0;
	int err = -ENOMEM;

	if (m->n_zones > UINT16_MAX || m->n_services > UINT16_MAX ||
	    m->n_flows > UINT32_MAX / 2)
		return -EINVAL;
	put(&t->str.data, "", 1); /* offset 0 = "" */

	struct zw_img_meta meta = {
		.name = intern(&t->str, m->name),
		.file = intern(&t->str, m->file ? (strrchr(m->file, '/') ? strrchr(m->file, '/') + 1 : m->file) : NULL),
		.lang_version = (uint32_t)m->lang_version,
		.profile = (uint32_t)m->profile,
	};

	memcpy(meta.source_sha256, m->source_sha256, 32);
	put(&t->meta, &meta, sizeof(meta));

	for (size_t z = 0; z < m->n_zones; z++) {
		const struct zw_zone *zz = &m->zones[z];
		struct zw_img_zone iz = {
			.name = intern(&t->str, zz->name),
			.kind = (uint8_t)zz->kind,
			.flags = zz->isolate ? ZW_IMG_ZONE_ISOLATE : 0,
			.description = intern(&t->str, zz->description),
		};

		put(&t->zones, &iz, sizeof(iz));
		for (size_t i = 0; i < zz->n_networks; i++) {
			const struct zw_prefix *p = &zz->networks[i];

			if (p->family == ZW_AF_INET) {
				struct zw_img_prefix4 x = {.len = p->len,
							   .zone = (uint16_t)z};

				memcpy(x.addr, p->addr, 4);
				put(&t->p4, &x, sizeof(x));
			} else {
				struct zw_img_prefix6 x = {.len = p->len,
							   .zone = (uint16_t)z};

				memcpy(x.addr, p->addr, 16);
				put(&t->p6, &x, sizeof(x));
			}
		}
	}
	sort_unique(&t->p4, sizeof(struct zw_img_prefix4), cmp_p4);
	sort_unique(&t->p6, sizeof(struct zw_img_prefix6), cmp_p6);

	/* Services used by at least one flow, in catalogue/matrix order. */
	svc_map = malloc((m->n_services + 1) * sizeof(*svc_map));
	if (!svc_map)
		goto out;
	uint32_t nsvc = 0;

	for (size_t s = 0; s < m->n_services; s++) {
		const struct zw_service *sv = &m->services[s];
		svc_map[s] = UINT32_MAX;
		if (!sv->used)
			continue;
		struct zw_img_service is = {
			.name = intern(&t->str, sv->name),
			.inspect = intern(&t->str, sv->inspect),
			.flags = (sv->unsafe ? ZW_IMG_SVC_UNSAFE : 0) |
				 (sv->builtin ? ZW_IMG_SVC_BUILTIN : 0),
		};

		put(&t->services, &is, sizeof(is));
		svc_map[s] = nsvc++;
	}

	struct zw_img_set empty = {0, 0};

	put(&t->sets, &empty, sizeof(empty));

	for (size_t i = 0; i < m->n_flows; i++) {
		const struct zw_flow *f = &m->flows[i];
		char *names = NULL;
		size_t nlen = 0;

		for (size_t k = 0; k < f->n_services; k++)
			nlen += strlen(m->services[f->services[k]].name) + 1;
		names = calloc(1, nlen + 1);
		if (!names)
			goto out;
		for (size_t k = 0; k < f->n_services; k++) {
			if (k)
				strcat(names, ",");
			strcat(names, m->services[f->services[k]].name);
		}
		struct zw_img_flow fl = {
			.id = intern(&t->str, f->id),
			.from = (uint16_t)f->from,
			.to = (uint16_t)f->to,
			.flags = f->log ? ZW_IMG_FLOW_LOG : 0,
			.rate = f->rate,
			.expires = f->expires,
			.review = f->review,
			.justification = intern(&t->str, f->justification),
			.compensating = intern(&t->str, f->compensating),
			.owner = intern(&t->str, f->owner),
			.services = intern(&t->str, names),
			.id_hash = zw_flow_id__hash(f->id),
		};

		free(names);
		put(&t->flows, &fl, sizeof(fl));
		if (o && o->exclude && o->exclude[i])
			continue;

		uint32_t src_set = add_set(t, f->src, f->n_src);
		uint32_t dst_set = add_set(t, f->dst, f->n_dst);

		for (size_t k = 0; k < f->n_services; k++) {
			const struct zw_service *sv = &m->services[f->services[k]];

			for (size_t e = 0; e < sv->n_entries; e++) {
				const struct zw_svc_entry *en = &sv->entries[e];
				const struct zw_range *r = NULL;
				size_t nr = 0;
				struct zw_range any = {0, 65535};
				uint8_t flags = 0;

				if (zw_proto__has_ports(en->proto)) {
					r = en->ports;
					nr = en->n_ports;
				} else if (zw_proto__is_icmp(en->proto) && en->n_types) {
					r = en->types;
					nr = en->n_types;
				} else {
					r = &any;
					nr = 1;
					flags = ZW_IMG_RULE_ANY;
				}
				for (size_t q = 0; q < nr; q++) {
					if (zw_grow((void **)&pend, &cappend, npend + 1,
						    sizeof(*pend)) < 0)
						goto out;
					pend[npend] = (struct pending_rule){
						.r = {.flow = (uint32_t)i,
						      .service = (uint16_t)svc_map[f->services[k]],
						      .proto = en->proto,
						      .flags = flags,
						      .lo = r[q].lo,
						      .hi = r[q].hi,
						      .src_set = src_set,
						      .dst_set = dst_set},
						.from = (uint16_t)f->from,
						.to = (uint16_t)f->to,
						.seq = npend,
					};
					npend++;
				}
			}
		}
	}
	if (npend > UINT32_MAX / 2) {
		err = -EINVAL;
		goto out;
	}
	if (npend)
		qsort(pend, npend, sizeof(*pend), cmp_pending);
	for (size_t i = 0; i < npend;) {
		size_t j = i;
		struct zw_img_pair pr = {pend[i].from, pend[i].to, (uint32_t)i, 0};

		while (j < npend && pend[j].from == pend[i].from &&
		       pend[j].to == pend[i].to) {
			put(&t->rules, &pend[j].r, sizeof(pend[j].r));
			j++;
		}
		pr.count = (uint32_t)(j - i);
		put(&t->pairs, &pr, sizeof(pr));
		i = j;
	}

	for (size_t i = 0; o && i < o->n_block; i++) {
		struct zw_img_narrow x = {.family = o->block[i].family,
					  .len = o->block[i].len};

		memcpy(x.addr, o->block[i].addr, 16);
		zw_prefix_mask(x.addr, x.family, x.len);
		put(&t->block, &x, sizeof(x));
	}
	for (size_t i = 0; o && i < o->n_fileblock; i++) {
		const struct zw_fileblock *fb = &o->fileblock[i];
		struct zw_img_fileblock x = {.types = fb->types,
					     .from = ZW_FILEBLOCK_ANY,
					     .to = ZW_FILEBLOCK_ANY};
		bool known = true;

		for (int k = 0; k < 2; k++) {
			const char *name = k ? fb->to : fb->from;
			size_t z;

			if (!name)
				continue;
			for (z = 0; z < m->n_zones; z++)
				if (!strcmp(m->zones[z].name, name))
					break;
			if (z == m->n_zones)
				known = false;
			else if (k)
				x.to = (uint16_t)z;
			else
				x.from = (uint16_t)z;
		}
		if (known && x.types)
			put(&t->fileblock, &x, sizeof(x));
	}
	err = build_probes(m, t);
	if (err)
		goto out;
	err = 0;
out:
	free(svc_map);
	free(pend);
	return err;
}

static int cmp_probe_name(const void *a, const void *b)
{
	const struct zw_probe *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Probes by name (the model keeps file order), each with its zone list. */
static int build_probes(const struct zw_matrix *m, struct tables *t)
{
	const struct zw_probe **v;
	uint32_t first = 0;

	if (!m->n_probes)
		return 0;
	v = malloc(m->n_probes * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_probes; i++)
		v[i] = &m->probes[i];
	qsort(v, m->n_probes, sizeof(*v), cmp_probe_name);
	for (size_t i = 0; i < m->n_probes; i++) {
		const struct zw_probe *p = v[i];
		struct zw_img_probe x = {
			.name = intern(&t->str, p->name),
			.interface = intern(&t->str, p->interface),
			.flags = p->traffic == ZW_PROBE_ALL ? ZW_IMG_PROBE_DENIED : 0,
			.first = first,
			.count = (uint32_t)p->n_zones,
			.description = intern(&t->str, p->description),
		};

		for (size_t z = 0; z < p->n_zones; z++) {
			struct zw_img_probe_zone pz = {.zone = (uint16_t)p->zones[z]};

			put(&t->probe_zones, &pz, sizeof(pz));
		}
		first += (uint32_t)p->n_zones;
		put(&t->probes, &x, sizeof(x));
	}
	free(v);
	return 0;
}

static void free_tables(struct tables *t)
{
	struct buf *all[] = {&t->str.data, &t->meta, &t->zones, &t->p4,
			     &t->p6, &t->services, &t->flows, &t->pairs,
			     &t->rules, &t->sets, &t->narrow, &t->block, &t->fileblock,
			     &t->probes, &t->probe_zones};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->v);
	free(t->str.slots);
}

int zw_policy__compile_opts(const struct zw_matrix *m,
			    const struct zw_compile_opts *opts, uint8_t **out,
			    size_t *out_len)
{
	struct tables t = {0};
	int r;

	*out = NULL;
	*out_len = 0;
	r = build(m, opts, &t);
	if (r)
		goto out;

	struct {
		struct buf *b;
		uint32_t rsize;
	} secs[ZW_SEC__MAX] = {
		{&t.str.data, 1},
		{&t.meta, sizeof(struct zw_img_meta)},
		{&t.zones, sizeof(struct zw_img_zone)},
		{&t.p4, sizeof(struct zw_img_prefix4)},
		{&t.p6, sizeof(struct zw_img_prefix6)},
		{&t.services, sizeof(struct zw_img_service)},
		{&t.flows, sizeof(struct zw_img_flow)},
		{&t.pairs, sizeof(struct zw_img_pair)},
		{&t.rules, sizeof(struct zw_img_rule)},
		{&t.sets, sizeof(struct zw_img_set)},
		{&t.narrow, sizeof(struct zw_img_narrow)},
		{&t.block, sizeof(struct zw_img_narrow)},
		{&t.fileblock, sizeof(struct zw_img_fileblock)},
		{&t.probes, sizeof(struct zw_img_probe)},
		{&t.probe_zones, sizeof(struct zw_img_probe_zone)},
	};
	struct buf img = {0};
	struct zw_image_header h;
	struct zw_img_section dir[ZW_SEC__MAX];
	size_t off = sizeof(h) + sizeof(dir);

	for (int i = 0; i < ZW_SEC__MAX; i++) {
		if (secs[i].b->oom) {
			r = -ENOMEM;
			goto out;
		}
		off = (off + 7) & ~(size_t)7;
		dir[i] = (struct zw_img_section){
			.type = (uint32_t)i + 1,
			.record_size = secs[i].rsize,
			.count = (uint32_t)(secs[i].b->n / secs[i].rsize),
			.offset = (uint32_t)off,
		};
		off += secs[i].b->n;
		if (off > UINT32_MAX) {
			r = -EINVAL;
			goto out;
		}
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, ZW_IMAGE_MAGIC, 8);
	h.format = ZW_IMAGE_FORMAT;
	h.header_size = sizeof(h);
	h.total_size = off;
	h.n_sections = ZW_SEC__MAX;
	strncpy(h.name, m->name ? m->name : "", sizeof(h.name) - 1);

	put(&img, &h, sizeof(h));
	put(&img, dir, sizeof(dir));
	for (int i = 0; i < ZW_SEC__MAX; i++) {
		static const uint8_t zero[8];

		put(&img, zero, dir[i].offset - img.n);
		put(&img, secs[i].b->v, secs[i].b->n);
	}
	if (img.oom) {
		free(img.v);
		r = -ENOMEM;
		goto out;
	}
	/* SHA-256 over everything but the hash field itself. */
	r = zw_sha256_2(img.v, offsetof(struct zw_image_header, sha256),
			img.v + sizeof(h), img.n - sizeof(h),
			((struct zw_image_header *)img.v)->sha256);
	if (r) {
		free(img.v);
		goto out;
	}
	*out = img.v;
	*out_len = img.n;
out:
	free_tables(&t);
	return r;
}

int zw_policy__compile(const struct zw_matrix *m, uint8_t **out,
		       size_t *out_len)
{
	return zw_policy__compile_opts(m, NULL, out, out_len);
}
