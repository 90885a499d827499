/* SPDX-License-Identifier: BSD-2-Clause */
/* zonectl audit's renderers of the report (private to control/zonectl/;
 * the report's JSON schema is in docs/audit.md). */
#ifndef ZONEWALL_CONTROL_ZONECTL_AUDIT_RENDER_H
#define ZONEWALL_CONTROL_ZONECTL_AUDIT_RENDER_H

#include <jansson.h>
#include <stdio.h>

/* The section keys of the report, in report order, and their titles. */
struct zw_audit_section {
	const char *key;
	const char *title;
	const char *requirement; /* docs/requirements.md IDs */
};
extern const struct zw_audit_section zw_audit_sections[];

/* A self-contained HTML page (no script, no external resource): summary
 * verdict first, the zone grid coloured by usage and findings, drift in
 * red with the matrix's words and the engine's, the recertification list.
 * 0 or -errno. */
int zw_audit_html(FILE *out, const json_t *report);

/* Write @s as HTML text (escaped). */
void zw_audit_html_text(FILE *out, const char *s);

#endif
