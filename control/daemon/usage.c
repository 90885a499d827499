/* SPDX-License-Identifier: BSD-2-Clause */
/* Flow usage sampled into the state database (usage.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "usage.h"
#include "zonewalld.h"

int zw_usage__init(sqlite3 *db)
{
	static const char sql[] =
		"CREATE TABLE IF NOT EXISTS usage_flow ("
		" engine TEXT NOT NULL, flow TEXT NOT NULL,"
		" raw_packets INTEGER NOT NULL, raw_bytes INTEGER NOT NULL,"
		" packets INTEGER NOT NULL, bytes INTEGER NOT NULL,"
		" first_us INTEGER NOT NULL, last_hit_us INTEGER,"
		" PRIMARY KEY (engine, flow));"
		"CREATE TABLE IF NOT EXISTS usage_sample ("
		" time_us INTEGER NOT NULL, engine TEXT NOT NULL,"
		" flow TEXT NOT NULL, packets INTEGER NOT NULL,"
		" bytes INTEGER NOT NULL);"
		"CREATE INDEX IF NOT EXISTS usage_sample_time"
		" ON usage_sample(time_us);";

	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* The delta since the last raw value: a lower value is a reset. */
static uint64_t delta(uint64_t raw, uint64_t last)
{
	return raw >= last ? raw - last : raw;
}

static int sample_engine(sqlite3 *db, sqlite3_stmt *get, sqlite3_stmt *put,
			 sqlite3_stmt *add, const char *engine,
			 const struct zw_image *img,
			 const struct zw_flow_counters *c, int64_t now)
{
	for (uint32_t k = 0; k < img->n_flows; k++) {
		const char *flow = zw_image__str(img, img->flows[k].id);
		uint64_t dp = c[k].packets, db_ = c[k].bytes;
		int64_t first = now, last_hit = 0;
		uint64_t packets = 0, bytes = 0;
		int r;

		sqlite3_reset(get);
		sqlite3_bind_text(get, 1, engine, -1, SQLITE_STATIC);
		sqlite3_bind_text(get, 2, flow, -1, SQLITE_STATIC);
		r = sqlite3_step(get);
		if (r == SQLITE_ROW) {
			dp = delta(c[k].packets,
				   (uint64_t)sqlite3_column_int64(get, 0));
			db_ = delta(c[k].bytes,
				    (uint64_t)sqlite3_column_int64(get, 1));
			packets = (uint64_t)sqlite3_column_int64(get, 2);
			bytes = (uint64_t)sqlite3_column_int64(get, 3);
			first = sqlite3_column_int64(get, 4);
			last_hit = sqlite3_column_int64(get, 5);
		} else if (r != SQLITE_DONE) {
			return -EIO;
		}
		if (dp) {
			last_hit = now;
			sqlite3_reset(add);
			sqlite3_bind_int64(add, 1, now);
			sqlite3_bind_text(add, 2, engine, -1, SQLITE_STATIC);
			sqlite3_bind_text(add, 3, flow, -1, SQLITE_STATIC);
			sqlite3_bind_int64(add, 4, (int64_t)dp);
			sqlite3_bind_int64(add, 5, (int64_t)db_);
			if (sqlite3_step(add) != SQLITE_DONE)
				return -EIO;
		}
		sqlite3_reset(put);
		sqlite3_bind_text(put, 1, engine, -1, SQLITE_STATIC);
		sqlite3_bind_text(put, 2, flow, -1, SQLITE_STATIC);
		sqlite3_bind_int64(put, 3, (int64_t)c[k].packets);
		sqlite3_bind_int64(put, 4, (int64_t)c[k].bytes);
		sqlite3_bind_int64(put, 5, (int64_t)(packets + dp));
		sqlite3_bind_int64(put, 6, (int64_t)(bytes + db_));
		sqlite3_bind_int64(put, 7, first);
		if (last_hit)
			sqlite3_bind_int64(put, 8, last_hit);
		else
			sqlite3_bind_null(put, 8);
		if (sqlite3_step(put) != SQLITE_DONE)
			return -EIO;
	}
	(void)db;
	return 0;
}

int zwd_usage__sample(struct zwd *d, int64_t now_us)
{
	sqlite3 *db = zw_journal__sqlite(d->j);
	sqlite3_stmt *get = NULL, *put = NULL, *add = NULL, *old = NULL;
	struct zw_flow_counters *c = NULL;
	uint32_t n;
	int r = 0;

	if (!d->enforced || !d->n_bes)
		return 0;
	if (zw_usage__init(db))
		return -EIO;
	n = d->enforced->n_flows;
	c = calloc((size_t)n + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db,
			       "SELECT raw_packets, raw_bytes, packets, bytes,"
			       " first_us, IFNULL(last_hit_us, 0) FROM usage_flow"
			       " WHERE engine = ?1 AND flow = ?2",
			       -1, &get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO usage_flow VALUES"
			       " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO usage_sample VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, &add, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM usage_sample WHERE time_us < ?1",
			       -1, &old, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	for (size_t i = 0; i < d->n_bes && !r; i++) {
		struct zwd_backend *b = &d->bes[i];
		int e;

		memset(c, 0, ((size_t)n + 1) * sizeof(*c));
		e = b->be->ops->counters(b->be, c, n);
		if (e < 0) {
			zw_log(ZW_LOG_WARN, "usage-sample",
			       "backend=%s error=\"%s\"", b->spec, strerror(-e));
			continue;
		}
		r = sample_engine(db, get, put, add, b->spec, d->enforced, c,
				  now_us);
	}
	if (!r) {
		sqlite3_bind_int64(old, 1, now_us - (int64_t)ZW_USAGE_KEEP_DAYS *
							 86400 * 1000000);
		if (sqlite3_step(old) != SQLITE_DONE)
			r = -EIO;
	}
	if (sqlite3_exec(db, r ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		r = -EIO;
out:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	sqlite3_finalize(add);
	sqlite3_finalize(old);
	free(c);
	return r;
}

void zw_usage__free(struct zw_usage_flow *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].flow);
	free(v);
}

int zw_usage__read(sqlite3 *db, struct zw_usage_flow **out, size_t *n,
		   int64_t *since_us)
{
	sqlite3_stmt *s = NULL;
	struct zw_usage_flow *v = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	*since_us = 0;
	r = sqlite3_prepare_v2(db,
			       "SELECT flow, SUM(packets), SUM(bytes), MIN(first_us),"
			       " MAX(IFNULL(last_hit_us, 0)) FROM usage_flow"
			       " GROUP BY flow ORDER BY flow",
			       -1, &s, NULL);
	if (r != SQLITE_OK) /* never sampled: no table yet */
		return 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			struct zw_usage_flow *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto err;
			v = nv;
		}
		v[*n] = (struct zw_usage_flow){
			.flow = strdup((const char *)sqlite3_column_text(s, 0)),
			.packets = (uint64_t)sqlite3_column_int64(s, 1),
			.bytes = (uint64_t)sqlite3_column_int64(s, 2),
			.first_us = sqlite3_column_int64(s, 3),
			.last_hit_us = sqlite3_column_int64(s, 4),
		};
		if (!v[*n].flow)
			goto err;
		if (!*since_us || v[*n].first_us < *since_us)
			*since_us = v[*n].first_us;
		(*n)++;
	}
	sqlite3_finalize(s);
	if (r != SQLITE_DONE) {
		zw_usage__free(v, *n);
		*n = 0;
		return -EIO;
	}
	*out = v;
	return 0;
err:
	sqlite3_finalize(s);
	zw_usage__free(v, *n);
	*n = 0;
	return -ENOMEM;
}

static int cmp_key(const void *k, const void *e)
{
	return strcmp(k, ((const struct zw_usage_flow *)e)->flow);
}

const struct zw_usage_flow *zw_usage__find(const struct zw_usage_flow *v,
					   size_t n, const char *flow)
{
	return n ? bsearch(flow, v, n, sizeof(*v), cmp_key) : NULL;
}
