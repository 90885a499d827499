/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl explain: the verdict a new connection gets, from a matrix or a
 * policy image, through the reference evaluator. The same question gives the
 * same line whatever the input. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

#include "options.h"
#include "zonectl.h"

struct explain_opts {
	const char *date;
	const char *at;
	int format; /* index in zw_ctl_text_json */
};

static const struct zw_ctl_opt explain_opts[] = {
	ZW_CTL_OPT("date", 0, ZW_CTL_STRING, struct explain_opts, date,
	 "YYYY-MM-DD", "evaluate flow expiry on that day (default today,\nUTC)"),
	ZW_CTL_OPT("at", 0, ZW_CTL_STRING, struct explain_opts, at, "WHEN",
	 "answer from the version in force at WHEN (vN,\n"
	 "YYYY-MM-DD: the end of that UTC day, or a UTC\n"
	 "date-time), read from the daemon or --state DIR;\n"
	 "then no MATRIX argument"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct explain_opts, format, NULL,
	 "one line (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	{NULL},
};

static const struct zw_ctl_cmdline explain_cmdline = {
	.name = "explain",
	.usage = "zonectl explain MATRIX.yaml|POLICY.img SRC DST PROTO [DPORT|ICMPTYPE]\n"
		 "                [--date YYYY-MM-DD] [--format text|json]\n"
		 "zonectl explain --at vN|DATE|DATETIME SRC DST PROTO [DPORT|ICMPTYPE]",
	.about = "Print the verdict a NEW connection from SRC to DST gets, and which\n"
		 "flow decides it. The first word is 'allow' or 'deny':\n"
		 "  allow F-001 ops -> jump ssh\n"
		 "  allow - srv -> srv (same zone, not isolated)\n"
		 "  deny no flow from ops to upd for tcp/22\n"
		 "  deny ops -> ops isolated zone for tcp/22\n"
		 "PROTO is tcp, udp, sctp, icmp, icmpv6 or a number; tcp/udp/sctp\n"
		 "need a destination port, icmp/icmpv6 a type (name or number).\n"
		 "With --at, from the version in force then (REQUIREMENTS L1: what\n"
		 "was allowed on that day); flow expiry is judged on that day.\n"
		 "Exit 0 whatever the verdict; 1 if the matrix or image is invalid.\n",
	.opts = explain_opts,
	.max_pos = 5,
	.too_many = "too many arguments (see zonectl explain --help)",
};

struct answer {
	const char *verdict;
	const char *flow;
	const char *from, *to;
	const char *service;
	const char *reason;
};

static void proto_port(const struct zw_query *q, char *buf, size_t n)
{
	char pb[4];
	const char *p = zw_proto__name(q->proto, pb);

	if (zw_proto__has_ports(q->proto)) {
		snprintf(buf, n, "%s/%u", p, q->port);
	} else if (zw_proto__is_icmp(q->proto)) {
		const char *t = zw_icmp_type__name(q->proto, (uint8_t)q->port);

		if (t)
			snprintf(buf, n, "%s/%s", p, t);
		else
			snprintf(buf, n, "%s/%u", p, q->port);
	} else {
		snprintf(buf, n, "proto %s", p);
	}
}

static void print_answer(const struct answer *a, const struct zw_verdict *v,
			 const struct zw_query *q, bool json)
{
	char pp[64];

	proto_port(q, pp, sizeof(pp));
	if (json) {
		printf("{\"verdict\":\"%s\",\"reason\":\"%s\",\"flow\":", a->verdict, a->reason);
		if (a->flow)
			zw_json__string(stdout, a->flow);
		else
			fputs("null", stdout);
		fputs(",\"from\":", stdout);
		zw_json__string(stdout, a->from);
		fputs(",\"to\":", stdout);
		zw_json__string(stdout, a->to);
		fputs(",\"service\":", stdout);
		if (a->service)
			zw_json__string(stdout, a->service);
		else
			fputs("null", stdout);
		fputs(",\"traffic\":", stdout);
		zw_json__string(stdout, pp);
		fputs("}\n", stdout);
		return;
	}
	switch (v->reason) {
	case ZW_VERDICT_FLOW:
		printf("allow %s %s -> %s %s\n", a->flow, a->from, a->to, a->service);
		break;
	case ZW_VERDICT_SAME_ZONE:
		printf("allow - %s -> %s (same zone, not isolated) for %s\n",
		       a->from, a->to, pp);
		break;
	case ZW_VERDICT_ISOLATED:
		printf("deny %s -> %s isolated zone for %s\n", a->from, a->to, pp);
		break;
	case ZW_VERDICT_BLOCKED:
		printf("deny %s -> %s crisis block list for %s\n", a->from, a->to, pp);
		break;
	default:
		printf("deny no flow from %s to %s for %s\n", a->from, a->to, pp);
	}
}

static const char *reason_name(enum zw_verdict_reason r)
{
	switch (r) {
	case ZW_VERDICT_FLOW:
		return "flow";
	case ZW_VERDICT_SAME_ZONE:
		return "same-zone";
	case ZW_VERDICT_ISOLATED:
		return "isolated";
	case ZW_VERDICT_BLOCKED:
		return "blocked";
	default:
		return "no-flow";
	}
}

static bool is_image(const char *path)
{
	char magic[8];
	FILE *f = fopen(path, "rb");
	bool r;

	if (!f)
		return false;
	r = fread(magic, 1, 8, f) == 8 && !memcmp(magic, ZW_IMAGE_MAGIC, 8);
	fclose(f);
	return r;
}

/* explain --at WHEN SRC DST PROTO [PORT]: the usual answer, from the
 * matrix of the version in force at WHEN. */
static int explain_at(const struct explain_opts *o, const struct zw_ctl_args *args)
{
	struct zw_query q;
	struct zw_verdict v;
	struct answer a = {0};
	struct zw_diags d;
	struct zw_matrix *m;
	long long version;
	char err[256], name[64], *text = NULL;
	size_t len;
	int32_t day;
	int r;

	if (args->n_pos < 3 || args->n_pos > 4) {
		zw_ctl_help(&explain_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	if (zw_query__parse(&q, args->pos[0], args->pos[1], args->pos[2],
			    args->n_pos > 3 ? args->pos[3] : NULL, err,
			    sizeof(err))) {
		zw_ctl_err("%s", err);
		return ZW_EXIT_USAGE;
	}
	if (o->date && zw_date__parse(o->date, &q.day)) {
		zw_ctl_err("--date must be YYYY-MM-DD, not '%s'", o->date);
		return ZW_EXIT_USAGE;
	}
	r = zw_ctl_version_at(o->at, &text, &len, &version, &day);
	if (r)
		return r;
	if (!o->date)
		q.day = day;
	snprintf(name, sizeof(name), "version %lld", version);
	zw_diags__init(&d, name);
	m = zw_matrix__parse(text, len, name, &d);
	free(text);
	if (m)
		zw_matrix__validate(m, q.day, &d);
	if (!m || d.n_errors) {
		zw_diags__print_text(&d, stderr);
		zw_ctl_err("the matrix of %s does not validate on that day", name);
		zw_diags__fini(&d);
		zw_matrix__free(m);
		return ZW_EXIT_INVALID;
	}
	zw_diags__fini(&d);
	zw_eval__matrix(m, &q, &v);
	a.from = m->zones[v.src_zone].name;
	a.to = m->zones[v.dst_zone].name;
	if (v.flow != ZW_NO_FLOW) {
		a.flow = m->flows[v.flow].id;
		a.service = m->services[v.service].name;
	}
	a.verdict = v.allow ? "allow" : "deny";
	a.reason = reason_name(v.reason);
	print_answer(&a, &v, &q, o->format == 1);
	zw_matrix__free(m);
	return ZW_EXIT_OK;
}

int zw_cmd_explain(int argc, char **argv)
{
	struct explain_opts o = {0};
	struct zw_ctl_args args;
	const char **pos = args.pos;
	struct zw_query q;
	struct zw_verdict v;
	struct answer a = {0};
	char err[256];
	int r;

	r = zw_ctl_parse(&explain_cmdline, &o, argc, argv, &args);
	if (r != ZW_CTL_GO)
		return r;
	if (o.at)
		return explain_at(&o, &args);
	if (args.n_pos < 4) {
		zw_ctl_help(&explain_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	if (zw_query__parse(&q, pos[1], pos[2], pos[3], pos[4], err, sizeof(err))) {
		zw_ctl_err("%s", err);
		return ZW_EXIT_USAGE;
	}
	if (o.date && zw_date__parse(o.date, &q.day)) {
		zw_ctl_err("--date must be YYYY-MM-DD, not '%s'", o.date);
		return ZW_EXIT_USAGE;
	}

	if (is_image(pos[0])) {
		struct zw_image *img = zw_image__load(pos[0], err, sizeof(err));

		if (!img) {
			zw_ctl_err("%s: %s", pos[0], err);
			return errno == ENOMEM ? ZW_EXIT_ENV : ZW_EXIT_INVALID;
		}
		zw_eval__image(img, &q, &v);
		a.from = zw_image__str(img, img->zones[v.src_zone].name);
		a.to = zw_image__str(img, img->zones[v.dst_zone].name);
		if (v.flow != ZW_NO_FLOW) {
			a.flow = zw_image__str(img, img->flows[v.flow].id);
			a.service = zw_image__str(img, img->services[v.service].name);
		}
		a.verdict = v.allow ? "allow" : "deny";
		a.reason = reason_name(v.reason);
		print_answer(&a, &v, &q, o.format == 1);
		zw_image__free(img);
		return ZW_EXIT_OK;
	}

	struct zw_diags d;
	int rc;
	struct zw_matrix *m = zw_ctl_load_valid(pos[0], zw_date__today(), &d, &rc);

	zw_diags__fini(&d);
	if (!m)
		return rc;
	zw_eval__matrix(m, &q, &v);
	a.from = m->zones[v.src_zone].name;
	a.to = m->zones[v.dst_zone].name;
	if (v.flow != ZW_NO_FLOW) {
		a.flow = m->flows[v.flow].id;
		a.service = m->services[v.service].name;
	}
	a.verdict = v.allow ? "allow" : "deny";
	a.reason = reason_name(v.reason);
	print_answer(&a, &v, &q, o.format == 1);
	zw_matrix__free(m);
	return ZW_EXIT_OK;
}
