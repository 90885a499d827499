/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The evidence checked at start-up (zonewalld.h): the journal's chain, its
 * head against the checkpoint file the database alone cannot rewrite, and
 * the stored versions against the journal. A journal altered while the
 * daemon was down is reported loudly (log and status) and enforcement goes
 * on; an active version altered in the database is never enforced: the
 * daemon refuses to start and leaves the engines as they are.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "state.h"
#include "zonewalld.h"

static void altered(struct zwd *d, const char *problem)
{
	if (!d->journal_intact)
		return; /* the first problem found is the one reported */
	d->journal_intact = false;
	snprintf(d->journal_problem, sizeof(d->journal_problem), "%s", problem);
}

void zwd__check_journal(struct zwd *d)
{
	struct zw_journal_verify jv;
	int64_t cseq = 0;
	char chash[65], q[300];
	int rc;

	if (zw_journal__verify(d->j, &jv) < 0)
		return;
	rc = zw_journal__checkpoint_read(d->j, &cseq, chash);
	if (rc == 0)
		zw_journal__verify_anchor(d->j, cseq, chash, "the checkpoint",
					  &jv);
	d->journal_intact = jv.ok;
	snprintf(d->journal_problem, sizeof(d->journal_problem), "%s",
		 jv.ok ? "" : jv.problem);
	if (jv.ok)
		zw_log(ZW_LOG_INFO, "journal-intact",
		       "entries=%lld head=%s checkpoint=%lld",
		       (long long)jv.entries, jv.head_hash, (long long)cseq);
	else
		zw_log(ZW_LOG_ERR, "journal-altered",
		       "bad_seq=%lld problem=%s checkpoint_seq=%lld "
		       "checkpoint_hash=%s",
		       (long long)jv.bad_seq,
		       zw_log__q(jv.problem, q, sizeof(q)), (long long)cseq,
		       rc ? "none" : chash);
	if (rc == -EBADMSG) {
		zw_log(ZW_LOG_ERR, "journal-altered",
		       "problem=\"the checkpoint %s is not one\"",
		       ZW_JOURNAL_CHECKPOINT);
		altered(d, "the checkpoint file is damaged");
	}
	/* A checkpoint that disagrees is evidence: kept aside, not
	 * overwritten by the next append. */
	if (!jv.ok && rc == 0) {
		char from[4200], to[4300];

		snprintf(from, sizeof(from), "%s/%s", d->state_dir,
			 ZW_JOURNAL_CHECKPOINT);
		snprintf(to, sizeof(to), "%s.rejected-%lld", from,
			 (long long)(zw_time__now_us() / 1000000));
		if (rename(from, to) == 0)
			zw_log(ZW_LOG_WARN, "checkpoint-kept", "file=%s",
			       zw_log__q(to, q, sizeof(q)));
	}
	rc = zw_journal__checkpoint_enable(d->j);
	if (rc < 0)
		zw_log(ZW_LOG_ERR, "checkpoint-failed", "error=\"%s\"",
		       strerror(-rc));
}

int zwd__check_versions(struct zwd *d)
{
	sqlite3 *db = zw_journal__sqlite(d->j);
	int64_t bad = 0, active = 0, bad_active = 0;
	char why[256], why_active[256], q[300];
	int r;

	r = zw_state__versions_verify(d->j, 0, &bad, why, sizeof(why));
	if (r < 0) {
		zw_log(ZW_LOG_ERR, "versions-unchecked", "error=\"%s\"",
		       strerror(-r));
		return 0;
	}
	if (!bad)
		return 0;
	zw_log(ZW_LOG_ERR, "version-altered", "version=%lld problem=%s",
	       (long long)bad, zw_log__q(why, q, sizeof(q)));
	altered(d, why);
	zw_state__get_int(db, "active_version", &active);
	if (active && bad != active)
		zw_state__versions_verify(d->j, active, &bad_active, why_active,
					  sizeof(why_active));
	if (active && (bad == active || bad_active)) {
		snprintf(d->journal_problem, sizeof(d->journal_problem),
			 "%.170s; not enforced, engines left as they are",
			 bad == active ? why : why_active);
		return -EBADMSG;
	}
	return 0;
}
