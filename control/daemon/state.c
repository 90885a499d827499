/* SPDX-License-Identifier: BSD-2-Clause */
/* Versions and daemon key/value state (state.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS versions ("
	" n INTEGER PRIMARY KEY,"
	" time_us INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" user TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" rollback_of INTEGER,"
	" file TEXT,"
	" matrix_sha256 TEXT NOT NULL,"
	" image_sha256 TEXT NOT NULL,"
	" matrix BLOB NOT NULL,"
	" image BLOB NOT NULL,"
	" state TEXT NOT NULL,"
	" detail TEXT);"
	"CREATE TABLE IF NOT EXISTS daemon_state ("
	" key TEXT PRIMARY KEY,"
	" value);"
	"CREATE TABLE IF NOT EXISTS syslog_cursor ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" sent_seq INTEGER NOT NULL);";

int zw_state__init(sqlite3 *db)
{
	return sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0
									: -EIO;
}

static int get(sqlite3 *db, const char *key, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db,
				    "SELECT value FROM daemon_state WHERE key=?",
				    -1, st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW && sqlite3_column_type(*st, 0) != SQLITE_NULL)
		return 0;
	sqlite3_finalize(*st);
	*st = NULL;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? -ENOENT : -EIO;
}

int zw_state__get_int(sqlite3 *db, const char *key, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int r = get(db, key, &st);

	if (r)
		return r;
	*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int zw_state__get_text(sqlite3 *db, const char *key, char **out)
{
	sqlite3_stmt *st = NULL;
	int r = get(db, key, &st);

	*out = NULL;
	if (r)
		return r;
	*out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return *out ? 0 : -ENOMEM;
}

static int set(sqlite3 *db, const char *key, const char *text, int64_t v,
	       bool is_text)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO daemon_state (key, value)"
				    " VALUES (?1, ?2) ON CONFLICT(key) DO"
				    " UPDATE SET value = excluded.value",
				    -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (is_text && text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else if (is_text)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int zw_state__set_int(sqlite3 *db, const char *key, int64_t v)
{
	return set(db, key, NULL, v, false);
}

int zw_state__set_text(sqlite3 *db, const char *key, const char *v)
{
	return set(db, key, v, 0, true);
}

int zw_state__version_add(sqlite3 *db, struct zw_version_rec *v)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 1;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT max(n) FROM versions", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0) + 1;
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(
		db,
		"INSERT INTO versions (n, time_us, uid, user, reason, kind,"
		" rollback_of, file, matrix_sha256, image_sha256, matrix, image,"
		" state, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, n);
	sqlite3_bind_int64(st, 2, v->time_us);
	sqlite3_bind_int64(st, 3, v->uid);
	sqlite3_bind_text(st, 4, v->user ? v->user : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, v->reason ? v->reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, v->kind, -1, SQLITE_STATIC);
	if (v->rollback_of)
		sqlite3_bind_int64(st, 7, v->rollback_of);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, v->file ? v->file : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, v->matrix_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, v->image_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 11, v->matrix, v->matrix_len, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 12, v->image, v->image_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, v->state, -1, SQLITE_STATIC);
	if (v->detail)
		sqlite3_bind_text(st, 14, v->detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 14);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (rc & 0xff) == SQLITE_FULL ||
				       sqlite3_system_errno(db) == ENOSPC
			       ? -ENOSPC
			       : -EIO;
	v->n = n;
	return 0;
}

int zw_state__version_set_state(sqlite3 *db, int64_t n, const char *state,
				const char *detail)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "UPDATE versions SET state=?, detail="
				    "coalesce(?, detail) WHERE n=?",
				    -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (detail)
		sqlite3_bind_text(st, 2, detail, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static void *blob_dup(sqlite3_stmt *st, int i, size_t *len)
{
	const void *b = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	if (n)
		memcpy(p, b, n);
	p[n] = '\0';
	*len = n;
	return p;
}

int zw_state__version_get(sqlite3 *db, int64_t n, bool blobs,
			  struct zw_version_rec *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = sqlite3_prepare_v2(
		db,
		blobs ? "SELECT n, time_us, uid, user, reason, kind, rollback_of,"
			" file, matrix_sha256, image_sha256, state, detail,"
			" matrix, image FROM versions WHERE n=?"
		      : "SELECT n, time_us, uid, user, reason, kind, rollback_of,"
			" file, matrix_sha256, image_sha256, state, detail"
			" FROM versions WHERE n=?",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, n);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	v->n = sqlite3_column_int64(st, 0);
	v->time_us = sqlite3_column_int64(st, 1);
	v->uid = (uint32_t)sqlite3_column_int64(st, 2);
	v->user = col_dup(st, 3);
	v->reason = col_dup(st, 4);
	v->kind = col_dup(st, 5);
	v->rollback_of = sqlite3_column_int64(st, 6);
	v->file = col_dup(st, 7);
	snprintf(v->matrix_sha256, 65, "%s",
		 (const char *)sqlite3_column_text(st, 8));
	snprintf(v->image_sha256, 65, "%s",
		 (const char *)sqlite3_column_text(st, 9));
	v->state = col_dup(st, 10);
	v->detail = col_dup(st, 11);
	if (blobs) {
		v->matrix = blob_dup(st, 12, &v->matrix_len);
		v->image = blob_dup(st, 13, &v->image_len);
	}
	sqlite3_finalize(st);
	if (!v->user || !v->reason || !v->kind || !v->state ||
	    (blobs && (!v->matrix || !v->image))) {
		zw_state__version_fini(v);
		return -ENOMEM;
	}
	return 0;
}

void zw_state__version_fini(struct zw_version_rec *v)
{
	free(v->user);
	free(v->reason);
	free(v->kind);
	free(v->file);
	free(v->matrix);
	free(v->image);
	free(v->state);
	free(v->detail);
	memset(v, 0, sizeof(*v));
}

int zw_state__pending(sqlite3 *db, int64_t **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int64_t *v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT n FROM versions WHERE state='pending'"
			       " ORDER BY n",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t *x = realloc(v, (k + 1) * sizeof(*v));

		if (!x) {
			free(v);
			sqlite3_finalize(st);
			return -ENOMEM;
		}
		v = x;
		v[k++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	*out = v;
	*n = k;
	return 0;
}

json_t *zw_state__versions_json(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array(), *doc;
	int64_t active = 0;
	char tbuf[32];

	zw_state__get_int(db, "active_version", &active);
	if (!arr ||
	    sqlite3_prepare_v2(db,
			       "SELECT n, time_us, uid, user, reason, kind,"
			       " rollback_of, file, matrix_sha256, image_sha256,"
			       " state, detail FROM versions ORDER BY n",
			       -1, &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 0);
		const char *detail = (const char *)sqlite3_column_text(st, 11);
		json_t *o = json_pack(
			"{s:I, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s,"
			" s:o, s:b}",
			"version", (json_int_t)n, "time",
			zw_time__format(sqlite3_column_int64(st, 1), tbuf),
			"uid", (json_int_t)sqlite3_column_int64(st, 2), "user",
			(const char *)sqlite3_column_text(st, 3), "reason",
			(const char *)sqlite3_column_text(st, 4), "kind",
			(const char *)sqlite3_column_text(st, 5), "rollback_of",
			sqlite3_column_type(st, 6) == SQLITE_NULL
				? json_null()
				: json_integer(sqlite3_column_int64(st, 6)),
			"file", (const char *)sqlite3_column_text(st, 7),
			"matrix_sha256", (const char *)sqlite3_column_text(st, 8),
			"image_sha256", (const char *)sqlite3_column_text(st, 9),
			"state", (const char *)sqlite3_column_text(st, 10),
			"detail", detail ? json_string(detail) : json_null(),
			"active", n == active);

		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			sqlite3_finalize(st);
			return NULL;
		}
	}
	sqlite3_finalize(st);
	doc = json_pack("{s:o, s:o}", "active",
			active ? json_integer(active) : json_null(), "versions",
			arr);
	return doc;
}
