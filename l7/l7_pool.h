/* SPDX-License-Identifier: BSD-2-Clause */
/* The pool of preallocated connections (pool.c), as conn.c sees it. */
#ifndef ZONEWALL_L7_L7_POOL_H
#define ZONEWALL_L7_L7_POOL_H

#include <hs/hs.h>

#include <zonewall/l7.h>

/* Bytes of an HTTP head kept per direction (longer: not parsed). */
#define HTTP_HEAD_MAX 16384u

/* Bytes of struct zw_l7_conn (conn.c). */
extern const size_t zw_l7_conn_size;

/* Make @p the pool the Hyperscan stream allocator of this thread draws
 * from (NULL: malloc); returns the previous one. */
struct zw_l7_pool *zw_l7_pool__bind(struct zw_l7_pool *p);
/* Give @c back to its pool (its streams are closed). */
void zw_l7_pool__put(struct zw_l7_pool *p, struct zw_l7_conn *c);

/* conn.c: initialise @c in place (errno-free: 0 or -ENOMEM) and close
 * its streams. */
int zw_l7_conn__init(struct zw_l7_conn *c, struct zw_l7_db *db,
		     hs_scratch_t *scratch, struct zw_l7_pool *pool,
		     char *heads, int proto, uint8_t l4, uint32_t ftypes);
void zw_l7_conn__release(struct zw_l7_conn *c);

#endif /* ZONEWALL_L7_L7_POOL_H */
