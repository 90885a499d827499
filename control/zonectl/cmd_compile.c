/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl compile: validate a matrix and write its policy image. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "zonectl.h"

static void compile_usage(FILE *out)
{
	fputs("usage: zonectl compile MATRIX.yaml -o POLICY.img\n"
	      "\n"
	      "Validate the matrix and, if it has no error, write its policy\n"
	      "image (docs/policy-image.md) and print the image's SHA-256.\n"
	      "The same matrix always gives the same bytes.\n",
	      out);
}

int zw_cmd_compile(int argc, char **argv)
{
	const char *path = NULL, *out = NULL;
	struct zw_matrix *m;
	uint8_t *img = NULL;
	size_t len = 0;
	int rc, r;

	for (int i = 1; i < argc;) {
		int g = zw_ctl_global_opt(argc, argv, &i);

		if (g < 0)
			return ZW_EXIT_USAGE;
		if (g)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			compile_usage(stdout);
			return ZW_EXIT_OK;
		}
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) &&
		    i + 1 < argc) {
			out = argv[i + 1];
			i += 2;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			zw_ctl_err("unknown option '%s' (see zonectl compile --help)", argv[i]);
			return ZW_EXIT_USAGE;
		}
		if (path) {
			zw_ctl_err("compile takes one matrix file");
			return ZW_EXIT_USAGE;
		}
		path = argv[i++];
	}
	if (!path || !out) {
		compile_usage(stderr);
		return ZW_EXIT_USAGE;
	}
	m = zw_ctl_load_checked(path, false, true, &rc);
	if (!m || rc) {
		if (m)
			zw_ctl_err("%s has errors: no image written", path);
		zw_matrix__free(m);
		return rc;
	}
	r = zw_policy__compile(m, &img, &len);
	zw_matrix__free(m);
	if (r) {
		zw_ctl_err("cannot compile %s: %s", path, strerror(-r));
		return r == -EINVAL ? ZW_EXIT_INVALID : ZW_EXIT_ENV;
	}
	r = zw_ctl_write(out, (const char *)img, len);
	if (r) {
		zw_ctl_err("cannot write %s: %s", out, strerror(-r));
		free(img);
		return ZW_EXIT_ENV;
	}
	char hex[65];

	zw_hex(((const struct zw_image_header *)img)->sha256, 32, hex);
	printf("%s  %s\n", hex, out);
	free(img);
	return ZW_EXIT_OK;
}
