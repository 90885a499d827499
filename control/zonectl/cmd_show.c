/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl show: a valid matrix as a zone grid (text), a spreadsheet (csv),
 * a JSON document for scripts, a Graphviz graph (dot) or a self-contained
 * HTML page for auditors. Formats are described in docs/zonectl.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "show.h"
#include "zonectl.h"

#define DEFAULT_WIDTH 100

static void usage(FILE *out)
{
	fputs("usage: zonectl show MATRIX.yaml [--format text|csv|json|dot|html]\n"
	      "                    [-o|--output FILE] [--date YYYY-MM-DD] [--width N] [--bom]\n"
	      "\n"
	      "Present a matrix that passes 'zonectl check' (a matrix with errors is\n"
	      "refused, exit 1):\n"
	      "  text  the zone grid (from the row's zone to the column's zone, the\n"
	      "        services allowed), then the zones and the flows (default)\n"
	      "  csv   one row per flow and service, for spreadsheets (RFC 4180)\n"
	      "  json  one document for scripts (schema in docs/zonectl.md)\n"
	      "  dot   a Graphviz graph of the zones and the services between them\n"
	      "  html  one self-contained page for auditors: zones, grid, flows with\n"
	      "        justification, compensating measures, review and expiry\n"
	      "--date judges expiry and review age on that day (default today, UTC).\n"
	      "--width wraps the text grid (default: the terminal's, else 100).\n"
	      "--bom starts the csv with a UTF-8 byte order mark (for Excel).\n"
	      "--output writes FILE (whole or not at all) instead of stdout.\n",
	      out);
}

static const struct {
	const char *name;
	int (*render)(const struct zw_matrix *, const struct zw_show_opts *, FILE *);
} formats[] = {
	{"text", zw_show_text},
	{"csv", zw_show_csv},
	{"json", zw_show_json},
	{"dot", zw_show_dot},
	{"html", zw_show_html},
};

static unsigned terminal_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	return DEFAULT_WIDTH;
}

/* Take "--opt VALUE" or "--opt=VALUE" at argv[*i]; 1 if taken, 0 if not
 * this option, -1 if the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name,
		     const char *alias, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (!strncmp(a, name, n) && a[n] == '=') {
		*val = a + n + 1;
		*i += 1;
		return 1;
	}
	if (strcmp(a, name) && (!alias || strcmp(a, alias)))
		return 0;
	if (*i + 1 >= argc) {
		zw_ctl_err("%s needs a value (see zonectl show --help)", a);
		return -1;
	}
	*val = argv[*i + 1];
	*i += 2;
	return 1;
}

int zw_cmd_show(int argc, char **argv)
{
	const char *path = NULL, *format = "text", *output = NULL, *date = NULL,
		   *width = NULL;
	struct zw_show_opts o = {0};
	struct zw_diags d;
	struct zw_matrix *m;
	size_t fi;
	int rc, r;

	for (int i = 1; i < argc;) {
		int g = zw_ctl_global_opt(argc, argv, &i);

		if (!g)
			g = opt_value(argc, argv, &i, "--format", NULL, &format);
		if (!g)
			g = opt_value(argc, argv, &i, "--output", "-o", &output);
		if (!g)
			g = opt_value(argc, argv, &i, "--date", NULL, &date);
		if (!g)
			g = opt_value(argc, argv, &i, "--width", NULL, &width);
		if (g < 0)
			return ZW_EXIT_USAGE;
		if (g)
			continue;
		if (!strcmp(argv[i], "--bom")) {
			o.bom = true;
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return ZW_EXIT_OK;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			zw_ctl_err("unknown option '%s' (see zonectl show --help)", argv[i]);
			return ZW_EXIT_USAGE;
		}
		if (path) {
			zw_ctl_err("show takes one matrix file (see zonectl show --help)");
			return ZW_EXIT_USAGE;
		}
		path = argv[i++];
	}
	if (!path) {
		usage(stderr);
		return ZW_EXIT_USAGE;
	}
	for (fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
		if (!strcmp(format, formats[fi].name))
			break;
	if (fi == sizeof(formats) / sizeof(formats[0])) {
		zw_ctl_err("--format must be text, csv, json, dot or html, not '%s'", format);
		return ZW_EXIT_USAGE;
	}
	o.path = path;
	o.today = zw_date__today();
	if (date && zw_date__parse(date, &o.today)) {
		zw_ctl_err("--date must be YYYY-MM-DD, not '%s'", date);
		return ZW_EXIT_USAGE;
	}
	o.width = terminal_width();
	if (width) {
		char *end;
		long w = strtol(width, &end, 10);

		if (*width < '0' || *width > '9' || *end || w < 40 || w > 10000) {
			zw_ctl_err("--width must be a number of columns, 40 or more, not '%s'",
				   width);
			return ZW_EXIT_USAGE;
		}
		o.width = (unsigned)w;
	}

	m = zw_ctl_load_valid(path, o.today, &d, &rc);
	if (!m) {
		zw_diags__fini(&d);
		return rc;
	}
	o.diags = &d;

	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	r = mem ? formats[fi].render(m, &o, mem) : -ENOMEM;
	if (mem && fclose(mem) && !r)
		r = -ENOMEM;
	if (!r) {
		r = zw_ctl_write(output, buf, len);
		if (r)
			zw_ctl_err("cannot write %s: %s", output ? output : "the output",
				   strerror(-r));
	} else {
		zw_ctl_err("cannot render %s: %s", path, strerror(-r));
	}
	free(buf);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return r ? ZW_EXIT_ENV : ZW_EXIT_OK;
}
