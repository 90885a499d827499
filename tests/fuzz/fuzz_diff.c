/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness: the traffic difference (zonectl diff) between two
 * matrices written one after the other, split at a line "#%%new%%" (no
 * such line: the matrix against itself). When both are valid: no crash,
 * leak or undefined behaviour; a matrix differs from itself in nothing;
 * and for connections the shared generator (tests/gen) draws at the
 * edges of both matrices, a connection is in exactly one "added" change iff the new matrix allows
 * it and the old one does not (likewise "removed"), as the evaluator says.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>

#include "gen.h"

#define DAY 20000
#define SPLIT "\n#%%new%%\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zw_matrix *load(const char *text, size_t len)
{
	struct zw_diags d;
	struct zw_matrix *m;

	zw_diags__init(&d, "fuzz.yaml");
	m = zw_matrix__parse(text, len, "fuzz.yaml", &d);
	if (m)
		zw_matrix__validate(m, DAY, &d);
	if (m && d.n_errors) {
		zw_matrix__free(m);
		m = NULL;
	}
	zw_diags__fini(&d);
	return m;
}

static bool in_box(const struct zw_traffic_box *b, const struct zw_query *q)
{
	return zw_traffic_box__contains(b, q->family, q->proto, q->port, q->src,
					q->dst);
}

/* How many of the changes hold the connection. */
static size_t holding(const struct zw_traffic_change *c, size_t n,
		      const struct zw_query *q)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		bool in = false;

		for (size_t j = 0; j < c[i].n_boxes && !in; j++)
			in = in_box(&c[i].boxes[j], q);
		for (size_t j = 0; j < c[i].n_excepts && in; j++)
			in = !in_box(&c[i].excepts[j].box, q);
		k += in;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *cut = memmem(text, size, SPLIT, strlen(SPLIT));
	size_t la = cut ? (size_t)(cut - text) : size;
	const char *tb = cut ? cut + strlen(SPLIT) : text;
	size_t lb = cut ? size - la - strlen(SPLIT) : size;
	struct zw_matrix *a = load(text, la), *b = a ? load(tb, lb) : NULL;
	struct zw_traffic_diff *d = NULL;

	if (!a || !b)
		goto out;
	if (zw_matrix__traffic_diff(a, a, DAY, &d) == 0) {
		if (d->n_added || d->n_removed)
			abort(); /* a matrix differs from itself */
		zw_traffic_diff__free(d);
		d = NULL;
	}
	if (zw_matrix__traffic_diff(a, b, DAY, &d))
		goto out;
	/* Connections at the edges of both matrices' zones, narrowings and
	 * port ranges (the generator every engine's differential test uses),
	 * drawn from a state seeded by the input. */
	uint64_t st = size;

	for (size_t i = 0; i < size && i < 64; i++)
		st = st * 131 + data[size - 1 - i];
	for (int k = 0; k < 256; k++) {
		struct zw_query q;
		struct zw_verdict vo, vn;

		zw_gen__query(k % 2 ? a : b, &st, DAY, &q);
		q.day = DAY;
		if (zw_proto__is_icmp(q.proto) && q.port > 255)
			continue; /* an ICMP type is 8 bits */
		zw_eval__matrix(a, &q, &vo);
		zw_eval__matrix(b, &q, &vn);
		if (holding(d->added, d->n_added, &q) != (vn.allow && !vo.allow) ||
		    holding(d->removed, d->n_removed, &q) != (vo.allow && !vn.allow))
			abort(); /* the difference disagrees with the evaluator */
	}
out:
	zw_traffic_diff__free(d);
	zw_matrix__free(a);
	zw_matrix__free(b);
	return 0;
}
