/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The XDP engine's policy projection without a kernel: the map entries
 * computed from an image, looked up the way the BPF program looks them up
 * (zw_xdp_tables__classify), must give the reference evaluator's answer
 * (allow, reason, flow) for random queries on the example matrices and on
 * random matrices, on several days (expiry), with a crisis block list; the
 * verifier bounds are enforced with a clear error; describe_flow names
 * every flow's entries; the entries decode back into the image's rules
 * (zw_xdp_tables__held_rules: the same set as
 * zw_backend_state__add_image_rules when no flow shadows another, and
 * never a rule the image does not have), flows named by id hash.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/backend.h>
#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"
#include "held_cmp.h"
#include "xdp_tables.h"

static struct zw_matrix *parse(const char *yaml, const char *name)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, name);
	m = zw_matrix__parse(yaml, strlen(yaml), name, &d);
	CU_ASSERT_FATAL(m != NULL);
	zw_matrix__validate(m, zw_date__today(), &d);
	if (d.n_errors)
		zw_diags__print_text(&d, stderr);
	CU_ASSERT_FATAL(d.n_errors == 0);
	zw_diags__fini(&d);
	return m;
}

static struct zw_image *compile(const struct zw_matrix *m,
				const struct zw_compile_opts *o)
{
	uint8_t *b = NULL;
	size_t n = 0;
	char err[256];
	struct zw_image *img;

	CU_ASSERT_FATAL(zw_policy__compile_opts(m, o, &b, &n) == 0);
	img = zw_image__open(b, n, err, sizeof(err));
	free(b);
	CU_ASSERT_FATAL(img != NULL);
	return img;
}

static unsigned long queries, disagreements;

static void differential(const struct zw_matrix *m, const struct zw_image *img,
			 uint64_t seed, int n)
{
	int32_t today = zw_date__today();
	int32_t days[] = {today, today - 400, today + 400, today + 30};

	for (size_t di = 0; di < sizeof(days) / sizeof(days[0]); di++) {
		struct zw_xdp_tables *t = NULL;
		char err[256];
		uint64_t st = seed + di;

		CU_ASSERT_FATAL(zw_xdp_tables__build(img, days[di], &t, err,
						     sizeof(err)) == 0);
		for (int i = 0; i < n; i++) {
			struct zw_query q;
			struct zw_verdict a, b;

			zw_gen__query(m, &st, today, &q);
			q.day = days[di];
			zw_eval__image(img, &q, &a);
			zw_xdp_tables__classify(t, &q, &b);
			queries++;
			if (a.allow != b.allow || a.reason != b.reason ||
			    a.flow != b.flow) {
				if (disagreements++ < 10)
					fprintf(stderr,
						"  disagreement: proto %u port %u day %d: oracle %d/%d/%d, xdp %d/%d/%d\n",
						q.proto, q.port, q.day, a.allow, a.reason,
						(int)a.flow, b.allow, b.reason, (int)b.flow);
			}
			CU_ASSERT_EQUAL(a.allow, b.allow);
			CU_ASSERT_EQUAL(a.reason, b.reason);
			CU_ASSERT_EQUAL(a.flow, b.flow);
			CU_ASSERT_EQUAL(a.src_zone, b.src_zone);
			CU_ASSERT_EQUAL(a.dst_zone, b.dst_zone);
		}
		CU_ASSERT(t->max_scan <= ZW_BPF_CAND_SCAN);
		zw_xdp_tables__free(t);
	}
}

static void test_examples(void)
{
	const char *src = getenv("ZONEWALL_SRCDIR");
	const char *files[] = {"piams.yaml", "minimal.yaml"};

	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		struct zw_diags d;
		struct zw_matrix *m;
		struct zw_image *img;
		struct zw_prefix block[2];
		struct zw_compile_opts o = {.block = block, .n_block = 2};

		snprintf(path, sizeof(path), "%s/matrix/examples/%s",
			 src ? src : ".", files[i]);
		zw_diags__init(&d, path);
		m = zw_matrix__load(path, &d);
		CU_ASSERT_FATAL(m != NULL);
		zw_matrix__validate(m, zw_date__today(), &d);
		CU_ASSERT_FATAL(d.n_errors == 0);
		zw_diags__fini(&d);
		img = compile(m, NULL);
		differential(m, img, 11 + i, 20000);
		/* with a crisis block list: a host and a whole zone network */
		zw_image__free(img);
		block[0] = m->zones[1].networks[0];
		block[1] = m->zones[2].networks[0];
		block[0].len = block[0].family == ZW_AF_INET ? 32 : 128;
		img = compile(m, &o);
		differential(m, img, 23 + i, 5000);
		for (uint32_t f = 0; f < img->n_flows; f++) {
			char *text = zw_xdp_tables__describe_flow(img, f, INT32_MIN);

			CU_ASSERT_FATAL(text != NULL);
			CU_ASSERT(strstr(text, zw_image__str(img, img->flows[f].id)) != NULL);
			free(text);
		}
		zw_image__free(img);
		zw_matrix__free(m);
	}
}

/* describe_flow keeps the projection of the last image asked about: it
 * must follow the image (and the day) it is given, call after call. */
static void test_describe_cache(void)
{
	struct zw_gen_opts o = {.seed = 5, .n_zones = 12, .n_flows = 120,
				.n_services = 6, .ipv6 = true, .narrowing = true,
				.expiry = true};
	char *ya = zw_gen__matrix(&o), *yb;
	struct zw_matrix *ma = parse(ya, "a"), *mb;
	struct zw_image *a = compile(ma, NULL), *b;
	int32_t today = zw_date__today();
	int differ = 0, expired = 0;

	o.seed = 6;
	yb = zw_gen__matrix(&o);
	mb = parse(yb, "b");
	b = compile(mb, NULL);
	for (uint32_t f = 0; f < a->n_flows && f < b->n_flows; f++) {
		char *a1 = zw_xdp_tables__describe_flow(a, f, INT32_MIN);
		char *b1 = zw_xdp_tables__describe_flow(b, f, INT32_MIN);
		char *a2 = zw_xdp_tables__describe_flow(a, f, INT32_MIN);
		char *a3 = zw_xdp_tables__describe_flow(a, f, today + 100000);

		CU_ASSERT_FATAL(a1 && b1 && a2 && a3);
		CU_ASSERT_STRING_EQUAL(a1, a2);
		CU_ASSERT(strstr(b1, zw_image__str(b, b->flows[f].id)) != NULL);
		differ += strcmp(a1, b1) != 0;
		if (a->flows[f].expires != ZW_DATE_NONE) {
			CU_ASSERT(strstr(a3, "expired: no map entry") != NULL);
			CU_ASSERT(strcmp(a1, a3) != 0);
			expired++;
		}
		free(a1);
		free(b1);
		free(a2);
		free(a3);
	}
	CU_ASSERT(differ > 0);
	CU_ASSERT(expired > 0);
	zw_image__free(a);
	zw_image__free(b);
	zw_matrix__free(ma);
	zw_matrix__free(mb);
	free(ya);
	free(yb);
}

static void test_random(void)
{
	for (int i = 0; i < 30; i++) {
		struct zw_gen_opts o = {
			.seed = 1000 + (uint64_t)i,
			.n_zones = 7 + (size_t)(i * 3) % 30,
			.n_flows = 5 + (size_t)(i * 53) % 400,
			.n_services = (size_t)i % 12,
			.ipv6 = i % 2 == 0,
			.narrowing = i % 4 != 3,
			.expiry = i % 3 == 0,
		};
		char *yaml = zw_gen__matrix(&o);
		struct zw_matrix *m = parse(yaml, "random");
		struct zw_image *img = compile(m, NULL);

		differential(m, img, o.seed, 3000);
		zw_image__free(img);
		zw_matrix__free(m);
		free(yaml);
	}
	printf("\n  %lu queries, %lu disagreements\n", queries, disagreements);
}

/* Strings for a matrix with @n flows z1 -> z2 on ssh, each narrowed to one
 * source host: n candidates for port 22. */
static char *narrow_matrix(int n)
{
	size_t cap = 4096 + (size_t)n * 200, off = 0;
	char *s = malloc(cap);

	off += (size_t)snprintf(s + off, cap - off,
		"zonewall: 1\nname: narrow\nzones:\n"
		"  ops: {kind: operations, networks: [10.90.0.0/24], isolate: true}\n"
		"  srv: {kind: servers, networks: [10.91.0.0/24]}\n"
		"  adm: {kind: admin, networks: [10.92.0.0/24]}\n"
		"  upd: {kind: update, networks: [10.93.0.0/24]}\n"
		"  ra: {kind: remote-access, networks: [10.94.0.0/24]}\n"
		"  ex: {kind: client-exchange, networks: [10.95.0.0/24]}\n"
		"  z1: {kind: internal-service, networks: [10.1.0.0/16]}\n"
		"  z2: {kind: internal-service, networks: [10.2.0.0/16]}\n"
		"flows:\n");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, cap - off,
			"  - {id: N-%d, from: z1, to: z2, src: [10.1.%d.%d], "
			"services: [ssh], justification: test}\n", i, i / 250, 1 + i % 250);
	return s;
}

static void test_limits(void)
{
	char *yaml = narrow_matrix(ZW_BPF_CAND_SCAN);
	struct zw_matrix *m = parse(yaml, "narrow-ok");
	struct zw_image *img = compile(m, NULL);
	struct zw_xdp_tables *t = NULL;
	char err[256] = "";

	/* exactly the bound: accepted, and every narrowing still decides */
	CU_ASSERT_EQUAL(zw_xdp_tables__build(img, zw_date__today(), &t, err,
					     sizeof(err)), 0);
	CU_ASSERT_EQUAL(t ? t->max_scan : 0, ZW_BPF_CAND_SCAN);
	differential(m, img, 77, 3000);
	zw_xdp_tables__free(t);
	zw_image__free(img);
	zw_matrix__free(m);
	free(yaml);

	yaml = narrow_matrix(ZW_BPF_CAND_SCAN + 1);
	m = parse(yaml, "narrow-too-many");
	img = compile(m, NULL);
	t = NULL;
	CU_ASSERT_EQUAL(zw_xdp_tables__build(img, zw_date__today(), &t, err,
					     sizeof(err)), -E2BIG);
	CU_ASSERT(t == NULL);
	CU_ASSERT(strstr(err, "z1 -> z2") != NULL);
	CU_ASSERT(strstr(err, "ZW_BPF_CAND_SCAN") != NULL);
	zw_image__free(img);
	zw_matrix__free(m);
	free(yaml);
}

/* Held rules decoded from @img's projection for @day. */
static void held_of(const struct zw_image *img, int32_t day,
		    const struct zw_image *names, struct zw_backend_state *st)
{
	struct zw_xdp_tables *t = NULL;
	char err[256];

	memset(st, 0, sizeof(*st));
	CU_ASSERT_FATAL(zw_xdp_tables__build(img, day, &t, err, sizeof(err)) == 0);
	CU_ASSERT(zw_xdp_tables__held_rules(t, 0, names, names, st) == 0);
	CU_ASSERT(st->rules_known);
	zw_xdp_tables__free(t);
}

static const char *const held_matrix =
	"zonewall: 1\nname: held\nzones:\n"
	"  ops: {kind: operations, networks: [10.90.0.0/24], isolate: true}\n"
	"  srv: {kind: servers, networks: [10.91.0.0/24]}\n"
	"  adm: {kind: admin, networks: [10.92.0.0/24]}\n"
	"  upd: {kind: update, networks: [10.93.0.0/24]}\n"
	"  ra: {kind: remote-access, networks: [10.94.0.0/24]}\n"
	"  ex: {kind: client-exchange, networks: [10.95.0.0/24]}\n"
	"  z1: {kind: internal-service, networks: [10.1.0.0/16, \"fd00:1::/48\"]}\n"
	"  z2: {kind: internal-service, networks: [10.2.0.0/16, \"fd00:2::/48\"]}\n"
	"services:\n"
	"  app: {proto: tcp, ports: [\"1000-1999\"]}\n"
	"  one: {proto: tcp, ports: [1500]}\n"
	"flows:\n"
	"  - {id: H-APP, from: z1, to: z2, src: [10.1.7.0/24, \"fd00:1:0:7::/64\", 10.1.3.4],"
	" services: [app], justification: test}\n"
	"  - {id: H-ONE, from: z1, to: z2, services: [one, icmp-echo, icmpv6-echo],"
	" justification: test}\n"
	"  - {id: H-DST, from: z2, to: z1, dst: [\"fd00:1:0:9::/64\"], services: [ssh],"
	" justification: test}\n";

/* Ports [lo, hi] of (pair, proto, flow, sets) covered by @img's rules. */
static int covered(const struct zw_image *img, int32_t day,
		   const struct zw_held_rule *h)
{
	struct zw_backend_state st = {0};
	uint32_t cur = h->any ? 0 : h->lo, hi = h->any ? 65535 : h->hi;
	int moved = 1;

	CU_ASSERT_FATAL(zw_backend_state__add_image_rules(&st, img, day) == 0);
	while (cur <= hi && moved) {
		moved = 0;
		for (size_t i = 0; i < st.n_rules; i++) {
			const struct zw_held_rule *r = &st.rules[i];
			uint32_t lo = r->any ? 0 : r->lo, rhi = r->any ? 65535 : r->hi;

			if (strcmp(r->from, h->from) || strcmp(r->to, h->to) ||
			    r->proto != h->proto || strcmp(r->flow_id, h->flow_id) ||
			    strcmp(r->src ? r->src : "", h->src ? h->src : "") ||
			    strcmp(r->dst ? r->dst : "", h->dst ? h->dst : "") ||
			    lo > cur || rhi < cur)
				continue;
			cur = rhi + 1;
			moved = 1;
		}
	}
	zw_backend_state__fini(&st);
	return cur > hi;
}

static void test_held_rules(void)
{
	int32_t day = zw_date__today();
	char *narrow = narrow_matrix(6), path[1024];
	const char *srcdir = getenv("ZONEWALL_SRCDIR");
	struct zw_image *imgs[3], *names_other;
	struct zw_matrix *ms[3];
	struct zw_backend_state held, want;
	FILE *f;
	char *lab = NULL;
	size_t lab_len = 0;

	snprintf(path, sizeof(path), "%s/tests/bpf/lab-xdp.yaml", srcdir ? srcdir : ".");
	f = fopen(path, "r");
	CU_ASSERT_FATAL(f != NULL);
	lab = calloc(1, 65536);
	CU_ASSERT_FATAL(lab != NULL);
	lab_len = fread(lab, 1, 65535, f);
	fclose(f);
	CU_ASSERT_FATAL(lab_len > 0);
	ms[0] = parse(held_matrix, "held");
	ms[1] = parse(narrow, "narrow");
	ms[2] = parse(lab, "lab-xdp");
	for (int i = 0; i < 3; i++) {
		imgs[i] = compile(ms[i], NULL);
		held_of(imgs[i], day, imgs[i], &held);
		memset(&want, 0, sizeof(want));
		CU_ASSERT(zw_backend_state__add_image_rules(&want, imgs[i], day) == 0);
		CU_ASSERT(want.n_rules > 0);
		CU_ASSERT(zwt_held_same(&held, "decoded", &want, "image", stdout));
		for (size_t k = 0; k < held.n_rules; k++) {
			const char *t = held.rules[k].engine_text;

			CU_ASSERT(t && !strncmp(t, "zw_ports_0 key: ", 16) &&
				  strstr(t, "  value: ") && strstr(t, "zw_cands_0 key: "));
		}
		zw_backend_state__fini(&held);
		zw_backend_state__fini(&want);
	}
	/* named by another image: no flow of it has these hashes */
	names_other = imgs[2];
	held_of(imgs[1], day, names_other, &held);
	CU_ASSERT(held.n_rules == 6);
	for (size_t k = 0; k < held.n_rules; k++)
		CU_ASSERT(!held.rules[k].flow_id[0] && held.rules[k].engine_text &&
			  !strncmp(held.rules[k].engine_text, "unknown flow", 12));
	zw_backend_state__fini(&held);
	/* random matrices (shadowing flows): never a rule the image lacks */
	for (int i = 0; i < 12; i++) {
		struct zw_gen_opts o = {
			.seed = 2000 + (uint64_t)i, .n_zones = 7 + (size_t)i % 9,
			.n_flows = 20 + (size_t)(i * 37) % 150, .n_services = (size_t)i % 8,
			.ipv6 = i % 2 == 0, .narrowing = true, .expiry = i % 3 == 0,
		};
		char *yaml = zw_gen__matrix(&o);
		struct zw_matrix *m = parse(yaml, "random");
		struct zw_image *img = compile(m, NULL);

		held_of(img, day, img, &held);
		for (size_t k = 0; k < held.n_rules; k++) {
			char buf[1024];

			if (!covered(img, day, &held.rules[k])) {
				CU_FAIL("decoded rule not in the image");
				printf("\n  seed %llu: %s\n", (unsigned long long)o.seed,
				       zwt_held_line(&held.rules[k], buf, sizeof(buf)));
			}
		}
		zw_backend_state__fini(&held);
		zw_image__free(img);
		zw_matrix__free(m);
		free(yaml);
	}
	for (int i = 0; i < 3; i++) {
		zw_image__free(imgs[i]);
		zw_matrix__free(ms[i]);
	}
	free(narrow);
	free(lab);
}

int main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("xdp-tables", NULL, NULL);
	CU_add_test(s, "example matrices vs oracle", test_examples);
	CU_add_test(s, "random matrices vs oracle", test_random);
	CU_add_test(s, "verifier bounds", test_limits);
	CU_add_test(s, "describe_flow follows the image and the day", test_describe_cache);
	CU_add_test(s, "map entries decode back into the image's rules", test_held_rules);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
