/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl commit: send a matrix to zonewalld as the next version. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct commit_opts {
	const char *reason;
	int format; /* enum zw_journal_format */
};

static const struct zw_ctl_opt commit_opts[] = {
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct commit_opts, reason, "REASON",
	 "why (journalled; required)"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct commit_opts, format, NULL,
	 "text (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	{NULL},
};

static const struct zw_ctl_cmdline commit_cmdline = {
	.name = "commit",
	.usage = "zonectl commit MATRIX.yaml -m REASON [--format text|json]",
	.about = "Send the matrix to zonewalld: it validates and compiles it, stores\n"
		 "it as the next version, programs every backend, and only then makes\n"
		 "it active; one journal entry per flow added, changed or removed.\n"
		 "If a backend fails, the previous version stays active everywhere\n"
		 "and the refusal is journalled. An empty reason, or one that looks\n"
		 "like it holds a password or key, is refused.\n"
		 "Exit: 0 active, 1 refused (invalid matrix or reason), 2 usage,\n"
		 "3 daemon unreachable or a backend failed.\n",
	.opts = commit_opts,
	.max_pos = 1,
	.too_many = "commit needs one matrix file (see zonectl commit --help)",
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			char *x = realloc(buf, cap = (n + 65536 + 1) * 2);

			if (!x) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = x;
		}
		size_t got = fread(buf + n, 1, 65536, f);

		n += got;
		if (got < 65536)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int zw_cmd_commit(int argc, char **argv)
{
	struct commit_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp;
	char *text;
	size_t len;
	int r, fmt;

	r = zw_ctl_parse(&commit_cmdline, &o, argc, argv, &c);
	if (r != ZW_CTL_GO)
		return r;
	if (c.n_pos != 1) {
		zw_ctl_err("commit needs one matrix file (see zonectl commit "
			   "--help)");
		return ZW_EXIT_USAGE;
	}
	if (!o.reason) {
		zw_ctl_err("commit needs a reason: -m \"why the rules change\"");
		return ZW_EXIT_USAGE;
	}
	r = zw_ctl_check_text(o.reason, ZW_REASON_MAX, "reason");
	if (!r)
		r = zw_ctl_check_text(c.pos[0], ZW_FILE_NAME_MAX,
				      "the matrix file name");
	if (r)
		return r;
	fmt = o.format;
	text = read_file(c.pos[0], &len);
	if (!text) {
		zw_ctl_err("cannot read %s: %s", c.pos[0], strerror(errno));
		return ZW_EXIT_INVALID;
	}
	if (memchr(text, '\0', len)) {
		free(text);
		zw_ctl_err("%s is not a text file", c.pos[0]);
		return ZW_EXIT_INVALID;
	}
	req = json_pack("{s:s, s:s%, s:s, s:s}", "op", "commit", "matrix",
			text, len, "file", c.pos[0], "reason", o.reason);
	free(text);
	if (!req) {
		zw_ctl_err("%s is not valid UTF-8 text", c.pos[0]);
		return ZW_EXIT_INVALID;
	}
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (fmt == ZW_JF_JSON) {
		zw_ctl_print_json(resp);
	} else {
		const char *d = zw_ctl_sget(resp, "diagnostics");

		if (*d)
			zw_ctl_puts_lines(d, stderr);
		printf("version %lld active: %lld flow(s) added, %lld changed, "
		       "%lld removed\nimage sha256 %s\n",
		       (long long)json_integer_value(json_object_get(resp, "version")),
		       (long long)json_integer_value(json_object_get(resp, "added")),
		       (long long)json_integer_value(json_object_get(resp, "changed")),
		       (long long)json_integer_value(json_object_get(resp, "removed")),
		       zw_ctl_sget(resp, "image_sha256"));
		if (strcmp(zw_ctl_sget(resp, "image_sha256"), zw_ctl_sget(resp, "enforced_sha256")))
			printf("enforced (crisis measures in force) %s\n",
			       zw_ctl_sget(resp, "enforced_sha256"));
	}
	json_decref(resp);
	return 0;
}
