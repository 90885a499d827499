/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl versions: the stored versions. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct versions_opts {
	const char *reason; /* accepted, unused */
	int format; /* enum zw_journal_format */
};

static const struct zw_ctl_opt versions_opts[] = {
	/* Accepted like every daemon command's -m, so that scripts may pass
	 * it to all of them; nothing is changed, so nothing is journalled. */
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct versions_opts, reason,
		   "REASON", "accepted and ignored (nothing is changed)"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct versions_opts, format, NULL,
	 "text (default), one JSON document, or csv\n(RFC 4180)",
	 .choices = zw_ctl_text_json_csv),
	{NULL},
};

static const struct zw_ctl_cmdline versions_cmdline = {
	.name = "versions",
	.usage = "zonectl versions [--format text|json|csv]",
	.about = "Every stored version: number, date (UTC), author, state (ok,\n"
		 "refused, abandoned), image SHA-256, reason; '*' marks the active\n"
		 "one. Works without the daemon with --state DIR.\n",
	.opts = versions_opts,
	.max_pos = 0,
	.too_many = "versions takes no argument",
};

int zw_cmd_versions(int argc, char **argv)
{
	struct versions_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp, *v;
	size_t i;
	int r, fmt;

	r = zw_ctl_parse(&versions_cmdline, &o, argc, argv, &c);
	if (r != ZW_CTL_GO)
		return r;
	if (c.n_pos) {
		zw_ctl_err("versions takes no argument");
		return ZW_EXIT_USAGE;
	}
	fmt = o.format;
	req = json_pack("{s:s}", "op", "versions");
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	json_object_del(resp, "ok");
	if (fmt == ZW_JF_JSON) {
		zw_ctl_print_json(resp);
	} else if (fmt == ZW_JF_CSV) {
		fputs("version,active,time,uid,user,kind,rollback_of,state,"
		      "image_sha256,matrix_sha256,file,reason,detail\r\n",
		      stdout);
		json_array_foreach(json_object_get(resp, "versions"), i, v) {
			json_t *rb = json_object_get(v, "rollback_of");

			printf("%lld,%s,", (long long)json_integer_value(json_object_get(v, "version")),
			       json_is_true(json_object_get(v, "active")) ? "yes" : "no");
			zw_csv__field(stdout, zw_ctl_sget(v, "time"));
			printf(",%lld,", (long long)json_integer_value(json_object_get(v, "uid")));
			zw_csv__field(stdout, zw_ctl_sget(v, "user"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "kind"));
			putchar(',');
			if (json_is_integer(rb))
				printf("%lld", (long long)json_integer_value(rb));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "state"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "image_sha256"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "matrix_sha256"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "file"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "reason"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(v, "detail"));
			fputs("\r\n", stdout);
		}
	} else {
		printf("  %-7s %-27s %-12s %-9s %-9s %-16s %s\n", "VERSION",
		       "DATE (UTC)", "AUTHOR", "KIND", "STATE", "IMAGE SHA-256",
		       "REASON");
		json_array_foreach(json_object_get(resp, "versions"), i, v) {
			printf("%c %-7lld %-27s %-12s %-9s %-9s %.16s %s\n",
			       json_is_true(json_object_get(v, "active")) ? '*' : ' ',
			       (long long)json_integer_value(json_object_get(v, "version")),
			       zw_ctl_tsget(v, "time"), zw_ctl_tsget(v, "user"), zw_ctl_tsget(v, "kind"),
			       zw_ctl_tsget(v, "state"), zw_ctl_tsget(v, "image_sha256"),
			       zw_ctl_tsget(v, "reason"));
		}
		if (!json_array_size(json_object_get(resp, "versions")))
			puts("(no version yet: zonectl commit MATRIX.yaml -m "
			     "REASON)");
	}
	json_decref(resp);
	return 0;
}
