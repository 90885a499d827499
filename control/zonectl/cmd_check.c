/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl check, zonectl compile. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/matrix.h>
#include <zonewall/policy.h>

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

/*
 * Load + validate. Returns the matrix (caller frees) or NULL; *rc is the
 * exit code to use when NULL or when errors were found. Diagnostics are
 * printed as @format says.
 */
static struct zw_matrix *load_and_check(const char *path, bool json,
					bool quiet_ok, int *rc)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	if (!m && errno == ENOMEM) {
		zw_ctl_err("out of memory reading %s", path);
		zw_diags__fini(&d);
		*rc = ZW_EXIT_ENV;
		return NULL;
	}
	if (!m) {
		/* Unreadable file: an environment problem, said once. */
		zw_ctl_err("%s", d.n ? d.v[0].message : "cannot read the matrix");
		zw_diags__fini(&d);
		*rc = ZW_EXIT_ENV;
		return NULL;
	}
	zw_matrix__validate(m, zw_date__today(), &d);
	/* check: the diagnostics are the output (stdout); compile: stdout
	 * carries the image SHA-256, so diagnostics go to stderr. */
	if (json)
		zw_diags__print_json(&d, stdout);
	else
		zw_diags__print_text(&d, quiet_ok ? stderr : stdout);
	*rc = d.n_errors ? ZW_EXIT_INVALID : ZW_EXIT_OK;
	if (!json && !quiet_ok)
		fprintf(stderr, "%s: %zu error(s), %zu warning(s)\n", path,
			d.n_errors, d.n_warnings);
	zw_diags__fini(&d);
	return m;
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
	m = load_and_check(path, !strcmp(format, "json"), false, &rc);
	zw_matrix__free(m);
	return rc;
}

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
	m = load_and_check(path, false, true, &rc);
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
