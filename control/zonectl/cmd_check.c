/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl check: validate a matrix; --explain a diagnostic code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/matrix.h>

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

static void check_usage(FILE *out)
{
	fputs("usage: zonectl check MATRIX.yaml [--format text|json]\n"
	      "       zonectl check --explain ZWnnn|all\n"
	      "\n"
	      "Validate a flow matrix and report every problem found, as\n"
	      "FILE:LINE:COL: error|warning[ZWnnn]: message (text, on stdout; a count\n"
	      "of errors and warnings follows on stderr) or\n"
	      "one JSON document on stdout. --explain prints what a code means,\n"
	      "why the regulation asks for it and how to fix it.\n"
	      "Exit 1 if any error, 0 otherwise (warnings do not fail).\n",
	      out);
}

int zw_cmd_check(int argc, char **argv)
{
	const char *path = NULL, *format = "text";
	struct zw_matrix *m;
	int rc;

	for (int i = 1; i < argc;) {
		int g = zw_ctl_global_opt(argc, argv, &i);

		if (g < 0)
			return ZW_EXIT_USAGE;
		if (g)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			check_usage(stdout);
			return ZW_EXIT_OK;
		}
		if (!strcmp(argv[i], "--explain")) {
			if (i + 1 >= argc) {
				zw_ctl_err("--explain needs a code, e.g. --explain ZW040");
				return ZW_EXIT_USAGE;
			}
			return explain_code(argv[i + 1]);
		}
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			format = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(argv[i], "--format=", 9)) {
			format = argv[i] + 9;
			i++;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			zw_ctl_err("unknown option '%s' (see zonectl check --help)", argv[i]);
			return ZW_EXIT_USAGE;
		}
		if (path) {
			zw_ctl_err("check takes one matrix file");
			return ZW_EXIT_USAGE;
		}
		path = argv[i++];
	}
	if (!path) {
		check_usage(stderr);
		return ZW_EXIT_USAGE;
	}
	if (strcmp(format, "text") && strcmp(format, "json")) {
		zw_ctl_err("--format must be text or json, not '%s'", format);
		return ZW_EXIT_USAGE;
	}
	m = zw_ctl_load_checked(path, !strcmp(format, "json"), false, &rc);
	zw_matrix__free(m);
	return rc;
}
