/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by zonectl's daemon-client commands (private to control/zonectl/). */
#ifndef ZONEWALL_CONTROL_ZONECTL_CLIENT_H
#define ZONEWALL_CONTROL_ZONECTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include <zonewall/journal.h>

/*
 * Send @req (its "op" set) to zonewalld, or answer it from --state DIR
 * when given and @read_only (read-only queries only). On success *resp is
 * the {"ok":true,...} response and 0 is returned; otherwise the error was
 * printed and the exit code is returned (1 refused, 2 usage, 3 env).
 */
int zw_ctl_request(json_t *req, bool read_only, json_t **resp);

/* Parse --format's value; prints the error and returns -1 if not one of
 * @allowed ("text,json,csv"). */
int zw_ctl_format(const char *s, const char *allowed);

/* Take "-m REASON" / "--message REASON" / "-mREASON" at argv[*i]: 1 taken,
 * 0 not this option, -1 usage error (reported). */
int zw_ctl_reason_opt(int argc, char **argv, int *i, const char **reason);

/* Print a JSON document on stdout (indented, one document). */
void zw_ctl_print_json(const json_t *doc);

/* Options of the daemon commands: globals, -m, --format, --help;
 * positional arguments into @pos. */
struct zw_ctl_cmdopts {
	const char *reason;
	const char *format;
	const char *pos[4];
	int n_pos;
};

/* The option loop of the daemon commands: 0, or the exit code to return
 * (@help printed on stdout and exit on --help). */
int zw_ctl_parse_common(int argc, char **argv, struct zw_ctl_cmdopts *c,
			void (*help)(FILE *));

/* The string member @k of @o, "" when absent. */
const char *zw_ctl_sget(const json_t *o, const char *k);

/* A number of days (0 to 100000) in *out; prints the error and returns -1
 * if @s is not one. */
int zw_ctl_parse_days(const char *s, long *out);

#endif
