/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl commit: send a matrix to zonewalld as the next version. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "journal.h"
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
		 "3 matrix file unreadable, daemon unreachable or a backend failed.\n",
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

static bool utf8_valid(const char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k)
		if (!(k = zw_utf8__decode(s + i, n - i, &cp)))
			return false;
	return true;
}

/*
 * The file name the daemon records with the version: the path as given
 * when it is valid UTF-8 without control characters; otherwise each byte
 * that is not (and each backslash) written as \xHH, so that a valid
 * matrix at any path can be committed and the name stays readable.
 */
static char *recorded_name(const char *path)
{
	size_t n = strlen(path), o = 0;
	bool plain = utf8_valid(path, n);
	uint32_t cp;
	char *out;

	for (size_t i = 0; plain && i < n; i++)
		plain = (unsigned char)path[i] >= 0x20 && path[i] != 0x7f;
	if (plain)
		return strdup(path);
	out = malloc(4 * n + 1);
	if (!out)
		return NULL;
	for (size_t i = 0, k; i < n; i += k) {
		const unsigned char *p = (const unsigned char *)path + i;

		k = zw_utf8__decode(p, n - i, &cp);
		if (k > 1 || (k == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\')) {
			memcpy(out + o, p, k);
			o += k;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", *p);
			k = 1;
		}
	}
	out[o] = '\0';
	return out;
}

int zw_cmd_commit(int argc, char **argv)
{
	struct commit_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp;
	char *text, *name;
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
	fmt = o.format;
	/* Each input blamed for its own fault: the reason first (it is what
	 * the user just typed), then the file. */
	if (!utf8_valid(o.reason, strlen(o.reason))) {
		zw_ctl_err("the reason (-m) is not valid UTF-8 text");
		return ZW_EXIT_INVALID;
	}
	r = zw_ctl_check_text(o.reason, ZW_REASON_MAX, "reason");
	if (r)
		return r;
	/* The name as recorded (odd bytes escaped) is what must pass the
	 * free-text rules: a valid matrix at any path can be committed. */
	name = recorded_name(c.pos[0]);
	if (!name) {
		zw_ctl_err("out of memory");
		return ZW_EXIT_ENV;
	}
	r = zw_ctl_check_text(name, ZW_FILE_NAME_MAX, "the matrix file name");
	if (r) {
		free(name);
		return r;
	}
	text = read_file(c.pos[0], &len);
	if (!text) {
		/* unreadable is an environment error, as for check (cli.md) */
		zw_ctl_err("cannot read %s: %s", name, strerror(errno));
		free(name);
		return ZW_EXIT_ENV;
	}
	if (memchr(text, '\0', len) || !utf8_valid(text, len)) {
		zw_ctl_err("%s is not %s", name,
			   memchr(text, '\0', len) ? "a text file"
						   : "valid UTF-8 text");
		free(text);
		free(name);
		return ZW_EXIT_INVALID;
	}
	req = json_pack("{s:s, s:s%, s:s, s:s}", "op", "commit", "matrix",
			text, len, "file", name, "reason", o.reason);
	free(text);
	free(name);
	if (!req) {
		zw_ctl_err("out of memory");
		return ZW_EXIT_ENV;
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
