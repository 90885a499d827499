/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonewalld's operations: commit, rollback, crisis measures, status, the
 * start-up recovery and reconciliation, the midnight re-apply. Every change
 * follows the same order (pf_commit_rules-like):
 *   validate -> compile -> store as pending (durable) -> program every
 *   backend -> only then, in one transaction: mark active + journal.
 * A backend failure restores the previous image on the backends that took
 * the new one; the version is marked refused and the refusal journalled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#ifdef ZW_HAVE_L7
#include <zonewall/l7.h>
#endif

#include "journal_priv.h"
#include "log.h"
#include "proto.h"
#include "queries.h"
#include "state.h"
#include "zonewalld.h"

/* Today (UTC days since epoch). ZONEWALL_TODAY_FILE, a test hook, names a
 * file holding YYYY-MM-DD, read at each call, so a test can make a running
 * daemon cross midnight; otherwise $ZONEWALL_TODAY (zw_date__today()) or
 * the wall clock as the journal reads it (zw_time__now_us(), so the clock
 * step test hook moves the day too). */
static int32_t today(void)
{
	const char *path = getenv("ZONEWALL_TODAY_FILE");
	char buf[32] = "";
	int32_t d;
	FILE *f;

	if (path && (f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			if (zw_date__parse(buf, &d) == 0) {
				fclose(f);
				return d;
			}
		}
		fclose(f);
	}
	if (getenv("ZONEWALL_TODAY"))
		return zw_date__today();
	{
		int64_t us = zw_time__now_us();

		return (int32_t)((us - (us < 0 ? 86400000000LL - 1 : 0)) /
				 86400000000LL);
	}
}

/* The day to program: today, but never a day earlier than the latest
 * the engines were programmed for (a clock stepped back must not bring
 * back flows that expired). */
static int32_t apply_day(const struct zwd *d)
{
	int32_t t = today();

	return t < d->day ? d->day : t;
}

static sqlite3 *db(struct zwd *d)
{
	return zw_journal__sqlite(d->j);
}

/* ---- images ---- */

static bool touches_internet(const struct zw_matrix *m, const struct zw_flow *f)
{
	return f->from == ZW_ZONE_OUTSIDE || f->to == ZW_ZONE_OUTSIDE ||
	       m->zones[f->from].kind == ZW_KIND_INTERNET_ACCESS ||
	       m->zones[f->to].kind == ZW_KIND_INTERNET_ACCESS;
}

/* Is flow @i left out by crisis @c? */
static bool suspended(const struct zw_matrix *m, const struct zwd_crisis *c,
		      size_t i)
{
	return c->isolate && touches_internet(m, &m->flows[i]);
}

static struct zw_image *build_image(const struct zw_matrix *m,
				    const struct zwd_crisis *c, char *err,
				    size_t len)
{
	struct zw_compile_opts o = {.block = c->block, .n_block = c->n_block};
	struct zw_fileblock fb[64];
	bool *ex = NULL;
	uint8_t *bytes = NULL;
	size_t n = 0;
	struct zw_image *img = NULL;
	int r;

	if (c->isolate) {
		ex = calloc(m->n_flows + 1, sizeof(bool));
		if (!ex) {
			snprintf(err, len, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < m->n_flows; i++)
			ex[i] = suspended(m, c, i);
		o.exclude = ex;
	}
	for (size_t i = 0; i < c->n_fb && i < 64; i++) {
		fb[i].types = c->fb[i].types;
		fb[i].from = c->fb[i].from[0] ? c->fb[i].from : NULL;
		fb[i].to = c->fb[i].to[0] ? c->fb[i].to : NULL;
	}
	o.fileblock = fb;
	o.n_fileblock = c->n_fb < 64 ? c->n_fb : 64;
	r = zw_policy__compile_opts(m, &o, &bytes, &n);
	free(ex);
	if (r < 0) {
		snprintf(err, len, "cannot compile the matrix: %s", strerror(-r));
		return NULL;
	}
	img = zw_image__open(bytes, n, err, len);
	free(bytes);
	return img;
}

static struct zw_matrix *parse_valid(const char *text, size_t len,
				     const char *file, char **diag_text,
				     size_t *n_errors)
{
	struct zw_diags dg;
	struct zw_matrix *m;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	zw_diags__init(&dg, file);
	m = zw_matrix__parse(text, len, file, &dg);
	if (m)
		zw_matrix__validate(m, today(), &dg);
	zw_diags__sort(&dg);
	*n_errors = m ? dg.n_errors : 1;
	f = open_memstream(&buf, &blen);
	if (f) {
		zw_diags__print_text(&dg, f);
		fclose(f);
	}
	*diag_text = buf;
	zw_diags__fini(&dg);
	if (*n_errors) {
		zw_matrix__free(m);
		return NULL;
	}
	return m;
}

/* ---- backends ---- */

static struct zwd_author daemon_author(void)
{
	struct zwd_author a = {.uid = (uint32_t)getuid()};

	snprintf(a.name, sizeof(a.name), "zonewalld");
	return a;
}

/* Program @img on every engine as one transaction (engines.c); on
 * success the daemon's day is today's. */
static int apply_all(struct zwd *d, const struct zw_image *img,
		     const struct zw_image *prev, char *err, size_t len)
{
	int32_t day = apply_day(d);
	int r = zwd_engines__program(d, img, day, prev, err, len);

	if (!r)
		d->day = day;
	return r;
}

/* {"nft": "...", "file": "..."} for flow @idx of @img, as JSON text. */
static char *impl_json(struct zwd *d, const struct zw_image *img, int idx)
{
	if (!img || idx < 0 || (uint32_t)idx >= img->n_flows || !d->n_bes)
		return NULL;
	return zwd_engines__describe(d, img, (uint32_t)idx);
}

/* Image flow index of model flow @i (same order by construction). */
static int img_flow(const struct zw_image *img, const struct zw_matrix *m,
		    int i)
{
	if (!img || i < 0)
		return -1;
	if ((uint32_t)i < img->n_flows &&
	    !strcmp(zw_image__str(img, img->flows[i].id), m->flows[i].id))
		return i;
	for (uint32_t k = 0; k < img->n_flows; k++)
		if (!strcmp(zw_image__str(img, img->flows[k].id), m->flows[i].id))
			return (int)k;
	return -1;
}

/* ---- journal helpers ---- */

static int journal(struct zwd *d, const struct zwd_author *who,
		   enum zw_journal_action a, int64_t version,
		   const char *reason, const char *flow, const char *zone,
		   const char *before, const char *after, const char *impl,
		   const char *detail)
{
	struct zw_journal_entry e = {
		.action = a,
		.uid = who->uid,
		.user = who->name,
		.version = version,
		.reason = reason,
		.flow = flow,
		.zone = zone,
		.before = before,
		.after = after,
		.impl = impl,
		.detail = detail,
	};

	/* dated now, in time order or after a clock-step entry (watch.c) */
	return zwd_journal__append(d, &e);
}

/* Journal each flow of the active version whose expires date passed
 * between day @from and day @to (the caller holds the transaction). */
static int journal_expired(struct zwd *d, int32_t from, int32_t to)
{
	struct zwd_author me = daemon_author();
	int r = 0;

	if (from <= 0 || to <= from)
		return 0;
	for (size_t i = 0; !r && d->active_m && i < d->active_m->n_flows; i++) {
		const struct zw_flow *f = &d->active_m->flows[i];
		char date[11], detail[128];

		if (!zw_flow__live(f, from) || zw_flow__live(f, to))
			continue;
		snprintf(detail, sizeof(detail),
			 "expired on %s: no longer enforced",
			 zw_date__format(f->expires, date));
		r = journal(d, &me, ZW_JA_FLOW_EXPIRED, d->active,
			    "flow expiry date passed", f->id, NULL, NULL, NULL,
			    NULL, detail);
	}
	return r;
}

/* Program again each backend an earlier apply or restore left behind
 * (d->enforced, or nothing when there is no active version), and journal
 * each repair. Called at each tick. */
static void retry_dirty(struct zwd *d)
{
	struct zwd_author me = daemon_author();

	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		char e[512] = "", detail[768], q[800];
		int r;

		if (!b->dirty)
			continue;
		r = zwd_engines__repair(d, b, e, sizeof(e));
		if (r)
			continue;
		if (d->enforced)
			snprintf(detail, sizeof(detail),
				 "backend %s re-programmed with version %lld "
				 "(image %s) after an earlier failure",
				 b->spec, (long long)d->active,
				 d->enforced->sha256_hex);
		else
			snprintf(detail, sizeof(detail),
				 "backend %s cleared (no active version) after "
				 "an earlier failure",
				 b->spec);
		journal(d, &me, ZW_JA_RECONCILE, d->active,
			"retry after a backend failure", NULL, NULL, NULL, NULL,
			NULL, detail);
		zw_fwd__notify(d->fwd);
		zw_log(ZW_LOG_WARN, "reconcile", "backend=%s detail=%s", b->spec,
		       zw_log__q(detail, q, sizeof(q)));
	}
}

/* Journal a refusal in its own transaction and build the response. */
static json_t *refuse(struct zwd *d, const struct zwd_author *who,
		      int status, int64_t version, const char *reason,
		      const char *what, const char *detail)
{
	/* the detail may quote the matrix: no secret in our log either (L4;
	 * the journal scrubs on its own) */
	char q[600], *clean = zw_secret__scrub(detail), *safe = NULL;
	int r;

	/* a reason refused at the door is journalled as a bounded, escaped
	 * summary, never as it came (megabytes, control characters) */
	if (zw_text__check(reason, ZW_REASON_MAX, "reason", q, sizeof(q)))
		safe = zw_text__escape(reason, 64);
	r = journal(d, who, ZW_JA_COMMIT_REFUSED, version,
		    safe ? safe : reason ? reason : "", NULL, NULL, NULL, NULL,
		    NULL, detail);
	if (r < 0)
		zwd__defer_refusal(d, who, version, reason, detail, r);
	free(safe);
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_WARN, "refused", "what=%s uid=%u detail=%s", what,
	       who->uid, zw_log__q(clean ? clean : "[redacted]", q, sizeof(q)));
	free(clean);
	return zw_proto__error(status, "%s refused: %s", what, detail);
}

/* File type lists (l7.h) when the build has libzwl7; without it no
 * block-file measure can be taken. */
static int ftypes_parse(const char *s, uint32_t *mask, char *err, size_t len)
{
#ifdef ZW_HAVE_L7
	return zw_l7_ftypes__parse(s, mask, err, len);
#else
	(void)s, (void)mask;
	snprintf(err, len, "this build has no L7 inspection (Hyperscan): "
			   "block-file is not available");
	return -ENOTSUP;
#endif
}

static const char *ftypes_format(uint32_t mask, char *buf, size_t len)
{
#ifdef ZW_HAVE_L7
	return zw_l7_ftypes__format(mask, buf, len);
#else
	snprintf(buf, len, "0x%x", mask);
	return buf;
#endif
}

static char *crisis_json(const struct zwd_crisis *c)
{
	json_t *blocks = json_array(), *o;
	char buf[64], *s;

	for (size_t i = 0; i < c->n_block; i++)
		json_array_append_new(blocks,
				      json_string(zw_prefix__format(&c->block[i], buf)));
	o = json_pack("{s:b, s:o}", "isolate_internet", c->isolate, "block",
		      blocks);
	if (o && c->n_fb) { /* absent when none: older entries unchanged */
		json_t *fbs = json_array();

		for (size_t i = 0; i < c->n_fb; i++) {
			char t[160];

			json_array_append_new(
				fbs, json_pack("{s:s, s:s?, s:s?}", "types",
					       ftypes_format(c->fb[i].types, t, sizeof(t)),
					       "from", c->fb[i].from[0] ? c->fb[i].from : NULL,
					       "to", c->fb[i].to[0] ? c->fb[i].to : NULL));
		}
		json_object_set_new(o, "block_file", fbs);
	}
	s = o ? zw_json__canonical(o) : NULL;
	json_decref(o);
	return s;
}

static int crisis_parse(const char *text, struct zwd_crisis *c)
{
	json_t *o = json_loads(text, 0, NULL), *b;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (!o)
		return -EINVAL;
	c->isolate = json_is_true(json_object_get(o, "isolate_internet"));
	json_array_foreach(json_object_get(o, "block"), i, b) {
		struct zw_prefix p;
		struct zw_prefix *x;

		if (zw_prefix__parse(json_string_value(b), &p))
			continue;
		x = realloc(c->block, (c->n_block + 1) * sizeof(p));
		if (!x)
			break;
		c->block = x;
		c->block[c->n_block++] = p;
	}
	json_array_foreach(json_object_get(o, "block_file"), i, b) {
		struct zwd_fileblock f = {0}, *x;
		const char *from = json_string_value(json_object_get(b, "from"));
		const char *to = json_string_value(json_object_get(b, "to"));
		char e[200];

		if (ftypes_parse(json_string_value(json_object_get(b, "types")),
				 &f.types, e, sizeof(e)))
			continue;
		snprintf(f.from, sizeof(f.from), "%s", from ? from : "");
		snprintf(f.to, sizeof(f.to), "%s", to ? to : "");
		x = realloc(c->fb, (c->n_fb + 1) * sizeof(f));
		if (!x)
			break;
		c->fb = x;
		c->fb[c->n_fb++] = f;
	}
	json_decref(o);
	return 0;
}

static void crisis_fini(struct zwd_crisis *c)
{
	free(c->block);
	free(c->fb);
	memset(c, 0, sizeof(*c));
}

static bool crisis_active(const struct zwd_crisis *c)
{
	return c->isolate || c->n_block || c->n_fb;
}

/* ---- commit and rollback ---- */

/* A commit or rollback. Its pure phase (commit_compile: parse, validate,
 * secret scan, compile, difference) may run on a worker thread
 * (compile_worker.c) while the loop serves other requests; that phase
 * reads only this struct and the active model, which nothing replaces
 * meanwhile (a second commit or rollback is refused until this one is
 * done; crisis measures only read the model). The rest (commit_finish:
 * store, program the engines, journal) runs on the loop thread. */
struct zwd_commit {
	/* the request, copied */
	struct zwd_author who;
	char *text;
	size_t len;
	char *file;
	char *reason;
	int64_t rollback_of;
	const struct zw_matrix *active_m; /* read-only while compiling */
	struct zwd_crisis crisis; /* the measures in force at the start */
	int64_t t0;
	struct zwd_compile_worker *w; /* NULL: compiled on the loop */

	/* what the pure phase found */
	struct zw_matrix *m; /* NULL: invalid (diags) */
	char *diags;
	size_t n_errors;
	bool secret; /* why says where */
	char why[512];
	uint8_t *pbytes; /* the version's own image */
	size_t plen;
	struct zw_image *plain, *img; /* img: with c->crisis applied */
	char err[1024];
	struct zw_change *ch;
	size_t n_changes;
	int changes_r;
};

static int crisis_copy(struct zwd_crisis *dst, const struct zwd_crisis *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->isolate = src->isolate;
	if (src->n_block) {
		dst->block = malloc(src->n_block * sizeof(*dst->block));
		if (!dst->block)
			return -ENOMEM;
		memcpy(dst->block, src->block, src->n_block * sizeof(*dst->block));
		dst->n_block = src->n_block;
	}
	if (src->n_fb) {
		dst->fb = malloc(src->n_fb * sizeof(*dst->fb));
		if (!dst->fb)
			return -ENOMEM;
		memcpy(dst->fb, src->fb, src->n_fb * sizeof(*dst->fb));
		dst->n_fb = src->n_fb;
	}
	return 0;
}

static void commit_free(struct zwd_commit *c)
{
	if (!c)
		return;
	zwd_compile_worker__join(c->w);
	free(c->text);
	free(c->file);
	free(c->reason);
	crisis_fini(&c->crisis);
	zw_matrix__free(c->m);
	free(c->diags);
	free(c->pbytes);
	zw_image__free(c->plain);
	zw_image__free(c->img);
	zw_changes__free(c->ch, c->n_changes);
	free(c);
}

static struct zwd_commit *commit_new(struct zwd *d,
				     const struct zwd_author *who,
				     const char *text, size_t len,
				     const char *file, const char *reason,
				     int64_t rollback_of)
{
	struct zwd_commit *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->who = *who;
	c->text = malloc(len + 1);
	c->file = strdup(file);
	c->reason = reason ? strdup(reason) : NULL;
	if (!c->text || !c->file || (reason && !c->reason) ||
	    crisis_copy(&c->crisis, &d->crisis) < 0) {
		commit_free(c);
		return NULL;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->len = len;
	c->rollback_of = rollback_of;
	c->active_m = d->active_m;
	c->t0 = zw_time__now_us();
	return c;
}

/* The pure phase: touches nothing but @arg (and reads c->active_m). */
static void commit_compile(void *arg)
{
	struct zwd_commit *c = arg;
	int r;

	c->m = parse_valid(c->text, c->len, c->file, &c->diags, &c->n_errors);
	if (!c->m)
		return;
	/* L4: the file name and the whole text (comments too), then the
	 * model's free text (where YAML escapes are decoded) */
	c->secret = zw_matrix__source_has_secret(c->text, c->len, c->file,
						 c->why, sizeof(c->why)) ||
		    zw_matrix__has_secret(c->m, c->why, sizeof(c->why));
	if (c->secret)
		return;
	/* The version's own image, and the one to enforce (crisis measures in
	 * force stay in force across commits). */
	r = zw_policy__compile(c->m, &c->pbytes, &c->plen);
	if (r == 0)
		c->plain = zw_image__open(c->pbytes, c->plen, c->err,
					  sizeof(c->err));
	else
		snprintf(c->err, sizeof(c->err), "%s", strerror(-r));
	if (!c->plain)
		return;
	c->img = crisis_active(&c->crisis)
			 ? build_image(c->m, &c->crisis, c->err, sizeof(c->err))
			 : zw_image__open(c->pbytes, c->plen, c->err,
					  sizeof(c->err));
	if (!c->img)
		return;
	c->changes_r = zw_matrix__changes(c->active_m, c->m, &c->ch,
					  &c->n_changes);
}

/* Are @a and @b the same measures? */
static bool crisis_same(const struct zwd_crisis *a, const struct zwd_crisis *b)
{
	char *x = crisis_json(a), *y = crisis_json(b);
	bool same = x && y && !strcmp(x, y);

	free(x);
	free(y);
	return same;
}

/* The rest of commit @job, on the loop thread, after commit_compile. */
static json_t *commit_finish(struct zwd *d, struct zwd_commit *job)
{
	const struct zwd_author *who = &job->who;
	const char *text = job->text, *file = job->file, *reason = job->reason;
	size_t len = job->len;
	int64_t rollback_of = job->rollback_of;
	const char *what = rollback_of ? "rollback" : "commit";
	char err[1024], detail[2048], vdigest[65], vafter[160];
	char *diags = job->diags;
	size_t n_errors = job->n_errors, n_changes = 0;
	struct zw_matrix *m = NULL;
	struct zw_image *img = NULL, *plain = NULL;
	struct zw_change *ch = NULL;
	struct zw_version_rec v = {0};
	json_t *resp = NULL;
	uint8_t *pbytes = NULL;
	size_t plen = 0;
	int64_t t0 = job->t0;
	int32_t prev_day = d->day;
	int r, added = 0, changed = 0, removed = 0;

	m = job->m;
	if (!m) {
		char first[600] = "";
		/* the first error (diagnostics are sorted by position, so a
		 * warning may come before it) */
		const char *e = diags ? strstr(diags, ": error[") : NULL;

		while (e && e > diags && e[-1] != '\n')
			e--;
		if (!e)
			e = diags;
		if (e)
			snprintf(first, sizeof(first), "%.*s",
				 (int)strcspn(e, "\n"), e);
		snprintf(detail, sizeof(detail),
			 "%s does not validate: %zu error(s); first: %s", file,
			 n_errors, first);
		resp = refuse(d, who, 1, 0, reason, what, detail);
		json_object_set_new(resp, "diagnostics",
				    json_string(diags ? diags : ""));
		goto out;
	}
	if (job->secret) {
		resp = refuse(d, who, 1, 0, reason, what, job->why);
		goto out;
	}
	plain = job->plain;
	if (!plain) {
		snprintf(detail, sizeof(detail), "cannot compile %s: %s", file,
			 job->err);
		resp = refuse(d, who, 1, 0, reason, what, detail);
		goto out;
	}
	pbytes = job->pbytes;
	plen = job->plen;
	img = job->img;
	snprintf(err, sizeof(err), "%s", job->err);
	/* Crisis measures taken while it compiled are in force now: the
	 * enforced image is built again with them. */
	if (img && !crisis_same(&job->crisis, &d->crisis)) {
		zw_image__free(img);
		img = job->img = crisis_active(&d->crisis)
				       ? build_image(m, &d->crisis, err,
						     sizeof(err))
				       : zw_image__open(pbytes, plen, err,
							sizeof(err));
	}
	if (!img) {
		snprintf(detail, sizeof(detail), "cannot compile %s: %s", file,
			 err);
		resp = refuse(d, who, 1, 0, reason, what, detail);
		goto out;
	}
	ch = job->ch;
	n_changes = job->n_changes;
	if (job->changes_r < 0) {
		resp = zw_proto__error(3, "out of memory");
		goto out;
	}

	/* Store as pending: durable before any backend is touched. */
	v.time_us = zw_time__now_us();
	v.uid = who->uid;
	v.user = (char *)who->name;
	v.reason = (char *)reason;
	v.kind = rollback_of ? "rollback" : "commit";
	v.rollback_of = rollback_of;
	v.file = (char *)file;
	zw_hex(m->source_sha256, 32, v.matrix_sha256);
	memcpy(v.image_sha256, plain->sha256_hex, 65);
	v.matrix = (char *)text;
	v.matrix_len = len;
	v.image = pbytes;
	v.image_len = plen;
	v.state = "pending";
	r = zw_state__version_add(db(d), &v);
	if (r < 0) {
		/* (a full disk cannot take the refusal either: deferred) */
		snprintf(detail, sizeof(detail),
			 "cannot store the version: %s; version %lld stays "
			 "active",
			 strerror(-r), (long long)d->active);
		resp = refuse(d, who, 3, 0, reason, what, detail);
		goto out;
	}
	/* what the journal will record of the row, as it was stored */
	if (zw_state__version_digest_n(db(d), v.n, vdigest) < 0)
		snprintf(vdigest, sizeof(vdigest), "unreadable");
	snprintf(vafter, sizeof(vafter),
		 "{\"version\":%lld,\"version_sha256\":\"%s\"}",
		 (long long)v.n, vdigest);

	r = apply_all(d, img, d->enforced, err, sizeof(err));
	if (r < 0) {
		snprintf(detail, sizeof(detail),
			 "version %lld not applied, version %lld stays active: "
			 "%s",
			 (long long)v.n, (long long)d->active, err);
		zw_journal__begin(d->j);
		zw_state__version_set_state(db(d), v.n, "refused", err);
		r = journal(d, who, ZW_JA_COMMIT_REFUSED, v.n, reason, NULL,
			    NULL, NULL, vafter, NULL, detail);
		if (!r)
			r = zw_journal__commit(d->j);
		else
			zw_journal__abort(d->j);
		if (r < 0)
			zwd__defer_refusal(d, who, v.n, reason, detail, r);
		zw_fwd__notify(d->fwd);
		zw_log(ZW_LOG_WARN, "refused", "what=%s version=%lld", what,
		       (long long)v.n);
		resp = zw_proto__error(3, "%s refused: %s", what, detail);
		json_object_set_new(resp, "version", json_integer(v.n));
		goto out;
	}

	/* Every backend enforces v.n: make it so on disk, with the evidence. */
	for (size_t i = 0; i < n_changes; i++) {
		enum zw_journal_action a = ch[i].action;

		added += a == ZW_JA_FLOW_ADDED;
		changed += a == ZW_JA_FLOW_CHANGED;
		removed += a == ZW_JA_FLOW_REMOVED;
	}
	r = zw_journal__begin(d->j);
	/* A new day may have started since the last tick: the previous
	 * version's flows that expired meanwhile come first. */
	if (!r)
		r = journal_expired(d, prev_day, d->day);
	if (!r)
		r = zw_state__version_set_state(db(d), v.n, "ok", NULL);
	if (!r)
		r = zw_state__set_int(db(d), "active_version", v.n);
	if (!r)
		r = zw_state__set_int(db(d), "applied_day", d->day);
	if (!r) {
		char after[600];

		snprintf(detail, sizeof(detail),
			 "version %lld active: %d flow(s) added, %d "
			 "changed, %d removed; image %s%s",
			 (long long)v.n, added, changed, removed,
			 plain->sha256_hex,
			 crisis_active(&d->crisis)
				 ? " (crisis measures still in force)"
				 : "");
		if (rollback_of)
			snprintf(detail, sizeof(detail),
				 "version %lld (rollback to version %lld) "
				 "active: %d flow(s) added, %d changed, %d "
				 "removed; image %s",
				 (long long)v.n, (long long)rollback_of, added,
				 changed, removed, plain->sha256_hex);
		snprintf(after, sizeof(after),
			 "{\"version\":%lld,\"matrix_sha256\":\"%s\","
			 "\"image_sha256\":\"%s\",\"enforced_sha256\":\"%s\","
			 "\"rollback_of\":%lld,\"previous\":%lld,"
			 "\"version_sha256\":\"%s\"}",
			 (long long)v.n, v.matrix_sha256, plain->sha256_hex,
			 img->sha256_hex, (long long)rollback_of,
			 (long long)d->active, vdigest);
		r = journal(d, who, rollback_of ? ZW_JA_ROLLBACK : ZW_JA_COMMIT,
			    v.n, reason, NULL, NULL, NULL, after, NULL, detail);
	}
	for (size_t i = 0; !r && i < n_changes; i++) {
		struct zw_change *c = &ch[i];
		bool is_zone = c->action >= ZW_JA_ZONE_ADDED &&
			       c->action <= ZW_JA_ZONE_REMOVED;
		bool is_probe = c->action >= ZW_JA_PROBE_ADDED &&
				c->action <= ZW_JA_PROBE_REMOVED;
		char *impl = NULL, pdetail[96];

		if (is_probe) {
			/* a probe is neither a flow nor a zone: named in
			 * the detail, described by before/after */
			snprintf(pdetail, sizeof(pdetail), "probe %s", c->name);
			r = journal(d, who, c->action, v.n, reason, NULL, NULL,
				    c->before, c->after, NULL, pdetail);
			continue;
		}
		if (!is_zone)
			impl = c->new_idx >= 0
				       ? impl_json(d, img,
						   img_flow(img, m, c->new_idx))
				       : impl_json(d, d->enforced,
						   img_flow(d->enforced,
							    d->active_m,
							    c->old_idx));
		r = journal(d, who, c->action, v.n, reason,
			    is_zone ? NULL : c->name, is_zone ? c->name : NULL,
			    c->before, c->after, impl, NULL);
		free(impl);
		/* Crisis measures stay in force across commits: a flow this
		 * version brings into their scope is suspended at once, one it
		 * takes out of their scope is back in force. */
		if (!r && !is_zone && c->new_idx >= 0) {
			bool was = c->old_idx >= 0 &&
				   suspended(d->active_m, &d->crisis,
					     (size_t)c->old_idx);
			bool now = suspended(m, &d->crisis, (size_t)c->new_idx);

			if (was != now) {
				impl = impl_json(d, img,
						 img_flow(img, m, c->new_idx));
				r = journal(d, who,
					    now ? ZW_JA_FLOW_SUSPENDED
						: ZW_JA_FLOW_RESUMED,
					    v.n, reason, c->name, NULL,
					    now ? c->after : NULL,
					    now ? NULL : c->after, impl,
					    now ? "left out by the crisis "
						  "measures in force"
						: "no longer concerned by the "
						  "crisis measures in force");
				free(impl);
			}
		}
	}
	if (!r)
		r = zw_journal__commit(d->j);
	if (r < 0) {
		/* Not recorded: the change must not stay in force. */
		zw_journal__abort(d->j);
		zwd_engines__restore(d, apply_day(d));
		d->day = prev_day;
		zw_state__version_set_state(db(d), v.n, "refused",
					    "journal write failed");
		snprintf(detail, sizeof(detail),
			 "version %lld not activated: the journal could not be "
			 "written (%s); version %lld stays active",
			 (long long)v.n, strerror(-r), (long long)d->active);
		zwd__defer_refusal(d, who, v.n, reason, detail, r);
		resp = zw_proto__error(3, "%s refused: %s", what, detail);
		goto out;
	}
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_INFO, what,
	       "version=%lld uid=%u user=%s added=%d changed=%d removed=%d "
	       "image=%s ms=%lld",
	       (long long)v.n, who->uid, who->name, added, changed, removed,
	       plain->sha256_hex, (long long)(zw_time__now_us() - t0) / 1000);
	resp = json_pack("{s:b, s:I, s:s, s:s, s:i, s:i, s:i, s:I}", "ok", 1,
			 "version", (json_int_t)v.n, "image_sha256",
			 plain->sha256_hex, "enforced_sha256", img->sha256_hex,
			 "added", added, "changed", changed, "removed", removed,
			 "previous", (json_int_t)d->active);
	if (diags && *diags)
		json_object_set_new(resp, "diagnostics", json_string(diags));
	d->active = v.n;
	zw_matrix__free(d->active_m);
	d->active_m = m;
	job->m = NULL;
	zw_image__free(d->enforced);
	d->enforced = img;
	job->img = NULL;
out:
	/* what is left is freed with @job */
	zwd_engines__forget_describers(d);
	return resp;
}

/* Run commit @c: at once when @pending is NULL or no worker can start,
 * otherwise on a worker (then NULL, *pending set, d->commit is @c).
 * Takes @c. */
static json_t *commit_run(struct zwd *d, struct zwd_commit *c, bool *pending)
{
	json_t *resp;

	if (pending) {
		c->w = zwd_compile_worker__start(commit_compile, c);
		if (c->w) {
			d->commit = c;
			*pending = true;
			return NULL;
		}
		zw_log(ZW_LOG_WARN, "compile-worker",
		       "error=\"%s\" msg=\"compiled on the loop\"",
		       strerror(errno));
	}
	commit_compile(c);
	resp = commit_finish(d, c);
	commit_free(c);
	return resp;
}

static json_t *commit_core(struct zwd *d, const struct zwd_author *who,
			   const char *text, size_t len, const char *file,
			   const char *reason, int64_t rollback_of,
			   bool *pending)
{
	struct zwd_commit *c = commit_new(d, who, text, len, file, reason,
					  rollback_of);

	if (!c)
		return zw_proto__error(3, "out of memory");
	return commit_run(d, c, pending);
}

int zwd__commit_fd(const struct zwd *d)
{
	return d->commit ? zwd_compile_worker__fd(d->commit->w) : -1;
}

json_t *zwd__commit_done(struct zwd *d)
{
	struct zwd_commit *c = d->commit;
	json_t *resp;

	if (!c)
		return zw_proto__error(3, "no commit in progress");
	d->commit = NULL;
	zwd_compile_worker__join(c->w);
	c->w = NULL;
	/* a clock step is recorded before anything this commit journals */
	zwd_watch__clock(d);
	resp = commit_finish(d, c);
	commit_free(c);
	return resp;
}

static json_t *op_commit(struct zwd *d, const json_t *req,
			 const struct zwd_author *who, bool *pending)
{
	const char *text = json_string_value(json_object_get(req, "matrix"));
	const char *file = json_string_value(json_object_get(req, "file"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	char err[256];

	if (!text)
		return zw_proto__error(1, "commit needs the matrix text");
	if (zw_reason__check(reason, err, sizeof(err)) ||
	    zw_text__check(file, ZW_FILE_NAME_MAX, "the matrix file name", err,
			   sizeof(err)))
		return refuse(d, who, 1, 0, reason ? reason : "", "commit",
			      err);
	return commit_core(d, who, text, json_string_length(json_object_get(req, "matrix")),
			   file && *file ? file : "matrix.yaml", reason, 0,
			   pending);
}

static json_t *op_rollback(struct zwd *d, const json_t *req,
			   const struct zwd_author *who, bool *pending)
{
	json_int_t n = json_integer_value(json_object_get(req, "version"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	struct zw_version_rec v;
	char err[256];
	json_t *resp;
	int r;

	if (zw_reason__check(reason, err, sizeof(err)))
		return refuse(d, who, 1, 0, reason ? reason : "", "rollback",
			      err);
	r = zw_state__version_get(db(d), n, true, &v);
	if (r == -ENOENT)
		return zw_proto__error(1, "no version %lld (see zonectl versions)",
				       (long long)n);
	if (r < 0)
		return zw_proto__error(3, "cannot read version %lld",
				       (long long)n);
	if (n == d->active) {
		zw_state__version_fini(&v);
		return zw_proto__error(1, "version %lld is already active",
				       (long long)n);
	}
	if (strcmp(v.state, "ok")) {
		snprintf(err, sizeof(err),
			 "version %lld was never active (%s): roll back only "
			 "to a version that was enforced",
			 (long long)n, v.state);
		zw_state__version_fini(&v);
		return zw_proto__error(1, "%s", err);
	}
	/* never enforce what the journal did not record */
	{
		int64_t bad = 0;
		char why[256];

		r = zw_state__versions_verify(d->j, n, &bad, why, sizeof(why));
		if (r < 0 || bad) {
			zw_state__version_fini(&v);
			zw_log(ZW_LOG_ERR, "version-altered", "version=%lld",
			       (long long)n);
			return zw_proto__error(r < 0 ? 3 : 1,
					       "rollback refused: %s",
					       r < 0 ? "cannot check the version "
						       "against the journal"
						     : why);
		}
	}
	resp = commit_core(d, who, v.matrix, v.matrix_len,
			   v.file && *v.file ? v.file : "matrix.yaml", reason,
			   n, pending);
	zw_state__version_fini(&v);
	return resp;
}

/* ---- crisis measures ---- */

static json_t *op_crisis(struct zwd *d, const json_t *req,
			 const struct zwd_author *who)
{
	const char *measure = json_string_value(json_object_get(req, "measure"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	const char *prefix = json_string_value(json_object_get(req, "prefix"));
	const char *types = json_string_value(json_object_get(req, "types"));
	const char *fb_from = json_string_value(json_object_get(req, "from"));
	const char *fb_to = json_string_value(json_object_get(req, "to"));
	struct zwd_crisis nc = {0};
	struct zw_image *img = NULL;
	enum zw_journal_action a;
	char err[1024], detail[1536], pbuf[64];
	char *before = NULL, *after = NULL;
	json_t *resp = NULL;
	int32_t prev_day = d->day;
	int r, n_flows = 0;

	if (!measure)
		return zw_proto__error(1, "crisis needs a measure");
	if (zw_reason__check(reason, err, sizeof(err)))
		return refuse(d, who, 1, 0, reason ? reason : "",
			      "crisis measure", err);
	if (!d->active_m)
		return zw_proto__error(1, "no active version: commit a matrix "
					  "before taking crisis measures");
	nc.isolate = d->crisis.isolate;
	if (d->crisis.n_block) {
		nc.block = malloc(d->crisis.n_block * sizeof(*nc.block));
		if (!nc.block)
			return zw_proto__error(3, "out of memory");
		memcpy(nc.block, d->crisis.block,
		       d->crisis.n_block * sizeof(*nc.block));
		nc.n_block = d->crisis.n_block;
	}
	if (d->crisis.n_fb) {
		nc.fb = malloc(d->crisis.n_fb * sizeof(*nc.fb));
		if (!nc.fb) {
			crisis_fini(&nc);
			return zw_proto__error(3, "out of memory");
		}
		memcpy(nc.fb, d->crisis.fb, d->crisis.n_fb * sizeof(*nc.fb));
		nc.n_fb = d->crisis.n_fb;
	}
	if (!strcmp(measure, "block-file")) {
		struct zwd_fileblock f = {0}, *x;

		a = ZW_JA_CRISIS_BLOCK_FILE;
		if (ftypes_parse(types, &f.types, err, sizeof(err))) {
			resp = zw_proto__error(1, "%s", err);
			goto out;
		}
		for (int k = 0; k < 2; k++) {
			const char *z = k ? fb_to : fb_from;
			size_t i;

			if (!z)
				continue;
			for (i = 0; i < d->active_m->n_zones; i++)
				if (!strcmp(d->active_m->zones[i].name, z))
					break;
			if (i == d->active_m->n_zones ||
			    strlen(z) >= sizeof(f.from)) {
				resp = zw_proto__error(1, "no zone '%s' in the "
							  "active version",
						       z);
				goto out;
			}
			snprintf(k ? f.to : f.from, sizeof(f.from), "%s", z);
		}
		if (nc.n_fb >= 64) {
			resp = zw_proto__error(1, "too many block-file measures "
						  "(64)");
			goto out;
		}
		x = realloc(nc.fb, (nc.n_fb + 1) * sizeof(f));
		if (!x) {
			resp = zw_proto__error(3, "out of memory");
			goto out;
		}
		nc.fb = x;
		nc.fb[nc.n_fb++] = f;
	} else if (!strcmp(measure, "isolate-internet")) {
		a = ZW_JA_CRISIS_ISOLATE;
		if (nc.isolate) {
			resp = zw_proto__error(1, "isolate-internet is already "
						  "in force");
			goto out;
		}
		nc.isolate = true;
	} else if (!strcmp(measure, "block")) {
		struct zw_prefix p, *x;

		a = ZW_JA_CRISIS_BLOCK;
		r = prefix ? zw_prefix__parse(prefix, &p) : -EINVAL;
		if (r) {
			resp = zw_proto__error(1, "'%s' is not a prefix%s",
					       prefix ? prefix : "",
					       r == -EDOM ? " (host bits set)"
							  : "");
			goto out;
		}
		for (size_t i = 0; i < nc.n_block; i++)
			if (nc.block[i].family == p.family &&
			    nc.block[i].len == p.len &&
			    !memcmp(nc.block[i].addr, p.addr, 16)) {
				resp = zw_proto__error(1, "%s is already "
							  "blocked",
						       prefix);
				goto out;
			}
		x = realloc(nc.block, (nc.n_block + 1) * sizeof(p));
		if (!x) {
			resp = zw_proto__error(3, "out of memory");
			goto out;
		}
		nc.block = x;
		nc.block[nc.n_block++] = p;
	} else if (!strcmp(measure, "end")) {
		a = ZW_JA_CRISIS_END;
		if (!crisis_active(&d->crisis)) {
			resp = zw_proto__error(1, "no crisis measure is in "
						  "force");
			goto out;
		}
		crisis_fini(&nc);
	} else {
		resp = zw_proto__error(1, "unknown crisis measure '%s'", measure);
		goto out;
	}
	img = build_image(d->active_m, &nc, err, sizeof(err));
	if (!img) {
		resp = refuse(d, who, 3, d->active, reason, "crisis measure",
			      err);
		goto out;
	}
	r = apply_all(d, img, d->enforced, err, sizeof(err));
	if (r < 0) {
		snprintf(detail, sizeof(detail),
			 "crisis measure %s not applied: %s", measure, err);
		resp = refuse(d, who, 3, d->active, reason, "crisis measure",
			      detail);
		goto out;
	}
	before = crisis_json(&d->crisis);
	after = crisis_json(&nc);
	r = zw_journal__begin(d->j);
	if (!r)
		r = journal_expired(d, prev_day, d->day);
	if (!r)
		r = crisis_active(&nc)
			    ? zw_state__set_text(db(d), "crisis", after)
			    : zw_state__set_text(db(d), "crisis", NULL);
	if (!r)
		r = zw_state__set_int(db(d), "applied_day", d->day);
	/* Each flow the measure takes out of (or puts back into) force. */
	for (size_t i = 0; !r && i < d->active_m->n_flows; i++) {
		bool was = suspended(d->active_m, &d->crisis, i),
		     now = suspended(d->active_m, &nc, i);
		json_t *fj;
		char *fs, *impl;

		if (was == now)
			continue;
		n_flows++;
		fj = zw_flow__json(d->active_m, &d->active_m->flows[i]);
		fs = fj ? zw_json__canonical(fj) : NULL;
		json_decref(fj);
		impl = impl_json(d, now ? d->enforced : img,
				 img_flow(now ? d->enforced : img, d->active_m,
					  (int)i));
		r = journal(d, who, now ? ZW_JA_FLOW_SUSPENDED
					: ZW_JA_FLOW_RESUMED,
			    d->active, reason, d->active_m->flows[i].id, NULL,
			    now ? fs : NULL, now ? NULL : fs, impl, NULL);
		free(fs);
		free(impl);
	}
	if (!r) {
		if (a == ZW_JA_CRISIS_BLOCK)
			snprintf(detail, sizeof(detail),
				 "every packet from or to %s is denied by every "
				 "engine; image %s",
				 zw_prefix__format(&nc.block[nc.n_block - 1],
						   pbuf),
				 img->sha256_hex);
		else if (a == ZW_JA_CRISIS_BLOCK_FILE) {
			const struct zwd_fileblock *f = &nc.fb[nc.n_fb - 1];
			char t[160];

			snprintf(detail, sizeof(detail),
				 "file types %s denied on TCP connections from "
				 "%s to %s by every engine that inspects "
				 "(docs/l7.md); image %s",
				 ftypes_format(f->types, t, sizeof(t)),
				 f->from[0] ? f->from : "any zone",
				 f->to[0] ? f->to : "any zone", img->sha256_hex);
		} else if (a == ZW_JA_CRISIS_ISOLATE)
			snprintf(detail, sizeof(detail),
				 "%d flow(s) to or from internet-access and "
				 "outside zones suspended; image %s",
				 n_flows, img->sha256_hex);
		else
			snprintf(detail, sizeof(detail),
				 "crisis measures ended: version %lld enforced "
				 "as committed, %d flow(s) resumed; image %s",
				 (long long)d->active, n_flows, img->sha256_hex);
		r = journal(d, who, a, d->active, reason, NULL, NULL, before,
			    after, NULL, detail);
	}
	if (!r)
		r = zw_journal__commit(d->j);
	if (r < 0) {
		zw_journal__abort(d->j);
		zwd_engines__restore(d, apply_day(d));
		d->day = prev_day;
		resp = zw_proto__error(3, "crisis measure refused: the journal "
					  "could not be written");
		goto out;
	}
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_WARN, "crisis", "measure=%s uid=%u image=%s", measure,
	       who->uid, img->sha256_hex);
	resp = json_pack("{s:b, s:s, s:s, s:i, s:o}", "ok", 1, "measure",
			 measure, "enforced_sha256", img->sha256_hex,
			 "flows", n_flows, "crisis",
			 json_loads(after, 0, NULL));
	crisis_fini(&d->crisis);
	d->crisis = nc;
	memset(&nc, 0, sizeof(nc));
	zw_image__free(d->enforced);
	d->enforced = img;
	img = NULL;
out:
	zwd_engines__forget_describers(d);
	crisis_fini(&nc);
	zw_image__free(img);
	free(before);
	free(after);
	return resp;
}

/* ---- status ---- */

static json_t *watch_json(const struct zwd *d)
{
	return json_pack("{s:s, s:i, s:I}", "on_drift",
			 zwd_on_drift__name(d->on_drift), "period_ms",
			 d->watch_ms, "drifts", (json_int_t)d->n_drifts);
}

static json_t *clock_json(const struct zwd *d)
{
	char now[32], at[32], dy[11], ty[11];
	int32_t t = today();
	json_t *step = json_null();

	if (d->clock.n_steps)
		step = json_pack("{s:I, s:s}", "step_us",
				 (json_int_t)d->clock.last_step_us, "at",
				 zw_time__format(d->clock.last_step_at_us, at));
	return json_pack("{s:s, s:s, s:s?, s:b, s:I, s:o}", "wall",
			 zw_time__format(zw_time__now_us(), now), "today",
			 zw_date__format(t, ty), "applied_day",
			 d->day > 0 ? zw_date__format(d->day, dy) : NULL,
			 "behind_applied_day", d->day > 0 && t < d->day,
			 "steps", (json_int_t)d->clock.n_steps, "last_step",
			 step);
}

static json_t *op_status(struct zwd *d)
{
	json_t *bes = json_array(), *active = json_null(), *sys = json_null();
	char tbuf[32], hex[65];
	struct zw_version_rec v;

	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		struct zw_backend_state st;
		struct zw_flow_counters tot = {0};
		int r = b->be->ops->read_back(b->be, d->enforced, &st);
		json_t *o;

		if (r < 0)
			memset(&st, 0, sizeof(st));
		zw_hex(st.sha256, 32, hex);
		if (d->enforced) {
			uint32_t n = d->enforced->n_flows;
			struct zw_flow_counters *c = calloc(n + 1, sizeof(*c));

			if (c && b->be->ops->counters(b->be, c, n) == 0)
				for (uint32_t k = 0; k < n; k++) {
					tot.packets += c[k].packets;
					tot.bytes += c[k].bytes;
					tot.new_conns += c[k].new_conns;
					tot.drops += c[k].drops;
				}
			free(c);
		}
		o = json_pack("{s:s, s:s, s:b, s:s?, s:b, s:s, s:s?, s:s?,"
			      " s:{s:I, s:I, s:I, s:I}}",
			      "spec", b->spec, "engine", b->be->ops->name,
			      "enforcing", st.enforcing != 0, "sha256",
			      st.enforcing ? hex : NULL, "in_sync",
			      r == 0 && st.enforcing && d->enforced &&
				      !memcmp(st.sha256, d->enforced->sha256, 32) &&
				      !st.drift,
			      "detail", st.detail, "drift", st.drift,
			      "last_error", *b->last_error ? b->last_error : NULL,
			      "counters", "packets", (json_int_t)tot.packets,
			      "bytes", (json_int_t)tot.bytes, "new_conns",
			      (json_int_t)tot.new_conns, "drops",
			      (json_int_t)tot.drops);
		zw_backend_state__fini(&st);
		json_array_append_new(bes, o);
	}
	if (d->active && zw_state__version_get(db(d), d->active, false, &v) == 0) {
		char *cj = crisis_json(&d->crisis);

		active = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:o}",
				   "version", (json_int_t)d->active,
				   "image_sha256", v.image_sha256,
				   "matrix_sha256", v.matrix_sha256,
				   "enforced_sha256",
				   d->enforced ? d->enforced->sha256_hex : NULL,
				   "since", zw_time__format(v.time_us, tbuf),
				   "user", v.user, "crisis",
				   crisis_active(&d->crisis)
					   ? json_loads(cj, 0, NULL)
					   : json_null());
		free(cj);
		zw_state__version_fini(&v);
	}
	if (d->fwd) {
		struct zw_fwd_status fs;

		zw_fwd__status(d->fwd, &fs);
		sys = json_pack("{s:s, s:b, s:I, s:I, s:s?}", "server",
				d->syslog_target, "connected", fs.connected,
				"sent_seq", (json_int_t)fs.sent_seq, "queued",
				(json_int_t)fs.queued, "last_error",
				*fs.last_error ? fs.last_error : NULL);
	}
	{
		int64_t seq, cseq = 0;
		char hash[65], chash[65];
		bool cp;

		json_t *resp;

		zw_journal__head(d->j, &seq, hash);
		cp = zw_journal__checkpoint_read(d->j, &cseq, chash) == 0;
		resp = json_pack("{s:b, s:{s:i, s:s, s:s, s:s}, s:o, s:o, s:o,"
				 " s:{s:I, s:s, s:b, s:s?, s:o, s:s?}, s:o}",
				 "ok", 1, "daemon", "pid", (int)getpid(),
				 "version", ZW_VERSION, "state", d->state_dir,
				 "started", zw_time__format(d->started_us, tbuf),
				 "active", active, "backends", bes, "syslog",
				 sys, "journal", "head_seq", (json_int_t)seq,
				 "head_hash", hash, "intact_at_start",
				 d->journal_intact, "problem_at_start",
				 d->journal_intact ? NULL : d->journal_problem,
				 "checkpoint_seq",
				 cp ? json_integer(cseq) : json_null(),
				 "checkpoint_hash", cp ? chash : NULL,
				 "telemetry", zwd_tm__status(d));
		if (resp) {
			json_object_set_new(resp, "watch", watch_json(d));
			json_object_set_new(resp, "clock", clock_json(d));
		}
		return resp;
	}
}

static json_t *op_archive(struct zwd *d, const json_t *req,
			  const struct zwd_author *who)
{
	json_int_t days = json_integer_value(json_object_get(req, "older_than_days"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	struct zw_journal_entry e = {.uid = who->uid, .user = who->name,
				     .reason = reason};
	int64_t n = 0, keep = 0;
	char path[4096 + 128], err[256];
	int r;

	if (days > ZW_Q_MAX_DAYS)
		return zw_proto__error(2, "older_than_days must be at most %d",
				       ZW_Q_MAX_DAYS);
	if (zw_reason__check(reason, err, sizeof(err)))
		return zw_proto__error(1, "archive refused: %s", err);
	if (days < ZW_JOURNAL_RETENTION_DAYS)
		return zw_proto__error(1,
				       "entries younger than %d days are never "
				       "archived (asked: %lld)",
				       ZW_JOURNAL_RETENTION_DAYS,
				       (long long)days);
	if (d->fwd)
		keep = zw_fwd__cursor(db(d)) + 1;
	r = zw_journal__archive(d->j, zw_time__now_us() -
					      (int64_t)days * 86400 * 1000000,
				keep, &e, &n, path, sizeof(path));
	if (r < 0)
		return zw_proto__error(r == -EPERM ? 1 : 3, "archive failed: %s",
				       strerror(-r));
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_INFO, "archive", "entries=%lld", (long long)n);
	return json_pack("{s:b, s:I, s:s?}", "ok", 1, "archived", (json_int_t)n,
			 "file", n ? path : NULL);
}

json_t *zwd__serve(struct zwd *d, const json_t *req,
		   const struct zwd_author *who, bool *pending)
{
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!op)
		return zw_proto__error(2, "request without \"op\"");
	/* a clock step is recorded before anything this request journals */
	zwd_watch__clock(d);
	if (!strcmp(op, "status"))
		return op_status(d);
	if (d->commit && (!strcmp(op, "commit") || !strcmp(op, "rollback"))) {
		/* one change of version at a time: the client tries again */
		zw_log(ZW_LOG_WARN, "busy", "op=%s uid=%u", op, who->uid);
		return zw_proto__error(1, "%s refused: a commit is in progress "
					  "(by %s, for %lld ms); try again "
					  "when it completes",
				       op, d->commit->who.name,
				       (long long)(zw_time__now_us() -
						   d->commit->t0) / 1000);
	}
	if (!strcmp(op, "commit"))
		return op_commit(d, req, who, pending);
	if (!strcmp(op, "rollback"))
		return op_rollback(d, req, who, pending);
	if (!strcmp(op, "crisis"))
		return op_crisis(d, req, who);
	if (!strcmp(op, "versions"))
		return zw_q__versions(d->j);
	if (!strcmp(op, "journal"))
		return zw_q__journal(d->j, req);
	if (!strcmp(op, "verify"))
		return zw_q__verify(d->j, req);
	if (!strcmp(op, "rules"))
		return zw_q__rules(d->j, req);
	if (!strcmp(op, "archive"))
		return op_archive(d, req, who);
	if (!strcmp(op, "audit"))
		return zwd_audit__run(d->j, d, req);
	if (!strcmp(op, "version_at"))
		return zwd_audit__version_at(d->j, req);
	if (!strcmp(op, "flows"))
		return zwd_tm__flows(d, req);
	return zw_proto__error(2, "unknown request '%s'", op);
}

json_t *zwd__handle(struct zwd *d, const json_t *req,
		    const struct zwd_author *who)
{
	return zwd__serve(d, req, who, NULL);
}

/* ---- start-up ---- */

int zwd__recover(struct zwd *d)
{
	struct zwd_author me = daemon_author();
	struct zw_version_rec v = {0};
	int64_t *pend = NULL, applied_day = 0;
	size_t n_pend = 0;
	char err[1024], detail[2048];
	char *cj = NULL;
	int r;

	/* The evidence first: a journal altered while we were down is
	 * reported loudly (log and status); enforcement goes on
	 * (integrity.c). */
	zwd__check_journal(d);
	d->active = 0;
	zw_state__get_int(db(d), "active_version", &d->active);
	zw_state__get_int(db(d), "applied_day", &applied_day);
	if (zw_state__get_text(db(d), "crisis", &cj) == 0 && cj) {
		crisis_parse(cj, &d->crisis);
		free(cj);
	}
	/* A commit interrupted by a crash or kill -9 never became active. */
	zw_state__pending(db(d), &pend, &n_pend);
	for (size_t i = 0; i < n_pend; i++) {
		char vd[65], va[160];

		if (zw_state__version_digest_n(db(d), pend[i], vd) < 0)
			snprintf(vd, sizeof(vd), "unreadable");
		snprintf(va, sizeof(va),
			 "{\"version\":%lld,\"version_sha256\":\"%s\"}",
			 (long long)pend[i], vd);
		snprintf(detail, sizeof(detail),
			 "zonewalld stopped during the commit of version %lld; "
			 "it never became active, version %lld is",
			 (long long)pend[i], (long long)d->active);
		zw_journal__begin(d->j);
		zw_state__version_set_state(db(d), pend[i], "abandoned",
					    "zonewalld stopped during commit");
		journal(d, &me, ZW_JA_COMMIT_REFUSED, pend[i],
			"commit interrupted", NULL, NULL, NULL, va, NULL,
			detail);
		zw_journal__commit(d->j);
		zw_log(ZW_LOG_WARN, "commit-abandoned", "version=%lld",
		       (long long)pend[i]);
	}
	free(pend);
	if (zwd__check_versions(d) < 0)
		return -EBADMSG;
	if (!d->active) {
		zw_log(ZW_LOG_INFO, "no-active-version",
		       "backends=%zu (nothing to reconcile)", d->n_bes);
		return 0;
	}
	r = zw_state__version_get(db(d), d->active, true, &v);
	if (r < 0) {
		zw_log(ZW_LOG_ERR, "state-corrupt",
		       "active_version=%lld missing", (long long)d->active);
		return r;
	}
	{
		char *diags = NULL;
		size_t n_err = 0;

		d->active_m = parse_valid(v.matrix, v.matrix_len,
					  v.file && *v.file ? v.file : "matrix.yaml",
					  &diags, &n_err);
		free(diags);
	}
	if (d->active_m)
		d->enforced = crisis_active(&d->crisis)
				      ? build_image(d->active_m, &d->crisis, err,
						    sizeof(err))
				      : zw_image__open(v.image, v.image_len,
						       err, sizeof(err));
	if (!d->enforced && crisis_active(&d->crisis)) {
		/* The stored image is the version without the crisis measures
		 * in force: putting it on the engines would lift them. Fail
		 * closed; the engines keep what they enforce. */
		zw_log(ZW_LOG_ERR, "active-version-reload",
		       "version=%lld error=\"cannot rebuild the image with the "
		       "crisis measures in force (%s); engines left as they "
		       "are\"",
		       (long long)d->active,
		       d->active_m ? "it does not compile"
				   : "its matrix no longer validates");
		zw_state__version_fini(&v);
		return -EINVAL;
	}
	if (!d->enforced) {
		/* The stored image is the version: enforce it as stored. */
		zw_log(ZW_LOG_ERR, "active-version-reload",
		       "version=%lld error=\"matrix no longer validates; "
		       "using the stored image\"",
		       (long long)d->active);
		d->enforced = zw_image__open(v.image, v.image_len, err,
					     sizeof(err));
	}
	zw_state__version_fini(&v);
	if (!d->enforced)
		return -EINVAL;

	/* Reconcile: ask each engine what it enforces; change only those
	 * that differ (never flush and re-add). */
	d->day = applied_day > 0 ? (int32_t)applied_day : today();
	if (today() < d->day)
		zw_log(ZW_LOG_WARN, "clock-behind-applied-day",
		       "applied_day=%lld today=%d msg=\"the engines stay on the "
		       "latest day applied\"",
		       (long long)applied_day, today());
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		struct zw_backend_state st;
		char hex[65], q[600];
		bool same;

		r = b->be->ops->read_back(b->be, d->enforced, &st);
		if (r < 0) {
			memset(&st, 0, sizeof(st));
			snprintf(st.detail, sizeof(st.detail),
				 "read back failed: %s", strerror(-r));
		}
		same = r == 0 && st.enforcing &&
		       !memcmp(st.sha256, d->enforced->sha256, 32) && !st.drift;
		zw_hex(st.sha256, 32, hex);
		if (same && d->day >= today()) {
			zw_log(ZW_LOG_INFO, "reconcile-ok",
			       "backend=%s version=%lld image=%s", b->spec,
			       (long long)d->active, d->enforced->sha256_hex);
			zw_backend_state__fini(&st);
			continue;
		}
		if (same) {
			/* Only the day changed while we were down: the day
			 * tick below programs it and journals what expired. */
			zw_backend_state__fini(&st);
			continue;
		}
		r = zw_backend__apply(b->be, d->enforced, apply_day(d), err,
				      sizeof(err));
		snprintf(detail, sizeof(detail),
			 "backend %s enforced %s%s%s; %s version %lld (image %s)%s%s",
			 b->spec,
			 !st.enforcing ? "no zonewall policy"
				       : memcmp(st.sha256, d->enforced->sha256, 32)
						 ? "another image "
						 : "the active image with drift: ",
			 st.enforcing && memcmp(st.sha256, d->enforced->sha256, 32)
				 ? hex
				 : "",
			 st.drift && st.enforcing &&
					 !memcmp(st.sha256, d->enforced->sha256, 32)
				 ? st.drift
				 : "",
			 r ? "FAILED to re-apply" : "re-applied",
			 (long long)d->active, d->enforced->sha256_hex,
			 r ? ": " : "", r ? err : "");
		zw_backend_state__fini(&st);
		b->dirty = r != 0;
		if (r)
			snprintf(b->last_error, sizeof(b->last_error), "%.255s", err);
		journal(d, &me, ZW_JA_RECONCILE, d->active,
			"start-up reconciliation", NULL, NULL, NULL, NULL, NULL,
			detail);
		zw_log(r ? ZW_LOG_ERR : ZW_LOG_WARN, "reconcile",
		       "backend=%s detail=%s", b->spec,
		       zw_log__q(detail, q, sizeof(q)));
	}
	/* Programs every engine for today and journals the flows that
	 * expired since the day last applied (on failure: at the next tick). */
	zwd__day_tick(d);
	return 0;
}

void zwd__day_tick(struct zwd *d)
{
	int32_t now_day = today(), from = d->day;
	char err[512];
	int r;

	retry_dirty(d);
	zwd__flush_refusals(d);
	if (!d->enforced || now_day == d->day)
		return;
	if (now_day < d->day) {
		/* The clock went back (journalled by the watch as a step):
		 * never re-apply for a day before one already applied. */
		if (!d->clock_behind_logged)
			zw_log(ZW_LOG_WARN, "clock-behind-applied-day",
			       "day=%d applied_day=%d msg=\"engines stay on "
			       "the latest day applied\"",
			       now_day, d->day);
		d->clock_behind_logged = true;
		return;
	}
	d->clock_behind_logged = false;
	/* Program every engine for the new day first, and only then record
	 * that the flows past their date are no longer enforced. An engine
	 * that refuses leaves d->day as it was: tried again at the next tick.
	 * A crash in between leaves applied_day behind: the next start does
	 * it again (apply is idempotent). */
	if (apply_all(d, d->enforced, d->enforced, err, sizeof(err)) < 0) {
		d->day = from;
		zw_log(ZW_LOG_ERR, "day-reapply-failed", "day=%d", now_day);
		return;
	}
	r = zw_journal__begin(d->j);
	if (!r)
		r = journal_expired(d, from, now_day);
	if (!r)
		r = zw_state__set_int(db(d), "applied_day", now_day);
	if (!r)
		r = zw_journal__commit(d->j);
	if (r < 0) {
		zw_journal__abort(d->j);
		d->day = from;
		zw_log(ZW_LOG_ERR, "day-reapply-failed",
		       "day=%d error=\"the journal could not be written\"",
		       now_day);
		return;
	}
	zw_fwd__notify(d->fwd);
	zw_log(ZW_LOG_INFO, "day-reapply", "day=%d", now_day);
	d->day = now_day;
}

void zwd__fini(struct zwd *d)
{
	if (d->commit) {
		/* stopped while it compiled: nothing was stored yet */
		zw_log(ZW_LOG_WARN, "commit-abandoned",
		       "uid=%u msg=\"the daemon stopped before it was compiled\"",
		       d->commit->who.uid);
		commit_free(d->commit); /* waits for the worker */
		d->commit = NULL;
	}
	zwd_tm__drain(d);
	zwd_tm__stop(d);
	if (d->j)
		zwd__refusals_fini(d);
	zwd_watch__fini(d);
	zw_fwd__stop(d->fwd);
	d->fwd = NULL;
	zwd_engines__forget_describers(d);
	for (size_t i = 0; i < d->n_bes; i++) {
		if (d->bes[i].be)
			d->bes[i].be->ops->close(d->bes[i].be);
		free(d->bes[i].spec);
	}
	free(d->bes);
	d->bes = NULL;
	d->n_bes = 0;
	zw_matrix__free(d->active_m);
	zw_image__free(d->enforced);
	crisis_fini(&d->crisis);
	zw_journal__free(d->j);
	free(d->syslog_target);
}
