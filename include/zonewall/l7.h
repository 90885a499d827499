/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libzwl7 (l7/): what the first payload bytes of a connection are, with
 * Hyperscan. Three things, documented in docs/l7.md:
 *
 *  - conformance of `inspect: P` services: the first bytes of each
 *    direction must be protocol P (patterns anchored at the stream start),
 *    judged within ZW_L7_DEPTH_BYTES bytes or ZW_L7_DEPTH_PACKETS data
 *    packets per direction, whichever comes first;
 *  - file types (crisis block-file, REQUIREMENTS C2): magic numbers at the
 *    start of HTTP/1.x bodies (Content-Length and chunked) and at the start
 *    of each direction of other clear-text TCP connections, in Hyperscan
 *    streaming mode (a magic number split across packets is found);
 *  - the oracle: zw_l7__eval(), the reference evaluator (eval.h) given the
 *    first payload bytes of each direction.
 *
 * The Hyperscan databases (struct zw_l7_db) are compiled once per policy
 * image and shared, read-only, by every connection; a connection
 * (struct zw_l7_conn) holds its streams and a little state. Neither is
 * thread-safe: one database and its connections per thread.
 */
#ifndef ZONEWALL_L7_H
#define ZONEWALL_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zw_image;
struct zw_query;

/* The bound of a conformance check, per direction. */
#define ZW_L7_DEPTH_BYTES 1024u
#define ZW_L7_DEPTH_PACKETS 4u
/* Bytes of a body (or of a raw stream) looked at for a magic number. */
#define ZW_L7_MAGIC_DEPTH 1024u

/* The ct mark bits the nftables engine and zw-inspect share: a connection
 * judged good (fast path from then on) or cut. Other bits of the mark are
 * left alone. */
#define ZW_L7_CTMARK_MASK 0xc0000000u
#define ZW_L7_CTMARK_PASS 0x40000000u
#define ZW_L7_CTMARK_CUT 0x80000000u

enum zw_l7_dir {
	ZW_L7_C2S = 0, /* client (connection originator) to server */
	ZW_L7_S2C = 1,
};

enum zw_l7_verdict {
	ZW_L7_PENDING = 0,  /* not judged yet: let the bytes through */
	ZW_L7_PASS = 1,	    /* conformant, nothing to watch any more */
	ZW_L7_MISMATCH = 2, /* not the service's protocol: cut */
	ZW_L7_FILE = 3,	    /* a blocked file type: cut */
};

/* ---- protocols (the values of `inspect:`) ---- */

/* Index of protocol @name ("ssh", ...), or -1. Every name of
 * ZW_INSPECT_NAMES (policy.h) has one. */
int zw_l7_proto__find(const char *name);
/* Name of protocol @p, "?" if out of range. */
const char *zw_l7_proto__name(int p);
unsigned zw_l7_proto__count(void);
/* True if protocol @p can be checked over IP protocol @l4 (6 tcp, 17
 * udp). An engine refuses a flow whose inspected service has an entry it
 * cannot check. */
bool zw_l7_proto__checks(int p, uint8_t l4);

/* ---- file types ---- */

enum zw_l7_ftype {
	ZW_FT_PE,
	ZW_FT_ELF,
	ZW_FT_MACHO,
	ZW_FT_SCRIPT,
	ZW_FT_ZIP,
	ZW_FT_RAR,
	ZW_FT_7Z,
	ZW_FT_GZIP,
	ZW_FT_XZ,
	ZW_FT_BZIP2,
	ZW_FT_ZSTD,
	ZW_FT_CAB,
	ZW_FT_OLE2,
	ZW_FT__COUNT,
};
#define ZW_FT_BIT(t) (1u << (t))
#define ZW_FT_EXECUTABLE                                                       \
	(ZW_FT_BIT(ZW_FT_PE) | ZW_FT_BIT(ZW_FT_ELF) | ZW_FT_BIT(ZW_FT_MACHO) | \
	 ZW_FT_BIT(ZW_FT_SCRIPT))
#define ZW_FT_ARCHIVE                                                          \
	(ZW_FT_BIT(ZW_FT_ZIP) | ZW_FT_BIT(ZW_FT_RAR) | ZW_FT_BIT(ZW_FT_7Z) |   \
	 ZW_FT_BIT(ZW_FT_GZIP) | ZW_FT_BIT(ZW_FT_XZ) |                         \
	 ZW_FT_BIT(ZW_FT_BZIP2) | ZW_FT_BIT(ZW_FT_ZSTD) | ZW_FT_BIT(ZW_FT_CAB))
#define ZW_FT_ALL ((1u << ZW_FT__COUNT) - 1)

/* "pe", "elf"...; "?" if out of range. */
const char *zw_l7_ftype__name(unsigned t);
/* "TYPE[,TYPE...]" (types and the groups executable, archive) to a mask.
 * 0 or -EINVAL with a reason in @err. */
int zw_l7_ftypes__parse(const char *list, uint32_t *mask, char *err,
			size_t err_len);
/* A mask as "elf,pe,..." (type order) into @buf; returns @buf. */
const char *zw_l7_ftypes__format(uint32_t mask, char *buf, size_t len);

/* ---- the databases ---- */

struct zw_l7_db;

/*
 * Compile the Hyperscan databases: the conformance patterns of every
 * protocol (streaming mode, one database per protocol and direction), the
 * recognition of a protocol seen (block mode) and the magic numbers
 * (streaming mode). Returns NULL and sets errno: ENOTSUP when the CPU
 * lacks SSSE3 (Hyperscan's minimum; @err says so), EINVAL if a pattern
 * does not compile, ENOMEM. The caller owns the result.
 */
struct zw_l7_db *zw_l7_db__new(char *err, size_t err_len);
/* NULL-safe. */
void zw_l7_db__free(struct zw_l7_db *db);

/* ---- one connection ---- */

struct zw_l7_conn;

/*
 * A connection to judge: @proto is the protocol its service must carry
 * (zw_l7_proto__find(); -1: none), @l4 its IP protocol, @ftypes the file
 * types to block on it (0: none; TCP only). The connection uses @db's
 * scratch space: @db outlives it. NULL and errno on failure.
 */
struct zw_l7_conn *zw_l7_conn__new(struct zw_l7_db *db, int proto, uint8_t l4,
				   uint32_t ftypes);
/* NULL-safe; a pooled connection goes back to its pool. */
void zw_l7_conn__free(struct zw_l7_conn *c);

/* Feed the payload of one packet in direction @dir, in stream order (an
 * empty payload is no data packet). Returns the connection's verdict after
 * it; once MISMATCH or FILE, it stays so and further bytes are ignored. */
enum zw_l7_verdict zw_l7_conn__feed(struct zw_l7_conn *c, enum zw_l7_dir dir,
				    const void *data, size_t len);
enum zw_l7_verdict zw_l7_conn__verdict(const struct zw_l7_conn *c);
/* True when nothing more needs to be seen: the verdict is final (PASS with
 * no file type to watch any more, MISMATCH or FILE). Until then, every
 * packet of the connection goes through the inspector. */
bool zw_l7_conn__done(const struct zw_l7_conn *c);
/* The protocol recognised in the first bytes (any protocol), or -1. */
int zw_l7_conn__seen(const struct zw_l7_conn *c);
/* The file type found (enum zw_l7_ftype), or -1. */
int zw_l7_conn__ftype(const struct zw_l7_conn *c);
/* What a cut saw, as flow records carry it (struct zw_flow_record.l7_seen):
 * after ZW_L7_FILE, 1 + the file type; after ZW_L7_MISMATCH, 1 + the index
 * of the protocol recognised in zw_inspect_names (policy.h), 0 when none
 * was. One rule for every engine and the inspector. */
uint8_t zw_l7_conn__seen_code(const struct zw_l7_conn *c);

/* ---- preallocated connections (a packet path that must not allocate) ---- */

struct zw_l7_pool;

/*
 * A pool of @n connections on @db for ONE thread: their states, HTTP head
 * buffers, Hyperscan streams and a scratch space of their own, all taken
 * now. zw_l7_pool__get() then allocates nothing; zw_l7_conn__free() of a
 * pooled connection gives it back. A pool and its connections are used by
 * one thread at a time; @db outlives the pool. NULL and errno on failure.
 */
struct zw_l7_pool *zw_l7_pool__new(struct zw_l7_db *db, unsigned n);
/* NULL-safe; the pool's connections go with it. */
void zw_l7_pool__free(struct zw_l7_pool *p);
/* A connection as zw_l7_conn__new() from the pool, and its index there
 * (zw_l7_pool__at). NULL with errno ENOBUFS when every one is in use (the
 * caller fails closed), counted in zw_l7_pool__exhausted(). */
struct zw_l7_conn *zw_l7_pool__get(struct zw_l7_pool *p, int proto,
				   uint8_t l4, uint32_t ftypes,
				   uint32_t *index);
struct zw_l7_conn *zw_l7_pool__at(struct zw_l7_pool *p, uint32_t index);
unsigned zw_l7_pool__size(const struct zw_l7_pool *p);
unsigned zw_l7_pool__used(const struct zw_l7_pool *p);
uint64_t zw_l7_pool__exhausted(const struct zw_l7_pool *p);

/* ---- the oracle ---- */

struct zw_l7_result {
	bool allow;
	unsigned reason;      /* enum zw_drop_reason when !allow */
	enum zw_l7_verdict l7; /* PENDING: not judged within the bytes given */
	uint32_t flow;	       /* as zw_eval__image() */
	int proto;	       /* protocol the service must carry, or -1 */
	int seen;	       /* protocol recognised, or -1 */
	int ftype;	       /* file type found, or -1 */
	uint32_t ftypes;       /* file types blocked on this connection */
};

/* File types a crisis block-file measure of @img blocks on a connection
 * from zone @from to zone @to (0: none). */
uint32_t zw_l7__blocked_types(const struct zw_image *img, uint32_t from,
			      uint32_t to);
/* The protocol a connection allowed by service @service of @img must
 * carry, or -1. */
int zw_l7__service_proto(const struct zw_image *img, uint32_t service);

/*
 * The reference verdict for a new connection @q (eval.h) whose first
 * payload bytes are @c2s (client to server) and @s2c, each given as one
 * packet: denied as zw_eval__image() says; else, for a flow whose service
 * has `inspect:`, denied with ZW_DROP_L7_MISMATCH when the bytes are not
 * that protocol; with ZW_DROP_FILE_TYPE when a blocked file type starts a
 * transfer on the connection's zone pair (TCP). Returns 0 or -errno.
 */
int zw_l7__eval(const struct zw_image *img, struct zw_l7_db *db,
		const struct zw_query *q, const void *c2s, size_t c2s_len,
		const void *s2c, size_t s2c_len, struct zw_l7_result *out);

#ifdef __cplusplus
}
#endif
#endif /* ZONEWALL_L7_H */
