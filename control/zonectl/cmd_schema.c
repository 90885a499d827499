/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl schema: the JSON Schema of the matrix language, for editors
 * (docs/matrix-guide.md); generated from the parser's tables
 * (zw_matrix__schema()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "options.h"
#include "zonectl.h"

struct schema_opts {
	const char *output;
};

static const struct zw_ctl_opt schema_opts[] = {
	ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct schema_opts, output,
		   "FILE", "write the schema to FILE (default: stdout)"),
	{NULL},
};

static const struct zw_ctl_cmdline schema_cmdline = {
	.name = "schema",
	.usage = "zonectl schema [-o FILE]",
	.about = "The JSON Schema (draft-07) of the matrix language: every key\n"
		 "of the matrix, its zones, services and flows, with its type;\n"
		 "unknown keys are refused. Editors that use yaml-language-server\n"
		 "(VS Code, Neovim, ...) validate and complete a matrix with it:\n"
		 "see docs/matrix-guide.md for the modeline. 'zonectl check'\n"
		 "remains the authority (references, prefixes, ZW codes).\n",
	.opts = schema_opts,
	.max_pos = 0,
	.too_many = "schema takes no argument",
};

int zw_cmd_schema(int argc, char **argv)
{
	struct schema_opts o = {0};
	struct zw_ctl_args a;
	char *s;
	int r;

	r = zw_ctl_parse(&schema_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	s = zw_matrix__schema();
	if (!s) {
		zw_ctl_err("cannot build the schema: %s", strerror(errno));
		return ZW_EXIT_ENV;
	}
	r = zw_ctl_write(o.output, s, strlen(s));
	free(s);
	if (r < 0) {
		zw_ctl_err("cannot write %s: %s", o.output, strerror(-r));
		return ZW_EXIT_ENV;
	}
	return ZW_EXIT_OK;
}
