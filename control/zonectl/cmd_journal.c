/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl journal [verify|archive]: through the daemon, or read-only
 * from --state DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jprint.h"
#include "zonectl.h"
#include "client.h"

static void journal_help(FILE *out)
{
	fputs("usage: zonectl journal [--since DAYS] [--flow ID] [--format text|json|csv]\n"
	      "       zonectl journal verify [--format text|json]\n"
	      "       zonectl journal archive --older-than DAYS -m REASON\n"
	      "\n"
	      "The change journal: one entry per flow added, changed or removed\n"
	      "by each version, plus commits, refused commits, rollbacks and\n"
	      "crisis measures; each with UTC time, clock sync state, author,\n"
	      "reason, before/after and each backend's implementation\n"
	      "(docs/journal.md). csv and json carry every field.\n"
	      "  --since DAYS   entries of the last DAYS days\n"
	      "  --flow ID      entries about flow ID\n"
	      "verify: check the hash chain end to end, archives included; exit 1\n"
	      "and name the first bad entry if anything was modified, deleted,\n"
	      "reordered or inserted.\n"
	      "archive: move entries older than DAYS (at least 365) to a file in\n"
	      "the state directory's archive/ that keeps the chain verifiable\n"
	      "(daemon only).\n"
	      "Works without the daemon with --state DIR (except archive).\n",
	      out);
}

static int cmd_verify(int argc, char **argv)
{
	const char *format = "text";
	json_t *req, *resp;
	int i = 2, r, fmt;

	while (i < argc) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			journal_help(stdout);
			return 0;
		}
		r = zw_ctl_global_opt(argc, argv, &i);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
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
		zw_ctl_err("unknown argument '%s' (see zonectl journal --help)",
			   argv[i]);
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(format, "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s}", "op", "verify");
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	bool intact = json_is_true(json_object_get(resp, "intact"));

	if (fmt == ZW_JF_JSON) {
		json_object_del(resp, "ok");
		zw_ctl_print_json(resp);
	} else if (intact) {
		printf("journal intact: %lld entries (%lld in archives); head "
		       "entry %lld %s\n",
		       (long long)json_integer_value(json_object_get(resp, "entries")),
		       (long long)json_integer_value(json_object_get(resp, "archived")),
		       (long long)json_integer_value(json_object_get(resp, "head_seq")),
		       zw_ctl_sget(resp, "head_hash"));
	} else {
		printf("journal ALTERED: first bad entry %lld: %s\n",
		       (long long)json_integer_value(json_object_get(resp, "bad_seq")),
		       zw_ctl_sget(resp, "problem"));
	}
	if (!intact)
		zw_ctl_err("the journal was altered at entry %lld: %s",
			   (long long)json_integer_value(json_object_get(resp, "bad_seq")),
			   zw_ctl_sget(resp, "problem"));
	json_decref(resp);
	return intact ? 0 : ZW_EXIT_INVALID;
}

static int cmd_archive(int argc, char **argv)
{
	const char *reason = NULL;
	long days = -1;
	json_t *req, *resp;
	int i = 2, r;

	while (i < argc) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			journal_help(stdout);
			return 0;
		}
		r = zw_ctl_global_opt(argc, argv, &i);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		r = zw_ctl_reason_opt(argc, argv, &i, &reason);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
			if (zw_ctl_parse_days(argv[i + 1], &days))
				return ZW_EXIT_USAGE;
			i += 2;
			continue;
		}
		zw_ctl_err("unknown argument '%s' (see zonectl journal --help)",
			   argv[i]);
		return ZW_EXIT_USAGE;
	}
	if (days < 0 || !reason) {
		zw_ctl_err("usage: zonectl journal archive --older-than DAYS -m "
			   "REASON");
		return ZW_EXIT_USAGE;
	}
	req = json_pack("{s:s, s:I, s:s}", "op", "archive", "older_than_days",
			(json_int_t)days, "reason", reason);
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (json_integer_value(json_object_get(resp, "archived")))
		printf("%lld entries archived to %s\n",
		       (long long)json_integer_value(json_object_get(resp, "archived")),
		       zw_ctl_sget(resp, "file"));
	else
		printf("nothing older than %ld days to archive\n", days);
	json_decref(resp);
	return 0;
}

int zw_cmd_journal(int argc, char **argv)
{
	const char *format = "text", *flow = NULL;
	long since = 0;
	json_t *req, *resp, *e;
	struct zw_jprint p;
	size_t k;
	int i = 1, r, fmt;

	/* The sub-command may follow global options. */
	for (int x = 1; x < argc; x++) {
		if (!strcmp(argv[x], "verify") || !strcmp(argv[x], "archive")) {
			char *sub = argv[x];

			memmove(&argv[2], &argv[1], (size_t)(x - 1) * sizeof(*argv));
			argv[1] = sub;
			return !strcmp(sub, "verify") ? cmd_verify(argc, argv)
						      : cmd_archive(argc, argv);
		}
		if ((!strcmp(argv[x], "--since") || !strcmp(argv[x], "--flow") ||
		     !strcmp(argv[x], "--format") || !strcmp(argv[x], "--socket") ||
		     !strcmp(argv[x], "--state")))
			x++;
	}
	while (i < argc) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			journal_help(stdout);
			return 0;
		}
		r = zw_ctl_global_opt(argc, argv, &i);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		if (i + 1 < argc && !strcmp(a, "--since")) {
			if (zw_ctl_parse_days(argv[i + 1], &since))
				return ZW_EXIT_USAGE;
		} else if (i + 1 < argc && !strcmp(a, "--flow")) {
			flow = argv[i + 1];
		} else if (i + 1 < argc && !strcmp(a, "--format")) {
			format = argv[i + 1];
		} else {
			zw_ctl_err("unknown argument '%s' (see zonectl journal "
				   "--help)",
				   a);
			return ZW_EXIT_USAGE;
		}
		i += 2;
	}
	fmt = zw_ctl_format(format, "text,json,csv");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s, s:I, s:s?}", "op", "journal", "since_days",
			(json_int_t)since, "flow", flow);
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	zw_jprint__begin(&p, stdout, (enum zw_journal_format)fmt);
	json_array_foreach(json_object_get(resp, "entries"), k, e) {
		char hash[65];

		snprintf(hash, sizeof(hash), "%s", zw_ctl_sget(e, "hash"));
		json_object_del(e, "hash");
		zw_jprint__entry(&p, e, hash);
	}
	zw_jprint__end(&p);
	json_decref(resp);
	return 0;
}
