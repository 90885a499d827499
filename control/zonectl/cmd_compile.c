/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl compile: validate a matrix and write its policy image. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "options.h"
#include "zonectl.h"

struct compile_opts {
	const char *output;
};

static const struct zw_ctl_opt compile_opts[] = {
	ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct compile_opts, output,
	 "POLICY.img", "where to write the image (required; written whole\n"
		       "or not at all)"),
	{NULL},
};

static const struct zw_ctl_cmdline compile_cmdline = {
	.name = "compile",
	.usage = "zonectl compile MATRIX.yaml -o POLICY.img",
	.about = "Validate the matrix and, if it has no error, write its policy\n"
		 "image (docs/policy-image.md) and print the image's SHA-256.\n"
		 "The same matrix always gives the same bytes.\n",
	.opts = compile_opts,
	.max_pos = 1,
	.too_many = "compile takes one matrix file",
};

int zw_cmd_compile(int argc, char **argv)
{
	struct compile_opts o = {0};
	struct zw_ctl_args a;
	const char *path, *out;
	struct zw_matrix *m;
	uint8_t *img = NULL;
	size_t len = 0;
	int rc, r;

	rc = zw_ctl_parse(&compile_cmdline, &o, argc, argv, &a);
	if (rc != ZW_CTL_GO)
		return rc;
	path = a.pos[0];
	out = o.output;
	if (!path || !out) {
		zw_ctl_help(&compile_cmdline, stderr);
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
