/* SPDX-License-Identifier: BSD-2-Clause */
/* The list of rules in force or deleted within N days (REQUIREMENTS L1),
 * rebuilt from the journal (archives included) so it is exactly what the
 * evidence says. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal_priv.h"
#include "state.h"

struct rstate {
	json_t *by_flow; /* flow id -> rule object */
	json_t *order;	 /* flow ids in order of first appearance */
};

static json_t *event(const json_t *c)
{
	return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "seq",
			 json_object_get(c, "seq"), "time",
			 json_object_get(c, "time"), "version",
			 json_object_get(c, "version"), "user",
			 json_object_get(c, "user"), "uid",
			 json_object_get(c, "uid"), "reason",
			 json_object_get(c, "reason"));
}

static int rules_cb(int64_t seq, const char *content, const char *hash,
		    void *ctx)
{
	struct rstate *rs = ctx;
	json_t *c = json_loads(content, 0, NULL), *r;
	const char *act, *flow;
	enum zw_journal_action a;

	(void)seq;
	(void)hash;
	if (!c)
		return 0;
	act = json_string_value(json_object_get(c, "action"));
	flow = json_string_value(json_object_get(c, "flow"));
	a = zw_journal_action__parse(act);
	if (!flow || a < ZW_JA_FLOW_ADDED || a > ZW_JA_FLOW_EXPIRED) {
		json_decref(c);
		return 0;
	}
	r = json_object_get(rs->by_flow, flow);
	if (!r) {
		r = json_pack("{s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:n}", "flow",
			      flow, "status", "in-force", "created", "modified",
			      "deleted", "suspended", "definition",
			      "implementation");
		json_object_set_new(rs->by_flow, flow, r);
		json_array_append_new(rs->order, json_string(flow));
	}
	switch (a) {
	case ZW_JA_FLOW_ADDED:
		json_object_set_new(r, "created", event(c));
		json_object_set_new(r, "modified", json_null());
		json_object_set_new(r, "deleted", json_null());
		json_object_set_new(r, "suspended", json_null());
		json_object_set_new(r, "status", json_string("in-force"));
		json_object_set(r, "definition", json_object_get(c, "after"));
		json_object_set(r, "implementation", json_object_get(c, "impl"));
		break;
	case ZW_JA_FLOW_CHANGED:
		json_object_set_new(r, "modified", event(c));
		/* a new definition (e.g. a later expires date) is in force
		 * again; whether it expired is judged from it below */
		if (!strcmp(json_string_value(json_object_get(r, "status")),
			    "expired"))
			json_object_set_new(r, "status",
					    json_string("in-force"));
		json_object_set(r, "definition", json_object_get(c, "after"));
		json_object_set(r, "implementation", json_object_get(c, "impl"));
		break;
	case ZW_JA_FLOW_REMOVED:
		json_object_set_new(r, "deleted", event(c));
		json_object_set_new(r, "status", json_string("deleted"));
		json_object_set(r, "definition", json_object_get(c, "before"));
		json_object_set(r, "implementation", json_object_get(c, "impl"));
		break;
	case ZW_JA_FLOW_SUSPENDED:
		json_object_set_new(r, "suspended", event(c));
		json_object_set_new(r, "status", json_string("suspended"));
		break;
	case ZW_JA_FLOW_RESUMED:
		json_object_set_new(r, "suspended", json_null());
		json_object_set_new(r, "status", json_string("in-force"));
		break;
	case ZW_JA_FLOW_EXPIRED:
		json_object_set_new(r, "status", json_string("expired"));
		break;
	default:
		break;
	}
	json_decref(c);
	return 0;
}

json_t *zw_rules__json(struct zw_journal *j, int deleted_within_days,
		       int32_t today)
{
	struct rstate rs = {json_object(), json_array()};
	struct zw_journal_filter f = {.with_archive = true};
	int64_t cutoff = zw_time__now_us() -
			 (int64_t)deleted_within_days * 86400 * 1000000;
	json_t *out = json_array(), *doc = NULL;
	size_t i;
	json_t *id;

	if (!rs.by_flow || !rs.order || !out)
		goto out;
	if (zw_journal__foreach(j, &f, rules_cb, &rs) < 0)
		goto out;
	json_array_foreach(rs.order, i, id) {
		json_t *r = json_object_get(rs.by_flow, json_string_value(id));
		const char *st = json_string_value(json_object_get(r, "status"));

		if (!strcmp(st, "deleted")) {
			int64_t t = 0;
			const char *ts = json_string_value(json_object_get(
				json_object_get(r, "deleted"), "time"));

			if (!ts || zw_time__parse(ts, &t) || t < cutoff)
				continue;
		} else if (!strcmp(st, "in-force")) {
			/* A flow past its expires date is no longer enforced
			 * even if the daemon has not said so yet. */
			const char *exp = json_string_value(json_object_get(
				json_object_get(r, "definition"), "expires"));
			int32_t d;

			if (exp && !zw_date__parse(exp, &d) && d < today)
				json_object_set_new(r, "status",
						    json_string("expired"));
		}
		json_array_append(out, r);
	}
	doc = json_pack("{s:i, s:I, s:O}", "deleted_within_days",
			deleted_within_days, "count",
			(json_int_t)json_array_size(out), "rules", out);
out:
	json_decref(out);
	json_decref(rs.by_flow);
	json_decref(rs.order);
	return doc;
}
