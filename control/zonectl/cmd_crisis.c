/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl crisis isolate-internet|block PREFIX|end: crisis measures. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "zonectl.h"

static void crisis_help(FILE *out)
{
	fputs("usage: zonectl crisis isolate-internet -m REASON\n"
	      "       zonectl crisis block PREFIX -m REASON\n"
	      "       zonectl crisis end -m REASON\n"
	      "\n"
	      "Crisis measures (REQUIREMENTS C1, C4), each journalled:\n"
	      "  isolate-internet  suspend every flow to or from an\n"
	      "                    internet-access zone or outside\n"
	      "  block PREFIX      deny every packet from or to PREFIX, before\n"
	      "                    any flow (cumulative)\n"
	      "  end               lift all measures: back to the active version\n"
	      "Measures stay in force across commits until 'end'.\n"
	      "Exit: 0 in force, 1 refused, 2 usage, 3 daemon or backend error.\n",
	      out);
}

int zw_cmd_crisis(int argc, char **argv)
{
	struct zw_ctl_cmdopts c = {0};
	json_t *req, *resp;
	const char *m;
	int r, fmt;

	r = zw_ctl_parse_common(argc, argv, &c, crisis_help);
	if (r)
		return r;
	if (!c.n_pos) {
		zw_ctl_err("crisis needs a measure: isolate-internet, block "
			   "PREFIX or end");
		return ZW_EXIT_USAGE;
	}
	m = c.pos[0];
	if (strcmp(m, "isolate-internet") && strcmp(m, "block") &&
	    strcmp(m, "end")) {
		zw_ctl_err("unknown crisis measure '%s' (isolate-internet, "
			   "block PREFIX, end)",
			   m);
		return ZW_EXIT_USAGE;
	}
	if ((!strcmp(m, "block") && c.n_pos != 2) ||
	    (strcmp(m, "block") && c.n_pos != 1)) {
		zw_ctl_err("usage: zonectl crisis %s -m REASON",
			   strcmp(m, "block") ? m : "block PREFIX");
		return ZW_EXIT_USAGE;
	}
	if (!c.reason) {
		zw_ctl_err("a crisis measure needs a reason: -m \"why\"");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s, s:s, s:s, s:s?}", "op", "crisis", "measure", m,
			"reason", c.reason, "prefix",
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
