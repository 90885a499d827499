/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl show: a valid matrix as a zone grid (text), a spreadsheet (csv),
 * a JSON document for scripts, a Graphviz graph (dot) or a self-contained
 * HTML page for auditors. Formats are described in docs/zonectl.md. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "options.h"
#include "show.h"
#include "zonectl.h"

#define DEFAULT_WIDTH 100

/* --format: names and renderers, in the same order. */
static const char *const format_names[] = {"text", "csv", "json", "dot", "html",
					   NULL};
static int (*const renderers[])(const struct zw_matrix *,
				const struct zw_show_opts *, FILE *) = {
	zw_show_text, zw_show_csv, zw_show_json, zw_show_dot, zw_show_html,
};
_Static_assert(sizeof(renderers) / sizeof(renderers[0]) ==
		       sizeof(format_names) / sizeof(format_names[0]) - 1,
	       "one renderer per format name");

static unsigned terminal_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	return DEFAULT_WIDTH;
}

struct show_opts {
	int format; /* index in format_names[] */
	const char *output;
	const char *date;
	long width;
	bool bom;
};

static const struct zw_ctl_opt show_opts[] = {
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct show_opts, format, NULL,
	 "text  the zone grid (from the row's zone to the column's\n"
	 "      zone, the services allowed), then the zones and\n"
	 "      the flows (default)\n"
	 "csv   one row per flow and service, for spreadsheets\n"
	 "      (RFC 4180)\n"
	 "json  one document for scripts (schema in\n"
	 "      docs/zonectl.md)\n"
	 "dot   a Graphviz graph of the zones and the services\n"
	 "      between them\n"
	 "html  one self-contained page for auditors: zones,\n"
	 "      grid, flows with justification, compensating\n"
	 "      measures, review and expiry",
	 .choices = format_names),
	ZW_CTL_OPT("output", 'o', ZW_CTL_STRING, struct show_opts, output, "FILE",
	 "write FILE (whole or not at all) instead of stdout"),
	ZW_CTL_OPT("date", 0, ZW_CTL_STRING, struct show_opts, date, "YYYY-MM-DD",
	 "judge expiry and review age on that day (default\n"
	 "today, UTC)"),
	ZW_CTL_OPT("width", 0, ZW_CTL_INT, struct show_opts, width, "N",
	 "wrap the text grid to N columns (default: the\n"
	 "terminal's, else 100)",
	 .min = 40, .max = 10000),
	ZW_CTL_OPT("bom", 0, ZW_CTL_FLAG, struct show_opts, bom, NULL,
	 "start the csv with a UTF-8 byte order mark (for Excel)"),
	{NULL},
};

static const struct zw_ctl_cmdline show_cmdline = {
	.name = "show",
	.usage = "zonectl show MATRIX.yaml [--format text|csv|json|dot|html]\n"
		 "             [-o|--output FILE] [--date YYYY-MM-DD] [--width N] [--bom]",
	.about = "Present a matrix that passes 'zonectl check' (a matrix with errors is\n"
		 "refused, exit 1): a zone grid, a spreadsheet, a document for\n"
		 "scripts, a graph or a page for auditors (--format).\n",
	.opts = show_opts,
	.max_pos = 1,
	.too_many = "show takes one matrix file (see zonectl show --help)",
};

int zw_cmd_show(int argc, char **argv)
{
	struct show_opts so = {0};
	struct zw_ctl_args a;
	const char *path, *output;
	struct zw_show_opts o = {0};
	struct zw_diags d;
	struct zw_matrix *m;
	size_t fi;
	int rc, r;

	rc = zw_ctl_parse(&show_cmdline, &so, argc, argv, &a);
	if (rc != ZW_CTL_GO)
		return rc;
	if (!a.n_pos) {
		zw_ctl_help(&show_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	path = a.pos[0];
	output = so.output;
	fi = (size_t)so.format;
	o.path = path;
	o.bom = so.bom;
	o.today = zw_date__today();
	if (so.date && zw_date__parse(so.date, &o.today)) {
		zw_ctl_err("--date must be YYYY-MM-DD, not '%s'", so.date);
		return ZW_EXIT_USAGE;
	}
	o.width = so.width ? (unsigned)so.width : terminal_width();

	m = zw_ctl_load_valid(path, o.today, &d, &rc);
	if (!m) {
		zw_diags__fini(&d);
		return rc;
	}
	o.diags = &d;

	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	r = mem ? renderers[fi](m, &o, mem) : -ENOMEM;
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
