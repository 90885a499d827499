/* SPDX-License-Identifier: BSD-2-Clause */
/* Refusals the journal could not take when they happened (zonewalld.h):
 * on a full disk the refusal of a commit cannot be written either, so it
 * is kept in memory, where the full disk cannot reach it, and journalled
 * at the first tick that can write, with the time it happened and its
 * cause in the detail. A daemon stopped before that logs what it loses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "zonewalld.h"

void zwd__defer_refusal(struct zwd *d, const struct zwd_author *who,
			int64_t version, const char *reason,
			const char *detail, int err)
{
	struct zwd_deferred *x;
	char e[256];

	if (d->n_deferred == ZWD_MAX_DEFERRED) {
		d->n_deferred_lost++;
		return;
	}
	x = &d->deferred[d->n_deferred];
	memset(x, 0, sizeof(*x));
	x->who = *who;
	x->version = version;
	x->time_us = zw_time__now_us();
	x->reason = zw_text__check(reason, ZW_REASON_MAX, "reason", e, sizeof(e))
			    ? zw_text__escape(reason, 64)
			    : strdup(reason ? reason : "");
	x->detail = strdup(detail ? detail : "");
	if (!x->reason || !x->detail) {
		free(x->reason);
		free(x->detail);
		d->n_deferred_lost++;
		return;
	}
	d->n_deferred++;
	zw_log(ZW_LOG_ERR, "refusal-deferred",
	       "version=%lld error=\"%s\" msg=\"the journal cannot be written; "
	       "the refusal is journalled once it can\"",
	       (long long)version, strerror(-err));
}

static void deferred_free(struct zwd_deferred *x)
{
	free(x->reason);
	free(x->detail);
	memset(x, 0, sizeof(*x));
}

void zwd__flush_refusals(struct zwd *d)
{
	sqlite3 *db = zw_journal__sqlite(d->j);
	size_t done = 0;
	int r;

	if (!d->n_deferred && !d->n_deferred_lost)
		return;
	r = zw_journal__begin(d->j);
	for (size_t i = 0; !r && i < d->n_deferred; i++) {
		struct zwd_deferred *x = &d->deferred[i];
		char when[32], *detail;
		struct zw_journal_entry e = {
			.action = ZW_JA_COMMIT_REFUSED,
			.uid = x->who.uid,
			.user = x->who.name,
			.version = x->version,
			.reason = x->reason,
		};
		size_t len = strlen(x->detail) + 160;

		detail = malloc(len);
		if (!detail) {
			r = -ENOMEM;
			break;
		}
		snprintf(detail, len,
			 "%s (refused at %s; journalled late: the journal could "
			 "not be written then)",
			 x->detail, zw_time__format(x->time_us, when));
		e.detail = detail;
		/* a version stored as pending before the disk filled up */
		if (x->version > 0) {
			struct zw_version_rec v;

			if (zw_state__version_get(db, x->version, false, &v) == 0) {
				if (!strcmp(v.state, "pending"))
					r = zw_state__version_set_state(
						db, x->version, "refused",
						"journal write failed");
				zw_state__version_fini(&v);
			}
		}
		if (!r)
			r = zw_journal__append(d->j, &e, NULL);
		free(detail);
		done++;
	}
	if (!r && d->n_deferred_lost) {
		char detail[160];
		struct zw_journal_entry e = {
			.action = ZW_JA_COMMIT_REFUSED,
			.uid = (uint32_t)getuid(),
			.user = "zonewalld",
			.reason = "refusals lost",
			.detail = detail,
		};

		snprintf(detail, sizeof(detail),
			 "%lld more refusal(s) could not be kept while the "
			 "journal could not be written",
			 (long long)d->n_deferred_lost);
		r = zw_journal__append(d->j, &e, NULL);
	}
	if (!r)
		r = zw_journal__commit(d->j);
	else
		zw_journal__abort(d->j);
	if (r < 0)
		return; /* still no room: at the next tick */
	zw_log(ZW_LOG_WARN, "refusals-journalled", "count=%zu lost=%lld", done,
	       (long long)d->n_deferred_lost);
	for (size_t i = 0; i < d->n_deferred; i++)
		deferred_free(&d->deferred[i]);
	d->n_deferred = 0;
	d->n_deferred_lost = 0;
	zw_fwd__notify(d->fwd);
}

void zwd__refusals_fini(struct zwd *d)
{
	zwd__flush_refusals(d);
	if (d->n_deferred || d->n_deferred_lost)
		zw_log(ZW_LOG_ERR, "refusals-lost",
		       "count=%lld msg=\"stopped before the journal could take "
		       "them\"",
		       (long long)d->n_deferred + d->n_deferred_lost);
	for (size_t i = 0; i < d->n_deferred; i++)
		deferred_free(&d->deferred[i]);
	d->n_deferred = 0;
	d->n_deferred_lost = 0;
}
