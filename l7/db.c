// SPDX-License-Identifier: BSD-2-Clause
/*
 * The Hyperscan databases of libzwl7: conformance (streaming, one per
 * protocol definition and direction, ids LEAD and FULL), recognition of
 * the protocol seen (block mode, one per direction, id = definition) and
 * magic numbers (streaming, id = file type). Compiled once, read-only
 * afterwards; one scratch space for all of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "l7_db.h"

static hs_database_t *compile(const char *const *exprs, const unsigned *ids,
			      unsigned n, unsigned mode, char *err,
			      size_t err_len)
{
	unsigned flags[64];
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	if (n > 64) {
		snprintf(err, err_len, "too many patterns");
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		flags[i] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
	if (hs_compile_multi(exprs, flags, ids, n, mode, NULL, &db, &ce) !=
	    HS_SUCCESS) {
		snprintf(err, err_len, "Hyperscan refused pattern %d (%s): %s",
			 ce ? ce->expression : -1,
			 ce && ce->expression >= 0 ? exprs[ce->expression] : "",
			 ce ? ce->message : "?");
		hs_free_compile_error(ce);
		errno = EINVAL;
		return NULL;
	}
	return db;
}

static int scratch_for(struct zw_l7_db *db, hs_database_t *d, char *err,
		       size_t err_len)
{
	if (!d)
		return 0;
	if (hs_alloc_scratch(d, &db->scratch) != HS_SUCCESS) {
		snprintf(err, err_len, "cannot allocate Hyperscan scratch space");
		return -ENOMEM;
	}
	return 0;
}

struct zw_l7_db *zw_l7_db__new(char *err, size_t err_len)
{
	struct zw_l7_db *db;
	const char *ex[64];
	unsigned ids[64];

	if (hs_valid_platform() != HS_SUCCESS) {
		snprintf(err, err_len,
			 "this CPU lacks SSSE3, which Hyperscan needs: L7 "
			 "inspection (inspect:, crisis block-file) is not "
			 "available on this machine");
		errno = ENOTSUP;
		return NULL;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	for (unsigned p = 0; p < zw_l7_n_protos; p++)
		for (int d = 0; d < 2; d++) {
			const struct zw_l7_side *s = &zw_l7_protos[p].side[d];

			if (!s->full)
				continue;
			ex[0] = s->lead;
			ids[0] = ZW_L7_ID_LEAD;
			ex[1] = s->full;
			ids[1] = ZW_L7_ID_FULL;
			db->side[p][d] = compile(ex, ids, 2, HS_MODE_STREAM,
						 err, err_len);
			if (!db->side[p][d] ||
			    scratch_for(db, db->side[p][d], err, err_len))
				goto fail;
		}
	for (int d = 0; d < 2; d++) {
		unsigned n = 0;

		for (unsigned p = 0; p < zw_l7_n_protos; p++) {
			if (!zw_l7_protos[p].side[d].full)
				continue;
			ex[n] = zw_l7_protos[p].side[d].full;
			ids[n++] = p;
		}
		db->ident[d] = compile(ex, ids, n, HS_MODE_BLOCK, err, err_len);
		if (!db->ident[d] || scratch_for(db, db->ident[d], err, err_len))
			goto fail;
	}
	for (unsigned t = 0; t < ZW_FT__COUNT; t++) {
		ex[t] = zw_l7_magic[t];
		ids[t] = t;
	}
	db->magic = compile(ex, ids, ZW_FT__COUNT,
			    HS_MODE_STREAM, err,
			    err_len);
	if (!db->magic || scratch_for(db, db->magic, err, err_len))
		goto fail;
	return db;
fail:
	{
		int e = errno ? errno : EINVAL;

		zw_l7_db__free(db);
		errno = e;
	}
	return NULL;
}

void zw_l7_db__free(struct zw_l7_db *db)
{
	if (!db)
		return;
	for (unsigned p = 0; p < ZW_L7_MAX_DEFS; p++)
		for (int d = 0; d < 2; d++)
			hs_free_database(db->side[p][d]);
	hs_free_database(db->ident[0]);
	hs_free_database(db->ident[1]);
	hs_free_database(db->magic);
	if (db->scratch)
		hs_free_scratch(db->scratch);
	free(db);
}
