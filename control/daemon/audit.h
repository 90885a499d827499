/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The auditor's report (private to control/; docs/audit.md): requests
 * "audit" and "version_at" of the control protocol, answered by zonewalld
 * (every section) or by zonectl --state DIR (what needs no engine). The
 * report is one JSON document; zonectl renders it (text, CSV, HTML...).
 */
#ifndef ZONEWALL_CONTROL_AUDIT_H
#define ZONEWALL_CONTROL_AUDIT_H

#include <jansson.h>
#include <stdbool.h>

#include "journal.h"
#include <zonewall/matrix.h>

struct zwd;

/* A report being built: findings (exit 1), notes (information), and the
 * evidence that could not be gathered (exit 3). */
struct zwd_audit {
	json_t *findings;
	json_t *notes;
	json_t *missing;
	json_t *report;
};

/* Append a finding (@note false) or a note to @a: section, severity
 * ("high", "medium", "low"), kind (a stable keyword), subject (what it is
 * about, in matrix terms), then the message (printf-style). Returns the
 * object appended (borrowed) so callers may add members (engine,
 * engine_text, flow), or NULL when out of memory. */
json_t *zwd_audit__add(struct zwd_audit *a, bool note, const char *section,
		       const char *severity, const char *kind,
		       const char *subject, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Record that @section's evidence could not be gathered, and why. */
void zwd_audit__missing(struct zwd_audit *a, const char *section,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The appliance as it is (appliance.c): links and routes of the daemon's
 * network namespace (libnl) against the zones of @m: zone networks with no
 * route, routes to networks no zone declares, a zone reachable through
 * two interfaces, enforced interfaces (@ifaces) missing or down. Returns
 * the "appliance" section's data (never NULL unless out of memory); when
 * the namespace cannot be read, says so with zwd_audit__missing().
 */
json_t *zwd_appliance__check(struct zwd_audit *a, const struct zw_matrix *m,
			     const char *const *ifaces, size_t n_ifaces);

/* Interfaces through which each network of @m is routed, as
 * {"NETWORK": "if1 if2"}; {} when the namespace cannot be read. */
json_t *zwd_appliance__zone_ifaces(const struct zw_matrix *m);

/* {"op":"audit", "unused_days":N, "since":"DATE", "cartography":"CSV
 * text", "cartography_template":bool} -> {"ok":true, "report":{...}}.
 * @d is the running daemon, or NULL (zonectl --state: from @j alone). */
json_t *zwd_audit__run(struct zw_journal *j, struct zwd *d, const json_t *req);

/* {"op":"version_at", "at":"vN"|"YYYY-MM-DD"|"YYYY-MM-DDTHH:MM:SSZ"} ->
 * {"ok":true, "version":N, "since", "until", "day", "matrix"}: the version
 * in force at that moment (for a date: at the end of that UTC day), from
 * the journal's activations. */
json_t *zwd_audit__version_at(struct zw_journal *j, const json_t *req);

#endif
