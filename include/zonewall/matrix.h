/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewall matrix: the flow-matrix language (docs/matrix-guide.md,
 * docs/matrix-language.md), its typed model, the validator (ZW codes) and
 * the diagnostics they produce.
 *
 * The model is plain data, read-only for every consumer once built: the
 * validator, the compiler (policy.h), the reference evaluator (eval.h) and
 * zonectl walk it directly. Only the parser builds it.
 *
 * Conventions: integer functions return 0 (or a count) on success and
 * -errno on failure; pointer functions return NULL and set errno.
 */
#ifndef ZONEWALL_MATRIX_H
#define ZONEWALL_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <zonewall/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Language version understood by this library. */
#define ZW_MATRIX_LANG_VERSION 1


/* Maximum lengths (bytes, without NUL) fixed by the language. */
#define ZW_NAME_MAX 32	  /* zone and service names */
#define ZW_FLOW_ID_MAX 64 /* flow ids */
#define ZW_MATRIX_NAME_MAX 63




/* An inclusive range of ports or ICMP types. */
struct zw_range {
	uint16_t lo;
	uint16_t hi;
};

/* One protocol entry of a service. */
struct zw_svc_entry {
	uint8_t proto;		 /* IP protocol number */
	struct zw_range *ports;	 /* destination ports (tcp/udp/sctp), sorted */
	size_t n_ports;		 /* 0 for protocols without ports */
	struct zw_range *types;	 /* ICMP types (icmp/icmpv6), sorted */
	size_t n_types;		 /* 0 means every type */
	struct zw_loc loc;
};

/* Service classes the validator cares about (bit mask). */
enum zw_svc_class {
	ZW_SVC_ADMIN = 1u << 0, /* administration protocol (ZW032) */
	ZW_SVC_TLS = 1u << 1,	/* TLS-protected (ZW033) */
	ZW_SVC_VPN = 1u << 2,	/* VPN tunnel (ZW033) */
};

struct zw_service {
	char *name;
	struct zw_svc_entry *entries;
	size_t n_entries;
	bool unsafe;
	char *inspect;	  /* L7 protocol name, or NULL */
	unsigned classes; /* enum zw_svc_class bits */
	bool builtin;	  /* from the built-in catalogue, not the matrix */
	bool used;	  /* referenced by at least one flow */
	struct zw_loc loc;
};

struct zw_zone {
	char *name;
	enum zw_zone_kind kind;
	struct zw_prefix *networks;
	size_t n_networks;
	bool isolate;
	char *description; /* or NULL */
	struct zw_loc loc;
	struct zw_loc loc_isolate;
};

/* Where each key of a flow was written, for diagnostics. */
struct zw_flow_locs {
	struct zw_loc id, from, to, src, dst, services, justification,
		compensating, review, expires, owner, log, rate;
};

struct zw_flow {
	char *id;
	uint32_t from; /* zone index; ZW_ZONE_OUTSIDE for outside */
	uint32_t to;
	struct zw_prefix *src; /* narrowing, or NULL/0 for the whole zone */
	size_t n_src;
	struct zw_prefix *dst;
	size_t n_dst;
	uint32_t *services; /* service indexes */
	size_t n_services;
	char *justification;
	char *compensating; /* or NULL */
	char *owner;	    /* or NULL */
	int32_t review;	    /* or ZW_DATE_NONE */
	int32_t expires;    /* or ZW_DATE_NONE */
	bool log;
	uint32_t rate; /* new connections per second per source, 0 = none */
	struct zw_loc loc;
	struct zw_flow_locs locs;
};

/* What a probe receives (docs/matrix-language.md, "probes"). */
enum zw_probe_traffic {
	ZW_PROBE_ALL,	  /* allowed and denied packets (the default) */
	ZW_PROBE_ALLOWED, /* allowed packets only */
};

/* Longest interface name a probe may name: IFNAMSIZ - 1 on Linux. */
#define ZW_IFNAME_MAX 15

/*
 * A detection probe (REQUIREMENTS D1): every packet to or from one of
 * @zones (zone indexes, sorted, never outside) is copied, unmodified, to
 * the network interface @interface. Both directions of a connection are
 * copied, since a connection's two directions have a zone of @zones at
 * one end or the other.
 */
struct zw_probe {
	char *name;	 /* [a-z][a-z0-9-]{0,31}, unique */
	char *interface; /* zw_ifname__valid() */
	uint32_t *zones;
	size_t n_zones;
	enum zw_probe_traffic traffic;
	char *description; /* or NULL */
	struct zw_loc loc, loc_interface, loc_zones;
};

struct zw_matrix {
	char *file; /* the name diagnostics use */
	int lang_version;
	char *name;
	enum zw_profile profile;
	struct zw_zone *zones; /* zones[0] is "outside" */
	size_t n_zones;
	struct zw_service *services; /* built-in catalogue merged with the
				      * matrix's own, in a stable order */
	size_t n_services;
	struct zw_flow *flows; /* in file order */
	size_t n_flows;
	uint8_t source_sha256[32]; /* SHA-256 of the YAML text */
	struct zw_probe *probes; /* in file order (top-level 'probes:') */
	size_t n_probes;
};

/* ---- diagnostics ---- */

enum zw_level {
	ZW_WARNING,
	ZW_ERROR,
};

struct zw_diag {
	enum zw_level level;
	int code; /* 1 for ZW001 ... */
	struct zw_loc loc;
	char *message;
};

/* A growing list of diagnostics tied to one file name. */
struct zw_diags {
	char *file;
	struct zw_diag *v;
	size_t n;
	size_t cap;
	size_t n_errors;
	size_t n_warnings;
};

/* Initialise @d for @file (copied; may be NULL). */
void zw_diags__init(struct zw_diags *d, const char *file);
/* Release everything @d holds; @d may be re-initialised afterwards. */
void zw_diags__fini(struct zw_diags *d);
/* Append a diagnostic (printf-style message). Allocation failure is
 * recorded as a ZW001 error with a fixed message, never lost silently. */
void zw_diags__add(struct zw_diags *d, enum zw_level level, int code,
		   struct zw_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Sort by (line, column, code) so output is stable and reads top-down. */
void zw_diags__sort(struct zw_diags *d);
/* Print as "FILE:LINE:COL: error[ZWnnn]: message" lines. */
void zw_diags__print_text(const struct zw_diags *d, FILE *out);
/* Print as one JSON document {"file":..,"errors":N,"warnings":N,
 * "diagnostics":[{"line","column","level","code","message"}]}. */
void zw_diags__print_json(const struct zw_diags *d, FILE *out);

/* Explanation of a ZW code: what it means, which requirement asks for it,
 * how to fix it. NULL for an unknown code. */
struct zw_code_info {
	int code;
	enum zw_level level;
	const char *title;
	const char *requirement; /* docs/requirements.md IDs, e.g. "M1" */
	const char *meaning;
	const char *why;
	const char *fix;
};
const struct zw_code_info *zw_code__info(int code);
/* All codes, terminated by an entry with code 0. */
const struct zw_code_info *zw_code__all(void);

/* ---- parsing ---- */

/*
 * Parse matrix text (YAML) into a model. Every problem found is appended to
 * @diags (ZW001 for syntax, type, range, unknown/duplicate/missing keys;
 * ZW002 for unknown references; ZW010 for malformed prefixes; ZW062 for a
 * probe's zone list). The model is
 * returned even when diagnostics were emitted, as far as it could be built,
 * so the validator can report more; it must not be compiled unless
 * diags->n_errors is 0 after validation.
 * Returns NULL with errno ENOMEM only when memory ran out.
 */
struct zw_matrix *zw_matrix__parse(const char *text, size_t len,
				   const char *file, struct zw_diags *diags);

/* Read and parse @path. On a read error returns NULL, sets errno and adds a
 * ZW001 diagnostic saying why. */
struct zw_matrix *zw_matrix__load(const char *path, struct zw_diags *diags);

/* NULL-safe, half-built-safe. */
void zw_matrix__free(struct zw_matrix *m);

/*
 * Run every semantic check of docs/matrix-language.md on @m, add diagnostics.
 * @today (days since epoch, UTC) dates ZW041. Returns the number of errors
 * in @diags afterwards.
 */
size_t zw_matrix__validate(struct zw_matrix *m, int32_t today,
			   struct zw_diags *diags);

/* ---- lookups and helpers ---- */

/* Index of a zone by name (including "outside" = 0), or -1. */
int zw_matrix__zone_index(const struct zw_matrix *m, const char *name);
/* Index of a service by name, or -1. */
int zw_matrix__service_index(const struct zw_matrix *m, const char *name);
/* Index of a flow by id, or -1. */
int zw_matrix__flow_index(const struct zw_matrix *m, const char *id);
/* Index of a probe by name, or -1. */
int zw_matrix__probe_index(const struct zw_matrix *m, const char *name);
/* True if @flow is live (not expired) on @day. */
bool zw_flow__live(const struct zw_flow *flow, int32_t day);

/*
 * A JSON Schema (draft-07) of the matrix language, generated from the
 * parser's key tables (matrix/schema.c): every key of every mapping, with
 * its type, unknown keys refused. For editors (yaml-language-server) and
 * linters; the parser and validator stay the authority. Returns malloc'd
 * JSON text (caller frees), or NULL with errno (ENOMEM; EINVAL when a key
 * the parser accepts has no schema, a bug caught by the tests).
 */
char *zw_matrix__schema(void);


/* ---- compiling to a policy image (policy.h, docs/policy-image.md) ---- */

/*
 * Compile a matrix that validated with no error into image bytes. The same
 * matrix always gives the same bytes. On success *out is malloc'd (caller
 * frees) and *out_len set. Returns 0, -EINVAL if @m cannot be compiled
 * (too many zones, ...), -ENOMEM.
 */
int zw_policy__compile(const struct zw_matrix *m, uint8_t **out,
		       size_t *out_len);

/* A crisis block-file measure, as the daemon keeps it. */
struct zw_fileblock {
	uint32_t types;
	const char *from;
	const char *to;
};

/* Options of zw_policy__compile_opts(). */
struct zw_compile_opts {
	/* Crisis block list (REQUIREMENTS C1): every packet from or to one of
	 * these prefixes is denied, whatever the flows say. */
	const struct zw_prefix *block;
	size_t n_block;
	/* Flow indexes to leave out (crisis isolation, C3/C4): a flow whose
	 * exclude[i] is true gets no rule. NULL = none. */
	const bool *exclude;
	/* Crisis block-file measures (REQUIREMENTS C2): each denies the file
	 * types of its mask (enum zw_l7_ftype, l7.h) on TCP connections from
	 * zone @from to zone @to (names; NULL = any zone). A measure naming a
	 * zone the matrix does not have applies to nothing and is left out. */
	const struct zw_fileblock *fileblock;
	size_t n_fileblock;
};

/* zw_policy__compile() with options; @opts may be NULL. */
int zw_policy__compile_opts(const struct zw_matrix *m,
			    const struct zw_compile_opts *opts, uint8_t **out,
			    size_t *out_len);

/* Write @s as a JSON string literal (quotes, escapes); NULL writes "". */
void zw_json__string(FILE *out, const char *s);

/* ---- traffic: the effective difference between two matrices ---- */

/*
 * What `zonectl diff` states as "now allowed" / "no longer allowed",
 * computed exactly, address by address, port by port (matrix/traffic.c).
 *
 * The traffic a matrix allows on a day is the set of new connections
 * (family, protocol, destination port or ICMP type, source, destination)
 * its evaluator allows (eval.h): what its live flows allow, plus every
 * protocol between two members of one declared, non-isolated zone.
 * "Added" is what NEW allows and OLD does not, "removed" the reverse.
 * Each piece of it is attributed, in the matrix that allows it, to what the
 * evaluator of that matrix would name: the first live flow (and its first
 * service) matching it, otherwise the same-zone allowance. Changes are thus
 * disjoint, and the zone indexes, flow indexes and service indexes of a
 * change are those of the matrix that allows its traffic.
 */

/* flow/service of a change that is the same-zone allowance. */
#define ZW_TRAFFIC_SAME_ZONE UINT32_MAX

/* A box of traffic: every new connection of @family whose source lies in
 * [src_lo, src_hi] and destination in [dst_lo, dst_hi] (addresses in network
 * byte order, IPv4 in the first 4 bytes, the rest zero), and whose protocol
 * is @proto with destination port (tcp/udp/sctp) or ICMP type (icmp/icmpv6)
 * in [lo, hi] ([0, 0] for other protocols). With @any_proto set, every
 * protocol, port and type (proto/lo/hi are 0). */
struct zw_traffic_box {
	uint8_t family;
	uint8_t proto;
	bool any_proto;
	uint16_t lo, hi;
	uint8_t src_lo[16], src_hi[16];
	uint8_t dst_lo[16], dst_hi[16];
};

/* Part of a same-zone change that a flow allows instead (so it is not in the
 * change): the box, clipped to the change, and the flow/service allowing it,
 * as indexes into the matrix of the change (@other false) or into the other
 * matrix (@other true: that traffic was, or still is, allowed there). */
struct zw_traffic_except {
	bool other;
	uint32_t flow, service;
	struct zw_traffic_box box;
};

struct zw_traffic_change {
	uint32_t from, to; /* zone pair */
	uint32_t flow;	   /* flow index, or ZW_TRAFFIC_SAME_ZONE */
	uint32_t service;  /* service index, or ZW_TRAFFIC_SAME_ZONE */
	/* True when the change is everything the flow's service allows (or,
	 * for the same-zone allowance, every address pair of the zone; see
	 * @excepts) on that day. */
	bool whole;
	/* The traffic of the change: disjoint boxes, adjacent ones merged,
	 * sorted. For the same-zone allowance, @any_proto boxes minus
	 * @excepts. */
	struct zw_traffic_box *boxes;
	size_t n_boxes;
	/* Everything the flow's service (or the zone's same-zone allowance)
	 * allows: what @boxes is a part of, for presenting a part. */
	struct zw_traffic_box *scope;
	size_t n_scope;
	struct zw_traffic_except *excepts; /* same-zone changes only */
	size_t n_excepts;
};

struct zw_traffic_diff {
	/* Allowed by new, not by old; indexes into new. */
	struct zw_traffic_change *added;
	size_t n_added;
	/* Allowed by old, not by new; indexes into old. */
	struct zw_traffic_change *removed;
	size_t n_removed;
};

/*
 * Compute the difference in allowed traffic between @old and @new, both
 * parsed without errors, with flow expiry evaluated on @day (days since
 * epoch, UTC). Changes are sorted by (from, to, flow, service position in
 * the flow), the same-zone allowance last. On success stores a diff the
 * caller frees with zw_traffic_diff__free() in *@out and returns 0;
 * -ENOMEM when memory ran out.
 */
int zw_matrix__traffic_diff(const struct zw_matrix *old,
			    const struct zw_matrix *new_, int32_t day,
			    struct zw_traffic_diff **out);
/* NULL-safe. */
void zw_traffic_diff__free(struct zw_traffic_diff *d);
/* True if the box holds the connection (family, proto, port or ICMP type,
 * src, dst); for protocols without ports @port is ignored. */
bool zw_traffic_box__contains(const struct zw_traffic_box *b, uint8_t family,
			      uint8_t proto, uint16_t port,
			      const uint8_t src[16], const uint8_t dst[16]);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_MATRIX_H */
