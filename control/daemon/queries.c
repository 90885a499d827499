/* SPDX-License-Identifier: BSD-2-Clause */
/* Read-only requests, answered the same way by zonewalld and by zonectl
 * --state DIR (no daemon): journal, verify, versions, rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal_priv.h"
#include "proto.h"
#include "queries.h"
#include "state.h"

static int collect_cb(int64_t seq, const char *content, const char *hash,
		      void *ctx)
{
	json_t *arr = ctx, *c = json_loads(content, 0, NULL);

	(void)seq;
	if (!c)
		return -EBADMSG;
	json_object_set_new(c, "hash", json_string(hash));
	return json_array_append_new(arr, c) ? -ENOMEM : 0;
}

json_t *zw_q__journal(struct zw_journal *j, const json_t *req)
{
	struct zw_journal_filter f = {.with_archive = true};
	json_int_t since = json_integer_value(json_object_get(req, "since_days"));
	json_t *arr = json_array();
	int r;

	if (!arr)
		return zw_proto__error(3, "out of memory");
	if (since > ZW_Q_MAX_DAYS) {
		json_decref(arr);
		return zw_proto__error(2, "since_days must be at most %d",
				       ZW_Q_MAX_DAYS);
	}
	f.flow = json_string_value(json_object_get(req, "flow"));
	if (since > 0)
		f.since_us = zw_time__now_us() - (int64_t)since * 86400 * 1000000;
	/* Recent history never needs the archives (older than a year). */
	f.with_archive = since <= 0 || since >= ZW_JOURNAL_RETENTION_DAYS;
	r = zw_journal__foreach(j, &f, collect_cb, arr);
	if (r < 0) {
		json_decref(arr);
		return zw_proto__error(3, "cannot read the journal: %s",
				       strerror(-r));
	}
	return json_pack("{s:b, s:I, s:o}", "ok", 1, "count",
			 (json_int_t)json_array_size(arr), "entries", arr);
}

json_t *zw_q__verify(struct zw_journal *j, const json_t *req)
{
	struct zw_journal_verify v;
	const json_t *anchors = json_object_get(req, "anchors"), *a;
	int64_t cseq = 0, bad_version = 0;
	char chash[65], why[256];
	size_t i;
	int r = zw_journal__verify(j, &v), rc;

	if (r < 0)
		return zw_proto__error(3, "cannot verify the journal: %s",
				       strerror(-r));
	/* the head against what the database alone cannot rewrite: the
	 * checkpoint file, and the anchors of a syslog copy (pairs
	 * [seq, hash] the client read from it) */
	rc = zw_journal__checkpoint_read(j, &cseq, chash);
	if (rc == 0)
		r = zw_journal__verify_anchor(j, cseq, chash, "the checkpoint",
					      &v);
	else if (rc == -EBADMSG && v.ok) {
		v.ok = false;
		v.bad_seq = v.head_seq;
		snprintf(v.problem, sizeof(v.problem),
			 "the checkpoint file is damaged");
	}
	json_array_foreach(anchors, i, a) {
		const char *h = json_string_value(json_array_get(a, 1));
		json_int_t seq = json_integer_value(json_array_get(a, 0));

		if (!r && h && seq > 0)
			r = zw_journal__verify_anchor(j, seq, h,
						      "the syslog copy", &v);
	}
	if (r < 0)
		return zw_proto__error(3, "cannot verify the journal: %s",
				       strerror(-r));
	/* and every stored version against what the journal recorded */
	if (v.ok) {
		r = zw_state__versions_verify(j, 0, &bad_version, why,
					      sizeof(why));
		if (r < 0)
			return zw_proto__error(3, "cannot verify the versions: "
						  "%s",
						  strerror(-r));
		if (bad_version) {
			v.ok = false;
			v.bad_seq = 0;
			snprintf(v.problem, sizeof(v.problem), "%s", why);
		}
	}
	return json_pack("{s:b, s:b, s:I, s:I, s:I, s:s, s:o, s:o, s:o, s:s?,"
			 " s:o}",
			 "ok", 1, "intact", v.ok, "entries",
			 (json_int_t)v.entries, "archived",
			 (json_int_t)v.archived, "head_seq",
			 (json_int_t)v.head_seq, "head_hash", v.head_hash,
			 "bad_seq",
			 v.ok || !v.bad_seq ? json_null() : json_integer(v.bad_seq),
			 "bad_version",
			 bad_version ? json_integer(bad_version) : json_null(),
			 "checkpoint_seq",
			 rc ? json_null() : json_integer(cseq), "problem",
			 v.ok ? NULL : v.problem, "anchors_checked",
			 json_integer((json_int_t)json_array_size(anchors)));
}

json_t *zw_q__versions(struct zw_journal *j)
{
	json_t *v = zw_state__versions_json(zw_journal__sqlite(j));

	if (!v)
		return zw_proto__error(3, "cannot read the versions");
	json_object_set_new(v, "ok", json_true());
	return v;
}

json_t *zw_q__rules(struct zw_journal *j, const json_t *req)
{
	json_t *days = json_object_get(req, "deleted_within_days");
	json_int_t d = json_is_integer(days) ? json_integer_value(days)
					     : ZW_JOURNAL_RETENTION_DAYS;
	json_t *r;

	if (d < 0 || d > ZW_Q_MAX_DAYS)
		return zw_proto__error(2, "deleted_within_days must be between "
					  "0 and %d",
				       ZW_Q_MAX_DAYS);
	r = zw_rules__json(j, (int)d, zw_date__today());
	if (!r)
		return zw_proto__error(3, "cannot build the rules list");
	json_object_set_new(r, "ok", json_true());
	return r;
}
