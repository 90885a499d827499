/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Image round trip on generated matrices: compile -> load -> evaluate must
 * equal evaluate on the model, for random matrices and random queries
 * (verdict, reason, flow and service). Also: compiling twice gives the same
 * bytes. Usage: roundtrip [MATRICES [QUERIES]].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"

int main(int argc, char **argv)
{
	unsigned n_mat = argc > 1 ? (unsigned)atoi(argv[1]) : 60;
	unsigned n_q = argc > 2 ? (unsigned)atoi(argv[2]) : 3000;
	unsigned long checked = 0, allowed = 0, failures = 0;
	int32_t today = zw_date__today();

	for (unsigned k = 1; k <= n_mat; k++) {
		struct zw_gen_opts o = {
			.seed = k,
			.n_zones = 7 + k % 20,
			.n_flows = 5 + (k * 7) % 120,
			.n_services = k % 30,
			.ipv6 = k % 3 != 0,
			.narrowing = k % 2 == 0 || k % 5 == 0,
			.expiry = k % 4 == 0,
			.edges = k % 4 == 1,
		};
		char *yaml = zw_gen__matrix(&o), err[256];
		struct zw_diags d;
		struct zw_matrix *m;
		uint8_t *b1, *b2;
		size_t l1, l2;
		struct zw_image *img;

		zw_diags__init(&d, "gen.yaml");
		m = zw_matrix__parse(yaml, strlen(yaml), "gen.yaml", &d);
		if (!m)
			return 2;
		zw_matrix__validate(m, today, &d);
		if (d.n_errors) {
			fprintf(stderr, "seed %u: generated matrix has errors:\n", k);
			zw_diags__print_text(&d, stderr);
			fputs(yaml, stderr);
			return 1;
		}
		if (zw_policy__compile(m, &b1, &l1) || zw_policy__compile(m, &b2, &l2)) {
			fprintf(stderr, "seed %u: compile failed\n", k);
			return 1;
		}
		if (l1 != l2 || memcmp(b1, b2, l1)) {
			fprintf(stderr, "seed %u: compilation is not deterministic\n", k);
			return 1;
		}
		img = zw_image__open(b1, l1, err, sizeof(err));
		if (!img) {
			fprintf(stderr, "seed %u: image refused: %s\n", k, err);
			return 1;
		}
		uint64_t st = k * 7919u;

		for (unsigned i = 0; i < n_q; i++) {
			struct zw_query q;
			struct zw_verdict vm, vi;

			zw_gen__query(m, &st, today, &q);
			zw_eval__matrix(m, &q, &vm);
			zw_eval__image(img, &q, &vi);
			checked++;
			allowed += vm.allow;
			bool same = vm.allow == vi.allow && vm.reason == vi.reason &&
				    vm.flow == vi.flow &&
				    vm.src_zone == vi.src_zone && vm.dst_zone == vi.dst_zone &&
				    (vm.flow == ZW_NO_FLOW ||
				     !strcmp(m->services[vm.service].name,
					     zw_image__str(img, img->services[vi.service].name)));
			if (!same && failures++ < 10) {
				char a[64], b[64];
				struct zw_prefix pa = {.family = q.family, .len = q.family == 4 ? 32 : 128};
				struct zw_prefix pb = pa;

				memcpy(pa.addr, q.src, 16);
				memcpy(pb.addr, q.dst, 16);
				fprintf(stderr,
					"seed %u: %s -> %s proto %u port %u day %d: model %d/%d flow %u, image %d/%d flow %u\n",
					k, zw_prefix__format(&pa, a), zw_prefix__format(&pb, b),
					q.proto, q.port, q.day, vm.allow, vm.reason, vm.flow,
					vi.allow, vi.reason, vi.flow);
			}
		}
		zw_image__free(img);
		free(b1);
		free(b2);
		zw_matrix__free(m);
		zw_diags__fini(&d);
		free(yaml);
	}
	printf("%lu queries on %u generated matrices, %lu allowed, %lu mismatches\n",
	       checked, n_mat, allowed, failures);
	/* A corpus where nothing is allowed (or everything) would prove little. */
	if (allowed < checked / 20 || allowed > checked - checked / 20) {
		fprintf(stderr, "query mix degenerate: %lu of %lu allowed\n", allowed, checked);
		return 1;
	}
	return failures ? 1 : 0;
}
