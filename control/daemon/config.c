/* SPDX-License-Identifier: BSD-2-Clause */
/* zonewalld's configuration file (config.h, docs/daemon.md). The keys are
 * the daemon's own long options, so the file and the command line cannot
 * drift apart: a new option is a new key with no change here. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_LINE 4096
#define MAX_ARGS 256

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "value" or 'value' around the whole value: quotes removed. */
static char *unquote(char *v)
{
	size_t n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

void zwd_config__free(char **args)
{
	if (!args)
		return;
	for (char **a = args; *a; a++)
		free(*a);
	free(args);
}

int zwd_config__read(const char *path, const struct option *lo,
		     const char *const *refused, char ***out, int *n,
		     char *err, size_t err_len)
{
	char line[MAX_LINE + 2];
	char **args = NULL;
	unsigned lineno = 0;
	int count = 0, r = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "cannot read %s: %s", path,
			 strerror(errno));
		return r;
	}
	args = calloc(MAX_ARGS + 1, sizeof(*args));
	if (!args) {
		fclose(f);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
#define BAD(...)                                                               \
	do {                                                                   \
		int l_ = snprintf(err, err_len, "%s:%u: ", path, lineno);      \
		if (l_ >= 0 && (size_t)l_ < err_len)                           \
			snprintf(err + l_, err_len - (size_t)l_, __VA_ARGS__); \
		r = -EINVAL;                                                   \
		goto out;                                                      \
	} while (0)
	while (fgets(line, sizeof(line), f)) {
		const struct option *o;
		char *s, *eq, *key, *val;
		bool flag_on = true;

		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			BAD("line longer than %d bytes", MAX_LINE);
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq)
			BAD("expected 'key = value'");
		*eq = '\0';
		key = trim(s);
		val = unquote(trim(eq + 1));
		for (o = lo; o->name; o++)
			if (!strcmp(o->name, key))
				break;
		for (const char *const *x = refused; o->name && x && *x; x++)
			if (!strcmp(*x, key))
				BAD("'%s' cannot be set in a configuration file",
				    key);
		if (!o->name)
			BAD("unknown key '%s' (the keys are zonewalld's long "
			    "options, see zonewalld --help)",
			    key);
		if (o->has_arg == no_argument) {
			if (!strcmp(val, "true") || !strcmp(val, "yes"))
				flag_on = true;
			else if (!strcmp(val, "false") || !strcmp(val, "no"))
				flag_on = false;
			else
				BAD("%s takes true or false, not '%s'", key,
				    val);
			if (!flag_on)
				continue;
		} else if (!*val) {
			BAD("%s needs a value", key);
		}
		if (count == MAX_ARGS)
			BAD("more than %d settings", MAX_ARGS);
		if (o->has_arg == no_argument)
			r = asprintf(&args[count], "--%s", key);
		else
			r = asprintf(&args[count], "--%s=%s", key, val);
		if (r < 0) {
			args[count] = NULL;
			snprintf(err, err_len, "out of memory");
			r = -ENOMEM;
			goto out;
		}
		r = 0;
		count++;
	}
	if (ferror(f)) {
		r = -EIO;
		snprintf(err, err_len, "cannot read %s", path);
	}
#undef BAD
out:
	fclose(f);
	if (r < 0) {
		zwd_config__free(args);
		return r;
	}
	*out = args;
	*n = count;
	return 0;
}
