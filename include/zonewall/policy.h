/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall policy image: the compiled, self-contained, verifiable form of a
 * matrix from which every engine (DPDK, eBPF/XDP, nftables) and the
 * reference evaluator are programmed. The byte format is documented in
 * docs/policy-image.md; the structs below ARE that format (little-endian,
 * fixed sizes asserted at compile time).
 *
 * Layout: header (128 bytes) | section directory | sections (8-aligned).
 * The header's sha256 covers every byte of the image except itself.
 */
#ifndef ZONEWALL_POLICY_H
#define ZONEWALL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_matrix;
struct zw_prefix;

#define ZW_IMAGE_MAGIC "ZWPOLICY" /* 8 bytes, no NUL */
#define ZW_IMAGE_FORMAT 1

/* Sentinels. */
#define ZW_NO_FLOW UINT32_MAX
#define ZW_NO_SET 0u /* rule set index meaning "no narrowing" */

struct zw_image_header {
	char magic[8];		/* "ZWPOLICY" */
	uint32_t format;	/* ZW_IMAGE_FORMAT */
	uint32_t header_size;	/* sizeof(struct zw_image_header) */
	uint64_t total_size;	/* bytes of the whole image */
	uint32_t n_sections;	/* entries in the section directory */
	uint32_t flags;		/* 0 */
	char name[64];		/* matrix name, NUL-padded (may be cut) */
	uint8_t sha256[32];	/* SHA-256 of bytes [0,96) and [128,end) */
};
_Static_assert(sizeof(struct zw_image_header) == 128, "header size");

enum zw_section_type {
	ZW_SEC_STRINGS = 1, /* NUL-terminated strings, offset 0 = "" */
	ZW_SEC_META = 2,    /* one struct zw_img_meta */
	ZW_SEC_ZONES = 3,   /* struct zw_img_zone[n_zones], [0] = outside */
	ZW_SEC_PREFIX4 = 4, /* struct zw_img_prefix4[], sorted by addr, len */
	ZW_SEC_PREFIX6 = 5, /* struct zw_img_prefix6[], sorted by addr, len */
	ZW_SEC_SERVICES = 6, /* struct zw_img_service[] (used services) */
	ZW_SEC_FLOWS = 7,    /* struct zw_img_flow[], matrix order */
	ZW_SEC_PAIRS = 8,    /* struct zw_img_pair[], sorted by (from, to) */
	ZW_SEC_RULES = 9,    /* struct zw_img_rule[], grouped by pair */
	ZW_SEC_SETS = 10,    /* struct zw_img_set[], [0] = empty */
	ZW_SEC_NARROW = 11,  /* struct zw_img_narrow[] */
	ZW_SEC_BLOCK = 12,   /* struct zw_img_narrow[]: crisis block list,
			      * addresses denied in both directions before
			      * any flow is considered (REQUIREMENTS C1) */
	ZW_SEC__MAX = 12,
};

/* Section directory entry. Every section of 1..ZW_SEC__MAX appears exactly
 * once, in type order. */
struct zw_img_section {
	uint32_t type;
	uint32_t record_size; /* bytes per record (1 for STRINGS) */
	uint32_t count;	      /* records */
	uint32_t offset;      /* from image start, 8-aligned */
};
_Static_assert(sizeof(struct zw_img_section) == 16, "section size");

struct zw_img_meta {
	uint32_t name;		  /* string offset: matrix name */
	uint32_t file;		  /* string offset: source file base name */
	uint32_t lang_version;	  /* matrix language version */
	uint32_t profile;	  /* enum zw_profile */
	uint8_t source_sha256[32]; /* SHA-256 of the matrix text */
};
_Static_assert(sizeof(struct zw_img_meta) == 48, "meta size");

enum zw_img_zone_flags {
	ZW_IMG_ZONE_ISOLATE = 1u << 0,
};

struct zw_img_zone {
	uint32_t name; /* string offset */
	uint8_t kind;  /* enum zw_zone_kind */
	uint8_t flags; /* enum zw_img_zone_flags */
	uint16_t pad;
	uint32_t description; /* string offset (0 = none) */
};
_Static_assert(sizeof(struct zw_img_zone) == 12, "zone size");

/* Zone prefixes. Prefixes of different zones never overlap (the validator
 * guarantees it), so longest-prefix and any-prefix match agree. */
struct zw_img_prefix4 {
	uint8_t addr[4]; /* network order, host bits zero */
	uint8_t len;
	uint8_t pad;
	uint16_t zone;
};
_Static_assert(sizeof(struct zw_img_prefix4) == 8, "prefix4 size");

struct zw_img_prefix6 {
	uint8_t addr[16];
	uint8_t len;
	uint8_t pad;
	uint16_t zone;
};
_Static_assert(sizeof(struct zw_img_prefix6) == 20, "prefix6 size");

enum zw_img_service_flags {
	ZW_IMG_SVC_UNSAFE = 1u << 0,
	ZW_IMG_SVC_BUILTIN = 1u << 1,
};

struct zw_img_service {
	uint32_t name;	  /* string offset */
	uint32_t inspect; /* string offset (0 = none) */
	uint32_t flags;	  /* enum zw_img_service_flags */
};
_Static_assert(sizeof(struct zw_img_service) == 12, "service size");

enum zw_img_flow_flags {
	ZW_IMG_FLOW_LOG = 1u << 0,
};

struct zw_img_flow {
	uint32_t id; /* string offset */
	uint16_t from;
	uint16_t to;
	uint32_t flags;	  /* enum zw_img_flow_flags */
	uint32_t rate;	  /* new connections/s per source, 0 = no limit */
	int32_t expires;  /* days since epoch, INT32_MIN = never */
	int32_t review;	  /* days since epoch, INT32_MIN = none */
	uint32_t justification; /* string offsets */
	uint32_t compensating;
	uint32_t owner;
	uint32_t services; /* string offset: service names, comma-separated */
};
_Static_assert(sizeof(struct zw_img_flow) == 40, "flow size");

/* The rules of one ordered zone pair: rules[first .. first + count). */
struct zw_img_pair {
	uint16_t from;
	uint16_t to;
	uint32_t first;
	uint32_t count;
};
_Static_assert(sizeof(struct zw_img_pair) == 12, "pair size");

enum zw_img_rule_flags {
	ZW_IMG_RULE_ANY = 1u << 0, /* protocol without ports/types: lo..hi
				    * is 0..65535 and ignored */
};

/*
 * One (flow, service entry, port or type range) of a zone pair. Within a
 * pair, rules are sorted by flow index, then service order, then range: the
 * first matching rule is the lowest flow index, which is the flow every
 * engine reports.
 */
struct zw_img_rule {
	uint32_t flow;	  /* index into FLOWS */
	uint16_t service; /* index into SERVICES */
	uint8_t proto;	  /* IP protocol number */
	uint8_t flags;	  /* enum zw_img_rule_flags */
	uint16_t lo;	  /* first port / ICMP type */
	uint16_t hi;	  /* last port / ICMP type, inclusive */
	uint32_t src_set; /* index into SETS, ZW_NO_SET = whole zone */
	uint32_t dst_set;
};
_Static_assert(sizeof(struct zw_img_rule) == 20, "rule size");

/* A narrowing set: narrow[first .. first + count). */
struct zw_img_set {
	uint32_t first;
	uint32_t count;
};
_Static_assert(sizeof(struct zw_img_set) == 8, "set size");

struct zw_img_narrow {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t pad[2];
	uint8_t addr[16]; /* network order, host bits zero */
};
_Static_assert(sizeof(struct zw_img_narrow) == 20, "narrow size");

/*
 * A loaded, verified image. All pointers point into the private copy of the
 * bytes held by the image and are valid until zw_image__free(). Every index
 * and string offset has been checked to be in range, every string to be
 * NUL-terminated, every prefix to be well-formed: consumers need not check
 * again.
 */
struct zw_image {
	const uint8_t *bytes;
	size_t size;
	uint8_t sha256[32];
	char sha256_hex[65];
	const struct zw_image_header *header;
	const struct zw_img_meta *meta;
	const char *strings;
	size_t strings_size;
	const struct zw_img_zone *zones;
	uint32_t n_zones;
	const struct zw_img_prefix4 *prefix4;
	uint32_t n_prefix4;
	const struct zw_img_prefix6 *prefix6;
	uint32_t n_prefix6;
	const struct zw_img_service *services;
	uint32_t n_services;
	const struct zw_img_flow *flows;
	uint32_t n_flows;
	const struct zw_img_pair *pairs;
	uint32_t n_pairs;
	const struct zw_img_rule *rules;
	uint32_t n_rules;
	const struct zw_img_set *sets;
	uint32_t n_sets;
	const struct zw_img_narrow *narrow;
	uint32_t n_narrow;
	const struct zw_img_narrow *block;
	uint32_t n_block;
};

/*
 * Compile a matrix that validated with no error into image bytes. The same
 * matrix always gives the same bytes. On success *out is malloc'd (caller
 * frees) and *out_len set. Returns 0, -EINVAL if @m cannot be compiled
 * (too many zones, ...), -ENOMEM.
 */
int zw_policy__compile(const struct zw_matrix *m, uint8_t **out,
		       size_t *out_len);

/* Options of zw_policy__compile_opts(). */
struct zw_compile_opts {
	/* Crisis block list (REQUIREMENTS C1): every packet from or to one of
	 * these prefixes is denied, whatever the flows say. */
	const struct zw_prefix *block;
	size_t n_block;
	/* Flow indexes to leave out (crisis isolation, C3/C4): a flow whose
	 * exclude[i] is true gets no rule. NULL = none. */
	const bool *exclude;
};

/* zw_policy__compile() with options; @opts may be NULL. */
int zw_policy__compile_opts(const struct zw_matrix *m,
			    const struct zw_compile_opts *opts, uint8_t **out,
			    size_t *out_len);

/*
 * Verify and load image bytes (copied). On failure returns NULL, sets errno
 * (EINVAL corrupt, EBADMSG checksum mismatch, ENOMEM) and, if @err is not
 * NULL, writes a one-line reason into it.
 */
struct zw_image *zw_image__open(const void *bytes, size_t len, char *err,
				size_t err_len);
/* Read @path and zw_image__open() it. */
struct zw_image *zw_image__load(const char *path, char *err, size_t err_len);
/* NULL-safe. */
void zw_image__free(struct zw_image *img);

/* String at @off (always valid after verification). */
static inline const char *zw_image__str(const struct zw_image *img,
					uint32_t off)
{
	return img->strings + off;
}

/* Zone of an address (longest prefix; ZW_ZONE_OUTSIDE if none), by a linear
 * scan of the prefix tables: the obviously-correct reference. */
uint32_t zw_image__zone_of(const struct zw_image *img, uint8_t family,
			   const uint8_t addr[16]);

/* The pair entry for (from, to), or NULL when the pair has no rule. */
const struct zw_img_pair *zw_image__pair(const struct zw_image *img,
					 uint32_t from, uint32_t to);

/* True if the address is in the narrowing set (set ZW_NO_SET: always). */
bool zw_image__set_contains(const struct zw_image *img, uint32_t set,
			    uint8_t family, const uint8_t addr[16]);

/* True if the address is in the crisis block list. */
bool zw_image__blocked(const struct zw_image *img, uint8_t family,
		       const uint8_t addr[16]);

/* True if flow @flow is live on @day (days since epoch). */
bool zw_image__flow_live(const struct zw_image *img, uint32_t flow,
			 int32_t day);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_POLICY_H */
