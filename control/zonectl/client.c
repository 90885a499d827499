/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl's daemon client: requests to zonewalld, or read-only answers
 * from --state DIR, and what the daemon commands share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "queries.h"
#include "state.h"
#include "zonectl.h"
#include "client.h"

static int offline(json_t *req, json_t **resp)
{
	char path[4200], err[512];
	const char *op = json_string_value(json_object_get(req, "op"));
	struct zw_journal *j;

	snprintf(path, sizeof(path), "%s/" ZW_STATE_DB, zw_ctl.state);
	j = zw_journal__open(path, ZW_JOURNAL_RDONLY, err, sizeof(err));
	if (!j) {
		zw_ctl_err("cannot read the state in %s: %s (is it a zonewalld "
			   "--state directory?)",
			   zw_ctl.state, err);
		return ZW_EXIT_ENV;
	}
	if (!strcmp(op, "journal"))
		*resp = zw_q__journal(j, req);
	else if (!strcmp(op, "verify"))
		*resp = zw_q__verify(j);
	else if (!strcmp(op, "versions"))
		*resp = zw_q__versions(j);
	else if (!strcmp(op, "rules"))
		*resp = zw_q__rules(j, req);
	else
		*resp = zw_proto__error(2, "'%s' is not available offline", op);
	zw_journal__free(j);
	return 0;
}

int zw_ctl_request(json_t *req, bool read_only, json_t **resp)
{
	char err[1024];
	int r;

	*resp = NULL;
	if (zw_ctl.state) {
		if (!read_only) {
			zw_ctl_err("--state gives read-only access: '%s' needs "
				   "the daemon (drop --state, use --socket)",
				   json_string_value(json_object_get(req, "op")));
			return ZW_EXIT_USAGE;
		}
		r = offline(req, resp);
		if (r)
			return r;
	} else {
		r = zw_proto__call(zw_ctl.socket, req, resp, err, sizeof(err));
		if (r < 0) {
			zw_ctl_err("%s", err);
			return ZW_EXIT_ENV;
		}
	}
	if (!*resp)
		return ZW_EXIT_ENV;
	if (!json_is_true(json_object_get(*resp, "ok"))) {
		json_int_t st = json_integer_value(json_object_get(*resp, "status"));
		const char *d = json_string_value(json_object_get(*resp, "diagnostics"));

		if (d && *d)
			fputs(d, stderr);
		zw_ctl_err("%s", json_string_value(json_object_get(*resp, "error"))
					 ?: "request failed");
		json_decref(*resp);
		*resp = NULL;
		return st >= 1 && st <= 3 ? (int)st : ZW_EXIT_ENV;
	}
	return 0;
}

int zw_ctl_format(const char *s, const char *allowed)
{
	int f = zw_journal_format__parse(s);
	char pat[16];

	snprintf(pat, sizeof(pat), "%s", s ? s : "");
	if (f < 0 || !*pat || !strstr(allowed, pat)) {
		zw_ctl_err("unknown format '%s' (expected one of %s)",
			   s ? s : "", allowed);
		return -1;
	}
	return f;
}

int zw_ctl_reason_opt(int argc, char **argv, int *i, const char **reason)
{
	const char *a = argv[*i];

	if (!strcmp(a, "-m") || !strcmp(a, "--message")) {
		if (*i + 1 >= argc) {
			zw_ctl_err("%s needs a reason", a);
			return -1;
		}
		*reason = argv[*i + 1];
		*i += 2;
		return 1;
	}
	if (!strncmp(a, "--message=", 10)) {
		*reason = a + 10;
		*i += 1;
		return 1;
	}
	if (!strncmp(a, "-m", 2) && a[2]) {
		*reason = a + 2;
		*i += 1;
		return 1;
	}
	return 0;
}

void zw_ctl_print_json(const json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
}

int zw_ctl_parse_common(int argc, char **argv, struct zw_ctl_cmdopts *c,
			void (*help)(FILE *))
{
	int i = 1;

	while (i < argc) {
		const char *a = argv[i];
		int r;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			help(stdout);
			exit(0);
		}
		r = zw_ctl_global_opt(argc, argv, &i);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		r = zw_ctl_reason_opt(argc, argv, &i, &c->reason);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		if (!strcmp(a, "--format") && i + 1 < argc) {
			c->format = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(a, "--format=", 9)) {
			c->format = a + 9;
			i++;
			continue;
		}
		if (a[0] == '-' && a[1]) {
			zw_ctl_err("unknown option '%s' (see zonectl %s --help)",
				   a, argv[0]);
			return ZW_EXIT_USAGE;
		}
		if (c->n_pos == 4) {
			zw_ctl_err("too many arguments (see zonectl %s --help)",
				   argv[0]);
			return ZW_EXIT_USAGE;
		}
		c->pos[c->n_pos++] = a;
		i++;
	}
	return 0;
}

const char *zw_ctl_sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

int zw_ctl_parse_days(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 100000) {
		zw_ctl_err("'%s' is not a number of days", s);
		return -1;
	}
	*out = v;
	return 0;
}
