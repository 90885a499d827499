/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl check: validate a matrix; --explain a diagnostic code. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/matrix.h>

#include "options.h"
#include "zonectl.h"

static void explain_one(const struct zw_code_info *c, FILE *out)
{
	fprintf(out, "ZW%03d (%s): %s\n\n", c->code,
		c->level == ZW_ERROR ? "error" : "warning", c->title);
	fprintf(out, "What it means:\n  %s\n\n", c->meaning);
	fprintf(out, "Why (REQUIREMENTS %s):\n  %s\n\n", c->requirement, c->why);
	fprintf(out, "How to fix it:\n  %s\n", c->fix);
}

static int explain_code(const char *arg)
{
	const char *s = arg;
	char *end;
	long code;

	if (!strcasecmp(arg, "all")) {
		for (const struct zw_code_info *c = zw_code__all(); c->code; c++) {
			explain_one(c, stdout);
			if (c[1].code)
				puts("\n----\n");
		}
		return ZW_EXIT_OK;
	}
	if (!strncasecmp(s, "ZW", 2))
		s += 2;
	code = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || !zw_code__info((int)code)) {
		zw_ctl_err("unknown code '%s' (codes: 'zonectl check --explain all')", arg);
		return ZW_EXIT_INVALID;
	}
	explain_one(zw_code__info((int)code), stdout);
	return ZW_EXIT_OK;
}

struct check_opts {
	int format; /* index in zw_ctl_text_json */
	const char *explain;
};

static const struct zw_ctl_opt check_opts[] = {
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct check_opts, format, NULL,
	 "text: one line per problem on stdout, then a count of\n"
	 "errors and warnings on stderr (default); json: one\n"
	 "document on stdout",
	 .choices = zw_ctl_text_json),
	ZW_CTL_OPT("explain", 0, ZW_CTL_STRING, struct check_opts, explain,
	 "ZWnnn|all", "what a code means, why the regulation asks for it\n"
		      "and how to fix it (instead of checking)",
	 .last = true),
	{NULL},
};

static const struct zw_ctl_cmdline check_cmdline = {
	.name = "check",
	.usage = "zonectl check MATRIX.yaml [--format text|json]\n"
		 "zonectl check --explain ZWnnn|all",
	.about = "Validate a flow matrix and report every problem found, as\n"
		 "FILE:LINE:COL: error|warning[ZWnnn]: message (text, on stdout; a count\n"
		 "of errors and warnings follows on stderr) or\n"
		 "one JSON document on stdout. --explain prints what a code means,\n"
		 "why the regulation asks for it and how to fix it.\n"
		 "Exit 1 if any error, 0 otherwise (warnings do not fail).\n",
	.opts = check_opts,
	.max_pos = 1,
	.too_many = "check takes one matrix file",
};

int zw_cmd_check(int argc, char **argv)
{
	struct check_opts o = {0};
	struct zw_ctl_args a;
	struct zw_matrix *m;
	int rc;

	rc = zw_ctl_parse(&check_cmdline, &o, argc, argv, &a);
	if (rc != ZW_CTL_GO)
		return rc;
	if (o.explain)
		return explain_code(o.explain);
	if (!a.n_pos) {
		zw_ctl_help(&check_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	m = zw_ctl_load_checked(a.pos[0], o.format == 1, false, &rc);
	zw_matrix__free(m);
	return rc;
}
