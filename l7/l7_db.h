/* SPDX-License-Identifier: BSD-2-Clause */
/* The compiled databases (db.c), shared by the connections (conn.c). */
#ifndef ZONEWALL_L7_L7_DB_H
#define ZONEWALL_L7_L7_DB_H

#include <hs/hs.h>

#include "l7_priv.h"

#define ZW_L7_MAX_DEFS 16
#define ZW_L7_ID_LEAD 0u
#define ZW_L7_ID_FULL 1u

struct zw_l7_db {
	hs_database_t *side[ZW_L7_MAX_DEFS][2]; /* [definition][dir] */
	hs_database_t *ident[2];		/* [dir], block mode */
	hs_database_t *magic;			/* streaming */
	hs_scratch_t *scratch;
};

_Static_assert(ZW_FT__COUNT <= 32, "file type mask");

#endif /* ZONEWALL_L7_L7_DB_H */
