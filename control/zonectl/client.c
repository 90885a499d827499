/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl's daemon client: requests to zonewalld, or read-only answers
 * from --state DIR, and what the daemon commands share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "proto.h"
#include "queries.h"
#include "state.h"
#include "client.h"
#include "zonectl.h"

/* --format choices are indexes in this order (options.c). */
_Static_assert(ZW_JF_TEXT == 0 && ZW_JF_JSON == 1 && ZW_JF_CSV == 2,
	       "zw_ctl_text_json_csv is in enum zw_journal_format order");

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
		*resp = zw_q__verify(j, req);
	else if (!strcmp(op, "versions"))
		*resp = zw_q__versions(j);
	else if (!strcmp(op, "rules"))
		*resp = zw_q__rules(j, req);
	else if (!strcmp(op, "audit"))
		*resp = zwd_audit__run(j, NULL, req);
	else if (!strcmp(op, "version_at"))
		*resp = zwd_audit__version_at(j, req);
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
			zw_ctl_puts_lines(d, stderr);
		zw_ctl_err("%s", zw_ctl_esc(json_string_value(json_object_get(
					 *resp, "error"))
						 ?: "request failed"));
		json_decref(*resp);
		*resp = NULL;
		return st >= 1 && st <= 3 ? (int)st : ZW_EXIT_ENV;
	}
	return 0;
}

void zw_ctl_print_json(const json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
}

const char *zw_ctl_sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

const char *zw_ctl_esc(const char *s)
{
	static char *ring[16];
	static unsigned next;
	char *e;

	if (!s)
		return "";
	e = zw_text__escape(s, 0);
	if (!e)
		return "?";
	free(ring[next % 16]);
	ring[next++ % 16] = e;
	return e;
}

const char *zw_ctl_tsget(const json_t *o, const char *k)
{
	return zw_ctl_esc(zw_ctl_sget(o, k));
}

void zw_ctl_puts_lines(const char *text, FILE *out)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		char *line = strndup(text, n), *e;

		e = line ? zw_text__escape(line, 0) : NULL;
		fprintf(out, "%s\n", e ? e : "?");
		free(e);
		free(line);
		text += n;
		if (*text)
			text++;
	}
}

int zw_ctl_check_text(const char *s, size_t max, const char *what)
{
	char err[256];

	if (!zw_text__check(s, max, what, err, sizeof(err)))
		return 0;
	zw_ctl_err("%s", err);
	return ZW_EXIT_INVALID;
}
