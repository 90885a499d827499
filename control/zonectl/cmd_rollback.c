/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl rollback: re-apply an earlier version as a new one. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct rollback_opts {
	const char *reason;
	int format; /* enum zw_journal_format */
};

static const struct zw_ctl_opt rollback_opts[] = {
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct rollback_opts, reason, "REASON",
	 "why (journalled; required)"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct rollback_opts, format, NULL,
	 "text (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	{NULL},
};

static const struct zw_ctl_cmdline rollback_cmdline = {
	.name = "rollback",
	.usage = "zonectl rollback VERSION -m REASON [--format text|json]",
	.about = "Re-apply the matrix of an earlier VERSION (one that was active\n"
		 "once). This makes a new version, journalled like any commit.\n"
		 "Exit: 0 active, 1 refused (unknown version, bad reason), 2 usage,\n"
		 "3 daemon unreachable or a backend failed.\n",
	.opts = rollback_opts,
	.max_pos = 1,
	.too_many = "rollback needs one version number (see zonectl versions)",
};

int zw_cmd_rollback(int argc, char **argv)
{
	struct rollback_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp;
	char *end;
	long long n;
	int r, fmt;

	r = zw_ctl_parse(&rollback_cmdline, &o, argc, argv, &c);
	if (r != ZW_CTL_GO)
		return r;
	if (c.n_pos != 1) {
		zw_ctl_err("rollback needs one version number (see zonectl "
			   "versions)");
		return ZW_EXIT_USAGE;
	}
	n = strtoll(c.pos[0], &end, 10);
	if (*end || n <= 0) {
		zw_ctl_err("'%s' is not a version number", c.pos[0]);
		return ZW_EXIT_USAGE;
	}
	if (!o.reason) {
		zw_ctl_err("rollback needs a reason: -m \"why\"");
		return ZW_EXIT_USAGE;
	}
	r = zw_ctl_check_text(o.reason, ZW_REASON_MAX, "reason");
	if (r)
		return r;
	fmt = o.format;
	req = json_pack("{s:s, s:I, s:s}", "op", "rollback", "version",
			(json_int_t)n, "reason", o.reason);
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (fmt == ZW_JF_JSON)
		zw_ctl_print_json(resp);
	else
		printf("version %lld active (rollback to version %lld): %lld "
		       "flow(s) added, %lld changed, %lld removed\nimage sha256 "
		       "%s\n",
		       (long long)json_integer_value(json_object_get(resp, "version")),
		       n, (long long)json_integer_value(json_object_get(resp, "added")),
		       (long long)json_integer_value(json_object_get(resp, "changed")),
		       (long long)json_integer_value(json_object_get(resp, "removed")),
		       zw_ctl_sget(resp, "image_sha256"));
	json_decref(resp);
	return 0;
}
