/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * commit-bench: zonewalld's commit latency (validate -> compile -> store ->
 * every backend applied -> journal durable) for generated matrices of 100,
 * 10 000 and 100 000 flows, beside a baseline measured in the same run
 * (parse+validate+compile alone); journal append and verify rates beside
 * raw SQLite inserts; verify over one year of simulated history
 * (200 commits a day). Prints figures; it is not a pass/fail test.
 *
 * usage: commit-bench [--quick] [--max-flows N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "journal_priv.h"
#include "log.h"
#include "state.h"
#include "zonewalld.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A valid matrix of @n flows over 50 zones (minimal profile). Flow i goes
 * between a pair of the 45 servers/internal-service zones on one of 64
 * single-port TCP services, each (pair, service) used once, so no flow is
 * redundant. @variant renames 1 flow in 100 so a second commit has
 * something to journal. */
static char *gen_matrix(size_t n, int variant, size_t *len)
{
	static const char *const fixed[] = {
		"ops:  {kind: operations, isolate: true, networks: [10.0.0.0/24]}",
		"adm:  {kind: admin, networks: [10.0.1.0/24]}",
		"upd:  {kind: update, networks: [10.0.2.0/24]}",
		"vpn:  {kind: remote-access, networks: [10.0.3.0/24]}",
		"xchg: {kind: provider-exchange, networks: [10.0.4.0/24]}",
	};
	const int nz = 45, npairs = nz * (nz - 1), nsvc = 64;
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);

	fputs("zonewall: 1\nname: bench\nzones:\n", f);
	for (size_t i = 0; i < 5; i++)
		fprintf(f, "  %s\n", fixed[i]);
	for (int z = 0; z < nz; z++)
		fprintf(f, "  z%02d: {kind: %s, networks: [10.%d.0.0/16]}\n", z,
			z % 2 ? "servers" : "internal-service", 10 + z);
	fputs("services:\n", f);
	for (int p = 0; p < nsvc; p++)
		fprintf(f, "  p%d: {proto: tcp, ports: [%d]}\n", p, 2000 + p);
	fputs("flows:\n", f);
	for (size_t i = 0; i < n; i++) {
		int pair = (int)(i % (size_t)npairs);
		int svc = (int)(i / (size_t)npairs) % nsvc;
		int a = pair / (nz - 1), b = pair % (nz - 1);

		if (b >= a)
			b++;
		fprintf(f,
			"  - {id: F-%06zu%s, from: z%02d, to: z%02d, services: "
			"[p%d], justification: generated flow %zu}\n",
			i, variant && i % 100 == 0 ? "b" : "", a, b, svc, i);
	}
	fclose(f);
	*len = sz;
	return buf;
}

static int setup(struct zwd *d, const char *dir)
{
	char err[512];

	d->state_dir = dir;
	snprintf(d->db_path, sizeof(d->db_path), "%s/%s", dir, ZW_STATE_DB);
	d->j = zw_journal__open(d->db_path, 0, err, sizeof(err));
	if (!d->j || zw_state__init(zw_journal__sqlite(d->j))) {
		fprintf(stderr, "commit-bench: %s\n", err);
		return -1;
	}
	d->bes = calloc(2, sizeof(*d->bes));
	snprintf(err, sizeof(err), "file:%s/engine.img", dir);
	d->bes[0].spec = strdup(err);
	if (zw_backend__open_spec(err, &d->bes[0].be, err, sizeof(err)) < 0) {
		fprintf(stderr, "commit-bench: %s\n", err);
		return -1;
	}
	d->n_bes = 1;
	return zwd__recover(d);
}

static double commit(struct zwd *d, const char *text, size_t len,
		     const char *reason)
{
	struct zwd_author who = {.uid = 0};
	json_t *req = json_pack("{s:s, s:s%, s:s, s:s}", "op", "commit",
				"matrix", text, len, "file", "bench.yaml",
				"reason", reason);
	double t0 = now_s(), t;
	json_t *resp = zwd__handle(d, req, &who);

	t = now_s() - t0;
	if (!json_is_true(json_object_get(resp, "ok")))
		fprintf(stderr, "commit-bench: commit failed: %s\n",
			json_string_value(json_object_get(resp, "error")));
	json_decref(req);
	json_decref(resp);
	return t;
}

static double baseline_compile(const char *text, size_t len)
{
	struct zw_diags dg;
	double t0 = now_s();
	struct zw_matrix *m;
	uint8_t *img = NULL;
	size_t n = 0;

	zw_diags__init(&dg, "bench.yaml");
	m = zw_matrix__parse(text, len, "bench.yaml", &dg);
	zw_matrix__validate(m, zw_date__today(), &dg);
	if (dg.n_errors) {
		zw_diags__print_text(&dg, stderr);
	}
	zw_policy__compile(m, &img, &n);
	free(img);
	zw_matrix__free(m);
	zw_diags__fini(&dg);
	return now_s() - t0;
}

static void tmpdir(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "/tmp/zw-bench-%s-XXXXXX", tag);
	if (!mkdtemp(out)) {
		perror("mkdtemp");
		exit(3);
	}
}

static void rmrf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		(void)0;
}

static void bench_commits(size_t max)
{
	static const size_t sizes[] = {100, 10000, 100000};

	printf("== commit latency (validate -> all backends applied -> journal "
	       "durable), file engine ==\n");
	printf("%8s %14s %14s %16s %14s %10s\n", "flows", "baseline(s)",
	       "commit(s)", "re-commit 1%(s)", "entries", "image(KiB)");
	for (size_t k = 0; k < 3; k++) {
		size_t n = sizes[k], len, len2;
		char dir[64];
		struct zwd d = {0};

		if (n > max)
			break;
		char *text = gen_matrix(n, 0, &len);
		char *text2 = gen_matrix(n, 1, &len2);
		double base = baseline_compile(text, len);

		tmpdir(dir, sizeof(dir), "commit");
		if (setup(&d, dir) < 0)
			exit(3);
		double c1 = commit(&d, text, len, "bench: first commit");
		double c2 = commit(&d, text2, len2, "bench: rename 1%");
		int64_t head;

		zw_journal__head(d.j, &head, NULL);
		printf("%8zu %14.3f %14.3f %16.3f %14lld %10zu\n", n, base, c1, c2,
		       (long long)head, d.enforced ? d.enforced->size / 1024 : 0);
		fflush(stdout);
		zwd__fini(&d);
		rmrf(dir);
		free(text);
		free(text2);
	}
	printf("target: 10 000 flows committed in < 2 s\n\n");
}

static void bench_journal(size_t n)
{
	char dir[64], path[128], err[256];
	struct zw_journal *j;
	struct zw_journal_verify v;
	double t0, t_tx, t_one, t_raw, t_ver;
	const size_t n_one = 200;

	tmpdir(dir, sizeof(dir), "journal");
	snprintf(path, sizeof(path), "%s/j.db", dir);
	j = zw_journal__open(path, 0, err, sizeof(err));
	if (!j) {
		fprintf(stderr, "%s\n", err);
		exit(3);
	}
	struct zw_journal_entry e = {
		.action = ZW_JA_FLOW_ADDED, .uid = 1000, .user = "alice",
		.version = 1, .reason = "bench entry", .flow = "F-000001",
		.after = "{\"id\":\"F-000001\",\"from\":{\"zone\":\"ops\"},"
			 "\"to\":{\"zone\":\"jump\"},\"services\":[{\"name\":"
			 "\"ssh\"}],\"justification\":\"admin sessions\"}",
		.impl = "{\"nft\":\"ip saddr @z_ops ip daddr @z_jump tcp dport "
			"22 accept\"}",
	};
	/* baseline: raw SQLite inserts of the same size, one transaction */
	{
		sqlite3 *db = zw_journal__sqlite(j);
		sqlite3_stmt *st;
		char blob[600];

		memset(blob, 'x', sizeof(blob) - 1);
		blob[sizeof(blob) - 1] = 0;
		sqlite3_exec(db, "CREATE TABLE raw (a INTEGER PRIMARY KEY, b TEXT);"
				 "BEGIN",
			     NULL, NULL, NULL);
		sqlite3_prepare_v2(db, "INSERT INTO raw (b) VALUES (?)", -1, &st,
				   NULL);
		t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			sqlite3_bind_text(st, 1, blob, -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		t_raw = now_s() - t0;
		sqlite3_finalize(st);
	}
	t0 = now_s();
	zw_journal__begin(j);
	for (size_t i = 0; i < n; i++)
		zw_journal__append(j, &e, NULL);
	zw_journal__commit(j);
	t_tx = now_s() - t0;
	t0 = now_s();
	for (size_t i = 0; i < n_one; i++)
		zw_journal__append(j, &e, NULL);
	t_one = now_s() - t0;
	t0 = now_s();
	zw_journal__verify(j, &v);
	t_ver = now_s() - t0;
	printf("== journal ==\n");
	printf("raw SQLite insert (baseline, 1 tx): %10.0f rows/s\n", n / t_raw);
	printf("append, %zu in one transaction:   %10.0f entries/s\n", n,
	       n / t_tx);
	printf("append, one fsync'd commit each:   %10.0f entries/s (%zu)\n",
	       n_one / t_one, n_one);
	printf("verify:                            %10.0f entries/s (%lld, %s)\n\n",
	       v.entries / t_ver, (long long)v.entries, v.ok ? "intact" : "BAD");
	zw_journal__free(j);
	rmrf(dir);
}

/* One year at 200 commits a day, each commit = 1 summary + 3 flow
 * entries, time-stamped over the year. */
static void bench_year(int days)
{
	char dir[64], path[128], err[256];
	struct zw_journal *j;
	struct zw_journal_verify v;
	int64_t start = zw_time__now_us() - (int64_t)days * 86400 * 1000000;
	double t0, t_fill, t_ver;
	int64_t version = 0;

	tmpdir(dir, sizeof(dir), "year");
	snprintf(path, sizeof(path), "%s/j.db", dir);
	j = zw_journal__open(path, 0, err, sizeof(err));
	t0 = now_s();
	for (int d = 0; d < days; d++) {
		zw_journal__begin(j);
		for (int c = 0; c < 200; c++) {
			char flow[32];
			int64_t t = start + (int64_t)d * 86400 * 1000000 +
				    (int64_t)c * 400 * 1000000;
			struct zw_journal_entry e = {
				.action = ZW_JA_COMMIT, .uid = 1000,
				.user = "alice", .version = ++version,
				.reason = "routine change CHG-4711",
				.time_us = t,
				.detail = "version N active: 2 flow(s) added, 1 "
					  "changed, 0 removed",
			};

			zw_journal__append(j, &e, NULL);
			for (int k = 0; k < 3; k++) {
				snprintf(flow, sizeof(flow), "F-%05d",
					 (int)((version * 3 + k) % 20000));
				e.action = k < 2 ? ZW_JA_FLOW_ADDED
						 : ZW_JA_FLOW_CHANGED;
				e.flow = flow;
				e.detail = NULL;
				e.after = "{\"id\":\"F\",\"justification\":\"x\"}";
				e.impl = "{\"nft\":\"rule\"}";
				e.time_us = t + k + 1;
				zw_journal__append(j, &e, NULL);
			}
		}
		zw_journal__commit(j);
	}
	t_fill = now_s() - t0;
	t0 = now_s();
	zw_journal__verify(j, &v);
	t_ver = now_s() - t0;
	printf("== one year of history (%d days x 200 commits) ==\n", days);
	printf("entries %lld, written in %.1f s; verify %.2f s (%.0f entries/s), "
	       "%s\n",
	       (long long)v.entries, t_fill, t_ver, v.entries / t_ver,
	       v.ok ? "intact" : "BAD");
	{
		FILE *p = fopen(path, "rb");

		if (p) {
			fseek(p, 0, SEEK_END);
			printf("database size %.1f MiB\n", ftell(p) / 1048576.0);
			fclose(p);
		}
	}
	zw_journal__free(j);
	rmrf(dir);
}

int main(int argc, char **argv)
{
	size_t max = 100000;
	bool quick = false;

	zw_backend__register(&zw_backend_file);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--max-flows") && i + 1 < argc)
			max = strtoul(argv[++i], NULL, 10);
		else {
			fputs("usage: commit-bench [--quick] [--max-flows N]\n",
			      stderr);
			return 2;
		}
	}
	setenv("ZONEWALL_TODAY", "2026-11-01", 0);
	/* the daemon's own log would interleave with the figures */
	zw_log__set_file(fopen("/dev/null", "w"));
	bench_commits(quick ? 10000 : max);
	bench_journal(quick ? 20000 : 100000);
	bench_year(quick ? 30 : 365);
	return 0;
}
