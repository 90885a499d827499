/* SPDX-License-Identifier: BSD-2-Clause */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static char dirs[64][256];
static int n_dirs;

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	if (getenv("ZW_KEEP_TMP"))
		return;
	for (int i = 0; i < n_dirs; i++)
		nftw(dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void zwt_tmpdir(char *out, size_t len, const char *tag)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, len, "%s/zwtest-%s-XXXXXX", t && *t ? t : "/tmp", tag);
	if (!mkdtemp(out)) {
		perror("mkdtemp");
		exit(99);
	}
	if (n_dirs == 0)
		atexit(cleanup);
	if (n_dirs < 64)
		snprintf(dirs[n_dirs++], sizeof(dirs[0]), "%s", out);
}

void zwt_sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n;
	static const char hx[] = "0123456789abcdef";

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

int zwt_run(void)
{
	unsigned failed;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
