/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl: the administrator's and auditor's tool (docs/cli.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonewall/matrix.h>

#include "options.h"
#include "zonectl.h"

struct zw_ctl_globals zw_ctl;

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"check", zw_cmd_check, "validate a matrix (diagnostics, --explain ZWnnn)"},
	{"compile", zw_cmd_compile, "validate and write the policy image"},
	{"explain", zw_cmd_explain, "verdict a new connection gets, and by which flow"},
	{"show", zw_cmd_show, "the matrix as text, csv, json, dot or html"},
	{"diff", zw_cmd_diff, "flows and allowed traffic that differ between two matrices"},
	{"schema", zw_cmd_schema, "JSON Schema of the matrix language, for editors"},
	{"commit", zw_cmd_commit, "store and enforce a matrix as the next version"},
	{"versions", zw_cmd_versions, "list the stored versions"},
	{"rollback", zw_cmd_rollback, "re-apply an earlier version as a new one"},
	{"journal", zw_cmd_journal, "the change journal; 'journal verify' checks its chain"},
	{"rules", zw_cmd_rules, "rules in force and deleted within N days (L1)"},
	{"status", zw_cmd_status, "daemon, active version, what each backend enforces"},
	{"flows", zw_cmd_flows, "flow records as the daemon receives them (--follow)"},
	{"crisis", zw_cmd_crisis, "crisis measures: isolate-internet, block, end"},
	{"audit", zw_cmd_audit, "the auditor's report"},
	{NULL, NULL, NULL},
};

void zw_ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("zonectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct zw_matrix *zw_ctl_load_valid(const char *path, int32_t today,
			       struct zw_diags *diags, int *rc)
{
	struct zw_matrix *m;

	zw_diags__init(diags, path);
	m = zw_matrix__load(path, diags);
	if (!m) {
		if (errno == ENOMEM)
			zw_ctl_err("out of memory reading %s", path);
		else
			zw_ctl_err("%s", diags->n ? diags->v[0].message
						  : "cannot read the matrix");
		*rc = ZW_EXIT_ENV;
		return NULL;
	}
	zw_matrix__validate(m, today, diags);
	if (diags->n_errors) {
		zw_diags__print_text(diags, stderr);
		zw_ctl_err("%s has %zu error(s): fix them first (zonectl check %s)",
			   path, diags->n_errors, path);
		zw_matrix__free(m);
		*rc = ZW_EXIT_INVALID;
		return NULL;
	}
	*rc = ZW_EXIT_OK;
	return m;
}

struct zw_matrix *zw_ctl_load_checked(const char *path, bool json,
				      bool quiet_ok, int *rc)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	if (!m && errno == ENOMEM) {
		zw_ctl_err("out of memory reading %s", path);
		zw_diags__fini(&d);
		*rc = ZW_EXIT_ENV;
		return NULL;
	}
	if (!m) {
		/* Unreadable file: an environment problem, said once. */
		zw_ctl_err("%s", d.n ? d.v[0].message : "cannot read the matrix");
		zw_diags__fini(&d);
		*rc = ZW_EXIT_ENV;
		return NULL;
	}
	zw_matrix__validate(m, zw_date__today(), &d);
	/* check: the diagnostics are the output (stdout); compile: stdout
	 * carries the image SHA-256, so diagnostics go to stderr. */
	if (json)
		zw_diags__print_json(&d, stdout);
	else
		zw_diags__print_text(&d, quiet_ok ? stderr : stdout);
	*rc = d.n_errors ? ZW_EXIT_INVALID : ZW_EXIT_OK;
	if (!json && !quiet_ok)
		fprintf(stderr, "%s: %zu error(s), %zu warning(s)\n", path,
			d.n_errors, d.n_warnings);
	zw_diags__fini(&d);
	return m;
}

static int write_all(int fd, const char *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	return 0;
}

int zw_ctl_write(const char *path, const char *buf, size_t len)
{
	char *tmp = NULL;
	int fd, e;

	if (!path || !strcmp(path, "-")) {
		e = write_all(STDOUT_FILENO, buf, len);
		return e;
	}
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = -errno;
		free(tmp);
		return e;
	}
	e = write_all(fd, buf, len);
	if (!e && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	free(tmp);
	return e;
}

static void list_commands(FILE *out)
{
	fputs("\nCommands:\n", out);
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-9s %s\n", c->name, c->summary);
}

struct main_opts {
	bool version;
};

static const struct zw_ctl_opt main_opts[] = {
	ZW_CTL_OPT("version", 0, ZW_CTL_FLAG, struct main_opts, version, NULL,
	 "print zonectl's version", .last = true),
	{NULL},
};

static const struct zw_ctl_cmdline main_cmdline = {
	.name = "",
	.usage = "zonectl [--socket PATH] [--state DIR] COMMAND [ARGS...]",
	.about = "zonewall's administrator and auditor tool: check, compile and\n"
		 "explain a flow matrix; commit it to zonewalld; read versions,\n"
		 "the change journal and what every engine enforces.\n",
	.opts = main_opts,
	.stop_at_pos = true,
	.help_more = list_commands,
	.globals_in_help = true,
	.epilog = "'zonectl COMMAND --help' describes each command. Exit codes: 0 ok,\n"
		  "1 invalid input or refused, 2 usage error, 3 environment error.\n",
};

int main(int argc, char **argv)
{
	struct main_opts o = {0};
	struct zw_ctl_args a;
	int i, r;

	r = zw_ctl_parse(&main_cmdline, &o, argc, argv, &a);
	if (r != ZW_CTL_GO)
		return r;
	if (o.version) {
		puts("zonectl " ZW_VERSION);
		return ZW_EXIT_OK;
	}
	i = a.next;
	if (i >= argc) {
		zw_ctl_help(&main_cmdline, stderr);
		return ZW_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		zw_ctl_help(&main_cmdline, stdout);
		return ZW_EXIT_OK;
	}
	if (!zw_ctl.socket)
		zw_ctl.socket = getenv("ZONEWALL_SOCKET");
	if (!zw_ctl.socket || !*zw_ctl.socket)
		zw_ctl.socket = ZW_DEFAULT_SOCKET;
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(argv[i], c->name))
			return c->run(argc - i, argv + i);
	zw_ctl_err("unknown command '%s' (see zonectl --help)", argv[i]);
	return ZW_EXIT_USAGE;
}
