/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stored versions checked against the journal (state.h). The versions
 * table is not append-only and not hash-chained: anyone who can write the
 * database can edit a matrix, an image, an author or a reason there. So
 * the journal entry that activates a version (commit or rollback) and the
 * one that refuses it carry the version's digest, the SHA-256 of the
 * canonical form of its whole row (docs/daemon.md); the chain protects
 * that digest, and a version is checked against it before it is used.
 * Entries written before the digest existed are checked field by field
 * (matrix and image hashes, author, reason).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/policy.h>

#include "journal_priv.h"
#include "state.h"

int zw_state__version_digest(const struct zw_version_rec *v, char out[65])
{
	char msha[65], isha[65], *text;
	json_t *o;
	int r = -ENOMEM;

	if (zw_sha256_hex(v->matrix ? v->matrix : "", v->matrix_len, msha) < 0 ||
	    zw_sha256_hex(v->image ? (const void *)v->image : "", v->image_len,
			  isha) < 0)
		return -EIO;
	o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s,"
		      " s:s, s:s}",
		      "version", (json_int_t)v->n, "time_us",
		      (json_int_t)v->time_us, "uid", (json_int_t)v->uid, "user",
		      v->user ? v->user : "", "reason",
		      v->reason ? v->reason : "", "kind", v->kind ? v->kind : "",
		      "rollback_of", (json_int_t)v->rollback_of, "file",
		      v->file ? v->file : "", "matrix_sha256", v->matrix_sha256,
		      "image_sha256", v->image_sha256, "matrix_bytes_sha256",
		      msha, "image_bytes_sha256", isha);
	text = o ? zw_json__canonical(o) : NULL;
	json_decref(o);
	if (text)
		r = zw_sha256_hex(text, strlen(text), out);
	free(text);
	return r;
}

int zw_state__version_digest_n(sqlite3 *db, int64_t n, char out[65])
{
	struct zw_version_rec v;
	int r = zw_state__version_get(db, n, true, &v);

	if (r < 0)
		return r;
	r = zw_state__version_digest(&v, out);
	zw_state__version_fini(&v);
	return r;
}

/* What the journal says about one version. */
struct evidence {
	int64_t version;
	bool activated;	     /* a commit or rollback entry */
	bool refused;	     /* a commit-refused entry */
	char digest[65];     /* version_sha256 of the activation ("" none) */
	char ref_digest[65]; /* version_sha256 of the refusal */
	json_t *legacy;	     /* the activation entry, when it has no digest */
};

struct walk {
	struct evidence *ev;
	size_t n, cap;
	int64_t only;	     /* 0 = every version */
	int64_t last_active; /* version of the last activation */
	int err;
};

static struct evidence *evidence_of(struct walk *w, int64_t version)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->ev[i].version == version)
			return &w->ev[i];
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct evidence *x = realloc(w->ev, cap * sizeof(*x));

		if (!x)
			return NULL;
		w->ev = x;
		w->cap = cap;
	}
	memset(&w->ev[w->n], 0, sizeof(w->ev[0]));
	w->ev[w->n].version = version;
	return &w->ev[w->n++];
}

static int walk_cb(int64_t seq, const char *content, const char *hash,
		   void *ctx)
{
	struct walk *w = ctx;
	json_t *o = json_loads(content, 0, NULL), *ver;
	const char *act, *dg;
	struct evidence *e;
	int64_t n;

	(void)seq;
	(void)hash;
	if (!o)
		return 0; /* the chain check reports it */
	act = json_string_value(json_object_get(o, "action"));
	ver = json_object_get(o, "version");
	n = json_is_integer(ver) ? json_integer_value(ver) : 0;
	if (!act || n <= 0 ||
	    (strcmp(act, "commit") && strcmp(act, "rollback") &&
	     strcmp(act, "commit-refused"))) {
		json_decref(o);
		return 0;
	}
	if (strcmp(act, "commit-refused"))
		w->last_active = n;
	if (w->only && n != w->only) {
		json_decref(o);
		return 0;
	}
	e = evidence_of(w, n);
	if (!e) {
		json_decref(o);
		w->err = -ENOMEM;
		return 1;
	}
	dg = json_string_value(
		json_object_get(json_object_get(o, "after"), "version_sha256"));
	if (!strcmp(act, "commit-refused")) {
		e->refused = true;
		snprintf(e->ref_digest, sizeof(e->ref_digest), "%s",
			 dg ? dg : "");
		json_decref(o);
		return 0;
	}
	e->activated = true;
	snprintf(e->digest, sizeof(e->digest), "%s", dg ? dg : "");
	json_decref(e->legacy);
	e->legacy = dg ? NULL : o;
	if (dg)
		json_decref(o);
	return 0;
}

static bool streq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* An activation entry without a digest (written before it existed): the
 * hashes it recorded and its author and reason must be the row's. */
static const char *legacy_check(const json_t *entry,
				const struct zw_version_rec *v)
{
	const json_t *after = json_object_get(entry, "after");
	struct zw_image *img;
	char msha[65], err[128];
	bool same;

	zw_sha256_hex(v->matrix, v->matrix_len, msha);
	if (!streq(json_string_value(json_object_get(after, "matrix_sha256")),
		   v->matrix_sha256) ||
	    strcmp(msha, v->matrix_sha256))
		return "its matrix text is not the one committed";
	img = zw_image__open(v->image, v->image_len, err, sizeof(err));
	same = img && !strcmp(img->sha256_hex, v->image_sha256) &&
	       streq(json_string_value(json_object_get(after, "image_sha256")),
		     v->image_sha256);
	zw_image__free(img);
	if (!same)
		return "its image is not the one committed";
	if (!streq(json_string_value(json_object_get(entry, "user")), v->user) ||
	    json_integer_value(json_object_get(entry, "uid")) != v->uid)
		return "its author is not the one journalled";
	if (!streq(json_string_value(json_object_get(entry, "reason")),
		   v->reason))
		return "its reason is not the one journalled";
	return NULL;
}

/* Check one stored version against its evidence: NULL if it agrees, else
 * what is wrong. */
static const char *check_one(const struct zw_version_rec *v,
			     const struct evidence *e, char *buf, size_t len)
{
	char digest[65];

	if (zw_state__version_digest(v, digest) < 0)
		return "it cannot be hashed";
	if (!strcmp(v->state, "ok")) {
		if (!e || !e->activated)
			return "it is marked as enforced but the journal never "
			       "activated it";
		if (*e->digest)
			return strcmp(e->digest, digest)
				       ? "it differs from what the journal "
					 "recorded when it was activated (matrix, "
					 "image, author, reason, time or file "
					 "edited)"
				       : NULL;
		return e->legacy ? legacy_check(e->legacy, v) : NULL;
	}
	if (!strcmp(v->state, "refused") || !strcmp(v->state, "abandoned")) {
		if (e && e->activated) {
			snprintf(buf, len,
				 "the journal activated it but it is marked %s",
				 v->state);
			return buf;
		}
		if (!e || !e->refused) {
			snprintf(buf, len,
				 "it is marked %s but the journal has no "
				 "refusal of it",
				 v->state);
			return buf;
		}
		if (*e->ref_digest && strcmp(e->ref_digest, digest))
			return "it differs from what the journal recorded when "
			       "it was refused";
		return NULL;
	}
	if (!strcmp(v->state, "pending"))
		return e && e->activated
			       ? "the journal activated it but it is marked "
				 "pending"
			       : NULL; /* being committed */
	return "its state is unknown";
}

int zw_state__versions_verify(struct zw_journal *j, int64_t only,
			      int64_t *bad, char *why, size_t len)
{
	struct zw_journal_filter f = {.with_archive = true};
	struct walk w = {.only = only};
	sqlite3 *db = zw_journal__sqlite(j);
	sqlite3_stmt *st = NULL;
	int64_t active = 0;
	char buf[160];
	int r;

	*bad = 0;
	if (why && len)
		*why = '\0';
	r = zw_journal__foreach(j, &f, walk_cb, &w);
	if (r < 0 || w.err) {
		r = r < 0 ? r : w.err;
		goto out;
	}
	r = -EIO;
	if (sqlite3_prepare_v2(db,
			       only ? "SELECT n FROM versions WHERE n=?1"
				    : "SELECT n FROM versions ORDER BY n",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (only)
		sqlite3_bind_int64(st, 1, only);
	while (!*bad && sqlite3_step(st) == SQLITE_ROW) {
		struct zw_version_rec v;
		const struct evidence *e = NULL;
		const char *p;
		int64_t n = sqlite3_column_int64(st, 0);

		if (zw_state__version_get(db, n, true, &v) < 0)
			goto out;
		for (size_t i = 0; i < w.n; i++)
			if (w.ev[i].version == n)
				e = &w.ev[i];
		p = check_one(&v, e, buf, sizeof(buf));
		if (p) {
			*bad = n;
			snprintf(why, len, "version %lld was altered in the "
					   "database: %s",
				 (long long)n, p);
		}
		zw_state__version_fini(&v);
	}
	r = 0;
	/* a version the journal activated is gone; the active version is
	 * not the last one activated */
	for (size_t i = 0; !*bad && !only && i < w.n; i++) {
		struct zw_version_rec v;

		if (!w.ev[i].activated)
			continue;
		if (zw_state__version_get(db, w.ev[i].version, false, &v) ==
		    -ENOENT) {
			*bad = w.ev[i].version;
			snprintf(why, len,
				 "version %lld was activated by the journal but "
				 "is gone from the database",
				 (long long)w.ev[i].version);
		} else {
			zw_state__version_fini(&v);
		}
	}
	if (!*bad && !only) {
		zw_state__get_int(db, "active_version", &active);
		if (active != w.last_active) {
			*bad = active ? active : w.last_active;
			snprintf(why, len,
				 "the active version is %lld in the database but "
				 "%lld in the journal",
				 (long long)active, (long long)w.last_active);
		}
	}
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < w.n; i++)
		json_decref(w.ev[i].legacy);
	free(w.ev);
	return r;
}
