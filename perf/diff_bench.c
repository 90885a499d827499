/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * perf/diff-bench: time of zw_matrix__traffic_diff (zonectl diff's traffic
 * part) on generated matrices of 100, 1 000 and 10 000 flows over 50 zones:
 * a matrix against itself (every box is still subtracted: the cost of "no
 * change"), against itself minus its last 1 % of flows (a typical edit) and
 * against an unrelated matrix (everything differs). Baseline, same run:
 * validating the matrix, whose exact redundancy check (ZW040) uses the same
 * box subtraction.
 * Then zones of many scattered networks (100 by default): a matrix of 8
 * zones whose networks interleave, 16 flows (one from outside, whose
 * addresses are the gaps between all of them), against the same matrix
 * with one service's ports narrowed.
 * Usage: diff-bench [FLOWS...] [--networks N] [--write DIR]
 * (--write also saves that pair as DIR/nets.old.yaml and nets.new.yaml,
 * for timing zonectl diff on them.)
 */
#include <stdbool.h>
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

/* Zones of @nets networks each: 10.I.Z.0/24 is network I of zone Z, so
 * no two networks of a zone are adjacent; fd00:Z:I::/48 for the first
 * tenth. Service web is tcp/8000-8090, or 8000-8080 with @narrowed. */
static char *many_networks(size_t nets, bool narrowed)
{
	static const char *const zones[][2] = {
		{"ops", "operations"}, {"srv", "servers"}, {"app", "servers"},
		{"adm", "admin"}, {"upd", "update"}, {"ra", "remote-access"},
		{"px", "provider-exchange"}, {"infra", "infrastructure"},
	};
	static const char *const flows[][3] = {
		{"ops", "srv", "ssh, rdp"},   {"ops", "app", "ssh, web"},
		{"ops", "adm", "ssh, https"}, {"ops", "infra", "ssh"},
		{"srv", "app", "web, dns"},   {"app", "srv", "https"},
		{"srv", "infra", "ntp, dns"}, {"app", "infra", "syslog-tls"},
		{"srv", "upd", "https"},      {"app", "upd", "https, web"},
		{"adm", "srv", "ssh"},	      {"adm", "app", "ssh, web"},
		{"ra", "adm", "ssh"},	      {"px", "app", "https, web"},
		{"upd", "px", "https"},	      {"outside", "ra", "openvpn"},
	};
	const size_t nz = sizeof(zones) / sizeof(zones[0]);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		exit(1);
	fprintf(f, "zonewall: 1\nname: nets\nservices:\n"
		   "  web: {proto: tcp, ports: [\"8000-%d\"]}\nzones:\n",
		narrowed ? 8080 : 8090);
	for (size_t z = 0; z < nz; z++) {
		fprintf(f, "  %s:\n    kind: %s\n    isolate: %s\n    networks: [",
			zones[z][0], zones[z][1], z == 0 ? "true" : "false");
		for (size_t i = 0; i < nets; i++)
			fprintf(f, "%s10.%zu.%zu.%zu/24", i ? ", " : "", i % 256,
				z + nz * (i / 256), (size_t)0);
		for (size_t i = 0; i < nets / 10; i++)
			fprintf(f, ", \"fd00:%zx:%zx::/48\"", z, i);
		fputs("]\n", f);
	}
	fputs("flows:\n", f);
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
		fprintf(f, "  - {id: F-%02zu, from: %s, to: %s, services: [%s], "
			   "justification: bench}\n",
			i + 1, flows[i][0], flows[i][1], flows[i][2]);
	fclose(f);
	return buf;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void bench_networks(size_t nets, int32_t day, const char *dir)
{
	char *ya = many_networks(nets, false), *yb = many_networks(nets, true);
	struct zw_matrix *a = parse(ya), *b = parse(yb);
	struct zw_diags d;
	double t_val, t_aa, t_ab;
	size_t x1, x2, n1, n2;

	if (dir) {
		write_file(dir, "nets.old.yaml", ya);
		write_file(dir, "nets.new.yaml", yb);
	}
	zw_diags__init(&d, "bench.yaml");
	t_val = now();
	zw_matrix__validate(a, day, &d);
	t_val = now() - t_val;
	if (d.n_errors) {
		zw_diags__print_text(&d, stderr);
		exit(1);
	}
	zw_diags__fini(&d);
	t_aa = time_diff(a, a, day, &x1, &x2);
	t_ab = time_diff(a, b, day, &n1, &n2);
	printf("\n%8s %12s %12s %14s   %s\n", "networks", "validate(s)", "A-A(s)",
	       "A-A'(s)", "changes A-A' (+/-), one service narrowed");
	printf("%8zu %12.4f %12.4f %14.4f   %zu/%zu\n", nets, t_val, t_aa, t_ab,
	       n1, n2);
	if (x1 || x2)
		printf("  BUG: a matrix differs from itself\n");
	zw_matrix__free(a);
	zw_matrix__free(b);
	free(ya);
	free(yb);
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {100, 1000, 10000};
	int n = 3;
	size_t nets = 100;
	const char *dir = NULL;
	int32_t day = zw_date__today();
	bool own = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--networks") && i + 1 < argc) {
			nets = strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--write") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			if (!own)
				n = 0;
			own = true;
			if (n < 8)
				sizes[n++] = strtoul(argv[i], NULL, 10);
		}
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
	if (nets)
		bench_networks(nets, day, dir);
	return 0;
}
