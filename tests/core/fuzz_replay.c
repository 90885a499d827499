/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The parser fuzz harness without libFuzzer (non-fuzz builds, suite
 * "fuzz"): runs it on the built-in seeds, on every file of the directory
 * given as argument (the regression corpus: inputs that once failed), and
 * on a deterministic stream of mutations of the seeds (byte flips,
 * insertions, cuts), so a normal build still exercises the invariants.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 512
static uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t n_seeds;

static void keep(const uint8_t *frame, size_t len, void *arg)
{
	(void)arg;
	if (n_seeds == MAX_SEEDS)
		return;
	seeds[n_seeds] = malloc(len);
	memcpy(seeds[n_seeds], frame, len);
	seed_len[n_seeds++] = len;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

int main(int argc, char **argv)
{
	uint8_t buf[4096];
	size_t i, files = 0, mutations = 0;
	int m;

	zw_fuzz_seeds(keep, NULL);
	for (i = 0; i < n_seeds; i++)
		LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);
	if (argc > 1) {
		DIR *d = opendir(argv[1]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char path[4096];
			FILE *f;
			size_t n;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
			f = fopen(path, "rb");
			if (!f)
				continue;
			n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			LLVMFuzzerTestOneInput(buf, n);
			files++;
		}
		if (d)
			closedir(d);
	}
	for (i = 0; i < n_seeds; i++) {
		for (m = 0; m < 400; m++) {
			size_t n = seed_len[i], k, flips = 1 + rnd() % 4;

			memcpy(buf, seeds[i], n);
			for (k = 0; k < flips; k++) {
				switch (rnd() % 4) {
				case 0:
				case 1:
					buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
					break;
				case 2:
					buf[rnd() % n] = (uint8_t)rnd();
					break;
				case 3:
					n = 1 + rnd() % n;
					break;
				}
			}
			LLVMFuzzerTestOneInput(buf, n);
			mutations++;
		}
		free(seeds[i]);
	}
	printf("fuzz-parse-replay: %zu seeds, %zu corpus files, %zu mutations: "
	       "no invariant broken\n", n_seeds, files, mutations);
	return 0;
}
