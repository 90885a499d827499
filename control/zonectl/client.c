/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl's daemon-client commands: commit, versions, rollback, status,
 * crisis (the journal, rules and verify are in zonectl_journal.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "queries.h"
#include "state.h"
#include "zonectl.h"
#include "client.h"

/* ---- shared ---- */

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

/* Common option loop: globals, -m, --format, --help; positional args into
 * @pos. Returns 0, or an exit code. */
struct cmdopts {
	const char *reason;
	const char *format;
	const char *pos[4];
	int n_pos;
};

static int parse_common(int argc, char **argv, struct cmdopts *c,
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

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- commit ---- */

static void commit_help(FILE *out)
{
	fputs("usage: zonectl commit MATRIX.yaml -m REASON [--format text|json]\n"
	      "\n"
	      "Send the matrix to zonewalld: it validates and compiles it, stores\n"
	      "it as the next version, programs every backend, and only then makes\n"
	      "it active; one journal entry per flow added, changed or removed.\n"
	      "If a backend fails, the previous version stays active everywhere\n"
	      "and the refusal is journalled. An empty reason, or one that looks\n"
	      "like it holds a password or key, is refused.\n"
	      "Exit: 0 active, 1 refused (invalid matrix or reason), 2 usage,\n"
	      "3 daemon unreachable or a backend failed.\n",
	      out);
}

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
	struct cmdopts c = {0};
	json_t *req, *resp;
	char *text;
	size_t len;
	int r, fmt;

	r = parse_common(argc, argv, &c, commit_help);
	if (r)
		return r;
	if (c.n_pos != 1) {
		zw_ctl_err("commit needs one matrix file (see zonectl commit "
			   "--help)");
		return ZW_EXIT_USAGE;
	}
	if (!c.reason) {
		zw_ctl_err("commit needs a reason: -m \"why the rules change\"");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
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
			text, len, "file", c.pos[0], "reason", c.reason);
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
		const char *d = sget(resp, "diagnostics");

		if (*d)
			fputs(d, stderr);
		printf("version %lld active: %lld flow(s) added, %lld changed, "
		       "%lld removed\nimage sha256 %s\n",
		       (long long)json_integer_value(json_object_get(resp, "version")),
		       (long long)json_integer_value(json_object_get(resp, "added")),
		       (long long)json_integer_value(json_object_get(resp, "changed")),
		       (long long)json_integer_value(json_object_get(resp, "removed")),
		       sget(resp, "image_sha256"));
		if (strcmp(sget(resp, "image_sha256"), sget(resp, "enforced_sha256")))
			printf("enforced (crisis measures in force) %s\n",
			       sget(resp, "enforced_sha256"));
	}
	json_decref(resp);
	return 0;
}

/* ---- rollback ---- */

static void rollback_help(FILE *out)
{
	fputs("usage: zonectl rollback VERSION -m REASON [--format text|json]\n"
	      "\n"
	      "Re-apply the matrix of an earlier VERSION (one that was active\n"
	      "once). This makes a new version, journalled like any commit.\n"
	      "Exit: 0 active, 1 refused (unknown version, bad reason), 2 usage,\n"
	      "3 daemon unreachable or a backend failed.\n",
	      out);
}

int zw_cmd_rollback(int argc, char **argv)
{
	struct cmdopts c = {0};
	json_t *req, *resp;
	char *end;
	long long n;
	int r, fmt;

	r = parse_common(argc, argv, &c, rollback_help);
	if (r)
		return r;
	if (c.n_pos != 1) {
		zw_ctl_err("rollback needs one version number (see zonectl "
			   "versions)");
		return ZW_EXIT_USAGE;
	}
	n = strtoll(c.pos[0], &end, 10);
	if (*end || n <= 0) {
		zw_ctl_err("'%s' is not a version number", c.pos[0]);
		return ZW_EXIT_USAGE;
	}
	if (!c.reason) {
		zw_ctl_err("rollback needs a reason: -m \"why\"");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s, s:I, s:s}", "op", "rollback", "version",
			(json_int_t)n, "reason", c.reason);
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (fmt == ZW_JF_JSON)
		zw_ctl_print_json(resp);
	else
		printf("version %lld active (rollback to version %lld): %lld "
		       "flow(s) added, %lld changed, %lld removed\nimage sha256 "
		       "%s\n",
		       (long long)json_integer_value(json_object_get(resp, "version")),
		       n, (long long)json_integer_value(json_object_get(resp, "added")),
		       (long long)json_integer_value(json_object_get(resp, "changed")),
		       (long long)json_integer_value(json_object_get(resp, "removed")),
		       sget(resp, "image_sha256"));
	json_decref(resp);
	return 0;
}

/* ---- versions ---- */

static void versions_help(FILE *out)
{
	fputs("usage: zonectl versions [--format text|json|csv]\n"
	      "\n"
	      "Every stored version: number, date (UTC), author, state (ok,\n"
	      "refused, abandoned), image SHA-256, reason; '*' marks the active\n"
	      "one. Works without the daemon with --state DIR.\n",
	      out);
}

int zw_cmd_versions(int argc, char **argv)
{
	struct cmdopts c = {0};
	json_t *req, *resp, *v;
	size_t i;
	int r, fmt;

	r = parse_common(argc, argv, &c, versions_help);
	if (r)
		return r;
	if (c.n_pos) {
		zw_ctl_err("versions takes no argument");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json,csv");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s}", "op", "versions");
	r = zw_ctl_request(req, true, &resp);
	json_decref(req);
	if (r)
		return r;
	json_object_del(resp, "ok");
	if (fmt == ZW_JF_JSON) {
		zw_ctl_print_json(resp);
	} else if (fmt == ZW_JF_CSV) {
		fputs("version,active,time,uid,user,kind,rollback_of,state,"
		      "image_sha256,matrix_sha256,file,reason,detail\r\n",
		      stdout);
		json_array_foreach(json_object_get(resp, "versions"), i, v) {
			json_t *rb = json_object_get(v, "rollback_of");

			printf("%lld,%s,", (long long)json_integer_value(json_object_get(v, "version")),
			       json_is_true(json_object_get(v, "active")) ? "yes" : "no");
			zw_csv__field(stdout, sget(v, "time"));
			printf(",%lld,", (long long)json_integer_value(json_object_get(v, "uid")));
			zw_csv__field(stdout, sget(v, "user"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "kind"));
			putchar(',');
			if (json_is_integer(rb))
				printf("%lld", (long long)json_integer_value(rb));
			putchar(',');
			zw_csv__field(stdout, sget(v, "state"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "image_sha256"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "matrix_sha256"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "file"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "reason"));
			putchar(',');
			zw_csv__field(stdout, sget(v, "detail"));
			fputs("\r\n", stdout);
		}
	} else {
		printf("  %-7s %-27s %-12s %-9s %-9s %-16s %s\n", "VERSION",
		       "DATE (UTC)", "AUTHOR", "KIND", "STATE", "IMAGE SHA-256",
		       "REASON");
		json_array_foreach(json_object_get(resp, "versions"), i, v) {
			printf("%c %-7lld %-27s %-12s %-9s %-9s %.16s %s\n",
			       json_is_true(json_object_get(v, "active")) ? '*' : ' ',
			       (long long)json_integer_value(json_object_get(v, "version")),
			       sget(v, "time"), sget(v, "user"), sget(v, "kind"),
			       sget(v, "state"), sget(v, "image_sha256"),
			       sget(v, "reason"));
		}
		if (!json_array_size(json_object_get(resp, "versions")))
			puts("(no version yet: zonectl commit MATRIX.yaml -m "
			     "REASON)");
	}
	json_decref(resp);
	return 0;
}

/* ---- status ---- */

static void status_help(FILE *out)
{
	fputs("usage: zonectl status [--format text|json]\n"
	      "\n"
	      "Is zonewalld up; the active version and its SHA-256; crisis\n"
	      "measures in force; each backend with the SHA-256 it really\n"
	      "enforces (read back from the engine), whether it is in sync and\n"
	      "its counters; the syslog forwarding queue; the journal head.\n"
	      "Exit: 0 up, 3 daemon unreachable.\n",
	      out);
}

int zw_cmd_status(int argc, char **argv)
{
	struct cmdopts c = {0};
	json_t *req, *resp, *a, *b, *s, *dm;
	size_t i;
	int r, fmt;

	r = parse_common(argc, argv, &c, status_help);
	if (r)
		return r;
	if (c.n_pos) {
		zw_ctl_err("status takes no argument");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
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
	if (fmt == ZW_JF_JSON) {
		json_object_del(resp, "ok");
		zw_ctl_print_json(resp);
		json_decref(resp);
		return 0;
	}
	dm = json_object_get(resp, "daemon");
	printf("zonewalld %s up (pid %lld) since %s, state %s\n",
	       sget(dm, "version"),
	       (long long)json_integer_value(json_object_get(dm, "pid")),
	       sget(dm, "started"), sget(dm, "state"));
	a = json_object_get(resp, "active");
	if (json_is_object(a)) {
		json_t *cr = json_object_get(a, "crisis");

		printf("active version %lld by %s since %s\n  image   %s\n"
		       "  matrix  %s\n",
		       (long long)json_integer_value(json_object_get(a, "version")),
		       sget(a, "user"), sget(a, "since"), sget(a, "image_sha256"),
		       sget(a, "matrix_sha256"));
		if (json_is_object(cr)) {
			json_t *p;
			size_t k;

			printf("CRISIS MEASURES IN FORCE:%s",
			       json_is_true(json_object_get(cr, "isolate_internet"))
				       ? " isolate-internet"
				       : "");
			json_array_foreach(json_object_get(cr, "block"), k, p)
				printf(" block %s", json_string_value(p));
			printf("\n  enforced image %s\n", sget(a, "enforced_sha256"));
		}
	} else {
		puts("no active version");
	}
	json_array_foreach(json_object_get(resp, "backends"), i, b) {
		json_t *ct = json_object_get(b, "counters");

		printf("backend %s: %s%s%s\n", sget(b, "spec"),
		       json_is_true(json_object_get(b, "in_sync"))
			       ? "in sync, enforcing "
			       : json_is_true(json_object_get(b, "enforcing"))
					 ? "OUT OF SYNC, enforcing "
					 : "NOT ENFORCING",
		       sget(b, "sha256"), "");
		printf("  %s; packets %lld, bytes %lld, new connections %lld, "
		       "drops %lld\n",
		       sget(b, "detail"),
		       (long long)json_integer_value(json_object_get(ct, "packets")),
		       (long long)json_integer_value(json_object_get(ct, "bytes")),
		       (long long)json_integer_value(json_object_get(ct, "new_conns")),
		       (long long)json_integer_value(json_object_get(ct, "drops")));
		if (*sget(b, "drift"))
			printf("  drift: %s\n", sget(b, "drift"));
		if (*sget(b, "last_error"))
			printf("  last error: %s\n", sget(b, "last_error"));
	}
	if (!json_array_size(json_object_get(resp, "backends")))
		puts("no backend: nothing is enforced");
	s = json_object_get(resp, "syslog");
	if (json_is_object(s))
		printf("syslog %s: %s, last sent entry %lld, %lld queued%s%s\n",
		       sget(s, "server"),
		       json_is_true(json_object_get(s, "connected")) ? "connected"
								      : "DISCONNECTED",
		       (long long)json_integer_value(json_object_get(s, "sent_seq")),
		       (long long)json_integer_value(json_object_get(s, "queued")),
		       *sget(s, "last_error") ? "; " : "", sget(s, "last_error"));
	else
		puts("syslog forwarding: off");
	if (!json_is_true(json_object_get(json_object_get(resp, "journal"),
					  "intact_at_start")))
		printf("JOURNAL ALTERED (found at daemon start): %s\n",
		       sget(json_object_get(resp, "journal"), "problem_at_start"));
	printf("journal head: entry %lld, %s\n",
	       (long long)json_integer_value(json_object_get(
		       json_object_get(resp, "journal"), "head_seq")),
	       sget(json_object_get(resp, "journal"), "head_hash"));
	json_decref(resp);
	return 0;
}

/* ---- crisis ---- */

static void crisis_help(FILE *out)
{
	fputs("usage: zonectl crisis isolate-internet -m REASON\n"
	      "       zonectl crisis block PREFIX -m REASON\n"
	      "       zonectl crisis end -m REASON\n"
	      "\n"
	      "Crisis measures (REQUIREMENTS C1, C4), each journalled:\n"
	      "  isolate-internet  suspend every flow to or from an\n"
	      "                    internet-access zone or outside\n"
	      "  block PREFIX      deny every packet from or to PREFIX, before\n"
	      "                    any flow (cumulative)\n"
	      "  end               lift all measures: back to the active version\n"
	      "Measures stay in force across commits until 'end'.\n"
	      "Exit: 0 in force, 1 refused, 2 usage, 3 daemon or backend error.\n",
	      out);
}

int zw_cmd_crisis(int argc, char **argv)
{
	struct cmdopts c = {0};
	json_t *req, *resp;
	const char *m;
	int r, fmt;

	r = parse_common(argc, argv, &c, crisis_help);
	if (r)
		return r;
	if (!c.n_pos) {
		zw_ctl_err("crisis needs a measure: isolate-internet, block "
			   "PREFIX or end");
		return ZW_EXIT_USAGE;
	}
	m = c.pos[0];
	if (strcmp(m, "isolate-internet") && strcmp(m, "block") &&
	    strcmp(m, "end")) {
		zw_ctl_err("unknown crisis measure '%s' (isolate-internet, "
			   "block PREFIX, end)",
			   m);
		return ZW_EXIT_USAGE;
	}
	if ((!strcmp(m, "block") && c.n_pos != 2) ||
	    (strcmp(m, "block") && c.n_pos != 1)) {
		zw_ctl_err("usage: zonectl crisis %s -m REASON",
			   strcmp(m, "block") ? m : "block PREFIX");
		return ZW_EXIT_USAGE;
	}
	if (!c.reason) {
		zw_ctl_err("a crisis measure needs a reason: -m \"why\"");
		return ZW_EXIT_USAGE;
	}
	fmt = zw_ctl_format(c.format ? c.format : "text", "text,json");
	if (fmt < 0)
		return ZW_EXIT_USAGE;
	req = json_pack("{s:s, s:s, s:s, s:s?}", "op", "crisis", "measure", m,
			"reason", c.reason, "prefix",
			c.n_pos > 1 ? c.pos[1] : NULL);
	r = zw_ctl_request(req, false, &resp);
	json_decref(req);
	if (r)
		return r;
	if (fmt == ZW_JF_JSON)
		zw_ctl_print_json(resp);
	else if (!strcmp(m, "end"))
		printf("crisis measures ended: %lld flow(s) resumed; enforced "
		       "image %s\n",
		       (long long)json_integer_value(json_object_get(resp, "flows")),
		       sget(resp, "enforced_sha256"));
	else
		printf("crisis %s in force: %lld flow(s) suspended; enforced "
		       "image %s\n",
		       m, (long long)json_integer_value(json_object_get(resp, "flows")),
		       sget(resp, "enforced_sha256"));
	json_decref(resp);
	return 0;
}

int zw_cmd_audit(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts("usage: zonectl audit [--cartography FILE] [--format text|json|csv|html]\n"
			     "\n"
			     "The auditor's report (spec/cli.md). Not in this version yet:\n"
			     "'zonectl status' (what each engine enforces, with its SHA-256),\n"
			     "'zonectl rules' (REQUIREMENTS L1) and 'zonectl journal verify'\n"
			     "give the evidence it will gather. Exits 3 when run.");
			return ZW_EXIT_OK;
		}
	zw_ctl_err("'audit' is not in this version yet; 'zonectl rules' and "
		   "'zonectl journal --format csv' give the evidence it will "
		   "gather");
	return ZW_EXIT_ENV;
}
