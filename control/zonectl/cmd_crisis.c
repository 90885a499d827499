/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl crisis isolate-internet|block PREFIX|block-file TYPES|end:
 * crisis measures. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct crisis_opts {
	const char *reason;
	int format; /* enum zw_journal_format */
	const char *from;
	const char *to;
};

static const struct zw_ctl_opt crisis_opts[] = {
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct crisis_opts, reason, "REASON",
	 "why (journalled; required)"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct crisis_opts, format, NULL,
	 "text (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	ZW_CTL_OPT("from", 0, ZW_CTL_STRING, struct crisis_opts, from, "ZONE",
	 "block-file: only connections from ZONE"),
	ZW_CTL_OPT("to", 0, ZW_CTL_STRING, struct crisis_opts, to, "ZONE",
	 "block-file: only connections to ZONE"),
	{NULL},
};

static const struct zw_ctl_cmdline crisis_cmdline = {
	.name = "crisis",
	.usage = "zonectl crisis isolate-internet -m REASON\n"
		 "zonectl crisis block PREFIX -m REASON\n"
		 "zonectl crisis block-file TYPE[,TYPE...] [--from ZONE] [--to ZONE] -m REASON\n"
		 "zonectl crisis end -m REASON",
	.about = "Crisis measures (REQUIREMENTS C1, C2, C4), each journalled:\n"
		 "  isolate-internet  suspend every flow to or from an\n"
		 "                    internet-access zone or outside\n"
		 "  block PREFIX      deny every packet from or to PREFIX, before\n"
		 "                    any flow (cumulative)\n"
		 "  block-file TYPES  cut TCP connections that transfer these\n"
		 "                    file types (pe, elf, macho, script, zip, rar,\n"
		 "                    7z, gzip, xz, bzip2, zstd, cab, ole2; groups\n"
		 "                    executable, archive), between the zones\n"
		 "                    given (default any); engines that inspect\n"
		 "                    (docs/l7.md), cumulative\n"
		 "  end               lift all measures: back to the active version\n"
		 "Measures stay in force across commits until 'end'.\n"
		 "Exit: 0 in force, 1 refused, 2 usage, 3 daemon or backend error.\n",
	.opts = crisis_opts,
	.max_pos = 2,
};

int zw_cmd_crisis(int argc, char **argv)
{
	struct crisis_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp;
	const char *m;
	int r, fmt;

	r = zw_ctl_parse(&crisis_cmdline, &o, argc, argv, &c);
	if (r != ZW_CTL_GO)
		return r;
	if (!c.n_pos) {
		zw_ctl_err("crisis needs a measure: isolate-internet, block "
			   "PREFIX, block-file TYPES or end");
		return ZW_EXIT_USAGE;
	}
	m = c.pos[0];
	bool arg = !strcmp(m, "block") || !strcmp(m, "block-file");

	if (strcmp(m, "isolate-internet") && strcmp(m, "block") &&
	    strcmp(m, "block-file") && strcmp(m, "end")) {
		zw_ctl_err("unknown crisis measure '%s' (isolate-internet, "
			   "block PREFIX, block-file TYPES, end)",
			   m);
		return ZW_EXIT_USAGE;
	}
	if ((arg && c.n_pos != 2) || (!arg && c.n_pos != 1)) {
		zw_ctl_err("usage: zonectl crisis %s -m REASON",
			   !arg ? m : strcmp(m, "block") ? "block-file TYPES"
							 : "block PREFIX");
		return ZW_EXIT_USAGE;
	}
	if ((o.from || o.to) && strcmp(m, "block-file")) {
		zw_ctl_err("--from and --to are for block-file");
		return ZW_EXIT_USAGE;
	}
	if (!o.reason) {
		zw_ctl_err("a crisis measure needs a reason: -m \"why\"");
		return ZW_EXIT_USAGE;
	}
	r = zw_ctl_check_text(o.reason, ZW_REASON_MAX, "reason");
	if (r)
		return r;
	fmt = o.format;
	if (!strcmp(m, "block-file"))
		req = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "op", "crisis",
				"measure", m, "reason", o.reason, "types",
				c.pos[1], "from", o.from, "to", o.to);
	else
		req = json_pack("{s:s, s:s, s:s, s:s?}", "op", "crisis", "measure",
				m, "reason", o.reason, "prefix",
				c.n_pos > 1 ? c.pos[1] : NULL);
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (fmt == ZW_JF_JSON)
		zw_ctl_print_json(resp);
	else if (!strcmp(m, "end"))
		printf("crisis measures ended: %lld flow(s) resumed; enforced "
		       "image %s\n",
		       (long long)json_integer_value(json_object_get(resp, "flows")),
		       zw_ctl_sget(resp, "enforced_sha256"));
	else
		printf("crisis %s in force: %lld flow(s) suspended; enforced "
		       "image %s\n",
		       m, (long long)json_integer_value(json_object_get(resp, "flows")),
		       zw_ctl_sget(resp, "enforced_sha256"));
	json_decref(resp);
	return 0;
}
