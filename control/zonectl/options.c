/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl's one option parser and help printer (options.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "zonectl.h"

#define HELP_COLUMN 24

/* Accepted by every command, before or after its name. */
static const struct zw_ctl_opt global_opts[] = {
	ZW_CTL_OPT("socket", 0, ZW_CTL_STRING, struct zw_ctl_globals, socket,
	 "PATH", "daemon socket (default $ZONEWALL_SOCKET, else\n"
		 ZW_DEFAULT_SOCKET ")"),
	ZW_CTL_OPT("state", 0, ZW_CTL_STRING, struct zw_ctl_globals, state,
	 "DIR", "read versions and journal from a state directory\n"
		"without the daemon (read-only)"),
	{NULL},
};

const char *const zw_ctl_text_json[] = {"text", "json", NULL};
const char *const zw_ctl_text_json_csv[] = {"text", "json", "csv", NULL};

static bool takes_value(const struct zw_ctl_opt *o)
{
	return o->kind != ZW_CTL_FLAG;
}

/* The option of @opts that argument @a names: "--name", "--name=V", "-x",
 * "-xV". *val is the attached value ("V") or NULL. */
static const struct zw_ctl_opt *lookup(const struct zw_ctl_opt *opts,
				       const char *a, const char **val)
{
	*val = NULL;
	for (const struct zw_ctl_opt *o = opts; o && o->name; o++) {
		if (a[1] == '-') {
			size_t n = strlen(o->name);

			if (strncmp(a + 2, o->name, n))
				continue;
			if (a[2 + n] == '=') {
				*val = a + 3 + n;
				return o;
			}
			if (!a[2 + n])
				return o;
		} else if (o->short_name && a[1] == o->short_name) {
			if (a[2] && !takes_value(o))
				continue;
			if (a[2])
				*val = a + 2;
			return o;
		}
	}
	return NULL;
}

/* "text, json or csv" */
static void choices_text(const char *const *c, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; c[i] && len < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%s",
					!i ? "" : c[i + 1] ? ", " : " or ", c[i]);
}

static int store(const struct zw_ctl_opt *o, const char *shown,
		 const char *val, void *cfg)
{
	char *p = (char *)cfg + o->off;
	char buf[256];

	switch (o->kind) {
	case ZW_CTL_FLAG:
		*(bool *)p = true;
		return 0;
	case ZW_CTL_STRING:
		*(const char **)p = val;
		return 0;
	case ZW_CTL_INT: {
		char *end;
		long v = strtol(val, &end, 10);

		if (*val < '0' || *val > '9' || *end || v < o->min || v > o->max) {
			zw_ctl_err("%s must be a number from %ld to %ld, not '%s'",
				   shown, o->min, o->max, val);
			return -1;
		}
		*(long *)p = v;
		return 0;
	}
	case ZW_CTL_ENUM:
		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(val, o->choices[i])) {
				*(int *)p = i;
				return 0;
			}
		choices_text(o->choices, buf, sizeof(buf));
		zw_ctl_err("%s must be %s, not '%s'", shown, buf, val);
		return -1;
	}
	return -1;
}

int zw_ctl_parse(const struct zw_ctl_cmdline *cl, void *cfg, int argc,
		 char **argv, struct zw_ctl_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc;) {
		const char *arg = argv[i], *val;
		const struct zw_ctl_opt *o;
		void *dst = cfg;
		char shown[64];

		if (arg[0] != '-' || !arg[1]) {
			if (cl->stop_at_pos) {
				a->next = i;
				return ZW_CTL_GO;
			}
			if (a->n_pos == cl->max_pos) {
				if (cl->too_many)
					zw_ctl_err("%s", cl->too_many);
				else
					zw_ctl_err("unknown argument '%s' (see "
						   "zonectl %s --help)",
						   arg, cl->name);
				return ZW_EXIT_USAGE;
			}
			a->pos[a->n_pos++] = argv[i++];
			continue;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			zw_ctl_help(cl->help_of ? cl->help_of : cl, stdout);
			return ZW_EXIT_OK;
		}
		o = lookup(cl->opts, arg, &val);
		if (!o) {
			o = lookup(global_opts, arg, &val);
			dst = &zw_ctl;
		}
		if (!o) {
			zw_ctl_err("unknown option '%s' (see zonectl%s%s --help)",
				   arg, *cl->name ? " " : "", cl->name);
			return ZW_EXIT_USAGE;
		}
		if (arg[1] == '-')
			snprintf(shown, sizeof(shown), "--%s", o->name);
		else
			snprintf(shown, sizeof(shown), "-%c", o->short_name);
		i++;
		if (!takes_value(o) && val) {
			zw_ctl_err("%s takes no value (see zonectl%s%s --help)",
				   shown, *cl->name ? " " : "", cl->name);
			return ZW_EXIT_USAGE;
		}
		if (takes_value(o) && !val) {
			if (i >= argc) {
				zw_ctl_err("%s needs a value (see zonectl%s%s "
					   "--help)",
					   shown, *cl->name ? " " : "", cl->name);
				return ZW_EXIT_USAGE;
			}
			val = argv[i++];
		}
		if (store(o, shown, val, dst))
			return ZW_EXIT_USAGE;
		if (o->last) {
			a->next = i;
			return ZW_CTL_GO;
		}
	}
	a->next = argc;
	return ZW_CTL_GO;
}

int zw_ctl_find_verb(const struct zw_ctl_cmdline *cl, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		const struct zw_ctl_opt *o;

		if (a[0] != '-' || !a[1])
			return i;
		o = lookup(global_opts, a, &val);
		if (!o)
			o = lookup(cl->opts, a, &val);
		for (size_t v = 0; !o && cl->verbs && cl->verbs[v]; v++)
			o = lookup(cl->verbs[v]->opts, a, &val);
		if (o && takes_value(o) && !val)
			i++;
	}
	return 0;
}

/* Print @text at column @col, its later lines indented to it too. */
static void indented(FILE *out, const char *text, int col)
{
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		int n = nl ? (int)(nl - l) : (int)strlen(l);

		fprintf(out, "%.*s\n", n, l);
		l = nl ? nl + 1 : NULL;
		if (l && *l)
			fprintf(out, "%*s", col, "");
	}
}

static void print_opts(FILE *out, const struct zw_ctl_opt *opts)
{
	for (const struct zw_ctl_opt *o = opts; o && o->name; o++) {
		char left[128], arg[96] = "";
		int n;

		if (o->kind == ZW_CTL_ENUM) {
			size_t len = 0;

			for (size_t i = 0; o->choices[i] && len < sizeof(arg); i++)
				len += (size_t)snprintf(arg + len, sizeof(arg) - len,
							"%s%s", i ? "|" : "",
							o->choices[i]);
		} else if (o->arg) {
			snprintf(arg, sizeof(arg), "%s", o->arg);
		}
		if (o->short_name)
			n = snprintf(left, sizeof(left), "  -%c, --%s%s%s",
				     o->short_name, o->name, *arg ? " " : "", arg);
		else
			n = snprintf(left, sizeof(left), "  --%s%s%s", o->name,
				     *arg ? " " : "", arg);
		if (n + 2 > HELP_COLUMN)
			fprintf(out, "%s\n%*s", left, HELP_COLUMN, "");
		else
			fprintf(out, "%-*s", HELP_COLUMN, left);
		indented(out, o->help, HELP_COLUMN);
	}
}

void zw_ctl_help(const struct zw_ctl_cmdline *cl, FILE *out)
{
	fputs("usage: ", out);
	indented(out, cl->usage, 7);
	if (cl->about)
		fprintf(out, "\n%s", cl->about);
	if (cl->help_more)
		cl->help_more(out);
	fputs("\nOptions:\n", out);
	print_opts(out, cl->opts);
	fprintf(out, "%-*s%s\n", HELP_COLUMN, "  -h, --help", "this help");
	for (size_t v = 0; cl->verbs && cl->verbs[v]; v++) {
		if (!cl->verbs[v]->opts || !cl->verbs[v]->opts->name)
			continue;
		fprintf(out, "\nOptions of 'zonectl %s':\n", cl->verbs[v]->name);
		print_opts(out, cl->verbs[v]->opts);
	}
	if (cl->globals_in_help) {
		fputs("\nGlobal options (before or after the command):\n", out);
		print_opts(out, global_opts);
	}
	if (cl->epilog)
		fprintf(out, "\n%s", cl->epilog);
}
