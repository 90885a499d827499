/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * perf/diff-bench: time of zw_matrix__traffic_diff (zonectl diff's traffic
 * part) on generated matrices of 100, 1 000 and 10 000 flows over 50 zones:
 * a matrix against itself (every box is still subtracted: the cost of "no
 * change"), against itself minus its last 1 % of flows (a typical edit) and
 * against an unrelated matrix (everything differs). Baseline, same run:
 * validating the matrix, whose exact redundancy check (ZW040) uses the same
 * box subtraction.
 * Usage: diff-bench [FLOWS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonewall/matrix.h>

#include "gen.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct zw_matrix *parse(const char *yaml)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, "bench.yaml");
	m = zw_matrix__parse(yaml, strlen(yaml), "bench.yaml", &d);
	if (!m || d.n_errors) {
		zw_diags__print_text(&d, stderr);
		exit(1);
	}
	zw_diags__fini(&d);
	return m;
}

/* The text without its last @k flows (flows are the last section). */
static char *drop_last(const char *yaml, size_t k)
{
	char *s = strdup(yaml), *cut = NULL;

	for (size_t i = 0; s && i < k; i++) {
		char *end = cut ? cut : s + strlen(s), *q = NULL;

		for (char *x = strstr(s, "\n  - id:"); x && x < end;
		     x = strstr(x + 1, "\n  - id:"))
			q = x;
		if (!q)
			break;
		cut = q;
	}
	if (cut)
		cut[1] = '\0';
	return s;
}

static double time_diff(const struct zw_matrix *a, const struct zw_matrix *b,
			int32_t day, size_t *n_add, size_t *n_rem)
{
	struct zw_traffic_diff *d;
	double t0 = now();

	if (zw_matrix__traffic_diff(a, b, day, &d)) {
		fprintf(stderr, "traffic diff failed\n");
		exit(1);
	}
	t0 = now() - t0;
	*n_add = d->n_added;
	*n_rem = d->n_removed;
	zw_traffic_diff__free(d);
	return t0;
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {100, 1000, 10000};
	int n = 3;
	int32_t day = zw_date__today();

	if (argc > 1) {
		n = 0;
		for (int i = 1; i < argc && n < 8; i++)
			sizes[n++] = strtoul(argv[i], NULL, 10);
	}
	printf("%8s %12s %12s %14s %14s   %s\n", "flows", "validate(s)", "A-A(s)",
	       "A-(A-1%)(s)", "A-B(s)", "changes A-(A-1%) / A-B (+/-)");
	for (int i = 0; i < n; i++) {
		struct zw_gen_opts o = {.seed = 42, .n_zones = 50, .n_flows = sizes[i],
					.n_services = 40, .ipv6 = true,
					.narrowing = true, .expiry = true};
		char *ya = zw_gen__matrix(&o);
		char *yc = drop_last(ya, sizes[i] / 100 ? sizes[i] / 100 : 1);
		struct zw_matrix *a, *b, *c;
		struct zw_diags d;
		double t_val, t_aa, t_ac, t_ab;
		size_t x1, x2, c1, c2, b1, b2;

		o.seed = 43;
		char *yb = zw_gen__matrix(&o);

		a = parse(ya);
		b = parse(yb);
		c = parse(yc);
		zw_diags__init(&d, "bench.yaml");
		t_val = now();
		zw_matrix__validate(a, day, &d);
		t_val = now() - t_val;
		zw_diags__fini(&d);
		t_aa = time_diff(a, a, day, &x1, &x2);
		t_ac = time_diff(a, c, day, &c1, &c2);
		t_ab = time_diff(a, b, day, &b1, &b2);
		printf("%8zu %12.4f %12.4f %14.4f %14.4f   %zu/%zu  %zu/%zu\n", sizes[i],
		       t_val, t_aa, t_ac, t_ab, c1, c2, b1, b2);
		if (x1 || x2)
			printf("  BUG: a matrix differs from itself\n");
		zw_matrix__free(a);
		zw_matrix__free(b);
		zw_matrix__free(c);
		free(ya);
		free(yb);
		free(yc);
	}
	return 0;
}
