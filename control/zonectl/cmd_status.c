/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl status: the daemon, the active version, what each backend enforces. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "options.h"
#include "zonectl.h"

struct status_opts {
	const char *reason; /* accepted, unused */
	int format; /* enum zw_journal_format */
};

static const struct zw_ctl_opt status_opts[] = {
	/* Accepted like every daemon command's -m, so that scripts may pass
	 * it to all of them; nothing is changed, so nothing is journalled. */
	ZW_CTL_OPT("message", 'm', ZW_CTL_STRING, struct status_opts, reason,
		   "REASON", "accepted and ignored (nothing is changed)"),
	ZW_CTL_OPT("format", 0, ZW_CTL_ENUM, struct status_opts, format, NULL,
	 "text (default) or one JSON document",
	 .choices = zw_ctl_text_json),
	{NULL},
};

static const struct zw_ctl_cmdline status_cmdline = {
	.name = "status",
	.usage = "zonectl status [--format text|json]",
	.about = "Is zonewalld up; the active version and its SHA-256; crisis\n"
		 "measures in force; each backend with the SHA-256 it really\n"
		 "enforces (read back from the engine), whether it is in sync and\n"
		 "its counters; the enforcement watch; the clock (steps seen, the\n"
		 "day applied); the syslog forwarding queue; the flow record\n"
		 "exporters (records sent, dropped and why, the collector's\n"
		 "state); the journal head.\n"
		 "Exit: 0 up and every engine enforces the active version, 4 up\n"
		 "but an engine does not (out of sync, not enforcing: see\n"
		 "'backend'), 3 daemon unreachable.\n",
	.opts = status_opts,
	.max_pos = 0,
	.too_many = "status takes no argument",
};

static long long iget(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* The record pump and, per exporter, records sent and dropped (by cause)
 * and the collector's state. */
static void print_telemetry(const json_t *t)
{
	const json_t *x, *why;
	size_t i;

	if (!json_is_object(t))
		return;
	printf("flow records: %lld received from engines, %lld exported%s; "
	       "denials folded per source, destination, protocol and port",
	       iget(t, "records_pulled"), iget(t, "records_exported"),
	       json_is_true(json_object_get(t, "log_all_flows"))
		       ? " (every flow logged)"
		       : " (flows with log: true)");
	if (iget(t, "engine_records_lost"))
		printf(", %lld lost in the engines (ring full)",
		       iget(t, "engine_records_lost"));
	if (iget(t, "aggregation_overflow"))
		printf(", %lld lost to a full table",
		       iget(t, "aggregation_overflow"));
	putchar('\n');
	if (*zw_ctl_sget(t, "last_engine_error"))
		printf("  engine errors %lld, last: %s\n", iget(t, "engine_errors"),
		       zw_ctl_sget(t, "last_engine_error"));
	json_array_foreach(json_object_get(t, "exporters"), i, x) {
		const char *k;
		json_t *v;

		printf("export %s (%s over %s): collector %s, %lld records sent, "
		       "%lld dropped",
		       zw_ctl_sget(x, "url"), zw_ctl_sget(x, "format"),
		       zw_ctl_sget(x, "transport"), zw_ctl_sget(x, "collector"),
		       iget(x, "records_sent"), iget(x, "records_dropped"));
		why = json_object_get(x, "dropped");
		json_object_foreach((json_t *)why, k, v)
			if (json_integer_value(v))
				printf(", %s %lld", k,
				       (long long)json_integer_value(v));
		if (*zw_ctl_sget(x, "last_error"))
			printf("; last error: %s", zw_ctl_sget(x, "last_error"));
		putchar('\n');
	}
	if (!json_array_size(json_object_get(t, "exporters")))
		puts("flow export: off (no --ipfix)");
}

/* Does every engine enforce the active version? (Nothing to enforce
 * without one.) */
static bool all_enforcing(json_t *resp)
{
	json_t *b;
	size_t i;

	if (!json_is_object(json_object_get(resp, "active")))
		return true;
	json_array_foreach(json_object_get(resp, "backends"), i, b)
		if (!json_is_true(json_object_get(b, "in_sync")))
			return false;
	return true;
}

int zw_cmd_status(int argc, char **argv)
{
	struct status_opts o = {0};
	struct zw_ctl_args c;
	json_t *req, *resp, *a, *b, *s, *dm;
	size_t i;
	int r, fmt, rc;

	r = zw_ctl_parse(&status_cmdline, &o, argc, argv, &c);
	if (r != ZW_CTL_GO)
		return r;
	if (c.n_pos) {
		zw_ctl_err("status takes no argument");
		return ZW_EXIT_USAGE;
	}
	fmt = o.format;
	if (zw_ctl.state) {
		zw_ctl_err("status asks the running daemon: drop --state (use "
			   "'zonectl --state DIR versions' offline)");
		return ZW_EXIT_USAGE;
	}
	req = json_pack("{s:s}", "op", "status");
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	rc = all_enforcing(resp) ? ZW_EXIT_OK : ZW_EXIT_NOT_ENFORCING;
	if (fmt == ZW_JF_JSON) {
		json_object_del(resp, "ok");
		zw_ctl_print_json(resp);
		json_decref(resp);
		return rc;
	}
	dm = json_object_get(resp, "daemon");
	printf("zonewalld %s up (pid %lld) since %s, state %s\n",
	       zw_ctl_tsget(dm, "version"),
	       (long long)json_integer_value(json_object_get(dm, "pid")),
	       zw_ctl_tsget(dm, "started"), zw_ctl_tsget(dm, "state"));
	a = json_object_get(resp, "active");
	if (json_is_object(a)) {
		json_t *cr = json_object_get(a, "crisis");

		printf("active version %lld by %s since %s\n  image   %s\n"
		       "  matrix  %s\n",
		       (long long)json_integer_value(json_object_get(a, "version")),
		       zw_ctl_tsget(a, "user"), zw_ctl_tsget(a, "since"), zw_ctl_tsget(a, "image_sha256"),
		       zw_ctl_tsget(a, "matrix_sha256"));
		if (json_is_object(cr)) {
			json_t *p;
			size_t k;

			printf("CRISIS MEASURES IN FORCE:%s",
			       json_is_true(json_object_get(cr, "isolate_internet"))
				       ? " isolate-internet"
				       : "");
			json_array_foreach(json_object_get(cr, "block"), k, p)
				printf(" block %s", zw_ctl_esc(json_string_value(p)));
			printf("\n  enforced image %s\n", zw_ctl_tsget(a, "enforced_sha256"));
		}
	} else {
		puts("no active version");
	}
	json_array_foreach(json_object_get(resp, "backends"), i, b) {
		json_t *ct = json_object_get(b, "counters");

		printf("backend %s: %s%s%s\n", zw_ctl_tsget(b, "spec"),
		       json_is_true(json_object_get(b, "in_sync"))
			       ? "in sync, enforcing "
			       : json_is_true(json_object_get(b, "enforcing"))
					 ? "OUT OF SYNC, enforcing "
					 : "NOT ENFORCING",
		       zw_ctl_tsget(b, "sha256"), "");
		printf("  %s; packets %lld, bytes %lld, new connections %lld, "
		       "drops %lld\n",
		       zw_ctl_tsget(b, "detail"),
		       (long long)json_integer_value(json_object_get(ct, "packets")),
		       (long long)json_integer_value(json_object_get(ct, "bytes")),
		       (long long)json_integer_value(json_object_get(ct, "new_conns")),
		       (long long)json_integer_value(json_object_get(ct, "drops")));
		/* (may hold several lines: each escaped) */
		if (*zw_ctl_sget(b, "drift")) {
			fputs("  drift: ", stdout);
			zw_ctl_puts_lines(zw_ctl_sget(b, "drift"), stdout);
		}
		if (*zw_ctl_sget(b, "last_error")) {
			fputs("  last error: ", stdout);
			zw_ctl_puts_lines(zw_ctl_sget(b, "last_error"), stdout);
		}
	}
	if (!json_array_size(json_object_get(resp, "backends")))
		puts("no backend: nothing is enforced");
	{
		json_t *w = json_object_get(resp, "watch"),
		       *ck = json_object_get(resp, "clock"),
		       *ls = json_object_get(ck, "last_step");

		if (json_is_object(w))
			printf("watch: on drift %s, every %lld ms; %lld drift(s) "
			       "journalled since start\n",
			       zw_ctl_sget(w, "on_drift"),
			       (long long)json_integer_value(json_object_get(w, "period_ms")),
			       (long long)json_integer_value(json_object_get(w, "drifts")));
		if (json_is_object(ck)) {
			printf("clock: %s (today %s), engines on day %s",
			       zw_ctl_sget(ck, "wall"), zw_ctl_sget(ck, "today"),
			       *zw_ctl_sget(ck, "applied_day")
				       ? zw_ctl_sget(ck, "applied_day")
				       : "-");
			if (json_is_object(ls)) {
				long long st = (long long)json_integer_value(
					json_object_get(ls, "step_us"));

				printf("; CLOCK STEPPED %s by %lld.%06lld s at %s "
				       "(%lld step(s) since start)",
				       st < 0 ? "BACK" : "FORWARD",
				       (st < 0 ? -st : st) / 1000000,
				       (st < 0 ? -st : st) % 1000000,
				       zw_ctl_sget(ls, "at"),
				       (long long)json_integer_value(
					       json_object_get(ck, "steps")));
			}
			if (json_is_true(json_object_get(ck, "behind_applied_day")))
				printf("; CLOCK BEHIND the day applied: engines "
				       "stay on it");
			putchar('\n');
		}
	}
	if (rc)
		puts("NOT ENFORCING THE ACTIVE VERSION on every engine (exit 4)");
	s = json_object_get(resp, "syslog");
	if (json_is_object(s))
		printf("syslog %s: %s, last sent entry %lld, %lld queued%s%s\n",
		       zw_ctl_tsget(s, "server"),
		       json_is_true(json_object_get(s, "connected")) ? "connected"
								      : "DISCONNECTED",
		       (long long)json_integer_value(json_object_get(s, "sent_seq")),
		       (long long)json_integer_value(json_object_get(s, "queued")),
		       *zw_ctl_sget(s, "last_error") ? "; " : "", zw_ctl_tsget(s, "last_error"));
	else
		puts("syslog forwarding: off");
	print_telemetry(json_object_get(resp, "telemetry"));
	if (!json_is_true(json_object_get(json_object_get(resp, "journal"),
					  "intact_at_start")))
		printf("JOURNAL ALTERED (found at daemon start): %s\n",
		       zw_ctl_tsget(json_object_get(resp, "journal"), "problem_at_start"));
	printf("journal head: entry %lld, %s\n",
	       (long long)json_integer_value(json_object_get(
		       json_object_get(resp, "journal"), "head_seq")),
	       zw_ctl_tsget(json_object_get(resp, "journal"), "head_hash"));
	if (json_is_integer(json_object_get(json_object_get(resp, "journal"),
					    "checkpoint_seq")))
		printf("journal checkpoint: entry %lld, %s\n",
		       (long long)json_integer_value(json_object_get(
			       json_object_get(resp, "journal"),
			       "checkpoint_seq")),
		       zw_ctl_tsget(json_object_get(resp, "journal"),
				    "checkpoint_hash"));
	else
		puts("journal checkpoint: NONE (the head is not anchored)");
	json_decref(resp);
	return rc;
}
