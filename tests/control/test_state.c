/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's state helpers: per-version changes (a zone change makes
 * the flows that use it "changed"), secrets in a matrix, the backend
 * registry and spec parsing, engine-neutral rule descriptions, the rules
 * list (L1) rebuilt from the journal. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/policy.h>

#include "state.h"
#include "testutil.h"

static const char base[] =
	"zonewall: 1\nname: t\nzones:\n"
	"  ops: {kind: operations, isolate: true, networks: [10.0.0.0/24]}\n"
	"  jump: {kind: servers, networks: [10.1.0.0/24]}\n"
	"  adm: {kind: admin, networks: [10.2.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.3.0.0/24]}\n"
	"  vpn: {kind: remote-access, networks: [10.4.0.0/24]}\n"
	"  inet: {kind: internet-access, networks: [192.0.2.0/28]}\n"
	"  xchg: {kind: provider-exchange, networks: [10.5.0.0/24]}\n"
	"flows:\n"
	"  - {id: F-1, from: ops, to: jump, services: [ssh], justification: admin sessions}\n"
	"  - {id: F-2, from: jump, to: adm, services: [https], justification: tools}\n"
	"  - {id: F-3, from: upd, to: inet, services: [https], justification: vendor updates}\n";

static struct zw_matrix *load(const char *text)
{
	struct zw_diags dg;
	struct zw_matrix *m;

	zw_diags__init(&dg, "t.yaml");
	m = zw_matrix__parse(text, strlen(text), "t.yaml", &dg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	zw_matrix__validate(m, 20000, &dg);
	if (dg.n_errors)
		zw_diags__print_text(&dg, stderr);
	CU_ASSERT_EQUAL(dg.n_errors, 0);
	zw_diags__fini(&dg);
	return m;
}

static char *replace(const char *s, const char *a, const char *b)
{
	const char *p = strstr(s, a);
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	out = malloc(strlen(s) + strlen(b) + 1);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), b);
	strcat(out, p + strlen(a));
	return out;
}

static void test_changes(void)
{
	struct zw_matrix *m0 = load(base), *m1, *m2;
	struct zw_change *c;
	size_t n;
	char *t1, *t2;

	/* from nothing: every zone and flow added, zones first */
	CU_ASSERT_EQUAL(zw_matrix__changes(NULL, m0, &c, &n), 0);
	CU_ASSERT_EQUAL(n, 7 + 3);
	CU_ASSERT_EQUAL(c[0].action, ZW_JA_ZONE_ADDED);
	CU_ASSERT_EQUAL(c[7].action, ZW_JA_FLOW_ADDED);
	CU_ASSERT_STRING_EQUAL(c[7].name, "F-1");
	CU_ASSERT_PTR_NULL(c[7].before);
	CU_ASSERT_PTR_NOT_NULL(strstr(c[7].after, "\"ports\":[\"22\"]"));
	zw_changes__free(c, n);
	/* identical: nothing */
	CU_ASSERT_EQUAL(zw_matrix__changes(m0, m0, &c, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	zw_changes__free(c, n);
	/* a zone's networks change: the zone, and the flows using it */
	t1 = replace(base, "10.1.0.0/24", "10.1.0.0/23");
	m1 = load(t1);
	CU_ASSERT_EQUAL(zw_matrix__changes(m0, m1, &c, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(c[0].action, ZW_JA_ZONE_CHANGED);
	CU_ASSERT_STRING_EQUAL(c[0].name, "jump");
	CU_ASSERT_EQUAL(c[1].action, ZW_JA_FLOW_CHANGED);
	CU_ASSERT_STRING_EQUAL(c[1].name, "F-1");
	CU_ASSERT_STRING_EQUAL(c[2].name, "F-2");
	CU_ASSERT_PTR_NOT_NULL(strstr(c[1].before, "10.1.0.0/24"));
	CU_ASSERT_PTR_NOT_NULL(strstr(c[1].after, "10.1.0.0/23"));
	zw_changes__free(c, n);
	/* a flow renamed: removed + added */
	t2 = replace(base, "id: F-3", "id: F-9");
	m2 = load(t2);
	CU_ASSERT_EQUAL(zw_matrix__changes(m0, m2, &c, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(c[0].action, ZW_JA_FLOW_REMOVED);
	CU_ASSERT_STRING_EQUAL(c[0].name, "F-3");
	CU_ASSERT_EQUAL(c[0].old_idx, 2);
	CU_ASSERT_EQUAL(c[1].action, ZW_JA_FLOW_ADDED);
	CU_ASSERT_STRING_EQUAL(c[1].name, "F-9");
	zw_changes__free(c, n);
	zw_matrix__free(m0);
	zw_matrix__free(m1);
	zw_matrix__free(m2);
	free(t1);
	free(t2);
}

static void test_matrix_secret(void)
{
	char why[256];
	char *t = replace(base, "justification: tools", "justification: \"tools, admin password: S3cret!\"");
	struct zw_matrix *m = load(t), *m0 = load(base);

	CU_ASSERT_TRUE(zw_matrix__has_secret(m, why, sizeof(why)));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "F-2"));
	CU_ASSERT_FALSE(zw_matrix__has_secret(m0, why, sizeof(why)));
	zw_matrix__free(m);
	zw_matrix__free(m0);
	free(t);
}

/* Every op is mandatory (v2): a NULL one would crash the daemon. */
static void check_ops(const struct zw_backend_ops *o)
{
	CU_ASSERT_PTR_NOT_NULL(o->name);
	CU_ASSERT_PTR_NOT_NULL(o->open);
	CU_ASSERT_PTR_NOT_NULL(o->prepare);
	CU_ASSERT_PTR_NOT_NULL(o->commit);
	CU_ASSERT_PTR_NOT_NULL(o->abort);
	CU_ASSERT_PTR_NOT_NULL(o->read_back);
	CU_ASSERT_PTR_NOT_NULL(o->counters);
	CU_ASSERT_PTR_NOT_NULL(o->stats);
	CU_ASSERT_PTR_NOT_NULL(o->records);
	CU_ASSERT_PTR_NOT_NULL(o->describer);
	CU_ASSERT_PTR_NOT_NULL(o->watch_fd);
	CU_ASSERT_PTR_NOT_NULL(o->check);
	CU_ASSERT_PTR_NOT_NULL(o->close);
	CU_ASSERT_PTR_NOT_NULL(o->destroy);
}

static void test_registry(void)
{
	static const char *const names[] = {"nft", "xdp", "dpdk"};
	struct zw_backend *be;
	char err[256];

	/* the test engine is registered by the tests, not built in */
	CU_ASSERT_PTR_NOT_NULL(zw_backend__find("file"));
	CU_ASSERT_EQUAL(zw_backend__register(&zw_backend_file), -EEXIST);
	CU_ASSERT_PTR_NULL(zw_backend__find("nope"));
	check_ops(&zw_backend_file);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (zw_backend__find(names[i]))
			check_ops(zw_backend__find(names[i]));
	CU_ASSERT_EQUAL(zw_backend__open_spec("nope:x", &be, err, sizeof(err)),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "available: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "file"));
	CU_ASSERT_EQUAL(zw_backend__open_spec(":x", &be, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(zw_backend__open_spec("file", &be, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(zw_backend__open_spec("file:/nonexistent-dir/x.img",
					      &be, err, sizeof(err)),
			-ENOENT);
}

static void test_file_engine_and_describe(void)
{
	struct zw_matrix *m = load(base);
	const struct zw_backend_ops *ops;
	struct zw_backend *be;
	struct zw_backend_state st;
	struct zw_describer *ds;
	struct zw_ticket *t;
	struct zw_image *img;
	uint8_t *bytes;
	size_t len;
	char dir[256], spec[300], fail[300], err[256];
	char *d;
	FILE *f;

	zwt_tmpdir(dir, sizeof(dir), "state");
	CU_ASSERT_EQUAL_FATAL(zw_policy__compile(m, &bytes, &len), 0);
	img = zw_image__open(bytes, len, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	snprintf(spec, sizeof(spec), "file:%s/e.img", dir);
	CU_ASSERT_EQUAL_FATAL(zw_backend__open_spec(spec, &be, err, sizeof(err)), 0);
	ops = be->ops;
	CU_ASSERT_PTR_EQUAL(ops, &zw_backend_file);
	CU_ASSERT_EQUAL(ops->read_back(be, img, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 0);
	zw_backend_state__fini(&st);
	/* prepared then aborted: nothing enforced */
	CU_ASSERT_EQUAL_FATAL(ops->prepare(be, img, 20000, &t, err, sizeof(err)), 0);
	ops->abort(be, t);
	CU_ASSERT_EQUAL(ops->read_back(be, img, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 0);
	zw_backend_state__fini(&st);
	CU_ASSERT_EQUAL(zw_backend__apply(be, img, 20000, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ops->read_back(be, img, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 1);
	CU_ASSERT_EQUAL(memcmp(st.sha256, img->sha256, 32), 0);
	CU_ASSERT_PTR_NULL(st.drift);
	/* read back as data: the image's rules, in matrix terms */
	CU_ASSERT(st.rules_known);
	CU_ASSERT_EQUAL(st.n_rules, img->n_rules);
	{
		int found = 0;

		for (size_t i = 0; i < st.n_rules; i++)
			found += !strcmp(st.rules[i].flow_id, "F-1") &&
				 !strcmp(st.rules[i].from, "ops") &&
				 !strcmp(st.rules[i].to, "jump") &&
				 st.rules[i].proto == 6 && st.rules[i].lo == 22 &&
				 st.rules[i].hi == 22 && !st.rules[i].src;
		CU_ASSERT_EQUAL(found, 1);
	}
	zw_backend_state__fini(&st);
	/* told to fail: prepare fails, what is enforced does not change */
	snprintf(fail, sizeof(fail), "%s/e.img.fail", dir);
	f = fopen(fail, "w");
	fputs("no space left\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(zw_backend__apply(be, img, 20000, err, sizeof(err)), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no space left"));
	remove(fail);
	/* engine statistics: nothing counted without PATH.stats, then what
	 * it lists */
	{
		struct zw_engine_stats es;

		CU_ASSERT_EQUAL(ops->stats(be, &es), 0);
		CU_ASSERT_FALSE(es.has_conns);
		CU_ASSERT_FALSE(es.drop_counted[ZW_DROP_NO_FLOW]);
		snprintf(fail, sizeof(fail), "%s/e.img.stats", dir);
		f = fopen(fail, "w");
		fputs("drop no-flow 12\ndrop bogus 3\nconns 40 1024\n", f);
		fclose(f);
		CU_ASSERT_EQUAL(ops->stats(be, &es), 0);
		CU_ASSERT(es.drop_counted[ZW_DROP_NO_FLOW]);
		CU_ASSERT_EQUAL(es.drops[ZW_DROP_NO_FLOW], 12);
		CU_ASSERT_FALSE(es.drop_counted[ZW_DROP_RATE]);
		CU_ASSERT(es.has_conns);
		CU_ASSERT_EQUAL(es.conn_used, 40);
		CU_ASSERT_EQUAL(es.conn_size, 1024);
		CU_ASSERT_FALSE(es.has_early_drops);
		remove(fail);
	}
	/* describe: one line per rule, engine-neutral */
	ds = ops->describer(img);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ds);
	d = zw_describer__describe(ds, 0);
	CU_ASSERT_STRING_EQUAL(d, "ops -> jump tcp/22 src any dst any");
	free(d);
	d = zw_describer__describe(ds, 2);
	CU_ASSERT_STRING_EQUAL(d, "upd -> inet tcp/443 src any dst any");
	free(d);
	CU_ASSERT_PTR_NULL(zw_describer__describe(ds, 99));
	zw_describer__free(ds);
	CU_ASSERT_EQUAL(ops->destroy(be, err, sizeof(err)), 0);
	ops->close(be);
	zw_image__free(img);
	free(bytes);
	zw_matrix__free(m);
}

static void test_rules_from_journal(void)
{
	char dir[256], path[300], err[256];
	struct zw_journal *j;
	json_t *r;
	int64_t now = zw_time__now_us(), day = 86400LL * 1000000;

	zwt_tmpdir(dir, sizeof(dir), "rules");
	snprintf(path, sizeof(path), "%s/j.db", dir);
	j = zw_journal__open(path, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	struct {
		enum zw_journal_action a;
		const char *flow;
		int64_t ago_days;
		const char *reason;
	} ev[] = {
		{ZW_JA_FLOW_ADDED, "A", 500, "create A"},
		{ZW_JA_FLOW_ADDED, "B", 500, "create B"},
		{ZW_JA_FLOW_ADDED, "C", 400, "create C"},
		{ZW_JA_FLOW_REMOVED, "B", 380, "drop B long ago"},
		{ZW_JA_FLOW_CHANGED, "A", 30, "widen A"},
		{ZW_JA_FLOW_REMOVED, "C", 10, "drop C"},
		{ZW_JA_FLOW_ADDED, "D", 5, "create D"},
		{ZW_JA_FLOW_SUSPENDED, "D", 1, "crisis"},
	};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		struct zw_journal_entry e = {
			.action = ev[i].a, .flow = ev[i].flow, .user = "u",
			.reason = ev[i].reason, .version = (int64_t)i + 1,
			.time_us = now - ev[i].ago_days * day,
			.after = "{\"expires\":null}",
			.impl = "{\"file\":\"x\"}",
		};
		CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), 0);
	}
	r = zw_rules__json(j, 365, 20000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* A in force (modified), C deleted 10 days ago, D suspended; B was
	 * deleted more than 365 days ago: not listed */
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "count")), 3);
	json_t *rules = json_object_get(r, "rules");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(rules, 0), "flow")), "A");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_array_get(rules, 0), "modified"), "reason")), "widen A");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(rules, 1), "status")), "deleted");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_array_get(rules, 1), "deleted"), "reason")), "drop C");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(rules, 2), "status")), "suspended");
	json_decref(r);
	r = zw_rules__json(j, 5, 20000);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "count")), 2);
	json_decref(r);
	r = zw_rules__json(j, 600, 20000);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "count")), 4);
	json_decref(r);
	zw_journal__free(j);
}

/* Probes are journalled like zones and flows: added, changed (any field),
 * removed, after the flows; a matrix without probes has none. */
static void test_probe_changes(void)
{
	static const char p1[] = "probes:\n"
				 "  ids: {interface: probe0, zones: [xchg]}\n"
				 "  old: {interface: probe1, zones: [vpn]}\n";
	static const char p2[] = "probes:\n"
				 "  ids: {interface: probe0, zones: [xchg, inet], traffic: allowed}\n"
				 "  soc: {interface: probe1, zones: [vpn]}\n";
	char *t1 = malloc(sizeof(base) + sizeof(p1)), *t2 = malloc(sizeof(base) + sizeof(p2));
	struct zw_matrix *m0 = load(base), *m1, *m2;
	struct zw_change *c;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
	strcat(strcpy(t1, base), p1);
	strcat(strcpy(t2, base), p2);
	m1 = load(t1);
	m2 = load(t2);
	/* probes added, flows and zones unchanged */
	CU_ASSERT_EQUAL(zw_matrix__changes(m0, m1, &c, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(c[0].action, ZW_JA_PROBE_ADDED);
	CU_ASSERT_STRING_EQUAL(c[0].name, "ids");
	CU_ASSERT_PTR_NULL(c[0].before);
	CU_ASSERT_PTR_NOT_NULL(strstr(c[0].after, "\"interface\":\"probe0\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(c[0].after, "\"traffic\":\"all\""));
	CU_ASSERT_STRING_EQUAL(c[1].name, "old");
	zw_changes__free(c, n);
	/* ids changed, old removed, soc added: sorted by name */
	CU_ASSERT_EQUAL(zw_matrix__changes(m1, m2, &c, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(c[0].action, ZW_JA_PROBE_CHANGED);
	CU_ASSERT_STRING_EQUAL(c[0].name, "ids");
	CU_ASSERT_PTR_NOT_NULL(strstr(c[0].after, "\"zones\":[\"inet\",\"xchg\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(c[0].after, "\"traffic\":\"allowed\""));
	CU_ASSERT_EQUAL(c[1].action, ZW_JA_PROBE_REMOVED);
	CU_ASSERT_STRING_EQUAL(c[1].name, "old");
	CU_ASSERT_PTR_NULL(c[1].after);
	CU_ASSERT_EQUAL(c[2].action, ZW_JA_PROBE_ADDED);
	CU_ASSERT_STRING_EQUAL(c[2].name, "soc");
	zw_changes__free(c, n);
	CU_ASSERT_STRING_EQUAL(zw_journal_action__name(ZW_JA_PROBE_CHANGED), "probe-changed");
	CU_ASSERT_EQUAL(zw_journal_action__parse("probe-removed"), ZW_JA_PROBE_REMOVED);
	zw_matrix__free(m0);
	zw_matrix__free(m1);
	zw_matrix__free(m2);
	free(t1);
	free(t2);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	zw_backend__register(&zw_backend_file);
	s = CU_add_suite("state", NULL, NULL);
	CU_add_test(s, "changes between versions", test_changes);
	CU_add_test(s, "probe changes", test_probe_changes);
	CU_add_test(s, "secret in a matrix", test_matrix_secret);
	CU_add_test(s, "backend registry and specs", test_registry);
	CU_add_test(s, "file engine and describe", test_file_engine_and_describe);
	CU_add_test(s, "rules list from the journal", test_rules_from_journal);
	return zwt_run();
}
