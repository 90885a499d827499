/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zw-corpus: write a differential corpus (tests/corpus/corpus.h) as pcaps
 * plus an expectations file, for engines tested from outside the process
 * (the DPDK engine's pcap in → pcap out test).
 *
 *   zw-corpus [--day YYYY-MM-DD] [--seed N] [--max N] -o DIR IMG [IMG...]
 *   zw-corpus [--day ...] [--seed N] [--max N] -o DIR --matrix M.yaml [--swap]
 *
 * Each IMG is one phase (the policy in force changes between them).
 * --matrix compiles M.yaml; --swap adds a second phase: the same matrix
 * with about a third of its flows removed and one host blocked. The images
 * used are written as DIR/phase-N.img. Exit 0, 1 invalid input, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "corpus.h"

static int write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(b, 1, n, f) != n) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *matrix = NULL;
	const char *imgs[8];
	struct zw_image *img[8] = {0};
	int n_imgs = 0, swap = 0, rc = 1;
	int32_t day = zw_date__today();
	uint64_t seed = 1;
	size_t max = 0;
	struct zw_corpus *c = NULL;
	char err[512], path[4096];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--day") && i + 1 < argc) {
			if (zw_date__parse(argv[++i], &day)) {
				fprintf(stderr, "zw-corpus: bad date %s\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max") && i + 1 < argc)
			max = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--matrix") && i + 1 < argc)
			matrix = argv[++i];
		else if (!strcmp(argv[i], "--swap"))
			swap = 1;
		else if (argv[i][0] != '-' && n_imgs < 8)
			imgs[n_imgs++] = argv[i];
		else {
			fprintf(stderr, "usage: zw-corpus [--day D] [--seed N] [--max N] -o DIR "
					"(IMG... | --matrix M.yaml [--swap])\n");
			return 2;
		}
	}
	if (!out || (!matrix && !n_imgs) || (matrix && n_imgs)) {
		fprintf(stderr, "zw-corpus: give -o DIR and images or --matrix\n");
		return 2;
	}
	if (matrix) {
		struct zw_diags dg, *d = &dg;
		struct zw_matrix *m;
		uint8_t *bytes = NULL;
		size_t len = 0;

		zw_diags__init(d, matrix);
		m = zw_matrix__load(matrix, d);
		if (!m || zw_matrix__validate(m, day, d)) {
			zw_diags__print_text(d, stderr);
			fprintf(stderr, "zw-corpus: %s does not validate\n", matrix);
			zw_matrix__free(m);
			zw_diags__fini(d);
			return 1;
		}
		if (zw_policy__compile(m, &bytes, &len) ||
		    !(img[n_imgs] = zw_image__open(bytes, len, err, sizeof(err)))) {
			fprintf(stderr, "zw-corpus: cannot compile %s\n", matrix);
			return 1;
		}
		free(bytes);
		n_imgs++;
		if (swap) {
			if (zw_corpus__variant(m, seed, &bytes, &len) ||
			    !(img[n_imgs] = zw_image__open(bytes, len, err, sizeof(err)))) {
				fprintf(stderr, "zw-corpus: cannot compile the variant\n");
				return 1;
			}
			free(bytes);
			n_imgs++;
		}
		zw_matrix__free(m);
		zw_diags__fini(d);
	} else {
		for (int i = 0; i < n_imgs; i++) {
			img[i] = zw_image__load(imgs[i], err, sizeof(err));
			if (!img[i]) {
				fprintf(stderr, "zw-corpus: %s\n", err);
				goto out;
			}
		}
	}
	c = zw_corpus__new(day);
	if (!c)
		goto out;
	for (int i = 0; i < n_imgs; i++)
		if (zw_corpus__add_phase(c, img[i], seed + (uint64_t)i, max)) {
			fprintf(stderr, "zw-corpus: cannot generate phase %d\n", i);
			goto out;
		}
	if (zw_corpus__write(c, out)) {
		fprintf(stderr, "zw-corpus: cannot write %s: %s\n", out, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n_imgs; i++) {
		snprintf(path, sizeof(path), "%s/phase-%d.img", out, i);
		if (write_file(path, img[i]->bytes, img[i]->size)) {
			fprintf(stderr, "zw-corpus: cannot write %s\n", path);
			goto out;
		}
	}
	printf("%zu frames, %u phases in %s\n", zw_corpus__count(c),
	       zw_corpus__phases(c), out);
	rc = 0;
out:
	zw_corpus__free(c);
	for (int i = 0; i < n_imgs; i++)
		zw_image__free(img[i]);
	return rc;
}
