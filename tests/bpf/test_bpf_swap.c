/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A policy swap in the middle of a packet stream never mixes policies.
 *
 * Policies A and B are built so that each allows every test packet, by a
 * different flow, while any mixture of the two denies it: B swaps the
 * networks of zones za and zb, so the packets (za's addresses in A → zb's
 * in A) are za→zb in A (flow 0, F-A) and zb→za in B (flow 1, F-B); A's
 * zones with B's rules (za→zb: only ports 2000-2999) or B's zones with A's
 * rules (no zb→za rule) deny. One thread runs a stream of new-connection
 * SYNs (IPv4 and IPv6) through BPF_PROG_TEST_RUN while the main thread
 * applies B, then A again. Every packet must pass, with one new-connection
 * record whose flow is the one of the policy of the generation it carries
 * (odd: A, even: B); generations never go backwards along the stream; and
 * every generation must have been seen (the swaps happened mid-stream).
 * Then several handles write the instance at once (concurrent_writers).
 */
#include <linux/bpf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/flow_record.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"
#include "harness.h"
#include "pkt_build.h"
#include "xdp.h"

#define ZONES_COMMON                                                        \
	"  ops:\n    kind: operations\n    networks: [10.90.0.0/24]\n    isolate: true\n" \
	"  srv:\n    kind: servers\n    networks: [10.91.0.0/24]\n"           \
	"  adm:\n    kind: admin\n    networks: [10.92.0.0/24]\n"             \
	"  upd:\n    kind: update\n    networks: [10.93.0.0/24]\n"            \
	"  ra:\n    kind: remote-access\n    networks: [10.94.0.0/24]\n"      \
	"  ex:\n    kind: client-exchange\n    networks: [10.95.0.0/24]\n"    \
	"services:\n"                                                        \
	"  app:\n    proto: tcp\n    ports: [\"1000-1999\"]\n"                \
	"  app2:\n    proto: tcp\n    ports: [\"2000-2999\"]\n"

static const char *const matrix_a =
	"zonewall: 1\nname: swap-a\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.1.0.0/16, \"fd01::/32\"]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.2.0.0/16, \"fd02::/32\"]\n"
	ZONES_COMMON
	"flows:\n"
	"  - id: F-A\n    from: za\n    to: zb\n    services: [app]\n"
	"    justification: swap test, policy A\n";

static const char *const matrix_b =
	"zonewall: 1\nname: swap-b\nzones:\n"
	"  za:\n    kind: internal-service\n    networks: [10.2.0.0/16, \"fd02::/32\"]\n"
	"  zb:\n    kind: internal-service\n    networks: [10.1.0.0/16, \"fd01::/32\"]\n"
	ZONES_COMMON
	"flows:\n"
	"  - id: F-X\n    from: za\n    to: zb\n    services: [app2]\n"
	"    justification: swap test, policy B, decoy\n"
	"  - id: F-B\n    from: zb\n    to: za\n    services: [app]\n"
	"    justification: swap test, policy B\n";

#define MAX_PKTS 400000

struct frame {
	uint8_t b[96];
	uint16_t len;
};

static struct frame *frames;
static struct zwt_result *results;
static atomic_size_t done;
static atomic_int stop;
static struct zw_xdp *x;

static void build_frames(void)
{
	frames = calloc(MAX_PKTS, sizeof(*frames));
	results = calloc(MAX_PKTS, sizeof(*results));
	if (!frames || !results)
		exit(1);
	for (size_t i = 0; i < MAX_PKTS; i++) {
		struct zw_pb s;
		char src[64], dst[64];
		size_t n;

		if (i % 2) {
			snprintf(src, sizeof(src), "fd01::%zx:%zx", (i >> 16) & 0xffff, i & 0xffff);
			snprintf(dst, sizeof(dst), "fd02::%zx", (i * 7) & 0xffff);
		} else {
			snprintf(src, sizeof(src), "10.1.%zu.%zu", (i >> 8) & 255, i & 255);
			snprintf(dst, sizeof(dst), "10.2.%zu.%zu", (i >> 3) & 255, 1 + (i & 127));
		}
		zw_pb__init(&s, src, dst, 6, (uint16_t)(1024 + (i / 65536) % 60000 + (i % 7)),
			    (uint16_t)(1000 + i % 1000));
		n = zw_pb__build(&s, frames[i].b, sizeof(frames[i].b));
		if (!n || n > sizeof(frames[i].b))
			exit(1);
		frames[i].len = (uint16_t)n;
	}
}

static void *runner(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < MAX_PKTS && !atomic_load(&stop); i++) {
		zwt_run(x, frames[i].b, frames[i].len, &results[i]);
		atomic_store(&done, i + 1);
	}
	return NULL;
}

/*
 * Writers on one instance from several handles at once (zonewalld and an
 * operator's zw-xdp, say): two appliers alternating A and B, one changing
 * the record settings. Every apply must get a generation of its own (two
 * applies filling the same inactive slot at once would enforce a mixture),
 * no settings change may be lost or put an old generation back, and the
 * result must be exactly one of the images (no drift).
 */
#define WRITES 20

struct writer {
	struct zw_xdp *h;
	struct zw_image *img[2];
	int rc;
};

static void *applier(void *arg)
{
	struct writer *w = arg;
	char err[512];

	for (int i = 0; i < WRITES && !w->rc; i++)
		if (zw_xdp__apply(w->h, w->img[i & 1], zw_date__today(), err,
				  sizeof(err))) {
			fprintf(stderr, "concurrent apply: %s\n", err);
			w->rc = 1;
		}
	return NULL;
}

static void *recorder(void *arg)
{
	struct writer *w = arg;

	for (uint32_t i = 1; i <= 5 * WRITES && !w->rc; i++) {
		if (zw_xdp__set_records(w->h, i, 1))
			w->rc = 1;
		usleep(2000);
	}
	return NULL;
}

static int concurrent_writers(const char *dir)
{
	/* images big enough that filling a slot takes a while */
	struct zw_gen_opts go = {.seed = 5, .n_zones = 40, .n_flows = 3000,
				 .n_services = 40, .ipv6 = true, .narrowing = true};
	char *ya = zw_gen__matrix(&go), *yb;
	struct zw_image *a, *b;
	struct writer w[3];
	struct zw_xdp_status st0, st;
	pthread_t t[3];
	char err[512], *drift;
	int bad = 0;

	go.seed = 6;
	yb = zw_gen__matrix(&go);
	a = zwt_image_of_text(ya, "gen-a", NULL);
	b = zwt_image_of_text(yb, "gen-b", NULL);
	free(ya);
	free(yb);
	w[0] = (struct writer){.img = {a, b}};
	w[1] = (struct writer){.img = {b, a}};
	w[2] = (struct writer){.img = {a, b}};

	for (int i = 0; i < 3; i++)
		if (zw_xdp__open(dir, NULL, &w[i].h, err, sizeof(err))) {
			fprintf(stderr, "open %s: %s\n", dir, err);
			return 1;
		}
	zw_xdp__status(w[0].h, &st0);
	pthread_create(&t[0], NULL, applier, &w[0]);
	pthread_create(&t[1], NULL, applier, &w[1]);
	pthread_create(&t[2], NULL, recorder, &w[2]);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].rc;
	}
	zw_xdp__status(w[0].h, &st);
	if (st.generation != st0.generation + 2 * WRITES) {
		fprintf(stderr, "concurrent writers: generation %u after %d applies "
			"from generation %u\n", st.generation, 2 * WRITES,
			st0.generation);
		bad++;
	}
	if (st.drop_sample != 5 * WRITES) {
		fprintf(stderr, "concurrent writers: drop_sample %u, last set %d\n",
			st.drop_sample, 5 * WRITES);
		bad++;
	}
	drift = zw_xdp__drift(w[0].h, memcmp(st.sha256, a->sha256, 32) ? b : a);
	if (drift) {
		fprintf(stderr, "concurrent writers: drift:\n%s", drift);
		free(drift);
		bad++;
	}
	printf("bpf-swap: %d concurrent applies and %d settings changes: "
	       "generation %u -> %u, %s\n", 2 * WRITES, 5 * WRITES,
	       st0.generation, st.generation, bad ? "WRONG" : "serialised");
	for (int i = 0; i < 3; i++)
		zw_xdp__close(w[i].h);
	zw_image__free(a);
	zw_image__free(b);
	return bad;
}

static void wait_more(size_t k)
{
	size_t target = atomic_load(&done) + k;

	while (atomic_load(&done) < target && atomic_load(&done) < MAX_PKTS)
		usleep(100);
}

int main(void)
{
	struct zw_image *a, *b;
	char dir[256], err[512];
	int32_t day = zw_date__today();
	uint32_t last_gen = 0, seen[4] = {0};
	size_t n, bad = 0;
	pthread_t t;

	zwt_require_bpf("bpf-swap");
	a = zwt_image_of_text(matrix_a, "swap-a", NULL);
	b = zwt_image_of_text(matrix_b, "swap-b", NULL);
	build_frames();
	x = zwt_instance_new(dir, sizeof(dir));
	if (zw_xdp__apply(x, a, day, err, sizeof(err))) {
		fprintf(stderr, "apply A: %s\n", err);
		return 1;
	}
	pthread_create(&t, NULL, runner, NULL);
	wait_more(3000);
	if (zw_xdp__apply(x, b, day, err, sizeof(err))) {
		fprintf(stderr, "apply B: %s\n", err);
		return 1;
	}
	wait_more(3000);
	if (zw_xdp__apply(x, a, day, err, sizeof(err))) {
		fprintf(stderr, "apply A again: %s\n", err);
		return 1;
	}
	wait_more(3000);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	n = atomic_load(&done);

	for (size_t i = 0; i < n; i++) {
		const struct zwt_result *r = &results[i];
		uint32_t g = r->rec.generation;
		uint32_t want = g % 2 ? 0 : 1;

		if (r->action != XDP_PASS || r->n_records != 1 ||
		    r->rec.event != ZW_EV_NEW || r->rec.flow != want ||
		    g < last_gen || g < 1 || g > 3) {
			if (bad++ < 10)
				fprintf(stderr, "packet %zu: action %d, %d record(s), event %u, "
					"flow %d, generation %u (previous %u)\n", i,
					r->action, r->n_records, r->rec.event,
					(int)r->rec.flow, g, last_gen);
			continue;
		}
		seen[g]++;
		last_gen = g;
	}
	printf("bpf-swap: %zu packets: %u judged by A (gen 1), %u by B (gen 2), "
	       "%u by A again (gen 3); %zu wrong\n", n, seen[1], seen[2], seen[3], bad);
	if (!seen[1] || !seen[2] || !seen[3]) {
		fprintf(stderr, "a generation was never seen: the swaps did not happen "
			"mid-stream\n");
		bad++;
	}
	bad += (size_t)concurrent_writers(dir);
	zwt_instance_free(x);
	zw_image__free(a);
	zw_image__free(b);
	free(frames);
	free(results);
	return bad ? 1 : 0;
}
