/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine against the oracle, packet by packet, through
 * BPF_PROG_TEST_RUN: for every example matrix and for random matrices, the
 * shared corpus (tests/corpus) of two phases (the matrix, then a variant
 * with flows removed and a host blocked, applied between the phases) must
 * get, on 100 % of frames:
 *   - the expected action (XDP_PASS / XDP_DROP);
 *   - for drops, one drop record with the expected reason and the
 *     generation in force;
 *   - for new connections, one new-connection record with the flow the
 *     reference evaluator names (or none for same-zone traffic);
 *   - for other passing frames, no record;
 * and the engine's counters must agree with the corpus: drops by reason,
 * new connections per flow.
 *
 * Environment: ZW_BPF_RANDOM (random matrices, default 6), ZW_BPF_SEED.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"
#include "gen.h"
#include "harness.h"
#include "xdp.h"

static unsigned long total, mismatches;

static void report(const struct zw_cx_pkt *p, size_t i, const struct zwt_result *r,
		   const char *what)
{
	mismatches++;
	if (mismatches > 25)
		return;
	fprintf(stderr,
		"  MISMATCH #%zu (%s) phase %u: %s\n"
		"    expected %s reason %u new %u flow %d; got action %d, %d record(s)"
		" [event %u reason %u flow %d gen %u]\n",
		i, p->label, p->phase, what, p->pass ? "pass" : "drop", p->reason,
		p->is_new, p->flow == ZW_NO_FLOW ? -1 : (int)p->flow, r->action,
		r->n_records, r->rec.event, r->rec.reason,
		r->rec.flow == ZW_NO_FLOW ? -1 : (int)r->rec.flow, r->rec.generation);
}

static int run_matrix(const char *name, struct zw_image *a, struct zw_image *b,
		      uint64_t seed)
{
	int32_t day = zw_date__today();
	struct zw_corpus *c = zw_corpus__new(day);
	unsigned long before = mismatches;
	uint64_t want_drops[ZW_DROP__COUNT] = {0}, stats[ZW_XDP_N_STATS];
	uint64_t *want_new = calloc(a->n_flows + 1, sizeof(*want_new));
	struct zw_flow_counters *cnt = calloc(a->n_flows + 1, sizeof(*cnt));
	struct zw_xdp *x;
	char dir[256], err[512];
	uint32_t phase = 0, gen;
	size_t n;

	if (!c || !want_new || !cnt || zw_corpus__add_phase(c, a, seed, 3000) ||
	    zw_corpus__add_phase(c, b, seed + 1, 3000)) {
		fprintf(stderr, "%s: cannot build the corpus\n", name);
		exit(1);
	}
	x = zwt_instance_new(dir, sizeof(dir));
	if (zw_xdp__apply(x, a, day, err, sizeof(err))) {
		fprintf(stderr, "%s: apply: %s\n", name, err);
		exit(1);
	}
	gen = 1;
	n = zw_corpus__count(c);
	for (size_t i = 0; i < n; i++) {
		const struct zw_cx_pkt *p = zw_corpus__pkt(c, i);
		struct zwt_result r;

		if (p->phase != phase) {
			/* counters of phase 0 before the swap */
			if (zw_xdp__counters(x, cnt, a->n_flows)) {
				fprintf(stderr, "%s: counters\n", name);
				exit(1);
			}
			for (uint32_t f = 0; f < a->n_flows; f++)
				if (cnt[f].new_conns != want_new[f]) {
					mismatches++;
					fprintf(stderr, "  %s: flow %u counted %llu new "
						"connections, corpus says %llu\n", name, f,
						(unsigned long long)cnt[f].new_conns,
						(unsigned long long)want_new[f]);
				}
			if (zw_xdp__apply(x, b, day, err, sizeof(err))) {
				fprintf(stderr, "%s: apply: %s\n", name, err);
				exit(1);
			}
			phase = p->phase;
			gen++;
		}
		zwt_run(x, p->frame, p->len, &r);
		total++;
		if (!p->pass)
			want_drops[p->reason]++;
		if (p->is_new && p->phase == 0 && p->flow != ZW_NO_FLOW)
			want_new[p->flow]++;
		if (r.action != (p->pass ? XDP_PASS : XDP_DROP)) {
			report(p, i, &r, "action");
			continue;
		}
		if (!p->pass) {
			if (r.n_records != 1 || r.rec.event != ZW_EV_DROP ||
			    r.rec.reason != p->reason || r.rec.generation != gen)
				report(p, i, &r, "drop record");
		} else if (p->is_new) {
			if (r.n_records != 1 || r.rec.event != ZW_EV_NEW ||
			    r.rec.flow != p->flow || r.rec.generation != gen)
				report(p, i, &r, "new-connection record");
		} else if (r.n_records) {
			report(p, i, &r, "unexpected record");
		}
	}
	if (zw_xdp__stats(x, stats)) {
		fprintf(stderr, "%s: stats\n", name);
		exit(1);
	}
	for (int k = 1; k < ZW_DROP__COUNT; k++)
		if (stats[k] != want_drops[k]) {
			mismatches++;
			fprintf(stderr, "  %s: %llu drops counted with reason %d, corpus says %llu\n",
				name, (unsigned long long)stats[k], k,
				(unsigned long long)want_drops[k]);
		}
	{
		char *drift = zw_xdp__drift(x, b);

		if (drift) {
			mismatches++;
			fprintf(stderr, "  %s: drift after apply:\n%s", name, drift);
			free(drift);
		}
	}
	printf("%-40s %6zu frames (%u flows, %u zones): %s\n", name, n, a->n_flows,
	       a->n_zones, mismatches == before ? "all agree" : "MISMATCHES");
	zwt_instance_free(x);
	zw_corpus__free(c);
	free(want_new);
	free(cnt);
	return 0;
}

static void one(const char *name, struct zw_image *a, struct zw_matrix *m,
		uint64_t seed)
{
	struct zw_image *b;
	uint8_t *bytes;
	size_t len;
	char err[256];

	if (zw_corpus__variant(m, seed, &bytes, &len) ||
	    !(b = zw_image__open(bytes, len, err, sizeof(err)))) {
		fprintf(stderr, "%s: cannot build the variant\n", name);
		exit(1);
	}
	free(bytes);
	run_matrix(name, a, b, seed);
	zw_image__free(b);
}

int main(void)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	const char *nr = getenv("ZW_BPF_RANDOM");
	const char *sd = getenv("ZW_BPF_SEED");
	int n_random = nr ? atoi(nr) : 6;
	uint64_t seed = sd ? strtoull(sd, NULL, 0) : 20261101;
	char path[4096];
	DIR *d;
	struct dirent *e;
	int examples = 0;

	zwt_require_bpf("bpf-diff");
	snprintf(path, sizeof(path), "%s/matrix/examples", src ? src : ".");
	d = opendir(path);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct zw_matrix *m;
		struct zw_image *a;
		char file[4096 + 256];

		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		a = zwt_image_of_file(file, &m);
		one(e->d_name, a, m, seed);
		zw_image__free(a);
		zw_matrix__free(m);
		examples++;
	}
	if (d)
		closedir(d);
	if (!examples) {
		fprintf(stderr, "no example matrix in %s\n", path);
		return 1;
	}
	for (int i = 0; i < n_random; i++) {
		struct zw_gen_opts o = {
			.seed = seed + (uint64_t)i * 7919,
			.n_zones = 7 + (size_t)(i * 5) % 20,
			.n_flows = 10 + (size_t)(i * 37) % 120,
			.n_services = (size_t)i % 8,
			.ipv6 = i % 2 == 0,
			.narrowing = i % 3 != 2,
			.expiry = i % 2 == 1,
		};
		char *yaml = zw_gen__matrix(&o);
		char name[64];
		struct zw_matrix *m;
		struct zw_image *a;

		snprintf(name, sizeof(name), "random-%d (seed %llu)", i,
			 (unsigned long long)o.seed);
		a = zwt_image_of_text(yaml, name, &m);
		one(name, a, m, o.seed);
		zw_image__free(a);
		zw_matrix__free(m);
		free(yaml);
	}
	printf("bpf-diff: %lu frames, %lu mismatches\n", total, mismatches);
	return mismatches ? 1 : 0;
}
