/* SPDX-License-Identifier: BSD-2-Clause */
/* Internals of the journal shared by its .c files (private to control/). */
#ifndef ZONEWALL_CONTROL_JOURNAL_PRIV_H
#define ZONEWALL_CONTROL_JOURNAL_PRIV_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "journal.h"

struct zw_journal {
	sqlite3 *db;
	char *path;
	char *dir; /* directory of the database; archives in dir/archive */
	bool rdonly;
	bool in_tx;
	int64_t head_seq;
	char head_hash[65];
	sqlite3_stmt *ins;
	bool checkpoint; /* keep ZW_JOURNAL_CHECKPOINT after each append */
};

/* Write the head to the checkpoint file (when enabled). 0 or -errno. */
int zw_journal__checkpoint_write(struct zw_journal *j);

/* Re-read the head from the database (after open or abort). */
int zw_journal__load_head(struct zw_journal *j);

/* Canonical content object of @e (before hashing). Returns NULL on
 * ENOMEM, or with *bad set when @e is invalid. */
json_t *zw_journal__content(const struct zw_journal_entry *e, int64_t seq,
			    int64_t time_us, const struct zw_clock_state *cs,
			    const char *prev, int *bad);

/* Walk archived entries (zw_journal__foreach helper). */
int zw_journal__foreach_archive(struct zw_journal *j,
				const struct zw_journal_filter *f,
				zw_journal_cb cb, void *ctx, int64_t *count);

/* Canonical JSON text of @v (compact, sorted keys, ASCII): malloc'd. */
char *zw_json__canonical(const json_t *v);

/* SHA-256 as 64 lowercase hex digits. 0 or -EIO. */
int zw_sha256_hex(const void *data, size_t len, char out[65]);

#endif
