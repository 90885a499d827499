/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Policy image loader. Verifies everything an engine relies on before any
 * engine sees the bytes: magic, format, sizes, checksum, section bounds,
 * every index and string offset, prefix well-formedness, sort orders and
 * the absence of overlap between zones. A corrupt or truncated image is
 * refused with a one-line reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/policy.h>

#define MAX_IMAGE (1u << 30)

struct image_priv {
	struct zw_image pub;
	uint8_t *copy;
};

static int fail(char *err, size_t n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && n) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return code;
}

static bool prefix_ok(uint8_t family, uint8_t len, const uint8_t *addr)
{
	unsigned bits;

	if (family == ZW_AF_INET)
		bits = 32;
	else if (family == ZW_AF_INET6)
		bits = 128;
	else
		return false;
	if (len > bits)
		return false;
	for (unsigned b = len; b < 128; b++)
		if (addr[b / 8] & (0x80 >> (b % 8)))
			return false;
	return true;
}

static bool str_ok(const struct zw_image *img, uint32_t off)
{
	return off < img->strings_size;
}

/* In sorted order, a prefix overlapping an earlier one is contained in it;
 * keep a stack of open prefixes (as with the validator). */
static bool zones_disjoint(const uint8_t *base, size_t stride, size_t addr_len,
			   size_t n, size_t len_off, size_t zone_off)
{
	const uint8_t *stack[130];
	size_t depth = 0;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = base + i * stride;
		uint8_t len = p[len_off];
		uint16_t zone;

		memcpy(&zone, p + zone_off, 2);
		while (depth) {
			const uint8_t *q = stack[depth - 1];
			uint8_t ql = q[len_off];
			struct zw_prefix a = {.family = addr_len == 4 ? ZW_AF_INET : ZW_AF_INET6, .len = ql};
			struct zw_prefix b = {.family = a.family, .len = len};

			memcpy(a.addr, q, addr_len);
			memcpy(b.addr, p, addr_len);
			if (zw_prefix__contains(&a, &b))
				break;
			depth--;
		}
		for (size_t k = 0; k < depth; k++) {
			uint16_t z2;

			memcpy(&z2, stack[k] + zone_off, 2);
			if (z2 != zone)
				return false;
		}
		if (depth < 130)
			stack[depth++] = p;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice among @n string offsets @offs (read
 * @stride bytes apart), or NULL; *oom on allocation failure. */
static const char *duplicate(const struct zw_image *img, const void *base,
			     size_t stride, uint32_t n, bool *oom)
{
	const char **v = malloc(((size_t)n + 1) * sizeof(*v));
	const char *dup = NULL;

	*oom = !v;
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off;

		memcpy(&off, (const uint8_t *)base + (size_t)i * stride, 4);
		v[i] = zw_image__str(img, off);
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (uint32_t i = 1; i < n && !dup; i++)
		if (!strcmp(v[i - 1], v[i]))
			dup = v[i];
	free(v);
	return dup;
}

/* A flow's services: names of the grammar, comma-separated, at least one. */
static bool service_list_ok(const char *s)
{
	char name[40];

	for (;;) {
		size_t k = strcspn(s, ",");

		if (!k || k >= sizeof(name))
			return false;
		memcpy(name, s, k);
		name[k] = '\0';
		if (!zw_name__valid(name))
			return false;
		if (!s[k])
			return true;
		s += k + 1;
	}
}

/*
 * Names: the grammar the compiler guarantees (zw_name__valid...), zone 0
 * named "outside" and no other, and no name twice. Engines build object
 * names from these (nft chains, journal keys): a crafted image with a
 * correct SHA-256 must not hand them a name the language cannot produce.
 */
static int verify_names(const struct zw_image *img, char *err, size_t n)
{
	const char *name = zw_image__str(img, img->meta->name), *dup;
	bool oom;

	if (!zw_matrix_name__valid(name) ||
	    strncmp(img->header->name, name, sizeof(img->header->name)))
		return fail(err, n, -EINVAL,
			    "matrix name malformed (or differs from the header's)");
	for (uint32_t i = 0; i < img->n_zones; i++) {
		const char *z = zw_image__str(img, img->zones[i].name);

		if (i ? !zw_name__valid(z) || !strcmp(z, "outside")
		      : strcmp(z, "outside"))
			return fail(err, n, -EINVAL,
				    "zone %u: name outside the grammar [a-z][a-z0-9-]{0,31}%s",
				    i, i ? " (or 'outside')" : " (zone 0 is 'outside')");
	}
	for (uint32_t i = 0; i < img->n_services; i++)
		if (!zw_name__valid(zw_image__str(img, img->services[i].name)))
			return fail(err, n, -EINVAL,
				    "service %u: name outside the grammar [a-z][a-z0-9-]{0,31}",
				    i);
	for (uint32_t i = 0; i < img->n_flows; i++) {
		if (!zw_flow_id__valid(zw_image__str(img, img->flows[i].id)))
			return fail(err, n, -EINVAL,
				    "flow %u: id outside the grammar [A-Za-z0-9][A-Za-z0-9._-]{0,63}",
				    i);
		if (!service_list_ok(zw_image__str(img, img->flows[i].services)))
			return fail(err, n, -EINVAL,
				    "flow %u: service names malformed", i);
	}
	dup = duplicate(img, &img->zones[0].name, sizeof(*img->zones),
			img->n_zones, &oom);
	if (!dup && !oom)
		dup = duplicate(img, &img->services[0].name,
				sizeof(*img->services), img->n_services, &oom);
	if (!dup && !oom)
		dup = duplicate(img, &img->flows[0].id, sizeof(*img->flows),
				img->n_flows, &oom);
	if (oom)
		return fail(err, n, -ENOMEM, "out of memory");
	if (dup)
		return fail(err, n, -EINVAL, "name '%s' used twice", dup);
	return 0;
}

/* Probes: names valid and sorted (so unique), interfaces valid and
 * unique, zone lists in range, contiguous, sorted, without outside. */
static int verify_probes(const struct zw_image *img, char *err, size_t n)
{
	uint32_t next = 0;

	for (uint32_t i = 0; i < img->n_probes; i++) {
		const struct zw_img_probe *p = &img->probes[i];

		if (!str_ok(img, p->name) || !str_ok(img, p->interface) ||
		    !str_ok(img, p->description) ||
		    !zw_name__valid(zw_image__str(img, p->name)) ||
		    !zw_ifname__valid(zw_image__str(img, p->interface)) ||
		    (p->flags & ~ZW_IMG_PROBE_DENIED) || p->first != next ||
		    !p->count ||
		    (uint64_t)p->first + p->count > img->n_probe_zones)
			return fail(err, n, -EINVAL, "probe %u malformed", i);
		if (i && strcmp(zw_image__str(img, img->probes[i - 1].name),
				zw_image__str(img, p->name)) >= 0)
			return fail(err, n, -EINVAL, "probes not sorted by name");
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(zw_image__str(img, img->probes[j].interface),
				    zw_image__str(img, p->interface)))
				return fail(err, n, -EINVAL,
					    "probes %u and %u share interface '%s'",
					    j, i, zw_image__str(img, p->interface));
		for (uint32_t z = p->first; z < p->first + p->count; z++) {
			uint16_t zone = img->probe_zones[z].zone;

			if (!zone || zone >= img->n_zones ||
			    img->probe_zones[z].pad ||
			    (z > p->first && img->probe_zones[z - 1].zone >= zone))
				return fail(err, n, -EINVAL,
					    "probe %u: zone list malformed", i);
		}
		next = p->first + p->count;
	}
	if (next != img->n_probe_zones)
		return fail(err, n, -EINVAL, "probe zone list has stray entries");
	return 0;
}

static int verify(struct zw_image *img, char *err, size_t n)
{
	const uint8_t *b = img->bytes;
	size_t len = img->size;
	const struct zw_image_header *h = (const void *)b;
	static const uint32_t rsize[ZW_SEC__MAX + 1] = {
		[ZW_SEC_STRINGS] = 1,
		[ZW_SEC_META] = sizeof(struct zw_img_meta),
		[ZW_SEC_ZONES] = sizeof(struct zw_img_zone),
		[ZW_SEC_PREFIX4] = sizeof(struct zw_img_prefix4),
		[ZW_SEC_PREFIX6] = sizeof(struct zw_img_prefix6),
		[ZW_SEC_SERVICES] = sizeof(struct zw_img_service),
		[ZW_SEC_FLOWS] = sizeof(struct zw_img_flow),
		[ZW_SEC_PAIRS] = sizeof(struct zw_img_pair),
		[ZW_SEC_RULES] = sizeof(struct zw_img_rule),
		[ZW_SEC_SETS] = sizeof(struct zw_img_set),
		[ZW_SEC_NARROW] = sizeof(struct zw_img_narrow),
		[ZW_SEC_BLOCK] = sizeof(struct zw_img_narrow),
		[ZW_SEC_FILEBLOCK] = sizeof(struct zw_img_fileblock),
		[ZW_SEC_PROBES] = sizeof(struct zw_img_probe),
		[ZW_SEC_PROBE_ZONES] = sizeof(struct zw_img_probe_zone),
	};
	const void *sec[ZW_SEC__MAX + 1];
	uint32_t cnt[ZW_SEC__MAX + 1];
	uint8_t sha[32];
	int rc;

	if (len < sizeof(*h))
		return fail(err, n, -EINVAL,
			    "not a policy image: %zu bytes, shorter than the %zu-byte header",
			    len, sizeof(*h));
	if (memcmp(h->magic, ZW_IMAGE_MAGIC, 8))
		return fail(err, n, -EINVAL,
			    "not a policy image (bad magic; expected \"ZWPOLICY\")");
	if (h->format != ZW_IMAGE_FORMAT)
		return fail(err, n, -EINVAL,
			    "unsupported policy image format %u (this build reads format %u)",
			    h->format, ZW_IMAGE_FORMAT);
	if (h->header_size != sizeof(*h))
		return fail(err, n, -EINVAL, "bad header size %u", h->header_size);
	if (h->total_size != len)
		return fail(err, n, -EINVAL,
			    "policy image %s: header says %llu bytes, got %zu",
			    h->total_size > len ? "truncated" : "has trailing bytes",
			    (unsigned long long)h->total_size, len);
	if (len > MAX_IMAGE)
		return fail(err, n, -EINVAL, "policy image too large (%zu bytes)", len);
	if (zw_sha256_2(b, offsetof(struct zw_image_header, sha256),
			b + sizeof(*h), len - sizeof(*h), sha) < 0)
		return fail(err, n, -EIO, "cannot compute SHA-256");
	if (memcmp(sha, h->sha256, 32))
		return fail(err, n, -EBADMSG,
			    "policy image corrupt: SHA-256 mismatch (the bytes were altered)");
	if (h->name[sizeof(h->name) - 1])
		return fail(err, n, -EINVAL, "header name not NUL-terminated");
	if (h->n_sections != ZW_SEC__MAX)
		return fail(err, n, -EINVAL, "expected %d sections, header says %u",
			    ZW_SEC__MAX, h->n_sections);
	if (len < sizeof(*h) + ZW_SEC__MAX * sizeof(struct zw_img_section))
		return fail(err, n, -EINVAL, "section directory truncated");

	const struct zw_img_section *dir = (const void *)(b + sizeof(*h));
	size_t min_off = sizeof(*h) + ZW_SEC__MAX * sizeof(*dir);

	for (uint32_t i = 0; i < ZW_SEC__MAX; i++) {
		uint32_t t = i + 1;
		uint64_t end = (uint64_t)dir[i].offset +
			       (uint64_t)dir[i].count * dir[i].record_size;

		if (dir[i].type != t)
			return fail(err, n, -EINVAL, "section %u has type %u, expected %u",
				    i, dir[i].type, t);
		if (dir[i].record_size != rsize[t])
			return fail(err, n, -EINVAL,
				    "section %u: record size %u, expected %u", t,
				    dir[i].record_size, rsize[t]);
		if (dir[i].offset % 8 || dir[i].offset < min_off || end > len)
			return fail(err, n, -EINVAL,
				    "section %u lies outside the image or overlaps another",
				    t);
		min_off = end;
		sec[t] = b + dir[i].offset;
		cnt[t] = dir[i].count;
	}

	img->header = h;
	img->strings = sec[ZW_SEC_STRINGS];
	img->strings_size = cnt[ZW_SEC_STRINGS];
	img->meta = sec[ZW_SEC_META];
	img->zones = sec[ZW_SEC_ZONES], img->n_zones = cnt[ZW_SEC_ZONES];
	img->prefix4 = sec[ZW_SEC_PREFIX4], img->n_prefix4 = cnt[ZW_SEC_PREFIX4];
	img->prefix6 = sec[ZW_SEC_PREFIX6], img->n_prefix6 = cnt[ZW_SEC_PREFIX6];
	img->services = sec[ZW_SEC_SERVICES], img->n_services = cnt[ZW_SEC_SERVICES];
	img->flows = sec[ZW_SEC_FLOWS], img->n_flows = cnt[ZW_SEC_FLOWS];
	img->pairs = sec[ZW_SEC_PAIRS], img->n_pairs = cnt[ZW_SEC_PAIRS];
	img->rules = sec[ZW_SEC_RULES], img->n_rules = cnt[ZW_SEC_RULES];
	img->sets = sec[ZW_SEC_SETS], img->n_sets = cnt[ZW_SEC_SETS];
	img->narrow = sec[ZW_SEC_NARROW], img->n_narrow = cnt[ZW_SEC_NARROW];
	img->block = sec[ZW_SEC_BLOCK], img->n_block = cnt[ZW_SEC_BLOCK];
	img->fileblock = sec[ZW_SEC_FILEBLOCK];
	img->n_fileblock = cnt[ZW_SEC_FILEBLOCK];
	img->probes = sec[ZW_SEC_PROBES], img->n_probes = cnt[ZW_SEC_PROBES];
	img->probe_zones = sec[ZW_SEC_PROBE_ZONES];
	img->n_probe_zones = cnt[ZW_SEC_PROBE_ZONES];

	if (!img->strings_size || img->strings[0] ||
	    img->strings[img->strings_size - 1])
		return fail(err, n, -EINVAL, "string table malformed");
	if (cnt[ZW_SEC_META] != 1 || !str_ok(img, img->meta->name) ||
	    !str_ok(img, img->meta->file))
		return fail(err, n, -EINVAL, "metadata malformed");
	if (img->n_zones < 1 || img->zones[0].kind != ZW_KIND_OUTSIDE ||
	    img->n_zones > UINT16_MAX)
		return fail(err, n, -EINVAL, "zone table malformed (zone 0 must be outside)");
	for (uint32_t i = 0; i < img->n_zones; i++) {
		const struct zw_img_zone *z = &img->zones[i];

		if (!str_ok(img, z->name) || !str_ok(img, z->description) ||
		    (i && z->kind >= ZW_KIND_OUTSIDE) ||
		    (z->flags & ~ZW_IMG_ZONE_ISOLATE))
			return fail(err, n, -EINVAL, "zone %u malformed", i);
	}
	for (uint32_t i = 0; i < img->n_prefix4; i++) {
		const struct zw_img_prefix4 *p = &img->prefix4[i];
		uint8_t a[16] = {0};

		memcpy(a, p->addr, 4);
		if (!prefix_ok(ZW_AF_INET, p->len, a) || !p->zone ||
		    p->zone >= img->n_zones)
			return fail(err, n, -EINVAL, "IPv4 zone prefix %u malformed", i);
		if (i) {
			int c = memcmp(img->prefix4[i - 1].addr, p->addr, 4);

			if (c > 0 || (c == 0 && img->prefix4[i - 1].len >= p->len))
				return fail(err, n, -EINVAL, "IPv4 zone prefixes not sorted");
		}
	}
	for (uint32_t i = 0; i < img->n_prefix6; i++) {
		const struct zw_img_prefix6 *p = &img->prefix6[i];

		if (!prefix_ok(ZW_AF_INET6, p->len, p->addr) || !p->zone ||
		    p->zone >= img->n_zones)
			return fail(err, n, -EINVAL, "IPv6 zone prefix %u malformed", i);
		if (i) {
			int c = memcmp(img->prefix6[i - 1].addr, p->addr, 16);

			if (c > 0 || (c == 0 && img->prefix6[i - 1].len >= p->len))
				return fail(err, n, -EINVAL, "IPv6 zone prefixes not sorted");
		}
	}
	if (!zones_disjoint((const uint8_t *)img->prefix4, sizeof(*img->prefix4), 4,
			    img->n_prefix4, offsetof(struct zw_img_prefix4, len),
			    offsetof(struct zw_img_prefix4, zone)) ||
	    !zones_disjoint((const uint8_t *)img->prefix6, sizeof(*img->prefix6), 16,
			    img->n_prefix6, offsetof(struct zw_img_prefix6, len),
			    offsetof(struct zw_img_prefix6, zone)))
		return fail(err, n, -EINVAL, "prefixes of two zones overlap");
	for (uint32_t i = 0; i < img->n_services; i++)
		if (!str_ok(img, img->services[i].name) ||
		    !str_ok(img, img->services[i].inspect))
			return fail(err, n, -EINVAL, "service %u malformed", i);
	for (uint32_t i = 0; i < img->n_flows; i++) {
		const struct zw_img_flow *f = &img->flows[i];

		if (!str_ok(img, f->id) || !f->id || f->from >= img->n_zones ||
		    f->to >= img->n_zones || !str_ok(img, f->justification) ||
		    !str_ok(img, f->compensating) || !str_ok(img, f->owner) ||
		    !str_ok(img, f->services) || (f->flags & ~ZW_IMG_FLOW_LOG))
			return fail(err, n, -EINVAL, "flow %u malformed", i);
		if (f->id_hash != zw_flow_id__hash(zw_image__str(img, f->id)))
			return fail(err, n, -EINVAL,
				    "flow %u: id hash does not match its id", i);
	}
	if (img->n_sets < 1 || img->sets[0].first || img->sets[0].count)
		return fail(err, n, -EINVAL, "set table malformed (set 0 must be empty)");
	for (uint32_t i = 0; i < img->n_sets; i++)
		if ((uint64_t)img->sets[i].first + img->sets[i].count > img->n_narrow)
			return fail(err, n, -EINVAL, "set %u out of range", i);
	for (uint32_t i = 0; i < img->n_narrow; i++)
		if (!prefix_ok(img->narrow[i].family, img->narrow[i].len,
			       img->narrow[i].addr))
			return fail(err, n, -EINVAL, "narrowing prefix %u malformed", i);
	for (uint32_t i = 0; i < img->n_block; i++)
		if (!prefix_ok(img->block[i].family, img->block[i].len,
			       img->block[i].addr))
			return fail(err, n, -EINVAL, "block-list prefix %u malformed", i);
	for (uint32_t i = 0; i < img->n_fileblock; i++) {
		const struct zw_img_fileblock *fb = &img->fileblock[i];

		if (!fb->types || fb->types >> 13 ||
		    (fb->from != ZW_FILEBLOCK_ANY && fb->from >= img->n_zones) ||
		    (fb->to != ZW_FILEBLOCK_ANY && fb->to >= img->n_zones))
			return fail(err, n, -EINVAL, "block-file measure %u malformed", i);
	}
	rc = verify_probes(img, err, n);
	if (rc < 0)
		return rc;

	uint32_t next = 0;

	for (uint32_t i = 0; i < img->n_pairs; i++) {
		const struct zw_img_pair *p = &img->pairs[i];

		if (p->from >= img->n_zones || p->to >= img->n_zones ||
		    p->first != next || !p->count ||
		    (uint64_t)p->first + p->count > img->n_rules)
			return fail(err, n, -EINVAL, "zone pair %u malformed", i);
		if (i && (img->pairs[i - 1].from > p->from ||
			  (img->pairs[i - 1].from == p->from &&
			   img->pairs[i - 1].to >= p->to)))
			return fail(err, n, -EINVAL, "zone pairs not sorted");
		for (uint32_t r = p->first; r < p->first + p->count; r++) {
			const struct zw_img_rule *x = &img->rules[r];

			if (x->flow >= img->n_flows ||
			    img->flows[x->flow].from != p->from ||
			    img->flows[x->flow].to != p->to ||
			    x->service >= img->n_services || x->lo > x->hi ||
			    x->src_set >= img->n_sets || x->dst_set >= img->n_sets ||
			    (x->flags & ~ZW_IMG_RULE_ANY) ||
			    (r > p->first && img->rules[r - 1].flow > x->flow))
				return fail(err, n, -EINVAL, "rule %u malformed", r);
			/* The one form each engine reads alike: ICMP types are
			 * 0..255, a protocol without ports or types is ANY. */
			if (!(x->flags & ZW_IMG_RULE_ANY) &&
			    (zw_proto__is_icmp(x->proto) ? x->hi > 255
							 : !zw_proto__has_ports(x->proto)))
				return fail(err, n, -EINVAL,
					    "rule %u: protocol %u with %s %u-%u", r,
					    x->proto,
					    zw_proto__is_icmp(x->proto) ? "ICMP types" : "ports",
					    x->lo, x->hi);
		}
		next = p->first + p->count;
	}
	if (next != img->n_rules)
		return fail(err, n, -EINVAL, "rules outside every zone pair");
	rc = verify_names(img, err, n);
	if (rc)
		return rc;

	memcpy(img->sha256, h->sha256, 32);
	zw_hex(img->sha256, 32, img->sha256_hex);
	return 0;
}

struct zw_image *zw_image__open(const void *bytes, size_t len, char *err,
				size_t err_len)
{
	struct image_priv *p = calloc(1, sizeof(*p));
	int r;

	if (err && err_len)
		err[0] = '\0';
	if (!p || !(p->copy = malloc(len ? len : 1))) {
		free(p);
		fail(err, err_len, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	/* Private copy, 8-aligned by malloc, so section structs can be read
	 * in place. */
	memcpy(p->copy, bytes, len);
	p->pub.bytes = p->copy;
	p->pub.size = len;
	r = verify(&p->pub, err, err_len);
	if (r) {
		zw_image__free(&p->pub);
		errno = -r;
		return NULL;
	}
	return &p->pub;
}

struct zw_image *zw_image__load(const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct zw_image *img;
	int e;

	if (!f) {
		e = errno;
		fail(err, err_len, 0, "cannot read %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	for (;;) {
		if (cap < len + 65536) {
			uint8_t *nb = realloc(buf, cap = len + 65536 + cap);

			if (!nb) {
				fclose(f);
				free(buf);
				fail(err, err_len, 0, "out of memory reading %s", path);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		size_t k = fread(buf + len, 1, cap - len, f);

		len += k;
		if (!k || len > MAX_IMAGE)
			break;
	}
	e = ferror(f) ? EIO : 0;
	fclose(f);
	if (e) {
		free(buf);
		fail(err, err_len, 0, "cannot read %s", path);
		errno = e;
		return NULL;
	}
	img = zw_image__open(buf, len, err, err_len);
	e = errno;
	free(buf);
	errno = e;
	return img;
}

void zw_image__free(struct zw_image *img)
{
	struct image_priv *p = (struct image_priv *)img;

	if (!p)
		return;
	free(p->copy);
	free(p);
}

uint32_t zw_image__zone_of(const struct zw_image *img, uint8_t family,
			   const uint8_t addr[16])
{
	struct zw_prefix p = {.family = family};

	if (family == ZW_AF_INET) {
		for (uint32_t i = 0; i < img->n_prefix4; i++) {
			p.len = img->prefix4[i].len;
			memcpy(p.addr, img->prefix4[i].addr, 4);
			if (zw_prefix__contains_addr(&p, family, addr))
				return img->prefix4[i].zone;
		}
	} else {
		for (uint32_t i = 0; i < img->n_prefix6; i++) {
			p.len = img->prefix6[i].len;
			memcpy(p.addr, img->prefix6[i].addr, 16);
			if (zw_prefix__contains_addr(&p, family, addr))
				return img->prefix6[i].zone;
		}
	}
	return ZW_ZONE_OUTSIDE;
}

const struct zw_img_pair *zw_image__pair(const struct zw_image *img,
					 uint32_t from, uint32_t to)
{
	uint32_t lo = 0, hi = img->n_pairs;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct zw_img_pair *p = &img->pairs[mid];

		if (p->from == from && p->to == to)
			return p;
		if (p->from < from || (p->from == from && p->to < to))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool narrow_contains(const struct zw_img_narrow *v, uint32_t n,
			    uint8_t family, const uint8_t addr[16])
{
	for (uint32_t i = 0; i < n; i++) {
		struct zw_prefix p = {.family = v[i].family, .len = v[i].len};

		memcpy(p.addr, v[i].addr, 16);
		if (zw_prefix__contains_addr(&p, family, addr))
			return true;
	}
	return false;
}

bool zw_image__set_contains(const struct zw_image *img, uint32_t set,
			    uint8_t family, const uint8_t addr[16])
{
	if (set == ZW_NO_SET)
		return true;
	return narrow_contains(img->narrow + img->sets[set].first,
			       img->sets[set].count, family, addr);
}

bool zw_image__blocked(const struct zw_image *img, uint8_t family,
		       const uint8_t addr[16])
{
	return narrow_contains(img->block, img->n_block, family, addr);
}

bool zw_image__flow_live(const struct zw_image *img, uint32_t flow, int32_t day)
{
	return zw_date__live(img->flows[flow].expires, day);
}
