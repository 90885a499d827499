/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl flows: the connections and denials zonewalld sees, live (its
 * record pump's buffer; docs/telemetry.md). A reader that falls behind
 * loses lines, counted; it never slows the daemon or an engine. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct flows_opts {
	bool follow;
	const char *zone;
	const char *flow;
	bool denied;
	int format; /* 0 text, 1 json */
};

static const struct zw_ctl_opt flows_opts[] = {
	ZW_CTL_OPT("follow", 'f', ZW_CTL_FLAG, struct flows_opts, follow, NULL,
		   "keep printing new records until interrupted"),
	ZW_CTL_OPT("zone", 0, ZW_CTL_STRING, struct flows_opts, zone, "ZONE",
		   "only records from or to zone ZONE"),
	ZW_CTL_OPT("flow", 0, ZW_CTL_STRING, struct flows_opts, flow, "ID",
		   "only records of matrix flow ID"),
	ZW_CTL_OPT("denied", 0, ZW_CTL_FLAG, struct flows_opts, denied, NULL,
		   "only denied attempts"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct flows_opts, format, NULL,
		   "text (default), or json: one JSON document, with\n"
		   "--follow one JSON object per line",
		   .choices = zw_ctl_text_json),
	{NULL},
};

static const struct zw_ctl_cmdline flows_cmdline = {
	.name = "flows",
	.usage = "zonectl flows [--follow] [--zone ZONE] [--flow ID] [--denied]\n"
		 "              [--format text|json]",
	.about = "The latest flow records zonewalld received from its engines\n"
		 "(connections created and ended of logged flows, denied\n"
		 "attempts), with the zones and flow that judged them; --follow\n"
		 "prints new ones as they come. The daemon keeps a bounded\n"
		 "buffer: a reader that falls behind is told how many lines it\n"
		 "lost. Exit: 0, 3 daemon unreachable.\n",
	.opts = flows_opts,
	.max_pos = 0,
	.too_many = "flows takes no argument",
};

static void print_text(const json_t *f)
{
	const char *ev = zw_ctl_sget(f, "event");
	const json_t *sp = json_object_get(f, "sport");
	char src[80], dst[80];
	bool v6 = strchr(zw_ctl_sget(f, "src"), ':') != NULL;

	if (sp) {
		snprintf(src, sizeof(src), v6 ? "[%s]:%lld" : "%s:%lld",
			 zw_ctl_sget(f, "src"),
			 (long long)json_integer_value(sp));
		snprintf(dst, sizeof(dst), v6 ? "[%s]:%lld" : "%s:%lld",
			 zw_ctl_sget(f, "dst"),
			 (long long)json_integer_value(json_object_get(f, "dport")));
	} else {
		snprintf(src, sizeof(src), "%s", zw_ctl_sget(f, "src"));
		snprintf(dst, sizeof(dst), "%s type %lld/%lld",
			 zw_ctl_sget(f, "dst"),
			 (long long)json_integer_value(json_object_get(f, "icmp_type")),
			 (long long)json_integer_value(json_object_get(f, "icmp_code")));
	}
	printf("%s %-7s %-10s %s -> %s %s %s -> %s", zw_ctl_sget(f, "time"), ev,
	       *zw_ctl_sget(f, "flow") ? zw_ctl_sget(f, "flow") : "-",
	       zw_ctl_sget(f, "from"), zw_ctl_sget(f, "to"),
	       zw_ctl_sget(f, "proto"), src, dst);
	if (!strcmp(ev, "denied") && *zw_ctl_sget(f, "seen"))
		printf(" reason %s (%s) count %lld\n", zw_ctl_sget(f, "reason"),
		       zw_ctl_sget(f, "seen"),
		       (long long)json_integer_value(json_object_get(f, "packets")));
	else if (!strcmp(ev, "denied"))
		printf(" reason %s count %lld\n", zw_ctl_sget(f, "reason"),
		       (long long)json_integer_value(json_object_get(f, "packets")));
	else if (!strcmp(ev, "created"))
		putchar('\n');
	else
		printf(" packets %lld bytes %lld\n",
		       (long long)json_integer_value(json_object_get(f, "packets")),
		       (long long)json_integer_value(json_object_get(f, "bytes")));
}

int zw_cmd_flows(int argc, char **argv)
{
	struct flows_opts o = {0};
	struct zw_ctl_args a;
	json_int_t after = -1;
	bool first = true;
	int r;

	r = zw_ctl_parse(&flows_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	if (zw_ctl.state) {
		zw_ctl_err("flows asks the running daemon: drop --state");
		return ZW_EXIT_USAGE;
	}
	for (;;) {
		json_t *req, *resp, *f;
		json_int_t lost;
		size_t i;

		req = json_pack("{s:s, s:s?, s:s?, s:b}", "op", "flows", "zone",
				o.zone, "flow", o.flow, "denied", o.denied);
		if (!req) {
			zw_ctl_err("out of memory");
			return ZW_EXIT_ENV;
		}
		if (!first)
			json_object_set_new(req, "after", json_integer(after));
		r = zw_ctl_request(req, false, &resp);
		json_decref(req);
		if (r)
			return r;
		after = json_integer_value(json_object_get(resp, "next"));
		lost = json_integer_value(json_object_get(resp, "lost"));
		if (o.format == 1 && !o.follow) {
			json_object_del(resp, "ok");
			json_object_del(resp, "next");
			zw_ctl_print_json(resp);
			json_decref(resp);
			return 0;
		}
		if (lost) {
			if (o.format == 1)
				printf("{\"lost\": %lld}\n", (long long)lost);
			else
				printf("# %lld line(s) lost: this reader fell "
				       "behind the daemon's buffer\n",
				       (long long)lost);
		}
		json_array_foreach(json_object_get(resp, "flows"), i, f) {
			if (o.format == 1) {
				char *s = json_dumps(f, JSON_COMPACT |
							       JSON_SORT_KEYS);

				if (s)
					puts(s);
				free(s);
			} else {
				print_text(f);
			}
		}
		json_decref(resp);
		fflush(stdout);
		if (!o.follow)
			return 0;
		first = false;
		nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL);
	}
}
