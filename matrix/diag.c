/* SPDX-License-Identifier: BSD-2-Clause */
/* Diagnostics: collection, ordering, text and JSON output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/matrix.h>

#include "internal.h"

int zw_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *nv;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / size)
			return -ENOMEM;
		ncap *= 2;
	}
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

void zw_diags__init(struct zw_diags *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = strdup(file ? file : "<input>");
}

void zw_diags__fini(struct zw_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].message);
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

void zw_diags__add(struct zw_diags *d, enum zw_level level, int code,
		   struct zw_loc loc, const char *fmt, ...)
{
	struct zw_diag *g;
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (zw_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v)) < 0) {
		/* Cannot record it: make sure the run still fails closed. */
		free(msg);
		d->n_errors++;
		return;
	}
	g = &d->v[d->n++];
	g->level = level;
	g->code = code;
	g->loc = loc;
	g->message = msg ? msg : strdup("(out of memory formatting message)");
	if (level == ZW_ERROR)
		d->n_errors++;
	else
		d->n_warnings++;
}

static int cmp_diag(const void *a, const void *b)
{
	const struct zw_diag *x = a, *y = b;

	if (x->loc.line != y->loc.line)
		return x->loc.line < y->loc.line ? -1 : 1;
	if (x->loc.col != y->loc.col)
		return x->loc.col < y->loc.col ? -1 : 1;
	if (x->code != y->code)
		return x->code < y->code ? -1 : 1;
	return strcmp(x->message ? x->message : "", y->message ? y->message : "");
}

void zw_diags__sort(struct zw_diags *d)
{
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp_diag);
}

static const char *level_name(enum zw_level l)
{
	return l == ZW_ERROR ? "error" : "warning";
}

/* A message quotes what the file says (keys, values): control characters
 * are written as escapes so each diagnostic stays one line. */
static void put_line_text(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
}

void zw_diags__print_text(const struct zw_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct zw_diag *g = &d->v[i];

		fprintf(out, "%s:%u:%u: %s[ZW%03d]: ", d->file, g->loc.line,
			g->loc.col, level_name(g->level), g->code);
		put_line_text(out, g->message);
		fputc('\n', out);
	}
}

void zw_json__string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

void zw_diags__print_json(const struct zw_diags *d, FILE *out)
{
	fputs("{\"file\":", out);
	zw_json__string(out, d->file);
	fprintf(out, ",\"errors\":%zu,\"warnings\":%zu,\"diagnostics\":[",
		d->n_errors, d->n_warnings);
	for (size_t i = 0; i < d->n; i++) {
		const struct zw_diag *g = &d->v[i];
		char code[8];

		snprintf(code, sizeof(code), "ZW%03d", g->code);
		fprintf(out, "%s{\"line\":%u,\"column\":%u,\"level\":\"%s\",\"code\":\"%s\",\"message\":",
			i ? "," : "", g->loc.line, g->loc.col,
			level_name(g->level), code);
		zw_json__string(out, g->message);
		fputc('}', out);
	}
	fputs("]}\n", out);
}
