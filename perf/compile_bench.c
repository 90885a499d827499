/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * perf/compile-bench: parse, validate (redundancy included), compile and
 * load-verify generated matrices of 100, 10 000 and 100 000 flows over 50
 * zones. Each size runs in a child process so its peak RSS is its own.
 * Baseline, same run: libyaml alone loading the same text into a document
 * (the floor any YAML-based tool pays).
 * Usage: compile-bench [FLOWS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "gen.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(size_t flows, int fd)
{
	struct zw_gen_opts o = {.seed = 42, .n_zones = 50, .n_flows = flows,
				.n_services = 40, .ipv6 = true, .narrowing = true,
				.expiry = true};
	char *yaml = zw_gen__matrix(&o), err[256];
	size_t len = strlen(yaml);
	double t0, t_yaml, t_parse, t_val, t_comp, t_load;
	yaml_parser_t yp;
	yaml_document_t doc;

	t0 = now();
	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&yp, &doc))
		return 1;
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	t_yaml = now() - t0;

	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *img;
	size_t ilen;

	zw_diags__init(&d, "bench.yaml");
	t0 = now();
	m = zw_matrix__parse(yaml, len, "bench.yaml", &d);
	t_parse = now() - t0;
	t0 = now();
	zw_matrix__validate(m, zw_date__today(), &d);
	t_val = now() - t0;
	if (d.n_errors) {
		zw_diags__print_text(&d, stderr);
		return 1;
	}
	t0 = now();
	if (zw_policy__compile(m, &img, &ilen))
		return 1;
	t_comp = now() - t0;
	t0 = now();
	struct zw_image *im = zw_image__open(img, ilen, err, sizeof(err));

	t_load = now() - t0;
	if (!im)
		return 1;

	size_t redundant = 0;

	for (size_t i = 0; i < d.n; i++)
		redundant += d.v[i].code == 40;
	dprintf(fd, "%zu %zu %zu %u %.4f %.4f %.4f %.4f %.4f %zu\n", flows, len,
		ilen, im->n_rules, t_yaml, t_parse, t_val, t_comp, t_load, redundant);
	return 0;
}

int main(int argc, char **argv)
{
	size_t def[] = {100, 10000, 100000};
	size_t n = argc > 1 ? (size_t)argc - 1 : 3;

	setenv("ZONEWALL_TODAY", "2026-11-01", 0);
	printf("compile-bench: 50 zones, 40 matrix services + built-ins, IPv4+IPv6, narrowing, expiry\n");
	printf("%8s %9s %9s %8s | %9s | %8s %9s %8s %8s | %8s %7s %9s %s\n", "flows",
	       "yaml B", "image B", "rules", "libyaml s", "parse s", "validate s",
	       "compile s", "load s", "total s", "x yaml", "peak MiB", "ZW040");
	for (size_t i = 0; i < n; i++) {
		size_t flows = argc > 1 ? strtoul(argv[i + 1], NULL, 10) : def[i];
		int p[2];
		char line[512] = "";
		struct rusage ru;
		int st;
		pid_t pid;

		if (pipe(p))
			return 1;
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			_exit(bench(flows, p[1]));
		}
		close(p[1]);
		ssize_t k = read(p[0], line, sizeof(line) - 1);

		close(p[0]);
		if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || k <= 0) {
			fprintf(stderr, "compile-bench: run with %zu flows failed\n", flows);
			return 1;
		}
		line[k] = '\0';
		size_t f, yl, il, red;
		unsigned rules;
		double ty, tp, tv, tc, tl;

		sscanf(line, "%zu %zu %zu %u %lf %lf %lf %lf %lf %zu", &f, &yl, &il,
		       &rules, &ty, &tp, &tv, &tc, &tl, &red);
		double total = tp + tv + tc;

		printf("%8zu %9zu %9zu %8u | %9.4f | %8.4f %9.4f %9.4f %8.4f | %8.4f %6.1fx %9.1f %zu\n",
		       f, yl, il, rules, ty, tp, tv, tc, tl, total, total / ty,
		       (double)ru.ru_maxrss / 1024.0, red);
	}
	printf("total = parse + validate + compile; target: 10 000 flows under 1 s on one core\n");
	return 0;
}
