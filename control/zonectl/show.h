/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zonectl show and diff (private to control/zonectl/): the renderers of a valid
 * matrix (text, csv, json, dot, html) and the helpers they share: loading a
 * matrix that must be valid, the zone grid, service and address text,
 * writing the output.
 *
 * Renderers write to a FILE (a memory stream in practice, so an output file
 * is written whole or not at all) and return 0 or -errno.
 */
#ifndef ZONEWALL_CONTROL_SHOW_H
#define ZONEWALL_CONTROL_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <zonewall/matrix.h>

/* Options shared by the renderers. */
struct zw_show_opts {
	const char *path; /* the matrix file as given on the command line */
	int32_t today;	  /* expiry and review staleness are judged on it */
	unsigned width;	  /* text: wrap the grid to this many columns */
	bool bom;	  /* csv: start with a UTF-8 byte order mark */
	const struct zw_diags *diags; /* warnings of the validator (html) */
};

/* Days after which a review is stale (M2; same rule as ZW041). */
#define ZW_REVIEW_MAX_DAYS 365


/* ---- the zone grid: what is allowed from a zone to a zone, on a day ---- */

struct zw_grid_item {
	uint32_t service;
	bool narrowed;	/* every flow giving it narrows src or dst */
	uint32_t *flows; /* flow indexes giving it, matrix order */
	size_t n_flows;
};

struct zw_grid_cell {
	struct zw_grid_item *items; /* services of live flows, first-use order */
	size_t n_items;
	bool same_any;	/* diagonal of a non-isolated declared zone */
	bool isolated;	/* diagonal of an isolated zone */
};

struct zw_grid {
	const struct zw_matrix *m;
	uint32_t *zones; /* display order: declared zones in file order, then
			  * outside when a flow names it */
	size_t n;
	struct zw_grid_cell *cells; /* n * n, [from * n + to] (display
				     * positions) */
	uint32_t *expired;	    /* flows not live on the day */
	size_t n_expired;
};

/* Build the grid of @m's live flows on @day. NULL with errno on failure. */
struct zw_grid *zw_grid__new(const struct zw_matrix *m, int32_t day);
void zw_grid__free(struct zw_grid *g);
static inline struct zw_grid_cell *zw_grid__cell(const struct zw_grid *g,
						 size_t from, size_t to)
{
	return &g->cells[from * g->n + to];
}

/* ---- text of model values (malloc'd strings; NULL with errno) ---- */

/* "tcp/22,8000-8080", "icmp/echo-request", "icmp", "proto 50". */
char *zw_show_entry_text(const struct zw_svc_entry *e);
/* The entries of a service joined by " + ": "udp/53 + tcp/53". */
char *zw_show_service_text(const struct zw_service *s);
/* Ports (or ICMP types) of an entry alone, joined by @sep: "22,8000-8080";
 * "" when the entry has neither. */
char *zw_show_ranges_text(const struct zw_svc_entry *e, const char *sep);
/* Prefixes joined by @sep. */
char *zw_show_prefixes_text(const struct zw_prefix *p, size_t n,
			    const char *sep);
/* Service names of a flow joined by @sep. */
char *zw_show_flow_services(const struct zw_matrix *m,
			    const struct zw_flow *f, const char *sep);
/* True if the flow uses an unsafe service. */
bool zw_show_flow_unsafe(const struct zw_matrix *m, const struct zw_flow *f);
/* Review older than ZW_REVIEW_MAX_DAYS on @today. */
bool zw_show_review_stale(const struct zw_flow *f, int32_t today);
/* "internal" or "interconnection" (or "outside"). */
const char *zw_show_kind_class(enum zw_zone_kind k);

/* Write @s HTML-escaped (& < > " '). NULL writes nothing. */
void zw_html_escape(FILE *out, const char *s);

/* ---- renderers ---- */
int zw_show_text(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out);
int zw_show_csv(const struct zw_matrix *m, const struct zw_show_opts *o,
		FILE *out);
int zw_show_json(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out);
int zw_show_dot(const struct zw_matrix *m, const struct zw_show_opts *o,
		FILE *out);
int zw_show_html(const struct zw_matrix *m, const struct zw_show_opts *o,
		 FILE *out);

/* ---- zonectl diff: the traffic difference (diff_traffic.c) ---- */

/*
 * Print changes @v[0..n) of a traffic diff, all allowed by @m (the other
 * matrix is @other; @m_label/@other_label name them, e.g. "new"/"old"),
 * grouped by zone pair: as indented text, or as a JSON array of
 * {"from","to","changes":[...]} (schema in docs/zonectl.md). 0 or -ENOMEM.
 */
int zw_diff_traffic_text(FILE *out, const struct zw_matrix *m,
			 const struct zw_matrix *other,
			 const struct zw_traffic_change *v, size_t n,
			 const char *m_label, const char *other_label);
int zw_diff_traffic_json(FILE *out, const struct zw_matrix *m,
			 const struct zw_matrix *other,
			 const struct zw_traffic_change *v, size_t n,
			 const char *m_label, const char *other_label);

#endif
