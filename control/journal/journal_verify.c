/* SPDX-License-Identifier: BSD-2-Clause */
/* Journal verification (the hash chain end to end, archives included) and
 * archiving of entries older than the retention period. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <zonewall/policy.h>

#include "journal_priv.h"

struct vstate {
	struct zw_journal_verify *v;
	int64_t expect_seq;
	char expect_prev[65];
	int64_t last_time_us; /* time of the entry before (ordering) */
};

static bool fail(struct vstate *s, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool fail(struct vstate *s, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	s->v->ok = false;
	s->v->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(s->v->problem, sizeof(s->v->problem), fmt, ap);
	va_end(ap);
	return false;
}

/*
 * Check one entry at position s->expect_seq. @cols (may be NULL) are the
 * indexed columns of a database row, which must agree with the content.
 */
struct cols {
	int64_t time_us;
	const char *action;
	int64_t version; /* 0 = NULL */
	const char *flow;
	const char *prev;
};

static bool check_entry(struct vstate *s, const char *content,
			const char *stored_hash, const struct cols *c)
{
	int64_t pos = s->expect_seq, seq, t = 0;
	char hash[65];
	char *canon;
	json_t *o;
	const char *prev, *ts, *act, *flow;
	json_t *ver;
	bool same;

	o = json_loads(content, JSON_REJECT_DUPLICATES, NULL);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return fail(s, pos, "entry %lld is not valid JSON (modified)",
			    (long long)pos);
	}
	canon = zw_json__canonical(o);
	same = canon && !strcmp(canon, content);
	free(canon);
	if (!same) {
		json_decref(o);
		return fail(s, pos,
			    "entry %lld is not in canonical form (modified)",
			    (long long)pos);
	}
	zw_sha256_hex(content, strlen(content), hash);
	if (strcmp(hash, stored_hash)) {
		json_decref(o);
		return fail(s, pos,
			    "entry %lld does not match its hash (modified)",
			    (long long)pos);
	}
	seq = json_integer_value(json_object_get(o, "seq"));
	prev = json_string_value(json_object_get(o, "prev"));
	if (seq != pos) {
		json_decref(o);
		return fail(s, pos,
			    "entry at position %lld carries seq %lld (entries "
			    "were reordered, inserted or deleted)",
			    (long long)pos, (long long)seq);
	}
	if (!prev || strcmp(prev, s->expect_prev)) {
		json_decref(o);
		if (pos == 1)
			return fail(s, pos,
				    "entry 1 does not start the chain "
				    "(entries before it were deleted)");
		return fail(s, pos,
			    "entry %lld does not follow entry %lld: its "
			    "previous-hash differs (entry %lld was modified, "
			    "or an entry between them was deleted or "
			    "inserted)",
			    (long long)pos, (long long)pos - 1,
			    (long long)pos - 1);
	}
	if (c) {
		ts = json_string_value(json_object_get(o, "time"));
		act = json_string_value(json_object_get(o, "action"));
		flow = json_string_value(json_object_get(o, "flow"));
		ver = json_object_get(o, "version");
		if (!ts || zw_time__parse(ts, &t) || t != c->time_us ||
		    !act || !c->action || strcmp(act, c->action) ||
		    (json_is_integer(ver) ? json_integer_value(ver) : 0) !=
			    c->version ||
		    (!flow != !c->flow) || (flow && strcmp(flow, c->flow)) ||
		    !c->prev || strcmp(c->prev, prev)) {
			json_decref(o);
			return fail(s, pos,
				    "entry %lld: its indexed columns disagree "
				    "with its content (modified)",
				    (long long)pos);
		}
	}
	/* Entries are in time order; only a clock-step entry, which records
	 * the step, may be dated before the entry preceding it. */
	ts = json_string_value(json_object_get(o, "time"));
	act = json_string_value(json_object_get(o, "action"));
	if (ts && !zw_time__parse(ts, &t)) {
		if (t < s->last_time_us && (!act || strcmp(act, "clock-step"))) {
			json_decref(o);
			return fail(s, pos,
				    "entry %lld is dated before entry %lld with "
				    "no clock-step entry between them (the "
				    "clock went back unrecorded, or entries "
				    "were altered)",
				    (long long)pos, (long long)pos - 1);
		}
		s->last_time_us = t;
	}
	json_decref(o);
	memcpy(s->expect_prev, hash, sizeof(hash));
	s->expect_seq++;
	return true;
}

static int file_sha256(const char *path, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536], md[32];
	unsigned int n = 0;
	FILE *in = fopen(path, "rb");
	size_t got;
	int r = -EIO;

	if (!in || !ctx) {
		r = in ? -ENOMEM : -errno;
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((got = fread(buf, 1, sizeof(buf), in)) > 0)
		if (!EVP_DigestUpdate(ctx, buf, got))
			goto out;
	if (ferror(in) || !EVP_DigestFinal_ex(ctx, md, &n) || n != 32)
		goto out;
	zw_hex(md, 32, out);
	r = 0;
out:
	if (in)
		fclose(in);
	EVP_MD_CTX_free(ctx);
	return r;
}

static bool verify_archive(struct zw_journal *j, struct vstate *s,
			   const char *file, int64_t first, int64_t last,
			   const char *first_prev, const char *last_hash,
			   const char *digest)
{
	char path[PATH_MAX + 16], got[65], hash[65];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *in;
	bool ok = true;

	snprintf(path, sizeof(path), "%s/archive/%s", j->dir, file);
	if (first != s->expect_seq || strcmp(first_prev, s->expect_prev))
		return fail(s, s->expect_seq,
			    "archive %s does not continue the chain at entry "
			    "%lld (an archive was removed or altered)",
			    file, (long long)s->expect_seq);
	if (file_sha256(path, got) < 0)
		return fail(s, first, "archive %s cannot be read (%s)", file,
			    strerror(errno));
	if (strcmp(got, digest))
		return fail(s, first,
			    "archive %s does not match the SHA-256 recorded "
			    "when it was written (altered)",
			    file);
	in = fopen(path, "r");
	if (!in)
		return fail(s, first, "archive %s cannot be read", file);
	while (ok && (n = getline(&line, &cap, in)) > 0) {
		if (line[n - 1] != '\n') {
			ok = fail(s, s->expect_seq,
				  "archive %s is truncated at entry %lld", file,
				  (long long)s->expect_seq);
			break;
		}
		line[--n] = '\0';
		zw_sha256_hex(line, (size_t)n, hash);
		ok = check_entry(s, line, hash, NULL);
		if (ok)
			s->v->archived++;
	}
	free(line);
	fclose(in);
	if (ok && (s->expect_seq != last + 1 ||
		   strcmp(s->expect_prev, last_hash)))
		ok = fail(s, s->expect_seq,
			  "archive %s ends at entry %lld, not %lld as recorded",
			  file, (long long)s->expect_seq - 1, (long long)last);
	return ok;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int zw_journal__verify(struct zw_journal *j, struct zw_journal_verify *v)
{
	struct vstate s = {.v = v, .expect_seq = 1};
	sqlite3_stmt *st = NULL;
	bool ok = true;
	int rc;

	memset(v, 0, sizeof(*v));
	v->ok = true;
	strcpy(s.expect_prev, ZW_JOURNAL_GENESIS);
	rc = sqlite3_prepare_v2(j->db,
				"SELECT file, first_seq, last_seq, first_prev,"
				" last_hash, sha256 FROM journal_archive"
				" ORDER BY first_seq",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *f = col_text(st, 0), *fp = col_text(st, 3),
			   *lh = col_text(st, 4), *d = col_text(st, 5);

		ok = verify_archive(j, &s, f ? f : "", sqlite3_column_int64(st, 1),
				    sqlite3_column_int64(st, 2), fp ? fp : "",
				    lh ? lh : "", d ? d : "");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ok) {
		rc = sqlite3_prepare_v2(j->db,
					"SELECT seq, content, hash, time_us,"
					" action, version, flow, prev FROM"
					" journal ORDER BY seq",
					-1, &st, NULL);
		if (rc != SQLITE_OK)
			return -EIO;
		while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t seq = sqlite3_column_int64(st, 0);
			struct cols c = {
				.time_us = sqlite3_column_int64(st, 3),
				.action = col_text(st, 4),
				.version = sqlite3_column_int64(st, 5),
				.flow = col_text(st, 6),
				.prev = col_text(st, 7),
			};
			const char *content = col_text(st, 1),
				   *hash = col_text(st, 2);

			if (seq > s.expect_seq) {
				ok = fail(&s, s.expect_seq,
					  "entry %lld is missing (deleted)%s",
					  (long long)s.expect_seq,
					  seq > s.expect_seq + 1
						  ? ", and those after it up "
						    "to the next present one"
						  : "");
				break;
			}
			ok = check_entry(&s, content ? content : "",
					 hash ? hash : "", &c);
		}
		sqlite3_finalize(st);
		if (ok && rc != SQLITE_DONE)
			return -EIO;
	}
	v->entries = s.expect_seq - 1;
	if (v->ok) {
		v->head_seq = s.expect_seq - 1;
		memcpy(v->head_hash, s.expect_prev, 65);
	} else {
		v->entries = s.expect_seq - 1;
	}
	return 0;
}

/* ---- archiving ---- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int zw_journal__archive(struct zw_journal *j, int64_t before_us,
			int64_t keep_from_seq,
			const struct zw_journal_entry *who, int64_t *n_out,
			char *path_out, size_t path_len)
{
	const int64_t year_us = (int64_t)ZW_JOURNAL_RETENTION_DAYS * 86400 *
				1000000;
	sqlite3_stmt *st = NULL;
	char dir[PATH_MAX], tmp[PATH_MAX + 32], path[PATH_MAX + 128], name[96];
	char first_prev[65] = "", last_hash[65] = "", digest[65];
	char detail[PATH_MAX + 512];
	int64_t first = 0, last = 0, n = 0;
	FILE *out = NULL;
	int r = -EIO, rc;

	*n_out = 0;
	if (j->rdonly)
		return -EROFS;
	if (j->in_tx)
		return -EBUSY;
	if (before_us > zw_time__now_us() - year_us)
		return -EPERM;
	snprintf(dir, sizeof(dir), "%s/archive", j->dir);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	rc = sqlite3_prepare_v2(j->db,
				"SELECT seq, content, hash, time_us, prev FROM"
				" journal ORDER BY seq",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	snprintf(tmp, sizeof(tmp), "%s/.archive.tmp", dir);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *content = col_text(st, 1), *hash = col_text(st, 2);

		if (sqlite3_column_int64(st, 3) >= before_us ||
		    (keep_from_seq > 0 && seq >= keep_from_seq))
			break;
		if (!out) {
			out = fopen(tmp, "w");
			if (!out) {
				r = -errno;
				goto out;
			}
			first = seq;
			snprintf(first_prev, sizeof(first_prev), "%s",
				 col_text(st, 4) ? col_text(st, 4) : "");
		}
		if (fprintf(out, "%s\n", content ? content : "") < 0)
			goto out;
		last = seq;
		snprintf(last_hash, sizeof(last_hash), "%s", hash ? hash : "");
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!out)
		return 0; /* nothing old enough */
	if (fflush(out) || fsync(fileno(out)) < 0) {
		r = -errno;
		goto out;
	}
	fclose(out);
	out = NULL;
	snprintf(name, sizeof(name), "journal-%012lld-%012lld.jsonl",
		 (long long)first, (long long)last);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	fsync_dir(dir);
	if ((r = file_sha256(path, digest)) < 0)
		goto out;
	r = zw_journal__begin(j);
	if (r < 0)
		goto out;
	r = -EIO;
	rc = sqlite3_prepare_v2(j->db,
				"INSERT INTO journal_archive (file, first_seq,"
				" last_seq, first_prev, last_hash, sha256,"
				" created_us) VALUES (?,?,?,?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto abort;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_int64(st, 3, last);
	sqlite3_bind_text(st, 4, first_prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, last_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, zw_time__now_us());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto abort;
	rc = sqlite3_prepare_v2(j->db,
				"DELETE FROM journal WHERE seq BETWEEN ? AND ?",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		goto abort;
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int64(st, 2, last);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE) {
		r = -EPERM; /* the retention trigger refused */
		goto abort;
	}
	{
		struct zw_journal_entry e = {0};

		if (who)
			e = *who;
		e.action = ZW_JA_ARCHIVE;
		e.time_us = 0;
		e.clock = NULL;
		snprintf(detail, sizeof(detail),
			 "entries %lld-%lld moved to archive/%s (sha256 %s)",
			 (long long)first, (long long)last, name, digest);
		e.detail = detail;
		r = zw_journal__append(j, &e, NULL);
		if (r < 0)
			goto abort;
	}
	r = zw_journal__commit(j);
	if (r < 0)
		goto out;
	*n_out = n;
	if (path_out)
		snprintf(path_out, path_len, "%s", path);
	return 0;
abort:
	zw_journal__abort(j);
	unlink(path);
out:
	sqlite3_finalize(st);
	if (out) {
		fclose(out);
		unlink(tmp);
	}
	return r;
}

/* ---- the checkpoint, and anchors kept outside the database ---- */

static void checkpoint_path(struct zw_journal *j, char *buf, size_t len,
			    const char *suffix)
{
	snprintf(buf, len, "%s/%s%s", j->dir, ZW_JOURNAL_CHECKPOINT, suffix);
}

int zw_journal__checkpoint_write(struct zw_journal *j)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32], line[128];
	int fd, n, r = 0;

	if (!j->checkpoint)
		return 0;
	checkpoint_path(j, tmp, sizeof(tmp), ".tmp");
	checkpoint_path(j, path, sizeof(path), "");
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0640);
	if (fd < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "zonewall-journal-head %lld %s\n",
		     (long long)j->head_seq, j->head_hash);
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	else
		fsync_dir(j->dir);
	return r;
}

int zw_journal__checkpoint_enable(struct zw_journal *j)
{
	if (j->rdonly)
		return -EROFS;
	j->checkpoint = true;
	return zw_journal__checkpoint_write(j);
}

int zw_journal__checkpoint_read(struct zw_journal *j, int64_t *seq,
				char hash[65])
{
	char path[PATH_MAX + 32], h[80];
	long long s;
	FILE *f;
	int n;

	checkpoint_path(j, path, sizeof(path), "");
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	n = fscanf(f, "zonewall-journal-head %lld %70s", &s, h);
	fclose(f);
	if (n != 2 || s < 0 || strlen(h) != 64 ||
	    strspn(h, "0123456789abcdef") != 64)
		return -EBADMSG;
	*seq = s;
	memcpy(hash, h, 65);
	return 0;
}

static int first_cb(int64_t seq, const char *content, const char *hash,
		    void *ctx)
{
	(void)seq;
	(void)content;
	snprintf(ctx, 65, "%s", hash);
	return 1;
}

/* Hash of entry @seq, from the database or the archives: 0, -ENOENT. */
static int entry_hash(struct zw_journal *j, int64_t seq, char out[65])
{
	struct zw_journal_filter f = {.after_seq = seq - 1, .limit = 1};
	sqlite3_stmt *st = NULL;
	int64_t count = 0;
	int rc;

	out[0] = '\0';
	if (sqlite3_prepare_v2(j->db, "SELECT hash FROM journal WHERE seq=?",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, 65, "%s", col_text(st, 0) ? col_text(st, 0) : "");
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	rc = zw_journal__foreach_archive(j, &f, first_cb, out, &count);
	if (rc < 0)
		return rc;
	return *out ? 0 : -ENOENT;
}

int zw_journal__verify_anchor(struct zw_journal *j, int64_t seq,
			      const char *hash, const char *what,
			      struct zw_journal_verify *v)
{
	char got[65];
	int r;

	if (!v->ok || seq <= 0)
		return 0;
	if (seq > v->head_seq) {
		v->ok = false;
		v->bad_seq = v->head_seq + 1;
		if (!v->head_seq)
			snprintf(v->problem, sizeof(v->problem),
				 "the journal is empty but %s records entry "
				 "%lld: the database was emptied or replaced",
				 what, (long long)seq);
		else
			snprintf(v->problem, sizeof(v->problem),
				 "the journal ends at entry %lld but %s records "
				 "entry %lld: entries %lld-%lld were cut",
				 (long long)v->head_seq, what, (long long)seq,
				 (long long)v->head_seq + 1, (long long)seq);
		return 0;
	}
	r = entry_hash(j, seq, got);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT || strcmp(got, hash)) {
		v->ok = false;
		v->bad_seq = seq;
		snprintf(v->problem, sizeof(v->problem),
			 "entry %lld is not the one %s records (hash %.16s..., "
			 "found %.16s...): the journal was rewritten up to it",
			 (long long)seq, what, hash, r ? "none" : got);
	}
	return 0;
}
