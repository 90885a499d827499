/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl journal [verify|archive] and zonectl rules: through the daemon,
 * or read-only from --state DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jprint.h"
#include "zonectl.h"
#include "client.h"

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

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

static int parse_days(const char *s, long *out)
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
		       sget(resp, "head_hash"));
	} else {
		printf("journal ALTERED: first bad entry %lld: %s\n",
		       (long long)json_integer_value(json_object_get(resp, "bad_seq")),
		       sget(resp, "problem"));
	}
	if (!intact)
		zw_ctl_err("the journal was altered at entry %lld: %s",
			   (long long)json_integer_value(json_object_get(resp, "bad_seq")),
			   sget(resp, "problem"));
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
			if (parse_days(argv[i + 1], &days))
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
		       sget(resp, "file"));
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
			if (parse_days(argv[i + 1], &since))
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

		snprintf(hash, sizeof(hash), "%s", sget(e, "hash"));
		json_object_del(e, "hash");
		zw_jprint__entry(&p, e, hash);
	}
	zw_jprint__end(&p);
	json_decref(resp);
	return 0;
}

/* ---- rules ---- */

static void rules_help(FILE *out)
{
	fputs("usage: zonectl rules [--deleted-within DAYS] [--format text|json|csv]\n"
	      "\n"
	      "The regulatory list of rules (REQUIREMENTS L1): every flow in\n"
	      "force (or suspended by a crisis measure, or expired) and every\n"
	      "flow deleted within DAYS (default 365), each with the date, version,\n"
	      "author and reason of its creation, last modification and\n"
	      "deletion, its definition and its implementation in each backend.\n"
	      "Built from the journal (archives included). Works without the\n"
	      "daemon with --state DIR.\n",
	      out);
}

static void ev_text(const char *what, const json_t *ev)
{
	if (!json_is_object(ev))
		return;
	printf("    %-9s %s  v%lld  %s  %s\n", what, sget(ev, "time"),
	       (long long)json_integer_value(json_object_get(ev, "version")),
	       sget(ev, "user"), sget(ev, "reason"));
}

static void ev_csv(const json_t *ev)
{
	if (!json_is_object(ev)) {
		fputs(",,,", stdout);
		return;
	}
	zw_csv__field(stdout, sget(ev, "time"));
	printf(",%lld,", (long long)json_integer_value(json_object_get(ev, "version")));
	zw_csv__field(stdout, sget(ev, "user"));
	putchar(',');
	zw_csv__field(stdout, sget(ev, "reason"));
}

static char *services_text(const json_t *def)
{
	json_t *s;
	size_t i;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	json_array_foreach(json_object_get(def, "services"), i, s)
		fprintf(f, "%s%s", i ? " " : "", sget(s, "name"));
	fclose(f);
	return out;
}

int zw_cmd_rules(int argc, char **argv)
{
	const char *format = "text";
	long days = 365;
	json_t *req, *resp, *r0;
	size_t k;
	int i = 1, r, fmt;

	while (i < argc) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			rules_help(stdout);
			return 0;
		}
		r = zw_ctl_global_opt(argc, argv, &i);
		if (r < 0)
			return ZW_EXIT_USAGE;
		if (r)
			continue;
		if (i + 1 < argc && !strcmp(a, "--deleted-within")) {
			if (parse_days(argv[i + 1], &days))
				return ZW_EXIT_USAGE;
		} else if (i + 1 < argc && !strcmp(a, "--format")) {
			format = argv[i + 1];
		} else {
			zw_ctl_err("unknown argument '%s' (see zonectl rules "
				   "--help)",
				   a);
			return ZW_EXIT_USAGE;
		}
		i += 2;
	}
	fmt = zw_ctl_format(format, "text,json,csv");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s, s:I}", "op", "rules", "deleted_within_days",
			(json_int_t)days);
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	json_object_del(resp, "ok");
	if (fmt == ZW_JF_JSON) {
		zw_ctl_print_json(resp);
		json_decref(resp);
		return 0;
	}
	if (fmt == ZW_JF_CSV)
		fputs("flow,status,from,to,services,justification,created,"
		      "created_version,created_by,created_reason,modified,"
		      "modified_version,modified_by,modified_reason,deleted,"
		      "deleted_version,deleted_by,deleted_reason,implementation\r\n",
		      stdout);
	json_array_foreach(json_object_get(resp, "rules"), k, r0) {
		const json_t *def = json_object_get(r0, "definition");
		char *svc = services_text(def);
		char *impl = zw_jprint__impl_text(json_object_get(r0, "implementation"));
		const char *from = sget(json_object_get(def, "from"), "zone");
		const char *to = sget(json_object_get(def, "to"), "zone");

		if (fmt == ZW_JF_CSV) {
			zw_csv__field(stdout, sget(r0, "flow"));
			putchar(',');
			zw_csv__field(stdout, sget(r0, "status"));
			putchar(',');
			zw_csv__field(stdout, from);
			putchar(',');
			zw_csv__field(stdout, to);
			putchar(',');
			zw_csv__field(stdout, svc ? svc : "");
			putchar(',');
			zw_csv__field(stdout, sget(def, "justification"));
			putchar(',');
			ev_csv(json_object_get(r0, "created"));
			putchar(',');
			ev_csv(json_object_get(r0, "modified"));
			putchar(',');
			ev_csv(json_object_get(r0, "deleted"));
			putchar(',');
			zw_csv__field(stdout, impl ? impl : "");
			fputs("\r\n", stdout);
		} else {
			printf("%s  %s  %s -> %s  %s\n", sget(r0, "flow"),
			       sget(r0, "status"), from, to, svc ? svc : "");
			ev_text("created", json_object_get(r0, "created"));
			ev_text("modified", json_object_get(r0, "modified"));
			ev_text("suspended", json_object_get(r0, "suspended"));
			ev_text("deleted", json_object_get(r0, "deleted"));
			{
				const char *eng;
				json_t *txt;

				json_object_foreach(json_object_get(r0, "implementation"),
						    eng, txt) {
					const char *line = json_string_value(txt);
					const char *nl;

					printf("    %-9s %s:", "impl", eng);
					while (line && *line) {
						nl = strchr(line, '\n');
						printf(" %.*s\n",
						       nl ? (int)(nl - line) : (int)strlen(line),
						       line);
						line = nl ? nl + 1 : NULL;
						if (line && *line)
							printf("    %-9s %*s ", "",
							       (int)strlen(eng), "");
					}
				}
			}
		}
		free(svc);
		free(impl);
	}
	if (fmt == ZW_JF_TEXT && !json_array_size(json_object_get(resp, "rules")))
		printf("(no rule in force or deleted within %ld days)\n", days);
	json_decref(resp);
	return 0;
}
