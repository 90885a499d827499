/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl journal [verify|archive]: through the daemon, or read-only
 * from --state DIR. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "jprint.h"
#include "options.h"
#include "zonectl.h"

#define MAX_DAYS 100000

struct journal_opts {
	long since;
	const char *flow;
	int format;	   /* enum zw_journal_format */
	long older_than;   /* archive */
	const char *reason; /* archive */
	const char *syslog_copy; /* verify */
};

static const struct zw_ctl_opt journal_opts[] = {
	ZW_CTL_OPT("since", 0, ZW_CTL_INT, struct journal_opts, since, "DAYS",
	 "entries of the last DAYS days", .max = MAX_DAYS),
	ZW_CTL_OPT("flow", 0, ZW_CTL_STRING, struct journal_opts, flow, "ID",
	 "entries about flow ID"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct journal_opts, format, NULL,
	 "text (default), one JSON document, or csv\n(RFC 4180)",
	 .choices = zw_ctl_text_json_csv),
	{NULL},
};

static const struct zw_ctl_opt verify_opts[] = {
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct journal_opts, format, NULL,
	 "text (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	ZW_CTL_OPT("syslog-copy", 0, ZW_CTL_STRING, struct journal_opts,
	 syslog_copy, "FILE",
	 "also check the journal against the messages\nzonewalld forwarded "
	 "(a log server's file,\none RFC 5424 message per line)"),
	{NULL},
};

static const struct zw_ctl_opt archive_opts[] = {
	ZW_CTL_OPT("older-than", 0, ZW_CTL_INT, struct journal_opts, older_than,
	 "DAYS", "entries older than DAYS days (at least 365;\nrequired)",
	 .max = MAX_DAYS),
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct journal_opts, reason,
	 "REASON", "why (journalled; required)"),
	{NULL},
};

static const struct zw_ctl_cmdline journal_cmdline;

static const struct zw_ctl_cmdline verify_cmdline = {
	.name = "journal verify",
	.opts = verify_opts,
	.help_of = &journal_cmdline,
};

static const struct zw_ctl_cmdline archive_cmdline = {
	.name = "journal archive",
	.opts = archive_opts,
	.help_of = &journal_cmdline,
};

static const struct zw_ctl_cmdline *const journal_verbs[] = {
	&verify_cmdline, &archive_cmdline, NULL,
};

static const struct zw_ctl_cmdline journal_cmdline = {
	.name = "journal",
	.usage = "zonectl journal [--since DAYS] [--flow ID] [--format text|json|csv]\n"
		 "zonectl journal verify [--syslog-copy FILE] [--format text|json]\n"
		 "zonectl journal archive --older-than DAYS -m REASON",
	.about = "The change journal: one entry per flow added, changed or removed\n"
		 "by each version, plus commits, refused commits, rollbacks and\n"
		 "crisis measures; each with UTC time, clock sync state, author,\n"
		 "reason, before/after and each backend's implementation\n"
		 "(docs/journal.md). csv and json carry every field.\n"
		 "verify: check the hash chain end to end, archives included, its head\n"
		 "against the checkpoint file (and a syslog copy), and every stored\n"
		 "version against the journal; exit 1 and name the first bad entry or\n"
		 "version if anything was modified, deleted, reordered, inserted or cut.\n"
		 "archive: move entries older than DAYS (at least 365) to a file in\n"
		 "the state directory's archive/ that keeps the chain verifiable\n"
		 "(daemon only).\n"
		 "Works without the daemon with --state DIR (except archive).\n",
	.opts = journal_opts,
	.verbs = journal_verbs,
};

/* The value of SD parameter @name in @line ("" if absent) into @out. */
static bool sd_param(const char *line, const char *name, char *out,
		     size_t len)
{
	char key[32];
	const char *p;
	size_t n;

	snprintf(key, sizeof(key), " %s=\"", name);
	p = strstr(line, key);
	if (!p)
		return false;
	p += strlen(key);
	n = strspn(p, "0123456789abcdef");
	if (!n || n >= len || p[n] != '"')
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* [[seq, hash], ...] from a syslog copy: each message's own entry and the
 * head it carried. NULL (error printed) if the file cannot be read. */
static json_t *syslog_anchors(const char *path)
{
	FILE *f = fopen(path, "re");
	json_t *a = json_array();
	char *line = NULL, seq[24], hash[72];
	size_t cap = 0;

	if (!f || !a) {
		zw_ctl_err("cannot read %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		json_decref(a);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		const char *sd = strstr(line, "[zonewall@");

		if (!sd)
			continue;
		if (sd_param(sd, "seq", seq, sizeof(seq)) &&
		    sd_param(sd, "hash", hash, sizeof(hash)) &&
		    strlen(hash) == 64)
			json_array_append_new(a, json_pack("[I, s]",
				(json_int_t)strtoll(seq, NULL, 10), hash));
		if (sd_param(sd, "head_seq", seq, sizeof(seq)) &&
		    sd_param(sd, "head_hash", hash, sizeof(hash)) &&
		    strlen(hash) == 64)
			json_array_append_new(a, json_pack("[I, s]",
				(json_int_t)strtoll(seq, NULL, 10), hash));
	}
	free(line);
	fclose(f);
	if (!json_array_size(a)) {
		zw_ctl_err("%s holds no zonewall journal message", path);
		json_decref(a);
		return NULL;
	}
	return a;
}

/* argv[0] is "verify". */
static int cmd_verify(int argc, char **argv)
{
	struct journal_opts o = {0};
	struct zw_ctl_args a;
	json_t *req, *resp;
	int r, fmt;

	r = zw_ctl_parse(&verify_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	fmt = o.format;
	req = json_pack("{s:s}", "op", "verify");
	if (o.syslog_copy) {
		json_t *anchors = syslog_anchors(o.syslog_copy);

		if (!anchors) {
			json_decref(req);
			return ZW_EXIT_ENV;
		}
		json_object_set_new(req, "anchors", anchors);
	}
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	bool intact = json_is_true(json_object_get(resp, "intact"));

	if (fmt == ZW_JF_JSON) {
		json_object_del(resp, "ok");
		zw_ctl_print_json(resp);
	} else if (intact) {
		json_t *cp = json_object_get(resp, "checkpoint_seq");

		printf("journal intact: %lld entries (%lld in archives); head "
		       "entry %lld %s\n",
		       (long long)json_integer_value(json_object_get(resp, "entries")),
		       (long long)json_integer_value(json_object_get(resp, "archived")),
		       (long long)json_integer_value(json_object_get(resp, "head_seq")),
		       zw_ctl_sget(resp, "head_hash"));
		if (json_is_integer(cp))
			printf("checkpoint: entry %lld found as recorded\n",
			       (long long)json_integer_value(cp));
		else
			puts("checkpoint: none (a cut tail cannot be seen "
			     "without one or --syslog-copy)");
		if (o.syslog_copy)
			printf("syslog copy: %lld anchor(s) found as recorded\n",
			       (long long)json_integer_value(json_object_get(
				       resp, "anchors_checked")));
		puts("versions: every stored version matches the journal");
	} else if (json_is_integer(json_object_get(resp, "bad_version"))) {
		printf("journal ALTERED: version %lld: %s\n",
		       (long long)json_integer_value(json_object_get(resp, "bad_version")),
		       zw_ctl_tsget(resp, "problem"));
	} else {
		printf("journal ALTERED: first bad entry %lld: %s\n",
		       (long long)json_integer_value(json_object_get(resp, "bad_seq")),
		       zw_ctl_tsget(resp, "problem"));
	}
	if (!intact)
		zw_ctl_err("the journal was altered: %s",
			   zw_ctl_tsget(resp, "problem"));
	json_decref(resp);
	return intact ? 0 : ZW_EXIT_INVALID;
}

/* argv[0] is "archive". */
static int cmd_archive(int argc, char **argv)
{
	struct journal_opts o = {.older_than = -1};
	struct zw_ctl_args a;
	const char *reason;
	long days;
	json_t *req, *resp;
	int r;

	r = zw_ctl_parse(&archive_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	days = o.older_than;
	reason = o.reason;
	if (days < 0 || !reason) {
		zw_ctl_err("usage: zonectl journal archive --older-than DAYS -m "
			   "REASON");
		return ZW_EXIT_USAGE;
	}
	r = zw_ctl_check_text(reason, ZW_REASON_MAX, "reason");
	if (r)
		return r;
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
	struct journal_opts o = {0};
	struct zw_ctl_args a;
	const char *flow;
	long since;
	json_t *req, *resp, *e;
	struct zw_jprint p;
	size_t k;
	int v, r, fmt;

	/* The verb may follow options ("journal --format json verify"): it
	 * becomes argv[0] of the verb's own command line. */
	v = zw_ctl_find_verb(&journal_cmdline, argc, argv);
	if (v && (!strcmp(argv[v], "verify") || !strcmp(argv[v], "archive"))) {
		char *verb = argv[v];

		memmove(&argv[2], &argv[1], (size_t)(v - 1) * sizeof(*argv));
		argv[1] = verb;
		return !strcmp(verb, "verify") ? cmd_verify(argc - 1, argv + 1)
					       : cmd_archive(argc - 1, argv + 1);
	}
	r = zw_ctl_parse(&journal_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	since = o.since;
	flow = o.flow;
	fmt = o.format;
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
