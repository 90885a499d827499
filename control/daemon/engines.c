/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The engine set: programs one image on every engine the daemon drives as
 * one transaction (include/zonewall/backend.h): prepare every engine, and
 * only when all are ready, commit all. A refusal by any engine aborts the
 * prepared tickets of the others: no engine changed, nothing to restore.
 * Only a commit that fails (an engine changed behind our back between the
 * two phases, a process died) puts the previous image back on the engines
 * that already switched, the one case where "restore" still exists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_priv.h"
#include "log.h"
#include "zonewalld.h"

static void set_error(struct zwd_backend *b, const char *e, int r)
{
	snprintf(b->last_error, sizeof(b->last_error), "%s",
		 e && *e ? e : strerror(-r));
}

/* Program @img (NULL: remove the policy) on engine @b alone. */
static int program_one(struct zwd_backend *b, const struct zw_image *img,
		       int32_t day, char *err, size_t len)
{
	if (!img)
		return b->be->ops->destroy(b->be, err, len);
	return zw_backend__apply(b->be, img, day, err, len);
}

int zwd_engines__program(struct zwd *d, const struct zw_image *img,
			 int32_t day, const struct zw_image *prev, char *err,
			 size_t len)
{
	struct zw_ticket **t;
	size_t i, k;
	int r = 0;

	if (!d->n_bes)
		return 0;
	t = calloc(d->n_bes, sizeof(*t));
	if (!t) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	/* Phase one: everything that can fail. */
	for (i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		char e[512] = "", q[600];

		r = b->be->ops->prepare(b->be, img, day, &t[i], e, sizeof(e));
		if (!r)
			continue;
		set_error(b, e, r);
		zw_log(ZW_LOG_ERR, "prepare-failed", "backend=%s error=%s",
		       b->spec, zw_log__q(b->last_error, q, sizeof(q)));
		snprintf(err, len, "backend %s refused: %s; no engine was "
			 "changed", b->spec, b->last_error);
		for (k = 0; k < i; k++)
			d->bes[k].be->ops->abort(d->bes[k].be, t[k]);
		free(t);
		return r;
	}
	/* Phase two: switch every engine. */
	for (i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		char e[512] = "", q[600];
		size_t off;

		r = b->be->ops->commit(b->be, t[i], e, sizeof(e));
		t[i] = NULL;
		if (!r) {
			b->last_error[0] = '\0';
			continue;
		}
		set_error(b, e, r);
		zw_log(ZW_LOG_ERR, "commit-failed", "backend=%s error=%s",
		       b->spec, zw_log__q(b->last_error, q, sizeof(q)));
		off = (size_t)snprintf(err, len, "backend %s failed to switch: %s",
				       b->spec, b->last_error);
		for (k = i + 1; k < d->n_bes; k++)
			d->bes[k].be->ops->abort(d->bes[k].be, t[k]);
		/* Those that switched go back to @prev. */
		for (k = 0; k < i; k++) {
			struct zwd_backend *o = &d->bes[k];
			char e2[512] = "";
			int r2 = program_one(o, prev, day, e2, sizeof(e2));

			if (off < len)
				off += (size_t)snprintf(
					err + off, len - off, "; %s %s", o->spec,
					r2 ? "could NOT be restored"
					: prev ? "restored to the previous policy"
					       : "cleared (no previous policy)");
			o->dirty = r2 != 0;
			if (r2) {
				snprintf(o->last_error, sizeof(o->last_error),
					 "restore failed: %s",
					 *e2 ? e2 : strerror(-r2));
				zw_log(ZW_LOG_ERR, "restore-failed",
				       "backend=%s", o->spec);
			}
		}
		free(t);
		return r;
	}
	free(t);
	for (i = 0; i < d->n_bes; i++)
		d->bes[i].dirty = false;
	return 0;
}

int zwd_engines__repair(struct zwd *d, struct zwd_backend *b, char *err,
			size_t len)
{
	int r = program_one(b, d->enforced, d->day, err, len);

	b->dirty = r != 0;
	if (r)
		set_error(b, err, r);
	else
		b->last_error[0] = '\0';
	return r;
}

void zwd_engines__restore(struct zwd *d, int32_t day)
{
	char err[512];

	if (d->enforced && zwd_engines__program(d, d->enforced, day, NULL, err,
						sizeof(err)) == 0)
		return;
	for (size_t i = 0; i < d->n_bes; i++) {
		struct zwd_backend *b = &d->bes[i];
		char e[512] = "";
		int r = program_one(b, d->enforced, day, e, sizeof(e));

		b->dirty = r != 0;
		if (r) {
			set_error(b, e, r);
			zw_log(ZW_LOG_ERR, "restore-failed", "backend=%s",
			       b->spec);
		}
	}
}

/* ---- describing flows for the journal ---- */

static struct zw_describer *describer_of(struct zwd *d, size_t i,
					 const struct zw_image *img)
{
	struct zwd_backend *b = &d->bes[i];
	int slot = b->desc_img[0] == img ? 0 : b->desc_img[1] == img ? 1 : -1;

	if (slot < 0) {
		slot = b->desc[0] ? 1 : 0;
		zw_describer__free(b->desc[slot]);
		b->desc[slot] = b->be->ops->describer(img);
		b->desc_img[slot] = b->desc[slot] ? img : NULL;
	}
	return b->desc[slot];
}

char *zwd_engines__describe(struct zwd *d, const struct zw_image *img,
			    uint32_t flow)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return NULL;
	for (size_t i = 0; i < d->n_bes; i++) {
		const char *name = d->bes[i].be->ops->name;
		char *t;

		if (json_object_get(o, name))
			continue;
		t = zw_describer__describe(describer_of(d, i, img), flow);
		json_object_set_new(o, name, json_string(t ? t : "?"));
		free(t);
	}
	s = zw_json__canonical(o);
	json_decref(o);
	return s;
}

void zwd_engines__forget_describers(struct zwd *d)
{
	for (size_t i = 0; i < d->n_bes; i++)
		for (int k = 0; k < 2; k++) {
			zw_describer__free(d->bes[i].desc[k]);
			d->bes[i].desc[k] = NULL;
			d->bes[i].desc_img[k] = NULL;
		}
}
