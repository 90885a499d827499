/* SPDX-License-Identifier: BSD-2-Clause */
/* Printing journal entries as text, JSON or CSV (private to control/):
 * zonectl prints what the daemon returns or what it reads from --state
 * with the same code. */
#ifndef ZONEWALL_CONTROL_JPRINT_H
#define ZONEWALL_CONTROL_JPRINT_H

#include <jansson.h>
#include <stdio.h>

#include "journal.h"

struct zw_jprint {
	FILE *out;
	enum zw_journal_format fmt;
	long long n;
	json_t *all; /* JSON: entries collected, printed at end */
};

/* Start printing to @out in @fmt (CSV: the header line). */
void zw_jprint__begin(struct zw_jprint *p, FILE *out,
		      enum zw_journal_format fmt);
/* One entry: its content object and its hash. Returns 0 or -ENOMEM. */
int zw_jprint__entry(struct zw_jprint *p, const json_t *content,
		     const char *hash);
/* Finish (JSON: print {"count":N,"entries":[...]}). */
void zw_jprint__end(struct zw_jprint *p);

/* A zw_journal_cb that parses @content and feeds zw_jprint__entry(); @ctx is
 * the struct zw_jprint. */
int zw_jprint__cb(int64_t seq, const char *content, const char *hash,
		  void *ctx);

/* "nft: ...\nxdp: ..." from an impl object (malloc'd; "" when none). */
char *zw_jprint__impl_text(const json_t *impl);

#endif
