/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl rules: the regulatory list of rules (REQUIREMENTS L1), through
 * the daemon or read-only from --state DIR. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "jprint.h"
#include "options.h"
#include "zonectl.h"

struct rules_opts {
	long deleted_within;
	int format; /* enum zw_journal_format */
};

static const struct zw_ctl_opt rules_opts[] = {
	ZW_CTL_OPT("deleted-within", 0, ZW_CTL_INT, struct rules_opts, deleted_within, "DAYS",
	 "also the flows deleted within DAYS days (default 365)",
	 .max = 100000),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct rules_opts, format, NULL,
	 "text (default), one JSON document, or csv\n(RFC 4180)",
	 .choices = zw_ctl_text_json_csv),
	{NULL},
};

static const struct zw_ctl_cmdline rules_cmdline = {
	.name = "rules",
	.usage = "zonectl rules [--deleted-within DAYS] [--format text|json|csv]",
	.about = "The regulatory list of rules (REQUIREMENTS L1): every flow in\n"
		 "force (or suspended by a crisis measure, or expired) and every\n"
		 "flow deleted within DAYS (default 365), each with the date, version,\n"
		 "author and reason of its creation, last modification and\n"
		 "deletion, its definition and its implementation in each backend.\n"
		 "Built from the journal (archives included). Works without the\n"
		 "daemon with --state DIR.\n",
	.opts = rules_opts,
};

static void ev_text(const char *what, const json_t *ev)
{
	if (!json_is_object(ev))
		return;
	printf("    %-9s %s  v%lld  %s  %s\n", what, zw_ctl_tsget(ev, "time"),
	       (long long)json_integer_value(json_object_get(ev, "version")),
	       zw_ctl_tsget(ev, "user"), zw_ctl_tsget(ev, "reason"));
}

static void ev_csv(const json_t *ev)
{
	if (!json_is_object(ev)) {
		fputs(",,,", stdout);
		return;
	}
	zw_csv__field(stdout, zw_ctl_sget(ev, "time"));
	printf(",%lld,", (long long)json_integer_value(json_object_get(ev, "version")));
	zw_csv__field(stdout, zw_ctl_sget(ev, "user"));
	putchar(',');
	zw_csv__field(stdout, zw_ctl_sget(ev, "reason"));
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
		fprintf(f, "%s%s", i ? " " : "", zw_ctl_sget(s, "name"));
	fclose(f);
	return out;
}

int zw_cmd_rules(int argc, char **argv)
{
	struct rules_opts o = {.deleted_within = 365};
	struct zw_ctl_args a;
	long days;
	json_t *req, *resp, *r0;
	size_t k;
	int r, fmt;

	r = zw_ctl_parse(&rules_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	days = o.deleted_within;
	fmt = o.format;
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
		const char *from = zw_ctl_sget(json_object_get(def, "from"), "zone");
		const char *to = zw_ctl_sget(json_object_get(def, "to"), "zone");

		if (fmt == ZW_JF_CSV) {
			zw_csv__field(stdout, zw_ctl_sget(r0, "flow"));
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(r0, "status"));
			putchar(',');
			zw_csv__field(stdout, from);
			putchar(',');
			zw_csv__field(stdout, to);
			putchar(',');
			zw_csv__field(stdout, svc ? svc : "");
			putchar(',');
			zw_csv__field(stdout, zw_ctl_sget(def, "justification"));
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
			printf("%s  %s  %s -> %s  %s\n", zw_ctl_tsget(r0, "flow"),
			       zw_ctl_tsget(r0, "status"), zw_ctl_esc(from),
			       zw_ctl_esc(to), zw_ctl_esc(svc ? svc : ""));
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

					printf("    %-9s %s:", "impl", zw_ctl_esc(eng));
					while (line && *line) {
						char *one;

						nl = strchr(line, '\n');
						one = strndup(line, nl ? (size_t)(nl - line)
								       : strlen(line));
						printf(" %s\n", zw_ctl_esc(one ? one : "?"));
						free(one);
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
