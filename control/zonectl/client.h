/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by zonectl's daemon-client commands (private to control/zonectl/). */
#ifndef ZONEWALL_CONTROL_ZONECTL_CLIENT_H
#define ZONEWALL_CONTROL_ZONECTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "journal.h"

/*
 * Send @req (its "op" set) to zonewalld, or answer it from --state DIR
 * when given and @read_only (read-only queries only). On success *resp is
 * the {"ok":true,...} response and 0 is returned; otherwise the error was
 * printed and the exit code is returned (1 refused, 2 usage, 3 env).
 */
int zw_ctl_request(json_t *req, bool read_only, json_t **resp);

/* Print a JSON document on stdout (indented, one document). */
void zw_ctl_print_json(const json_t *doc);

/* The string member @k of @o, "" when absent. */
const char *zw_ctl_sget(const json_t *o, const char *k);

/* For terminal output of text that came from a client or from the
 * database: @s escaped by zw_text__escape() (control and bidirectional
 * characters made visible). The result lives until 16 more calls (enough
 * for one printf); "" when @s is NULL. */
const char *zw_ctl_esc(const char *s);
/* zw_ctl_esc(zw_ctl_sget(@o, @k)). */
const char *zw_ctl_tsget(const json_t *o, const char *k);
/* Print @text (several lines) on @out, each line escaped. */
void zw_ctl_puts_lines(const char *text, FILE *out);

/* Refuse free text at the door as zonewalld does (zw_text__check()):
 * 0, or the error printed and ZW_EXIT_INVALID. */
int zw_ctl_check_text(const char *s, size_t max, const char *what);

#endif
