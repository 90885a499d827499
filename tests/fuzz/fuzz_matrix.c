/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer harness: parser + validator + compiler + loader + evaluator on
 * arbitrary text. No crash, no leak, no undefined behaviour; and whatever
 * compiles must load and answer the same from the model and the image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zonewall/eval.h>
#include <zonewall/matrix.h>
#include <zonewall/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zw_diags d;
	struct zw_matrix *m;
	uint8_t *img_bytes = NULL;
	size_t len = 0;

	zw_diags__init(&d, "fuzz.yaml");
	m = zw_matrix__parse((const char *)data, size, "fuzz.yaml", &d);
	if (!m)
		goto out;
	zw_matrix__validate(m, 20000, &d);
	if (d.n_errors == 0 && zw_policy__compile(m, &img_bytes, &len) == 0) {
		char err[256];
		struct zw_image *img = zw_image__open(img_bytes, len, err, sizeof(err));

		if (!img)
			abort(); /* the compiler produced an image the loader refuses */
		/* A few queries derived from the input. */
		for (size_t i = 0; i + 12 <= size && i < 12 * 16; i += 12) {
			struct zw_query q = {0};
			struct zw_verdict a, b;

			q.family = data[i] & 1 ? ZW_AF_INET6 : ZW_AF_INET;
			q.proto = data[i + 1];
			q.port = (uint16_t)(data[i + 2] << 8 | data[i + 3]);
			memcpy(q.src, data + i + 4, 4);
			memcpy(q.dst, data + i + 8, 4);
			q.day = 20000;
			zw_eval__matrix(m, &q, &a);
			zw_eval__image(img, &q, &b);
			if (a.allow != b.allow || a.flow != b.flow)
				abort(); /* the two readings disagree */
		}
		zw_image__free(img);
	}
out:
	free(img_bytes);
	zw_matrix__free(m);
	zw_diags__fini(&d);
	return 0;
}
