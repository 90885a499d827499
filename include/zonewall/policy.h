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
 *
 * This header is the public API of libzwimage (image/): the verified
 * reader, evaluation helpers on an image, flow liveness, and the small
 * value types the image shares with the matrix language (prefixes,
 * protocols, dates, zone kinds), hashing (SHA-256, FNV-1a) and hex.
 * libzwimage depends on libcrypto only: every engine links it without the
 * YAML side (parse, validate, compile: matrix.h, libzwmatrix).
 */
#ifndef ZONEWALL_POLICY_H
#define ZONEWALL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Address families, independent of <sys/socket.h>. */
#define ZW_AF_INET 4
#define ZW_AF_INET6 6

/* Zone index of the implicit "outside" zone: zones[0] always exists. */
#define ZW_ZONE_OUTSIDE 0u

/* A date as days since 1970-01-01 (UTC); ZW_DATE_NONE when absent. */
#define ZW_DATE_NONE INT32_MIN

/* A position in the source file, 1-based; line 0 means "unknown". */
struct zw_loc {
	uint32_t line;
	uint32_t col;
};
#define ZW_LOC(line, col) ((struct zw_loc){(line), (col)})

enum zw_zone_kind {
	/* internal kinds */
	ZW_KIND_OPERATIONS,
	ZW_KIND_SERVERS,
	ZW_KIND_ADMIN,
	ZW_KIND_UPDATE,
	ZW_KIND_INFRASTRUCTURE,
	ZW_KIND_INTERNAL_SERVICE,
	/* interconnection kinds */
	ZW_KIND_PROVIDER_EXCHANGE,
	ZW_KIND_CLIENT_EXCHANGE,
	ZW_KIND_THIRD_PARTY_EXCHANGE,
	ZW_KIND_INTERNET_ACCESS,
	ZW_KIND_MANAGED_ACCESS,
	ZW_KIND_THIRD_PARTY_ADMIN,
	ZW_KIND_REMOTE_ACCESS,
	/* the implicit zone of undeclared addresses */
	ZW_KIND_OUTSIDE,
	ZW_KIND__COUNT
};

enum zw_profile {
	ZW_PROFILE_MINIMAL,
	ZW_PROFILE_PIAMS,
};

/* An IPv4 or IPv6 prefix; addr holds the address in network byte order
 * (IPv4 in addr[0..3], the rest zero). */
struct zw_prefix {
	uint8_t family; /* ZW_AF_INET or ZW_AF_INET6 */
	uint8_t len;	/* prefix length, 0..32 or 0..128 */
	uint8_t addr[16];
	struct zw_loc loc;
};


#define ZW_IMAGE_MAGIC "ZWPOLICY" /* 8 bytes, no NUL */
#define ZW_IMAGE_FORMAT 4

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
	ZW_SEC_FILEBLOCK = 13, /* struct zw_img_fileblock[]: crisis block-file
				* measures (REQUIREMENTS C2), since format 3 */
	ZW_SEC_PROBES = 14, /* struct zw_img_probe[]: traffic mirrored to
			     * detection probes (REQUIREMENTS D1), by name,
			     * since format 4 */
	ZW_SEC_PROBE_ZONES = 15, /* struct zw_img_probe_zone[]: the zones each
				  * probe watches, grouped by probe */
	ZW_SEC__MAX = 15,
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
	uint64_t id_hash;  /* zw_flow_id__hash(id): the key engines carry
			    * per-flow state on across versions */
};
_Static_assert(sizeof(struct zw_img_flow) == 48, "flow size");

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

/* A crisis block-file measure: file types (a mask of enum zw_l7_ftype,
 * l7.h) denied on TCP connections from zone @from to zone @to;
 * ZW_FILEBLOCK_ANY for any zone. */
#define ZW_FILEBLOCK_ANY 0xffffu
struct zw_img_fileblock {
	uint32_t types;
	uint16_t from;
	uint16_t to;
};
_Static_assert(sizeof(struct zw_img_fileblock) == 8, "fileblock size");

/* A detection probe: a copy of every packet to or from one of the zones
 * probe_zones[first .. first + count) (sorted, never outside), sent
 * unmodified to the network interface @interface. Without
 * ZW_IMG_PROBE_DENIED only the packets the policy lets through are
 * copied. Probes are sorted by name; no two share an interface. */
enum zw_img_probe_flags {
	ZW_IMG_PROBE_DENIED = 1u << 0, /* denied packets are copied too */
};
struct zw_img_probe {
	uint32_t name;	    /* string offset */
	uint32_t interface; /* string offset: a zw_ifname__valid() name */
	uint32_t flags;	    /* enum zw_img_probe_flags */
	uint32_t first;	    /* index into PROBE_ZONES */
	uint32_t count;	    /* >= 1 */
	uint32_t description; /* string offset (0 = none) */
};
_Static_assert(sizeof(struct zw_img_probe) == 24, "probe size");

struct zw_img_probe_zone {
	uint16_t zone; /* index into ZONES, never 0 (outside) */
	uint16_t pad;
};
_Static_assert(sizeof(struct zw_img_probe_zone) == 4, "probe zone size");

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
	const struct zw_img_fileblock *fileblock;
	uint32_t n_fileblock;
	const struct zw_img_probe *probes;
	uint32_t n_probes;
	const struct zw_img_probe_zone *probe_zones;
	uint32_t n_probe_zones;
};


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

/* True if something that expires on day @expires (ZW_DATE_NONE: never) is
 * still in force on @day: the one rule for the model and the image. */
static inline bool zw_date__live(int32_t expires, int32_t day)
{
	return expires == ZW_DATE_NONE || day <= expires;
}

/* True if flow @flow is live on @day (days since epoch). */
bool zw_image__flow_live(const struct zw_image *img, uint32_t flow,
			 int32_t day);

/* ---- values shared with the matrix language ---- */

const char *zw_zone_kind__name(enum zw_zone_kind kind);
/* -1 if unknown. */
int zw_zone_kind__parse(const char *name);
bool zw_zone_kind__internal(enum zw_zone_kind kind);
bool zw_zone_kind__exchange(enum zw_zone_kind kind);
const char *zw_profile__name(enum zw_profile p);

/* "tcp", "udp", "sctp", "icmp", "icmpv6" or the number as text. @buf must
 * hold 4 bytes. */
const char *zw_proto__name(uint8_t proto, char buf[4]);
/* Protocol name or 0..255 → number; -1 if invalid. */
int zw_proto__parse(const char *s);
/* True if the protocol carries destination ports (tcp, udp, sctp). */
bool zw_proto__has_ports(uint8_t proto);
/* True for icmp and icmpv6. */
bool zw_proto__is_icmp(uint8_t proto);
/* ICMP type name to number for @proto (1 or 58), -1 if unknown. */
int zw_icmp_type__parse(uint8_t proto, const char *name);
const char *zw_icmp_type__name(uint8_t proto, uint8_t type);

/* Prefix text ("10.0.0.0/8", "fd00::/64", or a bare address meaning a host
 * prefix) to @out. Returns 0, -EINVAL if malformed, -EDOM if host bits are
 * set (out is filled anyway). */
int zw_prefix__parse(const char *s, struct zw_prefix *out);
/* Canonical text form; @buf must hold 64 bytes. */
const char *zw_prefix__format(const struct zw_prefix *p, char buf[64]);
/* True if @addr (family, 16 bytes) lies in @p. */
bool zw_prefix__contains_addr(const struct zw_prefix *p, uint8_t family,
			      const uint8_t addr[16]);
/* True if @inner lies entirely in @outer. */
bool zw_prefix__contains(const struct zw_prefix *outer,
			 const struct zw_prefix *inner);
bool zw_prefix__overlap(const struct zw_prefix *a, const struct zw_prefix *b);

/* "YYYY-MM-DD" to days since epoch; -EINVAL if not a valid date. */
int zw_date__parse(const char *s, int32_t *days);
/* @buf must hold 11 bytes. */
const char *zw_date__format(int32_t days, char buf[11]);
/* Today in UTC, from the system clock (or $ZONEWALL_TODAY=YYYY-MM-DD for
 * reproducible tests). */
int32_t zw_date__today(void);

/* SHA-256 via OpenSSL's EVP; returns 0 or -EIO. */
int zw_sha256(const void *data, size_t len, uint8_t out[32]);

/* SHA-256 of the concatenation a || b; 0 or -EIO. */
int zw_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
		uint8_t out[32]);
/* Zero the host bits of @addr beyond @len. */
void zw_prefix_mask(uint8_t *addr, uint8_t family, unsigned len);

/* Lowercase hex of @len bytes into @out (2 * len + 1 bytes, NUL-ended). */
void zw_hex(const uint8_t *in, size_t len, char *out);
/* Parse exactly 2 * @len hex digits (then NUL) into @out: 0 or -EINVAL. */
int zw_unhex(const char *hex, uint8_t *out, size_t len);
/* FNV-1a, 64 bits. */
uint64_t zw_fnv1a64(const void *data, size_t len);
/* The stable hash of a flow id (FNV-1a 64 of its text, never 0): what
 * engines key per-flow state on across versions (counters, connections).
 * The compiler stores it in every struct zw_img_flow; the loader checks it. */
uint64_t zw_flow_id__hash(const char *id);

/* The name grammar of the matrix language, which the parser applies and
 * the image loader enforces again, so that every name an engine builds
 * objects from is what the compiler could have produced:
 * zw_name__valid: zone and service names, [a-z][a-z0-9-]{0,31};
 * zw_flow_id__valid: flow ids, [A-Za-z0-9][A-Za-z0-9._-]{0,63};
 * zw_matrix_name__valid: the matrix name, [a-z0-9][a-z0-9._-]{0,62}. */
bool zw_name__valid(const char *s);
bool zw_flow_id__valid(const char *s);
bool zw_matrix_name__valid(const char *s);
/* A network interface name a probe may name (docs/matrix-language.md):
 * [A-Za-z0-9][A-Za-z0-9._-]{0,14}, within Linux's IFNAMSIZ. */
bool zw_ifname__valid(const char *s);

/* The values `inspect:` takes (docs/matrix-language.md): the application
 * protocols libzwl7 (include/zonewall/l7.h) knows how to check. Adding one
 * is a line here and a row in l7/protocols.c (docs/l7.md). */
#define ZW_INSPECT_NAMES "ssh, tls, http, rdp, dns, smtp, imap, ldap, ntp"
/* The same names as an array (NULL-terminated): the parser, the JSON
 * Schema and the inspection library read it. */
extern const char *const zw_inspect_names[];
/* True if @name is one of ZW_INSPECT_NAMES. */
bool zw_inspect__known(const char *name);

/* Drop reasons (enum zw_drop_reason, flow_record.h): one name per reason,
 * "no-flow", "flow-removed"... used by every engine, exporter and doc.
 * Unknown values give "unknown"; parse returns -1 for an unknown name. */
const char *zw_drop_reason__name(unsigned reason);
int zw_drop_reason__parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_POLICY_H */
