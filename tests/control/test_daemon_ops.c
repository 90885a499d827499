/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld's operations driven in-process (zonewalld_ops.c) with the file
 * test engine: the midnight re-apply and its journal, the start-up
 * recovery after the daemon was down across midnight, requests with
 * out-of-range numbers, the engine set's transaction (engines.c) with two
 * engines. "Today" comes from a file (ZONEWALL_TODAY_FILE), as in the
 * daemon's shell test. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zonewall/backend.h>

#include "log.h"
#include "proto.h"
#include "state.h"
#include "testutil.h"
#include "zonewalld.h"

/* F-2 expires on 2026-11-01: live that day, expired from 2026-11-02. */
static const char matrix[] =
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
	"  - {id: F-2, from: jump, to: adm, services: [https], justification: tools, expires: 2026-11-01}\n"
	"  - {id: F-3, from: upd, to: inet, services: [https], justification: vendor updates}\n";

struct fixture {
	char dir[256];
	char img[300];	/* the first engine's file */
	char img2[300]; /* the second's, when n_engines is 2 */
	char today[300];
	size_t n_engines;
	struct zwd d;
};

static const struct zwd_author alice = {.uid = 1000, .name = "alice"};

static void set_today(struct fixture *fx, const char *date)
{
	FILE *f = fopen(fx->today, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "%s\n", date);
	fclose(f);
	setenv("ZONEWALL_TODAY_FILE", fx->today, 1);
}

/* Open the state and the engine as zonewalld's main() does, then recover. */
static void daemon_start(struct fixture *fx)
{
	char err[512], spec[320];
	struct zwd *d = &fx->d;

	memset(d, 0, sizeof(*d));
	d->state_dir = fx->dir;
	snprintf(d->db_path, sizeof(d->db_path), "%s/" ZW_STATE_DB, fx->dir);
	d->j = zw_journal__open(d->db_path, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->j);
	CU_ASSERT_EQUAL_FATAL(zw_state__init(zw_journal__sqlite(d->j)), 0);
	d->bes = calloc(fx->n_engines, sizeof(*d->bes));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->bes);
	for (size_t i = 0; i < fx->n_engines; i++) {
		snprintf(spec, sizeof(spec), "file:%s", i ? fx->img2 : fx->img);
		CU_ASSERT_EQUAL_FATAL(zw_backend__open_spec(spec, &d->bes[i].be,
							    err, sizeof(err)),
				      0);
		d->bes[i].spec = strdup(spec);
		d->n_bes = i + 1;
	}
	CU_ASSERT_EQUAL_FATAL(zwd__recover(d), 0);
}

/* A daemon driving @n_engines file engines: e.img, then e2.img. */
static void fixture_init_n(struct fixture *fx, const char *tag,
			   size_t n_engines)
{
	memset(fx, 0, sizeof(*fx));
	zwt_tmpdir(fx->dir, sizeof(fx->dir), tag);
	snprintf(fx->img, sizeof(fx->img), "%s/e.img", fx->dir);
	snprintf(fx->img2, sizeof(fx->img2), "%s/e2.img", fx->dir);
	snprintf(fx->today, sizeof(fx->today), "%s/today", fx->dir);
	fx->n_engines = n_engines;
	set_today(fx, "2026-11-01");
	daemon_start(fx);
}

static void fixture_init(struct fixture *fx, const char *tag)
{
	fixture_init_n(fx, tag, 1);
}

static json_t *request(struct fixture *fx, json_t *req)
{
	json_t *resp = zwd__handle(&fx->d, req, &alice);

	json_decref(req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	return resp;
}

static void commit(struct fixture *fx, const char *text)
{
	json_t *resp = request(fx, json_pack("{s:s, s:s, s:s, s:s}", "op",
					     "commit", "matrix", text, "file",
					     "t.yaml", "reason", "test"));

	if (!json_is_true(json_object_get(resp, "ok")))
		fprintf(stderr, "commit: %s\n",
			json_string_value(json_object_get(resp, "error")));
	CU_ASSERT_TRUE(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
}

/* Journal entries with this action (and flow, if not NULL). */
static int count(struct fixture *fx, const char *action, const char *flow)
{
	json_t *resp = request(fx, json_pack("{s:s}", "op", "journal")), *e;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(resp, "entries"), i, e) {
		const char *a = json_string_value(json_object_get(e, "action"));
		const char *f = json_string_value(json_object_get(e, "flow"));

		if (a && !strcmp(a, action) &&
		    (!flow || (f && !strcmp(f, flow))))
			n++;
	}
	json_decref(resp);
	return n;
}

/* The day the file engine was last programmed for. */
static int32_t engine_day(struct fixture *fx)
{
	char path[320];
	int day = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s.day", fx->img);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &day) != 1)
		day = -1;
	fclose(f);
	return day;
}

static int32_t date(const char *s)
{
	int32_t d = 0;

	CU_ASSERT_EQUAL(zw_date__parse(s, &d), 0);
	return d;
}

static void fail_engine(struct fixture *fx, bool on)
{
	char path[320];

	snprintf(path, sizeof(path), "%s.fail", fx->img);
	if (on) {
		FILE *f = fopen(path, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs("engine busy (simulated)\n", f);
		fclose(f);
	} else {
		unlink(path);
	}
}

/* Midnight with an engine that refuses the new day: the flow must not be
 * journalled as "no longer enforced" while the engine still enforces it,
 * and the daemon must try again at the next tick until it succeeds. */
static void test_midnight_engine_fails(void)
{
	struct fixture fx;

	fixture_init(&fx, "mid-fail");
	commit(&fx, matrix);
	CU_ASSERT_EQUAL(engine_day(&fx), date("2026-11-01"));

	fail_engine(&fx, true);
	set_today(&fx, "2026-11-02");
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(engine_day(&fx), date("2026-11-01"));
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 0);

	fail_engine(&fx, false);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(engine_day(&fx), date("2026-11-02"));
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__fini(&fx.d);
}

/* The daemon was down at midnight (or died between programming the engine
 * and journalling): at start the engine is re-programmed for today and the
 * expiry is journalled, once. */
static void test_midnight_while_down(void)
{
	struct fixture fx;

	fixture_init(&fx, "mid-down");
	commit(&fx, matrix);
	zwd__fini(&fx.d);

	set_today(&fx, "2026-11-02");
	daemon_start(&fx);
	CU_ASSERT_EQUAL(engine_day(&fx), date("2026-11-02"));
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__fini(&fx.d);

	/* restarting the same day journals nothing more */
	daemon_start(&fx);
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__fini(&fx.d);
}

/* A commit right after midnight, before the periodic tick noticed the new
 * day: the expiry of the previous version's flow is still journalled. */
static void test_commit_after_midnight_before_tick(void)
{
	struct fixture fx;
	char *m2 = strdup(matrix);

	*strstr(m2, "admin sessions") = 'A';
	fixture_init(&fx, "mid-commit");
	commit(&fx, matrix);
	set_today(&fx, "2026-11-02");
	commit(&fx, m2);
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(count(&fx, "flow-expired", "F-2"), 1);
	CU_ASSERT_EQUAL(engine_day(&fx), date("2026-11-02"));
	zwd__fini(&fx.d);
	free(m2);
}

/* L4: no password in any log, the daemon's own log included. A refused
 * commit logs why, and the validator's first diagnostic may quote the
 * matrix: what looks like a secret is redacted there too. */
static void test_refusal_log_has_no_secret(void)
{
	struct fixture fx;
	char bad[sizeof(matrix) + 16], *all = NULL;
	const char *p = strstr(matrix, "[ssh]");
	size_t len = 0;
	FILE *log = tmpfile();
	json_t *resp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	snprintf(bad, sizeof(bad), "%.*s[pwd=Hunter2]%s", (int)(p - matrix),
		 matrix, p + strlen("[ssh]"));
	fixture_init(&fx, "log-secret");
	zw_log__set_file(log);
	resp = request(&fx, json_pack("{s:s, s:s, s:s, s:s}", "op", "commit",
				      "matrix", bad, "file", "t.yaml", "reason",
				      "typo"));
	zw_log__set_file(NULL);
	CU_ASSERT_TRUE(json_is_false(json_object_get(resp, "ok")));
	json_decref(resp);
	CU_ASSERT_EQUAL(count(&fx, "commit-refused", NULL), 1);
	rewind(log);
	all = calloc(1, 65536);
	len = fread(all, 1, 65535, log);
	CU_ASSERT(len > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "event=refused"));
	/* the refusal names the first error, not a warning before it */
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "error[ZW002]"));
	CU_ASSERT_PTR_NULL(strstr(all, "warning[ZW"));
	CU_ASSERT_PTR_NULL(strstr(all, "Hunter2"));
	fclose(log);
	free(all);
	zwd__fini(&fx.d);
}

/* Day counts come from the client: out of range (beyond what zonectl
 * accepts, 0..100000) is a malformed request, never an overflow (signed
 * overflow computing the cut-off, or a silent truncation to int). */
static void test_day_counts_out_of_range(void)
{
	struct fixture fx;
	json_t *resp;

	fixture_init(&fx, "days");
	commit(&fx, matrix);
	resp = request(&fx, json_pack("{s:s, s:I}", "op", "journal",
				      "since_days", (json_int_t)200000000));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(resp, "status")), 2);
	json_decref(resp);
	resp = request(&fx, json_pack("{s:s, s:I}", "op", "journal",
				      "since_days", (json_int_t)100000));
	CU_ASSERT_TRUE(json_is_true(json_object_get(resp, "ok")));
	CU_ASSERT(json_integer_value(json_object_get(resp, "count")) > 0);
	json_decref(resp);
	resp = request(&fx, json_pack("{s:s, s:I}", "op", "rules",
				      "deleted_within_days",
				      (json_int_t)4294967301LL));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(resp, "status")), 2);
	json_decref(resp);
	resp = request(&fx, json_pack("{s:s, s:I}", "op", "rules",
				      "deleted_within_days", (json_int_t)-1));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(resp, "status")), 2);
	json_decref(resp);
	resp = request(&fx, json_pack("{s:s, s:I, s:s}", "op", "archive",
				      "older_than_days",
				      (json_int_t)200000000000LL, "reason",
				      "tidy"));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(resp, "status")), 2);
	json_decref(resp);
	zwd__fini(&fx.d);
}

static const char *rule_status(struct fixture *fx, const char *flow)
{
	static char st[32];
	json_t *resp = request(fx, json_pack("{s:s}", "op", "rules")), *r;
	size_t i;

	st[0] = '\0';
	json_array_foreach(json_object_get(resp, "rules"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "flow")), flow))
			snprintf(st, sizeof(st), "%s",
				 json_string_value(json_object_get(r, "status")));
	json_decref(resp);
	return st;
}

static json_t *crisis(struct fixture *fx, const char *measure)
{
	return request(fx, json_pack("{s:s, s:s, s:s}", "op", "crisis",
				     "measure", measure, "reason", "incident"));
}

/* The rules list (L1) says what is enforced: a flow a commit adds while
 * isolate-internet is in force is suspended (and journalled so, which is
 * what makes its flow-resumed at the end of the crisis make sense); an
 * expired flow a commit extends is in force again. */
static void test_rules_status_across_commits(void)
{
	struct fixture fx;
	char m2[sizeof(matrix) + 256], m3[sizeof(matrix) + 256];
	json_t *resp;

	snprintf(m2, sizeof(m2), "%s%s", matrix,
		 "  - {id: F-4, from: adm, to: inet, services: [https], justification: vendor portal}\n");
	fixture_init(&fx, "rules-status");
	commit(&fx, matrix);
	resp = crisis(&fx, "isolate-internet");
	CU_ASSERT_TRUE(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	CU_ASSERT_STRING_EQUAL(rule_status(&fx, "F-3"), "suspended");
	commit(&fx, m2);
	CU_ASSERT_STRING_EQUAL(rule_status(&fx, "F-4"), "suspended");
	CU_ASSERT_EQUAL(count(&fx, "flow-suspended", "F-4"), 1);
	resp = crisis(&fx, "end");
	CU_ASSERT_TRUE(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	CU_ASSERT_EQUAL(count(&fx, "flow-resumed", "F-4"), 1);
	CU_ASSERT_STRING_EQUAL(rule_status(&fx, "F-4"), "in-force");

	/* F-2 expires on 11-01; on 11-02 it is journalled expired; a commit
	 * extending it puts it back in force */
	set_today(&fx, "2026-11-02");
	zwd__day_tick(&fx.d);
	CU_ASSERT_STRING_EQUAL(rule_status(&fx, "F-2"), "expired");
	snprintf(m3, sizeof(m3), "%s", m2);
	memcpy(strstr(m3, "expires: 2026-11-01"), "expires: 2027-11-01", 19);
	commit(&fx, m3);
	CU_ASSERT_EQUAL(count(&fx, "flow-changed", "F-2"), 1);
	CU_ASSERT_STRING_EQUAL(rule_status(&fx, "F-2"), "in-force");
	zwd__fini(&fx.d);
}

/* An engine that could not be programmed at start (reconciliation failed:
 * it enforces nothing, or another image) is not left so until the next
 * restart: the daemon tries again at each tick, and journals the repair. */
static void test_failed_engine_retried(void)
{
	struct fixture fx;
	struct zw_backend_state st;
	int32_t day;

	fixture_init(&fx, "retry");
	commit(&fx, matrix);
	zwd__fini(&fx.d);
	unlink(fx.img);
	fail_engine(&fx, true);
	daemon_start(&fx);
	CU_ASSERT_EQUAL(count(&fx, "reconcile", NULL), 1);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(access(fx.img, F_OK), -1);
	fail_engine(&fx, false);
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(fx.d.bes[0].be->ops->read_back(fx.d.bes[0].be,
						       fx.d.enforced, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 1);
	CU_ASSERT_PTR_NULL(st.drift);
	zw_backend_state__fini(&st);
	day = engine_day(&fx);
	CU_ASSERT_EQUAL(day, date("2026-11-01"));
	CU_ASSERT_EQUAL(count(&fx, "reconcile", NULL), 2);
	CU_ASSERT_STRING_EQUAL(fx.d.bes[0].last_error, "");
	zwd__day_tick(&fx.d);
	CU_ASSERT_EQUAL(count(&fx, "reconcile", NULL), 2);
	zwd__fini(&fx.d);
}

/* SHA-256 of the image the file engine holds. */
static void engine_sha(struct fixture *fx, uint8_t out[32])
{
	char err[256];
	struct zw_image *img = zw_image__load(fx->img, err, sizeof(err));

	memset(out, 0, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(img);
	memcpy(out, img->sha256, 32);
	zw_image__free(img);
}

/* At start the active version's model is rebuilt from its matrix text to
 * derive the crisis image. If that text no longer validates (here the
 * stored text is damaged; a stricter validator after an upgrade does the
 * same), the stored image is the version's own, without the measures: the
 * daemon must not put it on the engines while isolate-internet is in
 * force. It refuses to start; the engines keep the crisis image. */
static void test_start_keeps_crisis_image(void)
{
	struct fixture fx;
	uint8_t before[32], after[32];
	json_t *resp;
	sqlite3 *h;
	char db[400], err[256];
	struct zwd *d = &fx.d;

	fixture_init(&fx, "crisis-start");
	commit(&fx, matrix);
	resp = crisis(&fx, "isolate-internet");
	CU_ASSERT_TRUE(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	engine_sha(&fx, before);
	zwd__fini(&fx.d);
	snprintf(db, sizeof(db), "%s/" ZW_STATE_DB, fx.dir);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &h), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_exec(h, "UPDATE versions SET matrix="
					"'zonewall: 1' WHERE n=1",
				     NULL, NULL, NULL),
			SQLITE_OK);
	sqlite3_close(h);

	/* as daemon_start(), but recovery is expected to fail */
	memset(d, 0, sizeof(*d));
	d->state_dir = fx.dir;
	snprintf(d->db_path, sizeof(d->db_path), "%s", db);
	d->j = zw_journal__open(d->db_path, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->j);
	d->bes = calloc(1, sizeof(*d->bes));
	snprintf(db, sizeof(db), "file:%s", fx.img);
	CU_ASSERT_EQUAL_FATAL(zw_backend__open_spec(db, &d->bes[0].be, err,
						    sizeof(err)),
			      0);
	d->bes[0].spec = strdup(db);
	d->n_bes = 1;
	CU_ASSERT(zwd__recover(d) < 0);
	engine_sha(&fx, after);
	CU_ASSERT_EQUAL(memcmp(before, after, 32), 0);
	CU_ASSERT_EQUAL(count(&fx, "reconcile", NULL), 0);
	zwd__fini(&fx.d);
}

/* ---- the engine set: a refusal by one engine changes no other ---- */

/* @path with @suffix appended. */
static const char *with(const char *path, const char *suffix)
{
	static char buf[4][400];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s%s", path, suffix);
	return buf[k];
}

static void touch(const char *path, const char *line)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "%s\n", line);
	fclose(f);
}

/* Lines of @path, -1 when it does not exist. */
static int lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* File engine @i holds the image with SHA-256 @sha (read back by
 * the engine itself), with no drift from what the daemon enforces. */
static void holds(struct fixture *fx, size_t i, const uint8_t sha[32])
{
	struct zw_backend *be = fx->d.bes[i].be;
	struct zw_backend_state st;

	CU_ASSERT_EQUAL_FATAL(be->ops->read_back(be, fx->d.enforced, &st), 0);
	CU_ASSERT_EQUAL(st.enforcing, 1);
	CU_ASSERT_EQUAL(memcmp(st.sha256, sha, 32), 0);
	CU_ASSERT_PTR_NULL(st.drift);
	zw_backend_state__fini(&st);
}

/* Journal entries with @action whose JSON contains every string of
 * @needles (NULL-terminated). */
static int count_with(struct fixture *fx, const char *action,
		      const char *const *needles)
{
	json_t *resp = request(fx, json_pack("{s:s}", "op", "journal")), *e;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(resp, "entries"), i, e) {
		const char *a = json_string_value(json_object_get(e, "action"));
		char *text = json_dumps(e, 0);
		bool all = a && !strcmp(a, action) && text;

		for (const char *const *p = needles; all && *p; p++)
			all = strstr(text, *p) != NULL;
		n += all;
		free(text);
	}
	json_decref(resp);
	return n;
}

/* A commit the engine set refuses: status 3, the version stays. */
static void commit_refused(struct fixture *fx, const char *text)
{
	json_t *resp = request(fx, json_pack("{s:s, s:s, s:s, s:s}", "op",
					     "commit", "matrix", text, "file",
					     "t.yaml", "reason", "test"));

	CU_ASSERT_TRUE(json_is_false(json_object_get(resp, "ok")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(resp, "status")), 3);
	json_decref(resp);
}

/* Two engines; the second refuses at prepare. The first was prepared and
 * its ticket aborted: it was never switched, so nothing was put back on it
 * (no second apply), its prepared files are gone and it still holds v1,
 * the very same file. */
static void test_engine_set_prepare_refused(void)
{
	struct fixture fx;
	char m2[sizeof(matrix)];
	uint8_t v1[32];
	struct stat before, after;
	/* (the journal redacts the random part of the test's paths: the
	 * engine is named by its spec in the log) */
	const char *const why[] = {"backend file:", "no engine was changed",
				   "engine busy (simulated)", NULL};
	char who[400], *all;
	FILE *log = tmpfile();

	snprintf(m2, sizeof(m2), "%s", matrix);
	*strstr(m2, "admin sessions") = 'A';
	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	fixture_init_n(&fx, "set-prepare", 2);
	snprintf(who, sizeof(who), "event=prepare-failed backend=file:%s ",
		 fx.img2);
	commit(&fx, matrix);
	engine_sha(&fx, v1);
	CU_ASSERT_EQUAL(lines(with(fx.img, ".applied")), 1);
	CU_ASSERT_EQUAL(lines(with(fx.img2, ".applied")), 1);
	CU_ASSERT_EQUAL_FATAL(stat(fx.img, &before), 0);

	touch(with(fx.img2, ".fail"), "engine busy (simulated)");
	zw_log__set_file(log);
	commit_refused(&fx, m2);
	zw_log__set_file(NULL);
	CU_ASSERT_EQUAL(fx.d.active, 1);
	CU_ASSERT_EQUAL(lines(with(fx.img, ".applied")), 1);
	CU_ASSERT_EQUAL(lines(with(fx.img2, ".applied")), 1);
	CU_ASSERT_EQUAL_FATAL(stat(fx.img, &after), 0);
	CU_ASSERT_EQUAL(before.st_ino, after.st_ino); /* never replaced */
	CU_ASSERT_FALSE(exists(with(fx.img, ".new")));
	CU_ASSERT_FALSE(exists(with(fx.img, ".day.new")));
	CU_ASSERT_FALSE(exists(with(fx.img2, ".new")));
	CU_ASSERT_FALSE(exists(with(fx.img2, ".day.new")));
	holds(&fx, 0, v1);
	holds(&fx, 1, v1);
	CU_ASSERT_FALSE(fx.d.bes[0].dirty);
	CU_ASSERT_FALSE(fx.d.bes[1].dirty);
	CU_ASSERT_EQUAL(count_with(&fx, "commit-refused", why), 1);
	rewind(log);
	all = calloc(1, 65536);
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	CU_ASSERT(fread(all, 1, 65535, log) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(all, who));
	CU_ASSERT_PTR_NULL(strstr(all, "event=commit-failed"));
	free(all);
	fclose(log);

	/* the engine accepts again: the same change goes through */
	unlink(with(fx.img2, ".fail"));
	commit(&fx, m2);
	CU_ASSERT_EQUAL(lines(with(fx.img, ".applied")), 2);
	CU_ASSERT_EQUAL(lines(with(fx.img2, ".applied")), 2);
	zwd__fini(&fx.d);
}

/* Two engines; the second refuses at commit, after the first switched to
 * v2: the documented fallback puts v1 back on the first (engines.c), the
 * second never left v1, and the refusal is journalled and logged. */
static void test_engine_set_commit_refused(void)
{
	struct fixture fx;
	char m2[sizeof(matrix)], who[400], *all;
	uint8_t v1[32];
	FILE *log = tmpfile();
	const char *const why[] = {"backend file:", "failed to switch",
				   "generation moved (simulated)",
				   "restored to the previous policy", NULL};
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	snprintf(m2, sizeof(m2), "%s", matrix);
	*strstr(m2, "admin sessions") = 'A';
	fixture_init_n(&fx, "set-commit", 2);
	snprintf(who, sizeof(who), "event=commit-failed backend=file:%s ",
		 fx.img2);
	commit(&fx, matrix);
	engine_sha(&fx, v1);

	touch(with(fx.img2, ".commit-fail"), "generation moved (simulated)");
	zw_log__set_file(log);
	commit_refused(&fx, m2);
	zw_log__set_file(NULL);
	CU_ASSERT_EQUAL(fx.d.active, 1);
	/* the first: v1, v2, then v1 again */
	CU_ASSERT_EQUAL(lines(with(fx.img, ".applied")), 3);
	CU_ASSERT_EQUAL(lines(with(fx.img2, ".applied")), 1);
	CU_ASSERT_FALSE(exists(with(fx.img, ".new")));
	CU_ASSERT_FALSE(exists(with(fx.img2, ".new")));
	CU_ASSERT_FALSE(exists(with(fx.img2, ".day.new")));
	holds(&fx, 0, v1);
	holds(&fx, 1, v1);
	CU_ASSERT_FALSE(fx.d.bes[0].dirty);
	CU_ASSERT_STRING_EQUAL(fx.d.bes[0].last_error, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(fx.d.bes[1].last_error,
				      "generation moved (simulated)"));
	CU_ASSERT_EQUAL(count_with(&fx, "commit-refused", why), 1);
	rewind(log);
	all = calloc(1, 65536);
	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	len = fread(all, 1, 65535, log);
	CU_ASSERT(len > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(all, who));
	CU_ASSERT_PTR_NULL(strstr(all, "event=restore-failed"));
	free(all);
	fclose(log);
	zwd__fini(&fx.d);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	zw_backend__register(&zw_backend_file);
	s = CU_add_suite("daemon-ops", NULL, NULL);
	CU_add_test(s, "midnight: engine refuses the new day",
		    test_midnight_engine_fails);
	CU_add_test(s, "midnight while the daemon was down",
		    test_midnight_while_down);
	CU_add_test(s, "commit after midnight before the tick",
		    test_commit_after_midnight_before_tick);
	CU_add_test(s, "refusal logged without the secret",
		    test_refusal_log_has_no_secret);
	CU_add_test(s, "day counts out of range", test_day_counts_out_of_range);
	CU_add_test(s, "rules status across commits",
		    test_rules_status_across_commits);
	CU_add_test(s, "failed engine retried", test_failed_engine_retried);
	CU_add_test(s, "start keeps the crisis image",
		    test_start_keeps_crisis_image);
	CU_add_test(s, "engine set: the last refuses at prepare",
		    test_engine_set_prepare_refused);
	CU_add_test(s, "engine set: the last refuses at commit",
		    test_engine_set_commit_refused);
	return zwt_run();
}
