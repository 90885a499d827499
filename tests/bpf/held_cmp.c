/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdlib.h>
#include <string.h>

#include "held_cmp.h"

const char *zwt_held_line(const struct zw_held_rule *r, char *buf, size_t len)
{
	char ports[16];

	if (r->any)
		snprintf(ports, sizeof(ports), "any");
	else
		snprintf(ports, sizeof(ports), "%u-%u", r->lo, r->hi);
	snprintf(buf, len, "%s -> %s %u %s flow %s src %s dst %s", r->from, r->to,
		 r->proto, ports, r->flow_id[0] ? r->flow_id : "(none)",
		 r->src ? r->src : "zone", r->dst ? r->dst : "zone");
	return buf;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **lines(const struct zw_backend_state *st)
{
	char **v = calloc(st->n_rules + 1, sizeof(*v));

	for (size_t i = 0; v && i < st->n_rules; i++) {
		char buf[1024];

		v[i] = strdup(zwt_held_line(&st->rules[i], buf, sizeof(buf)));
	}
	if (v)
		qsort(v, st->n_rules, sizeof(*v), cmp_str);
	return v;
}

int zwt_held_same(const struct zw_backend_state *a, const char *a_name,
		  const struct zw_backend_state *b, const char *b_name,
		  FILE *why)
{
	char **la = lines(a), **lb = lines(b);
	size_t i = 0, j = 0;
	int same = la && lb;

	while (la && lb && (i < a->n_rules || j < b->n_rules)) {
		int c = i == a->n_rules ? 1 : j == b->n_rules ? -1 : strcmp(la[i], lb[j]);

		if (c && why)
			fprintf(why, "only in %s: %s\n", c < 0 ? a_name : b_name,
				c < 0 ? la[i] : lb[j]);
		if (c)
			same = 0;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	for (size_t k = 0; la && k < a->n_rules; k++)
		free(la[k]);
	for (size_t k = 0; lb && k < b->n_rules; k++)
		free(lb[k]);
	free(la);
	free(lb);
	return same;
}
