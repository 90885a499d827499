/* SPDX-License-Identifier: BSD-2-Clause */
/* The journal: SQLite storage, canonical content, hash chain, queries.
 * Verification and archiving are in journal_verify.c. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include <zonewall/policy.h>

#include "journal_priv.h"

static const char *const action_names[] = {
	[ZW_JA_COMMIT] = "commit",
	[ZW_JA_COMMIT_REFUSED] = "commit-refused",
	[ZW_JA_ROLLBACK] = "rollback",
	[ZW_JA_FLOW_ADDED] = "flow-added",
	[ZW_JA_FLOW_CHANGED] = "flow-changed",
	[ZW_JA_FLOW_REMOVED] = "flow-removed",
	[ZW_JA_FLOW_SUSPENDED] = "flow-suspended",
	[ZW_JA_FLOW_RESUMED] = "flow-resumed",
	[ZW_JA_FLOW_EXPIRED] = "flow-expired",
	[ZW_JA_ZONE_ADDED] = "zone-added",
	[ZW_JA_ZONE_CHANGED] = "zone-changed",
	[ZW_JA_ZONE_REMOVED] = "zone-removed",
	[ZW_JA_CRISIS_ISOLATE] = "crisis-isolate-internet",
	[ZW_JA_CRISIS_BLOCK] = "crisis-block",
	[ZW_JA_CRISIS_END] = "crisis-end",
	[ZW_JA_RECONCILE] = "reconcile",
	[ZW_JA_ARCHIVE] = "archive",
	[ZW_JA_DRIFT] = "drift",
	[ZW_JA_CLOCK_STEP] = "clock-step",
	[ZW_JA_CRISIS_BLOCK_FILE] = "crisis-block-file",
	[ZW_JA_PROBE_ADDED] = "probe-added",
	[ZW_JA_PROBE_CHANGED] = "probe-changed",
	[ZW_JA_PROBE_REMOVED] = "probe-removed",
};

const char *zw_journal_action__name(enum zw_journal_action a)
{
	if ((int)a < 1 || a > ZW_JA__MAX)
		return NULL;
	return action_names[a];
}

enum zw_journal_action zw_journal_action__parse(const char *name)
{
	for (int a = 1; a <= ZW_JA__MAX; a++)
		if (name && !strcmp(name, action_names[a]))
			return (enum zw_journal_action)a;
	return 0;
}

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS journal ("
	" seq INTEGER PRIMARY KEY,"
	" time_us INTEGER NOT NULL,"
	" action TEXT NOT NULL,"
	" version INTEGER,"
	" flow TEXT,"
	" content TEXT NOT NULL,"
	" prev TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS journal_flow ON journal(flow);"
	"CREATE INDEX IF NOT EXISTS journal_time ON journal(time_us);"
	"CREATE TABLE IF NOT EXISTS journal_archive ("
	" file TEXT NOT NULL,"
	" first_seq INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL,"
	" first_prev TEXT NOT NULL,"
	" last_hash TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" created_us INTEGER NOT NULL);"
	/* Append-only: entries are never modified, and never deleted before
	 * they are 365 days old (only archiving deletes, and only old ones).
	 * Someone with write access to the file can drop these triggers: the
	 * hash chain is what detects that; the triggers stop mistakes. */
	"CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal"
	" BEGIN SELECT RAISE(ABORT, 'journal entries are never modified'); END;"
	"CREATE TRIGGER IF NOT EXISTS journal_keep_a_year BEFORE DELETE ON journal"
	" WHEN old.time_us > (CAST(strftime('%s','now') AS INTEGER) - 31536000)"
	" * 1000000"
	" BEGIN SELECT RAISE(ABORT, 'journal entries younger than 365 days are"
	" never deleted'); END;";

static void set_err(char *err, size_t len, const char *fmt, const char *a,
		    const char *b)
{
	if (err && len)
		snprintf(err, len, fmt, a, b);
}

struct zw_journal *zw_journal__open(const char *path, unsigned flags,
				    char *err, size_t err_len)
{
	struct zw_journal *j = calloc(1, sizeof(*j));
	int oflags, rc;

	if (!j) {
		set_err(err, err_len, "%s%s", "out of memory", "");
		return NULL;
	}
	j->path = strdup(path);
	j->rdonly = flags & ZW_JOURNAL_RDONLY;
	if (!j->path)
		goto err_nomem;
	{
		char *slash = strrchr(j->path, '/');

		if (slash)
			j->dir = strndup(j->path, (size_t)(slash - j->path));
		else
			j->dir = strdup(".");
		if (!j->dir)
			goto err_nomem;
	}
	/* the writer never follows a symbolic link to its database */
	oflags = j->rdonly ? SQLITE_OPEN_READONLY
			   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOFOLLOW;
	rc = sqlite3_open_v2(path, &j->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, err_len, "cannot open journal %s: %s", path,
			j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
		errno = rc == SQLITE_CANTOPEN ? ENOENT : EIO;
		goto err;
	}
	sqlite3_busy_timeout(j->db, 30000);
	if (!j->rdonly) {
		char *msg = NULL;

		/* WAL + synchronous=FULL: a commit returns only once its WAL
		 * frames are fsync'd, so an acknowledged change survives
		 * power loss. */
		rc = sqlite3_exec(j->db,
				  "PRAGMA journal_mode=WAL;"
				  "PRAGMA synchronous=FULL;"
				  "PRAGMA foreign_keys=ON;",
				  NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(j->db, schema, NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			set_err(err, err_len, "cannot initialise journal %s: %s",
				path, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			errno = EIO;
			goto err;
		}
	} else {
		sqlite3_stmt *st = NULL;

		/* A read-only open of something that is not a journal. */
		rc = sqlite3_prepare_v2(j->db, "SELECT count(*) FROM journal",
					-1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st) == SQLITE_ROW ? SQLITE_OK
							    : SQLITE_CANTOPEN;
		sqlite3_finalize(st);
		if (rc == SQLITE_CANTOPEN) {
			/* A copy in a directory we cannot write (an auditor's
			 * read-only copy, no daemon): WAL needs its -shm file;
			 * read the file as immutable instead. */
			char *uri = sqlite3_mprintf("file:%s?immutable=1", path);

			sqlite3_close_v2(j->db);
			j->db = NULL;
			rc = uri ? sqlite3_open_v2(uri, &j->db,
						   SQLITE_OPEN_READONLY |
							   SQLITE_OPEN_URI |
							   SQLITE_OPEN_NOMUTEX,
						   NULL)
				 : SQLITE_NOMEM;
			sqlite3_free(uri);
			st = NULL;
			if (rc == SQLITE_OK)
				rc = sqlite3_prepare_v2(
					j->db, "SELECT count(*) FROM journal",
					-1, &st, NULL);
			sqlite3_finalize(st);
		}
		if (rc != SQLITE_OK) {
			set_err(err, err_len, "%s is not a zonewall journal: %s",
				path, j->db ? sqlite3_errmsg(j->db)
					    : sqlite3_errstr(rc));
			errno = EINVAL;
			goto err;
		}
	}
	if (zw_journal__load_head(j) < 0) {
		set_err(err, err_len, "cannot read journal %s: %s", path,
			sqlite3_errmsg(j->db));
		errno = EIO;
		goto err;
	}
	return j;

err_nomem:
	set_err(err, err_len, "%s%s", "out of memory", "");
	errno = ENOMEM;
err:
	{
		int e = errno;

		zw_journal__free(j);
		errno = e;
	}
	return NULL;
}

void zw_journal__free(struct zw_journal *j)
{
	if (!j)
		return;
	if (j->db && j->in_tx)
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(j->ins);
	if (j->db)
		sqlite3_close_v2(j->db);
	free(j->path);
	free(j->dir);
	free(j);
}

struct sqlite3 *zw_journal__sqlite(struct zw_journal *j)
{
	return j->db;
}

int zw_journal__load_head(struct zw_journal *j)
{
	sqlite3_stmt *st = NULL;
	int rc;

	j->head_seq = 0;
	strcpy(j->head_hash, ZW_JOURNAL_GENESIS);
	rc = sqlite3_prepare_v2(j->db,
				"SELECT seq, hash FROM journal ORDER BY seq DESC"
				" LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);

		j->head_seq = sqlite3_column_int64(st, 0);
		snprintf(j->head_hash, sizeof(j->head_hash), "%s",
			 h ? (const char *)h : "");
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	/* Everything archived: the chain continues from the last archive. */
	rc = sqlite3_prepare_v2(j->db,
				"SELECT last_seq, last_hash FROM journal_archive"
				" ORDER BY last_seq DESC LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);

		j->head_seq = sqlite3_column_int64(st, 0);
		snprintf(j->head_hash, sizeof(j->head_hash), "%s",
			 h ? (const char *)h : "");
	}
	sqlite3_finalize(st);
	return 0;
}

/* -errno of a failed SQLite call: a full disk or quota is said so (the
 * operator must know the cause), anything else is an I/O error. */
static int db_errno(struct zw_journal *j, int rc)
{
	int e = sqlite3_system_errno(j->db);

	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC)
		return -ENOSPC;
	if (e == EDQUOT)
		return -EDQUOT;
	return -EIO;
}

static int exec(struct zw_journal *j, const char *sql)
{
	int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_errno(j, rc);
}

int zw_journal__begin(struct zw_journal *j)
{
	if (j->in_tx)
		return -EBUSY;
	int r = exec(j, "BEGIN IMMEDIATE");

	if (r < 0)
		return r;
	j->in_tx = true;
	return 0;
}

int zw_journal__commit(struct zw_journal *j)
{
	int r;

	if (!j->in_tx)
		return -EINVAL;
	r = exec(j, "COMMIT");
	if (r < 0) {
		zw_journal__abort(j);
		return r;
	}
	j->in_tx = false;
	zw_journal__checkpoint_write(j);
	return 0;
}

int zw_journal__abort(struct zw_journal *j)
{
	int r;

	if (!j->in_tx)
		return -EINVAL;
	r = exec(j, "ROLLBACK");
	j->in_tx = false;
	if (zw_journal__load_head(j) < 0)
		r = -EIO;
	return r;
}

int zw_journal__head(struct zw_journal *j, int64_t *seq, char hash[65])
{
	if (seq)
		*seq = j->head_seq;
	if (hash)
		memcpy(hash, j->head_hash, 65);
	return 0;
}

int zw_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[32];

	if (zw_sha256(data, len, md) < 0)
		return -EIO;
	zw_hex(md, 32, out);
	return 0;
}

char *zw_json__canonical(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII |
				     JSON_ENCODE_ANY);
}

/* A flow id as the matrix grammar allows it, [A-Za-z0-9][A-Za-z0-9._-]{0,63}:
 * an identifier, not free text. Only the random-token heuristic could match
 * one (no ':', '=', '$', '{', '@' or space), and a long descriptive id is
 * not a key: scrubbing it would make the content disagree with the indexed
 * flow column and merge such flows in the rules list. */
static bool flow_id(const char *s)
{
	size_t n = 0;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9')))
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' ||
		      s[n] == '-'))
			return false;
	return n <= 64;
}

/* Replace every string inside @v (recursively) by its scrubbed copy; flow
 * ids ("id" members) are identifiers and stay as they are. */
static int scrub_json(json_t *v)
{
	if (json_is_string(v)) {
		char *s = zw_secret__scrub(json_string_value(v));
		int r;

		if (!s)
			return -ENOMEM;
		r = strcmp(s, json_string_value(v)) ? json_string_set(v, s) : 0;
		free(s);
		return r ? -ENOMEM : 0;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;

		json_object_foreach(v, k, x) {
			if (!strcmp(k, "id") && flow_id(json_string_value(x)))
				continue;
			if (scrub_json(x) < 0)
				return -ENOMEM;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;

		json_array_foreach(v, i, x)
			if (scrub_json(x) < 0)
				return -ENOMEM;
	}
	return 0;
}

static json_t *str_or_null(const char *s)
{
	json_t *v;
	char *c;

	if (!s)
		return json_null();
	c = zw_secret__scrub(s);
	if (!c)
		return NULL;
	v = json_string(c);
	free(c);
	return v;
}

/* A flow id or zone name: kept as is when it is an identifier. */
static json_t *ident_or_null(const char *s)
{
	return s && flow_id(s) ? json_string(s) : str_or_null(s);
}

static json_t *json_or_null(const char *text, int *bad)
{
	json_t *v;

	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!v) {
		*bad = 1;
		return NULL;
	}
	if (scrub_json(v) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *zw_journal__content(const struct zw_journal_entry *e, int64_t seq,
			    int64_t time_us, const struct zw_clock_state *cs,
			    const char *prev, int *bad)
{
	char tbuf[32];
	json_t *o = json_object(), *clock = json_object();
	const char *act = zw_journal_action__name(e->action);

	*bad = 0;
	if (!o || !clock)
		goto err;
	if (!act) {
		*bad = 1;
		goto err;
	}
	if (json_object_set_new(clock, "synced", json_boolean(cs->synced)) ||
	    json_object_set_new(clock, "state",
				json_string(zw_clock__state_name(cs->state))) ||
	    json_object_set_new(clock, "maxerror_us",
				json_integer(cs->maxerror_us)) ||
	    json_object_set_new(clock, "esterror_us",
				json_integer(cs->esterror_us)))
		goto err;
	if (json_object_set_new(o, "seq", json_integer(seq)) ||
	    json_object_set_new(o, "time",
				json_string(zw_time__format(time_us, tbuf))) ||
	    json_object_set_new(o, "clock", clock))
		goto err_o;
	clock = NULL;
	if (json_object_set_new(o, "uid", json_integer(e->uid)) ||
	    json_object_set_new(o, "user", str_or_null(e->user ? e->user : "")) ||
	    json_object_set_new(o, "action", json_string(act)) ||
	    json_object_set_new(o, "version", e->version > 0
						      ? json_integer(e->version)
						      : json_null()) ||
	    json_object_set_new(o, "reason",
				str_or_null(e->reason ? e->reason : "")) ||
	    json_object_set_new(o, "flow", ident_or_null(e->flow)) ||
	    json_object_set_new(o, "zone", ident_or_null(e->zone)) ||
	    json_object_set_new(o, "detail", str_or_null(e->detail)) ||
	    json_object_set_new(o, "prev", json_string(prev)))
		goto err_o;
	if (json_object_set_new(o, "before", json_or_null(e->before, bad)) ||
	    json_object_set_new(o, "after", json_or_null(e->after, bad)) ||
	    json_object_set_new(o, "impl", json_or_null(e->impl, bad)))
		goto err_o;
	if (e->impl && !json_is_object(json_object_get(o, "impl"))) {
		*bad = 1;
		goto err_o;
	}
	return o;
err:
	json_decref(clock);
err_o:
	json_decref(o);
	return NULL;
}

int zw_journal__append(struct zw_journal *j, const struct zw_journal_entry *e,
		       int64_t *seq_out)
{
	struct zw_clock_state cs;
	int64_t seq = j->head_seq + 1;
	int64_t t = e->time_us ? e->time_us : zw_time__now_us();
	char hash[65];
	char *content = NULL;
	json_t *o;
	int bad = 0, rc, r = -EIO;

	if (j->rdonly)
		return -EROFS;
	if (e->clock)
		cs = *e->clock;
	else
		zw_clock__read(&cs);
	o = zw_journal__content(e, seq, t, &cs, j->head_hash, &bad);
	if (!o)
		return bad ? -EINVAL : -ENOMEM;
	content = zw_json__canonical(o);
	if (!content) {
		json_decref(o);
		return -ENOMEM;
	}
	if (zw_sha256_hex(content, strlen(content), hash) < 0)
		goto out;
	if (!j->ins &&
	    sqlite3_prepare_v2(j->db,
			       "INSERT INTO journal (seq, time_us, action,"
			       " version, flow, content, prev, hash)"
			       " VALUES (?,?,?,?,?,?,?,?)",
			       -1, &j->ins, NULL) != SQLITE_OK)
		goto out;
	sqlite3_reset(j->ins);
	sqlite3_bind_int64(j->ins, 1, seq);
	sqlite3_bind_int64(j->ins, 2, t);
	sqlite3_bind_text(j->ins, 3, zw_journal_action__name(e->action), -1,
			  SQLITE_STATIC);
	if (e->version > 0)
		sqlite3_bind_int64(j->ins, 4, e->version);
	else
		sqlite3_bind_null(j->ins, 4);
	/* the indexed column holds exactly what the content says */
	if (e->flow)
		sqlite3_bind_text(j->ins, 5,
				  json_string_value(json_object_get(o, "flow")),
				  -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(j->ins, 5);
	sqlite3_bind_text(j->ins, 6, content, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->ins, 7, j->head_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->ins, 8, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(j->ins);
	if (rc != SQLITE_DONE)
		r = db_errno(j, rc);
	sqlite3_clear_bindings(j->ins);
	sqlite3_reset(j->ins);
	if (rc != SQLITE_DONE)
		goto out;
	j->head_seq = seq;
	memcpy(j->head_hash, hash, sizeof(hash));
	if (seq_out)
		*seq_out = seq;
	if (!j->in_tx)
		zw_journal__checkpoint_write(j);
	r = 0;
out:
	json_decref(o);
	free(content);
	return r;
}

/* ---- queries ---- */

static int archive_matches(const char *content,
			   const struct zw_journal_filter *f)
{
	json_t *o;
	int ok = 1;

	if (!f->flow && !f->since_us)
		return 1;
	o = json_loads(content, 0, NULL);
	if (!o)
		return 1; /* let the reader see the broken line */
	if (f->flow) {
		const char *fl = json_string_value(json_object_get(o, "flow"));

		ok = fl && !strcmp(fl, f->flow);
	}
	if (ok && f->since_us) {
		int64_t t = 0;
		const char *ts = json_string_value(json_object_get(o, "time"));

		ok = ts && !zw_time__parse(ts, &t) && t >= f->since_us;
	}
	json_decref(o);
	return ok;
}

int zw_journal__foreach_archive(struct zw_journal *j,
				const struct zw_journal_filter *f,
				zw_journal_cb cb, void *ctx, int64_t *count)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(j->db,
			       "SELECT file FROM journal_archive ORDER BY"
			       " first_seq",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (!r && sqlite3_step(st) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(st, 0);
		char path[PATH_MAX + 16], *line = NULL, hash[65];
		size_t cap = 0;
		ssize_t n;
		FILE *in;

		snprintf(path, sizeof(path), "%s/archive/%s", j->dir,
			 file ? file : "");
		in = fopen(path, "r");
		if (!in) {
			r = -errno;
			break;
		}
		while (!r && (n = getline(&line, &cap, in)) > 0) {
			json_t *o;
			int64_t seq;

			if (line[n - 1] == '\n')
				line[--n] = '\0';
			o = json_loads(line, 0, NULL);
			seq = o ? json_integer_value(json_object_get(o, "seq"))
				: 0;
			json_decref(o);
			if (seq <= f->after_seq || !archive_matches(line, f))
				continue;
			if (f->limit && *count >= f->limit)
				break;
			zw_sha256_hex(line, (size_t)n, hash);
			(*count)++;
			r = cb(seq, line, hash, ctx);
		}
		free(line);
		fclose(in);
	}
	sqlite3_finalize(st);
	return r;
}

int zw_journal__foreach(struct zw_journal *j, const struct zw_journal_filter *f,
			zw_journal_cb cb, void *ctx)
{
	static const struct zw_journal_filter none;
	sqlite3_stmt *st = NULL;
	int64_t count = 0;
	int r = 0, rc;

	if (!f)
		f = &none;
	if (f->with_archive) {
		r = zw_journal__foreach_archive(j, f, cb, ctx, &count);
		if (r)
			return r;
		if (f->limit && count >= f->limit)
			return 0;
	}
	rc = sqlite3_prepare_v2(
		j->db,
		"SELECT seq, content, hash FROM journal WHERE seq > ?1"
		" AND time_us >= ?2 AND (?3 IS NULL OR flow = ?3)"
		" ORDER BY seq LIMIT ?4",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, f->after_seq);
	sqlite3_bind_int64(st, 2, f->since_us);
	if (f->flow)
		sqlite3_bind_text(st, 3, f->flow, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, f->limit ? f->limit - count : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 1);
		const char *h = (const char *)sqlite3_column_text(st, 2);

		r = cb(sqlite3_column_int64(st, 0), c ? c : "", h ? h : "",
		       ctx);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = -EIO;
	sqlite3_finalize(st);
	return r;
}
