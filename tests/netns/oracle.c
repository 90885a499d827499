// SPDX-License-Identifier: BSD-2-Clause
/*
 * zw-oracle: the reference evaluator in batch, for the netns tests (the
 * same zw_eval__image() as `zonectl explain`, without a process per
 * question; the test cross-checks a sample against zonectl explain).
 *
 *   zw-oracle rules POLICY    one line per image rule of a live flow:
 *                             FROM TO PROTO LO HI ANY SERVICE FLOW
 *   zw-oracle explain POLICY  reads "SRC DST PROTO PORT" lines, prints
 *                             "allow FLOW REASON INSPECT" or "deny - REASON -"
 *                             (INSPECT: the `inspect:` protocol of the
 *                             service that allows it, "-" if none)
 * POLICY is an image or a matrix (compiled on the fly). Day: today, or
 * $ZONEWALL_TODAY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

static struct zw_image *load(const char *path, int32_t today)
{
	char err[256] = "", magic[8] = {0};
	FILE *f = fopen(path, "rb");
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *b = NULL;
	size_t len = 0, n;
	struct zw_image *img = NULL;

	if (!f)
		return NULL;
	n = fread(magic, 1, 8, f);
	fclose(f);
	if (n == 8 && !memcmp(magic, ZW_IMAGE_MAGIC, 8))
		return zw_image__load(path, err, sizeof(err));
	zw_diags__init(&d, path);
	m = zw_matrix__load(path, &d);
	if (m)
		zw_matrix__validate(m, today, &d);
	if (m && !d.n_errors && !zw_policy__compile(m, &b, &len))
		img = zw_image__open(b, len, err, sizeof(err));
	if (!img)
		zw_diags__print_text(&d, stderr);
	free(b);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return img;
}

static const char *reason(enum zw_verdict_reason r)
{
	switch (r) {
	case ZW_VERDICT_FLOW: return "flow";
	case ZW_VERDICT_SAME_ZONE: return "same-zone";
	case ZW_VERDICT_ISOLATED: return "isolated";
	case ZW_VERDICT_BLOCKED: return "blocked";
	default: return "no-flow";
	}
}

int main(int argc, char **argv)
{
	int32_t today = zw_date__today();
	struct zw_image *img;
	char line[512];

	if (argc != 3 || (strcmp(argv[1], "rules") && strcmp(argv[1], "explain"))) {
		fputs("usage: zw-oracle rules|explain POLICY\n", stderr);
		return 2;
	}
	img = load(argv[2], today);
	if (!img) {
		fprintf(stderr, "zw-oracle: cannot load %s\n", argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "rules")) {
		for (uint32_t p = 0; p < img->n_pairs; p++) {
			const struct zw_img_pair *pr = &img->pairs[p];

			for (uint32_t i = 0; i < pr->count; i++) {
				const struct zw_img_rule *r = &img->rules[pr->first + i];

				if (!zw_image__flow_live(img, r->flow, today))
					continue;
				printf("%s %s %u %u %u %d %s %s\n",
				       zw_image__str(img, img->zones[pr->from].name),
				       zw_image__str(img, img->zones[pr->to].name),
				       r->proto, r->lo, r->hi,
				       (r->flags & ZW_IMG_RULE_ANY) ? 1 : 0,
				       zw_image__str(img, img->services[r->service].name),
				       zw_image__str(img, img->flows[r->flow].id));
			}
		}
		zw_image__free(img);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char src[128], dst[128], proto[32], port[32] = "", err[256];
		struct zw_query q;
		struct zw_verdict v;
		int n = sscanf(line, "%127s %127s %31s %31s", src, dst, proto, port);

		if (n < 3 || zw_query__parse(&q, src, dst, proto, n == 4 ? port : NULL,
					     err, sizeof(err))) {
			printf("error %s\n", n < 3 ? "bad line" : err);
			continue;
		}
		q.day = today;
		zw_eval__image(img, &q, &v);
		printf("%s %s %s %s\n", v.allow ? "allow" : "deny",
		       v.flow != ZW_NO_FLOW ? zw_image__str(img, img->flows[v.flow].id) : "-",
		       reason(v.reason),
		       v.allow && v.flow != ZW_NO_FLOW &&
				       img->services[v.service].inspect
			       ? zw_image__str(img, img->services[v.service].inspect)
			       : "-");
	}
	zw_image__free(img);
	return 0;
}
