/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by zonectl's daemon-client commands (private to control/zonectl/). */
#ifndef ZONEWALL_CONTROL_ZONECTL_CLIENT_H
#define ZONEWALL_CONTROL_ZONECTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

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

#endif
