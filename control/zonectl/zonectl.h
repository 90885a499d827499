/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl's sub-commands (private to control/zonectl/). Each takes the arguments
 * after the sub-command name (argv[0] is the sub-command) and returns the
 * exit code of docs/cli.md: 0 ok, 1 invalid input or refused, 2 usage,
 * 3 environment. */
#ifndef ZONEWALL_CONTROL_ZONECTL_H
#define ZONEWALL_CONTROL_ZONECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	ZW_EXIT_OK = 0,
	ZW_EXIT_INVALID = 1,
	ZW_EXIT_USAGE = 2,
	ZW_EXIT_ENV = 3,
	ZW_EXIT_NOT_ENFORCING = 4, /* status: an engine does not enforce the
				    * active version */
};

/* Global options, written before the sub-command (or after it). */
struct zw_ctl_globals {
	const char *socket; /* --socket, $ZONEWALL_SOCKET, or default */
	const char *state;  /* --state DIR: read-only access without daemon */
};
extern struct zw_ctl_globals zw_ctl;

#define ZW_DEFAULT_SOCKET "/run/zonewall/zonewalld.sock"

/* Print "zonectl: ..." on stderr. */
void zw_ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct zw_matrix;
struct zw_diags;

/*
 * Load @path and validate it on @today. Returns the matrix when it has no
 * error; otherwise prints the diagnostics on stderr, one "zonectl: ..."
 * line, sets *rc (1 invalid, 3 unreadable or out of memory) and returns
 * NULL. Warnings are kept in @diags (initialised here; the caller
 * finalises it, also on failure).
 */
struct zw_matrix *zw_ctl_load_valid(const char *path, int32_t today,
			       struct zw_diags *diags, int *rc);

/*
 * check and compile: load @path and validate it today, printing every
 * diagnostic: as one JSON document on stdout when @json; else as text on
 * stdout followed by a count on stderr (check), or on stderr alone when
 * @quiet_ok (compile: stdout carries the image's SHA-256). Returns the
 * matrix (caller frees), errors or not, and sets *rc to 0, or 1 if it has
 * errors; NULL with *rc = 3 if it cannot be read.
 */
struct zw_matrix *zw_ctl_load_checked(const char *path, bool json,
				      bool quiet_ok, int *rc);

/* Write @len bytes to @path (atomically: temporary file, fsync, rename), or
 * to stdout when @path is NULL or "-". 0 or -errno. */
int zw_ctl_write(const char *path, const char *buf, size_t len);

/* Offline matrix work (cmd_*.c). */
int zw_cmd_check(int argc, char **argv);
int zw_cmd_compile(int argc, char **argv);
int zw_cmd_explain(int argc, char **argv);
int zw_cmd_show(int argc, char **argv);
int zw_cmd_diff(int argc, char **argv);
int zw_cmd_schema(int argc, char **argv);

/* Through the daemon, or read-only from --state (cmd_*.c on client.c;
 * nodaemon.c when the build has no zonewalld). */
int zw_cmd_commit(int argc, char **argv);
int zw_cmd_versions(int argc, char **argv);
int zw_cmd_rollback(int argc, char **argv);
int zw_cmd_journal(int argc, char **argv);
int zw_cmd_rules(int argc, char **argv);
int zw_cmd_status(int argc, char **argv);
int zw_cmd_flows(int argc, char **argv);
int zw_cmd_crisis(int argc, char **argv);
int zw_cmd_audit(int argc, char **argv);

/*
 * The matrix of the version in force at @when ("vN", a date YYYY-MM-DD:
 * at the end of that UTC day, or a UTC date-time), from the daemon or
 * --state DIR (cmd_audit.c): 0 with the text in *@text (malloc'd, @len
 * bytes, NUL-terminated), its version and the day to judge expiry on;
 * otherwise the error was printed and the exit code is returned.
 */
int zw_ctl_version_at(const char *when, char **text, size_t *len,
		      long long *version, int32_t *day);

#endif
